//! The client's pages: their own company's jobs and delivered files, and a form to send an
//! input file. A client user sees nothing of any other client.

use crate::AppState;
use crate::auth::Current;
use crate::csrf_form::check_csrf;
use crate::error::{AppError, Msg};
use crate::files::send_file;
use crate::job;
use crate::page::render;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use runner::data_dir::DataDir;
use runner::review::{self, RunFilter};
use runner::{Role, audit, delivery};
use serde::Deserialize;

/// Spreadsheets kobo reads (the inbox's list); anything else is refused at the door.
const ACCEPTED: &[&str] = runner::inbox::SPREADSHEET_EXTENSIONS;

/// The longest file name taken, in bytes: it is stored with a time stamp (16 bytes, and
/// `-NNNN` for a name sent again in the same second) in front, and file systems take 255.
const MAX_NAME_BYTES: usize = 200;

/// Uploads of one name stored in one second; one more is refused (409), to try again.
const MAX_SAME_SECOND: u32 = 1000;

fn client_of(cur: &Current) -> Result<String, AppError> {
    cur.require(&[Role::Client])?;
    cur.user().client.clone().ok_or_else(AppError::forbidden)
}

/// The workflows a client can send files to: the folders `kobo serve` made under
/// `inbox/<client>/`, one per workflow of that client.
pub fn inbox_workflows(home: &std::path::Path, client: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(DataDir::new(home).client_inbox(client))
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
    /// An upload with the same content as a file already received: its name.
    duplicate: Option<String>,
    /// When that earlier file was received (RFC 3339).
    earlier: Option<String>,
}

/// A delivered file for the page, marked new when it came after her last visit.
#[derive(serde::Serialize)]
struct DeliveryView {
    file_name: String,
    delivered_at: String,
    title: String,
    new: bool,
}

/// A task the client can send a file to: its folder name and what she calls it.
#[derive(serde::Serialize)]
struct Task {
    name: String,
    title: String,
}

pub async fn page(
    State(state): State<AppState>,
    cur: Current,
    Query(q): Query<ClientQuery>,
) -> Result<Response, AppError> {
    let client = client_of(&cur)?;
    let pool = state.records.pool();
    let runs = review::list(
        &state.records,
        &RunFilter {
            client: Some(client.clone()),
            limit: Some(100),
            ..Default::default()
        },
    )
    .await?;
    let workflows_dir = state.reruns.as_ref().map(|r| r.workflows.as_path());
    let titles = job::titles(pool, &state.home, workflows_dir, &client).await;
    let jobs = job::jobs(pool, &runs, &titles, cur.lang, job::Reader::Client).await;
    // New deliveries are those after her last visit; this visit counts as seen from now.
    let seen = runner::notice::seen_at(pool, &cur.user().name).await?;
    runner::notice::mark_seen(pool, &cur.user().name).await?;
    let workflow_of: std::collections::BTreeMap<&str, &str> = runs
        .iter()
        .map(|s| (s.run.id.0.as_str(), s.run.workflow.as_str()))
        .collect();
    let deliveries: Vec<DeliveryView> = delivery::for_client(pool, &client)
        .await?
        .into_iter()
        .map(|d| DeliveryView {
            title: workflow_of
                .get(d.run_id.as_str())
                .map(|w| job::title_for(&titles, w, cur.lang))
                .unwrap_or_default(),
            new: seen.as_deref().is_none_or(|s| d.delivered_at.as_str() > s),
            file_name: d.file_name,
            delivered_at: d.delivered_at,
        })
        .collect();
    let tasks: Vec<Task> = inbox_workflows(&state.home, &client)
        .into_iter()
        .map(|name| Task {
            title: job::title_for(&titles, &name, cur.lang),
            name,
        })
        .collect();
    let html = render(
        "client.html",
        cur.lang,
        Some(&cur),
        context! {
            client => client,
            jobs => Value::from_serialize(&jobs),
            deliveries => Value::from_serialize(&deliveries),
            uploaded => q.uploaded,
            duplicate => q.duplicate,
            earlier => q.earlier,
            tasks => Value::from_serialize(&tasks),
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
        &DataDir::new(&state.home)
            .client_outbox(&client)
            .join(&d.file_name),
        &d.file_name,
    )
    .await
}

/// The page for a file over the limit, in words the client can act on.
fn too_large(limit: u64) -> AppError {
    AppError::TooLarge(
        Msg::key("err_upload_too_large").with("mb", (limit / (1024 * 1024)).max(1).to_string()),
    )
}

/// A form that cannot be read. The size limit is the one a client meets: say it in words.
fn multipart_error(e: axum::extract::multipart::MultipartError, limit: u64) -> AppError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        too_large(limit)
    } else {
        AppError::BadRequest(e.body_text().into())
    }
}

/// The name a browser sends is the file's own name; anything that could name another place
/// (a folder part, `..`, control characters) or that the file system cannot hold is refused.
fn check_upload_name(name: &str) -> Result<(), AppError> {
    if name.trim().is_empty()
        || name.starts_with('.')
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c == ':' || c.is_control())
    {
        return Err(AppError::BadRequest(Msg::key("err_not_a_file_name")));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(AppError::BadRequest(
            Msg::key("err_file_name_too_long").with("max", MAX_NAME_BYTES.to_string()),
        ));
    }
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    if !name.contains('.') || !ACCEPTED.contains(&ext.as_str()) {
        return Err(AppError::BadRequest(
            Msg::key("err_file_type")
                .with("types", ACCEPTED.join(", "))
                .with("name", name),
        ));
    }
    Ok(())
}

/// `POST /client/upload`: a file into one of the client's task inboxes.
///
/// Who may upload is decided before the body is read; the file is read chunk by chunk and
/// refused (413) as soon as it passes the inbox's size limit.
pub async fn upload(
    State(state): State<AppState>,
    cur: Current,
    mut form: Multipart,
) -> Result<Response, AppError> {
    let client = client_of(&cur)?;
    let limit = state.max_upload_bytes;
    let mut csrf = None;
    let mut workflow: Option<String> = None;
    let mut file: Option<(String, Vec<u8>)> = None;
    let err = |e| multipart_error(e, limit);
    while let Some(mut field) = form.next_field().await.map_err(err)? {
        match field.name() {
            Some("csrf") => csrf = Some(field.text().await.map_err(err)?),
            Some("workflow") => workflow = Some(field.text().await.map_err(err)?),
            Some("file") => {
                let name = field.file_name().unwrap_or("").to_string();
                if name.is_empty() {
                    continue;
                }
                check_upload_name(&name)?;
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(err)? {
                    if (bytes.len() + chunk.len()) as u64 > limit {
                        return Err(too_large(limit));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                file = Some((name, bytes));
            }
            _ => {}
        }
    }
    // Multipart, so not a `CsrfForm`: the token is checked here, once the fields are read.
    check_csrf(&cur, csrf.as_deref())?;
    let (name, bytes) = file
        .filter(|(_, b)| !b.is_empty())
        .ok_or_else(|| AppError::BadRequest(Msg::key("err_no_file")))?;
    let stamp = chrono::Utc::now()
        .with_timezone(&runner::payout::jst())
        .format("%Y%m%d-%H%M%S");
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
    // The same content as a file already received for this task (queued, running or done):
    // the inbox would set it aside without running it, so say so now, in her words.
    let hash = runner::run_folder::bytes_sha256(&bytes);
    if let Some(earlier) = state.records.same_input(&client, &workflow, &hash).await? {
        audit::append(
            state.records.pool(),
            &cur.user().name,
            "upload.duplicate",
            &format!("inbox/{client}/{workflow}/{name}"),
            Some(&format!("same content as run {}", earlier.id)),
        )
        .await?;
        return Ok(Redirect::to(&format!(
            "/client?duplicate={}&earlier={}",
            percent(&name),
            percent(&earlier.created_at.to_rfc3339())
        ))
        .into_response());
    }
    // Two uploads of one name in the same second are two files: the second gets `-2` after
    // the time, and no upload ever replaces a file waiting in the inbox.
    let names = (1..=MAX_SAME_SECOND).map(|n| match n {
        1 => format!("{stamp}_{name}"),
        n => format!("{stamp}-{n}_{name}"),
    });
    // Where an uploaded file goes: the client's inbox, as if dropped into the shared folder.
    let dir = DataDir::new(&state.home)
        .client_inbox(&client)
        .join(&workflow);
    let stored = match delivery::write_new(&dir, names, &bytes) {
        Ok(path) => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(AppError::Conflict(Msg::key("err_upload_busy")));
        }
        Err(e) => return Err(e.into()),
    };
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

/// Percent-encode everything but letters, digits and `._-` (for a URL's query or a cookie).
pub(crate) fn percent(s: &str) -> String {
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
