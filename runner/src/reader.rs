//! `Reader`: turns parts of a YAML document into typed values, collecting every problem
//! as a [`DefinitionError`] that points at the line and column and suggests a fix.
//!
//! serde's own messages are written for programmers (`invalid type: string "x", expected u64`);
//! the reader rewrites the common ones into words a trainee can act on.

use crate::definition_error::{DefinitionError, did_you_mean};
use crate::source_map::{SourceMap, child_key};
use serde::de::DeserializeOwned;
use serde_yaml::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// Collects problems while a workflow file is read.
pub struct Reader {
    pub file: PathBuf,
    pub map: Arc<SourceMap>,
    pub errors: Vec<DefinitionError>,
}

impl Reader {
    pub fn new(file: PathBuf, map: Arc<SourceMap>) -> Reader {
        Reader {
            file,
            map,
            errors: Vec::new(),
        }
    }

    /// Record a problem at the value found at `path`.
    pub fn error(&mut self, path: &str, message: impl Into<String>, hint: Option<String>) {
        let pos = self.map.value(path);
        self.push(pos, message.into(), hint);
    }

    /// Record a problem at the key named by `path` (for unknown or misplaced keys).
    pub fn key_error(&mut self, path: &str, message: impl Into<String>, hint: Option<String>) {
        let pos = self.map.key(path);
        self.push(pos, message.into(), hint);
    }

    fn push(&mut self, pos: Option<crate::source_map::Pos>, message: String, hint: Option<String>) {
        self.errors.push(DefinitionError {
            file: self.file.clone(),
            pos,
            message,
            hint,
        });
    }

    /// Deserialize `value` (found at `path`) into `T`; on failure record a friendly error
    /// and return None. `what` names the thing for messages, e.g. "`fill`".
    pub fn parse<T: DeserializeOwned>(
        &mut self,
        value: &Value,
        path: &str,
        what: &str,
    ) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(v) => Some(v),
            Err(err) => {
                let inner_path = path_string(err.path());
                let full = join(path, &inner_path);
                let raw = err.inner().to_string();
                self.report_serde(&full, &raw, what, value_at(value, &inner_path));
                None
            }
        }
    }

    /// Check that a mapping has only the allowed keys; report each unknown key with a suggestion.
    pub fn check_keys(
        &mut self,
        map: &serde_yaml::Mapping,
        path: &str,
        allowed: &[&str],
        what: &str,
    ) {
        for key in map.keys() {
            let name = scalar_text(key);
            if !allowed.contains(&name.as_str()) {
                let hint = unknown_key_hint(&name, allowed);
                self.key_error(
                    &child_key(path, &name),
                    format!("unknown key `{name}` in {what}"),
                    Some(hint),
                );
            }
        }
    }

    fn report_serde(&mut self, path: &str, raw: &str, what: &str, found: Option<&Value>) {
        let field = last_key(path).unwrap_or(what.trim_matches('`')).to_string();
        if let Some(rest) = raw.strip_prefix("unknown field `") {
            let name = rest.split('`').next().unwrap_or_default();
            let allowed = backticked_list(rest);
            let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
            // serde_path_to_error may already end the path with the unknown key.
            let key_path = if last_key(path) == Some(name) {
                path.to_string()
            } else {
                child_key(path, name)
            };
            self.key_error(
                &key_path,
                format!("unknown key `{name}` in {what}"),
                Some(unknown_key_hint(name, &allowed)),
            );
        } else if let Some(rest) = raw.strip_prefix("missing field `") {
            let name = rest.split('`').next().unwrap_or_default();
            self.error(
                path,
                format!("{what} needs `{name}`"),
                Some(format!(
                    "add `{name}: ...` to {what}; docs/workflows.md shows an example"
                )),
            );
        } else if let Some(rest) = raw.strip_prefix("unknown variant `") {
            let name = rest.split('`').next().unwrap_or_default();
            let allowed = backticked_list(rest);
            let refs: Vec<&str> = allowed.iter().map(String::as_str).collect();
            let hint = match did_you_mean(name, refs.iter().copied()) {
                Some(best) => format!("did you mean `{best}`? Allowed: {}", refs.join(", ")),
                None => format!("allowed: {}", refs.join(", ")),
            };
            self.error(path, format!("`{field}` cannot be `{name}`"), Some(hint));
        } else if raw.starts_with("invalid type: ") || raw.starts_with("invalid value: ") {
            let expected = raw
                .split(", expected ")
                .nth(1)
                .unwrap_or("another kind of value");
            let (mut wanted, mut example) = describe_expected(expected);
            if field == "header_row" && example == Some("30") {
                // Rows count from 1, as in Excel.
                (wanted, example) = ("a whole number (1 or more)".into(), Some("1"));
            }
            let found_text = found
                .map(describe_value)
                .unwrap_or_else(|| "something else".into());
            self.error(
                path,
                format!("`{field}` must be {wanted}, but it is {found_text}"),
                example.map(|e| format!("for example `{field}: {e}`")),
            );
        } else {
            self.error(path, format!("{what}: {raw}"), None);
        }
    }
}

fn unknown_key_hint(name: &str, allowed: &[&str]) -> String {
    match did_you_mean(name, allowed.iter().copied()) {
        Some(best) => format!(
            "did you mean `{best}`? Allowed keys here: {}",
            allowed.join(", ")
        ),
        None => format!("allowed keys here: {}", allowed.join(", ")),
    }
}

/// The text of a YAML scalar used as a key or a name.
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// How a value looks to a person: `the text "thirty"`, `a list`, `the number 3`.
pub fn describe_value(v: &Value) -> String {
    match v {
        Value::Null => "empty".into(),
        Value::Bool(b) => format!("`{b}` (yes/no)"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the text \"{s}\""),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a group of keys".into(),
        Value::Tagged(_) => "a tagged value".into(),
    }
}

/// serde's "expected" phrase → (what we want, in words; an example).
fn describe_expected(expected: &str) -> (String, Option<&'static str>) {
    let e = expected.trim();
    if e.starts_with("u64")
        || e.starts_with("u32")
        || e.starts_with("usize")
        || e.starts_with("u16")
        || e.starts_with("u8")
    {
        ("a whole number (0 or more)".into(), Some("30"))
    } else if e.starts_with("i64") || e.starts_with("i32") {
        ("a whole number".into(), Some("3"))
    } else if e.starts_with("f64") || e.starts_with("f32") {
        ("a number".into(), Some("1.5"))
    } else if e.starts_with("a boolean") {
        ("true or false".into(), Some("true"))
    } else if e.starts_with("a string") {
        ("text".into(), Some("\"some text\""))
    } else if e.starts_with("a sequence") {
        ("a list".into(), Some("[a, b]"))
    } else if e.starts_with("a sheet number") || e.starts_with("a row number") {
        (e.to_string(), Some("1"))
    } else if e.starts_with("a map") || e.starts_with("struct") {
        ("a group of keys".into(), None)
    } else if e.contains("enum") {
        // serde names its own machinery here (`a Value::Tagged enum`): say it for people.
        (
            "one of the words allowed here (docs/workflows.md lists them)".into(),
            None,
        )
    } else {
        (expected.to_string(), None)
    }
}

/// The names between backticks after "expected one of".
fn backticked_list(text: &str) -> Vec<String> {
    let Some(rest) = text
        .split("expected one of ")
        .nth(1)
        .or_else(|| text.split("expected ").nth(1))
    else {
        return Vec::new();
    };
    rest.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect()
}

fn path_string(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

fn join(base: &str, inner: &str) -> String {
    match (base.is_empty(), inner.is_empty()) {
        (_, true) => base.to_string(),
        (true, false) => inner.to_string(),
        (false, false) if inner.starts_with('[') => format!("{base}{inner}"),
        (false, false) => format!("{base}.{inner}"),
    }
}

fn last_key(path: &str) -> Option<&str> {
    let tail = path.rsplit('.').next()?;
    let tail = tail.split('[').next()?;
    (!tail.is_empty()).then_some(tail)
}

/// The value inside `root` at a serde path like `a.b[2].c` (best effort, for messages).
fn value_at<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = root;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut pieces = part.split('[');
        let key = pieces.next().unwrap_or_default();
        if !key.is_empty() {
            cur = cur.get(key)?;
        }
        for idx in pieces {
            let i: usize = idx.trim_end_matches(']').parse().ok()?;
            cur = cur.get(i)?;
        }
    }
    Some(cur)
}
