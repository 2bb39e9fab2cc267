//! Key generation and signing for the test tools (`factory-sim init`,
//! `tuf-repo-init`), written directly on the RustCrypto crates.
//!
//! This is deliberately a second, independent implementation of what the
//! `ceremony` library does for the real tools: roots made here are verified
//! by the library's rules, so a mistake on either side shows up as a failing
//! test instead of agreeing with itself.

use base64::Engine as _;
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _, Signer as _};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use ceremony::canonical::to_canonical_bytes;
use ceremony::Dialect;

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A freshly generated signing key.
pub enum TestKey {
    /// Ed25519.
    Ed25519(Box<ed25519_dalek::SigningKey>),
    /// RSA (2048, 3072 or 4096 bits), signing with RSASSA-PSS-SHA256, salt 32.
    Rsa(Box<rsa::PrivateKey>),
}

/// Which key to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestKeyType {
    /// Ed25519.
    Ed25519,
    /// RSA with this many bits.
    Rsa(usize),
}

impl std::str::FromStr for TestKeyType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "ed25519" => Ok(TestKeyType::Ed25519),
            "rsa-2048" | "rsa" => Ok(TestKeyType::Rsa(2048)),
            "rsa-3072" => Ok(TestKeyType::Rsa(3072)),
            "rsa-4096" => Ok(TestKeyType::Rsa(4096)),
            other => Err(format!(
                "unknown key type {other:?}: use ed25519, rsa-2048, rsa-3072 or rsa-4096"
            )),
        }
    }
}

fn rng() -> rsa::rand_core::UnwrapErr<getrandom::SysRng> {
    rsa::rand_core::UnwrapErr(getrandom::SysRng)
}

impl TestKey {
    /// Generates a key of the given type.
    pub fn generate(kind: TestKeyType) -> TestKey {
        match kind {
            TestKeyType::Ed25519 => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).expect("the system RNG works");
                TestKey::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(&seed)))
            }
            TestKeyType::Rsa(bits) => TestKey::Rsa(Box::new(
                rsa::PrivateKey::new(&mut rng(), bits).expect("RSA key generation"),
            )),
        }
    }

    /// The SubjectPublicKeyInfo DER of the public key.
    pub fn spki_der(&self) -> Vec<u8> {
        match self {
            TestKey::Ed25519(k) => {
                let mut der = ED25519_SPKI_PREFIX.to_vec();
                der.extend_from_slice(k.verifying_key().as_bytes());
                der
            }
            TestKey::Rsa(k) => k
                .to_public_key()
                .to_public_key_der()
                .expect("RSA SPKI encodes")
                .as_bytes()
                .to_vec(),
        }
    }

    /// The public key as the key object of `dialect`.
    pub fn key_object(&self, dialect: Dialect) -> Value {
        match (self, dialect) {
            (TestKey::Ed25519(k), Dialect::OtaTuf) => json!({
                "keytype": "ED25519",
                "keyval": {"public": hex::encode(k.verifying_key().as_bytes())}
            }),
            (TestKey::Ed25519(k), Dialect::Tuf) => json!({
                "keytype": "ed25519",
                "scheme": "ed25519",
                "keyval": {"public": hex::encode(k.verifying_key().as_bytes())}
            }),
            (TestKey::Rsa(k), Dialect::OtaTuf) => json!({
                "keytype": "RSA",
                "keyval": {"public": rsa_public_pem(k)}
            }),
            (TestKey::Rsa(k), Dialect::Tuf) => json!({
                "keytype": "rsa",
                "scheme": "rsassa-pss-sha256",
                "keyval": {"public": rsa_public_pem(k)}
            }),
        }
    }

    /// The key id `dialect` lists this key under: sha256 of the SPKI DER for
    /// ota-tuf, sha256 of the canonical key object for TUF.
    pub fn key_id(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::OtaTuf => hex::encode(Sha256::digest(self.spki_der())),
            Dialect::Tuf => {
                let canonical = to_canonical_bytes(&self.key_object(Dialect::Tuf), Dialect::Tuf)
                    .expect("a key object has a canonical form");
                hex::encode(Sha256::digest(canonical))
            }
        }
    }

    /// The private key as fioctl writes it in a `.sec` file (AtsKey JSON):
    /// Ed25519 as the hex of the 32-byte seed, RSA as PKCS#1 PEM.
    pub fn ats_private(&self) -> Value {
        match self {
            TestKey::Ed25519(k) => json!({
                "keytype": "ED25519",
                "keyval": {"private": hex::encode(k.to_bytes())}
            }),
            TestKey::Rsa(k) => json!({
                "keytype": "RSA",
                "keyval": {"private": k.to_pkcs1_pem(LineEnding::LF).expect("PKCS#1 encodes").to_string()}
            }),
        }
    }

    /// The key back from [`TestKey::ats_private`]'s form (factory-sim keeps
    /// its online keys so, to sign as the server signs).
    pub fn from_ats_private(v: &Value) -> Result<TestKey, String> {
        let private = v["keyval"]["private"].as_str().ok_or("no keyval.private")?;
        match v["keytype"].as_str() {
            Some("ED25519") => {
                let seed: [u8; 32] = hex::decode(private)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or("not a 32-byte hex Ed25519 seed")?;
                Ok(TestKey::Ed25519(Box::new(
                    ed25519_dalek::SigningKey::from_bytes(&seed),
                )))
            }
            Some("RSA") => rsa::PrivateKey::from_pkcs1_pem(private)
                .map(|k| TestKey::Rsa(Box::new(k)))
                .map_err(|e| e.to_string()),
            other => Err(format!("unknown key type {other:?}")),
        }
    }

    /// The private key as PKCS#8 PEM (what python-tuf and `signer import --key` read).
    pub fn pkcs8_pem(&self) -> String {
        match self {
            TestKey::Ed25519(k) => k
                .to_pkcs8_pem(LineEnding::LF)
                .expect("PKCS#8 encodes")
                .to_string(),
            TestKey::Rsa(k) => k
                .to_pkcs8_pem(LineEnding::LF)
                .expect("PKCS#8 encodes")
                .to_string(),
        }
    }

    /// Signs `message`: pure Ed25519, or RSASSA-PSS with SHA-256 and a
    /// 32-byte salt.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            TestKey::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
            TestKey::Rsa(k) => {
                let signer =
                    rsa::pss::SigningKey::<rsa::sha2::Sha256>::new_with_salt_len((**k).clone(), 32);
                signer.sign_with_rng(&mut rng(), message).to_vec()
            }
        }
    }

    /// The signature entry of `dialect` over the canonical form of `signed`.
    pub fn signature_entry(&self, signed: &Value, dialect: Dialect) -> Value {
        let message = to_canonical_bytes(signed, dialect).expect("signed has a canonical form");
        let sig = self.sign(&message);
        let keyid = self.key_id(dialect);
        match dialect {
            Dialect::OtaTuf => json!({
                "keyid": keyid,
                "method": match self { TestKey::Ed25519(_) => "ed25519", TestKey::Rsa(_) => "rsassa-pss-sha256" },
                "sig": base64::engine::general_purpose::STANDARD.encode(sig),
            }),
            Dialect::Tuf => json!({"keyid": keyid, "sig": hex::encode(sig)}),
        }
    }
}

fn rsa_public_pem(k: &rsa::PrivateKey) -> String {
    let mut pem = k
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("RSA SPKI encodes");
    if !pem.ends_with('\n') {
        pem.push('\n');
    }
    pem
}
