//! For the browser benchmarks: chromedriver and a headless Chromium started with fantoccini
//! alone, as directly as it can be written, with the same Chrome flags as kobo
//! (runner/src/browser.rs, `capabilities`).

use fantoccini::{Client, ClientBuilder};
use serde_json::json;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Start `chromedriver` on a free port and open a session of `chromium` on a fresh profile
/// in `profile`. Kill the returned process when done.
pub async fn start(
    chromedriver: &Path,
    chromium: &Path,
    profile: &Path,
) -> (tokio::process::Child, Client) {
    let t = Instant::now();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = tokio::process::Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium.to_string_lossy(),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1920,1080",
                format!("--user-data-dir={}", profile.join("profile").display()),
            ],
        },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    let webdriver = format!("http://127.0.0.1:{port}");
    let client = loop {
        match ClientBuilder::native()
            .capabilities(caps.clone())
            .connect(&webdriver)
            .await
        {
            Ok(c) => break c,
            Err(_) if t.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            Err(e) => panic!("chromedriver: {e}"),
        }
    };
    (driver, client)
}
