//! The people's loop (issue 15), as each person meets it: the client's jobs in her words,
//! a duplicate upload told plainly, the trainee's rejected runs with what to do next, the
//! counts in the header, the admin's rates and roles with confirmations, deliveries in the
//! client's language, and e-mail notices through a real SMTP server on a local socket.

mod common;

use axum::body::Body;
use axum::http::{Request, header};
use common::{Login, TestHome, cookie_pair, repo};
use runner::client_lang::{self, ClientLang};
use runner::record::{RunEnd, RunRecord};
use runner::run::RowCounts;
use runner::{RunId, RunOptions, RunStatus, Workflow};
use std::sync::{Arc, Mutex};

/// A run of Acme's invoice report recorded in `status` (a job as the queue makes it).
async fn job(h: &TestHome, status: RunStatus, input: &str) -> RunId {
    let w = Workflow::load(&repo("workflows/invoice-report.yaml")).unwrap();
    let id = RunId::generate();
    let r = RunRecord::new(
        &id,
        &w,
        Some((input.to_string(), format!("hash-{id}"))),
        RunStatus::Queued,
        &format!("runs/{id}"),
    );
    h.state.records.insert(&r).await.unwrap();
    if status != RunStatus::Queued {
        h.state
            .records
            .set_status(&id, RunStatus::Running)
            .await
            .unwrap();
    }
    id
}

/// A GET with the session and another cookie (the admin page's confirmation).
async fn get_with(h: &TestHome, path: &str, login: &Login, extra: &str) -> common::Reply {
    let req = Request::get(path)
        .header(header::COOKIE, format!("{}; {extra}", login.cookie))
        .body(Body::empty())
        .unwrap();
    h.send(req).await
}

/// The text of the element with this id (its inner HTML up to the element's end tag).
fn section<'a>(body: &'a str, id: &str) -> &'a str {
    let start = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {body}"));
    let rest = &body[start..];
    let end = rest
        .find("</table>")
        .or_else(|| rest.find("</p>"))
        .unwrap_or(rest.len());
    &rest[..end]
}

#[tokio::test]
async fn a_client_sees_each_job_as_it_stands_in_her_language() {
    let h = TestHome::new().await;
    let queued = job(&h, RunStatus::Queued, "march.csv").await;
    let running = job(&h, RunStatus::Running, "april.csv").await;
    for row in [2, 3, 4] {
        sqlx::query(
            "INSERT INTO run_row_progress (run_id, place, tbl, source_row, state, attempt, updated_at)
             VALUES ($1, $2, 'invoices', $3, 'ok', 1, '2026-01-01T00:00:00+00:00')",
        )
        .bind(&running.0)
        .bind(format!("invoices#1@{row}"))
        .bind(row as i64)
        .execute(h.state.records.pool())
        .await
        .unwrap();
    }
    let unreadable = job(&h, RunStatus::Running, "may.csv").await;
    h.state
        .records
        .finish(
            &unreadable,
            &RunEnd::failed(
                "the file `may.csv` has no column `金額`; the columns are 請求書番号, 取引先\nat runner/src/sheet.rs:12",
                "reading input `invoices`",
                RowCounts::default(),
                1,
            ),
        )
        .await
        .unwrap();
    let stopped = job(&h, RunStatus::Running, "june.csv").await;
    h.state
        .records
        .finish(
            &stopped,
            &RunEnd::failed(
                "element not found: label `金額` (waited 10 s) in fantoccini::error::CmdError",
                "#4.2 fill \"金額\" (line 14)",
                RowCounts::default(),
                1,
            ),
        )
        .await
        .unwrap();

    let sato = h.login("sato").await;
    let page = h.get_lang("/client", Some(&sato), Some("ja")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let jobs = section(&page.body, "jobs");
    let row = |id: &RunId| {
        section(jobs, &format!("job-{id}"))
            .split("</tr>")
            .next()
            .unwrap()
            .to_string()
    };
    assert!(row(&queued).contains("開始待ち"), "{}", row(&queued));
    let r = row(&running);
    assert!(
        r.contains("処理中") && r.contains("3 行まで処理済み"),
        "{r}"
    );
    let r = row(&unreadable);
    assert!(r.contains("停止しました"), "{r}");
    assert!(
        r.contains("ファイルを読み込めませんでした") && r.contains("金額"),
        "the reason says the file could not be read, and why: {r}"
    );
    assert!(!r.contains("sheet.rs"), "no internals: {r}");
    let r = row(&stopped);
    assert!(
        r.contains("手順 4.2 で止まりました") && r.contains("担当者が確認します"),
        "{r}"
    );
    assert!(
        !r.contains("fantoccini") && !r.contains("line 14"),
        "no internals: {r}"
    );
    // Olena's two finished runs wait for the reviewer: the client sees that, in her words.
    assert!(jobs.contains("担当者が確認中"), "{jobs}");
    // The task by the title the client knows, never the workflow's internal name.
    assert!(jobs.contains("月次請求書のチェック"), "{jobs}");
    assert!(!jobs.contains("invoice-report"), "{jobs}");
    assert!(!page.body.contains("0 行"), "{}", page.body);

    // Ukrainian, for a client user who chose it: the same statuses in her words.
    let page = h.get_lang("/client", Some(&sato), Some("uk")).await;
    let jobs = section(&page.body, "jobs");
    assert!(
        jobs.contains("Не вдалося прочитати файл") && jobs.contains("Щомісячна перевірка рахунків"),
        "{jobs}"
    );
}

/// A multipart upload of `content` as `file_name` for `workflow`, as this user.
fn upload(login: &Login, workflow: &str, file_name: &str, content: &[u8]) -> Request<Body> {
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

#[tokio::test]
async fn a_file_sent_twice_is_said_to_be_received_already_and_is_not_run_again() {
    let h = TestHome::new().await;
    let task = h.home().join("inbox/acme/invoice-report");
    std::fs::create_dir_all(&task).unwrap();
    let sato = h.login("sato").await;
    let same = std::fs::read(repo("fixtures/clients/acme/invoices.csv")).unwrap();
    let r = h
        .send(upload(&sato, "invoice-report", "invoices-again.csv", &same))
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.location.starts_with("/client?duplicate="),
        "{}",
        r.location
    );
    assert_eq!(
        std::fs::read_dir(&task).unwrap().count(),
        0,
        "the copy was not put in the inbox"
    );
    let page = h.get_lang(&r.location, Some(&sato), Some("ja")).await;
    let note = section(&page.body, "duplicate-note");
    assert!(
        note.contains("invoices-again.csv") && note.contains("受け付け済み") && note.contains("年"),
        "she is told, in Japanese, that the same file came already and when: {note}"
    );
    assert_eq!(h.audited("upload.duplicate").await.len(), 1);
    // A new file is received as before.
    let r = h
        .send(upload(&sato, "invoice-report", "new.csv", b"a,b\n1,2\n"))
        .await;
    assert!(
        r.location.starts_with("/client?uploaded="),
        "{}",
        r.location
    );
    assert_eq!(std::fs::read_dir(&task).unwrap().count(), 1);
}

#[tokio::test]
async fn the_admin_sets_rates_on_the_page_and_the_next_approval_pays_them() {
    let h = TestHome::new().await;
    let admin = h.login("admin").await;
    let set = |form: String| {
        let (h, admin) = (&h, &admin);
        async move {
            h.post(
                "/admin/rates",
                Some(admin),
                &format!("csrf={}&{form}", admin.csrf),
            )
            .await
        }
    };
    // Refused: negative, absurd, not a number, an unknown client. Nothing changes.
    let before = std::fs::read_to_string(h.home().join("rates.yaml")).unwrap();
    for (form, says) in [
        (
            "client=acme&workflow=invoice-report&per_run=-5&per_ok_row=20",
            "less than 0",
        ),
        (
            "client=acme&workflow=invoice-report&per_run=5000000&per_ok_row=20",
            "extra zero",
        ),
        (
            "client=acme&workflow=invoice-report&per_run=500&per_ok_row=abc",
            "not a whole number",
        ),
        (
            "client=nobody&workflow=&per_run=500&per_ok_row=20",
            "nobody",
        ),
    ] {
        let r = set(form.to_string()).await;
        assert_eq!(r.status, 400, "{form}: {}", r.body);
        assert!(r.body.contains(says), "{form}: {}", r.body);
    }
    assert_eq!(
        std::fs::read_to_string(h.home().join("rates.yaml")).unwrap(),
        before
    );
    assert!(h.audited("rate.set").await.is_empty());

    let r = set("client=acme&workflow=invoice-report&per_run=1%2C000&per_ok_row=25".into()).await;
    assert_eq!(
        (r.status, r.location.as_str()),
        (303, "/admin"),
        "{}",
        r.body
    );
    let page = get_with(
        &h,
        "/admin",
        &admin,
        &cookie_pair(&r.set_cookie, "kobo_done"),
    )
    .await;
    let done = section(&page.body, "done");
    assert!(
        done.contains("is now ¥1,000 per run + ¥25 per row")
            && done.contains("it was ¥500 per run + ¥20 per row"),
        "the admin is told what changed and what it was: {done}"
    );
    let audit = h.audited("rate.set").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].0, "admin");
    assert!(
        audit[0].2.as_deref().unwrap().contains("500")
            && audit[0].2.as_deref().unwrap().contains("1000"),
        "{audit:?}"
    );
    let rates = runner::payout::Rates::load(h.home()).unwrap();
    assert_eq!(
        rates.for_run("acme", "invoice-report").unwrap().per_run,
        1000
    );

    // The next approval credits the new rate: 1,000 + 25 × 10 rows done.
    let kenji = h.login("kenji").await;
    let r = h
        .post(
            &format!("/runs/{}/approve", h.runs[0]),
            Some(&kenji),
            &format!("csrf={}", kenji.csrf),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let (per_run, amount): (i64, i64) =
        sqlx::query_as("SELECT per_run, amount_yen FROM ledger WHERE run_id = ?")
            .bind(&h.runs[0])
            .fetch_one(h.state.records.pool())
            .await
            .unwrap();
    assert_eq!((per_run, amount), (1000, 1250));

    // Removing a rate says so, and how to undo it.
    let r = h
        .post(
            "/admin/rates/remove",
            Some(&admin),
            &format!("csrf={}&client=acme&workflow=invoice-report", admin.csrf),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        runner::payout::Rates::load(h.home())
            .unwrap()
            .for_run("acme", "invoice-report")
            .is_none()
    );
    assert_eq!(h.audited("rate.remove").await.len(), 1);
}

#[tokio::test]
async fn a_new_user_gets_the_role_the_admin_chose_and_changes_are_confirmed() {
    let h = TestHome::new().await;
    let admin = h.login("admin").await;
    let page = h.get("/admin", Some(&admin)).await;
    let form = section(&page.body, "add-user");
    assert!(
        form.contains("<option value=\"\" selected>Choose a role"),
        "no role is chosen for the admin: {form}"
    );
    // Without a role: refused, in words, and nobody is added.
    let r = h
        .post(
            "/admin/users",
            Some(&admin),
            &format!(
                "csrf={}&name=mariia&role=&client=&password=mariia-secret-1",
                admin.csrf
            ),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("Choose a role for the new user"),
        "{}",
        r.body
    );
    let r = h
        .post(
            "/admin/users",
            Some(&admin),
            &format!(
                "csrf={}&name=mariia&client=&password=mariia-secret-1",
                admin.csrf
            ),
        )
        .await;
    assert_eq!(
        r.status, 400,
        "a form without the field is refused too: {}",
        r.body
    );
    assert!(h.users().await.iter().all(|u| u.name != "mariia"));

    let r = h
        .post("/admin/users", Some(&admin), &format!("csrf={}&name=mariia&role=trainee&client=&email=mariia%40coop.example&password=mariia-secret-1", admin.csrf))
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = get_with(
        &h,
        "/admin",
        &admin,
        &cookie_pair(&r.set_cookie, "kobo_done"),
    )
    .await;
    assert!(
        section(&page.body, "done").contains("mariia was added as trainee"),
        "{}",
        page.body
    );
    assert!(page.body.contains("mariia@coop.example"));
    // Shown once: the same page again has no confirmation.
    assert!(
        !h.get("/admin", Some(&admin))
            .await
            .body
            .contains("id=\"done\"")
    );

    let r = h
        .post(
            "/admin/users/olena/role",
            Some(&admin),
            &format!("csrf={}&role=reviewer&client=", admin.csrf),
        )
        .await;
    let page = get_with(
        &h,
        "/admin",
        &admin,
        &cookie_pair(&r.set_cookie, "kobo_done"),
    )
    .await;
    let done = section(&page.body, "done");
    assert!(
        done.contains(
            "olena&#x27;s role is now reviewer (it was trainee). To undo, choose trainee again."
        ),
        "{done}"
    );

    // A bad address is refused with the reason.
    let r = h
        .post(
            "/admin/users/olena/email",
            Some(&admin),
            &format!("csrf={}&email=olena%20at%20home", admin.csrf),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("does not look like an e-mail address"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn the_header_counts_what_waits_for_each_person() {
    let h = TestHome::new().await;
    let pill = |body: &str| -> Option<String> {
        let start = body.find("id=\"notices\"")?;
        let rest = &body[start..];
        let text = &rest[rest.find('>')? + 1..];
        Some(text[..text.find('<')?].trim().to_string())
    };
    let kenji = h.login("kenji").await;
    let olena = h.login("olena").await;
    let sato = h.login("sato").await;
    assert_eq!(
        pill(&h.get("/runs", Some(&kenji)).await.body).as_deref(),
        Some("2")
    );
    assert_eq!(pill(&h.get("/work", Some(&olena)).await.body), None);
    assert_eq!(pill(&h.get("/client", Some(&sato)).await.body), None);

    // Kenji rejects one and approves the other.
    let r = h
        .post(
            &format!("/runs/{}/reject", h.runs[0]),
            Some(&kenji),
            &format!("csrf={}&comment=Row+7+has+the+wrong+tax", kenji.csrf),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = h
        .post(
            &format!("/runs/{}/approve", h.runs[1]),
            Some(&kenji),
            &format!("csrf={}", kenji.csrf),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        pill(&h.get("/runs", Some(&kenji)).await.body),
        None,
        "nothing waits"
    );

    // Olena: one rejected run waits for her, with the comment, what next and a way to rerun.
    let work = h.get_lang("/work", Some(&olena), Some("uk")).await;
    assert_eq!(pill(&work.body).as_deref(), Some("1"));
    let fix = section(&work.body, &format!("fix-{}", h.runs[0]));
    assert!(
        fix.contains("Row 7 has the wrong tax")
            && fix.contains("Що робити далі")
            && fix.contains("kobo rerun"),
        "{fix}"
    );
    // Her ledger and her statement say the same words.
    let ledger = h.get_lang("/ledger", Some(&olena), Some("uk")).await.body;
    for word in [
        "зараховано",
        "успішних рядків",
        "за успішний рядок (єн)",
        "сума (єн)",
    ] {
        assert!(
            ledger.contains(word),
            "the ledger page lacks the statement's word {word}"
        );
    }

    // Sato: one new delivery until she has looked at her page.
    let first = h.get("/runs", Some(&sato)).await;
    assert_eq!(first.status, 403);
    let home = h.get_lang("/client", Some(&sato), Some("ja")).await;
    assert_eq!(pill(&home.body).as_deref(), Some("1"));
    assert!(section(&home.body, "deliveries").contains("新着"));
    let again = h.get_lang("/client", Some(&sato), Some("ja")).await;
    assert_eq!(pill(&again.body), None, "seen now");
    assert!(!section(&again.body, "deliveries").contains("新着"));
}

#[tokio::test]
async fn a_delivery_has_the_result_columns_and_the_rows_to_check_in_the_clients_language() {
    let h = TestHome::new().await;
    let pool = h.state.records.pool();
    assert_eq!(
        client_lang::get(pool, "acme").await.unwrap(),
        ClientLang::Ja,
        "Japanese until set"
    );
    // As the queue's worker runs a job: in its client's language.
    let w = Workflow::load(&repo("workflows/invoice-report.yaml")).unwrap();
    let mut opts = RunOptions::new(h.home());
    opts.inputs.insert(
        "invoices".into(),
        repo("fixtures/clients/acme/invoices.csv"),
    );
    opts.results_lang = Some(client_lang::get(pool, "acme").await.unwrap());
    let id = runner::execute(&w, &h.state.records, opts)
        .await
        .unwrap()
        .id
        .0;
    let kenji = h.login("kenji").await;
    let r = h
        .post(
            &format!("/runs/{id}/approve"),
            Some(&kenji),
            &format!("csrf={}", kenji.csrf),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    let sato = h.login("sato").await;
    let name = h
        .outbox("acme")
        .into_iter()
        .find(|n| n.contains(&id))
        .unwrap();
    let file = h
        .get(&format!("/client/deliveries/{name}"), Some(&sato))
        .await;
    assert_eq!(file.status, 200);
    let path = h.home().join("delivered.xlsx");
    std::fs::write(&path, &file.bytes).unwrap();
    let sheets = runner::sheet::sheet_names(&path).unwrap();
    assert_eq!(sheets, ["請求書一覧", "確認が必要な行"]);
    let spec = |name: &str| runner::SheetSpec {
        sheet: runner::sheet::SheetRef::Name(name.into()),
        ..Default::default()
    };
    let t = runner::sheet::read_table(&path, &spec("請求書一覧")).unwrap();
    assert_eq!(&t.columns[t.columns.len() - 2..], ["結果", "エラー"]);
    let results: std::collections::BTreeSet<String> = t
        .rows
        .iter()
        .map(|r| r[t.column_index("結果").unwrap()].to_string())
        .collect();
    assert_eq!(
        results,
        ["スキップ", "失敗", "正常"].map(String::from).into()
    );
    let check = runner::sheet::read_table(&path, &spec("確認が必要な行")).unwrap();
    assert_eq!(check.columns, ["元のファイルの行", "結果", "エラー"]);
    let rows: Vec<(String, String)> = check
        .rows
        .iter()
        .map(|r| (r[0].to_string(), r[1].to_string()))
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter().any(|(_, s)| s == "失敗") && rows.iter().any(|(_, s)| s == "スキップ"),
        "{rows:?}"
    );
    // The row numbers are those of the client's own sheet (a header row, so 2 and up).
    let failed_row = &check
        .rows
        .iter()
        .find(|r| r[1].to_string() == "失敗")
        .unwrap();
    let n: usize = failed_row[0].to_string().parse().unwrap();
    let in_sheet = &t.rows[n - 2];
    assert_eq!(
        in_sheet[t.column_index("結果").unwrap()].to_string(),
        "失敗"
    );
    assert!(
        failed_row[2].to_string().contains("has no amount"),
        "{failed_row:?}"
    );
}

/// Messages a test server took: (recipients, the message as sent).
type Inbox = Arc<Mutex<Vec<(Vec<String>, String)>>>;

/// A small SMTP server on a local socket: takes every message and keeps (recipients, data).
struct SmtpServer {
    port: u16,
    got: Inbox,
}

impl SmtpServer {
    async fn start() -> SmtpServer {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let got: Inbox = Arc::default();
        let keep = got.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let keep = keep.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 test ESMTP\r\n").await.unwrap();
                    let mut rcpt = Vec::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO")
                        {
                            b"250 test\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            rcpt.push(line[8..].trim().trim_matches(['<', '>']).to_string());
                            b"250 ok\r\n"
                        } else if upper.starts_with("DATA") {
                            write.write_all(b"354 go on\r\n").await.unwrap();
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            keep.lock().unwrap().push((std::mem::take(&mut rcpt), data));
                            b"250 kept\r\n"
                        } else if upper.starts_with("QUIT") {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 ok\r\n"
                        };
                        write.write_all(reply).await.unwrap();
                    }
                });
            }
        });
        SmtpServer { port, got }
    }

    /// Messages taken since the last call: (recipient, decoded subject).
    fn take(&self) -> Vec<(String, String)> {
        let got = std::mem::take(&mut *self.got.lock().unwrap());
        got.into_iter()
            .map(|(to, data)| (to.join(","), subject(&data)))
            .collect()
    }
}

/// The Subject header, decoded from RFC 2047 (`=?utf-8?b?…?=`, possibly folded) if need be.
fn subject(data: &str) -> String {
    use base64::Engine;
    let mut lines = data.lines().skip_while(|l| !l.starts_with("Subject:"));
    let mut raw = lines
        .next()
        .unwrap_or("")
        .trim_start_matches("Subject:")
        .trim()
        .to_string();
    for l in lines.take_while(|l| l.starts_with(' ') || l.starts_with('\t')) {
        raw.push(' ');
        raw.push_str(l.trim());
    }
    // Whitespace between two encoded words is not part of the text; any other is.
    let mut out = String::new();
    let mut last_encoded = false;
    for (i, word) in raw.split_whitespace().enumerate() {
        let decoded = word
            .strip_prefix("=?utf-8?b?")
            .and_then(|w| w.strip_suffix("?="))
            .map(|b64| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap();
                String::from_utf8(bytes).unwrap()
            });
        if i > 0 && !(last_encoded && decoded.is_some()) {
            out.push(' ');
        }
        last_encoded = decoded.is_some();
        out.push_str(&decoded.unwrap_or_else(|| word.to_string()));
    }
    out
}

#[tokio::test]
async fn notices_go_by_email_once_in_each_persons_language() {
    let h = TestHome::new().await;
    let smtp = SmtpServer::start().await;
    let pool = h.state.records.pool();
    // Nothing is configured: nothing is sent, nothing is marked.
    let none = dashboard::mail::send_pending(&h.state.records, h.home())
        .await
        .unwrap();
    assert_eq!(none, dashboard::mail::Sent::default());
    std::fs::write(
        h.home().join("mail.yaml"),
        format!(
            "smtp: smtp://127.0.0.1:{}\nfrom: kobo <kobo@coop.example>\n",
            smtp.port
        ),
    )
    .unwrap();
    for (name, email) in [
        ("kenji", "kenji@coop.example"),
        ("olena", "olena@coop.example"),
        ("sato", "sato@acme.example"),
    ] {
        runner::user::set_email(pool, "admin", name, Some(email))
            .await
            .unwrap();
    }
    runner::user::set_lang(pool, "olena", Some("uk"))
        .await
        .unwrap();
    runner::user::set_lang(pool, "kenji", Some("ja"))
        .await
        .unwrap();

    // Two runs await review: Kenji gets one message about both, in Japanese.
    let sent = dashboard::mail::send_pending(&h.state.records, h.home())
        .await
        .unwrap();
    assert_eq!(sent.sent, 1);
    assert_eq!(
        smtp.take(),
        [(
            "kenji@coop.example".to_string(),
            "kobo：確認待ちの実行が 2 件あります".to_string()
        )]
    );
    // Once.
    dashboard::mail::send_pending(&h.state.records, h.home())
        .await
        .unwrap();
    assert!(smtp.take().is_empty());

    let kenji = h.login("kenji").await;
    h.post(
        &format!("/runs/{}/reject", h.runs[0]),
        Some(&kenji),
        &format!("csrf={}&comment=wrong+tax", kenji.csrf),
    )
    .await;
    h.post(
        &format!("/runs/{}/approve", h.runs[1]),
        Some(&kenji),
        &format!("csrf={}", kenji.csrf),
    )
    .await;
    assert_eq!(h.count("deliveries").await, 1);
    dashboard::mail::send_pending(&h.state.records, h.home())
        .await
        .unwrap();
    let mut got = smtp.take();
    got.sort();
    assert_eq!(
        got,
        [
            (
                "olena@coop.example".to_string(),
                "kobo: відхилено ваших запусків — 1".to_string()
            ),
            (
                "sato@acme.example".to_string(),
                "kobo：ファイル 1 件をお届けしました".to_string()
            ),
        ]
    );

    // A server that is gone: the notice is logged as failed, approving is not held up.
    drop(smtp);
    std::fs::write(h.home().join("mail.yaml"), "smtp: smtp://127.0.0.1:1\n").unwrap();
    let run = h.run_as("olena", "invoice-report").await;
    let sent = dashboard::mail::send_pending(&h.state.records, h.home())
        .await
        .unwrap();
    assert_eq!((sent.sent, sent.failed), (0, 1));
    let r = h
        .post(
            &format!("/runs/{run}/approve"),
            Some(&kenji),
            &format!("csrf={}", kenji.csrf),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
}
