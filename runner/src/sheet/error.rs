//! `SheetError`: everything that can go wrong reading or writing a spreadsheet.
//!
//! Each message says which file (and sheet, row or cell) is at fault and what the trainee
//! can do about it, in short plain English for readers of English as a second language.

use std::path::{Path, PathBuf};

/// Everything that can go wrong reading or writing a spreadsheet. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error("`{path}` does not exist; check the folder and the file name")]
    NotFound { path: PathBuf },

    #[error("cannot read `{path}`: {message}")]
    Io { path: PathBuf, message: String },

    #[error("`{path}` is empty (0 bytes); ask the client to send the file again")]
    EmptyFile { path: PathBuf },

    /// The content is something else: a PDF, a web page, a picture, a Word file...
    #[error("`{path}` is not a spreadsheet: it looks like {looks_like}. {hint}")]
    NotASpreadsheet {
        path: PathBuf,
        looks_like: String,
        hint: String,
    },

    #[error("`{path}` is password-protected; ask the client for an unprotected copy")]
    PasswordProtected { path: PathBuf },

    /// Looks like a workbook, but the reader gave up on it (often a download cut short).
    #[error(
        "`{path}` looks like {kind} but cannot be opened ({detail}); it may be damaged or only \
         partly downloaded. Open it in Excel to check, or ask the client to send it again"
    )]
    Damaged {
        path: PathBuf,
        kind: &'static str,
        detail: String,
    },

    #[error(
        "`{path}` has no sheet named `{sheet}`{}; its sheets are: {}",
        did_you_mean(.suggestion),
        quoted_list(.available)
    )]
    MissingSheet {
        path: PathBuf,
        sheet: String,
        available: Vec<String>,
        suggestion: Option<String>,
    },

    #[error(
        "`{path}` has no sheet number {index}: it has {} sheet{}: {}",
        .available.len(),
        if .available.len() == 1 { "" } else { "s" },
        quoted_list(.available)
    )]
    SheetIndexOutOfRange {
        path: PathBuf,
        index: usize,
        available: Vec<String>,
    },

    #[error("sheet `{sheet}` in `{path}` is empty; check that you chose the right sheet")]
    EmptySheet { path: PathBuf, sheet: String },

    #[error(
        "sheet `{sheet}` in `{path}` has data only down to row {last_row}, but the header row \
         is row {header_row}; set `header_row` to the row that holds the column names"
    )]
    HeaderRowPastEnd {
        path: PathBuf,
        sheet: String,
        header_row: usize,
        last_row: usize,
    },

    #[error(
        "row {row} of sheet `{sheet}` in `{path}` is empty, so it cannot hold the column \
         names{}; set `header_row` to the row with the column names",
        first_row_hint(.first_nonempty_row)
    )]
    HeaderRowEmpty {
        path: PathBuf,
        sheet: String,
        row: usize,
        first_nonempty_row: Option<usize>,
    },

    #[error(
        "`{range}` is not a valid cell range (reading `{path}`): {reason}; write it like \
         `B2:F100`, or `B2:F` to read down to the last row"
    )]
    BadRange {
        path: PathBuf,
        range: String,
        reason: String,
    },

    #[error(
        "the header row {header_row} is outside the range `{range}` (reading `{path}`); \
         start the range at the header row, or choose a header row inside the range"
    )]
    HeaderOutsideRange {
        path: PathBuf,
        header_row: usize,
        range: String,
    },

    #[error(
        "`{path}` cannot be read as text: the bytes at line {line} (byte {offset}) are not valid \
         {encoding}. The file may be damaged or use another encoding; ask the client to export \
         it again as CSV in UTF-8 or Shift_JIS"
    )]
    UndecodableText {
        path: PathBuf,
        encoding: &'static str,
        offset: usize,
        line: usize,
    },

    #[error("cannot read CSV `{path}` at line {line}: {message}")]
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },

    #[error("nothing to write to `{path}`: no sheets were given")]
    NoSheets { path: PathBuf },

    #[error("cannot write `{path}`: `{name}` is not a valid Excel sheet name: {reason}")]
    InvalidSheetName {
        path: PathBuf,
        name: String,
        reason: String,
    },

    #[error(
        "cannot write `{path}`: two sheets are named `{name}` (Excel ignores upper and lower \
         case); give each sheet its own name"
    )]
    DuplicateSheetName { path: PathBuf, name: String },

    #[error(
        "cannot write `{path}`: sheet `{sheet}` has a format for column `{column}`, but there is \
         no such column; the columns are: {}",
        quoted_list(.available)
    )]
    UnknownColumn {
        path: PathBuf,
        sheet: String,
        column: String,
        available: Vec<String>,
    },

    #[error(
        "cannot write `{path}`: sheet `{sheet}` has {what}; split the table into several sheets, \
         or write CSV"
    )]
    TooLarge {
        path: PathBuf,
        sheet: String,
        what: String,
    },

    #[error(
        "cannot write `{path}`: the text in cell {cell} of sheet `{sheet}` is longer than \
         Excel's limit of 32,767 characters; shorten it, or write CSV"
    )]
    TextTooLong {
        path: PathBuf,
        sheet: String,
        cell: String,
    },

    #[error(
        "cannot write `{path}` as Shift_JIS: the character `{ch}` (U+{:04X}) in row {row}, \
         column `{column}` (cell {cell}) has no Shift_JIS code. Replace that character, or \
         write the file as UTF-8 (`encoding: utf8_bom`)",
        *.ch as u32
    )]
    Unencodable {
        path: PathBuf,
        ch: char,
        /// 1-based row of the written file (row 1 holds the column names).
        row: usize,
        column: String,
        cell: String,
    },

    #[error(
        "cannot write `{path}`: {message}. Check that the folder exists, that you may write \
         there, and that the file is not open in Excel"
    )]
    Write { path: PathBuf, message: String },

    #[error(
        "cannot write `{path}`: the disk is full ({message}). Free space on the disk that \
         holds `{folder}` (or move kobo's data directory, KOBO_HOME, to a disk with room), \
         then run the file again (`kobo rerun` with this run's id)"
    )]
    DiskFull {
        path: PathBuf,
        folder: PathBuf,
        message: String,
    },
}

/// The error for an I/O failure while writing `path`: a full disk (or quota) says so and
/// what to do; anything else is [`SheetError::Write`].
impl SheetError {
    /// The same error naming the file as `shown` (the name the trainee gave) instead of
    /// the path kobo read it from (the copy in the run folder).
    pub fn shown_as(mut self, shown: impl Into<PathBuf>) -> SheetError {
        match &mut self {
            SheetError::NotFound { path, .. }
            | SheetError::Io { path, .. }
            | SheetError::EmptyFile { path, .. }
            | SheetError::NotASpreadsheet { path, .. }
            | SheetError::PasswordProtected { path, .. }
            | SheetError::Damaged { path, .. }
            | SheetError::MissingSheet { path, .. }
            | SheetError::SheetIndexOutOfRange { path, .. }
            | SheetError::EmptySheet { path, .. }
            | SheetError::HeaderRowPastEnd { path, .. }
            | SheetError::HeaderRowEmpty { path, .. }
            | SheetError::BadRange { path, .. }
            | SheetError::HeaderOutsideRange { path, .. }
            | SheetError::UndecodableText { path, .. }
            | SheetError::Csv { path, .. }
            | SheetError::NoSheets { path, .. }
            | SheetError::InvalidSheetName { path, .. }
            | SheetError::DuplicateSheetName { path, .. }
            | SheetError::UnknownColumn { path, .. }
            | SheetError::TooLarge { path, .. }
            | SheetError::TextTooLong { path, .. }
            | SheetError::Unencodable { path, .. }
            | SheetError::Write { path, .. }
            | SheetError::DiskFull { path, .. } => *path = shown.into(),
        }
        self
    }
}

pub(crate) fn write_failure(path: &Path, e: &std::io::Error) -> SheetError {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => SheetError::DiskFull {
            path: path.into(),
            folder: path.parent().unwrap_or(path).into(),
            message: e.to_string(),
        },
        _ => SheetError::Write {
            path: path.into(),
            message: e.to_string(),
        },
    }
}

fn quoted_list(names: &[String]) -> String {
    if names.is_empty() {
        return "(none)".into();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

fn first_row_hint(row: &Option<usize>) -> String {
    match row {
        Some(r) => format!(" (the first row with data is row {r})"),
        None => String::new(),
    }
}
