//! Reading one line of text as a frame: `UR:X-TUF-CEREMONY/<seq>-<count>/<bytewords>`
//! (or a single-part UR), with every number checked before anything is
//! spent on it.

use super::cbor::Cbor;
use super::encoder::MAX_FRAGMENT;
use super::header::{MAX_MESSAGE, UR_TYPE};
use super::{excerpt, FrameError};

/// The most fragments a message may be split into; a frame claiming more is
/// refused before any memory is spent on it.
pub(crate) const MAX_FRAGMENTS: usize = 65_536;

/// The longest line `Decoder::receive` looks at (a version-40 QR code holds
/// 4,296 alphanumeric characters).
pub(crate) const MAX_FRAME_CHARS: usize = 8192;

/// The numbers every frame of one message shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) count: usize,
    pub(crate) message_len: usize,
    pub(crate) checksum: u32,
    pub(crate) fragment_len: usize,
}

/// One multi-part frame, parsed and checked.
pub(crate) struct Frame {
    pub(crate) sequence: usize,
    pub(crate) shape: Shape,
    pub(crate) data: Vec<u8>,
}

/// A line that holds a UR of our type.
pub(crate) enum Parsed {
    /// A single-part UR: the whole message.
    Single(Vec<u8>),
    /// One frame of a multi-part UR.
    Multi(Frame),
}

/// Reads one line as a scanner types it (surrounding whitespace, either
/// case, zbar's `QR-Code:` prefix); `None` for a blank line.
pub(crate) fn parse_line(line: &str) -> Result<Option<Parsed>, FrameError> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
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
    let (kind, payload) = ur::ur::decode(&lower).map_err(|e| FrameError::Corrupt(e.to_string()))?;
    if kind == ur::ur::Kind::SinglePart {
        return Ok(Some(Parsed::Single(payload)));
    }
    parse_frame(body, &payload).map(|f| Some(Parsed::Multi(f)))
}

/// Parses the CBOR of a multi-part frame (`[seq, count, length, crc,
/// data]`) and checks every number before the fountain decoder sees it:
/// no more fragments than `MAX_FRAGMENTS`, and no more bytes than the
/// largest message, whatever the frame claims.
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

    let mut c = Cbor::new(cbor);
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
    // What the fountain decoder may come to hold: the fragments, at most
    // the largest message and one fragment of padding.
    if data.len() > MAX_FRAGMENT || count * data.len() > MAX_MESSAGE + MAX_FRAGMENT {
        return Err(bad("fragments larger than any crossing file needs"));
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

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}
