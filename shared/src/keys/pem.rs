//! PEM armour: reading blocks as people and tools write them, and writing
//! them as fioctl and python do. Secret DER and base64 stay in wiped buffers.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use zeroize::Zeroizing;

use super::KeyError;

/// One `-----BEGIN …-----` / `-----END …-----` block.
pub(super) struct PemBlock {
    pub(super) label: String,
    /// RFC 1421 headers marking an encrypted (legacy OpenSSL) key.
    pub(super) encrypted: bool,
    pub(super) der: Zeroizing<Vec<u8>>,
}

/// Base64 as found in PEM: standard alphabet; padding as written.
const PEM_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Splits PEM text into blocks. Lenient about what people and tools do to
/// PEM (CRLF line ends, other line widths, text around the blocks, a missing
/// final newline); strict about the armour lines and the base64.
pub(super) fn pem_blocks(text: &str, what: &'static str) -> Result<Vec<PemBlock>, KeyError> {
    let bad = |reason: &str| KeyError::InvalidPem {
        what,
        reason: reason.to_owned(),
    };
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        // Sized up front so the buffer holding (possibly secret) base64 is
        // never reallocated, which would leave an unwiped copy behind.
        let mut body = Zeroizing::new(String::with_capacity(text.len()));
        let mut encrypted = false;
        let mut closed = false;
        for line in lines.by_ref() {
            if line == end {
                closed = true;
                break;
            }
            if line.starts_with("-----") {
                return Err(bad(&format!(
                    "the \"{label}\" block is not closed by \"{end}\""
                )));
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.trim().eq_ignore_ascii_case("Proc-Type") && value.contains("ENCRYPTED") {
                    encrypted = true;
                }
                continue;
            }
            body.push_str(line);
        }
        if !closed {
            return Err(bad(&format!("the \"{label}\" block has no \"{end}\" line")));
        }
        let der = if encrypted {
            Zeroizing::new(Vec::new())
        } else {
            Zeroizing::new(
                PEM_BASE64
                    .decode(body.as_bytes())
                    .map_err(|_| bad(&format!("the \"{label}\" block is not valid base64")))?,
            )
        };
        if der.is_empty() && !encrypted {
            return Err(bad(&format!("the \"{label}\" block is empty")));
        }
        blocks.push(PemBlock {
            label: label.to_owned(),
            encrypted,
            der,
        });
    }
    if blocks.is_empty() {
        return Err(bad("no \"-----BEGIN …-----\" line was found"));
    }
    Ok(blocks)
}

/// DER of the single `PUBLIC KEY` block in `text`.
pub(super) fn public_pem_der(
    text: &str,
    what: &'static str,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let mut blocks = pem_blocks(text, what)?;
    if blocks.len() != 1 {
        return Err(KeyError::InvalidPem {
            what,
            reason: format!("it holds {} PEM blocks, expected exactly one", blocks.len()),
        });
    }
    let block = blocks.remove(0);
    if block.label != "PUBLIC KEY" {
        return Err(KeyError::UnexpectedPemLabel {
            what,
            found: block.label,
            expected: "expected an SPKI \"PUBLIC KEY\" block",
        });
    }
    Ok(block.der)
}

/// PEM with 64-character lines, `\n` line ends and a trailing newline: the
/// form fioctl (Go `pem.Encode`) and python's cryptography write.
pub(super) fn pem_encode(label: &str, der: &[u8]) -> String {
    let mut out = String::new();
    write_pem(&mut out, label, der);
    out
}

/// [`pem_encode`] for secret DER: every buffer is wiped and none reallocated.
pub(super) fn pem_encode_secret(label: &str, der: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(pem_len(label, der.len())));
    write_pem(&mut out, label, der);
    out
}

fn pem_len(label: &str, der_len: usize) -> usize {
    let b64 = der_len.div_ceil(3) * 4;
    b64 + b64.div_ceil(64) + 2 * (label.len() + 17)
}

fn write_pem(out: &mut String, label: &str, der: &[u8]) {
    let b64 = Zeroizing::new(STANDARD.encode(der));
    out.reserve(pem_len(label, der.len()));
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    // Base64 output is ASCII, so slicing at any byte offset is safe.
    let mut rest: &str = &b64;
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
}
