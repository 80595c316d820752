//! `User`: the people who log in to the dashboard, their `Role`, and their password hashes.
//!
//! A trainee's name is the `author` written in their workflows, so "her runs" are the runs
//! whose trainee is her name. A client user belongs to exactly one client. Passwords are kept
//! only as argon2id hashes (PHC strings with their own salt).
//!
//! The admin changes a user's role, disables or enables them and resets passwords
//! ([`set_role`], [`set_disabled`], [`set_password`]). Users are never deleted (the audit log
//! and the ledger name them); a disabled user cannot log in and their sessions end at once.
//! No change may leave the dashboard without an active admin. Each change writes its audit
//! entry in its own transaction.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::Utc;
use serde::Serialize;
use sqlx::{AnyPool, Row};
use std::fmt;
use std::str::FromStr;

/// What a user may do. Admins can do everything a reviewer can, and manage users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Reviewer,
    Trainee,
    Client,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Reviewer, Role::Trainee, Role::Client];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
            Role::Trainee => "trainee",
            Role::Client => "client",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role `{s}`; roles are admin, reviewer, trainee, client")
            })
    }
}

/// A dashboard user (without the password hash).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// The client a client user belongs to; `None` for every other role.
    pub client: Option<String>,
    /// Chosen interface language (`en`, `ja`, `uk`); `None` means the browser's.
    pub lang: Option<String>,
    /// Disabled by the admin: cannot log in, has no sessions.
    pub disabled: bool,
}

impl User {
    /// Reviewers and admins review runs (never their own: see `review`).
    pub fn can_review(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Reviewer)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error(
        "`{0}` is not a valid user name: use 1 to 40 lowercase letters, digits, `-`, `_` or `.`"
    )]
    BadName(String),
    #[error("a client user needs `--client <name>`: the client whose files they see")]
    ClientRequired,
    #[error("only client users belong to a client; leave out `--client` for a {0}")]
    ClientNotAllowed(Role),
    #[error("`{0}` is not a valid client name: use lowercase letters, digits, `-` or `_`")]
    BadClient(String),
    #[error("a user named `{0}` already exists")]
    Exists(String),
    #[error("the password is too short: use at least 10 characters")]
    WeakPassword,
    #[error("the password could not be hashed: {0}")]
    Hash(String),
    #[error("there is no user named `{0}`")]
    NoSuchUser(String),
    #[error(
        "`{0}` is the only active admin; make another user an admin first, so that someone can still manage users"
    )]
    LastAdmin(String),
    #[error("the account `{0}` is disabled; ask the admin to enable it")]
    Disabled(String),
    #[error(
        "`{0}` does not look like an e-mail address (name@example.jp); leave it empty for none"
    )]
    BadEmail(String),
    #[error("the users database could not be updated: {0}")]
    Database(#[from] sqlx::Error),
}

/// A name safe in URLs, file names and SQL filters alike (users and clients).
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        && !s.starts_with('.')
}

/// Create a user. The password is hashed here and never stored or logged as given.
pub async fn add(
    pool: &AnyPool,
    name: &str,
    role: Role,
    client: Option<&str>,
    password: &str,
) -> Result<User, UserError> {
    if !valid_name(name) {
        return Err(UserError::BadName(name.into()));
    }
    check_client(role, client)?;
    let hash = hash_password(strong(password)?)?;
    let result = sqlx::query("INSERT INTO users (name, role, client, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(role.as_str())
        .bind(client)
        .bind(hash)
        .bind(Utc::now().to_rfc3339())
        .execute(pool)
        .await?;
    if result.rows_affected() == 0 {
        return Err(UserError::Exists(name.into()));
    }
    Ok(User {
        name: name.into(),
        role,
        client: client.map(String::from),
        lang: None,
        disabled: false,
    })
}

/// A client user needs a (valid) client; nobody else has one.
fn check_client(role: Role, client: Option<&str>) -> Result<(), UserError> {
    match (role, client) {
        (Role::Client, None) => Err(UserError::ClientRequired),
        (Role::Client, Some(c)) if !valid_name(c) => Err(UserError::BadClient(c.into())),
        (r, Some(_)) if r != Role::Client => Err(UserError::ClientNotAllowed(r)),
        _ => Ok(()),
    }
}

/// A password long enough to keep (at least 10 characters).
fn strong(password: &str) -> Result<&str, UserError> {
    if password.chars().count() < 10 {
        return Err(UserError::WeakPassword);
    }
    Ok(password)
}

/// Check a name and password; `None` when either is wrong (the caller cannot tell which).
/// A disabled user with the right password gets [`UserError::Disabled`], so they know whom to ask.
pub async fn verify(pool: &AnyPool, name: &str, password: &str) -> Result<Option<User>, UserError> {
    let row = sqlx::query("SELECT * FROM users WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    let password = password.to_string();
    let _turn = hashing_turn().await;
    let Some(row) = row else {
        // Spend the same time as for a real user, so response times do not reveal names.
        let _ = tokio::task::spawn_blocking(move || hash_password(&password)).await;
        return Ok(None);
    };
    let stored: String = row.get("password_hash");
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    if !ok {
        return Ok(None);
    }
    let user = user_from_row(&row);
    if user.disabled {
        return Err(UserError::Disabled(user.name));
    }
    Ok(Some(user))
}

pub async fn get<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    name: &str,
) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query("SELECT * FROM users WHERE name = $1")
        .bind(name)
        .fetch_optional(ex)
        .await?;
    Ok(row.as_ref().map(user_from_row))
}

/// Every user, by role then name.
pub async fn list(pool: &AnyPool) -> Result<Vec<User>, sqlx::Error> {
    let rows = sqlx::query("SELECT * FROM users ORDER BY role, name")
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(user_from_row).collect())
}

/// Set (or with `None`, clear) a user's interface language.
pub async fn set_lang(pool: &AnyPool, name: &str, lang: Option<&str>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET lang = $1 WHERE name = $2")
        .bind(lang)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(())
}

/// Give `name` another role (and, for a client user, their client). `actor` is the admin.
/// Refused with [`UserError::LastAdmin`] when it would leave no active admin.
pub async fn set_role(
    pool: &AnyPool,
    actor: &str,
    name: &str,
    role: Role,
    client: Option<&str>,
) -> Result<User, UserError> {
    check_client(role, client)?;
    let mut tx = crate::record::begin_write(pool).await?;
    let before = get(&mut *tx, name)
        .await?
        .ok_or_else(|| UserError::NoSuchUser(name.into()))?;
    if before.role == Role::Admin && role != Role::Admin && !before.disabled {
        last_admin_check(&mut tx, name).await?;
    }
    sqlx::query("UPDATE users SET role = $1, client = $2 WHERE name = $3")
        .bind(role.as_str())
        .bind(client)
        .bind(name)
        .execute(&mut *tx)
        .await?;
    let detail = format!(
        "{} → {}",
        describe(before.role, before.client.as_deref()),
        describe(role, client)
    );
    crate::audit::append(&mut *tx, actor, "user.role", name, Some(&detail)).await?;
    tx.commit().await?;
    Ok(User {
        role,
        client: client.map(String::from),
        ..before
    })
}

/// Disable (`true`) or enable (`false`) `name`. Disabling ends all their sessions at once and
/// is refused with [`UserError::LastAdmin`] when it would leave no active admin.
pub async fn set_disabled(
    pool: &AnyPool,
    actor: &str,
    name: &str,
    disabled: bool,
) -> Result<(), UserError> {
    let mut tx = crate::record::begin_write(pool).await?;
    let before = get(&mut *tx, name)
        .await?
        .ok_or_else(|| UserError::NoSuchUser(name.into()))?;
    if disabled && before.role == Role::Admin && !before.disabled {
        last_admin_check(&mut tx, name).await?;
    }
    sqlx::query("UPDATE users SET disabled = $1 WHERE name = $2")
        .bind(i64::from(disabled))
        .bind(name)
        .execute(&mut *tx)
        .await?;
    let mut detail = None;
    if disabled {
        let ended = sqlx::query("DELETE FROM sessions WHERE user_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        detail = Some(format!("{ended} session(s) ended"));
    }
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    crate::audit::append(&mut *tx, actor, action, name, detail.as_deref()).await?;
    tx.commit().await?;
    Ok(())
}

/// Give `name` a new password (the admin tells them). Their sessions end: whoever was logged
/// in with the old password must log in again.
pub async fn set_password(
    pool: &AnyPool,
    actor: &str,
    name: &str,
    password: &str,
) -> Result<(), UserError> {
    let hash = hash_password(strong(password)?)?;
    let mut tx = crate::record::begin_write(pool).await?;
    let changed = sqlx::query("UPDATE users SET password_hash = $1 WHERE name = $2")
        .bind(hash)
        .bind(name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed == 0 {
        return Err(UserError::NoSuchUser(name.into()));
    }
    sqlx::query("DELETE FROM sessions WHERE user_name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    crate::audit::append(&mut *tx, actor, "user.password", name, None).await?;
    tx.commit().await?;
    Ok(())
}

/// Refuse when no active admin but `name` would remain.
async fn last_admin_check(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    name: &str,
) -> Result<(), UserError> {
    let others: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND name != $1",
    )
    .bind(name)
    .fetch_one(&mut **tx)
    .await?;
    if others == 0 {
        return Err(UserError::LastAdmin(name.into()));
    }
    Ok(())
}

/// `client (acme)` or `reviewer`, for the audit log.
fn describe(role: Role, client: Option<&str>) -> String {
    match client {
        Some(c) => format!("{role} ({c})"),
        None => role.to_string(),
    }
}

/// A turn to check a password. argon2 takes tens of milliseconds of CPU on purpose; it
/// runs on a blocking thread (not on the async workers that serve every other page), and
/// only half the cores at once do it, so a burst of logins leaves the rest for the pages.
async fn hashing_turn() -> tokio::sync::SemaphorePermit<'static> {
    static TURNS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let turns = TURNS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new((cores / 2).max(1))
    });
    turns
        .acquire()
        .await
        .expect("the semaphore is never closed")
}

fn hash_password(password: &str) -> Result<String, UserError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| UserError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| UserError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

/// A plausible e-mail address: one `@` with something on each side, a dot in the domain, no
/// spaces or line breaks (a header could be forged with one), at most 254 bytes.
pub fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
}

/// Set (or with `None` remove) the e-mail address notices go to, with its audit entry.
pub async fn set_email(
    pool: &AnyPool,
    actor: &str,
    name: &str,
    email: Option<&str>,
) -> Result<(), UserError> {
    let email = email.map(str::trim).filter(|e| !e.is_empty());
    if let Some(e) = email
        && !valid_email(e)
    {
        return Err(UserError::BadEmail(e.to_string()));
    }
    let mut tx = crate::record::begin_write(pool).await?;
    let done = sqlx::query("UPDATE users SET email = $1 WHERE name = $2")
        .bind(email)
        .bind(name)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(UserError::NoSuchUser(name.into()));
    }
    crate::audit::append(
        &mut *tx,
        actor,
        "user.email",
        name,
        Some(email.unwrap_or("—")),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Every user's e-mail address, by user name (users without one are left out).
pub async fn emails(
    pool: &AnyPool,
) -> Result<std::collections::BTreeMap<String, String>, sqlx::Error> {
    let rows = sqlx::query("SELECT name, email FROM users WHERE email IS NOT NULL")
        .fetch_all(pool)
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get("name"), r.get("email")))
        .collect())
}

pub(crate) fn user_from_row(r: &sqlx::any::AnyRow) -> User {
    User {
        name: r.get("name"),
        role: r.get::<String, _>("role").parse().unwrap_or(Role::Client),
        client: r.get("client"),
        lang: r.get("lang"),
        disabled: r.get::<i64, _>("disabled") != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_everywhere() {
        assert!(valid_name("olena"));
        assert!(valid_name("sato-san"));
        assert!(!valid_name("../acme"));
        assert!(!valid_name("Olena"));
        assert!(!valid_name(""));
        assert!(!valid_name(".hidden"));
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
    }
}
