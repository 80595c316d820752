//! Bot tests: a trainee proves her workflow right before a client's file arrives.
//!
//! A workflow `workflows/invoice-report.yaml` carries its test cases in
//! `workflows/tests/invoice-report/<case>/case.yaml`: the input files, and what the run must
//! give (its status, its row counts, each row's result, its output files cell by cell).
//! [`run_case`] runs the workflow on the case's inputs in a data directory of its own and
//! lists every [`Difference`] between what was expected and what came out.
//!
//! ```yaml
//! inputs: { invoices: ../../../../fixtures/clients/acme/invoices.csv }
//! expect:
//!   status: succeeded
//!   rows: { ok: 10, failed: 1, skipped: 1 }
//!   failed_rows: [3]
//!   outputs:
//!     "report-*.xlsx": expected-report.xlsx   # `*` in a name stands for any text (a date)
//! ```
//!
//! In an expected spreadsheet a cell `*` matches any value (a receipt number, a time).

use crate::record::{Records, StoreError};
use crate::run::{RowStatus, RunStatus};
use crate::secrets::Secrets;
use crate::sheet::{SheetRef, SheetSpec, read_table, sheet_names};
use crate::workflow::Workflow;
use crate::{RunOptions, execute};
use serde::Deserialize;
use sqlx::Row;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file that describes a case.
pub const CASE_FILE: &str = "case.yaml";

/// One test case, as written in `case.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSpec {
    /// Input files by input name, relative to the case's folder.
    #[serde(default)]
    pub inputs: BTreeMap<String, PathBuf>,
    /// Values for `params`, as `kobo run --param` gives them.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Values for the workflow's secrets (test values only, never real passwords).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    pub expect: Expect,
}

/// What the run must give.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `succeeded` (the default) or `failed`.
    #[serde(default = "succeeded")]
    pub status: String,
    /// Text the run's error must contain (for `status: failed`).
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub rows: Option<ExpectRows>,
    /// Row numbers (as `kobo show` lists them) that must end failed; every other row must not.
    #[serde(default)]
    pub failed_rows: Option<Vec<usize>>,
    /// Output file name (`*` for any text) → the expected file, relative to the case's folder.
    #[serde(default)]
    pub outputs: BTreeMap<String, PathBuf>,
}

fn succeeded() -> String {
    "succeeded".into()
}

/// Row counts the run must end with (those given).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectRows {
    pub ok: Option<u64>,
    pub failed: Option<u64>,
    pub skipped: Option<u64>,
}

/// One thing that came out other than expected.
#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    Status {
        expected: String,
        got: String,
        error: Option<String>,
    },
    Error {
        expected: String,
        got: Option<String>,
    },
    Rows {
        what: &'static str,
        expected: u64,
        got: u64,
    },
    FailedRows {
        expected: Vec<usize>,
        got: Vec<(usize, String)>,
    },
    MissingOutput {
        pattern: String,
        made: Vec<String>,
    },
    Unreadable {
        file: String,
        message: String,
    },
    Sheets {
        file: String,
        expected: Vec<String>,
        got: Vec<String>,
    },
    Columns {
        file: String,
        sheet: String,
        expected: Vec<String>,
        got: Vec<String>,
    },
    RowCount {
        file: String,
        sheet: String,
        expected: usize,
        got: usize,
    },
    Cell {
        file: String,
        sheet: String,
        /// The row in the sheet (the header is row 1).
        row: usize,
        column: String,
        expected: String,
        got: String,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Status {
                expected,
                got,
                error,
            } => {
                write!(f, "the run ended {got}, expected {expected}")?;
                if let Some(e) = error {
                    write!(f, ": {e}")?;
                }
                Ok(())
            }
            Difference::Error { expected, got } => match got {
                Some(g) => write!(
                    f,
                    "the run's error does not say \"{expected}\"; it says: {g}"
                ),
                None => write!(
                    f,
                    "the run has no error; expected one saying \"{expected}\""
                ),
            },
            Difference::Rows {
                what,
                expected,
                got,
            } => write!(f, "{got} rows {what}, expected {expected}"),
            Difference::FailedRows { expected, got } => {
                let got: Vec<String> = got.iter().map(|(r, m)| format!("{r} ({m})")).collect();
                write!(
                    f,
                    "failed rows: expected {:?}, got [{}]",
                    expected,
                    got.join(", ")
                )
            }
            Difference::MissingOutput { pattern, made } => write!(
                f,
                "no output named `{pattern}`; the run wrote: {}",
                if made.is_empty() {
                    "nothing".to_string()
                } else {
                    made.join(", ")
                }
            ),
            Difference::Unreadable { file, message } => {
                write!(f, "cannot read `{file}`: {message}")
            }
            Difference::Sheets {
                file,
                expected,
                got,
            } => write!(f, "`{file}` has sheets {got:?}, expected {expected:?}"),
            Difference::Columns {
                file,
                sheet,
                expected,
                got,
            } => write!(
                f,
                "`{file}`, sheet `{sheet}`: columns are {got:?}, expected {expected:?}"
            ),
            Difference::RowCount {
                file,
                sheet,
                expected,
                got,
            } => write!(
                f,
                "`{file}`, sheet `{sheet}`: {got} rows, expected {expected}"
            ),
            Difference::Cell {
                file,
                sheet,
                row,
                column,
                expected,
                got,
            } => write!(
                f,
                "`{file}`, sheet `{sheet}`, row {row}, column `{column}`: expected `{expected}`, got `{got}`"
            ),
        }
    }
}

/// Why a case could not be run at all (as opposed to a run that differs).
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("cannot read `{path}`: {message}")]
    Read { path: String, message: String },
    #[error("`{path}` is not a test case: {message}")]
    Spec { path: String, message: String },
    #[error("the workflow `{path}` has problems; `kobo validate {path}` shows them:\n{message}")]
    Workflow { path: String, message: String },
    #[error("`{path}`: the input `{input}` is not one of the workflow's inputs ({known})")]
    UnknownInput {
        path: String,
        input: String,
        known: String,
    },
    #[error("cannot run the case: {0}")]
    Run(String),
}

/// The test cases of `workflow`: the folders under `tests/<workflow file name>/` beside it
/// that hold a `case.yaml`, in name order.
pub fn cases_of(workflow: &Path) -> Vec<PathBuf> {
    let Some(stem) = workflow.file_stem() else {
        return Vec::new();
    };
    let dir = workflow
        .parent()
        .unwrap_or(Path::new("."))
        .join("tests")
        .join(stem);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.join(CASE_FILE).is_file())
                .collect()
        })
        .unwrap_or_default();
    cases.sort();
    cases
}

/// What the test run knows about the machine: the practice portal, when one is running.
#[derive(Debug, Clone, Default)]
pub struct TestEnv {
    /// Given to workflows that have a `portal_url` param, unless the case sets it.
    pub portal_url: Option<String>,
    /// Given to the workflow's `portal_user` / `portal_password` secrets, unless the case sets them.
    pub portal_login: Option<(String, String)>,
}

/// Run one case of `workflow` and list what differs from what it expects (empty: it passed).
pub async fn run_case(
    workflow: &Path,
    case: &Path,
    env: &TestEnv,
) -> Result<Vec<Difference>, CaseError> {
    let spec_path = case.join(CASE_FILE);
    let text = std::fs::read_to_string(&spec_path).map_err(|e| CaseError::Read {
        path: spec_path.display().to_string(),
        message: e.to_string(),
    })?;
    let spec: CaseSpec = serde_yaml::from_str(&text).map_err(|e| CaseError::Spec {
        path: spec_path.display().to_string(),
        message: e.to_string(),
    })?;
    let w = Workflow::load(workflow).map_err(|e| CaseError::Workflow {
        path: workflow.display().to_string(),
        message: e.to_string(),
    })?;
    let home = tempfile::tempdir().map_err(|e| CaseError::Run(e.to_string()))?;
    let records = Records::open(&home.path().join("records.db"))
        .await
        .map_err(|e| CaseError::Run(e.to_string()))?;
    let mut opts = RunOptions::new(home.path());
    let known: Vec<String> = w.file_inputs().map(|i| i.name.clone()).collect();
    for (name, file) in &spec.inputs {
        if !known.contains(name) {
            return Err(CaseError::UnknownInput {
                path: spec_path.display().to_string(),
                input: name.clone(),
                known: known.join(", "),
            });
        }
        opts.inputs.insert(name.clone(), case.join(file));
    }
    opts.params = spec.params.clone();
    if let Some(url) = &env.portal_url
        && w.params.contains_key("portal_url")
    {
        opts.params
            .entry("portal_url".into())
            .or_insert_with(|| url.clone());
    }
    let mut secrets = spec.secrets.clone();
    if let Some((user, password)) = &env.portal_login {
        for (name, value) in [("portal_user", user), ("portal_password", password)] {
            if w.secrets.iter().any(|s| s == name) {
                secrets
                    .entry(name.to_string())
                    .or_insert_with(|| value.clone());
            }
        }
    }
    opts.secrets = Secrets::from_pairs(secrets);
    let outcome = execute(&w, &records, opts)
        .await
        .map_err(|e| CaseError::Run(e.to_string()))?;
    let detail = records
        .detail(&outcome.id.0)
        .await
        .map_err(|e| CaseError::Run(e.to_string()))?;

    let mut diffs = Vec::new();
    let e = &spec.expect;
    if outcome.status.as_str() != e.status {
        diffs.push(Difference::Status {
            expected: e.status.clone(),
            got: outcome.status.as_str().into(),
            error: outcome.error.clone(),
        });
    }
    if let Some(want) = &e.error
        && !outcome.error.as_deref().is_some_and(|g| g.contains(want))
    {
        diffs.push(Difference::Error {
            expected: want.clone(),
            got: outcome.error.clone(),
        });
    }
    if let Some(rows) = e.rows {
        for (what, expected, got) in [
            ("ok", rows.ok, outcome.rows.ok),
            ("failed", rows.failed, outcome.rows.failed),
            ("skipped", rows.skipped, outcome.rows.skipped),
        ] {
            if let Some(expected) = expected
                && expected != got
            {
                diffs.push(Difference::Rows {
                    what,
                    expected,
                    got,
                });
            }
        }
    }
    if let Some(expected) = &e.failed_rows {
        let got: Vec<(usize, String)> = detail
            .rows
            .iter()
            .filter(|r| r.status == RowStatus::Failed)
            .map(|r| (r.row, r.message.clone().unwrap_or_default()))
            .collect();
        let numbers: Vec<usize> = got.iter().map(|(r, _)| *r).collect();
        if &numbers != expected {
            diffs.push(Difference::FailedRows {
                expected: expected.clone(),
                got,
            });
        }
    }
    if outcome.status == RunStatus::Succeeded || !e.outputs.is_empty() {
        let made: Vec<(String, PathBuf)> = outcome
            .outputs
            .iter()
            .map(|p| {
                (
                    p.file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default(),
                    p.clone(),
                )
            })
            .collect();
        for (pattern, expected) in &e.outputs {
            match made.iter().find(|(name, _)| name_matches(pattern, name)) {
                Some((name, got)) => {
                    diffs.extend(compare_files(name, &case.join(expected), got));
                }
                None => diffs.push(Difference::MissingOutput {
                    pattern: pattern.clone(),
                    made: made.iter().map(|(n, _)| n.clone()).collect(),
                }),
            }
        }
    }
    Ok(diffs)
}

/// `report-*.xlsx` matches `report-2026-12-05.xlsx`: `*` stands for any text.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || !name.ends_with(last) || name.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Every sheet of `got` against `expected`, cell by cell (`*` in `expected` matches anything).
pub fn compare_files(name: &str, expected: &Path, got: &Path) -> Vec<Difference> {
    let unreadable = |p: &Path, e: crate::sheet::SheetError| Difference::Unreadable {
        file: p.display().to_string(),
        message: e.to_string(),
    };
    let want_sheets = match sheet_names(expected) {
        Ok(s) => s,
        Err(e) => return vec![unreadable(expected, e)],
    };
    let got_sheets = match sheet_names(got) {
        Ok(s) => s,
        Err(e) => return vec![unreadable(got, e)],
    };
    // A CSV has one sheet whatever its name.
    let one_each = want_sheets.len() == 1 && got_sheets.len() == 1;
    if !one_each && want_sheets != got_sheets {
        return vec![Difference::Sheets {
            file: name.into(),
            expected: want_sheets,
            got: got_sheets,
        }];
    }
    let mut diffs = Vec::new();
    for (want_sheet, got_sheet) in want_sheets.iter().zip(&got_sheets) {
        let read = |p: &Path, sheet: &str| {
            read_table(
                p,
                &SheetSpec {
                    sheet: SheetRef::Name(sheet.to_string()),
                    ..SheetSpec::default()
                },
            )
        };
        let (want, have) = match (read(expected, want_sheet), read(got, got_sheet)) {
            (Ok(w), Ok(h)) => (w, h),
            (Err(e), _) => {
                diffs.push(unreadable(expected, e));
                continue;
            }
            (_, Err(e)) => {
                diffs.push(unreadable(got, e));
                continue;
            }
        };
        if want.columns != have.columns {
            diffs.push(Difference::Columns {
                file: name.into(),
                sheet: got_sheet.clone(),
                expected: want.columns.clone(),
                got: have.columns.clone(),
            });
            continue;
        }
        if want.len() != have.len() {
            diffs.push(Difference::RowCount {
                file: name.into(),
                sheet: got_sheet.clone(),
                expected: want.len(),
                got: have.len(),
            });
        }
        for (i, (w_row, h_row)) in want.rows.iter().zip(&have.rows).enumerate() {
            for (c, column) in want.columns.iter().enumerate() {
                let w = w_row.get(c).map(|v| v.to_string()).unwrap_or_default();
                let h = h_row.get(c).map(|v| v.to_string()).unwrap_or_default();
                if w.trim() != "*" && w != h {
                    diffs.push(Difference::Cell {
                        file: name.into(),
                        sheet: got_sheet.clone(),
                        row: have.source_rows.get(i).copied().unwrap_or(i + 2),
                        column: column.clone(),
                        expected: w,
                        got: h,
                    });
                }
            }
        }
    }
    diffs
}

/// What `kobo test` found for one version of a workflow, kept in the records so a reviewer
/// sees whether the workflow of a run passed its own test cases at the version that ran.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TestRecord {
    pub workflow: String,
    /// The hash of the workflow file (as [`Workflow::hash`]): one version.
    pub workflow_hash: String,
    pub cases: u64,
    pub passed: u64,
    /// The names of the cases that did not give what they expect.
    pub failed_cases: Vec<String>,
    pub tested_at: chrono::DateTime<chrono::Utc>,
}

impl TestRecord {
    pub fn all_passed(&self) -> bool {
        self.cases > 0 && self.passed == self.cases
    }
}

/// Keep the result of testing one version of a workflow (the latest test of that version wins).
pub async fn keep_result(records: &Records, t: &TestRecord) -> Result<(), StoreError> {
    let mut tx = records.pool().begin().await?;
    sqlx::query("DELETE FROM workflow_tests WHERE workflow = $1 AND workflow_hash = $2")
        .bind(&t.workflow)
        .bind(&t.workflow_hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO workflow_tests (workflow, workflow_hash, cases, passed, failed_cases, tested_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&t.workflow)
    .bind(&t.workflow_hash)
    .bind(t.cases as i64)
    .bind(t.passed as i64)
    .bind(t.failed_cases.join("\n"))
    .bind(t.tested_at.to_rfc3339())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The test result of this version of a workflow, if `kobo test` ran it.
pub async fn result_for(
    records: &Records,
    workflow: &str,
    hash: &str,
) -> Result<Option<TestRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT cases, passed, failed_cases, tested_at FROM workflow_tests WHERE workflow = $1 AND workflow_hash = $2",
    )
    .bind(workflow)
    .bind(hash)
    .fetch_optional(records.pool())
    .await?;
    Ok(row.map(|r| {
        let failed: String = r.get("failed_cases");
        TestRecord {
            workflow: workflow.to_string(),
            workflow_hash: hash.to_string(),
            cases: r.get::<i64, _>("cases") as u64,
            passed: r.get::<i64, _>("passed") as u64,
            failed_cases: failed
                .lines()
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
            tested_at: chrono::DateTime::parse_from_rfc3339(&r.get::<String, _>("tested_at"))
                .map(|t| t.to_utc())
                .unwrap_or_default(),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_with_stars() {
        assert!(name_matches("report-*.xlsx", "report-2026-12-05.xlsx"));
        assert!(name_matches("report.xlsx", "report.xlsx"));
        assert!(!name_matches("report-*.xlsx", "report-2026.csv"));
        assert!(name_matches("*-*.csv", "a-b.csv"));
        assert!(!name_matches("ab*ba", "aba"));
    }
}
