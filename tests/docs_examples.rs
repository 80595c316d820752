//! Keeps docs/workflows.md honest: every ```yaml block in it is either an example that is
//! checked here, or marked `# fragment` (a piece of a file, not a whole workflow).
//!
//! An example block starts with comment lines that say how to check it:
//!
//! ```text
//! # example: <name>            unique name of the example (required, first line)
//! # input: <path>              input file for the only input, from the repository root
//! # input: <name>=<path>       input file for the input <name> (repeat for several)
//! # param: <name>=<value>      like `kobo run --param` (repeatable)
//! # expect: succeeded          run it; the run must succeed
//! # expect: failed             run it; the run must fail
//! # expect: invalid            `Workflow::parse` must reject it
//! # error: <text>              the run's error (failed) or the messages (invalid) contain <text>
//! ```
//!
//! Every example that is valid is run. Runs use a temporary KOBO_HOME with its own SQLite
//! records file; declared secrets get made-up values. Browser examples run in a real headless
//! Chromium against the practice portal (`fixtures/portal`), started here on a free port:
//! their `portal_url` param is set to it, and `portal_user` / `portal_password` get the
//! portal's demo login.

use runner::record::Records;
use runner::run::RunStatus;
use runner::secrets::Secrets;
use runner::{RunOptions, Workflow, execute};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[derive(Debug)]
struct Example {
    name: String,
    /// Line of the opening fence in workflows.md, for messages.
    line: usize,
    text: String,
    inputs: Vec<(Option<String>, PathBuf)>,
    params: Vec<(String, String)>,
    expect: String,
    errors: Vec<String>,
}

/// Every ```yaml block of the guide: (line of the fence, text).
fn yaml_blocks(md: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in md.lines().enumerate() {
        match &mut current {
            None if line.trim_start().starts_with("```yaml") => {
                current = Some((i + 1, String::new()))
            }
            None => {}
            Some(_) if line.trim_start().starts_with("```") => {
                blocks.push(current.take().expect("inside a block"))
            }
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(current.is_none(), "a ```yaml block is not closed");
    blocks
}

fn examples() -> Vec<Example> {
    let md = std::fs::read_to_string(root().join("docs/workflows.md")).expect("docs/workflows.md");
    let mut out = Vec::new();
    for (line, text) in yaml_blocks(&md) {
        let first = text.lines().next().unwrap_or_default().trim();
        if first == "# fragment" {
            continue;
        }
        let Some(name) = first.strip_prefix("# example:") else {
            panic!(
                "docs/workflows.md:{line}: a ```yaml block must start with `# example: <name>` or `# fragment`, not `{first}`"
            );
        };
        let mut ex = Example {
            name: name.trim().to_string(),
            line,
            text: text.clone(),
            inputs: Vec::new(),
            params: Vec::new(),
            expect: String::new(),
            errors: Vec::new(),
        };
        for l in text.lines().skip(1) {
            let Some(rest) = l.strip_prefix("# ") else {
                break;
            };
            let Some((key, value)) = rest.split_once(':') else {
                break;
            };
            let value = value.trim().to_string();
            match key {
                "input" => ex.inputs.push(match value.split_once('=') {
                    Some((n, p)) => (Some(n.to_string()), root().join(p)),
                    None => (None, root().join(&value)),
                }),
                "param" => {
                    let (k, v) = value
                        .split_once('=')
                        .unwrap_or_else(|| panic!("{}: `# param:` needs name=value", ex.name));
                    ex.params.push((k.to_string(), v.to_string()));
                }
                "expect" => ex.expect = value,
                "error" => ex.errors.push(value),
                _ => break,
            }
        }
        assert!(
            ["succeeded", "failed", "invalid"].contains(&ex.expect.as_str()),
            "example `{}` (docs/workflows.md:{line}) needs `# expect: succeeded|failed|invalid`",
            ex.name
        );
        out.push(ex);
    }
    out
}

fn parse(ex: &Example) -> Result<Workflow, String> {
    Workflow::parse(Path::new(&format!("{}.yaml", ex.name)), &ex.text).map_err(|e| e.to_string())
}

/// The practice portal's demo login (see `fixtures/portal`).
const PORTAL_LOGIN: [(&str, &str); 2] = [
    ("portal_user", "demo"),
    ("portal_password", "kobo-demo-pass"),
];

fn secret_value(name: &str) -> String {
    PORTAL_LOGIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| format!("made-up-{name}"))
}

async fn run(ex: &Example, w: &Workflow, portal: &str) -> Result<(), String> {
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let records = Records::open(&home.path().join("records.db"))
        .await
        .map_err(|e| e.to_string())?;
    let mut opts = RunOptions::new(home.path());
    let file_inputs: Vec<String> = w.file_inputs().map(|i| i.name.clone()).collect();
    for (name, path) in &ex.inputs {
        let name = match name {
            Some(n) => n.clone(),
            None if file_inputs.len() == 1 => file_inputs[0].clone(),
            None => {
                return Err(format!(
                    "give each input as `# input: name=path` (inputs: {file_inputs:?})"
                ));
            }
        };
        if !path.is_file() {
            return Err(format!("the input file {} does not exist", path.display()));
        }
        opts.inputs.insert(name, path.clone());
    }
    for (k, v) in &ex.params {
        if !w.params.contains_key(k) {
            return Err(format!("`# param: {k}=…`: the workflow has no param `{k}`"));
        }
        opts.params.insert(k.clone(), v.clone());
    }
    if w.needs_browser() {
        if !w.params.contains_key("portal_url") {
            return Err(
                "a browser example needs a `portal_url` param (the test points it at the practice portal)"
                    .into(),
            );
        }
        opts.params.insert("portal_url".into(), portal.to_string());
    }
    opts.secrets = Secrets::from_pairs(w.secrets.iter().map(|s| (s.clone(), secret_value(s))));
    let outcome = execute(w, &records, opts)
        .await
        .map_err(|e| e.to_string())?;
    let error = outcome.error.clone().unwrap_or_default();
    match (ex.expect.as_str(), outcome.status) {
        ("succeeded", RunStatus::Succeeded) => {}
        ("failed", RunStatus::Failed) => {}
        (want, got) => {
            return Err(format!(
                "expected the run to be {want}, but it {got:?}: {error}"
            ));
        }
    }
    if outcome.status == RunStatus::Succeeded {
        let log = std::fs::read_to_string(outcome.folder.join("log.jsonl")).unwrap_or_default();
        for s in &w.secrets {
            if log.contains(&secret_value(s)) {
                return Err(format!("the value of secret `{s}` is in the log"));
            }
        }
    }
    check_errors(ex, &error)
}

fn check_errors(ex: &Example, got: &str) -> Result<(), String> {
    for want in &ex.errors {
        if !got.contains(want.as_str()) {
            return Err(format!(
                "the message should contain:\n  {want}\nbut it is:\n{got}"
            ));
        }
    }
    Ok(())
}

async fn check(ex: &Example, portal: &str) -> Result<(), String> {
    match (ex.expect.as_str(), parse(ex)) {
        ("invalid", Ok(_)) => Err("expected `kobo validate` to reject it, but it is valid".into()),
        ("invalid", Err(messages)) => check_errors(ex, &messages),
        (_, Err(messages)) => Err(format!("the example is not valid:\n{messages}")),
        (_, Ok(w)) => run(ex, &w, portal).await,
    }
}

#[tokio::test]
async fn every_example_in_the_guide_works() {
    let examples = examples();
    assert!(
        examples.len() >= 30,
        "expected the guide to have many examples, found {}",
        examples.len()
    );
    let portal = portal::start()
        .await
        .expect("the practice portal should start on 127.0.0.1");
    let mut names = BTreeSet::new();
    let mut problems = Vec::new();
    for ex in &examples {
        if !names.insert(ex.name.clone()) {
            problems.push(format!(
                "example `{}` (docs/workflows.md:{}): the name is used twice",
                ex.name, ex.line
            ));
        }
        if let Err(e) = check(ex, portal.url()).await {
            problems.push(format!(
                "example `{}` (docs/workflows.md:{}): {e}",
                ex.name, ex.line
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} examples are broken:\n\n{}",
        problems.len(),
        examples.len(),
        problems.join("\n\n")
    );
}

#[test]
fn every_step_kind_has_a_section_and_an_example() {
    let md = std::fs::read_to_string(root().join("docs/workflows.md")).expect("docs/workflows.md");
    let examples = examples();
    let mut used = BTreeSet::new();
    for ex in examples.iter().filter(|e| e.expect != "invalid") {
        let w = parse(ex).unwrap_or_else(|e| panic!("example `{}`: {e}", ex.name));
        collect_kinds(&w.steps, &mut used);
    }
    let mut missing = Vec::new();
    for kind in runner::steps::kind_names() {
        // `click` and `check`/`uncheck` share sections: a heading may name two kinds.
        let has_heading = md
            .lines()
            .any(|l| l.starts_with("### ") && l.contains(&format!("`{kind}`")));
        if !has_heading {
            missing.push(format!("no `### ` heading names `{kind}`"));
        }
        if !used.contains(kind) {
            missing.push(format!("no example uses `{kind}`"));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/workflows.md is missing step kinds:\n{}",
        missing.join("\n")
    );
}

fn collect_kinds(steps: &[runner::Step], out: &mut BTreeSet<String>) {
    for s in steps {
        out.insert(s.kind.keyword().to_string());
        for child in s.kind.children() {
            collect_kinds(child, out);
        }
    }
}
