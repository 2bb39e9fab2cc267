//! The two things that pin a transcript from outside: the anchor a new root
//! carries, and the domain-separated message the head signatures cover.

use serde_json::{json, Value};

use super::TranscriptError;
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

/// The marker that starts an ota-tuf anchor, as it stands in the message.
fn ota_marker() -> String {
    format!("[{OTA_ANCHOR_PREFIX}")
}

/// Records `anchor` (an entry hash) in the new root, where the repository's
/// history will keep it.
///
/// Nothing already in the root is removed or changed: the ota-tuf message
/// keeps every byte the operator was shown, with the anchor appended; the
/// TUF `x-ceremony` object keeps its other members. A message that already
/// holds a marker would carry two, which [`anchor_of`] refuses to read: the
/// signer refuses such a message before the confirmation
/// ([`check_anchorable`]).
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
            // shows it.
            let message = if previous.is_empty() {
                format!("{}{anchor}]", ota_marker())
            } else {
                format!("{previous} {}{anchor}]", ota_marker())
            };
            log.insert("message".into(), Value::String(message));
            root.set_extension("x-changelog", Value::Object(log));
        }
        Dialect::Tuf => {
            let mut ours = root
                .signed()
                .get("x-ceremony")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            ours.insert("transcript".into(), json!(anchor));
            root.set_extension("x-ceremony", Value::Object(ours));
        }
    }
}

/// Refuses a root (before its anchor is set) whose ota-tuf message already
/// holds the anchor marker: a staged or proposed message that mimics an
/// anchor. Cutting it away after the confirmation would sign a message the
/// operator was not shown; keeping it would leave two anchors in the root,
/// one chosen by the online side.
pub fn check_anchorable(root: &RootMetadata) -> Result<(), TranscriptError> {
    if root.dialect() != Dialect::OtaTuf {
        return Ok(());
    }
    let message = root
        .signed()
        .get("x-changelog")
        .and_then(|l| l.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if message.contains(&ota_marker()) {
        return Err(TranscriptError::MarkerInMessage {
            marker: ota_marker(),
            message: message.to_string(),
        });
    }
    Ok(())
}

/// The transcript anchor a root carries, if any.
///
/// For ota-tuf, exactly where [`set_anchor`] puts it: one marker in the
/// message, at its end. A message with two markers anchors nothing: which
/// one the signer wrote cannot be told.
pub fn anchor_of(root: &RootMetadata) -> Option<String> {
    match root.dialect() {
        Dialect::OtaTuf => {
            let message = root.signed().get("x-changelog")?.get("message")?.as_str()?;
            let marker = ota_marker();
            if message.matches(&marker).count() != 1 {
                return None;
            }
            let start = message.find(&marker)? + marker.len();
            let hash = message.get(start..start + 64)?;
            (hash.bytes().all(|b| b.is_ascii_hexdigit()) && &message[start + 64..] == "]")
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
