//! Root keys on PKCS#11 tokens (YubiKey, Nitrokey, smart-card HSMs, SoftHSM
//! in tests), through the `cryptoki` crate.
//!
//! What the signer does with a token:
//!
//! * **keygen**: generate an Ed25519 (`CKM_EC_EDWARDS_KEY_PAIR_GEN`) or
//!   RSA-4096 (`CKM_RSA_PKCS_KEY_PAIR_GEN`, e = 65537) key pair *on* the
//!   token, private half `CKA_SENSITIVE` and not `CKA_EXTRACTABLE`;
//! * **import**: find an existing key by label (and `CKA_ID`);
//! * **sign**: Ed25519 (`CKM_EDDSA`, pure) or RSASSA-PSS-SHA256, MGF1-SHA256,
//!   salt 32 (`CKM_SHA256_RSA_PKCS_PSS`).
//!
//! The archive records only the public key and where the key is
//! ([`TokenRef`]); the private key never leaves the token. Every signature a
//! token returns is verified in software under the *recorded* public key
//! before it is used ([`ceremony::keys::sign_checked`]), and every key is
//! test-signed when it is opened, so a token that holds another key under
//! the recorded label, or misbehaves, is caught before anything is written.
//!
//! The module is loaded only from the path the user gives
//! (`--pkcs11-module`), made absolute first so that the dynamic loader
//! never searches its library path; the path recorded in the archive is a
//! hint shown to people, never loaded. PINs come from the terminal without
//! echo or from `--pin-file`, are held in [`SecretString`]s (wiped on drop)
//! and are never printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{anyhow, bail, Context, Result};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType as CkKeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use ceremony::keys::{sign_checked, KeyError, KeyType, NewKeyType, PublicKey, Signer};

/// `CKA_EC_PARAMS` of Ed25519: the DER OID `id-Ed25519` (1.3.101.112, RFC 8410).
const ED25519_OID_PARAMS: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// `CKA_EC_PARAMS` of Ed25519 as PKCS#11 3.0 also allows: the DER
/// PrintableString `edwards25519` (what OpenSC and older SoftHSM write).
const ED25519_NAME_PARAMS: &[u8] = b"\x13\x0cedwards25519";
/// RSA public exponent 65537, big-endian.
const RSA_E: &[u8] = &[0x01, 0x00, 0x01];
/// Salt length of every RSASSA-PSS signature (as in `ceremony::keys`).
const PSS_SALT: u64 = 32;
/// Signed when a key is opened, before it signs anything that matters; the
/// prefix keeps this from ever being mistaken for metadata or a transcript.
const SELF_TEST_DOMAIN: &[u8] = b"tuf-ceremony/pkcs11-self-test@1\0";
/// The largest PIN file read.
const MAX_PIN_FILE: u64 = 1024;

/// Where a root key on a token is: what the archive's manifest records.
/// Holds no secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRef {
    /// The module the key was recorded with. A hint for the human only: the
    /// signer never loads a module named in the archive.
    pub module_hint: String,
    /// `CK_TOKEN_INFO.label`: how the token is found.
    pub token_label: String,
    /// `CK_TOKEN_INFO.serialNumber`, for the human (a backup token with the
    /// same key has another serial, and is accepted).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_serial: String,
    /// `CK_TOKEN_INFO.manufacturerID`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_manufacturer: String,
    /// `CK_TOKEN_INFO.model`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_model: String,
    /// `CKA_LABEL` of the key objects.
    pub key_label: String,
    /// `CKA_ID` of the key objects, lowercase hex (empty when the key has none).
    #[serde(default)]
    pub key_id: String,
}

impl TokenRef {
    /// `key "L" on token "T"`, for messages.
    pub fn describe(&self) -> String {
        format!("key {:?} on token {:?}", self.key_label, self.token_label)
    }

    /// The key as an RFC 7512 PKCS#11 URI (`pkcs11:token=…;object=…;id=…`),
    /// which other PKCS#11 tools understand.
    pub fn uri(&self) -> String {
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

    fn id_bytes(&self) -> Result<Vec<u8>> {
        hex::decode(&self.key_id).map_err(|_| {
            anyhow!(
                "the archive records {} with the key id {:?}, which is not hex: the archive is damaged",
                self.describe(),
                self.key_id
            )
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

/// The command-line options that name a token and a key on it.
#[derive(clap::Args, Clone, Default)]
pub struct TokenArgs {
    /// The PKCS#11 module (shared library) of the token, e.g.
    /// /usr/lib/softhsm/libsofthsm2.so or /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so.
    /// Only this file is loaded.
    #[arg(long = "pkcs11-module", value_name = "PATH")]
    pub module: Option<PathBuf>,
    /// The token's label (as `pkcs11-tool -L` or `softhsm2-util --show-slots` list it).
    /// keygen, import: the token that holds the key; sign: make the new keys on this token.
    #[arg(long = "token", value_name = "LABEL", requires = "module")]
    pub token: Option<String>,
    /// The key's label (CKA_LABEL) on the token; for a key made here, default
    /// tuf-root-<UTC time> (sign adds -1, -2, ... when it makes several).
    #[arg(long = "key-label", value_name = "LABEL", requires = "module")]
    pub key_label: Option<String>,
    /// Read the token's user PIN from the first line of this file instead of asking.
    #[arg(long = "pin-file", value_name = "FILE", requires = "module")]
    pub pin_file: Option<PathBuf>,
}

/// A loaded and initialised PKCS#11 module. Finalised on drop.
pub struct Module {
    ctx: Option<Pkcs11>,
    path: PathBuf,
}

impl Module {
    /// Loads the module at exactly `path` and initialises it.
    pub fn load(path: &Path) -> Result<Module> {
        let meta = std::fs::metadata(path).with_context(|| {
            format!(
                "the PKCS#11 module {} cannot be read (give the path of the token's shared \
                 library, e.g. /usr/lib/softhsm/libsofthsm2.so)",
                path.display()
            )
        })?;
        if !meta.is_file() {
            bail!(
                "the PKCS#11 module {} is not a file (give the path of the token's shared library)",
                path.display()
            );
        }
        // An absolute path: the dynamic loader then opens exactly this file
        // and never searches LD_LIBRARY_PATH or the system folders.
        let abs = std::fs::canonicalize(path)
            .with_context(|| format!("cannot resolve the path {}", path.display()))?;
        let ctx = Pkcs11::new(&abs).map_err(|e| {
            anyhow!(
                "cannot load the PKCS#11 module {}: {e} (is it a PKCS#11 library for this machine?)",
                abs.display()
            )
        })?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => bail!(
                "the PKCS#11 module {} failed to initialise: {}",
                abs.display(),
                explain(&e)
            ),
        }
        Ok(Module {
            ctx: Some(ctx),
            path: abs,
        })
    }

    fn ctx(&self) -> &Pkcs11 {
        self.ctx
            .as_ref()
            .expect("the module is initialised until dropped")
    }

    /// The module's absolute path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tokens present, by slot.
    fn tokens(&self) -> Result<Vec<(Slot, TokenInfo)>> {
        let slots = self.ctx().get_slots_with_token().map_err(|e| {
            anyhow!(
                "the PKCS#11 module {} cannot list its tokens: {}",
                self.path.display(),
                explain(&e)
            )
        })?;
        let mut out = Vec::new();
        for slot in slots {
            if let Ok(info) = self.ctx().get_token_info(slot) {
                out.push((slot, info));
            }
        }
        Ok(out)
    }

    /// The token labelled `label`; when there is none, the error lists the
    /// tokens present.
    pub fn find_token(&self, label: &str) -> Result<Token> {
        let tokens = self.tokens()?;
        let mut matching: Vec<(Slot, TokenInfo)> = tokens
            .iter()
            .filter(|(_, i)| i.label().trim_end() == label.trim_end())
            .cloned()
            .collect();
        match matching.len() {
            1 => {
                let (slot, info) = matching.remove(0);
                Ok(Token { slot, info })
            }
            0 => {
                let present: Vec<String> = tokens
                    .iter()
                    .filter(|(_, i)| i.token_initialized())
                    .map(|(_, i)| format!("{:?}", i.label()))
                    .collect();
                Err(anyhow!(
                    "no token labelled {label:?} is present (module {}; tokens present: {})",
                    self.path.display(),
                    if present.is_empty() {
                        "none".to_string()
                    } else {
                        present.join(", ")
                    }
                ))
            }
            n => Err(anyhow!(
                "{n} tokens labelled {label:?} are present (serial numbers {}); remove all but \
                 the one to use",
                matching
                    .iter()
                    .map(|(_, i)| i.serial_number().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Opens a session on `token` and logs the user in: the PIN from
    /// `pin_file`, else typed at the terminal (or on the token's own PIN pad
    /// when it has one). Returns the session and, for keys that want the
    /// PIN again before each signature, the PIN.
    pub fn login(
        &self,
        token: &Token,
        pin_file: Option<&Path>,
        read_write: bool,
    ) -> Result<(Session, Option<Rc<SecretString>>)> {
        let label = token.label();
        if token.info.user_pin_locked() {
            bail!(
                "the user PIN of token {label:?} is locked (too many wrong tries): unlock it with \
                 the token vendor's tool and the SO PIN; nothing was signed or written"
            );
        }
        let session = if read_write {
            self.ctx().open_rw_session(token.slot)
        } else {
            self.ctx().open_ro_session(token.slot)
        }
        .map_err(|e| anyhow!("cannot open a session on token {label:?}: {}", explain(&e)))?;
        // Another session of this process is logged in already (login is
        // per token, not per session): no second PIN.
        if let Ok(info) = session.get_session_info() {
            if matches!(
                info.session_state(),
                SessionState::RoUser | SessionState::RwUser
            ) {
                return Ok((session, None));
            }
        }
        let pad = token.info.protected_authentication_path() && pin_file.is_none();
        let pin = if pad {
            eprintln!("Enter the PIN of token {label:?} on its PIN pad.");
            None
        } else {
            if token.info.user_pin_final_try() {
                eprintln!(
                    "warning: token {label:?} says one more wrong PIN locks it; check the PIN first"
                );
            } else if token.info.user_pin_count_low() {
                eprintln!(
                    "warning: token {label:?} reports recent wrong PIN tries (its PIN locks after \
                     a few more)"
                );
            }
            Some(Rc::new(read_pin(pin_file, label)?))
        };
        match session.login(UserType::User, pin.as_deref()) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => bail!(
                "wrong PIN for token {label:?}{}; nothing was signed or written (the token counts \
                 wrong PINs and locks after a few)",
                pin_file
                    .map(|p| format!(" (from {})", p.display()))
                    .unwrap_or_default()
            ),
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => bail!(
                "the user PIN of token {label:?} is locked (too many wrong tries): unlock it with \
                 the token vendor's tool and the SO PIN; nothing was signed or written"
            ),
            Err(CkError::Pkcs11(RvError::PinLenRange | RvError::PinInvalid, _)) => bail!(
                "that is not a valid PIN for token {label:?} (wrong length or characters); \
                 nothing was signed or written"
            ),
            Err(e) => bail!("cannot log in to token {label:?}: {}", explain(&e)),
        }
        Ok((session, pin))
    }

    /// Whether the token supports `mechanism` at all.
    fn has_mechanism(&self, token: &Token, mechanism: MechanismType) -> bool {
        self.ctx()
            .get_mechanism_list(token.slot)
            .map(|list| list.contains(&mechanism))
            .unwrap_or(true)
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        if let Some(ctx) = self.ctx.take() {
            let _ = ctx.finalize();
        }
    }
}

/// A token found by label.
pub struct Token {
    slot: Slot,
    info: TokenInfo,
}

impl Token {
    /// Its label.
    pub fn label(&self) -> &str {
        self.info.label().trim_end()
    }

    /// A reference to `key_label`/`key_id` on this token, as the archive
    /// records it.
    fn reference(&self, module: &Module, key_label: &str, key_id: &[u8]) -> TokenRef {
        TokenRef {
            module_hint: module.path().display().to_string(),
            token_label: self.label().to_string(),
            token_serial: self.info.serial_number().trim().to_string(),
            token_manufacturer: self.info.manufacturer_id().trim().to_string(),
            token_model: self.info.model().trim().to_string(),
            key_label: key_label.to_string(),
            key_id: hex::encode(key_id),
        }
    }
}

/// Reads a PIN: the first line of `file`, else typed without echo.
fn read_pin(file: Option<&Path>, token_label: &str) -> Result<SecretString> {
    if let Some(path) = file {
        let bytes = Zeroizing::new(
            crate::archive::read_file_bounded(path, MAX_PIN_FILE)
                .with_context(|| format!("cannot read the PIN file {}", path.display()))?,
        );
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| anyhow!("the PIN file {} is not UTF-8 text", path.display()))?;
        let line = text.split('\n').next().unwrap_or("");
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            bail!("the PIN file {} is empty", path.display());
        }
        return Ok(SecretString::from(line.to_owned()));
    }
    let typed = Zeroizing::new(
        rpassword::prompt_password(format!("PIN of token {token_label:?}: ")).map_err(|e| {
            anyhow!("cannot ask for the token PIN ({e}): there is no terminal; use --pin-file FILE")
        })?,
    );
    if typed.is_empty() {
        bail!("an empty PIN is not accepted");
    }
    Ok(SecretString::from(typed.as_str().to_owned()))
}

/// A PKCS#11 error in words.
fn explain(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, _) => match rv {
            RvError::TokenNotPresent | RvError::DeviceRemoved => {
                "the token was removed (insert it and run again)".into()
            }
            RvError::UserNotLoggedIn => "not logged in (the PIN was not accepted)".into(),
            RvError::MechanismInvalid => "the token does not support this mechanism".into(),
            RvError::KeyTypeInconsistent => "the key is of the wrong type for this".into(),
            RvError::KeyFunctionNotPermitted => {
                "the key is not allowed to do this (CKA_SIGN is false)".into()
            }
            other => format!("{other:?} ({other})"),
        },
        other => other.to_string(),
    }
}

/// A private key found on a token, and what was learnt about it.
struct Found {
    handle: ObjectHandle,
    id: Vec<u8>,
    public: PublicKey,
    always_authenticate: bool,
    extractable: Option<bool>,
    sensitive: Option<bool>,
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

/// Finds the one private key labelled `label` (with `id`, when given) and
/// reads its public key. Ed25519 and RSA only: anything else is refused,
/// naming what it is.
fn find_key(session: &Session, token: &str, label: &str, id: Option<&[u8]>) -> Result<Found> {
    let mut template = vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    if let Some(id) = id {
        template.push(Attribute::Id(id.to_vec()));
    }
    let handles = session
        .find_objects(&template)
        .map_err(|e| anyhow!("cannot search token {token:?}: {}", explain(&e)))?;
    let handle = match handles.as_slice() {
        [one] => *one,
        [] => bail!(
            "token {token:?} has no private key labelled {label:?}{}",
            id.map(|i| format!(" with id {}", hex::encode(i)))
                .unwrap_or_default()
        ),
        many => {
            let ids: Vec<String> = many
                .iter()
                .map(|h| {
                    session
                        .get_attributes(*h, &[AttributeType::Id])
                        .ok()
                        .and_then(|a| attr_bytes(&a, AttributeType::Id))
                        .map_or("?".into(), hex::encode)
                })
                .collect();
            bail!(
                "token {token:?} has {} private keys labelled {label:?} (ids {}); name one with --key-id",
                many.len(),
                ids.join(", ")
            )
        }
    };
    let attrs = session
        .get_attributes(
            handle,
            &[
                AttributeType::KeyType,
                AttributeType::Id,
                AttributeType::Sign,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::AlwaysAuthenticate,
            ],
        )
        .map_err(|e| {
            anyhow!(
                "cannot read key {label:?} on token {token:?}: {}",
                explain(&e)
            )
        })?;
    let key_type = attrs
        .iter()
        .find_map(|a| match a {
            Attribute::KeyType(k) => Some(*k),
            _ => None,
        })
        .ok_or_else(|| anyhow!("token {token:?} does not say what type key {label:?} is"))?;
    let key_id = attr_bytes(&attrs, AttributeType::Id).unwrap_or_default();
    if attr_bool(&attrs, AttributeType::Sign) == Some(false) {
        bail!("key {label:?} on token {token:?} is not allowed to sign (CKA_SIGN is false)");
    }
    let wrong_type = |what: &str| {
        anyhow!(
            "key {label:?} on token {token:?} is {what}; a root key on a token must be Ed25519 or \
             RSA (2048, 3072 or 4096 bits)"
        )
    };
    let public = if key_type == CkKeyType::RSA {
        let mut pa = session
            .get_attributes(
                handle,
                &[AttributeType::Modulus, AttributeType::PublicExponent],
            )
            .unwrap_or_default();
        if attr_bytes(&pa, AttributeType::Modulus).is_none() {
            // Some tokens keep the public numbers on the public object only.
            let pubh = public_object(session, label, &key_id, CkKeyType::RSA)?;
            pa = session
                .get_attributes(
                    pubh,
                    &[AttributeType::Modulus, AttributeType::PublicExponent],
                )
                .map_err(|e| anyhow!("cannot read the public key {label:?}: {}", explain(&e)))?;
        }
        let n = attr_bytes(&pa, AttributeType::Modulus)
            .ok_or_else(|| anyhow!("token {token:?} gives no modulus for key {label:?}"))?;
        let e = attr_bytes(&pa, AttributeType::PublicExponent)
            .ok_or_else(|| anyhow!("token {token:?} gives no exponent for key {label:?}"))?;
        PublicKey::from_rsa_components(&n, &e).map_err(|e| match e {
            KeyError::UnsupportedRsaSize { bits } => wrong_type(&format!("an RSA-{bits} key")),
            other => anyhow!("key {label:?} on token {token:?} is not usable: {other}"),
        })?
    } else if key_type == CkKeyType::EC_EDWARDS {
        let pubh = public_object(session, label, &key_id, CkKeyType::EC_EDWARDS)?;
        let pa = session
            .get_attributes(pubh, &[AttributeType::EcParams, AttributeType::EcPoint])
            .map_err(|e| anyhow!("cannot read the public key {label:?}: {}", explain(&e)))?;
        let params = attr_bytes(&pa, AttributeType::EcParams).unwrap_or_default();
        if !is_ed25519_params(&params) {
            return Err(wrong_type(
                "an Edwards-curve key that is not Ed25519 (Ed448?)",
            ));
        }
        let point = attr_bytes(&pa, AttributeType::EcPoint)
            .ok_or_else(|| anyhow!("token {token:?} gives no public point for key {label:?}"))?;
        let raw = ed25519_point(&point).ok_or_else(|| {
            anyhow!("token {token:?} gives a malformed Ed25519 public point for key {label:?}")
        })?;
        PublicKey::from_ed25519_bytes(raw)
            .map_err(|e| anyhow!("key {label:?} on token {token:?} is not usable: {e}"))?
    } else if key_type == CkKeyType::EC {
        return Err(wrong_type("an ECDSA (CKK_EC) key"));
    } else {
        return Err(wrong_type(&format!("a {key_type} key")));
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

/// The public key object that goes with a private key: same label and id.
fn public_object(
    session: &Session,
    label: &str,
    id: &[u8],
    key_type: CkKeyType,
) -> Result<ObjectHandle> {
    let mut template = vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(key_type),
        Attribute::Id(id.to_vec()),
    ];
    let mut found = session.find_objects(&template).unwrap_or_default();
    if found.len() != 1 {
        template.push(Attribute::Label(label.as_bytes().to_vec()));
        found = session.find_objects(&template).unwrap_or_default();
    }
    match found.as_slice() {
        [one] => Ok(*one),
        [] => bail!(
            "the token has no public key object for key {label:?} (id {}); the public key \
             cannot be read from the private key alone for this key type",
            hex::encode(id)
        ),
        _ => bail!(
            "the token has several public key objects for key {label:?} (id {})",
            hex::encode(id)
        ),
    }
}

/// A root key on a token, ready to sign. Holds no secret but, for keys
/// that want the PIN before each signature (`CKA_ALWAYS_AUTHENTICATE`), the
/// PIN in a wiped buffer.
pub struct TokenKey {
    session: Rc<Session>,
    handle: ObjectHandle,
    public: PublicKey,
    reference: TokenRef,
    context_pin: Option<Rc<SecretString>>,
}

impl TokenKey {
    /// Where the key is.
    pub fn reference(&self) -> &TokenRef {
        &self.reference
    }

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
    fn self_test(&self) -> Result<()> {
        let mut message = SELF_TEST_DOMAIN.to_vec();
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        message.extend_from_slice(&nonce.to_le_bytes());
        sign_checked(self, &message)
            .map(|_| ())
            .map_err(|e| anyhow!("{e}. Nothing was signed or written"))
    }
}

impl Signer for TokenKey {
    fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = |e: &CkError| KeyError::Signing {
            reason: format!("{} could not sign: {}", self.describe(), explain(e)),
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
pub struct Wanted<'a> {
    /// Where it is.
    pub reference: &'a TokenRef,
    /// The public key the archive recorded: what the token must hold.
    pub public: &'a PublicKey,
}

/// The token keys opened for one command, the sessions they use and the
/// module. Fields drop in order: keys, sessions (logged out and closed),
/// then the module (finalised).
pub struct TokenSet {
    /// The keys, in the order asked for.
    pub keys: Vec<TokenKey>,
    sessions: Vec<(String, Rc<Session>)>,
    module: Module,
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
    pub fn open(
        module: Module,
        pin_file: Option<&Path>,
        wanted: &[Wanted<'_>],
    ) -> Result<TokenSet> {
        let mut set = TokenSet {
            keys: Vec::new(),
            sessions: Vec::new(),
            module,
        };
        let mut by_token: BTreeMap<&str, Vec<&Wanted<'_>>> = BTreeMap::new();
        for w in wanted {
            by_token
                .entry(w.reference.token_label.as_str())
                .or_default()
                .push(w);
        }
        for (label, keys) in by_token {
            let needs = keys
                .iter()
                .map(|w| {
                    format!(
                        "key {:?} ({}, fingerprint {})",
                        w.reference.key_label,
                        ceremony::diff::key_description(w.public),
                        w.public.fingerprint()
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            let token = set.module.find_token(label).map_err(|e| {
                anyhow!(
                    "{e}.\nInsert the token {label:?} that holds {needs}, and run again; nothing \
                     was signed or written"
                )
            })?;
            let (session, pin) = set.module.login(&token, pin_file, false)?;
            let session = Rc::new(session);
            set.sessions.push((label.to_string(), session.clone()));
            for w in keys {
                let r = w.reference;
                let found =
                    find_key(&session, label, &r.key_label, Some(&r.id_bytes()?)).map_err(|e| {
                        anyhow!(
                            "{e}.\nThe archive records {} ({}, fingerprint {}) there: is this the \
                             right token? Nothing was signed or written",
                            r.describe(),
                            ceremony::diff::key_description(w.public),
                            w.public.fingerprint()
                        )
                    })?;
                if found.public.key_type() != w.public.key_type() {
                    bail!(
                        "{} holds an {} key, but the archive records an {} key there (fingerprint \
                         {}): the token holds another key under that label. Nothing was signed or \
                         written",
                        r.describe(),
                        ceremony::diff::key_description(&found.public),
                        ceremony::diff::key_description(w.public),
                        w.public.fingerprint()
                    );
                }
                if &found.public != w.public {
                    bail!(
                        "{} holds the key with fingerprint {}, but the archive records fingerprint \
                         {}: the token holds another key under that label (a backup token of \
                         another key?). Nothing was signed or written",
                        r.describe(),
                        found.public.fingerprint(),
                        w.public.fingerprint()
                    );
                }
                let key = TokenKey {
                    session: session.clone(),
                    handle: found.handle,
                    // The recorded key: signatures must verify under it.
                    public: w.public.clone(),
                    reference: r.clone(),
                    context_pin: found.always_authenticate.then(|| pin.clone()).flatten(),
                };
                key.self_test()?;
                set.keys.push(key);
            }
        }
        Ok(set)
    }

    /// Generates a root key on the token `token_label` (see [`generate`])
    /// and adds it to the keys this set signs with.
    pub fn generate(
        &mut self,
        token_label: &str,
        pin_file: Option<&Path>,
        kind: NewKeyType,
        key_label: &str,
    ) -> Result<Recorded> {
        let (recorded, key) = generate_key(&self.module, token_label, pin_file, kind, key_label)?;
        self.sessions
            .push((token_label.to_string(), key.session.clone()));
        self.keys.push(key);
        Ok(recorded)
    }

    /// The key recorded as `reference`.
    pub fn key(&self, reference: &TokenRef) -> Option<&TokenKey> {
        self.keys.iter().find(|k| &k.reference == reference)
    }

    /// What the transcript records: the module (path and sha256), the
    /// tokens and the keys opened.
    pub fn transcript(&self) -> Value {
        json!({
            "module": self.module.path().display().to_string(),
            "module_sha256": file_sha256(self.module.path()),
            "keys": self.keys.iter().map(|k| json!({
                "token": k.reference.token_label,
                "token_serial": k.reference.token_serial,
                "key_label": k.reference.key_label,
                "key_id": k.reference.key_id,
                "fingerprint": k.public.fingerprint(),
                "self_test": "signed and verified in software",
            })).collect::<Vec<_>>(),
        })
    }
}

fn file_sha256(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    std::fs::read(path)
        .map(|b| hex::encode(Sha256::digest(b)))
        .unwrap_or_else(|e| format!("unreadable: {e}"))
}

/// A key made on, or found on, a token: what the archive records.
pub struct Recorded {
    /// Its public key.
    pub public: PublicKey,
    /// Where it is.
    pub reference: TokenRef,
    /// Things the human should know (an extractable key, ...).
    pub warnings: Vec<String>,
}

/// `tuf-root-<UTC time>`: the label of a key generated without `--key-label`.
pub fn default_key_label(now: time::OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    format!(
        "tuf-root-{}",
        now.to_offset(time::UtcOffset::UTC)
            .format(fmt)
            .unwrap_or_else(|_| "new".into())
    )
}

/// Generates a root key pair on the token `token_label`, labelled
/// `key_label`: the private half sensitive and never extractable, used
/// only on the token. Then reads the public key back and test-signs.
pub fn generate(
    module: &Module,
    token_label: &str,
    pin_file: Option<&Path>,
    kind: NewKeyType,
    key_label: &str,
) -> Result<Recorded> {
    let (recorded, key) = generate_key(module, token_label, pin_file, kind, key_label)?;
    let session = key.session.clone();
    drop(key);
    let _ = session.logout();
    Ok(recorded)
}

fn generate_key(
    module: &Module,
    token_label: &str,
    pin_file: Option<&Path>,
    kind: NewKeyType,
    key_label: &str,
) -> Result<(Recorded, TokenKey)> {
    let token = module.find_token(token_label).map_err(|e| {
        anyhow!("{e}.\nInsert the token to generate the key on; nothing was written")
    })?;
    let mechanism = match kind {
        NewKeyType::Ed25519 => MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
        NewKeyType::Rsa4096 => MechanismType::RSA_PKCS_KEY_PAIR_GEN,
    };
    if !module.has_mechanism(&token, mechanism) {
        bail!(
            "token {token_label:?} ({} {}) cannot generate {kind} keys{}; nothing was written",
            token.info.manufacturer_id().trim(),
            token.info.model().trim(),
            if kind == NewKeyType::Ed25519 {
                " (try --type rsa-4096)"
            } else {
                ""
            }
        );
    }
    let (session, pin) = module.login(&token, pin_file, true)?;
    let taken = session
        .find_objects(&[Attribute::Label(key_label.as_bytes().to_vec())])
        .map_err(|e| anyhow!("cannot search token {token_label:?}: {}", explain(&e)))?;
    if !taken.is_empty() {
        bail!(
            "token {token_label:?} already holds an object labelled {key_label:?}; pick another \
             --key-label (or record that key with `signer import --pkcs11-module ... --key-label \
             {key_label}`). Nothing was written"
        );
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
    let (pub_handle, priv_handle) = generated.map_err(|e| {
        anyhow!(
            "token {token_label:?} could not generate the {kind} key: {}; nothing was written",
            explain(&e)
        )
    })?;
    let destroy = |why: String| -> anyhow::Error {
        let _ = session.destroy_object(priv_handle);
        let _ = session.destroy_object(pub_handle);
        anyhow!("{why}; the key was deleted from the token and nothing was written")
    };
    let found = find_key(&session, token_label, key_label, Some(&id))
        .map_err(|e| destroy(format!("the key just generated cannot be read back: {e}")))?;
    if found.extractable != Some(false) || found.sensitive != Some(true) {
        return Err(destroy(format!(
            "token {token_label:?} did not make the private key sensitive and non-extractable \
             (CKA_SENSITIVE {:?}, CKA_EXTRACTABLE {:?})",
            found.sensitive, found.extractable
        )));
    }
    let reference = token.reference(module, key_label, &found.id);
    let session = Rc::new(session);
    let key = TokenKey {
        session: session.clone(),
        handle: found.handle,
        public: found.public.clone(),
        reference: reference.clone(),
        context_pin: found.always_authenticate.then(|| pin.clone()).flatten(),
    };
    if let Err(e) = key.self_test() {
        drop(key);
        let _ = session.destroy_object(priv_handle);
        let _ = session.destroy_object(pub_handle);
        bail!("the key just generated does not sign correctly: {e}; it was deleted from the token");
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

/// Finds the existing key `key_label` (and `key_id`, hex, when given) on
/// the token `token_label`, reads its public key and test-signs with it.
pub fn find_existing(
    module: &Module,
    token_label: &str,
    pin_file: Option<&Path>,
    key_label: &str,
    key_id: Option<&str>,
) -> Result<Recorded> {
    let token = module
        .find_token(token_label)
        .map_err(|e| anyhow!("{e}.\nInsert the token that holds the key; nothing was written"))?;
    let id = key_id
        .map(|h| {
            hex::decode(h.trim_start_matches("0x"))
                .map_err(|_| anyhow!("--key-id {h:?} is not hex (e.g. --key-id 01a2)"))
        })
        .transpose()?;
    let (session, pin) = module.login(&token, pin_file, false)?;
    let found = find_key(&session, token_label, key_label, id.as_deref())
        .map_err(|e| anyhow!("{e}; nothing was written"))?;
    let mut warnings = Vec::new();
    if found.extractable != Some(false) || found.sensitive != Some(true) {
        warnings.push(format!(
            "key {key_label:?} on token {token_label:?} can be read out of the token \
             (CKA_SENSITIVE {:?}, CKA_EXTRACTABLE {:?}); a root key is best generated on the \
             token with `signer keygen --pkcs11-module ...`",
            found.sensitive, found.extractable
        ));
    }
    let reference = token.reference(module, key_label, &found.id);
    let session = Rc::new(session);
    let key = TokenKey {
        session: session.clone(),
        handle: found.handle,
        public: found.public.clone(),
        reference: reference.clone(),
        context_pin: found.always_authenticate.then(|| pin.clone()).flatten(),
    };
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

    #[test]
    fn token_ref_reads_back_without_optional_fields() {
        let r: TokenRef = serde_json::from_value(json!({
            "module_hint": "/m.so", "token_label": "t", "key_label": "k"
        }))
        .unwrap();
        assert_eq!(r.key_id, "");
        assert_eq!(r.uri(), "pkcs11:token=t;object=k");
    }

    #[test]
    fn a_module_that_is_not_there_is_named() {
        let e = Module::load(Path::new("/nonexistent/libnothing.so"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("/nonexistent/libnothing.so"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = Module::load(dir.path()).err().unwrap().to_string();
        assert!(e.contains("not a file"), "{e}");
        let junk = dir.path().join("junk.so");
        std::fs::write(&junk, b"not a library").unwrap();
        let e = Module::load(&junk).err().unwrap().to_string();
        assert!(e.contains("cannot load the PKCS#11 module"), "{e}");
    }
}
