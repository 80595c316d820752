//! `Run`: one execution of a workflow on one input, and the names of its states and results.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A run's id: a ULID, so ids sort by creation time and can be made on any machine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunId(pub String);

impl RunId {
    pub fn generate() -> RunId {
        RunId(ulid::Ulid::new().to_string().to_lowercase())
    }

    /// Accept only ids kobo could have made, so an id is always safe as a folder name.
    pub fn parse(s: &str) -> Option<RunId> {
        let s = s.trim().to_lowercase();
        (s.len() == 26 && s.chars().all(|c| c.is_ascii_alphanumeric())).then_some(RunId(s))
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The states of a run. Review states (awaiting review, approved …) live with the review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    /// Finished; some rows may still have failed (see the row counts).
    Succeeded,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }

    /// Whether a run may move from `self` to `next`. Finished runs never change.
    pub fn can_become(self, next: RunStatus) -> bool {
        use RunStatus::*;
        matches!(
            (self, next),
            (Queued, Running)
                | (Queued, Cancelled)
                | (Running, Succeeded)
                | (Running, Failed)
                | (Running, Cancelled)
                | (Running, Queued)
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "queued" => RunStatus::Queued,
            "running" => RunStatus::Running,
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            "cancelled" => RunStatus::Cancelled,
            other => return Err(format!("unknown run status `{other}`")),
        })
    }
}

/// What happened to one row inside `for_each`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// Not reached (the run stopped before this row).
    Pending,
    Ok,
    Failed,
    Skipped,
    /// Interrupted after a step that may have changed the outside world (a click, a key
    /// press): it may or may not have been entered, so it is not done again by itself.
    InDoubt,
}

impl RowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Pending => "pending",
            RowStatus::Ok => "ok",
            RowStatus::Failed => "failed",
            RowStatus::Skipped => "skipped",
            RowStatus::InDoubt => "in_doubt",
        }
    }
}

impl FromStr for RowStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => RowStatus::Pending,
            "ok" => RowStatus::Ok,
            "failed" => RowStatus::Failed,
            "skipped" => RowStatus::Skipped,
            "in_doubt" => RowStatus::InDoubt,
            other => return Err(format!("unknown row status `{other}`")),
        })
    }
}

/// The result of one row: which table, which row (1-based in the table and in the sheet),
/// and why it failed or was skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowResult {
    pub table: String,
    pub row: usize,
    pub source_row: usize,
    pub status: RowStatus,
    pub message: Option<String>,
    pub step: Option<String>,
    /// Not run in this run: kept from an earlier attempt (`attempt 1`) or run (`run 01J… (attempt 1)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried_from: Option<String>,
    /// The row's `key:` (`for_each … key:`), when the workflow gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Where the row's progress is kept (`contacts#1@7`, see `progress::place`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
}

/// How long one step took, added up over all rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StepTiming {
    pub path: String,
    pub label: String,
    pub kind: String,
    pub line: Option<usize>,
    pub calls: u64,
    pub total_ms: f64,
    pub max_ms: f64,
    pub failures: u64,
}

/// Counts of row results over the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RowCounts {
    pub total: u64,
    pub ok: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Rows interrupted after they may have changed the outside world: a person decides.
    #[serde(default)]
    pub in_doubt: u64,
}

/// How long something took, as people read it, the same in the terminal and on the
/// dashboard: `850 ms`, `28.7 s`, `4 min 05 s`.
pub fn human_duration(ms: i64) -> String {
    match ms {
        ..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human_duration(850), "850 ms");
        assert_eq!(human_duration(28_700), "28.7 s");
        assert_eq!(human_duration(245_000), "4 min 05 s");
    }

    #[test]
    fn finished_runs_never_change() {
        use RunStatus::*;
        let all = [Queued, Running, Succeeded, Failed, Cancelled];
        for from in [Succeeded, Failed, Cancelled] {
            for to in all {
                assert!(!from.can_become(to), "{from} -> {to} must be refused");
            }
        }
        assert!(Queued.can_become(Running));
        assert!(!Queued.can_become(Succeeded));
        for s in all {
            assert_eq!(s.as_str().parse::<RunStatus>().unwrap(), s);
        }
    }

    #[test]
    fn run_ids_are_safe_folder_names() {
        let id = RunId::generate();
        assert_eq!(RunId::parse(&id.0), Some(id));
        assert_eq!(RunId::parse("../../etc/passwd"), None);
        assert_eq!(RunId::parse("01jabc"), None);
    }
}
