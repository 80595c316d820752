//! Pause points for crash tests: with `KOBO_FAULT_PAUSE_AT=<name>` in its environment, kobo
//! stops for ever at the [`point`] of that name, after printing `fault point reached: <name>`
//! on stderr, so a test can `kill -9` it exactly there (tests/faults.rs). Without the
//! variable a point is one check of a value read once.
//!
//! The points: `claim-move` (an inbox file moved into its run folder, no record yet),
//! `claim-push` (the queued record written, the job not pushed), `write-output` (a run's
//! first output written, the rest not), `approve` (outputs copied to the outbox, the
//! approval not committed), `finish-run` (a run's steps done, its end not recorded).
//!
//! With `KOBO_FAULT_PANIC_AT=<name>` kobo panics at that point instead, as a bug would:
//! a test checks the run still ends recorded as failed, not running for ever.
//!
//! With `KOBO_FAULT_ABORT_AT=<name>` the whole process aborts there (as a crash in a
//! library, or running out of memory, would): no unwinding, nothing recorded.

use std::sync::OnceLock;

/// The environment variable that names the point to stop at.
pub const PAUSE_AT: &str = "KOBO_FAULT_PAUSE_AT";

/// The environment variable that names the point to panic at.
pub const PANIC_AT: &str = "KOBO_FAULT_PANIC_AT";

/// The environment variable that names the point to abort the process at.
pub const ABORT_AT: &str = "KOBO_FAULT_ABORT_AT";

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
