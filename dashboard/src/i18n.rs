//! `Lang`: the interface languages (English, Japanese, Ukrainian), their message catalogs,
//! and how dates and yen amounts are written in each.
//!
//! Catalogs are plain `key = text` files in `dashboard/i18n/`, embedded at compile time.
//! A key missing from a catalog falls back to English (a test checks none is missing).
//! Times are shown in Japan time, where the co-op, its trainees and its clients work.

use chrono::{DateTime, Datelike};
use std::collections::BTreeMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
    Uk,
}

const EN: &str = include_str!("../i18n/en.txt");
const JA: &str = include_str!("../i18n/ja.txt");
const UK: &str = include_str!("../i18n/uk.txt");

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Ja, Lang::Uk];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
            Lang::Uk => "uk",
        }
    }

    /// The language's own name, for the language menu.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ja => "日本語",
            Lang::Uk => "Українська",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The best language from an `Accept-Language` header (`uk-UA,uk;q=0.9,en;q=0.8`), else English.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut choices: Vec<(f32, Lang)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.trim().split(';');
                let tag = pieces.next()?.trim().to_ascii_lowercase();
                let q = pieces
                    .find_map(|p| {
                        p.trim()
                            .strip_prefix("q=")
                            .and_then(|q| q.parse::<f32>().ok())
                    })
                    .unwrap_or(1.0);
                let primary = tag.split('-').next()?;
                Lang::from_code(primary).map(|l| (q, l))
            })
            .collect();
        // A stable sort keeps the header's order among equal weights.
        choices.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
        choices.first().map(|c| c.1).unwrap_or(Lang::En)
    }

    /// Every message in this language (English where the catalog lacks a key).
    pub fn catalog(self) -> &'static BTreeMap<String, String> {
        static CATALOGS: OnceLock<[BTreeMap<String, String>; 3]> = OnceLock::new();
        let all = CATALOGS.get_or_init(|| {
            let en = parse(EN);
            let merged = |text: &str| {
                let mut m = en.clone();
                m.extend(parse(text));
                m
            };
            [en.clone(), merged(JA), merged(UK)]
        });
        &all[self as usize]
    }

    /// A message by key; the key itself if unknown (visible, so it gets noticed).
    pub fn t(self, key: &str) -> &str {
        self.catalog().get(key).map(String::as_str).unwrap_or(key)
    }

    /// A time from the records (RFC 3339), in Japan time, the way this language writes it.
    pub fn datetime(self, rfc3339: &str) -> String {
        let Ok(t) = DateTime::parse_from_rfc3339(rfc3339) else {
            return rfc3339.to_string();
        };
        let t = t.with_timezone(&runner::payout::jst());
        match self {
            Lang::En => t.format("%-d %b %Y, %H:%M").to_string(),
            Lang::Ja => t.format("%Y年%-m月%-d日 %H:%M").to_string(),
            Lang::Uk => t.format("%d.%m.%Y %H:%M").to_string(),
        }
    }

    /// A month key (`2026-11`) as a heading: "November 2026", "2026年11月", "листопад 2026".
    pub fn month(self, key: &str) -> String {
        let Ok(d) = chrono::NaiveDate::parse_from_str(&format!("{key}-01"), "%Y-%m-%d") else {
            return key.to_string();
        };
        const UK_MONTHS: [&str; 12] = [
            "січень",
            "лютий",
            "березень",
            "квітень",
            "травень",
            "червень",
            "липень",
            "серпень",
            "вересень",
            "жовтень",
            "листопад",
            "грудень",
        ];
        match self {
            Lang::En => d.format("%B %Y").to_string(),
            Lang::Ja => format!("{}年{}月", d.year(), d.month()),
            Lang::Uk => format!("{} {}", UK_MONTHS[d.month0() as usize], d.year()),
        }
    }

    /// Yen: "¥1,200" (English), "1,200円" (Japanese), "1 200 ¥" (Ukrainian, no-break spaces).
    pub fn yen(self, amount: i64) -> String {
        let sep = if self == Lang::Uk { "\u{a0}" } else { "," };
        let digits = amount.unsigned_abs().to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push_str(sep);
            }
            grouped.push(c);
        }
        let sign = if amount < 0 { "-" } else { "" };
        match self {
            Lang::En => format!("{sign}¥{grouped}"),
            Lang::Ja => format!("{sign}{grouped}円"),
            Lang::Uk => format!("{sign}{grouped}\u{a0}¥"),
        }
    }
}

fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_has_every_key() {
        let en = parse(EN);
        for (lang, text) in [(Lang::Ja, JA), (Lang::Uk, UK)] {
            let other = parse(text);
            let missing: Vec<&String> = en.keys().filter(|k| !other.contains_key(*k)).collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", lang.code());
        }
    }

    #[test]
    fn browser_language_and_formats() {
        assert_eq!(
            Lang::from_accept_language("uk-UA,uk;q=0.9,en-US;q=0.8"),
            Lang::Uk
        );
        assert_eq!(
            Lang::from_accept_language("fr-FR, ja;q=0.5, en;q=0.4"),
            Lang::Ja
        );
        assert_eq!(Lang::from_accept_language("de"), Lang::En);
        assert_eq!(Lang::En.yen(1234567), "¥1,234,567");
        assert_eq!(Lang::Ja.yen(700), "700円");
        assert_eq!(Lang::Uk.yen(1200), "1\u{a0}200\u{a0}¥");
        assert_eq!(
            Lang::Ja.datetime("2026-11-25T13:18:51+00:00"),
            "2026年11月25日 22:18"
        );
        assert_eq!(
            Lang::Uk.datetime("2026-11-25T13:18:51+00:00"),
            "25.11.2026 22:18"
        );
        assert_eq!(Lang::Uk.month("2026-11"), "листопад 2026");
    }
}
