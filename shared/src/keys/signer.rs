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

    /// Signs `message` (the canonical bytes of `signed`) and returns the raw
    /// signature: 64 bytes for Ed25519, RSASSA-PSS-SHA256 with salt 32 for
    /// RSA, DER for ECDSA P-256. The caller encodes it (base64 for ota-tuf,
    /// hex for TUF).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError>;

    /// The signature `method` (ota-tuf) or scheme (TUF) of this key's
    /// signatures: `ed25519`, `rsassa-pss-sha256`, or `ecdsa-sha2-nistp256`.
    /// ota-tuf has no method for ECDSA that devices accept; the TUF name is
    /// returned and [`PublicKey::verify`] refuses it in that dialect.
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
        // Both dialects use the same names for the key types they share.
        let _ = dialect;
        method_of(self.key_type())
    }

    fn describe(&self) -> String {
        format!("a {} key in memory", self.key_type())
    }
}

/// Signs `message` with `signer` and verifies the signature in software, as
/// this tool makes them (RSA salt 32 required), before returning it; a
/// signature that does not verify is refused with [`KeyError::SignerMismatch`].
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
