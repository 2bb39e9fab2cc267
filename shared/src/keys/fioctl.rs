//! fioctl's key files ("AtsKey", as ota-tuf and garage-sign also write
//! them): `.sec` files holding a private key, `.pub` files holding its public
//! half.

use rsa::pkcs1::EncodeRsaPrivateKey;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::error::malformed;
use super::pem::pem_encode_secret;
use super::private::SecretRef;
use super::{KeyError, KeyType, PrivateKey, PublicKey};
use crate::dialect::Dialect;

impl PrivateKey {
    /// Reads a fioctl / ota-tuf / garage-sign `.sec` file (an "AtsKey"):
    /// `{"keytype":"RSA","keyval":{"private":"<PEM>"}}` with PKCS#1 or PKCS#8
    /// PEM, or `{"keytype":"ED25519","keyval":{"private":"<hex>"}}` with the
    /// 32-byte seed or 64 bytes of seed and public key (which must match).
    /// If the file also carries `keyval.public`, it must be this key's.
    pub fn from_ats_json(bytes: &[u8]) -> Result<PrivateKey, KeyError> {
        let mut doc: Value = serde_json::from_slice(bytes).map_err(|e| KeyError::InvalidJson {
            line: e.line(),
            column: e.column(),
        })?;
        let keytype = doc
            .get("keytype")
            .ok_or_else(|| malformed("the key file has no \"keytype\""))?
            .as_str()
            .ok_or_else(|| malformed("the key file's \"keytype\" is not a string"))?
            .to_owned();
        let keyval = doc
            .get_mut("keyval")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| malformed("the key file has no \"keyval\" object"))?;
        // Move the secret string out of the JSON tree so that it is wiped
        // when we are done with it.
        let has_public = keyval.contains_key("public");
        let private = match keyval.get_mut("private") {
            Some(Value::String(s)) => Zeroizing::new(std::mem::take(s)),
            Some(_) => {
                return Err(malformed(
                    "the key file's \"keyval.private\" is not a string",
                ))
            }
            None if has_public => return Err(malformed(
                "the key file holds only a public key (a .pub file); give the matching .sec file",
            )),
            None => return Err(malformed("the key file has no \"keyval.private\"")),
        };
        let stored_public = keyval.get("public").cloned();

        let key = match keytype.to_ascii_lowercase().as_str() {
            "ed25519" => PrivateKey::from_ed25519_hex(&private)?,
            "rsa" => {
                let key = PrivateKey::from_private_pem(&private)?;
                expect_type(&key, KeyType::Rsa, &keytype)?;
                key
            }
            "ecprime256v1" => {
                let key = PrivateKey::from_private_pem(&private)?;
                expect_type(&key, KeyType::EcdsaP256, &keytype)?;
                key
            }
            _ => {
                return Err(KeyError::Unsupported {
                    keytype,
                    scheme: None,
                    dialect: Dialect::OtaTuf,
                })
            }
        };
        if let Some(public) = stored_public {
            let obj = json!({"keytype": keytype, "keyval": {"public": public}});
            let stored = PublicKey::from_key_object(&obj, Dialect::OtaTuf)?;
            if stored != key.public {
                return Err(KeyError::KeypairMismatch);
            }
        }
        Ok(key)
    }

    /// The key as a fioctl `.sec` file, compact JSON as fioctl writes it:
    /// RSA as PKCS#1 PEM, Ed25519 as 64 hex characters of the 32-byte seed.
    /// ECDSA keys have no such form and give an error.
    pub fn to_ats_private_json(&self) -> Result<Zeroizing<String>, KeyError> {
        let (keytype, private): (&str, Zeroizing<String>) = match self.secret.as_ref() {
            SecretRef::Ed25519(key) => {
                let mut buf = Zeroizing::new([0u8; 64]);
                hex::encode_to_slice(key.as_bytes(), buf.as_mut_slice()).map_err(|e| {
                    KeyError::Encoding {
                        reason: e.to_string(),
                    }
                })?;
                let text = std::str::from_utf8(buf.as_slice()).map_err(|e| KeyError::Encoding {
                    reason: e.to_string(),
                })?;
                ("ED25519", Zeroizing::new(text.to_owned()))
            }
            SecretRef::Rsa(key) => {
                let der = key.to_pkcs1_der().map_err(|e| KeyError::Encoding {
                    reason: e.to_string(),
                })?;
                ("RSA", pem_encode_secret("RSA PRIVATE KEY", der.as_bytes()))
            }
            SecretRef::EcdsaP256(_) => {
                return Err(KeyError::NotAtsRepresentable {
                    key_type: KeyType::EcdsaP256,
                })
            }
        };
        let mut out = Zeroizing::new(String::with_capacity(2 * private.len() + 64));
        out.push_str("{\"keytype\":\"");
        out.push_str(keytype);
        out.push_str("\",\"keyval\":{\"private\":");
        push_json_string(&mut out, &private);
        out.push_str("}}");
        Ok(out)
    }

    /// The public half as a fioctl `.pub` file:
    /// `{"keytype":"ED25519","keyval":{"public":"<hex>"}}` (or `RSA` with SPKI
    /// PEM), compact JSON.
    pub fn to_ats_public_json(&self) -> String {
        self.public.to_key_object(Dialect::OtaTuf).to_string()
    }

    /// Ed25519 private key as fioctl's hex: 32-byte seed, or seed‖public.
    fn from_ed25519_hex(text: &str) -> Result<PrivateKey, KeyError> {
        const WHAT: &str = "the ed25519 private key";
        let text = text.trim();
        let mut buf = Zeroizing::new([0u8; 64]);
        let n = match text.len() {
            64 => 32,
            128 => 64,
            found => {
                return Err(KeyError::WrongLength {
                    what: WHAT,
                    expected: "64 hex characters (32-byte seed) or 128 (seed and public key)",
                    found,
                })
            }
        };
        hex::decode_to_slice(text, &mut buf[..n]).map_err(|_| KeyError::InvalidHex {
            what: WHAT,
            detail: "it contains a character that is not a hexadecimal digit".into(),
        })?;
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&buf[..32]);
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        if n == 64 && key.verifying_key().as_bytes()[..] != buf[32..64] {
            return Err(KeyError::KeypairMismatch);
        }
        PrivateKey::from_ed25519(key)
    }
}

fn expect_type(key: &PrivateKey, wanted: KeyType, declared: &str) -> Result<(), KeyError> {
    if key.key_type() == wanted {
        Ok(())
    } else {
        Err(KeyError::KeyTypeMismatch {
            declared: declared.to_owned(),
            actual: key.key_type(),
        })
    }
}

/// Appends `s` as a JSON string literal (what serde_json would write),
/// without the intermediate copies serde_json would make of a secret.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let code = c as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[code >> 4]));
                out.push(char::from(HEX[code & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
