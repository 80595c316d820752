//! kobo dashboard: the web pages where reviewers approve runs, trainees follow their work and
//! pay, clients fetch deliveries, and the admin manages users (issue 5, "Review dashboard").
//!
//! The rules (who may review, delivering and crediting once) live in `runner`'s `review`,
//! `delivery`, `payout`, `user`, `session` and `audit` modules; this crate is only the web:
//! - [`auth`]: logging in and out, `Current` (the request's user), roles.
//! - [`csrf_form`]: `CsrfForm`, how a handler takes a form that changes something: only with
//!   the session's CSRF token.
//! - [`runs`]: the review list (search, filters, pages, approving several clean runs at
//!   once), one run in full, approve/reject and on to the next run, a run's files;
//!   [`sheet_view`]: a sheet as the reviewer reads it (numbers, dates, pages, differences).
//! - [`ledger`]: a trainee's approved work and monthly statements (xlsx).
//! - [`client`]: a client's jobs, deliveries and uploads.
//! - [`trainee`]: a trainee's own work: what to do next on rejected runs, every run's status.
//! - [`job`]: `Job`, a run in plain words for its client or trainee (status, reason, title).
//! - [`mail`]: notices by e-mail (SMTP), sent every minute when configured.
//! - [`admin`]: users and roles (add, change role, disable, reset password, e-mail), clients
//!   (language, rates), the audit log.
//! - [`page`]: embedded templates and security headers; [`i18n`]: English, Japanese, Ukrainian.
//! - [`error`]: `AppError`, the status and message a user sees, on a page like the others
//!   (in their language, with their menu); [`files`]: sending files.
//!
//! Pages are rendered on the server, no build step. One small script (`static/review.js`)
//! adds keyboard shortcuts to the review pages; every form works without it.

pub mod admin;
pub mod auth;
pub mod client;
pub mod csrf_form;
pub mod error;
pub mod files;
pub mod groups;
pub mod i18n;
pub mod job;
pub mod ledger;
pub mod mail;
pub mod page;
pub mod runs;
pub mod sheet_view;
pub mod trainee;

pub use error::AppError;
pub use i18n::Lang;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use runner::Records;
use std::future::Future;
use std::path::PathBuf;

/// What every request needs: the data directory and the records database.
#[derive(Clone)]
pub struct AppState {
    /// The data directory (`KOBO_HOME`): run folders, outbox, inbox, rates.yaml.
    pub home: PathBuf,
    pub records: Records,
    /// Mark cookies `Secure` (set when the dashboard is served over https by a proxy).
    pub secure_cookies: bool,
    /// Take the client's address from the last `X-Forwarded-For` entry (set when a proxy
    /// that writes it serves the dashboard); see [`auth::client_address`].
    pub trust_forwarded_for: bool,
    /// Largest file a client may upload, in bytes: the inbox's limit (`--max-file-mb`), so
    /// that nothing the dashboard takes is then rejected by the inbox for its size.
    pub max_upload_bytes: u64,
    /// Where reruns are queued and the workflows they run: set by `kobo serve`; without
    /// them (`kobo dashboard` alone) the page says to use `kobo rerun` on the server.
    pub reruns: Option<Reruns>,
}

/// What the dashboard needs to queue a rerun.
#[derive(Clone, Debug)]
pub struct Reruns {
    pub queue: runner::QueueLocation,
    pub workflows: PathBuf,
}

/// The upload limit when none is given: the inbox's default, 50 MiB.
pub const DEFAULT_UPLOAD_LIMIT: u64 = 50 * 1024 * 1024;

/// Room in an upload's body for the form's other fields and the multipart headers.
const FORM_OVERHEAD: u64 = 64 * 1024;

/// The dashboard's routes. Every route checks the user's role on the server.
pub fn app(state: AppState) -> Router {
    // The body limit is a backstop; the upload itself stops reading at the file's limit.
    let body_limit =
        usize::try_from(state.max_upload_bytes.saturating_add(FORM_OVERHEAD)).unwrap_or(usize::MAX);
    Router::new()
        .route("/", get(auth::home))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/lang", post(auth::set_lang))
        .route("/runs", get(runs::list))
        .route("/runs/approve", post(runs::approve_many))
        .route("/runs/{id}", get(runs::show))
        .route("/runs/{id}/approve", post(runs::approve))
        .route("/runs/{id}/reject", post(runs::reject))
        .route("/runs/{id}/rerun", post(runs::rerun))
        .route("/runs/{id}/rows/done", post(runs::mark_done))
        .route("/runs/{id}/files/{*path}", get(runs::file))
        .route("/groups", get(groups::page))
        .route("/groups/runs/{id}/first-review", post(groups::first_review))
        .route("/work", get(trainee::page))
        .route("/ledger", get(ledger::page))
        .route("/ledger/{file}", get(ledger::statement))
        .route("/client", get(client::page))
        .route("/client/deliveries/{name}", get(client::download))
        .route(
            "/client/upload",
            post(client::upload).layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/admin", get(admin::page))
        .route("/admin/users", post(admin::add_user))
        .route("/admin/users/{name}/role", post(admin::set_role))
        .route("/admin/users/{name}/disable", post(admin::disable))
        .route("/admin/users/{name}/enable", post(admin::enable))
        .route("/admin/users/{name}/password", post(admin::reset_password))
        .route("/admin/users/{name}/email", post(admin::set_email))
        .route("/admin/clients/{name}/lang", post(admin::set_client_lang))
        .route("/admin/rates", post(admin::set_rate))
        .route("/admin/rates/remove", post(admin::remove_rate))
        .route("/static/style.css", get(page::stylesheet))
        .route("/static/review.js", get(page::review_script))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            error::localize,
        ))
        .layer(axum::middleware::map_response(page::security_headers))
        .with_state(state)
}

/// Say at start when failed logins cannot be counted per address: behind an https proxy
/// (`--secure-cookies`) every connection comes from the proxy, so only a trusted
/// `X-Forwarded-For` tells browsers apart.
pub fn warn_about_proxy(secure_cookies: bool, trust_forwarded_for: bool) {
    if secure_cookies && !trust_forwarded_for {
        eprintln!(
            "note: failed logins are limited per user name only: behind a proxy every connection comes from the proxy. \
             If the proxy sets X-Forwarded-For to the browser's address, add --trust-forwarded-for to limit them per address too."
        );
    }
}

/// Serve the dashboard on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Notices by e-mail, when configured (`mail.yaml` or `KOBO_SMTP_URL`); never in the way.
    let notices = tokio::spawn(mail::notice_loop(
        state.records.clone(),
        state.home.clone(),
        std::time::Duration::from_secs(60),
    ));
    // The connection's address: the login limit counts failed attempts per address.
    let served = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    notices.abort();
    served
}
