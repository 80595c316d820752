//! The mouse and scrolling: `hover` (menus that open under the mouse), `scroll_into_view`,
//! and naming what is in front of an element a click could not reach.
//!
//! Every step that works on an element first scrolls it to the middle of each scrolling box
//! around it (`kobo.reveal` in script.js, in the same call that finds it), so a field at the
//! bottom of a small `overflow: auto` box, or under a sticky header, is reachable.

use super::{Act, Browser, BrowserError, Found, Locator, Purpose};
use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use serde_json::Value as Json;
use std::time::{Duration, Instant};

/// What is at the point a click lands on (the centre of the element's first box).
const IN_FRONT: &str = script!(
    r#"const el = arguments[0];
const r = el.getClientRects()[0];
if (!r) return null;
const x = Math.min(Math.max(r.left + r.width / 2, 0), window.innerWidth - 1);
const y = Math.min(Math.max(r.top + r.height / 2, 0), window.innerHeight - 1);
const front = kobo.inFront(el, [[x, y]]);
return front ? kobo.describe(front) : null;"#
);

impl Browser {
    /// Move the mouse over an element, like a person pointing at it: menus that open on
    /// hover open (CSS `:hover`, `mouseover`/`mouseenter` scripts). The mouse stays there.
    pub async fn hover(
        &self,
        locator: &Locator,
        timeout: Option<Duration>,
    ) -> Result<(), BrowserError> {
        self.act(
            locator,
            Purpose::Hover,
            timeout,
            &Act::Hover,
            "move the mouse over it",
        )
        .await
        .map(drop)
    }

    /// Scroll the page, and every scrolling box around the element, until the element is
    /// in the middle of the view.
    pub async fn scroll_into_view(
        &self,
        locator: &Locator,
        timeout: Option<Duration>,
    ) -> Result<(), BrowserError> {
        let timeout = self.timeout(timeout);
        let deadline = Instant::now() + timeout;
        // Finding it for `Purpose::Scroll` scrolls it into view, in the same script.
        self.resolve(locator, Purpose::Scroll, deadline, timeout)
            .await
            .map(drop)
    }

    /// One WebDriver pointer move to the centre of the element.
    pub(super) async fn move_mouse_to(
        &self,
        found: &Found,
    ) -> Result<(), fantoccini::error::CmdError> {
        let mouse = MouseActions::new("mouse".to_string()).then(PointerAction::MoveToElement {
            element: found.element.clone(),
            duration: Some(Duration::from_millis(50)),
            x: 0.0,
            y: 0.0,
        });
        self.client.perform_actions(mouse).await
    }

    /// `<div class="overlay">` when another element is where a click on `found` lands.
    pub(super) async fn in_front_of(&self, found: &Found) -> Option<String> {
        match self.element_script(found, IN_FRONT, vec![]).await {
            Ok(Json::String(front)) => Some(front),
            _ => None,
        }
    }
}
