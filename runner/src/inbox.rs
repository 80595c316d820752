//! `Inbox`: the folders clients drop files into, `<data dir>/inbox/<client>/<workflow>/`.
//!
//! A file there becomes one queued run of that workflow, once it is complete: names of
//! partial files (`~$x.xlsx`, `.~lock…`, `*.tmp`, `*.part`, `*.crdownload`, dotfiles) are
//! ignored, and a file is taken only when its size and modification time stayed the
//! same across two looks at least [`InboxSettings::settle`] apart. Taking it is a
//! `rename` into the run's folder, so no two takers can both have it. The same content
//! sent twice goes to `duplicates/`, a file that is not a spreadsheet or is too large
//! goes to `rejected/`, each with a `.txt` that says why. A client's file is never deleted,
//! and never replaced: every move is a rename that fails rather than replace a file (see
//! [`crate::run_folder::move_no_replace`]), and a file set aside takes a name (`a (1).csv`)
//! that neither it nor its note shares with a file already there.
//!
//! [`watch`] runs the inbox: `notify` events wake it, and a rescan every few seconds is
//! the safety net for events that filesystems do not deliver (network shares).

use crate::catalogue::{Catalogue, WorkflowCache};
use crate::data_dir::DataDir;
use crate::queue::JobQueue;
use crate::record::Records;
use crate::run::RunId;
use crate::run_folder::file_sha256;
use crate::submit::{SubmitError, Take, single_input, submit};
use notify::Watcher;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Sub-folders of a workflow's inbox folder that kobo writes into.
pub const REJECTED: &str = "rejected";
pub const DUPLICATES: &str = "duplicates";

/// File types kobo reads (the content is checked too); the dashboard's upload takes the same.
pub const SPREADSHEET_EXTENSIONS: &[&str] =
    &["xlsx", "xlsm", "xlsb", "xls", "ods", "csv", "tsv", "txt"];

#[derive(Debug, Clone)]
pub struct InboxSettings {
    pub home: PathBuf,
    pub workflows: PathBuf,
    /// Larger files are rejected.
    pub max_bytes: u64,
    /// How long a file must stay unchanged before it is taken.
    pub settle: Duration,
    /// Rescan this often even without filesystem events.
    pub rescan: Duration,
}

impl InboxSettings {
    pub fn new(home: &Path, workflows: &Path) -> InboxSettings {
        InboxSettings {
            home: home.to_path_buf(),
            workflows: workflows.to_path_buf(),
            max_bytes: 50 * 1024 * 1024,
            settle: Duration::from_secs(1),
            rescan: Duration::from_secs(5),
        }
    }

    pub fn dir(&self) -> PathBuf {
        DataDir::new(&self.home).inbox()
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Taken {
    Queued {
        file: PathBuf,
        run: RunId,
    },
    Duplicate {
        file: PathBuf,
        earlier: RunId,
        moved_to: PathBuf,
    },
    Rejected {
        file: PathBuf,
        reason: String,
        moved_to: PathBuf,
    },
}

/// One look at the inbox.
#[derive(Debug, Default)]
pub struct ScanReport {
    pub taken: Vec<Taken>,
    /// Files seen but not yet settled: look again soon.
    pub waiting: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Look {
    size: u64,
    modified: SystemTime,
    since: Instant,
}

/// The inbox and what it has seen.
#[derive(Debug)]
pub struct Inbox {
    settings: InboxSettings,
    looks: HashMap<PathBuf, Look>,
    /// Folders and workflow files already reported, so the log says it once.
    reported: HashSet<String>,
    /// Workflow files read on earlier scans: parsed again only when they change.
    workflows: WorkflowCache,
}

impl Inbox {
    pub fn new(settings: InboxSettings) -> Inbox {
        Inbox {
            settings,
            looks: HashMap::new(),
            reported: HashSet::new(),
            workflows: WorkflowCache::default(),
        }
    }

    pub fn settings(&self) -> &InboxSettings {
        &self.settings
    }

    /// How many times a workflow file was parsed over all scans (once per change).
    pub fn workflow_parses(&self) -> u64 {
        self.workflows.parses()
    }

    /// Look at every inbox folder once; take the files that have settled.
    pub async fn scan(&mut self, records: &Records, queue: &mut JobQueue) -> ScanReport {
        let mut report = ScanReport::default();
        let dir = self.settings.dir();
        if let Err(e) = std::fs::create_dir_all(&dir) {
            self.report_once(
                format!("inbox:{}", dir.display()),
                &format!("cannot create the inbox `{}`: {e}", dir.display()),
            );
            return report;
        }
        let catalogue = Catalogue::load_cached(&self.settings.workflows, &mut self.workflows);
        for (file, problem) in &catalogue.problems {
            self.report_once(
                format!("workflow:{}:{problem}", file.display()),
                &format!("workflow `{}` cannot start runs: {problem}", file.display()),
            );
        }
        let mut present = HashSet::new();
        for client_dir in sorted_dirs(&dir) {
            let client = file_name(&client_dir);
            if is_partial_name(&client) {
                continue;
            }
            for wf_dir in sorted_dirs(&client_dir) {
                let workflow = file_name(&wf_dir);
                if is_partial_name(&workflow) {
                    continue;
                }
                let files = sorted_files(&wf_dir);
                let Some(w) = catalogue.get(&client, &workflow) else {
                    if !files.is_empty() {
                        let known = catalogue.names_for(&client);
                        let hint = if known.is_empty() {
                            format!(
                                "no workflow in `{}` has `client: {client}`",
                                self.settings.workflows.display()
                            )
                        } else {
                            format!("client `{client}` has: {}", known.join(", "))
                        };
                        self.report_once(
                            format!("unknown:{}", wf_dir.display()),
                            &format!("inbox folder `{}` has files but no workflow `{workflow}` for client `{client}` ({hint}); the files stay where they are", wf_dir.display()),
                        );
                    }
                    continue;
                };
                for file in files {
                    let name = file_name(&file);
                    if is_partial_name(&name) {
                        continue;
                    }
                    present.insert(file.clone());
                    if !self.settled(&file) {
                        report.waiting += 1;
                        continue;
                    }
                    self.looks.remove(&file);
                    match self.take(records, queue, w, &wf_dir, &file).await {
                        Ok(Some(t)) => {
                            log_taken(&t);
                            report.taken.push(t);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            // Whether the file moved depends on how far the claim got.
                            if file.exists() {
                                tracing::error!(file = %file.display(), "could not take the file: {e}; it stays in the inbox and is tried again")
                            } else {
                                tracing::error!(file = %file.display(), "the file was taken but its job could not be queued: {e}; kobo serve queues it again within a few seconds")
                            }
                        }
                    }
                }
            }
        }
        self.looks.retain(|p, _| present.contains(p));
        report
    }

    /// True once the file's size and mtime were the same on two looks `settle` apart.
    fn settled(&mut self, file: &Path) -> bool {
        let Ok(meta) = std::fs::metadata(file) else {
            return false;
        };
        let now = Instant::now();
        let look = Look {
            size: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            since: now,
        };
        match self.looks.get(file) {
            Some(prev) if prev.size == look.size && prev.modified == look.modified => {
                now.duration_since(prev.since) >= self.settings.settle
            }
            _ => {
                self.looks.insert(file.to_path_buf(), look);
                false
            }
        }
    }

    async fn take(
        &mut self,
        records: &Records,
        queue: &mut JobQueue,
        w: &crate::Workflow,
        wf_dir: &Path,
        file: &Path,
    ) -> Result<Option<Taken>, SubmitError> {
        let io = |e: std::io::Error| SubmitError::Take {
            path: file.display().to_string(),
            message: e.to_string(),
        };
        if let Err(e) = single_input(w) {
            return reject(wf_dir, file, &e.to_string()).map(Some).map_err(io);
        }
        if let Some(reason) = check_file(file, self.settings.max_bytes) {
            return reject(wf_dir, file, &reason).map(Some).map_err(io);
        }
        let (hash, _) = match file_sha256(file) {
            Ok(h) => h,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        if let Some(earlier) = records.same_input(&w.client, &w.name, &hash).await? {
            let reason = format!(
                "The same file (same content, sha256 {}) was already received on {} as run {} ({}), so it is not run again.\n\
                 If it should run again, ask the co-op to use `kobo rerun {}`.\n",
                &hash[..12],
                earlier.created_at.format("%Y-%m-%d %H:%M UTC"),
                earlier.id,
                earlier.status,
                earlier.id
            );
            let moved_to = set_aside(wf_dir, DUPLICATES, file, "duplicate", &reason).map_err(io)?;
            return Ok(Some(Taken::Duplicate {
                file: file.to_path_buf(),
                earlier: earlier.id,
                moved_to,
            }));
        }
        match submit(
            &self.settings.home,
            records,
            queue,
            w,
            file,
            &hash,
            Take::Move,
            None,
        )
        .await
        {
            Ok(s) => Ok(Some(Taken::Queued {
                file: file.to_path_buf(),
                run: s.id,
            })),
            // Someone else took it between our look and the rename.
            Err(SubmitError::Take { .. }) if !file.exists() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn report_once(&mut self, key: String, message: &str) {
        if self.reported.insert(key) {
            tracing::warn!("{message}");
        }
    }
}

fn log_taken(t: &Taken) {
    match t {
        Taken::Queued { file, run } => tracing::info!(run = %run, "queued `{}`", file.display()),
        Taken::Duplicate {
            file,
            earlier,
            moved_to,
        } => {
            tracing::warn!(
                "`{}` has the same content as run {earlier}; moved to `{}`, not run again",
                file.display(),
                moved_to.display()
            )
        }
        Taken::Rejected {
            file,
            reason,
            moved_to,
        } => tracing::warn!(
            "rejected `{}`: {reason} (moved to `{}`)",
            file.display(),
            moved_to.display()
        ),
    }
}

/// Why a settled file cannot be run, if it cannot.
fn check_file(file: &Path, max_bytes: u64) -> Option<String> {
    let name = file_name(file);
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase)
        .unwrap_or_default();
    if !SPREADSHEET_EXTENSIONS.contains(&ext.as_str()) {
        return Some(format!(
            "`{name}` is not a spreadsheet kobo reads (it takes {}). Please send the data as an Excel or CSV file.",
            SPREADSHEET_EXTENSIONS.join(", ")
        ));
    }
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    if size > max_bytes {
        return Some(format!(
            "`{name}` is {:.1} MB; kobo takes files up to {:.1} MB. Please split it, or ask the admin to raise the limit (`kobo serve --max-file-mb`).",
            size as f64 / 1e6,
            max_bytes as f64 / 1e6
        ));
    }
    match std::fs::read(file) {
        Ok(bytes) => crate::sheet::detect::detect(file, &bytes)
            .err()
            .map(|e| e.to_string()),
        Err(e) => Some(format!("`{name}` cannot be read: {e}")),
    }
}

fn reject(wf_dir: &Path, file: &Path, reason: &str) -> std::io::Result<Taken> {
    let text = format!(
        "kobo did not run this file.\n\nWhy: {reason}\n\nThe file is kept here unchanged.\n"
    );
    let moved_to = set_aside(wf_dir, REJECTED, file, "rejected", &text)?;
    Ok(Taken::Rejected {
        file: file.to_path_buf(),
        reason: reason.to_string(),
        moved_to,
    })
}

/// Move `file` into `<wf_dir>/<sub>/` under a name not taken yet, with `<name>.<what>.txt`
/// beside it saying why. Neither ever replaces a file already there: a name is used only if
/// both it and its note's name are free (a client may have sent `a.csv.rejected.txt` too,
/// and an earlier note may remain), and the move is a rename that fails rather than replace.
fn set_aside(
    wf_dir: &Path,
    sub: &str,
    file: &Path,
    what: &str,
    text: &str,
) -> std::io::Result<PathBuf> {
    let dir = wf_dir.join(sub);
    std::fs::create_dir_all(&dir)?;
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let ext = file
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    for n in 0..MAX_SET_ASIDE_NAMES {
        let name = match n {
            0 => file_name(file),
            n => format!("{stem} ({n}){ext}"),
        };
        let dest = dir.join(&name);
        let note_path = dir.join(format!("{name}.{what}.txt"));
        if dest.exists() {
            continue;
        }
        // The note's name first, created only if free: it is then ours to write or remove.
        let mut note = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&note_path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        match crate::run_folder::move_no_replace(file, &dest) {
            Ok(()) => {
                std::io::Write::write_all(&mut note, text.as_bytes())?;
                return Ok(dest);
            }
            Err(e) => {
                drop(note);
                let _ = std::fs::remove_file(&note_path);
                if e.kind() != std::io::ErrorKind::AlreadyExists {
                    return Err(e);
                }
            }
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!(
            "`{}` has {MAX_SET_ASIDE_NAMES} files named like `{}` already; move some away",
            dir.display(),
            file_name(file)
        ),
    ))
}

/// How many names (`a.csv`, `a (1).csv`, …) a file set aside may take before kobo gives up
/// and leaves it in the inbox.
const MAX_SET_ASIDE_NAMES: u32 = 10_000;

/// Names of files that are still being written or are not the client's data.
pub fn is_partial_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    name.starts_with('.')
        || name.starts_with("~$")
        || name.ends_with('~')
        || lower.contains(".~lock")
        || [
            ".tmp",
            ".temp",
            ".part",
            ".partial",
            ".crdownload",
            ".download",
            ".swp",
        ]
        .iter()
        .any(|s| lower.ends_with(s))
        || name == REJECTED
        || name == DUPLICATES
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

fn sorted_entries(dir: &Path, dirs: bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| {
                    e.file_type()
                        .map(|t| t.is_dir() == dirs && !t.is_symlink())
                        .unwrap_or(false)
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    sorted_entries(dir, true)
}

fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    sorted_entries(dir, false)
}

/// Watch the inbox until `shutdown` completes: take files as they settle.
pub async fn watch(
    mut inbox: Inbox,
    records: Records,
    mut queue: JobQueue,
    shutdown: impl Future<Output = ()>,
) {
    let dir = inbox.settings.dir();
    let _ = std::fs::create_dir_all(&dir);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let watcher = notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
        let _ = tx.send(());
    })
    .and_then(|mut w| w.watch(&dir, notify::RecursiveMode::Recursive).map(|_| w));
    if let Err(e) = &watcher {
        tracing::warn!(
            "cannot watch `{}` for new files ({e}); looking every {} s instead",
            dir.display(),
            inbox.settings.rescan.as_secs()
        );
    }
    tracing::info!("watching the inbox `{}`", dir.display());
    tokio::pin!(shutdown);
    loop {
        let report = inbox.scan(&records, &mut queue).await;
        // Files waiting to settle: look again soon. Otherwise wait for an event or the rescan.
        let wait = if report.waiting > 0 {
            inbox.settings.settle.min(Duration::from_millis(500))
        } else {
            inbox.settings.rescan
        };
        tokio::select! {
            _ = &mut shutdown => break,
            _ = rx.recv() => {
                // Let a burst of events (a copy in progress) pass before looking.
                tokio::time::sleep(Duration::from_millis(100)).await;
                while rx.try_recv().is_ok() {}
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
    drop(watcher);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_files_are_ignored() {
        for name in [
            "~$請求書.xlsx",
            ".~lock.invoices.csv#",
            "invoices.csv.tmp",
            "x.part",
            "x.crdownload",
            ".DS_Store",
            "x.xlsx~",
            "rejected",
        ] {
            assert!(is_partial_name(name), "{name}");
        }
        for name in ["請求書.xlsx", "invoices.csv", "roster (2).xlsx"] {
            assert!(!is_partial_name(name), "{name}");
        }
    }

    #[test]
    fn set_aside_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..3 {
            let f = dir.path().join("a.pdf");
            std::fs::write(&f, format!("{i}")).unwrap();
            set_aside(dir.path(), REJECTED, &f, "rejected", "why").unwrap();
        }
        let kept = dir.path().join(REJECTED);
        assert_eq!(std::fs::read_to_string(kept.join("a.pdf")).unwrap(), "0");
        assert_eq!(
            std::fs::read_to_string(kept.join("a (2).pdf")).unwrap(),
            "2"
        );
        assert!(kept.join("a (1).pdf.rejected.txt").exists());
    }
}
