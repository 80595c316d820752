//! `AppError`: what a request did wrong (400, 403, 404, 409) or an internal fault (500,
//! logged, shown as a generic message). Pages never show SQL or debug output.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use runner::review::ReviewError;

#[derive(Debug)]
pub enum AppError {
    /// Not logged in: pages redirect to the login page; other requests get 401.
    LoginRequired {
        page: bool,
    },
    BadRequest(String),
    Forbidden(String),
    NotFound,
    Conflict(String),
    /// Logged with its cause; the user sees only a generic message.
    Internal(String),
}

impl AppError {
    pub fn forbidden() -> AppError {
        AppError::Forbidden("You do not have access to this page.".into())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AppError::LoginRequired { page: true } => {
                return Redirect::to("/login").into_response();
            }
            AppError::LoginRequired { page: false } => {
                (StatusCode::UNAUTHORIZED, "Please log in.".to_string())
            }
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            AppError::NotFound => (StatusCode::NOT_FOUND, "There is nothing here.".to_string()),
            AppError::Conflict(m) => (StatusCode::CONFLICT, m),
            AppError::Internal(cause) => {
                tracing::error!(%cause, "dashboard request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side; it has been logged.".to_string(),
                )
            }
        };
        let body = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{code} · kobo</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head>\
             <body><main><h1>{code}</h1><p class=\"error\">{msg}</p><p><a href=\"/\">kobo</a></p></main></body></html>",
            code = status.as_u16(),
            msg = escape(&message)
        );
        let mut r = (status, Html(body)).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

impl From<ReviewError> for AppError {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::NoSuchRun(_) => AppError::NotFound,
            ReviewError::NotAReviewer | ReviewError::OwnRun(_) => {
                AppError::Forbidden(e.to_string())
            }
            ReviewError::CommentRequired => AppError::BadRequest(e.to_string()),
            ReviewError::NotReviewable { .. }
            | ReviewError::AlreadyReviewed { .. }
            | ReviewError::NoRate { .. }
            | ReviewError::Delivery(runner::delivery::DeliveryError::Changed(_)) => {
                AppError::Conflict(e.to_string())
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
            runner::record::StoreError::NoSuchRun(_) => AppError::NotFound,
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
