//! `Records`: the run records, in SQLite (one file, `records.db` in the data directory, the
//! embedded default) or in PostgreSQL (`--records postgres://…`, workers on several machines).
//!
//! A run record holds what ran (workflow, version, content hash), on what (input name
//! and hash), for whom (client, trainee), how it went (status, timings per step, results
//! per row) and which files it made. SQLite records are written with durable settings
//! (WAL, synchronous=FULL): a record must survive a power cut. [`RunEnd`] is how a run ended.

use crate::data_dir::DataDir;
use crate::run::{RowCounts, RowResult, RowStatus, RunId, RunStatus, StepTiming};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions, Connection, Executor, Row};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the records database `{path}`: {message}")]
    Open { path: String, message: String },
    #[error(
        "cannot reach the PostgreSQL records at `{place}` ({message}); check that the server runs and that `--records` (or KOBO_RECORDS) names it"
    )]
    Unreachable { place: String, message: String },
    #[error("the records database could not be updated: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the records database could not be upgraded: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "`{0}` is not a place for run records; use `sqlite:/path/records.db` or `postgres://user@host:5432/database`"
    )]
    BadLocation(String),
    #[error("cannot keep the run's file `{path}` with its record: {message}")]
    Files { path: String, message: String },
    #[error("no run with id `{0}`; `kobo runs` lists recent runs")]
    NoSuchRun(String),
    #[error("run `{0}` was reviewed, so its files do not change; `kobo rerun {0}` makes a new run")]
    Reviewed(String),
    #[error(
        "`{prefix}` is the start of several runs' ids ({}); give more of the id",
        .matches.join(", ")
    )]
    AmbiguousRun {
        prefix: String,
        /// A few of the ids it matches (the last may be `…` for more).
        matches: Vec<String>,
    },
    #[error("run `{id}` is {from} and cannot become {to}")]
    BadTransition {
        id: String,
        from: RunStatus,
        to: RunStatus,
    },
}

/// What `Records::request_cancel` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelRequest {
    /// The run was still waiting in the queue: it is now cancelled and will not start.
    CancelledQueued,
    /// The run is running: its worker stops it at the next step (within a second).
    Requested,
}

/// What `Records::start` found when a worker picked a run up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A queued run (or one recorded for the first time) is now running.
    Fresh,
    /// The run was already running: its worker stopped without finishing it (a crash, a
    /// killed process), and the queue handed the job to this worker again.
    Resumed,
    /// The run had already ended with this status: it must not run again.
    AlreadyEnded(RunStatus),
}

/// One run as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub id: RunId,
    pub workflow: String,
    pub workflow_version: String,
    pub workflow_hash: String,
    pub workflow_file: String,
    pub client: String,
    pub trainee: String,
    pub input_name: Option<String>,
    pub input_hash: Option<String>,
    pub status: RunStatus,
    pub attempt: i64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub rows: RowCounts,
    pub error: Option<String>,
    pub error_step: Option<String>,
    /// The run's folder, relative to the data directory.
    pub folder: String,
    /// The worker that ran it last (`host-pid-n`), once a worker has started it.
    pub worker: Option<String>,
    /// The run this one repeats (`kobo rerun`).
    pub rerun_of: Option<String>,
    /// Which rows of `rerun_of` it does again (`failed`, `in-doubt`, `all`); the others are
    /// carried over. None: a rerun from before row progress was kept, every row runs.
    pub rerun_rows: Option<String>,
    /// Started with `--again`: rows whose key an earlier run entered are entered again.
    pub again: bool,
}

impl RunRecord {
    /// A new run of `w` on one input, in `folder`, just queued or just started (`status`).
    pub fn new(
        id: &RunId,
        w: &crate::workflow::Workflow,
        input: Option<(String, String)>,
        status: RunStatus,
        folder: &str,
    ) -> RunRecord {
        let now = Utc::now();
        let (input_name, input_hash) = input.unzip();
        RunRecord {
            id: id.clone(),
            workflow: w.name.clone(),
            workflow_version: w.version.clone(),
            workflow_hash: w.hash.clone(),
            workflow_file: w.file.display().to_string(),
            client: w.client.clone(),
            trainee: w.author.clone(),
            input_name,
            input_hash,
            status,
            attempt: 1,
            created_at: now,
            started_at: (status == RunStatus::Running).then_some(now),
            finished_at: None,
            duration_ms: None,
            rows: RowCounts::default(),
            error: None,
            error_step: None,
            folder: folder.to_string(),
            worker: None,
            rerun_of: None,
            rerun_rows: None,
            again: false,
        }
    }
}

/// How a run ended, for [`Records::finish`].
#[derive(Debug, Clone, Copy)]
pub struct RunEnd<'a> {
    pub status: RunStatus,
    pub rows: RowCounts,
    pub error: Option<&'a str>,
    /// The step the error is about (`#2.1 fill (line 9)`, `the whole run`).
    pub error_step: Option<&'a str>,
    pub steps: &'a [StepTiming],
    pub row_results: &'a [RowResult],
    /// Attempts made, counting those of workers that died before.
    pub attempt: i64,
}

impl<'a> RunEnd<'a> {
    /// Failed before or outside the steps, with `message` about `step`: no timings, no rows.
    pub fn failed(message: &'a str, step: &'a str, rows: RowCounts, attempt: i64) -> RunEnd<'a> {
        RunEnd {
            status: RunStatus::Failed,
            rows,
            error: Some(message),
            error_step: Some(step),
            steps: &[],
            row_results: &[],
            attempt,
        }
    }
}

/// A file kept with a run: the input copy, an output, a screenshot, a page's HTML.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Artifact {
    pub kind: String,
    pub name: String,
    /// Path relative to the run folder.
    pub path: String,
    pub bytes: i64,
    pub sha256: String,
}

/// Everything about one run, for `kobo show` and the dashboard.
#[derive(Debug, Clone, Serialize)]
pub struct RunDetail {
    pub run: RunRecord,
    pub steps: Vec<StepTiming>,
    pub rows: Vec<RowResult>,
    pub artifacts: Vec<Artifact>,
}

/// Where the run records live.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordsLocation {
    /// The embedded default: one SQLite file (`<data dir>/records.db`).
    Sqlite(PathBuf),
    /// A PostgreSQL server (`postgres://user@host:5432/db`), for workers on several
    /// machines. The run's files travel with the records (see [`crate::run_files`]).
    Postgres(String),
}

impl RecordsLocation {
    /// Read `--records`; without it, `records.db` in the data directory.
    pub fn parse(arg: Option<&str>, home: &Path) -> Result<RecordsLocation, StoreError> {
        let Some(arg) = arg.map(str::trim).filter(|a| !a.is_empty()) else {
            return Ok(RecordsLocation::Sqlite(DataDir::new(home).records_db()));
        };
        if arg.starts_with("postgres://") || arg.starts_with("postgresql://") {
            return Ok(RecordsLocation::Postgres(arg.to_string()));
        }
        if let Some(path) = arg.strip_prefix("sqlite:") {
            let path = path.trim_start_matches("//");
            return Ok(RecordsLocation::Sqlite(if path.is_empty() {
                DataDir::new(home).records_db()
            } else {
                PathBuf::from(path)
            }));
        }
        Err(StoreError::BadLocation(arg.to_string()))
    }

    /// As `--records` takes it, for the processes a worker starts (`kobo run-job`).
    pub fn as_arg(&self) -> String {
        match self {
            RecordsLocation::Sqlite(p) => format!("sqlite:{}", p.display()),
            RecordsLocation::Postgres(url) => url.clone(),
        }
    }

    /// For log lines and banners; never shows a password.
    pub fn describe(&self) -> String {
        match self {
            RecordsLocation::Sqlite(p) => format!("SQLite records `{}`", p.display()),
            RecordsLocation::Postgres(url) => {
                format!("PostgreSQL records `{}`", crate::queue::hide_password(url))
            }
        }
    }
}

/// Which database the records are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The run records database.
#[derive(Debug, Clone)]
pub struct Records {
    pool: AnyPool,
}

impl Records {
    /// Open (and create or upgrade) the SQLite records database at `path`.
    pub async fn open(path: &Path) -> Result<Records, StoreError> {
        Records::connect(&RecordsLocation::Sqlite(path.to_path_buf())).await
    }

    /// Open (and create or upgrade) the records where `location` says.
    pub async fn connect(location: &RecordsLocation) -> Result<Records, StoreError> {
        sqlx::any::install_default_drivers();
        let open_error = |message: String| StoreError::Open {
            path: match location {
                RecordsLocation::Sqlite(p) => p.display().to_string(),
                RecordsLocation::Postgres(url) => crate::queue::hide_password(url),
            },
            message,
        };
        let (url, backend) = match location {
            RecordsLocation::Sqlite(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| open_error(e.to_string()))?;
                }
                let url = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .to_url_lossy();
                (url.to_string(), Backend::Sqlite)
            }
            RecordsLocation::Postgres(url) => (url.clone(), Backend::Postgres),
        };
        let opts = AnyConnectOptions::from_str(&url).map_err(|e| open_error(e.to_string()))?;
        if backend == Backend::Postgres {
            // One plain connection first: a pool keeps retrying a server that refuses for
            // half a minute before it says anything.
            let unreachable = |message: String| StoreError::Unreachable {
                place: crate::queue::hide_password(&url),
                message,
            };
            let probe = tokio::time::timeout(Duration::from_secs(10), opts.connect())
                .await
                .map_err(|_| unreachable("no answer within 10 s".into()))?
                .map_err(|e| unreachable(e.to_string()))?;
            let _ = probe.close().await;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Durable settings: a record must survive a power cut.
                        conn.execute(
                            "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL;
                             PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| open_error(e.to_string()))?;
        // Two kobo processes starting together (`serve` and `cancel`, two workers) may both
        // try to upgrade a new database; the one that loses sees the other's work on a retry.
        let mut tries = 0;
        loop {
            let migrated = match backend {
                Backend::Sqlite => sqlx::migrate!("./migrations").run(&pool).await,
                Backend::Postgres => sqlx::migrate!("./migrations-postgres").run(&pool).await,
            };
            match migrated {
                Ok(()) => break,
                Err(_) if tries < 5 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100 * tries)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Records { pool })
    }

    /// Which database the records are in.
    pub fn backend(&self) -> Backend {
        backend_of(&self.pool)
    }

    /// Record a new run (queued or running).
    pub async fn insert(&self, r: &RunRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO runs (id, workflow, workflow_version, workflow_hash, workflow_file, client, trainee,
                input_name, input_hash, status, attempt, created_at, started_at, folder, worker, rerun_of,
                rerun_rows, again)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(&r.id.0)
        .bind(&r.workflow)
        .bind(&r.workflow_version)
        .bind(&r.workflow_hash)
        .bind(&r.workflow_file)
        .bind(&r.client)
        .bind(&r.trainee)
        .bind(&r.input_name)
        .bind(&r.input_hash)
        .bind(r.status.as_str())
        .bind(r.attempt)
        .bind(r.created_at.to_rfc3339())
        .bind(r.started_at.map(|t| t.to_rfc3339()))
        .bind(&r.folder)
        .bind(&r.worker)
        .bind(&r.rerun_of)
        .bind(&r.rerun_rows)
        .bind(r.again as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A worker takes a run: queued becomes running (with the worker's name); a run that
    /// is already running was left behind by a worker that died and is taken over; an
    /// ended run is left alone. One statement per case, so two workers never both start it.
    pub async fn start(&self, id: &RunId, worker: &str) -> Result<Start, StoreError> {
        let now = Utc::now().to_rfc3339();
        let fresh = sqlx::query("UPDATE runs SET status = 'running', started_at = $1, worker = $2, heartbeat_at = NULL WHERE id = $3 AND status = 'queued'")
            .bind(&now)
            .bind(worker)
            .bind(&id.0)
            .execute(&self.pool)
            .await?;
        if fresh.rows_affected() == 1 {
            return Ok(Start::Fresh);
        }
        let resumed = sqlx::query(
            "UPDATE runs SET worker = $1, attempt = attempt + 1, heartbeat_at = NULL WHERE id = $2 AND status = 'running'",
        )
        .bind(worker)
        .bind(&id.0)
        .execute(&self.pool)
        .await?;
        if resumed.rows_affected() == 1 {
            return Ok(Start::Resumed);
        }
        match self.get(id).await? {
            Some(r) => Ok(Start::AlreadyEnded(r.status)),
            None => Err(StoreError::NoSuchRun(id.0.clone())),
        }
    }

    /// Ask for a run to stop. A queued run is cancelled at once; a running one is flagged
    /// and its worker stops it; an ended run cannot be cancelled.
    pub async fn request_cancel(&self, id: &RunId) -> Result<CancelRequest, StoreError> {
        let now = Utc::now().to_rfc3339();
        let queued = sqlx::query(
            "UPDATE runs SET status = 'cancelled', cancel_requested = 1, finished_at = $1,
                error = 'cancelled before it started (`kobo cancel`)' WHERE id = $2 AND status = 'queued'",
        )
        .bind(&now)
        .bind(&id.0)
        .execute(&self.pool)
        .await?;
        if queued.rows_affected() == 1 {
            return Ok(CancelRequest::CancelledQueued);
        }
        let running = sqlx::query(
            "UPDATE runs SET cancel_requested = 1 WHERE id = $1 AND status = 'running'",
        )
        .bind(&id.0)
        .execute(&self.pool)
        .await?;
        if running.rows_affected() == 1 {
            return Ok(CancelRequest::Requested);
        }
        match self.get(id).await? {
            Some(r) => Err(StoreError::BadTransition {
                id: id.0.clone(),
                from: r.status,
                to: RunStatus::Cancelled,
            }),
            None => Err(StoreError::NoSuchRun(id.0.clone())),
        }
    }

    /// Whether someone asked for this run to stop (`kobo cancel`).
    pub async fn cancel_requested(&self, id: &RunId) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT cancel_requested FROM runs WHERE id = $1")
            .bind(&id.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.get::<i64, _>("cancel_requested") != 0)
            .unwrap_or(false))
    }

    /// A worker says it is still running this run (see [`crate::submit::StallWatch`]).
    pub async fn beat(&self, id: &RunId) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET heartbeat_at = $1 WHERE id = $2 AND status = 'running'")
            .bind(Utc::now().to_rfc3339())
            .bind(&id.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether `worker` still holds this running run (no other worker took it over).
    pub async fn still_held_by(&self, id: &RunId, worker: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT worker FROM runs WHERE id = $1 AND status = 'running'")
            .bind(&id.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some_and(|r| r.get::<Option<String>, _>("worker").as_deref() == Some(worker)))
    }

    /// The last heartbeat of every running run a worker beats for (one-shot `kobo run`
    /// runs never beat). Compared by [`crate::submit::StallWatch`] over time, on the
    /// watcher's own clock, so the workers' clocks need not agree with it.
    pub async fn heartbeats(&self) -> Result<Vec<(RunId, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, heartbeat_at FROM runs WHERE status = 'running' AND heartbeat_at IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (RunId(r.get("id")), r.get("heartbeat_at")))
            .collect())
    }

    /// A run by its exact id.
    pub async fn get(&self, id: &RunId) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM runs WHERE id = $1")
            .bind(&id.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(run_from_row))
    }

    /// An earlier run of this workflow for this client on a file with the same content
    /// that is queued, running or succeeded (a failed or cancelled one may be sent again).
    pub async fn same_input(
        &self,
        client: &str,
        workflow: &str,
        input_hash: &str,
    ) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM runs WHERE client = $1 AND workflow = $2 AND input_hash = $3
                AND status IN ('queued', 'running', 'succeeded') ORDER BY created_at LIMIT 1",
        )
        .bind(client)
        .bind(workflow)
        .bind(input_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(run_from_row))
    }

    /// Runs in one status, oldest first (the queue's recovery sweep looks for queued ones).
    pub async fn with_status(&self, status: RunStatus) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM runs WHERE status = $1 ORDER BY created_at, id")
            .bind(status.as_str())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(run_from_row).collect())
    }

    /// Move a run to a new status, refusing transitions that are not allowed
    /// (a finished run never changes). Returns the status it had.
    pub async fn set_status(&self, id: &RunId, to: RunStatus) -> Result<RunStatus, StoreError> {
        let mut tx = self.write_transaction().await?;
        let row = sqlx::query("SELECT status FROM runs WHERE id = $1")
            .bind(&id.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NoSuchRun(id.0.clone()))?;
        let from = parse_status(row.get::<String, _>("status"));
        if !from.can_become(to) {
            return Err(StoreError::BadTransition {
                id: id.0.clone(),
                from,
                to,
            });
        }
        let now = Utc::now().to_rfc3339();
        sqlx::query("UPDATE runs SET status = $1, started_at = CASE WHEN $2 = 'running' THEN $3 ELSE started_at END WHERE id = $4")
            .bind(to.as_str())
            .bind(to.as_str())
            .bind(&now)
            .bind(&id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(from)
    }

    /// The newest run that repeats `id` with row progress (`kobo rerun`), if any.
    pub async fn rerun_of(&self, id: &RunId) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM runs WHERE rerun_of = $1 AND rerun_rows IS NOT NULL ORDER BY created_at DESC LIMIT 1",
        )
        .bind(&id.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.get("id")))
    }

    /// Record how a run ended, with its step timings and row results, in one transaction.
    pub async fn finish(&self, id: &RunId, end: &RunEnd<'_>) -> Result<(), StoreError> {
        let RunEnd {
            status,
            rows: counts,
            error,
            error_step,
            steps,
            row_results: rows,
            attempt,
        } = *end;
        let mut tx = self.write_transaction().await?;
        let current = sqlx::query("SELECT status, started_at FROM runs WHERE id = $1")
            .bind(&id.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NoSuchRun(id.0.clone()))?;
        let from = parse_status(current.get::<String, _>("status"));
        if !from.can_become(status) {
            return Err(StoreError::BadTransition {
                id: id.0.clone(),
                from,
                to: status,
            });
        }
        let now = Utc::now();
        let started: Option<String> = current.get("started_at");
        let duration = started
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|s| (now - s.with_timezone(&Utc)).num_milliseconds());
        sqlx::query(
            "UPDATE runs SET status = $1, finished_at = $2, duration_ms = $3, rows_total = $4, rows_ok = $5,
                rows_failed = $6, rows_skipped = $7, error = $8, error_step = $9, attempt = $10,
                rows_in_doubt = $11 WHERE id = $12",
        )
        .bind(status.as_str())
        .bind(now.to_rfc3339())
        .bind(duration)
        .bind(counts.total as i64)
        .bind(counts.ok as i64)
        .bind(counts.failed as i64)
        .bind(counts.skipped as i64)
        .bind(error)
        .bind(error_step)
        .bind(attempt)
        .bind(counts.in_doubt as i64)
        .bind(&id.0)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM run_steps WHERE run_id = $1")
            .bind(&id.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM run_rows WHERE run_id = $1")
            .bind(&id.0)
            .execute(&mut *tx)
            .await?;
        for (seq, s) in steps.iter().enumerate() {
            sqlx::query(
                "INSERT INTO run_steps (run_id, seq, path, label, kind, line, calls, total_ms, max_ms, failures)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&id.0)
            .bind(seq as i64)
            .bind(&s.path)
            .bind(&s.label)
            .bind(&s.kind)
            .bind(s.line.map(|l| l as i64))
            .bind(s.calls as i64)
            .bind(s.total_ms)
            .bind(s.max_ms)
            .bind(s.failures as i64)
            .execute(&mut *tx)
            .await?;
        }
        for r in rows {
            sqlx::query(
                "INSERT INTO run_rows (run_id, tbl, row_no, source_row, status, message, step, carried_from, row_key, place)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&id.0)
            .bind(&r.table)
            .bind(r.row as i64)
            .bind(r.source_row as i64)
            .bind(r.status.as_str())
            .bind(&r.message)
            .bind(&r.step)
            .bind(&r.carried_from)
            .bind(&r.key)
            .bind(&r.place)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Record a file kept with a run (replacing an earlier one at the same path).
    pub async fn add_artifact(&self, id: &RunId, a: &Artifact) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO run_artifacts (run_id, kind, name, path, bytes, sha256, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (run_id, path) DO UPDATE SET kind = excluded.kind, name = excluded.name,
                bytes = excluded.bytes, sha256 = excluded.sha256, created_at = excluded.created_at",
        )
        .bind(&id.0)
        .bind(&a.kind)
        .bind(&a.name)
        .bind(&a.path)
        .bind(a.bytes)
        .bind(&a.sha256)
        .bind(Utc::now().to_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The most recent runs, newest first.
    pub async fn recent(&self, limit: i64) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM runs ORDER BY created_at DESC, id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(run_from_row).collect())
    }

    /// Find a run by its id or a unique prefix of it (at least 6 characters).
    pub async fn find(&self, id_or_prefix: &str) -> Result<RunRecord, StoreError> {
        let prefix = id_or_prefix.trim().to_lowercase();
        if prefix.len() < 6 || !prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(StoreError::NoSuchRun(id_or_prefix.to_string()));
        }
        const SHOWN: usize = 3;
        let rows = sqlx::query("SELECT * FROM runs WHERE id LIKE $1 ORDER BY id LIMIT $2")
            .bind(format!("{prefix}%"))
            .bind(SHOWN as i64 + 1)
            .fetch_all(&self.pool)
            .await?;
        match rows.as_slice() {
            [] => Err(StoreError::NoSuchRun(id_or_prefix.to_string())),
            [one] => Ok(run_from_row(one)),
            several => {
                let mut matches: Vec<String> = several
                    .iter()
                    .take(SHOWN)
                    .map(|r| r.get::<String, _>("id"))
                    .collect();
                if several.len() > SHOWN {
                    matches.push("…".into());
                }
                Err(StoreError::AmbiguousRun {
                    prefix: id_or_prefix.to_string(),
                    matches,
                })
            }
        }
    }

    /// The outputs a run recorded (what review is about and approval delivers).
    pub async fn outputs(&self, id: &RunId) -> Result<Vec<Artifact>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM run_artifacts WHERE run_id = $1 AND kind = 'output' ORDER BY created_at, path",
        )
        .bind(&id.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(artifact_from_row).collect())
    }

    /// A run with its steps, rows and files.
    pub async fn detail(&self, id_or_prefix: &str) -> Result<RunDetail, StoreError> {
        let run = self.find(id_or_prefix).await?;
        let steps = sqlx::query("SELECT * FROM run_steps WHERE run_id = $1 ORDER BY seq")
            .bind(&run.id.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| StepTiming {
                path: r.get("path"),
                label: r.get("label"),
                kind: r.get("kind"),
                line: r.get::<Option<i64>, _>("line").map(|l| l as usize),
                calls: r.get::<i64, _>("calls") as u64,
                total_ms: r.get("total_ms"),
                max_ms: r.get("max_ms"),
                failures: r.get::<i64, _>("failures") as u64,
            })
            .collect();
        let rows = sqlx::query("SELECT * FROM run_rows WHERE run_id = $1 ORDER BY tbl, row_no")
            .bind(&run.id.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| RowResult {
                table: r.get("tbl"),
                row: r.get::<i64, _>("row_no") as usize,
                source_row: r.get::<i64, _>("source_row") as usize,
                status: RowStatus::from_str(&r.get::<String, _>("status"))
                    .unwrap_or(RowStatus::Pending),
                message: r.get("message"),
                step: r.get("step"),
                carried_from: r.get("carried_from"),
                key: r.get("row_key"),
                place: r.get("place"),
            })
            .collect();
        let artifacts =
            sqlx::query("SELECT * FROM run_artifacts WHERE run_id = $1 ORDER BY created_at, path")
                .bind(&run.id.0)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(artifact_from_row)
                .collect();
        Ok(RunDetail {
            run,
            steps,
            rows,
            artifacts,
        })
    }

    /// A transaction that takes the write lock at once; see [`begin_write`].
    pub async fn write_transaction(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        begin_write(&self.pool).await
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// A transaction that takes the records' write lock at once, so that a read followed by a
/// write never sees another writer in between. On SQLite that is `BEGIN IMMEDIATE` (a plain
/// `BEGIN` that reads and then writes fails with "database is locked" when another process
/// wrote in between, without waiting; an immediate one waits its turn, `busy_timeout`). On
/// PostgreSQL it is a transaction-scoped advisory lock, one per schema.
pub async fn begin_write(
    pool: &AnyPool,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    if backend_of(pool) == Backend::Postgres {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('kobo-records:' || current_schema()))")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    } else {
        pool.begin_with("BEGIN IMMEDIATE").await
    }
}

/// Which database a records pool talks to, from its address.
fn backend_of(pool: &AnyPool) -> Backend {
    if pool
        .connect_options()
        .database_url
        .scheme()
        .starts_with("postgres")
    {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

fn parse_status(s: String) -> RunStatus {
    RunStatus::from_str(&s).unwrap_or(RunStatus::Failed)
}

fn time(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn artifact_from_row(r: &sqlx::any::AnyRow) -> Artifact {
    Artifact {
        kind: r.get("kind"),
        name: r.get("name"),
        path: r.get("path"),
        bytes: r.get("bytes"),
        sha256: r.get("sha256"),
    }
}

pub(crate) fn run_from_row(r: &sqlx::any::AnyRow) -> RunRecord {
    RunRecord {
        id: RunId(r.get("id")),
        workflow: r.get("workflow"),
        workflow_version: r.get("workflow_version"),
        workflow_hash: r.get("workflow_hash"),
        workflow_file: r.get("workflow_file"),
        client: r.get("client"),
        trainee: r.get("trainee"),
        input_name: r.get("input_name"),
        input_hash: r.get("input_hash"),
        status: parse_status(r.get("status")),
        attempt: r.get("attempt"),
        created_at: time(r.get("created_at")).unwrap_or_default(),
        started_at: time(r.get("started_at")),
        finished_at: time(r.get("finished_at")),
        duration_ms: r.get("duration_ms"),
        rows: RowCounts {
            total: r.get::<i64, _>("rows_total") as u64,
            ok: r.get::<i64, _>("rows_ok") as u64,
            failed: r.get::<i64, _>("rows_failed") as u64,
            skipped: r.get::<i64, _>("rows_skipped") as u64,
            in_doubt: r.get::<i64, _>("rows_in_doubt") as u64,
        },
        error: r.get("error"),
        error_step: r.get("error_step"),
        folder: r.get("folder"),
        worker: r.get("worker"),
        rerun_of: r.get("rerun_of"),
        rerun_rows: r.get("rerun_rows"),
        again: r.get::<i64, _>("again") != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_locations_are_read_and_shown_without_passwords() {
        let home = Path::new("/srv/kobo");
        assert_eq!(
            RecordsLocation::parse(None, home).unwrap(),
            RecordsLocation::Sqlite(home.join("records.db"))
        );
        assert_eq!(
            RecordsLocation::parse(Some("sqlite:/tmp/r.db"), home).unwrap(),
            RecordsLocation::Sqlite(PathBuf::from("/tmp/r.db"))
        );
        let pg =
            RecordsLocation::parse(Some(" postgres://kobo:s3cret@db:5432/kobo "), home).unwrap();
        assert_eq!(
            pg,
            RecordsLocation::Postgres("postgres://kobo:s3cret@db:5432/kobo".into())
        );
        assert!(!pg.describe().contains("s3cret"), "{}", pg.describe());
        assert!(pg.describe().contains("db:5432/kobo"), "{}", pg.describe());
        let err = RecordsLocation::parse(Some("mysql://db/kobo"), home).unwrap_err();
        assert!(err.to_string().contains("postgres://"), "{err}");
    }
}
