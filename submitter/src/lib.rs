//! `submitter`: the online half of a TUF root-key ceremony.
//!
//! It fetches and verifies the current root(s) of a FoundriesFactory or a TUF
//! repository, writes the unsigned proposal the offline `signer` works from,
//! and uploads the signed bundle that comes back, checking it before any
//! request and confirming afterwards that the server serves exactly what was
//! signed. It never holds a private key.

#![forbid(unsafe_code)]

mod cosign;
mod factory;
mod fioctl_config;
mod first_root;
mod http;
mod merge;
mod netaudit;
mod oauth;
mod propose;
mod qr_cmd;
mod qr_image;
mod show;
mod source;
mod state;
mod tls;
mod token;
mod upload;
mod wave;

use ceremony_cli::{eprintln, println};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, Parser, Subcommand};

use ceremony::Dialect;
use ceremony_cli::audit::ReportArgs;
use ceremony_cli::verify_transcript::VerifyTranscriptArgs;

pub(crate) use ceremony_cli::exit::{UsageError, VerificationFailed};

#[derive(Parser)]
#[command(
    name = "submitter",
    version,
    about = "Online side of a TUF root-key ceremony: fetch roots, propose, upload, audit.",
    long_about = "Online side of a TUF root-key ceremony. It fetches and verifies the current root(s) of a \
        FoundriesFactory or a TUF repository, writes the unsigned proposal that the offline `signer` signs, \
        uploads the signed bundle that comes back, and audits whole root histories. It never holds a private key.",
    after_help = "The ceremony:\n  \
        submitter propose --factory F --rotate-all          (online; writes proposal-v<N>.json)\n  \
        signer sign proposal-v<N>.json --keys keys.tgz.age  (offline; writes bundle-v<N>.json)\n  \
        submitter upload bundle-v<N>.json                   (online; finds its proposal)\n  \
        submitter audit --factory F\n\n\
        Exit status: 0 ok, 1 error, 2 usage error, 3 a verification failed (the message says which rule)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch and verify the current root(s), and write an unsigned proposal for the signer.
    #[command(after_help = "Examples:\n  \
        submitter propose --factory acme --rotate-all\n  \
        submitter propose --factory acme --txid 3f2a…          (join an open transaction)\n  \
        submitter propose --factory acme --txid 3f2a… --sign-staged   (co-sign what is staged)\n  \
        submitter propose --factory acme --first-time --first-root-key acme-first.tgz --rotate-all   (the first rotation)\n  \
        submitter propose --repo https://tuf.example.org/metadata/ --rotate 1a2b3c4d\n  \
        submitter propose --repo repo/metadata --add 1 --threshold 2 --provided-key alice.pub.json")]
    Propose(ProposeCli),
    /// Check a signed bundle, upload it, and confirm the repository serves it.
    #[command(
        after_help = "Nothing is sent when the bundle answers another proposal, targets another repository or \
        Factory, or misses a threshold (a partial Factory bundle goes into the transaction beside the other holders' \
        signatures, and is applied once every threshold is met). Running upload again is always safe: it looks at \
        the server first.\n\n\
        Examples:\n  submitter upload bundle-v7.json                    (finds the proposal it answers)\n  \
        submitter upload bundle.json --proposal p.json\n  \
        submitter upload bundle.json --out-dir upload/        (a TUF repository served read-only over HTTP)"
    )]
    Upload(UploadCli),
    /// Fetch what a new production wave needs signed and write a wave proposal for the signer.
    #[command(
        after_help = "What fioctl's `waves init` computes: the production targets of TAG plus the CI \
        targets of VERSION (tags replaced by TAG), at VERSION, expiring in --expires-in days, less the --prune'd \
        versions. The production root chain is fetched from 1.root.json and verified.\n\n\
        Examples:\n  submitter wave-propose --factory acme wave-42 42 production      (writes wave-v42.json)\n  \
        submitter wave-propose --factory acme wave-43 43 production --prune 1,2\n  \
        signer sign-wave wave-v42.json --keys targets.tgz.age      (offline; writes wave-bundle-v42.json)\n  \
        submitter wave-publish wave-bundle-v42.json"
    )]
    WavePropose(WaveProposeCli),
    /// Check a signed wave bundle against its proposal, create the wave, and read it back.
    #[command(
        after_help = "Nothing is sent when the bundle answers another proposal or a signature does \
        not verify under the production root's targets role.\n\n\
        Examples:\n  submitter wave-publish wave-bundle-v42.json             (finds the proposal it answers)\n  \
        submitter wave-publish wave-bundle.json --proposal w.json"
    )]
    WavePublish(WavePublishCli),
    /// Cancel the open root-update transaction of a Factory.
    #[command(after_help = "Example:\n  submitter cancel --factory acme")]
    Cancel(CancelCli),
    /// Show a proposal, bundle, public-key file or root for humans (or as JSON).
    #[command(
        after_help = "Examples:\n  submitter show proposal.json\n  submitter show bundle.json --proposal proposal.json\n  \
        submitter show metadata/3.root.json --json"
    )]
    Show(ShowCli),
    /// Merge partial bundles (same proposal, same signed roots) into one.
    #[command(
        after_help = "Example:\n  submitter merge alice.bundle.json bob.bundle.json -o bundle.json"
    )]
    Merge(MergeCli),
    /// Check a whole root history (1.root.json, 2.root.json, ...) against the rotation rules.
    #[command(
        after_help = "Exit status: 0 the history holds, 3 a step fails (the rule is named), 1 other errors.\n\n\
        Examples:\n  submitter audit --metadata-dir metadata --trusted 3.root.json --json\n  \
        submitter audit --repo https://tuf.example.org/metadata/\n  submitter audit --factory acme"
    )]
    Audit(AuditCli),
    /// Carry a file across the air gap as QR codes: show it, or read it back from text or pictures.
    Qr(ceremony_cli::qr::QrArgs<qr_cmd::ReadArgs>),
    /// Check a ceremony transcript: its hash chain, the head signatures against the new root,
    /// the root's anchor, and the hashes of any files given.
    #[command(
        after_help = "Exit status: 0 all holds, 3 something does not (the first broken entry is named), 1 other errors.\n\nExample:\n  submitter verify-transcript bundle.transcript.jsonl --root bundle.json proposal.json --html ceremony.html"
    )]
    VerifyTranscript(VerifyTranscriptArgs),
}

/// Options for reaching servers.
#[derive(Args, Clone, Default)]
struct NetArgs {
    /// FoundriesFactory API base URL (default: fioctl's server.url, else https://api.foundries.io).
    #[arg(long, value_name = "URL")]
    api: Option<String>,
    /// Read the FoundriesFactory API token from this file (else FIOCTL_TOKEN, OSF_TOKEN, fioctl's config).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// fioctl's config file (default: $FIOCTL_CONFIG, else ~/.config/fioctl.yaml).
    #[arg(long, value_name = "FILE")]
    fioctl_config: Option<PathBuf>,
    /// Give up on one request after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
    /// Retry a GET this many times (with backoff) after a network failure or a 5xx answer.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
    retries: u32,
}

#[derive(Args)]
struct ProposeCli {
    /// The FoundriesFactory whose CI and production roots to rotate.
    #[arg(
        long,
        value_name = "F",
        conflicts_with = "repo",
        required_unless_present = "repo"
    )]
    factory: Option<String>,
    /// A TUF repository: a metadata folder, or the URL of one.
    #[arg(long, value_name = "URL|DIR")]
    repo: Option<String>,
    /// Metadata dialect of a TUF repository (default: detected, and said).
    #[arg(long, value_name = "ota-tuf|tuf")]
    dialect: Option<Dialect>,
    /// A root you already trust (TUF repository): the history is checked from the version after it.
    #[arg(long, value_name = "FILE")]
    trusted: Option<PathBuf>,
    /// Whose keys --rotate, --rotate-all, --add, --remove and --threshold
    /// change: the root keys, or a Factory's offline targets keys (as fioctl's
    /// --role=targets: the online targets key is never touched, --threshold
    /// is the production targets threshold, at least 2; the new keys go into
    /// the signer's --targets-keys archive).
    #[arg(
        long,
        value_name = "root|targets",
        value_parser = ["root", "targets"],
        default_value = "root",
        requires = "factory",
        conflicts_with_all = ["first_time", "provided_key", "sign_staged"]
    )]
    role: String,
    /// Replace this root key with a new one (key id, or a unique prefix of 8+ digits; repeatable).
    #[arg(long, value_name = "KEYID", conflicts_with = "rotate_all")]
    rotate: Vec<String>,
    /// Replace every root key.
    #[arg(long)]
    rotate_all: bool,
    /// Add this many new root keys on top of any replaced.
    #[arg(long, value_name = "N", default_value_t = 0)]
    add: u32,
    /// Type of the new keys the signer generates.
    #[arg(long, value_name = "ed25519|rsa-4096", alias = "add-key-type")]
    key_type: Option<String>,
    /// Remove this root key without replacement (repeatable).
    #[arg(long, value_name = "KEYID")]
    remove: Vec<String>,
    /// New root threshold (default: unchanged).
    #[arg(long, value_name = "N")]
    threshold: Option<u64>,
    /// The new root expires this many days from now.
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    expires_in: i64,
    /// Why: recorded in the new root (x-changelog for a Factory). Printable ASCII.
    #[arg(long, value_name = "TEXT")]
    message: Option<String>,
    /// Join this open FoundriesFactory transaction instead of starting one.
    #[arg(long, value_name = "ID")]
    txid: Option<String>,
    /// A public key made by `signer keygen` on another holder's machine (repeatable).
    #[arg(long, value_name = "FILE")]
    provided_key: Vec<PathBuf>,
    /// Sign the roots staged in the transaction --txid exactly as they are (begun by another
    /// holder, with fioctl or our signer): the signer only adds its signatures.
    #[arg(
        long,
        requires_all = ["txid", "factory"],
        conflicts_with_all = ["rotate", "rotate_all", "add", "key_type", "remove", "threshold",
            "expires_in", "message", "provided_key", "repo"]
    )]
    sign_staged: bool,
    /// The Factory's first rotation: the server hands out its first root key
    /// with the new transaction (fioctl `updates init --first-time -k`).
    #[arg(
        long,
        requires = "first_root_key",
        requires = "factory",
        conflicts_with = "txid"
    )]
    first_time: bool,
    /// With --first-time: the new fioctl-layout tarball to keep the first
    /// root key in (never overwritten), for `signer import` offline.
    #[arg(long, value_name = "F.tgz", requires = "first_time")]
    first_root_key: Option<PathBuf>,
    /// Where to write the proposal (default: proposal-v<N>.json here, N the new root's
    /// version, or the next free proposal-v<N>-2.json, …). A copy is kept in the state
    /// folder ($XDG_STATE_HOME/tuf-ceremony/proposals/), where `upload` finds it.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Overwrite the output file.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    net: NetArgs,
}

#[derive(Args)]
struct UploadCli {
    /// The bundle from `signer sign` (or `submitter merge`).
    #[arg(required_unless_present_any = ["qr_text", "qr_image"])]
    bundle: Option<PathBuf>,
    /// Read the bundle from QR frames as text (one UR per line; a file, or `-` for standard
    /// input, as a barcode scanner or `zbarcam --raw` gives them).
    #[arg(long, value_name = "FILE|-", conflicts_with_all = ["bundle", "qr_image"])]
    qr_text: Option<PathBuf>,
    /// Read the bundle from photos or screenshots of its QR codes.
    #[arg(long, value_name = "IMG", num_args = 1.., conflicts_with = "bundle")]
    qr_image: Vec<PathBuf>,
    /// Where to keep the bundle read from QR codes (a new file).
    #[arg(long, value_name = "FILE", default_value = "bundle-from-qr.json")]
    save_as: PathBuf,
    /// The proposal it answers (default: the one whose sha256 the bundle names: the copy
    /// `propose` kept in the state folder, else a proposal*.json beside the bundle or here).
    #[arg(long, value_name = "FILE")]
    proposal: Option<PathBuf>,
    /// For a TUF repository served over HTTP: write N+1.root.json and root.json here instead of PUT.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    #[command(flatten)]
    net: NetArgs,
}

#[derive(Args)]
struct WaveProposeCli {
    /// The FoundriesFactory.
    #[arg(long, value_name = "F")]
    factory: String,
    /// The wave's name.
    name: String,
    /// The CI targets version to release.
    version: u64,
    /// The production tag (devices following it get the wave).
    tag: String,
    /// The new targets expire this many days from now (fioctl's --expires-days).
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    expires_in: i64,
    /// Prune these old versions from the production targets (comma-separated or repeated).
    #[arg(long, value_name = "V,...", value_delimiter = ',')]
    prune: Vec<String>,
    /// Where to write the wave proposal (default: wave-v<VERSION>.json here, or the next
    /// free wave-v<VERSION>-2.json, …); a copy is kept in the state folder for `wave-publish`.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Overwrite the output file.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    net: NetArgs,
}

#[derive(Args)]
struct WavePublishCli {
    /// The wave bundle from `signer sign-wave`.
    bundle: PathBuf,
    /// The wave proposal it answers (default: the one whose sha256 the bundle names: the
    /// copy `wave-propose` kept in the state folder, else a wave*.json beside the bundle or here).
    #[arg(long, value_name = "FILE")]
    proposal: Option<PathBuf>,
    #[command(flatten)]
    net: NetArgs,
}

#[derive(Args)]
struct CancelCli {
    /// The Factory.
    #[arg(long, value_name = "F")]
    factory: String,
    #[command(flatten)]
    net: NetArgs,
}

#[derive(Args)]
struct ShowCli {
    /// A proposal, bundle, public-key file or root.
    file: PathBuf,
    /// For a bundle: the proposal to check it against (default: the one it answers, if found
    /// as `upload` finds it: by sha256 in the state folder, or a proposal*.json beside it or here).
    #[arg(long, value_name = "FILE")]
    proposal: Option<PathBuf>,
    /// Dialect of a bare root (default: detected).
    #[arg(long, value_name = "ota-tuf|tuf")]
    dialect: Option<Dialect>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct MergeCli {
    /// The partial bundles.
    #[arg(required = true, num_args = 2..)]
    bundles: Vec<PathBuf>,
    /// Where to write the merged bundle.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// The proposal they answer (default: the one the first bundle names by sha256, found as
    /// `upload` finds it).
    #[arg(long, value_name = "FILE")]
    proposal: Option<PathBuf>,
    /// Overwrite the output file.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
struct AuditCli {
    /// Folder holding N.root.json files.
    #[arg(long, value_name = "DIR")]
    metadata_dir: Option<PathBuf>,
    /// A TUF repository: metadata folder or URL.
    #[arg(long, value_name = "URL|DIR")]
    repo: Option<String>,
    /// A FoundriesFactory: both its CI and production histories.
    #[arg(long, value_name = "F")]
    factory: Option<String>,
    #[command(flatten)]
    report: ReportArgs,
    #[command(flatten)]
    net: NetArgs,
}

/// What every network command shares: how to reach servers.
pub struct Ctx {
    net: NetArgs,
}

impl Ctx {
    /// The FoundriesFactory credential, an expired OAuth2 token of fioctl's
    /// renewed first.
    pub fn auth(&self) -> Result<token::Auth> {
        let found = token::find(
            self.net.token_file.as_deref(),
            self.net.fioctl_config.as_deref(),
        )
        .map_err(anyhow::Error::msg)?;
        match found {
            token::Found::Ready(auth) => Ok(auth),
            token::Found::Renew {
                path,
                text,
                oauth,
                extra_headers,
            } => oauth::renew(&self.http(None)?, path, &text, oauth, extra_headers)
                .map_err(anyhow::Error::msg),
        }
    }

    /// A client (with `auth`, if given).
    pub fn http(&self, auth: Option<token::Auth>) -> Result<http::Http> {
        http::Http::new(
            http::HttpConfig {
                timeout: Duration::from_secs(self.net.timeout),
                retries: self.net.retries,
                ..http::HttpConfig::default()
            },
            auth,
        )
        .map_err(anyhow::Error::msg)
    }

    /// The API base URL.
    pub fn api(&self) -> String {
        self.net
            .api
            .clone()
            .or_else(|| token::configured_api(self.net.fioctl_config.as_deref()))
            .unwrap_or_else(|| factory::DEFAULT_API.to_string())
            .trim_end_matches('/')
            .to_string()
    }
}

/// The command-line definition, for the release tooling's completions and
/// man pages (`shared/xtask`).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Runs the submitter as its `main` does.
pub fn main() -> ExitCode {
    match ceremony_cli::exit::parse_args::<Cli>() {
        Ok(cli) => ceremony_cli::exit::finish(run(cli)),
        Err(code) => code,
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Propose(a) => {
            let ctx = Ctx { net: a.net.clone() };
            propose::run(
                &ctx,
                propose::ProposeArgs {
                    factory: a.factory,
                    repo: a.repo,
                    dialect: a.dialect,
                    trusted: a.trusted,
                    targets: a.role == "targets",
                    rotate: a.rotate,
                    rotate_all: a.rotate_all,
                    add: a.add,
                    key_type: a.key_type,
                    remove: a.remove,
                    threshold: a.threshold,
                    expires_in: a.expires_in,
                    message: a.message,
                    txid: a.txid,
                    provided_keys: a.provided_key,
                    sign_staged: a.sign_staged,
                    first_root_key: a.first_root_key,
                    output: a.output,
                    force: a.force,
                },
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Upload(a) => {
            let ctx = Ctx { net: a.net.clone() };
            let bundle = match (a.bundle, &a.qr_text, a.qr_image.is_empty()) {
                (Some(b), None, true) => b,
                (None, Some(src), true) => save_from_qr(qr_cmd::read_text(src)?.bytes, &a.save_as)?,
                (None, None, false) => {
                    save_from_qr(qr_image::read_images(&a.qr_image)?.bytes, &a.save_as)?
                }
                _ => {
                    return Err(UsageError(
                        "give the bundle file, or --qr-text, or --qr-image: one of them".into(),
                    )
                    .into())
                }
            };
            upload::run(
                &ctx,
                upload::UploadArgs {
                    bundle,
                    proposal: a.proposal,
                    out_dir: a.out_dir,
                },
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::WavePropose(a) => wave::propose(
            &Ctx { net: a.net },
            wave::ProposeArgs {
                factory: a.factory,
                name: a.name,
                version: a.version,
                tag: a.tag,
                expires_in: a.expires_in,
                prune: a.prune,
                output: a.output,
                force: a.force,
            },
        ),
        Command::WavePublish(a) => {
            wave::publish(&Ctx { net: a.net }, &a.bundle, a.proposal.as_deref())
        }
        Command::Cancel(a) => {
            let ctx = Ctx { net: a.net };
            cancel(&ctx, &a.factory)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Show(a) => {
            show::run(&a.file, a.json, a.proposal.as_deref(), a.dialect)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Merge(a) => {
            merge::run(&a.bundles, &a.output, a.proposal.as_deref(), a.force)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Qr(a) => ceremony_cli::qr::run(a),
        Command::VerifyTranscript(a) => ceremony_cli::verify_transcript::run(a),
        Command::Audit(a) => {
            let ctx = Ctx { net: a.net.clone() };
            let holds = netaudit::run(
                &ctx,
                netaudit::NetAuditArgs {
                    factory: a.factory.as_deref(),
                    repo: a.repo.as_deref(),
                    metadata_dir: a.metadata_dir.as_deref(),
                    report: &a.report,
                },
            )?;
            Ok(ceremony_cli::audit::status(holds))
        }
    }
}

/// Keeps a bundle read from QR codes as a new file, so that the upload
/// (and any later audit) works from a file like any other.
fn save_from_qr(bytes: Vec<u8>, path: &std::path::Path) -> Result<PathBuf> {
    ceremony::fsio::write_new(path, &bytes, &ceremony::fsio::WriteOptions::public()).with_context(
        || {
            format!(
                "cannot keep the bundle read from QR codes as {} (an existing file is never \
                 replaced: pick another name with --save-as)",
                path.display()
            )
        },
    )?;
    eprintln!(
        "bundle read from QR codes, sha256 {}, kept as {}",
        ceremony::sha256::hex(&bytes),
        path.display()
    );
    Ok(path.to_path_buf())
}

fn cancel(ctx: &Ctx, name: &str) -> Result<()> {
    factory::check_name(name).map_err(UsageError)?;
    let auth = ctx.auth()?;
    let http = ctx.http(Some(auth))?;
    let f = factory::Factory {
        http: &http,
        api: ctx.api(),
        name: name.to_string(),
    };
    let url = f.cancel_url();
    let a = match f.cancel() {
        Ok(a) => a,
        Err(e) => {
            // No answer: it may or may not have been cancelled. Look.
            let state = f
                .transaction()
                .map(|t| t.status)
                .with_context(|| format!("{e}; and the transaction state cannot be read"))?;
            if state == "NONE" {
                println!("no root-update transaction is open on Factory {name} (cancelled)");
                return Ok(());
            }
            return Err(anyhow::anyhow!(
                "{e}\nthe transaction is still {state}; run cancel again"
            ));
        }
    };
    if a.status == 404 {
        println!("no root-update transaction was open on Factory {name}: nothing to cancel");
        return Ok(());
    }
    http::Http::expect_ok("POST", &url, a)?;
    println!("cancelled the root-update transaction of Factory {name}");
    Ok(())
}
