//! Signing on a token: the mechanism each key type signs with, the keys a
//! ceremony opens, and the check that every signature a token returns
//! verifies in software under the *recorded* public key.
//!
//! Each key is test-signed when it is opened, so a token that holds another
//! key under the recorded label, or misbehaves, is caught before anything
//! is written; every later signature is checked again by the caller
//! ([`ceremony::keys::sign_checked`], `RootMetadata::sign_with`).

use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use cryptoki::error::Error as CkError;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::ObjectHandle;
use cryptoki::session::{Session, UserType};
use secrecy::SecretString;
use serde_json::{json, Value};

use ceremony::diff::key_description;
use ceremony::keys::{sign_checked, KeyError, KeyType, PublicKey, Signer};

use super::error::{explain_inline, Purpose};
use super::find::{find_key, Found};
use super::{KeyProtection, Module, TokenError, TokenIdentity, TokenRef};

/// Salt length of every RSASSA-PSS signature (as in `ceremony::keys`).
const PSS_SALT: u64 = 32;
/// Signed when a key is opened, before it signs anything that matters; the
/// prefix keeps this from ever being mistaken for metadata or a transcript.
const SELF_TEST_DOMAIN: &[u8] = b"tuf-ceremony/pkcs11-self-test@1\0";

/// A root key on a token, ready to sign. Holds no secret but, for keys
/// that want the PIN before each signature (`CKA_ALWAYS_AUTHENTICATE`), the
/// PIN in a wiped buffer.
pub(crate) struct TokenKey {
    pub(super) session: Rc<Session>,
    handle: ObjectHandle,
    /// What signatures must verify under: the recorded key when opening
    /// one the archive records.
    public: PublicKey,
    /// The archive's record (or, for a key made now, the new record): what
    /// [`TokenSet::key`] looks keys up by.
    reference: TokenRef,
    /// The token the key was found on, as it describes itself now: what
    /// the transcript records as having signed.
    token: TokenIdentity,
    /// How the token says the private key is protected, now.
    protection: KeyProtection,
    context_pin: Option<Rc<SecretString>>,
}

impl TokenKey {
    /// The key `found` on the session's token, to verify under `public`;
    /// `pin` is kept only when the key wants it before each signature.
    pub(super) fn new(
        session: Rc<Session>,
        found: &Found,
        public: PublicKey,
        reference: TokenRef,
        token: TokenIdentity,
        pin: Option<Rc<SecretString>>,
    ) -> TokenKey {
        TokenKey {
            session,
            handle: found.handle,
            public,
            reference,
            token,
            protection: found.protection(),
            context_pin: pin.filter(|_| found.always_authenticate),
        }
    }

    /// Where the archive records the key.
    pub(crate) fn reference(&self) -> &TokenRef {
        &self.reference
    }

    /// The token that holds the key and signs with it: label, serial,
    /// manufacturer and model as it reports them, not as the archive
    /// records them (for a recorded key they agree, or it was not opened).
    pub(crate) fn token(&self) -> &TokenIdentity {
        &self.token
    }

    /// The serial number of the token that signs (see [`TokenKey::token`]).
    pub(crate) fn token_serial(&self) -> &str {
        &self.token.serial
    }

    /// Ed25519 signs pure EdDSA; RSA signs RSASSA-PSS-SHA256 with MGF1-SHA256
    /// and salt 32, the one RSA scheme both dialects accept.
    fn mechanism(&self) -> Mechanism<'static> {
        match self.public.key_type() {
            KeyType::Ed25519 => Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
            _ => Mechanism::Sha256RsaPkcsPss(PkcsPssParams {
                hash_alg: MechanismType::SHA256,
                mgf: PkcsMgfType::MGF1_SHA256,
                s_len: PSS_SALT.into(),
            }),
        }
    }

    /// Signs a throw-away message and checks the signature in software: the
    /// token holds the recorded key and signs as expected.
    pub(super) fn self_test(&self) -> Result<(), TokenError> {
        let mut message = SELF_TEST_DOMAIN.to_vec();
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        message.extend_from_slice(&nonce.to_le_bytes());
        sign_checked(self, &message)
            .map(|_| ())
            .map_err(|source| match source {
                KeyError::SignerMismatch { .. } => TokenError::BadSignature {
                    source: Box::new(source),
                },
                source => TokenError::SignFailed {
                    source: Box::new(source),
                },
            })
    }
}

impl Signer for TokenKey {
    fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        // `KeyError` (the library's) holds text only, so the token's error
        // goes in as words and code.
        let failed = |e: &CkError| KeyError::Signing {
            reason: format!("{} could not sign: {}", self.describe(), explain_inline(e)),
        };
        if let Some(pin) = &self.context_pin {
            // Keys that want the PIN again before each signature.
            self.session
                .login(UserType::ContextSpecific, Some(pin.as_ref()))
                .map_err(|e| failed(&e))?;
        }
        self.session
            .sign(&self.mechanism(), self.handle, message)
            .map_err(|e| failed(&e))
    }

    fn describe(&self) -> String {
        self.reference.describe()
    }
}

/// A key the archive records on a token, to be opened for signing.
pub(crate) struct Wanted<'a> {
    pub(crate) reference: &'a TokenRef,
    /// The public key the archive recorded: what the token must hold.
    pub(crate) public: &'a PublicKey,
}

impl Wanted<'_> {
    /// `key "L" (type, fingerprint F)`, to say which key to bring.
    fn needs(&self) -> String {
        format!(
            "key {:?} ({}, fingerprint {})",
            self.reference.key_label,
            key_description(self.public),
            self.public.fingerprint()
        )
    }
}

/// The token keys opened for one command, the sessions they use and the
/// module. Fields drop in order: keys, sessions (logged out and closed),
/// then the module (finalised).
pub(crate) struct TokenSet {
    /// The keys, in the order asked for.
    pub(crate) keys: Vec<TokenKey>,
    /// By token label: one login per token, shared by its keys.
    pub(super) sessions: Vec<(String, Rc<Session>)>,
    pub(super) module: Module,
}

impl Drop for TokenSet {
    fn drop(&mut self) {
        self.keys.clear();
        for (_, s) in self.sessions.drain(..) {
            let _ = s.logout();
        }
    }
}

impl TokenSet {
    /// Loads `module`, logs in to every token `wanted` names (asking each
    /// PIN once) and opens each key: it must be there, be of the recorded
    /// type, hold the recorded public key, and sign a test message that
    /// verifies in software. Any failure says which token and key to
    /// insert, by label and fingerprint.
    pub(crate) fn open(
        module: Module,
        pin_file: Option<&Path>,
        wanted: &[Wanted<'_>],
    ) -> Result<TokenSet, TokenError> {
        let mut set = TokenSet {
            keys: Vec::new(),
            sessions: Vec::new(),
            module,
        };
        // By token as recorded: label, then serial (manufacturer, model),
        // so that keys recorded on two tokens of one label each find theirs.
        let mut by_token: BTreeMap<(&str, &str, &str, &str), Vec<&Wanted<'_>>> = BTreeMap::new();
        for w in wanted {
            let r = w.reference;
            by_token
                .entry((
                    r.token_label.as_str(),
                    r.token_serial.as_str(),
                    r.token_manufacturer.as_str(),
                    r.token_model.as_str(),
                ))
                .or_default()
                .push(w);
        }
        for (_, keys) in by_token {
            let recorded = keys[0].reference.recorded_token();
            let needs = keys
                .iter()
                .map(|w| w.needs())
                .collect::<Vec<_>>()
                .join("; ");
            // Before the PIN: another token with the recorded label is
            // told apart by its serial and gets nothing, not even a PIN.
            let token = set
                .module
                .find_recorded_token(&recorded, &Purpose::Open { keys: needs })?;
            let present = token.identity();
            if recorded.serial.is_empty() {
                eprintln!(
                    "warning: the archive does not record which token holds {} (it was recorded \
                     before tokens were pinned by serial number): any token labelled {:?} that \
                     holds the key is accepted; using {present}",
                    keys.iter()
                        .map(|w| w.reference.describe())
                        .collect::<Vec<_>>()
                        .join(", "),
                    recorded.label
                );
            }
            let (session, pin) = set.module.login(&token, pin_file, false)?;
            let session = Rc::new(session);
            set.sessions.push((recorded.label.clone(), session.clone()));
            for w in keys {
                let key = open_key(&session, &present, w, pin.clone())?;
                key.self_test()?;
                key.check_protection()?;
                set.keys.push(key);
            }
        }
        Ok(set)
    }

    /// The key recorded as `reference`.
    pub(crate) fn key(&self, reference: &TokenRef) -> Option<&TokenKey> {
        self.keys.iter().find(|k| &k.reference == reference)
    }

    /// What the transcript records: the module (path and sha256), the
    /// tokens and the keys opened.
    pub(crate) fn transcript(&self) -> Value {
        json!({
            "module": self.module.path().display().to_string(),
            "module_sha256": file_sha256(self.module.path()),
            // The token each key was found on, as it reports itself: the
            // one that signs.
            "keys": self.keys.iter().map(|k| json!({
                "token": k.token().label,
                "token_serial": k.token_serial(),
                "token_manufacturer": k.token().manufacturer,
                "token_model": k.token().model,
                "token_pinned": k.reference.is_pinned(),
                "key_label": k.reference.key_label,
                "key_id": k.reference.key_id,
                "fingerprint": k.public.fingerprint(),
                "sensitive": k.protection.sensitive,
                "extractable": k.protection.extractable,
                "weak_key_accepted": k.reference.protection.is_some_and(|p| p.weak_accepted),
                "self_test": "signed and verified in software",
            })).collect::<Vec<_>>(),
        })
    }
}

impl TokenKey {
    /// A recorded key whose private half can leave the token: warned about
    /// at every use when the archive accepted it (or predates the check),
    /// refused when the archive recorded it protected.
    fn check_protection(&self) -> Result<(), TokenError> {
        let now = self.protection;
        if !now.is_weak() {
            return Ok(());
        }
        let key = self.reference.describe();
        match self.reference.protection {
            Some(p) if p.weak_accepted => eprintln!(
                "warning: the private key of {key} can leave the token ({}): it was recorded \
                 anyway with `signer import --allow-extractable-token-key`, so a copy of it may \
                 exist outside the token. Replace it with a key made on the token (`signer sign \
                 --token LABEL` makes the new keys there)",
                now.describe()
            ),
            Some(_) => return Err(TokenError::ProtectionLost { key, found: now }),
            None => eprintln!(
                "warning: the private key of {key} can leave the token ({}), and nobody accepted \
                 that: the archive was written before the signer refused such keys. A copy of it \
                 may exist outside the token; replace it with a key made on the token (`signer \
                 sign --token LABEL` makes the new keys there)",
                now.describe()
            ),
        }
        Ok(())
    }
}

/// Finds the key `w` names on the token `token` and checks it is the
/// recorded key: same type, same public key.
fn open_key(
    session: &Rc<Session>,
    token: &TokenIdentity,
    w: &Wanted<'_>,
    pin: Option<Rc<SecretString>>,
) -> Result<TokenKey, TokenError> {
    let label = token.label.as_str();
    let r = w.reference;
    let purpose = Purpose::Open {
        keys: format!(
            "{} ({}, fingerprint {})",
            r.describe(),
            key_description(w.public),
            w.public.fingerprint()
        ),
    };
    let found = find_key(session, label, &r.key_label, Some(&r.id_bytes()?), &purpose)?;
    if found.public.key_type() != w.public.key_type() {
        return Err(TokenError::RecordedTypeDiffers {
            key: r.describe(),
            found: key_description(&found.public),
            recorded: key_description(w.public),
            fingerprint: w.public.fingerprint(),
        });
    }
    if &found.public != w.public {
        return Err(TokenError::RecordedKeyDiffers {
            key: r.describe(),
            found: found.public.fingerprint(),
            recorded: w.public.fingerprint(),
        });
    }
    // The recorded key: signatures must verify under it.
    Ok(TokenKey::new(
        session.clone(),
        &found,
        w.public.clone(),
        r.clone(),
        token.clone(),
        pin,
    ))
}

/// The module's sha256, so that the transcript says which build signed;
/// unreadable is recorded as such rather than failing a ceremony that has
/// already loaded the module.
fn file_sha256(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    std::fs::read(path)
        .map(|b| hex::encode(Sha256::digest(b)))
        .unwrap_or_else(|e| format!("unreadable: {e}"))
}
