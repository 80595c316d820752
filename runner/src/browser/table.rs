//! `ScrapedTable`: the text of an HTML table, as headers and rows.

use crate::table::{Cell, Table};

/// Header texts and row texts of an HTML table (cells trimmed, otherwise as shown).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScrapedTable {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl ScrapedTable {
    /// As a kobo [`Table`] of text cells, to filter or write out like a sheet.
    /// Headers missing on the page are named `column N`.
    pub fn into_table(self) -> Table {
        let width = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.headers.len()])
            .max()
            .unwrap_or(0);
        let columns = (0..width)
            .map(|i| {
                self.headers
                    .get(i)
                    .filter(|h| !h.is_empty())
                    .cloned()
                    .unwrap_or_else(|| format!("column {}", i + 1))
            })
            .collect();
        let mut table = Table::new(columns);
        for (i, row) in self.rows.into_iter().enumerate() {
            table.push_row(row.into_iter().map(Cell::text).collect(), i + 1);
        }
        table
    }
}
