//! Browser benchmark (not a test): the 10-row moving-fields form of the practice portal,
//! entered by kobo and by plain fantoccini calls, in one process, alternating.
//!
//! ```sh
//! cargo run --release --example browser_bench [rounds]   # default 5 rounds
//! ```
//!
//! Each round runs, in a rotating order:
//! - `kobo type`: `runner::execute` of `workflows/portal-entry.yaml` (one `fill` per field,
//!   clear + type key by key), on `fixtures/clients/acme/contacts.csv`;
//! - `kobo set`: the same workflow with one `fill_form: { mode: set }` per row (one script
//!   call sets all six fields);
//! - `raw`: fantoccini against its own chromedriver: login, then per row goto /form, find each
//!   input by its label (XPath), clear + send_keys, click 登録, wait for `.receipt-no`.
//!
//! Every figure is the median over the rounds, with the min–max spread. Times are wall-clock
//! and include starting and stopping the browser.

#[path = "support/raw_chrome.rs"]
mod raw_chrome;

use fantoccini::{Client, Locator};
use runner::browser::{BrowserConfig, processes_mentioning};
use runner::record::Records;
use runner::secrets::Secrets;
use runner::sheet::{SheetSpec, read_table};
use runner::{RunOptions, RunStatus, Workflow, execute};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LABELS: [&str; 6] = ["氏名", "会社名", "電話番号", "メール", "住所", "金額"];

/// `portal-entry.yaml` with the six `fill` steps replaced by one `fill_form` in `set` mode.
fn set_mode_workflow(original: &str) -> String {
    let fills: String = LABELS
        .iter()
        .map(|l| format!("      - fill: {{ label: {l}, value: \"{{{{ row['{l}'] }}}}\" }}\n"))
        .collect();
    assert!(original.contains(&fills), "portal-entry.yaml changed");
    let fields: String = LABELS
        .iter()
        .map(|l| format!("            {l}: \"{{{{ row['{l}'] }}}}\"\n"))
        .collect();
    let fill_form = format!("      - fill_form:\n          mode: set\n          fields:\n{fields}");
    original.replace(&fills, &fill_form)
}

/// One measured run.
#[derive(Default, Clone)]
struct Sample {
    /// Whole run: browser start to browser gone (kobo: the whole `execute`).
    total: Duration,
    /// Browser start until the first step can run (WebDriver session ready).
    start: Duration,
    /// The 10 rows only (kobo: the `for_each` step).
    rows: Duration,
    /// kobo only: time per step kind, summed over the run.
    steps: Vec<(String, f64, u64)>,
}

struct Kobo {
    home: tempfile::TempDir,
    records: Records,
    input: PathBuf,
    portal_url: String,
}

impl Kobo {
    async fn run(&self, w: &Workflow) -> Sample {
        let mut opts = RunOptions::new(self.home.path());
        let input = w.file_inputs().next().unwrap().name.clone();
        opts.inputs.insert(input, self.input.clone());
        opts.params
            .insert("portal_url".into(), self.portal_url.clone());
        opts.secrets = Secrets::from_pairs([
            ("portal_user".to_string(), "demo".to_string()),
            ("portal_password".to_string(), "kobo-demo-pass".to_string()),
        ]);
        // Every round enters the same ten rows: do it again, as `kobo run --again` (the
        // records remember each row's `key:` and would skip them from the second round on).
        opts.again = true;
        let started_ms = Arc::new(Mutex::new(None::<u64>));
        let seen = started_ms.clone();
        opts.echo = Some(Box::new(move |line| {
            if let Some(ms) = line
                .message
                .strip_prefix("browser started in ")
                .and_then(|m| m.strip_suffix(" ms"))
            {
                *seen.lock().unwrap() = ms.parse().ok();
            }
        }));
        let t = Instant::now();
        let outcome = execute(w, &self.records, opts).await.unwrap();
        let total = t.elapsed();
        assert_eq!(
            (outcome.status, outcome.rows.ok),
            (RunStatus::Succeeded, 10),
            "kobo run failed: {:?}",
            outcome.error
        );
        let detail = self.records.detail(&outcome.id.0).await.unwrap();
        let rows = detail
            .steps
            .iter()
            .find(|s| s.kind == "for_each")
            .map(|s| s.total_ms)
            .unwrap();
        let mut steps: Vec<(String, f64, u64)> = Vec::new();
        for s in &detail.steps {
            match steps.iter_mut().find(|(k, _, _)| *k == s.kind) {
                Some(e) => {
                    e.1 += s.total_ms;
                    e.2 += s.calls;
                }
                None => steps.push((s.kind.clone(), s.total_ms, s.calls)),
            }
        }
        let start = started_ms
            .lock()
            .unwrap()
            .expect("no `browser started` log line");
        Sample {
            total,
            start: Duration::from_millis(start),
            rows: Duration::from_secs_f64(rows / 1e3),
            steps,
        }
    }
}

/// The same work with fantoccini only, as directly as it can be written.
async fn raw(portal_url: &str, rows: &[Vec<String>]) -> Sample {
    let config = BrowserConfig::default();
    let chromedriver = config.chromedriver_path().unwrap();
    let chromium = config.chromium_path().unwrap();
    let profile = tempfile::tempdir().unwrap();

    let t = Instant::now();
    let (mut driver, client) = raw_chrome::start(&chromedriver, &chromium, profile.path()).await;
    let start = t.elapsed();

    client.goto(&format!("{portal_url}/login")).await.unwrap();
    fill(&client, "ユーザーID", "demo").await;
    fill(&client, "パスワード", "kobo-demo-pass").await;
    button(&client, "ログイン").await;
    while !client
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/menu")
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let rows_started = Instant::now();
    let mut receipts = Vec::new();
    for row in rows {
        client.goto(&format!("{portal_url}/form")).await.unwrap();
        for (label, value) in LABELS.iter().zip(row) {
            fill(&client, label, value).await;
        }
        button(&client, "登録").await;
        let receipt = client
            .wait()
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(".receipt-no"))
            .await
            .unwrap();
        receipts.push(receipt.text().await.unwrap());
    }
    let rows_time = rows_started.elapsed();
    assert!(receipts.iter().all(|r| !r.is_empty()) && receipts.len() == rows.len());

    client.close().await.unwrap();
    driver.kill().await.unwrap();
    let total = t.elapsed();
    // Chromium ends with the session; make sure nothing is left running between runs.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_mentioning(profile.path()).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Sample {
        total,
        start,
        rows: rows_time,
        steps: vec![],
    }
}

/// The input labelled `label` (the label may carry a trailing `*`): its `for` target, or the
/// input inside it.
async fn fill(client: &Client, label: &str, value: &str) {
    let xpath = format!("//label[starts-with(normalize-space(.), '{label}')]");
    let label = client.find(Locator::XPath(&xpath)).await.unwrap();
    let input = match label.attr("for").await.unwrap() {
        Some(id) => client.find(Locator::Id(&id)).await.unwrap(),
        None => label.find(Locator::Css("input")).await.unwrap(),
    };
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

async fn button(client: &Client, text: &str) {
    let xpath = format!("//button[normalize-space(.)='{text}']");
    client
        .find(Locator::XPath(&xpath))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median, min and max.
fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[0], v[n - 1])
}

fn line(what: &str, v: Vec<f64>) -> f64 {
    let (median, min, max) = stats(v);
    println!("  {what:<28} {median:>8.0} ms   ({min:.0}–{max:.0})");
    median
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args().nth(1).map_or(5, |s| s.parse().unwrap());
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let portal = portal::start().await.unwrap();
    let input = repo.join("fixtures/clients/acme/contacts.csv");
    let table = read_table(&input, &SheetSpec::default()).unwrap();
    let rows: Vec<Vec<String>> = table
        .rows
        .iter()
        .map(|r| {
            LABELS
                .iter()
                .map(|l| {
                    let c = table.columns.iter().position(|c| c == l).unwrap();
                    r[c].to_string()
                })
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 10);

    let file = repo.join("workflows/portal-entry.yaml");
    let source = std::fs::read_to_string(&file).unwrap();
    let typed = Workflow::parse(&file, &source).unwrap();
    let set = Workflow::parse(&file, &set_mode_workflow(&source)).unwrap();
    let home = tempfile::tempdir().unwrap();
    let records = Records::open(&home.path().join("records.db"))
        .await
        .unwrap();
    let kobo = Kobo {
        home,
        records,
        input,
        portal_url: portal.url().to_string(),
    };

    // Warm-up (disk caches, first Chromium start), not counted.
    kobo.run(&set).await;
    raw(portal.url(), &rows).await;

    let names = ["kobo type", "kobo set", "raw"];
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); 3];
    for round in 0..rounds {
        for k in 0..3 {
            let which = (round + k) % 3;
            let s = match which {
                0 => kobo.run(&typed).await,
                1 => kobo.run(&set).await,
                _ => raw(portal.url(), &rows).await,
            };
            eprintln!(
                "round {} {:<9} total {:>6.0} ms  start {:>5.0} ms  rows {:>6.0} ms",
                round + 1,
                names[which],
                ms(s.total),
                ms(s.start),
                ms(s.rows)
            );
            samples[which].push(s);
        }
    }
    let expected = (rounds * 3 + 2) * 10;
    assert_eq!(
        portal.submissions().len(),
        expected,
        "every row was entered"
    );

    println!(
        "\n10-row moving-fields form, {rounds} rounds, median (min–max); {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut totals = [0.0; 3];
    let mut per_row = [0.0; 3];
    for (i, name) in names.iter().enumerate() {
        let s = &samples[i];
        println!("{name}");
        totals[i] = line("end to end", s.iter().map(|s| ms(s.total)).collect());
        line(
            "browser start → first step",
            s.iter().map(|s| ms(s.start)).collect(),
        );
        line("10 rows", s.iter().map(|s| ms(s.rows)).collect());
        per_row[i] = line("per row", s.iter().map(|s| ms(s.rows) / 10.0).collect());
        if i < 2 {
            let kinds: Vec<String> = s[0].steps.iter().map(|(k, _, _)| k.clone()).collect();
            for kind in kinds {
                let per: Vec<f64> = s
                    .iter()
                    .filter_map(|s| s.steps.iter().find(|(k, _, _)| *k == kind))
                    .map(|(_, t, _)| *t)
                    .collect();
                let calls = s[0].steps.iter().find(|(k, _, _)| *k == kind).unwrap().2;
                line(&format!("  step {kind} ×{calls}"), per);
            }
        }
    }
    println!("\nratio to raw (medians)      end to end   per row");
    for i in 0..2 {
        println!(
            "  {:<25} {:>8.2}x {:>8.2}x",
            names[i],
            totals[i] / totals[2],
            per_row[i] / per_row[2]
        );
    }
}
