//! Root keys on PKCS#11 tokens (YubiKey, Nitrokey, smart-card HSMs, SoftHSM
//! in tests), through the `cryptoki` crate.
//!
//! What the signer does with a token:
//!
//! * **keygen** ([`generate`], [`TokenSet::generate`]): generate an Ed25519
//!   (`CKM_EC_EDWARDS_KEY_PAIR_GEN`) or RSA-4096 (`CKM_RSA_PKCS_KEY_PAIR_GEN`,
//!   e = 65537) key pair *on* the token, private half `CKA_SENSITIVE` and not
//!   `CKA_EXTRACTABLE`;
//! * **import** ([`find_existing`]): find an existing key by label (and
//!   `CKA_ID`); one whose private half can leave the token (extractable, or
//!   not sensitive) is refused unless `--allow-extractable-token-key`
//!   accepts it, and the archive then marks it so;
//! * **sign** ([`TokenSet::open`]): Ed25519 (`CKM_EDDSA`, pure) or
//!   RSASSA-PSS-SHA256, MGF1-SHA256, salt 32 (`CKM_SHA256_RSA_PKCS_PSS`).
//!
//! The archive records only the public key and where the key is
//! ([`TokenRef`]): the token's label, serial, manufacturer and model, and
//! how the private key is protected; the private key never leaves the
//! token. At every use the token must be the recorded one (same serial),
//! checked before the PIN is asked, and a weak key is warned about. Every signature a
//! token returns is verified in software under the *recorded* public key
//! before it is used, and every key is test-signed when it is opened.
//!
//! The module is loaded only from the path the user gives
//! (`--pkcs11-module`); see [`module`]. PINs never leave [`session`].
//!
//! One concept per file: `args` (the command line), `module` (loading),
//! `session` (finding the token, login, PIN), `find` (key search, public
//! key from attributes, `import`), `sign` (mechanisms, opening recorded
//! keys, the software check), `keygen`, `reference` (what the archive
//! records) and `error` ([`TokenError`], each case with what to do).

mod args;
mod error;
mod find;
mod keygen;
mod module;
mod reference;
mod session;
mod sign;

pub(crate) use args::TokenArgs;
pub(crate) use error::TokenError;
pub(crate) use find::find_existing;
pub(crate) use keygen::{default_key_label, generate};
pub(crate) use module::Module;
pub(crate) use reference::{KeyProtection, Recorded, TokenIdentity, TokenRef};
pub(crate) use sign::{TokenKey, TokenSet, Wanted};
