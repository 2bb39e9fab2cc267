//! The signer's PKCS#11 tests' own part of SoftHSM2 (the token folders are
//! `ceremony_tests::softhsm`): a helper that runs in a child process (this
//! test binary, re-run by `Hsm::helper` with the config in its
//! environment) to plant keys the signer would never make: an ECDSA key, a
//! different private key under a recorded label. It speaks PKCS#11 itself,
//! so it lives here, beside the signer's `cryptoki`.

#![allow(dead_code)]

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

pub use ceremony_tests::softhsm::{module, Hsm, PIN};

/// DER OID of prime256v1.
const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER OID of Ed25519.
const ED25519_PARAMS: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

/// The child-process side of `Hsm::helper`; does nothing unless
/// `HSM_HELPER_ACTION` is set. Actions, on the key labelled `label` of the
/// token labelled `token`:
///
/// * `ec-key`: generate an ECDSA P-256 key pair labelled `label`;
/// * `swap-private`: replace the private key by a new one of the same type,
///   label and id, keeping the old public key object (a token that signs
///   with another key than the one it shows);
/// * `replace-rsa`: replace both halves by an RSA-2048 pair, same label and id;
/// * `extractable-key`, `non-sensitive-key`: generate an Ed25519 key pair
///   labelled `label` whose private half can leave the token
///   (`CKA_EXTRACTABLE` true; `CKA_SENSITIVE` false);
/// * `twin`: generate a second Ed25519 key pair with the label and id of
///   the one there.
pub fn helper_main() {
    let Ok(action) = std::env::var("HSM_HELPER_ACTION") else {
        return;
    };
    let token = std::env::var("HSM_HELPER_TOKEN").unwrap();
    let label = std::env::var("HSM_HELPER_LABEL").unwrap();
    let ctx = Pkcs11::new(module()).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label() == token)
        .expect("token present");
    let session = ctx.open_rw_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::from(PIN.to_string())))
        .unwrap();
    let label_attr = Attribute::Label(label.as_bytes().to_vec());
    let find = |class: ObjectClass| {
        session
            .find_objects(&[Attribute::Class(class), label_attr.clone()])
            .unwrap()
    };
    let private_template = |id: &[u8]| {
        vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            label_attr.clone(),
            Attribute::Id(id.to_vec()),
        ]
    };
    let public_template = |id: &[u8]| {
        vec![
            Attribute::Token(true),
            Attribute::Verify(true),
            label_attr.clone(),
            Attribute::Id(id.to_vec()),
        ]
    };
    match action.as_str() {
        "ec-key" => {
            let mut public = public_template(&[0xec]);
            public.push(Attribute::EcParams(P256_PARAMS.to_vec()));
            session
                .generate_key_pair(
                    &Mechanism::EccKeyPairGen,
                    &public,
                    &private_template(&[0xec]),
                )
                .unwrap();
        }
        "swap-private" | "replace-rsa" => {
            let private = find(ObjectClass::PRIVATE_KEY);
            assert_eq!(private.len(), 1, "one private key labelled {label}");
            let attrs = session
                .get_attributes(private[0], &[AttributeType::Id, AttributeType::KeyType])
                .unwrap();
            let mut id = Vec::new();
            let mut kind = KeyType::RSA;
            for a in attrs {
                match a {
                    Attribute::Id(v) => id = v,
                    Attribute::KeyType(k) => kind = k,
                    _ => {}
                }
            }
            session.destroy_object(private[0]).unwrap();
            let mut public = public_template(&id);
            let mechanism = if action == "replace-rsa" || kind == KeyType::RSA {
                public.push(Attribute::ModulusBits(2048.into()));
                public.push(Attribute::PublicExponent(vec![1, 0, 1]));
                Mechanism::RsaPkcsKeyPairGen
            } else {
                public.push(Attribute::EcParams(ED25519_PARAMS.to_vec()));
                Mechanism::EccEdwardsKeyPairGen
            };
            let old_public = find(ObjectClass::PUBLIC_KEY);
            let (new_public, _) = session
                .generate_key_pair(&mechanism, &public, &private_template(&id))
                .unwrap();
            if action == "swap-private" {
                session.destroy_object(new_public).unwrap();
            } else {
                for h in old_public {
                    session.destroy_object(h).unwrap();
                }
            }
        }
        "extractable-key" | "non-sensitive-key" => {
            let id = if action == "extractable-key" {
                0xe1
            } else {
                0x5e
            };
            let mut public = public_template(&[id]);
            public.push(Attribute::EcParams(ED25519_PARAMS.to_vec()));
            let mut private = private_template(&[id]);
            private.retain(|a| !matches!(a, Attribute::Sensitive(_)));
            if action == "extractable-key" {
                private.push(Attribute::Sensitive(true));
                private.push(Attribute::Extractable(true));
            } else {
                private.push(Attribute::Sensitive(false));
                private.push(Attribute::Extractable(false));
            }
            session
                .generate_key_pair(&Mechanism::EccEdwardsKeyPairGen, &public, &private)
                .unwrap();
        }
        "twin" => {
            let private = find(ObjectClass::PRIVATE_KEY);
            assert_eq!(private.len(), 1, "one private key labelled {label}");
            let attrs = session
                .get_attributes(private[0], &[AttributeType::Id])
                .unwrap();
            let id = match attrs.as_slice() {
                [Attribute::Id(v)] => v.clone(),
                other => panic!("no id: {other:?}"),
            };
            let mut public = public_template(&id);
            public.push(Attribute::EcParams(ED25519_PARAMS.to_vec()));
            let mut private = private_template(&id);
            private.push(Attribute::Extractable(false));
            session
                .generate_key_pair(&Mechanism::EccEdwardsKeyPairGen, &public, &private)
                .unwrap();
        }
        other => panic!("unknown helper action {other}"),
    }
    drop(session);
    ctx.finalize().unwrap();
    println!("helper done");
}
