//! Spreadsheet steps: `read` another sheet, `filter`, `compute`, `sort`, `dedupe`, `join`,
//! `new_table`, `append`, and `write` the results.
//!
//! The work on rows is done by [`Table`]'s own methods; these steps find the tables, fill in
//! templates for each row, and say what they did in the run's log.

use super::{Step, Written, step_kinds, template_text};
use crate::engine::{Execution, Flow, Frame, StepFailure, step_name};
use crate::expr::{self, value_cell};
use crate::reader::{Reader, describe_value};
use crate::sheet::{
    self, ColumnFormat, CsvEncoding, HeaderRow, MergedCells, OutputSheet, SheetRef, SheetSpec,
};
use crate::source_map::child_key;
use crate::table::Table;
use crate::validate::{Scope, Walker, hint_for};
use serde::Deserialize;
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

step_kinds! {
    #[derive(Debug, Clone)]
    pub enum TableStep {
        "read" => Read(ReadArgs),
        "filter" => Filter(FilterArgs),
        "compute" => Compute(ComputeArgs),
        "sort" => Sort(SortArgs),
        "dedupe" => Dedupe(DedupeArgs),
        "join" => Join(JoinArgs),
        "new_table" => NewTable(NewTableArgs),
        "append" => Append(AppendArgs),
        "write" => Write(WriteArgs),
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

/// `compute: { table: invoices, column: 税込, value: "{{ row['金額'] * 1.1 }}" }`; with
/// `where:`, only the rows where it is true are computed (the others keep their cell).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeArgs {
    pub table: String,
    pub column: String,
    pub value: Value,
    #[serde(default, rename = "where")]
    pub condition: Option<String>,
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

impl TableStep {
    // ---- reading ----

    pub fn parse(r: &mut Reader, s: &Written) -> Option<TableStep> {
        Some(match s.kind {
            "read" => TableStep::Read(s.args(r)?),
            "filter" => TableStep::Filter(s.args(r)?),
            "compute" => TableStep::Compute(s.args(r)?),
            "sort" => TableStep::Sort(s.args(r)?),
            "dedupe" => TableStep::Dedupe(s.args(r)?),
            "join" => TableStep::Join(s.args(r)?),
            "new_table" => TableStep::NewTable(s.args(r)?),
            "append" => TableStep::Append(s.args(r)?),
            "write" => TableStep::Write(s.args(r)?),
            other => unreachable!("`{other}` is not a table step"),
        })
    }

    // ---- checking ----

    pub(crate) fn check(&self, w: &mut Walker, step: &Step, scope: &Scope) {
        let own = child_key(&step.path, self.keyword());
        let kp = |k: &str| child_key(&own, k);
        let rows_of = |table: &str| Scope {
            row_of: Some(table.to_string()),
            ..scope.clone()
        };
        match self {
            TableStep::Read(a) => {
                if let Some(range) = &a.range {
                    w.range(range, &kp("range"));
                }
                if !w.workflow().inputs.iter().any(|i| i.name == a.input) {
                    let known: Vec<String> =
                        w.workflow().inputs.iter().map(|i| i.name.clone()).collect();
                    let known: Vec<&str> = known.iter().map(String::as_str).collect();
                    w.problem(
                        &kp("input"),
                        format!("there is no input named `{}`", a.input),
                        Some(hint_for(&a.input, &known, "inputs")),
                    );
                }
                w.tables.insert(a.into.clone(), None);
            }
            TableStep::Filter(a) => {
                w.table(&a.table, &kp("table"));
                w.text(&a.condition, &kp("where"), &rows_of(&a.table), true);
                if let Some(into) = &a.into {
                    let cols = w.tables.get(&a.table).cloned().flatten();
                    w.tables.insert(into.clone(), cols);
                }
            }
            TableStep::Compute(a) => {
                w.table(&a.table, &kp("table"));
                if let Some(c) = &a.condition {
                    w.text(c, &kp("where"), &rows_of(&a.table), true);
                }
                w.text(
                    &template_text(&a.value),
                    &kp("value"),
                    &rows_of(&a.table),
                    false,
                );
                w.add_column(&a.table, &a.column);
            }
            TableStep::Sort(a) => {
                w.table(&a.table, &kp("table"));
                w.column(&a.table, &a.by, &kp("by"));
            }
            TableStep::Dedupe(a) => {
                w.table(&a.table, &kp("table"));
                for c in &a.by {
                    w.column(&a.table, c, &kp("by"));
                }
            }
            TableStep::Join(a) => {
                w.table(&a.table, &kp("table"));
                w.table(&a.with, &kp("with"));
                let with_on = a.with_on.as_deref().unwrap_or(&a.on);
                w.column(&a.table, &a.on, &kp("on"));
                w.column(&a.with, with_on, &kp("on"));
                for c in &a.columns {
                    w.column(&a.with, c, &kp("columns"));
                }
                // Without `columns`, join copies every column of `with` but its key.
                let copied = if a.columns.is_empty() {
                    w.columns_of(&a.with)
                        .map(|cols| cols.iter().filter(|c| *c != with_on).cloned().collect())
                } else {
                    Some(a.columns.clone())
                };
                match copied {
                    Some(cols) => {
                        for c in &cols {
                            w.add_column(&a.table, c);
                        }
                    }
                    // The columns of `with` are not known before a run, so neither are these.
                    None => {
                        if let Some(known) = w.tables.get_mut(&a.table) {
                            *known = None;
                        }
                    }
                }
            }
            TableStep::NewTable(a) => {
                w.tables.insert(a.name.clone(), Some(a.columns.clone()));
            }
            TableStep::Append(a) => {
                w.table(&a.table, &kp("table"));
                for (col, v) in &a.values {
                    w.text(&template_text(v), &kp("values"), scope, false);
                    w.add_column(&a.table, col);
                }
            }
            TableStep::Write(a) => check_write(w, a, &own, scope),
        }
    }

    // ---- running ----

    pub(crate) async fn run(
        &self,
        x: &mut Execution<'_>,
        step: &Step,
        frame: &Frame,
    ) -> Result<Flow, StepFailure> {
        let no_column = |table: &str, c: &str| format!("table `{table}` has no column `{c}`");
        match self {
            TableStep::Read(a) => {
                let Some(path) = x.input_files.get(&a.input).cloned() else {
                    return Err(x.failure(
                        step,
                        frame,
                        format!("no file was given for input `{}`", a.input),
                    ));
                };
                let spec = sheet_spec(a.sheet.as_ref(), a.header_row, a.range.clone(), a.merged);
                let report = sheet::read(&path, &spec).map_err(|e| {
                    x.failure(step, frame, e.shown_as(file_name(&path)).to_string())
                })?;
                let place = read_place(&path, &report);
                for warning in &report.warnings {
                    x.log
                        .warn(Some(&step_name(step)), None, &format!("{place}: {warning}"));
                }
                x.tables.insert(a.into.clone(), report.table);
            }
            TableStep::Filter(a) => {
                let source = x.take_table(&a.table, step, frame)?;
                let kept = filter(x, step, frame, a, &source);
                let total = source.len();
                x.put_table(&a.table, source);
                let kept = kept?;
                let message = format!("kept {} of {total} rows of `{}`", kept.len(), a.table);
                x.log.info(Some(&step_name(step)), None, &message);
                let into = a.into.clone().unwrap_or_else(|| a.table.clone());
                x.replace_table(into, kept);
            }
            TableStep::Compute(a) => {
                let source = x.take_table(&a.table, step, frame)?;
                let values = compute(x, step, frame, a, &source);
                x.put_table(&a.table, source);
                x.table_mut(&a.table, step, frame)?
                    .set_column(&a.column, values?);
            }
            TableStep::Sort(a) => {
                let t = x.table_mut(&a.table, step, frame)?;
                let Some(col) = t.column_index(&a.by) else {
                    return Err(x.failure(step, frame, no_column(&a.table, &a.by)));
                };
                t.sort_by_column(col, a.descending);
                x.forget_row_results(&a.table);
            }
            TableStep::Dedupe(a) => {
                let t = x.table(&a.table, step, frame)?;
                let cols = t
                    .column_indexes(&a.by)
                    .map_err(|c| x.failure(step, frame, no_column(&a.table, &c)))?;
                let kept = t.dedupe(&cols);
                let removed = t.len() - kept.len();
                x.log.info(
                    Some(&step_name(step)),
                    None,
                    &format!("removed {removed} duplicate rows from `{}`", a.table),
                );
                x.replace_table(a.table.clone(), kept);
            }
            TableStep::Join(a) => {
                let with = x.table(&a.with, step, frame)?.clone();
                let with_on = a.with_on.as_deref().unwrap_or(&a.on);
                let Some(key_col) = with.column_index(with_on) else {
                    return Err(x.failure(step, frame, no_column(&a.with, with_on)));
                };
                let names: Vec<String> = if a.columns.is_empty() {
                    let others = with.columns.iter().filter(|c| c.as_str() != with_on);
                    others.cloned().collect()
                } else {
                    a.columns.clone()
                };
                let from = with
                    .column_indexes(&names)
                    .map_err(|c| x.failure(step, frame, no_column(&a.with, &c)))?;
                let copy: Vec<(String, usize)> = names.into_iter().zip(from).collect();
                let t = x.table_mut(&a.table, step, frame)?;
                let Some(on_col) = t.column_index(&a.on) else {
                    return Err(x.failure(step, frame, no_column(&a.table, &a.on)));
                };
                let missing = t.join(on_col, &with, key_col, &copy);
                if missing > 0 {
                    x.log.warn(
                        Some(&step_name(step)),
                        None,
                        &format!(
                            "{missing} rows of `{}` had no match in `{}`",
                            a.table, a.with
                        ),
                    );
                }
            }
            TableStep::NewTable(a) => {
                x.replace_table(a.name.clone(), Table::new(a.columns.clone()));
            }
            TableStep::Append(a) => {
                let mut cells = Vec::new();
                for (col, v) in &a.values {
                    let value = x.render(&template_text(v), frame, step)?;
                    cells.push((col.clone(), value_cell(&value)));
                }
                x.table_mut(&a.table, step, frame)?.append(cells);
            }
            TableStep::Write(a) => write(x, step, a, frame).await?,
        }
        Ok(Flow::Next)
    }
}

/// The rows of `source` where `where:` is true. The condition is compiled once; each row's
/// names are looked up only when the condition reads them.
fn filter(
    x: &Execution<'_>,
    step: &Step,
    frame: &Frame,
    a: &FilterArgs,
    source: &Arc<Table>,
) -> Result<Table, StepFailure> {
    let condition = x.x.compile_condition(&a.condition).map_err(|e| {
        x.failure(
            step,
            frame,
            format!("cannot read `where: {}`: {e}", a.condition),
        )
    })?;
    let base = x.context(frame);
    let statuses = x.row_statuses(&a.table);
    source.filter(|i, _| {
        let ctx = expr::row_scope(&base, source, i, statuses(i));
        condition.eval_bool(&ctx).map_err(|e| {
            x.row_failure(
                step,
                &a.table,
                i,
                source.source_rows[i],
                format!("cannot work out `where: {}`: {e}", a.condition),
            )
        })
    })
}

/// The new cell of each row of `source`: `value` where `where:` is true (or always), the
/// row's own cell elsewhere.
fn compute(
    x: &Execution<'_>,
    step: &Step,
    frame: &Frame,
    a: &ComputeArgs,
    source: &Arc<Table>,
) -> Result<Vec<crate::table::Cell>, StepFailure> {
    let src = template_text(&a.value);
    let value =
        x.x.compile(&src)
            .map_err(|e| x.failure(step, frame, format!("cannot read `{}`: {e}", a.column)))?;
    let only = match &a.condition {
        Some(c) => Some(
            x.x.compile_condition(c)
                .map_err(|e| x.failure(step, frame, format!("cannot read `where: {c}`: {e}")))?,
        ),
        None => None,
    };
    let base = x.context(frame);
    let statuses = x.row_statuses(&a.table);
    let col = source.column_index(&a.column);
    let mut values = Vec::with_capacity(source.len());
    for i in 0..source.len() {
        let ctx = expr::row_scope(&base, source, i, statuses(i));
        let fail = |what: &str, e: expr::ExprError| {
            x.row_failure(
                step,
                &a.table,
                i,
                source.source_rows[i],
                format!("cannot work out `{what}`: {e}"),
            )
        };
        let wanted = match &only {
            Some(c) => c.eval_bool(&ctx).map_err(|e| fail("where", e))?,
            None => true,
        };
        values.push(if wanted {
            value
                .eval(&ctx)
                .map(|v| value_cell(&v))
                .map_err(|e| fail(&a.column, e))?
        } else {
            // A row left out keeps what it has.
            col.map(|c| source.rows[i][c].clone()).unwrap_or_default()
        });
    }
    Ok(values)
}

fn check_write(w: &mut Walker, a: &WriteArgs, own: &str, scope: &Scope) {
    let kp = |k: &str| child_key(own, k);
    w.text(&a.file, &kp("file"), scope, false);
    let lower = a.file.to_lowercase();
    let is_csv = lower.ends_with(".csv");
    if !(lower.ends_with(".xlsx") || is_csv) {
        w.problem(
            &kp("file"),
            format!(
                "kobo writes `.xlsx` or `.csv` files, but this file is \"{}\"",
                a.file
            ),
            Some("end the file name with `.xlsx` or `.csv`".into()),
        );
    }
    if a.file.contains('/') || a.file.contains('\\') || a.file.contains("..") {
        w.problem(
            &kp("file"),
            "`file` is a plain file name; outputs always go into the run's `outputs` folder",
            Some("remove the folder part, e.g. `file: report.xlsx`".into()),
        );
    }
    match (&a.table, a.sheets.is_empty()) {
        (Some(_), false) => w.problem(
            own,
            "`write` takes either `table` or `sheets`, not both",
            None,
        ),
        (None, true) => w.problem(
            own,
            "`write` needs `table` (one sheet) or `sheets` (several)",
            Some("for example `write: { file: report.xlsx, table: invoices }`".into()),
        ),
        _ => {}
    }
    if is_csv && a.sheets.len() > 1 {
        w.problem(
            &kp("sheets"),
            "a CSV file has only one sheet",
            Some("write `.xlsx` for several sheets".into()),
        );
    }
    if let Some(enc) = &a.encoding
        && !matches!(enc.as_str(), "utf8_bom" | "utf8" | "shift_jis")
    {
        w.problem(
            &kp("encoding"),
            format!("unknown encoding `{enc}`"),
            Some("use `utf8_bom` (Excel-friendly, the default), `utf8` or `shift_jis`".into()),
        );
    }
    if a.with_results {
        // `with_results` adds these two columns to what it writes.
        for t in a.table.iter().chain(a.sheets.iter().map(|s| &s.table)) {
            w.add_column(t, "result");
            w.add_column(t, "error");
        }
    }
    if let Some(t) = &a.table {
        w.table(t, &kp("table"));
        for c in a.formats.keys() {
            w.column(t, c, &kp("formats"));
        }
    }
    for (i, s) in a.sheets.iter().enumerate() {
        let sp = format!("{}[{i}]", kp("sheets"));
        w.table(&s.table, &child_key(&sp, "table"));
        for c in s.columns.iter().chain(s.formats.keys()) {
            w.column(&s.table, c, &child_key(&sp, "columns"));
        }
    }
}

/// One sheet `write` will make: (table, sheet name, columns to keep, formats by column).
type SheetPlan = (String, String, Vec<String>, BTreeMap<String, String>);

async fn write(
    x: &mut Execution<'_>,
    step: &Step,
    a: &WriteArgs,
    frame: &Frame,
) -> Result<(), StepFailure> {
    let name = crate::run_folder::safe_file_name(&x.render_text(&a.file, frame, step)?);
    let path = x.folder.outputs_dir().join(&name);
    let new_file = !x.outputs.contains(&path);
    if new_file && x.outputs.len() as u64 >= x.limits.outputs {
        return Err(x.failure(
            step,
            frame,
            format!(
                "the run would write more than {} output files, the bound for one run (`outputs` in the admin's limits.yaml; a workflow may ask for more with `limits: {{ outputs: … }}`); write the rows into fewer files, such as one file with several sheets",
                x.limits.outputs
            ),
        ));
    }
    let is_csv = name.to_lowercase().ends_with(".csv");
    let mut parts: Vec<SheetPlan> = Vec::new();
    if let Some(t) = &a.table {
        parts.push((t.clone(), t.clone(), Vec::new(), a.formats.clone()));
    }
    for s in &a.sheets {
        let mut formats = a.formats.clone();
        formats.extend(s.formats.clone());
        parts.push((
            s.table.clone(),
            s.name.clone().unwrap_or_else(|| s.table.clone()),
            s.columns.clone(),
            formats,
        ));
    }
    let mut prepared: Vec<(String, Table, Vec<ColumnFormat>)> = Vec::new();
    for (table, sheet_name, mut columns, formats) in parts {
        let mut t = x.table(&table, step, frame)?.clone();
        if a.with_results {
            x.add_result_columns(&table, &mut t);
            // `with_results` asks for the outcome columns: keep them when `columns` picks the others.
            if !columns.is_empty() {
                let words = x.result_words();
                for c in [words.result, words.error] {
                    if t.column_index(c).is_some() && !columns.iter().any(|x| x == c) {
                        columns.push(c.to_string());
                    }
                }
            }
        }
        if !columns.is_empty() {
            t = t.select(&columns).map_err(|c| {
                x.failure(step, frame, format!("table `{table}` has no column `{c}`"))
            })?;
        }
        let formats = formats
            .into_iter()
            .map(|(column, format)| ColumnFormat { column, format })
            .collect();
        prepared.push((sheet_name, t, formats));
    }
    // A client's workbook ends with the rows she should look at, by their row in her file.
    if a.with_results && x.for_client() && !is_csv {
        let words = x.result_words();
        let mut check = Table::new(vec![
            words.row.to_string(),
            words.result.to_string(),
            words.error.to_string(),
        ]);
        for table in a.table.iter().chain(a.sheets.iter().map(|s| &s.table)) {
            for row in x.rows_to_check(table) {
                let n = check.rows.len() + 2;
                check.push_row(row, n);
            }
        }
        if !check.rows.is_empty() {
            prepared.push((words.check_sheet.to_string(), check, Vec::new()));
        }
    }
    let result = if is_csv {
        let encoding = match a.encoding.as_deref() {
            Some("utf8") => CsvEncoding::Utf8,
            Some("shift_jis") => CsvEncoding::ShiftJis,
            _ => CsvEncoding::Utf8Bom,
        };
        sheet::write_csv(&path, &prepared[0].1, encoding)
    } else {
        let sheets: Vec<OutputSheet<'_>> = prepared
            .iter()
            .map(|(n, t, f)| OutputSheet {
                name: n.clone(),
                table: t,
                formats: f.clone(),
            })
            .collect();
        sheet::write_xlsx(&path, &sheets)
    };
    result.map_err(|e| x.failure(step, frame, e.to_string()))?;
    let written: u64 = std::fs::read_dir(x.folder.outputs_dir())
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    let bound = x.limits.output_mb.saturating_mul(1024 * 1024);
    if written > bound {
        let _ = std::fs::remove_file(&path);
        return Err(x.failure(
            step,
            frame,
            format!(
                "the run's output files would be {:.1} MB, more than {} MB, the bound for one run (`output_mb` in the admin's limits.yaml; a workflow may ask for more with `limits: {{ output_mb: … }}`); `outputs/{name}` was not kept",
                written as f64 / (1024.0 * 1024.0),
                x.limits.output_mb
            ),
        ));
    }
    let rows: usize = prepared.iter().map(|p| p.1.len()).sum();
    x.log.info(
        Some(&step_name(step)),
        None,
        &format!("wrote `outputs/{name}` ({rows} rows)"),
    );
    x.register(&path, "output").await;
    if new_file {
        x.outputs.push(path);
    }
    crate::fault::point("write-output").await;
    Ok(())
}

/// What to read of a sheet, from the keys a workflow gives (`inputs` or `read`).
pub(crate) fn sheet_spec(
    sheet: Option<&SheetName>,
    header_row: Option<HeaderRow>,
    range: Option<String>,
    merged: MergedCells,
) -> SheetSpec {
    SheetSpec {
        sheet: match sheet {
            Some(SheetName::Index(i)) => SheetRef::Index(*i),
            Some(SheetName::Name(n)) => SheetRef::Name(n.clone()),
            None => SheetRef::Active,
        },
        header_row: header_row.unwrap_or(HeaderRow::Row(1)),
        range,
        merged,
    }
}

/// Which sheet of which file was read (`the sheet `名簿` of `roster.xlsx``), or the file
/// for CSV (`the file `invoices.csv``).
pub(crate) fn read_place(path: &std::path::Path, report: &sheet::ReadReport) -> String {
    match &report.sheet {
        Some(s) => format!("the sheet `{s}` of `{}`", file_name(path)),
        None => format!("the file `{}`", file_name(path)),
    }
}

/// The name of an input file as the trainee gave it (kobo reads a copy in the run folder).
pub(crate) fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| path.display().to_string())
}
