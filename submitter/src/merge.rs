//! `submitter merge`: combine the partial bundles of a root held by several
//! people into one.

use ceremony_cli::println;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use time::OffsetDateTime;

use ceremony::bundle_check::merge;

use crate::upload::{find_proposal, read_bundle};
use crate::{UsageError, VerificationFailed};
use ceremony::fsio::{self, WriteOptions};

/// Runs `merge`; returns whether the merged bundle is complete.
pub fn run(
    inputs: &[PathBuf],
    output: &Path,
    proposal: Option<&Path>,
    force: bool,
) -> Result<bool> {
    if inputs.len() < 2 {
        return Err(UsageError("give at least two bundles to merge".into()).into());
    }
    if inputs.iter().any(|i| i == output) {
        return Err(UsageError(
            "-o must name a new file, not one of the bundles being merged".into(),
        )
        .into());
    }
    let bundles = inputs
        .iter()
        .map(|p| read_bundle(p))
        .collect::<Result<Vec<_>>>()?;
    let (_, pbytes, p) = find_proposal(&inputs[0], &bundles[0], proposal)?;
    let merged = merge(&pbytes, &p, &bundles, OffsetDateTime::now_utc())
        .map_err(|e| VerificationFailed(format!("cannot merge: {e}")))?;
    let bytes = merged.to_bytes();
    if force {
        fsio::replace(output, &bytes, &WriteOptions::public())?;
    } else {
        fsio::write_new(output, &bytes, &WriteOptions::public()).with_context(|| {
            format!(
                "cannot write the merged bundle {} (a bundle is never overwritten: pick another \
                 name with -o, or pass --force)",
                output.display()
            )
        })?;
    }
    println!(
        "merged {} bundles into {}: {}",
        inputs.len(),
        output.display(),
        if merged.complete {
            "complete, every threshold met: ready for `submitter upload`".to_string()
        } else {
            format!("still partial:\n  {}", merged.missing.join("\n  "))
        }
    );
    Ok(merged.complete)
}
