//! `PendingDelivery`: a note, kept while an approval is under way, of the files it copies into
//! the client's outbox. An approval copies the outputs before its transaction commits; if kobo
//! is killed in between, the transaction is rolled back but the copies stay, where the client
//! would find work nobody approved. [`recover`], run when kobo starts, takes them back (and the
//! run's next approval does, for a note it finds).
//!
//! The note is `<home>/deliveries-pending/<run id>`: one outbox path (relative to the data
//! directory) per line, locked by the approving process for as long as the approval runs. A
//! note nobody holds was left by an approval that stopped before it committed or took its
//! copies back (its process died).

use crate::data_dir::DataDir;
use crate::delivery::{DeliveryError, delivery_name};
use crate::record::{Artifact, Records, RunRecord};
use crate::review::{self, ReviewState};
use chrono::{DateTime, Utc};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The note of one approval under way. It is removed only by [`PendingDelivery::done`], once
/// the approval committed or took its copies back; an approval stopped in between (its
/// process killed, its task dropped) leaves the note for [`recover`] or the run's next
/// approval, which ask the records whether it committed.
#[derive(Debug)]
pub struct PendingDelivery {
    path: PathBuf,
    file: File,
}

impl PendingDelivery {
    /// Note the outbox files an approval of `run` at `at` is about to write, and hold the note.
    ///
    /// Call it only with the approval's decision inserted (not committed): no approval of this
    /// run has committed then, so the files of a note left by an earlier approval that stopped
    /// were never delivered, and are taken back first.
    pub async fn begin(
        home: &Path,
        run: &RunRecord,
        outputs: &[Artifact],
        at: DateTime<Utc>,
    ) -> Result<PendingDelivery, DeliveryError> {
        let dir = DataDir::new(home).pending_deliveries();
        let path = dir.join(&run.id.0);
        let io = |e: std::io::Error| DeliveryError::Io {
            file: path.display().to_string(),
            message: format!("cannot note the delivery under way: {e}"),
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let mut file = hold_note(&path).await.map_err(io)?;
        let mut left = String::new();
        file.read_to_string(&mut left).map_err(io)?;
        take_back(home, &run.id.0, &left);
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let outbox = DataDir::new(home).client_outbox(&run.client);
        let outbox = outbox.strip_prefix(home).unwrap_or(&outbox);
        for a in outputs {
            let target = outbox.join(delivery_name(at, run, &a.name));
            writeln!(file, "{}", target.display()).map_err(io)?;
        }
        file.sync_all().map_err(io)?;
        Ok(PendingDelivery { path, file })
    }

    /// The approval committed, or took back every copy it made: the note is not needed.
    pub fn done(self) {
        // Removed while still locked; closing the file then releases the lock.
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

/// Open (or create) the note at `path` and lock it, waiting without blocking the runtime
/// while another approval of the run holds it. A note removed by its holder in the meantime
/// is opened again, so the lock held is always on the file at `path`.
async fn hold_note(path: &Path) -> std::io::Result<File> {
    loop {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
        }
        if same_file(&file, path) {
            return Ok(file);
        }
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, path: &Path) -> bool {
    path.exists()
}

/// Remove the outbox files listed in a note (one path relative to `home` a line) of an
/// approval of `run_id` that never committed; the files removed.
fn take_back(home: &Path, run_id: &str, note: &str) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for line in note.lines().filter(|l| !l.is_empty()) {
        let path = home.join(line);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                tracing::warn!(
                    run = %run_id,
                    "took back `{}`: its approval was under way when it stopped and never completed; the run still awaits review",
                    path.display()
                );
                removed.push(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::error!(
                run = %run_id,
                "cannot take back `{}`, delivered by an approval that never completed: {e}; remove it by hand",
                path.display()
            ),
        }
    }
    removed
}

/// Take back the outbox copies of approvals that were under way when their process died and
/// never committed; keep those whose approval did commit. Then remove the temporary files
/// (`.part-…`) a write into an outbox left when its process died, unless an approval is under
/// way in a process that lives (it may be writing one). Returns the files removed.
pub async fn recover(home: &Path, records: &Records) -> Result<Vec<PathBuf>, sqlx::Error> {
    let mut removed = Vec::new();
    let mut live = false;
    let entries = std::fs::read_dir(DataDir::new(home).pending_deliveries())
        .into_iter()
        .flatten()
        .flatten();
    for entry in entries {
        let note = entry.path();
        let Ok(mut file) = File::open(&note) else {
            continue;
        };
        if file.try_lock().is_err() {
            live = true;
            continue; // an approval under way in a process that lives
        }
        let run_id = entry.file_name().to_string_lossy().to_string();
        let approved = matches!(
            review::get(records.pool(), &run_id).await?,
            Some(r) if r.state == ReviewState::Approved
        );
        if !approved {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            removed.extend(take_back(home, &run_id, &text));
        }
        let _ = std::fs::remove_file(&note);
    }
    if !live {
        removed.extend(remove_partial_writes(&DataDir::new(home).outbox()));
    }
    Ok(removed)
}

/// Remove `.part-…` files (see [`crate::delivery::write_atomic`]) in every client's outbox.
fn remove_partial_writes(outbox: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let clients = std::fs::read_dir(outbox).into_iter().flatten().flatten();
    for client in clients.filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
        let files = std::fs::read_dir(client.path())
            .into_iter()
            .flatten()
            .flatten();
        for f in files {
            let partial = f.file_name().to_string_lossy().starts_with(".part-")
                && f.file_type().is_ok_and(|t| t.is_file());
            if !partial {
                continue;
            }
            let path = f.path();
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    tracing::warn!(
                        "removed `{}`: half a delivery, written when kobo stopped",
                        path.display()
                    );
                    removed.push(path);
                }
                Err(e) => tracing::error!(
                    "cannot remove `{}`, half a delivery written when kobo stopped: {e}; remove it by hand",
                    path.display()
                ),
            }
        }
    }
    removed
}
