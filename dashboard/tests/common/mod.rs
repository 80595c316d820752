//! A dashboard over a real data directory: rates, users of every role, and two real runs of
//! `workflows/invoice-report.yaml` on Acme's sample (10 rows ok, 1 failed, 1 skipped).
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, header};
use dashboard::{AppState, app};
use http_body_util::BodyExt;
use runner::{Records, Role, RunOptions, Workflow, user};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tower::ServiceExt;

pub const USERS: &[(&str, Role, Option<&str>)] = &[
    ("admin", Role::Admin, None),
    ("kenji", Role::Reviewer, None),
    ("olena", Role::Trainee, None),
    ("taras", Role::Trainee, None),
    ("sato", Role::Client, Some("acme")),
    ("yamada", Role::Client, Some("sakura")),
];

/// The test dashboard takes uploads up to 1 MiB, so a test can go over it cheaply.
pub const UPLOAD_LIMIT: u64 = 1024 * 1024;

pub fn password(name: &str) -> String {
    format!("{name}-password")
}

pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

pub struct TestHome {
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub app: Router,
    /// Olena's two runs, oldest first.
    pub runs: Vec<String>,
}

pub struct Reply {
    pub status: u16,
    pub location: String,
    pub body: String,
    pub bytes: Vec<u8>,
    pub set_cookie: Vec<String>,
    pub content_type: String,
}

/// A logged-in browser: its session cookie and the CSRF token its pages carry.
#[derive(Clone)]
pub struct Login {
    pub cookie: String,
    pub csrf: String,
}

impl TestHome {
    pub async fn new() -> TestHome {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_path_buf();
        std::fs::write(
            home.join("rates.yaml"),
            "rates:\n  - client: acme\n    workflow: invoice-report\n    per_run: 500\n    per_ok_row: 20\n",
        )
        .unwrap();
        let records = Records::open(&home.join("records.db")).await.unwrap();
        for (name, role, client) in USERS {
            user::add(records.pool(), name, *role, *client, &password(name))
                .await
                .unwrap();
        }
        let w = Workflow::load(&repo("workflows/invoice-report.yaml")).unwrap();
        let mut runs = Vec::new();
        for _ in 0..2 {
            let mut opts = RunOptions::new(&home);
            opts.inputs.insert(
                "invoices".into(),
                repo("fixtures/clients/acme/invoices.csv"),
            );
            runs.push(runner::execute(&w, &records, opts).await.unwrap().id.0);
        }
        let state = AppState {
            home,
            records,
            secure_cookies: false,
            trust_forwarded_for: false,
            max_upload_bytes: UPLOAD_LIMIT,
            reruns: None,
        };
        TestHome {
            app: app(state.clone()),
            dir,
            state,
            runs,
        }
    }

    /// Run Acme's invoice report as a workflow named `name` whose `author:` is `author`;
    /// the run's id.
    pub async fn run_as(&self, author: &str, name: &str) -> String {
        let text = std::fs::read_to_string(repo("workflows/invoice-report.yaml"))
            .unwrap()
            .replace("name: invoice-report", &format!("name: {name}"))
            .replace("author: olena", &format!("author: {author}"));
        let file = self.home().join(format!("{name}.yaml"));
        std::fs::write(&file, text).unwrap();
        let w = Workflow::load(&file).unwrap();
        let mut opts = RunOptions::new(self.home());
        opts.inputs.insert(
            "invoices".into(),
            repo("fixtures/clients/acme/invoices.csv"),
        );
        runner::execute(&w, &self.state.records, opts)
            .await
            .unwrap()
            .id
            .0
    }

    /// Run Acme's invoice report, with `author:` set to `author`, on this CSV text (UTF-8);
    /// the run's id.
    pub async fn run_csv(&self, author: &str, csv: &str) -> String {
        let text = std::fs::read_to_string(repo("workflows/invoice-report.yaml"))
            .unwrap()
            .replace("author: olena", &format!("author: {author}"));
        let file = self.home().join(format!("invoice-report-{author}.yaml"));
        std::fs::write(&file, text).unwrap();
        let w = Workflow::load(&file).unwrap();
        let input = self
            .home()
            .join(format!("input-{}.csv", runner::RunId::generate()));
        std::fs::write(&input, csv).unwrap();
        let mut opts = RunOptions::new(self.home());
        opts.inputs.insert("invoices".into(), input);
        runner::execute(&w, &self.state.records, opts)
            .await
            .unwrap()
            .id
            .0
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let h = resp.headers();
        let location = h
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let content_type = h
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let set_cookie = h
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Reply {
            status,
            location,
            body: String::from_utf8_lossy(&bytes).to_string(),
            bytes,
            set_cookie,
            content_type,
        }
    }

    pub async fn get(&self, path: &str, login: Option<&Login>) -> Reply {
        self.get_lang(path, login, None).await
    }

    pub async fn get_lang(&self, path: &str, login: Option<&Login>, lang: Option<&str>) -> Reply {
        let mut req = Request::get(path);
        if let Some(l) = login {
            req = req.header(header::COOKIE, &l.cookie);
        }
        if let Some(lang) = lang {
            req = req.header(header::ACCEPT_LANGUAGE, lang);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    pub async fn post(&self, path: &str, login: Option<&Login>, form: &str) -> Reply {
        let mut req =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(l) = login {
            req = req.header(header::COOKIE, &l.cookie);
        }
        self.send(req.body(Body::from(form.to_string())).unwrap())
            .await
    }

    /// Try to log in through the login form, as a browser does.
    pub async fn try_login(&self, name: &str, password: &str) -> Reply {
        self.try_login_from(None, &[], name, password).await
    }

    /// Try to log in over a connection from `peer`, with these extra request headers.
    pub async fn try_login_from(
        &self,
        peer: Option<SocketAddr>,
        headers: &[(&str, &str)],
        name: &str,
        password: &str,
    ) -> Reply {
        let page = self.get("/login", None).await;
        let pre = cookie_pair(&page.set_cookie, "kobo_login");
        let token = hidden(&page.body, "csrf");
        let mut req = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &pre);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut req = req
            .body(Body::from(format!(
                "csrf={token}&name={name}&password={password}"
            )))
            .unwrap();
        if let Some(peer) = peer {
            // What `dashboard::serve` puts on every request it takes from a connection.
            req.extensions_mut().insert(ConnectInfo(peer));
        }
        self.send(req).await
    }

    /// Log in through the login form, as a browser does.
    pub async fn login(&self, name: &str) -> Login {
        self.login_with(name, &password(name)).await
    }

    /// Log in with this password.
    pub async fn login_with(&self, name: &str, password: &str) -> Login {
        let r = self.try_login(name, password).await;
        assert_eq!(r.status, 303, "login of {name} failed: {}", r.body);
        let cookie = cookie_pair(&r.set_cookie, "kobo_session");
        let home = self
            .get(
                "/runs",
                Some(&Login {
                    cookie: cookie.clone(),
                    csrf: String::new(),
                }),
            )
            .await;
        let page = if home.status == 200 {
            home
        } else {
            self.get(
                "/client",
                Some(&Login {
                    cookie: cookie.clone(),
                    csrf: String::new(),
                }),
            )
            .await
        };
        Login {
            cookie,
            csrf: hidden(&page.body, "csrf"),
        }
    }

    pub fn outbox(&self, client: &str) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(runner::data_dir::DataDir::new(self.home()).client_outbox(client))
                .map(|d| {
                    d.map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                        .collect()
                })
                .unwrap_or_default();
        names.sort();
        names
    }

    pub async fn count(&self, table: &str) -> i64 {
        let sql = match table {
            "reviews" => "SELECT COUNT(*) FROM reviews",
            "ledger" => "SELECT COUNT(*) FROM ledger",
            "deliveries" => "SELECT COUNT(*) FROM deliveries",
            "users" => "SELECT COUNT(*) FROM users",
            _ => "SELECT COUNT(*) FROM audit WHERE action NOT IN ('login')",
        };
        sqlx::query_scalar(sql)
            .fetch_one(self.state.records.pool())
            .await
            .unwrap()
    }

    /// Every user as stored (role, client, disabled), to see that nothing changed.
    pub async fn users(&self) -> Vec<runner::User> {
        user::list(self.state.records.pool()).await.unwrap()
    }

    pub async fn sessions(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
            .fetch_one(self.state.records.pool())
            .await
            .unwrap()
    }

    /// Audit entries with this action: (actor, target, detail).
    pub async fn audited(&self, action: &str) -> Vec<(String, String, Option<String>)> {
        sqlx::query_as("SELECT actor, target, detail FROM audit WHERE action = ? ORDER BY id")
            .bind(action)
            .fetch_all(self.state.records.pool())
            .await
            .unwrap()
    }

    /// Nothing a refused request could have changed has changed.
    pub async fn assert_nothing_changed(&self) {
        assert_eq!(self.count("reviews").await, 0, "a review was recorded");
        assert_eq!(self.count("ledger").await, 0, "a credit was recorded");
        assert_eq!(self.count("deliveries").await, 0, "a delivery was recorded");
        assert_eq!(
            self.count("users").await,
            USERS.len() as i64,
            "a user was added"
        );
        assert_eq!(self.count("audit").await, 0, "an action was audited");
        assert!(self.outbox("acme").is_empty());
        assert!(
            !self.home().join("inbox").exists(),
            "a file reached an inbox"
        );
    }
}

/// `n` invoices, all fine: every row ends ok. `amount(i)` is the i-th invoice's amount.
pub fn clean_csv(n: usize, amount: impl Fn(usize) -> i64) -> String {
    let mut s = String::from("請求書番号,取引先,金額,請求日\n");
    for i in 1..=n {
        s.push_str(&format!(
            "INV-{i:04},株式会社アクメ,{},2026/10/31\n",
            amount(i)
        ));
    }
    s
}

/// `name=value` of a cookie set by a response.
pub fn cookie_pair(set_cookie: &[String], name: &str) -> String {
    set_cookie
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_string())
        .unwrap_or_else(|| panic!("no cookie {name} in {set_cookie:?}"))
}

/// The value of the first hidden input with this name.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in page"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// One request to a real dashboard at `addr` over its own connection: the status and the
/// whole answer (head and body).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

/// Try to log in on a real dashboard at `addr`, as a browser does (login page, then form).
pub async fn http_login(
    addr: SocketAddr,
    headers: &[(&str, &str)],
    name: &str,
    password: &str,
) -> (u16, String) {
    let (_, page) = http(addr, "GET", "/login", &[], "").await;
    let pre = page
        .lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(h, _)| h.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, c)| c.split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("kobo_login="))
        .expect("a login cookie");
    let mut all = headers.to_vec();
    all.push(("Cookie", &pre));
    let form = format!(
        "csrf={}&name={name}&password={password}",
        hidden(&page, "csrf")
    );
    http(addr, "POST", "/login", &all, &form).await
}
