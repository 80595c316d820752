//! `Job`: a run as its client or its trainee sees it, in plain words: queued, running (with
//! the rows done so far), failed (with a short reason), awaiting review, rejected, delivered.
//!
//! The client never sees kobo's internal names: the task is shown by the workflow's `title:`
//! in her language (else its `description`, else its name made readable), and a failure by
//! a short reason, never the error's internals. The trainee, who wrote the bot, also gets
//! the error itself and the reviewer's comment.

use crate::i18n::Lang;
use runner::review::RunSummary;
use runner::workflow::{Title, Workflow};
use runner::{ReviewState, RunStatus};
use serde::Serialize;
use sqlx::AnyPool;
use std::collections::BTreeMap;
use std::path::Path;

/// One run, ready for a page.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: String,
    /// The task in the reader's words.
    pub title: String,
    pub input: String,
    pub created_at: String,
    /// `queued`, `running`, `failed`, `cancelled`, `awaiting`, `rejected`, `delivered`.
    pub status: &'static str,
    /// The status in the reader's language.
    pub status_text: String,
    /// Why it failed, or how far it got, in the reader's language.
    pub detail: Option<String>,
    pub rows_total: u64,
    pub rows_ok: u64,
    /// Rows that did not end ok (failed, skipped, in doubt): the client's rows to check.
    pub rows_to_check: u64,
    /// The reviewer's comment on a rejected run (for the trainee).
    pub comment: Option<String>,
    pub reviewer: Option<String>,
    /// The error as recorded (for the trainee, who can fix the bot).
    pub error: Option<String>,
}

/// Who reads: the client (her words) or the trainee (her bot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Client,
    Trainee,
}

/// The status of a run for people outside review.
pub fn status_of(s: &RunSummary) -> &'static str {
    match (s.run.status, s.state) {
        (RunStatus::Queued, _) => "queued",
        (RunStatus::Running, _) => "running",
        (RunStatus::Failed, _) => "failed",
        (RunStatus::Cancelled, _) => "cancelled",
        (RunStatus::Succeeded, ReviewState::Approved) => "delivered",
        (RunStatus::Succeeded, ReviewState::Rejected) => "rejected",
        (RunStatus::Succeeded, _) => "awaiting",
    }
}

/// A failed run's reason in a few plain words: the file could not be read (and why, in one
/// line), the bot stopped at a step, or the job could not start.
pub fn failure_reason(lang: Lang, error: Option<&str>, step: Option<&str>) -> String {
    let step = step.unwrap_or("");
    let first_line = error
        .and_then(|e| e.lines().find(|l| !l.trim().is_empty()))
        .map(short)
        .unwrap_or_default();
    let msg = if step.starts_with("reading input") || step == "reading the input" {
        crate::error::Msg::key("why_read").with("detail", first_line)
    } else if let Some(number) = step.strip_prefix('#') {
        let number: String = number
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        crate::error::Msg::key("why_step").with("step", number)
    } else if step == "before the first step" {
        crate::error::Msg::key("why_start")
    } else {
        crate::error::Msg::key("why_stopped")
    };
    msg.text(lang)
}

/// At most 160 characters, cut at a character boundary.
fn short(line: &str) -> String {
    let line = line.trim();
    match line.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

/// `invoice-report` → `Invoice report`: a name made readable, when nothing better is known.
pub fn readable(name: &str) -> String {
    let words = name.replace(['-', '_'], " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => words,
    }
}

/// The titles of a client's tasks (by workflow name): from the workflows folder when the
/// dashboard knows it, else from the workflow each task's latest run ran.
pub async fn titles(
    pool: &AnyPool,
    home: &Path,
    workflows_dir: Option<&Path>,
    client: &str,
) -> BTreeMap<String, (Title, String)> {
    let mut out = BTreeMap::new();
    if let Some(dir) = workflows_dir {
        let catalogue = runner::catalogue::Catalogue::load(dir);
        for name in catalogue.names_for(client) {
            if let Some(w) = catalogue.get(client, name) {
                out.insert(name.to_string(), (w.title.clone(), w.description.clone()));
            }
        }
    }
    let rows = sqlx::query(
        "SELECT workflow, folder FROM runs WHERE client = $1 ORDER BY created_at DESC LIMIT 200",
    )
    .bind(client)
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    for r in rows {
        use sqlx::Row;
        let name: String = r.get("workflow");
        if out.contains_key(&name) {
            continue;
        }
        let folder: String = r.get("folder");
        let file = home.join(folder).join("workflow.yaml");
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Ok(w) = Workflow::parse(&file, &text)
        {
            out.insert(name, (w.title.clone(), w.description.clone()));
        }
    }
    out
}

/// The task's title for a reader in `lang`: `title:`, else `description`, else the name.
pub fn title_for(titles: &BTreeMap<String, (Title, String)>, name: &str, lang: Lang) -> String {
    match titles.get(name) {
        Some((t, description)) => t
            .get(lang.code())
            .map(String::from)
            .or_else(|| (!description.trim().is_empty()).then(|| description.trim().to_string()))
            .unwrap_or_else(|| readable(name)),
        None => readable(name),
    }
}

/// Runs as jobs for `reader`, with rows done so far for the running ones.
pub async fn jobs(
    pool: &AnyPool,
    runs: &[RunSummary],
    titles: &BTreeMap<String, (Title, String)>,
    lang: Lang,
    reader: Reader,
) -> Vec<Job> {
    let mut out = Vec::with_capacity(runs.len());
    for s in runs {
        let status = status_of(s);
        let detail = match status {
            "running" => {
                let done = runner::notice::rows_done(pool, &s.run.id.0)
                    .await
                    .unwrap_or(0);
                (done > 0).then(|| {
                    crate::error::Msg::key("job_rows_done")
                        .with("n", done.to_string())
                        .text(lang)
                })
            }
            "failed" => Some(failure_reason(
                lang,
                s.run.error.as_deref(),
                s.run.error_step.as_deref(),
            )),
            _ => None,
        };
        let status_text = match (status, reader) {
            ("queued", _) => lang.t("job_queued"),
            ("running", _) => lang.t("job_running"),
            ("failed", _) => lang.t("job_failed"),
            ("cancelled", _) => lang.t("job_cancelled"),
            ("awaiting", _) => lang.t("job_awaiting"),
            ("rejected", Reader::Client) => lang.t("job_rejected_client"),
            ("rejected", Reader::Trainee) => lang.t("job_rejected"),
            ("delivered", Reader::Client) => lang.t("job_delivered"),
            (_, _) => lang.t("job_approved"),
        }
        .to_string();
        let trainee = reader == Reader::Trainee;
        out.push(Job {
            id: s.run.id.0.clone(),
            title: title_for(titles, &s.run.workflow, lang),
            input: s.run.input_name.clone().unwrap_or_default(),
            created_at: s.run.created_at.to_rfc3339(),
            status,
            status_text,
            detail,
            rows_total: s.run.rows.total,
            rows_ok: s.run.rows.ok,
            rows_to_check: s.run.rows.total.saturating_sub(s.run.rows.ok),
            comment: s
                .review
                .as_ref()
                .filter(|_| trainee)
                .and_then(|r| r.comment.clone()),
            reviewer: s
                .review
                .as_ref()
                .filter(|_| trainee)
                .map(|r| r.reviewer.clone()),
            error: s.run.error.clone().filter(|_| trainee),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_told_in_a_few_plain_words() {
        let read = failure_reason(
            Lang::Ja,
            Some("the file `a.csv` has no column `金額`\nmore"),
            Some("reading input `invoices`"),
        );
        assert!(read.contains("ファイルを読み込めませんでした"), "{read}");
        assert!(read.contains("金額") && !read.contains("more"), "{read}");
        let step = failure_reason(Lang::Uk, Some("boom"), Some("#4.2 fill \"金額\" (line 14)"));
        assert!(step.contains("4.2") && !step.contains("line 14"), "{step}");
        assert_eq!(readable("invoice-report"), "Invoice report");
    }
}
