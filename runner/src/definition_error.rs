//! `DefinitionError`: one problem in a workflow file, with where it is and what to try.
//!
//! Validation collects every problem it finds (not just the first), so that a trainee
//! can fix a file in one pass.

use crate::source_map::Pos;
use std::fmt;
use std::path::PathBuf;

/// One problem in a workflow file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    pub file: PathBuf,
    pub pos: Option<Pos>,
    pub message: String,
    pub hint: Option<String>,
}

impl DefinitionError {
    /// Render with the offending source line and a caret under the column, as compilers do.
    pub fn render_with_source(&self, source: &str) -> String {
        let mut out = self.to_string();
        if let Some(pos) = self.pos
            && let Some(line) = source.lines().nth(pos.line.saturating_sub(1))
        {
            let gutter = pos.line.to_string();
            let pad = " ".repeat(gutter.len());
            // Columns count characters; the caret must sit under the same character.
            let caret_pad: String = line
                .chars()
                .take(pos.col.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out = format!(
                "{first}\n {pad} |\n {gutter} | {line}\n {pad} | {caret_pad}^{rest}",
                first = self.headline(),
                rest = self.hint_block()
            );
        }
        out
    }

    fn headline(&self) -> String {
        match self.pos {
            Some(p) => format!(
                "{}:{}:{}: {}",
                self.file.display(),
                p.line,
                p.col,
                self.message
            ),
            None => format!("{}: {}", self.file.display(), self.message),
        }
    }

    fn hint_block(&self) -> String {
        match &self.hint {
            Some(h) => format!("\n  hint: {h}"),
            None => String::new(),
        }
    }
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.headline(), self.hint_block())
    }
}

impl std::error::Error for DefinitionError {}

/// All the problems found in one workflow file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DefinitionErrors(pub Vec<DefinitionError>);

impl fmt::Display for DefinitionErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DefinitionErrors {}

/// The closest candidate to a misspelt name, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let wrong_lower = wrong.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&wrong_lower, &c.to_lowercase()),
                c,
            )
        })
        .filter(|(d, c)| *d <= 1.max(c.chars().count() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["header_row", "sheet", "range"];
        assert_eq!(did_you_mean("headerrow", keys), Some("header_row"));
        assert_eq!(did_you_mean("shet", keys), Some("sheet"));
        assert_eq!(did_you_mean("completely_else", keys), None);
    }

    #[test]
    fn renders_a_caret_under_the_column() {
        let e = DefinitionError {
            file: "w.yaml".into(),
            pos: Some(Pos { line: 2, col: 3 }),
            message: "unknown key `nmae`".into(),
            hint: Some("did you mean `name`?".into()),
        };
        let text = e.render_with_source("a: 1\n  nmae: x\n");
        assert_eq!(
            text,
            "w.yaml:2:3: unknown key `nmae`\n   |\n 2 |   nmae: x\n   |   ^\n  hint: did you mean `name`?"
        );
    }
}
