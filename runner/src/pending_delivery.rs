//! `PendingDelivery`: a note, kept while an approval is under way, of the files it copies into
//! the client's outbox. An approval copies the outputs before its transaction commits; if kobo
//! is killed in between, the transaction is rolled back but the copies stay, where the client
//! would find work nobody approved. [`recover`], run when kobo starts, takes them back.
//!
//! The note is `<home>/deliveries-pending/<run id>`: one outbox path (relative to the data
//! directory) per line, locked by the approving process for as long as the approval runs. A
//! note nobody holds was left by a process that died.

use crate::delivery::{DeliveryError, delivery_name, outbox_dir};
use crate::record::{Artifact, Records, RunRecord};
use crate::review::{self, ReviewState};
use chrono::{DateTime, Utc};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The folder of the notes, in the data directory.
pub const PENDING_DIR: &str = "deliveries-pending";

/// The note of one approval under way; removed when dropped (the approval committed, or
/// failed and took its copies back itself).
#[derive(Debug)]
pub struct PendingDelivery {
    path: PathBuf,
    _file: File,
}

impl PendingDelivery {
    /// Note the outbox files an approval of `run` at `at` is about to write, and hold the note.
    pub fn begin(
        home: &Path,
        run: &RunRecord,
        outputs: &[Artifact],
        at: DateTime<Utc>,
    ) -> Result<PendingDelivery, DeliveryError> {
        let dir = home.join(PENDING_DIR);
        let path = dir.join(&run.id.0);
        let io = |e: std::io::Error| DeliveryError::Io {
            file: path.display().to_string(),
            message: format!("cannot note the delivery under way: {e}"),
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        file.set_len(0).map_err(io)?;
        let outbox = outbox_dir(home, &run.client);
        let outbox = outbox.strip_prefix(home).unwrap_or(&outbox);
        for a in outputs {
            let target = outbox.join(delivery_name(at, run, &a.name));
            writeln!(file, "{}", target.display()).map_err(io)?;
        }
        file.sync_all().map_err(io)?;
        Ok(PendingDelivery { path, _file: file })
    }
}

impl Drop for PendingDelivery {
    fn drop(&mut self) {
        // Removed while still locked; closing the file then releases the lock.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Take back the outbox copies of approvals that were under way when their process died and
/// never committed; keep those whose approval did commit. Returns the files removed.
pub async fn recover(home: &Path, records: &Records) -> Result<Vec<PathBuf>, sqlx::Error> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(home.join(PENDING_DIR)) else {
        return Ok(removed);
    };
    for entry in entries.flatten() {
        let note = entry.path();
        let Ok(mut file) = File::open(&note) else {
            continue;
        };
        if file.try_lock().is_err() {
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
            for line in text.lines().filter(|l| !l.is_empty()) {
                let path = home.join(line);
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        tracing::warn!(
                            run = %run_id,
                            "took back `{}`: its approval was under way when kobo stopped and never completed; the run still awaits review",
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
        }
        let _ = std::fs::remove_file(&note);
    }
    Ok(removed)
}
