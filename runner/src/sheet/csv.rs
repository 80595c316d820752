//! Reading CSV and TSV files into a [`Table`]. The encoding is detected (see
//! [`super::text`]), the delimiter guessed from the first line (`,`, tab or `;`), ragged
//! rows padded. Values stay text: `00123` keeps its zeros; `Cell::as_f64` reads numbers.

use super::assemble::{Assembler, Selection};
use super::detect::is_tsv_name;
use super::{ReadReport, SheetError, SheetRef, SheetSpec, text};
use crate::table::Cell;
use std::path::Path;

/// Read the table from a CSV file's bytes.
pub(crate) fn read(path: &Path, bytes: &[u8], spec: &SheetSpec) -> Result<ReadReport, SheetError> {
    let selection = Selection::new(path, spec)?;
    let sheet = sheet_name(path);
    check_sheet(path, &sheet, &spec.sheet)?;
    // Most files are UTF-8 without a BOM: parse the bytes as they are, checking each
    // record, and only decode the whole file when a record turns out not to be UTF-8.
    if text::is_plain(bytes)
        && let Some(mut report) = parse(path, &sheet, selection, bytes)?
    {
        report.encoding = Some(text::UTF8);
        return Ok(report);
    }
    let (text, encoding) = text::decode(path, bytes)?;
    let mut report =
        parse(path, &sheet, selection, text.as_bytes())?.ok_or_else(|| SheetError::Io {
            path: path.into(),
            message: "decoded text is not UTF-8 (a bug in kobo; please report it)".into(),
        })?;
    report.encoding = Some(encoding);
    Ok(report)
}

/// Parse UTF-8 CSV bytes; `None` at the first record that is not UTF-8.
fn parse(
    path: &Path,
    sheet: &str,
    selection: Selection,
    bytes: &[u8],
) -> Result<Option<ReadReport>, SheetError> {
    let delimiter = if is_tsv_name(path) {
        b'\t'
    } else {
        guess_delimiter(bytes)
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes);

    let (first_col, last_col) = selection.columns();
    let mut assembler = Assembler::new(path, sheet, selection);
    let mut record = csv::ByteRecord::new();
    let mut next_row = 0usize;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(SheetError::Csv {
                    path: path.into(),
                    line: e.position().map_or(0, |p| p.line()),
                    message: e.to_string(),
                });
            }
        }
        let start = record.position().map_or(0, |p| p.byte() as usize);
        let row = next_row + blank_lines_at(bytes, start);
        next_row = row + 1;
        if selection.is_past(row) {
            break;
        }
        if selection.skips(row) {
            continue;
        }
        // One check per record, as `StringRecord` does; fields are slices of it.
        let Ok(all) = std::str::from_utf8(record.as_slice()) else {
            return Ok(None);
        };
        let end = last_col.map_or(record.len(), |c| record.len().min(c + 1));
        let mut cells = Vec::with_capacity(end.saturating_sub(first_col));
        for i in first_col..end {
            let field = record.range(i).map_or("", |r| &all[r]);
            cells.push(if field.trim().is_empty() {
                Cell::Empty
            } else {
                Cell::Text(field.to_owned())
            });
        }
        assembler.push(row, cells);
    }
    assembler.finish(&[]).map(Some)
}

/// The csv crate skips blank lines, which Excel shows as rows: count the ones a record
/// starts with (`start` is where the reader began it) so that row numbers match Excel's.
fn blank_lines_at(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    // The reader may stop a record between the `\r` and `\n` of its CRLF.
    if i > 0 && bytes[i - 1] == b'\r' && bytes.get(i) == Some(&b'\n') {
        i += 1;
    }
    let mut blank = 0;
    loop {
        match bytes.get(i) {
            Some(b'\r') => {
                i += if bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
            }
            Some(b'\n') => i += 1,
            _ => return blank,
        }
        blank += 1;
    }
}

/// A CSV file has one sheet, named after the file (`invoices.csv` → `invoices`).
pub(crate) fn sheet_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Sheet1".into())
}

fn check_sheet(path: &Path, sheet: &str, want: &SheetRef) -> Result<(), SheetError> {
    match want {
        SheetRef::Active | SheetRef::Index(1) => Ok(()),
        SheetRef::Name(name) if name.trim() == sheet => Ok(()),
        SheetRef::Index(index) => Err(SheetError::SheetIndexOutOfRange {
            path: path.into(),
            index: *index,
            available: vec![sheet.into()],
        }),
        SheetRef::Name(name) => Err(SheetError::MissingSheet {
            path: path.into(),
            sheet: name.clone(),
            available: vec![sheet.into()],
            suggestion: None,
        }),
    }
}

/// The delimiter used most on the first line, outside quotes; `,` when in doubt.
fn guess_delimiter(text: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in text {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b'\t' if !quoted => counts[1] += 1,
            b';' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    if counts[1] > counts[0] && counts[1] >= counts[2] {
        b'\t'
    } else if counts[2] > counts[0] && counts[2] > counts[1] {
        b';'
    } else {
        b','
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_are_counted_like_excel_rows() {
        let rows = |text: &str| -> Vec<usize> {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes());
            let mut next = 0;
            reader
                .records()
                .map(|r| {
                    let start = r.unwrap().position().unwrap().byte() as usize;
                    let row = next + blank_lines_at(text.as_bytes(), start);
                    next = row + 1;
                    row + 1
                })
                .collect()
        };
        assert_eq!(
            rows("a,b\r\n1\r\n\r\n2,\"x\r\ny\"\r\n3\r4\r\r5\n"),
            [1, 2, 4, 5, 6, 8]
        );
        assert_eq!(rows("\n\na\n1\n\n\n"), [3, 4]);
    }

    #[test]
    fn delimiters() {
        assert_eq!(guess_delimiter(b"a,b,c\n1\t2\t3\t4"), b',');
        assert_eq!(guess_delimiter(b"a\tb\tc\n"), b'\t');
        assert_eq!(guess_delimiter(b"a;b;c,d\n"), b';');
        assert_eq!(guess_delimiter(b"\"x;y;z\",b\n"), b',');
        assert_eq!(guess_delimiter(b"only"), b',');
    }
}
