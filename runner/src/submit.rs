//! `submit`: put one run in the queue — its folder, its input, a `queued` record, a job.
//!
//! The order makes a crash at any point safe: the input is moved (inbox) or copied
//! (rerun) into `runs/<id>/input/` first, then the record is written as queued, then the
//! job is pushed. A run folder holding an input but no record (kobo stopped, or the
//! records could not be written, right after the move) is recorded as a queued run by
//! [`adopt_unrecorded`]; a queued record whose job never reached the queue is pushed again
//! by [`requeue_missing`]. `kobo serve` does both when it starts, and every few seconds
//! while it runs.

use crate::catalogue::Catalogue;
use crate::data_dir::DataDir;
use crate::queue::{JobQueue, QueueError, RunJob};
use crate::record::{Records, RunRecord, StoreError};
use crate::run::{RunId, RunStatus};
use crate::run_folder::{RunFolder, safe_file_name};
use crate::workflow::Workflow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the input gets into the run folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Move it (a client's file claimed from the inbox: atomic on one filesystem).
    Move,
    /// Copy it (a kept input of an earlier run).
    Copy,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("cannot prepare the run folder `{path}`: {message}")]
    Folder { path: String, message: String },
    #[error("cannot take the file `{path}` into the run folder: {message}")]
    Take { path: String, message: String },
    #[error(
        "workflow `{workflow}` reads {count} input files ({names}); the queue starts workflows that read one file; run it with `kobo run … --input name=path` instead"
    )]
    SeveralInputs {
        workflow: String,
        count: usize,
        names: String,
    },
    #[error("workflow `{0}` reads no input file, so a file cannot start it")]
    NoInput(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("run `{0}` kept no input file to run again")]
    NoKeptInput(String),
    #[error("cannot read the input run `{run}` kept, `{path}`: {message}")]
    KeptInput {
        run: String,
        path: String,
        message: String,
    },
    #[error("the workflow run `{run}` kept has problems:\n{message}")]
    KeptWorkflow { run: String, message: String },
    #[error(
        "run `{0}` has not ended; wait for it to end, or `kobo cancel` it, before running it again"
    )]
    NotEnded(String),
    #[error(
        "run `{run}` was already run again as run `{rerun}`; to go on, rerun `{rerun}` (`kobo rerun {rerun}`), so no row is entered twice"
    )]
    AlreadyRerun { run: String, rerun: String },
}

/// What was queued.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub id: RunId,
    pub folder: PathBuf,
    pub input: PathBuf,
}

/// The single file input of a workflow the queue can start.
pub fn single_input(w: &Workflow) -> Result<String, SubmitError> {
    let inputs: Vec<&str> = w.file_inputs().map(|i| i.name.as_str()).collect();
    match inputs.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(SubmitError::NoInput(w.name.clone())),
        many => Err(SubmitError::SeveralInputs {
            workflow: w.name.clone(),
            count: many.len(),
            names: many.join(", "),
        }),
    }
}

/// Queue a run of `w` on `file`, whose sha256 is `hash`.
#[allow(clippy::too_many_arguments)]
pub async fn submit(
    home: &Path,
    records: &Records,
    queue: &mut JobQueue,
    w: &Workflow,
    file: &Path,
    hash: &str,
    take: Take,
    rerun: Option<(&RunId, crate::progress::RerunRows)>,
) -> Result<Submitted, SubmitError> {
    let input = single_input(w)?;
    let id = RunId::generate();
    let folder = RunFolder::create(home, &id).map_err(|e| SubmitError::Folder {
        path: DataDir::new(home).run(&id).display().to_string(),
        message: e.to_string(),
    })?;
    let folder_err = |e: std::io::Error| SubmitError::Folder {
        path: folder.root.display().to_string(),
        message: e.to_string(),
    };
    std::fs::write(folder.root.join("workflow.yaml"), &w.source).map_err(folder_err)?;
    // Marks the folder as a claim until its record exists: only such folders are adopted
    // after a crash (see [`adopt_unrecorded`]), never one `kobo run` is still filling.
    let claim_mark = folder.root.join(CLAIM_MARK);
    std::fs::write(&claim_mark, b"").map_err(folder_err)?;
    let name = safe_file_name(
        &file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| input.clone()),
    );
    let dest = folder.input_dir().join(&name);
    let taken = match take {
        Take::Move => crate::run_folder::move_no_replace(file, &dest),
        // Copied under a temporary name, then renamed: a crash halfway leaves no input
        // that looks whole.
        Take::Copy => {
            let part = folder.input_dir().join(format!(".part-{name}"));
            std::fs::copy(file, &part)
                .and_then(|_| crate::run_folder::move_no_replace(&part, &dest))
        }
    };
    if let Err(e) = taken {
        // Nothing was taken: leave no empty run folder behind.
        let _ = std::fs::remove_dir_all(&folder.root);
        return Err(SubmitError::Take {
            path: file.display().to_string(),
            message: e.to_string(),
        });
    }
    crate::fault::point("claim-move").await;
    let kept = Some((name.clone(), hash.to_string()));
    let mut record = RunRecord::new(&id, w, kept, RunStatus::Queued, &folder.relative);
    if let Some((of, rows)) = rerun {
        record.rerun_of = Some(of.0.clone());
        record.rerun_rows = Some(rows.as_str().to_string());
        // Every row again means keys entered before too.
        record.again = rows == crate::progress::RerunRows::All;
    }
    records.insert(&record).await?;
    let _ = std::fs::remove_file(&claim_mark);
    crate::run_files::send(records, home, &id, &folder.relative).await?;
    crate::fault::point("claim-push").await;
    let job = RunJob {
        run_id: id.clone(),
        client: w.client.clone(),
        workflow: w.name.clone(),
        workflow_file: w.file.display().to_string(),
        workflow_source: w.source.clone(),
        inputs: BTreeMap::from([(input, name)]),
    };
    queue.push(job).await?;
    Ok(Submitted {
        id,
        folder: folder.root,
        input: dest,
    })
}

/// A run queued again by [`rerun`], and which workflow file it runs.
#[derive(Debug, Clone)]
pub struct Rerun {
    pub submitted: Submitted,
    /// `the current `workflows/x.yaml`` or `the copy run … kept`, for messages.
    pub workflow: String,
}

/// Queue a new run of `old`'s workflow on the input `old` kept, doing again only the rows
/// `rows` says (the others are carried over, see [`crate::progress`]). The workflow is the
/// current file in `workflows` with the same client and name (the trainee may have fixed
/// it); without one, the copy `old` kept.
pub async fn rerun(
    home: &Path,
    records: &Records,
    queue: &mut JobQueue,
    workflows: &Path,
    old: &RunRecord,
    rows: crate::progress::RerunRows,
) -> Result<Rerun, SubmitError> {
    // Its rows are still being done (or not started): both runs would enter them.
    if !old.status.is_finished() {
        return Err(SubmitError::NotEnded(old.id.0.clone()));
    }
    // One rerun per run: two reruns of one run would both enter its failed rows.
    if let Some(newer) = records.rerun_of(&old.id).await? {
        return Err(SubmitError::AlreadyRerun {
            run: old.id.0.clone(),
            rerun: newer,
        });
    }
    crate::run_files::fetch(records, home, &old.id, &old.folder).await?;
    let folder = home.join(&old.folder);
    let catalogue = Catalogue::load(workflows);
    let (w, which) = match catalogue.get(&old.client, &old.workflow) {
        Some(w) => (w.clone(), format!("the current `{}`", w.file.display())),
        None => {
            let kept = folder.join("workflow.yaml");
            let text = std::fs::read_to_string(&kept).map_err(|e| SubmitError::KeptWorkflow {
                run: old.id.0.clone(),
                message: e.to_string(),
            })?;
            let w = Workflow::parse(Path::new(&old.workflow_file), &text).map_err(|e| {
                SubmitError::KeptWorkflow {
                    run: old.id.0.clone(),
                    message: e.to_string(),
                }
            })?;
            let which = format!(
                "the copy run {} kept (no `{}` for client `{}` in `{}`)",
                old.id,
                old.workflow,
                old.client,
                workflows.display()
            );
            (w, which)
        }
    };
    let input_name = old
        .input_name
        .clone()
        .ok_or_else(|| SubmitError::NoKeptInput(old.id.0.clone()))?;
    let input = folder.join("input").join(&input_name);
    let (hash, _) = crate::run_folder::file_sha256(&input).map_err(|e| SubmitError::KeptInput {
        run: old.id.0.clone(),
        path: input.display().to_string(),
        message: e.to_string(),
    })?;
    let submitted = submit(
        home,
        records,
        queue,
        &w,
        &input,
        &hash,
        Take::Copy,
        Some((&old.id, rows)),
    )
    .await?;
    Ok(Rerun {
        submitted,
        workflow: which,
    })
}

/// The empty file that marks a run folder as a claim whose record is not written yet.
pub const CLAIM_MARK: &str = ".claim";

/// Push again the job of every queued run the queue does not know (kobo stopped
/// between writing the record and pushing the job). Returns the runs pushed.
pub async fn requeue_missing(
    home: &Path,
    records: &Records,
    queue: &mut JobQueue,
) -> Result<Vec<RunId>, SubmitError> {
    requeue_missing_older_than(home, records, queue, Duration::ZERO, None).await
}

/// Tells which running runs lost their worker: a run whose heartbeat (see
/// [`Records::beat`]) has not changed for `stalled_after`, timed on this process's clock
/// (workers' clocks may be off; only the change of their heartbeat counts).
#[derive(Debug)]
pub struct StallWatch {
    stalled_after: Duration,
    seen: std::collections::HashMap<RunId, (String, std::time::Instant)>,
}

impl StallWatch {
    pub fn new(stalled_after: Duration) -> StallWatch {
        StallWatch {
            stalled_after,
            seen: Default::default(),
        }
    }

    /// Look at the heartbeats now; the runs whose heartbeat stood still long enough.
    pub async fn stalled(&mut self, records: &Records) -> Result<Vec<RunRecord>, StoreError> {
        let now = std::time::Instant::now();
        let beats = records.heartbeats().await?;
        self.seen.retain(|id, _| beats.iter().any(|(b, _)| b == id));
        let mut stalled = Vec::new();
        for (id, beat) in beats {
            match self.seen.get(&id) {
                Some((last, since)) if *last == beat => {
                    if now.duration_since(*since) >= self.stalled_after
                        && let Some(r) = records.get(&id).await?
                    {
                        stalled.push(r);
                    }
                }
                _ => {
                    self.seen.insert(id, (beat, now));
                }
            }
        }
        Ok(stalled)
    }
}

/// [`requeue_missing`] for runs queued at least `age` ago only, so a run whose job is
/// being pushed right now is left alone. `kobo serve` calls it every few seconds while
/// it runs: a push that failed because the queue was unreachable (Redis restarting),
/// or a job a Redis without persistence forgot, is pushed again once the queue is back.
/// With a `watch`, the same for runs still `running` whose heartbeat stood still (see [`StallWatch`]) and
/// whose job is gone (their worker lost it with a Redis that forgot everything): the next
/// worker takes the run over, as after a crash.
pub async fn requeue_missing_older_than(
    home: &Path,
    records: &Records,
    queue: &mut JobQueue,
    age: Duration,
    watch: Option<&mut StallWatch>,
) -> Result<Vec<RunId>, SubmitError> {
    let mut pushed = Vec::new();
    let before = chrono::Utc::now() - chrono::Duration::from_std(age).unwrap_or_default();
    let queued = records.with_status(RunStatus::Queued).await?;
    let waiting = queued.into_iter().filter(|r| r.created_at <= before);
    let stalled = match watch {
        Some(watch) => watch.stalled(records).await?,
        None => Vec::new(),
    };
    for r in waiting.chain(stalled) {
        if queue.has_job(&r.id).await? {
            continue;
        }
        push_again(home, records, queue, &r).await?;
        pushed.push(r.id);
    }
    Ok(pushed)
}

/// Push the job of a recorded run again, from what its folder and record kept.
async fn push_again(
    home: &Path,
    records: &Records,
    queue: &mut JobQueue,
    r: &RunRecord,
) -> Result<(), SubmitError> {
    crate::run_files::send(records, home, &r.id, &r.folder).await?;
    let folder = home.join(&r.folder);
    let source =
        std::fs::read_to_string(folder.join("workflow.yaml")).map_err(|e| SubmitError::Folder {
            path: folder.display().to_string(),
            message: e.to_string(),
        })?;
    let w = Workflow::parse(Path::new(&r.workflow_file), &source);
    let input = match &w {
        Ok(w) => single_input(w)?,
        Err(_) => "input".into(),
    };
    let job = RunJob {
        run_id: r.id.clone(),
        client: r.client.clone(),
        workflow: r.workflow.clone(),
        workflow_file: r.workflow_file.clone(),
        workflow_source: source,
        inputs: BTreeMap::from([(input, r.input_name.clone().unwrap_or_default())]),
    };
    queue.push(job).await?;
    Ok(())
}

/// Record as queued every run folder whose input was taken but which has no record, so
/// that [`requeue_missing`] queues it: kobo stopped between moving a client's file into
/// the folder and recording the run, or the records could not be written then. A folder
/// whose claim stopped before the input was moved in holds nothing of the client's (the
/// file is still in the inbox) and is removed. Folders changed less than `age` ago are
/// left alone: their claim may be under way. Returns the runs recorded.
///
/// The workflow is the copy the folder kept; the catalogue of `workflows` gives its file's
/// name. A `kobo rerun` interrupted the same way becomes an ordinary run of its input.
pub async fn adopt_unrecorded(
    home: &Path,
    records: &Records,
    workflows: &Path,
    age: std::time::Duration,
) -> Result<Vec<RunId>, SubmitError> {
    let mut adopted = Vec::new();
    let Ok(entries) = std::fs::read_dir(DataDir::new(home).runs()) else {
        return Ok(adopted);
    };
    let mut catalogue: Option<Catalogue> = None;
    for entry in entries.flatten() {
        let Some(id) = RunId::parse(&entry.file_name().to_string_lossy()) else {
            continue;
        };
        let root = entry.path();
        // Only claims (`submit` marks them until their record exists): never a folder
        // that `kobo run` is still filling, or one a run that started has a log in.
        if !root.join(CLAIM_MARK).exists() || root.join("log.jsonl").exists() {
            continue;
        }
        let young = std::fs::metadata(&root)
            .and_then(|m| m.modified())
            .map(|t| t.elapsed().unwrap_or_default() < age)
            .unwrap_or(true);
        if young || records.get(&id).await?.is_some() {
            continue;
        }
        let folder_err = |e: std::io::Error| SubmitError::Folder {
            path: root.display().to_string(),
            message: e.to_string(),
        };
        // A half-copied input (`.part-…`, a rerun's copy cut short) is not the client's file.
        let inputs: Vec<PathBuf> = std::fs::read_dir(root.join("input"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        !p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with(".part-"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let [input] = inputs.as_slice() else {
            if inputs.is_empty() {
                std::fs::remove_dir_all(&root).map_err(folder_err)?;
                tracing::warn!(
                    "removed `{}`: a claim that stopped before it took its file",
                    root.display()
                );
            }
            continue;
        };
        let source = std::fs::read_to_string(root.join("workflow.yaml")).map_err(folder_err)?;
        let kept = root.join("workflow.yaml");
        let Ok(copy) = Workflow::parse(&kept, &source) else {
            tracing::warn!(
                "`{}` holds a file but no record, and its workflow.yaml cannot be read; it stays there",
                root.display()
            );
            continue;
        };
        let catalogue = catalogue.get_or_insert_with(|| Catalogue::load(workflows));
        let file = catalogue
            .get(&copy.client, &copy.name)
            .map_or(kept, |w| w.file.clone());
        let w = Workflow::parse(&file, &source).unwrap_or(copy);
        let name = input
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let (hash, _) = crate::run_folder::file_sha256(input).map_err(folder_err)?;
        let relative = DataDir::run_relative(&id);
        let record = RunRecord::new(&id, &w, Some((name, hash)), RunStatus::Queued, &relative);
        records.insert(&record).await?;
        let _ = std::fs::remove_file(root.join(CLAIM_MARK));
        tracing::warn!(
            run = %id,
            "`{}` had been taken into its run folder but not recorded; recorded it as queued",
            input.display()
        );
        adopted.push(id);
    }
    Ok(adopted)
}
