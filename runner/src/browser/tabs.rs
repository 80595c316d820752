//! Tabs and windows the portal opens (a link with `target=_blank`, `window.open`): switch
//! to the newest one, back to the first, or close the current one.
//!
//! WebDriver works in one tab at a time. Switching puts later steps on that tab's main
//! page, outside any frame: a frame entered before is left (enter it again after coming
//! back). Which tabs kobo has already switched to is remembered, so `new_tab` means one the
//! workflow has not worked in yet.

use super::{Browser, BrowserError, POLL};
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::wd::WindowHandle;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The tabs a run has worked in; the first is where the browser started.
#[derive(Debug, Default)]
pub(crate) struct Tabs(Mutex<Vec<WindowHandle>>);

impl Tabs {
    fn known(&self) -> Vec<WindowHandle> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn add(&self, handle: WindowHandle) {
        if let Ok(mut v) = self.0.lock()
            && !v.contains(&handle)
        {
            v.push(handle);
        }
    }
}

fn no_such_window(e: &CmdError) -> bool {
    matches!(e, CmdError::Standard(w) if w.error == ErrorStatus::NoSuchWindow)
}

impl Browser {
    /// Was `err` about the tab the steps work in being closed, while the browser still has
    /// others? (Then the browser is fine; only that tab is gone.)
    pub(super) async fn tab_closed(&self, err: &CmdError) -> bool {
        no_such_window(err) && self.client.windows().await.is_ok_and(|w| !w.is_empty())
    }

    /// The first tab, remembered at the first tab step (until then the browser has only
    /// ever worked in the tab it started with).
    async fn first_tab(&self) -> Result<WindowHandle, BrowserError> {
        if let Some(first) = self.tabs.known().first() {
            return Ok(first.clone());
        }
        match self.client.window().await {
            Ok(handle) => {
                self.tabs.add(handle.clone());
                Ok(handle)
            }
            Err(e) => Err(self.fail(e, "read which tab is open").await),
        }
    }

    /// Wait (up to `timeout`) for a tab or window the workflow has not worked in yet, and
    /// work in it. With several, the one opened last.
    pub async fn switch_to_new_tab(&self, timeout: Option<Duration>) -> Result<(), BrowserError> {
        self.first_tab().await?;
        let timeout = self.timeout(timeout);
        let deadline = Instant::now() + timeout;
        loop {
            let open = match self.client.windows().await {
                Ok(open) => open,
                Err(e) => return Err(self.fail(e, "list the tabs").await),
            };
            let known = self.tabs.known();
            if let Some(new) = open.iter().rev().find(|h| !known.contains(h)) {
                return match self.client.switch_to_window(new.clone()).await {
                    Ok(()) => {
                        self.tabs.add(new.clone());
                        Ok(())
                    }
                    Err(e) => Err(self.fail(e, "switch to the new tab").await),
                };
            }
            if Instant::now() >= deadline {
                return Err(BrowserError::NoNewTab {
                    timeout,
                    open: open.len(),
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(POLL.min(left).max(Duration::from_millis(5))).await;
        }
    }

    /// Work in the first tab again (its main page, outside any frame).
    pub async fn switch_to_first_tab(&self) -> Result<(), BrowserError> {
        let first = self.first_tab().await?;
        match self.client.switch_to_window(first).await {
            Ok(()) => Ok(()),
            Err(e) if no_such_window(&e) => Err(BrowserError::FirstTabClosed),
            Err(e) => Err(self.fail(e, "switch to the first tab").await),
        }
    }

    /// Close the tab the steps work in (if the page has not closed it itself already) and
    /// go back to the first tab. The first tab is never closed.
    pub async fn close_tab(&self) -> Result<(), BrowserError> {
        let first = self.first_tab().await?;
        match self.client.window().await {
            Ok(current) if current == first => return Err(BrowserError::CloseFirstTab),
            Ok(_) => match self.client.close_window().await {
                Ok(()) => {}
                Err(e) if no_such_window(&e) => {}
                Err(e) => return Err(self.fail(e, "close the tab").await),
            },
            // The page closed its own window (a 閉じる button): nothing left to close.
            Err(e) if no_such_window(&e) => {}
            Err(e) => return Err(self.fail(e, "read which tab is open").await),
        }
        self.switch_to_first_tab().await
    }
}
