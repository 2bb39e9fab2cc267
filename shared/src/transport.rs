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
//! length and sha256. Nothing here panics on hostile input: every count and
//! length in a frame is checked before the `ur` crate sees it.
//!
//! Showing the frames (terminal, SVG, PNG, HTML) is in [`qr`] and
//! [`terminal`].

use std::collections::BTreeSet;
use std::fmt;
use std::io::{Read, Write};

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::crossing::MAX_CROSSING_FILE;

pub mod qr;

/// The UR type of every frame: a user-defined (`x-`) type, as BCR-2020-006
/// reserves for them.
pub const UR_TYPE: &str = "x-tuf-ceremony";

/// Default largest fragment, in bytes of the UR message per frame.
///
/// The largest for which every frame, including fountain frames numbered up
/// to 65,535 of files up to the size limit, fits a QR code of version 17 at
/// error-correction level L (940 alphanumeric characters). Measured with
/// `cargo bench -p ceremony --bench qr_frames`: a FoundriesFactory Ed25519
/// rotation bundle (CI and prod roots, 8.5 KB) becomes a 1.6 KB message and
/// crosses in 4 frames of version 16, under a second at 5 frames per second.
pub const DEFAULT_FRAGMENT: usize = 430;

/// Smallest fragment accepted by [`EncodeOptions`].
pub const MIN_FRAGMENT: usize = 16;

/// Largest fragment accepted by [`EncodeOptions`]: one frame of this size
/// still fits a QR code of version 40 at level L.
pub const MAX_FRAGMENT: usize = 2000;

/// The most fragments a message may be split into; a frame claiming more is
/// refused before any memory is spent on it.
pub const MAX_FRAGMENTS: usize = 65_536;

/// The longest line [`Decoder::receive`] looks at (a version-40 QR code holds
/// 4,296 alphanumeric characters).
pub const MAX_FRAME_CHARS: usize = 8192;

const MAGIC: &[u8; 4] = b"TUFC";
const VERSION: u8 = 1;
const FLAG_DEFLATE: u8 = 1;
const FLAG_PRETTY_JSON: u8 = 2;
const FLAG_NEWLINE: u8 = 4;
const KNOWN_FLAGS: u8 = FLAG_DEFLATE | FLAG_PRETTY_JSON | FLAG_NEWLINE;
/// Length of the plain header in front of the body.
pub const HEADER_LEN: usize = 4 + 1 + 1 + 1 + 4 + 32;
/// The largest UR message: the largest crossing file, stored, plus the header.
const MAX_MESSAGE: usize = MAX_CROSSING_FILE + HEADER_LEN;

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

    fn to_bytes(&self) -> [u8; HEADER_LEN] {
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
    fn parse(message: &[u8]) -> Result<PayloadInfo, TransportError> {
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

/// Why a file cannot be turned into frames, or frames back into a file.
#[derive(Debug, Error)]
pub enum TransportError {
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] crate::fsio::FsError),
    /// Nothing to send.
    #[error("the file is empty")]
    Empty,
    /// Over [`MAX_CROSSING_FILE`].
    #[error(
        "the file is {0} bytes, more than any crossing file can be ({MAX_CROSSING_FILE} bytes)"
    )]
    TooLarge(usize),
    /// A fragment size outside [`MIN_FRAGMENT`]..=[`MAX_FRAGMENT`].
    #[error(
        "a fragment of {0} bytes is not possible: choose between {MIN_FRAGMENT} and {MAX_FRAGMENT}"
    )]
    FragmentSize(usize),
    /// The file would need more than [`MAX_FRAGMENTS`] frames.
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
    /// An I/O failure, with what was being done.
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

/// How to cut a file into frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Largest fragment of the message per frame, in bytes.
    pub fragment: usize,
    /// Deflate the file when that makes it smaller (on by default; off only
    /// to measure).
    pub compress: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            fragment: DEFAULT_FRAGMENT,
            compress: true,
        }
    }
}

/// Cuts one file into frames: first the plain fragments (frames
/// `1..=fragment_count()`), then, for as long as asked, fountain frames.
pub struct Encoder {
    ur: ur::Encoder<'static>,
    info: PayloadInfo,
    message_len: usize,
    emitted: usize,
}

impl Encoder {
    /// Prepares the frames of `file`.
    pub fn new(file: &[u8], options: &EncodeOptions) -> Result<Encoder, TransportError> {
        if file.is_empty() {
            return Err(TransportError::Empty);
        }
        if file.len() > MAX_CROSSING_FILE {
            return Err(TransportError::TooLarge(file.len()));
        }
        if !(MIN_FRAGMENT..=MAX_FRAGMENT).contains(&options.fragment) {
            return Err(TransportError::FragmentSize(options.fragment));
        }
        let (minified, body) = match options.compress.then(|| minify_json(file)).flatten() {
            Some((mini, newline)) => (Some(newline), mini),
            None => (None, file.to_vec()),
        };
        let deflated = if options.compress {
            Some(deflate(&body)?).filter(|d| d.len() < body.len())
        } else {
            None
        };
        let info = PayloadInfo {
            kind: FileKind::detect(file),
            length: file.len(),
            sha256: Sha256::digest(file).into(),
            compressed: deflated.is_some(),
            minified,
        };
        let mut message = Vec::with_capacity(HEADER_LEN + body.len());
        message.extend_from_slice(&info.to_bytes());
        message.extend_from_slice(deflated.as_deref().unwrap_or(&body));
        let count = message.len().div_ceil(options.fragment);
        if count > MAX_FRAGMENTS {
            return Err(TransportError::TooManyFragments(count));
        }
        let ur = ur::Encoder::new(&message, options.fragment, UR_TYPE)
            .map_err(|e| TransportError::Corrupt(format!("cannot encode: {e}")))?;
        Ok(Encoder {
            ur,
            info,
            message_len: message.len(),
            emitted: 0,
        })
    }

    /// What frame 1 tells the reader about the file.
    pub fn info(&self) -> &PayloadInfo {
        &self.info
    }

    /// Bytes of the UR message (header and body).
    pub fn message_len(&self) -> usize {
        self.message_len
    }

    /// How many fragments (and so plain frames) the message has: the
    /// fewest frames a reader needs.
    pub fn fragment_count(&self) -> usize {
        self.ur.fragment_count()
    }

    /// How many frames were emitted so far.
    pub fn emitted(&self) -> usize {
        self.emitted
    }

    /// The next frame, as uppercase text (QR alphanumeric mode).
    pub fn next_frame(&mut self) -> String {
        self.emitted += 1;
        self.ur
            .next_part()
            .expect("CBOR encoding of a fountain part into memory does not fail")
            .to_ascii_uppercase()
    }

    /// The next `n` frames.
    pub fn frames(&mut self, n: usize) -> Vec<String> {
        (0..n).map(|_| self.next_frame()).collect()
    }
}

/// The frames of `file`: `count` of them, or as many as it has fragments
/// when `count` is `None` (every frame then is needed; more frames add
/// fountain frames, so that any `fragment_count` or a few more of them
/// suffice).
pub fn encode(
    file: &[u8],
    options: &EncodeOptions,
    count: Option<usize>,
) -> Result<(PayloadInfo, Vec<String>), TransportError> {
    let mut enc = Encoder::new(file, options)?;
    let n = count.unwrap_or(enc.fragment_count()).max(1);
    let frames = enc.frames(n);
    Ok((enc.info().clone(), frames))
}

/// The file's JSON minified, when pretty-printing it again gives back
/// exactly the file (with or without a final newline).
fn minify_json(file: &[u8]) -> Option<(Vec<u8>, Newline)> {
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

fn deflate(data: &[u8]) -> Result<Vec<u8>, TransportError> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data)
        .and_then(|_| enc.finish())
        .map_err(|e| TransportError::io("deflate", e))
}

/// The file put together again, its sha256 checked.
#[derive(Clone, Debug)]
pub struct Decoded {
    /// The file's bytes, exactly as the sender had them.
    pub bytes: Vec<u8>,
    /// What the header said (and was checked).
    pub info: PayloadInfo,
}

/// What [`Decoder::receive`] made of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receipt {
    /// An empty line, ignored.
    Blank,
    /// A frame already read.
    Duplicate,
    /// A new frame, taken in.
    New,
    /// A frame of the same file, read after the file was complete.
    AfterComplete,
}

/// How far a read has come.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Distinct frames taken in.
    pub frames: usize,
    /// Frames seen again.
    pub duplicates: usize,
    /// Frames refused (corrupted, malformed).
    pub refused: usize,
    /// Fragments recovered so far.
    pub resolved: usize,
    /// Fragments in the message; 0 until a frame was read.
    pub total: usize,
    /// Whether the message is complete.
    pub complete: bool,
}

impl Progress {
    /// An estimate in percent: fragments recovered of all fragments.
    pub fn percent(&self) -> u32 {
        if self.complete {
            100
        } else {
            (self.resolved * 100)
                .checked_div(self.total)
                .map_or(0, |p| p.min(99) as u32)
        }
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}% · {} of {} fragments · {} read",
            self.percent(),
            self.resolved,
            self.total,
            plural(self.frames, "frame")
        )?;
        if self.duplicates > 0 {
            write!(f, ", {} repeated", self.duplicates)?;
        }
        if self.refused > 0 {
            write!(f, ", {} refused", self.refused)?;
        }
        Ok(())
    }
}

/// The numbers every frame of one message shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shape {
    count: usize,
    message_len: usize,
    checksum: u32,
    fragment_len: usize,
}

/// One multi-part frame, parsed and checked.
struct Frame {
    sequence: usize,
    shape: Shape,
    data: Vec<u8>,
}

/// Puts frames back together into the file.
///
/// Feed it lines with [`Decoder::receive`] until [`Decoder::is_complete`],
/// then call [`Decoder::finish`].
#[derive(Default)]
pub struct Decoder {
    ur: ur::Decoder,
    shape: Option<Shape>,
    header: Option<PayloadInfo>,
    seen: BTreeSet<usize>,
    single: Option<Vec<u8>>,
    duplicates: usize,
    refused: usize,
    last_refusal: Option<String>,
}

impl Decoder {
    /// A decoder that has read nothing.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Takes one line of text: a frame as a scanner types it, with or
    /// without surrounding whitespace, in either case. Blank lines are
    /// ignored. A refused frame leaves the decoder as it was.
    pub fn receive(&mut self, line: &str) -> Result<Receipt, FrameError> {
        let result = self.receive_inner(line);
        if let Err(e) = &result {
            if !e.is_fatal() {
                self.refused += 1;
                self.last_refusal = Some(e.to_string());
            }
        }
        result
    }

    fn receive_inner(&mut self, line: &str) -> Result<Receipt, FrameError> {
        let line = line.trim();
        if line.is_empty() {
            return Ok(Receipt::Blank);
        }
        if line.len() > MAX_FRAME_CHARS {
            return Err(FrameError::TooLong(line.len()));
        }
        // zbarcam and zbarimg without --raw prefix the symbology.
        let line = strip_prefix_ci(line, "QR-Code:").unwrap_or(line).trim();
        // A keyboard-mode scanner set to another layout than the
        // computer's types other characters for ':' and '/'.
        let not_ur = || {
            let hint = if strip_prefix_ci(line, "ur").is_some() {
                " (if a scanner typed this, set it to this computer's keyboard layout: ':' and '/' must come through)"
            } else {
                ""
            };
            FrameError::NotUr(format!("{}{hint}", excerpt(line)))
        };
        let rest = strip_prefix_ci(line, "ur:").ok_or_else(not_ur)?;
        let (ur_type, body) = rest.split_once('/').ok_or_else(not_ur)?;
        if !ur_type.eq_ignore_ascii_case(UR_TYPE) {
            return Err(FrameError::OtherType(excerpt(ur_type)));
        }
        if !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'-')
        {
            return Err(FrameError::Corrupt(
                "characters that bytewords never use".into(),
            ));
        }
        let lower = line.to_ascii_lowercase();
        let (kind, payload) =
            ur::ur::decode(&lower).map_err(|e| FrameError::Corrupt(e.to_string()))?;
        if kind == ur::ur::Kind::SinglePart {
            return self.receive_single(payload);
        }
        let frame = parse_frame(body, &payload)?;
        self.receive_frame(frame, &lower)
    }

    fn receive_single(&mut self, message: Vec<u8>) -> Result<Receipt, FrameError> {
        let info = PayloadInfo::parse(&message).map_err(frame_header_error)?;
        if let Some(shape) = self.shape {
            return Err(FrameError::Foreign {
                started: self.describe_started(shape),
                other: info.describe(),
            });
        }
        match &self.single {
            Some(m) if *m == message => {
                self.duplicates += 1;
                Ok(Receipt::Duplicate)
            }
            Some(_) => Err(FrameError::Foreign {
                started: self
                    .header
                    .as_ref()
                    .map_or_else(|| "another file".into(), PayloadInfo::describe),
                other: info.describe(),
            }),
            None => {
                self.header = Some(info);
                self.single = Some(message);
                Ok(Receipt::New)
            }
        }
    }

    fn receive_frame(&mut self, frame: Frame, lower: &str) -> Result<Receipt, FrameError> {
        // Frame 1 starts with the header: it names the file.
        let header = if frame.sequence == 1 && frame.data.len() >= HEADER_LEN {
            Some(PayloadInfo::parse(&frame.data).map_err(frame_header_error)?)
        } else {
            None
        };
        if self.single.is_some() {
            return Err(FrameError::Foreign {
                started: self
                    .header
                    .as_ref()
                    .map_or_else(|| "another file".into(), PayloadInfo::describe),
                other: describe_shape(frame.shape, header.as_ref()),
            });
        }
        if let Some(shape) = self.shape {
            let same_header = match (&self.header, &header) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            };
            if shape != frame.shape || !same_header {
                return Err(FrameError::Foreign {
                    started: self.describe_started(shape),
                    other: describe_shape(frame.shape, header.as_ref()),
                });
            }
            if self.seen.contains(&frame.sequence) {
                self.duplicates += 1;
                return Ok(Receipt::Duplicate);
            }
            if self.ur.complete() {
                self.seen.insert(frame.sequence);
                return Ok(Receipt::AfterComplete);
            }
        }
        self.ur.receive(lower).map_err(|e| match e {
            ur::ur::Error::Fountain(ur::fountain::Error::InconsistentPart) => {
                FrameError::Malformed("inconsistent with the frames already read".into())
            }
            other => FrameError::Corrupt(other.to_string()),
        })?;
        self.shape = Some(frame.shape);
        self.seen.insert(frame.sequence);
        if self.header.is_none() {
            self.header = header;
        }
        Ok(Receipt::New)
    }

    fn describe_started(&self, shape: Shape) -> String {
        describe_shape(shape, self.header.as_ref())
    }

    /// Whether every fragment is known and [`Decoder::finish`] can run.
    pub fn is_complete(&self) -> bool {
        self.single.is_some() || self.ur.complete()
    }

    /// What the header of the file being read says, once frame 1 was read.
    pub fn info(&self) -> Option<&PayloadInfo> {
        self.header.as_ref()
    }

    /// How far the read has come.
    pub fn progress(&self) -> Progress {
        if self.single.is_some() {
            return Progress {
                frames: 1,
                duplicates: self.duplicates,
                refused: self.refused,
                resolved: 1,
                total: 1,
                complete: true,
            };
        }
        Progress {
            frames: self.seen.len(),
            duplicates: self.duplicates,
            refused: self.refused,
            resolved: self.ur.resolved_fragment_count().unwrap_or(0),
            total: self.ur.fragment_count(),
            complete: self.ur.complete(),
        }
    }

    /// Puts the file together and checks its length and sha256.
    pub fn finish(self) -> Result<Decoded, TransportError> {
        let progress = self.progress();
        let message = if let Some(m) = self.single {
            m
        } else if self.shape.is_none() {
            return Err(TransportError::NoFrames {
                refused: self.refused,
                last_refusal: self.last_refusal,
            });
        } else {
            match self.ur.message() {
                Ok(Some(m)) => m,
                Ok(None) => {
                    return Err(TransportError::Incomplete {
                        resolved: progress.resolved,
                        total: progress.total,
                        frames: progress.frames,
                        refused: progress.refused,
                    })
                }
                Err(e) => return Err(TransportError::Corrupt(e.to_string())),
            }
        };
        open_message(&message)
    }
}

/// Parses and checks the header and body of a complete UR message.
fn open_message(message: &[u8]) -> Result<Decoded, TransportError> {
    let info = PayloadInfo::parse(message)?;
    let body = &message[HEADER_LEN..];
    let bytes = if info.compressed {
        let mut out = Vec::with_capacity(info.length);
        flate2::read::DeflateDecoder::new(body)
            .take(info.length as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| TransportError::Corrupt(format!("the body does not inflate: {e}")))?;
        out
    } else {
        body.to_vec()
    };
    let bytes = match info.minified {
        None => bytes,
        Some(newline) => {
            let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                TransportError::Corrupt(format!("the minified JSON does not parse: {e}"))
            })?;
            let mut pretty = serde_json::to_vec_pretty(&value)
                .map_err(|e| TransportError::Corrupt(e.to_string()))?;
            if newline == Newline::Yes {
                pretty.push(b'\n');
            }
            pretty
        }
    };
    if bytes.len() != info.length {
        return Err(TransportError::Corrupt(format!(
            "the file is {} bytes, but the header says {}",
            bytes.len(),
            info.length
        )));
    }
    let found: [u8; 32] = Sha256::digest(&bytes).into();
    if found != info.sha256 {
        return Err(TransportError::DigestMismatch {
            expected: info.sha256_hex(),
            found: hex::encode(found),
        });
    }
    Ok(Decoded { bytes, info })
}

fn frame_header_error(e: TransportError) -> FrameError {
    match e {
        TransportError::UnsupportedVersion(v) => FrameError::UnsupportedVersion(v),
        TransportError::NotOurs => {
            FrameError::Malformed("frame 1 does not start with a tuf-ceremony header".into())
        }
        other => FrameError::Malformed(other.to_string()),
    }
}

fn describe_shape(shape: Shape, header: Option<&PayloadInfo>) -> String {
    match header {
        Some(h) => format!("{} in {} fragments", h.describe(), shape.count),
        None => format!(
            "a file of {} bytes in {} fragments (checksum {:08x}; its frame 1 not yet read)",
            group_digits(shape.message_len),
            shape.count,
            shape.checksum
        ),
    }
}

/// Parses the CBOR of a multi-part frame (`[seq, count, length, crc,
/// data]`) and checks every number before the `ur` crate sees it: that
/// crate trusts them and would, for a frame claiming four billion
/// fragments, try to allocate them.
fn parse_frame(body: &str, cbor: &[u8]) -> Result<Frame, FrameError> {
    let bad = |m: &str| FrameError::Malformed(m.to_string());
    let (indices, _) = body
        .rsplit_once('/')
        .ok_or_else(|| bad("no sequence numbers"))?;
    let (seq_text, count_text) = indices
        .split_once('-')
        .ok_or_else(|| bad("sequence numbers are not N-M"))?;
    let url_seq: u64 = seq_text
        .parse()
        .map_err(|_| bad("sequence is not a number"))?;
    let url_count: u64 = count_text
        .parse()
        .map_err(|_| bad("count is not a number"))?;

    let mut c = Cbor {
        bytes: cbor,
        pos: 0,
    };
    if c.byte()? != 0x85 {
        return Err(bad("not a fountain part (CBOR array of 5)"));
    }
    let sequence = c.uint()?;
    let count = c.uint()?;
    let message_len = c.uint()?;
    let checksum = c.uint()?;
    let data = c.bytes()?;
    if checksum > u64::from(u32::MAX)
        || [sequence, count, message_len]
            .iter()
            .any(|v| *v > u64::from(u32::MAX))
    {
        return Err(bad("numbers out of range"));
    }
    if sequence != url_seq || count != url_count {
        return Err(bad("sequence numbers in the text and in the frame differ"));
    }
    let (sequence, count, message_len) = (sequence as usize, count as usize, message_len as usize);
    if sequence == 0 || count == 0 {
        return Err(bad("sequence numbers start at 1"));
    }
    if count > MAX_FRAGMENTS {
        return Err(bad("more fragments than any crossing file needs"));
    }
    if message_len == 0 || message_len > MAX_MESSAGE {
        return Err(bad("message length out of range"));
    }
    if data.is_empty() || message_len.div_ceil(data.len()) != count {
        return Err(bad("fragment length, count and message length disagree"));
    }
    Ok(Frame {
        sequence,
        shape: Shape {
            count,
            message_len,
            checksum: checksum as u32,
            fragment_len: data.len(),
        },
        data: data.to_vec(),
    })
}

/// Just enough CBOR to read a fountain part.
struct Cbor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cbor<'a> {
    fn byte(&mut self) -> Result<u8, FrameError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| FrameError::Malformed("truncated fountain part".into()))?;
        self.pos += 1;
        Ok(b)
    }

    /// An item head of major type `major`; returns its argument.
    fn head(&mut self, major: u8) -> Result<u64, FrameError> {
        let b = self.byte()?;
        if b >> 5 != major {
            return Err(FrameError::Malformed(
                "unexpected item in the fountain part".into(),
            ));
        }
        let n = match b & 0x1f {
            v @ 0..=23 => return Ok(u64::from(v)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => {
                return Err(FrameError::Malformed(
                    "indefinite or reserved length in the fountain part".into(),
                ))
            }
        };
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 8) | u64::from(self.byte()?);
        }
        Ok(v)
    }

    fn uint(&mut self) -> Result<u64, FrameError> {
        self.head(0)
    }

    fn bytes(&mut self) -> Result<&'a [u8], FrameError> {
        let len = self.head(2)?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| self.pos.checked_add(l))
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| FrameError::Malformed("truncated fountain part".into()))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// A short, printable excerpt of untrusted text for an error message.
fn excerpt(s: &str) -> String {
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
fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `8210` → `8,210`.
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

/// Puts a file together from text holding one frame per line (a scanner's
/// output, `zbarcam --raw`, a pasted list), in any order, with repeats and
/// blank lines. Corrupted frames are skipped; a frame of another file stops
/// the read. Lines after the file is complete are still checked.
pub fn decode_text_lines(text: &str) -> Result<Vec<u8>, TransportError> {
    decode_lines(text.lines()).map(|d| d.bytes)
}

/// Like [`decode_text_lines`], from any sequence of lines, returning what
/// the header said as well.
pub fn decode_lines<I, S>(lines: I) -> Result<Decoded, TransportError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut decoder = Decoder::new();
    for (i, line) in lines.into_iter().enumerate() {
        match decoder.receive(line.as_ref()) {
            Err(e) if e.is_fatal() => {
                return Err(TransportError::Frame {
                    line: i + 1,
                    source: e,
                })
            }
            _ => {}
        }
    }
    decoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Vec<u8> {
        // Compressible but not trivially so.
        (0..n)
            .map(|i| b"{\"format\":\"tuf-ceremony/bundle@1\"}"[i % 34] ^ ((i / 97) as u8 & 3))
            .collect()
    }

    #[test]
    fn round_trip_in_order() {
        let file = sample(5000);
        let (info, frames) = encode(&file, &EncodeOptions::default(), None).unwrap();
        assert_eq!(info.length, 5000);
        assert!(frames.iter().all(|f| f.starts_with("UR:X-TUF-CEREMONY/")));
        assert_eq!(decode_text_lines(&frames.join("\n")).unwrap(), file);
    }

    #[test]
    fn fountain_frames_fill_gaps() {
        let file = sample(20_000);
        let opts = EncodeOptions {
            fragment: 100,
            compress: false,
        };
        let mut enc = Encoder::new(&file, &opts).unwrap();
        let k = enc.fragment_count();
        let frames = enc.frames(k * 3);
        // Drop every other plain frame; fountain frames make up for them.
        let kept: Vec<&String> = frames
            .iter()
            .enumerate()
            .filter(|(i, _)| *i >= k || i % 2 == 0)
            .map(|(_, f)| f)
            .collect();
        let d = decode_lines(kept.iter().rev()).unwrap();
        assert_eq!(d.bytes, file);
        assert!(!d.info.compressed);
    }

    #[test]
    fn single_part_ur_is_read() {
        let file = sample(300);
        let mut message = PayloadInfo {
            kind: FileKind::Other,
            length: file.len(),
            sha256: Sha256::digest(&file).into(),
            compressed: false,
            minified: None,
        }
        .to_bytes()
        .to_vec();
        message.extend_from_slice(&file);
        let line = ur::ur::encode(&message, &ur::Type::Custom(UR_TYPE));
        assert_eq!(decode_text_lines(&line).unwrap(), file);
    }

    #[test]
    fn huge_counts_are_refused_before_allocating() {
        // A frame claiming 2^32-1 fragments with a valid bytewords CRC.
        let mut cbor = vec![0x85, 0x1a, 0xff, 0xff, 0xff, 0xff];
        cbor.extend([0x1a, 0xff, 0xff, 0xff, 0xff]);
        cbor.extend([0x1a, 0xff, 0xff, 0xff, 0xff]);
        cbor.extend([0x01, 0x41, 0x00]);
        let body = ur::bytewords::encode(&cbor, ur::bytewords::Style::Minimal);
        let line = format!("ur:{UR_TYPE}/4294967295-4294967295/{body}");
        let mut d = Decoder::new();
        assert!(matches!(d.receive(&line), Err(FrameError::Malformed(_))));
    }

    #[test]
    fn default_frames_fit_version_17_at_level_l() {
        // The worst case: a large file (5-byte length, 3-digit count) and a
        // fountain frame numbered 65,535.
        let mut file = Vec::new();
        let mut x = 1u32;
        while file.len() < 80_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            file.push((x >> 16) as u8);
        }
        let mut enc = Encoder::new(&file, &EncodeOptions::default()).unwrap();
        assert!(enc.fragment_count() > 100);
        let first = enc.next_frame();
        for _ in 1..65_534 {
            enc.ur.next_part().unwrap();
        }
        let last = enc.next_frame();
        assert!(last.contains("/65535-"), "{}", &last[..30]);
        for f in [first, last] {
            let v = qr::QrCode::new(&f, qr::Ecc::L).unwrap().version();
            assert!(v <= 17, "version {v} for {} characters", f.len());
        }
    }

    #[test]
    fn pretty_json_crosses_minified_and_comes_back_exact() {
        let value = serde_json::json!({"format": "tuf-ceremony/bundle@1", "b": [1, 2, {"c": "d\ne"}], "a": 1});
        let mut pretty = serde_json::to_vec_pretty(&value).unwrap();
        for newline in [false, true] {
            if newline {
                pretty.push(b'\n');
            }
            let enc = Encoder::new(&pretty, &EncodeOptions::default()).unwrap();
            assert!(enc.info().minified.is_some());
            assert_eq!(enc.info().kind, FileKind::Bundle);
            let (_, frames) = encode(&pretty, &EncodeOptions::default(), None).unwrap();
            assert_eq!(decode_text_lines(&frames.join("\n")).unwrap(), pretty);
        }
        // Files that pretty-printing would change are sent as they are.
        for odd in [
            &b"{\"a\": 1e5}\n"[..],
            b"{\"b\":1,\"a\":2}",
            b"{\n    \"a\": 1\n}",
            b"{\"a\":1,\"a\":2}",
        ] {
            let enc = Encoder::new(odd, &EncodeOptions::default()).unwrap();
            assert_eq!(
                enc.info().minified,
                None,
                "{}",
                String::from_utf8_lossy(odd)
            );
            let (_, frames) = encode(odd, &EncodeOptions::default(), None).unwrap();
            assert_eq!(decode_text_lines(&frames.join("\n")).unwrap(), odd);
        }
    }

    #[test]
    fn digits_are_grouped() {
        assert_eq!(group_digits(8210), "8,210");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1_000_000), "1,000,000");
    }
}
