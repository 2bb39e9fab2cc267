//! What changes between two roots, for the human who must approve it.
//!
//! A person signing a root must see exactly what their signature vouches
//! for. So the difference is an edit script ([`edit`]): every addition,
//! removal and replacement at every depth of the envelope (all of `signed`,
//! `_type`, unknown fields in roles and keys, envelope fields other than the
//! signatures). The review text is rendered from that script ([`render`]),
//! and the signer applies the script it showed to the current root and
//! compares the result with what it is about to sign. Keys are named by their
//! full id and full fingerprint: a truncated id is a collision waiting to be
//! crafted.
//!
//! Nothing here decides validity; that is [`crate::rules`]. The key identity
//! checks ([`check_same_ids`], [`check_key_ids`]) live here because they
//! are what makes a key id in the review mean one key.

use std::fmt;

use serde_json::Value;
use thiserror::Error;

use crate::canonical::to_canonical_bytes;
use crate::dialect::Dialect;
use crate::keys::PublicKey;
use crate::root::RootMetadata;

pub mod edit;
pub mod render;

pub use edit::{apply, ApplyError, Edit, Path, Script};
pub use render::{render, AnchorNote, Context, Label, Provided};

/// `ed25519`, `rsa-4096`, `ecdsa-p256`: what a person calls the key.
pub fn key_description(key: &PublicKey) -> String {
    match key.key_type() {
        crate::keys::KeyType::Rsa => format!("rsa-{}", key.bits()),
        other => other.to_string(),
    }
}

/// The script between two roots and its text, rendered without labels.
#[derive(Clone, Debug)]
pub struct RootDiff {
    /// Every edit from the old root to the new.
    pub script: Script,
    text: String,
}

impl RootDiff {
    /// Compares `old` with `new`.
    pub fn between(old: &RootMetadata, new: &RootMetadata) -> RootDiff {
        let script = Script::between(old.envelope(), new.envelope());
        // A script made from `old` always applies to `old`.
        let text = render(old, &script, &Context::plain(old.dialect()))
            .unwrap_or_else(|e| format!("  (the edit script does not apply: {e})\n"));
        RootDiff { script, text }
    }
}

impl fmt::Display for RootDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a root's keys cannot be trusted to mean what their ids say.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum KeyIdentityError {
    /// The same id names different key content in two roots of one chain.
    #[error(
        "key {keyid} has different content in the {after} root than in the {before} root, under \
         the same id; a key id must name one key, so this is refused. Nothing was signed. Ask \
         for a proposal that lists a changed key under a new id"
    )]
    ContentChanged {
        /// The key id (escaped for display).
        keyid: String,
        /// Which root the first content is from.
        before: String,
        /// Which root the other content is from.
        after: String,
    },
    /// A TUF key listed under an id that is not its own.
    #[error(
        "the {which} root lists role {role}'s key under id {keyid}, but that key's id (sha256 of \
         its canonical key object, as python-tuf computes it) is {actual}; refused. Nothing was \
         signed"
    )]
    IdMismatch {
        /// Which root.
        which: String,
        /// The role that lists it.
        role: String,
        /// The id it is listed under (escaped).
        keyid: String,
        /// The id computed from the key.
        actual: String,
    },
    /// One public key listed under two ids in one role.
    #[error(
        "the {which} root lists one key twice in role {role}, under ids {first} and {second}; \
         devices (aktualizr, python-tuf) count signatures by key id, so one key holder could \
         meet two of the role's threshold by copying a signature under the other id. Refused. \
         Nothing was signed. Ask for a proposal that lists each key once"
    )]
    SameKeyTwice {
        /// Which root.
        which: String,
        /// The role that lists it.
        role: String,
        /// The first id (escaped).
        first: String,
        /// The second id (escaped).
        second: String,
    },
}

fn esc(s: &str) -> String {
    crate::untrusted::escape(s).into_owned()
}

/// Refuses a key id present in both roots whose key object differs at all
/// (content, scheme, an unknown field): `before` and `after` name the roots
/// in the message.
pub fn check_same_ids(
    old: &RootMetadata,
    before: &str,
    new: &RootMetadata,
    after: &str,
) -> Result<(), KeyIdentityError> {
    let (Ok(o), Ok(n)) = (old.key_objects(), new.key_objects()) else {
        return Ok(());
    };
    for (id, ov) in o {
        if n.get(id).is_some_and(|nv| nv != ov) {
            return Err(KeyIdentityError::ContentChanged {
                keyid: esc(id),
                before: esc(before),
                after: esc(after),
            });
        }
    }
    Ok(())
}

/// Refuses, in any dialect, a role that lists one public key under two
/// ids: the rules count it once, but a device counts signatures by id, so
/// the threshold on the screen would not be the one devices enforce.
fn check_each_key_once(root: &RootMetadata, which: &str) -> Result<(), KeyIdentityError> {
    for role in root.role_names() {
        let Ok(r) = root.role(&role) else { continue };
        let mut seen: Vec<(&String, PublicKey)> = Vec::new();
        for id in &r.keyids {
            let Ok(key) = root.key(id) else { continue };
            if let Some((first, _)) = seen.iter().find(|(i, k)| *i != id && *k == key) {
                return Err(KeyIdentityError::SameKeyTwice {
                    which: esc(which),
                    role: esc(&role),
                    first: esc(first),
                    second: esc(id),
                });
            }
            seen.push((id, key));
        }
    }
    Ok(())
}

/// Refuses a role that lists one key under two ids (any dialect), and, in
/// the TUF dialect, a role's key whose id is not computed from the key: the
/// sha256 of the canonical JSON of its key object as written (what
/// python-tuf and securesystemslib compute), or of the key object
/// [`PublicKey::key_id`] writes. ota-tuf ids follow older fioctl schemes as
/// well, so they are compared by content only ([`check_same_ids`]).
/// Unreadable keys and missing entries are left to the rules, which refuse
/// them with their own message.
pub fn check_key_ids(root: &RootMetadata, which: &str) -> Result<(), KeyIdentityError> {
    check_each_key_once(root, which)?;
    if root.dialect() != Dialect::Tuf {
        return Ok(());
    }
    let Ok(objs) = root.key_objects() else {
        return Ok(());
    };
    for role in root.role_names() {
        let Ok(r) = root.role(&role) else { continue };
        for id in &r.keyids {
            let Some(obj) = objs.get(id) else { continue };
            if PublicKey::from_key_object(obj, Dialect::Tuf).is_err() {
                continue;
            }
            // The id is the hash of the key object exactly as written, so
            // that nothing in it (an extra `keyval` member, another
            // spelling of the key) goes unseen under a known id. The one
            // exception is what python-tuf before 1.0 wrote: a
            // `keyid_hash_algorithms` member that its ids did not cover.
            let hash = |v: &Value| {
                to_canonical_bytes(v, Dialect::Tuf)
                    .map(|b| crate::sha256::hex(&b))
                    .ok()
            };
            let as_written = hash(obj);
            let legacy = obj.as_object().and_then(|m| {
                let mut m = m.clone();
                m.remove("keyid_hash_algorithms")?;
                hash(&Value::Object(m))
            });
            if as_written.as_deref() != Some(id.as_str()) && legacy.as_deref() != Some(id.as_str())
            {
                return Err(KeyIdentityError::IdMismatch {
                    which: esc(which),
                    role: esc(&role),
                    keyid: esc(id),
                    actual: as_written.unwrap_or_default(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
