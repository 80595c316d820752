//! `Lang`: the interface languages (English, Japanese, Ukrainian), their message catalogs,
//! and how dates and yen amounts are written in each.
//!
//! Catalogs are plain `key = text` files in `dashboard/i18n/`, embedded at compile time.
//! A key missing from a catalog falls back to English; a test checks that every key the
//! templates and the code use is in all three.
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

    use std::collections::BTreeSet;
    use std::path::Path;

    /// The values a key built from a value can take: `t["role_" ~ user.role]` in a template,
    /// `format!("role_{role}")` in the code, or `t[r.status]` (a key that is the value itself).
    fn values_of(built_from: &str) -> Option<Vec<String>> {
        use runner::run::RowStatus;
        use runner::{ReviewState, Role, RunStatus};
        // No `_ =>` in these matches: a new variant does not compile here until it is listed.
        let run_statuses = {
            use RunStatus::*;
            let all = [Queued, Running, Succeeded, Failed, Cancelled];
            all.map(|s| match s {
                Queued | Running | Succeeded | Failed | Cancelled => s.as_str(),
            })
        };
        let review_states = {
            use ReviewState::*;
            let all = [NotReviewable, Awaiting, Approved, Rejected];
            all.map(|s| match s {
                NotReviewable | Awaiting | Approved | Rejected => s.as_str(),
            })
        };
        let row_statuses = {
            use RowStatus::*;
            let all = [Pending, Ok, Failed, Skipped, InDoubt];
            all.map(|s| match s {
                Pending | Ok | Failed | Skipped | InDoubt => s.as_str(),
            })
        };
        let verdicts = {
            use runner::group::Verdict::{self, *};
            [LooksGood, NeedsWork].map(|v: Verdict| match v {
                LooksGood | NeedsWork => v.as_str(),
            })
        };
        let stages = {
            use runner::review::Stage::*;
            let all = [
                Queued, Running, Failed, Cancelled, Awaiting, Rejected, Delivered,
            ];
            all.map(|s| match s {
                Queued | Running | Failed | Cancelled | Awaiting | Rejected | Delivered => {
                    s.as_str()
                }
            })
        };
        let values: Vec<String> = match built_from {
            "role_" => Role::ALL.iter().map(|r| r.as_str().into()).collect(),
            "verdict_" => verdicts.iter().map(|v| v.to_string()).collect(),
            "lang_" => runner::client_lang::ClientLang::ALL
                .iter()
                .map(|l| l.code().into())
                .collect(),
            "status_" => run_statuses.iter().map(|s| s.to_string()).collect(),
            "state_" => review_states.iter().map(|s| s.to_string()).collect(),
            "stage_" => stages.iter().map(|s| s.to_string()).collect(),
            "err_title_" => crate::error::every_status()
                .iter()
                .map(|c| c.to_string())
                .collect(),
            "r.status" => return Some(row_statuses.iter().map(|s| s.to_string()).collect()),
            _ => return None,
        };
        Some(values.iter().map(|v| format!("{built_from}{v}")).collect())
    }

    /// The text up to the first `end`.
    fn until(text: &str, end: char) -> &str {
        text.split(end).next().unwrap_or("")
    }

    fn is_ident(c: char) -> bool {
        c.is_ascii_alphanumeric() || c == '_'
    }

    /// The places in `text` right after `pattern` where `pattern` starts a word.
    fn after<'a>(text: &'a str, pattern: &str) -> Vec<&'a str> {
        text.match_indices(pattern)
            .filter(|(i, _)| !text[..*i].ends_with(is_ident))
            .map(|(i, _)| &text[i + pattern.len()..])
            .collect()
    }

    /// Message keys used in a template: `t.key`, `t["key"]`, `t["prefix_" ~ value]`, `t[value]`.
    /// Keys built from a value go into `built` as their prefix (or the value's expression).
    fn template_keys(text: &str, keys: &mut Vec<String>, built: &mut Vec<String>) {
        for rest in after(text, "t.") {
            let key: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            keys.push(key);
        }
        for rest in after(text, "t[") {
            let inside = until(rest, ']').trim();
            match inside.strip_prefix('"') {
                Some(quoted) => {
                    let literal = until(quoted, '"');
                    if quoted[literal.len() + 1..].trim().is_empty() {
                        keys.push(literal.to_string());
                    } else {
                        built.push(literal.to_string());
                    }
                }
                None => built.push(inside.to_string()),
            }
        }
    }

    /// Message keys used in Rust code (tests left out): `Msg::key("key")`, `lang.t("key")`,
    /// and keys built with `format!("prefix_{value}")`.
    fn code_keys(text: &str, keys: &mut Vec<String>, built: &mut Vec<String>) {
        let code = text.split("#[cfg(test)]").next().unwrap_or(text);
        for pattern in ["Msg::key(\"", ".t(\""] {
            for rest in code.split(pattern).skip(1) {
                keys.push(until(rest, '"').to_string());
            }
        }
        for rest in code.split("format!(\"").skip(1) {
            let head = until(rest, '"');
            if let Some((prefix, _)) = head.split_once('{')
                && prefix.ends_with('_')
                && prefix.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            {
                built.push(prefix.to_string());
            }
        }
    }

    fn files(dir: &str, ext: &str) -> Vec<(String, String)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).unwrap())
            })
            .collect();
        out.sort();
        out
    }

    /// Every message the templates and the code use is in English, Japanese and Ukrainian,
    /// and the three catalogs have the same keys, each once, and none that nothing uses.
    #[test]
    fn every_key_used_is_in_every_language() {
        // Where each key is used.
        let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut unknown_built = Vec::new();
        let mut scan = |name: &str, keys: Vec<String>, built: Vec<String>| {
            let mut keys = keys;
            for b in built {
                match values_of(&b) {
                    Some(values) => keys.extend(values),
                    None => unknown_built.push(format!("{b} ({name})")),
                }
            }
            for k in keys {
                used.entry(k).or_default().insert(name.to_string());
            }
        };
        for (name, text) in files("templates", "html") {
            let (mut keys, mut built) = (Vec::new(), Vec::new());
            template_keys(&text, &mut keys, &mut built);
            scan(&name, keys, built);
        }
        for (name, text) in files("src", "rs") {
            let (mut keys, mut built) = (Vec::new(), Vec::new());
            code_keys(&text, &mut keys, &mut built);
            scan(&name, keys, built);
        }
        assert!(
            unknown_built.is_empty(),
            "keys built from a value this test does not know: {unknown_built:?}; list its values in `values_of`"
        );
        assert!(
            used.contains_key("err_title_404")
                && used.contains_key("role_admin")
                && used.len() > 100,
            "the scan missed keys: {used:?}"
        );

        let catalogs = [(Lang::En, EN), (Lang::Ja, JA), (Lang::Uk, UK)]
            .map(|(l, text)| (l, parse(text), text));
        let defined: BTreeSet<&String> = catalogs.iter().flat_map(|(_, c, _)| c.keys()).collect();
        let mut problems = Vec::new();
        for (lang, catalog, text) in &catalogs {
            let missing: Vec<String> = used
                .iter()
                .filter(|(k, _)| !catalog.contains_key(*k))
                .map(|(k, files)| {
                    format!(
                        "{k} (used in {})",
                        files.iter().cloned().collect::<Vec<_>>().join(", ")
                    )
                })
                .collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "{}.txt lacks keys used: {}",
                    lang.code(),
                    missing.join("; ")
                ));
            }
            let others: Vec<&String> = defined
                .iter()
                .filter(|k| !catalog.contains_key(**k))
                .copied()
                .collect();
            if !others.is_empty() {
                problems.push(format!(
                    "{}.txt lacks keys another catalog has: {others:?}",
                    lang.code()
                ));
            }
            let unused: Vec<&String> = catalog.keys().filter(|k| !used.contains_key(*k)).collect();
            if !unused.is_empty() {
                problems.push(format!("{}.txt has keys nothing uses (remove them, or teach this test the use it misses): {unused:?}", lang.code()));
            }
            let lines = text
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .filter_map(|l| l.split_once(" = "));
            let mut seen = BTreeSet::new();
            let twice: Vec<&str> = lines
                .map(|(k, _)| k.trim())
                .filter(|k| !seen.insert(*k))
                .collect();
            if !twice.is_empty() {
                problems.push(format!(
                    "{}.txt has keys twice (the last one wins): {twice:?}",
                    lang.code()
                ));
            }
        }
        assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
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
