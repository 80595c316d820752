//! `Notice`: what a person should hear about, counted for the dashboard's header and listed
//! once for e-mail.
//!
//! - a reviewer: runs awaiting review;
//! - a trainee: her runs that were rejected and not run again yet;
//! - a client: files delivered since she last looked at her page (`users.seen_at`).
//!
//! Each e-mail notice is sent once: `notices_sent` keeps `(run, kind)` once a notice about it
//! went out (or failed to: the failure is logged, and nobody is mailed every minute).

use crate::record::{RunRecord, run_from_row};
use crate::review::Review;
use chrono::Utc;
use serde::Serialize;
use sqlx::{AnyPool, Row};

/// The kinds of notices, as kept in `notices_sent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// A run awaits review (for reviewers).
    Awaiting,
    /// A run was rejected (for its trainee).
    Rejected,
    /// A run's outputs were delivered (for the client).
    Delivered,
}

impl Notice {
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Awaiting => "awaiting",
            Notice::Rejected => "rejected",
            Notice::Delivered => "delivered",
        }
    }
}

/// Runs awaiting review.
pub async fn awaiting_count(pool: &AnyPool) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM runs LEFT JOIN reviews ON reviews.run_id = runs.id
         WHERE runs.status = 'succeeded' AND reviews.run_id IS NULL",
    )
    .fetch_one(pool)
    .await?;
    Ok(row.get("n"))
}

/// A trainee's rejected runs that were not run again (`rerun_of` names none of them), newest
/// first, with the review.
pub async fn rejected_not_rerun(
    pool: &AnyPool,
    trainee: &str,
) -> Result<Vec<(RunRecord, Review)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT runs.*, reviews.reviewer, reviews.comment, reviews.decided_at FROM runs
         JOIN reviews ON reviews.run_id = runs.id
         WHERE reviews.decision = 'rejected' AND LOWER(runs.trainee) = LOWER($1)
           AND NOT EXISTS (SELECT 1 FROM runs later WHERE later.rerun_of = runs.id)
         ORDER BY reviews.decided_at DESC",
    )
    .bind(trainee)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let run = run_from_row(r);
            let review = Review {
                run_id: run.id.0.clone(),
                state: crate::ReviewState::Rejected,
                reviewer: r.get("reviewer"),
                comment: r.get("comment"),
                decided_at: r.get("decided_at"),
            };
            (run, review)
        })
        .collect())
}

/// When the user last looked at her page (RFC 3339), if ever.
pub async fn seen_at(pool: &AnyPool, user: &str) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT seen_at FROM users WHERE name = $1")
        .bind(user)
        .fetch_optional(pool)
        .await?;
    Ok(row.and_then(|r| r.get("seen_at")))
}

/// The user looked at her page now.
pub async fn mark_seen(pool: &AnyPool, user: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET seen_at = $1 WHERE name = $2")
        .bind(Utc::now().to_rfc3339())
        .bind(user)
        .execute(pool)
        .await?;
    Ok(())
}

/// Files delivered to `client` after `since` (all of them without).
pub async fn deliveries_since(
    pool: &AnyPool,
    client: &str,
    since: Option<&str>,
) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM deliveries WHERE client = $1 AND ($2 IS NULL OR delivered_at > $3)",
    )
    .bind(client)
    .bind(since)
    .bind(since)
    .fetch_one(pool)
    .await?;
    Ok(row.get("n"))
}

/// Runs a notice of `kind` was not sent about yet, oldest first: awaiting review, rejected, or
/// delivered.
pub async fn unsent(pool: &AnyPool, kind: Notice) -> Result<Vec<RunRecord>, sqlx::Error> {
    const AWAITING: &str = "SELECT runs.* FROM runs LEFT JOIN reviews ON reviews.run_id = runs.id
         WHERE runs.status = 'succeeded' AND reviews.run_id IS NULL
           AND NOT EXISTS (SELECT 1 FROM notices_sent n WHERE n.run_id = runs.id AND n.kind = 'awaiting')
         ORDER BY runs.created_at, runs.id";
    const REJECTED: &str = "SELECT runs.* FROM runs JOIN reviews ON reviews.run_id = runs.id
         WHERE reviews.decision = 'rejected'
           AND NOT EXISTS (SELECT 1 FROM notices_sent n WHERE n.run_id = runs.id AND n.kind = 'rejected')
         ORDER BY reviews.decided_at, runs.id";
    const DELIVERED: &str = "SELECT runs.* FROM runs JOIN reviews ON reviews.run_id = runs.id
         WHERE reviews.decision = 'approved'
           AND EXISTS (SELECT 1 FROM deliveries d WHERE d.run_id = runs.id)
           AND NOT EXISTS (SELECT 1 FROM notices_sent n WHERE n.run_id = runs.id AND n.kind = 'delivered')
         ORDER BY reviews.decided_at, runs.id";
    let sql = match kind {
        Notice::Awaiting => AWAITING,
        Notice::Rejected => REJECTED,
        Notice::Delivered => DELIVERED,
    };
    let rows = sqlx::query(sql).fetch_all(pool).await?;
    Ok(rows.iter().map(run_from_row).collect())
}

/// Keep that a notice of `kind` about `run_id` went out (once: a second mark changes nothing).
pub async fn mark_sent(pool: &AnyPool, run_id: &str, kind: Notice) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notices_sent (run_id, kind, sent_at) VALUES ($1, $2, $3)
         ON CONFLICT (run_id, kind) DO NOTHING",
    )
    .bind(run_id)
    .bind(kind.as_str())
    .bind(Utc::now().to_rfc3339())
    .execute(pool)
    .await?;
    Ok(())
}

/// Row progress of a running run: rows done so far (any outcome), for "running, 12 rows done".
pub async fn rows_done(pool: &AnyPool, run_id: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM run_row_progress WHERE run_id = $1 AND state <> 'touched'",
    )
    .bind(run_id)
    .fetch_one(pool)
    .await?;
    Ok(row.get("n"))
}
