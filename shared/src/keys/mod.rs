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
//!   from the parsed key (its sha256 is [`PublicKey::fingerprint`]). Two key
//!   objects that spell one key differently (PEM line wrapping, hex case,
//!   keytype casing) compare equal, so a threshold can never be inflated by
//!   listing a key twice.
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
//!
//! The submodules follow those concepts: [`PublicKey`] and verification
//! (`public`), [`PrivateKey`] and signing in memory (`private`), fioctl's
//! key files (`fioctl`), the PEM armour and the DER structures inside it
//! (`pem`, `der`), the [`Signer`] trait that hardware keys implement too
//! (`signer`), the key types and the limits placed on them (`algorithm`), and
//! [`KeyError`] (`error`). Everything other crates use is re-exported here.

mod algorithm;
mod der;
mod error;
mod fioctl;
mod pem;
mod private;
mod public;
mod signer;

#[cfg(test)]
mod tests;

pub use algorithm::{KeyType, NewKeyType};
pub use error::KeyError;
pub use private::PrivateKey;
pub use public::PublicKey;
pub use signer::{sign_checked, Signer};
