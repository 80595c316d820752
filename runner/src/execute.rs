//! `execute`: one whole run — make its folder, keep a copy of the input, record it,
//! run the steps (retrying transient failures), and record how it ended.
//!
//! A run is recorded *before* its input is read, so a file that cannot be read still
//! leaves a failed run with the file kept beside it: nothing a client sends is lost.

use crate::data_dir::DataDir;
use crate::engine::{Execution, ProgressFn, StepFailure};
use crate::progress::RowBook;
use crate::record::{Records, RunEnd, RunRecord, Start, StoreError};
use crate::run::{RowCounts, RowResult, RunId, RunStatus, StepTiming};
use crate::run_folder::{EchoFn, RunFolder, RunLog, file_sha256, safe_file_name};
use crate::secrets::Secrets;
use crate::workflow::Workflow;
use futures::FutureExt;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What a run needs besides the workflow.
pub struct RunOptions {
    /// The data directory (`KOBO_HOME`, default `./kobo-data`).
    pub home: PathBuf,
    /// Input files by input name.
    pub inputs: BTreeMap<String, PathBuf>,
    /// Values for `params`, overriding the workflow's defaults.
    pub params: BTreeMap<String, String>,
    pub secrets: Secrets,
    /// Use this id (a queued job's) instead of making one.
    pub run_id: Option<RunId>,
    pub progress: Option<ProgressFn>,
    pub echo: Option<EchoFn>,
    /// Tripped when someone asks the run to stop (`kobo cancel`): it ends as cancelled.
    pub cancel: Option<CancellationToken>,
    /// A limit for the whole run shorter than the workflow's `timeout_minutes` (`kobo serve --run-timeout`).
    pub timeout: Option<Duration>,
    /// Who runs it (a queue worker's name), kept in the record.
    pub worker: Option<String>,
    /// Enter rows whose `key:` an earlier run entered again (`kobo run --again`).
    pub again: bool,
    /// Told the name of each step as it starts (see `Execution::trace_steps`).
    pub step_trace: Option<crate::engine::StepTrace>,
    /// Write the outcome columns of `with_results` (and the sheet of rows to check) in the
    /// client's language; `None` (a run started by hand) writes `result` / `error`.
    pub results_lang: Option<crate::client_lang::ClientLang>,
    /// A browser the worker started ahead of this run, taken by its first browser step.
    pub browser_ahead: Option<crate::browser::BrowserOffer>,
}

impl RunOptions {
    pub fn new(home: impl Into<PathBuf>) -> RunOptions {
        RunOptions {
            home: home.into(),
            inputs: BTreeMap::new(),
            params: BTreeMap::new(),
            secrets: Secrets::default(),
            run_id: None,
            progress: None,
            echo: None,
            cancel: None,
            timeout: None,
            worker: None,
            again: false,
            step_trace: None,
            results_lang: None,
            browser_ahead: None,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub id: RunId,
    pub status: RunStatus,
    pub rows: RowCounts,
    pub error: Option<String>,
    pub folder: PathBuf,
    pub outputs: Vec<PathBuf>,
}

/// Problems that stop kobo from running or recording at all (as opposed to a run that
/// fails, which is recorded and returned as a [`RunOutcome`]).
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error("cannot prepare the run folder `{path}`: {message}")]
    Folder { path: String, message: String },
    #[error("cannot read the input file `{path}`: {message}")]
    Input { path: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "run `{id}` was taken over by another worker while `{worker}` ran it (this worker was taken for dead); its result is dropped, the other worker's counts"
    )]
    TakenOver { id: String, worker: String },
}

/// Run a workflow once, recording everything.
///
/// A panic (a bug in kobo) anywhere in the run still ends it as failed in the records, with
/// a message saying so, rather than leaving it running for ever.
pub async fn execute(
    w: &Workflow,
    records: &Records,
    opts: RunOptions,
) -> Result<RunOutcome, ExecuteError> {
    let id = opts.run_id.clone().unwrap_or_else(RunId::generate);
    let home = opts.home.clone();
    let secrets = opts.secrets.clone();
    let worker = opts.worker.clone();
    let run = std::panic::AssertUnwindSafe(execute_once(w, records, opts, id.clone()));
    let panic = match run.catch_unwind().await {
        Ok(outcome) => return outcome,
        Err(panic) => panic_failure(panic.as_ref()),
    };
    // A panic message may quote any string, a secret included.
    let message = secrets.mask(&panic.describe());
    let record = records.get(&id).await?;
    // A run another worker took over is theirs to finish.
    let still_mine = match &worker {
        Some(me) => records.still_held_by(&id, me).await?,
        None => true,
    };
    if let Some(r) = &record
        && !r.status.is_finished()
        && still_mine
        && let Err(e) = records
            .finish(
                &id,
                &RunEnd::failed(&message, &panic.step, r.rows, r.attempt.max(1)),
            )
            .await
    {
        tracing::error!(run = %id, "cannot record the run as failed after a bug in kobo: {e}");
    }
    Ok(RunOutcome {
        status: RunStatus::Failed,
        rows: record.as_ref().map(|r| r.rows).unwrap_or_default(),
        error: Some(message),
        folder: home.join(record.map_or_else(|| DataDir::run_relative(&id), |r| r.folder)),
        id,
        outputs: Vec::new(),
    })
}

/// One run, in three phases: [`prepare`] (folder, input copies, record, log), [`attempt`]
/// (the steps, retried while their failure is temporary), [`conclude`] (rows, files and
/// the record of how it ended).
async fn execute_once(
    w: &Workflow,
    records: &Records,
    mut opts: RunOptions,
    id: RunId,
) -> Result<RunOutcome, ExecuteError> {
    let run = match prepare(w, records, &mut opts, id).await? {
        Prepared::Ready(run) => run,
        Prepared::AlreadyEnded(outcome) => return Ok(outcome),
    };
    let ended = attempt(w, records, &opts, &run).await?;
    conclude(records, &opts, run, ended).await
}

/// A run ready for its steps: recorded, its folder made and its inputs kept.
struct PreparedRun {
    id: RunId,
    folder: RunFolder,
    /// Input name → the copy in the run folder.
    inputs: BTreeMap<String, PathBuf>,
    log: RunLog,
    /// A dead worker's run this one goes on with.
    resumed: bool,
    /// Attempts made by workers that died before this one, kept in the record.
    earlier_attempts: i64,
}

enum Prepared {
    Ready(PreparedRun),
    /// A job handed out again after a crash, for a run that had already ended.
    AlreadyEnded(RunOutcome),
}

/// Make the run folder, copy the inputs in, record the run (or take the queued record)
/// and open its log. Nothing here runs a step.
async fn prepare(
    w: &Workflow,
    records: &Records,
    opts: &mut RunOptions,
    id: RunId,
) -> Result<Prepared, ExecuteError> {
    let worker = opts.worker.clone().unwrap_or_else(|| "kobo run".into());
    let existing = match &opts.run_id {
        Some(id) => records.get(id).await?,
        None => None,
    };
    let mut resumed = false;
    let earlier_attempts = existing
        .as_ref()
        .filter(|r| r.status == RunStatus::Running)
        .map_or(0, |r| r.attempt);
    if existing.is_some() {
        // A queued run (made when its file was claimed) taken by a worker. The statement
        // that starts it also tells whether it already ran: a job handed out again after
        // a crash must not run a finished run a second time.
        match records.start(&id, &worker).await? {
            Start::Fresh => {}
            Start::Resumed => resumed = true,
            Start::AlreadyEnded(status) => {
                let r = records
                    .get(&id)
                    .await?
                    .ok_or_else(|| StoreError::NoSuchRun(id.0.clone()))?;
                return Ok(Prepared::AlreadyEnded(RunOutcome {
                    id,
                    status,
                    rows: r.rows,
                    error: r.error,
                    folder: opts.home.join(&r.folder),
                    outputs: Vec::new(),
                }));
            }
        }
    }
    let folder = RunFolder::create(&opts.home, &id).map_err(|e| ExecuteError::Folder {
        path: DataDir::new(&opts.home).run(&id).display().to_string(),
        message: e.to_string(),
    })?;
    let folder_err = |e: std::io::Error| ExecuteError::Folder {
        path: folder.root.display().to_string(),
        message: e.to_string(),
    };
    std::fs::write(folder.root.join("workflow.yaml"), &w.source).map_err(folder_err)?;

    // Keep a copy of every input before anything else can go wrong.
    let mut inputs = BTreeMap::new();
    for (name, path) in &opts.inputs {
        let file_name = safe_file_name(
            &path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| name.clone()),
        );
        let copy = folder.input_dir().join(&file_name);
        if path != &copy {
            std::fs::copy(path, &copy).map_err(|e| ExecuteError::Input {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        }
        inputs.insert(name.clone(), copy);
    }
    // Every run's main input is read once here, a queued run's kept copy too: one that
    // cannot be read stops the run before any step (`ExecuteError::Input`).
    let main_input = w.file_inputs().next().and_then(|i| inputs.get(&i.name));
    let input = match main_input {
        Some(p) => {
            let (hash, _) = file_sha256(p).map_err(|e| ExecuteError::Input {
                path: p.display().to_string(),
                message: e.to_string(),
            })?;
            p.file_name()
                .map(|n| (n.to_string_lossy().to_string(), hash))
        }
        None => None,
    };
    if existing.is_none() {
        let mut record = RunRecord::new(&id, w, input, RunStatus::Running, &folder.relative);
        record.worker = Some(worker.clone());
        records.insert(&record).await?;
    }
    for copy in inputs.values() {
        let _ = crate::engine::register_artifact(records, &id, &folder, copy, "input").await;
    }

    let mut log =
        RunLog::open(&folder.log_path(), opts.secrets.clone(), id.clone()).map_err(folder_err)?;
    if let Some(echo) = opts.echo.take() {
        log = log.with_echo(echo);
    }
    if resumed {
        log.warn(None, None, &format!("the worker that had this run stopped before it ended; {worker} goes on with it: rows already done are kept, not done again"));
    }
    log.info(
        None,
        None,
        &format!(
            "run {id} of `{}` version {} by {} for {}",
            w.name, w.version, w.author, w.client
        ),
    );
    Ok(Prepared::Ready(PreparedRun {
        id,
        folder,
        inputs,
        log,
        resumed,
        earlier_attempts,
    }))
}

/// How the attempts ended: the last attempt's failure (none: the run succeeded) and what
/// its steps did.
struct Attempted {
    failure: Option<StepFailure>,
    cancelled: bool,
    /// Attempts this worker made (the first is 1).
    attempts: u32,
    timings: Vec<StepTiming>,
    rows: Vec<RowResult>,
    counts: RowCounts,
    outputs: Vec<PathBuf>,
}

const CANCELLED: &str = "cancelled while running (`kobo cancel`, or Ctrl-C on `kobo run`)";

/// Run the steps; a temporary failure (a page that did not load) runs them again from the
/// start, up to the workflow's `retry.attempts`, keeping the rows already done.
async fn attempt(
    w: &Workflow,
    records: &Records,
    opts: &RunOptions,
    run: &PreparedRun,
) -> Result<Attempted, ExecuteError> {
    let PreparedRun {
        id, folder, log, ..
    } = run;
    let params = merged_params(w, &opts.params);
    let attempts = w.retry.attempts.max(1);
    let mut attempt = 1u32;
    let limit = opts.timeout.map_or(w.timeout, |t| t.min(w.timeout));
    let cancel = opts.cancel.clone().unwrap_or_default();
    let mut cancelled = false;
    let mut browser_ahead = opts.browser_ahead.clone();
    // The admin's bounds for one run, and what the workflow asks for within them.
    let limits =
        match crate::limits::LimitsFile::load(&opts.home).and_then(|f| f.for_workflow(&w.limits)) {
            Ok(l) => l,
            Err(e) => {
                return Ok(Attempted {
                    failure: Some(StepFailure {
                        message: e.to_string(),
                        step: "checking the run's limits".into(),
                        row: None,
                        transient: false,
                    }),
                    cancelled: false,
                    attempts: 1,
                    timings: Vec::new(),
                    rows: Vec::new(),
                    counts: RowCounts::default(),
                    outputs: Vec::new(),
                });
            }
        };
    loop {
        if run.resumed || attempt > 1 {
            discard_outputs(records, id, folder, log).await;
        }
        let mut exec = Execution::new(
            w,
            folder,
            log,
            records,
            id,
            params.clone(),
            run.inputs.clone(),
            opts.progress.clone(),
        );
        // Rows done by earlier attempts (this worker's or a dead one's), or by the run a
        // rerun repeats, are carried over rather than done again.
        let this_run = records
            .get(id)
            .await?
            .ok_or_else(|| StoreError::NoSuchRun(id.0.clone()))?;
        let attempt_no = (run.earlier_attempts + attempt as i64).max(1) as u32;
        let mut book = RowBook::load(records, &this_run, attempt_no, opts.again).await?;
        book.worker = opts.worker.clone();
        exec.keep_rows(book);
        exec.set_limits(limits);
        exec.trace_steps(opts.step_trace.clone());
        exec.set_results_lang(opts.results_lang);
        exec.offer_browser(browser_ahead.take());
        // Dropping `exec.run()` stops the steps at their next await point (between steps or
        // rows, or inside a `pause`); what they wrote so far stays in the run folder.
        // A panic in the steps is a bug in kobo; caught here, it fails the run with a
        // message instead of leaving it recorded as running forever.
        let steps = std::panic::AssertUnwindSafe(exec.run()).catch_unwind();
        let result = tokio::select! {
            r = tokio::time::timeout(limit, steps) => match r {
                Ok(Ok(r)) => r,
                Ok(Err(panic)) => Err(panic_failure(panic.as_ref())),
                Err(_) => Err(timeout_failure(limit, limit < w.timeout)),
            },
            _ = cancel.cancelled() => {
                cancelled = true;
                Err(StepFailure {
                    message: CANCELLED.into(),
                    step: "the whole run".into(),
                    row: None,
                    transient: false,
                })
            }
        };
        exec.close_browser().await;
        browser_ahead = exec.take_browser_offer();
        exec.mark_interrupted_rows();
        if let Err(e) = exec.flush_rows().await {
            log.warn(None, None, &format!("cannot keep the progress of the last rows: {e}; they will be done again if the run is"));
        }
        let failure = match result {
            Err(f) if f.transient && attempt < attempts => {
                let delay = w.retry.delay(attempt + 1);
                log.warn(None, None, &format!(
                    "attempt {attempt} of {attempts} failed with a temporary problem: {}; trying again in {} s",
                    f.describe(),
                    delay.as_secs()
                ));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {
                        attempt += 1;
                        continue;
                    }
                    _ = cancel.cancelled() => {
                        cancelled = true;
                        Some(f)
                    }
                }
            }
            other => other.err(),
        };
        let (rows, counts) = exec.row_results();
        return Ok(Attempted {
            failure,
            cancelled,
            attempts: attempt,
            timings: exec.timings(),
            rows,
            counts,
            outputs: exec.outputs.clone(),
        });
    }
}

/// Log how the run ended, keep its rows beside the outputs, send its files (workers without
/// a shared folder) and record the end, unless another worker took the run over.
async fn conclude(
    records: &Records,
    opts: &RunOptions,
    run: PreparedRun,
    ended: Attempted,
) -> Result<RunOutcome, ExecuteError> {
    let PreparedRun {
        id, folder, log, ..
    } = run;
    let counts = ended.counts;
    let (status, error, error_step) = match &ended.failure {
        Some(_) if ended.cancelled => (RunStatus::Cancelled, Some(CANCELLED.to_string()), None),
        None => (RunStatus::Succeeded, None, None),
        Some(f) => (RunStatus::Failed, Some(f.describe()), Some(f.step.clone())),
    };
    match &ended.failure {
        None => log.info(
            None,
            None,
            &format!(
                "finished: {} rows ok, {} failed, {} skipped",
                counts.ok, counts.failed, counts.skipped
            ),
        ),
        Some(_) if ended.cancelled => log.warn(
            None,
            None,
            "the run was cancelled; files it wrote so far stay in its folder",
        ),
        Some(f) => log.error(
            Some(&f.step),
            f.row.as_ref().map(|r| r.1),
            &format!("the run failed: {}", f.describe()),
        ),
    }
    let error = error.map(|e| opts.secrets.mask(&e));
    // A queue worker taken for dead (its heartbeat stood still) may have lost the run to
    // another worker: then neither its files nor its result may replace the other's.
    if let Some(me) = &opts.worker
        && !records.still_held_by(&id, me).await?
    {
        return Err(ExecuteError::TakenOver {
            id: id.0.clone(),
            worker: me.clone(),
        });
    }
    // The row results beside the outputs, so the folder alone tells which rows failed.
    if let Err(e) = folder.write_rows(&ended.rows) {
        log.warn(
            None,
            None,
            &format!("cannot write `rows.jsonl` in the run folder: {e}"),
        );
    }
    crate::fault::point("finish-run").await;
    // Workers without a shared folder: the files go into the records before the run ends.
    crate::run_files::send(records, &opts.home, &id, &folder.relative).await?;
    records
        .finish(
            &id,
            &RunEnd {
                status,
                rows: counts,
                error: error.as_deref(),
                error_step: error_step.as_deref(),
                steps: &ended.timings,
                row_results: &ended.rows,
                attempt: run.earlier_attempts + ended.attempts as i64,
            },
        )
        .await?;
    Ok(RunOutcome {
        id,
        status,
        rows: counts,
        error,
        folder: folder.root.clone(),
        outputs: ended.outputs,
    })
}

/// Remove what an earlier attempt of this run wrote to `outputs/`, files and records: an
/// attempt starts from the beginning, and only the outputs of the attempt that finishes
/// are the run's (reviewed, then delivered). An output named after the time would
/// otherwise be delivered once per attempt.
async fn discard_outputs(records: &Records, id: &RunId, folder: &RunFolder, log: &RunLog) {
    let dir = folder.outputs_dir();
    let files = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect::<Vec<_>>())
        .unwrap_or_default();
    for f in files {
        if let Err(e) = std::fs::remove_file(&f) {
            log.warn(
                None,
                None,
                &format!(
                    "cannot remove `{}`, written by an earlier attempt: {e}",
                    f.display()
                ),
            );
        }
    }
    // The records' copies too (PostgreSQL records keep the run's files, see `run_files`).
    let forget = async {
        sqlx::query("DELETE FROM run_artifacts WHERE run_id = $1 AND kind = 'output'")
            .bind(&id.0)
            .execute(records.pool())
            .await?;
        sqlx::query("DELETE FROM run_files WHERE run_id = $1 AND path LIKE 'outputs/%'")
            .bind(&id.0)
            .execute(records.pool())
            .await
    };
    if let Err(e) = forget.await {
        log.warn(
            None,
            None,
            &format!("cannot forget the outputs of an earlier attempt: {e}"),
        );
    }
}

fn panic_failure(panic: &(dyn std::any::Any + Send)) -> StepFailure {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    StepFailure {
        message: format!(
            "kobo stopped because of a bug in kobo itself, not in your workflow ({what}); please report it to the kobo developers with this run's id"
        ),
        step: "the whole run".into(),
        row: None,
        transient: false,
    }
}

fn timeout_failure(limit: Duration, from_serve: bool) -> StepFailure {
    let message = if from_serve {
        format!(
            "the run took longer than the limit of {} s set for this kobo (`--run-timeout`)",
            limit.as_secs()
        )
    } else {
        format!(
            "the run took longer than its limit of {} minutes (`timeout_minutes`)",
            limit.as_secs() / 60
        )
    };
    StepFailure {
        message,
        step: "the whole run".into(),
        row: None,
        transient: false,
    }
}

fn merged_params(
    w: &Workflow,
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<String, serde_yaml::Value> {
    let mut params = w.params.clone();
    for (k, v) in overrides {
        // `--param rate=0.1` gives a number, `--param name=x` text, as YAML would read them.
        let value = serde_yaml::from_str::<serde_yaml::Value>(v)
            .unwrap_or_else(|_| serde_yaml::Value::String(v.clone()));
        params.insert(k.clone(), value);
    }
    params
}

/// The data directory: `KOBO_HOME`, else `./kobo-data` (also when `KOBO_HOME` is empty).
pub fn default_home() -> PathBuf {
    std::env::var_os("KOBO_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new("kobo-data").to_path_buf())
}
