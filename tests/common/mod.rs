//! What the end-to-end tests share: `Kobo`, the real `kobo` binary on a temporary data
//! directory with a few workflows for client `t`, and ways to look at its records.
#![allow(dead_code)]

use runner::record::{RecordsLocation, RunRecord};
use runner::{Records, RunStatus};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const KOBO: &str = env!("CARGO_BIN_EXE_kobo");

/// Workflows for client `t`. Each reads one CSV with a column `n`.
pub fn workflow(name: &str, steps: &str) -> String {
    format!(
        "name: {name}\nclient: t\nauthor: olena\ninputs:\n  data:\n    columns: [n]\nsteps:\n{steps}"
    )
}

pub struct Kobo {
    pub home: tempfile::TempDir,
    pub workflows: tempfile::TempDir,
    pub children: Vec<Child>,
    /// `--records` for every command (default: `records.db` in the data directory).
    pub records_url: Option<String>,
}

impl Kobo {
    pub fn new() -> Kobo {
        let k = Kobo {
            home: tempfile::tempdir().unwrap(),
            workflows: tempfile::tempdir().unwrap(),
            children: Vec::new(),
            records_url: None,
        };
        k.add_workflow("quick", "  - log: \"rows: {{ run.input }}\"\n");
        k.add_workflow("slow", "  - pause: 3\n  - log: done\n");
        k.add_workflow("very-slow", "  - pause: 60\n");
        k.add_workflow("broken-data", "  - fail: \"the data is wrong\"\n");
        k
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn add_workflow(&self, name: &str, steps: &str) {
        std::fs::write(
            self.workflows.path().join(format!("{name}.yaml")),
            workflow(name, steps),
        )
        .unwrap();
    }

    pub fn inbox(&self, workflow: &str) -> PathBuf {
        let d = self.home().join("inbox/t").join(workflow);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Drop a CSV whose content is unique to `tag`, written elsewhere then moved in whole.
    pub fn drop_csv(&self, workflow: &str, name: &str, tag: &str) -> PathBuf {
        let staging = self.home().join(format!(".staging-{name}"));
        std::fs::write(&staging, format!("n\n{tag}\n")).unwrap();
        let dest = self.inbox(workflow).join(name);
        std::fs::rename(&staging, &dest).unwrap();
        dest
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_in(self.home(), args)
    }

    /// A `kobo` command on another data directory (a worker on another machine).
    pub fn command_in(&self, home: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(KOBO);
        c.args(args)
            .env("KOBO_HOME", home)
            .env("KOBO_LANG", "en")
            .env("KOBO_LOG", "warn,runner=info,runner::run_folder=off");
        if let Some(url) = &self.records_url {
            c.env("KOBO_RECORDS", url);
        }
        c
    }

    /// Start `kobo serve` (or `kobo worker`) with short heartbeats and settle time.
    pub fn start(&mut self, cmd: &str, extra: &[&str]) -> u32 {
        self.start_env(cmd, extra, &[])
    }

    /// [`Kobo::start`] with another data directory (a worker on another machine).
    pub fn start_in(&mut self, home: &Path, cmd: &str, extra: &[&str]) -> u32 {
        self.start_with(home, cmd, extra, &[])
    }

    /// [`Kobo::start`] with these environment variables too.
    pub fn start_env(&mut self, cmd: &str, extra: &[&str], env: &[(&str, &str)]) -> u32 {
        let home = self.home().to_path_buf();
        self.start_with(&home, cmd, extra, env)
    }

    fn start_with(&mut self, home: &Path, cmd: &str, extra: &[&str], env: &[(&str, &str)]) -> u32 {
        let wf = self.workflows.path().to_str().unwrap().to_string();
        let mut args = vec![cmd, "--heartbeat-secs", "1"];
        if cmd == "serve" {
            args.extend([
                "--workflows",
                &wf,
                "--settle-ms",
                "300",
                "--dashboard",
                "127.0.0.1:0",
            ]);
        }
        args.extend(extra);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(home.join(format!("{cmd}.log")))
            .unwrap();
        let child = self
            .command_in(home, &args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// `kobo user add` with the password on standard input.
    pub fn add_user(&self, name: &str, role: &str, password: &str) {
        let mut add = self
            .command(&[
                "user",
                "add",
                "--name",
                name,
                "--role",
                role,
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(add.stdin.take().unwrap(), "{password}").unwrap();
        assert!(add.wait().unwrap().success(), "kobo user add {name} failed");
    }

    pub fn kill(&mut self, pid: u32) {
        let i = self.children.iter().position(|c| c.id() == pid).unwrap();
        let mut c = self.children.remove(i);
        c.kill().unwrap(); // SIGKILL
        c.wait().unwrap();
    }

    /// Send SIGTERM to `pid` (started by this `Kobo`) and wait up to 30 s for it to end.
    /// Whether it ended.
    pub async fn sigterm(&mut self, pid: u32) -> bool {
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        let i = self.children.iter().position(|c| c.id() == pid).unwrap();
        let mut child = self.children.remove(i);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        true
    }

    /// Has the process `pid` (started by this `Kobo`) ended? Reaps it if so.
    pub fn exited(&mut self, pid: u32) -> bool {
        let Some(i) = self.children.iter().position(|c| c.id() == pid) else {
            return true;
        };
        match self.children[i].try_wait() {
            Ok(Some(_)) => {
                // Already reaped by `try_wait`; `wait` returns at once.
                let _ = self.children.remove(i).wait();
                true
            }
            _ => false,
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let wf = self.workflows.path().to_str().unwrap().to_string();
        let mut args = args.to_vec();
        if args[0] == "rerun" {
            args.extend(["--workflows", &wf]);
        }
        let out = self.command(&args).output().unwrap();
        assert!(
            out.status.success(),
            "kobo {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn log(&self, cmd: &str) -> String {
        std::fs::read_to_string(self.home().join(format!("{cmd}.log"))).unwrap_or_default()
    }

    /// Wait until the log of `cmd`, past its first `from` bytes, has a line containing
    /// `text`, at most 20 seconds; returns that line.
    pub fn wait_log(&self, cmd: &str, from: usize, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = self.log(cmd);
            if let Some(line) = log
                .get(from..)
                .and_then(|l| l.lines().find(|l| l.contains(text)))
            {
                return line.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for `{text}` in the {cmd} log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub async fn records(&self) -> Records {
        let location = match &self.records_url {
            Some(url) => RecordsLocation::Postgres(url.clone()),
            None => RecordsLocation::Sqlite(self.home().join("records.db")),
        };
        Records::connect(&location).await.unwrap()
    }

    /// Poll the records until `done` holds for them, at most `secs` seconds.
    pub async fn wait_for(
        &self,
        secs: u64,
        what: &str,
        done: impl Fn(&[RunRecord]) -> bool,
    ) -> Vec<RunRecord> {
        let records = self.records().await;
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let runs = records.recent(1000).await.unwrap();
            if done(&runs) {
                return runs;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; runs: {:#?}\nserve log:\n{}\nworker log:\n{}",
                    summary(&runs),
                    self.log("serve"),
                    self.log("worker")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Kobo {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn summary(runs: &[RunRecord]) -> Vec<String> {
    runs.iter()
        .map(|r| {
            format!(
                "{} {} {} attempt {} worker {:?} {:?}",
                r.id, r.workflow, r.status, r.attempt, r.worker, r.error
            )
        })
        .collect()
}

pub fn count(runs: &[RunRecord], status: RunStatus) -> usize {
    runs.iter().filter(|r| r.status == status).count()
}

pub fn files_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A dashboard user's session, over a plain HTTP/1.1 connection to the real server.
pub struct Session {
    pub addr: String,
    pub cookie: String,
    pub csrf: String,
}

/// Send one request; the connection closes after the answer.
pub fn send(addr: &str, method: &str, path: &str, cookie: &str, form: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )
    .unwrap();
    s
}

/// The whole answer, head and body.
pub fn request(addr: &str, method: &str, path: &str, cookie: &str, form: &str) -> String {
    let mut answer = String::new();
    send(addr, method, path, cookie, form)
        .read_to_string(&mut answer)
        .unwrap();
    answer
}

pub fn cookie(answer: &str, name: &str) -> String {
    answer
        .lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(h, _)| h.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, c)| c)
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_string())
        .unwrap_or_else(|| panic!("no cookie {name} in {answer}"))
}

pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("a hidden input") + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

impl Session {
    /// Log in through the login form, as a browser does, on the serve whose log starts at `from`.
    pub fn login(k: &Kobo, from: usize, name: &str, password: &str) -> Session {
        let line = k.wait_log("serve", from, "dashboard on http://");
        let addr = line.split("http://").nth(1).unwrap().trim().to_string();
        let page = request(&addr, "GET", "/login", "", "");
        let pre = cookie(&page, "kobo_login");
        let form = format!(
            "csrf={}&name={name}&password={password}",
            hidden(&page, "csrf")
        );
        let answer = request(&addr, "POST", "/login", &pre, &form);
        let cookie = cookie(&answer, "kobo_session");
        let page = request(&addr, "GET", "/runs", &cookie, "");
        Session {
            csrf: hidden(&page, "csrf"),
            addr,
            cookie,
        }
    }

    /// `GET path` as this user: the whole answer, head and body.
    pub fn get(&self, path: &str) -> String {
        request(&self.addr, "GET", path, &self.cookie, "")
    }

    /// `POST path` with `form` (the CSRF token added) as this user: the whole answer.
    pub fn post(&self, path: &str, form: &str) -> String {
        let form = format!("csrf={}&{form}", self.csrf);
        request(&self.addr, "POST", path, &self.cookie, &form)
    }

    pub fn approve(&self, id: &runner::RunId) -> TcpStream {
        let form = format!("csrf={}", self.csrf);
        send(
            &self.addr,
            "POST",
            &format!("/runs/{id}/approve"),
            &self.cookie,
            &form,
        )
    }
}
