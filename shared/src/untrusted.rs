//! Showing strings we did not write: one way, for every output.
//!
//! Every string in a proposal, a root, a bundle, a transcript or a file name
//! may come from an attacker who controls the online side. Printed raw, a
//! cursor-movement sequence redraws the operator's screen (a clean rotation
//! shown, an added key signed), a bidi override reorders what is read, a
//! zero-width character makes two different key ids look the same. So no
//! such character ever reaches a terminal as itself: each is shown as a
//! visible escape (`\u{1b}`), and a backslash as `\\`, so that an escape an
//! attacker typed as text cannot pass for one we made.
//!
//! - [`escape`] / [`Escaped`]: one field (a key id, a chain name, a path).
//! - [`escape_text`]: a whole text we composed, kept multi-line: every
//!   character [`escape`] escapes except the newline. The binaries pass all
//!   they print through it, so a field someone forgot to escape is still
//!   safe.
//! - [`escape_json`]: JSON text (`--json`): the same characters written as
//!   JSON's own `\uXXXX` escapes, so the output stays valid JSON that means
//!   exactly the same.
//!
//! HTML reports escape as HTML instead (`crate::html`).

use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// Whether `c` must never reach a terminal as itself: C0 and C1 controls,
/// DEL, and the invisible format characters (Unicode category Cf, line and
/// paragraph separators, and fillers that render as nothing).
pub fn is_dangerous(c: char) -> bool {
    matches!(c as u32,
        0x00..=0x1f | 0x7f..=0x9f
        // soft hyphen; Arabic letter mark and number signs; Syriac abbreviation mark
        | 0xad | 0x0600..=0x0605 | 0x061c | 0x06dd | 0x070f | 0x0890..=0x0891 | 0x08e2
        // Hangul fillers, Khmer inherent vowels, Mongolian vowel separator and free variation selectors
        | 0x115f..=0x1160 | 0x17b4..=0x17b5 | 0x180b..=0x180f
        // zero-width space/joiners, LRM/RLM, line/paragraph separators, bidi embeddings and overrides
        | 0x200b..=0x200f | 0x2028..=0x202e
        // word joiner, invisible operators, bidi isolates, deprecated format characters
        | 0x2060..=0x206f
        // Hangul filler, variation selectors, BOM / zero-width no-break space, half-width filler, annotation
        | 0x3164 | 0xfe00..=0xfe0f | 0xfeff | 0xffa0 | 0xfff9..=0xfffb
        // Kaithi, Egyptian and shorthand format controls, musical symbol formatting
        | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a
        // tags and variation selectors supplement
        | 0xe0000..=0xe0fff)
}

fn needs_escape(s: &str, keep_newline: bool) -> bool {
    s.chars()
        .any(|c| c == '\\' || (is_dangerous(c) && !(keep_newline && c == '\n')))
}

fn escape_into(out: &mut String, s: &str, keep_newline: bool) {
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_dangerous(c) && !(keep_newline && c == '\n') {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
}

/// One untrusted field, safe to print: see the module docs.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !needs_escape(s, false) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    escape_into(&mut out, s, false);
    Cow::Owned(out)
}

/// A text we composed (which may quote untrusted fields), safe to print,
/// its lines kept.
pub fn escape_text(s: &str) -> Cow<'_, str> {
    if !needs_escape_text(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_dangerous(c) && c != '\n' {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Backslashes in a composed text are ours or already escaped by
/// [`escape`]; only the dangerous characters change here.
fn needs_escape_text(s: &str) -> bool {
    // Printable ASCII and newlines, which most of what we print is, need no
    // look at each character (an audit report runs to megabytes).
    if s.bytes().all(|b| b == b'\n' || (0x20..0x7f).contains(&b)) {
        return false;
    }
    s.chars().any(|c| is_dangerous(c) && c != '\n')
}

/// JSON text with every dangerous character inside its strings written as a
/// JSON `\uXXXX` escape (outside strings, JSON text is ASCII already).
pub fn escape_json(json: &str) -> Cow<'_, str> {
    if !needs_escape_text(json) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_dangerous(c) && c != '\n' {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{:04x}", u);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`escape`] as a `Display` value, for `format!("{}", Escaped(id))`.
#[derive(Clone, Copy, Debug)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(escape("root ok 3f2a"), Cow::Borrowed(_)));
        assert!(matches!(escape_text("a\nb"), Cow::Borrowed(_)));
        assert_eq!(escape("é ü 日本"), "é ü 日本");
    }

    #[test]
    fn controls_and_invisibles_become_visible() {
        assert_eq!(escape("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(escape("\u{9b}1A"), "\\u{9b}1A");
        assert_eq!(escape("a\u{200b}b"), "a\\u{200b}b");
        assert_eq!(escape("a\nb\rc\td"), "a\\u{a}b\\u{d}c\\u{9}d");
        assert_eq!(escape("\u{7f}"), "\\u{7f}");
        assert_eq!(escape("tag\u{e0041}"), "tag\\u{e0041}");
    }

    #[test]
    fn a_typed_escape_differs_from_a_real_one() {
        assert_ne!(escape("\x1b"), escape("\\u{1b}"));
        assert_eq!(escape("\\u{1b}"), "\\\\u{1b}");
    }

    #[test]
    fn text_keeps_its_lines() {
        assert_eq!(escape_text("one\ntwo\x1b[A"), "one\ntwo\\u{1b}[A");
    }

    #[test]
    fn json_stays_json_and_means_the_same() {
        let v = serde_json::json!({"txid": "a\u{202e}b\u{1b}c\u{e0041}", "n": 1});
        let text = serde_json::to_string_pretty(&v).unwrap();
        let safe = escape_json(&text);
        assert!(!safe.chars().any(|c| is_dangerous(c) && c != '\n'));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn nothing_dangerous_survives_any_input() {
        for cp in (0u32..0x3000)
            .chain(0xe0000..0xe0100)
            .chain(0xfe00..0x10000)
        {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let s = format!("a{c}b");
            for shown in [escape(&s), escape_text(&s)] {
                assert!(
                    !shown.chars().any(|c| is_dangerous(c) && c != '\n'),
                    "{cp:x}"
                );
            }
        }
    }
}
