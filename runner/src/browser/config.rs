//! `BrowserConfig`: where chromedriver and chromium are, and the default timeouts.

use super::BrowserError;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How to start the browser. `BrowserConfig::default()` is right for most runs.
#[derive(Debug, Clone)]
pub struct BrowserConfig {
    /// chromedriver to run; when `None`: `$KOBO_CHROMEDRIVER`, else `chromedriver` on `PATH`.
    pub chromedriver: Option<PathBuf>,
    /// Browser binary; when `None`: `$KOBO_CHROMIUM`, else `chromium`, `chromium-browser`
    /// or `google-chrome` on `PATH`.
    pub chromium: Option<PathBuf>,
    /// Run without a window (default `true`).
    pub headless: bool,
    /// Window size in pixels (default 1920×1080; headless windows are tiny without it).
    pub window_size: (u32, u32),
    /// How long a step waits for its element when the step gives no timeout (default 10 s).
    pub element_timeout: Duration,
    /// How long a page may take to load (default 30 s).
    pub page_load_timeout: Duration,
    /// How long chromedriver and the browser may take to start (default 20 s).
    pub launch_timeout: Duration,
    /// Where files the portal sends are saved: the run's `downloads` folder. When `None`,
    /// a `downloads` folder next to the private profile, removed with it.
    pub download_dir: Option<PathBuf>,
}

impl Default for BrowserConfig {
    fn default() -> Self {
        BrowserConfig {
            chromedriver: None,
            chromium: None,
            headless: true,
            window_size: (1920, 1080),
            element_timeout: Duration::from_secs(10),
            page_load_timeout: Duration::from_secs(30),
            launch_timeout: Duration::from_secs(20),
            download_dir: None,
        }
    }
}

pub(crate) const INSTALL_HINT: &str = "sudo apt-get install chromium chromium-driver";

impl BrowserConfig {
    /// The chromedriver executable this config will run.
    pub fn chromedriver_path(&self) -> Result<PathBuf, BrowserError> {
        locate(
            self.chromedriver.as_deref(),
            "KOBO_CHROMEDRIVER",
            &["chromedriver"],
        )
        .map_err(|searched| BrowserError::ChromedriverMissing { searched })
    }

    /// The browser executable this config will run.
    pub fn chromium_path(&self) -> Result<PathBuf, BrowserError> {
        locate(
            self.chromium.as_deref(),
            "KOBO_CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        )
        .map_err(|searched| BrowserError::ChromiumMissing { searched })
    }
}

/// Find an executable: the configured path, else the environment variable, else `PATH`.
/// On failure, say where we looked.
fn locate(configured: Option<&Path>, env: &str, names: &[&str]) -> Result<PathBuf, String> {
    if let Some(path) = configured {
        return executable(path)
            .then(|| path.to_path_buf())
            .ok_or_else(|| format!("the configured path {} does not exist", path.display()));
    }
    if let Some(path) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return executable(&path)
            .then(|| path.clone())
            .ok_or_else(|| format!("{env}={} does not exist", path.display()));
    }
    let dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for name in names {
        for dir in &dirs {
            let candidate = dir.join(name);
            if executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    Err(format!(
        "looked for {} on PATH and in ${env}",
        names.join(", ")
    ))
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_configured_path_says_so_and_how_to_install() {
        let config = BrowserConfig {
            chromedriver: Some("/nowhere/chromedriver".into()),
            ..BrowserConfig::default()
        };
        let message = config.chromedriver_path().unwrap_err().to_string();
        assert!(message.contains("/nowhere/chromedriver"), "{message}");
        assert!(message.contains(INSTALL_HINT), "{message}");
    }
}
