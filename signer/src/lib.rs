//! `signer`: the offline half of a TUF root-key ceremony.
//!
//! It runs on the air-gapped laptop and must never be able to reach a network:
//! its dependency graph holds no network crate (a test enforces it).

#![forbid(unsafe_code)]

mod anchors;
mod archive;
mod commands;
mod export;
mod interrupt;
mod keystore;
mod machine;
mod outputs;
mod pkcs11;
mod progress;
mod qr_cmd;
mod secrets;
mod sign;
mod sign_wave;
mod standing;

use ceremony_cli::eprintln;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};

use ceremony_cli::audit::ReportArgs;
use ceremony_cli::verify_transcript::VerifyTranscriptArgs;

pub(crate) use ceremony_cli::exit::{UsageError, VerificationFailed};

#[derive(Parser)]
#[command(
    name = "signer",
    version,
    about = "Offline TUF root-key ceremony: review, generate keys, sign. Never touches a network.",
    after_help = "Example (one holder, one ceremony):\n  \
        signer import factory-keys.tgz -o keys.tgz.age\n  \
        signer review proposal-v7.json\n  \
        signer sign proposal-v7.json --keys keys.tgz.age          (writes bundle-v7.json)\n\n\
        Exit status: 0 ok, 1 error, 2 usage, 3 a verification failed; at a prompt, 1 for an\n\
        answer other than the one asked (\"no\") and 130 for Ctrl-C (143 SIGTERM), with the\n\
        terminal restored (sign and sign-wave record the abort in their transcript)."
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
        after_help = "At most one active root key goes into a tarball, as fioctl requires; old keys stay in each.\n\nExamples:\n  \
            signer export keys.tgz.age -o factory-keys.tgz --plaintext\n  \
            signer export keys.tgz.age --key 1a2b3c4d -o alice.tgz --plaintext\n  \
            signer export keys.tgz.age --each holders/ --plaintext                (one tarball per active key)"
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
        new archive (--new-archive, or keys-<UTC time>.tgz.age beside the old one). The bundle is\n\
        bundle-v<N>.json here (N the new root's version) unless -o names it, with its transcript\n\
        beside it; a default name that is taken (an earlier or aborted ceremony's) gives way to the\n\
        next free one (bundle-v<N>-2.json, …), and the signer says which it picked.\n\n\
        Exit status: 0 signed (complete or partial bundle), 3 the proposal failed verification, 1 other errors;\n\
        \"no\" (any other answer) at a prompt 1, Ctrl-C 130: the transcript records the abort, and no new archive\n\
        is written (new keys are written only after the last question, so none signed anything).\n\n\
        Examples:\n  signer sign proposal-v7.json --keys keys.tgz.age\n  \
        signer sign proposal.json --keys keys.tgz.age -o bundle.json --pkcs11-module /usr/lib/softhsm/libsofthsm2.so\n    \
        (root keys the archive records on a token sign there; add --token LABEL to make the new keys on a token)"
    )]
    Sign(sign::SignArgs),
    /// Verify a wave proposal, show every target, and sign the wave's targets with the offline targets key(s).
    #[command(
        after_help = "The production release of fioctl's `waves init -k targets.tgz`, offline: the new production \
        targets are computed here from what the server answered (the production targets of the tag, the CI targets \
        of the version), shown in full, and signed with the targets keys the production root lists. The server adds \
        its online targets signature when the wave is published.\n\n\
        Exit status: 0 signed, 3 the proposal failed verification or no key of the archive may sign, 1 other errors.\n\n\
        Example:\n  signer sign-wave wave-v42.json --keys targets.tgz.age      (writes wave-bundle-v42.json)"
    )]
    SignWave(sign_wave::SignWaveArgs),
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
    Qr(ceremony_cli::qr::QrArgs<qr_cmd::ReadArgs>),
    /// Check a ceremony transcript: its hash chain, the head signatures against the new root,
    /// the root's anchor, and the hashes of any files given.
    #[command(
        after_help = "Exit status: 0 all holds, 3 something does not (the first broken entry is named), 1 other errors.\n\nExample:\n  signer verify-transcript bundle.transcript.jsonl --root 2.root.json proposal.json --html ceremony.html"
    )]
    VerifyTranscript(VerifyTranscriptArgs),
}

#[derive(clap::Args)]
struct AuditArgs {
    /// Folder holding N.root.json files.
    #[arg(long, value_name = "DIR")]
    metadata_dir: PathBuf,
    #[command(flatten)]
    report: ReportArgs,
}

/// The command-line definition, for the release tooling's completions and
/// man pages (`shared/xtask`).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Runs the signer as its `main` does.
pub fn main() -> ExitCode {
    // Before anything can hold a secret.
    for problem in secrets::harden_process() {
        eprintln!("warning: {problem}");
    }
    match ceremony_cli::exit::parse_args::<Cli>() {
        Ok(cli) => {
            // Before any prompt: Ctrl-C at one is then an abort the command
            // records, with the terminal restored.
            interrupt::install();
            interrupt::finish(run(cli))
        }
        Err(code) => code,
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    // Commands that open or make keys refuse a networked machine first,
    // before anything is read or asked (`sign` and `sign-wave` check it
    // themselves, for their transcripts).
    let offline = |unlock: &commands::UnlockArgs, command: &str| {
        machine::require_offline(&unlock.network, command).map(|_| ())
    };
    match cli.command {
        Command::Import(args) => {
            offline(&args.unlock, "import")?;
            commands::import(args)
        }
        Command::Export(args) => {
            offline(&args.unlock, "export")?;
            commands::export(args)
        }
        Command::List(args) => {
            offline(&args.unlock, "list")?;
            commands::list(args)
        }
        Command::Review(args) => sign::review(args),
        Command::Sign(args) => sign::sign(args),
        Command::SignWave(args) => sign_wave::sign_wave(args),
        Command::Keygen(args) => {
            offline(&args.unlock, "keygen")?;
            commands::keygen(args)
        }
        Command::Audit(args) => ceremony_cli::audit::run_dir(&args.metadata_dir, &args.report),
        Command::Qr(args) => ceremony_cli::qr::run(args),
        Command::VerifyTranscript(args) => ceremony_cli::verify_transcript::run(args),
    }
}
