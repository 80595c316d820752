//! Logging in and out, `Current` (the logged-in user of a request), roles and CSRF checks.
//!
//! The session cookie is HttpOnly and SameSite=Lax (plus Secure when served over https);
//! every form that changes something carries the session's CSRF token in a hidden field.
//! The login form, which has no session yet, uses a one-off token in its own cookie.

use crate::AppState;
use crate::error::{AppError, Msg};
use crate::i18n::Lang;
use crate::page::render;
use axum::Form;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use runner::session::{self, Session, same_secret};
use runner::{Role, audit, user};
use serde::Deserialize;

pub const SESSION_COOKIE: &str = "kobo_session";
const LOGIN_COOKIE: &str = "kobo_login";

/// The logged-in user of this request, and the language to answer in.
pub struct Current {
    pub session: Session,
    pub lang: Lang,
    pub token: String,
}

impl Current {
    pub fn user(&self) -> &runner::User {
        &self.session.user
    }

    /// Refuse (403) unless the user has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), AppError> {
        if roles.contains(&self.session.user.role) {
            Ok(())
        } else {
            Err(AppError::forbidden())
        }
    }

    /// Refuse (403) a state-changing request without this session's CSRF token.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), AppError> {
        match sent {
            Some(s) if same_secret(s, &self.session.csrf) => Ok(()),
            _ => Err(AppError::Forbidden(Msg::key("err_form_expired"))),
        }
    }
}

impl FromRequestParts<AppState> for Current {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let page = parts.method == Method::GET || parts.method == Method::HEAD;
        let token =
            cookie(&parts.headers, SESSION_COOKIE).ok_or(AppError::LoginRequired { page })?;
        let session = session::lookup(state.records.pool(), &token)
            .await?
            .ok_or(AppError::LoginRequired { page })?;
        let lang = session
            .user
            .lang
            .as_deref()
            .and_then(Lang::from_code)
            .unwrap_or_else(|| browser_lang(&parts.headers));
        Ok(Current {
            session,
            lang,
            token,
        })
    }
}

/// The language the browser asks for.
pub fn browser_lang(headers: &HeaderMap) -> Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_accept_language)
        .unwrap_or(Lang::En)
}

/// A cookie's value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<i64>,
) -> String {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let age = max_age
        .map(|a| format!("; Max-Age={a}"))
        .unwrap_or_default();
    format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax{secure}{age}")
}

pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    login_form(&state, browser_lang(&headers), None, false)
}

/// The login form; after a failed attempt, with the name tried and why (wrong password, or
/// a disabled account: said only to someone who knows the password).
fn login_form(
    state: &AppState,
    lang: Lang,
    failed: Option<&str>,
    disabled: bool,
) -> Result<Response, AppError> {
    let token = session::random_token();
    let html = render(
        "login.html",
        lang,
        None,
        context! { login_csrf => &token, failed => failed.is_some(), disabled => disabled, name => failed },
    )?;
    let status = if disabled {
        axum::http::StatusCode::FORBIDDEN
    } else if failed.is_some() {
        axum::http::StatusCode::UNAUTHORIZED
    } else {
        axum::http::StatusCode::OK
    };
    Ok((
        status,
        [(
            header::SET_COOKIE,
            set_cookie(state, LOGIN_COOKIE, &token, "/login", Some(600)),
        )],
        html,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    csrf: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, AppError> {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(f.csrf.as_deref().unwrap_or(""), &expected) {
        return Err(AppError::Forbidden(Msg::key("err_form_expired")));
    }
    let name = f.name.trim().to_lowercase();
    let pool = state.records.pool();
    let user = match user::verify(pool, &name, &f.password).await {
        Ok(Some(user)) => user,
        Ok(None) => return login_form(&state, browser_lang(&headers), Some(&name), false),
        Err(user::UserError::Disabled(_)) => {
            return login_form(&state, browser_lang(&headers), Some(&name), true);
        }
        Err(e) => return Err(AppError::Internal(e.to_string())),
    };
    let (token, _) = session::create(pool, &user).await?;
    audit::append(pool, &user.name, "login", &user.name, None).await?;
    let cookie = set_cookie(
        &state,
        SESSION_COOKIE,
        &token,
        "/",
        Some(session::SESSION_HOURS * 3600),
    );
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

pub async fn logout(
    State(state): State<AppState>,
    cur: Current,
    Form(f): Form<CsrfForm>,
) -> Result<Response, AppError> {
    cur.check_csrf(f.csrf.as_deref())?;
    session::end(state.records.pool(), &cur.token).await?;
    let cookie = set_cookie(&state, SESSION_COOKIE, "", "/", Some(0));
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}

#[derive(Deserialize)]
pub struct LangForm {
    csrf: Option<String>,
    lang: String,
    back: Option<String>,
}

/// Choose the interface language (empty: follow the browser).
pub async fn set_lang(
    State(state): State<AppState>,
    cur: Current,
    Form(f): Form<LangForm>,
) -> Result<Response, AppError> {
    cur.check_csrf(f.csrf.as_deref())?;
    let lang = match f.lang.as_str() {
        "" => None,
        code => Some(
            Lang::from_code(code)
                .ok_or_else(|| {
                    AppError::BadRequest(Msg::key("err_unknown_lang").with("code", code))
                })?
                .code(),
        ),
    };
    user::set_lang(state.records.pool(), &cur.user().name, lang).await?;
    let back = f
        .back
        .filter(|b| is_local_path(b))
        .unwrap_or_else(|| "/".into());
    Ok(Redirect::to(&back).into_response())
}

/// A page of this site: `/` then a path, nothing a browser could read as another host
/// (`//evil`, `/\\evil`, which browsers treat as `//`, or control characters they drop).
fn is_local_path(back: &str) -> bool {
    back.starts_with('/')
        && !back.starts_with("//")
        && back.chars().all(|c| c.is_ascii_graphic() && c != '\\')
}

/// `/`: each role's home page.
pub async fn home(cur: Current) -> Redirect {
    match cur.user().role {
        Role::Client => Redirect::to("/client"),
        _ => Redirect::to("/runs"),
    }
}
