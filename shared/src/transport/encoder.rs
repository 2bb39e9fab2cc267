//! Cutting a file into frames: the payload (header, then the body minified
//! and deflated when that is smaller), split by the `ur` crate's fountain
//! encoder.

use sha2::{Digest, Sha256};

use crate::crossing::MAX_CROSSING_FILE;

use super::body::{deflate, minify_json};
use super::frame::MAX_FRAGMENTS;
use super::header::{FileKind, PayloadInfo, HEADER_LEN, UR_TYPE};
use super::TransportError;

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
pub(crate) const MAX_FRAGMENT: usize = 2000;

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
    pub(crate) ur: ur::Encoder<'static>,
    info: PayloadInfo,
    message_len: usize,
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

    /// The next frame, as uppercase text (QR alphanumeric mode).
    pub fn next_frame(&mut self) -> String {
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
