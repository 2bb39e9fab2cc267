//! The ceremony transcript, end to end through the signer: a real ceremony's
//! transcript verifies against the new root (or the bundle) and re-hashes
//! the proposal and archives; any deleted, reordered or edited entry, or
//! another ceremony's head signature, is detected and the entry named; and
//! no private key material or passphrase is in it.

use std::path::Path;

use ceremony::transcript::anchor_of;
use ceremony_tests::prelude::*;

struct Ceremony {
    dir: tempfile::TempDir,
    transcript: Vec<u8>,
}

/// A FoundriesFactory ceremony with an Ed25519 first-root key: import, then
/// sign with operator and witnesses named.
fn ceremony(rsa: bool) -> Ceremony {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    imported_factory_with_proposal(d, rsa);
    let out = ok(&signer(
        d,
        SignArgs::new().new_archive(Some("keys2.tgz.age")).extra([
            "--operator",
            "Alice Operator",
            "--witness",
            "Bob Witness",
            "--witness",
            "Carol Witness",
        ]),
    ));
    assert!(out.contains("bundle.transcript.jsonl"), "{out}");
    let transcript = std::fs::read(d.join("bundle.transcript.jsonl")).unwrap();
    Ceremony { dir, transcript }
}

fn verify(dir: &Path, args: &[&str]) -> std::process::Output {
    signer(dir, [&["verify-transcript"], args].concat())
}

#[test]
fn a_real_ceremony_verifies_against_its_root_bundle_and_artefacts() {
    let c = ceremony(false);
    let d = c.dir.path();
    // The bundle carries the signed head, and the new root anchors the transcript.
    let bundle =
        ceremony::bundle::Bundle::from_slice(&std::fs::read(d.join("bundle.json")).unwrap())
            .unwrap();
    let head = bundle
        .transcript_head
        .as_ref()
        .expect("the bundle carries the signed head");
    for r in &bundle.roots {
        let root = bundle.root(r).unwrap();
        let anchor = anchor_of(&root).expect("the new root anchors the transcript");
        let t = ceremony::transcript::read(&c.transcript).unwrap();
        assert!(t.entries.iter().any(|e| e.hash == anchor));
        assert_eq!(t.signed_head.as_ref(), Some(head));
        let msg = root.signed()["x-changelog"]["message"].as_str().unwrap();
        assert!(msg.contains("tuf-ceremony transcript "), "{msg}");
    }
    // Write the new CI root out as a root file, as the repository will hold it.
    let ci = bundle.root(&bundle.roots[0]).unwrap();
    std::fs::write(d.join("2.root.json"), ci.to_bytes()).unwrap();
    for root in ["2.root.json", "bundle.json"] {
        let out = ok(&verify(
            d,
            &[
                "bundle.transcript.jsonl",
                "--root",
                root,
                "proposal.json",
                "keys.tgz.age",
                "keys2.tgz.age",
                "--html",
                &format!("{root}.html"),
            ],
        ));
        assert!(out.contains("head signed by a threshold"), "{out}");
        assert_eq!(out.matches("recorded ").count(), 3, "{out}");
        let html = std::fs::read_to_string(d.join(format!("{root}.html"))).unwrap();
        for must in [
            "Alice Operator",
            "Bob Witness",
            "Carol Witness",
            "<svg",
            "Witness (name, signature, date)",
        ] {
            assert!(html.contains(must), "{must} missing from the report");
        }
    }
    // A file the ceremony never saw is not recorded.
    std::fs::write(d.join("other.txt"), b"unrelated").unwrap();
    let out = verify(
        d,
        &[
            "bundle.transcript.jsonl",
            "--root",
            "bundle.json",
            "other.txt",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("NOT FOUND other.txt"));
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_deletion_reordering_or_edit_is_detected_and_named() {
    let c = ceremony(false);
    let d = c.dir.path();
    let original = lines(&c.transcript);
    assert!(
        original.len() >= 12,
        "a ceremony writes many entries: {}",
        original.len()
    );
    let mut tried = 0;
    let mut check = |l: Vec<String>, what: String| {
        std::fs::write(d.join("t.jsonl"), l.join("\n") + "\n").unwrap();
        let out = verify(d, &["t.jsonl", "--root", "bundle.json"]);
        assert_eq!(out.status.code(), Some(3), "{what}: {}", text(&out));
        assert!(
            text(&out).contains("does NOT verify"),
            "{what}: {}",
            text(&out)
        );
        tried += 1;
    };
    for i in 0..original.len() {
        let mut l = original.clone();
        l.remove(i);
        check(l, format!("delete line {}", i + 1));
        if i + 1 < original.len() {
            let mut l = original.clone();
            l.swap(i, i + 1);
            check(l, format!("swap lines {} and {}", i + 1, i + 2));
        }
        let mut l = original.clone();
        // Change one character inside the entry's text.
        let pos = l[i].find("\"kind\":\"").unwrap() + 8;
        let mut chars: Vec<char> = l[i].chars().collect();
        chars[pos] = if chars[pos] == 'x' { 'y' } else { 'x' };
        l[i] = chars.into_iter().collect();
        check(l, format!("edit line {}", i + 1));
    }
    assert!(tried >= 3 * original.len() - 1);
    // The first broken entry is named: editing entry 3 breaks the link at entry 4.
    let mut l = original.clone();
    l[2] = l[2].replacen("\"kind\":\"", "\"kind\":\"X", 1);
    std::fs::write(d.join("t.jsonl"), l.join("\n") + "\n").unwrap();
    let out = verify(d, &["t.jsonl"]);
    assert!(text(&out).contains("entry 4:"), "{}", text(&out));
}

#[test]
fn another_ceremonys_head_signature_is_refused() {
    let a = ceremony(false);
    let b = ceremony(false);
    let mut la = lines(&a.transcript);
    let lb = lines(&b.transcript);
    *la.last_mut().unwrap() = lb.last().unwrap().clone();
    let d = a.dir.path();
    std::fs::write(d.join("t.jsonl"), la.join("\n") + "\n").unwrap();
    let out = verify(d, &["t.jsonl", "--root", "bundle.json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    // And b's whole transcript does not verify against a's root.
    std::fs::write(d.join("b.jsonl"), &b.transcript).unwrap();
    let out = verify(d, &["b.jsonl", "--root", "bundle.json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}

#[test]
fn no_secret_is_in_the_transcript() {
    let c = ceremony(true);
    let d = c.dir.path();
    let text = String::from_utf8(c.transcript.clone()).unwrap();
    assert!(!text.contains(PASSPHRASE));
    assert!(!text.contains("PRIVATE KEY"));
    // Every private key the new archive holds, in every encoding it is stored in.
    let entries = decrypt_archive(&d.join("keys2.tgz.age"));
    let mut secrets = 0;
    for (name, data) in &entries {
        if !name.ends_with(".sec") && !name.ends_with(".pem") {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(data).unwrap_or_default();
        let private = v["keyval"]["private"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(data).into_owned());
        for line in private
            .lines()
            .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
        {
            assert!(
                !text.contains(line),
                "{name}: a line of the private key is in the transcript"
            );
            secrets += 1;
        }
    }
    assert!(secrets >= 2, "checked {secrets} secret lines");
    // The machine state and people are recorded.
    let t = ceremony::transcript::read(&c.transcript).unwrap();
    let start = t.entries[0].event.data();
    assert_eq!(start["operator"], "Alice Operator");
    assert!(start["machine"]["interfaces"].is_array());
    assert!(start["software"]["binary_sha256"].as_str().unwrap().len() == 64);
    assert_eq!(t.of_kind("key-generated").count(), 1);
    assert_eq!(
        t.of_kind("signature").count(),
        4,
        "old and new key, ci and prod"
    );
}
