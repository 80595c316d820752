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
//! - `calamine_log`: calamine's own warnings, caught and said in kobo's words.
//! - `write_xlsx`, `write_csv`, `atomic`: output, always through a temporary file.
//! - [`SheetError`]: every error, each naming the file, sheet, row or cell.

mod assemble;
mod atomic;
mod calamine_log;
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
    /// No sheet was named: the sheet that was open (active) when the file was saved, or else
    /// the first visible sheet. Never a hidden sheet.
    Active,
    /// 1-based position, as people count sheets ("the first sheet").
    Index(usize),
    Name(String),
}

/// Where the table sits inside a sheet.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetSpec {
    pub sheet: SheetRef,
    /// The row holding the column names, or none.
    pub header_row: HeaderRow,
    /// Optional A1-style range such as `A1:F200`; rows and columns outside it are ignored.
    /// `B2:F` reads down to the last row, `B2` to the last row and column. With a range,
    /// a `header_row` of 1 means "the first row of the range".
    pub range: Option<String>,
    /// What to do with merged cells below the header.
    pub merged: MergedCells,
}

impl Default for SheetSpec {
    fn default() -> Self {
        SheetSpec {
            sheet: SheetRef::Active,
            header_row: HeaderRow::Row(1),
            range: None,
            merged: MergedCells::Warn,
        }
    }
}

/// Where the column names are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderRow {
    /// 1-based row number holding the column names.
    Row(usize),
    /// The file has no header row (`header_row: none`): every row is data, and the columns
    /// are named by their letters in the sheet (`A`, `B`, `C`…).
    None,
}

/// `header_row: 3` or `header_row: none`.
impl<'de> serde::Deserialize<'de> for HeaderRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde_yaml::Value;
        match Value::deserialize(d)? {
            Value::Number(n) if n.as_u64().is_some() => {
                Ok(HeaderRow::Row(n.as_u64().unwrap_or(1) as usize))
            }
            Value::String(s) if s.trim().eq_ignore_ascii_case("none") => Ok(HeaderRow::None),
            other => Err(serde::de::Error::custom(format!(
                "invalid value: {}, expected a row number (1 = the first row), or `none` when \
                 the file has no header row",
                crate::reader::describe_value(&other)
            ))),
        }
    }
}

impl std::fmt::Display for HeaderRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderRow::Row(r) => write!(f, "{r}"),
            HeaderRow::None => f.write_str("none"),
        }
    }
}

/// Merged cells below the header: Excel keeps the value only in the first cell of a block.
/// Written `merged: warn` or `merged: fill` in a workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergedCells {
    /// Keep the other cells empty, and warn naming each merged block (the default).
    #[default]
    Warn,
    /// Copy the block's value into every cell it covers (`merged: fill`).
    Fill,
}

/// A table read from a file, with what a trainee should know about how it was read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadReport {
    pub table: Table,
    /// The sheet that was read (`None` for a CSV file).
    pub sheet: Option<String>,
    /// The text encoding of a CSV file (`None` for a workbook).
    pub encoding: Option<&'static str>,
    /// Things that may be wrong with the file, in words for the run log.
    pub warnings: Vec<String>,
    /// When the header row looks wrong: which row looks like the real header, as a sentence.
    pub header_hint: Option<String>,
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
    read(path, spec).map(|r| r.table)
}

/// Read one table, and say which sheet or encoding was used and what looked wrong.
pub fn read(path: &Path, spec: &SheetSpec) -> Result<ReadReport, SheetError> {
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
            SheetRef::Active => workbook::default_sheet(path, bytes, format).ok(),
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
