//! Property tests of the rotation verdict: the order of signatures never
//! matters, a repeated key id is always refused, and a root is accepted
//! exactly when enough distinct old and new root keys signed — counted here
//! independently of the library.

use ceremony::keys::{NewKeyType, PrivateKey, PublicKey};
use ceremony::root::RoleKeys;
use ceremony::rules::{check_step, Rule};
use ceremony::{Dialect, RootMetadata};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::OnceLock;

struct Fixture {
    v1: RootMetadata,
    /// v2 signed by all five keys: k0..k2 are v1's root keys, k1..k4 v2's.
    v2: RootMetadata,
    /// For each signature of v2 (in order), which key index made it.
    signer_of: Vec<usize>,
}

fn base_root(dialect: Dialect, keys: &[&PublicKey], threshold: u64, version: u64) -> RootMetadata {
    let ty = if dialect == Dialect::OtaTuf {
        "Root"
    } else {
        "root"
    };
    let mut signed = json!({
        "_type": ty, "version": version, "expires": "2099-01-01T00:00:00Z",
        "consistent_snapshot": false, "keys": {}, "roles": {}
    });
    if dialect == Dialect::Tuf {
        signed["spec_version"] = json!("1.0.31");
    }
    let mut root =
        RootMetadata::from_value(json!({"signed": signed, "signatures": []}), dialect).unwrap();
    let ids: Vec<String> = keys
        .iter()
        .map(|k| {
            let id = k.key_id(dialect);
            root.insert_key(&id, k);
            id
        })
        .collect();
    root.set_role(
        "root",
        &RoleKeys {
            keyids: ids.clone(),
            threshold,
        },
    );
    for r in ["snapshot", "targets", "timestamp"] {
        root.set_role(
            r,
            &RoleKeys {
                keyids: vec![ids[0].clone()],
                threshold: 1,
            },
        );
    }
    root
}

fn fixture(dialect: Dialect) -> &'static Fixture {
    static F: OnceLock<[Fixture; 2]> = OnceLock::new();
    let all = F.get_or_init(|| {
        [Dialect::OtaTuf, Dialect::Tuf].map(|d| {
            let keys: Vec<PrivateKey> = (0..5)
                .map(|_| PrivateKey::generate(NewKeyType::Ed25519).unwrap())
                .collect();
            let pubs: Vec<PublicKey> = keys.iter().map(PrivateKey::public_key).collect();
            let mut v1 = base_root(d, &[&pubs[0], &pubs[1], &pubs[2]], 2, 1);
            for k in &keys[0..3] {
                let id = v1.find_key_id(&k.public_key()).unwrap();
                v1.sign(&id, k).unwrap();
            }
            let mut v2 = base_root(d, &[&pubs[1], &pubs[2], &pubs[3], &pubs[4]], 2, 2);
            for k in &keys {
                v2.sign(&k.public_key().key_id(d), k).unwrap();
            }
            Fixture {
                v1,
                v2,
                signer_of: (0..5).collect(),
            }
        })
    });
    &all[if dialect == Dialect::OtaTuf { 0 } else { 1 }]
}

fn with_signatures(root: &RootMetadata, sigs: Vec<Value>) -> RootMetadata {
    let mut env = root.envelope().clone();
    env["signatures"] = Value::Array(sigs);
    RootMetadata::from_value(env, root.dialect()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn verdict_follows_distinct_signers(
        ota in any::<bool>(),
        picks in prop::collection::vec(0usize..5, 0..9),
    ) {
        let dialect = if ota { Dialect::OtaTuf } else { Dialect::Tuf };
        let f = fixture(dialect);
        let all = f.v2.envelope()["signatures"].as_array().unwrap().clone();
        let sigs: Vec<Value> = picks.iter().map(|&i| all[i].clone()).collect();
        let v2 = with_signatures(&f.v2, sigs);
        let verdict = check_step(Some(&f.v1), &v2, None);

        let mut distinct: Vec<usize> = picks.iter().map(|&i| f.signer_of[i]).collect();
        distinct.sort_unstable();
        let repeated = { let mut d = distinct.clone(); d.dedup(); d.len() != distinct.len() };
        distinct.dedup();
        let old = distinct.iter().filter(|&&k| k <= 2).count();
        let new = distinct.iter().filter(|&&k| k >= 1).count();
        let expect_ok = old >= 2 && new >= 2 && !repeated;

        prop_assert_eq!(verdict.ok(), expect_ok, "{:?}", verdict.failures);
        let rules: Vec<Rule> = verdict.failures.iter().map(|f| f.rule).collect();
        prop_assert_eq!(rules.contains(&Rule::DuplicateKeyid), repeated);
        prop_assert_eq!(rules.contains(&Rule::OldThreshold), old < 2);
        prop_assert_eq!(rules.contains(&Rule::NewThreshold), new < 2);
        prop_assert_eq!(verdict.thresholds[0].signed.len(), old);
        prop_assert_eq!(verdict.thresholds[1].signed.len(), new);
    }

    #[test]
    fn order_of_signatures_never_matters(
        ota in any::<bool>(),
        perm in Just((0usize..5).collect::<Vec<_>>()).prop_shuffle(),
        keep in 2usize..=5,
    ) {
        let dialect = if ota { Dialect::OtaTuf } else { Dialect::Tuf };
        let f = fixture(dialect);
        let all = f.v2.envelope()["signatures"].as_array().unwrap().clone();
        let chosen: Vec<usize> = perm[..keep].to_vec();
        let mut sorted = chosen.clone();
        sorted.sort_unstable();
        let a = check_step(Some(&f.v1), &with_signatures(&f.v2, chosen.iter().map(|&i| all[i].clone()).collect()), None);
        let b = check_step(Some(&f.v1), &with_signatures(&f.v2, sorted.iter().map(|&i| all[i].clone()).collect()), None);
        prop_assert_eq!(a.ok(), b.ok());
        for (x, y) in a.thresholds.iter().zip(&b.thresholds) {
            let mut xs: Vec<&str> = x.signed.iter().map(|k| k.keyid.as_str()).collect();
            let mut ys: Vec<&str> = y.signed.iter().map(|k| k.keyid.as_str()).collect();
            xs.sort_unstable();
            ys.sort_unstable();
            prop_assert_eq!(xs, ys);
        }
    }
}

#[test]
fn a_signature_over_other_bytes_does_not_count() {
    for d in [Dialect::OtaTuf, Dialect::Tuf] {
        let f = fixture(d);
        assert!(check_step(Some(&f.v1), &f.v2, None).ok());
        let mut env = f.v2.envelope().clone();
        env["signed"]["expires"] = json!("2099-01-01T00:00:01Z");
        let edited = RootMetadata::from_value(env, d).unwrap();
        let v = check_step(Some(&f.v1), &edited, None);
        assert!(!v.ok());
        assert!(v
            .thresholds
            .iter()
            .all(|t| t.signed.is_empty() && t.invalid.len() >= 3));
    }
}
