//! `SheetView`: a sheet of a run's input or output as the reviewer sees it — one page of rows,
//! numbers grouped and right-aligned, dates as dates, rows marked with their results, and
//! cells that differ from the last approved run of the same workflow highlighted.

use crate::i18n::Lang;
use runner::run::{RowResult, RowStatus};
use runner::table::{Cell, Table, parse_number};
use serde::Serialize;
use std::collections::HashMap;

/// Rows shown per page of a sheet.
pub const PAGE_ROWS: usize = 50;

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub name: String,
    /// A column of numbers: right-aligned.
    pub num: bool,
    /// Not in the compared run's sheet.
    pub new: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ViewCell {
    pub text: String,
    pub num: bool,
    /// The compared run's value, when it differs.
    pub before: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ViewRow {
    pub cells: Vec<ViewCell>,
    /// `failed`, `in_doubt`, `skipped`, `pending` or empty.
    pub class: &'static str,
    pub sheet_row: usize,
    /// No row like it in the compared run.
    pub added: bool,
}

/// How a sheet differs from the same sheet of the compared run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiffSummary {
    pub changed_rows: usize,
    pub added_rows: usize,
    pub removed_rows: usize,
    pub changed_cells: usize,
    pub new_columns: Vec<String>,
    pub missing_columns: Vec<String>,
    /// Rows matched by the first column's values (else by position).
    pub by_key: Option<String>,
}

impl DiffSummary {
    pub fn same(&self) -> bool {
        self.changed_rows == 0
            && self.added_rows == 0
            && self.removed_rows == 0
            && self.new_columns.is_empty()
            && self.missing_columns.is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SheetView {
    pub file: String,
    pub path: String,
    pub sheet: String,
    pub columns: Vec<Column>,
    pub rows: Vec<ViewRow>,
    /// Rows in the sheet, on every page.
    pub total: usize,
    /// The position (1-based) of the first row shown.
    pub first: usize,
    pub error: Option<String>,
    pub diff: Option<DiffSummary>,
}

impl SheetView {
    pub fn failed(file: &str, path: &str, sheet: &str, error: String) -> SheetView {
        SheetView {
            file: file.into(),
            path: path.into(),
            sheet: sheet.into(),
            columns: vec![],
            rows: vec![],
            total: 0,
            first: 0,
            error: Some(error),
            diff: None,
        }
    }
}

/// `1234567` → `1,234,567` (Ukrainian: no-break spaces, as for yen).
pub fn group(digits: &str, lang: Lang) -> String {
    let sep = if lang == Lang::Uk { "\u{a0}" } else { "," };
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", digits),
    };
    let mut out = String::from(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    out
}

/// A number as people read it: digits grouped, decimals as written (at most 6).
pub fn number(n: f64, lang: Lang) -> String {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        return group(&(n as i64).to_string(), lang);
    }
    let text = format!("{:.6}", n);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let point = if lang == Lang::Uk { "," } else { "." };
    if frac.is_empty() {
        group(int, lang)
    } else {
        format!("{}{point}{frac}", group(int, lang))
    }
}

/// Text that is a number and not a code: `54000`, `108,000`, `¥1,200`, but not `00123`.
fn numeric_text(s: &str) -> Option<f64> {
    let t = s.trim();
    let digits: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() > 1 && digits.starts_with('0') && !t.starts_with("0.") {
        return None;
    }
    parse_number(t)
}

/// Columns whose every non-empty cell is a number (and at least one is).
fn numeric_columns(t: &Table) -> Vec<bool> {
    (0..t.columns.len())
        .map(|c| {
            let mut any = false;
            for row in &t.rows {
                match row.get(c) {
                    None | Some(Cell::Empty) => {}
                    Some(Cell::Int(_) | Cell::Float(_)) => any = true,
                    Some(Cell::Text(s)) if numeric_text(s).is_some() => any = true,
                    Some(_) => return false,
                }
            }
            any
        })
        .collect()
}

/// A cell as shown: numbers grouped, dates as dates (no midnight time).
pub fn show_cell(cell: &Cell, numeric_column: bool, lang: Lang) -> ViewCell {
    let (text, num) = match cell {
        Cell::Int(i) => (group(&i.to_string(), lang), true),
        Cell::Float(x) => (number(*x, lang), true),
        Cell::Text(s) if numeric_column => match numeric_text(s) {
            Some(n) => (number(n, lang), true),
            None => (s.clone(), false),
        },
        Cell::Date(d) => (d.format("%Y-%m-%d").to_string(), false),
        Cell::DateTime(d) => {
            let midnight = d.time() == chrono::NaiveTime::MIN;
            let f = if midnight {
                "%Y-%m-%d"
            } else {
                "%Y-%m-%d %H:%M"
            };
            (d.format(f).to_string(), false)
        }
        other => (other.to_string(), false),
    };
    ViewCell {
        text,
        num,
        before: None,
    }
}

/// Compare by value, not by how it was stored: `108000` (a number) is `108,000` (text).
fn same_value(a: &Cell, b: &Cell) -> bool {
    if a == b {
        return true;
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => a.to_string().trim() == b.to_string().trim(),
    }
}

fn row_class(status: &str) -> &'static str {
    match status {
        "failed" => "failed",
        "in_doubt" => "in_doubt",
        "skipped" => "skipped",
        "pending" => "pending",
        _ => "",
    }
}

/// How the rows of a sheet are marked with results.
pub enum Marks<'a> {
    /// The sheet has a `result` column (an output written `with_results`).
    ResultColumn(usize),
    /// The i-th row is the i-th result of this table.
    ByPosition(&'a [RowResult], &'a str),
    /// A row is the result with this sheet row (an input read as a loop's table).
    BySheetRow(HashMap<usize, RowStatus>),
    None,
}

impl Marks<'_> {
    fn class(&self, index: usize, cells: &[Cell], sheet_row: usize) -> &'static str {
        match self {
            Marks::ResultColumn(c) => {
                row_class(&cells.get(*c).map(Cell::to_string).unwrap_or_default())
            }
            Marks::ByPosition(rows, table) => rows
                .iter()
                .find(|r| r.table == *table && r.row == index + 1)
                .map(|r| row_class(r.status.as_str()))
                .unwrap_or(""),
            Marks::BySheetRow(m) => m
                .get(&sheet_row)
                .map(|s| row_class(s.as_str()))
                .unwrap_or(""),
            Marks::None => "",
        }
    }
}

/// The key column when rows can be matched by it: the first column, non-empty and unique
/// in both tables, with the same name.
fn key_column(now: &Table, before: &Table) -> Option<(usize, usize)> {
    let name = now.columns.first()?;
    let b = before.column_index(name)?;
    let unique = |t: &Table, c: usize| {
        let mut seen = std::collections::HashSet::new();
        t.rows.iter().all(|r| {
            let v = r.get(c).map(Cell::to_string).unwrap_or_default();
            !v.trim().is_empty() && seen.insert(v)
        })
    };
    (unique(now, 0) && unique(before, b)).then_some((0, b))
}

/// Which file and sheet a view shows: the file's name, its path in the run folder, the
/// sheet's name (empty for a CSV file).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub file: &'a str,
    pub path: &'a str,
    pub sheet: &'a str,
}

/// One page (`page`, from 1) of `t`, marked and compared with `before` when given.
pub fn view(
    src: Source<'_>,
    t: &Table,
    marks: &Marks,
    before: Option<&Table>,
    page: usize,
    lang: Lang,
) -> SheetView {
    let numeric = numeric_columns(t);
    let start = page.saturating_sub(1) * PAGE_ROWS;
    // Each row's counterpart in the compared table, by key or by position.
    let mut diff = None;
    let mut partner: Vec<Option<usize>> = vec![None; t.rows.len()];
    let mut column_map: Vec<Option<usize>> = vec![None; t.columns.len()];
    if let Some(b) = before {
        let mut d = DiffSummary::default();
        for (i, c) in t.columns.iter().enumerate() {
            column_map[i] = b.column_index(c);
            if column_map[i].is_none() {
                d.new_columns.push(c.clone());
            }
        }
        d.missing_columns = b
            .columns
            .iter()
            .filter(|c| t.column_index(c).is_none())
            .cloned()
            .collect();
        match key_column(t, b) {
            Some((k, bk)) => {
                d.by_key = Some(t.columns[k].clone());
                let index: HashMap<String, usize> = b
                    .rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (r.get(bk).map(Cell::to_string).unwrap_or_default(), i))
                    .collect();
                let mut matched = 0;
                for (i, r) in t.rows.iter().enumerate() {
                    let key = r.get(k).map(Cell::to_string).unwrap_or_default();
                    partner[i] = index.get(&key).copied();
                    matched += partner[i].is_some() as usize;
                }
                d.removed_rows = b.rows.len() - matched;
            }
            None => {
                for (i, p) in partner.iter_mut().enumerate() {
                    *p = (i < b.rows.len()).then_some(i);
                }
                d.removed_rows = b.rows.len().saturating_sub(t.rows.len());
            }
        }
        for (i, r) in t.rows.iter().enumerate() {
            let Some(p) = partner[i] else {
                d.added_rows += 1;
                continue;
            };
            let changed = (0..t.columns.len())
                .filter(|c| {
                    column_map[*c].is_some_and(|bc| {
                        !same_value(
                            r.get(*c).unwrap_or(&Cell::Empty),
                            b.rows[p].get(bc).unwrap_or(&Cell::Empty),
                        )
                    })
                })
                .count();
            if changed > 0 {
                d.changed_rows += 1;
                d.changed_cells += changed;
            }
        }
        diff = Some(d);
    }
    let rows = t
        .rows
        .iter()
        .zip(&t.source_rows)
        .enumerate()
        .skip(start)
        .take(PAGE_ROWS)
        .map(|(i, (cells, source))| {
            let shown = cells
                .iter()
                .enumerate()
                .map(|(c, cell)| {
                    let mut v = show_cell(cell, numeric.get(c).copied().unwrap_or(false), lang);
                    if let (Some(b), Some(p), Some(Some(bc))) =
                        (before, partner[i], column_map.get(c))
                    {
                        let old = b.rows[p].get(*bc).unwrap_or(&Cell::Empty);
                        if !same_value(cell, old) {
                            let shown_old =
                                show_cell(old, numeric.get(c).copied().unwrap_or(false), lang);
                            v.before = Some(shown_old.text);
                        }
                    }
                    v
                })
                .collect();
            ViewRow {
                cells: shown,
                class: marks.class(i, cells, *source),
                sheet_row: *source,
                added: before.is_some() && partner[i].is_none(),
            }
        })
        .collect();
    SheetView {
        file: src.file.into(),
        path: src.path.into(),
        sheet: src.sheet.into(),
        columns: t
            .columns
            .iter()
            .enumerate()
            .map(|(i, name)| Column {
                name: name.clone(),
                num: numeric[i],
                new: before.is_some() && column_map[i].is_none(),
            })
            .collect(),
        rows,
        total: t.rows.len(),
        first: start + 1,
        error: None,
        diff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_codes_are_not_numbers() {
        assert_eq!(group("1234567", Lang::En), "1,234,567");
        assert_eq!(group("-1000", Lang::Ja), "-1,000");
        assert_eq!(group("999", Lang::En), "999");
        assert_eq!(number(1234.5, Lang::En), "1,234.5");
        assert_eq!(number(1234.5, Lang::Uk), "1\u{a0}234,5");
        assert_eq!(numeric_text("108,000"), Some(108000.0));
        assert_eq!(numeric_text("00123"), None, "a code keeps its zeros");
        assert_eq!(numeric_text("0.5"), Some(0.5));
        let date = chrono::NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        let midnight = date.and_hms_opt(0, 0, 0).unwrap();
        assert_eq!(
            show_cell(&Cell::DateTime(midnight), false, Lang::En).text,
            "2026-10-31"
        );
    }

    const SRC: Source<'static> = Source {
        file: "f",
        path: "p",
        sheet: "s",
    };

    fn table(columns: &[&str], rows: &[&[&str]]) -> Table {
        let mut t = Table::new(columns.iter().map(|c| c.to_string()).collect());
        for (i, r) in rows.iter().enumerate() {
            t.push_row(r.iter().map(|c| Cell::text(*c)).collect(), i + 2);
        }
        t
    }

    #[test]
    fn rows_are_matched_by_key_and_changed_cells_named() {
        let before = table(
            &["no", "amount"],
            &[&["A1", "100"], &["A2", "200"], &["A3", "300"]],
        );
        let now = table(
            &["no", "amount", "tax"],
            &[&["A2", "200"], &["A1", "150"], &["A4", "400"]],
        );
        let v = view(SRC, &now, &Marks::None, Some(&before), 1, Lang::En);
        let d = v.diff.unwrap();
        assert_eq!(
            (d.changed_rows, d.added_rows, d.removed_rows),
            (1, 1, 1),
            "{d:?}"
        );
        assert_eq!(d.new_columns, vec!["tax".to_string()]);
        assert_eq!(d.by_key.as_deref(), Some("no"));
        assert_eq!(v.rows[1].cells[1].before.as_deref(), Some("100"));
        assert_eq!(v.rows[1].cells[1].text, "150");
        assert!(v.rows[0].cells[1].before.is_none());
        assert!(v.rows[2].added);
        assert!(v.columns[1].num && !v.columns[0].num);
    }

    #[test]
    fn pages_show_their_rows() {
        let rows: Vec<Vec<String>> = (1..=120).map(|i| vec![format!("r{i}")]).collect();
        let refs: Vec<Vec<&str>> = rows
            .iter()
            .map(|r| r.iter().map(String::as_str).collect())
            .collect();
        let slices: Vec<&[&str]> = refs.iter().map(Vec::as_slice).collect();
        let t = table(&["k"], &slices);
        let v = view(SRC, &t, &Marks::None, None, 3, Lang::En);
        assert_eq!((v.first, v.rows.len(), v.total), (101, 20, 120));
        assert_eq!(v.rows[0].cells[0].text, "r101");
    }
}
