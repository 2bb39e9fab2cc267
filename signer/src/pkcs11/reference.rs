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
    /// `CK_TOKEN_INFO.serialNumber`: with the manufacturer and model, pins
    /// the key to this token; a token with the same label and another
    /// serial is refused. Empty in archives written before tokens were
    /// pinned: any token with the label is then accepted, with a warning.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) token_serial: String,
    /// `CK_TOKEN_INFO.manufacturerID`, checked with the serial.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) token_manufacturer: String,
    /// `CK_TOKEN_INFO.model`, checked with the serial.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) token_model: String,
    /// `CKA_LABEL` of the key objects.
    pub(crate) key_label: String,
    /// `CKA_ID` of the key objects, lowercase hex (empty when the key has
    /// none): with the label, it tells apart keys that share a label.
    #[serde(default)]
    pub(crate) key_id: String,
    /// How the private key was protected when it was recorded, and whether
    /// a key whose private half can leave the token was accepted anyway.
    /// `None` in archives written before the signer checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) protection: Option<KeyProtection>,
}

impl TokenRef {
    /// `key "L" on token "T"`, for messages.
    pub(crate) fn describe(&self) -> String {
        format!("key {:?} on token {:?}", self.key_label, self.token_label)
    }

    /// The token the key was recorded on.
    pub(crate) fn recorded_token(&self) -> TokenIdentity {
        TokenIdentity {
            label: self.token_label.clone(),
            serial: self.token_serial.clone(),
            manufacturer: self.token_manufacturer.clone(),
            model: self.token_model.clone(),
        }
    }

    /// Whether the archive says which token holds the key (by serial).
    pub(crate) fn is_pinned(&self) -> bool {
        !self.token_serial.is_empty()
    }

    /// What a human should know about this record before relying on it:
    /// for `signer list`, and in the same words as the warnings at use.
    pub(crate) fn concerns(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.protection {
            Some(p) if p.weak_accepted => out.push(format!(
                "its private key can leave the token ({}); it was recorded anyway with `signer \
                 import --allow-extractable-token-key`, so a copy may exist outside the token",
                p.describe()
            )),
            Some(_) => {}
            None => out.push(
                "the archive does not record whether its private key can leave the token \
                 (recorded before the signer checked); each use checks it on the token"
                    .into(),
            ),
        }
        if !self.is_pinned() {
            out.push(format!(
                "the archive does not record which token holds it (no serial number; recorded \
                 before tokens were pinned): any token labelled {:?} holding this key is accepted",
                self.token_label
            ));
        }
        out
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

/// How a private key on a token is protected: `CKA_SENSITIVE` and
/// `CKA_EXTRACTABLE` as the token reports them (`None`: it did not say).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyProtection {
    pub(crate) sensitive: Option<bool>,
    pub(crate) extractable: Option<bool>,
    /// The key is [weak](KeyProtection::is_weak) and was recorded anyway,
    /// with `signer import --allow-extractable-token-key`.
    #[serde(default)]
    pub(crate) weak_accepted: bool,
}

impl KeyProtection {
    /// Whether the private key can leave the token: a root key must be
    /// sensitive and not extractable, and a token that does not say counts
    /// as saying no.
    pub(crate) fn is_weak(&self) -> bool {
        self.sensitive != Some(true) || self.extractable != Some(false)
    }

    /// The attributes that make the key weak, in PKCS#11's words
    /// (`CKA_EXTRACTABLE true, CKA_SENSITIVE false`); both when neither
    /// does.
    pub(crate) fn describe(&self) -> String {
        fn shown(b: Option<bool>) -> &'static str {
            match b {
                Some(true) => "true",
                Some(false) => "false",
                None => "not reported by the token",
            }
        }
        let mut parts = Vec::new();
        if self.extractable != Some(false) {
            parts.push(format!("CKA_EXTRACTABLE {}", shown(self.extractable)));
        }
        if self.sensitive != Some(true) {
            parts.push(format!("CKA_SENSITIVE {}", shown(self.sensitive)));
        }
        if parts.is_empty() {
            format!(
                "CKA_EXTRACTABLE {}, CKA_SENSITIVE {}",
                shown(self.extractable),
                shown(self.sensitive)
            )
        } else {
            parts.join(", ")
        }
    }
}

/// A token as `CK_TOKEN_INFO` describes it, blanks trimmed: what tells two
/// tokens with the same label apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TokenIdentity {
    pub(crate) label: String,
    pub(crate) serial: String,
    pub(crate) manufacturer: String,
    pub(crate) model: String,
}

impl TokenIdentity {
    /// Whether `self` (a token present) is the `recorded` one: the same
    /// serial, and the same manufacturer and model where recorded (serials
    /// are unique per manufacturer only).
    pub(crate) fn is(&self, recorded: &TokenIdentity) -> bool {
        let same = |mine: &str, theirs: &str| theirs.is_empty() || mine == theirs;
        self.serial == recorded.serial
            && same(&self.manufacturer, &recorded.manufacturer)
            && same(&self.model, &recorded.model)
    }
}

impl std::fmt::Display for TokenIdentity {
    /// `token "cer" (serial 1a2b, manufacturer SoftHSM project, model SoftHSM v2)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let or_unknown = |s: &str| {
            if s.is_empty() {
                "not recorded".to_string()
            } else {
                format!("{s:?}")
            }
        };
        write!(
            f,
            "token {:?} (serial {}, manufacturer {}, model {})",
            self.label,
            or_unknown(&self.serial),
            or_unknown(&self.manufacturer),
            or_unknown(&self.model)
        )
    }
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
            protection: None,
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
        assert!(!r.is_pinned());
        assert_eq!(r.protection, None);
        assert_eq!(r.concerns().len(), 2, "{:?}", r.concerns());
    }

    /// The weak attributes are named in PKCS#11's words, never as Rust's
    /// `Some(false)`.
    #[test]
    fn protection_reads_as_words() {
        let p = |sensitive, extractable| KeyProtection {
            sensitive,
            extractable,
            weak_accepted: false,
        };
        assert!(!p(Some(true), Some(false)).is_weak());
        assert_eq!(p(Some(true), Some(true)).describe(), "CKA_EXTRACTABLE true");
        assert_eq!(
            p(Some(false), Some(false)).describe(),
            "CKA_SENSITIVE false"
        );
        assert_eq!(
            p(None, Some(true)).describe(),
            "CKA_EXTRACTABLE true, CKA_SENSITIVE not reported by the token"
        );
        for s in [None, Some(true), Some(false)] {
            for e in [None, Some(true), Some(false)] {
                assert!(!p(s, e).describe().contains("Some"), "{s:?} {e:?}");
            }
        }
    }

    #[test]
    fn a_token_is_its_serial_manufacturer_and_model() {
        let t = |serial: &str, maker: &str| TokenIdentity {
            label: "cer".into(),
            serial: serial.into(),
            manufacturer: maker.into(),
            model: "m".into(),
        };
        assert!(t("1", "a").is(&t("1", "a")));
        assert!(!t("2", "a").is(&t("1", "a")));
        assert!(!t("1", "b").is(&t("1", "a")));
        assert!(t("1", "b").is(&t("1", "")));
        assert_eq!(
            t("1", "").to_string(),
            "token \"cer\" (serial \"1\", manufacturer not recorded, model \"m\")"
        );
    }
}
