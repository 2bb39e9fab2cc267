//! `audit`, as both binaries run it on a folder of `N.root.json` files: the
//! flags they share, and one way to print the report, so that `signer audit`
//! on the offline laptop and `submitter audit` online say the same words for
//! the same history.

use crate::{eprintln, print};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use time::OffsetDateTime;

use ceremony::audit::{self, AuditOptions, AuditReport};
use ceremony::fsio::{self, WriteOptions};
use ceremony::report::Subject;
use ceremony::Dialect;

use crate::exit::{UsageError, EXIT_VERIFICATION_FAILED};

/// What an audit reports and against what, whatever the history's source.
#[derive(Args, Clone)]
pub struct ReportArgs {
    /// A root you already trust; the walk starts at the version after it.
    #[arg(long, value_name = "FILE")]
    pub trusted: Option<PathBuf>,
    /// Metadata dialect; detected from the files when not given.
    #[arg(long, value_name = "ota-tuf|tuf")]
    pub dialect: Option<Dialect>,
    /// Check expiry as of this moment instead of now (2024-05-01 or RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write a printable report (self-contained HTML; a FoundriesFactory's two histories
    /// give FILE-ci.html and FILE-prod.html).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Check signatures on N threads (default: one per core); 1 checks them
    /// one after another. The report is the same either way.
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,
}

impl ReportArgs {
    /// The moment expiry is checked at: `--at`, or now.
    pub fn at(&self) -> Result<OffsetDateTime> {
        Ok(match &self.at {
            Some(s) => audit::parse_at(s).map_err(|e| UsageError(e.to_string()))?,
            None => OffsetDateTime::now_utc(),
        })
    }

    /// How the library runs the audit (`--threads`).
    pub fn options(&self) -> AuditOptions {
        AuditOptions {
            threads: self.threads,
        }
    }
}

/// `audit --metadata-dir DIR`: checks a local history.
pub fn run_dir(dir: &Path, args: &ReportArgs) -> Result<ExitCode> {
    let report = audit::audit_dir_with(
        dir,
        args.trusted.as_deref(),
        args.dialect,
        args.at()?,
        &args.options(),
    )
    .context("audit could not run")?;
    print(&report, args.json)?;
    write_html(&report, args.html.as_deref(), &folder_subject(dir))?;
    Ok(status(report.ok()))
}

/// What a report of the roots in folder `dir` is about.
pub fn folder_subject(dir: &Path) -> Subject {
    Subject {
        // The HTML page escapes it (control characters shown visibly).
        target: format!("the roots in the folder {}", dir.display()),
        chain: None,
    }
}

/// Prints one history's report, as text or JSON, on standard output.
pub fn print(report: &AuditReport, json: bool) -> Result<()> {
    if json {
        crate::output::print_json(&audit::render_json(report))?;
    } else {
        print!("{}", audit::render_text(report));
    }
    Ok(())
}

/// Writes the printable report to `html` (never over an existing file) and
/// says so on standard error, so that `--json` output stays parseable.
pub fn write_html(report: &AuditReport, html: Option<&Path>, subject: &Subject) -> Result<()> {
    if let Some(path) = html {
        write_report(path, &ceremony::report::audit_html(report, subject))?;
        eprintln!("report written to {}", path.display());
    }
    Ok(())
}

/// 0 when every history holds, 3 when one does not.
pub fn status(holds: bool) -> ExitCode {
    if holds {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VERIFICATION_FAILED)
    }
}

/// Writes a printable HTML report (`--html`) as a new file: an existing
/// file is never replaced, and the refusal names the flag.
pub(crate) fn write_report(path: &Path, page: &str) -> Result<()> {
    fsio::write_new(path, page.as_bytes(), &WriteOptions::public()).with_context(|| {
        format!(
            "cannot write the HTML report {} (an existing file is never replaced: pick \
             another name with --html)",
            path.display()
        )
    })?;
    Ok(())
}
