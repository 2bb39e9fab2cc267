//! Where root histories come from (a TUF metadata folder, a TUF repository
//! over HTTP(S), a FoundriesFactory chain), and verifying a whole history
//! before anything is built on it.

use ceremony_cli::eprintln;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use time::OffsetDateTime;

use ceremony::audit::MAX_HISTORY;
use ceremony::proposal::{HistoryEntry, Target};
use ceremony::rules::{check_history, Rule};
use ceremony::{Dialect, RootMetadata};

use crate::http::Http;
use crate::VerificationFailed;
use ceremony::fsio;

/// Larger files are not read as roots.
const MAX_FILE: u64 = 8 * 1024 * 1024;

/// A TUF repository's metadata: a folder, or a base URL.
#[derive(Clone, Debug)]
pub enum Repo {
    /// A local metadata folder.
    Dir(PathBuf),
    /// A base URL ending in `/`; files are `<base>N.root.json`.
    Http(String),
}

impl Repo {
    /// `http://…` or `https://…` is a URL, anything else a folder. A folder
    /// without `1.root.json` but with `metadata/1.root.json` means the
    /// latter.
    pub fn parse(s: &str) -> Repo {
        if s.starts_with("http://") || s.starts_with("https://") {
            let mut base = s.to_string();
            if !base.ends_with('/') {
                base.push('/');
            }
            Repo::Http(base)
        } else {
            let p = PathBuf::from(s);
            if !p.join("1.root.json").exists() && p.join("metadata/1.root.json").exists() {
                Repo::Dir(p.join("metadata"))
            } else {
                Repo::Dir(p)
            }
        }
    }

    /// The proposal target.
    pub fn target(&self) -> Target {
        match self {
            Repo::Dir(p) => Target::TufDir {
                path: std::fs::canonicalize(p)
                    .unwrap_or_else(|_| p.clone())
                    .display()
                    .to_string(),
            },
            Repo::Http(u) => Target::TufHttp { url: u.clone() },
        }
    }

    /// Where a file is, for messages.
    pub fn location(&self, name: &str) -> String {
        match self {
            Repo::Dir(p) => p.join(name).display().to_string(),
            Repo::Http(u) => format!("{u}{name}"),
        }
    }

    /// Reads a file; `None` when it does not exist (404).
    pub fn fetch(&self, http: &Http, name: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Repo::Dir(p) => {
                let path = p.join(name);
                if !path.exists() {
                    return Ok(None);
                }
                Ok(Some(fsio::read_bounded(&path, MAX_FILE)?))
            }
            Repo::Http(u) => Ok(http.get_optional(&format!("{u}{name}"))?),
        }
    }
}

/// One downloaded history: `N.root.json` files from `start` until the first
/// missing one. `what` names it in the progress lines ("the ci root
/// history"); `last`, where the server said which version is current, gives
/// the count to expect.
pub fn walk(
    mut fetch: impl FnMut(u64) -> Result<Option<Vec<u8>>>,
    start: u64,
    what: &str,
    last: Option<u64>,
) -> Result<Vec<(u64, Vec<u8>)>> {
    let mut files = Vec::new();
    let mut n = start;
    let total = last.map(|l| l.saturating_sub(start).saturating_add(1));
    let mut progress = Progress::new(what, total);
    while n < start.saturating_add(MAX_HISTORY) {
        match fetch(n)? {
            Some(bytes) => files.push((n, bytes)),
            None => break,
        }
        progress.tick(files.len() as u64);
        n += 1;
    }
    progress.finish(files.len() as u64);
    Ok(files)
}

/// Progress of a download a person waits for, on standard error: nothing
/// for one that is over within a second and small, then at most
/// [`Progress::EVERY`] apart, and a last line once it is done.
pub struct Progress {
    what: String,
    total: Option<u64>,
    started: Instant,
    last_shown: Option<Instant>,
}

impl Progress {
    /// The least time between two lines.
    pub const EVERY: Duration = Duration::from_millis(250);
    /// A download that takes longer than this is shown.
    pub const SLOW: Duration = Duration::from_secs(1);
    /// A download of at least this many roots is shown however fast it is.
    pub const LARGE: u64 = 100;

    /// A download of `what`, `total` files if known.
    pub fn new(what: &str, total: Option<u64>) -> Progress {
        Progress {
            what: what.to_string(),
            total,
            started: Instant::now(),
            last_shown: None,
        }
    }

    /// `done` files so far.
    pub fn tick(&mut self, done: u64) {
        let now = Instant::now();
        let worth = now.duration_since(self.started) >= Self::SLOW || done >= Self::LARGE;
        let due = self
            .last_shown
            .is_none_or(|t| now.duration_since(t) >= Self::EVERY);
        if worth && due {
            self.last_shown = Some(now);
            eprintln!("{}: fetched {}…", self.what, self.count(done));
        }
    }

    /// The download ended with `done` files (said only if progress was).
    pub fn finish(&self, done: u64) {
        if self.last_shown.is_some() {
            eprintln!(
                "{}: fetched {} in {:.1} s",
                self.what,
                self.count(done),
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    fn count(&self, done: u64) -> String {
        match self.total {
            Some(t) => format!("{done}/{t} roots"),
            None => format!("{done} roots"),
        }
    }
}

/// A verified history.
pub struct Verified {
    /// The dialect the roots were read in.
    pub dialect: Dialect,
    /// Whether it was detected rather than given.
    pub detected: bool,
    /// The roots, oldest first.
    pub roots: Vec<RootMetadata>,
    /// Version and sha256 of each file.
    pub entries: Vec<HistoryEntry>,
    /// The bytes of the last file.
    pub last_bytes: Vec<u8>,
    /// The final root has expired (a rotation is how it is renewed).
    pub expired: Option<String>,
}

/// Parses and checks a downloaded history with the rotation rules. Every
/// step must hold; only the final root's expiry is let through (with a
/// warning), because rotating is how an expired root is renewed.
pub fn verify(
    what: &str,
    files: &[(u64, Vec<u8>)],
    trusted: Option<&RootMetadata>,
    dialect: Option<Dialect>,
    now: OffsetDateTime,
    audit_hint: &str,
) -> Result<Verified> {
    let Some((_, first)) = files.first() else {
        return Err(anyhow!(
            "{what}: no root found (1.root.json, or the version after the trusted root, is missing)"
        ));
    };
    let (dialect, detected) = match dialect.or(trusted.map(RootMetadata::dialect)) {
        Some(d) => (d, false),
        None => {
            let v = ceremony::strict_json::from_slice(first).map_err(|e| {
                VerificationFailed(format!("{what}: the first root is not JSON: {e}"))
            })?;
            (
                Dialect::detect(&v).ok_or_else(|| {
                    VerificationFailed(format!(
                        "{what}: cannot tell the dialect of the roots: pass --dialect ota-tuf or --dialect tuf"
                    ))
                })?,
                true,
            )
        }
    };
    let mut roots = Vec::new();
    for (n, bytes) in files {
        let root = RootMetadata::from_slice(bytes, Some(dialect)).map_err(|e| {
            VerificationFailed(format!(
                "{what}: {n}.root.json is not a usable root: {e}; nothing was written ({audit_hint})"
            ))
        })?;
        roots.push(root);
    }
    let verdict = check_history(trusted, &roots, now);
    let mut expired = None;
    if !verdict.ok() {
        let bad = verdict
            .first_failure()
            .expect("a failing history has a failing step");
        let is_last = bad.version == roots.last().and_then(|r| r.version().ok());
        let only_expiry = bad.failures.iter().all(|f| f.rule == Rule::Expired);
        if is_last && only_expiry {
            expired = bad.failures.first().map(|f| f.message.clone());
        } else {
            let f = bad.first_failure().expect("a failing step has a failure");
            return Err(VerificationFailed(format!(
                "{what}: the root history does not hold: v{} breaks rule {}: {}; nothing was written ({audit_hint})",
                bad.version.map_or("?".into(), |v| v.to_string()),
                f.rule,
                f.message
            ))
            .into());
        }
    }
    // Each file must hold the version its name says (only the first can
    // differ once every step holds: each later one is its predecessor + 1).
    for ((n, _), root) in files.iter().zip(&roots) {
        let v = root.version()?;
        if v != *n {
            return Err(VerificationFailed(format!(
                "{what}: {n}.root.json holds version {v}; nothing was written ({audit_hint})"
            ))
            .into());
        }
    }
    Ok(Verified {
        dialect,
        detected,
        entries: files
            .iter()
            .map(|(n, b)| HistoryEntry {
                version: *n,
                sha256: ceremony::sha256::hex(b),
            })
            .collect(),
        last_bytes: files.last().map(|(_, b)| b.clone()).unwrap_or_default(),
        roots,
        expired,
    })
}

/// Reads a trusted root file given with `--trusted`.
pub fn read_trusted(path: &Path, dialect: Option<Dialect>) -> Result<RootMetadata> {
    let bytes = fsio::read_bounded(path, MAX_FILE)?;
    RootMetadata::from_slice(&bytes, dialect)
        .map_err(|e| anyhow!("the trusted root {} is not usable: {e}", path.display()))
}
