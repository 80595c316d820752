//! The trainee's own page (`/work`): first what needs her (rejected runs: the reviewer's
//! comment, what to do next, and a button to run it again), then every run of hers with its
//! status in plain words. Her pay is on the ledger, in the same words as her statement.

use crate::AppState;
use crate::auth::Current;
use crate::error::AppError;
use crate::job;
use crate::page::render;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use minijinja::{Value, context};
use runner::Role;
use runner::review::{self, RunFilter};
use serde::Serialize;

/// A rejected run waiting for her.
#[derive(Serialize)]
struct ToFix {
    id: String,
    workflow: String,
    input: String,
    created_at: String,
    reviewer: String,
    comment: String,
    decided_at: String,
    rows_failed: u64,
}

pub async fn page(State(state): State<AppState>, cur: Current) -> Result<Response, AppError> {
    cur.require(&[Role::Trainee])?;
    let pool = state.records.pool();
    let name = cur.user().name.clone();
    let to_fix: Vec<ToFix> = runner::notice::rejected_not_rerun(pool, &name)
        .await?
        .into_iter()
        .map(|(run, r)| ToFix {
            id: run.id.0.clone(),
            workflow: run.workflow.clone(),
            input: run.input_name.clone().unwrap_or_default(),
            created_at: run.created_at.to_rfc3339(),
            reviewer: r.reviewer,
            comment: r.comment.unwrap_or_default(),
            decided_at: r.decided_at,
            rows_failed: run.rows.failed,
        })
        .collect();
    let runs = review::list(
        &state.records,
        &RunFilter {
            trainee: Some(name.clone()),
            limit: Some(100),
            ..Default::default()
        },
    )
    .await?;
    // Her own names for her workflows: the trainee knows them by `name:`.
    let titles = Default::default();
    let mut jobs = job::jobs(pool, &runs, &titles, cur.lang, job::Reader::Trainee).await;
    for (j, s) in jobs.iter_mut().zip(&runs) {
        j.title = s.run.workflow.clone();
    }
    let html = render(
        "work.html",
        cur.lang,
        Some(&cur),
        context! {
            to_fix => Value::from_serialize(&to_fix),
            jobs => Value::from_serialize(&jobs),
            can_rerun => state.reruns.is_some(),
        },
    )?;
    Ok(html.into_response())
}
