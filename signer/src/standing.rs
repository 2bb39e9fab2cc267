//! Whether an archive is current or superseded, told by the archives beside
//! it (`signer list`): after a few ceremonies a folder holds several, and a
//! person must know which one to use and which to retire.
//!
//! Archive B supersedes archive A when B's trust anchor for a target and
//! chain is of a newer root version than A's, or B has an anchor A lacks
//! while holding every key A holds, or B holds every key A holds and more
//! (a `keygen` or a targets-keys successor). Comparing means opening each
//! other archive with A's own passphrase or identities (one scrypt
//! derivation each, announced); those that do not open are named, not
//! guessed at.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::archive::{self, Protection};
use crate::commands::{self, Opened};
use crate::keystore::KeyArchive;

/// At most this many other archives are opened (about a second each).
const MAX_COMPARED: usize = 32;

/// One reason another archive supersedes this one.
pub struct Newer {
    pub archive: PathBuf,
    /// What is newer there, in words.
    pub reason: String,
    /// The anchor's chain and target, where the reason is an anchor.
    pub anchor: Option<String>,
    pub version_here: Option<u64>,
    pub version_there: Option<u64>,
}

/// This archive among the others in its folder.
pub struct Standing {
    pub folder: PathBuf,
    pub compared: Vec<PathBuf>,
    pub not_compared: Vec<(PathBuf, String)>,
    pub superseded_by: Vec<Newer>,
    /// Archives holding the same keys and anchors (copies, e.g. escrow).
    pub same: Vec<PathBuf>,
}

/// What is compared of an archive: its keys (by fingerprint) and its
/// anchors' versions (by anchor entry).
struct Summary {
    keys: BTreeSet<String>,
    anchors: BTreeMap<String, (String, Option<u64>)>,
}

fn summary(ka: &KeyArchive) -> Summary {
    let keys = ka
        .keys
        .iter()
        .map(|k| k.public.fingerprint())
        .chain(ka.token_keys.iter().map(|k| k.public.fingerprint()))
        .collect();
    let anchors = ka
        .anchors()
        .into_iter()
        .map(|a| (a.entry.clone(), (a.describe(), a.version)))
        .collect();
    Summary { keys, anchors }
}

/// Compares the archive at `path` (opened) with every other `*.age` file in
/// its folder.
pub fn compare(path: &Path, opened: &Opened) -> Standing {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut out = Standing {
        folder: folder.clone(),
        compared: Vec::new(),
        not_compared: Vec::new(),
        superseded_by: Vec::new(),
        same: Vec::new(),
    };
    let here = summary(&opened.archive);
    let own = std::fs::metadata(path).ok().map(|m| identity(&m));
    let mut candidates: Vec<PathBuf> = match std::fs::read_dir(&folder) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                // Hidden files are the atomic writes' temporary files.
                !name.starts_with('.') && name.ends_with(".age")
            })
            .filter(|e| {
                e.metadata()
                    .is_ok_and(|m| m.is_file() && Some(identity(&m)) != own)
            })
            .map(|e| e.path())
            .collect(),
        Err(e) => {
            out.not_compared
                .push((folder, format!("the folder cannot be read: {e}")));
            return out;
        }
    };
    candidates.sort();
    if candidates.len() > MAX_COMPARED {
        for p in candidates.split_off(MAX_COMPARED) {
            out.not_compared.push((
                p,
                format!("more than {MAX_COMPARED} archives in the folder"),
            ));
        }
    }
    for other in candidates {
        match open_other(&other, opened) {
            Ok(ka) => {
                let there = summary(&ka);
                let newer = newer_in(&here, &there);
                if newer.is_empty() && here.keys == there.keys && here.anchors == there.anchors {
                    out.same.push(other.clone());
                }
                for (reason, anchor, version_here, version_there) in newer {
                    out.superseded_by.push(Newer {
                        archive: other.clone(),
                        reason,
                        anchor,
                        version_here,
                        version_there,
                    });
                }
                out.compared.push(other);
            }
            Err(reason) => out.not_compared.push((other, reason)),
        }
    }
    out
}

type Reason = (String, Option<String>, Option<u64>, Option<u64>);

/// What `there` has that makes `here` superseded.
fn newer_in(here: &Summary, there: &Summary) -> Vec<Reason> {
    let mut out = Vec::new();
    let holds_all = here.keys.is_subset(&there.keys);
    for (entry, (what, v_there)) in &there.anchors {
        match (here.anchors.get(entry), v_there) {
            (Some((_, Some(v_here))), Some(v_there)) if v_there > v_here => out.push((
                format!("its anchor for {what} is v{v_there}, this one's v{v_here}"),
                Some(what.clone()),
                Some(*v_here),
                Some(*v_there),
            )),
            (None, Some(v_there)) if holds_all => out.push((
                format!(
                    "it holds every key of this one and an anchor for {what} (v{v_there}) this \
                     one has none for"
                ),
                Some(what.clone()),
                None,
                Some(*v_there),
            )),
            _ => {}
        }
    }
    let older_anchor = there.anchors.iter().any(|(entry, (_, v_there))| {
        matches!((here.anchors.get(entry), v_there), (Some((_, Some(h))), Some(t)) if t < h)
    });
    if out.is_empty() && holds_all && there.keys.len() > here.keys.len() && !older_anchor {
        out.push((
            format!(
                "it holds every key of this one and {} more",
                there.keys.len() - here.keys.len()
            ),
            None,
            None,
            None,
        ));
    }
    out
}

/// Opens another archive with this one's passphrase or identities.
fn open_other(path: &Path, opened: &Opened) -> Result<KeyArchive, String> {
    let ct = archive::read_file_bounded(path, archive::MAX_FILE).map_err(|e| e.to_string())?;
    let passphrase = archive::is_passphrase_encrypted(&ct)
        .map_err(|_| "not an age-encrypted archive".to_string())?;
    match (&opened.protection, passphrase) {
        (Protection::Passphrase(_), false) => {
            return Err("encrypted to age recipients, this one with a passphrase".into())
        }
        (Protection::Recipients { .. }, true) => {
            return Err("encrypted with a passphrase, this one to age recipients".into())
        }
        (Protection::Recipients { identities, .. }, false) if identities.is_empty() => {
            return Err("no --identity was given to open it".into())
        }
        _ => {}
    }
    // Whatever lies in the folder may have been put there by someone else:
    // an archive asking for far more work than this one is not opened.
    if let (Some(there), Protection::Passphrase(_)) =
        (archive::scrypt_work_factor(&ct), &opened.protection)
    {
        let limit = opened
            .work_factor
            .unwrap_or(archive::DEFAULT_WORK_FACTOR)
            .max(archive::DEFAULT_WORK_FACTOR)
            + 2;
        if there > limit {
            return Err(format!(
                "its scrypt work factor (log N = {there}) is far above this one's; not opened"
            ));
        }
    }
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let plain = commands::decrypt_announced(&ct, &opened.protection, &format!("compare {name}"))
        .map_err(|e| match opened.protection {
            Protection::Passphrase(_) => {
                format!("does not open with this archive's passphrase ({e})")
            }
            Protection::Recipients { .. } => format!("does not open with these identities ({e})"),
        })?;
    let entries = archive::read_tar_gz(&plain).map_err(|e| e.to_string())?;
    KeyArchive::from_entries(entries).map_err(|e| e.to_string())
}

/// A file's identity (device, inode): the archive listed is not compared
/// with itself under another name.
fn identity(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

impl Standing {
    /// Whether another archive supersedes this one.
    pub fn superseded(&self) -> bool {
        !self.superseded_by.is_empty()
    }

    /// The text `signer list` prints.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let folder = self.folder.display();
        let names = |list: &[PathBuf]| {
            list.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.superseded() {
            let mut by: Vec<&Path> = self
                .superseded_by
                .iter()
                .map(|n| n.archive.as_path())
                .collect();
            by.dedup();
            out.push(format!(
                "Status: SUPERSEDED by {}: use it instead; retire this one once the root it \
                 anchors is live.",
                by.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            for n in &self.superseded_by {
                out.push(format!("  {}: {}", n.archive.display(), n.reason));
            }
        } else if self.compared.is_empty() {
            out.push(format!(
                "Status: current, as far as {folder} shows (no other archive there was compared)."
            ));
        } else {
            out.push(format!(
                "Status: CURRENT: no other archive in {folder} has a newer trust anchor or more \
                 of these keys (compared with {}).",
                names(&self.compared)
            ));
        }
        if !self.same.is_empty() {
            out.push(format!(
                "  same keys and anchors as {} (a copy?)",
                names(&self.same)
            ));
        }
        for (p, why) in &self.not_compared {
            out.push(format!("  not compared: {}: {why}", p.display()));
        }
        out
    }

    /// The `--json` form.
    pub fn to_json(&self) -> serde_json::Value {
        let paths = |list: &[PathBuf]| {
            list.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        };
        serde_json::json!({
            "state": if self.superseded() { "superseded" } else { "current" },
            "folder": self.folder.display().to_string(),
            "compared": paths(&self.compared),
            "superseded_by": self.superseded_by.iter().map(|n| serde_json::json!({
                "archive": n.archive.display().to_string(),
                "reason": n.reason,
                "anchor": n.anchor,
                "version_here": n.version_here,
                "version_there": n.version_there,
            })).collect::<Vec<_>>(),
            "same_as": paths(&self.same),
            "not_compared": self.not_compared.iter().map(|(p, why)| serde_json::json!({
                "archive": p.display().to_string(),
                "reason": why,
            })).collect::<Vec<_>>(),
        })
    }
}
