//! Reading a workflow's YAML once: its values, and where each one sits (line and column).
//!
//! [`load`] parses the text a single time into a `serde_yaml::Value` (which the steps read
//! with serde) and a [`SourceMap`] of positions by path (`steps[2].fill.label`), so that
//! every error points at the spot the trainee must edit.
//! Scalars resolve as serde_yaml resolves them (`yes` stays text, `0123` stays text).

use serde_yaml::value::{Tag, TaggedValue};
use serde_yaml::{Mapping, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Why a text is not a workflow's YAML, and where.
#[derive(Debug, Clone, PartialEq)]
pub enum YamlError {
    /// The text is not YAML; `message` is the parser's own words.
    Syntax { message: String, pos: Pos },
    /// A key is written twice in one mapping: where first, and where again.
    DuplicateKey { key: String, first: Pos, again: Pos },
    /// More than one document (`---`) in one file.
    ManyDocuments { pos: Pos },
}

/// Parse `text` once: its value, and the positions of its values and keys.
pub fn load(text: &str) -> Result<(Value, SourceMap), YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        return Err(YamlError::Syntax {
            message: e.info().to_string(),
            pos: position(e.marker()),
        });
    }
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok((builder.root.unwrap_or(Value::Null), builder.map))
}

fn position(mark: &Marker) -> Pos {
    Pos {
        line: mark.line(),
        col: mark.col() + 1,
    }
}

/// A position in a text file, both 1-based, as editors show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// Positions of values and of mapping keys, by path (`steps[2].fill.label`).
#[derive(Debug, Default)]
pub struct SourceMap {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

impl SourceMap {
    /// Position of the value at `path`, or of the nearest enclosing value that has one.
    pub fn value(&self, path: &str) -> Option<Pos> {
        let mut path = path;
        loop {
            if let Some(pos) = self.values.get(path) {
                return Some(*pos);
            }
            path = parent(path)?;
        }
    }

    /// Position of the key that names `path` (for "unknown key" errors), falling back to the value.
    pub fn key(&self, path: &str) -> Option<Pos> {
        self.keys.get(path).copied().or_else(|| self.value(path))
    }
}

/// `steps[2].fill.label` → `steps[2].fill` → `steps[2]` → `steps` → `` → None.
fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(&path[..cut])
}

/// Join a path and a map key.
pub fn child_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Join a path and a sequence index.
pub fn child_index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// One open mapping or list. Few are open at once (one per level of nesting), so their
/// size does not matter.
#[allow(clippy::large_enum_variant)]
enum Frame {
    Map {
        path: String,
        pending_key: Option<String>,
        key_pos: Option<Pos>,
        /// yaml-rust2 marks a block mapping's start after its first key; the first key's
        /// own position is where a person sees the mapping begin.
        first_key_seen: bool,
        /// The key just read, as a value, waiting for its value.
        key: Option<Value>,
        entries: Mapping,
        /// Where each key of `entries` is, to name both places of a key written twice.
        key_places: HashMap<String, Pos>,
        anchor: usize,
        tag: Option<yaml_rust2::parser::Tag>,
    },
    Seq {
        path: String,
        next: usize,
        items: Vec<Value>,
        anchor: usize,
        tag: Option<yaml_rust2::parser::Tag>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    map: SourceMap,
    root: Option<Value>,
    /// Values with an anchor (`&name`), for aliases (`*name`).
    anchors: HashMap<usize, Value>,
    documents: usize,
    error: Option<YamlError>,
}

impl Builder {
    /// The path of the value that starts now, and the position of its key if it has one.
    /// Returns None when the scalar just read is a mapping key (kept, as `key`, in its map).
    fn next_value_path(
        &mut self,
        scalar: Option<(&str, &Value)>,
        pos: Pos,
    ) -> Option<(String, Option<Pos>)> {
        match self.stack.last_mut() {
            None => Some((String::new(), None)),
            Some(Frame::Seq { path, next, .. }) => {
                let p = child_index(path, *next);
                *next += 1;
                Some((p, None))
            }
            Some(Frame::Map {
                path,
                pending_key,
                key_pos,
                first_key_seen,
                key,
                entries,
                key_places,
                ..
            }) => match pending_key.take() {
                Some(k) => Some((child_key(path, &k), key_pos.take())),
                None => {
                    // This scalar is a key; complex keys (maps as keys) are not used by kobo.
                    let (text, value) = scalar.unwrap_or(("", &Value::Null));
                    if entries.contains_key(value) && self.error.is_none() {
                        let first = key_places.get(text).copied().unwrap_or(pos);
                        self.error = Some(YamlError::DuplicateKey {
                            key: text.to_string(),
                            first,
                            again: pos,
                        });
                    }
                    key_places.insert(text.to_string(), pos);
                    *key = Some(value.clone());
                    *pending_key = Some(text.to_string());
                    *key_pos = Some(pos);
                    if !*first_key_seen {
                        *first_key_seen = true;
                        self.map.values.insert(path.clone(), pos);
                    }
                    None
                }
            },
        }
    }

    fn record(&mut self, path: &str, pos: Pos, key_pos: Option<Pos>) {
        self.map.values.insert(path.to_string(), pos);
        if let Some(k) = key_pos {
            self.map.keys.insert(path.to_string(), k);
        }
    }

    /// A whole value is read: keep it under its anchor, and put it in its parent.
    fn put(&mut self, value: Value, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(value);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { key, entries, .. }) => {
                let k = key.take().unwrap_or(Value::Null);
                entries.insert(k, value);
            }
        }
    }

    /// A scalar or an alias: a key of its mapping, or a value.
    fn leaf(&mut self, text: &str, value: Value, anchor: usize, pos: Pos) {
        if let Some((path, key_pos)) = self.next_value_path(Some((text, &value)), pos) {
            self.record(&path, pos, key_pos);
            self.put(value, anchor);
        } else if anchor > 0 {
            self.anchors.insert(anchor, value);
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = position(&mark);
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 && self.error.is_none() {
                    self.error = Some(YamlError::ManyDocuments { pos });
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar_value(&text, style, tag.as_ref());
                self.leaf(&text, value, anchor, pos);
            }
            Event::Alias(id) => {
                let value = self.anchors.get(&id).cloned().unwrap_or(Value::Null);
                let text = match &value {
                    Value::String(s) => s.clone(),
                    _ => String::new(),
                };
                self.leaf(&text, value, 0, pos);
            }
            Event::MappingStart(anchor, tag) => {
                let (path, key_pos) = self.next_value_path(None, pos).unwrap_or_default();
                self.record(&path, pos, key_pos);
                self.stack.push(Frame::Map {
                    path,
                    pending_key: None,
                    key_pos: None,
                    first_key_seen: false,
                    key: None,
                    entries: Mapping::new(),
                    key_places: HashMap::new(),
                    anchor,
                    tag,
                });
            }
            Event::SequenceStart(anchor, tag) => {
                let (path, key_pos) = self.next_value_path(None, pos).unwrap_or_default();
                self.record(&path, pos, key_pos);
                self.stack.push(Frame::Seq {
                    path,
                    next: 0,
                    items: Vec::new(),
                    anchor,
                    tag,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let (value, anchor, tag) = match self.stack.pop() {
                    Some(Frame::Map {
                        entries,
                        anchor,
                        tag,
                        ..
                    }) => (Value::Mapping(entries), anchor, tag),
                    Some(Frame::Seq {
                        items, anchor, tag, ..
                    }) => (Value::Sequence(items), anchor, tag),
                    None => return,
                };
                self.put(tagged(value, tag.as_ref()), anchor);
            }
            _ => {}
        }
    }
}

/// A scalar's value, as serde_yaml gives it: quoted and block text is always text; plain
/// text may be a number, true/false or null.
fn scalar_value(text: &str, style: TScalarStyle, tag: Option<&yaml_rust2::parser::Tag>) -> Value {
    match tag {
        Some(t) if t.handle == "tag:yaml.org,2002:" => match t.suffix.as_str() {
            "str" => Value::String(text.to_string()),
            _ => plain_value(text),
        },
        Some(t) => tagged(scalar_value(text, style, None), Some(t)),
        None if style == TScalarStyle::Plain => plain_value(text),
        None => Value::String(text.to_string()),
    }
}

/// A plain scalar: serde_yaml's own reading when it may be other than text.
fn plain_value(text: &str) -> Value {
    let maybe_not_text = text.is_empty()
        || text.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | '~'))
        || matches!(
            text,
            "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
        );
    if maybe_not_text
        && let Ok(v) = serde_yaml::from_str::<Value>(text)
        && matches!(v, Value::Null | Value::Bool(_) | Value::Number(_))
    {
        return v;
    }
    Value::String(text.to_string())
}

/// A value with a tag of the workflow's own (`!name`), as serde_yaml keeps it.
fn tagged(value: Value, tag: Option<&yaml_rust2::parser::Tag>) -> Value {
    match tag {
        Some(t) if t.handle != "tag:yaml.org,2002:" => {
            let name = if t.handle == "!" {
                t.suffix.clone()
            } else {
                format!("{}{}", t.handle, t.suffix)
            };
            Value::Tagged(Box::new(TaggedValue {
                tag: Tag::new(name),
                value,
            }))
        }
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values_and_keys() {
        let text = "name: x\nsteps:\n  - fill:\n      label: 氏名\n      value: a\n  - log: hi\n";
        let map = load(text).unwrap().1;
        assert_eq!(map.value("name"), Some(Pos { line: 1, col: 7 }));
        assert_eq!(
            map.value("steps[0].fill.label"),
            Some(Pos { line: 4, col: 14 })
        );
        assert_eq!(
            map.key("steps[0].fill.label"),
            Some(Pos { line: 4, col: 7 })
        );
        assert_eq!(map.value("steps[1].log"), Some(Pos { line: 6, col: 10 }));
        // A key written twice is found where it is written again.
        assert_eq!(
            load("name: a\nsteps:\n  - log: hi\nname: b\n").unwrap_err(),
            YamlError::DuplicateKey {
                key: "name".into(),
                first: Pos { line: 1, col: 1 },
                again: Pos { line: 4, col: 1 }
            }
        );
        let map = load(text).unwrap().1;
        // A path that does not exist falls back to its nearest parent.
        assert_eq!(
            map.value("steps[1].log.nothing"),
            Some(Pos { line: 6, col: 10 })
        );
    }

    #[test]
    fn values_are_read_as_serde_yaml_reads_them() {
        let text = "a: 1\nb: '1'\nc: 0123\nd: yes\ne: ~\nf:\ng: 1.5\nh: true\ni: [x, 2]\nj: &k { p: q }\nl: *k\nm: !!str 12\nn: !accept\nn2: !x 12\no: |\n  text\n";
        let (value, _) = load(text).unwrap();
        let expected: Value = serde_yaml::from_str(text).unwrap();
        assert_eq!(value, expected);
    }

    #[test]
    fn not_yaml_and_many_documents_are_errors_with_a_place() {
        match load("a: b: c\n") {
            Err(YamlError::Syntax { pos, .. }) => assert_eq!(pos.line, 1),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            load("a: 1\n---\nb: 2\n"),
            Err(YamlError::ManyDocuments {
                pos: Pos { line: 2, .. }
            })
        ));
        assert_eq!(load("").unwrap().0, Value::Null);
    }
}
