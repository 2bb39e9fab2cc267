//! Why a file cannot cross: [`TransportError`] for a whole read or write,
//! [`FrameError`] for one refused frame.

use thiserror::Error;

use crate::crossing::MAX_CROSSING_FILE;

use super::encoder::{MAX_FRAGMENT, MIN_FRAGMENT};
use super::{group_digits, plural, UR_TYPE};

/// Why a file cannot be turned into frames, or frames back into a file.
#[derive(Debug, Error)]
pub enum TransportError {
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] crate::fsio::FsError),
    /// Nothing to send.
    #[error("the file is empty")]
    Empty,
    /// Over the crossing-file limit.
    #[error(
        "the file is {0} bytes, more than any crossing file can be ({MAX_CROSSING_FILE} bytes)"
    )]
    TooLarge(usize),
    /// A fragment size outside the accepted range.
    #[error(
        "a fragment of {0} bytes is not possible: choose between {MIN_FRAGMENT} and {MAX_FRAGMENT}"
    )]
    FragmentSize(usize),
    /// The file would need more frames than a reader accepts.
    #[error("the file would need {0} frames at this fragment size: choose a larger --fragment")]
    TooManyFragments(usize),
    /// No frame was taken in.
    #[error("no usable frame was read{}", match last_refusal {
        Some(why) => format!(" ({refused} refused; the last: {why})"),
        None => ": expected lines starting with UR:X-TUF-CEREMONY/".to_string(),
    })]
    NoFrames {
        /// Frames refused.
        refused: usize,
        /// Why the last one was.
        last_refusal: Option<String>,
    },
    /// Input ended before the file could be put together.
    #[error("not enough frames: {resolved} of {total} fragments are known after {} ({refused} refused); keep scanning: any frame not yet read helps", plural(*frames, "frame"))]
    Incomplete {
        /// Fragments recovered.
        resolved: usize,
        /// Fragments in the message.
        total: usize,
        /// Distinct frames read.
        frames: usize,
        /// Frames refused as corrupted.
        refused: usize,
    },
    /// A frame that cannot belong to this read (another file, another kind
    /// of UR); the whole read stops.
    #[error("line {line}: {source}")]
    Frame {
        /// 1-based line (or image) number.
        line: usize,
        /// Why.
        source: FrameError,
    },
    /// The reassembled message is not a tuf-ceremony payload.
    #[error(
        "the frames hold a UR of type x-tuf-ceremony, but not a tuf-ceremony payload (bad magic)"
    )]
    NotOurs,
    /// Written by a newer version of this tool.
    #[error("the frames were written in transport format {0}, which this version does not know: use the same version of tuf-ceremony on both sides")]
    UnsupportedVersion(u8),
    /// Checksums, padding, compression or lengths do not hold.
    #[error("the frames are corrupted: {0}")]
    Corrupt(String),
    /// The body decodes to more than the file's length in the header (a
    /// deflate bomb, JSON that re-indents to more): stopped there.
    #[error("the frames' body {what} to more than the {} bytes its header claims (stopped there; no crossing file is over {} bytes): these frames were not written by tuf-ceremony's `qr show`; do not use them, and show the file again from the machine that has it", group_digits(*claimed), group_digits(MAX_CROSSING_FILE))]
    BeyondClaim {
        /// What the body did: `inflates`, `re-indents`.
        what: &'static str,
        /// The length in the header.
        claimed: usize,
    },
    /// The reassembled file is not the one the sender hashed.
    #[error("the reassembled file's sha256 is {found}, but the sender's was {expected}: do not use it; show and read the frames again")]
    DigestMismatch {
        /// The sha256 in the header.
        expected: String,
        /// The sha256 of what came out.
        found: String,
    },
    /// An output that must not be written (it exists, its folder does
    /// not), or cannot be.
    #[error("{0}")]
    Output(String),
    /// Reading or writing failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The terminal is too small for the codes.
    #[error("the QR codes need a terminal of at least {need_cols}×{need_rows} characters, and this one is {cols}×{rows}: enlarge the window or make the font smaller{hint}")]
    TerminalTooSmall {
        /// Columns needed.
        need_cols: usize,
        /// Rows needed.
        need_rows: usize,
        /// Columns there are.
        cols: usize,
        /// Rows there are.
        rows: usize,
        /// Other ways out.
        hint: String,
    },
    /// The text of a frame is too long for a QR code at this level.
    #[error("a frame of {0} characters does not fit a QR code: choose a smaller --fragment or a lower error-correction level")]
    QrTooLarge(usize),
}

impl TransportError {
    /// An I/O failure, with what was being done (the QR commands' too).
    pub fn io(context: impl Into<String>, source: std::io::Error) -> TransportError {
        TransportError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Why one frame was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    /// Not a UR at all.
    #[error("not a UR frame (expected UR:X-TUF-CEREMONY/…): {0}")]
    NotUr(String),
    /// A UR, but of another type (a PSBT, say).
    #[error("a UR of type {0:?}, not {UR_TYPE:?}: this code is not from tuf-ceremony")]
    OtherType(String),
    /// Longer than any QR code can hold.
    #[error("a line of {0} characters is longer than any QR code holds")]
    TooLong(usize),
    /// Failed a checksum or does not decode.
    #[error("corrupted frame, refused: {0}")]
    Corrupt(String),
    /// Decodes, but its numbers make no sense.
    #[error("malformed frame, refused: {0}")]
    Malformed(String),
    /// A frame of another file than the one being read.
    #[error("frame of a different file: started reading {started}, but this frame belongs to {other}; read one file at a time (start again for the other one)")]
    Foreign {
        /// The file being read.
        started: String,
        /// The file the frame belongs to.
        other: String,
    },
    /// Written by a newer version of this tool.
    #[error("transport format {0} is unknown to this version: use the same version of tuf-ceremony on both sides")]
    UnsupportedVersion(u8),
}

impl FrameError {
    /// Whether the read must stop: the frame shows the wrong thing is being
    /// read. A corrupted or unreadable frame is only skipped: another frame
    /// (a fountain frame, or the next loop) brings the same information, and
    /// the file's sha256 is checked in the end anyway.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            FrameError::Foreign { .. }
                | FrameError::OtherType(_)
                | FrameError::UnsupportedVersion(_)
        )
    }
}
