//! `Mailer`: notices by e-mail, plain text, in each person's language, through SMTP.
//!
//! Configured by `KOBO_SMTP_URL` (`smtp://host:25`, `smtps://user:pass@host`, or
//! `smtp://host:587?tls=required`) or by `mail.yaml` in the data directory:
//!
//! ```yaml
//! smtp: smtp://127.0.0.1:25
//! from: kobo <kobo@coop.example>
//! dashboard_url: https://kobo.coop.example   # optional: links in the messages
//! ```
//!
//! Without either, nothing is sent (the dashboard's header still counts what is new).
//! [`send_pending`] runs every minute inside the dashboard: one message per person for
//! what happened since (runs to review; rejected runs; deliveries). A message that cannot be
//! sent is logged and not tried again; approving, rejecting and delivering never wait for it.

use crate::i18n::Lang;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use runner::notice::{self, Notice};
use runner::record::RunRecord;
use runner::{Records, Role};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// `mail.yaml` in the data directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// The SMTP server's URL.
    pub smtp: String,
    /// The sender, `kobo <kobo@coop.example>`.
    #[serde(default = "default_from")]
    pub from: String,
    /// The dashboard's address, for links in the messages.
    #[serde(default)]
    pub dashboard_url: Option<String>,
}

fn default_from() -> String {
    "kobo <kobo@localhost>".into()
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("cannot read `{path}`: {message}")]
    Settings { path: String, message: String },
    #[error("`{0}` is not an e-mail address kobo can send from or to")]
    Address(String),
    #[error("the message could not be made: {0}")]
    Message(String),
    #[error("the SMTP server `{server}` did not take the message: {message}")]
    Smtp { server: String, message: String },
}

impl MailSettings {
    /// The settings: `KOBO_SMTP_URL` (with `KOBO_MAIL_FROM`) first, else `<home>/mail.yaml`;
    /// `None` when neither is there.
    pub fn load(home: &Path) -> Result<Option<MailSettings>, MailError> {
        if let Ok(url) = std::env::var("KOBO_SMTP_URL")
            && !url.trim().is_empty()
        {
            return Ok(Some(MailSettings {
                smtp: url.trim().to_string(),
                from: std::env::var("KOBO_MAIL_FROM").unwrap_or_else(|_| default_from()),
                dashboard_url: std::env::var("KOBO_DASHBOARD_URL").ok(),
            }));
        }
        let path = runner::data_dir::DataDir::new(home).mail_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(MailError::Settings {
                    path: path.display().to_string(),
                    message: e.to_string(),
                });
            }
        };
        serde_yaml::from_str(&text)
            .map(Some)
            .map_err(|e| MailError::Settings {
                path: path.display().to_string(),
                message: e.to_string(),
            })
    }

    /// The server, without a password, for logs.
    fn server(&self) -> String {
        match self.smtp.split_once("://") {
            Some((scheme, rest)) => {
                let host = rest.rsplit('@').next().unwrap_or(rest);
                format!("{scheme}://{host}")
            }
            None => self.smtp.clone(),
        }
    }

    /// Send one plain-text message.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), MailError> {
        let from: Mailbox = self
            .from
            .parse()
            .map_err(|_| MailError::Address(self.from.clone()))?;
        let to_box: Mailbox = to.parse().map_err(|_| MailError::Address(to.into()))?;
        let message = Message::builder()
            .from(from)
            .to(to_box)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| MailError::Message(e.to_string()))?;
        let smtp = |e: lettre::transport::smtp::Error| MailError::Smtp {
            server: self.server(),
            message: e.to_string(),
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&self.smtp)
            .map_err(smtp)?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        transport.send(message).await.map_err(smtp)?;
        Ok(())
    }

    fn link(&self, path: &str) -> String {
        match &self.dashboard_url {
            Some(base) => format!("\n{}{path}\n", base.trim_end_matches('/')),
            None => String::new(),
        }
    }
}

/// A person to write to: address and language.
struct Recipient {
    name: String,
    email: String,
    lang: Lang,
}

/// Active users with an e-mail address, with the language each reads: their own choice, else
/// (a client user) their client's, else English.
async fn recipients(records: &Records) -> Result<Vec<(runner::User, Recipient)>, sqlx::Error> {
    let pool = records.pool();
    let emails = runner::user::emails(pool).await?;
    let mut out = Vec::new();
    for u in runner::user::list(pool).await? {
        let Some(email) = emails.get(&u.name) else {
            continue;
        };
        if u.disabled {
            continue;
        }
        let lang = match (u.lang.as_deref().and_then(Lang::from_code), &u.client) {
            (Some(l), _) => l,
            (None, Some(c)) => {
                let l = runner::client_lang::get(pool, c).await?;
                Lang::from_code(l.code()).unwrap_or(Lang::Ja)
            }
            (None, None) => Lang::En,
        };
        let r = Recipient {
            name: u.name.clone(),
            email: email.clone(),
            lang,
        };
        out.push((u, r));
    }
    Ok(out)
}

/// What one [`send_pending`] did: messages sent and messages that failed (logged).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub sent: usize,
    pub failed: usize,
}

/// Send every notice not sent yet, one message per person and kind. Nothing when mail is
/// not configured.
pub async fn send_pending(records: &Records, home: &Path) -> Result<Sent, MailError> {
    let Some(settings) = MailSettings::load(home)? else {
        return Ok(Sent::default());
    };
    let db = |e: sqlx::Error| MailError::Message(format!("reading the records: {e}"));
    let people = recipients(records).await.map_err(db)?;
    let pool = records.pool();
    let mut out = Sent::default();
    let mut send = async |r: &Recipient, subject: String, body: String| match settings
        .send(&r.email, &subject, &body)
        .await
    {
        Ok(()) => out.sent += 1,
        Err(e) => {
            out.failed += 1;
            tracing::warn!(to = %r.name, "a notice could not be sent: {e}");
        }
    };

    // Runs awaiting review: one message to each reviewer.
    let awaiting = notice::unsent(pool, Notice::Awaiting).await.map_err(db)?;
    if !awaiting.is_empty() {
        for (u, r) in &people {
            if u.role != Role::Reviewer {
                continue;
            }
            let lang = r.lang;
            let list: Vec<String> = awaiting
                .iter()
                .map(|run| {
                    format!(
                        "- {} / {} ({}): {}",
                        run.client,
                        run.workflow,
                        run.trainee,
                        run.input_name.as_deref().unwrap_or("—")
                    )
                })
                .collect();
            let subject = lang
                .t("mail_awaiting_subject")
                .replace("{n}", &awaiting.len().to_string());
            let body = format!(
                "{}\n\n{}\n{}",
                lang.t("mail_awaiting_body"),
                list.join("\n"),
                settings.link("/runs")
            );
            send(r, subject, body).await;
        }
        for run in &awaiting {
            notice::mark_sent(pool, &run.id.0, Notice::Awaiting)
                .await
                .map_err(db)?;
        }
    }

    // Rejected runs: one message to each trainee, with the reviewers' comments.
    let rejected = notice::unsent(pool, Notice::Rejected).await.map_err(db)?;
    let mut by_trainee: BTreeMap<String, Vec<&RunRecord>> = BTreeMap::new();
    for run in &rejected {
        by_trainee
            .entry(run.trainee.to_lowercase())
            .or_default()
            .push(run);
    }
    for (u, r) in &people {
        if u.role != Role::Trainee {
            continue;
        }
        let Some(runs) = by_trainee.get(&u.name) else {
            continue;
        };
        let lang = r.lang;
        let mut lines = Vec::new();
        for run in runs {
            let review = runner::review::get(pool, &run.id.0).await.map_err(db)?;
            let comment = review.and_then(|r| r.comment).unwrap_or_default();
            lines.push(format!(
                "- {} ({}): {}{}",
                run.workflow,
                lang.datetime(&run.created_at.to_rfc3339()),
                comment,
                settings.link(&format!("/runs/{}", run.id))
            ));
        }
        let subject = lang
            .t("mail_rejected_subject")
            .replace("{n}", &runs.len().to_string());
        let body = format!(
            "{}\n\n{}\n\n{}\n{}",
            lang.t("mail_rejected_body"),
            lines.join("\n"),
            lang.t("next_rejected"),
            settings.link("/work")
        );
        send(r, subject, body).await;
    }
    for run in &rejected {
        notice::mark_sent(pool, &run.id.0, Notice::Rejected)
            .await
            .map_err(db)?;
    }

    // Deliveries: one message to each user of the client.
    let delivered = notice::unsent(pool, Notice::Delivered).await.map_err(db)?;
    let mut by_client: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for run in &delivered {
        let files = runner::delivery::for_run(pool, &run.id.0)
            .await
            .map_err(db)?;
        by_client
            .entry(run.client.clone())
            .or_default()
            .extend(files.into_iter().map(|d| d.file_name));
    }
    for (u, r) in &people {
        let Some(files) = u.client.as_ref().and_then(|c| by_client.get(c)) else {
            continue;
        };
        let lang = r.lang;
        let subject = lang
            .t("mail_delivered_subject")
            .replace("{n}", &files.len().to_string());
        let list: Vec<String> = files.iter().map(|f| format!("- {f}")).collect();
        let body = format!(
            "{}\n\n{}\n{}",
            lang.t("mail_delivered_body"),
            list.join("\n"),
            settings.link("/client")
        );
        send(r, subject, body).await;
    }
    for run in &delivered {
        notice::mark_sent(pool, &run.id.0, Notice::Delivered)
            .await
            .map_err(db)?;
    }
    Ok(out)
}

/// Send pending notices every `every` until the process ends; errors are logged.
pub async fn notice_loop(records: Records, home: std::path::PathBuf, every: std::time::Duration) {
    loop {
        match send_pending(&records, &home).await {
            Ok(s) if s.sent + s.failed > 0 => {
                tracing::info!(sent = s.sent, failed = s.failed, "notices by e-mail")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("notices by e-mail: {e}"),
        }
        tokio::time::sleep(every).await;
    }
}
