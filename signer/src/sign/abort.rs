//! A ceremony that stops: what it leaves behind.
//!
//! The operator's abort at a prompt (Ctrl-C, "no", end of input) is always
//! recorded: the transcript is put on disk if it was still in memory, so the
//! witnesses' record says the ceremony was stopped, where, and how. It is
//! never signed, so nothing anchors it and `verify-transcript` reports it as
//! aborted (exit 3). Every prompt comes before any signature, so a new
//! archive this run wrote holds keys that signed nothing: such keys are
//! useless, and an archive left beside the old one would only be confused
//! with it later. It is removed, but only a file this run wrote: its path is
//! the one this ceremony chose and its bytes have the sha256 the transcript
//! recorded when it was written.
//!
//! Any other error after the transcript is on disk ends it with an abort
//! entry too; before that, nothing was written and nothing is.

use std::path::{Path, PathBuf};

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

/// The operator's abort: this run's new archives removed, the abort
/// recorded, and what was done said.
fn by_the_operator(c: &mut Ceremony, step: Step, e: anyhow::Error) -> anyhow::Error {
    let mut said = vec!["nothing was signed and no bundle was written".to_string()];
    let removed = remove_own_archives(c);
    said.extend(removed.iter().cloned());
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

/// Removes the new archives this run wrote (as its transcript records
/// them, at the paths this ceremony chose) and says what was done with each,
/// and where keys made on a token are (removing the archive does not
/// remove them from the token).
fn remove_own_archives(c: &Ceremony) -> Vec<String> {
    let ours: Vec<PathBuf> = std::iter::once(c.new_archive.clone())
        .chain(c.targets_archive.as_ref().map(|t| t.to.clone()))
        .collect();
    let Some(entries) = this_runs_entries(c.transcript.path()) else {
        return Vec::new();
    };
    let mut said = Vec::new();
    for event in &entries {
        match event {
            Event::ArchiveWritten(a) => {
                if let Some(path) = ours.iter().find(|p| p.display().to_string() == a.path) {
                    said.push(remove_if_ours(path, &a.sha256));
                }
            }
            Event::KeyGenerated(KeyGenerated {
                keyid,
                on_token: Some(t),
                ..
            }) => said.push(format!(
                "the new key {keyid} stays on token {:?} (label {:?}): it signed nothing; delete \
                 it with the token's own tools",
                t.token_label, t.key_label
            )),
            _ => {}
        }
    }
    said
}

/// The entries of this run's transcript, read back from the disk. `None`
/// when it is not there (nothing was written).
fn this_runs_entries(transcript: &Path) -> Option<Vec<Event>> {
    let bytes = ceremony::fsio::read_bounded(transcript, 1 << 30).ok()?;
    let t = ceremony::transcript::read(&bytes).ok()?;
    Some(t.entries.into_iter().map(|e| e.event).collect())
}

/// Removes `path` when its bytes are still those recorded.
fn remove_if_ours(path: &Path, sha256: &str) -> String {
    let shown = path.display();
    match write::file_sha256(path) {
        Ok(now) if now == sha256 => match std::fs::remove_file(path) {
            Ok(()) => format!(
                "removed the new archive {shown} (sha256 {sha256}) this run wrote: its new keys \
                 signed nothing"
            ),
            Err(err) => format!(
                "could not remove the new archive {shown} ({err}): its new keys signed nothing, \
                 delete it"
            ),
        },
        Ok(now) => format!(
            "kept {shown}: its sha256 {now} is not the {sha256} this run wrote, so it is not this \
             run's file"
        ),
        Err(_) => format!("the new archive {shown} is gone already"),
    }
}
