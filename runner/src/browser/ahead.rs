//! A browser started *ahead* of the run that will use it: a worker keeps one chromedriver
//! and headless Chromium (fresh profile, WebDriver session open, no page visited) waiting,
//! so the next run that needs a browser skips the start (about a second here).
//!
//! The worker owns the processes ([`BrowserAhead`]); a run is *offered* the waiting browser
//! ([`BrowserOffer`]: where its chromedriver listens and which session to attach to), also
//! across the process boundary of `kobo run-job`, and takes it only at its first browser
//! step. Taking says so first ([`BrowserOffer`]'s `on_take`), so the worker never offers it
//! again, even when the run's process dies right after: a browser serves one run, then it
//! is closed, so no cookie, storage or cache passes between runs or clients. The next one,
//! with a new profile, is started as soon as the waiting one is lent: runs queued back to
//! back each find theirs ready (one browser waits while another works). A run that needs
//! no browser leaves it waiting.
//!
//! A waiting browser idle longer than [`IDLE_LIMIT`] is closed; the next browser run starts
//! its own, and a new one is started ahead after it. [`BrowserAhead::stop`] (or dropping
//! the [`StopGuard`] guard) ends it; after a `kill -9` of the worker, its processes name a
//! dead owner, and the next worker or browser start sweeps them ([`super::sweep_orphans`]).

use super::driver::Driver;
use super::{BrowserConfig, BrowserError, ChromeCommand, Started, start_session};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A waiting browser unused this long is closed (and started again after the next browser
/// run): an idle worker should not hold Chromium's memory for hours.
pub const IDLE_LIMIT: Duration = Duration::from_secs(10 * 60);

/// Where a browser started ahead waits: enough for a run (in this process or in a
/// `kobo run-job` process) to attach to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WaitingBrowser {
    /// chromedriver's address (`http://127.0.0.1:<port>`).
    pub webdriver: String,
    /// The WebDriver session, opened with a fresh profile.
    pub session: String,
    /// Its profile directory (`--user-data-dir`), unique to this browser.
    pub profile: PathBuf,
    /// chromedriver's process id (it leads the process group).
    pub driver_pid: u32,
    /// The browser binary, chromedriver, headless and window size it was started with: a
    /// run that asks for other ones starts its own.
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
    pub headless: bool,
    pub window_size: (u32, u32),
}

impl WaitingBrowser {
    /// Can a run with `config` use this browser?
    pub fn fits(&self, config: &BrowserConfig) -> bool {
        config.headless == self.headless
            && config.window_size == self.window_size
            && config.chromium_path().is_ok_and(|p| p == self.chromium)
            && config
                .chromedriver_path()
                .is_ok_and(|p| p == self.chromedriver)
    }
}

/// A waiting browser offered to one run. `on_take` is called before the run attaches to
/// it: from then on it is the run's, and its owner never offers it again.
#[derive(Clone)]
pub struct BrowserOffer {
    pub browser: WaitingBrowser,
    on_take: Arc<dyn Fn() + Send + Sync>,
}

impl BrowserOffer {
    pub fn new(browser: WaitingBrowser, on_take: Arc<dyn Fn() + Send + Sync>) -> BrowserOffer {
        BrowserOffer { browser, on_take }
    }

    /// Mark it taken (see the type's doc) and return where it is.
    pub(crate) fn take(self) -> WaitingBrowser {
        (self.on_take)();
        self.browser
    }
}

impl std::fmt::Debug for BrowserOffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserOffer")
            .field("browser", &self.browser)
            .finish_non_exhaustive()
    }
}

/// A browser started ahead, owned by the worker while it waits.
struct Warm {
    driver: Driver,
    waiting: WaitingBrowser,
    since: Instant,
    /// Tells this browser apart from the next one (for the idle check).
    number: u64,
}

enum Slot {
    /// None waiting (not started yet, closed when idle, or its start failed). While one
    /// is being started, the start holds the lock.
    Empty,
    /// Started, waiting for a run.
    Ready(Box<Warm>),
}

struct Inner {
    config: BrowserConfig,
    idle: Duration,
    slot: Arc<tokio::sync::Mutex<Slot>>,
    stopped: AtomicBool,
    started: AtomicU64,
}

/// The worker's browser started ahead (see the module doc). Cheap to clone; all clones
/// share the one waiting browser.
#[derive(Clone)]
pub struct BrowserAhead {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BrowserAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserAhead")
            .field("waiting", &self.waiting())
            .finish_non_exhaustive()
    }
}

/// A waiting browser lent to one run; give it back with [`BrowserAhead::run_ended`].
/// Dropped without that (the run's job was dropped halfway), it closes its browser: the
/// driver's drop kills its processes.
pub struct Lent {
    /// `None` once given back.
    warm: Option<Warm>,
    waiting: WaitingBrowser,
    taken: Arc<AtomicBool>,
}

impl Lent {
    /// The offer for the run, marking this loan taken when the run takes it. A run in
    /// another process says so instead (see `child_run`), and its worker calls
    /// [`Lent::mark_taken`].
    pub fn offer(&self) -> BrowserOffer {
        let taken = self.taken.clone();
        BrowserOffer::new(
            self.waiting.clone(),
            Arc::new(move || taken.store(true, Ordering::SeqCst)),
        )
    }

    pub fn waiting(&self) -> &WaitingBrowser {
        &self.waiting
    }

    pub fn mark_taken(&self) {
        self.taken.store(true, Ordering::SeqCst);
    }
}

impl BrowserAhead {
    /// Nothing is started yet: the first browser start comes after the first run that
    /// needs a browser ([`BrowserAhead::run_ended`]), or with [`BrowserAhead::start`].
    pub fn new(config: BrowserConfig) -> BrowserAhead {
        BrowserAhead::with_idle_limit(config, IDLE_LIMIT)
    }

    /// As [`BrowserAhead::new`], closing a waiting browser after `idle` instead of
    /// [`IDLE_LIMIT`].
    pub fn with_idle_limit(config: BrowserConfig, idle: Duration) -> BrowserAhead {
        BrowserAhead {
            inner: Arc::new(Inner {
                config,
                idle,
                slot: Arc::new(tokio::sync::Mutex::new(Slot::Empty)),
                stopped: AtomicBool::new(false),
                started: AtomicU64::new(0),
            }),
        }
    }

    /// Start a browser ahead unless one waits or is being started. Returns at once; the start goes on in the background (a run asking meanwhile waits for it).
    pub async fn start(&self) {
        if self.inner.stopped.load(Ordering::SeqCst) {
            return;
        }
        let mut slot = self.inner.slot.clone().lock_owned().await;
        if !matches!(*slot, Slot::Empty) || self.inner.stopped.load(Ordering::SeqCst) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let number = this.inner.started.fetch_add(1, Ordering::SeqCst) + 1;
            let began = Instant::now();
            match start_warm(&this.inner.config, number).await {
                Ok(warm) if this.inner.stopped.load(Ordering::SeqCst) => {
                    warm.driver.shutdown().await;
                }
                Ok(warm) => {
                    tracing::info!(
                        ms = began.elapsed().as_millis() as u64,
                        "a browser is started ahead for the next run (fresh profile)"
                    );
                    *slot = Slot::Ready(Box::new(warm));
                    drop(slot);
                    this.close_when_idle(number);
                }
                Err(e) => {
                    tracing::warn!("could not start a browser ahead of the next run: {e}");
                }
            }
        });
    }

    /// Lend the waiting browser to a run that needs one, and start the next one ahead at
    /// once, so that a run queued behind this one finds its browser ready too (while a run
    /// goes on, two browsers are open: its own and the next one's). Waits while one is being
    /// started; `None` when none waits (not started yet, lent to another run, stopped).
    pub async fn lend(&self) -> Option<Lent> {
        if self.inner.stopped.load(Ordering::SeqCst) {
            return None;
        }
        let mut slot = self.inner.slot.lock().await;
        // None waits, or another run has it.
        if !matches!(*slot, Slot::Ready(_)) {
            return None;
        }
        let Slot::Ready(mut warm) = std::mem::replace(&mut *slot, Slot::Empty) else {
            unreachable!("checked above")
        };
        drop(slot);
        if warm.driver.is_running() {
            self.start().await;
            return Some(Lent {
                waiting: warm.waiting.clone(),
                warm: Some(*warm),
                taken: Arc::new(AtomicBool::new(false)),
            });
        }
        tracing::warn!("the browser started ahead has stopped; the run starts its own");
        warm.driver.shutdown().await;
        self.start().await;
        None
    }

    /// A run that needed a browser ended. A loan it took is closed (its browser served
    /// one run); one it did not take waits on, unless the next one already waits (one
    /// waiting browser is enough). Then one is started ahead if none waits.
    pub async fn run_ended(&self, lent: Option<Lent>) {
        if let Some(mut lent) = lent
            && let Some(warm) = lent.warm.take()
        {
            let taken = lent.taken.load(Ordering::SeqCst);
            {
                let mut slot = self.inner.slot.lock().await;
                if !taken
                    && matches!(*slot, Slot::Empty)
                    && !self.inner.stopped.load(Ordering::SeqCst)
                {
                    let number = warm.number;
                    *slot = Slot::Ready(Box::new(warm));
                    drop(slot);
                    // Its idle check may have come while it was lent.
                    self.close_when_idle(number);
                    return;
                }
            }
            warm.driver.shutdown().await;
        }
        self.start().await;
    }

    /// Start no more browsers ahead (the worker is stopping). Cheap; call
    /// [`BrowserAhead::stop`] to close the waiting one.
    pub fn stopping(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
    }

    /// Close the waiting browser (after a start in progress ends) and start no more.
    pub async fn stop(&self) {
        self.stopping();
        let mut slot = self.inner.slot.lock().await;
        if let Slot::Ready(warm) = std::mem::replace(&mut *slot, Slot::Empty) {
            warm.driver.shutdown().await;
        }
    }

    /// Stops the waiting browser when dropped, also when the worker's future is dropped
    /// halfway (the service stopping): its processes are killed then, without waiting.
    pub fn stop_guard(&self) -> StopGuard {
        StopGuard(self.clone())
    }

    /// The waiting browser, if one is ready now (for tests and logs).
    pub fn waiting(&self) -> Option<WaitingBrowser> {
        match &*self.inner.slot.try_lock().ok()? {
            Slot::Ready(warm) => Some(warm.waiting.clone()),
            _ => None,
        }
    }

    fn close_when_idle(&self, number: u64) {
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(this.inner.idle).await;
            let mut slot = this.inner.slot.lock().await;
            if let Slot::Ready(warm) = &*slot
                && warm.number == number
                && warm.since.elapsed() >= this.inner.idle
                && let Slot::Ready(warm) = std::mem::replace(&mut *slot, Slot::Empty)
            {
                drop(slot);
                tracing::info!(
                    "the browser started ahead waited {} s unused and is closed; the next browser run starts one again",
                    this.inner.idle.as_secs()
                );
                warm.driver.shutdown().await;
            }
        });
    }
}

/// See [`BrowserAhead::stop_guard`].
pub struct StopGuard(BrowserAhead);

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.0.stopping();
        // A start in progress holds the lock; it sees `stopped` when done and closes its
        // browser (or, if the runtime goes first, the driver's own drop kills it).
        if let Ok(mut slot) = self.0.inner.slot.try_lock()
            && let Slot::Ready(warm) = std::mem::replace(&mut *slot, Slot::Empty)
        {
            // Driver's drop kills the process group and waits briefly.
            drop(warm);
        }
    }
}

/// Start chromedriver and Chromium, open a session and leave it open.
async fn start_warm(config: &BrowserConfig, number: u64) -> Result<Warm, BrowserError> {
    let Started {
        driver,
        client,
        chromium,
        chromedriver,
    } = start_session(config).await?;
    let not_created = |e: fantoccini::error::CmdError| BrowserError::SessionNotCreated {
        message: e.to_string(),
    };
    let session = client
        .session_id()
        .await
        .map_err(not_created)?
        .unwrap_or_default();
    // The first DevTools command of a session is slow (0.2 to 1 s here: chromedriver
    // connects to the tab): pay it now, with the command the run sends when it takes it.
    let downloads = driver.profile_dir().with_file_name("downloads");
    client
        .issue_cmd(ChromeCommand::new(
            "Browser.setDownloadBehavior",
            json!({ "behavior": "allow", "downloadPath": downloads.to_string_lossy() }),
        ))
        .await
        .map_err(not_created)?;
    // The session outlives this client: the run attaches to it, and ends it.
    client.persist().await.map_err(not_created)?;
    drop(client);
    Ok(Warm {
        waiting: WaitingBrowser {
            webdriver: driver.url(),
            session,
            profile: driver.profile_dir(),
            driver_pid: driver.pid(),
            chromium,
            chromedriver,
            headless: config.headless,
            window_size: config.window_size,
        },
        driver,
        since: Instant::now(),
        number,
    })
}
