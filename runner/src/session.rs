//! `Session`: a logged-in dashboard user, found from the random token in their cookie.
//!
//! The token (32 random bytes) is only ever in the user's cookie; the database keeps its
//! sha256, so a copy of the database does not let anyone log in. Each session has its own
//! CSRF token that every state-changing form must send back.

use crate::user::{User, user_from_row};
use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};

/// How long a session lasts without logging in again.
pub const SESSION_HOURS: i64 = 12;

/// A live session: who, and the CSRF token their forms carry.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf: String,
}

/// 32 random bytes from the operating system, in hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    hex::encode(bytes)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Start a session for `user`; returns the token for the cookie.
pub async fn create(pool: &AnyPool, user: &User) -> Result<(String, Session), sqlx::Error> {
    let token = random_token();
    let csrf = random_token();
    let now = Utc::now();
    sqlx::query("INSERT INTO sessions (token_hash, user_name, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(token_hash(&token))
        .bind(&user.name)
        .bind(&csrf)
        .bind(now.to_rfc3339())
        .bind((now + Duration::hours(SESSION_HOURS)).to_rfc3339())
        .execute(pool)
        .await?;
    Ok((
        token,
        Session {
            user: user.clone(),
            csrf,
        },
    ))
}

/// The session for a cookie's token, if it exists, has not expired and its user is not disabled.
pub async fn lookup(pool: &AnyPool, token: &str) -> Result<Option<Session>, sqlx::Error> {
    if token.len() != 64 || !token.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT users.*, sessions.csrf AS csrf FROM sessions JOIN users ON users.name = sessions.user_name
         WHERE sessions.token_hash = $1 AND sessions.expires_at > $2 AND users.disabled = 0",
    )
    .bind(token_hash(token))
    .bind(Utc::now().to_rfc3339())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Session {
        user: user_from_row(&r),
        csrf: r.get("csrf"),
    }))
}

/// Log out: forget the session (and any expired ones while we are at it).
pub async fn end(pool: &AnyPool, token: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1 OR expires_at <= $2")
        .bind(token_hash(token))
        .bind(Utc::now().to_rfc3339())
        .execute(pool)
        .await?;
    Ok(())
}

/// Compare two secrets without stopping at the first difference.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
