//! What `kobo` prints: run tables, run details, progress while a run goes.

use indicatif::{ProgressBar, ProgressStyle};
use runner::RunOutcome;
use runner::engine::{Progress, ProgressFn};
use runner::record::{RunDetail, RunRecord};
use runner::run::RowStatus;
use runner::run_folder::LogLine;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Progress bar over rows plus log lines above it.
pub struct RunDisplay {
    bar: Arc<Mutex<Option<ProgressBar>>>,
    quiet: bool,
}

impl RunDisplay {
    pub fn new(quiet: bool) -> RunDisplay {
        RunDisplay {
            bar: Arc::new(Mutex::new(None)),
            quiet,
        }
    }

    pub fn progress_fn(&self) -> ProgressFn {
        let bar = self.bar.clone();
        let quiet = self.quiet;
        Arc::new(move |p: Progress| {
            if quiet {
                return;
            }
            let mut slot = bar.lock().expect("progress lock");
            let b = slot.get_or_insert_with(|| {
                let b = ProgressBar::new(p.total as u64);
                b.set_style(
                    ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} rows ({elapsed})")
                        .expect("valid template")
                        .progress_chars("=> "),
                );
                b
            });
            b.set_message(p.table.clone());
            b.set_length(p.total as u64);
            b.set_position(p.done as u64);
        })
    }

    pub fn echo_fn(&self) -> Box<dyn Fn(&LogLine) + Send + Sync> {
        let bar = self.bar.clone();
        let quiet = self.quiet;
        Box::new(move |line: &LogLine| {
            if quiet && line.level != "error" {
                return;
            }
            let text = format!(
                "{:5} {}{}",
                line.level,
                line.step
                    .as_deref()
                    .map(|s| format!("{s}: "))
                    .unwrap_or_default(),
                line.message
            );
            match bar.lock().expect("progress lock").as_ref() {
                Some(b) if !b.is_hidden() => b.println(text),
                // A closed terminal must not stop the run: ignore write errors.
                _ => {
                    let _ = writeln!(std::io::stderr(), "{text}");
                }
            }
        })
    }

    pub fn finish(&self) {
        if let Some(b) = self.bar.lock().expect("progress lock").take() {
            b.finish_and_clear();
        }
    }
}

pub fn outcome_summary(o: &RunOutcome, home: &Path) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\nrun {}: {}", o.id, status_word(o.status));
    let _ = writeln!(s, "rows: {}", row_counts(&o.rows));
    if let Some(e) = &o.error {
        let _ = writeln!(s, "error: {e}");
    }
    for out in &o.outputs {
        let _ = writeln!(s, "output: {}", out.display());
    }
    let _ = writeln!(s, "run folder: {}", o.folder.display());
    let _ = writeln!(
        s,
        "details: kobo show {}{}",
        o.id,
        if home == Path::new("kobo-data") {
            String::new()
        } else {
            format!(" --home {}", home.display())
        }
    );
    s
}

/// `10 ok, 0 failed, 0 skipped (of 10)`, with `, 1 in doubt` when a row is.
/// The language of the terminal's words the dashboard also has (statuses, row outcomes):
/// `KOBO_LANG` (`en`, `ja`, `uk`), else the locale (`LANG=ja_JP.UTF-8`), else English.
pub fn lang() -> dashboard::i18n::Lang {
    use dashboard::i18n::Lang;
    static LANG: std::sync::OnceLock<Lang> = std::sync::OnceLock::new();
    *LANG.get_or_init(|| {
        let from = |var: &str| {
            let v = std::env::var(var).ok()?;
            Lang::from_code(v.get(..2)?)
        };
        from("KOBO_LANG")
            .or_else(|| from("LC_ALL"))
            .or_else(|| from("LC_MESSAGES"))
            .or_else(|| from("LANG"))
            .unwrap_or(Lang::En)
    })
}

/// A run's status in the user's language (`succeeded`, `完了`, …).
fn status_word(status: runner::RunStatus) -> String {
    lang().t(&format!("status_{}", status.as_str())).to_string()
}

fn row_counts(c: &runner::run::RowCounts) -> String {
    let t = |k: &str| lang().t(k).to_string();
    let doubt = if c.in_doubt > 0 {
        format!(", {} {}", c.in_doubt, t("in_doubt"))
    } else {
        String::new()
    };
    format!(
        "{} {}, {} {}, {} {}{doubt} (of {})",
        c.ok,
        t("ok"),
        c.failed,
        t("failed"),
        c.skipped,
        t("skipped"),
        c.total
    )
}

fn duration(ms: Option<i64>) -> String {
    ms.map(runner::run::human_duration)
        .unwrap_or_else(|| "-".into())
}

/// A time as the dashboard shows it: in Japan time, where the co-op and its clients are,
/// whatever the machine's own time zone.
fn japan_time(t: chrono::DateTime<chrono::Utc>, format: &str) -> String {
    t.with_timezone(&runner::payout::jst())
        .format(format)
        .to_string()
}

pub fn runs_table(runs: &[RunRecord]) -> String {
    if runs.is_empty() {
        return "no runs yet: try `kobo run workflows/<name>.yaml --input <file>`\n".into();
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<26}  {:<22}  {:<10}  {:>6} {:>6} {:>6}  {:>10}  started (Japan time)",
        "id", "workflow", "status", "ok", "failed", "skip", "time"
    );
    for r in runs {
        let _ = writeln!(
            s,
            "{:<26}  {:<22}  {:<10}  {:>6} {:>6} {:>6}  {:>10}  {}",
            r.id.0,
            truncate(&r.workflow, 22),
            status_word(r.status),
            r.rows.ok,
            r.rows.failed,
            r.rows.skipped,
            duration(r.duration_ms),
            japan_time(r.created_at, "%Y-%m-%d %H:%M")
        );
    }
    s
}

/// Whether this version of the workflow passed its own test cases (`kobo test`).
fn test_status(tests: Option<&runner::bot_test::TestRecord>) -> String {
    match tests {
        None => "none run for this version of the workflow (`kobo test` runs them)".into(),
        Some(t) if t.all_passed() => format!(
            "all {} cases passed at this version ({})",
            t.cases,
            japan_time(t.tested_at, "%Y-%m-%d %H:%M")
        ),
        Some(t) => format!(
            "{} of {} cases passed at this version ({}); failed: {}",
            t.passed,
            t.cases,
            japan_time(t.tested_at, "%Y-%m-%d %H:%M"),
            t.failed_cases.join(", ")
        ),
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

pub fn run_detail(
    d: &RunDetail,
    log: &[LogLine],
    home: &Path,
    all_rows: bool,
    tests: Option<&runner::bot_test::TestRecord>,
) -> String {
    let r = &d.run;
    let mut s = String::new();
    let _ = writeln!(s, "run        {}", r.id);
    let _ = writeln!(
        s,
        "workflow   {} (version {}, {} , sha256 {})",
        r.workflow,
        r.workflow_version,
        r.workflow_file,
        &r.workflow_hash[..12.min(r.workflow_hash.len())]
    );
    let _ = writeln!(s, "tests      {}", test_status(tests));
    let _ = writeln!(s, "client     {}    trainee {}", r.client, r.trainee);
    let _ = writeln!(
        s,
        "input      {} (sha256 {})",
        r.input_name.as_deref().unwrap_or("-"),
        r.input_hash
            .as_deref()
            .map(|h| &h[..12.min(h.len())])
            .unwrap_or("-")
    );
    let _ = writeln!(
        s,
        "status     {} (attempt {})",
        status_word(r.status),
        r.attempt
    );
    let _ = writeln!(
        s,
        "started    {}   took {}",
        r.started_at
            .map(|t| japan_time(t, "%Y-%m-%d %H:%M:%S (Japan time)"))
            .unwrap_or_default(),
        duration(r.duration_ms)
    );
    let _ = writeln!(s, "rows       {}", row_counts(&r.rows));
    if let Some(of) = &r.rerun_of {
        let _ = writeln!(
            s,
            "rerun of   {of} (rows run again: {})",
            r.rerun_rows.as_deref().unwrap_or("all")
        );
    }
    if let Some(e) = &r.error {
        let _ = writeln!(s, "error      {e}");
    }
    let _ = writeln!(s, "folder     {}", home.join(&r.folder).display());

    let _ = writeln!(s, "\nsteps");
    let _ = writeln!(
        s,
        "  {:<8} {:>5}  {:<24} {:>6} {:>10} {:>10} {:>7}",
        "step", "line", "name", "calls", "total", "max", "failed"
    );
    for st in &d.steps {
        let line = st.line.map(|l| l.to_string()).unwrap_or_default();
        let _ = writeln!(
            s,
            "  {:<8} {:>5}  {:<24} {:>6} {:>8.1}ms {:>8.1}ms {:>7}",
            runner::engine::step_number(&st.path),
            line,
            truncate(&st.label, 24),
            st.calls,
            st.total_ms,
            st.max_ms,
            st.failures
        );
    }

    if !d.rows.is_empty() {
        let _ = writeln!(s, "\nrows (in doubt and failed first)");
        let mut rows: Vec<_> = d.rows.iter().collect();
        rows.sort_by_key(|r| {
            (
                r.status != RowStatus::InDoubt,
                r.status != RowStatus::Failed,
                r.status != RowStatus::Skipped,
                r.table.clone(),
                r.row,
            )
        });
        let limit = if all_rows { usize::MAX } else { 50 };
        for row in rows.iter().take(limit) {
            let _ = writeln!(
                s,
                "  {:<10} row {:>4} (sheet row {:>4})  {:<8} {}{}{}{}",
                truncate(&row.table, 10),
                row.row,
                row.source_row,
                row.status.as_str(),
                row.step
                    .as_deref()
                    .map(|st| format!("{st}: "))
                    .unwrap_or_default(),
                row.message.as_deref().unwrap_or(""),
                row.key
                    .as_deref()
                    .map(|k| format!("  [key {k}]"))
                    .unwrap_or_default(),
                row.carried_from
                    .as_deref()
                    .map(|c| format!("  (kept from {c}, not run again)"))
                    .unwrap_or_default(),
            );
        }
        if rows.len() > limit {
            let _ = writeln!(s, "  … {} more rows (use --all-rows)", rows.len() - limit);
        }
    }

    if !d.artifacts.is_empty() {
        let _ = writeln!(s, "\nfiles");
        for a in &d.artifacts {
            let _ = writeln!(s, "  {:<10} {} ({} bytes)", a.kind, a.path, a.bytes);
        }
    }
    if !log.is_empty() {
        let _ = writeln!(s, "\nlog (last 20 lines, Japan time)");
        for l in log
            .iter()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            let _ = writeln!(
                s,
                "  {} {:5} {}{}",
                chrono::DateTime::parse_from_rfc3339(&l.time)
                    .map(|t| japan_time(t.to_utc(), "%H:%M:%S"))
                    .unwrap_or_else(|_| l.time.clone()),
                l.level,
                l.step
                    .as_deref()
                    .map(|s| format!("{s}: "))
                    .unwrap_or_default(),
                l.message
            );
        }
    }
    s
}
