//! Element states as conditions: `visible`, `hidden`, `enabled`, `disabled`, `present`,
//! `absent`, for `wait_for`, `assert` and `if`; and `assert_text` with `absent: true`.
//!
//! `visible` means what a person sees: the element is displayed, not transparent
//! (`opacity: 0`), has a size, can be scrolled to, and is not wholly covered by another
//! element. The page script (`kobo.state` in script.js) decides in one call.

use super::{
    Browser, BrowserError, FIND, HAS_TEXT, Locator, Purpose, bad_locator, not_found, pause_until,
    retryable,
};
use serde_json::{Value as Json, json};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

const STATE: &str =
    script!("const [kind, value, want] = arguments; return kobo.state(kind, value, want);");

/// A state an element can be in, as written in a workflow (`state: hidden`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// A person can see it: displayed, not transparent, not of zero size, not outside the
    /// page, not wholly covered.
    Visible,
    /// Not visible, or not on the page at all.
    Hidden,
    /// On the page and not disabled (`disabled`, `aria-disabled="true"`).
    Enabled,
    /// On the page and disabled.
    Disabled,
    /// On the page, seen or not.
    Present,
    /// Not on the page at all.
    Absent,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Visible,
        State::Hidden,
        State::Enabled,
        State::Disabled,
        State::Present,
        State::Absent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Visible => "visible",
            State::Hidden => "hidden",
            State::Enabled => "enabled",
            State::Disabled => "disabled",
            State::Present => "present",
            State::Absent => "absent",
        }
    }

    /// `visible, hidden, enabled, disabled, present, absent`, for messages.
    pub fn names() -> String {
        State::ALL.map(State::as_str).join(", ")
    }

    fn hint(self, now: &str) -> String {
        match self {
            State::Visible if now.contains("covered by") => {
                "close the popup or wait for the overlay to go away first (e.g. `wait_for: { css: …, state: hidden }`)".into()
            }
            State::Visible => "a person cannot see it either; open the tab, menu or section that shows it first, or check the screenshot".into(),
            State::Hidden | State::Absent => "give the page longer with `timeout_secs`, or check the screenshot for what it is still doing".into(),
            State::Enabled => "the page enables it only after something else is done (a required field, a checkbox)".into(),
            State::Disabled => "the page still allows it; check the steps before this one".into(),
            State::Present => String::new(),
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = String;

    /// The message names every state, for `state: shown` and the like.
    fn from_str(s: &str) -> Result<State, String> {
        State::ALL
            .into_iter()
            .find(|state| state.as_str() == s.trim())
            .ok_or_else(|| format!("unknown state `{s}`; use one of {}", State::names()))
    }
}

impl Browser {
    /// Does the element have `state`? With no `timeout`, one look now; with one, wait up to
    /// it for the state. `false` is an answer, not an error (for `if`).
    pub async fn has_state(
        &self,
        locator: &Locator,
        state: State,
        timeout: Option<Duration>,
    ) -> Result<bool, BrowserError> {
        let deadline = Instant::now() + timeout.unwrap_or_default();
        Ok(self.poll_state(locator, state, deadline).await?.is_none())
    }

    /// Wait up to `timeout` (the element timeout when `None`) for the element to have
    /// `state`; fail saying what it is instead (for `wait_for` and `assert`).
    pub async fn expect_state(
        &self,
        locator: &Locator,
        state: State,
        timeout: Option<Duration>,
    ) -> Result<(), BrowserError> {
        let timeout = self.timeout(timeout);
        let deadline = Instant::now() + timeout;
        let Some(last) = self.poll_state(locator, state, deadline).await? else {
            return Ok(());
        };
        let now = last["now"].as_str().unwrap_or("").to_string();
        let absent = last["present"].as_bool() == Some(false);
        let hint = if absent && state != State::Absent && state != State::Hidden {
            // The usual "not found" hint: did you mean, what the page offers, frames.
            self.not_found_hint(locator, timeout).await
        } else {
            state.hint(&now)
        };
        Err(BrowserError::StateNotMet {
            what: locator.describe(),
            state: state.as_str(),
            timeout,
            now,
            hint,
        })
    }

    /// Check that the page does not show `text`, waiting up to `timeout` for it to go away.
    pub async fn assert_text_absent(
        &self,
        text: &str,
        timeout: Option<Duration>,
    ) -> Result<(), BrowserError> {
        let timeout = self.timeout(timeout);
        let deadline = Instant::now() + timeout;
        loop {
            match self.run(HAS_TEXT, vec![json!(text)]).await {
                Ok(r) if r["found"].as_bool() == Some(false) => return Ok(()),
                Ok(_) if Instant::now() >= deadline => {
                    return Err(BrowserError::TextStillShown {
                        text: text.to_string(),
                        timeout,
                    });
                }
                Ok(_) => {}
                Err(e) if retryable(&e) && Instant::now() < deadline => {}
                Err(e) => return Err(self.fail(e, "read the page").await),
            }
            pause_until(deadline).await;
        }
    }

    /// Look until the state holds (`None`) or `deadline` passes (`Some(last answer)`).
    /// Looks at least once.
    async fn poll_state(
        &self,
        locator: &Locator,
        state: State,
        deadline: Instant,
    ) -> Result<Option<Json>, BrowserError> {
        let args = vec![
            json!(locator.kind()),
            json!(locator.value()),
            json!(state.as_str()),
        ];
        loop {
            let last = Instant::now() >= deadline;
            match self.run(STATE, args.clone()).await {
                Ok(r) if r["status"] == "bad" => return Err(bad_locator(locator, &r)),
                Ok(r) if r["status"] == "yes" => return Ok(None),
                Ok(r) if last => return Ok(Some(r)),
                Ok(_) => {}
                // The page is being replaced: look again on the next one.
                Err(e) if retryable(&e) && !last => {}
                Err(e) => return Err(self.fail(e, "look at the page").await),
            }
            pause_until(deadline).await;
        }
    }

    async fn not_found_hint(&self, locator: &Locator, timeout: Duration) -> String {
        let args = vec![
            json!(locator.kind()),
            json!(locator.value()),
            json!(Purpose::Present.as_str()),
            json!(true),
        ];
        match self.run(FIND, args).await {
            Ok(r) => match not_found(locator, &r, timeout) {
                BrowserError::NotFound { hint, .. } => hint,
                _ => String::new(),
            },
            Err(_) => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_and_a_wrong_one_lists_them() {
        for state in State::ALL {
            assert_eq!(state.as_str().parse::<State>(), Ok(state));
        }
        assert_eq!(
            "shown".parse::<State>().unwrap_err(),
            "unknown state `shown`; use one of visible, hidden, enabled, disabled, present, absent"
        );
    }
}
