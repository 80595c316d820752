//! The chromedriver process and everything it starts.
//!
//! chromedriver runs in its own process group, and chromium inherits it, so one `killpg`
//! ends them all. Each of them names the driver's own temporary directory on its command
//! line (chromedriver its `--log-path`, Chromium its `--user-data-dir`), so whoever watches
//! for leftovers (tests, an operator with `ps`) can tell them apart. chromium's crash handlers leave the group (they call `setsid`); pointing
//! their database into our profile directory (`BREAKPAD_DUMP_LOCATION`) puts that directory
//! on their command line, and a sweep of `/proc` for it catches them too.

use super::BrowserError;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// A running chromedriver, its browser profile directory, and its process group.
/// Dropping it kills the group and waits (briefly) until the processes are gone.
pub(crate) struct Driver {
    child: Child,
    pgid: Pid,
    port: u16,
    output: PathBuf,
    log: PathBuf,
    // Declared last: removed only after the processes using it are dead.
    profile: TempDir,
}

impl Driver {
    /// Start chromedriver on a free loopback port.
    pub(crate) fn spawn(chromedriver: &Path) -> Result<Driver, BrowserError> {
        let spawn_error = |source| BrowserError::DriverSpawn {
            path: chromedriver.to_path_buf(),
            source,
        };
        let profile = tempfile::Builder::new()
            .prefix("kobo-browser-")
            .tempdir()
            .map_err(spawn_error)?;
        let port = free_port().map_err(spawn_error)?;
        let output = profile.path().join("chromedriver.out");
        let out = std::fs::File::create(&output).map_err(spawn_error)?;
        let err = out.try_clone().map_err(spawn_error)?;
        let log = profile.path().join("chromedriver.log");
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .env("BREAKPAD_DUMP_LOCATION", profile.path().join("crash"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_error)?;
        let pid = child.id().unwrap_or_default();
        Ok(Driver {
            child,
            pgid: Pid::from_raw(pid as i32),
            port,
            output,
            log,
            profile,
        })
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The browser profile directory (`--user-data-dir`); unique to this driver.
    pub(crate) fn profile_dir(&self) -> PathBuf {
        self.profile.path().join("profile")
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pgid.as_raw() as u32
    }

    /// Poll `GET /status` until chromedriver says it is ready.
    pub(crate) async fn wait_ready(&mut self, timeout: Duration) -> Result<(), BrowserError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(BrowserError::DriverNotReady {
                    waited: started.elapsed(),
                    output: format!("{}\n(chromedriver exited: {status})", self.output()),
                });
            }
            if status_ready(self.port).await {
                return Ok(());
            }
            if started.elapsed() >= timeout {
                return Err(BrowserError::DriverNotReady {
                    waited: timeout,
                    output: self.output(),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// What chromedriver printed and logged so far.
    pub(crate) fn output(&self) -> String {
        let printed = std::fs::read_to_string(&self.output).unwrap_or_default();
        let logged = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!("{printed}{logged}")
    }

    /// Kill the group and wait for every process to be gone.
    pub(crate) async fn shutdown(mut self) {
        self.kill_all();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.leftovers().is_empty() && Instant::now() < deadline {
            self.kill_all();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Drop runs next; it finds nothing left to do.
    }

    fn kill_all(&mut self) {
        let _ = killpg(self.pgid, Signal::SIGKILL);
        for pid in self.leftovers() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        let _ = self.child.start_kill();
    }

    /// Live processes outside the group that still use our profile directory.
    fn leftovers(&self) -> Vec<u32> {
        processes_mentioning(self.profile.path())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.kill_all();
        // A short blocking wait so the profile directory can be removed and callers that
        // count processes see them gone. SIGKILL takes effect within milliseconds.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let driver_gone = matches!(self.child.try_wait(), Ok(Some(_)) | Err(_));
            if driver_gone && self.leftovers().is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            self.kill_all();
        }
    }
}

/// Live processes (not zombies) whose command line mentions `path`.
pub fn processes_mentioning(path: &Path) -> Vec<u32> {
    let needle = path.as_os_str().as_encoded_bytes();
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            // Zombies have an empty command line.
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| cmd.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}

fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// One bounded `GET /status`; `true` when chromedriver answers `"ready": true`.
async fn status_ready(port: u16) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let request =
            format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        // chromedriver may keep the connection open, so read only until the answer is known.
        let mut response = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return Some(false);
            }
            response.extend_from_slice(&chunk[..n]);
            let compact: String = String::from_utf8_lossy(&response)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            if compact.contains("\"ready\":true") {
                return Some(true);
            }
            if compact.contains("\"ready\":false") {
                return Some(false);
            }
        }
    };
    tokio::time::timeout(Duration::from_millis(500), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}
