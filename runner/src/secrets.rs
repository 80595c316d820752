//! `Secrets`: passwords and other values a workflow needs but must never show.
//!
//! Values come from the environment (`KOBO_SECRET_PORTAL_PASSWORD` for `portal_password`)
//! or from a secrets file (YAML, `name: value`) kept outside the workflows folder; never
//! from the workflow itself. Every log line and error passes through [`Secrets::mask`].

use std::collections::BTreeMap;
use std::path::Path;

/// The secret values of one run.
#[derive(Clone, Default)]
pub struct Secrets {
    values: BTreeMap<String, String>,
    /// What [`Secrets::mask`] hides, worked out once: each value as given and as a simple
    /// template filter shows it, longest first.
    hidden: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print values, even in debug output.
        f.debug_struct("Secrets")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "secret `{name}` has no value: set the environment variable `{env}` or add `{name}: ...` to the secrets file `{file}`"
    )]
    Missing {
        name: String,
        env: String,
        file: String,
    },
    #[error("cannot read the secrets file `{file}`: {message}")]
    File { file: String, message: String },
}

/// The environment variable that holds a secret: `portal_user` → `KOBO_SECRET_PORTAL_USER`.
pub fn env_name(name: &str) -> String {
    format!("KOBO_SECRET_{}", name.to_uppercase())
}

/// A secret value as given and as the filters `trim`, `upper`, `lower` and `capitalize`
/// would show it.
fn shown_forms(value: &str) -> [String; 5] {
    let trimmed = value.trim();
    let mut chars = trimmed.chars();
    let capitalized = chars
        .next()
        .map(|c| {
            c.to_uppercase()
                .chain(chars.as_str().to_lowercase().chars())
                .collect()
        })
        .unwrap_or_default();
    [
        value.to_string(),
        trimmed.to_string(),
        trimmed.to_uppercase(),
        trimmed.to_lowercase(),
        capitalized,
    ]
}

impl Secrets {
    /// Look up every name; the environment wins over the file. A missing file is fine
    /// when every secret is in the environment.
    pub fn load(names: &[String], file: &Path) -> Result<Secrets, SecretsError> {
        let from_file: BTreeMap<String, String> = if file.exists() {
            let text = std::fs::read_to_string(file).map_err(|e| SecretsError::File {
                file: file.display().to_string(),
                message: e.to_string(),
            })?;
            serde_yaml::from_str::<Option<BTreeMap<String, String>>>(&text)
                .map_err(|e| SecretsError::File {
                    file: file.display().to_string(),
                    // serde_yaml quotes the offending text; a secret may be in it, so keep only the position.
                    message: match e.location() {
                        Some(l) => format!(
                            "not a list of `name: value` lines (line {}, column {})",
                            l.line(),
                            l.column()
                        ),
                        None => "not a list of `name: value` lines".into(),
                    },
                })?
                .unwrap_or_default()
        } else {
            BTreeMap::new()
        };
        let mut values = BTreeMap::new();
        for name in names {
            let value = std::env::var(env_name(name))
                .ok()
                .or_else(|| from_file.get(name).cloned());
            match value {
                Some(v) => {
                    values.insert(name.clone(), v);
                }
                None => {
                    return Err(SecretsError::Missing {
                        name: name.clone(),
                        env: env_name(name),
                        file: file.display().to_string(),
                    });
                }
            }
        }
        Ok(Secrets::new(values))
    }

    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Secrets {
        Secrets::new(pairs.into_iter().collect())
    }

    fn new(values: BTreeMap<String, String>) -> Secrets {
        let mut hidden: Vec<String> = values
            .values()
            .flat_map(|v| shown_forms(v))
            .filter(|v| !v.is_empty())
            .collect();
        hidden.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        hidden.dedup();
        Secrets { values, hidden }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// Replace every secret value in `text` with `***`, also when a template changed it with
    /// a simple filter (`upper`, `lower`, `capitalize`, `trim`). Longest values first, so
    /// that a secret containing another is hidden whole.
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.hidden {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), "***");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_value() {
        let s = Secrets::from_pairs([
            ("u".into(), "olena".into()),
            ("p".into(), "pa55word".into()),
        ]);
        assert_eq!(s.mask("login olena with pa55word"), "login *** with ***");
        assert_eq!(s.mask("OLENA Olena PA55WORD"), "*** *** ***");
        assert!(!format!("{s:?}").contains("pa55word"));
    }

    #[test]
    fn missing_secret_names_the_variable() {
        let err = Secrets::load(
            &["portal_password_kobo_test".into()],
            Path::new("/nonexistent/secrets.yaml"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret `portal_password_kobo_test` has no value: set the environment variable `KOBO_SECRET_PORTAL_PASSWORD_KOBO_TEST` or add `portal_password_kobo_test: ...` to the secrets file `/nonexistent/secrets.yaml`"
        );
    }
}
