//! The submitter's own state folder: a copy of every proposal it wrote,
//! named by the sha256 of its bytes, so that `upload` finds the proposal a
//! bundle answers (bundles name their proposal by that hash) wherever the
//! operator keeps the files.
//!
//! The folder is `$XDG_STATE_HOME/tuf-ceremony`, else
//! `~/.local/state/tuf-ceremony` (`$TUF_CEREMONY_STATE_DIR` replaces both,
//! for tests and for operators who keep it elsewhere). Nothing in it is
//! trusted: a file found there is used only when its bytes hash to what the
//! bundle names.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use ceremony::fsio::{self, FsError, WriteOptions};

/// What is kept, each kind in a folder of its own.
#[derive(Clone, Copy)]
pub enum Kind {
    /// Root ceremony proposals (`proposals/`).
    Proposal,
    /// Wave proposals (`waves/`).
    Wave,
}

impl Kind {
    fn folder(self) -> &'static str {
        match self {
            Kind::Proposal => "proposals",
            Kind::Wave => "waves",
        }
    }
}

/// The state folder, if one can be named (an absolute path: XDG ignores a
/// relative `XDG_STATE_HOME`, and so do we).
pub fn dir() -> Option<PathBuf> {
    let absolute = |v: &str| {
        std::env::var_os(v)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(d) = absolute("TUF_CEREMONY_STATE_DIR") {
        return Some(d);
    }
    if let Some(d) = absolute("XDG_STATE_HOME") {
        return Some(d.join("tuf-ceremony"));
    }
    absolute("HOME").map(|h| h.join(".local/state/tuf-ceremony"))
}

/// Where a file of these bytes' sha256 is kept.
fn path_for(kind: Kind, sha256: &str) -> Option<PathBuf> {
    // Only a hash names a file here: nothing from a bundle becomes a path
    // unless it is 64 hex digits.
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    dir().map(|d| {
        d.join(kind.folder())
            .join(format!("{}.json", sha256.to_ascii_lowercase()))
    })
}

/// Keeps a copy of `bytes` (written with [`fsio::write_new`]; a copy that
/// is there already, the same bytes under the same hash, is left as it
/// is). Returns where it is.
pub fn keep(kind: Kind, bytes: &[u8]) -> Result<PathBuf> {
    let sha = ceremony::sha256::hex(bytes);
    let path = path_for(kind, &sha).context(
        "no state folder: set XDG_STATE_HOME or HOME (or TUF_CEREMONY_STATE_DIR) to an absolute path",
    )?;
    let folder = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot make the state folder {}", folder.display()))?;
    match fsio::write_new(&path, bytes, &WriteOptions::public()) {
        Ok(()) => Ok(path),
        Err(FsError::Exists { .. }) if found(&path, &sha).is_some() => Ok(path),
        Err(e) => Err(e).with_context(|| format!("cannot keep a copy in {}", path.display())),
    }
}

/// The kept file whose bytes hash to `sha256`, with its bytes; `None` when
/// there is none, or what is there does not hash to it.
pub fn find(kind: Kind, sha256: &str) -> Option<(PathBuf, Vec<u8>)> {
    let path = path_for(kind, sha256)?;
    found(&path, sha256).map(|b| (path, b))
}

/// The bytes of `path` when they hash to `sha256`.
pub fn found(path: &Path, sha256: &str) -> Option<Vec<u8>> {
    let bytes = fsio::read_bounded(path, ceremony::crossing::MAX_CROSSING_FILE as u64).ok()?;
    ceremony::sha256::hex(&bytes)
        .eq_ignore_ascii_case(sha256)
        .then_some(bytes)
}

/// Looks for the file whose bytes hash to `sha256`: kept in the state
/// folder, else a `<prefix>*.json` in one of `folders` (the bundle's, the
/// working directory). Every candidate is hashed: a name proves nothing.
pub fn locate(
    kind: Kind,
    sha256: &str,
    prefix: &str,
    folders: &[&Path],
) -> Option<(PathBuf, Vec<u8>)> {
    if let Some(hit) = find(kind, sha256) {
        return Some(hit);
    }
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".json"))
            })
            .collect();
        names.sort();
        // A folder of thousands of such files is not where a proposal is
        // looked for by hashing each.
        for p in names.into_iter().take(200) {
            if let Some(b) = found(&p, sha256) {
                return Some((p, b));
            }
        }
    }
    None
}

/// Where [`locate`] looked, for a refusal.
pub fn looked_in(kind: Kind, prefix: &str, folders: &[&Path]) -> String {
    let mut places = Vec::new();
    match dir() {
        Some(d) => places.push(d.join(kind.folder()).display().to_string()),
        None => places.push("no state folder (HOME and XDG_STATE_HOME unset)".into()),
    }
    for f in folders {
        places.push(format!("{prefix}*.json in the folder {}", f.display()));
    }
    places.join(", ")
}
