//! The [`Signer`] abstraction: keys rebuilt from raw parts (as a PKCS#11
//! token reports them), and a signer that returns another key's
//! signature.

use super::*;

/// A signer that claims one key and signs with another, like a token
/// holding a different key under the recorded label.
struct Impostor {
    claimed: PublicKey,
    actual: PrivateKey,
}

impl Signer for Impostor {
    fn public_key(&self) -> PublicKey {
        self.claimed.clone()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        PrivateKey::sign(&self.actual, message)
    }
    fn describe(&self) -> String {
        "key \"k\" on token \"t\"".into()
    }
}

#[test]
fn keys_from_raw_parts_are_the_same_keys() {
    let ed = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
    let SecretRef::Ed25519(sk) = ed.secret.as_ref() else {
        unreachable!()
    };
    let raw = sk.verifying_key().to_bytes();
    assert_eq!(
        PublicKey::from_ed25519_bytes(&raw).unwrap(),
        ed.public_key()
    );
    assert!(matches!(
        PublicKey::from_ed25519_bytes(&raw[..31]),
        Err(KeyError::WrongLength { found: 31, .. })
    ));

    let rsa = PrivateKey::generate_rsa_for_tests(2048).unwrap();
    let SecretRef::Rsa(rk) = rsa.secret.as_ref() else {
        unreachable!()
    };
    let (n, e) = (rk.n_bytes(), rk.e_bytes());
    let back = PublicKey::from_rsa_components(&n, &e).unwrap();
    assert_eq!(back, rsa.public_key());
    assert_eq!(
        PublicKey::from_pem(&back.to_spki_pem()).unwrap(),
        rsa.public_key()
    );
    // A leading zero byte (as some tokens report) changes nothing.
    let mut padded = vec![0u8];
    padded.extend_from_slice(&n);
    assert_eq!(
        PublicKey::from_rsa_components(&padded, &e).unwrap(),
        rsa.public_key()
    );
    assert!(matches!(
        PublicKey::from_rsa_components(&n[..128], &e),
        Err(KeyError::UnsupportedRsaSize { bits: 1024 })
    ));
}

#[test]
fn sign_checked_refuses_another_keys_signature() {
    for rsa in [false, true] {
        let (claimed, actual) = if rsa {
            (
                PrivateKey::generate_rsa_for_tests(2048).unwrap(),
                PrivateKey::generate_rsa_for_tests(2048).unwrap(),
            )
        } else {
            (
                PrivateKey::generate(NewKeyType::Ed25519).unwrap(),
                PrivateKey::generate(NewKeyType::Ed25519).unwrap(),
            )
        };
        assert!(sign_checked(&claimed, b"m").is_ok());
        let impostor = Impostor {
            claimed: claimed.public_key(),
            actual,
        };
        let err = sign_checked(&impostor, b"m").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, KeyError::SignerMismatch { .. }), "{text}");
        assert!(
            text.contains("key \"k\" on token \"t\"")
                && text.contains(&claimed.public_key().fingerprint()),
            "{text}"
        );
    }
}

#[test]
fn verify_as_made_wants_salt_32() {
    let rsa = PrivateKey::generate_rsa_for_tests(2048).unwrap();
    let SecretRef::Rsa(rk) = rsa.secret.as_ref() else {
        unreachable!()
    };
    let salt20 = rk
        .sign_with_rng(
            &mut SysRng,
            rsa::Pss::<Sha256>::new_with_salt(20),
            &Sha256::digest(b"m"),
        )
        .unwrap();
    let public = rsa.public_key();
    assert!(public.verify(Dialect::Tuf, b"m", &salt20, None).is_ok());
    assert!(public.verify_as_made(b"m", &salt20).is_err());
    let ours = Signer::sign(&rsa, b"m").unwrap();
    assert!(public.verify_as_made(b"m", &ours).is_ok());
}
