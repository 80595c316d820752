//! How much one run may write (`limits.yaml`): more output files, or bigger ones, than the
//! admin allows fail the run at the step that would pass the bound; a workflow may ask for
//! more, up to what the admin allows at most. (Memory is bounded in the run's own process:
//! tests/faults.rs.)

use runner::record::Records;
use runner::{RunOptions, RunStatus, Workflow};
use std::path::Path;

async fn run(limits: &str, steps: &str, workflow_limits: &str) -> runner::RunOutcome {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("limits.yaml"), limits).unwrap();
    let input = home.path().join("in.csv");
    std::fs::write(&input, "n\n1\n2\n3\n").unwrap();
    let text = format!(
        "name: bounded\nclient: t\nauthor: olena\n{workflow_limits}inputs: {{ data: {{}} }}\nsteps:\n{steps}"
    );
    let w = Workflow::parse(Path::new("bounded.yaml"), &text).unwrap();
    let records = Records::open(&home.path().join("records.db"))
        .await
        .unwrap();
    let mut opts = RunOptions::new(home.path());
    opts.inputs.insert("data".into(), input);
    let outcome = runner::execute(&w, &records, opts).await.unwrap();
    // Keep the folder alive until the outcome is read.
    std::mem::forget(home);
    outcome
}

const THREE_FILES: &str = "  - write: { file: a.csv, table: data }\n  - write: { file: b.csv, table: data }\n  - write: { file: c.csv, table: data }\n";

#[tokio::test]
async fn more_output_files_than_the_bound_fail_at_the_step_that_passes_it() {
    let o = run("run: { outputs: 2 }\n", THREE_FILES, "").await;
    assert_eq!(o.status, RunStatus::Failed);
    let e = o.error.unwrap();
    assert!(e.starts_with("step #3 write (line 8)"), "{e}");
    assert!(e.contains("more than 2 output files"), "{e}");
    // Writing the same file again is not a new file.
    let again =
        "  - write: { file: a.csv, table: data }\n  - write: { file: a.csv, table: data }\n";
    let o = run("run: { outputs: 1 }\n", again, "").await;
    assert_eq!(o.status, RunStatus::Succeeded, "{:?}", o.error);
}

#[tokio::test]
async fn a_workflow_may_ask_for_more_up_to_what_the_admin_allows() {
    let limits = "run: { outputs: 2 }\nmost: { outputs: 3 }\n";
    let o = run(limits, THREE_FILES, "limits: { outputs: 3 }\n").await;
    assert_eq!(o.status, RunStatus::Succeeded, "{:?}", o.error);
    let o = run(limits, THREE_FILES, "limits: { outputs: 50 }\n").await;
    assert_eq!(o.status, RunStatus::Failed);
    let e = o.error.unwrap();
    assert!(e.contains("asks for `limits: { outputs: 50 }`"), "{e}");
    assert!(e.contains("at most 3"), "{e}");
}

#[tokio::test]
async fn outputs_bigger_than_the_bound_fail_and_the_file_is_not_kept() {
    // About 1.5 MB of text in one cell per row.
    let steps = "  - compute: { table: data, column: big, value: \"{{ 'x' * 500000 }}\" }\n  - write: { file: big.csv, table: data }\n";
    let o = run("run: { output_mb: 1 }\n", steps, "").await;
    assert_eq!(o.status, RunStatus::Failed);
    let e = o.error.unwrap();
    assert!(e.contains("more than 1 MB"), "{e}");
    assert!(!o.folder.join("outputs/big.csv").exists());
}

#[tokio::test]
async fn a_broken_limits_file_is_named() {
    let o = run("run: { memory: 10 }\n", "  - log: hi\n", "").await;
    assert_eq!(o.status, RunStatus::Failed);
    let e = o.error.unwrap();
    assert!(e.contains("limits.yaml"), "{e}");
    assert!(e.contains("memory_mb"), "{e}");
}
