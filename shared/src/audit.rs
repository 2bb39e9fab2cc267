//! Auditing a whole root history from a metadata folder.
//!
//! `submitter audit` and `signer audit` are the same command on either side of
//! the air gap, so the loading, checking and reporting live here and both
//! binaries only parse arguments and print.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use serde::Serialize;
use thiserror::Error;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::dialect::Dialect;
use crate::root::{format_expires, parse_expires, KeyCache, RootError, RootMetadata};
use crate::rules::{
    check_expiry, check_step, short, Failure, HistoryVerdict, Rule, ThresholdOf, Verdict,
};

/// The most roots a history may hold; far beyond any real repository, it
/// only bounds the work a hostile folder can cause.
pub const MAX_HISTORY: u64 = 100_000;

/// Why an audit could not run at all (as opposed to a history that fails).
#[derive(Debug, Error)]
pub enum AuditError {
    /// A file could not be read.
    #[error(transparent)]
    File(#[from] crate::fsio::FsError),
    /// The trusted root given is not usable.
    #[error("the trusted root {path} is not usable: {source}")]
    Trusted {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: RootError,
    },
    /// There is nothing to check.
    #[error("{0}")]
    Empty(String),
    /// `--at` could not be read.
    #[error("cannot read the time {0:?}: give it as 2024-05-01, 2024-05-01T12:00:00Z or RFC 3339")]
    BadTime(String),
}

/// Reads `--at`: a date, the `expires` form, or any RFC 3339 moment.
pub fn parse_at(s: &str) -> Result<OffsetDateTime, AuditError> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    if let Ok(t) = parse_expires(s) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, fmt)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| AuditError::BadTime(s.to_string()))
}

/// One root file of the history.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryFile {
    /// The version its name says.
    pub version: u64,
    /// Where it was read from.
    pub path: PathBuf,
    /// sha256 of its exact bytes, to compare with other copies.
    pub sha256: String,
}

/// What an audit found.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    /// The dialect the roots were read in.
    pub dialect: Dialect,
    /// Whether the dialect was detected rather than given.
    pub dialect_detected: bool,
    /// The moment expiry was checked against.
    pub at: String,
    /// The files checked, oldest first.
    pub files: Vec<HistoryFile>,
    /// The verdicts.
    pub history: HistoryVerdict,
}

impl AuditReport {
    /// Whether the whole history holds.
    pub fn ok(&self) -> bool {
        self.history.ok()
    }
}

/// One history file as read, once: a file is never read twice, so the root
/// a step judges is byte for byte the root the next step trusts.
struct ReadFile {
    sha256: String,
    /// The exact bytes; or, for a file over the dialect's size limit, why
    /// it is no root (parsed at once, so such bytes are never held). The
    /// walk takes the bytes out once no other chunk needs them, so they are
    /// freed on the thread that parsed them.
    content: Result<Mutex<Vec<u8>>, RootError>,
}

/// Reads `path` once. Without a dialect, the file shows which it is (see
/// [`Dialect::detect`]), and that is returned too.
fn read_file(
    path: &Path,
    dialect: Option<Dialect>,
) -> Result<(ReadFile, Option<Dialect>), AuditError> {
    let bytes = read(path)?;
    let sha256 = crate::sha256::hex(&bytes);
    let dialect = dialect.or_else(|| {
        crate::strict_json::from_slice(&bytes)
            .ok()
            .and_then(|v| Dialect::detect(&v))
    });
    let content = match dialect {
        Some(d) if bytes.len() <= d.max_root_size() => Ok(Mutex::new(bytes)),
        // No root: parsing refuses it (bad JSON, no dialect, too large),
        // exactly as the walk would; only an impossible success keeps the
        // bytes.
        d => RootMetadata::from_slice(&bytes, d).map(|_| Mutex::new(bytes)),
    };
    Ok((ReadFile { sha256, content }, dialect))
}

/// Runs `f` on every index of `0..len`, in contiguous chunks handed out in
/// order to up to `threads` threads as each finishes its last, and returns
/// the results in index order. Chunks, not one share per thread: equal
/// shares of files still take unequal time (other work on the machine, a
/// key type that costs more), and the slowest share sets the wall time.
/// One thread is one chunk: the serial walk.
fn on_chunks<T: Send>(
    len: usize,
    threads: NonZeroUsize,
    f: impl Fn(std::ops::Range<usize>) -> Vec<T> + Sync,
) -> Vec<T> {
    let threads = threads.get().min(len);
    if threads <= 1 {
        return f(0..len);
    }
    // About eight chunks per thread: a chunk of the walk parses the root
    // before it once more, which a long history does not notice (1,000
    // roots on two cores: 62 per chunk) and a short one costs little.
    let chunk = (len / (threads * 8)).clamp(1, 256);
    let next = AtomicUsize::new(0);
    let (f, next) = (&f, &next);
    let worker = move || {
        let mut done = Vec::new();
        loop {
            let start = next.fetch_add(chunk, Ordering::Relaxed);
            if start >= len {
                break done;
            }
            done.push((start, f(start..len.min(start + chunk))));
        }
    };
    let mut parts: Vec<(usize, Vec<T>)> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(worker)).collect();
        let mut parts = worker();
        for h in helpers {
            match h.join() {
                Ok(done) => parts.extend(done),
                // A panic in a chunk is a bug; carry it on as a serial walk
                // would.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        parts
    });
    parts.sort_unstable_by_key(|(start, _)| *start);
    parts.into_iter().flat_map(|(_, part)| part).collect()
}

/// What the walk made of one file of the history.
enum Judged {
    /// Not looked at: it could not be read (or is over the size limit), or
    /// the chain ended before it.
    Skipped,
    /// It does not parse as a root; the chain ends here.
    Broken(RootError),
    /// A root, with the verdict of the step that judges it against the one
    /// before; `None` once a step before it is known to fail, since the
    /// walk stops there.
    Root(Option<Verdict>),
}

/// Parses and judges every file against the one before it (the first
/// against `trusted`), on up to `threads` threads, with no expiry check:
/// which root is final is known only once every file is parsed.
///
/// Step `j` depends on files `j - 1` and `j` alone, so the files are judged
/// in contiguous chunks (see [`on_chunks`]), and each chunk parses the file
/// before it again, from the same bytes. Only two roots per thread are held
/// at a time: a history of thousands of roots is parsed into a few reused
/// allocations, not into fresh memory for all of it. No step after the first known failure is
/// checked; every file is still parsed, since a broken file ends the list
/// of files the report gives, whatever the steps before it say.
fn judge_all(
    trusted: Option<&RootMetadata>,
    paths: &[(u64, PathBuf)],
    files: &[OnceLock<Result<ReadFile, AuditError>>],
    dialect: Dialect,
    threads: NonZeroUsize,
) -> Vec<Judged> {
    // A file is read by the first chunk that needs it (its own, or the one
    // after, which needs its last file as the root before), and only once:
    // `OnceLock` runs one read and makes any other asker wait for it.
    // `take`: no other chunk parses this file, so its bytes become the
    // root's own instead of being copied.
    let parse = |j: usize, take: bool| match files[j]
        .get_or_init(|| read_file(&paths[j].1, Some(dialect)).map(|(file, _)| file))
    {
        Ok(ReadFile {
            content: Ok(bytes), ..
        }) => {
            let mut bytes = bytes.lock().unwrap_or_else(PoisonError::into_inner);
            Some(match take {
                true => RootMetadata::from_vec(std::mem::take(&mut *bytes), Some(dialect)),
                false => RootMetadata::from_slice(&bytes, Some(dialect)),
            })
        }
        _ => None,
    };
    // The lowest index known to fail; steps above it are never needed.
    let first_failure = AtomicUsize::new(usize::MAX);
    on_chunks(paths.len(), threads, |share| {
        let end = share.end;
        let mut cache = KeyCache::new(dialect);
        // The root before the current one: `Ok(None)` is "the trusted root,
        // or none", `Err(())` is "the chain ended before here".
        let mut previous: Result<Option<RootMetadata>, ()> = match share.start {
            0 => Ok(None),
            start => match parse(start - 1, false) {
                Some(Ok(root)) => {
                    root.decode_keys_with(&mut cache);
                    Ok(Some(root))
                }
                _ => Err(()),
            },
        };
        share
            .map(|j| {
                let Ok(before) = &previous else {
                    return Judged::Skipped;
                };
                // The last file of a chunk is also the one before the next.
                let root = match parse(j, j + 1 < end) {
                    None => {
                        previous = Err(());
                        return Judged::Skipped;
                    }
                    Some(Err(e)) => {
                        previous = Err(());
                        return Judged::Broken(e);
                    }
                    Some(Ok(root)) => root,
                };
                let verdict = (j <= first_failure.load(Ordering::Relaxed)).then(|| {
                    root.decode_keys_with(&mut cache);
                    let v = check_step(before.as_ref().or(trusted), &root, None);
                    if !v.ok() {
                        first_failure.fetch_min(j, Ordering::Relaxed);
                    }
                    v
                });
                previous = Ok(Some(root));
                Judged::Root(verdict)
            })
            .collect()
    })
}

/// The names in a folder, read once: a history of thousands of roots is
/// found without a `stat` per file. It answers as [`Path::exists`] would.
struct Listing(Option<HashMap<std::ffi::OsString, bool>>);

impl Listing {
    fn of(dir: &Path) -> Listing {
        let names = std::fs::read_dir(dir).ok().map(|entries| {
            entries
                .filter_map(Result::ok)
                // Whether the entry is a plain file or folder; a link (or
                // an entry of unknown type) is followed by `exists`.
                .map(|e| (e.file_name(), e.file_type().is_ok_and(|t| !t.is_symlink())))
                .collect()
        });
        Listing(names)
    }

    /// Whether `path` (`dir/name`) exists, following links.
    fn exists(&self, name: &str, path: &Path) -> bool {
        match self
            .0
            .as_ref()
            .and_then(|names| names.get(std::ffi::OsStr::new(name)))
        {
            Some(true) => true,
            // A link, a name the listing lacks (a folder that could not be
            // listed, a file made since, a case-insensitive file system):
            // ask the file system.
            _ => path.exists(),
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, AuditError> {
    // Bounded: a root named /dev/zero (or a link to it) must not be read
    // until memory runs out. The dialect's own size limit is checked when
    // the root is parsed.
    Ok(crate::fsio::read_bounded(path, 8 << 20)?)
}

/// How an audit runs, as opposed to what it checks: nothing here changes a
/// verdict or a byte of the report.
#[derive(Clone, Copy, Debug, Default)]
pub struct AuditOptions {
    /// How many threads check signatures; `None` is one per core. One
    /// thread is the serial walk (for benchmarks, and for a machine that
    /// must be left alone).
    pub threads: Option<NonZeroUsize>,
}

impl AuditOptions {
    /// The threads to use: as asked, or as many as the machine offers (one
    /// when it cannot tell).
    pub fn threads(&self) -> NonZeroUsize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
    }
}

/// Walks `dir/N.root.json` upward, from 1 or from the version after
/// `trusted`, until a version is missing, and checks every step, on every
/// core (see [`audit_dir_with`]).
///
/// A file that does not parse as a root ends the walk with a failed step
/// (rule `structure` or `dialect`), because nothing after it can be trusted.
pub fn audit_dir(
    dir: &Path,
    trusted: Option<&Path>,
    dialect: Option<Dialect>,
    at: OffsetDateTime,
) -> Result<AuditReport, AuditError> {
    audit_dir_with(dir, trusted, dialect, at, &AuditOptions::default())
}

/// [`audit_dir`], run as `options` say.
pub fn audit_dir_with(
    dir: &Path,
    trusted: Option<&Path>,
    dialect: Option<Dialect>,
    at: OffsetDateTime,
    options: &AuditOptions,
) -> Result<AuditReport, AuditError> {
    let mut dialect_detected = false;
    let mut dialect = dialect;
    let trusted_root = match trusted {
        Some(path) => {
            let bytes = read(path)?;
            let root = RootMetadata::from_slice(&bytes, dialect).map_err(|source| {
                AuditError::Trusted {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
            if dialect.is_none() {
                dialect_detected = true;
                dialect = Some(root.dialect());
            }
            Some(root)
        }
        None => None,
    };
    let start = match &trusted_root {
        Some(t) => t
            .version()
            .map_err(|source| AuditError::Trusted {
                path: trusted.unwrap_or(dir).to_path_buf(),
                source,
            })?
            .saturating_add(1),
        None => 1,
    };

    // Which files there are: one listing of the folder, in order. Reading,
    // hashing and parsing them is not cheap, and is independent per file
    // once the dialect is fixed, so that runs on every core (`judge_all`).
    let listed = Listing::of(dir);
    let mut paths = Vec::new();
    let mut version = start;
    while version < start.saturating_add(MAX_HISTORY) {
        let name = format!("{version}.root.json");
        let path = dir.join(&name);
        if !listed.exists(&name, &path) {
            break;
        }
        paths.push((version, path));
        version += 1;
    }
    // The dialect, when not given, is the one the first file shows; that
    // file is read here, once, and the rest with the dialect fixed.
    let reads: Vec<OnceLock<Result<ReadFile, AuditError>>> =
        paths.iter().map(|_| OnceLock::new()).collect();
    let dialect = match dialect {
        Some(d) => d,
        None => {
            let first = paths.first().map(|(_, path)| read_file(path, None));
            let detected = first
                .as_ref()
                .and_then(|read| read.as_ref().ok())
                .and_then(|(_, d)| *d);
            if let Some(first) = first {
                let _ = reads[0].set(first.map(|(file, _)| file));
            }
            match detected {
                Some(d) => {
                    dialect_detected = true;
                    d
                }
                // Without a dialect the first file is no root, and nothing
                // after it is looked at.
                None => {
                    paths.truncate(1);
                    Dialect::Tuf
                }
            }
        }
    };
    let judged = judge_all(
        trusted_root.as_ref(),
        &paths,
        &reads,
        dialect,
        options.threads(),
    );

    let mut files = Vec::new();
    let mut verdicts = Vec::new();
    let mut broken: Option<Verdict> = None;
    for (((version, path), file), judged) in paths.into_iter().zip(reads).zip(judged) {
        // Every file of every chunk was read; a missing one would be a bug,
        // and ends the list as the end of the chain would.
        let Some(file) = file.into_inner() else { break };
        let file = file?;
        files.push(HistoryFile {
            version,
            path: path.clone(),
            sha256: file.sha256,
        });
        let error = match (file.content, judged) {
            (Err(e), _) | (Ok(_), Judged::Broken(e)) => e,
            (Ok(_), Judged::Root(verdict)) => {
                verdicts.push(verdict);
                continue;
            }
            // The walk skips a readable root only after the end of the
            // chain, which this loop has stopped at already.
            (Ok(_), Judged::Skipped) => break,
        };
        let rule = match error {
            RootError::TooLarge { .. } | RootError::Canonical(_) => Rule::Dialect,
            _ => Rule::Structure,
        };
        broken = Some(Verdict {
            version: Some(version),
            previous_version: version.checked_sub(1).filter(|v| *v > 0),
            expires: None,
            expiry_checked: false,
            thresholds: Vec::new(),
            failures: vec![Failure {
                rule,
                message: format!("{}: {error}", path.display()),
            }],
            warnings: Vec::new(),
        });
        break;
    }
    if files.is_empty() {
        return Err(AuditError::Empty(match &trusted_root {
            Some(_) => format!(
                "{} holds no {start}.root.json: there is nothing newer than the trusted root to check",
                dir.display()
            ),
            None => format!(
                "{} holds no 1.root.json: point --metadata-dir at the folder with N.root.json files, or give --trusted",
                dir.display()
            ),
        }));
    }

    // The verdicts in order, up to and including the first failing one, as
    // a serial walk keeps them; the final root's expiry is checked when the
    // walk reaches it.
    let chain_len = verdicts.len();
    let mut steps = Vec::with_capacity(chain_len);
    for verdict in verdicts {
        let Some(verdict) = verdict else { break };
        let ok = verdict.ok();
        steps.push(verdict);
        if !ok {
            break;
        }
    }
    if steps.len() == chain_len {
        if let Some(last) = steps.last_mut() {
            check_expiry(last, at);
        }
    }
    let mut history = HistoryVerdict {
        steps,
        trusted_version: trusted_root.as_ref().and_then(|t| t.version().ok()),
    };
    if let Some(b) = broken {
        // The file before the broken one was read as the final root, but it
        // is not final: the history goes on and is broken.
        if history.steps.iter().all(Verdict::ok) {
            if let Some(last) = history.steps.last_mut() {
                last.failures.retain(|f| f.rule != Rule::Expired);
                last.expiry_checked = false;
            }
            history.steps.push(b);
        }
    }
    Ok(AuditReport {
        dialect,
        dialect_detected,
        at: format_expires(at),
        files,
        history,
    })
}

/// Renders a report for a terminal.
pub fn render_text(report: &AuditReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "dialect {}{}; expiry checked as of {}",
        report.dialect,
        if report.dialect_detected {
            " (detected)"
        } else {
            ""
        },
        report.at
    );
    if let Some(v) = report.history.trusted_version {
        let _ = writeln!(out, "starting from trusted root v{v}");
    }
    for (i, step) in report.history.steps.iter().enumerate() {
        let file = report.files.get(i);
        let _ = writeln!(
            out,
            "v{:<4} {}  sha256 {}  expires {}  {}",
            step.version.map_or("?".into(), |v| v.to_string()),
            file.map_or(String::new(), |f| f.path.display().to_string()),
            file.map_or("?", |f| short(&f.sha256)),
            step.expires.as_deref().unwrap_or("?"),
            if step.ok() { "OK" } else { "FAILED" }
        );
        for t in &step.thresholds {
            let whose = match t.of {
                ThresholdOf::Previous => format!("previous v{}", t.root_version.unwrap_or(0)),
                ThresholdOf::Own => "own".to_string(),
            };
            let signed: Vec<&str> = t.signed.iter().map(|k| short(&k.keyid)).collect();
            let _ = write!(
                out,
                "       {whose:<12} {} of {} needed ({} keys) {}  signed: {}",
                t.signed.len(),
                t.threshold,
                t.keys_total,
                if t.met() { "met" } else { "NOT MET" },
                if signed.is_empty() {
                    "none".into()
                } else {
                    signed.join(", ")
                }
            );
            if !t.missing.is_empty() {
                let missing: Vec<&str> = t.missing.iter().map(|k| short(&k.keyid)).collect();
                let _ = write!(out, "  missing: {}", missing.join(", "));
            }
            out.push('\n');
        }
        for f in &step.failures {
            let _ = writeln!(out, "       rule {}: {}", f.rule, f.message);
        }
        for w in &step.warnings {
            let _ = writeln!(out, "       warning {}: {}", w.kind, w.message);
        }
    }
    let verdict = if report.ok() {
        let last = report.history.steps.last().and_then(|s| s.version);
        format!(
            "history holds: {} root(s) checked, final version {}",
            report.history.steps.len(),
            last.map_or("?".into(), |v| v.to_string())
        )
    } else {
        let first = report.history.first_failure();
        format!(
            "history does NOT hold: v{} breaks rule {}",
            first
                .and_then(|s| s.version)
                .map_or("?".into(), |v| v.to_string()),
            first
                .and_then(Verdict::first_failure)
                .map_or("?", |f| f.rule.id())
        )
    };
    let _ = writeln!(out, "{verdict}");
    out
}

/// The report as JSON, for scripts: `{"ok", "dialect", "at", "files", "steps"}`.
pub fn render_json(report: &AuditReport) -> serde_json::Value {
    serde_json::json!({
        "ok": report.ok(),
        "dialect": report.dialect,
        "dialect_detected": report.dialect_detected,
        "at": report.at,
        "trusted_version": report.history.trusted_version,
        "files": report.files,
        "steps": report.history.steps.iter().map(|s| {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            v["ok"] = serde_json::Value::Bool(s.ok());
            v
        }).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    //! The parallel audit must say exactly what the serial one says: the same
    //! steps, the same verdicts, in the same order, down to the byte.

    use super::*;
    use crate::keys::{NewKeyType, PrivateKey};
    use std::collections::BTreeMap;

    const D: Dialect = Dialect::OtaTuf;

    /// What is wrong with one version of a crafted history.
    #[derive(Clone, Copy)]
    enum Fault {
        /// No signatures at all: both thresholds fail.
        Unsigned,
        /// One signature's bytes changed: it does not verify.
        BadSig,
        /// The version field skips one.
        SkipsVersion,
        /// `targets` threshold 0: a structure failure.
        ZeroThreshold,
        /// The file is not JSON: the walk ends there.
        Garbage,
    }

    /// Writes a history of `len` ota-tuf roots into a fresh folder. Version
    /// `v`'s one root key is `keys[v / 3]`, so every third version rotates,
    /// signed by its own key and the previous version's; `faults` spoil
    /// some versions.
    fn history(len: u64, faults: &BTreeMap<u64, Fault>) -> tempfile::TempDir {
        let keys: Vec<PrivateKey> = (0..=len / 3)
            .map(|_| PrivateKey::generate(NewKeyType::Ed25519).unwrap())
            .collect();
        let online = PrivateKey::generate(NewKeyType::Ed25519)
            .unwrap()
            .public_key();
        let o = online.key_id(D);
        let dir = tempfile::tempdir().unwrap();
        for v in 1..=len {
            let fault = faults.get(&v).copied();
            let path = dir.path().join(format!("{v}.root.json"));
            if matches!(fault, Some(Fault::Garbage)) {
                std::fs::write(&path, b"{\"signed\": not json").unwrap();
                continue;
            }
            let own = &keys[(v / 3) as usize];
            let r = own.public_key().key_id(D);
            let role = serde_json::json!({"keyids": [o], "threshold": 1});
            let targets_threshold = match fault {
                Some(Fault::ZeroThreshold) => 0,
                _ => 1,
            };
            let version = match fault {
                Some(Fault::SkipsVersion) => v + 1,
                _ => v,
            };
            let mut root = RootMetadata::from_value(
                serde_json::json!({"signatures": [], "signed": {
                    "_type": "Root", "consistent_snapshot": false,
                    "expires": "2030-01-01T00:00:00Z", "version": version,
                    "keys": {r.clone(): own.public_key().to_key_object(D),
                             o.clone(): online.to_key_object(D)},
                    "roles": {"root": {"keyids": [r.clone()], "threshold": 1},
                        "snapshot": role, "timestamp": role,
                        "targets": {"keyids": [o], "threshold": targets_threshold}},
                }}),
                D,
            )
            .unwrap();
            if !matches!(fault, Some(Fault::Unsigned)) {
                let previous = &keys[((v - 1) / 3) as usize];
                if v > 1 && v % 3 == 0 {
                    root.sign(&previous.public_key().key_id(D), previous)
                        .unwrap();
                }
                root.sign(&r, own).unwrap();
            }
            let mut bytes = root.to_bytes();
            if matches!(fault, Some(Fault::BadSig)) {
                let mut envelope: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                let sig = envelope["signatures"][0]["sig"].as_str().unwrap();
                // Another valid base64 signature of the same length.
                let spoiled = format!(
                    "{}{}",
                    if sig.starts_with('A') { "B" } else { "A" },
                    &sig[1..]
                );
                envelope["signatures"][0]["sig"] = spoiled.into();
                bytes = serde_json::to_vec_pretty(&envelope).unwrap();
            }
            std::fs::write(&path, bytes).unwrap();
        }
        dir
    }

    fn at(s: &str) -> OffsetDateTime {
        parse_at(s).unwrap()
    }

    /// The report as both renderings print it, with `threads` threads.
    fn rendered(
        dir: &Path,
        trusted: Option<&Path>,
        when: OffsetDateTime,
        threads: usize,
    ) -> (String, String) {
        let options = AuditOptions {
            threads: NonZeroUsize::new(threads),
        };
        let report = audit_dir_with(dir, trusted, None, when, &options).unwrap();
        (
            render_text(&report),
            serde_json::to_string_pretty(&render_json(&report)).unwrap(),
        )
    }

    /// Audits `dir` serially and on several thread counts; asserts the
    /// outputs are identical and returns the serial report.
    fn same_on_every_thread_count(
        dir: &Path,
        trusted: Option<&Path>,
        when: OffsetDateTime,
    ) -> AuditReport {
        let serial = rendered(dir, trusted, when, 1);
        let one = AuditOptions {
            threads: NonZeroUsize::new(1),
        };
        let report = audit_dir_with(dir, trusted, None, when, &one).unwrap();
        // The walk against the plain serial one of the rules, on every root
        // loaded first, whenever no file is broken (the audit then adds a
        // verdict of its own).
        let trusted_root =
            trusted.map(|t| RootMetadata::from_slice(&std::fs::read(t).unwrap(), None).unwrap());
        let mut chain = Vec::new();
        let first = trusted_root
            .as_ref()
            .map_or(1, |t| t.version().unwrap() + 1);
        let mut complete = true;
        for version in first.. {
            let Ok(bytes) = std::fs::read(dir.join(format!("{version}.root.json"))) else {
                break;
            };
            match RootMetadata::from_slice(&bytes, Some(report.dialect)) {
                Ok(root) => chain.push(root),
                Err(_) => {
                    complete = false;
                    break;
                }
            }
        }
        if complete {
            let reference = crate::rules::check_history(trusted_root.as_ref(), &chain, when);
            assert_eq!(
                serde_json::to_value(&report.history).unwrap(),
                serde_json::to_value(&reference).unwrap(),
                "the audit's verdicts differ from rules::check_history"
            );
        }
        for threads in [2, 3, 5, 16] {
            let parallel = rendered(dir, trusted, when, threads);
            assert_eq!(serial.0, parallel.0, "text differs on {threads} threads");
            assert_eq!(serial.1, parallel.1, "JSON differs on {threads} threads");
        }
        report
    }

    /// (steps reported, first failing version and its first rule).
    fn outcome(report: &AuditReport) -> (usize, Option<(u64, Rule)>) {
        let first = report
            .history
            .first_failure()
            .map(|s| (s.version.unwrap(), s.first_failure().unwrap().rule));
        (report.history.steps.len(), first)
    }

    #[test]
    fn audit_parallel_equals_serial_on_crafted_histories_with_failures() {
        use Fault::*;
        let soon = at("2026-01-01");
        // (faults, moment, expected steps reported, expected first failure)
        type Case = (
            Vec<(u64, Fault)>,
            OffsetDateTime,
            usize,
            Option<(u64, Rule)>,
        );
        let cases: Vec<Case> = vec![
            (vec![], soon, 12, None),
            (vec![(1, Unsigned)], soon, 1, Some((1, Rule::NewThreshold))),
            // A rotation whose old key's signature is spoiled.
            (vec![(6, BadSig)], soon, 6, Some((6, Rule::OldThreshold))),
            // Failures at several steps: only the first counts, and every
            // step after it is left out, even those a thread already saw fail.
            (
                vec![
                    (4, Unsigned),
                    (7, SkipsVersion),
                    (10, ZeroThreshold),
                    (12, Unsigned),
                ],
                soon,
                4,
                Some((4, Rule::OldThreshold)),
            ),
            // The ninth root claims version 10.
            (
                vec![(9, SkipsVersion), (11, Unsigned)],
                soon,
                9,
                Some((10, Rule::Version)),
            ),
            // A file that does not parse ends the walk with its own step.
            (vec![(8, Garbage)], soon, 8, Some((8, Rule::Structure))),
            (
                vec![(5, BadSig), (8, Garbage)],
                soon,
                5,
                Some((5, Rule::OldThreshold)),
            ),
            // Only the final root's expiry counts.
            (vec![], at("2031-01-01"), 12, Some((12, Rule::Expired))),
            (
                vec![(12, ZeroThreshold)],
                soon,
                12,
                Some((12, Rule::Structure)),
            ),
        ];
        for (faults, when, steps, first) in cases {
            let label = format!("{:?}", faults.iter().map(|(v, _)| v).collect::<Vec<_>>());
            let dir = history(12, &faults.into_iter().collect());
            let report = same_on_every_thread_count(dir.path(), None, when);
            assert_eq!(outcome(&report), (steps, first), "faults at {label}");
        }
    }

    #[test]
    fn linked_history_files_are_followed_and_a_dangling_link_ends_the_walk() {
        let dir = history(6, &BTreeMap::new());
        let elsewhere = tempfile::tempdir().unwrap();
        let d = dir.path();
        // 3.root.json is a link to the same bytes kept elsewhere; 5 is a
        // link to nothing, so the history ends at 4 (6 is never looked at).
        std::fs::rename(d.join("3.root.json"), elsewhere.path().join("3")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path().join("3"), d.join("3.root.json")).unwrap();
        std::fs::remove_file(d.join("5.root.json")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path().join("gone"), d.join("5.root.json")).unwrap();
        let report = same_on_every_thread_count(d, None, at("2026-01-01"));
        assert!(report.ok());
        let versions: Vec<u64> = report.files.iter().map(|f| f.version).collect();
        assert_eq!(versions, [1, 2, 3, 4]);
        assert_eq!(report.history.steps.len(), 4);
    }

    #[test]
    fn audit_parallel_equals_serial_from_a_trusted_root() {
        let faults = [(7, Fault::Unsigned), (10, Fault::BadSig)]
            .into_iter()
            .collect();
        let dir = history(12, &faults);
        let trusted = dir.path().join("3.root.json");
        let report = same_on_every_thread_count(dir.path(), Some(&trusted), at("2026-01-01"));
        assert_eq!(report.history.trusted_version, Some(3));
        assert_eq!(outcome(&report), (4, Some((7, Rule::OldThreshold))));
    }

    #[test]
    fn audit_parallel_equals_serial_on_the_aktualizr_vectors() {
        let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/aktualizr");
        let mut roots: Vec<Vec<u8>> = std::fs::read_dir(&vectors)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        assert!(
            roots.len() >= 4,
            "vectors missing from {}",
            vectors.display()
        );
        roots.sort();
        let when = at("2020-01-01");
        // Each real root alone, then all of them as one history in every
        // rotation of their order (which breaks somewhere after the first).
        for root in &roots {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("1.root.json"), root).unwrap();
            same_on_every_thread_count(dir.path(), None, when);
        }
        let mut broken_somewhere = false;
        for shift in 0..roots.len() {
            let dir = tempfile::tempdir().unwrap();
            for (i, root) in roots
                .iter()
                .cycle()
                .skip(shift)
                .take(roots.len())
                .enumerate()
            {
                std::fs::write(dir.path().join(format!("{}.root.json", i + 1)), root).unwrap();
            }
            let report = same_on_every_thread_count(dir.path(), None, when);
            broken_somewhere |= !report.ok() && report.history.steps.len() > 1;
        }
        assert!(broken_somewhere, "no rotation failed past its first step");
    }
}
