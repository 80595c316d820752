//! Browser steps for what real portals do, run as workflows in a real headless Chromium
//! against the practice portal: dialogs that ask for an answer, tables drawn with ARIA
//! roles, files to download (a Shift_JIS CSV, an Excel workbook), new tabs and windows,
//! nested frames, multiple-choice lists, non-breaking spaces, and `timeout_secs` written
//! inside a step's braces.

#[path = "support/portal_run.rs"]
mod portal_run;

use portal::PortalHandle;
use portal_run::{LOGIN, Ran, run_workflow};
use runner::Workflow;
use std::path::{Path, PathBuf};

/// Sign in to the portal, then `steps` (indented as steps of the workflow).
async fn run(portal: &PortalHandle, steps: &str) -> Ran {
    run_workflow(portal, "portal-steps", "", &format!("{LOGIN}{steps}"), None).await
}

fn problems(yaml: &str) -> String {
    match Workflow::parse(Path::new("w.yaml"), yaml) {
        Ok(_) => panic!("expected problems in\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn a_prompt_is_answered_and_its_message_kept() {
    let portal = portal::start().await.unwrap();
    let ran = run(
        &portal,
        r##"  - open: "{{ params.portal_url }}/confirm"
  - click: 名前を入力
  - dialog: { accept: true, text: "山田", into: question }
  - assert_text: こんにちは、山田さん
  - fail: "the dialog said {{ question }}"
    when: "question != '担当者のお名前を入力してください'"
  - click: 名前を入力
  - dialog: { accept: false, into: again }
  - assert_text: キャンセルされました
  - click: 削除
  - dialog: accept
  - assert_text: OK
  - click: お知らせ
  - dialog: { accept: true, text: "typed into an alert" }
"##,
    )
    .await;
    let error = ran.error();
    // Everything before the last step worked; the last one says what is wrong, in words.
    assert!(
        error.contains("the dialog saying \"保存しました\" has no box to type in"),
        "{error}"
    );
    assert!(error.starts_with("step #18 dialog (line 26)"), "{error}");
    let log = ran.log();
    assert!(
        log.contains(
            "dialog said \\\"担当者のお名前を入力してください\\\"; typed the answer and pressed OK"
        ),
        "{log}"
    );
    assert!(
        !log.contains("typed into an alert"),
        "the answer is not logged: {log}"
    );
}

#[test]
fn a_wrong_dialog_says_what_is_allowed() {
    let head = "name: d\nclient: t\nauthor: olena\nsteps:\n";
    for (step, want) in [
        ("  - dialog: yes\n", "w.yaml:5:13: `dialog` cannot be `yes`"),
        (
            "  - dialog: {x: 1}\n",
            "w.yaml:5:14: unknown key `x` in `dialog`",
        ),
        (
            "  - dialog: [accept]\n",
            "w.yaml:5:13: `dialog` cannot be a list",
        ),
        (
            "  - dialog: { text: 山田 }\n",
            "`dialog` needs `accept: true` (press OK) or `accept: false` (press Cancel)",
        ),
        (
            "  - dialog: { accept: false, text: 山田 }\n",
            "`text` is typed into the dialog only when it is accepted",
        ),
    ] {
        let message = problems(&format!("{head}{step}"));
        assert!(message.contains(want), "{step}: {message}");
        assert!(
            !message.contains("Value::") && !message.contains("enum"),
            "{step}: {message}"
        );
        assert!(
            message.contains("dialog: accept")
                || message.contains("allowed keys here: accept, text, into")
                || message.contains("use `accept: true`"),
            "{step}: the message shows what is allowed: {message}"
        );
    }
    // Any word-valued key given a group of keys is said in words, not in serde's.
    let message = problems(&format!("{head}  - log: hi\n    on_error: {{x: 1}}\n"));
    assert!(!message.contains("Value::"), "{message}");
    assert!(
        message.contains("one of the words allowed here"),
        "{message}"
    );
}

#[tokio::test]
async fn aria_grids_and_tables_are_read_with_their_headers() {
    let portal = portal::start().await.unwrap();
    let ran = run(
        &portal,
        r##"  - open: "{{ params.portal_url }}/grid"
  - extract_table: { css: "#invoices", next: { text: 次へ }, into: invoices }
  - write: { file: invoices.csv, table: invoices }
  - extract_table: { css: "#staff", into: staff }
  - write: { file: staff.csv, table: staff }
  - extract_table: { text: 本社, into: departments }
  - write: { file: departments.csv, table: departments }
"##,
    )
    .await;
    ran.succeeded();
    let invoices = ran.output("invoices.csv");
    let lines: Vec<&str> = invoices.lines().collect();
    // The status column is named by its icon's aria-label; the hidden template row is not read.
    assert_eq!(lines[0], "請求番号,顧客名,金額,状態", "{invoices}");
    assert_eq!(lines.len(), 26, "25 invoices over 3 pages:\n{invoices}");
    assert_eq!(lines[1], "O-0001,山田商店,500,未");
    assert_eq!(
        lines[11], "O-0011,山田商店,600,済",
        "page 2 starts:\n{invoices}"
    );
    assert_eq!(lines[25].split(',').next(), Some("O-0025"));
    assert!(!invoices.contains("{{"), "{invoices}");
    assert_eq!(
        ran.output("staff.csv").lines().collect::<Vec<_>>(),
        [
            "氏名,部署,内線",
            "山田 太郎,営業部,101",
            "鈴木 花子,経理部,202"
        ]
    );
    // Rows nested in groups count; the collapsed branch (hidden) does not.
    assert_eq!(
        ran.output("departments.csv").lines().collect::<Vec<_>>(),
        [
            "部署,人数",
            "本社,30",
            "営業部,12",
            "経理部,5",
            "大阪支社,8"
        ]
    );
}

#[tokio::test]
async fn a_downloaded_csv_and_workbook_are_read_as_tables() {
    let portal = portal::start().await.unwrap();
    let ran = run(
        &portal,
        r##"  - open: "{{ params.portal_url }}/export"
  - download: { text: CSVをダウンロード, into: orders }
  - filter: { table: orders, where: "row['顧客名'] == '山田商店'", into: yamada }
  - write: { file: yamada.csv, table: yamada }
  - download: { text: Excelでダウンロード, into: book, sheet: 注文 }
  - write: { file: book.csv, table: book }
  - download: { text: 時間のかかるCSV, into: slow, timeout_secs: 20 }
  - write: { file: slow.csv, table: slow }
"##,
    )
    .await;
    ran.succeeded();
    // Shift_JIS in, read with the same reader as inputs: Japanese names intact.
    let yamada = ran.output("yamada.csv");
    let lines: Vec<&str> = yamada.lines().collect();
    assert_eq!(
        lines[0], "注文番号,顧客名,商品,数量,金額,注文日",
        "{yamada}"
    );
    assert_eq!(lines.len(), 6, "5 of 25 orders are 山田商店's:\n{yamada}");
    assert_eq!(lines[1], "O-0001,山田商店,コピー用紙,1,500,2025-04-01");
    let book = ran.output("book.csv");
    let book: Vec<&str> = book.lines().collect();
    assert_eq!(book.len(), 26);
    assert_eq!(book[0], "注文番号,顧客名,商品,数量,金額,注文日");
    assert_eq!(book[2], "O-0002,鈴木工業,トナー,2,2400,2025-04-02");
    // The slow one was waited for until complete, not read half-way.
    assert_eq!(ran.output("slow.csv").lines().count(), 26);

    // Kept in the run's downloads/, named in the log, recorded as files of the run.
    let folder = &ran.outcome.folder;
    let raw = std::fs::read(folder.join("downloads/orders.csv")).unwrap();
    assert!(
        std::str::from_utf8(&raw).is_err(),
        "the portal sends Shift_JIS"
    );
    for name in ["orders.csv", "orders.xlsx", "orders (1).csv"] {
        assert!(folder.join("downloads").join(name).is_file(), "{name}");
    }
    let leftovers: Vec<PathBuf> = std::fs::read_dir(folder.join("downloads"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".crdownload"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let log = ran.log();
    assert!(log.contains("downloaded `downloads/orders.csv`"), "{log}");
    assert!(log.contains("read 25 rows into `orders`"), "{log}");
    let detail = ran.records.detail(&ran.outcome.id.0).await.unwrap();
    let mut downloads: Vec<&str> = detail
        .artifacts
        .iter()
        .filter(|a| a.kind == "download")
        .map(|a| a.path.as_str())
        .collect();
    downloads.sort();
    assert_eq!(
        downloads,
        [
            "downloads/orders (1).csv",
            "downloads/orders.csv",
            "downloads/orders.xlsx"
        ]
    );
}

#[tokio::test]
async fn a_download_that_does_not_finish_in_time_says_so() {
    let portal = portal::start().await.unwrap();
    let ran = run(
        &portal,
        r##"  - open: "{{ params.portal_url }}/export"
  - download: { text: 終わらないCSV, into: orders, timeout_secs: 2 }
"##,
    )
    .await;
    let error = ran.error();
    assert!(
        error.contains("clicked the button, link or text \"終わらないCSV\", but no download finished within 2s (the browser was still receiving `"),
        "{error}"
    );
    assert!(
        error.contains("give the step a longer `timeout_secs`"),
        "{error}"
    );

    let ran = run(
        &portal,
        r##"  - open: "{{ params.portal_url }}/export"
  - download: { text: ファイルではないリンク, timeout_secs: 2 }
"##,
    )
    .await;
    let error = ran.error();
    assert!(
        error.contains("but no download finished within 2s\n"),
        "{error}"
    );
    assert!(error.contains("needs `click`, not `download`"), "{error}");
}

#[tokio::test]
async fn a_new_tab_is_switched_to_and_back_and_closed() {
    let portal = portal::start().await.unwrap();
    let ran = run(
        &portal,
        r##"  - open: "{{ params.portal_url }}/tabs"
  - click: O-0003 の詳細を開く
  - enter_frame: { title: お知らせ }
  - assert_text: 本日は営業しています
  - switch_to: new_tab
  - extract: { css: .order-no, into: first_order }
  - click: 閉じる
  - close_tab: true
  - assert_text: O-0007 を別ウィンドウで開く
  - click: O-0007 を別ウィンドウで開く
  - switch_to: new_tab
  - extract: { css: .order-no, into: second_order }
  - close_tab: true
  - assert_text: 注文の詳細
  - fail: "read {{ first_order }} and {{ second_order }}"
    when: "first_order != 'O-0003' or second_order != 'O-0007'"
  - switch_to: new_tab
    timeout_secs: 1
"##,
    )
    .await;
    let error = ran.error();
    assert!(
        error.starts_with("step #21 switch_to (line 29): no new tab or window opened within 1s"),
        "{error}"
    );
    let log = ran.log();
    assert!(log.contains("now working in the tab showing"), "{log}");
    assert!(log.contains("/tabs/detail?id=O-0003"), "{log}");

    let ran = run(
        &portal,
        "  - open: \"{{ params.portal_url }}/tabs\"\n  - close_tab: true\n",
    )
    .await;
    assert!(
        ran.error()
            .contains("`close_tab` would close the first tab"),
        "{}",
        ran.error()
    );
}

#[tokio::test]
async fn timeout_secs_in_braces_is_the_steps_timeout() {
    let portal = portal::start().await.unwrap();
    let ran = run(
        &portal,
        r##"  - open: "{{ params.portal_url }}/menu"
  - click: { text: 存在しないボタン, timeout_secs: 1 }
"##,
    )
    .await;
    let error = ran.error();
    assert!(
        error.starts_with("step #7 click (line 14): no button, link or text \"存在しないボタン\" appeared within 1s"),
        "{error}"
    );
    let ran = run(
        &portal,
        r##"  - open: "{{ params.portal_url }}/menu"
  - fill: { label: 存在しない欄, value: x, timeout_secs: 1 }
"##,
    )
    .await;
    assert!(
        ran.error()
            .contains("no field with the label \"存在しない欄\" appeared within 1s"),
        "{}",
        ran.error()
    );
    let both = problems(
        "name: d\nclient: t\nauthor: olena\nsteps:\n  - click: { text: 登録, timeout_secs: 5 }\n    timeout_secs: 5\n",
    );
    assert!(
        both.contains(
            "w.yaml:5:24: `timeout_secs` is written twice: beside `click` and inside its braces"
        ),
        "{both}"
    );
    let range = problems(
        "name: d\nclient: t\nauthor: olena\nsteps:\n  - click: { text: 登録, timeout_secs: 0 }\n",
    );
    assert!(
        range.contains("`timeout_secs: 0` is out of range"),
        "{range}"
    );
}

#[tokio::test]
async fn nested_frames_multiple_choice_and_non_breaking_spaces() {
    let portal = portal::start().await.unwrap();
    let ran = run(
        &portal,
        r##"  - open: "{{ params.portal_url }}/iframe/nested"
  - enter_frame: { title: 外枠 }
  - enter_frame: { title: 内枠 }
  - fill: { label: お名前, value: 山田 太郎 }
  - check: { label: 個人情報の取り扱いに同意する }
  - click: 送信
  - assert_text: 送信しました
  - leave_frame: true
  - assert_text: 外枠のページ
  - leave_frame: true
  - assert_text: 外側のページ
  - open: "{{ params.portal_url }}/choices"
  - select: { label: 対応言語, option: 日本語 }
  - select: { label: 対応言語, option: ウクライナ語 }
  - extract: { css: "#chosen", into: chosen }
  - fail: "chosen: {{ chosen }}"
    when: "chosen != '日本語、ウクライナ語'"
  - assert_text: 合計 1,200 円
  - click: 確 定
  - assert_text: 確定しました
"##,
    )
    .await;
    ran.succeeded();
    let inquiry = portal
        .submissions()
        .into_iter()
        .find(|s| s.form == "inquiry")
        .expect("the form in the inner frame was sent");
    assert_eq!(inquiry.field("name"), "山田 太郎");
}

#[tokio::test]
async fn a_workflow_without_inputs_runs() {
    let portal = portal::start().await.unwrap();
    let ran = run(
        &portal,
        r##"  - open: "{{ params.portal_url }}/table"
  - extract_table: { css: "#orders", into: orders }
  - write: { file: orders.csv, table: orders }
"##,
    )
    .await;
    ran.succeeded();
    assert_eq!(ran.output("orders.csv").lines().count(), 11);
}
