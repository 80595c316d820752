//! Expressions and templates in workflow values, through minijinja (Jinja syntax).
//!
//! - A *template* is text with `{{ … }}` parts: `"Invoice {{ row['請求書番号'] }}"`.
//!   When the whole value is one `{{ … }}`, the result keeps its type (a number stays a number).
//! - An *expression* (in `where`, `if`, `when`) is the part inside the braces: `row['金額'] > 1000`.
//!
//! Extra filters for client data: `number`, `yen`, `halfwidth`, `date`.

use crate::table::{Cell, Table, parse_number};
use chrono::{NaiveDate, NaiveDateTime};
use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// Work allowed for one template (a guard against endless loops in user templates).
const FUEL: u64 = 200_000;

/// The largest value one template may make, in bytes of text (10 MB): a string, or a list
/// or map counted with everything in it. A workflow that grows a value in a loop
/// (`set: { s: "{{ s ~ s }}" }` in `for_each`) fails its step instead of filling memory.
pub const MAX_VALUE_BYTES: usize = 10 * 1024 * 1024;

/// The template engine, configured for workflows.
pub struct Expressions {
    env: Environment<'static>,
    max_value_bytes: usize,
}

impl Default for Expressions {
    fn default() -> Self {
        Self::new()
    }
}

/// A problem evaluating a template or expression, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExprError(pub String);

impl Expressions {
    pub fn new() -> Expressions {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(50);
        env.add_filter("number", filter_number);
        env.add_filter("yen", filter_yen);
        env.add_filter("halfwidth", filter_halfwidth);
        env.add_filter("date", filter_date);
        // `namespace()` lets a loop inside one template feed a value back into itself, which
        // doubles it on every turn, faster than the bound below can see. Workflows use `set`.
        env.remove_global("namespace");
        Expressions {
            env,
            max_value_bytes: MAX_VALUE_BYTES,
        }
    }

    /// The same engine with another bound on the size of one value (see [`MAX_VALUE_BYTES`]).
    pub fn with_value_limit(mut self, bytes: usize) -> Expressions {
        self.max_value_bytes = bytes;
        self
    }

    /// Refuse a value larger than the bound, before it is kept anywhere.
    fn bounded(&self, v: Value) -> Result<Value, ExprError> {
        if value_size(&v, self.max_value_bytes) > self.max_value_bytes {
            return Err(ExprError(format!(
                "the value is larger than {}, the bound for one value (does a loop add a value to itself, like `s ~ s`?)",
                human_bytes(self.max_value_bytes)
            )));
        }
        Ok(v)
    }

    /// Check a template's syntax; return the variables it uses (`row`, `secrets.portal_user` …).
    pub fn check_template(&self, src: &str) -> Result<HashSet<String>, ExprError> {
        if let Some(expr) = single_expression(src) {
            return self.check_expression(expr);
        }
        let tmpl = self.env.template_from_str(src).map_err(describe)?;
        Ok(tmpl.undeclared_variables(true))
    }

    /// Check an expression's syntax; return the variables it uses.
    pub fn check_expression(&self, src: &str) -> Result<HashSet<String>, ExprError> {
        let expr = self
            .env
            .compile_expression(strip_braces(src))
            .map_err(describe)?;
        Ok(expr.undeclared_variables(true))
    }

    /// Render a template. A value that is exactly one `{{ … }}` keeps its type.
    pub fn render(&self, src: &str, ctx: &Value) -> Result<Value, ExprError> {
        if !src.contains("{{") && !src.contains("{%") {
            return Ok(Value::from(src));
        }
        if let Some(expr) = single_expression(src) {
            return self.eval(expr, ctx);
        }
        self.env
            .render_str(src, ctx)
            .map(Value::from)
            .map_err(|e| with_cell_note(describe(e), src, ctx))
            .and_then(|v| self.bounded(v))
    }

    /// Render a template to text.
    pub fn render_text(&self, src: &str, ctx: &Value) -> Result<String, ExprError> {
        let v = self.render(src, ctx)?;
        Ok(display(&v))
    }

    /// Evaluate an expression to a value.
    pub fn eval(&self, src: &str, ctx: &Value) -> Result<Value, ExprError> {
        let expr = self
            .env
            .compile_expression(strip_braces(src))
            .map_err(describe)?;
        expr.eval(ctx)
            .map_err(|e| with_cell_note(describe(e), src, ctx))
            .and_then(|v| self.bounded(v))
    }

    /// Evaluate a condition.
    pub fn eval_bool(&self, src: &str, ctx: &Value) -> Result<bool, ExprError> {
        Ok(self.eval(src, ctx)?.is_true())
    }

    /// Compile a template once, to render it for many rows (`filter`, `compute`).
    pub fn compile<'a>(&'a self, src: &'a str) -> Result<Compiled<'a>, ExprError> {
        let form = if !src.contains("{{") && !src.contains("{%") {
            Form::Text(Value::from(src))
        } else if let Some(expr) = single_expression(src) {
            Form::Expression(self.env.compile_expression(expr).map_err(describe)?)
        } else {
            Form::Template(self.env.template_from_str(src).map_err(describe)?)
        };
        Ok(Compiled { x: self, src, form })
    }

    /// Compile a condition (`where`, `if`) once.
    pub fn compile_condition<'a>(&'a self, src: &'a str) -> Result<Compiled<'a>, ExprError> {
        let expr = self
            .env
            .compile_expression(strip_braces(src))
            .map_err(describe)?;
        Ok(Compiled {
            x: self,
            src,
            form: Form::Expression(expr),
        })
    }
}

/// A template or expression compiled once; see [`Expressions::compile`].
pub struct Compiled<'a> {
    x: &'a Expressions,
    src: &'a str,
    form: Form<'a>,
}

enum Form<'a> {
    Text(Value),
    Expression(minijinja::Expression<'a, 'a>),
    Template(minijinja::Template<'a, 'a>),
}

impl Compiled<'_> {
    /// The value for one context, as [`Expressions::render`] gives it.
    pub fn eval(&self, ctx: &Value) -> Result<Value, ExprError> {
        let value = match &self.form {
            Form::Text(v) => return Ok(v.clone()),
            Form::Expression(e) => e.eval(ctx),
            Form::Template(t) => t.render(ctx).map(Value::from),
        };
        value
            .map_err(|e| with_cell_note(describe(e), self.src, ctx))
            .and_then(|v| self.x.bounded(v))
    }

    pub fn eval_bool(&self, ctx: &Value) -> Result<bool, ExprError> {
        Ok(self.eval(ctx)?.is_true())
    }
}

/// What a template about one row of a table sees: `row`, `index` (1-based), `row_status` (the
/// row's result in the last `for_each` over the table: `ok`, `failed`, `skipped`, `in_doubt`,
/// or empty), and every other name of `base`. Cells become values only when a template reads
/// them, so a `filter` over 200,000 rows does not build 200,000 maps.
pub fn row_scope(base: &Value, table: &Arc<Table>, i: usize, status: &'static str) -> Value {
    Value::from_object(RowScope {
        base: base.clone(),
        row: Value::from_object(LazyRow {
            table: table.clone(),
            i,
        }),
        index: i + 1,
        status,
    })
}

#[derive(Debug)]
struct RowScope {
    base: Value,
    row: Value,
    index: usize,
    status: &'static str,
}

impl Object for RowScope {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "row" => Some(self.row.clone()),
            "index" => Some(Value::from(self.index)),
            "row_status" => Some(Value::from(self.status)),
            _ => self
                .base
                .get_attr(key.as_str()?)
                .ok()
                .filter(|v| !v.is_undefined()),
        }
    }
}

/// Row `i` of a shared table, as a map from column name to cell value.
#[derive(Debug)]
struct LazyRow {
    table: Arc<Table>,
    i: usize,
}

impl Object for LazyRow {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        let col = self.table.columns.iter().rposition(|c| c == name)?;
        self.table.rows[self.i].get(col).map(cell_value)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let names: Vec<Value> = self
            .table
            .columns
            .iter()
            .map(|c| Value::from(c.as_str()))
            .collect();
        Enumerator::Values(names)
    }
}

/// The size of a value in bytes of text, counting at least 8 per item of a list or map;
/// stops counting once past `stop`, so a huge value is not walked to its end.
fn value_size(v: &Value, stop: usize) -> usize {
    match v.kind() {
        ValueKind::String => v.as_str().map_or(0, str::len),
        ValueKind::Bytes => v.as_bytes().map_or(0, <[u8]>::len),
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            let Ok(items) = v.try_iter() else { return 8 };
            let is_map = v.kind() == ValueKind::Map;
            let mut total = 0usize;
            for item in items {
                total += 8 + value_size(&item, stop);
                if is_map && let Ok(value) = v.get_item(&item) {
                    total += value_size(&value, stop);
                }
                if total > stop {
                    break;
                }
            }
            total
        }
        _ => 8,
    }
}

/// `10 MB`, `512 KB`, `300 bytes`.
pub fn human_bytes(n: usize) -> String {
    const MB: usize = 1024 * 1024;
    if n >= MB && n.is_multiple_of(MB) {
        format!("{} MB", n / MB)
    } else if n >= MB {
        format!("{:.1} MB", n as f64 / MB as f64)
    } else if n >= 1024 {
        format!("{} KB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

/// `{{ expr }}` with nothing around it → `expr`.
fn single_expression(src: &str) -> Option<&str> {
    let t = src.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    // `{{ a }} and {{ b }}` is not one expression.
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner.trim())
}

fn strip_braces(src: &str) -> &str {
    single_expression(src).unwrap_or(src.trim())
}

/// minijinja's errors → one readable sentence (kind, detail, and where in the template).
fn describe(e: Error) -> ExprError {
    let detail = e.detail().map(str::to_string).unwrap_or_default();
    let what = match e.kind() {
        ErrorKind::SyntaxError => format!("the template has a syntax error: {detail}"),
        ErrorKind::UndefinedError => {
            "it uses a name that has no value here (check the spelling of the variable or column)"
                .to_string()
        }
        ErrorKind::InvalidOperation => format!("this calculation is not possible: {detail}"),
        ErrorKind::UnknownFilter => format!(
            "unknown filter: {detail} (filters: number, yen, halfwidth, date, round, trim, upper, lower, replace, default)"
        ),
        ErrorKind::OutOfFuel => "the template did too much work (an endless loop?)".to_string(),
        _ if detail.is_empty() => e.kind().to_string(),
        _ => format!("{}: {detail}", e.kind()),
    };
    ExprError(what)
}

/// Text of a value as it should appear in a cell or a field: `none` becomes empty.
pub fn display(v: &Value) -> String {
    match v.kind() {
        ValueKind::None | ValueKind::Undefined => String::new(),
        ValueKind::Number => match f64::try_from(v.clone()) {
            Ok(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", f as i64),
            _ => v.to_string(),
        },
        _ => v.to_string(),
    }
}

/// A cell as a template value. Text that reads as a number (`1,200`, `¥3,000`) becomes a number
/// so that `row['金額'] * 1.1` works on CSV data; codes with leading zeros (`00123`) stay text.
pub fn cell_value(cell: &Cell) -> Value {
    match cell {
        Cell::Empty => Value::from(""),
        Cell::Text(s) => match number_in_text(s) {
            Some(n) => number_value(n),
            None => Value::from(s.as_str()),
        },
        Cell::Int(i) => Value::from(*i),
        Cell::Float(f) => Value::from(*f),
        Cell::Bool(b) => Value::from(*b),
        // Not text: `"#DIV/0!" * 12` would repeat the text instead of failing.
        Cell::Error(e) => Value::from_object(ExcelError(e.clone())),
        Cell::Date(_) | Cell::DateTime(_) => Value::from(cell.to_string()),
    }
}

/// A cell whose formula failed in the client's file (`#DIV/0!`, `#N/A` …). It shows as its
/// error text, but any calculation with it fails, so a bad total never reaches a portal.
#[derive(Debug)]
struct ExcelError(String);

impl minijinja::value::Object for ExcelError {
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Plain
    }

    fn render(self: &std::sync::Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// When a template that failed uses a column whose cell holds an Excel error, say so: the
/// trainee's template is fine, the client's file is not.
fn with_cell_note(e: ExprError, src: &str, ctx: &Value) -> ExprError {
    let Ok(row) = ctx.get_attr("row") else {
        return e;
    };
    for column in crate::validate::row_columns(src) {
        if let Ok(v) = row.get_item(&Value::from(column.as_str()))
            && let Some(err) = v.downcast_object_ref::<ExcelError>()
        {
            return ExprError(format!(
                "{}; column `{column}` holds the Excel error `{}` (a formula that failed in the \
                 file). Ask the client to fix the formula, or give the step \
                 `when: \"row['{column}'] is number\"`",
                e.0, err.0
            ));
        }
    }
    if e.0.starts_with("this calculation is not possible") {
        for column in crate::validate::row_columns(src) {
            if row
                .get_item(&Value::from(column.as_str()))
                .is_ok_and(|v| v.as_str() == Some(""))
            {
                return ExprError(format!(
                    "{}; column `{column}` is empty in this row. Ask the client to fill it in, or \
                     give the step `when: \"row['{column}'] != ''\"`",
                    e.0
                ));
            }
        }
        // Text where a number was meant (`未定`, `TBD`): name the column and the text.
        for column in crate::validate::row_columns(src) {
            if let Ok(v) = row.get_item(&Value::from(column.as_str()))
                && let Some(text) = v.as_str()
            {
                return ExprError(format!(
                    "`{column}` in this row is the text `{text}`, not a number ({}). Check with \
                     `row['{column}'] is number`: in `compute`, `where: \"row['{column}'] is number\"` \
                     computes only the rows with a number; inside `for_each`, \
                     `if: \"row['{column}'] is not number\"` can fail such a row with a message of yours",
                    e.0
                ));
            }
        }
    }
    e
}

fn number_in_text(s: &str) -> Option<f64> {
    let t = s.trim();
    let mut chars = t.chars();
    let first = chars.next()?;
    let second = chars.next();
    let leading_zero = (first == '0' || first == '０')
        && second.is_some_and(|c| c.is_ascii_digit() || ('０'..='９').contains(&c));
    if leading_zero || t.starts_with('+') {
        return None;
    }
    parse_number(t)
}

fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}

/// A template result as a cell.
pub fn value_cell(v: &Value) -> Cell {
    match v.kind() {
        ValueKind::None | ValueKind::Undefined => Cell::Empty,
        ValueKind::Bool => Cell::Bool(v.is_true()),
        ValueKind::Number if v.is_integer() => v
            .as_i64()
            .map(Cell::Int)
            .unwrap_or_else(|| Cell::text(v.to_string())),
        ValueKind::Number => f64::try_from(v.clone())
            .map(Cell::Float)
            .unwrap_or_else(|_| Cell::text(v.to_string())),
        _ => Cell::text(display(v)),
    }
}

/// A row as a template value: column name → value.
pub fn row_value(columns: &[String], cells: &[Cell]) -> Value {
    let map: BTreeMap<String, Value> = columns
        .iter()
        .zip(cells.iter())
        .map(|(c, v)| (c.clone(), cell_value(v)))
        .collect();
    Value::from(map)
}

/// A YAML value (from `params` or `set`) as a template value.
pub fn yaml_value(v: &serde_yaml::Value) -> Value {
    Value::from_serialize(v)
}

fn filter_number(v: Value) -> Result<Value, Error> {
    if v.kind() == ValueKind::Number {
        return Ok(v);
    }
    let s = display(&v);
    parse_number(&s).map(number_value).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("\"{s}\" is not a number"),
        )
    })
}

/// `12000 | yen` → `¥12,000`.
fn filter_yen(v: Value) -> Result<String, Error> {
    let n = filter_number(v)?;
    let f =
        f64::try_from(n).map_err(|_| Error::new(ErrorKind::InvalidOperation, "not a number"))?;
    let rounded = f.round() as i64;
    let digits = rounded.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    Ok(format!("{}¥{grouped}", if rounded < 0 { "-" } else { "" }))
}

/// Full-width letters, digits and spaces → ASCII (`ＡＢＣ１２３` → `ABC123`).
pub fn to_halfwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

fn filter_halfwidth(v: Value) -> String {
    to_halfwidth(&display(&v))
}

/// Read a date written as `2026-11-05`, `2026/11/05`, `2026年11月5日` or `20261105`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = to_halfwidth(s.trim());
    let s = s.split([' ', 'T']).next().unwrap_or_default();
    for fmt in ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d", "%Y.%m.%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            return Some(d);
        }
    }
    None
}

/// `row['請求日'] | date('%Y年%m月%d日')`
fn filter_date(v: Value, format: Option<String>) -> Result<String, Error> {
    let text = display(&v);
    let date = parse_date(&text)
        .or_else(|| {
            NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|d| d.date())
        })
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("\"{text}\" is not a date"),
            )
        })?;
    Ok(date
        .format(format.as_deref().unwrap_or("%Y-%m-%d"))
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_past_the_bound_are_refused_and_namespace_is_gone() {
        let x = Expressions::new().with_value_limit(1000);
        let ctx = Value::from_serialize(serde_json::json!({ "s": "a".repeat(300) }));
        assert!(x.render("{{ s ~ s ~ s }}", &ctx).is_ok());
        let err = x.render("{{ s ~ s ~ s ~ s }}", &ctx).unwrap_err().0;
        assert!(err.contains("larger than 1000 bytes"), "{err}");
        let err = x.render("x {{ s * 4 }}", &ctx).unwrap_err().0;
        assert!(err.contains("larger than 1000 bytes"), "{err}");
        assert!(x.eval("[s, s, s, s]", &ctx).is_err());
        assert!(
            x.render("{% set ns = namespace(s='a') %}{{ ns.s }}", &ctx)
                .is_err()
        );
    }
    use minijinja::context;

    #[test]
    fn single_expression_keeps_its_type() {
        let x = Expressions::new();
        let row = row_value(&["金額".into()], &[Cell::Text("1,000".into())]);
        let ctx = context! { row => row };
        let v = x.render("{{ row['金額'] * 1.1 }}", &ctx).unwrap();
        assert_eq!(v.kind(), ValueKind::Number);
        assert!(matches!(value_cell(&v), Cell::Float(f) if (f - 1100.0).abs() < 1e-9));
        assert_eq!(
            x.render_text("{{ row['金額'] | yen }}", &ctx).unwrap(),
            "¥1,000"
        );
        assert_eq!(
            x.render_text("合計 {{ row['金額'] }} 円", &ctx).unwrap(),
            "合計 1000 円"
        );
    }

    #[test]
    fn leading_zero_codes_stay_text() {
        assert_eq!(
            cell_value(&Cell::Text("00123".into())),
            Value::from("00123")
        );
        assert_eq!(cell_value(&Cell::Text("0.5".into())), Value::from(0.5));
    }

    #[test]
    fn undeclared_variables_are_reported() {
        let x = Expressions::new();
        let vars = x
            .check_template("{{ secrets.portal_user }} {{ row['a'] }}")
            .unwrap();
        assert!(vars.contains("secrets.portal_user"), "{vars:?}");
        assert!(x.check_template("{{ row[ }}").is_err());
    }

    #[test]
    fn dates_and_widths() {
        assert_eq!(
            parse_date("2026/10/31"),
            NaiveDate::from_ymd_opt(2026, 10, 31)
        );
        assert_eq!(
            parse_date("２０２６年１０月３１日"),
            NaiveDate::from_ymd_opt(2026, 10, 31)
        );
        assert_eq!(to_halfwidth("ＡＢ１\u{3000}"), "AB1 ");
    }
}
