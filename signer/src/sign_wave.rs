//! `signer sign-wave`: a production release (wave) signed with the offline
//! targets key(s), the air-gapped replacement for fioctl's `waves init -k
//! targets.tgz`.
//!
//! A command of its own rather than a mode of `signer sign`: the input is
//! another kind of file (`tuf-ceremony/wave-proposal@1`), the keys another
//! role (targets, from their own archive), and what is signed is targets
//! metadata, not a root; nothing of the root ceremony's plan, new keys or
//! successor archive applies. The review rules are the same: every target
//! signed is shown in full and escaped, a typed confirmation, a transcript.
//!
//! Trust: the production root chain is verified from `1.root.json` by the
//! rotation rules, and its root key fingerprints are shown as first use;
//! the archive must hold a targets key the newest production root lists
//! for targets. The new targets are computed here from what the server
//! answered ([`ceremony::wave::check`]); the proposal carries no result.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use ceremony_cli::println;
use time::OffsetDateTime;

use ceremony::fingerprint::Labelled;
use ceremony::fsio::{self, WriteOptions};
use ceremony::keys::Signer;
use ceremony::transcript::event::{
    Abort, Command, Confirmation, Diff, Input, Signature, Start, Step, Trust,
};
use ceremony::transcript::{Event, TranscriptWriter};
use ceremony::wave::{self, WaveBundle, WaveError, WaveProposal, WAVE_BUNDLE_FORMAT};
use ceremony::Dialect;

use crate::commands::{self, UnlockArgs};
use crate::{archive, machine, secrets, VerificationFailed};

#[derive(clap::Args)]
pub(crate) struct SignWaveArgs {
    /// The wave proposal (tuf-ceremony/wave-proposal@1) written by `submitter wave-propose`.
    #[arg(value_name = "wave.json")]
    pub(crate) proposal: PathBuf,
    /// The archive holding the offline targets key(s) (it is never changed).
    #[arg(long = "keys", value_name = "targets.tgz.age")]
    pub(crate) keys: PathBuf,
    /// The wave bundle to write (must not exist; default: wave-bundle-v<VERSION>.json here,
    /// or the next free wave-bundle-v<VERSION>-2.json, … when an earlier one or its
    /// transcript has that name).
    #[arg(short = 'o', long = "output", value_name = "wave-bundle.json")]
    pub(crate) output: Option<PathBuf>,
    /// Where to write the transcript (must not exist; default: the bundle's name with
    /// `.transcript.jsonl`, or the next free -2, …).
    #[arg(long, value_name = "PATH")]
    pub(crate) transcript: Option<PathBuf>,
    /// Accept without asking: the first-use question and the typed confirmation.
    #[arg(long)]
    pub(crate) yes: bool,
    /// Who runs the ceremony, for the transcript.
    #[arg(long, value_name = "NAME")]
    pub(crate) operator: Option<String>,
    /// A witness present, for the transcript (repeat for each).
    #[arg(long = "witness", value_name = "NAME")]
    pub(crate) witnesses: Vec<String>,
    /// A production root you already trust (kept from the last root ceremony's
    /// bundle, or from the Factory's history checked earlier): the proposal's
    /// chain must hold it, byte for byte in its signed part. Without it the
    /// chain is trusted on first use, on your comparison of its root keys.
    #[arg(long, value_name = "N.root.json")]
    pub(crate) trusted_root: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) unlock: UnlockArgs,
}

fn refused(m: impl Into<String>) -> anyhow::Error {
    VerificationFailed(m.into()).into()
}

fn wave_err(e: WaveError) -> anyhow::Error {
    match e {
        WaveError::Refused(m) => refused(format!("{m}. Nothing was signed or written")),
        e => anyhow::Error::new(e).context("the wave proposal is not usable"),
    }
}

/// The operator's abort at a prompt (Ctrl-C, "no", end of input) is
/// recorded: the transcript goes to disk, ending with an abort entry; any
/// other error leaves no file, as before. Nothing is written before the
/// signatures, so there is nothing else to remove.
fn operator_abort(t: &mut TranscriptWriter, step: Step, e: anyhow::Error) -> anyhow::Error {
    if crate::interrupt::aborted(&e).is_none() {
        return e;
    }
    let reason = format!(
        "{}; nothing was signed and no bundle was written",
        ceremony_cli::exit::render_chain(e.as_ref())
    );
    match t
        .persist()
        .and_then(|()| t.append(&Event::Abort(Abort { step, reason })))
    {
        Ok(_) => e.context(format!(
            "nothing was signed; the transcript {} records the abort",
            t.path().display()
        )),
        Err(err) => e.context(format!(
            "nothing was signed; the abort could not be recorded in the transcript: {err}"
        )),
    }
}

/// `signer sign-wave`.
pub(crate) fn sign_wave(args: SignWaveArgs) -> Result<ExitCode> {
    // Before anything is read or asked: a networked machine is refused
    // unless this is a rehearsal.
    let machine = machine::require_offline(&args.unlock.network, "sign-wave")?;
    let rehearsal = machine
        .rehearsal
        .map(|how| machine::rehearsal_banner(how, &machine::interfaces_up(&machine)));
    let now = OffsetDateTime::now_utc();
    // The proposal: parsed strictly first (its version names the default
    // bundle), then the chain verified, the targets computed here. Nothing
    // is recorded or written yet.
    let bytes =
        archive::read_file_bounded(&args.proposal, ceremony::crossing::MAX_CROSSING_FILE as u64)
            .with_context(|| {
                format!("cannot read the wave proposal {}", args.proposal.display())
            })?;
    let proposal_sha = ceremony::sha256::hex(&bytes);
    let p = WaveProposal::from_slice(&bytes).map_err(wave_err)?;
    let outputs = crate::outputs::bundle_and_transcript(
        args.output.as_deref(),
        args.transcript.as_deref(),
        &ceremony::names::wave_bundle_stem(p.version),
        "a wave bundle",
    )?;
    for note in &outputs.picked {
        eprintln!("{note}");
    }
    let (output, transcript_path) = (outputs.bundle, outputs.transcript);

    // Nothing reaches the disk until the signatures exist: a refused wave
    // leaves no file.
    let mut t = TranscriptWriter::deferred(&transcript_path);
    t.append(&Event::Start(Start {
        software: machine::software_identity("signer", env!("CARGO_PKG_VERSION")),
        machine,
        operator: args.operator.clone(),
        witnesses: args.witnesses.clone(),
        command: Command {
            proposal: args.proposal.display().to_string(),
            keys: args.keys.display().to_string(),
            bundle: output.display().to_string(),
            new_archive: String::new(),
            yes: args.yes,
            force: false,
        },
    }))?;
    t.append(&Event::Input(Input::Proposal {
        path: args.proposal.display().to_string(),
        sha256: proposal_sha.clone(),
        target: format!("FoundriesFactory {} ({}) wave {}", p.factory, p.api, p.name),
        dialect: Dialect::OtaTuf,
        txid: None,
    }))?;
    let checked = wave::check(&p, now).map_err(wave_err)?;

    // The keys: offline targets keys the production root lists for
    // targets. Refused before anything is asked when there is none.
    let opened = commands::open_archive(&args.keys, &args.unlock)
        .map_err(|e| operator_abort(&mut t, Step::Trust, e))?;
    let archive_bytes = archive::read_file_bounded(&args.keys, archive::MAX_FILE)?;
    t.append(&Event::Input(Input::Archive {
        path: args.keys.display().to_string(),
        sha256: ceremony::sha256::hex(&archive_bytes),
        keys_held: opened.archive.keys.len(),
        token_keys_recorded: opened.archive.token_keys.len(),
    }))?;
    let role = checked
        .prod_root
        .role("targets")
        .map_err(|e| refused(format!("the production root: {e}")))?;
    let signers: Vec<(String, &crate::keystore::HeldKey)> = opened
        .archive
        .keys
        .iter()
        .filter(|h| h.role == "targets")
        .filter_map(|h| {
            role.keyids
                .iter()
                .find(|id| checked.prod_root.key(id).is_ok_and(|k| k == h.public))
                .map(|id| (id.clone(), h))
        })
        .collect();
    if signers.is_empty() {
        return Err(refused(format!(
            "{} holds no targets key that production root v{} lists for targets ({}): it cannot sign this wave. \
             Nothing was signed or written",
            args.keys.display(),
            checked.prod_root.version()?,
            role.keyids.join(", ")
        )));
    }

    // Anchored by --trusted-root, else first use: the chain (verified from
    // 1.root.json) is trusted on the operator's comparison of the root keys
    // shown below, and recorded as such.
    let anchored = match &args.trusted_root {
        None => None,
        Some(path) => {
            let bytes =
                archive::read_file_bounded(path, ceremony::crossing::MAX_CROSSING_FILE as u64)
                    .with_context(|| format!("cannot read the trusted root {}", path.display()))?;
            let trusted = ceremony::RootMetadata::from_slice(&bytes, Some(Dialect::OtaTuf))
                .with_context(|| format!("{} is not a usable root", path.display()))?;
            let v = trusted.version()?;
            let same = v >= 1
                && p.prod_roots.get(v as usize - 1).is_some_and(|r| {
                    ceremony::RootMetadata::from_value(r.clone(), Dialect::OtaTuf)
                        .ok()
                        .and_then(|r| r.canonical_signed().ok())
                        == trusted.canonical_signed().ok()
                });
            if !same {
                return Err(refused(format!(
                    "the proposal's production root chain does not hold the trusted root {} (version {v}): it is not the history of the Factory you trust. Nothing was signed or written",
                    path.display()
                )));
            }
            Some(v)
        }
    };
    t.append(&Event::Trust(Trust {
        chains: vec!["prod".into()],
        first_use_confirmed: usize::from(anchored.is_none()),
        held: signers
            .iter()
            .map(|(id, h)| {
                format!(
                    "targets key {id} ({}) of production root v{}",
                    h.description(),
                    checked.prod_root.version().unwrap_or(0)
                )
            })
            .collect(),
        last_bundle_not_applied: Vec::new(),
    }))?;

    // The review: everything signed, shown.
    let mut fingerprints: Vec<String> = checked
        .prod_root
        .root_keys()?
        .iter()
        .map(|(id, k)| {
            let words = Labelled::key(k.fingerprint())
                .words_line()
                .map(|w| format!("\n      {w}"))
                .unwrap_or_default();
            format!("    {id} (fingerprint {}){words}", k.fingerprint())
        })
        .collect();
    fingerprints.sort();
    let mut text = wave::render(&p, &checked);
    let trust_text = match anchored {
        Some(v) => format!("the chain holds your trusted root v{v}"),
        None => "FIRST USE: compare these root keys with your records".into(),
    };
    text.push_str(&format!(
        "  verified under production root v{} (chain verified from 1.root.json; {trust_text}); its root keys:\n{}\n",
        checked.prod_root.version()?,
        fingerprints.join("\n")
    ));
    text.push_str(&format!(
        "  signed here by the offline targets key(s): {} (threshold {}: the server adds its online signature)\n",
        signers
            .iter()
            .map(|(id, h)| format!("{id} ({})", h.description()))
            .collect::<Vec<_>>()
            .join(", "),
        role.threshold
    ));
    if let Some(r) = &rehearsal {
        println!("{r}");
    }
    println!("{text}");
    t.append(&Event::Diff(Diff {
        chain: "wave-targets".into(),
        text: text.clone(),
        warnings: Vec::new(),
    }))?;
    let question = format!(
        "\nSign these targets for the wave {}? Type \"yes\" or the version ({}):",
        ceremony::untrusted::escape(&p.name),
        p.version
    );
    let typed = secrets::confirm(&question, &["yes", &p.version.to_string()], args.yes)
        .map_err(|e| operator_abort(&mut t, Step::Confirmation, e))?;
    t.append(&Event::Confirmation(Confirmation {
        question: question.trim().to_string(),
        typed,
    }))?;

    // Sign the canonical bytes computed (and shown by hash) above.
    let mut signatures = Vec::new();
    for (id, h) in &signers {
        signatures.push(
            wave::signature_entry(id, &h.private, &checked.canonical)
                .with_context(|| format!("signing with the targets key {id}"))?,
        );
        t.append(&Event::Signature(Signature {
            chain: "wave-targets".into(),
            detail: format!(
                "targets key {id} ({}) over the canonical targets sha256 {}",
                h.description(),
                checked.signed_sha256
            ),
        }))?;
    }
    let mut bundle = WaveBundle {
        format: WAVE_BUNDLE_FORMAT.into(),
        proposal_sha256: proposal_sha,
        name: p.name.clone(),
        version: p.version,
        tag: p.tag.clone(),
        signed_sha256: checked.signed_sha256.clone(),
        signatures,
        transcript_head: None,
    };
    // Our own output, checked as the submitter will check it.
    bundle.answers(&bytes, &p, &checked).map_err(wave_err)?;
    t.persist()?;
    let keys: Vec<(String, &dyn Signer)> = signers
        .iter()
        .map(|(id, h)| (id.clone(), &h.private as &dyn Signer))
        .collect();
    let signed_head = t.finish(&keys)?;
    let head = signed_head["head"].as_str().unwrap_or_default().to_string();
    bundle.transcript_head = Some(signed_head);
    fsio::write_new(&output, &bundle.to_bytes(), &WriteOptions::public())
        .with_context(|| format!("cannot write {}", output.display()))?;
    println!(
        "wrote {} ({} offline signature(s)) and the transcript {}\nnext, online: submitter wave-publish {}",
        output.display(),
        bundle.signatures.len(),
        transcript_path.display(),
        output.display()
    );
    println!("{}", Labelled::transcript_head(head).render(""));
    if let Some(r) = &rehearsal {
        println!("{r}");
    }
    Ok(ExitCode::SUCCESS)
}
