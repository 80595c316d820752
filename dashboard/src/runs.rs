//! The run pages: the review list (awaiting review, oldest first, with filters), one run in
//! full (input, output previews, rows, steps, log, screenshots), approve/reject, and the
//! run's files. Reviewers and admins see every run; a trainee only her own; clients none.

use crate::AppState;
use crate::auth::Current;
use crate::csrf_form::CsrfForm;
use crate::error::{AppError, Msg};
use crate::files::send_file;
use crate::page::render;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use runner::progress::RerunRows;
use runner::record::RunDetail;
use runner::review::{self, RunFilter};
use runner::run::{RowResult, RowStatus, RunId};
use runner::sheet::{SheetRef, SheetSpec, read_table, sheet_names};
use runner::{Role, delivery};
use serde::{Deserialize, Serialize};

const PREVIEW_ROWS: usize = 50;

/// Rows listed with their results on the run page; every row that did not end ok is listed
/// whatever the number, ok rows up to this many in all.
const ROW_LIST_CAP: usize = 500;

/// The rows to list: all of them when they fit, else every failed or skipped row and the
/// first ok ones up to the cap, in order.
fn rows_to_list(rows: &[RowResult]) -> Vec<&RowResult> {
    let problems = rows.iter().filter(|r| r.status != RowStatus::Ok).count();
    let mut ok_room = ROW_LIST_CAP.saturating_sub(problems);
    rows.iter()
        .filter(|r| {
            if r.status != RowStatus::Ok {
                return true;
            }
            if ok_room == 0 {
                return false;
            }
            ok_room -= 1;
            true
        })
        .collect()
}

/// The table whose row results mark a sheet's rows, when it can be told: the one named like
/// the sheet, else the only table with results, and only if it has as many rows as the sheet
/// (a sheet of another table, or a filtered one, is not marked by position).
fn table_for_sheet<'a>(rows: &'a [RowResult], sheet: &str, sheet_rows: usize) -> Option<&'a str> {
    let mut tables: Vec<&str> = rows.iter().map(|r| r.table.as_str()).collect();
    tables.dedup();
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

#[derive(Deserialize, Default)]
pub struct ListQuery {
    view: Option<String>,
    client: Option<String>,
    workflow: Option<String>,
    trainee: Option<String>,
}

fn given(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

pub async fn list(
    State(state): State<AppState>,
    cur: Current,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    cur.require(&[Role::Admin, Role::Reviewer, Role::Trainee])?;
    let trainee_view = cur.user().role == Role::Trainee;
    let all = trainee_view || q.view.as_deref() == Some("all");
    let filter = RunFilter {
        client: given(q.client.clone()),
        workflow: given(q.workflow.clone()),
        // A trainee sees her own runs, whatever the query says.
        trainee: if trainee_view {
            Some(cur.user().name.clone())
        } else {
            given(q.trainee.clone())
        },
        awaiting_only: !all,
        limit: Some(300),
    };
    let runs = review::list(&state.records, &filter).await?;
    // A trainee's filters list only what her own runs have.
    let own = trainee_view.then(|| cur.user().name.as_str());
    let (clients, workflows, trainees) = review::filter_values(state.records.pool(), own).await?;
    let html = render(
        "runs.html",
        cur.lang,
        Some(&cur),
        context! {
            runs => Value::from_serialize(&runs),
            all => all,
            trainee_view => trainee_view,
            clients => clients, workflows => workflows, trainees => trainees,
            f_client => filter.client, f_workflow => filter.workflow, f_trainee => if trainee_view { None } else { filter.trainee },
        },
    )?;
    Ok(html.into_response())
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

#[derive(Serialize)]
struct PreviewRow {
    cells: Vec<String>,
    class: &'static str,
    sheet_row: usize,
}

#[derive(Serialize)]
struct Preview {
    file: String,
    path: String,
    sheet: String,
    columns: Vec<String>,
    rows: Vec<PreviewRow>,
    total: usize,
    error: Option<String>,
}

fn row_class(status: &str) -> &'static str {
    match status {
        "failed" => "failed",
        "in_doubt" => "in_doubt",
        "skipped" => "skipped",
        "pending" => "pending",
        _ => "",
    }
}

/// The first rows of each sheet of each output. Rows are marked failed/skipped from the
/// sheet's `result` column when the workflow wrote one, else from the run's row results.
fn previews(state: &AppState, d: &RunDetail) -> Vec<Preview> {
    let folder = state.home.join(&d.run.folder);
    let mut out = Vec::new();
    for a in d.artifacts.iter().filter(|a| a.kind == "output") {
        let path = folder.join(&a.path);
        let sheets = match sheet_names(&path) {
            Ok(s) => s,
            Err(e) => {
                out.push(Preview {
                    file: a.name.clone(),
                    path: a.path.clone(),
                    sheet: String::new(),
                    columns: vec![],
                    rows: vec![],
                    total: 0,
                    error: Some(e.to_string()),
                });
                continue;
            }
        };
        for sheet in sheets.into_iter().take(5) {
            let spec = SheetSpec {
                sheet: SheetRef::Name(sheet.clone()),
                ..SheetSpec::default()
            };
            match read_table(&path, &spec) {
                Ok(t) => {
                    let result_col = t.column_index("result");
                    let marked_by = table_for_sheet(&d.rows, &sheet, t.rows.len());
                    let rows = t
                        .rows
                        .iter()
                        .zip(&t.source_rows)
                        .enumerate()
                        .take(PREVIEW_ROWS)
                        .map(|(i, (cells, source))| {
                            let class = match result_col {
                                Some(c) => row_class(&cells[c].to_string()),
                                None => marked_by
                                    .and_then(|table| {
                                        d.rows.iter().find(|r| r.table == table && r.row == i + 1)
                                    })
                                    .map(|r| row_class(r.status.as_str()))
                                    .unwrap_or(""),
                            };
                            PreviewRow {
                                cells: cells.iter().map(|c| c.to_string()).collect(),
                                class,
                                sheet_row: *source,
                            }
                        })
                        .collect();
                    out.push(Preview {
                        file: a.name.clone(),
                        path: a.path.clone(),
                        sheet,
                        columns: t.columns.clone(),
                        rows,
                        total: t.rows.len(),
                        error: None,
                    });
                }
                Err(e) => out.push(Preview {
                    file: a.name.clone(),
                    path: a.path.clone(),
                    sheet,
                    columns: vec![],
                    rows: vec![],
                    total: 0,
                    error: Some(e.to_string()),
                }),
            }
        }
    }
    out
}

pub async fn show(
    State(state): State<AppState>,
    cur: Current,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let d = visible_run(&state, &cur, &id).await?;
    let review = review::get(state.records.pool(), &d.run.id.0).await?;
    let review_state = review::state_of(&d.run, review.as_ref());
    let deliveries = delivery::for_run(state.records.pool(), &d.run.id.0).await?;
    let log = runner::run_folder::read_log(&state.home.join(&d.run.folder).join("log.jsonl"))
        .unwrap_or_default();
    let log_start = log.len().saturating_sub(500);
    let listed_rows = rows_to_list(&d.rows);
    let slowest = d.steps.iter().map(|s| s.total_ms).fold(1.0_f64, f64::max);
    let steps: Vec<Value> = d
        .steps
        .iter()
        .map(|s| context! { step => Value::from_serialize(s), pct => ((s.total_ms / slowest) * 100.0).round().max(1.0) as i64 })
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
    let html = render(
        "run.html",
        cur.lang,
        Some(&cur),
        context! {
            run => Value::from_serialize(&d.run),
            review => Value::from_serialize(&review),
            state => review_state.as_str(),
            inputs => Value::from_serialize(d.artifacts.iter().filter(|a| a.kind == "input").collect::<Vec<_>>()),
            screenshots => Value::from_serialize(d.artifacts.iter().filter(|a| a.kind == "screenshot" && a.path.ends_with(".png")).collect::<Vec<_>>()),
            pages => Value::from_serialize(d.artifacts.iter().filter(|a| a.kind != "input" && a.kind != "output" && !a.path.ends_with(".png")).collect::<Vec<_>>()),
            previews => Value::from_serialize(previews(&state, &d)),
            rows => Value::from_serialize(&listed_rows),
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
            own_run => cur.user().can_review() && own_run,
            preview_rows => PREVIEW_ROWS,
        },
    )?;
    Ok(html.into_response())
}

#[derive(Deserialize)]
pub struct DecideForm {
    comment: Option<String>,
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
    Ok(Redirect::to(&format!("/runs/{id}")).into_response())
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
    Ok(Redirect::to(&format!("/runs/{id}")).into_response())
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

/// A file of a run, named by its path as recorded (`outputs/report.xlsx`); nothing else is served.
pub async fn file(
    State(state): State<AppState>,
    cur: Current,
    Path((id, path)): Path<(String, String)>,
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
    fn every_problem_row_is_listed_even_past_the_cap() {
        let mut rows: Vec<RowResult> = (1..=ROW_LIST_CAP + 100)
            .map(|i| row("t", i, RowStatus::Ok))
            .collect();
        rows.push(row("t", ROW_LIST_CAP + 101, RowStatus::Failed));
        let listed = rows_to_list(&rows);
        assert_eq!(listed.len(), ROW_LIST_CAP);
        assert_eq!(listed.last().unwrap().status, RowStatus::Failed);
        assert_eq!(rows_to_list(&rows[..3]).len(), 3);
    }
}
