//! Key objects and key ids in both dialects, checked against the aktualizr
//! vectors.

use super::*;

#[test]
fn key_objects_round_trip_in_both_dialects() {
    let keys = [
        ed(),
        PrivateKey::from_pkcs8_pem(py::RSA_PKCS1).unwrap(),
        ecdsa(),
    ];
    for key in &keys {
        let public = key.public_key();
        for d in [Dialect::OtaTuf, Dialect::Tuf] {
            let obj = public.to_key_object(d);
            let back = PublicKey::from_key_object(&obj, d).unwrap();
            assert_eq!(back, public);
            assert_eq!(back.key_id(d), public.key_id(d));
            assert_eq!(back.to_key_object(d), obj);
        }
        assert_eq!(public.key_id(Dialect::OtaTuf), public.fingerprint());
        assert_eq!(
            public.fingerprint(),
            hex::encode(Sha256::digest(&public.data.spki_der))
        );
    }
    let ed_obj = keys[0].public_key().to_key_object(Dialect::OtaTuf);
    let fields: Vec<&String> = ed_obj.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["keytype", "keyval"]);
    assert_eq!(ed_obj["keytype"], "ED25519");
    let hex_pub = ed_obj["keyval"]["public"].as_str().unwrap();
    assert_eq!(hex_pub.len(), 64);
    assert!(hex_pub
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));

    let rsa_obj = keys[1].public_key().to_key_object(Dialect::OtaTuf);
    assert_eq!(rsa_obj["keytype"], "RSA");
    let pem = rsa_obj["keyval"]["public"].as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
    assert!(pem.lines().all(|l| l.len() <= 64));

    let tuf = keys[1].public_key().to_key_object(Dialect::Tuf);
    let fields: Vec<&String> = tuf.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["keytype", "keyval", "scheme"]);
    assert_eq!(tuf["keytype"], "rsa");
    assert_eq!(tuf["scheme"], "rsassa-pss-sha256");
    assert_eq!(
        keys[2].public_key().to_key_object(Dialect::Tuf)["keytype"],
        "ecdsa"
    );
    assert_eq!(
        keys[2].public_key().to_key_object(Dialect::OtaTuf)["keytype"],
        "ECPRIME256V1"
    );
}

#[test]
fn ota_key_objects_are_read_leniently() {
    let key = ed().public_key();
    let lower = key.to_key_object(Dialect::OtaTuf)["keyval"]["public"]
        .as_str()
        .unwrap()
        .to_owned();
    for keytype in ["ED25519", "ed25519", "Ed25519"] {
        for public in [lower.clone(), lower.to_uppercase()] {
            let obj = json!({
                "keytype": keytype,
                "keyval": {"public": public},
                "keyid_hash_algorithms": ["sha256", "sha512"],
                "scheme": "whatever",
            });
            let k = PublicKey::from_key_object(&obj, Dialect::OtaTuf).unwrap();
            assert_eq!(k, key);
            assert_eq!(k.key_id(Dialect::OtaTuf), key.key_id(Dialect::OtaTuf));
            assert_eq!(k.to_key_object(Dialect::OtaTuf)["keytype"], "ED25519");
        }
    }
    let rsa = PublicKey::from_pem(py::RSA_PUB).unwrap();
    for keytype in ["RSA", "rsa"] {
        let obj = json!({"keytype": keytype, "keyval": {"public": py::RSA_PUB}});
        assert_eq!(
            PublicKey::from_key_object(&obj, Dialect::OtaTuf).unwrap(),
            rsa
        );
    }
    // Other PEM layouts are the same key: CRLF, no final newline, other widths.
    let crlf = py::RSA_PUB.replace('\n', "\r\n");
    let bare = py::RSA_PUB.trim_end().to_owned();
    let body: String = py::RSA_PUB
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let wide = format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----");
    for text in [crlf, bare, wide] {
        assert_eq!(PublicKey::from_pem(&text).unwrap(), rsa);
    }
    let ec = json!({"keytype": "ECPRIME256V1", "keyval": {"public": py::ECDSA_PUB}});
    assert_eq!(
        PublicKey::from_key_object(&ec, Dialect::OtaTuf).unwrap(),
        ecdsa().public_key()
    );
}

#[test]
fn tuf_key_id_by_hand() {
    let public = "aa".repeat(32);
    // Not every 32-byte string is a curve point: aa…aa is one.
    let obj = json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": public}});
    let key = PublicKey::from_key_object(&obj, Dialect::Tuf).unwrap();
    let canonical =
        format!(r#"{{"keytype":"ed25519","keyval":{{"public":"{public}"}},"scheme":"ed25519"}}"#);
    let expected = hex::encode(Sha256::digest(canonical.as_bytes()));
    assert_eq!(key.key_id(Dialect::Tuf), expected);
    // The same key made from bytes (no remembered text) has the same id.
    let again =
        PublicKey::from_ed25519(ed25519_dalek::VerifyingKey::from_bytes(&[0xaa; 32]).unwrap())
            .unwrap();
    assert_eq!(again.key_id(Dialect::Tuf), expected);
    // python-computed ids for RSA (PEM with newlines, written raw by OLPC)
    // and ECDSA.
    let rsa = PublicKey::from_pem(py::RSA_PUB).unwrap();
    assert_eq!(rsa.key_id(Dialect::Tuf), py::RSA_KEYID);
    let ec = PublicKey::from_pem(py::ECDSA_PUB).unwrap();
    assert_eq!(ec.key_id(Dialect::Tuf), py::ECDSA_KEYID);
}

#[test]
fn tuf_key_ids_keep_the_names_and_text_found() {
    // Deprecated keytype: same key, different id, and the id survives.
    let obj = json!({"keytype": "ecdsa-sha2-nistp256", "scheme": "ecdsa-sha2-nistp256",
                     "keyval": {"public": py::ECDSA_PUB}});
    let old = PublicKey::from_key_object(&obj, Dialect::Tuf).unwrap();
    assert_eq!(old.key_id(Dialect::Tuf), py::ECDSA_KEYID_OLD_KEYTYPE);
    assert_eq!(old.to_key_object(Dialect::Tuf), obj);
    let new = PublicKey::from_pem(py::ECDSA_PUB).unwrap();
    assert_eq!(old, new, "one key");
    assert_ne!(old.key_id(Dialect::Tuf), new.key_id(Dialect::Tuf));

    // A PEM without its trailing newline keeps that exact text.
    let bare = py::RSA_PUB.trim_end();
    let obj = json!({"keytype": "rsa", "scheme": "rsassa-pss-sha256", "keyval": {"public": bare}});
    let key = PublicKey::from_key_object(&obj, Dialect::Tuf).unwrap();
    assert_eq!(key.to_key_object(Dialect::Tuf), obj);
    let bytes = crate::canonical::to_canonical_bytes(&obj, Dialect::Tuf).unwrap();
    assert_eq!(
        key.key_id(Dialect::Tuf),
        hex::encode(Sha256::digest(&bytes))
    );
    assert_ne!(key.key_id(Dialect::Tuf), py::RSA_KEYID);
    assert_eq!(
        key.key_id(Dialect::OtaTuf),
        py::RSA_SPKI_SHA256,
        "DER id ignores the text"
    );
    // Extra fields do not enter the emitted object.
    let mut with_extra = obj.clone();
    with_extra["keyid_hash_algorithms"] = json!(["sha256", "sha512"]);
    let key = PublicKey::from_key_object(&with_extra, Dialect::Tuf).unwrap();
    assert_eq!(key.to_key_object(Dialect::Tuf), obj);
}

#[test]
fn tuf_refuses_other_keytype_scheme_pairs() {
    let ed_pub = ed().public_key().to_key_object(Dialect::OtaTuf)["keyval"]["public"].clone();
    let cases = [
        ("ED25519", "ed25519", ed_pub.clone()),
        ("ed25519", "rsassa-pss-sha256", ed_pub.clone()),
        ("rsa", "rsa-pkcs1v15-sha256", json!(py::RSA_PUB)),
        ("RSA", "rsassa-pss-sha256", json!(py::RSA_PUB)),
        ("ecdsa", "ecdsa-sha2-nistp384", json!(py::ECDSA_PUB)),
        ("sphincs", "sphincs-shake-128s", ed_pub.clone()),
    ];
    for (keytype, scheme, public) in cases {
        let obj = json!({"keytype": keytype, "scheme": scheme, "keyval": {"public": public}});
        let err = PublicKey::from_key_object(&obj, Dialect::Tuf).unwrap_err();
        assert_eq!(
            err,
            KeyError::Unsupported {
                keytype: keytype.into(),
                scheme: Some(scheme.into()),
                dialect: Dialect::Tuf
            }
        );
        let msg = err.to_string();
        assert!(msg.contains(keytype) && msg.contains(scheme), "{msg}");
    }
    let no_scheme = json!({"keytype": "ed25519", "keyval": {"public": ed_pub}});
    assert!(matches!(
        PublicKey::from_key_object(&no_scheme, Dialect::Tuf),
        Err(KeyError::Malformed { .. })
    ));
    let ota_unknown = json!({"keytype": "DSA", "keyval": {"public": "x"}});
    assert!(matches!(
        PublicKey::from_key_object(&ota_unknown, Dialect::OtaTuf),
        Err(KeyError::Unsupported { scheme: None, .. })
    ));
    // Declared type and key material disagree.
    let lie = json!({"keytype": "RSA", "keyval": {"public": py::ECDSA_PUB}});
    assert_eq!(
        PublicKey::from_key_object(&lie, Dialect::OtaTuf),
        Err(KeyError::KeyTypeMismatch {
            declared: "RSA".into(),
            actual: KeyType::EcdsaP256
        })
    );
}

#[test]
fn ota_methods_must_fit_the_key() {
    let ed_key = ed();
    let rsa_key = rsa2048();
    let msg = b"m";
    let ed_sig = ed_key.sign(msg).unwrap();
    let rsa_sig = rsa_key.sign(msg).unwrap();
    let ed_pub = ed_key.public_key();
    let rsa_pub = rsa_key.public_key();
    assert_eq!(
        ed_pub.verify(Dialect::OtaTuf, msg, &ed_sig, None),
        Err(KeyError::MissingMethod)
    );
    assert_eq!(
        ed_pub.verify(Dialect::OtaTuf, msg, &ed_sig, Some("rsassa-pss-sha256")),
        Err(KeyError::MethodMismatch {
            method: "rsassa-pss-sha256".into(),
            key_type: KeyType::Ed25519
        })
    );
    assert_eq!(
        rsa_pub.verify(Dialect::OtaTuf, msg, &rsa_sig, Some("ED25519")),
        Err(KeyError::MethodMismatch {
            method: "ED25519".into(),
            key_type: KeyType::Rsa
        })
    );
    assert_eq!(
        ed_pub.verify(Dialect::OtaTuf, msg, &ed_sig, Some("ecdsa")),
        Err(KeyError::UnknownMethod {
            method: "ecdsa".into()
        })
    );
    // Wrong signature lengths are malformed, not a panic.
    for len in [0, 1, 63, 65, 1000] {
        assert!(matches!(
            ed_pub.verify(Dialect::Tuf, msg, &vec![0u8; len], None),
            Err(KeyError::MalformedSignature { .. })
        ));
        assert!(matches!(
            rsa_pub.verify(Dialect::Tuf, msg, &vec![0u8; len], None),
            Err(KeyError::MalformedSignature { .. })
        ));
    }
    // Right length, garbage content (all 0xff exceeds the modulus).
    assert!(rsa_pub
        .verify(Dialect::Tuf, msg, &[0xff; 256], None)
        .is_err());
    assert!(rsa_pub
        .verify(Dialect::OtaTuf, msg, &[0; 256], Some("rsassa-pss"))
        .is_err());
}

// ----- the aktualizr vectors -------------------------------------------------

/// Key ids in the vectors: which match the DER scheme. Those that do not
/// use aktualizr's own legacy id (sha256 of the JSON-quoted public
/// string, see [`aktualizr_legacy_id`]); we check that too, so every id
/// is accounted for:
/// - sample1: all four ed25519 ids are legacy, none DER;
/// - rsassa-pss-sha256: three DER, the lowercase-`rsa` key legacy;
/// - root-with-extra-keys: all five legacy;
/// - prov metadata repo root: all four DER.
#[test]
fn vector_key_ids() {
    let expect_der = [
        ("tests_tuf_sample1_root.json", 0, 4),
        ("tests_tuf_rsassa-pss-sha256_root.json", 3, 4),
        ("tests_tuf_root-with-extra-keys.json", 0, 5),
        ("tests_test_data_prov_metadata_repo_root.json", 4, 4),
    ];
    for (name, der_count, total) in expect_der {
        let root = read_vector(name);
        let keys = root["signed"]["keys"].as_object().unwrap();
        assert_eq!(keys.len(), total, "{name}");
        let mut der = 0;
        for (id, obj) in keys {
            let key = PublicKey::from_key_object(obj, Dialect::OtaTuf).unwrap();
            assert_eq!(
                key.bits(),
                if key.key_type() == KeyType::Rsa {
                    2048
                } else {
                    256
                }
            );
            let public = obj["keyval"]["public"].as_str().unwrap();
            if key.key_id(Dialect::OtaTuf) == *id {
                der += 1;
            } else {
                assert_eq!(
                    aktualizr_legacy_id(public),
                    *id,
                    "{name}: {id} matches no known scheme"
                );
            }
        }
        assert_eq!(der, der_count, "{name}: DER key ids");
    }
}

#[test]
fn vector_self_signatures_verify() {
    for name in [
        "tests_tuf_sample1_root.json",
        "tests_tuf_rsassa-pss-sha256_root.json",
        "tests_tuf_root-with-extra-keys.json",
        "tests_test_data_prov_metadata_repo_root.json",
    ] {
        let root = read_vector(name);
        let message =
            crate::canonical::to_canonical_bytes(&root["signed"], Dialect::OtaTuf).unwrap();
        let sigs = root["signatures"].as_array().unwrap();
        assert!(!sigs.is_empty());
        for s in sigs {
            let id = s["keyid"].as_str().unwrap();
            let key =
                PublicKey::from_key_object(&root["signed"]["keys"][id], Dialect::OtaTuf).unwrap();
            let sig = B64.decode(s["sig"].as_str().unwrap()).unwrap();
            let method = s["method"].as_str();
            key.verify(Dialect::OtaTuf, &message, &sig, method)
                .unwrap_or_else(|e| panic!("{name}: {id}: {e}"));
            for i in [0, message.len() / 2, message.len() - 1] {
                let mut changed = message.clone();
                changed[i] ^= 0x01;
                assert!(
                    key.verify(Dialect::OtaTuf, &changed, &sig, method).is_err(),
                    "{name} byte {i}"
                );
            }
        }
    }
}
