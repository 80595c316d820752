//! The engine: runs a [`Workflow`]'s steps against its input tables.
//!
//! [`Execution`] holds the state of one attempt (tables, variables, row results, timings).
//! Each step may carry `when`, `retry`, `timeout_secs` and `on_error`; the wrapper in
//! `Execution::step` applies them the same way to every kind of step.

use crate::expr::{self, Expressions};
use crate::progress::RowBook;
use crate::record::{Artifact, Records, StoreError};
use crate::run::{RowCounts, RowResult, RowStatus, RunId, StepTiming};
use crate::run_folder::{RunFolder, RunLog, file_sha256};
use crate::sheet;
use crate::steps::table::{file_name, read_place, sheet_spec};
use crate::steps::{OnError, Step, StepKind};
use crate::table::{Cell, Table};
use crate::workflow::Workflow;
use minijinja::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod rows;
use rows::loop_numbers;

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
pub(crate) enum Flow {
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
pub(crate) struct Frame {
    pub(crate) row: Option<(String, usize)>,
    pub(crate) error: Option<String>,
    /// The places (see [`progress::place`]) of the rows the steps are in, outermost first.
    pub(crate) places: Vec<String>,
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
    pub(crate) w: &'a Workflow,
    pub(crate) x: Expressions,
    pub(crate) folder: &'a RunFolder,
    pub(crate) log: &'a RunLog,
    records: &'a Records,
    run_id: &'a RunId,
    pub tables: BTreeMap<String, Table>,
    results: BTreeMap<String, Vec<RowOutcome>>,
    pub(crate) vars: BTreeMap<String, Value>,
    params: Value,
    secrets: Value,
    run_info: Value,
    timings: Vec<StepTiming>,
    timing_index: BTreeMap<String, usize>,
    pub outputs: Vec<PathBuf>,
    progress: Option<ProgressFn>,
    /// Paths of the input files, by input name.
    pub(crate) input_files: BTreeMap<String, PathBuf>,
    /// One browser per run, started by the first browser step, shared by all rows.
    pub(crate) browser: Option<crate::browser::Browser>,
    /// A browser its worker started ahead, for the first browser step to take.
    pub(crate) browser_offer: Option<crate::browser::BrowserOffer>,
    /// The browser crashed (or could not start): the rest of this attempt cannot work, so
    /// the failure goes past `on_error` and `catch` to the run, which may try again.
    pub(crate) browser_lost: bool,
    pub(crate) screenshots: usize,
    /// Row progress kept in the records as rows end (none: rows are not kept, nothing resumes).
    book: Option<RowBook>,
    /// Which `for_each` over its table each loop step is (1 for the first in the file).
    loop_number: BTreeMap<String, usize>,
    /// Places of rows that have started something that may change the outside world.
    touched: std::collections::BTreeSet<String>,
    /// The client's language for `with_results` (see `client_lang`); none: `result` / `error`.
    results_lang: Option<crate::client_lang::ClientLang>,
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
    pub(crate) limits: crate::limits::Limits,
    /// Told the name of each step as it starts (a run in a process of its own reports it, so
    /// its supervisor can say where the run was if the process stops).
    step_trace: Option<StepTrace>,
}

/// See `Execution::trace_steps`.
pub type StepTrace = Arc<dyn Fn(&str) + Send + Sync>;

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
            browser_offer: None,
            browser_lost: false,
            screenshots: 0,
            book: None,
            loop_number: loop_numbers(&w.steps),
            touched: Default::default(),
            results_lang: None,
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

    /// Hold the run to these output bounds.
    pub fn set_limits(&mut self, limits: crate::limits::Limits) {
        self.limits = limits;
    }

    /// The id of the run this attempt belongs to.
    pub(crate) fn run_id(&self) -> &RunId {
        self.run_id
    }

    /// Let the first browser step take this browser, started ahead by the worker, instead
    /// of launching one; [`Execution::take_browser_offer`] gives it back when it was not taken.
    pub fn offer_browser(&mut self, offer: Option<crate::browser::BrowserOffer>) {
        self.browser_offer = offer;
    }

    /// The browser offered to this attempt, if it was not taken (for the next attempt).
    pub fn take_browser_offer(&mut self) -> Option<crate::browser::BrowserOffer> {
        self.browser_offer.take()
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

    pub(crate) fn context(&self, frame: &Frame) -> Value {
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
            ctx.insert("row_status", Value::from(self.row_statuses(table)(*i)));
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

    pub(crate) fn render(
        &self,
        src: &str,
        frame: &Frame,
        step: &Step,
    ) -> Result<Value, StepFailure> {
        self.x
            .render(src, &self.context(frame))
            .map_err(|e| self.failure(step, frame, format!("cannot fill in `{src}`: {e}")))
    }

    pub(crate) fn render_text(
        &self,
        src: &str,
        frame: &Frame,
        step: &Step,
    ) -> Result<String, StepFailure> {
        self.render(src, frame, step).map(|v| expr::display(&v))
    }

    pub(crate) fn failure(
        &self,
        step: &Step,
        frame: &Frame,
        message: impl Into<String>,
    ) -> StepFailure {
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

    pub(crate) fn table_mut(
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

    pub(crate) fn table(
        &self,
        name: &str,
        step: &Step,
        frame: &Frame,
    ) -> Result<&Table, StepFailure> {
        self.tables
            .get(name)
            .ok_or_else(|| self.failure(step, frame, format!("there is no table named `{name}`")))
    }

    /// Put a table in place of the one of that name; row results of the old one no longer apply.
    pub(crate) fn replace_table(&mut self, name: String, table: Table) {
        self.results.remove(&name);
        self.tables.insert(name, table);
    }

    /// Take a table out to work on it shared (see [`expr::row_scope`]); give it back with
    /// [`Execution::put_table`].
    pub(crate) fn take_table(
        &mut self,
        name: &str,
        step: &Step,
        frame: &Frame,
    ) -> Result<Arc<Table>, StepFailure> {
        match self.tables.remove(name) {
            Some(t) => Ok(Arc::new(t)),
            None => Err(self.failure(step, frame, format!("there is no table named `{name}`"))),
        }
    }

    /// Give back a table taken with [`Execution::take_table`].
    pub(crate) fn put_table(&mut self, name: &str, table: Arc<Table>) {
        let table = Arc::try_unwrap(table).unwrap_or_else(|shared| (*shared).clone());
        self.tables.insert(name.to_string(), table);
    }

    /// Each row's result in the last `for_each` over `table` (`ok`, `failed` …; empty when
    /// the row was not run), for `row_status` in templates.
    pub(crate) fn row_statuses(&self, table: &str) -> impl Fn(usize) -> &'static str + '_ {
        let results = self.results.get(table);
        move |i| match results.and_then(|r| r.get(i)).map(|o| o.status) {
            None | Some(RowStatus::Pending) => "",
            Some(s) => s.as_str(),
        }
    }

    /// The table's rows moved (`sort`): the row results of a loop over it no longer apply.
    pub(crate) fn forget_row_results(&mut self, table: &str) {
        self.results.remove(table);
    }

    // ---- the step wrapper ----

    pub(crate) fn steps<'f>(&'f mut self, steps: &'f [Step], frame: &'f Frame) -> StepFuture<'f> {
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
        if step.kind.changes_outside() {
            self.touch(step, frame).await?;
        }
        let attempts = step.retry.map(|r| r.attempts.max(1)).unwrap_or(1);
        let mut attempt = 1;
        let failure = loop {
            let started = Instant::now();
            let sent_before = self.sent_count;
            let result = match (step.timeout_secs, &step.kind) {
                // A browser step waits for its element for `secs` itself and then fails naming
                // it; this limit, a little later, is for a page or browser that hangs.
                (Some(secs), StepKind::Browser(b)) => {
                    let limit = Duration::from_secs(secs) + BROWSER_STEP_GRACE;
                    match tokio::time::timeout(limit, self.kind(step, frame)).await {
                        Ok(r) => r,
                        Err(_) => Err(self.browser_step_timed_out(b, step, frame, secs).await),
                    }
                }
                (Some(secs), _) => {
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
                (None, _) => self.kind(step, frame).await,
            };
            self.time(step, started.elapsed(), result.is_err());
            if result.is_ok() && step.kind.changes_outside() && !frame.places.is_empty() {
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
        if step.kind.as_loop().is_some() || self.browser_lost {
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

    // ---- the kinds: each family runs its own (see `crate::steps`) ----

    async fn kind(&mut self, step: &Step, frame: &Frame) -> Result<Flow, StepFailure> {
        match &step.kind {
            StepKind::Table(s) => s.run(self, step, frame).await,
            StepKind::Control(s) => s.run(self, step, frame).await,
            StepKind::Browser(s) => s.run(self, step, frame).await,
        }
    }

    pub(crate) fn row_failure(
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

    /// Write the outcome columns in the client's language (see `client_lang`).
    pub fn set_results_lang(&mut self, lang: Option<crate::client_lang::ClientLang>) {
        self.results_lang = lang;
    }

    /// The words of the outcome columns: the client's, or `result` / `error`.
    pub(crate) fn result_words(&self) -> crate::client_lang::ResultWords {
        self.results_lang
            .map(|l| l.words())
            .unwrap_or(crate::client_lang::ResultWords::PLAIN)
    }

    /// Whether the outputs are for a client (a queued run), who gets a sheet of rows to check.
    pub(crate) fn for_client(&self) -> bool {
        self.results_lang.is_some()
    }

    pub(crate) fn add_result_columns(&self, table: &str, t: &mut Table) {
        let Some(outcomes) = self.results.get(table) else {
            return;
        };
        let words = self.result_words();
        let rc = t.ensure_column(words.result);
        let ec = t.ensure_column(words.error);
        for (row, o) in t.rows.iter_mut().zip(outcomes) {
            row[rc] = Cell::text(words.status(o.status));
            row[ec] = o.message.clone().map(Cell::text).unwrap_or_default();
        }
    }

    /// The rows of `table` that did not end ok, as the client finds them: the row's number
    /// in her own sheet, its outcome and message, in the client's words.
    pub(crate) fn rows_to_check(&self, table: &str) -> Vec<Vec<Cell>> {
        let Some(outcomes) = self.results.get(table) else {
            return Vec::new();
        };
        let words = self.result_words();
        let source_rows = self
            .tables
            .get(table)
            .map(|t| t.source_rows.clone())
            .unwrap_or_default();
        outcomes
            .iter()
            .enumerate()
            .filter(|(_, o)| o.status != RowStatus::Ok)
            .map(|(i, o)| {
                let row = source_rows.get(i).copied().unwrap_or(i + 1);
                vec![
                    Cell::Int(row as i64),
                    Cell::text(words.status(o.status)),
                    o.message.clone().map(Cell::text).unwrap_or_default(),
                ]
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_numbers_are_human() {
        assert_eq!(step_number("steps[3].steps[1]"), "#4.2");
        assert_eq!(step_number("steps[0]"), "#1");
    }
}
