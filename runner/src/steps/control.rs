//! Control steps: `for_each`, `if` (on an expression, or on an element of the page) and `try`
//! steer the steps inside them; `set`, `log`, `fail`, `skip_row` and `pause` work with
//! variables and the run's log.
//!
//! The row machinery of `for_each` (rows kept as they end, carried over, in doubt) is the
//! engine's own, in `engine::rows`; this family reads and checks the loop and starts it.

use super::browser::{ElementCondition, check_wait, parse_condition};
use super::{Step, Written, parse_steps, step_kinds, template_text};
use crate::engine::{Execution, Flow, Frame, StepFailure, step_name};
use crate::expr;
use crate::reader::Reader;
use crate::source_map::child_key;
use crate::validate::{Scope, Walker, is_identifier};
use std::collections::BTreeMap;
use std::time::Duration;

step_kinds! {
    #[derive(Debug, Clone)]
    pub enum ControlStep {
        "for_each" => ForEach {
            table: String,
            /// `key: "{{ row['請求書番号'] }}"`: what names the row in the client's system; a
            /// row whose key an earlier run entered is skipped (see [`crate::progress`]).
            key: Option<String>,
            steps: Vec<Step>,
        },
        "if" => If {
            condition: Condition,
            then: Vec<Step>,
            otherwise: Vec<Step>,
        },
        "try" => Try {
            steps: Vec<Step>,
            catch: Vec<Step>,
        },
        "set" => Set(BTreeMap<String, serde_yaml::Value>),
        "log" => Log(String),
        "fail" => Fail(String),
        "skip_row" => SkipRow(String),
        "pause" => Pause(f64),
    }
}

/// What an `if` tests.
#[derive(Debug, Clone)]
pub enum Condition {
    /// `if: "row['金額'] >= 100000"`: an expression.
    Expression(String),
    /// `if: { css: ".error", state: visible }`: an element of the page in a state, looked at
    /// once (or waited for up to its `timeout_secs`).
    Element(ElementCondition),
}

impl ControlStep {
    /// Keys that hold nested steps or loop settings, beside the kind's own key.
    pub const BLOCK_KEYS: &'static [&'static str] = &["steps", "then", "else", "catch"];

    /// The keys a kind allows beside its own key and the common ones.
    pub fn block_keys(kind: &str) -> &'static [&'static str] {
        match kind {
            "for_each" => &["steps", "key"],
            "if" => &["then", "else"],
            "try" => &["catch"],
            _ => &[],
        }
    }

    /// Nested step lists, for walking the tree.
    pub fn children(&self) -> Vec<&[Step]> {
        match self {
            ControlStep::ForEach { steps, .. } => vec![steps],
            ControlStep::If {
                then, otherwise, ..
            } => vec![then, otherwise],
            ControlStep::Try { steps, catch } => vec![steps, catch],
            _ => Vec::new(),
        }
    }

    pub fn variables_made(&self) -> Vec<String> {
        match self {
            ControlStep::Set(vars) => vars.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    // ---- reading ----

    pub fn parse(r: &mut Reader, s: &Written) -> Option<ControlStep> {
        Some(match s.kind {
            "for_each" => {
                let table: String = s.args(r)?;
                if !s.map.contains_key("steps") {
                    r.error(
                        s.path,
                        "`for_each` needs `steps`: what to do for each row",
                        Some("add `steps:` under `for_each`, at the same indentation".into()),
                    );
                }
                let key = match s.map.get("key") {
                    Some(v) => r.parse::<String>(v, &child_key(s.path, "key"), "`key`"),
                    None => None,
                };
                let steps = s.block(
                    r,
                    "steps",
                    (
                        "`for_each` has no steps",
                        "add the steps to do for each row under `steps:`",
                    ),
                );
                ControlStep::ForEach { table, key, steps }
            }
            "if" => {
                let condition = match &s.value {
                    serde_yaml::Value::Mapping(_) => {
                        Condition::Element(parse_condition(r, &s.value, &s.value_path)?)
                    }
                    _ => Condition::Expression(s.args(r)?),
                };
                if !s.map.contains_key("then") {
                    r.error(
                        s.path,
                        "`if` needs `then`: the steps to run when the condition is true",
                        None,
                    );
                }
                let then = s.block(
                    r,
                    "then",
                    (
                        "`then` has no steps",
                        "add the steps to run when the condition is true, or remove the `if`",
                    ),
                );
                let otherwise = s.block(
                    r,
                    "else",
                    (
                        "`else` has no steps",
                        "add the steps to run when the condition is false, or remove `else`",
                    ),
                );
                ControlStep::If {
                    condition,
                    then,
                    otherwise,
                }
            }
            "try" => {
                if super::is_empty_block(&s.value) {
                    r.key_error(
                        &s.value_path,
                        "`try` has no steps",
                        Some(
                            "list the steps to try: `try:` followed by steps starting with `- `"
                                .into(),
                        ),
                    );
                }
                let steps = parse_steps(r, &s.value, &s.value_path);
                let catch = s.block(
                    r,
                    "catch",
                    (
                        "`catch` has no steps",
                        "add the steps to run when a step in `try` fails, such as `- log: \"{{ error }}\"`",
                    ),
                );
                ControlStep::Try { steps, catch }
            }
            "set" => ControlStep::Set(s.args(r)?),
            "log" => ControlStep::Log(s.args(r)?),
            "fail" => ControlStep::Fail(s.args(r)?),
            "skip_row" => ControlStep::SkipRow(
                s.args::<Option<String>>(r)?
                    .unwrap_or_else(|| "skipped".into()),
            ),
            "pause" => ControlStep::Pause(s.args(r)?),
            other => unreachable!("`{other}` is not a control step"),
        })
    }

    // ---- checking ----

    pub(crate) fn check(&self, w: &mut Walker, step: &Step, scope: &Scope) {
        let p = &step.path;
        let own = child_key(p, self.keyword());
        match self {
            ControlStep::ForEach { table, key, steps } => {
                w.table(table, &own);
                let inner = Scope {
                    row_of: Some(table.clone()),
                    ..scope.clone()
                };
                if let Some(key) = key {
                    w.text(key, &child_key(p, "key"), &inner, false);
                }
                w.steps(steps, &inner);
            }
            ControlStep::If {
                condition,
                then,
                otherwise,
            } => {
                match condition {
                    Condition::Expression(e) => w.text(e, &own, scope, true),
                    Condition::Element(c) => {
                        check_wait(w, &child_key(&own, "timeout_secs"), c.timeout_secs)
                    }
                }
                w.steps(then, scope);
                w.steps(otherwise, scope);
            }
            ControlStep::Try { steps, catch } => {
                w.steps(steps, scope);
                let inner = Scope {
                    in_catch: true,
                    ..scope.clone()
                };
                w.steps(catch, &inner);
            }
            ControlStep::Set(vars) => {
                for (name, v) in vars {
                    let at = child_key(&own, name);
                    if !is_identifier(name) {
                        w.problem(&at, format!("the variable name `{name}` can only use letters a-z, digits and `_`, and must start with a letter"), None);
                    }
                    w.text(&template_text(v), &at, scope, false);
                }
            }
            ControlStep::Log(t) | ControlStep::Fail(t) => w.text(t, &own, scope, false),
            ControlStep::SkipRow(t) => {
                if scope.row_of.is_none() {
                    w.problem(
                        p,
                        "`skip_row` only works inside `for_each`",
                        Some("move this step into the `steps` of a `for_each`".into()),
                    );
                }
                w.text(t, &own, scope, false);
            }
            ControlStep::Pause(secs) => {
                if !(0.0..=300.0).contains(secs) {
                    w.problem(
                        &own,
                        format!("`pause: {secs}` is out of range"),
                        Some(
                            "pause between 0 and 300 seconds; to wait for a page, use `wait_for`"
                                .into(),
                        ),
                    );
                }
            }
        }
    }

    // ---- running ----

    pub(crate) async fn run(
        &self,
        x: &mut Execution<'_>,
        step: &Step,
        frame: &Frame,
    ) -> Result<Flow, StepFailure> {
        match self {
            ControlStep::ForEach { table, key, steps } => {
                x.for_each(step, table, key.as_deref(), steps, frame).await
            }
            ControlStep::If {
                condition,
                then,
                otherwise,
            } => {
                let yes = match condition {
                    Condition::Expression(condition) => {
                        x.x.eval_bool(condition, &x.context(frame)).map_err(|e| {
                            x.failure(
                                step,
                                frame,
                                format!("cannot work out `if: {condition}`: {e}"),
                            )
                        })?
                    }
                    Condition::Element(c) => x.element_condition(c, step, frame).await?,
                };
                x.steps(if yes { then } else { otherwise }, frame).await
            }
            ControlStep::Try { steps, catch } => match x.steps(steps, frame).await {
                Ok(flow) => Ok(flow),
                Err(f) if !catch.is_empty() && !x.browser_lost => {
                    let row = f.row.as_ref().map(|r| r.1);
                    x.log.warn(
                        Some(&f.step),
                        row,
                        &format!("{} (handled by `catch`)", f.message),
                    );
                    let inner = Frame {
                        row: frame.row.clone(),
                        error: Some(f.message),
                        places: frame.places.clone(),
                    };
                    x.steps(catch, &inner).await
                }
                Err(f) => Err(f),
            },
            ControlStep::Set(vars) => {
                for (name, value) in vars {
                    let v = match value {
                        serde_yaml::Value::String(s) => x.render(s, frame, step)?,
                        other => expr::yaml_value(other),
                    };
                    x.vars.insert(name.clone(), v);
                }
                Ok(Flow::Next)
            }
            ControlStep::Log(text) => {
                let msg = x.render_text(text, frame, step)?;
                x.log.info(
                    Some(&step_name(step)),
                    frame.row.as_ref().map(|r| r.1 + 1),
                    &msg,
                );
                Ok(Flow::Next)
            }
            ControlStep::Fail(text) => {
                let msg = x.render_text(text, frame, step)?;
                Err(x.failure(step, frame, msg))
            }
            ControlStep::SkipRow(text) => Ok(Flow::SkipRow(x.render_text(text, frame, step)?)),
            ControlStep::Pause(secs) => {
                tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))).await;
                Ok(Flow::Next)
            }
        }
    }
}
