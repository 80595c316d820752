//! The bad-input catalogue: every case here is a mistake a trainee or a client really makes,
//! and `docs/errors.md` shows the exact message kobo gives for each.
//!
//! The messages are not copied by hand: this test runs each case through kobo (reading the
//! workflow, reading the spreadsheet, or running the workflow on a file) and builds the page
//! from what kobo really said. It fails when the page differs from that, so the page cannot
//! drift from the code. After changing a message, regenerate the page with
//!
//! ```text
//! KOBO_BLESS=1 cargo test --test error_catalogue
//! ```
//!
//! and read the diff: every message must still say where the problem is and what to do.

use runner::record::Records;
use runner::secrets::Secrets;
use runner::sheet::{SheetRef, SheetSpec, read_table};
use runner::{RunOptions, Workflow, execute};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The file name workflow messages use; the CLI shows the path the trainee typed.
const WORKFLOW_FILE: &str = "invoice-entry.yaml";

/// The three lines every workflow needs, put in front of the workflow cases that are not
/// about them.
const HEAD: &str = "name: invoice-entry\nclient: acme\nauthor: olena\n";

/// A small CSV of orders, used by the cases that run a workflow.
const ORDERS: &str = "番号,品名,金額\n1,りんご,100\n2,みかん,\n3,ぶどう,300\n";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    Workflow,
    Sheet,
    Run,
}

impl Group {
    fn heading(self) -> &'static str {
        match self {
            Group::Workflow => "Mistakes in a workflow file",
            Group::Sheet => "Spreadsheets kobo cannot read",
            Group::Run => "Problems found when the workflow runs on the file",
        }
    }

    fn intro(self) -> &'static str {
        match self {
            Group::Workflow => {
                "kobo reads the whole workflow before it does anything, and lists every problem \
                 at once. Each message starts with `file:line:column`, shows the line with a `^` \
                 under the place, and ends with a `hint:` that says what to change. `kobo validate \
                 invoice-entry.yaml` shows the same messages without running anything."
            }
            Group::Sheet => {
                "These are files a client may send. kobo looks at what is inside a file, not only \
                 at its name, so a PDF or a web page saved as `.xlsx` is named for what it is. \
                 Each message names the file (and the sheet or row) and says what to ask the \
                 client or what to change in `inputs:`."
            }
            Group::Run => {
                "Some problems can only be seen when the workflow meets the real file: a column \
                 that is not there, an Excel error in a cell, a secret that was not given. The \
                 run stops (or marks the row as failed, with `on_error: mark_row_failed`) and the \
                 run record keeps this message. It names the step and its line, and the row."
            }
        }
    }
}

/// Where a spreadsheet's bytes come from.
enum Data {
    Bytes(&'static [u8]),
    /// A file under `fixtures/`.
    Fixture(&'static str),
    /// Made by a function (e.g. an xlsx written here).
    Made(fn() -> Vec<u8>),
}

enum Input {
    /// A workflow's text.
    Yaml(&'static str),
    /// A workflow's text after [`HEAD`].
    Steps(&'static str),
    /// A spreadsheet read with `read_table`. `sheet`: a name or a 1-based number.
    Sheet {
        file: &'static str,
        data: Data,
        sheet: &'static str,
        header_row: usize,
        range: Option<&'static str>,
        what: &'static str,
    },
    /// A workflow (after [`HEAD`]) run on one input file.
    Run {
        steps: &'static str,
        file: &'static str,
        data: Data,
        secrets: &'static [(&'static str, &'static str)],
    },
}

struct Case {
    title: &'static str,
    input: Input,
}

impl Case {
    fn group(&self) -> Group {
        match self.input {
            Input::Yaml(_) | Input::Steps(_) => Group::Workflow,
            Input::Sheet { .. } => Group::Sheet,
            Input::Run { .. } => Group::Run,
        }
    }
}

fn wf(title: &'static str, yaml: &'static str) -> Case {
    Case {
        title,
        input: Input::Yaml(yaml),
    }
}

fn steps(title: &'static str, yaml: &'static str) -> Case {
    Case {
        title,
        input: Input::Steps(yaml),
    }
}

fn sheet(
    title: &'static str,
    file: &'static str,
    data: Data,
    what: &'static str,
    (sheet, header_row, range): (&'static str, usize, Option<&'static str>),
) -> Case {
    Case {
        title,
        input: Input::Sheet {
            file,
            data,
            sheet,
            header_row,
            range,
            what,
        },
    }
}

fn run(title: &'static str, steps: &'static str, file: &'static str, data: Data) -> Case {
    Case {
        title,
        input: Input::Run {
            steps,
            file,
            data,
            secrets: &[],
        },
    }
}

const FIRST: (&str, usize, Option<&str>) = ("1", 1, None);

fn cases() -> Vec<Case> {
    use Data::*;
    vec![
        // ------------------------------------------------------------ YAML syntax
        steps(
            "A quote that is never closed",
            "steps:\n  - log: \"Hello\n  - click: 登録\n",
        ),
        steps("A tab used for indentation", "steps:\n\t- log: hi\n"),
        steps(
            "A list item indented less than the ones before it",
            "steps:\n    - log: one\n  - log: two\n",
        ),
        steps(
            "Text with `: ` in it, without quotes",
            "steps:\n  - log: Total: {{ params.total }}\n",
        ),
        wf(
            "The same key twice",
            "name: invoice-entry\nname: invoice-entry-2\nclient: acme\nauthor: olena\nsteps:\n  - log: hi\n",
        ),
        wf("An empty file", ""),
        wf(
            "A list instead of a workflow",
            "- open: https://portal.example\n- click: ログイン\n",
        ),
        // ------------------------------------------------------------ the top of the file
        wf(
            "`name`, `client` and `author` missing",
            "steps:\n  - log: hi\n",
        ),
        wf(
            "A name with spaces (names are used in folder names)",
            "name: invoice entry\nclient: Acme Inc.\nauthor: olena\nsteps:\n  - log: hi\n",
        ),
        wf(
            "An author written with a capital (it must be the trainee's user name)",
            "name: invoice-entry\nclient: acme\nauthor: Olena\nsteps:\n  - log: hi\n",
        ),
        steps("A misspelt top-level key", "step:\n  - log: hi\n"),
        steps("No steps at all", "steps: []\n"),
        steps(
            "A `title` in a language kobo does not show (only `ja`, `en`, `uk`)",
            "title: { ja: 請求書の入力, fr: Saisie des factures }\nsteps:\n  - log: hi\n",
        ),
        steps(
            "`version` written as a list",
            "version: [1, 2]\nsteps:\n  - log: hi\n",
        ),
        steps("`steps` is not a list", "steps: open the portal\n"),
        steps(
            "`secrets` written as one word instead of a list",
            "secrets: portal_user portal_password\nsteps:\n  - log: hi\n",
        ),
        steps(
            "`timeout_minutes` is not a number",
            "timeout_minutes: one hour\nsteps:\n  - log: hi\n",
        ),
        steps(
            "An absurd `timeout_minutes`",
            "timeout_minutes: 1000000\nsteps:\n  - log: hi\n",
        ),
        steps(
            "An absurd browser timeout",
            "browser: { element_timeout_secs: 100000 }\nsteps:\n  - open: https://portal.example\n",
        ),
        // ------------------------------------------------------------ inputs
        steps(
            "A misspelt key in an input",
            "inputs:\n  invoices: { headerrow: 2 }\nsteps:\n  - log: hi\n",
        ),
        steps(
            "`header_row` is not a number",
            "inputs:\n  invoices: { header_row: first }\nsteps:\n  - log: hi\n",
        ),
        steps(
            "`same_file_as` names an input that does not exist",
            "inputs:\n  invoices: {}\n  customers: { sheet: 2, same_file_as: invoice }\nsteps:\n  - log: hi\n",
        ),
        steps(
            "A `range` that is not a cell range",
            "inputs:\n  invoices: { header_row: 2, range: \"ZZ:1\" }\nsteps:\n  - log: hi\n",
        ),
        steps(
            "A column name that is not among the input's `columns`",
            "inputs:\n  invoices: { columns: [請求書番号, 金額] }\nsteps:\n  - sort: { table: invoices, by: 金顔 }\n",
        ),
        // ------------------------------------------------------------ steps
        steps("A misspelt step kind", "steps:\n  - clik: ログイン\n"),
        steps(
            "A column name in other letters than a-z written after a dot",
            "inputs: { payments: {} }\nsteps:\n  - for_each: payments\n    steps:\n      - log: \"{{ row.Номер }}\"\n",
        ),
        steps(
            "An empty block of steps",
            "steps:\n  - try: []\n    catch:\n      - log: \"{{ error }}\"\n",
        ),
        steps(
            "A misspelt key inside a step",
            "steps:\n  - fill: { lable: 氏名, value: x }\n",
        ),
        steps("Two kinds in one step", "steps:\n  - log: a\n    fail: b\n"),
        steps("A step with no kind", "steps:\n  - name: nothing\n"),
        steps("An empty step", "steps:\n  -\n  - log: hi\n"),
        steps(
            "`for_each` without its steps",
            "inputs: { invoices: {} }\nsteps:\n  - for_each: invoices\n",
        ),
        steps(
            "A wrong type: text where a number is needed",
            "steps:\n  - pause: 1\n    timeout_secs: thirty\n",
        ),
        steps(
            "An `on_error` value that does not exist",
            "steps:\n  - log: hi\n    on_error: ignore\n",
        ),
        steps(
            "`mark_row_failed` and `skip_row` outside `for_each`",
            "steps:\n  - skip_row: no amount\n    on_error: mark_row_failed\n",
        ),
        // ------------------------------------------------------------ templates and names
        steps(
            "A template with a syntax error",
            "inputs: { invoices: {} }\nsteps:\n  - for_each: invoices\n    steps:\n      - log: \"{{ row['金額'] * }}\"\n",
        ),
        steps(
            "A template that is never closed",
            "steps:\n  - log: \"Total {{ params.total\"\n",
        ),
        steps(
            "An `if` condition that is not an expression",
            "inputs: { invoices: {} }\nsteps:\n  - for_each: invoices\n    steps:\n      - if: \"row['金額'] >\"\n        then: [ { log: big } ]\n",
        ),
        steps(
            "A secret that is not declared",
            "secrets: [portal_user]\nsteps:\n  - fill: { label: ID, value: \"{{ secrets.portal_usr }}\" }\n",
        ),
        steps(
            "A param that is not declared",
            "params: { rate: 0.1 }\nsteps:\n  - log: \"{{ params.tax_rate }}\"\n",
        ),
        steps(
            "A table that does not exist",
            "inputs: { invoices: {} }\nsteps:\n  - for_each: invoice\n    steps:\n      - log: hi\n",
        ),
        steps(
            "A variable that is never set",
            "steps:\n  - log: \"{{ totl }}\"\n",
        ),
        steps(
            "`row` used outside `for_each`",
            "steps:\n  - log: \"{{ row['金額'] }}\"\n",
        ),
        // ------------------------------------------------------------ absurd values
        steps("A pause of a whole day", "steps:\n  - pause: 86400\n"),
        steps(
            "Retrying 500 times",
            "steps:\n  - click: 登録\n    retry: { attempts: 500 }\n",
        ),
        steps(
            "A step timeout of a week",
            "steps:\n  - click: 登録\n    timeout_secs: 604800\n",
        ),
        steps(
            "Reading 100,000 pages of a table",
            "steps:\n  - extract_table: { css: table.orders, next: { text: 次へ }, max_pages: 100000, into: orders }\n",
        ),
        steps("A negative pause", "steps:\n  - pause: -5\n"),
        // ------------------------------------------------------------ portal steps
        steps(
            "A dialog answered with a word kobo does not know",
            "steps:\n  - click: 削除\n  - dialog: yes\n",
        ),
        steps(
            "A dialog answered with keys kobo does not know",
            "steps:\n  - click: 削除\n  - dialog: { x: 1 }\n",
        ),
        steps(
            "Text for a dialog that is dismissed",
            "steps:\n  - click: 名前を入力\n  - dialog: { accept: false, text: 山田 }\n",
        ),
        steps(
            "A tab to switch to that kobo does not know",
            "steps:\n  - click: 詳細を開く\n  - switch_to: next\n",
        ),
        steps(
            "`timeout_secs` both beside a step and inside its braces",
            "steps:\n  - click: { text: 登録, timeout_secs: 5 }\n    timeout_secs: 10\n",
        ),
        // ------------------------------------------------------------ element states
        steps(
            "An element state that does not exist",
            "steps:\n  - wait_for: { css: .spinner, state: gone }\n",
        ),
        steps(
            "`assert` without a state",
            "steps:\n  - assert: { text: 送信 }\n",
        ),
        steps(
            "`if` on an element with a key it does not have",
            "steps:\n  - if: { css: .error, state: visible, wait: 3 }\n    then: [ { log: error shown } ]\n",
        ),
        // ------------------------------------------------------------ files and folders
        steps(
            "`write` into a folder above the outputs",
            "inputs: { invoices: {} }\nsteps:\n  - write: { file: ../../out.xlsx, table: invoices }\n",
        ),
        steps(
            "`write` to an absolute path",
            "inputs: { invoices: {} }\nsteps:\n  - write: { file: /etc/cron.d/out.csv, table: invoices }\n",
        ),
        steps(
            "`upload` of a file outside the run",
            "steps:\n  - upload: { label: 添付, file: ../../records.db }\n",
        ),
        steps(
            "`write` without a file name",
            "inputs: { invoices: {} }\nsteps:\n  - write: { table: invoices }\n",
        ),
        steps(
            "Opening a local file instead of a web page",
            "steps:\n  - open: \"file:///etc/passwd\"\n",
        ),
        steps(
            "Uploading a file from outside the run",
            "steps:\n  - upload: { label: ファイル, file: /home/olena/clients/other/invoices.csv }\n",
        ),
        // ============================================================ spreadsheets
        sheet(
            "A PDF renamed `.xlsx`",
            "report.xlsx",
            Fixture("bad/report.xlsx"),
            "`fixtures/bad/report.xlsx`: a small PDF document",
            FIRST,
        ),
        sheet(
            "A web page saved as `.xls` (the \"Excel export\" of many web systems)",
            "export.xls",
            Fixture("bad/export.xls"),
            "`fixtures/bad/export.xls`: an HTML table",
            FIRST,
        ),
        sheet(
            "A picture renamed `.xlsx`",
            "scan.xlsx",
            Bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0"),
            "the first bytes of a PNG image",
            FIRST,
        ),
        sheet(
            "An empty file",
            "invoices.csv",
            Fixture("bad/empty.csv"),
            "`fixtures/bad/empty.csv`: 0 bytes",
            FIRST,
        ),
        sheet(
            "A download cut short",
            "roster.xlsx",
            Fixture("bad/truncated.xlsx"),
            "`fixtures/bad/truncated.xlsx`: the first 60% of a real workbook",
            FIRST,
        ),
        sheet(
            "An xlsx that is only its first bytes",
            "invoices.xlsx",
            Bytes(b"PK\x03\x04\x14\0\x06\0\x08\0\0\0!\0"),
            "a zip header and nothing after it",
            FIRST,
        ),
        sheet(
            "An old Excel file (xls) with a piece missing",
            "departments.xls",
            Made(damaged_xls),
            "`fixtures/clients/sakura/departments.xls` with 373 bytes cut out; this once crashed the reader",
            FIRST,
        ),
        sheet(
            "An old Excel file (xls) whose inner chain of sectors loops",
            "departments.xls",
            Made(looping_xls),
            "`runner/tests/data/fuzz-cyclic-fat.xls`, found by the fuzz test; this once made the reader ask for 4 GB and abort",
            FIRST,
        ),
        sheet(
            "A password-protected workbook",
            "salaries.xlsx",
            Fixture("bad/protected.xlsx"),
            "`fixtures/bad/protected.xlsx`: the container Excel writes for a password-protected file",
            FIRST,
        ),
        sheet(
            "Bytes that are not text in any Japanese encoding",
            "invoices.csv",
            Fixture("bad/invalid_bytes.csv"),
            "`fixtures/bad/invalid_bytes.csv`: Shift_JIS with an invalid pair of bytes on line 3",
            FIRST,
        ),
        sheet(
            "A sheet name with a typo",
            "roster.xlsx",
            Fixture("clients/sakura/roster.xlsx"),
            "`fixtures/clients/sakura/roster.xlsx`, `sheet: 名薄`",
            ("名薄", 3, None),
        ),
        sheet(
            "A sheet that is not there",
            "roster.xlsx",
            Fixture("clients/sakura/roster.xlsx"),
            "`fixtures/clients/sakura/roster.xlsx`, `sheet: Staff`",
            ("Staff", 1, None),
        ),
        sheet(
            "A sheet number that is too big",
            "roster.xlsx",
            Fixture("clients/sakura/roster.xlsx"),
            "`fixtures/clients/sakura/roster.xlsx`, `sheet: 3`",
            ("3", 1, None),
        ),
        sheet(
            "A sheet with nothing in it",
            "blank.xlsx",
            Made(blank_xlsx),
            "an xlsx whose only sheet `Data` is empty",
            FIRST,
        ),
        sheet(
            "A header row past the end of the data",
            "roster.xlsx",
            Fixture("clients/sakura/roster.xlsx"),
            "`fixtures/clients/sakura/roster.xlsx`, `sheet: 名簿, header_row: 40`",
            ("名簿", 40, None),
        ),
        sheet(
            "A header row that is empty",
            "roster.xlsx",
            Fixture("clients/sakura/roster.xlsx"),
            "`fixtures/clients/sakura/roster.xlsx`, `sheet: 名簿, header_row: 7` (row 7 is blank)",
            ("名簿", 7, None),
        ),
        sheet(
            "A cell range written backwards",
            "roster.xlsx",
            Fixture("clients/sakura/roster.xlsx"),
            "`fixtures/clients/sakura/roster.xlsx`, `range: F3:B9`",
            ("名簿", 3, Some("F3:B9")),
        ),
        sheet(
            "A header row outside the range",
            "roster.xlsx",
            Fixture("clients/sakura/roster.xlsx"),
            "`fixtures/clients/sakura/roster.xlsx`, `header_row: 2, range: A3:F`",
            ("名簿", 2, Some("A3:F")),
        ),
        sheet(
            "A file that is not there",
            "invoices-2026-10.csv",
            Data::Made(Vec::new),
            "no such file in the folder",
            FIRST,
        ),
        // ============================================================ runs
        run(
            "A column the file does not have",
            "inputs: { orders: {} }\nsteps:\n  - for_each: orders\n    steps:\n      - log: \"{{ row['価格'] }}\"\n",
            "orders.csv",
            Bytes(ORDERS.as_bytes()),
        ),
        run(
            "More output files than a run may write (`limits.yaml`, or the workflow's `limits:`)",
            "limits: { outputs: 1 }\ninputs: { orders: {} }\nsteps:\n  - write: { file: a.csv, table: orders }\n  - write: { file: b.csv, table: orders }\n",
            "orders.csv",
            Bytes(ORDERS.as_bytes()),
        ),
        run(
            "A workflow asking for more than the admin allows",
            "limits: { memory_mb: 100000 }\ninputs: { orders: {} }\nsteps:\n  - log: hi\n",
            "orders.csv",
            Bytes(ORDERS.as_bytes()),
        ),
        run(
            "A `for_each` key that is empty in a row (every row needs one)",
            "inputs: { orders: {} }\nsteps:\n  - for_each: orders\n    key: \"{{ row['金額'] }}\"\n    steps:\n      - log: \"{{ row['品名'] }}\"\n",
            "orders.csv",
            Bytes(ORDERS.as_bytes()),
        ),
        steps(
            "A `for_each` key that is a list, not a template",
            "inputs: { orders: {} }\nsteps:\n  - for_each: orders\n    key: [番号, 品名]\n    steps:\n      - log: hi\n",
        ),
        run(
            "A column listed in `columns` that the file does not have",
            "inputs:\n  invoices: { columns: [請求書番号, 金額, 税率] }\nsteps:\n  - log: hi\n",
            "invoices.csv",
            Fixture("clients/acme/invoices.csv"),
        ),
        run(
            "A column listed in `columns` that a sheet of a workbook does not have",
            "inputs:\n  staff: { sheet: 1, header_row: 3, columns: [社員番号, 給料] }\nsteps:\n  - log: hi\n",
            "roster.xlsx",
            Fixture("clients/sakura/roster.xlsx"),
        ),
        run(
            "A merged header: the second column gets the name `連絡先 (2)`",
            "inputs:\n  staff: { sheet: 名簿, header_row: 3 }\nsteps:\n  - for_each: staff\n    steps:\n      - log: \"{{ row['メール'] }}\"\n",
            "roster.xlsx",
            Fixture("clients/sakura/roster.xlsx"),
        ),
        run(
            "A formula with an error (`#DIV/0!`) used in a calculation",
            "inputs:\n  staff: { sheet: 名簿, header_row: 3 }\nsteps:\n  - for_each: staff\n    steps:\n      - log: \"{{ row['月給'] * 12 }}\"\n",
            "roster.xlsx",
            Fixture("clients/sakura/roster.xlsx"),
        ),
        run(
            "An empty cell used in a calculation",
            "inputs: { orders: {} }\nsteps:\n  - for_each: orders\n    steps:\n      - log: \"{{ row['金額'] / 2 }}\"\n",
            "orders.csv",
            Bytes(ORDERS.as_bytes()),
        ),
        run(
            "The input file is not a spreadsheet",
            "inputs: { invoices: {} }\nsteps:\n  - log: hi\n",
            "invoices.xlsx",
            Fixture("bad/report.xlsx"),
        ),
        run(
            "A templated address that is not a web page",
            "inputs: { orders: {} }\nparams: { portal: \"file:///etc\" }\nsteps:\n  - open: \"{{ params.portal }}/passwd\"\n",
            "orders.csv",
            Bytes(ORDERS.as_bytes()),
        ),
        run(
            "A value that grows in a loop until it passes the bound (10 MB)",
            "inputs: { orders: {} }\nsteps:\n  - set: { s: \"{{ 'ab' * 1000000 }}\" }\n  - for_each: orders\n    steps:\n      - set: { s: \"{{ s ~ s ~ s ~ s }}\" }\n",
            "orders.csv",
            Bytes(ORDERS.as_bytes()),
        ),
        run(
            "A step that takes longer than its `timeout_secs`",
            "inputs: { orders: {} }\nsteps:\n  - pause: 3\n    timeout_secs: 1\n",
            "orders.csv",
            Bytes(ORDERS.as_bytes()),
        ),
    ]
}

fn looping_xls() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/runner/tests/data/fuzz-cyclic-fat.xls"
    );
    std::fs::read(path).unwrap()
}

fn damaged_xls() -> Vec<u8> {
    let mut bytes = std::fs::read(fixture("clients/sakura/departments.xls")).unwrap();
    bytes.drain(80..80 + 373);
    bytes.truncate(4969);
    bytes
}

fn blank_xlsx() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_worksheet().set_name("Data").unwrap();
    book.save_to_buffer().unwrap()
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

fn bytes_of(data: &Data) -> Vec<u8> {
    match data {
        Data::Bytes(b) => b.to_vec(),
        Data::Fixture(rel) => std::fs::read(fixture(rel)).unwrap(),
        Data::Made(f) => f(),
    }
}

fn sheet_ref(s: &str) -> SheetRef {
    match s.parse() {
        Ok(n) => SheetRef::Index(n),
        Err(_) => SheetRef::Name(s.into()),
    }
}

/// What kobo says for one case, with the temporary folder taken out of paths.
async fn message(case: &Case) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let strip = |s: String| {
        s.replace(&format!("{}/", dir.path().display()), "")
            .replace(&dir.path().display().to_string(), "")
    };
    match &case.input {
        Input::Yaml(_) | Input::Steps(_) => {
            let text = workflow_text(&case.input);
            match Workflow::parse(Path::new(WORKFLOW_FILE), &text) {
                Ok(_) => Err(format!("the workflow was accepted:\n{text}")),
                // As `kobo validate` and `kobo run` print them.
                Err(errors) => Ok(errors
                    .0
                    .iter()
                    .map(|e| e.render_with_source(&text))
                    .collect::<Vec<_>>()
                    .join("\n\n")),
            }
        }
        Input::Sheet {
            file,
            data,
            sheet,
            header_row,
            range,
            ..
        } => {
            let path = dir.path().join(file);
            let bytes = bytes_of(data);
            // An empty `Made` file stands for a file that does not exist.
            if !bytes.is_empty() || matches!(data, Data::Fixture(_) | Data::Bytes(_)) {
                std::fs::write(&path, bytes).unwrap();
            }
            let spec = SheetSpec {
                sheet: sheet_ref(sheet),
                header_row: runner::sheet::HeaderRow::Row(*header_row),
                range: range.map(str::to_string),
                ..SheetSpec::default()
            };
            match read_table(&path, &spec) {
                Ok(t) => Err(format!("the file was read: {:?}", t.columns)),
                Err(e) => Ok(strip(e.to_string())),
            }
        }
        Input::Run {
            file,
            data,
            secrets,
            ..
        } => {
            let text = workflow_text(&case.input);
            let workflow = Workflow::parse(Path::new(WORKFLOW_FILE), &text)
                .map_err(|e| format!("the workflow is refused: {e}"))?;
            let input = dir.path().join(file);
            std::fs::write(&input, bytes_of(data)).unwrap();
            let home = dir.path().join("home");
            let records = Records::open(&dir.path().join("records.db")).await.unwrap();
            let mut opts = RunOptions::new(&home);
            if let Some(i) = workflow.file_inputs().next() {
                opts.inputs.insert(i.name.clone(), input);
            }
            opts.secrets =
                Secrets::from_pairs(secrets.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            let outcome = execute(&workflow, &records, opts).await.unwrap();
            match outcome.error {
                Some(e) => Ok(strip(e).replace(&outcome.id.0, "<run>")),
                None => Err(format!("the run ended {:?}", outcome.status)),
            }
        }
    }
}

fn workflow_text(input: &Input) -> String {
    match input {
        Input::Yaml(y) => y.to_string(),
        Input::Steps(s) | Input::Run { steps: s, .. } => format!("{HEAD}{s}"),
        Input::Sheet { .. } => unreachable!(),
    }
}

/// Every message must say where: the workflow file with a line, or the file read.
fn check_says_where(case: &Case, msg: &str) -> Result<(), String> {
    if msg.trim().is_empty() {
        return Err("empty message".into());
    }
    match &case.input {
        Input::Yaml(_) | Input::Steps(_) => {
            for block in msg.split("\n\n") {
                if !block.starts_with(&format!("{WORKFLOW_FILE}:")) {
                    return Err(format!("the message does not start with the file: {block}"));
                }
                if !block.contains("hint: ") {
                    return Err(format!("the message has no hint: {block}"));
                }
            }
        }
        Input::Sheet { file, .. } => {
            if !msg.contains(&format!("`{file}`")) {
                return Err(format!("the message does not name `{file}`: {msg}"));
            }
        }
        Input::Run { .. } => {
            if !msg.starts_with("step ") {
                return Err(format!("the message does not name the step: {msg}"));
            }
        }
    }
    Ok(())
}

fn render(cases: &[Case], messages: &[String]) -> String {
    let mut out = String::new();
    out.push_str(
        "# When something is wrong: kobo's messages\n\n\
         <!-- Generated by tests/error_catalogue.rs; do not edit by hand. After changing a \
         message in the code, run `KOBO_BLESS=1 cargo test --test error_catalogue` and \
         commit this file. -->\n\n\
         This page shows mistakes people really make, and the exact message kobo gives for \
         each. Every message says **where** the problem is (the file, and the line or the \
         row) and **what to do**. If you see a message that does not, please tell the \
         developers: that is a bug too.\n\n\
         The messages on this page are not written by hand: a test makes kobo read each \
         bad input and writes down what kobo says, and the test fails if this page and kobo \
         disagree.\n\n",
    );
    let groups = [Group::Workflow, Group::Sheet, Group::Run];
    let _ = writeln!(out, "There are {} examples:\n", cases.len() + HTTP.len());
    for g in groups {
        let n = cases.iter().filter(|c| c.group() == g).count();
        let _ = writeln!(out, "- [{}](#{}) ({n})", g.heading(), anchor(g.heading()));
    }
    let _ = writeln!(
        out,
        "- [{HTTP_HEADING}](#{}) ({})\n",
        anchor(HTTP_HEADING),
        HTTP.len()
    );
    let mut number = 0;
    for g in groups {
        let _ = writeln!(out, "## {}\n\n{}\n", g.heading(), g.intro());
        for (case, msg) in cases.iter().zip(messages).filter(|(c, _)| c.group() == g) {
            number += 1;
            let _ = writeln!(out, "### {number}. {}\n", case.title);
            match &case.input {
                Input::Yaml(_) | Input::Steps(_) => {
                    let text = workflow_text(&case.input);
                    if text.is_empty() {
                        out.push_str("`invoice-entry.yaml` (an empty file):\n\n");
                    } else {
                        let _ = writeln!(out, "`{WORKFLOW_FILE}`:\n\n```yaml\n{text}```\n");
                    }
                }
                Input::Sheet {
                    file,
                    sheet,
                    header_row,
                    range,
                    what,
                    ..
                } => {
                    let mut spec = format!("sheet: {sheet}, header_row: {header_row}");
                    if let Some(r) = range {
                        let _ = write!(spec, ", range: {r}");
                    }
                    let _ = writeln!(
                        out,
                        "The file `{file}` ({what}), read with `{{ {spec} }}`.\n"
                    );
                }
                Input::Run { file, .. } => {
                    let text = workflow_text(&case.input);
                    let _ = writeln!(
                        out,
                        "`{WORKFLOW_FILE}`, run on `{file}`:\n\n```yaml\n{text}```\n"
                    );
                }
            }
            let _ = writeln!(out, "kobo says:\n\n```text\n{msg}\n```\n");
        }
    }
    let _ = writeln!(
        out,
        "## {HTTP_HEADING}\n\n\
         The dashboard answers a bad request with a page like its others (the menu, in the \
         user's language) that has the status code as its title and one sentence below it. \
         This table is kept by hand from `dashboard/src/` (`client.rs`, `auth.rs`, \
         `csrf_form.rs`, `error.rs`); `dashboard/tests/http.rs` checks the statuses of the \
         CSRF, upload and file-name cases.\n\n\
         | # | what happened | status | the page says |\n| --- | --- | --- | --- |"
    );
    for (what, status, says) in HTTP {
        number += 1;
        let _ = writeln!(out, "| {number} | {what} | {status} | {says} |");
    }
    out
}

const HTTP_HEADING: &str = "The dashboard (web pages)";

/// What the dashboard answers (see `dashboard/src/client.rs`, `auth.rs`, `csrf_form.rs`, `error.rs`).
const HTTP: &[(&str, u16, &str)] = &[
    (
        "a form sent without its hidden CSRF token, or with another session's (approve, reject, run again, mark a row entered, upload, log out, change language, the admin's changes to users)",
        403,
        "The form has expired; reload the page and try again.",
    ),
    (
        "the login form sent without its token (an old tab)",
        403,
        "The form has expired; reload the page and try again.",
    ),
    (
        "an upload with no file chosen, or an empty file",
        400,
        "Choose a file to send.",
    ),
    (
        "an upload of a file that is not a spreadsheet (`scan.pdf`)",
        400,
        "kobo reads xlsx, xlsm, xlsb, xls, ods, csv, tsv, txt files; “scan.pdf” is not one of them.",
    ),
    (
        "an upload for a task that is not the client's (or a made-up one such as `../../etc`)",
        400,
        "Choose which task the file is for.",
    ),
    (
        "an upload larger than the inbox's limit (`--max-file-mb`, 50 MB unless set)",
        413,
        "The file is larger than 50 MB; save it without pictures, or split it into several files.",
    ),
    (
        "an upload whose file name has a folder part, `:` or control characters, or starts with `.`",
        400,
        "That is not a file name.",
    ),
    (
        "an upload whose file name is longer than 200 bytes",
        400,
        "The file name is longer than 200 bytes; rename the file with a shorter name and send it again.",
    ),
    (
        "a file name with `..`, `/` or `\\` in a download link",
        400,
        "That is not a file name.",
    ),
    (
        "reject without a comment",
        400,
        "A rejection needs a comment that tells the trainee what to fix.",
    ),
    (
        "a page of another client, trainee or role",
        403,
        "You do not have access to this page.",
    ),
    (
        "approving a run that was already reviewed (a second click, another tab)",
        409,
        "This run was already reviewed (approved); a reviewed run does not change.",
    ),
    (
        "approving a run whose workflow's `author:` (`ghost`) is no user",
        409,
        "The workflow's author “ghost” is not a known trainee, so this run cannot be approved and paid. It stays awaiting review, held for the admin: add ghost as a trainee on the Admin page, or fix author: in the workflow and run it again.",
    ),
    (
        "approving a run whose workflow's `author:` (`kenji`) is a user but not a trainee",
        409,
        "The workflow's author “kenji” is a reviewer, not a trainee, so this run cannot be approved and paid. It stays awaiting review, held for the admin: fix author: in the workflow and run it again, or make kenji a trainee on the Admin page.",
    ),
    (
        "logging in after 5 failed attempts for the name (known or not), or 20 from the address, within 15 minutes (on the login page)",
        429,
        "Too many attempts; try again in 15 minutes.",
    ),
];

fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn docs_errors_md_shows_what_kobo_really_says() {
    let cases = cases();
    let mut messages = Vec::new();
    let mut problems = Vec::new();
    for case in &cases {
        let msg = message(case).await.unwrap_or_else(|e| {
            problems.push(format!("`{}`: {e}", case.title));
            String::new()
        });
        if let Err(e) = check_says_where(case, &msg) {
            problems.push(format!("`{}`: {e}", case.title));
        }
        messages.push(msg);
    }
    if std::env::var("KOBO_CATALOGUE_SHOW").is_ok() {
        for (c, m) in cases.iter().zip(&messages) {
            eprintln!("=== {}\n{m}\n", c.title);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert!(cases.len() >= 40, "the catalogue needs at least 40 cases");
    let page = render(&cases, &messages);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/errors.md");
    if std::env::var("KOBO_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &page).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != page {
        let first = on_disk
            .lines()
            .zip(page.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(on_disk.lines().count().min(page.lines().count()));
        panic!(
            "docs/errors.md is out of date (first difference at line {}):\n  file: {:?}\n  kobo: {:?}\n\
             Run `KOBO_BLESS=1 cargo test --test error_catalogue` and check the diff.",
            first + 1,
            on_disk.lines().nth(first).unwrap_or(""),
            page.lines().nth(first).unwrap_or(""),
        );
    }
}
