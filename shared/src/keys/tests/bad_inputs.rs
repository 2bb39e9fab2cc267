//! Bad inputs give specific errors, never panics, and never show a secret.

use super::*;

#[test]
fn bad_public_keys_give_specific_errors() {
    let ed_obj = |public: &str| json!({"keytype": "ED25519", "keyval": {"public": public}});
    let cases: Vec<(Value, Check)> = vec![
        (ed_obj(&"a".repeat(62)), |e| {
            matches!(e, KeyError::WrongLength { found: 62, .. })
        }),
        (ed_obj(&"a".repeat(66)), |e| {
            matches!(e, KeyError::WrongLength { found: 66, .. })
        }),
        (ed_obj(""), |e| {
            matches!(e, KeyError::WrongLength { found: 0, .. })
        }),
        (ed_obj(&format!("{}zz", "a".repeat(62))), |e| {
            matches!(e, KeyError::InvalidHex { .. })
        }),
        (ed_obj(&"é".repeat(32)), |e| {
            matches!(e, KeyError::InvalidHex { .. })
        }),
        (ed_obj(&format!("{} ", "a".repeat(63))), |e| {
            matches!(e, KeyError::InvalidHex { .. })
        }),
        // Small-order point (the identity): refused.
        (ed_obj(&format!("01{}", "00".repeat(31))), |e| {
            matches!(e, KeyError::InvalidKey { .. })
        }),
        (
            json!({"keytype": "RSA", "keyval": {"public": "garbage"}}),
            |e| matches!(e, KeyError::InvalidPem { .. }),
        ),
        (
            json!({"keytype": "RSA", "keyval": {"public": "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n"}}),
            |e| matches!(e, KeyError::InvalidPem { .. }),
        ),
        (
            json!({"keytype": "RSA", "keyval": {"public": "-----BEGIN PUBLIC KEY-----\nAAAA\n"}}),
            |e| matches!(e, KeyError::InvalidPem { .. }),
        ),
        (
            json!({"keytype": "RSA", "keyval": {"public": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}}),
            |e| matches!(e, KeyError::InvalidKey { .. }),
        ),
        (
            json!({"keytype": "RSA", "keyval": {"public": py::RSA_PKCS1}}),
            |e| matches!(e, KeyError::UnexpectedPemLabel { .. }),
        ),
        (
            json!({"keytype": "RSA", "keyval": {"public": format!("{}{}", py::RSA_PUB, py::RSA_PUB)}}),
            |e| matches!(e, KeyError::InvalidPem { .. }),
        ),
        (json!({"keytype": "RSA"}), |e| {
            matches!(e, KeyError::Malformed { .. })
        }),
        (json!({"keytype": "RSA", "keyval": {"public": 5}}), |e| {
            matches!(e, KeyError::Malformed { .. })
        }),
        (json!({"keyval": {"public": "x"}}), |e| {
            matches!(e, KeyError::Malformed { .. })
        }),
        (json!("a string"), |e| {
            matches!(e, KeyError::Malformed { .. })
        }),
    ];
    for (obj, check) in cases {
        let err = PublicKey::from_key_object(&obj, Dialect::OtaTuf).unwrap_err();
        assert!(check(&err), "{obj}: {err:?}");
        assert!(!err.to_string().is_empty());
    }
    assert!(matches!(
        PublicKey::from_pem(""),
        Err(KeyError::InvalidPem { .. })
    ));
}

#[test]
fn rsa_1024_is_refused_everywhere() {
    let small = rsa::PrivateKey::new(&mut SysRng, 1024).unwrap();
    let want = KeyError::UnsupportedRsaSize { bits: 1024 };
    let spki = small.to_public_key().to_public_key_der().unwrap();
    let pub_pem = pem_encode("PUBLIC KEY", spki.as_bytes());
    assert_eq!(PublicKey::from_pem(&pub_pem).unwrap_err(), want);
    let obj =
        json!({"keytype": "rsa", "scheme": "rsassa-pss-sha256", "keyval": {"public": pub_pem}});
    assert_eq!(
        PublicKey::from_key_object(&obj, Dialect::Tuf).unwrap_err(),
        want
    );
    let pkcs1 = small.to_pkcs1_der().unwrap();
    let pkcs1_pem = pem_encode_secret("RSA PRIVATE KEY", pkcs1.as_bytes());
    assert_eq!(PrivateKey::from_pkcs8_pem(&pkcs1_pem).unwrap_err(), want);
    let pkcs8 = small.to_pkcs8_der().unwrap();
    assert_eq!(
        PrivateKey::from_pkcs8_pem(&pem_encode_secret("PRIVATE KEY", pkcs8.as_bytes()))
            .unwrap_err(),
        want
    );
    let doc = json!({"keytype": "RSA", "keyval": {"private": pkcs1_pem.as_str()}}).to_string();
    assert_eq!(PrivateKey::from_ats_json(doc.as_bytes()).unwrap_err(), want);
    assert!(want.to_string().contains("1024"));
    assert_eq!(
        PrivateKey::generate_rsa_for_tests(1024).unwrap_err(),
        KeyError::UnsupportedRsaSize { bits: 1024 }
    );
}

#[test]
fn bad_private_keys_give_specific_errors() {
    let ats =
        |private: &str| json!({"keytype": "ED25519", "keyval": {"private": private}}).to_string();
    let secret_hex = "c0ffee".repeat(10) + "abcd"; // 64 chars, marker for leak checks
    let cases: Vec<(String, Check)> = vec![
        (ats(&secret_hex[..62]), |e| {
            matches!(e, KeyError::WrongLength { found: 62, .. })
        }),
        (ats(&format!("{secret_hex}00")), |e| {
            matches!(e, KeyError::WrongLength { found: 66, .. })
        }),
        (ats(&format!("{}g", &secret_hex[..63])), |e| {
            matches!(e, KeyError::InvalidHex { .. })
        }),
        (ats(&format!("{}é", &secret_hex[..62])), |e| {
            matches!(e, KeyError::InvalidHex { .. })
        }),
    ];
    for (doc, check) in cases {
        let err = PrivateKey::from_ats_json(doc.as_bytes()).unwrap_err();
        assert!(check(&err), "{err:?}");
        let msg = format!("{err} {err:?}");
        assert!(!msg.contains("c0ffee"), "{msg}");
    }
    let pem_cases: Vec<(String, Check)> = vec![
        ("garbage".into(), |e| matches!(e, KeyError::InvalidPem { .. })),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into(), |e| matches!(e, KeyError::InvalidKey { .. })),
        ("-----BEGIN PRIVATE KEY-----\n@@@@\n-----END PRIVATE KEY-----\n".into(), |e| matches!(e, KeyError::InvalidPem { .. })),
        ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n".into(), |e| *e == KeyError::EncryptedPrivateKey),
        ("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n".into(), |e| *e == KeyError::EncryptedPrivateKey),
        (py::RSA_PUB.into(), |e| matches!(e, KeyError::UnexpectedPemLabel { .. })),
        (format!("{}{}", py::ED_PKCS8, py::ED_PKCS8), |e| matches!(e, KeyError::InvalidPem { .. })),
        (py::ED_PKCS8.replace("-----END PRIVATE KEY-----\n", ""), |e| matches!(e, KeyError::InvalidPem { .. })),
    ];
    for (pem, check) in pem_cases {
        let err = PrivateKey::from_pkcs8_pem(&pem).unwrap_err();
        assert!(check(&err), "{pem}: {err:?}");
    }
    // An ed25519 PKCS#8 whose inner octet string is not 32 bytes.
    let mut der = ED25519_PKCS8_PREFIX.to_vec();
    der.extend_from_slice(&[7u8; 32]);
    der[1] = 0x2d;
    der[13] = 0x21;
    der[15] = 0x1f;
    der.pop();
    let err = PrivateKey::from_pkcs8_pem(&pem_encode_secret("PRIVATE KEY", &der)).unwrap_err();
    assert!(matches!(err, KeyError::InvalidKey { .. }), "{err:?}");
}

#[test]
fn secrets_stay_out_of_debug_and_errors() {
    let key = ed();
    let SecretInner::Ed25519(inner) = &key.secret else {
        panic!()
    };
    let seed_hex = hex::encode(inner.as_bytes());
    let debug = format!("{key:?}");
    assert!(
        !debug.contains(&seed_hex) && !debug.contains(&seed_hex[..16]),
        "{debug}"
    );
    assert!(debug.contains(&key.public_key().fingerprint()));
    let rsa_debug = format!("{:?}", rsa2048());
    assert!(rsa_debug.len() < 300, "{rsa_debug}");
    // A seed/public mismatch must not echo the seed.
    let other = "ab".repeat(32);
    let doc = json!({"keytype": "ED25519", "keyval": {"private": format!("{seed_hex}{other}")}})
        .to_string();
    let err = PrivateKey::from_ats_json(doc.as_bytes()).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(&seed_hex[..16]), "{text}");
    // Invalid hex in a secret: the error does not quote the bad character
    // or its neighbours.
    let doc = json!({"keytype": "ED25519", "keyval": {"private": format!("{}q", &seed_hex[..63])}})
        .to_string();
    let err = PrivateKey::from_ats_json(doc.as_bytes()).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains('q'), "{text}");
    assert!(!text.contains(&seed_hex[..8]), "{text}");
    // A keyval that is a bare string (not an object) is not echoed.
    let doc = json!({"keytype": "ED25519", "keyval": seed_hex.clone()}).to_string();
    let err = PrivateKey::from_ats_json(doc.as_bytes()).unwrap_err();
    assert!(!format!("{err} {err:?}").contains(&seed_hex[..8]));
}

#[test]
fn key_type_names() {
    assert_eq!(KeyType::Ed25519.to_string(), "ed25519");
    assert_eq!(KeyType::Rsa.to_string(), "rsa");
    assert_eq!(KeyType::EcdsaP256.to_string(), "ecdsa-p256");
    for (s, want) in [
        ("ed25519", NewKeyType::Ed25519),
        ("ED25519", NewKeyType::Ed25519),
        ("rsa-4096", NewKeyType::Rsa4096),
        ("rsa", NewKeyType::Rsa4096),
        ("RSA", NewKeyType::Rsa4096),
    ] {
        assert_eq!(s.parse::<NewKeyType>().unwrap(), want);
    }
    for bad in ["", "rsa-2048", "ecdsa", "ed448"] {
        assert_eq!(
            bad.parse::<NewKeyType>().unwrap_err(),
            KeyError::UnknownNewKeyType { given: bad.into() }
        );
    }
    assert_eq!(NewKeyType::Rsa4096.to_string(), "rsa-4096");
    assert_eq!(NewKeyType::default(), NewKeyType::Ed25519);
}

#[test]
fn equality_and_hash_follow_the_key() {
    use std::collections::HashSet;
    let a = PublicKey::from_pem(py::RSA_PUB).unwrap();
    let obj = json!({"keytype": "rsa", "scheme": "rsassa-pss-sha256", "keyval": {"public": py::RSA_PUB.trim_end()}});
    let b = PublicKey::from_key_object(&obj, Dialect::Tuf).unwrap();
    let set: HashSet<PublicKey> = [a.clone(), b, ecdsa().public_key()].into_iter().collect();
    assert_eq!(set.len(), 2);
    assert!(set.contains(&a));
}

mod no_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,200}", hexish in "[0-9a-fA-F ]{0,130}") {
            let _ = PublicKey::from_pem(&s);
            let _ = PrivateKey::from_pkcs8_pem(&s);
            let _ = PrivateKey::from_ats_json(s.as_bytes());
            let pem = format!("-----BEGIN PRIVATE KEY-----\n{s}\n-----END PRIVATE KEY-----\n");
            let _ = PrivateKey::from_pkcs8_pem(&pem);
            let pem = format!("-----BEGIN PUBLIC KEY-----\n{s}\n-----END PUBLIC KEY-----\n");
            let _ = PublicKey::from_pem(&pem);
            for keytype in ["ED25519", "RSA", "ECPRIME256V1"] {
                let doc = json!({"keytype": keytype, "keyval": {"private": hexish}}).to_string();
                let _ = PrivateKey::from_ats_json(doc.as_bytes());
                let obj = json!({"keytype": keytype, "keyval": {"public": hexish}});
                let _ = PublicKey::from_key_object(&obj, Dialect::OtaTuf);
            }
        }

        #[test]
        fn arbitrary_der_never_panics(der in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = PublicKey::from_spki_der(&der);
            let _ = PrivateKey::from_pkcs8_der(&der);
            let _ = PrivateKey::from_pkcs8_pem(&pem_encode_secret("RSA PRIVATE KEY", &der));
            let _ = PrivateKey::from_pkcs8_pem(&pem_encode_secret("EC PRIVATE KEY", &der));
        }

        #[test]
        fn arbitrary_signatures_never_panic(sig in proptest::collection::vec(any::<u8>(), 0..600)) {
            let keys = [ed().public_key(), rsa2048().public_key(), ecdsa().public_key()];
            for key in &keys {
                prop_assert!(key.verify(Dialect::Tuf, b"m", &sig, None).is_err());
                let _ = key.verify(Dialect::OtaTuf, b"m", &sig, Some("ed25519"));
                let _ = key.verify(Dialect::OtaTuf, b"m", &sig, Some("rsassa-pss"));
            }
        }
    }
}
