//! `signer`: the offline half of a TUF root-key ceremony.
//!
//! It runs on the air-gapped laptop and must never be able to reach a network:
//! its dependency graph holds no network crate (a test enforces it).

#![forbid(unsafe_code)]

mod archive;
mod commands;
mod keystore;
mod machine;
mod pkcs11;
mod qr_cmd;
mod secrets;
mod sign;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use time::OffsetDateTime;

use ceremony::audit;
use ceremony::Dialect;

pub use ceremony::exit::{Refused as VerificationFailed, Usage as UsageError};
use ceremony::exit::{EXIT_USAGE, EXIT_VERIFICATION_FAILED};

#[derive(Parser)]
#[command(
    name = "signer",
    version,
    about = "Offline TUF root-key ceremony: review, generate keys, sign. Never touches a network.",
    after_help = "Example (one holder, one ceremony):\n  \
        signer import factory-keys.tgz -o keys.tgz.age\n  \
        signer review proposal.json\n  \
        signer sign proposal.json --keys keys.tgz.age -o bundle.json\n\n\
        Exit status: 0 ok, 1 error, 2 usage, 3 a verification failed."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Encrypt a fioctl keys tarball or PKCS#8 PEM keys into a new key archive, or record a
    /// root key that lives on a PKCS#11 token.
    #[command(
        after_help = "The archive is an age file; after `age -d` it is a tarball fioctl can read.\n\n\
        Examples:\n  \
        signer import factory-keys.tgz -o keys.tgz.age\n  \
        signer import --key 1a2b.pem --key 3c4d.pem -o keys.tgz.age\n  \
        signer import factory-keys.tgz -o keys.tgz.age -r age1... -r age1...   (escrow to two recipients)\n  \
        signer import --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --token ceremony --key-label root-1 -o keys.tgz.age\n    \
        (records a key that lives on a PKCS#11 token: its public key and where it is, never the private key)"
    )]
    Import(commands::ImportArgs),
    /// Write the archive back out as a plain (unencrypted!) fioctl tarball.
    #[command(
        after_help = "Example:\n  signer export keys.tgz.age -o factory-keys.tgz --plaintext"
    )]
    Export(commands::ExportArgs),
    /// Show the keys an archive holds (no secrets) and its trust anchors.
    #[command(after_help = "Example:\n  signer list keys.tgz.age")]
    List(commands::ListArgs),
    /// Show what signing a proposal would produce. Needs no keys.
    #[command(
        after_help = "New keys do not exist yet: they are shown as <new key 1>, <new key 2>, ...\n\n\
        Example:\n  signer review proposal.json"
    )]
    Review(sign::ReviewArgs),
    /// Verify a proposal, generate the new key(s), sign the new root(s), write the bundle.
    #[command(
        after_help = "The old archive is never changed: the new keys and the new trust anchor go to a\n\
        new archive (--new-archive, or keys-<UTC time>.tgz.age beside the old one).\n\n\
        Exit status: 0 signed (complete or partial bundle), 3 the proposal failed verification, 1 other errors.\n\n\
        Examples:\n  signer sign proposal.json --keys keys.tgz.age -o bundle.json\n  \
        signer sign proposal.json --keys keys.tgz.age -o bundle.json --pkcs11-module /usr/lib/softhsm/libsofthsm2.so\n    \
        (root keys the archive records on a token sign there; add --token LABEL to make the new keys on a token)"
    )]
    Sign(sign::SignArgs),
    /// Add a new root key to a new archive and export only its public key (multi-holder round 1).
    #[command(
        after_help = "Examples:\n  signer keygen --keys keys.tgz.age --type ed25519 -o alice.pubkey.json\n  \
        signer keygen --keys keys.tgz.age --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --token ceremony \\\n    \
        --type rsa-4096 -o alice.pubkey.json   (made on the token, never leaves it; the archive records where it is)"
    )]
    Keygen(commands::KeygenArgs),
    /// Check a whole root history (1.root.json, 2.root.json, ...) against the rotation rules.
    #[command(
        after_help = "Exit status: 0 the history holds, 3 a step fails (the rule is named), 1 other errors.\n\nExample:\n  signer audit --metadata-dir metadata --trusted 3.root.json --json"
    )]
    Audit(AuditArgs),
    /// Carry a file across the air gap as QR codes: show it, or read it back from scanned text.
    Qr(qr_cmd::QrArgs),
    /// Check a ceremony transcript: its hash chain, the head signatures against the new root,
    /// the root's anchor, and the hashes of any files given.
    #[command(
        after_help = "Exit status: 0 all holds, 3 something does not (the first broken entry is named), 1 other errors.\n\nExample:\n  signer verify-transcript bundle.transcript.jsonl --root 2.root.json proposal.json --html ceremony.html"
    )]
    VerifyTranscript(VerifyTranscriptArgs),
}

#[derive(clap::Args)]
struct VerifyTranscriptArgs {
    /// The transcript (JSON Lines) the signer wrote.
    #[arg(value_name = "TRANSCRIPT")]
    transcript: PathBuf,
    /// The new root the ceremony produced (N.root.json, or a bundle): its keys must have
    /// signed the transcript's head, and it must anchor the transcript.
    #[arg(long, value_name = "ROOT")]
    root: Option<PathBuf>,
    /// Also write a printable report (self-contained HTML).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Files whose sha256 the transcript must record (proposal, archive, ...).
    #[arg(value_name = "ARTEFACT")]
    artefacts: Vec<PathBuf>,
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
    /// Also write a printable report of the whole history (self-contained HTML).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

fn main() -> ExitCode {
    // Release tooling only (never in a shipped binary): completions, man pages.
    #[cfg(feature = "release-docs")]
    if let Some(code) = ceremony::release_docs::from_args::<Cli>("signer") {
        return code;
    }
    // Before anything can hold a secret.
    for problem in secrets::harden_process() {
        eprintln!("warning: {problem}");
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", ceremony::exit::render_chain(e.as_ref()));
            if e.downcast_ref::<VerificationFailed>().is_some() {
                ExitCode::from(EXIT_VERIFICATION_FAILED)
            } else if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Import(args) => commands::import(args),
        Command::Export(args) => commands::export(args),
        Command::List(args) => commands::list(args),
        Command::Review(args) => sign::review(args),
        Command::Sign(args) => sign::sign(args),
        Command::Keygen(args) => commands::keygen(args),
        Command::Audit(args) => run_audit(args),
        Command::Qr(args) => qr_cmd::run(args),
        Command::VerifyTranscript(args) => run_verify_transcript(args),
    }
}

fn run_verify_transcript(args: VerifyTranscriptArgs) -> Result<ExitCode> {
    let (v, text) = ceremony::transcript::verify_paths(
        &args.transcript,
        args.root.as_deref(),
        &args.artefacts,
        args.html.as_deref(),
    )
    .map_err(anyhow::Error::msg)?;
    print!("{text}");
    Ok(if v.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VERIFICATION_FAILED)
    })
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
    if let Some(html) = &args.html {
        let page = ceremony::report::audit_html(&report);
        ceremony::fsio::write_new(
            html,
            page.as_bytes(),
            &ceremony::fsio::WriteOptions::public(),
        )
        .with_context(|| format!("cannot write {}", html.display()))?;
        println!("report written to {}", html.display());
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VERIFICATION_FAILED)
    })
}
