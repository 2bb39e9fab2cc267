//! The ceremony transcript: a tamper-evident record of what the signer did.
//!
//! A JSON Lines file, one entry per line. Each entry carries the sha256 of
//! the previous line's exact bytes, so deleting, reordering or editing any
//! entry breaks the chain at a place [`read`] names. Two things pin the
//! chain from outside:
//!
//! * the hash of the entry written just before the new root is signed (the
//!   *anchor*) goes into the new root itself (`x-changelog.message` for
//!   ota-tuf, an `x-ceremony` field for TUF), so the repository's own history
//!   vouches for the start of the ceremony; and
//! * the final head is signed by the new root key(s), with a
//!   domain-separation prefix so the signature can never be mistaken for a
//!   metadata signature, and written as the file's last line and into the
//!   bundle.
//!
//! What an entry may say is [`event::Event`], one variant per kind; no entry
//! ever holds a secret: callers pass hashes, ids, fingerprints and the text
//! a human saw or typed.
//!
//! The modules: [`event`] (the schema), `writer` (appending and signing the
//! head), `read` (parsing and the chain check), `anchor` (what pins the
//! chain from outside), `verify` (against a root or a bundle, and the
//! artefacts, each by the entry of its kind).

use std::path::PathBuf;

use thiserror::Error;

mod anchor;
pub mod event;
mod read;
mod verify;
mod writer;

pub use anchor::{anchor_field, anchor_of, check_anchorable, set_anchor};
pub use event::Event;
pub use read::{read, Entry, Transcript};
pub use verify::{
    authority_from_file, verify, verify_against_root, verify_all, ArtefactCheck, Authenticated,
    Authority, Checks, Ending, Found, HeadCheck, RootFileError, Verdict, Verification,
};
pub use writer::TranscriptWriter;

/// The `format` of the first entry.
const TRANSCRIPT_FORMAT: &str = "tuf-ceremony/transcript@1";

/// The `prev` of the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Why a transcript could not be written or does not verify.
#[derive(Debug, Error)]
pub enum TranscriptError {
    /// Writing failed.
    #[error("cannot write the transcript {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// An entry is missing, edited, reordered or malformed.
    #[error("entry {line}: {reason}")]
    Broken {
        /// 1-based line number of the first bad entry.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An entry of a kind this version does not know: written by another
    /// version, or not by tuf-ceremony.
    #[error("entry {line}: unknown kind {kind:?}: this version of tuf-ceremony does not know what it records")]
    UnknownKind {
        /// 1-based line number.
        line: usize,
        /// The kind as written.
        kind: String,
    },
    /// An entry of a known kind without the fields that kind has.
    #[error("entry {line}: not a {kind:?} entry as tuf-ceremony writes it: {source}")]
    Fields {
        /// 1-based line number.
        line: usize,
        /// The kind as written.
        kind: String,
        /// What serde found missing or extra.
        source: serde_json::Error,
    },
    /// The head signature is missing or does not verify.
    #[error("head signature: {0}")]
    HeadSignature(String),
    /// The root does not anchor this transcript.
    #[error("anchor: {0}")]
    Anchor(String),
    /// A bundle that does not belong to this transcript.
    #[error("bundle {file}: {reason}")]
    Bundle {
        /// The name it was given as.
        file: String,
        /// What does not match.
        reason: String,
    },
    /// A message to be signed that already holds the anchor marker.
    #[error(
        "the new root's x-changelog.message already contains {marker:?}, the marker of a \
         transcript anchor: {message:?}. The signer appends its own anchor there; a message that \
         already holds one would either be cut after you saw it or carry two anchors, one of them \
         chosen by the online side. Make the proposal again with a message without it \
         (`submitter propose --message TEXT`)"
    )]
    MarkerInMessage {
        /// The marker.
        marker: String,
        /// The whole message, as it would be signed.
        message: String,
    },
}

#[cfg(test)]
mod tests;
