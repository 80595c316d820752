//! `JobQueue`: the jobs waiting for a worker, one [`RunJob`] per run, on apalis.
//!
//! The embedded default is apalis-sqlite in `<data dir>/queue.db` (a file of its own:
//! apalis sets `synchronous = OFF` on it, and kobo's records need durable settings).
//! Scaled out, the same jobs live in Redis (`--queue redis://host:6379/`) and worker
//! processes on several machines take them. The job id is the run id, so a job and its
//! run record can always be matched.

use crate::data_dir::DataDir;
use crate::run::RunId;
use apalis::prelude::{FetchById, TaskBuilder, TaskId, TaskSink};
use apalis_redis::RedisStorage;
use apalis_sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteStorage};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// The queue's name in both backends; fixed, so renaming a Rust type never orphans jobs.
pub const QUEUE_NAME: &str = "kobo-runs";

/// How often apalis hands one job out before giving up on it (a worker that dies
/// mid-run, or a records database that cannot be reached, each cost one).
pub const MAX_ATTEMPTS: usize = 5;

/// One run waiting for a worker. It carries the workflow's text, so a worker needs no
/// copy of the workflows folder; its input waits in `runs/<id>/input/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunJob {
    pub run_id: RunId,
    pub client: String,
    pub workflow: String,
    /// The workflow file on the machine that queued the job (for messages).
    pub workflow_file: String,
    /// The workflow's YAML text as it was when the job was queued.
    pub workflow_source: String,
    /// Input name → file name inside the run's `input/` folder.
    pub inputs: BTreeMap<String, String>,
}

/// Where the queue lives.
#[derive(Debug, Clone, PartialEq)]
pub enum QueueLocation {
    /// `sqlite:` (or no `--queue`): `<data dir>/queue.db`; `sqlite:/path/queue.db` elsewhere.
    Sqlite(PathBuf),
    /// `redis://host:port/db` (also `rediss://`).
    Redis(String),
}

impl QueueLocation {
    /// Read `--queue`; without it, the embedded queue in the data directory.
    pub fn parse(arg: Option<&str>, home: &Path) -> Result<QueueLocation, QueueError> {
        let Some(arg) = arg.map(str::trim).filter(|a| !a.is_empty()) else {
            return Ok(QueueLocation::Sqlite(DataDir::new(home).queue_db()));
        };
        if arg.starts_with("redis://") || arg.starts_with("rediss://") {
            return Ok(QueueLocation::Redis(arg.to_string()));
        }
        if let Some(path) = arg.strip_prefix("sqlite:") {
            let path = path.trim_start_matches("//");
            return Ok(QueueLocation::Sqlite(if path.is_empty() {
                DataDir::new(home).queue_db()
            } else {
                PathBuf::from(path)
            }));
        }
        Err(QueueError::BadLocation(arg.to_string()))
    }

    /// For log lines and `kobo serve`'s banner; never shows a password.
    pub fn describe(&self) -> String {
        match self {
            QueueLocation::Sqlite(p) => format!("SQLite queue `{}`", p.display()),
            QueueLocation::Redis(url) => format!("Redis queue `{}`", hide_password(url)),
        }
    }
}

/// A server's address without its user and password: `redis://…@host:6379/0`.
pub fn hide_password(url: &str) -> String {
    match url.split_once('@') {
        Some((scheme_and_user, host)) => {
            let scheme = scheme_and_user.split("://").next().unwrap_or("redis");
            format!("{scheme}://…@{host}")
        }
        None => url.to_string(),
    }
}

/// How workers show they are alive, and how soon a dead worker's job goes to another.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueSettings {
    pub heartbeat: Duration,
    /// A worker silent for `heartbeat × missed_heartbeats` is dead; its jobs are handed out again.
    pub missed_heartbeats: usize,
    /// Jobs a worker takes at once; kept equal to its concurrency so that idle workers
    /// on other machines get the rest.
    pub batch_size: usize,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            heartbeat: Duration::from_secs(5),
            missed_heartbeats: 3,
            batch_size: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(
        "`--queue {0}` is not a queue kobo knows; use `redis://host:6379/` for Redis, or leave it out for the embedded queue in the data directory"
    )]
    BadLocation(String),
    #[error("cannot open the job queue `{path}`: {message}")]
    OpenSqlite { path: String, message: String },
    #[error(
        "cannot reach the Redis queue `{url}`: {message}; check that redis-server runs there and the address is right"
    )]
    OpenRedis { url: String, message: String },
    #[error("could not add the job for run `{run}` to the queue: {message}")]
    Push { run: String, message: String },
    #[error("could not look up the job for run `{run}` in the queue: {message}")]
    Lookup { run: String, message: String },
}

/// The job queue, on one of its backends.
#[derive(Debug, Clone)]
pub enum JobQueue {
    Sqlite(SqliteStorage<RunJob>),
    Redis(RedisStorage<RunJob>),
}

impl JobQueue {
    /// Open (and on SQLite create) the queue.
    pub async fn open(
        location: &QueueLocation,
        settings: QueueSettings,
    ) -> Result<JobQueue, QueueError> {
        match location {
            QueueLocation::Sqlite(path) => {
                let err = |message: String| QueueError::OpenSqlite {
                    path: path.display().to_string(),
                    message,
                };
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
                }
                let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
                    .map_err(|e| err(e.to_string()))?
                    .create_if_missing(true)
                    .busy_timeout(Duration::from_secs(10));
                let pool: SqlitePool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(opts)
                    .await
                    .map_err(|e| err(e.to_string()))?;
                SqliteStorage::setup(&pool)
                    .await
                    .map_err(|e| err(e.to_string()))?;
                let config = apalis_sqlite::Config::default()
                    .queue(QUEUE_NAME)
                    .heartbeat_interval(settings.heartbeat)
                    .missed_heartbeats(settings.missed_heartbeats)
                    .batch_size(settings.batch_size.max(1));
                Ok(JobQueue::Sqlite(
                    SqliteStorage::new(&pool).with_config(config),
                ))
            }
            QueueLocation::Redis(url) => {
                let conn = apalis_redis::connect(url.as_str()).await.map_err(|e| {
                    QueueError::OpenRedis {
                        url: location.describe(),
                        message: e.to_string(),
                    }
                })?;
                let config = apalis_redis::Config::default()
                    .queue(QUEUE_NAME)
                    .heartbeat_interval(settings.heartbeat)
                    .missed_heartbeats(settings.missed_heartbeats)
                    .batch_size(settings.batch_size.max(1));
                Ok(JobQueue::Redis(RedisStorage::new(conn).with_config(config)))
            }
        }
    }

    /// Queue a run. The job's id is the run's id.
    pub async fn push(&mut self, job: RunJob) -> Result<(), QueueError> {
        let run = job.run_id.0.clone();
        let push_err = |message: String| QueueError::Push {
            run: run.clone(),
            message,
        };
        let id = task_id(&job.run_id).map_err(push_err)?;
        let task = TaskBuilder::new(job)
            .task_id(id)
            .max_attempts(MAX_ATTEMPTS)
            .build();
        match self {
            JobQueue::Sqlite(s) => s.push_task(task).await.map_err(|e| push_err(e.to_string())),
            JobQueue::Redis(s) => s.push_task(task).await.map_err(|e| push_err(e.to_string())),
        }
    }

    /// Whether the queue holds a job for this run (waiting, running or done).
    pub async fn has_job(&mut self, run: &RunId) -> Result<bool, QueueError> {
        let lookup_err = |message: String| QueueError::Lookup {
            run: run.0.clone(),
            message,
        };
        let id = task_id(run).map_err(lookup_err)?;
        match self {
            JobQueue::Sqlite(s) => s
                .fetch_by_id(&id)
                .await
                .map(|t| t.is_some())
                .map_err(|e| lookup_err(e.to_string())),
            JobQueue::Redis(s) => s
                .fetch_by_id(&id)
                .await
                .map(|t| t.is_some())
                .map_err(|e| lookup_err(e.to_string())),
        }
    }
}

/// The job's id is the run's id, written as apalis writes a ULID (upper case): the
/// Redis backend reads ids back as ULIDs and compares their text.
fn task_id(run: &RunId) -> Result<TaskId, String> {
    RunId::parse(&run.0)
        .map(|r| TaskId::from(r.0.to_uppercase()))
        .ok_or_else(|| format!("`{run}` is not a run id kobo makes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_locations() {
        let home = Path::new("/data");
        assert_eq!(
            QueueLocation::parse(None, home).unwrap(),
            QueueLocation::Sqlite("/data/queue.db".into())
        );
        assert_eq!(
            QueueLocation::parse(Some("sqlite:"), home).unwrap(),
            QueueLocation::Sqlite("/data/queue.db".into())
        );
        assert_eq!(
            QueueLocation::parse(Some("sqlite:/q/x.db"), home).unwrap(),
            QueueLocation::Sqlite("/q/x.db".into())
        );
        assert_eq!(
            QueueLocation::parse(Some("redis://127.0.0.1:7000/"), home).unwrap(),
            QueueLocation::Redis("redis://127.0.0.1:7000/".into())
        );
        let e = QueueLocation::parse(Some("amqp://x"), home)
            .unwrap_err()
            .to_string();
        assert!(e.contains("redis://host:6379/"), "{e}");
        let shown = QueueLocation::Redis("redis://:secret@10.0.0.5:6379/".into()).describe();
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn run_ids_are_job_ids() {
        let id = RunId::generate();
        let t = task_id(&id).unwrap();
        assert_eq!(t.to_string().to_lowercase(), id.0);
    }
}
