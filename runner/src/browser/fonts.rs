//! Whether this machine has a font for Japanese text. Chromium draws Japanese text with
//! whatever fontconfig offers; without a Japanese font, every character of a Japanese portal
//! is an empty box in screenshots, and a reviewer cannot read them.

/// What to tell the person running kobo when no Japanese font is installed (`None`: one is).
/// Asks fontconfig (`fc-list :lang=ja`) once per process.
pub fn japanese_font_warning() -> Option<&'static str> {
    static MISSING: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let missing = *MISSING.get_or_init(|| {
        match std::process::Command::new("fc-list")
            .args([":lang=ja", "family"])
            .output()
        {
            Ok(out) => out.status.success() && out.stdout.iter().all(u8::is_ascii_whitespace),
            // Without fontconfig's tool kobo cannot tell; Chromium may still have fonts.
            Err(_) => false,
        }
    });
    missing.then_some(
        "no Japanese font is installed on this machine, so Japanese text in screenshots shows as empty boxes; install one with `apt-get install fonts-noto-cjk`",
    )
}
