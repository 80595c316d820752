//! `run_files`: a run's files kept in the records, for workers on other machines.
//!
//! On the embedded default every process shares the data directory, and a run's folder
//! (`runs/<id>/`) is the only copy of its files. With PostgreSQL records the server and
//! its workers may be on different machines with no folder in common, so the files travel
//! with the run through the records:
//!
//! - the server [`send`]s the claimed input (and the workflow's text) before it queues the job;
//! - a worker [`fetch`]es them into its own data directory before the run starts, and
//!   [`send`]s everything the run wrote (outputs, screenshots, saved pages, log) before the
//!   run is recorded as ended, so an ended run always has its files in the records;
//! - the server [`fetch`]es them when a reviewer opens the run or approves it.
//!
//! On SQLite records both calls do nothing.

use crate::record::{Backend, Records, StoreError};
use crate::run::RunId;
use crate::run_folder::file_sha256;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Copy every file under the run's folder into the records, where the records do not
/// already hold the same content. Returns how many files were sent.
///
/// A reviewed run's files are what the decision was about: they are refused
/// ([`StoreError::Reviewed`]; the records' triggers refuse them too).
pub async fn send(
    records: &Records,
    home: &Path,
    id: &RunId,
    folder: &str,
) -> Result<usize, StoreError> {
    if records.backend() != Backend::Postgres {
        return Ok(0);
    }
    if crate::review::get(records.pool(), &id.0).await?.is_some() {
        return Err(StoreError::Reviewed(id.0.clone()));
    }
    let root = home.join(folder);
    let files = files_under(&root).map_err(|e| folder_error(&root, e))?;
    let kept = kept_hashes(records, id).await?;
    let mut tx = records.pool().begin().await?;
    let mut sent = 0;
    for rel in &files {
        let path = root.join(rel);
        let content = std::fs::read(&path).map_err(|e| folder_error(&path, e))?;
        let sha256 = hex::encode(Sha256::digest(&content));
        if kept.get(rel) == Some(&sha256) {
            continue;
        }
        sqlx::query(
            "INSERT INTO run_files (run_id, path, sha256, content) VALUES ($1, $2, $3, $4)
             ON CONFLICT (run_id, path) DO UPDATE SET sha256 = excluded.sha256, content = excluded.content",
        )
        .bind(&id.0)
        .bind(rel)
        .bind(sha256)
        .bind(content)
        .execute(&mut *tx)
        .await?;
        sent += 1;
    }
    tx.commit().await?;
    Ok(sent)
}

/// Write the run's files kept in the records into its folder under `home`, where they are
/// missing or differ (by sha256). Returns how many files were written. (Files of an earlier
/// attempt that the records no longer hold may stay in a folder fetched before; the run's
/// artifacts in the records say which files are its own.)
pub async fn fetch(
    records: &Records,
    home: &Path,
    id: &RunId,
    folder: &str,
) -> Result<usize, StoreError> {
    if records.backend() != Backend::Postgres {
        return Ok(0);
    }
    let root = home.join(folder);
    let kept = kept_hashes(records, id).await?;
    let mut written = 0;
    for (rel, sha256) in &kept {
        // A path from the records never leaves the run's folder, whoever wrote it there.
        let Some(path) = inside(&root, rel) else {
            tracing::warn!(run = %id, path = %rel, "a file kept with the run has a path outside its folder; it is not written");
            continue;
        };
        if file_sha256(&path).is_ok_and(|(local, _)| &local == sha256) {
            continue;
        }
        let content: Vec<u8> =
            sqlx::query("SELECT content FROM run_files WHERE run_id = $1 AND path = $2")
                .bind(&id.0)
                .bind(rel)
                .fetch_one(records.pool())
                .await?
                .get("content");
        let dir = path.parent().unwrap_or(&root);
        let name = path.file_name().map(|n| n.to_string_lossy().to_string());
        crate::delivery::write_atomic(dir, name.as_deref().unwrap_or("file"), &content)
            .map_err(|e| folder_error(&path, e))?;
        written += 1;
    }
    Ok(written)
}

/// Path → sha256 of the run's files in the records.
async fn kept_hashes(
    records: &Records,
    id: &RunId,
) -> Result<BTreeMap<String, String>, StoreError> {
    let rows = sqlx::query("SELECT path, sha256 FROM run_files WHERE run_id = $1")
        .bind(&id.0)
        .fetch_all(records.pool())
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get("path"), r.get("sha256")))
        .collect())
}

/// Every file under `root`, as `/`-separated paths relative to it, sorted.
fn files_under(root: &Path) -> std::io::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir == root => {
                return Ok(found);
            }
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                // Half-written files (`write_atomic`'s temporaries) are not the run's.
                if name.starts_with(".part-") {
                    continue;
                }
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().to_string())
                    .collect();
                found.push(parts.join("/"));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// `root/rel` when `rel` is a plain relative path (no `..`, no root, no drive).
fn inside(root: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel);
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && rel.components().next().is_some()).then(|| root.join(rel))
}

fn folder_error(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Files {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_from_the_records_stay_in_the_run_folder() {
        let root = Path::new("/data/runs/01abc");
        assert_eq!(
            inside(root, "output/report.xlsx"),
            Some(root.join("output/report.xlsx"))
        );
        assert_eq!(inside(root, "../01def/output/x.xlsx"), None);
        assert_eq!(inside(root, "/etc/passwd"), None);
        assert_eq!(inside(root, "output/../../x"), None);
        assert_eq!(inside(root, ""), None);
    }

    #[test]
    fn files_under_lists_nested_files_and_skips_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("output/sub")).unwrap();
        std::fs::write(dir.path().join("log.jsonl"), "{}").unwrap();
        std::fs::write(dir.path().join("output/sub/a.csv"), "a").unwrap();
        std::fs::write(dir.path().join("output/.part-x1"), "half").unwrap();
        assert_eq!(
            files_under(dir.path()).unwrap(),
            vec!["log.jsonl".to_string(), "output/sub/a.csv".to_string()]
        );
        assert!(files_under(&dir.path().join("missing")).unwrap().is_empty());
    }
}
