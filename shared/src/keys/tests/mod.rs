//! Besides round trips of our own keys, these tests check against data
//! made by others: the aktualizr root vectors (ota-tuf server output) and,
//! in `py`, keys, signatures and TUF key ids made with python's
//! `cryptography` 48 (random-k ECDSA, including high-S signatures; RSA-PSS
//! with salt 32 and with the maximum salt), the library python-tuf and
//! securesystemslib build on. The TUF key ids in `py` were computed with
//! a hand-written OLPC canonicaliser in python, independent of ours.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use getrandom::SysRng;
use p256::elliptic_curve::scalar::IsHigh;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::der::ED25519_PKCS8_PREFIX;
use super::pem::{pem_encode, pem_encode_secret};
use super::private::{SecretInner, SecretRef};
use super::*;
use crate::dialect::Dialect;

mod backends;
mod bad_inputs;
mod files;
mod key_objects;
mod sign_verify;
mod signer;

/// The aktualizr vectors. When this file lives in /work/main/shared/src
/// the path is relative to the crate.
const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/vectors/aktualizr/"
);

/// Made by python's `cryptography` 48; see the module comment above.
mod py {
    pub const MSG: &str = "{\"_type\":\"root\",\"version\":1}";
    pub const ECDSA_PKCS8: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgejJaJZNGiJSU7D/y\n2gNa5+DlF5lVKUyGc928EBe0r5qhRANCAARNvTBNJYLzFU5Ue8Wi/7qT04NZQOL2\nKXJtTbwmZulGEGt9/gLeOzPQkhEnplBjEYObByOS3pU3dQRcAwjHHsSe\n-----END PRIVATE KEY-----\n";
    pub const ECDSA_SEC1: &str = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIHoyWiWTRoiUlOw/8toDWufg5ReZVSlMhnPdvBAXtK+aoAoGCCqGSM49\nAwEHoUQDQgAETb0wTSWC8xVOVHvFov+6k9ODWUDi9ilybU28JmbpRhBrff4C3jsz\n0JIRJ6ZQYxGDmwcjkt6VN3UEXAMIxx7Eng==\n-----END EC PRIVATE KEY-----\n";
    pub const ECDSA_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETb0wTSWC8xVOVHvFov+6k9ODWUDi\n9ilybU28JmbpRhBrff4C3jsz0JIRJ6ZQYxGDmwcjkt6VN3UEXAMIxx7Eng==\n-----END PUBLIC KEY-----\n";
    pub const ECDSA_KEYID: &str =
        "c1ba5acf6cba9142f68745a1c1aafacd2ca5aaa2d63c68df553a7dbe0bd0590a";
    pub const ECDSA_KEYID_OLD_KEYTYPE: &str =
        "7a51845c003c718659317bf60a48cf75ddcce87b496a859cdbffee616a054b89";
    pub const ECDSA_SPKI_SHA256: &str =
        "e9e1c2e93545ee525415b7752aaf60dd542daf2126df48d6245a2df5c39ac2bf";
    pub const RSA_PKCS1: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAqwPaiVHqfmz5JBQHq+lQ4Bkvo8h+KnGz96OSzESZo/4XTQMM\n1EcFkbmu9WeJLMonQVqyJaLHVNnVOGH5ksUcwHX2M2/AfhJb2rqttywF6/VZUipn\nV36On9f1jp/cXhZSYoKXMa3yRh6qiswoRl2XMUH8o7eygk0Ac7q6peONzIuE71mi\nCD0xDpDEifcBbFXld3zsVZx0MlDVpgMz4Uhg41njzzUtldKccmUVYcnH/7tuJBuY\nvVEw4PpoeoldUe0Qrqrdj/67VMAngD4aYB23jktF/rqnU+8WN58wMYUqZHlUZlqC\nRLwnciXlP6O9tuhrOnyz+jvWznihOxUvca+XGwIDAQABAoIBAC+bTwbTKvgu1dxZ\nRxlwRfdci4qIkba3GGZjvsXmgu7IGSxzIOsnKkG68x2VyPYTAIKNAPLBMcRJL7YW\ncCePf8WEERmYjnmKGs/1D87iDnP1RPw+ma4dqQ6OS+l8TxhSFnUd7YEC72LdvpQM\n6VlNTH2F5RKeXK8xSGLvJG5xvlOmPmOebTc6F959dxOHV7xVbq/zhndIGNqIttkr\nVYROsdtsJv/0slxqcoahUonoJ2xvvooACYweGWXiv7R4J/m72W20q1YcFh3DNSiE\n7tfNj1DhkIQ3id5SoGB9DxL8pSfuTC5aSaSXDNy0vBvjhENUvIJABRoIy6vrnP7y\nGQPSoqECgYEA4zCmUuTNucVEaFTlsT8aHx+7hMqPur54RQXsoRzqtD1Km1PEkr+1\nGHzouabcwxPU/m86NX1pxPir4z3kzOIHsSIWEDmEEAVPVJfPP+ZfcFau26z+OdK1\nooqSN7uWu1F79vQbBpL1eSCXAAkCGTYXFJ+2ympTmEgtsXRf4AzpVf0CgYEAwLOT\nXE4olsQWdI2MMBN0Tzg8klRYU7Yq1EoRw8WZBwqOjCvMZdX938Tv6NjN59bAZVrC\nPjP0JC0PvzpmT90C6IkvI7xqcevoOS1UM5i4ZakW7FfMDuclYFMASrAHINLX0FTN\nX/uhgPh16C3v06q7OeGZaXL5gfr+Ml1BoXtmIPcCgYBFWym7bpwbVUyP6TMBzDjG\nPaK6ZDhCkzkWITve53wDMB7hkk4VWq8HXcKSQo1shFZmokAL6lBq0FtxEQkTPwGI\nItbHdzeIyIYyVfHwGP0Tx3K0H3iw4FGQ4GrI1tyqLLMCbfz+IckMhFV0rktUtP2Q\nzz03SARjHc3NObC3LlnhZQKBgBQDEiyl2UU+++4CvSpI+u03M+Mmaz3WT0BYqNuh\n67B1gjRAYCu7O3A/rYKK8WdAQB7GfCGll5ciLt53HCTzGNg5VvHpIUzPaQB3GqV5\nGL1GACFvRLvPeWw1cnRPL45TFyKFjAaJxU31f5krHBrpQiRSr3HqBMtg24Ezehth\nC0wlAoGBAIWIPPm7LFtqHRyDjuLNZJL2IGfKCihPDRCty9T/rqC4FbD71MA704Qk\nn568gErMVj8sXOAHgPqF/uSeXoqv6gUr1LnjUD1xn+Thb5pzcru92Dk07O9An6IR\nZvb6xWy3eL8c8UVvUC4ixk6B0XSs8hggXnmBz8GP0d4DwrBD4nCk\n-----END RSA PRIVATE KEY-----\n";
    pub const RSA_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqwPaiVHqfmz5JBQHq+lQ\n4Bkvo8h+KnGz96OSzESZo/4XTQMM1EcFkbmu9WeJLMonQVqyJaLHVNnVOGH5ksUc\nwHX2M2/AfhJb2rqttywF6/VZUipnV36On9f1jp/cXhZSYoKXMa3yRh6qiswoRl2X\nMUH8o7eygk0Ac7q6peONzIuE71miCD0xDpDEifcBbFXld3zsVZx0MlDVpgMz4Uhg\n41njzzUtldKccmUVYcnH/7tuJBuYvVEw4PpoeoldUe0Qrqrdj/67VMAngD4aYB23\njktF/rqnU+8WN58wMYUqZHlUZlqCRLwnciXlP6O9tuhrOnyz+jvWznihOxUvca+X\nGwIDAQAB\n-----END PUBLIC KEY-----\n";
    pub const RSA_SIG_SALT32: &str = "6b1fe03a0724e89981f6c2fe88bd61e87eb0660ecfcaeb2588f5882f381162580d6038ad8014c73c13574768d368d03f50fc0b0cc56af5291ba880e37cf29fe2b816288f0158113c325b150a84f9642ae7cb5a01df63369f817c91a893b3e08854a0b4bd87d1d0307891cdca3e5bb5facbad6d8ac51db084db11c4a55f60fd7ca2c79d7da4dfac36b189fd4b90d4cea1762ff579208edb3e0531c6cf6036efad8d7d2fd4778782be743ecb646024fc1185d538fe616b0ccd8b7d2ba7ced68fd94f0b77fa1156252b4d2f78315ee47db98c1816fe2732a7d78badbeaf0e09195d0c473162cd90d9d1219de85721186830cc7d2905398bacd54cfac5217e7875bd";
    pub const RSA_SIG_SALTMAX: &str = "7ba3ffc5ffb0e8e23a8ac3c0b7e90714bd1c72183f139cc95027ed4228aa3132b448d94d4cb13f94cd5320fe2cb414c7bb94102cbb24d849519d2e8da243d0c1e53620bd7218313731f38cd335ce21de23f51f0a5ac25dc5f42eee2055b1cd194b42c7a9f04762a1f032c7831e8320a06ae2fc8375963e86d96a10dd860aa8f11c57d50ec0f32f1e332770c499172342ccd556b7f1430f6c3daa117c1405a69915c767bff1a95bbe777bec28a8d7b003f5aa85ce374598063207b62550267095d990e50f5b4f2bb2981b67475210c969689d2656048d2f1ad9e3c8eece2a2f8434cace0eabc3289613eb22e999cf7b24af566f415eb53f87e1ad98d8b6c348c7";
    pub const RSA_KEYID: &str = "481d09f13c31f1fb2cc7d70841d23438a74d3efafdeeaddcc0435876df4e15fa";
    pub const RSA_SPKI_SHA256: &str =
        "6f9a6a0c58eeec40f94d01d05a4b3827137660a4077f49f0bff6385db7d7096e";
    pub const ED_PKCS8: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEII1zF/HHRrSespu04dEj2VONeG6U2i+yjCRFUbjt7K6W\n-----END PRIVATE KEY-----\n";
    pub const ED_PUB: &str = "b57b1a451f2254b4d750193453356a7d8d4d1f143c26361071ebd3af7b92dae7";
    pub const ED_SIG: &str = "c57683200d5b6e0a87391eeba919bd5be8102f257776249ed125a2888a4e59fabc4d903fa1a99e059e9cbc5561e026526d6d2b733bbb9b3e5d6b7210a4c25601";
    pub const ED_KEYID: &str = "0348a73f38cf07bc4f3576848f0f244182e899e54a843c2c468ccb02150ebf1b";
    pub const ECDSA_SIGS: [&str; 4] = ["3046022100b0e37744f03e16a4c21cd534d0f6908057a59f26cf066e2ad090e034a8f9c7d5022100b7cdda2abfa1612a525ad536dfa7ede82d29f9ba3f6c16916810450b231c36ba", "30440220602c6f828c02a6d8b345c5acc0353c3354b3cfb61ba5da233d0a92d2e934e90a022067953045796642a881369e7ac2655acbcb531a3d7cc2d26678e1fa51c40ba04c", "3046022100c9781ca4238eb37985bd5b252c2f42541d488400a7348b401bdb3c368901f8950221008973f042a4b44f0a31594ab901ae2fe2f23b0487a27c503120ab8534d54e6468", "3045022100de64721aa2bb3c43ae922d602a0e3ceed79841c0f013c0fa910d061ca717172b02205b1121b906c1a3d4ad3047e0c813f5c6a90cfe4f5e5d7fb3b2cf5e37bcb8fd1f"];
}

/// One RSA-2048 key shared by the tests that need "some RSA key":
/// generating one takes a noticeable fraction of a second.
fn rsa2048() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate_rsa_for_tests(2048).expect("generate RSA-2048"))
}

/// Recognises the error a bad input should give.
type Check = fn(&KeyError) -> bool;

fn ed() -> PrivateKey {
    PrivateKey::generate(NewKeyType::Ed25519).expect("generate ed25519")
}

fn ecdsa() -> PrivateKey {
    PrivateKey::from_pkcs8_pem(py::ECDSA_PKCS8).expect("python's ECDSA key")
}

fn flipped(message: &[u8]) -> Vec<u8> {
    let mut m = message.to_vec();
    m[0] ^= 1;
    m
}

fn read_vector(name: &str) -> Value {
    let path = format!("{VECTORS}{name}");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_slice(&bytes).expect("vector is JSON")
}

/// aktualizr's own legacy key id: sha256 of the public string, trailing
/// newlines removed, as a JSON string literal (`"…"`). Some vectors were
/// made by aktualizr's test generator with it.
fn aktualizr_legacy_id(public: &str) -> String {
    let quoted = serde_json::to_string(public.trim_end_matches('\n')).expect("string");
    hex::encode(Sha256::digest(quoted.as_bytes()))
}
