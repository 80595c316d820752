//! The client's pages: their own company's jobs and delivered files, and a form to send an
//! input file. A client user sees nothing of any other client.

use crate::AppState;
use crate::auth::Current;
use crate::error::{AppError, Msg};
use crate::files::send_file;
use crate::page::render;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use runner::review::{self, RunFilter};
use runner::run_folder::safe_file_name;
use runner::{Role, audit, delivery};
use serde::Deserialize;
use std::path::PathBuf;

/// Spreadsheets kobo reads; anything else is refused at the door.
const ACCEPTED: &[&str] = &["csv", "xlsx", "xlsm", "xls", "ods"];

fn client_of(cur: &Current) -> Result<String, AppError> {
    cur.require(&[Role::Client])?;
    cur.user().client.clone().ok_or_else(AppError::forbidden)
}

/// Where an uploaded file goes: the client's inbox, as if dropped into the shared folder.
pub fn inbox_dir(home: &std::path::Path, client: &str) -> PathBuf {
    home.join("inbox").join(safe_file_name(client))
}

/// The workflows a client can send files to: the folders `kobo serve` made under
/// `inbox/<client>/`, one per workflow of that client.
pub fn inbox_workflows(home: &std::path::Path, client: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(inbox_dir(home, client))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| runner::workflow::is_slug(n))
        .collect();
    names.sort();
    names
}

#[derive(Deserialize, Default)]
pub struct ClientQuery {
    uploaded: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    cur: Current,
    Query(q): Query<ClientQuery>,
) -> Result<Response, AppError> {
    let client = client_of(&cur)?;
    let runs = review::list(
        &state.records,
        &RunFilter {
            client: Some(client.clone()),
            limit: Some(100),
            ..Default::default()
        },
    )
    .await?;
    let deliveries = delivery::for_client(state.records.pool(), &client).await?;
    let html = render(
        "client.html",
        cur.lang,
        Some(&cur),
        context! {
            client => client,
            runs => Value::from_serialize(&runs),
            deliveries => Value::from_serialize(&deliveries),
            uploaded => q.uploaded,
            workflows => inbox_workflows(&state.home, &client),
            accepted => ACCEPTED.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(","),
        },
    )?;
    Ok(html.into_response())
}

pub async fn download(
    State(state): State<AppState>,
    cur: Current,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    if name.contains('/') || name.contains('\\') || name.starts_with('.') || name.is_empty() {
        return Err(AppError::BadRequest(Msg::key("err_not_a_file_name")));
    }
    let client = client_of(&cur)?;
    let d = delivery::find(state.records.pool(), &client, &name)
        .await?
        .ok_or(AppError::NotFound)?;
    send_file(
        &delivery::outbox_dir(&state.home, &client).join(&d.file_name),
        &d.file_name,
    )
    .await
}

/// A form that cannot be read. The size limit is the one a client meets: say it in words.
fn multipart_error(e: axum::extract::multipart::MultipartError) -> AppError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        AppError::BadRequest(
            Msg::key("err_upload_too_large")
                .with("mb", (crate::UPLOAD_LIMIT / (1024 * 1024)).to_string()),
        )
    } else {
        AppError::BadRequest(e.body_text().into())
    }
}

pub async fn upload(
    State(state): State<AppState>,
    cur: Current,
    mut form: Multipart,
) -> Result<Response, AppError> {
    let mut csrf = None;
    let mut workflow: Option<String> = None;
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("csrf") => csrf = Some(field.text().await.map_err(multipart_error)?),
            Some("workflow") => workflow = Some(field.text().await.map_err(multipart_error)?),
            Some("file") => {
                let name = field.file_name().unwrap_or("").to_string();
                let bytes = field.bytes().await.map_err(multipart_error)?;
                file = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    cur.check_csrf(csrf.as_deref())?;
    let client = client_of(&cur)?;
    let (name, bytes) = file
        .filter(|(n, b)| !n.is_empty() && !b.is_empty())
        .ok_or_else(|| AppError::BadRequest(Msg::key("err_no_file")))?;
    let name = safe_file_name(name.rsplit(['/', '\\']).next().unwrap_or(&name));
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    if !ACCEPTED.contains(&ext.as_str()) {
        return Err(AppError::BadRequest(
            Msg::key("err_file_type")
                .with("types", ACCEPTED.join(", "))
                .with("name", &name),
        ));
    }
    let stamp = chrono::Utc::now()
        .with_timezone(&runner::payout::jst())
        .format("%Y%m%d-%H%M%S");
    let stored = format!("{stamp}_{name}");
    // Only a folder that exists for this client is accepted, so the name cannot lead elsewhere.
    let workflows = inbox_workflows(&state.home, &client);
    let workflow = match workflow {
        Some(w) if workflows.contains(&w) => w,
        _ if workflows.is_empty() => {
            return Err(AppError::BadRequest(Msg::key("err_no_task")));
        }
        _ => {
            return Err(AppError::BadRequest(Msg::key("err_choose_task")));
        }
    };
    delivery::write_atomic(
        &inbox_dir(&state.home, &client).join(&workflow),
        &stored,
        &bytes,
    )?;
    audit::append(
        state.records.pool(),
        &cur.user().name,
        "upload",
        &format!("inbox/{client}/{workflow}/{stored}"),
        None,
    )
    .await?;
    Ok(Redirect::to(&format!("/client?uploaded={}", percent(&name))).into_response())
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
