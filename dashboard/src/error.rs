//! `AppError`: what a request did wrong (400, 403, 404, 409) or an internal fault (500,
//! logged, shown as a generic message). Pages never show SQL or debug output.
//!
//! Messages are catalog keys with their values ([`Msg`]), so error pages are written in the
//! user's language: [`localize`] re-renders an error page for the logged-in user's language
//! (or the browser's). Text that comes from elsewhere (a form parser) is shown as given.

use crate::AppState;
use crate::auth::{SESSION_COOKIE, browser_lang, cookie};
use crate::i18n::Lang;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use runner::review::ReviewError;

/// A message for the user: a catalog key and the values for its `{placeholders}`, or text as is.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(&'static str, Vec<(&'static str, Arg)>),
    Text(String),
}

/// A value in a message: shown as is, or itself a catalog key (a run status, a role).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Key(String),
}

impl Msg {
    pub fn key(key: &'static str) -> Msg {
        Msg::Key(key, Vec::new())
    }

    /// Fill `{name}` with `value`, as given.
    pub fn with(self, name: &'static str, value: impl Into<String>) -> Msg {
        self.arg(name, Arg::Text(value.into()))
    }

    /// Fill `{name}` with the catalog's text for `key`.
    pub fn with_key(self, name: &'static str, key: impl Into<String>) -> Msg {
        self.arg(name, Arg::Key(key.into()))
    }

    fn arg(self, name: &'static str, value: Arg) -> Msg {
        match self {
            Msg::Key(k, mut args) => {
                args.push((name, value));
                Msg::Key(k, args)
            }
            text => text,
        }
    }

    /// The message in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        match self {
            Msg::Text(t) => t.clone(),
            Msg::Key(key, args) => {
                // One pass, so a value that looks like `{name}` is shown as it is.
                let template = lang.t(key);
                let mut out = String::with_capacity(template.len());
                let mut rest = template;
                while let Some(open) = rest.find('{') {
                    out.push_str(&rest[..open]);
                    let after = &rest[open + 1..];
                    let arg = after.find('}').and_then(|close| {
                        let name = &after[..close];
                        let (_, v) = args.iter().find(|(n, _)| *n == name)?;
                        Some((close, v))
                    });
                    match arg {
                        Some((close, v)) => {
                            out.push_str(match v {
                                Arg::Text(t) => t,
                                Arg::Key(k) => lang.t(k),
                            });
                            rest = &after[close + 1..];
                        }
                        None => {
                            out.push('{');
                            rest = after;
                        }
                    }
                }
                out.push_str(rest);
                out
            }
        }
    }
}

impl From<String> for Msg {
    fn from(s: String) -> Msg {
        Msg::Text(s)
    }
}

#[derive(Debug)]
pub enum AppError {
    /// Not logged in: pages redirect to the login page; other requests get 401.
    LoginRequired {
        page: bool,
    },
    BadRequest(Msg),
    Forbidden(Msg),
    NotFound,
    Conflict(Msg),
    /// 413: an upload larger than the limit.
    TooLarge(Msg),
    /// Logged with its cause; the user sees only a generic message.
    Internal(String),
}

impl AppError {
    pub fn forbidden() -> AppError {
        AppError::Forbidden(Msg::key("err_forbidden"))
    }
}

/// An error page's status and message, kept on the response so [`localize`] can write it in
/// the user's language.
#[derive(Debug, Clone)]
struct ErrorPage {
    status: StatusCode,
    msg: Msg,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, msg) = match self {
            AppError::LoginRequired { page: true } => {
                return Redirect::to("/login").into_response();
            }
            AppError::LoginRequired { page: false } => {
                (StatusCode::UNAUTHORIZED, Msg::key("err_login_required"))
            }
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            AppError::NotFound => (StatusCode::NOT_FOUND, Msg::key("err_not_found")),
            AppError::Conflict(m) => (StatusCode::CONFLICT, m),
            AppError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            AppError::Internal(cause) => {
                tracing::error!(%cause, "dashboard request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, Msg::key("err_internal"))
            }
        };
        let mut r = (status, error_page(status, &msg, Lang::En)).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r.extensions_mut().insert(ErrorPage { status, msg });
        r
    }
}

/// An error page in `lang`.
fn error_page(status: StatusCode, msg: &Msg, lang: Lang) -> Html<String> {
    let code = status.as_u16();
    let title = lang.t(&format!("err_title_{code}")).to_string();
    Html(format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{code} · kobo</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head>\
         <body><main><h1>{title}</h1><p class=\"error\">{msg}</p><p><a href=\"/\">{back}</a></p><p><small>{code}</small></p></main></body></html>",
        lang = lang.code(),
        title = escape(&title),
        msg = escape(&msg.text(lang)),
        back = escape(lang.t("err_back")),
    ))
}

/// Middleware: write error pages in the language of the user who asked (their chosen
/// language, else their browser's).
pub async fn localize(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let token = cookie(req.headers(), SESSION_COOKIE);
    let browser = browser_lang(req.headers());
    let mut r = next.run(req).await;
    let Some(page) = r.extensions_mut().remove::<ErrorPage>() else {
        return r;
    };
    let mut lang = browser;
    if let Some(token) = token
        && let Ok(Some(s)) = runner::session::lookup(state.records.pool(), &token).await
        && let Some(chosen) = s.user.lang.as_deref().and_then(Lang::from_code)
    {
        lang = chosen;
    }
    if lang != Lang::En {
        let Html(body) = error_page(page.status, &page.msg, lang);
        r.headers_mut().remove(header::CONTENT_LENGTH);
        *r.body_mut() = Body::from(body);
    }
    r
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Why a run cannot be approved yet because of its author, for the run page and errors.
pub fn author_problem(e: &ReviewError) -> Option<Msg> {
    match e {
        ReviewError::UnknownAuthor { author } => {
            Some(Msg::key("err_unknown_author").with("author", author.clone()))
        }
        ReviewError::AuthorNotATrainee { author, role } => Some(
            Msg::key("err_author_not_trainee")
                .with("author", author.clone())
                .with_key("role", format!("role_{role}")),
        ),
        _ => None,
    }
}

impl From<ReviewError> for AppError {
    fn from(e: ReviewError) -> Self {
        if let Some(msg) = author_problem(&e) {
            return AppError::Conflict(msg);
        }
        match e {
            ReviewError::NoSuchRun(_) => AppError::NotFound,
            ReviewError::NotAReviewer => AppError::forbidden(),
            ReviewError::OwnRun(name) => {
                AppError::Forbidden(Msg::key("err_own_run").with("name", name))
            }
            ReviewError::CommentRequired => AppError::BadRequest(Msg::key("err_comment_required")),
            ReviewError::Superseded { rerun, .. } => {
                AppError::Conflict(Msg::key("err_superseded").with("rerun", rerun))
            }
            ReviewError::NotReviewable { status, .. } => AppError::Conflict(
                Msg::key("err_not_reviewable").with_key("status", format!("status_{status}")),
            ),
            ReviewError::AlreadyReviewed { state, .. } => AppError::Conflict(
                Msg::key("err_already_reviewed").with_key("state", format!("state_{state}")),
            ),
            ReviewError::NoRate { client, workflow } => AppError::Conflict(
                Msg::key("err_no_rate")
                    .with("client", client)
                    .with("workflow", workflow),
            ),
            // The admin's file, not the reviewer's doing: say what is wrong and where.
            ReviewError::Rates(e) => {
                AppError::Conflict(Msg::key("err_rates_invalid").with("problem", e.to_string()))
            }
            ReviewError::Delivery(runner::delivery::DeliveryError::Changed(file)) => {
                AppError::Conflict(Msg::key("err_output_changed").with("file", file))
            }
            ReviewError::Delivery(runner::delivery::DeliveryError::AlreadyInOutbox(file)) => {
                AppError::Conflict(Msg::key("err_already_in_outbox").with("file", file))
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<runner::record::StoreError> for AppError {
    fn from(e: runner::record::StoreError) -> Self {
        match e {
            runner::record::StoreError::NoSuchRun(_)
            | runner::record::StoreError::AmbiguousRun { .. } => AppError::NotFound,
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<minijinja::Error> for AppError {
    fn from(e: minijinja::Error) -> Self {
        AppError::Internal(format!("template: {e:#}"))
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_fill_their_values_once_and_in_the_users_language() {
        let m = Msg::key("err_no_rate")
            .with("client", "{workflow}")
            .with("workflow", "invoice-report");
        assert_eq!(
            m.text(Lang::En),
            "No rate is set for client {workflow}, workflow invoice-report. The admin adds one to rates.yaml; then approve again."
        );
        let m = Msg::key("err_not_reviewable").with_key("status", "status_failed");
        assert!(
            m.text(Lang::Uk).contains("«з помилкою»"),
            "{}",
            m.text(Lang::Uk)
        );
        assert_eq!(Msg::Text("as is {x}".into()).text(Lang::Ja), "as is {x}");
    }

    /// Every message key the code uses is in the catalogs (they all have the same keys).
    #[test]
    fn every_message_key_exists() {
        let sources = [
            include_str!("admin.rs"),
            include_str!("auth.rs"),
            include_str!("client.rs"),
            include_str!("error.rs"),
            include_str!("runs.rs"),
            include_str!("ledger.rs"),
        ];
        let catalog = Lang::En.catalog();
        let mut keys: Vec<String> = [400, 401, 403, 404, 409, 413, 500]
            .iter()
            .map(|c| format!("err_title_{c}"))
            .collect();
        keys.push("err_back".into());
        for src in sources {
            for part in src.split("Msg::key(\"").skip(1) {
                keys.push(part.split('"').next().unwrap().to_string());
            }
        }
        assert!(keys.len() > 20, "{keys:?}");
        let missing: Vec<&String> = keys.iter().filter(|k| !catalog.contains_key(*k)).collect();
        assert!(missing.is_empty(), "no message for {missing:?}");
    }
}
