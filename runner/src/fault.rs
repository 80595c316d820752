//! Pause points for crash tests: with `KOBO_FAULT_PAUSE_AT=<name>` in its environment, kobo
//! stops for ever at the [`point`] of that name, after printing `fault point reached: <name>`
//! on stderr, so a test can `kill -9` it exactly there (tests/faults.rs). Without the
//! variable a point is one check of a value read once.
//!
//! The points: `claim-move` (an inbox file moved into its run folder, no record yet),
//! `claim-push` (the queued record written, the job not pushed), `write-output` (a run's
//! first output written, the rest not), `approve` (outputs copied to the outbox, the
//! approval not committed).

use std::sync::OnceLock;

/// The environment variable that names the point to stop at.
pub const PAUSE_AT: &str = "KOBO_FAULT_PAUSE_AT";

/// Stop here for ever if `KOBO_FAULT_PAUSE_AT` names this point; otherwise return at once.
pub async fn point(name: &str) {
    static PAUSE: OnceLock<Option<String>> = OnceLock::new();
    let pause = PAUSE.get_or_init(|| std::env::var(PAUSE_AT).ok());
    if pause.as_deref() == Some(name) {
        eprintln!("fault point reached: {name}");
        std::future::pending::<()>().await;
    }
}
