//! [`PrivateKey`]: generation, reading PEM private keys, signing in memory,
//! and PKCS#8 export. Secret material lives only in types that wipe
//! themselves on drop.

use std::fmt;

use ed25519_dalek::Signer as _;
use getrandom::SysRng;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::EncodePrivateKey;
use sha2::{Digest, Sha256};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use super::algorithm::{check_rsa_bits, PSS_SALT_LEN};
use super::der::ED25519_PKCS8_PREFIX;
use super::error::{invalid_key, invalid_key_msg};
use super::pem::{pem_blocks, pem_encode_secret};
use super::{KeyError, KeyType, NewKeyType, PublicKey};

#[derive(Clone, Copy)]
pub(super) enum SecretRef<'a> {
    Ed25519(&'a ed25519_dalek::SigningKey),
    Rsa(&'a rsa::PrivateKey),
    EcdsaP256(&'a p256::ecdsa::SigningKey),
}

pub(super) enum SecretInner {
    Ed25519(ed25519_dalek::SigningKey),
    Rsa(Box<rsa::PrivateKey>),
    EcdsaP256(p256::ecdsa::SigningKey),
}

impl SecretInner {
    pub(super) fn as_ref(&self) -> SecretRef<'_> {
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
    pub(super) secret: SecretInner,
    pub(super) public: PublicKey,
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
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
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

    pub(super) fn from_ed25519(key: ed25519_dalek::SigningKey) -> Result<PrivateKey, KeyError> {
        let public = PublicKey::from_ed25519(key.verifying_key())?;
        Ok(PrivateKey {
            secret: SecretInner::Ed25519(key),
            public,
        })
    }

    pub(super) fn from_rsa(key: rsa::PrivateKey) -> Result<PrivateKey, KeyError> {
        // The size check is in `PublicKey::from_rsa`; on error the key is
        // dropped here, which wipes it.
        let key = Box::new(key);
        let public = PublicKey::from_rsa(key.to_public_key())?;
        Ok(PrivateKey {
            secret: SecretInner::Rsa(key),
            public,
        })
    }

    pub(super) fn from_p256(key: p256::ecdsa::SigningKey) -> Result<PrivateKey, KeyError> {
        let public = PublicKey::from_p256(*key.verifying_key())?;
        Ok(PrivateKey {
            secret: SecretInner::EcdsaP256(key),
            public,
        })
    }

    pub(super) fn from_private_pem(pem: &str) -> Result<PrivateKey, KeyError> {
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
}
