//! What changes between two roots, for the human who must approve it.
//!
//! A person signing a root must see exactly what their signature vouches for:
//! version, expiry, which keys come and go (with fingerprints they can compare
//! against a printout), each role's keys and threshold, and any other field
//! that changed. Nothing here decides validity; that is [`crate::rules`].

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::keys::PublicKey;
use crate::root::RootMetadata;
use crate::rules::short;

/// Fields of `signed` the diff reports in their own sections.
const KNOWN_FIELDS: [&str; 5] = ["_type", "version", "expires", "keys", "roles"];

/// A key that appears in or disappears from `keys`.
#[derive(Clone, Debug, Serialize)]
pub struct KeyChange {
    /// The id it is listed under.
    pub keyid: String,
    /// Type and size, such as `ed25519` or `rsa-4096`, or why it is unreadable.
    pub description: String,
    /// sha256 of the public key (SPKI DER).
    pub fingerprint: Option<String>,
}

/// How one role's delegation changes.
#[derive(Clone, Debug, Serialize)]
pub struct RoleChange {
    /// The role name.
    pub role: String,
    /// Threshold before and after (`None` where the role is absent).
    pub threshold: (Option<u64>, Option<u64>),
    /// Key count before and after.
    pub key_count: (usize, usize),
    /// Key ids added to the role.
    pub added: Vec<String>,
    /// Key ids removed from the role.
    pub removed: Vec<String>,
}

/// A field outside the ones above that was added, removed or changed.
#[derive(Clone, Debug, Serialize)]
pub struct FieldChange {
    /// The field name inside `signed`.
    pub field: String,
    /// Compact JSON before, if present.
    pub before: Option<String>,
    /// Compact JSON after, if present.
    pub after: Option<String>,
}

/// Everything that differs between two roots.
#[derive(Clone, Debug, Serialize)]
pub struct RootDiff {
    /// Version before and after.
    pub version: (Option<u64>, Option<u64>),
    /// `expires` before and after, as written.
    pub expires: (Option<String>, Option<String>),
    /// Keys in the new root but not the old.
    pub keys_added: Vec<KeyChange>,
    /// Keys in the old root but not the new.
    pub keys_removed: Vec<KeyChange>,
    /// Every role, changed or not, so thresholds are always visible.
    pub roles: Vec<RoleChange>,
    /// Other fields of `signed` that changed.
    pub fields: Vec<FieldChange>,
}

fn describe(root: &RootMetadata, keyid: &str) -> KeyChange {
    let (description, fingerprint) = match root.key(keyid) {
        Ok(k) => (key_description(&k), Some(k.fingerprint())),
        Err(e) => (format!("unreadable ({e})"), None),
    };
    KeyChange {
        keyid: keyid.to_string(),
        description,
        fingerprint,
    }
}

/// `ed25519`, `rsa-4096`, `ecdsa-p256`: what a person calls the key.
pub fn key_description(key: &PublicKey) -> String {
    match key.key_type() {
        crate::keys::KeyType::Rsa => format!("rsa-{}", key.bits()),
        other => other.to_string(),
    }
}

impl RootDiff {
    /// Compares `old` with `new`.
    pub fn between(old: &RootMetadata, new: &RootMetadata) -> RootDiff {
        let ids = |r: &RootMetadata| -> Vec<String> {
            r.key_objects()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        let (old_ids, new_ids) = (ids(old), ids(new));
        let keys_added = new_ids
            .iter()
            .filter(|id| !old_ids.contains(id))
            .map(|id| describe(new, id))
            .collect();
        let keys_removed = old_ids
            .iter()
            .filter(|id| !new_ids.contains(id))
            .map(|id| describe(old, id))
            .collect();

        let mut role_names = old.role_names();
        for n in new.role_names() {
            if !role_names.contains(&n) {
                role_names.push(n);
            }
        }
        let roles = role_names
            .into_iter()
            .map(|name| {
                let before = old.role(&name).ok();
                let after = new.role(&name).ok();
                let b_ids = before
                    .as_ref()
                    .map(|r| r.keyids.clone())
                    .unwrap_or_default();
                let a_ids = after.as_ref().map(|r| r.keyids.clone()).unwrap_or_default();
                RoleChange {
                    threshold: (
                        before.as_ref().map(|r| r.threshold),
                        after.as_ref().map(|r| r.threshold),
                    ),
                    key_count: (b_ids.len(), a_ids.len()),
                    added: a_ids
                        .iter()
                        .filter(|i| !b_ids.contains(i))
                        .cloned()
                        .collect(),
                    removed: b_ids
                        .iter()
                        .filter(|i| !a_ids.contains(i))
                        .cloned()
                        .collect(),
                    role: name,
                }
            })
            .collect();

        let mut fields = Vec::new();
        let (os, ns) = (old.signed(), new.signed());
        let mut names: Vec<&String> = os.keys().collect();
        names.extend(ns.keys().filter(|k| !os.contains_key(*k)));
        for name in names {
            if KNOWN_FIELDS.contains(&name.as_str()) {
                continue;
            }
            let (b, a) = (os.get(name), ns.get(name));
            if b != a {
                fields.push(FieldChange {
                    field: name.clone(),
                    before: b.map(compact),
                    after: a.map(compact),
                });
            }
        }

        RootDiff {
            version: (old.version().ok(), new.version().ok()),
            expires: (
                old.expires_str().map(str::to_owned),
                new.expires_str().map(str::to_owned),
            ),
            keys_added,
            keys_removed,
            roles,
            fields,
        }
    }
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn opt<T: fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "(none)".to_string(), T::to_string)
}

impl fmt::Display for RootDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  version:  {} -> {}",
            opt(&self.version.0),
            opt(&self.version.1)
        )?;
        if self.expires.0 == self.expires.1 {
            writeln!(f, "  expires:  {} (unchanged)", opt(&self.expires.1))?;
        } else {
            writeln!(
                f,
                "  expires:  {} -> {}",
                opt(&self.expires.0),
                opt(&self.expires.1)
            )?;
        }
        for (sign, list) in [("+", &self.keys_added), ("-", &self.keys_removed)] {
            for k in list {
                writeln!(
                    f,
                    "  {sign} key {}  {}  fingerprint {}",
                    short(&k.keyid),
                    k.description,
                    k.fingerprint.as_deref().unwrap_or("?")
                )?;
            }
        }
        for r in &self.roles {
            let changed =
                r.threshold.0 != r.threshold.1 || !r.added.is_empty() || !r.removed.is_empty();
            let thr = if r.threshold.0 == r.threshold.1 {
                format!("{} of {}", opt(&r.threshold.1), r.key_count.1)
            } else {
                format!(
                    "{} of {} -> {} of {}",
                    opt(&r.threshold.0),
                    r.key_count.0,
                    opt(&r.threshold.1),
                    r.key_count.1
                )
            };
            writeln!(
                f,
                "  role {:<9} threshold {thr}{}",
                r.role,
                if changed { "" } else { "  (unchanged)" }
            )?;
            for id in &r.added {
                writeln!(f, "      + {}", short(id))?;
            }
            for id in &r.removed {
                writeln!(f, "      - {}", short(id))?;
            }
        }
        for c in &self.fields {
            writeln!(f, "  field {}:", c.field)?;
            writeln!(f, "      before: {}", opt(&c.before))?;
            writeln!(f, "      after:  {}", opt(&c.after))?;
        }
        Ok(())
    }
}
