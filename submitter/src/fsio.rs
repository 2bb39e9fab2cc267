//! Writing files so that a crash or a concurrent writer never leaves a
//! half-written or silently replaced file: a temporary file in the same
//! folder, written and fsynced, then renamed into place (or, for a file that
//! must never be replaced, linked into place only if the name is free), then
//! the folder fsynced.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn temp_with(path: &Path, bytes: &[u8], mode: u32) -> Result<tempfile::NamedTempFile> {
    let dir = folder_of(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".tuf-ceremony-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write a temporary file in {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set permissions in {}", dir.display()))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    Ok(tmp)
}

fn sync_folder(path: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(folder_of(path)) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Writes `path`, replacing it if it exists.
pub fn write_replace(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let tmp = temp_with(path, bytes, mode)?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    sync_folder(path);
    Ok(())
}

/// Writes `path`, which must not exist; refuses (and leaves the existing
/// file untouched) if it does, even if it appears between check and write.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    if path.exists() {
        bail!("{} already exists; it is never replaced", path.display());
    }
    let tmp = temp_with(path, bytes, mode)?;
    match tmp.persist_noclobber(path) {
        Ok(_) => {}
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!(
                "{} appeared while it was being written; it was left untouched",
                path.display()
            )
        }
        Err(e) => {
            return Err(e.error).with_context(|| format!("cannot write {}", path.display()));
        }
    }
    sync_folder(path);
    Ok(())
}

/// Reads a file of at most `max` bytes.
pub fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_file() {
        // A device or a pipe has no length to check: /dev/zero would be read
        // until memory runs out.
        bail!("{} is not a regular file", path.display());
    }
    if meta.len() > max {
        bail!(
            "{} is {} bytes, more than the {max} bytes such a file can be",
            path.display(),
            meta.len()
        );
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    std::io::Read::read_to_end(
        &mut std::io::Read::take(
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?,
            max + 1,
        ),
        &mut out,
    )
    .with_context(|| format!("cannot read {}", path.display()))?;
    if out.len() as u64 > max {
        bail!(
            "{} grew past the {max} bytes such a file can be while it was read",
            path.display()
        );
    }
    Ok(out)
}
