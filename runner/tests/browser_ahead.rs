//! The browser a worker starts ahead of its next run, in a real headless Chromium against
//! the practice portal: a run takes it instead of starting one; the next run gets another,
//! with a fresh profile (no cookie or local storage of the run before); a run that needs no
//! browser leaves it waiting; no process is left once the worker stops or it idles out.

#[path = "support/portal_run.rs"]
mod portal_run;

use portal::PortalHandle;
use portal_run::{LOGIN, Ran, run_workflow};
use runner::browser::{BrowserAhead, BrowserConfig, BrowserOffer, processes_mentioning};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Did the run use the browser started ahead (and not one of its own)?
fn used_the_browser_started_ahead(ran: &Ran) -> bool {
    let log = ran.log();
    let ahead = log.contains("browser started ahead of the run");
    let own = log.contains("browser started in");
    assert!(ahead != own, "one browser per run, said once:\n{log}");
    ahead
}

/// Run `steps` as a workflow, offered `offer`.
async fn run(portal: &PortalHandle, offer: Option<BrowserOffer>, steps: &str) -> Ran {
    run_workflow(portal, "ahead", "retry: { attempts: 1 }\n", steps, offer).await
}

/// The processes of a browser: Chromium's (they name its profile's folder) and chromedriver.
fn processes(profile: &Path, driver_pid: u32) -> Vec<u32> {
    let mut pids = processes_mentioning(profile.parent().unwrap());
    if running(driver_pid) {
        pids.push(driver_pid);
    }
    pids
}

fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, r)| !r.starts_with('Z'))
    })
}

/// Wait (up to 10 s) until `profile`'s browser has no process left.
async fn gone(profile: &Path, driver_pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes(profile, driver_pid);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes of {} left: {left:?}",
            profile.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait (up to 30 s) until a browser is started ahead, and return its profile folder.
async fn waiting(ahead: &BrowserAhead) -> runner::browser::WaitingBrowser {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(w) = ahead.waiting() {
            return w;
        }
        assert!(Instant::now() < deadline, "no browser was started ahead");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn each_run_takes_a_browser_started_ahead_and_none_sees_the_last_runs_cookies_or_storage() {
    let portal = portal::start().await.unwrap();
    let ahead = BrowserAhead::new(BrowserConfig::default());
    ahead.start().await;

    // Run 1 takes the waiting browser, signs in, and keeps a note in a cookie and in
    // local storage.
    let lent = ahead.lend().await.expect("a browser is started ahead");
    let first = lent.waiting().clone();
    assert!(!processes(&first.profile, first.driver_pid).is_empty());
    // The next run's browser is started at once, while run 1 works: runs queued back to
    // back each find theirs ready.
    let next = waiting(&ahead).await;
    assert_ne!(next.profile, first.profile);
    let ran = run(
        &portal,
        Some(lent.offer()),
        &format!(
            "{LOGIN}  - open: \"{{{{ params.portal_url }}}}/remember\"\n  - click: 覚える\n\
             \x20 - assert_text: \"ストレージ: 覚えた / クッキー: あり\"\n"
        ),
    )
    .await;
    ran.succeeded();
    assert!(used_the_browser_started_ahead(&ran), "{}", ran.log());
    // It served one run: closed.
    ahead.run_ended(Some(lent)).await;
    gone(&first.profile, first.driver_pid).await;

    // Run 2 gets another browser, with another profile, holding nothing of run 1.
    let lent = ahead.lend().await.expect("a new browser is started ahead");
    let second = lent.waiting().clone();
    assert_eq!(second, next);
    assert_ne!(second.profile, first.profile);
    assert_ne!(second.session, first.session);
    let ran = run(
        &portal,
        Some(lent.offer()),
        "  - open: \"{{ params.portal_url }}/remember\"\n\
         \x20 - assert_text: \"ストレージ: なし / クッキー: なし\"\n\
         \x20 - open: \"{{ params.portal_url }}/menu\"\n\
         \x20 - wait_for: { url_contains: /login }\n",
    )
    .await;
    ran.succeeded();
    assert!(used_the_browser_started_ahead(&ran), "{}", ran.log());
    ahead.run_ended(Some(lent)).await;
    gone(&second.profile, second.driver_pid).await;

    // Stopping the worker's browser ends the third one, waiting unused.
    let third = waiting(&ahead).await;
    assert!(!processes(&third.profile, third.driver_pid).is_empty());
    ahead.stop().await;
    gone(&third.profile, third.driver_pid).await;
    assert!(ahead.lend().await.is_none(), "nothing is lent once stopped");
    assert!(
        !third.profile.parent().unwrap().exists(),
        "its profile is removed"
    );
}

#[tokio::test]
async fn a_run_that_opens_no_page_leaves_the_waiting_browser_for_the_next() {
    let portal = portal::start().await.unwrap();
    let ahead = BrowserAhead::new(BrowserConfig::default());
    ahead.start().await;
    let lent = ahead.lend().await.unwrap();
    let before = lent.waiting().clone();
    // A browser step that is never reached: the browser was offered, not taken.
    let ran = run(
        &portal,
        Some(lent.offer()),
        "  - log: no browser today\n  - if: \"1 == 2\"\n    then:\n      - open: \"{{ params.portal_url }}/login\"\n",
    )
    .await;
    ran.succeeded();
    ahead.run_ended(Some(lent)).await;
    // The next browser was started when this one was lent: it waits, and the untouched
    // one is closed (one waiting browser is enough).
    let after = ahead.waiting().expect("a browser waits");
    assert_ne!(after.profile, before.profile);
    gone(&before.profile, before.driver_pid).await;
    let before = after;

    // The next run takes it, and a browser that the portal sends a file to saves it in
    // that run's own downloads folder.
    let lent = ahead.lend().await.unwrap();
    let ran = run(
        &portal,
        Some(lent.offer()),
        &format!(
            "{LOGIN}  - open: \"{{{{ params.portal_url }}}}/export\"\n\
             \x20 - download: {{ text: CSVをダウンロード, into: orders }}\n"
        ),
    )
    .await;
    ran.succeeded();
    assert!(used_the_browser_started_ahead(&ran), "{}", ran.log());
    let saved: PathBuf = ran.outcome.folder.join("downloads/orders.csv");
    assert!(saved.is_file(), "{}\n{}", saved.display(), ran.log());
    ahead.run_ended(Some(lent)).await;
    gone(&before.profile, before.driver_pid).await;
    ahead.stop().await;
}

#[tokio::test]
async fn a_browser_waiting_unused_too_long_is_closed() {
    let ahead = BrowserAhead::with_idle_limit(BrowserConfig::default(), Duration::from_secs(1));
    ahead.start().await;
    let w = waiting(&ahead).await;
    gone(&w.profile, w.driver_pid).await;
    assert!(ahead.waiting().is_none());
    // The next run that needs a browser starts its own; one is started ahead after it.
    assert!(ahead.lend().await.is_none());
    ahead.run_ended(None).await;
    let next = waiting(&ahead).await;
    assert_ne!(next.profile, w.profile);
    ahead.stop().await;
    gone(&next.profile, next.driver_pid).await;
}
