//! Which keys an exported tarball may hold, by fioctl's rule: fioctl refuses
//! a keys tarball with more than one *active* private key for the role it
//! signs (`findTufSigners` / `FindOneTufSigner`: "Found more than one active
//! private key"), a key being active when its id is in that root's role.
//! Inactive keys stay in every tarball, as fioctl keeps them: its rotations
//! add files and never remove the old ones.
//!
//! Which root keys are active: those of the roots this archive last signed
//! (its trust anchors, the newest root of each chain). When the archive cannot
//! tell (no anchor, or one it cannot read), every root key counts as active,
//! so that a tarball is never made that fioctl would refuse.

use std::collections::BTreeSet;

use zeroize::Zeroizing;

use ceremony::keys::PublicKey;

use crate::archive::{ArchiveError, Entries};
use crate::keystore::{KeyArchive, MANIFEST};

/// The active root keys of an archive, and how we know.
pub struct Active {
    /// Indices into [`KeyArchive::keys`] of the active root keys.
    pub keys: Vec<usize>,
    /// Where the answer comes from, for the operator.
    pub source: String,
}

/// Which of `ka`'s root keys are active.
pub fn active_root_keys(ka: &KeyArchive) -> Active {
    let roots: Vec<usize> = ka
        .keys
        .iter()
        .enumerate()
        .filter(|(_, k)| k.role == "root")
        .map(|(i, _)| i)
        .collect();
    let anchors = ka.anchors();
    let every = |why: &str| Active {
        keys: roots.clone(),
        source: format!("{why}: every root key counts as active"),
    };
    if anchors.is_empty() {
        return every("the archive has signed no root yet (no trust anchor)");
    }
    let mut trusted: Vec<PublicKey> = Vec::new();
    let mut described = Vec::new();
    for a in &anchors {
        let Ok((root, _)) = ka.anchor_roots(a) else {
            return every(&format!(
                "the trust anchor of {} is unreadable",
                a.describe()
            ));
        };
        let Ok(keys) = root.root_keys() else {
            return every(&format!(
                "the trust anchor of {} has no usable root role",
                a.describe()
            ));
        };
        trusted.extend(keys.into_values());
        described.push(format!(
            "v{} of {}",
            root.version().unwrap_or(0),
            a.describe()
        ));
    }
    Active {
        keys: roots
            .into_iter()
            .filter(|&i| trusted.contains(&ka.keys[i].public))
            .collect(),
        source: format!(
            "the root(s) this archive signed last: {}",
            described.join("; ")
        ),
    }
}

/// The entries of a tarball that holds every key of `ka` but the active
/// root keys in `drop` (their `.sec` and `.pub` files, and their manifest
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
            "--key {wanted}: not an active root key of this archive; active: {}",
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
