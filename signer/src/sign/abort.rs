//! A ceremony that stops: what it leaves behind.
//!
//! The operator's abort at a prompt (Ctrl-C, "no", end of input) is always
//! recorded: the transcript is put on disk if it was still in memory, so the
//! witnesses' record says the ceremony was stopped, where, and how. It is
//! never signed, so nothing anchors it and `verify-transcript` reports it as
//! aborted (exit 3). Every prompt comes before any signature, and the new
//! archive is written only after the signatures, so an abort leaves no
//! archive: the new keys, which signed nothing, are gone with the process
//! (keys made on a token stay there, and are named).
//!
//! Any other error after the transcript is on disk ends it with an abort
//! entry too; before that, nothing was written and nothing is.

use std::path::Path;

use ceremony::transcript::event::{Abort, KeyGenerated, Step};
use ceremony::transcript::Event;

use super::preflight::Ceremony;
use super::write;
use crate::interrupt;

/// Records why the ceremony stopped at `step` and returns the error to
/// show. `saved_note` says where the new keys are, once they exist.
pub(super) fn stopped(
    c: &mut Ceremony,
    step: Step,
    e: anyhow::Error,
    saved_note: Option<&str>,
) -> anyhow::Error {
    if interrupt::aborted(&e).is_some() {
        return by_the_operator(c, step, e);
    }
    match saved_note {
        Some(note) => write::stopped(&mut c.transcript, step, e, note),
        None => {
            if c.transcript.is_persisted() {
                let _ = c.transcript.append(&Event::Abort(Abort {
                    step,
                    reason: ceremony_cli::exit::render_chain(e.as_ref()),
                }));
            }
            e
        }
    }
}

/// The operator's abort: recorded, and what was left said.
fn by_the_operator(c: &mut Ceremony, step: Step, e: anyhow::Error) -> anyhow::Error {
    let mut said = vec!["nothing was signed and no bundle was written".to_string()];
    said.extend(token_keys_left(c));
    let reason = format!(
        "{}; {}",
        ceremony_cli::exit::render_chain(e.as_ref()),
        said.join("; ")
    );
    let recorded = c
        .transcript
        .persist()
        .and_then(|()| c.transcript.append(&Event::Abort(Abort { step, reason })));
    said.push(match recorded {
        Ok(_) => format!(
            "the transcript {} records the abort (`signer verify-transcript` reports it as aborted); \
             to start over, run the same command again (with another --transcript, if it named \
             this one)",
            c.transcript.path().display()
        ),
        Err(err) => format!("the abort could not be recorded in the transcript: {err}"),
    });
    let context = said.join("; ");
    e.context(context)
}

/// Where keys made on a token are: they stay there, whatever the abort.
/// No archive needs removing: archives are written once, after the
/// signatures and so after every prompt (see `write`), and an abort comes
/// only at a prompt.
fn token_keys_left(c: &Ceremony) -> Vec<String> {
    let Some(entries) = this_runs_entries(c.transcript.path()) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|event| match event {
            Event::KeyGenerated(KeyGenerated {
                keyid,
                on_token: Some(t),
                ..
            }) => Some(format!(
                "the new key {keyid} stays on token {:?} (label {:?}): it signed nothing; delete \
                 it with the token's own tools",
                t.token_label, t.key_label
            )),
            _ => None,
        })
        .collect()
}

/// The entries of this run's transcript, read back from the disk. `None`
/// when it is not there (nothing was written).
fn this_runs_entries(transcript: &Path) -> Option<Vec<Event>> {
    let bytes = ceremony::fsio::read_bounded(transcript, 1 << 30).ok()?;
    let t = ceremony::transcript::read(&bytes).ok()?;
    Some(t.entries.into_iter().map(|e| e.event).collect())
}
