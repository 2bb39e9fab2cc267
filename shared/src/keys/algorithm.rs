//! The key types this tool reads, verifies and generates, and the limits it
//! places on them (RSA sizes, the PSS salt), kept together so that reading,
//! generating and signing cannot drift apart.

use std::fmt;
use std::str::FromStr;

use super::KeyError;

/// RSA modulus sizes aktualizr accepts (`crypto.cc` `IdentifyRSAKeyType`).
const RSA_SIZES: [usize; 3] = [2048, 3072, 4096];

/// Salt length of every RSASSA-PSS signature we make (fioctl's and
/// securesystemslib's choice; what ota-tuf's server expects).
pub(super) const PSS_SALT_LEN: usize = 32;

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
    pub(crate) fn name(self) -> &'static str {
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
    /// Ed25519, the default: what fioctl makes since v0.32.
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

/// The signature `method` (ota-tuf) or scheme (TUF) of a key type's
/// signatures; both dialects use the same names for the types they share.
pub(super) fn method_of(key_type: KeyType) -> &'static str {
    match key_type {
        KeyType::Ed25519 => "ed25519",
        KeyType::Rsa => "rsassa-pss-sha256",
        KeyType::EcdsaP256 => "ecdsa-sha2-nistp256",
    }
}

pub(super) fn check_rsa_bits(bits: usize) -> Result<(), KeyError> {
    if RSA_SIZES.contains(&bits) {
        Ok(())
    } else {
        Err(KeyError::UnsupportedRsaSize { bits })
    }
}
