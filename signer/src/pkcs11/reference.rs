//! What the archive records of a key on a token: its public key and where
//! it is, never anything secret.

use serde::{Deserialize, Serialize};

use ceremony::keys::PublicKey;

use super::TokenError;

/// Where a root key on a token is: what the archive's manifest records.
/// Holds no secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TokenRef {
    /// The module the key was recorded with. A hint for the human only: the
    /// signer never loads a module named in the archive.
    pub(crate) module_hint: String,
    /// `CK_TOKEN_INFO.label`: how the token is found.
    pub(crate) token_label: String,
    /// `CK_TOKEN_INFO.serialNumber`, for the human (a backup token with the
    /// same key has another serial, and is accepted).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) token_serial: String,
    /// `CK_TOKEN_INFO.manufacturerID`, for the human.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) token_manufacturer: String,
    /// `CK_TOKEN_INFO.model`, for the human.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) token_model: String,
    /// `CKA_LABEL` of the key objects.
    pub(crate) key_label: String,
    /// `CKA_ID` of the key objects, lowercase hex (empty when the key has
    /// none): with the label, it tells apart keys that share a label.
    #[serde(default)]
    pub(crate) key_id: String,
}

impl TokenRef {
    /// `key "L" on token "T"`, for messages.
    pub(crate) fn describe(&self) -> String {
        format!("key {:?} on token {:?}", self.key_label, self.token_label)
    }

    /// The key as an RFC 7512 PKCS#11 URI (`pkcs11:token=…;object=…;id=…`),
    /// which other PKCS#11 tools understand.
    pub(crate) fn uri(&self) -> String {
        let mut out = format!(
            "pkcs11:token={};object={}",
            pct(self.token_label.as_bytes()),
            pct(self.key_label.as_bytes())
        );
        if !self.token_serial.is_empty() {
            out.push_str(&format!(";serial={}", pct(self.token_serial.as_bytes())));
        }
        if let Ok(id) = hex::decode(&self.key_id) {
            if !id.is_empty() {
                out.push_str(";id=");
                for b in id {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
        out
    }

    /// The recorded `CKA_ID`; not hex only in a damaged archive.
    pub(super) fn id_bytes(&self) -> Result<Vec<u8>, TokenError> {
        hex::decode(&self.key_id).map_err(|_| TokenError::DamagedKeyId {
            key: self.describe(),
            id: self.key_id.clone(),
        })
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn pct(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A key made on, or found on, a token: what the archive records.
pub(crate) struct Recorded {
    pub(crate) public: PublicKey,
    pub(crate) reference: TokenRef,
    /// Things the human should know before relying on the key (an
    /// extractable key, ...).
    pub(crate) warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uri_is_rfc7512() {
        let r = TokenRef {
            module_hint: "/m.so".into(),
            token_label: "my token".into(),
            token_serial: "1a2b".into(),
            token_manufacturer: String::new(),
            token_model: String::new(),
            key_label: "root/1".into(),
            key_id: "0aff".into(),
        };
        assert_eq!(
            r.uri(),
            "pkcs11:token=my%20token;object=root%2F1;serial=1a2b;id=%0A%FF"
        );
        assert_eq!(r.describe(), "key \"root/1\" on token \"my token\"");
    }

    #[test]
    fn token_ref_reads_back_without_optional_fields() {
        let r: TokenRef = serde_json::from_value(json!({
            "module_hint": "/m.so", "token_label": "t", "key_label": "k"
        }))
        .unwrap();
        assert_eq!(r.key_id, "");
        assert_eq!(r.uri(), "pkcs11:token=t;object=k");
    }
}
