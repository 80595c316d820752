//! Exactly once against a client's portal, as the co-op needs it: a bot enters 30 contacts
//! into the practice portal (which counts entries per e-mail address) while its browser,
//! its `kobo serve` or its `kobo worker` is killed with SIGKILL at rows along the way. After
//! each, every row is in the portal exactly once, or the one interrupted row is flagged in
//! doubt and is never entered a second time by kobo itself.
//!
//! Also: rows in doubt decided by a person (`kobo mark-done`), rerun choices
//! (`kobo rerun --rows failed|in-doubt|all`), and keys across runs (`for_each … key:`, `--again`).

mod common;
#[path = "../runner/tests/support/pg.rs"]
mod pg;

use common::{Kobo, Session, count, summary};
use runner::RunStatus;
use runner::fault::PAUSE_AT;
use runner::record::RunDetail;
use runner::run::RowStatus;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROWS: usize = 30;

/// The practice portal, on the test's runtime.
async fn portal() -> portal::PortalHandle {
    portal::start().await.unwrap()
}

fn email(i: usize) -> String {
    format!("c{i:02}@example.jp")
}

/// `rows` contacts, each with its own e-mail address.
fn contacts(rows: usize) -> String {
    let mut csv = String::from("氏名,会社名,電話番号,メール,住所,金額\n");
    for i in 1..=rows {
        csv.push_str(&format!(
            "山田 {i},会社{i},03-0000-{i:04},{},東京都 {i},{}\n",
            email(i),
            1000 + i
        ));
    }
    csv
}

/// A bot entering every contact into the portal at `url`, retried after a temporary problem
/// (a browser crash). `key`: the row's key line, if any.
fn entry_workflow(name: &str, url: &str, key: &str) -> String {
    format!(
        r#"name: {name}
client: t
author: olena
retry: {{ attempts: 4, backoff_secs: 0 }}
inputs:
  contacts: {{ columns: [氏名, 会社名, 電話番号, メール, 住所, 金額] }}
secrets: [portal_user, portal_password]
browser: {{ element_timeout_secs: 10 }}
steps:
  - open: "{url}/login"
  - fill: {{ label: ユーザーID, value: "{{{{ secrets.portal_user }}}}" }}
  - fill: {{ label: パスワード, value: "{{{{ secrets.portal_password }}}}" }}
  - click: ログイン
  - wait_for: {{ url_contains: /menu }}
  - for_each: contacts
{key}    on_error: mark_row_failed
    steps:
      - open: "{url}/form"
      - fill_form:
          fields:
            氏名: "{{{{ row['氏名'] }}}}"
            会社名: "{{{{ row['会社名'] }}}}"
            電話番号: "{{{{ row['電話番号'] }}}}"
            メール: "{{{{ row['メール'] }}}}"
            住所: "{{{{ row['住所'] }}}}"
            金額: "{{{{ row['金額'] }}}}"
      - click: 登録
      - assert_text: 登録しました
      - extract: {{ css: .receipt-no, into: 受付番号 }}
  - write: {{ file: entered.xlsx, table: contacts, with_results: true }}
"#
    )
}

const SECRETS: [(&str, &str); 2] = [
    ("KOBO_SECRET_PORTAL_USER", "demo"),
    ("KOBO_SECRET_PORTAL_PASSWORD", "kobo-demo-pass"),
];

/// Wait until the portal holds at least `n` entries.
async fn wait_entries(
    portal: &portal::PortalHandle,
    n: usize,
    secs: u64,
    log: impl Fn() -> String,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while portal.entries_per("email").values().sum::<usize>() < n {
        assert!(
            Instant::now() < deadline,
            "the portal never reached {n} entries; it has {:?}\n{}",
            portal.entries_per("email"),
            log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The property the client needs: no contact entered twice; every row ok is in the portal
/// once; the only rows not ok are in doubt (at most one per kill), each entered at most once.
fn assert_each_row_once(portal: &portal::PortalHandle, d: &RunDetail, kills: usize) {
    let entries = portal.entries_per("email");
    let twice: Vec<_> = entries.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "entered more than once: {twice:?}");
    assert_eq!(d.rows.len(), ROWS, "{:#?}", d.rows);
    let mut in_doubt = 0;
    for r in &d.rows {
        let n = entries.get(&email(r.source_row - 1)).copied().unwrap_or(0);
        match r.status {
            RowStatus::Ok => assert_eq!(n, 1, "row {} is ok: in the portal once", r.row),
            RowStatus::InDoubt => in_doubt += 1,
            other => panic!("row {} ended {other:?}: {:?}", r.row, r.message),
        }
    }
    assert!(
        in_doubt <= kills,
        "{in_doubt} rows in doubt after {kills} kills: {:#?}",
        d.rows
    );
    assert_eq!(d.run.rows.ok as usize + in_doubt, ROWS);
    assert_eq!(d.run.rows.in_doubt as usize, in_doubt);
}

/// The `pid: cmdline` of processes whose command line mentions `dir`.
fn processes_under(dir: &Path) -> Vec<(u32, String)> {
    let needle = dir.to_string_lossy().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            cmd.contains(&needle).then_some((pid, cmd))
        })
        .collect()
}

/// SIGKILL every Chromium (not chromedriver) started under `tmp`.
fn kill_browser(tmp: &Path) {
    let browsers: Vec<u32> = processes_under(tmp)
        .into_iter()
        .filter(|(_, c)| !c.contains("chromedriver") && c.contains("--user-data-dir"))
        .map(|(p, _)| p)
        .collect();
    assert!(!browsers.is_empty(), "no browser to kill");
    for pid in browsers {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_browser_killed_at_two_rows_leaves_each_row_entered_once() {
    let portal = portal().await;
    let k = Kobo::new();
    let tmp = tempfile::tempdir().unwrap();
    let wf = k.workflows.path().join("enter.yaml");
    std::fs::write(&wf, entry_workflow("enter", portal.url(), "")).unwrap();
    let input = k.home().join("contacts.csv");
    std::fs::write(&input, contacts(ROWS)).unwrap();
    let child = k
        .command(&[
            "run",
            wf.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ])
        .envs(SECRETS)
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for at in [4, 19] {
        wait_entries(&portal, at, 90, String::new).await;
        kill_browser(tmp.path());
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(": succeeded"), "{stdout}");
    let records = k.records().await;
    let run = records.recent(1).await.unwrap().remove(0);
    assert_eq!(run.attempt, 3, "two crashes, three attempts");
    let d = records.detail(&run.id.0).await.unwrap();
    assert_each_row_once(&portal, &d, 2);
    // The rows done before each crash were carried over, and say so.
    let carried: Vec<_> = d
        .rows
        .iter()
        .filter(|r| r.carried_from.as_deref() == Some("attempt 1"))
        .collect();
    assert!(carried.len() >= 3, "{:#?}", d.rows);
    let show =
        String::from_utf8_lossy(&k.run(&["show", &run.id.0, "--all-rows"]).stdout).to_string();
    assert!(
        show.contains("(kept from attempt 1, not run again)"),
        "{show}"
    );
    assert!(
        processes_under(tmp.path()).is_empty(),
        "browser processes left behind"
    );
}

/// `kobo serve` (embedded SQLite queue and records) killed twice while it enters the rows;
/// each new `kobo serve` goes on from the first row not yet done.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_killed_serve_goes_on_from_the_first_row_not_done() {
    let portal = portal().await;
    let mut k = Kobo::new();
    std::fs::write(
        k.workflows.path().join("enter.yaml"),
        entry_workflow("enter", portal.url(), ""),
    )
    .unwrap();
    drop_contacts(&k, "enter", ROWS);
    let mut pid = k.start_env("serve", &[], &SECRETS);
    for at in [6, 21] {
        wait_entries(&portal, at, 90, || k.log("serve")).await;
        k.kill(pid);
        pid = k.start_env("serve", &[], &SECRETS);
    }
    let runs = k
        .wait_for(120, "the run to finish", |r| {
            count(r, RunStatus::Succeeded) == 1
        })
        .await;
    assert_eq!(runs.len(), 1, "{:#?}", summary(&runs));
    let d = k.records().await.detail(&runs[0].id.0).await.unwrap();
    assert_each_row_once(&portal, &d, 2);
    assert!(
        d.rows.iter().any(|r| r.carried_from.is_some()),
        "{:#?}",
        d.rows
    );
}

/// Scaled out: jobs in Redis, records in PostgreSQL, the rows entered by `kobo worker`s. A
/// worker killed at a row; the next worker goes on from the first row not yet done.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_killed_worker_on_redis_and_postgres_goes_on_from_the_first_row_not_done() {
    let redis = Redis::start();
    let schema = pg::PgSchema::new().await;
    let portal = portal().await;
    let mut k = Kobo::new();
    k.records_url = Some(schema.url());
    std::fs::write(
        k.workflows.path().join("enter.yaml"),
        entry_workflow("enter", portal.url(), ""),
    )
    .unwrap();
    k.start("serve", &["--queue", &redis.url, "--workers", "0"]);
    let mut worker = k.start_env(
        "worker",
        &["--queue", &redis.url, "--workers", "1"],
        &SECRETS,
    );
    drop_contacts(&k, "enter", ROWS);
    for at in [7, 23] {
        wait_entries(&portal, at, 90, || k.log("worker")).await;
        k.kill(worker);
        worker = k.start_env(
            "worker",
            &["--queue", &redis.url, "--workers", "1"],
            &SECRETS,
        );
    }
    let runs = k
        .wait_for(120, "the run to finish", |r| {
            count(r, RunStatus::Succeeded) == 1
        })
        .await;
    let d = k.records().await.detail(&runs[0].id.0).await.unwrap();
    assert_each_row_once(&portal, &d, 2);
    assert!(
        d.rows.iter().any(|r| r.carried_from.is_some()),
        "{:#?}",
        d.rows
    );
}

/// Killed right after a row's click: the portal may have the row, kobo cannot know. The row
/// is in doubt and not entered again; a person checks the portal and marks it done; a rerun
/// of the failed rows then enters nothing; only `--rows all` enters everything again.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_row_interrupted_after_its_click_is_in_doubt_until_a_person_decides() {
    let portal = portal().await;
    let mut k = Kobo::new();
    std::fs::write(
        k.workflows.path().join("enter.yaml"),
        entry_workflow("enter", portal.url(), ""),
    )
    .unwrap();
    drop_contacts(&k, "enter", ROWS);
    let mut env = SECRETS.to_vec();
    env.push((PAUSE_AT, "row-clicked"));
    let pid = k.start_env("serve", &[], &env);
    k.wait_log("serve", 0, "fault point reached: row-clicked");
    k.kill(pid);
    assert_eq!(portal.entries_per("email").get(&email(1)), Some(&1));
    let restarted_at = k.log("serve").len();
    k.start_env("serve", &[], &SECRETS);
    let runs = k
        .wait_for(120, "the run to finish", |r| {
            count(r, RunStatus::Succeeded) == 1
        })
        .await;
    let records = k.records().await;
    let d = records.detail(&runs[0].id.0).await.unwrap();
    assert_each_row_once(&portal, &d, 1);
    let first = &d.rows[0];
    assert_eq!(first.status, RowStatus::InDoubt, "{:#?}", d.rows);
    let why = first.message.as_deref().unwrap();
    assert!(why.contains("click"), "{why}");
    assert!(why.contains("check the portal"), "{why}");
    let show = String::from_utf8_lossy(&k.run(&["show", &runs[0].id.0]).stdout).to_string();
    assert!(
        show.contains("29 ok, 0 failed, 0 skipped, 1 in doubt (of 30)"),
        "{show}"
    );

    // Kenji sees the row flagged on the run page, finds the contact in the portal: the row
    // was entered. He says so on the page.
    k.add_user("kenji", "reviewer", "kenji-password");
    let kenji = Session::login(&k, restarted_at, "kenji", "kenji-password");
    let page = kenji.get(&format!("/runs/{}", runs[0].id));
    assert!(page.contains("id=\"in-doubt-note\""), "{page}");
    assert!(page.contains("<tr class=\"in_doubt\">"), "{page}");
    let answer = kenji.post(
        &format!("/runs/{}/rows/done", runs[0].id),
        "table=contacts&row=1",
    );
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    let d = records.detail(&runs[0].id.0).await.unwrap();
    assert_eq!(d.rows[0].status, RowStatus::Ok);
    assert!(d.rows[0].message.as_deref().unwrap().contains("kenji"));
    assert_eq!((d.run.rows.ok, d.run.rows.in_doubt), (30, 0));
    // Only a row in doubt can be marked done (here on the command line).
    let again = k
        .command(&["mark-done", &runs[0].id.0, "2"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not in doubt"));

    // A rerun of the failed rows: every row is carried over, nothing entered.
    let out = k.run(&["rerun", &runs[0].id.0, "--rows", "failed"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("kept from run"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let runs = k
        .wait_for(60, "the rerun to finish", |r| {
            count(r, RunStatus::Succeeded) == 2
        })
        .await;
    let rerun = records.detail(&runs[0].id.0).await.unwrap();
    assert_eq!(rerun.run.rows.ok, 30, "{:#?}", rerun.rows);
    assert!(rerun.rows.iter().all(|r| r.carried_from.is_some()));
    assert_eq!(portal.entries_per("email").values().sum::<usize>(), ROWS);

    // Everything again is a choice made on purpose: each contact is then entered twice.
    k.run(&["rerun", &runs[0].id.0, "--rows", "all"]);
    k.wait_for(90, "the full rerun to finish", |r| {
        count(r, RunStatus::Succeeded) == 3
    })
    .await;
    assert!(portal.entries_per("email").values().all(|n| *n == 2));
}

/// Keys across runs: the same file again enters nothing and says why; `--again` enters it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_second_run_with_keys_enters_nothing_and_again_enters_everything() {
    const N: usize = 8;
    let portal = portal().await;
    let k = Kobo::new();
    let wf = k.workflows.path().join("enter.yaml");
    std::fs::write(
        &wf,
        entry_workflow("enter", portal.url(), "    key: \"{{ row['メール'] }}\"\n"),
    )
    .unwrap();
    let input = k.home().join("contacts.csv");
    std::fs::write(&input, contacts(N)).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            wf.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ];
        args.extend(extra);
        let out = k.command(&args).envs(SECRETS).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let first = run(&[]);
    assert!(
        first.contains(&format!("rows: {N} ok, 0 failed, 0 skipped (of {N})")),
        "{first}"
    );
    assert_eq!(portal.entries_per("email").len(), N);

    let second = run(&[]);
    assert!(
        second.contains(&format!("rows: 0 ok, 0 failed, {N} skipped (of {N})")),
        "{second}"
    );
    assert_eq!(
        portal.entries_per("email").values().sum::<usize>(),
        N,
        "nothing entered"
    );
    let records = k.records().await;
    let runs = records.recent(2).await.unwrap();
    let d = records.detail(&runs[0].id.0).await.unwrap();
    let why = d.rows[0].message.as_deref().unwrap();
    assert!(
        why.contains(&format!("already entered by run {}", runs[1].id)),
        "{why}"
    );
    assert!(why.contains("--again"), "{why}");
    assert_eq!(d.rows[0].key.as_deref(), Some(email(1).as_str()));

    let third = run(&["--again"]);
    assert!(
        third.contains(&format!("rows: {N} ok, 0 failed, 0 skipped (of {N})")),
        "{third}"
    );
    assert!(portal.entries_per("email").values().all(|n| *n == 2));
}

/// A trainee's bot fails the rows it cannot enter; she fixes the workflow, and a rerun of the
/// failed rows enters just those, keeping the others' receipt numbers in the output.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_rerun_of_failed_rows_with_a_fixed_workflow_enters_only_those() {
    const N: usize = 6;
    let portal = portal().await;
    let mut k = Kobo::new();
    let wf = k.workflows.path().join("enter.yaml");
    // Rows 2 and 5 have no amount yet; version 1 fails them before entering anything.
    let broken = entry_workflow("enter", portal.url(), "").replace(
        "      - open: \"",
        "      - if: \"row['会社名'] in ['会社2', '会社5']\"\n        then: [ { fail: \"no amount yet\" } ]\n      - open: \"",
    );
    std::fs::write(&wf, &broken).unwrap();
    drop_contacts(&k, "enter", N);
    k.start_env("serve", &[], &SECRETS);
    let runs = k
        .wait_for(90, "the first run", |r| count(r, RunStatus::Succeeded) == 1)
        .await;
    let first = runs[0].id.clone();
    assert_eq!((runs[0].rows.ok, runs[0].rows.failed), (4, 2));
    assert_eq!(portal.entries_per("email").len(), 4);

    // Fixed: the condition is gone. Olena runs her failed rows again from the dashboard;
    // another trainee cannot see the run, let alone run it again.
    std::fs::write(&wf, entry_workflow("enter", portal.url(), "")).unwrap();
    k.add_user("olena", "trainee", "olena-password");
    k.add_user("nadia", "trainee", "nadia-password");
    let nadia = Session::login(&k, 0, "nadia", "nadia-password");
    let refused = nadia.post(&format!("/runs/{first}/rerun"), "rows=failed");
    assert!(refused.starts_with("HTTP/1.1 404"), "{refused}");
    let olena = Session::login(&k, 0, "olena", "olena-password");
    let page = olena.get(&format!("/runs/{first}"));
    assert!(page.contains("id=\"rerun-failed\""), "{page}");
    let answer = olena.post(&format!("/runs/{first}/rerun"), "rows=failed");
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    // A second click (or a second reviewer) makes no second rerun of the same run.
    let again = olena.post(&format!("/runs/{first}/rerun"), "rows=failed");
    assert!(again.starts_with("HTTP/1.1 409"), "{again}");
    assert!(again.contains("already run again"), "{again}");
    let runs = k
        .wait_for(90, "the rerun", |r| count(r, RunStatus::Succeeded) == 2)
        .await;
    let d = k.records().await.detail(&runs[0].id.0).await.unwrap();
    assert_eq!(d.run.rows.ok, N as u64, "{:#?}", d.rows);
    let entries = portal.entries_per("email");
    assert_eq!(entries.len(), N);
    assert!(entries.values().all(|n| *n == 1), "{entries:?}");
    let ran: Vec<usize> = d
        .rows
        .iter()
        .filter(|r| r.carried_from.is_none())
        .map(|r| r.row)
        .collect();
    assert_eq!(ran, [2, 5]);
    // The output has every row's receipt number, the carried rows' included.
    let out = k.home().join(&d.run.folder).join("outputs/entered.xlsx");
    use calamine::Reader;
    let mut book = calamine::open_workbook_auto(&out).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    let header: Vec<String> = range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let col = header.iter().position(|h| h == "受付番号").unwrap();
    let receipts: BTreeMap<String, usize> = range
        .rows()
        .skip(1)
        .map(|r| (r[col].to_string(), 1))
        .collect();
    assert_eq!(receipts.len(), N, "{receipts:?}");
    assert!(receipts.keys().all(|r| r.starts_with("R-")), "{receipts:?}");
}

/// Drop a contacts CSV of `rows` rows into `workflow`'s inbox, whole.
fn drop_contacts(k: &Kobo, workflow: &str, rows: usize) {
    let staging = k.home().join(".staging-contacts.csv");
    std::fs::write(&staging, contacts(rows)).unwrap();
    std::fs::rename(&staging, k.inbox(workflow).join("contacts.csv")).unwrap();
}

/// A redis-server of its own on a free loopback port, stopped when dropped.
struct Redis {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}); install it with `apt-get install redis-server`")
            });
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Redis {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
            _dir: dir,
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A row whose click went through and then failed (the portal did not say what the bot
/// expected) may be in the portal: it is in doubt, not failed, and a step `retry` around the
/// click does not click twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_row_that_fails_after_its_click_is_in_doubt_and_not_entered_again() {
    const N: usize = 3;
    let portal = portal().await;
    let k = Kobo::new();
    let wf = k.workflows.path().join("enter.yaml");
    let yaml = entry_workflow("enter", portal.url(), "").replace(
        "      - click: 登録\n",
        "      - try:\n          - click: 登録\n          - assert_text: { text: 別の文言, timeout_secs: 1 }\n        retry: { attempts: 3, backoff_secs: 0 }\n",
    );
    std::fs::write(&wf, yaml).unwrap();
    let input = k.home().join("contacts.csv");
    std::fs::write(&input, contacts(N)).unwrap();
    let out = k
        .command(&[
            "run",
            wf.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ])
        .envs(SECRETS)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        stdout.contains(&format!(
            "rows: 0 ok, 0 failed, 0 skipped, {N} in doubt (of {N})"
        )),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries = portal.entries_per("email");
    assert_eq!(entries.len(), N, "{entries:?}");
    assert!(
        entries.values().all(|n| *n == 1),
        "clicked once each: {entries:?}"
    );
    let records = k.records().await;
    let run = records.recent(1).await.unwrap().remove(0);
    let d = records.detail(&run.id.0).await.unwrap();
    let why = d.rows[0].message.as_deref().unwrap();
    assert!(why.contains("had gone through"), "{why}");
    assert!(why.contains("It was entered"), "{why}");
}
