//! Reading a transcript back: the chain first, then each entry as an
//! [`Event`].

use serde_json::Value;

use super::event::DecodeError;
use super::{Event, TranscriptError, GENESIS, TRANSCRIPT_FORMAT};

/// One entry as read back.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Position, from 1.
    pub seq: u64,
    /// When it was written (the offline machine's clock).
    pub time: String,
    /// What happened.
    pub event: Event,
    /// sha256 of the entry's line: what the next entry's `prev` and an
    /// anchor name.
    pub hash: String,
}

impl Entry {
    /// The `kind` it was written under.
    pub(crate) fn kind(&self) -> &'static str {
        self.event.kind()
    }
}

/// A transcript read back and checked for internal consistency.
#[derive(Clone, Debug)]
pub struct Transcript {
    /// The chained entries.
    pub entries: Vec<Entry>,
    /// The signed head (the last line), if present. Kept as written: its
    /// signatures are judged by [`super::verify_against_root`], which names
    /// what is wrong with them, rather than refused here.
    pub signed_head: Option<Value>,
}

impl Transcript {
    /// The hash of the last chained entry.
    pub(crate) fn head(&self) -> &str {
        self.entries.last().map_or(GENESIS, |e| e.hash.as_str())
    }

    /// The head as the signed head states it, else as the chain ends.
    pub(crate) fn stated_head(&self) -> &str {
        self.signed_head
            .as_ref()
            .and_then(|h| h.get("head"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| self.head())
    }

    /// The entries of one kind.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| e.kind() == kind)
    }
}

/// An entry whose chain fields were checked, before its event is read.
struct Chained {
    line: usize,
    seq: u64,
    time: String,
    kind: String,
    data: Value,
    hash: String,
}

/// Reads a transcript and recomputes its chain; the error names the first
/// broken entry.
///
/// The whole chain is checked before any event is read, so an edited entry
/// is reported where the chain breaks (the entry after it), whatever the
/// edit did to its contents; an unknown kind in an intact chain is refused
/// by name.
pub fn read(bytes: &[u8]) -> Result<Transcript, TranscriptError> {
    let text = std::str::from_utf8(bytes).map_err(|e| TranscriptError::Broken {
        line: 1,
        reason: format!("not UTF-8 text: {e}"),
    })?;
    let mut chained = Vec::new();
    let mut signed_head = None;
    let mut prev = GENESIS.to_string();
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let broken = |reason: String| TranscriptError::Broken { line: n, reason };
        let v: Value = crate::strict_json::from_slice(line.as_bytes())
            .map_err(|e| broken(format!("not JSON: {e}")))?;
        if v.get("kind").and_then(Value::as_str) == Some("signed-head") && v.get("seq").is_none() {
            if n != lines.len() {
                return Err(broken(
                    "a signed head stands before the end: entries were appended after signing"
                        .into(),
                ));
            }
            if v.get("head").and_then(Value::as_str) != Some(prev.as_str()) {
                return Err(broken(format!(
                    "the signed head is not the hash of the entry before it (entry {} hashes to {prev})",
                    n - 1
                )));
            }
            signed_head = Some(v);
            break;
        }
        if n == 1 && v.get("format").and_then(Value::as_str) != Some(TRANSCRIPT_FORMAT) {
            return Err(broken(format!(
                "the first entry must have format {TRANSCRIPT_FORMAT:?}: this is not a tuf-ceremony transcript, or its start was removed"
            )));
        }
        let seq = v
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| broken("no seq".into()))?;
        if seq != n as u64 {
            return Err(broken(format!(
                "seq is {seq} at line {n}: an entry was removed or moved"
            )));
        }
        let p = v.get("prev").and_then(Value::as_str).unwrap_or("");
        if p != prev {
            return Err(broken(format!(
                "prev is {p}, but the entry before hashes to {prev}: the entry before was edited, removed or moved"
            )));
        }
        let hash = crate::sha256::hex(line.as_bytes());
        let text = |key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
        chained.push(Chained {
            line: n,
            seq,
            time: text("time"),
            kind: text("kind"),
            data: v.get("data").cloned().unwrap_or(Value::Null),
            hash: hash.clone(),
        });
        prev = hash;
    }
    if chained.is_empty() {
        return Err(TranscriptError::Broken {
            line: 1,
            reason: "the transcript is empty".into(),
        });
    }
    let entries = chained
        .into_iter()
        .map(|c| {
            let event = Event::decode(&c.kind, c.data).map_err(|e| match e {
                DecodeError::UnknownKind => TranscriptError::UnknownKind {
                    line: c.line,
                    kind: c.kind.clone(),
                },
                DecodeError::Fields(source) => TranscriptError::Fields {
                    line: c.line,
                    kind: c.kind.clone(),
                    source,
                },
            })?;
            Ok(Entry {
                seq: c.seq,
                time: c.time,
                event,
                hash: c.hash,
            })
        })
        .collect::<Result<Vec<_>, TranscriptError>>()?;
    Ok(Transcript {
        entries,
        signed_head,
    })
}
