//! `Table`: the rows of one sheet held in memory, with named columns.
//!
//! Every spreadsheet a workflow reads becomes a `Table`; steps filter it, add columns,
//! and write it back out. Cells keep their type (number, text, date) so that a date read
//! from Excel is written back as a real Excel date, not as a number or a string.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One cell value. Numbers from spreadsheets come as floats; whole numbers stay `Int`
/// so that `12` prints as `12`, not `12.0`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Cell {
    #[default]
    Empty,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    /// A formula error such as `#DIV/0!`, kept as the spreadsheet showed it.
    Error(String),
}

impl Cell {
    /// Build a number cell, keeping whole numbers as `Int`.
    pub fn number(n: f64) -> Cell {
        if n.fract() == 0.0 && n.abs() < 9.0e15 {
            Cell::Int(n as i64)
        } else {
            Cell::Float(n)
        }
    }

    /// Build a text cell; text that is only whitespace counts as empty.
    pub fn text(s: impl Into<String>) -> Cell {
        let s = s.into();
        if s.trim().is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s)
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Cell::Empty)
    }

    /// The value as a number, if it is one or is text that reads as one
    /// (with thousands separators, full-width digits and a yen sign allowed).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Float(f) => Some(*f),
            Cell::Text(s) => parse_number(s),
            _ => None,
        }
    }
}

impl Cell {
    /// The order `sort` puts cells in: numbers (and text that reads as a number) by value,
    /// then dates and times by time, then other text (and true/false, formula errors) as
    /// text, then empty cells. A total order whatever the mix of kinds, as sorting needs.
    pub fn sort_cmp(&self, other: &Cell) -> std::cmp::Ordering {
        self.sort_key().cmp(&other.sort_key())
    }

    fn sort_key(&self) -> SortKey {
        if let Some(n) = self.as_f64() {
            return SortKey::Number(TotalF64(n));
        }
        match self {
            Cell::Empty => SortKey::Empty,
            Cell::Date(d) => SortKey::Time(d.and_time(chrono::NaiveTime::MIN)),
            Cell::DateTime(d) => SortKey::Time(*d),
            other => SortKey::Text(other.to_string()),
        }
    }
}

/// Cells by kind first (the variants' order), then by value within a kind.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Number(TotalF64),
    Time(NaiveDateTime),
    Text(String),
    Empty,
}

/// A float ordered by `f64::total_cmp`, so that even NaN has a place.
struct TotalF64(f64);

impl PartialEq for TotalF64 {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for TotalF64 {}
impl PartialOrd for TotalF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TotalF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // -0.0 and 0.0 are the same number to a person.
        (self.0 + 0.0).total_cmp(&(other.0 + 0.0))
    }
}

/// Read a number written the way people write them in spreadsheets:
/// `1,234`, `¥1,234`, `１２３４` (full-width), ` 12.5 `.
pub fn parse_number(s: &str) -> Option<f64> {
    let cleaned: String = s
        .trim()
        .chars()
        .filter_map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
            // `\` is how a half-width yen sign arrives from a Shift_JIS file.
            '，' | ',' | '¥' | '￥' | '\\' | '円' | ' ' => None,
            '．' => Some('.'),
            '－' | '−' => Some('-'),
            c => Some(c),
        })
        .collect();
    if cleaned.is_empty() {
        return None;
    }
    cleaned.parse::<f64>().ok().filter(|n| n.is_finite())
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Empty => Ok(()),
            Cell::Text(s) => f.write_str(s),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Float(x) => write!(f, "{x}"),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Cell::DateTime(d) => write!(f, "{}", d.format("%Y-%m-%d %H:%M:%S%.f")),
            Cell::Error(e) => f.write_str(e),
        }
    }
}

/// A sheet in memory: a header of column names and rows of cells.
///
/// `source_rows[i]` is the 1-based row number in the original sheet for `rows[i]`,
/// so that errors and review screens can point at the row the client sees in Excel.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    pub source_rows: Vec<usize>,
}

impl Table {
    pub fn new(columns: Vec<String>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
            source_rows: Vec::new(),
        }
    }

    /// Index of a column by name. Surrounding whitespace and full-width spaces are ignored,
    /// because client headers often carry them by accident.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        let want = normalize_header(name);
        self.columns
            .iter()
            .position(|c| normalize_header(c) == want)
    }

    /// Append a row; the row is padded or cut to the number of columns.
    pub fn push_row(&mut self, mut row: Vec<Cell>, source_row: usize) {
        row.resize(self.columns.len(), Cell::Empty);
        self.rows.push(row);
        self.source_rows.push(source_row);
    }

    /// Add a column (if new) and return its index.
    pub fn ensure_column(&mut self, name: &str) -> usize {
        if let Some(i) = self.column_index(name) {
            return i;
        }
        self.columns.push(name.trim().to_string());
        for row in &mut self.rows {
            row.push(Cell::Empty);
        }
        self.columns.len() - 1
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The index of each named column, or the first name the table does not have.
    pub fn column_indexes(&self, names: &[String]) -> Result<Vec<usize>, String> {
        names
            .iter()
            .map(|n| self.column_index(n).ok_or_else(|| n.clone()))
            .collect()
    }

    /// The rows `keep` says yes to, in order, with their sheet rows.
    pub fn filter<E>(
        &self,
        mut keep: impl FnMut(usize, &[Cell]) -> Result<bool, E>,
    ) -> Result<Table, E> {
        let mut kept = Table::new(self.columns.clone());
        for (i, row) in self.rows.iter().enumerate() {
            if keep(i, row)? {
                kept.push_row(row.clone(), self.source_rows[i]);
            }
        }
        Ok(kept)
    }

    /// Sort the rows by one column (see [`Cell::sort_cmp`]); stable, and empty cells stay
    /// last when descending too.
    pub fn sort_by_column(&mut self, col: usize, descending: bool) {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by(|x, y| {
            let (a, b) = (&self.rows[*x][col], &self.rows[*y][col]);
            let order = a.sort_cmp(b);
            if descending && !a.is_empty() && !b.is_empty() {
                order.reverse()
            } else {
                order
            }
        });
        let mut rows: Vec<Option<Vec<Cell>>> = std::mem::take(&mut self.rows)
            .into_iter()
            .map(Some)
            .collect();
        self.rows = order
            .iter()
            .map(|i| rows[*i].take().unwrap_or_default())
            .collect();
        self.source_rows = order.iter().map(|i| self.source_rows[*i]).collect();
    }

    /// Keep the first row of each group of rows equal in `cols` (all columns when empty), as
    /// people compare them: surrounding spaces ignored, `12` (number) equal to `12` (text).
    pub fn dedupe(&self, cols: &[usize]) -> Table {
        let all: Vec<usize> = (0..self.columns.len()).collect();
        let cols = if cols.is_empty() { &all } else { cols };
        let mut seen = std::collections::HashSet::new();
        self.filter(|_, row| {
            let key: Vec<String> = cols.iter().map(|c| compare_key(&row[*c])).collect();
            Ok::<_, std::convert::Infallible>(seen.insert(key))
        })
        .unwrap_or_else(|never| match never {})
    }

    /// A VLOOKUP: for each row, copy columns of `with` from its first row whose `with_on`
    /// cell matches this row's `on` cell (compared as in [`Table::dedupe`]). `copy` pairs the
    /// column to fill here (added if new) with the column of `with` it comes from. Returns
    /// how many rows had no match (their new cells stay as they were).
    pub fn join(
        &mut self,
        on: usize,
        with: &Table,
        with_on: usize,
        copy: &[(String, usize)],
    ) -> usize {
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        for (i, row) in with.rows.iter().enumerate() {
            index.entry(compare_key(&row[with_on])).or_insert(i);
        }
        let target: Vec<(usize, usize)> = copy
            .iter()
            .map(|(name, from)| (self.ensure_column(name), *from))
            .collect();
        let mut missing = 0;
        for row in &mut self.rows {
            match index.get(&compare_key(&row[on])) {
                Some(wi) => {
                    for (to, from) in &target {
                        row[*to] = with.rows[*wi][*from].clone();
                    }
                }
                None => missing += 1,
            }
        }
        missing
    }

    /// Only the named columns, in the order given.
    pub fn select(&self, columns: &[String]) -> Result<Table, String> {
        let idx = self.column_indexes(columns)?;
        let mut out = Table::new(idx.iter().map(|i| self.columns[*i].clone()).collect());
        for (row, src) in self.rows.iter().zip(&self.source_rows) {
            out.push_row(idx.iter().map(|i| row[*i].clone()).collect(), *src);
        }
        Ok(out)
    }

    /// Set a column (added if new) to one value per row.
    pub fn set_column(&mut self, name: &str, values: Vec<Cell>) {
        let col = self.ensure_column(name);
        for (row, v) in self.rows.iter_mut().zip(values) {
            row[col] = v;
        }
    }

    /// Add a row from (column, cell) pairs; columns it names that are new are added.
    /// Its sheet row is its position.
    pub fn append(&mut self, cells: Vec<(String, Cell)>) {
        let mut row = vec![Cell::Empty; self.columns.len()];
        for (column, cell) in cells {
            let i = self.ensure_column(&column);
            row.resize(self.columns.len(), Cell::Empty);
            row[i] = cell;
        }
        let n = self.len() + 1;
        self.push_row(row, n);
    }
}

/// How cells compare in `dedupe` and `join`: `00123` ≠ `123`, but `12` (number) = `12`
/// (text), and surrounding spaces are ignored.
fn compare_key(c: &Cell) -> String {
    normalize_header(&c.to_string())
}

/// Header names compare without surrounding (ASCII or full-width) spaces and newlines.
pub fn normalize_header(name: &str) -> String {
    name.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_people_write_them() {
        assert_eq!(parse_number("1,234"), Some(1234.0));
        assert_eq!(parse_number("¥12,000"), Some(12000.0));
        assert_eq!(parse_number("\\3,300"), Some(3300.0));
        assert_eq!(parse_number("１２３"), Some(123.0));
        assert_eq!(parse_number(" -5.5 "), Some(-5.5));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number(""), None);
    }

    fn table(columns: &[&str], rows: &[&[Cell]]) -> Table {
        let mut t = Table::new(columns.iter().map(|c| c.to_string()).collect());
        for (i, r) in rows.iter().enumerate() {
            t.push_row(r.to_vec(), i + 2);
        }
        t
    }

    fn texts(t: &Table, col: usize) -> Vec<String> {
        t.rows.iter().map(|r| r[col].to_string()).collect()
    }

    #[test]
    fn filter_keeps_sheet_rows() {
        let t = table(
            &["n"],
            &[
                &[Cell::number(1.0)],
                &[Cell::number(5.0)],
                &[Cell::number(3.0)],
            ],
        );
        let kept = t
            .filter(|_, r| Ok::<_, ()>(r[0].as_f64().unwrap_or(0.0) > 2.0))
            .unwrap();
        assert_eq!(texts(&kept, 0), ["5", "3"]);
        assert_eq!(kept.source_rows, [3, 4]);
        assert_eq!(
            t.filter(|i, _| if i == 1 { Err("no") } else { Ok(true) }),
            Err("no")
        );
    }

    #[test]
    fn sorts_numbers_as_numbers_and_empties_last_both_ways() {
        let mut t = table(
            &["n"],
            &[
                &[Cell::number(10.0)],
                &[Cell::Empty],
                &[Cell::number(9.0)],
                &[Cell::text("100")],
            ],
        );
        t.sort_by_column(0, false);
        assert_eq!(texts(&t, 0), ["9", "10", "100", ""]);
        assert_eq!(t.source_rows, [4, 2, 5, 3]);
        t.sort_by_column(0, true);
        assert_eq!(texts(&t, 0), ["100", "10", "9", ""]);
    }

    #[test]
    fn mixed_kinds_sort_by_kind_and_empties_stay_last_when_descending() {
        let april = Cell::Date(chrono::NaiveDate::from_ymd_opt(2024, 4, 1).unwrap());
        let mut t = table(
            &["v"],
            &[
                &[Cell::Empty],
                &[Cell::Text("678件".into())],
                &[Cell::Text("12345".into())],
                std::slice::from_ref(&april),
                &[Cell::Int(7)],
                &[Cell::Float(9.5)],
            ],
        );
        t.sort_by_column(0, true);
        let sorted: Vec<Cell> = t.rows.iter().map(|r| r[0].clone()).collect();
        assert_eq!(
            sorted,
            [
                Cell::Text("678件".into()),
                april,
                Cell::Text("12345".into()),
                Cell::Float(9.5),
                Cell::Int(7),
                Cell::Empty
            ]
        );
    }

    #[test]
    fn dedupe_compares_as_people_see_cells() {
        let t = table(
            &["name", "n"],
            &[
                &[Cell::text("佐藤 "), Cell::number(12.0)],
                &[Cell::text("佐藤"), Cell::text("12")],
                &[Cell::text("佐藤"), Cell::text("012")],
            ],
        );
        assert_eq!(t.dedupe(&[]).source_rows, [2, 4]);
        assert_eq!(t.dedupe(&[0]).source_rows, [2]);
    }

    #[test]
    fn join_copies_from_the_first_match_and_counts_misses() {
        let mut orders = table(
            &["id", "cust"],
            &[
                &[Cell::number(1.0), Cell::text("A")],
                &[Cell::number(2.0), Cell::text("Z")],
            ],
        );
        let customers = table(
            &["code", "name"],
            &[
                &[Cell::text("A"), Cell::text("Acme")],
                &[Cell::text("A"), Cell::text("second")],
            ],
        );
        let missing = orders.join(1, &customers, 0, &[("name".into(), 1)]);
        assert_eq!(missing, 1);
        assert_eq!(orders.columns, ["id", "cust", "name"]);
        assert_eq!(texts(&orders, 2), ["Acme", ""]);
    }

    #[test]
    fn select_append_and_set_column() {
        let mut t = table(&["a", "b"], &[&[Cell::text("1"), Cell::text("2")]]);
        assert_eq!(t.select(&["b".into(), "x".into()]), Err("x".into()));
        assert_eq!(t.select(&["b".into()]).unwrap().columns, ["b"]);
        t.append(vec![("c".into(), Cell::text("new"))]);
        assert_eq!(t.columns, ["a", "b", "c"]);
        assert_eq!(t.source_rows, [2, 2]);
        t.set_column("a", vec![Cell::text("x"), Cell::text("y")]);
        assert_eq!(texts(&t, 0), ["x", "y"]);
    }

    #[test]
    fn headers_match_despite_stray_spaces() {
        let t = Table::new(vec![" 金額\u{3000}".into(), "Name".into()]);
        assert_eq!(t.column_index("金額"), Some(0));
        assert_eq!(t.column_index("Name "), Some(1));
        assert_eq!(t.column_index("name"), None);
    }
}
