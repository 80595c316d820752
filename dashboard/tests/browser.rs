//! The dashboard in a real headless Chromium (through chromedriver): a reviewer approves one
//! run and rejects another; the client's outbox and the trainee's ledger show it; the trainee
//! reads the rejection in Ukrainian. With `KOBO_SCREENSHOTS=<folder>` it also saves screenshots
//! of the main pages there (that is how `docs/screenshots/` is made).

mod common;

use common::{TestHome, clean_csv, password};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder, Locator};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// chromedriver on a free port, stopped when dropped.
struct ChromeDriver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl ChromeDriver {
    fn start() -> ChromeDriver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chromedriver ({e}); install it with `apt-get install chromium chromium-driver`"));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start listening on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        ChromeDriver {
            child,
            port,
            _profile: tempfile::tempdir().unwrap(),
        }
    }

    async fn browser(&self) -> Client {
        let mut caps = serde_json::Map::new();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1360,900",
            "--lang=en-US",
            &format!("--user-data-dir={}", self._profile.path().display()),
        ];
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "args": args }),
        );
        ClientBuilder::native()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap()
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Session {
    c: Client,
    base: String,
    shots: Option<PathBuf>,
}

impl Session {
    async fn go(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }
    async fn fill(&self, css: &str, text: &str) {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }
    async fn click(&self, css: &str) {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    /// Click a button that submits a form, then wait for the next page to show `then`.
    async fn submit(&self, css: &str, then: &str) {
        self.click(css).await;
        self.wait_for(then).await;
    }
    async fn wait_for(&self, css: &str) {
        self.c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap();
    }
    async fn text(&self, css: &str) -> String {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
    /// Press a key on the page, as a person at the keyboard does.
    async fn key(&self, key: char) {
        let press = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.c.perform_actions(press).await.unwrap();
    }
    async fn path(&self) -> String {
        self.c.current_url().await.unwrap().path().to_string()
    }
    /// Wait until the page's path ends with `end` (after a key that navigates).
    async fn wait_path(&self, end: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.path().await.ends_with(end) {
            assert!(
                Instant::now() < deadline,
                "{} is not …{end}",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    async fn login(&self, name: &str) {
        self.go("/login").await;
        self.fill("#name", name).await;
        self.fill("#password", &password(name)).await;
        self.submit("#login", "#logout").await;
    }
    async fn logout(&self) {
        self.submit("#logout", "#login").await;
    }
    async fn shot(&self, name: &str) {
        if let Some(dir) = &self.shots {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(
                dir.join(format!("{name}.png")),
                self.c.screenshot().await.unwrap(),
            )
            .unwrap();
        }
    }
}

#[tokio::test]
async fn a_reviewer_approves_and_rejects_and_the_trainee_reads_it_in_ukrainian() {
    let h = TestHome::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(dashboard::serve(listener, h.state.clone(), async {
        let _ = stopped.await;
    }));
    let driver = ChromeDriver::start();
    let s = Session {
        c: driver.browser().await,
        base,
        shots: std::env::var_os("KOBO_SCREENSHOTS").map(PathBuf::from),
    };

    s.go("/login").await;
    s.shot("login").await;
    s.login("kenji").await;
    assert!(s.c.current_url().await.unwrap().path().ends_with("/runs"));
    s.submit("a.run-link", "#decide").await;
    assert!(
        s.c.current_url()
            .await
            .unwrap()
            .path()
            .ends_with(&h.runs[0]),
        "the oldest run opens first"
    );
    if s.shots.is_some() {
        // The whole run page, as a reviewer scrolls it.
        s.c.set_window_size(1360, 2300).await.unwrap();
        s.shot("run").await;
        s.c.set_window_size(1360, 900).await.unwrap();
    }
    // Approving opens the next run awaiting review, naming the one just approved.
    s.submit("#approve", "#done").await;
    assert!(
        s.c.current_url()
            .await
            .unwrap()
            .path()
            .ends_with(&h.runs[1]),
        "the next run opens"
    );
    assert!(s.text("#done").await.contains("is approved"));

    let comment =
        "Рядок 4: у рахунку INV-2026-1003 немає суми. Позначте його й надішліть запит клієнту.";
    s.fill("#comment", comment).await;
    s.submit("#reject", ".decision.rejected").await;
    assert_eq!(s.text("#review-state").await, "rejected");
    s.go("/runs").await;
    assert!(
        s.c.find(Locator::Css("a.run-link")).await.is_err(),
        "nothing left to review"
    );
    s.logout().await;

    let delivered = h.outbox("acme");
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let ledger = runner::payout::ledger(h.state.records.pool(), Some("olena"), None)
        .await
        .unwrap();
    assert_eq!(
        (
            ledger.len(),
            ledger[0].run_id.as_str(),
            ledger[0].amount_yen
        ),
        (1, h.runs[0].as_str(), 700)
    );

    s.login("olena").await;
    s.c.find(Locator::Css("select[name=lang]"))
        .await
        .unwrap()
        .select_by_value("uk")
        .await
        .unwrap();
    s.submit("form[action='/lang'] button", "html[lang=uk]")
        .await;
    let page = s.c.source().await.unwrap();
    assert!(
        page.contains("Мої запуски") && page.contains("відхилено") && page.contains(comment),
        "{page}"
    );
    s.go(&format!("/runs/{}", h.runs[1])).await;
    assert_eq!(s.text("#review-comment").await, comment);
    assert!(s.text("#decision").await.contains("Коментар рецензента"));
    s.shot("rejected-run-uk").await;
    s.go("/ledger").await;
    assert!(
        s.text("#ledger")
            .await
            .replace('\u{a0}', " ")
            .contains("700 ¥"),
        "amounts in Ukrainian format"
    );
    s.shot("ledger-uk").await;
    s.logout().await;

    s.login("sato").await;
    assert!(s.text("#deliveries").await.contains(&delivered[0]));
    s.shot("client").await;
    s.logout().await;
    s.login("admin").await;
    s.go("/admin").await;
    s.shot("admin").await;

    s.c.close().await.unwrap();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// The reviewer's morning with the keyboard: j/k through the list and the runs, a to
/// approve (and on to the next run), then the clean runs approved together from the list.
#[tokio::test]
async fn a_reviewer_works_through_the_queue_with_the_keyboard_and_bulk_approval() {
    let h = TestHome::new().await;
    let mut clean = Vec::new();
    for n in [3, 4, 5] {
        clean.push(h.run_csv("olena", &clean_csv(n, |i| 1000 * i as i64)).await);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(dashboard::serve(listener, h.state.clone(), async {
        let _ = stopped.await;
    }));
    let driver = ChromeDriver::start();
    let s = Session {
        c: driver.browser().await,
        base,
        shots: std::env::var_os("KOBO_SCREENSHOTS").map(PathBuf::from),
    };
    s.login("kenji").await;

    // The list: j and k move, Enter opens.
    s.key('j').await;
    s.key('j').await;
    s.wait_for("tr.run-row.current").await;
    let current = s.c.find(Locator::Css("tr.run-row.current")).await.unwrap();
    assert_eq!(
        current.attr("id").await.unwrap().unwrap(),
        format!("run-{}", h.runs[1])
    );
    s.key('k').await;
    let current = s.c.find(Locator::Css("tr.run-row.current")).await.unwrap();
    assert_eq!(
        current.attr("id").await.unwrap().unwrap(),
        format!("run-{}", h.runs[0])
    );
    s.key('\u{E007}').await; // Enter
    s.wait_path(&h.runs[0]).await;

    // The run page: j next run, k previous, a approves and opens the next.
    s.wait_for("#approve").await;
    s.key('j').await;
    s.wait_path(&h.runs[1]).await;
    s.key('k').await;
    s.wait_path(&h.runs[0]).await;
    s.wait_for("#pay").await;
    assert!(s.text("#pay").await.contains("Approving pays olena ¥700."));
    s.key('a').await;
    s.wait_for("#done").await;
    s.wait_path(&h.runs[1]).await;
    // r goes to the comment; typing there is not taken as shortcuts.
    s.key('r').await;
    for c in "no amount in row 4, ask the client".chars() {
        s.key(c).await;
    }
    s.submit("#reject", "#done").await;
    s.wait_path(&clean[0]).await;
    assert_eq!(
        runner::review::get(h.state.records.pool(), &h.runs[1])
            .await
            .unwrap()
            .unwrap()
            .comment
            .as_deref(),
        Some("no amount in row 4, ask the client")
    );

    // Back to the list: the three clean runs can be ticked and approved together.
    s.go("/runs").await;
    s.shot("review-queue").await;
    let picks = s.c.find_all(Locator::Css("input.pick")).await.unwrap();
    assert_eq!(picks.len(), 3);
    picks[0].click().await.unwrap();
    picks[1].click().await.unwrap();
    s.submit("#bulk-approve", "#bulk-result").await;
    assert!(
        s.text("#bulk-result")
            .await
            .contains("Approved 2 of 2 runs")
    );
    // The last one with the keyboard: j selects it, a approves it.
    s.key('j').await;
    s.key('a').await;
    // The queue is empty once the page after the approval is there.
    s.wait_for("p.empty").await;
    assert!(
        s.text("p.empty")
            .await
            .contains("Nothing is waiting for review.")
    );
    assert!(
        s.text("#bulk-result")
            .await
            .contains("Approved 1 of 1 runs")
    );

    let ledger = runner::payout::ledger(h.state.records.pool(), Some("olena"), None)
        .await
        .unwrap();
    let mut paid: Vec<(String, i64)> = ledger
        .iter()
        .map(|e| (e.run_id.clone(), e.amount_yen))
        .collect();
    paid.sort();
    let mut expected = vec![
        (h.runs[0].clone(), 700),
        (clean[0].clone(), 560),
        (clean[1].clone(), 580),
        (clean[2].clone(), 600),
    ];
    expected.sort();
    assert_eq!(paid, expected);
    assert_eq!(h.audited("approve").await.len(), 4);

    s.c.close().await.unwrap();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// What overflows a page at the browser's width: the page's own width, elements that stick
/// out on the right (but inside a box that scrolls on its own), and status badges broken
/// over lines.
const OVERFLOW: &str = r#"
const w = window.innerWidth;
const out = [];
if (document.documentElement.scrollWidth > w) out.push(`the page is ${document.documentElement.scrollWidth}px wide`);
const scrolls = (e) => { for (let p = e.parentElement; p; p = p.parentElement) { const o = getComputedStyle(p).overflowX; if (o === 'auto' || o === 'scroll' || o === 'hidden') return true; } return false; };
for (const e of document.querySelectorAll('body *')) {
  const r = e.getBoundingClientRect();
  if (r.width > 0 && r.right > w + 1 && !scrolls(e)) out.push(`${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${e.className} ends at ${Math.round(r.right)}px`);
}
for (const b of document.querySelectorAll('.badge')) {
  if (b.getClientRects().length > 1 || b.getBoundingClientRect().height > 2 * parseFloat(getComputedStyle(b).fontSize) * 1.6) out.push(`the badge "${b.textContent}" wraps`);
}
return out.slice(0, 10);
"#;

#[tokio::test]
async fn every_page_fits_a_phone_and_the_client_reads_her_jobs_in_japanese() {
    use runner::record::{RunEnd, RunRecord};
    use runner::{RunId, RunStatus, Workflow};
    let h = TestHome::new().await;
    // Sato's jobs as the queue leaves them: one waiting, one that could not read its file.
    let w = Workflow::load(&common::repo("workflows/invoice-report.yaml")).unwrap();
    let mut ids = Vec::new();
    for (input, fail) in [("2026-04.csv", false), ("2026-05.csv", true)] {
        let id = RunId::generate();
        let r = RunRecord::new(
            &id,
            &w,
            Some((input.into(), format!("h-{id}"))),
            RunStatus::Queued,
            &format!("runs/{id}"),
        );
        h.state.records.insert(&r).await.unwrap();
        if fail {
            h.state
                .records
                .set_status(&id, RunStatus::Running)
                .await
                .unwrap();
            let end = RunEnd::failed(
                "the file `2026-05.csv` is not a CSV or spreadsheet kobo can read",
                "reading input `invoices`",
                Default::default(),
                1,
            );
            h.state.records.finish(&id, &end).await.unwrap();
        }
        ids.push(id);
    }
    runner::user::set_lang(h.state.records.pool(), "sato", Some("ja"))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(dashboard::serve(listener, h.state.clone(), async {
        let _ = stopped.await;
    }));
    let driver = ChromeDriver::start();
    let s = Session {
        c: driver.browser().await,
        base,
        shots: None,
    };
    s.c.set_window_size(390, 844).await.unwrap();
    let width: serde_json::Value =
        s.c.execute("return window.innerWidth", vec![])
            .await
            .unwrap();
    assert!(
        width.as_i64().unwrap() <= 400,
        "the window is {width} px wide"
    );
    let check = |page: String| {
        let s = &s;
        async move {
            let found: serde_json::Value = s.c.execute(OVERFLOW, vec![]).await.unwrap();
            assert_eq!(found, serde_json::json!([]), "{page} at 390 px");
        }
    };

    s.go("/login").await;
    check("/login".into()).await;
    s.login("sato").await;
    let jobs = s.text("#jobs").await;
    assert!(jobs.contains("開始待ち"), "{jobs}");
    assert!(
        jobs.contains("停止しました") && jobs.contains("ファイルを読み込めませんでした"),
        "{jobs}"
    );
    assert!(
        jobs.contains("担当者が確認中") && jobs.contains("月次請求書のチェック"),
        "{jobs}"
    );
    check("/client".into()).await;
    s.logout().await;

    for (who, pages) in [
        (
            "olena",
            vec![
                "/work".to_string(),
                "/runs".into(),
                "/ledger".into(),
                format!("/runs/{}", h.runs[0]),
            ],
        ),
        (
            "kenji",
            vec![
                "/runs".into(),
                "/runs?view=all".into(),
                format!("/runs/{}", h.runs[1]),
            ],
        ),
        ("admin", vec!["/admin".into(), "/ledger".into()]),
    ] {
        s.login(who).await;
        for p in pages {
            s.go(&p).await;
            check(format!("{p} as {who}")).await;
        }
        s.logout().await;
    }

    s.c.close().await.unwrap();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// Screenshots of Japanese pages show the glyphs, not one repeated box: without a Japanese
/// font (Debian's chromium has none unless `fonts-noto-cjk` is installed, which
/// `scripts/install-deps` does) every kanji is drawn as the same empty box, so two different
/// words of the same length would give the same picture.
#[tokio::test]
async fn screenshots_of_japanese_text_show_its_glyphs() {
    let driver = ChromeDriver::start();
    let c = driver.browser().await;
    let page = "<html lang=ja><meta charset=utf-8><body style='margin:0;background:#fff'>\
        <span id=a style='font-size:40px;color:#000'>請求書番号</span><br>\
        <span id=b style='font-size:40px;color:#000'>東京都港区</span></body></html>";
    c.goto(&format!(
        "data:text/html;charset=utf-8,{}",
        page.replace(' ', "%20").replace('#', "%23")
    ))
    .await
    .unwrap();
    let shot = |id: &'static str| {
        let c = c.clone();
        async move {
            c.find(Locator::Id(id))
                .await
                .unwrap()
                .screenshot()
                .await
                .unwrap_or_else(|e| {
                    panic!("the Japanese text was not drawn at all ({e}): no usable font; install fonts-noto-cjk")
                })
        }
    };
    let (a, b) = (shot("a").await, shot("b").await);
    assert!(!a.is_empty() && !b.is_empty());
    assert_ne!(
        a, b,
        "two different Japanese words render as the same picture: no Japanese font (install fonts-noto-cjk)"
    );
    c.close().await.unwrap();
}
