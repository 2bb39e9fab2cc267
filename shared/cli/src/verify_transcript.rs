//! `verify-transcript`, the same in both binaries: an auditor may check a
//! ceremony on the offline laptop or anywhere else, with the same result.

use crate::{print, println};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;

use ceremony::fsio;
use ceremony::transcript;

/// `verify-transcript` arguments.
#[derive(Args)]
pub struct VerifyTranscriptArgs {
    /// The transcript (JSON Lines) the signer wrote.
    #[arg(value_name = "TRANSCRIPT")]
    transcript: PathBuf,
    /// The new root the ceremony produced (N.root.json, or the bundle): its keys must have
    /// signed the transcript's head, and it must anchor the transcript. Without it (or a
    /// bundle among the artefacts) nothing is authenticated, and the exit status is 3.
    #[arg(long, value_name = "ROOT")]
    root: Option<PathBuf>,
    /// Check the hash chain alone, and exit 0 if it holds: it then proves nothing about
    /// who wrote the transcript (anyone can write a chain of hashes).
    #[arg(long, conflicts_with = "root")]
    chain_only: bool,
    /// Also write a printable report (self-contained HTML).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Files the transcript must record, each in the entry of its kind (the proposal and
    /// archive read, the archive and roots written); a bundle must be this ceremony's, and
    /// then authenticates the transcript as --root does.
    #[arg(value_name = "ARTEFACT")]
    artefacts: Vec<PathBuf>,
}

/// The largest transcript or artefact read: archives may be large, but not
/// unbounded (a path to /dev/zero must not be read until memory runs out).
const MAX_FILE: u64 = 1 << 30;

/// Runs `verify-transcript`: 0 when the transcript is authenticated (or, with
/// `--chain-only`, its chain holds) and every artefact is recorded; 3 when not.
pub fn run(args: VerifyTranscriptArgs) -> Result<ExitCode> {
    let read = |p: &Path| fsio::read_bounded(p, MAX_FILE);
    let bytes = read(&args.transcript)?;
    let root = match &args.root {
        Some(p) => Some((
            p.display().to_string(),
            transcript::authority_from_file(&read(p)?).with_context(|| {
                format!("{} is neither a root nor a bundle holding one", p.display())
            })?,
        )),
        None => None,
    };
    let artefacts = args
        .artefacts
        .iter()
        .map(|p| Ok((p.display().to_string(), read(p)?)))
        .collect::<Result<Vec<_>>>()?;
    let v = transcript::verify(
        &bytes,
        &transcript::Checks {
            root: root.as_ref().map(|(name, a)| (name.as_str(), a)),
            artefacts: &artefacts,
            chain_only: args.chain_only,
        },
    );
    print!("{}", v.summary());
    if let (Some(html), Some(t)) = (&args.html, &v.transcript) {
        crate::audit::write_report(html, &ceremony::report::transcript_html(t, &v))?;
        println!("report written to {}", html.display());
    }
    Ok(crate::audit::status(v.ok()))
}
