//! The reviewer's loop over HTTP (issue 15): the run page built for a quick decision (input
//! and output side by side, pages of rows, differences from the last approved run, what
//! approving pays, earlier rejections, steps named one way), the list (search, filters, real
//! paging, honest statuses), approving several clean runs at once, and on to the next run.

mod common;

use common::{Login, TestHome, clean_csv};

async fn run_on(h: &TestHome, author: &str, csv: &str) -> String {
    h.run_csv(author, csv).await
}

fn form(login: &Login, rest: &str) -> String {
    format!("csrf={}&{rest}", login.csrf)
}

/// The part of a page between the element with this id and the end of its table/section.
fn section<'a>(body: &'a str, id: &str, end: &str) -> &'a str {
    let start = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {body}"));
    let rest = &body[start..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

/// Runs recorded straight into the records (no files): `n` runs of `workflow` in one
/// `status`, a minute apart from `start`.
async fn seed(h: &TestHome, n: usize, workflow: &str, status: &str, error: Option<&str>) {
    let start = chrono::Utc::now() - chrono::Duration::days(3);
    for i in 0..n {
        let id = runner::RunId::generate();
        let at = (start + chrono::Duration::seconds(i as i64 * 60)).to_rfc3339();
        sqlx::query(
            "INSERT INTO runs (id, workflow, workflow_version, workflow_hash, workflow_file, client, trainee,
                input_name, input_hash, status, attempt, created_at, started_at, finished_at, duration_ms,
                rows_total, rows_ok, rows_failed, rows_skipped, folder, error, error_step)
             VALUES ($1, $2, '1', 'hash', 'workflows/x.yaml', 'sakura', 'taras', 'staff.xlsx', $3, $4, 1, $5, $6, $7, 1200,
                12, 12, 0, 0, $8, $9, $10)",
        )
        .bind(&id.0)
        .bind(workflow)
        .bind(format!("{i:064x}"))
        .bind(status)
        .bind(&at)
        .bind(&at)
        .bind(&at)
        .bind(format!("runs/{}", id.0))
        .bind(error)
        .bind(error.map(|_| "#3 open (line 12)"))
        .execute(h.state.records.pool())
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn the_list_has_search_filters_real_pages_and_honest_statuses() {
    let h = TestHome::new().await;
    seed(&h, 120, "roster-cleanup", "succeeded", None).await;
    seed(
        &h,
        1,
        "portal-entry",
        "failed",
        Some("the page has no button “登録”"),
    )
    .await;
    seed(&h, 1, "portal-entry", "queued", None).await;
    let kenji = h.login("kenji").await;

    // The queue: 122 awaiting (Olena's two and 120 of Taras's), 50 a page, no cap.
    let p1 = h.get("/runs", Some(&kenji)).await;
    assert_eq!(p1.status, 200, "{}", p1.body);
    assert!(p1.body.contains("id=\"run-total\">122<"), "{}", p1.body);
    assert_eq!(p1.body.matches("class=\"run-row").count(), 50);
    assert!(p1.body.contains("Page 1 of 3 (runs 1–50 of 122)"));
    assert!(p1.body.contains("href=\"/runs?stage=awaiting&amp;page=2\""));
    let p3 = h.get("/runs?stage=awaiting&page=3", Some(&kenji)).await;
    assert_eq!(p3.body.matches("class=\"run-row").count(), 22);
    assert!(p3.body.contains("Page 3 of 3 (runs 101–122 of 122)"));
    assert!(!p3.body.contains("id=\"next-page\""));

    // Every run, newest first: the failed one is visibly failed, with its reason.
    let all = h.get("/runs?view=all", Some(&kenji)).await;
    assert!(all.body.contains("id=\"run-total\">124<"), "{}", all.body);
    let failed = h.get("/runs?stage=failed", Some(&kenji)).await;
    assert_eq!(failed.body.matches("class=\"run-row").count(), 1);
    assert!(
        failed.body.contains("class=\"run-row stage-failed\"")
            && failed
                .body
                .contains("<span class=\"badge stage failed\">failed</span>")
            && failed
                .body
                .contains("#3 open (line 12): the page has no button “登録”"),
        "{}",
        failed.body
    );
    let queued = h.get("/runs?stage=queued", Some(&kenji)).await;
    assert!(queued.body.contains("badge stage queued\">queued<"));

    // Search: by workflow, by trainee, by the start of a run id; words all must match.
    let found = h.get("/runs?stage=all&q=INVOICE", Some(&kenji)).await;
    assert!(found.body.contains("id=\"run-total\">2<"), "{}", found.body);
    let found = h.get("/runs?stage=all&q=taras+portal", Some(&kenji)).await;
    assert!(found.body.contains("id=\"run-total\">2<"), "{}", found.body);
    let prefix = &h.runs[1][..10];
    let found = h
        .get(&format!("/runs?stage=all&q={prefix}"), Some(&kenji))
        .await;
    assert!(
        found.body.contains("id=\"run-total\">1<") && found.body.contains(&h.runs[1]),
        "{}",
        found.body
    );
    let none = h.get("/runs?stage=all&q=%25", Some(&kenji)).await;
    assert!(
        none.body.contains("id=\"run-total\">0<"),
        "a % is a %, not any text"
    );

    // Dates (Japan time), both ends included: today's runs are Olena's two.
    let today = chrono::Utc::now()
        .with_timezone(&runner::payout::jst())
        .format("%Y-%m-%d")
        .to_string();
    let dated = h
        .get(
            &format!("/runs?stage=all&from={today}&to={today}"),
            Some(&kenji),
        )
        .await;
    assert!(dated.body.contains("id=\"run-total\">2<"), "{}", dated.body);
    let bad = h.get("/runs?from=25.11.2026", Some(&kenji)).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("write it as 2026-11-25"), "{}", bad.body);

    // A trainee's list is hers whatever she asks for.
    let olena = h.login("olena").await;
    let mine = h
        .get("/runs?stage=all&trainee=taras&q=roster", Some(&olena))
        .await;
    assert!(mine.body.contains("id=\"run-total\">0<"), "{}", mine.body);
    let mine = h.get("/runs", Some(&olena)).await;
    assert!(mine.body.contains("id=\"run-total\">2<"), "{}", mine.body);
}

#[tokio::test]
async fn bulk_approval_takes_only_clean_runs_and_each_is_reviewed_paid_and_audited() {
    let h = TestHome::new().await;
    let clean_a = run_on(&h, "olena", &clean_csv(3, |i| 1000 * i as i64)).await;
    let clean_b = run_on(&h, "olena", &clean_csv(5, |i| 2000 * i as i64)).await;
    let kenjis_own = run_on(&h, "taras", &clean_csv(2, |_| 500)).await;
    // An old run recorded as Kenji's own work (a name in another case).
    sqlx::query("UPDATE runs SET trainee = 'Kenji' WHERE id = $1")
        .bind(&kenjis_own)
        .execute(h.state.records.pool())
        .await
        .unwrap();
    let with_failed_row = h.runs[0].clone();
    let kenji = h.login("kenji").await;

    // The list offers a tick only where a run can go with others.
    let list = h.get("/runs", Some(&kenji)).await;
    for (id, offered) in [
        (&clean_a, true),
        (&clean_b, true),
        (&with_failed_row, false),
        (&kenjis_own, false),
    ] {
        assert_eq!(
            list.body.contains(&format!("name=\"run\" value=\"{id}\"")),
            offered,
            "{id}"
        );
    }

    // A trainee cannot approve at all, her own runs least of all.
    let olena = h.login("olena").await;
    let r = h
        .post(
            "/runs/approve",
            Some(&olena),
            &form(&olena, &format!("run={clean_a}&run={clean_b}")),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    h.assert_nothing_changed().await;
    // Without the form's token nothing happens either.
    let r = h
        .post(
            "/runs/approve",
            Some(&kenji),
            &format!("csrf=forged&run={clean_a}"),
        )
        .await;
    assert_eq!(r.status, 403);
    h.assert_nothing_changed().await;

    // A forged form naming every run: only the clean ones that are not Kenji's own go through.
    let r = h
        .post(
            "/runs/approve",
            Some(&kenji),
            &form(
                &kenji,
                &format!("run={clean_a}&run={with_failed_row}&run={kenjis_own}&run={clean_b}"),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let result = section(&r.body, "bulk-result", "</section>");
    assert!(result.contains("Approved 2 of 4 runs"), "{result}");
    assert!(
        result.contains("this run has failed rows or rows in doubt"),
        "{result}"
    );
    assert!(
        result.contains("kenji wrote this run&#x27;s workflow and cannot review it"),
        "{result}"
    );
    // 500 per run + 20 per ok row.
    assert!(
        result.contains("pays ¥560") && result.contains("pays ¥600"),
        "{result}"
    );

    let reviews: Vec<(String, String, String)> =
        sqlx::query_as("SELECT run_id, decision, reviewer FROM reviews ORDER BY run_id")
            .fetch_all(h.state.records.pool())
            .await
            .unwrap();
    let mut expected = vec![
        (clean_a.clone(), "approved".to_string(), "kenji".to_string()),
        (clean_b.clone(), "approved".to_string(), "kenji".to_string()),
    ];
    expected.sort();
    assert_eq!(reviews, expected);
    let credits: Vec<(String, i64)> =
        sqlx::query_as("SELECT run_id, amount_yen FROM ledger ORDER BY amount_yen")
            .fetch_all(h.state.records.pool())
            .await
            .unwrap();
    assert_eq!(
        credits,
        vec![(clean_a.clone(), 560), (clean_b.clone(), 600)]
    );
    let audited = h.audited("approve").await;
    assert_eq!(audited.len(), 2, "{audited:?}");
    for (actor, target, detail) in &audited {
        assert_eq!(actor, "kenji");
        assert!([&clean_a, &clean_b].contains(&target));
        assert!(detail.as_deref().unwrap_or("").contains("credited"));
    }
    assert_eq!(h.count("deliveries").await, 2);
    assert_eq!(h.outbox("acme").len(), 2);

    // Again: nothing is approved twice.
    let r = h
        .post(
            "/runs/approve",
            Some(&kenji),
            &form(&kenji, &format!("run={clean_a}")),
        )
        .await;
    assert!(r.body.contains("Approved 0 of 1 runs"), "{}", r.body);
    assert!(r.body.contains("was already reviewed"), "{}", r.body);
    assert_eq!(h.count("ledger").await, 2);
    let r = h
        .post("/runs/approve", Some(&kenji), &form(&kenji, ""))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn after_a_decision_the_next_run_awaiting_review_opens() {
    let h = TestHome::new().await;
    let (first, second) = (&h.runs[0], &h.runs[1]);
    let kenji = h.login("kenji").await;
    let page = h.get(&format!("/runs/{first}"), Some(&kenji)).await;
    assert!(
        page.body
            .contains(&format!("href=\"/runs/{second}\" id=\"next-run\"")),
        "{}",
        page.body
    );
    assert!(!page.body.contains("id=\"prev-run\""));

    let r = h
        .post(
            &format!("/runs/{first}/approve"),
            Some(&kenji),
            &form(&kenji, ""),
        )
        .await;
    assert_eq!(
        (r.status, r.location.as_str()),
        (303, format!("/runs/{second}?done={first}").as_str())
    );
    let next = h.get(&r.location, Some(&kenji)).await;
    assert!(
        next.body.contains("id=\"done\"")
            && next
                .body
                .contains(&format!("invoice-report {} is approved.", &first[..8])),
        "{}",
        next.body
    );
    assert!(next.body.contains("id=\"approve\""));

    // The last one: back to the decided run, nothing is left.
    let r = h
        .post(
            &format!("/runs/{second}/reject"),
            Some(&kenji),
            &form(&kenji, "comment=row+4+has+no+amount"),
        )
        .await;
    assert_eq!(
        (r.status, r.location.as_str()),
        (303, format!("/runs/{second}").as_str())
    );
}

#[tokio::test]
async fn the_run_page_shows_the_pay_earlier_rejections_and_one_naming_of_steps() {
    let h = TestHome::new().await;
    let kenji = h.login("kenji").await;
    let first = &h.runs[0];
    let page = h.get(&format!("/runs/{first}"), Some(&kenji)).await;
    // 500 per run + 10 ok rows × 20, before the click.
    let decide = section(&page.body, "decide", "</section>");
    assert!(
        decide.contains("Approving pays olena ¥700.")
            && decide.contains("¥500 per run + 10 ok rows × ¥20."),
        "{decide}"
    );
    assert!(decide.find("id=\"pay\"").unwrap() < decide.find("id=\"approve\"").unwrap());
    // And that is what the approval credits.
    let r = h
        .post(
            &format!("/runs/{first}/approve"),
            Some(&kenji),
            &form(&kenji, ""),
        )
        .await;
    assert_eq!(r.status, 303);
    let paid: i64 = sqlx::query_scalar("SELECT amount_yen FROM ledger WHERE run_id = $1")
        .bind(first)
        .fetch_one(h.state.records.pool())
        .await
        .unwrap();
    assert_eq!(paid, 700);

    // Steps are named as in the rows table and the errors: `#2.1.1 fail (line N)`.
    let steps = section(&page.body, "steps", "</table>");
    assert!(!steps.contains("steps["), "{steps}");
    let rows = section(&page.body, "rows-count", "</table>");
    let failing = rows
        .split("<small>")
        .nth(1)
        .and_then(|s| s.split("</small>").next())
        .unwrap();
    assert!(failing.starts_with("#2.1.1 fail (line "), "{rows}");
    assert!(
        steps.contains(&format!("<code>{failing}</code>")),
        "{failing} in {steps}"
    );

    // The problem rows are listed first, the ok ones only counted and named.
    assert_eq!(rows.matches("<tr class=\"failed\">").count(), 1, "{rows}");
    assert_eq!(rows.matches("<tr class=\"skipped\">").count(), 1, "{rows}");
    assert_eq!(rows.matches("<tr class=\"ok\">").count(), 0, "{rows}");
    assert!(page.body.contains("10 rows ok (show them)"));

    // Input and output side by side, numbers grouped and right-aligned, dates as dates.
    let data = section(&page.body, "data", "<h2>");
    let input = &data[data.find("preview input").unwrap()..data.find("preview output").unwrap()];
    let output = &data[data.find("preview output").unwrap()..];
    assert!(input.contains("<td class=\"num\">108,000</td>"), "{input}");
    assert!(input.contains("<td class=\"num\">54,000</td>"), "{input}");
    assert!(
        input.contains(">00123<") || !input.contains("取引先コード"),
        "codes keep their zeros"
    );
    assert!(
        output.contains("<td class=\"num\">118,800</td>"),
        "{output}"
    );
    assert!(
        output.contains(">2026-10-31<") && !output.contains("00:00:00"),
        "{output}"
    );

    // Rejected once: the next run of the workflow says so, with the comment.
    let second = &h.runs[1];
    let comment = "Row 4: INV-2026-1003 has no amount; ask the client.";
    let r = h
        .post(
            &format!("/runs/{second}/reject"),
            Some(&kenji),
            &format!(
                "csrf={}&comment={}",
                kenji.csrf,
                comment.replace(' ', "+").replace(';', "%3B")
            ),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let third = h.run_as("olena", "invoice-report").await;
    let page = h.get(&format!("/runs/{third}"), Some(&kenji)).await;
    let rejections = section(&page.body, "rejections", "</section>");
    assert!(
        rejections.contains("Earlier runs of this workflow were rejected (1)")
            && rejections.contains(comment)
            && rejections.contains(&second[..8]),
        "{rejections}"
    );
    // The one before it was approved: this run is compared with it, and is the same.
    assert!(page.body.contains("id=\"compared\"") && page.body.contains(&first[..8]));
    assert!(
        page.body.contains("Same as the last approved run."),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn cells_that_differ_from_the_last_approved_run_are_marked_and_all_rows_have_pages() {
    let h = TestHome::new().await;
    let kenji = h.login("kenji").await;
    let before = run_on(&h, "olena", &clean_csv(120, |i| 1000 + i as i64)).await;
    let r = h
        .post(
            &format!("/runs/{before}/approve"),
            Some(&kenji),
            &form(&kenji, ""),
        )
        .await;
    assert_eq!(r.status, 303);
    // Invoice 2 costs more now; invoice 120 is gone, 121 is new.
    let now = run_on(
        &h,
        "olena",
        &clean_csv(121, |i| if i == 2 { 9999 } else { 1000 + i as i64 })
            .replace("INV-0120,", "INV-0999,"),
    )
    .await;
    let page = h.get(&format!("/runs/{now}"), Some(&kenji)).await;
    assert!(
        page.body.contains(
            "Compared with the last approved run: 1 rows differ (2 cells), 2 new rows, 1 rows missing."
        ) && page.body.contains("Rows matched by “請求書番号”."),
        "{}",
        page.body
    );
    let output = &page.body[page.body.find("preview output").unwrap()..];
    assert!(
        output.contains(
            "<td class=\"num changed\" title=\"Before: 1,002\">9,999<del>1,002</del></td>"
        ),
        "{output}"
    );
    // 121 rows, 50 a page: the last page has the last row of input and output.
    assert!(page.body.contains("Page 1 of 3"), "{}", page.body);
    let last = h.get(&format!("/runs/{now}?page=3"), Some(&kenji)).await;
    let data = section(&last.body, "data", "<h2>");
    assert_eq!(data.matches("rows 101–121 of 121").count(), 2, "{data}");
    assert!(data.contains("INV-0121"), "{data}");
    assert!(
        data.contains("<tr class=\" added\">") || data.contains("added\"><th>"),
        "{data}"
    );
}

#[tokio::test]
async fn a_saved_page_is_shown_as_text_or_in_a_sandbox_never_run_as_the_dashboard() {
    let h = TestHome::new().await;
    let id = &h.runs[0];
    let run = h.state.records.find(id).await.unwrap();
    let html = "<html><body><h1>受付完了</h1><script>fetch('/runs/approve',{method:'POST'})</script></body></html>";
    let dir = h.home().join(&run.folder).join("pages");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("after-submit.html"), html).unwrap();
    h.state
        .records
        .add_artifact(
            &run.id,
            &runner::record::Artifact {
                kind: "page".into(),
                name: "after-submit.html".into(),
                path: "pages/after-submit.html".into(),
                bytes: html.len() as i64,
                sha256: "x".into(),
            },
        )
        .await
        .unwrap();
    let kenji = h.login("kenji").await;
    let page = h.get(&format!("/runs/{id}"), Some(&kenji)).await;
    let links = section(&page.body, "saved-pages", "</ul>");
    assert!(
        links.contains("pages&#x2f;after-submit.html?view=page"),
        "{links}"
    );

    let path = format!("/runs/{id}/files/pages/after-submit.html");
    let source = h
        .send(
            axum::http::Request::get(&path)
                .header("cookie", &kenji.cookie)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(source.status, 200);
    assert_eq!(source.content_type, "text/plain; charset=utf-8");
    assert_eq!(source.body, html);
    for view in [path.clone(), format!("{path}?view=page")] {
        let r = raw_headers(&h, &view, &kenji).await;
        let csp = r.get("content-security-policy").unwrap();
        assert!(csp.starts_with("sandbox;"), "{csp}");
        assert!(
            !csp.contains("allow-scripts") && !csp.contains("script-src"),
            "{csp}"
        );
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert_eq!(r.get("x-content-type-options").unwrap(), "nosniff");
    }
    let drawn = raw_headers(&h, &format!("{path}?view=page"), &kenji).await;
    assert_eq!(
        drawn.get("content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    // The dashboard's own pages keep their policy: only its own script file runs.
    let own = raw_headers(&h, &format!("/runs/{id}"), &kenji).await;
    assert!(
        own.get("content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );
    let js = h.get("/static/review.js", None).await;
    assert!(js.status == 200 && js.content_type.starts_with("text/javascript"));
}

async fn raw_headers(
    h: &TestHome,
    path: &str,
    login: &Login,
) -> std::collections::HashMap<String, String> {
    use tower::ServiceExt;
    let resp = h
        .app
        .clone()
        .oneshot(
            axum::http::Request::get(path)
                .header("cookie", &login.cookie)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    resp.headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
        .collect()
}
