//! The body of a payload, both ways: the file's JSON minified when its
//! pretty form gives it back byte for byte, then deflated when that is
//! smaller; and back, never past the length the header claims.
//!
//! Both decoders are bombs in waiting: 18 KB of frames once inflated to
//! 8 MiB of minified JSON nested 127 deep, which re-indenting through a
//! `serde_json::Value` turned into 1.3 GiB. Here inflating stops one byte
//! past the claim, and re-indenting streams over the bytes (no `Value`)
//! and stops at the claim, which the header already held to the
//! crossing-file limit.

use std::io::{Read, Write};

use super::header::Newline;
use super::TransportError;

/// The file's JSON minified, when pretty-printing it again gives back
/// exactly the file (with or without a final newline).
pub(crate) fn minify_json(file: &[u8]) -> Option<(Vec<u8>, Newline)> {
    let value: serde_json::Value = serde_json::from_slice(file).ok()?;
    let mut pretty = serde_json::to_vec_pretty(&value).ok()?;
    let newline = if pretty == file {
        Newline::No
    } else {
        pretty.push(b'\n');
        if pretty != file {
            return None;
        }
        Newline::Yes
    };
    let mini = serde_json::to_vec(&value).ok()?;
    (mini.len() < file.len()).then_some((mini, newline))
}

pub(crate) fn deflate(data: &[u8]) -> Result<Vec<u8>, TransportError> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data)
        .and_then(|_| enc.finish())
        .map_err(|e| TransportError::io("deflate", e))
}

/// Inflates `body`, refusing it as soon as it gives more than `claimed`
/// bytes (the file's length: a minified body is shorter still).
pub(crate) fn inflate(body: &[u8], claimed: usize) -> Result<Vec<u8>, TransportError> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(body)
        .take(claimed as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| TransportError::Corrupt(format!("the body does not inflate: {e}")))?;
    if out.len() > claimed {
        return Err(TransportError::BeyondClaim {
            what: "inflates",
            claimed,
        });
    }
    Ok(out)
}

/// The pretty form (`serde_json::to_vec_pretty`, two-space indents) of
/// minified JSON, refused once it would pass `claimed` bytes.
///
/// The minified JSON is first parsed without building anything
/// (`IgnoredAny`, which also holds nesting to serde_json's 128 levels);
/// then its bytes are copied with line breaks and indents added, the way
/// serde_json's pretty formatter places them around compact output. Any
/// difference from the sender's file is caught by the sha256 check after.
pub(crate) fn reindent(
    minified: &[u8],
    newline: Newline,
    claimed: usize,
) -> Result<Vec<u8>, TransportError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(minified)
        .map_err(|e| TransportError::Corrupt(format!("the minified JSON does not parse: {e}")))?;
    let beyond = || TransportError::BeyondClaim {
        what: "re-indents",
        claimed,
    };
    let mut out = Vec::with_capacity(minified.len().min(claimed));
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut bytes = minified.iter().copied().peekable();
    let indent = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.resize(out.len() + 2 * depth, b' ');
    };
    while let Some(b) = bytes.next() {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b'"' => {
                    in_string = true;
                    out.push(b);
                }
                b'{' | b'[' => {
                    let close = if b == b'{' { b'}' } else { b']' };
                    out.push(b);
                    if bytes.peek() == Some(&close) {
                        out.push(close);
                        bytes.next();
                    } else {
                        depth += 1;
                        indent(&mut out, depth);
                    }
                }
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    indent(&mut out, depth);
                    out.push(b);
                }
                b',' => {
                    out.push(b);
                    indent(&mut out, depth);
                }
                b':' => out.extend_from_slice(b": "),
                _ => out.push(b),
            }
        }
        // Each step adds at most one indent, and nesting is at most 128
        // deep: the buffer never grows more than a few hundred bytes past
        // the claim.
        if out.len() > claimed {
            return Err(beyond());
        }
    }
    if newline == Newline::Yes {
        out.push(b'\n');
        if out.len() > claimed {
            return Err(beyond());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            "[\\PC\"\\\\{}\\[\\],: \n\t\u{1b}]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("[a-z\"\\\\{:,]{0,6}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn reindent_is_serde_jsons_pretty_form(v in value()) {
            let mini = serde_json::to_vec(&v).unwrap();
            let pretty = serde_json::to_vec_pretty(&v).unwrap();
            prop_assert_eq!(reindent(&mini, Newline::No, pretty.len()).unwrap(), pretty.clone());
            let mut nl = pretty.clone();
            nl.push(b'\n');
            prop_assert_eq!(reindent(&mini, Newline::Yes, nl.len()).unwrap(), nl.clone());
            let short = reindent(&mini, Newline::Yes, nl.len() - 1);
            let refused = matches!(short, Err(TransportError::BeyondClaim { .. }));
            prop_assert!(refused, "one byte short is refused");
        }
    }

    #[test]
    fn a_json_bomb_stops_at_the_claim() {
        // 127 levels of nesting around a million zeros: 2 MB minified,
        // about 258 MB pretty.
        let mut mini = "[".repeat(127).into_bytes();
        mini.extend(b"0,".repeat(1_000_000));
        mini.push(b'0');
        mini.extend("]".repeat(127).into_bytes());
        let claimed = 8 << 20;
        let err = reindent(&mini, Newline::Yes, claimed).unwrap_err();
        assert!(matches!(err, TransportError::BeyondClaim { .. }), "{err}");
    }

    #[test]
    fn a_deflate_bomb_stops_one_byte_past_the_claim() {
        let bomb = deflate(&vec![b'0'; 64 << 20]).unwrap();
        assert!(bomb.len() < 100_000);
        let err = inflate(&bomb, 1 << 20).unwrap_err();
        assert!(matches!(err, TransportError::BeyondClaim { .. }), "{err}");
        assert_eq!(inflate(&bomb, 64 << 20).unwrap().len(), 64 << 20);
    }
}
