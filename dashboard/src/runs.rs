//! The run pages: the review list (search, stage and date filters, pages of runs, approving
//! several clean runs at once), one run in full for a one-minute decision (input and output
//! side by side, problem rows first, what changed since the last approved run, what approving
//! pays, earlier rejections), approve/reject leading to the next run, and the run's files.
//! Reviewers and admins see every run; a trainee only her own; clients none.

use crate::AppState;
use crate::auth::Current;
use crate::csrf_form::CsrfForm;
use crate::error::{AppError, Msg};
use crate::files::send_file;
use crate::i18n::Lang;
use crate::page::render;
use crate::sheet_view::{self, Marks, PAGE_ROWS, SheetView, Source};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use runner::progress::RerunRows;
use runner::record::{Artifact, RunDetail};
use runner::review::{self, ReviewError, RunFilter, Stage};
use runner::run::{RowResult, RowStatus, RunId, StepTiming};
use runner::sheet::{SheetRef, SheetSpec, read_table, sheet_names};
use runner::table::Table;
use runner::{Role, delivery};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Runs per page of the list.
pub const LIST_PAGE: i64 = 50;

/// Ok rows named one by one under "ok rows"; past this many, only counted.
const OK_ROWS_NAMED: usize = 1000;

/// Sheets of one file shown on the run page.
const SHEETS_SHOWN: usize = 5;

/// Earlier rejections of the workflow shown on the run page.
const REJECTIONS_SHOWN: i64 = 5;

/// The rows of the "rows and results" section: the ones that need a look (failed, in doubt,
/// not reached, skipped, in that order), and the ok ones, which are only counted and named.
fn split_rows(rows: &[RowResult]) -> (Vec<&RowResult>, Vec<&RowResult>) {
    let rank = |s: RowStatus| match s {
        RowStatus::Failed => 0,
        RowStatus::InDoubt => 1,
        RowStatus::Pending => 2,
        RowStatus::Skipped => 3,
        RowStatus::Ok => 4,
    };
    let mut problems: Vec<&RowResult> = rows.iter().filter(|r| r.status != RowStatus::Ok).collect();
    problems.sort_by_key(|r| (rank(r.status), r.table.clone(), r.row));
    let ok = rows.iter().filter(|r| r.status == RowStatus::Ok).collect();
    (problems, ok)
}

/// The table whose row results mark a sheet's rows, when it can be told: the one named like
/// the sheet, else the only table with results, and only if it has as many rows as the sheet
/// (a sheet of another table, or a filtered one, is not marked by position).
fn table_for_sheet<'a>(rows: &'a [RowResult], sheet: &str, sheet_rows: usize) -> Option<&'a str> {
    let mut tables: Vec<&str> = rows.iter().map(|r| r.table.as_str()).collect();
    tables.sort_unstable();
    tables.dedup();
    let table = match tables.iter().find(|t| **t == sheet) {
        Some(t) => *t,
        None if tables.len() == 1 => tables[0],
        None => return None,
    };
    let count = rows.iter().filter(|r| r.table == table).count();
    (count == sheet_rows).then_some(table)
}

/// A step as it is named everywhere (errors, logs, the rows table): `#2.1.1 fail (line 33)`,
/// or with its `name:` in backticks.
pub fn step_title(s: &StepTiming) -> String {
    let number = runner::engine::step_number(&s.path);
    let line = s.line.map(|l| format!(" (line {l})")).unwrap_or_default();
    if s.label == s.kind {
        format!("{number} {}{line}", s.kind)
    } else {
        format!("{number} `{}`{line}", s.label)
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    view: Option<String>,
    client: Option<String>,
    workflow: Option<String>,
    trainee: Option<String>,
    /// Words to find in the workflow, client or trainee, or the start of a run id.
    q: Option<String>,
    /// A stage (`awaiting`, `failed` …) or `all`.
    stage: Option<String>,
    /// Dates (`2026-11-25`, Japan time), both included.
    from: Option<String>,
    to: Option<String>,
    page: Option<String>,
}

fn given(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// A page number from the query: 1 when missing or not a number.
fn page_number(v: Option<&str>) -> usize {
    v.and_then(|p| p.trim().parse::<usize>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

/// The start of a day in Japan time, as the records write times (RFC 3339, UTC).
fn day_start(date: &str, days_later: i64) -> Result<String, AppError> {
    let d = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::BadRequest(Msg::key("err_bad_date").with("date", date)))?;
    let d = d + chrono::Duration::days(days_later);
    let local = d
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(runner::payout::jst()).single())
        .ok_or_else(|| AppError::BadRequest(Msg::key("err_bad_date").with("date", date)))?;
    Ok(local.with_timezone(&chrono::Utc).to_rfc3339())
}

/// The `?…` of a list link with these filters (and `page`), for the pager.
fn list_query(pairs: &[(&str, Option<&str>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            v.filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", encode(v)))
        })
        .collect();
    parts.join("&")
}

/// Percent-encoding for a query value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// What a bulk approval did with one run.
#[derive(Serialize)]
struct BulkOutcome {
    id: String,
    workflow: String,
    approved: bool,
    /// Why it was not approved, in the reader's language.
    why: Option<String>,
    amount: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    cur: Current,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    list_page(&state, &cur, q, None).await
}

async fn list_page(
    state: &AppState,
    cur: &Current,
    q: ListQuery,
    bulk: Option<Vec<BulkOutcome>>,
) -> Result<Response, AppError> {
    cur.require(&[Role::Admin, Role::Reviewer, Role::Trainee])?;
    let trainee_view = cur.user().role == Role::Trainee;
    // The review queue by default; `view=all` (the menu's "All runs") or a stage chosen.
    let stage_param = given(q.stage.clone())
        .or_else(|| (trainee_view || q.view.as_deref() == Some("all")).then(|| "all".to_string()));
    let stage = match stage_param.as_deref() {
        None => Some(Stage::Awaiting),
        Some("all") => None,
        Some(s) => Some(
            Stage::parse(s)
                .ok_or_else(|| AppError::BadRequest(Msg::key("err_bad_stage").with("stage", s)))?,
        ),
    };
    let page = page_number(q.page.as_deref());
    let (from, to) = (given(q.from.clone()), given(q.to.clone()));
    let filter = RunFilter {
        client: given(q.client.clone()),
        workflow: given(q.workflow.clone()),
        // A trainee sees her own runs, whatever the query says.
        trainee: if trainee_view {
            Some(cur.user().name.clone())
        } else {
            given(q.trainee.clone())
        },
        stage,
        search: given(q.q.clone()),
        created_from: from.as_deref().map(|d| day_start(d, 0)).transpose()?,
        created_before: to.as_deref().map(|d| day_start(d, 1)).transpose()?,
        limit: Some(LIST_PAGE),
        offset: (page as i64 - 1).saturating_mul(LIST_PAGE),
        ..Default::default()
    };
    let found = review::page(&state.records, &filter).await?;
    let pages = ((found.total + LIST_PAGE - 1) / LIST_PAGE).max(1);
    // A trainee's filters list only what her own runs have.
    let own = trainee_view.then(|| cur.user().name.as_str());
    let (clients, workflows, trainees) = review::filter_values(state.records.pool(), own).await?;
    let stage_value = stage.map(Stage::as_str).unwrap_or("all");
    let f_trainee = if trainee_view {
        None
    } else {
        filter.trainee.clone()
    };
    let query = |page: usize| {
        let page = page.to_string();
        list_query(&[
            ("stage", Some(stage_value)),
            ("client", filter.client.as_deref()),
            ("workflow", filter.workflow.as_deref()),
            ("trainee", f_trainee.as_deref()),
            ("q", filter.search.as_deref()),
            ("from", from.as_deref()),
            ("to", to.as_deref()),
            ("page", Some(page.as_str())),
        ])
    };
    let can_review = cur.user().can_review();
    let me = cur.user().name.clone();
    let runs: Vec<Value> = found
        .runs
        .iter()
        .map(|s| {
            let own_run = s.run.trainee.eq_ignore_ascii_case(&me);
            context! {
                s => Value::from_serialize(s),
                // Offered for approval together with others: clean, not her own, creditable.
                bulk => can_review && s.clean() && !own_run && s.author_known,
            }
        })
        .collect();
    let html = render(
        "runs.html",
        cur.lang,
        Some(cur),
        context! {
            runs => runs,
            total => found.total,
            page => page,
            pages => pages,
            first => (page as i64 - 1) * LIST_PAGE + 1,
            prev_link => (page > 1).then(|| query(page - 1)),
            next_link => ((page as i64) < pages).then(|| query(page + 1)),
            stage => stage_value,
            stages => Stage::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            trainee_view => trainee_view,
            can_review => can_review,
            clients => clients, workflows => workflows, trainees => trainees,
            f_client => filter.client, f_workflow => filter.workflow, f_trainee => f_trainee,
            f_q => filter.search, f_from => from, f_to => to,
            bulk_result => bulk.map(|b| Value::from_serialize(&b)),
        },
    )?;
    Ok(html.into_response())
}

/// The text of a refusal, in the reader's language.
fn refusal(e: ReviewError, lang: Lang) -> String {
    match AppError::from(e) {
        AppError::BadRequest(m)
        | AppError::Forbidden(m)
        | AppError::Conflict(m)
        | AppError::TooLarge(m) => m.text(lang),
        AppError::NotFound => lang.t("err_not_found").to_string(),
        AppError::LoginRequired { .. } => lang.t("err_login_required").to_string(),
        AppError::Internal(why) => {
            tracing::error!("bulk approval: {why}");
            lang.t("err_internal").to_string()
        }
    }
}

/// Approve several runs from the list: each one as if approved on its own page (one review,
/// one delivery, one credit and one audit entry per run, every check made), and only runs
/// with no failed row and no row in doubt.
pub async fn approve_many(
    State(state): State<AppState>,
    CsrfForm(cur, form): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    cur.require(&[Role::Admin, Role::Reviewer])?;
    let mut ids: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "run")
        .map(|(_, v)| v.as_str())
        .collect();
    ids.dedup();
    if ids.is_empty() {
        return Err(AppError::BadRequest(Msg::key("err_choose_runs")));
    }
    let mut outcomes = Vec::new();
    for id in ids {
        let Some(run_id) = RunId::parse(id) else {
            outcomes.push(BulkOutcome {
                id: id.to_string(),
                workflow: String::new(),
                approved: false,
                why: Some(cur.lang.t("err_not_found").to_string()),
                amount: None,
            });
            continue;
        };
        let run = match state.records.find(&run_id.0).await {
            Ok(r) if r.id == run_id => r,
            _ => {
                outcomes.push(BulkOutcome {
                    id: id.to_string(),
                    workflow: String::new(),
                    approved: false,
                    why: Some(cur.lang.t("err_not_found").to_string()),
                    amount: None,
                });
                continue;
            }
        };
        // A run with failed rows or rows in doubt needs its own look.
        if run.rows.failed > 0 || run.rows.in_doubt > 0 {
            outcomes.push(BulkOutcome {
                id: run.id.0.clone(),
                workflow: run.workflow.clone(),
                approved: false,
                why: Some(cur.lang.t("err_bulk_not_clean").to_string()),
                amount: None,
            });
            continue;
        }
        let done = review::approve(&state.records, &state.home, &run.id, cur.user(), None).await;
        outcomes.push(match done {
            Ok(a) => BulkOutcome {
                id: run.id.0.clone(),
                workflow: run.workflow.clone(),
                approved: true,
                why: None,
                amount: Some(cur.lang.yen(a.credit.amount_yen)),
            },
            Err(e) => BulkOutcome {
                id: run.id.0.clone(),
                workflow: run.workflow.clone(),
                approved: false,
                why: Some(refusal(e, cur.lang)),
                amount: None,
            },
        });
    }
    list_page(&state, &cur, ListQuery::default(), Some(outcomes)).await
}

/// A run the current user may see, or 404 (a trainee never learns about others' runs).
/// A run the current user may act on (rerun, mark a row done): reviewers and admins, and
/// the trainee whose run it is — not her group's senior, who only sees it.
async fn own_run(state: &AppState, cur: &Current, id: &str) -> Result<RunDetail, AppError> {
    let d = visible_run(state, cur, id).await?;
    if cur.user().role == Role::Trainee && !d.run.trainee.eq_ignore_ascii_case(&cur.user().name) {
        return Err(AppError::NotFound);
    }
    Ok(d)
}

async fn visible_run(state: &AppState, cur: &Current, id: &str) -> Result<RunDetail, AppError> {
    cur.require(&[Role::Admin, Role::Reviewer, Role::Trainee])?;
    let id = RunId::parse(id).ok_or(AppError::NotFound)?;
    let detail = state.records.detail(&id.0).await?;
    // A trainee sees her own runs, and those of the juniors in a group she leads.
    let trainee_may_see = || async {
        detail.run.trainee.eq_ignore_ascii_case(&cur.user().name)
            || runner::group::is_senior_of(
                state.records.pool(),
                &cur.user().name,
                &detail.run.trainee,
            )
            .await
            .unwrap_or(false)
    };
    if detail.run.id != id || (cur.user().role == Role::Trainee && !trainee_may_see().await) {
        return Err(AppError::NotFound);
    }
    // Runs done by workers on other machines: their files come with the records.
    runner::run_files::fetch(
        &state.records,
        &state.home,
        &detail.run.id,
        &detail.run.folder,
    )
    .await?;
    Ok(detail)
}

/// Every sheet (up to [`SHEETS_SHOWN`]) of a file, read whole.
fn read_sheets(path: &std::path::Path) -> Result<Vec<(String, Table)>, String> {
    let names = sheet_names(path).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for sheet in names.into_iter().take(SHEETS_SHOWN) {
        let spec = SheetSpec {
            sheet: SheetRef::Name(sheet.clone()),
            ..SheetSpec::default()
        };
        match read_table(path, &spec) {
            Ok(t) => out.push((sheet, t)),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(out)
}

/// The input files, one page of each, rows marked by the results of the loop that read them.
fn input_views(state: &AppState, d: &RunDetail, page: usize, lang: Lang) -> Vec<SheetView> {
    let folder = state.home.join(&d.run.folder);
    // Results of one table mark the input's rows by their sheet row.
    let mut tables: Vec<&str> = d.rows.iter().map(|r| r.table.as_str()).collect();
    tables.sort_unstable();
    tables.dedup();
    let by_sheet_row: HashMap<usize, RowStatus> = if tables.len() == 1 {
        d.rows.iter().map(|r| (r.source_row, r.status)).collect()
    } else {
        HashMap::new()
    };
    let mut out = Vec::new();
    for a in d.artifacts.iter().filter(|a| a.kind == "input") {
        let path = folder.join(&a.path);
        let spec = SheetSpec::default();
        match read_table(&path, &spec) {
            Ok(t) => {
                let marks = Marks::BySheetRow(by_sheet_row.clone());
                out.push(sheet_view::view(
                    Source {
                        file: &a.name,
                        path: &a.path,
                        sheet: "",
                    },
                    &t,
                    &marks,
                    None,
                    page,
                    lang,
                ))
            }
            Err(e) => out.push(SheetView::failed(&a.name, &a.path, "", e.to_string())),
        }
    }
    out
}

/// The outputs of the run compared with (its files fetched), by position: the n-th output
/// is compared with the n-th output of that run.
async fn compared_outputs(
    state: &AppState,
    before: &runner::record::RunRecord,
) -> Vec<Option<Vec<(String, Table)>>> {
    if runner::run_files::fetch(&state.records, &state.home, &before.id, &before.folder)
        .await
        .is_err()
    {
        return Vec::new();
    }
    let Ok(outputs) = state.records.outputs(&before.id).await else {
        return Vec::new();
    };
    let folder = state.home.join(&before.folder);
    outputs
        .iter()
        .map(|a| read_sheets(&folder.join(&a.path)).ok())
        .collect()
}

/// One page of each sheet of each output, marked with row results and compared with the
/// outputs of `before` (the last approved run) when given.
fn output_views(
    state: &AppState,
    d: &RunDetail,
    before: &[Option<Vec<(String, Table)>>],
    page: usize,
    lang: Lang,
) -> Vec<SheetView> {
    let folder = state.home.join(&d.run.folder);
    let mut out = Vec::new();
    let outputs: Vec<&Artifact> = d.artifacts.iter().filter(|a| a.kind == "output").collect();
    for (n, a) in outputs.iter().enumerate() {
        let sheets = match read_sheets(&folder.join(&a.path)) {
            Ok(s) => s,
            Err(e) => {
                out.push(SheetView::failed(&a.name, &a.path, "", e));
                continue;
            }
        };
        let old = before.get(n).and_then(Option::as_ref);
        for (sheet, t) in &sheets {
            let marks = match t.column_index("result") {
                Some(c) => Marks::ResultColumn(c),
                None => match table_for_sheet(&d.rows, sheet, t.rows.len()) {
                    Some(table) => Marks::ByPosition(&d.rows, table),
                    None => Marks::None,
                },
            };
            // The same sheet of the compared output: by name, else the only one.
            let old_sheet = old.and_then(|o| {
                o.iter()
                    .find(|(s, _)| s == sheet)
                    .or_else(|| (o.len() == 1 && sheets.len() == 1).then(|| &o[0]))
                    .map(|(_, t)| t)
            });
            out.push(sheet_view::view(
                Source {
                    file: &a.name,
                    path: &a.path,
                    sheet,
                },
                t,
                &marks,
                old_sheet,
                page,
                lang,
            ));
        }
    }
    out
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    /// The page of rows shown in the input and output tables.
    page: Option<String>,
    /// A run just decided, named at the top of the next one.
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    cur: Current,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, AppError> {
    let d = visible_run(&state, &cur, &id).await?;
    let review = review::get(state.records.pool(), &d.run.id.0).await?;
    let review_state = review::state_of(&d.run, review.as_ref());
    let stage = Stage::of(&d.run, review.as_ref());
    let deliveries = delivery::for_run(state.records.pool(), &d.run.id.0).await?;
    let log = runner::run_folder::read_log(&state.home.join(&d.run.folder).join("log.jsonl"))
        .unwrap_or_default();
    let log_start = log.len().saturating_sub(500);
    let (problems, ok_rows) = split_rows(&d.rows);
    let slowest = d.steps.iter().map(|s| s.total_ms).fold(1.0_f64, f64::max);
    let steps: Vec<Value> = d
        .steps
        .iter()
        .map(|s| {
            context! {
                step => Value::from_serialize(s),
                title => step_title(s),
                pct => ((s.total_ms / slowest) * 100.0).round().max(1.0) as i64,
            }
        })
        .collect();
    // As review::check: user names are lowercase, an old run's author may not be.
    let own_run = d.run.trainee.eq_ignore_ascii_case(&cur.user().name);
    let can_decide =
        cur.user().can_review() && review_state == runner::ReviewState::Awaiting && !own_run;
    // A run whose author is no known trainee is held for the admin: nothing to credit yet.
    let held = if can_decide {
        match review::author_check(state.records.pool(), &d.run).await {
            Ok(_) => None,
            Err(e) => match crate::error::author_problem(&e) {
                Some(msg) => Some(msg.text(cur.lang)),
                None => return Err(e.into()),
            },
        }
    } else {
        None
    };
    // What approving pays, worked out as the approval will (or why it cannot pay).
    let (pay, pay_problem) = if can_decide && held.is_none() {
        match review::pay_for(&state.records, &state.home, &d.run).await {
            Ok(p) => (Some(p), None),
            Err(e) => (None, Some(refusal(e, cur.lang))),
        }
    } else {
        (None, None)
    };
    let page = page_number(q.page.as_deref());
    let last_approved = review::last_approved_before(state.records.pool(), &d.run).await?;
    let before = match &last_approved {
        Some(r) => compared_outputs(&state, r).await,
        None => Vec::new(),
    };
    let inputs = input_views(&state, &d, page, cur.lang);
    let outputs = output_views(&state, &d, &before, page, cur.lang);
    let longest = inputs
        .iter()
        .chain(&outputs)
        .map(|v| v.total)
        .max()
        .unwrap_or(0);
    let pages = longest.div_ceil(PAGE_ROWS).max(1);
    let rejections =
        review::earlier_rejections(state.records.pool(), &d.run, REJECTIONS_SHOWN).await?;
    let (previous, next) = if cur.user().can_review() {
        review::neighbours(state.records.pool(), &d.run, &cur.user().name).await?
    } else {
        (None, None)
    };
    // The run decided just before this page opened (`?done=`), named at the top.
    let done = match given(q.done.clone()).and_then(|d| RunId::parse(&d)) {
        Some(done) if cur.user().can_review() => {
            match review::get(state.records.pool(), &done.0).await? {
                Some(r) => {
                    let run = state.records.find(&done.0).await?;
                    Some(
                        context! { run => Value::from_serialize(&run), review => Value::from_serialize(&r) },
                    )
                }
                None => None,
            }
        }
        _ => None,
    };
    // Whether this version of the workflow passed its own test cases (`kobo test`).
    let tests =
        runner::bot_test::result_for(&state.records, &d.run.workflow, &d.run.workflow_hash).await?;
    let html = render(
        "run.html",
        cur.lang,
        Some(&cur),
        context! {
            tests => Value::from_serialize(&tests),
            run => Value::from_serialize(&d.run),
            review => Value::from_serialize(&review),
            state => review_state.as_str(),
            stage => stage.as_str(),
            inputs => Value::from_serialize(&inputs),
            outputs => Value::from_serialize(&outputs),
            page => page,
            pages => pages,
            page_rows => PAGE_ROWS,
            compared => Value::from_serialize(&last_approved),
            screenshots => Value::from_serialize(d.artifacts.iter().filter(|a| a.kind == "screenshot" && a.path.ends_with(".png")).collect::<Vec<_>>()),
            pages_saved => Value::from_serialize(d.artifacts.iter().filter(|a| a.kind != "input" && a.kind != "output" && !a.path.ends_with(".png")).map(|a| context! { a => Value::from_serialize(a), html => is_html(&a.path) }).collect::<Vec<_>>()),
            problems => Value::from_serialize(&problems),
            ok_rows => Value::from_serialize(ok_rows.iter().take(OK_ROWS_NAMED).collect::<Vec<_>>()),
            ok_count => ok_rows.len(),
            rows_total => d.rows.len(),
            rows_failed => d.rows.iter().filter(|r| r.status == RowStatus::Failed).count(),
            rows_skipped => d.rows.iter().filter(|r| r.status == RowStatus::Skipped).count(),
            rows_in_doubt => d.rows.iter().filter(|r| r.status == RowStatus::InDoubt).count(),
            can_mark_done => review.is_none() && (cur.user().can_review() || own_run),
            can_rerun => d.run.status.is_finished() && (cur.user().can_review() || own_run),
            steps => steps,
            log => Value::from_serialize(&log[log_start..]),
            deliveries => Value::from_serialize(&deliveries),
            can_decide => can_decide,
            held => held,
            pay => Value::from_serialize(&pay),
            pay_problem => pay_problem,
            rejections => Value::from_serialize(&rejections),
            previous => previous,
            next => next,
            done => done,
            own_run => cur.user().can_review() && own_run,
        },
    )?;
    Ok(html.into_response())
}

fn is_html(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".html") || lower.ends_with(".htm")
}

#[derive(Deserialize)]
pub struct DecideForm {
    comment: Option<String>,
}

/// Where a reviewer goes after deciding `id`: the next run awaiting her review, with the
/// decided run named at its top, or the list when none is left.
async fn after_decision(state: &AppState, cur: &Current, id: &RunId) -> Result<Response, AppError> {
    let next = review::next_for(state.records.pool(), &cur.user().name).await?;
    Ok(match next {
        Some(next) => Redirect::to(&format!("/runs/{next}?done={id}")).into_response(),
        None => Redirect::to(&format!("/runs/{id}")).into_response(),
    })
}

pub async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(cur, f): CsrfForm<DecideForm>,
) -> Result<Response, AppError> {
    cur.require(&[Role::Admin, Role::Reviewer])?;
    let id = RunId::parse(&id).ok_or(AppError::NotFound)?;
    // The approval runs to its end as a task of its own even if the browser goes away and
    // this request is dropped (see `review::approve`).
    review::approve(
        &state.records,
        &state.home,
        &id,
        cur.user(),
        f.comment.as_deref(),
    )
    .await?;
    after_decision(&state, &cur, &id).await
}

pub async fn reject(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(cur, f): CsrfForm<DecideForm>,
) -> Result<Response, AppError> {
    cur.require(&[Role::Admin, Role::Reviewer])?;
    let id = RunId::parse(&id).ok_or(AppError::NotFound)?;
    review::reject(
        &state.records,
        &state.home,
        &id,
        cur.user(),
        f.comment.as_deref().unwrap_or(""),
    )
    .await?;
    after_decision(&state, &cur, &id).await
}

#[derive(Deserialize)]
pub struct RerunForm {
    rows: String,
}

/// Run a run again on the input it kept, doing again only the rows chosen (`failed`,
/// `in-doubt`, `all`); the other rows are carried over. Reviewers, admins, and the trainee
/// whose run it is.
pub async fn rerun(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(cur, f): CsrfForm<RerunForm>,
) -> Result<Response, AppError> {
    let d = own_run(&state, &cur, &id).await?;
    let rows: RerunRows = f
        .rows
        .parse()
        .map_err(|e: String| AppError::BadRequest(Msg::key("err_rerun").with("why", e)))?;
    let Some(reruns) = &state.reruns else {
        return Err(AppError::Conflict(
            Msg::key("err_rerun_unavailable").with("id", d.run.id.0.clone()),
        ));
    };
    let mut queue = runner::JobQueue::open(&reruns.queue, runner::QueueSettings::default())
        .await
        .map_err(|e| AppError::Internal(format!("opening the queue for a rerun: {e}")))?;
    let again = runner::submit::rerun(
        &state.home,
        &state.records,
        &mut queue,
        &reruns.workflows,
        &d.run,
        rows,
    )
    .await
    .map_err(|e| AppError::Conflict(Msg::key("err_rerun").with("why", e.to_string())))?;
    let new_id = again.submitted.id;
    runner::audit::append(
        state.records.pool(),
        &cur.user().name,
        "rerun",
        &d.run.id.0,
        Some(&format!("rows: {}; new run {new_id}", rows.as_str())),
    )
    .await?;
    Ok(Redirect::to(&format!("/runs/{new_id}")).into_response())
}

#[derive(Deserialize)]
pub struct MarkDoneForm {
    table: String,
    row: usize,
}

/// Someone checked the portal: a row in doubt was entered. Reviewers, admins, and the
/// trainee whose run it is; not once the run is reviewed.
pub async fn mark_done(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(cur, f): CsrfForm<MarkDoneForm>,
) -> Result<Response, AppError> {
    let d = own_run(&state, &cur, &id).await?;
    runner::progress::mark_done(&state.records, &d.run.id, &f.table, f.row, &cur.user().name)
        .await
        .map_err(|e| AppError::Conflict(Msg::key("err_mark_done").with("why", e.to_string())))?;
    runner::audit::append(
        state.records.pool(),
        &cur.user().name,
        "row.done",
        &d.run.id.0,
        Some(&format!(
            "row {} of {}: in doubt, checked and entered",
            f.row, f.table
        )),
    )
    .await?;
    Ok(Redirect::to(&format!("/runs/{}#rows", d.run.id)).into_response())
}

#[derive(Deserialize, Default)]
pub struct FileQuery {
    /// `page`: a saved page's HTML drawn as a page (sandboxed); otherwise its source as text.
    view: Option<String>,
}

/// The Content-Security-Policy of a saved page: a sandbox (an origin of its own, no
/// scripts, no forms) that loads nothing, so the portal's HTML never runs as the dashboard.
pub const SAVED_PAGE_CSP: &str = "sandbox; default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'";

/// A page's HTML saved by a run, shown in the browser but never run in the dashboard's
/// origin: as plain text (its source), or drawn in a sandbox with nothing loaded.
async fn saved_page(path: &std::path::Path, drawn: bool) -> Result<Response, AppError> {
    let bytes = match tokio::fs::read(path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(AppError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let ctype = if drawn {
        "text/html; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut r = (
        [
            (header::CONTENT_TYPE, ctype),
            (header::CONTENT_DISPOSITION, "inline"),
        ],
        bytes,
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SAVED_PAGE_CSP),
    );
    Ok(r)
}

/// A file of a run, named by its path as recorded (`outputs/report.xlsx`); nothing else is served.
pub async fn file(
    State(state): State<AppState>,
    cur: Current,
    Path((id, path)): Path<(String, String)>,
    Query(q): Query<FileQuery>,
) -> Result<Response, AppError> {
    if path
        .split('/')
        .any(|p| p.is_empty() || p == "." || p == "..")
        || path.contains('\\')
    {
        return Err(AppError::BadRequest(Msg::key("err_not_a_file_name")));
    }
    let d = visible_run(&state, &cur, &id).await?;
    let a = d
        .artifacts
        .iter()
        .find(|a| a.path == path)
        .ok_or(AppError::NotFound)?;
    let folder = runner::run_folder::RunFolder {
        root: state.home.join(&d.run.folder),
        relative: d.run.folder.clone(),
    };
    let full = folder.resolve(&a.path).ok_or(AppError::NotFound)?;
    if a.kind != "input" && a.kind != "output" && is_html(&a.path) {
        return saved_page(&full, q.view.as_deref() == Some("page")).await;
    }
    send_file(&full, &a.name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(table: &str, row: usize, status: RowStatus) -> RowResult {
        RowResult {
            table: table.into(),
            row,
            source_row: row + 1,
            status,
            message: None,
            step: None,
            carried_from: None,
            key: None,
            place: None,
        }
    }

    #[test]
    fn a_sheet_is_marked_only_by_the_results_of_its_own_table() {
        let one = vec![
            row("invoices", 1, RowStatus::Ok),
            row("invoices", 2, RowStatus::Failed),
        ];
        assert_eq!(table_for_sheet(&one, "Sheet1", 2), Some("invoices"));
        // A sheet of another length is another table (or a filtered one).
        assert_eq!(table_for_sheet(&one, "Sheet1", 5), None);
        let two = vec![
            row("invoices", 1, RowStatus::Failed),
            row("staff", 1, RowStatus::Ok),
            row("staff", 2, RowStatus::Ok),
        ];
        assert_eq!(table_for_sheet(&two, "staff", 2), Some("staff"));
        assert_eq!(table_for_sheet(&two, "Sheet1", 1), None, "which table?");
    }

    #[test]
    fn problem_rows_come_first_and_ok_rows_apart() {
        let rows = vec![
            row("t", 1, RowStatus::Ok),
            row("t", 2, RowStatus::Skipped),
            row("t", 3, RowStatus::Failed),
            row("t", 4, RowStatus::InDoubt),
            row("t", 5, RowStatus::Ok),
        ];
        let (problems, ok) = split_rows(&rows);
        let order: Vec<usize> = problems.iter().map(|r| r.row).collect();
        assert_eq!(order, vec![3, 4, 2]);
        assert_eq!(ok.len(), 2);
    }

    #[test]
    fn steps_are_named_as_in_errors() {
        let t = StepTiming {
            path: "steps[1].steps[0].then[0]".into(),
            label: "fail".into(),
            kind: "fail".into(),
            line: Some(33),
            ..Default::default()
        };
        assert_eq!(step_title(&t), "#2.1.1 fail (line 33)");
        let named = StepTiming {
            label: "log in".into(),
            kind: "click".into(),
            path: "steps[0]".into(),
            line: None,
            ..Default::default()
        };
        assert_eq!(step_title(&named), "#1 `log in`");
    }

    #[test]
    fn dates_are_days_in_japan_time() {
        assert_eq!(
            day_start("2026-11-25", 0).unwrap(),
            "2026-11-24T15:00:00+00:00"
        );
        assert_eq!(
            day_start("2026-11-25", 1).unwrap(),
            "2026-11-25T15:00:00+00:00"
        );
        assert!(day_start("25.11.2026", 0).is_err());
    }
}
