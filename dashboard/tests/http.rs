//! The dashboard over HTTP (no socket, `tower::ServiceExt::oneshot`): what each role may do,
//! and every way in that must be refused — with the right status, and nothing changed.

mod common;

use axum::body::Body;
use axum::http::{Request, header};
use common::{Login, TestHome};

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

#[tokio::test]
async fn each_role_sees_only_its_pages() {
    let h = TestHome::new().await;
    let id = &h.runs[0];
    let olena = h.login("olena").await;
    let sato = h.login("sato").await;
    let kenji = h.login("kenji").await;
    let cases: &[(&Login, &str, &str)] = &[
        (&olena, "GET", "/admin"),
        (&olena, "GET", "/client"),
        (&olena, "POST", "approve"),
        (&olena, "POST", "reject"),
        (&olena, "POST", "/admin/users"),
        (&sato, "GET", "/runs"),
        (&sato, "GET", "run"),
        (&sato, "GET", "file"),
        (&sato, "GET", "/ledger"),
        (&sato, "POST", "approve"),
        (&kenji, "GET", "/admin"),
        (&kenji, "GET", "/ledger"),
        (&kenji, "GET", "/client"),
        (&kenji, "GET", "/client/deliveries/x.xlsx"),
        (&kenji, "POST", "/admin/users"),
    ];
    for (who, method, what) in cases {
        let path = match *what {
            "approve" => approve(id),
            "reject" => reject(id),
            "run" => format!("/runs/{id}"),
            "file" => format!("/runs/{id}/files/input/invoices.csv"),
            p => p.to_string(),
        };
        let form = format!(
            "csrf={}&comment=ok&name=eve&role=admin&password=0123456789ab",
            who.csrf
        );
        let r = if *method == "GET" {
            h.get(&path, Some(who)).await
        } else {
            h.post(&path, Some(who), &form).await
        };
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
        assert!(
            !r.body.contains("SELECT") && !r.body.contains("Error {"),
            "{}",
            r.body
        );
    }
    h.assert_nothing_changed().await;
    // Each role's own pages work.
    assert_eq!(h.get("/runs", Some(&olena)).await.status, 200);
    assert_eq!(h.get("/ledger", Some(&olena)).await.status, 200);
    assert_eq!(h.get("/client", Some(&sato)).await.status, 200);
    assert_eq!(
        h.get(&format!("/runs/{id}"), Some(&kenji)).await.status,
        200
    );
    assert_eq!(
        h.get("/admin", Some(&h.login("admin").await)).await.status,
        200
    );
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
