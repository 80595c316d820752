//! The admin's page: users and roles, the clients and their rates, and the audit log.
//!
//! The admin adds users, changes a user's role (and a client user's client), disables and
//! enables users and resets passwords; every change is admin-only, needs the form's CSRF token
//! and is written to the audit log (in `runner::user`, in the change's own transaction).
//! Rates are edited in `<home>/rates.yaml`; this page shows them, read-only, per client.

use crate::AppState;
use crate::auth::Current;
use crate::client::inbox_workflows;
use crate::csrf_form::{CsrfForm, NoFields};
use crate::error::{AppError, Msg};
use crate::page::render;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use runner::payout::{Rate, Rates, rates_path};
use runner::user::{self, User, UserError};
use runner::{Role, audit};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What `rates.yaml` looks like, shown on the page next to its path.
const RATES_EXAMPLE: &str = "rates:
  - client: acme
    workflow: invoice-report   # optional: leave it out for all of acme's workflows
    per_run: 500               # yen per approved run
    per_ok_row: 20             # yen per row that ended ok";

/// A client as the admin sees it: who logs in for it, its inbox folders, its rates.
#[derive(Debug, Default, Serialize)]
pub struct ClientView {
    pub name: String,
    /// Client users of this client.
    pub users: Vec<String>,
    /// Task folders under `inbox/<client>/`.
    pub tasks: Vec<String>,
    pub has_inbox: bool,
    pub rates: Vec<Rate>,
}

/// Every client kobo knows of: from client users, from `rates.yaml` and from the inbox folders.
pub fn clients(home: &std::path::Path, users: &[User], rates: &[Rate]) -> Vec<ClientView> {
    let mut all: BTreeMap<String, ClientView> = BTreeMap::new();
    for u in users {
        if let Some(c) = &u.client {
            view(&mut all, c).users.push(u.name.clone());
        }
    }
    for r in rates {
        view(&mut all, &r.client).rates.push(r.clone());
    }
    let inbox = home.join("inbox");
    for e in std::fs::read_dir(&inbox).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir())
            && let Some(name) = e.file_name().to_str()
            && user::valid_name(name)
        {
            view(&mut all, name).has_inbox = true;
        }
    }
    for c in all.values_mut() {
        if c.has_inbox {
            c.tasks = inbox_workflows(home, &c.name);
        }
    }
    all.into_values().collect()
}

/// The clients a client user may belong to: those named in `rates.yaml`, by an inbox folder
/// (one per workflow of the client, made by `kobo serve`) or by a run. A name typed for a
/// user alone would make a client nothing else knows, so it is not counted.
async fn known_clients(state: &AppState) -> Result<Vec<String>, AppError> {
    let mut known: std::collections::BTreeSet<String> = Rates::load(&state.home)
        .map(|r| r.rates.into_iter().map(|r| r.client).collect())
        .unwrap_or_default();
    for e in std::fs::read_dir(state.home.join("inbox"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if e.file_type().is_ok_and(|t| t.is_dir())
            && let Some(name) = e.file_name().to_str()
            && user::valid_name(name)
        {
            known.insert(name.to_string());
        }
    }
    let (from_runs, _, _) = runner::review::filter_values(state.records.pool(), None).await?;
    known.extend(from_runs);
    Ok(known.into_iter().collect())
}

/// Refuse a client user's client that kobo does not know (a typo), naming the known ones.
async fn check_known_client(
    state: &AppState,
    role: Role,
    client: Option<&str>,
) -> Result<(), AppError> {
    let Some(client) = client.filter(|c| role == Role::Client && user::valid_name(c)) else {
        // No client, or one the name rules refuse: `runner::user` says which.
        return Ok(());
    };
    let known = known_clients(state).await?;
    if known.iter().any(|k| k == client) {
        return Ok(());
    }
    let list = if known.is_empty() {
        "—".to_string()
    } else {
        known.join(", ")
    };
    Err(AppError::BadRequest(
        Msg::key("err_unknown_client")
            .with("client", client)
            .with("known", list),
    ))
}

fn view<'a>(all: &'a mut BTreeMap<String, ClientView>, name: &str) -> &'a mut ClientView {
    all.entry(name.to_string()).or_insert_with(|| ClientView {
        name: name.to_string(),
        ..Default::default()
    })
}

pub async fn page(State(state): State<AppState>, cur: Current) -> Result<Response, AppError> {
    cur.require(&[Role::Admin])?;
    let users = user::list(state.records.pool()).await?;
    let (rates, rates_error) = match Rates::load(&state.home) {
        Ok(r) => (r.rates, None),
        Err(e) => (vec![], Some(e.to_string())),
    };
    let clients = clients(&state.home, &users, &rates);
    let audit = audit::recent(state.records.pool(), 100).await?;
    let html = render(
        "admin.html",
        cur.lang,
        Some(&cur),
        context! {
            users => Value::from_serialize(&users),
            clients => Value::from_serialize(&clients),
            rates_error => rates_error,
            rates_path => rates_path(&state.home).display().to_string(),
            rates_example => RATES_EXAMPLE,
            audit => Value::from_serialize(&audit),
            roles => Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        },
    )?;
    Ok(html.into_response())
}

/// A user error as the admin sees it: 404 for an unknown user, 409 for the last admin,
/// 400 for what the form got wrong, 500 for the rest.
fn user_error(e: UserError) -> AppError {
    match e {
        UserError::NoSuchUser(_) => AppError::NotFound,
        UserError::Exists(n) => AppError::Conflict(Msg::key("err_user_exists").with("name", n)),
        UserError::LastAdmin(n) => AppError::Conflict(Msg::key("err_last_admin").with("name", n)),
        UserError::BadName(n) => AppError::BadRequest(Msg::key("err_bad_name").with("name", n)),
        UserError::BadClient(c) => {
            AppError::BadRequest(Msg::key("err_bad_client").with("client", c))
        }
        UserError::ClientRequired => AppError::BadRequest(Msg::key("err_client_required")),
        UserError::ClientNotAllowed(r) => AppError::BadRequest(
            Msg::key("err_client_not_allowed").with_key("role", format!("role_{r}")),
        ),
        UserError::WeakPassword => AppError::BadRequest(Msg::key("err_weak_password")),
        e @ (UserError::Hash(_) | UserError::Database(_) | UserError::Disabled(_)) => {
            AppError::Internal(e.to_string())
        }
    }
}

fn parse_role(role: &str) -> Result<Role, AppError> {
    role.parse()
        .map_err(|_| AppError::BadRequest(Msg::key("err_unknown_role").with("role", role)))
}

/// The client field of a form: trimmed, empty means none.
fn client_field(client: &Option<String>) -> Option<&str> {
    client.as_deref().map(str::trim).filter(|c| !c.is_empty())
}

/// The user a form is about (from the URL); an impossible name is simply not found.
fn target(name: &str) -> Result<&str, AppError> {
    if user::valid_name(name) {
        Ok(name)
    } else {
        Err(AppError::NotFound)
    }
}

#[derive(Deserialize)]
pub struct NewUser {
    name: String,
    role: String,
    client: Option<String>,
    password: String,
}

pub async fn add_user(
    State(state): State<AppState>,
    CsrfForm(cur, f): CsrfForm<NewUser>,
) -> Result<Response, AppError> {
    cur.require(&[Role::Admin])?;
    let role = parse_role(&f.role)?;
    let client = client_field(&f.client);
    check_known_client(&state, role, client).await?;
    let pool = state.records.pool();
    let u = user::add(pool, f.name.trim(), role, client, &f.password)
        .await
        .map_err(user_error)?;
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

#[derive(Deserialize)]
pub struct RoleForm {
    role: String,
    client: Option<String>,
}

/// `POST /admin/users/{name}/role`: another role (and client, for a client user).
pub async fn set_role(
    State(state): State<AppState>,
    Path(name): Path<String>,
    CsrfForm(cur, f): CsrfForm<RoleForm>,
) -> Result<Response, AppError> {
    cur.require(&[Role::Admin])?;
    let role = parse_role(&f.role)?;
    // A client field left filled in from before does not stop a client user becoming staff.
    let client = client_field(&f.client).filter(|_| role == Role::Client);
    check_known_client(&state, role, client).await?;
    user::set_role(
        state.records.pool(),
        &cur.user().name,
        target(&name)?,
        role,
        client,
    )
    .await
    .map_err(user_error)?;
    Ok(Redirect::to("/admin").into_response())
}

/// `POST /admin/users/{name}/disable`: no more logging in; their sessions end now.
pub async fn disable(
    State(state): State<AppState>,
    Path(name): Path<String>,
    CsrfForm(cur, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    set_disabled(state, cur, name, true).await
}

/// `POST /admin/users/{name}/enable`: may log in again.
pub async fn enable(
    State(state): State<AppState>,
    Path(name): Path<String>,
    CsrfForm(cur, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    set_disabled(state, cur, name, false).await
}

async fn set_disabled(
    state: AppState,
    cur: Current,
    name: String,
    disabled: bool,
) -> Result<Response, AppError> {
    cur.require(&[Role::Admin])?;
    user::set_disabled(
        state.records.pool(),
        &cur.user().name,
        target(&name)?,
        disabled,
    )
    .await
    .map_err(user_error)?;
    Ok(Redirect::to("/admin").into_response())
}

#[derive(Deserialize)]
pub struct PasswordForm {
    password: String,
}

/// `POST /admin/users/{name}/password`: a new password, which the admin passes on; the
/// user's sessions end.
pub async fn reset_password(
    State(state): State<AppState>,
    Path(name): Path<String>,
    CsrfForm(cur, f): CsrfForm<PasswordForm>,
) -> Result<Response, AppError> {
    cur.require(&[Role::Admin])?;
    user::set_password(
        state.records.pool(),
        &cur.user().name,
        target(&name)?,
        &f.password,
    )
    .await
    .map_err(user_error)?;
    Ok(Redirect::to("/admin").into_response())
}
