//! Putting frames back together: any order, repeats, gaps filled by
//! fountain frames; then the body inflated, re-indented and checked against
//! the header's length and sha256.

use std::collections::BTreeSet;
use std::fmt;

use sha2::{Digest, Sha256};

use super::body::{inflate, reindent};
use super::fountain::Fountain;
use super::frame::{parse_line, Frame, Parsed, Shape};
use super::header::{PayloadInfo, HEADER_LEN};
use super::{group_digits, plural, FrameError, TransportError};

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

/// Puts frames back together into the file.
///
/// Feed it lines with [`Decoder::receive`] until [`Decoder::is_complete`],
/// then call [`Decoder::finish`].
#[derive(Default)]
pub struct Decoder {
    fountain: Option<Fountain>,
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
        match parse_line(line)? {
            None => Ok(Receipt::Blank),
            Some(Parsed::Single(message)) => self.receive_single(message),
            Some(Parsed::Multi(frame)) => self.receive_frame(frame),
        }
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

    fn receive_frame(&mut self, frame: Frame) -> Result<Receipt, FrameError> {
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
            if self.is_complete() {
                self.seen.insert(frame.sequence);
                return Ok(Receipt::AfterComplete);
            }
        }
        self.fountain
            .get_or_insert_with(|| Fountain::new(frame.shape))
            .receive(frame.sequence, &frame.data);
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
        self.single.is_some() || self.fountain.as_ref().is_some_and(Fountain::is_complete)
    }

    /// Steps the fountain decoder took so far (see `fountain`).
    #[cfg(test)]
    pub(crate) fn work(&self) -> u64 {
        self.fountain.as_ref().map_or(0, Fountain::work)
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
            resolved: self.fountain.as_ref().map_or(0, Fountain::resolved),
            total: self.shape.map_or(0, |s| s.count),
            complete: self.is_complete(),
        }
    }

    /// Puts the file together and checks its length and sha256.
    pub fn finish(self) -> Result<Decoded, TransportError> {
        let progress = self.progress();
        let message = if let Some(m) = self.single {
            m
        } else if let Some(mut fountain) = self.fountain {
            match fountain.message() {
                Some(Ok(m)) => m,
                None => {
                    return Err(TransportError::Incomplete {
                        resolved: progress.resolved,
                        total: progress.total,
                        frames: progress.frames,
                        refused: progress.refused,
                    })
                }
                Some(Err(e)) => return Err(TransportError::Corrupt(e.to_string())),
            }
        } else {
            return Err(TransportError::NoFrames {
                refused: self.refused,
                last_refusal: self.last_refusal,
            });
        };
        open_message(&message)
    }
}

/// Parses and checks the header and body of a complete UR message.
fn open_message(message: &[u8]) -> Result<Decoded, TransportError> {
    let info = PayloadInfo::parse(message)?;
    let body = &message[HEADER_LEN..];
    let bytes = if info.compressed {
        inflate(body, info.length)?
    } else {
        body.to_vec()
    };
    let bytes = match info.minified {
        None => bytes,
        Some(newline) => reindent(&bytes, newline, info.length)?,
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
