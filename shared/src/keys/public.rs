//! [`PublicKey`]: key objects in both dialects, key ids, and verification.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::algorithm::{check_rsa_bits, PSS_SALT_LEN};
use super::der::{be_bit_len, encode_spki};
use super::error::{invalid_key, invalid_key_msg, malformed};
use super::pem::{pem_encode, public_pem_der};
use super::{KeyError, KeyType};
use crate::canonical::to_canonical_bytes;
use crate::dialect::Dialect;

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
///
/// Cloning is cheap (a shared, immutable key): an audit hands the same
/// decoded key to every root that lists it, and the rules pass keys around
/// by value.
#[derive(Clone)]
pub struct PublicKey {
    pub(super) data: Arc<KeyData>,
}

/// What a [`PublicKey`] holds.
#[derive(Clone)]
pub(super) struct KeyData {
    inner: PublicInner,
    /// The SubjectPublicKeyInfo DER, re-encoded from the parsed key: the
    /// key's identity, independent of how it was written.
    pub(super) spki_der: Vec<u8>,
    bits: usize,
    /// `keyval.public` exactly as read from a key object.
    public_text: Option<String>,
    /// `keytype` and `scheme` exactly as read from a TUF-dialect key object.
    tuf_names: Option<(String, String)>,
    /// [`PublicKey::fingerprint`] and the TUF [`PublicKey::key_id`],
    /// computed when the key is made (see [`KeyData::into_key`]): both hash
    /// what never changes afterwards, and an audit asks for them for every
    /// root that lists the key.
    fingerprint: String,
    tuf_key_id: String,
}

impl KeyData {
    /// The finished key, its hashes computed from what it holds now.
    fn into_key(mut self) -> PublicKey {
        self.fingerprint = hex::encode(Sha256::digest(&self.spki_der));
        // The TUF key id hashes the key object, which a `PublicKey` writes.
        let unfinished = PublicKey {
            data: Arc::new(self),
        };
        // The TUF canonical form fails only on non-integer numbers, and a
        // key object holds strings only, so this cannot be empty.
        let object = to_canonical_bytes(&unfinished.to_key_object(Dialect::Tuf), Dialect::Tuf)
            .unwrap_or_default();
        let mut data = Arc::unwrap_or_clone(unfinished.data);
        data.tuf_key_id = hex::encode(Sha256::digest(&object));
        PublicKey {
            data: Arc::new(data),
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("key_type", &self.key_type())
            .field("bits", &self.data.bits)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.data.spki_der == other.data.spki_der
    }
}

impl Eq for PublicKey {}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.data.spki_der.hash(state);
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

        let mut names = None;
        let key = match dialect {
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
                let key = parse_public_text(public, expected, keytype)?;
                names = Some((keytype.to_owned(), scheme.to_owned()));
                key
            }
        };
        // Freshly decoded, so not shared: this takes the data, not a copy.
        let mut data = Arc::try_unwrap(key.data).unwrap_or_else(|shared| (*shared).clone());
        data.public_text = Some(public.to_owned());
        data.tuf_names = names;
        // Made again: the TUF key id hashes the names and text just set.
        Ok(data.into_key())
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
            .data
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
            Dialect::Tuf => self.data.tuf_key_id.clone(),
        }
    }

    /// Which kind of key this is.
    pub fn key_type(&self) -> KeyType {
        match self.data.inner {
            PublicInner::Ed25519(_) => KeyType::Ed25519,
            PublicInner::Rsa(_) => KeyType::Rsa,
            PublicInner::EcdsaP256(_) => KeyType::EcdsaP256,
        }
    }

    /// Key size for display and for the size rules: 256 for Ed25519 and
    /// P-256, the modulus size for RSA.
    pub fn bits(&self) -> usize {
        self.data.bits
    }

    /// Lowercase hex sha256 of the SPKI DER: a dialect-independent name for
    /// the key that people can compare across machines (equal to the ota-tuf
    /// key id).
    pub fn fingerprint(&self) -> String {
        self.data.fingerprint.clone()
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
        pem_encode("PUBLIC KEY", &self.data.spki_der)
    }

    /// Checks a signature exactly as this tool makes them: Ed25519 (strict),
    /// RSASSA-PSS-SHA256 with MGF1-SHA256 and salt length 32, or DER ECDSA
    /// P-256 over SHA-256. Used to check what a signer outside this process
    /// (a hardware token) returns before it is used.
    pub(crate) fn verify_as_made(&self, message: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        self.verify_raw(message, signature, Some(PSS_SALT_LEN))
    }

    pub(super) fn from_ed25519(key: ed25519_dalek::VerifyingKey) -> Result<PublicKey, KeyError> {
        // A small-order key can "sign" many messages at once; no honest key
        // generator produces one, so refuse it outright.
        if key.is_weak() {
            return Err(invalid_key_msg(
                "the ed25519 public key",
                "it is a weak (small-order) point, for which signatures can be forged",
            ));
        }
        let spki_der = encode_spki(&key)?;
        Ok(KeyData {
            inner: PublicInner::Ed25519(key),
            spki_der,
            bits: 256,
            public_text: None,
            tuf_names: None,
            fingerprint: String::new(),
            tuf_key_id: String::new(),
        }
        .into_key())
    }

    pub(super) fn from_rsa(key: rsa::PublicKey) -> Result<PublicKey, KeyError> {
        let bits = be_bit_len(&key.n_bytes());
        check_rsa_bits(bits)?;
        let spki_der = encode_spki(&key)?;
        Ok(KeyData {
            inner: PublicInner::Rsa(Box::new(key)),
            spki_der,
            bits,
            public_text: None,
            tuf_names: None,
            fingerprint: String::new(),
            tuf_key_id: String::new(),
        }
        .into_key())
    }

    pub(super) fn from_p256(key: p256::ecdsa::VerifyingKey) -> Result<PublicKey, KeyError> {
        let spki_der = encode_spki(&key)?;
        Ok(KeyData {
            inner: PublicInner::EcdsaP256(key),
            spki_der,
            bits: 256,
            public_text: None,
            tuf_names: None,
            fingerprint: String::new(),
            tuf_key_id: String::new(),
        }
        .into_key())
    }

    fn ota_keytype(&self) -> &'static str {
        match self.key_type() {
            KeyType::Ed25519 => "ED25519",
            KeyType::Rsa => "RSA",
            KeyType::EcdsaP256 => "ECPRIME256V1",
        }
    }

    fn tuf_names(&self) -> (String, String) {
        if let Some(names) = &self.data.tuf_names {
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
        match &self.data.inner {
            PublicInner::Ed25519(k) => hex::encode(k.as_bytes()),
            PublicInner::Rsa(_) | PublicInner::EcdsaP256(_) => {
                pem_encode("PUBLIC KEY", &self.data.spki_der)
            }
        }
    }

    /// Verifies without any method check. `rsa_salt`: `Some(n)` requires salt
    /// length `n`; `None` recovers it from the signature.
    ///
    /// With the `ring-verify` feature, ring is asked first where it takes the
    /// key; a "valid" from ring is final, anything else goes to the pure-Rust
    /// check, whose answer (and error) is returned. So the feature can only
    /// change how fast a signature is accepted, never whether.
    pub(super) fn verify_raw(
        &self,
        message: &[u8],
        signature: &[u8],
        rsa_salt: Option<usize>,
    ) -> Result<(), KeyError> {
        #[cfg(feature = "ring-verify")]
        if self.ring_accepts(message, signature) {
            return Ok(());
        }
        self.verify_pure(message, signature, rsa_salt)
    }

    /// Whether ring, where it can take this key, finds `signature` valid over
    /// `message` under a scheme every caller of [`PublicKey::verify_raw`]
    /// accepts. `false` means "ask the pure-Rust check", not "invalid".
    ///
    /// - RSA: ring's RSASSA-PSS-SHA256 (MGF1-SHA256) fixes the salt length at
    ///   32, which both `Some(PSS_SALT_LEN)` and salt recovery accept; it takes
    ///   2048–8192-bit moduli only, and refuses unusual exponents (those fall
    ///   back).
    /// - ECDSA P-256: ring's ASN.1 (DER) verification over SHA-256 accepts
    ///   high-S as p256 does, and its DER parser is at least as strict.
    /// - Ed25519 is not sent to ring: ring does not reject small-order R
    ///   values as `verify_strict` does, so it could accept what the pure
    ///   check refuses.
    #[cfg(feature = "ring-verify")]
    pub(super) fn ring_accepts(&self, message: &[u8], signature: &[u8]) -> bool {
        use ring::signature as rs;
        match &self.data.inner {
            PublicInner::Ed25519(_) => false,
            PublicInner::Rsa(key) => {
                if self.data.bits < 2048 || self.data.bits > 8192 || signature.len() != key.size() {
                    return false;
                }
                let components = rs::RsaPublicKeyComponents {
                    n: key.n_bytes(),
                    e: key.e_bytes(),
                };
                components
                    .verify(&rs::RSA_PSS_2048_8192_SHA256, message, signature)
                    .is_ok()
            }
            PublicInner::EcdsaP256(key) => {
                let point = key.to_sec1_point(false);
                rs::UnparsedPublicKey::new(&rs::ECDSA_P256_SHA256_ASN1, point.as_bytes())
                    .verify(message, signature)
                    .is_ok()
            }
        }
    }

    /// The pure-Rust (RustCrypto) check: the reference semantics.
    pub(super) fn verify_pure(
        &self,
        message: &[u8],
        signature: &[u8],
        rsa_salt: Option<usize>,
    ) -> Result<(), KeyError> {
        let key_type = self.key_type();
        let bad = || KeyError::BadSignature { key_type };
        match &self.data.inner {
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
                            self.data.bits,
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
