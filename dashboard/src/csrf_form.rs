//! `CsrfForm`: the form of a request that changes something, taken only with the logged-in
//! user's CSRF token. A handler that takes a `CsrfForm` cannot forget the check.
//!
//! The login form has no session yet and checks its own one-off token (`auth::login`); a
//! client's upload is multipart and checks the token itself (`check_csrf` in `client::upload`).

use crate::AppState;
use crate::auth::Current;
use crate::error::{AppError, Msg};
use axum::extract::{FromRequest, FromRequestParts, RawForm, Request};
use axum::http::StatusCode;
use runner::session::same_secret;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The logged-in user and the urlencoded form they sent, whose `csrf` field matched their
/// session's token (the form type `T` need not have that field).
///
/// Refused in this order: not logged in (as [`Current`]), a body that is no urlencoded form
/// (400, or 413 past the body limit), a missing or wrong token (403), a form `T` cannot be read from (400).
pub struct CsrfForm<T>(pub Current, pub T);

/// The form of a button that sends nothing but the token (log out, disable a user).
#[derive(Deserialize)]
pub struct NoFields {}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let cur = Current::from_request_parts(&mut parts, state).await?;
        let RawForm(bytes) = RawForm::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge(e.body_text().into()),
                _ => AppError::BadRequest(e.body_text().into()),
            })?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| AppError::BadRequest(e.to_string().into()))?;
        let sent = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v);
        check_csrf(&cur, sent.map(String::as_str))?;
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| AppError::BadRequest(format!("the form cannot be read: {e}").into()))?;
        Ok(CsrfForm(cur, form))
    }
}

/// Refuse (403) a request without this session's CSRF token. Only for [`CsrfForm`] and the
/// multipart upload, which reads its fields itself.
pub(crate) fn check_csrf(cur: &Current, sent: Option<&str>) -> Result<(), AppError> {
    match sent {
        Some(s) if same_secret(s, &cur.session.csrf) => Ok(()),
        _ => Err(AppError::Forbidden(Msg::key("err_form_expired"))),
    }
}
