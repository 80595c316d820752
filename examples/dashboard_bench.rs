//! Load on the review list: requests/s and latency percentiles for `GET /runs` with 10,000
//! recorded runs awaiting review, from concurrent keep-alive clients on loopback.
//! A benchmark, not a test: bounded in time, on 127.0.0.1 only.
//!
//! ```sh
//! cargo run --release --example dashboard_bench [runs] [clients] [seconds]   # default 10000 8 10
//! BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432/test \
//!   cargo run --release --example dashboard_bench 10000 8 10                 # records in PostgreSQL
//! ```
//!
//! Records are in a temporary SQLite file, or with `BENCH_POSTGRES` (a server URL without a
//! schema) in a PostgreSQL schema of the bench's own, dropped at the end.

#[path = "../runner/tests/support/pg.rs"]
mod pg;

use pg::PgSchema;
use runner::Records;
use runner::record::RecordsLocation;
use runner::user::{self, Role};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let runs = args.first().copied().unwrap_or(10_000);
    let clients = args.get(1).copied().unwrap_or(8);
    let seconds = args.get(2).copied().unwrap_or(10);

    let home = tempfile::tempdir().unwrap();
    let schema = match std::env::var("BENCH_POSTGRES") {
        Ok(server) if !server.is_empty() => Some(PgSchema::create(&server).await),
        _ => None,
    };
    let location = match &schema {
        Some(s) => RecordsLocation::Postgres(s.url()),
        None => RecordsLocation::Sqlite(home.path().join("records.db")),
    };
    let records = Records::connect(&location).await.unwrap();
    let seeding = Instant::now();
    seed(&records, runs).await;
    if schema.is_some() {
        // A server's autovacuum analyzes a table within a minute of a bulk load; the bench
        // starts at once. Without fresh statistics PostgreSQL sorts all 10,000 runs for the
        // review list (≈ 20 ms) instead of reading the oldest 500 by index (≈ 1 ms).
        sqlx::query("ANALYZE")
            .execute(records.pool())
            .await
            .unwrap();
    }
    println!(
        "{}: {runs} runs seeded in {:.1} s",
        match &schema {
            Some(_) => "PostgreSQL records",
            None => "SQLite records",
        },
        seeding.elapsed().as_secs_f64()
    );
    let kenji = user::add(
        records.pool(),
        "kenji",
        Role::Reviewer,
        None,
        "kenji-password",
    )
    .await
    .unwrap();
    let (token, _) = runner::session::create(records.pool(), &kenji)
        .await
        .unwrap();
    let cookie = format!("kobo_session={token}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = dashboard::AppState {
        home: home.path().to_path_buf(),
        records: records.clone(),
        secure_cookies: false,
        trust_forwarded_for: false,
        max_upload_bytes: dashboard::DEFAULT_UPLOAD_LIMIT,
        reruns: None,
    };
    tokio::spawn(dashboard::serve(listener, state, std::future::pending()));

    // One request first, to check the page really lists runs (and warm up).
    let (status, body) = get(&mut connect(addr).await, "/runs", &cookie).await;
    assert_eq!(status, 200, "{body}");
    let rows = body.matches("<tr").count().saturating_sub(1);
    println!(
        "review list: {runs} runs recorded, page lists {rows} rows, {} KB",
        body.len() / 1024
    );

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let cookie = cookie.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = connect(addr).await;
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let (status, _) = get(&mut conn, "/runs", &cookie).await;
                assert_eq!(status, 200);
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let took = started.elapsed().as_secs_f64();
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "{clients} clients for {seconds} s: {} requests, {:.0} req/s, latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        all.len(),
        all.len() as f64 / took,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
    records.pool().close().await;
    drop(schema);
}

/// `runs` succeeded runs awaiting review, written in one transaction.
async fn seed(records: &Records, runs: u64) {
    let mut tx = records.write_transaction().await.unwrap();
    let start = chrono::Utc::now() - chrono::Duration::days(30);
    for i in 0..runs {
        let id = runner::RunId::generate();
        let at = (start + chrono::Duration::seconds(i as i64 * 60)).to_rfc3339();
        sqlx::query(
            "INSERT INTO runs (id, workflow, workflow_version, workflow_hash, workflow_file, client, trainee,
                input_name, input_hash, status, attempt, created_at, started_at, finished_at, duration_ms,
                rows_total, rows_ok, rows_failed, rows_skipped, folder)
             VALUES ($1, $2, '1', 'hash', 'workflows/x.yaml', $3, $4, 'invoices.csv', $5, 'succeeded', 1, $6, $7, $8, 1200, 12, 10, 1, 1, $9)",
        )
        .bind(&id.0)
        .bind(["invoice-report", "roster-cleanup", "portal-entry"][i as usize % 3])
        .bind(["acme", "sakura"][i as usize % 2])
        .bind(["olena", "mariia", "iryna"][i as usize % 3])
        .bind(format!("{i:064x}"))
        .bind(&at)
        .bind(&at)
        .bind(&at)
        .bind(format!("runs/{}", id.0))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn connect(addr: std::net::SocketAddr) -> BufReader<TcpStream> {
    BufReader::new(TcpStream::connect(addr).await.unwrap())
}

/// One keep-alive HTTP/1.1 GET; returns the status and the body.
async fn get(conn: &mut BufReader<TcpStream>, path: &str, cookie: &str) -> (u16, String) {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: bench\r\nCookie: {cookie}\r\nAccept-Language: ja\r\n\r\n"
    );
    conn.get_mut().write_all(req.as_bytes()).await.unwrap();
    let mut line = String::new();
    conn.read_line(&mut line).await.unwrap();
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line).await.unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}
