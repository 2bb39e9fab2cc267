//! `signer export` writes tarballs fioctl can use (issue 13 item 5): fioctl
//! refuses a keys tarball holding more than one active private key for a
//! role (`findTufSigners`), so after a rotation to three root keys the
//! export is refused without a choice, `--each DIR` writes one tarball per
//! active key, `--key ID` one tarball with that key; inactive keys (the
//! first root key) stay in each, and nothing is overwritten.
//!
//! The tarballs are checked by a reader written here from fioctl's rules,
//! not by the signer's keystore.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ceremony::bundle::Bundle;
use ceremony::proposal::{Change, Rotate};
use ceremony_tests::prelude::*;
use serde_json::Value;

/// A Factory rotated from its first root key to three new ones: the archive
/// `keys2.tgz.age` holds the first key (now inactive) and the three.
/// Returns the new CI root's envelope and the first key's id.
fn three_key_archive(dir: &Path) -> (Value, String) {
    let f = OtaFactory::new(false);
    f.import(dir, Vec::new());
    let change = Change {
        rotate: Some(Rotate::Keys(vec![f.root_key_id()])),
        add_keys: 2,
        expires: in_days(365),
        message: Some("three holders".into()),
        ..Change::default()
    };
    write_proposal(
        dir,
        "proposal.json",
        &factory_proposal(&f.ci, &f.ci, change),
    );
    ok(&signer(
        dir,
        SignArgs::new()
            .new_archive(Some("keys2.tgz.age"))
            .passphrase_file(Some("pass.txt")),
    ));
    let bundle = Bundle::from_slice(&std::fs::read(dir.join("bundle.json")).unwrap()).unwrap();
    let ci = bundle.root(&bundle.roots[0]).unwrap();
    assert_eq!(ci.role("root").unwrap().keyids.len(), 3);
    (ci.envelope().clone(), f.root_key_id())
}

/// fioctl's `findTufSigners`, from its source: for every `*.pub` file, the
/// AtsKey's `keyval.public` (trimmed) matched against the public keys the
/// root lists for the role; a match needs the `.sec` beside it, of the same
/// key type. Returns the matching key ids.
fn fioctl_signers(files: &BTreeMap<String, Vec<u8>>, root: &Value, role: &str) -> Vec<String> {
    let signed = &root["signed"];
    let wanted: BTreeMap<String, (String, String)> = signed["roles"][role]["keyids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| {
            let id = id.as_str().unwrap();
            let k = &signed["keys"][id];
            (
                k["keyval"]["public"].as_str().unwrap().trim().to_string(),
                (id.to_string(), k["keytype"].as_str().unwrap().to_string()),
            )
        })
        .collect();
    let mut found = Vec::new();
    for (name, bytes) in files {
        let Some(stem) = name.strip_suffix(".pub") else {
            continue;
        };
        let key: Value = serde_json::from_slice(bytes).unwrap();
        let probe = key["keyval"]["public"].as_str().unwrap().trim();
        let Some((id, keytype)) = wanted.get(probe) else {
            continue;
        };
        let sec: Value = serde_json::from_slice(&files[&format!("{stem}.sec")]).unwrap();
        assert_eq!(sec["keytype"].as_str().unwrap(), keytype, "{name}");
        assert!(sec["keyval"]["private"].is_string(), "{name}");
        found.push(id.clone());
    }
    found
}

fn export(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "export",
        "keys2.tgz.age",
        "--plaintext",
        "--passphrase-file",
        "pass.txt",
    ];
    all.extend_from_slice(args);
    signer(dir, all)
}

#[test]
fn three_active_keys_are_refused_without_a_choice() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (root, _) = three_key_archive(d);
    let out = export(d, &["-o", "all.tgz"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("3 active root keys"), "{t}");
    for id in root["signed"]["roles"]["root"]["keyids"]
        .as_array()
        .unwrap()
    {
        assert!(t.contains(id.as_str().unwrap()), "{t}");
    }
    assert!(t.contains("--key KEYID") && t.contains("--each DIR"), "{t}");
    assert!(!d.join("all.tgz").exists());
}

#[test]
fn each_writes_one_tarball_per_active_key_with_the_old_key_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (root, first_id) = three_key_archive(d);
    let ok_out = ok(&export(d, &["--each", "holders"]));
    let mut seen = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(d.join("holders"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?} {ok_out}");
    for name in &names {
        let path = d.join("holders").join(name);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}");
        let files = tgz_entries(&std::fs::read(&path).unwrap());
        let active = fioctl_signers(&files, &root, "root");
        assert_eq!(active.len(), 1, "{name}: {active:?}");
        assert_eq!(name, &format!("{}.tgz", active[0]));
        assert!(files.contains_key(&format!("tufrepo/keys/fioctl-root-{}.sec", active[0])));
        // The first root key, no longer in the root, is kept as fioctl keeps it.
        assert!(files.contains_key("tufrepo/keys/first-root.sec"), "{name}");
        assert!(files.contains_key("tufrepo/keys/first-root.pub"), "{name}");
        assert!(!root["signed"]["keys"]
            .as_object()
            .unwrap()
            .contains_key(&first_id));
        seen.push(active[0].clone());
    }
    seen.sort();
    let mut ids: Vec<String> = root["signed"]["roles"]["root"]["keyids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(seen, ids);
    // A holder's tarball imports again as an archive of its own.
    let first = format!("holders/{}", names[0]);
    ok(&signer(
        d,
        [
            "import",
            &first,
            "-o",
            "holder.tgz.age",
            "--passphrase-file",
            "pass.txt",
        ],
    ));
}

#[test]
fn key_writes_one_tarball_with_that_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (root, _) = three_key_archive(d);
    let id = root["signed"]["roles"]["root"]["keyids"][1]
        .as_str()
        .unwrap()
        .to_string();
    ok(&export(d, &["--key", &id[..12], "-o", "one.tgz"]));
    let files = tgz_entries(&std::fs::read(d.join("one.tgz")).unwrap());
    assert_eq!(fioctl_signers(&files, &root, "root"), vec![id]);
    // A key that is not active is refused.
    let out = export(d, &["--key", "0123456789abcdef", "-o", "two.tgz"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!d.join("two.tgz").exists());
}

#[test]
fn nothing_is_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (root, _) = three_key_archive(d);
    let id = root["signed"]["roles"]["root"]["keyids"][2]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::create_dir(d.join("holders")).unwrap();
    std::fs::write(d.join(format!("holders/{id}.tgz")), b"kept").unwrap();
    let out = export(d, &["--each", "holders"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    // All or none: the other two are not written either.
    assert_eq!(std::fs::read_dir(d.join("holders")).unwrap().count(), 1);
    assert_eq!(
        std::fs::read(d.join(format!("holders/{id}.tgz"))).unwrap(),
        b"kept"
    );
    std::fs::write(d.join("one.tgz"), b"kept").unwrap();
    let out = export(d, &["--key", &id, "-o", "one.tgz"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(std::fs::read(d.join("one.tgz")).unwrap(), b"kept");
}

#[test]
fn one_active_key_exports_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = OtaFactory::new(false);
    f.import(d, Vec::new());
    // No anchor yet: the archive cannot tell, and its one root key is active.
    ok(&signer(
        d,
        [
            "export",
            "keys.tgz.age",
            "-o",
            "out.tgz",
            "--plaintext",
            "--passphrase-file",
            "pass.txt",
        ],
    ));
    let files = tgz_entries(&std::fs::read(d.join("out.tgz")).unwrap());
    assert_eq!(
        fioctl_signers(&files, f.ci.envelope(), "root"),
        vec![f.root_key_id()]
    );
}
