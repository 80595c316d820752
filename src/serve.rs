//! `kobo serve`, `kobo worker`, `kobo cancel`, `kobo rerun`: the queue from the command line.

use crate::{QueueArgs, open_records};
use anyhow::{Context, Result};
use runner::catalogue::Catalogue;
use runner::record::{CancelRequest, RecordsLocation};
use runner::submit::{StallWatch, adopt_unrecorded, requeue_missing, requeue_missing_older_than};
use runner::{
    CancelToken, Inbox, InboxSettings, JobQueue, QueueLocation, QueueSettings, Records,
    WorkerSettings,
};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// How often `kobo serve` looks for queued runs whose job is missing from the queue.
const REQUEUE_EVERY: Duration = Duration::from_secs(5);
/// A queued run younger than this is being pushed right now: left alone.
const REQUEUE_AFTER: Duration = Duration::from_secs(10);
/// A running run's heartbeat must stand still at least this long before its run is taken
/// to have lost its worker (more if `--heartbeat-secs` is long).
const STALLED_AT_LEAST: Duration = Duration::from_secs(20);
/// How long runs in flight may go on after Ctrl-C or SIGTERM before they are dropped.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// Stops on Ctrl-C or SIGTERM. Runs in flight are left to the queue, which hands them to
/// a worker again (this one, restarted, or another).
fn shutdown_token() -> CancelToken {
    let stop = CancelToken::new();
    tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
            tracing::info!("stopping; runs in flight go back to the queue");
            stop.cancel();
        }
    });
    stop
}

async fn open_queue(
    home: &Path,
    args: &QueueArgs,
    workers: usize,
) -> Result<(QueueLocation, JobQueue)> {
    let location = QueueLocation::parse(args.queue.as_deref(), home)?;
    let settings = QueueSettings {
        heartbeat: Duration::from_secs(args.heartbeat_secs.max(1)),
        missed_heartbeats: 3,
        batch_size: workers.max(1),
    };
    let queue = JobQueue::open(&location, settings).await?;
    Ok((location, queue))
}

fn worker_settings(home: &Path, args: &QueueArgs, workers: usize) -> Result<WorkerSettings> {
    let mut s = WorkerSettings::new(workers);
    s.run_timeout = args.run_timeout.map(Duration::from_secs);
    s.beat_every = Duration::from_secs(args.heartbeat_secs.max(1));
    s.warm_browser = !args.no_warm_browser;
    if !args.in_process {
        // Each run in a process of its own: one past its memory limit stops alone.
        s.child = Some(runner::child_run::ChildRuns {
            program: std::env::current_exe().context("finding the kobo program")?,
            records: match crate::records_location(home)? {
                RecordsLocation::Sqlite(p) => format!("sqlite:{}", p.display()),
                RecordsLocation::Postgres(url) => url,
            },
        });
    }
    Ok(s)
}

fn spawn_worker(
    home: &Path,
    queue: JobQueue,
    records: Records,
    settings: WorkerSettings,
    stop: &CancelToken,
) -> tokio::task::JoinHandle<()> {
    let home = home.to_path_buf();
    let stop = stop.clone();
    tokio::spawn(async move {
        // A worker stops when its queue fails (Redis restarted, network gone): start it
        // again after a pause, so one outage does not leave the runs waiting for ever.
        let work = async {
            while !stop.is_cancelled() {
                let until = {
                    let stop = stop.clone();
                    async move { stop.cancelled().await }
                };
                match runner::run_worker(
                    queue.clone(),
                    records.clone(),
                    &home,
                    settings.clone(),
                    until,
                )
                .await
                {
                    Ok(()) => break,
                    Err(e) => tracing::error!("{e}; starting it again in 5 s"),
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
        };
        tokio::pin!(work);
        tokio::select! {
            _ = &mut work => return,
            _ = stop.cancelled() => {}
        }
        // The queue would wait for runs in flight to end, which may take an hour: give them
        // a moment, then drop them. Dropping a run closes its browser (no Chromium or
        // chromedriver is left), and the queue hands the run out again later.
        if tokio::time::timeout(STOP_GRACE, work).await.is_err() {
            tracing::warn!(
                "runs still in flight after {} s were stopped; they go back to the queue",
                STOP_GRACE.as_secs()
            );
        }
    })
}

/// Where the dashboard `kobo serve` starts listens, and how it sets its cookies.
#[derive(Debug, Clone, Copy)]
pub struct DashboardArgs {
    pub listen: std::net::SocketAddr,
    /// Mark cookies `Secure` (the dashboard is reached through an https proxy).
    pub secure_cookies: bool,
    /// The proxy's `X-Forwarded-For` tells the browser's address (for the login limit).
    pub trust_forwarded_for: bool,
}

pub async fn serve(
    home: &Path,
    workflows: &Path,
    args: &QueueArgs,
    workers: usize,
    max_file_mb: u64,
    settle_ms: u64,
    dashboard: Option<DashboardArgs>,
) -> Result<ExitCode> {
    let records = open_records(home).await?;
    let (location, queue) = open_queue(home, args, workers).await?;
    if workers > 0
        && let Some(warning) = runner::browser::japanese_font_warning()
    {
        eprintln!("warning: {warning}");
    }
    let catalogue = Catalogue::load(workflows);
    // One inbox folder per workflow, so clients (and the dashboard's upload) see where to put files.
    for client in catalogue.clients() {
        for name in catalogue.names_for(client) {
            let dir = home.join("inbox").join(client).join(name);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating `{}`", dir.display()))?;
        }
    }
    let mut inbox_settings = InboxSettings::new(home, workflows);
    inbox_settings.max_bytes = max_file_mb.saturating_mul(1024 * 1024);
    inbox_settings.settle = Duration::from_millis(settle_ms);
    let inbox_dir = inbox_settings.dir();
    eprintln!(
        "kobo serve: {} workflow(s) from `{}`; drop files into `{}/<client>/<workflow>/`",
        catalogue.len(),
        workflows.display(),
        inbox_dir.display()
    );
    eprintln!(
        "            {}; {} run(s) at a time here; {}",
        location.describe(),
        workers,
        crate::records_location(home)?.describe()
    );

    // Files taken into a run folder but never recorded, and runs whose record was written
    // but whose job never reached the queue (kobo stopped in between), are queued again
    // before new files are taken.
    runner::pending_delivery::recover(home, &records).await?;
    let adopted = adopt_unrecorded(home, &records, workflows, Duration::ZERO).await?;
    if !adopted.is_empty() {
        tracing::warn!(
            "recorded {} run(s) whose file had been taken but not recorded",
            adopted.len()
        );
    }
    let requeued = requeue_missing(home, &records, &mut queue.clone()).await?;
    if !requeued.is_empty() {
        tracing::warn!(
            "queued {} run(s) again whose job had not reached the queue",
            requeued.len()
        );
    }

    let stop = shutdown_token();
    let mut tasks = Vec::new();
    // While it runs, too: a push that failed because the queue was down (Redis
    // restarting), or a job a Redis without persistence forgot, is pushed again.
    tasks.push(tokio::spawn({
        // A worker beats every `--heartbeat-secs`; four missed beats (and the job gone from
        // the queue) and its run is taken to have lost its worker.
        let stalled_after =
            (4 * Duration::from_secs(args.heartbeat_secs.max(1))).max(STALLED_AT_LEAST);
        let mut watch = StallWatch::new(stalled_after);
        let (home, workflows, records, mut queue, stop) = (
            home.to_path_buf(),
            workflows.to_path_buf(),
            records.clone(),
            queue.clone(),
            stop.clone(),
        );
        async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(REQUEUE_EVERY) => {}
                }
                match adopt_unrecorded(&home, &records, &workflows, REQUEUE_AFTER).await {
                    Ok(ids) if !ids.is_empty() => tracing::warn!(
                        "recorded {} run(s) whose file had been taken but not recorded",
                        ids.len()
                    ),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!("cannot check the run folders for unrecorded files yet: {e}")
                    }
                }
                match requeue_missing_older_than(
                    &home,
                    &records,
                    &mut queue,
                    REQUEUE_AFTER,
                    Some(&mut watch),
                )
                .await
                {
                    Ok(ids) if !ids.is_empty() => tracing::warn!(
                        "queued {} run(s) again whose job was missing from the queue",
                        ids.len()
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("cannot check the queue for missing jobs yet: {e}"),
                }
            }
        }
    }));
    tasks.push(tokio::spawn({
        let (records, queue, stop) = (records.clone(), queue.clone(), stop.clone());
        async move {
            runner::inbox::watch(Inbox::new(inbox_settings), records, queue, async move {
                stop.cancelled().await
            })
            .await
        }
    }));
    if workers > 0 {
        tasks.push(spawn_worker(
            home,
            queue.clone(),
            records.clone(),
            worker_settings(home, args, workers)?,
            &stop,
        ));
    }
    if let Some(DashboardArgs {
        listen,
        secure_cookies,
        trust_forwarded_for,
    }) = dashboard
    {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen} for the dashboard"))?;
        eprintln!("            dashboard on http://{}", listener.local_addr()?);
        dashboard::warn_about_proxy(secure_cookies, trust_forwarded_for);
        let state = dashboard::AppState {
            home: home.to_path_buf(),
            records: records.clone(),
            secure_cookies,
            trust_forwarded_for,
            max_upload_bytes: max_file_mb.saturating_mul(1024 * 1024),
            reruns: Some(dashboard::Reruns {
                queue: location.clone(),
                workflows: workflows.to_path_buf(),
            }),
        };
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) =
                dashboard::serve(listener, state, async move { stop.cancelled().await }).await
            {
                tracing::error!("the dashboard stopped: {e}");
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn worker(home: &Path, args: &QueueArgs, workers: usize) -> Result<ExitCode> {
    let records = open_records(home).await?;
    let (location, queue) = open_queue(home, args, workers).await?;
    let settings = worker_settings(home, args, workers)?;
    eprintln!(
        "kobo worker `{}`: {}; {} run(s) at a time; data in `{}`",
        settings.name,
        location.describe(),
        workers,
        home.display()
    );
    let stop = shutdown_token();
    let _ = spawn_worker(home, queue, records, settings, &stop).await;
    Ok(ExitCode::SUCCESS)
}

pub async fn cancel(home: &Path, run_id: &str) -> Result<ExitCode> {
    let records = open_records(home).await?;
    let run = records.find(run_id).await?;
    match records.request_cancel(&run.id).await? {
        CancelRequest::CancelledQueued => println!(
            "run {} was waiting in the queue and is now cancelled; it will not start",
            run.id
        ),
        CancelRequest::Requested => println!(
            "run {} is running; its worker stops it at the next step and records it as cancelled (`kobo show {}`)",
            run.id, run.id
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn rerun(
    home: &Path,
    run_id: &str,
    workflows: &Path,
    queue: Option<&str>,
    rows: runner::progress::RerunRows,
) -> Result<ExitCode> {
    let records = open_records(home).await?;
    let old = records.find(run_id).await?;
    let location = QueueLocation::parse(queue, home)?;
    let mut queue = JobQueue::open(&location, QueueSettings::default()).await?;
    let again = runner::submit::rerun(home, &records, &mut queue, workflows, &old, rows).await?;
    let s = &again.submitted;
    println!(
        "queued run {} (a rerun of {}) on `{}` with {}",
        s.id,
        old.id,
        old.input_name.as_deref().unwrap_or("-"),
        again.workflow
    );
    println!(
        "`kobo serve` or a `kobo worker` on {} runs it; `kobo show {}` shows how it went",
        location.describe(),
        s.id
    );
    println!("{}", rerun_rows_note(&old, rows));
    println!(
        "`kobo serve` or a `kobo worker` on {} runs it; `kobo show {}` shows how it went",
        location.describe(),
        s.id
    );
    Ok(ExitCode::SUCCESS)
}

/// What a rerun will do with the earlier run's rows, in words.
fn rerun_rows_note(old: &runner::record::RunRecord, rows: runner::progress::RerunRows) -> String {
    use runner::progress::RerunRows;
    let c = old.rows;
    match rows {
        RerunRows::All => format!(
            "every row runs again, also the {} rows run {} already did (rows already entered into a portal are entered twice)",
            c.ok + c.skipped,
            old.id
        ),
        RerunRows::Failed => format!(
            "runs again: the {} failed rows and any rows not reached; kept from run {}: {} ok, {} skipped, {} in doubt (`--rows in-doubt` runs those once you checked the portal, `--rows all` runs every row)",
            c.failed, old.id, c.ok, c.skipped, c.in_doubt
        ),
        RerunRows::InDoubt => format!(
            "runs again: the {} rows in doubt and any rows not reached; kept from run {}: {} ok, {} skipped, {} failed",
            c.in_doubt, old.id, c.ok, c.skipped, c.failed
        ),
    }
}
