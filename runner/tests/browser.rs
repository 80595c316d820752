//! Browser steps against the fixture portal, in a real headless Chromium.
//!
//! These tests never skip: without chromedriver they fail with the install command.
//! Each test starts its own portal and browser (about 0.5 s); keep the count modest.

use portal::PortalHandle;
use runner::browser::{
    Browser, BrowserConfig, BrowserError, ElementState, FillMode, Locator, WaitTarget,
    processes_mentioning,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

async fn launch_with(config: BrowserConfig) -> Browser {
    match Browser::launch(&config).await {
        Ok(browser) => browser,
        Err(e) => panic!("could not launch the browser: {e}"),
    }
}

async fn launch() -> Browser {
    launch_with(BrowserConfig::default()).await
}

async fn login(browser: &Browser, portal: &PortalHandle) {
    browser.goto(&portal.page("/login")).await.unwrap();
    let fill = |label: &'static str, text: &'static str| async move {
        browser
            .fill(&Locator::label(label), text, FillMode::Type, None)
            .await
            .unwrap()
    };
    fill("ユーザーID", "demo").await;
    fill("パスワード", "kobo-demo-pass").await;
    browser
        .click(&Locator::text("ログイン"), None)
        .await
        .unwrap();
    browser
        .wait_for(&WaitTarget::Url("/menu".into()), None)
        .await
        .unwrap();
}

/// What identifies this browser's processes: its temp directory (profile and crash database).
fn marker(browser: &Browser) -> PathBuf {
    browser.profile_dir().parent().unwrap().to_path_buf()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// Chromium processes of this browser (by profile path), plus chromedriver if alive.
fn live_processes(marker: &Path, driver: u32) -> Vec<u32> {
    let mut pids = processes_mentioning(marker);
    if alive(driver) {
        pids.push(driver);
    }
    pids
}

const ROWS: [[&str; 6]; 10] = [
    [
        "山田 太郎",
        "山田商店",
        "03-1234-5678",
        "taro@example.jp",
        "東京都千代田区1-1",
        "12000",
    ],
    [
        "鈴木 花子",
        "鈴木工業",
        "06-2345-6789",
        "hanako@example.jp",
        "大阪府大阪市2-2",
        "3,500",
    ],
    [
        "佐藤 次郎",
        "佐藤物産",
        "052-345-6789",
        "jiro@example.jp",
        "愛知県名古屋市3-3",
        "800",
    ],
    [
        "田中 三郎",
        "田中食品",
        "011-456-7890",
        "saburo@example.jp",
        "北海道札幌市4-4",
        "45000",
    ],
    [
        "高橋 四郎",
        "高橋電機",
        "092-567-8901",
        "shiro@example.jp",
        "福岡県福岡市5-5",
        "99.5",
    ],
    [
        "伊藤 五月",
        "伊藤建設",
        "022-678-9012",
        "satsuki@example.jp",
        "宮城県仙台市6-6",
        "1",
    ],
    [
        "渡辺 六花",
        "渡辺印刷",
        "075-789-0123",
        "rikka@example.jp",
        "京都府京都市7-7",
        "250000",
    ],
    [
        "中村 七海",
        "中村運輸",
        "082-890-1234",
        "nanami@example.jp",
        "広島県広島市8-8",
        "7700",
    ],
    [
        "小林 八雲",
        "小林書店",
        "098-901-2345",
        "yakumo@example.jp",
        "沖縄県那覇市9-9",
        "64",
    ],
    [
        "加藤 九",
        "加藤商会",
        "045-012-3456",
        "kyu@example.jp",
        "神奈川県横浜市10-10",
        "10000",
    ],
];
const LABELS: [&str; 6] = ["氏名", "会社名", "電話番号", "メール", "住所", "金額"];
const KEYS: [&str; 6] = ["name", "company", "phone", "email", "address", "amount"];

/// Enter all ten rows on the moving-field form, finding every field by its label.
async fn enter_ten_rows(mode: FillMode) {
    let portal = portal::start().await.unwrap();
    let browser = launch().await;
    login(&browser, &portal).await;
    let started = Instant::now();
    for (i, row) in ROWS.iter().enumerate() {
        browser.goto(&portal.page("/form")).await.unwrap();
        let fields: Vec<(Locator, String)> = LABELS
            .iter()
            .zip(row)
            .map(|(label, value)| (Locator::label(*label), value.to_string()))
            .collect();
        browser.fill_many(&fields, mode, None).await.unwrap();
        browser.click(&Locator::text("登録"), None).await.unwrap();
        browser.assert_text("登録しました", None).await.unwrap();
        let receipt = browser
            .text(&Locator::css(".receipt-no"), None)
            .await
            .unwrap();
        assert_eq!(receipt, format!("R-{:06}", i + 1));
    }
    browser
        .assert_text("10件の登録が完了しました", None)
        .await
        .unwrap();
    eprintln!("{mode:?}: 10 rows in {:?}", started.elapsed());

    let submissions = portal.submissions();
    assert_eq!(submissions.len(), 10);
    for (row, submission) in ROWS.iter().zip(&submissions) {
        for (key, value) in KEYS.iter().zip(row) {
            assert_eq!(
                submission.field(key),
                *value,
                "{key} of {}",
                submission.receipt
            );
        }
    }
    browser.close().await;
}

#[tokio::test]
async fn login_by_label_rejects_a_wrong_password_and_accepts_the_right_one() {
    let portal = portal::start().await.unwrap();
    let browser = launch().await;

    // Without the cookie, pages send us to the login form.
    browser.goto(&portal.page("/form")).await.unwrap();
    assert!(browser.current_url().await.unwrap().ends_with("/login"));

    let user = Locator::label("ユーザーID");
    let password = Locator::label("パスワード");
    browser
        .fill(&user, "demo", FillMode::Type, None)
        .await
        .unwrap();
    browser
        .fill(&password, "wrong", FillMode::Type, None)
        .await
        .unwrap();
    browser.press("Enter").await.unwrap();
    browser
        .assert_text("ユーザーIDまたはパスワードが正しくありません", None)
        .await
        .unwrap();

    // Full-width spaces around the label are ignored.
    browser
        .fill(
            &Locator::label("\u{3000}パスワード "),
            "kobo-demo-pass",
            FillMode::Type,
            None,
        )
        .await
        .unwrap();
    browser
        .click(&Locator::text("ログイン"), None)
        .await
        .unwrap();
    browser
        .wait_for(&WaitTarget::Url("/menu".into()), None)
        .await
        .unwrap();
    browser.assert_text("データ登録", None).await.unwrap();
    assert_eq!(portal.login_attempts(), 2);
    browser.close().await;
}

#[tokio::test]
async fn ten_rows_on_the_moving_form_by_typing() {
    enter_ten_rows(FillMode::Type).await;
}

#[tokio::test]
async fn ten_rows_on_the_moving_form_by_setting_values_in_one_call() {
    enter_ten_rows(FillMode::Set).await;
}

#[tokio::test]
async fn a_failed_check_shows_the_pages_own_error_message() {
    let portal = portal::start().await.unwrap();
    let browser = launch().await;
    login(&browser, &portal).await;
    browser.goto(&portal.page("/form")).await.unwrap();
    let mut row = ROWS[0];
    row[5] = "たくさん";
    for (label, value) in LABELS.iter().zip(row) {
        browser
            .fill(&Locator::label(*label), value, FillMode::Set, None)
            .await
            .unwrap();
    }
    browser.click(&Locator::text("登録"), None).await.unwrap();
    let err = browser
        .assert_text("登録しました", Some(Duration::from_millis(500)))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("the page does not show \"登録しました\" (waited 0.5s)"),
        "{message}"
    );
    assert!(
        message.contains("金額は数字で入力してください"),
        "{message}"
    );
    assert!(!err.is_transient());
    assert!(portal.submissions().is_empty());
    browser.close().await;
}

#[tokio::test]
async fn waits_for_slow_elements_and_explains_a_timeout() {
    let portal = portal::start().await.unwrap();
    let browser = launch().await;
    login(&browser, &portal).await;

    browser.goto(&portal.page("/slow?ms=1500")).await.unwrap();
    let started = Instant::now();
    browser.click(&Locator::text("続行"), None).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1000));
    browser
        .wait_for(&WaitTarget::Text("完了".into()), None)
        .await
        .unwrap();
    browser
        .wait_for(&WaitTarget::Gone(Locator::css(".loading")), None)
        .await
        .unwrap();

    // A label that is not on the page: the message names it, the wait, and what is there.
    browser.goto(&portal.page("/login")).await.unwrap();
    let err = browser
        .fill(
            &Locator::label("氏名"),
            "secret-value",
            FillMode::Type,
            Some(Duration::from_secs(1)),
        )
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(
            "no field with the label \"氏名\" appeared within 1s\n  hint: check the spelling"
        ),
        "{message}"
    );
    assert!(
        message.contains("\"ユーザーID\", \"パスワード\""),
        "{message}"
    );
    assert!(!message.contains("secret-value"), "{message}");
    assert!(matches!(
        err,
        BrowserError::NotFound {
            state: ElementState::Missing,
            ..
        }
    ));
    assert!(!err.is_transient());

    // A near miss gets a suggestion; a broken selector is reported at once.
    let err = browser
        .click(&Locator::text("ログイソ"), Some(Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("did you mean \"ログイン\"?"),
        "{err}"
    );
    let started = Instant::now();
    let err = browser
        .click(&Locator::css("button[type="), None)
        .await
        .unwrap_err();
    assert!(matches!(err, BrowserError::BadLocator { .. }), "{err}");
    // Not waited out for the 10 s element timeout: a bad selector is reported at once.
    assert!(started.elapsed() < Duration::from_secs(8));
    browser.close().await;
}

#[tokio::test]
async fn scrapes_all_pages_of_a_table() {
    let portal = portal::start().await.unwrap();
    let browser = launch().await;
    login(&browser, &portal).await;
    browser.goto(&portal.page("/table")).await.unwrap();
    let started = Instant::now();
    let table = browser
        .table_paginated(&Locator::css("#orders"), &Locator::text("次へ"), 10, None)
        .await
        .unwrap();
    eprintln!("3 pages scraped in {:?}", started.elapsed());
    assert_eq!(
        table.headers,
        ["注文番号", "顧客名", "商品", "数量", "金額", "注文日"]
    );
    assert_eq!(table.rows.len(), 25);
    let numbers: Vec<String> = (1..=25).map(|i| format!("O-{i:04}")).collect();
    let got: Vec<&String> = table.rows.iter().map(|r| &r[0]).collect();
    assert_eq!(got, numbers.iter().collect::<Vec<_>>());
    assert_eq!(table.rows[0], portal::table::order(0).to_vec());

    // max_pages stops early.
    browser.goto(&portal.page("/table")).await.unwrap();
    let two = browser
        .table_paginated(&Locator::css("#orders"), &Locator::text("次へ"), 2, None)
        .await
        .unwrap();
    assert_eq!(two.rows.len(), 20);
    let sheet = two.into_table();
    assert_eq!(sheet.columns[0], "注文番号");
    assert_eq!(sheet.len(), 20);
    browser.close().await;
}

#[tokio::test]
async fn fills_a_form_inside_an_iframe() {
    let portal = portal::start().await.unwrap();
    let browser = launch().await;
    login(&browser, &portal).await;
    browser.goto(&portal.page("/iframe")).await.unwrap();

    // Outside the frame, the field is not found, and the hint mentions frames.
    let err = browser
        .fill(
            &Locator::label("お名前"),
            "x",
            FillMode::Type,
            Some(Duration::from_millis(200)),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("enter_frame"), "{err}");

    browser
        .enter_frame(&Locator::title("お問い合わせフォーム"), None)
        .await
        .unwrap();
    browser
        .fill(&Locator::label("お名前"), "山田 太郎", FillMode::Type, None)
        .await
        .unwrap();
    browser
        .select(&Locator::label("種別"), "見積", None)
        .await
        .unwrap();
    let err = browser
        .select(&Locator::label("種別"), "返品", None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("\"見積\", \"注文\", \"その他\""),
        "{err}"
    );
    browser
        .fill(
            &Locator::label("お問い合わせ内容"),
            "見積をお願いします。\n至急です。",
            FillMode::Type,
            None,
        )
        .await
        .unwrap();
    let agree = Locator::label("個人情報の取り扱いに同意する");
    browser.set_checked(&agree, true, None).await.unwrap();
    browser.set_checked(&agree, true, None).await.unwrap();
    browser.click(&Locator::text("送信"), None).await.unwrap();
    browser.assert_text("送信しました", None).await.unwrap();
    browser.leave_frame().await.unwrap();
    browser
        .assert_text("下のフレームに入力してください", None)
        .await
        .unwrap();

    let submissions = portal.submissions();
    assert_eq!(submissions.len(), 1);
    assert_eq!(submissions[0].form, "inquiry");
    assert_eq!(submissions[0].field("name"), "山田 太郎");
    assert_eq!(submissions[0].field("kind"), "quote");
    assert_eq!(submissions[0].field("agree"), "yes");
    assert!(submissions[0].field("body").contains("至急です。"));
    browser.close().await;
}

#[tokio::test]
async fn uploads_a_file() {
    let portal = portal::start().await.unwrap();
    let browser = launch().await;
    login(&browser, &portal).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("請求書.csv");
    std::fs::write(&file, vec![b'x'; 1234]).unwrap();

    browser.goto(&portal.page("/upload")).await.unwrap();
    browser
        .upload(&Locator::label("ファイル"), &file, None)
        .await
        .unwrap();
    browser
        .click(&Locator::text("アップロード"), None)
        .await
        .unwrap();
    let size = browser
        .text(&Locator::css(".file-size"), None)
        .await
        .unwrap();
    assert_eq!(size, "1234 bytes");
    let uploads = portal.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].file_name, "請求書.csv");
    assert_eq!(uploads[0].size, 1234);

    let err = browser
        .upload(
            &Locator::label("ファイル"),
            &dir.path().join("missing.csv"),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, BrowserError::FileNotFound { .. }), "{err}");
    browser.close().await;
}

#[tokio::test]
async fn dialogs_accept_dismiss_and_unexpected() {
    let portal = portal::start().await.unwrap();
    let browser = launch().await;
    login(&browser, &portal).await;
    browser.goto(&portal.page("/confirm")).await.unwrap();
    let result = Locator::css("#result");

    browser.click(&Locator::text("削除"), None).await.unwrap();
    assert_eq!(browser.accept_dialog(None).await.unwrap(), "削除しますか？");
    assert_eq!(browser.text(&result, None).await.unwrap(), "OK");

    browser.click(&Locator::text("削除"), None).await.unwrap();
    assert_eq!(
        browser.dismiss_dialog(None).await.unwrap(),
        "削除しますか？"
    );
    assert_eq!(browser.text(&result, None).await.unwrap(), "Cancel");

    // An alert nobody expected: the next step says what it said and what to add.
    browser
        .click(&Locator::text("お知らせ"), None)
        .await
        .unwrap();
    let err = browser
        .click(&Locator::text("削除"), None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the page opened a dialog saying \"保存しました\"\n  hint: add a `dialog: accept` (or `dialog: dismiss`) step before this step"
    );
    assert!(!err.is_transient());
    browser.accept_dialog(None).await.unwrap();
    assert_eq!(browser.text(&result, None).await.unwrap(), "alert closed");

    let err = browser
        .accept_dialog(Some(Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert!(matches!(err, BrowserError::NoDialog { .. }), "{err}");
    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    browser.close().await;
}

#[tokio::test]
async fn server_errors_refused_connections_and_hangs_are_transient() {
    let portal = portal::start().await.unwrap();
    let browser = launch_with(BrowserConfig {
        page_load_timeout: Duration::from_secs(6),
        ..BrowserConfig::default()
    })
    .await;

    let err = browser.goto(&portal.page("/status/500")).await.unwrap_err();
    assert!(
        matches!(err, BrowserError::HttpStatus { status: 500, .. }),
        "{err}"
    );
    assert!(err.is_transient());
    let err = browser.goto(&portal.page("/status/404")).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", listener.local_addr().unwrap())
    };
    let err = browser.goto(&closed).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("could not open URL {closed}")),
        "{message}"
    );
    assert!(message.contains("CONNECTION_REFUSED"), "{message}");
    assert!(err.is_transient());

    let started = Instant::now();
    let err = browser.goto(&portal.page("/hang")).await.unwrap_err();
    assert!(matches!(err, BrowserError::PageLoadTimeout { .. }), "{err}");
    assert!(err.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the hang ends at the page-load timeout"
    );

    // The browser is still usable afterwards.
    browser.goto(&portal.page("/login")).await.unwrap();
    browser.assert_text("ユーザーID", None).await.unwrap();
    browser.close().await;
}

#[tokio::test]
async fn no_process_outlives_close_or_drop_after_an_error() {
    let portal = portal::start().await.unwrap();

    let started = Instant::now();
    let browser = launch().await;
    eprintln!("launch took {:?}", started.elapsed());
    browser.goto(&portal.page("/login")).await.unwrap();
    let (marker_dir, driver) = (marker(&browser), browser.driver_pid());
    assert!(
        processes_mentioning(&marker_dir).len() >= 2,
        "chromium should be running"
    );
    assert!(alive(driver));
    let started = Instant::now();
    browser.close().await;
    eprintln!("close took {:?}", started.elapsed());
    assert_eq!(live_processes(&marker_dir, driver), Vec::<u32>::new());
    assert!(!marker_dir.exists(), "the profile directory is removed");

    // Dropped (not closed) right after a failed step.
    let browser = launch().await;
    browser.goto(&portal.page("/login")).await.unwrap();
    let (marker_dir, driver) = (marker(&browser), browser.driver_pid());
    let err = browser
        .click(
            &Locator::text("存在しない"),
            Some(Duration::from_millis(200)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, BrowserError::NotFound { .. }));
    drop(browser);
    assert_eq!(live_processes(&marker_dir, driver), Vec::<u32>::new());
}

#[tokio::test]
async fn no_process_outlives_a_cancelled_step_or_a_panic() {
    let portal = portal::start().await.unwrap();
    let hang = portal.page("/hang");

    // A step cancelled by a timeout around it (the page never answers).
    let (tx, rx) = std::sync::mpsc::channel();
    let run = {
        let hang = hang.clone();
        async move {
            let browser = launch().await;
            tx.send((marker(&browser), browser.driver_pid())).unwrap();
            let _ = browser.goto(&hang).await;
        }
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(4), run)
            .await
            .is_err()
    );
    let (marker_dir, driver) = rx.recv().unwrap();
    assert_eq!(live_processes(&marker_dir, driver), Vec::<u32>::new());

    // A panic in the task that owns the browser, in the middle of its steps.
    let (tx, rx) = std::sync::mpsc::channel();
    let login_page = portal.page("/login");
    let task = tokio::spawn(async move {
        let browser = launch().await;
        tx.send((marker(&browser), browser.driver_pid())).unwrap();
        browser.goto(&login_page).await.unwrap();
        let user = browser
            .value(&Locator::label("ユーザーID"), None)
            .await
            .unwrap();
        assert_eq!(user, "not what the page has", "a step panicked");
    });
    assert!(task.await.unwrap_err().is_panic());
    let (marker_dir, driver) = rx.recv().unwrap();
    assert_eq!(live_processes(&marker_dir, driver), Vec::<u32>::new());
}

/// chromedriver answers plain `GET`s (`/sessions` lists every session, `/session/<id>/cookie`
/// gives its cookies): a workflow that opened another run's chromedriver could read that
/// run's portal session. Its ports are refused, on any host name.
#[tokio::test]
async fn a_workflow_cannot_open_the_port_kobo_controls_a_browser_on() {
    let portal = portal::start().await.unwrap();
    let browser = launch().await;
    let other = launch().await;
    let control = other.webdriver_url();
    let port: u16 = control.rsplit(':').next().unwrap().parse().unwrap();
    assert!(
        runner::web_address::DRIVER_PORTS.contains(&port),
        "{control}"
    );
    for address in [
        format!("{control}/sessions"),
        format!("http://localhost:{port}/sessions"),
    ] {
        let err = browser.goto(&address).await.unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "is on port {port}, where kobo controls its browsers"
            )),
            "{address}: {err}"
        );
    }
    // The page the browser is on stays the portal's, not chromedriver's list of sessions.
    browser.goto(&portal.page("/login")).await.unwrap();
    assert!(browser.current_url().await.unwrap().contains("/login"));
    other.close().await;
    browser.close().await;
}

#[tokio::test]
async fn the_browser_never_ends_up_on_a_local_file() {
    let portal = portal::start().await.unwrap();
    let browser = launch().await;
    for address in [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        " view-source:file:///etc/passwd",
        "chrome://settings",
        "javascript:alert(1)",
    ] {
        let err = browser.goto(address).await.unwrap_err();
        assert!(
            matches!(err, BrowserError::NotAWebPage { .. }),
            "{address}: {err}"
        );
    }
    browser.goto(&portal.page("/escape")).await.unwrap();
    let err = browser
        .goto("file:///etc/passwd")
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "`file:///etc/passwd` is a `file:` address; a workflow can only open web pages (http:// or https://)\n  hint: check what the template filled in; write the portal's address, e.g. `https://portal.example/login`"
    );

    // Chromium itself refuses a link or a redirect from a web page to a file.
    browser
        .click(&Locator::text("ファイルを開く"), None)
        .await
        .unwrap();
    browser.ensure_on_the_web().await.unwrap();
    assert!(browser.current_url().await.unwrap().starts_with("http://"));
    assert!(
        browser
            .goto(&portal.page("/escape/redirect"))
            .await
            .is_err()
    );
    browser.ensure_on_the_web().await.unwrap();

    browser.close().await;
}
