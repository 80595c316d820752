//! `Workflow`: a trainee's bot, read from a YAML file and checked.
//!
//! Reading happens in two stages: every key is read into typed values (unknown keys and
//! wrong types reported with line and column), then [`crate::validate`] checks that names
//! refer to things that exist (inputs, tables, params, secrets, columns).

use crate::definition_error::{DefinitionError, DefinitionErrors};
use crate::reader::{Reader, describe_value, scalar_text};
use crate::sheet::{HeaderRow, MergedCells};
use crate::source_map::{Pos, SourceMap, YamlError, child_key};
use crate::steps::{Retry, SheetName, Step, parse_steps};
use serde::Deserialize;
use serde_yaml::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A checked workflow, ready to run.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub file: PathBuf,
    /// The YAML text, kept so that records can show exactly what ran.
    pub source: String,
    /// sha256 of the YAML text: two runs with the same hash ran the same bot.
    pub hash: String,
    pub name: String,
    pub description: String,
    /// What the client calls this task, per language (`title: { ja: 請求書の入力 }`): shown
    /// to the client on her page instead of `name`.
    pub title: Title,
    /// The trainee who wrote it (credited for approved runs).
    pub author: String,
    pub client: String,
    pub version: String,
    pub inputs: Vec<Input>,
    pub params: BTreeMap<String, Value>,
    pub secrets: Vec<String>,
    pub timeout: Duration,
    /// Whole-run retry for transient errors (browser crash, network), not for bad data.
    pub retry: Retry,
    pub browser: BrowserSettings,
    /// What the workflow asks for beyond the admin's run limits (`limits.yaml`).
    pub limits: crate::limits::WorkflowLimits,
    pub steps: Vec<Step>,
    /// Where each value is written in `source` (for messages at run time, such as a column
    /// the real file does not have).
    pub positions: Arc<SourceMap>,
}

/// `title: { ja: 請求書の入力, en: Invoice entry, uk: Введення рахунків }`: the task as the
/// client knows it. Any language may be left out; the client sees her own, else another.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Title {
    #[serde(default)]
    pub ja: Option<String>,
    #[serde(default)]
    pub en: Option<String>,
    #[serde(default)]
    pub uk: Option<String>,
}

impl Title {
    /// The title in `lang` (`ja`, `en`, `uk`), else in Japanese, English, Ukrainian.
    pub fn get(&self, lang: &str) -> Option<&str> {
        let own = match lang {
            "ja" => &self.ja,
            "en" => &self.en,
            "uk" => &self.uk,
            _ => &None,
        };
        [own, &self.ja, &self.en, &self.uk]
            .into_iter()
            .flatten()
            .map(|t| t.trim())
            .find(|t| !t.is_empty())
    }
}

/// A table the workflow reads from its input file(s).
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub name: String,
    pub spec: InputSpec,
    pub pos: Option<Pos>,
}

impl Input {
    /// True when this input is its own file (given on the command line or dropped in the inbox).
    pub fn is_file(&self) -> bool {
        self.spec.same_file_as.is_none()
    }
}

/// `inputs: { invoices: { sheet: 1, header_row: 1, columns: [請求書番号, 金額] } }`
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub sheet: Option<SheetName>,
    /// The row with the column names (`3`), or `none` when the file has no header row.
    #[serde(default)]
    pub header_row: Option<HeaderRow>,
    #[serde(default)]
    pub range: Option<String>,
    /// Merged cells below the header: `warn` (the default) or `fill` (copy the value into
    /// every cell of the block).
    #[serde(default)]
    pub merged: MergedCells,
    /// Columns the workflow needs; checked as soon as the file is read.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Another sheet of the file given for that input.
    #[serde(default)]
    pub same_file_as: Option<String>,
}

/// `browser: { headless: true, element_timeout_secs: 10 }`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowserSettings {
    #[serde(default = "yes")]
    pub headless: bool,
    #[serde(default = "default_element_timeout")]
    pub element_timeout_secs: u64,
    #[serde(default = "default_page_timeout")]
    pub page_load_timeout_secs: u64,
}

fn yes() -> bool {
    true
}
fn default_element_timeout() -> u64 {
    10
}
fn default_page_timeout() -> u64 {
    30
}

impl Default for BrowserSettings {
    fn default() -> Self {
        BrowserSettings {
            headless: true,
            element_timeout_secs: default_element_timeout(),
            page_load_timeout_secs: default_page_timeout(),
        }
    }
}

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "title",
    "author",
    "client",
    "version",
    "inputs",
    "params",
    "secrets",
    "timeout_minutes",
    "retry",
    "browser",
    "limits",
    "steps",
];

impl Workflow {
    /// Read and check a workflow file.
    pub fn load(path: &Path) -> Result<Workflow, DefinitionErrors> {
        // Before reading it: a huge file must not be read into memory at all.
        if let Ok(meta) = std::fs::metadata(path)
            && meta.len() > MAX_WORKFLOW_BYTES as u64
        {
            return Err(DefinitionErrors(vec![too_big(path, meta.len())]));
        }
        let bytes = std::fs::read(path).map_err(|e| {
            DefinitionErrors(vec![DefinitionError {
                file: path.to_path_buf(),
                pos: None,
                message: format!("cannot read the workflow file: {e}"),
                hint: Some("check the path; workflows live in the `workflows/` folder".into()),
            }])
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|e| DefinitionErrors(vec![not_utf8(path, e.as_bytes(), e.utf8_error())]))?;
        Workflow::parse(path, &text)
    }

    /// Read and check a workflow from its text; `file` is used in messages.
    pub fn parse(file: &Path, text: &str) -> Result<Workflow, DefinitionErrors> {
        if text.len() > MAX_WORKFLOW_BYTES {
            return Err(DefinitionErrors(vec![too_big(file, text.len() as u64)]));
        }
        // One parse: the values, and where each is for messages.
        let (root, positions) = match crate::source_map::load(text) {
            Ok(parsed) => parsed,
            Err(e) => return Err(DefinitionErrors(vec![syntax_error(file, e)])),
        };
        let mut r = Reader::new(file.to_path_buf(), Arc::new(positions));
        let workflow = read_top(&mut r, &root, file, text);
        if let Some(w) = &workflow {
            crate::validate::check(&mut r, w);
        }
        match workflow {
            Some(w) if r.errors.is_empty() => Ok(w),
            _ => {
                let mut errors = r.errors;
                errors.sort_by_key(|e| e.pos);
                errors.dedup();
                Err(DefinitionErrors(errors))
            }
        }
    }

    /// The inputs that are files of their own, in the order written.
    pub fn file_inputs(&self) -> impl Iterator<Item = &Input> {
        self.inputs.iter().filter(|i| i.is_file())
    }

    pub fn needs_browser(&self) -> bool {
        fn any(steps: &[Step]) -> bool {
            steps
                .iter()
                .any(|s| s.kind.needs_browser() || s.kind.children().into_iter().any(any))
        }
        any(&self.steps)
    }
}

/// A workflow file in another encoding than UTF-8 (often Shift_JIS, saved by a Japanese editor).
/// The largest workflow file kobo reads: 1 MB. Real workflows are a few KB; a larger file
/// holds data that belongs in an input, or is meant to slow the machine down.
pub const MAX_WORKFLOW_BYTES: usize = 1024 * 1024;

fn too_big(file: &Path, bytes: u64) -> DefinitionError {
    DefinitionError {
        file: file.to_path_buf(),
        pos: None,
        message: format!(
            "the workflow file is {:.1} MB; a workflow can be at most 1 MB",
            bytes as f64 / (1024.0 * 1024.0)
        ),
        hint: Some(
            "a workflow holds steps, not data: put tables and long lists in an input file (`inputs:`)"
                .into(),
        ),
    }
}

fn not_utf8(file: &Path, bytes: &[u8], e: std::str::Utf8Error) -> DefinitionError {
    let valid = &bytes[..e.valid_up_to()];
    let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&valid[line_start..])
        .chars()
        .count()
        + 1;
    let kind = if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        " (it is saved as UTF-16)"
    } else if encoding_rs::SHIFT_JIS
        .decode_without_bom_handling_and_without_replacement(bytes)
        .is_some()
    {
        " (it looks like Shift_JIS)"
    } else {
        ""
    };
    DefinitionError {
        file: file.to_path_buf(),
        pos: Some(Pos { line, col }),
        message: format!("the workflow file is not saved as UTF-8{kind}"),
        hint: Some(
            "save the file as UTF-8: in VS Code click the encoding in the bottom bar, choose \"Save with Encoding\", then \"UTF-8\""
                .into(),
        ),
    }
}

fn syntax_error(file: &Path, e: YamlError) -> DefinitionError {
    let (pos, message, hint) = match e {
        YamlError::DuplicateKey { key, first, again } => (
            again,
            format!("`{key}` is written twice"),
            format!(
                "delete this line or line {} (the first `{key}:`); a key can be written only once in the same group",
                first.line
            ),
        ),
        YamlError::ManyDocuments { pos } => (
            pos,
            "a workflow file holds one workflow, but a `---` line starts a second one here".into(),
            "remove the `---` line, or put the second workflow in a file of its own".into(),
        ),
        YamlError::Syntax { message, pos } => (
            pos,
            format!("this is not valid YAML: {}", plain_yaml_message(&message)),
            "check the indentation (spaces, not tabs) and that every `key: value` has a space after the colon; text with `: ` or `#` in it needs quotes".into(),
        ),
    };
    DefinitionError {
        file: file.to_path_buf(),
        pos: Some(pos),
        message,
        hint: Some(hint),
    }
}

/// The YAML parser's words for the common mistakes, with what they usually mean.
fn plain_yaml_message(msg: &str) -> String {
    let has = |part: &str| msg.contains(part);
    let meaning = if has("quoted scalar") {
        "a quote opened here is not closed; close it on the same line, or write the text without quotes"
    } else if has("end of stream") {
        "the file ends inside a quote or a bracket; close it"
    } else if has("tab") {
        "a tab where only spaces can be (indent with spaces)"
    } else if has("cannot start any token") {
        "a character that cannot start a value here (often a tab used for indentation)"
    } else if has("mapping values are not allowed in this context") {
        "a second `: ` on one line (text with `: ` in it needs quotes)"
    } else if has("did not find expected key") {
        "this line is not indented like the lines above it"
    } else if has("comments must be separated") {
        "a `#` right after other text; put a space before a comment, or quote text with `#` in it"
    } else {
        return msg.to_string();
    };
    format!("{meaning} ({msg})")
}

fn read_top(r: &mut Reader, root: &Value, file: &Path, text: &str) -> Option<Workflow> {
    let Value::Mapping(map) = root else {
        r.error(
            "",
            format!(
                "a workflow must be a group of keys (name, client, steps …), but this file is {}",
                describe_value(root)
            ),
            Some("start from an example in the `workflows/` folder".into()),
        );
        return None;
    };
    r.check_keys(map, "", TOP_KEYS, "the workflow");

    let required = |r: &mut Reader, key: &str| -> Option<String> {
        match map.get(key) {
            None => {
                r.error(
                    "",
                    format!("the workflow needs `{key}`"),
                    Some(format!("add a line `{key}: ...` at the top of the file")),
                );
                None
            }
            Some(v) => {
                let s: String = r.parse(v, key, &format!("`{key}`"))?;
                Some(s)
            }
        }
    };
    let name = required(r, "name");
    let author = required(r, "author");
    let client = required(r, "client");
    if let Some(v) = &name
        && !is_slug(v)
    {
        r.error(
            "name",
            format!("`name` must be short and simple: letters a-z, digits, `-` or `_` (it is used in folder names), but it is \"{v}\""),
            Some(format!("for example `name: {}`", slugify(v))),
        );
    }
    // `author` and `client` name a kobo user and a kobo client, so they follow the rules of
    // those names exactly: a reviewer `olena` must not escape the own-run check as `Olena`.
    for (key, value, what) in [
        ("author", &author, "the trainee's kobo user name"),
        ("client", &client, "the client's name in kobo"),
    ] {
        if let Some(v) = value
            && !crate::user::valid_name(v)
        {
            r.error(
                key,
                format!("`{key}` is {what}: lowercase letters a-z, digits, `-`, `_` or `.`, at most 40, but it is \"{v}\""),
                Some(format!("write it as kobo knows it, in lowercase: `{key}: {}`", user_name_like(v))),
            );
        }
    }
    let description = match map.get("description") {
        Some(v) => r
            .parse::<String>(v, "description", "`description`")
            .unwrap_or_default(),
        None => String::new(),
    };
    let title: Title = match map.get("title") {
        Some(v) => r
            .parse(
                v,
                "title",
                "`title` (`title: { ja: 請求書の入力, en: Invoice entry }`)",
            )
            .unwrap_or_default(),
        None => Title::default(),
    };
    let version = match map.get("version") {
        None => "1".into(),
        Some(v @ (Value::String(_) | Value::Number(_))) => scalar_text(v),
        Some(v) => {
            r.error(
                "version",
                format!(
                    "`version` must be text or a number, but it is {}",
                    describe_value(v)
                ),
                Some("for example `version: 2` or `version: \"2024-04\"`".into()),
            );
            "1".into()
        }
    };

    let inputs = read_inputs(r, map.get("inputs"));
    let params: BTreeMap<String, Value> = match map.get("params") {
        // Names that YAML reads as numbers or yes/no (`1: x`) are kept as written; the
        // name check in `validate` then says what a name may be.
        Some(Value::Mapping(m)) => m.iter().map(|(k, v)| (scalar_text(k), v.clone())).collect(),
        Some(v) => r.parse(v, "params", "`params`").unwrap_or_default(),
        None => BTreeMap::new(),
    };
    let secrets: Vec<String> = match map.get("secrets") {
        Some(v) => r.parse(v, "secrets", "`secrets`").unwrap_or_default(),
        None => Vec::new(),
    };
    let timeout_minutes: u64 = match map.get("timeout_minutes") {
        Some(v) => r
            .parse(v, "timeout_minutes", "`timeout_minutes`")
            .unwrap_or(60),
        None => 60,
    };
    let retry = match map.get("retry") {
        Some(v) => r.parse(v, "retry", "`retry`").unwrap_or(Retry {
            attempts: 1,
            backoff_secs: 1,
        }),
        None => Retry {
            attempts: 3,
            backoff_secs: 5,
        },
    };
    let browser = match map.get("browser") {
        Some(v) => r.parse(v, "browser", "`browser`").unwrap_or_default(),
        None => BrowserSettings::default(),
    };
    let limits = match map.get("limits") {
        Some(v) => r.parse(v, "limits", "`limits`").unwrap_or_default(),
        None => Default::default(),
    };
    let steps = match map.get("steps") {
        Some(v) if crate::steps::is_empty_block(v) => {
            r.error(
                "steps",
                "the workflow has no steps",
                Some("add at least one step, such as `- log: hello`".into()),
            );
            Vec::new()
        }
        Some(v) => parse_steps(r, v, "steps"),
        None => {
            r.error(
                "",
                "the workflow needs `steps`: the list of things the bot does",
                Some("add `steps:` followed by a list of steps".into()),
            );
            Vec::new()
        }
    };

    Some(Workflow {
        file: file.to_path_buf(),
        source: text.to_string(),
        positions: r.map.clone(),
        hash: hex::encode(Sha256::digest(text.as_bytes())),
        // A missing name is already reported; keep going so the steps are checked too.
        name: name.unwrap_or_default(),
        description,
        title,
        author: author.unwrap_or_default(),
        client: client.unwrap_or_default(),
        version,
        inputs,
        params,
        secrets,
        timeout: Duration::from_secs(timeout_minutes.saturating_mul(60)),
        retry,
        browser,
        limits,
        steps,
    })
}

fn read_inputs(r: &mut Reader, value: Option<&Value>) -> Vec<Input> {
    let Some(value) = value else {
        return Vec::new();
    };
    let Value::Mapping(map) = value else {
        r.error(
            "inputs",
            format!(
                "`inputs` must be a group of named inputs, but it is {}",
                describe_value(value)
            ),
            Some("for example:\n    inputs:\n      invoices: { sheet: 1, header_row: 1 }".into()),
        );
        return Vec::new();
    };
    map.iter()
        .map(|(k, v)| {
            let name = scalar_text(k);
            let path = child_key("inputs", &name);
            // A mistake inside the spec is reported; the input is still known (with the
            // default spec) so that the steps using it do not get errors of their own.
            let spec = match v {
                Value::Null => InputSpec::default(),
                v => r
                    .parse(v, &path, &format!("input `{name}`"))
                    .unwrap_or_default(),
            };
            Input {
                pos: r.map.key(&path),
                name,
                spec,
            }
        })
        .collect()
}

/// Names used in folder names: ASCII letters, digits, `-`, `_`, not starting with `-` or `.`.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !s.starts_with('-')
}

/// `s` as a user or client name could be written: lowercase, other characters as `-`.
fn user_name_like(s: &str) -> String {
    let name: String = s
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let name = name.trim_matches(|c| c == '-' || c == '.').to_string();
    if name.is_empty() {
        "my-name".into()
    } else {
        name
    }
}

fn slugify(s: &str) -> String {
    let slug: String = s
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-').to_string();
    if slug.is_empty() {
        "my-name".into()
    } else {
        slug
    }
}
