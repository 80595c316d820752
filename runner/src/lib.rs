//! kobo's engine.
//!
//! Reading workflows:
//! - [`workflow`]: `Workflow`, a trainee's bot read from YAML; [`steps`]: `Step` and its kinds, by family (table, control, browser).
//! - [`validate`]: checks names (tables, columns, params, secrets) after the file is read.
//! - [`reader`], [`source_map`], [`definition_error`]: errors that point at `file:line:col`.
//! - [`bot_test`]: a workflow's test cases (`kobo test`): inputs and expected outputs.
//! - [`expr`]: templates and expressions (`{{ row['金額'] * 1.1 }}`) through minijinja.
//!
//! Data:
//! - [`data_dir`]: `DataDir`, the layout of the data directory (inbox, outbox, runs, files).
//! - [`table`]: `Table` and `Cell`, the rows of a sheet in memory.
//! - [`sheet`]: read xlsx/xls/ods/CSV (UTF-8/16, Shift_JIS/CP932, EUC-JP, ISO-2022-JP) into
//!   tables; write xlsx and CSV.
//!
//! Running:
//! - [`mod@execute`]: one whole run, recorded; [`engine`]: the steps themselves.
//! - [`run`]: `RunId`, `RunStatus`, row results; [`run_folder`]: a run's files and log.
//! - [`record`]: `Records`, the run records in SQLite (or PostgreSQL when scaled out);
//!   [`run_files`]: a run's files carried in the records for workers on other machines.
//! - [`progress`]: each `for_each` row's outcome kept as it ends (resume, rows in doubt, keys).
//! - [`limits`]: how much one run may use (memory, output files), set by the admin.
//! - [`secrets`]: secret values from the environment or a secrets file, masked everywhere.
//! - [`fault`]: named pause points where crash tests `kill -9` kobo.
//!
//! The queue (`kobo serve`, `kobo worker`):
//! - [`service`]: `service::start(config) -> Handle`: recovery after a crash, the inbox watch,
//!   the requeue loop and the workers, stopped together (tokio-util's `CancellationToken`).
//! - [`inbox`]: client folders `inbox/<client>/<workflow>/`: settled files become runs.
//! - [`catalogue`]: which workflow an inbox folder starts, found in the workflows folder.
//! - [`submit`]: put one run in the queue (folder, input, queued record, job).
//! - [`queue`]: `JobQueue`, the jobs on apalis (SQLite `queue.db`, or Redis).
//! - [`worker`]: takes jobs and runs them with `execute`, retrying only what is temporary;
//!   [`child_run`]: each run in a process of its own, so one that crashes stops alone.
//!
//! Browser:
//! - [`browser`]: `Browser`, Chromium through chromedriver; `Locator` (`label: 氏名`), waits, `BrowserError`;
//!   `BrowserAhead`, the browser a worker starts ahead of its next run (fresh profile per run).
//! - [`web_address`]: a workflow may only open web pages (`http:`, `https:`), never `file:`.

//!
//! Reviewing and paying (the dashboard's domain):
//! - [`review`]: `Review`, a reviewer's decision, and when a run can be reviewed (then frozen).
//! - [`delivery`]: `Delivery`, an approved run's outputs copied into the client's outbox.
//! - [`pending_delivery`]: `PendingDelivery`, so that copies of an approval cut short are taken back.
//! - [`payout`]: rates set by the admin (`rates.yaml`) and the trainees' ledger, in yen.
//! - [`client_lang`]: `ClientLang`, the language each client reads (her deliveries' words).
//! - [`notice`]: `Notice`, what a person should hear about (runs to review, a rejection, a delivery).
//! - [`user`]: `User` and `Role`, password hashes; [`session`]: dashboard logins and CSRF tokens.
//! - [`login_limit`]: `Lockout`, logins refused after too many failed attempts (per name, per address).
//! - [`audit`]: the append-only log of who did what.

pub mod audit;
pub mod bot_test;
pub mod browser;
pub mod catalogue;
pub mod child_run;
pub mod client_lang;
pub mod data_dir;
pub mod definition_error;
pub mod delivery;
pub mod engine;
pub mod execute;
pub mod expr;
pub mod fault;
pub mod group;
pub mod inbox;
pub mod limits;
pub mod login_limit;
pub mod notice;
pub mod payout;
pub mod pending_delivery;
pub mod progress;
pub mod queue;
pub mod reader;
pub mod record;
pub mod review;
pub mod run;
pub mod run_files;
pub mod run_folder;
pub mod secrets;
pub mod service;
pub mod session;
pub mod sheet;
pub mod source_map;
pub mod steps;
pub mod submit;
pub mod table;
pub mod user;
pub mod validate;
pub mod web_address;
pub mod worker;
pub mod workflow;

pub use definition_error::{DefinitionError, DefinitionErrors};
pub use execute::{RunOptions, RunOutcome, execute};
pub use inbox::{Inbox, InboxSettings};
pub use queue::{JobQueue, QueueLocation, QueueSettings, RunJob};
pub use record::Records;
pub use review::{Review, ReviewState};
pub use run::{RunId, RunStatus};
pub use sheet::{SheetError, SheetSpec};
pub use steps::{Step, StepKind};
pub use table::{Cell, Table};
pub use user::{Role, User};
pub use worker::{WorkerSettings, run_worker};
pub use workflow::Workflow;
