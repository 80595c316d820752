//! Writing a table as CSV (CRLF line ends, quotes only where needed) in UTF-8 with or
//! without BOM, or Shift_JIS (CP932). A character Shift_JIS cannot hold is an error that
//! names its row and column, never a silent `?`.

use super::atomic::write_atomically;
use super::error::write_failure;
use super::range::cell_name;
use super::{CsvEncoding, SheetError};
use crate::table::{Cell, Table};
use encoding_rs::SHIFT_JIS;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

pub(crate) fn write(path: &Path, table: &Table, encoding: CsvEncoding) -> Result<(), SheetError> {
    match encoding {
        CsvEncoding::Utf8 | CsvEncoding::Utf8Bom => write_atomically(path, |out| {
            if encoding == CsvEncoding::Utf8Bom {
                out.write_all(b"\xEF\xBB\xBF")
                    .map_err(|e| write_failure(path, &e))?;
            }
            write_records(path, table, out)
        }),
        CsvEncoding::ShiftJis => {
            // Encoded as a whole, after the check that every character fits.
            let mut text = Vec::with_capacity(64 * (table.rows.len() + 1));
            write_records(path, table, &mut text)?;
            let text = String::from_utf8(text).map_err(|e| write_error(path, e))?;
            let bytes = encode_shift_jis(path, table, &text)?;
            write_atomically(path, |out| {
                out.write_all(&bytes).map_err(|e| write_failure(path, &e))
            })
        }
    }
}

fn write_error(path: &Path, e: impl std::fmt::Display) -> SheetError {
    SheetError::Write {
        path: path.into(),
        message: e.to_string(),
    }
}

/// The CSV text (CRLF line ends), UTF-8 since only `&str` goes in.
fn write_records(path: &Path, table: &Table, out: impl std::io::Write) -> Result<(), SheetError> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    let err = |e: csv::Error| match e.kind() {
        csv::ErrorKind::Io(io) => write_failure(path, io),
        _ => write_error(path, e),
    };
    writer.write_record(&table.columns).map_err(err)?;
    let mut scratch = String::new();
    for row in &table.rows {
        for i in 0..table.columns.len() {
            match row.get(i).unwrap_or(&Cell::Empty) {
                Cell::Empty => writer.write_field(""),
                Cell::Text(s) | Cell::Error(s) => writer.write_field(s),
                other => {
                    scratch.clear();
                    let _ = write!(scratch, "{other}");
                    writer.write_field(&scratch)
                }
            }
            .map_err(err)?;
        }
        writer.write_record(None::<&[u8]>).map_err(err)?;
    }
    writer.flush().map_err(|e| write_failure(path, &e))
}

/// Encode as Shift_JIS. Characters that differ between Mac/Unicode and Windows Japanese
/// text (wave dash `〜`, double bar `‖`, `¢ £ ¬`, em dash) are written as their CP932
/// look-alikes, as Excel does.
fn encode_shift_jis(path: &Path, table: &Table, text: &str) -> Result<Vec<u8>, SheetError> {
    let text = cp932_lookalikes(text);
    let (bytes, _, had_errors) = SHIFT_JIS.encode(&text);
    if !had_errors {
        return Ok(bytes.into_owned());
    }
    Err(find_unencodable(path, table)
        .unwrap_or_else(|| write_error(path, "some text cannot be written as Shift_JIS")))
}

fn cp932_lookalikes(text: &str) -> Cow<'_, str> {
    let swap = |c: char| match c {
        '\u{301C}' => '\u{FF5E}',
        '\u{2016}' => '\u{2225}',
        '\u{00A2}' => '\u{FFE0}',
        '\u{00A3}' => '\u{FFE1}',
        '\u{00AC}' => '\u{FFE2}',
        '\u{2014}' => '\u{2015}',
        c => c,
    };
    if text.chars().any(|c| swap(c) != c) {
        Cow::Owned(text.chars().map(swap).collect())
    } else {
        Cow::Borrowed(text)
    }
}

fn encodable(c: char) -> bool {
    if c.is_ascii() {
        return true;
    }
    let mut buf = [0u8; 4];
    let s = cp932_lookalikes(c.encode_utf8(&mut buf));
    !SHIFT_JIS.encode(&s).2
}

/// The first cell (or column name) holding a character Shift_JIS cannot hold.
fn find_unencodable(path: &Path, table: &Table) -> Option<SheetError> {
    let error = |ch: char, row: usize, col: usize| SheetError::Unencodable {
        path: path.into(),
        ch,
        row: row + 1,
        column: table.columns.get(col).cloned().unwrap_or_default(),
        cell: cell_name(row, col),
    };
    for (col, name) in table.columns.iter().enumerate() {
        if let Some(ch) = name.chars().find(|&c| !encodable(c)) {
            return Some(error(ch, 0, col));
        }
    }
    for (r, row) in table.rows.iter().enumerate() {
        for (col, cell) in row.iter().enumerate() {
            if let Cell::Text(s) | Cell::Error(s) = cell
                && !s.is_ascii()
                && let Some(ch) = s.chars().find(|&c| !encodable(c))
            {
                return Some(error(ch, r + 1, col));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_japanese_characters_encode() {
        for c in [
            '～', '〜', '∥', '‖', '－', '−', '￠', '¢', '①', 'Ⅰ', '㈱', '髙', '¥', '—', '―',
        ] {
            assert!(encodable(c), "{c} (U+{:04X}) should encode", c as u32);
        }
        for c in ['𠮷', '😀', 'é'] {
            assert!(!encodable(c), "{c} should not encode");
        }
    }
}
