//! The public-key file `signer keygen` writes (`tuf-ceremony/pubkey@1`): one
//! new root key made on a holder's offline laptop, carried to the online side
//! so the submitter can list it in a proposal's `change.provided_keys`.
//!
//! ```json
//! {"format":"tuf-ceremony/pubkey@1",
//!  "spki_pem":"-----BEGIN PUBLIC KEY-----\n…\n-----END PUBLIC KEY-----\n",
//!  "fingerprint":"<sha256 of the SPKI DER, hex>",
//!  "key_type":"ed25519" | "rsa-4096" | …,
//!  "holder":"…", "created":"YYYY-MM-DDTHH:MM:SSZ"}
//! ```
//!
//! The key is carried as SPKI PEM, independent of dialect; the reader
//! re-derives the fingerprint and refuses a file whose fingerprint or type
//! does not match its key (a typo, or a swapped file, shows up here and not
//! in a root).

use serde::{Deserialize, Serialize};

use crate::crossing::{check_format, CrossingError};
use crate::dialect::Dialect;
use crate::diff::key_description;
use crate::keys::PublicKey;
use crate::proposal::ProvidedKey;

/// The `format` of a public-key file this version writes and reads.
pub const PUBKEY_FORMAT: &str = "tuf-ceremony/pubkey@1";

/// A public-key file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PubkeyFile {
    /// Always [`PUBKEY_FORMAT`].
    pub format: String,
    /// The key as PEM SubjectPublicKeyInfo, with a trailing newline.
    pub(crate) spki_pem: String,
    /// sha256 of the SPKI DER, lowercase hex (also its ota-tuf key id).
    pub fingerprint: String,
    /// `ed25519`, `rsa-4096`, … (as [`key_description`] names it).
    pub key_type: String,
    /// Who holds the private key, for the diff and the transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// When the key was made, `YYYY-MM-DDTHH:MM:SSZ`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

impl PubkeyFile {
    /// The file for `key`: fingerprint and type are derived from the key, so
    /// a file written here always passes [`PubkeyFile::from_slice`].
    pub fn new(key: &PublicKey, holder: Option<String>, created: Option<String>) -> PubkeyFile {
        PubkeyFile {
            format: PUBKEY_FORMAT.to_string(),
            spki_pem: key.to_spki_pem(),
            fingerprint: key.fingerprint(),
            key_type: key_description(key),
            holder,
            created,
        }
    }

    /// Parses a public-key file, refusing another format, a key that does
    /// not parse, and a fingerprint or type that does not match the key.
    pub fn from_slice(bytes: &[u8]) -> Result<PubkeyFile, CrossingError> {
        let value = check_format(bytes, PUBKEY_FORMAT)?;
        let file: PubkeyFile =
            serde_json::from_value(value).map_err(|e| CrossingError::Fields(e.to_string()))?;
        let key = file.public_key()?;
        if key.fingerprint() != file.fingerprint.to_ascii_lowercase() {
            return Err(CrossingError::Fields(format!(
                "the fingerprint {} does not match the key (which hashes to {}): the file was edited or damaged",
                file.fingerprint,
                key.fingerprint()
            )));
        }
        if key_description(&key) != file.key_type {
            return Err(CrossingError::Fields(format!(
                "key_type says {:?} but the key is {}",
                file.key_type,
                key_description(&key)
            )));
        }
        Ok(file)
    }

    /// Pretty JSON with a trailing newline, so that a holder can read the
    /// file before carrying it across.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("a pubkey file always serialises");
        out.push(b'\n');
        out
    }

    /// The key in `spki_pem`.
    pub fn public_key(&self) -> Result<PublicKey, CrossingError> {
        // CrossingError carries field problems as text; the key error is
        // quoted whole, so nothing of the cause is lost.
        PublicKey::from_pem(&self.spki_pem)
            .map_err(|e| CrossingError::Fields(format!("spki_pem holds an unusable key: {e}")))
    }

    /// The key as a proposal's `change.provided_keys` entry, in `dialect`.
    pub fn to_provided_key(&self, dialect: Dialect) -> Result<ProvidedKey, CrossingError> {
        Ok(ProvidedKey {
            key: self.public_key()?.to_key_object(dialect),
            holder: self.holder.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{NewKeyType, PrivateKey};

    #[test]
    fn round_trip_and_tamper() {
        let key = PrivateKey::generate(NewKeyType::Ed25519)
            .unwrap()
            .public_key();
        let file = PubkeyFile::new(&key, Some("alice".into()), None);
        let back = PubkeyFile::from_slice(&file.to_bytes()).unwrap();
        assert_eq!(back.public_key().unwrap(), key);
        assert_eq!(back.key_type, "ed25519");
        let provided = back.to_provided_key(Dialect::OtaTuf).unwrap();
        assert_eq!(
            PublicKey::from_key_object(&provided.key, Dialect::OtaTuf).unwrap(),
            key
        );
        assert_eq!(provided.holder.as_deref(), Some("alice"));

        let mut bad = file.clone();
        bad.fingerprint = "00".repeat(32);
        assert!(PubkeyFile::from_slice(&bad.to_bytes()).is_err());
        let mut bad = file.clone();
        bad.key_type = "rsa-4096".into();
        assert!(PubkeyFile::from_slice(&bad.to_bytes()).is_err());
        let mut bad = file;
        bad.format = "tuf-ceremony/bundle@1".into();
        assert!(PubkeyFile::from_slice(&bad.to_bytes()).is_err());
    }
}
