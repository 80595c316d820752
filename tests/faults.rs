//! Faults as an operator meets them: the real `kobo serve` on a temporary data directory,
//! killed with SIGKILL at chosen points (`KOBO_FAULT_PAUSE_AT`, runner/src/fault.rs) and
//! started again, or writing to a full disk. After each: no client file lost, every file
//! one run, nothing delivered or paid twice, and the server goes on working.
//!
//! - claiming an inbox file: killed after the file moved into its run folder, before its
//!   record (`claim-move`); after its record, before its job was queued (`claim-push`)
//! - writing outputs: killed after the first of two outputs (`write-output`)
//! - approving: killed with the outputs copied to the outbox, the approval not committed (`approve`)
//! - a full disk under a run's outputs folder: the run fails and says so, the next file runs

mod common;

use common::{Kobo, Session, count, files_in, summary};
use runner::RunStatus;
use runner::fault::PAUSE_AT;
use runner::record::RunRecord;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes two outputs; the first one's name has the time in it, as workflows' often do.
const TWO_OUTPUTS: &str = "  - write: { file: \"stamp-{{ now }}.csv\", table: data }\n  - write: { file: report.csv, table: data }\n";

/// Start `kobo serve` stopping at `point`, drop a file, kill it there. Returns the log length
/// at the kill, where the next serve's log starts.
async fn kill_at(k: &mut Kobo, point: &str, workflow: &str, file: &str) -> usize {
    let pid = k.start_env("serve", &[], &[(PAUSE_AT, point)]);
    k.drop_csv(workflow, file, file);
    k.wait_log("serve", 0, &format!("fault point reached: {point}"));
    k.kill(pid);
    k.log("serve").len()
}

/// Every run has its folder with its input in it; no folder without a run.
fn assert_one_run_per_folder(k: &Kobo, runs: &[RunRecord]) {
    let ids: BTreeSet<String> = runs.iter().map(|r| r.id.0.clone()).collect();
    assert_eq!(
        files_in(&k.home().join("runs")),
        ids,
        "run folders and run records: {:#?}",
        summary(runs)
    );
    for r in runs {
        let name = r.input_name.as_deref().unwrap();
        let kept = k.home().join(&r.folder).join("input").join(name);
        let text = std::fs::read_to_string(&kept)
            .unwrap_or_else(|e| panic!("{} lost its file {}: {e}", r.id, kept.display()));
        assert_eq!(text, format!("n\n{name}\n"), "{}", kept.display());
    }
}

async fn killed_while_claiming(point: &str) {
    let mut k = Kobo::new();
    kill_at(&mut k, point, "quick", "a.csv").await;
    assert!(
        !k.inbox("quick").join("a.csv").exists(),
        "the claim had moved the file"
    );
    k.start("serve", &[]);
    k.drop_csv("quick", "b.csv", "b.csv");
    let runs = k
        .wait_for(20, "both files to end as runs", |r| {
            count(r, RunStatus::Succeeded) == 2
        })
        .await;
    assert_eq!(runs.len(), 2, "one run per file: {:#?}", summary(&runs));
    let inputs: BTreeSet<&str> = runs
        .iter()
        .filter_map(|r| r.input_name.as_deref())
        .collect();
    assert_eq!(inputs, BTreeSet::from(["a.csv", "b.csv"]));
    assert_one_run_per_folder(&k, &runs);
    assert!(
        files_in(&k.inbox("quick"))
            .iter()
            .all(|f| !f.ends_with(".csv")),
        "{:?}",
        files_in(&k.inbox("quick"))
    );
}

#[tokio::test]
async fn killed_after_moving_a_file_before_recording_it() {
    killed_while_claiming("claim-move").await;
}

#[tokio::test]
async fn killed_after_recording_a_file_before_queuing_it() {
    killed_while_claiming("claim-push").await;
}

#[tokio::test]
async fn killed_between_two_outputs_the_run_is_done_again_with_only_its_last_outputs() {
    let mut k = Kobo::new();
    k.add_workflow("two-outputs", TWO_OUTPUTS);
    kill_at(&mut k, "write-output", "two-outputs", "a.csv").await;
    let runs = k.records().await.recent(10).await.unwrap();
    assert_eq!(runs.len(), 1);
    let first_try = files_in(&k.home().join(&runs[0].folder).join("outputs"));
    assert_eq!(first_try.len(), 1, "{first_try:?}");

    k.start("serve", &[]);
    let runs = k
        .wait_for(30, "the run to be done again", |r| {
            count(r, RunStatus::Succeeded) == 1
        })
        .await;
    assert_eq!(runs.len(), 1, "{:#?}", summary(&runs));
    assert_eq!(runs[0].attempt, 2, "{:#?}", summary(&runs));
    assert_one_run_per_folder(&k, &runs);
    // What approval would deliver: the outputs recorded, each once, all from the last attempt.
    let detail = k.records().await.detail(&runs[0].id.0).await.unwrap();
    let outputs: BTreeSet<String> = detail
        .artifacts
        .iter()
        .filter(|a| a.kind == "output")
        .map(|a| a.name.clone())
        .collect();
    assert_eq!(
        outputs,
        files_in(&k.home().join(&runs[0].folder).join("outputs")),
        "recorded outputs are the files in the folder"
    );
    assert_eq!(outputs.len(), 2, "{outputs:?}");
    assert!(outputs.contains("report.csv"), "{outputs:?}");
}

async fn count_rows(k: &Kobo, table: &str) -> i64 {
    let sql = match table {
        "reviews" => "SELECT COUNT(*) FROM reviews",
        "ledger" => "SELECT COUNT(*) FROM ledger",
        _ => "SELECT COUNT(*) FROM deliveries",
    };
    sqlx::query_scalar(sql)
        .fetch_one(k.records().await.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn killed_while_approving_nothing_is_delivered_until_the_approval_is_done_again() {
    let mut k = Kobo::new();
    k.add_workflow("two-outputs", TWO_OUTPUTS);
    std::fs::write(
        k.home().join("rates.yaml"),
        "rates:\n  - client: t\n    per_run: 500\n    per_ok_row: 20\n",
    )
    .unwrap();
    k.add_user("kenji", "reviewer", "kenji-password");
    // The workflows' author: an approval credits a known trainee only.
    k.add_user("olena", "trainee", "olena-password");

    let pid = k.start_env("serve", &[], &[(PAUSE_AT, "approve")]);
    k.drop_csv("two-outputs", "a.csv", "a.csv");
    let runs = k
        .wait_for(20, "the run to succeed", |r| {
            count(r, RunStatus::Succeeded) == 1
        })
        .await;
    let id = runs[0].id.clone();
    let kenji = Session::login(&k, 0, "kenji", "kenji-password");
    let _pending = kenji.approve(&id);
    k.wait_log("serve", 0, "fault point reached: approve");
    let outbox = k.home().join("outbox/t");
    assert_eq!(files_in(&outbox).len(), 2, "the approval had copied both");
    k.kill(pid);

    // The approval never committed: the restarted serve takes its copies back.
    let from = k.log("serve").len();
    k.start("serve", &[]);
    let kenji = Session::login(&k, from, "kenji", "kenji-password");
    assert_eq!(
        files_in(&outbox),
        BTreeSet::new(),
        "nothing delivered without an approval"
    );
    for table in ["reviews", "ledger", "deliveries"] {
        assert_eq!(count_rows(&k, table).await, 0, "{table}");
    }

    // Approved again: delivered and paid once.
    let mut answer = String::new();
    kenji.approve(&id).read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    let delivered = files_in(&outbox);
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert!(delivered.iter().all(|f| f.contains(&id.0[..8])));
    assert_eq!(count_rows(&k, "deliveries").await, 2);
    assert_eq!(count_rows(&k, "ledger").await, 1);
    assert_eq!(count_rows(&k, "reviews").await, 1);
    // A second approval is refused and changes nothing.
    let mut answer = String::new();
    kenji.approve(&id).read_to_string(&mut answer).unwrap();
    assert_eq!(files_in(&outbox), delivered);
    assert_eq!(count_rows(&k, "ledger").await, 1);

    // And the restarted serve runs new files.
    k.drop_csv("two-outputs", "b.csv", "b.csv");
    let runs = k
        .wait_for(20, "the next file", |r| count(r, RunStatus::Succeeded) == 2)
        .await;
    assert_one_run_per_folder(&k, &runs);
}

/// A tmpfs of one page mounted on `dir` and filled up: a full disk. Unmounted when dropped.
struct FullDisk(PathBuf);

impl FullDisk {
    fn mount(dir: &Path) -> FullDisk {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4k", "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "this test makes a full disk with `mount -t tmpfs`, which needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let disk = FullDisk(dir.to_path_buf());
        let mut f = std::fs::File::create(dir.join(".filler")).unwrap();
        while f.write_all(&[0u8; 512]).is_ok() {}
        disk
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_fails_the_run_with_what_to_do_and_the_next_file_runs() {
    let mut k = Kobo::new();
    k.add_workflow("two-outputs", TWO_OUTPUTS);
    // No worker yet: the run waits while its outputs folder becomes a full disk.
    k.start("serve", &["--workers", "0"]);
    k.drop_csv("two-outputs", "a.csv", "a.csv");
    let runs = k
        .wait_for(20, "a queued run", |r| count(r, RunStatus::Queued) == 1)
        .await;
    let full = runs[0].clone();
    let _disk = FullDisk::mount(&k.home().join(&full.folder).join("outputs"));
    let worker = k.start("worker", &["--workers", "1"]);
    let runs = k
        .wait_for(20, "the run to fail", |r| count(r, RunStatus::Failed) == 1)
        .await;
    let failed = runs.iter().find(|r| r.id == full.id).unwrap();
    let error = failed.error.as_deref().unwrap();
    for part in [
        "outputs/stamp-",
        "the disk is full",
        "Free space on the disk that holds",
        "kobo rerun",
    ] {
        assert!(error.contains(part), "`{part}` in: {error}");
    }
    // The same worker goes on with the next file.
    k.drop_csv("two-outputs", "b.csv", "b.csv");
    let runs = k
        .wait_for(20, "the next file to run", |r| {
            count(r, RunStatus::Succeeded) == 1
        })
        .await;
    assert_eq!(runs.len(), 2, "{:#?}", summary(&runs));
    assert_one_run_per_folder(&k, &runs);
    assert!(
        k.children
            .iter_mut()
            .all(|c| c.try_wait().unwrap().is_none()),
        "serve and worker still run"
    );
    k.kill(worker);
}

/// Runs inside the service's own process (`--in-process`): a run that crashes the process
/// each time is not started again for ever.
#[tokio::test]
async fn a_run_that_crashes_its_worker_every_time_ends_failed_after_the_attempt_limit() {
    use runner::fault::ABORT_AT;
    use runner::queue::MAX_ATTEMPTS;
    let mut k = Kobo::new();
    let records = k.records().await;
    let crash = [(ABORT_AT, "finish-run")];
    let mut pid = k.start_env("serve", &["--in-process"], &crash);
    k.drop_csv("quick", "a.csv", "a.csv");
    // Started again whenever it dies, as systemd would.
    let mut starts = 1;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let run = loop {
        let runs = records.recent(10).await.unwrap();
        if let Some(r) = runs.iter().find(|r| r.status.is_finished()) {
            break r.clone();
        }
        if k.exited(pid) {
            assert!(
                starts <= MAX_ATTEMPTS + 1,
                "started {starts} times and the run still runs: {:#?}",
                summary(&runs)
            );
            pid = k.start_env("serve", &["--in-process"], &crash);
            starts += 1;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{:#?}",
            summary(&runs)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.attempt, MAX_ATTEMPTS as i64);
    assert_eq!(
        run.error.as_deref(),
        Some(
            format!(
                "the worker stopped during each of the 5 attempts of this run (a crash, or the process was killed), so kobo does not start it again; read the end of its log to see which step it reached, fix the workflow or the input, then `kobo rerun {}`",
                run.id
            )
            .as_str()
        )
    );
    assert_eq!(
        starts,
        MAX_ATTEMPTS + 1,
        "one start per attempt, then one that ends it"
    );
    // The server that ended it is still up and runs the next file.
    assert!(!k.exited(pid), "{}", k.log("serve"));
    k.kill(pid);
    k.start("serve", &[]);
    k.drop_csv("quick", "b.csv", "b.csv");
    k.wait_for(30, "the next file to run", |r| {
        count(r, RunStatus::Succeeded) == 1
    })
    .await;
}

/// The default: each run in a process of its own. A run whose process crashes ends failed at
/// once, naming the step it was in; the service stays up and runs the next file.
#[tokio::test]
async fn a_run_whose_process_crashes_fails_alone_and_the_service_goes_on() {
    use runner::fault::ABORT_AT;
    let mut k = Kobo::new();
    let pid = k.start_env("serve", &[], &[(ABORT_AT, "write-output")]);
    k.add_workflow("two-outputs", TWO_OUTPUTS);
    k.drop_csv("two-outputs", "a.csv", "a.csv");
    let runs = k
        .wait_for(30, "the crashed run to be recorded", |r| {
            count(r, RunStatus::Failed) == 1
        })
        .await;
    let error = runs[0].error.as_deref().unwrap();
    assert!(error.contains("stopped unexpectedly"), "{error}");
    assert!(error.contains("#1 write"), "{error}");
    assert_eq!(runs[0].error_step.as_deref(), Some("#1 write (line 8)"));
    assert!(!k.exited(pid), "the service stays up: {}", k.log("serve"));
    k.drop_csv("quick", "b.csv", "b.csv");
    k.wait_for(30, "the next file to run", |r| {
        count(r, RunStatus::Succeeded) == 1
    })
    .await;
}

/// A run whose process is stopped in the middle of a loop (here by its memory limit, in row
/// 4) shows the rows it finished, and never counts the row it was in as ok.
#[tokio::test]
async fn a_run_stopped_inside_a_loop_keeps_its_finished_rows_and_not_the_one_it_was_in() {
    let mut k = Kobo::new();
    std::fs::write(k.home().join("limits.yaml"), "run: { memory_mb: 64 }\n").unwrap();
    k.add_workflow(
        "greedy-row",
        "  - filter: { table: data, where: \"true\", into: copy }\n  - for_each: data\n    key: \"{{ row['n'] }}\"\n    steps:\n      - if: \"row['n'] == 4\"\n        then:\n          - compute: { table: copy, column: big, value: \"{{ 'x' * 5000000 }}\" }\n",
    );
    k.start("serve", &[]);
    let staging = k.home().join("staging.csv");
    let rows: String = (1..=40).map(|i| format!("{i}\n")).collect();
    std::fs::write(&staging, format!("n\n{rows}")).unwrap();
    std::fs::rename(&staging, k.inbox("greedy-row").join("big.csv")).unwrap();
    let runs = k
        .wait_for(60, "the run to be stopped", |r| {
            count(r, RunStatus::Failed) == 1
        })
        .await;
    let run = &runs[0];
    assert!(
        run.error
            .as_deref()
            .unwrap()
            .contains("more memory than its limit"),
        "{:?}",
        run.error
    );
    assert_eq!(
        (run.rows.ok, run.rows.total),
        (3, 3),
        "rows 1-3 ended ok; row 4, where it stopped, is not ok: {:?}",
        run.rows
    );
}

/// A run that needs more memory than the admin allows (`limits.yaml`) is stopped in its own
/// process and recorded as failed with the step and the bound; the next file runs.
#[tokio::test]
async fn a_run_past_its_memory_limit_fails_with_the_step_and_the_bound() {
    let mut k = Kobo::new();
    std::fs::write(k.home().join("limits.yaml"), "run: { memory_mb: 64 }\n").unwrap();
    // 5 MB a cell (under the 10 MB bound for one value), 40 cells: 200 MB.
    k.add_workflow(
        "greedy",
        "  - compute: { table: data, column: big, value: \"{{ 'x' * 5000000 }}\" }\n",
    );
    let pid = k.start("serve", &[]);
    let staging = k.home().join("staging.csv");
    let rows: String = (0..40).map(|i| format!("{i}\n")).collect();
    std::fs::write(&staging, format!("n\n{rows}")).unwrap();
    std::fs::rename(&staging, k.inbox("greedy").join("big.csv")).unwrap();
    let runs = k
        .wait_for(60, "the greedy run to fail", |r| {
            count(r, RunStatus::Failed) == 1
        })
        .await;
    let error = runs[0].error.as_deref().unwrap();
    assert!(
        error.contains("more memory than its limit of 64 MB"),
        "{error}"
    );
    assert!(error.contains("#1 compute"), "{error}");
    assert!(!k.exited(pid), "the service stays up: {}", k.log("serve"));
    k.drop_csv("quick", "b.csv", "b.csv");
    k.wait_for(30, "the next file to run", |r| {
        count(r, RunStatus::Succeeded) == 1
    })
    .await;
}
