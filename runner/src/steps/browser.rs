//! Browser steps: drive the client's portal (`open`, `click`, `hover`, `fill`, `select`,
//! `upload`, `wait_for`, `assert`, `extract`, `extract_table`, `dialog`, `download`, frames,
//! tabs, screenshots).
//!
//! A run has one [`Browser`], started by its first browser step and shared by all rows.
//! When a browser step fails, the page as it was (a screenshot and its HTML) is saved in the
//! run's `screenshots/` folder, named after the step and row, so a reviewer can see what the
//! portal showed.

use super::table::SheetName;
use super::{Step, Written, step_kinds, template_text};
use crate::browser::{Browser, BrowserConfig, BrowserError, FillMode, Locator, State, WaitTarget};
use crate::engine::{Execution, Flow, Frame, StepFailure, step_name};
use crate::expr;
use crate::reader::{Reader, describe_value};
use crate::sheet::HeaderRow;
use crate::source_map::child_key;
use crate::table::Cell;
use crate::validate::{Scope, Walker};
use serde::Deserialize;
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::time::Duration;

step_kinds! {
    #[derive(Debug, Clone)]
    pub enum BrowserStep {
        "open" => Open(String),
        "click" => Click(Locator),
        "hover" => Hover(Locator),
        "scroll_into_view" => ScrollIntoView(Locator),
        "fill" => Fill {
            target: Locator,
            value: String,
            mode: FillMode,
            /// Read the field back and fail when the page cleared or changed it.
            verify: bool,
        },
        /// Several fields at once, by label: with `mode: set`, in one script call.
        "fill_form" => FillForm {
            fields: BTreeMap<String, String>,
            mode: FillMode,
            verify: bool,
        },
        "select" => Select {
            target: Locator,
            option: String,
        },
        "check" => Check(Locator),
        "uncheck" => Uncheck(Locator),
        "upload" => Upload {
            target: Locator,
            file: String,
        },
        "press" => Press(String),
        "wait_for" => WaitFor(WaitArgs),
        /// `assert: { text: 送信, state: enabled }`: the element is in that state (waiting up
        /// to the element timeout for it), else the step fails.
        "assert" => Assert(ElementCondition),
        "extract" => Extract(ExtractArgs),
        "extract_table" => ExtractTable(ExtractTableArgs),
        "assert_text" => AssertText {
            text: String,
            timeout_secs: Option<u64>,
            /// `absent: true`: the page must NOT show the text (waiting for it to go away).
            absent: bool,
        },
        "screenshot" => Screenshot(String),
        "enter_frame" => EnterFrame(Locator),
        "leave_frame" => LeaveFrame,
        "dialog" => Dialog(DialogArgs),
        /// Click something that makes the portal send a file; keep it, and read it as a table.
        "download" => Download(DownloadArgs),
        "switch_to" => SwitchTo(TabTarget),
        "close_tab" => CloseTab,
    }
}

/// `wait_for: { css: ".done", timeout_secs: 20 }`, or `{ url_contains: "/menu" }`, or `{ text: "完了" }`,
/// or `{ css: ".spinner", state: hidden }`.
#[derive(Debug, Clone)]
pub struct WaitArgs {
    pub target: Option<Locator>,
    pub url_contains: Option<String>,
    pub timeout_secs: Option<u64>,
    /// With a state, `text:` names an element (as in `click`) rather than words on the page.
    pub state: Option<State>,
}

/// An element in a state: `{ css: ".error", state: visible }`, for `assert` and for `if`.
/// `timeout_secs`: how long to wait for the state (`assert`: the element timeout when not
/// given; `if`: one look now when not given).
#[derive(Debug, Clone)]
pub struct ElementCondition {
    pub target: Locator,
    pub state: State,
    pub timeout_secs: Option<u64>,
}

/// `extract: { css: ".receipt-no", into: 受付番号 }` — into a row's column inside `for_each`,
/// else into a variable. `attribute: href` reads an attribute; `value: true` an input's value.
#[derive(Debug, Clone)]
pub struct ExtractArgs {
    pub target: Locator,
    pub into: String,
    pub attribute: Option<String>,
    pub value: bool,
}

/// `extract_table: { css: "table.orders", next: { text: "次へ" }, max_pages: 20, into: orders }`
#[derive(Debug, Clone)]
pub struct ExtractTableArgs {
    pub target: Locator,
    pub into: String,
    pub next: Option<Locator>,
    pub max_pages: u32,
}

/// `fill_form: { fields: { 氏名: "{{ row['氏名'] }}", 会社名: ... }, mode: set }` — keys are labels.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FillFormArgs {
    fields: BTreeMap<String, Value>,
    #[serde(default)]
    mode: Option<FillMode>,
    #[serde(default)]
    verify: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialogAction {
    Accept,
    Dismiss,
}

/// `dialog: accept`, `dialog: dismiss`, or
/// `dialog: { accept: true, text: 山田, into: message }`: press OK or Cancel, after typing
/// `text` into a `prompt()`; keep the dialog's message `into` a variable (a column in `for_each`).
#[derive(Debug, Clone)]
pub struct DialogArgs {
    pub action: DialogAction,
    pub text: Option<String>,
    pub into: Option<String>,
}

/// The mapping form of `dialog`, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DialogMap {
    accept: bool,
    #[serde(default)]
    text: Option<Value>,
    #[serde(default)]
    into: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // read by `timeout_in_braces`, like every browser step's
    timeout_secs: Option<Value>,
}

/// `download: { text: CSVをダウンロード, into: orders, sheet: 1, header_row: 1 }`: click, wait
/// for the file in the run's `downloads/`, read it like an input (`into` is optional).
#[derive(Debug, Clone)]
pub struct DownloadArgs {
    pub target: Locator,
    pub into: Option<String>,
    pub sheet: Option<SheetName>,
    pub header_row: Option<HeaderRow>,
}

/// `switch_to: new_tab` or `switch_to: first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TabTarget {
    /// The newest tab or window the workflow has not worked in yet (waits for it).
    NewTab,
    /// The tab the browser started with.
    First,
}

/// Arguments of the browser steps, as written: locator keys side by side with the step's own keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BrowserArgs {
    css: Option<String>,
    xpath: Option<String>,
    label: Option<String>,
    placeholder: Option<String>,
    name: Option<String>,
    text: Option<String>,
    /// An element's `title` (the tooltip), e.g. an iframe's `title="入力フォーム"`.
    title: Option<String>,
    value: Option<Value>,
    mode: Option<FillMode>,
    option: Option<String>,
    file: Option<String>,
    into: Option<String>,
    attribute: Option<String>,
    url_contains: Option<String>,
    timeout_secs: Option<u64>,
    next: Option<BTreeMap<String, String>>,
    max_pages: Option<u32>,
    sheet: Option<SheetName>,
    header_row: Option<HeaderRow>,
    /// `visible`, `hidden`, … (`wait_for`, `assert`, `if`); read by [`State::from_str`].
    state: Option<String>,
    verify: Option<bool>,
    absent: Option<bool>,
}

const LOCATOR_KEYS: &[&str] = &[
    "css",
    "xpath",
    "label",
    "placeholder",
    "name",
    "text",
    "title",
];

impl BrowserStep {
    /// Steps that may change the outside world: a row interrupted after one of them is in
    /// doubt. (`open` only loads a page; `fill`, `select` and `check` change a form not yet sent.)
    pub fn changes_outside(&self) -> bool {
        matches!(
            self,
            BrowserStep::Click(_)
                | BrowserStep::Press(_)
                | BrowserStep::Dialog(_)
                | BrowserStep::Upload { .. }
        )
    }

    /// How long this step waits for what it checks, when it has a wait of its own.
    pub fn own_wait_secs(&self) -> Option<u64> {
        match self {
            BrowserStep::WaitFor(WaitArgs { timeout_secs, .. })
            | BrowserStep::Assert(ElementCondition { timeout_secs, .. })
            | BrowserStep::AssertText { timeout_secs, .. } => *timeout_secs,
            _ => None,
        }
    }

    /// `extract … into` and `dialog … into` outside `for_each` make a variable.
    pub fn variables_made(&self) -> Vec<String> {
        match self {
            BrowserStep::Extract(a) => vec![a.into.clone()],
            BrowserStep::Dialog(DialogArgs { into: Some(v), .. }) => vec![v.clone()],
            _ => Vec::new(),
        }
    }

    // ---- reading ----

    pub fn parse(r: &mut Reader, s: &Written) -> Option<BrowserStep> {
        Some(match s.kind {
            "open" => BrowserStep::Open(s.args(r)?),
            "press" => BrowserStep::Press(s.args(r)?),
            "screenshot" => BrowserStep::Screenshot(
                s.args::<Option<String>>(r)?
                    .unwrap_or_else(|| "screenshot".into()),
            ),
            "leave_frame" => BrowserStep::LeaveFrame,
            "dialog" => BrowserStep::Dialog(parse_dialog(r, &s.value, &s.value_path)?),
            "switch_to" => BrowserStep::SwitchTo(parse_tab_target(r, &s.value, &s.value_path)?),
            "close_tab" => BrowserStep::CloseTab,
            "fill_form" => {
                let a: FillFormArgs = s.args(r)?;
                let fields = a
                    .fields
                    .iter()
                    .map(|(k, v)| (k.clone(), template_text(v)))
                    .collect();
                BrowserStep::FillForm {
                    fields,
                    mode: a.mode.unwrap_or(FillMode::Set),
                    verify: a.verify.unwrap_or(true),
                }
            }
            located => parse_located(r, located, &s.value, &s.value_path)?,
        })
    }

    // ---- checking ----

    pub(crate) fn check(&self, w: &mut Walker, step: &Step, scope: &Scope) {
        let own = child_key(&step.path, self.keyword());
        let kp = |k: &str| child_key(&own, k);
        match self {
            BrowserStep::Open(t) => {
                w.text(t, &own, scope, false);
                if let Err(refused) = crate::web_address::check_written(t) {
                    w.problem(
                        &own,
                        match &refused {
                            crate::web_address::NotAWebPage::Scheme(scheme) => format!(
                                "`open` can only go to web pages (http:// or https://), not a `{scheme}:` address"
                            ),
                            other => format!("`open` cannot go to this address: it is {other}"),
                        },
                        Some("write the portal's address, e.g. `https://portal.example/login`; files for the portal go in with `upload`".into()),
                    );
                }
            }
            BrowserStep::Press(t) | BrowserStep::Screenshot(t) => w.text(t, &own, scope, false),
            BrowserStep::Fill { value, .. } => w.text(value, &kp("value"), scope, false),
            BrowserStep::FillForm { fields, .. } => {
                if fields.is_empty() {
                    w.problem(
                        &kp("fields"),
                        "`fill_form` has no fields",
                        Some("list `label: value` pairs under `fields:`".into()),
                    );
                }
                for (label, value) in fields {
                    w.text(value, &child_key(&kp("fields"), label), scope, false);
                }
            }
            BrowserStep::Select { option, .. } => w.text(option, &kp("option"), scope, false),
            BrowserStep::Upload { file, .. } => {
                w.text(file, &kp("file"), scope, false);
                if file.starts_with('/') || file.starts_with('\\') || file.contains(':') {
                    w.problem(
                        &kp("file"),
                        "`file` is a file of this run, not a path on the machine",
                        Some("upload a file of this run, such as `outputs/report.xlsx` or `input/<name>`".into()),
                    );
                } else if file.contains("..") {
                    w.problem(
                        &kp("file"),
                        "`file` cannot go up with `..`",
                        Some("upload a file of this run, such as `outputs/report.xlsx`".into()),
                    );
                }
            }
            BrowserStep::WaitFor(WaitArgs { timeout_secs, .. })
            | BrowserStep::Assert(ElementCondition { timeout_secs, .. })
            | BrowserStep::AssertText { timeout_secs, .. } => {
                check_wait(w, &kp("timeout_secs"), *timeout_secs);
                if let BrowserStep::AssertText { text, .. } = self {
                    w.text(text, &kp("text"), scope, false);
                }
            }
            BrowserStep::Extract(a) => match &scope.row_of {
                Some(table) => w.add_column(table, &a.into),
                None => {
                    w.vars.insert(a.into.clone());
                }
            },
            BrowserStep::ExtractTable(a) => {
                if !(1..=1000).contains(&a.max_pages) {
                    w.problem(
                        &kp("max_pages"),
                        format!("`max_pages: {}` is out of range", a.max_pages),
                        Some("use between 1 and 1000".into()),
                    );
                }
                w.tables.insert(a.into.clone(), None);
            }
            BrowserStep::Dialog(a) => {
                if let Some(text) = &a.text {
                    w.text(text, &kp("text"), scope, false);
                }
                if let Some(into) = &a.into {
                    match &scope.row_of {
                        Some(table) => w.add_column(table, into),
                        None => {
                            w.vars.insert(into.clone());
                        }
                    }
                }
            }
            BrowserStep::Download(a) => {
                if let Some(into) = &a.into {
                    w.tables.insert(into.clone(), None);
                }
            }
            BrowserStep::Click(_)
            | BrowserStep::Hover(_)
            | BrowserStep::ScrollIntoView(_)
            | BrowserStep::Check(_)
            | BrowserStep::Uncheck(_)
            | BrowserStep::EnterFrame(_)
            | BrowserStep::LeaveFrame
            | BrowserStep::SwitchTo(_)
            | BrowserStep::CloseTab => {}
        }
    }

    // ---- running ----

    pub(crate) async fn run(
        &self,
        x: &mut Execution<'_>,
        step: &Step,
        frame: &Frame,
    ) -> Result<Flow, StepFailure> {
        x.browser_step(self, step, frame).await
    }
}

/// Browser steps share one set of keys; each kind says which it needs and allows.
fn parse_located(r: &mut Reader, kind: &str, value: &Value, path: &str) -> Option<BrowserStep> {
    // Short forms: `click: ログイン` (visible text), `assert_text: 完了`, `check: { label: 同意 }`.
    let value = match (kind, value) {
        ("click" | "hover" | "scroll_into_view" | "assert_text", Value::String(s)) => {
            let mut m = serde_yaml::Mapping::new();
            m.insert("text".into(), Value::String(s.clone()));
            Value::Mapping(m)
        }
        _ => value.clone(),
    };
    let what = format!("`{kind}`");
    // Every kind takes `timeout_secs` in its braces too (see `timeout_in_braces`).
    let extra: &[&str] = match kind {
        "click" | "hover" | "scroll_into_view" | "check" | "uncheck" | "enter_frame" => {
            &["timeout_secs"]
        }
        "fill" => &["value", "mode", "verify", "timeout_secs"],
        "select" => &["option", "timeout_secs"],
        "upload" => &["file", "timeout_secs"],
        "wait_for" => &["url_contains", "timeout_secs", "state"],
        "assert" | "if" => &["state", "timeout_secs"],
        "extract" => &["into", "attribute", "value", "timeout_secs"],
        "extract_table" => &["into", "next", "max_pages", "timeout_secs"],
        "assert_text" => &["timeout_secs", "absent"],
        "download" => &["into", "sheet", "header_row", "timeout_secs"],
        _ => &["timeout_secs"],
    };
    let Value::Mapping(map) = &value else {
        r.error(
            path,
            format!("{what} needs a group of keys, such as `{{ label: 氏名 }}`"),
            None,
        );
        return None;
    };
    let locators: &[&str] = if kind == "assert_text" {
        &["text"]
    } else {
        LOCATOR_KEYS
    };
    let mut allowed: Vec<&str> = locators.to_vec();
    allowed.extend_from_slice(extra);
    let before = r.errors.len();
    r.check_keys(map, path, &allowed, &what);
    if r.errors.len() > before {
        return None;
    }
    let args: BrowserArgs = r.parse(&value, path, &what)?;

    let target = locator(&args);
    let needs_target = !matches!(kind, "wait_for" | "assert_text");
    if needs_target && target.is_none() {
        r.error(
            path,
            format!("{what} needs to know which element: give one of `label`, `text`, `placeholder`, `name`, `title`, `css` or `xpath`"),
            Some("for a form field, `label: <the text next to the field>` keeps working when the page changes".into()),
        );
        return None;
    }
    let given: Vec<&str> = LOCATOR_KEYS
        .iter()
        .copied()
        .filter(|k| map.contains_key(*k))
        .collect();
    if given.len() > 1 && kind != "assert_text" {
        r.error(
            path,
            format!(
                "{what} has {} ways to find the element; keep only one",
                given.join(" and ")
            ),
            None,
        );
        return None;
    }
    let require = |r: &mut Reader, key: &str, v: Option<String>| -> Option<String> {
        if v.is_none() {
            r.error(
                path,
                format!("{what} needs `{key}`"),
                Some(format!("add `{key}: ...` to {what}")),
            );
        }
        v
    };
    let state = match &args.state {
        None => None,
        Some(name) => match name.parse::<State>() {
            Ok(state) => Some(state),
            Err(message) => {
                r.error(
                    &child_key(path, "state"),
                    message,
                    Some("`visible` means a person can see it; `present` only that it is on the page (seen or not)".into()),
                );
                return None;
            }
        },
    };
    if matches!(kind, "assert" | "if") && state.is_none() {
        r.error(
            path,
            format!(
                "{what} needs `state`: which state the element must be in ({})",
                State::names()
            ),
            Some(format!(
                "for example `{kind}: {{ css: \".error\", state: visible }}`"
            )),
        );
        return None;
    }
    let target_or_css = || target.clone().unwrap_or(Locator::Css("html".into()));
    Some(match kind {
        "click" => BrowserStep::Click(target_or_css()),
        "hover" => BrowserStep::Hover(target_or_css()),
        "scroll_into_view" => BrowserStep::ScrollIntoView(target_or_css()),
        "assert" | "if" => BrowserStep::Assert(ElementCondition {
            target: target_or_css(),
            state: state?,
            timeout_secs: args.timeout_secs,
        }),
        "check" => BrowserStep::Check(target_or_css()),
        "uncheck" => BrowserStep::Uncheck(target_or_css()),
        "enter_frame" => BrowserStep::EnterFrame(target_or_css()),
        "download" => BrowserStep::Download(DownloadArgs {
            target: target_or_css(),
            into: args.into,
            sheet: args.sheet,
            header_row: args.header_row,
        }),
        "fill" => {
            let value = match &args.value {
                Some(v) => template_text(v),
                None => require(r, "value", None)?,
            };
            BrowserStep::Fill {
                target: target_or_css(),
                value,
                mode: args.mode.unwrap_or_default(),
                verify: args.verify.unwrap_or(true),
            }
        }
        "select" => BrowserStep::Select {
            target: target_or_css(),
            option: require(r, "option", args.option)?,
        },
        "upload" => BrowserStep::Upload {
            target: target_or_css(),
            file: require(r, "file", args.file)?,
        },
        "wait_for" => {
            if target.is_none() && args.url_contains.is_none() {
                r.error(path, "`wait_for` needs something to wait for: an element (`label`, `css` …), `text`, or `url_contains`", None);
                return None;
            }
            if state.is_some() && target.is_none() {
                r.error(
                    &child_key(path, "state"),
                    "`state` is the state of an element, but this `wait_for` names no element",
                    Some("add the element, e.g. `wait_for: { css: \".spinner\", state: hidden }`; `url_contains` waits for the address alone".into()),
                );
                return None;
            }
            BrowserStep::WaitFor(WaitArgs {
                target,
                url_contains: args.url_contains,
                timeout_secs: args.timeout_secs,
                state,
            })
        }
        "extract" => {
            let value = match &args.value {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    r.error(
                        &child_key(path, "value"),
                        format!(
                            "`value` must be true or false, but it is {}",
                            describe_value(other)
                        ),
                        None,
                    );
                    return None;
                }
            };
            BrowserStep::Extract(ExtractArgs {
                target: target_or_css(),
                into: require(r, "into", args.into)?,
                attribute: args.attribute,
                value,
            })
        }
        "extract_table" => {
            let next = match &args.next {
                None => None,
                Some(m) => {
                    let next_args = BrowserArgs {
                        css: m.get("css").cloned(),
                        xpath: m.get("xpath").cloned(),
                        label: m.get("label").cloned(),
                        placeholder: m.get("placeholder").cloned(),
                        name: m.get("name").cloned(),
                        text: m.get("text").cloned(),
                        ..Default::default()
                    };
                    let t = locator(&next_args);
                    if t.is_none() || m.len() != 1 {
                        r.error(&child_key(path, "next"), "`next` must say how to find the next-page button, e.g. `next: { text: 次へ }`", None);
                        return None;
                    }
                    t
                }
            };
            BrowserStep::ExtractTable(ExtractTableArgs {
                target: target_or_css(),
                into: require(r, "into", args.into)?,
                next,
                max_pages: args.max_pages.unwrap_or(50),
            })
        }
        "assert_text" => BrowserStep::AssertText {
            text: require(r, "text", args.text)?,
            timeout_secs: args.timeout_secs,
            absent: args.absent.unwrap_or(false),
        },
        other => unreachable!("browser step kind {other} is listed in KINDS but not parsed"),
    })
}

/// `dialog: accept`, `dialog: dismiss` or `dialog: { accept: true, text: …, into: … }`.
fn parse_dialog(r: &mut Reader, value: &Value, path: &str) -> Option<DialogArgs> {
    const FORMS: &str = "write `dialog: accept` (press OK), `dialog: dismiss` (press Cancel), or `dialog: { accept: true, text: 山田, into: message }` to type an answer into the dialog and keep its message";
    match value {
        Value::String(word) => {
            let action = match word.as_str() {
                "accept" => DialogAction::Accept,
                "dismiss" => DialogAction::Dismiss,
                other => {
                    let hint =
                        match crate::definition_error::did_you_mean(other, ["accept", "dismiss"]) {
                            Some(best) => format!("did you mean `{best}`? {FORMS}"),
                            None => FORMS.to_string(),
                        };
                    r.error(path, format!("`dialog` cannot be `{other}`"), Some(hint));
                    return None;
                }
            };
            Some(DialogArgs {
                action,
                text: None,
                into: None,
            })
        }
        Value::Mapping(map) => {
            const KEYS: [&str; 4] = ["accept", "text", "into", "timeout_secs"];
            let mut unknown = false;
            for key in map.keys() {
                let name = crate::reader::scalar_text(key);
                if KEYS.contains(&name.as_str()) {
                    continue;
                }
                unknown = true;
                let close = crate::definition_error::did_you_mean(&name, KEYS)
                    .map(|best| format!("did you mean `{best}`? "))
                    .unwrap_or_default();
                r.key_error(
                    &child_key(path, &name),
                    format!("unknown key `{name}` in `dialog`"),
                    Some(format!(
                        "{close}allowed keys here: {}; or {FORMS}",
                        KEYS.join(", ")
                    )),
                );
            }
            if unknown {
                return None;
            }
            if !map.contains_key("accept") {
                r.error(
                    path,
                    "`dialog` needs `accept: true` (press OK) or `accept: false` (press Cancel)",
                    Some(FORMS.into()),
                );
                return None;
            }
            let m: DialogMap = r.parse(value, path, "`dialog`")?;
            if m.text.is_some() && !m.accept {
                r.error(
                    &child_key(path, "text"),
                    "`text` is typed into the dialog only when it is accepted, but this step has `accept: false`",
                    Some("use `accept: true` to type an answer and press OK, or remove `text` to press Cancel".into()),
                );
                return None;
            }
            Some(DialogArgs {
                action: if m.accept {
                    DialogAction::Accept
                } else {
                    DialogAction::Dismiss
                },
                text: m.text.as_ref().map(template_text),
                into: m.into,
            })
        }
        other => {
            r.error(
                path,
                format!("`dialog` cannot be {}", describe_value(other)),
                Some(FORMS.into()),
            );
            None
        }
    }
}

/// `switch_to: new_tab` or `switch_to: first`.
fn parse_tab_target(r: &mut Reader, value: &Value, path: &str) -> Option<TabTarget> {
    const FORMS: &str = "write `switch_to: new_tab` (the tab or window the last click opened) or `switch_to: first` (back to the first tab)";
    match value {
        Value::String(w) if w == "new_tab" => Some(TabTarget::NewTab),
        Value::String(w) if w == "first" => Some(TabTarget::First),
        other => {
            let what = match other {
                Value::String(w) => format!("`{w}`"),
                other => describe_value(other),
            };
            r.error(
                path,
                format!("`switch_to` cannot be {what}"),
                Some(FORMS.into()),
            );
            None
        }
    }
}

/// `timeout_secs` inside a browser step's braces (`click: { text: 登録, timeout_secs: 5 }`)
/// means the same as beside the kind; both at once is a mistake.
pub(crate) fn timeout_in_braces(
    r: &mut Reader,
    value: &Value,
    value_path: &str,
    kind: &str,
    outside: Option<u64>,
) -> Option<u64> {
    let Value::Mapping(map) = value else {
        return outside;
    };
    let Some(inner) = map.get("timeout_secs") else {
        return outside;
    };
    let path = child_key(value_path, "timeout_secs");
    let inside: Option<u64> = r.parse(inner, &path, "`timeout_secs`");
    if outside.is_some() {
        r.key_error(
            &path,
            format!("`timeout_secs` is written twice: beside `{kind}` and inside its braces"),
            Some("keep one of them; both mean how long the step may take".into()),
        );
        return outside;
    }
    inside
}

/// `if: { css: ".error", state: visible }`: the element condition of an `if` step, read with
/// the same keys (and messages) as `assert`.
pub(crate) fn parse_condition(
    r: &mut Reader,
    value: &Value,
    path: &str,
) -> Option<ElementCondition> {
    match parse_located(r, "if", value, path)? {
        BrowserStep::Assert(condition) => Some(condition),
        other => unreachable!("`if` is read as an element condition, not {other:?}"),
    }
}

/// How long a step may wait for something: 1 to 600 seconds.
pub(crate) fn check_wait(w: &mut Walker, at: &str, timeout_secs: Option<u64>) {
    if let Some(t) = timeout_secs
        && !(1..=600).contains(&t)
    {
        w.problem(
            at,
            format!("`timeout_secs: {t}` is out of range"),
            Some("use between 1 and 600 seconds".into()),
        );
    }
}

fn locator(a: &BrowserArgs) -> Option<Locator> {
    a.css
        .clone()
        .map(Locator::Css)
        .or_else(|| a.xpath.clone().map(Locator::XPath))
        .or_else(|| a.label.clone().map(Locator::Label))
        .or_else(|| a.placeholder.clone().map(Locator::Placeholder))
        .or_else(|| a.name.clone().map(Locator::Name))
        .or_else(|| a.text.clone().map(Locator::Text))
        .or_else(|| a.title.clone().map(Locator::Title))
}

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
            let mut browser = None;
            match self.browser_offer.take() {
                Some(offer) if offer.browser.fits(&config) => {
                    match Browser::take_ahead(&config, offer).await {
                        Ok(b) => browser = Some(b),
                        Err(e) => self.log.warn(
                            Some(&step_name(step)),
                            None,
                            &format!("the browser started ahead of the run could not be used ({e}); starting one"),
                        ),
                    }
                }
                Some(_) => tracing::info!(
                    run = %self.run_id(),
                    "the browser started ahead does not fit this workflow's `browser:` settings; starting one"
                ),
                None => {}
            }
            let browser = match browser {
                Some(b) => {
                    let ms = started.elapsed().as_millis();
                    tracing::info!(run = %self.run_id(), ms = ms as u64, "the run uses a browser started ahead");
                    self.log.info(
                        Some(&step_name(step)),
                        None,
                        &format!(
                            "browser started ahead of the run, ready in {ms} ms (fresh profile)"
                        ),
                    );
                    b
                }
                None => {
                    let b = Browser::launch(&config)
                        .await
                        .map_err(|e| self.browser_failure(step, frame, e))?;
                    let ms = started.elapsed().as_millis();
                    tracing::info!(run = %self.run_id(), ms = ms as u64, "the run launched its own browser");
                    self.log.info(
                        Some(&step_name(step)),
                        None,
                        &format!("browser started in {ms} ms"),
                    );
                    b
                }
            };
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

    async fn browser_step(
        &mut self,
        kind: &BrowserStep,
        step: &Step,
        frame: &Frame,
    ) -> Result<Flow, StepFailure> {
        let done = match self.browser_action(kind, step, frame).await {
            Ok(()) => self.still_on_the_web(step, frame).await,
            Err(failure) => Err(failure),
        };
        match done {
            Ok(()) => Ok(Flow::Next),
            Err(failure) => Err(self.after_browser_failure(step, frame, failure).await),
        }
    }

    /// `if: { css: …, state: … }`: is the element in that state? One look, or a wait up to
    /// the condition's `timeout_secs`; `false` is an answer. A browser that fails fails the
    /// step as a browser step does (with the page saved).
    pub(crate) async fn element_condition(
        &mut self,
        c: &ElementCondition,
        step: &Step,
        frame: &Frame,
    ) -> Result<bool, StepFailure> {
        let answer = match self.render_locator(&c.target, step, frame) {
            Ok(locator) => match self.browser(step, frame).await {
                Ok(b) => b
                    .has_state(&locator, c.state, c.timeout_secs.map(Duration::from_secs))
                    .await
                    .map_err(|e| self.browser_failure(step, frame, e)),
                Err(f) => Err(f),
            },
            Err(f) => return Err(f),
        };
        match answer {
            Ok(yes) => Ok(yes),
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
    pub(crate) async fn browser_step_timed_out(
        &mut self,
        kind: &BrowserStep,
        step: &Step,
        frame: &Frame,
        secs: u64,
    ) -> StepFailure {
        let on = match self.render_locator_and_values(kind, step, frame) {
            Ok(Rendered {
                target: Some(l), ..
            }) => format!(" (working on the {})", l.describe()),
            Ok(Rendered { text: Some(t), .. }) if matches!(kind, BrowserStep::Open(_)) => {
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

    async fn browser_action(
        &mut self,
        kind: &BrowserStep,
        step: &Step,
        frame: &Frame,
    ) -> Result<(), StepFailure> {
        let timeout = step.timeout_secs.map(Duration::from_secs);
        // Render every template first: rendering needs `&self`, the browser `&mut self`.
        let rendered = self.render_locator_and_values(kind, step, frame)?;
        let fail = |me: &Self, e: BrowserError| me.browser_failure(step, frame, e);
        match kind {
            BrowserStep::Open(_) => {
                let url = rendered.text.clone().unwrap_or_default();
                // Refused before a browser is started for it; `goto` checks relative ones.
                if let Err(refused) = crate::web_address::check_written(&url) {
                    let e = BrowserError::NotAWebPage { url, why: refused };
                    return Err(fail(self, e));
                }
                let b = self.browser(step, frame).await?;
                b.goto(&url).await.map_err(|e| fail(self, e))
            }
            BrowserStep::Click(_) => {
                let b = self.browser(step, frame).await?;
                b.click(&rendered.locator(), timeout)
                    .await
                    .map_err(|e| fail(self, e))
            }
            BrowserStep::Hover(_) => {
                let b = self.browser(step, frame).await?;
                b.hover(&rendered.locator(), timeout)
                    .await
                    .map_err(|e| fail(self, e))
            }
            BrowserStep::ScrollIntoView(_) => {
                let b = self.browser(step, frame).await?;
                b.scroll_into_view(&rendered.locator(), timeout)
                    .await
                    .map_err(|e| fail(self, e))
            }
            BrowserStep::Assert(c) => {
                let t = shortest(c.timeout_secs.map(Duration::from_secs), timeout);
                let b = self.browser(step, frame).await?;
                b.expect_state(&rendered.locator(), c.state, t)
                    .await
                    .map_err(|e| fail(self, e))
            }
            BrowserStep::Fill { mode, verify, .. } => {
                let value = rendered.text.clone().unwrap_or_default();
                let b = self.browser(step, frame).await?;
                b.fill_verify(&rendered.locator(), &value, *mode, *verify, timeout)
                    .await
                    .map_err(|e| fail(self, e))
            }
            BrowserStep::FillForm { mode, verify, .. } => {
                let fields = rendered.fields.clone();
                let b = self.browser(step, frame).await?;
                b.fill_many_verify(&fields, *mode, *verify, timeout)
                    .await
                    .map_err(|e| fail(self, e))
            }
            BrowserStep::Select { .. } => {
                let option = rendered.text.clone().unwrap_or_default();
                let b = self.browser(step, frame).await?;
                b.select(&rendered.locator(), &option, timeout)
                    .await
                    .map_err(|e| fail(self, e))
            }
            BrowserStep::Check(_) | BrowserStep::Uncheck(_) => {
                let on = matches!(kind, BrowserStep::Check(_));
                let b = self.browser(step, frame).await?;
                b.set_checked(&rendered.locator(), on, timeout)
                    .await
                    .map_err(|e| fail(self, e))
            }
            BrowserStep::Upload { .. } => {
                let rel = rendered.text.clone().unwrap_or_default();
                let Some(path) = self.folder.resolve(&rel) else {
                    return Err(self.failure(step, frame, format!("`file: {rel}` must be a file of this run, such as `outputs/report.xlsx` or `input/<name>`")));
                };
                let b = self.browser(step, frame).await?;
                b.upload(&rendered.locator(), &path, timeout)
                    .await
                    .map_err(|e| fail(self, e))
            }
            BrowserStep::Press(_) => {
                let key = rendered.text.clone().unwrap_or_default();
                let b = self.browser(step, frame).await?;
                b.press(&key).await.map_err(|e| fail(self, e))
            }
            BrowserStep::WaitFor(WaitArgs {
                state: Some(state),
                timeout_secs,
                ..
            }) => {
                let t = shortest(timeout_secs.map(Duration::from_secs), timeout);
                let b = self.browser(step, frame).await?;
                b.expect_state(&rendered.locator(), *state, t)
                    .await
                    .map_err(|e| fail(self, e))
            }
            BrowserStep::WaitFor(a) => {
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
            BrowserStep::AssertText {
                timeout_secs,
                absent,
                ..
            } => {
                let text = rendered.text.clone().unwrap_or_default();
                let t = shortest(timeout_secs.map(Duration::from_secs), timeout);
                let b = self.browser(step, frame).await?;
                if *absent {
                    b.assert_text_absent(&text, t).await
                } else {
                    b.assert_text(&text, t).await
                }
                .map_err(|e| fail(self, e))
            }
            BrowserStep::Extract(a) => {
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
            BrowserStep::ExtractTable(a) => {
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
                self.replace_table(a.into.clone(), table);
                Ok(())
            }
            BrowserStep::Screenshot(_) => {
                let name = rendered.text.clone().unwrap_or_else(|| "screenshot".into());
                self.browser(step, frame).await?;
                self.save_page(step, frame, &name).await;
                Ok(())
            }
            BrowserStep::EnterFrame(_) => {
                let b = self.browser(step, frame).await?;
                b.enter_frame(&rendered.locator(), timeout)
                    .await
                    .map_err(|e| fail(self, e))
            }
            BrowserStep::LeaveFrame => {
                let b = self.browser(step, frame).await?;
                b.leave_frame().await.map_err(|e| fail(self, e))
            }
            BrowserStep::Dialog(a) => {
                let accept = a.action == DialogAction::Accept;
                let answer = rendered.text.clone();
                let b = self.browser(step, frame).await?;
                let message = b
                    .answer_dialog(accept, answer.as_deref(), timeout)
                    .await
                    .map_err(|e| fail(self, e))?;
                // The answer typed is not logged: it may be a secret.
                let done = match (accept, answer.is_some()) {
                    (true, true) => "; typed the answer and pressed OK",
                    (true, false) => "; pressed OK",
                    (false, _) => "; pressed Cancel",
                };
                self.log.info(
                    Some(&step_name(step)),
                    frame.row.as_ref().map(|r| r.1 + 1),
                    &format!("dialog said \"{message}\"{done}"),
                );
                if let Some(into) = &a.into {
                    self.store_extracted(into, message, frame);
                }
                Ok(())
            }
            BrowserStep::Download(a) => {
                let locator = rendered.locator();
                let b = self.browser(step, frame).await?;
                let path = b
                    .download(&locator, timeout)
                    .await
                    .map_err(|e| fail(self, e))?;
                self.downloaded(a, &path, step, frame).await
            }
            BrowserStep::SwitchTo(target) => {
                let b = self.browser(step, frame).await?;
                match target {
                    TabTarget::NewTab => b.switch_to_new_tab(timeout).await,
                    TabTarget::First => b.switch_to_first_tab().await,
                }
                .map_err(|e| fail(self, e))?;
                let url = match &self.browser {
                    Some(b) => b.current_url().await.unwrap_or_default(),
                    None => String::new(),
                };
                self.log.info(
                    Some(&step_name(step)),
                    frame.row.as_ref().map(|r| r.1 + 1),
                    &format!("now working in the tab showing {url}"),
                );
                Ok(())
            }
            BrowserStep::CloseTab => {
                let b = self.browser(step, frame).await?;
                b.close_tab().await.map_err(|e| fail(self, e))
            }
        }
    }

    /// A file the portal sent: say so in the log, keep it as a file of the run, and read it
    /// (`into`) with the same reader as the inputs.
    async fn downloaded(
        &mut self,
        a: &DownloadArgs,
        path: &std::path::Path,
        step: &Step,
        frame: &Frame,
    ) -> Result<(), StepFailure> {
        let name = super::table::file_name(path);
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        self.log.info(
            Some(&step_name(step)),
            frame.row.as_ref().map(|r| r.1 + 1),
            &format!("downloaded `downloads/{name}` ({bytes} bytes)"),
        );
        self.register(path, "download").await;
        let Some(into) = &a.into else {
            return Ok(());
        };
        let spec = super::table::sheet_spec(
            a.sheet.as_ref(),
            a.header_row,
            None,
            crate::sheet::MergedCells::Warn,
        );
        let report = crate::sheet::read(path, &spec).map_err(|e| {
            self.failure(
                step,
                frame,
                format!(
                    "the downloaded file `downloads/{name}` cannot be read as a table: {}",
                    e.shown_as(&name)
                ),
            )
        })?;
        let place = super::table::read_place(path, &report);
        for warning in &report.warnings {
            self.log
                .warn(Some(&step_name(step)), None, &format!("{place}: {warning}"));
        }
        self.log.info(
            Some(&step_name(step)),
            None,
            &format!(
                "read {} rows into `{into}` from {place}",
                report.table.len()
            ),
        );
        self.replace_table(into.clone(), report.table);
        Ok(())
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

    /// A locator with its template filled in.
    fn render_locator(
        &self,
        l: &Locator,
        step: &Step,
        frame: &Frame,
    ) -> Result<Locator, StepFailure> {
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
    }

    fn render_locator_and_values(
        &self,
        kind: &BrowserStep,
        step: &Step,
        frame: &Frame,
    ) -> Result<Rendered, StepFailure> {
        let loc = |l: &Locator| self.render_locator(l, step, frame);
        let mut r = Rendered::default();
        let target = match kind {
            BrowserStep::Click(t)
            | BrowserStep::Hover(t)
            | BrowserStep::ScrollIntoView(t)
            | BrowserStep::Check(t)
            | BrowserStep::Uncheck(t)
            | BrowserStep::EnterFrame(t) => Some(t),
            BrowserStep::Assert(c) => Some(&c.target),
            BrowserStep::Fill { target, .. }
            | BrowserStep::Select { target, .. }
            | BrowserStep::Upload { target, .. } => Some(target),
            BrowserStep::Extract(a) => Some(&a.target),
            BrowserStep::ExtractTable(a) => Some(&a.target),
            BrowserStep::Download(a) => Some(&a.target),
            BrowserStep::WaitFor(a) => a.target.as_ref(),
            _ => None,
        };
        if let Some(t) = target {
            r.target = Some(loc(t)?);
        }
        r.text = match kind {
            BrowserStep::Open(s) | BrowserStep::Press(s) | BrowserStep::Screenshot(s) => {
                Some(self.render_text(s, frame, step)?)
            }
            BrowserStep::Fill { value, .. } => Some(self.render_text(value, frame, step)?),
            BrowserStep::Select { option, .. } => Some(self.render_text(option, frame, step)?),
            BrowserStep::Upload { file, .. } => Some(self.render_text(file, frame, step)?),
            BrowserStep::AssertText { text, .. } => Some(self.render_text(text, frame, step)?),
            BrowserStep::Dialog(DialogArgs { text: Some(t), .. }) => {
                Some(self.render_text(t, frame, step)?)
            }
            BrowserStep::WaitFor(a) => match &a.url_contains {
                Some(u) => Some(self.render_text(u, frame, step)?),
                None => None,
            },
            _ => None,
        };
        if let BrowserStep::FillForm { fields, .. } = kind {
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
