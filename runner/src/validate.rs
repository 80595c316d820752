//! The second stage of reading a workflow: check that every name refers to something that
//! exists — inputs, tables, params, secrets, variables, columns — and that values are sane.
//!
//! Column names are checked twice: against `columns:` declared in `inputs` (and the columns
//! steps add) when the file is validated, and against the real header row when a run has
//! read its input.

use crate::definition_error::{DefinitionError, did_you_mean};
use crate::expr::Expressions;
use crate::reader::Reader;
use crate::source_map::child_key;
use crate::steps::{OnError, Step, StepKind};
use crate::workflow::Workflow;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Names every template can use, besides params, secrets and variables.
const BUILTINS: &[&str] = &[
    "today", "now", "run", "range", "loop", "true", "false", "none",
];

/// Check names and values of a workflow whose keys and types are already known to be right.
pub fn check(r: &mut Reader, w: &Workflow) {
    let mut tables: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
    for input in &w.inputs {
        if let Some(other) = &input.spec.same_file_as
            && !w.inputs.iter().any(|i| &i.name == other && i.is_file())
        {
            let names: Vec<&str> = w.file_inputs().map(|i| i.name.as_str()).collect();
            r.error(
                &format!("inputs.{}.same_file_as", input.name),
                format!("`same_file_as: {other}` does not name another input"),
                Some(hint_for(other, &names, "inputs")),
            );
        }
        if let Some(range) = &input.spec.range {
            check_range(r, &format!("inputs.{}.range", input.name), range);
        }
        if input.spec.header_row == Some(crate::sheet::HeaderRow::Row(0)) {
            r.error(
                &format!("inputs.{}.header_row", input.name),
                "`header_row` counts from 1 (the first row is 1)",
                None,
            );
        }
        // `columns:` lists the columns the workflow may use; a column used but not listed
        // is most often a typo. Without `columns:` the header is known only when a run
        // reads the file (see `check_columns`).
        let declared = (!input.spec.columns.is_empty()).then(|| input.spec.columns.clone());
        tables.insert(input.name.clone(), declared);
    }
    check_run_limits(r, w);
    for (kind, names) in [
        ("secret", &w.secrets),
        ("param", &w.params.keys().cloned().collect()),
    ] {
        for name in names {
            if !is_identifier(name) {
                let message = format!(
                    "the {kind} name `{name}` can only use letters a-z, digits and `_`, and must start with a letter"
                );
                if kind == "secret" {
                    r.error(
                        "secrets",
                        message,
                        Some("templates use it as `{{ secrets.portal_user }}`, so `portal_user` works, `portal user` does not".into()),
                    );
                } else {
                    r.key_error(
                        &child_key("params", name),
                        message,
                        Some("templates use it as `{{ params.tax_rate }}`, so `tax_rate` works, `tax rate` or `1` does not".into()),
                    );
                }
            }
        }
    }
    let mut walker = Walker::new(w, tables);
    walker.steps(&w.steps, &Scope::default());
    for (path, message, hint) in walker.problems {
        r.error(&path, message, hint);
    }
}

/// Check column names used by the steps against the real headers of the inputs, once a run
/// has read them. Returns the problems as errors pointing into the workflow file.
pub fn check_columns(
    w: &Workflow,
    headers: &BTreeMap<String, Vec<String>>,
) -> Vec<DefinitionError> {
    let tables = w
        .inputs
        .iter()
        .map(|i| (i.name.clone(), headers.get(&i.name).cloned()))
        .collect();
    let mut walker = Walker::new(w, tables);
    walker.only_columns = true;
    walker.steps(&w.steps, &Scope::default());
    let mut r = Reader::new(w.file.clone(), w.positions.clone());
    for (path, message, hint) in walker.problems {
        r.error(&path, message, hint);
    }
    r.errors
}

pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn hint_for(wrong: &str, known: &[&str], what: &str) -> String {
    match did_you_mean(wrong, known.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None if known.is_empty() => format!("there are no {what} yet."),
        None => format!("known {what}: {}.", known.join(", ")),
    }
}

/// Where a step is, as checking sees it.
#[derive(Default, Clone)]
pub(crate) struct Scope {
    /// The table being looped over by the nearest `for_each`.
    pub(crate) row_of: Option<String>,
    pub(crate) in_catch: bool,
}

/// Walks the steps in order, knowing which tables, columns and variables exist at each; each
/// step family checks its own kinds with it (see `crate::steps`).
pub(crate) struct Walker<'w> {
    w: &'w Workflow,
    x: Expressions,
    /// Table name → its columns when known.
    pub(crate) tables: BTreeMap<String, Option<Vec<String>>>,
    pub(crate) vars: BTreeSet<String>,
    only_columns: bool,
    problems: Vec<(String, String, Option<String>)>,
}

impl<'w> Walker<'w> {
    fn new(w: &'w Workflow, tables: BTreeMap<String, Option<Vec<String>>>) -> Walker<'w> {
        let mut vars = BTreeSet::new();
        collect_vars(&w.steps, false, &mut vars);
        Walker {
            w,
            x: Expressions::new(),
            tables,
            vars,
            only_columns: false,
            problems: Vec::new(),
        }
    }

    pub(crate) fn problem(&mut self, path: &str, message: impl Into<String>, hint: Option<String>) {
        if !self.only_columns {
            self.problems.push((path.to_string(), message.into(), hint));
        }
    }

    pub(crate) fn steps(&mut self, steps: &[Step], scope: &Scope) {
        for step in steps {
            self.step(step, scope);
        }
    }

    pub(crate) fn table(&mut self, name: &str, path: &str) {
        if !self.tables.contains_key(name) {
            let known: Vec<String> = self.tables.keys().cloned().collect();
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            self.problem(
                path,
                format!("there is no table named `{name}` at this point"),
                Some(format!(
                    "{} Tables come from `inputs` and from steps with `into`.",
                    hint_for(name, &known, "tables")
                )),
            );
        }
    }

    pub(crate) fn columns_of(&self, table: &str) -> Option<&Vec<String>> {
        self.tables.get(table).and_then(|c| c.as_ref())
    }

    pub(crate) fn column(&mut self, table: &str, column: &str, path: &str) {
        let Some(cols) = self.columns_of(table) else {
            return;
        };
        let norm = crate::table::normalize_header(column);
        if cols
            .iter()
            .any(|c| crate::table::normalize_header(c) == norm)
        {
            return;
        }
        let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
        let known = if self.only_columns {
            format!("Columns of `{table}`: {}", refs.join(", "))
        } else {
            // Before a run the columns known are those listed in `columns:` and those the
            // steps add; the file may have more.
            format!(
                "Known columns of `{table}`: {}. If the file has this column, add it to `columns:` of the input",
                refs.join(", ")
            )
        };
        let hint = match did_you_mean(column, refs.iter().copied()) {
            Some(best) => format!("did you mean `{best}`? {known}"),
            None if self.only_columns => known.replacen("Columns", "columns", 1),
            None => known,
        };
        self.problems.push((
            path.to_string(),
            format!("table `{table}` has no column `{column}`"),
            Some(hint),
        ));
    }

    pub(crate) fn add_column(&mut self, table: &str, column: &str) {
        if let Some(Some(cols)) = self.tables.get_mut(table)
            && !cols.iter().any(|c| c == column)
        {
            cols.push(column.to_string());
        }
    }

    /// Check a template or expression: syntax, names, and `row['…']` columns.
    pub(crate) fn text(&mut self, src: &str, path: &str, scope: &Scope, expression: bool) {
        let checked = if expression {
            self.x.check_expression(src)
        } else {
            self.x.check_template(src)
        };
        let names = match checked {
            Ok(n) => n,
            Err(e) => {
                // `row.Номер` or `row.金額`: only a-z names work after a dot.
                let dotted = row_columns(src)
                    .into_iter()
                    .find(|c| !c.is_ascii() && src.contains(&format!("row.{c}")));
                let hint = match dotted {
                    Some(c) => format!(
                        "write `row['{c}']`: after `row.` only names made of letters a-z, digits and `_` work"
                    ),
                    None if has_lone_equals(src) => {
                        "to compare two values write `==` (two equals signs), e.g. `row['区分'] == '請求'`; one `=` is not a comparison".into()
                    }
                    None if expression => "an expression looks like `row['金額'] > 1000`".into(),
                    None => "a template looks like `Hello {{ row['氏名'] }}`".into(),
                };
                self.problem(
                    path,
                    format!(
                        "cannot read this {}: {e}",
                        if expression { "expression" } else { "template" }
                    ),
                    Some(hint),
                );
                return;
            }
        };
        self.names(&names, path, scope);
        if let Some(table) = &scope.row_of {
            for col in row_columns(src) {
                self.column(table, &col, path);
            }
        }
    }

    fn names(&mut self, names: &HashSet<String>, path: &str, scope: &Scope) {
        let mut sorted: Vec<&String> = names.iter().collect();
        sorted.sort();
        for name in sorted {
            let mut parts = name.splitn(2, '.');
            let root = parts.next().unwrap_or_default();
            let sub = parts.next().map(|s| s.split('.').next().unwrap_or(s));
            match root {
                "row" | "index" | "row_status" if scope.row_of.is_some() => {}
                "row" | "index" | "row_status" => self.problem(
                    path,
                    format!("`{root}` is only known inside `for_each`"),
                    Some("move this step into the `steps` of a `for_each`".into()),
                ),
                "error" if scope.in_catch => {}
                "secrets" => match sub {
                    Some(s) if self.w.secrets.iter().any(|x| x == s) => {}
                    Some(s) => {
                        let known: Vec<&str> = self.w.secrets.iter().map(String::as_str).collect();
                        self.problem(
                            path,
                            format!("secret `{s}` is not declared"),
                            Some(format!(
                                "add it to `secrets:` at the top of the workflow. {}",
                                hint_for(s, &known, "secrets")
                            )),
                        );
                    }
                    None => {}
                },
                "params" => match sub {
                    Some(s) if self.w.params.contains_key(s) => {}
                    Some(s) => {
                        let known: Vec<&str> = self.w.params.keys().map(String::as_str).collect();
                        self.problem(
                            path,
                            format!("param `{s}` is not declared"),
                            Some(format!(
                                "add it under `params:` with a default value. {}",
                                hint_for(s, &known, "params")
                            )),
                        );
                    }
                    None => {}
                },
                r if BUILTINS.contains(&r) || self.vars.contains(r) => {}
                other => {
                    let mut known: Vec<&str> = self.vars.iter().map(String::as_str).collect();
                    known.extend(["params", "secrets", "today", "now"]);
                    if scope.row_of.is_some() {
                        known.extend(["row", "index"]);
                    }
                    self.problem(
                        path,
                        format!("unknown name `{other}` in this template"),
                        Some(format!(
                            "{} A column is written `row['{other}']`, a secret `secrets.{other}`",
                            hint_for(other, &known, "names")
                        )),
                    );
                }
            }
        }
    }

    fn step(&mut self, step: &Step, scope: &Scope) {
        let p = step.path.clone();
        if let Some(when) = &step.when {
            self.text(when, &child_key(&p, "when"), scope, true);
        }
        if matches!(step.on_error, OnError::MarkRowFailed | OnError::SkipRow)
            && scope.row_of.is_none()
            && step.kind.as_loop().is_none()
        {
            self.problem(
                &child_key(&p, "on_error"),
                "`mark_row_failed` and `skip_row` only work inside `for_each`",
                Some("use `stop` or `continue` here".into()),
            );
        }
        // A wait written in the braces (`wait_for: { …, timeout_secs: 0 }`) is checked by its
        // step, against the tighter bound for waits: one message for one mistake.
        if let Some(t) = step.timeout_secs
            && !(1..=3600).contains(&t)
            && step.kind.own_wait_secs() != Some(t)
        {
            self.problem(
                &child_key(&p, "timeout_secs"),
                format!("`timeout_secs: {t}` is out of range"),
                Some("use between 1 and 3600 seconds".into()),
            );
        }
        if let Some(retry) = step.retry
            && !(1..=10).contains(&retry.attempts)
        {
            self.problem(
                &child_key(&p, "retry"),
                format!("`attempts: {}` is out of range", retry.attempts),
                Some("use between 1 and 10 attempts".into()),
            );
        }
        match &step.kind {
            StepKind::Table(s) => s.check(self, step, scope),
            StepKind::Control(s) => s.check(self, step, scope),
            StepKind::Browser(s) => s.check(self, step, scope),
        }
    }

    /// The workflow being checked.
    pub(crate) fn workflow(&self) -> &Workflow {
        self.w
    }

    /// A cell range (`B2:F100`) written in a step.
    pub(crate) fn range(&mut self, range: &str, path: &str) {
        if let Err(reason) = crate::sheet::range::CellRange::parse(range) {
            self.problem(
                path,
                format!("`{range}` is not a valid cell range: {reason}"),
                Some("write it like `B2:F100`, or `B2:F` to read down to the last row".into()),
            );
        }
    }
}

/// Variables made by `set` (anywhere) and by `extract` outside `for_each`.
fn collect_vars(steps: &[Step], in_loop: bool, out: &mut BTreeSet<String>) {
    for s in steps {
        out.extend(s.kind.variables_made(in_loop));
        let in_loop = in_loop || s.kind.as_loop().is_some();
        for child in s.kind.children() {
            collect_vars(child, in_loop, out);
        }
    }
}

/// An `=` that is not part of `==`, `!=`, `<=` or `>=` (and not inside quotes): a comparison
/// written with one equals sign.
fn has_lone_equals(src: &str) -> bool {
    let chars: Vec<char> = src.chars().collect();
    let mut quote: Option<char> = None;
    for (i, c) in chars.iter().enumerate() {
        match (quote, c) {
            (Some(q), c) if *c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(*c),
            (None, '=') => {
                let before = i.checked_sub(1).map(|j| chars[j]);
                let after = chars.get(i + 1).copied();
                let paired = after == Some('=') || matches!(before, Some('=' | '!' | '<' | '>'));
                if !paired {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// Column names used as `row['…']`, `row["…"]` or `row.name` in a template.
pub fn row_columns(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find("row") {
        let before_ok = i == 0
            || !rest[..i]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        let after = &rest[i + 3..];
        if before_ok {
            let trimmed = after.trim_start();
            if let Some(q) = trimmed.strip_prefix('[') {
                let q = q.trim_start();
                if let Some(quote) = q.chars().next().filter(|c| *c == '\'' || *c == '"')
                    && let Some(end) = q[1..].find(quote)
                {
                    out.push(q[1..1 + end].to_string());
                }
            } else if let Some(attr) = after.strip_prefix('.') {
                let name: String = attr
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        }
        rest = after;
    }
    out
}

/// A cell range (`B2:F100`) is checked before any run; the file is not needed for that.
fn check_range(r: &mut Reader, path: &str, range: &str) {
    if let Err(reason) = crate::sheet::range::CellRange::parse(range) {
        r.error(
            path,
            format!("`{range}` is not a valid cell range: {reason}"),
            Some("write it like `B2:F100`, or `B2:F` to read down to the last row".into()),
        );
    }
}

/// Whole-run and browser limits: a typo such as `timeout_minutes: 6000` would keep a worker
/// busy for days, and a 100000-second element wait makes a missing field look like a hang.
fn check_run_limits(r: &mut Reader, w: &Workflow) {
    let minutes = w.timeout.as_secs() / 60;
    if !(1..=1440).contains(&minutes) {
        r.error(
            "timeout_minutes",
            format!("`timeout_minutes: {minutes}` is out of range"),
            Some("use between 1 and 1440 minutes (one day); the default is 60".into()),
        );
    }
    for (key, value, max) in [
        ("element_timeout_secs", w.browser.element_timeout_secs, 300),
        (
            "page_load_timeout_secs",
            w.browser.page_load_timeout_secs,
            600,
        ),
    ] {
        if !(1..=max).contains(&value) {
            r.error(
                &child_key("browser", key),
                format!("`{key}: {value}` is out of range"),
                Some(format!("use between 1 and {max} seconds")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::row_columns;

    #[test]
    fn finds_a_comparison_with_one_equals_sign() {
        assert!(super::has_lone_equals("row['金額'] = 3"));
        assert!(!super::has_lone_equals(
            "row['金額'] == 3 and row['x'] != 'a=b'"
        ));
        assert!(!super::has_lone_equals("row['n'] >= 1 or row['n'] <= 0"));
    }

    #[test]
    fn finds_row_columns() {
        assert_eq!(
            row_columns("{{ row['金額'] * 2 }} {{ row[\"氏名\"] }} {{ row.code }} {{ arrow.x }}"),
            vec!["金額", "氏名", "code"]
        );
    }
}
