//! The submitter on TUF repositories (folders), with bundles made
//! in-process: atomic, never-replacing uploads; partial bundles and
//! `merge`; `show`; refusals and usage errors; histories that do not hold.

use std::path::{Path, PathBuf};

use ceremony::keys::{NewKeyType, PrivateKey};
use ceremony::pubkey::PubkeyFile;
use ceremony_tests::harness::{put_server, run, Ran};
use ceremony_tests::minisign::make_bundle;
use ceremony_tests::{binary, python_histories};
use serde_json::Value;

fn submitter(cwd: &Path, args: &[&str]) -> Ran {
    run("submitter", cwd, args, &[])
}

/// `tuf-repo-init DIR --keys N --threshold K`; returns the root keys, in the
/// order the root lists them.
fn repo_init(dir: &Path, keys: u32, threshold: u32) -> Vec<(String, PrivateKey)> {
    let out = std::process::Command::new(binary("tuf-repo-init"))
        .arg(dir)
        .args([
            "--keys",
            &keys.to_string(),
            "--threshold",
            &threshold.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root: Value =
        serde_json::from_slice(&std::fs::read(dir.join("metadata/1.root.json")).unwrap()).unwrap();
    root["signed"]["roles"]["root"]["keyids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| {
            let id = id.as_str().unwrap().to_string();
            let pem = std::fs::read_to_string(dir.join(format!("keys/{id}.pem"))).unwrap();
            (id, PrivateKey::from_pkcs8_pem(&pem).unwrap())
        })
        .collect()
}

fn write_bundle(path: &Path, b: &ceremony::bundle::Bundle) -> PathBuf {
    std::fs::write(path, b.to_bytes()).unwrap();
    path.to_path_buf()
}

#[test]
fn folder_upload_is_atomic_repeatable_and_never_replaces() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let keys = repo_init(&dir.join("repo"), 1, 1);
    let meta = dir.join("repo/metadata");
    let p = submitter(
        dir,
        &[
            "propose",
            "--repo",
            "repo",
            "--rotate-all",
            "-o",
            "proposal.json",
        ],
    );
    p.expect(0, "propose");
    assert!(p.stderr.contains("dialect tuf, detected"), "{}", p.all());
    let proposal: Value =
        serde_json::from_slice(&std::fs::read(dir.join("proposal.json")).unwrap()).unwrap();
    assert_eq!(proposal["target"]["kind"], "tuf-dir");
    assert_eq!(
        proposal["chains"][0]["history"].as_array().unwrap().len(),
        1
    );

    let new = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
    write_bundle(
        &dir.join("bundle.json"),
        &make_bundle(&dir.join("proposal.json"), &[&keys[0].1], &[&new], None),
    );
    let u = submitter(dir, &["upload", "bundle.json"]);
    u.expect(0, "upload");
    assert!(u.stdout.contains("uploaded"), "{}", u.all());
    let v2 = std::fs::read(meta.join("2.root.json")).unwrap();
    assert_eq!(
        std::fs::read(meta.join("root.json")).unwrap(),
        v2,
        "root.json is the new root"
    );
    // No temporary file is left behind.
    for e in std::fs::read_dir(&meta).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            name.ends_with(".root.json") || name == "root.json",
            "left over: {name}"
        );
    }
    // Again: nothing to do.
    let again = submitter(dir, &["upload", "bundle.json"]);
    again.expect(0, "upload again");
    assert!(again.stdout.contains("already uploaded"), "{}", again.all());

    // Another signing of the same proposal (another new key) must not replace v2.
    let other = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
    write_bundle(
        &dir.join("other.json"),
        &make_bundle(&dir.join("proposal.json"), &[&keys[0].1], &[&other], None),
    );
    let r = submitter(dir, &["upload", "other.json"]);
    r.expect(3, "a different v2 exists");
    assert!(
        r.stderr.contains("already exists and is another root"),
        "{}",
        r.all()
    );
    assert_eq!(
        std::fs::read(meta.join("2.root.json")).unwrap(),
        v2,
        "v2 untouched"
    );

    // The audit holds; the next rotation starts from v2.
    submitter(dir, &["audit", "--repo", meta.to_str().unwrap()]).expect(0, "audit");
    submitter(
        dir,
        &[
            "propose",
            "--repo",
            "repo/metadata",
            "--rotate-all",
            "-o",
            "p3.json",
        ],
    )
    .expect(0, "propose v3");
    let p3: Value = serde_json::from_slice(&std::fs::read(dir.join("p3.json")).unwrap()).unwrap();
    assert_eq!(p3["chains"][0]["current"]["signed"]["version"], 2);
    assert_eq!(p3["chains"][0]["history"].as_array().unwrap().len(), 2);
    // With --trusted the walk starts after the trusted root.
    submitter(
        dir,
        &[
            "propose",
            "--repo",
            "repo/metadata",
            "--trusted",
            "repo/metadata/1.root.json",
            "-o",
            "p4.json",
        ],
    )
    .expect(0, "propose with --trusted");
}

#[test]
fn partial_bundles_are_refused_and_merge_into_a_complete_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let keys = repo_init(&dir.join("repo"), 3, 2);
    // Rotate the first key, by a unique prefix as reports print it.
    let prefix = &keys[0].0[..16];
    submitter(
        dir,
        &[
            "propose",
            "--repo",
            "repo/metadata",
            "--rotate",
            prefix,
            "-o",
            "proposal.json",
        ],
    )
    .expect(0, "propose");
    let new = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
    let prop = dir.join("proposal.json");
    // Alice holds k1 and the new key; Bob holds k2.
    let a = make_bundle(&prop, &[&keys[0].1], &[&new], None);
    let b = make_bundle(&prop, &[&keys[1].1], &[&new], Some(&[]));
    assert!(!a.complete && !b.complete);
    write_bundle(&dir.join("alice.json"), &a);
    write_bundle(&dir.join("bob.json"), &b);
    let r = submitter(dir, &["upload", "alice.json"]);
    r.expect(3, "partial");
    assert!(r.stderr.contains("submitter merge"), "{}", r.all());
    assert!(!dir.join("repo/metadata/2.root.json").exists());

    let m = submitter(
        dir,
        &["merge", "alice.json", "bob.json", "-o", "bundle.json"],
    );
    m.expect(0, "merge");
    assert!(m.stdout.contains("complete"), "{}", m.all());
    let merged: Value =
        serde_json::from_slice(&std::fs::read(dir.join("bundle.json")).unwrap()).unwrap();
    assert_eq!(merged["complete"], true);
    assert_eq!(
        merged["roots"][0]["root"]["signatures"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let s = submitter(dir, &["show", "bundle.json"]);
    s.expect(0, "show merged");
    assert!(
        s.stdout.contains("complete, every rule holds"),
        "{}",
        s.all()
    );
    submitter(dir, &["upload", "bundle.json"]).expect(0, "upload merged");
    submitter(dir, &["audit", "--repo", "repo/metadata"]).expect(0, "audit");

    // Bundles that signed different roots cannot be merged.
    let other = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
    write_bundle(
        &dir.join("carol.json"),
        &make_bundle(&prop, &[&keys[1].1], &[&other], None),
    );
    let r = submitter(
        dir,
        &["merge", "alice.json", "carol.json", "-o", "bad.json"],
    );
    r.expect(3, "different roots");
    assert!(r.stderr.contains("signed a different root"), "{}", r.all());
    assert!(!dir.join("bad.json").exists());
}

#[test]
fn show_describes_every_kind_of_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let keys = repo_init(&dir.join("repo"), 1, 1);
    let alice = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
    let pubfile = PubkeyFile::new(&alice.public_key(), Some("alice".into()), None);
    std::fs::write(dir.join("alice.pub.json"), pubfile.to_bytes()).unwrap();
    submitter(
        dir,
        &[
            "propose",
            "--repo",
            "repo/metadata",
            "--add",
            "1",
            "--provided-key",
            "alice.pub.json",
            "--message",
            "add alice",
            "-o",
            "proposal.json",
        ],
    )
    .expect(0, "propose with a provided key");
    let b = make_bundle(&dir.join("proposal.json"), &[&keys[0].1], &[&alice], None);
    write_bundle(&dir.join("bundle.json"), &b);

    let s = submitter(dir, &["show", "proposal.json"]);
    s.expect(0, "show proposal");
    assert!(s.stdout.contains("add keys:   1"), "{}", s.stdout);
    assert!(s.stdout.contains("held by alice"), "{}", s.stdout);
    let s = submitter(dir, &["show", "bundle.json"]);
    s.expect(0, "show bundle");
    assert!(
        s.stdout.contains("complete, every rule holds"),
        "{}",
        s.stdout
    );
    let s = submitter(dir, &["show", "repo/metadata/1.root.json"]);
    s.expect(0, "show root");
    assert!(s.stdout.contains("dialect tuf (detected)"), "{}", s.stdout);
    assert!(
        s.stdout.contains("own root threshold: 1 of 1 needed: met"),
        "{}",
        s.stdout
    );
    submitter(dir, &["show", "alice.pub.json"]).expect(0, "show pubkey");
    for f in [
        "proposal.json",
        "bundle.json",
        "repo/metadata/1.root.json",
        "alice.pub.json",
    ] {
        let j = submitter(dir, &["show", f, "--json"]);
        j.expect(0, f);
        let v: Value =
            serde_json::from_str(&j.stdout).unwrap_or_else(|e| panic!("{f}: {e}: {}", j.stdout));
        assert!(v.is_object());
    }
    let j: Value =
        serde_json::from_str(&submitter(dir, &["show", "bundle.json", "--json"]).stdout).unwrap();
    assert_eq!(j["checked_against_proposal"]["complete"], true);
    // Bad input: an error, not a panic.
    std::fs::write(dir.join("junk.json"), b"\x00\x01 not json").unwrap();
    submitter(dir, &["show", "junk.json"]).expect(1, "junk");
    std::fs::write(
        dir.join("other.json"),
        br#"{"format":"tuf-ceremony/transcript@9"}"#,
    )
    .unwrap();
    submitter(dir, &["show", "other.json"]).expect(1, "unknown format");
}

#[test]
fn usage_errors_exit_2_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    repo_init(&dir.join("repo"), 1, 1);
    for args in [
        &["propose", "-o", "p.json"][..],
        &[
            "propose",
            "--repo",
            "repo",
            "--rotate-all",
            "--rotate",
            "abcdef0123",
            "-o",
            "p.json",
        ],
        &[
            "propose",
            "--repo",
            "repo",
            "--rotate",
            "0000000000000000",
            "-o",
            "p.json",
        ],
        &[
            "propose",
            "--repo",
            "repo",
            "--message",
            "caf\u{e9}",
            "-o",
            "p.json",
        ],
        &[
            "propose",
            "--repo",
            "repo",
            "--expires-in",
            "0",
            "-o",
            "p.json",
        ],
        &[
            "propose",
            "--repo",
            "repo",
            "--threshold",
            "2",
            "-o",
            "p.json",
        ],
        &[
            "propose",
            "--repo",
            "repo",
            "--key-type",
            "dsa",
            "-o",
            "p.json",
        ],
        &["propose", "--factory", "a/b", "-o", "p.json"],
        &["merge", "one.json", "-o", "m.json"],
        &["audit", "--repo", "repo", "--factory", "x"],
    ] {
        let r = submitter(dir, args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.all());
        assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.all());
    }
    assert!(!dir.join("p.json").exists());
    // Not a repository: an error (1), not a usage error.
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    submitter(dir, &["propose", "--repo", "empty", "-o", "p.json"]).expect(1, "empty folder");
}

#[test]
fn a_history_that_does_not_hold_is_refused_and_an_expired_root_can_be_renewed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cases = python_histories();
    for (case, rule) in [
        ("only-new-keys", "old-threshold"),
        ("version-skip", "version"),
        ("repeated-signature", "duplicate-keyid"),
    ] {
        let r = submitter(
            dir,
            &[
                "propose",
                "--repo",
                cases.join(case).to_str().unwrap(),
                "-o",
                "p.json",
            ],
        );
        r.expect(3, case);
        assert!(
            r.stderr.contains(&format!("rule {rule}")),
            "{case}: {}",
            r.all()
        );
        assert!(
            r.stderr.contains("nothing was written"),
            "{case}: {}",
            r.all()
        );
        assert!(!dir.join("p.json").exists());
        // The audit says the same.
        let a = submitter(
            dir,
            &["audit", "--repo", cases.join(case).to_str().unwrap()],
        );
        a.expect(3, case);
    }
    // An expired final root: a warning, and the proposal renews it.
    let r = submitter(
        dir,
        &[
            "propose",
            "--repo",
            cases.join("expired-final").to_str().unwrap(),
            "-o",
            "p.json",
        ],
    );
    r.expect(0, "expired-final");
    assert!(r.stderr.contains("has expired"), "{}", r.all());
}

#[test]
fn a_repository_that_takes_put_is_uploaded_to_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let keys = repo_init(&dir.join("repo"), 1, 1);
    let server = put_server(&dir.join("repo"));
    let url = format!("{}/metadata/", server.url);
    submitter(
        dir,
        &[
            "propose",
            "--repo",
            &url,
            "--rotate-all",
            "-o",
            "proposal.json",
        ],
    )
    .expect(0, "propose");
    let new = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
    write_bundle(
        &dir.join("bundle.json"),
        &make_bundle(&dir.join("proposal.json"), &[&keys[0].1], &[&new], None),
    );
    let r = submitter(dir, &["upload", "bundle.json"]);
    r.expect(0, "upload by PUT");
    assert!(r.stdout.contains("serves v2"), "{}", r.all());
    let meta = dir.join("repo/metadata");
    assert_eq!(
        std::fs::read(meta.join("2.root.json")).unwrap(),
        std::fs::read(meta.join("root.json")).unwrap()
    );
    let again = submitter(dir, &["upload", "bundle.json"]);
    again.expect(0, "again");
    assert!(again.stdout.contains("already uploaded"), "{}", again.all());
    submitter(dir, &["audit", "--repo", &url]).expect(0, "audit over HTTP");
    drop(server);
}
