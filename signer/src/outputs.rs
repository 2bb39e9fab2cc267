//! Where a signing command writes its bundle and its transcript: the names
//! given (refused when taken, naming the flag), or default names that carry
//! the ceremony (`bundle-v7.json`, `bundle-v7.transcript.jsonl`), the next
//! free ones when an earlier or aborted ceremony left files of those names,
//! so that the same command works again in the same folder.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};

use ceremony::names;

use crate::archive;
use crate::UsageError;

/// The bundle and transcript paths, and what was picked in place of a
/// default name that was taken (for the operator).
pub(crate) struct Outputs {
    pub(crate) bundle: PathBuf,
    pub(crate) transcript: PathBuf,
    /// Lines to print: which free name was picked and why.
    pub(crate) picked: Vec<String>,
}

/// Resolves `-o` and `--transcript`. `stem` is the default bundle's
/// (`bundle-v7`), `kind` what a bundle is called in a refusal.
pub(crate) fn bundle_and_transcript(
    given_bundle: Option<&Path>,
    given_transcript: Option<&Path>,
    stem: &str,
    kind: &'static str,
) -> Result<Outputs> {
    let mut picked = Vec::new();
    let bundle = match given_bundle {
        Some(b) => {
            archive::refuse_taken(b, kind, "-o (or leave -o out for a free default name)")?;
            b.to_path_buf()
        }
        None => {
            // The default bundle's transcript goes with it: an aborted
            // ceremony leaves a transcript and no bundle, and its name is
            // passed over too.
            let (n, mut paths) = names::first_free(|n| {
                let b = PathBuf::from(names::numbered(stem, n, ".json"));
                let mut v = vec![b.clone()];
                if given_transcript.is_none() {
                    v.push(names::transcript_for(&b));
                }
                v
            })
            .ok_or_else(|| too_many(stem))?;
            let b = paths.remove(0);
            if n > 1 {
                picked.push(format!(
                    "{} (or its transcript) exists already, from an earlier ceremony: the bundle \
                     goes to {} instead",
                    names::numbered(stem, 1, ".json"),
                    b.display()
                ));
            }
            b
        }
    };
    let transcript = match given_transcript {
        Some(t) => {
            archive::refuse_taken(
                t,
                "a transcript",
                "--transcript (or leave it out for a free default name)",
            )?;
            t.to_path_buf()
        }
        None => {
            let default = names::transcript_for(&bundle);
            let (t, taken) = free_default(default.clone())?;
            if taken.is_some() {
                picked.push(format!(
                    "{} exists already (an earlier or aborted ceremony's transcript, which is \
                     kept): this ceremony's transcript goes to {}",
                    default.display(),
                    t.display()
                ));
            }
            t
        }
    };
    if transcript == bundle {
        return Err(UsageError("--transcript names the same file as -o".into()).into());
    }
    Ok(Outputs {
        bundle,
        transcript,
        picked,
    })
}

/// A default path, or the first free numbered one beside it
/// (`keys-X-2.tgz.age`) when it is taken; the note says which was picked.
pub(crate) fn free_default(default: PathBuf) -> Result<(PathBuf, Option<String>)> {
    let (n, mut paths) = names::first_free(|n| vec![names::numbered_path(&default, n)])
        .ok_or_else(|| too_many(&default.display().to_string()))?;
    let p = paths.remove(0);
    let note = (n > 1).then(|| {
        format!(
            "{} exists already: writing {} instead",
            default.display(),
            p.display()
        )
    });
    Ok((p, note))
}

fn too_many(name: &str) -> anyhow::Error {
    anyhow!(
        "{name} and {} numbered names after it are all taken: run in another folder, or give the \
         name yourself",
        names::MAX_TRIES - 1
    )
}
