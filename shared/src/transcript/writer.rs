//! Writing a transcript: one line per [`Event`], each flushed to disk.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::anchor::head_message;
use super::{Event, TranscriptError, GENESIS, TRANSCRIPT_FORMAT};
use crate::keys::{sign_checked, Signer};
use crate::root::format_expires;

/// An entry as it is written: the chain fields, then the event's `kind` and
/// `data` (`format` on the first line only).
#[derive(Serialize)]
struct Line<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'static str>,
    seq: u64,
    time: String,
    prev: &'a str,
    #[serde(flatten)]
    event: &'a Event,
}

/// The last line: the head, signed by the new root keys.
#[derive(Serialize)]
struct SignedHead<'a> {
    kind: &'static str,
    head: &'a str,
    entries: u64,
    signatures: Vec<HeadSignature>,
}

#[derive(Serialize)]
struct HeadSignature {
    keyid: String,
    fingerprint: String,
    sig: String,
}

/// Appends entries to a new transcript file, flushing each one to disk, so
/// that a crash leaves every entry written so far.
///
/// A writer made with [`TranscriptWriter::deferred`] keeps its entries in
/// memory until [`TranscriptWriter::persist`]: the signer persists at its
/// first durable write (the new archive), so a ceremony refused before it
/// changed anything leaves no file behind, while everything after is on disk
/// as it happens.
pub struct TranscriptWriter {
    path: PathBuf,
    file: Option<File>,
    pending: Vec<String>,
    seq: u64,
    head: String,
    finished: bool,
}

impl TranscriptWriter {
    /// Creates `path` now; it must not exist: a transcript is never
    /// overwritten.
    pub fn create(path: &Path) -> Result<Self, TranscriptError> {
        let mut w = Self::deferred(path);
        w.persist()?;
        Ok(w)
    }

    /// A writer that creates `path` only when [`Self::persist`] is called.
    pub fn deferred(path: &Path) -> Self {
        TranscriptWriter {
            path: path.to_path_buf(),
            file: None,
            pending: Vec::new(),
            seq: 0,
            head: GENESIS.to_string(),
            finished: false,
        }
    }

    /// Creates the file (which must not exist) and writes every entry kept
    /// so far. Does nothing when already on disk.
    pub fn persist(&mut self) -> Result<(), TranscriptError> {
        if self.file.is_some() {
            return Ok(());
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&self.path)
            .map_err(|source| TranscriptError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.file = Some(file);
        for line in std::mem::take(&mut self.pending) {
            self.write_line(&line)?;
        }
        Ok(())
    }

    /// Whether the file exists yet: an abort is recorded only then.
    pub fn is_persisted(&self) -> bool {
        self.file.is_some()
    }

    /// Where the transcript is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `event` and returns the new entry's hash (an anchor, when the
    /// caller puts it into a root).
    pub fn append(&mut self, event: &Event) -> Result<String, TranscriptError> {
        if self.finished {
            return Err(TranscriptError::Broken {
                line: self.seq as usize + 2,
                reason: "the transcript was already signed; nothing may follow the signed head"
                    .into(),
            });
        }
        let line = Line {
            format: (self.seq == 0).then_some(TRANSCRIPT_FORMAT),
            seq: self.seq + 1,
            time: format_expires(OffsetDateTime::now_utc()),
            prev: &self.head,
            event,
        };
        // serde_json leaves C1, DEL, bidi and invisible characters raw; a
        // transcript is read by people too (`less`, a printout), so they are
        // written as JSON escapes. The hash is of the line as written.
        let line = serde_json::to_string(&line).expect("an entry always serialises");
        let line = crate::untrusted::escape_json(&line);
        self.write_line(&line)?;
        self.seq += 1;
        self.head = crate::sha256::hex(line.as_bytes());
        Ok(self.head.clone())
    }

    /// Signs the current head with `keys` (the new root keys, by the ids the
    /// new root lists them under), writes the signed head as the last line,
    /// and returns it for the bundle. Nothing may be appended after it.
    ///
    /// The keys are any [`Signer`]: in memory (`&PrivateKey`) or on a token
    /// (`&dyn Signer`); every signature is verified in software before it is
    /// written ([`sign_checked`]).
    pub fn finish<S: Signer + ?Sized>(
        &mut self,
        keys: &[(String, &S)],
    ) -> Result<Value, TranscriptError> {
        let message = head_message(&self.head);
        let mut signatures = Vec::new();
        for (keyid, key) in keys {
            let sig = sign_checked(*key, &message)
                .map_err(|e| TranscriptError::HeadSignature(e.to_string()))?;
            signatures.push(HeadSignature {
                keyid: keyid.clone(),
                fingerprint: key.public_key().fingerprint(),
                sig: base64::engine::general_purpose::STANDARD.encode(sig),
            });
        }
        let signed = serde_json::to_value(SignedHead {
            kind: "signed-head",
            head: &self.head,
            entries: self.seq,
            signatures,
        })
        .expect("a signed head always serialises");
        let line = serde_json::to_string(&signed).expect("JSON always serialises");
        self.write_line(&crate::untrusted::escape_json(&line))?;
        self.finished = true;
        Ok(signed)
    }

    fn write_line(&mut self, line: &str) -> Result<(), TranscriptError> {
        let Some(file) = self.file.as_mut() else {
            self.pending.push(line.to_string());
            return Ok(());
        };
        let io = |source| TranscriptError::Io {
            path: self.path.clone(),
            source,
        };
        file.write_all(format!("{line}\n").as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)
    }
}
