//! Row progress: each `for_each` row's outcome is kept in the records the moment the row
//! ends, so that a retry, a run resumed after a crash and a `kobo rerun` go on from the
//! first row not yet done, and a row is never entered into a client's system twice.
//!
//! - A row is named by its [`place`]: the table, which `for_each` over it, and the row in
//!   the sheet (`contacts#1@7`), so the name survives a fixed workflow in a rerun.
//! - Before a row does something that may change the outside world (`click`, `press`,
//!   `dialog`, `upload`), it is marked `touched`. A row found `touched` after a crash is
//!   *in doubt*: it may have been entered, so it is never repeated by itself; a person
//!   checks the portal and marks it done, or reruns it (`kobo rerun <id> --rows in-doubt`).
//! - A row with a `key:` that ended ok keeps its key per client and workflow; a later run
//!   skips a row with the same key unless started with `--again`.
//! - What a row left behind (its cells, variables it set, rows it appended) is kept with it
//!   as [`RowEffects`] and replayed when the row is carried over instead of run again.

use crate::record::{Records, StoreError};
use crate::run::{RowCounts, RowResult, RowStatus, RunId};
use crate::table::Cell;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;
use std::str::FromStr;

/// How far a row got, as kept in the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    /// Started something that may have changed the outside world, not finished yet.
    Touched,
    /// Finished with this outcome.
    Done(RowStatus),
}

impl RowState {
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Touched => "touched",
            RowState::Done(s) => s.as_str(),
        }
    }

    fn parse(s: &str) -> RowState {
        match s {
            "touched" => RowState::Touched,
            other => RowState::Done(RowStatus::from_str(other).unwrap_or(RowStatus::InDoubt)),
        }
    }
}

/// What a finished row left behind, replayed when it is carried over.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RowEffects {
    /// The row's cells when it ended, by column (values it extracted included).
    #[serde(default)]
    pub cells: Vec<(String, Cell)>,
    /// Variables the row set (`set:`), with their values when it ended.
    #[serde(default)]
    pub vars: Vec<(String, serde_json::Value)>,
    /// Rows it appended to other tables (`append:`), by table and column.
    #[serde(default)]
    pub appended: Vec<(String, Vec<(String, Cell)>)>,
}

/// One row's progress.
#[derive(Debug, Clone, PartialEq)]
pub struct RowEntry {
    pub place: String,
    pub table: String,
    pub source_row: usize,
    pub state: RowState,
    pub message: Option<String>,
    pub step: Option<String>,
    pub key: Option<String>,
    pub effects: RowEffects,
    /// The attempt of the run that did the row (1 for the first).
    pub attempt: u32,
    /// The earlier run the row was carried over from (`kobo rerun`), if any.
    pub from_run: Option<String>,
}

impl RowEntry {
    /// `attempt 1`, or `run 01J… (attempt 2)` when it came from an earlier run.
    pub fn origin(&self) -> String {
        match &self.from_run {
            Some(run) => format!("run {run} (attempt {})", self.attempt),
            None => format!("attempt {}", self.attempt),
        }
    }
}

/// Which rows a rerun does again (`kobo rerun <id> --rows …`). Rows never reached are
/// always run; the others are carried over from the earlier run as they ended there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RerunRows {
    /// The rows that failed; rows in doubt stay in doubt.
    Failed,
    /// The rows in doubt (after checking the portal that they were not entered).
    InDoubt,
    /// Every row again, rows already entered and keys seen before included.
    All,
}

impl RerunRows {
    pub fn as_str(self) -> &'static str {
        match self {
            RerunRows::Failed => "failed",
            RerunRows::InDoubt => "in-doubt",
            RerunRows::All => "all",
        }
    }

    /// Whether a row that ended `status` in the earlier run is run again.
    pub fn redoes(self, status: RowStatus) -> bool {
        match self {
            RerunRows::All => true,
            RerunRows::Failed => matches!(status, RowStatus::Failed | RowStatus::Pending),
            RerunRows::InDoubt => matches!(status, RowStatus::InDoubt | RowStatus::Pending),
        }
    }
}

impl FromStr for RerunRows {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "failed" => Ok(RerunRows::Failed),
            "in-doubt" | "in_doubt" => Ok(RerunRows::InDoubt),
            "all" => Ok(RerunRows::All),
            other => Err(format!(
                "`{other}` is not a choice of rows: use `failed`, `in-doubt` or `all`"
            )),
        }
    }
}

/// The row progress of one attempt of a run: what this run kept so far (loaded when the
/// attempt starts), what the run it repeats kept, and the rows not yet written.
pub struct RowBook {
    /// Attempt number of this run (counting attempts of workers that died before).
    pub attempt: u32,
    /// Rows whose key was entered before are entered again (`--again`).
    pub again: bool,
    /// The queue worker running the run: before a row clicks, kobo checks the run is still
    /// its own (a worker taken for dead must not go on entering rows).
    pub worker: Option<String>,
    /// This run's rows, by place.
    pub kept: BTreeMap<String, RowEntry>,
    /// The run a rerun repeats: its id, which rows it does again, and its rows.
    carry: Option<(String, RerunRows, BTreeMap<String, RowEntry>)>,
    pending: Vec<RowEntry>,
    last_flush: std::time::Instant,
    run: RunId,
    client: String,
    workflow: String,
}

/// Rows that did not use the browser are written in batches of this many (or every second):
/// redoing them after a crash is safe, and one write per row would slow a big table down.
const BATCH_ROWS: usize = 500;

impl RowBook {
    /// Load what `run` kept (earlier attempts) and, for a rerun, what the run it repeats kept.
    pub async fn load(
        records: &Records,
        run: &crate::record::RunRecord,
        attempt: u32,
        again: bool,
    ) -> Result<RowBook, StoreError> {
        let kept = load(records, &run.id).await?;
        let mode = run
            .rerun_rows
            .as_deref()
            .and_then(|m| m.parse::<RerunRows>().ok());
        let carry = match (&run.rerun_of, mode) {
            // Every row again: nothing is carried over.
            (Some(_), Some(RerunRows::All)) | (_, None) | (None, _) => None,
            (Some(of), Some(mode)) => {
                Some((of.clone(), mode, load(records, &RunId(of.clone())).await?))
            }
        };
        Ok(RowBook {
            attempt,
            again: again || run.again,
            worker: None,
            kept,
            carry,
            pending: Vec::new(),
            last_flush: std::time::Instant::now(),
            run: run.id.clone(),
            client: run.client.clone(),
            workflow: run.workflow.clone(),
        })
    }

    /// The row at `place` as the repeated run left it, when the rerun does not do it again
    /// (ready to keep as this run's, with where it came from).
    pub fn carried(&self, place: &str, key: Option<&str>) -> Option<RowEntry> {
        let (of, mode, rows) = self.carry.as_ref()?;
        let e = find(rows, place, key)?;
        let status = match e.state {
            RowState::Touched => RowStatus::InDoubt,
            // Skipped by an error (`on_error: skip_row`), not by the workflow's choice: a
            // fixed workflow should do it, like a failed row.
            RowState::Done(RowStatus::Skipped) if e.step.is_some() => RowStatus::Failed,
            RowState::Done(s) => s,
        };
        if mode.redoes(status) {
            return None;
        }
        let mut e = e.clone();
        e.from_run = Some(e.from_run.clone().unwrap_or_else(|| of.clone()));
        Some(e)
    }

    pub fn push(&mut self, e: RowEntry) {
        self.pending.push(e);
    }

    /// Enough rows wait, or they have waited long enough.
    pub fn due(&self) -> bool {
        self.pending.len() >= BATCH_ROWS || self.last_flush.elapsed().as_secs() >= 1
    }

    /// Write the rows not yet kept, in one transaction.
    pub async fn flush(&mut self, records: &Records) -> Result<(), StoreError> {
        if !self.pending.is_empty() {
            save(
                records,
                &self.run,
                &self.client,
                &self.workflow,
                &self.pending,
            )
            .await?;
            self.pending.clear();
        }
        self.last_flush = std::time::Instant::now();
        Ok(())
    }
}

/// The row at `place`, or, when the row has a key, the row of the same loop with that key
/// wherever it is: a table read from a portal may list its items in another order on the
/// next attempt, and a row is the same row by its key, not by its position. A row kept at
/// this place with another key is another row.
pub fn find<'a>(
    rows: &'a BTreeMap<String, RowEntry>,
    place: &str,
    key: Option<&str>,
) -> Option<&'a RowEntry> {
    let here = rows.get(place);
    let Some(key) = key else { return here };
    if let Some(e) = here
        && e.key.as_deref().is_none_or(|k| k == key)
    {
        return Some(e);
    }
    let this_loop = loop_of(place);
    rows.values()
        .find(|e| e.key.as_deref() == Some(key) && loop_of(&e.place) == this_loop)
}

/// `orders#1@3/items#1` for `orders#1@3/items#1@2`: the loop a place is in.
fn loop_of(place: &str) -> &str {
    place.rsplit_once('@').map_or(place, |(l, _)| l)
}

/// `contacts#1@7`: sheet row 7 of the first `for_each` over `contacts` in the run; inside
/// another `for_each`, the outer row's place comes first (`orders#1@3/items#1@2`).
pub fn place(outer: Option<&str>, table: &str, nth: usize, source_row: usize) -> String {
    let own = format!("{table}#{nth}@{source_row}");
    match outer {
        Some(o) => format!("{o}/{own}"),
        None => own,
    }
}

/// Every row progress kept for `run`, by place.
pub async fn load(
    records: &Records,
    run: &RunId,
) -> Result<BTreeMap<String, RowEntry>, StoreError> {
    let rows = sqlx::query("SELECT * FROM run_row_progress WHERE run_id = $1")
        .bind(&run.0)
        .fetch_all(records.pool())
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let effects: Option<String> = r.get("effects");
            let entry = RowEntry {
                place: r.get("place"),
                table: r.get("tbl"),
                source_row: r.get::<i64, _>("source_row") as usize,
                state: RowState::parse(&r.get::<String, _>("state")),
                message: r.get("message"),
                step: r.get("step"),
                key: r.get("row_key"),
                effects: effects
                    .and_then(|e| serde_json::from_str(&e).ok())
                    .unwrap_or_default(),
                attempt: r.get::<i64, _>("attempt") as u32,
                from_run: r.get("from_run"),
            };
            (entry.place.clone(), entry)
        })
        .collect())
}

/// The rows a run kept before its process stopped (a crash, a memory limit), as its row
/// results: rows that ended keep their status; a row stopped after a click went through is in
/// doubt. A row that was running when the process stopped is never counted as ok: it is not
/// among them, or it is in doubt.
pub async fn rows_so_far(
    records: &Records,
    run: &RunId,
) -> Result<(Vec<RowResult>, RowCounts), StoreError> {
    let mut entries: Vec<RowEntry> = load(records, run).await?.into_values().collect();
    entries.sort_by(|a, b| (&a.table, a.source_row).cmp(&(&b.table, b.source_row)));
    let mut counts = RowCounts::default();
    let mut position: BTreeMap<String, usize> = BTreeMap::new();
    let results = entries
        .into_iter()
        .map(|e| {
            let (status, message) = match e.state {
                RowState::Done(status) => (status, e.message.clone()),
                RowState::Touched => (
                    RowStatus::InDoubt,
                    Some(format!(
                        "in doubt: the run's process stopped in this row after step {} went through; check the portal, then run it again with `kobo rerun {run} --rows in-doubt` if it is not there",
                        e.step.as_deref().unwrap_or("a step")
                    )),
                ),
            };
            counts.total += 1;
            match status {
                RowStatus::Ok => counts.ok += 1,
                RowStatus::Failed => counts.failed += 1,
                RowStatus::Skipped => counts.skipped += 1,
                RowStatus::InDoubt => counts.in_doubt += 1,
                RowStatus::Pending => {}
            }
            let n = position.entry(e.table.clone()).or_insert(0);
            *n += 1;
            RowResult {
                row: *n,
                table: e.table,
                source_row: e.source_row,
                status,
                message,
                step: e.step,
                carried_from: None,
                key: e.key,
                place: Some(e.place),
            }
        })
        .collect();
    Ok((results, counts))
}

/// Keep these rows' progress for `run` in one transaction (replacing what was kept for the
/// same places), and the keys of rows that ended ok for `client` and `workflow`.
pub async fn save(
    records: &Records,
    run: &RunId,
    client: &str,
    workflow: &str,
    entries: &[RowEntry],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut tx = records.write_transaction().await?;
    let now = Utc::now().to_rfc3339();
    for e in entries {
        let effects = serde_json::to_string(&e.effects).unwrap_or_default();
        sqlx::query(
            "INSERT INTO run_row_progress (run_id, place, tbl, source_row, state, message, step, row_key, effects, attempt, from_run, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (run_id, place) DO UPDATE SET state = excluded.state, message = excluded.message,
                step = excluded.step, row_key = excluded.row_key, effects = excluded.effects,
                attempt = excluded.attempt, from_run = excluded.from_run, updated_at = excluded.updated_at",
        )
        .bind(&run.0)
        .bind(&e.place)
        .bind(&e.table)
        .bind(e.source_row as i64)
        .bind(e.state.as_str())
        .bind(&e.message)
        .bind(&e.step)
        .bind(&e.key)
        .bind(effects)
        .bind(e.attempt as i64)
        .bind(&e.from_run)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        if e.state == RowState::Done(RowStatus::Ok)
            && let Some(key) = &e.key
        {
            let by = e.from_run.as_deref().unwrap_or(&run.0);
            keep_key(&mut tx, client, workflow, key, by, &now).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Keep `key` as entered by run `by` for `client` and `workflow` (the first run to enter a
/// key keeps it).
async fn keep_key(
    tx: &mut sqlx::AnyConnection,
    client: &str,
    workflow: &str,
    key: &str,
    by: &str,
    at: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO entered_keys (client, workflow, row_key, run_id, entered_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (client, workflow, row_key) DO NOTHING",
    )
    .bind(client)
    .bind(workflow)
    .bind(key)
    .bind(by)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// A key entered before: by which run, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct EnteredKey {
    pub run_id: String,
    pub entered_at: DateTime<Utc>,
}

/// Whether a row with `key` was entered successfully by a run of `workflow` for `client`.
pub async fn entered(
    records: &Records,
    client: &str,
    workflow: &str,
    key: &str,
) -> Result<Option<EnteredKey>, StoreError> {
    let row = sqlx::query(
        "SELECT run_id, entered_at FROM entered_keys WHERE client = $1 AND workflow = $2 AND row_key = $3",
    )
    .bind(client)
    .bind(workflow)
    .bind(key)
    .fetch_optional(records.pool())
    .await?;
    Ok(row.map(|r| EnteredKey {
        run_id: r.get("run_id"),
        entered_at: DateTime::parse_from_rfc3339(&r.get::<String, _>("entered_at"))
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
    }))
}

/// How many of `run`'s ok rows were carried over from a run that was approved (and so paid
/// with that run): an approval credits the trainee only for the others.
pub async fn ok_rows_paid_before(records: &Records, run: &RunId) -> Result<u64, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM run_row_progress p JOIN reviews r ON r.run_id = p.from_run
         WHERE p.run_id = $1 AND p.state = 'ok' AND r.decision = 'approved'",
    )
    .bind(&run.0)
    .fetch_one(records.pool())
    .await?;
    Ok(row.get::<i64, _>("n").max(0) as u64)
}

/// Why a row cannot be marked done.
#[derive(Debug, thiserror::Error)]
pub enum MarkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("run `{run}` has no row {row} of `{table}`; `kobo show {run}` lists its rows")]
    NoSuchRow {
        run: String,
        table: String,
        row: usize,
    },
    #[error(
        "row {row} of `{table}` in run `{run}` is {status}, not in doubt; only a row in doubt can be marked done"
    )]
    NotInDoubt {
        run: String,
        table: String,
        row: usize,
        status: String,
    },
    #[error("run `{0}` was reviewed, so its rows do not change; `kobo rerun {0}` makes a new run")]
    Reviewed(String),
}

/// A person checked the portal: the row in doubt *was* entered. It becomes ok (with who said
/// so), its key is kept, and a rerun carries it over instead of entering it again.
pub async fn mark_done(
    records: &Records,
    run: &RunId,
    table: &str,
    row: usize,
    who: &str,
) -> Result<(), MarkError> {
    let mut tx = records
        .write_transaction()
        .await
        .map_err(StoreError::from)?;
    let reviewed = sqlx::query("SELECT 1 AS one FROM reviews WHERE run_id = $1")
        .bind(&run.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from)?;
    if reviewed.is_some() {
        return Err(MarkError::Reviewed(run.0.clone()));
    }
    let found = sqlx::query(
        "SELECT r.status, r.place, r.row_key, u.client, u.workflow FROM run_rows r JOIN runs u ON u.id = r.run_id
         WHERE r.run_id = $1 AND r.tbl = $2 AND r.row_no = $3",
    )
    .bind(&run.0)
    .bind(table)
    .bind(row as i64)
    .fetch_optional(&mut *tx)
    .await
    .map_err(StoreError::from)?
    .ok_or_else(|| MarkError::NoSuchRow {
        run: run.0.clone(),
        table: table.into(),
        row,
    })?;
    let status: String = found.get("status");
    if status != RowStatus::InDoubt.as_str() {
        return Err(MarkError::NotInDoubt {
            run: run.0.clone(),
            table: table.into(),
            row,
            status,
        });
    }
    let note = format!("in doubt, then marked done by {who} after checking");
    let place: Option<String> = found.get("place");
    let key: Option<String> = found.get("row_key");
    let now = Utc::now().to_rfc3339();
    sqlx::query("UPDATE run_rows SET status = 'ok', message = $1 WHERE run_id = $2 AND tbl = $3 AND row_no = $4")
        .bind(&note)
        .bind(&run.0)
        .bind(table)
        .bind(row as i64)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
    sqlx::query(
        "UPDATE runs SET rows_ok = rows_ok + 1, rows_in_doubt = rows_in_doubt - 1 WHERE id = $1 AND rows_in_doubt > 0",
    )
    .bind(&run.0)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    // The progress entry of that row: now this run's work (paid with it), kept as done.
    sqlx::query(
        "UPDATE run_row_progress SET state = 'ok', message = $1, updated_at = $2, from_run = NULL
         WHERE run_id = $3 AND place = $4",
    )
    .bind(&note)
    .bind(&now)
    .bind(&run.0)
    .bind(place)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    if let Some(key) = key {
        let client: String = found.get("client");
        let workflow: String = found.get("workflow");
        keep_key(&mut tx, &client, &workflow, &key, &run.0, &now)
            .await
            .map_err(StoreError::from)?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_name_the_loop_and_the_sheet_row() {
        assert_eq!(place(None, "contacts", 1, 7), "contacts#1@7");
        assert_eq!(
            place(Some("orders#1@3"), "items", 2, 2),
            "orders#1@3/items#2@2"
        );
    }

    #[test]
    fn rerun_choices_redo_only_what_they_say() {
        use RowStatus::*;
        assert!(RerunRows::Failed.redoes(Failed));
        assert!(!RerunRows::Failed.redoes(InDoubt));
        assert!(!RerunRows::Failed.redoes(Ok));
        assert!(RerunRows::InDoubt.redoes(InDoubt));
        assert!(!RerunRows::InDoubt.redoes(Failed));
        for s in [Ok, Failed, Skipped, InDoubt, Pending] {
            assert!(RerunRows::All.redoes(s));
            assert_eq!(
                RowState::parse(RowState::Done(s).as_str()),
                RowState::Done(s)
            );
        }
        assert!("everything".parse::<RerunRows>().is_err());
        assert_eq!(
            "in-doubt".parse::<RerunRows>(),
            Result::<RerunRows, String>::Ok(RerunRows::InDoubt)
        );
    }
}
