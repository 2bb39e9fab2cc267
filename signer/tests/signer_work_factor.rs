//! The archive's scrypt cost: how many derivations a command spends (each
//! is announced on stderr, so the count is what the binary did, not a
//! guess), the work factor an archive records and `signer list` shows,
//! `--work-factor` and its bounds, whether an archive is current or
//! superseded among those beside it, and what `signer sign` writes (and
//! does not) when it stops after the confirmation.

use std::path::Path;

use ceremony_tests::prelude::*;

/// The "Deriving the archive key to …" lines of a run, in order.
fn derivations(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("Deriving the archive key to "))
        .map(str::to_string)
        .collect()
}

fn list_json(dir: &Path, archive: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["list", archive, "--json", "--passphrase-file", "pass.txt"];
    args.extend_from_slice(extra);
    let out = signer(dir, &args);
    ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn sign_of_a_passphrase_archive_spends_three_scrypt_derivations() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    imported_factory_with_proposal(d, false);
    let ran: Ran = signer(d, SignArgs::new()).into();
    ran.expect(0, "signer sign");
    let seen = derivations(&ran.stderr);
    assert_eq!(
        seen,
        [
            "open keys.tgz.age (scrypt, log N = 10)...",
            "seal new.tgz.age (scrypt, log N = 10)...",
            "check new.tgz.age (scrypt, log N = 10)...",
        ],
        "{}",
        ran.all()
    );
    // Each is timed.
    let done = ran
        .stderr
        .lines()
        .filter(|l| l.starts_with("  done in ") && l.ends_with(" s"))
        .count();
    assert_eq!(done, 3, "{}", ran.all());
    // Progress is on stderr only: stdout has none of it.
    assert!(!ran.stdout.contains("Deriving"), "{}", ran.stdout);
    // One opening is one derivation.
    let list: Ran = signer(
        d,
        [
            "list",
            "new.tgz.age",
            "--no-compare",
            "--passphrase-file",
            "pass.txt",
        ],
    )
    .into();
    list.expect(0, "signer list");
    assert_eq!(derivations(&list.stderr).len(), 1, "{}", list.all());
}

#[test]
fn rsa_key_generation_is_announced_and_timed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    imported_factory_with_proposal(d, true);
    let ran: Ran = signer(d, SignArgs::new().extra(["--key-type", "rsa-4096"])).into();
    ran.expect(0, "signer sign");
    let lines: Vec<&str> = ran.stderr.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("Generating an RSA-4096 key"))
        .unwrap_or_else(|| panic!("no RSA progress line\n{}", ran.all()));
    assert!(lines[at + 1].starts_with("  done in "), "{}", ran.all());
}

#[test]
fn list_shows_the_work_factor_read_from_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    OtaFactory::new(false).import(d, Vec::new());
    let text = ok(&signer(
        d,
        ["list", "keys.tgz.age", "--passphrase-file", "pass.txt"],
    ));
    assert!(text.contains("work factor log N = 10"), "{text}");
    assert_eq!(list_json(d, "keys.tgz.age", &[])["scrypt_work_factor"], 10);

    // --work-factor wins over the tests' lowered default, and is recorded.
    let out = signer(
        d,
        [
            "import",
            "factory-keys.tgz",
            "-o",
            "wf16.tgz.age",
            "--passphrase-file",
            "pass.txt",
            "--work-factor",
            "16",
        ],
    );
    ok(&out);
    let seen = derivations(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        seen,
        [
            "seal wf16.tgz.age (scrypt, log N = 16)...",
            "check wf16.tgz.age (scrypt, log N = 16)...",
        ]
    );
    let v = list_json(d, "wf16.tgz.age", &["--no-compare"]);
    assert_eq!(v["scrypt_work_factor"], 16, "{v}");
    assert!(v["status"].is_null(), "--no-compare compares nothing: {v}");
    let ct = std::fs::read(d.join("wf16.tgz.age")).unwrap();
    let header = String::from_utf8_lossy(&ct[..ct.len().min(200)]).into_owned();
    assert!(
        header
            .lines()
            .any(|l| l.starts_with("-> scrypt ") && l.ends_with(" 16")),
        "{header}"
    );
}

#[test]
fn work_factor_outside_the_bounds_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    imported_factory_with_proposal(d, false);
    for bad in ["15", "23", "0", "x"] {
        let before = hash_dir(d);
        for args in [
            vec![
                "import",
                "factory-keys.tgz",
                "-o",
                "other.tgz.age",
                "--passphrase-file",
                "pass.txt",
                "--work-factor",
                bad,
            ],
            vec![
                "keygen",
                "--keys",
                "keys.tgz.age",
                "-o",
                "pub.json",
                "--passphrase-file",
                "pass.txt",
                "--work-factor",
                bad,
            ],
        ] {
            let ran: Ran = signer(d, &args).into();
            ran.expect(2, "an out-of-bounds work factor");
            assert!(
                ran.stderr.contains("from 16") && ran.stderr.contains("to 22"),
                "{}",
                ran.all()
            );
        }
        let ran: Ran = signer(d, SignArgs::new().extra(["--work-factor", bad])).into();
        ran.expect(2, "an out-of-bounds work factor");
        assert!(ran.stderr.contains("the default is 18"), "{}", ran.all());
        assert_eq!(hash_dir(d), before, "something was written for {bad}");
    }
    // Meaningless with recipients: refused too.
    let id = age::x25519::Identity::generate();
    let ran: Ran = signer(
        d,
        [
            "import",
            "factory-keys.tgz",
            "-o",
            "r.tgz.age",
            "--recipient",
            &id.to_public().to_string(),
            "--work-factor",
            "18",
        ],
    )
    .into();
    ran.expect(2, "--work-factor with --recipient");
    assert!(!d.join("r.tgz.age").exists());
}

#[test]
fn list_tells_current_from_superseded() {
    let fx = Ceremony::new();
    let d = fx.path();
    // keys.tgz.age (imported, no anchor), new.tgz.age (signed from it: its
    // keys, a new one, the anchor), kg.tgz.age (keygen: its keys and one).
    let old = list_json(d, "keys.tgz.age", &[]);
    assert_eq!(old["status"]["state"], "superseded", "{old}");
    let by: Vec<&str> = old["status"]["superseded_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["archive"].as_str().unwrap())
        .collect();
    assert!(by.iter().any(|a| a.ends_with("new.tgz.age")), "{old}");
    assert!(by.iter().any(|a| a.ends_with("kg.tgz.age")), "{old}");
    let new = list_json(d, "new.tgz.age", &[]);
    assert_eq!(new["status"]["state"], "current", "{new}");
    assert_eq!(
        new["status"]["compared"].as_array().unwrap().len(),
        2,
        "{new}"
    );

    // The next ceremony, from new.tgz.age: its anchor is a version newer.
    fx.upload_and_propose_again("proposal2.json");
    ok(&signer(
        d,
        SignArgs::new()
            .proposal("proposal2.json")
            .keys("new.tgz.age")
            .out("bundle2.json")
            .new_archive(Some("third.tgz.age")),
    ));
    let text = ok(&signer(
        d,
        ["list", "new.tgz.age", "--passphrase-file", "pass.txt"],
    ));
    assert!(text.contains("Status: SUPERSEDED by"), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("third.tgz.age: its anchor for"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("is v3, this one's v2"), "{line}");
    let third = list_json(d, "third.tgz.age", &[]);
    assert_eq!(third["status"]["state"], "current", "{third}");

    // An archive under another passphrase is named, not guessed at.
    std::fs::write(d.join("other-pass.txt"), "another passphrase\n").unwrap();
    OtaFactory::new(false).write_tgz(d, Vec::new());
    ok(&signer(
        d,
        [
            "import",
            "factory-keys.tgz",
            "-o",
            "x.tgz.age",
            "--passphrase-file",
            "other-pass.txt",
        ],
    ));
    let third = list_json(d, "third.tgz.age", &[]);
    assert_eq!(third["status"]["state"], "current", "{third}");
    let skipped = &third["status"]["not_compared"];
    assert!(
        skipped.as_array().unwrap().iter().any(|n| {
            n["archive"].as_str().unwrap().ends_with("x.tgz.age")
                && n["reason"]
                    .as_str()
                    .unwrap()
                    .contains("does not open with this archive's passphrase")
        }),
        "{third}"
    );
}

#[test]
fn closing_summary_says_what_to_keep_escrow_retire_and_destroy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    imported_factory_with_proposal(d, false);
    let ran: Ran = signer(d, SignArgs::new()).into();
    ran.expect(0, "signer sign");
    let out = &ran.stdout;
    for want in [
        "Bundle written to bundle.json (complete",
        "New archive new.tgz.age: the CURRENT archive from now on",
        "passphrase, scrypt log N = 10",
        "`submitter upload bundle.json`",
        "keep    new.tgz.age",
        "escrow  a copy of new.tgz.age on a second medium",
        "retire  keys.tgz.age once the new root is live",
        "destroy factory-keys.tgz",
        "Transcript bundle.transcript.jsonl",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
}

#[test]
fn a_sign_that_fails_after_the_confirmation_writes_no_archive_but_keeps_its_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    imported_factory_with_proposal(d, false);
    // The new archive's folder does not exist: the one write of the new
    // archive fails, after the review, the confirmation and the signing.
    let ran: Ran = signer(
        d,
        SignArgs::new()
            .new_archive(Some("missing/new.tgz.age"))
            .extra(["--transcript", "t.jsonl"]),
    )
    .into();
    assert_ne!(ran.code, 0, "{}", ran.all());
    assert!(!d.join("bundle.json").exists(), "{}", ran.all());
    assert!(!d.join("missing").exists());
    assert!(
        ran.stderr.contains("no archive was written"),
        "{}",
        ran.all()
    );
    let t = std::fs::read_to_string(d.join("t.jsonl")).expect("the transcript is kept");
    let last: serde_json::Value = serde_json::from_str(t.lines().last().unwrap()).unwrap();
    assert_eq!(last["kind"], "abort", "{t}");
    assert_eq!(last["data"]["step"], "write", "{t}");
    assert!(!t.contains("archive-written"), "{t}");
    // Only the old archive's opening and the failed seal were spent.
    assert_eq!(derivations(&ran.stderr).len(), 2, "{}", ran.all());
}

#[test]
fn a_sign_whose_bundle_cannot_be_written_leaves_the_archive_holding_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    imported_factory_with_proposal(d, false);
    let ran: Ran = signer(
        d,
        SignArgs::new()
            .out("missing/bundle.json")
            .extra(["--transcript", "t.jsonl"]),
    )
    .into();
    assert_ne!(ran.code, 0, "{}", ran.all());
    assert!(d.join("new.tgz.age").exists(), "{}", ran.all());
    assert!(
        ran.stderr
            .contains("the new archive new.tgz.age is written"),
        "{}",
        ran.all()
    );
    let t = std::fs::read_to_string(d.join("t.jsonl")).unwrap();
    assert!(t.contains("archive-written"), "{t}");
}
