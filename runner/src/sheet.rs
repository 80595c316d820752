//! Spreadsheet input and output: read xlsx, xlsm, xls, ods and CSV into a [`Table`],
//! write tables as xlsx (several sheets, real dates, number formats) or CSV.
//!
//! CSV files from Japanese systems are usually Shift_JIS/CP932; the encoding is detected
//! (UTF-8 with or without BOM, UTF-16 LE/BE with BOM, CP932) so trainees never have to say it.

use crate::table::Table;
use std::path::{Path, PathBuf};

/// Which sheet of a workbook to read.
#[derive(Debug, Clone, PartialEq)]
pub enum SheetRef {
    /// 1-based position, as people count sheets ("the first sheet").
    Index(usize),
    Name(String),
}

/// Where the table sits inside a sheet.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetSpec {
    pub sheet: SheetRef,
    /// 1-based row number holding the column names.
    pub header_row: usize,
    /// Optional A1-style range such as `A1:F200`; rows and columns outside it are ignored.
    pub range: Option<String>,
}

impl Default for SheetSpec {
    fn default() -> Self {
        SheetSpec {
            sheet: SheetRef::Index(1),
            header_row: 1,
            range: None,
        }
    }
}

/// Number or date format for one output column (Excel format codes, e.g. `#,##0` or `yyyy-mm-dd`).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnFormat {
    pub column: String,
    pub format: String,
}

/// One sheet of an xlsx file to write.
#[derive(Debug, Clone)]
pub struct OutputSheet<'a> {
    pub name: String,
    pub table: &'a Table,
    pub formats: Vec<ColumnFormat>,
}

/// Text encoding for CSV output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvEncoding {
    /// UTF-8 with a BOM, so that Excel opens Japanese text correctly.
    #[default]
    Utf8Bom,
    Utf8,
    /// Shift_JIS (Windows code page 932), for old Japanese systems.
    ShiftJis,
}

/// Everything that can go wrong reading or writing a spreadsheet. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error("cannot read `{path}`: {message}")]
    Io { path: PathBuf, message: String },
    #[error("placeholder")]
    Todo,
}

/// Read one table from a spreadsheet or CSV file. The format comes from the file's content
/// and extension.
pub fn read_table(_path: &Path, _spec: &SheetSpec) -> Result<Table, SheetError> {
    Err(SheetError::Todo)
}

/// Names of the sheets in a workbook (a CSV file has one sheet, named after the file).
pub fn sheet_names(_path: &Path) -> Result<Vec<String>, SheetError> {
    Err(SheetError::Todo)
}

/// Write tables as one xlsx workbook, atomically (a temporary file renamed into place).
pub fn write_xlsx(_path: &Path, _sheets: &[OutputSheet<'_>]) -> Result<(), SheetError> {
    Err(SheetError::Todo)
}

/// Write a table as CSV, atomically.
pub fn write_csv(_path: &Path, _table: &Table, _encoding: CsvEncoding) -> Result<(), SheetError> {
    Err(SheetError::Todo)
}
