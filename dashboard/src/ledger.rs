//! The payout ledger: a trainee's approved work, amounts and monthly totals, and the monthly
//! statement as xlsx. A trainee sees only her own; an admin sees anyone's.

use crate::AppState;
use crate::auth::Current;
use crate::error::{AppError, Msg};
use crate::page::render;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use minijinja::{Value, context};
use runner::sheet::{OutputSheet, write_xlsx};
use runner::{Role, payout};
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct LedgerQuery {
    trainee: Option<String>,
}

/// Whose ledger: a trainee's own; an admin's choice (`None`: everyone).
fn whose(cur: &Current, q: &LedgerQuery) -> Result<Option<String>, AppError> {
    cur.require(&[Role::Admin, Role::Trainee])?;
    Ok(match cur.user().role {
        Role::Trainee => Some(cur.user().name.clone()),
        _ => q.trainee.clone().filter(|t| !t.is_empty()),
    })
}

pub async fn page(
    State(state): State<AppState>,
    cur: Current,
    Query(q): Query<LedgerQuery>,
) -> Result<Response, AppError> {
    let trainee = whose(&cur, &q)?;
    let entries = payout::ledger(state.records.pool(), trainee.as_deref(), None).await?;
    let totals = payout::monthly_totals(&entries);
    let html = render(
        "ledger.html",
        cur.lang,
        Some(&cur),
        context! {
            entries => Value::from_serialize(&entries),
            totals => Value::from_serialize(&totals),
            trainee => trainee,
        },
    )?;
    Ok(html.into_response())
}

/// `/ledger/2026-11.xlsx`: one month's statement.
pub async fn statement(
    State(state): State<AppState>,
    cur: Current,
    Path(file): Path<String>,
    Query(q): Query<LedgerQuery>,
) -> Result<Response, AppError> {
    let trainee = whose(&cur, &q)?;
    // The name goes into the file name (and the Content-Disposition header): a user name only.
    if let Some(t) = &trainee
        && !runner::user::valid_name(t)
    {
        return Err(AppError::BadRequest(
            Msg::key("err_bad_name").with("name", t),
        ));
    }
    let month = file.strip_suffix(".xlsx").ok_or(AppError::NotFound)?;
    if chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_err()
        || month.len() != 7
    {
        return Err(AppError::NotFound);
    }
    let entries = payout::ledger(state.records.pool(), trainee.as_deref(), Some(month)).await?;
    let lang = cur.lang;
    let words = payout::StatementWords {
        columns: [
            lang.t("st_credited"),
            lang.t("st_run"),
            lang.t("st_client"),
            lang.t("st_workflow"),
            lang.t("st_ok_rows"),
            lang.t("st_per_run"),
            lang.t("st_per_ok_row"),
            lang.t("st_amount"),
        ],
        total: lang.t("st_total"),
    };
    let table = payout::statement_table(&entries, &words);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("statement.xlsx");
    let sheet = OutputSheet {
        name: month.to_string(),
        table: &table,
        formats: words.columns[5..]
            .iter()
            .map(|c| runner::sheet::ColumnFormat {
                column: c.to_string(),
                format: "#,##0".into(),
            })
            .collect(),
    };
    write_xlsx(&path, &[sheet]).map_err(|e| AppError::Internal(e.to_string()))?;
    let bytes = tokio::fs::read(&path).await?;
    let who = trainee.unwrap_or_else(|| "all".into());
    Ok((
        [
            (
                header::CONTENT_TYPE,
                crate::files::content_type("x.xlsx").to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"kobo-statement-{who}-{month}.xlsx\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
