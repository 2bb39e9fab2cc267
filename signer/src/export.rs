//! Which keys an exported tarball may hold, by fioctl's rule: fioctl refuses
//! a keys tarball with more than one *active* private key for the role it
//! signs (root, or targets) (`findTufSigners` / `FindOneTufSigner`: "Found more than one active
//! private key"), a key being active when its id is in that root's role.
//! Inactive keys stay in every tarball, as fioctl keeps them: its rotations
//! add files and never remove the old ones.
//!
//! Which keys are active: those of the roots this archive last signed (its
//! trust anchors, the newest root of each chain), in the role they sign:
//! `roles.root` for root keys, `roles.targets` for offline targets keys
//! (fioctl's targets tarball, `--targets-keys`, follows the same rule). When
//! the archive cannot tell (no anchor, or one it cannot read), every key of
//! that role counts as active, so that a tarball is never made that fioctl
//! would refuse.

use std::collections::BTreeSet;

use zeroize::Zeroizing;

use ceremony::keys::PublicKey;
use ceremony::RootMetadata;

use crate::archive::{ArchiveError, Entries};
use crate::keystore::{KeyArchive, MANIFEST};

/// The roles whose keys fioctl looks up one at a time in a tarball.
pub const ROLES: [&str; 2] = ["root", "targets"];

/// The active keys of an archive, and how we know.
pub struct Active {
    /// Indices into [`KeyArchive::keys`] of the active keys, root keys first.
    pub keys: Vec<usize>,
    /// Where the answer comes from, for the operator, per role that has keys.
    pub source: String,
}

impl Active {
    /// The active keys that sign `role`.
    pub fn of_role<'a>(
        &'a self,
        ka: &'a KeyArchive,
        role: &'a str,
    ) -> impl Iterator<Item = usize> + 'a {
        self.keys
            .iter()
            .copied()
            .filter(move |&i| ka.keys[i].role == role)
    }

    /// A role with more than one active key, if any: a single tarball
    /// holding all of them is one fioctl refuses.
    pub fn crowded(&self, ka: &KeyArchive) -> Option<&'static str> {
        ROLES.into_iter().find(|r| self.of_role(ka, r).count() > 1)
    }
}

/// The public keys of `role` in `root`.
fn role_keys(root: &RootMetadata, role: &str) -> Option<Vec<PublicKey>> {
    let ids = root.role(role).ok()?.keyids;
    Some(ids.iter().filter_map(|id| root.key(id).ok()).collect())
}

/// Which of `ka`'s root and targets keys are active.
pub fn active_keys(ka: &KeyArchive) -> Active {
    let anchors = ka.anchors();
    let mut keys = Vec::new();
    let mut sources = Vec::new();
    for role in ROLES {
        let held: Vec<usize> = ka
            .keys
            .iter()
            .enumerate()
            .filter(|(_, k)| k.role == role)
            .map(|(i, _)| i)
            .collect();
        if held.is_empty() {
            continue;
        }
        let mut every = |why: String| {
            sources.push(format!(
                "{role} keys: {why}: every {role} key counts as active"
            ));
            held.clone()
        };
        if anchors.is_empty() {
            keys.extend(every(
                "the archive has signed no root yet (no trust anchor)".into(),
            ));
            continue;
        }
        let mut trusted: Vec<PublicKey> = Vec::new();
        let mut described = Vec::new();
        let mut unknown = None;
        for a in &anchors {
            let Ok((root, _)) = ka.anchor_roots(a) else {
                unknown = Some(format!(
                    "the trust anchor of {} is unreadable",
                    a.describe()
                ));
                break;
            };
            let Some(role_keys) = role_keys(&root, role) else {
                unknown = Some(format!(
                    "the trust anchor of {} has no usable {role} role",
                    a.describe()
                ));
                break;
            };
            trusted.extend(role_keys);
            described.push(format!(
                "v{} of {}",
                root.version().unwrap_or(0),
                a.describe()
            ));
        }
        if let Some(why) = unknown {
            keys.extend(every(why));
            continue;
        }
        keys.extend(
            held.into_iter()
                .filter(|&i| trusted.contains(&ka.keys[i].public)),
        );
        sources.push(format!(
            "{role} keys: the {role} role of the root(s) this archive signed last: {}",
            described.join("; ")
        ));
    }
    Active {
        keys,
        source: sources.join("; "),
    }
}

/// The entries of a tarball that holds every key of `ka` but the active
/// keys in `drop` (their `.sec` and `.pub` files, and their manifest
/// records). `ka`'s entries must be finished ([`KeyArchive::finish_entries`]).
pub fn without(ka: &KeyArchive, drop: &[usize]) -> Result<Entries, ArchiveError> {
    let mut gone: BTreeSet<String> = BTreeSet::new();
    for &i in drop {
        let entry = &ka.keys[i].entry;
        gone.insert(entry.clone());
        if let Some(stem) = entry.strip_suffix(".sec") {
            gone.insert(format!("{stem}.pub"));
        }
    }
    let mut out = Entries::new();
    for name in ka.entries().names() {
        if gone.contains(name) || name == MANIFEST {
            continue;
        }
        let data = ka.entries().get(name).unwrap_or_default();
        out.insert(name, Zeroizing::new(data.to_vec()))?;
    }
    let mut manifest = ka.manifest.clone();
    manifest.keys.retain(|k| !gone.contains(&k.entry));
    let mut bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| ArchiveError::Tarball(format!("cannot write the manifest: {e}")))?;
    bytes.push(b'\n');
    out.insert(MANIFEST, Zeroizing::new(bytes))?;
    Ok(out)
}

/// The key among `active` that `wanted` names: its full id, fingerprint,
/// or an unambiguous prefix of either (8 characters at least).
pub fn pick(ka: &KeyArchive, active: &[usize], wanted: &str) -> Result<usize, String> {
    let wanted = wanted.to_ascii_lowercase();
    let names = |i: usize| {
        let k = &ka.keys[i];
        [k.shown_id(), k.public.fingerprint()]
    };
    if let Some(&i) = active.iter().find(|&&i| names(i).contains(&wanted)) {
        return Ok(i);
    }
    let matches: Vec<usize> = active
        .iter()
        .copied()
        .filter(|&i| wanted.len() >= 8 && names(i).iter().any(|n| n.starts_with(&wanted)))
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!(
            "--key {wanted}: not an active root or targets key of this archive; active: {}",
            active
                .iter()
                .map(|&i| ka.keys[i].shown_id())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => Err(format!(
            "--key {wanted}: ambiguous prefix; give more digits"
        )),
    }
}
