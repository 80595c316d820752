//! Other pages during a burst of logins: p50/p99 latency of `GET /static/style.css` and
//! `GET /login` while 64 users log in at once (argon2 on every one), against the real
//! dashboard on loopback. A benchmark, not a test: bounded in time, on 127.0.0.1 only.
//!
//! ```sh
//! cargo run --release --example login_bench [bursts] [logins]   # default 5 bursts of 64
//! ```
//!
//! The dashboard runs in a runtime of its own (as `kobo serve` does: one async worker per
//! core), the clients in another, so a stalled server shows as latency, not as a stalled
//! client. Before each burst every login client fetches the login form (its one-off token);
//! then all of them post it at the same moment, while one probe client fetches the two
//! pages in turn over a keep-alive connection until the last login has its answer. An idle
//! round of the probe alone comes first, for comparison.
//!
//! Each login client has its own user and its own `X-Forwarded-For` address (the dashboard
//! trusts the header here), so the login limit (20 attempts per address) does not refuse
//! any: the bench measures password checks, not refusals.

use runner::Records;
use runner::user::{self, Role};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const PASSWORD: &str = "bench-password-1";

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let bursts = args.first().copied().unwrap_or(5);
    let logins = args.get(1).copied().unwrap_or(64);

    let home = tempfile::tempdir().unwrap();
    let records = Records::open(&home.path().join("records.db"))
        .await
        .unwrap();
    for i in 0..logins {
        user::add(
            records.pool(),
            &format!("trainee{i:03}"),
            Role::Trainee,
            None,
            PASSWORD,
        )
        .await
        .unwrap();
    }
    let addr = start_dashboard(home.path(), records.clone());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("dashboard on {addr}: {cores} cores, {logins} users; {bursts} bursts");

    let idle = probe_for(addr, Duration::from_secs(2)).await;
    report("idle (no logins)", &idle, None);

    let mut css = Vec::new();
    let mut page = Vec::new();
    let mut took = Vec::new();
    for _ in 0..bursts {
        let (probe, burst) = burst(addr, logins).await;
        css.extend(probe.css);
        page.extend(probe.page);
        took.push(burst);
    }
    took.sort();
    report(
        &format!("during {bursts} bursts of {logins} concurrent logins"),
        &Probe { css, page },
        Some(&took),
    );
}

/// The dashboard in a runtime of its own, on a free loopback port.
fn start_dashboard(home: &std::path::Path, records: Records) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    let home = home.to_path_buf();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let state = dashboard::AppState {
                home,
                records,
                secure_cookies: false,
                trust_forwarded_for: true,
                max_upload_bytes: dashboard::DEFAULT_UPLOAD_LIMIT,
                reruns: None,
            };
            dashboard::serve(listener, state, std::future::pending())
                .await
                .unwrap();
        });
    });
    rx.recv().unwrap()
}

#[derive(Default)]
struct Probe {
    css: Vec<Duration>,
    page: Vec<Duration>,
}

/// The probe alone for `time`.
async fn probe_for(addr: SocketAddr, time: Duration) -> Probe {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let probe = tokio::spawn(probe(addr, stop));
    tokio::time::sleep(time).await;
    stop_tx.send(true).unwrap();
    probe.await.unwrap()
}

/// `style.css` and `/login` in turn until told to stop.
async fn probe(addr: SocketAddr, stop: tokio::sync::watch::Receiver<bool>) -> Probe {
    let mut conn = connect(addr).await;
    let mut p = Probe::default();
    while !*stop.borrow() {
        let t = Instant::now();
        let (status, _, _) = request(&mut conn, "GET", "/static/style.css", &[], "").await;
        assert_eq!(status, 200);
        p.css.push(t.elapsed());
        let t = Instant::now();
        let (status, _, _) = request(&mut conn, "GET", "/login", &[], "").await;
        assert_eq!(status, 200);
        p.page.push(t.elapsed());
    }
    p
}

/// One burst: every login form fetched, then all posted at once; the probe runs until the
/// last answer. Returns the probe's latencies and how long the burst took.
async fn burst(addr: SocketAddr, logins: usize) -> (Probe, Duration) {
    let mut ready = Vec::new();
    for i in 0..logins {
        let mut conn = connect(addr).await;
        let (status, head, body) = request(&mut conn, "GET", "/login", &[], "").await;
        assert_eq!(status, 200);
        let cookie = head
            .lines()
            .filter_map(|l| l.split_once(": "))
            .filter(|(h, _)| h.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, c)| c.split(';').next().unwrap().to_string())
            .find(|c| c.starts_with("kobo_login="))
            .unwrap();
        let marker = "name=\"csrf\" value=\"";
        let start = body.find(marker).unwrap() + marker.len();
        let token = body[start..].split('"').next().unwrap().to_string();
        let form = format!("csrf={token}&name=trainee{i:03}&password={PASSWORD}");
        ready.push((
            conn,
            cookie,
            form,
            format!("10.0.{}.{}", i / 250, i % 250 + 1),
        ));
    }
    let go = std::sync::Arc::new(tokio::sync::Barrier::new(logins + 1));
    let mut tasks = Vec::new();
    for (mut conn, cookie, form, from) in ready {
        let go = go.clone();
        tasks.push(tokio::spawn(async move {
            go.wait().await;
            let headers = [
                ("Cookie", cookie.as_str()),
                ("X-Forwarded-For", from.as_str()),
            ];
            let (status, _, body) = request(&mut conn, "POST", "/login", &headers, &form).await;
            assert_eq!(status, 303, "{body}");
        }));
    }
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let probe = tokio::spawn(probe(addr, stop));
    go.wait().await;
    let started = Instant::now();
    for t in tasks {
        t.await.unwrap();
    }
    let took = started.elapsed();
    stop_tx.send(true).unwrap();
    (probe.await.unwrap(), took)
}

fn report(what: &str, p: &Probe, bursts: Option<&[Duration]>) {
    println!("{what}:");
    for (name, all) in [("GET /static/style.css", &p.css), ("GET /login", &p.page)] {
        let mut all = all.clone();
        all.sort();
        let pct = |q: f64| {
            all[((all.len() as f64 * q) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0
        };
        println!(
            "  {name:<22} {:>6} requests  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            all.len(),
            pct(0.50),
            pct(0.99),
            pct(1.0)
        );
    }
    if let Some(b) = bursts {
        let ms: Vec<String> = b
            .iter()
            .map(|d| format!("{:.0}", d.as_secs_f64() * 1000.0))
            .collect();
        println!(
            "  each burst (all logins answered) took, in ms: {}",
            ms.join(", ")
        );
    }
}

async fn connect(addr: SocketAddr) -> BufReader<TcpStream> {
    BufReader::new(TcpStream::connect(addr).await.unwrap())
}

/// One keep-alive HTTP/1.1 request; returns the status, the head and the body.
async fn request(
    conn: &mut BufReader<TcpStream>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    conn.get_mut().write_all(req.as_bytes()).await.unwrap();
    let mut head = String::new();
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
        head.push_str(&line);
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).await.unwrap();
    (status, head, String::from_utf8_lossy(&body).into_owned())
}
