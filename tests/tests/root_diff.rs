//! The diff a signer reads before approving: on a real python-tuf rotation it
//! names every key added and removed with type, size and fingerprint, each
//! role's threshold, and any other field that changed.

use ceremony::diff::{apply, key_description, Edit, RootDiff};
use ceremony::keys::PublicKey;
use ceremony::{Dialect, RootMetadata};
use ceremony_tests::{aktualizr_vectors, python_histories};
use serde_json::json;

fn load(case: &str, n: u64) -> RootMetadata {
    let p = python_histories().join(case).join(format!("{n}.root.json"));
    RootMetadata::from_slice(&std::fs::read(p).unwrap(), Some(Dialect::Tuf)).unwrap()
}

fn key_edits(d: &RootDiff, add: bool) -> Vec<(String, serde_json::Value)> {
    d.script
        .edits()
        .iter()
        .filter_map(|e| {
            let segs = e.path().segments();
            let keyed = segs.len() == 3 && segs[0] == "signed" && segs[1] == "keys";
            match e {
                Edit::Add { value, .. } if keyed && add => Some((segs[2].clone(), value.clone())),
                Edit::Remove { old, .. } if keyed && !add => Some((segs[2].clone(), old.clone())),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn diff_of_a_three_key_rotation() {
    // valid-rotations v2 -> v3 replaces all three root keys.
    let (old, new) = (load("valid-rotations", 2), load("valid-rotations", 3));
    let d = RootDiff::between(&old, &new);
    let text = d.to_string();
    assert!(text.contains("version:  2 -> 3"), "{text}");
    let (added, removed) = (key_edits(&d, true), key_edits(&d, false));
    assert_eq!((added.len(), removed.len()), (3, 3), "{text}");
    for (id, obj) in added.iter().chain(&removed) {
        let k = PublicKey::from_key_object(obj, Dialect::Tuf).unwrap();
        let desc = key_description(&k);
        assert!(["ed25519", "ecdsa-p256"].contains(&desc.as_str()) || desc.starts_with("rsa-"));
        // The full id and the full fingerprint, never a short form alone.
        let sign = if added.iter().any(|(a, _)| a == id) { "+" } else { "-" };
        assert!(
            text.contains(&format!("  {sign} key {id}  {desc}  fingerprint {}", k.fingerprint())),
            "{text}"
        );
        assert!(text.contains(&format!("      {sign} {id}\n")), "{text}");
    }
    assert!(text.contains("role root      threshold 2 of 3\n"), "{text}");
    assert!(text.contains("role timestamp"), "{text}");
    // The script gives the new root exactly.
    let applied = apply(old.envelope(), &d.script).unwrap();
    let applied = RootMetadata::from_value(applied, Dialect::Tuf).unwrap();
    assert_eq!(applied.canonical_signed().unwrap(), new.canonical_signed().unwrap());
}

#[test]
fn diff_names_changed_unknown_fields_and_thresholds() {
    let bytes = std::fs::read(aktualizr_vectors().join("tests_tuf_sample1_root.json")).unwrap();
    let old = RootMetadata::from_slice(&bytes, Some(Dialect::OtaTuf)).unwrap();
    let mut new = old.clone();
    new.set_extension("x-changelog", json!({"message": "rotate"}));
    let mut targets = new.role("targets").unwrap();
    targets.threshold = 2;
    targets.keyids.push(targets.keyids[0].clone());
    new.set_role("targets", &targets);
    let d = RootDiff::between(&old, &new);
    let text = d.to_string();
    // A duplicated key id is not what "+ id" lines can say: the list is
    // printed as it is, and the threshold line says what it can.
    assert!(text.contains("threshold 1 of 1 -> (not readable: see below)"), "{text}");
    assert!(text.contains("  field signed.roles.targets.keyids:\n"), "{text}");
    assert!(text.contains("  field signed.roles.targets.threshold:\n      before: 1\n      after:  2\n"), "{text}");
    assert!(
        text.contains("  field signed.x-changelog:\n      before: (none)\n      after:  {\"message\":\"rotate\"}\n"),
        "{text}"
    );
    assert!(
        text.contains("role root      threshold 1 of 1  (unchanged)"),
        "{text}"
    );
}

#[test]
fn a_plain_threshold_change_is_said_on_the_role_line() {
    let bytes = std::fs::read(aktualizr_vectors().join("tests_tuf_sample1_root.json")).unwrap();
    let old = RootMetadata::from_slice(&bytes, Some(Dialect::OtaTuf)).unwrap();
    let mut new = old.clone();
    let mut targets = new.role("targets").unwrap();
    targets.threshold = 2;
    new.set_role("targets", &targets);
    let text = RootDiff::between(&old, &new).to_string();
    assert!(text.contains("role targets   threshold 1 of 1 -> 2 of 1\n"), "{text}");
    assert!(!text.contains("field signed.roles"), "{text}");
}

#[test]
fn a_targets_key_swapped_under_its_id_is_shown_and_refused() {
    // The attack of issue 12: the staged root keeps the targets key id and
    // changes the key. The old diff said "(unchanged)".
    let bytes = std::fs::read(aktualizr_vectors().join("tests_tuf_sample1_root.json")).unwrap();
    let old = RootMetadata::from_slice(&bytes, Some(Dialect::OtaTuf)).unwrap();
    let id = old.role("targets").unwrap().keyids[0].clone();
    let other = ceremony::keys::PrivateKey::generate(ceremony::keys::NewKeyType::Ed25519)
        .unwrap()
        .public_key();
    let mut env = old.envelope().clone();
    env["signed"]["keys"][&id] = other.to_key_object(Dialect::OtaTuf);
    let new = RootMetadata::from_value(env, Dialect::OtaTuf).unwrap();
    let text = RootDiff::between(&old, &new).to_string();
    assert!(!text.contains("role targets   threshold 1 of 1  (unchanged)"), "{text}");
    assert!(text.contains(&format!("! key {id}: ITS CONTENT CHANGES UNDER THE SAME ID")), "{text}");
    let after = other.to_key_object(Dialect::OtaTuf);
    assert!(text.contains(&format!("after:  {}", serde_json::to_string(&after["keytype"]).unwrap())) || text.contains(&serde_json::to_string(&after["keyval"]["public"]).unwrap()), "{text}");
    let err = ceremony::diff::check_same_ids(&old, "current", &new, "staged").unwrap_err();
    assert!(err.to_string().contains(&id), "{err}");
}
