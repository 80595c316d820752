//! One workflow run against the practice portal, in a data directory of its own, with the
//! portal's address as `params.portal_url` and its demo sign-in as the secrets
//! `portal_user` and `portal_password`. Browser tests include this file with `#[path]`.
#![allow(dead_code)]

use portal::PortalHandle;
use runner::browser::BrowserOffer;
use runner::record::Records;
use runner::secrets::Secrets;
use runner::{RunOptions, RunOutcome, RunStatus, Workflow};
use std::path::Path;

/// Steps that sign in to the portal and wait for its menu.
pub const LOGIN: &str = concat!(
    "  - open: \"{{ params.portal_url }}/login\"\n",
    "  - fill: { label: ユーザーID, value: \"{{ secrets.portal_user }}\" }\n",
    "  - fill: { label: パスワード, value: \"{{ secrets.portal_password }}\" }\n",
    "  - click: ログイン\n",
    "  - wait_for: { url_contains: /menu }\n",
);

/// A finished run: its outcome, its log, and the records (kept with their folder).
pub struct Ran {
    pub outcome: RunOutcome,
    pub records: Records,
    _home: tempfile::TempDir,
}

impl Ran {
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.outcome.folder.join("log.jsonl")).unwrap_or_default()
    }

    pub fn succeeded(&self) -> &Self {
        assert_eq!(
            self.outcome.status,
            RunStatus::Succeeded,
            "{:?}\n{}",
            self.outcome.error,
            self.log()
        );
        self
    }

    pub fn error(&self) -> String {
        assert_eq!(self.outcome.status, RunStatus::Failed, "{}", self.log());
        self.outcome.error.clone().unwrap_or_default()
    }

    pub fn output(&self, name: &str) -> String {
        let path = self.outcome.folder.join("outputs").join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), self.log()));
        // kobo writes CSV with a byte order mark, for Excel.
        text.trim_start_matches('\u{feff}').to_string()
    }
}

/// Run the workflow `name` whose top-level keys after `secrets` are `more` (each line
/// ending in a newline, e.g. `retry: { attempts: 1 }\n`) and whose steps are `steps`,
/// offered the browser `offer` if any.
pub async fn run_workflow(
    portal: &PortalHandle,
    name: &str,
    more: &str,
    steps: &str,
    offer: Option<BrowserOffer>,
) -> Ran {
    let text = format!(
        "name: {name}\nclient: t\nauthor: olena\nparams:\n  portal_url: x\n\
         secrets: [portal_user, portal_password]\n{more}steps:\n{steps}"
    );
    let w = Workflow::parse(Path::new(&format!("{name}.yaml")), &text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let home = tempfile::tempdir().unwrap();
    let records = Records::open(&home.path().join("records.db"))
        .await
        .unwrap();
    let mut opts = RunOptions::new(home.path());
    opts.params.insert("portal_url".into(), portal.url().into());
    opts.secrets = Secrets::from_pairs([
        ("portal_user".to_string(), "demo".to_string()),
        ("portal_password".to_string(), "kobo-demo-pass".to_string()),
    ]);
    opts.browser_ahead = offer;
    let outcome = runner::execute(&w, &records, opts).await.unwrap();
    Ran {
        outcome,
        records,
        _home: home,
    }
}
