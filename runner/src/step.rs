//! `Step`: one instruction of a workflow, and how it is read from YAML.
//!
//! A step is a YAML mapping with exactly one *kind* key (`fill:`, `for_each:`, `write:` …)
//! and optional common keys (`name`, `on_error`, `retry`, `timeout_secs`, `when`).
//! Block steps (`for_each`, `if`, `try`) also hold nested `steps`, `then`/`else` or `catch`.

pub use crate::browser::{FillMode, Locator};
use crate::definition_error::did_you_mean;
use crate::reader::{Reader, describe_value, scalar_text};
use crate::sheet::{HeaderRow, MergedCells};
use crate::source_map::{Pos, child_index, child_key};
use serde::Deserialize;
use serde_yaml::Value;
use std::collections::BTreeMap;

/// One instruction, with the options every step can carry.
#[derive(Debug, Clone)]
pub struct Step {
    pub kind: StepKind,
    /// A short name for the run record; defaults to the kind.
    pub name: Option<String>,
    pub on_error: OnError,
    pub retry: Option<Retry>,
    pub timeout_secs: Option<u64>,
    /// Run the step only when this expression is true.
    pub when: Option<String>,
    /// Where the step is: `steps[3].steps[1]`, used to find its line and in timing records.
    pub path: String,
    pub pos: Option<Pos>,
}

impl Step {
    /// The label shown in records and logs: the step's name, else its kind.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.kind.keyword().to_string())
    }
}

/// What to do when a step (or anything inside a block step) fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Stop the run and mark it failed (the default).
    #[default]
    Stop,
    /// Note the error in the log and go on with the next step.
    Continue,
    /// Inside `for_each`: mark the current row failed (with the error) and go on with the next row.
    MarkRowFailed,
    /// Inside `for_each`: mark the current row skipped and go on with the next row.
    SkipRow,
}

/// Try a step again when it fails: `retry: { attempts: 3, backoff_secs: 2 }`.
/// The wait doubles after each failed attempt (2 s, 4 s, 8 s …, at most 5 minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    pub attempts: u32,
    #[serde(default = "default_backoff")]
    pub backoff_secs: u64,
}

fn default_backoff() -> u64 {
    1
}

impl Retry {
    /// Wait before attempt `n` (the second attempt is n = 2). A pure function of the attempt.
    pub fn delay(&self, attempt: u32) -> std::time::Duration {
        let exp = attempt.saturating_sub(2).min(16);
        let secs = self.backoff_secs.saturating_mul(1u64 << exp).min(300);
        std::time::Duration::from_secs(secs)
    }
}

/// Every kind of step. Spreadsheet and control steps run without a browser;
/// browser steps open one browser per run, shared by all rows.
#[derive(Debug, Clone)]
pub enum StepKind {
    // Spreadsheet steps
    Read(ReadArgs),
    Filter(FilterArgs),
    Compute(ComputeArgs),
    Sort(SortArgs),
    Dedupe(DedupeArgs),
    Join(JoinArgs),
    NewTable(NewTableArgs),
    Append(AppendArgs),
    Write(WriteArgs),
    // Control steps
    ForEach {
        table: String,
        /// `key: "{{ row['請求書番号'] }}"`: what names the row in the client's system; a row
        /// whose key an earlier run entered is skipped (see [`crate::progress`]).
        key: Option<String>,
        steps: Vec<Step>,
    },
    If {
        condition: String,
        then: Vec<Step>,
        otherwise: Vec<Step>,
    },
    Try {
        steps: Vec<Step>,
        catch: Vec<Step>,
    },
    Set(BTreeMap<String, Value>),
    Log(String),
    Fail(String),
    SkipRow(String),
    Pause(f64),
    // Browser steps
    Open(String),
    Click(Locator),
    Fill {
        target: Locator,
        value: String,
        mode: FillMode,
    },
    /// Several fields at once, by label: with `mode: set`, in one script call.
    FillForm {
        fields: BTreeMap<String, String>,
        mode: FillMode,
    },
    Select {
        target: Locator,
        option: String,
    },
    Check(Locator),
    Uncheck(Locator),
    Upload {
        target: Locator,
        file: String,
    },
    Press(String),
    WaitFor(WaitArgs),
    Extract(ExtractArgs),
    ExtractTable(ExtractTableArgs),
    AssertText {
        text: String,
        timeout_secs: Option<u64>,
    },
    Screenshot(String),
    EnterFrame(Locator),
    LeaveFrame,
    Dialog(DialogAction),
}

/// The keyword of each kind, and whether it needs a browser.
pub const KINDS: &[(&str, bool)] = &[
    ("read", false),
    ("filter", false),
    ("compute", false),
    ("sort", false),
    ("dedupe", false),
    ("join", false),
    ("new_table", false),
    ("append", false),
    ("write", false),
    ("for_each", false),
    ("if", false),
    ("try", false),
    ("set", false),
    ("log", false),
    ("fail", false),
    ("skip_row", false),
    ("pause", false),
    ("open", true),
    ("click", true),
    ("fill", true),
    ("fill_form", true),
    ("select", true),
    ("check", true),
    ("uncheck", true),
    ("upload", true),
    ("press", true),
    ("wait_for", true),
    ("extract", true),
    ("extract_table", true),
    ("assert_text", true),
    ("screenshot", true),
    ("enter_frame", true),
    ("leave_frame", true),
    ("dialog", true),
];

const COMMON_KEYS: &[&str] = &["name", "on_error", "retry", "timeout_secs", "when"];

impl StepKind {
    pub fn keyword(&self) -> &'static str {
        match self {
            StepKind::Read(_) => "read",
            StepKind::Filter(_) => "filter",
            StepKind::Compute(_) => "compute",
            StepKind::Sort(_) => "sort",
            StepKind::Dedupe(_) => "dedupe",
            StepKind::Join(_) => "join",
            StepKind::NewTable(_) => "new_table",
            StepKind::Append(_) => "append",
            StepKind::Write(_) => "write",
            StepKind::ForEach { .. } => "for_each",
            StepKind::If { .. } => "if",
            StepKind::Try { .. } => "try",
            StepKind::Set(_) => "set",
            StepKind::Log(_) => "log",
            StepKind::Fail(_) => "fail",
            StepKind::SkipRow(_) => "skip_row",
            StepKind::Pause(_) => "pause",
            StepKind::Open(_) => "open",
            StepKind::Click(_) => "click",
            StepKind::Fill { .. } => "fill",
            StepKind::FillForm { .. } => "fill_form",
            StepKind::Select { .. } => "select",
            StepKind::Check(_) => "check",
            StepKind::Uncheck(_) => "uncheck",
            StepKind::Upload { .. } => "upload",
            StepKind::Press(_) => "press",
            StepKind::WaitFor(_) => "wait_for",
            StepKind::Extract(_) => "extract",
            StepKind::ExtractTable(_) => "extract_table",
            StepKind::AssertText { .. } => "assert_text",
            StepKind::Screenshot(_) => "screenshot",
            StepKind::EnterFrame(_) => "enter_frame",
            StepKind::LeaveFrame => "leave_frame",
            StepKind::Dialog(_) => "dialog",
        }
    }

    pub fn needs_browser(&self) -> bool {
        KINDS.iter().any(|(k, b)| *b && *k == self.keyword())
    }

    /// Nested step lists of a block step, for walking the tree.
    pub fn children(&self) -> Vec<&[Step]> {
        match self {
            StepKind::ForEach { steps, .. } => vec![steps],
            StepKind::If {
                then, otherwise, ..
            } => vec![then, otherwise],
            StepKind::Try { steps, catch } => vec![steps, catch],
            _ => Vec::new(),
        }
    }
}

/// `read: { input: orders, sheet: 顧客, header_row: 2, into: customers }` — another sheet of an input file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadArgs {
    pub input: String,
    #[serde(default)]
    pub sheet: Option<SheetName>,
    #[serde(default)]
    pub header_row: Option<HeaderRow>,
    #[serde(default)]
    pub range: Option<String>,
    /// Merged cells below the header: `warn` (the default) or `fill`.
    #[serde(default)]
    pub merged: MergedCells,
    pub into: String,
}

/// A sheet given by position (`1` = first) or by name.
#[derive(Debug, Clone, PartialEq)]
pub enum SheetName {
    Index(usize),
    Name(String),
}

impl<'de> Deserialize<'de> for SheetName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) if n.as_u64().is_some_and(|n| n >= 1) => {
                Ok(SheetName::Index(n.as_u64().unwrap_or(1) as usize))
            }
            Value::String(s) if !s.trim().is_empty() => Ok(SheetName::Name(s)),
            other => Err(serde::de::Error::custom(format!(
                "invalid value: {}, expected a sheet number (1 = first sheet) or a sheet name",
                describe_value(&other)
            ))),
        }
    }
}

/// `filter: { table: invoices, where: "row['金額'] > 0", into: paid }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterArgs {
    pub table: String,
    #[serde(rename = "where")]
    pub condition: String,
    #[serde(default)]
    pub into: Option<String>,
}

/// `compute: { table: invoices, column: 税込, value: "{{ row['金額'] * 1.1 }}" }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeArgs {
    pub table: String,
    pub column: String,
    pub value: Value,
}

/// `sort: { table: invoices, by: 金額, descending: true }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SortArgs {
    pub table: String,
    pub by: String,
    #[serde(default)]
    pub descending: bool,
}

/// `dedupe: { table: staff, by: [氏名, 生年月日] }` — keep the first row of each group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupeArgs {
    pub table: String,
    #[serde(default)]
    pub by: Vec<String>,
}

/// `join: { table: orders, with: customers, on: 顧客ID, columns: [顧客名] }` — add columns from
/// the first matching row of another table (a VLOOKUP).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinArgs {
    pub table: String,
    pub with: String,
    pub on: String,
    #[serde(default)]
    pub with_on: Option<String>,
    #[serde(default)]
    pub columns: Vec<String>,
}

/// `new_table: { name: results, columns: [番号, 結果] }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTableArgs {
    pub name: String,
    #[serde(default)]
    pub columns: Vec<String>,
}

/// `append: { table: results, values: { 番号: "{{ row['番号'] }}" } }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendArgs {
    pub table: String,
    pub values: BTreeMap<String, Value>,
}

/// `write: { file: "report-{{ today }}.xlsx", sheets: [...] }` or the short form
/// `write: { file: out.csv, table: invoices }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteArgs {
    pub file: String,
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub sheets: Vec<WriteSheetArgs>,
    /// Add `result` and `error` columns with each row's outcome from `for_each`.
    #[serde(default)]
    pub with_results: bool,
    /// For CSV: `utf8_bom` (default), `utf8` or `shift_jis`.
    #[serde(default)]
    pub encoding: Option<String>,
    #[serde(default)]
    pub formats: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteSheetArgs {
    pub table: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Which columns, in which order (default: all).
    #[serde(default)]
    pub columns: Vec<String>,
    #[serde(default)]
    pub formats: BTreeMap<String, String>,
}

/// `wait_for: { css: ".done", timeout_secs: 20 }`, or `{ url_contains: "/menu" }`, or `{ text: "完了" }`.
#[derive(Debug, Clone)]
pub struct WaitArgs {
    pub target: Option<Locator>,
    pub url_contains: Option<String>,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialogAction {
    Accept,
    Dismiss,
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

/// Read the `steps:` list at `path`.
pub fn parse_steps(r: &mut Reader, value: &Value, path: &str) -> Vec<Step> {
    let Value::Sequence(items) = value else {
        r.error(
            path,
            format!(
                "steps must be a list, but this is {}",
                describe_value(value)
            ),
            Some("start each step on its own line with `- `".into()),
        );
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse_step(r, item, &child_index(path, i)))
        .collect()
}

/// `steps: []` or `steps:` with nothing after it.
pub fn is_empty_block(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Sequence(items) => items.is_empty(),
        _ => false,
    }
}

fn parse_step(r: &mut Reader, value: &Value, path: &str) -> Option<Step> {
    let Value::Mapping(map) = value else {
        let hint = match value {
            Value::String(s) if KINDS.iter().any(|(k, _)| k == s) => {
                format!("write `- {s}: ...` with a colon and its settings")
            }
            _ => "a step looks like `- log: \"hello\"` or `- fill: { label: 氏名, value: ... }`"
                .into(),
        };
        r.error(
            path,
            format!(
                "a step must be a group of keys, but this is {}",
                describe_value(value)
            ),
            Some(hint),
        );
        return None;
    };
    let keys: Vec<String> = map.keys().map(scalar_text).collect();
    let kinds: Vec<&String> = keys
        .iter()
        .filter(|k| KINDS.iter().any(|(kind, _)| kind == k))
        .collect();
    let kind_name = match kinds.as_slice() {
        [one] => one.as_str(),
        [] => {
            let unknown: Vec<&String> = keys
                .iter()
                .filter(|k| !COMMON_KEYS.contains(&k.as_str()) && !is_block_key(k))
                .collect();
            match unknown.first() {
                Some(k) => {
                    let hint = match did_you_mean(k, KINDS.iter().map(|(k, _)| *k)) {
                        Some(best) => format!(
                            "did you mean `{best}`? docs/workflows.md lists every step kind"
                        ),
                        None => format!(
                            "step kinds are: {}",
                            KINDS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    r.key_error(
                        &child_key(path, k),
                        format!("unknown step kind `{k}`"),
                        Some(hint),
                    );
                }
                None => r.error(
                    path,
                    "this step has no kind (such as `fill:` or `write:`)",
                    Some("add one step kind key; see docs/workflows.md".into()),
                ),
            }
            return None;
        }
        many => {
            let names: Vec<String> = many.iter().map(|k| format!("`{k}`")).collect();
            r.error(
                path,
                format!(
                    "one step can do only one thing, but this one has {}",
                    names.join(" and ")
                ),
                Some("split it into separate steps, each starting with `- `".into()),
            );
            return None;
        }
    };
    let kind_path = child_key(path, kind_name);
    let kind_value = map.get(kind_name).cloned().unwrap_or(Value::Null);

    // Common keys, and the block keys allowed for this kind.
    let block_keys: &[&str] = match kind_name {
        "for_each" => &["steps", "key"],
        "if" => &["then", "else"],
        "try" => &["catch"],
        _ => &[],
    };
    let mut allowed: Vec<&str> = vec![kind_name];
    allowed.extend_from_slice(COMMON_KEYS);
    allowed.extend_from_slice(block_keys);
    r.check_keys(map, path, &allowed, &format!("this `{kind_name}` step"));

    let mut step = Step {
        kind: StepKind::LeaveFrame,
        name: None,
        on_error: OnError::Stop,
        retry: None,
        timeout_secs: None,
        when: None,
        path: path.to_string(),
        pos: r.map.key(&kind_path),
    };
    let common = |key: &str| map.get(key).map(|v| (v.clone(), child_key(path, key)));
    if let Some((v, p)) = common("name") {
        step.name = r.parse(&v, &p, "`name`");
    }
    if let Some((v, p)) = common("on_error") {
        step.on_error = r.parse(&v, &p, "`on_error`").unwrap_or_default();
    }
    if let Some((v, p)) = common("retry") {
        step.retry = r.parse(&v, &p, "`retry`");
    }
    if let Some((v, p)) = common("timeout_secs") {
        step.timeout_secs = r.parse(&v, &p, "`timeout_secs`");
    }
    if let Some((v, p)) = common("when") {
        step.when = r.parse(&v, &p, "`when`");
    }
    let block = |r: &mut Reader, key: &str| -> Vec<Step> {
        match map.get(key) {
            Some(v) => {
                let block_path = child_key(path, key);
                if is_empty_block(v) {
                    // Reported whatever else is wrong: an empty block is a mistake of its own.
                    let (message, hint) = match (kind_name, key) {
                        ("for_each", _) => (
                            "`for_each` has no steps",
                            "add the steps to do for each row under `steps:`",
                        ),
                        (_, "then") => (
                            "`then` has no steps",
                            "add the steps to run when the condition is true, or remove the `if`",
                        ),
                        (_, "else") => (
                            "`else` has no steps",
                            "add the steps to run when the condition is false, or remove `else`",
                        ),
                        _ => (
                            "`catch` has no steps",
                            "add the steps to run when a step in `try` fails, such as `- log: \"{{ error }}\"`",
                        ),
                    };
                    r.key_error(&block_path, message, Some(hint.into()));
                    return Vec::new();
                }
                parse_steps(r, v, &block_path)
            }
            None => Vec::new(),
        }
    };

    let what = format!("`{kind_name}`");
    let kind = match kind_name {
        "read" => StepKind::Read(r.parse(&kind_value, &kind_path, &what)?),
        "filter" => StepKind::Filter(r.parse(&kind_value, &kind_path, &what)?),
        "compute" => StepKind::Compute(r.parse(&kind_value, &kind_path, &what)?),
        "sort" => StepKind::Sort(r.parse(&kind_value, &kind_path, &what)?),
        "dedupe" => StepKind::Dedupe(r.parse(&kind_value, &kind_path, &what)?),
        "join" => StepKind::Join(r.parse(&kind_value, &kind_path, &what)?),
        "new_table" => StepKind::NewTable(r.parse(&kind_value, &kind_path, &what)?),
        "append" => StepKind::Append(r.parse(&kind_value, &kind_path, &what)?),
        "write" => StepKind::Write(r.parse(&kind_value, &kind_path, &what)?),
        "for_each" => {
            let table: String = r.parse(&kind_value, &kind_path, &what)?;
            if !map.contains_key("steps") {
                r.error(
                    path,
                    "`for_each` needs `steps`: what to do for each row",
                    Some("add `steps:` under `for_each`, at the same indentation".into()),
                );
            }
            let key = match map.get("key") {
                Some(v) => r.parse::<String>(v, &child_key(path, "key"), "`key`"),
                None => None,
            };
            StepKind::ForEach {
                table,
                key,
                steps: block(r, "steps"),
            }
        }
        "if" => {
            let condition: String = r.parse(&kind_value, &kind_path, &what)?;
            if !map.contains_key("then") {
                r.error(
                    path,
                    "`if` needs `then`: the steps to run when the condition is true",
                    None,
                );
            }
            StepKind::If {
                condition,
                then: block(r, "then"),
                otherwise: block(r, "else"),
            }
        }
        "try" => {
            if is_empty_block(&kind_value) {
                r.key_error(
                    &kind_path,
                    "`try` has no steps",
                    Some(
                        "list the steps to try: `try:` followed by steps starting with `- `".into(),
                    ),
                );
            }
            StepKind::Try {
                steps: parse_steps(r, &kind_value, &kind_path),
                catch: block(r, "catch"),
            }
        }
        "set" => StepKind::Set(r.parse(&kind_value, &kind_path, &what)?),
        "log" => StepKind::Log(r.parse(&kind_value, &kind_path, &what)?),
        "fail" => StepKind::Fail(r.parse(&kind_value, &kind_path, &what)?),
        "skip_row" => StepKind::SkipRow(
            r.parse::<Option<String>>(&kind_value, &kind_path, &what)?
                .unwrap_or_else(|| "skipped".into()),
        ),
        "pause" => StepKind::Pause(r.parse(&kind_value, &kind_path, &what)?),
        "open" => StepKind::Open(r.parse(&kind_value, &kind_path, &what)?),
        "press" => StepKind::Press(r.parse(&kind_value, &kind_path, &what)?),
        "screenshot" => StepKind::Screenshot(
            r.parse::<Option<String>>(&kind_value, &kind_path, &what)?
                .unwrap_or_else(|| "screenshot".into()),
        ),
        "leave_frame" => StepKind::LeaveFrame,
        "dialog" => StepKind::Dialog(r.parse(&kind_value, &kind_path, &what)?),
        "fill_form" => {
            let a: FillFormArgs = r.parse(&kind_value, &kind_path, &what)?;
            let fields = a
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), template_text(v)))
                .collect();
            StepKind::FillForm {
                fields,
                mode: a.mode.unwrap_or(FillMode::Set),
            }
        }
        browser => parse_browser_step(r, browser, &kind_value, &kind_path)?,
    };
    step.kind = kind;
    Some(step)
}

fn is_block_key(k: &str) -> bool {
    matches!(k, "steps" | "then" | "else" | "catch")
}

/// Browser steps share one set of keys; each kind says which it needs and allows.
fn parse_browser_step(r: &mut Reader, kind: &str, value: &Value, path: &str) -> Option<StepKind> {
    // Short forms: `click: ログイン` (visible text), `assert_text: 完了`, `check: { label: 同意 }`.
    let value = match (kind, value) {
        ("click" | "assert_text", Value::String(s)) => {
            let mut m = serde_yaml::Mapping::new();
            m.insert("text".into(), Value::String(s.clone()));
            Value::Mapping(m)
        }
        _ => value.clone(),
    };
    let what = format!("`{kind}`");
    let extra: &[&str] = match kind {
        "click" | "check" | "uncheck" | "enter_frame" => &[],
        "fill" => &["value", "mode"],
        "select" => &["option"],
        "upload" => &["file"],
        "wait_for" => &["url_contains", "timeout_secs"],
        "extract" => &["into", "attribute", "value"],
        "extract_table" => &["into", "next", "max_pages"],
        "assert_text" => &["timeout_secs"],
        _ => &[],
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
    let target_or_css = || target.clone().unwrap_or(Locator::Css("html".into()));
    Some(match kind {
        "click" => StepKind::Click(target_or_css()),
        "check" => StepKind::Check(target_or_css()),
        "uncheck" => StepKind::Uncheck(target_or_css()),
        "enter_frame" => StepKind::EnterFrame(target_or_css()),
        "fill" => {
            let value = match &args.value {
                Some(v) => template_text(v),
                None => require(r, "value", None)?,
            };
            StepKind::Fill {
                target: target_or_css(),
                value,
                mode: args.mode.unwrap_or_default(),
            }
        }
        "select" => StepKind::Select {
            target: target_or_css(),
            option: require(r, "option", args.option)?,
        },
        "upload" => StepKind::Upload {
            target: target_or_css(),
            file: require(r, "file", args.file)?,
        },
        "wait_for" => {
            if target.is_none() && args.url_contains.is_none() {
                r.error(path, "`wait_for` needs something to wait for: an element (`label`, `css` …), `text`, or `url_contains`", None);
                return None;
            }
            StepKind::WaitFor(WaitArgs {
                target,
                url_contains: args.url_contains,
                timeout_secs: args.timeout_secs,
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
            StepKind::Extract(ExtractArgs {
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
            StepKind::ExtractTable(ExtractTableArgs {
                target: target_or_css(),
                into: require(r, "into", args.into)?,
                next,
                max_pages: args.max_pages.unwrap_or(50),
            })
        }
        "assert_text" => StepKind::AssertText {
            text: require(r, "text", args.text)?,
            timeout_secs: args.timeout_secs,
        },
        other => unreachable!("browser step kind {other} is listed in KINDS but not parsed"),
    })
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

/// A scalar written in YAML as the text to render: numbers and booleans become their text.
pub fn template_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => scalar_text(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let r = Retry {
            attempts: 10,
            backoff_secs: 2,
        };
        assert_eq!(r.delay(2).as_secs(), 2);
        assert_eq!(r.delay(3).as_secs(), 4);
        assert_eq!(r.delay(4).as_secs(), 8);
        assert_eq!(r.delay(30).as_secs(), 300);
    }
}
