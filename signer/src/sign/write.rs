//! Write: the new archive(s) (every old key, the new keys, the new trust
//! anchors), each written once, decrypted again and compared before it gets
//! its name; the outputs and the signed head in the transcript; then the
//! bundle, which the library builds from the plans, and only after the
//! archives: a bundle never exists without the archive holding its keys.
//! Last, what the human does next.

use ceremony_cli::println;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use ceremony::bundle::{Bundle, Completion};
use ceremony::fingerprint::Labelled;
use ceremony::fsio::{CheckError, WriteOptions};
use ceremony::keys::Signer;
use ceremony::rotation::Plans;
use ceremony::transcript::event::{Abort, ArchiveWritten, Output, Step};
use ceremony::transcript::{Event, TranscriptWriter};

use super::args::SignArgs;
use super::new_keys::NewKeys;
use super::preflight::Ceremony;
use super::signing::usable;
use super::trust::ChainAnchoring;
use crate::anchors::ChainKind;
use crate::archive::{self, Protection};
use crate::commands::{self, Opened};
use crate::keystore::NewAnchor;
use crate::pkcs11::TokenSet;

/// Writes everything the ceremony produced and says what comes next.
#[allow(clippy::too_many_arguments)]
pub(super) fn write(
    args: &SignArgs,
    c: &mut Ceremony,
    opened: &mut Opened,
    tokens: Option<&TokenSet>,
    plans: &Plans,
    anchoring: &[ChainAnchoring],
    completion: Completion,
    new: &mut NewKeys,
) -> Result<ExitCode> {
    write_anchors(c, opened, plans, anchoring)?;
    let log_n = args.recipients.work_factor();
    commands::note_work_factor(opened, log_n, args.recipients.work_factor.is_some());
    // New offline targets keys have their own archive (root and targets keys
    // are kept apart); both archives are written before the bundle.
    let targets_written = match (new.targets.as_mut(), c.targets_archive.as_ref()) {
        (Some(targets), Some(dest)) => {
            save_and_record(
                &mut c.transcript,
                &dest.to,
                targets,
                log_n,
                "every old offline targets key and the new ones",
            )?;
            new.saved_note = format!(
                "the new offline targets key(s) are in {}; no root keys' archive and no bundle \
                 were written; {} is unchanged",
                dest.to.display(),
                args.archive().display()
            );
            Some(dest.to.clone())
        }
        _ => None,
    };
    save_and_record(
        &mut c.transcript,
        &c.new_archive,
        opened,
        log_n,
        "every old key, the new keys, and the new trust anchor",
    )?;
    new.saved_note = format!(
        "the new archive {} is written (every old key, the new keys, the new trust anchor), but \
         no bundle: nothing was published; {} is unchanged",
        c.new_archive.display(),
        args.archive().display()
    );
    for plan in plans.iter() {
        c.transcript.append(&Event::Output(Output::Root {
            chain: plan.name.clone(),
            version: plan.new.version()?,
            sha256: ceremony::sha256::hex(&plan.new.to_bytes()),
            signed_sha256: ceremony::sha256::hex(&plan.new.canonical_signed()?),
        }))?;
    }
    // The head is signed by the new root keys this holder has.
    let signed_head = {
        let held = usable(&opened.archive, tokens);
        let head_keys: Vec<(String, &dyn Signer)> = plans
            .first()
            .added
            .iter()
            .filter_map(|a| {
                held.iter()
                    .find(|k| *k.public == a.key)
                    .map(|k| (a.keyid.clone(), k.signer))
            })
            .collect();
        c.transcript.finish(&head_keys)?
    };

    let head = signed_head
        .get("head")
        .and_then(|h| h.as_str())
        .unwrap_or_default()
        .to_string();
    let (complete, missing) = (completion.complete, completion.missing.clone());
    let mut bundle = Bundle::from_plans(
        &c.proposal,
        &c.proposal_sha,
        plans,
        completion,
        Some(signed_head),
    );
    (bundle.targets_signatures, bundle.waves_signatures) = std::mem::take(&mut c.resigned);
    // Mode 0600 and read back before it gets its name, as every file the
    // signer writes to the stick.
    let check = |back: &[u8]| {
        Bundle::from_slice(back)
            .map(|_| ())
            .map_err(|e| Box::new(e) as CheckError)
    };
    ceremony::fsio::write_new(
        &args.output,
        &bundle.to_bytes(),
        &WriteOptions::secret().check(&check),
    )
    .with_context(|| format!("writing the bundle {} failed", args.output.display()))?;

    summary(
        args,
        c,
        opened,
        complete,
        &missing,
        targets_written.as_deref(),
        log_n,
    );
    print_for_witnesses(plans, &head);
    if let Some(r) = &c.rehearsal {
        println!("{r}");
    }
    if args.qr {
        crate::qr_cmd::show_file(&args.output, &ceremony_cli::qr::ShowOptions::default())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What witnesses compare across the gap, labelled as every command labels
/// it: each new root, by its signed part (what `submitter upload` prints
/// when it reads the root back, and `signer list` for the anchor), and the
/// transcript head (what the report and `verify-transcript` print).
fn print_for_witnesses(plans: &Plans, head: &str) {
    println!("For the witnesses (the same hashes and words appear on the other side):");
    for plan in plans.iter() {
        if let Some(l) = Labelled::root(&plan.new, Some(&plan.name)) {
            println!("{}", l.render("  "));
        }
    }
    println!("{}", Labelled::transcript_head(head).render("  "));
}

/// Files each new root as the trust anchor of its chain of its target, and
/// of every other target's anchor of that chain it was found to chain from
/// (by root keys); an older signer's anchors it chained from are taken over.
fn write_anchors(
    c: &Ceremony,
    opened: &mut Opened,
    plans: &Plans,
    anchoring: &[ChainAnchoring],
) -> Result<()> {
    let seen_as = c.proposal.target.to_string();
    // A Factory's first production root (no production chain in the
    // proposal) is anchored as the CI root it was derived from and checked
    // with: the next ceremony's production chain starts from it.
    let derived_prod = anchoring
        .iter()
        .find(|a| a.chain == "ci")
        .filter(|_| ceremony::rotation::derives_first_prod(&c.proposal))
        .map(|ci| ChainAnchoring {
            chain: "prod".into(),
            kind: ChainKind::Prod,
            target: ci.target.clone(),
            also: Vec::new(),
            takes_over: Vec::new(),
            seen: ci.seen.clone(),
        });
    for plan in plans.iter() {
        let a = anchoring
            .iter()
            .chain(derived_prod.as_ref())
            .find(|a| a.chain == plan.name)
            .with_context(|| {
                format!(
                    "chain {}: no trust check was made for it; nothing is anchored",
                    ceremony::untrusted::escape(&plan.name)
                )
            })?;
        let targets = std::iter::once((&a.target, a.takes_over.clone(), Some(seen_as.as_str())))
            .chain(a.also.iter().map(|t| (t, Vec::new(), None)));
        for (target, takes_over, seen_as) in targets {
            opened.archive.set_anchor(NewAnchor {
                target,
                kind: a.kind,
                new: &plan.new,
                previous: &plan.current,
                seen_as,
                root_key_fingerprints: a.seen.clone(),
                takes_over,
                now: &c.now_s,
            })?;
        }
    }
    Ok(())
}

/// Ends the transcript with an abort entry (the step and the error), so that
/// `verify-transcript` reports the ceremony as aborted rather than cut
/// short; and adds to the error where the new keys are. From the
/// confirmation on, the transcript is put on disk for this (the operator was
/// asked to accept a change: the record of what became of it is kept,
/// archive or not); before it, a transcript still in memory is dropped:
/// nothing was written, and a refused ceremony leaves no file.
pub(super) fn stopped(
    t: &mut TranscriptWriter,
    step: Step,
    e: anyhow::Error,
    saved_note: &str,
) -> anyhow::Error {
    if !t.is_persisted()
        && matches!(
            step,
            Step::Confirmation | Step::Signing | Step::SelfCheck | Step::Write
        )
    {
        if let Err(p) = t.persist() {
            return e.context(format!(
                "signing stopped ({saved_note}); the transcript could not be written either: {p}"
            ));
        }
    }
    if t.is_persisted() {
        // After the signed head nothing may follow (the writer refuses):
        // a ceremony that fails then has finished its transcript.
        let _ = t.append(&Event::Abort(Abort {
            step,
            reason: ceremony_cli::exit::render_chain(e.as_ref()),
        }));
    }
    e.context(format!("signing stopped ({saved_note})"))
}

/// Writes a new archive (once: the target must not exist), puts the
/// transcript on disk (for a ceremony that runs to the end, this is its
/// first durable write), and records the archive there, with whether it was
/// decrypted again and compared (it is not when it is encrypted to
/// recipients and no identity was given).
pub(super) fn save_and_record(
    t: &mut TranscriptWriter,
    path: &Path,
    opened: &mut Opened,
    log_n: u8,
    why: &str,
) -> Result<()> {
    let checked = commands::save_archive(path, &mut opened.archive, &opened.protection, log_n)?;
    t.persist()?;
    t.append(&Event::ArchiveWritten(ArchiveWritten {
        path: path.display().to_string(),
        sha256: file_sha256(path)?,
        re_decrypted_and_compared: checked,
        why: why.to_string(),
    }))?;
    Ok(())
}

/// sha256 of an archive file, for the transcript.
pub(super) fn file_sha256(path: &Path) -> Result<String> {
    let bytes = ceremony::fsio::read_bounded(path, archive::MAX_FILE)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(ceremony::sha256::hex(&bytes))
}

/// The closing summary: what was written, what to do next, which files to
/// keep, escrow and destroy.
fn summary(
    args: &SignArgs,
    c: &Ceremony,
    opened: &Opened,
    complete: bool,
    missing: &[String],
    targets_written: Option<&Path>,
    log_n: u8,
) {
    let bundle = args.output.display();
    let new_archive = c.new_archive.display();
    let old_archive = args.archive().display();
    let protection = match &opened.protection {
        Protection::Passphrase(_) => format!("passphrase, scrypt log N = {log_n}"),
        other => other.describe(),
    };
    println!();
    println!("Written:");
    if complete {
        println!("  Bundle written to {bundle} (complete: every threshold is met).");
    } else {
        println!(
            "  PARTIAL bundle written to {bundle}: this holder's signatures are in, but others \
             are still needed:"
        );
        for m in missing {
            println!("    - {m}");
        }
    }
    println!(
        "  New archive {new_archive}: the CURRENT archive from now on (every old key, the new \
         keys, the new trust anchor; {protection}); decrypted again and compared before it got \
         its name"
    );
    if let Some(t) = targets_written {
        println!(
            "  New targets archive {}: the offline targets keys' current archive (every old targets key \
             and the new ones)",
            t.display()
        );
    }
    println!(
        "  Transcript {} (check with `signer verify-transcript {} --root <new root>`)",
        c.transcript.path().display(),
        c.transcript.path().display()
    );
    println!();
    println!("Next:");
    // Runnable as printed, in the folder the bundle is carried to: upload
    // finds the proposal this bundle answers by its sha256.
    if complete {
        println!("  carry {bundle} to the online machine and run `submitter upload {bundle}`");
    } else if args.targets_only() {
        // The targets keys' holder's half of a change on two machines.
        println!(
            "  this is the targets keys' part: the new offline targets key(s) and the production \
             targets they re-sign. `submitter upload {bundle}` puts it into the transaction; then \
             the root keys' holder signs the staged roots as they are (`submitter propose \
             --factory F --txid {} --sign-staged`, `signer sign --keys ROOT.tgz.age`, `submitter \
             upload`), which applies them with these targets signatures.",
            ceremony::untrusted::escape(c.proposal.txid.as_deref().unwrap_or("TXID"))
        );
    } else {
        println!(
            "  the other holders sign the same proposal; `submitter merge` combines the bundles. \
             For a Factory, `submitter upload {bundle}` also puts this partial bundle \
             into the transaction, keeping the signatures already there, so that holders with \
             fioctl add theirs (`fioctl keys tuf updates sign`)."
        );
    }
    println!();
    println!("Keep, escrow, destroy:");
    println!(
        "  keep    {new_archive} (use it for every later ceremony: `signer sign ... --keys \
         {new_archive}`)"
    );
    println!(
        "  escrow  a copy of {new_archive} on a second medium (another stick), kept apart: it is \
         the only copy of the new keys{}",
        targets_written.map_or(String::new(), |t| format!("; the same for {}", t.display()))
    );
    println!(
        "  retire  {old_archive} once the new root is live: it is superseded then (`signer list \
         {old_archive}` says so); until then keep it, in case the bundle is never applied"
    );
    for plain in plain_origins(opened) {
        println!(
            "  destroy {plain} (the plain key tarball these keys were imported from), if it still \
             exists: it holds them unencrypted, and the archive holds them now"
        );
    }
}

/// The plain tarballs the archive's keys were imported from, by name, as
/// `signer import` recorded them ("imported from NAME.tgz").
fn plain_origins(opened: &Opened) -> Vec<String> {
    let mut out: Vec<String> = opened
        .archive
        .keys
        .iter()
        .filter_map(|k| k.info.as_ref())
        .filter_map(|i| i.origin.strip_prefix("imported from "))
        .filter_map(|o| o.split(" (").next())
        .filter(|name| name.ends_with(".tgz") || name.ends_with(".tar.gz"))
        .map(|name| ceremony::untrusted::escape(name).into_owned())
        .collect();
    out.sort();
    out.dedup();
    out
}
