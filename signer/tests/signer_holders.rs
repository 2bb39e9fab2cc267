//! A root held by several people: each holder makes a key with `signer
//! keygen` (round 1), the proposal carries both public keys, and each holder
//! signs with what they hold (round 2). Each bundle is partial and says which
//! signatures are missing; together they meet both thresholds.

use ceremony::bundle::Bundle;
use ceremony::proposal::Change;
use ceremony::pubkey::PubkeyFile;
use ceremony::rules::check_step;
use ceremony::{Dialect, RootMetadata};
use ceremony_tests::prelude::*;
use time::OffsetDateTime;

/// Round 2's `sign` for holder `who`, from `WHO2.tgz.age`.
fn holder_sign(who: &str, force: bool) -> SignArgs {
    let args = SignArgs::new()
        .keys(&format!("{who}2.tgz.age"))
        .out(&format!("{who}.bundle.json"))
        .new_archive(Some(&format!("{who}3.tgz.age")));
    if force {
        args.extra(["--force"])
    } else {
        args
    }
}

#[test]
fn two_holders_keygen_then_partial_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_passphrase(d);

    // Alice holds the Factory's first-root key; Bob holds only a targets key.
    let first = key(false);
    let online = key(false).public_key();
    let mut ci = ota_root(1, &[first.public_key()], 1, &online, &in_days(300));
    sign_root(&mut ci, &[&first]);
    write_fioctl_tgz(&d.join("alice.tgz"), &ats_pair("first-root", &first));
    let bobs_targets = key(false);
    write_fioctl_tgz(
        &d.join("bob.tgz"),
        &ats_pair(
            &format!("fioctl-targets-{}", bobs_targets.public_key().fingerprint()),
            &bobs_targets,
        ),
    );
    for who in ["alice", "bob"] {
        ok(&signer(
            d,
            [
                "import",
                &format!("{who}.tgz"),
                "-o",
                &format!("{who}.tgz.age"),
                "--passphrase-file",
                "pass.txt",
            ],
        ));
    }

    // Round 1: each holder makes a key (Alice an RSA-4096 one: the one test
    // that pays for RSA-4096 generation).
    ok(&signer(
        d,
        [
            "keygen",
            "--keys",
            "alice.tgz.age",
            "--type",
            "rsa-4096",
            "-o",
            "alice.pub.json",
            "--new-archive",
            "alice2.tgz.age",
            "--holder",
            "alice",
            "--passphrase-file",
            "pass.txt",
        ],
    ));
    ok(&signer(
        d,
        [
            "keygen",
            "--keys",
            "bob.tgz.age",
            "-o",
            "bob.pub.json",
            "--new-archive",
            "bob2.tgz.age",
            "--holder",
            "bob",
            "--passphrase-file",
            "pass.txt",
        ],
    ));
    let alice_pub =
        PubkeyFile::from_slice(&std::fs::read(d.join("alice.pub.json")).unwrap()).unwrap();
    let bob_pub = PubkeyFile::from_slice(&std::fs::read(d.join("bob.pub.json")).unwrap()).unwrap();
    assert_eq!(alice_pub.key_type, "rsa-4096");
    assert_eq!(bob_pub.key_type, "ed25519");
    assert_eq!(bob_pub.holder.as_deref(), Some("bob"));
    // The key is in Bob's new archive, under fioctl's name; his old archive is unchanged.
    let entries = decrypt_archive(&d.join("bob2.tgz.age"));
    assert!(entries.contains_key(&format!(
        "tufrepo/keys/fioctl-root-{}.sec",
        bob_pub.fingerprint
    )));
    assert!(!decrypt_archive(&d.join("bob.tgz.age"))
        .keys()
        .any(|n| n.contains(&bob_pub.fingerprint)));

    // The proposal: replace the first-root key by the two new keys, 2 of 2.
    let change = Change {
        rotate: Some(ceremony::proposal::Rotate::Keys(vec![ci
            .find_key_id(&first.public_key())
            .unwrap()])),
        add_keys: 1,
        threshold: Some(2),
        expires: in_days(365),
        provided_keys: vec![
            alice_pub.to_provided_key(Dialect::OtaTuf).unwrap(),
            bob_pub.to_provided_key(Dialect::OtaTuf).unwrap(),
        ],
        ..Change::default()
    };
    let proposal = factory_proposal(&ci, &ci, change);
    write_proposal(d, "proposal.json", &proposal);

    let review = ok(&signer(d, ["review", "proposal.json"]));
    assert!(
        review.contains(&bob_pub.fingerprint)
            && review.contains("holder name as claimed, unverified: bob"),
        "{review}"
    );
    assert!(
        review.contains("WARNING") && review.contains("threshold 2 of 2"),
        "{review}"
    );

    // 2 of 2 is a guard-rail warning: refused without --force, nothing written.
    let before = hash_dir(d);
    let out = signer(d, holder_sign("alice", false));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--force"), "{}", text(&out));
    assert_eq!(hash_dir(d), before);

    // Round 2: each signs what they can.
    let out = ok(&signer(d, holder_sign("alice", true)));
    assert!(out.contains("PARTIAL"), "{out}");
    let out = ok(&signer(d, holder_sign("bob", true)));
    assert!(out.contains("PARTIAL"), "{out}");

    let alice = Bundle::from_slice(&std::fs::read(d.join("alice.bundle.json")).unwrap()).unwrap();
    let bob = Bundle::from_slice(&std::fs::read(d.join("bob.bundle.json")).unwrap()).unwrap();
    assert!(!alice.complete && !bob.complete);
    // Alice met the old threshold and half the new one: Bob's key is missing.
    assert!(
        alice
            .missing
            .iter()
            .any(|m| m.contains(&bob_pub.fingerprint)),
        "{:?}",
        alice.missing
    );
    assert!(
        !alice
            .missing
            .iter()
            .any(|m| m.contains(&first.public_key().fingerprint())),
        "{:?}",
        alice.missing
    );
    // Bob holds no old key: both the old key and Alice's are missing.
    assert!(
        bob.missing
            .iter()
            .any(|m| m.contains(&first.public_key().fingerprint())),
        "{:?}",
        bob.missing
    );
    assert!(
        bob.missing
            .iter()
            .any(|m| m.contains(&alice_pub.fingerprint)),
        "{:?}",
        bob.missing
    );
    assert_eq!(alice.new_keys.len(), 2);

    // Both signed the same roots; together they pass the rules.
    let now = OffsetDateTime::now_utc();
    for (a, b) in alice.roots.iter().zip(&bob.roots) {
        let mut merged: RootMetadata = alice.root(a).unwrap();
        let theirs = bob.root(b).unwrap();
        assert_eq!(
            merged.canonical_signed().unwrap(),
            theirs.canonical_signed().unwrap()
        );
        for s in theirs.envelope()["signatures"].as_array().unwrap() {
            merged.add_signature_value(s.clone());
        }
        let verdict = check_step(Some(&ci), &merged, Some(now));
        assert!(verdict.ok(), "{}: {:?}", a.name, verdict.failures);
    }
}
