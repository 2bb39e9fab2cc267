//! A TUF-folder ceremony whose files cross as QR frames only, then the
//! auditor's view: the bundle goes back as shuffled frames with gaps
//! (`submitter upload --qr-text`), and the transcript verifies through the
//! submitter against the published root, or the bundle that crossed, with
//! both HTML reports written; without either it is not authenticated.

use std::path::Path;

use ceremony_tests::fixture::SignArgs;
use ceremony_tests::harness::{passphrase_file, run};

const SCRYPT: (&str, &str) = ("TUF_CEREMONY_TEST_SCRYPT_LOG_N", "10");

fn frames_of(dir: &Path, file: &str, n: &str) -> Vec<String> {
    let out = run(
        "signer",
        dir,
        ["qr", "show", file, "--text", "--frames", n],
        &[],
    );
    out.expect(0, "qr show");
    out.stdout.lines().map(str::to_owned).collect()
}

#[test]
fn a_ceremony_across_qr_frames_and_its_audit() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    run("tuf-repo-init", d, ["repo"], &[]).expect(0, "tuf-repo-init");
    let pass = passphrase_file(d);
    let pass = pass.to_str().unwrap();
    let pem: Vec<String> = std::fs::read_dir(d.join("repo/keys"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    let mut import = vec!["import", "-o", "keys.tgz.age", "--passphrase-file", pass];
    for p in &pem {
        import.extend(["--key", p.as_str()]);
    }
    run("signer", d, &import, &[SCRYPT]).expect(0, "import");
    ceremony_tests::fixture::propose_rotate_all(d, "proposal.json");

    // Online → offline: the proposal as frames (shuffled, one missing).
    let mut frames = frames_of(d, "proposal.json", "14");
    frames.reverse();
    frames.remove(3);
    std::fs::write(d.join("proposal.frames"), frames.join("\n")).unwrap();
    run(
        "signer",
        d,
        SignArgs::new()
            .qr_text("proposal.frames", false)
            .new_archive(Some("keys2.tgz.age"))
            .passphrase_file(Some(pass))
            .extra(["--operator", "Dana"]),
        &[SCRYPT],
    )
    .expect(0, "sign");

    // Offline → online: the bundle as frames, with gaps filled by fountain frames.
    let mut frames = frames_of(d, "bundle.json", "20");
    frames.retain(|f| !f.contains("/2-") && !f.contains("/5-"));
    frames.rotate_left(3);
    std::fs::write(d.join("bundle.frames"), frames.join("\n")).unwrap();
    let up = run(
        "submitter",
        d,
        [
            "upload",
            "--qr-text",
            "bundle.frames",
            "--proposal",
            "proposal.json",
        ],
        &[],
    );
    up.expect(0, "upload --qr-text");
    assert_eq!(
        std::fs::read(d.join("bundle-from-qr.json")).unwrap(),
        std::fs::read(d.join("bundle.json")).unwrap(),
        "the bundle crossed byte for byte"
    );
    assert!(d.join("repo/metadata/2.root.json").exists());

    // The auditor: the published root pins the transcript.
    let v = run(
        "submitter",
        d,
        [
            "verify-transcript",
            "bundle.transcript.jsonl",
            "--root",
            "repo/metadata/2.root.json",
            "proposal.json",
            "keys.tgz.age",
            "keys2.tgz.age",
            "--html",
            "ceremony.html",
        ],
        &[],
    );
    v.expect(0, "verify-transcript");
    assert!(
        v.stdout.contains("transcript verified")
            && v.stdout
                .contains("authenticated by repo/metadata/2.root.json")
            && v.stdout.contains("anchors entry"),
        "{}",
        v.all()
    );
    for (file, kind) in [
        ("proposal.json", "as the proposal read"),
        ("keys.tgz.age", "as the key archive read"),
        ("keys2.tgz.age", "as the new key archive written"),
    ] {
        assert!(
            v.stdout
                .lines()
                .any(|l| l.starts_with("recorded ") && l.contains(file) && l.contains(kind)),
            "{file}: {}",
            v.all()
        );
    }
    // The bundle that crossed as frames, given as a file, authenticates too;
    // the published root, given as a file, is found by what was signed.
    let v = run(
        "submitter",
        d,
        [
            "verify-transcript",
            "bundle.transcript.jsonl",
            "bundle-from-qr.json",
            "repo/metadata/2.root.json",
        ],
        &[],
    );
    v.expect(0, "verify-transcript with the bundle");
    assert!(
        v.stdout.contains("as this ceremony's bundle")
            && v.stdout.contains("as the new root v2 of chain root"),
        "{}",
        v.all()
    );
    // Without a root or the bundle, nothing is authenticated: exit 3.
    let v = run(
        "submitter",
        d,
        [
            "verify-transcript",
            "bundle.transcript.jsonl",
            "proposal.json",
        ],
        &[],
    );
    v.expect(3, "verify-transcript without a root");
    assert!(v.stdout.contains("NOT AUTHENTICATED"), "{}", v.all());
    run(
        "submitter",
        d,
        [
            "verify-transcript",
            "bundle.transcript.jsonl",
            "--chain-only",
        ],
        &[],
    )
    .expect(0, "verify-transcript --chain-only");
    run(
        "submitter",
        d,
        ["audit", "--repo", "repo/metadata", "--html", "audit.html"],
        &[],
    )
    .expect(0, "audit");
    for page in ["ceremony.html", "audit.html"] {
        let html = std::fs::read_to_string(d.join(page)).unwrap();
        assert!(
            html.starts_with("<!DOCTYPE html>") && html.len() > 2000,
            "{page}"
        );
    }
    // A second upload from the same frames refuses to overwrite the kept bundle.
    let again = run(
        "submitter",
        d,
        [
            "upload",
            "--qr-text",
            "bundle.frames",
            "--proposal",
            "proposal.json",
        ],
        &[],
    );
    assert_ne!(again.code, 0, "{}", again.all());
    assert_ne!(again.code, 101, "{}", again.all());
}
