//! Fixtures for the signer's end-to-end tests: fioctl-style key tarballs
//! (mode 0 headers, random order, no directories), ota-tuf roots built and
//! signed with the library, proposals made by hand, and a way to run the
//! binary and to fingerprint a folder.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use age::secrecy::SecretString;
use ceremony::keys::{NewKeyType, PrivateKey, PublicKey};
use ceremony::proposal::{Chain, Change, HistoryEntry, Proposal, Rotate, Target, PROPOSAL_FORMAT};
use ceremony::root::format_expires;
use ceremony::{Dialect, RootMetadata};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

pub const PASSPHRASE: &str = "correct horse battery staple";

pub fn signer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_signer"))
}

/// Runs the signer with `args` in `dir`, with a low scrypt work factor for
/// new archives (a debug-build-only knob; decrypting is unaffected).
pub fn run(dir: &Path, args: &[&str]) -> Output {
    signer()
        .current_dir(dir)
        .env("TUF_CEREMONY_TEST_SCRYPT_LOG_N", "10")
        .args(args)
        .output()
        .expect("signer runs")
}

/// Runs the signer with age's own (calibrated, slow) scrypt work factor.
pub fn run_full_cost(dir: &Path, args: &[&str]) -> Output {
    signer()
        .current_dir(dir)
        .env_remove("TUF_CEREMONY_TEST_SCRYPT_LOG_N")
        .args(args)
        .output()
        .expect("signer runs")
}

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[track_caller]
pub fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", text(out));
    text(out)
}

pub fn write_passphrase(dir: &Path) -> PathBuf {
    let p = dir.join("pass.txt");
    std::fs::write(&p, format!("{PASSPHRASE}\n")).unwrap();
    p
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

/// The `.pub`/`.sec` pair of a key under `tufrepo/keys/<stem>`.
pub fn ats_pair(stem: &str, key: &PrivateKey) -> Vec<(String, Vec<u8>)> {
    vec![
        (
            format!("tufrepo/keys/{stem}.pub"),
            key.to_ats_public_json().into_bytes(),
        ),
        (
            format!("tufrepo/keys/{stem}.sec"),
            key.to_ats_private_json().unwrap().as_bytes().to_vec(),
        ),
    ]
}

pub fn in_days(days: i64) -> String {
    format_expires(OffsetDateTime::now_utc() + Duration::days(days))
}

/// An unsigned ota-tuf root: `root_keys` (threshold `threshold`) for the
/// root role, `online` for the other three.
pub fn ota_root(
    version: u64,
    root_keys: &[PublicKey],
    threshold: u64,
    online: &PublicKey,
    expires: &str,
) -> RootMetadata {
    let d = Dialect::OtaTuf;
    let mut keys = serde_json::Map::new();
    for k in root_keys.iter().chain([online]) {
        keys.insert(k.key_id(d), k.to_key_object(d));
    }
    let online_role = json!({"keyids": [online.key_id(d)], "threshold": 1});
    let env = json!({
        "signatures": [],
        "signed": {
            "_type": "Root",
            "consistent_snapshot": false,
            "expires": expires,
            "keys": keys,
            "roles": {
                "root": {"keyids": root_keys.iter().map(|k| k.key_id(d)).collect::<Vec<_>>(), "threshold": threshold},
                "snapshot": online_role,
                "targets": online_role,
                "timestamp": online_role,
            },
            "version": version,
        }
    });
    RootMetadata::from_value(env, d).unwrap()
}

pub fn sign_root(root: &mut RootMetadata, keys: &[&PrivateKey]) {
    for k in keys {
        let id = root.find_key_id(&k.public_key()).unwrap();
        root.sign(&id, k).unwrap();
    }
}

/// A Factory proposal: ci and prod chains (same current v1), the server's
/// staged ci v2 (a copy of v1 with its changelog), and `change`.
pub fn factory_proposal(ci: &RootMetadata, prod: &RootMetadata, change: Change) -> Proposal {
    let mut staged = ci.clone();
    staged.set_version(ci.version().unwrap() + 1);
    staged.set_extension(
        "x-changelog",
        json!({"message": "rotate root key", "timestamp": format_expires(OffsetDateTime::now_utc())}),
    );
    staged.clear_signatures();
    Proposal {
        format: PROPOSAL_FORMAT.into(),
        dialect: Dialect::OtaTuf,
        target: Target::Factory {
            factory: "acme".into(),
            api: "https://api.foundries.io".into(),
        },
        txid: Some("tx-1".into()),
        created: format_expires(OffsetDateTime::now_utc()),
        chains: vec![
            Chain {
                name: "ci".into(),
                current: ci.envelope().clone(),
                staged: Some(staged.envelope().clone()),
                history: vec![HistoryEntry {
                    version: ci.version().unwrap(),
                    sha256: hex::encode(Sha256::digest(ci.to_bytes())),
                }],
            },
            Chain {
                name: "prod".into(),
                current: prod.envelope().clone(),
                staged: None,
                history: vec![],
            },
        ],
        change,
        polis_id: None,
    }
}

pub fn rotate_change(ids: Vec<String>) -> Change {
    Change {
        rotate: Some(Rotate::Keys(ids)),
        expires: in_days(365),
        message: Some("yearly rotation".into()),
        ..Change::default()
    }
}

pub fn write_proposal(dir: &Path, name: &str, p: &Proposal) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, p.to_bytes()).unwrap();
    path
}

/// sha256 over every file's relative path and contents, recursively.
pub fn hash_dir(dir: &Path) -> String {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                out.insert(rel.clone(), "dir".into());
                walk(base, &p, out);
            } else {
                out.insert(rel, hex::encode(Sha256::digest(std::fs::read(&p).unwrap())));
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(dir, dir, &mut m);
    hex::encode(Sha256::digest(serde_json::to_vec(&m).unwrap()))
}

/// Decrypts an archive with the test passphrase (the age crate, as `age -d`
/// would) and returns its entries.
pub fn decrypt_archive(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let ct = std::fs::read(path).unwrap();
    let d = age::Decryptor::new_buffered(&ct[..]).unwrap();
    let id = age::scrypt::Identity::new(SecretString::from(PASSPHRASE.to_owned()));
    let mut r = d
        .decrypt(std::iter::once(&id as &dyn age::Identity))
        .unwrap();
    let mut gz = Vec::new();
    r.read_to_end(&mut gz).unwrap();
    tgz_entries(&gz)
}

pub fn tgz_entries(gz: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut tar_bytes)
        .unwrap();
    let mut a = tar::Archive::new(&tar_bytes[..]);
    let mut out = BTreeMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        assert_eq!(e.header().entry_type(), tar::EntryType::Regular);
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        assert!(out.insert(name, data).is_none(), "duplicate entry");
    }
    out
}

/// An Ed25519 or RSA-2048 key.
pub fn key(rsa: bool) -> PrivateKey {
    if rsa {
        PrivateKey::generate_rsa_for_tests(2048).unwrap()
    } else {
        PrivateKey::generate(NewKeyType::Ed25519).unwrap()
    }
}

/// Whether the canonical bytes are the form aktualizr computes (jsoncpp:
/// sorted keys, no spaces, `\n` etc. escaped, every non-ASCII as `\uXXXX`),
/// built here independently of the library.
pub fn aktualizr_canonical(v: &Value) -> Vec<u8> {
    fn s(out: &mut String, text: &str) {
        out.push('"');
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                    let mut buf = [0u16; 2];
                    for u in c.encode_utf16(&mut buf) {
                        out.push_str(&format!("\\u{u:04x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
    fn w(out: &mut String, v: &Value) {
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::String(t) => s(out, t),
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    w(out, x);
                }
                out.push(']');
            }
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    s(out, k);
                    out.push(':');
                    w(out, &m[*k]);
                }
                out.push('}');
            }
        }
    }
    let mut out = String::new();
    w(&mut out, v);
    out.into_bytes()
}

/// A one-key Factory whose keys are already imported into `dir/keys.tgz.age`
/// and a proposal to rotate that key in `dir/proposal.json`; returns the
/// passphrase file's path.
#[allow(dead_code)] // not every test file uses every helper
pub fn imported_factory_with_proposal(dir: &Path, rsa: bool) -> String {
    let root_key = key(rsa);
    let online = key(false).public_key();
    let mut ci = ota_root(1, &[root_key.public_key()], 1, &online, &in_days(300));
    sign_root(&mut ci, &[&root_key]);
    let prod = ci.clone();
    write_fioctl_tgz(
        &dir.join("factory-keys.tgz"),
        &ats_pair("tufrepo/keys/first-root", &root_key),
    );
    let pass = write_passphrase(dir).display().to_string();
    ok(&run(
        dir,
        &[
            "import",
            "factory-keys.tgz",
            "-o",
            "keys.tgz.age",
            "--passphrase-file",
            &pass,
        ],
    ));
    let old_id = ci.find_key_id(&root_key.public_key()).unwrap();
    write_proposal(
        dir,
        "proposal.json",
        &factory_proposal(&ci, &prod, rotate_change(vec![old_id])),
    );
    pass
}
