//! The [`Signer`] trait, which in-memory keys and hardware keys implement
//! alike, and [`sign_checked`], the one way a signature is put to use.

use super::algorithm::method_of;
use super::{KeyError, PrivateKey, PublicKey};
use crate::dialect::Dialect;

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
