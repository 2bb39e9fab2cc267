//! `signer review` and `signer sign`: from an untrusted proposal to signed
//! new roots.
//!
//! The proposal comes from a networked machine. Nothing in it is signed as
//! handed over: its current roots are verified (on their own, and against
//! the trust anchor the archive keeps), the new roots are built here by
//! [`ceremony::rotation::plan`], the human sees the full diff, and the
//! result must pass the rotation rules before a bundle is written.
//!
//! `signer sign` is the sequence of steps in [`sign`], each a module of its
//! own: what it checks, asks, prints and records is all in that module.

use std::process::ExitCode;

use anyhow::Result;
use time::OffsetDateTime;

use ceremony::keys::PublicKey;
use ceremony::rules::Verdict;
use ceremony::transcript::event::Step;
use ceremony::RootMetadata;

use crate::VerificationFailed;

mod abort;
mod args;
mod build;
mod confirm;
mod new_keys;
mod preflight;
mod proof;
mod resign;
mod review;
mod self_check;
mod signing;
mod trust;
mod write;

pub(crate) use args::{ReviewArgs, SignArgs};
pub(crate) use review::review;

/// `signer sign`: from an untrusted proposal to a bundle of signed roots.
pub(crate) fn sign(mut args: SignArgs) -> Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    // Preflight: the outputs are free (the bundle's name picked), the
    // machine offline (or recorded as not), the proposal sound; no key is
    // needed yet.
    let mut c = preflight::run(&mut args, now)?;
    // From here on the operator may abort at a prompt (the passphrase, a
    // first use, a PIN, the confirmations): that is recorded, whatever the
    // step (see `abort`).
    // Trust: the archive, and the proposal's roots against its anchors.
    let (mut opened, anchoring) =
        trust::check(&args, &mut c).map_err(|e| abort::stopped(&mut c, Step::Trust, e, None))?;
    // Token keys that must sign: opened and test-signed before anything is
    // generated or written.
    let mut tokens = signing::open(&args, &mut c, &opened)
        .map_err(|e| abort::stopped(&mut c, Step::Tokens, e, None))?;
    // New keys: made, in memory (the archive is written once, at the end).
    let mut new = new_keys::make(&args, &mut c, &mut opened, tokens.as_mut())
        .map_err(|e| abort::stopped(&mut c, Step::NewKeys, e, None))?;

    // From here on an error is recorded in the transcript, with the step
    // that was running, and says where the new keys are.
    let mut step = Step::Review;
    let result = (|| -> Result<ExitCode> {
        // Build, review and confirm; sign, and check our own output.
        let mut plans = build::plans(&c, &new.keys)?;
        let completion = {
            let held = signing::usable(&opened.archive, tokens.as_ref());
            // Known before anything is shown, so that the screen says
            // whether the anchor goes into the roots.
            let anchored = !c.proposal.change.sign_staged && confirm::will_anchor(&plans, &held);
            let shown = build::show(&mut c, &plans, anchored)?;
            let targets_shown = resign::show(&c.proposal)?;
            step = Step::Confirmation;
            confirm::server(&args, &mut c, &shown)?;
            let anchor = confirm::confirm(&args, &mut c, &plans)?;
            confirm::anchor(&mut c, &mut plans, &held, &anchor)?;
            let mut completion = self_check::nothing_missing();
            for (plan, shown) in plans.iter_mut().zip(&shown) {
                step = Step::Signing;
                // What is signed is what was shown, byte for byte.
                proof::check(plan, shown, anchored.then_some(anchor.as_str()))?;
                signing::sign(&mut c.transcript, plan, &held)?;
                step = Step::SelfCheck;
                self_check::check(&mut c.transcript, plan, c.now, &mut completion)?;
            }
            step = Step::Signing;
            c.resigned = resign::sign(
                &mut c.transcript,
                &targets_shown,
                &plans,
                // Without --keys the new targets keys are in the run's own
                // archive.
                new.targets
                    .as_ref()
                    .or(args.targets_only().then_some(&opened)),
            )?;
            completion
        };
        // Write the archive, the transcript's end and the bundle.
        step = Step::Write;
        write::write(
            &args,
            &mut c,
            &mut opened,
            tokens.as_ref(),
            &plans,
            &anchoring,
            completion,
            &mut new,
        )
    })();
    result.map_err(|e| abort::stopped(&mut c, step, e, Some(&new.saved_note)))
}

/// A refusal: the proposal, the archive or the result does not verify
/// (exit status 3).
fn refused(msg: impl Into<String>) -> anyhow::Error {
    VerificationFailed(msg.into()).into()
}

/// The rules a verdict breaks, in one line.
fn failures(v: &Verdict) -> String {
    v.failures
        .iter()
        .map(|f| format!("[{}] {}", f.rule, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The id under which `root` lists `key` as a root key, if it does.
fn root_key_ids_of(root: &RootMetadata, key: &PublicKey) -> Option<String> {
    let role = root.role("root").ok()?;
    role.keyids
        .into_iter()
        .find(|id| root.key(id).is_ok_and(|k| &k == key))
}
