//! Turning the rows of a sheet into a [`Table`]: find the header row inside the chosen
//! range, name the columns (merged, blank and repeated headers), skip empty rows, and drop
//! empty rows and columns at the edges. Shared by the workbook and CSV readers.

use super::range::{CellRange, cell_name, column_letter};
use super::{HeaderRow, ReadReport, SheetError, SheetSpec};
use crate::table::{Cell, Table, normalize_header, parse_number};
use std::collections::HashSet;
use std::path::Path;

/// Which rows and columns of a sheet make the table; all 0-based.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Selection {
    /// `None` for `header_row: none`: every row is data.
    pub header_row: Option<usize>,
    pub range: CellRange,
}

impl Selection {
    /// Check the spec against the file it is for. With a range, the default header row
    /// (row 1) means "the first row of the range".
    pub(crate) fn new(path: &Path, spec: &SheetSpec) -> Result<Selection, SheetError> {
        let header_row = match spec.header_row {
            HeaderRow::Row(r) => Some(r.max(1) - 1),
            HeaderRow::None => None,
        };
        let Some(text) = &spec.range else {
            return Ok(Selection {
                header_row,
                range: CellRange::ALL,
            });
        };
        let range = CellRange::parse(text).map_err(|reason| SheetError::BadRange {
            path: path.into(),
            range: text.clone(),
            reason,
        })?;
        let header_row = header_row.map(|h| if h == 0 { range.first_row } else { h });
        if let Some(h) = header_row
            && !range.contains_row(h)
        {
            return Err(SheetError::HeaderOutsideRange {
                path: path.into(),
                header_row: h + 1,
                range: text.clone(),
            });
        }
        Ok(Selection { header_row, range })
    }

    /// First and last (if bounded) 0-based column to read.
    pub(crate) fn columns(&self) -> (usize, Option<usize>) {
        (self.range.first_col, self.range.last_col)
    }

    /// True once `row` is past the range, so readers can stop early.
    pub(crate) fn is_past(&self, row: usize) -> bool {
        self.range.last_row.is_some_and(|last| row > last)
    }

    /// True for rows before the range and after it: not needed.
    pub(crate) fn skips(&self, row: usize) -> bool {
        row < self.range.first_row || self.is_past(row)
    }

    /// The first 0-based row that may hold data (below the header, if there is one).
    pub(crate) fn first_data_row(&self) -> usize {
        self.header_row.map_or(self.range.first_row, |h| h + 1)
    }
}

/// Collects rows (starting at the selection's first column) and builds the table.
pub(crate) struct Assembler<'a> {
    path: &'a Path,
    sheet: &'a str,
    selection: Selection,
    header: Option<Vec<Cell>>,
    /// Rows between the range's top and the header (title rows), kept for the header hint.
    above: Vec<(usize, Vec<Cell>)>,
    first_filled_row: Option<usize>,
    last_filled_row: Option<usize>,
    width: usize,
    rows: Vec<Vec<Cell>>,
    source_rows: Vec<usize>,
}

impl<'a> Assembler<'a> {
    pub(crate) fn new(path: &'a Path, sheet: &'a str, selection: Selection) -> Self {
        Assembler {
            path,
            sheet,
            selection,
            header: None,
            above: Vec::new(),
            first_filled_row: None,
            last_filled_row: None,
            width: 0,
            rows: Vec::new(),
            source_rows: Vec::new(),
        }
    }

    /// The 0-based header row, if the table has one.
    pub(crate) fn header_row(&self) -> Option<usize> {
        self.selection.header_row
    }

    /// Whether the cells of a row above the header are still wanted (for the hint when the
    /// header looks wrong); past that, `note_filled` is enough.
    pub(crate) fn wants_above(&self) -> bool {
        self.above.len() < HINT_ROWS
    }

    /// Record that a row above the header (a title row) has something in it, without
    /// handing over its cells; used for the hint when the header row is empty.
    pub(crate) fn note_filled(&mut self, row: usize) {
        self.first_filled_row.get_or_insert(row);
        self.last_filled_row = Some(row);
    }

    /// Whether some column has no header name of its own, so that merged header regions
    /// are worth looking up (which costs the workbook reader a second pass over the sheet).
    pub(crate) fn has_blank_header(&self) -> bool {
        self.header
            .as_ref()
            .is_some_and(|h| h.len() < self.width || h.iter().any(Cell::is_empty))
    }

    /// Give one row of the sheet (0-based `row`). `cells[0]` is the selection's first column.
    pub(crate) fn push(&mut self, row: usize, mut cells: Vec<Cell>) {
        while cells.last().is_some_and(Cell::is_empty) {
            cells.pop();
        }
        if !cells.is_empty() {
            self.first_filled_row.get_or_insert(row);
            self.last_filled_row = Some(row);
        }
        if cells.is_empty() {
            return;
        }
        let header_row = self.selection.header_row;
        if let Some(h) = header_row
            && row < h
        {
            if self.wants_above() {
                self.above.push((row, cells));
            }
            return;
        }
        self.width = self.width.max(cells.len());
        if Some(row) == header_row {
            self.header = Some(cells);
        } else {
            self.rows.push(cells);
            self.source_rows.push(row + 1);
        }
    }

    /// Build the table. `merged` gives header names for blank header cells that belong to
    /// a merged region, by 0-based sheet column.
    pub(crate) fn finish(self, merged: &[(usize, String)]) -> Result<ReadReport, SheetError> {
        let first_col = self.selection.range.first_col;
        let Some(header_row) = self.selection.header_row else {
            if self.rows.is_empty() {
                return Err(SheetError::EmptySheet {
                    path: self.path.into(),
                    sheet: self.sheet.into(),
                });
            }
            let columns = (0..self.width)
                .map(|i| column_letter(first_col + i))
                .collect();
            return Ok(self.into_report(columns, Vec::new(), None));
        };
        let Some(header) = &self.header else {
            return Err(match self.last_filled_row {
                None => SheetError::EmptySheet {
                    path: self.path.into(),
                    sheet: self.sheet.into(),
                },
                Some(last) if last < header_row => SheetError::HeaderRowPastEnd {
                    path: self.path.into(),
                    sheet: self.sheet.into(),
                    header_row: header_row + 1,
                    last_row: last + 1,
                },
                Some(_) => SheetError::HeaderRowEmpty {
                    path: self.path.into(),
                    sheet: self.sheet.into(),
                    row: header_row + 1,
                    first_nonempty_row: self.first_filled_row.map(|r| r + 1),
                },
            });
        };
        let mut warnings = Vec::new();
        let cleaned = clean_header(header, header_row, first_col, &mut warnings);
        let columns = column_names(&cleaned, self.width, first_col, merged);
        let hint = self.header_hint(&cleaned, &columns, header_row, merged);
        Ok(self.into_report(columns, warnings, hint))
    }

    fn into_report(
        self,
        columns: Vec<String>,
        mut warnings: Vec<String>,
        header_hint: Option<(String, String)>,
    ) -> ReadReport {
        let mut rows = self.rows;
        for row in &mut rows {
            row.resize(self.width, Cell::Empty);
        }
        let first_col = self.selection.range.first_col;
        if let Some(warning) = control_characters(&rows, &self.source_rows, first_col) {
            warnings.push(warning);
        }
        let header_hint = header_hint.map(|(warning, hint)| {
            warnings.push(warning);
            hint
        });
        ReadReport {
            table: Table {
                columns,
                rows,
                source_rows: self.source_rows,
            },
            warnings,
            header_hint,
            ..ReadReport::default()
        }
    }

    /// When most columns of the header have no name, or hold what looks like data: a
    /// warning, and a sentence pointing at the row that looks like the real header.
    fn header_hint(
        &self,
        header: &[Cell],
        columns: &[String],
        header_row: usize,
        merged: &[(usize, String)],
    ) -> Option<(String, String)> {
        let first_col = self.selection.range.first_col;
        let width = self.width;
        let named = (0..width)
            .filter(|&i| {
                header.get(i).is_some_and(is_label)
                    || merged.iter().any(|(c, _)| *c == first_col + i)
            })
            .count();
        if width < 2 || named * 2 >= width {
            return None;
        }
        let unnamed: Vec<&String> = (0..width)
            .filter(|&i| header.get(i).is_none_or(Cell::is_empty))
            .map(|i| &columns[i])
            .collect();
        let what = if unnamed.len() * 2 > width {
            format!(
                "{} of its {width} columns have no name ({})",
                unnamed.len(),
                quoted(unnamed.iter().map(|s| s.as_str()))
            )
        } else {
            format!(
                "only {named} of its {width} cells look like column names; the others look like data"
            )
        };
        let data_rows = self
            .rows
            .iter()
            .zip(&self.source_rows)
            .take(HINT_ROWS)
            .map(|(cells, r)| (r - 1, cells));
        let best = self
            .above
            .iter()
            .map(|(r, cells)| (*r, cells))
            .chain(data_rows)
            .map(|(r, cells)| (cells.iter().filter(|c| is_label(c)).count(), r, cells))
            .filter(|(labels, _, _)| *labels > named && labels * 2 >= width)
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let hint = match best {
            Some((_, row, cells)) => format!(
                "Row {} looks like the real header ({}): set `header_row: {}`, or \
                 `header_row: none` if the file has no header",
                row + 1,
                quoted(cells.iter().filter(|c| is_label(c)).map(|c| c.to_string())),
                row + 1
            ),
            None => "Set `header_row` to the row with the column names, or `header_row: none` \
                     if the file has no header"
                .to_string(),
        };
        let warning = format!(
            "the header row {} looks wrong: {what}. {hint}",
            header_row + 1
        );
        Some((warning, hint))
    }
}

/// How many rows above and below the header are looked at for a better header.
const HINT_ROWS: usize = 20;

/// Text that could be a column name: not empty, not a number.
fn is_label(cell: &Cell) -> bool {
    matches!(cell, Cell::Text(s) if parse_number(s).is_none())
}

/// The first few names, in backticks, with `…` when there are more.
fn quoted<S: AsRef<str>>(names: impl Iterator<Item = S>) -> String {
    let mut names: Vec<String> = names.map(|n| format!("`{}`", n.as_ref())).collect();
    if names.len() > 4 {
        names.truncate(4);
        names.push("…".into());
    }
    names.join(", ")
}

/// Header cells without control characters (NUL, escape…), which old systems sometimes
/// leave in a file and which no one can type in a workflow; a warning names each cell.
fn clean_header(
    header: &[Cell],
    header_row: usize,
    first_col: usize,
    warnings: &mut Vec<String>,
) -> Vec<Cell> {
    header
        .iter()
        .enumerate()
        .map(|(i, cell)| match cell {
            Cell::Text(s) if s.chars().any(is_bad_control) => {
                let clean: String = s.chars().filter(|c| !is_bad_control(*c)).collect();
                warnings.push(format!(
                    "the column name in cell {} holds control characters ({}), which were \
                     removed: the column is named `{}`",
                    cell_name(header_row, first_col + i),
                    describe_controls(s),
                    normalize_header(&clean)
                ));
                Cell::text(clean)
            }
            other => other.clone(),
        })
        .collect()
}

/// A control character other than tab and line breaks.
pub(crate) fn is_bad_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

fn describe_controls(s: &str) -> String {
    let mut seen: Vec<char> = Vec::new();
    for c in s.chars().filter(|c| is_bad_control(*c)) {
        if !seen.contains(&c) {
            seen.push(c);
        }
    }
    seen.iter()
        .map(|&c| match c {
            '\0' => "NUL".to_string(),
            c => format!("U+{:04X}", c as u32),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A warning when data cells hold control characters: they are kept (they may matter to
/// the client), but a trainee should know before they are typed into a portal.
fn control_characters(
    rows: &[Vec<Cell>],
    source_rows: &[usize],
    first_col: usize,
) -> Option<String> {
    let mut count = 0usize;
    let mut first = None;
    let mut kinds = String::new();
    for (row, source) in rows.iter().zip(source_rows) {
        for (i, cell) in row.iter().enumerate() {
            if let Cell::Text(s) = cell
                && s.chars().any(is_bad_control)
            {
                count += 1;
                if first.is_none() {
                    first = Some(cell_name(source - 1, first_col + i));
                    kinds = describe_controls(s);
                }
            }
        }
    }
    let first = first?;
    Some(format!(
        "{count} cell{} hold{} control characters ({kinds}) that Excel cannot show, the first in \
         cell {first}; check the file with the client before using those cells",
        if count == 1 { "" } else { "s" },
        if count == 1 { "s" } else { "" },
    ))
}

/// Header names: trimmed; blank ones take their merged region's name or `Column C`;
/// repeated ones get ` (2)`, ` (3)`… so every column can be named.
fn column_names(
    header: &[Cell],
    width: usize,
    first_col: usize,
    merged: &[(usize, String)],
) -> Vec<String> {
    let mut names = Vec::with_capacity(width);
    let mut seen = HashSet::with_capacity(width);
    for i in 0..width {
        let col = first_col + i;
        let name = match header.get(i) {
            Some(cell) if !cell.is_empty() => normalize_header(&cell.to_string()),
            _ => merged
                .iter()
                .find(|(c, _)| *c == col)
                .map(|(_, name)| normalize_header(name))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("Column {}", column_letter(col))),
        };
        let mut unique = name.clone();
        let mut n = 2;
        while !seen.insert(unique.clone()) {
            unique = format!("{name} ({n})");
            n += 1;
        }
        names.push(unique);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_named_and_unique() {
        let header = vec![
            Cell::text(" 名前\u{3000}"),
            Cell::Empty,
            Cell::text("名前"),
            Cell::Int(2026),
            Cell::Empty,
        ];
        let merged = vec![(2usize, "Merged".to_string())];
        let names = column_names(&header, 6, 1, &merged);
        assert_eq!(
            names,
            ["名前", "Merged", "名前 (2)", "2026", "Column F", "Column G"]
        );
    }
}
