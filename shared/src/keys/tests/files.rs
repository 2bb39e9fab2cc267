//! fioctl key files and PEM private keys.

use super::*;

#[test]
fn ats_ed25519_seed_and_keypair_forms() {
    let key = ed();
    let sec = key.to_ats_private_json().unwrap();
    let SecretInner::Ed25519(inner) = &key.secret else {
        panic!("ed25519")
    };
    let seed_hex = hex::encode(inner.as_bytes());
    assert_eq!(
        *sec,
        format!(r#"{{"keytype":"ED25519","keyval":{{"private":"{seed_hex}"}}}}"#)
    );
    let back = PrivateKey::from_ats_json(sec.as_bytes()).unwrap();
    assert_eq!(back.public_key(), key.public_key());

    // 64 bytes seed‖public, as ota-tuf and garage-sign write it, pretty-printed.
    let public_hex = hex::encode(&key.public_key().data.spki_der[12..]);
    let pretty = format!(
        "{{\n  \"keytype\" : \"ed25519\",\n  \"keyval\" : {{\n    \"private\" : \"{seed_hex}{public_hex}\"\n  }}\n}}\n"
    );
    assert_eq!(
        PrivateKey::from_ats_json(pretty.as_bytes())
            .unwrap()
            .public_key(),
        key.public_key()
    );
    // …uppercase hex too.
    let upper = format!(
        r#"{{"keytype":"ED25519","keyval":{{"private":"{}"}}}}"#,
        seed_hex.to_uppercase()
    );
    assert_eq!(
        PrivateKey::from_ats_json(upper.as_bytes())
            .unwrap()
            .public_key(),
        key.public_key()
    );

    // Seed and public that do not belong together.
    let other = ed().public_key().to_key_object(Dialect::OtaTuf)["keyval"]["public"]
        .as_str()
        .unwrap()
        .to_owned();
    let mismatched =
        format!(r#"{{"keytype":"ED25519","keyval":{{"private":"{seed_hex}{other}"}}}}"#);
    assert_eq!(
        PrivateKey::from_ats_json(mismatched.as_bytes()).unwrap_err(),
        KeyError::KeypairMismatch
    );
    // A stored public key that is not this key's.
    let wrong_pub = format!(
        r#"{{"keytype":"ED25519","keyval":{{"private":"{seed_hex}","public":"{other}"}}}}"#
    );
    assert_eq!(
        PrivateKey::from_ats_json(wrong_pub.as_bytes()).unwrap_err(),
        KeyError::KeypairMismatch
    );
    let right_pub = format!(
        r#"{{"keytype":"ED25519","keyval":{{"private":"{seed_hex}","public":"{public_hex}"}}}}"#
    );
    assert!(PrivateKey::from_ats_json(right_pub.as_bytes()).is_ok());

    // The .pub file.
    let pub_json = key.to_ats_public_json();
    assert_eq!(
        pub_json,
        format!(r#"{{"keytype":"ED25519","keyval":{{"public":"{public_hex}"}}}}"#)
    );
    let v: Value = serde_json::from_str(&pub_json).unwrap();
    assert_eq!(
        PublicKey::from_key_object(&v, Dialect::OtaTuf).unwrap(),
        key.public_key()
    );
}

#[test]
fn ats_rsa_pkcs1_and_pkcs8() {
    let key = rsa2048();
    let sec = key.to_ats_private_json().unwrap();
    assert!(
        sec.starts_with(
            r#"{"keytype":"RSA","keyval":{"private":"-----BEGIN RSA PRIVATE KEY-----\n"#
        ),
        "{}",
        &sec[..40]
    );
    assert!(sec.ends_with("-----END RSA PRIVATE KEY-----\\n\"}}"));
    // It is the JSON serde_json would write.
    let v: Value = serde_json::from_str(&sec).unwrap();
    assert_eq!(v.to_string(), *sec);
    let back = PrivateKey::from_ats_json(sec.as_bytes()).unwrap();
    assert_eq!(back.public_key(), key.public_key());

    // PKCS#8 inside an AtsKey is accepted too, keytype in any case.
    let pkcs8 = key.to_pkcs8_pem().unwrap();
    let doc = json!({"keytype": "rsa", "keyval": {"private": pkcs8.as_str()}}).to_string();
    assert_eq!(
        PrivateKey::from_ats_json(doc.as_bytes())
            .unwrap()
            .public_key(),
        key.public_key()
    );

    // python's PKCS#1 key inside an AtsKey, with its public half.
    let doc =
        json!({"keytype": "RSA", "keyval": {"private": py::RSA_PKCS1, "public": py::RSA_PUB}})
            .to_string();
    assert_eq!(
        PrivateKey::from_ats_json(doc.as_bytes())
            .unwrap()
            .public_key(),
        PublicKey::from_pem(py::RSA_PUB).unwrap()
    );

    let pub_json: Value = serde_json::from_str(&key.to_ats_public_json()).unwrap();
    assert_eq!(pub_json["keytype"], "RSA");
    assert!(pub_json["keyval"]["public"]
        .as_str()
        .unwrap()
        .ends_with("-----END PUBLIC KEY-----\n"));

    // Declared RSA, holds ed25519 PEM.
    let ed_pem = ed().to_pkcs8_pem().unwrap();
    let doc = json!({"keytype": "RSA", "keyval": {"private": ed_pem.as_str()}}).to_string();
    assert_eq!(
        PrivateKey::from_ats_json(doc.as_bytes()).unwrap_err(),
        KeyError::KeyTypeMismatch {
            declared: "RSA".into(),
            actual: KeyType::Ed25519
        }
    );
}

#[test]
fn ats_refuses_ecdsa_and_bad_files() {
    assert_eq!(
        ecdsa().to_ats_private_json().unwrap_err(),
        KeyError::NotAtsRepresentable {
            key_type: KeyType::EcdsaP256
        }
    );
    let cases: [(&[u8], Check); 8] = [
        (b"not json", |e| matches!(e, KeyError::InvalidJson { .. })),
        (b"{\"keytype\":\"ED25519\"", |e| {
            matches!(e, KeyError::InvalidJson { .. })
        }),
        (b"[]", |e| matches!(e, KeyError::Malformed { .. })),
        (b"{\"keytype\":\"ED25519\"}", |e| {
            matches!(e, KeyError::Malformed { .. })
        }),
        (b"{\"keytype\":\"ED25519\",\"keyval\":\"00\"}", |e| {
            matches!(e, KeyError::Malformed { .. })
        }),
        (
            b"{\"keytype\":\"ED25519\",\"keyval\":{\"private\":7}}",
            |e| matches!(e, KeyError::Malformed { .. }),
        ),
        (
            b"{\"keytype\":\"ED25519\",\"keyval\":{\"public\":\"00\"}}",
            |e| matches!(e, KeyError::Malformed { reason } if reason.contains(".pub")),
        ),
        (
            b"{\"keytype\":\"DSA\",\"keyval\":{\"private\":\"00\"}}",
            |e| matches!(e, KeyError::Unsupported { .. }),
        ),
    ];
    for (bytes, check) in cases {
        let err = PrivateKey::from_ats_json(bytes).unwrap_err();
        assert!(check(&err), "{}: {err:?}", String::from_utf8_lossy(bytes));
    }
}

#[test]
fn pkcs8_round_trips() {
    for key in [
        ed(),
        PrivateKey::from_pkcs8_pem(py::RSA_PKCS1).unwrap(),
        ecdsa(),
    ] {
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(pem.ends_with("-----END PRIVATE KEY-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        let back = PrivateKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        let sig = back.sign(b"x").unwrap();
        key.public_key()
            .verify(Dialect::Tuf, b"x", &sig, None)
            .unwrap();
    }
    // Our Ed25519 PKCS#8 is byte-identical to python's (v1, seed only).
    let key = PrivateKey::from_pkcs8_pem(py::ED_PKCS8).unwrap();
    assert_eq!(*key.to_pkcs8_pem().unwrap(), py::ED_PKCS8);
    // PKCS#8 v2 with the public key is read, and the public key checked.
    let SecretInner::Ed25519(inner) = &key.secret else {
        panic!()
    };
    let v2 = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(inner).unwrap();
    let pem = pem_encode_secret("PRIVATE KEY", v2.as_bytes());
    assert_eq!(
        PrivateKey::from_pkcs8_pem(&pem).unwrap().public_key(),
        key.public_key()
    );
    let mut tampered = v2.as_bytes().to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let pem = pem_encode_secret("PRIVATE KEY", &tampered);
    assert!(PrivateKey::from_pkcs8_pem(&pem).is_err());
    // "EC PARAMETERS" before the key, as `openssl ecparam -genkey` writes.
    let with_params = format!(
        "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{}",
        py::ECDSA_SEC1
    );
    assert_eq!(
        PrivateKey::from_pkcs8_pem(&with_params)
            .unwrap()
            .public_key(),
        ecdsa().public_key()
    );
}
