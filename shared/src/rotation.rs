//! Building the new root(s) a proposal asks for.
//!
//! The signer never signs a root handed to it: it builds the new root here,
//! from the proposal's current root (or, for FoundriesFactory, the root the
//! server staged) and the requested change, the same way fioctl does:
//! replace the rotated root key ids with the new ones, drop keys no role
//! uses, keep thresholds unless told otherwise, set `expires`, clear the
//! signatures. `signer review` shows the result before any key exists, with
//! placeholder keys; `signer sign` builds it again with the real ones.

use serde_json::{Map, Value};
use thiserror::Error;
use time::{Duration, OffsetDateTime};

use crate::crossing::CrossingError;
use crate::dialect::Dialect;
use crate::keys::PublicKey;
use crate::proposal::{Proposal, Rotate};
use crate::root::{format_expires, parse_expires, RoleKeys, RootError, RootMetadata};

/// Why a proposal's change cannot be carried out.
#[derive(Debug, Error)]
pub enum RotationError {
    /// The proposal itself is unusable.
    #[error(transparent)]
    Crossing(#[from] CrossingError),
    /// A root in it is unusable.
    #[error(transparent)]
    Root(#[from] RootError),
    /// The change asks for something the root does not allow.
    #[error("{0}")]
    Change(String),
}

/// A key the new root gains, with the id it is listed under.
#[derive(Clone, Debug)]
pub struct AddedKey {
    /// Its id in the new root.
    pub keyid: String,
    /// The key.
    pub key: PublicKey,
}

/// The new root of one chain, ready to sign.
#[derive(Clone, Debug)]
pub struct ChainPlan {
    /// `root`, `ci` or `prod`.
    pub name: String,
    /// The root it replaces.
    pub current: RootMetadata,
    /// The new root, unsigned.
    pub new: RootMetadata,
    /// Root keys added.
    pub added: Vec<AddedKey>,
    /// Root key ids removed from the root role.
    pub removed: Vec<String>,
}

/// The plans of every chain of a proposal: never empty, since a proposal
/// always has a chain, and the first chain's plan is the one whose added
/// keys the bundle lists and the transcript's head is signed with. The type
/// holds the first plan apart so that nobody indexes `[0]` on a promise
/// kept elsewhere.
#[derive(Clone, Debug)]
pub struct Plans {
    first: ChainPlan,
    rest: Vec<ChainPlan>,
}

impl Plans {
    /// [`plan`], kept non-empty.
    pub fn build(
        proposal: &Proposal,
        new_keys: &[PublicKey],
        now: OffsetDateTime,
    ) -> Result<Plans, RotationError> {
        let mut all = plan(proposal, new_keys, now)?.into_iter();
        let first = all
            .next()
            .ok_or_else(|| RotationError::Change("the proposal names no chain".into()))?;
        Ok(Plans {
            first,
            rest: all.collect(),
        })
    }

    /// The plan of the proposal's first chain.
    pub fn first(&self) -> &ChainPlan {
        &self.first
    }

    /// Every plan, in the proposal's order of chains.
    pub fn iter(&self) -> impl Iterator<Item = &ChainPlan> {
        std::iter::once(&self.first).chain(&self.rest)
    }

    /// Every plan, to sign or to anchor.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut ChainPlan> {
        std::iter::once(&mut self.first).chain(&mut self.rest)
    }
}

/// How many new root keys the change needs: one per rotated key plus the
/// keys to add.
pub fn keys_needed(proposal: &Proposal) -> Result<usize, RotationError> {
    let chain = &proposal.chains[0];
    let current = proposal.current_root(chain)?;
    let rotated = match &proposal.change.rotate {
        None => 0,
        Some(Rotate::All) => current.role("root")?.keyids.len(),
        Some(Rotate::Keys(ids)) => ids.len(),
    };
    Ok(rotated + proposal.change.add_keys as usize)
}

/// Builds the new root of every chain of `proposal`, listing `new_keys` (in
/// order: replacements first, then additions) as the new root keys.
///
/// For a Factory's `prod` chain the new root is the new `ci` root with the
/// previous production root's targets threshold, as fioctl derives it.
pub fn plan(
    proposal: &Proposal,
    new_keys: &[PublicKey],
    now: OffsetDateTime,
) -> Result<Vec<ChainPlan>, RotationError> {
    let needed = keys_needed(proposal)?;
    if new_keys.len() != needed {
        return Err(RotationError::Change(format!(
            "the change needs {needed} new key(s), but {} were given",
            new_keys.len()
        )));
    }
    let mut plans: Vec<ChainPlan> = Vec::new();
    for chain in &proposal.chains {
        let current = proposal.current_root(chain)?;
        let derive_from_ci = chain.name == "prod" && proposal.dialect == Dialect::OtaTuf;
        if derive_from_ci {
            if let Some(ci) = plans.iter().find(|p| p.name == "ci") {
                let plan = derive_prod(ci, current)?;
                plans.push(plan);
                continue;
            }
        }
        let base = proposal.staged_root(chain)?;
        plans.push(plan_chain(
            proposal,
            &chain.name,
            current,
            base,
            new_keys,
            now,
        )?);
    }
    Ok(plans)
}

fn plan_chain(
    proposal: &Proposal,
    name: &str,
    current: RootMetadata,
    staged: Option<RootMetadata>,
    new_keys: &[PublicKey],
    now: OffsetDateTime,
) -> Result<ChainPlan, RotationError> {
    let change = &proposal.change;
    let dialect = proposal.dialect;
    let current_version = current.version()?;
    let mut new = match staged {
        Some(staged) => {
            let v = staged.version()?;
            if v != current_version + 1 {
                return Err(RotationError::Change(format!(
                    "{name}: the server staged version {v}, but the current root is version \
                     {current_version}; a new root must be version {}",
                    current_version + 1
                )));
            }
            staged
        }
        None => {
            let mut r = current.clone();
            r.set_version(current_version + 1);
            r
        }
    };

    let role = new.role("root")?;
    let rotated: Vec<String> = match &change.rotate {
        None => Vec::new(),
        Some(Rotate::All) => role.keyids.clone(),
        Some(Rotate::Keys(ids)) => ids.clone(),
    };
    for id in rotated.iter().chain(&change.remove_keys) {
        if !role.keyids.contains(id) {
            return Err(RotationError::Change(format!(
                "{name}: key {id} is not a root key of version {current_version}; root keys are: {}",
                role.keyids.join(", ")
            )));
        }
    }
    let removed: Vec<String> = role
        .keyids
        .iter()
        .filter(|id| rotated.contains(id) || change.remove_keys.contains(id))
        .cloned()
        .collect();

    let mut keyids: Vec<String> = role
        .keyids
        .iter()
        .filter(|id| !removed.contains(id))
        .cloned()
        .collect();
    let mut added = Vec::new();
    for key in new_keys {
        let keyid = key.key_id(dialect);
        if keyids.contains(&keyid) {
            return Err(RotationError::Change(format!(
                "{name}: new key {keyid} is already a root key"
            )));
        }
        new.insert_key(&keyid, key);
        keyids.push(keyid.clone());
        added.push(AddedKey {
            keyid,
            key: key.clone(),
        });
    }
    let threshold = change.threshold.unwrap_or(role.threshold);
    if threshold == 0 || threshold > keyids.len() as u64 {
        return Err(RotationError::Change(format!(
            "{name}: a root threshold of {threshold} cannot work with {} root key(s)",
            keyids.len()
        )));
    }
    new.set_role("root", &RoleKeys { keyids, threshold });

    let expires = parse_expires(&change.expires)
        .map_err(|e| RotationError::Change(format!("the requested expiry {e}")))?;
    if expires <= now {
        return Err(RotationError::Change(format!(
            "the requested expiry {} is not in the future (this machine's clock says {}); \
             check both clocks",
            change.expires,
            format_expires(now)
        )));
    }
    new.set_expires(expires);

    if dialect == Dialect::OtaTuf {
        if let Some(message) = &change.message {
            let mut log = new
                .signed()
                .get("x-changelog")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            log.insert("message".into(), Value::String(message.clone()));
            new.set_extension("x-changelog", Value::Object(log));
        }
        // `created-at` comes from the proposal, not this machine's clock, so
        // that every holder of a multi-holder root builds the same bytes.
        if let Some(polis) = &proposal.polis_id {
            let mut owners: Map<String, Value> = new
                .signed()
                .get("x-key-owners")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for a in &added {
                owners.insert(
                    a.keyid.clone(),
                    serde_json::json!({"polis-id": polis, "created-at": proposal.created}),
                );
            }
            new.set_extension("x-key-owners", Value::Object(owners));
        }
    }
    new.drop_unused_keys();
    new.clear_signatures();
    // The new root must have a canonical form before anyone is asked to sign.
    new.canonical_signed().map_err(RootError::from)?;

    Ok(ChainPlan {
        name: name.to_string(),
        current,
        new,
        added,
        removed,
    })
}

/// The production root fioctl derives: the new CI root, with the targets
/// threshold of the previous production root, and the production chain's
/// own next version.
fn derive_prod(ci: &ChainPlan, current: RootMetadata) -> Result<ChainPlan, RotationError> {
    let mut new = ci.new.clone();
    let targets_threshold = current.role("targets").map(|r| r.threshold).unwrap_or(2);
    let mut targets = new.role("targets")?;
    targets.threshold = targets_threshold;
    if targets.threshold as usize > targets.keyids.len() {
        return Err(RotationError::Change(format!(
            "prod: the production targets threshold {} exceeds the {} targets key(s) of the new root",
            targets.threshold,
            targets.keyids.len()
        )));
    }
    new.set_role("targets", &targets);
    new.set_version(current.version()? + 1);
    new.clear_signatures();
    Ok(ChainPlan {
        name: "prod".into(),
        current,
        new,
        added: ci.added.clone(),
        removed: ci.removed.clone(),
    })
}

/// Warnings a careful operator must acknowledge (`--force`) before signing.
pub fn guard_rails(plan: &ChainPlan, now: OffsetDateTime) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Ok(role) = plan.new.role("root") {
        let n = role.keyids.len() as u64;
        if n >= 2 && role.threshold == n {
            warnings.push(format!(
                "{}: root threshold {} of {n}: losing any one root key blocks every future rotation; \
                 use a threshold below the number of keys",
                plan.name, role.threshold
            ));
        }
    }
    if let Ok(exp) = plan.new.expires() {
        if exp - now < Duration::days(30) {
            warnings.push(format!(
                "{}: the new root expires in under 30 days ({}); devices stop updating when it does",
                plan.name,
                format_expires(exp)
            ));
        }
        if exp - now > Duration::days(5 * 365) {
            warnings.push(format!(
                "{}: the new root expires more than 5 years away ({}); a long-lived root leaves \
                 a stolen key useful for longer",
                plan.name,
                format_expires(exp)
            ));
        }
    }
    // A key that signed the current root and is removed without replacement.
    if let Ok(sigs) = plan.current.signatures() {
        let replaced = !plan.added.is_empty();
        for id in &plan.removed {
            if !replaced && sigs.iter().any(|s| &s.keyid == id) {
                warnings.push(format!(
                    "{}: key {id} signed the current root and is removed without a replacement",
                    plan.name
                ));
            }
        }
    }
    warnings
}
