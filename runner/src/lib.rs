//! kobo's engine.
//!
//! - [`table`]: `Table` and `Cell`, the rows of a sheet in memory.
//! - [`sheet`]: read xlsx/xls/ods/CSV (any Japanese encoding) into tables; write xlsx and CSV.

pub mod sheet;
pub mod table;

pub use sheet::{SheetError, SheetSpec};
pub use table::{Cell, Table};
