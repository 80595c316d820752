//! Rows of a `for_each`: each row's outcome kept in the records as it ends, rows an earlier
//! attempt (or the run a rerun repeats) did carried over, rows entered before skipped by
//! their key, and rows interrupted after a click marked in doubt (see [`crate::progress`]).

use super::{Execution, Flow, Frame, Progress, RowOutcome, StepFailure, step_name};
use crate::progress::{self, RowEffects, RowEntry, RowState};
use crate::record::StoreError;
use crate::run::RowStatus;
use crate::steps::{OnError, Step};
use crate::table::{Cell, Table};
use minijinja::Value;
use std::collections::BTreeMap;

impl Execution<'_> {
    /// What a person can do with row `i` of `table` in doubt, as every such message ends.
    fn in_doubt_choices(&self, table: &str, i: usize) -> String {
        let run = self.run_id;
        format!(
            "check the portal, then press \"It was entered\" on the run page (or `kobo mark-done {run} {} --table {table}`), or run it again with `kobo rerun {run} --rows in-doubt`",
            i + 1
        )
    }

    /// Rows this attempt marked touched and did not finish (the run was cancelled, timed out,
    /// or lost its browser in them) are shown in doubt, not as not reached.
    pub fn mark_interrupted_rows(&mut self) {
        let Some(book) = &self.book else { return };
        let open: Vec<(String, usize)> = self
            .touched_rows
            .iter()
            .filter(|(p, _)| {
                book.kept
                    .get(*p)
                    .is_none_or(|e| e.state == RowState::Touched)
            })
            .map(|(_, r)| r.clone())
            .collect();
        for (table, i) in open {
            let message = format!(
                "in doubt: the run stopped in this row after a click or key press went through; check the portal, then run it again with `kobo rerun {} --rows in-doubt` if it is not there",
                self.run_id
            );
            self.set_outcome(
                &table,
                i,
                RowOutcome::new(RowStatus::InDoubt, Some(message), None),
            );
        }
    }

    pub(crate) async fn for_each(
        &mut self,
        step: &Step,
        table: &str,
        key: Option<&str>,
        steps: &[Step],
        frame: &Frame,
    ) -> Result<Flow, StepFailure> {
        let total = self.table(table, step, frame)?.len();
        self.results.insert(
            table.to_string(),
            vec![RowOutcome::new(RowStatus::Pending, None, None); total],
        );
        let nth = self.loop_number.get(&step.path).copied().unwrap_or(1);
        let source_rows = self.table(table, step, frame)?.source_rows.clone();
        let unique_rows = source_rows
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            == total;
        for i in 0..total {
            // The sheet row names the row; a table whose rows share sheet rows uses positions.
            let row_name = if unique_rows { source_rows[i] } else { i + 1 };
            let place = progress::place(
                frame.places.last().map(String::as_str),
                table,
                nth,
                row_name,
            );
            let mut places = frame.places.clone();
            places.push(place.clone());
            let inner = Frame {
                row: Some((table.to_string(), i)),
                error: frame.error.clone(),
                places,
            };
            // The row's key first: a row is known by it when it has one.
            let rendered_key = match key {
                Some(t) => match self.render_key(t, step, &inner) {
                    Ok(k) => Some(k),
                    Err(f) => {
                        let o = match self.row_error(step, f, table, i)? {
                            Some(o) => o,
                            None => return Err(self.stopped_row.take().expect("set by row_error")),
                        };
                        self.set_outcome(table, i, o);
                        continue;
                    }
                },
                None => None,
            };
            let known = self
                .known_row(step, &inner, &place, table, i, rendered_key.as_deref())
                .await?;
            let outcome = match known {
                Some(known) => known,
                None => match self.row_key(rendered_key, step, &inner).await {
                    Ok((row_key, Some(already))) => {
                        let mut o = RowOutcome {
                            key: row_key,
                            ..RowOutcome::new(RowStatus::Skipped, Some(already), None)
                        };
                        self.keep_row(&inner, &place, table, i, &mut o, RowEffects::default())
                            .await?;
                        o
                    }
                    Ok((row_key, None)) => {
                        if let Some(k) = &row_key {
                            self.row_keys.insert(place.clone(), k.clone());
                        }
                        let start = RowStart {
                            vars: self.vars.clone(),
                            lengths: self
                                .tables
                                .iter()
                                .map(|(k, t)| (k.clone(), t.len()))
                                .collect(),
                        };
                        let Some(mut o) = self.run_row(step, steps, &inner, table, i).await? else {
                            return Err(self.stopped_row.take().expect("set by run_row"));
                        };
                        o.key = row_key;
                        let effects = self.row_effects(table, i, start);
                        self.keep_row(&inner, &place, table, i, &mut o, effects)
                            .await?;
                        o
                    }
                    Err(f) => match self.row_error(step, f, table, i)? {
                        Some(o) => o,
                        None => return Err(self.stopped_row.take().expect("set by row_error")),
                    },
                },
            };
            let mut outcome = outcome;
            outcome.place = Some(place.clone());
            if outcome.status == RowStatus::Failed && outcome.carried_from.is_none() {
                let source = source_rows.get(i).copied().unwrap_or(i + 1);
                self.log.warn(
                    outcome.step.as_deref(),
                    Some(i + 1),
                    &format!(
                        "row {} (row {source} in the sheet) failed: {}",
                        i + 1,
                        outcome.message.clone().unwrap_or_default()
                    ),
                );
            }
            self.set_outcome(table, i, outcome);
            if let Some(p) = &self.progress {
                p(Progress {
                    table: table.to_string(),
                    done: i + 1,
                    total,
                });
            }
        }
        self.flush_rows()
            .await
            .map_err(|e| self.progress_failure(step, frame, e))?;
        Ok(Flow::Next)
    }

    /// Run one row's steps. `None`: the row stopped the loop (`on_error: stop`, a lost
    /// browser); the failure is in `stopped_row`.
    async fn run_row(
        &mut self,
        step: &Step,
        steps: &[Step],
        inner: &Frame,
        table: &str,
        i: usize,
    ) -> Result<Option<RowOutcome>, StepFailure> {
        match self.steps(steps, inner).await {
            Ok(Flow::Next) => Ok(Some(RowOutcome::new(RowStatus::Ok, None, None))),
            Ok(Flow::SkipRow(reason)) => Ok(Some(RowOutcome::new(
                RowStatus::Skipped,
                Some(reason),
                None,
            ))),
            Ok(Flow::FailRow(f)) => Ok(Some(RowOutcome::new(
                RowStatus::Failed,
                Some(f.message),
                Some(f.step),
            ))),
            Err(f) => self.row_error(step, f, table, i),
        }
    }

    /// A row's error under the loop's `on_error`: `None` when it stops the loop (the failure
    /// is then in `stopped_row`), else the row's outcome.
    fn row_error(
        &mut self,
        step: &Step,
        f: StepFailure,
        table: &str,
        i: usize,
    ) -> Result<Option<RowOutcome>, StepFailure> {
        let failed =
            |f: StepFailure| RowOutcome::new(RowStatus::Failed, Some(f.message), Some(f.step));
        match step.on_error {
            _ if self.browser_lost => {
                self.stopped_row = Some(f);
                Ok(None)
            }
            OnError::Stop => {
                self.set_outcome(table, i, failed(f.clone()));
                self.stopped_row = Some(f);
                Ok(None)
            }
            OnError::SkipRow => Ok(Some(RowOutcome::new(
                RowStatus::Skipped,
                Some(f.message),
                Some(f.step),
            ))),
            OnError::Continue | OnError::MarkRowFailed => Ok(Some(failed(f))),
        }
    }

    /// The row's `key:`, and why it is skipped when an earlier run entered that key.
    fn render_key(
        &self,
        template: &str,
        step: &Step,
        frame: &Frame,
    ) -> Result<String, StepFailure> {
        let key = self.render_text(template, frame, step)?.trim().to_string();
        if key.is_empty() {
            return Err(self.failure(
                step,
                frame,
                format!("the row's `key: {template}` is empty, and every row needs a key to be entered only once; fill it in the file, or make the key from a column that always has a value (such as the invoice number)"),
            ));
        }
        Ok(key)
    }

    async fn row_key(
        &self,
        key: Option<String>,
        step: &Step,
        frame: &Frame,
    ) -> Result<(Option<String>, Option<String>), StepFailure> {
        let Some(key) = key else {
            return Ok((None, None));
        };
        let Some(book) = &self.book else {
            return Ok((Some(key), None));
        };
        if book.again {
            return Ok((Some(key), None));
        }
        let before = progress::entered(self.records, &self.w.client, &self.w.name, &key)
            .await
            .map_err(|e| self.progress_failure(step, frame, e))?;
        let why = before.map(|b| {
            format!(
                "already entered by run {} on {} (key `{key}`); to enter it again on purpose, start the run with `kobo run … --again` (or rerun it with every row)",
                b.run_id,
                b.entered_at.with_timezone(&crate::payout::jst()).format("%Y-%m-%d %H:%M")
            )
        });
        Ok((Some(key), why))
    }

    /// A row this run (an earlier attempt) or the run it repeats already did: its outcome,
    /// with what it left behind put back. A row found started and not finished after it may
    /// have changed the outside world is in doubt.
    async fn known_row(
        &mut self,
        step: &Step,
        frame: &Frame,
        place: &str,
        table: &str,
        i: usize,
        key: Option<&str>,
    ) -> Result<Option<RowOutcome>, StepFailure> {
        let Some(book) = &self.book else {
            return Ok(None);
        };
        let (entry, carried) = match progress::find(&book.kept, place, key) {
            Some(e) => (e.clone(), false),
            None => match book.carried(place, key) {
                Some(e) => (e, true),
                None => return Ok(None),
            },
        };
        let mut entry = entry;
        if entry.state == RowState::Touched {
            let at = entry.step.clone().unwrap_or_else(|| "a step".into());
            entry.state = RowState::Done(RowStatus::InDoubt);
            entry.message = Some(format!(
                "in doubt: the run stopped in this row after step {at}, which may already have entered it; {}",
                self.in_doubt_choices(table, i)
            ));
            entry.effects = RowEffects::default();
        }
        let RowState::Done(status) = entry.state else {
            unreachable!("touched rows became in doubt above")
        };
        self.restore(table, i, &entry.effects);
        let origin = entry.origin();
        let outcome = RowOutcome {
            status,
            message: entry.message.clone(),
            step: entry.step.clone(),
            carried_from: Some(origin.clone()),
            key: entry.key.clone(),
            place: Some(place.to_string()),
        };
        // Found by its key at another place (the table's order changed): kept here now.
        let moved = entry.place != place;
        entry.place = place.to_string();
        let book = self.book.as_mut().expect("checked above");
        let kept_as = book.kept.get(place).map(|e| e.state);
        if carried || moved || kept_as != Some(entry.state) {
            book.push(entry.clone());
            book.kept.insert(place.to_string(), entry);
            book.flush(self.records)
                .await
                .map_err(|e| self.progress_failure(step, frame, e))?;
        }
        self.log.info(
            Some(&step_name(step)),
            Some(i + 1),
            &format!(
                "row {} {} in {origin}: not run again",
                i + 1,
                status.as_str()
            ),
        );
        Ok(Some(outcome))
    }

    /// Keep a finished row's progress: at once when it used the browser (it may have
    /// entered something), else in the next batch.
    async fn keep_row(
        &mut self,
        frame: &Frame,
        place: &str,
        table: &str,
        i: usize,
        o: &mut RowOutcome,
        effects: RowEffects,
    ) -> Result<(), StepFailure> {
        // Failed (or skipped by an error) after a click went through: the portal may have it.
        let by_error =
            o.status == RowStatus::Failed || (o.status == RowStatus::Skipped && o.step.is_some());
        if by_error && let Some(sent) = self.sent.get(place) {
            o.status = RowStatus::InDoubt;
            o.message = Some(format!(
                "in doubt: the row failed after step {sent} had gone through, so the portal may have it ({}); {}",
                o.message.clone().unwrap_or_default(),
                self.in_doubt_choices(table, i)
            ));
        }
        let source_row = self
            .tables
            .get(table)
            .and_then(|t| t.source_rows.get(i).copied())
            .unwrap_or(i + 1);
        // A row with a key is kept at once, so the next row with the same key sees it.
        let urgent = std::mem::take(&mut self.used_browser)
            || self.touched.contains(place)
            || o.key.is_some();
        let Some(book) = &mut self.book else {
            return Ok(());
        };
        let entry = RowEntry {
            place: place.to_string(),
            table: table.to_string(),
            source_row,
            state: RowState::Done(o.status),
            message: o.message.as_ref().map(|m| self.log.secrets().mask(m)),
            step: o.step.clone(),
            key: o.key.clone(),
            effects,
            attempt: book.attempt,
            from_run: None,
        };
        book.kept.insert(place.to_string(), entry.clone());
        book.push(entry);
        if urgent || book.due() {
            let flushed = book.flush(self.records).await;
            if let Err(e) = flushed {
                let step_name = o.step.clone().unwrap_or_else(|| "the row's end".into());
                let _ = frame;
                return Err(StepFailure {
                    message: format!("cannot keep the row's progress in the records: {e}"),
                    step: step_name,
                    row: None,
                    transient: false,
                });
            }
        }
        Ok(())
    }

    /// Before a step that may change the outside world: keep, durably, that the rows it is
    /// in have started doing so (after a crash they are in doubt, never done again by themselves).
    pub(super) async fn touch(&mut self, step: &Step, frame: &Frame) -> Result<(), StepFailure> {
        let fresh: Vec<String> = frame
            .places
            .iter()
            .filter(|p| !self.touched.contains(*p))
            .cloned()
            .collect();
        if fresh.is_empty() || self.book.is_none() {
            return Ok(());
        }
        let name = step_name(step);
        let Some((table, i)) = &frame.row else {
            return Ok(());
        };
        // A worker taken for dead (its heartbeat stood still) may have lost the run to another
        // one, which goes on with the rows: this one must not enter them too.
        if let Some(worker) = self.book.as_ref().and_then(|b| b.worker.clone()) {
            let mine = self
                .records
                .still_held_by(self.run_id, &worker)
                .await
                .map_err(|e| self.progress_failure(step, frame, e))?;
            if !mine {
                return Err(self.failure(
                    step,
                    frame,
                    format!("another worker took this run over (`{worker}` was taken for dead); this one stops before the click, so no row is entered twice"),
                ));
            }
        }
        let source_row = self
            .tables
            .get(table)
            .and_then(|t| t.source_rows.get(*i).copied())
            .unwrap_or(i + 1);
        let keys: Vec<Option<String>> = fresh
            .iter()
            .map(|p| self.row_keys.get(p).cloned())
            .collect();
        let book = self.book.as_mut().expect("checked above");
        for (place, key) in fresh.iter().zip(keys) {
            let (tbl, row) = place_parts(place).unwrap_or((table.clone(), source_row));
            let entry = RowEntry {
                place: place.clone(),
                table: tbl,
                source_row: row,
                state: RowState::Touched,
                message: None,
                step: Some(name.clone()),
                key,
                effects: RowEffects::default(),
                attempt: book.attempt,
                from_run: None,
            };
            book.kept.insert(place.clone(), entry.clone());
            book.push(entry);
        }
        if let Some((t, i)) = &frame.row
            && let Some(own) = fresh.last()
        {
            self.touched_rows.insert(own.clone(), (t.clone(), *i));
        }
        let flushed = book.flush(self.records).await;
        flushed.map_err(|e| self.progress_failure(step, frame, e))?;
        self.touched.extend(fresh);
        Ok(())
    }

    fn progress_failure(&self, step: &Step, frame: &Frame, e: StoreError) -> StepFailure {
        self.failure(
            step,
            frame,
            format!("cannot keep the row's progress in the records ({e}); rows just done may be done again when the run is: check the portal before running it again"),
        )
    }

    /// What the row that just ended left behind: its cells, the variables it set, the rows
    /// it appended to other tables.
    fn row_effects(&mut self, table: &str, i: usize, start: RowStart) -> RowEffects {
        let mut effects = RowEffects::default();
        if let Some(t) = self.tables.get(table)
            && let Some(row) = t.rows.get(i)
        {
            effects.cells = t.columns.iter().cloned().zip(row.iter().cloned()).collect();
        }
        for (name, value) in &self.vars {
            if start.vars.get(name) != Some(value)
                && let Ok(json) = serde_json::to_value(value)
            {
                effects.vars.push((name.clone(), json));
            }
        }
        for (name, t) in &self.tables {
            if name == table {
                continue;
            }
            let before = start.lengths.get(name).copied().unwrap_or(0);
            for row in t.rows.iter().skip(before) {
                effects.appended.push((
                    name.clone(),
                    t.columns.iter().cloned().zip(row.iter().cloned()).collect(),
                ));
            }
        }
        effects
    }

    /// Put back what a carried-over row left behind.
    fn restore(&mut self, table: &str, i: usize, effects: &RowEffects) {
        if let Some(t) = self.tables.get_mut(table) {
            for (column, cell) in &effects.cells {
                let c = t.ensure_column(column);
                if let Some(row) = t.rows.get_mut(i) {
                    row.resize(t.columns.len(), Cell::Empty);
                    row[c] = cell.clone();
                }
            }
        }
        for (name, json) in &effects.vars {
            self.vars.insert(name.clone(), Value::from_serialize(json));
        }
        for (name, cells) in &effects.appended {
            let t = self
                .tables
                .entry(name.clone())
                .or_insert_with(|| Table::new(Vec::new()));
            let mut row = vec![Cell::Empty; t.columns.len()];
            for (column, cell) in cells {
                let c = t.ensure_column(column);
                row.resize(t.columns.len(), Cell::Empty);
                row[c] = cell.clone();
            }
            let n = t.len() + 1;
            t.push_row(row, n);
        }
    }

    /// Keep a row's outcome. Every row message passes here, so this is where secrets are
    /// masked (a `skip_row` reason is written by the trainee and may contain one).
    pub(super) fn set_outcome(&mut self, table: &str, i: usize, mut o: RowOutcome) {
        o.message = o.message.map(|m| self.log.secrets().mask(&m));
        if let Some(v) = self.results.get_mut(table)
            && let Some(slot) = v.get_mut(i)
        {
            *slot = o;
        }
    }
}

/// What was there when a row started.
pub(super) struct RowStart {
    pub(super) vars: BTreeMap<String, Value>,
    pub(super) lengths: BTreeMap<String, usize>,
}

/// Which `for_each` over its table each loop step is, counted in the file's order: the
/// number stays the same when other steps are added or moved, so rows keep their names.
pub(super) fn loop_numbers(steps: &[Step]) -> BTreeMap<String, usize> {
    fn walk(steps: &[Step], seen: &mut BTreeMap<String, usize>, out: &mut BTreeMap<String, usize>) {
        for s in steps {
            if let Some((table, _)) = s.kind.as_loop() {
                let n = seen.entry(table.to_string()).or_insert(0);
                *n += 1;
                out.insert(s.path.clone(), *n);
            }
            for child in s.kind.children() {
                walk(child, seen, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(steps, &mut BTreeMap::new(), &mut out);
    out
}

/// The table and sheet row in the last part of a place (`orders#1@3/items#1@2` → items, 2).
fn place_parts(place: &str) -> Option<(String, usize)> {
    let own = place.rsplit('/').next()?;
    let (head, row) = own.rsplit_once('@')?;
    let (table, _) = head.rsplit_once('#')?;
    Some((table.to_string(), row.parse().ok()?))
}
