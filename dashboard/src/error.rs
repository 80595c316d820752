//! `AppError`: what a request did wrong (400, 403, 404, 409) or an internal fault (500,
//! logged, shown as a generic message). Pages never show SQL or debug output.
//!
//! Messages are catalog keys with their values ([`Msg`]), so error pages are written in the
//! user's language: [`localize`] renders the page (`error.html`, on the same layout as every
//! page) in the logged-in user's language, else the browser's, with the user's menu. Text
//! that comes from elsewhere (a form parser) is shown as given.

use crate::AppState;
use crate::auth::{Current, SESSION_COOKIE, browser_lang, cookie};
use crate::i18n::Lang;
use crate::page::render;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
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

impl ErrorPage {
    /// The page in `lang`, with the menu of `cur` when someone is logged in.
    fn html(&self, lang: Lang, cur: Option<&Current>) -> Html<String> {
        let code = self.status.as_u16();
        let message = self.msg.text(lang);
        render(
            "error.html",
            lang,
            cur,
            context! { status => code, message => &message },
        )
        .unwrap_or_else(|e| {
            // Not `AppError::Internal`: that would be an error page again.
            tracing::error!(error = %format!("{e:?}"), "the error page cannot be rendered");
            Html(format!(
                "<!doctype html><title>{code} · kobo</title><p>{}</p>",
                escape(&message)
            ))
        })
    }
}

impl AppError {
    /// The status and message a user sees; `None` for a redirect to the login page.
    fn page(self) -> Option<ErrorPage> {
        let (status, msg) = match self {
            AppError::LoginRequired { page: true } => return None,
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
        Some(ErrorPage { status, msg })
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let Some(page) = self.page() else {
            return Redirect::to("/login").into_response();
        };
        // In English for nobody until `localize` knows who asked.
        let mut r = (page.status, page.html(Lang::En, None)).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r.extensions_mut().insert(page);
        r
    }
}

/// Middleware: write error pages for the user who asked: in their chosen language (else
/// their browser's), with their menu.
pub async fn localize(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let token = cookie(req.headers(), SESSION_COOKIE);
    let browser = browser_lang(req.headers());
    let mut r = next.run(req).await;
    let Some(page) = r.extensions_mut().remove::<ErrorPage>() else {
        return r;
    };
    // Looked up after the request: a page for a session just ended (or a language just
    // chosen) shows what is true now.
    let cur = match token {
        Some(token) => Current::from_token(&state, token, browser)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let lang = cur.as_ref().map_or(browser, |c| c.lang);
    if cur.is_some() || lang != Lang::En {
        let Html(body) = page.html(lang, cur.as_ref());
        r.headers_mut().remove(header::CONTENT_LENGTH);
        *r.body_mut() = Body::from(body);
    }
    r
}

/// Any address the dashboard has no page for.
pub async fn not_found() -> AppError {
    AppError::NotFound
}

fn escape(s: &str) -> String {
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

/// One error of each kind, for tests.
#[cfg(test)]
pub(crate) fn one_of_each() -> Vec<AppError> {
    let all = vec![
        AppError::LoginRequired { page: false },
        AppError::BadRequest(Msg::key("err_no_file")),
        AppError::Forbidden(Msg::key("err_forbidden")),
        AppError::NotFound,
        AppError::Conflict(Msg::Text("<b>as is</b>".into())),
        AppError::TooLarge(Msg::key("err_upload_too_large").with("mb", "50")),
        AppError::Internal("the cause, never shown".into()),
    ];
    for e in &all {
        // No `_ =>`: a new kind of error does not compile here until it is listed above.
        match e {
            AppError::LoginRequired { .. }
            | AppError::BadRequest(_)
            | AppError::Forbidden(_)
            | AppError::NotFound
            | AppError::Conflict(_)
            | AppError::TooLarge(_)
            | AppError::Internal(_) => {}
        }
    }
    all
}

/// Every status an error page can have: each has a title (`err_title_<status>`).
#[cfg(test)]
pub(crate) fn every_status() -> Vec<u16> {
    one_of_each()
        .into_iter()
        .filter_map(|e| e.page())
        .map(|p| p.status.as_u16())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_page_is_a_page_of_the_site_in_every_language() {
        for e in one_of_each() {
            let page = e.page().unwrap();
            for lang in Lang::ALL {
                let Html(html) = page.html(lang, None);
                let code = page.status.as_u16();
                assert!(
                    html.contains(&format!("<html lang=\"{}\">", lang.code()))
                        && html.contains("<header class=\"top\">")
                        && html.contains(&format!("<title>{code} · kobo</title>"))
                        && html.contains(&format!("<small>{code}</small>")),
                    "{html}"
                );
                assert!(
                    !html.contains("<b>") && !html.contains("never shown"),
                    "{html}"
                );
            }
        }
    }

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
}
