//! kobo as a trainee uses it from the terminal: validate workflows, run them on client
//! files (Shift_JIS CSV, UTF-16 CSV, xlsx, ods), look at the runs, and drive the practice
//! portal in a real headless Chromium. Every test runs the real `kobo` binary.

use calamine::{Data, DataType, Reader, open_workbook_auto};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One kobo session: its own data directory, the repository's workflows and fixtures.
struct Kobo {
    home: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Kobo {
    fn new() -> Kobo {
        Kobo {
            home: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    fn env(mut self, k: &str, v: &str) -> Kobo {
        self.env.push((k.into(), v.into()));
        self
    }

    /// `kobo <args>` in the repository, with this session's data directory and environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kobo"));
        c.args(args)
            .current_dir(repo())
            .env("KOBO_HOME", self.home.path())
            // The tests read English words unless a test asks for another language.
            .env("KOBO_LANG", "en")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    fn run(&self, args: &[&str]) -> Done {
        Done(self.command(args).output().unwrap())
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.home.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

struct Done(Output);

impl Done {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    fn success(self) -> Done {
        assert_eq!(
            self.code(),
            0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
    /// The value printed after `label: ` in the run summary.
    fn field(&self, label: &str) -> String {
        let prefix = format!("{label}: ");
        self.stdout()
            .lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
            .unwrap_or_else(|| panic!("no `{label}:` in\n{}\n{}", self.stdout(), self.stderr()))
    }
    fn run_id(&self) -> String {
        self.stdout()
            .lines()
            .find_map(|l| {
                l.strip_prefix("run ")
                    .and_then(|r| r.split(':').next())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| panic!("no run id in\n{}", self.stdout()))
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn sheet(path: &str, name: &str) -> Vec<Vec<Data>> {
    let mut book = open_workbook_auto(path).unwrap();
    let range = book
        .worksheet_range(name)
        .unwrap_or_else(|e| panic!("sheet {name}: {e}"));
    range.rows().map(|r| r.to_vec()).collect()
}

fn col(rows: &[Vec<Data>], name: &str) -> usize {
    rows[0]
        .iter()
        .position(|c| matches!(c, Data::String(s) if s == name))
        .unwrap_or_else(|| panic!("no column {name} in {:?}", rows[0]))
}

#[test]
fn validate_reports_every_problem_with_its_line() {
    let kobo = Kobo::new();
    let ok = kobo.run(&["validate", "workflows/"]).success();
    assert!(ok.stdout().contains("are valid"), "{}", ok.stdout());

    let bad = kobo.file(
        "bad.yaml",
        "name: t\nclient: acme\nauthor: olena\nsteps:\n  - clik: OK\n  - log: \"{{ totl }}\"\n"
            .as_bytes(),
    );
    let out = kobo.run(&["validate", bad.to_str().unwrap()]);
    assert_eq!(out.code(), 1);
    let err = out.stderr();
    assert!(
        err.contains("bad.yaml:5:5: unknown step kind `clik`"),
        "{err}"
    );
    assert!(err.contains("hint: did you mean `click`?"), "{err}");
    assert!(
        err.contains("bad.yaml:6:10: unknown name `totl` in this template"),
        "{err}"
    );
    assert!(
        err.contains(" 5 |   - clik: OK\n"),
        "the source line is shown: {err}"
    );
    assert!(err.contains("2 problem(s) in 1 file(s)"), "{err}");
}

/// One workflow's result feeds another without copying: `--input run:<id>` reads the output
/// an earlier run wrote (`run:<id>/<file>` names one of several); a run with no output, or
/// an output that does not exist, is refused with what to write instead.
#[test]
fn a_runs_output_is_the_input_of_the_next_workflow() {
    let kobo = Kobo::new();
    let report = kobo
        .run(&[
            "run",
            "workflows/invoice-report.yaml",
            "--input",
            "fixtures/clients/acme/invoices.csv",
        ])
        .success();
    let id = report.run_id();
    let next = kobo.file(
        "failed-invoices.yaml",
        "name: failed-invoices\nclient: acme\nauthor: olena\ninputs:\n  report: { sheet: 請求書一覧 }\nsteps:\n  - filter: { table: report, where: \"row['result'] == 'failed'\" }\n  - write: { file: to-ask.csv, table: report }\n".as_bytes(),
    );
    let next = next.to_str().unwrap();
    let out = kobo
        .run(&["run", next, "--input", &format!("run:{}", &id[..10])])
        .success();
    let written = std::fs::read_to_string(out.field("output")).unwrap();
    assert!(written.contains("INV-2026-1003"), "{written}");
    assert_eq!(
        written.lines().count(),
        2,
        "header + the failed invoice: {written}"
    );

    let named = kobo.run(&[
        "run",
        next,
        "--input",
        &format!("report=run:{id}/nothing.xlsx"),
    ]);
    assert_ne!(named.code(), 0);
    assert!(
        named
            .stderr()
            .contains("has no output `nothing.xlsx`; its outputs are: "),
        "{}",
        named.stderr()
    );
}

/// The words the dashboard has in the user's language are in it in the terminal too:
/// `KOBO_LANG=ja` (or a Japanese locale) gives Japanese statuses and row outcomes.
#[test]
fn statuses_and_row_outcomes_in_the_users_language() {
    let kobo = Kobo::new().env("KOBO_LANG", "ja");
    let out = kobo
        .run(&[
            "run",
            "workflows/invoice-report.yaml",
            "--input",
            "fixtures/clients/acme/invoices.csv",
        ])
        .success();
    assert!(out.stdout().contains(": 完了"), "{}", out.stdout());
    assert_eq!(out.field("rows"), "10 成功, 1 失敗, 1 スキップ (of 12)");
    let runs = kobo.run(&["runs"]).success().stdout();
    assert!(runs.contains("完了"), "{runs}");
    let english = Kobo::new().env("KOBO_LANG", "en");
    let out = english
        .run(&[
            "run",
            "workflows/invoice-report.yaml",
            "--input",
            "fixtures/clients/acme/invoices.csv",
        ])
        .success();
    assert_eq!(out.field("rows"), "10 ok, 1 failed, 1 skipped (of 12)");
}

#[test]
fn invoice_report_from_a_shift_jis_csv() {
    let kobo = Kobo::new();
    let out = kobo
        .run(&[
            "run",
            "workflows/invoice-report.yaml",
            "--input",
            "fixtures/clients/acme/invoices.csv",
        ])
        .success();
    assert_eq!(out.field("rows"), "10 ok, 1 failed, 1 skipped (of 12)");
    let output = out.field("output");
    let rows = sheet(&output, "請求書一覧");
    assert_eq!(rows.len(), 13, "header + 12 invoices");
    let (id, total, taxed, date, result) = (
        col(&rows, "請求書番号"),
        col(&rows, "金額"),
        col(&rows, "税込金額"),
        col(&rows, "請求日"),
        col(&rows, "result"),
    );
    assert_eq!(rows[1][id].to_string(), "INV-2026-1001");
    assert_eq!(
        rows[1][total],
        Data::Float(108000.0),
        "`108,000` with the format `#,##0` is written as a number"
    );
    assert_eq!(rows[1][taxed].as_f64(), Some(118800.0));
    assert!(
        matches!(rows[1][date], Data::DateTime(_)),
        "請求日 is a real Excel date: {:?}",
        rows[1][date]
    );
    assert_eq!(
        rows[3][result].to_string(),
        "failed",
        "INV-2026-1003 has no amount"
    );
    assert_eq!(
        rows[9][result].to_string(),
        "skipped",
        "INV-2026-1009 is a credit note"
    );

    // The run is recorded and can be looked at.
    let id = out.run_id();
    let runs = kobo.run(&["runs"]).success().stdout();
    assert!(
        runs.contains(&id) && runs.contains("invoice-report") && runs.contains("succeeded"),
        "{runs}"
    );
    let show = kobo.run(&["show", &id[..10]]).success().stdout();
    assert!(
        show.contains("rows       10 ok, 1 failed, 1 skipped (of 12)"),
        "{show}"
    );
    assert!(show.contains("row    3 (sheet row    4)  failed   #2.1.1 fail (line 35): invoice INV-2026-1003 has no amount (金額)"), "{show}");
    assert!(show.contains("input      invoices.csv"), "{show}");
}

#[test]
fn the_same_csv_in_utf16_or_cp932_gives_the_same_report() {
    let kobo = Kobo::new();
    let text = "請求書番号,取引先,金額,請求日\r\nINV-1,株式会社アクメ,1000,2026/11/01\r\nINV-2,髙橋建設㈱,2500,2026/11/02\r\n";
    let (cp932, _, bad) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!bad);
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    for (name, bytes) in [("cp932.csv", cp932.to_vec()), ("utf16.csv", utf16)] {
        let input = kobo.file(name, &bytes);
        let out = kobo
            .run(&[
                "run",
                "workflows/invoice-report.yaml",
                "--input",
                input.to_str().unwrap(),
            ])
            .success();
        assert_eq!(
            out.field("rows"),
            "2 ok, 0 failed, 0 skipped (of 2)",
            "{name}"
        );
        let rows = sheet(&out.field("output"), "請求書一覧");
        assert_eq!(
            rows[2][col(&rows, "取引先")].to_string(),
            "髙橋建設㈱",
            "{name}"
        );
        assert_eq!(
            rows[2][col(&rows, "税込金額")].as_f64(),
            Some(2750.0),
            "{name}"
        );
    }
}

#[test]
fn roster_cleanup_and_a_merge_of_two_files() {
    let kobo = Kobo::new();
    let out = kobo
        .run(&[
            "run",
            "workflows/roster-cleanup.yaml",
            "--input",
            "fixtures/clients/sakura/roster.xlsx",
        ])
        .success();
    let rows = sheet(&out.field("output"), "名簿");
    let ids: Vec<String> = rows.iter().skip(1).map(|r| r[0].to_string()).collect();
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no duplicate staff: {ids:?}");
    let name = col(&rows, "氏名");
    for r in &rows[1..] {
        let n = r[name].to_string();
        assert_eq!(n.trim(), n, "names are trimmed");
        assert!(!n.contains('\u{3000}'), "no full-width spaces: {n}");
    }
    assert!(
        matches!(rows[1][col(&rows, "入社日")], Data::DateTime(_)),
        "start dates stay real dates"
    );

    let out = kobo
        .run(&[
            "run",
            "workflows/staff-departments.yaml",
            "--input",
            "staff=fixtures/clients/sakura/roster.xlsx",
            "--input",
            "departments=fixtures/clients/sakura/departments.ods",
        ])
        .success();
    let csv = std::fs::read(out.field("output")).unwrap();
    assert!(
        csv.starts_with(&[0xEF, 0xBB, 0xBF]),
        "CSV for Excel starts with a BOM"
    );
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with("部署コード,result,error"),
        "{text}"
    );
    assert!(text.contains("営業部,"), "{text}");
}

#[test]
fn wrong_input_arguments_are_explained() {
    let kobo = Kobo::new();
    let out = kobo.run(&[
        "run",
        "workflows/staff-departments.yaml",
        "--input",
        "fixtures/clients/sakura/roster.xlsx",
    ]);
    assert_eq!(out.code(), 2);
    assert_eq!(
        out.stderr().trim(),
        "error: the workflow has several inputs (staff, departments); give each as `--input name=path`"
    );
    let out = kobo.run(&[
        "run",
        "workflows/invoice-report.yaml",
        "--input",
        "nope.csv",
    ]);
    assert_eq!(
        out.stderr().trim(),
        "error: the input file `nope.csv` does not exist"
    );
    let out = kobo.run(&[
        "run",
        "workflows/portal-entry.yaml",
        "--input",
        "fixtures/clients/acme/contacts.csv",
    ]);
    assert!(out.stderr().contains("error: secret `portal_user` has no value: set the environment variable `KOBO_SECRET_PORTAL_USER`"), "{}", out.stderr());
    let csv = "fixtures/clients/acme/invoices.csv";
    let out = kobo.run(&[
        "run",
        "workflows/invoice-report.yaml",
        "--input",
        csv,
        "--input",
        "fixtures/clients/acme/contacts.csv",
    ]);
    assert_eq!(out.code(), 2);
    assert_eq!(
        out.stderr().trim(),
        "error: `--input` gives two files for the input `invoices` (`fixtures/clients/acme/invoices.csv` and `fixtures/clients/acme/contacts.csv`); give one"
    );
    let no_inputs = kobo.file(
        "hello.yaml",
        b"name: hello\nclient: acme\nauthor: olena\nsteps:\n  - log: hi\n",
    );
    let out = kobo.run(&["run", no_inputs.to_str().unwrap(), "--input", csv]);
    assert_eq!(out.code(), 2);
    assert_eq!(
        out.stderr().trim(),
        "error: the workflow has no inputs, so it reads no file; remove `--input`, or add the input under `inputs:` in the workflow"
    );
}

#[test]
fn an_empty_kobo_home_is_unset_and_a_short_id_may_match_several_runs() {
    let kobo = Kobo::new();
    kobo.run(&["validate", "workflows/invoice-report.yaml"])
        .success();
    let mut cmd = kobo.command(&["validate", "workflows/invoice-report.yaml"]);
    let out = Done(cmd.env("KOBO_HOME", "").output().unwrap()).success();
    assert!(
        out.stdout().contains("invoice-report.yaml"),
        "{}",
        out.stdout()
    );

    let hello = kobo.file(
        "hello.yaml",
        b"name: hello\nclient: acme\nauthor: olena\nsteps:\n  - log: hi\n",
    );
    let ids: Vec<String> = (0..2)
        .map(|_| {
            kobo.run(&["run", hello.to_str().unwrap()])
                .success()
                .run_id()
        })
        .collect();
    let common = ids[0]
        .chars()
        .zip(ids[1].chars())
        .take_while(|(a, b)| a == b)
        .count();
    // Run ids start with the time: two runs a moment apart share their first characters
    // (unless a rare boundary falls between them).
    if common >= 6 {
        let prefix = &ids[0][..common];
        let out = kobo.run(&["show", prefix]);
        assert_eq!(out.code(), 2, "{}", out.stderr());
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(
            out.stderr().trim(),
            format!(
                "error: `{prefix}` is the start of several runs' ids ({}, {}); give more of the id",
                sorted[0], sorted[1]
            )
        );
    }
}

#[test]
fn records_that_cannot_be_reached_are_named_with_what_to_do() {
    let kobo = Kobo::new();
    let out = kobo.run(&["runs", "--records", "mysql://db/kobo"]);
    assert_eq!(out.code(), 2);
    assert_eq!(
        out.stderr().trim(),
        "error: `mysql://db/kobo` is not a place for run records; use `sqlite:/path/records.db` or `postgres://user@host:5432/database`"
    );
    // Nothing listens on port 1: the message names the server (without its password).
    let out = kobo.run(&[
        "runs",
        "--records",
        "postgres://kobo:s3cret@127.0.0.1:1/kobo",
    ]);
    assert_eq!(out.code(), 2);
    let err = out.stderr();
    assert!(
        err.starts_with(
            "error: cannot reach the PostgreSQL records at `postgres://…@127.0.0.1:1/kobo` ("
        ) && err.trim_end().ends_with(
            "check that the server runs and that `--records` (or KOBO_RECORDS) names it"
        ),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn a_file_that_is_not_a_spreadsheet_is_kept_and_its_run_recorded() {
    let kobo = Kobo::new();
    let input = kobo.file("請求書.xlsx", b"%PDF-1.4\n%not a spreadsheet");
    let out = kobo.run(&[
        "run",
        "workflows/invoice-report.yaml",
        "--input",
        input.to_str().unwrap(),
    ]);
    assert_eq!(out.code(), 1);
    let error = out.field("error");
    assert!(
        error.starts_with("step reading input `invoices`: "),
        "{error}"
    );
    assert!(error.contains("請求書.xlsx"), "{error}");
    let folder = PathBuf::from(out.field("run folder"));
    assert_eq!(
        std::fs::read(folder.join("input/請求書.xlsx")).unwrap(),
        b"%PDF-1.4\n%not a spreadsheet"
    );
    let runs = kobo.run(&["runs"]).success().stdout();
    assert!(runs.contains("failed"), "{runs}");
}

#[test]
fn a_column_of_numbers_and_text_sorts_and_a_bug_still_ends_the_run() {
    let kobo = Kobo::new();
    let mut csv = String::from("番号,金額\n");
    for i in 0..50 {
        let amount = match i % 3 {
            0 => format!("{}", 12345 - i * 7),
            1 => format!("{}件", 678 + i),
            _ => String::new(),
        };
        csv.push_str(&format!("{i},{amount}\n"));
    }
    let input = kobo.file("mixed.csv", csv.as_bytes());
    let workflow = kobo.file(
        "sort-mixed.yaml",
        b"name: sort-mixed\nclient: acme\nauthor: olena\ninputs: { orders: {} }\nsteps:\n  - sort: { table: orders, by: \xe9\x87\x91\xe9\xa1\x8d }\n  - write: { file: sorted.csv, table: orders, encoding: utf8 }\n",
    );
    let args = [
        "run",
        workflow.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ];
    let out = kobo.run(&args).success();
    let sorted = std::fs::read_to_string(out.field("output")).unwrap();
    let amounts: Vec<&str> = sorted
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(amounts.len(), 50);
    assert_eq!(&amounts[..2], ["12009", "12030"], "numbers first, by value");
    assert_eq!(&amounts[17..19], ["679件", "682件"], "then text, as text");
    assert!(
        amounts[34..].iter().all(|a| a.is_empty()),
        "empty cells last"
    );

    // A panic (here a fault point standing in for a bug) fails the run; it does not stay running.
    let kobo = kobo.env(runner::fault::PANIC_AT, "write-output");
    let out = kobo.run(&args);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert_eq!(
        out.field("error"),
        "step the whole run: kobo stopped because of a bug in kobo itself, not in your workflow (fault point write-output (KOBO_FAULT_PANIC_AT)); please report it to the kobo developers with this run's id"
    );
    let runs = kobo.run(&["runs"]).success().stdout();
    assert!(!runs.contains("running"), "{runs}");

    // The same after the steps, while the end of the run is being recorded.
    let kobo = Kobo::new().env(runner::fault::PANIC_AT, "finish-run");
    let input = kobo.file("mixed.csv", csv.as_bytes());
    let out = kobo.run(&[
        "run",
        workflow.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert_eq!(
        out.field("error"),
        "step the whole run: kobo stopped because of a bug in kobo itself, not in your workflow (fault point finish-run (KOBO_FAULT_PANIC_AT)); please report it to the kobo developers with this run's id"
    );
    let runs = kobo.run(&["runs"]).success().stdout();
    assert!(
        runs.contains("failed") && !runs.contains("running"),
        "{runs}"
    );
}

// ---- browser workflows against the practice portal (real chromedriver + headless Chromium) ----

fn portal() -> (tokio::runtime::Runtime, portal::PortalHandle) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let handle = rt.block_on(portal::start()).unwrap();
    (rt, handle)
}

fn browser_kobo() -> Kobo {
    Kobo::new()
        .env("KOBO_SECRET_PORTAL_USER", "demo")
        .env("KOBO_SECRET_PORTAL_PASSWORD", "kobo-demo-pass")
}

#[test]
fn the_moving_fields_form_is_completed_for_ten_rows_by_label() {
    let (_rt, portal) = portal();
    let kobo = browser_kobo();
    let url = format!("portal_url={}", portal.url());
    let out = kobo
        .run(&portal_run(Path::new("workflows/portal-entry.yaml"), &url))
        .success();
    assert_eq!(out.field("rows"), "10 ok, 0 failed, 0 skipped (of 10)");
    let submissions = portal.submissions();
    assert_eq!(submissions.len(), 10);
    // The portal's own success message after the tenth entry, as the browser saw the page.
    let folder = PathBuf::from(out.field("run folder"));
    let page = std::fs::read_dir(folder.join("screenshots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "html"))
        .unwrap();
    assert!(
        std::fs::read_to_string(&page)
            .unwrap()
            .contains("10件の登録が完了しました")
    );
    // Each row got the receipt number the portal gave it.
    let rows = sheet(&out.field("output"), "登録結果");
    let receipts: Vec<String> = rows[1..]
        .iter()
        .map(|r| r[col(&rows, "受付番号")].to_string())
        .collect();
    let expected: Vec<String> = submissions.iter().map(|s| s.receipt.clone()).collect();
    assert_eq!(receipts, expected);
    // The password was typed, but appears nowhere in the run's files.
    let log = std::fs::read_to_string(folder.join("log.jsonl")).unwrap();
    assert!(!log.contains("kobo-demo-pass"));
}

/// `kobo run <workflow> --input <Acme's contacts> --param <portal_url=…>`.
fn portal_run<'a>(workflow: &'a Path, portal_url: &'a str) -> [&'a str; 6] {
    let workflow = workflow.to_str().unwrap();
    [
        "run",
        workflow,
        "--input",
        "fixtures/clients/acme/contacts.csv",
        "--param",
        portal_url,
    ]
}

/// A browser workflow that logs in, then does `steps`.
fn portal_workflow(kobo: &Kobo, name: &str, steps: &str) -> PathBuf {
    let yaml = format!(
        "name: {name}\nclient: acme\nauthor: olena\ninputs: {{ contacts: {{}} }}\nparams: {{ portal_url: x }}\nsecrets: [portal_user, portal_password]\n\
browser: {{ element_timeout_secs: 3, page_load_timeout_secs: 20 }}\n\
steps:\n  - open: \"{{{{ params.portal_url }}}}/login\"\n  - fill: {{ label: ユーザーID, value: \"{{{{ secrets.portal_user }}}}\" }}\n  - fill: {{ label: パスワード, value: \"{{{{ secrets.portal_password }}}}\" }}\n  - click: ログイン\n  - wait_for: {{ url_contains: /menu }}\n{steps}"
    );
    kobo.file(&format!("{name}.yaml"), yaml.as_bytes())
}

#[test]
fn browser_mistakes_are_recorded_with_a_screenshot() {
    let (_rt, portal) = portal();
    let kobo = browser_kobo();
    let url = format!("portal_url={}", portal.url());
    let cases = [
        (
            "unknown-label",
            "  - open: \"{{ params.portal_url }}/form\"\n  - fill: { label: 名前, value: x }\n",
            "step #7 fill (line 15): no field with the label \"名前\" appeared within 3s",
        ),
        (
            "missing-page",
            "  - open: \"{{ params.portal_url }}/no-such-page\"\n",
            "step #6 open (line 14): ",
        ),
        (
            "unexpected-dialog",
            "  - open: \"{{ params.portal_url }}/confirm\"\n  - click: お知らせ\n  - click: お知らせ\n",
            "the page opened a dialog saying",
        ),
        (
            "ambiguous-label",
            "  - open: \"{{ params.portal_url }}/fields\"\n  - fill: { label: 住所, value: x }\n",
            "step #7 fill (line 15): the field with the label \"住所\" is not clear: 2 fields match it equally well: \"住所(1行目)\" (<input name=\"address1\">), \"住所(2行目)\" (<input name=\"address2\">)",
        ),
        (
            "blocked-port",
            "  - open: \"http://127.0.0.1:1/\"\n",
            "step #6 open (line 14): could not open URL http://127.0.0.1:1/ (ERR_UNSAFE_PORT)",
        ),
    ];
    for (name, steps, expected) in cases {
        let wf = portal_workflow(&kobo, name, steps);
        let out = kobo.run(&portal_run(&wf, &url));
        assert_eq!(out.code(), 1, "{name}: {}", out.stdout());
        let error = out.field("error");
        assert!(error.contains(expected), "{name}: {error}");
        let folder = PathBuf::from(out.field("run folder"));
        let shots: Vec<String> = std::fs::read_dir(folder.join("screenshots"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            shots.iter().any(|s| s.ends_with("-error.png")),
            "{name}: {shots:?}"
        );
        assert!(
            shots.iter().any(|s| s.ends_with("-error.html")),
            "{name}: {shots:?}"
        );
        assert!(
            folder.join("input/contacts.csv").is_file(),
            "{name}: the input is kept"
        );
    }
    // A portal that cannot be reached at all is a temporary problem: the run is retried.
    let wf = portal_workflow(&kobo, "unreachable", "");
    let yaml = std::fs::read_to_string(&wf).unwrap().replace(
        "browser:",
        "retry: { attempts: 2, backoff_secs: 0 }\nbrowser:",
    );
    std::fs::write(&wf, yaml).unwrap();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("portal_url=http://127.0.0.1:{closed_port}");
    let out = kobo.run(&portal_run(&wf, &url));
    assert_eq!(out.code(), 1);
    let error = out.field("error");
    assert!(error.starts_with("step #1 open (line 10): "), "{error}");
    assert!(
        error.contains(&format!("127.0.0.1:{closed_port}")),
        "the error names the address: {error}"
    );
    assert!(
        out.stderr()
            .contains("attempt 1 of 2 failed with a temporary problem"),
        "{}",
        out.stderr()
    );
    // A temporary problem on the last attempt is a failure like any other: the page is kept.
    let folder = PathBuf::from(out.field("run folder"));
    let shots = file_names(&folder.join("screenshots"));
    assert!(
        shots.contains("001-step1-error.png") && shots.contains("001-step1-error.html"),
        "{shots:?}"
    );
}

fn file_names(dir: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// A step's `timeout_secs` is also how long a browser step waits for its element; when it
/// runs out, the error names the step, the element and the row, and the page is kept under
/// a name with the row in it.
#[test]
fn a_step_timeout_in_a_row_names_the_element_and_keeps_the_page() {
    let (_rt, portal) = portal();
    let kobo = browser_kobo();
    let url = format!("portal_url={}", portal.url());
    let steps = "  - for_each: contacts\n    steps:\n      - open: \"{{ params.portal_url }}/form\"\n      - fill: { label: 存在しない欄, value: x }\n        timeout_secs: 2\n";
    let wf = portal_workflow(&kobo, "step-timeout", steps);
    let out = kobo.run(&portal_run(&wf, &url));
    assert_eq!(out.code(), 1, "{}", out.stdout());
    let error = out.field("error");
    assert!(
        error.starts_with("step #6.2 fill (line 17), row 1 of `contacts` (row 2 in the sheet): no field with the label \"存在しない欄\" appeared within 2s"),
        "{error}"
    );
    let folder = PathBuf::from(out.field("run folder"));
    let shots = file_names(&folder.join("screenshots"));
    assert!(
        shots.contains("001-step6-2-row1-error.png")
            && shots.contains("001-step6-2-row1-error.html"),
        "{shots:?}"
    );
}

/// Processes whose command line mentions `dir` (a browser profile lives in the run's TMPDIR).
fn processes_under(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            cmd.contains(&needle).then_some(format!("{pid}: {cmd}"))
        })
        .collect()
}

/// Wait (bounded) until a Chromium of the run under `tmp` is up, give it a moment to get
/// going, and return the Chromium processes' ids (not chromedriver's).
fn wait_for_browser(tmp: &Path) -> Vec<u32> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let browsers = loop {
        let found: Vec<u32> = processes_under(tmp)
            .iter()
            .filter(|p| !p.contains("chromedriver") && p.contains("--user-data-dir"))
            .filter_map(|p| p.split(':').next()?.parse().ok())
            .collect();
        if !found.is_empty() {
            break found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the browser never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    std::thread::sleep(std::time::Duration::from_millis(1500));
    browsers
}

#[test]
fn no_browser_process_outlives_a_run_that_fails_or_times_out() {
    let (_rt, portal) = portal();
    let tmp = tempfile::tempdir().unwrap();
    let kobo = browser_kobo().env("TMPDIR", tmp.path().to_str().unwrap());
    let url = format!("portal_url={}", portal.url());
    let cases = [
        (
            "fails",
            "  - open: \"{{ params.portal_url }}/form\"\n  - click: { css: \"#no-such-button\" }\n",
            "step #7 click (line 15): no element matching css \"#no-such-button\" appeared within 3s",
        ),
        (
            "times-out",
            "  - open: \"{{ params.portal_url }}/slow?ms=60000\"\n  - wait_for: { css: \".slow-content\" }\n    timeout_secs: 2\n",
            "step #7 wait_for (line 15): no element matching css \".slow-content\" appeared within 2s",
        ),
        (
            // The page never loads, so the step's own wait never starts: stopped from outside.
            "hangs",
            "  - open: \"{{ params.portal_url }}/hang\"\n    timeout_secs: 2\n",
            "step #6 open (line 14): the step did not finish within 2 s (`timeout_secs`) (opening http://",
        ),
    ];
    for (name, steps, expected) in cases {
        let wf = portal_workflow(&kobo, name, steps);
        let out = kobo.run(&portal_run(&wf, &url));
        assert_eq!(out.code(), 1, "{name}: {}", out.stdout());
        let error = out.field("error");
        assert!(error.starts_with(expected), "{name}: {error}");
        assert_eq!(
            processes_under(tmp.path()),
            Vec::<String>::new(),
            "{name}: browser processes left behind"
        );
    }
}

#[test]
fn a_crashed_browser_is_a_temporary_problem_and_the_run_is_retried() {
    let (_rt, portal) = portal();
    let tmp = tempfile::tempdir().unwrap();
    let kobo = browser_kobo().env("TMPDIR", tmp.path().to_str().unwrap());
    let url = format!("portal_url={}", portal.url());
    let wf = portal_workflow(
        &kobo,
        "crash",
        "  - pause: 3\n  - open: \"{{ params.portal_url }}/form\"\n  - assert_text: 登録\n",
    );
    let yaml = std::fs::read_to_string(&wf).unwrap().replace(
        "browser:",
        "retry: { attempts: 2, backoff_secs: 0 }\nbrowser:",
    );
    std::fs::write(&wf, yaml).unwrap();
    let child = kobo
        .command(&portal_run(&wf, &url))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the browser is up and logged in, kill every Chromium process.
    let browsers = wait_for_browser(tmp.path());
    for pid in browsers {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    let out = Done(child.wait_with_output().unwrap()).success();
    assert!(
        out.stderr()
            .contains("attempt 1 of 2 failed with a temporary problem"),
        "{}",
        out.stderr()
    );
    assert!(out.stdout().contains(": succeeded"), "{}", out.stdout());
    assert_eq!(
        processes_under(tmp.path()),
        Vec::<String>::new(),
        "browser processes left behind"
    );
}

/// Chromium crashes in the middle of the rows: the rows are not marked failed one by one
/// (`on_error: mark_row_failed` is for bad data); the run is tried again with a new browser.
#[test]
fn a_browser_crash_inside_for_each_retries_the_run() {
    let (_rt, portal) = portal();
    let tmp = tempfile::tempdir().unwrap();
    let kobo = browser_kobo().env("TMPDIR", tmp.path().to_str().unwrap());
    let url = format!("portal_url={}", portal.url());
    let yaml = std::fs::read_to_string(repo().join("workflows/portal-entry.yaml"))
        .unwrap()
        .replace(
            "browser:",
            "retry: { attempts: 2, backoff_secs: 0 }\nbrowser:",
        );
    let wf = kobo.file("portal-entry.yaml", yaml.as_bytes());
    let child = kobo
        .command(&portal_run(&wf, &url))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while portal.submissions().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the rows never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let browsers: Vec<String> = processes_under(tmp.path())
        .into_iter()
        .filter(|p| !p.contains("chromedriver") && p.contains("--user-data-dir"))
        .collect();
    assert!(!browsers.is_empty());
    for p in browsers {
        let pid = p.split(':').next().unwrap();
        let _ = Command::new("kill").args(["-9", pid]).status();
    }
    let out = Done(child.wait_with_output().unwrap()).success();
    assert!(
        out.stderr()
            .contains("attempt 1 of 2 failed with a temporary problem"),
        "{}",
        out.stderr()
    );
    // The rows entered before the crash are not entered again: each contact once, or the
    // one row the crash interrupted after its click flagged in doubt (and not repeated).
    let entries = portal.entries_per("email");
    assert!(entries.values().all(|n| *n == 1), "{entries:?}");
    let rows = out.field("rows");
    assert!(
        rows == "10 ok, 0 failed, 0 skipped (of 10)"
            || (rows == "9 ok, 0 failed, 0 skipped, 1 in doubt (of 10)" && entries.len() >= 9),
        "{rows}"
    );
    assert_eq!(
        processes_under(tmp.path()),
        Vec::<String>::new(),
        "browser processes left behind"
    );
}

#[test]
fn sigterm_cancels_the_run_records_it_and_ends_chromium_and_chromedriver() {
    // A service manager stopping kobo.
    a_signal_cancels_the_browser_run("-TERM");
}

/// `kill <signal>` on a `kobo run` whose browser is up: the run ends `cancelled` (exit 1),
/// is recorded so, and neither Chromium nor chromedriver is left.
fn a_signal_cancels_the_browser_run(signal: &str) {
    let (_rt, portal) = portal();
    let tmp = tempfile::tempdir().unwrap();
    let kobo = browser_kobo().env("TMPDIR", tmp.path().to_str().unwrap());
    let url = format!("portal_url={}", portal.url());
    let wf = portal_workflow(&kobo, "long", "  - pause: 60\n");
    let child = kobo
        .command(&portal_run(&wf, &url))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_browser(tmp.path());
    // chromedriver is counted too: its `--log-path` is in the run's TMPDIR.
    let running = processes_under(tmp.path());
    assert!(
        running.iter().any(|p| p.contains("chromedriver --port=")),
        "{running:?}"
    );
    Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    let out = Done(child.wait_with_output().unwrap());
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout(), out.stderr());
    assert!(out.stdout().contains(": cancelled"), "{}", out.stdout());
    assert_eq!(
        processes_under(tmp.path()),
        Vec::<String>::new(),
        "browser processes left behind"
    );
    let runs = kobo.run(&["runs"]).success().stdout();
    assert!(runs.contains("cancelled"), "{runs}");
}

/// A kobo killed with SIGKILL cannot close its browser; the next browser run ends what it
/// left behind (chromedriver and Chromium) and removes its temporary directory.
#[test]
fn the_next_browser_run_ends_what_a_killed_kobo_left_behind() {
    let (_rt, portal) = portal();
    let tmp = tempfile::tempdir().unwrap();
    let kobo = browser_kobo().env("TMPDIR", tmp.path().to_str().unwrap());
    let url = format!("portal_url={}", portal.url());
    let wf = portal_workflow(&kobo, "long", "  - pause: 60\n");
    let mut child = kobo
        .command(&portal_run(&wf, &url))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_browser(tmp.path());
    // chromedriver has a process group of its own: SIGKILL on kobo leaves it (and Chromium)
    // running. (Not checked after the kill: another test's browser run may already have
    // ended them, as it should.)
    let running = processes_under(tmp.path());
    assert!(
        running.iter().any(|p| p.contains("chromedriver --port=")),
        "{running:?}"
    );
    let killed_dir = format!("kobo-browser-{}-", child.id());
    let dirs = || -> usize {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&killed_dir))
            .count()
    };
    assert_eq!(dirs(), 1, "the running kobo's browser folder");
    child.kill().unwrap();
    child.wait().unwrap();

    let quick = portal_workflow(&kobo, "quick", "");
    kobo.run(&portal_run(&quick, &url)).success();
    assert_eq!(
        processes_under(tmp.path()),
        Vec::<String>::new(),
        "browser processes left behind"
    );
    assert_eq!(dirs(), 0, "the killed run's browser directory is removed");
}

/// Every locator kind and the less common steps, on a page whose fields are labelled in
/// every way portals do: the portal must receive each value in the right field.
#[test]
fn every_locator_kind_and_step_on_the_fields_page() {
    let (_rt, portal) = portal();
    let kobo = browser_kobo();
    let url = format!("portal_url={}", portal.url());
    let steps = r#"  - open: "{{ params.portal_url }}/fields"
  - extract: { css: a.manual, attribute: href, into: manual }
  - uncheck: { label: お知らせメールを受け取る }
  - upload: { title: 添付ファイル, file: input/contacts.csv }
  - fill: { placeholder: キーワードを入力, value: 請求書 }
  - fill: { name: dept_code, value: D-104 }
  - fill: { xpath: "//div[contains(@class, 'memo')]/input", value: "{{ manual }}" }
  - fill: { label: 担当者, value: 髙橋 }
  - fill: { label: 内線番号, value: "4321" }
  - fill: { label: 郵便番号, value: 150-0001 }
  - fill: { label: 備考, value: 二階の受付 }
  - fill: { label: "お届け　先", value: 本社 }
  - press: Enter
  - assert_text: 受け付けました
"#;
    let wf = portal_workflow(&kobo, "fields", steps);
    kobo.run(&portal_run(&wf, &url)).success();
    let sent = portal
        .submissions()
        .into_iter()
        .find(|s| s.form == "fields")
        .expect("Enter sent the form");
    let expected = [
        ("search", "請求書"),
        ("dept_code", "D-104"),
        ("memo", "/manual/F-07.pdf"),
        ("person", "髙橋"),
        ("extension", "4321"),
        ("zip", "150-0001"),
        ("note", "二階の受付"),
        ("destination", "本社"),
        ("newsletter", "no"),
        ("attachment", "contacts.csv"),
    ];
    for (field, value) in expected {
        assert_eq!(sent.field(field), value, "{field} in {:?}", sent.fields);
    }
}

#[test]
fn ctrl_c_cancels_the_run_records_it_and_closes_the_browser() {
    // Ctrl-C (SIGINT), as a trainee would.
    a_signal_cancels_the_browser_run("-INT");
}

/// Every kind of browser step a trainee meets, as a workflow: an iframe found by its title,
/// a drop-down, a checkbox, a paginated table scraped into a sheet, a confirm dialog.
#[test]
fn frames_selects_checkboxes_tables_and_dialogs_in_one_workflow() {
    let (_rt, portal) = portal();
    let kobo = browser_kobo();
    let url = format!("portal_url={}", portal.url());
    let steps = r#"  - open: "{{ params.portal_url }}/iframe"
  - enter_frame: { title: お問い合わせフォーム }
  - fill: { label: お名前, value: "Olena" }
  - select: { label: 種別, option: 見積 }
  - check: { text: 個人情報の取り扱いに同意する }
  - click: 送信
  - assert_text: 送信しました
  - extract: { css: .receipt-no, into: inquiry_receipt }
  - leave_frame: true
  - open: "{{ params.portal_url }}/table"
  - extract_table: { css: table, next: { text: 次へ }, into: orders }
  - open: "{{ params.portal_url }}/confirm"
  - click: 削除
  - dialog: accept
  - assert_text: OK
  - log: "inquiry {{ inquiry_receipt }}"
  - write: { file: orders.xlsx, table: orders }
"#;
    let wf = portal_workflow(&kobo, "all-kinds", steps);
    let out = kobo.run(&portal_run(&wf, &url)).success();
    let inquiry = portal
        .submissions()
        .into_iter()
        .find(|s| s.form == "inquiry")
        .expect("the inquiry was sent");
    assert_eq!(
        inquiry.fields.get("kind").map(String::as_str),
        Some("quote")
    );
    assert!(
        out.stderr()
            .contains(&format!("inquiry {}", inquiry.receipt)),
        "{}",
        out.stderr()
    );
    let rows = sheet(&out.field("output"), "orders");
    assert_eq!(
        rows.len(),
        26,
        "a header and all 25 orders over three pages"
    );
}

/// `kobo test`: the example workflows pass their own test cases (the browser one against the
/// practice portal `kobo test` starts); a case whose expected file differs is shown cell by
/// cell, and a workflow without a case is named with where to add one.
#[test]
fn kobo_test_runs_each_workflows_cases_and_shows_what_differs() {
    let kobo = Kobo::new();
    let out = kobo.run(&["test", "workflows"]).success();
    assert!(
        out.stdout()
            .contains("all 4 test cases give what they expect"),
        "{}",
        out.stdout()
    );
    assert!(
        out.stdout()
            .contains("ok      workflows/portal-entry.yaml / ten-contacts")
    );
    // A run of a tested version says so; the reviewer sees it with the run.
    let run = kobo
        .run(&[
            "run",
            "workflows/invoice-report.yaml",
            "--input",
            "fixtures/clients/acme/invoices.csv",
        ])
        .success();
    let show = kobo.run(&["show", &run.run_id()]).success().stdout();
    assert!(
        show.contains("tests      all 1 cases passed at this version"),
        "{show}"
    );

    let dir = kobo.home.path().join("bots");
    let case = dir.join("tests/double/three-rows");
    std::fs::create_dir_all(&case).unwrap();
    std::fs::write(
        dir.join("double.yaml"),
        "name: double\nclient: t\nauthor: olena\ninputs: { data: {} }\nsteps:\n  - compute: { table: data, column: doubled, value: \"{{ row['n'] * 2 }}\" }\n  - write: { file: doubled.csv, table: data }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("untested.yaml"),
        "name: untested\nclient: t\nauthor: olena\nsteps:\n  - log: hi\n",
    )
    .unwrap();
    std::fs::write(case.join("in.csv"), "n\n1\n2\n3\n").unwrap();
    std::fs::write(case.join("expected.csv"), "n,doubled\n1,2\n2,4\n3,8\n").unwrap();
    std::fs::write(
        case.join("case.yaml"),
        "inputs: { data: in.csv }\nexpect:\n  outputs:\n    doubled.csv: expected.csv\n",
    )
    .unwrap();
    let out = kobo.run(&["test", dir.to_str().unwrap()]);
    assert_eq!(out.code(), 1, "{}", out.stdout());
    let text = out.stdout();
    assert!(text.contains("FAILED  "), "{text}");
    assert!(
        text.contains(
            "`doubled.csv`, sheet `doubled`, row 4, column `doubled`: expected `8`, got `6`"
        ),
        "{text}"
    );
    assert!(text.contains("no test "), "{text}");
    assert!(text.contains("tests/untested/<case>/case.yaml"), "{text}");
    assert!(text.contains("1 of 1 test cases differ"), "{text}");

    // A mistake in case.yaml is named with the file.
    std::fs::write(
        case.join("case.yaml"),
        "inputs: { data: in.csv }\nexpected: {}\n",
    )
    .unwrap();
    let out = kobo.run(&["test", dir.to_str().unwrap()]);
    assert_eq!(out.code(), 1);
    assert!(
        out.stdout().contains("case.yaml` is not a test case"),
        "{}",
        out.stdout()
    );
}

/// Screenshots of Japanese portals need a Japanese font: with one (the test command installs
/// `fonts-noto-cjk`) nothing is said; on a machine without one (fontconfig limited to the
/// Latin fonts here) the run's log says what to install.
#[test]
fn a_machine_without_a_japanese_font_is_told_what_to_install() {
    let (_rt, portal) = portal();
    let url = format!("portal_url={}", portal.url());
    let steps = "  - screenshot: menu\n";
    let with_fonts = browser_kobo();
    let wf = portal_workflow(&with_fonts, "fonts", steps);
    let out = with_fonts.run(&portal_run(&wf, &url)).success();
    assert!(
        !out.stderr().contains("no Japanese font"),
        "{}",
        out.stderr()
    );

    // Latin fonts only (Chromium needs some font to start at all).
    let tmp = tempfile::tempdir().unwrap();
    let latin = tmp.path().join("fonts.conf");
    std::fs::write(
        &latin,
        format!(
            "<?xml version=\"1.0\"?><fontconfig><dir>/usr/share/fonts/truetype</dir><cachedir>{}</cachedir></fontconfig>\n",
            tmp.path().join("cache").display()
        ),
    )
    .unwrap();
    let ja = Command::new("fc-list")
        .args([":lang=ja", "family"])
        .env("FONTCONFIG_FILE", &latin)
        .output()
        .expect("fc-list (Debian package fontconfig)");
    assert!(
        ja.stdout.is_empty(),
        "a Japanese font in /usr/share/fonts/truetype"
    );
    let without = browser_kobo().env("FONTCONFIG_FILE", latin.to_str().unwrap());
    let wf = portal_workflow(&without, "fonts", steps);
    let out = without.run(&portal_run(&wf, &url)).success();
    assert!(
        out.stderr().contains("no Japanese font is installed")
            && out.stderr().contains("apt-get install fonts-noto-cjk"),
        "{}",
        out.stderr()
    );
}

/// A click that makes the portal send a file (an export) saves it in the run's own
/// `downloads/` folder, never in the account's home folder or anywhere else.
#[test]
fn a_downloaded_file_stays_in_the_run_folder() {
    let (_rt, portal) = portal();
    let fake_home = tempfile::tempdir().unwrap();
    let kobo = browser_kobo().env("HOME", fake_home.path().to_str().unwrap());
    let url = format!("portal_url={}", portal.url());
    let wf = portal_workflow(
        &kobo,
        "export",
        "  - open: \"{{ params.portal_url }}/escape\"\n  - click: CSVをダウンロード\n  - pause: 2\n",
    );
    let out = kobo.run(&portal_run(&wf, &url)).success();
    let folder = PathBuf::from(out.field("run folder"));
    let saved = std::fs::read_to_string(folder.join("downloads/export.csv"))
        .unwrap_or_else(|e| panic!("no export in the run's downloads/: {e}\n{}", out.stderr()));
    assert!(saved.contains("番号,金額"), "{saved}");
    let strays: Vec<_> = walk(fake_home.path())
        .into_iter()
        .filter(|p| p.ends_with("export.csv"))
        .collect();
    assert!(strays.is_empty(), "downloaded outside the run: {strays:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
