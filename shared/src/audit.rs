//! Auditing a whole root history from a metadata folder.
//!
//! `submitter audit` and `signer audit` are the same command on either side of
//! the air gap, so the loading, checking and reporting live here and both
//! binaries only parse arguments and print.

use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::dialect::Dialect;
use crate::root::{format_expires, parse_expires, RootError, RootMetadata};
use crate::rules::{check_history_on, short, Failure, HistoryVerdict, Rule, ThresholdOf, Verdict};

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

/// One history file, read and parsed.
struct Loaded {
    sha256: String,
    root: Result<RootMetadata, RootError>,
    /// The dialect the file shows, when it was loaded without one.
    detected: Option<Dialect>,
}

fn load(path: &Path, dialect: Option<Dialect>) -> Result<Loaded, AuditError> {
    let bytes = read(path)?;
    let detected = match dialect {
        Some(_) => None,
        None => crate::strict_json::from_slice(&bytes)
            .ok()
            .and_then(|v| Dialect::detect(&v)),
    };
    Ok(Loaded {
        sha256: crate::sha256::hex(&bytes),
        root: RootMetadata::from_slice(&bytes, dialect.or(detected)),
        detected,
    })
}

/// [`load`]s every path with `dialect`, on `threads` threads, in order.
/// Files after a broken one are loaded too (the caller stops there); each
/// read is bounded, and so is the number of files.
fn load_all(
    paths: &[(u64, PathBuf)],
    dialect: Option<Dialect>,
    threads: NonZeroUsize,
) -> Vec<Result<Loaded, AuditError>> {
    let threads = threads.get().min(paths.len());
    if threads <= 1 {
        return paths.iter().map(|(_, p)| load(p, dialect)).collect();
    }
    // Contiguous shares keep the order without any bookkeeping; files are
    // about the same size, so the shares cost about the same.
    let share = paths.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = paths
            .chunks(share)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(_, p)| load(p, dialect))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(done) => done,
                // A panic while loading is a bug; carry it on as a serial
                // load would.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
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

    // Which files there are: a stat each, cheap, so done in order. Reading,
    // hashing and parsing them is not, and is independent per file once the
    // dialect is fixed, so that runs on every core (see `load_all`).
    let mut paths = Vec::new();
    let mut version = start;
    while version < start.saturating_add(MAX_HISTORY) {
        let path = dir.join(format!("{version}.root.json"));
        if !path.exists() {
            break;
        }
        paths.push((version, path));
        version += 1;
    }
    // Until the dialect is known, each file may fix it for the ones after,
    // so those are loaded one by one (in practice only 1.root.json).
    let mut loaded = Vec::with_capacity(paths.len());
    while dialect.is_none() && loaded.len() < paths.len() {
        let file = load(&paths[loaded.len()].1, None);
        let stop = !matches!(&file, Ok(f) if f.root.is_ok());
        if let Ok(f) = &file {
            dialect = f.detected;
            dialect_detected = dialect.is_some();
        }
        loaded.push(file);
        if stop {
            // The walk ends here (a read error or a broken root): nothing
            // after it is looked at.
            paths.truncate(loaded.len());
        }
    }
    loaded.extend(load_all(&paths[loaded.len()..], dialect, options.threads()));

    let mut files = Vec::new();
    let mut chain = Vec::new();
    let mut broken: Option<Verdict> = None;
    for ((version, path), file) in paths.into_iter().zip(loaded) {
        let file = file?;
        files.push(HistoryFile {
            version,
            path: path.clone(),
            sha256: file.sha256,
        });
        match file.root {
            Ok(root) => chain.push(root),
            Err(e) => {
                let rule = match e {
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
                        message: format!("{}: {e}", path.display()),
                    }],
                    warnings: Vec::new(),
                });
                break;
            }
        }
    }
    // Consecutive roots mostly list the same keys: decode each key object
    // once and hand the decoded key on, instead of once per root.
    for i in 1..chain.len() {
        let (before, after) = chain.split_at(i);
        after[0].reuse_keys_from(&before[i - 1]);
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

    let mut history = check_history_on(trusted_root.as_ref(), &chain, at, options.threads());
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
        dialect: dialect.unwrap_or(Dialect::Tuf),
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
        for threads in [2, 3, 5, 16] {
            let parallel = rendered(dir, trusted, when, threads);
            assert_eq!(serial.0, parallel.0, "text differs on {threads} threads");
            assert_eq!(serial.1, parallel.1, "JSON differs on {threads} threads");
        }
        let one = AuditOptions {
            threads: NonZeroUsize::new(1),
        };
        audit_dir_with(dir, trusted, None, when, &one).unwrap()
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
