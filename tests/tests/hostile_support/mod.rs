//! Helpers of the hostile-input and kill tests: a real ceremony's files made
//! by the binaries themselves (a TUF repository, an archive, a proposal, a
//! bundle, a transcript, a public-key file), crafted tarballs and age files,
//! running a binary with nothing of the machine leaking in, and hashing a
//! folder.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use age::secrecy::SecretString;
use ceremony::keys::PrivateKey;
use ceremony_tests::binary;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The passphrase of every archive the fixtures make.
pub const PASSPHRASE: &str = "hostile input test passphrase";

/// The scrypt work factor (2^10) of archives made in tests: a debug-build
/// knob of the signer (release builds ignore it).
pub const LOG_N: &str = "10";

/// Runs a workspace binary in `dir` with no standard input, no token from
/// the machine, HOME in `dir`, and the low scrypt work factor.
pub fn run_in(dir: &Path, bin: &str, args: &[&str]) -> Output {
    command(dir, bin, args).output().expect("the binary runs")
}

/// The command [`run_in`] runs, for callers that spawn it themselves.
pub fn command(dir: &Path, bin: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(binary(bin));
    cmd.current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .env_remove("FIOCTL_TOKEN")
        .env_remove("OSF_TOKEN")
        .env_remove("RUST_BACKTRACE")
        .env("FIOCTL_CONFIG", dir.join("no-fioctl-config.yaml"))
        .env("HOME", dir)
        .env("TUF_CEREMONY_TEST_SCRYPT_LOG_N", LOG_N);
    cmd
}

/// Status and both streams, for messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[track_caller]
pub fn ok(out: &Output) {
    assert!(out.status.success(), "{}", text(out));
}

/// sha256 over every file's relative path, type and contents, recursively
/// (symbolic links by their target, never followed).
pub fn hash_dir(dir: &Path) -> String {
    let mut m = BTreeMap::new();
    walk(dir, dir, &mut m);
    hex::encode(Sha256::digest(serde_json::to_vec(&m).unwrap()))
}

/// The files of a folder, by relative path: "dir", "link -> target" or the
/// sha256 of the contents.
pub fn list_dir(dir: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    walk(dir, dir, &mut m);
    m
}

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

/// Copies a folder tree (files, folders and symbolic links).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &target).unwrap();
        } else if ft.is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A real ceremony's files, made by the binaries in `dir`:
///
/// * `repo/metadata/1.root.json` and `root.json`: a TUF root, threshold 1
///   of 1 Ed25519 root key (made by `tuf-repo-init`); the plain PEM is
///   removed from the folder once imported;
/// * `pass.txt`, `keys.tgz.age` (`signer import --key`);
/// * `proposal.json` (`submitter propose --repo repo/metadata --rotate-all`);
/// * `bundle.json`, `bundle.transcript.jsonl`, `new.tgz.age` (`signer sign`);
/// * `pubkey.json`, `kg.tgz.age` (`signer keygen`).
pub struct Fixture {
    /// Holds everything.
    pub dir: tempfile::TempDir,
    /// The root key, for crafting signed roots.
    pub root_key: PrivateKey,
    /// Strings that must never be printed: the passphrase and the private
    /// key material, in the forms the files hold it.
    pub secrets: Vec<String>,
}

impl Fixture {
    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A file of the fixture.
    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path().join(name)).unwrap()
    }

    /// A JSON file of the fixture, parsed (key order kept).
    pub fn json(&self, name: &str) -> Value {
        serde_json::from_slice(&self.read(name)).unwrap()
    }
}

/// Makes a [`Fixture`] (about a second: one `signer sign`).
pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = Command::new(binary("tuf-repo-init"))
        .arg(d.join("repo"))
        .output()
        .unwrap();
    ok(&out);
    std::fs::write(d.join("pass.txt"), format!("{PASSPHRASE}\n")).unwrap();
    let pem_path = std::fs::read_dir(d.join("repo/keys"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let pem = std::fs::read_to_string(&pem_path).unwrap();
    let root_key = PrivateKey::from_pkcs8_pem(&pem).unwrap();
    ok(&run_in(
        d,
        "signer",
        &[
            "import",
            "--key",
            pem_path.to_str().unwrap(),
            "-o",
            "keys.tgz.age",
            "--passphrase-file",
            "pass.txt",
        ],
    ));
    std::fs::remove_dir_all(d.join("repo/keys")).unwrap();
    ok(&run_in(
        d,
        "submitter",
        &[
            "propose",
            "--repo",
            "repo/metadata",
            "--rotate-all",
            "-o",
            "proposal.json",
        ],
    ));
    ok(&run_in(
        d,
        "signer",
        &[
            "sign",
            "proposal.json",
            "--keys",
            "keys.tgz.age",
            "-o",
            "bundle.json",
            "--new-archive",
            "new.tgz.age",
            "--passphrase-file",
            "pass.txt",
            "--yes",
        ],
    ));
    ok(&run_in(
        d,
        "signer",
        &[
            "keygen",
            "--keys",
            "keys.tgz.age",
            "-o",
            "pubkey.json",
            "--new-archive",
            "kg.tgz.age",
            "--passphrase-file",
            "pass.txt",
        ],
    ));
    let mut secrets = vec![PASSPHRASE.to_string()];
    let ats: Value = serde_json::from_str(&root_key.to_ats_private_json().unwrap()).unwrap();
    if let Some(p) = ats["keyval"]["private"].as_str() {
        secrets.push(p.to_string());
        // Half of it is still a leak.
        secrets.push(p[..p.len() / 2].to_string());
    }
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        secrets.push(line.to_string());
    }
    Fixture {
        dir,
        root_key,
        secrets,
    }
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
    let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    out
}

/// age-encrypts `plain` to a fresh X25519 identity (whose secret is lost).
pub fn age_encrypt_x25519(plain: &[u8]) -> Vec<u8> {
    let id = age::x25519::Identity::generate();
    let r = id.to_public();
    let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    out
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
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
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

/// Pretty JSON bytes with a final newline, as the tools write them.
pub fn pretty(v: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).unwrap();
    out.push(b'\n');
    out
}

/// The workspace's target binary folder (for the PATH of scripts).
pub fn bin_dir() -> PathBuf {
    binary("signer").parent().unwrap().to_path_buf()
}
