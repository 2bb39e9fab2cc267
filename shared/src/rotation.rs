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
use crate::keys::KeyType;
use crate::keys::{NewKeyType, PublicKey};
use crate::proposal::{Chain, ChainName, KeyRole, Proposal, Rotate, Target};
use crate::root::{format_expires, parse_expires, RoleKeys, RootError, RootMetadata};
use crate::rules::next_version;

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
    /// The current root has the largest version there is.
    #[error(
        "{chain}: the current root is version {version}, the largest version there is: no root \
         can follow it. Refused; a repository this far on must be re-created"
    )]
    VersionExhausted {
        /// The chain.
        chain: String,
        /// Its current version (`u64::MAX`).
        version: u64,
    },
    /// A new root would be larger, as uploaded, than the dialect's clients
    /// read.
    #[error(
        "{chain}: the new root would be up to {size} bytes as uploaded (with every signature it \
         can get), but {dialect} clients refuse roots over {max} bytes. Refused before any key \
         is made; shrink the staged or current root (fewer keys, shorter fields) and propose again"
    )]
    RootTooLarge {
        /// The chain.
        chain: String,
        /// The bound on the bytes uploaded.
        size: usize,
        /// The dialect's limit.
        max: usize,
        /// The dialect.
        dialect: Dialect,
    },
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

    /// The plan of the first chain built: `root` for TUF, `ci` for a
    /// Factory that has a `ci` chain (whatever the proposal's order).
    pub fn first(&self) -> &ChainPlan {
        &self.first
    }

    /// Every plan, in the fixed order chains are built ([`ChainName`]'s:
    /// `ci` before `prod`), not the proposal's.
    pub fn iter(&self) -> impl Iterator<Item = &ChainPlan> {
        std::iter::once(&self.first).chain(&self.rest)
    }

    /// Every plan, to sign or to anchor.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut ChainPlan> {
        std::iter::once(&mut self.first).chain(&mut self.rest)
    }
}

/// The proposal's chains in the order they are built: [`ChainName`]'s
/// order, so that a Factory's `ci` is built first and `prod` derived from
/// it even where the proposal lists `prod` first.
pub fn build_order(proposal: &Proposal) -> Result<Vec<(ChainName, &Chain)>, RotationError> {
    let mut chains = proposal
        .chains
        .iter()
        .map(|c| Ok((proposal.chain_name(c)?, c)))
        .collect::<Result<Vec<_>, CrossingError>>()?;
    chains.sort_by_key(|(name, _)| *name);
    Ok(chains)
}

/// How many new root keys the change needs: one per rotated key plus the
/// keys to add, counted on the first chain built.
pub fn keys_needed(proposal: &Proposal) -> Result<usize, RotationError> {
    if proposal.change.sign_staged {
        return Ok(0);
    }
    let order = build_order(proposal)?;
    let (_, chain) = order
        .first()
        .ok_or_else(|| RotationError::Change("the proposal names no chain".into()))?;
    let current = proposal.current_root(chain)?;
    let rotated = match (&proposal.change.rotate, proposal.change.role) {
        (None, _) => 0,
        (Some(Rotate::All), KeyRole::Root) => current.role("root")?.keyids.len(),
        // Every offline targets key replaced by one new key; where the
        // online key is the only one, the first offline key is made.
        (Some(Rotate::All), KeyRole::Targets) => {
            let base = proposal.staged_root(chain)?.unwrap_or(current);
            offline_targets_keys(proposal, &base)?.len().max(1)
        }
        (Some(Rotate::Keys(ids)), _) => ids.len(),
    };
    Ok(rotated + proposal.change.add_keys as usize)
}

/// The offline targets keys a targets rotation replaces, whose signatures
/// mark the production and wave targets to re-sign: those it names, or
/// every offline targets key of the CI root it builds on (staged, else
/// current). None for any other change (a key only removed re-signs
/// nothing, as fioctl's `delete-offline-key`).
pub fn replaced_targets_keys(proposal: &Proposal) -> Result<Vec<String>, RotationError> {
    let c = &proposal.change;
    if c.role != KeyRole::Targets {
        return Ok(Vec::new());
    }
    match &c.rotate {
        None => Ok(Vec::new()),
        Some(Rotate::Keys(ids)) => Ok(ids.clone()),
        Some(Rotate::All) => {
            let Some(ci) = proposal.chain(ChainName::Ci.as_str()) else {
                return Ok(Vec::new());
            };
            let base = match proposal.staged_root(ci)? {
                Some(s) => s,
                None => proposal.current_root(ci)?,
            };
            offline_targets_keys(proposal, &base)
        }
    }
}

/// The offline targets keys of `root`: its targets role but the online key
/// the proposal names, which must be in it (else the server and the root
/// disagree about which key is online, and nothing is changed).
pub fn offline_targets_keys(
    proposal: &Proposal,
    root: &RootMetadata,
) -> Result<Vec<String>, RotationError> {
    let online = proposal.change.online_targets_key.as_deref().unwrap_or("");
    let ids = root.role("targets")?.keyids;
    if !ids.iter().any(|id| id == online) {
        return Err(RotationError::Change(format!(
            "the online targets key {online} (the server's updated.online-keys.targets) is not in \
             the root's targets role ({}): the server and its root disagree about which key is \
             online. Nothing is changed; cancel the transaction and propose again",
            ids.join(", ")
        )));
    }
    Ok(ids.into_iter().filter(|id| id != online).collect())
}

/// Builds the new root of every chain of `proposal`, listing `new_keys` (in
/// order: replacements first, then additions) as the new root keys.
///
/// Chains are built in [`build_order`]. For a Factory's `prod` chain the
/// new root is the new `ci` root with the previous production root's
/// targets threshold, as fioctl derives it.
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
    if proposal.change.sign_staged {
        let plans: Vec<ChainPlan> = build_order(proposal)?
            .into_iter()
            .map(|(_, chain)| plan_staged(proposal, chain))
            .collect::<Result<_, _>>()?;
        let named = |n: ChainName| plans.iter().find(|p| p.name == n.as_str());
        if let (Some(ci), Some(prod)) = (named(ChainName::Ci), named(ChainName::Prod)) {
            let differs = crate::cosign::prod_not_derived(&ci.new, &prod.new);
            if !differs.is_empty() {
                return Err(RotationError::Change(format!(
                    "prod: the staged production root differs from the staged CI root in {}, \
                     not only in its targets role and version as fioctl derives it; refused: \
                     ask the server (or the holder who staged it) to stage production roots \
                     derived from CI",
                    differs.join(", ")
                )));
            }
        }
        return Ok(plans);
    }
    let mut plans: Vec<ChainPlan> = Vec::new();
    for (name, chain) in build_order(proposal)? {
        let current = proposal.current_root(chain)?;
        if name == ChainName::Prod {
            if let Some(ci) = plans.iter().find(|p| p.name == ChainName::Ci.as_str()) {
                let staged = proposal.staged_root(chain)?;
                let plan = derive_prod(ci, current, staged.as_ref(), prod_threshold(proposal)?)?;
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
    if derives_first_prod(proposal) {
        if let Some(ci) = plans.iter().find(|p| p.name == ChainName::Ci.as_str()) {
            let plan = ChainPlan {
                name: ChainName::Prod.as_str().into(),
                // The CI root it replaces signs it, as fioctl signs both
                // roots with the same keys.
                current: ci.current.clone(),
                new: with_prod_threshold(first_prod_root(&ci.new)?, prod_threshold(proposal)?)?,
                added: ci.added.clone(),
                removed: ci.removed.clone(),
            };
            plans.push(plan);
        }
    }
    Ok(plans)
}

/// The plan of a change that signs the staged root as it is: the new root
/// is the staged root, its `signed` body untouched (no version bump, no
/// expiry, no changelog, no anchor), with only the staged signatures that
/// verify under a root key of the current or the staged root
/// ([`crate::cosign::keep_valid`]). Keys added and removed are what the
/// staged root's root role adds and removes.
fn plan_staged(proposal: &Proposal, chain: &Chain) -> Result<ChainPlan, RotationError> {
    let name = chain.name.as_str();
    let current = proposal.current_root(chain)?;
    let staged = proposal.staged_root(chain)?.ok_or_else(|| {
        RotationError::Change(format!("{name}: the server staged no root to sign"))
    })?;
    let current_version = current.version()?;
    let next = next_version(current_version).ok_or_else(|| RotationError::VersionExhausted {
        chain: name.to_string(),
        version: current_version,
    })?;
    let v = staged.version()?;
    if v != next {
        return Err(RotationError::Change(format!(
            "{name}: the server staged version {v}, but the current root is version \
             {current_version}; a new root must be version {next}"
        )));
    }
    let new = crate::cosign::keep_valid(&current, &only_signed_and_signatures(&staged)?)?;
    new.canonical_signed().map_err(RootError::from)?;
    let old_ids = current.role("root")?.keyids;
    let new_ids = new.role("root")?.keyids;
    let added = new_ids
        .iter()
        .filter(|id| !old_ids.contains(id))
        .filter_map(|id| {
            new.key(id).ok().map(|key| AddedKey {
                keyid: id.clone(),
                key,
            })
        })
        .collect();
    let removed = old_ids
        .iter()
        .filter(|id| !new_ids.contains(id))
        .cloned()
        .collect();
    Ok(ChainPlan {
        name: name.to_string(),
        current,
        new,
        added,
        removed,
    })
}

/// Whether `proposal` is for a Factory that has no production root yet: a
/// CI chain and no production chain. Its first production root is derived
/// from the new CI root ([`first_prod_root`]) and signed with it.
pub fn derives_first_prod(proposal: &Proposal) -> bool {
    matches!(proposal.target, Target::Factory { .. })
        && proposal.chain(ChainName::Ci.as_str()).is_some()
        && proposal.chain(ChainName::Prod.as_str()).is_none()
}

/// The first production root of a Factory that has none, as fioctl derives
/// it (`genProdTufRoot`, with no staged production root to take a threshold
/// from): a copy of the new CI root, its version included, with the targets
/// threshold [`FIRST_OFFLINE_PROD_TARGETS_THRESHOLD`]; unsigned.
pub fn first_prod_root(ci_new: &RootMetadata) -> Result<RootMetadata, RotationError> {
    let mut new = ci_new.clone();
    let mut targets = new.role("targets")?;
    targets.threshold = FIRST_OFFLINE_PROD_TARGETS_THRESHOLD;
    new.set_role("targets", &targets);
    new.clear_signatures();
    Ok(new)
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
    let next = next_version(current_version).ok_or_else(|| RotationError::VersionExhausted {
        chain: name.to_string(),
        version: current_version,
    })?;
    let mut new = match staged {
        Some(staged) => {
            let v = staged.version()?;
            if v != next {
                return Err(RotationError::Change(format!(
                    "{name}: the server staged version {v}, but the current root is version \
                     {current_version}; a new root must be version {next}"
                )));
            }
            only_signed_and_signatures(&staged)?
        }
        None => {
            let mut r = only_signed_and_signatures(&current)?;
            r.set_version(next);
            r
        }
    };

    let (added, removed) = match change.role {
        KeyRole::Root => edit_root_role(proposal, name, current_version, &mut new, new_keys)?,
        KeyRole::Targets => edit_targets_role(proposal, name, current_version, &mut new, new_keys)?,
    };

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
    // fioctl re-marshals a root through its Go structs before it signs, and
    // an empty `x-key-owners` vanishes there (omitempty): a root that kept
    // `{}` would not be the body a fioctl co-signer signs.
    if new
        .signed()
        .get("x-key-owners")
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        new.remove_extension("x-key-owners");
    }
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

/// Replaces, adds and removes root keys, and sets the root threshold.
fn edit_root_role(
    proposal: &Proposal,
    name: &str,
    current_version: u64,
    new: &mut RootMetadata,
    new_keys: &[PublicKey],
) -> Result<(Vec<AddedKey>, Vec<String>), RotationError> {
    let change = &proposal.change;
    let dialect = proposal.dialect;
    let role = new.role("root")?;
    let removed = taken_out(change, &role.keyids).map_err(|id| {
        RotationError::Change(format!(
            "{name}: key {id} is not a root key of version {current_version}; root keys are: {}",
            role.keyids.join(", ")
        ))
    })?;
    let mut keyids = without(&role.keyids, &removed);
    let taken = keyids.clone();
    let added = add_new_keys(new, dialect, &mut keyids, new_keys, &taken).map_err(|keyid| {
        RotationError::Change(format!("{name}: new key {keyid} is already a root key"))
    })?;
    let threshold = change.threshold.unwrap_or(role.threshold);
    if threshold == 0 || threshold > keyids.len() as u64 {
        return Err(RotationError::Change(format!(
            "{name}: a root threshold of {threshold} cannot work with {} root key(s)",
            keyids.len()
        )));
    }
    new.set_role("root", &RoleKeys { keyids, threshold });
    Ok((added, removed))
}

/// The ids `change` takes out of `replaceable` (rotated or removed), in
/// `replaceable`'s order; `Err` with the first id it names that is not
/// there.
fn taken_out(
    change: &crate::proposal::Change,
    replaceable: &[String],
) -> Result<Vec<String>, String> {
    let rotated: Vec<String> = match &change.rotate {
        None => Vec::new(),
        Some(Rotate::All) => replaceable.to_vec(),
        Some(Rotate::Keys(ids)) => ids.clone(),
    };
    if let Some(id) = rotated
        .iter()
        .chain(&change.remove_keys)
        .find(|id| !replaceable.contains(id))
    {
        return Err(id.clone());
    }
    Ok(replaceable
        .iter()
        .filter(|id| rotated.contains(id) || change.remove_keys.contains(id))
        .cloned()
        .collect())
}

/// `ids` without those in `out`, in order.
fn without(ids: &[String], out: &[String]) -> Vec<String> {
    ids.iter().filter(|id| !out.contains(id)).cloned().collect()
}

/// Lists `new_keys` in `new` and appends their ids to `keyids`; `Err` with
/// the id of a new key that is in `taken` (or given twice).
fn add_new_keys(
    new: &mut RootMetadata,
    dialect: Dialect,
    keyids: &mut Vec<String>,
    new_keys: &[PublicKey],
    taken: &[String],
) -> Result<Vec<AddedKey>, String> {
    let mut added = Vec::new();
    for key in new_keys {
        let keyid = key.key_id(dialect);
        if taken.contains(&keyid) || keyids.contains(&keyid) {
            return Err(keyid);
        }
        new.insert_key(&keyid, key);
        keyids.push(keyid.clone());
        added.push(AddedKey {
            keyid,
            key: key.clone(),
        });
    }
    Ok(added)
}

/// Replaces, adds and removes offline targets keys in the CI root's
/// targets role, as fioctl's `rotate-offline-key`, `add-offline-key` and
/// `delete-offline-key --role=targets` do: the online targets key stays,
/// the CI targets threshold stays (fioctl keeps it at 1; the production
/// threshold is set where the production root is derived).
fn edit_targets_role(
    proposal: &Proposal,
    name: &str,
    current_version: u64,
    new: &mut RootMetadata,
    new_keys: &[PublicKey],
) -> Result<(Vec<AddedKey>, Vec<String>), RotationError> {
    let change = &proposal.change;
    let dialect = proposal.dialect;
    let role = new.role("targets")?;
    let offline = offline_targets_keys(proposal, new)?;
    let removed = taken_out(change, &offline).map_err(|id| {
        RotationError::Change(format!(
            "{name}: key {id} is not an offline targets key of version {current_version}; \
             offline targets keys are: {}",
            if offline.is_empty() {
                "none (only the online key signs targets)".to_string()
            } else {
                offline.join(", ")
            }
        ))
    })?;
    let mut keyids = without(&role.keyids, &removed);
    let mut taken = keyids.clone();
    taken.extend(new.role("root")?.keyids);
    let added = add_new_keys(new, dialect, &mut keyids, new_keys, &taken).map_err(|keyid| {
        RotationError::Change(format!(
            "{name}: new key {keyid} is already a key of the root"
        ))
    })?;
    new.set_role(
        "targets",
        &RoleKeys {
            keyids,
            threshold: role.threshold,
        },
    );
    Ok((added, removed))
}

/// The production targets threshold a targets change asks for
/// (`set-threshold --role=targets`), if it asks for one.
fn prod_threshold(proposal: &Proposal) -> Result<Option<u64>, RotationError> {
    let c = &proposal.change;
    if c.role != KeyRole::Targets {
        return Ok(None);
    }
    if let Some(t) = c.threshold {
        if t < crate::proposal::MIN_PROD_TARGETS_THRESHOLD {
            return Err(RotationError::Change(format!(
                "prod: a production targets threshold of {t}: it must be at least {} while the \
                 online key signs CI targets",
                crate::proposal::MIN_PROD_TARGETS_THRESHOLD
            )));
        }
    }
    Ok(c.threshold)
}

/// `prod` with the production targets threshold `asked` for, where one
/// is: refused when its targets role has fewer keys, since no production
/// targets could then ever be signed (a threshold above the key count
/// that a root already has is kept as it is, as fioctl keeps it).
fn with_prod_threshold(
    mut prod: RootMetadata,
    asked: Option<u64>,
) -> Result<RootMetadata, RotationError> {
    let Some(t) = asked else {
        return Ok(prod);
    };
    let mut targets = prod.role("targets")?;
    if t > targets.keyids.len() as u64 {
        return Err(RotationError::Change(format!(
            "prod: a production targets threshold of {t} cannot be met by the {} targets key(s) \
             of the new root (the online key and {} offline); add offline targets keys in the \
             same change (--add N) or ask for a lower threshold",
            targets.keyids.len(),
            targets.keyids.len().saturating_sub(1)
        )));
    }
    targets.threshold = t;
    prod.set_role("targets", &targets);
    Ok(prod)
}

/// The targets threshold a Factory's production root gets when a change
/// is made, as fioctl decides it (`finalizeTufRootChanges`, commit 5e30fc6):
/// the production root the server staged keeps its threshold; with none
/// staged, fioctl writes 2 (`genProdTufRoot`), which is what taking the root
/// offline for the first time needs ("we still need to set it to 2 when
/// taking the TUF root offline for the first time"). Where the root was
/// taken offline before, we keep the current production root's threshold
/// instead, which is what the commit means to preserve and what the server
/// would have staged.
pub fn prod_targets_threshold(
    ci_current: &RootMetadata,
    prod_current: &RootMetadata,
    prod_staged: Option<&RootMetadata>,
) -> Result<u64, RotationError> {
    if let Some(staged) = prod_staged {
        return Ok(staged.role("targets")?.threshold);
    }
    if first_time_offline(ci_current) {
        return Ok(FIRST_OFFLINE_PROD_TARGETS_THRESHOLD);
    }
    Ok(prod_current.role("targets")?.threshold)
}

/// The production targets threshold fioctl sets when a Factory's root goes
/// offline: production targets then need the online key and an offline
/// targets key (aktualizr and python-tuf accept a threshold above the key
/// count; rules warn about it).
pub const FIRST_OFFLINE_PROD_TARGETS_THRESHOLD: u64 = 2;

/// Whether the current root's root keys are still the Factory's own first
/// root key(s): none has an `x-key-owners` entry. fioctl (since it tracks
/// owners, d0e3d2a) and this tool record an owner for every root key they
/// add; the key the server made for a new Factory has none. (Roots rotated
/// by fioctl before d0e3d2a have no owners either, but those releases set
/// the production threshold to 2 on every change, so 2 is what they hold.)
fn first_time_offline(ci_current: &RootMetadata) -> bool {
    let Ok(role) = ci_current.role("root") else {
        return false;
    };
    let owners = ci_current
        .signed()
        .get("x-key-owners")
        .and_then(Value::as_object);
    !role
        .keyids
        .iter()
        .any(|id| owners.is_some_and(|o| o.contains_key(id)))
}

/// The production root fioctl derives: the new CI root, with the targets
/// threshold [`prod_targets_threshold`] chooses, and the production chain's
/// own next version. A threshold above the targets key count is what every
/// Factory whose targets key is still online has in production; it is not
/// refused.
fn derive_prod(
    ci: &ChainPlan,
    current: RootMetadata,
    staged: Option<&RootMetadata>,
    asked: Option<u64>,
) -> Result<ChainPlan, RotationError> {
    let mut new = ci.new.clone();
    let mut targets = new.role("targets")?;
    targets.threshold = match asked {
        Some(t) => t,
        None => prod_targets_threshold(&ci.current, &current, staged)?,
    };
    new.set_role("targets", &targets);
    let mut new = with_prod_threshold(new, asked)?;
    let targets = new.role("targets")?;
    if targets.threshold == 0 {
        return Err(RotationError::Change(
            "prod: the production targets threshold would be 0; it must be at least 1".into(),
        ));
    }
    new.set_role("targets", &targets);
    let version = current.version()?;
    new.set_version(
        next_version(version).ok_or_else(|| RotationError::VersionExhausted {
            chain: ChainName::Prod.as_str().into(),
            version,
        })?,
    );
    new.clear_signatures();
    Ok(ChainPlan {
        name: ChainName::Prod.as_str().into(),
        current,
        new,
        added: ci.added.clone(),
        removed: ci.removed.clone(),
    })
}

/// A copy of `root` whose envelope holds only `signed` and `signatures`, in
/// the order it had them. Anything else beside them (a server's or an
/// attacker's field) is covered by no signature and shown by no rule: the
/// new root must not carry it to the repository.
fn only_signed_and_signatures(root: &RootMetadata) -> Result<RootMetadata, RootError> {
    let kept: Map<String, Value> = root
        .envelope()
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| *k == "signed" || *k == "signatures")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    RootMetadata::from_value(Value::Object(kept), root.dialect())
}

/// The largest signature, in bytes, a key of this type makes: Ed25519 64,
/// RSA the modulus size, ECDSA P-256 a DER signature of at most 72.
fn max_signature_len(key: &PublicKey) -> usize {
    match key.key_type() {
        KeyType::Ed25519 => 64,
        KeyType::Rsa => key.bits().div_ceil(8),
        KeyType::EcdsaP256 => 72,
    }
}

/// The longest `method` an ota-tuf signature entry carries
/// (`ecdsa-sha2-nistp256`): every entry is given it, for a bound.
const LONGEST_METHOD: &str = "ecdsa-sha2-nistp256";

/// `plan`'s new root as it will be uploaded at its largest: with a
/// signature of the largest size its key makes from every root key of the
/// current and the new root (no more can sign it). Its
/// [`RootMetadata::to_bytes`] is what the submitter writes and the rules
/// measure; a Factory's `PUT` carries it compact, which is smaller. The
/// transcript anchor is added after the confirmation: the caller sets one
/// (`transcript::set_anchor`, a sha256 in hex) on the plan first, since
/// this module does not depend on the transcript.
pub fn upload_bound(plan: &ChainPlan) -> RootMetadata {
    let mut root = plan.new.clone();
    let dialect = root.dialect();
    let mut ids: Vec<(String, Option<PublicKey>)> = Vec::new();
    for r in [&plan.current, &plan.new] {
        for id in r.role("root").map(|role| role.keyids).unwrap_or_default() {
            if !ids.iter().any(|(i, _)| *i == id) {
                let key = r.key(&id).ok();
                ids.push((id, key));
            }
        }
    }
    for (keyid, key) in ids {
        // A key that does not parse cannot sign; count it as the largest
        // RSA key aktualizr accepts anyway, on the safe side.
        let len = key.as_ref().map_or(512, max_signature_len);
        let raw = vec![0xffu8; len];
        let entry = match dialect {
            Dialect::OtaTuf => {
                use base64::Engine as _;
                serde_json::json!({
                    "keyid": keyid,
                    "method": LONGEST_METHOD,
                    "sig": base64::engine::general_purpose::STANDARD.encode(&raw),
                })
            }
            Dialect::Tuf => serde_json::json!({"keyid": keyid, "sig": hex::encode(&raw)}),
        };
        root.add_signature_value(entry);
    }
    root
}

/// Refuses a plan whose new root, at its [`upload_bound`], is over its
/// dialect's limit; returns the bound's size.
pub fn check_upload_size(plan: &ChainPlan) -> Result<usize, RotationError> {
    let size = upload_bound(plan).to_bytes().len();
    let dialect = plan.new.dialect();
    if size > dialect.max_root_size() {
        return Err(RotationError::RootTooLarge {
            chain: plan.name.clone(),
            size,
            max: dialect.max_root_size(),
            dialect,
        });
    }
    Ok(size)
}

/// Public keys of `key_type` to stand for keys not made yet when sizing the
/// new roots: their key objects, ids and signatures have exactly the size
/// real ones will have. The RSA ones are moduli of 4096 bits that are no
/// product of primes anyone knows (nothing ever verifies with them);
/// generating real RSA-4096 keys only to measure them would take seconds.
pub fn sizing_keys(key_type: NewKeyType, n: usize) -> Result<Vec<PublicKey>, RotationError> {
    (0..n)
        .map(|i| {
            let key = match key_type {
                NewKeyType::Ed25519 => {
                    crate::keys::PrivateKey::generate(NewKeyType::Ed25519).map(|k| k.public_key())
                }
                NewKeyType::Rsa4096 => {
                    PublicKey::from_rsa_components(&rsa_4096_modulus(i), &[0x01, 0x00, 0x01])
                }
            };
            key.map_err(|e| RotationError::Change(format!("cannot make a sizing key: {e}")))
        })
        .collect()
}

/// A 4096-bit odd modulus that differs for each `i`.
fn rsa_4096_modulus(i: usize) -> Vec<u8> {
    let mut modulus = vec![0xc5u8; 512];
    // Odd, and distinct for each i.
    modulus[504..].copy_from_slice(&((i as u64) << 1 | 1).to_be_bytes());
    modulus
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
    // A role other than root whose threshold goes down: the server's to
    // stage (fioctl keeps the staged production targets threshold), and
    // production targets at 1 need no offline key any more.
    for role in plan.current.role_names() {
        if role == "root" {
            continue;
        }
        if let (Ok(old), Ok(new)) = (plan.current.role(&role), plan.new.role(&role)) {
            if new.threshold < old.threshold {
                warnings.push(format!(
                    "{}: the {role} threshold is lowered from {} to {}: fewer keys sign \
                     {role} metadata from now on",
                    plan.name, old.threshold, new.threshold
                ));
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PrivateKey;
    use crate::proposal::{Change, Target, PROPOSAL_FORMAT};
    use serde_json::json;

    fn key() -> PublicKey {
        PrivateKey::generate(NewKeyType::Ed25519)
            .unwrap()
            .public_key()
    }

    /// An ota-tuf root of `version` with one root key and one online key,
    /// the targets role with `targets_threshold`.
    fn ota_root(version: u64, root_key: &PublicKey, online: &PublicKey) -> Value {
        let d = Dialect::OtaTuf;
        let (r, o) = (root_key.key_id(d), online.key_id(d));
        let role = json!({"keyids": [o], "threshold": 1});
        json!({"signatures": [], "signed": {
            "_type": "Root", "expires": "2030-01-01T00:00:00Z", "version": version,
            "keys": {r.clone(): root_key.to_key_object(d), o.clone(): online.to_key_object(d)},
            "roles": {"root": {"keyids": [r], "threshold": 1}, "snapshot": role,
                "targets": role, "timestamp": role},
        }})
    }

    fn factory(chains: Vec<Chain>) -> Proposal {
        Proposal {
            format: PROPOSAL_FORMAT.into(),
            dialect: Dialect::OtaTuf,
            target: Target::Factory {
                factory: "acme".into(),
                api: "https://api".into(),
            },
            txid: Some("t".into()),
            created: "2026-01-01T00:00:00Z".into(),
            chains,
            change: Change {
                rotate: Some(Rotate::All),
                expires: "2099-01-01T00:00:00Z".into(),
                ..Change::default()
            },
            polis_id: None,
            resign: None,
        }
    }

    fn chain(name: &str, current: Value, staged: Option<Value>) -> Chain {
        Chain {
            name: name.into(),
            current,
            staged,
            history: Vec::new(),
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn ci_is_built_before_prod_whatever_the_order() {
        let (rk, online) = (key(), key());
        let ci = ota_root(3, &rk, &online);
        let mut ci_staged = ota_root(4, &rk, &online);
        ci_staged["signed"]["x-changelog"] = json!({"message": "from ci"});
        // prod's own staged root, which must not be the base of prod's plan.
        let mut prod_staged = ota_root(8, &rk, &online);
        prod_staged["signed"]["x-evil"] = json!("prod's own");
        let prod = ota_root(7, &rk, &online);
        let new = key();
        for prod_first in [false, true] {
            let mut chains = vec![
                chain("ci", ci.clone(), Some(ci_staged.clone())),
                chain("prod", prod.clone(), Some(prod_staged.clone())),
            ];
            if prod_first {
                chains.reverse();
            }
            let p = factory(chains);
            let plans = Plans::build(&p, std::slice::from_ref(&new), now()).unwrap();
            let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(names, ["ci", "prod"], "prod first: {prod_first}");
            assert_eq!(plans.first().name, "ci");
            let prod_plan = plans.iter().nth(1).unwrap();
            assert_eq!(prod_plan.new.version().unwrap(), 8);
            assert!(prod_plan.new.signed().get("x-evil").is_none());
            assert_eq!(
                prod_plan.new.signed()["x-changelog"],
                json!({"message": "from ci"})
            );
        }
    }

    fn with_targets_threshold(mut root: Value, threshold: u64) -> Value {
        root["signed"]["roles"]["targets"]["threshold"] = json!(threshold);
        root
    }

    fn with_owner(mut root: Value, keyid: &str) -> Value {
        root["signed"]["x-key-owners"] =
            json!({keyid: {"polis-id": "p1", "created-at": "2025-01-01T00:00:00Z"}});
        root
    }

    fn prod_targets_of(p: &Proposal, new: &PublicKey) -> u64 {
        let plans = Plans::build(p, std::slice::from_ref(new), now()).unwrap();
        let prod = plans.iter().find(|p| p.name == "prod").unwrap();
        // The CI root keeps its own targets threshold whatever prod gets.
        assert_eq!(
            plans.first().new.role("targets").unwrap().threshold,
            p.current_root(&p.chains[0])
                .unwrap()
                .role("targets")
                .unwrap()
                .threshold
        );
        prod.new.role("targets").unwrap().threshold
    }

    #[test]
    fn production_targets_threshold_as_fioctl_derives_it() {
        let (rk, online, new) = (key(), key(), key());
        let rid = rk.key_id(Dialect::OtaTuf);
        let ci = ota_root(3, &rk, &online);
        let staged_ci = ota_root(4, &rk, &online);

        // The root goes offline for the first time (its key has no owner):
        // 2, whatever the current production root had.
        let p = factory(vec![
            chain("ci", ci.clone(), Some(staged_ci.clone())),
            chain("prod", ota_root(3, &rk, &online), None),
        ]);
        assert_eq!(prod_targets_of(&p, &new), 2);

        // Offline before (an owner is recorded): the current production
        // threshold is kept, 1 or 2.
        for current in [1, 2] {
            let p = factory(vec![
                chain("ci", with_owner(ci.clone(), &rid), None),
                chain(
                    "prod",
                    with_targets_threshold(ota_root(3, &rk, &online), current),
                    None,
                ),
            ]);
            assert_eq!(prod_targets_of(&p, &new), current);
        }

        // The server staged a production root: its threshold, first time
        // or not.
        for ci_current in [ci.clone(), with_owner(ci.clone(), &rid)] {
            let p = factory(vec![
                chain("ci", ci_current, Some(staged_ci.clone())),
                chain(
                    "prod",
                    with_targets_threshold(ota_root(3, &rk, &online), 2),
                    Some(with_targets_threshold(ota_root(4, &rk, &online), 1)),
                ),
            ]);
            assert_eq!(prod_targets_of(&p, &new), 1);
        }
    }

    #[test]
    fn a_factory_with_no_production_root_yet_derives_its_first_one_from_ci() {
        let (rk, online) = (key(), key());
        let p = factory(vec![chain("ci", ota_root(1, &rk, &online), None)]);
        let plans = Plans::build(&p, &[key()], now()).unwrap();
        let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["ci", "prod"]);
        let (ci, prod) = (plans.first(), plans.iter().nth(1).unwrap());
        assert_eq!(ci.new.version().unwrap(), 2);
        // fioctl's copy: the CI root's version, its keys, targets threshold 2,
        // and nothing else different.
        assert_eq!(prod.new.version().unwrap(), 2);
        assert_eq!(prod.new.role("targets").unwrap().threshold, 2);
        assert_eq!(ci.new.role("targets").unwrap().threshold, 1);
        let mut back = prod.new.clone();
        let mut t = back.role("targets").unwrap();
        t.threshold = 1;
        back.set_role("targets", &t);
        assert_eq!(back.signed(), ci.new.signed());
        assert_eq!(prod.current.signed(), ci.current.signed());
        // A TUF repository, or a Factory proposal with prod, derives nothing.
        let with_prod = factory(vec![
            chain("ci", ota_root(1, &rk, &online), None),
            chain("prod", ota_root(1, &rk, &online), None),
        ]);
        assert!(!derives_first_prod(&with_prod));
        assert!(derives_first_prod(&p));
    }

    #[test]
    fn owners_of_dropped_keys_are_removed_and_new_ones_recorded() {
        let (rk, online, new) = (key(), key(), key());
        let d = Dialect::OtaTuf;
        let mut current = with_owner(ota_root(1, &rk, &online), &rk.key_id(d));
        // An owner entry of a key that stays (the online one) is kept.
        current["signed"]["x-key-owners"][online.key_id(d)] = json!({"polis-id": "server"});
        let mut p = factory(vec![chain("ci", current, None)]);
        p.polis_id = Some("p2".into());
        let plans = Plans::build(&p, std::slice::from_ref(&new), now()).unwrap();
        let owners = plans.first().new.signed()["x-key-owners"]
            .as_object()
            .unwrap()
            .clone();
        let mut ids: Vec<&String> = owners.keys().collect();
        ids.sort();
        let mut want = [online.key_id(d), new.key_id(d)];
        want.sort();
        assert_eq!(ids, want.iter().collect::<Vec<_>>());
        assert_eq!(owners[&new.key_id(d)]["polis-id"], "p2");
        assert!(plans.first().new.signed()["keys"]
            .get(rk.key_id(d))
            .is_none());
    }

    #[test]
    fn an_empty_owner_list_is_dropped_as_fioctl_drops_it() {
        let (rk, online) = (key(), key());
        let d = Dialect::OtaTuf;
        // Emptied by dropping the rotated key's owner, no owner to add.
        let current = with_owner(ota_root(1, &rk, &online), &rk.key_id(d));
        let p = factory(vec![chain("ci", current, None)]);
        let plans = Plans::build(&p, &[key()], now()).unwrap();
        assert!(plans.first().new.signed().get("x-key-owners").is_none());
        // Empty already, and a change that adds no key, with a polis id.
        let mut current = ota_root(1, &rk, &online);
        current["signed"]["x-key-owners"] = json!({});
        let mut p = factory(vec![chain("ci", current, None)]);
        p.change.rotate = None;
        p.polis_id = Some("p".into());
        let plans = Plans::build(&p, &[], now()).unwrap();
        assert!(plans.first().new.signed().get("x-key-owners").is_none());
    }

    #[test]
    fn sign_staged_keeps_the_staged_body_and_its_valid_signatures() {
        let (rk, online, rk2) = (key(), key(), key());
        let d = Dialect::OtaTuf;
        let current = ota_root(1, &rk, &online);
        let mut staged = ota_root(2, &rk2, &online);
        staged["signed"]["x-changelog"] = json!({"message": "by fioctl"});
        staged["signed"]["x-unknown"] = json!(1);
        let mut s = RootMetadata::from_value(staged.clone(), d).unwrap();
        let rk2_private = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
        // A signature under rk's id over this body by another key: invalid.
        s.sign(&rk.key_id(d), &rk2_private).unwrap();
        let staged = s.envelope().clone();
        let mut p = factory(vec![chain("ci", current, Some(staged.clone()))]);
        p.change = Change {
            sign_staged: true,
            ..Change::default()
        };
        assert_eq!(keys_needed(&p).unwrap(), 0);
        let plans = Plans::build(&p, &[], now()).unwrap();
        let new = &plans.first().new;
        assert_eq!(new.signed(), staged["signed"].as_object().unwrap());
        assert!(new.signatures().unwrap().is_empty());
        assert_eq!(plans.first().removed, [rk.key_id(d)]);
        assert_eq!(plans.first().added[0].keyid, rk2.key_id(d));
    }

    #[test]
    fn the_largest_version_is_refused_not_wrapped() {
        let (rk, online) = (key(), key());
        let new = key();
        for staged in [None, Some(ota_root(1, &rk, &online))] {
            let p = factory(vec![chain("ci", ota_root(u64::MAX, &rk, &online), staged)]);
            let err = plan(&p, std::slice::from_ref(&new), now()).unwrap_err();
            assert!(
                matches!(
                    err,
                    RotationError::VersionExhausted {
                        version: u64::MAX,
                        ..
                    }
                ),
                "{err}"
            );
        }
        // prod derived from ci, prod at the end of the numbers.
        let p = factory(vec![
            chain("ci", ota_root(1, &rk, &online), None),
            chain("prod", ota_root(u64::MAX, &rk, &online), None),
        ]);
        let err = plan(&p, &[new], now()).unwrap_err();
        assert!(err.to_string().contains("18446744073709551615"), "{err}");
    }

    #[test]
    fn envelope_fields_beside_signed_and_signatures_are_dropped() {
        let (rk, online) = (key(), key());
        let mut staged = ota_root(2, &rk, &online);
        staged["targets-signatures"] = json!({"x": 1});
        staged["x-upload-me"] = json!("unsigned");
        let mut current = ota_root(1, &rk, &online);
        current["x-current"] = json!(1);
        for s in [Some(staged), None] {
            let p = factory(vec![chain("ci", current.clone(), s)]);
            let plans = Plans::build(&p, &[key()], now()).unwrap();
            let keys: Vec<&String> = plans
                .first()
                .new
                .envelope()
                .as_object()
                .unwrap()
                .keys()
                .collect();
            assert_eq!(keys, ["signatures", "signed"]);
        }
    }

    #[test]
    fn upload_bound_counts_every_signature_at_its_largest() {
        let (rk, online) = (key(), key());
        let p = factory(vec![chain("ci", ota_root(1, &rk, &online), None)]);
        let new = sizing_keys(NewKeyType::Rsa4096, 2).unwrap();
        assert_ne!(new[0], new[1]);
        let mut p = p;
        p.change.add_keys = 1;
        let plans = Plans::build(&p, &new, now()).unwrap();
        let bound = upload_bound(plans.first());
        let sigs = bound.signatures().unwrap();
        // The old key and the two new ones.
        assert_eq!(sigs.len(), 3);
        let lens: Vec<usize> = sigs.iter().map(|s| s.sig.as_ref().unwrap().len()).collect();
        assert_eq!(lens, [64, 512, 512]);
        assert!(check_upload_size(plans.first()).unwrap() > plans.first().new.to_bytes().len());
    }

    #[test]
    fn a_root_small_compact_but_large_pretty_is_refused() {
        let (rk, online) = (key(), key());
        let mut staged = ota_root(2, &rk, &online);
        // 25,000 zeros: 50 KB compact, over 64 KiB pretty-printed.
        staged["signed"]["x-pad"] = Value::Array(vec![json!(0); 25_000]);
        assert!(serde_json::to_vec(&staged).unwrap().len() < Dialect::OtaTuf.max_root_size());
        let p = factory(vec![chain("ci", ota_root(1, &rk, &online), Some(staged))]);
        let plans = Plans::build(&p, &[key()], now()).unwrap();
        let err = check_upload_size(plans.first()).unwrap_err();
        assert!(
            matches!(err, RotationError::RootTooLarge { max: 65536, .. }),
            "{err}"
        );
    }

    /// A Factory whose CI root has the online targets key and `offline`
    /// offline targets keys, and whose production root is the same with a
    /// targets threshold of 2; a targets change of `change`.
    fn targets_factory(offline: &[PublicKey], change: Change) -> (Proposal, String) {
        let d = Dialect::OtaTuf;
        let (rk, online) = (key(), key());
        let mut ci = ota_root(2, &rk, &online);
        for k in offline {
            ci["signed"]["keys"][k.key_id(d)] = k.to_key_object(d);
            ci["signed"]["roles"]["targets"]["keyids"]
                .as_array_mut()
                .unwrap()
                .push(json!(k.key_id(d)));
        }
        let prod = with_targets_threshold(ci.clone(), 2);
        let mut p = factory(vec![chain("ci", ci, None), chain("prod", prod, None)]);
        p.change = Change {
            role: KeyRole::Targets,
            online_targets_key: Some(online.key_id(d)),
            expires: "2099-01-01T00:00:00Z".into(),
            ..change
        };
        (p, online.key_id(d))
    }

    fn targets_ids(plan: &ChainPlan) -> Vec<String> {
        plan.new.role("targets").unwrap().keyids
    }

    #[test]
    fn a_targets_rotation_replaces_the_offline_key_and_keeps_the_online_one() {
        let d = Dialect::OtaTuf;
        let old = key();
        let (p, online) = targets_factory(
            std::slice::from_ref(&old),
            Change {
                rotate: Some(Rotate::All),
                ..Change::default()
            },
        );
        assert_eq!(keys_needed(&p).unwrap(), 1);
        let new = key();
        let plans = Plans::build(&p, std::slice::from_ref(&new), now()).unwrap();
        for plan in plans.iter() {
            assert_eq!(
                targets_ids(plan),
                vec![online.clone(), new.key_id(d)],
                "{}",
                plan.name
            );
            // The old key is gone from the keys too; the root role untouched.
            assert!(plan.new.key(&old.key_id(d)).is_err(), "{}", plan.name);
            assert_eq!(
                plan.new.role("root").unwrap(),
                plan.current.role("root").unwrap()
            );
            assert_eq!(plan.added.len(), 1);
            assert_eq!(plan.removed, vec![old.key_id(d)]);
        }
        let ci = plans.first();
        let prod = plans.iter().nth(1).unwrap();
        assert_eq!(ci.new.role("targets").unwrap().threshold, 1);
        assert_eq!(prod.new.role("targets").unwrap().threshold, 2);
    }

    #[test]
    fn taking_the_targets_key_offline_the_first_time_adds_one() {
        let d = Dialect::OtaTuf;
        let (p, online) = targets_factory(
            &[],
            Change {
                rotate: Some(Rotate::All),
                ..Change::default()
            },
        );
        assert_eq!(keys_needed(&p).unwrap(), 1);
        let new = key();
        let plans = Plans::build(&p, std::slice::from_ref(&new), now()).unwrap();
        assert_eq!(targets_ids(plans.first()), vec![online, new.key_id(d)]);
    }

    #[test]
    fn targets_add_remove_and_threshold() {
        let d = Dialect::OtaTuf;
        let (a, b) = (key(), key());
        // Add one, with threshold 3 in production: online + a + new.
        let (p, _) = targets_factory(
            std::slice::from_ref(&a),
            Change {
                add_keys: 1,
                threshold: Some(3),
                ..Change::default()
            },
        );
        let new = key();
        let plans = Plans::build(&p, std::slice::from_ref(&new), now()).unwrap();
        let prod = plans.iter().nth(1).unwrap();
        assert_eq!(prod.new.role("targets").unwrap().threshold, 3);
        assert_eq!(prod.new.role("targets").unwrap().keyids.len(), 3);
        assert_eq!(plans.first().new.role("targets").unwrap().threshold, 1);
        // Threshold 3 without a third key can never be met: refused.
        let (p, _) = targets_factory(
            std::slice::from_ref(&a),
            Change {
                threshold: Some(3),
                ..Change::default()
            },
        );
        let e = Plans::build(&p, &[], now()).unwrap_err().to_string();
        assert!(e.contains("cannot be met") && e.contains("--add"), "{e}");
        // Remove b of (a, b).
        let (p, online) = targets_factory(
            &[a.clone(), b.clone()],
            Change {
                remove_keys: vec![b.key_id(d)],
                ..Change::default()
            },
        );
        let plans = Plans::build(&p, &[], now()).unwrap();
        assert_eq!(
            targets_ids(plans.first()),
            vec![online.clone(), a.key_id(d)]
        );
        // A key that is not an offline targets key: refused, naming them.
        for bad in [online.clone(), key().key_id(d)] {
            let (mut p, _) = targets_factory(
                std::slice::from_ref(&a),
                Change {
                    rotate: Some(Rotate::Keys(vec![bad.clone()])),
                    ..Change::default()
                },
            );
            // (the proposal check refuses the online key first; the plan
            // refuses it too)
            p.change.online_targets_key = Some(online.clone());
            let e = Plans::build(&p, std::slice::from_ref(&key()), now())
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("not an offline targets key") || e.contains("online"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_targets_change_whose_online_key_is_not_in_the_root_is_refused() {
        let (mut p, _) = targets_factory(
            &[],
            Change {
                add_keys: 1,
                ..Change::default()
            },
        );
        p.change.online_targets_key = Some("ab".repeat(32));
        let e = Plans::build(&p, std::slice::from_ref(&key()), now())
            .unwrap_err()
            .to_string();
        assert!(e.contains("disagree about which key is online"), "{e}");
    }
}
