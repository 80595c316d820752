//! Pause points for crash tests: with `KOBO_FAULT_PAUSE_AT=<name>` in its environment, kobo
//! stops for ever at the [`point`] of that name, after printing `fault point reached: <name>`
//! on stderr, so a test can `kill -9` it exactly there (tests/faults.rs). Without the
//! variable a point is one check of a value read once.
//!
//! The points: `claim-move` (an inbox file moved into its run folder, no record yet),
//! `claim-push` (the queued record written, the job not pushed), `write-output` (a run's
//! first output written, the rest not), `approve` (outputs copied to the outbox, the
//! approval not committed), `finish-run` (a run's steps done, its end not recorded),
//! `row-clicked` (inside a `for_each` row, a click or key press done, the row not ended).
//!
//! With `KOBO_FAULT_PANIC_AT=<name>` kobo panics at that point instead, as a bug would:
//! a test checks the run still ends recorded as failed, not running for ever.
//!
//! Tests that run kobo inside their own process use a [`Hold`] instead: the point named,
//! for one key (`approve` takes the run id), waits until the test releases it, so the test
//! can do something in between (close the HTTP connection of the approval, say).
//!
//! With `KOBO_FAULT_ABORT_AT=<name>` the whole process aborts there (as a crash in a
//! library, or running out of memory, would): no unwinding, nothing recorded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The environment variable that names the point to stop at.
pub const PAUSE_AT: &str = "KOBO_FAULT_PAUSE_AT";

/// The environment variable that names the point to panic at.
pub const PANIC_AT: &str = "KOBO_FAULT_PANIC_AT";

/// The environment variable that names the point to abort the process at.
pub const ABORT_AT: &str = "KOBO_FAULT_ABORT_AT";

/// [`point`], and wait here while a [`Hold`] holds this point for this `key`.
pub async fn point_for(name: &str, key: &str) {
    point(name).await;
    if !HELD.load(Ordering::Acquire) {
        return;
    }
    let held = holds()
        .iter()
        .find(|h| h.name == name && h.key == key)
        .cloned();
    if let Some(h) = held {
        h.reached.notify_one();
        let mut released = h.released.subscribe();
        let _ = released.wait_for(|r| *r).await;
    }
}

/// Whether any [`Hold`] was ever made: points skip the lock when none was.
static HELD: AtomicBool = AtomicBool::new(false);

static HOLDS: Mutex<Vec<Arc<Held>>> = Mutex::new(Vec::new());

fn holds() -> std::sync::MutexGuard<'static, Vec<Arc<Held>>> {
    HOLDS.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug)]
struct Held {
    name: String,
    key: String,
    reached: tokio::sync::Notify,
    released: tokio::sync::watch::Sender<bool>,
}

/// A point held for a test in this process: [`point_for`] with this name and key waits
/// until [`Hold::release`] (or until the `Hold` is dropped).
#[derive(Debug)]
pub struct Hold(Arc<Held>);

impl Hold {
    pub fn new(name: &str, key: &str) -> Hold {
        let held = Arc::new(Held {
            name: name.into(),
            key: key.into(),
            reached: tokio::sync::Notify::new(),
            released: tokio::sync::watch::Sender::new(false),
        });
        holds().push(held.clone());
        HELD.store(true, Ordering::Release);
        Hold(held)
    }

    /// Wait until kobo waits at the point.
    pub async fn reached(&self) {
        self.0.reached.notified().await
    }

    /// Let kobo go on from the point (now and every later time it gets there).
    pub fn release(&self) {
        self.0.released.send_replace(true);
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.release();
        holds().retain(|h| !Arc::ptr_eq(h, &self.0));
    }
}

/// Stop here for ever if `KOBO_FAULT_PAUSE_AT` names this point (panic if
/// `KOBO_FAULT_PANIC_AT` does); otherwise return at once.
pub async fn point(name: &str) {
    static PAUSE: OnceLock<Option<String>> = OnceLock::new();
    static PANIC: OnceLock<Option<String>> = OnceLock::new();
    static ABORT: OnceLock<Option<String>> = OnceLock::new();
    let pause = PAUSE.get_or_init(|| std::env::var(PAUSE_AT).ok());
    if ABORT
        .get_or_init(|| std::env::var(ABORT_AT).ok())
        .as_deref()
        == Some(name)
    {
        eprintln!("fault point reached: {name} (aborting)");
        std::process::abort();
    }
    if PANIC
        .get_or_init(|| std::env::var(PANIC_AT).ok())
        .as_deref()
        == Some(name)
    {
        panic!("fault point {name} ({PANIC_AT})");
    }
    if pause.as_deref() == Some(name) {
        eprintln!("fault point reached: {name}");
        std::future::pending::<()>().await;
    }
}
