//! The engine: runs a [`Workflow`]'s steps against its input tables.
//!
//! [`Execution`] holds the state of one attempt (tables, variables, row results, timings).
//! Each step may carry `when`, `retry`, `timeout_secs` and `on_error`; the wrapper in
//! `Execution::step` applies them the same way to every kind of step.

use crate::expr::{self, Expressions, value_cell};
use crate::progress::{self, RowBook, RowEffects, RowEntry, RowState};
use crate::record::{Artifact, Records, StoreError};
use crate::run::{RowCounts, RowResult, RowStatus, RunId, StepTiming};
use crate::run_folder::{RunFolder, RunLog, file_sha256, safe_file_name};
use crate::sheet::{
    self, ColumnFormat, CsvEncoding, HeaderRow, MergedCells, OutputSheet, SheetRef, SheetSpec,
};
use crate::step::{OnError, SheetName, Step, StepKind, WriteArgs, template_text};
use crate::table::{Cell, Table};
use crate::workflow::Workflow;
use minijinja::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod browser_steps;

/// Why a step failed, with everything a trainee needs to find it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepFailure {
    pub message: String,
    /// `#4 fill (line 14)`
    pub step: String,
    /// Row number inside the table (1-based) and the row in the client's sheet.
    pub row: Option<(String, usize, usize)>,
    /// A failure worth retrying the run for (browser crash, network), not bad data.
    pub transient: bool,
}

impl StepFailure {
    /// `step #4 fill (line 14), row 7 of invoices (sheet row 8): <message>`
    pub fn describe(&self) -> String {
        match &self.row {
            Some((table, row, source)) => format!(
                "step {}, row {row} of `{table}` (row {source} in the sheet): {}",
                self.step, self.message
            ),
            None => format!("step {}: {}", self.step, self.message),
        }
    }
}

/// How a block of steps ended.
#[derive(Debug)]
enum Flow {
    Next,
    SkipRow(String),
    FailRow(StepFailure),
}

/// Rows done / total, reported while a `for_each` runs.
#[derive(Debug, Clone)]
pub struct Progress {
    pub table: String,
    pub done: usize,
    pub total: usize,
}

pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Where the current steps are: inside which row, inside which `catch`.
#[derive(Debug, Clone, Default)]
struct Frame {
    row: Option<(String, usize)>,
    error: Option<String>,
    /// The places (see [`progress::place`]) of the rows the steps are in, outermost first.
    places: Vec<String>,
}

/// The outcome of one row inside a `for_each`.
#[derive(Debug, Clone)]
struct RowOutcome {
    status: RowStatus,
    message: Option<String>,
    step: Option<String>,
    carried_from: Option<String>,
    key: Option<String>,
    place: Option<String>,
}

impl RowOutcome {
    fn new(status: RowStatus, message: Option<String>, step: Option<String>) -> RowOutcome {
        RowOutcome {
            status,
            message,
            step,
            carried_from: None,
            key: None,
            place: None,
        }
    }
}

/// One attempt at running a workflow.
pub struct Execution<'a> {
    w: &'a Workflow,
    x: Expressions,
    folder: &'a RunFolder,
    log: &'a RunLog,
    records: &'a Records,
    run_id: &'a RunId,
    pub tables: BTreeMap<String, Table>,
    results: BTreeMap<String, Vec<RowOutcome>>,
    vars: BTreeMap<String, Value>,
    params: Value,
    secrets: Value,
    run_info: Value,
    timings: Vec<StepTiming>,
    timing_index: BTreeMap<String, usize>,
    pub outputs: Vec<PathBuf>,
    progress: Option<ProgressFn>,
    /// Paths of the input files, by input name.
    input_files: BTreeMap<String, PathBuf>,
    /// One browser per run, started by the first browser step, shared by all rows.
    browser: Option<crate::browser::Browser>,
    /// The browser crashed (or could not start): the rest of this attempt cannot work, so
    /// the failure goes past `on_error` and `catch` to the run, which may try again.
    browser_lost: bool,
    screenshots: usize,
    /// Row progress kept in the records as rows end (none: rows are not kept, nothing resumes).
    book: Option<RowBook>,
    /// Which `for_each` over its table each loop step is (1 for the first in the file).
    loop_number: BTreeMap<String, usize>,
    /// Places of rows that have started something that may change the outside world.
    touched: std::collections::BTreeSet<String>,
    /// A browser step ran since the last row ended: that row's progress is kept at once.
    used_browser: bool,
    /// Rows (by place) in which a step that changes the outside world went through, and
    /// which step: such a row that then fails is in doubt, and is not tried again.
    sent: BTreeMap<String, String>,
    /// How many such steps went through in this attempt.
    sent_count: u64,
    /// Rows marked touched in this attempt, by place: (table, position).
    touched_rows: BTreeMap<String, (String, usize)>,
    /// The failure that stopped a `for_each` (`on_error: stop`, a lost browser).
    stopped_row: Option<StepFailure>,
    /// The `key:` of the rows being run, by place, kept with a row marked touched.
    row_keys: BTreeMap<String, String>,
    /// How many output files and bytes the run may write (`limits.yaml`).
    limits: crate::limits::Limits,
    /// Told the name of each step as it starts (a run in a process of its own reports it, so
    /// its supervisor can say where the run was if the process stops).
    step_trace: Option<StepTrace>,
}

/// See `Execution::trace_steps`.
pub type StepTrace = Arc<dyn Fn(&str) + Send + Sync>;

/// What was there when a row started.
struct RowStart {
    vars: BTreeMap<String, Value>,
    lengths: BTreeMap<String, usize>,
}

/// How much longer than its `timeout_secs` a browser step may take before it is stopped from
/// outside: its own wait for the element ends first and says which element it was.
const BROWSER_STEP_GRACE: Duration = Duration::from_secs(5);

type StepFuture<'f> = Pin<Box<dyn Future<Output = Result<Flow, StepFailure>> + Send + 'f>>;

impl<'a> Execution<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        w: &'a Workflow,
        folder: &'a RunFolder,
        log: &'a RunLog,
        records: &'a Records,
        run_id: &'a RunId,
        params: BTreeMap<String, serde_yaml::Value>,
        input_files: BTreeMap<String, PathBuf>,
        progress: Option<ProgressFn>,
    ) -> Execution<'a> {
        let secrets: BTreeMap<String, Value> = log
            .secrets()
            .values()
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        let params: BTreeMap<String, Value> = params
            .iter()
            .map(|(k, v)| (k.clone(), expr::yaml_value(v)))
            .collect();
        let input_name = w
            .file_inputs()
            .next()
            .and_then(|i| input_files.get(&i.name))
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let run_info = Value::from_serialize(serde_json::json!({
            "id": run_id.0,
            "workflow": w.name,
            "client": w.client,
            "author": w.author,
            "input": input_name,
        }));
        Execution {
            w,
            x: Expressions::new(),
            folder,
            log,
            records,
            run_id,
            tables: BTreeMap::new(),
            results: BTreeMap::new(),
            vars: BTreeMap::new(),
            params: Value::from(params),
            secrets: Value::from(secrets),
            run_info,
            timings: Vec::new(),
            timing_index: BTreeMap::new(),
            outputs: Vec::new(),
            progress,
            input_files,
            browser: None,
            browser_lost: false,
            screenshots: 0,
            book: None,
            loop_number: loop_numbers(&w.steps),
            touched: Default::default(),
            used_browser: false,
            sent: BTreeMap::new(),
            sent_count: 0,
            touched_rows: BTreeMap::new(),
            stopped_row: None,
            row_keys: BTreeMap::new(),
            limits: crate::limits::Limits::default(),
            step_trace: None,
        }
    }

    /// Keep each row's progress in the records as it ends, and carry over the rows `book`
    /// already knows (done by an earlier attempt, or by the run a rerun repeats).
    pub fn keep_rows(&mut self, book: RowBook) {
        self.book = Some(book);
    }

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

    /// Hold the run to these output bounds.
    pub fn set_limits(&mut self, limits: crate::limits::Limits) {
        self.limits = limits;
    }

    /// Tell `trace` the name of each step as it starts.
    pub fn trace_steps(&mut self, trace: Option<StepTrace>) {
        self.step_trace = trace;
    }

    /// Write the row progress not yet kept (rows that did not use the browser are kept in
    /// batches). Called when an attempt ends, however it ended.
    pub async fn flush_rows(&mut self) -> Result<(), StoreError> {
        match &mut self.book {
            Some(book) => book.flush(self.records).await,
            None => Ok(()),
        }
    }

    /// Read the inputs, check column names against their real headers, run every step.
    pub async fn run(&mut self) -> Result<(), StepFailure> {
        self.read_inputs()?;
        let headers: BTreeMap<String, Vec<String>> = self
            .tables
            .iter()
            .map(|(k, t)| (k.clone(), t.columns.clone()))
            .collect();
        let problems = crate::validate::check_columns(self.w, &headers);
        if !problems.is_empty() {
            let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            return Err(StepFailure {
                message: format!(
                    "the input does not have the columns the workflow uses:\n{}",
                    text.join("\n")
                ),
                step: "reading the input".into(),
                row: None,
                transient: false,
            });
        }
        match self.steps(&self.w.steps, &Frame::default()).await? {
            Flow::Next => Ok(()),
            Flow::SkipRow(_) | Flow::FailRow(_) => Ok(()),
        }
    }

    fn read_inputs(&mut self) -> Result<(), StepFailure> {
        for input in &self.w.inputs {
            let file_input = input.spec.same_file_as.as_deref().unwrap_or(&input.name);
            let Some(path) = self.input_files.get(file_input).cloned() else {
                return Err(StepFailure {
                    message: format!("no file was given for input `{file_input}`"),
                    step: "reading the input".into(),
                    row: None,
                    transient: false,
                });
            };
            let spec = sheet_spec(
                input.spec.sheet.as_ref(),
                input.spec.header_row,
                input.spec.range.clone(),
                input.spec.merged,
            );
            let report = sheet::read(&path, &spec).map_err(|e| StepFailure {
                message: e.shown_as(file_name(&path)).to_string(),
                step: format!("reading input `{}`", input.name),
                row: None,
                transient: false,
            })?;
            let place = read_place(&path, &report);
            let table = report.table;
            let missing: Vec<&String> = input
                .spec
                .columns
                .iter()
                .filter(|c| table.column_index(c).is_none())
                .collect();
            if !missing.is_empty() {
                let names: Vec<String> = missing.iter().map(|c| format!("`{c}`")).collect();
                let hint = report
                    .header_hint
                    .map(|h| format!(". {h}"))
                    .unwrap_or_default();
                return Err(StepFailure {
                    message: format!(
                        "{place} has no column {} (header row {}). Its columns are: {}{hint}",
                        names.join(", "),
                        spec.header_row,
                        table.columns.join(", ")
                    ),
                    step: format!("reading input `{}`", input.name),
                    row: None,
                    transient: false,
                });
            }
            self.log.info(
                None,
                None,
                &format!(
                    "read input `{}` from {place}{}: {} rows, columns: {}",
                    input.name,
                    report
                        .encoding
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default(),
                    table.len(),
                    table.columns.join(", ")
                ),
            );
            for warning in &report.warnings {
                self.log.warn(
                    None,
                    None,
                    &format!("input `{}` ({place}): {warning}", input.name),
                );
            }
            self.tables.insert(input.name.clone(), table);
        }
        Ok(())
    }

    /// Timings per step, in the order steps first ran.
    pub fn timings(&self) -> Vec<StepTiming> {
        self.timings.clone()
    }

    /// Row results of every `for_each`, and their counts.
    pub fn row_results(&self) -> (Vec<RowResult>, RowCounts) {
        let mut out = Vec::new();
        let mut counts = RowCounts::default();
        for (table, outcomes) in &self.results {
            let source_rows = self
                .tables
                .get(table)
                .map(|t| t.source_rows.clone())
                .unwrap_or_default();
            for (i, o) in outcomes.iter().enumerate() {
                counts.total += 1;
                match o.status {
                    RowStatus::Ok => counts.ok += 1,
                    RowStatus::Failed => counts.failed += 1,
                    RowStatus::Skipped => counts.skipped += 1,
                    RowStatus::InDoubt => counts.in_doubt += 1,
                    RowStatus::Pending => {}
                }
                out.push(RowResult {
                    table: table.clone(),
                    row: i + 1,
                    source_row: source_rows.get(i).copied().unwrap_or(i + 1),
                    status: o.status,
                    message: o.message.clone(),
                    step: o.step.clone(),
                    carried_from: o.carried_from.clone(),
                    key: o.key.clone(),
                    place: o.place.clone(),
                });
            }
        }
        (out, counts)
    }

    // ---- templates ----

    fn context(&self, frame: &Frame) -> Value {
        let mut ctx: BTreeMap<&str, Value> = BTreeMap::new();
        for (k, v) in &self.vars {
            ctx.insert(k.as_str(), v.clone());
        }
        ctx.insert("params", self.params.clone());
        ctx.insert("secrets", self.secrets.clone());
        ctx.insert("run", self.run_info.clone());
        let now = chrono::Local::now();
        ctx.insert("today", Value::from(now.format("%Y-%m-%d").to_string()));
        ctx.insert(
            "now",
            Value::from(now.format("%Y-%m-%d %H:%M:%S").to_string()),
        );
        if let Some((table, i)) = &frame.row
            && let Some(t) = self.tables.get(table)
            && let Some(cells) = t.rows.get(*i)
        {
            ctx.insert("row", expr::row_value(&t.columns, cells));
            ctx.insert("index", Value::from(i + 1));
        }
        if let Some(e) = &frame.error {
            ctx.insert("error", Value::from(e.as_str()));
        }
        Value::from(
            ctx.into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<BTreeMap<String, Value>>(),
        )
    }

    fn render(&self, src: &str, frame: &Frame, step: &Step) -> Result<Value, StepFailure> {
        self.x
            .render(src, &self.context(frame))
            .map_err(|e| self.failure(step, frame, format!("cannot fill in `{src}`: {e}")))
    }

    fn render_text(&self, src: &str, frame: &Frame, step: &Step) -> Result<String, StepFailure> {
        self.render(src, frame, step).map(|v| expr::display(&v))
    }

    fn failure(&self, step: &Step, frame: &Frame, message: impl Into<String>) -> StepFailure {
        let row = frame.row.as_ref().map(|(t, i)| {
            let source = self
                .tables
                .get(t)
                .and_then(|tb| tb.source_rows.get(*i).copied())
                .unwrap_or(i + 1);
            (t.clone(), i + 1, source)
        });
        StepFailure {
            message: self.log.secrets().mask(&message.into()),
            step: step_name(step),
            row,
            transient: false,
        }
    }

    fn table_mut(
        &mut self,
        name: &str,
        step: &Step,
        frame: &Frame,
    ) -> Result<&mut Table, StepFailure> {
        if !self.tables.contains_key(name) {
            return Err(self.failure(step, frame, format!("there is no table named `{name}`")));
        }
        Ok(self.tables.get_mut(name).expect("checked above"))
    }

    fn table(&self, name: &str, step: &Step, frame: &Frame) -> Result<&Table, StepFailure> {
        self.tables
            .get(name)
            .ok_or_else(|| self.failure(step, frame, format!("there is no table named `{name}`")))
    }

    // ---- the step wrapper ----

    fn steps<'f>(&'f mut self, steps: &'f [Step], frame: &'f Frame) -> StepFuture<'f> {
        Box::pin(async move {
            for step in steps {
                match self.step(step, frame).await? {
                    Flow::Next => {}
                    other => return Ok(other),
                }
            }
            Ok(Flow::Next)
        })
    }

    /// Run one step with its `when`, `retry`, `timeout_secs` and `on_error`.
    async fn step(&mut self, step: &Step, frame: &Frame) -> Result<Flow, StepFailure> {
        if let Some(cond) = &step.when {
            let ok = self.x.eval_bool(cond, &self.context(frame)).map_err(|e| {
                self.failure(step, frame, format!("cannot work out `when: {cond}`: {e}"))
            })?;
            if !ok {
                return Ok(Flow::Next);
            }
        }
        // Reserve the step's timing row now, so records list steps in the order they start.
        self.timing_slot(step);
        if let Some(trace) = &self.step_trace {
            trace(&step_name(step));
        }
        if step.kind.needs_browser() {
            self.used_browser = true;
        }
        if changes_outside(&step.kind) {
            self.touch(step, frame).await?;
        }
        let attempts = step.retry.map(|r| r.attempts.max(1)).unwrap_or(1);
        let mut attempt = 1;
        let failure = loop {
            let started = Instant::now();
            let sent_before = self.sent_count;
            let result = match step.timeout_secs {
                // A browser step waits for its element for `secs` itself and then fails naming
                // it; this limit, a little later, is for a page or browser that hangs.
                Some(secs) if step.kind.needs_browser() => {
                    let limit = Duration::from_secs(secs) + BROWSER_STEP_GRACE;
                    match tokio::time::timeout(limit, self.kind(step, frame)).await {
                        Ok(r) => r,
                        Err(_) => Err(self.browser_step_timed_out(step, frame, secs).await),
                    }
                }
                Some(secs) => {
                    match tokio::time::timeout(Duration::from_secs(secs), self.kind(step, frame))
                        .await
                    {
                        Ok(r) => r,
                        Err(_) => Err(self.failure(
                            step,
                            frame,
                            format!("the step did not finish within {secs} s (`timeout_secs`)"),
                        )),
                    }
                }
                None => self.kind(step, frame).await,
            };
            self.time(step, started.elapsed(), result.is_err());
            if result.is_ok() && changes_outside(&step.kind) && !frame.places.is_empty() {
                self.sent_count += 1;
                for place in &frame.places {
                    self.sent.insert(place.clone(), step_name(step));
                }
                crate::fault::point("row-clicked").await;
            }
            // A try that already sent something to the portal is not tried again: the portal
            // may have it, and a second try would enter it twice.
            let sent_in_try = self.sent_count > sent_before;
            if result.is_err() && sent_in_try && attempt < attempts {
                self.log.warn(
                    Some(&step_name(step)),
                    frame.row.as_ref().map(|r| r.1 + 1),
                    "not tried again (`retry`): a click or key press inside it already went through, so the portal may have the row",
                );
            }
            match result {
                Ok(flow) => return Ok(flow),
                Err(f) if attempt < attempts && !self.browser_lost && !sent_in_try => {
                    let delay = step.retry.map(|r| r.delay(attempt + 1)).unwrap_or_default();
                    let row = f.row.as_ref().map(|r| r.1);
                    self.log.warn(
                        Some(&f.step),
                        row,
                        &format!(
                            "attempt {attempt} of {attempts} failed: {}; trying again in {} s",
                            f.message,
                            delay.as_secs()
                        ),
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(f) => break f,
            }
        };
        if matches!(step.kind, StepKind::ForEach { .. }) || self.browser_lost {
            // for_each applies its on_error to each row itself; a lost browser ends the attempt.
            return Err(failure);
        }
        let row = failure.row.as_ref().map(|r| r.1);
        match step.on_error {
            OnError::Stop => Err(failure),
            OnError::Continue => {
                self.log.warn(
                    Some(&failure.step),
                    row,
                    &format!("{} (going on: `on_error: continue`)", failure.message),
                );
                Ok(Flow::Next)
            }
            OnError::MarkRowFailed => Ok(Flow::FailRow(failure)),
            OnError::SkipRow => Ok(Flow::SkipRow(failure.message)),
        }
    }

    fn time(&mut self, step: &Step, took: Duration, failed: bool) {
        let idx = self.timing_slot(step);
        let t = &mut self.timings[idx];
        let ms = took.as_secs_f64() * 1000.0;
        t.calls += 1;
        t.total_ms += ms;
        t.max_ms = t.max_ms.max(ms);
        if failed {
            t.failures += 1;
        }
    }

    fn timing_slot(&mut self, step: &Step) -> usize {
        match self.timing_index.get(&step.path) {
            Some(i) => *i,
            None => {
                self.timings.push(StepTiming {
                    path: step.path.clone(),
                    label: step.label(),
                    kind: step.kind.keyword().into(),
                    line: step.pos.map(|p| p.line),
                    ..Default::default()
                });
                self.timing_index
                    .insert(step.path.clone(), self.timings.len() - 1);
                self.timings.len() - 1
            }
        }
    }

    // ---- the kinds ----

    async fn kind(&mut self, step: &Step, frame: &Frame) -> Result<Flow, StepFailure> {
        match &step.kind {
            StepKind::ForEach { table, key, steps } => {
                self.for_each(step, table, key.as_deref(), steps, frame)
                    .await
            }
            StepKind::If {
                condition,
                then,
                otherwise,
            } => {
                let yes = self
                    .x
                    .eval_bool(condition, &self.context(frame))
                    .map_err(|e| {
                        self.failure(
                            step,
                            frame,
                            format!("cannot work out `if: {condition}`: {e}"),
                        )
                    })?;
                self.steps(if yes { then } else { otherwise }, frame).await
            }
            StepKind::Try { steps, catch } => match self.steps(steps, frame).await {
                Ok(flow) => Ok(flow),
                Err(f) if !catch.is_empty() && !self.browser_lost => {
                    let row = f.row.as_ref().map(|r| r.1);
                    self.log.warn(
                        Some(&f.step),
                        row,
                        &format!("{} (handled by `catch`)", f.message),
                    );
                    let inner = Frame {
                        row: frame.row.clone(),
                        error: Some(f.message),
                        places: frame.places.clone(),
                    };
                    self.steps(catch, &inner).await
                }
                Err(f) => Err(f),
            },
            StepKind::Set(vars) => {
                for (name, value) in vars {
                    let v = match value {
                        serde_yaml::Value::String(s) => self.render(s, frame, step)?,
                        other => expr::yaml_value(other),
                    };
                    self.vars.insert(name.clone(), v);
                }
                Ok(Flow::Next)
            }
            StepKind::Log(text) => {
                let msg = self.render_text(text, frame, step)?;
                self.log.info(
                    Some(&step_name(step)),
                    frame.row.as_ref().map(|r| r.1 + 1),
                    &msg,
                );
                Ok(Flow::Next)
            }
            StepKind::Fail(text) => {
                let msg = self.render_text(text, frame, step)?;
                Err(self.failure(step, frame, msg))
            }
            StepKind::SkipRow(text) => Ok(Flow::SkipRow(self.render_text(text, frame, step)?)),
            StepKind::Pause(secs) => {
                tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))).await;
                Ok(Flow::Next)
            }
            StepKind::Read(a) => {
                let Some(path) = self.input_files.get(&a.input).cloned() else {
                    return Err(self.failure(
                        step,
                        frame,
                        format!("no file was given for input `{}`", a.input),
                    ));
                };
                let spec = sheet_spec(a.sheet.as_ref(), a.header_row, a.range.clone(), a.merged);
                let report = sheet::read(&path, &spec).map_err(|e| {
                    self.failure(step, frame, e.shown_as(file_name(&path)).to_string())
                })?;
                let place = read_place(&path, &report);
                for warning in &report.warnings {
                    self.log
                        .warn(Some(&step_name(step)), None, &format!("{place}: {warning}"));
                }
                self.tables.insert(a.into.clone(), report.table);
                Ok(Flow::Next)
            }
            StepKind::Filter(a) => {
                let source = self.table(&a.table, step, frame)?.clone();
                let mut kept = Table::new(source.columns.clone());
                for (i, row) in source.rows.iter().enumerate() {
                    let ctx = self.row_context(frame, &source.columns, row, i);
                    let keep = self.x.eval_bool(&a.condition, &ctx).map_err(|e| {
                        self.row_failure(
                            step,
                            &a.table,
                            i,
                            source.source_rows[i],
                            format!("cannot work out `where: {}`: {e}", a.condition),
                        )
                    })?;
                    if keep {
                        kept.push_row(row.clone(), source.source_rows[i]);
                    }
                }
                self.log.info(
                    Some(&step_name(step)),
                    None,
                    &format!(
                        "kept {} of {} rows of `{}`",
                        kept.len(),
                        source.len(),
                        a.table
                    ),
                );
                let into = a.into.clone().unwrap_or_else(|| a.table.clone());
                self.results.remove(&into);
                self.tables.insert(into, kept);
                Ok(Flow::Next)
            }
            StepKind::Compute(a) => {
                let source = self.table(&a.table, step, frame)?.clone();
                let src = template_text(&a.value);
                let mut values = Vec::with_capacity(source.len());
                for (i, row) in source.rows.iter().enumerate() {
                    let ctx = self.row_context(frame, &source.columns, row, i);
                    let v = self.x.render(&src, &ctx).map_err(|e| {
                        self.row_failure(
                            step,
                            &a.table,
                            i,
                            source.source_rows[i],
                            format!("cannot work out `{}`: {e}", a.column),
                        )
                    })?;
                    values.push(value_cell(&v));
                }
                let t = self.table_mut(&a.table, step, frame)?;
                let col = t.ensure_column(&a.column);
                for (row, v) in t.rows.iter_mut().zip(values) {
                    row[col] = v;
                }
                Ok(Flow::Next)
            }
            StepKind::Sort(a) => {
                let t = self.table(&a.table, step, frame)?;
                let Some(col) = t.column_index(&a.by) else {
                    return Err(self.failure(
                        step,
                        frame,
                        format!("table `{}` has no column `{}`", a.table, a.by),
                    ));
                };
                let mut order: Vec<usize> = (0..t.len()).collect();
                order.sort_by(|x, y| sort_order(&t.rows[*x][col], &t.rows[*y][col], a.descending));
                let t = self.table_mut(&a.table, step, frame)?;
                let rows = order.iter().map(|i| t.rows[*i].clone()).collect();
                let src = order.iter().map(|i| t.source_rows[*i]).collect();
                t.rows = rows;
                t.source_rows = src;
                self.results.remove(&a.table);
                Ok(Flow::Next)
            }
            StepKind::Dedupe(a) => {
                let t = self.table(&a.table, step, frame)?;
                let cols: Vec<usize> = if a.by.is_empty() {
                    (0..t.columns.len()).collect()
                } else {
                    let mut cols = Vec::new();
                    for c in &a.by {
                        match t.column_index(c) {
                            Some(i) => cols.push(i),
                            None => {
                                return Err(self.failure(
                                    step,
                                    frame,
                                    format!("table `{}` has no column `{c}`", a.table),
                                ));
                            }
                        }
                    }
                    cols
                };
                let mut seen = std::collections::HashSet::new();
                let mut kept = Table::new(t.columns.clone());
                for (i, row) in t.rows.iter().enumerate() {
                    let key: Vec<String> = cols
                        .iter()
                        .map(|c| crate::table::normalize_header(&row[*c].to_string()))
                        .collect();
                    if seen.insert(key) {
                        kept.push_row(row.clone(), t.source_rows[i]);
                    }
                }
                let removed = t.len() - kept.len();
                self.log.info(
                    Some(&step_name(step)),
                    None,
                    &format!("removed {removed} duplicate rows from `{}`", a.table),
                );
                self.results.remove(&a.table);
                self.tables.insert(a.table.clone(), kept);
                Ok(Flow::Next)
            }
            StepKind::Join(a) => {
                let with = self.table(&a.with, step, frame)?.clone();
                let with_on = a.with_on.as_deref().unwrap_or(&a.on);
                let Some(key_col) = with.column_index(with_on) else {
                    return Err(self.failure(
                        step,
                        frame,
                        format!("table `{}` has no column `{with_on}`", a.with),
                    ));
                };
                let mut index: BTreeMap<String, usize> = BTreeMap::new();
                for (i, row) in with.rows.iter().enumerate() {
                    index.entry(join_key(&row[key_col])).or_insert(i);
                }
                let wanted: Vec<String> = if a.columns.is_empty() {
                    with.columns
                        .iter()
                        .filter(|c| c.as_str() != with_on)
                        .cloned()
                        .collect()
                } else {
                    a.columns.clone()
                };
                let mut wanted_idx = Vec::new();
                for c in &wanted {
                    match with.column_index(c) {
                        Some(i) => wanted_idx.push(i),
                        None => {
                            return Err(self.failure(
                                step,
                                frame,
                                format!("table `{}` has no column `{c}`", a.with),
                            ));
                        }
                    }
                }
                let on = a.on.clone();
                let t = self.table_mut(&a.table, step, frame)?;
                let Some(on_col) = t.column_index(&on) else {
                    let msg = format!("table `{}` has no column `{on}`", a.table);
                    return Err(self.failure(step, frame, msg));
                };
                let target: Vec<usize> = wanted.iter().map(|c| t.ensure_column(c)).collect();
                let mut missing = 0;
                for row in &mut t.rows {
                    match index.get(&join_key(&row[on_col])) {
                        Some(wi) => {
                            for (ti, si) in target.iter().zip(&wanted_idx) {
                                row[*ti] = with.rows[*wi][*si].clone();
                            }
                        }
                        None => missing += 1,
                    }
                }
                if missing > 0 {
                    self.log.warn(
                        Some(&step_name(step)),
                        None,
                        &format!(
                            "{missing} rows of `{}` had no match in `{}`",
                            a.table, a.with
                        ),
                    );
                }
                Ok(Flow::Next)
            }
            StepKind::NewTable(a) => {
                self.tables
                    .insert(a.name.clone(), Table::new(a.columns.clone()));
                self.results.remove(&a.name);
                Ok(Flow::Next)
            }
            StepKind::Append(a) => {
                let mut cells = Vec::new();
                for (col, v) in &a.values {
                    cells.push((
                        col.clone(),
                        value_cell(&self.render(&template_text(v), frame, step)?),
                    ));
                }
                let t = self.table_mut(&a.table, step, frame)?;
                let mut row = vec![Cell::Empty; t.columns.len()];
                for (col, cell) in cells {
                    let i = t.ensure_column(&col);
                    row.resize(t.columns.len(), Cell::Empty);
                    row[i] = cell;
                }
                let n = t.len() + 1;
                t.push_row(row, n);
                Ok(Flow::Next)
            }
            StepKind::Write(a) => {
                self.write(step, a, frame).await?;
                Ok(Flow::Next)
            }
            _ if step.kind.needs_browser() => self.browser_step(step, frame).await,
            other => unreachable!("step kind {} has no runner", other.keyword()),
        }
    }

    fn row_context(&self, frame: &Frame, columns: &[String], row: &[Cell], i: usize) -> Value {
        let base = self.context(frame);
        let mut map: BTreeMap<String, Value> = BTreeMap::new();
        if let Ok(iter) = base.try_iter() {
            for k in iter {
                if let Ok(v) = base.get_item(&k) {
                    map.insert(k.to_string(), v);
                }
            }
        }
        map.insert("row".into(), expr::row_value(columns, row));
        map.insert("index".into(), Value::from(i + 1));
        Value::from(map)
    }

    fn row_failure(
        &self,
        step: &Step,
        table: &str,
        i: usize,
        source: usize,
        message: String,
    ) -> StepFailure {
        StepFailure {
            message: self.log.secrets().mask(&message),
            step: step_name(step),
            row: Some((table.to_string(), i + 1, source)),
            transient: false,
        }
    }

    async fn for_each(
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
    async fn touch(&mut self, step: &Step, frame: &Frame) -> Result<(), StepFailure> {
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
    fn set_outcome(&mut self, table: &str, i: usize, mut o: RowOutcome) {
        o.message = o.message.map(|m| self.log.secrets().mask(&m));
        if let Some(v) = self.results.get_mut(table)
            && let Some(slot) = v.get_mut(i)
        {
            *slot = o;
        }
    }

    async fn write(
        &mut self,
        step: &Step,
        a: &WriteArgs,
        frame: &Frame,
    ) -> Result<(), StepFailure> {
        let name = safe_file_name(&self.render_text(&a.file, frame, step)?);
        let path = self.folder.outputs_dir().join(&name);
        let new_file = !self.outputs.contains(&path);
        if new_file && self.outputs.len() as u64 >= self.limits.outputs {
            return Err(self.failure(
                step,
                frame,
                format!(
                    "the run would write more than {} output files, the bound for one run (`outputs` in the admin's limits.yaml; a workflow may ask for more with `limits: {{ outputs: … }}`); write the rows into fewer files, such as one file with several sheets",
                    self.limits.outputs
                ),
            ));
        }
        let is_csv = name.to_lowercase().ends_with(".csv");
        let mut parts: Vec<SheetPlan> = Vec::new();
        if let Some(t) = &a.table {
            parts.push((t.clone(), t.clone(), Vec::new(), a.formats.clone()));
        }
        for s in &a.sheets {
            let mut formats = a.formats.clone();
            formats.extend(s.formats.clone());
            parts.push((
                s.table.clone(),
                s.name.clone().unwrap_or_else(|| s.table.clone()),
                s.columns.clone(),
                formats,
            ));
        }
        let mut prepared: Vec<(String, Table, Vec<ColumnFormat>)> = Vec::new();
        for (table, sheet_name, mut columns, formats) in parts {
            let mut t = self.table(&table, step, frame)?.clone();
            if a.with_results {
                self.add_result_columns(&table, &mut t);
                // `with_results` asks for the outcome columns: keep them when `columns` picks the others.
                if !columns.is_empty() {
                    for c in ["result", "error"] {
                        if t.column_index(c).is_some() && !columns.iter().any(|x| x == c) {
                            columns.push(c.to_string());
                        }
                    }
                }
            }
            if !columns.is_empty() {
                t = select_columns(&t, &columns).map_err(|c| {
                    self.failure(step, frame, format!("table `{table}` has no column `{c}`"))
                })?;
            }
            let formats = formats
                .into_iter()
                .map(|(column, format)| ColumnFormat { column, format })
                .collect();
            prepared.push((sheet_name, t, formats));
        }
        let result = if is_csv {
            let encoding = match a.encoding.as_deref() {
                Some("utf8") => CsvEncoding::Utf8,
                Some("shift_jis") => CsvEncoding::ShiftJis,
                _ => CsvEncoding::Utf8Bom,
            };
            sheet::write_csv(&path, &prepared[0].1, encoding)
        } else {
            let sheets: Vec<OutputSheet<'_>> = prepared
                .iter()
                .map(|(n, t, f)| OutputSheet {
                    name: n.clone(),
                    table: t,
                    formats: f.clone(),
                })
                .collect();
            sheet::write_xlsx(&path, &sheets)
        };
        result.map_err(|e| self.failure(step, frame, e.to_string()))?;
        let written: u64 = std::fs::read_dir(self.folder.outputs_dir())
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        let bound = self.limits.output_mb.saturating_mul(1024 * 1024);
        if written > bound {
            let _ = std::fs::remove_file(&path);
            return Err(self.failure(
                step,
                frame,
                format!(
                    "the run's output files would be {:.1} MB, more than {} MB, the bound for one run (`output_mb` in the admin's limits.yaml; a workflow may ask for more with `limits: {{ output_mb: … }}`); `outputs/{name}` was not kept",
                    written as f64 / (1024.0 * 1024.0),
                    self.limits.output_mb
                ),
            ));
        }
        let rows: usize = prepared.iter().map(|p| p.1.len()).sum();
        self.log.info(
            Some(&step_name(step)),
            None,
            &format!("wrote `outputs/{name}` ({rows} rows)"),
        );
        self.register(&path, "output").await;
        if new_file {
            self.outputs.push(path);
        }
        crate::fault::point("write-output").await;
        Ok(())
    }

    fn add_result_columns(&self, table: &str, t: &mut Table) {
        let Some(outcomes) = self.results.get(table) else {
            return;
        };
        let rc = t.ensure_column("result");
        let ec = t.ensure_column("error");
        for (row, o) in t.rows.iter_mut().zip(outcomes) {
            row[rc] = Cell::text(o.status.as_str());
            row[ec] = o.message.clone().map(Cell::text).unwrap_or_default();
        }
    }

    /// Record a file of this run in the records (kind: input, output, screenshot, page).
    pub async fn register(&self, path: &std::path::Path, kind: &str) {
        if let Err(e) = register_artifact(self.records, self.run_id, self.folder, path, kind).await
        {
            self.log.warn(
                None,
                None,
                &format!("could not record the file {}: {e}", path.display()),
            );
        }
    }
}

/// Record a file kept in a run folder.
pub async fn register_artifact(
    records: &Records,
    id: &RunId,
    folder: &RunFolder,
    path: &std::path::Path,
    kind: &str,
) -> Result<(), String> {
    let (sha, bytes) = file_sha256(path).map_err(|e| e.to_string())?;
    let rel = path
        .strip_prefix(&folder.root)
        .unwrap_or(path)
        .to_string_lossy()
        .to_string();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    records
        .add_artifact(
            id,
            &Artifact {
                kind: kind.into(),
                name,
                path: rel,
                bytes: bytes as i64,
                sha256: sha,
            },
        )
        .await
        .map_err(|e| e.to_string())
}

/// Steps that may change the outside world: a row interrupted after one of them is in doubt.
/// (`open` only loads a page; `fill`, `select` and `check` change a form not yet sent.)
fn changes_outside(kind: &StepKind) -> bool {
    matches!(
        kind,
        StepKind::Click(_) | StepKind::Press(_) | StepKind::Dialog(_) | StepKind::Upload { .. }
    )
}

/// Which `for_each` over its table each loop step is, counted in the file's order: the
/// number stays the same when other steps are added or moved, so rows keep their names.
fn loop_numbers(steps: &[Step]) -> BTreeMap<String, usize> {
    fn walk(steps: &[Step], seen: &mut BTreeMap<String, usize>, out: &mut BTreeMap<String, usize>) {
        for s in steps {
            if let StepKind::ForEach { table, .. } = &s.kind {
                let n = seen.entry(table.clone()).or_insert(0);
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

/// One sheet `write` will make: (table, sheet name, columns to keep, formats by column).
type SheetPlan = (String, String, Vec<String>, BTreeMap<String, String>);

/// `#4 fill "金額" (line 14)`: how a step is named in errors and logs.
pub fn step_name(step: &Step) -> String {
    let number = step_number(&step.path);
    let line = step
        .pos
        .map(|p| format!(" (line {})", p.line))
        .unwrap_or_default();
    match &step.name {
        Some(n) => format!("{number} `{n}`{line}"),
        None => format!("{number} {}{line}", step.kind.keyword()),
    }
}

/// `steps[3].steps[1]` → `#4.2`
pub fn step_number(path: &str) -> String {
    let nums: Vec<String> = path
        .split('[')
        .skip(1)
        .filter_map(|p| p.split(']').next()?.parse::<usize>().ok())
        .map(|n| (n + 1).to_string())
        .collect();
    format!("#{}", nums.join("."))
}

fn sheet_spec(
    sheet: Option<&SheetName>,
    header_row: Option<HeaderRow>,
    range: Option<String>,
    merged: MergedCells,
) -> SheetSpec {
    SheetSpec {
        sheet: match sheet {
            Some(SheetName::Index(i)) => SheetRef::Index(*i),
            Some(SheetName::Name(n)) => SheetRef::Name(n.clone()),
            None => SheetRef::Active,
        },
        header_row: header_row.unwrap_or(HeaderRow::Row(1)),
        range,
        merged,
    }
}

fn select_columns(t: &Table, columns: &[String]) -> Result<Table, String> {
    let mut idx = Vec::new();
    for c in columns {
        idx.push(t.column_index(c).ok_or_else(|| c.clone())?);
    }
    let mut out = Table::new(idx.iter().map(|i| t.columns[*i].clone()).collect());
    for (row, src) in t.rows.iter().zip(&t.source_rows) {
        out.push_row(idx.iter().map(|i| row[*i].clone()).collect(), *src);
    }
    Ok(out)
}

/// Which sheet of which file was read (`the sheet `名簿` of `roster.xlsx``), or the file
/// for CSV (`the file `invoices.csv``).
fn read_place(path: &std::path::Path, report: &sheet::ReadReport) -> String {
    match &report.sheet {
        Some(s) => format!("the sheet `{s}` of `{}`", file_name(path)),
        None => format!("the file `{}`", file_name(path)),
    }
}

/// The name of an input file as the trainee gave it (kobo reads a copy in the run folder).
fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| path.display().to_string())
}

/// Keys compare as people see them: `00123` ≠ `123`, but `12` (number) = `12` (text)
/// and surrounding spaces are ignored.
fn join_key(c: &Cell) -> String {
    crate::table::normalize_header(&c.to_string())
}

/// Order for `sort` (see [`Cell::sort_cmp`]); empty cells stay last when descending too.
fn sort_order(a: &Cell, b: &Cell, descending: bool) -> std::cmp::Ordering {
    let order = a.sort_cmp(b);
    if descending && !a.is_empty() && !b.is_empty() {
        order.reverse()
    } else {
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_numbers_are_human() {
        assert_eq!(step_number("steps[3].steps[1]"), "#4.2");
        assert_eq!(step_number("steps[0]"), "#1");
    }

    #[test]
    fn sorts_numbers_as_numbers_and_empties_last() {
        let mut v = [
            Cell::Text("10".into()),
            Cell::Empty,
            Cell::Int(9),
            Cell::Float(9.5),
        ];
        v.sort_by(|a, b| sort_order(a, b, false));
        assert_eq!(
            v,
            [
                Cell::Int(9),
                Cell::Float(9.5),
                Cell::Text("10".into()),
                Cell::Empty
            ]
        );
    }

    #[test]
    fn mixed_kinds_sort_by_kind_and_empties_stay_last_when_descending() {
        let mut v = [
            Cell::Empty,
            Cell::Text("678件".into()),
            Cell::Text("12345".into()),
            Cell::Date(chrono::NaiveDate::from_ymd_opt(2024, 4, 1).unwrap()),
            Cell::Int(7),
        ];
        v.sort_by(|a, b| sort_order(a, b, true));
        assert_eq!(
            v,
            [
                Cell::Text("678件".into()),
                Cell::Date(chrono::NaiveDate::from_ymd_opt(2024, 4, 1).unwrap()),
                Cell::Text("12345".into()),
                Cell::Int(7),
                Cell::Empty
            ]
        );
    }
}
