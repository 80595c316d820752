//! A1-style cell names and ranges (`B7`, `B2:F100`, open-ended `B2:F`), as people type
//! them in Excel. Rows and columns are 0-based inside, 1-based and lettered outside.

use std::fmt::Write as _;

/// The largest sheet Excel allows; used to reject nonsense like `A99999999`.
const MAX_ROWS: usize = 1_048_576;
const MAX_COLUMNS: usize = 16_384;

/// A rectangle of a sheet. `last_row` / `last_col` are `None` for "to the end".
/// All numbers are 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellRange {
    pub first_row: usize,
    pub first_col: usize,
    pub last_row: Option<usize>,
    pub last_col: Option<usize>,
}

impl CellRange {
    /// The whole sheet.
    pub const ALL: CellRange = CellRange {
        first_row: 0,
        first_col: 0,
        last_row: None,
        last_col: None,
    };

    /// Parse `B2:F100`, `B2:F`, `B:F`, `B2` (from B2 to the end) or `$B$2:$F$100`.
    /// The error says what is wrong, in words a trainee can act on.
    pub fn parse(text: &str) -> Result<CellRange, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the range is empty".into());
        }
        let (start, end) = match text.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let (first_col, first_row) = parse_ref(start)?;
        let first_col = first_col.ok_or_else(|| format!("`{start}` has no column letter"))?;
        let first_row = first_row.unwrap_or(0);
        let (last_col, last_row) = match end {
            None => (None, None),
            Some(end) => {
                let (col, row) = parse_ref(end)?;
                if col.is_none() {
                    return Err(format!("`{end}` has no column letter"));
                }
                (col, row)
            }
        };
        if let Some(last_col) = last_col
            && last_col < first_col
        {
            return Err(format!(
                "column {} comes before column {}",
                column_letter(last_col),
                column_letter(first_col)
            ));
        }
        if let Some(last_row) = last_row
            && last_row < first_row
        {
            return Err(format!(
                "row {} comes before row {}",
                last_row + 1,
                first_row + 1
            ));
        }
        Ok(CellRange {
            first_row,
            first_col,
            last_row,
            last_col,
        })
    }

    pub fn contains_row(&self, row: usize) -> bool {
        row >= self.first_row && self.last_row.is_none_or(|last| row <= last)
    }
}

/// `B7` → (Some(1), Some(6)); `B` → (Some(1), None). `$` signs are allowed and ignored.
fn parse_ref(text: &str) -> Result<(Option<usize>, Option<usize>), String> {
    let bad = || format!("`{text}` is not a cell name like `B2`");
    let cleaned = text.trim().replace('$', "");
    if cleaned.is_empty() {
        return Err(bad());
    }
    let split = cleaned
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(cleaned.len());
    let (letters, digits) = cleaned.split_at(split);
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let col = if letters.is_empty() {
        None
    } else {
        let mut n = 0usize;
        for c in letters.chars() {
            n = n * 26 + (c.to_ascii_uppercase() as usize - 'A' as usize + 1);
            if n > MAX_COLUMNS {
                return Err(format!(
                    "column `{letters}` is past Excel's last column XFD"
                ));
            }
        }
        Some(n - 1)
    };
    let row = if digits.is_empty() {
        None
    } else {
        let n: usize = digits.parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(format!("`{text}`: rows start at 1"));
        }
        if n > MAX_ROWS {
            return Err(format!("row {n} is past Excel's last row {MAX_ROWS}"));
        }
        Some(n - 1)
    };
    if col.is_none() && row.is_none() {
        return Err(bad());
    }
    Ok((col, row))
}

/// Column letters for a 0-based column: 0 → `A`, 25 → `Z`, 26 → `AA`.
pub fn column_letter(col: usize) -> String {
    let mut out = String::new();
    push_column_letter(&mut out, col);
    out
}

fn push_column_letter(out: &mut String, col: usize) {
    let mut n = col + 1;
    let mut buf = [0u8; 4];
    let mut len = 0;
    while n > 0 {
        let rem = (n - 1) % 26;
        buf[len] = b'A' + rem as u8;
        len += 1;
        n = (n - 1) / 26;
    }
    for &b in buf[..len].iter().rev() {
        out.push(b as char);
    }
}

/// A1 name of a 0-based cell: (6, 1) → `B7`.
pub fn cell_name(row: usize, col: usize) -> String {
    let mut out = String::new();
    push_column_letter(&mut out, col);
    let _ = write!(out, "{}", row + 1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_round_trip() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(16_383), "XFD");
        assert_eq!(cell_name(6, 1), "B7");
    }

    #[test]
    fn ranges_as_people_write_them() {
        let r = CellRange::parse("B2:F100").unwrap();
        assert_eq!(
            (r.first_row, r.first_col, r.last_row, r.last_col),
            (1, 1, Some(99), Some(5))
        );
        let r = CellRange::parse(" $b$2:$f ").unwrap();
        assert_eq!(
            (r.first_row, r.first_col, r.last_row, r.last_col),
            (1, 1, None, Some(5))
        );
        let r = CellRange::parse("C3").unwrap();
        assert_eq!(
            (r.first_row, r.first_col, r.last_row, r.last_col),
            (2, 2, None, None)
        );
        let r = CellRange::parse("A:C").unwrap();
        assert_eq!(
            (r.first_row, r.first_col, r.last_row, r.last_col),
            (0, 0, None, Some(2))
        );
    }

    #[test]
    fn bad_ranges_say_why() {
        assert_eq!(
            CellRange::parse("F2:B9").unwrap_err(),
            "column B comes before column F"
        );
        assert_eq!(
            CellRange::parse("B9:F2").unwrap_err(),
            "row 2 comes before row 9"
        );
        assert_eq!(
            CellRange::parse("2:9").unwrap_err(),
            "`2` has no column letter"
        );
        assert_eq!(CellRange::parse("B0").unwrap_err(), "`B0`: rows start at 1");
        assert_eq!(
            CellRange::parse("B2-F9").unwrap_err(),
            "`B2-F9` is not a cell name like `B2`"
        );
        assert_eq!(CellRange::parse("").unwrap_err(), "the range is empty");
    }
}
