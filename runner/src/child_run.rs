//! Each run in a process of its own: `kobo serve` and `kobo worker` start `kobo run-job` for
//! every job and watch it, so a run that needs more memory than its limit, or crashes, stops
//! alone; the service and the other runs go on, and the run is recorded as failed with why.
//!
//! The worker gives the child the job on its standard input ([`ChildJob`]); the child runs it
//! as the worker would in its own process ([`crate::worker`]), beating and watching for
//! `kobo cancel` itself, and reports each step's name as it starts on its standard error
//! (`kobo-step: <step>`), so the worker can name the step a stopped child was in. The
//! worker's browser started ahead (`browser::BrowserAhead`) is offered in the job; a child
//! whose run takes it says so (`kobo-browser-taken`), and the worker closes it after the run.
//! The child ends with its parent: a worker killed with SIGKILL takes its runs along
//! (they stay `running` and are taken again, as with runs inside the worker).

use crate::browser::{BrowserOffer, Lent, WaitingBrowser};
use crate::execute::ExecuteError;
use crate::queue::RunJob;
use crate::record::{Records, RunEnd};
use crate::run::RunStatus;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tokio::io::AsyncBufReadExt;

/// How a worker starts a run's process.
#[derive(Debug, Clone)]
pub struct ChildRuns {
    /// The `kobo` program (`std::env::current_exe()`).
    pub program: PathBuf,
    /// `--records` for the child (a SQLite path or a PostgreSQL address).
    pub records: String,
}

/// What the child reads on its standard input.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildJob {
    pub job: RunJob,
    /// The worker's name: the run's record names it, and only it may finish the run.
    pub worker: String,
    pub run_timeout_secs: Option<u64>,
    /// The run's memory bound (`limits.yaml`), which the child sets on itself.
    pub memory_mb: u64,
    /// The browser the worker started ahead, for the run to take (see [`BROWSER_TAKEN_MARK`]).
    #[serde(default)]
    pub browser_ahead: Option<WaitingBrowser>,
}

/// The line a child writes on standard error when its run takes the browser started ahead:
/// from then on its worker never offers that browser again, and closes it after the run.
pub const BROWSER_TAKEN_MARK: &str = "kobo-browser-taken";

/// In the child: the browser its worker started ahead, offered to the run; taking it writes
/// [`BROWSER_TAKEN_MARK`] first.
pub fn browser_offer(waiting: WaitingBrowser) -> BrowserOffer {
    BrowserOffer::new(
        waiting,
        std::sync::Arc::new(|| eprintln!("{BROWSER_TAKEN_MARK}")),
    )
}

/// The line prefix a child writes on standard error when a step starts.
pub const STEP_MARK: &str = "kobo-step: ";

/// Exit codes of `kobo run-job` besides 0 (the run ended and is recorded).
pub mod exit {
    /// kobo could not work (records unreachable): the job goes back to the queue.
    pub const RETRY: u8 = 75;
    /// The job can never run.
    pub const ABORT: u8 = 65;
    /// Stopped by SIGTERM (the service is stopping): the run stays for the next worker.
    pub const STOPPED: u8 = 143;
}

/// What became of a run given to a child process.
pub(crate) enum ChildEnd {
    Ended(RunStatus),
    Retry(ExecuteError),
    Abort(String),
}

/// Run `job` in a child process and wait for it. A child that stops without recording the
/// run's end (out of memory, a crash) has its run recorded as failed, with the step it was in.
pub(crate) async fn run_in_child(
    child: &ChildRuns,
    records: &Records,
    home: &std::path::Path,
    job: ChildJob,
    browser_ahead: Option<&Lent>,
) -> Result<ChildEnd, ExecuteError> {
    let mut cmd = tokio::process::Command::new(&child.program);
    cmd.arg("run-job")
        .env("KOBO_HOME", home)
        .env("KOBO_RECORDS", &child.records)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        // Its own process group: Ctrl-C in the terminal, or a service manager's signal to
        // the worker's group, reaches the worker, which stops its runs in order.
        .process_group(0);
    let mut process = cmd.spawn().map_err(|e| ExecuteError::Folder {
        path: child.program.display().to_string(),
        message: format!("cannot start the run's process: {e}"),
    })?;
    // Stopped (SIGTERM) if this worker drops the job halfway, as when the service stops.
    let guard = StopOnDrop(process.id());
    let envelope = serde_json::to_vec(&job).unwrap_or_default();
    if let Some(mut stdin) = process.stdin.take() {
        use tokio::io::AsyncWriteExt;
        let _ = stdin.write_all(&envelope).await;
    }
    let mut last_step: Option<String> = None;
    let mut out_of_memory = false;
    let mut last_line = String::new();
    if let Some(stderr) = process.stderr.take() {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(step) = line.strip_prefix(STEP_MARK) {
                last_step = Some(step.to_string());
                continue;
            }
            if line == BROWSER_TAKEN_MARK {
                if let Some(lent) = browser_ahead {
                    lent.mark_taken();
                }
                continue;
            }
            if line.contains("memory allocation of") && line.contains("failed") {
                out_of_memory = true;
            }
            eprintln!("{line}");
            last_line = line;
        }
    }
    let status = process.wait().await.map_err(|e| ExecuteError::Folder {
        path: child.program.display().to_string(),
        message: format!("lost the run's process: {e}"),
    })?;
    std::mem::forget(guard);
    match status.code() {
        Some(0) => {
            let status = records
                .get(&job.job.run_id)
                .await?
                .map_or(RunStatus::Failed, |r| r.status);
            return Ok(ChildEnd::Ended(status));
        }
        Some(c) if c == exit::RETRY as i32 => {
            return Ok(ChildEnd::Retry(ExecuteError::Folder {
                path: home.display().to_string(),
                message: last_line,
            }));
        }
        Some(c) if c == exit::ABORT as i32 => return Ok(ChildEnd::Abort(last_line)),
        // Stopped on purpose (the service is stopping): the run stays for the next worker.
        Some(c) if c == exit::STOPPED as i32 => {
            return Ok(ChildEnd::Retry(ExecuteError::Folder {
                path: home.display().to_string(),
                message: "the run's process was stopped".into(),
            }));
        }
        _ => {}
    }
    use std::os::unix::process::ExitStatusExt;
    if matches!(status.signal(), Some(2 | 15)) {
        return Ok(ChildEnd::Retry(ExecuteError::Folder {
            path: home.display().to_string(),
            message: "the run's process was stopped".into(),
        }));
    }
    // Its browser may still be up (an abort skips the clean-up): end what it left.
    let _ = tokio::task::spawn_blocking(crate::browser::sweep_orphans).await;
    // The process stopped without recording the run's end.
    let step = last_step.unwrap_or_else(|| "before the first step".into());
    let message = if status.signal() == Some(9) && !out_of_memory {
        format!(
            "the run's process was killed (signal 9) in step {step}, often because the machine ran out of memory; the run is not started again by itself: check the machine, then `kobo rerun {}`",
            job.job.run_id
        )
    } else if out_of_memory {
        format!(
            "the run needed more memory than its limit of {} MB and was stopped in step {step}; a step that keeps a growing value or table is the usual cause (the admin sets the limit as `memory_mb` in limits.yaml; a workflow may ask for more with `limits: {{ memory_mb: … }}`)",
            job.memory_mb
        )
    } else {
        format!(
            "the run's process stopped unexpectedly ({status}) in step {step}; this is a bug in kobo or a library it uses, not in your workflow: please report it with this run's id"
        )
    };
    let id = &job.job.run_id;
    let record = records.get(id).await?;
    let Some(record) = record.filter(|r| !r.status.is_finished()) else {
        return Ok(ChildEnd::Ended(RunStatus::Failed));
    };
    if !records.still_held_by(id, &job.worker).await? {
        return Ok(ChildEnd::Abort(format!(
            "run `{id}` was taken over by another worker"
        )));
    }
    // The rows it kept before it stopped; the row it was in is not counted as ok.
    let (row_results, rows) = crate::progress::rows_so_far(records, id).await?;
    let mut end = RunEnd::failed(&message, &step, rows, record.attempt.max(1));
    end.row_results = &row_results;
    records.finish(id, &end).await?;
    tracing::error!(run = %id, "{message}");
    Ok(ChildEnd::Ended(RunStatus::Failed))
}

/// When dropped (the worker stops, or drops the job), stops the run's process with SIGTERM
/// and waits for it, up to 10 s: it closes its browser first, and a service that stops must
/// leave no browser behind.
struct StopOnDrop(Option<u32>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let Some(pid) = self.0 else { return };
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while running(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Whether process `pid` still runs (an exited process waiting to be reaped does not).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in brackets: `123 (kobo) S …`; `Z` has exited.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// In the child: end with the worker that started it (SIGTERM when it goes, even by SIGKILL),
/// so no run goes on that nobody watches.
pub fn end_with_parent() {
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM);
}
