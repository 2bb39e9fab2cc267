//! `ceremony`: the shared core of tuf-ceremony.
//!
//! Both binaries (the online `submitter` and the offline `signer`) build on
//! this crate, so that there is one implementation of everything whose answer
//! must agree on both sides of the air gap: the two root dialects, canonical
//! JSON, keys and signatures, and the rotation rules. The crate holds no
//! network code; the signer links it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod audit;
pub mod bundle;
pub mod bundle_check;
pub mod canonical;
pub mod cosign;
pub mod crossing;
pub mod dialect;
pub mod diff;
pub mod fingerprint;
pub mod fsio;
mod html;
pub mod keys;
pub mod names;
pub mod proposal;
pub mod pubkey;
pub mod report;
pub mod resign;
pub mod root;
pub mod rotation;
pub mod rules;
pub mod sha256;
pub mod strict_json;
pub mod transcript;
pub mod transport;
pub mod untrusted;
pub mod wave;
pub mod words;

pub use dialect::Dialect;
pub use root::RootMetadata;
