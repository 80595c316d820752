//! Learning groups: trainees learn in small groups (about five) with a **senior** trainee.
//!
//! - The admin makes a group with its senior (a trainee) and adds trainees to it; a trainee is
//!   in one group at most, and the senior is never a member of her own group.
//! - The senior sees her juniors' runs and gives a **first review** of a run awaiting review:
//!   "looks good", or "needs work" with a comment. It is advice for the junior and the bridge
//!   staff, never a decision: it delivers nothing and pays nothing, and the run still awaits
//!   a reviewer. Only the senior of the run's trainee may give it, never on her own run, and
//!   only while the run awaits review; the latest one counts.
//! - The group page shows each member's runs, her rejections and what was learnt from them
//!   (the reviewers' and the senior's comments).
//!
//! Every change is kept in the audit log.

use crate::audit;
use crate::record::{RunRecord, StoreError};
use crate::review::{self, ReviewState};
use crate::user::{self, Role};
use chrono::Utc;
use serde::Serialize;
use sqlx::{AnyPool, Row};

/// A learning group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub name: String,
    pub senior: String,
    pub members: Vec<String>,
}

/// The senior's advice on a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    LooksGood,
    NeedsWork,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::LooksGood => "looks_good",
            Verdict::NeedsWork => "needs_work",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        match s {
            "looks_good" => Some(Verdict::LooksGood),
            "needs_work" => Some(Verdict::NeedsWork),
            _ => None,
        }
    }
}

/// A senior's first review of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FirstReview {
    pub run_id: String,
    pub senior: String,
    pub verdict: Verdict,
    pub comment: Option<String>,
    pub at: String,
}

/// Why a group change or a first review was refused, in words for the person who tried.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("`{0}` is not a trainee: a group's senior and members are trainees")]
    NotATrainee(String),
    #[error("there is no group named `{0}`")]
    NoGroup(String),
    #[error("a group named `{0}` already exists")]
    Exists(String),
    #[error("`{name}` is already in the group `{group}`; a trainee is in one group at most")]
    InAnotherGroup { name: String, group: String },
    #[error("`{0}` is the senior of this group, not one of its members")]
    SeniorAsMember(String),
    #[error("only the senior of {trainee}'s group can give a first review of her runs")]
    NotTheSenior { trainee: String },
    #[error("a senior cannot give a first review of her own run")]
    OwnRun,
    #[error(
        "the run no longer awaits review (it is {0}); a first review is for runs awaiting review"
    )]
    NotAwaiting(&'static str),
    #[error("\"needs work\" needs a comment: say what to change")]
    CommentNeeded,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for GroupError {
    fn from(e: sqlx::Error) -> Self {
        GroupError::Store(e.into())
    }
}

async fn trainee(pool: &AnyPool, name: &str) -> Result<String, GroupError> {
    match user::get(pool, &name.to_lowercase()).await? {
        Some(u) if u.role == Role::Trainee => Ok(u.name),
        _ => Err(GroupError::NotATrainee(name.to_string())),
    }
}

/// Make a group with its senior (a trainee).
pub async fn create(pool: &AnyPool, name: &str, senior: &str, by: &str) -> Result<(), GroupError> {
    let senior = trainee(pool, senior).await?;
    if get(pool, name).await?.is_some() {
        return Err(GroupError::Exists(name.to_string()));
    }
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO learning_groups (name, senior, created_at) VALUES ($1, $2, $3)")
        .bind(name)
        .bind(&senior)
        .bind(Utc::now().to_rfc3339())
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut *tx,
        by,
        "group.create",
        name,
        Some(&format!("senior {senior}")),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Add a trainee to a group.
pub async fn add_member(
    pool: &AnyPool,
    group: &str,
    member: &str,
    by: &str,
) -> Result<(), GroupError> {
    let g = get(pool, group)
        .await?
        .ok_or_else(|| GroupError::NoGroup(group.to_string()))?;
    let member = trainee(pool, member).await?;
    if member == g.senior {
        return Err(GroupError::SeniorAsMember(member));
    }
    if let Some(other) = group_of(pool, &member).await? {
        if other.name == g.name {
            return Ok(());
        }
        return Err(GroupError::InAnotherGroup {
            name: member,
            group: other.name,
        });
    }
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO group_members (trainee, group_name) VALUES ($1, $2)")
        .bind(&member)
        .bind(&g.name)
        .execute(&mut *tx)
        .await?;
    audit::append(&mut *tx, by, "group.add", &g.name, Some(&member)).await?;
    tx.commit().await?;
    Ok(())
}

/// Take a trainee out of her group.
pub async fn remove_member(pool: &AnyPool, member: &str, by: &str) -> Result<(), GroupError> {
    let member = member.to_lowercase();
    let Some(g) = group_of(pool, &member).await? else {
        return Ok(());
    };
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM group_members WHERE trainee = $1")
        .bind(&member)
        .execute(&mut *tx)
        .await?;
    audit::append(&mut *tx, by, "group.remove", &g.name, Some(&member)).await?;
    tx.commit().await?;
    Ok(())
}

/// One group with its members.
pub async fn get(pool: &AnyPool, name: &str) -> Result<Option<Group>, sqlx::Error> {
    let Some(row) = sqlx::query("SELECT name, senior FROM learning_groups WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let members =
        sqlx::query("SELECT trainee FROM group_members WHERE group_name = $1 ORDER BY trainee")
            .bind(name)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| r.get::<String, _>("trainee"))
            .collect();
    Ok(Some(Group {
        name: row.get("name"),
        senior: row.get("senior"),
        members,
    }))
}

/// Every group, by name.
pub async fn list(pool: &AnyPool) -> Result<Vec<Group>, sqlx::Error> {
    let names: Vec<String> = sqlx::query("SELECT name FROM learning_groups ORDER BY name")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| r.get("name"))
        .collect();
    let mut groups = Vec::new();
    for n in names {
        if let Some(g) = get(pool, &n).await? {
            groups.push(g);
        }
    }
    Ok(groups)
}

/// The group a trainee is a member of.
pub async fn group_of(pool: &AnyPool, member: &str) -> Result<Option<Group>, sqlx::Error> {
    let row = sqlx::query("SELECT group_name FROM group_members WHERE trainee = $1")
        .bind(member.to_lowercase())
        .fetch_optional(pool)
        .await?;
    match row {
        Some(r) => get(pool, &r.get::<String, _>("group_name")).await,
        None => Ok(None),
    }
}

/// The groups whose senior is `senior`.
pub async fn led_by(pool: &AnyPool, senior: &str) -> Result<Vec<Group>, sqlx::Error> {
    Ok(list(pool)
        .await?
        .into_iter()
        .filter(|g| g.senior.eq_ignore_ascii_case(senior))
        .collect())
}

/// Whether `senior` is the senior of `trainee`'s group (and so may see her runs).
pub async fn is_senior_of(
    pool: &AnyPool,
    senior: &str,
    trainee: &str,
) -> Result<bool, sqlx::Error> {
    Ok(group_of(pool, trainee)
        .await?
        .is_some_and(|g| g.senior.eq_ignore_ascii_case(senior)))
}

/// Give (or change) the first review of a run awaiting review.
pub async fn first_review(
    pool: &AnyPool,
    run: &RunRecord,
    senior: &str,
    verdict: Verdict,
    comment: Option<&str>,
) -> Result<FirstReview, GroupError> {
    if run.trainee.eq_ignore_ascii_case(senior) {
        return Err(GroupError::OwnRun);
    }
    if !is_senior_of(pool, senior, &run.trainee).await? {
        return Err(GroupError::NotTheSenior {
            trainee: run.trainee.clone(),
        });
    }
    let decided = review::get(pool, &run.id.0).await?;
    let state = review::state_of(run, decided.as_ref());
    if state != ReviewState::Awaiting {
        return Err(GroupError::NotAwaiting(state.as_str()));
    }
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if verdict == Verdict::NeedsWork && comment.is_none() {
        return Err(GroupError::CommentNeeded);
    }
    let fr = FirstReview {
        run_id: run.id.0.clone(),
        senior: senior.to_lowercase(),
        verdict,
        comment: comment.map(String::from),
        at: Utc::now().to_rfc3339(),
    };
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM first_reviews WHERE run_id = $1")
        .bind(&fr.run_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO first_reviews (run_id, senior, verdict, comment, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&fr.run_id)
    .bind(&fr.senior)
    .bind(verdict.as_str())
    .bind(&fr.comment)
    .bind(&fr.at)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut *tx,
        &fr.senior,
        "run.first_review",
        &fr.run_id,
        Some(verdict.as_str()),
    )
    .await?;
    tx.commit().await?;
    Ok(fr)
}

/// The first review of a run, if its senior gave one.
pub async fn first_review_of(
    pool: &AnyPool,
    run_id: &str,
) -> Result<Option<FirstReview>, sqlx::Error> {
    let row = sqlx::query("SELECT * FROM first_reviews WHERE run_id = $1")
        .bind(run_id)
        .fetch_optional(pool)
        .await?;
    Ok(row.and_then(|r| {
        Some(FirstReview {
            run_id: r.get("run_id"),
            senior: r.get("senior"),
            verdict: Verdict::parse(&r.get::<String, _>("verdict"))?,
            comment: r.get("comment"),
            at: r.get("at"),
        })
    }))
}
