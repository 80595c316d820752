//! Runs as a trainee makes them: a workflow on a real file, recorded in a real SQLite file,
//! then read back. Covers per-row failures, retries, try/catch, timeouts, secrets and the
//! promise that an input that cannot be read is still kept and its run recorded.

use runner::Cell;
use runner::record::Records;
use runner::run::{RowStatus, RunStatus};
use runner::secrets::Secrets;
use runner::{RunOptions, Workflow, execute};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

struct Session {
    home: TempDir,
    records: Records,
}

impl Session {
    async fn new() -> Session {
        let home = tempfile::tempdir().unwrap();
        let records = Records::open(&home.path().join("records.db"))
            .await
            .unwrap();
        Session { home, records }
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.home.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    async fn run(
        &self,
        yaml: &str,
        input: &Path,
        secrets: Secrets,
    ) -> (runner::RunOutcome, runner::record::RunDetail) {
        let w = Workflow::parse(Path::new("test.yaml"), yaml).unwrap_or_else(|e| panic!("{e}"));
        let mut opts = RunOptions::new(self.home.path());
        if let Some(i) = w.file_inputs().next() {
            opts.inputs.insert(i.name.clone(), input.to_path_buf());
        }
        opts.secrets = secrets;
        let outcome = execute(&w, &self.records, opts).await.unwrap();
        let detail = self.records.detail(&outcome.id.0).await.unwrap();
        (outcome, detail)
    }
}

const ORDERS: &str = "番号,品名,金額\n1,りんご,100\n2,みかん,\n3,ぶどう,300\n4,もも,-50\n";

#[tokio::test]
async fn rows_that_fail_are_marked_and_the_run_goes_on() {
    let s = Session::new().await;
    let input = s.file("orders.csv", ORDERS.as_bytes());
    let (out, detail) = s
        .run(
            r#"name: t
client: acme
author: olena
inputs: { orders: {} }
steps:
  - for_each: orders
    on_error: mark_row_failed
    steps:
      - if: "row['金額'] == ''"
        then: [ { fail: "no amount for {{ row['品名'] }}" } ]
      - if: "row['金額'] < 0"
        then: [ { skip_row: "a refund" } ]
  - write: { file: result.xlsx, table: orders, with_results: true }
"#,
            &input,
            Secrets::default(),
        )
        .await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(
        (
            out.rows.ok,
            out.rows.failed,
            out.rows.skipped,
            out.rows.total
        ),
        (2, 1, 1, 4)
    );
    let failed: Vec<_> = detail
        .rows
        .iter()
        .filter(|r| r.status == RowStatus::Failed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].row, 2);
    assert_eq!(
        failed[0].source_row, 3,
        "row 2 of the table is row 3 of the sheet (after the header)"
    );
    assert_eq!(failed[0].message.as_deref(), Some("no amount for みかん"));
    assert_eq!(failed[0].step.as_deref(), Some("#1.1.1 fail (line 10)"));
    // The output carries each row's result for the reviewer.
    let table = runner::sheet::read_table(&out.outputs[0], &Default::default()).unwrap();
    let result = table.column_index("result").unwrap();
    let statuses: Vec<String> = table.rows.iter().map(|r| r[result].to_string()).collect();
    assert_eq!(statuses, ["ok", "failed", "ok", "skipped"]);
    // The run record lists the input copy and the output.
    let kinds: Vec<&str> = detail.artifacts.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["input", "output"]);
    assert_eq!(detail.steps[0].kind, "for_each");
    assert_eq!(detail.steps[0].calls, 1);
}

#[tokio::test]
async fn row_results_are_kept_in_the_run_folder() {
    let s = Session::new().await;
    let input = s.file("orders.csv", ORDERS.as_bytes());
    let (out, detail) = s
        .run(
            "name: t\nclient: acme\nauthor: olena\ninputs: { orders: {} }\nsteps:\n  - for_each: orders\n    on_error: mark_row_failed\n    steps:\n      - if: \"row['金額'] == ''\"\n        then: [ { fail: \"no amount\" } ]\n",
            &input,
            Secrets::default(),
        )
        .await;
    let text = std::fs::read_to_string(out.folder.join("rows.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[1],
        serde_json::json!({
            "table": "orders", "row": 2, "source_row": 3, "status": "failed",
            "message": "no amount", "step": "#1.1.1 fail (line 10)", "place": "orders#1@3"
        })
    );
    assert_eq!(rows[0]["status"], "ok");
    assert_eq!(detail.rows.len(), 4, "the records keep them too");
}

#[tokio::test]
async fn a_failing_row_stops_the_run_by_default() {
    let s = Session::new().await;
    let input = s.file("orders.csv", ORDERS.as_bytes());
    let (out, detail) = s
        .run(
            "name: t\nclient: acme\nauthor: olena\ninputs: { orders: {} }\nsteps:\n  - for_each: orders\n    steps:\n      - log: \"{{ row['金額'] / 2 }}\"\n",
            &input,
            Secrets::default(),
        )
        .await;
    assert_eq!(out.status, RunStatus::Failed);
    let error = out.error.unwrap();
    assert!(
        error.starts_with("step #1.1 log (line 8), row 2 of `orders` (row 3 in the sheet): cannot fill in `{{ row['金額'] / 2 }}`: this calculation is not possible"),
        "{error}"
    );
    let statuses: Vec<RowStatus> = detail.rows.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            RowStatus::Ok,
            RowStatus::Failed,
            RowStatus::Pending,
            RowStatus::Pending
        ]
    );
}

#[tokio::test]
async fn try_catch_retry_and_continue() {
    let s = Session::new().await;
    let input = s.file("orders.csv", ORDERS.as_bytes());
    let (out, detail) = s
        .run(
            r#"name: t
client: acme
author: olena
inputs: { orders: {} }
steps:
  - try:
      - fail: "portal said no"
    catch:
      - set: { caught: "{{ error }}" }
  - fail: "ignored"
    on_error: continue
  - fail: "flaky"
    retry: { attempts: 3, backoff_secs: 0 }
    on_error: continue
  - log: "caught={{ caught }}"
"#,
            &input,
            Secrets::default(),
        )
        .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let flaky = detail
        .steps
        .iter()
        .find(|st| st.path == "steps[2]")
        .unwrap();
    assert_eq!(
        (flaky.calls, flaky.failures),
        (3, 3),
        "three attempts, all failed"
    );
    let log = runner::run_folder::read_log(&out.folder.join("log.jsonl")).unwrap();
    assert!(
        log.iter().any(|l| l.message == "caught=portal said no"),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.message.starts_with("attempt 1 of 3 failed: flaky"))
    );
}

#[tokio::test]
async fn a_step_timeout_fails_the_step() {
    let s = Session::new().await;
    let input = s.file("orders.csv", ORDERS.as_bytes());
    let (out, _) = s
        .run(
            "name: t\nclient: acme\nauthor: olena\ninputs: { orders: {} }\nsteps:\n  - pause: 5\n    timeout_secs: 1\n",
            &input,
            Secrets::default(),
        )
        .await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(
        out.error.as_deref(),
        Some("step #1 pause (line 6): the step did not finish within 1 s (`timeout_secs`)")
    );
}

#[tokio::test]
async fn secrets_never_reach_logs_or_records() {
    let s = Session::new().await;
    let input = s.file("orders.csv", ORDERS.as_bytes());
    let secrets = Secrets::from_pairs([("portal_password".to_string(), "s3cret-Pa55".to_string())]);
    let (out, detail) = s
        .run(
            "name: t\nclient: acme\nauthor: olena\ninputs: { orders: {} }\nsecrets: [portal_password]\nsteps:\n  - log: \"typing {{ secrets.portal_password }}\"\n  - fail: \"login failed for {{ secrets.portal_password }}\"\n",
            &input,
            secrets,
        )
        .await;
    let log = std::fs::read_to_string(out.folder.join("log.jsonl")).unwrap();
    assert!(!log.contains("s3cret-Pa55"), "{log}");
    assert!(log.contains("typing ***"));
    let err = detail.run.error.unwrap();
    assert_eq!(err, "step #2 fail (line 8): login failed for ***");
}

#[tokio::test]
async fn secrets_are_masked_in_row_messages_and_after_filters() {
    let s = Session::new().await;
    let input = s.file("orders.csv", ORDERS.as_bytes());
    let secrets = Secrets::from_pairs([("pin".to_string(), "Kharkiv-7731".to_string())]);
    let (out, detail) = s
        .run(
            "name: t\nclient: acme\nauthor: olena\ninputs: { orders: {} }\nsecrets: [pin]\nsteps:\n  - log: \"{{ secrets.pin | upper }} {{ secrets.pin | lower }}\"\n  - for_each: orders\n    steps:\n      - skip_row: \"skip {{ secrets.pin }}\"\n  - write: { file: out.csv, table: orders, with_results: true }\n",
            &input,
            secrets,
        )
        .await;
    assert_eq!(out.status, RunStatus::Succeeded);
    let messages: Vec<Option<&str>> = detail.rows.iter().map(|r| r.message.as_deref()).collect();
    assert_eq!(messages, vec![Some("skip ***"); 4]);
    let log = std::fs::read_to_string(out.folder.join("log.jsonl")).unwrap();
    assert!(log.contains("\"*** ***\""), "{log}");
    let written = std::fs::read_to_string(out.folder.join("outputs/out.csv")).unwrap();
    for text in [&log, &written] {
        let lower = text.to_lowercase();
        assert!(!lower.contains("kharkiv-7731"), "{text}");
    }
}

#[tokio::test]
async fn an_unreadable_input_is_kept_and_recorded() {
    let s = Session::new().await;
    let input = s.file("invoices.xlsx", b"%PDF-1.4 this is not a spreadsheet");
    let (out, detail) = s
        .run(
            "name: t\nclient: acme\nauthor: olena\ninputs: { invoices: {} }\nsteps:\n  - log: hi\n",
            &input,
            Secrets::default(),
        )
        .await;
    assert_eq!(out.status, RunStatus::Failed);
    let err = out.error.unwrap();
    assert!(err.starts_with("step reading input `invoices`: "), "{err}");
    assert!(
        err.contains("invoices.xlsx"),
        "the error names the file: {err}"
    );
    let kept = out.folder.join("input/invoices.xlsx");
    assert_eq!(
        std::fs::read(&kept).unwrap(),
        b"%PDF-1.4 this is not a spreadsheet"
    );
    assert_eq!(detail.run.input_name.as_deref(), Some("invoices.xlsx"));
    assert!(detail.run.input_hash.is_some());
}

#[tokio::test]
async fn a_missing_column_names_the_columns_that_exist() {
    let s = Session::new().await;
    let input = s.file("orders.csv", ORDERS.as_bytes());
    let (out, _) = s
        .run(
            "name: t\nclient: acme\nauthor: olena\ninputs: { orders: {} }\nsteps:\n  - for_each: orders\n    steps:\n      - log: \"{{ row['価格'] }}\"\n",
            &input,
            Secrets::default(),
        )
        .await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(
        out.error.as_deref(),
        Some(
            "step reading the input: the input does not have the columns the workflow uses:\ntest.yaml:8:14: table `orders` has no column `価格`\n  hint: columns of `orders`: 番号, 品名, 金額"
        )
    );
}

#[tokio::test]
async fn input_errors_name_the_file_as_given_and_the_sheet() {
    let s = Session::new().await;
    let roster =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/clients/sakura/roster.xlsx");
    let (out, _) = s
        .run(
            "name: t\nclient: acme\nauthor: olena\ninputs: { staff: { header_row: 3, columns: [社員番号, 給料] } }\nsteps:\n  - log: hi\n",
            &roster,
            Secrets::default(),
        )
        .await;
    let error = out.error.unwrap();
    assert!(
        error.starts_with("step reading input `staff`: the sheet `名簿` of `roster.xlsx` has no column `給料` (header row 3). Its columns are: 社員番号, "),
        "{error}"
    );
    let (out, _) = s
        .run(
            "name: t\nclient: acme\nauthor: olena\ninputs: { staff: { sheet: 名薄 } }\nsteps:\n  - log: hi\n",
            &roster,
            Secrets::default(),
        )
        .await;
    let error = out.error.unwrap();
    assert!(
        error.starts_with("step reading input `staff`: `roster.xlsx` has no sheet named `名薄`"),
        "{error}"
    );
}

#[tokio::test]
async fn ukrainian_column_names_are_read_computed_and_written() {
    let s = Session::new().await;
    let input = s.file(
        "платежі.csv",
        "Номер,Сума,Опис\n1,100,Київ\n2,250,Львів — склад\n3,,Харків\n".as_bytes(),
    );
    let (out, _) = s
        .run(
            "name: t\nclient: acme\nauthor: olena\ninputs: { payments: { columns: [Номер, Сума, Опис] } }\nsteps:\n  - filter: { table: payments, where: \"row['Сума'] != ''\" }\n  - compute: { table: payments, column: Сума з ПДВ, value: \"{{ row['Сума'] * 1.2 }}\" }\n  - sort: { table: payments, by: Сума, descending: true }\n  - for_each: payments\n    steps:\n      - log: \"{{ row['Номер'] }}: {{ row['Опис'] }}\"\n  - write: { file: платежі.xlsx, table: payments, formats: { Сума з ПДВ: \"#,##0.00\" } }\n",
            &input,
            Secrets::default(),
        )
        .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let written = runner::sheet::read_table(
        &out.folder.join("outputs/платежі.xlsx"),
        &runner::SheetSpec::default(),
    )
    .unwrap();
    assert_eq!(written.columns, ["Номер", "Сума", "Опис", "Сума з ПДВ"]);
    // CSV columns of numbers reach Excel as numbers; text stays text.
    let t = Cell::text;
    assert_eq!(
        written.rows,
        vec![
            vec![
                Cell::Int(2),
                Cell::Int(250),
                t("Львів — склад"),
                Cell::Int(300)
            ],
            vec![Cell::Int(1), Cell::Int(100), t("Київ"), Cell::Int(120)],
        ]
    );
    let log = std::fs::read_to_string(out.folder.join("log.jsonl")).unwrap();
    assert!(log.contains("2: Львів — склад"), "{log}");
}

#[tokio::test]
async fn tables_are_filtered_sorted_joined_and_written_with_dates() {
    let s = Session::new().await;
    let input = s.file("staff.csv", "id,name,dept,start\n3, Ｃａｔ ,D2,2024/04/01\n1,Ann,D1,2020/10/01\n2,Bob,D9,2021/01/15\n1,Ann,D1,2020/10/01\n".as_bytes());
    let (out, _) = s
        .run(
            r#"name: t
client: acme
author: olena
inputs: { staff: {} }
steps:
  - dedupe: { table: staff, by: [id] }
  - sort: { table: staff, by: id }
  - compute: { table: staff, column: name, value: "{{ row.name | halfwidth | trim }}" }
  - new_table: { name: depts, columns: [code, title] }
  - append: { table: depts, values: { code: D1, title: Sales } }
  - append: { table: depts, values: { code: D2, title: Dev } }
  - join: { table: staff, with: depts, on: dept, with_on: code, columns: [title] }
  - filter: { table: staff, where: "row.title != ''", into: known }
  - write: { file: "staff.xlsx", sheets: [ { table: known, name: 社員, formats: { start: "yyyy-mm-dd" } } ] }
"#,
            &input,
            Secrets::default(),
        )
        .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let spec = runner::SheetSpec {
        sheet: runner::sheet::SheetRef::Name("社員".into()),
        ..Default::default()
    };
    let t = runner::sheet::read_table(&out.outputs[0], &spec).unwrap();
    assert_eq!(t.columns, ["id", "name", "dept", "start", "title"]);
    let names: Vec<String> = t.rows.iter().map(|r| r[1].to_string()).collect();
    assert_eq!(names, ["Ann", "Cat"]);
    assert_eq!(
        t.rows[0][3],
        runner::Cell::Date(chrono::NaiveDate::from_ymd_opt(2020, 10, 1).unwrap()),
        "written as a real date"
    );
}

/// A trainee's `row['金額'] * 1.1` on a row whose amount is `未定` is told which column holds
/// which text, and how to leave such rows alone; `where:` on `compute` does that.
#[tokio::test]
async fn text_where_a_number_was_meant_is_named_and_compute_where_leaves_it() {
    let s = Session::new().await;
    let input = s.file(
        "invoices.csv",
        "請求書番号,金額\nA1,1000\nA2,未定\nA3,2000\n".as_bytes(),
    );
    let tax = |extra: &str| {
        format!(
            r#"name: t
client: acme
author: olena
inputs: {{ invoices: {{}} }}
steps:
  - compute: {{ table: invoices, column: 税込, value: "{{{{ row['金額'] * 1.1 }}}}"{extra} }}
  - write: {{ file: out.xlsx, table: invoices }}
"#
        )
    };
    let (out, _) = s.run(&tax(""), &input, Secrets::default()).await;
    assert_eq!(out.status, RunStatus::Failed);
    let error = out.error.unwrap();
    assert!(
        error.contains("row 2 of `invoices` (row 3 in the sheet)")
            && error.contains("`金額` in this row is the text `未定`, not a number")
            && error.contains("`row['金額'] is number`"),
        "{error}"
    );

    let (out, _) = s
        .run(
            &tax(r#", where: "row['金額'] is number""#),
            &input,
            Secrets::default(),
        )
        .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let t = runner::sheet::read_table(&out.outputs[0], &Default::default()).unwrap();
    let taxed: Vec<String> = t.rows.iter().map(|r| r[2].to_string()).collect();
    assert_eq!(
        taxed,
        ["1100", "", "2200"],
        "the row left out keeps its empty cell"
    );
}

/// After a `for_each`, `row_status` tells `filter` and `compute` how each row ended: the
/// failed rows can go to a table of their own for the client.
#[tokio::test]
async fn row_status_picks_the_rows_a_loop_failed() {
    let s = Session::new().await;
    let input = s.file("orders.csv", ORDERS.as_bytes());
    let (out, _) = s
        .run(
            r#"name: t
client: acme
author: olena
inputs: { orders: {} }
steps:
  - for_each: orders
    on_error: mark_row_failed
    steps:
      - if: "row['金額'] == ''"
        then: [ { fail: "no amount" } ]
  - filter: { table: orders, where: "row_status == 'failed'", into: to_ask }
  - compute: { table: orders, column: 状態, value: "{{ row_status }}", where: "row_status != 'failed'" }
  - write: { file: out.xlsx, sheets: [ { table: to_ask }, { table: orders } ] }
"#,
            &input,
            Secrets::default(),
        )
        .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let sheet = |name: &str| {
        let spec = runner::SheetSpec {
            sheet: runner::sheet::SheetRef::Name(name.into()),
            ..Default::default()
        };
        runner::sheet::read_table(&out.outputs[0], &spec).unwrap()
    };
    let to_ask = sheet("to_ask");
    let numbers: Vec<String> = to_ask.rows.iter().map(|r| r[0].to_string()).collect();
    assert_eq!(numbers, ["2"]);
    let orders = sheet("orders");
    let states: Vec<String> = orders.rows.iter().map(|r| r[3].to_string()).collect();
    assert_eq!(states, ["ok", "", "ok", "ok"]);
}

#[test]
fn a_comparison_with_one_equals_sign_gets_its_own_hint() {
    let e = Workflow::parse(
        Path::new("w.yaml"),
        r#"name: t
client: acme
author: olena
inputs: { orders: {} }
steps:
  - filter: { table: orders, where: "row['区分'] = '請求'" }
"#,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("to compare two values write `==`"), "{e}");
}

#[tokio::test]
async fn with_results_keeps_its_columns_when_columns_are_chosen() {
    let s = Session::new().await;
    let input = s.file("orders.csv", ORDERS.as_bytes());
    let (out, _) = s
        .run(
            r#"name: t
client: acme
author: olena
inputs: { orders: {} }
steps:
  - for_each: orders
    on_error: mark_row_failed
    steps:
      - fail: "no amount"
        when: "row['金額'] == ''"
  - write:
      file: result.xlsx
      with_results: true
      sheets: [ { table: orders, columns: [品名, 金額] } ]
"#,
            &input,
            Secrets::default(),
        )
        .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let table = runner::sheet::read_table(&out.outputs[0], &Default::default()).unwrap();
    assert_eq!(table.columns, ["品名", "金額", "result", "error"]);
    assert_eq!(table.rows[1][2].to_string(), "failed");
    assert_eq!(table.rows[1][3].to_string(), "no amount");
}

/// A queue worker beats on its running run; `kobo serve` takes the run for lost only when the
/// beat stood still long enough, and a worker that lost its run to another knows it.
#[tokio::test]
async fn a_run_whose_heartbeat_stands_still_is_taken_for_lost_and_only_then() {
    use runner::record::{RunRecord, Start};
    use runner::submit::StallWatch;
    use std::time::Duration;

    let s = Session::new().await;
    let w = Workflow::parse(
        Path::new("w.yaml"),
        "name: w\nclient: t\nauthor: olena\ninputs:\n  data:\n    columns: [n]\nsteps:\n  - log: hi\n",
    )
    .unwrap();
    let id = runner::RunId::generate();
    let record = RunRecord::new(&id, &w, None, RunStatus::Queued, "runs/x");
    s.records.insert(&record).await.unwrap();
    assert_eq!(s.records.start(&id, "a").await.unwrap(), Start::Fresh);
    let mut watch = StallWatch::new(Duration::from_millis(1000));
    let lost = |runs: Vec<RunRecord>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();

    // Not beaten yet (a worker that just started, or a one-shot `kobo run`): never lost.
    assert!(lost(watch.stalled(&s.records).await.unwrap()).is_empty());
    s.records.beat(&id).await.unwrap();
    assert!(lost(watch.stalled(&s.records).await.unwrap()).is_empty());
    // Beating again in time keeps it alive…
    // (Margins are wide: only a machine stalled for 0.7 s could make this fail.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.records.beat(&id).await.unwrap();
    assert!(lost(watch.stalled(&s.records).await.unwrap()).is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(lost(watch.stalled(&s.records).await.unwrap()).is_empty());
    // …a beat that stands still for longer than the limit does not.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        lost(watch.stalled(&s.records).await.unwrap()),
        vec![id.clone()]
    );

    // Worker `b` takes it over: `a` no longer holds it, and the new holder starts unbeaten.
    assert_eq!(s.records.start(&id, "b").await.unwrap(), Start::Resumed);
    assert!(!s.records.still_held_by(&id, "a").await.unwrap());
    assert!(s.records.still_held_by(&id, "b").await.unwrap());
    assert!(lost(watch.stalled(&s.records).await.unwrap()).is_empty());
}

#[tokio::test]
async fn serve_parses_a_workflow_once_and_again_only_when_it_changes() {
    use runner::queue::{JobQueue, QueueLocation, QueueSettings};
    use runner::{Inbox, InboxSettings};
    let s = Session::new().await;
    let workflows = s.home.path().join("workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    let file = workflows.join("orders.yaml");
    let yaml =
        "name: orders\nclient: acme\nauthor: olena\ninputs: { orders: {} }\nsteps:\n  - log: hi\n";
    std::fs::write(&file, yaml).unwrap();
    // Over the limit: refused without parsing, with the size in the message.
    let big = workflows.join("big.yaml");
    let mut text = String::from(yaml);
    text.push_str(&"# a comment line that makes the file long\n".repeat(30_000));
    std::fs::write(&big, &text).unwrap();
    let err = Workflow::load(&big).unwrap_err().to_string();
    assert!(
        err.contains("the workflow file is 1.2 MB; a workflow can be at most 1 MB"),
        "{err}"
    );

    let location = QueueLocation::Sqlite(s.home.path().join("queue.db"));
    let mut queue = JobQueue::open(&location, QueueSettings::default())
        .await
        .unwrap();
    let mut inbox = Inbox::new(InboxSettings::new(s.home.path(), &workflows));
    for _ in 0..3 {
        inbox.scan(&s.records, &mut queue).await;
    }
    assert_eq!(inbox.workflow_parses(), 2, "each file once");
    std::fs::write(&file, yaml.replace("hi", "hello")).unwrap();
    for _ in 0..3 {
        inbox.scan(&s.records, &mut queue).await;
    }
    assert_eq!(inbox.workflow_parses(), 3, "the changed file once more");
}

#[tokio::test]
async fn a_value_that_grows_without_end_fails_its_step_quickly() {
    let s = Session::new().await;
    let mut csv = String::from("番号\n");
    for i in 1..=40 {
        csv.push_str(&format!("{i}\n"));
    }
    let input = s.file("orders.csv", csv.as_bytes());
    let yaml = "name: t\nclient: acme\nauthor: olena\ninputs: { orders: {} }\nsteps:\n  - set: { s: ab }\n  - for_each: orders\n    steps:\n      - set: { s: \"{{ s ~ s ~ s ~ s }}\" }\n";
    // `kobo validate` has nothing against it.
    assert!(Workflow::parse(Path::new("grow.yaml"), yaml).is_ok());
    let started = std::time::Instant::now();
    let (out, _) = s.run(yaml, &input, Secrets::default()).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(
        out.error.as_deref(),
        Some(
            "step #2.1 set (line 9), row 12 of `orders` (row 13 in the sheet): cannot fill in `{{ s ~ s ~ s ~ s }}`: the value is larger than 10 MB, the bound for one value (does a loop add a value to itself, like `s ~ s`?)"
        )
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // The process is fine: the next run works.
    let (ok, _) = s
        .run(
            "name: t\nclient: acme\nauthor: olena\ninputs: { orders: {} }\nsteps:\n  - log: still here\n",
            &input,
            Secrets::default(),
        )
        .await;
    assert_eq!(ok.status, RunStatus::Succeeded);
}
