//! The one way this workspace reads and writes files.
//!
//! Every file we read may come from a hostile USB stick, and every file we
//! write may be a key archive or a published root that must never be lost.
//! So there is one reader and one writer, each with the guarantees spelled out
//! once, instead of a copy per crate with slightly different ones:
//!
//! - [`read_bounded`] reads regular files only (a FIFO or `/dev/zero` has no
//!   length to check and would be read until memory runs out), refuses a file
//!   over its limit before reading it, and stops reading at the limit should
//!   the file grow meanwhile.
//! - [`write_new`] writes a file that must not exist yet: a temporary file
//!   with a random name in the same folder (so the rename cannot cross file
//!   systems), the mode set at creation (0600 for secrets: never readable by
//!   others, not even for a moment), fsync, an optional read-back check, a
//!   rename that refuses to replace anything (`renameat2(RENAME_NOREPLACE)`,
//!   or a hard link where that is not supported, as on some FUSE mounts), and
//!   an fsync of the folder so the new name survives a power cut.
//! - [`replace`] does the same but may replace the target: only for files the
//!   caller owns and rewrites by design (`root.json` beside the history, or a
//!   file this same run wrote a moment ago).
//!
//! On any failure the temporary file is removed and the target is untouched.

use std::error::Error as StdError;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The mode of files that hold secrets (key archives, exported key tarballs).
pub const SECRET_MODE: u32 = 0o600;
/// The mode of everything else we write (roots, proposals, bundles, reports).
pub const PUBLIC_MODE: u32 = 0o644;

/// The error a read-back check returns; boxed so that each caller keeps its
/// own error type (see [`FsError::Check`]).
pub type CheckError = Box<dyn StdError + Send + Sync>;

/// A check run on the bytes read back before a new file gets its name.
pub type Check<'a> = &'a dyn Fn(&[u8]) -> Result<(), CheckError>;

/// Why a file could not be read or written.
#[derive(Debug, Error)]
pub enum FsError {
    /// The operating system said no.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What we were doing ("read", "write", "create a temporary file in").
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// A directory, device, FIFO or socket where a file was expected.
    #[error("{} is not a regular file", path.display())]
    NotRegularFile {
        /// The path given.
        path: PathBuf,
    },
    /// Over the limit the caller set for this kind of file.
    #[error("{} is {size} bytes, more than the {max} bytes such a file can be", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The file grew past the limit while it was read.
    #[error("{} grew past the {max} bytes such a file can be while it was read", path.display())]
    Grew {
        /// The file.
        path: PathBuf,
        /// The limit.
        max: u64,
    },
    /// [`write_new`] found the name taken (as anything, a dangling link too).
    #[error("{} already exists; it is never replaced (choose another name, or move it away)", path.display())]
    Exists {
        /// The target.
        path: PathBuf,
    },
    /// The bytes read back from disk are not those written.
    #[error("{}: the bytes read back differ from those written", path.display())]
    ReadBack {
        /// The temporary file.
        path: PathBuf,
    },
    /// The caller's check refused the bytes read back; nothing was renamed.
    #[error("{}: the file written fails its check", path.display())]
    Check {
        /// The target.
        path: PathBuf,
        /// The caller's error, which it may downcast back.
        #[source]
        source: CheckError,
    },
}

impl FsError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> FsError {
        let path = path.to_path_buf();
        move |source| FsError::Io {
            action,
            path,
            source,
        }
    }
}

/// Reads a regular file of at most `max` bytes.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, FsError> {
    let file = File::open(path).map_err(FsError::io("read", path))?;
    let meta = file.metadata().map_err(FsError::io("read", path))?;
    if !meta.is_file() {
        return Err(FsError::NotRegularFile {
            path: path.to_path_buf(),
        });
    }
    if meta.len() > max {
        return Err(FsError::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
            max,
        });
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1)
        .read_to_end(&mut out)
        .map_err(FsError::io("read", path))?;
    if out.len() as u64 > max {
        return Err(FsError::Grew {
            path: path.to_path_buf(),
            max,
        });
    }
    Ok(out)
}

/// How a file is written.
pub struct WriteOptions<'a> {
    mode: u32,
    read_back: bool,
    check: Option<Check<'a>>,
}

impl<'a> WriteOptions<'a> {
    /// Readable by all ([`PUBLIC_MODE`]).
    pub fn public() -> Self {
        WriteOptions {
            mode: PUBLIC_MODE,
            read_back: false,
            check: None,
        }
    }

    /// Readable by the owner only ([`SECRET_MODE`]).
    pub fn secret() -> Self {
        WriteOptions {
            mode: SECRET_MODE,
            ..Self::public()
        }
    }

    /// Reads the file back from disk before it gets its name and compares it
    /// with the bytes written: a failing USB stick shows here, not at the
    /// next ceremony.
    pub fn read_back(mut self) -> Self {
        self.read_back = true;
        self
    }

    /// Reads the file back (as [`Self::read_back`]) and runs `check` on what
    /// was read, for instance decrypting a new archive again; the file gets
    /// its name only if the check passes.
    pub fn check(mut self, check: Check<'a>) -> Self {
        self.read_back = true;
        self.check = Some(check);
        self
    }
}

/// Writes `path`, which must not exist (see the module docs for how).
pub fn write_new(path: &Path, bytes: &[u8], options: &WriteOptions<'_>) -> Result<(), FsError> {
    refuse_existing(path)?;
    write(path, bytes, options, false)
}

/// Writes `path`, replacing it if it exists: only for files the caller owns.
pub fn replace(path: &Path, bytes: &[u8], options: &WriteOptions<'_>) -> Result<(), FsError> {
    write(path, bytes, options, true)
}

/// Refuses a name that is taken, by anything (a dangling link included).
pub fn refuse_existing(path: &Path) -> Result<(), FsError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Err(FsError::Exists {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(FsError::io("look at", path)(e)),
    }
}

/// The folder a relative or absolute file name lives in.
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn write(
    path: &Path,
    bytes: &[u8],
    options: &WriteOptions<'_>,
    may_replace: bool,
) -> Result<(), FsError> {
    let dir = folder_of(path);
    let name = path.file_name().ok_or_else(|| FsError::NotRegularFile {
        path: path.to_path_buf(),
    })?;
    let mut random = [0u8; 6];
    // Only a temporary name: `create_new` refuses a clash anyway, so a
    // failing random source costs nothing but uniqueness.
    let _ = getrandom::fill(&mut random);
    // `.<name>.tmp-<pid>-<hex>`: hidden, and a temporary file a killed
    // process left is recognisable by name, beside the file it was for.
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        hex::encode(random)
    ));
    let result = write_temp(&tmp, bytes, options)
        .and_then(|()| {
            if !options.read_back {
                return Ok(());
            }
            let back = read_bounded(&tmp, bytes.len() as u64)?;
            if back != bytes {
                return Err(FsError::ReadBack { path: tmp.clone() });
            }
            match options.check {
                Some(check) => check(&back).map_err(|source| FsError::Check {
                    path: path.to_path_buf(),
                    source,
                }),
                None => Ok(()),
            }
        })
        .and_then(|()| rename_into_place(&tmp, path, may_replace))
        .and_then(|()| {
            File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(FsError::io("sync the folder", &dir))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_temp(tmp: &Path, bytes: &[u8], options: &WriteOptions<'_>) -> Result<(), FsError> {
    let mut open = OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        open.mode(options.mode);
    }
    let mut file = open
        .open(tmp)
        .map_err(FsError::io("create a temporary file", tmp))?;
    // The umask may have cleared bits of a public file's mode; set it exactly.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(options.mode))
            .map_err(FsError::io("set the mode of", tmp))?;
    }
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(FsError::io("write", tmp))?;
    Ok(())
}

fn rename_into_place(tmp: &Path, path: &Path, may_replace: bool) -> Result<(), FsError> {
    if may_replace {
        return std::fs::rename(tmp, path).map_err(FsError::io("write", path));
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        match renameat_with(CWD, tmp, CWD, path, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::EXIST) => {
                return Err(FsError::Exists {
                    path: path.to_path_buf(),
                })
            }
            // Not supported here (old kernel, some FUSE file systems): fall
            // back to a hard link, which also fails when the name is taken.
            Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOSYS) => {}
            Err(e) => return Err(FsError::io("write", path)(e.into())),
        }
    }
    match std::fs::hard_link(tmp, path) {
        Ok(()) => std::fs::remove_file(tmp).map_err(FsError::io("remove", tmp)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(FsError::Exists {
            path: path.to_path_buf(),
        }),
        // No hard links (FAT on a USB stick): a checked rename is the best
        // such a file system offers.
        Err(_) => {
            refuse_existing(path)?;
            std::fs::rename(tmp, path).map_err(FsError::io("write", path))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn write_new_never_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_new(&p, b"one", &WriteOptions::public()).unwrap();
        let e = write_new(&p, b"two", &WriteOptions::public()).unwrap_err();
        assert!(matches!(e, FsError::Exists { .. }), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        assert_eq!(entries(dir.path()), 1);
    }

    #[test]
    fn a_dangling_link_counts_as_taken() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &p).unwrap();
        assert!(matches!(
            write_new(&p, b"x", &WriteOptions::public()),
            Err(FsError::Exists { .. })
        ));
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn replace_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("root.json");
        write_new(&p, b"one", &WriteOptions::public()).unwrap();
        replace(&p, b"two", &WriteOptions::public()).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(entries(dir.path()), 1);
    }

    #[test]
    fn modes_are_exact() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path().join("s");
        let p = dir.path().join("p");
        write_new(&s, b"k", &WriteOptions::secret()).unwrap();
        write_new(&p, b"k", &WriteOptions::public()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&s), SECRET_MODE);
        assert_eq!(mode(&p), PUBLIC_MODE);
    }

    #[test]
    fn a_failed_check_names_nothing_and_keeps_the_callers_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        let check = |b: &[u8]| -> Result<(), CheckError> {
            assert_eq!(b, b"data");
            Err("no".into())
        };
        let e = write_new(&p, b"data", &WriteOptions::secret().check(&check)).unwrap_err();
        match e {
            FsError::Check { source, .. } => assert_eq!(source.to_string(), "no"),
            other => panic!("{other}"),
        }
        assert_eq!(entries(dir.path()), 0);
    }

    #[test]
    fn reads_are_bounded_and_regular_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        std::fs::write(&p, b"12345").unwrap();
        assert_eq!(read_bounded(&p, 5).unwrap(), b"12345");
        assert!(matches!(
            read_bounded(&p, 4),
            Err(FsError::TooLarge {
                size: 5,
                max: 4,
                ..
            })
        ));
        assert!(matches!(
            read_bounded(dir.path(), 4),
            Err(FsError::NotRegularFile { .. })
        ));
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), 4),
            Err(FsError::NotRegularFile { .. })
        ));
    }
}
