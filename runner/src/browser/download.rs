//! Files the portal sends: click, then wait until the browser has saved the whole file in
//! the download folder.
//!
//! Chromium writes a download as `<name>.crdownload` (or `Unconfirmed <n>.crdownload`) and
//! renames it to its real name when the last byte is in, so a new file with a real name
//! is complete. A name that is already in the folder is never reused: Chromium saves a
//! second `orders.csv` as `orders (1).csv`.

use super::{Browser, BrowserError, Locator, POLL};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Names of files being written by the browser, not yet complete.
fn is_partial(name: &str) -> bool {
    name.ends_with(".crdownload") || name.ends_with(".tmp") || name.starts_with(".com.google.")
}

/// The files in `dir` with their sizes (none when it does not exist yet).
fn listing(dir: &Path) -> BTreeMap<OsString, u64> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| (e.file_name(), e.metadata().map(|m| m.len()).unwrap_or(0)))
        .collect()
}

impl Browser {
    /// Where this browser saves downloads: the run's `downloads/` folder when configured.
    pub fn download_dir(&self) -> PathBuf {
        let dir = match &self.config.download_dir {
            Some(dir) => dir.clone(),
            None => self.profile_dir().with_file_name("downloads"),
        };
        // As the browser was told it (see `launch`).
        std::path::absolute(&dir).unwrap_or(dir)
    }

    /// Click `locator` and wait (up to `wait`; default the page load timeout) until the file
    /// it makes the portal send is completely saved. Returns the saved file.
    pub async fn download(
        &self,
        locator: &Locator,
        timeout: Option<Duration>,
    ) -> Result<PathBuf, BrowserError> {
        let dir = self.download_dir();
        let before = listing(&dir);
        self.click(locator, timeout).await?;
        let wait = timeout.unwrap_or(self.config.page_load_timeout);
        let deadline = Instant::now() + wait;
        // A new complete file, seen twice with the same size and nothing still arriving.
        let mut candidate: Option<(OsString, u64)> = None;
        loop {
            let now = listing(&dir);
            let new: Vec<(&OsString, &u64)> = now
                .iter()
                .filter(|(name, _)| !before.contains_key(*name))
                .collect();
            let partial = new
                .iter()
                .find(|(name, _)| is_partial(&name.to_string_lossy()))
                .map(|(name, _)| name.to_string_lossy().to_string());
            let complete = new
                .iter()
                .find(|(name, _)| !is_partial(&name.to_string_lossy()))
                .map(|(name, size)| ((*name).clone(), **size));
            match (&complete, &partial, &candidate) {
                (Some(c), None, Some(seen)) if c == seen => return Ok(dir.join(&c.0)),
                _ => candidate = complete.filter(|_| partial.is_none()),
            }
            if Instant::now() >= deadline {
                return Err(BrowserError::DownloadTimedOut {
                    what: locator.describe(),
                    timeout: wait,
                    partial,
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(POLL.min(left).max(Duration::from_millis(5))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_partial;

    #[test]
    fn files_still_arriving_are_told_apart() {
        assert!(is_partial("orders.csv.crdownload"));
        assert!(is_partial("Unconfirmed 123456.crdownload"));
        assert!(!is_partial("orders.csv"));
        assert!(!is_partial("orders (1).xlsx"));
    }
}
