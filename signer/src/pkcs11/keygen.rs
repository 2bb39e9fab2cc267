//! Generating a root key pair on the token: the private half sensitive and
//! never extractable, so it is used only on the token; then read back and
//! test-signed, and deleted again if any of that fails, so that no
//! half-made key is left behind under the label.

use std::path::Path;
use std::rc::Rc;

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::Attribute;

use ceremony::keys::NewKeyType;

use super::error::Purpose;
use super::find::{find_key, ED25519_NAME_PARAMS, ED25519_OID_PARAMS};
use super::{Module, Recorded, TokenError, TokenKey, TokenSet};

/// RSA public exponent 65537, big-endian.
const RSA_E: &[u8] = &[0x01, 0x00, 0x01];

/// `tuf-root-<UTC time>`: the label of a key generated without `--key-label`.
pub(crate) fn default_key_label(now: time::OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    format!(
        "tuf-root-{}",
        now.to_offset(time::UtcOffset::UTC)
            .format(fmt)
            .unwrap_or_else(|_| "new".into())
    )
}

/// `signer keygen`: generates a root key pair on the token `token_label`,
/// labelled `key_label` (see [`generate_key`]), and logs out.
pub(crate) fn generate(
    module: &Module,
    token_label: &str,
    pin_file: Option<&Path>,
    kind: NewKeyType,
    key_label: &str,
) -> Result<Recorded, TokenError> {
    let (recorded, key) = generate_key(module, token_label, pin_file, kind, key_label, "--type")?;
    let session = key.session.clone();
    drop(key);
    let _ = session.logout();
    Ok(recorded)
}

impl TokenSet {
    /// `signer sign --token`: generates a root key on the token
    /// `token_label` (see [`generate_key`]) and adds it to the keys this set
    /// signs with, staying logged in.
    pub(crate) fn generate(
        &mut self,
        token_label: &str,
        pin_file: Option<&Path>,
        kind: NewKeyType,
        key_label: &str,
    ) -> Result<Recorded, TokenError> {
        let (recorded, key) = generate_key(
            &self.module,
            token_label,
            pin_file,
            kind,
            key_label,
            "--key-type",
        )?;
        self.sessions
            .push((token_label.to_string(), key.session.clone()));
        self.keys.push(key);
        Ok(recorded)
    }
}

/// Generates the key pair, reads the public key back, checks the private
/// key is protected and test-signs. `type_flag` is how the command names
/// the key type, for the message of a token that cannot make this one.
fn generate_key(
    module: &Module,
    token_label: &str,
    pin_file: Option<&Path>,
    kind: NewKeyType,
    key_label: &str,
    type_flag: &'static str,
) -> Result<(Recorded, TokenKey), TokenError> {
    let purpose = &Purpose::Generate;
    let token = module.find_token(token_label, purpose)?;
    let mechanism = match kind {
        NewKeyType::Ed25519 => MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
        NewKeyType::Rsa4096 => MechanismType::RSA_PKCS_KEY_PAIR_GEN,
    };
    if !module.has_mechanism(&token, mechanism) {
        return Err(TokenError::CannotGenerate {
            token: token_label.to_string(),
            maker: format!(
                "{} {}",
                token.info.manufacturer_id().trim(),
                token.info.model().trim()
            ),
            kind,
            type_flag,
        });
    }
    let (session, pin) = module.login(&token, pin_file, true)?;
    let taken = session
        .find_objects(&[Attribute::Label(key_label.as_bytes().to_vec())])
        .map_err(TokenError::call(format!(
            "cannot search token {token_label:?}"
        )))?;
    if !taken.is_empty() {
        return Err(TokenError::LabelTaken {
            token: token_label.to_string(),
            label: key_label.to_string(),
        });
    }
    // A random CKA_ID from the token's generator, else from the clock and
    // label (it names the key, it protects nothing).
    let id = session.generate_random_vec(16).unwrap_or_else(|_| {
        use sha2::{Digest, Sha256};
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Sha256::digest([key_label.as_bytes(), &t.to_le_bytes()].concat())[..16].to_vec()
    });
    let common_pub = vec![
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::Label(key_label.as_bytes().to_vec()),
        Attribute::Id(id.clone()),
    ];
    let private = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Label(key_label.as_bytes().to_vec()),
        Attribute::Id(id.clone()),
    ];
    let generated = match kind {
        NewKeyType::Ed25519 => {
            let mut result = Err(CkError::NotSupported);
            // PKCS#11 3.0 allows two spellings of the curve; tokens differ.
            for params in [ED25519_OID_PARAMS, ED25519_NAME_PARAMS] {
                let mut public = common_pub.clone();
                public.push(Attribute::EcParams(params.to_vec()));
                result =
                    session.generate_key_pair(&Mechanism::EccEdwardsKeyPairGen, &public, &private);
                match &result {
                    Err(CkError::Pkcs11(
                        RvError::CurveNotSupported
                        | RvError::DomainParamsInvalid
                        | RvError::AttributeValueInvalid
                        | RvError::TemplateInconsistent,
                        _,
                    )) => continue,
                    _ => break,
                }
            }
            result
        }
        NewKeyType::Rsa4096 => {
            let mut public = common_pub.clone();
            public.push(Attribute::ModulusBits(4096.into()));
            public.push(Attribute::PublicExponent(RSA_E.to_vec()));
            session.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
        }
    };
    let (pub_handle, priv_handle) = generated.map_err(|source| TokenError::GenerateFailed {
        token: token_label.to_string(),
        kind,
        source,
    })?;
    let destroy = |why: &'static str, source: TokenError| -> TokenError {
        let _ = session.destroy_object(priv_handle);
        let _ = session.destroy_object(pub_handle);
        TokenError::Deleted {
            why,
            source: Box::new(source),
        }
    };
    let found = find_key(&session, token_label, key_label, Some(&id), purpose)
        .map_err(|e| destroy("cannot be read back", e))?;
    let protection = found.protection();
    if protection.is_weak() {
        return Err(destroy(
            "is not protected",
            TokenError::NotProtected {
                token: token_label.to_string(),
                protection,
            },
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
    if let Err(e) = key.self_test() {
        drop(key);
        let _ = session.destroy_object(priv_handle);
        let _ = session.destroy_object(pub_handle);
        return Err(TokenError::Deleted {
            why: "does not sign correctly",
            source: Box::new(e),
        });
    }
    Ok((
        Recorded {
            public: found.public,
            reference,
            warnings: Vec::new(),
        },
        key,
    ))
}
