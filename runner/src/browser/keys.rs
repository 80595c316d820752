//! Key names a workflow can `press` ("Enter", "Tab", "Control+A") turned into WebDriver keys.

use super::BrowserError;
use fantoccini::key::Key;

/// Turn `Enter`, `tab`, `Control+A`, `Shift+Tab` or a single character into the text to send.
pub(crate) fn parse(spec: &str) -> Result<String, BrowserError> {
    let unknown = || BrowserError::UnknownKey {
        key: spec.to_string(),
    };
    let parts: Vec<&str> = spec.split('+').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(unknown());
    }
    let (last, modifiers) = parts.split_last().ok_or_else(unknown)?;
    let mut out = String::new();
    for m in modifiers {
        let key = match m.to_lowercase().as_str() {
            "control" | "ctrl" => Key::Control,
            "shift" => Key::Shift,
            "alt" | "option" => Key::Alt,
            "meta" | "command" | "cmd" => Key::Meta,
            _ => return Err(unknown()),
        };
        out.push(char::from(key));
    }
    match named(last) {
        Some(key) => out.push(char::from(key)),
        None if last.chars().count() == 1 => {
            // With a modifier, `Control+A` means the a key, as people write it.
            if modifiers.is_empty() {
                out.push_str(last);
            } else {
                out.push_str(&last.to_lowercase());
            }
        }
        None => return Err(unknown()),
    }
    if !modifiers.is_empty() {
        // Release the modifiers.
        out.push(char::from(Key::Null));
    }
    Ok(out)
}

fn named(name: &str) -> Option<Key> {
    Some(match name.to_lowercase().as_str() {
        "enter" | "return" => Key::Enter,
        "tab" => Key::Tab,
        "escape" | "esc" => Key::Escape,
        "backspace" => Key::Backspace,
        "delete" | "del" => Key::Delete,
        "space" => Key::Space,
        "arrowup" | "up" => Key::Up,
        "arrowdown" | "down" => Key::Down,
        "arrowleft" | "left" => Key::Left,
        "arrowright" | "right" => Key::Right,
        "home" => Key::Home,
        "end" => Key::End,
        "pageup" => Key::PageUp,
        "pagedown" => Key::PageDown,
        "insert" => Key::Insert,
        "f1" => Key::F1,
        "f2" => Key::F2,
        "f3" => Key::F3,
        "f4" => Key::F4,
        "f5" => Key::F5,
        "f6" => Key::F6,
        "f7" => Key::F7,
        "f8" => Key::F8,
        "f9" => Key::F9,
        "f10" => Key::F10,
        "f11" => Key::F11,
        "f12" => Key::F12,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_combinations() {
        assert_eq!(parse("Enter").unwrap(), char::from(Key::Enter).to_string());
        assert_eq!(parse("enter").unwrap(), parse("Return").unwrap());
        let combo = parse("Control+A").unwrap();
        assert_eq!(
            combo,
            format!("{}a{}", char::from(Key::Control), char::from(Key::Null))
        );
        assert!(parse("Entr").is_err());
        assert!(parse("Ctrl+").is_err());
    }
}
