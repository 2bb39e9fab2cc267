//! The DER structures inside the PEM armour: SubjectPublicKeyInfo for public
//! keys, PKCS#8 for private ones, and the algorithm identifiers in both.

use rsa::pkcs1::RsaPublicKeyRef;
use rsa::pkcs8::der::Decode;
use rsa::pkcs8::{EncodePublicKey, ObjectIdentifier, PrivateKeyInfoRef, SubjectPublicKeyInfoRef};
use zeroize::Zeroizing;

use super::algorithm::check_rsa_bits;
use super::error::{invalid_key, invalid_key_msg};
use super::{KeyError, PrivateKey, PublicKey};

/// `rsaEncryption`, the usual algorithm of an RSA SubjectPublicKeyInfo.
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-RSASSA-PSS`, an RSA key restricted to PSS; same key material.
const OID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
/// `id-Ed25519` (RFC 8410).
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// `id-ecPublicKey`; the curve is in the algorithm parameters.
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `prime256v1` / `secp256r1` / NIST P-256.
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// PKCS#8 v1 prefix of an Ed25519 private key (RFC 8410 §7): the 32-byte seed
/// follows. Writing it by hand keeps the seed in a buffer we wipe.
pub(super) const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

impl PublicKey {
    pub(super) fn from_spki_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        const WHAT: &str = "the public key";
        let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| invalid_key(WHAT, e))?;
        let oid = spki.algorithm.oid;
        if oid == OID_RSA_ENCRYPTION || oid == OID_RSASSA_PSS {
            // Check the size before the rsa crate sees it, so a small key gets
            // the size error rather than a decoding error.
            let raw = spki
                .subject_public_key
                .as_bytes()
                .ok_or_else(|| invalid_key_msg(WHAT, "the key bit string is not whole bytes"))?;
            let pkcs1 = RsaPublicKeyRef::from_der(raw).map_err(|e| invalid_key(WHAT, e))?;
            check_rsa_bits(be_bit_len(pkcs1.modulus.as_bytes()))?;
            let key = rsa::PublicKey::try_from(spki).map_err(|e| invalid_key(WHAT, e))?;
            PublicKey::from_rsa(key)
        } else if oid == OID_ED25519 {
            let key =
                ed25519_dalek::VerifyingKey::try_from(spki).map_err(|e| invalid_key(WHAT, e))?;
            PublicKey::from_ed25519(key)
        } else if oid == OID_EC_PUBLIC_KEY {
            check_curve(&spki.algorithm)?;
            let key =
                p256::ecdsa::VerifyingKey::try_from(spki).map_err(|e| invalid_key(WHAT, e))?;
            PublicKey::from_p256(key)
        } else {
            Err(KeyError::UnsupportedAlgorithm {
                what: format!("algorithm OID {oid}"),
            })
        }
    }
}

impl PrivateKey {
    pub(super) fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
        const WHAT: &str = "the PKCS#8 private key";
        let info = PrivateKeyInfoRef::from_der(der).map_err(|e| invalid_key(WHAT, e))?;
        let oid = info.algorithm.oid;
        if oid == OID_RSA_ENCRYPTION || oid == OID_RSASSA_PSS {
            let key = rsa::PrivateKey::try_from(info).map_err(|e| invalid_key(WHAT, e))?;
            PrivateKey::from_rsa(key)
        } else if oid == OID_ED25519 {
            // RFC 8410: the private key is an OCTET STRING inside the OCTET
            // STRING; an optional public key (PKCS#8 v2) must match.
            let seed_bytes = match info.private_key.as_bytes() {
                [0x04, 0x20, rest @ ..] if rest.len() == 32 => rest,
                _ => {
                    return Err(invalid_key_msg(
                        WHAT,
                        "the Ed25519 private key is not a 32-byte seed",
                    ))
                }
            };
            let mut seed = Zeroizing::new([0u8; 32]);
            seed.copy_from_slice(seed_bytes);
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            if let Some(public) = info.public_key {
                if public.as_bytes() != Some(&key.verifying_key().as_bytes()[..]) {
                    return Err(KeyError::KeypairMismatch);
                }
            }
            PrivateKey::from_ed25519(key)
        } else if oid == OID_EC_PUBLIC_KEY {
            check_curve(&info.algorithm)?;
            let key = p256::ecdsa::SigningKey::try_from(info).map_err(|e| invalid_key(WHAT, e))?;
            PrivateKey::from_p256(key)
        } else {
            Err(KeyError::UnsupportedAlgorithm {
                what: format!("algorithm OID {oid}"),
            })
        }
    }
}

/// Refuses EC keys on curves other than P-256, naming the curve.
fn check_curve(algorithm: &rsa::pkcs8::AlgorithmIdentifierRef<'_>) -> Result<(), KeyError> {
    match algorithm.parameters_oid() {
        Ok(curve) if curve == OID_P256 => Ok(()),
        Ok(curve) => Err(KeyError::UnsupportedAlgorithm {
            what: format!("ECDSA on the curve with OID {curve} (only P-256 is supported)"),
        }),
        Err(e) => Err(invalid_key(
            "the EC key",
            format!("its curve is not named: {e}"),
        )),
    }
}

/// Bit length of a big-endian unsigned integer.
pub(super) fn be_bit_len(bytes: &[u8]) -> usize {
    match bytes.iter().position(|&b| b != 0) {
        Some(i) => (bytes.len() - i - 1) * 8 + (8 - bytes[i].leading_zeros() as usize),
        None => 0,
    }
}

pub(super) fn encode_spki(key: &impl EncodePublicKey) -> Result<Vec<u8>, KeyError> {
    key.to_public_key_der()
        .map(|doc| doc.as_bytes().to_vec())
        .map_err(|e| KeyError::Encoding {
            reason: e.to_string(),
        })
}
