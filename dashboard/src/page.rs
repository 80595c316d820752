//! Rendering pages: the embedded minijinja templates (strict: an undefined value is an error),
//! their filters (dates, yen, months in the user's language), the stylesheet, and the
//! security headers every response carries.

use crate::auth::Current;
use crate::error::AppError;
use crate::i18n::Lang;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, State, UndefinedBehavior, Value, context};
use std::sync::OnceLock;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("runs.html", include_str!("../templates/runs.html")),
    ("run.html", include_str!("../templates/run.html")),
    ("ledger.html", include_str!("../templates/ledger.html")),
    ("groups.html", include_str!("../templates/groups.html")),
    ("client.html", include_str!("../templates/client.html")),
    ("admin.html", include_str!("../templates/admin.html")),
    ("work.html", include_str!("../templates/work.html")),
    ("error.html", include_str!("../templates/error.html")),
];

const STYLE: &str = include_str!("../static/style.css");
const REVIEW_SCRIPT: &str = include_str!("../static/review.js");

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // A misspelt variable or a missing message fails the page (and the tests) instead of
        // showing nothing; a value that may be missing is tested with `is defined`.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .expect("the dashboard's templates are valid");
        }
        env.add_filter("dt", |state: &State, v: Option<String>| {
            v.map(|v| lang_of(state).datetime(&v)).unwrap_or_default()
        });
        // Log lines: the time of day in Japan time, like every other time on the pages.
        env.add_filter("clock", |v: String| {
            chrono::DateTime::parse_from_rfc3339(&v)
                .map(|t| {
                    t.with_timezone(&runner::payout::jst())
                        .format("%H:%M:%S")
                        .to_string()
                })
                .unwrap_or(v)
        });
        // A file's path in a link: each byte but letters, digits, `-._~/` percent-encoded.
        env.add_filter("urlpath", |v: String| {
            v.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        });
        env.add_filter("yen", |state: &State, v: i64| lang_of(state).yen(v));
        env.add_filter("month", |state: &State, v: String| lang_of(state).month(&v));
        env.add_filter("ms", |v: f64| runner::run::human_duration(v.round() as i64));
        env
    })
}

fn lang_of(state: &State) -> Lang {
    state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::from_code))
        .unwrap_or(Lang::En)
}

/// Render a page for the current user (or for nobody, on the login page).
pub fn render(
    name: &str,
    lang: Lang,
    cur: Option<&Current>,
    ctx: Value,
) -> Result<Html<String>, AppError> {
    let langs: Vec<Value> = Lang::ALL
        .iter()
        .map(|l| context! { code => l.code(), name => l.native_name() })
        .collect();
    let base = context! {
        t => Value::from_serialize(lang.catalog()),
        lang => lang.code(),
        langs => langs,
        user => cur.map(|c| Value::from_serialize(c.user())),
        chosen_lang => cur.and_then(|c| c.user().lang.clone()),
        csrf => cur.map(|c| c.session.csrf.clone()),
        notices => cur.map(|c| c.notices).unwrap_or(0),
    };
    let html = env()
        .get_template(name)?
        .render(context! { ..ctx, ..base })?;
    Ok(Html(html))
}

pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

/// The review pages' keyboard shortcuts (j/k, a, r); the pages work without it.
pub async fn review_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        REVIEW_SCRIPT,
    )
        .into_response()
}

/// Headers on every response: no framing, no sniffing, no caching of private pages,
/// nothing but this site's own styles, images and one script file, no inline script. A
/// response that set a stricter policy of its own (a run's saved page) keeps it.
pub async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_undefined_value_fails_the_page() {
        for source in ["{{ nope }}", "{% if nope %}{% endif %}", "{{ t.nope }}"] {
            let r = env().render_str(source, context! { t => context! {} });
            assert!(r.is_err(), "{source} rendered as {r:?}");
        }
        let optional = "{% if step is defined %}{{ step }}{% endif %}{{ key|default('') }}";
        assert_eq!(env().render_str(optional, context! {}).unwrap(), "");
    }
}
