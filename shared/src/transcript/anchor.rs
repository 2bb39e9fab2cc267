//! The two things that pin a transcript from outside: the anchor a new root
//! carries, and the domain-separated message the head signatures cover.

use serde_json::{json, Value};

use crate::dialect::Dialect;
use crate::root::RootMetadata;

/// Signed before every head signature, so that a transcript signature can
/// never be replayed as a signature over metadata, or the reverse.
const HEAD_SIGNATURE_DOMAIN: &[u8] = b"tuf-ceremony/transcript-head@1\0";

/// The prefix of the anchor inside an ota-tuf `x-changelog.message`.
const OTA_ANCHOR_PREFIX: &str = "tuf-ceremony transcript ";

/// The bytes a head signature covers.
pub(crate) fn head_message(head: &str) -> Vec<u8> {
    let mut m = HEAD_SIGNATURE_DOMAIN.to_vec();
    m.extend_from_slice(head.as_bytes());
    m
}

/// Records `anchor` (an entry hash) in the new root, where the repository's
/// history will keep it.
pub fn set_anchor(root: &mut RootMetadata, anchor: &str) {
    match root.dialect() {
        Dialect::OtaTuf => {
            let mut log = root
                .signed()
                .get("x-changelog")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let previous = log
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            // One line, so the changelog stays readable where Foundries
            // shows it; an earlier anchor (a re-signed root) is replaced.
            let kept = match previous.find(&format!("[{OTA_ANCHOR_PREFIX}")) {
                Some(i) => previous[..i].trim_end().to_string(),
                None => previous,
            };
            let message = if kept.is_empty() {
                format!("[{OTA_ANCHOR_PREFIX}{anchor}]")
            } else {
                format!("{kept} [{OTA_ANCHOR_PREFIX}{anchor}]")
            };
            log.insert("message".into(), Value::String(message));
            root.set_extension("x-changelog", Value::Object(log));
        }
        Dialect::Tuf => {
            root.set_extension("x-ceremony", json!({ "transcript": anchor }));
        }
    }
}

/// The transcript anchor a root carries, if any.
pub fn anchor_of(root: &RootMetadata) -> Option<String> {
    match root.dialect() {
        Dialect::OtaTuf => {
            let message = root.signed().get("x-changelog")?.get("message")?.as_str()?;
            let start =
                message.find(&format!("[{OTA_ANCHOR_PREFIX}"))? + 1 + OTA_ANCHOR_PREFIX.len();
            let hash = message.get(start..start + 64)?;
            (hash.bytes().all(|b| b.is_ascii_hexdigit()) && message[start + 64..].starts_with(']'))
                .then(|| hash.to_string())
        }
        Dialect::Tuf => root
            .signed()
            .get("x-ceremony")?
            .get("transcript")?
            .as_str()
            .map(str::to_owned),
    }
}

/// The field of a root of `dialect` that [`set_anchor`] writes, as the
/// transcript's `anchor` entry names it.
pub fn anchor_field(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::OtaTuf => "signed.x-changelog.message",
        Dialect::Tuf => "signed.x-ceremony.transcript",
    }
}
