//! The chromedriver process and everything it starts.
//!
//! chromedriver runs in its own process group, and chromium inherits it, so one `killpg`
//! ends them all. Each of them names the driver's own temporary directory on its command
//! line (chromedriver its `--log-path`, Chromium its `--user-data-dir`), so whoever watches
//! for leftovers (tests, an operator with `ps`) can tell them apart. chromium's crash handlers leave the group (they call `setsid`); pointing
//! their database into our profile directory (`BREAKPAD_DUMP_LOCATION`) puts that directory
//! on their command line, and a sweep of `/proc` for it catches them too.
//!
//! A kobo killed with SIGKILL cannot clean up: its chromedriver and Chromium live on. The
//! directory's name carries the owner's process id (`kobo-browser-<pid>-…`), and every new
//! driver first ends the processes and removes the directories of owners that are gone
//! ([`sweep_orphans`]), so such leftovers last only until the next browser run.

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
        sweep_orphans();
        let profile = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{}-", std::process::id()))
            .tempdir()
            .map_err(spawn_error)?;
        let port = free_port().map_err(spawn_error)?;
        let output = profile.path().join("chromedriver.out");
        let out = std::fs::File::create(&output).map_err(spawn_error)?;
        let err = out.try_clone().map_err(spawn_error)?;
        let log = profile.path().join("chromedriver.log");
        let mut command = Command::new(chromedriver);
        // The browser renders pages nobody here wrote: it gets no records address (with its
        // password) and no secret from kobo's environment.
        command.env_remove("KOBO_RECORDS");
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("KOBO_SECRET_") {
                command.env_remove(name);
            }
        }
        let child = command
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            // A log path alone raises the level to INFO, which writes every command with
            // its text (typed passwords, the client's data) to disk: keep it off.
            .arg("--log-level=OFF")
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

    /// Poll `GET /status` until chromedriver says it is ready. The answer counts only once
    /// this chromedriver itself listens on the port: until then it may come from another
    /// program that took the port after it was found free (another run's chromedriver, whose
    /// sessions are not this run's); this one then exits, and the start fails.
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
            if status_ready(self.port).await && listens_on(self.pid(), self.port) {
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

    /// Is chromedriver still running?
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
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

/// The start of every driver directory's name; the owner's process id follows.
const PREFIX: &str = "kobo-browser-";

/// End the browser processes, and remove the directories, of kobo processes that died
/// without cleaning up (killed with SIGKILL). Only arguments naming a driver directory
/// (`--user-data-dir=…/kobo-browser-<pid>-…`) count, and only when process `<pid>` is gone.
pub fn sweep_orphans() {
    let own_group = group_of("self");
    // The orphans, and their process groups: chromedriver leads one, and Chromium's helper
    // processes (which may not name the folder, yet write into it) are in it.
    let mut killed = Vec::new();
    let mut groups = Vec::new();
    for pid in pids() {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let orphaned = cmdline.split(|b| *b == 0).any(|arg| {
            let arg = String::from_utf8_lossy(arg);
            arg.starts_with("--") && owner_in(&arg).is_some_and(|owner| !alive(owner))
        });
        // Only our own user's processes, in our own process namespace (a container's pids
        // mean nothing here).
        if !orphaned || !same_user_and_namespace(pid) {
            continue;
        }
        if let Some(group) = group_of(&pid.to_string())
            && group > 1
            && Some(group) != own_group
            && !groups.contains(&group)
        {
            let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
            groups.push(group);
        }
        if kill(Pid::from_raw(pid as i32), Signal::SIGKILL).is_ok() {
            killed.push(pid);
        }
    }
    if killed.is_empty() {
        remove_orphan_folders();
        return;
    }
    // Let them die before their folders go: a dying Chromium may still write into them.
    let deadline = Instant::now() + Duration::from_secs(3);
    let any_left = || {
        pids().any(|pid| {
            running(pid)
                && (killed.contains(&pid)
                    || group_of(&pid.to_string()).is_some_and(|g| groups.contains(&g)))
        })
    };
    while any_left() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    remove_orphan_folders();
}

fn same_user_and_namespace(pid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let uid = |p: &str| {
        std::fs::metadata(format!("/proc/{p}"))
            .map(|m| m.uid())
            .ok()
    };
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
    let pid = pid.to_string();
    uid(&pid).is_some() && uid(&pid) == uid("self") && ns(&pid).is_some() && ns(&pid) == ns("self")
}

/// Remove the driver folders (in the temporary directory) whose owner is gone.
fn remove_orphan_folders() {
    let Ok(dirs) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for dir in dirs.flatten() {
        let name = dir.file_name();
        if owner_in(&format!("/{}", name.to_string_lossy())).is_some_and(|owner| !alive(owner)) {
            for _ in 0..10 {
                if std::fs::remove_dir_all(dir.path()).is_ok() || !dir.path().exists() {
                    break;
                }
                // Something was still closing its files.
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Every process id in `/proc`.
fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
}

/// The process group of `/proc/<pid>` (`self` for this process).
fn group_of(pid: &str) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (name) state ppid pgrp …`; the name may hold spaces and parentheses.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(2)?.parse().ok()
}

/// The owner's process id in a path naming a driver directory (`…/kobo-browser-<pid>-…`).
fn owner_in(text: &str) -> Option<u32> {
    let at = text.find(&format!("/{PREFIX}"))? + 1 + PREFIX.len();
    let rest = &text[at..];
    let digits = rest.split('-').next()?;
    // Older names (`kobo-browser-<random>`) have no owner: leave them alone.
    if digits.is_empty() || !rest[digits.len()..].starts_with('-') {
        return None;
    }
    digits.parse().ok()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Alive and not a zombie (a zombie's command line is empty).
fn running(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

/// Live processes (not zombies) whose command line mentions `path`.
pub fn processes_mentioning(path: &Path) -> Vec<u32> {
    let needle = path.as_os_str().as_encoded_bytes();
    let me = std::process::id();
    pids()
        .filter(|pid| *pid != me)
        .filter(|pid| {
            // Zombies have an empty command line.
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| cmd.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}

/// A free port among [`DRIVER_PORTS`](crate::web_address::DRIVER_PORTS), which workflows
/// may not open; tried from a random place, so that runs starting together rarely meet.
fn free_port() -> std::io::Result<u16> {
    let ports = crate::web_address::DRIVER_PORTS;
    let count = u32::from(ports.end() - ports.start()) + 1;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        ^ std::process::id().wrapping_mul(2_654_435_761);
    for i in 0..count {
        let port = ports.start() + ((seed.wrapping_add(i) % count) as u16);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        format!(
            "no free port for chromedriver among {}–{}: too many browsers are open on this machine",
            ports.start(),
            ports.end()
        ),
    ))
}

/// Does the process `pid` hold a listening TCP socket on `port` (Linux `/proc`)?
fn listens_on(pid: u32, port: u16) -> bool {
    // Sockets listening on the port: the inode column of `/proc/net/tcp{,6}` where the
    // local address ends in `:PORT` (hex) and the state is `0A` (LISTEN).
    let wanted = format!(":{port:04X}");
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|line| {
                    let cols: Vec<&str> = line.split_whitespace().collect();
                    (cols.len() > 9 && cols[1].ends_with(&wanted) && cols[3] == "0A")
                        .then(|| format!("socket:[{}]", cols[9]))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .any(|link| inodes.iter().any(|i| link.as_os_str() == i.as_str()))
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

#[cfg(test)]
mod tests {
    #[test]
    fn a_port_counts_as_ours_only_when_we_listen_on_it() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(listens_on(std::process::id(), port));
        // Another process does not hold it; a port nobody listens on is nobody's.
        assert!(!listens_on(1, port));
        drop(listener);
        assert!(!listens_on(std::process::id(), port));
    }

    use super::{listens_on, owner_in};

    #[test]
    fn the_owner_is_read_from_a_driver_directory_name() {
        assert_eq!(
            owner_in("--user-data-dir=/tmp/kobo-browser-4242-AbC12/profile"),
            Some(4242)
        );
        assert_eq!(owner_in("/kobo-browser-17-x"), Some(17));
        assert_eq!(
            owner_in("--user-data-dir=/tmp/kobo-browser-AbC12/profile"),
            None
        );
        assert_eq!(
            owner_in("--user-data-dir=/tmp/kobo-browser-123abc/profile"),
            None
        );
        assert_eq!(owner_in("--user-data-dir=/tmp/other-4242-x"), None);
    }
}
