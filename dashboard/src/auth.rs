//! Logging in and out, `Current` (the logged-in user of a request) and roles.
//!
//! The session cookie is HttpOnly and SameSite=Lax (plus Secure when served over https);
//! every form that changes something carries the session's CSRF token in a hidden field,
//! checked by [`CsrfForm`].
//! The login form, which has no session yet, uses a one-off token in its own cookie.
//! Logins are refused for a while after too many failed attempts per name or per address
//! (`runner::login_limit`); [`client_address`] says which address counts behind a proxy.

use crate::AppState;
use crate::csrf_form::{CsrfForm, NoFields};
use crate::error::{AppError, Msg};
use crate::i18n::Lang;
use crate::page::render;
use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use minijinja::context;
use runner::login_limit::{self, Lockout};
use runner::session::{self, Session, same_secret};
use runner::{Role, audit, user};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};

pub const SESSION_COOKIE: &str = "kobo_session";
const LOGIN_COOKIE: &str = "kobo_login";

/// The logged-in user of this request, and the language to answer in.
pub struct Current {
    pub session: Session,
    pub lang: Lang,
    pub token: String,
    /// What is new for this user, counted for the header: runs to review (reviewers and
    /// admins), rejected runs not run again (a trainee), deliveries since her last visit
    /// (a client).
    pub notices: i64,
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

    /// The user of the session `token`, if it is a live session; their language is the one
    /// they chose, else `browser`'s.
    pub async fn from_token(
        state: &AppState,
        token: String,
        browser: Lang,
    ) -> Result<Option<Current>, AppError> {
        let Some(session) = session::lookup(state.records.pool(), &token).await? else {
            return Ok(None);
        };
        let lang = session
            .user
            .lang
            .as_deref()
            .and_then(Lang::from_code)
            .unwrap_or(browser);
        let notices = notices_for(state, &session.user).await?;
        Ok(Some(Current {
            session,
            lang,
            token,
            notices,
        }))
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
        Current::from_token(state, token, browser_lang(&parts.headers))
            .await?
            .ok_or(AppError::LoginRequired { page })
    }
}

/// The count in the header: what this user has waiting for them.
async fn notices_for(state: &AppState, user: &runner::User) -> Result<i64, AppError> {
    use runner::notice;
    let pool = state.records.pool();
    Ok(match user.role {
        Role::Admin | Role::Reviewer => notice::awaiting_count(pool).await?,
        Role::Trainee => notice::rejected_not_rerun(pool, &user.name).await?.len() as i64,
        Role::Client => match &user.client {
            Some(c) => {
                let seen = notice::seen_at(pool, &user.name).await?;
                notice::deliveries_since(pool, c, seen.as_deref()).await?
            }
            None => 0,
        },
    })
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

pub(crate) fn set_cookie(
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
    login_form(&state, browser_lang(&headers), None, Refusal::None)
}

/// Why the login form is shown again.
enum Refusal {
    None,
    /// Wrong name or password (the page does not say which).
    Failed,
    /// The right password for a disabled account: said only to someone who knows it.
    Disabled,
    /// Too many failed attempts: refused before the password was checked.
    Locked(Lockout),
}

/// The login form; after a refused attempt, with the name tried and why.
fn login_form(
    state: &AppState,
    lang: Lang,
    name: Option<&str>,
    refusal: Refusal,
) -> Result<Response, AppError> {
    let token = session::random_token();
    let locked = match &refusal {
        Refusal::Locked(l) => Some(
            Msg::key("login_locked")
                .with("minutes", l.minutes_left(Utc::now()).to_string())
                .text(lang),
        ),
        _ => None,
    };
    let html = render(
        "login.html",
        lang,
        None,
        context! {
            login_csrf => &token,
            failed => matches!(refusal, Refusal::Failed),
            disabled => matches!(refusal, Refusal::Disabled),
            locked => locked,
            name => name,
        },
    )?;
    let status = match refusal {
        Refusal::None => StatusCode::OK,
        Refusal::Failed => StatusCode::UNAUTHORIZED,
        Refusal::Disabled => StatusCode::FORBIDDEN,
        Refusal::Locked(_) => StatusCode::TOO_MANY_REQUESTS,
    };
    let mut r = (
        status,
        [(
            header::SET_COOKIE,
            set_cookie(state, LOGIN_COOKIE, &token, "/login", Some(600)),
        )],
        html,
    )
        .into_response();
    if let Refusal::Locked(l) = &refusal {
        let secs = (l.until - Utc::now()).num_seconds().max(1);
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Ok(r)
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    csrf: Option<String>,
}

/// The address a request came from, as the login limit counts it; see [`client_address`].
pub struct ClientAddress(pub Option<String>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddress(
            client_address(state, peer, &parts.headers).map(login_limit::address_key),
        ))
    }
}

/// Where a request came from:
/// - with `--trust-forwarded-for` (a proxy that sets `X-Forwarded-For` in front of the
///   dashboard), the last address in that header, the one the proxy added (earlier ones were
///   sent by the browser and prove nothing); the connection's address if there is none;
/// - behind an https proxy (`--secure-cookies`) whose header is not trusted, unknown: the
///   connection comes from the proxy, and counting it would lock everybody out at once;
/// - otherwise the connection's address (`X-Forwarded-For` is ignored: anyone can send it).
pub fn client_address(
    state: &AppState,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    if state.trust_forwarded_for {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|a| a.trim().parse::<IpAddr>().ok());
        return forwarded.or(peer);
    }
    if state.secure_cookies {
        return None;
    }
    peer
}

pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, AppError> {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(f.csrf.as_deref().unwrap_or(""), &expected) {
        return Err(AppError::Forbidden(Msg::key("err_form_expired")));
    }
    let name = f.name.trim().to_lowercase();
    let lang = browser_lang(&headers);
    let pool = state.records.pool();
    let address = address.as_deref();
    // Counted before the password is checked (and refused without checking it), for a known
    // name and an unknown one alike.
    if let Err(lockout) = login_limit::begin(pool, &name, address, Utc::now()).await? {
        tracing::warn!(name = %name, address = address.unwrap_or("unknown"), "login refused: too many failed attempts");
        return login_form(&state, lang, Some(&name), Refusal::Locked(lockout));
    }
    let user = match user::verify(pool, &name, &f.password).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            if let Some(lockout) = login_limit::failed(pool, &name, address, Utc::now()).await? {
                tracing::warn!(locked = ?lockout.locked, until = %lockout.until, "logins locked after failed attempts");
            }
            return login_form(&state, lang, Some(&name), Refusal::Failed);
        }
        Err(user::UserError::Disabled(_)) => {
            login_limit::succeeded(pool, &name).await?;
            return login_form(&state, lang, Some(&name), Refusal::Disabled);
        }
        Err(e) => return Err(AppError::Internal(e.to_string())),
    };
    login_limit::succeeded(pool, &name).await?;
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

pub async fn logout(
    State(state): State<AppState>,
    CsrfForm(cur, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    session::end(state.records.pool(), &cur.token).await?;
    let cookie = set_cookie(&state, SESSION_COOKIE, "", "/", Some(0));
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}

#[derive(Deserialize)]
pub struct LangForm {
    lang: String,
    back: Option<String>,
}

/// Choose the interface language (empty: follow the browser).
pub async fn set_lang(
    State(state): State<AppState>,
    CsrfForm(cur, f): CsrfForm<LangForm>,
) -> Result<Response, AppError> {
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
        Role::Trainee => Redirect::to("/work"),
        _ => Redirect::to("/runs"),
    }
}
