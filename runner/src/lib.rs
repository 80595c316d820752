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
//! Browser:
//! - [`browser`]: `Browser`, Chromium through chromedriver; `Locator` (`label: 氏名`), waits, `BrowserError`.

pub mod browser;
pub mod definition_error;
pub mod expr;
pub mod reader;
pub mod sheet;
pub mod source_map;
pub mod step;
pub mod table;
pub mod validate;
pub mod workflow;

pub use definition_error::{DefinitionError, DefinitionErrors};
pub use sheet::{SheetError, SheetSpec};
pub use step::{Step, StepKind};
pub use table::{Cell, Table};
pub use workflow::Workflow;
