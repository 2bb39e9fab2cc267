//! What a trust anchor anchors: a target (which repository, which Factory)
//! and a chain of it, and which anchors a proposal's chain is bound to.
//!
//! Everything a proposal says about its target is untrusted, so an anchor is
//! found two ways, and a proposal's chain must chain from every anchor found
//! (never "first use" for it):
//!
//! * **by name**: the anchor's [`TargetId`] and [`ChainKind`] are the ones
//!   the proposal claims. A [`TargetId`] is built from typed fields, never
//!   from free text, and archive entry names come from its sha256 (see
//!   [`TargetId::digest`]);
//! * **by keys**: the proposal's current root lists a root key (compared by
//!   content: its SPKI fingerprint) that the anchor lists, in its root, the
//!   root it replaced, or any root of that chain this archive verified
//!   before. Renaming the target, the path, the URL or the Factory does not
//!   change the keys, so renaming gains nothing.
//!
//! Anchors written by an older signer were keyed by the proposal's chain
//! name alone ("legacy"): such an anchor stands for whatever target the
//! archive was used for, so it binds every proposal chain of that name, and
//! the first target that chains from it takes it over (the new archive
//! records the binding).
//!
//! The TUF repository's identity is the sha256 of its `1.root.json`, where
//! the proposal knows it: the history entry of version 1, else, when the
//! current root is version 1, the hash of that root as the proposal carries
//! it. Where neither is available (the submitter started from a root it
//! trusted, not from version 1), the identity is the set of root key ids of
//! the first root this archive anchored for it: such a proposal is then
//! found by keys.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use ceremony::proposal::{Chain, Proposal, Target};
use ceremony::untrusted::escape;
use ceremony::{Dialect, RootMetadata};

/// A chain, typed: the proposal's own [`ceremony::proposal::ChainName`] (one type, so that
/// what the proposal check accepts and what anchors are filed under cannot
/// drift apart).
pub use ceremony::proposal::ChainName as ChainKind;

/// A proposal whose chains cannot be anchored.
#[derive(Debug, Error)]
pub enum AnchorError {
    /// A chain name that is not one of the target's chains.
    #[error(
        "the proposal names a chain {name:?}, but a {target} has only the chain(s) {expected}: \
         refusing (chain names are exact, without spaces or capitals)"
    )]
    UnknownChain {
        /// The name, escaped.
        name: String,
        /// The kind of target.
        target: &'static str,
        /// The chains it has.
        expected: &'static str,
    },
    /// The same chain twice.
    #[error("the proposal holds the chain {0} twice: refusing")]
    DuplicateChain(ChainKind),
    /// Two different hashes for version 1 in one history.
    #[error("chain {0}: the proposal's history names two different 1.root.json files: refusing")]
    AmbiguousFirstRoot(ChainKind),
}

/// The chain `chain` of `proposal` stands for; any other name is refused
/// (exact match: `root `, `Root`, `ci2` are not chains).
pub fn chain_kind(proposal: &Proposal, chain: &Chain) -> Result<ChainKind, AnchorError> {
    let (allowed, target, expected): (&[ChainKind], _, _) = match proposal.target {
        Target::Factory { .. } => (
            &[ChainKind::Ci, ChainKind::Prod],
            "FoundriesFactory",
            "ci, prod",
        ),
        Target::TufDir { .. } | Target::TufHttp { .. } => {
            (&[ChainKind::Root], "TUF repository", "root")
        }
    };
    match ChainKind::from_name(&chain.name) {
        Some(k) if allowed.contains(&k) => Ok(k),
        _ => Err(AnchorError::UnknownChain {
            name: escape(&chain.name).into_owned(),
            target,
            expected,
        }),
    }
}

/// Every chain of the proposal as a [`ChainKind`], each at most once.
pub fn chain_kinds(proposal: &Proposal) -> Result<Vec<ChainKind>, AnchorError> {
    let mut kinds = Vec::new();
    for chain in &proposal.chains {
        let k = chain_kind(proposal, chain)?;
        if kinds.contains(&k) {
            return Err(AnchorError::DuplicateChain(k));
        }
        kinds.push(k);
    }
    Ok(kinds)
}

/// Which target an anchor anchors: typed, normalised, and hashed into the
/// archive's entry names (never used as a name itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TargetId {
    /// A FoundriesFactory: its name and API base URL (lower-case scheme and
    /// host, no default port, no trailing slash).
    Factory {
        /// The metadata dialect.
        dialect: Dialect,
        /// The Factory's name, exactly.
        factory: String,
        /// The API base URL, normalised.
        api: String,
    },
    /// A TUF repository, by the sha256 of its `1.root.json` (lower-case hex).
    TufRepository {
        /// The metadata dialect.
        dialect: Dialect,
        /// sha256 of version 1.
        v1_sha256: String,
    },
    /// A TUF repository whose version 1 was unknown: the root key ids of the
    /// first root this archive anchored for it, sorted.
    TufFirstAnchoredKeys {
        /// The metadata dialect.
        dialect: Dialect,
        /// The key ids.
        root_keyids: Vec<String>,
    },
}

impl TargetId {
    /// sha256 (hex) of the identity's JSON: the folder of its anchors in
    /// the archive.
    pub fn digest(&self) -> String {
        let bytes = serde_json::to_vec(self).expect("a target identity always serialises");
        ceremony::sha256::hex(&bytes)
    }

    /// The dialect of its roots.
    pub fn dialect(&self) -> Dialect {
        match self {
            TargetId::Factory { dialect, .. }
            | TargetId::TufRepository { dialect, .. }
            | TargetId::TufFirstAnchoredKeys { dialect, .. } => *dialect,
        }
    }

    /// In words, in full, every untrusted field escaped.
    pub fn describe(&self) -> String {
        match self {
            TargetId::Factory {
                factory, api, ..
            } => format!("FoundriesFactory {} ({})", escape(factory), escape(api)),
            TargetId::TufRepository {
                dialect, v1_sha256, ..
            } => format!(
                "TUF repository ({dialect}) whose 1.root.json has sha256 {}",
                escape(v1_sha256)
            ),
            TargetId::TufFirstAnchoredKeys {
                dialect,
                root_keyids,
            } => format!(
                "TUF repository ({dialect}; its 1.root.json unknown) first anchored with root key(s) {}",
                root_keyids
                    .iter()
                    .map(|k| escape(k).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The API base URL as an identity: lower-case scheme and host, the
/// default port dropped, no trailing slash.
pub fn normalise_api(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s.to_ascii_lowercase()), r),
        None => (None, url),
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut authority = authority.to_ascii_lowercase();
    let default_port = match scheme.as_deref() {
        Some("https") => Some(":443"),
        Some("http") => Some(":80"),
        _ => None,
    };
    if let Some(p) = default_port {
        if let Some(stripped) = authority.strip_suffix(p) {
            authority = stripped.to_string();
        }
    }
    let path = path.trim_end_matches('/');
    match scheme {
        Some(s) => format!("{s}://{authority}{path}"),
        None => format!("{authority}{path}"),
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The target a proposal's chain claims (see the module docs for a TUF
/// repository's identity).
pub fn target_id(
    proposal: &Proposal,
    chain: &Chain,
    kind: ChainKind,
    current: &RootMetadata,
) -> Result<TargetId, AnchorError> {
    let dialect = proposal.dialect;
    if let Target::Factory { factory, api } = &proposal.target {
        return Ok(TargetId::Factory {
            dialect,
            factory: factory.clone(),
            api: normalise_api(api),
        });
    }
    let firsts: BTreeSet<String> = chain
        .history
        .iter()
        .filter(|h| h.version == 1 && is_sha256_hex(&h.sha256))
        .map(|h| h.sha256.to_ascii_lowercase())
        .collect();
    if firsts.len() > 1 {
        return Err(AnchorError::AmbiguousFirstRoot(kind));
    }
    if let Some(h) = firsts.into_iter().next() {
        return Ok(TargetId::TufRepository {
            dialect,
            v1_sha256: h,
        });
    }
    if current.version().ok() == Some(1) {
        return Ok(TargetId::TufRepository {
            dialect,
            v1_sha256: ceremony::sha256::hex(&current.to_bytes()),
        });
    }
    let mut root_keyids = current.role("root").map(|r| r.keyids).unwrap_or_default();
    root_keyids.sort();
    root_keyids.dedup();
    Ok(TargetId::TufFirstAnchoredKeys {
        dialect,
        root_keyids,
    })
}

/// The fingerprints (sha256 of the SPKI DER: the key's content, whatever
/// its id) of the root keys `root` lists.
pub fn root_key_fingerprints(root: &RootMetadata) -> BTreeSet<String> {
    let Ok(role) = root.role("root") else {
        return BTreeSet::new();
    };
    role.keyids
        .iter()
        .filter_map(|id| root.key(id).ok())
        .map(|k| k.fingerprint())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_normalised() {
        for (a, b) in [
            ("https://api.foundries.io", "https://api.foundries.io"),
            ("https://API.Foundries.IO/", "https://api.foundries.io"),
            ("HTTPS://api.foundries.io:443//", "https://api.foundries.io"),
            ("http://127.0.0.1:80/x/", "http://127.0.0.1/x"),
            ("http://127.0.0.1:8080/X/", "http://127.0.0.1:8080/X"),
        ] {
            assert_eq!(normalise_api(a), b, "{a}");
        }
        assert_ne!(
            normalise_api("https://api.foundries.io"),
            normalise_api("https://api.foundries.io.evil")
        );
    }

    #[test]
    fn chain_names_exact() {
        for name in ["root", "ci", "prod"] {
            assert_eq!(ChainKind::from_name(name).unwrap().as_str(), name);
        }
        for name in ["root ", "Root", "ci2", "", "a/b", "..", "ROOT"] {
            assert!(ChainKind::from_name(name).is_none(), "{name:?}");
        }
    }

    fn tuf_proposal(version: u64, history: &[(u64, &str)]) -> (Proposal, RootMetadata) {
        let k = ceremony::keys::PrivateKey::generate(ceremony::keys::NewKeyType::Ed25519)
            .unwrap()
            .public_key();
        let d = Dialect::Tuf;
        let role = serde_json::json!({"keyids": [k.key_id(d)], "threshold": 1});
        let root = serde_json::json!({"signatures": [], "signed": {"_type": "root",
            "spec_version": "1.0.31", "consistent_snapshot": true,
            "expires": "2030-01-01T00:00:00Z", "version": version,
            "keys": {k.key_id(d): k.to_key_object(d)},
            "roles": {"root": role, "targets": role, "snapshot": role, "timestamp": role}}});
        let p = serde_json::json!({
            "format": ceremony::proposal::PROPOSAL_FORMAT, "dialect": "tuf",
            "target": {"kind": "tuf-dir", "path": "/x"}, "created": "2029-01-01T00:00:00Z",
            "chains": [{"name": "root", "current": root.clone(), "history":
                history.iter().map(|(v, h)| serde_json::json!({"version": v, "sha256": h}))
                    .collect::<Vec<_>>()}],
            "change": {"expires": "2030-06-01T00:00:00Z"}});
        let p: Proposal = serde_json::from_value(p).unwrap();
        (p, RootMetadata::from_value(root, d).unwrap())
    }

    #[test]
    fn tuf_identity_from_version_1() {
        let h1 = "AB".repeat(32);
        let (p, current) = tuf_proposal(3, &[(1, &h1), (2, &"cd".repeat(32))]);
        let t = target_id(&p, &p.chains[0], ChainKind::Root, &current).unwrap();
        assert_eq!(
            t,
            TargetId::TufRepository {
                dialect: Dialect::Tuf,
                v1_sha256: h1.to_ascii_lowercase()
            }
        );
        // Two different version 1 files: refused.
        let (p, current) = tuf_proposal(3, &[(1, &h1), (1, &"cd".repeat(32))]);
        assert!(target_id(&p, &p.chains[0], ChainKind::Root, &current).is_err());
        // The current root is version 1: its own hash.
        let (p, current) = tuf_proposal(1, &[]);
        let t = target_id(&p, &p.chains[0], ChainKind::Root, &current).unwrap();
        assert_eq!(
            t,
            TargetId::TufRepository {
                dialect: Dialect::Tuf,
                v1_sha256: ceremony::sha256::hex(&current.to_bytes())
            }
        );
        // Neither: the root key ids; a hash that is no sha256 is no identity.
        let (p, current) = tuf_proposal(4, &[(1, "not-a-hash")]);
        let t = target_id(&p, &p.chains[0], ChainKind::Root, &current).unwrap();
        assert_eq!(
            t,
            TargetId::TufFirstAnchoredKeys {
                dialect: Dialect::Tuf,
                root_keyids: current.role("root").unwrap().keyids
            }
        );
        // The location does not change the identity.
        let (mut p2, _) = tuf_proposal(3, &[(1, &h1)]);
        p2.target = Target::TufHttp {
            url: "https://elsewhere".into(),
        };
        let (p1, c1) = tuf_proposal(3, &[(1, &h1)]);
        assert_eq!(
            target_id(&p1, &p1.chains[0], ChainKind::Root, &c1).unwrap(),
            target_id(&p2, &p2.chains[0], ChainKind::Root, &c1).unwrap()
        );
    }

    #[test]
    fn digests_differ_by_every_field() {
        let a = TargetId::Factory {
            dialect: Dialect::OtaTuf,
            factory: "acme".into(),
            api: "https://api.foundries.io".into(),
        };
        let b = TargetId::Factory {
            dialect: Dialect::OtaTuf,
            factory: "acme2".into(),
            api: "https://api.foundries.io".into(),
        };
        let c = TargetId::TufRepository {
            dialect: Dialect::OtaTuf,
            v1_sha256: "00".repeat(32),
        };
        assert_eq!(a.digest().len(), 64);
        assert_ne!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
        assert_eq!(a.digest(), a.clone().digest());
        assert!(b.describe().contains("acme2"));
        let evil = TargetId::Factory {
            dialect: Dialect::OtaTuf,
            factory: "a\u{1b}[2Jb".into(),
            api: "x".into(),
        };
        assert!(!evil.describe().contains('\u{1b}'), "{}", evil.describe());
    }
}
