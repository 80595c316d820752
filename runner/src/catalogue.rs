//! `Catalogue`: the workflows kobo can start from the inbox, found by client and name in
//! the workflows folder (`--workflows`, default `./workflows`).
//!
//! `inbox/<client>/<workflow>/` maps to the file whose `client:` is `<client>` and whose
//! `name:` is `<workflow>`. Files with problems are reported, never fatal.
//!
//! `kobo serve` looks at the folder on every inbox scan; a [`WorkflowCache`] keeps each
//! file read, so it is parsed again only when it changed (its size or modification time).

use crate::definition_error::DefinitionErrors;
use crate::workflow::Workflow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Workflow files already read, by path, with the size and time they had then.
#[derive(Debug, Default)]
pub struct WorkflowCache {
    files: HashMap<PathBuf, Cached>,
    parses: u64,
}

#[derive(Debug)]
struct Cached {
    size: u64,
    modified: Option<SystemTime>,
    read: Result<Workflow, DefinitionErrors>,
}

impl WorkflowCache {
    /// How many times a file was really read and parsed (for tests and logs).
    pub fn parses(&self) -> u64 {
        self.parses
    }

    /// The workflow in `file`, parsed again only if the file changed since last time.
    pub fn load(&mut self, file: &Path) -> Result<Workflow, DefinitionErrors> {
        let meta = std::fs::metadata(file).ok();
        let size = meta.as_ref().map_or(0, |m| m.len());
        let modified = meta.as_ref().and_then(|m| m.modified().ok());
        if let Some(c) = self.files.get(file)
            && meta.is_some()
            && c.size == size
            && c.modified == modified
        {
            return c.read.clone();
        }
        self.parses += 1;
        let read = Workflow::load(file);
        self.files.insert(
            file.to_path_buf(),
            Cached {
                size,
                modified,
                read: read.clone(),
            },
        );
        read
    }

    /// Forget files that are no longer there.
    fn keep_only(&mut self, files: &[PathBuf]) {
        self.files.retain(|p, _| files.contains(p));
    }
}

#[derive(Debug, Default)]
pub struct Catalogue {
    by_key: BTreeMap<(String, String), Workflow>,
    /// Workflow files that could not be read, with a one-line reason each.
    pub problems: Vec<(PathBuf, String)>,
}

impl Catalogue {
    /// Read every `.yaml`/`.yml` file directly in `dir`.
    pub fn load(dir: &Path) -> Catalogue {
        Catalogue::load_cached(dir, &mut WorkflowCache::default())
    }

    /// Like [`Catalogue::load`], parsing only the files that changed since `cache` saw them.
    pub fn load_cached(dir: &Path, cache: &mut WorkflowCache) -> Catalogue {
        let mut c = Catalogue::default();
        let Ok(entries) = std::fs::read_dir(dir) else {
            c.problems.push((
                dir.to_path_buf(),
                "the workflows folder cannot be read (`kobo serve --workflows <dir>`)".into(),
            ));
            return c;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect();
        files.sort();
        cache.keep_only(&files);
        for file in files {
            match cache.load(&file) {
                Ok(w) => {
                    let key = (w.client.clone(), w.name.clone());
                    if let Some(other) = c.by_key.get(&key) {
                        c.problems.push((
                            file.clone(),
                            format!("client `{}` already has a workflow `{}` in `{}`; this one is ignored", key.0, key.1, other.file.display()),
                        ));
                    } else {
                        c.by_key.insert(key, w);
                    }
                }
                Err(errors) => {
                    let first = errors.0.first().map(|e| e.to_string()).unwrap_or_default();
                    c.problems.push((
                        file,
                        format!(
                            "{} problem(s), first: {first}; `kobo validate` shows them all",
                            errors.0.len()
                        ),
                    ));
                }
            }
        }
        c
    }

    pub fn get(&self, client: &str, workflow: &str) -> Option<&Workflow> {
        self.by_key.get(&(client.to_string(), workflow.to_string()))
    }

    /// Workflow names for one client, for messages about unknown folders.
    pub fn names_for(&self, client: &str) -> Vec<&str> {
        self.by_key
            .keys()
            .filter(|(c, _)| c == client)
            .map(|(_, n)| n.as_str())
            .collect()
    }

    pub fn clients(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.by_key.keys().map(|(c, _)| c.as_str()).collect();
        v.dedup();
        v
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}
