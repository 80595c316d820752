//! The queue as a user meets it: the real `kobo` binary serving a temporary data
//! directory, files dropped into its inbox, runs checked in its records.
//!
//! - inbox: partial files, growing files, duplicates, rejects, unknown folders, files there at start
//! - runs: a workflow error fails at once (no retry); `--run-timeout`; cancel (queued and running); rerun
//! - crash recovery: `kill -9` of `kobo serve` mid-run (SQLite), of one of two `kobo worker`s (Redis)
//! - scaled out: workers with no folder in common with the server (Redis + PostgreSQL records)
//! - the dashboard `kobo serve` starts: its cookies (`--secure-cookies`)
//! - browser runs: a fresh browser started ahead for each run after the first (`--no-warm-browser`: none)

mod common;
#[path = "../runner/tests/support/pg.rs"]
mod pg;

use common::{KOBO, Kobo, Session, count, files_in, request, summary};
use runner::record::RunRecord;
use runner::{RunId, RunStatus};
use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn inbox_takes_whole_files_once_and_explains_what_it_refuses() {
    let mut k = Kobo::new();
    // There before kobo starts: picked up.
    k.drop_csv("quick", "early.csv", "early");
    // Partial and temporary names: never taken.
    let inbox = k.inbox("quick");
    for name in [
        "~$book.xlsx",
        ".~lock.book.xlsx#",
        "upload.csv.part",
        "x.crdownload",
        "x.tmp",
        ".hidden.csv",
    ] {
        std::fs::write(inbox.join(name), "n\n1\n").unwrap();
    }
    // A folder for a client nobody knows: a log line, the file stays, nothing crashes.
    let stray = k.home().join("inbox/nobody/report");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("a.csv"), "n\n1\n").unwrap();
    k.start("serve", &["--max-file-mb", "1"]);
    k.wait_for(20, "the file present at start", |r| {
        count(r, RunStatus::Succeeded) == 1
    })
    .await;

    // A file still growing is taken only once it stopped changing, whole.
    let growing = inbox.join("growing.csv");
    std::fs::write(&growing, "n\n").unwrap();
    for i in 0..12 {
        use std::io::Write;
        tokio::time::sleep(Duration::from_millis(100)).await;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&growing)
            .unwrap()
            .write_all(format!("{i}\n").as_bytes())
            .unwrap();
    }
    let runs = k
        .wait_for(20, "the grown file", |r| {
            count(r, RunStatus::Succeeded) == 2
        })
        .await;
    let grown = runs
        .iter()
        .find(|r| r.input_name.as_deref() == Some("growing.csv"))
        .unwrap();
    let kept =
        std::fs::read_to_string(k.home().join(&grown.folder).join("input/growing.csv")).unwrap();
    assert_eq!(
        kept.lines().count(),
        13,
        "the run got the whole file: {kept:?}"
    );

    // The same content again, under another name: set aside with the reason, not run.
    k.drop_csv("quick", "early-again.csv", "early");
    // Not a spreadsheet, and too large: rejected with the reason next to them.
    std::fs::write(inbox.join("scan.pdf"), b"%PDF-1.4 not a sheet").unwrap();
    std::fs::write(
        inbox.join("big.csv"),
        "n\n".to_string() + &"1234567890\n".repeat(200_000),
    )
    .unwrap();
    std::fs::write(
        inbox.join("fake.xlsx"),
        "<html>a web page saved as xlsx</html>",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while files_in(&inbox.join("rejected")).len() < 6
        || files_in(&inbox.join("duplicates")).len() < 2
    {
        assert!(
            Instant::now() < deadline,
            "rejects: {:?}, duplicates: {:?}",
            files_in(&inbox.join("rejected")),
            files_in(&inbox.join("duplicates"))
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let why =
        std::fs::read_to_string(inbox.join("duplicates/early-again.csv.duplicate.txt")).unwrap();
    assert!(why.contains("kobo rerun"), "{why}");
    assert!(
        std::fs::read_to_string(inbox.join("rejected/scan.pdf.rejected.txt"))
            .unwrap()
            .contains("not a spreadsheet")
    );
    assert!(
        std::fs::read_to_string(inbox.join("rejected/big.csv.rejected.txt"))
            .unwrap()
            .contains("up to 1.0 MB")
    );
    assert!(inbox.join("rejected/fake.xlsx.rejected.txt").exists());

    // Still exactly two runs; partial files and the stray folder are untouched.
    let runs = k.records().await.recent(100).await.unwrap();
    assert_eq!(runs.len(), 2, "{:#?}", summary(&runs));
    for name in [
        "~$book.xlsx",
        ".~lock.book.xlsx#",
        "upload.csv.part",
        "x.crdownload",
        "x.tmp",
        ".hidden.csv",
    ] {
        assert!(inbox.join(name).exists(), "{name} must stay");
    }
    assert!(stray.join("a.csv").exists());
    assert!(
        k.log("serve")
            .contains("no workflow `report` for client `nobody`"),
        "{}",
        k.log("serve")
    );
}

#[tokio::test]
async fn workflow_errors_fail_at_once_and_timeouts_stop_runs() {
    let mut k = Kobo::new();
    k.start("serve", &["--run-timeout", "1"]);
    k.drop_csv("broken-data", "a.csv", "a");
    k.drop_csv("very-slow", "b.csv", "b");
    let runs = k
        .wait_for(30, "both runs to fail", |r| {
            count(r, RunStatus::Failed) == 2
        })
        .await;
    let broken = runs.iter().find(|r| r.workflow == "broken-data").unwrap();
    assert_eq!(broken.attempt, 1, "a workflow error is not retried");
    assert!(
        broken
            .error
            .as_deref()
            .unwrap()
            .contains("the data is wrong")
    );
    let slow = runs.iter().find(|r| r.workflow == "very-slow").unwrap();
    assert!(
        slow.error.as_deref().unwrap().contains("--run-timeout"),
        "{:?}",
        slow.error
    );
    assert!(slow.duration_ms.unwrap() < 10_000);
}

#[tokio::test]
async fn cancel_and_rerun_from_the_command_line() {
    let mut k = Kobo::new();
    // No workers yet: the run waits in the queue and is cancelled there.
    k.start("serve", &["--workers", "0"]);
    k.drop_csv("quick", "wait.csv", "wait");
    let runs = k
        .wait_for(20, "a queued run", |r| count(r, RunStatus::Queued) == 1)
        .await;
    let queued = runs[0].id.clone();
    let out = k.run(&["cancel", &queued.0]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("now cancelled"));

    // A worker starts: the cancelled run stays cancelled; a long run is cancelled while running.
    k.start("worker", &["--workers", "2"]);
    k.drop_csv("very-slow", "long.csv", "long");
    let runs = k
        .wait_for(20, "the long run to start", |r| {
            count(r, RunStatus::Running) == 1
        })
        .await;
    let long = runs
        .iter()
        .find(|r| r.status == RunStatus::Running)
        .unwrap()
        .id
        .clone();
    k.run(&["cancel", &long.0[..10]]);
    let runs = k
        .wait_for(10, "the long run to be cancelled", |r| {
            count(r, RunStatus::Cancelled) == 2
        })
        .await;
    let r = runs.iter().find(|r| r.id == long).unwrap();
    assert!(r.duration_ms.unwrap() < 8_000, "{:?}", r.duration_ms);

    // Rerun the cancelled queued run: a new run with its own id, from the kept input.
    let out = k.run(&["rerun", &queued.0]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&format!("a rerun of {queued}")), "{said}");
    // Each thing said once: where it runs, and what happens to the earlier rows.
    assert_eq!(said.matches("runs it;").count(), 1, "{said}");
    let runs = k
        .wait_for(20, "the rerun", |r| count(r, RunStatus::Succeeded) == 1)
        .await;
    let rerun = runs
        .iter()
        .find(|r| r.status == RunStatus::Succeeded)
        .unwrap();
    assert_ne!(rerun.id, queued);
    assert_eq!(rerun.rerun_of.as_deref(), Some(queued.0.as_str()));
    assert_eq!(
        runs.iter().find(|r| r.id == queued).unwrap().status,
        RunStatus::Cancelled
    );
}

#[tokio::test]
async fn a_killed_serve_leaves_its_run_to_the_next_one() {
    let mut k = Kobo::new();
    let pid = k.start("serve", &[]);
    k.drop_csv("slow", "a.csv", "a");
    let runs = k
        .wait_for(20, "the run to start", |r| {
            count(r, RunStatus::Running) == 1
        })
        .await;
    let id: RunId = runs[0].id.clone();
    k.kill(pid);
    k.start("serve", &[]);
    let runs = k
        .wait_for(40, "the run to finish after the restart", |r| {
            count(r, RunStatus::Succeeded) == 1
        })
        .await;
    assert_eq!(runs.len(), 1, "exactly one run: {:#?}", summary(&runs));
    assert_eq!(runs[0].id, id);
    assert_eq!(
        runs[0].attempt,
        2,
        "the second serve ran it again: {:#?}",
        summary(&runs)
    );
    let log = std::fs::read_to_string(k.home().join(&runs[0].folder).join("log.jsonl")).unwrap();
    assert!(log.contains("rows already done are kept"), "{log}");
}

/// A redis-server of its own on a free loopback port, stopped when dropped.
struct Redis {
    child: Child,
    url: String,
    port: u16,
    persistent: bool,
    dir: tempfile::TempDir,
}

impl Redis {
    /// Without persistence: a restart empties it.
    fn start() -> Redis {
        Redis::start_with(false)
    }

    /// With an append-only file fsynced on every write (`--appendonly yes --appendfsync
    /// always`), as docs/deploy.md asks for: a restart keeps the jobs.
    fn start_persistent() -> Redis {
        Redis::start_with(true)
    }

    fn start_with(persistent: bool) -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let child = Redis::spawn(port, persistent, dir.path());
        Redis {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
            port,
            persistent,
            dir,
        }
    }

    fn spawn(port: u16, persistent: bool, dir: &Path) -> Child {
        let mut args = vec![
            "--port".to_string(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            "".into(),
        ];
        if persistent {
            args.extend(["--appendonly", "yes", "--appendfsync", "always"].map(String::from));
        } else {
            args.extend(["--appendonly", "no"].map(String::from));
        }
        let child = Command::new("redis-server")
            .args(&args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server ({e}); install it with `apt-get install redis-server`"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start listening on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    }

    /// SIGKILL, then a new redis-server on the same port (and the same folder).
    fn kill_and_restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.child = Redis::spawn(self.port, self.persistent, self.dir.path());
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether worker process `pid` (named `<host>-<pid>`) holds or ran `r` last.
fn ran_on(r: &RunRecord, pid: u32) -> bool {
    r.worker
        .as_deref()
        .is_some_and(|w| w.ends_with(&format!("-{pid}")))
}

/// Wait until worker `pid` has finished a run and started another, then SIGKILL it; the
/// run it was in the middle of.
async fn kill_in_second_run(k: &mut Kobo, pid: u32) -> RunId {
    let runs = k
        .wait_for(30, "the worker to finish a run and start another", |r| {
            r.iter()
                .any(|r| r.status == RunStatus::Succeeded && ran_on(r, pid))
                && r.iter()
                    .any(|r| r.status == RunStatus::Running && ran_on(r, pid))
        })
        .await;
    let killed = runs
        .iter()
        .find(|r| r.status == RunStatus::Running && ran_on(r, pid))
        .unwrap()
        .id
        .clone();
    k.kill(pid);
    killed
}

#[tokio::test]
async fn two_redis_workers_share_the_runs_and_survive_a_kill() {
    let redis = Redis::start();
    let mut k = Kobo::new();
    k.add_workflow("step", "  - pause: 1\n");
    k.start("serve", &["--queue", &redis.url, "--workers", "0"]);
    let a = k.start("worker", &["--queue", &redis.url, "--workers", "1"]);
    k.start("worker", &["--queue", &redis.url, "--workers", "1"]);
    const N: usize = 8;
    for i in 0..N {
        k.drop_csv("step", &format!("f{i}.csv"), &format!("{i}"));
    }
    // Kill worker A in the middle of a run, once it has finished one.
    let killed_run = kill_in_second_run(&mut k, a).await;
    let runs = k
        .wait_for(60, "all runs to finish", |r| {
            r.len() == N && count(r, RunStatus::Succeeded) == N
        })
        .await;
    assert_eq!(runs.len(), N, "exactly N runs: {:#?}", summary(&runs));
    let workers: BTreeSet<&str> = runs.iter().filter_map(|r| r.worker.as_deref()).collect();
    assert_eq!(
        workers.len(),
        2,
        "runs spread over both workers: {:#?}",
        summary(&runs)
    );
    let killed = runs.iter().find(|r| r.id == killed_run).unwrap();
    assert_eq!(
        killed.attempt,
        2,
        "the killed worker's run ran again elsewhere: {:#?}",
        summary(&runs)
    );
    assert!(!ran_on(killed, a), "{:#?}", summary(&runs));
}

/// Scaled out as docs/deploy.md says: `kobo serve` with the inboxes and the dashboard on
/// one machine, two `kobo worker`s each with a data directory of its own (no folder in
/// common), jobs in Redis and records in PostgreSQL. Inputs reach the workers and outputs
/// come back through the records: the server approves and delivers them, byte for byte.
#[tokio::test]
async fn workers_without_a_shared_folder_get_inputs_and_send_outputs_through_postgres() {
    let redis = Redis::start();
    let schema = pg::PgSchema::new().await;
    let mut k = Kobo::new();
    k.records_url = Some(schema.url());
    k.add_workflow(
        "double",
        "  - pause: 1\n  - compute: { table: data, column: doubled, value: \"{{ row['n'] * 2 }}\" }\n  - write: { file: doubled.csv, table: data }\n",
    );
    std::fs::write(
        k.home().join("rates.yaml"),
        "rates:\n  - { client: t, per_run: 100 }\n",
    )
    .unwrap();
    let (machine_a, machine_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    k.start("serve", &["--queue", &redis.url, "--workers", "0"]);
    let a = k.start_in(
        machine_a.path(),
        "worker",
        &["--queue", &redis.url, "--workers", "1"],
    );
    k.start_in(
        machine_b.path(),
        "worker",
        &["--queue", &redis.url, "--workers", "1"],
    );
    const N: usize = 6;
    for i in 0..N {
        k.drop_csv("double", &format!("f{i}.csv"), &format!("{}", 10 + i));
    }
    // Worker A is killed in the middle of its second run; B (another machine) takes it over.
    let killed_run = kill_in_second_run(&mut k, a).await;
    let runs = k
        .wait_for(60, "all runs to finish", |r| {
            r.len() == N && count(r, RunStatus::Succeeded) == N
        })
        .await;
    let workers: BTreeSet<&str> = runs.iter().filter_map(|r| r.worker.as_deref()).collect();
    assert_eq!(
        workers.len(),
        2,
        "runs spread over both workers: {:#?}",
        summary(&runs)
    );
    let killed = runs.iter().find(|r| r.id == killed_run).unwrap();
    assert_eq!(killed.attempt, 2, "{:#?}", summary(&runs));
    assert!(!ran_on(killed, a), "{:#?}", summary(&runs));

    // No folder in common: the server has none of the outputs before it is asked for them.
    for run in &runs {
        let output = Path::new(&run.folder).join("outputs/doubled.csv");
        assert!(
            !k.home().join(&output).exists(),
            "the server shares no folder"
        );
    }
    // A reviewer opens a run on the server's dashboard: the page lists the worker's output,
    // and the file downloads byte for byte.
    k.add_user("kenji", "reviewer", "kenji-password");
    // The workflows' author: an approval credits a known trainee only.
    k.add_user("olena", "trainee", "olena-password");
    let kenji = Session::login(&k, 0, "kenji", "kenji-password");
    let first = &runs[0];
    let page = kenji.get(&format!("/runs/{}", first.id));
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("doubled.csv"), "{page}");
    // The row results written when the run ended came along with the outputs.
    assert!(
        k.home().join(&first.folder).join("rows.jsonl").is_file(),
        "rows.jsonl travels with the run"
    );
    let download = kenji.get(&format!("/runs/{}/files/outputs/doubled.csv", first.id));
    assert!(download.starts_with("HTTP/1.1 200"), "{download}");
    let body = download.split_once("\r\n\r\n").unwrap().1;
    let on_worker = [machine_a.path(), machine_b.path()]
        .into_iter()
        .find_map(|m| {
            std::fs::read_to_string(m.join(&first.folder).join("outputs/doubled.csv")).ok()
        })
        .unwrap();
    assert_eq!(body, on_worker);

    let records = k.records().await;
    let reviewer = runner::User {
        name: "kenji".into(),
        role: runner::Role::Reviewer,
        client: None,
        lang: None,
        disabled: false,
    };
    for run in &runs {
        // Each run ran on one worker machine: its output is there, not on the server…
        let output = Path::new(&run.folder).join("outputs/doubled.csv");
        let ran_on: Vec<&Path> = [machine_a.path(), machine_b.path()]
            .into_iter()
            .filter(|m| m.join(&output).exists())
            .collect();
        assert_eq!(ran_on.len(), 1, "{} ran on exactly one machine", run.id);
        // …and its input reached that machine through the records.
        let input = run.input_name.as_deref().unwrap();
        assert!(
            ran_on[0]
                .join(&run.folder)
                .join("input")
                .join(input)
                .exists()
        );

        // Approving on the server delivers the worker's output from the records.
        let approval = runner::review::approve(&records, k.home(), &run.id, &reviewer, None)
            .await
            .unwrap();
        let delivered = runner::data_dir::DataDir::new(k.home())
            .client_outbox("t")
            .join(&approval.deliveries[0].file_name);
        let n: i64 = std::fs::read_to_string(k.home().join(&run.folder).join("input").join(input))
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let text = std::fs::read_to_string(&delivered).unwrap();
        assert!(
            text.trim_start_matches('\u{feff}').lines().nth(1) == Some(&format!("{n},{}", 2 * n)),
            "{}: {text:?}",
            delivered.display()
        );
    }
    // `kobo show` on the server reads a worker's log from the records too.
    let out = k.run(&["show", &runs[0].id.0]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("doubled.csv"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn a_redis_restart_loses_no_file_and_no_run() {
    redis_restart(Redis::start_persistent(), true).await;
}

/// A Redis without persistence forgets every job when it restarts: `kobo serve` pushes
/// the jobs of queued runs again, and of running runs once their worker stopped beating.
#[tokio::test]
async fn a_redis_without_persistence_restarted_loses_no_run() {
    redis_restart(Redis::start(), true).await;
}

/// Files dropped, Redis SIGKILLed while runs are queued (and, with `running`, some run),
/// started again on the same port, a file dropped after: every file ends as exactly one
/// succeeded run, its file kept in the run folder.
async fn redis_restart(mut redis: Redis, running: bool) {
    let mut k = Kobo::new();
    k.add_workflow("step", "  - pause: 1\n");
    k.start("serve", &["--queue", &redis.url, "--workers", "0"]);
    if running {
        k.start("worker", &["--queue", &redis.url, "--workers", "2"]);
    }
    const N: usize = 6;
    let mut names: Vec<String> = (0..N).map(|i| format!("f{i}.csv")).collect();
    for (i, name) in names.iter().enumerate() {
        k.drop_csv("step", name, &format!("{i}"));
    }
    // Kill Redis while runs are running and others still wait in the queue.
    k.wait_for(30, "all files queued (and a run running)", |r| {
        r.len() == N
            && count(r, RunStatus::Queued) >= 1
            && (!running || count(r, RunStatus::Running) >= 1)
    })
    .await;
    redis.kill_and_restart();
    if !running {
        k.start("worker", &["--queue", &redis.url, "--workers", "2"]);
    }
    // A file dropped after the restart gets its run too.
    k.drop_csv("step", "late.csv", "late");
    names.push("late.csv".into());
    let runs = k
        .wait_for(40, "every file to end as a run after the restart", |r| {
            r.len() == N + 1 && count(r, RunStatus::Succeeded) == N + 1
        })
        .await;
    // Exactly one run per file, each with its file kept in its run folder.
    let inputs: Vec<&str> = runs
        .iter()
        .filter_map(|r| r.input_name.as_deref())
        .collect();
    let unique: BTreeSet<&str> = inputs.iter().copied().collect();
    assert_eq!(
        inputs.len(),
        unique.len(),
        "one run per file: {:#?}",
        summary(&runs)
    );
    assert_eq!(
        unique,
        names.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        "{:#?}",
        summary(&runs)
    );
    for r in &runs {
        let kept = k
            .home()
            .join(&r.folder)
            .join("input")
            .join(r.input_name.as_deref().unwrap());
        assert!(kept.exists(), "{} lost its file {}", r.id, kept.display());
    }
    assert!(
        files_in(&k.inbox("step"))
            .iter()
            .all(|f| !f.ends_with(".csv")),
        "{:?}",
        files_in(&k.inbox("step"))
    );
}

#[test]
fn an_unwritable_data_directory_is_named_with_what_to_do() {
    // Nobody, not even root, can create a folder under /proc.
    let home = "/proc/kobo-cannot-write-here";
    let k = Kobo::new();
    let wf = k.workflows.path();
    let csv = k.home().join("data.csv");
    std::fs::write(&csv, "n\n1\n").unwrap();
    let input = format!("data={}", csv.display());
    let quick = wf.join("quick.yaml");
    let commands: [Vec<&str>; 3] = [
        vec!["run", quick.to_str().unwrap(), "--input", &input],
        vec![
            "serve",
            "--workflows",
            wf.to_str().unwrap(),
            "--dashboard",
            "127.0.0.1:0",
        ],
        vec!["runs"],
    ];
    for args in commands {
        let out = Command::new(KOBO)
            .args(&args)
            .env("KOBO_HOME", home)
            .env("KOBO_LOG", "warn")
            .output()
            .unwrap();
        assert!(!out.status.success(), "kobo {args:?} must fail");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "error: kobo cannot write to its data directory `/proc/kobo-cannot-write-here` (No such file or directory (os error 2)); set KOBO_HOME (or --home) to a folder this user can write\n",
            "kobo {args:?}"
        );
    }
}

/// SIGTERM (a service manager stopping kobo) while a browser run is in flight: `kobo serve`
/// and `kobo worker` stop, and neither Chromium nor chromedriver is left behind (both name a
/// directory in TMPDIR on their command line).
#[tokio::test]
async fn sigterm_stops_serve_and_worker_without_leaving_a_browser() {
    let portal = portal::start().await.unwrap();
    for cmd in ["serve", "worker"] {
        let tmp = tempfile::tempdir().unwrap();
        let mut k = Kobo::new();
        std::fs::write(
            k.workflows.path().join("browse.yaml"),
            format!(
                "name: browse\nclient: t\nauthor: olena\ninputs:\n  data:\n    columns: [n]\n\
                 params: {{ portal_url: \"{}\" }}\nretry: {{ attempts: 1 }}\nsteps:\n\
                 \x20 - open: \"{{{{ params.portal_url }}}}/login\"\n  - pause: 60\n",
                portal.url()
            ),
        )
        .unwrap();
        let tmpdir = tmp.path().to_str().unwrap();
        // `kobo worker` has no inbox: a `kobo serve` without workers takes the file.
        let pid = if cmd == "serve" {
            k.start_env("serve", &[], &[("TMPDIR", tmpdir)])
        } else {
            k.start("serve", &["--workers", "0"]);
            k.start_env("worker", &[], &[("TMPDIR", tmpdir)])
        };
        k.drop_csv("browse", "a.csv", "a");
        // The run starts in a process of its own, which starts the browser (slow on a busy machine).
        let deadline = Instant::now() + Duration::from_secs(60);
        while runner::browser::processes_mentioning(tmp.path()).len() < 2 {
            assert!(
                Instant::now() < deadline,
                "{cmd}: the browser never started\n{}",
                k.log(cmd)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(k.sigterm(pid).await, "{cmd}: did not stop on SIGTERM");
        let left = runner::browser::processes_mentioning(tmp.path());
        assert!(left.is_empty(), "{cmd}: browser processes left: {left:?}");
    }
}

/// The `Set-Cookie` lines of an answer.
fn set_cookies(answer: &str) -> Vec<&str> {
    answer
        .lines()
        .take_while(|l| !l.is_empty() && *l != "\r")
        .filter_map(|l| l.split_once(": "))
        .filter(|(h, _)| h.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, c)| c.trim_end())
        .collect()
}

/// `kobo serve --secure-cookies` (behind an https proxy) marks every cookie Secure; without
/// the flag, on plain http, it does not (a browser would drop them). Both are HttpOnly and
/// SameSite, so no script and no other site's form can use them.
#[test]
fn serve_sets_secure_cookies_when_asked() {
    let mut k = Kobo::new();
    k.add_user("kenji", "reviewer", "kenji-password");
    for secure in [true, false] {
        let from = k.log("serve").len();
        let extra: &[&str] = if secure { &["--secure-cookies"] } else { &[] };
        let pid = k.start("serve", extra);
        let line = k.wait_log("serve", from, "dashboard on http://");
        let addr = line.split("http://").nth(1).unwrap().trim().to_string();
        let page = request(&addr, "GET", "/login", "", "");
        let pre = common::cookie(&page, "kobo_login");
        let form = format!(
            "csrf={}&name=kenji&password=kenji-password",
            common::hidden(&page, "csrf")
        );
        let login = request(&addr, "POST", "/login", &pre, &form);
        assert!(login.starts_with("HTTP/1.1 303"), "{login}");
        let cookies: Vec<&str> = set_cookies(&page)
            .into_iter()
            .chain(set_cookies(&login))
            .collect();
        assert!(
            cookies.iter().any(|c| c.starts_with("kobo_login="))
                && cookies.iter().any(|c| c.starts_with("kobo_session=")),
            "{cookies:?}"
        );
        for c in &cookies {
            let flags: Vec<&str> = c.split("; ").skip(1).collect();
            assert!(flags.contains(&"HttpOnly"), "{c}");
            assert!(flags.contains(&"SameSite=Lax"), "{c}");
            assert_eq!(flags.contains(&"Secure"), secure, "{c}");
        }
        k.kill(pid);
    }
}

/// `kobo serve` keeps a browser started ahead of its next browser run: every run after the
/// first takes one instead of starting its own, each with a fresh profile (each run checks
/// that the page shows none of the cookie and local storage the run before it kept), one
/// browser waits between runs, and none is left when kobo stops (after a `kill -9`: when it
/// starts again). `--no-warm-browser` keeps none: each run starts its own and nothing runs
/// between runs.
#[tokio::test]
async fn serve_gives_each_browser_run_a_fresh_browser_started_ahead() {
    let portal = portal::start().await.unwrap();
    let remember = format!(
        "name: remember\nclient: t\nauthor: olena\ninputs:\n  data:\n    columns: [n]\n\
         params: {{ portal_url: \"{}\" }}\nretry: {{ attempts: 1 }}\nsteps:\n\
         \x20 - open: \"{{{{ params.portal_url }}}}/remember\"\n\
         \x20 - assert_text: \"ストレージ: なし / クッキー: なし\"\n\
         \x20 - click: 覚える\n\
         \x20 - assert_text: \"ストレージ: 覚えた / クッキー: あり\"\n",
        portal.url()
    );
    // Each run in a process of its own (the default), or inside the worker.
    let modes: [(bool, &[&str]); 3] = [
        (true, &["--workers", "1"]),
        (true, &["--workers", "1", "--in-process"]),
        (false, &["--workers", "1", "--no-warm-browser"]),
    ];
    for (warm, flags) in modes {
        let tmp = tempfile::tempdir().unwrap();
        let mut k = Kobo::new();
        std::fs::write(k.workflows.path().join("remember.yaml"), &remember).unwrap();
        let pid = k.start_env("serve", flags, &[("TMPDIR", tmp.path().to_str().unwrap())]);
        let mut how = Vec::new();
        for i in 1..=3 {
            k.drop_csv("remember", &format!("r{i}.csv"), &i.to_string());
            let runs = k
                .wait_for(90, &format!("run {i}"), |r| {
                    count(r, RunStatus::Succeeded) + count(r, RunStatus::Failed) == i
                })
                .await;
            let run = runs
                .iter()
                .find(|r| r.input_name.as_deref() == Some(&format!("r{i}.csv")))
                .unwrap();
            let log = std::fs::read_to_string(k.home().join(&run.folder).join("log.jsonl"))
                .unwrap_or_default();
            assert_eq!(
                run.status,
                RunStatus::Succeeded,
                "run {i}: {:?}\n{log}",
                run.error
            );
            how.push(if log.contains("browser started ahead of the run") {
                "ahead"
            } else if log.contains("browser started in") {
                "own"
            } else {
                panic!("run {i} says nothing of its browser:\n{log}")
            });
            // Between runs: one browser waits (started ahead, once after each run), or none.
            let waiting = if warm { 1 } else { 0 };
            let started_ahead = |log: String| {
                log.matches("a browser is started ahead for the next run")
                    .count()
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            while browser_folders(tmp.path()) != waiting
                || started_ahead(k.log("serve")) != i * waiting
            {
                assert!(
                    Instant::now() < deadline,
                    "{flags:?}, after run {i}: {} browser folders, expected {waiting}\n{}",
                    browser_folders(tmp.path()),
                    k.log("serve")
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let left = runner::browser::processes_mentioning(tmp.path());
            assert_eq!(
                left.is_empty(),
                waiting == 0,
                "browser processes between runs: {left:?}"
            );
        }
        if warm {
            // The worker starts no browser before its first browser run.
            assert_eq!(how, ["own", "ahead", "ahead"], "{}", k.log("serve"));
            assert!(
                k.log("serve")
                    .contains("the run uses a browser started ahead")
            );
        } else {
            assert_eq!(how, ["own", "own", "own"], "{}", k.log("serve"));
        }
        let pid = if warm {
            // Killed with SIGKILL, kobo cannot close the waiting browser; the next start does.
            k.kill(pid);
            assert!(!runner::browser::processes_mentioning(tmp.path()).is_empty());
            let pid = k.start_env("serve", flags, &[("TMPDIR", tmp.path().to_str().unwrap())]);
            let deadline = Instant::now() + Duration::from_secs(30);
            while !runner::browser::processes_mentioning(tmp.path()).is_empty()
                || browser_folders(tmp.path()) != 0
            {
                assert!(
                    Instant::now() < deadline,
                    "the browser a killed kobo left is still there\n{}",
                    k.log("serve")
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            pid
        } else {
            pid
        };
        assert!(k.sigterm(pid).await, "serve did not stop on SIGTERM");
        let left = runner::browser::processes_mentioning(tmp.path());
        assert!(left.is_empty(), "browser processes left: {left:?}");
        assert_eq!(browser_folders(tmp.path()), 0, "browser folders left");
    }
}

/// Browser folders (`kobo-browser-…`: a profile each) in `dir`.
fn browser_folders(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("kobo-browser-"))
        .count()
}
