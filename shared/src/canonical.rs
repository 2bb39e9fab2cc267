//! Canonical JSON: the exact bytes a root signature covers.
//!
//! Both dialects sort object keys and drop all whitespace, but they disagree on
//! string escapes, so this module is hand-written rather than borrowed
//! (`olpc-cjson` also NFC-normalises strings, which python-tuf does not):
//!
//! * [`Dialect::Tuf`] follows securesystemslib's `encode_canonical` (OLPC):
//!   only `"` and `\` are escaped, every other character, control characters
//!   included, is written raw as UTF-8.
//! * [`Dialect::OtaTuf`] follows fioctl's canonicaliser: `"`, `\`, `\n`, `\r`
//!   and `\t` are escaped. ota-tuf's server, fioctl and aktualizr write every
//!   other control character and every non-ASCII character differently, so a
//!   root holding one would verify in one place and fail in another; we refuse
//!   them instead of choosing a winner.
//!
//! Numbers must be integers in both dialects; a float anywhere is an error.

use std::io::Write as _;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::dialect::Dialect;

/// Why a value has no canonical form in a dialect.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CanonicalError {
    /// Canonical JSON has integers only; `1.5` or `1e3` cannot be signed.
    #[error("{path}: {number} is not an integer, and canonical JSON allows only integers")]
    NotAnInteger {
        /// Where the number stands, as a dotted path from the root.
        path: String,
        /// The number as parsed.
        number: String,
    },
    /// A character that the ota-tuf server, fioctl and aktualizr encode
    /// differently, so a signature over it would not verify everywhere.
    #[error(
        "{path}: character {ch:?} (U+{code:04X}) is not allowed in ota-tuf metadata: \
         the server, fioctl and devices canonicalise it differently, so devices would reject \
         the signature; use plain ASCII"
    )]
    ForbiddenCharacter {
        /// Where the string stands, as a dotted path from the root.
        path: String,
        /// The offending character.
        ch: char,
        /// Its code point, for the message.
        code: u32,
    },
}

/// Returns the canonical bytes of `value` in `dialect`.
///
/// This is what signatures are made over and checked against: callers pass the
/// `signed` member of a metadata envelope.
pub fn to_canonical_bytes(value: &Value, dialect: Dialect) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(1024);
    let mut path = Vec::new();
    write_value(value, dialect, &mut path, &mut out)?;
    Ok(out)
}

/// One step of the path to where the encoder stands: kept as borrowed keys
/// and indices, and turned into text only for an error, because an audit
/// encodes thousands of roots that have none.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn write_value<'a>(
    value: &'a Value,
    dialect: Dialect,
    path: &mut Vec<Step<'a>>,
    out: &mut Vec<u8>,
) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            // Writing into a Vec cannot fail.
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                return Err(CanonicalError::NotAnInteger {
                    path: render_path(path),
                    number: n.to_string(),
                });
            }
        }
        Value::String(s) => write_string(s, dialect, path, out)?,
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                path.push(Step::Index(i));
                write_value(item, dialect, path, out)?;
                path.pop();
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(map, dialect, path, out)?,
    }
    Ok(())
}

fn write_object<'a>(
    map: &'a Map<String, Value>,
    dialect: Dialect,
    path: &mut Vec<Step<'a>>,
    out: &mut Vec<u8>,
) -> Result<(), CanonicalError> {
    // Byte order of UTF-8 equals code-point order, which is how Python sorts
    // `str` keys; for ota-tuf every key is ASCII, where all orders agree.
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push(b'{');
    for (i, (key, item)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        path.push(Step::Key(key));
        write_string(key, dialect, path, out)?;
        out.push(b':');
        write_value(item, dialect, path, out)?;
        path.pop();
    }
    out.push(b'}');
    Ok(())
}

fn write_string(
    s: &str,
    dialect: Dialect,
    path: &[Step<'_>],
    out: &mut Vec<u8>,
) -> Result<(), CanonicalError> {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Runs of bytes that are written as they are go out in one copy; the
    // loop stops only at a byte with something to say. Every byte it stops
    // at is ASCII or the first byte of a character, so `s[i..]` is valid.
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match (dialect, b) {
            (_, b'"') => b"\\\"",
            (_, b'\\') => b"\\\\",
            (Dialect::OtaTuf, b'\n') => b"\\n",
            (Dialect::OtaTuf, b'\r') => b"\\r",
            (Dialect::OtaTuf, b'\t') => b"\\t",
            (Dialect::OtaTuf, b) if b.is_ascii_control() || !b.is_ascii() => {
                let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
                return Err(CanonicalError::ForbiddenCharacter {
                    path: render_path(path),
                    ch,
                    code: ch as u32,
                });
            }
            // TUF writes every other byte, multi-byte characters included,
            // raw: the UTF-8 of `s` is already what is wanted.
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        out.extend_from_slice(escape);
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
    Ok(())
}

fn render_path(path: &[Step<'_>]) -> String {
    if path.is_empty() {
        return "(top level)".to_string();
    }
    let steps: Vec<String> = path
        .iter()
        .map(|step| match step {
            Step::Key(k) => (*k).to_string(),
            Step::Index(i) => i.to_string(),
        })
        .collect();
    steps.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        let v = json!({"b": 1, "a": [true, null, "x"], "c": {"z": -3, "y": 0}});
        let got = to_canonical_bytes(&v, Dialect::Tuf).unwrap();
        assert_eq!(got, br#"{"a":[true,null,"x"],"b":1,"c":{"y":0,"z":-3}}"#);
    }

    #[test]
    fn tuf_escapes_only_quote_and_backslash() {
        let v = json!({"k": "a\"b\\c\nd\te\u{1}é"});
        let got = to_canonical_bytes(&v, Dialect::Tuf).unwrap();
        assert_eq!(got, "{\"k\":\"a\\\"b\\\\c\nd\te\u{1}é\"}".as_bytes());
    }

    #[test]
    fn ota_escapes_newlines_and_refuses_other_controls_and_non_ascii() {
        let v = json!({"k": "a\"b\\c\nd\te\rf"});
        let got = to_canonical_bytes(&v, Dialect::OtaTuf).unwrap();
        assert_eq!(got, br#"{"k":"a\"b\\c\nd\te\rf"}"#);
        for bad in ["\u{1}", "é", "\u{7f}", "\u{2028}"] {
            let v = json!({"x-changelog": {"message": bad}});
            let err = to_canonical_bytes(&v, Dialect::OtaTuf).unwrap_err();
            assert!(
                matches!(&err, CanonicalError::ForbiddenCharacter { path, .. } if path == "x-changelog.message"),
                "{err:?}"
            );
        }
        let v = json!({"é": 1});
        assert!(to_canonical_bytes(&v, Dialect::OtaTuf).is_err());
    }

    /// The encoder as first written, one character at a time: the fast
    /// path must agree with it on every string, errors included.
    fn reference_string(s: &str, dialect: Dialect) -> Result<Vec<u8>, char> {
        let mut out = vec![b'"'];
        for ch in s.chars() {
            match (dialect, ch) {
                (_, '"') => out.extend_from_slice(b"\\\""),
                (_, '\\') => out.extend_from_slice(b"\\\\"),
                (Dialect::OtaTuf, '\n') => out.extend_from_slice(b"\\n"),
                (Dialect::OtaTuf, '\r') => out.extend_from_slice(b"\\r"),
                (Dialect::OtaTuf, '\t') => out.extend_from_slice(b"\\t"),
                (Dialect::OtaTuf, c) if c.is_ascii_control() || !c.is_ascii() => return Err(c),
                (_, c) => out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes()),
            }
        }
        out.push(b'"');
        Ok(out)
    }

    proptest::proptest! {
        #[test]
        fn strings_encode_as_the_reference_does(s in "(?s).{0,40}|[a-z\"\\\\\n\r\t\u{7f}\u{1}é€😀]{0,40}") {
            for dialect in [Dialect::Tuf, Dialect::OtaTuf] {
                let got = to_canonical_bytes(&Value::String(s.clone()), dialect);
                match (reference_string(&s, dialect), got) {
                    (Ok(want), Ok(got)) => proptest::prop_assert_eq!(want, got),
                    (Err(ch), Err(CanonicalError::ForbiddenCharacter { ch: got, code, .. })) => {
                        proptest::prop_assert_eq!(ch, got);
                        proptest::prop_assert_eq!(code, ch as u32);
                    }
                    (want, got) => proptest::prop_assert!(false, "{want:?} vs {got:?}"),
                }
            }
        }
    }

    #[test]
    fn error_paths_name_keys_and_indices() {
        let v = json!({"a": [0, {"b": 1.5}]});
        match to_canonical_bytes(&v, Dialect::Tuf) {
            Err(CanonicalError::NotAnInteger { path, .. }) => assert_eq!(path, "a.1.b"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_floats() {
        let v: Value = serde_json::from_str(r#"{"version": 1.5}"#).unwrap();
        for d in [Dialect::Tuf, Dialect::OtaTuf] {
            assert!(matches!(
                to_canonical_bytes(&v, d),
                Err(CanonicalError::NotAnInteger { .. })
            ));
        }
    }

    #[test]
    fn large_unsigned_integers_survive() {
        let v: Value =
            serde_json::from_str(r#"[18446744073709551615, -9223372036854775808]"#).unwrap();
        let got = to_canonical_bytes(&v, Dialect::Tuf).unwrap();
        assert_eq!(got, b"[18446744073709551615,-9223372036854775808]");
    }
}
