//! `Delivery`: an approved run's output copied into the client's outbox.
//!
//! ```text
//! <home>/outbox/<client>/<date>_<workflow>_<run id, 8 chars>_<file name>
//! ```
//! The date (Japan time) and the run id let the client tell deliveries apart and sort them.
//! Each file is written to a temporary file in the outbox (`.part-…`) and renamed into place,
//! so the client never sees half a file, with a rename that never replaces a file already there. Before copying, the output is checked against the sha256 recorded
//! when the run wrote it: what the reviewer saw is what the client gets.

use crate::data_dir::DataDir;
use crate::record::{Artifact, RunRecord};
use crate::run_folder::{file_sha256, safe_file_name};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyPool, Row};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One delivered file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    pub run_id: String,
    pub client: String,
    /// The file's name in the outbox.
    pub file_name: String,
    /// The output it was copied from, relative to the run folder.
    pub source: String,
    pub bytes: i64,
    pub sha256: String,
    pub delivered_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the output `{0}` changed after the run wrote it; it was not delivered")]
    Changed(String),
    #[error(
        "`{0}` is in the client's outbox already and was left as it is; nothing was delivered. If it is left from an approval that did not finish, restart kobo: it takes such files back"
    )]
    AlreadyInOutbox(String),
    #[error("cannot deliver `{file}`: {message}")]
    Io { file: String, message: String },
}

/// The name a delivered file gets:
/// `2026-11-25_invoice-report_01m89dqtq8p6xq1gnyb7m1xk5v_acme-invoices.xlsx`. The whole
/// run id: its first characters are only a time, shared by runs queued together.
pub fn delivery_name(at: DateTime<Utc>, run: &RunRecord, file: &str) -> String {
    let date = at.with_timezone(&crate::payout::jst()).format("%Y-%m-%d");
    safe_file_name(&format!("{date}_{}_{}_{file}", run.workflow, run.id))
}

/// Write `bytes` as `dir/name` atomically (a temporary file in `dir`, synced, then renamed).
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".part-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    let target = dir.join(name);
    tmp.persist(&target).map_err(|e| e.error)?;
    Ok(target)
}

/// Write `bytes` atomically under the first of `names` not taken yet in `dir`, and return its
/// path. Like [`write_atomic`], but an existing file is never replaced: each name is taken
/// with a rename that fails if the name exists, so two writers at once get two files.
/// Fails with [`std::io::ErrorKind::AlreadyExists`] when every name is taken.
pub fn write_new(
    dir: &Path,
    names: impl IntoIterator<Item = String>,
    bytes: &[u8],
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".part-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    for name in names {
        let target = dir.join(&name);
        match tmp.persist_noclobber(&target) {
            Ok(_) => return Ok(target),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => tmp = e.file,
            Err(e) => return Err(e.error),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "a file of that name is there already",
    ))
}

/// Copy a run's outputs into the client's outbox. On error, files already copied are removed.
pub(crate) fn copy_outputs(
    home: &Path,
    run: &RunRecord,
    outputs: &[Artifact],
    at: DateTime<Utc>,
) -> Result<Vec<Delivery>, DeliveryError> {
    let mut done: Vec<Delivery> = Vec::new();
    let dir = DataDir::new(home).client_outbox(&run.client);
    let result = (|| {
        for a in outputs {
            let source = home.join(&run.folder).join(&a.path);
            let io = |e: std::io::Error| DeliveryError::Io {
                file: a.name.clone(),
                message: e.to_string(),
            };
            let bytes = std::fs::read(&source).map_err(io)?;
            let (sha, _) = file_sha256(&source).map_err(io)?;
            if sha != a.sha256 {
                return Err(DeliveryError::Changed(a.name.clone()));
            }
            let file_name = delivery_name(at, run, &a.name);
            // Never over a file already in the outbox: a delivery only adds files.
            write_new(&dir, [file_name.clone()], &bytes).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    DeliveryError::AlreadyInOutbox(file_name.clone())
                } else {
                    io(e)
                }
            })?;
            done.push(Delivery {
                run_id: run.id.0.clone(),
                client: run.client.clone(),
                file_name,
                source: a.path.clone(),
                bytes: bytes.len() as i64,
                sha256: sha,
                delivered_at: at.to_rfc3339(),
            });
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(done),
        Err(e) => {
            undo(home, &done);
            Err(e)
        }
    }
}

/// Remove delivered files again (the approval that made them did not commit).
pub(crate) fn undo(home: &Path, done: &[Delivery]) {
    for d in done {
        let _ = std::fs::remove_file(
            DataDir::new(home)
                .client_outbox(&d.client)
                .join(&d.file_name),
        );
    }
}

pub(crate) async fn record(tx: &mut sqlx::AnyConnection, d: &Delivery) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO deliveries (run_id, client, file_name, source, bytes, sha256, delivered_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&d.run_id)
    .bind(&d.client)
    .bind(&d.file_name)
    .bind(&d.source)
    .bind(d.bytes)
    .bind(&d.sha256)
    .bind(&d.delivered_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A client's deliveries, newest first.
pub async fn for_client(pool: &AnyPool, client: &str) -> Result<Vec<Delivery>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT * FROM deliveries WHERE client = $1 ORDER BY delivered_at DESC, file_name",
    )
    .bind(client)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

/// The deliveries of one run.
pub async fn for_run(pool: &AnyPool, run_id: &str) -> Result<Vec<Delivery>, sqlx::Error> {
    let rows = sqlx::query("SELECT * FROM deliveries WHERE run_id = $1 ORDER BY file_name")
        .bind(run_id)
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(from_row).collect())
}

/// One of a client's deliveries by its file name (the only way to name a file to download).
pub async fn find(
    pool: &AnyPool,
    client: &str,
    file_name: &str,
) -> Result<Option<Delivery>, sqlx::Error> {
    let row = sqlx::query("SELECT * FROM deliveries WHERE client = $1 AND file_name = $2")
        .bind(client)
        .bind(file_name)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(from_row))
}

fn from_row(r: &sqlx::any::AnyRow) -> Delivery {
    Delivery {
        run_id: r.get("run_id"),
        client: r.get("client"),
        file_name: r.get("file_name"),
        source: r.get("source"),
        bytes: r.get("bytes"),
        sha256: r.get("sha256"),
        delivered_at: r.get("delivered_at"),
    }
}
