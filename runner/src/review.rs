//! `Review`: a reviewer's decision on a finished run, and the rules for when a run can be reviewed.
//!
//! - Only runs that **succeeded** await review. A succeeded run may still have failed or skipped
//!   rows (the reviewer sees them, and decides). A run that failed or was cancelled stopped part
//!   way, so its outputs are incomplete: the trainee fixes the workflow and runs it again.
//! - A reviewer or admin decides; never the trainee who wrote the run's workflow.
//! - One decision per run, ever: once approved or rejected the run is frozen. Approving delivers
//!   the outputs and credits the trainee in **one transaction** that starts by inserting the
//!   decision; a second approval (double click, two reviewers at once) finds the decision there
//!   and is refused, so delivery and credit happen exactly once.
//! - Only runs whose workflow's `author:` is a known trainee (a user with the trainee role,
//!   names compared without case) can be approved: the credit must go to someone. Any other
//!   run is held for the admin, still awaiting review, until the user is added or the
//!   workflow's `author:` fixed (and the run run again).
//! - Rejecting needs a comment (the trainee must know what to fix); it delivers and credits nothing.

use crate::audit;
use crate::delivery::{self, Delivery, DeliveryError};
use crate::payout::{self, LedgerEntry, RateError, Rates};
use crate::pending_delivery::PendingDelivery;
use crate::record::{Records, RunRecord, StoreError, run_from_row};
use crate::run::{RunId, RunStatus};
use crate::user::{Role, User};
use chrono::Utc;
use serde::Serialize;
use sqlx::{AnyPool, Row};
use std::fmt;
use std::path::Path;

/// Where a run stands in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// Still running, failed or cancelled: nothing to review.
    NotReviewable,
    Awaiting,
    Approved,
    Rejected,
}

impl ReviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::NotReviewable => "not_reviewable",
            ReviewState::Awaiting => "awaiting",
            ReviewState::Approved => "approved",
            ReviewState::Rejected => "rejected",
        }
    }
}

impl fmt::Display for ReviewState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decision as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    pub run_id: String,
    /// `Approved` or `Rejected`.
    pub state: ReviewState,
    pub reviewer: String,
    pub comment: Option<String>,
    pub decided_at: String,
}

/// What an approval did.
#[derive(Debug, Clone, Serialize)]
pub struct Approval {
    pub review: Review,
    pub deliveries: Vec<Delivery>,
    pub credit: LedgerEntry,
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no run with id `{0}`")]
    NoSuchRun(String),
    #[error("only reviewers and admins review runs")]
    NotAReviewer,
    #[error("`{0}` wrote this run's workflow and cannot review it; another reviewer must")]
    OwnRun(String),
    #[error("run `{id}` {status} and cannot be reviewed; only runs that succeeded can")]
    NotReviewable { id: String, status: RunStatus },
    #[error("run `{id}` was already {state}; a reviewed run does not change")]
    AlreadyReviewed { id: String, state: ReviewState },
    #[error(
        "the workflow's author `{author}` is not a known trainee, so this run cannot be approved and credited; it stays awaiting review, held for the admin, who adds `{author}` as a trainee (`kobo user add --name {author} --role trainee`) or fixes `author:` in the workflow (then the run is run again)"
    )]
    UnknownAuthor { author: String },
    #[error(
        "the workflow's author `{author}` is a {role}, not a trainee, so this run cannot be approved and credited; it stays awaiting review, held for the admin, who fixes `author:` in the workflow (then the run is run again) or makes `{author}` a trainee"
    )]
    AuthorNotATrainee { author: String, role: Role },
    #[error("a rejection needs a comment that tells the trainee what to fix")]
    CommentRequired,
    #[error(
        "run `{id}` was run again as run `{rerun}`, which was approved with the same rows; approving this one too would deliver and pay them twice"
    )]
    Superseded { id: String, rerun: String },
    #[error(
        "no rate is set for client `{client}`, workflow `{workflow}`; the admin adds one to rates.yaml"
    )]
    NoRate { client: String, workflow: String },
    #[error("the amount for this run does not fit in the ledger")]
    Overflow,
    #[error(transparent)]
    Rates(#[from] RateError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "kobo stopped while approving; if the run still awaits review when kobo is back, approve it again"
    )]
    Interrupted,
    #[error("the review could not be recorded: {0}")]
    Database(#[from] sqlx::Error),
}

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub client: Option<String>,
    pub workflow: Option<String>,
    pub trainee: Option<String>,
    /// Only runs awaiting review, oldest first (otherwise every run, newest first).
    /// The same as `stage: Some(Stage::Awaiting)`.
    pub awaiting_only: bool,
    /// Only runs at this stage; runs awaiting review are listed oldest first, the others
    /// newest first.
    pub stage: Option<Stage>,
    /// Words to look for in the workflow, client or trainee name, or the start of the run id
    /// (case does not matter).
    pub search: Option<String>,
    /// Only runs created at or after this time (RFC 3339, UTC).
    pub created_from: Option<String>,
    /// Only runs created before this time (RFC 3339, UTC).
    pub created_before: Option<String>,
    pub limit: Option<i64>,
    /// Runs to leave out before the first one listed (paging).
    pub offset: i64,
}

/// Where a run stands for the people who look at it: how it ran, then how it was reviewed.
/// Every run is at exactly one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Queued,
    Running,
    /// The run stopped on an error: nothing to review, the trainee fixes and runs it again.
    Failed,
    Cancelled,
    Awaiting,
    Rejected,
    /// Approved: its outputs went to the client's outbox and the trainee was credited.
    Delivered,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Awaiting,
        Stage::Queued,
        Stage::Running,
        Stage::Failed,
        Stage::Cancelled,
        Stage::Rejected,
        Stage::Delivered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Queued => "queued",
            Stage::Running => "running",
            Stage::Failed => "failed",
            Stage::Cancelled => "cancelled",
            Stage::Awaiting => "awaiting",
            Stage::Rejected => "rejected",
            Stage::Delivered => "delivered",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The stage of a run given its recorded decision.
    pub fn of(run: &RunRecord, review: Option<&Review>) -> Stage {
        match (review.map(|r| r.state), run.status) {
            (Some(ReviewState::Approved), _) => Stage::Delivered,
            (Some(_), _) => Stage::Rejected,
            (None, RunStatus::Queued) => Stage::Queued,
            (None, RunStatus::Running) => Stage::Running,
            (None, RunStatus::Succeeded) => Stage::Awaiting,
            (None, RunStatus::Failed) => Stage::Failed,
            (None, RunStatus::Cancelled) => Stage::Cancelled,
        }
    }

    /// The SQL condition (on `runs` left-joined with `reviews`) for this stage. Static text:
    /// nothing a user typed goes into it.
    fn condition(self) -> &'static str {
        match self {
            Stage::Queued => "runs.status = 'queued'",
            Stage::Running => "runs.status = 'running'",
            Stage::Failed => "runs.status = 'failed'",
            Stage::Cancelled => "runs.status = 'cancelled'",
            Stage::Awaiting => "runs.status = 'succeeded' AND reviews.run_id IS NULL",
            Stage::Rejected => "reviews.decision = 'rejected'",
            Stage::Delivered => "reviews.decision = 'approved'",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run with where it stands in review.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run: RunRecord,
    pub state: ReviewState,
    pub stage: Stage,
    pub review: Option<Review>,
    /// The run's author is a known trainee: it can be credited (see [`author_check`]).
    pub author_known: bool,
    /// For a running run, the rows it has finished so far (from its row progress).
    pub rows_done: Option<i64>,
}

impl RunSummary {
    /// Awaiting review with every row ok or skipped: nothing failed and nothing in doubt, so
    /// a reviewer may approve it together with others from the list.
    pub fn clean(&self) -> bool {
        self.stage == Stage::Awaiting && self.run.rows.failed == 0 && self.run.rows.in_doubt == 0
    }
}

/// One page of a run list and how many runs the filter matches in all.
#[derive(Debug, Clone, Serialize)]
pub struct RunPage {
    pub runs: Vec<RunSummary>,
    pub total: i64,
}

/// The review state of a run given its recorded decision.
pub fn state_of(run: &RunRecord, review: Option<&Review>) -> ReviewState {
    match review {
        Some(r) => r.state,
        None if run.status == RunStatus::Succeeded => ReviewState::Awaiting,
        None => ReviewState::NotReviewable,
    }
}

/// The recorded decision on a run, if any.
pub async fn get(pool: &AnyPool, run_id: &str) -> Result<Option<Review>, sqlx::Error> {
    let row = sqlx::query("SELECT * FROM reviews WHERE run_id = $1")
        .bind(run_id)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(review_from_row))
}

/// The `WHERE` clause of a run list and its values, in order. The clause is built from
/// static text only; what the user typed is bound as values.
fn list_where(f: &RunFilter) -> (String, Vec<Option<String>>) {
    let mut clause = String::from(
        "($1 IS NULL OR runs.client = $2) AND ($3 IS NULL OR runs.workflow = $4) AND ($5 IS NULL OR runs.trainee = $6)
           AND ($7 IS NULL OR runs.created_at >= $8) AND ($9 IS NULL OR runs.created_at < $10)",
    );
    let mut values = Vec::new();
    for v in [
        &f.client,
        &f.workflow,
        &f.trainee,
        &f.created_from,
        &f.created_before,
    ] {
        values.push(v.clone());
        values.push(v.clone());
    }
    if let Some(words) = &f.search {
        // Each word must be somewhere: `acme olena` finds Olena's runs for Acme.
        for word in words.split_whitespace().take(5) {
            let like = format!("%{}%", like_escape(&word.to_lowercase()));
            let n = values.len();
            clause.push_str(&format!(
                " AND (LOWER(runs.workflow) LIKE ${} ESCAPE '\\' OR LOWER(runs.client) LIKE ${} ESCAPE '\\'
                   OR LOWER(runs.trainee) LIKE ${} ESCAPE '\\' OR runs.id LIKE ${} ESCAPE '\\')",
                n + 1,
                n + 2,
                n + 3,
                n + 4
            ));
            let id_start = format!("{}%", like_escape(&word.to_lowercase()));
            values.extend([
                Some(like.clone()),
                Some(like.clone()),
                Some(like),
                Some(id_start),
            ]);
        }
    }
    let stage = if f.awaiting_only {
        Some(Stage::Awaiting)
    } else {
        f.stage
    };
    if let Some(stage) = stage {
        clause.push_str(" AND ");
        clause.push_str(stage.condition());
    }
    (clause, values)
}

/// `%`, `_` and `\` taken literally in a `LIKE … ESCAPE '\'` pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Runs with their review state, filtered: one page of them.
pub async fn list(records: &Records, f: &RunFilter) -> Result<Vec<RunSummary>, sqlx::Error> {
    let (clause, values) = list_where(f);
    let awaiting = f.awaiting_only || f.stage == Some(Stage::Awaiting);
    let order = if awaiting {
        "runs.created_at ASC, runs.id ASC"
    } else {
        "runs.created_at DESC, runs.id DESC"
    };
    let n = values.len();
    let sql = format!(
        "SELECT runs.*, reviews.run_id AS r_run_id, reviews.decision, reviews.reviewer, reviews.comment, reviews.decided_at,
           (SELECT COUNT(*) FROM users WHERE LOWER(users.name) = LOWER(runs.trainee) AND users.role = 'trainee') AS author_known,
           CASE WHEN runs.status = 'running' THEN
             (SELECT COUNT(*) FROM run_row_progress p WHERE p.run_id = runs.id AND p.state <> 'touched') END AS rows_done
         FROM runs LEFT JOIN reviews ON reviews.run_id = runs.id
         WHERE {clause}
         ORDER BY {order} LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    // Audited: `sql` is static text and numbered placeholders (see `list_where`); every
    // value a user gave is bound.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for v in values {
        q = q.bind(v);
    }
    let rows = q
        .bind(f.limit.unwrap_or(500))
        .bind(f.offset.max(0))
        .fetch_all(records.pool())
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let run = run_from_row(r);
            let review = r.get::<Option<String>, _>("r_run_id").map(|run_id| Review {
                run_id,
                state: decision(&r.get::<String, _>("decision")),
                reviewer: r.get("reviewer"),
                comment: r.get("comment"),
                decided_at: r.get("decided_at"),
            });
            RunSummary {
                state: state_of(&run, review.as_ref()),
                stage: Stage::of(&run, review.as_ref()),
                run,
                review,
                author_known: r.get::<i64, _>("author_known") > 0,
                rows_done: r.get::<Option<i64>, _>("rows_done"),
            }
        })
        .collect())
}

/// How many runs the filter matches, on every page.
pub async fn count(records: &Records, f: &RunFilter) -> Result<i64, sqlx::Error> {
    let (clause, values) = list_where(f);
    let sql = format!(
        "SELECT COUNT(*) AS n FROM runs LEFT JOIN reviews ON reviews.run_id = runs.id WHERE {clause}"
    );
    // Audited: `sql` is static text and numbered placeholders (see `list_where`); every
    // value a user gave is bound.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for v in values {
        q = q.bind(v);
    }
    Ok(q.fetch_one(records.pool()).await?.get::<i64, _>("n"))
}

/// One page of runs and the number of runs the filter matches.
pub async fn page(records: &Records, f: &RunFilter) -> Result<RunPage, sqlx::Error> {
    Ok(RunPage {
        runs: list(records, f).await?,
        total: count(records, f).await?,
    })
}

/// The runs awaiting review just before and just after `run` in the review list (oldest
/// first) that `reviewer` may decide (not her own): where "previous" and "next" lead.
pub async fn neighbours(
    pool: &AnyPool,
    run: &RunRecord,
    reviewer: &str,
) -> Result<(Option<String>, Option<String>), sqlx::Error> {
    const NEXT: &str = "SELECT runs.id FROM runs LEFT JOIN reviews ON reviews.run_id = runs.id
         WHERE runs.status = 'succeeded' AND reviews.run_id IS NULL AND LOWER(runs.trainee) <> LOWER($1)
           AND (runs.created_at > $2 OR (runs.created_at = $3 AND runs.id > $4))
         ORDER BY runs.created_at ASC, runs.id ASC LIMIT 1";
    const PREVIOUS: &str = "SELECT runs.id FROM runs LEFT JOIN reviews ON reviews.run_id = runs.id
         WHERE runs.status = 'succeeded' AND reviews.run_id IS NULL AND LOWER(runs.trainee) <> LOWER($1)
           AND (runs.created_at < $2 OR (runs.created_at = $3 AND runs.id < $4))
         ORDER BY runs.created_at DESC, runs.id DESC LIMIT 1";
    let at = run.created_at.to_rfc3339();
    let mut found = Vec::with_capacity(2);
    for sql in [PREVIOUS, NEXT] {
        let row = sqlx::query(sql)
            .bind(reviewer)
            .bind(&at)
            .bind(&at)
            .bind(&run.id.0)
            .fetch_optional(pool)
            .await?;
        found.push(row.map(|r| r.get::<String, _>("id")));
    }
    let next = found.pop().flatten();
    let previous = found.pop().flatten();
    Ok((previous, next))
}

/// The oldest run awaiting review that `reviewer` may decide (not her own), if any: where a
/// reviewer goes after a decision.
pub async fn next_for(pool: &AnyPool, reviewer: &str) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT runs.id FROM runs LEFT JOIN reviews ON reviews.run_id = runs.id
         WHERE runs.status = 'succeeded' AND reviews.run_id IS NULL AND LOWER(runs.trainee) <> LOWER($1)
         ORDER BY runs.created_at ASC, runs.id ASC LIMIT 1",
    )
    .bind(reviewer)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| r.get("id")))
}

/// A rejection of an earlier run, with that run.
#[derive(Debug, Clone, Serialize)]
pub struct EarlierRejection {
    pub run: RunRecord,
    pub review: Review,
}

/// Earlier rejected runs of the same client's workflow (created before `run`), newest first,
/// at most `limit`: what the trainee was asked to fix before.
pub async fn earlier_rejections(
    pool: &AnyPool,
    run: &RunRecord,
    limit: i64,
) -> Result<Vec<EarlierRejection>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT runs.*, reviews.run_id AS r_run_id, reviews.decision, reviews.reviewer, reviews.comment, reviews.decided_at
         FROM runs JOIN reviews ON reviews.run_id = runs.id
         WHERE runs.client = $1 AND runs.workflow = $2 AND reviews.decision = 'rejected' AND runs.id <> $3
           AND runs.created_at <= $4
         ORDER BY reviews.decided_at DESC LIMIT $5",
    )
    .bind(&run.client)
    .bind(&run.workflow)
    .bind(&run.id.0)
    .bind(run.created_at.to_rfc3339())
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| EarlierRejection {
            run: run_from_row(r),
            review: Review {
                run_id: r.get("r_run_id"),
                state: ReviewState::Rejected,
                reviewer: r.get("reviewer"),
                comment: r.get("comment"),
                decided_at: r.get("decided_at"),
            },
        })
        .collect())
}

/// The last approved run of the same client's workflow created before `run`: what its
/// outputs are compared with.
pub async fn last_approved_before(
    pool: &AnyPool,
    run: &RunRecord,
) -> Result<Option<RunRecord>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT runs.* FROM runs JOIN reviews ON reviews.run_id = runs.id
         WHERE runs.client = $1 AND runs.workflow = $2 AND reviews.decision = 'approved' AND runs.id <> $3
           AND runs.created_at <= $4
         ORDER BY runs.created_at DESC, runs.id DESC LIMIT 1",
    )
    .bind(&run.client)
    .bind(&run.workflow)
    .bind(&run.id.0)
    .bind(run.created_at.to_rfc3339())
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(run_from_row))
}

/// What approving a run pays its trainee, worked out the way the approval does it.
#[derive(Debug, Clone, Serialize)]
pub struct Pay {
    pub per_run: i64,
    pub per_ok_row: i64,
    /// Ok rows paid with this run (rows a rerun kept from an approved run were paid then).
    pub ok_rows: u64,
    /// Ok rows already paid with an earlier approved run.
    pub paid_before: u64,
    pub amount_yen: i64,
}

/// The rate and the amount approving `run` pays, as [`approve`] credits it.
pub async fn pay_for(records: &Records, home: &Path, run: &RunRecord) -> Result<Pay, ReviewError> {
    let rates = Rates::load(home)?;
    let rate = rates
        .for_run(&run.client, &run.workflow)
        .ok_or_else(|| ReviewError::NoRate {
            client: run.client.clone(),
            workflow: run.workflow.clone(),
        })?;
    // Rows a rerun carried over from a run already approved were paid with that run.
    let paid_before = crate::progress::ok_rows_paid_before(records, &run.id).await?;
    let ok_rows = run.rows.ok.saturating_sub(paid_before);
    Ok(Pay {
        per_run: rate.per_run,
        per_ok_row: rate.per_ok_row,
        ok_rows,
        paid_before,
        amount_yen: rate.amount(ok_rows).ok_or(ReviewError::Overflow)?,
    })
}

/// The distinct clients, workflows and trainees that have runs (for the list's filters);
/// with `trainee`, only those of her own runs (a trainee learns nothing of others' work).
pub async fn filter_values(
    pool: &AnyPool,
    trainee: Option<&str>,
) -> Result<(Vec<String>, Vec<String>, Vec<String>), sqlx::Error> {
    // Literal statements rather than formatted ones: only the column differs.
    const CLIENTS: &str =
        "SELECT DISTINCT client AS v FROM runs WHERE ($1 IS NULL OR trainee = $2) ORDER BY v";
    const WORKFLOWS: &str =
        "SELECT DISTINCT workflow AS v FROM runs WHERE ($1 IS NULL OR trainee = $2) ORDER BY v";
    const TRAINEES: &str =
        "SELECT DISTINCT trainee AS v FROM runs WHERE ($1 IS NULL OR trainee = $2) ORDER BY v";
    let mut lists = Vec::with_capacity(3);
    for sql in [CLIENTS, WORKFLOWS, TRAINEES] {
        let rows = sqlx::query(sql)
            .bind(trainee)
            .bind(trainee)
            .fetch_all(pool)
            .await?;
        lists.push(
            rows.iter()
                .map(|r| r.get::<String, _>("v"))
                .collect::<Vec<_>>(),
        );
    }
    let trainees = lists.pop().unwrap_or_default();
    let workflows = lists.pop().unwrap_or_default();
    let clients = lists.pop().unwrap_or_default();
    Ok((clients, workflows, trainees))
}

/// The run's author (its workflow's `author:`) as a trainee who can be credited: refused
/// with [`ReviewError::UnknownAuthor`] or [`ReviewError::AuthorNotATrainee`] otherwise.
/// Names are compared without case, as for a reviewer's own run.
pub async fn author_check(pool: &AnyPool, run: &RunRecord) -> Result<User, ReviewError> {
    let rows = sqlx::query("SELECT * FROM users WHERE LOWER(name) = LOWER($1) ORDER BY name")
        .bind(&run.trainee)
        .fetch_all(pool)
        .await?;
    let users: Vec<User> = rows.iter().map(crate::user::user_from_row).collect();
    if let Some(trainee) = users.iter().find(|u| u.role == Role::Trainee) {
        return Ok(trainee.clone());
    }
    match users.first() {
        Some(u) => Err(ReviewError::AuthorNotATrainee {
            author: run.trainee.clone(),
            role: u.role,
        }),
        None => Err(ReviewError::UnknownAuthor {
            author: run.trainee.clone(),
        }),
    }
}

/// Check who may review this run and that it can still be reviewed.
async fn check(records: &Records, run_id: &RunId, by: &User) -> Result<RunRecord, ReviewError> {
    if !by.can_review() {
        return Err(ReviewError::NotAReviewer);
    }
    let run = records
        .find(&run_id.0)
        .await
        .map_err(|_| ReviewError::NoSuchRun(run_id.0.clone()))?;
    if run.id != *run_id {
        return Err(ReviewError::NoSuchRun(run_id.0.clone()));
    }
    // User names are lowercase, but runs recorded before workflows were held to that rule may
    // carry `Olena` for the user `olena`.
    if run.trainee.eq_ignore_ascii_case(&by.name) {
        return Err(ReviewError::OwnRun(by.name.clone()));
    }
    if let Some(r) = get(records.pool(), &run.id.0).await? {
        return Err(ReviewError::AlreadyReviewed {
            id: run.id.0.clone(),
            state: r.state,
        });
    }
    if run.status != RunStatus::Succeeded {
        return Err(ReviewError::NotReviewable {
            id: run.id.0.clone(),
            status: run.status,
        });
    }
    Ok(run)
}

/// Insert the decision unless one exists; `false` if another reviewer got there first.
async fn decide(tx: &mut sqlx::AnyConnection, review: &Review) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO reviews (run_id, decision, reviewer, comment, decided_at)
         SELECT id, $1, $2, $3, $4 FROM runs WHERE id = $5 AND status = 'succeeded'
         ON CONFLICT (run_id) DO NOTHING",
    )
    .bind(review.state.as_str())
    .bind(&review.reviewer)
    .bind(&review.comment)
    .bind(&review.decided_at)
    .bind(&review.run_id)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn lost_race(records: &Records, run_id: &str) -> ReviewError {
    match get(records.pool(), run_id).await {
        Ok(Some(r)) => ReviewError::AlreadyReviewed {
            id: run_id.into(),
            state: r.state,
        },
        Ok(None) => ReviewError::NoSuchRun(run_id.into()),
        Err(e) => ReviewError::Database(e),
    }
}

/// Approve a run: record the decision, deliver its outputs to the client's outbox and credit
/// the trainee, all or nothing, exactly once.
///
/// The approval runs as a task of its own, to its end, even when the caller stops waiting (a
/// dashboard request whose browser went away is dropped part-way): it never stops between
/// copying files into the outbox and committing, or taking them back.
pub async fn approve(
    records: &Records,
    home: &Path,
    run_id: &RunId,
    by: &User,
    comment: Option<&str>,
) -> Result<Approval, ReviewError> {
    let (records, home, run_id, by) = (
        records.clone(),
        home.to_path_buf(),
        run_id.clone(),
        by.clone(),
    );
    let comment = comment.map(String::from);
    let task = tokio::spawn(async move {
        approve_to_end(&records, &home, &run_id, &by, comment.as_deref()).await
    });
    match task.await {
        Ok(done) => done,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // The runtime is shutting down (kobo is stopping): recovery at the next start
        // settles what the approval left.
        Err(_) => Err(ReviewError::Interrupted),
    }
}

async fn approve_to_end(
    records: &Records,
    home: &Path,
    run_id: &RunId,
    by: &User,
    comment: Option<&str>,
) -> Result<Approval, ReviewError> {
    let run = check(records, run_id, by).await?;
    // Its rerun, approved already, delivered and paid the rows they share.
    let approved_rerun = sqlx::query(
        "SELECT u.id FROM runs u JOIN reviews r ON r.run_id = u.id WHERE u.rerun_of = $1 AND r.decision = 'approved'",
    )
    .bind(&run.id.0)
    .fetch_optional(records.pool())
    .await?;
    if let Some(r) = approved_rerun {
        return Err(ReviewError::Superseded {
            id: run.id.0.clone(),
            rerun: r.get("id"),
        });
    }
    // Held for the admin until the credit has someone to go to.
    let author = author_check(records.pool(), &run).await?;
    // The same amount the run page showed before the click.
    let pay = pay_for(records, home, &run).await?;
    let rate = crate::payout::Rate {
        client: run.client.clone(),
        workflow: Some(run.workflow.clone()),
        per_run: pay.per_run,
        per_ok_row: pay.per_ok_row,
    };
    let amount = pay.amount_yen;
    let run = {
        let mut r = run;
        r.rows.ok = pay.ok_rows;
        // Credited to the user's own name (`author: Olena` is the user `olena`).
        r.trainee = author.name;
        r
    };
    crate::run_files::fetch(records, home, &run.id, &run.folder).await?;
    let outputs = records.outputs(&run.id).await?;
    let now = Utc::now();
    let review = Review {
        run_id: run.id.0.clone(),
        state: ReviewState::Approved,
        reviewer: by.name.clone(),
        comment: comment
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from),
        decided_at: now.to_rfc3339(),
    };

    let mut tx = records.write_transaction().await?;
    // The first statement writes, so the transaction takes SQLite's write lock here and a
    // concurrent approval waits for it, then finds the decision and inserts nothing.
    if !decide(&mut tx, &review).await? {
        drop(tx);
        return Err(lost_race(records, &run.id.0).await);
    }
    // From here until the note is done, the transaction stays open (rolled back when dropped
    // at a return), so no other approval of the run starts while copies are in the outbox.
    let pending = PendingDelivery::begin(home, &run, &outputs, now).await?;
    let deliveries = match delivery::copy_outputs(home, &run, &outputs, now) {
        Ok(d) => d,
        Err(e) => {
            // copy_outputs took back what it had copied.
            pending.done();
            return Err(e.into());
        }
    };
    crate::fault::point_for("approve", &run.id.0).await;
    let recorded = async {
        for d in &deliveries {
            delivery::record(&mut tx, d).await?;
        }
        let credit = payout::credit(&mut tx, &run, &rate, amount).await?;
        let files: Vec<&str> = deliveries.iter().map(|d| d.file_name.as_str()).collect();
        let detail = format!(
            "credited {} yen to {}; delivered {}",
            amount,
            run.trainee,
            files.join(", ")
        );
        audit::append(&mut *tx, &by.name, "approve", &run.id.0, Some(&detail)).await?;
        Ok::<_, sqlx::Error>(credit)
    }
    .await;
    let credit = match recorded {
        Ok(credit) => credit,
        Err(e) => {
            delivery::undo(home, &deliveries);
            pending.done();
            return Err(e.into());
        }
    };
    if let Err(e) = tx.commit().await {
        // The commit may have reached the database before the error: ask it.
        match get(records.pool(), &run.id.0).await {
            Ok(Some(r)) if r == review => {}
            Ok(_) => {
                delivery::undo(home, &deliveries);
                pending.done();
                return Err(e.into());
            }
            // Cannot tell: the note stays, for recovery to settle once the records answer.
            Err(_) => return Err(e.into()),
        }
    }
    pending.done();
    freeze(home, &run, &outputs);
    Ok(Approval {
        review,
        deliveries,
        credit,
    })
}

/// Reject a run with a comment for the trainee. Nothing is delivered or credited.
pub async fn reject(
    records: &Records,
    home: &Path,
    run_id: &RunId,
    by: &User,
    comment: &str,
) -> Result<Review, ReviewError> {
    let comment = comment.trim();
    if comment.is_empty() {
        return Err(ReviewError::CommentRequired);
    }
    let run = check(records, run_id, by).await?;
    let review = Review {
        run_id: run.id.0.clone(),
        state: ReviewState::Rejected,
        reviewer: by.name.clone(),
        comment: Some(comment.to_string()),
        decided_at: Utc::now().to_rfc3339(),
    };
    let mut tx = records.write_transaction().await?;
    if !decide(&mut tx, &review).await? {
        drop(tx);
        return Err(lost_race(records, &run.id.0).await);
    }
    audit::append(&mut *tx, &by.name, "reject", &run.id.0, Some(comment)).await?;
    tx.commit().await?;
    let outputs = records.outputs(&run.id).await?;
    freeze(home, &run, &outputs);
    Ok(review)
}

/// Make a reviewed run's output files read-only: they are what the decision was about.
///
/// This only guards against accidents in the folder; what kobo itself keeps is guarded by
/// the records (a reviewed run's `run_files` and `run_artifacts` do not change, see the
/// `reviewed_runs_frozen` migrations), and an approval delivers only the recorded content.
fn freeze(home: &Path, run: &RunRecord, outputs: &[crate::record::Artifact]) {
    for a in outputs {
        let path = home.join(&run.folder).join(&a.path);
        let done = std::fs::metadata(&path).and_then(|meta| {
            let mut perms = meta.permissions();
            perms.set_readonly(true);
            std::fs::set_permissions(&path, perms)
        });
        if let Err(e) = done {
            tracing::warn!(run = %run.id, file = %path.display(), "cannot make a reviewed run's output read-only: {e}");
        }
    }
}

fn decision(s: &str) -> ReviewState {
    if s == "approved" {
        ReviewState::Approved
    } else {
        ReviewState::Rejected
    }
}

fn review_from_row(r: &sqlx::any::AnyRow) -> Review {
    Review {
        run_id: r.get("run_id"),
        state: decision(&r.get::<String, _>("decision")),
        reviewer: r.get("reviewer"),
        comment: r.get("comment"),
        decided_at: r.get("decided_at"),
    }
}
