//! Learning groups (`/groups`): each member's recent runs, her rejections and what was learnt
//! from them (the reviewers' and the senior's comments), and the senior's first review of her
//! juniors' runs awaiting review (see `runner::group`).
//!
//! Who sees what: reviewers and admins every group; a trainee the group she is in and the
//! groups she leads; clients none. Only a group's senior gives first reviews, and they are
//! advice: nothing is delivered or paid by them (approving stays with reviewers).

use crate::AppState;
use crate::auth::Current;
use crate::csrf_form::CsrfForm;
use crate::error::{AppError, Msg};
use crate::page::render;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use runner::group::{self, Group, GroupError, Verdict};
use runner::review::{self, RunFilter};
use runner::{Role, RunId};
use serde::{Deserialize, Serialize};

/// How many recent runs of each member the page lists.
const RUNS_PER_MEMBER: i64 = 10;

#[derive(Serialize)]
struct MemberView {
    name: String,
    runs: Vec<RunView>,
    /// Rejected runs with the reviewer's comment: what was learnt.
    lessons: Vec<Lesson>,
}

#[derive(Serialize)]
struct RunView {
    id: String,
    workflow: String,
    created_at: String,
    state: &'static str,
    status: &'static str,
    ok: u64,
    failed: u64,
    first_review: Option<group::FirstReview>,
    /// The current user is this member's senior and the run awaits review.
    can_first_review: bool,
}

#[derive(Serialize)]
struct Lesson {
    run: String,
    workflow: String,
    reviewer: String,
    comment: String,
}

#[derive(Serialize)]
struct GroupView {
    name: String,
    senior: String,
    /// The current user leads this group.
    led: bool,
    members: Vec<MemberView>,
}

/// The groups the current user may see.
async fn visible_groups(state: &AppState, cur: &Current) -> Result<Vec<Group>, AppError> {
    cur.require(&[Role::Admin, Role::Reviewer, Role::Trainee])?;
    let pool = state.records.pool();
    let me = &cur.user().name;
    Ok(match cur.user().role {
        Role::Trainee => {
            let mut groups = group::led_by(pool, me).await?;
            if let Some(own) = group::group_of(pool, me).await?
                && !groups.iter().any(|g| g.name == own.name)
            {
                groups.push(own);
            }
            groups
        }
        _ => group::list(pool).await?,
    })
}

pub async fn page(State(state): State<AppState>, cur: Current) -> Result<Response, AppError> {
    let groups = visible_groups(&state, &cur).await?;
    let pool = state.records.pool();
    let me = cur.user().name.clone();
    let mut views = Vec::new();
    for g in groups {
        let led = g.senior.eq_ignore_ascii_case(&me);
        let mut members = Vec::new();
        for m in &g.members {
            let summaries = review::list(
                &state.records,
                &RunFilter {
                    trainee: Some(m.clone()),
                    limit: Some(RUNS_PER_MEMBER),
                    ..Default::default()
                },
            )
            .await?;
            let mut runs = Vec::new();
            let mut lessons = Vec::new();
            for s in summaries {
                if s.state == runner::ReviewState::Rejected
                    && let Some(r) = &s.review
                {
                    lessons.push(Lesson {
                        run: s.run.id.0.clone(),
                        workflow: s.run.workflow.clone(),
                        reviewer: r.reviewer.clone(),
                        comment: r.comment.clone().unwrap_or_default(),
                    });
                }
                runs.push(RunView {
                    first_review: group::first_review_of(pool, &s.run.id.0).await?,
                    can_first_review: led && s.state == runner::ReviewState::Awaiting,
                    id: s.run.id.0.clone(),
                    workflow: s.run.workflow.clone(),
                    created_at: s.run.created_at.to_rfc3339(),
                    state: s.state.as_str(),
                    status: s.run.status.as_str(),
                    ok: s.run.rows.ok,
                    failed: s.run.rows.failed,
                });
            }
            members.push(MemberView {
                name: m.clone(),
                runs,
                lessons,
            });
        }
        views.push(GroupView {
            name: g.name,
            senior: g.senior,
            led,
            members,
        });
    }
    let html = render(
        "groups.html",
        cur.lang,
        Some(&cur),
        context! { groups => Value::from_serialize(&views) },
    )?;
    Ok(html.into_response())
}

#[derive(Deserialize)]
pub struct FirstReviewForm {
    verdict: String,
    #[serde(default)]
    comment: String,
}

/// `POST /groups/runs/{id}/first-review`: the senior's advice on a junior's run.
pub async fn first_review(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(cur, f): CsrfForm<FirstReviewForm>,
) -> Result<Response, AppError> {
    cur.require(&[Role::Trainee])?;
    let id = RunId::parse(&id).ok_or(AppError::NotFound)?;
    let run = state.records.get(&id).await?.ok_or(AppError::NotFound)?;
    let verdict = Verdict::parse(&f.verdict)
        .ok_or(AppError::BadRequest(Msg::key("err_first_review_verdict")))?;
    let comment = Some(f.comment.as_str());
    match group::first_review(
        state.records.pool(),
        &run,
        &cur.user().name,
        verdict,
        comment,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/groups").into_response()),
        // Not her junior: the run does not exist for her.
        Err(GroupError::NotTheSenior { .. } | GroupError::OwnRun) => Err(AppError::NotFound),
        Err(GroupError::CommentNeeded) => {
            Err(AppError::BadRequest(Msg::key("err_first_review_comment")))
        }
        Err(GroupError::NotAwaiting(_)) => {
            Err(AppError::Conflict(Msg::key("err_first_review_decided")))
        }
        Err(e) => Err(AppError::Internal(e.to_string())),
    }
}
