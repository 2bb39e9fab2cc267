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
        let sign = if added.iter().any(|(a, _)| a == id) {
            "+"
        } else {
            "-"
        };
        assert!(
            text.contains(&format!(
                "  {sign} key {id}  {desc}  fingerprint {}",
                k.fingerprint()
            )),
            "{text}"
        );
        assert!(text.contains(&format!("      {sign} {id}\n")), "{text}");
    }
    assert!(text.contains("role root      threshold 2 of 3\n"), "{text}");
    assert!(text.contains("role timestamp"), "{text}");
    // The script gives the new root exactly.
    let applied = apply(old.envelope(), &d.script).unwrap();
    let applied = RootMetadata::from_value(applied, Dialect::Tuf).unwrap();
    assert_eq!(
        applied.canonical_signed().unwrap(),
        new.canonical_signed().unwrap()
    );
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
    assert!(
        text.contains("threshold 1 of 1 -> (not readable: see below)"),
        "{text}"
    );
    assert!(
        text.contains("  field signed.roles.targets.keyids:\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  field signed.roles.targets.threshold:\n      before: 1\n      after:  2\n"
        ),
        "{text}"
    );
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
    assert!(
        text.contains("role targets   threshold 1 of 1 -> 2 of 1\n"),
        "{text}"
    );
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
    assert!(
        !text.contains("role targets   threshold 1 of 1  (unchanged)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "! key {id}: ITS CONTENT CHANGES UNDER THE SAME ID"
        )),
        "{text}"
    );
    let after = other.to_key_object(Dialect::OtaTuf);
    assert!(
        text.contains(&format!(
            "after:  {}",
            serde_json::to_string(&after["keytype"]).unwrap()
        )) || text.contains(&serde_json::to_string(&after["keyval"]["public"]).unwrap()),
        "{text}"
    );
    let err = ceremony::diff::check_same_ids(&old, "current", &new, "staged").unwrap_err();
    assert!(err.to_string().contains(&id), "{err}");
}

// ---- Through the binaries: what the operator sees and what is refused. ----

mod binaries {
    use ceremony_tests::prelude::*;
    use serde_json::{json, Value};

    fn entries(dir: &std::path::Path, kind: &str) -> Vec<Value> {
        let name = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .find(|n| n.ends_with(".jsonl"))
            .expect("a transcript");
        std::fs::read_to_string(dir.join(name))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["kind"] == kind)
            .collect()
    }

    #[test]
    fn a_factory_ceremony_frames_the_servers_part_and_confirms_it_apart() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let f = imported_factory_with_proposal(dir, false);
        let out = signer(dir, SignArgs::new());
        let all = ok(&out);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        // The staged root's changes, in their own frame, for ci only (prod
        // has no staged root of its own here but is derived from ci, so its
        // server part is what it takes from ci's staged root).
        assert!(
            stdout.contains("!! PREPARED BY THE SERVER, NOT BY THIS CEREMONY"),
            "{all}"
        );
        assert!(stdout.contains("!!   version:  1 -> 2\n"), "{all}");
        assert!(stdout.contains("!!   field signed.x-changelog:\n"), "{all}");
        // This ceremony's part, from the staged root: the root key rotation
        // by full id, and the anchor named before it is set.
        let old_id = f.root_key_id();
        assert!(
            stdout.contains(&format!("  - key {old_id}  ed25519  fingerprint ")),
            "{all}"
        );
        assert!(stdout.contains(&format!("      - {old_id}\n")), "{all}");
        assert!(
            stdout.contains("field signed.x-changelog.message: this ceremony's transcript anchor, set after you confirm"),
            "{all}"
        );
        assert!(stdout.contains("  edit script: "), "{all}");
        // Two confirmations, recorded apart: the server's part, then the whole.
        let confirmations = entries(dir, "confirmation");
        assert_eq!(confirmations.len(), 2, "{confirmations:?}");
        let q = |i: usize| {
            confirmations[i]["data"]["question"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert!(
            q(0).contains("The server prepared") && q(0).contains("ci"),
            "{}",
            q(0)
        );
        assert!(q(1).starts_with("Sign this?"), "{}", q(1));
        // What was shown is what the transcript records, script hash included.
        let diffs = entries(dir, "diff");
        assert_eq!(diffs.len(), 2);
        for d in &diffs {
            let text = d["data"]["text"].as_str().unwrap();
            assert!(text.contains("PREPARED BY THE SERVER"), "{text}");
            assert!(stdout.contains(text), "{text}");
        }
    }

    fn swap_targets_key(p: &mut ceremony::proposal::Proposal) -> String {
        let staged = p.chains[0].staged.as_mut().unwrap();
        let id = staged["signed"]["roles"]["targets"]["keyids"][0]
            .as_str()
            .unwrap()
            .to_string();
        let other = key(false).public_key();
        staged["signed"]["keys"][&id] = other.to_key_object(ceremony::Dialect::OtaTuf);
        id
    }

    #[test]
    fn a_staged_targets_key_swapped_under_its_id_is_refused_before_anything() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let f = OtaFactory::new(false);
        f.import(dir, Vec::new());
        let mut p = f.rotation();
        let id = swap_targets_key(&mut p);
        write_proposal(dir, "proposal.json", &p);
        let before = hash_dir(dir);
        for args in [
            SignArgs::new().to_vec(),
            vec!["review".to_string(), "proposal.json".to_string()],
        ] {
            let out = signer(dir, &args);
            let t = text(&out);
            assert_eq!(out.status.code(), Some(3), "{args:?}\n{t}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains(&id) && stderr.contains("different content"),
                "{t}"
            );
            assert!(!t.contains("Sign this?"), "{t}");
            assert_eq!(hash_dir(dir), before, "{t}");
        }
    }

    #[test]
    fn review_shows_the_same_sections_with_full_ids() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let f = imported_factory_with_proposal(dir, false);
        // A provided key, made elsewhere, with a holder name that tries to
        // draw a line of its own.
        let mut p = f.rotation();
        let other = key(false).public_key();
        p.change.add_keys = 1;
        p.change.provided_keys = vec![ceremony::proposal::ProvidedKey {
            key: other.to_key_object(ceremony::Dialect::OtaTuf),
            holder: Some("bob\n  role root      threshold 1 of 1  (unchanged)".into()),
        }];
        write_proposal(dir, "proposal.json", &p);
        let out = signer(dir, ["review", "proposal.json"]);
        let all = ok(&out);
        assert!(
            all.contains("!! PREPARED BY THE SERVER, NOT BY THIS CEREMONY"),
            "{all}"
        );
        assert!(
            all.contains(&format!(
                "  + key {}  ed25519  fingerprint {}\n        provided by the proposal, made \
                 elsewhere; holder name as claimed, unverified: bob\\u{{a}}  role root",
                other.fingerprint(),
                other.fingerprint()
            )),
            "{all}"
        );
        assert!(
            all.contains("  + key <new key 1>  ed25519  (generated when signing)"),
            "{all}"
        );
        assert!(
            all.contains("if this holder completes the root alone"),
            "{all}"
        );
        let _ = json!(null);
    }

    #[test]
    fn a_tuf_key_listed_under_an_id_not_its_own_is_refused_before_anything() {
        let c = Ceremony::new();
        let d = c.path();
        let mut p = c.json("proposal.json");
        let cur = &mut p["chains"][0]["current"];
        let id = cur["signed"]["roles"]["targets"]["keyids"][0]
            .as_str()
            .unwrap()
            .to_string();
        // The same key under another id: python-tuf would not compute it.
        // (Its last digit changed: to 1 where it already is 0, or the "wrong"
        // id would be the right one, one run in 16.)
        let last = if id.ends_with('0') { '1' } else { '0' };
        let wrong = format!("{}{last}", &id[..63]);
        let obj = cur["signed"]["keys"][&id].clone();
        let keys = cur["signed"]["keys"].as_object_mut().unwrap();
        keys.shift_remove(&id);
        keys.insert(wrong.clone(), obj);
        for role in ["targets", "snapshot", "timestamp"] {
            let ids = cur["signed"]["roles"][role]["keyids"]
                .as_array_mut()
                .unwrap();
            for i in ids.iter_mut() {
                if i == &json!(id) {
                    *i = json!(wrong);
                }
            }
        }
        // Signed by the real root key, so that it verifies on its own.
        let mut root =
            ceremony::RootMetadata::from_value(cur.clone(), ceremony::Dialect::Tuf).unwrap();
        root.clear_signatures();
        let root_id = root.find_key_id(&c.root_key.public_key()).unwrap();
        root.sign(&root_id, &c.root_key).unwrap();
        *cur = root.envelope().clone();
        std::fs::write(d.join("p2.json"), serde_json::to_vec_pretty(&p).unwrap()).unwrap();
        let before = hash_dir(d);
        let args = SignArgs::new()
            .proposal("p2.json")
            .out("b2.json")
            .new_archive(Some("n2.tgz.age"));
        for args in [args.to_vec(), vec!["review".into(), "p2.json".into()]] {
            let out = signer(d, &args);
            let t = text(&out);
            assert_eq!(out.status.code(), Some(3), "{args:?}\n{t}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains(&wrong) && stderr.contains("that key's id"),
                "{t}"
            );
            assert_eq!(hash_dir(d), before, "{t}");
        }
    }
}
