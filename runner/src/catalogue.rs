//! `Catalogue`: the workflows kobo can start from the inbox, found by client and name in
//! the workflows folder (`--workflows`, default `./workflows`).
//!
//! `inbox/<client>/<workflow>/` maps to the file whose `client:` is `<client>` and whose
//! `name:` is `<workflow>`. Files with problems are reported, never fatal.

use crate::workflow::Workflow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub struct Catalogue {
    by_key: BTreeMap<(String, String), Workflow>,
    /// Workflow files that could not be read, with a one-line reason each.
    pub problems: Vec<(PathBuf, String)>,
}

impl Catalogue {
    /// Read every `.yaml`/`.yml` file directly in `dir`.
    pub fn load(dir: &Path) -> Catalogue {
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
        for file in files {
            match Workflow::load(&file) {
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
