//! Public and private keys, in the forms both dialects and fioctl write them.
//!
//! Root rotation touches keys in many encodings: key objects inside root
//! metadata (which differ between the ota-tuf and TUF dialects), fioctl's
//! `.pub`/`.sec` "AtsKey" files, and PEM files from other tools. This module is
//! the one place that turns all of them into [`PublicKey`] and [`PrivateKey`],
//! computes key ids, and makes and checks signatures, so that the signer and
//! the submitter agree on every byte.
//!
//! Choices that matter for interoperability:
//!
//! * **Key identity** is the SubjectPublicKeyInfo DER of the key, re-encoded
//!   from the parsed key ([`PublicKey::spki_der`]). Two key objects that spell
//!   one key differently (PEM line wrapping, hex case, keytype casing) compare
//!   equal, so a threshold can never be inflated by listing a key twice.
//! * **Key ids** are dialect-specific. ota-tuf uses sha256 of the SPKI DER;
//!   TUF uses sha256 of the canonical key object, so the exact `public` string
//!   and `keytype`/`scheme` names found in a root are remembered and reused.
//! * **RSA** is RSASSA-PSS with SHA-256, MGF1-SHA256 and a 32-byte salt, for
//!   2048-, 3072- and 4096-bit moduli only (what aktualizr accepts). ota-tuf
//!   signatures must use salt 32 (the ota-tuf server's BouncyCastle verifier
//!   defaults to it); TUF signatures are verified with the salt length
//!   recovered from the signature, as python-tuf does, which includes salt 32.
//! * **Ed25519** is pure Ed25519 (RFC 8032), verified strictly.
//! * **ECDSA P-256** (TUF dialect only: tuf-on-ci and Sigstore roots) signs
//!   SHA-256 of the message with DER-encoded signatures, like python's
//!   `cryptography`; both low-S and high-S signatures are accepted.
//!
//! Private material is held only in types that wipe themselves on drop, and
//! intermediate buffers (hex, DER, PEM) are wrapped in [`Zeroizing`]. No error
//! message ever includes private key material.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use getrandom::SysRng;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, RsaPublicKeyRef};
use rsa::pkcs8::der::Decode;
use rsa::pkcs8::{
    EncodePrivateKey, EncodePublicKey, ObjectIdentifier, PrivateKeyInfoRef, SubjectPublicKeyInfoRef,
};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use thiserror::Error;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::canonical::to_canonical_bytes;
use crate::dialect::Dialect;

/// `rsaEncryption`, the usual algorithm of an RSA SubjectPublicKeyInfo.
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-RSASSA-PSS`, an RSA key restricted to PSS; same key material.
const OID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
/// `id-Ed25519` (RFC 8410).
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// `id-ecPublicKey`; the curve is in the algorithm parameters.
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `prime256v1` / `secp256r1` / NIST P-256.
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// PKCS#8 v1 prefix of an Ed25519 private key (RFC 8410 §7): the 32-byte seed
/// follows. Writing it by hand keeps the seed in a buffer we wipe.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// RSA modulus sizes aktualizr accepts (`crypto.cc` `IdentifyRSAKeyType`).
const RSA_SIZES: [usize; 3] = [2048, 3072, 4096];

/// Salt length of every RSASSA-PSS signature we make (fioctl's and
/// securesystemslib's choice; what ota-tuf's server expects).
const PSS_SALT_LEN: usize = 32;

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

/// The kinds of key this tool reads and verifies.
///
/// Used for display (fingerprints, diffs) and to check that a signature's
/// `method` fits its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// Ed25519 (RFC 8032).
    Ed25519,
    /// RSA, used with RSASSA-PSS-SHA256.
    Rsa,
    /// ECDSA on NIST P-256 with SHA-256 (TUF dialect only).
    EcdsaP256,
}

impl KeyType {
    /// The lowercase name people and the transcript use.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ed25519",
            KeyType::Rsa => "rsa",
            KeyType::EcdsaP256 => "ecdsa-p256",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The kinds of key this tool generates: Ed25519 by default (what fioctl
/// makes since v0.32), RSA-4096 for Factories that want RSA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum NewKeyType {
    /// Ed25519.
    #[default]
    Ed25519,
    /// RSA with a 4096-bit modulus and exponent 65537.
    Rsa4096,
}

impl NewKeyType {
    /// The name used on the command line (`--type`).
    pub fn name(self) -> &'static str {
        match self {
            NewKeyType::Ed25519 => "ed25519",
            NewKeyType::Rsa4096 => "rsa-4096",
        }
    }
}

impl fmt::Display for NewKeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for NewKeyType {
    type Err = KeyError;

    /// Accepts `ed25519`, `rsa-4096` and `rsa` (meaning RSA-4096), in any case,
    /// since fioctl spells them `ED25519` and `RSA`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ed25519" => Ok(NewKeyType::Ed25519),
            "rsa-4096" | "rsa4096" | "rsa" => Ok(NewKeyType::Rsa4096),
            _ => Err(KeyError::UnknownNewKeyType {
                given: s.to_owned(),
            }),
        }
    }
}

#[derive(Clone)]
enum PublicInner {
    Ed25519(ed25519_dalek::VerifyingKey),
    Rsa(Box<rsa::PublicKey>),
    EcdsaP256(p256::ecdsa::VerifyingKey),
}

/// A public key, as found in root metadata or derived from a private key.
///
/// Two `PublicKey`s are equal when they are the same key (same SPKI DER),
/// however the key objects they came from spelled them. A key parsed from a
/// key object also remembers the exact `public` string (and, in the TUF
/// dialect, the `keytype` and `scheme` names) it was read with, because the
/// TUF key id is a hash over those exact strings and a root must keep them.
#[derive(Clone)]
pub struct PublicKey {
    inner: PublicInner,
    spki_der: Vec<u8>,
    bits: usize,
    /// `keyval.public` exactly as read from a key object.
    public_text: Option<String>,
    /// `keytype` and `scheme` exactly as read from a TUF-dialect key object.
    tuf_names: Option<(String, String)>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("key_type", &self.key_type())
            .field("bits", &self.bits)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.spki_der == other.spki_der
    }
}

impl Eq for PublicKey {}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.spki_der.hash(state);
    }
}

impl PublicKey {
    /// Reads a key object from root metadata (`signed.keys[id]`) in `dialect`.
    ///
    /// ota-tuf: `keytype` is compared case-insensitively (`ED25519`, `RSA`,
    /// `ECPRIME256V1`) and any `scheme` is ignored. TUF: the
    /// (`keytype`, `scheme`) pair must be one of ed25519/ed25519,
    /// rsa/rsassa-pss-sha256, ecdsa/ecdsa-sha2-nistp256 (or the deprecated
    /// keytype `ecdsa-sha2-nistp256`). Extra fields such as
    /// `keyid_hash_algorithms` are ignored in both.
    pub fn from_key_object(obj: &Value, dialect: Dialect) -> Result<PublicKey, KeyError> {
        let map = obj.as_object().ok_or_else(|| KeyError::Malformed {
            reason: "a key object must be a JSON object with \"keytype\" and \"keyval\"".into(),
        })?;
        let keytype = map
            .get("keytype")
            .ok_or_else(|| malformed("the key object has no \"keytype\""))?
            .as_str()
            .ok_or_else(|| malformed("the key object's \"keytype\" is not a string"))?;
        let public = map
            .get("keyval")
            .ok_or_else(|| malformed("the key object has no \"keyval\""))?
            .get("public")
            .ok_or_else(|| malformed("the key object has no \"keyval.public\""))?
            .as_str()
            .ok_or_else(|| malformed("the key object's \"keyval.public\" is not a string"))?;

        let mut key = match dialect {
            Dialect::OtaTuf => {
                let expected = match keytype.to_ascii_lowercase().as_str() {
                    "ed25519" => KeyType::Ed25519,
                    "rsa" => KeyType::Rsa,
                    "ecprime256v1" => KeyType::EcdsaP256,
                    _ => {
                        return Err(KeyError::Unsupported {
                            keytype: keytype.to_owned(),
                            scheme: None,
                            dialect,
                        })
                    }
                };
                parse_public_text(public, expected, keytype)?
            }
            Dialect::Tuf => {
                let scheme = map
                    .get("scheme")
                    .ok_or_else(|| malformed("the TUF key object has no \"scheme\""))?
                    .as_str()
                    .ok_or_else(|| malformed("the key object's \"scheme\" is not a string"))?;
                let expected = match (keytype, scheme) {
                    ("ed25519", "ed25519") => KeyType::Ed25519,
                    ("rsa", "rsassa-pss-sha256") => KeyType::Rsa,
                    ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => KeyType::EcdsaP256,
                    _ => {
                        return Err(KeyError::Unsupported {
                            keytype: keytype.to_owned(),
                            scheme: Some(scheme.to_owned()),
                            dialect,
                        })
                    }
                };
                let mut key = parse_public_text(public, expected, keytype)?;
                key.tuf_names = Some((keytype.to_owned(), scheme.to_owned()));
                key
            }
        };
        key.public_text = Some(public.to_owned());
        Ok(key)
    }

    /// The key object for `dialect`, ready to go into `signed.keys`.
    ///
    /// ota-tuf: `{"keytype":"ED25519"|"RSA"|"ECPRIME256V1","keyval":{"public"}}`;
    /// TUF: exactly `{"keytype","keyval":{"public"},"scheme"}`. The `public`
    /// string is the one the key was read with, if any (so a key taken from a
    /// root is written back byte for byte and keeps its TUF key id); otherwise
    /// lowercase hex for Ed25519 and SPKI PEM with 64-character lines and a
    /// trailing newline for RSA and ECDSA (what fioctl and python write).
    pub fn to_key_object(&self, dialect: Dialect) -> Value {
        let public = self
            .public_text
            .clone()
            .unwrap_or_else(|| self.canonical_public_text());
        match dialect {
            Dialect::OtaTuf => json!({
                "keytype": self.ota_keytype(),
                "keyval": {"public": public},
            }),
            Dialect::Tuf => {
                let (keytype, scheme) = self.tuf_names();
                json!({
                    "keytype": keytype,
                    "keyval": {"public": public},
                    "scheme": scheme,
                })
            }
        }
    }

    /// The key id this key has in `dialect`.
    ///
    /// ota-tuf: lowercase hex sha256 of the SPKI DER (what ota-tuf and fioctl
    /// since v0.30 compute). TUF: lowercase hex sha256 of the canonical JSON of
    /// [`PublicKey::to_key_object`], as securesystemslib computes it. Never use
    /// this to find an existing ota-tuf key by id: older fioctl used another
    /// scheme; match keys by equality instead.
    pub fn key_id(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::OtaTuf => self.fingerprint(),
            Dialect::Tuf => {
                // The TUF canonical form fails only on non-integer numbers, and
                // a key object holds strings only, so this cannot be empty.
                let bytes = to_canonical_bytes(&self.to_key_object(Dialect::Tuf), Dialect::Tuf)
                    .unwrap_or_default();
                hex::encode(Sha256::digest(&bytes))
            }
        }
    }

    /// Which kind of key this is.
    pub fn key_type(&self) -> KeyType {
        match self.inner {
            PublicInner::Ed25519(_) => KeyType::Ed25519,
            PublicInner::Rsa(_) => KeyType::Rsa,
            PublicInner::EcdsaP256(_) => KeyType::EcdsaP256,
        }
    }

    /// Key size for display and for the size rules: 256 for Ed25519 and
    /// P-256, the modulus size for RSA.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// The DER SubjectPublicKeyInfo of the key, re-encoded from the parsed
    /// key: the key's identity, independent of how it was written.
    pub fn spki_der(&self) -> Vec<u8> {
        self.spki_der.clone()
    }

    /// Lowercase hex sha256 of the SPKI DER: a dialect-independent name for
    /// the key that people can compare across machines (equal to the ota-tuf
    /// key id).
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(&self.spki_der))
    }

    /// Checks `signature` (raw bytes, already decoded from base64 or hex) over
    /// `message` (the canonical bytes of `signed`).
    ///
    /// ota-tuf: `method` is required and compared case-insensitively;
    /// `ed25519` fits Ed25519 keys, `rsassa-pss-sha256` and its older name
    /// `rsassa-pss` fit RSA keys; RSA signatures must use salt length 32, as
    /// the ota-tuf server requires. TUF: `method` is ignored (the scheme comes
    /// from the key); RSA salt length is recovered from the signature, as
    /// python-tuf does.
    pub fn verify(
        &self,
        dialect: Dialect,
        message: &[u8],
        signature: &[u8],
        method: Option<&str>,
    ) -> Result<(), KeyError> {
        match dialect {
            Dialect::OtaTuf => {
                let method = method.ok_or(KeyError::MissingMethod)?;
                let wanted = match method.to_ascii_lowercase().as_str() {
                    "ed25519" => KeyType::Ed25519,
                    "rsassa-pss-sha256" | "rsassa-pss" => KeyType::Rsa,
                    _ => {
                        return Err(KeyError::UnknownMethod {
                            method: method.to_owned(),
                        })
                    }
                };
                if self.key_type() == KeyType::EcdsaP256 {
                    return Err(KeyError::NotInDialect {
                        key_type: KeyType::EcdsaP256,
                        dialect,
                    });
                }
                if wanted != self.key_type() {
                    return Err(KeyError::MethodMismatch {
                        method: method.to_owned(),
                        key_type: self.key_type(),
                    });
                }
                self.verify_raw(message, signature, Some(PSS_SALT_LEN))
            }
            Dialect::Tuf => self.verify_raw(message, signature, None),
        }
    }

    /// Reads an SPKI (`-----BEGIN PUBLIC KEY-----`) PEM of an Ed25519, RSA or
    /// ECDSA P-256 key, e.g. a key handed over by another tool.
    pub fn from_pem(pem: &str) -> Result<PublicKey, KeyError> {
        let der = public_pem_der(pem, "the public key")?;
        PublicKey::from_spki_der(&der)
    }

    /// An Ed25519 public key from its 32 raw bytes (what a PKCS#11 token
    /// reports as `CKA_EC_POINT`, once unwrapped).
    pub fn from_ed25519_bytes(bytes: &[u8]) -> Result<PublicKey, KeyError> {
        const WHAT: &str = "the ed25519 public key";
        let raw: [u8; 32] = bytes.try_into().map_err(|_| KeyError::WrongLength {
            what: WHAT,
            expected: "32 bytes",
            found: bytes.len(),
        })?;
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|e| invalid_key(WHAT, e))?;
        PublicKey::from_ed25519(key)
    }

    /// An RSA public key from its modulus and public exponent, big-endian
    /// unsigned integers (what a PKCS#11 token reports as `CKA_MODULUS` and
    /// `CKA_PUBLIC_EXPONENT`). Only 2048-, 3072- and 4096-bit moduli.
    pub fn from_rsa_components(modulus: &[u8], exponent: &[u8]) -> Result<PublicKey, KeyError> {
        const WHAT: &str = "the RSA public key";
        check_rsa_bits(be_bit_len(modulus))?;
        let parts = rsa::pkcs1::RsaPublicKey {
            modulus: rsa::pkcs1::UintRef::new(modulus).map_err(|e| invalid_key(WHAT, e))?,
            public_exponent: rsa::pkcs1::UintRef::new(exponent)
                .map_err(|e| invalid_key(WHAT, e))?,
        };
        let key = rsa::PublicKey::try_from(parts).map_err(|e| invalid_key(WHAT, e))?;
        PublicKey::from_rsa(key)
    }

    /// The key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`), 64-character lines
    /// and a trailing newline; [`PublicKey::from_pem`] reads it back.
    pub fn to_spki_pem(&self) -> String {
        pem_encode("PUBLIC KEY", &self.spki_der)
    }

    /// Checks a signature exactly as this tool makes them: Ed25519 (strict),
    /// RSASSA-PSS-SHA256 with MGF1-SHA256 and salt length 32, or DER ECDSA
    /// P-256 over SHA-256. Used to check what a signer outside this process
    /// (a hardware token) returns before it is used.
    pub fn verify_as_made(&self, message: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        self.verify_raw(message, signature, Some(PSS_SALT_LEN))
    }

    fn from_spki_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        const WHAT: &str = "the public key";
        let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| invalid_key(WHAT, e))?;
        let oid = spki.algorithm.oid;
        if oid == OID_RSA_ENCRYPTION || oid == OID_RSASSA_PSS {
            // Check the size before the rsa crate sees it, so a small key gets
            // the size error rather than a decoding error.
            let raw = spki
                .subject_public_key
                .as_bytes()
                .ok_or_else(|| invalid_key_msg(WHAT, "the key bit string is not whole bytes"))?;
            let pkcs1 = RsaPublicKeyRef::from_der(raw).map_err(|e| invalid_key(WHAT, e))?;
            check_rsa_bits(be_bit_len(pkcs1.modulus.as_bytes()))?;
            let key = rsa::PublicKey::try_from(spki).map_err(|e| invalid_key(WHAT, e))?;
            PublicKey::from_rsa(key)
        } else if oid == OID_ED25519 {
            let key =
                ed25519_dalek::VerifyingKey::try_from(spki).map_err(|e| invalid_key(WHAT, e))?;
            PublicKey::from_ed25519(key)
        } else if oid == OID_EC_PUBLIC_KEY {
            check_curve(&spki.algorithm)?;
            let key =
                p256::ecdsa::VerifyingKey::try_from(spki).map_err(|e| invalid_key(WHAT, e))?;
            PublicKey::from_p256(key)
        } else {
            Err(KeyError::UnsupportedAlgorithm {
                what: format!("algorithm OID {oid}"),
            })
        }
    }

    fn from_ed25519(key: ed25519_dalek::VerifyingKey) -> Result<PublicKey, KeyError> {
        // A small-order key can "sign" many messages at once; no honest key
        // generator produces one, so refuse it outright.
        if key.is_weak() {
            return Err(invalid_key_msg(
                "the ed25519 public key",
                "it is a weak (small-order) point, for which signatures can be forged",
            ));
        }
        let spki_der = encode_spki(&key)?;
        Ok(PublicKey {
            inner: PublicInner::Ed25519(key),
            spki_der,
            bits: 256,
            public_text: None,
            tuf_names: None,
        })
    }

    fn from_rsa(key: rsa::PublicKey) -> Result<PublicKey, KeyError> {
        let bits = be_bit_len(&key.n_bytes());
        check_rsa_bits(bits)?;
        let spki_der = encode_spki(&key)?;
        Ok(PublicKey {
            inner: PublicInner::Rsa(Box::new(key)),
            spki_der,
            bits,
            public_text: None,
            tuf_names: None,
        })
    }

    fn from_p256(key: p256::ecdsa::VerifyingKey) -> Result<PublicKey, KeyError> {
        let spki_der = encode_spki(&key)?;
        Ok(PublicKey {
            inner: PublicInner::EcdsaP256(key),
            spki_der,
            bits: 256,
            public_text: None,
            tuf_names: None,
        })
    }

    fn ota_keytype(&self) -> &'static str {
        match self.key_type() {
            KeyType::Ed25519 => "ED25519",
            KeyType::Rsa => "RSA",
            KeyType::EcdsaP256 => "ECPRIME256V1",
        }
    }

    fn tuf_names(&self) -> (String, String) {
        if let Some(names) = &self.tuf_names {
            return names.clone();
        }
        let (keytype, scheme) = match self.key_type() {
            KeyType::Ed25519 => ("ed25519", "ed25519"),
            KeyType::Rsa => ("rsa", "rsassa-pss-sha256"),
            KeyType::EcdsaP256 => ("ecdsa", "ecdsa-sha2-nistp256"),
        };
        (keytype.to_owned(), scheme.to_owned())
    }

    fn canonical_public_text(&self) -> String {
        match &self.inner {
            PublicInner::Ed25519(k) => hex::encode(k.as_bytes()),
            PublicInner::Rsa(_) | PublicInner::EcdsaP256(_) => {
                pem_encode("PUBLIC KEY", &self.spki_der)
            }
        }
    }

    /// Verifies without any method check. `rsa_salt`: `Some(n)` requires salt
    /// length `n`; `None` recovers it from the signature.
    fn verify_raw(
        &self,
        message: &[u8],
        signature: &[u8],
        rsa_salt: Option<usize>,
    ) -> Result<(), KeyError> {
        let key_type = self.key_type();
        let bad = || KeyError::BadSignature { key_type };
        match &self.inner {
            PublicInner::Ed25519(key) => {
                let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|_| {
                    KeyError::MalformedSignature {
                        key_type,
                        reason: format!(
                            "an ed25519 signature is 64 bytes, this one is {}",
                            signature.len()
                        ),
                    }
                })?;
                // verify_strict also rejects non-canonical and small-order R
                // values and weak keys. Honest signers (fioctl, ota-tuf,
                // python's cryptography) never produce those, so no valid
                // signature is lost, while it stops a crafted signature from
                // verifying under several keys or for several messages, which
                // could inflate a threshold.
                key.verify_strict(message, &sig).map_err(|_| bad())
            }
            PublicInner::Rsa(key) => {
                if signature.len() != key.size() {
                    return Err(KeyError::MalformedSignature {
                        key_type,
                        reason: format!(
                            "a signature by a {}-bit RSA key is {} bytes, this one is {}",
                            self.bits,
                            key.size(),
                            signature.len()
                        ),
                    });
                }
                let scheme = rsa::Pss::<Sha256> {
                    blinded: false,
                    digest: Sha256::new(),
                    salt_len: rsa_salt,
                };
                key.verify(scheme, &Sha256::digest(message), signature)
                    .map_err(|_| bad())
            }
            PublicInner::EcdsaP256(key) => {
                let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| {
                    KeyError::MalformedSignature {
                        key_type,
                        reason: "not a DER-encoded ECDSA signature (SEQUENCE of two INTEGERs)"
                            .into(),
                    }
                })?;
                // p256 does not require low-S (NORMALIZE_S is false), so the
                // random-S signatures python's cryptography makes verify as
                // they are; both S and n-S are accepted.
                p256::ecdsa::signature::Verifier::verify(key, message, &sig).map_err(|_| bad())
            }
        }
    }
}

#[derive(Clone, Copy)]
enum SecretRef<'a> {
    Ed25519(&'a ed25519_dalek::SigningKey),
    Rsa(&'a rsa::PrivateKey),
    EcdsaP256(&'a p256::ecdsa::SigningKey),
}

enum SecretInner {
    Ed25519(ed25519_dalek::SigningKey),
    Rsa(Box<rsa::PrivateKey>),
    EcdsaP256(p256::ecdsa::SigningKey),
}

impl SecretInner {
    fn as_ref(&self) -> SecretRef<'_> {
        match self {
            SecretInner::Ed25519(k) => SecretRef::Ed25519(k),
            SecretInner::Rsa(k) => SecretRef::Rsa(k),
            SecretInner::EcdsaP256(k) => SecretRef::EcdsaP256(k),
        }
    }
}

/// A private key that can sign root metadata.
///
/// The key material is wiped from memory when the value is dropped (each
/// underlying key type zeroizes itself on drop), and `Debug` shows only the
/// key type and public fingerprint.
pub struct PrivateKey {
    secret: SecretInner,
    public: PublicKey,
}

// Every field that holds secret material zeroizes itself on drop.
impl ZeroizeOnDrop for PrivateKey {}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("key_type", &self.key_type())
            .field("bits", &self.public.bits())
            .field("fingerprint", &self.public.fingerprint())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Generates a new key from the operating system's random number
    /// generator. RSA keys use exponent 65537.
    pub fn generate(kind: NewKeyType) -> Result<PrivateKey, KeyError> {
        match kind {
            NewKeyType::Ed25519 => {
                let mut seed = Zeroizing::new([0u8; 32]);
                getrandom::fill(seed.as_mut_slice()).map_err(|e| KeyError::Random {
                    reason: e.to_string(),
                })?;
                PrivateKey::from_ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
            }
            NewKeyType::Rsa4096 => PrivateKey::generate_rsa(4096),
        }
    }

    /// Generates an RSA key of `bits` (2048, 3072 or 4096) so tests elsewhere
    /// need not wait for a 4096-bit key. Not for production use: new keys are
    /// made with [`PrivateKey::generate`].
    #[doc(hidden)]
    pub fn generate_rsa_for_tests(bits: usize) -> Result<PrivateKey, KeyError> {
        PrivateKey::generate_rsa(bits)
    }

    fn generate_rsa(bits: usize) -> Result<PrivateKey, KeyError> {
        check_rsa_bits(bits)?;
        let key = rsa::PrivateKey::new(&mut SysRng, bits).map_err(|e| match e {
            rsa::Error::Rng => KeyError::Random {
                reason: "the RNG reported an error".into(),
            },
            other => KeyError::Signing {
                reason: format!("RSA key generation failed: {other}"),
            },
        })?;
        PrivateKey::from_rsa(key)
    }

    /// Reads a fioctl / ota-tuf / garage-sign `.sec` file (an "AtsKey"):
    /// `{"keytype":"RSA","keyval":{"private":"<PEM>"}}` with PKCS#1 or PKCS#8
    /// PEM, or `{"keytype":"ED25519","keyval":{"private":"<hex>"}}` with the
    /// 32-byte seed or 64 bytes of seed and public key (which must match).
    /// If the file also carries `keyval.public`, it must be this key's.
    pub fn from_ats_json(bytes: &[u8]) -> Result<PrivateKey, KeyError> {
        let mut doc: Value = serde_json::from_slice(bytes).map_err(|e| KeyError::InvalidJson {
            line: e.line(),
            column: e.column(),
        })?;
        let keytype = doc
            .get("keytype")
            .ok_or_else(|| malformed("the key file has no \"keytype\""))?
            .as_str()
            .ok_or_else(|| malformed("the key file's \"keytype\" is not a string"))?
            .to_owned();
        let keyval = doc
            .get_mut("keyval")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| malformed("the key file has no \"keyval\" object"))?;
        // Move the secret string out of the JSON tree so that it is wiped
        // when we are done with it.
        let has_public = keyval.contains_key("public");
        let private = match keyval.get_mut("private") {
            Some(Value::String(s)) => Zeroizing::new(std::mem::take(s)),
            Some(_) => {
                return Err(malformed(
                    "the key file's \"keyval.private\" is not a string",
                ))
            }
            None if has_public => return Err(malformed(
                "the key file holds only a public key (a .pub file); give the matching .sec file",
            )),
            None => return Err(malformed("the key file has no \"keyval.private\"")),
        };
        let stored_public = keyval.get("public").cloned();

        let key = match keytype.to_ascii_lowercase().as_str() {
            "ed25519" => PrivateKey::from_ed25519_hex(&private)?,
            "rsa" => {
                let key = PrivateKey::from_private_pem(&private)?;
                expect_type(&key, KeyType::Rsa, &keytype)?;
                key
            }
            "ecprime256v1" => {
                let key = PrivateKey::from_private_pem(&private)?;
                expect_type(&key, KeyType::EcdsaP256, &keytype)?;
                key
            }
            _ => {
                return Err(KeyError::Unsupported {
                    keytype,
                    scheme: None,
                    dialect: Dialect::OtaTuf,
                })
            }
        };
        if let Some(public) = stored_public {
            let obj = json!({"keytype": keytype, "keyval": {"public": public}});
            let stored = PublicKey::from_key_object(&obj, Dialect::OtaTuf)?;
            if stored != key.public {
                return Err(KeyError::KeypairMismatch);
            }
        }
        Ok(key)
    }

    /// Reads a PEM private key: PKCS#8 (`PRIVATE KEY`) holding Ed25519, RSA
    /// or ECDSA P-256, PKCS#1 (`RSA PRIVATE KEY`), or SEC1 (`EC PRIVATE KEY`,
    /// P-256). Encrypted keys are refused with a message saying so.
    pub fn from_pkcs8_pem(pem: &str) -> Result<PrivateKey, KeyError> {
        PrivateKey::from_private_pem(pem)
    }

    /// The public half, for key objects, key ids and verification.
    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    /// Which kind of key this is.
    pub fn key_type(&self) -> KeyType {
        self.public.key_type()
    }

    /// Signs `message` (the canonical bytes of `signed`) and returns the raw
    /// signature: 64 bytes for Ed25519, modulus-sized RSASSA-PSS-SHA256 with
    /// salt 32 for RSA, DER (low-S) for ECDSA P-256. The caller encodes it
    /// (base64 for ota-tuf, hex for TUF).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match self.secret.as_ref() {
            SecretRef::Ed25519(key) => Ok(key.sign(message).to_bytes().to_vec()),
            SecretRef::Rsa(key) => key
                .sign_with_rng(
                    &mut SysRng,
                    rsa::Pss::<Sha256>::new_with_salt(PSS_SALT_LEN),
                    &Sha256::digest(message),
                )
                .map_err(|e| match e {
                    rsa::Error::Rng => KeyError::Random {
                        reason: "the RNG reported an error".into(),
                    },
                    other => KeyError::Signing {
                        reason: other.to_string(),
                    },
                }),
            SecretRef::EcdsaP256(key) => {
                let sig: p256::ecdsa::Signature =
                    p256::ecdsa::signature::Signer::try_sign(key, message).map_err(|e| {
                        KeyError::Signing {
                            reason: e.to_string(),
                        }
                    })?;
                // Low-S is valid everywhere and required by some verifiers.
                Ok(sig.normalize_s().to_der().as_bytes().to_vec())
            }
        }
    }

    /// The signature `method` (ota-tuf) or scheme (TUF) of this key's
    /// signatures: `ed25519`, `rsassa-pss-sha256`, or `ecdsa-sha2-nistp256`.
    /// ota-tuf has no method for ECDSA that devices accept; the TUF name is
    /// returned and [`PublicKey::verify`] refuses it in that dialect.
    pub fn method(&self, dialect: Dialect) -> &'static str {
        // Both dialects use the same names for the key types they share.
        let _ = dialect;
        method_of(self.key_type())
    }

    /// The key as a fioctl `.sec` file, compact JSON as fioctl writes it:
    /// RSA as PKCS#1 PEM, Ed25519 as 64 hex characters of the 32-byte seed.
    /// ECDSA keys have no such form and give an error.
    pub fn to_ats_private_json(&self) -> Result<Zeroizing<String>, KeyError> {
        let (keytype, private): (&str, Zeroizing<String>) = match self.secret.as_ref() {
            SecretRef::Ed25519(key) => {
                let mut buf = Zeroizing::new([0u8; 64]);
                hex::encode_to_slice(key.as_bytes(), buf.as_mut_slice()).map_err(|e| {
                    KeyError::Encoding {
                        reason: e.to_string(),
                    }
                })?;
                let text = std::str::from_utf8(buf.as_slice()).map_err(|e| KeyError::Encoding {
                    reason: e.to_string(),
                })?;
                ("ED25519", Zeroizing::new(text.to_owned()))
            }
            SecretRef::Rsa(key) => {
                let der = key.to_pkcs1_der().map_err(|e| KeyError::Encoding {
                    reason: e.to_string(),
                })?;
                ("RSA", pem_encode_secret("RSA PRIVATE KEY", der.as_bytes()))
            }
            SecretRef::EcdsaP256(_) => {
                return Err(KeyError::NotAtsRepresentable {
                    key_type: KeyType::EcdsaP256,
                })
            }
        };
        let mut out = Zeroizing::new(String::with_capacity(2 * private.len() + 64));
        out.push_str("{\"keytype\":\"");
        out.push_str(keytype);
        out.push_str("\",\"keyval\":{\"private\":");
        push_json_string(&mut out, &private);
        out.push_str("}}");
        Ok(out)
    }

    /// The public half as a fioctl `.pub` file:
    /// `{"keytype":"ED25519","keyval":{"public":"<hex>"}}` (or `RSA` with SPKI
    /// PEM), compact JSON.
    pub fn to_ats_public_json(&self) -> String {
        self.public.to_key_object(Dialect::OtaTuf).to_string()
    }

    /// The key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), which python's
    /// cryptography, openssl and most tools read. Ed25519 keys are written as
    /// PKCS#8 v1 (seed only), the most widely read form.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        let der: Zeroizing<Vec<u8>> = match self.secret.as_ref() {
            SecretRef::Ed25519(key) => {
                let mut der = Zeroizing::new(Vec::with_capacity(48));
                der.extend_from_slice(&ED25519_PKCS8_PREFIX);
                der.extend_from_slice(key.as_bytes());
                der
            }
            SecretRef::Rsa(key) => {
                let doc = key.to_pkcs8_der().map_err(|e| KeyError::Encoding {
                    reason: e.to_string(),
                })?;
                Zeroizing::new(doc.as_bytes().to_vec())
            }
            SecretRef::EcdsaP256(key) => {
                let doc = key.to_pkcs8_der().map_err(|e| KeyError::Encoding {
                    reason: e.to_string(),
                })?;
                Zeroizing::new(doc.as_bytes().to_vec())
            }
        };
        Ok(pem_encode_secret("PRIVATE KEY", &der))
    }

    fn from_ed25519(key: ed25519_dalek::SigningKey) -> Result<PrivateKey, KeyError> {
        let public = PublicKey::from_ed25519(key.verifying_key())?;
        Ok(PrivateKey {
            secret: SecretInner::Ed25519(key),
            public,
        })
    }

    fn from_rsa(key: rsa::PrivateKey) -> Result<PrivateKey, KeyError> {
        // The size check is in `PublicKey::from_rsa`; on error the key is
        // dropped here, which wipes it.
        let key = Box::new(key);
        let public = PublicKey::from_rsa(key.to_public_key())?;
        Ok(PrivateKey {
            secret: SecretInner::Rsa(key),
            public,
        })
    }

    fn from_p256(key: p256::ecdsa::SigningKey) -> Result<PrivateKey, KeyError> {
        let public = PublicKey::from_p256(*key.verifying_key())?;
        Ok(PrivateKey {
            secret: SecretInner::EcdsaP256(key),
            public,
        })
    }

    /// Ed25519 private key as fioctl's hex: 32-byte seed, or seed‖public.
    fn from_ed25519_hex(text: &str) -> Result<PrivateKey, KeyError> {
        const WHAT: &str = "the ed25519 private key";
        let text = text.trim();
        let mut buf = Zeroizing::new([0u8; 64]);
        let n = match text.len() {
            64 => 32,
            128 => 64,
            found => {
                return Err(KeyError::WrongLength {
                    what: WHAT,
                    expected: "64 hex characters (32-byte seed) or 128 (seed and public key)",
                    found,
                })
            }
        };
        hex::decode_to_slice(text, &mut buf[..n]).map_err(|_| KeyError::InvalidHex {
            what: WHAT,
            detail: "it contains a character that is not a hexadecimal digit".into(),
        })?;
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&buf[..32]);
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        if n == 64 && key.verifying_key().as_bytes()[..] != buf[32..64] {
            return Err(KeyError::KeypairMismatch);
        }
        PrivateKey::from_ed25519(key)
    }

    fn from_private_pem(pem: &str) -> Result<PrivateKey, KeyError> {
        const WHAT: &str = "the private key";
        const EXPECTED: &str =
            "expected \"PRIVATE KEY\" (PKCS#8), \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\"";
        let blocks = pem_blocks(pem, WHAT)?;
        let mut blocks = blocks.into_iter().filter(|b| b.label != "EC PARAMETERS");
        let block = blocks.next().ok_or_else(|| KeyError::InvalidPem {
            what: WHAT,
            reason: "it has no private key block".into(),
        })?;
        if blocks.next().is_some() {
            return Err(KeyError::InvalidPem {
                what: WHAT,
                reason: "it holds more than one key; give one key per file".into(),
            });
        }
        if block.encrypted {
            return Err(KeyError::EncryptedPrivateKey);
        }
        match block.label.as_str() {
            "PRIVATE KEY" => PrivateKey::from_pkcs8_der(&block.der),
            "RSA PRIVATE KEY" => {
                let key = rsa::PrivateKey::from_pkcs1_der(&block.der)
                    .map_err(|e| invalid_key(WHAT, e))?;
                PrivateKey::from_rsa(key)
            }
            "EC PRIVATE KEY" => {
                let secret = p256::SecretKey::from_sec1_der(&block.der).map_err(|e| {
                    invalid_key_msg(WHAT, &format!("{e} (only P-256 EC keys are supported)"))
                })?;
                PrivateKey::from_p256(p256::ecdsa::SigningKey::from(&secret))
            }
            "ENCRYPTED PRIVATE KEY" => Err(KeyError::EncryptedPrivateKey),
            other => Err(KeyError::UnexpectedPemLabel {
                what: WHAT,
                found: other.to_owned(),
                expected: EXPECTED,
            }),
        }
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
        const WHAT: &str = "the PKCS#8 private key";
        let info = PrivateKeyInfoRef::from_der(der).map_err(|e| invalid_key(WHAT, e))?;
        let oid = info.algorithm.oid;
        if oid == OID_RSA_ENCRYPTION || oid == OID_RSASSA_PSS {
            let key = rsa::PrivateKey::try_from(info).map_err(|e| invalid_key(WHAT, e))?;
            PrivateKey::from_rsa(key)
        } else if oid == OID_ED25519 {
            // RFC 8410: the private key is an OCTET STRING inside the OCTET
            // STRING; an optional public key (PKCS#8 v2) must match.
            let seed_bytes = match info.private_key.as_bytes() {
                [0x04, 0x20, rest @ ..] if rest.len() == 32 => rest,
                _ => {
                    return Err(invalid_key_msg(
                        WHAT,
                        "the Ed25519 private key is not a 32-byte seed",
                    ))
                }
            };
            let mut seed = Zeroizing::new([0u8; 32]);
            seed.copy_from_slice(seed_bytes);
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            if let Some(public) = info.public_key {
                if public.as_bytes() != Some(&key.verifying_key().as_bytes()[..]) {
                    return Err(KeyError::KeypairMismatch);
                }
            }
            PrivateKey::from_ed25519(key)
        } else if oid == OID_EC_PUBLIC_KEY {
            check_curve(&info.algorithm)?;
            let key = p256::ecdsa::SigningKey::try_from(info).map_err(|e| invalid_key(WHAT, e))?;
            PrivateKey::from_p256(key)
        } else {
            Err(KeyError::UnsupportedAlgorithm {
                what: format!("algorithm OID {oid}"),
            })
        }
    }
}

/// Something that can sign root metadata and transcript heads: a private
/// key held in memory ([`PrivateKey`]), or a key that never leaves a device
/// (the signer's PKCS#11 token keys).
///
/// Callers that put a signature to use go through [`sign_checked`], which
/// verifies it in software under [`Signer::public_key`] first, so a device
/// that holds another key than the one recorded, or that misbehaves, cannot
/// slip a bad signature into a root.
pub trait Signer {
    /// The public half: what every signature must verify under.
    fn public_key(&self) -> PublicKey;

    /// Signs `message` and returns the raw signature, in the forms
    /// [`PrivateKey::sign`] documents: 64 bytes for Ed25519,
    /// RSASSA-PSS-SHA256 with salt 32 for RSA, DER for ECDSA P-256.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError>;

    /// The signature `method` (ota-tuf) or scheme (TUF) of this key's
    /// signatures; see [`PrivateKey::method`].
    fn method(&self, dialect: Dialect) -> &'static str {
        let _ = dialect;
        method_of(self.public_key().key_type())
    }

    /// Where the key is, for messages: `"a key in memory"`,
    /// `key "root-1" on token "ceremony"`. Never secret.
    fn describe(&self) -> String;
}

fn method_of(key_type: KeyType) -> &'static str {
    match key_type {
        KeyType::Ed25519 => "ed25519",
        KeyType::Rsa => "rsassa-pss-sha256",
        KeyType::EcdsaP256 => "ecdsa-sha2-nistp256",
    }
}

impl Signer for PrivateKey {
    fn public_key(&self) -> PublicKey {
        PrivateKey::public_key(self)
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        PrivateKey::sign(self, message)
    }

    fn method(&self, dialect: Dialect) -> &'static str {
        PrivateKey::method(self, dialect)
    }

    fn describe(&self) -> String {
        format!("a {} key in memory", self.key_type())
    }
}

/// Signs `message` with `signer` and verifies the signature in software
/// ([`PublicKey::verify_as_made`]) before returning it; a signature that
/// does not verify is refused with [`KeyError::SignerMismatch`].
pub fn sign_checked<S: Signer + ?Sized>(signer: &S, message: &[u8]) -> Result<Vec<u8>, KeyError> {
    let sig = signer.sign(message)?;
    let public = signer.public_key();
    public
        .verify_as_made(message, &sig)
        .map_err(|e| KeyError::SignerMismatch {
            signer: signer.describe(),
            fingerprint: public.fingerprint(),
            reason: e.to_string(),
        })?;
    Ok(sig)
}

fn expect_type(key: &PrivateKey, wanted: KeyType, declared: &str) -> Result<(), KeyError> {
    if key.key_type() == wanted {
        Ok(())
    } else {
        Err(KeyError::KeyTypeMismatch {
            declared: declared.to_owned(),
            actual: key.key_type(),
        })
    }
}

fn malformed(reason: &str) -> KeyError {
    KeyError::Malformed {
        reason: reason.to_owned(),
    }
}

fn invalid_key(what: &'static str, err: impl fmt::Display) -> KeyError {
    KeyError::InvalidKey {
        what,
        reason: err.to_string(),
    }
}

fn invalid_key_msg(what: &'static str, reason: &str) -> KeyError {
    KeyError::InvalidKey {
        what,
        reason: reason.to_owned(),
    }
}

fn check_rsa_bits(bits: usize) -> Result<(), KeyError> {
    if RSA_SIZES.contains(&bits) {
        Ok(())
    } else {
        Err(KeyError::UnsupportedRsaSize { bits })
    }
}

/// Refuses EC keys on curves other than P-256, naming the curve.
fn check_curve(algorithm: &rsa::pkcs8::AlgorithmIdentifierRef<'_>) -> Result<(), KeyError> {
    match algorithm.parameters_oid() {
        Ok(curve) if curve == OID_P256 => Ok(()),
        Ok(curve) => Err(KeyError::UnsupportedAlgorithm {
            what: format!("ECDSA on the curve with OID {curve} (only P-256 is supported)"),
        }),
        Err(e) => Err(invalid_key(
            "the EC key",
            format!("its curve is not named: {e}"),
        )),
    }
}

/// Bit length of a big-endian unsigned integer.
fn be_bit_len(bytes: &[u8]) -> usize {
    match bytes.iter().position(|&b| b != 0) {
        Some(i) => (bytes.len() - i - 1) * 8 + (8 - bytes[i].leading_zeros() as usize),
        None => 0,
    }
}

fn encode_spki(key: &impl EncodePublicKey) -> Result<Vec<u8>, KeyError> {
    key.to_public_key_der()
        .map(|doc| doc.as_bytes().to_vec())
        .map_err(|e| KeyError::Encoding {
            reason: e.to_string(),
        })
}

/// Parses `keyval.public` for a key of the `expected` type.
fn parse_public_text(
    public: &str,
    expected: KeyType,
    declared: &str,
) -> Result<PublicKey, KeyError> {
    let key = match expected {
        KeyType::Ed25519 => {
            const WHAT: &str = "the ed25519 public key";
            if public.len() != 64 {
                return Err(KeyError::WrongLength {
                    what: WHAT,
                    expected: "64 hex characters (32 bytes)",
                    found: public.chars().count(),
                });
            }
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(public, &mut bytes).map_err(|e| KeyError::InvalidHex {
                what: WHAT,
                detail: e.to_string(),
            })?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map_err(|_| invalid_key_msg(WHAT, "the 32 bytes are not a point on the curve"))?;
            PublicKey::from_ed25519(key)?
        }
        KeyType::Rsa | KeyType::EcdsaP256 => PublicKey::from_pem(public)?,
    };
    if key.key_type() != expected {
        return Err(KeyError::KeyTypeMismatch {
            declared: declared.to_owned(),
            actual: key.key_type(),
        });
    }
    Ok(key)
}

/// One `-----BEGIN …-----` / `-----END …-----` block.
struct PemBlock {
    label: String,
    /// RFC 1421 headers marking an encrypted (legacy OpenSSL) key.
    encrypted: bool,
    der: Zeroizing<Vec<u8>>,
}

/// Base64 as found in PEM: standard alphabet; padding as written.
const PEM_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Splits PEM text into blocks. Lenient about what people and tools do to
/// PEM (CRLF line ends, other line widths, text around the blocks, a missing
/// final newline); strict about the armour lines and the base64.
fn pem_blocks(text: &str, what: &'static str) -> Result<Vec<PemBlock>, KeyError> {
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
fn public_pem_der(text: &str, what: &'static str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
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
fn pem_encode(label: &str, der: &[u8]) -> String {
    let mut out = String::new();
    write_pem(&mut out, label, der);
    out
}

/// [`pem_encode`] for secret DER: every buffer is wiped and none reallocated.
fn pem_encode_secret(label: &str, der: &[u8]) -> Zeroizing<String> {
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

/// Appends `s` as a JSON string literal (what serde_json would write),
/// without the intermediate copies serde_json would make of a secret.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let code = c as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[code >> 4]));
                out.push(char::from(HEX[code & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    //! Besides round trips of our own keys, these tests check against data
    //! made by others: the aktualizr root vectors (ota-tuf server output) and,
    //! in `py`, keys, signatures and TUF key ids made with python's
    //! `cryptography` 48 (random-k ECDSA, including high-S signatures; RSA-PSS
    //! with salt 32 and with the maximum salt), the library python-tuf and
    //! securesystemslib build on. The TUF key ids in `py` were computed with
    //! a hand-written OLPC canonicaliser in python, independent of ours.

    use super::*;
    use base64::engine::general_purpose::STANDARD as B64;
    use p256::elliptic_curve::scalar::IsHigh;
    use std::sync::OnceLock;

    /// The aktualizr vectors. When this file lives in /work/main/shared/src
    /// the path is relative to the crate.
    const VECTORS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/vectors/aktualizr/"
    );

    /// Made by python's `cryptography` 48; see the module comment above.
    mod py {
        pub const MSG: &str = "{\"_type\":\"root\",\"version\":1}";
        pub const ECDSA_PKCS8: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgejJaJZNGiJSU7D/y\n2gNa5+DlF5lVKUyGc928EBe0r5qhRANCAARNvTBNJYLzFU5Ue8Wi/7qT04NZQOL2\nKXJtTbwmZulGEGt9/gLeOzPQkhEnplBjEYObByOS3pU3dQRcAwjHHsSe\n-----END PRIVATE KEY-----\n";
        pub const ECDSA_SEC1: &str = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIHoyWiWTRoiUlOw/8toDWufg5ReZVSlMhnPdvBAXtK+aoAoGCCqGSM49\nAwEHoUQDQgAETb0wTSWC8xVOVHvFov+6k9ODWUDi9ilybU28JmbpRhBrff4C3jsz\n0JIRJ6ZQYxGDmwcjkt6VN3UEXAMIxx7Eng==\n-----END EC PRIVATE KEY-----\n";
        pub const ECDSA_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETb0wTSWC8xVOVHvFov+6k9ODWUDi\n9ilybU28JmbpRhBrff4C3jsz0JIRJ6ZQYxGDmwcjkt6VN3UEXAMIxx7Eng==\n-----END PUBLIC KEY-----\n";
        pub const ECDSA_KEYID: &str =
            "c1ba5acf6cba9142f68745a1c1aafacd2ca5aaa2d63c68df553a7dbe0bd0590a";
        pub const ECDSA_KEYID_OLD_KEYTYPE: &str =
            "7a51845c003c718659317bf60a48cf75ddcce87b496a859cdbffee616a054b89";
        pub const ECDSA_SPKI_SHA256: &str =
            "e9e1c2e93545ee525415b7752aaf60dd542daf2126df48d6245a2df5c39ac2bf";
        pub const RSA_PKCS1: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAqwPaiVHqfmz5JBQHq+lQ4Bkvo8h+KnGz96OSzESZo/4XTQMM\n1EcFkbmu9WeJLMonQVqyJaLHVNnVOGH5ksUcwHX2M2/AfhJb2rqttywF6/VZUipn\nV36On9f1jp/cXhZSYoKXMa3yRh6qiswoRl2XMUH8o7eygk0Ac7q6peONzIuE71mi\nCD0xDpDEifcBbFXld3zsVZx0MlDVpgMz4Uhg41njzzUtldKccmUVYcnH/7tuJBuY\nvVEw4PpoeoldUe0Qrqrdj/67VMAngD4aYB23jktF/rqnU+8WN58wMYUqZHlUZlqC\nRLwnciXlP6O9tuhrOnyz+jvWznihOxUvca+XGwIDAQABAoIBAC+bTwbTKvgu1dxZ\nRxlwRfdci4qIkba3GGZjvsXmgu7IGSxzIOsnKkG68x2VyPYTAIKNAPLBMcRJL7YW\ncCePf8WEERmYjnmKGs/1D87iDnP1RPw+ma4dqQ6OS+l8TxhSFnUd7YEC72LdvpQM\n6VlNTH2F5RKeXK8xSGLvJG5xvlOmPmOebTc6F959dxOHV7xVbq/zhndIGNqIttkr\nVYROsdtsJv/0slxqcoahUonoJ2xvvooACYweGWXiv7R4J/m72W20q1YcFh3DNSiE\n7tfNj1DhkIQ3id5SoGB9DxL8pSfuTC5aSaSXDNy0vBvjhENUvIJABRoIy6vrnP7y\nGQPSoqECgYEA4zCmUuTNucVEaFTlsT8aHx+7hMqPur54RQXsoRzqtD1Km1PEkr+1\nGHzouabcwxPU/m86NX1pxPir4z3kzOIHsSIWEDmEEAVPVJfPP+ZfcFau26z+OdK1\nooqSN7uWu1F79vQbBpL1eSCXAAkCGTYXFJ+2ympTmEgtsXRf4AzpVf0CgYEAwLOT\nXE4olsQWdI2MMBN0Tzg8klRYU7Yq1EoRw8WZBwqOjCvMZdX938Tv6NjN59bAZVrC\nPjP0JC0PvzpmT90C6IkvI7xqcevoOS1UM5i4ZakW7FfMDuclYFMASrAHINLX0FTN\nX/uhgPh16C3v06q7OeGZaXL5gfr+Ml1BoXtmIPcCgYBFWym7bpwbVUyP6TMBzDjG\nPaK6ZDhCkzkWITve53wDMB7hkk4VWq8HXcKSQo1shFZmokAL6lBq0FtxEQkTPwGI\nItbHdzeIyIYyVfHwGP0Tx3K0H3iw4FGQ4GrI1tyqLLMCbfz+IckMhFV0rktUtP2Q\nzz03SARjHc3NObC3LlnhZQKBgBQDEiyl2UU+++4CvSpI+u03M+Mmaz3WT0BYqNuh\n67B1gjRAYCu7O3A/rYKK8WdAQB7GfCGll5ciLt53HCTzGNg5VvHpIUzPaQB3GqV5\nGL1GACFvRLvPeWw1cnRPL45TFyKFjAaJxU31f5krHBrpQiRSr3HqBMtg24Ezehth\nC0wlAoGBAIWIPPm7LFtqHRyDjuLNZJL2IGfKCihPDRCty9T/rqC4FbD71MA704Qk\nn568gErMVj8sXOAHgPqF/uSeXoqv6gUr1LnjUD1xn+Thb5pzcru92Dk07O9An6IR\nZvb6xWy3eL8c8UVvUC4ixk6B0XSs8hggXnmBz8GP0d4DwrBD4nCk\n-----END RSA PRIVATE KEY-----\n";
        pub const RSA_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqwPaiVHqfmz5JBQHq+lQ\n4Bkvo8h+KnGz96OSzESZo/4XTQMM1EcFkbmu9WeJLMonQVqyJaLHVNnVOGH5ksUc\nwHX2M2/AfhJb2rqttywF6/VZUipnV36On9f1jp/cXhZSYoKXMa3yRh6qiswoRl2X\nMUH8o7eygk0Ac7q6peONzIuE71miCD0xDpDEifcBbFXld3zsVZx0MlDVpgMz4Uhg\n41njzzUtldKccmUVYcnH/7tuJBuYvVEw4PpoeoldUe0Qrqrdj/67VMAngD4aYB23\njktF/rqnU+8WN58wMYUqZHlUZlqCRLwnciXlP6O9tuhrOnyz+jvWznihOxUvca+X\nGwIDAQAB\n-----END PUBLIC KEY-----\n";
        pub const RSA_SIG_SALT32: &str = "6b1fe03a0724e89981f6c2fe88bd61e87eb0660ecfcaeb2588f5882f381162580d6038ad8014c73c13574768d368d03f50fc0b0cc56af5291ba880e37cf29fe2b816288f0158113c325b150a84f9642ae7cb5a01df63369f817c91a893b3e08854a0b4bd87d1d0307891cdca3e5bb5facbad6d8ac51db084db11c4a55f60fd7ca2c79d7da4dfac36b189fd4b90d4cea1762ff579208edb3e0531c6cf6036efad8d7d2fd4778782be743ecb646024fc1185d538fe616b0ccd8b7d2ba7ced68fd94f0b77fa1156252b4d2f78315ee47db98c1816fe2732a7d78badbeaf0e09195d0c473162cd90d9d1219de85721186830cc7d2905398bacd54cfac5217e7875bd";
        pub const RSA_SIG_SALTMAX: &str = "7ba3ffc5ffb0e8e23a8ac3c0b7e90714bd1c72183f139cc95027ed4228aa3132b448d94d4cb13f94cd5320fe2cb414c7bb94102cbb24d849519d2e8da243d0c1e53620bd7218313731f38cd335ce21de23f51f0a5ac25dc5f42eee2055b1cd194b42c7a9f04762a1f032c7831e8320a06ae2fc8375963e86d96a10dd860aa8f11c57d50ec0f32f1e332770c499172342ccd556b7f1430f6c3daa117c1405a69915c767bff1a95bbe777bec28a8d7b003f5aa85ce374598063207b62550267095d990e50f5b4f2bb2981b67475210c969689d2656048d2f1ad9e3c8eece2a2f8434cace0eabc3289613eb22e999cf7b24af566f415eb53f87e1ad98d8b6c348c7";
        pub const RSA_KEYID: &str =
            "481d09f13c31f1fb2cc7d70841d23438a74d3efafdeeaddcc0435876df4e15fa";
        pub const RSA_SPKI_SHA256: &str =
            "6f9a6a0c58eeec40f94d01d05a4b3827137660a4077f49f0bff6385db7d7096e";
        pub const ED_PKCS8: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEII1zF/HHRrSespu04dEj2VONeG6U2i+yjCRFUbjt7K6W\n-----END PRIVATE KEY-----\n";
        pub const ED_PUB: &str = "b57b1a451f2254b4d750193453356a7d8d4d1f143c26361071ebd3af7b92dae7";
        pub const ED_SIG: &str = "c57683200d5b6e0a87391eeba919bd5be8102f257776249ed125a2888a4e59fabc4d903fa1a99e059e9cbc5561e026526d6d2b733bbb9b3e5d6b7210a4c25601";
        pub const ED_KEYID: &str =
            "0348a73f38cf07bc4f3576848f0f244182e899e54a843c2c468ccb02150ebf1b";
        pub const ECDSA_SIGS: [&str; 4] = ["3046022100b0e37744f03e16a4c21cd534d0f6908057a59f26cf066e2ad090e034a8f9c7d5022100b7cdda2abfa1612a525ad536dfa7ede82d29f9ba3f6c16916810450b231c36ba", "30440220602c6f828c02a6d8b345c5acc0353c3354b3cfb61ba5da233d0a92d2e934e90a022067953045796642a881369e7ac2655acbcb531a3d7cc2d26678e1fa51c40ba04c", "3046022100c9781ca4238eb37985bd5b252c2f42541d488400a7348b401bdb3c368901f8950221008973f042a4b44f0a31594ab901ae2fe2f23b0487a27c503120ab8534d54e6468", "3045022100de64721aa2bb3c43ae922d602a0e3ceed79841c0f013c0fa910d061ca717172b02205b1121b906c1a3d4ad3047e0c813f5c6a90cfe4f5e5d7fb3b2cf5e37bcb8fd1f"];
    }

    /// One RSA-2048 key shared by the tests that need "some RSA key":
    /// generating one takes a noticeable fraction of a second.
    fn rsa2048() -> &'static PrivateKey {
        static KEY: OnceLock<PrivateKey> = OnceLock::new();
        KEY.get_or_init(|| PrivateKey::generate_rsa_for_tests(2048).expect("generate RSA-2048"))
    }

    /// Recognises the error a bad input should give.
    type Check = fn(&KeyError) -> bool;

    fn ed() -> PrivateKey {
        PrivateKey::generate(NewKeyType::Ed25519).expect("generate ed25519")
    }

    fn ecdsa() -> PrivateKey {
        PrivateKey::from_pkcs8_pem(py::ECDSA_PKCS8).expect("python's ECDSA key")
    }

    fn flipped(message: &[u8]) -> Vec<u8> {
        let mut m = message.to_vec();
        m[0] ^= 1;
        m
    }

    fn read_vector(name: &str) -> Value {
        let path = format!("{VECTORS}{name}");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        serde_json::from_slice(&bytes).expect("vector is JSON")
    }

    /// aktualizr's own legacy key id: sha256 of the public string, trailing
    /// newlines removed, as a JSON string literal (`"…"`). Some vectors were
    /// made by aktualizr's test generator with it.
    fn aktualizr_legacy_id(public: &str) -> String {
        let quoted = serde_json::to_string(public.trim_end_matches('\n')).expect("string");
        hex::encode(Sha256::digest(quoted.as_bytes()))
    }

    // ----- round trips -------------------------------------------------------

    #[test]
    fn ed25519_sign_verify_both_dialects() {
        let key = ed();
        let public = key.public_key();
        assert_eq!(key.key_type(), KeyType::Ed25519);
        assert_eq!(public.bits(), 256);
        let msg = b"canonical bytes of signed";
        let sig = key.sign(msg).unwrap();
        assert_eq!(sig.len(), 64);
        assert_eq!(key.method(Dialect::OtaTuf), "ed25519");
        assert_eq!(key.method(Dialect::Tuf), "ed25519");
        for method in ["ed25519", "ED25519", "Ed25519"] {
            public
                .verify(Dialect::OtaTuf, msg, &sig, Some(method))
                .unwrap();
        }
        public.verify(Dialect::Tuf, msg, &sig, None).unwrap();
        public
            .verify(Dialect::Tuf, msg, &sig, Some("anything: ignored in tuf"))
            .unwrap();
        for d in [Dialect::OtaTuf, Dialect::Tuf] {
            assert_eq!(
                public.verify(d, &flipped(msg), &sig, Some("ed25519")),
                Err(KeyError::BadSignature {
                    key_type: KeyType::Ed25519
                })
            );
        }
        let mut bad_sig = sig.clone();
        bad_sig[10] ^= 0x80;
        assert!(public.verify(Dialect::Tuf, msg, &bad_sig, None).is_err());
        // Another key's signature does not verify.
        let other = ed().sign(msg).unwrap();
        assert!(public.verify(Dialect::Tuf, msg, &other, None).is_err());
    }

    #[test]
    fn rsa_sign_verify_both_dialects() {
        let key = rsa2048();
        let public = key.public_key();
        assert_eq!(key.key_type(), KeyType::Rsa);
        assert_eq!(public.bits(), 2048);
        assert_eq!(key.method(Dialect::OtaTuf), "rsassa-pss-sha256");
        assert_eq!(key.method(Dialect::Tuf), "rsassa-pss-sha256");
        let msg = b"canonical bytes of signed";
        let sig = key.sign(msg).unwrap();
        assert_eq!(sig.len(), 256);
        for method in [
            "rsassa-pss-sha256",
            "RSASSA-PSS-SHA256",
            "rsassa-pss",
            "RSASSA-PSS",
        ] {
            public
                .verify(Dialect::OtaTuf, msg, &sig, Some(method))
                .unwrap();
        }
        public.verify(Dialect::Tuf, msg, &sig, None).unwrap();
        for d in [Dialect::OtaTuf, Dialect::Tuf] {
            assert_eq!(
                public.verify(d, &flipped(msg), &sig, Some("rsassa-pss-sha256")),
                Err(KeyError::BadSignature {
                    key_type: KeyType::Rsa
                })
            );
        }
        // PSS is randomised: two signatures differ, both verify.
        let sig2 = key.sign(msg).unwrap();
        assert_ne!(sig, sig2);
        public
            .verify(Dialect::OtaTuf, msg, &sig2, Some("rsassa-pss-sha256"))
            .unwrap();
    }

    #[test]
    fn rsa_salt_length_rules() {
        // Our signatures use salt 32: check by verifying with the crate's
        // fixed salt-32 verifier directly.
        let key = rsa2048();
        let msg = b"salt check";
        let sig = key.sign(msg).unwrap();
        let SecretInner::Rsa(inner) = &key.secret else {
            panic!("rsa")
        };
        let verifier =
            rsa::pss::VerifyingKey::<Sha256>::new_with_salt_len(inner.to_public_key(), 32);
        let parsed = rsa::pss::Signature::try_from(sig.as_slice()).unwrap();
        rsa::signature::Verifier::verify(&verifier, msg, &parsed).unwrap();

        // A salt-20 signature: refused by ota-tuf (its server requires 32),
        // accepted by TUF (salt recovered, as python-tuf does).
        let hashed = Sha256::digest(msg);
        let sig20 = inner
            .sign_with_rng(&mut SysRng, rsa::Pss::<Sha256>::new_with_salt(20), &hashed)
            .unwrap();
        let public = key.public_key();
        assert_eq!(
            public.verify(Dialect::OtaTuf, msg, &sig20, Some("rsassa-pss-sha256")),
            Err(KeyError::BadSignature {
                key_type: KeyType::Rsa
            })
        );
        public.verify(Dialect::Tuf, msg, &sig20, None).unwrap();

        // The same with python's signatures: salt 32 verifies in both,
        // maximum salt only in TUF.
        let public = PublicKey::from_pem(py::RSA_PUB).unwrap();
        let msg = py::MSG.as_bytes();
        let sig32 = hex::decode(py::RSA_SIG_SALT32).unwrap();
        let sigmax = hex::decode(py::RSA_SIG_SALTMAX).unwrap();
        public
            .verify(Dialect::OtaTuf, msg, &sig32, Some("rsassa-pss-sha256"))
            .unwrap();
        public.verify(Dialect::Tuf, msg, &sig32, None).unwrap();
        public.verify(Dialect::Tuf, msg, &sigmax, None).unwrap();
        assert!(public
            .verify(Dialect::OtaTuf, msg, &sigmax, Some("rsassa-pss"))
            .is_err());
        assert!(public
            .verify(Dialect::Tuf, &flipped(msg), &sigmax, None)
            .is_err());
    }

    #[test]
    fn rsa_4096_generation() {
        let key = PrivateKey::generate(NewKeyType::Rsa4096).unwrap();
        assert_eq!(key.key_type(), KeyType::Rsa);
        assert_eq!(key.public_key().bits(), 4096);
        let SecretInner::Rsa(inner) = &key.secret else {
            panic!("rsa")
        };
        let e: Vec<u8> = inner
            .e_bytes()
            .iter()
            .copied()
            .skip_while(|&b| b == 0)
            .collect();
        assert_eq!(e, [1, 0, 1], "exponent 65537");
        let sig = key.sign(b"m").unwrap();
        assert_eq!(sig.len(), 512);
        key.public_key()
            .verify(Dialect::OtaTuf, b"m", &sig, Some("rsassa-pss-sha256"))
            .unwrap();
        let pem = key.public_key().to_key_object(Dialect::OtaTuf)["keyval"]["public"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(PublicKey::from_pem(&pem).unwrap(), key.public_key());
    }

    #[test]
    fn ecdsa_sign_verify_tuf_only() {
        let key = ecdsa();
        let public = key.public_key();
        assert_eq!(key.key_type(), KeyType::EcdsaP256);
        assert_eq!(public.bits(), 256);
        assert_eq!(key.method(Dialect::Tuf), "ecdsa-sha2-nistp256");
        let msg = b"tuf root";
        let sig = key.sign(msg).unwrap();
        assert_eq!(sig[0], 0x30, "DER SEQUENCE");
        public.verify(Dialect::Tuf, msg, &sig, None).unwrap();
        assert_eq!(
            public.verify(Dialect::Tuf, &flipped(msg), &sig, None),
            Err(KeyError::BadSignature {
                key_type: KeyType::EcdsaP256
            })
        );
        // We sign low-S; the high-S twin (r, n - s) is valid too and accepted.
        let parsed = p256::ecdsa::Signature::from_der(&sig).unwrap();
        assert!(!bool::from(parsed.s().is_high()));
        let high =
            p256::ecdsa::Signature::from_scalars(parsed.r().to_bytes(), (-*parsed.s()).to_bytes())
                .unwrap();
        assert!(bool::from(high.s().is_high()));
        public
            .verify(Dialect::Tuf, msg, high.to_der().as_bytes(), None)
            .unwrap();
        // ota-tuf has no ECDSA.
        assert_eq!(
            public.verify(Dialect::OtaTuf, msg, &sig, Some("ed25519")),
            Err(KeyError::NotInDialect {
                key_type: KeyType::EcdsaP256,
                dialect: Dialect::OtaTuf
            })
        );
        // Not DER.
        assert!(matches!(
            public.verify(Dialect::Tuf, msg, &[0u8; 64], None),
            Err(KeyError::MalformedSignature { .. })
        ));
    }

    #[test]
    fn python_signatures_and_keys_verify() {
        let msg = py::MSG.as_bytes();
        // ECDSA: python's random-k signatures, high and low S.
        let public = PublicKey::from_pem(py::ECDSA_PUB).unwrap();
        assert_eq!(public, ecdsa().public_key());
        assert_eq!(public.fingerprint(), py::ECDSA_SPKI_SHA256);
        let mut highs = 0;
        for sig in py::ECDSA_SIGS {
            let sig = hex::decode(sig).unwrap();
            let s = p256::ecdsa::Signature::from_der(&sig).unwrap();
            highs += usize::from(bool::from(s.s().is_high()));
            public.verify(Dialect::Tuf, msg, &sig, None).unwrap();
            assert!(public
                .verify(Dialect::Tuf, &flipped(msg), &sig, None)
                .is_err());
        }
        assert!(highs > 0, "the vectors include a high-S signature");
        // SEC1 "EC PRIVATE KEY" is the same key.
        assert_eq!(
            PrivateKey::from_pkcs8_pem(py::ECDSA_SEC1)
                .unwrap()
                .public_key(),
            public
        );

        // Ed25519 PKCS#8 from python.
        let key = PrivateKey::from_pkcs8_pem(py::ED_PKCS8).unwrap();
        let obj = key.public_key().to_key_object(Dialect::Tuf);
        assert_eq!(obj["keyval"]["public"], py::ED_PUB);
        assert_eq!(key.public_key().key_id(Dialect::Tuf), py::ED_KEYID);
        let sig = hex::decode(py::ED_SIG).unwrap();
        key.public_key()
            .verify(Dialect::Tuf, msg, &sig, None)
            .unwrap();
        // Ed25519 is deterministic: we make python's exact signature.
        assert_eq!(key.sign(msg).unwrap(), sig);

        // RSA PKCS#1 from python.
        let key = PrivateKey::from_pkcs8_pem(py::RSA_PKCS1).unwrap();
        assert_eq!(key.public_key(), PublicKey::from_pem(py::RSA_PUB).unwrap());
        assert_eq!(key.public_key().fingerprint(), py::RSA_SPKI_SHA256);
        // python writes PEM exactly as we do.
        assert_eq!(
            key.public_key().to_key_object(Dialect::Tuf)["keyval"]["public"],
            py::RSA_PUB
        );
    }

    // ----- key objects and key ids ---------------------------------------------

    #[test]
    fn key_objects_round_trip_in_both_dialects() {
        let keys = [
            ed(),
            PrivateKey::from_pkcs8_pem(py::RSA_PKCS1).unwrap(),
            ecdsa(),
        ];
        for key in &keys {
            let public = key.public_key();
            for d in [Dialect::OtaTuf, Dialect::Tuf] {
                let obj = public.to_key_object(d);
                let back = PublicKey::from_key_object(&obj, d).unwrap();
                assert_eq!(back, public);
                assert_eq!(back.key_id(d), public.key_id(d));
                assert_eq!(back.to_key_object(d), obj);
            }
            assert_eq!(public.key_id(Dialect::OtaTuf), public.fingerprint());
            assert_eq!(
                public.fingerprint(),
                hex::encode(Sha256::digest(public.spki_der()))
            );
        }
        let ed_obj = keys[0].public_key().to_key_object(Dialect::OtaTuf);
        let fields: Vec<&String> = ed_obj.as_object().unwrap().keys().collect();
        assert_eq!(fields, ["keytype", "keyval"]);
        assert_eq!(ed_obj["keytype"], "ED25519");
        let hex_pub = ed_obj["keyval"]["public"].as_str().unwrap();
        assert_eq!(hex_pub.len(), 64);
        assert!(hex_pub
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));

        let rsa_obj = keys[1].public_key().to_key_object(Dialect::OtaTuf);
        assert_eq!(rsa_obj["keytype"], "RSA");
        let pem = rsa_obj["keyval"]["public"].as_str().unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));

        let tuf = keys[1].public_key().to_key_object(Dialect::Tuf);
        let fields: Vec<&String> = tuf.as_object().unwrap().keys().collect();
        assert_eq!(fields, ["keytype", "keyval", "scheme"]);
        assert_eq!(tuf["keytype"], "rsa");
        assert_eq!(tuf["scheme"], "rsassa-pss-sha256");
        assert_eq!(
            keys[2].public_key().to_key_object(Dialect::Tuf)["keytype"],
            "ecdsa"
        );
        assert_eq!(
            keys[2].public_key().to_key_object(Dialect::OtaTuf)["keytype"],
            "ECPRIME256V1"
        );
    }

    #[test]
    fn ota_key_objects_are_read_leniently() {
        let key = ed().public_key();
        let lower = key.to_key_object(Dialect::OtaTuf)["keyval"]["public"]
            .as_str()
            .unwrap()
            .to_owned();
        for keytype in ["ED25519", "ed25519", "Ed25519"] {
            for public in [lower.clone(), lower.to_uppercase()] {
                let obj = json!({
                    "keytype": keytype,
                    "keyval": {"public": public},
                    "keyid_hash_algorithms": ["sha256", "sha512"],
                    "scheme": "whatever",
                });
                let k = PublicKey::from_key_object(&obj, Dialect::OtaTuf).unwrap();
                assert_eq!(k, key);
                assert_eq!(k.key_id(Dialect::OtaTuf), key.key_id(Dialect::OtaTuf));
                assert_eq!(k.to_key_object(Dialect::OtaTuf)["keytype"], "ED25519");
            }
        }
        let rsa = PublicKey::from_pem(py::RSA_PUB).unwrap();
        for keytype in ["RSA", "rsa"] {
            let obj = json!({"keytype": keytype, "keyval": {"public": py::RSA_PUB}});
            assert_eq!(
                PublicKey::from_key_object(&obj, Dialect::OtaTuf).unwrap(),
                rsa
            );
        }
        // Other PEM layouts are the same key: CRLF, no final newline, other widths.
        let crlf = py::RSA_PUB.replace('\n', "\r\n");
        let bare = py::RSA_PUB.trim_end().to_owned();
        let body: String = py::RSA_PUB
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let wide = format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----");
        for text in [crlf, bare, wide] {
            assert_eq!(PublicKey::from_pem(&text).unwrap(), rsa);
        }
        let ec = json!({"keytype": "ECPRIME256V1", "keyval": {"public": py::ECDSA_PUB}});
        assert_eq!(
            PublicKey::from_key_object(&ec, Dialect::OtaTuf).unwrap(),
            ecdsa().public_key()
        );
    }

    #[test]
    fn tuf_key_id_by_hand() {
        let public = "aa".repeat(32);
        // Not every 32-byte string is a curve point: aa…aa is one.
        let obj = json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": public}});
        let key = PublicKey::from_key_object(&obj, Dialect::Tuf).unwrap();
        let canonical = format!(
            r#"{{"keytype":"ed25519","keyval":{{"public":"{public}"}},"scheme":"ed25519"}}"#
        );
        let expected = hex::encode(Sha256::digest(canonical.as_bytes()));
        assert_eq!(key.key_id(Dialect::Tuf), expected);
        // The same key made from bytes (no remembered text) has the same id.
        let again =
            PublicKey::from_ed25519(ed25519_dalek::VerifyingKey::from_bytes(&[0xaa; 32]).unwrap())
                .unwrap();
        assert_eq!(again.key_id(Dialect::Tuf), expected);
        // python-computed ids for RSA (PEM with newlines, written raw by OLPC)
        // and ECDSA.
        let rsa = PublicKey::from_pem(py::RSA_PUB).unwrap();
        assert_eq!(rsa.key_id(Dialect::Tuf), py::RSA_KEYID);
        let ec = PublicKey::from_pem(py::ECDSA_PUB).unwrap();
        assert_eq!(ec.key_id(Dialect::Tuf), py::ECDSA_KEYID);
    }

    #[test]
    fn tuf_key_ids_keep_the_names_and_text_found() {
        // Deprecated keytype: same key, different id, and the id survives.
        let obj = json!({"keytype": "ecdsa-sha2-nistp256", "scheme": "ecdsa-sha2-nistp256",
                         "keyval": {"public": py::ECDSA_PUB}});
        let old = PublicKey::from_key_object(&obj, Dialect::Tuf).unwrap();
        assert_eq!(old.key_id(Dialect::Tuf), py::ECDSA_KEYID_OLD_KEYTYPE);
        assert_eq!(old.to_key_object(Dialect::Tuf), obj);
        let new = PublicKey::from_pem(py::ECDSA_PUB).unwrap();
        assert_eq!(old, new, "one key");
        assert_ne!(old.key_id(Dialect::Tuf), new.key_id(Dialect::Tuf));

        // A PEM without its trailing newline keeps that exact text.
        let bare = py::RSA_PUB.trim_end();
        let obj =
            json!({"keytype": "rsa", "scheme": "rsassa-pss-sha256", "keyval": {"public": bare}});
        let key = PublicKey::from_key_object(&obj, Dialect::Tuf).unwrap();
        assert_eq!(key.to_key_object(Dialect::Tuf), obj);
        let bytes = crate::canonical::to_canonical_bytes(&obj, Dialect::Tuf).unwrap();
        assert_eq!(
            key.key_id(Dialect::Tuf),
            hex::encode(Sha256::digest(&bytes))
        );
        assert_ne!(key.key_id(Dialect::Tuf), py::RSA_KEYID);
        assert_eq!(
            key.key_id(Dialect::OtaTuf),
            py::RSA_SPKI_SHA256,
            "DER id ignores the text"
        );
        // Extra fields do not enter the emitted object.
        let mut with_extra = obj.clone();
        with_extra["keyid_hash_algorithms"] = json!(["sha256", "sha512"]);
        let key = PublicKey::from_key_object(&with_extra, Dialect::Tuf).unwrap();
        assert_eq!(key.to_key_object(Dialect::Tuf), obj);
    }

    #[test]
    fn tuf_refuses_other_keytype_scheme_pairs() {
        let ed_pub = ed().public_key().to_key_object(Dialect::OtaTuf)["keyval"]["public"].clone();
        let cases = [
            ("ED25519", "ed25519", ed_pub.clone()),
            ("ed25519", "rsassa-pss-sha256", ed_pub.clone()),
            ("rsa", "rsa-pkcs1v15-sha256", json!(py::RSA_PUB)),
            ("RSA", "rsassa-pss-sha256", json!(py::RSA_PUB)),
            ("ecdsa", "ecdsa-sha2-nistp384", json!(py::ECDSA_PUB)),
            ("sphincs", "sphincs-shake-128s", ed_pub.clone()),
        ];
        for (keytype, scheme, public) in cases {
            let obj = json!({"keytype": keytype, "scheme": scheme, "keyval": {"public": public}});
            let err = PublicKey::from_key_object(&obj, Dialect::Tuf).unwrap_err();
            assert_eq!(
                err,
                KeyError::Unsupported {
                    keytype: keytype.into(),
                    scheme: Some(scheme.into()),
                    dialect: Dialect::Tuf
                }
            );
            let msg = err.to_string();
            assert!(msg.contains(keytype) && msg.contains(scheme), "{msg}");
        }
        let no_scheme = json!({"keytype": "ed25519", "keyval": {"public": ed_pub}});
        assert!(matches!(
            PublicKey::from_key_object(&no_scheme, Dialect::Tuf),
            Err(KeyError::Malformed { .. })
        ));
        let ota_unknown = json!({"keytype": "DSA", "keyval": {"public": "x"}});
        assert!(matches!(
            PublicKey::from_key_object(&ota_unknown, Dialect::OtaTuf),
            Err(KeyError::Unsupported { scheme: None, .. })
        ));
        // Declared type and key material disagree.
        let lie = json!({"keytype": "RSA", "keyval": {"public": py::ECDSA_PUB}});
        assert_eq!(
            PublicKey::from_key_object(&lie, Dialect::OtaTuf),
            Err(KeyError::KeyTypeMismatch {
                declared: "RSA".into(),
                actual: KeyType::EcdsaP256
            })
        );
    }

    #[test]
    fn ota_methods_must_fit_the_key() {
        let ed_key = ed();
        let rsa_key = rsa2048();
        let msg = b"m";
        let ed_sig = ed_key.sign(msg).unwrap();
        let rsa_sig = rsa_key.sign(msg).unwrap();
        let ed_pub = ed_key.public_key();
        let rsa_pub = rsa_key.public_key();
        assert_eq!(
            ed_pub.verify(Dialect::OtaTuf, msg, &ed_sig, None),
            Err(KeyError::MissingMethod)
        );
        assert_eq!(
            ed_pub.verify(Dialect::OtaTuf, msg, &ed_sig, Some("rsassa-pss-sha256")),
            Err(KeyError::MethodMismatch {
                method: "rsassa-pss-sha256".into(),
                key_type: KeyType::Ed25519
            })
        );
        assert_eq!(
            rsa_pub.verify(Dialect::OtaTuf, msg, &rsa_sig, Some("ED25519")),
            Err(KeyError::MethodMismatch {
                method: "ED25519".into(),
                key_type: KeyType::Rsa
            })
        );
        assert_eq!(
            ed_pub.verify(Dialect::OtaTuf, msg, &ed_sig, Some("ecdsa")),
            Err(KeyError::UnknownMethod {
                method: "ecdsa".into()
            })
        );
        // Wrong signature lengths are malformed, not a panic.
        for len in [0, 1, 63, 65, 1000] {
            assert!(matches!(
                ed_pub.verify(Dialect::Tuf, msg, &vec![0u8; len], None),
                Err(KeyError::MalformedSignature { .. })
            ));
            assert!(matches!(
                rsa_pub.verify(Dialect::Tuf, msg, &vec![0u8; len], None),
                Err(KeyError::MalformedSignature { .. })
            ));
        }
        // Right length, garbage content (all 0xff exceeds the modulus).
        assert!(rsa_pub
            .verify(Dialect::Tuf, msg, &[0xff; 256], None)
            .is_err());
        assert!(rsa_pub
            .verify(Dialect::OtaTuf, msg, &[0; 256], Some("rsassa-pss"))
            .is_err());
    }

    // ----- the aktualizr vectors -------------------------------------------------

    /// Key ids in the vectors: which match the DER scheme. Those that do not
    /// use aktualizr's own legacy id (sha256 of the JSON-quoted public
    /// string, see [`aktualizr_legacy_id`]); we check that too, so every id
    /// is accounted for:
    /// - sample1: all four ed25519 ids are legacy, none DER;
    /// - rsassa-pss-sha256: three DER, the lowercase-`rsa` key legacy;
    /// - root-with-extra-keys: all five legacy;
    /// - prov metadata repo root: all four DER.
    #[test]
    fn vector_key_ids() {
        let expect_der = [
            ("tests_tuf_sample1_root.json", 0, 4),
            ("tests_tuf_rsassa-pss-sha256_root.json", 3, 4),
            ("tests_tuf_root-with-extra-keys.json", 0, 5),
            ("tests_test_data_prov_metadata_repo_root.json", 4, 4),
        ];
        for (name, der_count, total) in expect_der {
            let root = read_vector(name);
            let keys = root["signed"]["keys"].as_object().unwrap();
            assert_eq!(keys.len(), total, "{name}");
            let mut der = 0;
            for (id, obj) in keys {
                let key = PublicKey::from_key_object(obj, Dialect::OtaTuf).unwrap();
                assert_eq!(
                    key.bits(),
                    if key.key_type() == KeyType::Rsa {
                        2048
                    } else {
                        256
                    }
                );
                let public = obj["keyval"]["public"].as_str().unwrap();
                if key.key_id(Dialect::OtaTuf) == *id {
                    der += 1;
                } else {
                    assert_eq!(
                        aktualizr_legacy_id(public),
                        *id,
                        "{name}: {id} matches no known scheme"
                    );
                }
            }
            assert_eq!(der, der_count, "{name}: DER key ids");
        }
    }

    #[test]
    fn vector_self_signatures_verify() {
        for name in [
            "tests_tuf_sample1_root.json",
            "tests_tuf_rsassa-pss-sha256_root.json",
            "tests_tuf_root-with-extra-keys.json",
            "tests_test_data_prov_metadata_repo_root.json",
        ] {
            let root = read_vector(name);
            let message =
                crate::canonical::to_canonical_bytes(&root["signed"], Dialect::OtaTuf).unwrap();
            let sigs = root["signatures"].as_array().unwrap();
            assert!(!sigs.is_empty());
            for s in sigs {
                let id = s["keyid"].as_str().unwrap();
                let key = PublicKey::from_key_object(&root["signed"]["keys"][id], Dialect::OtaTuf)
                    .unwrap();
                let sig = B64.decode(s["sig"].as_str().unwrap()).unwrap();
                let method = s["method"].as_str();
                key.verify(Dialect::OtaTuf, &message, &sig, method)
                    .unwrap_or_else(|e| panic!("{name}: {id}: {e}"));
                for i in [0, message.len() / 2, message.len() - 1] {
                    let mut changed = message.clone();
                    changed[i] ^= 0x01;
                    assert!(
                        key.verify(Dialect::OtaTuf, &changed, &sig, method).is_err(),
                        "{name} byte {i}"
                    );
                }
            }
        }
    }

    // ----- fioctl key files and PEM ----------------------------------------------

    #[test]
    fn ats_ed25519_seed_and_keypair_forms() {
        let key = ed();
        let sec = key.to_ats_private_json().unwrap();
        let SecretInner::Ed25519(inner) = &key.secret else {
            panic!("ed25519")
        };
        let seed_hex = hex::encode(inner.as_bytes());
        assert_eq!(
            *sec,
            format!(r#"{{"keytype":"ED25519","keyval":{{"private":"{seed_hex}"}}}}"#)
        );
        let back = PrivateKey::from_ats_json(sec.as_bytes()).unwrap();
        assert_eq!(back.public_key(), key.public_key());

        // 64 bytes seed‖public, as ota-tuf and garage-sign write it, pretty-printed.
        let public_hex = hex::encode(&key.public_key().spki_der()[12..]);
        let pretty = format!(
            "{{\n  \"keytype\" : \"ed25519\",\n  \"keyval\" : {{\n    \"private\" : \"{seed_hex}{public_hex}\"\n  }}\n}}\n"
        );
        assert_eq!(
            PrivateKey::from_ats_json(pretty.as_bytes())
                .unwrap()
                .public_key(),
            key.public_key()
        );
        // …uppercase hex too.
        let upper = format!(
            r#"{{"keytype":"ED25519","keyval":{{"private":"{}"}}}}"#,
            seed_hex.to_uppercase()
        );
        assert_eq!(
            PrivateKey::from_ats_json(upper.as_bytes())
                .unwrap()
                .public_key(),
            key.public_key()
        );

        // Seed and public that do not belong together.
        let other = ed().public_key().to_key_object(Dialect::OtaTuf)["keyval"]["public"]
            .as_str()
            .unwrap()
            .to_owned();
        let mismatched =
            format!(r#"{{"keytype":"ED25519","keyval":{{"private":"{seed_hex}{other}"}}}}"#);
        assert_eq!(
            PrivateKey::from_ats_json(mismatched.as_bytes()).unwrap_err(),
            KeyError::KeypairMismatch
        );
        // A stored public key that is not this key's.
        let wrong_pub = format!(
            r#"{{"keytype":"ED25519","keyval":{{"private":"{seed_hex}","public":"{other}"}}}}"#
        );
        assert_eq!(
            PrivateKey::from_ats_json(wrong_pub.as_bytes()).unwrap_err(),
            KeyError::KeypairMismatch
        );
        let right_pub = format!(
            r#"{{"keytype":"ED25519","keyval":{{"private":"{seed_hex}","public":"{public_hex}"}}}}"#
        );
        assert!(PrivateKey::from_ats_json(right_pub.as_bytes()).is_ok());

        // The .pub file.
        let pub_json = key.to_ats_public_json();
        assert_eq!(
            pub_json,
            format!(r#"{{"keytype":"ED25519","keyval":{{"public":"{public_hex}"}}}}"#)
        );
        let v: Value = serde_json::from_str(&pub_json).unwrap();
        assert_eq!(
            PublicKey::from_key_object(&v, Dialect::OtaTuf).unwrap(),
            key.public_key()
        );
    }

    #[test]
    fn ats_rsa_pkcs1_and_pkcs8() {
        let key = rsa2048();
        let sec = key.to_ats_private_json().unwrap();
        assert!(
            sec.starts_with(
                r#"{"keytype":"RSA","keyval":{"private":"-----BEGIN RSA PRIVATE KEY-----\n"#
            ),
            "{}",
            &sec[..40]
        );
        assert!(sec.ends_with("-----END RSA PRIVATE KEY-----\\n\"}}"));
        // It is the JSON serde_json would write.
        let v: Value = serde_json::from_str(&sec).unwrap();
        assert_eq!(v.to_string(), *sec);
        let back = PrivateKey::from_ats_json(sec.as_bytes()).unwrap();
        assert_eq!(back.public_key(), key.public_key());

        // PKCS#8 inside an AtsKey is accepted too, keytype in any case.
        let pkcs8 = key.to_pkcs8_pem().unwrap();
        let doc = json!({"keytype": "rsa", "keyval": {"private": pkcs8.as_str()}}).to_string();
        assert_eq!(
            PrivateKey::from_ats_json(doc.as_bytes())
                .unwrap()
                .public_key(),
            key.public_key()
        );

        // python's PKCS#1 key inside an AtsKey, with its public half.
        let doc =
            json!({"keytype": "RSA", "keyval": {"private": py::RSA_PKCS1, "public": py::RSA_PUB}})
                .to_string();
        assert_eq!(
            PrivateKey::from_ats_json(doc.as_bytes())
                .unwrap()
                .public_key(),
            PublicKey::from_pem(py::RSA_PUB).unwrap()
        );

        let pub_json: Value = serde_json::from_str(&key.to_ats_public_json()).unwrap();
        assert_eq!(pub_json["keytype"], "RSA");
        assert!(pub_json["keyval"]["public"]
            .as_str()
            .unwrap()
            .ends_with("-----END PUBLIC KEY-----\n"));

        // Declared RSA, holds ed25519 PEM.
        let ed_pem = ed().to_pkcs8_pem().unwrap();
        let doc = json!({"keytype": "RSA", "keyval": {"private": ed_pem.as_str()}}).to_string();
        assert_eq!(
            PrivateKey::from_ats_json(doc.as_bytes()).unwrap_err(),
            KeyError::KeyTypeMismatch {
                declared: "RSA".into(),
                actual: KeyType::Ed25519
            }
        );
    }

    #[test]
    fn ats_refuses_ecdsa_and_bad_files() {
        assert_eq!(
            ecdsa().to_ats_private_json().unwrap_err(),
            KeyError::NotAtsRepresentable {
                key_type: KeyType::EcdsaP256
            }
        );
        let cases: [(&[u8], Check); 8] = [
            (b"not json", |e| matches!(e, KeyError::InvalidJson { .. })),
            (b"{\"keytype\":\"ED25519\"", |e| {
                matches!(e, KeyError::InvalidJson { .. })
            }),
            (b"[]", |e| matches!(e, KeyError::Malformed { .. })),
            (b"{\"keytype\":\"ED25519\"}", |e| {
                matches!(e, KeyError::Malformed { .. })
            }),
            (b"{\"keytype\":\"ED25519\",\"keyval\":\"00\"}", |e| {
                matches!(e, KeyError::Malformed { .. })
            }),
            (
                b"{\"keytype\":\"ED25519\",\"keyval\":{\"private\":7}}",
                |e| matches!(e, KeyError::Malformed { .. }),
            ),
            (
                b"{\"keytype\":\"ED25519\",\"keyval\":{\"public\":\"00\"}}",
                |e| matches!(e, KeyError::Malformed { reason } if reason.contains(".pub")),
            ),
            (
                b"{\"keytype\":\"DSA\",\"keyval\":{\"private\":\"00\"}}",
                |e| matches!(e, KeyError::Unsupported { .. }),
            ),
        ];
        for (bytes, check) in cases {
            let err = PrivateKey::from_ats_json(bytes).unwrap_err();
            assert!(check(&err), "{}: {err:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn pkcs8_round_trips() {
        for key in [
            ed(),
            PrivateKey::from_pkcs8_pem(py::RSA_PKCS1).unwrap(),
            ecdsa(),
        ] {
            let pem = key.to_pkcs8_pem().unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
            assert!(pem.ends_with("-----END PRIVATE KEY-----\n"));
            assert!(pem.lines().all(|l| l.len() <= 64));
            let back = PrivateKey::from_pkcs8_pem(&pem).unwrap();
            assert_eq!(back.public_key(), key.public_key());
            let sig = back.sign(b"x").unwrap();
            key.public_key()
                .verify(Dialect::Tuf, b"x", &sig, None)
                .unwrap();
        }
        // Our Ed25519 PKCS#8 is byte-identical to python's (v1, seed only).
        let key = PrivateKey::from_pkcs8_pem(py::ED_PKCS8).unwrap();
        assert_eq!(*key.to_pkcs8_pem().unwrap(), py::ED_PKCS8);
        // PKCS#8 v2 with the public key is read, and the public key checked.
        let SecretInner::Ed25519(inner) = &key.secret else {
            panic!()
        };
        let v2 = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(inner).unwrap();
        let pem = pem_encode_secret("PRIVATE KEY", v2.as_bytes());
        assert_eq!(
            PrivateKey::from_pkcs8_pem(&pem).unwrap().public_key(),
            key.public_key()
        );
        let mut tampered = v2.as_bytes().to_vec();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let pem = pem_encode_secret("PRIVATE KEY", &tampered);
        assert!(PrivateKey::from_pkcs8_pem(&pem).is_err());
        // "EC PARAMETERS" before the key, as `openssl ecparam -genkey` writes.
        let with_params = format!(
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{}",
            py::ECDSA_SEC1
        );
        assert_eq!(
            PrivateKey::from_pkcs8_pem(&with_params)
                .unwrap()
                .public_key(),
            ecdsa().public_key()
        );
    }

    // ----- bad inputs --------------------------------------------------------------

    #[test]
    fn bad_public_keys_give_specific_errors() {
        let ed_obj = |public: &str| json!({"keytype": "ED25519", "keyval": {"public": public}});
        let cases: Vec<(Value, Check)> = vec![
            (ed_obj(&"a".repeat(62)), |e| {
                matches!(e, KeyError::WrongLength { found: 62, .. })
            }),
            (ed_obj(&"a".repeat(66)), |e| {
                matches!(e, KeyError::WrongLength { found: 66, .. })
            }),
            (ed_obj(""), |e| {
                matches!(e, KeyError::WrongLength { found: 0, .. })
            }),
            (ed_obj(&format!("{}zz", "a".repeat(62))), |e| {
                matches!(e, KeyError::InvalidHex { .. })
            }),
            (ed_obj(&"é".repeat(32)), |e| {
                matches!(e, KeyError::InvalidHex { .. })
            }),
            (ed_obj(&format!("{} ", "a".repeat(63))), |e| {
                matches!(e, KeyError::InvalidHex { .. })
            }),
            // Small-order point (the identity): refused.
            (ed_obj(&format!("01{}", "00".repeat(31))), |e| {
                matches!(e, KeyError::InvalidKey { .. })
            }),
            (
                json!({"keytype": "RSA", "keyval": {"public": "garbage"}}),
                |e| matches!(e, KeyError::InvalidPem { .. }),
            ),
            (
                json!({"keytype": "RSA", "keyval": {"public": "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n"}}),
                |e| matches!(e, KeyError::InvalidPem { .. }),
            ),
            (
                json!({"keytype": "RSA", "keyval": {"public": "-----BEGIN PUBLIC KEY-----\nAAAA\n"}}),
                |e| matches!(e, KeyError::InvalidPem { .. }),
            ),
            (
                json!({"keytype": "RSA", "keyval": {"public": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}}),
                |e| matches!(e, KeyError::InvalidKey { .. }),
            ),
            (
                json!({"keytype": "RSA", "keyval": {"public": py::RSA_PKCS1}}),
                |e| matches!(e, KeyError::UnexpectedPemLabel { .. }),
            ),
            (
                json!({"keytype": "RSA", "keyval": {"public": format!("{}{}", py::RSA_PUB, py::RSA_PUB)}}),
                |e| matches!(e, KeyError::InvalidPem { .. }),
            ),
            (json!({"keytype": "RSA"}), |e| {
                matches!(e, KeyError::Malformed { .. })
            }),
            (json!({"keytype": "RSA", "keyval": {"public": 5}}), |e| {
                matches!(e, KeyError::Malformed { .. })
            }),
            (json!({"keyval": {"public": "x"}}), |e| {
                matches!(e, KeyError::Malformed { .. })
            }),
            (json!("a string"), |e| {
                matches!(e, KeyError::Malformed { .. })
            }),
        ];
        for (obj, check) in cases {
            let err = PublicKey::from_key_object(&obj, Dialect::OtaTuf).unwrap_err();
            assert!(check(&err), "{obj}: {err:?}");
            assert!(!err.to_string().is_empty());
        }
        assert!(matches!(
            PublicKey::from_pem(""),
            Err(KeyError::InvalidPem { .. })
        ));
    }

    #[test]
    fn rsa_1024_is_refused_everywhere() {
        let small = rsa::PrivateKey::new(&mut SysRng, 1024).unwrap();
        let want = KeyError::UnsupportedRsaSize { bits: 1024 };
        let spki = small.to_public_key().to_public_key_der().unwrap();
        let pub_pem = pem_encode("PUBLIC KEY", spki.as_bytes());
        assert_eq!(PublicKey::from_pem(&pub_pem).unwrap_err(), want);
        let obj =
            json!({"keytype": "rsa", "scheme": "rsassa-pss-sha256", "keyval": {"public": pub_pem}});
        assert_eq!(
            PublicKey::from_key_object(&obj, Dialect::Tuf).unwrap_err(),
            want
        );
        let pkcs1 = small.to_pkcs1_der().unwrap();
        let pkcs1_pem = pem_encode_secret("RSA PRIVATE KEY", pkcs1.as_bytes());
        assert_eq!(PrivateKey::from_pkcs8_pem(&pkcs1_pem).unwrap_err(), want);
        let pkcs8 = small.to_pkcs8_der().unwrap();
        assert_eq!(
            PrivateKey::from_pkcs8_pem(&pem_encode_secret("PRIVATE KEY", pkcs8.as_bytes()))
                .unwrap_err(),
            want
        );
        let doc = json!({"keytype": "RSA", "keyval": {"private": pkcs1_pem.as_str()}}).to_string();
        assert_eq!(PrivateKey::from_ats_json(doc.as_bytes()).unwrap_err(), want);
        assert!(want.to_string().contains("1024"));
        assert_eq!(
            PrivateKey::generate_rsa_for_tests(1024).unwrap_err(),
            KeyError::UnsupportedRsaSize { bits: 1024 }
        );
    }

    #[test]
    fn bad_private_keys_give_specific_errors() {
        let ats = |private: &str| {
            json!({"keytype": "ED25519", "keyval": {"private": private}}).to_string()
        };
        let secret_hex = "c0ffee".repeat(10) + "abcd"; // 64 chars, marker for leak checks
        let cases: Vec<(String, Check)> = vec![
            (ats(&secret_hex[..62]), |e| {
                matches!(e, KeyError::WrongLength { found: 62, .. })
            }),
            (ats(&format!("{secret_hex}00")), |e| {
                matches!(e, KeyError::WrongLength { found: 66, .. })
            }),
            (ats(&format!("{}g", &secret_hex[..63])), |e| {
                matches!(e, KeyError::InvalidHex { .. })
            }),
            (ats(&format!("{}é", &secret_hex[..62])), |e| {
                matches!(e, KeyError::InvalidHex { .. })
            }),
        ];
        for (doc, check) in cases {
            let err = PrivateKey::from_ats_json(doc.as_bytes()).unwrap_err();
            assert!(check(&err), "{err:?}");
            let msg = format!("{err} {err:?}");
            assert!(!msg.contains("c0ffee"), "{msg}");
        }
        let pem_cases: Vec<(String, Check)> = vec![
            ("garbage".into(), |e| matches!(e, KeyError::InvalidPem { .. })),
            ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into(), |e| matches!(e, KeyError::InvalidKey { .. })),
            ("-----BEGIN PRIVATE KEY-----\n@@@@\n-----END PRIVATE KEY-----\n".into(), |e| matches!(e, KeyError::InvalidPem { .. })),
            ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n".into(), |e| *e == KeyError::EncryptedPrivateKey),
            ("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n".into(), |e| *e == KeyError::EncryptedPrivateKey),
            (py::RSA_PUB.into(), |e| matches!(e, KeyError::UnexpectedPemLabel { .. })),
            (format!("{}{}", py::ED_PKCS8, py::ED_PKCS8), |e| matches!(e, KeyError::InvalidPem { .. })),
            (py::ED_PKCS8.replace("-----END PRIVATE KEY-----\n", ""), |e| matches!(e, KeyError::InvalidPem { .. })),
        ];
        for (pem, check) in pem_cases {
            let err = PrivateKey::from_pkcs8_pem(&pem).unwrap_err();
            assert!(check(&err), "{pem}: {err:?}");
        }
        // An ed25519 PKCS#8 whose inner octet string is not 32 bytes.
        let mut der = ED25519_PKCS8_PREFIX.to_vec();
        der.extend_from_slice(&[7u8; 32]);
        der[1] = 0x2d;
        der[13] = 0x21;
        der[15] = 0x1f;
        der.pop();
        let err = PrivateKey::from_pkcs8_pem(&pem_encode_secret("PRIVATE KEY", &der)).unwrap_err();
        assert!(matches!(err, KeyError::InvalidKey { .. }), "{err:?}");
    }

    #[test]
    fn secrets_stay_out_of_debug_and_errors() {
        let key = ed();
        let SecretInner::Ed25519(inner) = &key.secret else {
            panic!()
        };
        let seed_hex = hex::encode(inner.as_bytes());
        let debug = format!("{key:?}");
        assert!(
            !debug.contains(&seed_hex) && !debug.contains(&seed_hex[..16]),
            "{debug}"
        );
        assert!(debug.contains(&key.public_key().fingerprint()));
        let rsa_debug = format!("{:?}", rsa2048());
        assert!(rsa_debug.len() < 300, "{rsa_debug}");
        // A seed/public mismatch must not echo the seed.
        let other = "ab".repeat(32);
        let doc =
            json!({"keytype": "ED25519", "keyval": {"private": format!("{seed_hex}{other}")}})
                .to_string();
        let err = PrivateKey::from_ats_json(doc.as_bytes()).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains(&seed_hex[..16]), "{text}");
        // Invalid hex in a secret: the error does not quote the bad character
        // or its neighbours.
        let doc =
            json!({"keytype": "ED25519", "keyval": {"private": format!("{}q", &seed_hex[..63])}})
                .to_string();
        let err = PrivateKey::from_ats_json(doc.as_bytes()).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains('q'), "{text}");
        assert!(!text.contains(&seed_hex[..8]), "{text}");
        // A keyval that is a bare string (not an object) is not echoed.
        let doc = json!({"keytype": "ED25519", "keyval": seed_hex.clone()}).to_string();
        let err = PrivateKey::from_ats_json(doc.as_bytes()).unwrap_err();
        assert!(!format!("{err} {err:?}").contains(&seed_hex[..8]));
    }

    #[test]
    fn key_type_names() {
        assert_eq!(KeyType::Ed25519.to_string(), "ed25519");
        assert_eq!(KeyType::Rsa.to_string(), "rsa");
        assert_eq!(KeyType::EcdsaP256.to_string(), "ecdsa-p256");
        for (s, want) in [
            ("ed25519", NewKeyType::Ed25519),
            ("ED25519", NewKeyType::Ed25519),
            ("rsa-4096", NewKeyType::Rsa4096),
            ("rsa", NewKeyType::Rsa4096),
            ("RSA", NewKeyType::Rsa4096),
        ] {
            assert_eq!(s.parse::<NewKeyType>().unwrap(), want);
        }
        for bad in ["", "rsa-2048", "ecdsa", "ed448"] {
            assert_eq!(
                bad.parse::<NewKeyType>().unwrap_err(),
                KeyError::UnknownNewKeyType { given: bad.into() }
            );
        }
        assert_eq!(NewKeyType::Rsa4096.to_string(), "rsa-4096");
        assert_eq!(NewKeyType::default(), NewKeyType::Ed25519);
    }

    #[test]
    fn equality_and_hash_follow_the_key() {
        use std::collections::HashSet;
        let a = PublicKey::from_pem(py::RSA_PUB).unwrap();
        let obj = json!({"keytype": "rsa", "scheme": "rsassa-pss-sha256", "keyval": {"public": py::RSA_PUB.trim_end()}});
        let b = PublicKey::from_key_object(&obj, Dialect::Tuf).unwrap();
        let set: HashSet<PublicKey> = [a.clone(), b, ecdsa().public_key()].into_iter().collect();
        assert_eq!(set.len(), 2);
        assert!(set.contains(&a));
    }

    mod no_panics {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn arbitrary_text_never_panics(s in "\\PC{0,200}", hexish in "[0-9a-fA-F ]{0,130}") {
                let _ = PublicKey::from_pem(&s);
                let _ = PrivateKey::from_pkcs8_pem(&s);
                let _ = PrivateKey::from_ats_json(s.as_bytes());
                let pem = format!("-----BEGIN PRIVATE KEY-----\n{s}\n-----END PRIVATE KEY-----\n");
                let _ = PrivateKey::from_pkcs8_pem(&pem);
                let pem = format!("-----BEGIN PUBLIC KEY-----\n{s}\n-----END PUBLIC KEY-----\n");
                let _ = PublicKey::from_pem(&pem);
                for keytype in ["ED25519", "RSA", "ECPRIME256V1"] {
                    let doc = json!({"keytype": keytype, "keyval": {"private": hexish}}).to_string();
                    let _ = PrivateKey::from_ats_json(doc.as_bytes());
                    let obj = json!({"keytype": keytype, "keyval": {"public": hexish}});
                    let _ = PublicKey::from_key_object(&obj, Dialect::OtaTuf);
                }
            }

            #[test]
            fn arbitrary_der_never_panics(der in proptest::collection::vec(any::<u8>(), 0..200)) {
                let _ = PublicKey::from_spki_der(&der);
                let _ = PrivateKey::from_pkcs8_der(&der);
                let _ = PrivateKey::from_pkcs8_pem(&pem_encode_secret("RSA PRIVATE KEY", &der));
                let _ = PrivateKey::from_pkcs8_pem(&pem_encode_secret("EC PRIVATE KEY", &der));
            }

            #[test]
            fn arbitrary_signatures_never_panic(sig in proptest::collection::vec(any::<u8>(), 0..600)) {
                let keys = [ed().public_key(), rsa2048().public_key(), ecdsa().public_key()];
                for key in &keys {
                    prop_assert!(key.verify(Dialect::Tuf, b"m", &sig, None).is_err());
                    let _ = key.verify(Dialect::OtaTuf, b"m", &sig, Some("ed25519"));
                    let _ = key.verify(Dialect::OtaTuf, b"m", &sig, Some("rsassa-pss"));
                }
            }
        }
    }
}

#[cfg(test)]
mod signer_tests {
    //! The [`Signer`] abstraction: keys rebuilt from raw parts (as a PKCS#11
    //! token reports them), and a signer that returns another key's
    //! signature.

    use super::*;
    use rsa::traits::PublicKeyParts;

    /// A signer that claims one key and signs with another, like a token
    /// holding a different key under the recorded label.
    struct Impostor {
        claimed: PublicKey,
        actual: PrivateKey,
    }

    impl Signer for Impostor {
        fn public_key(&self) -> PublicKey {
            self.claimed.clone()
        }
        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
            PrivateKey::sign(&self.actual, message)
        }
        fn describe(&self) -> String {
            "key \"k\" on token \"t\"".into()
        }
    }

    #[test]
    fn keys_from_raw_parts_are_the_same_keys() {
        let ed = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
        let SecretRef::Ed25519(sk) = ed.secret.as_ref() else {
            unreachable!()
        };
        let raw = sk.verifying_key().to_bytes();
        assert_eq!(
            PublicKey::from_ed25519_bytes(&raw).unwrap(),
            ed.public_key()
        );
        assert!(matches!(
            PublicKey::from_ed25519_bytes(&raw[..31]),
            Err(KeyError::WrongLength { found: 31, .. })
        ));

        let rsa = PrivateKey::generate_rsa_for_tests(2048).unwrap();
        let SecretRef::Rsa(rk) = rsa.secret.as_ref() else {
            unreachable!()
        };
        let (n, e) = (rk.n_bytes(), rk.e_bytes());
        let back = PublicKey::from_rsa_components(&n, &e).unwrap();
        assert_eq!(back, rsa.public_key());
        assert_eq!(
            PublicKey::from_pem(&back.to_spki_pem()).unwrap(),
            rsa.public_key()
        );
        // A leading zero byte (as some tokens report) changes nothing.
        let mut padded = vec![0u8];
        padded.extend_from_slice(&n);
        assert_eq!(
            PublicKey::from_rsa_components(&padded, &e).unwrap(),
            rsa.public_key()
        );
        assert!(matches!(
            PublicKey::from_rsa_components(&n[..128], &e),
            Err(KeyError::UnsupportedRsaSize { bits: 1024 })
        ));
    }

    #[test]
    fn sign_checked_refuses_another_keys_signature() {
        for rsa in [false, true] {
            let (claimed, actual) = if rsa {
                (
                    PrivateKey::generate_rsa_for_tests(2048).unwrap(),
                    PrivateKey::generate_rsa_for_tests(2048).unwrap(),
                )
            } else {
                (
                    PrivateKey::generate(NewKeyType::Ed25519).unwrap(),
                    PrivateKey::generate(NewKeyType::Ed25519).unwrap(),
                )
            };
            assert!(sign_checked(&claimed, b"m").is_ok());
            let impostor = Impostor {
                claimed: claimed.public_key(),
                actual,
            };
            let err = sign_checked(&impostor, b"m").unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, KeyError::SignerMismatch { .. }), "{text}");
            assert!(
                text.contains("key \"k\" on token \"t\"")
                    && text.contains(&claimed.public_key().fingerprint()),
                "{text}"
            );
        }
    }

    #[test]
    fn verify_as_made_wants_salt_32() {
        let rsa = PrivateKey::generate_rsa_for_tests(2048).unwrap();
        let SecretRef::Rsa(rk) = rsa.secret.as_ref() else {
            unreachable!()
        };
        let salt20 = rk
            .sign_with_rng(
                &mut SysRng,
                rsa::Pss::<Sha256>::new_with_salt(20),
                &Sha256::digest(b"m"),
            )
            .unwrap();
        let public = rsa.public_key();
        assert!(public.verify(Dialect::Tuf, b"m", &salt20, None).is_ok());
        assert!(public.verify_as_made(b"m", &salt20).is_err());
        let ours = Signer::sign(&rsa, b"m").unwrap();
        assert!(public.verify_as_made(b"m", &ours).is_ok());
    }
}
