//! The proposal: what the online side asks the offline side to sign.
//!
//! It comes from a networked machine, so the signer treats every byte of it as
//! untrusted: it is parsed strictly, its roots are re-verified, and the signer
//! builds the new root itself from the current (or staged) root and the
//! requested change, instead of signing anything the proposal hands it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crossing::{check_format, CrossingError};
use crate::dialect::Dialect;
use crate::root::{RootError, RootMetadata};

/// The `format` of a proposal file this version writes and reads.
pub const PROPOSAL_FORMAT: &str = "tuf-ceremony/proposal@1";

/// Where the roots live and where the bundle goes back to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
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
pub struct HistoryEntry {
    /// The root's version.
    pub version: u64,
    /// sha256 of the file's exact bytes.
    pub sha256: String,
}

/// One chain of roots: `root` for a TUF repository; `ci` and `prod` for a
/// Factory, whose two chains are rotated together.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Chain {
    /// `root`, `ci` or `prod`.
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

/// A public key made elsewhere (`signer keygen` on another holder's laptop)
/// that the new root must list.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProvidedKey {
    /// The key object in the proposal's dialect.
    pub key: Value,
    /// Who holds it, for the diff and the transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
}

/// What should change in the new root.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
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
    /// an offline clock cannot change it unnoticed.
    pub expires: String,
    /// Why the change is made; recorded in the root where the dialect has a
    /// place for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Keys made by other holders, to be used for the new keys before any is
    /// generated here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provided_keys: Vec<ProvidedKey>,
}

/// A proposal file.
#[derive(Clone, Debug, Serialize, Deserialize)]
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
}

impl Proposal {
    /// Parses a proposal file, refusing another format or version, duplicate
    /// JSON keys, and files over [`crate::crossing::MAX_CROSSING_FILE`].
    pub fn from_slice(bytes: &[u8]) -> Result<Proposal, CrossingError> {
        let value = check_format(bytes, PROPOSAL_FORMAT)?;
        let proposal: Proposal =
            serde_json::from_value(value).map_err(|e| CrossingError::Fields(e.to_string()))?;
        if proposal.chains.is_empty() {
            return Err(CrossingError::Fields("the proposal holds no roots".into()));
        }
        for chain in &proposal.chains {
            proposal.current_root(chain)?;
            if chain.staged.is_some() {
                proposal.staged_root(chain)?;
            }
        }
        Ok(proposal)
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
