//! kobo's engine.
//!
//! Reading workflows:
//! - [`workflow`]: `Workflow`, a trainee's bot read from YAML; [`step`]: `Step` and its kinds.
//! - [`validate`]: checks names (tables, columns, params, secrets) after the file is read.
//! - [`reader`], [`source_map`], [`definition_error`]: errors that point at `file:line:col`.
//! - [`expr`]: templates and expressions (`{{ row['金額'] * 1.1 }}`) through minijinja.
//!
//! Data:
//! - [`table`]: `Table` and `Cell`, the rows of a sheet in memory.
//! - [`sheet`]: read xlsx/xls/ods/CSV (any Japanese encoding) into tables; write xlsx and CSV.
//!
//! Running:
//! - [`execute`]: one whole run, recorded; [`engine`]: the steps themselves.
//! - [`run`]: `RunId`, `RunStatus`, row results; [`run_folder`]: a run's files and log.
//! - [`record`]: `Records`, the run records in SQLite.
//! - [`secrets`]: secret values from the environment or a secrets file, masked everywhere.
//!
//! Reviewing and paying (the dashboard's domain):
//! - [`review`]: `Review`, a reviewer's decision, and when a run can be reviewed (then frozen).
//! - [`delivery`]: `Delivery`, an approved run's outputs copied into the client's outbox.
//! - [`payout`]: rates set by the admin (`rates.yaml`) and the trainees' ledger, in yen.
//! - [`user`]: `User` and `Role`, password hashes; [`session`]: dashboard logins and CSRF tokens.
//! - [`audit`]: the append-only log of who did what.

pub mod audit;
pub mod definition_error;
pub mod delivery;
pub mod engine;
pub mod execute;
pub mod expr;
pub mod payout;
pub mod reader;
pub mod record;
pub mod review;
pub mod run;
pub mod run_folder;
pub mod secrets;
pub mod session;
pub mod sheet;
pub mod source_map;
pub mod step;
pub mod table;
pub mod user;
pub mod validate;
pub mod workflow;

pub use definition_error::{DefinitionError, DefinitionErrors};
pub use execute::{RunOptions, RunOutcome, execute};
pub use record::Records;
pub use review::{Review, ReviewState};
pub use run::{RunId, RunStatus};
pub use sheet::{SheetError, SheetSpec};
pub use step::{Step, StepKind};
pub use table::{Cell, Table};
pub use user::{Role, User};
pub use workflow::Workflow;
