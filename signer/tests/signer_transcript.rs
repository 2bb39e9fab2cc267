//! The ceremony transcript, end to end through the signer: a real ceremony's
//! transcript verifies against the new root (or the bundle, as --root or as
//! a file given) and finds the proposal and archives in the entries of
//! their kind; without a root nothing is authenticated (exit 3) unless the
//! chain alone is asked for; another ceremony's bundle or head signature is
//! refused; any deleted, reordered or edited entry is detected and the entry
//! named; a declined confirmation ends the transcript with an abort; a
//! message that mimics the anchor is refused before anything is made; and
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
    ceremony_with(rsa, |_| {})
}

/// [`ceremony`], with the proposal edited first by `edit`.
fn ceremony_with(rsa: bool, edit: impl FnOnce(&mut serde_json::Value)) -> Ceremony {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    imported_factory_with_proposal(d, rsa);
    edit_proposal(d, edit);
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

fn edit_proposal(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("proposal.json");
    let mut p: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut p);
    std::fs::write(&path, serde_json::to_vec_pretty(&p).unwrap()).unwrap();
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
        assert!(out.contains("transcript verified"), "{out}");
        assert!(out.contains(&format!("authenticated by {root}")), "{out}");
        assert_eq!(out.matches("recorded ").count(), 3, "{out}");
        for (file, kind) in [
            ("proposal.json", "the proposal read"),
            ("keys.tgz.age", "the key archive read"),
            ("keys2.tgz.age", "the new key archive written"),
        ] {
            let line = out
                .lines()
                .find(|l| l.contains(&format!(" {file} ")))
                .unwrap_or_else(|| panic!("{file}: {out}"));
            assert!(
                line.starts_with("recorded ") && line.contains(&format!("as {kind} (entry ")),
                "{file}: {line}"
            );
        }
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

    // The bundle given as a file authenticates as --root does, and the root
    // written out is found by its signed part.
    let out = ok(&verify(
        d,
        &[
            "bundle.transcript.jsonl",
            "bundle.json",
            "2.root.json",
            "--html",
            "as-file.html",
        ],
    ));
    assert!(out.contains("transcript verified"), "{out}");
    assert!(out.contains("as this ceremony's bundle"), "{out}");
    assert!(out.contains("as the new root v2 of chain ci"), "{out}");
    let html = std::fs::read_to_string(d.join("as-file.html")).unwrap();
    assert!(html.contains("transcript verified"), "{html}");
    assert!(
        html.contains("bundle</span>: its head and roots match"),
        "{html}"
    );
}

#[test]
fn without_a_root_nothing_is_authenticated_unless_the_chain_alone_is_asked_for() {
    let c = ceremony(false);
    let d = c.dir.path();
    let out = verify(
        d,
        &[
            "bundle.transcript.jsonl",
            "proposal.json",
            "--html",
            "r.html",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("NOT AUTHENTICATED") && said.contains("proves nothing about who wrote it"),
        "{said}"
    );
    // The report says the same.
    let html = std::fs::read_to_string(d.join("r.html")).unwrap();
    assert!(html.contains("NOT AUTHENTICATED"), "{html}");
    assert!(!html.contains("transcript verified"));

    let out = ok(&verify(
        d,
        &["bundle.transcript.jsonl", "--chain-only", "proposal.json"],
    ));
    assert!(out.contains("the chain alone was checked"), "{out}");
    assert!(out.contains("nothing was authenticated"), "{out}");
    // The chain alone and a root are contradictory.
    let out = verify(
        d,
        &[
            "bundle.transcript.jsonl",
            "--chain-only",
            "--root",
            "bundle.json",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    // A chain that ends early is incomplete, even when only the chain is asked for.
    let mut l = lines(&c.transcript);
    l.pop();
    std::fs::write(d.join("cut.jsonl"), l.join("\n") + "\n").unwrap();
    for extra in [&["--chain-only"][..], &["--root", "bundle.json"]] {
        let out = verify(d, &[&["cut.jsonl"][..], extra].concat());
        assert_eq!(out.status.code(), Some(3), "{}", text(&out));
        assert!(text(&out).contains("INCOMPLETE"), "{}", text(&out));
    }
}

#[test]
fn a_hash_inside_the_txid_is_not_a_record() {
    // The online side chooses the txid: here, the sha256 of a file the
    // ceremony never read.
    let planted = b"a file the ceremony never saw";
    let sha = ceremony::sha256::hex(planted);
    let c = ceremony_with(false, |p| p["txid"] = serde_json::json!(sha));
    let d = c.dir.path();
    std::fs::write(d.join("other.txt"), planted).unwrap();
    assert!(String::from_utf8_lossy(&c.transcript).contains(&sha));
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
    assert!(text(&out).contains("NOT FOUND other.txt"), "{}", text(&out));
}

#[test]
fn another_ceremonys_bundle_is_refused() {
    let a = ceremony(false);
    let b = ceremony(false);
    let d = a.dir.path();
    std::fs::copy(b.dir.path().join("bundle.json"), d.join("b-bundle.json")).unwrap();
    // As a file given: not this ceremony's, and nothing authenticates.
    let out = verify(d, &["bundle.transcript.jsonl", "b-bundle.json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("NOT THIS CEREMONY'S b-bundle.json")
            && text(&out).contains("from another ceremony"),
        "{}",
        text(&out)
    );
    // Beside this ceremony's own bundle it still fails the whole.
    let out = verify(
        d,
        &["bundle.transcript.jsonl", "bundle.json", "b-bundle.json"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    // As --root: the transcript does not verify.
    let out = verify(d, &["bundle.transcript.jsonl", "--root", "b-bundle.json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("does NOT verify"), "{}", text(&out));
}

#[test]
fn a_declined_confirmation_ends_the_transcript_with_an_abort() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    imported_factory_with_proposal(d, false);
    // First use: "yes" to trust the current root; "yes" to the server's
    // own part of the staged root; then "no" to signing, after the new key
    // is made (in memory: it signed nothing, and no archive keeps it).
    let args = SignArgs::new()
        .no_yes()
        .new_archive(Some("keys2.tgz.age"))
        .to_vec();
    let out = signer_on_a_terminal(d, &args, "yes\nyes\nno\n");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("Sign this?") && said.contains("not confirmed"),
        "{said}"
    );
    assert!(!d.join("bundle.json").exists(), "{said}");
    // Its keys signed nothing: no new archive is written (issue 16: the
    // keys are written only after the last question).
    assert!(
        !d.join("keys2.tgz.age").exists(),
        "no archive of a key that signed nothing: {said}"
    );
    let t = ceremony::transcript::read(&std::fs::read(d.join("bundle.transcript.jsonl")).unwrap())
        .unwrap();
    assert!(t.signed_head.is_none());
    match &t.entries.last().unwrap().event {
        ceremony::transcript::Event::Abort(a) => {
            assert_eq!(a.step, ceremony::transcript::event::Step::Confirmation);
            assert!(a.reason.contains("not confirmed"), "{a:?}");
        }
        other => panic!("the last entry is {other:?}"),
    }
    for extra in [&["--chain-only"][..], &["--html", "aborted.html"]] {
        let out = verify(d, &[&["bundle.transcript.jsonl"][..], extra].concat());
        assert_eq!(out.status.code(), Some(3), "{}", text(&out));
        assert!(
            text(&out).contains("aborted at confirmation: aborted by the operator (answered no)"),
            "{}",
            text(&out)
        );
    }
    // The report says the same.
    let html = std::fs::read_to_string(d.join("aborted.html")).unwrap();
    assert!(
        html.contains("<span class=\"fail\">transcript does NOT verify: the ceremony aborted at confirmation: aborted by the operator (answered no)"),
        "{html}"
    );
}

#[test]
fn a_message_that_mimics_the_anchor_is_refused_before_anything_is_made() {
    let marker = format!("[tuf-ceremony transcript {}]", "ab".repeat(32));
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("the requested message", {
            let m = format!("yearly rotation {marker}");
            Box::new(move |p| p["change"]["message"] = serde_json::json!(m))
        }),
        ("the staged message", {
            let m = format!("rotate {marker} more text");
            Box::new(move |p| {
                p["change"].as_object_mut().unwrap().remove("message");
                p["chains"][0]["staged"]["signed"]["x-changelog"]["message"] = serde_json::json!(m)
            })
        }),
    ];
    for (what, edit) in cases {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        imported_factory_with_proposal(d, false);
        edit_proposal(d, edit);
        let out = signer(d, SignArgs::new().new_archive(Some("keys2.tgz.age")));
        let said = text(&out);
        assert_eq!(out.status.code(), Some(3), "{what}: {said}");
        assert!(
            said.contains("already contains") && said.contains("--message"),
            "{what}: {said}"
        );
        for f in ["bundle.json", "keys2.tgz.age", "bundle.transcript.jsonl"] {
            assert!(!d.join(f).exists(), "{what}: {f} was written");
        }
    }
    // Without the marker, the message signed is the message given, whole,
    // with the anchor after it.
    let c = ceremony_with(false, |p| {
        p["change"]["message"] = serde_json::json!("yearly rotation [see ticket 42]")
    });
    let bundle = ceremony::bundle::Bundle::from_slice(
        &std::fs::read(c.dir.path().join("bundle.json")).unwrap(),
    )
    .unwrap();
    for r in &bundle.roots {
        let root = bundle.root(r).unwrap();
        let msg = root.signed()["x-changelog"]["message"].as_str().unwrap();
        let anchor = anchor_of(&root).unwrap();
        assert_eq!(
            msg,
            format!("yearly rotation [see ticket 42] [tuf-ceremony transcript {anchor}]")
        );
    }
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
