//! The key archive on disk: an age-encrypted, gzip'd tar, handled in memory
//! only.
//!
//! Reading never unpacks anything to disk: the file is decrypted, decompressed
//! and parsed into a map of entry name to bytes held in [`Zeroizing`] buffers.
//! Whatever could make a tarball dangerous or ambiguous is refused, naming the
//! entry: links, devices and other special files, absolute or `..` paths,
//! duplicate names, oversize entries.
//!
//! Writing is atomic and never replaces a file: the ciphertext goes to a temporary file in the target's folder,
//! is read back, decrypted and compared with what was meant, fsynced, renamed
//! into place without replacing anything (`RENAME_NOREPLACE` where the file
//! system has it), and the folder is fsynced.
//!
//! Plaintext is kept in pre-sized buffers so that it is not copied around by
//! reallocation; gzip's and age's own internal buffers are outside our
//! control (best effort, see SECURITY.md).

use ceremony_cli::eprintln;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use thiserror::Error;
use zeroize::Zeroizing;

/// The largest single entry read or written (key files are a few KiB).
pub const MAX_ENTRY: u64 = 1024 * 1024;
/// The largest total of all entries.
pub const MAX_TOTAL: u64 = 64 * 1024 * 1024;
/// The largest archive file read (compressed and encrypted); bounded so that
/// a wrong file given by mistake is refused before any work.
pub const MAX_FILE: u64 = MAX_TOTAL + 1024 * 1024;

/// Why an archive cannot be read or written.
#[derive(Debug, Error)]
pub enum ArchiveError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// The tarball holds something we refuse.
    #[error("refusing the tarball: entry {entry:?}: {problem}")]
    Entry {
        /// The entry name, as written in the tarball (lossy UTF-8).
        entry: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The tarball as a whole is unusable.
    #[error("{0}")]
    Tarball(String),
    /// The age layer failed.
    #[error("{0}")]
    Age(String),
    /// An entry (a key) the archive holds already.
    #[error("{entry} {problem}")]
    Duplicate {
        /// The entry.
        entry: String,
        /// What exists.
        problem: String,
    },
    /// The target exists already (found when writing: the name was taken
    /// after the checks, see [`ArchiveError::Taken`]).
    #[error("{0} exists already; it is never overwritten: pick another name")]
    Exists(PathBuf),
    /// An output named on the command line exists already: the message
    /// names the kind of file and the flag that picks another name.
    #[error("{} exists already; {kind} is never overwritten: pick another name with {flag}", path.display())]
    Taken {
        /// The output.
        path: PathBuf,
        /// "a bundle", "an archive", …
        kind: &'static str,
        /// The flag that names it, with any way out: "-o", "--transcript".
        flag: &'static str,
    },
}

/// The entries of a tarball, by normalised name, contents in wiped buffers.
#[derive(Default)]
pub struct Entries {
    map: BTreeMap<String, Zeroizing<Vec<u8>>>,
}

impl Entries {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes of one entry.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.map.get(name).map(|v| v.as_slice())
    }

    /// Whether an entry of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// Every entry name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// Adds or replaces an entry, checking its name and size.
    pub fn insert(&mut self, name: &str, data: Zeroizing<Vec<u8>>) -> Result<(), ArchiveError> {
        let name = normalise_name(name.as_bytes())?;
        if data.len() as u64 > MAX_ENTRY {
            return Err(ArchiveError::Entry {
                entry: name,
                problem: format!("{} bytes, over the {MAX_ENTRY}-byte limit", data.len()),
            });
        }
        self.map.insert(name, data);
        if self.total() > MAX_TOTAL {
            return Err(ArchiveError::Tarball(format!(
                "the archive would exceed {MAX_TOTAL} bytes"
            )));
        }
        Ok(())
    }

    /// Adds an entry that must not exist yet.
    pub fn insert_new(&mut self, name: &str, data: Zeroizing<Vec<u8>>) -> Result<(), ArchiveError> {
        if self.contains(name) {
            return Err(ArchiveError::Duplicate {
                entry: name.to_string(),
                problem: "exists already in the archive; keys are never replaced".into(),
            });
        }
        self.insert(name, data)
    }

    fn total(&self) -> u64 {
        self.map.values().map(|v| v.len() as u64).sum()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

/// Checks an entry name and returns it normalised (leading `./` removed).
/// Refuses absolute paths, `..`, empty components, backslashes, control
/// characters and names that are not UTF-8.
fn normalise_name(raw: &[u8]) -> Result<String, ArchiveError> {
    let shown = String::from_utf8_lossy(raw).into_owned();
    let bad = |problem: &str| ArchiveError::Entry {
        entry: shown.clone(),
        problem: problem.to_string(),
    };
    let name = std::str::from_utf8(raw).map_err(|_| bad("the name is not UTF-8"))?;
    if name.starts_with('/') {
        return Err(bad("absolute path"));
    }
    if name.contains('\\') || name.chars().any(char::is_control) {
        return Err(bad("backslash or control character in the name"));
    }
    if name.len() > 1024 {
        return Err(bad("the name is over 1024 bytes"));
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            ".." => return Err(bad("path with \"..\"")),
            "." if parts.is_empty() => continue,
            "" | "." => return Err(bad("empty or \".\" path component")),
            p if p.len() >= 2 && p.as_bytes()[1] == b':' => {
                return Err(bad("drive-letter path"));
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(bad("empty name"));
    }
    Ok(parts.join("/"))
}

/// Parses a gzip'd tarball held in memory.
pub fn read_tar_gz(gz: &[u8]) -> Result<Entries, ArchiveError> {
    // Decompress with a bound, so a gzip bomb stops at MAX_TOTAL plus room
    // for the tar headers.
    let limit = MAX_TOTAL + MAX_TOTAL / 8;
    // Size the buffer from gzip's trailer (uncompressed size mod 2^32), so
    // the plaintext is not copied around by reallocation; a lying trailer
    // costs at most `limit` bytes of capacity.
    let isize_hint = gz
        .len()
        .checked_sub(4)
        .map(|i| u32::from_le_bytes([gz[i], gz[i + 1], gz[i + 2], gz[i + 3]]) as u64)
        .unwrap_or(0);
    let capacity = isize_hint.max(gz.len() as u64 * 4).min(limit) as usize + 1;
    let mut tar_bytes = Zeroizing::new(Vec::with_capacity(capacity));
    let mut decoder = flate2::read::GzDecoder::new(gz).take(limit + 1);
    decoder.read_to_end(&mut tar_bytes).map_err(|e| {
        ArchiveError::Tarball(format!(
            "not a gzip'd tarball, or a damaged one ({e}); a keys tarball is a .tgz as fioctl writes it"
        ))
    })?;
    if tar_bytes.len() as u64 > limit {
        return Err(ArchiveError::Tarball(format!(
            "the tarball unpacks to more than {limit} bytes; a keys tarball is a few KiB"
        )));
    }
    read_tar(&tar_bytes)
}

/// Parses an uncompressed tarball held in memory.
pub fn read_tar(tar_bytes: &[u8]) -> Result<Entries, ArchiveError> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out = Entries::new();
    let mut total: u64 = 0;
    let entries = archive
        .entries()
        .map_err(|e| ArchiveError::Tarball(format!("not a tarball: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| {
            ArchiveError::Tarball(format!("damaged tarball (a header does not read): {e}"))
        })?;
        let raw_name = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_name).into_owned();
        let refuse = |problem: String| ArchiveError::Entry {
            entry: shown.clone(),
            problem,
        };
        use tar::EntryType as T;
        match entry.header().entry_type() {
            T::Regular | T::Continuous => {}
            // fioctl writes none, other tar tools do; like fioctl's reader,
            // skip them (nothing is ever created on disk).
            T::Directory => {
                normalise_name(raw_name.strip_suffix(b"/").unwrap_or(&raw_name))?;
                continue;
            }
            T::XGlobalHeader => continue,
            T::Symlink => {
                return Err(refuse(
                    "a symbolic link; key archives hold files only".into(),
                ))
            }
            T::Link => return Err(refuse("a hard link; key archives hold files only".into())),
            T::Char | T::Block => return Err(refuse("a device file".into())),
            T::Fifo => return Err(refuse("a named pipe".into())),
            other => {
                return Err(refuse(format!(
                    "an entry of type {:?}, not a regular file",
                    other.as_byte() as char
                )))
            }
        }
        let name = normalise_name(&raw_name)?;
        let size = entry
            .header()
            .size()
            .map_err(|e| refuse(format!("unreadable size: {e}")))?;
        if size > MAX_ENTRY {
            return Err(refuse(format!(
                "{size} bytes, over the {MAX_ENTRY}-byte limit for one entry"
            )));
        }
        total += size;
        if total > MAX_TOTAL {
            return Err(ArchiveError::Tarball(format!(
                "the entries add up to more than {MAX_TOTAL} bytes"
            )));
        }
        if out.contains(&name) {
            return Err(refuse(
                "a second entry of the same name (which one counts would be ambiguous)".into(),
            ));
        }
        let mut data = Zeroizing::new(Vec::with_capacity(size as usize));
        (&mut entry)
            .take(size)
            .read_to_end(&mut data)
            .map_err(|e| refuse(format!("cannot read its contents: {e}")))?;
        if data.len() as u64 != size {
            return Err(refuse("truncated contents".into()));
        }
        out.map.insert(name, data);
    }
    Ok(out)
}

/// Writes the entries as a gzip'd tarball, in name order, each a regular
/// file with mode 0600 (fioctl writes mode 0; both read back the same).
pub fn write_tar_gz(entries: &Entries) -> Result<Zeroizing<Vec<u8>>, ArchiveError> {
    let estimate = entries
        .map
        .iter()
        .map(|(n, d)| 1536 + n.len() + d.len())
        .sum::<usize>()
        + 4096;
    let mut tar_bytes = Zeroizing::new(Vec::with_capacity(estimate));
    {
        let mut builder = tar::Builder::new(&mut *tar_bytes);
        builder.mode(tar::HeaderMode::Deterministic);
        for (name, data) in &entries.map {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            header.set_mtime(0);
            builder
                .append_data(&mut header, name, data.as_slice())
                .map_err(|e| ArchiveError::Tarball(format!("cannot write entry {name}: {e}")))?;
        }
        builder
            .finish()
            .map_err(|e| ArchiveError::Tarball(format!("cannot finish the tarball: {e}")))?;
    }
    let mut gz = Zeroizing::new(Vec::with_capacity(tar_bytes.len() + 1024));
    {
        let mut encoder = flate2::write::GzEncoder::new(&mut *gz, flate2::Compression::default());
        encoder
            .write_all(&tar_bytes)
            .and_then(|()| encoder.try_finish())
            .map_err(|e| ArchiveError::Tarball(format!("cannot compress the tarball: {e}")))?;
    }
    Ok(gz)
}

/// How an archive is (or is to be) encrypted.
pub enum Protection {
    /// An scrypt passphrase.
    Passphrase(SecretString),
    /// age recipients (`age1…`), for escrow several; decrypting needs one of
    /// the matching identities.
    Recipients {
        /// The recipients, as `age1…` strings.
        recipients: Vec<String>,
        /// Identities to decrypt with (for reading the archive back).
        identities: Vec<Box<dyn age::Identity + Send + Sync>>,
    },
}

impl Protection {
    /// A short description for messages (no secret in it).
    pub fn describe(&self) -> String {
        match self {
            Protection::Passphrase(_) => "a passphrase (scrypt)".into(),
            Protection::Recipients { recipients, .. } => {
                format!("{} age recipient(s)", recipients.len())
            }
        }
    }
}

/// Parses `age1…` recipients.
pub fn parse_recipients(list: &[String]) -> Result<Vec<age::x25519::Recipient>, ArchiveError> {
    list.iter()
        .map(|r| {
            r.parse::<age::x25519::Recipient>().map_err(|e| {
                let hint = if r.starts_with("age1") && r.rfind('1').is_some_and(|i| i > 3) {
                    " (plugin recipients such as age1yubikey1… are not supported by this build)"
                } else {
                    ""
                };
                ArchiveError::Age(format!("{r:?} is not an age X25519 recipient: {e}{hint}"))
            })
        })
        .collect()
}

/// The scrypt work factor (log2 N) of a new passphrase archive unless the
/// operator picks another: age's own default (Go age's `NewScryptRecipient`),
/// 256 MiB and about a second on an ordinary laptop. It is fixed rather than
/// calibrated to the machine that writes the archive, because the archive is
/// opened on another, often slower, air-gapped machine, and age's tools
/// refuse a work factor far above their own calibration (rage: 4 above it).
pub const DEFAULT_WORK_FACTOR: u8 = 18;
/// The least an operator may choose: 64 MiB per guess of the passphrase.
pub const MIN_WORK_FACTOR: u8 = 16;
/// The most an operator may choose, and the most an archive may ask of us
/// when it is opened: Go age's scrypt identity accepts nothing above 22
/// (4 GiB), so an archive above it could not be opened with `age -d`.
pub const MAX_WORK_FACTOR: u8 = 22;

/// The scrypt work factor (log2 N) an age file's header asks for, read from
/// its `-> scrypt <salt> <logN>` stanza without decrypting anything; `None`
/// for a file encrypted to recipients, or a header that does not say.
pub fn scrypt_work_factor(ciphertext: &[u8]) -> Option<u8> {
    // The header is a handful of short lines; a stanza's arguments are on
    // its first line. Only the first few lines are looked at.
    let mut lines = ciphertext.split(|&b| b == b'\n').take(8);
    if lines.next()? != b"age-encryption.org/v1" {
        return None;
    }
    for line in lines {
        if line.starts_with(b"---") {
            break;
        }
        let Some(args) = line.strip_prefix(b"-> scrypt ") else {
            continue;
        };
        let text = std::str::from_utf8(args).ok()?;
        let mut parts = text.split(' ');
        let (_salt, log_n) = (parts.next()?, parts.next()?);
        if parts.next().is_some() || log_n.is_empty() || log_n.len() > 2 {
            return None;
        }
        return log_n.parse().ok();
    }
    None
}

/// Encrypts `plaintext`; a passphrase with scrypt work factor `log_n`.
pub fn encrypt(
    plaintext: &[u8],
    protection: &Protection,
    log_n: u8,
) -> Result<Vec<u8>, ArchiveError> {
    let encryptor = match protection {
        Protection::Passphrase(p) => {
            if !(1..=MAX_WORK_FACTOR).contains(&log_n) {
                return Err(ArchiveError::Age(format!(
                    "scrypt work factor {log_n} is outside 1..={MAX_WORK_FACTOR}"
                )));
            }
            let mut recipient = age::scrypt::Recipient::new(p.clone());
            recipient.set_work_factor(log_n);
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(|e| ArchiveError::Age(format!("cannot encrypt: {e}")))?
        }
        Protection::Recipients { recipients, .. } => {
            let parsed = parse_recipients(recipients)?;
            if parsed.is_empty() {
                return Err(ArchiveError::Age("no recipient given".into()));
            }
            age::Encryptor::with_recipients(parsed.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| ArchiveError::Age(format!("cannot encrypt: {e}")))?
        }
    };
    let mut out = Vec::with_capacity(plaintext.len() + 1024);
    let mut writer = encryptor
        .wrap_output(&mut out)
        .map_err(|e| ArchiveError::Age(format!("cannot encrypt: {e}")))?;
    writer
        .write_all(plaintext)
        .and_then(|()| writer.finish().map(|_| ()))
        .map_err(|e| ArchiveError::Age(format!("cannot encrypt: {e}")))?;
    Ok(out)
}

/// Test builds only: `TUF_CEREMONY_TEST_SCRYPT_LOG_N` lowers the scrypt work
/// factor of new archives so the end-to-end tests do not spend seconds per
/// archive. Release builds ignore it.
pub fn test_work_factor() -> Option<u8> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let n: u8 = std::env::var("TUF_CEREMONY_TEST_SCRYPT_LOG_N")
        .ok()?
        .parse()
        .ok()?;
    if !(1..=30).contains(&n) {
        return None;
    }
    eprintln!("warning: debug build: scrypt work factor lowered to 2^{n} (TUF_CEREMONY_TEST_SCRYPT_LOG_N); never use this for real keys");
    Some(n)
}

/// Whether an age file is encrypted to a passphrase (else to recipients).
pub fn is_passphrase_encrypted(ciphertext: &[u8]) -> Result<bool, ArchiveError> {
    let decryptor = age::Decryptor::new_buffered(ciphertext).map_err(|e| header_error(&e))?;
    Ok(decryptor.is_scrypt())
}

fn header_error(e: &age::DecryptError) -> ArchiveError {
    ArchiveError::Age(format!(
        "this is not a readable age-encrypted archive ({e}); is it the right file? \
         A damaged archive cannot be repaired: use your backup copy"
    ))
}

/// Decrypts an age file with `protection`.
pub fn decrypt(
    ciphertext: &[u8],
    protection: &Protection,
) -> Result<Zeroizing<Vec<u8>>, ArchiveError> {
    let decryptor = age::Decryptor::new_buffered(ciphertext).map_err(|e| header_error(&e))?;
    let scrypt_identity;
    let identities: Vec<&dyn age::Identity> = match protection {
        Protection::Passphrase(p) => {
            if !decryptor.is_scrypt() {
                return Err(ArchiveError::Age(
                    "this archive is encrypted to age recipients, not a passphrase: pass --identity FILE"
                        .into(),
                ));
            }
            let mut identity = age::scrypt::Identity::new(p.clone());
            // Not age's "4 above this machine's calibration": an archive made
            // on a fast machine must open on the slow offline one. What we
            // write never exceeds the bound, and an archive is the operator's
            // own file, not a stranger's.
            identity.set_max_work_factor(MAX_WORK_FACTOR);
            scrypt_identity = identity;
            vec![&scrypt_identity as &dyn age::Identity]
        }
        Protection::Recipients { identities, .. } => {
            if decryptor.is_scrypt() {
                return Err(ArchiveError::Age(
                    "this archive is encrypted with a passphrase, not to recipients: drop --identity"
                        .into(),
                ));
            }
            if identities.is_empty() {
                return Err(ArchiveError::Age(
                    "this archive is encrypted to age recipients: pass --identity FILE".into(),
                ));
            }
            identities
                .iter()
                .map(|i| i.as_ref() as &dyn age::Identity)
                .collect()
        }
    };
    let mut reader = decryptor.decrypt(identities.into_iter()).map_err(|e| match e {
        age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => {
            ArchiveError::Age(match protection {
                Protection::Passphrase(_) => {
                    "cannot decrypt the archive: wrong passphrase (or a damaged archive header)"
                        .to_string()
                }
                Protection::Recipients { .. } => {
                    "cannot decrypt the archive: none of the identities given matches its recipients \
                     (or the archive header is damaged)"
                        .to_string()
                }
            })
        }
        age::DecryptError::ExcessiveWork { required, target } => ArchiveError::Age(format!(
            "the archive's passphrase work factor (log N = {required}) is above {MAX_WORK_FACTOR}, \
             the most age's tools accept (this machine calibrates to {target}); it was not \
             written by signer: was it made elsewhere on purpose?"
        )),
        other => ArchiveError::Age(format!(
            "cannot decrypt the archive ({other}); if it is damaged, use your backup copy"
        )),
    })?;
    let mut plain = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    reader
        .by_ref()
        .take(MAX_FILE + 1)
        .read_to_end(&mut plain)
        .map_err(|e| {
            ArchiveError::Age(format!(
                "the archive is damaged: truncated or corrupted ({e}); nothing was changed. \
                 Use your backup copy of the archive"
            ))
        })?;
    Ok(plain)
}

/// Reads a regular file of at most `max` bytes (see [`ceremony::fsio`]).
pub fn read_file_bounded(path: &Path, max: u64) -> Result<Vec<u8>, ArchiveError> {
    ceremony::fsio::read_bounded(path, max).map_err(|e| from_fs(path, e))
}

/// Refuses an output that exists (as anything, a dangling link included),
/// saying what kind of file it is and which flag names another.
pub fn refuse_taken(
    path: &Path,
    kind: &'static str,
    flag: &'static str,
) -> Result<(), ArchiveError> {
    match ceremony::fsio::refuse_existing(path) {
        Err(ceremony::fsio::FsError::Exists { path }) => {
            Err(ArchiveError::Taken { path, kind, flag })
        }
        other => other.map_err(|e| from_fs(path, e)),
    }
}

/// Writes `bytes` to `path` with [`ceremony::fsio`] (mode 0600, random
/// temporary name, fsync, no-replace rename, fsync of the folder), running
/// `check` on the bytes read back from disk before the file gets its name.
/// On any failure `path` is untouched. The target must not exist: nothing
/// the signer writes replaces a file (a ceremony writes each archive once).
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    check: &dyn Fn(&[u8]) -> Result<(), ArchiveError>,
) -> Result<(), ArchiveError> {
    use ceremony::fsio::{CheckError, WriteOptions};
    let boxed = |back: &[u8]| check(back).map_err(|e| Box::new(e) as CheckError);
    let options = WriteOptions::secret().check(&boxed);
    ceremony::fsio::write_new(path, bytes, &options).map_err(|e| from_fs(path, e))
}

/// Our own errors come back as they were; a name taken says which flag picks
/// another; everything else keeps its cause.
fn from_fs(path: &Path, e: ceremony::fsio::FsError) -> ArchiveError {
    use ceremony::fsio::FsError;
    match e {
        FsError::Exists { path } => ArchiveError::Exists(path),
        FsError::Check { source, .. } => match source.downcast::<ArchiveError>() {
            Ok(own) => *own,
            Err(other) => ArchiveError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(other),
            },
        },
        FsError::Io { source, path, .. } => ArchiveError::Io { path, source },
        other => ArchiveError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(name: &[u8], kind: tar::EntryType, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut b = tar::Builder::new(&mut out);
            let mut h = tar::Header::new_old();
            // Write the raw name, bypassing the builder's own path checks.
            h.as_old_mut().name[..name.len()].copy_from_slice(name);
            h.set_entry_type(kind);
            h.set_size(data.len() as u64);
            h.set_mode(0);
            h.set_cksum();
            b.append(&h, data).unwrap();
            b.finish().unwrap();
        }
        out
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(
            normalise_name(b"./tufrepo/keys/a.pub").unwrap(),
            "tufrepo/keys/a.pub"
        );
        for bad in [
            &b"/etc/passwd"[..],
            b"../x",
            b"a/../../x",
            b"a//b",
            b"a\\b",
            b"",
            b"C:/x",
        ] {
            assert!(
                normalise_name(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn refuses_links_devices_traversal() {
        for (name, kind, word) in [
            (&b"../x"[..], tar::EntryType::Regular, ".."),
            (b"/abs", tar::EntryType::Regular, "absolute"),
            (b"link", tar::EntryType::Symlink, "symbolic link"),
            (b"hard", tar::EntryType::Link, "hard link"),
            (b"dev", tar::EntryType::Char, "device"),
        ] {
            let t = tar_with(name, kind, b"");
            let err = read_tar(&t).err().expect("refused").to_string();
            assert!(err.contains(word), "{err}");
            assert!(err.contains(&*String::from_utf8_lossy(name)), "{err}");
        }
    }

    #[test]
    fn round_trip_and_duplicates() {
        let mut e = Entries::new();
        e.insert("b", Zeroizing::new(b"2".to_vec())).unwrap();
        e.insert("a/x", Zeroizing::new(b"1".to_vec())).unwrap();
        let gz = write_tar_gz(&e).unwrap();
        let back = read_tar_gz(&gz).unwrap();
        assert_eq!(back.get("a/x"), Some(&b"1"[..]));
        assert_eq!(back.names().collect::<Vec<_>>(), ["a/x", "b"]);

        let mut out = Vec::new();
        {
            let mut b = tar::Builder::new(&mut out);
            for _ in 0..2 {
                let mut h = tar::Header::new_gnu();
                h.set_size(1);
                b.append_data(&mut h, "dup", &b"x"[..]).unwrap();
            }
            b.finish().unwrap();
        }
        let err = read_tar(&out).err().unwrap().to_string();
        assert!(err.contains("dup") && err.contains("same name"), "{err}");
    }

    #[test]
    fn long_names_round_trip() {
        let mut e = Entries::new();
        let long = format!("tufrepo/keys/fioctl-root-{}.sec", "ab".repeat(70));
        e.insert(&long, Zeroizing::new(b"x".to_vec())).unwrap();
        let back = read_tar_gz(&write_tar_gz(&e).unwrap()).unwrap();
        assert_eq!(back.names().collect::<Vec<_>>(), [long.as_str()]);
    }

    #[test]
    fn the_work_factor_is_read_from_the_header() {
        let pass = Protection::Passphrase(SecretString::from("p".to_owned()));
        let ct = encrypt(b"x", &pass, 10).unwrap();
        assert_eq!(scrypt_work_factor(&ct), Some(10));
        assert!(decrypt(&ct, &pass).is_ok());
        let id = age::x25519::Identity::generate();
        let to = Protection::Recipients {
            recipients: vec![id.to_public().to_string()],
            identities: Vec::new(),
        };
        assert_eq!(scrypt_work_factor(&encrypt(b"x", &to, 10).unwrap()), None);
        assert_eq!(scrypt_work_factor(b"not age at all"), None);
        let crafted = b"age-encryption.org/v1\n-> scrypt c2FsdA 999\n";
        assert_eq!(scrypt_work_factor(crafted), None);
        assert!(encrypt(b"x", &pass, MAX_WORK_FACTOR + 1).is_err());
    }

    #[test]
    fn oversize_entry() {
        let big = vec![0u8; MAX_ENTRY as usize + 1];
        let t = tar_with(b"big", tar::EntryType::Regular, &big);
        let err = read_tar(&t).err().unwrap().to_string();
        assert!(err.contains("big") && err.contains("limit"), "{err}");
    }
}
