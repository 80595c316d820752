//! `AuditEntry`: the append-only log of review actions (who, when, what).
//!
//! Entries are written inside the same transaction as the action they describe, so an
//! action without its entry cannot exist. Triggers in the database refuse updates and deletes.

use chrono::Utc;
use serde::Serialize;
use sqlx::{AnyPool, Row};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    /// `approve`, `reject`, `login`, `user.add`, `upload` …
    pub action: String,
    /// What the action was about: a run id, a user name, a file.
    pub target: String,
    pub detail: Option<String>,
}

/// Add one entry.
pub async fn append<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    actor: &str,
    action: &str,
    target: &str,
    detail: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Utc::now().to_rfc3339())
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(detail)
    .execute(ex)
    .await?;
    Ok(())
}

/// The most recent entries, newest first.
pub async fn recent(pool: &AnyPool, limit: i64) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let rows = sqlx::query("SELECT * FROM audit ORDER BY id DESC LIMIT $1")
        .bind(limit)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .iter()
        .map(|r| AuditEntry {
            id: r.get("id"),
            at: r.get("at"),
            actor: r.get("actor"),
            action: r.get("action"),
            target: r.get("target"),
            detail: r.get("detail"),
        })
        .collect())
}
