//! `Payout`: what a trainee earns for approved runs — rates set by the admin, and the ledger.
//!
//! Rates live in `<home>/rates.yaml`, a file only the admin edits (never a trainee's workflow):
//!
//! ```yaml
//! rates:
//!   - client: acme
//!     workflow: invoice-report   # optional: without it the rate is for all of the client's workflows
//!     per_run: 500               # yen per approved run
//!     per_ok_row: 20             # yen per row that ended `ok`
//! ```
//!
//! A rate naming the workflow wins over the client's general rate. Amounts are whole yen,
//! computed with integer arithmetic; a run with no rate cannot be approved (nobody works for free
//! by accident). The ledger has one entry per approved run, written in the approval's transaction.

use crate::data_dir::DataDir;
use crate::table::{Cell, Table};
use chrono::{FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row};
use std::path::Path;

/// Japan Standard Time: months and dates are counted as the people who are paid see them.
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("a valid offset")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub client: String,
    #[serde(default)]
    pub workflow: Option<String>,
    #[serde(default)]
    pub per_run: i64,
    #[serde(default)]
    pub per_ok_row: i64,
}

impl Rate {
    /// The amount for one approved run with `ok_rows` rows done, in yen.
    pub fn amount(&self, ok_rows: u64) -> Option<i64> {
        let rows = i64::try_from(ok_rows).ok()?;
        self.per_ok_row.checked_mul(rows)?.checked_add(self.per_run)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rates {
    #[serde(default)]
    pub rates: Vec<Rate>,
}

#[derive(Debug, thiserror::Error)]
pub enum RateError {
    #[error("cannot read the rates file `{path}`: {message}")]
    Read { path: String, message: String },
    #[error(
        "the rates file `{path}` has a mistake{}: {message}; the admin fixes it in a text editor (the admin page shows an example)",
        at_line(*.line)
    )]
    Invalid {
        path: String,
        /// The line of the mistake, when the YAML reader knows it.
        line: Option<usize>,
        message: String,
    },
}

/// The most a rate may pay, in yen: per approved run and per row done. More is surely a
/// typing mistake (an extra zero), refused rather than paid.
pub const MAX_PER_RUN: i64 = 100_000;
pub const MAX_PER_OK_ROW: i64 = 10_000;

/// A rate the admin typed that cannot be kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateChangeError {
    #[error("{what} is {value} yen; a rate is 0 yen or more")]
    Negative { what: &'static str, value: i64 },
    #[error("{what} is {value} yen, more than {max} yen; check for an extra zero")]
    TooLarge {
        what: &'static str,
        value: i64,
        max: i64,
    },
    #[error("`{0}` is not a valid client or workflow name")]
    BadName(String),
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(" on line {l}")).unwrap_or_default()
}

impl Rates {
    /// Read `<home>/rates.yaml`; no file means no rates yet.
    pub fn load(home: &Path) -> Result<Rates, RateError> {
        let path = DataDir::new(home).rates_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Rates::default()),
            Err(e) => {
                return Err(RateError::Read {
                    path: path.display().to_string(),
                    message: e.to_string(),
                });
            }
        };
        let rates: Rates = serde_yaml::from_str(&text).map_err(|e| {
            // serde_yaml ends with " at line X column Y"; the line is said in front instead.
            let message = e.to_string();
            RateError::Invalid {
                path: path.display().to_string(),
                line: e.location().map(|l| l.line()),
                message: message.split(" at line ").next().unwrap_or(&message).into(),
            }
        })?;
        if let Some(r) = rates
            .rates
            .iter()
            .find(|r| r.per_run < 0 || r.per_ok_row < 0)
        {
            return Err(RateError::Invalid {
                path: path.display().to_string(),
                line: None,
                message: format!(
                    "the rate for `{}` is negative; rates are yen paid, 0 or more",
                    r.client
                ),
            });
        }
        Ok(rates)
    }

    /// Set the rate for a client (and one of its workflows, or all with `None`), replacing
    /// the one there; the rate it replaced, if any.
    pub fn set(&mut self, rate: Rate) -> Result<Option<Rate>, RateChangeError> {
        for name in std::iter::once(&rate.client).chain(rate.workflow.iter()) {
            if !crate::workflow::is_slug(name) {
                return Err(RateChangeError::BadName(name.clone()));
            }
        }
        for (what, value, max) in [
            ("the rate per run", rate.per_run, MAX_PER_RUN),
            ("the rate per row done", rate.per_ok_row, MAX_PER_OK_ROW),
        ] {
            if value < 0 {
                return Err(RateChangeError::Negative { what, value });
            }
            if value > max {
                return Err(RateChangeError::TooLarge { what, value, max });
            }
        }
        let same = |r: &Rate| r.client == rate.client && r.workflow == rate.workflow;
        match self.rates.iter_mut().find(|r| same(r)) {
            Some(r) => Ok(Some(std::mem::replace(r, rate))),
            None => {
                self.rates.push(rate);
                Ok(None)
            }
        }
    }

    /// Remove the rate for a client's workflow (or the client's general one); the one removed.
    pub fn remove(&mut self, client: &str, workflow: Option<&str>) -> Option<Rate> {
        let i = self
            .rates
            .iter()
            .position(|r| r.client == client && r.workflow.as_deref() == workflow)?;
        Some(self.rates.remove(i))
    }

    /// Write `<home>/rates.yaml` (a temporary file renamed into place: never half a file).
    /// The file stays the store, so the admin may still edit it by hand.
    pub fn save(&self, home: &Path) -> std::io::Result<()> {
        let yaml = serde_yaml::to_string(self).map_err(std::io::Error::other)?;
        let text = format!(
            "# Rates in yen, kept by the admin page (or edited by hand). A rate naming the workflow\n# wins over the client's general one.\n{yaml}"
        );
        crate::delivery::write_atomic(home, "rates.yaml", text.as_bytes()).map(|_| ())
    }

    /// The rate for a client's workflow: the workflow's own, else the client's general one.
    pub fn for_run(&self, client: &str, workflow: &str) -> Option<&Rate> {
        let exact = self
            .rates
            .iter()
            .find(|r| r.client == client && r.workflow.as_deref() == Some(workflow));
        exact.or_else(|| {
            self.rates
                .iter()
                .find(|r| r.client == client && r.workflow.is_none())
        })
    }
}

/// One credit in a trainee's ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerEntry {
    pub run_id: String,
    pub trainee: String,
    pub client: String,
    pub workflow: String,
    pub per_run: i64,
    pub per_ok_row: i64,
    pub ok_rows: i64,
    pub amount_yen: i64,
    /// `2026-11` (in Japan time).
    pub month: String,
    pub credited_at: String,
}

/// Approved work and earnings for one month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthTotal {
    pub month: String,
    pub runs: i64,
    pub amount_yen: i64,
}

/// Write the credit for an approved run (inside the approval's transaction).
pub(crate) async fn credit(
    tx: &mut sqlx::AnyConnection,
    run: &crate::record::RunRecord,
    rate: &Rate,
    amount: i64,
) -> Result<LedgerEntry, sqlx::Error> {
    let now = Utc::now();
    let entry = LedgerEntry {
        run_id: run.id.0.clone(),
        trainee: run.trainee.clone(),
        client: run.client.clone(),
        workflow: run.workflow.clone(),
        per_run: rate.per_run,
        per_ok_row: rate.per_ok_row,
        ok_rows: run.rows.ok as i64,
        amount_yen: amount,
        month: now.with_timezone(&jst()).format("%Y-%m").to_string(),
        credited_at: now.to_rfc3339(),
    };
    sqlx::query(
        "INSERT INTO ledger (run_id, trainee, client, workflow, per_run, per_ok_row, ok_rows, amount_yen, month, credited_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&entry.run_id)
    .bind(&entry.trainee)
    .bind(&entry.client)
    .bind(&entry.workflow)
    .bind(entry.per_run)
    .bind(entry.per_ok_row)
    .bind(entry.ok_rows)
    .bind(entry.amount_yen)
    .bind(&entry.month)
    .bind(&entry.credited_at)
    .execute(&mut *tx)
    .await?;
    Ok(entry)
}

/// Ledger entries, newest first: one trainee's, or everyone's with `None`; optionally one month.
pub async fn ledger(
    pool: &AnyPool,
    trainee: Option<&str>,
    month: Option<&str>,
) -> Result<Vec<LedgerEntry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT * FROM ledger WHERE ($1 IS NULL OR trainee = $2) AND ($3 IS NULL OR month = $4) ORDER BY credited_at DESC, id DESC",
    )
    .bind(trainee)
    .bind(trainee)
    .bind(month)
    .bind(month)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| LedgerEntry {
            run_id: r.get("run_id"),
            trainee: r.get("trainee"),
            client: r.get("client"),
            workflow: r.get("workflow"),
            per_run: r.get("per_run"),
            per_ok_row: r.get("per_ok_row"),
            ok_rows: r.get("ok_rows"),
            amount_yen: r.get("amount_yen"),
            month: r.get("month"),
            credited_at: r.get("credited_at"),
        })
        .collect())
}

/// Totals per month, newest month first.
pub fn monthly_totals(entries: &[LedgerEntry]) -> Vec<MonthTotal> {
    let mut totals: Vec<MonthTotal> = Vec::new();
    for e in entries {
        match totals.iter_mut().find(|t| t.month == e.month) {
            Some(t) => {
                t.runs += 1;
                t.amount_yen += e.amount_yen;
            }
            None => totals.push(MonthTotal {
                month: e.month.clone(),
                runs: 1,
                amount_yen: e.amount_yen,
            }),
        }
    }
    totals.sort_by(|a, b| b.month.cmp(&a.month));
    totals
}

/// The words of a statement, in the reader's language: the column headings and the label
/// of the total row.
#[derive(Debug, Clone, Copy)]
pub struct StatementWords<'a> {
    /// credited, run, client, workflow, ok rows, per run, per ok row, amount.
    pub columns: [&'a str; 8],
    pub total: &'a str,
}

impl StatementWords<'static> {
    pub const ENGLISH: StatementWords<'static> = StatementWords {
        columns: [
            "credited",
            "run",
            "client",
            "workflow",
            "ok rows",
            "per run (JPY)",
            "per ok row (JPY)",
            "amount (JPY)",
        ],
        total: "total",
    };
}

/// A month's statement as a table (one row per approved run, then the total), for xlsx.
pub fn statement_table(entries: &[LedgerEntry], words: &StatementWords) -> Table {
    let mut t = Table::new(words.columns.map(String::from).to_vec());
    let mut sorted: Vec<&LedgerEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.credited_at.cmp(&b.credited_at));
    for (i, e) in sorted.iter().enumerate() {
        let day = chrono::DateTime::parse_from_rfc3339(&e.credited_at)
            .map(|d| Cell::Date(d.with_timezone(&jst()).date_naive()))
            .unwrap_or_default();
        t.push_row(
            vec![
                day,
                Cell::text(&e.run_id),
                Cell::text(&e.client),
                Cell::text(&e.workflow),
                Cell::Int(e.ok_rows),
                Cell::Int(e.per_run),
                Cell::Int(e.per_ok_row),
                Cell::Int(e.amount_yen),
            ],
            i + 2,
        );
    }
    let total: i64 = entries.iter().map(|e| e.amount_yen).sum();
    let mut last = vec![Cell::Empty; 8];
    last[0] = Cell::text(words.total);
    last[7] = Cell::Int(total);
    t.push_row(last, sorted.len() + 2);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workflow_rate_wins_and_amounts_are_whole_yen() {
        let rates: Rates = serde_yaml::from_str(
            "rates:\n  - { client: acme, per_run: 300 }\n  - { client: acme, workflow: invoice-report, per_run: 500, per_ok_row: 20 }\n",
        )
        .unwrap();
        let r = rates.for_run("acme", "invoice-report").unwrap();
        assert_eq!(r.amount(10), Some(700));
        assert_eq!(
            rates.for_run("acme", "other").unwrap().amount(10),
            Some(300)
        );
        assert_eq!(rates.for_run("sakura", "x"), None);
        let huge = Rate {
            client: "a".into(),
            workflow: None,
            per_run: i64::MAX,
            per_ok_row: 1,
        };
        assert_eq!(huge.amount(1), None);
    }

    #[test]
    fn months_add_up() {
        let e = |m: &str, a: i64| LedgerEntry {
            run_id: "r".into(),
            trainee: "olena".into(),
            client: "acme".into(),
            workflow: "w".into(),
            per_run: a,
            per_ok_row: 0,
            ok_rows: 0,
            amount_yen: a,
            month: m.into(),
            credited_at: format!("{m}-01T00:00:00+00:00"),
        };
        let totals = monthly_totals(&[e("2026-10", 500), e("2026-11", 700), e("2026-11", 300)]);
        assert_eq!(
            totals[0],
            MonthTotal {
                month: "2026-11".into(),
                runs: 2,
                amount_yen: 1000
            }
        );
        assert_eq!(totals[1].amount_yen, 500);
        let t = statement_table(
            &[e("2026-11", 700), e("2026-11", 300)],
            &StatementWords::ENGLISH,
        );
        assert_eq!(t.rows.last().unwrap()[7], Cell::Int(1000));
    }
}
