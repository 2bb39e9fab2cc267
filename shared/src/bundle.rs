//! The bundle: the signed answer to a proposal, carried back across the gap.
//!
//! It names the proposal it answers by hash, so the submitter uploads it only
//! for that proposal, and it says whether it is complete: in a root held by
//! several people each holder writes a partial bundle, and `submitter merge`
//! combines them until every threshold is met.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crossing::{check_format, quote_name, CrossingError, MAX_CROSSING_FILE};
use crate::dialect::Dialect;
use crate::diff::key_description;
use crate::proposal::{Proposal, Target};
use crate::root::RootMetadata;
use crate::rotation::Plans;

/// The `format` of a bundle file this version writes and reads.
pub const BUNDLE_FORMAT: &str = "tuf-ceremony/bundle@1";

/// One new root, for the chain of the same name in the proposal.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignedRoot {
    /// `root`, `ci` or `prod`.
    pub name: String,
    /// The signed root envelope, exactly as it will be uploaded.
    pub root: Value,
}

/// A key this ceremony added to the root.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewKey {
    /// The id the new root lists it under.
    pub keyid: String,
    /// The key object, in the bundle's dialect.
    pub key: Value,
    /// sha256 of the public key (SPKI DER).
    pub fingerprint: String,
    /// `ed25519`, `rsa-4096`, …
    pub description: String,
}

/// A bundle file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Bundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// sha256 of the exact bytes of the proposal this bundle answers.
    pub proposal_sha256: String,
    /// The dialect of the roots.
    pub dialect: Dialect,
    /// Where the roots go (copied from the proposal).
    pub target: Target,
    /// The server's transaction id, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txid: Option<String>,
    /// The new roots, one per chain of the proposal.
    pub roots: Vec<SignedRoot>,
    /// Keys added by this ceremony.
    #[serde(default)]
    pub new_keys: Vec<NewKey>,
    /// Whether every threshold of every root is met.
    pub complete: bool,
    /// For a partial bundle: which signatures are still missing, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// The ceremony transcript's signed head, where one was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_head: Option<Value>,
    /// A targets key rotation's signatures of production targets by the new
    /// offline targets key: `{tag: [signature]}`, PUT as fioctl's
    /// `targets-signatures` ([`crate::resign`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub targets_signatures: BTreeMap<String, Vec<Value>>,
    /// The same for waves' targets: `{wave: [signature]}`, PUT as
    /// `waves-signatures`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub waves_signatures: BTreeMap<String, Vec<Value>>,
}

/// Room, in a bundle's size bound, for what is not known before signing:
/// the transcript's signed head (a hash and up to 32 head signatures of
/// RSA-4096 size) and the `missing` lines of a partial bundle.
const UNKNOWN_BEFORE_SIGNING: usize = 64 * 1024;

/// How far the signing got: whether every threshold is met, and if not,
/// which signatures other holders must still add, in words.
#[derive(Clone, Debug)]
pub struct Completion {
    /// Every threshold of every new root is met.
    pub complete: bool,
    /// For a partial bundle: what is missing.
    pub missing: Vec<String>,
}

impl Bundle {
    /// The bundle answering `proposal` (whose exact bytes hash to
    /// `proposal_sha256`) with the signed new roots of `plans`. The new keys
    /// are those of the first chain: every chain adds the same keys.
    pub fn from_plans(
        proposal: &Proposal,
        proposal_sha256: &str,
        plans: &Plans,
        completion: Completion,
        transcript_head: Option<Value>,
    ) -> Bundle {
        Bundle {
            format: BUNDLE_FORMAT.into(),
            proposal_sha256: proposal_sha256.into(),
            dialect: proposal.dialect,
            target: proposal.target.clone(),
            txid: proposal.txid.clone(),
            roots: plans
                .iter()
                .map(|p| SignedRoot {
                    name: p.name.clone(),
                    root: p.new.envelope().clone(),
                })
                .collect(),
            new_keys: plans
                .first()
                .added
                .iter()
                .map(|a| NewKey {
                    keyid: a.keyid.clone(),
                    key: a.key.to_key_object(proposal.dialect),
                    fingerprint: a.key.fingerprint(),
                    description: key_description(&a.key),
                })
                .collect(),
            complete: completion.complete,
            missing: completion.missing,
            transcript_head,
            targets_signatures: BTreeMap::new(),
            waves_signatures: BTreeMap::new(),
        }
    }

    /// The largest a bundle answering `proposal` with `plans` can be, for a
    /// check before anything is signed: `plans` should hold each new root
    /// at its upload bound ([`crate::rotation::upload_bound`]).
    pub fn size_bound(proposal: &Proposal, proposal_sha256: &str, plans: &Plans) -> usize {
        let bundle = Bundle::from_plans(
            proposal,
            proposal_sha256,
            plans,
            Completion {
                complete: true,
                missing: Vec::new(),
            },
            None,
        );
        bundle.to_bytes().len() + UNKNOWN_BEFORE_SIGNING
    }

    /// Refuses a bundle whose [`Bundle::size_bound`] is over the limit of a
    /// file that crosses the gap; returns the bound.
    pub fn check_size_bound(
        proposal: &Proposal,
        proposal_sha256: &str,
        plans: &Plans,
    ) -> Result<usize, CrossingError> {
        let size = Bundle::size_bound(proposal, proposal_sha256, plans);
        if size > MAX_CROSSING_FILE {
            return Err(CrossingError::TooLarge(size));
        }
        Ok(size)
    }

    /// Parses a bundle file, refusing another format or version, and a root
    /// whose envelope carries anything beside `signed` and `signatures`
    /// (the signer writes nothing else, no signature covers it, and it
    /// would be uploaded).
    pub fn from_slice(bytes: &[u8]) -> Result<Bundle, CrossingError> {
        let value = check_format(bytes, BUNDLE_FORMAT)?;
        let bundle: Bundle =
            serde_json::from_value(value).map_err(|e| CrossingError::Fields(e.to_string()))?;
        if bundle.roots.is_empty() {
            return Err(CrossingError::Fields("the bundle holds no roots".into()));
        }
        for r in &bundle.roots {
            bundle.root(r)?;
            if let Some(extra) = r
                .root
                .as_object()
                .and_then(|o| o.keys().find(|k| *k != "signed" && *k != "signatures"))
            {
                return Err(CrossingError::Refused(format!(
                    "the bundle's {} root carries the field {} beside \"signed\" and \
                     \"signatures\": no signature covers it and the signer never writes one. \
                     Refused; use the bundle exactly as the signer wrote it",
                    quote_name(&r.name),
                    quote_name(extra)
                )));
            }
        }
        Ok(bundle)
    }

    /// The bundle as the bytes of a file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("a bundle always serialises");
        out.push(b'\n');
        out
    }

    /// One signed root, parsed.
    pub fn root(&self, signed: &SignedRoot) -> Result<RootMetadata, CrossingError> {
        RootMetadata::from_value(signed.root.clone(), self.dialect).map_err(|source| {
            CrossingError::Root {
                what: format!("{} root", signed.name),
                source,
            }
        })
    }
}
