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
use crate::step::{OnError, Step, StepKind, template_text};
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
    let mut r = Reader::new(
        w.file.clone(),
        crate::source_map::SourceMap::parse(&w.source),
    );
    for (path, message, hint) in walker.problems {
        r.error(&path, message, hint);
    }
    r.errors
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn hint_for(wrong: &str, known: &[&str], what: &str) -> String {
    match did_you_mean(wrong, known.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None if known.is_empty() => format!("there are no {what} yet."),
        None => format!("known {what}: {}.", known.join(", ")),
    }
}

#[derive(Default, Clone)]
struct Scope {
    /// The table being looped over by the nearest `for_each`.
    row_of: Option<String>,
    in_catch: bool,
}

struct Walker<'w> {
    w: &'w Workflow,
    x: Expressions,
    /// Table name → its columns when known.
    tables: BTreeMap<String, Option<Vec<String>>>,
    vars: BTreeSet<String>,
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

    fn problem(&mut self, path: &str, message: impl Into<String>, hint: Option<String>) {
        if !self.only_columns {
            self.problems.push((path.to_string(), message.into(), hint));
        }
    }

    fn steps(&mut self, steps: &[Step], scope: &Scope) {
        for step in steps {
            self.step(step, scope);
        }
    }

    fn table(&mut self, name: &str, path: &str) {
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

    fn columns_of(&self, table: &str) -> Option<&Vec<String>> {
        self.tables.get(table).and_then(|c| c.as_ref())
    }

    fn column(&mut self, table: &str, column: &str, path: &str) {
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

    fn add_column(&mut self, table: &str, column: &str) {
        if let Some(Some(cols)) = self.tables.get_mut(table)
            && !cols.iter().any(|c| c == column)
        {
            cols.push(column.to_string());
        }
    }

    /// Check a template or expression: syntax, names, and `row['…']` columns.
    fn text(&mut self, src: &str, path: &str, scope: &Scope, expression: bool) {
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
                "row" | "index" if scope.row_of.is_some() => {}
                "row" | "index" => self.problem(
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
        let kp = |k: &str| child_key(&child_key(&p, step.kind.keyword()), k);
        if let Some(when) = &step.when {
            self.text(when, &child_key(&p, "when"), scope, true);
        }
        if matches!(step.on_error, OnError::MarkRowFailed | OnError::SkipRow)
            && scope.row_of.is_none()
            && !matches!(step.kind, StepKind::ForEach { .. })
        {
            self.problem(
                &child_key(&p, "on_error"),
                "`mark_row_failed` and `skip_row` only work inside `for_each`",
                Some("use `stop` or `continue` here".into()),
            );
        }
        if let Some(t) = step.timeout_secs
            && !(1..=3600).contains(&t)
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
            StepKind::Read(a) => {
                if let Some(range) = &a.range
                    && let Err(reason) = crate::sheet::range::CellRange::parse(range)
                {
                    self.problem(
                        &kp("range"),
                        format!("`{range}` is not a valid cell range: {reason}"),
                        Some(
                            "write it like `B2:F100`, or `B2:F` to read down to the last row"
                                .into(),
                        ),
                    );
                }
                if !self.w.inputs.iter().any(|i| i.name == a.input) {
                    let known: Vec<&str> = self.w.inputs.iter().map(|i| i.name.as_str()).collect();
                    self.problem(
                        &kp("input"),
                        format!("there is no input named `{}`", a.input),
                        Some(hint_for(&a.input, &known, "inputs")),
                    );
                }
                self.tables.insert(a.into.clone(), None);
            }
            StepKind::Filter(a) => {
                self.table(&a.table, &kp("table"));
                let inner = Scope {
                    row_of: Some(a.table.clone()),
                    ..scope.clone()
                };
                self.text(&a.condition, &kp("where"), &inner, true);
                if let Some(into) = &a.into {
                    let cols = self.tables.get(&a.table).cloned().flatten();
                    self.tables.insert(into.clone(), cols);
                }
            }
            StepKind::Compute(a) => {
                self.table(&a.table, &kp("table"));
                let inner = Scope {
                    row_of: Some(a.table.clone()),
                    ..scope.clone()
                };
                self.text(&template_text(&a.value), &kp("value"), &inner, false);
                self.add_column(&a.table, &a.column);
            }
            StepKind::Sort(a) => {
                self.table(&a.table, &kp("table"));
                self.column(&a.table, &a.by, &kp("by"));
            }
            StepKind::Dedupe(a) => {
                self.table(&a.table, &kp("table"));
                for c in &a.by {
                    self.column(&a.table, c, &kp("by"));
                }
            }
            StepKind::Join(a) => {
                self.table(&a.table, &kp("table"));
                self.table(&a.with, &kp("with"));
                self.column(&a.table, &a.on, &kp("on"));
                self.column(&a.with, a.with_on.as_deref().unwrap_or(&a.on), &kp("on"));
                for c in &a.columns {
                    self.column(&a.with, c, &kp("columns"));
                }
                // Without `columns`, join copies every column of `with` but its key.
                let with_on = a.with_on.as_deref().unwrap_or(&a.on);
                let copied = if a.columns.is_empty() {
                    self.columns_of(&a.with)
                        .map(|cols| cols.iter().filter(|c| *c != with_on).cloned().collect())
                } else {
                    Some(a.columns.clone())
                };
                match copied {
                    Some(cols) => {
                        for c in &cols {
                            self.add_column(&a.table, c);
                        }
                    }
                    // The columns of `with` are not known before a run, so neither are these.
                    None => {
                        if let Some(known) = self.tables.get_mut(&a.table) {
                            *known = None;
                        }
                    }
                }
            }
            StepKind::NewTable(a) => {
                self.tables.insert(a.name.clone(), Some(a.columns.clone()));
            }
            StepKind::Append(a) => {
                self.table(&a.table, &kp("table"));
                for (col, v) in &a.values {
                    self.text(&template_text(v), &kp("values"), scope, false);
                    self.add_column(&a.table, col);
                }
            }
            StepKind::Write(a) => self.write(a, &p, scope),
            StepKind::ForEach { table, key, steps } => {
                self.table(table, &child_key(&p, "for_each"));
                let inner = Scope {
                    row_of: Some(table.clone()),
                    ..scope.clone()
                };
                if let Some(key) = key {
                    self.text(key, &child_key(&p, "key"), &inner, false);
                }
                self.steps(steps, &inner);
            }
            StepKind::If {
                condition,
                then,
                otherwise,
            } => {
                self.text(condition, &child_key(&p, "if"), scope, true);
                self.steps(then, scope);
                self.steps(otherwise, scope);
            }
            StepKind::Try { steps, catch } => {
                self.steps(steps, scope);
                let inner = Scope {
                    in_catch: true,
                    ..scope.clone()
                };
                self.steps(catch, &inner);
            }
            StepKind::Set(vars) => {
                for (name, v) in vars {
                    if !is_identifier(name) {
                        self.problem(&kp(name), format!("the variable name `{name}` can only use letters a-z, digits and `_`, and must start with a letter"), None);
                    }
                    self.text(&template_text(v), &kp(name), scope, false);
                }
            }
            StepKind::Open(t) => {
                self.text(t, &child_key(&p, "open"), scope, false);
                if let Err(refused) = crate::web_address::check_written(t) {
                    self.problem(
                        &child_key(&p, "open"),
                        format!(
                            "`open` can only go to web pages (http:// or https://), not a `{}:` address",
                            refused.scheme
                        ),
                        Some("write the portal's address, e.g. `https://portal.example/login`; files for the portal go in with `upload`".into()),
                    );
                }
            }
            StepKind::Log(t) | StepKind::Fail(t) | StepKind::Press(t) | StepKind::Screenshot(t) => {
                self.text(t, &child_key(&p, step.kind.keyword()), scope, false);
            }
            StepKind::SkipRow(t) => {
                if scope.row_of.is_none() {
                    self.problem(
                        &p,
                        "`skip_row` only works inside `for_each`",
                        Some("move this step into the `steps` of a `for_each`".into()),
                    );
                }
                self.text(t, &child_key(&p, "skip_row"), scope, false);
            }
            StepKind::Pause(secs) => {
                if !(0.0..=300.0).contains(secs) {
                    self.problem(
                        &child_key(&p, "pause"),
                        format!("`pause: {secs}` is out of range"),
                        Some(
                            "pause between 0 and 300 seconds; to wait for a page, use `wait_for`"
                                .into(),
                        ),
                    );
                }
            }
            StepKind::Fill { value, .. } => self.text(value, &kp("value"), scope, false),
            StepKind::FillForm { fields, .. } => {
                if fields.is_empty() {
                    self.problem(
                        &kp("fields"),
                        "`fill_form` has no fields",
                        Some("list `label: value` pairs under `fields:`".into()),
                    );
                }
                for (label, value) in fields {
                    self.text(value, &child_key(&kp("fields"), label), scope, false);
                }
            }
            StepKind::Select { option, .. } => self.text(option, &kp("option"), scope, false),
            StepKind::Upload { file, .. } => {
                self.text(file, &kp("file"), scope, false);
                if file.starts_with('/') || file.starts_with('\\') || file.contains(':') {
                    self.problem(
                        &kp("file"),
                        "`file` is a file of this run, not a path on the machine",
                        Some("upload a file of this run, such as `outputs/report.xlsx` or `input/<name>`".into()),
                    );
                } else if file.contains("..") {
                    self.problem(
                        &kp("file"),
                        "`file` cannot go up with `..`",
                        Some("upload a file of this run, such as `outputs/report.xlsx`".into()),
                    );
                }
            }
            StepKind::WaitFor(a) => {
                if let Some(t) = a.timeout_secs
                    && !(1..=600).contains(&t)
                {
                    self.problem(
                        &kp("timeout_secs"),
                        format!("`timeout_secs: {t}` is out of range"),
                        Some("use between 1 and 600 seconds".into()),
                    );
                }
            }
            StepKind::Extract(a) => match &scope.row_of {
                Some(table) => {
                    let table = table.clone();
                    self.add_column(&table, &a.into);
                }
                None => {
                    self.vars.insert(a.into.clone());
                }
            },
            StepKind::ExtractTable(a) => {
                if !(1..=1000).contains(&a.max_pages) {
                    self.problem(
                        &kp("max_pages"),
                        format!("`max_pages: {}` is out of range", a.max_pages),
                        Some("use between 1 and 1000".into()),
                    );
                }
                self.tables.insert(a.into.clone(), None);
            }
            StepKind::AssertText { text, .. } => self.text(text, &kp("text"), scope, false),
            StepKind::Click(_)
            | StepKind::Check(_)
            | StepKind::Uncheck(_)
            | StepKind::EnterFrame(_)
            | StepKind::LeaveFrame
            | StepKind::Dialog(_) => {}
        }
    }

    fn write(&mut self, a: &crate::step::WriteArgs, p: &str, scope: &Scope) {
        let kp = |k: &str| child_key(&child_key(p, "write"), k);
        self.text(&a.file, &kp("file"), scope, false);
        let lower = a.file.to_lowercase();
        let is_csv = lower.ends_with(".csv");
        if !(lower.ends_with(".xlsx") || is_csv) {
            self.problem(
                &kp("file"),
                format!(
                    "kobo writes `.xlsx` or `.csv` files, but this file is \"{}\"",
                    a.file
                ),
                Some("end the file name with `.xlsx` or `.csv`".into()),
            );
        }
        if a.file.contains('/') || a.file.contains('\\') || a.file.contains("..") {
            self.problem(
                &kp("file"),
                "`file` is a plain file name; outputs always go into the run's `outputs` folder",
                Some("remove the folder part, e.g. `file: report.xlsx`".into()),
            );
        }
        match (&a.table, a.sheets.is_empty()) {
            (Some(_), false) => self.problem(
                &child_key(p, "write"),
                "`write` takes either `table` or `sheets`, not both",
                None,
            ),
            (None, true) => self.problem(
                &child_key(p, "write"),
                "`write` needs `table` (one sheet) or `sheets` (several)",
                Some("for example `write: { file: report.xlsx, table: invoices }`".into()),
            ),
            _ => {}
        }
        if is_csv && a.sheets.len() > 1 {
            self.problem(
                &kp("sheets"),
                "a CSV file has only one sheet",
                Some("write `.xlsx` for several sheets".into()),
            );
        }
        if let Some(enc) = &a.encoding
            && !matches!(enc.as_str(), "utf8_bom" | "utf8" | "shift_jis")
        {
            self.problem(
                &kp("encoding"),
                format!("unknown encoding `{enc}`"),
                Some("use `utf8_bom` (Excel-friendly, the default), `utf8` or `shift_jis`".into()),
            );
        }
        if a.with_results {
            // `with_results` adds these two columns to what it writes.
            let tables: Vec<String> = a
                .table
                .iter()
                .chain(a.sheets.iter().map(|s| &s.table))
                .cloned()
                .collect();
            for t in tables {
                self.add_column(&t, "result");
                self.add_column(&t, "error");
            }
        }
        if let Some(t) = &a.table {
            self.table(t, &kp("table"));
            let cols: Vec<String> = a.formats.keys().cloned().collect();
            for c in cols {
                self.column(t, &c, &kp("formats"));
            }
        }
        for (i, s) in a.sheets.iter().enumerate() {
            let sp = format!("{}[{i}]", kp("sheets"));
            self.table(&s.table, &child_key(&sp, "table"));
            for c in s.columns.iter().chain(s.formats.keys()) {
                self.column(&s.table, c, &child_key(&sp, "columns"));
            }
        }
    }
}

/// Variables made by `set` (anywhere) and by `extract` outside `for_each`.
fn collect_vars(steps: &[Step], in_loop: bool, out: &mut BTreeSet<String>) {
    for s in steps {
        match &s.kind {
            StepKind::Set(vars) => out.extend(vars.keys().cloned()),
            StepKind::Extract(a) if !in_loop => {
                out.insert(a.into.clone());
            }
            StepKind::ForEach { steps, .. } => collect_vars(steps, true, out),
            _ => {
                for child in s.kind.children() {
                    collect_vars(child, in_loop, out);
                }
            }
        }
    }
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
    fn finds_row_columns() {
        assert_eq!(
            row_columns("{{ row['金額'] * 2 }} {{ row[\"氏名\"] }} {{ row.code }} {{ arrow.x }}"),
            vec!["金額", "氏名", "code"]
        );
    }
}
