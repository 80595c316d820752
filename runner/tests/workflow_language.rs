//! The workflow language as a trainee meets it: example files that must stay valid, and
//! mistakes that must get a message saying where and what to do. Each expected message is
//! the whole text the trainee sees.

use runner::Workflow;
use std::path::Path;

fn errors(yaml: &str) -> Vec<String> {
    match Workflow::parse(Path::new("w.yaml"), yaml) {
        Ok(_) => panic!("expected errors for:\n{yaml}"),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

const HEAD: &str = "name: t\nclient: acme\nauthor: olena\n";

#[test]
fn every_example_workflow_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            if let Err(e) = Workflow::load(&path) {
                panic!("{} is invalid:\n{e}", path.display());
            }
            count += 1;
        }
    }
    assert!(
        count >= 3,
        "expected at least three example workflows, found {count}"
    );
}

#[test]
fn a_full_workflow_reads_into_typed_steps() {
    let text = r#"name: t
client: acme
author: olena
version: 3
inputs:
  invoices: { sheet: 1, header_row: 2 }
params:
  rate: 0.1
secrets: [portal_user]
steps:
  - open: "https://portal.example/login"
  - fill: { label: ユーザーID, value: "{{ secrets.portal_user }}" }
  - click: ログイン
  - for_each: invoices
    on_error: mark_row_failed
    steps:
      - fill: { label: 金額, value: "{{ row['金額'] * params.rate }}", mode: set }
      - extract: { css: .receipt-no, into: 受付番号 }
  - write: { file: "out-{{ today }}.xlsx", table: invoices, with_results: true }
"#;
    let w = Workflow::parse(Path::new("w.yaml"), text).unwrap();
    assert_eq!(w.version, "3");
    assert_eq!(w.steps.len(), 5);
    assert!(w.needs_browser());
    assert_eq!(w.steps[3].kind.keyword(), "for_each");
    assert_eq!(w.steps[3].on_error, runner::steps::OnError::MarkRowFailed);
    assert_eq!(w.steps[1].pos.unwrap().line, 12);
    assert_eq!(
        w.inputs[0].spec.header_row,
        Some(runner::sheet::HeaderRow::Row(2))
    );
}

#[test]
fn yaml_syntax_errors_point_at_the_line() {
    assert_eq!(
        errors(&format!("{HEAD}steps:\n  - log: \"unclosed\n")),
        vec![
            "w.yaml:5:10: this is not valid YAML: a quote opened here is not closed; close it on the same line, or write the text without quotes (while scanning a quoted scalar, found unexpected end of stream)\n  hint: check the indentation (spaces, not tabs) and that every `key: value` has a space after the colon; text with `: ` or `#` in it needs quotes"
        ]
    );
}

#[test]
fn unknown_keys_get_a_suggestion() {
    assert_eq!(
        errors(&format!(
            "{HEAD}inputs:\n  invoices: {{ headerrow: 2 }}\nsteps:\n  - log: hi\n"
        )),
        vec![
            "w.yaml:5:15: unknown key `headerrow` in input `invoices`\n  hint: did you mean `header_row`? Allowed keys here: description, sheet, header_row, range, merged, columns, same_file_as"
        ]
    );
    assert_eq!(
        errors(&format!("{HEAD}step:\n  - log: hi\n")),
        vec![
            "w.yaml:1:1: the workflow needs `steps`: the list of things the bot does\n  hint: add `steps:` followed by a list of steps",
            "w.yaml:4:1: unknown key `step` in the workflow\n  hint: did you mean `steps`? Allowed keys here: name, description, title, author, client, version, inputs, params, secrets, timeout_minutes, retry, browser, limits, steps",
        ]
    );
}

#[test]
fn unknown_step_kinds_and_locator_keys() {
    assert_eq!(
        errors(&format!(
            "{HEAD}steps:\n  - clik: ログイン\n  - fill: {{ lable: 氏名, value: x }}\n"
        )),
        vec![
            "w.yaml:5:5: unknown step kind `clik`\n  hint: did you mean `click`? docs/workflows.md lists every step kind",
            "w.yaml:6:13: unknown key `lable` in `fill`\n  hint: did you mean `label`? Allowed keys here: css, xpath, label, placeholder, name, text, title, value, mode, verify, timeout_secs",
        ]
    );
}

#[test]
fn a_misspelled_step_in_for_each_is_the_only_error() {
    assert_eq!(
        errors(&format!(
            "{HEAD}inputs: {{ orders: {{}} }}\nsteps:\n  - for_each: orders\n    steps:\n      - lgo: hi\n"
        )),
        vec![
            "w.yaml:8:9: unknown step kind `lgo`\n  hint: did you mean `log`? docs/workflows.md lists every step kind"
        ]
    );
}

#[test]
fn wrong_types_say_what_is_expected() {
    assert_eq!(
        errors(&format!(
            "{HEAD}steps:\n  - pause: 1\n    timeout_secs: thirty\n"
        )),
        vec![
            "w.yaml:6:19: `timeout_secs` must be a whole number (0 or more), but it is the text \"thirty\"\n  hint: for example `timeout_secs: 30`"
        ]
    );
    assert_eq!(
        errors(&format!(
            "{HEAD}steps:\n  - log: hi\n    on_error: ignore\n"
        )),
        vec![
            "w.yaml:6:15: `on_error` cannot be `ignore`\n  hint: allowed: stop, continue, mark_row_failed, skip_row"
        ]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let found = errors(&format!(
        "{HEAD}secrets: [portal_user]\nsteps:\n  - fill: {{ label: ID, value: \"{{{{ secrets.portal_usr }}}}\" }}\n  - for_each: invoice\n    steps:\n      - log: \"{{{{ row['金額'] * }}}}\"\n  - write: {{ file: ../out.xlsx, table: invoices }}\n  - log: \"{{{{ totl }}}}\"\n"
    ));
    assert_eq!(
        found,
        vec![
            "w.yaml:6:31: secret `portal_usr` is not declared\n  hint: add it to `secrets:` at the top of the workflow. did you mean `portal_user`?",
            "w.yaml:7:15: there is no table named `invoice` at this point\n  hint: there are no tables yet. Tables come from `inputs` and from steps with `into`.",
            "w.yaml:9:14: cannot read this template: the template has a syntax error: unexpected end of input, expected expression\n  hint: a template looks like `Hello {{ row['氏名'] }}`",
            "w.yaml:10:20: `file` is a plain file name; outputs always go into the run's `outputs` folder\n  hint: remove the folder part, e.g. `file: report.xlsx`",
            "w.yaml:10:40: there is no table named `invoices` at this point\n  hint: there are no tables yet. Tables come from `inputs` and from steps with `into`.",
            "w.yaml:11:10: unknown name `totl` in this template\n  hint: known names: params, secrets, today, now. A column is written `row['totl']`, a secret `secrets.totl`",
        ]
    );
}

#[test]
fn names_used_in_folders_must_be_simple() {
    assert_eq!(
        errors("name: invoice entry\nclient: acme\nauthor: olena\nsteps:\n  - log: hi\n"),
        vec![
            "w.yaml:1:7: `name` must be short and simple: letters a-z, digits, `-` or `_` (it is used in folder names), but it is \"invoice entry\"\n  hint: for example `name: invoice-entry`"
        ]
    );
}

#[test]
fn author_and_client_follow_the_rules_of_user_and_client_names() {
    assert_eq!(
        errors("name: invoice-entry\nclient: Acme\nauthor: Olena\nsteps:\n  - log: hi\n"),
        vec![
            "w.yaml:2:9: `client` is the client's name in kobo: lowercase letters a-z, digits, `-`, `_` or `.`, at most 40, but it is \"Acme\"\n  hint: write it as kobo knows it, in lowercase: `client: acme`",
            "w.yaml:3:9: `author` is the trainee's kobo user name: lowercase letters a-z, digits, `-`, `_` or `.`, at most 40, but it is \"Olena\"\n  hint: write it as kobo knows it, in lowercase: `author: olena`",
        ]
    );
    let ok = "name: e\nclient: acme.jp\nauthor: o.kovalenko\nsteps:\n  - log: hi\n";
    assert!(Workflow::parse(Path::new("w.yaml"), ok).is_ok());
}

#[test]
fn row_and_skip_row_only_inside_for_each() {
    assert_eq!(
        errors(&format!(
            "{HEAD}steps:\n  - log: \"{{{{ row['a'] }}}}\"\n  - skip_row: no\n    on_error: mark_row_failed\n"
        )),
        vec![
            "w.yaml:5:10: `row` is only known inside `for_each`\n  hint: move this step into the `steps` of a `for_each`",
            "w.yaml:6:5: `skip_row` only works inside `for_each`\n  hint: move this step into the `steps` of a `for_each`",
            "w.yaml:7:15: `mark_row_failed` and `skip_row` only work inside `for_each`\n  hint: use `stop` or `continue` here",
        ]
    );
}

#[test]
fn absurd_values_are_refused() {
    assert_eq!(
        errors(&format!(
            "{HEAD}steps:\n  - pause: 100000\n  - log: hi\n    retry: {{ attempts: 500 }}\n"
        )),
        vec![
            "w.yaml:5:12: `pause: 100000` is out of range\n  hint: pause between 0 and 300 seconds; to wait for a page, use `wait_for`",
            "w.yaml:7:14: `attempts: 500` is out of range\n  hint: use between 1 and 10 attempts",
        ]
    );
}

#[test]
fn a_step_with_two_kinds_or_none() {
    assert_eq!(
        errors(&format!(
            "{HEAD}steps:\n  - log: a\n    fail: b\n  - name: nothing\n"
        )),
        vec![
            "w.yaml:5:5: one step can do only one thing, but this one has `log` and `fail`\n  hint: split it into separate steps, each starting with `- `",
            "w.yaml:7:5: this step has no kind (such as `fill:` or `write:`)\n  hint: add one step kind key; see docs/workflows.md",
        ]
    );
}

#[test]
fn hostile_text_never_panics() {
    for text in [
        "",
        "- a\n- b",
        "name: [",
        "steps: 5",
        "{{{{",
        "name: t\nsteps:\n  - - - -\n",
        "\u{feff}name: x",
        "steps:\n  - for_each: t\n    steps: 3\n",
    ] {
        let _ = Workflow::parse(Path::new("w.yaml"), text);
    }
}

#[test]
fn a_missing_name_does_not_hide_the_other_problems() {
    assert_eq!(
        errors("client: acme\nauthor: olena\nsteps:\n  - log: \"{{ totl }}\"\n"),
        vec![
            "w.yaml:1:1: the workflow needs `name`\n  hint: add a line `name: ...` at the top of the file",
            "w.yaml:4:10: unknown name `totl` in this template\n  hint: known names: params, secrets, today, now. A column is written `row['totl']`, a secret `secrets.totl`",
        ]
    );
}

#[test]
fn a_mistake_inside_an_input_is_the_only_error() {
    let steps = "steps:\n  - sort: { table: invoices, by: 金額 }\n  - for_each: invoices\n    steps:\n      - log: \"{{ row['金額'] }}\"\n  - write: { file: out.xlsx, table: invoices }\n";
    for (spec, expected) in [
        (
            "headr_row: 1",
            "w.yaml:5:15: unknown key `headr_row` in input `invoices`\n  hint: did you mean `header_row`? Allowed keys here: description, sheet, header_row, range, merged, columns, same_file_as",
        ),
        (
            "header_row: -1",
            "w.yaml:5:27: `header_row` must be a row number (1 = the first row), or `none` when the file has no header row, but it is the number -1\n  hint: for example `header_row: 1`",
        ),
        (
            "sheet: 0",
            "w.yaml:5:22: `sheet` must be a sheet number (1 = first sheet) or a sheet name, but it is the number 0\n  hint: for example `sheet: 1`",
        ),
    ] {
        assert_eq!(
            errors(&format!("{HEAD}inputs:\n  invoices: {{ {spec} }}\n{steps}")),
            vec![expected],
            "{spec}"
        );
    }
}

#[test]
fn columns_are_checked_against_the_declared_columns() {
    assert_eq!(
        errors(&format!(
            "{HEAD}inputs:\n  invoices: {{ columns: [請求書番号, 金額, 請求日] }}\nsteps:\n  - compute: {{ table: invoices, column: 税込, value: \"{{{{ row['金額'] * 1.1 }}}}\" }}\n  - sort: {{ table: invoices, by: 金顔 }}\n  - for_each: invoices\n    steps:\n      - log: \"{{{{ row['金顔'] }}}} {{{{ row['税込'] }}}}\"\n      - extract: {{ css: .no, into: 受付番号 }}\n  - write: {{ file: out.xlsx, table: invoices, formats: {{ 請求日x: yyyy-mm-dd, 受付番号: \"@\" }} }}\n"
        )),
        vec![
            "w.yaml:8:34: table `invoices` has no column `金顔`\n  hint: did you mean `金額`? Known columns of `invoices`: 請求書番号, 金額, 請求日, 税込. If the file has this column, add it to `columns:` of the input",
            "w.yaml:11:14: table `invoices` has no column `金顔`\n  hint: did you mean `金額`? Known columns of `invoices`: 請求書番号, 金額, 請求日, 税込. If the file has this column, add it to `columns:` of the input",
            "w.yaml:13:58: table `invoices` has no column `請求日x`\n  hint: did you mean `請求日`? Known columns of `invoices`: 請求書番号, 金額, 請求日, 税込, 受付番号. If the file has this column, add it to `columns:` of the input",
        ]
    );
}

#[test]
fn fields_are_checked_before_any_run() {
    assert_eq!(
        errors(&format!(
            "{HEAD}version: [1, 2]\nparams: {{ 1: x }}\ninputs:\n  invoices: {{ range: \"ZZ:1\" }}\nsteps:\n  - read: {{ input: invoices, range: B2:A, into: more }}\n"
        )),
        vec![
            "w.yaml:4:10: `version` must be text or a number, but it is a list\n  hint: for example `version: 2` or `version: \"2024-04\"`",
            "w.yaml:5:11: the param name `1` can only use letters a-z, digits and `_`, and must start with a letter\n  hint: templates use it as `{{ params.tax_rate }}`, so `tax_rate` works, `tax rate` or `1` does not",
            "w.yaml:7:22: `ZZ:1` is not a valid cell range: `1` has no column letter\n  hint: write it like `B2:F100`, or `B2:F` to read down to the last row",
            "w.yaml:9:37: `B2:A` is not a valid cell range: column A comes before column B\n  hint: write it like `B2:F100`, or `B2:F` to read down to the last row",
        ]
    );
}

#[test]
fn empty_blocks_are_reported_even_with_other_errors() {
    assert_eq!(
        errors(&format!(
            "{HEAD}inputs: {{ orders: {{}} }}\nsteps:\n  - lgo: hi\n  - try: []\n    catch:\n      - log: x\n  - for_each: orders\n    steps: []\n  - if: \"1 > 0\"\n    then:\n"
        )),
        vec![
            "w.yaml:6:5: unknown step kind `lgo`\n  hint: did you mean `log`? docs/workflows.md lists every step kind",
            "w.yaml:7:5: `try` has no steps\n  hint: list the steps to try: `try:` followed by steps starting with `- `",
            "w.yaml:11:5: `for_each` has no steps\n  hint: add the steps to do for each row under `steps:`",
            "w.yaml:13:5: `then` has no steps\n  hint: add the steps to run when the condition is true, or remove the `if`",
        ]
    );
    assert_eq!(
        errors(&format!("{HEAD}steps: []\n")),
        vec![
            "w.yaml:4:8: the workflow has no steps\n  hint: add at least one step, such as `- log: hello`"
        ]
    );
}

#[test]
fn a_key_written_twice_is_shown_where_it_is_written_again() {
    assert_eq!(
        errors(&format!("{HEAD}steps:\n  - log: hi\nclient: acme2\n")),
        vec![
            "w.yaml:6:1: `client` is written twice\n  hint: delete this line or line 2 (the first `client:`); a key can be written only once in the same group"
        ]
    );
}

#[test]
fn a_workflow_saved_as_shift_jis_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.yaml");
    let text = format!("{HEAD}steps:\n  - log: \"請求書\"\n");
    let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
    std::fs::write(&path, &bytes).unwrap();
    let e = Workflow::load(&path).unwrap_err();
    assert_eq!(
        e.0.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        vec![format!(
            "{}:5:11: the workflow file is not saved as UTF-8 (it looks like Shift_JIS)\n  hint: save the file as UTF-8: in VS Code click the encoding in the bottom bar, choose \"Save with Encoding\", then \"UTF-8\"",
            path.display()
        )]
    );
}

#[test]
fn declared_columns_with_the_result_columns_of_write_are_valid() {
    let text = format!(
        "{HEAD}inputs:\n  invoices: {{ columns: [請求書番号, 金額] }}\nsteps:\n  - for_each: invoices\n    steps:\n      - log: \"{{{{ row['金額'] }}}}\"\n  - write:\n      file: out.xlsx\n      with_results: true\n      sheets:\n        - {{ table: invoices, columns: [請求書番号, result, error], formats: {{ 金額: \"#,##0\" }} }}\n"
    );
    if let Err(e) = Workflow::parse(Path::new("w.yaml"), &text) {
        panic!("{e}");
    }
    // A join without `columns` brings every column of `with`, known or not before a run.
    for with in ["{ columns: [部署コード, 部署名] }", "{}"] {
        let text = format!(
            "{HEAD}inputs:\n  staff: {{ columns: [氏名, 部署コード] }}\n  departments: {with}\nsteps:\n  - join: {{ table: staff, with: departments, on: 部署コード }}\n  - sort: {{ table: staff, by: 部署名 }}\n"
        );
        if let Err(e) = Workflow::parse(Path::new("w.yaml"), &text) {
            panic!("{with}: {e}");
        }
    }
}

#[test]
fn a_column_name_in_other_letters_after_a_dot_gets_the_bracket_form() {
    assert_eq!(
        errors(&format!(
            "{HEAD}inputs: {{ payments: {{}} }}\nsteps:\n  - for_each: payments\n    steps:\n      - log: \"{{{{ row.Номер }}}}\"\n"
        )),
        vec![
            "w.yaml:8:14: cannot read this template: the template has a syntax error: unexpected character\n  hint: write `row['Номер']`: after `row.` only names made of letters a-z, digits and `_` work"
        ]
    );
}

#[test]
fn only_web_pages_can_be_opened_and_only_run_files_uploaded() {
    assert_eq!(
        errors(&format!(
            "{HEAD}steps:\n  - open: \"file:///etc/passwd\"\n  - open: \"view-source:https://portal.example/\"\n  - open: \"https://portal.example/{{{{ params.x }}}}\"\n  - upload: {{ label: ファイル, file: /etc/passwd }}\nparams: {{ x: a }}\n"
        )),
        vec![
            "w.yaml:5:11: `open` can only go to web pages (http:// or https://), not a `file:` address\n  hint: write the portal's address, e.g. `https://portal.example/login`; files for the portal go in with `upload`",
            "w.yaml:6:11: `open` can only go to web pages (http:// or https://), not a `view-source:` address\n  hint: write the portal's address, e.g. `https://portal.example/login`; files for the portal go in with `upload`",
            "w.yaml:8:34: `file` is a file of this run, not a path on the machine\n  hint: upload a file of this run, such as `outputs/report.xlsx` or `input/<name>`",
        ]
    );
}

#[test]
fn element_states_are_checked_where_they_are_written() {
    let all = format!(
        "{HEAD}steps:\n  - wait_for: {{ css: .spinner, state: gone }}\n  - assert: {{ text: 送信 }}\n  - if: {{ css: .error, text: エラー, state: visible }}\n    then: [ {{ log: x }} ]\n  - if: {{ css: .error, state: visible, wait: 3 }}\n    then: [ {{ log: x }} ]\n  - wait_for: {{ url_contains: /menu, state: visible }}\n  - if: {{ css: .error, state: shown }}\n    then: [ {{ log: x }} ]\n  - assert: {{ css: .error, state: hidden, timeout_secs: 0 }}\n  - if: {{ css: .error, state: hidden, timeout_secs: 900 }}\n    then: [ {{ log: x }} ]\n"
    );
    assert_eq!(
        errors(&all),
        vec![
            "w.yaml:5:39: unknown state `gone`; use one of visible, hidden, enabled, disabled, present, absent\n  hint: `visible` means a person can see it; `present` only that it is on the page (seen or not)",
            "w.yaml:6:15: `assert` needs `state`: which state the element must be in (visible, hidden, enabled, disabled, present, absent)\n  hint: for example `assert: { css: \".error\", state: visible }`",
            "w.yaml:7:11: `if` has css and text ways to find the element; keep only one",
            "w.yaml:9:40: unknown key `wait` in `if`\n  hint: allowed keys here: css, xpath, label, placeholder, name, text, title, state, timeout_secs",
            "w.yaml:11:45: `state` is the state of an element, but this `wait_for` names no element\n  hint: add the element, e.g. `wait_for: { css: \".spinner\", state: hidden }`; `url_contains` waits for the address alone",
            "w.yaml:12:31: unknown state `shown`; use one of visible, hidden, enabled, disabled, present, absent\n  hint: `visible` means a person can see it; `present` only that it is on the page (seen or not)",
            "w.yaml:14:57: `timeout_secs: 0` is out of range\n  hint: use between 1 and 600 seconds",
            "w.yaml:15:53: `timeout_secs: 900` is out of range\n  hint: use between 1 and 600 seconds",
        ]
    );
    let verify = format!("{HEAD}steps:\n  - fill: {{ label: 氏名, value: x, verify: maybe }}\n");
    assert_eq!(
        errors(&verify),
        vec![
            "w.yaml:5:42: `verify` must be true or false, but it is the text \"maybe\"\n  hint: for example `verify: true`"
        ]
    );
    // `if: "<expression>"` is as before; a mapping makes it an element condition that needs
    // a browser.
    let w = Workflow::parse(
        Path::new("w.yaml"),
        &format!("{HEAD}steps:\n  - if: \"1 < 2\"\n    then: [ {{ log: x }} ]\n"),
    )
    .unwrap();
    assert!(!w.needs_browser());
    let w = Workflow::parse(
        Path::new("w.yaml"),
        &format!("{HEAD}steps:\n  - if: {{ label: 氏名, state: enabled, timeout_secs: 2 }}\n    then: [ {{ log: x }} ]\n    else: [ {{ log: y }} ]\n"),
    )
    .unwrap();
    assert!(w.needs_browser());
}
