//! Decoding CSV bytes to text without being told the encoding: a UTF-8 or UTF-16 byte
//! order mark, else UTF-16 told by its NUL bytes, else ISO-2022-JP told by its escapes,
//! else valid UTF-8, else the Japanese encoding chardetng finds likeliest (Shift_JIS/CP932
//! or EUC-JP, which often both decode without error). Undecodable bytes are reported with
//! their line and byte offset instead of being replaced silently.

use super::SheetError;
use encoding_rs::{DecoderResult, EUC_JP, Encoding, ISO_2022_JP, SHIFT_JIS, UTF_16BE, UTF_16LE};
use std::borrow::Cow;
use std::path::Path;

/// True when `bytes` start with no byte order mark and are not UTF-16 without one, so
/// they may be plain UTF-8.
pub(crate) fn is_plain(bytes: &[u8]) -> bool {
    !(bytes.starts_with(b"\xEF\xBB\xBF")
        || bytes.starts_with(b"\xFF\xFE")
        || bytes.starts_with(b"\xFE\xFF")
        || bomless_utf16(bytes).is_some()
        || is_iso_2022_jp(bytes))
}

/// ISO-2022-JP (JIS, used by old mail systems) is 7-bit, so it is also valid UTF-8: it is
/// told by the escapes that switch to JIS X 0208 (`ESC $ B`, `ESC $ @`).
fn is_iso_2022_jp(bytes: &[u8]) -> bool {
    bytes.contains(&0x1B) && bytes.windows(3).any(|w| w == b"\x1b$B" || w == b"\x1b$@")
}

/// What the run log calls an encoding.
fn name_of(encoding: &'static Encoding) -> &'static str {
    if encoding == SHIFT_JIS {
        SJIS
    } else {
        encoding.name()
    }
}

/// UTF-16 saved without a byte order mark (some export tools do): in a CSV most characters
/// (digits, commas, line ends) are ASCII, whose UTF-16 form has a NUL byte on one side.
/// On the other side a NUL is rare (only characters such as U+3000, the full-width space).
/// Text in other encodings has no NUL bytes at all; other binary files have them on both
/// sides alike.
pub(crate) fn bomless_utf16(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(4096) & !1];
    let pairs = head.len() / 2;
    if pairs < 2 {
        return None;
    }
    let (mut even, mut odd) = (0, 0);
    for pair in head.chunks_exact(2) {
        even += usize::from(pair[0] == 0);
        odd += usize::from(pair[1] == 0);
    }
    // At least one character in five is ASCII, and few NULs fall on the other side.
    let utf16 = |many: usize, few: usize| many * 5 >= pairs && few * 10 <= many;
    if utf16(odd, even) {
        Some(UTF_16LE)
    } else if utf16(even, odd) {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// How the run log names the encodings.
pub(crate) const UTF8: &str = "UTF-8";
const SJIS: &str = "Shift_JIS (CP932)";

/// The text of `bytes` (borrowed when it is already UTF-8 without a BOM) and the name of
/// the encoding it was in.
pub(crate) fn decode<'a>(
    path: &Path,
    bytes: &'a [u8],
) -> Result<(Cow<'a, str>, &'static str), SheetError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return std::str::from_utf8(rest)
            .map(|t| (Cow::Borrowed(t), "UTF-8 with BOM"))
            .map_err(|e| undecodable(path, bytes, "UTF-8", 3 + e.valid_up_to()));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return decode_with(path, bytes, rest, 2, UTF_16LE, "UTF-16");
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return decode_with(path, bytes, rest, 2, UTF_16BE, "UTF-16");
    }
    if let Some(encoding) = bomless_utf16(bytes) {
        return decode_with(path, bytes, bytes, 0, encoding, "UTF-16");
    }
    if is_iso_2022_jp(bytes) {
        return decode_with(path, bytes, bytes, 0, ISO_2022_JP, "ISO-2022-JP");
    }
    let utf8_error = match std::str::from_utf8(bytes) {
        Ok(text) => return Ok((Cow::Borrowed(text), UTF8)),
        Err(e) => e.valid_up_to(),
    };
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    let guess = detector.guess(Some(b"jp"), true);
    let japanese = [SHIFT_JIS, EUC_JP];
    let order = japanese
        .iter()
        .filter(|e| **e == guess)
        .chain(japanese.iter().filter(|e| **e != guess));
    for &encoding in order {
        if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(bytes) {
            return Ok((Cow::Owned(text.into_owned()), name_of(encoding)));
        }
    }
    // Neither fits: blame the encoding that got further, it is the likelier one.
    let sjis_error = first_error(SHIFT_JIS, bytes);
    Err(if utf8_error > sjis_error {
        undecodable(path, bytes, "UTF-8", utf8_error)
    } else {
        undecodable(path, bytes, SJIS, sjis_error)
    })
}

fn decode_with<'a>(
    path: &Path,
    whole: &[u8],
    rest: &[u8],
    skipped: usize,
    encoding: &'static Encoding,
    name: &'static str,
) -> Result<(Cow<'a, str>, &'static str), SheetError> {
    match encoding.decode_without_bom_handling_and_without_replacement(rest) {
        Some(text) => Ok((Cow::Owned(text.into_owned()), name)),
        None => Err(undecodable(
            path,
            whole,
            name,
            skipped + first_error(encoding, rest),
        )),
    }
}

/// Byte offset of the first malformed sequence in `bytes` (its length if there is none).
fn first_error(encoding: &'static Encoding, bytes: &[u8]) -> usize {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(
        decoder
            .max_utf8_buffer_length_without_replacement(bytes.len())
            .unwrap_or(bytes.len() * 3),
    );
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut out, true);
    match result {
        DecoderResult::Malformed(bad, after) => read - after as usize - bad as usize,
        _ => read,
    }
}

fn undecodable(path: &Path, bytes: &[u8], encoding: &'static str, offset: usize) -> SheetError {
    let before = &bytes[..offset.min(bytes.len())];
    // UTF-16 newlines are two bytes, but their low byte is still 0x0A.
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    SheetError::UndecodableText {
        path: path.into(),
        encoding,
        offset,
        line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> String {
        decode(Path::new("t.csv"), bytes).unwrap().0.into_owned()
    }

    #[test]
    fn every_supported_encoding() {
        assert_eq!(text("名前,金額\n".as_bytes()), "名前,金額\n");
        assert_eq!(text(b"\xEF\xBB\xBFa,b"), "a,b");
        assert_eq!(
            text(&SHIFT_JIS.encode("請求書番号,取引先").0),
            "請求書番号,取引先"
        );
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("名前".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(text(&le), "名前");
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("名前".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(text(&be), "名前");
    }

    #[test]
    fn japanese_encodings_are_told_apart() {
        let sample = "請求書番号,取引先,金額\n001,株式会社サクラ,1200\n002,山田商店,800\n";
        for encoding in [SHIFT_JIS, EUC_JP, ISO_2022_JP] {
            let bytes = encoding.encode(sample).0;
            let (decoded, name) = decode(Path::new("t.csv"), &bytes).unwrap();
            assert_eq!(decoded, sample, "{}", encoding.name());
            assert_eq!(name, name_of(encoding));
            assert_eq!(is_plain(&bytes), encoding != ISO_2022_JP);
        }
    }

    #[test]
    fn bad_bytes_are_located() {
        let mut bytes = SHIFT_JIS.encode("番号,取引先\n1,ア\n").0.into_owned();
        bytes.extend_from_slice(b"2,\x82\xFF\n");
        let err = decode(Path::new("t.csv"), &bytes).unwrap_err();
        match err {
            SheetError::UndecodableText {
                encoding,
                offset,
                line,
                ..
            } => {
                assert_eq!(encoding, "Shift_JIS (CP932)");
                assert_eq!(line, 3);
                assert_eq!(offset, bytes.len() - 3);
            }
            other => panic!("unexpected {other}"),
        }
    }
}
