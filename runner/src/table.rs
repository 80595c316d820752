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

    #[test]
    fn headers_match_despite_stray_spaces() {
        let t = Table::new(vec![" 金額\u{3000}".into(), "Name".into()]);
        assert_eq!(t.column_index("金額"), Some(0));
        assert_eq!(t.column_index("Name "), Some(1));
        assert_eq!(t.column_index("name"), None);
    }
}
