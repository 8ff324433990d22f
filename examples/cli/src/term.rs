//! User text made safe to print: control characters shown as escapes
//! instead of reaching the terminal.
//!
//! A title, tag or note is one line of a listing: every control character
//! in it (C0 including newline and tab, DEL, C1) and every bidirectional
//! formatting character is always escaped, on a terminal or not, so ESC
//! and OSC sequences (a clipboard write, a screen clear) and reordered text
//! never reach a terminal or a log viewed later. A body (and a diff line)
//! is printed as it is when standard output is not a terminal, so
//! `show ID > file` keeps the exact text; on a terminal its control
//! characters other than newline and tab are escaped. `--json` output
//! escapes C0 controls as JSON does, and DEL, C1 and bidi characters as
//! `\uXXXX` (the same JSON value).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::IsTerminal;

/// Bidirectional formatting characters (Trojan Source, CVE-2021-42574).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

fn escape_where(text: &str, needs: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !needs(c) {
            out.push(c);
        } else if u32::from(c) < 0x80 {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

/// A one-line field (title, tag, note): every control and bidi character
/// escaped, always.
pub(crate) fn inline(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c.is_control() || is_bidi_control(c))
}

/// Tags joined with `, `, each escaped as by [`inline`].
pub(crate) fn tags(tags: &[String]) -> String {
    tags.iter()
        .map(|t| inline(t))
        .collect::<Vec<_>>()
        .join(", ")
}

/// JSON text with the characters JSON leaves raw but a terminal acts on
/// (DEL, C1, bidi controls) written as `\uXXXX` escapes: the same JSON
/// value, safe on a terminal. (C0 controls are escaped by JSON itself.)
pub(crate) fn json(text: &str) -> Cow<'_, str> {
    let needs = |c: char| c == '\u{7f}' || (c.is_control() && c > '\u{7f}') || is_bidi_control(c);
    if !text.chars().any(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// How bodies are printed for this run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Body {
    escape: bool,
}

impl Body {
    /// Escaping bodies only when standard output is a terminal.
    pub(crate) fn for_stdout() -> Self {
        Body {
            escape: std::io::stdout().is_terminal(),
        }
    }

    /// `text` as it should be printed: on a terminal, control and bidi
    /// characters other than newline and tab escaped; elsewhere unchanged.
    pub(crate) fn show<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.escape {
            escape_where(text, |c| {
                (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)
            })
        } else {
            Cow::Borrowed(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        assert_eq!(inline("plain ★ text"), "plain ★ text");
        assert_eq!(inline("a\u{1b}]52;c;aGk=\u{7}b"), "a\\x1b]52;c;aGk=\\x07b");
        assert_eq!(inline("x\ny\tz\u{7f}"), "x\\x0ay\\x09z\\x7f");
        assert_eq!(inline("\u{9b}2J\u{202e}"), "\\u{9b}2J\\u{202e}");
        let tty = Body { escape: true };
        assert_eq!(tty.show("l1\n\tl2\u{1b}[2J\r"), "l1\n\tl2\\x1b[2J\\x0d");
        assert_eq!(
            json("{\"t\": \"a\u{9b}b\u{202e}\u{7f}\"}"),
            "{\"t\": \"a\\u009bb\\u202e\\u007f\"}"
        );
        let pipe = Body { escape: false };
        assert_eq!(pipe.show("raw\u{1b}"), "raw\u{1b}");
    }
}
