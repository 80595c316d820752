//! Which addresses a workflow may send the browser to: web pages only (`http:` and `https:`).
//!
//! A trainee's workflow is untrusted: `file:///etc/passwd`, `view-source:`, `chrome:` or
//! `javascript:` addresses would let it read the machine or other clients' files. Literal
//! addresses are refused by `kobo validate`; templated ones, and pages a click lands on,
//! when the run gets there. Addresses are read with the `url` crate, the parser fantoccini
//! uses to send them to the browser, so `FILE:`, ` file:` and `fi\tle:` read the same here.
//!
//! Nor may it open the ports kobo's chromedrivers listen on ([`DRIVER_PORTS`]), on any host:
//! chromedriver answers plain `GET`s there (`/sessions`, `/session/<id>/cookie`), so a
//! workflow could read the session of another client's run going on at the same time.

use url::Url;

/// The schemes a workflow may open.
pub const ALLOWED_SCHEMES: &[&str] = &["http", "https"];

/// The loopback ports kobo starts chromedriver on, which workflows may not open. Below
/// Linux's ephemeral ports (32768 and up), so no portal started on a free port lands here.
pub const DRIVER_PORTS: std::ops::RangeInclusive<u16> = 29500..=29999;

/// Why a workflow may not open an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotAWebPage {
    /// Not a web page: `file`, `chrome`, `javascript`, …
    Scheme(String),
    /// A port where kobo controls its browsers ([`DRIVER_PORTS`]).
    BrowserControl(u16),
}

impl std::fmt::Display for NotAWebPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotAWebPage::Scheme(scheme) => write!(
                f,
                "a `{scheme}:` address; a workflow can only open web pages (http:// or https://)"
            ),
            NotAWebPage::BrowserControl(port) => write!(
                f,
                "on port {port}, where kobo controls its browsers (ports {}–{}); a workflow may not open those",
                DRIVER_PORTS.start(),
                DRIVER_PORTS.end()
            ),
        }
    }
}

/// Check an address as written in a workflow. A relative address (`/menu`, `next.html`)
/// is allowed: it stays on the site of the current page, which was checked itself.
pub fn check_written(address: &str) -> Result<(), NotAWebPage> {
    match Url::parse(address) {
        Ok(url) => check(&url),
        Err(url::ParseError::RelativeUrlWithoutBase) => Ok(()),
        // Malformed addresses are the browser's to report (`BadUrl`); they go nowhere.
        Err(_) => Ok(()),
    }
}

/// The address the browser will go to for `address` on the page `current`, if allowed.
pub fn resolve(current: Option<&Url>, address: &str) -> Result<Option<Url>, NotAWebPage> {
    let url = match (Url::parse(address), current) {
        (Ok(url), _) => url,
        (Err(url::ParseError::RelativeUrlWithoutBase), Some(base)) => match base.join(address) {
            Ok(url) => url,
            Err(_) => return Ok(None),
        },
        _ => return Ok(None),
    };
    check(&url)?;
    Ok(Some(url))
}

/// Is the page the browser shows one a workflow may be on? Besides web pages, the empty
/// page a new browser starts with and Chromium's own "could not open" page.
pub fn check_current(url: &str) -> Result<(), NotAWebPage> {
    if url == "about:blank" || url.starts_with("chrome-error://") {
        return Ok(());
    }
    match Url::parse(url) {
        Ok(u) => check(&u),
        Err(_) => Err(NotAWebPage::Scheme(
            url.split(':').next().unwrap_or(url).to_string(),
        )),
    }
}

fn check(url: &Url) -> Result<(), NotAWebPage> {
    if !ALLOWED_SCHEMES.contains(&url.scheme()) {
        return Err(NotAWebPage::Scheme(url.scheme().to_string()));
    }
    // Whatever the host: a name can point at 127.0.0.1 too.
    match url.port() {
        Some(port) if DRIVER_PORTS.contains(&port) => Err(NotAWebPage::BrowserControl(port)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_pages_and_relative_addresses_pass() {
        for ok in [
            "https://portal.example/login",
            "http://127.0.0.1:8080/menu",
            "HTTPS://PORTAL.EXAMPLE/",
            "/menu",
            "next.html?page=2",
            "{{ params.portal }}/login",
        ] {
            assert_eq!(check_written(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn other_schemes_are_refused_however_written() {
        for (bad, scheme) in [
            ("file:///etc/passwd", "file"),
            ("FILE:///etc/passwd", "file"),
            ("  file:///etc/passwd", "file"),
            ("fi\tle:///etc/passwd", "file"),
            ("file:/etc/passwd", "file"),
            ("chrome://settings", "chrome"),
            ("view-source:https://portal.example/", "view-source"),
            ("data:text/html,<b>hi</b>", "data"),
            ("javascript:alert(1)", "javascript"),
            ("about:blank", "about"),
            ("ftp://files.example/x", "ftp"),
        ] {
            assert_eq!(
                check_written(bad),
                Err(NotAWebPage::Scheme(scheme.into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_ports_kobo_controls_its_browsers_on_are_refused_on_any_host() {
        for bad in [
            "http://127.0.0.1:29500/sessions",
            "http://localhost:29999/session/x/cookie",
            "http://127.0.0.1.nip.io:29600/",
            "https://[::1]:29777/",
        ] {
            assert!(
                matches!(check_written(bad), Err(NotAWebPage::BrowserControl(_))),
                "{bad}"
            );
        }
        let base = Url::parse("http://127.0.0.1:29501/").unwrap();
        assert!(resolve(Some(&base), "/sessions").is_err());
        assert!(check_current("http://127.0.0.1:29501/sessions").is_err());
        assert_eq!(check_written("http://127.0.0.1:29499/"), Ok(()));
    }

    #[test]
    fn relative_addresses_resolve_against_the_current_page() {
        let base = Url::parse("http://127.0.0.1:9/login").unwrap();
        let got = resolve(Some(&base), "/menu").unwrap().unwrap();
        assert_eq!(got.as_str(), "http://127.0.0.1:9/menu");
        assert!(resolve(Some(&base), "file:///etc/passwd").is_err());
        assert_eq!(resolve(None, "/menu"), Ok(None));
    }

    #[test]
    fn the_current_page_may_be_blank_or_an_error_page_but_not_a_file() {
        assert!(check_current("about:blank").is_ok());
        assert!(check_current("chrome-error://chromewebdata/").is_ok());
        assert!(check_current("http://127.0.0.1:1/").is_ok());
        assert!(check_current("file:///etc/passwd").is_err());
        assert!(check_current("view-source:http://x/").is_err());
    }
}
