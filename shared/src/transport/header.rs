//! The plain header in front of every payload: what frame 1 says about the
//! file (kind, length, sha256, how the body is coded), outside the
//! compression so it can be read before the rest arrives.

use std::fmt;

use crate::crossing::MAX_CROSSING_FILE;

use super::{group_digits, TransportError};

/// The UR type of every frame: a user-defined (`x-`) type, as BCR-2020-006
/// reserves for them.
pub const UR_TYPE: &str = "x-tuf-ceremony";
const MAGIC: &[u8; 4] = b"TUFC";
const VERSION: u8 = 1;
const FLAG_DEFLATE: u8 = 1;
const FLAG_PRETTY_JSON: u8 = 2;
const FLAG_NEWLINE: u8 = 4;
const KNOWN_FLAGS: u8 = FLAG_DEFLATE | FLAG_PRETTY_JSON | FLAG_NEWLINE;
/// Length of the plain header in front of the body.
pub(crate) const HEADER_LEN: usize = 4 + 1 + 1 + 1 + 4 + 32;
/// The largest UR message: the largest crossing file, stored, plus the header.
pub(crate) const MAX_MESSAGE: usize = MAX_CROSSING_FILE + HEADER_LEN;

/// What kind of crossing file a payload holds, taken from its `format`
/// field when it is written; shown to the person reading, never trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// `tuf-ceremony/proposal@…`
    Proposal,
    /// `tuf-ceremony/bundle@…`
    Bundle,
    /// A public key exported by `signer keygen`.
    PublicKey,
    /// A ceremony transcript (JSON lines).
    Transcript,
    /// Anything else.
    Other,
}

impl FileKind {
    /// Guesses the kind from a file's `format` field (or, for JSON lines,
    /// from the first line's).
    pub fn detect(bytes: &[u8]) -> FileKind {
        let format = |v: &serde_json::Value| {
            v.get("format")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        let found = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| format(&v))
            .or_else(|| {
                let first = bytes.split(|b| *b == b'\n').next()?;
                format(&serde_json::from_slice(first).ok()?)
            });
        let Some(found) = found else {
            return FileKind::Other;
        };
        let kind = found
            .strip_prefix("tuf-ceremony/")
            .and_then(|k| k.split('@').next())
            .unwrap_or("");
        match kind {
            "proposal" => FileKind::Proposal,
            "bundle" => FileKind::Bundle,
            "transcript" => FileKind::Transcript,
            k if k.contains("key") => FileKind::PublicKey,
            _ => FileKind::Other,
        }
    }

    fn to_byte(self) -> u8 {
        match self {
            FileKind::Other => 0,
            FileKind::Proposal => 1,
            FileKind::Bundle => 2,
            FileKind::PublicKey => 3,
            FileKind::Transcript => 4,
        }
    }

    fn from_byte(b: u8) -> FileKind {
        match b {
            1 => FileKind::Proposal,
            2 => FileKind::Bundle,
            3 => FileKind::PublicKey,
            4 => FileKind::Transcript,
            _ => FileKind::Other,
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Proposal => "proposal",
            FileKind::Bundle => "bundle",
            FileKind::PublicKey => "public key",
            FileKind::Transcript => "transcript",
            FileKind::Other => "file",
        })
    }
}

/// What the header of a payload says about the file it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadInfo {
    /// The kind of file, as the sender saw it.
    pub kind: FileKind,
    /// The file's length in bytes.
    pub length: usize,
    /// sha256 of the file.
    pub sha256: [u8; 32],
    /// Whether the body is deflated.
    pub compressed: bool,
    /// Whether the body is the file's JSON minified (see the module docs),
    /// and whether the pretty form ends in a newline.
    pub minified: Option<Newline>,
}

/// Whether a pretty-printed JSON file ends in a newline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Newline {
    /// `…}\n`, as `Bundle::to_bytes` writes it.
    Yes,
    /// `…}`.
    No,
}

impl PayloadInfo {
    /// The sha256 as lowercase hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// Short name for messages: `bundle 3f2a9c81… (8,210 bytes)`.
    pub fn describe(&self) -> String {
        format!(
            "{} {}… ({} bytes)",
            self.kind,
            &self.sha256_hex()[..16],
            group_digits(self.length)
        )
    }

    pub(crate) fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..4].copy_from_slice(MAGIC);
        h[4] = VERSION;
        h[5] = match self.minified {
            None => 0,
            Some(Newline::No) => FLAG_PRETTY_JSON,
            Some(Newline::Yes) => FLAG_PRETTY_JSON | FLAG_NEWLINE,
        } | if self.compressed { FLAG_DEFLATE } else { 0 };
        h[6] = self.kind.to_byte();
        // The length is at most MAX_CROSSING_FILE, checked by the encoder.
        h[7..11].copy_from_slice(&(self.length as u32).to_be_bytes());
        h[11..].copy_from_slice(&self.sha256);
        h
    }

    /// Parses the header at the start of `message`.
    pub(crate) fn parse(message: &[u8]) -> Result<PayloadInfo, TransportError> {
        if message.len() < HEADER_LEN || &message[..4] != MAGIC {
            return Err(TransportError::NotOurs);
        }
        if message[4] != VERSION {
            return Err(TransportError::UnsupportedVersion(message[4]));
        }
        let flags = message[5];
        if flags & !KNOWN_FLAGS != 0 || (flags & FLAG_NEWLINE != 0 && flags & FLAG_PRETTY_JSON == 0)
        {
            return Err(TransportError::Corrupt(format!(
                "unknown flags {:#04x} in the header",
                message[5]
            )));
        }
        let length = u32::from_be_bytes([message[7], message[8], message[9], message[10]]) as usize;
        if length == 0 || length > MAX_CROSSING_FILE {
            return Err(TransportError::Corrupt(format!(
                "the header claims a file of {length} bytes"
            )));
        }
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(&message[11..HEADER_LEN]);
        Ok(PayloadInfo {
            kind: FileKind::from_byte(message[6]),
            length,
            sha256,
            compressed: flags & FLAG_DEFLATE != 0,
            minified: (flags & FLAG_PRETTY_JSON != 0).then_some(if flags & FLAG_NEWLINE != 0 {
                Newline::Yes
            } else {
                Newline::No
            }),
        })
    }
}
