//! Files as the tests see them: a folder's fingerprint (to prove a refused
//! command changed nothing), copies of folders, and the tarballs and age
//! files of archives, read the way `age -d | tar x` would (independently of
//! the signer's own reader) or crafted byte by byte.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use age::secrecy::SecretString;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::fixture::PASSPHRASE;

/// sha256 over every file's relative path, type and contents, recursively
/// (symbolic links by their target, never followed).
pub fn hash_dir(dir: &Path) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_vec(&list_dir(dir)).expect("a map serialises"),
    ))
}

/// The files of a folder, by relative path: "dir", "link -> target",
/// "special" or the sha256 of the contents.
pub fn list_dir(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.insert(rel, format!("link -> {}", t.display()));
            } else if meta.is_dir() {
                out.insert(rel.clone(), "dir".into());
                walk(base, &p, out);
            } else if meta.is_file() {
                let bytes = std::fs::read(&p).unwrap();
                out.insert(rel, hex::encode(Sha256::digest(bytes)));
            } else {
                out.insert(rel, "special".into());
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(dir, dir, &mut m);
    m
}

/// Copies a folder tree (files, folders and symbolic links).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        let ft = e.file_type().expect("type");
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &target).unwrap();
        } else if ft.is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// A tiny deterministic shuffle, so entry order is not sorted.
pub fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut s = seed | 1;
    for i in (1..v.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v.swap(i, (s % (i as u64 + 1)) as usize);
    }
}

/// Writes a gzip'd tar the way fioctl does: one entry per file, only name
/// and size set (mode 0, mtime 0), no directory entries, in random order.
pub fn write_fioctl_tgz(path: &Path, files: &[(String, Vec<u8>)]) {
    let mut files = files.to_vec();
    let seed = files.len() as u64 * 7919;
    shuffle(&mut files, seed);
    let mut tar_bytes = Vec::new();
    {
        let mut b = tar::Builder::new(&mut tar_bytes);
        for (name, data) in &files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, data.as_slice()).unwrap();
        }
        b.finish().unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar_bytes).unwrap();
    std::fs::write(path, gz.finish().unwrap()).unwrap();
}

/// The entries of a gzip'd tarball of regular files, by name; an error
/// says what failed.
pub fn try_tgz_entries(gz: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut tar_bytes)
        .map_err(|e| format!("gzip: {e}"))?;
    let mut a = tar::Archive::new(&tar_bytes[..]);
    let mut out = BTreeMap::new();
    for e in a.entries().map_err(|e| format!("tar: {e}"))? {
        let mut e = e.map_err(|e| format!("tar entry: {e}"))?;
        if e.header().entry_type() != tar::EntryType::Regular {
            return Err(format!(
                "entry of type {:?}",
                e.header().entry_type().as_byte() as char
            ));
        }
        let name = e.path().map_err(|e| e.to_string())?;
        let name = name.to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data)
            .map_err(|e| format!("tar data: {e}"))?;
        if out.insert(name.clone(), data).is_some() {
            return Err(format!("duplicate entry {name}"));
        }
    }
    Ok(out)
}

/// [`try_tgz_entries`], panicking on any error.
#[track_caller]
pub fn tgz_entries(gz: &[u8]) -> BTreeMap<String, Vec<u8>> {
    try_tgz_entries(gz).unwrap_or_else(|e| panic!("not a tarball of regular files: {e}"))
}

/// The names of a gzip'd tarball's entries, in their order.
pub fn tgz_names(gz: &[u8]) -> Vec<String> {
    let tar_bytes = gunzip(gz);
    let mut a = tar::Archive::new(&tar_bytes[..]);
    a.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Decrypts an archive with the test passphrase, as `age -d` would, and
/// returns its tarball's entries; an error says what failed.
pub fn open_archive(ciphertext: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let d = age::Decryptor::new_buffered(ciphertext).map_err(|e| format!("age header: {e}"))?;
    let id = age::scrypt::Identity::new(SecretString::from(PASSPHRASE.to_owned()));
    let mut r = d
        .decrypt(std::iter::once(&id as &dyn age::Identity))
        .map_err(|e| format!("age decrypt: {e}"))?;
    let mut gz = Vec::new();
    r.read_to_end(&mut gz)
        .map_err(|e| format!("age payload: {e}"))?;
    try_tgz_entries(&gz)
}

/// [`open_archive`] of the file at `path`, panicking on any error.
#[track_caller]
pub fn decrypt_archive(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let ct = std::fs::read(path).unwrap();
    open_archive(&ct).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A tar entry with exactly the name, type, contents and link name given
/// (the header is written raw: no path check of the `tar` crate applies).
#[derive(Clone)]
pub struct RawEntry {
    pub name: Vec<u8>,
    pub kind: tar::EntryType,
    pub data: Vec<u8>,
    pub link: Option<Vec<u8>>,
}

impl RawEntry {
    /// A regular file.
    pub fn file(name: &str, data: &[u8]) -> RawEntry {
        RawEntry {
            name: name.as_bytes().to_vec(),
            kind: tar::EntryType::Regular,
            data: data.to_vec(),
            link: None,
        }
    }
}

/// A tarball (uncompressed) of `entries`.
pub fn raw_tar(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut b = tar::Builder::new(&mut out);
        for e in entries {
            let mut h = tar::Header::new_old();
            assert!(e.name.len() <= 100, "raw names fit the old header");
            h.as_old_mut().name[..e.name.len()].copy_from_slice(&e.name);
            if let Some(l) = &e.link {
                h.as_old_mut().linkname[..l.len()].copy_from_slice(l);
            }
            h.set_entry_type(e.kind);
            h.set_size(e.data.len() as u64);
            h.set_mode(0o600);
            h.set_cksum();
            b.append(&h, e.data.as_slice()).unwrap();
        }
        b.finish().unwrap();
    }
    out
}

/// gzip of `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// gunzip of `bytes`.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// age-encrypts `plain` to `passphrase` with the test work factor.
pub fn age_encrypt(plain: &[u8], passphrase: &str) -> Vec<u8> {
    let mut r = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    r.set_work_factor(10);
    age_wrap(&r, plain)
}

/// age-encrypts `plain` to a fresh X25519 identity (whose secret is lost).
pub fn age_encrypt_x25519(plain: &[u8]) -> Vec<u8> {
    age_wrap(&age::x25519::Identity::generate().to_public(), plain)
}

fn age_wrap(r: &dyn age::Recipient, plain: &[u8]) -> Vec<u8> {
    let enc = age::Encryptor::with_recipients(std::iter::once(r)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    out
}

/// Pretty JSON bytes with a final newline, as the tools write them.
pub fn pretty(v: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).unwrap();
    out.push(b'\n');
    out
}
