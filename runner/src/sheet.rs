//! Spreadsheet input and output: read xlsx, xlsm, xls, ods and CSV into a [`Table`],
//! write tables as xlsx (several sheets, real dates, number formats) or CSV.
//!
//! CSV files from Japanese systems are usually Shift_JIS/CP932; the encoding is detected
//! (UTF-8 with or without BOM, UTF-16 LE/BE with BOM, CP932) so trainees never have to say it.
//!
//! Parts:
//! - `detect`: which format a file is, from its bytes (misnamed files work; PDFs, web
//!   pages and password-protected workbooks get clear errors).
//! - `workbook`: xlsx/xlsm/xlsb/xls/ods through calamine; `csv` and `text`: CSV/TSV and
//!   encoding detection.
//! - `assemble`: header row, range, column names, empty rows: shared by both readers.
//! - [`range`]: A1 cell names and ranges (`B7`, `B2:F100`).
//! - `write_xlsx`, `write_csv`, `atomic`: output, always through a temporary file.
//! - [`SheetError`]: every error, each naming the file, sheet, row or cell.

mod assemble;
mod atomic;
mod cfb;
mod csv;
pub(crate) mod detect; // the inbox checks a file is a spreadsheet before queueing it
mod error;
pub mod range;
mod text;
mod workbook;
mod write_csv;
mod write_xlsx;

pub use error::SheetError;

use crate::table::Table;
use detect::Format;
use std::path::Path;

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
    /// `B2:F` reads down to the last row, `B2` to the last row and column. With a range,
    /// a `header_row` of 1 means "the first row of the range".
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

/// Read one table from a spreadsheet or CSV file. The format comes from the file's content
/// and extension.
pub fn read_table(path: &Path, spec: &SheetSpec) -> Result<Table, SheetError> {
    let bytes = read_file(path)?;
    match detect::detect(path, &bytes)? {
        Format::Csv => csv::read(path, &bytes, spec),
        format => workbook::read(path, bytes, format, spec),
    }
}

/// Names of the sheets in a workbook (a CSV file has one sheet, named after the file).
pub fn sheet_names(path: &Path) -> Result<Vec<String>, SheetError> {
    let bytes = read_file(path)?;
    match detect::detect(path, &bytes)? {
        Format::Csv => Ok(vec![csv::sheet_name(path)]),
        format => workbook::sheet_names(path, bytes, format),
    }
}

/// The name of the sheet `sheet` picks in a workbook; `None` for a CSV file (one sheet,
/// nothing to name) or a workbook that cannot be read.
pub fn sheet_name_of(path: &Path, sheet: &SheetRef) -> Option<String> {
    let bytes = read_file(path).ok()?;
    match detect::detect(path, &bytes).ok()? {
        Format::Csv => None,
        format => match sheet {
            SheetRef::Name(n) => Some(n.clone()),
            SheetRef::Index(i) => workbook::sheet_names(path, bytes, format)
                .ok()?
                .get(i.checked_sub(1)?)
                .cloned(),
        },
    }
}

/// Write tables as one xlsx workbook, atomically (a temporary file renamed into place).
pub fn write_xlsx(path: &Path, sheets: &[OutputSheet<'_>]) -> Result<(), SheetError> {
    write_xlsx::write(path, sheets)
}

/// Write a table as CSV, atomically.
pub fn write_csv(path: &Path, table: &Table, encoding: CsvEncoding) -> Result<(), SheetError> {
    write_csv::write(path, table, encoding)
}

fn read_file(path: &Path) -> Result<Vec<u8>, SheetError> {
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => SheetError::NotFound { path: path.into() },
        std::io::ErrorKind::IsADirectory => SheetError::Io {
            path: path.into(),
            message: "it is a folder, not a file".into(),
        },
        _ => SheetError::Io {
            path: path.into(),
            message: e.to_string(),
        },
    })
}
