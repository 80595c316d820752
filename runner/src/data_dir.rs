//! `DataDir`: where kobo keeps everything, in one place.
//!
//! ```text
//! <data dir>/
//!   inbox/<client>/<workflow>/   files a client drops; `rejected/` and `duplicates/` beside them
//!   outbox/<client>/             approved outputs, delivered
//!   runs/<run id>/               one folder per run (see [`crate::run_folder`])
//!   records.db                   run records, reviews, users (the embedded default)
//!   queue.db                     the job queue (the embedded default)
//!   rates.yaml                   what the co-op pays per approved run or row (the admin's)
//!   limits.yaml                  how much one run may use (the admin's)
//!   mail.yaml                    how the dashboard sends notices by e-mail (optional)
//!   secrets.yaml                 passwords workflows use, when not in the environment
//!   deliveries-pending/          approvals being delivered (see [`crate::pending_delivery`])
//! ```
//!
//! The data directory's layout is made here, so that it is read in one file (a run
//! folder's own layout is [`crate::run_folder`]'s, an inbox folder's `rejected/` and
//! `duplicates/` are [`crate::inbox`]'s). A client's or workflow's name becomes a folder
//! name through [`safe_file_name`], so no name can reach outside its folder.

use crate::run::RunId;
use crate::run_folder::safe_file_name;
use std::path::{Path, PathBuf};

/// kobo's data directory (`--home`, `KOBO_HOME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    /// The data directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `inbox/`: one folder per client.
    pub fn inbox(&self) -> PathBuf {
        self.root.join("inbox")
    }

    /// `inbox/<client>/`: one folder per workflow the client sends files to.
    pub fn client_inbox(&self, client: &str) -> PathBuf {
        self.inbox().join(safe_file_name(client))
    }

    /// `inbox/<client>/<workflow>/`: a file dropped here becomes a run of that workflow.
    /// Client and workflow names that kobo accepts (`user::valid_name`, a workflow's slug)
    /// are left as they are, so the inbox watcher finds the workflow by the folder's name.
    pub fn workflow_inbox(&self, client: &str, workflow: &str) -> PathBuf {
        self.client_inbox(client).join(safe_file_name(workflow))
    }

    /// `outbox/`: one folder per client.
    pub fn outbox(&self) -> PathBuf {
        self.root.join("outbox")
    }

    /// `outbox/<client>/`: the client's approved files.
    pub fn client_outbox(&self, client: &str) -> PathBuf {
        self.outbox().join(safe_file_name(client))
    }

    /// `runs/`: one folder per run.
    pub fn runs(&self) -> PathBuf {
        self.root.join("runs")
    }

    /// `runs/<run id>`, as records store it (relative to the data directory).
    pub fn run_relative(id: &RunId) -> String {
        format!("runs/{id}")
    }

    /// `runs/<run id>/`: the run's folder.
    pub fn run(&self, id: &RunId) -> PathBuf {
        self.root.join(DataDir::run_relative(id))
    }

    /// `records.db`: the embedded run records.
    pub fn records_db(&self) -> PathBuf {
        self.root.join("records.db")
    }

    /// `queue.db`: the embedded job queue.
    pub fn queue_db(&self) -> PathBuf {
        self.root.join("queue.db")
    }

    /// `rates.yaml`: the admin's rates.
    pub fn rates_file(&self) -> PathBuf {
        self.root.join("rates.yaml")
    }

    /// `limits.yaml`: the admin's bounds for one run.
    pub fn limits_file(&self) -> PathBuf {
        self.root.join("limits.yaml")
    }

    /// `mail.yaml`: how notices are sent by e-mail.
    pub fn mail_file(&self) -> PathBuf {
        self.root.join("mail.yaml")
    }

    /// `deliveries-pending/`: one note per approval whose copies are being made.
    pub fn pending_deliveries(&self) -> PathBuf {
        self.root.join("deliveries-pending")
    }

    /// `secrets.yaml`: secrets not given in the environment.
    pub fn secrets_file(&self) -> PathBuf {
        self.root.join("secrets.yaml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_users_stay_inside_their_folders() {
        let d = DataDir::new("/data");
        assert_eq!(d.client_inbox("../etc"), Path::new("/data/inbox/_etc"));
        assert_eq!(
            d.workflow_inbox("acme", "../../runs"),
            Path::new("/data/inbox/acme/_.._runs")
        );
        assert_eq!(d.client_outbox("a/b"), Path::new("/data/outbox/a_b"));
        assert_eq!(
            d.workflow_inbox("acme", "請求書"),
            Path::new("/data/inbox/acme/請求書")
        );
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        let d = DataDir::new("/data");
        let id = RunId("20261206-abc".into());
        assert_eq!(d.run(&id), Path::new("/data/runs/20261206-abc"));
        assert_eq!(DataDir::run_relative(&id), "runs/20261206-abc");
        assert_eq!(d.records_db(), Path::new("/data/records.db"));
        assert_eq!(d.queue_db(), Path::new("/data/queue.db"));
        assert_eq!(d.rates_file(), Path::new("/data/rates.yaml"));
        assert_eq!(d.secrets_file(), Path::new("/data/secrets.yaml"));
    }
}
