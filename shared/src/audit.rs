//! Auditing a whole root history from a metadata folder.
//!
//! `submitter audit` and `signer audit` are the same command on either side of
//! the air gap, so the loading, checking and reporting live here and both
//! binaries only parse arguments and print.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::dialect::Dialect;
use crate::root::{format_expires, parse_expires, RootError, RootMetadata};
use crate::rules::{check_history, short, Failure, HistoryVerdict, Rule, ThresholdOf, Verdict};

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

fn read(path: &Path) -> Result<Vec<u8>, AuditError> {
    // Bounded: a root named /dev/zero (or a link to it) must not be read
    // until memory runs out. The dialect's own size limit is checked when
    // the root is parsed.
    Ok(crate::fsio::read_bounded(path, 8 << 20)?)
}

/// Walks `dir/N.root.json` upward, from 1 or from the version after
/// `trusted`, until a version is missing, and checks every step.
///
/// A file that does not parse as a root ends the walk with a failed step
/// (rule `structure` or `dialect`), because nothing after it can be trusted.
pub fn audit_dir(
    dir: &Path,
    trusted: Option<&Path>,
    dialect: Option<Dialect>,
    at: OffsetDateTime,
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

    let mut files = Vec::new();
    let mut chain = Vec::new();
    let mut broken: Option<Verdict> = None;
    let mut version = start;
    while version < start.saturating_add(MAX_HISTORY) {
        let path = dir.join(format!("{version}.root.json"));
        if !path.exists() {
            break;
        }
        let bytes = read(&path)?;
        files.push(HistoryFile {
            version,
            path: path.clone(),
            sha256: crate::sha256::hex(&bytes),
        });
        if dialect.is_none() {
            if let Ok(v) = crate::strict_json::from_slice(&bytes) {
                dialect = Dialect::detect(&v);
                dialect_detected = dialect.is_some();
            }
        }
        match RootMetadata::from_slice(&bytes, dialect) {
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
        version += 1;
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

    let mut history = check_history(trusted_root.as_ref(), &chain, at);
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
