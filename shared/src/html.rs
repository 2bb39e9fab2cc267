//! HTML for the printable reports: escaping and the page every report
//! shares. It imports only the leaf [`crate::untrusted`], so the report, the
//! transcript and the QR code can all use it without importing each other.

use std::fmt::Write as _;

use crate::untrusted::is_dangerous;

/// Escapes text for HTML element content and attribute values.
///
/// Control, bidi and invisible format characters are written visibly
/// (`\u{202e}`), as on the terminal: an entity would still reach the
/// printed page as the character itself, reordering or hiding what the
/// signatory reads. A newline is kept, for `<pre>` blocks; a backslash is
/// doubled, as on the terminal.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push('\n'),
            // So that a `\u{..}` in the text cannot pass for an escape.
            '\\' => out.push_str("\\\\"),
            c if is_dangerous(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Laid out for A4/Letter paper, in fonts every offline machine has: the
/// reports are printed and signed by hand.
const STYLE: &str = r#"
@page { size: A4; margin: 16mm; }
body { font: 11pt/1.45 "DejaVu Sans", Helvetica, Arial, sans-serif; color: #111; max-width: 180mm; margin: 0 auto; }
h1 { font-size: 18pt; margin: 0 0 2mm; }
h2 { font-size: 13pt; margin: 7mm 0 2mm; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0; }
th, td { border: 1px solid #bbb; padding: 1.2mm 2mm; text-align: left; vertical-align: top; }
th { background: #eee; }
code, .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 9pt; word-break: break-all; }
.ok { color: #0a5d00; font-weight: bold; }
.fail { color: #a00000; font-weight: bold; }
.warn { color: #8a5a00; }
.meta { color: #444; }
.sign { display: flex; gap: 10mm; margin-top: 8mm; }
.sign div { flex: 1; border-top: 1px solid #000; padding-top: 1mm; font-size: 9pt; }
.qr { float: right; margin: 0 0 2mm 4mm; width: 38mm; }
pre { font-size: 9pt; white-space: pre-wrap; border: 1px solid #ccc; padding: 2mm; background: #fafafa; }
tr { page-break-inside: avoid; }
"#;

/// A whole self-contained page: the style inline, no script, no external
/// resource, so it renders the same on the offline machine and in an archive
/// years later.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{t}</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n",
        t = escape(title)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            super::escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn controls_and_bidi_are_shown_visibly() {
        assert_eq!(
            super::escape("a\u{1b}[2J\u{202e}b\u{200b}\u{85}\\u{1}\nc"),
            "a\\u{1b}[2J\\u{202e}b\\u{200b}\\u{85}\\\\u{1}\nc"
        );
    }
}
