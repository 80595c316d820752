//! Browser steps of the engine: one [`Browser`] per run, started by the first browser step.
//!
//! When a browser step fails, the page as it was (a screenshot and its HTML) is saved in the
//! run's `screenshots/` folder, named after the step and row, so a reviewer can see what the
//! portal showed.

use super::{Execution, Flow, Frame, StepFailure, step_name};
use crate::browser::{Browser, BrowserConfig, BrowserError, Locator, WaitTarget};
use crate::expr;
use crate::step::{DialogAction, Step, StepKind};
use crate::table::Cell;
use std::time::Duration;

impl Execution<'_> {
    /// Close the run's browser, if one was started. Dropping it would also end its
    /// processes; closing ends the WebDriver session politely first.
    pub async fn close_browser(&mut self) {
        if let Some(b) = self.browser.take() {
            b.close().await;
        }
    }

    async fn browser(&mut self, step: &Step, frame: &Frame) -> Result<&Browser, StepFailure> {
        if self.browser.is_none() {
            let settings = &self.w.browser;
            let config = BrowserConfig {
                headless: settings.headless,
                element_timeout: Duration::from_secs(settings.element_timeout_secs),
                page_load_timeout: Duration::from_secs(settings.page_load_timeout_secs),
                download_dir: Some(self.folder.downloads_dir()),
                ..BrowserConfig::default()
            };
            let started = std::time::Instant::now();
            let browser = Browser::launch(&config)
                .await
                .map_err(|e| self.browser_failure(step, frame, e))?;
            self.log.info(
                Some(&step_name(step)),
                None,
                &format!("browser started in {} ms", started.elapsed().as_millis()),
            );
            if let Some(warning) = crate::browser::japanese_font_warning() {
                self.log.warn(Some(&step_name(step)), None, warning);
            }
            self.browser = Some(browser);
        }
        Ok(self.browser.as_ref().expect("started above"))
    }

    fn browser_failure(&self, step: &Step, frame: &Frame, e: BrowserError) -> StepFailure {
        let transient = e.is_transient();
        let mut f = self.failure(step, frame, e.to_string());
        f.transient = transient;
        f
    }

    pub(super) async fn browser_step(
        &mut self,
        step: &Step,
        frame: &Frame,
    ) -> Result<Flow, StepFailure> {
        let done = match self.browser_action(step, frame).await {
            Ok(()) => self.still_on_the_web(step, frame).await,
            Err(failure) => Err(failure),
        };
        match done {
            Ok(()) => Ok(Flow::Next),
            Err(failure) => Err(self.after_browser_failure(step, frame, failure).await),
        }
    }

    /// A click or key may have followed a link off the web (`file:`, `view-source:`).
    async fn still_on_the_web(&self, step: &Step, frame: &Frame) -> Result<(), StepFailure> {
        match &self.browser {
            Some(b) => b
                .ensure_on_the_web()
                .await
                .map_err(|e| self.browser_failure(step, frame, e)),
            None => Ok(()),
        }
    }

    /// Keep the page of a failed browser step (also for a temporary problem such as a site
    /// that did not answer: it may be the last attempt). When the browser itself is gone,
    /// close what is left of it and mark the failure as one that ends this attempt.
    async fn after_browser_failure(
        &mut self,
        step: &Step,
        frame: &Frame,
        mut failure: StepFailure,
    ) -> StepFailure {
        let lost = match &self.browser {
            Some(b) => !b.is_alive().await,
            // It could not start this time (a later attempt may): no row can be done without it.
            None => failure.transient,
        };
        if !lost {
            self.save_page(step, frame, "error").await;
            return failure;
        }
        if self.browser.is_some() {
            failure.transient = true;
            self.close_browser().await;
        }
        self.browser_lost = true;
        self.log.warn(
            Some(&failure.step),
            frame.row.as_ref().map(|r| r.1 + 1),
            "the browser is gone; this attempt of the run stops here (`on_error` and `catch` do not apply to it)",
        );
        failure
    }

    /// The step's `timeout_secs` ran out before its own waiting did (a page that never
    /// finished loading): name what the step was working on and try to keep the page. The
    /// browser may only be busy, so this stays a failure of the step (`on_error` applies).
    pub(super) async fn browser_step_timed_out(
        &mut self,
        step: &Step,
        frame: &Frame,
        secs: u64,
    ) -> StepFailure {
        let on = match self.render_locator_and_values(step, frame) {
            Ok(Rendered {
                target: Some(l), ..
            }) => format!(" (working on the {})", l.describe()),
            Ok(Rendered { text: Some(t), .. }) if matches!(step.kind, StepKind::Open(_)) => {
                format!(" (opening {t})")
            }
            _ => String::new(),
        };
        self.save_page(step, frame, "error").await;
        self.failure(
            step,
            frame,
            format!("the step did not finish within {secs} s (`timeout_secs`){on}"),
        )
    }

    async fn browser_action(&mut self, step: &Step, frame: &Frame) -> Result<(), StepFailure> {
        let timeout = step.timeout_secs.map(Duration::from_secs);
        // Render every template first: rendering needs `&self`, the browser `&mut self`.
        let rendered = self.render_locator_and_values(step, frame)?;
        let fail = |me: &Self, e: BrowserError| me.browser_failure(step, frame, e);
        match &step.kind {
            StepKind::Open(_) => {
                let url = rendered.text.clone().unwrap_or_default();
                // Refused before a browser is started for it; `goto` checks relative ones.
                if let Err(refused) = crate::web_address::check_written(&url) {
                    let e = BrowserError::NotAWebPage {
                        url,
                        scheme: refused.scheme,
                    };
                    return Err(fail(self, e));
                }
                let b = self.browser(step, frame).await?;
                b.goto(&url).await.map_err(|e| fail(self, e))
            }
            StepKind::Click(_) => {
                let b = self.browser(step, frame).await?;
                b.click(&rendered.locator(), timeout)
                    .await
                    .map_err(|e| fail(self, e))
            }
            StepKind::Fill { mode, .. } => {
                let value = rendered.text.clone().unwrap_or_default();
                let b = self.browser(step, frame).await?;
                b.fill(&rendered.locator(), &value, *mode, timeout)
                    .await
                    .map_err(|e| fail(self, e))
            }
            StepKind::FillForm { mode, .. } => {
                let fields = rendered.fields.clone();
                let b = self.browser(step, frame).await?;
                b.fill_many(&fields, *mode, timeout)
                    .await
                    .map_err(|e| fail(self, e))
            }
            StepKind::Select { .. } => {
                let option = rendered.text.clone().unwrap_or_default();
                let b = self.browser(step, frame).await?;
                b.select(&rendered.locator(), &option, timeout)
                    .await
                    .map_err(|e| fail(self, e))
            }
            StepKind::Check(_) | StepKind::Uncheck(_) => {
                let on = matches!(step.kind, StepKind::Check(_));
                let b = self.browser(step, frame).await?;
                b.set_checked(&rendered.locator(), on, timeout)
                    .await
                    .map_err(|e| fail(self, e))
            }
            StepKind::Upload { .. } => {
                let rel = rendered.text.clone().unwrap_or_default();
                let Some(path) = self.folder.resolve(&rel) else {
                    return Err(self.failure(step, frame, format!("`file: {rel}` must be a file of this run, such as `outputs/report.xlsx` or `input/<name>`")));
                };
                let b = self.browser(step, frame).await?;
                b.upload(&rendered.locator(), &path, timeout)
                    .await
                    .map_err(|e| fail(self, e))
            }
            StepKind::Press(_) => {
                let key = rendered.text.clone().unwrap_or_default();
                let b = self.browser(step, frame).await?;
                b.press(&key).await.map_err(|e| fail(self, e))
            }
            StepKind::WaitFor(a) => {
                let target = match (&rendered.target, &a.url_contains) {
                    (Some(Locator::Text(t)), _) => WaitTarget::Text(t.clone()),
                    (Some(l), _) => WaitTarget::Element(l.clone()),
                    (None, Some(_)) => WaitTarget::Url(rendered.text.clone().unwrap_or_default()),
                    (None, None) => unreachable!("validated: wait_for has a target"),
                };
                let t = shortest(a.timeout_secs.map(Duration::from_secs), timeout);
                let b = self.browser(step, frame).await?;
                b.wait_for(&target, t).await.map_err(|e| fail(self, e))
            }
            StepKind::AssertText { timeout_secs, .. } => {
                let text = rendered.text.clone().unwrap_or_default();
                let t = shortest(timeout_secs.map(Duration::from_secs), timeout);
                let b = self.browser(step, frame).await?;
                b.assert_text(&text, t).await.map_err(|e| fail(self, e))
            }
            StepKind::Extract(a) => {
                let locator = rendered.locator();
                let b = self.browser(step, frame).await?;
                let text = if let Some(attr) = &a.attribute {
                    b.attribute(&locator, attr, timeout)
                        .await
                        .map(Option::unwrap_or_default)
                } else if a.value {
                    b.value(&locator, timeout).await
                } else {
                    b.text(&locator, timeout).await
                }
                .map_err(|e| fail(self, e))?;
                self.store_extracted(&a.into, text, frame);
                Ok(())
            }
            StepKind::ExtractTable(a) => {
                let locator = rendered.locator();
                let b = self.browser(step, frame).await?;
                let scraped = match &a.next {
                    Some(next) => {
                        b.table_paginated(&locator, next, a.max_pages as usize, timeout)
                            .await
                    }
                    None => b.table(&locator, timeout).await,
                }
                .map_err(|e| fail(self, e))?;
                let table = scraped.into_table();
                self.log.info(
                    Some(&step_name(step)),
                    None,
                    &format!("read {} rows into `{}`", table.len(), a.into),
                );
                self.results.remove(&a.into);
                self.tables.insert(a.into.clone(), table);
                Ok(())
            }
            StepKind::Screenshot(_) => {
                let name = rendered.text.clone().unwrap_or_else(|| "screenshot".into());
                self.browser(step, frame).await?;
                self.save_page(step, frame, &name).await;
                Ok(())
            }
            StepKind::EnterFrame(_) => {
                let b = self.browser(step, frame).await?;
                b.enter_frame(&rendered.locator(), timeout)
                    .await
                    .map_err(|e| fail(self, e))
            }
            StepKind::LeaveFrame => {
                let b = self.browser(step, frame).await?;
                b.leave_frame().await.map_err(|e| fail(self, e))
            }
            StepKind::Dialog(action) => {
                let b = self.browser(step, frame).await?;
                let text = match action {
                    DialogAction::Accept => b.accept_dialog(timeout).await,
                    DialogAction::Dismiss => b.dismiss_dialog(timeout).await,
                }
                .map_err(|e| fail(self, e))?;
                self.log.info(
                    Some(&step_name(step)),
                    frame.row.as_ref().map(|r| r.1 + 1),
                    &format!("dialog said \"{text}\""),
                );
                Ok(())
            }
            other => unreachable!("`{}` is not a browser step", other.keyword()),
        }
    }

    /// `extract … into`: a column of the current row inside `for_each`, else a variable.
    fn store_extracted(&mut self, into: &str, text: String, frame: &Frame) {
        match &frame.row {
            Some((table, i)) => {
                if let Some(t) = self.tables.get_mut(table) {
                    let col = t.ensure_column(into);
                    if let Some(row) = t.rows.get_mut(*i) {
                        row[col] = Cell::text(text);
                    }
                }
            }
            None => {
                self.vars
                    .insert(into.to_string(), minijinja::Value::from(text));
            }
        }
    }

    /// Save a screenshot and the page's HTML as `screenshots/<n>-step<…>[-row<r>]-<what>.png/.html`.
    async fn save_page(&mut self, step: &Step, frame: &Frame, what: &str) {
        let Some(browser) = &self.browser else { return };
        self.screenshots += 1;
        let row = frame
            .row
            .as_ref()
            .map(|(_, i)| format!("-row{}", i + 1))
            .unwrap_or_default();
        let number: String = step_name(step)
            .split(' ')
            .next()
            .unwrap_or("#")
            .trim_start_matches('#')
            .replace('.', "-");
        let what = crate::run_folder::safe_file_name(what).replace(' ', "_");
        let base = format!("{:03}-step{number}{row}-{what}", self.screenshots);
        let dir = self.folder.screenshots_dir();
        let mut saved = Vec::new();
        // Bounded: a browser busy with a page that never loads must not hold the run up.
        let Ok((png, html)) = tokio::time::timeout(SAVE_PAGE_LIMIT, capture(browser)).await else {
            return;
        };
        if let Ok(png) = png {
            let path = dir.join(format!("{base}.png"));
            if std::fs::write(&path, png).is_ok() {
                saved.push((path, "screenshot"));
            }
        }
        if let Ok(html) = html {
            let path = dir.join(format!("{base}.html"));
            if std::fs::write(&path, self.log.secrets().mask(&html)).is_ok() {
                saved.push((path, "page"));
            }
        }
        for (path, kind) in saved {
            self.register(&path, kind).await;
        }
    }

    fn render_locator_and_values(
        &self,
        step: &Step,
        frame: &Frame,
    ) -> Result<Rendered, StepFailure> {
        let loc = |l: &Locator| -> Result<Locator, StepFailure> {
            let text = |s: &str| self.render_text(s, frame, step);
            Ok(match l {
                Locator::Css(s) => Locator::Css(text(s)?),
                Locator::XPath(s) => Locator::XPath(text(s)?),
                Locator::Label(s) => Locator::Label(text(s)?),
                Locator::Placeholder(s) => Locator::Placeholder(text(s)?),
                Locator::Name(s) => Locator::Name(text(s)?),
                Locator::Text(s) => Locator::Text(text(s)?),
                Locator::Title(s) => Locator::Title(text(s)?),
            })
        };
        let mut r = Rendered::default();
        let target = match &step.kind {
            StepKind::Click(t)
            | StepKind::Check(t)
            | StepKind::Uncheck(t)
            | StepKind::EnterFrame(t) => Some(t),
            StepKind::Fill { target, .. }
            | StepKind::Select { target, .. }
            | StepKind::Upload { target, .. } => Some(target),
            StepKind::Extract(a) => Some(&a.target),
            StepKind::ExtractTable(a) => Some(&a.target),
            StepKind::WaitFor(a) => a.target.as_ref(),
            _ => None,
        };
        if let Some(t) = target {
            r.target = Some(loc(t)?);
        }
        r.text = match &step.kind {
            StepKind::Open(s) | StepKind::Press(s) | StepKind::Screenshot(s) => {
                Some(self.render_text(s, frame, step)?)
            }
            StepKind::Fill { value, .. } => Some(self.render_text(value, frame, step)?),
            StepKind::Select { option, .. } => Some(self.render_text(option, frame, step)?),
            StepKind::Upload { file, .. } => Some(self.render_text(file, frame, step)?),
            StepKind::AssertText { text, .. } => Some(self.render_text(text, frame, step)?),
            StepKind::WaitFor(a) => match &a.url_contains {
                Some(u) => Some(self.render_text(u, frame, step)?),
                None => None,
            },
            _ => None,
        };
        if let StepKind::FillForm { fields, .. } = &step.kind {
            for (label, value) in fields {
                let v = self.render(value, frame, step)?;
                r.fields
                    .push((Locator::Label(label.clone()), expr::display(&v)));
            }
        }
        Ok(r)
    }
}

/// How long saving a failed step's page may take.
const SAVE_PAGE_LIMIT: Duration = Duration::from_secs(10);

/// A screenshot and the HTML of the current page.
async fn capture(
    browser: &Browser,
) -> (Result<Vec<u8>, BrowserError>, Result<String, BrowserError>) {
    let mut png = browser.screenshot().await;
    if png.is_err() {
        // A dialog nobody expected blocks the page; its text is in the error already.
        // Close it so the page behind it can be kept.
        if browser
            .dismiss_dialog(Some(Duration::from_millis(500)))
            .await
            .is_ok()
        {
            png = browser.screenshot().await;
        }
    }
    (png, browser.page_html().await)
}

/// The shorter of a step's own wait and its `timeout_secs`.
fn shortest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A browser step's locator and values with templates filled in.
#[derive(Default)]
struct Rendered {
    target: Option<Locator>,
    text: Option<String>,
    fields: Vec<(Locator, String)>,
}

impl Rendered {
    fn locator(&self) -> Locator {
        self.target.clone().unwrap_or(Locator::Css("html".into()))
    }
}
