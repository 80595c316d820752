//! `Worker`: takes [`RunJob`]s from the [`JobQueue`] and runs them with [`execute`],
//! several at a time.
//!
//! Every job ends as exactly one recorded run. A run that fails because of the workflow
//! or the data is recorded as failed and the job is done: no retry. Temporary problems
//! inside a run (browser crash, portal 5xx, network timeout) are retried by `execute`
//! with the workflow's exponential backoff (`retry:`). Only when kobo itself cannot work
//! (the records database or the run folder cannot be reached) does the job go back to
//! apalis, which tries again with exponential backoff, at most [`MAX_ATTEMPTS`] times.
//!
//! There is deliberately no apalis timeout layer: it would drop a run without recording
//! it. The per-run limit is enforced inside `execute`, which records the run as failed.

use crate::browser::{BrowserAhead, BrowserConfig, BrowserOffer, Lent};
use crate::data_dir::DataDir;
use crate::execute::{ExecuteError, RunOptions, execute};
use crate::queue::{JobQueue, MAX_ATTEMPTS, RunJob};
use crate::record::{Records, RunEnd, Start};
use crate::run::{RowCounts, RunStatus};
use crate::secrets::Secrets;
use crate::workflow::Workflow;
use apalis::layers::WorkerBuilderExt;
use apalis::layers::retry::backoff::{ExponentialBackoffMaker, MakeBackoff};
use apalis::layers::retry::{HasherRng, RetryPolicy};
use apalis::prelude::{AbortError, BoxDynError, Data, WorkerBuilder};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How a worker process runs jobs.
#[derive(Clone)]
pub struct WorkerSettings {
    /// The worker's name in run records and queue: `<host>-<pid>` by default.
    pub name: String,
    /// Runs at the same time in this process.
    pub concurrency: usize,
    /// A limit for every run, below the workflow's own `timeout_minutes`.
    pub run_timeout: Option<Duration>,
    /// How often a running run looks for a cancel request.
    pub cancel_poll: Duration,
    /// How often a running run's record is touched to show its worker is alive.
    pub beat_every: Duration,
    /// Run each job in a process of its own (`kobo run-job`), so a run past its memory
    /// limit, or one that crashes, stops alone. None: in this process.
    pub child: Option<crate::child_run::ChildRuns>,
    /// Told each step's name as it starts (a `kobo run-job` process reports them).
    pub step_trace: Option<crate::engine::StepTrace>,
    /// Keep a browser started ahead of the next run ([`BrowserAhead`]; `kobo worker
    /// --no-warm-browser` turns it off). The first one starts after the first run that
    /// needs a browser, so a worker that only runs spreadsheet workflows starts none.
    pub warm_browser: bool,
}

impl WorkerSettings {
    pub fn new(concurrency: usize) -> WorkerSettings {
        WorkerSettings {
            name: default_worker_name(),
            concurrency: concurrency.max(1),
            run_timeout: None,
            cancel_poll: Duration::from_millis(500),
            beat_every: Duration::from_secs(5),
            child: None,
            step_trace: None,
            warm_browser: true,
        }
    }
}

/// `<host>-<pid>`: unique per process, so a restarted kobo never waits for its dead
/// predecessor's heartbeat to expire before it may register.
pub fn default_worker_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "kobo".into());
    format!("{host}-{}", std::process::id())
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("the worker `{name}` stopped: {message}")]
    Stopped { name: String, message: String },
}

impl std::fmt::Debug for WorkerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSettings")
            .field("name", &self.name)
            .field("concurrency", &self.concurrency)
            .field("run_timeout", &self.run_timeout)
            .field("child", &self.child)
            .field("warm_browser", &self.warm_browser)
            .finish_non_exhaustive()
    }
}

/// What every job of this worker shares.
#[derive(Debug)]
struct Shared {
    home: PathBuf,
    records: Records,
    settings: WorkerSettings,
    /// The browser started ahead of the next run (`warm_browser`).
    ahead: Option<BrowserAhead>,
}

/// Run jobs from `queue` until `shutdown` completes. Runs in flight when it does are
/// left to the queue: another worker (or this one restarted) takes them again.
pub async fn run_worker(
    queue: JobQueue,
    records: Records,
    home: &Path,
    settings: WorkerSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    let name = settings.name.clone();
    let concurrency = settings.concurrency;
    let ahead = settings
        .warm_browser
        .then(|| BrowserAhead::new(BrowserConfig::default()));
    // Also when this future is dropped halfway (the service stopping): no browser is left.
    let _stop_browser = ahead.as_ref().map(BrowserAhead::stop_guard);
    let shared = Arc::new(Shared {
        home: home.to_path_buf(),
        records,
        settings,
        ahead: ahead.clone(),
    });
    tracing::info!(worker = %name, concurrency, warm_browser = ahead.is_some(), "worker started");
    // What a worker killed with SIGKILL left (its browser started ahead, its runs' browsers)
    // goes now, not only at the next browser start.
    let _ = tokio::task::spawn_blocking(crate::browser::sweep_orphans).await;
    let shutdown = {
        let ahead = ahead.clone();
        async move {
            shutdown.await;
            if let Some(ahead) = &ahead {
                ahead.stopping();
            }
            Ok::<(), std::io::Error>(())
        }
    };
    let stopped = |e: &dyn std::fmt::Display| WorkerError::Stopped {
        name: name.clone(),
        message: e.to_string(),
    };
    // Layer order as apalis expects it: concurrency, then retry (another order logs warnings
    // and breaks the backoff).
    let result = match queue {
        JobQueue::Sqlite(storage) => {
            WorkerBuilder::new(name.as_str())
                .backend(storage)
                .data(shared)
                .concurrency(concurrency)
                .retry(RetryPolicy::retries(MAX_ATTEMPTS - 1).with_backoff(backoff()))
                .build(handle_job)
                .run_until(shutdown)
                .await
        }
        JobQueue::Redis(storage) => {
            WorkerBuilder::new(name.as_str())
                .backend(storage)
                .data(shared)
                .concurrency(concurrency)
                .retry(RetryPolicy::retries(MAX_ATTEMPTS - 1).with_backoff(backoff()))
                .build(handle_job)
                .run_until(shutdown)
                .await
        }
    };
    if let Some(ahead) = &ahead {
        ahead.stop().await;
    }
    result.map_err(|e| stopped(&e))
}

/// 1 s, 2 s, 4 s … up to a minute between tries when kobo itself cannot work.
fn backoff() -> apalis::layers::retry::backoff::ExponentialBackoff {
    ExponentialBackoffMaker::new(
        Duration::from_secs(1),
        Duration::from_secs(60),
        0.2,
        HasherRng::default(),
    )
    .expect("valid backoff bounds")
    .make_backoff()
}

async fn handle_job(job: RunJob, shared: Data<Arc<Shared>>) -> Result<(), BoxDynError> {
    match run_job(&job, &shared, None).await {
        Ok(status) => {
            tracing::info!(run = %job.run_id, worker = %shared.settings.name, %status, "run ended");
            Ok(())
        }
        Err(JobError::Retry(e)) => {
            tracing::warn!(run = %job.run_id, "kobo could not run or record the run, trying again later: {e}");
            Err(Box::new(e))
        }
        Err(JobError::Abort(message)) => {
            tracing::error!(run = %job.run_id, "{message}");
            Err(Box::new(AbortError::new(message)))
        }
    }
}

/// Why a job did not end as a recorded run.
pub enum JobError {
    /// kobo could not work (records or run folder unreachable): worth another try.
    Retry(ExecuteError),
    /// The job can never run (it names a run that does not exist): do not try again.
    Abort(String),
}

/// Run one job here, in this process (`kobo run-job`, the process a worker starts for it),
/// with the browser its worker started ahead, if it offers one.
pub async fn run_job_here(
    job: &RunJob,
    home: &Path,
    records: Records,
    settings: WorkerSettings,
    browser_ahead: Option<BrowserOffer>,
) -> Result<RunStatus, JobError> {
    let shared = Shared {
        home: home.to_path_buf(),
        records,
        settings: WorkerSettings {
            child: None,
            ..settings
        },
        ahead: None,
    };
    run_job(job, &shared, browser_ahead).await
}

/// Run one job to its recorded end and return the status it ended with.
async fn run_job(
    job: &RunJob,
    shared: &Shared,
    browser_ahead: Option<BrowserOffer>,
) -> Result<RunStatus, JobError> {
    let records = &shared.records;
    let retry = |e: crate::record::StoreError| JobError::Retry(ExecuteError::Store(e));
    let Some(record) = records.get(&job.run_id).await.map_err(retry)? else {
        return Err(JobError::Abort(format!(
            "the queue holds a job for run `{}` but the records have no such run; are `kobo serve` and this worker using the same records?",
            job.run_id
        )));
    };
    if record.status.is_finished() {
        // Handed out again after it ended (a worker died between recording and
        // acknowledging it): it must not run twice.
        tracing::info!(run = %job.run_id, status = %record.status, "the run already ended; not running it again");
        return Ok(record.status);
    }
    // Still `running` when a worker takes it: the worker that had it died (killed, or the
    // run crashed the process). Each start counts, so a run that crashes every worker it
    // meets ends `failed` after the queue's attempts instead of at every restart for ever.
    if record.status == RunStatus::Running && record.attempt >= MAX_ATTEMPTS as i64 {
        return fail_poison(shared, job, record.attempt).await;
    }

    let file = PathBuf::from(&job.workflow_file);
    let w = match Workflow::parse(&file, &job.workflow_source) {
        Ok(w) => w,
        Err(errors) => {
            let text: Vec<String> = errors.0.iter().map(|e| e.to_string()).collect();
            let message = format!(
                "the workflow `{}` has problems; fix it, then `kobo rerun {}`:\n{}",
                job.workflow_file,
                job.run_id,
                text.join("\n")
            );
            return fail_before_start(shared, job, &message).await;
        }
    };
    if let Some(child) = &shared.settings.child {
        let limits =
            crate::limits::LimitsFile::load(&shared.home).and_then(|f| f.for_workflow(&w.limits));
        let memory_mb = match limits {
            Ok(l) => l.memory_mb,
            Err(e) => {
                let message = format!("{e}; then `kobo rerun {}`", job.run_id);
                return fail_before_start(shared, job, &message).await;
            }
        };
        let lent = lend_browser(shared, &w).await;
        let envelope = crate::child_run::ChildJob {
            job: job.clone(),
            worker: shared.settings.name.clone(),
            run_timeout_secs: shared.settings.run_timeout.map(|t| t.as_secs()),
            memory_mb,
            browser_ahead: lent.as_ref().map(|l| l.waiting().clone()),
        };
        use crate::child_run::ChildEnd;
        let ended =
            crate::child_run::run_in_child(child, records, &shared.home, envelope, lent.as_ref())
                .await;
        browser_run_ended(shared, &w, lent).await;
        return match ended {
            Ok(ChildEnd::Ended(status)) => Ok(status),
            Ok(ChildEnd::Retry(e)) | Err(e) => Err(JobError::Retry(e)),
            Ok(ChildEnd::Abort(message)) => Err(JobError::Abort(message)),
        };
    }
    let secrets = match Secrets::load(&w.secrets, &DataDir::new(&shared.home).secrets_file()) {
        Ok(s) => s,
        Err(e) => {
            return fail_before_start(
                shared,
                job,
                &format!("{e}; then `kobo rerun {}`", job.run_id),
            )
            .await;
        }
    };

    // Workers on another machine: the input comes with the records.
    crate::run_files::fetch(records, &shared.home, &record.id, &record.folder)
        .await
        .map_err(retry)?;
    let folder = shared.home.join(&record.folder).join("input");
    let mut opts = RunOptions::new(&shared.home);
    opts.run_id = Some(job.run_id.clone());
    opts.inputs = job
        .inputs
        .iter()
        .map(|(name, file)| (name.clone(), folder.join(file)))
        .collect();
    opts.secrets = secrets;
    opts.timeout = shared.settings.run_timeout;
    opts.worker = Some(shared.settings.name.clone());
    opts.step_trace = shared.settings.step_trace.clone();
    // A queued run is for its client: its outcome columns are written in her language.
    opts.results_lang = Some(
        crate::client_lang::get(records.pool(), &record.client)
            .await
            .map_err(|e| retry(e.into()))?,
    );
    let cancel = CancellationToken::new();
    opts.cancel = Some(cancel.clone());

    // Watch the record for `kobo cancel` while the run goes, and show the worker is alive.
    let watcher = tokio::spawn({
        let records = records.clone();
        let id = job.run_id.clone();
        let (every, beat_every) = (shared.settings.cancel_poll, shared.settings.beat_every);
        async move {
            let mut last_beat: Option<std::time::Instant> = None;
            loop {
                tokio::time::sleep(every).await;
                if last_beat.is_none_or(|t| t.elapsed() >= beat_every)
                    && records.beat(&id).await.is_ok()
                {
                    last_beat = Some(std::time::Instant::now());
                }
                if let Ok(true) = records.cancel_requested(&id).await {
                    cancel.cancel();
                    return;
                }
            }
        }
    });
    // Aborted when the run ends, and also when this job is dropped halfway (the worker lost
    // its queue): a watcher left behind would keep beating for a run nobody runs.
    let watcher = AbortOnDrop(watcher);
    let lent = lend_browser(shared, &w).await;
    opts.browser_ahead = lent.as_ref().map(Lent::offer).or(browser_ahead);
    let outcome = execute(&w, records, opts).await;
    drop(watcher);
    browser_run_ended(shared, &w, lent).await;
    match outcome {
        Ok(o) => Ok(o.status),
        Err(e @ ExecuteError::TakenOver { .. }) => Err(JobError::Abort(e.to_string())),
        Err(e) => Err(JobError::Retry(e)),
    }
}

/// The browser started ahead, for a run of a workflow with browser steps.
async fn lend_browser(shared: &Shared, w: &Workflow) -> Option<Lent> {
    match &shared.ahead {
        Some(ahead) if w.needs_browser() => ahead.lend().await,
        _ => None,
    }
}

/// After a run of a workflow with browser steps: close the browser it took, and start the
/// next one ahead.
async fn browser_run_ended(shared: &Shared, w: &Workflow, lent: Option<Lent>) {
    if let Some(ahead) = &shared.ahead
        && w.needs_browser()
    {
        ahead.run_ended(lent).await;
    }
}

/// A spawned task that ends with its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Record a run as failed before any step ran (its workflow or secrets are broken).
/// End a run whose worker stopped during every one of its attempts.
async fn fail_poison(shared: &Shared, job: &RunJob, attempts: i64) -> Result<RunStatus, JobError> {
    let message = format!(
        "the worker stopped during each of the {attempts} attempts of this run (a crash, or the process was killed), so kobo does not start it again; read the end of its log to see which step it reached, fix the workflow or the input, then `kobo rerun {}`",
        job.run_id
    );
    let retry = |e: crate::record::StoreError| JobError::Retry(ExecuteError::Store(e));
    shared
        .records
        .finish(
            &job.run_id,
            &RunEnd::failed(&message, "the whole run", RowCounts::default(), attempts),
        )
        .await
        .map_err(retry)?;
    tracing::error!(run = %job.run_id, "{message}");
    Ok(RunStatus::Failed)
}

async fn fail_before_start(
    shared: &Shared,
    job: &RunJob,
    message: &str,
) -> Result<RunStatus, JobError> {
    let records = &shared.records;
    let retry = |e: crate::record::StoreError| JobError::Retry(ExecuteError::Store(e));
    match records
        .start(&job.run_id, &shared.settings.name)
        .await
        .map_err(retry)?
    {
        Start::AlreadyEnded(status) => return Ok(status),
        Start::Fresh | Start::Resumed => {}
    }
    records
        .finish(
            &job.run_id,
            &RunEnd::failed(message, "before the first step", RowCounts::default(), 1),
        )
        .await
        .map_err(retry)?;
    tracing::error!(run = %job.run_id, "{message}");
    Ok(RunStatus::Failed)
}
