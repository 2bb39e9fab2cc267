//! [`KeyError`], the one error type of the keys module.

use std::fmt;

use thiserror::Error;

use super::KeyType;
use crate::dialect::Dialect;

/// Everything that can go wrong reading, writing or using a key.
///
/// Messages say what is wrong and what to do about it, and never contain
/// private key material (not even one character of it).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// A key object or key file lacks a field or has one of the wrong type.
    #[error("malformed key: {reason}")]
    Malformed {
        /// What is missing or wrong, naming the field.
        reason: String,
    },
    /// A `keytype` (and `scheme`) combination this tool does not handle.
    #[error("{}", unsupported_message(.keytype, .scheme.as_deref(), *.dialect))]
    Unsupported {
        /// The `keytype` as found.
        keytype: String,
        /// The `scheme` as found, if the dialect has one.
        scheme: Option<String>,
        /// The dialect the key object was read in.
        dialect: Dialect,
    },
    /// The key's algorithm (from its DER encoding) is not one we support.
    #[error(
        "the key uses {what}, which this tool does not support; \
         use an Ed25519, RSA (2048, 3072 or 4096 bits) or ECDSA P-256 key"
    )]
    UnsupportedAlgorithm {
        /// The algorithm or curve, by name or OID.
        what: String,
    },
    /// An RSA key whose modulus is not 2048, 3072 or 4096 bits.
    #[error(
        "RSA key of {bits} bits is not supported: aktualizr devices accept only 2048, 3072 \
         or 4096 bits; replace it with a new key (ed25519, or rsa-4096)"
    )]
    UnsupportedRsaSize {
        /// The modulus size found.
        bits: usize,
    },
    /// Hex that does not decode.
    #[error("{what} is not valid hex: {detail}")]
    InvalidHex {
        /// Which value, e.g. "ed25519 public key".
        what: &'static str,
        /// Why, without repeating secret characters.
        detail: String,
    },
    /// A value of the wrong length.
    #[error("{what} must be {expected}, but it is {found} characters long")]
    WrongLength {
        /// Which value.
        what: &'static str,
        /// The accepted length(s), in words.
        expected: &'static str,
        /// The length found.
        found: usize,
    },
    /// Text that is not the PEM document we expected.
    #[error("{what} is not a valid PEM document: {reason}")]
    InvalidPem {
        /// Which value.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A well-formed PEM document of the wrong kind.
    #[error("{what}: found a PEM \"{found}\" block, but {expected}")]
    UnexpectedPemLabel {
        /// Which value.
        what: &'static str,
        /// The label found after `-----BEGIN `.
        found: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// A password-protected private key.
    #[error(
        "the private key is encrypted with a password; this tool reads unencrypted PKCS#8 \
         (\"PRIVATE KEY\") or PKCS#1 (\"RSA PRIVATE KEY\") keys, and keeps them encrypted in \
         its own archive once imported"
    )]
    EncryptedPrivateKey,
    /// DER or key material that does not decode to a valid key.
    #[error("{what} is not a valid key: {reason}")]
    InvalidKey {
        /// Which value.
        what: &'static str,
        /// The decoder's explanation (never contains key bytes).
        reason: String,
    },
    /// A key object or file names one key type but holds another.
    #[error("the key is declared as {declared:?} but holds a {actual} key; fix the keytype field")]
    KeyTypeMismatch {
        /// The declared `keytype`.
        declared: String,
        /// What the key material is.
        actual: KeyType,
    },
    /// The public half stored with a private key is not that key's public half.
    #[error(
        "the private key's stored public key does not match the private key itself: the file \
         is corrupt or was edited; restore it from a backup"
    )]
    KeypairMismatch,
    /// An ota-tuf signature without a `method`.
    #[error(
        "the signature has no \"method\"; ota-tuf signatures must name one \
         (\"ed25519\" or \"rsassa-pss-sha256\")"
    )]
    MissingMethod,
    /// A signature `method` this tool does not know.
    #[error(
        "unknown signature method {method:?}; ota-tuf signatures use \"ed25519\", \
         \"rsassa-pss-sha256\" or \"rsassa-pss\""
    )]
    UnknownMethod {
        /// The method as found.
        method: String,
    },
    /// A known signature `method` that cannot have been made by this key type.
    #[error(
        "signature method {method:?} does not fit a {key_type} key; the signature entry is wrong"
    )]
    MethodMismatch {
        /// The method as found.
        method: String,
        /// The type of the key the signature claims to be from.
        key_type: KeyType,
    },
    /// A key type that the dialect cannot express or devices cannot verify.
    #[error(
        "{key_type} keys cannot be used in {dialect} metadata: its clients accept only \
         ed25519 and RSA keys; use one of those"
    )]
    NotInDialect {
        /// The key type.
        key_type: KeyType,
        /// The dialect.
        dialect: Dialect,
    },
    /// Signature bytes that cannot be a signature of this key type at all.
    #[error("malformed {key_type} signature: {reason}")]
    MalformedSignature {
        /// The key type.
        key_type: KeyType,
        /// What is wrong with the bytes.
        reason: String,
    },
    /// A well-formed signature that does not verify.
    #[error(
        "the {key_type} signature does not verify: the signed content was changed after \
         signing, or another key made it"
    )]
    BadSignature {
        /// The key type.
        key_type: KeyType,
    },
    /// A key file that is not JSON.
    #[error("the key file is not valid JSON (error at line {line}, column {column})")]
    InvalidJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// The operating system's random number generator failed.
    #[error(
        "could not get random numbers from the operating system ({reason}); \
         nothing was generated or signed; check the machine and try again"
    )]
    Random {
        /// The operating system's error.
        reason: String,
    },
    /// Signing failed for a reason other than randomness.
    #[error("signing failed: {reason}")]
    Signing {
        /// The library's explanation.
        reason: String,
    },
    /// A key could not be encoded (should not happen for keys we accepted).
    #[error("could not encode the key: {reason}")]
    Encoding {
        /// The library's explanation.
        reason: String,
    },
    /// fioctl's AtsKey format has no form for this key type.
    #[error(
        "{key_type} private keys cannot be written as a fioctl key file: fioctl and ota-tuf \
         read only RSA and ED25519 keys; export it as PKCS#8 PEM instead"
    )]
    NotAtsRepresentable {
        /// The key type.
        key_type: KeyType,
    },
    /// A signer (a hardware token, typically) returned a signature that does
    /// not verify under the public key it is known by.
    #[error(
        "{signer} returned a signature that does not verify under the recorded public key \
         (fingerprint {fingerprint}): {reason}. The device holds another key under that name, \
         or it is faulty; the signature was not used"
    )]
    SignerMismatch {
        /// Which signer, in words (e.g. `key "root-1" on token "ceremony"`).
        signer: String,
        /// The fingerprint of the public key the signature had to verify under.
        fingerprint: String,
        /// Why the signature was refused.
        reason: String,
    },
    /// A key type name for generation that we do not know.
    #[error("unknown key type {given:?}: use \"ed25519\" (the default) or \"rsa-4096\"")]
    UnknownNewKeyType {
        /// The name as given.
        given: String,
    },
}

fn unsupported_message(keytype: &str, scheme: Option<&str>, dialect: Dialect) -> String {
    match dialect {
        Dialect::OtaTuf => format!(
            "key type {keytype:?} is not supported in ota-tuf metadata; \
             supported: \"ED25519\" and \"RSA\" (and \"ECPRIME256V1\" for reading)"
        ),
        Dialect::Tuf => format!(
            "key type {keytype:?} with scheme {:?} is not supported in TUF metadata; \
             supported pairs: ed25519/ed25519, rsa/rsassa-pss-sha256, ecdsa/ecdsa-sha2-nistp256",
            scheme.unwrap_or("(none)")
        ),
    }
}

pub(super) fn malformed(reason: &str) -> KeyError {
    KeyError::Malformed {
        reason: reason.to_owned(),
    }
}

pub(super) fn invalid_key(what: &'static str, err: impl fmt::Display) -> KeyError {
    KeyError::InvalidKey {
        what,
        reason: err.to_string(),
    }
}

pub(super) fn invalid_key_msg(what: &'static str, reason: &str) -> KeyError {
    KeyError::InvalidKey {
        what,
        reason: reason.to_owned(),
    }
}
