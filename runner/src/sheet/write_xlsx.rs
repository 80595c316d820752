//! Writing tables as an xlsx workbook with rust_xlsxwriter: one worksheet per table, a
//! bold frozen header row, real Excel dates, per-column number formats, column widths
//! sized to the content (Japanese characters count double).

use super::atomic::write_atomically;
use super::error::write_failure;
use super::range::cell_name;
use super::{ColumnFormat, OutputSheet, SheetError};
use crate::table::{Cell, parse_number};
use chrono::{NaiveDate, NaiveDateTime};
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use std::collections::HashSet;
use std::path::Path;

const DATE_FORMAT: &str = "yyyy-mm-dd";
const DATETIME_FORMAT: &str = "yyyy-mm-dd hh:mm:ss";
const DATETIME_MS_FORMAT: &str = "yyyy-mm-dd hh:mm:ss.000";
/// Times of day and durations: hours may pass 24 (`37:15:00`), as in Excel's `[h]` format.
const TIME_FORMAT: &str = "[h]:mm:ss";
const TIME_MS_FORMAT: &str = "[h]:mm:ss.000";
/// Excel's limits.
const MAX_DATA_ROWS: usize = 1_048_575;
const MAX_COLUMNS: usize = 16_384;
const MAX_TEXT_CHARS: usize = 32_767;
/// Column widths are measured on this many rows: enough to look right, cheap on big tables.
const WIDTH_SAMPLE_ROWS: usize = 1000;

pub(crate) fn write(path: &Path, sheets: &[OutputSheet<'_>]) -> Result<(), SheetError> {
    if sheets.is_empty() {
        return Err(SheetError::NoSheets { path: path.into() });
    }
    check_sheet_names(path, sheets)?;
    let mut workbook = Workbook::new();
    for sheet in sheets {
        let worksheet = workbook.add_worksheet();
        worksheet
            .set_name(&sheet.name)
            .map_err(|e| xlsx_error(path, e))?;
        write_sheet(path, worksheet, sheet)?;
    }
    write_atomically(path, |out| {
        workbook
            .save_to_writer(out)
            .map_err(|e| xlsx_error(path, e))
    })
}

fn xlsx_error(path: &Path, error: XlsxError) -> SheetError {
    match &error {
        XlsxError::IoError(e) => write_failure(path, e),
        _ => SheetError::Write {
            path: path.into(),
            message: error.to_string(),
        },
    }
}

/// Excel's sheet name rules, checked here so that the message can say what to change.
fn check_sheet_names(path: &Path, sheets: &[OutputSheet<'_>]) -> Result<(), SheetError> {
    let mut seen = HashSet::new();
    for sheet in sheets {
        let name = &sheet.name;
        let invalid = |reason: String| SheetError::InvalidSheetName {
            path: path.into(),
            name: name.clone(),
            reason,
        };
        let chars = name.chars().count();
        if name.trim().is_empty() {
            return Err(invalid("a sheet name cannot be empty".into()));
        }
        if chars > 31 {
            return Err(invalid(format!(
                "it has {chars} characters, and Excel allows at most 31"
            )));
        }
        if let Some(c) = name.chars().find(|c| "[]:*?/\\".contains(*c)) {
            return Err(invalid(format!(
                "it contains `{c}`, and Excel does not allow any of [ ] : * ? / \\ in sheet names"
            )));
        }
        if name.starts_with('\'') || name.ends_with('\'') {
            return Err(invalid(
                "Excel does not allow an apostrophe (') at the start or end".into(),
            ));
        }
        if name.eq_ignore_ascii_case("history") {
            return Err(invalid("Excel keeps the name `History` for itself".into()));
        }
        if !seen.insert(name.to_lowercase()) {
            return Err(SheetError::DuplicateSheetName {
                path: path.into(),
                name: name.clone(),
            });
        }
    }
    Ok(())
}

/// How one column's cells are written.
struct ColumnPlan {
    format: Option<Format>,
    /// The column format shows dates, so date-like text becomes a real date.
    dates: bool,
    /// The column format shows numbers, so number-like text becomes a number.
    numbers: bool,
    /// Without a format: what every text cell of the column reads as (CSV values are text).
    inferred: Option<Inferred>,
}

/// What all the text of a column reads as, so that a CSV's numbers, dates and times reach
/// Excel as numbers, dates and times, not as text Excel flags with a green triangle.
#[derive(Clone, Copy, PartialEq)]
enum Inferred {
    /// `thousands`: some cell was written `1,200`, so the column shows `#,##0`.
    Number {
        thousands: bool,
    },
    Date,
    /// `[h]:mm:ss`; `ms` when some cell has fractions of a second.
    Time {
        ms: bool,
    },
}

fn plan_columns(path: &Path, sheet: &OutputSheet<'_>) -> Result<Vec<ColumnPlan>, SheetError> {
    let table = sheet.table;
    let mut plans: Vec<ColumnPlan> = (0..table.columns.len())
        .enumerate()
        .map(|(c, _)| ColumnPlan {
            format: None,
            dates: false,
            numbers: false,
            inferred: infer_column(table, c),
        })
        .collect();
    for ColumnFormat { column, format } in &sheet.formats {
        let Some(i) = table.column_index(column) else {
            return Err(SheetError::UnknownColumn {
                path: path.into(),
                sheet: sheet.name.clone(),
                column: column.clone(),
                available: table.columns.clone(),
            });
        };
        let dates = is_date_format(format);
        plans[i] = ColumnPlan {
            format: Some(Format::new().set_num_format(format)),
            dates,
            numbers: !dates && format.contains(['0', '#', '?']),
            inferred: None,
        };
    }
    Ok(plans)
}

fn write_sheet(path: &Path, ws: &mut Worksheet, sheet: &OutputSheet<'_>) -> Result<(), SheetError> {
    let table = sheet.table;
    let too_large = |what: String| SheetError::TooLarge {
        path: path.into(),
        sheet: sheet.name.clone(),
        what,
    };
    if table.rows.len() > MAX_DATA_ROWS {
        return Err(too_large(format!(
            "{} rows, and Excel allows at most {MAX_DATA_ROWS} below the header",
            table.rows.len()
        )));
    }
    if table.columns.len() > MAX_COLUMNS {
        return Err(too_large(format!(
            "{} columns, and Excel allows at most {MAX_COLUMNS}",
            table.columns.len()
        )));
    }
    let plans = plan_columns(path, sheet)?;
    let err = |e: XlsxError| xlsx_error(path, e);
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format(DATE_FORMAT);
    let datetime = Format::new().set_num_format(DATETIME_FORMAT);
    let datetime_ms = Format::new().set_num_format(DATETIME_MS_FORMAT);
    let time = Format::new().set_num_format(TIME_FORMAT);
    let time_ms = Format::new().set_num_format(TIME_MS_FORMAT);
    let thousands = Format::new().set_num_format("#,##0");
    let datetime_for = |d: &NaiveDateTime| {
        if d.and_utc().timestamp_subsec_nanos() == 0 {
            &datetime
        } else {
            &datetime_ms
        }
    };

    let mut widths: Vec<usize> = Vec::with_capacity(table.columns.len());
    for (c, name) in table.columns.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, name, &bold)
            .map_err(err)?;
        widths.push(text_width(name) + 1);
    }
    for (r, row) in table.rows.iter().enumerate() {
        let xr = (r + 1) as u32;
        for (c, (cell, plan)) in row.iter().zip(&plans).enumerate() {
            let xc = c as u16;
            let custom = plan.format.as_ref();
            let result = match cell {
                Cell::Empty => continue,
                Cell::Text(s) => {
                    if s.len() > MAX_TEXT_CHARS && s.chars().count() > MAX_TEXT_CHARS {
                        return Err(SheetError::TextTooLong {
                            path: path.into(),
                            sheet: sheet.name.clone(),
                            cell: cell_name(r + 1, c),
                        });
                    }
                    match (plan.dates, plan.numbers) {
                        (true, _) => match parse_date_text(s) {
                            Some(DateText::Date(d)) => {
                                ws.write_datetime_with_format(xr, xc, d, custom.unwrap_or(&date))
                            }
                            Some(DateText::DateTime(d)) => ws.write_datetime_with_format(
                                xr,
                                xc,
                                d,
                                custom.unwrap_or(&datetime),
                            ),
                            None => ws.write_string(xr, xc, s),
                        },
                        (_, true) => match parse_number(s) {
                            Some(n) => write_number(ws, xr, xc, n, custom),
                            None => ws.write_string(xr, xc, s),
                        },
                        _ => match (custom, plan.inferred) {
                            (Some(f), _) => ws.write_string_with_format(xr, xc, s, f),
                            (None, Some(Inferred::Number { thousands: t })) => {
                                match number_text(s) {
                                    Some(n) if t => {
                                        ws.write_number_with_format(xr, xc, n, &thousands)
                                    }
                                    Some(n) => ws.write_number(xr, xc, n),
                                    None => ws.write_string(xr, xc, s),
                                }
                            }
                            (None, Some(Inferred::Date)) => match parse_date_text(s) {
                                Some(DateText::Date(d)) => {
                                    ws.write_datetime_with_format(xr, xc, d, &date)
                                }
                                Some(DateText::DateTime(d)) => {
                                    ws.write_datetime_with_format(xr, xc, d, datetime_for(&d))
                                }
                                None => ws.write_string(xr, xc, s),
                            },
                            (None, Some(Inferred::Time { ms })) => match time_text(s) {
                                Some(days) => ws.write_number_with_format(
                                    xr,
                                    xc,
                                    days,
                                    if ms { &time_ms } else { &time },
                                ),
                                None => ws.write_string(xr, xc, s),
                            },
                            (None, None) => ws.write_string(xr, xc, s),
                        },
                    }
                }
                Cell::Int(i) => write_number(ws, xr, xc, *i as f64, custom),
                Cell::Float(x) => write_number(ws, xr, xc, *x, custom),
                Cell::Bool(b) => match custom {
                    Some(f) => ws.write_boolean_with_format(xr, xc, *b, f),
                    None => ws.write_boolean(xr, xc, *b),
                },
                Cell::Date(d) => {
                    let f = if plan.dates {
                        custom.unwrap_or(&date)
                    } else {
                        &date
                    };
                    ws.write_datetime_with_format(xr, xc, d, f)
                }
                Cell::DateTime(d) => {
                    let f = if plan.dates {
                        custom.unwrap_or(datetime_for(d))
                    } else {
                        datetime_for(d)
                    };
                    ws.write_datetime_with_format(xr, xc, d, f)
                }
                Cell::Error(e) => ws.write_string(xr, xc, e),
            };
            result.map_err(err)?;
            if r < WIDTH_SAMPLE_ROWS {
                widths[c] = widths[c].max(cell_width(cell));
            }
        }
    }
    for (c, w) in widths.into_iter().enumerate() {
        let width = (w + 2).clamp(8, 60);
        ws.set_column_width(c as u16, width as f64).map_err(err)?;
    }
    if !table.columns.is_empty() {
        ws.set_freeze_panes(1, 0).map_err(err)?;
    }
    Ok(())
}

fn write_number<'w>(
    ws: &'w mut Worksheet,
    row: u32,
    col: u16,
    n: f64,
    format: Option<&Format>,
) -> Result<&'w mut Worksheet, XlsxError> {
    match format {
        Some(f) => ws.write_number_with_format(row, col, n, f),
        None => ws.write_number(row, col, n),
    }
}

/// An Excel format code shows a date or time when it has y, d, h or s outside quoted
/// text and `[...]` sections (`m` alone could be minutes or months, and needs one of them).
fn is_date_format(code: &str) -> bool {
    let mut quoted = false;
    let mut bracket = false;
    let mut escaped = false;
    for c in code.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if !quoted => escaped = true,
            '"' => quoted = !quoted,
            '[' if !quoted => bracket = true,
            ']' if !quoted => bracket = false,
            'y' | 'Y' | 'd' | 'D' | 'h' | 'H' | 's' | 'S' if !quoted && !bracket => return true,
            _ => {}
        }
    }
    false
}

/// What every text cell of column `c` reads as, if they all read as one kind; `None` when
/// the column has no text or some text is only text (`00123`, `INV-1`, `12:00頃`).
fn infer_column(table: &crate::table::Table, c: usize) -> Option<Inferred> {
    let mut kind: Option<Inferred> = None;
    for row in &table.rows {
        let Some(Cell::Text(s)) = row.get(c) else {
            continue;
        };
        let this = if number_text(s).is_some() {
            Inferred::Number {
                thousands: s.contains([',', '，']),
            }
        } else if parse_date_text(s).is_some() {
            Inferred::Date
        } else if time_text(s).is_some() {
            Inferred::Time {
                ms: s.contains('.'),
            }
        } else {
            return None;
        };
        kind = Some(match (kind, this) {
            (None, k) => k,
            (Some(Inferred::Number { thousands: a }), Inferred::Number { thousands: b }) => {
                Inferred::Number { thousands: a || b }
            }
            (Some(Inferred::Date), Inferred::Date) => Inferred::Date,
            (Some(Inferred::Time { ms: a }), Inferred::Time { ms: b }) => {
                Inferred::Time { ms: a || b }
            }
            _ => return None,
        });
    }
    kind
}

/// A number as a CSV writes one: `1200`, `-5.5`, `1,200`, `¥1,200`, `１２００`. Not a code
/// with a leading zero (`00123`), not more digits than Excel keeps (15), no exponents.
fn number_text(s: &str) -> Option<f64> {
    let n = parse_number(s)?;
    let digits: String = s
        .trim()
        .chars()
        .filter_map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
            '0'..='9' | '.' | '．' | '-' | '－' | '−' => Some(c),
            ',' | '，' | '¥' | '￥' | '\\' | '円' => None,
            _ => Some('x'),
        })
        .collect();
    let body = digits.trim_start_matches(['-', '－', '−']);
    let int = body.split(['.', '．']).next().unwrap_or("");
    let ok = !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '．')
        && !int.is_empty()
        && (int.len() == 1 || !int.starts_with('0'))
        && body.chars().filter(char::is_ascii_digit).count() <= 15;
    ok.then_some(n)
}

/// `9:05`, `37:15:20`, `08:30:15.5` as a fraction of a day (Excel's time value).
fn time_text(s: &str) -> Option<f64> {
    let s = s.trim();
    let (sign, s) = match s.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, s),
    };
    let mut parts = s.split(':');
    let h = parts.next()?;
    let m = parts.next()?;
    let sec = parts.next();
    if parts.next().is_some()
        || h.is_empty()
        || h.len() > 5
        || m.len() != 2
        || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (h, m): (f64, f64) = (h.parse().ok()?, m.parse().ok()?);
    let sec: f64 = match sec {
        None => 0.0,
        Some(x) => {
            let whole = x.split('.').next()?;
            if whole.len() != 2 || !x.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return None;
            }
            x.parse().ok()?
        }
    };
    if m >= 60.0 || sec >= 60.0 {
        return None;
    }
    Some(sign * (h * 3600.0 + m * 60.0 + sec) / 86_400.0)
}

enum DateText {
    Date(NaiveDate),
    DateTime(NaiveDateTime),
}

/// Dates as they come in CSV files: `2026-11-05`, `2026/11/05`, `2026/1/5`, with an
/// optional time `13:45` or `13:45:10`.
fn parse_date_text(text: &str) -> Option<DateText> {
    let text = text.trim();
    if text.len() < 8 || !text.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let normalized = text.replace('/', "-").replacen('T', " ", 1);
    if let Ok(d) = NaiveDate::parse_from_str(&normalized, "%Y-%m-%d") {
        return Some(DateText::Date(d));
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&normalized, f).ok())
        .map(DateText::DateTime)
}

/// Width of text in Excel's character units: East Asian wide characters count as two.
fn text_width(text: &str) -> usize {
    text.lines()
        .map(|line| line.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum())
        .max()
        .unwrap_or(0)
}

fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

fn cell_width(cell: &Cell) -> usize {
    match cell {
        Cell::Empty => 0,
        Cell::Text(s) | Cell::Error(s) => text_width(s),
        Cell::Int(i) => {
            let digits = i.unsigned_abs().checked_ilog10().unwrap_or(0) as usize + 1;
            digits + digits / 3 + usize::from(*i < 0)
        }
        Cell::Float(_) => 12,
        Cell::Bool(_) => 5,
        Cell::Date(_) => 10,
        Cell::DateTime(_) => 16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_formats_are_recognised() {
        assert!(is_date_format("yyyy-mm-dd"));
        assert!(is_date_format("yyyy\"年\"m\"月\"d\"日\""));
        assert!(is_date_format("hh:mm"));
        assert!(!is_date_format("#,##0"));
        assert!(!is_date_format("#,##0\"日\""));
        assert!(!is_date_format("[Red]0.00"));
        assert!(!is_date_format("0.00E+00"));
    }

    #[test]
    fn date_text() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert!(
            matches!(parse_date_text("2026-11-05"), Some(DateText::Date(x)) if x == d(2026, 11, 5))
        );
        assert!(
            matches!(parse_date_text("2026/11/05"), Some(DateText::Date(x)) if x == d(2026, 11, 5))
        );
        assert!(
            matches!(parse_date_text("2026/1/5"), Some(DateText::Date(x)) if x == d(2026, 1, 5))
        );
        assert!(matches!(
            parse_date_text("2026/1/5 9:05"),
            Some(DateText::DateTime(_))
        ));
        assert!(parse_date_text("00123").is_none());
        assert!(parse_date_text("2026/13/05").is_none());
    }

    #[test]
    fn widths() {
        assert_eq!(text_width("abc"), 3);
        assert_eq!(text_width("請求書"), 6);
        assert_eq!(text_width("ab\nabcd"), 4);
        assert_eq!(cell_width(&Cell::Int(1_234_567)), 9);
    }
}
