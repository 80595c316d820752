//! `RunFolder`: the folder a run keeps its files in, and `RunLog`, its JSON-lines log.
//!
//! ```text
//! <data dir>/runs/<run id>/
//!   workflow.yaml      the exact workflow that ran
//!   input/             a copy of each input file, as received
//!   outputs/           files the workflow wrote
//!   screenshots/       screenshots and page HTML from browser steps
//!   log.jsonl          one JSON object per line: time, level, step, row, message
//!   rows.jsonl         written when the run ends: one JSON object per row of each
//!                      `for_each` (table, row, source_row, status, message, step)
//! ```
//!
//! With PostgreSQL records every file here travels with the run (see [`crate::run_files`]).

use crate::data_dir::DataDir;
use crate::run::RunId;
use crate::secrets::Secrets;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The folder of one run.
#[derive(Debug, Clone)]
pub struct RunFolder {
    pub root: PathBuf,
    /// The folder relative to the data directory (`runs/<id>`), as stored in records.
    pub relative: String,
}

impl RunFolder {
    /// Create the folder and its sub-folders for a run.
    pub fn create(home: &Path, id: &RunId) -> std::io::Result<RunFolder> {
        let relative = DataDir::run_relative(id);
        let root = home.join(&relative);
        for sub in ["input", "outputs", "screenshots"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        Ok(RunFolder { root, relative })
    }

    pub fn input_dir(&self) -> PathBuf {
        self.root.join("input")
    }
    pub fn outputs_dir(&self) -> PathBuf {
        self.root.join("outputs")
    }
    /// Files the portal sent while the run's browser was on it.
    pub fn downloads_dir(&self) -> PathBuf {
        self.root.join("downloads")
    }
    pub fn screenshots_dir(&self) -> PathBuf {
        self.root.join("screenshots")
    }
    pub fn log_path(&self) -> PathBuf {
        self.root.join("log.jsonl")
    }
    pub fn rows_path(&self) -> PathBuf {
        self.root.join("rows.jsonl")
    }

    /// Write the per-row results as `rows.jsonl` (messages are already masked).
    pub fn write_rows(&self, rows: &[crate::run::RowResult]) -> std::io::Result<()> {
        let mut text = String::new();
        for row in rows {
            text.push_str(&serde_json::to_string(row).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        std::fs::write(self.rows_path(), text)
    }

    /// Resolve a path a workflow gave (`outputs/report.xlsx`) inside this run's folder,
    /// refusing anything that would leave it — also through a symbolic link (to
    /// `/etc/passwd`, or another client's run). An existing file comes back as its real
    /// path, so what is checked is what the browser is given.
    pub fn resolve(&self, relative: &str) -> Option<PathBuf> {
        let rel = Path::new(relative);
        let safe = rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !safe || relative.is_empty() {
            return None;
        }
        let path = self.root.join(rel);
        match (path.canonicalize(), self.root.canonicalize()) {
            (Ok(real), Ok(root)) => real.starts_with(&root).then_some(real),
            // Not there (yet): the step that uses it says it is missing.
            _ => Some(path),
        }
    }
}

/// A file name safe to use inside a folder: no separators, no `..`, no control characters.
/// Japanese and other letters are kept.
pub fn safe_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() || c == ':' {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

/// Move `from` to `to` with one rename that fails ([`std::io::ErrorKind::AlreadyExists`])
/// rather than replace a file at `to`: a client's file is never moved over another. Where
/// the file system lacks such a rename, a hard link then removing `from` does the same.
pub fn move_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut path = tempfile::TempPath::try_from_path(from)?;
    // Never delete the file when `path` is dropped: it is the client's.
    path.disable_cleanup(true);
    path.persist_noclobber(to).map_err(|e| e.error)
}

/// sha256 of a file, in hex.
/// sha256 of bytes in memory (an upload not yet written), as [`file_sha256`] writes it.
pub fn bytes_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn file_sha256(path: &Path) -> std::io::Result<(String, u64)> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// Where a run's log lines are also shown (the terminal, a progress bar).
pub type EchoFn = Box<dyn Fn(&LogLine) + Send + Sync>;

/// One line of a run's log.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct LogLine {
    pub time: String,
    pub level: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub row: Option<usize>,
    pub message: String,
}

/// The run's log: JSON lines in the run folder, with secrets masked, mirrored to `tracing`.
pub struct RunLog {
    file: Mutex<File>,
    secrets: Secrets,
    run_id: RunId,
    echo: Option<EchoFn>,
}

impl RunLog {
    pub fn open(path: &Path, secrets: Secrets, run_id: RunId) -> std::io::Result<RunLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(RunLog {
            file: Mutex::new(file),
            secrets,
            run_id,
            echo: None,
        })
    }

    /// Also hand every line to `f` (the terminal, a progress bar).
    pub fn with_echo(mut self, f: EchoFn) -> RunLog {
        self.echo = Some(f);
        self
    }

    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    pub fn write(&self, level: &str, step: Option<&str>, row: Option<usize>, message: &str) {
        let line = LogLine {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            level: level.to_string(),
            step: step.map(|s| self.secrets.mask(s)),
            row,
            message: self.secrets.mask(message),
        };
        match level {
            "error" => {
                tracing::error!(run = %self.run_id, step = ?line.step, row = ?row, "{}", line.message)
            }
            "warn" => {
                tracing::warn!(run = %self.run_id, step = ?line.step, row = ?row, "{}", line.message)
            }
            _ => {
                tracing::info!(run = %self.run_id, step = ?line.step, row = ?row, "{}", line.message)
            }
        }
        if let Some(echo) = &self.echo {
            echo(&line);
        }
        if let Ok(json) = serde_json::to_string(&line)
            && let Ok(mut f) = self.file.lock()
        {
            // A log line that cannot be written must not stop the run; the record still is.
            let _ = writeln!(f, "{json}");
        }
    }

    pub fn info(&self, step: Option<&str>, row: Option<usize>, message: &str) {
        self.write("info", step, row, message);
    }
    pub fn warn(&self, step: Option<&str>, row: Option<usize>, message: &str) {
        self.write("warn", step, row, message);
    }
    pub fn error(&self, step: Option<&str>, row: Option<usize>, message: &str) {
        self.write("error", step, row, message);
    }
}

/// Read a run's log back.
pub fn read_log(path: &Path) -> std::io::Result<Vec<LogLine>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_never_leave_the_run_folder() {
        let f = RunFolder {
            root: "/data/runs/x".into(),
            relative: "runs/x".into(),
        };
        assert_eq!(
            f.resolve("outputs/a.xlsx"),
            Some(PathBuf::from("/data/runs/x/outputs/a.xlsx"))
        );
        assert_eq!(f.resolve("../y/a.xlsx"), None);
        assert_eq!(f.resolve("/etc/passwd"), None);
        assert_eq!(f.resolve(""), None);
        assert_eq!(safe_file_name("../../請求書.csv"), "_.._請求書.csv");
        assert_eq!(safe_file_name(".."), "file");
    }

    #[test]
    fn a_symbolic_link_out_of_the_run_folder_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let root = home.path().join("runs/x");
        std::fs::create_dir_all(root.join("input")).unwrap();
        std::fs::create_dir_all(home.path().join("runs/y/input")).unwrap();
        std::fs::write(home.path().join("runs/y/input/other.csv"), "a\n").unwrap();
        std::fs::write(root.join("input/mine.csv"), "a\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("input/passwd")).unwrap();
        std::os::unix::fs::symlink(
            home.path().join("runs/y/input/other.csv"),
            root.join("input/other.csv"),
        )
        .unwrap();
        std::os::unix::fs::symlink(root.join("input/mine.csv"), root.join("input/same.csv"))
            .unwrap();
        let f = RunFolder {
            root: root.clone(),
            relative: "runs/x".into(),
        };
        assert_eq!(f.resolve("input/passwd"), None);
        assert_eq!(f.resolve("input/other.csv"), None);
        let mine = root.join("input/mine.csv").canonicalize().unwrap();
        assert_eq!(f.resolve("input/mine.csv"), Some(mine.clone()));
        assert_eq!(f.resolve("input/same.csv"), Some(mine));
    }
}
