//! fioctl's keys (subcommands/keys/tuf_crypto.go, tuf_utils.go): Ed25519
//! (private: hex of the 32-byte seed, or of the 64-byte key; public: hex)
//! and RSA (private: PKCS#1 PEM; public: PKIX PEM; fioctl makes 4096-bit
//! keys), signed as `SignTufMeta` signs: pure Ed25519 (`ed25519`), or
//! RSASSA-PSS over SHA-256 with a 32-byte salt (`rsassa-pss-sha256`). The
//! key id is `genTufKeyId`'s: sha256 of the PKIX DER of the public key.

use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use rsa::pkcs8::{EncodePublicKey as _, LineEnding};
use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _, Signer as _};
use sha2::{Digest, Sha256};

use super::model::{AtsKey, Signature};

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410).
const ED25519_SPKI: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// `--key-type`: fioctl's `ParseTufKeyType` (case-insensitive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    Ed25519,
    /// RSA of this many bits (fioctl: always 4096; tests may ask for less
    /// to keep debug builds quick).
    Rsa(usize),
}

impl KeyType {
    pub fn parse(s: &str) -> Result<KeyType, String> {
        match s.to_ascii_uppercase().as_str() {
            "ED25519" => Ok(KeyType::Ed25519),
            "RSA" => Ok(KeyType::Rsa(4096)),
            _ => Err(format!("Unsupported key type: {s}")),
        }
    }

    /// `Name()`: the AtsKey `keytype`.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ED25519",
            KeyType::Rsa(_) => "RSA",
        }
    }

    /// `SigName()`: the signature `method`.
    pub fn sig_name(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ed25519",
            KeyType::Rsa(_) => "rsassa-pss-sha256",
        }
    }
}

/// A private key fioctl can sign with (`TufSigner`).
pub struct Signer {
    /// The key id fioctl gives it: the id the matching root lists (when
    /// found in a tarball) or `genTufKeyId` (when generated).
    pub id: String,
    pub key: Key,
}

pub enum Key {
    Ed25519(Box<ed25519_dalek::SigningKey>),
    Rsa(Box<rsa::PrivateKey>),
}

fn rng() -> rsa::rand_core::UnwrapErr<getrandom::SysRng> {
    rsa::rand_core::UnwrapErr(getrandom::SysRng)
}

impl Key {
    pub fn key_type(&self) -> KeyType {
        match self {
            Key::Ed25519(_) => KeyType::Ed25519,
            Key::Rsa(k) => KeyType::Rsa(rsa::traits::PublicKeyParts::size(&**k) * 8),
        }
    }

    pub fn generate(t: KeyType) -> Key {
        match t {
            KeyType::Ed25519 => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).expect("the system RNG works");
                Key::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(&seed)))
            }
            KeyType::Rsa(bits) => Key::Rsa(Box::new(
                rsa::PrivateKey::new(&mut rng(), bits).expect("RSA key generation"),
            )),
        }
    }

    /// `ParseKey` of a `.sec` file's private value.
    pub fn parse(t: KeyType, private: &str) -> Result<Key, String> {
        match t {
            KeyType::Ed25519 => {
                let raw = hex::decode(private)
                    .map_err(|_| "Unable to parse Ed25519 private key HEX data".to_string())?;
                let seed: [u8; 32] = match raw.len() {
                    32 => raw.try_into().expect("32 bytes"),
                    // A 64-byte Go private key is seed || public.
                    64 => raw[..32].try_into().expect("32 bytes"),
                    _ => return Err("Wrong Ed25519 private key size".into()),
                };
                Ok(Key::Ed25519(Box::new(
                    ed25519_dalek::SigningKey::from_bytes(&seed),
                )))
            }
            KeyType::Rsa(_) => {
                let pem = private.trim_start();
                if !pem.starts_with("-----BEGIN ") {
                    return Err("Unable to parse RSA private key PEM data".into());
                }
                rsa::PrivateKey::from_pkcs1_pem(private)
                    .map(|k| Key::Rsa(Box::new(k)))
                    .map_err(|e| format!("Unable to parse RSA private key PKCS1 DER data: {e}"))
            }
        }
    }

    /// The PKIX DER of the public key.
    pub fn spki_der(&self) -> Vec<u8> {
        match self {
            Key::Ed25519(k) => {
                let mut der = ED25519_SPKI.to_vec();
                der.extend_from_slice(k.verifying_key().as_bytes());
                der
            }
            Key::Rsa(k) => k
                .to_public_key()
                .to_public_key_der()
                .expect("RSA SPKI encodes")
                .as_bytes()
                .to_vec(),
        }
    }

    /// `genTufKeyId`.
    pub fn key_id(&self) -> String {
        hex::encode(Sha256::digest(self.spki_der()))
    }

    /// `SaveKeyPair`: the private and the public AtsKey.
    pub fn ats_pair(&self) -> (AtsKey, AtsKey) {
        let (private, public) = match self {
            Key::Ed25519(k) => (
                hex::encode(k.to_bytes()),
                hex::encode(k.verifying_key().as_bytes()),
            ),
            Key::Rsa(k) => (
                k.to_pkcs1_pem(LineEnding::LF)
                    .expect("PKCS#1 encodes")
                    .to_string(),
                k.to_public_key()
                    .to_public_key_pem(LineEnding::LF)
                    .expect("PKIX encodes"),
            ),
        };
        let t = self.key_type().name().to_string();
        (
            AtsKey {
                key_type: t.clone(),
                private,
                ..AtsKey::default()
            },
            AtsKey {
                key_type: t,
                public,
                ..AtsKey::default()
            },
        )
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Key::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
            Key::Rsa(k) => {
                let s =
                    rsa::pss::SigningKey::<rsa::sha2::Sha256>::new_with_salt_len((**k).clone(), 32);
                s.sign_with_rng(&mut rng(), message).to_vec()
            }
        }
    }
}

/// `SignTufMeta`: one signature per signer over `bytes`, in signer order.
pub fn sign_meta(bytes: &[u8], signers: &[&Signer]) -> Vec<Signature> {
    signers
        .iter()
        .map(|s| Signature {
            key_id: s.id.clone(),
            method: s.key.key_type().sig_name().to_string(),
            sig: Some(s.key.sign(bytes)),
        })
        .collect()
}
