//! The admin's page: users and roles, the rates in force, and the audit log.
//! Rates are edited in `<home>/rates.yaml` (shown here, so the admin can check them).

use crate::AppState;
use crate::auth::Current;
use crate::error::AppError;
use crate::page::render;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use runner::payout::Rates;
use runner::user::{self, UserError};
use runner::{Role, audit};
use serde::Deserialize;

pub async fn page(State(state): State<AppState>, cur: Current) -> Result<Response, AppError> {
    cur.require(&[Role::Admin])?;
    let users = user::list(state.records.pool()).await?;
    let (rates, rates_error) = match Rates::load(&state.home) {
        Ok(r) => (r.rates, None),
        Err(e) => (vec![], Some(e.to_string())),
    };
    let audit = audit::recent(state.records.pool(), 100).await?;
    let html = render(
        "admin.html",
        cur.lang,
        Some(&cur),
        context! {
            users => Value::from_serialize(&users),
            rates => Value::from_serialize(&rates),
            rates_error => rates_error,
            audit => Value::from_serialize(&audit),
            roles => Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        },
    )?;
    Ok(html.into_response())
}

#[derive(Deserialize)]
pub struct NewUser {
    csrf: Option<String>,
    name: String,
    role: String,
    client: Option<String>,
    password: String,
}

pub async fn add_user(
    State(state): State<AppState>,
    cur: Current,
    Form(f): Form<NewUser>,
) -> Result<Response, AppError> {
    cur.check_csrf(f.csrf.as_deref())?;
    cur.require(&[Role::Admin])?;
    let role: Role = f.role.parse().map_err(AppError::BadRequest)?;
    let client = f.client.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let pool = state.records.pool();
    match user::add(pool, f.name.trim(), role, client, &f.password).await {
        Ok(u) => {
            audit::append(
                pool,
                &cur.user().name,
                "user.add",
                &u.name,
                Some(role.as_str()),
            )
            .await?;
            Ok(Redirect::to("/admin").into_response())
        }
        Err(UserError::Exists(n)) => Err(AppError::Conflict(format!(
            "a user named `{n}` already exists"
        ))),
        Err(e @ (UserError::Hash(_) | UserError::Database(_))) => {
            Err(AppError::Internal(e.to_string()))
        }
        Err(e) => Err(AppError::BadRequest(e.to_string())),
    }
}
