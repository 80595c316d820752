//! Browser steps: drive Chromium through chromedriver (WebDriver, via fantoccini).
//!
//! [`Browser::launch`] starts a private chromedriver and a headless Chromium with a fresh
//! profile; [`Browser::close`] (or dropping the `Browser`) ends every process it started.
//! Steps name elements with a [`Locator`] (`label: 氏名`, `text: 登録`) and wait for them,
//! up to a timeout, to be present, visible and enabled. Errors say what to try next and
//! whether a retry could help ([`BrowserError::is_transient`]). A worker keeps one browser
//! started ahead of its next run ([`BrowserAhead`]); [`Browser::take_ahead`] attaches a run
//! to it.

mod ahead;
mod config;
mod download;
mod driver;
mod error;
mod fonts;
mod keys;
mod locator;
mod table;
mod tabs;

pub use ahead::{BrowserAhead, BrowserOffer, IDLE_LIMIT, Lent, StopGuard, WaitingBrowser};
pub use config::BrowserConfig;
pub use driver::{processes_mentioning, sweep_orphans};
pub use error::{BrowserError, ElementState};
pub use fonts::japanese_font_warning;
pub use locator::{FillMode, Locator, WaitTarget};
pub use state::State;
pub use table::ScrapedTable;

use driver::Driver;
use error::quoted_list;
use fantoccini::elements::{Element, ElementRef};
use fantoccini::error::{CmdError, ErrorStatus, NewSessionError};
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The helpers in `browser/script.js`, then the body of one script.
macro_rules! script {
    ($body:expr) => {
        // From the crate root, so that modules under `browser/` can use it too.
        concat!(
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/browser/script.js"
            )),
            "\n",
            $body
        )
    };
}

// Declared after `script!` so that they can use it.
mod pointer;
mod state;

const FIND: &str = script!(
    "const [kind, value, purpose, suggest] = arguments; return kobo.find(kind, value, purpose, suggest);"
);
const SET_VALUE: &str = script!(
    "kobo.setValue(arguments[0], arguments[1]); return arguments[2] ? kobo.kept(arguments[0], arguments[1]) : null;"
);
/// After typing: `null` when the field holds what was typed, else what it holds (script.js).
const KEPT: &str = script!("return kobo.kept(arguments[0], arguments[1]);");
const FILL_MANY: &str = script!(
    r#"const [items, suggest, verify] = arguments;
const found = [];
for (let i = 0; i < items.length; i++) {
  const r = kobo.find(items[i][0], items[i][1], 'fill', suggest);
  if (r.status === 'ok' && (['checkbox', 'radio', 'file'].includes(r.type) || r.tag === 'select')) r.status = 'wrongkind';
  if (r.status !== 'ok') { delete r.el; r.index = i; return r; }
  found.push(r.el);
}
found.forEach((el, i) => kobo.setValue(el, items[i][2]));
for (let i = 0; verify && i < found.length; i++) {
  const k = kobo.kept(found[i], items[i][2]);
  if (k) return Object.assign(k, { status: 'changed', index: i });
}
return { status: 'ok' };"#
);
const SELECT: &str = script!(
    r#"const [el, want] = arguments;
const options = [...el.options];
const o = options.find((o) => kobo.norm(o.text) === kobo.norm(want)) || options.find((o) => o.value === want);
if (!o) return { ok: false, options: options.map((o) => kobo.norm(o.text)) };
o.selected = true;
el.dispatchEvent(new Event('input', { bubbles: true }));
el.dispatchEvent(new Event('change', { bubbles: true }));
return { ok: true };"#
);
const IS_CHECKED: &str = "const el = arguments[0]; return el.checked === undefined ? el.getAttribute('aria-checked') === 'true' : !!el.checked;";
const JS_CLICK: &str = "arguments[0].click(); return null;";
const TEXT: &str = "return (arguments[0].innerText || arguments[0].textContent || '').trim();";
const VALUE: &str = "const el = arguments[0]; return el.isContentEditable ? el.innerText : (el.value === undefined ? '' : String(el.value));";
const ATTRIBUTE: &str = "return arguments[0].getAttribute(arguments[1]);";
const HAS_TEXT: &str =
    script!("return { found: kobo.hasText(arguments[0]), errors: kobo.pageErrors() };");
const PAGE_ERRORS: &str = script!("return kobo.pageErrors();");
const NAV_STATUS: &str = "const e = performance.getEntriesByType('navigation')[0]; return e && e.responseStatus ? e.responseStatus : null;";
const NET_ERROR_PAGE: &str = "return document.body && document.body.classList.contains('neterror') ? (document.body.innerText || '').slice(0, 2000) : null;";
const CHROME_ERROR_CODE: &str =
    "return ((document.body && document.body.innerText || '').match(/ERR_[A-Z_]+/) || [''])[0];";
/// Reads a `<table>` or an ARIA table (`role=table`, `grid`, `treegrid`); see the script.
const TABLE: &str = include_str!("browser/table.js");

/// How often a waiting step looks again.
const POLL: Duration = Duration::from_millis(100);

/// What a step needs from the element it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Present,
    Visible,
    Click,
    Fill,
    Check,
    Upload,
    Next,
    Hover,
    Scroll,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Present => "present",
            Purpose::Visible => "visible",
            Purpose::Click => "click",
            Purpose::Fill => "fill",
            Purpose::Check => "check",
            Purpose::Upload => "upload",
            Purpose::Next => "next",
            Purpose::Hover => "hover",
            Purpose::Scroll => "scroll",
        }
    }
}

/// An element the page script found, with what kind of element it is.
struct Found {
    element: Element,
    tag: String,
    kind: String,
    editable: bool,
}

impl Found {
    fn is(&self, tag: &str, kinds: &[&str]) -> bool {
        self.tag == tag && (kinds.is_empty() || kinds.contains(&self.kind.as_str()))
    }
}

/// What to do with a found element; re-found and retried while the page is still changing.
enum Act<'a> {
    Click,
    /// Clear, then type.
    Type(&'a str),
    SendKeys(&'a str),
    /// Run a script with the element as `arguments[0]` and `args` after it.
    Script(&'a str, Vec<Json>),
    /// Move the mouse over it.
    Hover,
}

/// How kobo reaches chromedriver: plain http on loopback. (`ClientBuilder::native` would
/// set up TLS first, which reads the system's certificates: 0.1 to 0.4 s here, for nothing.)
fn loopback() -> hyper_util::client::legacy::connect::HttpConnector {
    hyper_util::client::legacy::connect::HttpConnector::new()
}

/// Who ends a browser's processes.
enum Processes {
    /// Launched for this run: ended with it.
    Own(Driver),
    /// Started ahead by a worker ([`BrowserAhead`]), which ends chromedriver after the run;
    /// Chromium ends with the session.
    Ahead(WaitingBrowser),
}

/// A chromedriver command outside WebDriver: one Chrome DevTools call
/// (`POST /session/{id}/goog/cdp/execute`).
#[derive(Debug)]
struct ChromeCommand {
    cmd: &'static str,
    params: Json,
}

impl ChromeCommand {
    fn new(cmd: &'static str, params: Json) -> ChromeCommand {
        ChromeCommand { cmd, params }
    }
}

impl fantoccini::wd::WebDriverCompatibleCommand for ChromeCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// A running Chromium session. Every process it started ends when it is closed or dropped.
pub struct Browser {
    client: Client,
    // Declared after `client`: the processes outlive the connection to them.
    processes: Processes,
    config: BrowserConfig,
    /// The tabs the steps have worked in (`switch_to`).
    tabs: tabs::Tabs,
}

impl Browser {
    /// Start chromedriver and a fresh Chromium.
    pub async fn launch(config: &BrowserConfig) -> Result<Browser, BrowserError> {
        let Started { driver, client, .. } = start_session(config).await?;
        Ok(Browser {
            client,
            processes: Processes::Own(driver),
            config: config.clone(),
            tabs: tabs::Tabs::default(),
        })
    }

    /// Take the browser a worker started ahead ([`BrowserAhead`]) for this run, with this
    /// run's timeouts and download folder. The offer is marked taken first, so it is never
    /// offered again: whatever happens next, this browser serves no other run. Fails when
    /// the waiting browser no longer answers; the caller then launches one.
    pub async fn take_ahead(
        config: &BrowserConfig,
        offer: BrowserOffer,
    ) -> Result<Browser, BrowserError> {
        let waiting = offer.take();
        let lost = |e: CmdError| BrowserError::SessionNotCreated {
            message: format!("the browser started ahead does not answer: {e}"),
        };
        let attach =
            Client::with_existing_session(&waiting.webdriver, &waiting.session, loopback());
        let client = session_within(Duration::from_secs(5), attach, || {
            "the browser started ahead does not answer".into()
        })
        .await?;
        let browser = Browser {
            client,
            processes: Processes::Ahead(waiting),
            config: config.clone(),
            tabs: tabs::Tabs::default(),
        };
        let setup = async {
            // The session was opened with the default timeouts; this run may have others.
            browser
                .client
                .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                    Some(Duration::from_secs(30)),
                    Some(config.page_load_timeout),
                    Some(Duration::ZERO),
                ))
                .await
                .map_err(lost)?;
            // Downloads go to this run's folder (the session started with a folder of its own).
            let downloads = browser.download_dir();
            let _ = std::fs::create_dir_all(&downloads);
            browser
                .client
                .issue_cmd(ChromeCommand::new(
                    "Browser.setDownloadBehavior",
                    json!({ "behavior": "allow", "downloadPath": downloads.to_string_lossy() }),
                ))
                .await
                .map_err(lost)?;
            Ok::<(), BrowserError>(())
        };
        match tokio::time::timeout(Duration::from_secs(5), setup).await {
            Ok(Ok(())) => Ok(browser),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(BrowserError::SessionNotCreated {
                message: "the browser started ahead does not answer".into(),
            }),
        }
    }

    /// Was this browser started ahead of the run ([`Browser::take_ahead`])?
    pub fn started_ahead(&self) -> bool {
        matches!(self.processes, Processes::Ahead(_))
    }

    /// End the WebDriver session, then make sure chromedriver and Chromium are gone. (A
    /// browser started ahead ends with its session; its worker ends its chromedriver.)
    pub async fn close(self) {
        let Browser {
            client, processes, ..
        } = self;
        let _ = tokio::time::timeout(Duration::from_secs(5), client.close()).await;
        if let Processes::Own(driver) = processes {
            driver.shutdown().await;
        }
    }

    /// This browser's private profile directory (`--user-data-dir`), unique per launch.
    pub fn profile_dir(&self) -> PathBuf {
        match &self.processes {
            Processes::Own(driver) => driver.profile_dir(),
            Processes::Ahead(waiting) => waiting.profile.clone(),
        }
    }

    /// The chromedriver process id (also the id of the process group it leads).
    pub fn driver_pid(&self) -> u32 {
        match &self.processes {
            Processes::Own(driver) => driver.pid(),
            Processes::Ahead(waiting) => waiting.driver_pid,
        }
    }

    /// Where its chromedriver listens (`http://127.0.0.1:<port>`, a port workflows may not open).
    pub fn webdriver_url(&self) -> String {
        match &self.processes {
            Processes::Own(driver) => driver.url(),
            Processes::Ahead(waiting) => waiting.webdriver.clone(),
        }
    }

    /// The config this browser was launched with.
    pub fn config(&self) -> &BrowserConfig {
        &self.config
    }

    /// Open `url` (absolute, or relative to the current page) and wait for it to load.
    /// Fails when the site cannot be reached, answers 4xx/5xx, or takes longer than the
    /// page load timeout.
    pub async fn goto(&self, url: &str) -> Result<(), BrowserError> {
        // Only web pages: resolve the address as fantoccini will, then check its scheme.
        let current = self.client.current_url().await.ok();
        if let Err(refused) = crate::web_address::resolve(current.as_ref(), url) {
            return Err(BrowserError::NotAWebPage {
                url: url.to_string(),
                why: refused,
            });
        }
        match self.client.goto(url).await {
            Ok(()) => {}
            Err(CmdError::BadUrl(_)) => {
                return Err(BrowserError::BadUrl {
                    url: url.to_string(),
                });
            }
            Err(CmdError::Standard(w)) if w.error == ErrorStatus::Timeout => {
                return Err(BrowserError::PageLoadTimeout {
                    url: url.to_string(),
                    timeout: self.config.page_load_timeout,
                });
            }
            Err(CmdError::Standard(w)) if w.message.contains("net::ERR_") => {
                let reason = w
                    .message
                    .split_whitespace()
                    .find(|word| word.starts_with("net::ERR_"))
                    .unwrap_or("net::ERR")
                    .trim_start_matches("net::")
                    .to_string();
                return Err(BrowserError::CouldNotOpen {
                    url: url.to_string(),
                    reason,
                });
            }
            Err(e) => return Err(self.fail(e, "open the page").await),
        }
        let current = self.current_url().await?;
        if current.starts_with("chrome-error://") {
            let code = self
                .run(CHROME_ERROR_CODE, vec![])
                .await
                .unwrap_or(Json::Null);
            let reason = code
                .as_str()
                .filter(|c| !c.is_empty())
                .unwrap_or("the browser showed its error page")
                .to_string();
            return Err(BrowserError::CouldNotOpen {
                url: url.to_string(),
                reason,
            });
        }
        let status = match self.run(NAV_STATUS, vec![]).await {
            Ok(status) => status,
            Err(e) => return Err(self.fail(e, "read the page status").await),
        };
        if let Some(status) = status.as_u64().filter(|s| *s >= 400) {
            return Err(BrowserError::HttpStatus {
                url: current,
                status: status as u16,
            });
        }
        // No status from a server, yet Chromium shows its own error page under the address it
        // was given: either it refused to go there (ports it deems unsafe, such as 1 or 6000:
        // `ERR_UNSAFE_PORT`), or the server's error page was empty (`HTTP ERROR 500`).
        if status.is_null()
            && let Ok(Json::String(text)) = self.run(NET_ERROR_PAGE, vec![]).await
        {
            if let Some(code) = text.split_whitespace().find(|w| w.starts_with("ERR_")) {
                let reason = code.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
                return Err(BrowserError::CouldNotOpen {
                    url: url.to_string(),
                    reason: reason.to_string(),
                });
            }
            let http = text
                .split("HTTP ERROR ")
                .nth(1)
                .and_then(|r| r.get(..3)?.parse::<u16>().ok());
            if let Some(status) = http.filter(|s| *s >= 400) {
                return Err(BrowserError::HttpStatus {
                    url: current,
                    status,
                });
            }
        }
        Ok(())
    }

    /// Is the browser still on a web page? A click or a key can follow a link to a `file:`
    /// or `view-source:` address; then leave that page (for `about:blank`, so that nothing
    /// of it is kept as the failed step's page) and say so.
    pub async fn ensure_on_the_web(&self) -> Result<(), BrowserError> {
        let current = match self.client.current_url().await {
            Ok(url) => url.to_string(),
            // A dialog the step opened (the next step answers it) holds the page where it is.
            Err(e) if is_status(&e, ErrorStatus::UnexpectedAlertOpen) => return Ok(()),
            // The step closed its own tab (a 閉じる button); `close_tab` or `switch_to` is next.
            Err(e) if self.tab_closed(&e).await => return Ok(()),
            Err(_) => self.current_url().await?,
        };
        match crate::web_address::check_current(&current) {
            Ok(()) => Ok(()),
            Err(refused) => {
                let _ = self.client.goto("about:blank").await;
                Err(BrowserError::LeftTheWeb { why: refused })
            }
        }
    }

    /// Does the browser still answer? `false` when Chromium or chromedriver crashed (or hangs
    /// for seconds); only a new browser helps then. A dialog on the page does not count.
    pub async fn is_alive(&self) -> bool {
        match tokio::time::timeout(Duration::from_secs(5), self.client.current_url()).await {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => !session_lost(&e) || self.tab_closed(&e).await,
            Err(_) => false,
        }
    }

    /// The address of the current page.
    pub async fn current_url(&self) -> Result<String, BrowserError> {
        match self.client.current_url().await {
            Ok(url) => Ok(url.to_string()),
            Err(e) => Err(self.fail(e, "read the address").await),
        }
    }

    /// The HTML of the current page (or frame).
    pub async fn page_html(&self) -> Result<String, BrowserError> {
        match self.client.source().await {
            Ok(html) => Ok(html),
            Err(e) => Err(self.fail(e, "read the page").await),
        }
    }

    /// A PNG screenshot of the visible part of the page.
    pub async fn screenshot(&self) -> Result<Vec<u8>, BrowserError> {
        match self.client.screenshot().await {
            Ok(png) => Ok(png),
            Err(e) => Err(self.fail(e, "take a screenshot").await),
        }
    }

    /// Click a button, link or any element, like a person would (a real mouse click).
    pub async fn click(
        &self,
        locator: &Locator,
        timeout: Option<Duration>,
    ) -> Result<(), BrowserError> {
        self.act(locator, Purpose::Click, timeout, &Act::Click, "click")
            .await
            .map(drop)
    }

    /// Put `text` into a field. `FillMode::Type` clears it and types key by key;
    /// `FillMode::Set` sets the value in one script call. A `<select>` gets the option
    /// whose text (or value) is `text`. Fails when the page then clears or changes it
    /// (see [`Browser::fill_verify`]).
    pub async fn fill(
        &self,
        locator: &Locator,
        text: &str,
        mode: FillMode,
        timeout: Option<Duration>,
    ) -> Result<(), BrowserError> {
        self.fill_verify(locator, text, mode, true, timeout).await
    }

    /// [`Browser::fill`], then, with `verify`, read the field back: fail when the page
    /// cleared it or changed it beyond formatting (width, case, kana, spaces, `-`, `,`,
    /// `/` do not count; number and date fields fail only when empty).
    pub async fn fill_verify(
        &self,
        locator: &Locator,
        text: &str,
        mode: FillMode,
        verify: bool,
        timeout: Option<Duration>,
    ) -> Result<(), BrowserError> {
        let timeout = self.timeout(timeout);
        let deadline = Instant::now() + timeout;
        let found = self
            .resolve(locator, Purpose::Fill, deadline, timeout)
            .await?;
        if found.tag == "select" {
            return self.select(locator, text, Some(timeout)).await;
        }
        if found.is("input", &["checkbox", "radio"]) {
            return Err(wrong_kind(locator, &found, "filled", "use a `check` step"));
        }
        if found.is("input", &["file"]) {
            return Err(wrong_kind(
                locator,
                &found,
                "filled",
                "use an `upload` step",
            ));
        }
        if !found.editable && !matches!(found.tag.as_str(), "input" | "textarea") {
            return Err(wrong_kind(
                locator,
                &found,
                "filled",
                "point the step at the input box itself, e.g. with `label:` or `css:`",
            ));
        }
        let act = match mode {
            FillMode::Type => Act::Type(text),
            FillMode::Set => Act::Script(SET_VALUE, vec![json!(text), json!(verify)]),
        };
        let (found, set) = self
            .act_on(
                locator,
                Purpose::Fill,
                deadline,
                timeout,
                &act,
                "fill",
                Some(found),
            )
            .await?;
        if !verify {
            return Ok(());
        }
        let kept = match mode {
            FillMode::Set => set,
            FillMode::Type => match self.element_script(&found, KEPT, vec![json!(text)]).await {
                Ok(kept) => kept,
                Err(e) => return Err(self.fail(e, "read the field back").await),
            },
        };
        match not_kept(locator, text, &kept) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Fill several fields. With `FillMode::Set`, all fields are found and set in ONE script
    /// call (nothing is set unless every field is there); with `FillMode::Type`, one by one.
    /// Each field is read back as by [`Browser::fill`].
    pub async fn fill_many(
        &self,
        fields: &[(Locator, String)],
        mode: FillMode,
        timeout: Option<Duration>,
    ) -> Result<(), BrowserError> {
        self.fill_many_verify(fields, mode, true, timeout).await
    }

    /// [`Browser::fill_many`], reading the fields back only with `verify` (in the same
    /// script call with `FillMode::Set`).
    pub async fn fill_many_verify(
        &self,
        fields: &[(Locator, String)],
        mode: FillMode,
        verify: bool,
        timeout: Option<Duration>,
    ) -> Result<(), BrowserError> {
        if mode == FillMode::Type {
            for (locator, text) in fields {
                self.fill_verify(locator, text, mode, verify, timeout)
                    .await?;
            }
            return Ok(());
        }
        let timeout = self.timeout(timeout);
        let deadline = Instant::now() + timeout;
        let items: Vec<Json> = fields
            .iter()
            .map(|(l, text)| json!([l.kind(), l.value(), text]))
            .collect();
        loop {
            let last = Instant::now() >= deadline;
            let args = vec![json!(items), json!(last), json!(verify)];
            match self.run(FILL_MANY, args).await {
                Ok(result) => {
                    let status = result["status"].as_str().unwrap_or("");
                    if status == "ok" {
                        return Ok(());
                    }
                    let index = result["index"].as_u64().unwrap_or(0) as usize;
                    let Some((locator, text)) = fields.get(index) else {
                        return Err(self.unexpected("fill the fields", &result));
                    };
                    if status == "changed" {
                        return Err(not_kept(locator, text, &result)
                            .unwrap_or_else(|| self.unexpected("fill the fields", &result)));
                    }
                    if status == "bad" {
                        return Err(bad_locator(locator, &result));
                    }
                    if status == "ambiguous" && last {
                        return Err(ambiguous(locator, &result));
                    }
                    if status == "wrongkind" {
                        return Err(BrowserError::WrongKind {
                            what: locator.describe(),
                            found: kind_name(
                                result["tag"].as_str().unwrap_or(""),
                                result["type"].as_str().unwrap_or(""),
                            ),
                            action: "filled",
                            hint: "fill it in its own step (`select`, `check` or `upload`)"
                                .to_string(),
                        });
                    }
                    if last {
                        return Err(not_found(locator, &result, timeout));
                    }
                }
                Err(e) if retryable(&e) && !last => {}
                Err(e) => return Err(self.fail(e, "fill the fields").await),
            }
            pause_until(deadline).await;
        }
    }

    /// Choose an option of a `<select>` by its visible text (or, failing that, its value).
    pub async fn select(
        &self,
        locator: &Locator,
        option: &str,
        timeout: Option<Duration>,
    ) -> Result<(), BrowserError> {
        let timeout = self.timeout(timeout);
        let act = Act::Script(SELECT, vec![json!(option)]);
        let (found, result) = self
            .act_found(
                locator,
                Purpose::Fill,
                Some(timeout),
                &act,
                "choose an option",
            )
            .await?;
        if found.tag != "select" {
            return Err(wrong_kind(
                locator,
                &found,
                "chosen from",
                "only drop-down lists (<select>) have options; click custom lists instead",
            ));
        }
        if result["ok"].as_bool() == Some(true) {
            return Ok(());
        }
        Err(BrowserError::OptionNotFound {
            what: locator.describe(),
            option: option.to_string(),
            available: strings(&result["options"]),
        })
    }

    /// Tick (`true`) or untick (`false`) a checkbox, or pick a radio button (`true`).
    pub async fn set_checked(
        &self,
        locator: &Locator,
        checked: bool,
        timeout: Option<Duration>,
    ) -> Result<(), BrowserError> {
        let timeout = self.timeout(timeout);
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .resolve(locator, Purpose::Check, deadline, timeout)
                .await?;
            let now = self.element_script(&found, IS_CHECKED, vec![]).await;
            let now = match now {
                Ok(v) => v.as_bool() == Some(true),
                Err(e) if retryable(&e) && Instant::now() < deadline => {
                    pause_until(deadline).await;
                    continue;
                }
                Err(e) => return Err(self.fail(e, "read the checkbox").await),
            };
            if now == checked {
                return Ok(());
            }
            // Styled checkboxes are often hidden behind their label: click in the page then.
            let visible = self
                .element_script(
                    &found,
                    script!("return kobo.visible(arguments[0]);"),
                    vec![],
                )
                .await
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            let clicked = if visible {
                found.element.click().await.map(drop)
            } else {
                self.element_script(&found, JS_CLICK, vec![])
                    .await
                    .map(drop)
            };
            match clicked {
                Ok(()) => {}
                Err(e) if retryable(&e) && Instant::now() < deadline => {}
                Err(e) => return Err(self.fail(e, "tick the checkbox").await),
            }
            if Instant::now() >= deadline {
                return Err(BrowserError::WaitTimedOut {
                    what: format!(
                        "the {} to become {}",
                        locator.describe(),
                        if checked { "ticked" } else { "unticked" }
                    ),
                    timeout,
                    errors: vec![],
                });
            }
        }
    }

    /// Choose the file `path` in a file input (`<input type=file>`).
    pub async fn upload(
        &self,
        locator: &Locator,
        path: &Path,
        timeout: Option<Duration>,
    ) -> Result<(), BrowserError> {
        let absolute = std::fs::canonicalize(path).map_err(|_| BrowserError::FileNotFound {
            path: path.to_path_buf(),
        })?;
        let timeout = self.timeout(timeout);
        let deadline = Instant::now() + timeout;
        let found = self
            .resolve(locator, Purpose::Upload, deadline, timeout)
            .await?;
        if !found.is("input", &["file"]) {
            return Err(wrong_kind(
                locator,
                &found,
                "given a file",
                "point the step at the file input (<input type=file>), e.g. `label: ファイル`",
            ));
        }
        let path = absolute.to_string_lossy();
        self.act(
            locator,
            Purpose::Upload,
            Some(timeout),
            &Act::SendKeys(&path),
            "choose the file",
        )
        .await
        .map(drop)
    }

    /// Press a key (or a combination like `Control+A`) in the focused element.
    pub async fn press(&self, key: &str) -> Result<(), BrowserError> {
        let keys = keys::parse(key)?;
        let result = match self.client.active_element().await {
            Ok(element) => element.send_keys(&keys).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e, "press a key").await),
        }
    }

    /// Wait until `target` is true, polling until `timeout`.
    pub async fn wait_for(
        &self,
        target: &WaitTarget,
        timeout: Option<Duration>,
    ) -> Result<(), BrowserError> {
        let timeout = self.timeout(timeout);
        let deadline = Instant::now() + timeout;
        match target {
            WaitTarget::Element(locator) => self
                .resolve(locator, Purpose::Visible, deadline, timeout)
                .await
                .map(drop),
            WaitTarget::Text(text) => match self.wait_text(text, deadline).await? {
                Ok(()) => Ok(()),
                Err(errors) => Err(BrowserError::WaitTimedOut {
                    what: format!("the page to show \"{text}\""),
                    timeout,
                    errors,
                }),
            },
            WaitTarget::Url(part) => loop {
                if self.current_url().await?.contains(part.as_str()) {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(BrowserError::WaitTimedOut {
                        what: format!(
                            "the address to contain \"{part}\" (it is {})",
                            self.current_url().await?
                        ),
                        timeout,
                        errors: vec![],
                    });
                }
                pause_until(deadline).await;
            },
            WaitTarget::Gone(locator) => loop {
                let args = vec![
                    json!(locator.kind()),
                    json!(locator.value()),
                    json!("visible"),
                    json!(false),
                ];
                match self.run(FIND, args).await {
                    Ok(r) if r["status"] == "bad" => return Err(bad_locator(locator, &r)),
                    Ok(r) if r["status"] == "ambiguous" => {}
                    Ok(r) if r["status"] != "ok" => return Ok(()),
                    Ok(_) => {}
                    Err(e) if retryable(&e) => {}
                    Err(e) => return Err(self.fail(e, "look at the page").await),
                }
                if Instant::now() >= deadline {
                    return Err(BrowserError::WaitTimedOut {
                        what: format!("the {} to go away", locator.describe()),
                        timeout,
                        errors: vec![],
                    });
                }
                pause_until(deadline).await;
            },
        }
    }

    /// Check that the page shows `text` (waiting up to `timeout` for it to appear).
    pub async fn assert_text(
        &self,
        text: &str,
        timeout: Option<Duration>,
    ) -> Result<(), BrowserError> {
        let timeout = self.timeout(timeout);
        match self.wait_text(text, Instant::now() + timeout).await? {
            Ok(()) => Ok(()),
            Err(errors) => Err(BrowserError::AssertionFailed {
                expected: text.to_string(),
                timeout,
                errors,
            }),
        }
    }

    /// The visible text of an element, trimmed.
    pub async fn text(
        &self,
        locator: &Locator,
        timeout: Option<Duration>,
    ) -> Result<String, BrowserError> {
        let act = Act::Script(TEXT, vec![]);
        let v = self
            .act(locator, Purpose::Visible, timeout, &act, "read the text")
            .await?;
        Ok(v.as_str().unwrap_or("").to_string())
    }

    /// The current value of a field (what is typed in it).
    pub async fn value(
        &self,
        locator: &Locator,
        timeout: Option<Duration>,
    ) -> Result<String, BrowserError> {
        let act = Act::Script(VALUE, vec![]);
        let v = self
            .act(locator, Purpose::Present, timeout, &act, "read the value")
            .await?;
        Ok(v.as_str().unwrap_or("").to_string())
    }

    /// An attribute of an element (`href`, `id`, …), `None` when it has none.
    pub async fn attribute(
        &self,
        locator: &Locator,
        name: &str,
        timeout: Option<Duration>,
    ) -> Result<Option<String>, BrowserError> {
        let act = Act::Script(ATTRIBUTE, vec![json!(name)]);
        let v = self
            .act(
                locator,
                Purpose::Present,
                timeout,
                &act,
                "read the attribute",
            )
            .await?;
        Ok(v.as_str().map(str::to_string))
    }

    /// The headers and rows of a table (the element, or the table inside or around it):
    /// a `<table>`, or one drawn with ARIA roles (`role=table`, `grid`, `treegrid`).
    pub async fn table(
        &self,
        locator: &Locator,
        timeout: Option<Duration>,
    ) -> Result<ScrapedTable, BrowserError> {
        let act = Act::Script(TABLE, vec![]);
        let (found, v) = self
            .act_found(locator, Purpose::Visible, timeout, &act, "read the table")
            .await?;
        if v.is_null() {
            return Err(wrong_kind(
                locator,
                &found,
                "read as a table",
                "point the step at a <table> or an element with role=table, grid or treegrid, e.g. `css: table` or `css: \"#orders\"`",
            ));
        }
        Ok(ScrapedTable {
            headers: strings(&v["headers"]),
            rows: v["rows"]
                .as_array()
                .map(|rows| rows.iter().map(strings).collect())
                .unwrap_or_default(),
        })
    }

    /// Read a table across pages: read, click `next`, wait for the table to change, repeat,
    /// until `next` is gone, hidden or disabled, or `max_pages` pages were read.
    pub async fn table_paginated(
        &self,
        locator: &Locator,
        next: &Locator,
        max_pages: usize,
        timeout: Option<Duration>,
    ) -> Result<ScrapedTable, BrowserError> {
        let timeout = self.timeout(timeout);
        let mut all = self.table(locator, Some(timeout)).await?;
        let mut previous = all.rows.clone();
        for _ in 1..max_pages.max(1) {
            let args = vec![
                json!(next.kind()),
                json!(next.value()),
                json!(Purpose::Next.as_str()),
                json!(false),
            ];
            let found = match self.run(FIND, args).await {
                Ok(r) if r["status"] == "bad" => return Err(bad_locator(next, &r)),
                Ok(r) if r["status"] == "ambiguous" => return Err(ambiguous(next, &r)),
                Ok(r) if r["status"] == "ok" => r,
                Ok(_) => break,
                Err(e) => return Err(self.fail(e, "look for the next page").await),
            };
            let Some(element) = self.element(&found["el"]) else {
                break;
            };
            if let Err(e) = element.click().await {
                return Err(self.fail(e, "go to the next page").await);
            }
            let deadline = Instant::now() + timeout;
            let page = loop {
                match self.table(locator, Some(timeout)).await {
                    Ok(page) if page.rows != previous => break page,
                    Ok(_) => {}
                    // Between two pages the table can briefly be missing.
                    Err(BrowserError::NotFound { .. }) if Instant::now() < deadline => {}
                    Err(e) => return Err(e),
                }
                if Instant::now() >= deadline {
                    return Err(BrowserError::PaginationStuck {
                        next: next.value().to_string(),
                        timeout,
                    });
                }
                pause_until(deadline).await;
            };
            previous = page.rows.clone();
            if all.headers.is_empty() {
                all.headers = page.headers;
            }
            all.rows.extend(page.rows);
        }
        Ok(all)
    }

    /// Switch into an iframe (find it with `title:`, `name:` or `css:`). Later steps work
    /// inside it until `leave_frame`, or until `goto` opens another page.
    pub async fn enter_frame(
        &self,
        locator: &Locator,
        timeout: Option<Duration>,
    ) -> Result<(), BrowserError> {
        let timeout = self.timeout(timeout);
        let deadline = Instant::now() + timeout;
        let found = self
            .resolve(locator, Purpose::Present, deadline, timeout)
            .await?;
        if !matches!(found.tag.as_str(), "iframe" | "frame") {
            return Err(wrong_kind(
                locator,
                &found,
                "entered",
                "point the step at the <iframe>, e.g. `title: …` or `css: iframe`",
            ));
        }
        match found.element.enter_frame().await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e, "enter the frame").await),
        }
    }

    /// Go back out of the frame entered last.
    pub async fn leave_frame(&self) -> Result<(), BrowserError> {
        match self.client.enter_parent_frame().await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e, "leave the frame").await),
        }
    }

    /// Wait for a dialog (`alert`, `confirm`, `prompt`) and return its text, leaving it open.
    pub async fn dialog_text(&self, timeout: Option<Duration>) -> Result<String, BrowserError> {
        let timeout = self.timeout(timeout);
        let deadline = Instant::now() + timeout;
        loop {
            match self.client.get_alert_text().await {
                Ok(text) => return Ok(text),
                Err(CmdError::Standard(w)) if w.error == ErrorStatus::NoSuchAlert => {}
                Err(e) => return Err(self.fail(e, "read the dialog").await),
            }
            if Instant::now() >= deadline {
                return Err(BrowserError::NoDialog { timeout });
            }
            pause_until(deadline).await;
        }
    }

    /// Wait for a dialog; type `text` into it (a `prompt()`), if given; then press OK
    /// (`accept`) or Cancel. Returns the dialog's message.
    pub async fn answer_dialog(
        &self,
        accept: bool,
        text: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<String, BrowserError> {
        let message = self.dialog_text(timeout).await?;
        if let Some(text) = text {
            match self.client.send_alert_text(text).await {
                Ok(()) => {}
                // chromedriver: an alert or confirm has no box to type in.
                Err(CmdError::Standard(w))
                    if matches!(
                        w.error,
                        ErrorStatus::ElementNotInteractable | ErrorStatus::UnsupportedOperation
                    ) =>
                {
                    return Err(BrowserError::NotAPrompt { message });
                }
                Err(e) => return Err(self.fail(e, "type into the dialog").await),
            }
        }
        if accept {
            match self.client.accept_alert().await {
                Ok(()) => Ok(message),
                Err(e) => Err(self.fail(e, "press OK in the dialog").await),
            }
        } else {
            match self.client.dismiss_alert().await {
                Ok(()) => Ok(message),
                Err(e) => Err(self.fail(e, "press Cancel in the dialog").await),
            }
        }
    }

    /// Wait for a dialog and press OK. Returns the dialog's text.
    pub async fn accept_dialog(&self, timeout: Option<Duration>) -> Result<String, BrowserError> {
        let text = self.dialog_text(timeout).await?;
        match self.client.accept_alert().await {
            Ok(()) => Ok(text),
            Err(e) => Err(self.fail(e, "press OK in the dialog").await),
        }
    }

    /// Wait for a dialog and press Cancel. Returns the dialog's text.
    pub async fn dismiss_dialog(&self, timeout: Option<Duration>) -> Result<String, BrowserError> {
        let text = self.dialog_text(timeout).await?;
        match self.client.dismiss_alert().await {
            Ok(()) => Ok(text),
            Err(e) => Err(self.fail(e, "press Cancel in the dialog").await),
        }
    }

    // ---- internals ----

    fn timeout(&self, timeout: Option<Duration>) -> Duration {
        timeout.unwrap_or(self.config.element_timeout)
    }

    async fn run(&self, script: &str, args: Vec<Json>) -> Result<Json, CmdError> {
        self.client.execute(script, args).await
    }

    async fn element_script(
        &self,
        found: &Found,
        script: &str,
        mut args: Vec<Json>,
    ) -> Result<Json, CmdError> {
        let element = serde_json::to_value(&found.element).map_err(CmdError::Json)?;
        args.insert(0, element);
        self.run(script, args).await
    }

    fn element(&self, value: &Json) -> Option<Element> {
        let id = value.as_object()?.values().next()?.as_str()?;
        Some(Element::from_element_id(
            self.client.clone(),
            ElementRef::from(id.to_string()),
        ))
    }

    /// Poll the page until the locator finds a usable element or `deadline` passes.
    async fn resolve(
        &self,
        locator: &Locator,
        purpose: Purpose,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Found, BrowserError> {
        loop {
            let last = Instant::now() >= deadline;
            let args = vec![
                json!(locator.kind()),
                json!(locator.value()),
                json!(purpose.as_str()),
                json!(last),
            ];
            match self.run(FIND, args).await {
                Ok(r) => match r["status"].as_str() {
                    Some("ok") => {
                        if let Some(element) = self.element(&r["el"]) {
                            return Ok(Found {
                                element,
                                tag: r["tag"].as_str().unwrap_or("").to_string(),
                                kind: r["type"].as_str().unwrap_or("").to_string(),
                                editable: r["editable"].as_bool().unwrap_or(false),
                            });
                        }
                        return Err(self.unexpected("find the element", &r));
                    }
                    Some("bad") => return Err(bad_locator(locator, &r)),
                    Some("ambiguous") if last => return Err(ambiguous(locator, &r)),
                    _ if last => return Err(not_found(locator, &r, timeout)),
                    _ => {}
                },
                Err(e) if retryable(&e) && !last => {}
                Err(e) => return Err(self.fail(e, "look at the page").await),
            }
            pause_until(deadline).await;
        }
    }

    async fn act(
        &self,
        locator: &Locator,
        purpose: Purpose,
        timeout: Option<Duration>,
        act: &Act<'_>,
        action: &str,
    ) -> Result<Json, BrowserError> {
        self.act_found(locator, purpose, timeout, act, action)
            .await
            .map(|(_, v)| v)
    }

    /// Find the element and do `act`, finding it again while the page is still changing
    /// (the element was replaced, or something covered it) until the timeout.
    async fn act_found(
        &self,
        locator: &Locator,
        purpose: Purpose,
        timeout: Option<Duration>,
        act: &Act<'_>,
        action: &str,
    ) -> Result<(Found, Json), BrowserError> {
        let timeout = self.timeout(timeout);
        let deadline = Instant::now() + timeout;
        self.act_on(locator, purpose, deadline, timeout, act, action, None)
            .await
    }

    /// `act_found` starting from an element already found (`first`), if any.
    #[allow(clippy::too_many_arguments)]
    async fn act_on(
        &self,
        locator: &Locator,
        purpose: Purpose,
        deadline: Instant,
        timeout: Duration,
        act: &Act<'_>,
        action: &str,
        mut first: Option<Found>,
    ) -> Result<(Found, Json), BrowserError> {
        loop {
            let found = match first.take() {
                Some(found) => found,
                None => self.resolve(locator, purpose, deadline, timeout).await?,
            };
            let result = match act {
                Act::Click => found.element.click().await.map(|()| Json::Null),
                Act::Type(text) => match found.element.clear().await {
                    Ok(()) => found.element.send_keys(text).await.map(|()| Json::Null),
                    Err(e) => Err(e),
                },
                Act::SendKeys(text) => found.element.send_keys(text).await.map(|()| Json::Null),
                Act::Script(script, args) => {
                    self.element_script(&found, script, args.clone()).await
                }
                Act::Hover => self.move_mouse_to(&found).await.map(|()| Json::Null),
            };
            match result {
                Ok(v) => return Ok((found, v)),
                Err(e) if retryable(&e) && Instant::now() < deadline => {}
                Err(e) if is_status(&e, ErrorStatus::ElementClickIntercepted) => {
                    let front = match self.in_front_of(&found).await {
                        Some(front) => format!("{front} is in front of it; "),
                        None => String::new(),
                    };
                    return Err(BrowserError::NotFound {
                        what: locator.describe(),
                        state: ElementState::Covered,
                        timeout,
                        hint: format!(
                            "{front}close the popup or wait for the loading overlay first (e.g. `wait_for: {{ css: …, state: hidden }}`)"
                        ),
                    });
                }
                Err(e) => return Err(self.fail(e, action).await),
            }
            pause_until(deadline).await;
        }
    }

    /// Poll until the page shows `text`; on timeout, the page's own error messages.
    async fn wait_text(
        &self,
        text: &str,
        deadline: Instant,
    ) -> Result<Result<(), Vec<String>>, BrowserError> {
        loop {
            match self.run(HAS_TEXT, vec![json!(text)]).await {
                Ok(r) if r["found"].as_bool() == Some(true) => return Ok(Ok(())),
                Ok(r) if Instant::now() >= deadline => return Ok(Err(strings(&r["errors"]))),
                Ok(_) => {}
                Err(e) if retryable(&e) && Instant::now() < deadline => {}
                Err(e) => return Err(self.fail(e, "read the page").await),
            }
            pause_until(deadline).await;
        }
    }

    /// Messages the page shows as errors (`.error`, `role=alert`, …).
    pub async fn page_errors(&self) -> Result<Vec<String>, BrowserError> {
        match self.run(PAGE_ERRORS, vec![]).await {
            Ok(v) => Ok(strings(&v)),
            Err(e) => Err(self.fail(e, "read the page").await),
        }
    }

    /// Turn a WebDriver error into a `BrowserError` for people.
    async fn fail(&self, err: CmdError, action: &str) -> BrowserError {
        if is_status(&err, ErrorStatus::UnexpectedAlertOpen) {
            let text = match self.client.get_alert_text().await {
                Ok(text) => text,
                Err(_) => alert_text_from(&err),
            };
            return BrowserError::UnexpectedDialog { text };
        }
        if self.tab_closed(&err).await {
            return BrowserError::TabClosed;
        }
        if session_lost(&err) {
            return BrowserError::SessionLost {
                message: short_message(&err),
            };
        }
        BrowserError::WebDriver {
            action: action.to_string(),
            message: short_message(&err),
        }
    }

    fn unexpected(&self, action: &str, value: &Json) -> BrowserError {
        BrowserError::WebDriver {
            action: action.to_string(),
            message: format!("unexpected answer {value}"),
        }
    }
}

fn capabilities(
    config: &BrowserConfig,
    chromium: &Path,
    profile: &Path,
) -> fantoccini::wd::Capabilities {
    let (width, height) = config.window_size;
    let mut args = vec![
        "--no-sandbox".to_string(),
        "--disable-gpu".to_string(),
        "--disable-dev-shm-usage".to_string(),
        "--disable-background-networking".to_string(),
        "--disable-component-update".to_string(),
        "--disable-sync".to_string(),
        "--no-first-run".to_string(),
        format!("--window-size={width},{height}"),
        format!("--user-data-dir={}", profile.display()),
    ];
    if config.headless {
        args.insert(0, "--headless".to_string());
    }
    let downloads = match &config.download_dir {
        Some(dir) => dir.clone(),
        None => profile.with_file_name("downloads"),
    };
    // Chromium saves to its own default folder when given a relative one (a data directory
    // such as `./kobo-data`), and may drop a download whose folder does not exist yet.
    let downloads = std::path::absolute(&downloads).unwrap_or(downloads);
    let _ = std::fs::create_dir_all(&downloads);
    let caps = json!({
        "browserName": "chrome",
        "pageLoadStrategy": "normal",
        // Keep unexpected dialogs open so the step can say what they said.
        "unhandledPromptBehavior": "ignore",
        "timeouts": {
            "pageLoad": config.page_load_timeout.as_millis() as u64,
            "script": 30_000,
            "implicit": 0,
        },
        "goog:chromeOptions": {
            "binary": chromium.to_string_lossy(),
            "args": args,
            // Downloads stay in the run's folder (not the home folder of the account).
            "prefs": {
                "download.default_directory": downloads.to_string_lossy(),
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
                "safebrowsing.enabled": false,
            },
        },
    });
    match caps {
        Json::Object(map) => map,
        _ => unreachable!("capabilities are a JSON object"),
    }
}

fn is_status(err: &CmdError, status: ErrorStatus) -> bool {
    matches!(err, CmdError::Standard(w) if w.error == status)
}

/// Errors that mean "the page is still changing": find the element again and retry.
fn retryable(err: &CmdError) -> bool {
    match err {
        CmdError::Standard(w) => match w.error {
            ErrorStatus::StaleElementReference
            | ErrorStatus::ElementClickIntercepted
            | ErrorStatus::ElementNotInteractable
            | ErrorStatus::NoSuchElement => true,
            ErrorStatus::JavascriptError | ErrorStatus::UnknownError => {
                let m = w.message.to_lowercase();
                [
                    "execution context",
                    "detached",
                    "cannot find context",
                    "navigat",
                ]
                .iter()
                .any(|s| m.contains(s))
            }
            _ => false,
        },
        _ => false,
    }
}

/// The browser or chromedriver is gone: only a new browser helps.
fn session_lost(err: &CmdError) -> bool {
    match err {
        CmdError::Failed(_) | CmdError::FailedC(_) | CmdError::Lost(_) => true,
        CmdError::Standard(w) => {
            let m = w.message.to_lowercase();
            matches!(
                w.error,
                ErrorStatus::InvalidSessionId | ErrorStatus::NoSuchWindow
            ) || [
                "chrome not reachable",
                "disconnected",
                "session deleted",
                "tab crashed",
                "target crashed",
                "target window already closed",
            ]
            .iter()
            .any(|s| m.contains(s))
        }
        _ => false,
    }
}

fn short_message(err: &CmdError) -> String {
    let message = match err {
        CmdError::Standard(w) => w.message.to_string(),
        other => other.to_string(),
    };
    // chromedriver appends a long "(Session info: …)" and a stack trace.
    let first = message.lines().next().unwrap_or("").trim();
    first
        .split(" (Session info")
        .next()
        .unwrap_or(first)
        .to_string()
}

fn alert_text_from(err: &CmdError) -> String {
    if let CmdError::Standard(w) = err {
        if let Some(text) = w.data.as_ref().and_then(|d| d["text"].as_str()) {
            return text.to_string();
        }
        if let Some(rest) = w.message.split("Alert text : ").nth(1) {
            return rest.trim_end_matches('}').trim().to_string();
        }
    }
    String::new()
}

/// chromedriver and Chromium just started, with a WebDriver session open on them.
struct Started {
    driver: Driver,
    client: Client,
    chromium: PathBuf,
    chromedriver: PathBuf,
}

/// Start chromedriver and a fresh Chromium (new profile), and open a session: a run's own
/// browser ([`Browser::launch`]) or one started ahead of a run ([`BrowserAhead`]).
async fn start_session(config: &BrowserConfig) -> Result<Started, BrowserError> {
    let chromedriver = config.chromedriver_path()?;
    let chromium = config.chromium_path()?;
    let mut driver = Driver::spawn(&chromedriver)?;
    driver.wait_ready(config.launch_timeout).await?;
    let caps = capabilities(config, &chromium, &driver.profile_dir());
    let url = driver.url();
    let mut builder = ClientBuilder::new(loopback());
    let connect = builder.capabilities(caps).connect(&url);
    let client = session_within(config.launch_timeout, connect, || {
        format!("no answer within {}", error::secs(config.launch_timeout))
    })
    .await?;
    Ok(Started {
        driver,
        client,
        chromium,
        chromedriver,
    })
}

/// A session opened (or attached to) within `limit`; `silent` says what to report when
/// chromedriver does not answer in time.
async fn session_within(
    limit: Duration,
    open: impl std::future::Future<Output = Result<Client, NewSessionError>>,
    silent: impl FnOnce() -> String,
) -> Result<Client, BrowserError> {
    match tokio::time::timeout(limit, open).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(BrowserError::SessionNotCreated {
            message: session_error(&e),
        }),
        Err(_) => Err(BrowserError::SessionNotCreated { message: silent() }),
    }
}

fn session_error(err: &NewSessionError) -> String {
    let text = err.to_string();
    text.lines().next().unwrap_or("").to_string()
}

fn strings(value: &Json) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn pause_until(deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    tokio::time::sleep(POLL.min(left).max(Duration::from_millis(5))).await;
}

fn bad_locator(locator: &Locator, result: &Json) -> BrowserError {
    BrowserError::BadLocator {
        locator: locator.to_string(),
        message: result["message"]
            .as_str()
            .unwrap_or("not a valid selector")
            .to_string(),
    }
}

fn ambiguous(locator: &Locator, result: &Json) -> BrowserError {
    BrowserError::Ambiguous {
        what: locator.describe(),
        candidates: strings(&result["candidates"]),
    }
}

/// The error for a field that did not keep `typed`, from `kobo.kept`'s answer (`null`: kept).
fn not_kept(locator: &Locator, typed: &str, answer: &Json) -> Option<BrowserError> {
    if !answer.is_object() {
        return None;
    }
    let secret = answer["secret"].as_bool().unwrap_or(false);
    let shown = |s: &str| (!secret).then(|| s.to_string());
    Some(BrowserError::FillNotKept {
        what: locator.describe(),
        typed: shown(typed),
        now: shown(answer["now"].as_str().unwrap_or("")),
        reason: answer["reason"]
            .as_str()
            .unwrap_or("changed it")
            .to_string(),
    })
}

fn kind_name(tag: &str, kind: &str) -> String {
    match (tag, kind) {
        ("input", "") => "text box".to_string(),
        ("input", kind) => format!("{kind} input"),
        ("select", _) => "drop-down list".to_string(),
        (tag, _) => format!("<{tag}> element"),
    }
}

fn wrong_kind(locator: &Locator, found: &Found, action: &'static str, hint: &str) -> BrowserError {
    BrowserError::WrongKind {
        what: locator.describe(),
        found: kind_name(&found.tag, &found.kind),
        action,
        hint: hint.to_string(),
    }
}

/// Build the "not found" error from the page script's last answer, with a hint that names
/// what the page does offer.
fn not_found(locator: &Locator, result: &Json, timeout: Duration) -> BrowserError {
    let state = match result["status"].as_str() {
        Some("hidden") => ElementState::Hidden,
        Some("disabled") => ElementState::Disabled,
        Some("readonly") => ElementState::ReadOnly,
        _ => ElementState::Missing,
    };
    let names = strings(&result["names"]);
    let mut hint = match (state, locator) {
        (ElementState::Hidden, _) => {
            "it exists but is not shown; a tab, menu or popup may need to be opened first"
                .to_string()
        }
        (ElementState::Disabled, _) => {
            "the page enables it only after something else is done (a required field, a checkbox)"
                .to_string()
        }
        (ElementState::ReadOnly, _) => "the page does not allow typing in this field".to_string(),
        (_, Locator::Css(_) | Locator::XPath(_)) => {
            "check the selector in the browser's developer tools (F12, then Ctrl+F in Elements)"
                .to_string()
        }
        (_, Locator::Text(_)) => {
            "check the spelling on the page, or use css: … for a button without text".to_string()
        }
        _ => "check the spelling on the page, or use css: … (e.g. css: #id) instead".to_string(),
    };
    if state == ElementState::Missing {
        if let Some(close) = closest(locator.value(), &names) {
            hint.push_str(&format!("; did you mean \"{close}\"?"));
        }
        if !names.is_empty() && matches!(locator, Locator::Label(_) | Locator::Text(_)) {
            let what = match locator {
                Locator::Label(_) => "labels",
                _ => "buttons and links",
            };
            let shown: Vec<String> = names.iter().take(12).cloned().collect();
            hint.push_str(&format!("\n  {what} on this page: {}", quoted_list(&shown)));
        }
        if result["frames"].as_u64().unwrap_or(0) > 0 {
            hint.push_str(
                "\n  this page has frames; if it is inside one, add an `enter_frame` step first",
            );
        }
    }
    BrowserError::NotFound {
        what: locator.describe(),
        state,
        timeout,
        hint,
    }
}

fn closest(want: &str, names: &[String]) -> Option<String> {
    names
        .iter()
        .map(|n| (strsim::normalized_levenshtein(want, n), n))
        .filter(|(score, n)| *score >= 0.5 && n.as_str() != want)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// The engine runs steps in spawned tasks, so step futures must be `Send`.
    #[allow(dead_code)]
    async fn step_futures_are_send(browser: &Browser, locator: &Locator) {
        assert_send(&browser.click(locator, None));
        assert_send(&browser.fill(locator, "x", FillMode::Type, None));
        assert_send(&browser.fill_many(&[], FillMode::Set, None));
        assert_send(&browser.table_paginated(locator, locator, 3, None));
        assert_send(&browser.set_checked(locator, true, None));
        assert_send(&browser.goto("http://x"));
        assert_send(&Browser::launch(&BrowserConfig::default()));
    }

    #[test]
    fn suggests_a_close_label() {
        let names = vec!["ユーザーID".to_string(), "パスワード".to_string()];
        assert_eq!(closest("ユーザID", &names).as_deref(), Some("ユーザーID"));
        assert_eq!(closest("金額", &names), None);
    }
}
