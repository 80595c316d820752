//! Turning the rows of a sheet into a [`Table`]: find the header row inside the chosen
//! range, name the columns (merged, blank and repeated headers), skip empty rows, and drop
//! empty rows and columns at the edges. Shared by the workbook and CSV readers.

use super::range::{CellRange, column_letter};
use super::{SheetError, SheetSpec};
use crate::table::{Cell, Table, normalize_header};
use std::collections::HashSet;
use std::path::Path;

/// Which rows and columns of a sheet make the table; all 0-based.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Selection {
    pub header_row: usize,
    pub range: CellRange,
}

impl Selection {
    /// Check the spec against the file it is for. With a range, the default header row
    /// (row 1) means "the first row of the range".
    pub(crate) fn new(path: &Path, spec: &SheetSpec) -> Result<Selection, SheetError> {
        let header_row = spec.header_row.max(1) - 1;
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
        let header_row = if header_row == 0 {
            range.first_row
        } else {
            header_row
        };
        if !range.contains_row(header_row) {
            return Err(SheetError::HeaderOutsideRange {
                path: path.into(),
                header_row: header_row + 1,
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

    /// True for rows before the header (title rows) and after the range: not needed.
    pub(crate) fn skips(&self, row: usize) -> bool {
        row < self.range.first_row || self.is_past(row)
    }
}

/// Collects rows (starting at the selection's first column) and builds the table.
pub(crate) struct Assembler<'a> {
    path: &'a Path,
    sheet: &'a str,
    selection: Selection,
    header: Option<Vec<Cell>>,
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
            first_filled_row: None,
            last_filled_row: None,
            width: 0,
            rows: Vec::new(),
            source_rows: Vec::new(),
        }
    }

    /// The 0-based header row.
    pub(crate) fn header_row(&self) -> usize {
        self.selection.header_row
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
        let header_row = self.selection.header_row;
        if row < header_row || cells.is_empty() {
            return;
        }
        self.width = self.width.max(cells.len());
        if row == header_row {
            self.header = Some(cells);
        } else {
            self.rows.push(cells);
            self.source_rows.push(row + 1);
        }
    }

    /// Build the table. `merged` gives header names for blank header cells that belong to
    /// a merged region, by 0-based sheet column.
    pub(crate) fn finish(self, merged: &[(usize, String)]) -> Result<Table, SheetError> {
        let header_row = self.selection.header_row;
        let Some(header) = self.header else {
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
        let first_col = self.selection.range.first_col;
        let columns = column_names(&header, self.width, first_col, merged);
        let mut rows = self.rows;
        for row in &mut rows {
            row.resize(self.width, Cell::Empty);
        }
        Ok(Table {
            columns,
            rows,
            source_rows: self.source_rows,
        })
    }
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
