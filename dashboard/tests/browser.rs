//! The dashboard in a real headless Chromium (through chromedriver): a reviewer approves one
//! run and rejects another; the client's outbox and the trainee's ledger show it; the trainee
//! reads the rejection in Ukrainian. With `KOBO_SCREENSHOTS=<folder>` it also saves screenshots
//! of the main pages there (that is how `docs/screenshots/` is made).

mod common;

use common::{TestHome, password};
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
    s.shot("review-queue").await;
    s.submit("a.run-link", "#decide").await;
    assert!(
        s.c.current_url()
            .await
            .unwrap()
            .path()
            .ends_with(&h.runs[0]),
        "the oldest run opens first"
    );
    s.shot("run").await;
    s.submit("#approve", ".decision.approved").await;
    assert_eq!(s.text("#review-state").await, "approved");

    s.go("/runs").await;
    s.submit("a.run-link", "#decide").await;
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
