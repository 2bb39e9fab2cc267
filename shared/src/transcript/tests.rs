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

/// Writes a five-entry transcript anchored after entry 3; returns its
/// bytes and the root that anchors it.
fn ceremony(dir: &Path, dialect: Dialect) -> (Vec<u8>, RootMetadata) {
    let key = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
    let path = dir.join("t.jsonl");
    let mut w = TranscriptWriter::create(&path).unwrap();
    w.append(&start("alice")).unwrap();
    w.append(&Event::Input(Input::Proposal {
        path: "p.json".into(),
        sha256: "ab".into(),
        target: "t".into(),
        dialect,
        txid: None,
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
        sha256: "cd".into(),
        signed_sha256: "ef".into(),
    }))
    .unwrap();
    let id = root.role("root").unwrap().keyids[0].clone();
    w.finish(&[(id, &key)]).unwrap();
    assert!(w
        .append(&Event::Error(Aborted {
            message: "late".into()
        }))
        .is_err());
    (std::fs::read(&path).unwrap(), root)
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
    l[1] = l[1].replace("\"ab\"", "\"ac\"");
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
            Event::Error(Aborted {
                message: "m".into(),
            }),
            json!({"message": "m"}),
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
