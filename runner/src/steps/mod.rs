//! Steps: one instruction of a workflow each, grouped in families.
//!
//! A step is a YAML mapping with exactly one *kind* key (`fill:`, `for_each:`, `write:` …)
//! and optional common keys (`name`, `on_error`, `retry`, `timeout_secs`, `when`).
//!
//! Each family owns everything about its kinds: how they are read from YAML, how
//! `kobo validate` checks them, and how they run.
//! - [`table`]: spreadsheet steps (`read`, `filter`, `compute`, `sort`, … `write`);
//! - [`control`]: steps that steer the others (`for_each`, `if`, `try`, `set`, `log` …);
//! - [`browser`]: steps that drive the portal in a browser (`open`, `click`, `fill` …).
//!
//! Adding a kind to a family touches that family's file only (and docs/workflows.md).
//! What applies to every step (`when`, `retry`, `timeout_secs`, `on_error`) is read here and
//! applied by the engine's step wrapper.

pub mod browser;
pub mod control;
pub mod table;

pub use crate::browser::{FillMode, Locator};
pub use browser::{
    BrowserStep, DialogAction, DialogArgs, DownloadArgs, ElementCondition, ExtractArgs,
    ExtractTableArgs, TabTarget, WaitArgs,
};
pub use control::{Condition, ControlStep};
pub use table::{
    AppendArgs, ComputeArgs, DedupeArgs, FilterArgs, JoinArgs, NewTableArgs, ReadArgs, SheetName,
    SortArgs, TableStep, WriteArgs, WriteSheetArgs,
};

use crate::definition_error::did_you_mean;
use crate::reader::{Reader, describe_value, scalar_text};
use crate::source_map::{Pos, child_index, child_key};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_yaml::{Mapping, Value};

/// Declares a family of step kinds from one list: the enum, each kind's keyword
/// (`keyword()`), and the list of keywords (`KINDS`).
macro_rules! step_kinds {
    (
        $(#[$meta:meta])*
        pub enum $family:ident {
            $(
                $(#[$vmeta:meta])*
                $keyword:literal => $variant:ident
                $( ( $($tuple:tt)* ) )?
                $( { $($fields:tt)* } )?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub enum $family {
            $(
                $(#[$vmeta])*
                $variant $( ( $($tuple)* ) )? $( { $($fields)* } )?
            ),*
        }

        impl $family {
            /// The keyword of each kind of this family, as written in a workflow.
            pub const KINDS: &'static [&'static str] = &[$($keyword),*];

            /// The keyword this step is written with.
            pub fn keyword(&self) -> &'static str {
                match self {
                    $( $family::$variant { .. } => $keyword ),*
                }
            }
        }
    };
}
pub(crate) use step_kinds;

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

/// Every kind of step, by family. Spreadsheet and control steps run without a browser;
/// browser steps open one browser per run, shared by all rows.
#[derive(Debug, Clone)]
pub enum StepKind {
    Table(TableStep),
    Control(ControlStep),
    Browser(BrowserStep),
}

/// The keyword of every step kind, family by family.
pub fn kind_names() -> impl Iterator<Item = &'static str> {
    TableStep::KINDS
        .iter()
        .chain(ControlStep::KINDS)
        .chain(BrowserStep::KINDS)
        .copied()
}

fn is_kind(name: &str) -> bool {
    kind_names().any(|k| k == name)
}

const COMMON_KEYS: &[&str] = &["name", "on_error", "retry", "timeout_secs", "when"];

impl StepKind {
    pub fn keyword(&self) -> &'static str {
        match self {
            StepKind::Table(s) => s.keyword(),
            StepKind::Control(s) => s.keyword(),
            StepKind::Browser(s) => s.keyword(),
        }
    }

    /// Browser steps, and an `if` that looks at an element of the page.
    pub fn needs_browser(&self) -> bool {
        matches!(
            self,
            StepKind::Browser(_)
                | StepKind::Control(ControlStep::If {
                    condition: control::Condition::Element(_),
                    ..
                })
        )
    }

    /// A step that may change the outside world: a row interrupted after one is in doubt.
    pub fn changes_outside(&self) -> bool {
        matches!(self, StepKind::Browser(b) if b.changes_outside())
    }

    /// Nested step lists of a block step, for walking the tree.
    pub fn children(&self) -> Vec<&[Step]> {
        match self {
            StepKind::Control(c) => c.children(),
            _ => Vec::new(),
        }
    }

    /// The wait a step has of its own (`wait_for`, `assert`, `assert_text` … `timeout_secs`).
    pub fn own_wait_secs(&self) -> Option<u64> {
        match self {
            StepKind::Browser(b) => b.own_wait_secs(),
            _ => None,
        }
    }

    /// The `for_each` loop of this step: its table and the steps for each row.
    pub fn as_loop(&self) -> Option<(&str, &[Step])> {
        match self {
            StepKind::Control(ControlStep::ForEach { table, steps, .. }) => {
                Some((table.as_str(), steps.as_slice()))
            }
            _ => None,
        }
    }

    /// The variables this step makes (`set`, and `extract` outside `for_each`), known to the
    /// whole workflow before it is checked.
    pub fn variables_made(&self, in_loop: bool) -> Vec<String> {
        match self {
            StepKind::Control(c) => c.variables_made(),
            StepKind::Browser(b) if !in_loop => b.variables_made(),
            _ => Vec::new(),
        }
    }
}

/// A step as written, while it is read: its mapping, its kind and where it is.
pub struct Written<'a> {
    pub map: &'a Mapping,
    /// The kind's keyword, e.g. `fill`.
    pub kind: &'a str,
    /// The value under the kind's key, e.g. `{ label: 氏名, value: … }`.
    pub value: Value,
    /// Where that value is (`steps[3].fill`).
    pub value_path: String,
    /// Where the step is (`steps[3]`).
    pub path: &'a str,
}

impl Written<'_> {
    /// The kind's value read as `T`, with a friendly error when it does not fit.
    pub fn args<T: DeserializeOwned>(&self, r: &mut Reader) -> Option<T> {
        r.parse(&self.value, &self.value_path, &format!("`{}`", self.kind))
    }

    /// The steps under `key` of a block step (`steps`, `then`, `else`, `catch`).
    pub fn block(&self, r: &mut Reader, key: &str, empty: (&str, &str)) -> Vec<Step> {
        match self.map.get(key) {
            Some(v) => {
                let block_path = child_key(self.path, key);
                if is_empty_block(v) {
                    // Reported whatever else is wrong: an empty block is a mistake of its own.
                    r.key_error(&block_path, empty.0, Some(empty.1.into()));
                    return Vec::new();
                }
                parse_steps(r, v, &block_path)
            }
            None => Vec::new(),
        }
    }
}

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
            Value::String(s) if is_kind(s) => {
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
    let kinds: Vec<&String> = keys.iter().filter(|k| is_kind(k)).collect();
    let kind_name = match kinds.as_slice() {
        [one] => one.as_str(),
        [] => {
            no_kind(r, &keys, path);
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

    // Common keys, and the block keys allowed for this kind.
    let mut allowed: Vec<&str> = vec![kind_name];
    allowed.extend_from_slice(COMMON_KEYS);
    allowed.extend_from_slice(ControlStep::block_keys(kind_name));
    r.check_keys(map, path, &allowed, &format!("this `{kind_name}` step"));

    let common = |key: &str| map.get(key).map(|v| (v.clone(), child_key(path, key)));
    let name = common("name").and_then(|(v, p)| r.parse(&v, &p, "`name`"));
    let on_error = common("on_error")
        .and_then(|(v, p)| r.parse(&v, &p, "`on_error`"))
        .unwrap_or_default();
    let retry = common("retry").and_then(|(v, p)| r.parse(&v, &p, "`retry`"));
    let timeout_secs = common("timeout_secs").and_then(|(v, p)| r.parse(&v, &p, "`timeout_secs`"));
    let when = common("when").and_then(|(v, p)| r.parse(&v, &p, "`when`"));

    let written = Written {
        map,
        kind: kind_name,
        value: map.get(kind_name).cloned().unwrap_or(Value::Null),
        value_path: kind_path.clone(),
        path,
    };
    let kind = if TableStep::KINDS.contains(&kind_name) {
        StepKind::Table(TableStep::parse(r, &written)?)
    } else if ControlStep::KINDS.contains(&kind_name) {
        StepKind::Control(ControlStep::parse(r, &written)?)
    } else {
        StepKind::Browser(BrowserStep::parse(r, &written)?)
    };
    let timeout_secs = match kind {
        StepKind::Browser(_) => browser::timeout_in_braces(
            r,
            &written.value,
            &written.value_path,
            kind_name,
            timeout_secs,
        ),
        _ => timeout_secs,
    };
    Some(Step {
        kind,
        name,
        on_error,
        retry,
        timeout_secs,
        when,
        path: path.to_string(),
        pos: r.map.key(&kind_path),
    })
}

/// A step without a kind key: name the unknown key, with the closest kind.
fn no_kind(r: &mut Reader, keys: &[String], path: &str) {
    let unknown = keys.iter().find(|k| {
        !COMMON_KEYS.contains(&k.as_str()) && !ControlStep::BLOCK_KEYS.contains(&k.as_str())
    });
    match unknown {
        Some(k) => {
            let hint = match did_you_mean(k, kind_names()) {
                Some(best) => {
                    format!("did you mean `{best}`? docs/workflows.md lists every step kind")
                }
                None => format!(
                    "step kinds are: {}",
                    kind_names().collect::<Vec<_>>().join(", ")
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

    #[test]
    fn no_keyword_belongs_to_two_families() {
        let mut all: Vec<&str> = kind_names().collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "a keyword is listed in two families");
    }
}
