//! `signer`: the offline half of a TUF root-key ceremony.
//!
//! It runs on the air-gapped laptop and must never be able to reach a network:
//! its dependency graph holds no network crate (a test enforces it).

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use time::OffsetDateTime;

use ceremony::audit;
use ceremony::Dialect;

/// Exit code when a verification ran and failed (a root history that does not
/// hold), as opposed to 1 for an error that kept the check from running.
const EXIT_VERIFICATION_FAILED: u8 = 3;

#[derive(Parser)]
#[command(
    name = "signer",
    version,
    about = "Offline TUF root-key ceremony: review, generate keys, sign. Never touches a network.",
    after_help = "Example:\n  signer audit --metadata-dir repo/metadata --at 2025-01-01"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a whole root history (1.root.json, 2.root.json, ...) against the rotation rules.
    #[command(
        after_help = "Exit status: 0 the history holds, 3 a step fails (the rule is named), 1 other errors.\n\nExample:\n  signer audit --metadata-dir metadata --trusted 3.root.json --json"
    )]
    Audit(AuditArgs),
}

#[derive(clap::Args)]
struct AuditArgs {
    /// Folder holding N.root.json files.
    #[arg(long, value_name = "DIR")]
    metadata_dir: PathBuf,
    /// A root you already trust; the walk starts at the version after it.
    #[arg(long, value_name = "FILE")]
    trusted: Option<PathBuf>,
    /// Metadata dialect; detected from the files when not given.
    #[arg(long, value_name = "ota-tuf|tuf")]
    dialect: Option<Dialect>,
    /// Check expiry as of this moment instead of now (2024-05-01 or RFC 3339).
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Audit(args) => run_audit(args),
    }
}

fn run_audit(args: AuditArgs) -> Result<ExitCode> {
    let at = match &args.at {
        Some(s) => audit::parse_at(s)?,
        None => OffsetDateTime::now_utc(),
    };
    let report = audit::audit_dir(
        &args.metadata_dir,
        args.trusted.as_deref(),
        args.dialect,
        at,
    )
    .context("audit could not run")?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&audit::render_json(&report))?
        );
    } else {
        print!("{}", audit::render_text(&report));
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VERIFICATION_FAILED)
    })
}
