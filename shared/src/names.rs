//! The default names of the files a ceremony writes, the same on both sides
//! of the gap: a name carries the ceremony (the new root's version), so
//! that one folder holds many ceremonies, and a name already taken (an
//! earlier or an aborted ceremony's file) gives way to the next free one
//! (`-2`, `-3`, …) rather than a refusal. A file is never overwritten: an
//! explicit name that is taken is still refused by the writer.

use std::path::{Path, PathBuf};

/// How many numbered names are tried before giving up (a folder holding a
/// thousand of them is a mistake, not a ceremony).
pub const MAX_TRIES: u32 = 1000;

/// The stem of a proposal for the new root `version`: `proposal-v7`.
pub fn proposal_stem(version: u64) -> String {
    format!("proposal-v{version}")
}

/// The stem of a bundle answering a proposal for the new root `version`:
/// `bundle-v7`.
pub fn bundle_stem(version: u64) -> String {
    format!("bundle-v{version}")
}

/// The stem of a wave proposal for CI targets `version`: `wave-v42`.
pub fn wave_stem(version: u64) -> String {
    format!("wave-v{version}")
}

/// The stem of a wave bundle for CI targets `version`: `wave-bundle-v42`.
pub fn wave_bundle_stem(version: u64) -> String {
    format!("wave-bundle-v{version}")
}

/// The `n`th name of a stem: `bundle-v7.json` for 1, `bundle-v7-2.json`
/// for 2.
pub fn numbered(stem: &str, n: u32, ext: &str) -> String {
    if n <= 1 {
        format!("{stem}{ext}")
    } else {
        format!("{stem}-{n}{ext}")
    }
}

/// The transcript beside a bundle: `bundle-v7.json` →
/// `bundle-v7.transcript.jsonl`.
pub fn transcript_for(bundle: &Path) -> PathBuf {
    let stem = bundle
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    bundle.with_file_name(format!("{stem}.transcript.jsonl"))
}

/// Whether nothing at all is at `path` (a dangling link is something).
pub fn is_free(path: &Path) -> bool {
    matches!(
        std::fs::symlink_metadata(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound
    )
}

/// The first `n` (from 1) for which every path `names(n)` gives is free,
/// with those paths; `None` after [`MAX_TRIES`]. The caller still writes
/// with [`crate::fsio::write_new`], so that a name taken in between is
/// refused, not replaced.
pub fn first_free(names: impl Fn(u32) -> Vec<PathBuf>) -> Option<(u32, Vec<PathBuf>)> {
    (1..=MAX_TRIES).find_map(|n| {
        let paths = names(n);
        paths.iter().all(|p| is_free(p)).then_some((n, paths))
    })
}

/// `dir/<stem><ext>`, or the first free numbered one.
pub fn free_in(dir: &Path, stem: &str, ext: &str) -> Option<PathBuf> {
    first_free(|n| vec![dir.join(numbered(stem, n, ext))]).map(|(_, mut p)| p.remove(0))
}

/// The `n`th name of a file whose name is `path`'s: `keys-X.tgz.age` →
/// `keys-X-2.tgz.age` (the part after the first dot of the file name stays
/// last).
pub fn numbered_path(path: &Path, n: u32) -> PathBuf {
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stem, ext) = match name.find('.') {
        Some(i) if i > 0 => name.split_at(i),
        _ => (name.as_str(), ""),
    };
    path.with_file_name(numbered(stem, n, ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names_keep_the_extension_last() {
        assert_eq!(numbered("bundle-v7", 1, ".json"), "bundle-v7.json");
        assert_eq!(numbered("bundle-v7", 3, ".json"), "bundle-v7-3.json");
        assert_eq!(
            numbered_path(Path::new("d/keys-20260101T000000Z.tgz.age"), 2),
            Path::new("d/keys-20260101T000000Z-2.tgz.age")
        );
        assert_eq!(
            transcript_for(Path::new("d/bundle-v7-2.json")),
            Path::new("d/bundle-v7-2.transcript.jsonl")
        );
    }

    #[test]
    fn the_first_name_whose_every_file_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let both = |n| {
            let b = d.join(numbered("bundle-v2", n, ".json"));
            vec![b.clone(), transcript_for(&b)]
        };
        assert_eq!(first_free(both).unwrap().0, 1);
        // An aborted ceremony left its transcript only: its bundle name is
        // passed over too.
        std::fs::write(d.join("bundle-v2.transcript.jsonl"), b"").unwrap();
        assert_eq!(first_free(both).unwrap().0, 2);
        std::fs::write(d.join("bundle-v2-2.json"), b"").unwrap();
        let (n, paths) = first_free(both).unwrap();
        assert_eq!(n, 3);
        assert_eq!(paths[0], d.join("bundle-v2-3.json"));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.join("nowhere"), d.join("proposal-v2.json")).unwrap();
            assert_eq!(
                free_in(d, "proposal-v2", ".json").unwrap(),
                d.join("proposal-v2-2.json")
            );
        }
    }
}
