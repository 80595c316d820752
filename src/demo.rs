//! `kobo demo`: everything a newcomer needs to see kobo work, on the embedded default.
//!
//! It writes demo rates and accounts (only where none exist), starts the practice portal,
//! drops Acme's sample files into their inboxes, then runs `kobo serve` with the dashboard.
//! The runs it makes wait for review under "Awaiting review".

use crate::{Home, QueueArgs, serve};
use anyhow::{Context, Result};
use runner::data_dir::DataDir;
use runner::user::{self, Role};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

/// Demo accounts: (name, role, client, password). Printed for the newcomer; change them
/// (or start from an empty data directory) before real use.
const ACCOUNTS: &[(&str, Role, Option<&str>, &str)] = &[
    ("admin", Role::Admin, None, "admin-password"),
    ("kenji", Role::Reviewer, None, "kenji-password"),
    ("olena", Role::Trainee, None, "olena-password"),
    ("sato", Role::Client, Some("acme"), "sato-password"),
];

const RATES: &str =
    "# Demo rates in yen, set by the admin: per approved run, plus per row that ended ok.
rates:
  - client: acme
    workflow: invoice-report
    per_run: 500
    per_ok_row: 20
  - client: acme
    workflow: portal-entry
    per_run: 300
    per_ok_row: 50
";

/// The practice portal's demo login, for `workflows/portal-entry.yaml` (and `kobo test`).
pub const PORTAL_USER: &str = "demo";
pub const PORTAL_PASSWORD: &str = "kobo-demo-pass";
const SECRETS: &str = "portal_user: demo\nportal_password: kobo-demo-pass\n";

pub async fn demo(home: &Home, dashboard: SocketAddr) -> Result<ExitCode> {
    let data = home.data();
    std::fs::create_dir_all(data.root())
        .with_context(|| format!("creating `{}`", data.root().display()))?;
    write_if_missing(&data.rates_file(), RATES)?;
    write_if_missing(&data.secrets_file(), SECRETS)?;
    let records = home.open_records().await?;
    for (name, role, client, password) in ACCOUNTS {
        match user::add(records.pool(), name, *role, *client, password).await {
            Ok(_) | Err(user::UserError::Exists(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }

    // The practice portal on the address the example workflow expects.
    let portal = match tokio::net::TcpListener::bind("127.0.0.1:8765").await {
        Ok(listener) => {
            tokio::spawn(portal::serve(listener, std::future::pending()));
            true
        }
        Err(e) => {
            eprintln!(
                "kobo demo: the practice portal could not start on 127.0.0.1:8765 ({e}); skipping the browser sample"
            );
            false
        }
    };
    drop_sample(
        &data,
        "invoice-report",
        "fixtures/clients/acme/invoices.csv",
    )?;
    if portal {
        drop_sample(&data, "portal-entry", "fixtures/clients/acme/contacts.csv")?;
    }

    println!(
        "\nkobo demo: open http://{dashboard} and log in as `kenji` with the password `kenji-password`.\n\
         The sample runs appear under \"Awaiting review\" once they finish (a few seconds).\n\
         Other demo accounts: admin/admin-password, olena/olena-password (trainee), sato/sato-password (client acme).\n\
         Data is in `{}`. Ctrl-C stops kobo.\n",
        data.root().display()
    );
    let queue = QueueArgs {
        queue: None,
        run_timeout: None,
        heartbeat_secs: 5,
        in_process: false,
        no_warm_browser: false,
    };
    serve::serve(
        home,
        Path::new("workflows"),
        &queue,
        2,
        50,
        500,
        // The demo's accounts have published passwords: it is for trying kobo on this machine
        // only, over plain http, so its cookies cannot be Secure.
        Some(serve::DashboardArgs {
            listen: dashboard,
            secure_cookies: false,
            trust_forwarded_for: false,
        }),
    )
    .await
}

fn write_if_missing(path: &Path, text: &str) -> Result<()> {
    if !path.exists() {
        std::fs::write(path, text).with_context(|| format!("writing `{}`", path.display()))?;
    }
    Ok(())
}

/// Copy a sample file into `inbox/acme/<workflow>/`, as a client would.
fn drop_sample(data: &DataDir, workflow: &str, sample: &str) -> Result<()> {
    let dir = data.workflow_inbox("acme", workflow);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating `{}`", dir.display()))?;
    let name = Path::new(sample).file_name().context("sample file name")?;
    std::fs::copy(sample, dir.join(name))
        .with_context(|| format!("copying `{sample}` (run kobo demo from the repository)"))?;
    Ok(())
}
