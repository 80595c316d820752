//! `service::start`: kobo as a long-running service (`kobo serve`, `kobo worker`).
//!
//! With an [`Intake`] (`kobo serve`), [`start`] first puts right what a crash left
//! (approvals cut short, files taken but not recorded, runs recorded but never queued),
//! then starts, each as a task:
//! - the inbox watch, which turns settled files into queued runs ([`crate::inbox::watch`]);
//! - the requeue loop, which pushes again any queued run whose job is missing from the
//!   queue (a push that failed while Redis restarted, a run whose worker died);
//! - and (with worker settings; alone for `kobo worker`) the worker, which takes jobs and runs them, and is started again after a pause when
//!   its queue fails.
//!
//! [`Handle::stop`] asks every task to stop; runs still in flight after [`STOP_GRACE`] are
//! dropped (their browser closes) and go back to the queue. Other tasks (the dashboard,
//! which builds on this crate) join the service with [`Handle::spawn`] and stop with it.

use crate::data_dir::DataDir;
use crate::inbox::{Inbox, InboxSettings};
use crate::queue::JobQueue;
use crate::record::Records;
use crate::submit::{
    StallWatch, SubmitError, adopt_unrecorded, requeue_missing, requeue_missing_older_than,
};
use crate::worker::{WorkerSettings, run_worker};
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often the requeue loop looks for queued runs whose job is missing from the queue.
const REQUEUE_EVERY: Duration = Duration::from_secs(5);
/// A queued run or a claimed file younger than this is being handled right now: left alone.
const REQUEUE_AFTER: Duration = Duration::from_secs(10);
/// A running run's heartbeat must stand still at least this long before its run is taken
/// to have lost its worker (longer when heartbeats are rarer).
const STALLED_AT_LEAST: Duration = Duration::from_secs(20);
/// How long runs in flight may go on after [`Handle::stop`] before they are dropped.
pub const STOP_GRACE: Duration = Duration::from_secs(3);
/// How long a worker whose queue failed waits before it starts again.
const RESTART_AFTER: Duration = Duration::from_secs(5);

/// What the service runs.
pub struct Config {
    pub data: DataDir,
    pub records: Records,
    pub queue: JobQueue,
    /// Take files from the inbox and keep the queue whole (`kobo serve`). `None`: a worker
    /// alone (`kobo worker`), which leaves both to the machine that serves.
    pub intake: Option<Intake>,
    /// Run jobs here. `None`: only queue them (`kobo serve --workers 0`).
    pub worker: Option<WorkerSettings>,
}

/// The inbox and the queue's upkeep.
pub struct Intake {
    /// The inbox folders and the workflows folder whose workflows they start.
    pub inbox: InboxSettings,
    /// How often workers beat: four missed beats and a running run's worker is taken to be gone.
    pub heartbeat: Duration,
}

/// What can stop the service from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot check the records for approvals cut short by a crash: {0}")]
    Deliveries(#[from] sqlx::Error),
    #[error(transparent)]
    Recovery(#[from] SubmitError),
}

/// The running service.
#[derive(Clone)]
pub struct Handle {
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl Handle {
    /// Ask every task to stop. Runs in flight go back to the queue.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Completes when every task has ended (after [`Handle::stop`], or when all end alone).
    pub async fn wait(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Run another task as part of the service: it is given the token that says when to stop.
    pub fn spawn<F, Fut>(&self, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task(self.stop.clone()));
    }
}

/// Recover what a crash left, then start the service's tasks.
pub async fn start(config: Config) -> Result<Handle, ServiceError> {
    let Config {
        data,
        records,
        queue,
        intake,
        worker,
    } = config;
    let handle = Handle {
        stop: CancellationToken::new(),
        tasks: TaskTracker::new(),
    };
    if let Some(intake) = intake {
        recover(&data, &records, &queue, &intake).await?;
        handle.tasks.spawn(requeue_loop(
            data.clone(),
            intake.inbox.workflows.clone(),
            records.clone(),
            queue.clone(),
            intake.heartbeat,
            handle.stop.clone(),
        ));
        let (records, queue, stop) = (records.clone(), queue.clone(), handle.stop.clone());
        handle.tasks.spawn(async move {
            crate::inbox::watch(Inbox::new(intake.inbox), records, queue, async move {
                stop.cancelled().await
            })
            .await
        });
    }
    if let Some(settings) = worker {
        handle.tasks.spawn(keep_working(
            data,
            queue,
            records,
            settings,
            handle.stop.clone(),
        ));
    }
    Ok(handle)
}

/// Before new files are taken: copies of an approval cut short are taken back, files taken
/// into a run folder but never recorded are recorded, and runs whose record was written but
/// whose job never reached the queue are queued again.
async fn recover(
    data: &DataDir,
    records: &Records,
    queue: &JobQueue,
    intake: &Intake,
) -> Result<(), ServiceError> {
    crate::pending_delivery::recover(data.root(), records).await?;
    let adopted = adopt_unrecorded(
        data.root(),
        records,
        &intake.inbox.workflows,
        Duration::ZERO,
    )
    .await?;
    if !adopted.is_empty() {
        tracing::warn!(
            "recorded {} run(s) whose file had been taken but not recorded",
            adopted.len()
        );
    }
    let requeued = requeue_missing(data.root(), records, &mut queue.clone()).await?;
    if !requeued.is_empty() {
        tracing::warn!(
            "queued {} run(s) again whose job had not reached the queue",
            requeued.len()
        );
    }
    Ok(())
}

/// While the service runs, too: a push that failed because the queue was down (Redis
/// restarting), or a job a Redis without persistence forgot, is pushed again.
async fn requeue_loop(
    data: DataDir,
    workflows: std::path::PathBuf,
    records: Records,
    mut queue: JobQueue,
    heartbeat: Duration,
    stop: CancellationToken,
) {
    let mut watch =
        StallWatch::new((4 * heartbeat.max(Duration::from_secs(1))).max(STALLED_AT_LEAST));
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(REQUEUE_EVERY) => {}
        }
        match adopt_unrecorded(data.root(), &records, &workflows, REQUEUE_AFTER).await {
            Ok(ids) if !ids.is_empty() => tracing::warn!(
                "recorded {} run(s) whose file had been taken but not recorded",
                ids.len()
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("cannot check the run folders for unrecorded files yet: {e}"),
        }
        match requeue_missing_older_than(
            data.root(),
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

/// Run the worker until `stop`; when its queue fails (Redis restarted, network gone), start
/// it again after a pause, so one outage does not leave the runs waiting for ever.
async fn keep_working(
    data: DataDir,
    queue: JobQueue,
    records: Records,
    settings: WorkerSettings,
    stop: CancellationToken,
) {
    let work = async {
        while !stop.is_cancelled() {
            let until = stop.clone().cancelled_owned();
            match run_worker(
                queue.clone(),
                records.clone(),
                data.root(),
                settings.clone(),
                until,
            )
            .await
            {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!("{e}; starting it again in {} s", RESTART_AFTER.as_secs())
                }
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(RESTART_AFTER) => {}
            }
        }
    };
    tokio::pin!(work);
    tokio::select! {
        _ = &mut work => return,
        _ = stop.cancelled() => {}
    }
    // The queue would wait for runs in flight to end, which may take an hour: give them a
    // moment, then drop them. Dropping a run closes its browser (no Chromium or
    // chromedriver is left), and the queue hands the run out again later.
    if tokio::time::timeout(STOP_GRACE, work).await.is_err() {
        tracing::warn!(
            "runs still in flight after {} s were stopped; they go back to the queue",
            STOP_GRACE.as_secs()
        );
    }
}
