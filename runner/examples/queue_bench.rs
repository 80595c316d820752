//! Queue overhead per job: kobo's no-op run through the queue next to a raw apalis no-op
//! job, on SQLite and (with `REDIS_URL`) on Redis, with 1, 2 and 4 workers.
//!
//! `scripts/queue-bench.sh` starts a redis-server on a free port and runs this; the
//! figures go to `docs/benchmarks.md`. Not a test: it prints a Markdown table.

use apalis::layers::WorkerBuilderExt;
use apalis::prelude::{BoxDynError, Data, TaskBuilder, TaskSink, WorkerBuilder};
use runner::queue::{JobQueue, QueueLocation, QueueSettings};
use runner::run_folder::file_sha256;
use runner::submit::{Take, submit};
use runner::{Records, RunStatus, WorkerSettings, Workflow};
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

/// kobo: `n` runs of a no-op workflow submitted (folder, input, record, job), then run by a worker.
async fn kobo(location: &QueueLocation, home: &std::path::Path, n: usize, c: usize) -> Duration {
    let records = Records::open(&home.join("records.db")).await.unwrap();
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
    ws.name = format!("bench-{}-{c}", std::process::id());
    runner::run_worker(queue, records, home, ws, async move {
        loop {
            let ended = check.with_status(RunStatus::Succeeded).await.unwrap().len();
            if ended >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("JOBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let mut backends = vec![("SQLite", None)];
    if let Ok(url) = std::env::var("REDIS_URL") {
        backends.push(("Redis", Some(url)));
    }
    println!(
        "| backend | workers | raw apalis jobs/s | raw apalis ms/job | kobo runs/s | kobo ms/run | kobo overhead ms/run |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, url) in backends {
        for c in [1usize, 2, 4] {
            let home = tempfile::tempdir().unwrap();
            let location = match &url {
                Some(u) => QueueLocation::Redis(u.clone()),
                None => QueueLocation::Sqlite(home.path().join("queue.db")),
            };
            let raw_queue = format!("bench-raw-{}-{c}", std::process::id());
            let raw_t = raw(&location, &raw_queue, n, c).await;
            let kobo_t = kobo(&location, home.path(), n, c).await;
            let per = |t: Duration| t.as_secs_f64() * 1000.0 / n as f64;
            println!(
                "| {name} | {c} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2} |",
                n as f64 / raw_t.as_secs_f64(),
                per(raw_t),
                n as f64 / kobo_t.as_secs_f64(),
                per(kobo_t),
                per(kobo_t) - per(raw_t)
            );
        }
    }
}
