//! Each of these must end with a clear error, a non-zero exit status, and no
//! file written or changed (the folder is hashed before and after): a wrong
//! passphrase, a truncated or corrupted archive, a tarball with `../x`, an
//! absolute path or a symlink, a proposal whose current root this archive's
//! keys did not sign, a proposal asking for a version jump, a proposal whose
//! current root differs from the archive's trust anchor.

use std::path::Path;
use std::process::Output;

use ceremony_tests::prelude::*;

/// A folder with keys.tgz.age (Ed25519 first-root key), pass.txt, and a
/// Factory at v1 signed by that key.
struct Setup {
    dir: tempfile::TempDir,
    f: OtaFactory,
}

impl Setup {
    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let f = OtaFactory::new(false);
    f.import(dir.path(), Vec::new());
    Setup { dir, f }
}

fn good_proposal(s: &Setup) {
    write_proposal(s.path(), "proposal.json", &s.f.rotation());
}

fn sign_args() -> Vec<String> {
    SignArgs::new().to_vec()
}

/// Runs `args` and checks: exit status `code`, stderr mentions every word
/// of `words`, and the folder is byte for byte as before.
#[track_caller]
fn refused<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S], code: i32, words: &[&str]) -> Output {
    let before = hash_dir(dir);
    let out = signer(dir, args);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(code), "{t}");
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    for w in words {
        assert!(stderr.contains(&w.to_lowercase()), "missing {w:?} in\n{t}");
    }
    assert!(!stderr.contains("panicked"), "{t}");
    assert_eq!(hash_dir(dir), before, "the folder changed:\n{t}");
    out
}

#[test]
fn wrong_passphrase() {
    // This archive is made with the signer's default work factor.
    let dir = tempfile::tempdir().unwrap();
    let f = OtaFactory::new(false);
    f.write_tgz(dir.path(), Vec::new());
    write_passphrase(dir.path());
    ok(&signer_full_cost(dir.path(), IMPORT));
    std::fs::write(dir.path().join("wrong.txt"), "not the passphrase\n").unwrap();
    refused(
        dir.path(),
        &["list", "keys.tgz.age", "--passphrase-file", "wrong.txt"],
        1,
        &["wrong passphrase"],
    );
    write_proposal(dir.path(), "proposal.json", &f.rotation());
    let args = SignArgs::new().passphrase_file(Some("wrong.txt")).to_vec();
    refused(dir.path(), &args, 1, &["wrong passphrase", "keys.tgz.age"]);
}

#[test]
fn truncated_archive() {
    let s = setup();
    good_proposal(&s);
    let full = std::fs::read(s.path().join("keys.tgz.age")).unwrap();
    for cut in [full.len() - 17, full.len() / 2, 40] {
        std::fs::write(s.path().join("keys.tgz.age"), &full[..cut]).unwrap();
        refused(s.path(), &sign_args(), 1, &["keys.tgz.age"]);
        refused(
            s.path(),
            &["list", "keys.tgz.age", "--passphrase-file", "pass.txt"],
            1,
            &[],
        );
    }
    let out = signer(
        s.path(),
        ["list", "keys.tgz.age", "--passphrase-file", "pass.txt"],
    );
    assert!(!out.status.success());
}

#[test]
fn corrupted_archive() {
    let s = setup();
    good_proposal(&s);
    let full = std::fs::read(s.path().join("keys.tgz.age")).unwrap();
    // A byte of the payload, then a byte of the header's MAC line region.
    for at in [full.len() - 30, full.len() / 2, 50] {
        let mut bad = full.clone();
        bad[at] ^= 0x41;
        std::fs::write(s.path().join("keys.tgz.age"), &bad).unwrap();
        let out = refused(s.path(), &sign_args(), 1, &[]);
        let e = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            e.contains("damaged") || e.contains("wrong passphrase") || e.contains("not a readable"),
            "{e}"
        );
    }
}

/// A tar whose one entry has a raw `name` and `kind`, bypassing the tar
/// crate's own checks.
fn raw_tgz(path: &Path, name: &str, kind: tar::EntryType, link: Option<&str>) {
    let mut h = tar::Header::new_gnu();
    {
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            gnu.linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
    }
    h.set_entry_type(kind);
    h.set_size(if kind == tar::EntryType::Regular {
        3
    } else {
        0
    });
    h.set_mode(0);
    h.set_cksum();
    let mut t = Vec::new();
    {
        let mut b = tar::Builder::new(&mut t);
        let k = key(false);
        for (n, d) in ats_pair("first-root", &k) {
            let mut hh = tar::Header::new_gnu();
            hh.set_size(d.len() as u64);
            b.append_data(&mut hh, n, &d[..]).unwrap();
        }
        let data: &[u8] = if kind == tar::EntryType::Regular {
            b"abc"
        } else {
            b""
        };
        b.append(&h, data).unwrap();
        b.finish().unwrap();
    }
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&t).unwrap();
    std::fs::write(path, gz.finish().unwrap()).unwrap();
}

#[test]
fn hostile_tarballs() {
    let dir = tempfile::tempdir().unwrap();
    write_passphrase(dir.path());
    for (name, kind, link, word) in [
        ("../x", tar::EntryType::Regular, None, ".."),
        ("tufrepo/../../x", tar::EntryType::Regular, None, ".."),
        ("/etc/x", tar::EntryType::Regular, None, "absolute"),
        (
            "tufrepo/keys/evil.sec",
            tar::EntryType::Symlink,
            Some("/etc/shadow"),
            "symbolic link",
        ),
        (
            "tufrepo/keys/hard.sec",
            tar::EntryType::Link,
            Some("tufrepo/keys/first-root.sec"),
            "hard link",
        ),
        ("tufrepo/dev", tar::EntryType::Block, None, "device"),
    ] {
        raw_tgz(&dir.path().join("bad.tgz"), name, kind, link);
        let out = refused(
            dir.path(),
            &[
                "import",
                "bad.tgz",
                "-o",
                "keys.tgz.age",
                "--passphrase-file",
                "pass.txt",
            ],
            1,
            &[name, word],
        );
        assert!(!dir.path().join("keys.tgz.age").exists(), "{}", text(&out));
    }
}

#[test]
fn proposal_for_a_root_this_archive_did_not_sign() {
    let s = setup();
    let stranger = key(false);
    let mut ci = ota_root(
        1,
        &[stranger.public_key()],
        1,
        &key(false).public_key(),
        &in_days(300),
    );
    sign_root(&mut ci, &[&stranger]);
    let id = ci.find_key_id(&stranger.public_key()).unwrap();
    write_proposal(
        s.path(),
        "proposal.json",
        &factory_proposal(&ci, &ci, rotate_change(vec![id])),
    );
    refused(
        s.path(),
        &sign_args(),
        3,
        &[
            "none of the",
            "did not sign",
            &stranger.public_key().fingerprint(),
        ],
    );
}

#[test]
fn proposal_current_root_not_self_signed() {
    let s = setup();
    let mut p = factory_proposal(
        &s.f.ci,
        &s.f.ci,
        rotate_change(vec![s.f.root_key.public_key().fingerprint()]),
    );
    // The same root with its signature dropped.
    p.chains[0].current["signatures"] = serde_json::json!([]);
    write_proposal(s.path(), "proposal.json", &p);
    refused(
        s.path(),
        &sign_args(),
        3,
        &["does not verify", "new-threshold"],
    );
    refused(
        s.path(),
        &["review", "proposal.json"],
        3,
        &["does not verify"],
    );
}

#[test]
fn proposal_with_a_version_jump() {
    let s = setup();
    let id = s.f.root_key_id();
    let mut p = factory_proposal(&s.f.ci, &s.f.ci, rotate_change(vec![id]));
    p.chains[0].staged.as_mut().unwrap()["signed"]["version"] = 3.into();
    write_proposal(s.path(), "proposal.json", &p);
    refused(
        s.path(),
        &sign_args(),
        3,
        &["version 3", "exactly version 2"],
    );
}

#[test]
fn proposal_differs_from_the_trust_anchor() {
    // An archive whose anchor for ci is a v1 root; the proposal's current
    // v1 is another root (same key, other expiry): someone else's root.
    let root_key = key(false);
    let online = key(false).public_key();
    let mut anchor = ota_root(1, &[root_key.public_key()], 1, &online, &in_days(300));
    sign_root(&mut anchor, &[&root_key]);
    let mut other = ota_root(1, &[root_key.public_key()], 1, &online, &in_days(200));
    sign_root(&mut other, &[&root_key]);

    let dir = tempfile::tempdir().unwrap();
    let mut files = ats_pair("first-root", &root_key);
    files.push((
        "tuf-ceremony/anchors/ci.root.json".into(),
        anchor.to_bytes(),
    ));
    write_fioctl_tgz(&dir.path().join("factory-keys.tgz"), &files);
    write_passphrase(dir.path());
    ok(&signer(dir.path(), IMPORT));
    let id = other.find_key_id(&root_key.public_key()).unwrap();
    write_proposal(
        dir.path(),
        "proposal.json",
        &factory_proposal(&other, &other, rotate_change(vec![id.clone()])),
    );
    refused(
        dir.path(),
        &sign_args(),
        3,
        &["differs from", "trust anchor"],
    );

    // An older root than the anchor (a rollback) is refused too, and a
    // jump past the anchor without the roots in between.
    let mut v2 = ota_root(2, &[root_key.public_key()], 1, &online, &in_days(300));
    sign_root(&mut v2, &[&root_key]);
    let mut v3 = ota_root(3, &[root_key.public_key()], 1, &online, &in_days(300));
    sign_root(&mut v3, &[&root_key]);
    let mut p = factory_proposal(&v3, &v3, rotate_change(vec![id]));
    p.chains.truncate(1);
    write_proposal(dir.path(), "proposal.json", &p);
    refused(dir.path(), &sign_args(), 3, &["v2..v2", "--roots-dir"]);

    // With the root in between, the chain anchor v1 -> v2 -> v3 is checked
    // and signing goes ahead; a v2 that does not follow is refused.
    std::fs::create_dir(dir.path().join("roots")).unwrap();
    let mut bad_v2 = ota_root(2, &[key(false).public_key()], 1, &online, &in_days(300));
    sign_root(&mut bad_v2, &[]);
    std::fs::write(dir.path().join("roots/2.root.json"), bad_v2.to_bytes()).unwrap();
    let args = SignArgs::new().extra(["--roots-dir", "roots"]).to_vec();
    refused(dir.path(), &args, 3, &["v2 does not follow from v1"]);
    std::fs::write(dir.path().join("roots/2.root.json"), v2.to_bytes()).unwrap();
    let out = ok(&signer(dir.path(), &args));
    assert!(
        out.contains("chains from this archive's trust anchor v1"),
        "{out}"
    );
}

#[test]
fn existing_targets_are_never_overwritten() {
    let s = setup();
    good_proposal(&s);
    std::fs::write(s.path().join("new.tgz.age"), b"precious").unwrap();
    refused(s.path(), &sign_args(), 1, &["exists already"]);
    std::fs::remove_file(s.path().join("new.tgz.age")).unwrap();
    std::fs::write(s.path().join("bundle.json"), b"precious").unwrap();
    refused(s.path(), &sign_args(), 1, &["exists already"]);
    refused(s.path(), &IMPORT, 1, &["exists already"]);
}

#[test]
fn export_needs_plaintext_flag() {
    let s = setup();
    refused(
        s.path(),
        &[
            "export",
            "keys.tgz.age",
            "-o",
            "plain.tgz",
            "--passphrase-file",
            "pass.txt",
        ],
        2,
        &["--plaintext"],
    );
}

#[test]
fn no_confirmation_without_a_terminal() {
    let s = setup();
    good_proposal(&s);
    // No --yes: first use asks before any key is generated, so nothing is
    // written.
    let args = SignArgs::new().no_yes().to_vec();
    refused(s.path(), &args, 1, &["terminal", "--yes"]);
}
