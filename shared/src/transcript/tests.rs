//! The transcript's own tests: chain, anchors, head signatures, schema.

use std::path::Path;

use serde_json::json;

use super::event::*;
use super::*;
use crate::keys::{NewKeyType, PrivateKey};
use crate::root::{RoleKeys, RootMetadata};
use crate::Dialect;

fn root_with(key: &PrivateKey, dialect: Dialect) -> RootMetadata {
    let ty = if dialect == Dialect::OtaTuf {
        "Root"
    } else {
        "root"
    };
    let mut root = RootMetadata::from_value(
        json!({"signed": {"_type": ty, "version": 2, "expires": "2099-01-01T00:00:00Z", "keys": {}, "roles": {}}, "signatures": []}),
        dialect,
    )
    .unwrap();
    let id = key.public_key().key_id(dialect);
    root.insert_key(&id, &key.public_key());
    root.set_role(
        "root",
        &RoleKeys {
            keyids: vec![id],
            threshold: 1,
        },
    );
    root
}

fn start(operator: &str) -> Event {
    Event::Start(Start {
        software: Software {
            name: "signer".into(),
            version: "0.1.0".into(),
            binary_sha256: "ab".repeat(32),
        },
        machine: Machine {
            interfaces: vec![Interface {
                name: "lo".into(),
                state: "unknown".into(),
            }],
            non_loopback_interface_up: false,
            swap_devices: vec![],
            swap_on: false,
            rehearsal: None,
        },
        operator: Some(operator.into()),
        witnesses: vec!["bob".into()],
        command: Command {
            proposal: "proposal.json".into(),
            keys: "keys.tgz.age".into(),
            bundle: "bundle.json".into(),
            new_archive: "keys2.tgz.age".into(),
            yes: true,
            force: false,
        },
    })
}

/// The proposal bytes every test ceremony reads.
const PROPOSAL: &[u8] = b"{\"format\":\"tuf-ceremony/proposal@1\"}";

/// Writes a five-entry transcript anchored after entry 3; returns its
/// bytes and the root that anchors it.
fn ceremony(dir: &Path, dialect: Dialect) -> (Vec<u8>, RootMetadata) {
    let (bytes, root, _) = ceremony_with(dir, dialect, None);
    (bytes, root)
}

/// [`ceremony`], with the proposal's txid, also returning the signed head
/// (what the bundle carries). The output entry records the root's real
/// hashes, as the signer does.
fn ceremony_with(
    dir: &Path,
    dialect: Dialect,
    txid: Option<String>,
) -> (Vec<u8>, RootMetadata, serde_json::Value) {
    let key = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
    let path = dir.join("t.jsonl");
    let mut w = TranscriptWriter::create(&path).unwrap();
    w.append(&start("alice")).unwrap();
    w.append(&Event::Input(Input::Proposal {
        path: "p.json".into(),
        sha256: crate::sha256::hex(PROPOSAL),
        target: "t".into(),
        dialect,
        txid,
    }))
    .unwrap();
    let anchor = w
        .append(&Event::Confirmation(Confirmation {
            question: "Sign this?".into(),
            typed: "yes".into(),
        }))
        .unwrap();
    let mut root = root_with(&key, dialect);
    set_anchor(&mut root, &anchor);
    w.append(&Event::Signature(Signature {
        chain: "root".into(),
        detail: "x".into(),
    }))
    .unwrap();
    w.append(&Event::Output(Output::Root {
        chain: "root".into(),
        version: 2,
        sha256: crate::sha256::hex(&root.to_bytes()),
        signed_sha256: crate::sha256::hex(&root.canonical_signed().unwrap()),
    }))
    .unwrap();
    let id = root.role("root").unwrap().keyids[0].clone();
    let head = w.finish(&[(id, &key)]).unwrap();
    assert!(w
        .append(&Event::Abort(Abort {
            step: Step::Write,
            reason: "late".into()
        }))
        .is_err());
    (std::fs::read(&path).unwrap(), root, head)
}

#[test]
fn a_whole_transcript_verifies_in_both_dialects() {
    for d in [Dialect::OtaTuf, Dialect::Tuf] {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, root) = ceremony(dir.path(), d);
        let t = read(&bytes).unwrap();
        assert_eq!(t.entries.len(), 5);
        verify_against_root(&t, &root).unwrap();
        assert!(anchor_of(&root).is_some());
    }
}

#[test]
fn never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.jsonl"), b"keep").unwrap();
    assert!(TranscriptWriter::create(&dir.path().join("t.jsonl")).is_err());
    assert_eq!(std::fs::read(dir.path().join("t.jsonl")).unwrap(), b"keep");
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn join(lines: &[String]) -> Vec<u8> {
    (lines.join("\n") + "\n").into_bytes()
}

#[test]
fn deleting_reordering_or_editing_any_entry_is_detected_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, root) = ceremony(dir.path(), Dialect::Tuf);
    let original = lines(&bytes);
    let n = original.len(); // 5 entries + signed head
    for i in 0..n {
        // Delete entry i.
        let mut l = original.clone();
        l.remove(i);
        let r = read(&join(&l)).and_then(|t| verify_against_root(&t, &root));
        assert!(r.is_err(), "deleting line {}", i + 1);
        // Edit entry i (one character of its data).
        let mut l = original.clone();
        l[i] = l[i]
            .replacen("\"data\":{", "\"data\":{\"x\":1,", 1)
            .replacen("\"head\":\"", "\"head\":\"0", 1);
        assert_ne!(l[i], original[i]);
        let r = read(&join(&l)).and_then(|t| verify_against_root(&t, &root));
        assert!(r.is_err(), "editing line {}", i + 1);
        // Swap entry i with the next.
        if i + 1 < n {
            let mut l = original.clone();
            l.swap(i, i + 1);
            let r = read(&join(&l)).and_then(|t| verify_against_root(&t, &root));
            assert!(r.is_err(), "swapping lines {} and {}", i + 1, i + 2);
        }
    }
    // The first broken entry is named: editing entry 2 breaks entry 3.
    let mut l = original.clone();
    l[1] = l[1].replace("\"p.json\"", "\"q.json\"");
    assert_ne!(l[1], original[1]);
    match read(&join(&l)) {
        Err(TranscriptError::Broken { line, .. }) => assert_eq!(line, 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn another_ceremonys_head_signature_is_refused() {
    let dir1 = tempfile::tempdir().unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let (a, root_a) = ceremony(dir1.path(), Dialect::Tuf);
    let (b, _root_b) = ceremony(dir2.path(), Dialect::Tuf);
    let mut la = lines(&a);
    let lb = lines(&b);
    *la.last_mut().unwrap() = lb.last().unwrap().clone();
    let swapped = read(&join(&la)).and_then(|t| verify_against_root(&t, &root_a));
    assert!(swapped.is_err(), "b's signed head must not pass for a");
    // b's transcript, whole, does not verify against a's root.
    let tb = read(&b).unwrap();
    assert!(verify_against_root(&tb, &root_a).is_err());
}

/// Every kind, written as the signer wrote it with `json!` before the
/// events were typed: the same bytes, field for field.
#[test]
fn events_serialise_as_the_json_they_replace() {
    let cases: Vec<(Event, serde_json::Value)> = vec![
        (
            start("alice"),
            json!({"software": {"name": "signer", "version": "0.1.0", "binary_sha256": "ab".repeat(32)},
                   "machine": {"interfaces": [{"name": "lo", "state": "unknown"}], "non_loopback_interface_up": false, "swap_devices": [], "swap_on": false},
                   "operator": "alice", "witnesses": ["bob"],
                   "command": {"proposal": "proposal.json", "keys": "keys.tgz.age", "bundle": "bundle.json", "new_archive": "keys2.tgz.age", "yes": true, "force": false}}),
        ),
        (
            Event::Input(Input::Proposal {
                path: "p".into(),
                sha256: "s".into(),
                target: "t".into(),
                dialect: Dialect::OtaTuf,
                txid: None,
            }),
            json!({"what": "proposal", "path": "p", "sha256": "s", "target": "t", "dialect": "ota-tuf", "txid": null}),
        ),
        (
            Event::Input(Input::Archive {
                path: "k".into(),
                sha256: "s".into(),
                keys_held: 2,
                token_keys_recorded: 0,
            }),
            json!({"what": "archive", "path": "k", "sha256": "s", "keys_held": 2, "token_keys_recorded": 0}),
        ),
        (
            Event::Trust(Trust {
                chains: vec!["root".into()],
                first_use_confirmed: 1,
                held: vec!["h".into()],
                last_bundle_not_applied: vec![],
            }),
            json!({"chains": ["root"], "first_use_confirmed": 1, "held": ["h"]}),
        ),
        (
            Event::Tokens(Tokens {
                module: "m".into(),
                module_sha256: "s".into(),
                keys: vec![TokenKey {
                    token: "t".into(),
                    token_serial: "1".into(),
                    token_manufacturer: "SoftHSM project".into(),
                    token_model: "SoftHSM v2".into(),
                    token_pinned: true,
                    key_label: "l".into(),
                    key_id: "01".into(),
                    fingerprint: "f".into(),
                    sensitive: Some(true),
                    extractable: Some(false),
                    weak_key_accepted: false,
                    self_test: "signed and verified in software".into(),
                }],
            }),
            json!({"module": "m", "module_sha256": "s", "keys": [{"token": "t", "token_serial": "1",
                   "token_manufacturer": "SoftHSM project", "token_model": "SoftHSM v2", "token_pinned": true,
                   "key_label": "l", "key_id": "01", "fingerprint": "f", "sensitive": true,
                   "extractable": false, "weak_key_accepted": false,
                   "self_test": "signed and verified in software"}]}),
        ),
        (
            Event::KeyGenerated(KeyGenerated {
                keyid: "i".into(),
                key_type: "ed25519".into(),
                fingerprint: "f".into(),
                on_token: None,
            }),
            json!({"keyid": "i", "type": "ed25519", "fingerprint": "f"}),
        ),
        (
            Event::KeyGenerated(KeyGenerated {
                keyid: "i".into(),
                key_type: "ed25519".into(),
                fingerprint: "f".into(),
                on_token: Some(TokenLocation {
                    module_hint: "m".into(),
                    token_label: "t".into(),
                    token_serial: String::new(),
                    token_manufacturer: "x".into(),
                    token_model: String::new(),
                    key_label: "l".into(),
                    key_id: "01".into(),
                }),
            }),
            json!({"keyid": "i", "type": "ed25519", "fingerprint": "f",
                   "on_token": {"module_hint": "m", "token_label": "t", "token_manufacturer": "x", "key_label": "l", "key_id": "01"}}),
        ),
        (
            Event::ArchiveWritten(ArchiveWritten {
                path: "p".into(),
                sha256: "s".into(),
                re_decrypted_and_compared: true,
                why: "w".into(),
            }),
            json!({"path": "p", "sha256": "s", "re_decrypted_and_compared": true, "why": "w"}),
        ),
        (
            Event::Diff(Diff {
                chain: "c".into(),
                text: "t\n".into(),
                warnings: vec![],
            }),
            json!({"chain": "c", "text": "t\n", "warnings": []}),
        ),
        (
            Event::Confirmation(Confirmation {
                question: "q".into(),
                typed: "yes".into(),
            }),
            json!({"question": "q", "typed": "yes"}),
        ),
        (
            Event::Anchor(Anchor {
                entry: Some("e".into()),
                field: Some(anchor_field(Dialect::Tuf).into()),
                why: None,
            }),
            json!({"entry": "e", "in": "signed.x-ceremony.transcript"}),
        ),
        (
            Event::Anchor(Anchor {
                entry: None,
                field: None,
                why: Some("w".into()),
            }),
            json!({"entry": null, "why": "w"}),
        ),
        (
            Event::Signature(Signature {
                chain: "c".into(),
                detail: "d".into(),
            }),
            json!({"chain": "c", "detail": "d"}),
        ),
        (
            Event::SelfCheck(SelfCheck {
                chain: "c".into(),
                ok: false,
                summary: "s".into(),
                failures: vec![RuleFailure {
                    rule: "old-threshold".into(),
                    message: "m".into(),
                }],
            }),
            json!({"chain": "c", "ok": false, "summary": "s", "failures": [{"rule": "old-threshold", "message": "m"}]}),
        ),
        (
            Event::Output(Output::Root {
                chain: "c".into(),
                version: 3,
                sha256: "s".into(),
                signed_sha256: "t".into(),
            }),
            json!({"what": "root", "chain": "c", "version": 3, "sha256": "s", "signed_sha256": "t"}),
        ),
        (
            Event::Abort(Abort {
                step: Step::Confirmation,
                reason: "m".into(),
            }),
            json!({"step": "confirmation", "reason": "m"}),
        ),
    ];
    let mut kinds = std::collections::BTreeSet::new();
    let dir = tempfile::tempdir().unwrap();
    let mut w = TranscriptWriter::create(&dir.path().join("t.jsonl")).unwrap();
    let mut prev = GENESIS.to_string();
    for (i, (event, data)) in cases.iter().enumerate() {
        kinds.insert(event.kind());
        assert_eq!(&event.data(), data, "{}", event.kind());
        let head = w.append(event).unwrap();
        // The line as the writer wrote it before events were typed.
        let mut entry = serde_json::Map::new();
        if i == 0 {
            entry.insert("format".into(), json!(TRANSCRIPT_FORMAT));
        }
        let written = std::fs::read_to_string(dir.path().join("t.jsonl")).unwrap();
        let line = written.lines().last().unwrap();
        let time: serde_json::Value = serde_json::from_str(line).unwrap();
        entry.insert("seq".into(), json!(i + 1));
        entry.insert("time".into(), time["time"].clone());
        entry.insert("prev".into(), json!(prev));
        entry.insert("kind".into(), json!(event.kind()));
        entry.insert("data".into(), data.clone());
        assert_eq!(line, serde_json::to_string(&entry).unwrap());
        prev = head;
        // And it reads back as the same event.
        assert_eq!(&Event::decode(event.kind(), data.clone()).unwrap(), event);
    }
    assert_eq!(kinds.len(), Event::KINDS.len(), "every kind is covered");
}

#[test]
fn an_unknown_kind_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = ceremony(dir.path(), Dialect::Tuf);
    let mut l = lines(&bytes);
    // Renamed in the last entry and its successor's link fixed, so only the
    // kind is wrong; the signed head is dropped.
    l.pop();
    l[4] = l[4].replacen("\"kind\":\"output\"", "\"kind\":\"launch\"", 1);
    match read(&join(&l)) {
        Err(e @ TranscriptError::UnknownKind { line: 5, .. }) => {
            assert!(e.to_string().contains("\"launch\""), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // A known kind without its fields is refused too.
    let mut l = lines(&bytes);
    l.pop();
    l[4] = l[4].replacen("\"signed_sha256\"", "\"signed\"", 1);
    assert!(matches!(
        read(&join(&l)),
        Err(TranscriptError::Fields { line: 5, .. })
    ));
}

/// A bundle as the signer writes it: `root` for the chain `root`, the
/// proposal the test ceremonies read, and `head`.
fn bundle_of(root: &RootMetadata, head: &serde_json::Value) -> Vec<u8> {
    crate::bundle::Bundle {
        format: crate::bundle::BUNDLE_FORMAT.into(),
        proposal_sha256: crate::sha256::hex(PROPOSAL),
        dialect: root.dialect(),
        target: crate::proposal::Target::TufDir {
            path: "repo".into(),
        },
        txid: None,
        roots: vec![crate::bundle::SignedRoot {
            name: "root".into(),
            root: root.envelope().clone(),
        }],
        new_keys: vec![],
        complete: true,
        missing: vec![],
        transcript_head: Some(head.clone()),
        targets_signatures: Default::default(),
        waves_signatures: Default::default(),
    }
    .to_bytes()
}

fn checks<'a>(artefacts: &'a [(String, Vec<u8>)], chain_only: bool) -> Checks<'a> {
    Checks {
        root: None,
        artefacts,
        chain_only,
    }
}

#[test]
fn a_hash_counts_only_in_the_field_of_its_kind() {
    // The online side picks the txid: it names the sha256 of a file the
    // ceremony never read. That file is not recorded; the proposal is, as
    // the proposal read.
    let other = b"a file the ceremony never saw".to_vec();
    let dir = tempfile::tempdir().unwrap();
    let (bytes, root, _) =
        ceremony_with(dir.path(), Dialect::Tuf, Some(crate::sha256::hex(&other)));
    assert!(String::from_utf8_lossy(&bytes).contains(&crate::sha256::hex(&other)));
    let artefacts = vec![
        ("other".to_string(), other),
        ("p.json".to_string(), PROPOSAL.to_vec()),
        ("2.root.json".to_string(), root.to_bytes()),
    ];
    let authority = Authority::Root(root.clone());
    let v = verify(
        &bytes,
        &Checks {
            root: Some(("2.root.json", &authority)),
            artefacts: &artefacts,
            chain_only: false,
        },
    );
    assert_eq!(v.verdict(), Verdict::Verified, "{}", v.summary());
    assert_eq!(v.artefacts[0].found, Found::NotFound);
    assert_eq!(
        v.artefacts[1].found,
        Found::Entry {
            seq: 2,
            what: "the proposal read".into()
        }
    );
    assert_eq!(
        v.artefacts[2].found,
        Found::Entry {
            seq: 5,
            what: "the new root v2 of chain root, written".into()
        }
    );
    assert!(!v.ok(), "an artefact is not recorded");
    assert!(v.summary().contains("NOT FOUND other"), "{}", v.summary());
    // Text of a diff or a message does not count either.
    let dir = tempfile::tempdir().unwrap();
    let mut w = TranscriptWriter::create(&dir.path().join("t.jsonl")).unwrap();
    w.append(&start("alice")).unwrap();
    w.append(&Event::Diff(Diff {
        chain: "root".into(),
        text: crate::sha256::hex(PROPOSAL),
        warnings: vec![crate::sha256::hex(PROPOSAL)],
    }))
    .unwrap();
    let bytes = std::fs::read(dir.path().join("t.jsonl")).unwrap();
    let artefacts = vec![("p.json".to_string(), PROPOSAL.to_vec())];
    let v = verify(&bytes, &checks(&artefacts, true));
    assert_eq!(v.artefacts[0].found, Found::NotFound);
}

#[test]
fn without_a_root_nothing_is_authenticated() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = ceremony(dir.path(), Dialect::OtaTuf);
    let v = verify(&bytes, &checks(&[], false));
    assert_eq!(v.verdict(), Verdict::NotAuthenticated);
    assert!(!v.ok());
    assert!(
        v.summary().contains("NOT AUTHENTICATED") && v.summary().contains("--chain-only"),
        "{}",
        v.summary()
    );
    // The chain alone, when asked for by name.
    let v = verify(&bytes, &checks(&[], true));
    assert_eq!(v.verdict(), Verdict::ChainOnly);
    assert!(v.ok());
    assert!(v.summary().contains("chain alone"), "{}", v.summary());
}

#[test]
fn a_bundle_of_this_ceremony_authenticates_and_another_is_refused() {
    for d in [Dialect::OtaTuf, Dialect::Tuf] {
        let dir1 = tempfile::tempdir().unwrap();
        let dir2 = tempfile::tempdir().unwrap();
        let (a, root_a, head_a) = ceremony_with(dir1.path(), d, None);
        let (_, root_b, head_b) = ceremony_with(dir2.path(), d, None);
        let artefacts = vec![("bundle.json".to_string(), bundle_of(&root_a, &head_a))];
        let v = verify(&a, &checks(&artefacts, false));
        assert_eq!(v.artefacts[0].found, Found::Bundle, "{}", v.summary());
        assert_eq!(v.verdict(), Verdict::Verified, "{}", v.summary());
        assert!(v.ok());
        assert_eq!(v.authenticated[0].recorded_as, Some(5));
        assert_eq!(v.authenticated[0].head.anchor_seq, 3);
        // The bundle as --root does the same.
        let authority = Authority::Bundle(Box::new(
            crate::bundle::Bundle::from_slice(&artefacts[0].1).unwrap(),
        ));
        let v = verify(
            &a,
            &Checks {
                root: Some(("bundle.json", &authority)),
                ..checks(&[], false)
            },
        );
        assert_eq!(v.verdict(), Verdict::Verified, "{}", v.summary());

        // Another ceremony's bundle, whole: its head is not this one's.
        let refused = |bundle: Vec<u8>, why: &str| {
            let artefacts = vec![("b.json".to_string(), bundle)];
            let v = verify(&a, &checks(&artefacts, false));
            match &v.artefacts[0].found {
                Found::BundleRefused(r) => assert!(r.contains(why), "{why}: {r}"),
                other => panic!("{why}: {other:?}"),
            }
            assert_eq!(v.verdict(), Verdict::NotAuthenticated);
            assert!(!v.ok());
            assert!(
                v.summary().contains("NOT THIS CEREMONY'S b.json"),
                "{}",
                v.summary()
            );
        };
        refused(bundle_of(&root_b, &head_b), "another ceremony");
        // This ceremony's head over another ceremony's root.
        refused(
            bundle_of(&root_b, &head_a),
            "not a root this transcript records",
        );
        // This ceremony's root re-signed after an edit of its signed part.
        let mut edited = root_a.clone();
        edited.set_expires(time::OffsetDateTime::now_utc() + time::Duration::days(900));
        refused(
            bundle_of(&edited, &head_a),
            "not a root this transcript records",
        );
        // Another proposal.
        let mut b: serde_json::Value =
            serde_json::from_slice(&bundle_of(&root_a, &head_a)).unwrap();
        b["proposal_sha256"] = json!("00".repeat(32));
        refused(serde_json::to_vec(&b).unwrap(), "answers the proposal");
        // No head at all.
        b = serde_json::from_slice(&bundle_of(&root_a, &head_a)).unwrap();
        b.as_object_mut().unwrap().remove("transcript_head");
        refused(serde_json::to_vec(&b).unwrap(), "no transcript head");
        // As --root, the same bundle is a problem: the transcript does not verify.
        let authority = Authority::Bundle(Box::new(
            crate::bundle::Bundle::from_slice(&bundle_of(&root_b, &head_b)).unwrap(),
        ));
        let v = verify(
            &a,
            &Checks {
                root: Some(("b.json", &authority)),
                ..checks(&[], false)
            },
        );
        assert_eq!(v.verdict(), Verdict::Broken, "{}", v.summary());
        assert!(v.summary().contains("another ceremony"), "{}", v.summary());
    }
}

#[test]
fn an_aborted_ceremony_is_reported_as_aborted_and_a_cut_one_as_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = TranscriptWriter::create(&dir.path().join("t.jsonl")).unwrap();
    w.append(&start("alice")).unwrap();
    w.append(&Event::Abort(Abort {
        step: Step::Confirmation,
        reason: "not confirmed (you typed \"no\")".into(),
    }))
    .unwrap();
    let bytes = std::fs::read(dir.path().join("t.jsonl")).unwrap();
    for chain_only in [false, true] {
        let v = verify(&bytes, &checks(&[], chain_only));
        assert_eq!(v.verdict(), Verdict::Aborted);
        assert!(!v.ok());
        assert!(
            v.summary()
                .contains("aborted at confirmation: not confirmed (you typed \"no\")"),
            "{}",
            v.summary()
        );
    }
    // An abort before the end is not what the signer writes.
    w.append(&start("mallory")).unwrap();
    let bytes = std::fs::read(dir.path().join("t.jsonl")).unwrap();
    let v = verify(&bytes, &checks(&[], true));
    assert!(
        matches!(v.problem, Some(TranscriptError::Broken { line: 3, .. })),
        "{}",
        v.summary()
    );

    // A finished transcript without its last lines: incomplete.
    let dir = tempfile::tempdir().unwrap();
    let (bytes, root) = ceremony(dir.path(), Dialect::Tuf);
    let mut l = lines(&bytes);
    l.truncate(3);
    let authority = Authority::Root(root);
    for chain_only in [false, true] {
        let v = verify(
            &join(&l),
            &Checks {
                root: (!chain_only).then_some(("2.root.json", &authority)),
                ..checks(&[], chain_only)
            },
        );
        assert_eq!(v.verdict(), Verdict::Incomplete, "{}", v.summary());
        assert!(!v.ok());
        assert!(
            v.summary()
                .contains("INCOMPLETE: it ends at entry 3 (confirmation)"),
            "{}",
            v.summary()
        );
    }
}

#[test]
fn the_message_shown_is_kept_whole_and_a_marker_in_it_is_refused() {
    let key = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
    let anchor = "ab".repeat(32);
    let mut root = root_with(&key, Dialect::OtaTuf);
    root.set_extension(
        "x-changelog",
        json!({"message": "yearly rotation", "polis-id": "p"}),
    );
    check_anchorable(&root).unwrap();
    set_anchor(&mut root, &anchor);
    assert_eq!(
        root.signed()["x-changelog"],
        json!({"message": format!("yearly rotation [tuf-ceremony transcript {anchor}]"), "polis-id": "p"})
    );
    assert_eq!(anchor_of(&root), Some(anchor.clone()));

    // A staged message that carries a marker: refused before anything, and
    // never cut if set anyway.
    let planted = format!(
        "rotate [tuf-ceremony transcript {}] thanks",
        "cd".repeat(32)
    );
    let mut root = root_with(&key, Dialect::OtaTuf);
    root.set_extension("x-changelog", json!({ "message": planted }));
    let e = check_anchorable(&root).unwrap_err();
    assert!(matches!(e, TranscriptError::MarkerInMessage { .. }));
    assert!(e.to_string().contains("--message"), "{e}");
    set_anchor(&mut root, &anchor);
    let message = root.signed()["x-changelog"]["message"].as_str().unwrap();
    assert!(message.starts_with(&planted), "{message}");
    // Two markers anchor nothing, and a marker not at the end is not ours.
    assert_eq!(anchor_of(&root), None);
    let mut root = root_with(&key, Dialect::OtaTuf);
    root.set_extension(
        "x-changelog",
        json!({ "message": format!("[tuf-ceremony transcript {anchor}] later text") }),
    );
    assert_eq!(anchor_of(&root), None);

    // TUF: the anchor's member is set; the rest of x-ceremony is kept.
    let mut root = root_with(&key, Dialect::Tuf);
    root.set_extension("x-ceremony", json!({"transcript": "old", "note": "kept"}));
    check_anchorable(&root).unwrap();
    set_anchor(&mut root, &anchor);
    assert_eq!(
        root.signed()["x-ceremony"],
        json!({"transcript": anchor, "note": "kept"})
    );
}

#[test]
fn hostile_characters_are_written_as_json_escapes_and_the_chain_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let mut w = TranscriptWriter::create(&path).unwrap();
    let hostile = "tx\u{1b}[2J\u{85}\u{7f}\u{202e}\u{200b}\u{2066}end";
    w.append(&Event::Input(Input::Proposal {
        path: "p.json".into(),
        sha256: crate::sha256::hex(b"p"),
        target: hostile.into(),
        dialect: Dialect::Tuf,
        txid: Some(hostile.into()),
    }))
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        !text
            .chars()
            .any(|c| crate::untrusted::is_dangerous(c) && c != '\n'),
        "{text:?}"
    );
    assert!(
        text.contains(r"\u001b[2J\u0085\u007f\u202e\u200b\u2066"),
        "{text}"
    );
    // The entry reads back as what was recorded, and its hash is of the
    // line as written.
    let t = read(&bytes).unwrap();
    assert_eq!(t.entries.len(), 1);
    assert_eq!(
        t.entries[0].hash,
        crate::sha256::hex(text.trim_end().as_bytes())
    );
    match &t.entries[0].event {
        Event::Input(Input::Proposal { txid, .. }) => assert_eq!(txid.as_deref(), Some(hostile)),
        other => panic!("read back as {other:?}"),
    }
}

#[test]
fn an_abort_before_the_review_names_its_step() {
    // The operator's abort at the passphrase, a first use or a PIN comes
    // before the review: the entry names that step, as written and read.
    for (step, name) in [
        (Step::Trust, "trust"),
        (Step::Tokens, "tokens"),
        (Step::NewKeys, "new-keys"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut w = TranscriptWriter::create(&dir.path().join("t.jsonl")).unwrap();
        w.append(&start("alice")).unwrap();
        w.append(&Event::Abort(Abort {
            step,
            reason: "aborted by the operator (Ctrl-C) at the passphrase prompt for k.age".into(),
        }))
        .unwrap();
        let bytes = std::fs::read(dir.path().join("t.jsonl")).unwrap();
        assert!(
            String::from_utf8_lossy(&bytes).contains(&format!("\"step\":\"{name}\"")),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        let v = verify(&bytes, &checks(&[], true));
        assert_eq!(v.verdict(), Verdict::Aborted, "{}", v.summary());
        assert!(
            v.summary().contains(&format!(
                "aborted at {name}: aborted by the operator (Ctrl-C)"
            )),
            "{}",
            v.summary()
        );
    }
}
