//! The admin's page: users and roles, the clients and their rates, and the audit log.
//!
//! The admin adds users, changes a user's role (and a client user's client), disables and
//! enables users and resets passwords; every change is admin-only, needs the form's CSRF token
//! and is written to the audit log (in `runner::user`, in the change's own transaction).
//!
//! Rates are set here too (checked: whole yen, not negative, not absurd; audited). They stay
//! in `<home>/rates.yaml`, written whole and renamed into place: one readable file the admin
//! can still back up or edit by hand, and the approval reads it as before, so the next
//! approval pays the new rate. Each client's language (her deliveries' words) is set here.
//!
//! After each change the page says what changed, in words, and how to undo it.

use crate::AppState;
use crate::auth::Current;
use crate::client::inbox_workflows;
use crate::csrf_form::{CsrfForm, NoFields};
use crate::error::{AppError, Msg};
use crate::page::render;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use runner::client_lang::{self, ClientLang};
use runner::payout::{Rate, RateChangeError, Rates};
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
    /// The language of the client's deliveries (`ja` until the admin chooses).
    pub lang: &'static str,
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
    let inbox = runner::data_dir::DataDir::new(home).inbox();
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
    for e in std::fs::read_dir(runner::data_dir::DataDir::new(&state.home).inbox())
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

/// The cookie that carries "what just changed" from a change to the page shown after it.
const FLASH_COOKIE: &str = "kobo_done";

/// Redirect to the admin page, which then says `done` (already in the admin's language).
fn done(state: &AppState, cur: &Current, msg: Msg) -> Response {
    let text = msg.text(cur.lang);
    let cookie = crate::auth::set_cookie(
        state,
        FLASH_COOKIE,
        &crate::client::percent(&text),
        "/admin",
        Some(60),
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/admin")).into_response()
}

/// The message a change left for this page, once.
fn take_flash(headers: &HeaderMap) -> Option<String> {
    let raw = crate::auth::cookie(headers, FLASH_COOKIE)?;
    #[derive(Deserialize)]
    struct M {
        m: String,
    }
    serde_urlencoded::from_str::<M>(&format!("m={raw}"))
        .ok()
        .map(|m| m.m)
        .filter(|m| !m.is_empty())
}

pub async fn page(
    State(state): State<AppState>,
    cur: Current,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    cur.require(&[Role::Admin])?;
    let flash = take_flash(&headers);
    let users = user::list(state.records.pool()).await?;
    let (rates, rates_error) = match Rates::load(&state.home) {
        Ok(r) => (r.rates, None),
        Err(e) => (vec![], Some(e.to_string())),
    };
    let mut clients = clients(&state.home, &users, &rates);
    let langs = client_lang::all(state.records.pool()).await?;
    for c in &mut clients {
        c.lang = langs
            .iter()
            .find(|(n, _)| *n == c.name)
            .map(|(_, l)| *l)
            .unwrap_or_default()
            .code();
    }
    let emails = user::emails(state.records.pool()).await?;
    let audit = audit::recent(state.records.pool(), 100).await?;
    let html = render(
        "admin.html",
        cur.lang,
        Some(&cur),
        context! {
            users => Value::from_serialize(&users),
            clients => Value::from_serialize(&clients),
            rates_error => rates_error,
            rates_path => runner::data_dir::DataDir::new(&state.home).rates_file().display().to_string(),
            rates_example => RATES_EXAMPLE,
            audit => Value::from_serialize(&audit),
            roles => Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            emails => Value::from_serialize(&emails),
            flash => flash,
            client_langs => ClientLang::ALL.iter().map(|l| l.code()).collect::<Vec<_>>(),
            max_per_run => runner::payout::MAX_PER_RUN,
            max_per_ok_row => runner::payout::MAX_PER_OK_ROW,
        },
    )?;
    let mut resp = html.into_response();
    if flash.is_some() {
        // Said once: a reload shows the page without it.
        let clear = crate::auth::set_cookie(&state, FLASH_COOKIE, "", "/admin", Some(0));
        if let Ok(v) = clear.parse() {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
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
        UserError::BadEmail(e) => AppError::BadRequest(Msg::key("err_bad_email").with("email", e)),
        e @ (UserError::Hash(_) | UserError::Database(_) | UserError::Disabled(_)) => {
            AppError::Internal(e.to_string())
        }
    }
}

fn parse_role(role: &str) -> Result<Role, AppError> {
    if role.trim().is_empty() {
        return Err(AppError::BadRequest(Msg::key("err_choose_role")));
    }
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
    /// Chosen on purpose: the form starts with no role, and an empty one is refused.
    #[serde(default)]
    role: String,
    client: Option<String>,
    password: String,
    #[serde(default)]
    email: Option<String>,
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
    if let Some(email) = f.email.as_deref().filter(|e| !e.trim().is_empty()) {
        user::set_email(pool, &cur.user().name, &u.name, Some(email))
            .await
            .map_err(user_error)?;
    }
    Ok(done(
        &state,
        &cur,
        Msg::key("done_user_added")
            .with("name", u.name.clone())
            .with_key("role", format!("role_{role}")),
    ))
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
    let before = user::get(state.records.pool(), target(&name)?)
        .await?
        .ok_or(AppError::NotFound)?;
    user::set_role(
        state.records.pool(),
        &cur.user().name,
        target(&name)?,
        role,
        client,
    )
    .await
    .map_err(user_error)?;
    Ok(done(
        &state,
        &cur,
        Msg::key("done_role")
            .with("name", name.clone())
            .with_key("role", format!("role_{role}"))
            .with_key("before", format!("role_{}", before.role)),
    ))
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
    let msg = if disabled {
        Msg::key("done_disabled")
    } else {
        Msg::key("done_enabled")
    };
    Ok(done(&state, &cur, msg.with("name", name.clone())))
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
    Ok(done(
        &state,
        &cur,
        Msg::key("done_password").with("name", name.clone()),
    ))
}

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
}

/// `POST /admin/users/{name}/email`: where notices go (empty: none).
pub async fn set_email(
    State(state): State<AppState>,
    Path(name): Path<String>,
    CsrfForm(cur, f): CsrfForm<EmailForm>,
) -> Result<Response, AppError> {
    cur.require(&[Role::Admin])?;
    let email = Some(f.email.trim()).filter(|e| !e.is_empty());
    user::set_email(
        state.records.pool(),
        &cur.user().name,
        target(&name)?,
        email,
    )
    .await
    .map_err(user_error)?;
    let msg = match email {
        Some(e) => Msg::key("done_email").with("email", e),
        None => Msg::key("done_email_removed"),
    };
    Ok(done(&state, &cur, msg.with("name", name.clone())))
}

#[derive(Deserialize)]
pub struct ClientLangForm {
    lang: String,
}

/// `POST /admin/clients/{name}/lang`: the language of a client's deliveries and e-mails.
pub async fn set_client_lang(
    State(state): State<AppState>,
    Path(name): Path<String>,
    CsrfForm(cur, f): CsrfForm<ClientLangForm>,
) -> Result<Response, AppError> {
    cur.require(&[Role::Admin])?;
    let client = target(&name)?;
    let known = known_clients(&state).await?;
    if !known.iter().any(|k| k == client) {
        return Err(AppError::NotFound);
    }
    let lang = ClientLang::from_code(&f.lang).ok_or_else(|| {
        AppError::BadRequest(Msg::key("err_unknown_client_lang").with("lang", f.lang.clone()))
    })?;
    let before = client_lang::get(state.records.pool(), client).await?;
    client_lang::set(state.records.pool(), &cur.user().name, client, lang).await?;
    Ok(done(
        &state,
        &cur,
        Msg::key("done_client_lang")
            .with("client", client)
            .with_key("lang", format!("lang_{}", lang.code()))
            .with_key("before", format!("lang_{}", before.code())),
    ))
}

#[derive(Deserialize)]
pub struct RateForm {
    client: String,
    /// Empty: the client's general rate.
    #[serde(default)]
    workflow: String,
    per_run: String,
    per_ok_row: String,
}

/// A whole number of yen as typed (`1,200`, ` 500 `, `1200円`), or the field's error.
fn yen_field(text: &str, what: &'static str) -> Result<i64, AppError> {
    let cleaned: String = text
        .trim()
        .trim_end_matches('円')
        .trim_start_matches('¥')
        .chars()
        .filter(|c| *c != ',' && !c.is_whitespace())
        .collect();
    cleaned.parse::<i64>().map_err(|_| {
        AppError::BadRequest(
            Msg::key("err_rate_number")
                .with_key("what", what)
                .with("value", text.trim()),
        )
    })
}

fn rate_error(e: RateChangeError) -> AppError {
    AppError::BadRequest(match e {
        RateChangeError::Negative { what, value } => Msg::key("err_rate_negative")
            .with_key("what", what_key(what))
            .with("value", value.to_string()),
        RateChangeError::TooLarge { what, value, max } => Msg::key("err_rate_too_large")
            .with_key("what", what_key(what))
            .with("value", value.to_string())
            .with("max", max.to_string()),
        RateChangeError::BadName(n) => Msg::key("err_bad_client").with("client", n),
    })
}

fn what_key(what: &str) -> &'static str {
    if what.contains("per run") {
        "per_run"
    } else {
        "per_ok_row"
    }
}

fn describe_rate(r: &Rate) -> String {
    format!(
        "{}/{}: {} yen per run + {} yen per row",
        r.client,
        r.workflow.as_deref().unwrap_or("*"),
        r.per_run,
        r.per_ok_row
    )
}

/// `POST /admin/rates`: set a client's rate (for one workflow, or all of them).
pub async fn set_rate(
    State(state): State<AppState>,
    CsrfForm(cur, f): CsrfForm<RateForm>,
) -> Result<Response, AppError> {
    cur.require(&[Role::Admin])?;
    let client = f.client.trim();
    let known = known_clients(&state).await?;
    if !user::valid_name(client) || !known.iter().any(|k| k == client) {
        let list = if known.is_empty() {
            "—".to_string()
        } else {
            known.join(", ")
        };
        return Err(AppError::BadRequest(
            Msg::key("err_unknown_client")
                .with("client", client)
                .with("known", list),
        ));
    }
    let workflow = Some(f.workflow.trim()).filter(|w| !w.is_empty() && *w != "*");
    let rate = Rate {
        client: client.to_string(),
        workflow: workflow.map(String::from),
        per_run: yen_field(&f.per_run, "per_run")?,
        per_ok_row: yen_field(&f.per_ok_row, "per_ok_row")?,
    };
    let mut rates =
        Rates::load(&state.home).map_err(|e| AppError::Conflict(e.to_string().into()))?;
    let before = rates.set(rate.clone()).map_err(rate_error)?;
    rates
        .save(&state.home)
        .map_err(|e| AppError::Internal(format!("writing rates.yaml: {e}")))?;
    let detail = match &before {
        Some(b) => format!("{} → {}", describe_rate(b), describe_rate(&rate)),
        None => format!("new: {}", describe_rate(&rate)),
    };
    audit::append(
        state.records.pool(),
        &cur.user().name,
        "rate.set",
        client,
        Some(&detail),
    )
    .await?;
    let lang = cur.lang;
    let words = |r: &Rate| {
        Msg::key("rate_words")
            .with("per_run", lang.yen(r.per_run))
            .with("per_ok_row", lang.yen(r.per_ok_row))
            .text(lang)
    };
    let task = workflow
        .map(String::from)
        .unwrap_or_else(|| lang.t("all").to_string());
    let msg = match &before {
        Some(b) => Msg::key("done_rate_changed").with("before", words(b)),
        None => Msg::key("done_rate_added"),
    };
    Ok(done(
        &state,
        &cur,
        msg.with("client", client)
            .with("workflow", task)
            .with("rate", words(&rate)),
    ))
}

#[derive(Deserialize)]
pub struct RemoveRateForm {
    client: String,
    #[serde(default)]
    workflow: String,
}

/// `POST /admin/rates/remove`: take a rate away (runs it covered cannot be approved until
/// another rate covers them).
pub async fn remove_rate(
    State(state): State<AppState>,
    CsrfForm(cur, f): CsrfForm<RemoveRateForm>,
) -> Result<Response, AppError> {
    cur.require(&[Role::Admin])?;
    let workflow = Some(f.workflow.trim()).filter(|w| !w.is_empty());
    let mut rates =
        Rates::load(&state.home).map_err(|e| AppError::Conflict(e.to_string().into()))?;
    let removed = rates
        .remove(f.client.trim(), workflow)
        .ok_or(AppError::NotFound)?;
    rates
        .save(&state.home)
        .map_err(|e| AppError::Internal(format!("writing rates.yaml: {e}")))?;
    audit::append(
        state.records.pool(),
        &cur.user().name,
        "rate.remove",
        &removed.client,
        Some(&describe_rate(&removed)),
    )
    .await?;
    let lang = cur.lang;
    Ok(done(
        &state,
        &cur,
        Msg::key("done_rate_removed")
            .with("client", removed.client.clone())
            .with(
                "workflow",
                removed
                    .workflow
                    .clone()
                    .unwrap_or_else(|| lang.t("all").to_string()),
            )
            .with(
                "rate",
                Msg::key("rate_words")
                    .with("per_run", lang.yen(removed.per_run))
                    .with("per_ok_row", lang.yen(removed.per_ok_row))
                    .text(lang),
            ),
    ))
}
