//! Reading workbooks (xlsx, xlsm, xlsb, xls, ods) with calamine into a [`Table`]:
//! choose the sheet, convert cell values (numbers, real dates, formula errors) and fill
//! blank header cells that belong to merged regions.

use super::assemble::{Assembler, Selection};
use super::detect::Format;
use super::range::cell_name;
use super::{MergedCells, ReadReport, SheetError, SheetRef, SheetSpec};
use crate::table::Cell;
use calamine::{
    Data, DataType, Dimensions, Ods, OdsError, Range, Reader, Sheet, SheetType, SheetVisible,
    Sheets, Xls, XlsError, Xlsb, XlsbError, Xlsx, XlsxError,
};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use std::io::Cursor;
use std::path::Path;

type Book = Sheets<Cursor<Vec<u8>>>;

/// Read one table from a workbook whose bytes are already in memory.
pub(crate) fn read(
    path: &Path,
    bytes: Vec<u8>,
    format: Format,
    spec: &SheetSpec,
) -> Result<ReadReport, SheetError> {
    let (report, caught) = super::calamine_log::catch(|| {
        guarded(path, format, || read_unguarded(path, bytes, format, spec))
    });
    report.map(|mut r| {
        r.warnings.extend(caught);
        r
    })
}

/// calamine panics on some damaged files (an xls cut inside its directory fails an
/// `assert_eq!`); a client's broken file must be an error, never a crashed worker.
fn guarded<T>(
    path: &Path,
    format: Format,
    read: impl FnOnce() -> Result<T, SheetError>,
) -> Result<T, SheetError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|_| {
        Err(SheetError::Damaged {
            path: path.into(),
            kind: format.describe(),
            detail: "its inner structure is broken".into(),
        })
    })
}

fn read_unguarded(
    path: &Path,
    bytes: Vec<u8>,
    format: Format,
    spec: &SheetSpec,
) -> Result<ReadReport, SheetError> {
    let selection = Selection::new(path, spec)?;
    let active = active_sheet(&bytes, format);
    let mut book = open(path, bytes, format)?;
    let mut warnings = Vec::new();
    let sheet = match &spec.sheet {
        SheetRef::Active => default_of(&book, active, &mut warnings),
        want => {
            let sheet = resolve_sheet(path, &book.sheet_names(), want)?;
            if let Some(meta) = book.sheets_metadata().iter().find(|m| m.name == sheet)
                && meta.visible != SheetVisible::Visible
            {
                warnings.push(format!(
                    "sheet `{sheet}` is hidden in Excel: the client may not see what the bot \
                     reads. Check that this is the sheet you mean"
                ));
            }
            sheet
        }
    };
    let mut range = book
        .worksheet_range(&sheet)
        .map_err(|e| calamine_error(path, format, e))?;
    let regions: Vec<Dimensions> = match &mut book {
        Sheets::Xlsx(x) => x.merge_cells_by_sheet_name(&sheet).unwrap_or_default(),
        Sheets::Xls(x) => x.merge_cells_by_sheet_name(&sheet).unwrap_or_default(),
        _ => Vec::new(),
    };
    let data_regions = data_regions(&regions, &selection, &range);
    match spec.merged {
        MergedCells::Fill => fill_merged(&mut range, &data_regions),
        MergedCells::Warn => {
            if let Some(w) = merged_warning(&data_regions) {
                warnings.push(w);
            }
        }
    }
    let mut assembler = Assembler::new(path, &sheet, selection);
    push_rows(&mut assembler, &selection, &mut range);
    let merged = if assembler.has_blank_header() {
        merged_header_names(&regions, &range, &selection)
    } else {
        Vec::new()
    };
    let mut report = assembler.finish(&merged)?;
    warnings.append(&mut report.warnings);
    report.warnings = warnings;
    report.sheet = Some(sheet);
    Ok(report)
}

/// The sheet read when the workflow names none: the one that was active when the file
/// was saved, if it is a visible worksheet; else the first visible worksheet.
fn default_of(book: &Book, active: Option<Active>, warnings: &mut Vec<String>) -> String {
    let sheets = book.sheets_metadata();
    let shown = |s: &&Sheet| s.visible == SheetVisible::Visible && s.typ == SheetType::WorkSheet;
    let active = match active {
        Some(Active::Index(i)) => sheets.get(i),
        Some(Active::Name(n)) => sheets.iter().find(|s| s.name == n),
        None => None,
    };
    if let Some(found) = active.filter(shown).or_else(|| sheets.iter().find(shown)) {
        return found.name.clone();
    }
    let first = sheets.first().map(|s| s.name.clone()).unwrap_or_default();
    warnings.push(format!(
        "every sheet of the file is hidden; the first one, `{first}`, was read. Name the sheet \
         with `sheet:` to be sure"
    ));
    first
}

/// The sheet a workbook opens on, as its file says: by position (xlsx, `activeTab`) or by
/// name (ods, `ActiveTable`). calamine 0.38 does not read it. Not known for xls and xlsb.
enum Active {
    Index(usize),
    Name(String),
}

fn active_sheet(bytes: &[u8], format: Format) -> Option<Active> {
    let (part, read): (&str, fn(&str) -> Option<Active>) = match format {
        Format::Xlsx => ("xl/workbook.xml", |xml| {
            let view = &xml[xml.find("workbookView")?..];
            let view = &view[..view.find('>')?];
            let value = attribute(view, "activeTab")?;
            value.parse().ok().map(Active::Index)
        }),
        Format::Ods => ("settings.xml", |xml| {
            let at = xml.find("config:name=\"ActiveTable\"")?;
            let item = &xml[at..];
            let value = &item[item.find('>')? + 1..];
            let value = &value[..value.find('<')?];
            Some(Active::Name(unescape_xml(value)))
        }),
        _ => return None,
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
    let mut file = zip.by_name(part).ok()?;
    // Both parts are small; a huge one is not worth reading for this.
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(&mut file, 4 << 20), &mut text).ok()?;
    read(&text)
}

/// The value of `name="…"` inside one XML tag's text.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let rest = &tag[at..];
    Some(&rest[..rest.find('"')?])
}

fn unescape_xml(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Merged regions that lie below the header (and inside the range): the ones whose other
/// cells read as empty data. Regions that touch the header row name columns instead.
fn data_regions(
    regions: &[Dimensions],
    selection: &Selection,
    range: &Range<Data>,
) -> Vec<Dimensions> {
    let first = selection.first_data_row() as u32;
    let (first_col, last_col) = selection.columns();
    let last_row = selection.range.last_row.map_or(u32::MAX, |r| r as u32);
    let last_col = last_col.map_or(u32::MAX, |c| c as u32);
    let Some(end) = range.end() else {
        return Vec::new();
    };
    let mut out: Vec<Dimensions> = regions
        .iter()
        .filter(|d| d.start.0 >= first && d.start.0 <= last_row.min(end.0))
        .filter(|d| d.end.1 >= first_col as u32 && d.start.1 <= last_col.min(end.1))
        .filter(|d| d.start != d.end)
        .copied()
        .collect();
    out.sort_by_key(|d| d.start);
    out
}

/// `merged: fill`: every cell of a region takes the region's value.
fn fill_merged(range: &mut Range<Data>, regions: &[Dimensions]) {
    for region in regions {
        let Some(value) = range.get_value(region.start).cloned() else {
            continue;
        };
        for row in region.start.0..=region.end.0 {
            for col in region.start.1..=region.end.1 {
                if (row, col) != region.start && range.get_value((row, col)).is_some() {
                    range.set_value((row, col), value.clone());
                }
            }
        }
    }
}

fn merged_warning(regions: &[Dimensions]) -> Option<String> {
    let name = |d: &Dimensions| {
        format!(
            "{}:{}",
            cell_name(d.start.0 as usize, d.start.1 as usize),
            cell_name(d.end.0 as usize, d.end.1 as usize)
        )
    };
    let mut names: Vec<String> = regions.iter().take(5).map(name).collect();
    if regions.len() > 5 {
        names.push(format!("and {} more", regions.len() - 5));
    }
    match regions.len() {
        0 => None,
        n => Some(format!(
            "{} merged cell block{} below the header ({}): only the first cell of a block holds \
             the value, so the other cells read as empty. Add `merged: fill` to the input to \
             copy the value into every cell of the block",
            n,
            if n == 1 { " is" } else { "s are" },
            names.join(", ")
        )),
    }
}

/// The sheet read when the workflow names none (see [`SheetRef::Active`]).
pub(crate) fn default_sheet(
    path: &Path,
    bytes: Vec<u8>,
    format: Format,
) -> Result<String, SheetError> {
    guarded(path, format, || {
        let active = active_sheet(&bytes, format);
        let book = open(path, bytes, format)?;
        Ok(default_of(&book, active, &mut Vec::new()))
    })
}

/// Names of the sheets, in workbook order.
pub(crate) fn sheet_names(
    path: &Path,
    bytes: Vec<u8>,
    format: Format,
) -> Result<Vec<String>, SheetError> {
    guarded(
        path,
        format,
        || Ok(open(path, bytes, format)?.sheet_names()),
    )
}

fn open(path: &Path, bytes: Vec<u8>, format: Format) -> Result<Book, SheetError> {
    if format == Format::Xls
        && let Err(why) = super::cfb::check(&bytes)
    {
        return Err(SheetError::Damaged {
            path: path.into(),
            kind: format.describe(),
            detail: format!("its inner structure is broken: {why}"),
        });
    }
    let cursor = Cursor::new(bytes);
    let book = match format {
        Format::Xlsx => Xlsx::new(cursor)
            .map(Sheets::Xlsx)
            .map_err(calamine::Error::Xlsx),
        Format::Xlsb => Xlsb::new(cursor)
            .map(Sheets::Xlsb)
            .map_err(calamine::Error::Xlsb),
        Format::Xls => Xls::new(cursor)
            .map(Sheets::Xls)
            .map_err(calamine::Error::Xls),
        Format::Ods => Ods::new(cursor)
            .map(Sheets::Ods)
            .map_err(calamine::Error::Ods),
        Format::Csv => unreachable!("CSV files are read by sheet::csv"),
    };
    book.map_err(|e| calamine_error(path, format, e))
}

fn calamine_error(path: &Path, format: Format, error: calamine::Error) -> SheetError {
    use calamine::Error as E;
    match error {
        E::Xlsx(XlsxError::Password)
        | E::Xls(XlsError::Password)
        | E::Xlsb(XlsbError::Password)
        | E::Ods(OdsError::Password) => SheetError::PasswordProtected { path: path.into() },
        other => SheetError::Damaged {
            path: path.into(),
            kind: format.describe(),
            detail: inner_message(&other),
        },
    }
}

/// calamine prefixes its messages with the format ("Xlsx error: …"); we already say it.
fn inner_message(error: &calamine::Error) -> String {
    use calamine::Error as E;
    match error {
        E::Xlsx(e) => e.to_string(),
        E::Xls(e) => e.to_string(),
        E::Xlsb(e) => e.to_string(),
        E::Ods(e) => e.to_string(),
        other => other.to_string(),
    }
}

/// Find the sheet asked for. Names match exactly, or else ignoring case and surrounding
/// spaces when that picks exactly one sheet.
fn resolve_sheet(path: &Path, names: &[String], want: &SheetRef) -> Result<String, SheetError> {
    match want {
        SheetRef::Active => Ok(names.first().cloned().unwrap_or_default()),
        SheetRef::Index(i) => {
            names
                .get(i.wrapping_sub(1))
                .cloned()
                .ok_or_else(|| SheetError::SheetIndexOutOfRange {
                    path: path.into(),
                    index: *i,
                    available: names.to_vec(),
                })
        }
        SheetRef::Name(name) => {
            if let Some(found) = names.iter().find(|n| *n == name) {
                return Ok(found.clone());
            }
            let loose = |s: &str| crate::table::normalize_header(s).to_lowercase();
            let want = loose(name);
            let mut matches = names.iter().filter(|n| loose(n) == want);
            if let (Some(found), None) = (matches.next(), matches.next()) {
                return Ok(found.clone());
            }
            let suggestion = names
                .iter()
                .map(|n| (strsim::normalized_levenshtein(&loose(n), &want), n))
                .filter(|(score, _)| *score >= 0.5)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, n)| n.clone());
            Err(SheetError::MissingSheet {
                path: path.into(),
                sheet: name.clone(),
                available: names.to_vec(),
                suggestion,
            })
        }
    }
}

/// Header names for blank header cells inside merged regions (xlsx and xls only: the
/// other readers do not report merges). The name is the region's top-left value, which
/// may sit above the header row when the region spans rows.
fn merged_header_names(
    regions: &[Dimensions],
    range: &Range<Data>,
    selection: &Selection,
) -> Vec<(usize, String)> {
    let Some(row) = selection.header_row else {
        return Vec::new();
    };
    let row = row as u32;
    let mut names = Vec::new();
    for region in regions
        .iter()
        .filter(|d| d.start.0 <= row && row <= d.end.0)
    {
        let Some(value) = range.get_value(region.start) else {
            continue;
        };
        let name = value.to_string();
        if name.trim().is_empty() {
            continue;
        }
        for col in region.start.1..=region.end.1 {
            if (row, col) != region.start {
                names.push((col as usize, name.clone()));
            }
        }
    }
    names
}

/// Move the cells of the chosen rows and columns out of calamine's range into the table.
/// The header row and the rows above it stay in the range, for merged header names.
fn push_rows(assembler: &mut Assembler<'_>, selection: &Selection, range: &mut Range<Data>) {
    let Some((row0, col0)) = range.start() else {
        return;
    };
    let (row0, col0) = (row0 as usize, col0 as usize);
    let (first_col, last_col) = selection.columns();
    let range_last_col = col0 + range.width() - 1;
    let lo = first_col.max(col0);
    let hi = last_col.map_or(range_last_col, |c| c.min(range_last_col));
    if lo > hi {
        return;
    }
    let capacity = hi + 1 - first_col;
    for i in 0..range.height() {
        let row = row0 + i;
        if selection.is_past(row) {
            break;
        }
        if selection.skips(row) {
            continue;
        }
        let source = &mut range[i][lo - col0..=hi - col0];
        let header = assembler.header_row();
        if header.is_some_and(|h| row < h) && !assembler.wants_above() {
            if source.iter().any(|d| !is_blank(d)) {
                assembler.note_filled(row);
            }
            continue;
        }
        let mut cells = Vec::with_capacity(capacity);
        cells.resize(lo - first_col, Cell::Empty);
        // The header row and the rows above it stay in the range, for merged header names.
        if header.is_some_and(|h| row <= h) {
            cells.extend(source.iter().map(to_cell_ref));
        } else {
            cells.extend(source.iter_mut().map(|d| to_cell(std::mem::take(d))));
        }
        assembler.push(row, cells);
    }
}

fn is_blank(data: &Data) -> bool {
    match data {
        Data::Empty => true,
        Data::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

fn to_cell_ref(data: &Data) -> Cell {
    to_cell(data.clone())
}

/// One calamine value as a kobo cell.
fn to_cell(data: Data) -> Cell {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) => {
            if s.trim().is_empty() {
                Cell::Empty
            } else {
                Cell::Text(s)
            }
        }
        Data::Float(f) => Cell::number(f),
        Data::Int(i) => Cell::Int(i),
        Data::Bool(b) => Cell::Bool(b),
        Data::Error(e) => Cell::Error(e.to_string()),
        Data::DateTime(ref dt) => {
            if dt.is_duration() || dt.as_f64() < 1.0 {
                // A time of day or a duration: no calendar date, so keep what Excel shows.
                match data.as_duration() {
                    Some(d) => Cell::Text(format_duration(d)),
                    None => Cell::number(dt.as_f64()),
                }
            } else {
                match dt.as_datetime() {
                    Some(dt) => date_or_datetime(dt),
                    None => Cell::number(dt.as_f64()),
                }
            }
        }
        Data::DateTimeIso(s) => {
            if let Ok(dt) = s.parse::<NaiveDateTime>() {
                date_or_datetime(dt)
            } else if let Ok(d) = s.parse::<NaiveDate>() {
                Cell::Date(d)
            } else if let Ok(t) = s.parse::<NaiveTime>() {
                Cell::Text(format_time(t))
            } else {
                Cell::Text(s)
            }
        }
        Data::DurationIso(s) => match iso_duration_ms(&s) {
            Some(ms) => Cell::Text(format_duration_ms(ms)),
            None => Cell::Text(s),
        },
    }
}

fn date_or_datetime(dt: NaiveDateTime) -> Cell {
    if dt.time() == NaiveTime::MIN {
        Cell::Date(dt.date())
    } else {
        Cell::DateTime(dt)
    }
}

fn format_time(t: NaiveTime) -> String {
    if t.second() == 0 && t.nanosecond() == 0 {
        t.format("%H:%M").to_string()
    } else {
        t.format("%H:%M:%S%.f").to_string()
    }
}

fn format_duration(d: chrono::Duration) -> String {
    format_duration_ms(d.num_milliseconds())
}

/// `8:30`, `37:15:20`, `8:30:15.5`: hours may pass 24, as in Excel's `[h]:mm` format;
/// fractions of a second (ods keeps them) are kept.
fn format_duration_ms(ms: i64) -> String {
    let (sign, ms) = if ms < 0 { ("-", -ms) } else { ("", ms) };
    let (total, frac) = (ms / 1000, ms % 1000);
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if frac != 0 {
        let frac = format!("{frac:03}");
        format!("{sign}{h}:{m:02}:{s:02}.{}", frac.trim_end_matches('0'))
    } else if s == 0 {
        format!("{sign}{h}:{m:02}")
    } else {
        format!("{sign}{h}:{m:02}:{s:02}")
    }
}

/// An ods duration (`PT37H15M20.5S`, `-PT8H`) in milliseconds.
fn iso_duration_ms(s: &str) -> Option<i64> {
    let (sign, rest) = match s.trim().strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, s.trim()),
    };
    let rest = rest.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut ms = 0f64;
    if !days.is_empty() {
        ms += days.strip_suffix('D')?.parse::<f64>().ok()? * 86_400_000.0;
    }
    let mut number = String::new();
    for c in time.chars() {
        let unit = match c {
            'H' => 3_600_000.0,
            'M' => 60_000.0,
            'S' => 1000.0,
            c => {
                number.push(c);
                continue;
            }
        };
        ms += number.parse::<f64>().ok()? * unit;
        number.clear();
    }
    number.is_empty().then_some(sign * ms.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{ExcelDateTime, ExcelDateTimeType};

    fn excel(value: f64) -> Data {
        Data::DateTime(ExcelDateTime::new(
            value,
            ExcelDateTimeType::DateTime,
            false,
        ))
    }

    #[test]
    fn dates_times_and_durations() {
        let d = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        assert_eq!(to_cell(excel(46326.0)), Cell::Date(d));
        assert_eq!(
            to_cell(excel(46326.5)),
            Cell::DateTime(d.and_hms_opt(12, 0, 0).unwrap())
        );
        assert_eq!(to_cell(excel(0.375)), Cell::Text("9:00".into()));
        let duration = Data::DateTime(ExcelDateTime::new(1.5, ExcelDateTimeType::TimeDelta, false));
        assert_eq!(to_cell(duration), Cell::Text("36:00".into()));
        assert_eq!(
            to_cell(Data::DateTimeIso("2026-10-31".into())),
            Cell::Date(d)
        );
        assert_eq!(
            to_cell(Data::DateTimeIso("2026-10-31T09:30:00".into())),
            Cell::DateTime(d.and_hms_opt(9, 30, 0).unwrap())
        );
        assert_eq!(
            to_cell(Data::DurationIso("PT08H30M00S".into())),
            Cell::Text("8:30".into())
        );
    }

    #[test]
    fn fractions_of_a_second_are_kept() {
        assert_eq!(
            to_cell(Data::DurationIso("PT37H15M20.5S".into())),
            Cell::Text("37:15:20.5".into())
        );
        assert_eq!(
            to_cell(Data::DateTimeIso("09:30:15.25".into())),
            Cell::Text("09:30:15.250".into())
        );
        let d = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        assert_eq!(
            to_cell(Data::DateTimeIso("2026-10-31T09:30:15.25".into())),
            Cell::DateTime(d.and_hms_milli_opt(9, 30, 15, 250).unwrap())
        );
    }

    #[test]
    fn numbers_text_and_errors() {
        assert_eq!(to_cell(Data::Float(12.0)), Cell::Int(12));
        assert_eq!(to_cell(Data::Float(12.5)), Cell::Float(12.5));
        assert_eq!(to_cell(Data::String(" \u{3000}".into())), Cell::Empty);
        assert_eq!(
            to_cell(Data::Error(calamine::CellErrorType::Div0)),
            Cell::Error("#DIV/0!".into())
        );
    }
}
