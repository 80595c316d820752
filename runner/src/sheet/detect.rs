//! Which kind of file is this? Decided from the first and last bytes (magic numbers), so a
//! misnamed file still works, and a PDF or web page named `.xlsx` gets a clear error.

use super::SheetError;
use std::path::Path;

/// The readers kobo has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Xlsx,
    Xlsb,
    Xls,
    Ods,
    /// Any text file; read as CSV/TSV.
    Csv,
}

impl Format {
    /// How a message names this kind of file.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Format::Xlsx => "an Excel workbook (xlsx)",
            Format::Xlsb => "an Excel binary workbook (xlsb)",
            Format::Xls => "an old Excel workbook (xls)",
            Format::Ods => "an OpenDocument spreadsheet (ods)",
            Format::Csv => "a CSV file",
        }
    }
}

const ZIP: &[u8] = b"PK\x03\x04";
const ZIP_EMPTY: &[u8] = b"PK\x05\x06";
const ZIP_END: &[u8] = b"PK\x05\x06";
const CFB: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const SAVE_AS_XLSX: &str =
    "Open it in Excel, choose File > Save As > Excel Workbook (.xlsx), and read that copy";
const ASK_CLIENT: &str = "Ask the client for the Excel or CSV file";

/// Decide the format of `bytes` (the whole file) read from `path`.
pub(crate) fn detect(path: &Path, bytes: &[u8]) -> Result<Format, SheetError> {
    if bytes.is_empty() {
        return Err(SheetError::EmptyFile { path: path.into() });
    }
    let not_sheet = |looks_like: &str, hint: &str| SheetError::NotASpreadsheet {
        path: path.into(),
        looks_like: looks_like.into(),
        hint: hint.into(),
    };
    let ext = extension(path);

    if bytes.starts_with(ZIP) || bytes.starts_with(ZIP_EMPTY) {
        return detect_zip(path, bytes, &ext);
    }
    if bytes.starts_with(CFB) {
        return if contains(bytes, &utf16("EncryptedPackage"))
            || contains(bytes, &utf16("EncryptionInfo"))
        {
            Err(SheetError::PasswordProtected { path: path.into() })
        } else if contains(bytes, &utf16("Workbook")) || contains(bytes, &utf16("Book")) {
            Ok(Format::Xls)
        } else if contains(bytes, &utf16("WordDocument")) {
            Err(not_sheet("an old Word document (.doc)", ASK_CLIENT))
        } else if contains(bytes, &utf16("PowerPoint Document")) {
            Err(not_sheet("an old PowerPoint file (.ppt)", ASK_CLIENT))
        } else {
            Err(not_sheet(
                "an Office file that holds no workbook",
                ASK_CLIENT,
            ))
        };
    }
    if bytes.starts_with(b"%PDF") {
        return Err(not_sheet("a PDF document", ASK_CLIENT));
    }
    if bytes.starts_with(b"\x89PNG")
        || bytes.starts_with(&[0xFF, 0xD8, 0xFF])
        || bytes.starts_with(b"GIF8")
    {
        return Err(not_sheet("a picture", ASK_CLIENT));
    }
    let utf16 = bytes.starts_with(&[0xFF, 0xFE])
        || bytes.starts_with(&[0xFE, 0xFF])
        || super::text::bomless_utf16(bytes).is_some();
    let head = &bytes[..bytes.len().min(8192)];
    if !utf16 && head.contains(&0) && looks_binary(head) {
        return Err(not_sheet("a binary file of an unknown kind", ASK_CLIENT));
    }
    if !utf16 {
        let start = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        let start = start.trim_ascii_start();
        let lower: Vec<u8> = start[..start.len().min(1024)].to_ascii_lowercase();
        if lower.starts_with(b"<!doctype html")
            || lower.starts_with(b"<html")
            || contains(&lower, b"<table")
        {
            return Err(not_sheet(
                "a web page (HTML) saved under a spreadsheet name",
                SAVE_AS_XLSX,
            ));
        }
        if lower.starts_with(b"<?xml") {
            let head_lower = head.to_ascii_lowercase();
            return Err(
                if contains(&head_lower, b"urn:schemas-microsoft-com:office:spreadsheet") {
                    not_sheet("an Excel 2003 XML spreadsheet", SAVE_AS_XLSX)
                } else {
                    not_sheet("an XML file", ASK_CLIENT)
                },
            );
        }
        if lower.starts_with(b"{\\rtf") {
            return Err(not_sheet("a rich-text (RTF) document", ASK_CLIENT));
        }
    }
    Ok(Format::Csv)
}

fn detect_zip(path: &Path, bytes: &[u8], ext: &str) -> Result<Format, SheetError> {
    let not_sheet = |looks_like: &str| SheetError::NotASpreadsheet {
        path: path.into(),
        looks_like: looks_like.into(),
        hint: ASK_CLIENT.into(),
    };
    // An OpenDocument file starts with an uncompressed `mimetype` entry.
    let head = &bytes[..bytes.len().min(256)];
    if contains(
        head,
        b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet",
    ) {
        return Ok(Format::Ods);
    }
    if contains(head, b"mimetypeapplication/vnd.oasis.opendocument.text") {
        return Err(not_sheet("an OpenDocument text file (.odt)"));
    }
    // File names are listed, uncompressed, in the central directory at the end.
    let tail = &bytes[bytes.len().saturating_sub(1 << 20)..];
    let by_extension = match ext {
        "xlsb" => Format::Xlsb,
        "ods" => Format::Ods,
        _ => Format::Xlsx,
    };
    if !contains(&bytes[bytes.len().saturating_sub(65_557)..], ZIP_END) {
        return Err(SheetError::Damaged {
            path: path.into(),
            kind: by_extension.describe(),
            detail: "the file ends too early".into(),
        });
    }
    if contains(tail, b"xl/workbook.bin") {
        Ok(Format::Xlsb)
    } else if contains(tail, b"xl/workbook.xml") {
        Ok(Format::Xlsx)
    } else if contains(tail, b"word/document.xml") {
        Err(not_sheet("a Word document (.docx)"))
    } else if contains(tail, b"ppt/presentation.xml") {
        Err(not_sheet("a PowerPoint file (.pptx)"))
    } else if matches!(ext, "xlsx" | "xlsm" | "xlsb" | "ods") {
        Err(SheetError::Damaged {
            path: path.into(),
            kind: by_extension.describe(),
            detail: "the workbook part is missing".into(),
        })
    } else {
        Err(not_sheet(
            "a ZIP archive; unzip it and read the spreadsheet inside",
        ))
    }
}

/// Many control bytes (one in ten): a binary file. An old system's export may leave a
/// few NUL bytes in a text file; the reader reports those cells instead.
fn looks_binary(head: &[u8]) -> bool {
    let control = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x1B))
        .count();
    control * 10 > head.len()
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Whether the file name says tab-separated.
pub(crate) fn is_tsv_name(path: &Path) -> bool {
    matches!(extension(path).as_str(), "tsv" | "tab")
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match hay[i..=hay.len() - needle.len()]
            .iter()
            .position(|&b| b == first)
        {
            None => return false,
            Some(p) => {
                let at = i + p;
                if &hay[at + 1..at + needle.len()] == rest {
                    return true;
                }
                i = at + 1;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_needles() {
        assert!(contains(b"abcabd", b"abd"));
        assert!(!contains(b"abcab", b"abd"));
        assert!(contains(b"x", b""));
        assert!(!contains(b"", b"x"));
    }

    #[test]
    fn text_is_csv_whatever_the_name() {
        let f = detect(Path::new("x.xlsx"), "a,b\n1,2\n".as_bytes()).unwrap();
        assert_eq!(f, Format::Csv);
    }
}
