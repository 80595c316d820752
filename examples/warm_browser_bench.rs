//! Browser start benchmark (not a test): how long a browser run waits before its first step,
//! with a browser started ahead (a worker's warm browser) and without, next to raw
//! fantoccini reusing one session and Playwright with a new context per run. Run it with
//! `scripts/browser-bench.sh` (which installs the Playwright side), or:
//!
//! ```sh
//! cargo run --release --example warm_browser_bench [rounds]   # default 5
//! ```
//!
//! Every contender does the same drills on the practice portal: sign in, open `/remember`,
//! check that the page holds no note (no cookie, no local storage) and keep one. Figures:
//! - *ready*: from the start of the run to the moment its first step can go (kobo: the log
//!   line saying the browser is there; it includes making the run's folder and record);
//! - *drills*: the steps; *total*: the whole run, with closing what it used.
//!
//! - `kobo cold`: `runner::execute` with no browser started ahead: it launches chromedriver
//!   and Chromium with a fresh profile, and closes them at the end.
//! - `kobo warm`: the same run offered a browser started ahead (`BrowserAhead`), as a worker
//!   offers it; between runs the bench waits until the next one is ready, as a worker that
//!   is not saturated does. The run still gets a fresh profile.
//! - `raw one session`: fantoccini on one session for all runs; "ready" is clearing the
//!   cookies and local storage of the run before (which does not isolate runs as a new
//!   profile does: cache, IndexedDB and service workers stay).
//! - `playwright context`: `browser.newContext()` + `newPage()` per run on one Chromium
//!   (`scripts/bench-node/drills.mjs`; skipped when `node_modules` is missing).

#[path = "support/raw_chrome.rs"]
mod raw_chrome;

use fantoccini::{Client, Locator};
use runner::browser::{BrowserAhead, BrowserConfig, BrowserOffer};
use runner::record::Records;
use runner::secrets::Secrets;
use runner::{RunOptions, RunStatus, Workflow, execute};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WORKFLOW: &str = r#"name: drills
client: t
author: olena
params: { portal_url: x }
secrets: [portal_user, portal_password]
retry: { attempts: 1 }
steps:
  - open: "{{ params.portal_url }}/login"
  - fill: { label: ユーザーID, value: "{{ secrets.portal_user }}" }
  - fill: { label: パスワード, value: "{{ secrets.portal_password }}" }
  - click: ログイン
  - wait_for: { url_contains: /menu }
  - open: "{{ params.portal_url }}/remember"
  - assert_text: "ストレージ: なし / クッキー: なし"
  - click: 覚える
  - assert_text: "ストレージ: 覚えた / クッキー: あり"
"#;

/// One measured run, in milliseconds.
#[derive(Clone, Copy, Default)]
struct Sample {
    ready: f64,
    drills: f64,
    total: f64,
    /// kobo: getting the browser (launching it, or taking the one started ahead).
    browser: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One kobo run of the drills, offered `offer`.
async fn kobo(home: &Path, records: &Records, url: &str, offer: Option<BrowserOffer>) -> Sample {
    let w = Workflow::parse(Path::new("drills.yaml"), WORKFLOW).unwrap();
    let mut opts = RunOptions::new(home);
    opts.params.insert("portal_url".into(), url.into());
    opts.secrets = Secrets::from_pairs([
        ("portal_user".to_string(), "demo".to_string()),
        ("portal_password".to_string(), "kobo-demo-pass".to_string()),
    ]);
    let expect_ahead = offer.is_some();
    opts.browser_ahead = offer;
    // When the browser is there, whether it was started ahead, and how long getting it took.
    let ready = Arc::new(Mutex::new(None::<(Instant, bool, f64)>));
    let seen = ready.clone();
    opts.echo = Some(Box::new(move |line| {
        let ahead = line.message.starts_with("browser started ahead of the run");
        if ahead || line.message.starts_with("browser started in ") {
            let took = line
                .message
                .split(" in ")
                .nth(1)
                .and_then(|m| m.split(" ms").next())
                .and_then(|m| m.parse().ok())
                .unwrap_or(f64::NAN);
            *seen.lock().unwrap() = Some((Instant::now(), ahead, took));
        }
    }));
    let t = Instant::now();
    let outcome = execute(&w, records, opts).await.unwrap();
    let total = t.elapsed();
    assert_eq!(
        outcome.status,
        RunStatus::Succeeded,
        "kobo run failed: {:?}",
        outcome.error
    );
    let (at, ahead, took) = ready.lock().unwrap().expect("no `browser started` line");
    assert_eq!(
        ahead, expect_ahead,
        "the run did not use the browser it was meant to"
    );
    let detail = records.detail(&outcome.id.0).await.unwrap();
    // The steps, without getting the browser (inside the first step's time).
    let drills = detail.steps.iter().map(|s| s.total_ms).sum::<f64>() - took;
    Sample {
        ready: ms(at - t),
        drills,
        total: ms(total),
        browser: took,
    }
}

/// Raw fantoccini: one chromedriver and session, started once; returns its start and runs.
async fn raw(url: &str, rounds: usize) -> (f64, Vec<Sample>) {
    let config = BrowserConfig::default();
    let chromedriver = config.chromedriver_path().unwrap();
    let chromium = config.chromium_path().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let (mut driver, client) = raw_chrome::start(&chromedriver, &chromium, profile.path()).await;
    let start = ms(t.elapsed());
    let mut runs = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        // What the run before left: its cookies and the page's storage.
        client.delete_all_cookies().await.unwrap();
        client.goto(&format!("{url}/remember")).await.unwrap();
        client
            .execute("localStorage.clear(); return null;", vec![])
            .await
            .unwrap();
        let ready = t.elapsed();
        client.goto(&format!("{url}/login")).await.unwrap();
        fill(&client, "user-id", "demo").await;
        fill(&client, "password", "kobo-demo-pass").await;
        button(&client, "ログイン").await;
        while !client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/menu")
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        client.goto(&format!("{url}/remember")).await.unwrap();
        text(&client, "ストレージ: なし / クッキー: なし").await;
        button(&client, "覚える").await;
        text(&client, "ストレージ: 覚えた / クッキー: あり").await;
        let total = t.elapsed();
        runs.push(Sample {
            ready: ms(ready),
            drills: ms(total - ready),
            total: ms(total),
            browser: 0.0,
        });
    }
    client.close().await.unwrap();
    driver.kill().await.unwrap();
    (start, runs)
}

async fn fill(client: &Client, id: &str, value: &str) {
    let input = client.find(Locator::Id(id)).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

async fn button(client: &Client, name: &str) {
    let xpath = format!("//button[normalize-space(.)='{name}']");
    let button = client.find(Locator::XPath(&xpath)).await.unwrap();
    button.click().await.unwrap();
}

async fn text(client: &Client, want: &str) {
    let held = client.find(Locator::Id("held")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while held.text().await.unwrap() != want {
        assert!(Instant::now() < deadline, "the page never said {want:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Playwright (`scripts/bench-node/drills.mjs`), when its package is installed.
fn playwright(url: &str, rounds: usize) -> Option<(f64, Vec<Sample>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench-node");
    if !dir.join("node_modules/playwright-core").is_dir() {
        eprintln!("Playwright skipped: run `npm ci` in {}", dir.display());
        return None;
    }
    let out = std::process::Command::new("node")
        .arg(dir.join("drills.mjs"))
        .args([url, &rounds.to_string()])
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "drills.mjs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Sample {
            ready: r["ready"].as_f64().unwrap(),
            drills: r["drills"].as_f64().unwrap(),
            total: r["total"].as_f64().unwrap(),
            browser: 0.0,
        })
        .collect();
    Some((v["start"].as_f64().unwrap(), runs))
}

/// Median, min and max.
fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn row(name: &str, runs: &[Sample]) {
    let show = |f: fn(&Sample) -> f64| {
        let (median, min, max) = stats(runs.iter().map(f).collect());
        format!("{median:>7.0} ({min:.0}–{max:.0})")
    };
    println!(
        "| {name:<20} | {:>18} | {:>18} | {:>18} |",
        show(|s| s.ready),
        show(|s| s.drills),
        show(|s| s.total)
    );
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let portal = portal::start().await.unwrap();
    let url = portal.url().to_string();
    let home = tempfile::tempdir().unwrap();
    let records = Records::open(&home.path().join("records.db"))
        .await
        .unwrap();

    // One untimed run first: the page cache of the disk and of the portal are warm for all.
    kobo(home.path(), &records, &url, None).await;

    let mut cold = Vec::new();
    for _ in 0..rounds {
        cold.push(kobo(home.path(), &records, &url, None).await);
    }

    let ahead = BrowserAhead::new(BrowserConfig::default());
    ahead.start().await;
    let mut warm = Vec::new();
    let mut starts = Vec::new();
    for _ in 0..rounds {
        // As between a worker's runs: the next browser is started ahead and ready.
        let t = Instant::now();
        let lent = ahead.lend().await.expect("a browser started ahead");
        starts.push(ms(t.elapsed()));
        warm.push(kobo(home.path(), &records, &url, Some(lent.offer())).await);
        ahead.run_ended(Some(lent)).await;
    }
    ahead.stop().await;

    let (raw_start, raw_runs) = raw(&url, rounds).await;
    let pw = playwright(&url, rounds);

    println!("{rounds} runs each; milliseconds, median (min–max). ready: run start to first step.");
    println!(
        "| {:<20} | {:>18} | {:>18} | {:>18} |",
        "", "ready", "drills", "total"
    );
    println!("|{:-<22}|{:->20}|{:->20}|{:->20}|", "", "", "", "");
    row("kobo cold", &cold);
    row("kobo warm", &warm);
    row("raw one session", &raw_runs);
    if let Some((_, runs)) = &pw {
        row("playwright context", runs);
    }
    println!();
    println!("browser start, once: raw fantoccini {raw_start:.0} ms");
    if let Some((start, _)) = &pw {
        println!("browser start, once: Playwright launch {start:.0} ms");
    }
    let got = |runs: &[Sample]| stats(runs.iter().map(|s| s.browser).collect()).0;
    println!(
        "kobo: getting the browser (inside ready): cold launch {:.0} ms, taking the one started ahead {:.0} ms (medians)",
        got(&cold),
        got(&warm)
    );
    let (median, _, max) = stats(starts);
    println!(
        "kobo warm: waiting for the browser started ahead (lend) {median:.0} ms median, {max:.0} ms max (includes the first start)"
    );
}
