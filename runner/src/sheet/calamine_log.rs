//! calamine reports some problems (a sheet larger than Excel allows, a number format it
//! cannot read) through the `log` crate. Under kobo's subscriber they would come out as raw,
//! coloured log lines that name no file; while a workbook is read they are caught here
//! instead and become warnings of that read, in kobo's words.
//!
//! `log` records reach `tracing` through the log bridge that `tracing-subscriber` installs
//! (`LogTracer`); the catcher is a thread-scoped subscriber that keeps calamine's events and
//! hands every other event and span to the subscriber that was in place.

use std::cell::RefCell;
use std::sync::OnceLock;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Level, Metadata, Subscriber, span};

thread_local! {
    static OUTER: RefCell<Option<Dispatch>> = const { RefCell::new(None) };
    static CAUGHT: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Run `read`, and return what calamine warned about meanwhile, as kobo warnings.
pub(crate) fn catch<T>(read: impl FnOnce() -> T) -> (T, Vec<String>) {
    static CATCHER: OnceLock<Dispatch> = OnceLock::new();
    let catcher = CATCHER.get_or_init(|| Dispatch::new(Catcher));
    let outer = tracing::dispatcher::get_default(Dispatch::clone);
    OUTER.with(|o| *o.borrow_mut() = Some(outer));
    CAUGHT.with(|c| c.borrow_mut().clear());
    let out = tracing::dispatcher::with_default(catcher, read);
    OUTER.with(|o| o.borrow_mut().take());
    let caught = CAUGHT.with(|c| std::mem::take(&mut *c.borrow_mut()));
    let mut warnings: Vec<String> = Vec::new();
    for message in caught.iter().map(|m| in_kobo_words(m)) {
        if !warnings.contains(&message) {
            warnings.push(message);
        }
    }
    (out, warnings)
}

/// calamine's messages, said for a trainee.
fn in_kobo_words(message: &str) -> String {
    if message.contains("more than maximum number of rows")
        || message.contains("more than maximum number of columns")
    {
        format!(
            "the file says a sheet is larger than Excel allows ({message}); it may be damaged \
             or made by another program. Open it in Excel and check the last rows"
        )
    } else if message.contains("repeat count capped") {
        format!(
            "a sheet repeats a row or column more often than a sheet can hold ({message}); \
             the extra copies were left out"
        )
    } else {
        format!("the spreadsheet reader noted: {message}")
    }
}

fn is_calamine(meta: &Metadata<'_>) -> bool {
    meta.target().starts_with("calamine") && *meta.level() <= Level::WARN
}

fn outer<R>(f: impl FnOnce(&Dispatch) -> R) -> R {
    OUTER.with(|o| match &*o.borrow() {
        Some(d) => f(d),
        None => f(&Dispatch::none()),
    })
}

struct Catcher;

/// An event's message and, for a `log` record, the module that logged it (the bridge gives
/// every record of one level the same metadata, with the real target in a field).
#[derive(Default)]
struct Message {
    text: String,
    log_target: String,
}

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.text = value.to_string(),
            "log.target" => self.log_target = value.to_string(),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.text = format!("{value:?}");
        }
    }
}

impl Subscriber for Catcher {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::WARN)
    }
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        is_calamine(meta) || outer(|d| d.enabled(meta))
    }
    fn new_span(&self, attrs: &span::Attributes<'_>) -> span::Id {
        outer(|d| d.new_span(attrs))
    }
    fn record(&self, id: &span::Id, values: &span::Record<'_>) {
        outer(|d| d.record(id, values))
    }
    fn record_follows_from(&self, id: &span::Id, follows: &span::Id) {
        outer(|d| d.record_follows_from(id, follows))
    }
    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        if *meta.level() <= Level::WARN {
            let mut message = Message::default();
            event.record(&mut message);
            if meta.target().starts_with("calamine") || message.log_target.starts_with("calamine") {
                CAUGHT.with(|c| c.borrow_mut().push(message.text));
                return;
            }
        }
        outer(|d| d.event(event))
    }
    fn enter(&self, id: &span::Id) {
        outer(|d| d.enter(id))
    }
    fn exit(&self, id: &span::Id) {
        outer(|d| d.exit(id))
    }
    fn clone_span(&self, id: &span::Id) -> span::Id {
        outer(|d| d.clone_span(id))
    }
    fn try_close(&self, id: span::Id) -> bool {
        outer(|d| d.try_close(id))
    }
}
