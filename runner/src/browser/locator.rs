//! `Locator`: how a step names the element it works on, in words a non-web-developer uses
//! ("the field labelled 氏名", "the button 登録"), plus `WaitTarget` and `FillMode`.

use super::BrowserError;
use std::fmt;
use std::str::FromStr;

/// Which element a step means.
///
/// Text matching (labels, button text, placeholders, titles) ignores leading and trailing
/// spaces, treats runs of spaces (full-width U+3000 too) as one, and compares full-width and
/// half-width letters as equal. An exact match wins over a match that ignores a required-field
/// mark (`*`, `※`, `必須`) and letter case, which wins over a label that contains the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locator {
    /// A CSS selector, e.g. `#user-id` or `form .submit`.
    Css(String),
    /// An XPath expression, e.g. `//button[@type="submit"]`.
    XPath(String),
    /// The form control for a visible label: `<label for=…>`, a `<label>` wrapping the control,
    /// `aria-label` / `aria-labelledby`, then a table cell / `th` / `dt` just before the
    /// control, then the control's placeholder.
    Label(String),
    /// A field whose placeholder (the grey hint text inside it) matches.
    Placeholder(String),
    /// A field by its `name` attribute.
    Name(String),
    /// A button, link or other element whose visible text matches (buttons and links first).
    Text(String),
    /// An element whose `title` attribute (its tooltip) matches; also finds iframes by title.
    Title(String),
}

impl Locator {
    pub fn css(s: impl Into<String>) -> Locator {
        Locator::Css(s.into())
    }
    pub fn xpath(s: impl Into<String>) -> Locator {
        Locator::XPath(s.into())
    }
    pub fn label(s: impl Into<String>) -> Locator {
        Locator::Label(s.into())
    }
    pub fn placeholder(s: impl Into<String>) -> Locator {
        Locator::Placeholder(s.into())
    }
    pub fn name(s: impl Into<String>) -> Locator {
        Locator::Name(s.into())
    }
    pub fn text(s: impl Into<String>) -> Locator {
        Locator::Text(s.into())
    }
    pub fn title(s: impl Into<String>) -> Locator {
        Locator::Title(s.into())
    }

    /// The kind as written in workflows (`label`, `css`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Locator::Css(_) => "css",
            Locator::XPath(_) => "xpath",
            Locator::Label(_) => "label",
            Locator::Placeholder(_) => "placeholder",
            Locator::Name(_) => "name",
            Locator::Text(_) => "text",
            Locator::Title(_) => "title",
        }
    }

    /// The text after the kind.
    pub fn value(&self) -> &str {
        match self {
            Locator::Css(s)
            | Locator::XPath(s)
            | Locator::Label(s)
            | Locator::Placeholder(s)
            | Locator::Name(s)
            | Locator::Text(s)
            | Locator::Title(s) => s,
        }
    }

    /// How messages name what was looked for, e.g. `field with the label "氏名"`.
    pub fn describe(&self) -> String {
        match self {
            Locator::Css(s) => format!("element matching css \"{s}\""),
            Locator::XPath(s) => format!("element matching xpath \"{s}\""),
            Locator::Label(s) => format!("field with the label \"{s}\""),
            Locator::Placeholder(s) => format!("field with the placeholder \"{s}\""),
            Locator::Name(s) => format!("field named \"{s}\""),
            Locator::Text(s) => format!("button, link or text \"{s}\""),
            Locator::Title(s) => format!("element with the title \"{s}\""),
        }
    }
}

/// Written as `kind: value`, the way workflows write it: `label: 氏名`, `css: #id`.
impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.value())
    }
}

/// Parse `label: 氏名`, `css: #id`, `xpath: //a`, `text: ログイン`, `name: q`,
/// `placeholder: …`, `title: …`. Full-width colons are accepted after the kind.
impl FromStr for Locator {
    type Err = BrowserError;

    fn from_str(s: &str) -> Result<Locator, BrowserError> {
        let bad = |message: String| BrowserError::BadLocator {
            locator: s.to_string(),
            message,
        };
        let Some((kind, value)) = s.split_once([':', '：']) else {
            return Err(bad(
                "write it as kind: value, for example `label: 氏名` or `css: #name`".to_string(),
            ));
        };
        let value = value.trim().to_string();
        if value.is_empty() {
            return Err(bad(format!("nothing after `{}:`", kind.trim())));
        }
        Ok(match kind.trim().to_lowercase().as_str() {
            "css" => Locator::Css(value),
            "xpath" => Locator::XPath(value),
            "label" => Locator::Label(value),
            "placeholder" => Locator::Placeholder(value),
            "name" => Locator::Name(value),
            "text" => Locator::Text(value),
            "title" => Locator::Title(value),
            other => {
                return Err(bad(format!(
                    "unknown kind `{other}`; use one of label, text, placeholder, name, title, css, xpath"
                )));
            }
        })
    }
}

/// What `Browser::wait_for` waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitTarget {
    /// The element is on the page and visible.
    Element(Locator),
    /// The element is gone or hidden (e.g. a "loading" spinner).
    Gone(Locator),
    /// The page shows this text somewhere (matching as for locators).
    Text(String),
    /// The address bar contains this text.
    Url(String),
}

/// How `Browser::fill` puts text into a field (`mode: type` or `mode: set` in a workflow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillMode {
    /// Clear the field, then type the text key by key, like a person. The faithful default.
    #[default]
    Type,
    /// Set the value with a script and send `input` and `change` events. Much faster for long
    /// text and whole rows (`fill_many`), but skips per-key page scripts (autocomplete, masks).
    Set,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kind_and_value() {
        assert_eq!(
            "label: 氏名".parse::<Locator>().unwrap(),
            Locator::label("氏名")
        );
        assert_eq!(
            "CSS：#a:hover".parse::<Locator>().unwrap(),
            Locator::css("#a:hover")
        );
        let err = "lable: 氏名".parse::<Locator>().unwrap_err().to_string();
        assert!(err.contains("unknown kind `lable`"), "{err}");
        assert!(!err.contains("transient"));
    }

    #[test]
    fn describes_for_people() {
        assert_eq!(
            Locator::label("氏名").describe(),
            "field with the label \"氏名\""
        );
        assert_eq!(Locator::text("登録").to_string(), "text: 登録");
    }
}
