//! Queue overhead per job: kobo's no-op run through the queue next to a raw apalis no-op
//! job, with 1, 2 and 4 workers, for
//!
//! - SQLite queue + SQLite records (always);
//! - Redis queue + SQLite records (with `REDIS_URL`);
//! - Redis queue + PostgreSQL records (with `REDIS_URL` and `BENCH_POSTGRES`, a server URL
//!   without a schema, e.g. `postgres://postgres@127.0.0.1:5432/test`): the scaled-out setup.
//!   The bench makes a schema of its own (`kobo_bench_<pid>_<id>`), puts the records in it
//!   with `?options[search_path]=…`, and drops it at the end, also after a panic or Ctrl-C.
//!
//! `scripts/queue-bench.sh` starts a redis-server on a free port and runs this; the
//! figures go to `docs/benchmarks.md`. Not a test: it prints a Markdown table.

use apalis::layers::WorkerBuilderExt;
use apalis::prelude::{BoxDynError, Data, TaskBuilder, TaskSink, WorkerBuilder};
use runner::queue::{JobQueue, QueueLocation, QueueSettings};
use runner::run_folder::file_sha256;
use runner::submit::{Take, submit};
#[path = "../tests/support/pg.rs"]
mod pg;

use pg::PgSchema;
use runner::record::RecordsLocation;
use runner::{Records, RunStatus, WorkerSettings, Workflow};
use sqlx::Row;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const NOOP: &str = "name: noop\nclient: bench\nauthor: bench\ninputs:\n  data:\n    columns: [n]\nsteps:\n  - log: ok\n";

async fn noop(_: u32, done: Data<Arc<AtomicUsize>>) -> Result<(), BoxDynError> {
    done.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

async fn wait_until(mut check: impl FnMut() -> bool) {
    while !check() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Raw apalis: push `n` no-op jobs, then time a worker with `c` concurrency taking them all.
async fn raw(location: &QueueLocation, queue_name: &str, n: usize, c: usize) -> Duration {
    let done = Arc::new(AtomicUsize::new(0));
    let settings = QueueSettings {
        heartbeat: Duration::from_secs(5),
        missed_heartbeats: 3,
        batch_size: c,
    };
    let started = Instant::now();
    macro_rules! go {
        ($storage:expr) => {{
            let mut s = $storage;
            for i in 0..n {
                s.push_task(TaskBuilder::new(i as u32).max_attempts(1).build())
                    .await
                    .unwrap();
            }
            let d = done.clone();
            WorkerBuilder::new(format!("raw-{queue_name}"))
                .backend(s)
                .data(done.clone())
                .concurrency(c)
                .build(noop)
                .run_until(async move {
                    wait_until(|| d.load(Ordering::SeqCst) >= n).await;
                    Ok::<(), std::io::Error>(())
                })
                .await
                .unwrap();
        }};
    }
    match location {
        QueueLocation::Sqlite(path) => {
            let pool = apalis_sqlite::SqlitePool::connect(&format!(
                "sqlite://{}?mode=rwc",
                path.display()
            ))
            .await
            .unwrap();
            apalis_sqlite::SqliteStorage::setup(&pool).await.unwrap();
            let cfg = apalis_sqlite::Config::default()
                .queue(queue_name)
                .batch_size(settings.batch_size);
            go!(apalis_sqlite::SqliteStorage::<u32>::new(&pool).with_config(cfg))
        }
        QueueLocation::Redis(url) => {
            let conn = apalis_redis::connect(url.as_str()).await.unwrap();
            let cfg = apalis_redis::Config::default()
                .queue(queue_name)
                .batch_size(settings.batch_size);
            go!(apalis_redis::RedisStorage::<u32>::new(conn).with_config(cfg))
        }
    }
    started.elapsed()
}

/// What one kobo measurement gave.
struct KoboTimes {
    /// Submitting `n` runs until the last one is recorded as succeeded.
    total: Duration,
    /// PostgreSQL records only: sending the `n` finished run folders into the records again
    /// (`run_files::send`, the copy a worker makes when a run ends), and what they hold.
    resend: Option<(Duration, i64, i64)>,
}

/// kobo: `n` runs of a no-op workflow submitted (folder, input, record, job), then run by a worker.
async fn kobo(
    location: &QueueLocation,
    records_at: &RecordsLocation,
    home: &std::path::Path,
    n: usize,
    c: usize,
) -> KoboTimes {
    let records = Records::connect(records_at).await.unwrap();
    // Records shared by several rows (one PostgreSQL schema per bench run): count from here.
    let before = records
        .with_status(RunStatus::Succeeded)
        .await
        .unwrap()
        .len();
    let settings = QueueSettings {
        heartbeat: Duration::from_secs(5),
        missed_heartbeats: 3,
        batch_size: c,
    };
    let mut queue = JobQueue::open(location, settings).await.unwrap();
    let w = Workflow::parse(std::path::Path::new("noop.yaml"), NOOP).unwrap();
    let started = Instant::now();
    for i in 0..n {
        let f = home.join(format!("in-{i}.csv"));
        std::fs::write(&f, format!("n\n{i}\n")).unwrap();
        let (hash, _) = file_sha256(&f).unwrap();
        submit(home, &records, &mut queue, &w, &f, &hash, Take::Move, None)
            .await
            .unwrap();
    }
    let check = records.clone();
    let mut ws = WorkerSettings::new(c);
    // A worker name is registered in Redis until its heartbeat runs out: one per row.
    ws.name = format!("bench-{}-{:?}-{c}", std::process::id(), records.backend());
    runner::run_worker(queue, records.clone(), home, ws, async move {
        loop {
            let ended = check.with_status(RunStatus::Succeeded).await.unwrap().len();
            if ended >= before + n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let total = started.elapsed();
    let resend = match records_at {
        RecordsLocation::Sqlite(_) => None,
        RecordsLocation::Postgres(_) => {
            let ended = records.with_status(RunStatus::Succeeded).await.unwrap();
            let ours = &ended[ended.len().saturating_sub(n)..];
            let t = Instant::now();
            for r in ours {
                runner::run_files::send(&records, home, &r.id, &r.folder)
                    .await
                    .unwrap();
            }
            let t = t.elapsed() / ours.len().max(1) as u32;
            let ids: Vec<String> = ours.iter().map(|r| r.id.0.clone()).collect();
            let mut files = 0i64;
            let mut bytes = 0i64;
            for id in &ids {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS files, CAST(COALESCE(SUM(length(content)), 0) AS BIGINT) AS bytes
                     FROM run_files WHERE run_id = $1",
                )
                .bind(id)
                .fetch_one(records.pool())
                .await
                .unwrap();
                files += row.get::<i64, _>("files");
                bytes += row.get::<i64, _>("bytes");
            }
            Some((t, files, bytes))
        }
    };
    records.pool().close().await;
    KoboTimes { total, resend }
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("JOBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let redis = std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty());
    let postgres = std::env::var("BENCH_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty());
    let schema = match (&redis, &postgres) {
        (Some(_), Some(server)) => Some(PgSchema::create(server).await),
        _ => None,
    };
    // Ctrl-C ends the bench but still drops the schema (`schema` goes out of scope here).
    tokio::select! {
        _ = bench(n, redis, schema.as_ref().map(PgSchema::url)) => {}
        _ = tokio::signal::ctrl_c() => eprintln!("interrupted"),
    }
}

async fn bench(n: usize, redis: Option<String>, postgres: Option<String>) {
    // (queue, records, Redis URL, PostgreSQL records URL)
    let mut setups = vec![("SQLite", "SQLite", None, None)];
    if let Some(url) = &redis {
        setups.push(("Redis", "SQLite", Some(url.clone()), None));
        if let Some(pg) = &postgres {
            setups.push(("Redis", "PostgreSQL", Some(url.clone()), Some(pg.clone())));
        }
    }
    println!(
        "| queue | records | workers | raw apalis jobs/s | raw apalis ms/job | kobo runs/s | kobo ms/run | kobo overhead ms/run |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut notes = Vec::new();
    for (queue_name, records_name, redis_url, pg_url) in setups {
        for c in [1usize, 2, 4] {
            let home = tempfile::tempdir().unwrap();
            let location = match &redis_url {
                Some(u) => QueueLocation::Redis(u.clone()),
                None => QueueLocation::Sqlite(home.path().join("queue.db")),
            };
            let records_at = match &pg_url {
                Some(u) => RecordsLocation::Postgres(u.clone()),
                None => RecordsLocation::Sqlite(home.path().join("records.db")),
            };
            let raw_queue = format!("bench-raw-{}-{records_name}-{c}", std::process::id());
            let raw_t = raw(&location, &raw_queue, n, c).await;
            let kobo_t = kobo(&location, &records_at, home.path(), n, c).await;
            let per = |t: Duration| t.as_secs_f64() * 1000.0 / n as f64;
            println!(
                "| {queue_name} | {records_name} | {c} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2} |",
                n as f64 / raw_t.as_secs_f64(),
                per(raw_t),
                n as f64 / kobo_t.total.as_secs_f64(),
                per(kobo_t.total),
                per(kobo_t.total) - per(raw_t)
            );
            if let Some((t, files, bytes)) = kobo_t.resend {
                notes.push(format!(
                    "- {queue_name} + {records_name}, workers {c}: run_files::send of one finished run folder \
                     ({:.1} files, {:.0} bytes per run) takes {:.2} ms",
                    files as f64 / n as f64,
                    bytes as f64 / n as f64,
                    t.as_secs_f64() * 1000.0
                ));
            }
        }
    }
    if !notes.is_empty() {
        println!();
    }
    for note in notes {
        println!("{note}");
    }
}
