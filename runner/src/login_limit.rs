//! `Lockout`: dashboard logins refused for a while after too many failed attempts, for one
//! user name (5 in 15 minutes) or from one address (20 in 15 minutes).
//!
//! The attempts are kept in the records (`login_attempts`), so that every dashboard process
//! that shares them counts the same attempts and a restart forgets nothing. An attempt is
//! written *before* its password is checked, in the same write transaction as the count,
//! so a burst of parallel guesses cannot all slip in before the first failure is counted;
//! a successful login then deletes the user's attempts. A refused attempt is not counted
//! (the lock ends on time for the real user) and costs no password check.
//!
//! A name nobody has is counted like a real one, and is refused the same way: the answers
//! do not tell which names exist.

use crate::audit;
use crate::record::begin_write;
use chrono::{DateTime, Utc};
use sqlx::AnyPool;
use std::net::IpAddr;
use std::time::Duration;

/// How long a failed attempt counts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed attempts for one user name within [`WINDOW`] before its logins are refused.
pub const USER_LIMIT: usize = 5;
/// Failed attempts from one address within [`WINDOW`] before its logins are refused.
pub const ADDRESS_LIMIT: usize = 20;

/// Names longer than any valid user name are counted by their first 64 characters.
const NAME_KEY_CHARS: usize = 64;

/// What is locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locked {
    /// Logins as this user name.
    User(String),
    /// Logins from this address (or IPv6 network).
    Address(String),
}

/// Logins refused until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockout {
    pub locked: Locked,
    pub until: DateTime<Utc>,
}

impl Lockout {
    /// Whole minutes left, at least 1 (what the login page says).
    pub fn minutes_left(&self, now: DateTime<Utc>) -> i64 {
        let secs = (self.until - now).num_seconds().max(1);
        (secs + 59) / 60
    }
}

/// The key an address is counted under: an IPv4 address as is, an IPv6 address by its /64
/// network (one household or server usually has a whole /64).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
    }
}

/// The name as counted: trimmed, lowercase, at most 64 characters.
fn name_key(name: &str) -> String {
    name.trim()
        .to_lowercase()
        .chars()
        .take(NAME_KEY_CHARS)
        .collect()
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn window_ms() -> i64 {
    WINDOW.as_millis() as i64
}

/// Start a login attempt for `name` from `address` (`None`: not known, not limited by
/// address). Refused with the [`Lockout`] when either has had too many failed attempts;
/// otherwise the attempt is counted as failed until [`succeeded`] says otherwise.
pub async fn begin(
    pool: &AnyPool,
    name: &str,
    address: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Result<(), Lockout>, sqlx::Error> {
    let name = name_key(name);
    let since = ms(now) - window_ms();
    let mut tx = begin_write(pool).await?;
    sqlx::query("DELETE FROM login_attempts WHERE at_ms <= $1")
        .bind(since)
        .execute(&mut *tx)
        .await?;
    if let Some(until) = locked_until(&mut tx, "user_name", &name, USER_LIMIT, since).await? {
        return Ok(Err(Lockout {
            locked: Locked::User(name),
            until,
        }));
    }
    if let Some(addr) = address
        && let Some(until) = locked_until(&mut tx, "address", addr, ADDRESS_LIMIT, since).await?
    {
        return Ok(Err(Lockout {
            locked: Locked::Address(addr.to_string()),
            until,
        }));
    }
    sqlx::query("INSERT INTO login_attempts (user_name, address, at_ms) VALUES ($1, $2, $3)")
        .bind(&name)
        .bind(address)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// When the attempts counted under `column = key` drop below `limit` again, if they are at it.
async fn locked_until(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    column: &str,
    key: &str,
    limit: usize,
    since: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    // Two literal statements rather than one formatted: only the column differs.
    let sql = if column == "address" {
        "SELECT at_ms FROM login_attempts WHERE address = $1 AND at_ms > $2 ORDER BY at_ms"
    } else {
        "SELECT at_ms FROM login_attempts WHERE user_name = $1 AND at_ms > $2 ORDER BY at_ms"
    };
    let times: Vec<i64> = sqlx::query_scalar(sql)
        .bind(key)
        .bind(since)
        .fetch_all(&mut **tx)
        .await?;
    if times.len() < limit {
        return Ok(None);
    }
    // Below the limit again once all but limit - 1 of them are older than the window.
    let frees = times[times.len() - limit] + window_ms();
    Ok(DateTime::from_timestamp_millis(frees))
}

/// The attempt begun for `name` failed (it stays counted). When this failure is the one
/// that reaches a limit, the lockout is written to the audit log and returned.
pub async fn failed(
    pool: &AnyPool,
    name: &str,
    address: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Lockout>, sqlx::Error> {
    let name = name_key(name);
    let since = ms(now) - window_ms();
    let mut tx = begin_write(pool).await?;
    let mut lockout = None;
    let by_user: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM login_attempts WHERE user_name = $1 AND at_ms > $2",
    )
    .bind(&name)
    .bind(since)
    .fetch_one(&mut *tx)
    .await?;
    if by_user == USER_LIMIT as i64 {
        let until = locked_until(&mut tx, "user_name", &name, USER_LIMIT, since).await?;
        let detail = format!(
            "{USER_LIMIT} failed logins within {} minutes (the last from {}); logins as `{name}` refused until {}",
            WINDOW.as_secs() / 60,
            address.unwrap_or("an unknown address"),
            until.map(|t| t.to_rfc3339()).unwrap_or_default()
        );
        audit::append(
            &mut *tx,
            "(dashboard)",
            "login.lockout",
            &name,
            Some(&detail),
        )
        .await?;
        lockout = until.map(|until| Lockout {
            locked: Locked::User(name.clone()),
            until,
        });
    }
    if let Some(addr) = address {
        let by_address: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM login_attempts WHERE address = $1 AND at_ms > $2",
        )
        .bind(addr)
        .bind(since)
        .fetch_one(&mut *tx)
        .await?;
        if by_address == ADDRESS_LIMIT as i64 {
            let until = locked_until(&mut tx, "address", addr, ADDRESS_LIMIT, since).await?;
            let detail = format!(
                "{ADDRESS_LIMIT} failed logins within {} minutes from {addr} (the last as `{name}`); logins from there refused until {}",
                WINDOW.as_secs() / 60,
                until.map(|t| t.to_rfc3339()).unwrap_or_default()
            );
            audit::append(
                &mut *tx,
                "(dashboard)",
                "login.lockout",
                addr,
                Some(&detail),
            )
            .await?;
            lockout = lockout.or(until.map(|until| Lockout {
                locked: Locked::Address(addr.to_string()),
                until,
            }));
        }
    }
    tx.commit().await?;
    Ok(lockout)
}

/// `name` logged in: their failed attempts (typing mistakes, as it turned out) are forgotten.
pub async fn succeeded(pool: &AnyPool, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_attempts WHERE user_name = $1")
        .bind(name_key(name))
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_counted_by_host_or_ipv6_network() {
        assert_eq!(address_key("203.0.113.7".parse().unwrap()), "203.0.113.7");
        assert_eq!(
            address_key("::ffff:203.0.113.7".parse().unwrap()),
            "203.0.113.7"
        );
        assert_eq!(
            address_key("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            address_key("2001:db8:1:2:ffff::1".parse().unwrap())
        );
        assert_eq!(
            address_key("2001:db8:1:2::9".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
    }

    #[test]
    fn minutes_left_round_up() {
        let now = Utc::now();
        let l = Lockout {
            locked: Locked::User("olena".into()),
            until: now + chrono::Duration::seconds(61),
        };
        assert_eq!(l.minutes_left(now), 2);
        assert_eq!(l.minutes_left(now + chrono::Duration::seconds(3600)), 1);
    }
}
