//! `verify-transcript` over files, as both binaries run it.
//!
//! It reads from disk and renders the HTML report, which makes it the one
//! place in `transcript` that imports `report`; it stays here only until it
//! moves to the command-line crate (issue 11), after which the format module
//! no longer knows the report exists.

use std::path::{Path, PathBuf};

use super::{root_from_file, verify_all, Verification};

/// `verify-transcript` as both binaries run it: reads the transcript, the
/// root (a root file or a bundle) and the artefacts from disk, verifies, and
/// writes the HTML report to `html` (a new file) when asked. Returns the
/// verification and the text to print; an `Err` is a file that could not be
/// read or written.
pub fn verify_paths(
    transcript: &Path,
    root: Option<&Path>,
    artefacts: &[PathBuf],
    html: Option<&Path>,
) -> Result<(Verification, String), String> {
    // Regular files only, and bounded: a path to /dev/zero must not be read
    // until memory runs out.
    let read = |p: &Path| crate::fsio::read_bounded(p, 1 << 30).map_err(|e| e.to_string());
    let bytes = read(transcript)?;
    let root = match root {
        Some(p) => Some(root_from_file(&read(p)?).map_err(|e| {
            format!(
                "{} is neither a root nor a bundle holding one: {e}",
                p.display()
            )
        })?),
        None => None,
    };
    let artefacts = artefacts
        .iter()
        .map(|p| Ok((p.display().to_string(), read(p)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let v = verify_all(&bytes, root.as_ref(), &artefacts);
    let mut text = v.summary();
    if let (Some(html), Some(t)) = (html, &v.transcript) {
        let page = crate::report::transcript_html(t, &v);
        crate::fsio::write_new(html, page.as_bytes(), &crate::fsio::WriteOptions::public())
            .map_err(|e| format!("cannot write {}: {e}", html.display()))?;
        text.push_str(&format!("report written to {}\n", html.display()));
    }
    Ok((v, text))
}
