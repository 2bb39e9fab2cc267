//! The diff a signer reads before approving: on a real python-tuf rotation it
//! names every key added and removed with type, size and fingerprint, each
//! role's threshold, and any other field that changed.

use ceremony::diff::RootDiff;
use ceremony::{Dialect, RootMetadata};
use ceremony_tests::{aktualizr_vectors, python_histories};
use serde_json::json;

fn load(case: &str, n: u64) -> RootMetadata {
    let p = python_histories().join(case).join(format!("{n}.root.json"));
    RootMetadata::from_slice(&std::fs::read(p).unwrap(), Some(Dialect::Tuf)).unwrap()
}

#[test]
fn diff_of_a_three_key_rotation() {
    // valid-rotations v2 -> v3 replaces all three root keys.
    let (old, new) = (load("valid-rotations", 2), load("valid-rotations", 3));
    let d = RootDiff::between(&old, &new);
    assert_eq!(d.version, (Some(2), Some(3)));
    assert_eq!(d.keys_added.len(), 3);
    assert_eq!(d.keys_removed.len(), 3);
    for k in d.keys_added.iter().chain(&d.keys_removed) {
        let fp = k.fingerprint.as_deref().unwrap();
        assert_eq!(fp.len(), 64);
        assert!(
            ["ed25519", "ecdsa-p256"].contains(&k.description.as_str())
                || k.description.starts_with("rsa-")
        );
    }
    let root = d.roles.iter().find(|r| r.role == "root").unwrap();
    assert_eq!(root.threshold, (Some(2), Some(2)));
    assert_eq!((root.added.len(), root.removed.len()), (3, 3));
    let text = d.to_string();
    assert!(text.contains("version:  2 -> 3"), "{text}");
    for k in &d.keys_added {
        assert!(text.contains(k.fingerprint.as_deref().unwrap()), "{text}");
    }
    assert!(text.contains("role timestamp"), "{text}");
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
    assert_eq!(d.fields.len(), 1);
    assert_eq!(d.fields[0].field, "x-changelog");
    assert_eq!(d.fields[0].before, None);
    let t = d.roles.iter().find(|r| r.role == "targets").unwrap();
    assert_eq!(t.threshold, (Some(1), Some(2)));
    let text = d.to_string();
    assert!(text.contains("threshold 1 of 1 -> 2 of 2"), "{text}");
    assert!(text.contains("field x-changelog"), "{text}");
    assert!(
        text.contains("role root      threshold 1 of 1  (unchanged)"),
        "{text}"
    );
}
