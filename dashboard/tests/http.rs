//! The dashboard over HTTP (no socket, `tower::ServiceExt::oneshot`): what each role may do,
//! and every way in that must be refused — with the right status, and nothing changed.

mod common;

use axum::body::Body;
use axum::http::{Request, header};
use common::{Login, TestHome};
use runner::Role;

fn approve(id: &str) -> String {
    format!("/runs/{id}/approve")
}
fn reject(id: &str) -> String {
    format!("/runs/{id}/reject")
}

#[tokio::test]
async fn every_route_needs_a_login() {
    let h = TestHome::new().await;
    let id = &h.runs[0];
    let pages = [
        "/".to_string(),
        "/runs".into(),
        format!("/runs/{id}"),
        format!("/runs/{id}/files/input/invoices.csv"),
        "/ledger".into(),
        "/ledger/2026-11.xlsx".into(),
        "/client".into(),
        "/client/deliveries/x.xlsx".into(),
        "/admin".into(),
    ];
    for path in &pages {
        let r = h.get(path, None).await;
        assert_eq!(
            (r.status, r.location.as_str()),
            (303, "/login"),
            "GET {path}"
        );
    }
    let forged = Login {
        cookie: "kobo_session=".to_string() + &"ab".repeat(32),
        csrf: String::new(),
    };
    assert_eq!(
        h.get("/runs", Some(&forged)).await.status,
        303,
        "an unknown session token"
    );
    for path in [
        approve(id),
        reject(id),
        "/logout".into(),
        "/lang".into(),
        "/admin/users".into(),
        "/admin/users/olena/role".into(),
        "/admin/users/olena/disable".into(),
        "/admin/users/olena/enable".into(),
        "/admin/users/olena/password".into(),
        "/client/upload".into(),
    ] {
        let r = h
            .post(
                &path,
                None,
                "csrf=x&comment=no&lang=uk&name=eve&role=admin&password=0123456789ab",
            )
            .await;
        assert_eq!(r.status, 401, "POST {path}");
    }
    h.assert_nothing_changed().await;
}

/// Who may use each route: the dashboard's access rules in one table. Every role not listed
/// is refused with 403. (`/`, `/login`, `/logout` and `/lang` are for everyone.)
///
/// In paths and forms, `{run}`, `{user}`, `{new}` and `{task}` name something real for a
/// refused role (the request would change something if it were let through), and something
/// that makes an allowed role's request fail harmlessly after its role was accepted (a run
/// already reviewed, a user who does not exist, a name taken, a task the client lacks).
const ACCESS: &[(&str, &str, &str, &[Role])] = {
    use Role::{Admin, Client, Reviewer, Trainee};
    &[
        ("GET", "/runs", "", &[Admin, Reviewer, Trainee]),
        ("GET", "/runs/{run}", "", &[Admin, Reviewer, Trainee]),
        (
            "GET",
            "/runs/{run}/files/input/invoices.csv",
            "",
            &[Admin, Reviewer, Trainee],
        ),
        ("POST", "/runs/{run}/approve", "", &[Admin, Reviewer]),
        (
            "POST",
            "/runs/{run}/reject",
            "comment=redo",
            &[Admin, Reviewer],
        ),
        ("GET", "/ledger", "", &[Admin, Trainee]),
        ("GET", "/ledger/{month}.xlsx", "", &[Admin, Trainee]),
        (
            "GET",
            "/ledger/{month}.xlsx?trainee=olena",
            "",
            &[Admin, Trainee],
        ),
        ("GET", "/client", "", &[Client]),
        ("GET", "/client/deliveries/{delivery}", "", &[Client]),
        ("POST", "/client/upload", "{task}", &[Client]),
        ("GET", "/admin", "", &[Admin]),
        (
            "POST",
            "/admin/users",
            "name={new}&role=admin&password=0123456789ab",
            &[Admin],
        ),
        ("POST", "/admin/users/{user}/role", "role=admin", &[Admin]),
        ("POST", "/admin/users/{user}/disable", "", &[Admin]),
        ("POST", "/admin/users/{user}/enable", "", &[Admin]),
        (
            "POST",
            "/admin/users/{user}/password",
            "password=a-new-password-1",
            &[Admin],
        ),
    ]
};

/// What a refused request could have changed: records, users, sessions and files.
async fn snapshot(
    h: &TestHome,
) -> (
    Vec<i64>,
    Vec<(String, String, Option<String>, i64, String)>,
    Vec<String>,
) {
    let mut counts = Vec::new();
    for table in ["reviews", "ledger", "deliveries", "users", "audit"] {
        counts.push(h.count(table).await);
    }
    counts.push(h.sessions().await);
    let users = sqlx::query_as(
        "SELECT name, role, client, disabled, password_hash FROM users ORDER BY name",
    )
    .fetch_all(h.state.records.pool())
    .await
    .unwrap();
    (counts, users, files_under(h.home()))
}

#[tokio::test]
async fn every_role_is_refused_every_route_not_its_own_and_nothing_changes() {
    let h = TestHome::new().await;
    std::fs::create_dir_all(h.home().join("inbox/acme/invoice-report")).unwrap();
    let (open, reviewed) = (&h.runs[0], &h.runs[1]);
    let kenji = h.login("kenji").await;
    let r = h
        .post(
            &approve(reviewed),
            Some(&kenji),
            &format!("csrf={}", kenji.csrf),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let delivery = h.outbox("acme").remove(0);
    let month = chrono::Utc::now()
        .with_timezone(&runner::payout::jst())
        .format("%Y-%m")
        .to_string();
    let logins = [
        (Role::Admin, h.login("admin").await),
        (Role::Reviewer, kenji),
        (Role::Trainee, h.login("olena").await),
        (Role::Client, h.login("sato").await),
    ];
    let before = snapshot(&h).await;
    let mut refused = 0;
    for (method, path, form, allowed) in ACCESS {
        for (role, who) in &logins {
            let ok = allowed.contains(role);
            let fill = |s: &str| {
                s.replace("{run}", if ok { reviewed } else { open })
                    .replace("{user}", if ok { "nobody" } else { "taras" })
                    .replace("{new}", if ok { "taras" } else { "eve" })
                    .replace("{month}", &month)
                    .replace("{delivery}", &delivery)
            };
            let path = fill(path);
            let r = match *method {
                "GET" => h.get(&path, Some(who)).await,
                _ if path == "/client/upload" => {
                    let task = if ok { "no-such-task" } else { "invoice-report" };
                    h.send(upload_request(who, task, "invoices.csv", b"a,b\r\n1,2"))
                        .await
                }
                _ => {
                    let form = format!("csrf={}&{}", who.csrf, fill(form));
                    h.post(&path, Some(who), &form).await
                }
            };
            let what = format!("{role} {method} {path}");
            if ok {
                assert!(
                    ![401, 403].contains(&r.status) && r.status < 500,
                    "{what} was refused: {} {}",
                    r.status,
                    r.body
                );
                if *method == "GET" {
                    assert_eq!(r.status, 200, "{what}: {}", r.body);
                }
            } else {
                refused += 1;
                assert_eq!(r.status, 403, "{what}: {}", r.body);
                // Refused for the role, not for another reason (olena's own run, say).
                assert!(
                    r.body.contains("You do not have access to this page."),
                    "{what}: {}",
                    r.body
                );
            }
            assert_eq!(snapshot(&h).await, before, "{what} changed something");
        }
    }
    assert!(refused >= 30, "only {refused} refusals checked");
}

#[tokio::test]
async fn nobody_reaches_another_trainees_or_clients_things() {
    let h = TestHome::new().await;
    let id = &h.runs[0];
    let taras = h.login("taras").await;
    assert_eq!(
        h.get(&format!("/runs/{id}"), Some(&taras)).await.status,
        404
    );
    assert_eq!(
        h.get(
            &format!("/runs/{id}/files/input/invoices.csv"),
            Some(&taras)
        )
        .await
        .status,
        404
    );
    let list = h.get("/runs?trainee=olena", Some(&taras)).await;
    assert!(
        !list.body.contains(id.as_str()),
        "taras sees olena's run in his list"
    );

    let kenji = h.login("kenji").await;
    assert_eq!(
        h.post(&approve(id), Some(&kenji), &format!("csrf={}", kenji.csrf))
            .await
            .status,
        303
    );
    let delivered = h.outbox("acme");
    assert_eq!(delivered.len(), 1);
    let file = format!("/client/deliveries/{}", delivered[0]);
    let yamada = h.login("yamada").await;
    assert_eq!(
        h.get(&file, Some(&yamada)).await.status,
        404,
        "sakura downloads acme's delivery"
    );
    assert!(
        !h.get("/client", Some(&yamada))
            .await
            .body
            .contains(&delivered[0])
    );
    let sato = h.login("sato").await;
    let got = h.get(&file, Some(&sato)).await;
    assert_eq!(got.status, 200);
    assert_eq!(&got.bytes[..2], b"PK", "an xlsx file");

    // A trainee's ledger is hers, whatever the query asks.
    let mine = h.get("/ledger?trainee=olena", Some(&taras)).await;
    assert!(!mine.body.contains("¥700"), "taras sees olena's credit");
    assert!(
        h.get("/ledger", Some(&h.login("olena").await))
            .await
            .body
            .contains("¥700")
    );
}

#[tokio::test]
async fn path_traversal_in_file_names_is_refused() {
    let h = TestHome::new().await;
    let id = &h.runs[0];
    let kenji = h.login("kenji").await;
    for path in [
        "../../records.db",
        "%2e%2e/%2e%2e/records.db",
        "outputs/..%2F..%2F..%2Frecords.db",
        "input/../workflow.yaml",
        "..%5C..%5Crecords.db",
        "workflow.yaml",
        "%2Fetc%2Fpasswd",
    ] {
        let r = h
            .get(&format!("/runs/{id}/files/{path}"), Some(&kenji))
            .await;
        assert!(matches!(r.status, 400 | 404), "{path}: {}", r.status);
        assert!(
            !r.body.contains("SQLite format") && !r.body.contains("root:"),
            "{path} leaked a file"
        );
    }
    assert_eq!(
        h.get(
            &format!("/runs/{id}/files/input/invoices.csv"),
            Some(&kenji)
        )
        .await
        .status,
        200
    );

    let sato = h.login("sato").await;
    for name in [
        "..%2F..%2Frecords.db",
        "..",
        "%2E%2E",
        ".hidden",
        "..%5Crecords.db",
    ] {
        let r = h
            .get(&format!("/client/deliveries/{name}"), Some(&sato))
            .await;
        assert!(matches!(r.status, 400 | 404), "{name}: {}", r.status);
    }
}

#[tokio::test]
async fn forms_without_the_csrf_token_change_nothing() {
    let h = TestHome::new().await;
    let id = &h.runs[0];
    let kenji = h.login("kenji").await;
    let admin = h.login("admin").await;
    let sato = h.login("sato").await;
    for form in [
        "comment=fine",
        "csrf=&comment=fine",
        "csrf=0000&comment=fine",
    ] {
        assert_eq!(
            h.post(&approve(id), Some(&kenji), form).await.status,
            403,
            "approve with {form}"
        );
        assert_eq!(
            h.post(&reject(id), Some(&kenji), form).await.status,
            403,
            "reject with {form}"
        );
    }
    // Another session's token is not this session's.
    assert_eq!(
        h.post(&approve(id), Some(&kenji), &format!("csrf={}", admin.csrf))
            .await
            .status,
        403
    );
    assert_eq!(
        h.post(
            "/admin/users",
            Some(&admin),
            "name=eve&role=admin&password=0123456789ab"
        )
        .await
        .status,
        403
    );
    assert_eq!(h.post("/lang", Some(&kenji), "lang=uk").await.status, 403);
    assert_eq!(h.post("/logout", Some(&kenji), "").await.status, 403);
    // The token is checked before the other fields are read: a forged form learns nothing
    // from a 400 about its fields.
    for (path, form) in [
        (format!("/runs/{id}/rerun"), "rows=failed"),
        (format!("/runs/{id}/rerun"), ""),
        (format!("/runs/{id}/rows/done"), "table=invoices&row=1"),
        (format!("/runs/{id}/rows/done"), "row=not-a-number"),
        ("/admin/users/olena/disable".to_string(), "csrf=0000"),
    ] {
        let who = if path.starts_with("/admin") {
            &admin
        } else {
            &kenji
        };
        let r = h.post(&path, Some(who), form).await;
        assert_eq!(r.status, 403, "POST {path} with {form:?}: {}", r.body);
        assert!(r.body.contains("The form has expired"), "{}", r.body);
    }
    // With the token, a form that cannot be read is the sender's mistake: 400, on a page.
    let r = h
        .post(
            &format!("/runs/{id}/rows/done"),
            Some(&kenji),
            &format!("csrf={}&table=invoices&row=not-a-number", kenji.csrf),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("<header class=\"top\">"), "{}", r.body);
    let req = Request::post("/lang")
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::COOKIE, &kenji.cookie)
        .body(Body::from(format!("csrf={}&lang=uk", kenji.csrf)))
        .unwrap();
    assert_eq!(h.send(req).await.status, 400, "not a urlencoded form");
    assert_eq!(
        h.get("/runs", Some(&kenji)).await.status,
        200,
        "the session survived the forged logout"
    );
    let boundary = "XyZ";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"invoices.csv\"\r\nContent-Type: text/csv\r\n\r\na,b\r\n1,2\r\n--{boundary}--\r\n"
    );
    let req = Request::post("/client/upload")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::COOKIE, &sato.cookie)
        .body(Body::from(body))
        .unwrap();
    assert_eq!(h.send(req).await.status, 403, "upload without csrf");
    // The login form has its own token.
    let r = h
        .post("/login", None, "name=kenji&password=kenji-password")
        .await;
    assert_eq!(r.status, 403);
    h.assert_nothing_changed().await;
    assert_eq!(kenji.csrf.len(), 64);
}

#[tokio::test]
async fn parallel_approvals_deliver_and_credit_once() {
    let h = TestHome::new().await;
    let id = h.runs[0].clone();
    let kenji = h.login("kenji").await;
    let admin = h.login("admin").await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let who = if i % 2 == 0 {
            kenji.clone()
        } else {
            admin.clone()
        };
        let app = h.app.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let req = Request::post(format!("/runs/{id}/approve"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, &who.cookie)
                .body(Body::from(format!("csrf={}", who.csrf)))
                .unwrap();
            app.oneshot(req).await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [303, 409, 409, 409, 409, 409, 409, 409]);
    assert_eq!(h.outbox("acme").len(), 1);
    assert_eq!(h.count("ledger").await, 1);
    assert_eq!(h.count("deliveries").await, 1);
    assert_eq!(h.count("audit").await, 1);
    // A rejection after the approval is refused too; the run is frozen.
    assert_eq!(
        h.post(
            &reject(&id),
            Some(&kenji),
            &format!("csrf={}&comment=late", kenji.csrf)
        )
        .await
        .status,
        409
    );
}

/// A reviewer's browser sends the approval over a real connection and goes away while kobo
/// is part-way (the output copied into the outbox, nothing committed); the server drops the
/// request. The approval still ends whole: decision, delivery, credit and exactly the
/// delivered file in the outbox, with no half-written file. Never a file without a record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_cut_off_by_the_browser_is_done_completely() {
    use tokio::io::AsyncWriteExt;
    let h = TestHome::new().await;
    let id = h.runs[0].clone();
    let kenji = h.login("kenji").await;

    // The real dashboard on a real port. The layer tells when the server is done with the
    // request's handler: finished, or dropped because the connection closed.
    let (ended_tx, mut ended) = tokio::sync::mpsc::unbounded_channel::<()>();
    struct Ended(tokio::sync::mpsc::UnboundedSender<()>);
    impl Drop for Ended {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }
    let app = dashboard::app(h.state.clone()).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let ended = Ended(ended_tx.clone());
            async move {
                let resp = next.run(req).await;
                drop(ended);
                resp
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let hold = runner::fault::Hold::new("approve", &id);
    let body = format!("csrf={}", kenji.csrf);
    let request = format!(
        "POST /runs/{id}/approve HTTP/1.1\r\nHost: {addr}\r\nCookie: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        kenji.cookie,
        body.len()
    );
    let mut browser = tokio::net::TcpStream::connect(addr).await.unwrap();
    browser.write_all(request.as_bytes()).await.unwrap();
    let secs = std::time::Duration::from_secs(20);
    tokio::time::timeout(secs, hold.reached())
        .await
        .expect("the approval never reached the outbox copy");
    assert_eq!(
        h.outbox("acme").len(),
        1,
        "the output is copied, not committed"
    );
    // The browser goes away; the server drops the request.
    drop(browser);
    tokio::time::timeout(secs, ended.recv())
        .await
        .expect("the server kept the request of a closed connection");

    hold.release();
    let note = h.home().join("deliveries-pending").join(&id);
    let deadline = std::time::Instant::now() + secs;
    while note.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let outbox = h.outbox("acme");
    let counts = (
        h.count("reviews").await,
        h.count("deliveries").await,
        h.count("ledger").await,
    );
    assert!(
        outbox.iter().all(|f| !f.starts_with(".part-")),
        "a half-written file is in the outbox: {outbox:?}"
    );
    // All or nothing; and as the approval runs to its end without the browser: all.
    if counts == (0, 0, 0) {
        assert!(outbox.is_empty(), "files without an approval: {outbox:?}");
    }
    assert_eq!(counts, (1, 1, 1), "the approval was lost with the browser");
    let delivered: Vec<String> = runner::delivery::for_run(h.state.records.pool(), &id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.file_name)
        .collect();
    assert_eq!(outbox, delivered);
    assert!(!note.exists());
}

#[tokio::test]
async fn review_a_run_then_the_trainee_and_client_see_the_result() {
    let h = TestHome::new().await;
    let (first, second) = (&h.runs[0], &h.runs[1]);
    let kenji = h.login("kenji").await;
    let queue = h.get("/runs", Some(&kenji)).await;
    assert!(
        queue.body.find(first.as_str()).unwrap() < queue.body.find(second.as_str()).unwrap(),
        "oldest first"
    );
    let page = h.get(&format!("/runs/{first}"), Some(&kenji)).await;
    for expected in [
        "請求書一覧",
        "class=\"failed\"",
        "INV-2026-1003",
        "has no amount",
        "invoices.csv",
        "id=\"approve\"",
    ] {
        assert!(page.body.contains(expected), "run page lacks {expected}");
    }
    assert_eq!(
        h.post(
            &reject(first),
            Some(&kenji),
            &format!("csrf={}&comment=+", kenji.csrf)
        )
        .await
        .status,
        400,
        "no comment"
    );
    assert_eq!(
        h.post(
            &approve(first),
            Some(&kenji),
            &format!("csrf={}", kenji.csrf)
        )
        .await
        .status,
        303
    );
    let comment = "Рядок 4: немає суми — уточніть у клієнта";
    let form = format!("csrf={}&comment={}", kenji.csrf, form_encode(comment));
    assert_eq!(
        h.post(&reject(second), Some(&kenji), &form).await.status,
        303
    );
    assert!(
        !h.get("/runs", Some(&kenji))
            .await
            .body
            .contains(first.as_str()),
        "reviewed runs leave the queue"
    );

    let olena = h.login("olena").await;
    let mine = h
        .get_lang("/runs", Some(&olena), Some("uk-UA,uk;q=0.9"))
        .await;
    assert!(
        mine.body.contains(comment) && mine.body.contains("відхилено"),
        "{}",
        mine.body
    );
    let ledger = h.get_lang("/ledger", Some(&olena), Some("ja")).await;
    assert!(ledger.body.contains("700円"), "{}", ledger.body);
    let month = chrono::Utc::now()
        .with_timezone(&runner::payout::jst())
        .format("%Y-%m")
        .to_string();
    let statement = h.get(&format!("/ledger/{month}.xlsx"), Some(&olena)).await;
    assert_eq!((statement.status, &statement.bytes[..2]), (200, &b"PK"[..]));

    let sato = h.login("sato").await;
    let client = h.get("/client", Some(&sato)).await;
    assert!(client.body.contains(&h.outbox("acme")[0]));
    assert_eq!(h.count("audit").await, 2);
}

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A client's upload lands in the inbox folder of the task they chose, where `kobo serve`
/// picks it up; a made-up task name is refused and writes nothing.
#[tokio::test]
async fn a_client_upload_goes_to_the_chosen_task_inbox() {
    let h = TestHome::new().await;
    let sato = h.login("sato").await;
    let task_dir = h.dir.path().join("inbox/acme/invoice-report");
    std::fs::create_dir_all(&task_dir).unwrap();
    let upload = |workflow: &str| {
        let boundary = "XyZ";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"workflow\"\r\n\r\n{workflow}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"invoices.csv\"\r\nContent-Type: text/csv\r\n\r\na,b\r\n1,2\r\n--{boundary}--\r\n",
            csrf = sato.csrf
        );
        Request::post("/client/upload")
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header(header::COOKIE, &sato.cookie)
            .body(Body::from(body))
            .unwrap()
    };
    assert_eq!(h.send(upload("../../etc")).await.status, 400);
    assert_eq!(
        h.send(upload("roster-cleanup")).await.status,
        400,
        "not a task of this client"
    );
    assert_eq!(
        std::fs::read_dir(&task_dir).unwrap().count(),
        0,
        "nothing written yet"
    );
    let r = h.send(upload("invoice-report")).await;
    assert_eq!(r.status, 303);
    let files: Vec<String> = std::fs::read_dir(&task_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1);
    assert!(files[0].ends_with("_invoices.csv"), "{files:?}");
    // The CRLF before the closing boundary belongs to the boundary, not to the file.
    assert_eq!(
        std::fs::read(task_dir.join(&files[0])).unwrap(),
        b"a,b\r\n1,2"
    );
}

/// Uploads of one name back to back (within one second, so with the same time stamp) are
/// all kept, each its own file in the inbox, and each becomes a run: none replaces another.
#[tokio::test]
async fn uploads_of_one_name_in_the_same_second_are_all_kept_and_all_run() {
    let h = TestHome::new().await;
    let sato = h.login("sato").await;
    let task_dir = h.home().join("inbox/acme/invoice-report");
    std::fs::create_dir_all(&task_dir).unwrap();
    // Three, so that at least two share a second even if a second ends in between.
    let sent: Vec<Vec<u8>> = (1..=3)
        .map(|i| format!("a,b\r\n{i},{i}\r\n").into_bytes())
        .collect();
    for content in &sent {
        let r = h
            .send(upload_request(
                &sato,
                "invoice-report",
                "invoices.csv",
                content,
            ))
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let mut stored: Vec<Vec<u8>> = std::fs::read_dir(&task_dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    stored.sort();
    assert_eq!(stored, sent, "every upload is a file of its own");
    assert_eq!(h.audited("upload").await.len(), 3);

    // The inbox takes each as a run of its own.
    let mut queue = runner::queue::JobQueue::open(
        &runner::queue::QueueLocation::Sqlite(h.home().join("queue.db")),
        Default::default(),
    )
    .await
    .unwrap();
    let mut settings = runner::inbox::InboxSettings::new(h.home(), &common::repo("workflows"));
    settings.settle = std::time::Duration::ZERO;
    let mut inbox = runner::inbox::Inbox::new(settings);
    inbox.scan(&h.state.records, &mut queue).await;
    let taken = inbox.scan(&h.state.records, &mut queue).await.taken;
    assert_eq!(taken.len(), 3, "{taken:?}");
    assert!(
        taken
            .iter()
            .all(|t| matches!(t, runner::inbox::Taken::Queued { .. })),
        "{taken:?}"
    );
    let mut inputs = Vec::new();
    for run in h
        .state
        .records
        .with_status(runner::RunStatus::Queued)
        .await
        .unwrap()
    {
        let dir = h.home().join(&run.folder).join("input");
        let name = run.input_name.unwrap();
        inputs.push(std::fs::read(dir.join(name)).unwrap());
    }
    inputs.sort();
    assert_eq!(inputs, sent, "each run has its own upload as input");
}

/// The admin's forms for one user: (path, form without the CSRF token).
fn admin_actions(name: &str) -> Vec<(String, &'static str)> {
    vec![
        (format!("/admin/users/{name}/role"), "role=admin"),
        (format!("/admin/users/{name}/disable"), ""),
        (format!("/admin/users/{name}/enable"), ""),
        (
            format!("/admin/users/{name}/password"),
            "password=a-new-password-1",
        ),
    ]
}

#[tokio::test]
async fn only_the_admin_manages_users_and_only_with_the_form_token() {
    let h = TestHome::new().await;
    let admin = h.login("admin").await;
    let kenji = h.login("kenji").await;
    let olena = h.login("olena").await;
    let sato = h.login("sato").await;
    let users = h.users().await;
    let sessions = h.sessions().await;
    for target in ["olena", "kenji", "admin"] {
        for (path, form) in admin_actions(target) {
            for who in [&kenji, &olena, &sato] {
                let r = h
                    .post(&path, Some(who), &format!("csrf={}&{form}", who.csrf))
                    .await;
                assert_eq!(r.status, 403, "POST {path}: {}", r.body);
            }
            let other = format!("csrf={}&", kenji.csrf);
            for bad in ["", "csrf=&", "csrf=0000&", other.as_str()] {
                let r = h.post(&path, Some(&admin), &format!("{bad}{form}")).await;
                assert_eq!(r.status, 403, "POST {path} with {bad:?}");
            }
        }
    }
    h.assert_nothing_changed().await;
    assert_eq!(h.users().await, users, "a user was changed");
    assert_eq!(h.sessions().await, sessions, "a session was ended");
    // Their old passwords still work.
    for name in ["olena", "kenji", "admin"] {
        h.login(name).await;
    }
    // A user who does not exist is not found; nothing is written.
    for (path, form) in admin_actions("nobody") {
        let r = h
            .post(&path, Some(&admin), &format!("csrf={}&{form}", admin.csrf))
            .await;
        assert_eq!(r.status, 404, "POST {path}");
    }
    h.assert_nothing_changed().await;
}

#[tokio::test]
async fn the_admin_changes_roles_and_clients() {
    let h = TestHome::new().await;
    // sakura is known by its inbox folder (kobo serve makes one per workflow).
    std::fs::create_dir_all(h.home().join("inbox/sakura/roster-cleanup")).unwrap();
    let admin = h.login("admin").await;
    let olena = h.login("olena").await;
    let sato = h.login("sato").await;
    let role = |who: &str, form: &str| {
        let path = format!("/admin/users/{who}/role");
        let form = format!("csrf={}&{form}", admin.csrf);
        let h = &h;
        let admin = &admin;
        async move { h.post(&path, Some(admin), &form).await }
    };
    // Olena becomes a reviewer; her open session has the new role on its next request.
    assert_eq!(h.get("/runs?view=all", Some(&olena)).await.status, 200);
    assert_eq!(
        h.post(
            &format!("/runs/{}/approve", h.runs[0]),
            Some(&olena),
            &format!("csrf={}", olena.csrf)
        )
        .await
        .status,
        403,
        "a trainee does not approve"
    );
    let r = role("olena", "role=reviewer&client=").await;
    assert_eq!((r.status, r.location.as_str()), (303, "/admin"));
    let page = h.get("/runs", Some(&olena)).await;
    assert!(page.body.contains("olena · reviewer"), "{}", page.body);
    // Sato moves to another client: he now sees sakura, not acme.
    assert_eq!(role("sato", "role=client&client=sakura").await.status, 303);
    let client = h.get("/client", Some(&sato)).await;
    assert!(client.body.contains("<h1>sakura</h1>"), "{}", client.body);
    // What the form gets wrong is refused and changes nothing.
    for (who, form) in [
        ("taras", "role=client&client="),
        ("taras", "role=client&client=..%2Facme"),
        ("taras", "role=owner"),
        ("taras", "role=client&client=acmee"),
        ("sato", "role=client&client=sakrua"),
    ] {
        let r = role(who, form).await;
        assert_eq!(r.status, 400, "{form}: {}", r.body);
    }
    // A client left in the form does not stop a client user becoming staff.
    assert_eq!(
        role("yamada", "role=trainee&client=sakura").await.status,
        303
    );
    let users = h.users().await;
    let get = |n: &str| users.iter().find(|u| u.name == n).unwrap().clone();
    assert_eq!(
        (get("olena").role, get("olena").client),
        (Role::Reviewer, None)
    );
    assert_eq!(get("sato").client.as_deref(), Some("sakura"));
    assert_eq!(
        (get("taras").role, get("taras").client),
        (Role::Trainee, None)
    );
    assert_eq!(
        (get("yamada").role, get("yamada").client),
        (Role::Trainee, None)
    );
    let page = h.get("/admin", Some(&admin)).await;
    assert!(page.body.contains("id=\"user-olena\""), "{}", page.body);
    assert_eq!(
        h.audited("user.role").await,
        [
            (
                "admin".into(),
                "olena".into(),
                Some("trainee → reviewer".into())
            ),
            (
                "admin".into(),
                "sato".into(),
                Some("client (acme) → client (sakura)".into())
            ),
            (
                "admin".into(),
                "yamada".into(),
                Some("client (sakura) → trainee".into())
            ),
        ]
    );
}

#[tokio::test]
async fn a_disabled_user_is_logged_out_at_once_and_cannot_log_in() {
    let h = TestHome::new().await;
    let admin = h.login("admin").await;
    let laptop = h.login("olena").await;
    let phone = h.login("olena").await;
    let kenji = h.login("kenji").await;
    let r = h
        .post(
            "/admin/users/olena/disable",
            Some(&admin),
            &format!("csrf={}", admin.csrf),
        )
        .await;
    assert_eq!((r.status, r.location.as_str()), (303, "/admin"));
    for s in [&laptop, &phone] {
        let r = h.get("/runs", Some(s)).await;
        assert_eq!((r.status, r.location.as_str()), (303, "/login"));
        let r = h
            .post("/lang", Some(s), &format!("csrf={}&lang=uk", s.csrf))
            .await;
        assert_eq!(r.status, 401);
    }
    assert_eq!(
        h.get("/runs", Some(&kenji)).await.status,
        200,
        "others stay"
    );
    // The right password says the account is disabled; a wrong one says nothing more.
    let r = h.try_login("olena", "olena-password").await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("This account is disabled"), "{}", r.body);
    assert!(!r.set_cookie.iter().any(|c| c.starts_with("kobo_session=")));
    let r = h.try_login("olena", "not-her-password").await;
    assert_eq!(r.status, 401);
    assert!(!r.body.contains("disabled"));
    let page = h.get("/admin", Some(&admin)).await;
    assert!(
        page.body
            .contains("<tr id=\"user-olena\" class=\"disabled\">"),
        "{}",
        page.body
    );
    // Enabled again, she logs in with her password.
    let r = h
        .post(
            "/admin/users/olena/enable",
            Some(&admin),
            &format!("csrf={}", admin.csrf),
        )
        .await;
    assert_eq!(r.status, 303);
    let again = h.login("olena").await;
    assert_eq!(h.get("/runs", Some(&again)).await.status, 200);
    assert_eq!(
        h.audited("user.disable").await,
        [(
            "admin".into(),
            "olena".into(),
            Some("2 session(s) ended".into())
        )]
    );
    assert_eq!(h.audited("user.enable").await.len(), 1);
}

#[tokio::test]
async fn a_reset_password_replaces_the_old_one_and_ends_sessions() {
    let h = TestHome::new().await;
    let admin = h.login("admin").await;
    let kenji = h.login("kenji").await;
    let reset = |pw: &str| {
        let form = format!("csrf={}&password={pw}", admin.csrf);
        let h = &h;
        let admin = &admin;
        async move {
            h.post("/admin/users/kenji/password", Some(admin), &form)
                .await
        }
    };
    let r = reset("short").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("at least 10 characters"), "{}", r.body);
    assert_eq!(h.get("/runs", Some(&kenji)).await.status, 200);
    assert_eq!(reset("kenji-new-password").await.status, 303);
    assert_eq!(h.get("/runs", Some(&kenji)).await.status, 303, "logged out");
    assert_eq!(h.try_login("kenji", "kenji-password").await.status, 401);
    let k = h.login_with("kenji", "kenji-new-password").await;
    assert_eq!(h.get("/runs", Some(&k)).await.status, 200);
    let audited = h.audited("user.password").await;
    assert_eq!(audited, [("admin".into(), "kenji".into(), None)]);
    let log: String =
        sqlx::query_scalar("SELECT group_concat(coalesce(detail, ''), '|') FROM audit")
            .fetch_one(h.state.records.pool())
            .await
            .unwrap();
    assert!(!log.contains("kenji-new-password"), "a password in the log");
}

#[tokio::test]
async fn the_last_admin_cannot_demote_or_disable_themself() {
    let h = TestHome::new().await;
    let admin = h.login("admin").await;
    let post = |path: &str, form: &str| {
        let path = path.to_string();
        let form = format!("csrf={}&{form}", admin.csrf);
        let h = &h;
        let admin = &admin;
        async move { h.post(&path, Some(admin), &form).await }
    };
    for (path, form) in [
        ("/admin/users/admin/role", "role=reviewer"),
        ("/admin/users/admin/disable", ""),
    ] {
        let r = post(path, form).await;
        assert_eq!(r.status, 409, "{path}");
        assert!(
            r.body.contains("admin is the only active admin"),
            "{}",
            r.body
        );
    }
    assert_eq!(h.get("/admin", Some(&admin)).await.status, 200);
    assert_eq!(h.count("audit").await, 0);
    // With a second admin, the first may step down; the second is then the last.
    assert_eq!(
        post("/admin/users/kenji/role", "role=admin").await.status,
        303
    );
    let kenji = h.login("kenji").await;
    assert_eq!(
        post("/admin/users/admin/role", "role=reviewer")
            .await
            .status,
        303
    );
    assert_eq!(h.get("/admin", Some(&admin)).await.status, 403);
    let r = h
        .post(
            "/admin/users/kenji/disable",
            Some(&kenji),
            &format!("csrf={}", kenji.csrf),
        )
        .await;
    assert_eq!(r.status, 409);
    // A disabled admin does not count as one.
    assert_eq!(
        h.post(
            "/admin/users/admin/role",
            Some(&kenji),
            &format!("csrf={}&role=admin", kenji.csrf)
        )
        .await
        .status,
        303
    );
    assert_eq!(
        h.post(
            "/admin/users/admin/disable",
            Some(&kenji),
            &format!("csrf={}", kenji.csrf)
        )
        .await
        .status,
        303
    );
    let r = h
        .post(
            "/admin/users/kenji/role",
            Some(&kenji),
            &format!("csrf={}&role=reviewer", kenji.csrf),
        )
        .await;
    assert_eq!(r.status, 409);
}

#[tokio::test]
async fn the_admin_sees_every_client_and_its_rates() {
    let h = TestHome::new().await;
    std::fs::create_dir_all(h.home().join("inbox/beta/order-entry")).unwrap();
    let admin = h.login("admin").await;
    let page = h.get("/admin", Some(&admin)).await;
    assert_eq!(page.status, 200);
    let b = &page.body;
    // acme: a client user, a rate; sakura: a client user, no rate; beta: only an inbox folder.
    for expected in [
        "id=\"client-acme\"",
        "id=\"client-sakura\"",
        "id=\"client-beta\"",
        "¥500",
        "¥20",
        "order-entry",
        "inbox/beta/",
        "runs cannot be approved until a rate is added",
        "Where the rates are kept",
        "per_ok_row: 20",
    ] {
        assert!(b.contains(expected), "admin page lacks {expected}: {b}");
    }
    // The page escapes `/` as minijinja does.
    let path = h.home().join("rates.yaml").display().to_string();
    assert!(
        b.contains(&path.replace('/', "&#x2f;")),
        "the rates file's path is shown"
    );
    let acme =
        &b[b.find("id=\"client-acme\"").unwrap()..b.find("id=\"client-beta\"").unwrap_or(b.len())];
    assert!(!acme.contains("cannot be approved"), "acme has a rate");
}

#[tokio::test]
async fn error_pages_roles_and_statuses_speak_the_users_language() {
    let h = TestHome::new().await;
    let olena = h.login("olena").await;
    let r = h
        .get_lang("/admin", Some(&olena), Some("uk-UA,uk;q=0.9"))
        .await;
    assert_eq!(r.status, 403);
    assert!(
        r.body.contains("Немає доступу")
            && r.body.contains("У вас немає доступу до цієї сторінки."),
        "{}",
        r.body
    );
    let r = h.get_lang("/admin", Some(&olena), Some("ja")).await;
    assert!(r.body.contains("アクセスできません"), "{}", r.body);
    // Her chosen language wins over the browser's.
    assert_eq!(
        h.post(
            "/lang",
            Some(&olena),
            &format!("csrf={}&lang=uk", olena.csrf)
        )
        .await
        .status,
        303
    );
    let r = h
        .post("/admin/users", Some(&olena), "name=x&role=admin&password=x")
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Форма застаріла"), "{}", r.body);
    let page = h
        .get_lang(&format!("/runs/{}", h.runs[0]), Some(&olena), None)
        .await;
    assert!(page.body.contains("olena · стажист"), "{}", page.body);
    assert!(page.body.contains("<dd>завершено</dd>"), "{}", page.body);
    // Unknown users and the last admin, in Japanese.
    let admin = h.login("admin").await;
    let r = h
        .get_lang("/runs/not-a-run", Some(&admin), Some("ja"))
        .await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("見つかりません"), "{}", r.body);
    let req = Request::post("/admin/users/admin/disable")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, &admin.cookie)
        .header(header::ACCEPT_LANGUAGE, "ja")
        .body(Body::from(format!("csrf={}", admin.csrf)))
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.status, 409);
    assert!(
        r.body.contains("admin は唯一の有効な管理者です"),
        "{}",
        r.body
    );
    let page = h.get_lang("/admin", Some(&admin), Some("ja")).await;
    assert!(page.body.contains("admin · 管理者") && page.body.contains("レビュー担当"));
}

/// An error page is a page of the site: the same layout, the user's language, and, for
/// someone logged in, their menu and their name.
#[tokio::test]
async fn error_pages_have_the_layout_and_menu_of_every_page() {
    let h = TestHome::new().await;
    let olena = h.login("olena").await;
    assert_eq!(
        h.post(
            "/lang",
            Some(&olena),
            &format!("csrf={}&lang=uk", olena.csrf)
        )
        .await
        .status,
        303
    );
    for (path, status, title, message) in [
        (
            "/admin",
            403,
            "Немає доступу",
            "У вас немає доступу до цієї сторінки.",
        ),
        ("/no/such/page", 404, "Не знайдено", "Тут нічого немає."),
        ("/runs/not-a-run", 404, "Не знайдено", "Тут нічого немає."),
    ] {
        let r = h.get_lang(path, Some(&olena), Some("ja")).await;
        assert_eq!(r.status, status, "GET {path}");
        assert!(
            r.content_type.starts_with("text/html"),
            "{}",
            r.content_type
        );
        for part in [
            "<html lang=\"uk\">",
            "<link rel=\"stylesheet\" href=\"/static/style.css\">",
            &format!("<title>{status} · kobo</title>"),
            "<a href=\"/runs\">Мої запуски</a><a href=\"/ledger\">Мої виплати</a>",
            "olena · стажист",
            "<button class=\"link\" id=\"logout\">Вийти</button>",
            &format!("<h1>{title}</h1>"),
            &format!("<p class=\"error\">{message}</p>"),
        ] {
            assert!(
                r.body.contains(part),
                "GET {path}: no {part:?} in\n{}",
                r.body
            );
        }
        assert!(
            r.body.contains(&format!("value=\"{}\"", olena.csrf)),
            "the menu's forms carry the token"
        );
    }
    // Nobody logged in: the browser's language, no menu.
    let r = h.get_lang("/no/such/page", None, Some("ja")).await;
    assert_eq!(r.status, 404);
    assert!(
        r.body.contains("<html lang=\"ja\">")
            && r.body.contains("<h1>見つかりません</h1>")
            && r.body.contains("<header class=\"top\">")
            && !r.body.contains("<nav>"),
        "{}",
        r.body
    );
    // A request that is not a page (a form sent without logging in): 401, still a page.
    let r = h.post("/lang", None, "lang=uk").await;
    assert_eq!(r.status, 401);
    assert!(
        r.body.contains("<html lang=\"en\">") && r.body.contains("<h1>Please log in</h1>"),
        "{}",
        r.body
    );
}

/// A trainee promoted to reviewer still cannot approve her own earlier runs, however her name
/// was written in the run's record (runs recorded before workflows had to use the exact user
/// name may say `Olena` for the user `olena`).
#[tokio::test]
async fn a_trainee_promoted_to_reviewer_cannot_approve_her_own_runs() {
    let h = TestHome::new().await;
    let admin = h.login("admin").await;
    let olena = h.login("olena").await;
    let r = h
        .post(
            "/admin/users/olena/role",
            Some(&admin),
            &format!("csrf={}&role=reviewer&client=", admin.csrf),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    sqlx::query("UPDATE runs SET trainee = 'Olena' WHERE id = $1")
        .bind(&h.runs[1])
        .execute(h.state.records.pool())
        .await
        .unwrap();
    for id in &h.runs {
        let r = h
            .post(&approve(id), Some(&olena), &format!("csrf={}", olena.csrf))
            .await;
        assert_eq!(r.status, 403, "olena approves her run {id}: {}", r.body);
        let r = h
            .post(
                &reject(id),
                Some(&olena),
                &format!("csrf={}&comment=fine", olena.csrf),
            )
            .await;
        assert_eq!(r.status, 403, "olena rejects her run {id}: {}", r.body);
    }
    assert_eq!(h.count("reviews").await, 0, "a review was recorded");
    assert_eq!(h.count("ledger").await, 0, "a credit was recorded");
    assert_eq!(h.count("deliveries").await, 0, "a delivery was recorded");
    assert!(h.outbox("acme").is_empty(), "a file was delivered");
    // Another reviewer may reject it; approving waits until the credit has a trainee to go
    // to (she is a reviewer now: the admin decides).
    let kenji = h.login("kenji").await;
    let r = h
        .post(
            &approve(&h.runs[1]),
            Some(&kenji),
            &format!("csrf={}", kenji.csrf),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("“Olena” is a reviewer, not a trainee"),
        "{}",
        r.body
    );
    let r = h
        .post(
            &reject(&h.runs[1]),
            Some(&kenji),
            &format!("csrf={}&comment=redo", kenji.csrf),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
}

/// A multipart upload of `content` as `file_name` for `workflow`, as this user.
fn upload_request(login: &Login, workflow: &str, file_name: &str, content: &[u8]) -> Request<Body> {
    let boundary = "XyZ-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"workflow\"\r\n\r\n{workflow}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
        csrf = login.csrf
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request::post("/client/upload")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::COOKIE, &login.cookie)
        .body(Body::from(body))
        .unwrap()
}

/// Every file under `dir` (but the records database), relative to it.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if !p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("records.db")
            {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// What an upload may not do: go over the inbox's size limit (413, a page that says the
/// limit), name a place outside the inbox, carry a name the file system cannot hold (not a
/// 500), or be a file the inbox would refuse. Each is refused and writes nothing anywhere.
#[tokio::test]
async fn uploads_that_cannot_go_into_the_inbox_are_refused() {
    let h = TestHome::new().await;
    let sato = h.login("sato").await;
    std::fs::create_dir_all(h.home().join("inbox/acme/invoice-report")).unwrap();
    let before = files_under(h.home());
    let csv = b"a,b\r\n1,2".to_vec();
    let limit = common::UPLOAD_LIMIT as usize;
    let long = format!("{}.csv", "請".repeat(86)); // 262 bytes
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "too large",
            "invoices.csv",
            vec![b'1'; limit + 1],
            413,
            "larger than 1 MB",
        ),
        (
            "a folder part",
            "../../x.csv",
            csv.clone(),
            400,
            "not a file name",
        ),
        (
            "a Windows folder part",
            "..\\..\\x.csv",
            csv.clone(),
            400,
            "not a file name",
        ),
        ("a slash", "acme/x.csv", csv.clone(), 400, "not a file name"),
        (
            "a tab",
            "in\tvoices.csv",
            csv.clone(),
            400,
            "not a file name",
        ),
        // The form parser itself refuses other control characters in a header.
        (
            "a control character",
            "in\u{7}voices.csv",
            csv.clone(),
            400,
            "<small>400</small>",
        ),
        ("a dot file", ".x.csv", csv.clone(), 400, "not a file name"),
        (
            "too long a name",
            &long,
            csv.clone(),
            400,
            "longer than 200 bytes",
        ),
        (
            "not a spreadsheet",
            "scan.pdf",
            b"%PDF-1.4".to_vec(),
            400,
            "“scan.pdf” is not one",
        ),
        (
            "no extension",
            "invoices",
            csv.clone(),
            400,
            "is not one of them",
        ),
    ];
    for (what, name, content, status, says) in &cases {
        let r = h
            .send(upload_request(&sato, "invoice-report", name, content))
            .await;
        assert_eq!(r.status, *status, "{what}: {}", r.body);
        assert!(r.body.contains(says), "{what}: {}", r.body);
        assert_eq!(files_under(h.home()), before, "{what} wrote a file");
    }
    // A file of exactly the limit is taken.
    let r = h
        .send(upload_request(
            &sato,
            "invoice-report",
            "big.csv",
            &vec![b'1'; limit],
        ))
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // Who may upload is decided before the body is read: a trainee's large upload is
    // refused as not hers to make, not as too large.
    let olena = h.login("olena").await;
    let r = h
        .send(upload_request(
            &olena,
            "invoice-report",
            "x.csv",
            &vec![b'1'; limit + 1],
        ))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = h
        .send(upload_request(
            &Login {
                cookie: String::new(),
                csrf: String::new(),
            },
            "invoice-report",
            "x.csv",
            &vec![b'1'; limit + 1],
        ))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(files_under(h.home()).len(), before.len() + 1);
}

/// The admin adds users in the dashboard: the new user can log in at once and lands on the
/// pages of their role. A client user's client must be one kobo knows (a typo would make a
/// client with no workflows, inbox or rates); the refusal lists the known ones.
#[tokio::test]
async fn the_admin_adds_users_who_can_log_in() {
    let h = TestHome::new().await;
    let admin = h.login("admin").await;
    let add = |form: &str| {
        let form = format!("csrf={}&{form}", admin.csrf);
        let (h, admin) = (&h, &admin);
        async move { h.post("/admin/users", Some(admin), &form).await }
    };
    let r = add("name=mariia&role=trainee&client=&password=mariia-secret-1").await;
    assert_eq!(
        (r.status, r.location.as_str()),
        (303, "/admin"),
        "{}",
        r.body
    );
    let mariia = h.login_with("mariia", "mariia-secret-1").await;
    let page = h.get("/runs", Some(&mariia)).await;
    assert!(page.body.contains("mariia · trainee"), "{}", page.body);

    let users = h.count("users").await;
    let r = add("name=tanaka&role=client&client=acmee&password=tanaka-secret-1").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("“acmee”") && r.body.contains("Known clients: acme."),
        "{}",
        r.body
    );
    assert_eq!(h.count("users").await, users, "no user added");
    assert_eq!(
        h.try_login("tanaka", "tanaka-secret-1").await.status,
        401,
        "tanaka does not exist"
    );

    let r = add("name=tanaka&role=client&client=acme&password=tanaka-secret-1").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let tanaka = h.login_with("tanaka", "tanaka-secret-1").await;
    let page = h.get("/client", Some(&tanaka)).await;
    assert!(page.body.contains("<h1>acme</h1>"), "{}", page.body);
    assert_eq!(
        h.audited("user.add")
            .await
            .into_iter()
            .map(|(_, who, _)| who)
            .collect::<Vec<_>>(),
        ["mariia", "tanaka"]
    );
}

/// A mistake in rates.yaml stops approval with a page that says which file, which line and
/// what is wrong (not a 500); nothing is delivered or credited, and the admin page shows the
/// same problem.
#[tokio::test]
async fn a_broken_rates_file_is_named_with_its_line() {
    let h = TestHome::new().await;
    std::fs::write(
        h.home().join("rates.yaml"),
        "rates:\n  - client: acme\n    per_rn: 500\n",
    )
    .unwrap();
    let kenji = h.login("kenji").await;
    let r = h
        .post(
            &approve(&h.runs[0]),
            Some(&kenji),
            &format!("csrf={}", kenji.csrf),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    // Error pages are escaped like every page (minijinja writes `/` as `&#x2f;`).
    let path = h
        .home()
        .join("rates.yaml")
        .display()
        .to_string()
        .replace('/', "&#x2f;");
    for expected in [
        path.as_str(),
        "on line 3",
        "unknown field `per_rn`",
        "Ask the admin",
    ] {
        assert!(r.body.contains(expected), "lacks {expected}: {}", r.body);
    }
    h.assert_nothing_changed().await;
    let admin = h.get("/admin", Some(&h.login("admin").await)).await;
    assert!(
        admin.body.contains("on line 3") && admin.body.contains("unknown field `per_rn`"),
        "{}",
        admin.body
    );
}

/// The run page and the monthly statement speak the reader's language: log times in Japan
/// time like every other time, no English words left in Japanese; the statement's headings
/// in Ukrainian for a Ukrainian reader. A statement for a name that is not a user's is refused
/// (it would go into the download's file name).
#[tokio::test]
async fn run_page_and_statement_in_the_readers_language() {
    let h = TestHome::new().await;
    let id = &h.runs[0];
    let kenji = h.login("kenji").await;
    let page = h
        .get_lang(&format!("/runs/{id}"), Some(&kenji), Some("ja"))
        .await;
    assert_eq!(page.status, 200);
    let run = h.state.records.find(id).await.unwrap();
    let log = std::fs::read_to_string(h.home().join(&run.folder).join("log.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    let utc = chrono::DateTime::parse_from_rfc3339(first["time"].as_str().unwrap()).unwrap();
    let jst = utc.with_timezone(&runner::payout::jst()).format("%H:%M:%S");
    let pre = &page.body[page.body.find("<pre class=\"log\">").unwrap()..];
    assert!(pre.contains(&format!(">{jst} ")), "{pre}");
    assert!(
        !pre.contains(&format!(">{} ", utc.format("%H:%M:%S"))),
        "{pre}"
    );
    assert!(page.body.contains("<dt>実行</dt>"), "{}", page.body);
    for english in ["<dt>Run</dt>", "[row ", ">line "] {
        assert!(!page.body.contains(english), "{english} in Japanese page");
    }
    assert!(
        log.contains("\"row\":") == pre.contains("行目]"),
        "rows in the log are shown as 行目"
    );

    let r = h
        .post(&approve(id), Some(&kenji), &format!("csrf={}", kenji.csrf))
        .await;
    assert_eq!(r.status, 303);
    let month = chrono::Utc::now()
        .with_timezone(&runner::payout::jst())
        .format("%Y-%m")
        .to_string();
    let olena = h.login("olena").await;
    let got = h
        .get_lang(&format!("/ledger/{month}.xlsx"), Some(&olena), Some("uk"))
        .await;
    assert_eq!(got.status, 200);
    let file = h.home().join("statement.xlsx");
    std::fs::write(&file, &got.bytes).unwrap();
    let table = runner::sheet::read_table(&file, &Default::default()).unwrap();
    assert_eq!(table.columns[0], "зараховано");
    assert_eq!(table.columns[7], "сума (єн)");
    assert_eq!(table.rows.last().unwrap()[0].to_string(), "разом");

    let admin = h.login("admin").await;
    for bad in ["x%22%3B%20filename%3Devil.exe", "..%2F..%2Fx", "Olena"] {
        let r = h
            .get(&format!("/ledger/{month}.xlsx?trainee={bad}"), Some(&admin))
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    let r = h
        .get(&format!("/ledger/{month}.xlsx?trainee=olena"), Some(&admin))
        .await;
    assert_eq!(r.status, 200);
}

/// After choosing a language the browser goes back to a page of this site only: never to
/// another host, however the address is disguised (`//`, a backslash, a tab browsers drop).
#[tokio::test]
async fn the_language_form_goes_back_only_to_a_local_page() {
    let h = TestHome::new().await;
    let olena = h.login("olena").await;
    for (back, to) in [
        ("%2Fruns%3Fview%3Dall", "/runs?view=all"),
        ("%2Fledger", "/ledger"),
        ("%2F%5Cevil.com", "/"),
        ("%2F%2Fevil.com", "/"),
        ("%2F%09%2Fevil.com", "/"),
        ("https%3A%2F%2Fevil.com", "/"),
        ("%5C%5Cevil.com", "/"),
        ("", "/"),
    ] {
        let r = h
            .post(
                "/lang",
                Some(&olena),
                &format!("csrf={}&lang=uk&back={back}", olena.csrf),
            )
            .await;
        assert_eq!((r.status, r.location.as_str()), (303, to), "back={back}");
    }
}

/// The run page lists every row with its result (failed and skipped ones marked, a count
/// above), and links to files by their encoded names, which then download.
#[tokio::test]
async fn the_run_page_lists_every_row_and_links_files_safely() {
    let h = TestHome::new().await;
    let id = &h.runs[0];
    let run = h.state.records.find(id).await.unwrap();
    // A saved page with characters that mean something in a URL.
    let name = "a b#1?x=%.html";
    let dir = h.home().join(&run.folder).join("pages");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), "<p>saved</p>").unwrap();
    h.state
        .records
        .add_artifact(
            &run.id,
            &runner::record::Artifact {
                kind: "page".into(),
                name: name.into(),
                path: format!("pages/{name}"),
                bytes: 12,
                sha256: "x".into(),
            },
        )
        .await
        .unwrap();
    let kenji = h.login("kenji").await;
    let page = h.get(&format!("/runs/{id}"), Some(&kenji)).await;
    let encoded = "pages&#x2f;a%20b%231%3Fx%3D%25.html";
    assert!(page.body.contains(encoded), "{}", page.body);
    let file = h
        .get(
            &format!("/runs/{id}/files/pages/a%20b%231%3Fx%3D%25.html"),
            Some(&kenji),
        )
        .await;
    assert_eq!((file.status, file.body.as_str()), (200, "<p>saved</p>"));

    // Rows that need a look each have a line; the ok ones are counted and named compactly.
    let rows = &page.body[page.body.find("rows-table").unwrap()..];
    let table = &rows[..rows.find("</table>").unwrap()];
    assert_eq!(table.matches("<tr class=\"ok\">").count(), 0, "{table}");
    assert_eq!(table.matches("<tr class=\"failed\">").count(), 1, "{table}");
    assert_eq!(
        table.matches("<tr class=\"skipped\">").count(),
        1,
        "{table}"
    );
    let ok = &rows[rows.find("id=\"ok-rows\"").unwrap()..rows.find("</details>").unwrap()];
    assert!(ok.contains("10 rows ok"), "{ok}");
    for n in 1..=12 {
        let named = ok.contains(&format!("invoices #{n}<"));
        assert_eq!(named, n != 3 && n != 9, "row {n} in {ok}");
    }
    assert!(
        page.body.contains("12 rows: 1 failed, 1 skipped."),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_symbolic_link_in_a_run_folder_is_never_followed_out_of_it() {
    let h = TestHome::new().await;
    let kenji = h.login("kenji").await;
    let (a, b) = (&h.runs[0], &h.runs[1]);
    let records = &h.state.records;
    let folder_of = |id: &str| {
        let id = runner::RunId(id.to_string());
        async move { records.get(&id).await.unwrap().unwrap().folder }
    };
    let (fa, fb) = (folder_of(a).await, folder_of(b).await);
    let ours = h.home().join(&fa).join("input/invoices.csv");
    let other = h.home().join(&fb).join("input/invoices.csv");
    std::fs::write(&other, "請求書番号\nanother run's secret row\n").unwrap();
    for target in [std::path::Path::new("/etc/passwd"), other.as_path()] {
        std::fs::remove_file(&ours).unwrap();
        std::os::unix::fs::symlink(target, &ours).unwrap();
        let r = h
            .get(&format!("/runs/{a}/files/input/invoices.csv"), Some(&kenji))
            .await;
        assert_eq!(r.status, 404, "{}", target.display());
        assert!(
            !r.body.contains("root:") && !r.body.contains("secret row"),
            "{} leaked",
            target.display()
        );
    }
    // The other run's own file is still served from its own folder.
    let r = h
        .get(&format!("/runs/{b}/files/input/invoices.csv"), Some(&kenji))
        .await;
    assert_eq!(r.status, 200);
}

/// The page of a refused login with the parts that differ per attempt (the one-off form
/// token, the name typed) taken out.
fn login_page_shape(body: &str, name: &str) -> String {
    let token = common::hidden(body, "csrf");
    body.replace(&token, "TOKEN")
        .replace(&format!("value=\"{name}\""), "value=\"NAME\"")
}

#[tokio::test]
async fn logins_are_refused_after_five_failures_for_a_name_known_or_not() {
    let h = TestHome::new().await;
    let mut locked = Vec::new();
    for name in ["olena", "nobody"] {
        for _ in 0..5 {
            let r = h.try_login(name, "wrong-password").await;
            assert_eq!(r.status, 401, "{name}: {}", r.body);
        }
        // Refused before the password is looked at: the right one does not help.
        let r = h.try_login(name, &common::password(name)).await;
        assert_eq!(r.status, 429, "{name}: {}", r.body);
        assert!(
            r.body
                .contains("Too many attempts; try again in 15 minutes."),
            "{}",
            r.body
        );
        assert!(!r.set_cookie.iter().any(|c| c.starts_with("kobo_session=")));
        locked.push(login_page_shape(&r.body, name));
    }
    // A known name and an unknown one get the same answer.
    assert_eq!(locked[0], locked[1]);
    for (lang, text) in [
        (
            "ja",
            "ログインの試行が多すぎます。15 分後にもう一度お試しください。",
        ),
        ("uk", "Забагато спроб; спробуйте знову через 15 хв."),
    ] {
        let r = h
            .try_login_from(None, &[("accept-language", lang)], "olena", "x")
            .await;
        assert_eq!(r.status, 429);
        assert!(r.body.contains(text), "{lang}: {}", r.body);
    }
    // Other users are not locked out.
    h.login("taras").await;
    let lockouts: Vec<String> = h
        .audited("login.lockout")
        .await
        .into_iter()
        .map(|(_, target, _)| target)
        .collect();
    assert_eq!(lockouts, ["olena", "nobody"]);
    // A restarted dashboard (or a second one on the same records) still refuses.
    let again = TestHome {
        app: dashboard::app(h.state.clone()),
        ..h
    };
    assert_eq!(again.try_login("olena", "olena-password").await.status, 429);
    // Fifteen minutes later she logs in.
    sqlx::query("UPDATE login_attempts SET at_ms = at_ms - 15 * 60 * 1000")
        .execute(again.state.records.pool())
        .await
        .unwrap();
    again.login("olena").await;
}

#[tokio::test]
async fn a_successful_login_forgets_the_failures_before_it() {
    let h = TestHome::new().await;
    for _ in 0..2 {
        for _ in 0..4 {
            assert_eq!(h.try_login("olena", "typo-password").await.status, 401);
        }
        h.login("olena").await;
    }
}

#[tokio::test]
async fn logins_from_one_address_are_refused_after_twenty_failures() {
    // A real server: the address is the connection's, and X-Forwarded-For (which any
    // browser can send) is ignored.
    let h = TestHome::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(dashboard::serve(listener, h.state.clone(), async {
        let _ = stopped.await;
    }));
    for i in 0..20 {
        let forged = format!("198.51.100.{i}");
        let (status, answer) = common::http_login(
            addr,
            &[("X-Forwarded-For", &forged)],
            &format!("guess{i}"),
            "wrong-password",
        )
        .await;
        assert_eq!(status, 401, "{answer}");
    }
    let (status, answer) = common::http_login(addr, &[], "olena", "olena-password").await;
    assert_eq!(status, 429, "{answer}");
    assert!(answer.contains("Too many attempts"), "{answer}");
    assert!(answer.contains("retry-after: "), "{answer}");
    let lockouts = h.audited("login.lockout").await;
    assert_eq!(lockouts.len(), 1, "{lockouts:?}");
    assert_eq!(lockouts[0].1, "127.0.0.1");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn behind_a_proxy_the_address_is_the_forwarded_one_only_when_trusted() {
    let proxy: std::net::SocketAddr = "10.0.0.1:40000".parse().unwrap();
    // An https proxy whose header is not trusted: every connection is the proxy's, so failed
    // logins are counted per name only, and one guesser does not lock everybody out.
    let mut h = TestHome::new().await;
    h.state.secure_cookies = true;
    h.app = dashboard::app(h.state.clone());
    for i in 0..25 {
        let r = h
            .try_login_from(Some(proxy), &[], &format!("guess{i}"), "wrong")
            .await;
        assert_eq!(r.status, 401);
    }
    let r = h
        .try_login_from(Some(proxy), &[], "olena", "olena-password")
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // A trusted proxy: the address it added (the last one) counts, not what the browser sent.
    let mut h = TestHome::new().await;
    h.state.secure_cookies = true;
    h.state.trust_forwarded_for = true;
    h.app = dashboard::app(h.state.clone());
    for i in 0..20 {
        let forged = format!("192.0.2.{i}, 203.0.113.7");
        let r = h
            .try_login_from(
                Some(proxy),
                &[("x-forwarded-for", &forged)],
                &format!("guess{i}"),
                "wrong",
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let from = |a: &'static str| [("x-forwarded-for", a)];
    let r = h
        .try_login_from(Some(proxy), &from("203.0.113.7"), "olena", "olena-password")
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    let r = h
        .try_login_from(
            Some(proxy),
            &from("198.51.100.2"),
            "olena",
            "olena-password",
        )
        .await;
    assert_eq!(
        r.status, 303,
        "another browser behind the proxy: {}",
        r.body
    );
}

#[tokio::test]
async fn a_trainees_filters_list_only_her_own_workflows() {
    let h = TestHome::new().await;
    h.run_as("taras", "taras-roster").await;
    let olena = h.login("olena").await;
    for path in ["/runs", "/runs?view=all", "/runs?workflow=taras-roster"] {
        let page = h.get(path, Some(&olena)).await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("<option>invoice-report</option>"),
            "{}",
            page.body
        );
        for other in ["taras-roster", "taras"] {
            assert!(
                !page.body.contains(other),
                "{path} shows {other}: {}",
                page.body
            );
        }
    }
    // A reviewer's filters list every workflow and trainee.
    let kenji = h.login("kenji").await;
    let page = h.get("/runs?view=all", Some(&kenji)).await;
    for v in ["invoice-report", "taras-roster", "taras", "olena"] {
        assert!(page.body.contains(&format!("<option>{v}</option>")), "{v}");
    }
}

#[tokio::test]
async fn a_run_whose_author_is_no_known_trainee_is_held_for_the_admin() {
    let h = TestHome::new().await;
    let ghost = h.run_as("ghost", "invoice-report").await;
    let by_client = h.run_as("sato", "invoice-report").await;
    let kenji = h.login("kenji").await;
    let form = format!("csrf={}", kenji.csrf);
    let r = h.post(&approve(&ghost), Some(&kenji), &form).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body
            .contains("The workflow&#x27;s author “ghost” is not a known trainee")
            && r.body
                .contains("held for the admin: add ghost as a trainee")
            && r.body.contains("or fix author: in the workflow"),
        "{}",
        r.body
    );
    let r = h.post(&approve(&by_client), Some(&kenji), &form).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("“sato” is a client, not a trainee"),
        "{}",
        r.body
    );
    h.assert_nothing_changed().await;

    // The list marks them; their page says why instead of offering to approve.
    let list = h.get("/runs", Some(&kenji)).await;
    assert_eq!(
        list.body.matches("held for the admin").count(),
        2,
        "{}",
        list.body
    );
    let page = h.get(&format!("/runs/{ghost}"), Some(&kenji)).await;
    assert!(page.body.contains("id=\"held\""), "{}", page.body);
    assert!(!page.body.contains("id=\"approve\""));
    let page = h.get(&format!("/runs/{}", h.runs[0]), Some(&kenji)).await;
    assert!(page.body.contains("id=\"approve\"") && !page.body.contains("id=\"held\""));

    // Once the admin adds her, the run is approved and she is credited.
    runner::user::add(
        h.state.records.pool(),
        "ghost",
        Role::Trainee,
        None,
        "ghost-password",
    )
    .await
    .unwrap();
    let r = h.post(&approve(&ghost), Some(&kenji), &form).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let credited: Vec<String> = sqlx::query_scalar("SELECT trainee FROM ledger")
        .fetch_all(h.state.records.pool())
        .await
        .unwrap();
    assert_eq!(credited, ["ghost"]);
}

/// A learning group: olena leads it, taras is in it. Olena sees taras's runs and gives them a
/// first review (advice: nothing is decided, delivered or paid by it); she cannot rerun them,
/// nor review her own; a reviewer sees the review; a client sees no group.
#[tokio::test]
async fn a_senior_gives_a_first_review_of_her_juniors_runs_and_decides_nothing() {
    let h = TestHome::new().await;
    let pool = h.state.records.pool();
    runner::group::create(pool, "lviv", "olena", "admin")
        .await
        .unwrap();
    runner::group::add_member(pool, "lviv", "taras", "admin")
        .await
        .unwrap();
    // A senior is not a member of her own group, and a trainee is in one group at most.
    assert!(
        runner::group::add_member(pool, "lviv", "olena", "admin")
            .await
            .is_err()
    );
    let junior_run = h.run_as("taras", "taras-report").await;
    let own_run = &h.runs[0];

    let olena = h.login("olena").await;
    let page = h.get("/groups", Some(&olena)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("taras") && page.body.contains(&junior_run),
        "{}",
        page.body
    );
    // She may open her junior's run, but not act on it as its trainee would.
    assert_eq!(
        h.get(&format!("/runs/{junior_run}"), Some(&olena))
            .await
            .status,
        200
    );
    let rerun = h
        .post(
            &format!("/runs/{junior_run}/rerun"),
            Some(&olena),
            &format!("csrf={}&rows=failed", olena.csrf),
        )
        .await;
    assert_eq!(rerun.status, 404, "a senior cannot rerun her junior's run");

    let review = |verdict: &str, comment: &str| {
        format!("csrf={}&verdict={verdict}&comment={comment}", olena.csrf)
    };
    let path = format!("/groups/runs/{junior_run}/first-review");
    assert_eq!(
        h.post(&path, Some(&olena), &review("needs_work", ""))
            .await
            .status,
        400,
        "\"needs work\" needs a comment"
    );
    let sent = h
        .post(&path, Some(&olena), &review("needs_work", "check+row+3"))
        .await;
    assert_eq!((sent.status, sent.location.as_str()), (303, "/groups"));
    let fr = runner::group::first_review_of(pool, &junior_run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (fr.senior.as_str(), fr.verdict, fr.comment.as_deref()),
        (
            "olena",
            runner::group::Verdict::NeedsWork,
            Some("check row 3")
        )
    );
    // Advice only: the run still awaits a reviewer, nothing delivered or credited.
    assert!(review_of(&h, &junior_run).await.is_none());
    assert!(h.outbox("acme").is_empty());
    assert_eq!(h.audited("run.first_review").await.len(), 1);

    // Not on her own run, nor on a run of someone outside her group.
    let own = h
        .post(
            &format!("/groups/runs/{own_run}/first-review"),
            Some(&olena),
            &review("looks_good", ""),
        )
        .await;
    assert_eq!(own.status, 404);
    let taras = h.login("taras").await;
    let not_senior = h
        .post(
            &format!("/groups/runs/{own_run}/first-review"),
            Some(&taras),
            &format!("csrf={}&verdict=looks_good", taras.csrf),
        )
        .await;
    assert_eq!(not_senior.status, 404);
    // The junior sees her group and the advice; a reviewer sees every group.
    let seen = h.get("/groups", Some(&taras)).await;
    assert!(seen.body.contains("check row 3"), "{}", seen.body);
    let kenji = h.login("kenji").await;
    assert!(h.get("/groups", Some(&kenji)).await.body.contains("lviv"));
    // Clients see no group.
    let sato = h.login("sato").await;
    assert_eq!(h.get("/groups", Some(&sato)).await.status, 403);

    // Once a reviewer decided, a first review is refused.
    let rejected = h
        .post(
            &reject(&junior_run),
            Some(&kenji),
            &format!("csrf={}&comment=row+3+is+wrong", kenji.csrf),
        )
        .await;
    assert!(rejected.status < 400, "{}", rejected.body);
    let late = h.post(&path, Some(&olena), &review("looks_good", "")).await;
    assert_eq!(late.status, 409);
    // What was learnt: the rejection's comment is on the group page.
    let lessons = h.get("/groups", Some(&taras)).await;
    assert!(lessons.body.contains("row 3 is wrong"), "{}", lessons.body);
}

async fn review_of(h: &TestHome, run: &str) -> Option<runner::Review> {
    runner::review::get(h.state.records.pool(), run)
        .await
        .unwrap()
}

/// The reviewer sees whether the version of the workflow that made a run passed its own test
/// cases (`kobo test` keeps the result by the workflow file's hash).
#[tokio::test]
async fn the_run_page_says_whether_the_workflows_version_passed_its_tests() {
    let h = TestHome::new().await;
    let id = &h.runs[0];
    let kenji = h.login("kenji").await;
    let before = h.get(&format!("/runs/{id}"), Some(&kenji)).await;
    assert!(
        before.body.contains("not run for this version"),
        "{}",
        before.body
    );
    let run = h
        .state
        .records
        .get(&runner::RunId(id.clone()))
        .await
        .unwrap()
        .unwrap();
    runner::bot_test::keep_result(
        &h.state.records,
        &runner::bot_test::TestRecord {
            workflow: run.workflow.clone(),
            workflow_hash: run.workflow_hash.clone(),
            cases: 2,
            passed: 1,
            failed_cases: vec!["october".into()],
            tested_at: chrono::Utc::now(),
        },
    )
    .await
    .unwrap();
    let after = h.get(&format!("/runs/{id}"), Some(&kenji)).await;
    assert!(
        after
            .body
            .contains("1 of 2 test cases passed at this version: october"),
        "{}",
        after.body
    );
}
