//! Crossing the air gap as QR codes: multi-part Uniform Resources.
//!
//! Every file that crosses (proposal, bundle, public key, transcript) can be
//! carried as a sequence of QR codes, each holding one *frame*: a multi-part
//! Uniform Resource (UR, BCR-2024-001) of type [`UR_TYPE`], written in
//! uppercase so that it fits the QR alphanumeric mode:
//!
//! ```text
//! UR:X-TUF-CEREMONY/1-4/LPAMCHCF…     frames 1..=4 carry the 4 fragments
//! UR:X-TUF-CEREMONY/5-4/LPAHCHCF…     frames 5.. are fountain mixes (XOR)
//! ```
//!
//! The UR message is a small plain header followed by the body: the file,
//! deflated when that makes it smaller:
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `TUFC` |
//! | 1 | format version (1) |
//! | 1 | flags: bit 0 the body is raw deflate; bit 1 the body is the file's JSON minified, and the file is exactly its `serde_json` pretty form; bit 2 that form is followed by a newline |
//! | 1 | kind of file ([`FileKind`]), informative |
//! | 4 | length of the file, big-endian |
//! | 32 | sha256 of the file |
//! | … | the body |
//!
//! Every crossing file is pretty JSON (`Bundle::to_bytes`), and indentation
//! costs deflate about a tenth of its output: so when re-printing the file's
//! own JSON reproduces it byte for byte (checked when encoding), the body
//! carries the minified JSON, and the reader pretty-prints it again. The
//! sha256 of the whole file is checked after that, as always; any file that
//! does not round-trip exactly is sent as it is.
//!
//! The header sits before the body, outside the compression, so frame 1
//! alone names the file (its sha256) while the rest is still being read.
//! The reader ([`Decoder`]) takes frames in any order, repeated, with gaps
//! (fountain frames fill them); it refuses a frame of another file with a
//! message naming both, refuses corrupted frames (each UR carries a CRC32,
//! the reassembled message another), and after reassembly checks the file's
//! length and sha256. Nothing here panics on hostile input, and nothing
//! costs more than what was received: every count and length in a frame is
//! checked before anything is spent on it, the fountain decoder is our own
//! (work linear in the frames received, whatever they claim), and the body
//! is never inflated or re-indented past the length in its header, itself
//! at most the crossing-file limit.
//!
//! Showing the frames (terminal, SVG, PNG, HTML) is in [`qr`] and
//! [`terminal`].
//!
//! Inside: `header` (the payload header), `body` (minify and deflate, and
//! back within bounds), `encoder`, `frame` (one line of text as a frame,
//! its numbers checked), `cbor` (the little CBOR a frame holds),
//! `fountain` (fragments from plain and mixed frames), `decoder`
//! (reassembly and the checks on the whole file), `error`.

mod body;
mod cbor;
mod decoder;
mod encoder;
mod error;
mod fountain;
mod frame;
mod header;
pub mod qr;

pub use decoder::{decode_lines, decode_text_lines, Decoded, Decoder, Progress, Receipt};
pub use encoder::{encode, EncodeOptions, Encoder, DEFAULT_FRAGMENT, MIN_FRAGMENT};
pub use error::{FrameError, TransportError};
pub use header::{FileKind, Newline, PayloadInfo, UR_TYPE};

/// A short, printable excerpt of untrusted text for an error message.
pub(crate) fn excerpt(s: &str) -> String {
    let clean: String = s
        .chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > 40 {
        format!("{clean}…")
    } else {
        clean
    }
}

/// `1 frame`, `2 frames`.
pub(crate) fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `8210` → `8,210`: sizes in messages and captions (also used by the
/// command-line `qr` commands).
pub fn group_digits(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
