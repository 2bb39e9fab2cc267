//! Checking a bundle against the proposal it answers, and merging partial
//! bundles.
//!
//! The submitter runs these before it sends anything (a bundle for another
//! proposal, another target, or with thresholds unmet never reaches a
//! server), `submitter merge` combines the partial bundles of a root held by
//! several people, and the signer can use [`bundle_status`] to say what a
//! partial bundle still lacks. Completeness is always recomputed with the
//! rotation rules; the `complete` flag a bundle carries is never trusted.

use serde::Serialize;
use thiserror::Error;
use time::OffsetDateTime;

use crate::bundle::{Bundle, SignedRoot};
use crate::crossing::CrossingError;
use crate::proposal::{Chain, ChainName, Proposal, Target};
use crate::root::RootMetadata;
use crate::rotation;
use crate::rules::{check_step, Rule, Verdict};

/// Why a bundle does not answer a proposal, or bundles cannot be merged.
#[derive(Debug, Error)]
pub enum BundleMismatch {
    /// The bundle names another proposal.
    #[error(
        "this bundle answers another proposal (its proposal_sha256 is {found}, but the proposal \
         given hashes to {expected}): give the proposal it was signed from, or sign this one"
    )]
    Proposal {
        /// sha256 of the proposal given.
        expected: String,
        /// What the bundle names.
        found: String,
    },
    /// The bundle is for another repository or Factory.
    #[error("this bundle is for {bundle}, but the proposal is for {proposal}")]
    Target {
        /// The bundle's target.
        bundle: Target,
        /// The proposal's target.
        proposal: Target,
    },
    /// Dialects differ.
    #[error("this bundle is in the {bundle} dialect, but the proposal is in {proposal}")]
    Dialect {
        /// The bundle's.
        bundle: crate::Dialect,
        /// The proposal's.
        proposal: crate::Dialect,
    },
    /// The transaction ids differ.
    #[error("this bundle is for transaction {bundle:?}, but the proposal is for {proposal:?}")]
    Txid {
        /// The bundle's.
        bundle: Option<String>,
        /// The proposal's.
        proposal: Option<String>,
    },
    /// The bundle's roots do not match the proposal's chains one to one.
    #[error("{0}")]
    Chains(String),
    /// Bundles to merge disagree on what was signed.
    #[error("{0}")]
    Disagree(String),
    /// A root inside is unusable.
    #[error(transparent)]
    Crossing(#[from] CrossingError),
}

/// One chain's new root, judged against the chain's current root.
#[derive(Clone, Debug, Serialize)]
pub struct ChainStatus {
    /// `root`, `ci` or `prod`.
    pub name: String,
    /// The rules' verdict (expiry checked: the new root is a final root).
    pub verdict: Verdict,
}

/// How a bundle stands against its proposal.
#[derive(Clone, Debug, Serialize)]
pub struct BundleStatus {
    /// One entry per chain, in the proposal's order.
    pub chains: Vec<ChainStatus>,
}

impl BundleStatus {
    /// Whether every new root passes every rule.
    pub fn complete(&self) -> bool {
        self.chains.iter().all(|c| c.verdict.ok())
    }

    /// Whether the only thing wrong is signatures still to be made (a
    /// partial bundle), as opposed to a root that no signature can fix.
    pub fn only_signatures_missing(&self) -> bool {
        self.chains.iter().all(|c| {
            c.verdict
                .failures
                .iter()
                .all(|f| matches!(f.rule, Rule::OldThreshold | Rule::NewThreshold))
        })
    }

    /// Every broken rule, as `chain vN: rule: message` lines; for a partial
    /// bundle these say which signatures are missing.
    pub fn problems(&self) -> Vec<String> {
        self.chains
            .iter()
            .flat_map(|c| {
                let v = c
                    .verdict
                    .version
                    .map_or_else(|| "?".to_string(), |v| v.to_string());
                c.verdict
                    .failures
                    .iter()
                    .map(move |f| format!("{} v{v}: {}: {}", c.name, f.rule, f.message))
            })
            .collect()
    }
}

/// Checks, without looking at any root's signatures, that `bundle` answers
/// the proposal whose exact bytes are `proposal_bytes`: same hash, target,
/// dialect and transaction, and one new root for each of its chains.
pub fn check_answers(
    proposal_bytes: &[u8],
    proposal: &Proposal,
    bundle: &Bundle,
) -> Result<(), BundleMismatch> {
    let expected = crate::sha256::hex(proposal_bytes);
    if !bundle.proposal_sha256.eq_ignore_ascii_case(&expected) {
        return Err(BundleMismatch::Proposal {
            expected,
            found: bundle.proposal_sha256.clone(),
        });
    }
    if bundle.target != proposal.target {
        return Err(BundleMismatch::Target {
            bundle: bundle.target.clone(),
            proposal: proposal.target.clone(),
        });
    }
    if bundle.dialect != proposal.dialect {
        return Err(BundleMismatch::Dialect {
            bundle: bundle.dialect,
            proposal: proposal.dialect,
        });
    }
    if bundle.txid != proposal.txid {
        return Err(BundleMismatch::Txid {
            bundle: bundle.txid.clone(),
            proposal: proposal.txid.clone(),
        });
    }
    let chains = answered(proposal);
    for (name, _) in &chains {
        let n = bundle.roots.iter().filter(|r| &r.name == name).count();
        if n != 1 {
            return Err(BundleMismatch::Chains(format!(
                "the bundle holds {n} new root(s) for the {name} chain; it must hold exactly one"
            )));
        }
    }
    if let Some(extra) = bundle
        .roots
        .iter()
        .find(|r| !chains.iter().any(|(name, _)| name == &r.name))
    {
        return Err(BundleMismatch::Chains(format!(
            "the bundle holds a root for a {} chain, which the proposal does not have",
            extra.name
        )));
    }
    if rotation::derives_first_prod(proposal) {
        // The first production root must be exactly the one derived from
        // the bundle's CI root: that is what the signer showed.
        let root = |name: &str| bundle_root(bundle, name);
        let derived = rotation::first_prod_root(&root("ci")?)
            .map_err(|e| BundleMismatch::Chains(format!("prod: {e}")))?;
        if !same_signed(&derived, &root("prod")?) {
            return Err(BundleMismatch::Chains(
                "the bundle's prod root is not the first production root derived from its CI \
                 root (a copy with targets threshold 2), which is all a Factory with no \
                 production root yet can get"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// The chains a bundle answering `proposal` holds a root for, each with the
/// proposal's chain whose current root it replaces: the proposal's chains,
/// and for a Factory with no production root yet its first production root,
/// derived from the CI root and replacing it
/// ([`rotation::derives_first_prod`]).
fn answered(proposal: &Proposal) -> Vec<(String, &Chain)> {
    let mut out: Vec<(String, &Chain)> = proposal
        .chains
        .iter()
        .map(|c| (c.name.clone(), c))
        .collect();
    if rotation::derives_first_prod(proposal) {
        if let Some(ci) = proposal.chain(ChainName::Ci.as_str()) {
            out.push((ChainName::Prod.as_str().into(), ci));
        }
    }
    out
}

/// Runs the rotation rules on each new root of `bundle` against its chain's
/// current root in `proposal`, expiry checked as of `now`.
pub fn bundle_status(
    proposal: &Proposal,
    bundle: &Bundle,
    now: OffsetDateTime,
) -> Result<BundleStatus, BundleMismatch> {
    let chains = chain_pairs(proposal, bundle)?
        .into_iter()
        .map(|(name, current, new)| ChainStatus {
            verdict: check_step(Some(&current), &new, Some(now)),
            name,
        })
        .collect();
    Ok(BundleStatus { chains })
}

/// Each chain of `proposal` with its current root and the bundle's new root
/// for it, in the proposal's order; a chain the bundle lacks is an error.
pub fn chain_pairs(
    proposal: &Proposal,
    bundle: &Bundle,
) -> Result<Vec<(String, RootMetadata, RootMetadata)>, BundleMismatch> {
    answered(proposal)
        .into_iter()
        .map(|(name, chain)| {
            let current = proposal.current_root(chain)?;
            Ok((name.clone(), current, bundle_root(bundle, &name)?))
        })
        .collect()
}

/// The bundle's root for chain `name`, parsed.
fn bundle_root(bundle: &Bundle, name: &str) -> Result<RootMetadata, BundleMismatch> {
    let r = bundle
        .roots
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| BundleMismatch::Chains(format!("the bundle has no root for {name}")))?;
    Ok(bundle.root(r)?)
}

/// Whether two roots have the same `signed` body (canonical bytes equal).
pub fn same_signed(a: &RootMetadata, b: &RootMetadata) -> bool {
    a.dialect() == b.dialect()
        && matches!((a.canonical_signed(), b.canonical_signed()), (Ok(x), Ok(y)) if x == y)
}

/// Whether two roots are the same signed root: the same `signed` body and the
/// same set of signatures (order aside).
pub fn same_root(a: &RootMetadata, b: &RootMetadata) -> bool {
    if !same_signed(a, b) {
        return false;
    }
    let sigs = |r: &RootMetadata| {
        let mut v: Vec<String> = r.envelope()["signatures"]
            .as_array()
            .map(|l| l.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    sigs(a) == sigs(b)
}

/// Merges bundles that answer the same proposal: every bundle must answer
/// `proposal` and carry, per chain, the same `signed` body; the result holds
/// the union of their signatures (one per key id, the first bundle's where
/// two differ) and of their new keys, with `complete` and `missing`
/// recomputed by the rules as of `now`.
pub fn merge(
    proposal_bytes: &[u8],
    proposal: &Proposal,
    bundles: &[Bundle],
    now: OffsetDateTime,
) -> Result<Bundle, BundleMismatch> {
    let Some(first) = bundles.first() else {
        return Err(BundleMismatch::Chains("no bundles to merge".into()));
    };
    for b in bundles {
        check_answers(proposal_bytes, proposal, b)?;
    }
    let mut out = first.clone();
    let mut roots = Vec::new();
    for (name, _) in answered(proposal) {
        let pick = |b: &Bundle| -> Result<RootMetadata, BundleMismatch> {
            let r = b.roots.iter().find(|r| r.name == name).ok_or_else(|| {
                BundleMismatch::Chains(format!("a bundle has no root for {name}"))
            })?;
            Ok(b.root(r)?)
        };
        let mut merged = pick(first)?;
        for (i, b) in bundles.iter().enumerate().skip(1) {
            let other = pick(b)?;
            if !same_signed(&merged, &other) {
                return Err(BundleMismatch::Disagree(format!(
                    "bundle {} signed a different {} root than bundle 1 (the signed bodies differ): \
                     partial bundles can only be merged when every holder built the same root; \
                     compare them with `submitter show`",
                    i + 1,
                    name
                )));
            }
            let have: Vec<String> = merged
                .signatures()
                .map_err(|e| BundleMismatch::Disagree(format!("{name}: {e}")))?
                .into_iter()
                .map(|s| s.keyid)
                .collect();
            if let Some(list) = other.envelope()["signatures"].as_array() {
                for s in list {
                    let id = s.get("keyid").and_then(|k| k.as_str()).unwrap_or("");
                    if !have.iter().any(|h| h == id) {
                        merged.add_signature_value(s.clone());
                    }
                }
            }
        }
        roots.push(SignedRoot {
            name: name.clone(),
            root: merged.envelope().clone(),
        });
    }
    out.roots = roots;
    for b in bundles.iter().skip(1) {
        for k in &b.new_keys {
            if !out.new_keys.iter().any(|o| o.keyid == k.keyid) {
                out.new_keys.push(k.clone());
            }
        }
        if out.transcript_head.is_none() {
            out.transcript_head = b.transcript_head.clone();
        }
    }
    let status = bundle_status(proposal, &out, now)?;
    out.complete = status.complete();
    out.missing = if out.complete {
        Vec::new()
    } else {
        status.problems()
    };
    Ok(out)
}
