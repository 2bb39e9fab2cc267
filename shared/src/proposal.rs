//! The proposal: what the online side asks the offline side to sign.
//!
//! It comes from a networked machine, so the signer treats every byte of it as
//! untrusted: it is parsed strictly, its roots are re-verified, and the signer
//! builds the new root itself from the current (or staged) root and the
//! requested change, instead of signing anything the proposal hands it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crossing::{check_format, quote_name, refuse_unknown_fields, CrossingError};
use crate::dialect::Dialect;
use crate::root::{RootError, RootMetadata};

/// The `format` of a proposal file this version writes and reads.
pub const PROPOSAL_FORMAT: &str = "tuf-ceremony/proposal@1";

/// Where the roots live and where the bundle goes back to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Target {
    /// A TUF metadata folder on the online machine.
    TufDir {
        /// The folder, as the submitter saw it.
        path: String,
    },
    /// A TUF repository served over HTTP(S).
    TufHttp {
        /// Base URL of the metadata.
        url: String,
    },
    /// A FoundriesFactory.
    Factory {
        /// The Factory name.
        factory: String,
        /// The API base URL.
        api: String,
    },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::TufDir { path } => write!(f, "TUF repository in {path}"),
            Target::TufHttp { url } => write!(f, "TUF repository at {url}"),
            Target::Factory { factory, api } => write!(f, "FoundriesFactory {factory} ({api})"),
        }
    }
}

/// One root in a verified history, by version and file hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    /// The root's version.
    pub version: u64,
    /// sha256 of the file's exact bytes.
    pub sha256: String,
}

/// The name of a chain of roots. A proposal's chain names are checked
/// against this list before anything else is read, because the signer keys
/// its trust anchors by them: an unknown name would be a repository seen
/// for the "first" time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChainName {
    /// The one chain of a TUF repository.
    Root,
    /// A Factory's CI chain: rotated first, prod is derived from it.
    Ci,
    /// A Factory's production chain.
    Prod,
}

impl ChainName {
    /// The name as proposals, bundles and archives write it.
    pub fn as_str(self) -> &'static str {
        match self {
            ChainName::Root => "root",
            ChainName::Ci => "ci",
            ChainName::Prod => "prod",
        }
    }

    /// The chain names a proposal of `dialect` may have, in the order they
    /// are built.
    pub fn of_dialect(dialect: Dialect) -> &'static [ChainName] {
        match dialect {
            Dialect::Tuf => &[ChainName::Root],
            Dialect::OtaTuf => &[ChainName::Ci, ChainName::Prod],
        }
    }

    /// The chain called exactly `name` in any dialect (for names read back
    /// from a signer's own archive).
    pub fn from_name(name: &str) -> Option<ChainName> {
        [ChainName::Root, ChainName::Ci, ChainName::Prod]
            .into_iter()
            .find(|c| c.as_str() == name)
    }

    /// The chain called exactly `name` (no case folding, no trimming), if
    /// `dialect` has one.
    pub fn parse(name: &str, dialect: Dialect) -> Option<ChainName> {
        Self::of_dialect(dialect)
            .iter()
            .copied()
            .find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for ChainName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One chain of roots: `root` for a TUF repository; `ci` and `prod` for a
/// Factory, whose two chains are rotated together.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    /// `root`, `ci` or `prod` ([`ChainName`]; checked by
    /// [`Proposal::from_slice`]).
    pub name: String,
    /// The current root, exactly as fetched.
    pub current: Value,
    /// The root the server staged for this change (FoundriesFactory stages
    /// version N+1 with its own `x-changelog` when a transaction starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staged: Option<Value>,
    /// Every root of the history the submitter verified, oldest first.
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

/// Which root keys to replace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rotate {
    /// Replace these key ids, each with one new key.
    Keys(Vec<String>),
    /// Replace every root key.
    All,
}

/// Which role's keys a change edits: the root keys (the default), or a
/// Factory's offline targets keys (fioctl's `--role=targets`), which live in
/// `roles.targets` beside the online targets key and are kept in their own
/// archive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyRole {
    /// `roles.root`.
    #[default]
    Root,
    /// `roles.targets`, but for the online key.
    Targets,
}

impl KeyRole {
    /// Whether this is the root role (left out of a proposal when so).
    pub fn is_root(&self) -> bool {
        *self == KeyRole::Root
    }

    /// The role's name in a root.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Root => "root",
            KeyRole::Targets => "targets",
        }
    }
}

/// The lowest production targets threshold fioctl's `set-threshold
/// --role=targets` accepts: production targets need the online key and an
/// offline one while the online key signs CI.
pub const MIN_PROD_TARGETS_THRESHOLD: u64 = 2;

/// A public key made elsewhere (`signer keygen` on another holder's laptop)
/// that the new root must list.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidedKey {
    /// The key object in the proposal's dialect.
    pub key: Value,
    /// Who holds it, for the diff and the transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
}

/// What should change in the new root.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// Root keys to replace; none when only adding keys or changing the
    /// threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate: Option<Rotate>,
    /// How many new root keys to add on top of the replacements.
    #[serde(default)]
    pub add_keys: u32,
    /// Key ids to remove from the root role without replacement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_keys: Vec<String>,
    /// Type of keys the signer generates: `ed25519` (default) or `rsa-4096`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// New root threshold; unchanged when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u64>,
    /// New expiry, `YYYY-MM-DDTHH:MM:SSZ`; fixed on the online side so that
    /// an offline clock cannot change it unnoticed. Required, except with
    /// [`Change::sign_staged`], which must leave it out.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expires: String,
    /// Why the change is made; recorded in the root where the dialect has a
    /// place for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Keys made by other holders, to be used for the new keys before any is
    /// generated here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provided_keys: Vec<ProvidedKey>,
    /// Sign the roots the server staged exactly as they are (a transaction
    /// another holder began, with fioctl or our signer), adding this
    /// holder's signatures: no other change field may be set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sign_staged: bool,
    /// Whose keys `rotate`, `add_keys`, `remove_keys` and `threshold` are
    /// about. For [`KeyRole::Targets`], `threshold` is the production root's
    /// targets threshold (fioctl sets no other), and the keys are the
    /// offline targets keys.
    #[serde(default, skip_serializing_if = "KeyRole::is_root")]
    pub role: KeyRole,
    /// The Factory's online targets key id, as the server names it in the
    /// transaction (`updated.online-keys.targets`): never rotated or
    /// removed by a targets change. Required for one; nothing else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_targets_key: Option<String>,
}

impl Change {
    /// The change fields set beside `sign_staged`, by name.
    fn set_fields(&self) -> Vec<&'static str> {
        let mut set = Vec::new();
        let mut mark = |on: bool, name: &'static str| {
            if on {
                set.push(name);
            }
        };
        mark(self.rotate.is_some(), "rotate");
        mark(self.add_keys != 0, "add_keys");
        mark(!self.remove_keys.is_empty(), "remove_keys");
        mark(self.key_type.is_some(), "key_type");
        mark(self.threshold.is_some(), "threshold");
        mark(!self.expires.is_empty(), "expires");
        mark(self.message.is_some(), "message");
        mark(!self.provided_keys.is_empty(), "provided_keys");
        mark(!self.role.is_root(), "role");
        mark(self.online_targets_key.is_some(), "online_targets_key");
        set
    }
}

/// A proposal file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proposal {
    /// Always [`PROPOSAL_FORMAT`].
    pub format: String,
    /// The metadata dialect of every root in it.
    pub dialect: Dialect,
    /// Where the roots come from.
    pub target: Target,
    /// The server's transaction id, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txid: Option<String>,
    /// When the proposal was written (UTC, `YYYY-MM-DDTHH:MM:SSZ`).
    pub created: String,
    /// The roots to rotate.
    pub chains: Vec<Chain>,
    /// What to change.
    pub change: Change,
    /// The caller's FoundriesFactory user id, for `x-key-owners`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polis_id: Option<String>,
    /// A targets key rotation's production and wave targets, as fetched:
    /// those a replaced offline targets key signed are re-signed by the new
    /// one ([`crate::resign`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resign: Option<crate::resign::Resign>,
}

impl Proposal {
    /// Parses a proposal file, refusing another format or version, duplicate
    /// JSON keys, files over [`crate::crossing::MAX_CROSSING_FILE`], unknown
    /// fields (by name), chain names the dialect does not have, and a staged
    /// root in a TUF proposal; then checks every root's shape and size.
    pub fn from_slice(bytes: &[u8]) -> Result<Proposal, CrossingError> {
        let value = check_format(bytes, PROPOSAL_FORMAT)?;
        refuse_unknown_proposal_fields(&value)?;
        let proposal: Proposal =
            serde_json::from_value(value).map_err(|e| CrossingError::Fields(e.to_string()))?;
        proposal.check_chains()?;
        proposal.check_change()?;
        for chain in &proposal.chains {
            proposal.current_root(chain)?;
            if chain.staged.is_some() {
                proposal.staged_root(chain)?;
            }
        }
        Ok(proposal)
    }

    /// The chain names and what they may carry, before any root is read:
    /// TUF has exactly one chain, `root`, and nothing staged (a TUF
    /// repository has no staging, so a staged root could only be one the
    /// online side wants signed instead of the current one); a Factory has
    /// `ci` and/or `prod`, each at most once.
    fn check_chains(&self) -> Result<(), CrossingError> {
        if self.chains.is_empty() {
            return Err(CrossingError::Fields("the proposal holds no roots".into()));
        }
        let allowed = ChainName::of_dialect(self.dialect)
            .iter()
            .map(|c| format!("{:?}", c.as_str()))
            .collect::<Vec<_>>()
            .join(" and/or ");
        let mut seen = Vec::new();
        for chain in &self.chains {
            let Some(name) = ChainName::parse(&chain.name, self.dialect) else {
                return Err(CrossingError::Refused(format!(
                    "the proposal names a chain {}, which a {} proposal cannot have (its chains are \
                     {allowed}, exactly so written). Refused before anything else: the proposal \
                     was tampered with or written by another tool",
                    quote_name(&chain.name),
                    self.dialect
                )));
            };
            if seen.contains(&name) {
                return Err(CrossingError::Refused(format!(
                    "the proposal has the {name} chain twice; each chain is rotated once. Refused: \
                     the proposal was tampered with or written by another tool"
                )));
            }
            seen.push(name);
            if self.dialect == Dialect::Tuf && chain.staged.is_some() {
                return Err(CrossingError::Refused(format!(
                    "the proposal's {name} chain carries a \"staged\" root, but a TUF repository \
                     has no staging: the signer builds the new root from the current root alone. \
                     Refused: the proposal was tampered with or written by another tool"
                )));
            }
        }
        Ok(())
    }

    /// A change to sign the staged roots as they are stands alone: a
    /// Factory's, with a staged CI root and (where there is a prod chain) a
    /// staged prod root, and no other change field, since anything else
    /// would change the body the other holders signed. Any other change
    /// names its expiry.
    fn check_change(&self) -> Result<(), CrossingError> {
        let c = &self.change;
        if !c.sign_staged {
            if c.expires.is_empty() {
                return Err(CrossingError::Fields(
                    "change.expires is missing: every change but sign_staged names the new expiry"
                        .into(),
                ));
            }
            return self.check_targets_change();
        }
        let refuse = |why: String| {
            Err(CrossingError::Refused(format!(
                "change.sign_staged: {why}. Refused: the proposal was tampered with or written by \
                 another tool"
            )))
        };
        if self.dialect != Dialect::OtaTuf {
            return refuse(format!(
                "a {} repository has no staged roots to sign",
                self.dialect
            ));
        }
        let set = c.set_fields();
        if !set.is_empty() {
            return refuse(format!(
                "signing the staged roots as they are changes nothing, but the change also sets {}",
                set.join(", ")
            ));
        }
        for chain in &self.chains {
            if chain.staged.is_none() {
                return refuse(format!(
                    "the {} chain has no staged root to sign",
                    quote_name(&chain.name)
                ));
            }
        }
        if self.chain(ChainName::Ci.as_str()).is_none() {
            return refuse("the proposal has no ci chain".into());
        }
        // The files and the transaction's signatures of them cross to be
        // checked under the staged CI root; their names are the server's.
        if let Some(n) = self.invalid_resign_name() {
            return refuse(format!(
                "resign names targets {}: only letters, digits, '.', '_' and '-' are names",
                quote_name(n)
            ));
        }
        Ok(())
    }

    /// The first name of a targets file to re-sign (or of the
    /// transaction's signatures of one) that is not a valid targets name:
    /// the names are the server's, and become names on the screen.
    fn invalid_resign_name(&self) -> Option<&String> {
        self.resign.as_ref().and_then(|r| {
            r.prod
                .keys()
                .chain(r.waves.keys())
                .chain(r.staged.prod.keys())
                .chain(r.staged.waves.keys())
                .find(|n| !crate::resign::valid_name(n))
        })
    }

    /// A change of the offline targets keys is a Factory's, names the
    /// online targets key (which it must leave alone), changes something,
    /// asks for no production targets threshold under
    /// [`MIN_PROD_TARGETS_THRESHOLD`], and takes no provided keys (those
    /// are root keys made by `signer keygen`). A root change names no
    /// online targets key.
    fn check_targets_change(&self) -> Result<(), CrossingError> {
        let c = &self.change;
        let refuse = |why: String| {
            Err(CrossingError::Refused(format!(
                "change: {why}. Refused: the proposal was tampered with or written by another tool"
            )))
        };
        if let Some(r) = &self.resign {
            if c.role.is_root() || c.rotate.is_none() {
                return refuse(
                    "it carries production targets to re-sign, which only a rotation of the \
                     offline targets keys does"
                        .into(),
                );
            }
            if !r.staged.is_empty() {
                return refuse(
                    "it carries a transaction's targets signatures, which only a proposal to \
                     sign the staged roots as they are does"
                        .into(),
                );
            }
            if let Some(n) = self.invalid_resign_name() {
                return refuse(format!(
                    "resign names targets {}: only letters, digits, '.', '_' and '-' are names",
                    quote_name(n)
                ));
            }
        }
        if c.role.is_root() {
            if c.online_targets_key.is_some() {
                return refuse(
                    "online_targets_key is set, but the change is to the root keys".into(),
                );
            }
            return Ok(());
        }
        if !matches!(self.target, Target::Factory { .. }) || self.dialect != Dialect::OtaTuf {
            return refuse(format!(
                "role \"targets\" is for a FoundriesFactory's offline targets keys, not a {} \
                 repository's",
                self.dialect
            ));
        }
        let Some(online) = c.online_targets_key.as_deref() else {
            return refuse(
                "a targets change needs online_targets_key (the server's \
                 updated.online-keys.targets), so that the online key is left alone"
                    .into(),
            );
        };
        if online.is_empty() {
            return refuse("online_targets_key is empty".into());
        }
        if c.rotate.is_none()
            && c.add_keys == 0
            && c.remove_keys.is_empty()
            && c.threshold.is_none()
        {
            return refuse(
                "a targets change that rotates, adds, removes nothing and sets no threshold".into(),
            );
        }
        if !c.provided_keys.is_empty() {
            return refuse(
                "provided_keys are root keys; a targets change makes its keys offline".into(),
            );
        }
        if let Some(Rotate::Keys(ids)) = &c.rotate {
            if ids.iter().any(|id| id == online) {
                return refuse(format!(
                    "it rotates the online targets key {online}, which the server holds"
                ));
            }
        }
        if c.remove_keys.iter().any(|id| id == online) {
            return refuse(format!(
                "it removes the online targets key {online}, which the server holds"
            ));
        }
        if let Some(t) = c.threshold {
            if t < MIN_PROD_TARGETS_THRESHOLD {
                return refuse(format!(
                    "a production targets threshold of {t}: it must be at least \
                     {MIN_PROD_TARGETS_THRESHOLD} while the online key signs CI targets"
                ));
            }
        }
        Ok(())
    }

    /// The proposal as the bytes of a file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("a proposal always serialises");
        out.push(b'\n');
        out
    }

    /// The chain called `name`.
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name)
    }

    /// A chain's name as a [`ChainName`]: always `Ok` for a proposal read
    /// by [`Proposal::from_slice`], which refuses any other name.
    pub fn chain_name(&self, chain: &Chain) -> Result<ChainName, CrossingError> {
        ChainName::parse(&chain.name, self.dialect).ok_or_else(|| {
            CrossingError::Refused(format!(
                "{} is not a chain of a {} proposal",
                quote_name(&chain.name),
                self.dialect
            ))
        })
    }

    /// A chain's current root, parsed.
    pub fn current_root(&self, chain: &Chain) -> Result<RootMetadata, CrossingError> {
        root_of(&chain.current, self.dialect, &chain.name, "current")
    }

    /// A chain's staged root, parsed, where the server staged one.
    pub fn staged_root(&self, chain: &Chain) -> Result<Option<RootMetadata>, CrossingError> {
        chain
            .staged
            .as_ref()
            .map(|v| root_of(v, self.dialect, &chain.name, "staged"))
            .transpose()
    }
}

/// The fields each level of a proposal may have. `deny_unknown_fields`
/// refuses any other too; walking the levels here first names where the
/// field is (`change.provided_keys[0]`), which serde's message does not.
/// `proposal_field_lists_match_the_types` keeps these lists true.
const PROPOSAL_FIELDS: &[&str] = &[
    "format", "dialect", "target", "txid", "created", "chains", "change", "polis_id", "resign",
];
const CHAIN_FIELDS: &[&str] = &["name", "current", "staged", "history"];
const HISTORY_FIELDS: &[&str] = &["version", "sha256"];
const CHANGE_FIELDS: &[&str] = &[
    "rotate",
    "add_keys",
    "remove_keys",
    "key_type",
    "threshold",
    "expires",
    "message",
    "provided_keys",
    "sign_staged",
    "role",
    "online_targets_key",
];
const PROVIDED_KEY_FIELDS: &[&str] = &["key", "holder"];

/// The fields of a target of the given `kind` (`None`: a kind serde will
/// refuse by name anyway).
fn target_fields(kind: Option<&str>) -> Option<&'static [&'static str]> {
    match kind? {
        "tuf-dir" => Some(&["kind", "path"]),
        "tuf-http" => Some(&["kind", "url"]),
        "factory" => Some(&["kind", "factory", "api"]),
        _ => None,
    }
}

/// Every level of the proposal, with its known fields. The roots
/// (`current`, `staged`, `provided_keys[].key`) are not ours: they keep
/// whatever fields their dialect allows, and the diff shows them.
fn refuse_unknown_proposal_fields(v: &Value) -> Result<(), CrossingError> {
    refuse_unknown_fields(v, PROPOSAL_FIELDS, "the proposal")?;
    if let Some(target) = v.get("target") {
        if let Some(known) = target_fields(target.get("kind").and_then(Value::as_str)) {
            refuse_unknown_fields(target, known, "target")?;
        }
    }
    if let Some(chains) = v.get("chains").and_then(Value::as_array) {
        for (i, chain) in chains.iter().enumerate() {
            refuse_unknown_fields(chain, CHAIN_FIELDS, &format!("chains[{i}]"))?;
            if let Some(history) = chain.get("history").and_then(Value::as_array) {
                for (j, h) in history.iter().enumerate() {
                    refuse_unknown_fields(h, HISTORY_FIELDS, &format!("chains[{i}].history[{j}]"))?;
                }
            }
        }
    }
    if let Some(change) = v.get("change") {
        refuse_unknown_fields(change, CHANGE_FIELDS, "change")?;
        if let Some(keys) = change.get("provided_keys").and_then(Value::as_array) {
            for (i, k) in keys.iter().enumerate() {
                refuse_unknown_fields(
                    k,
                    PROVIDED_KEY_FIELDS,
                    &format!("change.provided_keys[{i}]"),
                )?;
            }
        }
    }
    Ok(())
}

fn root_of(
    v: &Value,
    dialect: Dialect,
    chain: &str,
    which: &str,
) -> Result<RootMetadata, CrossingError> {
    let bytes = serde_json::to_vec(v).expect("a JSON value always serialises");
    if bytes.len() > dialect.max_root_size() {
        return Err(CrossingError::Root {
            what: format!("{chain} {which} root"),
            source: RootError::TooLarge {
                size: bytes.len(),
                max: dialect.max_root_size(),
                dialect,
            },
        });
    }
    RootMetadata::from_value(v.clone(), dialect).map_err(|source| CrossingError::Root {
        what: format!("{chain} {which} root"),
        source,
    })
}

/// sha256 of a file's exact bytes, lowercase hex: kept under this name for
/// the test crates; [`crate::sha256::hex`] is the one implementation.
pub use crate::sha256::hex as sha256_hex;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn root(ty: &str, version: u64) -> Value {
        json!({"signed": {"_type": ty, "version": version, "expires": "2030-01-01T00:00:00Z",
            "keys": {}, "roles": {}}, "signatures": []})
    }

    fn tuf() -> Value {
        json!({
            "format": PROPOSAL_FORMAT,
            "dialect": "tuf",
            "target": {"kind": "tuf-dir", "path": "/r"},
            "created": "2026-01-01T00:00:00Z",
            "chains": [{"name": "root", "current": root("root", 1),
                "history": [{"version": 1, "sha256": "ab"}]}],
            "change": {"rotate": "all", "expires": "2027-01-01T00:00:00Z",
                "provided_keys": [{"key": {"keytype": "ed25519"}, "holder": "ann"}]},
        })
    }

    fn factory() -> Value {
        json!({
            "format": PROPOSAL_FORMAT,
            "dialect": "ota-tuf",
            "target": {"kind": "factory", "factory": "acme", "api": "https://api"},
            "txid": "t",
            "created": "2026-01-01T00:00:00Z",
            "chains": [
                {"name": "ci", "current": root("Root", 1), "staged": root("Root", 2)},
                {"name": "prod", "current": root("Root", 1)},
            ],
            "change": {"rotate": "all", "expires": "2027-01-01T00:00:00Z"},
        })
    }

    fn parse(v: &Value) -> Result<Proposal, CrossingError> {
        Proposal::from_slice(&serde_json::to_vec(v).unwrap())
    }

    fn edit(v: &Value, f: impl FnOnce(&mut Value)) -> Value {
        let mut v = v.clone();
        f(&mut v);
        v
    }

    #[test]
    fn good_proposals_parse() {
        parse(&tuf()).unwrap();
        let p = parse(&factory()).unwrap();
        assert_eq!(p.chain_name(&p.chains[1]).unwrap(), ChainName::Prod);
        // ci alone, prod alone, and prod listed first are all Factory forms.
        for chains in [json!(["ci"]), json!(["prod"]), json!(["prod", "ci"])] {
            let v = edit(&factory(), |v| {
                v["chains"] = Value::Array(
                    chains
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|n| json!({"name": n, "current": root("Root", 1)}))
                        .collect(),
                )
            });
            parse(&v).unwrap();
        }
    }

    #[test]
    fn unknown_fields_are_refused_by_name_at_every_level() {
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                edit(&tuf(), |v| v["extra"] = json!(1)),
                "the proposal",
                "\"extra\"",
            ),
            (
                edit(&tuf(), |v| v["target"]["port"] = json!(1)),
                "target",
                "\"port\"",
            ),
            (
                edit(&factory(), |v| v["target"]["token"] = json!("x")),
                "target",
                "\"token\"",
            ),
            (
                edit(&tuf(), |v| v["chains"][0]["stagd"] = json!(null)),
                "chains[0]",
                "\"stagd\"",
            ),
            (
                edit(&tuf(), |v| {
                    v["chains"][0]["history"][0]["sha265"] = json!("ab")
                }),
                "chains[0].history[0]",
                "\"sha265\"",
            ),
            (
                edit(&tuf(), |v| v["change"]["threshhold"] = json!(2)),
                "change",
                "\"threshhold\"",
            ),
            (
                edit(&tuf(), |v| {
                    v["change"]["provided_keys"][0]["holdr"] = json!("x")
                }),
                "change.provided_keys[0]",
                "\"holdr\"",
            ),
        ];
        for (v, path, field) in cases {
            let e = parse(&v).unwrap_err();
            assert!(
                matches!(&e, CrossingError::UnknownField { path: p, field: f } if p == path && f == field),
                "{path} {field}: {e}"
            );
            let text = e.to_string();
            assert!(text.contains("another version or tampered with"), "{text}");
        }
        // A long name is cut, and says how long it was.
        let long = "x".repeat(300);
        let e = parse(&edit(&tuf(), |v| v["change"][long.as_str()] = json!(1)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("(300 characters)") && e.len() < 600, "{e}");
        // Fields inside the roots are the dialect's business, not ours.
        parse(&edit(&tuf(), |v| {
            v["chains"][0]["current"]["x-extra"] = json!(1)
        }))
        .unwrap();
    }

    #[test]
    fn chain_names_are_exact_and_per_dialect() {
        for bad in [
            "root ",
            "a/b",
            "",
            "..",
            "Root",
            "ROOT",
            "ci",
            "prod",
            &"r".repeat(300),
        ] {
            let e = parse(&edit(&tuf(), |v| v["chains"][0]["name"] = json!(bad))).unwrap_err();
            assert!(e.is_refusal(), "{bad:?}: {e}");
            assert!(e.to_string().contains("chain"), "{e}");
        }
        for bad in ["root", "ci ", "CI", "Prod", "", "../ci", "ci/prod"] {
            let e = parse(&edit(&factory(), |v| v["chains"][1]["name"] = json!(bad))).unwrap_err();
            assert!(e.is_refusal(), "{bad:?}: {e}");
        }
        let twice = edit(&factory(), |v| v["chains"][1]["name"] = json!("ci"));
        assert!(parse(&twice).unwrap_err().to_string().contains("twice"));
        let two_roots = edit(&tuf(), |v| {
            let c = v["chains"][0].clone();
            v["chains"].as_array_mut().unwrap().push(c);
        });
        assert!(parse(&two_roots).unwrap_err().is_refusal());
        // Refused before any root is looked at.
        let e = parse(&edit(&tuf(), |v| {
            v["chains"][0]["name"] = json!("a/b");
            v["chains"][0]["current"] = json!("not a root");
        }))
        .unwrap_err();
        assert!(e.is_refusal(), "{e}");
    }

    fn sign_staged() -> Value {
        edit(&factory(), |v| {
            v["change"] = json!({"sign_staged": true});
            v["chains"][1]["staged"] = root("Root", 2);
        })
    }

    #[test]
    fn sign_staged_stands_alone() {
        let p = parse(&sign_staged()).unwrap();
        assert!(p.change.sign_staged && p.change.expires.is_empty());
        // Written back without an expiry, and read again.
        let back: Value = serde_json::from_slice(&p.to_bytes()).unwrap();
        assert_eq!(back["change"], json!({"add_keys": 0, "sign_staged": true}));
        for (field, value) in [
            ("rotate", json!("all")),
            ("add_keys", json!(1)),
            ("remove_keys", json!(["k"])),
            ("key_type", json!("ed25519")),
            ("threshold", json!(1)),
            ("expires", json!("2027-01-01T00:00:00Z")),
            ("message", json!("m")),
            ("provided_keys", json!([{"key": {}}])),
        ] {
            let e = parse(&edit(&sign_staged(), |v| v["change"][field] = value)).unwrap_err();
            assert!(e.is_refusal(), "{field}: {e}");
            assert!(e.to_string().contains(field), "{field}: {e}");
        }
        // Without a staged root on a chain, or in the TUF dialect.
        let e = parse(&edit(&sign_staged(), |v| {
            v["chains"][0]["staged"] = Value::Null
        }))
        .unwrap_err();
        assert!(
            e.is_refusal() && e.to_string().contains("no staged root"),
            "{e}"
        );
        let e = parse(&edit(&tuf(), |v| {
            v["change"] = json!({"sign_staged": true})
        }))
        .unwrap_err();
        assert!(e.is_refusal() && e.to_string().contains("tuf"), "{e}");
        // Any other change still needs its expiry.
        let e = parse(&edit(&factory(), |v| {
            v["change"].as_object_mut().unwrap().remove("expires");
        }))
        .unwrap_err();
        assert!(e.to_string().contains("change.expires"), "{e}");
    }

    #[test]
    fn staged_is_refused_in_tuf() {
        let v = edit(&tuf(), |v| v["chains"][0]["staged"] = root("root", 2));
        let e = parse(&v).unwrap_err();
        assert!(e.is_refusal() && e.to_string().contains("staged"), "{e}");
        // An explicit null is no staged root.
        parse(&edit(&tuf(), |v| v["chains"][0]["staged"] = json!(null))).unwrap();
    }

    /// The field lists name exactly the fields each type writes when every
    /// optional field is set.
    #[test]
    fn proposal_field_lists_match_the_types() {
        fn keys(v: &Value) -> Vec<String> {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        }
        fn sorted(l: &[&str]) -> Vec<String> {
            let mut k: Vec<String> = l.iter().map(|s| s.to_string()).collect();
            k.sort();
            k
        }
        let full = Proposal {
            format: PROPOSAL_FORMAT.into(),
            dialect: Dialect::OtaTuf,
            target: Target::Factory {
                factory: "f".into(),
                api: "a".into(),
            },
            txid: Some("t".into()),
            created: "c".into(),
            chains: vec![Chain {
                name: "ci".into(),
                current: json!({}),
                staged: Some(json!({})),
                history: vec![HistoryEntry {
                    version: 1,
                    sha256: "s".into(),
                }],
            }],
            change: Change {
                rotate: Some(Rotate::All),
                add_keys: 1,
                remove_keys: vec!["k".into()],
                key_type: Some("ed25519".into()),
                threshold: Some(1),
                expires: "e".into(),
                message: Some("m".into()),
                provided_keys: vec![ProvidedKey {
                    key: json!({}),
                    holder: Some("h".into()),
                }],
                sign_staged: true,
                role: KeyRole::Targets,
                online_targets_key: Some("o".into()),
            },
            polis_id: Some("p".into()),
            resign: Some(crate::resign::Resign::default()),
        };
        let v = serde_json::to_value(&full).unwrap();
        assert_eq!(keys(&v), sorted(PROPOSAL_FIELDS));
        assert_eq!(keys(&v["chains"][0]), sorted(CHAIN_FIELDS));
        assert_eq!(keys(&v["chains"][0]["history"][0]), sorted(HISTORY_FIELDS));
        assert_eq!(keys(&v["change"]), sorted(CHANGE_FIELDS));
        assert_eq!(
            keys(&v["change"]["provided_keys"][0]),
            sorted(PROVIDED_KEY_FIELDS)
        );
        for t in [
            Target::TufDir { path: "p".into() },
            Target::TufHttp { url: "u".into() },
            full.target.clone(),
        ] {
            let tv = serde_json::to_value(&t).unwrap();
            let kind = tv["kind"].as_str().unwrap().to_string();
            assert_eq!(keys(&tv), sorted(target_fields(Some(&kind)).unwrap()));
        }
    }

    #[test]
    fn targets_changes_are_checked() {
        let targets = |f: &dyn Fn(&mut Value)| {
            edit(&factory(), |v| {
                v["change"]["role"] = json!("targets");
                v["change"]["online_targets_key"] = json!("0123");
                f(v)
            })
        };
        let p = parse(&targets(&|_| {})).unwrap();
        assert_eq!(p.change.role, KeyRole::Targets);
        let refused = |v: Value, what: &str| {
            let e = parse(&v).unwrap_err().to_string();
            assert!(e.contains(what), "{what}: {e}");
        };
        refused(
            targets(&|v| {
                v["change"]
                    .as_object_mut()
                    .unwrap()
                    .remove("online_targets_key")
                    .map(drop)
                    .unwrap()
            }),
            "needs online_targets_key",
        );
        refused(
            targets(&|v| v["change"]["rotate"] = json!({"keys": ["0123"]})),
            "rotates the online",
        );
        refused(
            targets(&|v| v["change"]["remove_keys"] = json!(["0123"])),
            "removes the online",
        );
        refused(
            targets(&|v| v["change"]["threshold"] = json!(1)),
            "at least 2",
        );
        refused(
            targets(&|v| {
                v["change"].as_object_mut().unwrap().remove("rotate");
            }),
            "rotates, adds, removes nothing",
        );
        refused(
            targets(&|v| v["change"]["provided_keys"] = json!([{"key": {}}])),
            "provided_keys are root keys",
        );
        // A TUF repository has no targets change, and a root change names
        // no online targets key.
        refused(
            edit(&tuf(), |v| {
                v["change"]["role"] = json!("targets");
                v["change"]["online_targets_key"] = json!("0123");
                v["change"].as_object_mut().unwrap().remove("provided_keys");
            }),
            "not a tuf repository",
        );
        refused(
            edit(&factory(), |v| {
                v["change"]["online_targets_key"] = json!("0123")
            }),
            "the change is to the root keys",
        );
        refused(
            edit(&factory(), |v| v["change"]["role"] = json!("snapshot")),
            "unknown variant",
        );
    }
}
