//! The `ring-verify` fast path must give the same answer as the pure-Rust
//! check for every (key, signature, message): real signatures made by
//! others (aktualizr's ota-tuf roots, python's `cryptography`), ours, and
//! mutations of each. Without the feature, `verify_raw` is the pure check and
//! these tests still hold (and still check that mutations are refused).

use super::*;

/// One (key, signature, message) case, in both salt modes.
fn same_answer(what: &str, key: &PublicKey, message: &[u8], sig: &[u8]) -> bool {
    let mut valid = false;
    for salt in [None, Some(super::super::algorithm::PSS_SALT_LEN)] {
        let pure = key.verify_pure(message, sig, salt);
        let used = key.verify_raw(message, sig, salt);
        assert_eq!(
            used.as_ref().map_err(ToString::to_string),
            pure.as_ref().map_err(ToString::to_string),
            "{what}: the backends disagree (salt {salt:?})"
        );
        #[cfg(feature = "ring-verify")]
        if key.ring_accepts(message, sig) {
            assert!(
                pure.is_ok(),
                "{what}: ring accepts what the pure check refuses"
            );
        }
        valid |= pure.is_ok();
    }
    valid
}

/// Checks `sig` over `message` and many mutations of both; returns whether
/// the unmutated signature is valid. Every mutation must be refused.
fn check_with_mutations(what: &str, key: &PublicKey, message: &[u8], sig: &[u8]) -> bool {
    let valid = same_answer(what, key, message, sig);
    let step = (sig.len() / 16).max(1);
    for i in (0..sig.len()).step_by(step).chain([sig.len() - 1]) {
        for bit in [0x01, 0x80] {
            let mut changed = sig.to_vec();
            changed[i] ^= bit;
            assert!(
                !same_answer(
                    &format!("{what}: sig byte {i} ^ {bit:#x}"),
                    key,
                    message,
                    &changed
                ),
                "{what}: a changed signature verifies"
            );
        }
    }
    let mut longer = sig.to_vec();
    longer.push(0);
    assert!(!same_answer(
        &format!("{what}: sig + 0"),
        key,
        message,
        &longer
    ));
    assert!(!same_answer(
        &format!("{what}: sig - 1"),
        key,
        message,
        &sig[..sig.len() - 1]
    ));
    assert!(!same_answer(
        &format!("{what}: empty sig"),
        key,
        message,
        &[]
    ));
    let step = (message.len() / 8).max(1);
    for i in (0..message.len()).step_by(step).chain([message.len() - 1]) {
        let mut changed = message.to_vec();
        changed[i] ^= 0x01;
        assert!(!same_answer(
            &format!("{what}: msg byte {i}"),
            key,
            &changed,
            sig
        ));
    }
    let mut longer = message.to_vec();
    longer.push(b' ');
    assert!(!same_answer(
        &format!("{what}: msg + ' '"),
        key,
        &longer,
        sig
    ));
    valid
}

#[test]
fn backends_agree_on_the_aktualizr_vectors() {
    let mut checked = 0;
    for name in [
        "tests_tuf_sample1_root.json",
        "tests_tuf_rsassa-pss-sha256_root.json",
        "tests_tuf_root-with-extra-keys.json",
        "tests_test_data_prov_metadata_repo_root.json",
    ] {
        let root = read_vector(name);
        let message =
            crate::canonical::to_canonical_bytes(&root["signed"], Dialect::OtaTuf).unwrap();
        for s in root["signatures"].as_array().unwrap() {
            let id = s["keyid"].as_str().unwrap();
            let key =
                PublicKey::from_key_object(&root["signed"]["keys"][id], Dialect::OtaTuf).unwrap();
            let sig = B64.decode(s["sig"].as_str().unwrap()).unwrap();
            assert!(check_with_mutations(
                &format!("{name}: {id}"),
                &key,
                &message,
                &sig
            ));
            // Every other key of the root must refuse this signature.
            for (other_id, obj) in root["signed"]["keys"].as_object().unwrap() {
                let other = PublicKey::from_key_object(obj, Dialect::OtaTuf).unwrap();
                if other != key {
                    let what = format!("{name}: {id}'s signature under {other_id}");
                    assert!(!same_answer(&what, &other, &message, &sig));
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked} vector signatures");
}

#[test]
fn backends_agree_on_python_signatures() {
    let msg = py::MSG.as_bytes();
    let ecdsa = PublicKey::from_pem(py::ECDSA_PUB).unwrap();
    for (i, hex_sig) in py::ECDSA_SIGS.iter().enumerate() {
        let sig = hex::decode(hex_sig).unwrap();
        assert!(check_with_mutations(
            &format!("py ecdsa {i}"),
            &ecdsa,
            msg,
            &sig
        ));
        // The other S of the pair (n - S) is valid too, for both backends.
        let parsed = p256::ecdsa::Signature::from_der(&sig).unwrap();
        let (r, s) = parsed.split_scalars();
        let other = p256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
        let other = other.to_der();
        assert!(same_answer(
            &format!("py ecdsa {i}, n - S"),
            &ecdsa,
            msg,
            other.as_bytes()
        ));
    }
    let rsa = PublicKey::from_pem(py::RSA_PUB).unwrap();
    let salt32 = hex::decode(py::RSA_SIG_SALT32).unwrap();
    assert!(check_with_mutations("py rsa salt 32", &rsa, msg, &salt32));
    // Maximum salt: ring cannot take it (it fixes salt 32), so it falls back;
    // valid with salt recovery, refused with salt 32 required.
    let saltmax = hex::decode(py::RSA_SIG_SALTMAX).unwrap();
    assert!(check_with_mutations("py rsa max salt", &rsa, msg, &saltmax));
    assert!(rsa.verify_raw(msg, &saltmax, Some(32)).is_err());
    assert!(rsa.verify_raw(msg, &saltmax, None).is_ok());
    let ed = PublicKey::from_ed25519_bytes(&hex::decode(py::ED_PUB).unwrap()).unwrap();
    let ed_sig = hex::decode(py::ED_SIG).unwrap();
    assert!(check_with_mutations("py ed25519", &ed, msg, &ed_sig));
    // A signature by one key never verifies under a key of another type.
    for (what, key, sig) in [
        ("rsa sig, ecdsa key", &ecdsa, &salt32),
        (
            "ecdsa sig, rsa key",
            &rsa,
            &hex::decode(py::ECDSA_SIGS[0]).unwrap(),
        ),
        ("ed sig, rsa key", &rsa, &ed_sig),
        ("ed sig, ecdsa key", &ecdsa, &ed_sig),
    ] {
        assert!(!same_answer(what, key, msg, sig));
    }
}

#[test]
fn backends_agree_on_our_signatures() {
    let message = b"{\"signed\":{\"_type\":\"root\",\"version\":2}}";
    let (ed, ecdsa) = (ed(), ecdsa());
    for (what, key) in [("ed25519", &ed), ("ecdsa", &ecdsa), ("rsa-2048", rsa2048())] {
        let sig = key.sign(message).unwrap();
        assert!(check_with_mutations(what, &key.public_key(), message, &sig));
    }
}

/// The fast path is really taken for the keys it supports, and only there.
#[cfg(feature = "ring-verify")]
#[test]
fn ring_takes_rsa_pss_32_and_ecdsa_but_not_ed25519() {
    let msg = py::MSG.as_bytes();
    let ecdsa = PublicKey::from_pem(py::ECDSA_PUB).unwrap();
    for hex_sig in py::ECDSA_SIGS {
        assert!(ecdsa.ring_accepts(msg, &hex::decode(hex_sig).unwrap()));
    }
    let rsa = PublicKey::from_pem(py::RSA_PUB).unwrap();
    assert!(rsa.ring_accepts(msg, &hex::decode(py::RSA_SIG_SALT32).unwrap()));
    assert!(!rsa.ring_accepts(msg, &hex::decode(py::RSA_SIG_SALTMAX).unwrap()));
    let ed = PublicKey::from_ed25519_bytes(&hex::decode(py::ED_PUB).unwrap()).unwrap();
    assert!(!ed.ring_accepts(msg, &hex::decode(py::ED_SIG).unwrap()));
}
