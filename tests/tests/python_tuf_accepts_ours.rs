//! Roots that our library builds and signs are accepted by python-tuf's
//! TrustedMetadataSet: we fork python-tuf's own history at v2 (root keys
//! ecdsa, rsa-3072, ecdsa) and at v5 (ed25519, ed25519, rsa-4096), rotate with
//! `ceremony::rotation` and sign with the old keys (PKCS#8 PEM written by
//! python's `cryptography`) and new Ed25519 keys, twice in a row, and ask
//! python-tuf to walk the result.

use std::path::Path;

use ceremony::keys::{NewKeyType, PrivateKey};
use ceremony::proposal::{Chain, Change, Proposal, Rotate, Target, PROPOSAL_FORMAT};
use ceremony::root::format_expires;
use ceremony::rotation::plan;
use ceremony::rules::check_step;
use ceremony::{Dialect, RootMetadata};
use ceremony_tests::{python_histories, run_python};
use time::{Duration, OffsetDateTime};

fn held_keys() -> Vec<PrivateKey> {
    let dir = python_histories().join("valid-rotations/keys");
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "pem").then(|| {
                PrivateKey::from_pkcs8_pem(&std::fs::read_to_string(&p).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            })
        })
        .collect()
}

/// Rotates `rotate` of the current root's keys (or all) to fresh Ed25519
/// keys, signs with every held old key and every new key, and writes
/// N+1.root.json into `dir`.
fn rotate_once(dir: &Path, rotate: Rotate, held: &mut Vec<PrivateKey>) -> u64 {
    let n = (1..)
        .take_while(|n| dir.join(format!("{n}.root.json")).exists())
        .last()
        .unwrap();
    let current_bytes = std::fs::read(dir.join(format!("{n}.root.json"))).unwrap();
    let current = RootMetadata::from_slice(&current_bytes, Some(Dialect::Tuf)).unwrap();
    let now = OffsetDateTime::now_utc();
    let proposal = Proposal {
        format: PROPOSAL_FORMAT.into(),
        dialect: Dialect::Tuf,
        target: Target::TufDir {
            path: dir.display().to_string(),
        },
        txid: None,
        created: format_expires(now),
        chains: vec![Chain {
            name: "root".into(),
            current: current.envelope().clone(),
            staged: None,
            history: Vec::new(),
        }],
        change: Change {
            rotate: Some(rotate),
            expires: format_expires(now + Duration::days(365)),
            ..Change::default()
        },
        polis_id: None,
        resign: None,
    };
    let needed = ceremony::rotation::keys_needed(&proposal).unwrap();
    let new_keys: Vec<PrivateKey> = (0..needed)
        .map(|_| PrivateKey::generate(NewKeyType::Ed25519).unwrap())
        .collect();
    let publics: Vec<_> = new_keys.iter().map(PrivateKey::public_key).collect();
    let mut plans = plan(&proposal, &publics, now).unwrap();
    let mut p = plans.remove(0);
    for k in held.iter() {
        if let Some(id) = current.find_key_id(&k.public_key()) {
            if current.role("root").unwrap().keyids.contains(&id) {
                p.new.sign(&id, k).unwrap();
            }
        }
    }
    for k in &new_keys {
        let id = p.new.find_key_id(&k.public_key()).unwrap();
        p.new.sign(&id, k).unwrap();
    }
    let verdict = check_step(Some(&current), &p.new, Some(now));
    assert!(verdict.ok(), "{:#?}", verdict.failures);
    std::fs::write(dir.join(format!("{}.root.json", n + 1)), p.new.to_bytes()).unwrap();
    held.extend(new_keys);
    n + 1
}

fn python_tuf_accepts(dir: &Path, expect_version: u64) {
    let out = run_python("verify_with_python_tuf.py", &[dir.as_os_str()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python-tuf refused: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["ok"], true, "{text}");
    assert_eq!(v["version"], expect_version, "{text}");
}

fn fork_at(version: u64) -> tempfile::TempDir {
    let src = python_histories().join("valid-rotations");
    let dir = tempfile::tempdir().unwrap();
    for n in 1..=version {
        let name = format!("{n}.root.json");
        std::fs::copy(src.join(&name), dir.path().join(&name)).unwrap();
    }
    dir
}

#[test]
fn python_tuf_accepts_rotations_signed_with_ecdsa_and_rsa_3072_keys() {
    let dir = fork_at(2);
    let mut held = held_keys();
    let current = RootMetadata::from_slice(
        &std::fs::read(dir.path().join("2.root.json")).unwrap(),
        None,
    )
    .unwrap();
    let first = current.role("root").unwrap().keyids[0].clone();
    assert_eq!(
        rotate_once(dir.path(), Rotate::Keys(vec![first]), &mut held),
        3
    );
    python_tuf_accepts(dir.path(), 3);
    assert_eq!(rotate_once(dir.path(), Rotate::All, &mut held), 4);
    python_tuf_accepts(dir.path(), 4);
}

#[test]
fn python_tuf_accepts_rotations_signed_with_ed25519_and_rsa_4096_keys() {
    let dir = fork_at(5);
    let mut held = held_keys();
    assert_eq!(rotate_once(dir.path(), Rotate::All, &mut held), 6);
    python_tuf_accepts(dir.path(), 6);
    let current = RootMetadata::from_slice(
        &std::fs::read(dir.path().join("6.root.json")).unwrap(),
        None,
    )
    .unwrap();
    let last = current.role("root").unwrap().keyids[2].clone();
    assert_eq!(
        rotate_once(dir.path(), Rotate::Keys(vec![last]), &mut held),
        7
    );
    python_tuf_accepts(dir.path(), 7);
}

#[test]
fn python_tuf_refuses_what_we_refuse_when_a_new_key_did_not_sign() {
    // The negative control: if our test harness were blind, this would pass.
    let dir = fork_at(5);
    let mut held = held_keys();
    rotate_once(dir.path(), Rotate::All, &mut held);
    let path = dir.path().join("6.root.json");
    let mut env: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let sigs = env["signatures"].as_array_mut().unwrap();
    let keep = sigs.len() - 2; // drop two of the three new keys' signatures
    sigs.truncate(keep);
    std::fs::write(&path, serde_json::to_vec_pretty(&env).unwrap()).unwrap();
    let out = run_python("verify_with_python_tuf.py", &[dir.path().as_os_str()]);
    assert!(!out.status.success());
    let root = RootMetadata::from_slice(&std::fs::read(&path).unwrap(), None).unwrap();
    let prev = RootMetadata::from_slice(
        &std::fs::read(dir.path().join("5.root.json")).unwrap(),
        None,
    )
    .unwrap();
    assert!(!check_step(Some(&prev), &root, None).ok());
}
