//! Preflight: everything that can be checked before the archive is opened:
//! the output paths are free, the machine is (or is said not to be)
//! offline, and the proposal parses, asks for a plausible change, its
//! current roots verify on their own, and what signing will produce fits
//! the limits of the dialect's clients and of the stick.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use time::OffsetDateTime;

use ceremony::bundle::Bundle;
use ceremony::keys::{NewKeyType, PublicKey};
use ceremony::proposal::{KeyRole, Proposal};
use ceremony::rotation::{self, Plans};
use ceremony::rules::{check_step, next_version, Rule};
use ceremony::transcript::event::{Command, Input, Start};
use ceremony::transcript::{Event, TranscriptWriter};
use ceremony::RootMetadata;

use super::args::SignArgs;
use super::build::placeholder_plans;
use super::{failures, refused};
use crate::archive;
use crate::commands;
use crate::machine;
use crate::UsageError;

/// What every later step works on: the checked proposal and what it asks
/// for, where the ceremony writes, and the transcript.
pub(super) struct Ceremony {
    /// The one clock reading of the ceremony: expiry checks, names, records.
    pub(super) now: OffsetDateTime,
    /// `now` as the archive's manifest records it.
    pub(super) now_s: String,
    /// Where the new archive goes.
    pub(super) new_archive: PathBuf,
    /// In memory until the first durable write (the new archive): a ceremony
    /// refused before it changed anything leaves no file.
    pub(super) transcript: TranscriptWriter,
    pub(super) proposal: Proposal,
    /// sha256 of the proposal's exact bytes, which the bundle names.
    pub(super) proposal_sha: String,
    pub(super) key_type: NewKeyType,
    /// The keys other holders made, from the proposal.
    pub(super) provided: Vec<PublicKey>,
    /// How many keys this holder makes.
    pub(super) to_generate: usize,
    /// The current root of the proposal's first chain: what an archive that
    /// holds none of its keys is shown.
    pub(super) first_current: RootMetadata,
    /// Where new offline targets keys go (a targets change that makes
    /// keys): the targets archive to read, if it exists, and the file to
    /// write.
    pub(super) targets_archive: Option<TargetsArchive>,
    /// A targets rotation's signatures of production and wave targets, once
    /// made, for the bundle.
    pub(super) resigned: super::resign::Signatures,
    /// The REHEARSAL line, when this run was declared one: said again in
    /// the review header and the closing lines, where no one misses it.
    pub(super) rehearsal: Option<String>,
}

/// The targets keys' archive of a targets change that makes keys.
pub(super) struct TargetsArchive {
    /// `--targets-keys`, when the file exists (its keys are kept).
    pub(super) from: Option<PathBuf>,
    /// The archive to write: a successor beside it, or `--targets-keys`
    /// itself when it did not exist.
    pub(super) to: PathBuf,
}

/// Runs the preflight of `signer sign` and starts the transcript; fills in
/// `args.output`, the bundle's path (the default name carries the new
/// root's version, so the proposal is read first).
pub(super) fn run(args: &mut SignArgs, now: OffsetDateTime) -> Result<Ceremony> {
    // Before anything is read or asked: a networked machine is refused
    // unless this is a rehearsal.
    let machine = machine::require_offline(&args.unlock.network, "sign")?;
    let rehearsal = machine
        .rehearsal
        .map(|how| machine::rehearsal_banner(how, &machine::interfaces_up(&machine)));
    let proposal_source = match (&args.proposal, &args.qr_text) {
        (_, Some(src)) => format!("QR frames from {}", src.display()),
        (Some(p), None) => p.display().to_string(),
        (None, None) => String::new(),
    };
    let now_s = commands::now_text(now);
    // Nothing is written before the transcript's first durable write, so
    // reading the proposal before the transcript starts changes no record.
    let (proposal, proposal_sha) = match (&args.proposal, &args.qr_text) {
        (_, Some(src)) => {
            let bytes = crate::qr_cmd::read_text(src)?.bytes;
            parse_proposal(&bytes, &proposal_source)?
        }
        (Some(path), None) => load_proposal(path)?,
        (None, None) => {
            return Err(UsageError("give the proposal file, or --qr-text".into()).into())
        }
    };
    let (new_archive, transcript_path) = free_paths(args, &proposal, now)?;
    let args = &*args;

    let mut t = TranscriptWriter::deferred(&transcript_path);
    t.append(&Event::Start(Start {
        software: machine::software_identity("signer", env!("CARGO_PKG_VERSION")),
        machine,
        operator: args.operator.clone(),
        witnesses: args.witnesses.clone(),
        command: Command {
            proposal: proposal_source.clone(),
            keys: args.archive().display().to_string(),
            bundle: args.output.display().to_string(),
            new_archive: new_archive.display().to_string(),
            yes: args.yes,
            force: args.force,
        },
    }))?;
    t.append(&Event::Input(Input::Proposal {
        path: proposal_source,
        sha256: proposal_sha.clone(),
        target: proposal.target.to_string(),
        dialect: proposal.dialect,
        txid: proposal.txid.clone(),
    }))?;
    let key_type = new_key_type(&proposal, args.key_type)?;
    let provided = provided_keys(&proposal)?;
    let to_generate = keys_to_generate(&proposal, provided.len())?;
    let targets_archive = targets_archive(args, &proposal, to_generate, &new_archive, now)?;
    super::resign::preflight(&proposal)?;
    check_proposal_roots(&proposal)?;
    let (dry_plans, _) = placeholder_plans(&proposal, &provided, to_generate, now)?;
    check_new_roots(
        &proposal,
        &proposal_sha,
        &provided,
        to_generate,
        key_type,
        &dry_plans,
        now,
    )?;
    let warnings: Vec<String> = dry_plans
        .iter()
        .flat_map(|p| rotation::guard_rails(p, now))
        .collect();
    if !warnings.is_empty() && !args.force {
        bail!(
            "guard rails: {}\nNothing was signed or written. Run `signer review` to see the whole \
             change; if it is what you want, sign again with --force",
            warnings.join("; ")
        );
    }
    Ok(Ceremony {
        now,
        now_s,
        new_archive,
        transcript: t,
        first_current: dry_plans.first().current.clone(),
        proposal,
        proposal_sha,
        key_type,
        provided,
        to_generate,
        targets_archive,
        resigned: Default::default(),
        rehearsal,
    })
}

/// Which archive new offline targets keys go to: root and targets keys are
/// kept apart, as fioctl keeps them (`--keys`, `--targets-keys`), so a
/// targets change that makes keys needs `--targets-keys`, and only it may
/// have one. Checked before anything is opened: the file to write is free.
fn targets_archive(
    args: &SignArgs,
    proposal: &Proposal,
    to_generate: usize,
    new_archive: &Path,
    now: OffsetDateTime,
) -> Result<Option<TargetsArchive>> {
    let targets = proposal.change.role == KeyRole::Targets;
    if args.targets_only() {
        return targets_holder_archive(args, proposal, to_generate, new_archive);
    }
    if !targets {
        if args.targets_keys.is_some() {
            return Err(UsageError(
                "--targets-keys is for a change of the offline targets keys; this proposal \
                 changes the root keys, which come from --keys alone"
                    .into(),
            )
            .into());
        }
        return Ok(None);
    }
    if to_generate == 0 {
        return Ok(None);
    }
    if args.token.token.is_some() {
        return Err(UsageError(
            "--token makes root keys on a token; the new offline targets keys are made in \
             memory and kept in the targets keys' archive (--targets-keys)"
                .into(),
        )
        .into());
    }
    let Some(path) = &args.targets_keys else {
        return Err(UsageError(format!(
            "this proposal makes {to_generate} new offline targets key(s); they go into the \
             targets keys' own archive, not the root keys' (--keys): give --targets-keys \
             TARGETS.tgz.age (from `signer import TARGETS.tgz --role targets -o \
             TARGETS.tgz.age`, or a new file name for the first offline targets key)"
        ))
        .into());
    };
    if Some(path) == args.keys.as_ref() {
        return Err(UsageError(
            "--targets-keys names the root keys' archive (--keys): the targets keys are kept \
             in an archive of their own"
                .into(),
        )
        .into());
    }
    let exists = std::fs::symlink_metadata(path).is_ok();
    let to = match (&args.new_targets_archive, exists) {
        (Some(p), _) => {
            archive::refuse_taken(p, "an archive", "--new-targets-archive")?;
            p.clone()
        }
        (None, true) => {
            let (p, note) = crate::outputs::free_default(commands::default_successor(path, now))?;
            if let Some(note) = note {
                eprintln!("{note}");
            }
            p
        }
        (None, false) => path.clone(),
    };
    if to == new_archive || to == args.output {
        return Err(UsageError(
            "the targets keys' new archive names the same file as -o or --new-archive".into(),
        )
        .into());
    }
    Ok(Some(TargetsArchive {
        from: exists.then(|| path.clone()),
        to,
    }))
}

/// The targets keys' holder's run (`--targets-keys`, no `--keys`): only a
/// targets change that makes new offline targets keys has a part for it
/// (the keys, and the production targets they re-sign); every other change
/// is signed by root keys alone. The archive it opens is `--targets-keys`,
/// which must exist (its protection is the new one's), and the run's new
/// archive is the targets keys' successor.
fn targets_holder_archive(
    args: &SignArgs,
    proposal: &Proposal,
    to_generate: usize,
    new_archive: &Path,
) -> Result<Option<TargetsArchive>> {
    let usage = |m: String| -> anyhow::Error { UsageError(m).into() };
    if proposal.change.role != KeyRole::Targets || proposal.change.sign_staged {
        return Err(usage(
            "--keys ROOT.tgz.age is required: this proposal changes (or signs as staged) the \
             roots, which only root keys sign; --targets-keys alone is for the targets keys' \
             holder's part of a targets change that makes new offline targets keys"
                .into(),
        ));
    }
    if to_generate == 0 {
        return Err(usage(
            "--keys ROOT.tgz.age is required: this targets change makes no new offline targets \
             key, so only the root keys sign it and --targets-keys has no part in it"
                .into(),
        ));
    }
    if args.token.token.is_some() {
        return Err(usage(
            "--token makes root keys on a token; the new offline targets keys are made in \
             memory and kept in the targets keys' archive (--targets-keys)"
                .into(),
        ));
    }
    let path = args.archive();
    if std::fs::symlink_metadata(path).is_err() {
        return Err(usage(format!(
            "{} does not exist: without --keys the targets keys' archive must exist (its \
             protection and trust anchors are the new one's). For the first offline targets \
             key give --keys ROOT.tgz.age too, or import fioctl's targets tarball first \
             (`signer import TARGETS.tgz --role targets -o TARGETS.tgz.age`)",
            path.display()
        )));
    }
    Ok(Some(TargetsArchive {
        from: Some(path.to_path_buf()),
        to: new_archive.to_path_buf(),
    }))
}

/// What can be known of the new roots before any key is made, and would
/// otherwise refuse them only after the confirmation: a transcript marker
/// already in a message, the sizes as uploaded, and the rotation rules but
/// for signatures. `signer sign` runs it in its preflight, `signer review`
/// after showing the change.
#[allow(clippy::too_many_arguments)]
pub(super) fn check_new_roots(
    proposal: &Proposal,
    proposal_sha: &str,
    provided: &[PublicKey],
    to_generate: usize,
    key_type: NewKeyType,
    dry_plans: &Plans,
    now: OffsetDateTime,
) -> Result<()> {
    // The anchor is appended to the message after the confirmation; a
    // message that already holds its marker is refused now, rather than
    // cut or doubled after the operator saw it. The server's staged roots
    // too, even one the plan does not build on (prod is derived from ci):
    // a marker there is tampering or confusion.
    for chain in &proposal.chains {
        let staged = proposal.staged_root(chain)?;
        for root in dry_plans
            .iter()
            .filter(|p| p.name == chain.name)
            .map(|p| &p.new)
            .chain(staged.as_ref())
        {
            ceremony::transcript::check_anchorable(root).map_err(|e| {
                refused(format!(
                    "{}: {e}. Nothing was signed or written",
                    ceremony::untrusted::escape(&chain.name)
                ))
            })?;
        }
    }
    check_sizes(proposal, proposal_sha, provided, to_generate, key_type, now)?;
    check_rules_before_signing(proposal, dry_plans, now)
}

/// The rotation rules on the new roots as they will be, before any key is
/// made: everything the self-check after signing would refuse except the
/// signatures themselves (a threshold the server raised above its keys, an
/// expired root, a malformed role), so that the operator is not asked to
/// confirm, nor keys made, for a root that can only be refused.
fn check_rules_before_signing(
    proposal: &Proposal,
    plans: &Plans,
    now: OffsetDateTime,
) -> Result<()> {
    for plan in plans.iter() {
        let mut verdict = check_step(Some(&plan.current), &plan.new, Some(now));
        verdict
            .failures
            .retain(|f| !matches!(f.rule, Rule::OldThreshold | Rule::NewThreshold));
        if !verdict.ok() {
            let staged = proposal
                .chain(&plan.name)
                .is_some_and(|c| c.staged.is_some());
            return Err(refused(format!(
                "{}: the new root{} would break the rotation rules: {}. Nothing was signed or written",
                ceremony::untrusted::escape(&plan.name),
                if staged {
                    ", built on the root the server staged,"
                } else {
                    ""
                },
                failures(&verdict)
            )));
        }
    }
    Ok(())
}

/// The bundle's (into `args.output`), the new archive's and the
/// transcript's paths: names given are refused when taken, naming their
/// flag; default names that are taken give way to the next free ones, and
/// the operator is told which; two outputs may not name the same file.
fn free_paths(
    args: &mut SignArgs,
    proposal: &Proposal,
    now: OffsetDateTime,
) -> Result<(PathBuf, PathBuf)> {
    // Without --keys the run's one new archive is the targets keys'.
    if args.targets_only() && args.new_archive.is_some() {
        return Err(UsageError(
            "--new-archive names the root keys' new archive, and without --keys there is none: \
             the targets keys' new archive is --new-targets-archive"
                .into(),
        )
        .into());
    }
    let given = match (&args.new_archive, args.targets_only()) {
        (Some(p), _) => Some((p.clone(), "--new-archive")),
        (None, true) => args
            .new_targets_archive
            .clone()
            .map(|p| (p, "--new-targets-archive")),
        (None, false) => None,
    };
    let new_path = match given {
        Some((p, flag)) => {
            archive::refuse_taken(&p, "an archive", flag)?;
            p
        }
        None => {
            let (p, note) =
                crate::outputs::free_default(commands::default_successor(args.archive(), now))?;
            if let Some(note) = note {
                eprintln!("{note}");
            }
            p
        }
    };
    let outputs = crate::outputs::bundle_and_transcript(
        args.given_output.as_deref(),
        args.transcript.as_deref(),
        &ceremony::names::bundle_stem(new_root_version(proposal)),
        "a bundle",
    )?;
    for note in &outputs.picked {
        eprintln!("{note}");
    }
    args.output = outputs.bundle;
    if new_path == args.output {
        return Err(UsageError("-o and --new-archive name the same file".into()).into());
    }
    if outputs.transcript == new_path {
        return Err(UsageError("--transcript names the same file as --new-archive".into()).into());
    }
    Ok((new_path, outputs.transcript))
}

/// The version of the new root of the proposal's first chain (CI for a
/// Factory), for the default names; 0 for a proposal too broken to say,
/// which the checks that follow refuse anyway.
fn new_root_version(proposal: &Proposal) -> u64 {
    proposal
        .chains
        .first()
        .and_then(|c| proposal.current_root(c).ok())
        .and_then(|r| r.version().ok())
        .and_then(next_version)
        .unwrap_or(0)
}

/// The largest proposal read.
const MAX_PROPOSAL: u64 = ceremony::crossing::MAX_CROSSING_FILE as u64;

pub(super) fn load_proposal(path: &Path) -> Result<(Proposal, String)> {
    let bytes = archive::read_file_bounded(path, MAX_PROPOSAL)
        .with_context(|| format!("cannot read the proposal {}", path.display()))?;
    parse_proposal(&bytes, &path.display().to_string())
}

/// A proposal that does not parse is an error (exit 1); one that parses but
/// asks for what no honest submitter writes (a chain name the dialect does
/// not have, a staged root in TUF) is refused (exit 3).
fn parse_proposal(bytes: &[u8], from: &str) -> Result<(Proposal, String)> {
    let proposal = Proposal::from_slice(bytes).map_err(|e| {
        if e.is_refusal() {
            refused(format!(
                "{from} is not a usable proposal: {e}. Nothing was signed or written"
            ))
        } else {
            anyhow::Error::new(e).context(format!("{from} is not a usable proposal"))
        }
    })?;
    Ok((proposal, ceremony::sha256::hex(bytes)))
}

/// The type of the keys to generate: `--key-type`, else the proposal's,
/// else Ed25519; a contradiction between the two is refused.
pub(super) fn new_key_type(proposal: &Proposal, cli: Option<NewKeyType>) -> Result<NewKeyType> {
    let asked = proposal
        .change
        .key_type
        .as_deref()
        .map(|s| {
            s.parse::<NewKeyType>()
                .map_err(|e| anyhow!("the proposal's change.key_type: {e}"))
        })
        .transpose()?;
    match (asked, cli) {
        (Some(a), Some(c)) if a != c => Err(UsageError(format!(
            "the proposal asks for {a} keys, but --key-type says {c}; drop --key-type or make a new proposal"
        ))
        .into()),
        (a, c) => Ok(c.or(a).unwrap_or_default()),
    }
}

/// The keys other holders made (`signer keygen`), from the proposal.
pub(super) fn provided_keys(proposal: &Proposal) -> Result<Vec<PublicKey>> {
    proposal
        .change
        .provided_keys
        .iter()
        .enumerate()
        .map(|(i, p)| {
            PublicKey::from_key_object(&p.key, proposal.dialect)
                .map_err(|e| anyhow!("change.provided_keys[{i}] is not a usable key: {e}"))
        })
        .collect()
}

/// The most new root keys one ceremony makes.
const MAX_NEW_KEYS: usize = 32;

/// How many keys signing generates here.
pub(super) fn keys_to_generate(proposal: &Proposal, provided: usize) -> Result<usize> {
    let needed = rotation::keys_needed(proposal)?;
    if needed > MAX_NEW_KEYS {
        bail!(
            "the proposal asks for {needed} new root keys; more than {MAX_NEW_KEYS} is not a \
             plausible root (make a new proposal)"
        );
    }
    if provided > needed {
        bail!(
            "the proposal provides {provided} key(s), but its change needs only {needed} new key(s); \
             make a new proposal"
        );
    }
    Ok(needed - provided)
}

/// The checks on the proposal that need no keys: every current root meets
/// its own threshold and can be followed, and a staged root is exactly one
/// version on.
pub(super) fn check_proposal_roots(proposal: &Proposal) -> Result<()> {
    for chain in &proposal.chains {
        let current = proposal.current_root(chain)?;
        let verdict = check_step(None, &current, None);
        if !verdict.ok() {
            return Err(refused(format!(
                "{}: the proposal's current root (v{}) does not verify on its own: {}. \
                 It is not a root this tool can trust; ask for a fresh proposal",
                chain.name,
                current.version().map_or("?".into(), |v| v.to_string()),
                failures(&verdict)
            )));
        }
        let c = current.version()?;
        let Some(next) = next_version(c) else {
            return Err(refused(format!(
                "{}: the proposal's current root is version {c}, the largest version there is: no \
                 root can follow it (it would wrap to 0). Nothing was signed or written",
                chain.name
            )));
        };
        if let Some(staged) = proposal.staged_root(chain)? {
            let s = staged.version()?;
            if s != next {
                return Err(refused(format!(
                    "{}: the proposal's staged root is version {s}, but the current root is version {c}: \
                     a new root must be exactly version {next} (devices refuse a jump). Refusing to sign; \
                     cancel the server's transaction and propose again",
                    chain.name
                )));
            }
        }
    }
    Ok(())
}

/// Every new root, and the bundle, at the largest they can be once signed:
/// built with stand-in keys of the type that will be made (an RSA-4096 key
/// object and signature are far larger than an Ed25519 placeholder's), the
/// transcript anchor set, and a signature of the largest size from every
/// key that can sign. A root that is small in the proposal but too large as
/// uploaded (pretty-printed, signed, anchored) is refused here, before any
/// key is made or confirmation asked, instead of by the self-check after
/// signing.
pub(super) fn check_sizes(
    proposal: &Proposal,
    proposal_sha: &str,
    provided: &[PublicKey],
    to_generate: usize,
    key_type: NewKeyType,
    now: OffsetDateTime,
) -> Result<()> {
    let mut keys = provided.to_vec();
    keys.extend(rotation::sizing_keys(key_type, to_generate)?);
    let mut plans =
        Plans::build(proposal, &keys, now).context("the proposal's change cannot be made")?;
    // Any 64 hex digits are as long as the anchor the confirmation makes.
    let anchor = "0".repeat(64);
    for plan in plans.iter_mut() {
        ceremony::transcript::set_anchor(&mut plan.new, &anchor);
        rotation::check_upload_size(plan).map_err(|e| refused(e.to_string()))?;
        plan.new = rotation::upload_bound(plan);
    }
    Bundle::check_size_bound(proposal, proposal_sha, &plans).map_err(|e| {
        refused(format!(
            "the bundle for this proposal would be too large to carry back: {e}. Refused before \
             any key is made; make a smaller proposal"
        ))
    })?;
    Ok(())
}
