//! Finding a key on a token by label (and `CKA_ID`) and reading its public
//! key from the token's attributes; `signer import`, which records such a
//! key.
//!
//! Only Ed25519 and RSA keys are root keys here; anything else is refused
//! by what it is, so that the user knows which key to make instead.

use std::path::Path;
use std::rc::Rc;

use cryptoki::object::{Attribute, AttributeType, KeyType as CkKeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use ceremony::keys::{KeyError, PublicKey};

use super::error::Purpose;
use super::{KeyProtection, Module, Recorded, TokenError, TokenKey};

/// `CKA_EC_PARAMS` of Ed25519: the DER OID `id-Ed25519` (1.3.101.112, RFC 8410).
pub(super) const ED25519_OID_PARAMS: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// `CKA_EC_PARAMS` of Ed25519 as PKCS#11 3.0 also allows: the DER
/// PrintableString `edwards25519` (what OpenSC and older SoftHSM write).
pub(super) const ED25519_NAME_PARAMS: &[u8] = b"\x13\x0cedwards25519";

/// A private key found on a token, and what was learnt about it.
pub(super) struct Found {
    pub(super) handle: ObjectHandle,
    pub(super) id: Vec<u8>,
    pub(super) public: PublicKey,
    /// `CKA_ALWAYS_AUTHENTICATE`: the PIN is wanted again before each signature.
    pub(super) always_authenticate: bool,
    extractable: Option<bool>,
    sensitive: Option<bool>,
}

impl Found {
    /// How the token says the private key is protected.
    pub(super) fn protection(&self) -> KeyProtection {
        KeyProtection {
            sensitive: self.sensitive,
            extractable: self.extractable,
            weak_accepted: false,
        }
    }
}

fn attr_bool(attrs: &[Attribute], want: AttributeType) -> Option<bool> {
    attrs.iter().find_map(|a| match (a, want) {
        (Attribute::Sensitive(b), AttributeType::Sensitive)
        | (Attribute::Extractable(b), AttributeType::Extractable)
        | (Attribute::AlwaysAuthenticate(b), AttributeType::AlwaysAuthenticate)
        | (Attribute::Sign(b), AttributeType::Sign) => Some(*b),
        _ => None,
    })
}

fn attr_bytes(attrs: &[Attribute], want: AttributeType) -> Option<Vec<u8>> {
    attrs.iter().find_map(|a| match (a, want) {
        (Attribute::Modulus(v), AttributeType::Modulus)
        | (Attribute::PublicExponent(v), AttributeType::PublicExponent)
        | (Attribute::EcParams(v), AttributeType::EcParams)
        | (Attribute::EcPoint(v), AttributeType::EcPoint)
        | (Attribute::Id(v), AttributeType::Id) => Some(v.clone()),
        _ => None,
    })
}

/// The 32 bytes of an Ed25519 `CKA_EC_POINT`: a DER OCTET STRING (what
/// PKCS#11 3.0 says and SoftHSM writes) or the raw bytes (some tokens).
fn ed25519_point(point: &[u8]) -> Option<&[u8]> {
    match point {
        [0x04, 0x20, rest @ ..] if rest.len() == 32 => Some(rest),
        raw if raw.len() == 32 => Some(raw),
        _ => None,
    }
}

fn is_ed25519_params(params: &[u8]) -> bool {
    params == ED25519_OID_PARAMS || params == ED25519_NAME_PARAMS
}

/// One key being looked up: what every error about it names.
struct Lookup<'a> {
    session: &'a Session,
    token: &'a str,
    label: &'a str,
    purpose: &'a Purpose,
}

impl Lookup<'_> {
    fn unreadable(&self, reason: impl Into<String>, source: Option<KeyError>) -> TokenError {
        TokenError::KeyUnreadable {
            token: self.token.to_string(),
            label: self.label.to_string(),
            reason: reason.into(),
            source: source.map(Box::new),
            purpose: self.purpose.clone(),
        }
    }

    fn wrong_type(&self, what: impl Into<String>) -> TokenError {
        TokenError::WrongKeyType {
            token: self.token.to_string(),
            label: self.label.to_string(),
            what: what.into(),
            purpose: self.purpose.clone(),
        }
    }

    fn read(
        &self,
        handle: ObjectHandle,
        what: &[AttributeType],
    ) -> Result<Vec<Attribute>, TokenError> {
        self.session
            .get_attributes(handle, what)
            .map_err(TokenError::call(format!(
                "cannot read key {:?} on token {:?}",
                self.label, self.token
            )))
    }

    /// The public key object that goes with a private key: same id (and
    /// label, when the id alone is not enough).
    fn public_object(&self, id: &[u8], key_type: CkKeyType) -> Result<ObjectHandle, TokenError> {
        let mut template = vec![
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(key_type),
            Attribute::Id(id.to_vec()),
        ];
        let mut found = self.session.find_objects(&template).unwrap_or_default();
        if found.len() != 1 {
            template.push(Attribute::Label(self.label.as_bytes().to_vec()));
            found = self.session.find_objects(&template).unwrap_or_default();
        }
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(self.unreadable(
                format!(
                    "the token has no public key object for it (id {}), and for this key type \
                     the public key cannot be read from the private key alone",
                    hex::encode(id)
                ),
                None,
            )),
            _ => Err(self.unreadable(
                format!(
                    "the token has several public key objects for it (id {})",
                    hex::encode(id)
                ),
                None,
            )),
        }
    }

    fn rsa_public(&self, handle: ObjectHandle, key_id: &[u8]) -> Result<PublicKey, TokenError> {
        let numbers = [AttributeType::Modulus, AttributeType::PublicExponent];
        let mut pa = self
            .session
            .get_attributes(handle, &numbers)
            .unwrap_or_default();
        if attr_bytes(&pa, AttributeType::Modulus).is_none() {
            // Some tokens keep the public numbers on the public object only.
            let pubh = self.public_object(key_id, CkKeyType::RSA)?;
            pa = self.read(pubh, &numbers)?;
        }
        let n = attr_bytes(&pa, AttributeType::Modulus)
            .ok_or_else(|| self.unreadable("the token gives no modulus", None))?;
        let e = attr_bytes(&pa, AttributeType::PublicExponent)
            .ok_or_else(|| self.unreadable("the token gives no public exponent", None))?;
        PublicKey::from_rsa_components(&n, &e).map_err(|e| match e {
            KeyError::UnsupportedRsaSize { bits } => self.wrong_type(format!("an RSA-{bits} key")),
            other => self.unreadable(other.to_string(), Some(other)),
        })
    }

    fn ed25519_public(&self, key_id: &[u8]) -> Result<PublicKey, TokenError> {
        let pubh = self.public_object(key_id, CkKeyType::EC_EDWARDS)?;
        let pa = self.read(pubh, &[AttributeType::EcParams, AttributeType::EcPoint])?;
        let params = attr_bytes(&pa, AttributeType::EcParams).unwrap_or_default();
        if !is_ed25519_params(&params) {
            return Err(self.wrong_type("an Edwards-curve key that is not Ed25519 (Ed448?)"));
        }
        let point = attr_bytes(&pa, AttributeType::EcPoint)
            .ok_or_else(|| self.unreadable("the token gives no public point", None))?;
        let raw = ed25519_point(&point).ok_or_else(|| {
            self.unreadable("the token gives a malformed Ed25519 public point", None)
        })?;
        PublicKey::from_ed25519_bytes(raw).map_err(|e| self.unreadable(e.to_string(), Some(e)))
    }
}

/// Finds the one private key labelled `label` (with `id`, when given) on
/// the token `token` and reads its public key.
pub(super) fn find_key(
    session: &Session,
    token: &str,
    label: &str,
    id: Option<&[u8]>,
    purpose: &Purpose,
) -> Result<Found, TokenError> {
    let look = Lookup {
        session,
        token,
        label,
        purpose,
    };
    let mut template = vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    if let Some(id) = id {
        template.push(Attribute::Id(id.to_vec()));
    }
    let handles = session
        .find_objects(&template)
        .map_err(TokenError::call(format!("cannot search token {token:?}")))?;
    let handle = match handles.as_slice() {
        [one] => *one,
        [] => {
            return Err(TokenError::KeyNotFound {
                token: token.to_string(),
                label: label.to_string(),
                id: id.map(hex::encode),
                purpose: purpose.clone(),
            })
        }
        many => {
            return Err(TokenError::KeyAmbiguous {
                token: token.to_string(),
                label: label.to_string(),
                ids: many
                    .iter()
                    .map(|h| {
                        session
                            .get_attributes(*h, &[AttributeType::Id])
                            .ok()
                            .and_then(|a| attr_bytes(&a, AttributeType::Id))
                            .map_or("?".into(), hex::encode)
                    })
                    .collect(),
                purpose: purpose.clone(),
            })
        }
    };
    let attrs = look.read(
        handle,
        &[
            AttributeType::KeyType,
            AttributeType::Id,
            AttributeType::Sign,
            AttributeType::Sensitive,
            AttributeType::Extractable,
            AttributeType::AlwaysAuthenticate,
        ],
    )?;
    let key_type = attrs
        .iter()
        .find_map(|a| match a {
            Attribute::KeyType(k) => Some(*k),
            _ => None,
        })
        .ok_or_else(|| look.unreadable("the token does not say what type it is", None))?;
    let key_id = attr_bytes(&attrs, AttributeType::Id).unwrap_or_default();
    if attr_bool(&attrs, AttributeType::Sign) == Some(false) {
        return Err(TokenError::KeyCannotSign {
            token: token.to_string(),
            label: label.to_string(),
            purpose: purpose.clone(),
        });
    }
    let public = if key_type == CkKeyType::RSA {
        look.rsa_public(handle, &key_id)?
    } else if key_type == CkKeyType::EC_EDWARDS {
        look.ed25519_public(&key_id)?
    } else if key_type == CkKeyType::EC {
        return Err(look.wrong_type("an ECDSA (CKK_EC) key"));
    } else {
        return Err(look.wrong_type(format!("a {key_type} key")));
    };
    Ok(Found {
        handle,
        id: key_id,
        public,
        always_authenticate: attr_bool(&attrs, AttributeType::AlwaysAuthenticate).unwrap_or(false),
        extractable: attr_bool(&attrs, AttributeType::Extractable),
        sensitive: attr_bool(&attrs, AttributeType::Sensitive),
    })
}

/// `signer import`: finds the existing key `key_label` (and `key_id`, hex,
/// when given) on the token `token_label`, reads its public key and
/// test-signs with it, so that only a key that works is recorded. A key
/// whose private half can leave the token is refused unless `allow_weak`
/// (`--allow-extractable-token-key`), and then recorded as accepted so.
pub(crate) fn find_existing(
    module: &Module,
    token_label: &str,
    pin_file: Option<&Path>,
    key_label: &str,
    key_id: Option<&str>,
    allow_weak: bool,
) -> Result<Recorded, TokenError> {
    let purpose = Purpose::Import;
    let token = module.find_token(token_label, &purpose)?;
    let id = key_id
        .map(|h| {
            hex::decode(h.trim_start_matches("0x")).map_err(|_| TokenError::KeyIdNotHex {
                given: h.to_string(),
            })
        })
        .transpose()?;
    let (session, pin) = module.login(&token, pin_file, false)?;
    let found = find_key(&session, token_label, key_label, id.as_deref(), &purpose)?;
    let mut warnings = Vec::new();
    let mut protection = found.protection();
    if protection.is_weak() {
        if !allow_weak {
            let _ = session.logout();
            return Err(TokenError::WeakKey {
                token: token_label.to_string(),
                label: key_label.to_string(),
                protection,
            });
        }
        protection.weak_accepted = true;
        warnings.push(format!(
            "key {key_label:?} on token {token_label:?} can leave the token ({}); it is \
             recorded anyway, as --allow-extractable-token-key asks, and marked so in the \
             archive: every use warns, and a copy of it may exist outside the token",
            protection.describe()
        ));
    }
    let reference = token.reference(module, key_label, &found.id, protection);
    let session = Rc::new(session);
    let key = TokenKey::new(
        session.clone(),
        &found,
        found.public.clone(),
        reference.clone(),
        token.identity(),
        pin,
    );
    key.self_test()?;
    drop(key);
    let _ = session.logout();
    Ok(Recorded {
        public: found.public,
        reference,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_points_and_params() {
        let raw = [7u8; 32];
        let mut wrapped = vec![0x04, 0x20];
        wrapped.extend_from_slice(&raw);
        assert_eq!(ed25519_point(&wrapped), Some(&raw[..]));
        assert_eq!(ed25519_point(&raw), Some(&raw[..]));
        assert_eq!(ed25519_point(&wrapped[..20]), None);
        assert!(is_ed25519_params(ED25519_OID_PARAMS));
        assert!(is_ed25519_params(b"\x13\x0cedwards25519"));
        assert!(!is_ed25519_params(b"\x06\x03\x2b\x65\x71")); // Ed448
    }
}
