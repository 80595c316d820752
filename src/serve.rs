//! `kobo serve`, `kobo worker`, `kobo cancel`, `kobo rerun`: the queue from the command line.
//!
//! The service itself (recovery, inbox, requeue loop, workers) is [`runner::service`]; this
//! module reads the arguments, says what runs where, and stops the service on Ctrl-C.

use crate::{Home, QueueArgs};
use anyhow::{Context, Result};
use runner::catalogue::Catalogue;
use runner::record::CancelRequest;
use runner::service::{self, Intake};
use runner::{InboxSettings, JobQueue, QueueLocation, QueueSettings, WorkerSettings};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Stop the service on Ctrl-C or SIGTERM. Runs in flight are left to the queue, which
/// hands them to a worker again (this one, restarted, or another).
fn stop_on_signal(handle: &service::Handle) {
    let handle = handle.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        tracing::info!("stopping; runs in flight go back to the queue");
        handle.stop();
    });
}

async fn open_queue(
    home: &Home,
    args: &QueueArgs,
    workers: usize,
) -> Result<(QueueLocation, JobQueue)> {
    let location = QueueLocation::parse(args.queue.as_deref(), &home.dir)?;
    let settings = QueueSettings {
        heartbeat: heartbeat(args),
        missed_heartbeats: 3,
        batch_size: workers.max(1),
    };
    let queue = JobQueue::open(&location, settings).await?;
    Ok((location, queue))
}

fn heartbeat(args: &QueueArgs) -> Duration {
    Duration::from_secs(args.heartbeat_secs.max(1))
}

fn worker_settings(home: &Home, args: &QueueArgs, workers: usize) -> Result<WorkerSettings> {
    let mut s = WorkerSettings::new(workers);
    s.run_timeout = args.run_timeout.map(Duration::from_secs);
    s.beat_every = heartbeat(args);
    s.warm_browser = !args.no_warm_browser;
    if !args.in_process {
        // Each run in a process of its own: one past its memory limit stops alone.
        s.child = Some(runner::child_run::ChildRuns {
            program: std::env::current_exe().context("finding the kobo program")?,
            records: home.records()?.as_arg(),
        });
    }
    Ok(s)
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
    home: &Home,
    workflows: &Path,
    args: &QueueArgs,
    workers: usize,
    max_file_mb: u64,
    settle_ms: u64,
    dashboard: Option<DashboardArgs>,
) -> Result<ExitCode> {
    let records = home.open_records().await?;
    let (location, queue) = open_queue(home, args, workers).await?;
    if workers > 0
        && let Some(warning) = runner::browser::japanese_font_warning()
    {
        eprintln!("warning: {warning}");
    }
    let data = home.data();
    let catalogue = Catalogue::load(workflows);
    // One inbox folder per workflow, so clients (and the dashboard's upload) see where to put files.
    for client in catalogue.clients() {
        for name in catalogue.names_for(client) {
            let dir = data.workflow_inbox(client, name);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating `{}`", dir.display()))?;
        }
    }
    let mut inbox = InboxSettings::new(&home.dir, workflows);
    inbox.max_bytes = max_file_mb.saturating_mul(1024 * 1024);
    inbox.settle = Duration::from_millis(settle_ms);
    eprintln!(
        "kobo serve: {} workflow(s) from `{}`; drop files into `{}/<client>/<workflow>/`",
        catalogue.len(),
        workflows.display(),
        inbox.dir().display()
    );
    eprintln!(
        "            {}; {} run(s) at a time here; {}",
        location.describe(),
        workers,
        home.records()?.describe()
    );
    // The dashboard listens before the service starts, so a port in use stops kobo at once.
    let listener = match dashboard {
        Some(d) => Some(
            tokio::net::TcpListener::bind(d.listen)
                .await
                .with_context(|| format!("listening on {} for the dashboard", d.listen))?,
        ),
        None => None,
    };
    let handle = service::start(service::Config {
        data,
        records: records.clone(),
        queue,
        intake: Some(Intake {
            inbox,
            heartbeat: heartbeat(args),
        }),
        worker: (workers > 0)
            .then(|| worker_settings(home, args, workers))
            .transpose()?,
    })
    .await?;
    stop_on_signal(&handle);
    if let (Some(d), Some(listener)) = (dashboard, listener) {
        eprintln!("            dashboard on http://{}", listener.local_addr()?);
        dashboard::warn_about_proxy(d.secure_cookies, d.trust_forwarded_for);
        let state = dashboard::AppState {
            home: home.dir.clone(),
            records,
            secure_cookies: d.secure_cookies,
            trust_forwarded_for: d.trust_forwarded_for,
            max_upload_bytes: max_file_mb.saturating_mul(1024 * 1024),
            reruns: Some(dashboard::Reruns {
                queue: location,
                workflows: workflows.to_path_buf(),
            }),
        };
        handle.spawn(|stop| async move {
            if let Err(e) = dashboard::serve(listener, state, stop.cancelled_owned()).await {
                tracing::error!("the dashboard stopped: {e}");
            }
        });
    }
    handle.wait().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn worker(home: &Home, args: &QueueArgs, workers: usize) -> Result<ExitCode> {
    let records = home.open_records().await?;
    let (location, queue) = open_queue(home, args, workers).await?;
    let settings = worker_settings(home, args, workers)?;
    eprintln!(
        "kobo worker `{}`: {}; {} run(s) at a time; data in `{}`",
        settings.name,
        location.describe(),
        workers,
        home.dir.display()
    );
    let handle = service::start(service::Config {
        data: home.data(),
        records,
        queue,
        intake: None,
        worker: Some(settings),
    })
    .await?;
    stop_on_signal(&handle);
    handle.wait().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn cancel(home: &Home, run_id: &str) -> Result<ExitCode> {
    let records = home.open_records().await?;
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
    home: &Home,
    run_id: &str,
    workflows: &Path,
    queue: Option<&str>,
    rows: runner::progress::RerunRows,
) -> Result<ExitCode> {
    let records = home.open_records().await?;
    let old = records.find(run_id).await?;
    let location = QueueLocation::parse(queue, &home.dir)?;
    let mut queue = JobQueue::open(&location, QueueSettings::default()).await?;
    let again =
        runner::submit::rerun(&home.dir, &records, &mut queue, workflows, &old, rows).await?;
    let s = &again.submitted;
    println!(
        "queued run {} (a rerun of {}) on `{}` with {}",
        s.id,
        old.id,
        old.input_name.as_deref().unwrap_or("-"),
        again.workflow
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
