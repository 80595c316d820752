//! `SourceMap`: where each value of a YAML file sits (line and column), by path.
//!
//! serde tells us *which* field is wrong (`steps[2].fill.label`); this map turns that
//! path into `file:line:col`, so every error points at the spot the trainee must edit.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

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
    /// Keys written a second time in the same mapping: (path, first position, this position).
    duplicates: Vec<(String, Pos, Pos)>,
}

impl SourceMap {
    /// Build the map. Returns an empty map for text that is not valid YAML
    /// (serde_yaml reports the syntax error with its own position).
    pub fn parse(text: &str) -> SourceMap {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut builder, false).is_err() {
            return SourceMap::default();
        }
        builder.map
    }

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

    /// Where the key `key` is written a second time in one mapping, and where it was first:
    /// serde_yaml only gives the position of the mapping.
    pub fn duplicate(&self, key: &str) -> Option<(Pos, Pos)> {
        self.duplicates
            .iter()
            .find(|(path, ..)| path.rsplit('.').next() == Some(key))
            .map(|(_, first, again)| (*first, *again))
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

enum Frame {
    Map {
        path: String,
        pending_key: Option<String>,
        key_pos: Option<Pos>,
        /// yaml-rust2 marks a block mapping's start after its first key; the first key's
        /// own position is where a person sees the mapping begin.
        first_key_seen: bool,
    },
    Seq {
        path: String,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    map: SourceMap,
}

impl Builder {
    /// The path of the value that starts now, and the position of its key if it has one.
    /// Returns None when the scalar just read is a mapping key.
    fn next_value_path(&mut self, scalar: Option<&str>, pos: Pos) -> Option<(String, Option<Pos>)> {
        match self.stack.last_mut() {
            None => Some((String::new(), None)),
            Some(Frame::Seq { path, next }) => {
                let p = child_index(path, *next);
                *next += 1;
                Some((p, None))
            }
            Some(Frame::Map {
                path,
                pending_key,
                key_pos,
                first_key_seen,
            }) => match pending_key.take() {
                Some(key) => Some((child_key(path, &key), key_pos.take())),
                None => {
                    // This scalar is a key; complex keys (maps as keys) are not used by kobo.
                    let key = scalar.unwrap_or_default().to_string();
                    let key_path = child_key(path, &key);
                    if let Some(first) = self.map.keys.get(&key_path) {
                        self.map.duplicates.push((key_path, *first, pos));
                    }
                    *pending_key = Some(key);
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
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Pos {
            line: mark.line(),
            col: mark.col() + 1,
        };
        match ev {
            Event::Scalar(value, ..) => {
                if let Some((path, key_pos)) = self.next_value_path(Some(&value), pos) {
                    self.record(&path, pos, key_pos);
                }
            }
            Event::Alias(_) => {
                let _ = self.next_value_path(Some(""), pos);
            }
            Event::MappingStart(..) => {
                let (path, key_pos) = self.next_value_path(None, pos).unwrap_or_default();
                self.record(&path, pos, key_pos);
                self.stack.push(Frame::Map {
                    path,
                    pending_key: None,
                    key_pos: None,
                    first_key_seen: false,
                });
            }
            Event::SequenceStart(..) => {
                let (path, key_pos) = self.next_value_path(None, pos).unwrap_or_default();
                self.record(&path, pos, key_pos);
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values_and_keys() {
        let text = "name: x\nsteps:\n  - fill:\n      label: 氏名\n      value: a\n  - log: hi\n";
        let map = SourceMap::parse(text);
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
        let map = SourceMap::parse("name: a\nsteps:\n  - log: hi\nname: b\n");
        assert_eq!(
            map.duplicate("name"),
            Some((Pos { line: 1, col: 1 }, Pos { line: 4, col: 1 }))
        );
        let map = SourceMap::parse(text);
        // A path that does not exist falls back to its nearest parent.
        assert_eq!(
            map.value("steps[1].log.nothing"),
            Some(Pos { line: 6, col: 10 })
        );
    }
}
