//! `BrowserError`: what went wrong in a browser step, said for the person who wrote the
//! workflow, and whether trying again could help (`is_transient`).

use super::config::INSTALL_HINT;
use std::path::PathBuf;
use std::time::Duration;

/// Why an element a step waited for was not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementState {
    /// Not on the page at all.
    Missing,
    /// On the page but not shown.
    Hidden,
    /// Shown but disabled (greyed out).
    Disabled,
    /// Shown but read-only, so it cannot be filled.
    ReadOnly,
    /// Shown but another element (a popup, an overlay) covered it when clicked.
    Covered,
}

/// An error from a browser step.
///
/// Transient errors (the browser or the connection failed, the site answered 5xx or did not
/// answer) may go away on a retry; workflow errors (a field that is not there, a failed
/// check, an unexpected dialog) will not. Messages never contain the text a step typed,
/// except [`BrowserError::FillNotKept`], which must show it (never for a password field;
/// the engine masks secret values in every message).
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error(
        "chromedriver was not found ({searched})\n  hint: install it with `{INSTALL_HINT}`, or set KOBO_CHROMEDRIVER to its path"
    )]
    ChromedriverMissing { searched: String },

    #[error(
        "chromium was not found ({searched})\n  hint: install it with `{INSTALL_HINT}`, or set KOBO_CHROMIUM to its path"
    )]
    ChromiumMissing { searched: String },

    #[error("could not start chromedriver `{}`: {source}", path.display())]
    DriverSpawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("chromedriver did not become ready within {}{}", secs(*waited), output_tail(output))]
    DriverNotReady { waited: Duration, output: String },

    #[error("the browser did not start: {message}")]
    SessionNotCreated { message: String },

    #[error("lost the browser ({message}); it may have crashed or run out of memory")]
    SessionLost { message: String },

    #[error(
        "could not open URL {url} ({reason})\n  hint: check the address, and that the site is up and reachable from this machine"
    )]
    CouldNotOpen { url: String, reason: String },

    #[error("the page {url} did not finish loading within {}", secs(*timeout))]
    PageLoadTimeout { url: String, timeout: Duration },

    #[error("the site answered {status} for {url}\n  hint: {}", status_hint(*status))]
    HttpStatus { url: String, status: u16 },

    #[error("`{url}` is not a web address\n  hint: start it with https:// or http://")]
    BadUrl { url: String },

    #[error(
        "`{url}` is {why}\n  hint: check what the template filled in; write the portal's address, e.g. `https://portal.example/login`"
    )]
    NotAWebPage {
        url: String,
        why: crate::web_address::NotAWebPage,
    },

    #[error(
        "the browser went to an address after this step that a workflow may not be on: it is {why}; kobo left that page\n  hint: check what this step clicked or pressed"
    )]
    LeftTheWeb {
        why: crate::web_address::NotAWebPage,
    },

    #[error("{}", not_found_message(what, *state, *timeout, hint))]
    NotFound {
        /// e.g. `field with the label "氏名"`.
        what: String,
        state: ElementState,
        timeout: Duration,
        hint: String,
    },

    #[error(
        "the {what} is not clear: {} fields match it equally well: {}\n  hint: write the whole label, or use `css:` or `name:` to say which field",
        candidates.len(),
        candidates.join(", ")
    )]
    Ambiguous {
        what: String,
        /// `"住所(1行目)" (<input name="address1">)`, one per field.
        candidates: Vec<String>,
    },

    #[error("bad locator `{locator}`: {message}")]
    BadLocator { locator: String, message: String },

    #[error(
        "the page opened a dialog saying \"{text}\"\n  hint: add a `dialog: accept` (or `dialog: dismiss`) step before this step"
    )]
    UnexpectedDialog { text: String },

    #[error("no dialog opened within {}\n  hint: the step before this one should be the click that opens the dialog", secs(*timeout))]
    NoDialog { timeout: Duration },

    #[error(
        "the dialog saying \"{message}\" has no box to type in, so `text` cannot be typed into it\n  hint: only a dialog that asks for an answer (a prompt) takes `text`; remove `text` from this `dialog` step"
    )]
    NotAPrompt { message: String },

    #[error(
        "clicked the {what}, but no download finished within {}{}\n  hint: {}",
        secs(*timeout),
        partial.as_ref().map(|p| format!(" (the browser was still receiving `{p}`)")).unwrap_or_default(),
        if partial.is_some() { "a big export needs more time: give the step a longer `timeout_secs`" } else { "check that this link or button sends a file: click it by hand and see what the browser does; a page that opens instead needs `click`, not `download`" }
    )]
    DownloadTimedOut {
        what: String,
        timeout: Duration,
        /// The file still being written, if any (`orders.csv.crdownload`).
        partial: Option<String>,
    },

    #[error(
        "no new tab or window opened within {} ({open} open, all already used by the workflow)\n  hint: the step before `switch_to: new_tab` should be the click that opens it; a link that opens in the same tab needs no `switch_to`",
        secs(*timeout)
    )]
    NoNewTab { timeout: Duration, open: usize },

    #[error(
        "the tab the steps work in is closed (the page may have closed it itself)\n  hint: after a click that closes the tab, add `switch_to: first` (or `close_tab: true`)"
    )]
    TabClosed,

    #[error(
        "the first tab is closed, so kobo cannot go back to it\n  hint: do not close the first tab (a `閉じる` button on it may close it)"
    )]
    FirstTabClosed,

    #[error(
        "`close_tab` would close the first tab, which the run needs\n  hint: use `close_tab` after `switch_to: new_tab`, to close the tab the portal opened"
    )]
    CloseFirstTab,

    #[error("the page does not show \"{expected}\" (waited {}){}", secs(*timeout), page_errors(errors))]
    AssertionFailed {
        expected: String,
        timeout: Duration,
        /// Error messages the page itself showed (`.error`, `role=alert`), to explain why.
        errors: Vec<String>,
    },

    #[error("waited {} for {what}, but it did not happen{}", secs(*timeout), page_errors(errors))]
    WaitTimedOut {
        what: String,
        timeout: Duration,
        errors: Vec<String>,
    },

    #[error("the {what} is not {state} (waited {}): {now}{}", secs(*timeout), hint_line(hint))]
    StateNotMet {
        what: String,
        /// `visible`, `enabled`, … as written in the workflow.
        state: &'static str,
        timeout: Duration,
        /// What it is instead, e.g. `it is covered by <div class="overlay">`.
        now: String,
        hint: String,
    },

    #[error(
        "the page still shows \"{text}\" (waited {})\n  hint: give the page longer with `timeout_secs`, or check the screenshot for why it is still there",
        secs(*timeout)
    )]
    TextStillShown { text: String, timeout: Duration },

    #[error("{}", not_kept_message(what, typed.as_deref(), now.as_deref(), reason))]
    FillNotKept {
        what: String,
        /// What the step put in, and what the field holds now; `None` for a password.
        typed: Option<String>,
        now: Option<String>,
        /// `cleared it`, `changed it` or `cut it to 5 characters`.
        reason: String,
    },

    #[error("the {what} is a {found}, which cannot be {action}\n  hint: {hint}")]
    WrongKind {
        what: String,
        found: String,
        action: &'static str,
        hint: String,
    },

    #[error(
        "the {what} has no option \"{option}\"\n  hint: the options are {}",
        quoted_list(available)
    )]
    OptionNotFound {
        what: String,
        option: String,
        available: Vec<String>,
    },

    #[error("the file to upload was not found: {}", path.display())]
    FileNotFound { path: PathBuf },

    #[error(
        "unknown key \"{key}\"\n  hint: use names like Enter, Tab, Escape, Backspace, ArrowDown, F5, or combinations like Control+A"
    )]
    UnknownKey { key: String },

    #[error("clicked \"{next}\" but the table did not change within {}", secs(*timeout))]
    PaginationStuck { next: String, timeout: Duration },

    #[error("the browser refused to {action}: {message}")]
    WebDriver { action: String, message: String },
}

impl BrowserError {
    /// Could trying the same step again (on a fresh browser) succeed?
    pub fn is_transient(&self) -> bool {
        match self {
            BrowserError::DriverNotReady { .. }
            | BrowserError::SessionNotCreated { .. }
            | BrowserError::SessionLost { .. }
            | BrowserError::PageLoadTimeout { .. } => true,
            // A refused or unreachable site may come back; an address the browser will never
            // open (a blocked port, a malformed address) will not.
            BrowserError::CouldNotOpen { reason, .. } => !matches!(
                reason.as_str(),
                "ERR_UNSAFE_PORT" | "ERR_INVALID_URL" | "ERR_DISALLOWED_URL_SCHEME"
            ),
            BrowserError::HttpStatus { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// `10s`, `1.5s`.
pub(crate) fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

fn not_found_message(what: &str, state: ElementState, timeout: Duration, hint: &str) -> String {
    let t = secs(timeout);
    let head = match state {
        ElementState::Missing => format!("no {what} appeared within {t}"),
        ElementState::Hidden => format!("the {what} is on the page but stayed hidden for {t}"),
        ElementState::Disabled => {
            format!("the {what} is on the page but stayed disabled (greyed out) for {t}")
        }
        ElementState::ReadOnly => format!("the {what} stayed read-only for {t}"),
        ElementState::Covered => {
            format!("the {what} stayed covered by another element (a popup or overlay?) for {t}")
        }
    };
    if hint.is_empty() {
        head
    } else {
        format!("{head}\n  hint: {hint}")
    }
}

fn hint_line(hint: &str) -> String {
    if hint.is_empty() {
        String::new()
    } else {
        format!("\n  hint: {hint}")
    }
}

fn not_kept_message(what: &str, typed: Option<&str>, now: Option<&str>, reason: &str) -> String {
    let head = match (typed, now) {
        (Some(typed), Some("")) => {
            format!("the {what} is empty after kobo put \"{typed}\" in it: the page cleared it")
        }
        (Some(typed), Some(now)) => format!(
            "the {what} holds \"{now}\" after kobo put \"{typed}\" in it: the page {reason}"
        ),
        _ => format!("the {what} does not hold what kobo put in it: the page {reason}"),
    };
    let hint = if reason.starts_with("cut") {
        "the field is shorter than the value; check the value in the sheet".to_string()
    } else {
        "check the value in the sheet; if the page is meant to change what is typed (an input mask, a search box that fills itself), add `verify: false` to the step"
            .to_string()
    };
    format!("{head}\n  hint: {hint}")
}

fn status_hint(status: u16) -> &'static str {
    match status {
        500..=599 => "the site has a problem on its side; trying again later may work",
        401 | 403 => "the site refused access; check that the login step ran first",
        404 => "the page does not exist; check the address",
        _ => "check the address and the steps before this one",
    }
}

fn page_errors(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!("\n  the page shows: {}", quoted_list(errors))
    }
}

pub(crate) fn quoted_list(items: &[String]) -> String {
    if items.is_empty() {
        return "(none)".to_string();
    }
    items
        .iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn output_tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        String::new()
    } else {
        let tail = &lines[lines.len().saturating_sub(5)..];
        format!("; its output ends with:\n    {}", tail.join("\n    "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_reads_like_a_sentence() {
        let e = BrowserError::NotFound {
            what: "field with the label \"氏名\"".into(),
            state: ElementState::Missing,
            timeout: Duration::from_secs(10),
            hint: "check the spelling".into(),
        };
        assert_eq!(
            e.to_string(),
            "no field with the label \"氏名\" appeared within 10s\n  hint: check the spelling"
        );
        assert!(!e.is_transient());
    }

    #[test]
    fn server_errors_are_transient_client_errors_are_not() {
        let e = |status| BrowserError::HttpStatus {
            url: "http://x/".into(),
            status,
        };
        assert!(e(503).is_transient());
        assert!(!e(404).is_transient());
        assert_eq!(secs(Duration::from_millis(1500)), "1.5s");
    }
}
