//! Root metadata, kept as the exact JSON it came in.
//!
//! A root is never round-tripped through a struct: a struct drops or reorders
//! what it does not know, and the server checks signatures over what it
//! receives. [`RootMetadata`] holds the parsed envelope as a generic JSON value
//! (object order preserved) plus the bytes it was read from, offers typed
//! readers for the fields the rotation rules need, and edits only the fields we
//! own. Unknown fields (`x-changelog`, `x-key-owners`, `targets-signatures`,
//! anything a future server adds) survive untouched.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use base64::Engine as _;
use serde_json::{Map, Value};
use thiserror::Error;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::canonical::{to_canonical_bytes, CanonicalError};
use crate::dialect::Dialect;
use crate::keys::{sign_checked, KeyError, PrivateKey, PublicKey, Signer};
use crate::strict_json;

/// The four roles every root must delegate.
pub const TOP_LEVEL_ROLES: [&str; 4] = ["root", "snapshot", "targets", "timestamp"];

/// The one form of `expires` every client accepts: aktualizr refuses anything
/// that is not exactly 20 characters ending in `Z`, python-tuf refuses
/// fractional seconds.
const EXPIRES_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// Why a file is not usable root metadata, or a field of it cannot be read.
#[derive(Debug, Error)]
pub enum RootError {
    /// Larger than the dialect's clients will read.
    #[error("the root file is {size} bytes; {dialect} clients refuse roots over {max} bytes")]
    TooLarge {
        /// Size of the file.
        size: usize,
        /// The dialect's limit.
        max: usize,
        /// The dialect whose limit applies.
        dialect: Dialect,
    },
    /// Not JSON, or JSON a signature cannot pin down (duplicate keys).
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not shaped like signed root metadata.
    #[error("not root metadata: {0}")]
    Shape(String),
    /// The file gives no hint of its dialect and none was named.
    #[error("cannot tell the dialect of this root (no _type, no signatures): pass --dialect ota-tuf or --dialect tuf")]
    UnknownDialect,
    /// A field the rules need is missing or malformed.
    #[error("{field}: {problem}")]
    Field {
        /// The field, as a path below `signed`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A key listed in the root cannot be used.
    #[error("key {keyid}: {source}")]
    Key {
        /// The key id it is listed under.
        keyid: String,
        /// Why it cannot be used.
        source: KeyError,
    },
    /// The `signed` part has no canonical form in this dialect.
    #[error("cannot canonicalise signed: {0}")]
    Canonical(#[from] CanonicalError),
}

/// Why an `expires` value is refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ExpiresError {
    /// Not exactly `YYYY-MM-DDTHH:MM:SSZ`: clients refuse every other form,
    /// even ones that name the same moment.
    #[error("{0:?} is not of the form YYYY-MM-DDTHH:MM:SSZ (devices refuse any other form)")]
    Form(String),
    /// The right form, but no such date or time (month 13, say).
    #[error("{given:?} is not a valid date and time: {source}")]
    Invalid {
        /// The value as given.
        given: String,
        /// The date parser's explanation.
        source: time::error::Parse,
    },
}

/// Why a signature entry's `sig` could not be decoded. Kept per entry, so one
/// bad entry is reported without hiding the others.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum SigDecodeError {
    /// ota-tuf signatures are base64.
    #[error("sig is not base64: {0}")]
    Base64(#[source] base64::DecodeError),
    /// TUF signatures are hex.
    #[error("sig is not hex: {0}")]
    Hex(#[source] hex::FromHexError),
}

// `hex::FromHexError` lacks `Eq` only by omission: its equality is total (it
// holds a char and positions), and `SignatureEntry` needs `Eq`.
impl Eq for SigDecodeError {}

/// A TUF signature's hex. `base16ct` (already in the graph through the
/// RustCrypto crates) decodes the thousands of signatures of an audit
/// several times faster than `hex`; whatever it refuses is decoded again by
/// `hex`, whose error (which character, where) is the one reported.
fn decode_hex_signature(text: &str) -> Result<Vec<u8>, SigDecodeError> {
    match base16ct::mixed::decode_vec(text) {
        Ok(bytes) => Ok(bytes),
        Err(_) => hex::decode(text).map_err(SigDecodeError::Hex),
    }
}

fn field(field: &str, problem: impl Into<String>) -> RootError {
    RootError::Field {
        field: field.to_string(),
        problem: problem.into(),
    }
}

/// One role's delegation: which keys, and how many of them must sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleKeys {
    /// Key ids, in the order the root lists them.
    pub keyids: Vec<String>,
    /// How many distinct keys must sign.
    pub threshold: u64,
}

/// One entry of `signatures`, decoded per dialect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureEntry {
    /// The key id the signer claims.
    pub keyid: String,
    /// ota-tuf's `method` (`ed25519`, `rsassa-pss-sha256`); absent in TUF.
    pub method: Option<String>,
    /// The raw signature bytes, or why they could not be decoded.
    pub sig: Result<Vec<u8>, SigDecodeError>,
}

/// A root metadata file: the envelope as parsed, its dialect, and the exact
/// bytes it was read from until it is edited.
#[derive(Clone, Debug)]
pub struct RootMetadata {
    envelope: Value,
    dialect: Dialect,
    original: Option<Vec<u8>>,
    /// `signed.keys`, parsed once: decoding a key (an RSA modulus above all)
    /// costs more than the JSON around it, and the rules look keys up many
    /// times per root. Emptied by every edit of `signed`.
    parsed_keys: OnceLock<HashMap<String, Result<PublicKey, KeyError>>>,
}

/// A key object, decoded, or why it does not decode.
type DecodedKey = Result<PublicKey, KeyError>;

/// Keys decoded while walking a history, so that a key listed by many roots
/// is decoded once (an RSA modulus costs more to decode than the JSON around
/// it). See [`RootMetadata::decode_keys_with`]. It owns what it holds, so
/// the roots it has seen can be dropped as a walk moves on.
pub(crate) struct KeyCache {
    dialect: Dialect,
    /// By `keyval.public`, then by the whole key object: two objects with the
    /// same public text may still differ (keytype, scheme) and decode apart.
    by_public: HashMap<String, Vec<(Value, DecodedKey)>>,
}

impl KeyCache {
    /// An empty cache for roots of `dialect`.
    pub(crate) fn new(dialect: Dialect) -> Self {
        KeyCache {
            dialect,
            by_public: HashMap::new(),
        }
    }

    fn decode(&mut self, obj: &Value) -> DecodedKey {
        let Some(public) = obj
            .get("keyval")
            .and_then(|k| k.get("public"))
            .and_then(Value::as_str)
        else {
            // Malformed; decoding says why, and there is nothing to share.
            return PublicKey::from_key_object(obj, self.dialect);
        };
        if let Some((_, key)) = self
            .by_public
            .get(public)
            .and_then(|seen| seen.iter().find(|(o, _)| o == obj))
        {
            return key.clone();
        }
        let key = PublicKey::from_key_object(obj, self.dialect);
        self.by_public
            .entry(public.to_owned())
            .or_default()
            .push((obj.clone(), key.clone()));
        key
    }
}

impl RootMetadata {
    /// Parses a root file. `dialect` is the one the caller was told; `None`
    /// detects it from the file's shape (see [`Dialect::detect`]).
    pub fn from_slice(bytes: &[u8], dialect: Option<Dialect>) -> Result<Self, RootError> {
        Self::from_vec(bytes.to_vec(), dialect)
    }

    /// [`RootMetadata::from_slice`], keeping `bytes` as the exact bytes
    /// instead of a copy of them.
    pub fn from_vec(bytes: Vec<u8>, dialect: Option<Dialect>) -> Result<Self, RootError> {
        let envelope = strict_json::from_slice(&bytes)?;
        let dialect = match dialect {
            Some(d) => d,
            None => Dialect::detect(&envelope).ok_or(RootError::UnknownDialect)?,
        };
        if bytes.len() > dialect.max_root_size() {
            return Err(RootError::TooLarge {
                size: bytes.len(),
                max: dialect.max_root_size(),
                dialect,
            });
        }
        let root = Self::from_value(envelope, dialect)?;
        Ok(RootMetadata {
            original: Some(bytes),
            ..root
        })
    }

    /// Wraps an already parsed envelope (for instance one carried inside a
    /// proposal) after checking its shape.
    pub fn from_value(envelope: Value, dialect: Dialect) -> Result<Self, RootError> {
        let obj = envelope
            .as_object()
            .ok_or_else(|| RootError::Shape("the file is not a JSON object".into()))?;
        let signed = obj
            .get("signed")
            .and_then(Value::as_object)
            .ok_or_else(|| RootError::Shape("no \"signed\" object".into()))?;
        if !obj.get("signatures").is_some_and(Value::is_array) {
            return Err(RootError::Shape("no \"signatures\" list".into()));
        }
        let ty = signed
            .get("_type")
            .and_then(Value::as_str)
            .ok_or_else(|| RootError::Shape("signed._type is missing".into()))?;
        let is_root = match dialect {
            // ota-tuf and aktualizr compare case-insensitively.
            Dialect::OtaTuf => ty.eq_ignore_ascii_case("root"),
            Dialect::Tuf => ty == "root",
        };
        if !is_root {
            return Err(RootError::Shape(format!(
                "signed._type is {ty:?}, not a {dialect} root (expected {:?})",
                match dialect {
                    Dialect::OtaTuf => "Root",
                    Dialect::Tuf => "root",
                }
            )));
        }
        Ok(RootMetadata {
            envelope,
            dialect,
            original: None,
            parsed_keys: OnceLock::new(),
        })
    }

    /// The dialect this root is read and written in.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The whole envelope, for callers that carry it inside another file.
    pub fn envelope(&self) -> &Value {
        &self.envelope
    }

    /// The `signed` object.
    pub fn signed(&self) -> &Map<String, Value> {
        // Checked by `from_value`; every edit keeps it an object.
        self.envelope["signed"]
            .as_object()
            .expect("signed is an object")
    }

    fn signed_mut(&mut self) -> &mut Map<String, Value> {
        self.original = None;
        self.parsed_keys = OnceLock::new();
        self.envelope["signed"]
            .as_object_mut()
            .expect("signed is an object")
    }

    /// The bytes to write or upload: the original bytes while the root is
    /// unedited (so a published root is reproduced exactly), otherwise the
    /// envelope pretty-printed with its field order kept.
    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.original {
            Some(bytes) => bytes.clone(),
            None => {
                let mut out = serde_json::to_vec_pretty(&self.envelope)
                    .expect("a JSON value always serialises");
                out.push(b'\n');
                out
            }
        }
    }

    /// The length of [`RootMetadata::to_bytes`], without copying the bytes
    /// of a root read from a file.
    pub fn byte_len(&self) -> usize {
        match &self.original {
            Some(bytes) => bytes.len(),
            None => self.to_bytes().len(),
        }
    }

    /// The canonical bytes of `signed`: what every signature covers.
    pub fn canonical_signed(&self) -> Result<Vec<u8>, CanonicalError> {
        to_canonical_bytes(&self.envelope["signed"], self.dialect)
    }

    /// `signed.version`.
    pub fn version(&self) -> Result<u64, RootError> {
        let v = self
            .signed()
            .get("version")
            .ok_or_else(|| field("version", "missing"))?;
        match v.as_u64() {
            Some(n) if n >= 1 => Ok(n),
            _ => Err(field("version", format!("{v} is not a whole number ≥ 1"))),
        }
    }

    /// `signed.expires`, which must have exactly the form
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn expires(&self) -> Result<OffsetDateTime, RootError> {
        let s = self
            .signed()
            .get("expires")
            .and_then(Value::as_str)
            .ok_or_else(|| field("expires", "missing or not a string"))?;
        parse_expires(s).map_err(|problem| field("expires", problem.to_string()))
    }

    /// `signed.expires` as written.
    pub fn expires_str(&self) -> Option<&str> {
        self.signed().get("expires").and_then(Value::as_str)
    }

    /// One role's key ids and threshold.
    pub fn role(&self, name: &str) -> Result<RoleKeys, RootError> {
        let path = format!("roles.{name}");
        let role = self
            .signed()
            .get("roles")
            .and_then(Value::as_object)
            .ok_or_else(|| field("roles", "missing or not an object"))?
            .get(name)
            .and_then(Value::as_object)
            .ok_or_else(|| field(&path, "missing"))?;
        let keyids = role
            .get("keyids")
            .and_then(Value::as_array)
            .ok_or_else(|| field(&format!("{path}.keyids"), "missing or not a list"))?
            .iter()
            .map(|k| {
                k.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| field(&format!("{path}.keyids"), "holds a non-string"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let threshold = role
            .get("threshold")
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                field(
                    &format!("{path}.threshold"),
                    "missing or not a whole number",
                )
            })?;
        Ok(RoleKeys { keyids, threshold })
    }

    /// The names of every role listed in `roles`, in file order.
    pub fn role_names(&self) -> Vec<String> {
        self.signed()
            .get("roles")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The raw key objects of `signed.keys`, by key id.
    pub fn key_objects(&self) -> Result<&Map<String, Value>, RootError> {
        self.signed()
            .get("keys")
            .and_then(Value::as_object)
            .ok_or_else(|| field("keys", "missing or not an object"))
    }

    fn parsed_keys(&self) -> &HashMap<String, Result<PublicKey, KeyError>> {
        self.parsed_keys.get_or_init(|| match self.key_objects() {
            Ok(objs) => objs
                .iter()
                .map(|(id, obj)| (id.clone(), PublicKey::from_key_object(obj, self.dialect)))
                .collect(),
            Err(_) => HashMap::new(),
        })
    }

    /// Decodes this root's keys through `cache`: a key object equal to one
    /// already decoded (in any root the cache has seen, under any id) takes
    /// that decoded key, at the cost of a reference count; others are
    /// decoded and added. Decoding depends on the key object and the dialect
    /// alone, so the result is exactly what decoding again would give. Does
    /// nothing once this root's keys are decoded, or when the cache is for
    /// another dialect.
    pub(crate) fn decode_keys_with(&self, cache: &mut KeyCache) {
        if self.dialect != cache.dialect || self.parsed_keys.get().is_some() {
            return;
        }
        self.parsed_keys.get_or_init(|| match self.key_objects() {
            Ok(objs) => objs
                .iter()
                .map(|(id, obj)| (id.clone(), cache.decode(obj)))
                .collect(),
            Err(_) => HashMap::new(),
        });
    }

    /// The key listed under `keyid`, parsed.
    pub fn key(&self, keyid: &str) -> Result<PublicKey, RootError> {
        self.key_objects()?;
        match self.parsed_keys().get(keyid) {
            Some(Ok(key)) => Ok(key.clone()),
            Some(Err(e)) => Err(RootError::Key {
                keyid: keyid.to_string(),
                source: e.clone(),
            }),
            None => Err(field(&format!("keys.{keyid}"), "no such key")),
        }
    }

    /// The root role's keys that parse, by key id.
    pub fn root_keys(&self) -> Result<BTreeMap<String, PublicKey>, RootError> {
        let role = self.role("root")?;
        role.keyids
            .iter()
            .map(|id| Ok((id.clone(), self.key(id)?)))
            .collect()
    }

    /// The key id under which this root lists `key`. Keys are matched by the
    /// key itself, never by a recomputed id: older fioctl releases used
    /// another id scheme.
    pub fn find_key_id(&self, key: &PublicKey) -> Option<String> {
        // Walk in file order so the answer does not depend on hashing.
        let objs = self.key_objects().ok()?;
        let parsed = self.parsed_keys();
        objs.keys()
            .find(|id| matches!(parsed.get(*id), Some(Ok(k)) if k == key))
            .cloned()
    }

    /// The entries of `signatures`, decoded per dialect.
    pub fn signatures(&self) -> Result<Vec<SignatureEntry>, RootError> {
        let list = self.envelope["signatures"]
            .as_array()
            .ok_or_else(|| RootError::Shape("no \"signatures\" list".into()))?;
        list.iter()
            .enumerate()
            .map(|(i, s)| {
                let keyid = s
                    .get("keyid")
                    .and_then(Value::as_str)
                    .ok_or_else(|| RootError::Shape(format!("signatures[{i}] has no keyid")))?
                    .to_string();
                let raw = s
                    .get("sig")
                    .and_then(Value::as_str)
                    .ok_or_else(|| RootError::Shape(format!("signatures[{i}] has no sig")))?;
                let method = s.get("method").and_then(Value::as_str).map(str::to_owned);
                let sig = match self.dialect {
                    Dialect::OtaTuf => base64::engine::general_purpose::STANDARD
                        .decode(raw)
                        .map_err(SigDecodeError::Base64),
                    Dialect::Tuf => decode_hex_signature(raw),
                };
                Ok(SignatureEntry { keyid, method, sig })
            })
            .collect()
    }

    // ---- Edits: only fields this tool owns. Each drops the original bytes. ----

    /// Sets `signed.version`.
    pub fn set_version(&mut self, version: u64) {
        self.signed_mut()
            .insert("version".into(), Value::from(version));
    }

    /// Sets `signed.expires`, truncated to whole seconds in UTC.
    pub fn set_expires(&mut self, when: OffsetDateTime) {
        let text = format_expires(when);
        self.signed_mut()
            .insert("expires".into(), Value::String(text));
    }

    /// Adds (or replaces) a key object under `keyid`.
    pub fn insert_key(&mut self, keyid: &str, key: &PublicKey) {
        let obj = key.to_key_object(self.dialect);
        let keys = self
            .signed_mut()
            .entry("keys")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(keys) = keys.as_object_mut() {
            keys.insert(keyid.to_string(), obj);
        }
    }

    /// Replaces a role's key ids and threshold, keeping any other field of
    /// the role object.
    pub fn set_role(&mut self, name: &str, role: &RoleKeys) {
        let roles = self
            .signed_mut()
            .entry("roles")
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(roles) = roles.as_object_mut() else {
            return;
        };
        let entry = roles
            .entry(name.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let obj = entry.as_object_mut().expect("just made an object");
        obj.insert(
            "keyids".into(),
            Value::Array(role.keyids.iter().cloned().map(Value::String).collect()),
        );
        obj.insert("threshold".into(), Value::from(role.threshold));
    }

    /// Removes every key that no role refers to, and its `x-key-owners`
    /// entry, as fioctl does before it signs (`removeUnusedTufKeys`): an
    /// owner entry for a key the root no longer lists would name a holder
    /// of nothing. Returns the ids removed.
    pub fn drop_unused_keys(&mut self) -> Vec<String> {
        let used: std::collections::HashSet<String> = self
            .role_names()
            .iter()
            .filter_map(|r| self.role(r).ok())
            .flat_map(|r| r.keyids)
            .collect();
        let unused: Vec<String> = match self.key_objects() {
            Ok(keys) => keys
                .keys()
                .filter(|id| !used.contains(*id))
                .cloned()
                .collect(),
            Err(_) => return Vec::new(),
        };
        if unused.is_empty() {
            return unused;
        }
        if let Some(keys) = self
            .signed_mut()
            .get_mut("keys")
            .and_then(Value::as_object_mut)
        {
            for id in &unused {
                keys.shift_remove(id);
            }
        }
        if let Some(owners) = self
            .signed_mut()
            .get_mut("x-key-owners")
            .and_then(Value::as_object_mut)
        {
            for id in &unused {
                owners.shift_remove(id);
            }
        }
        unused
    }

    /// Sets (or replaces) a field of `signed` that is not one of the fields
    /// the rules read, such as `x-changelog` or `x-ceremony`.
    pub fn set_extension(&mut self, name: &str, value: Value) {
        self.signed_mut().insert(name.to_string(), value);
    }

    /// Removes a field of `signed` that is not one of the fields the rules
    /// read (an `x-key-owners` left empty).
    pub fn remove_extension(&mut self, name: &str) {
        self.signed_mut().shift_remove(name);
    }

    /// Removes every signature: any edit of `signed` invalidates them.
    pub fn clear_signatures(&mut self) {
        self.original = None;
        self.envelope["signatures"] = Value::Array(Vec::new());
    }

    /// Signs the canonical form of `signed` with `key`, listing the
    /// signature under `keyid` (the id the verifying root knows the key by).
    /// A signature already present under that id is replaced.
    pub fn sign(&mut self, keyid: &str, key: &PrivateKey) -> Result<(), RootError> {
        let message = self.canonical_signed()?;
        let sig = key.sign(&message).map_err(|source| RootError::Key {
            keyid: keyid.to_string(),
            source,
        })?;
        let entry = match self.dialect {
            Dialect::OtaTuf => serde_json::json!({
                "keyid": keyid,
                "method": key.method(Dialect::OtaTuf),
                "sig": base64::engine::general_purpose::STANDARD.encode(&sig),
            }),
            Dialect::Tuf => serde_json::json!({ "keyid": keyid, "sig": hex::encode(&sig) }),
        };
        self.add_signature_value(entry);
        Ok(())
    }

    /// Signs the canonical form of `signed` with any [`Signer`] (a key in
    /// memory or on a hardware token), listing the signature under `keyid`.
    ///
    /// Stricter than [`RootMetadata::sign`]: when this root lists `keyid`, it
    /// must list it for the signer's public key; and the signature is
    /// verified in software under that key before it is added
    /// ([`sign_checked`]), so a device that returns a wrong signature is
    /// caught here, not by the repository. A signature already present under
    /// that id is replaced.
    pub fn sign_with(&mut self, keyid: &str, signer: &dyn Signer) -> Result<(), RootError> {
        let public = signer.public_key();
        let key_err = |source| RootError::Key {
            keyid: keyid.to_string(),
            source,
        };
        if let Ok(listed) = self.key(keyid) {
            if listed != public {
                return Err(field(
                    &format!("keys.{keyid}"),
                    format!(
                        "this root lists another key under that id than {} (fingerprint {})",
                        signer.describe(),
                        public.fingerprint()
                    ),
                ));
            }
        }
        let message = self.canonical_signed()?;
        let sig = sign_checked(signer, &message).map_err(key_err)?;
        let entry = match self.dialect {
            Dialect::OtaTuf => serde_json::json!({
                "keyid": keyid,
                "method": signer.method(Dialect::OtaTuf),
                "sig": base64::engine::general_purpose::STANDARD.encode(&sig),
            }),
            Dialect::Tuf => serde_json::json!({ "keyid": keyid, "sig": hex::encode(&sig) }),
        };
        self.add_signature_value(entry);
        Ok(())
    }

    /// Adds a signature object as made elsewhere (a co-signer's bundle),
    /// replacing one under the same key id.
    pub fn add_signature_value(&mut self, entry: Value) {
        self.original = None;
        let keyid = entry.get("keyid").cloned();
        if let Some(list) = self.envelope["signatures"].as_array_mut() {
            list.retain(|s| s.get("keyid") != keyid.as_ref());
            list.push(entry);
        }
    }
}

/// Parses an `expires` value, accepting only `YYYY-MM-DDTHH:MM:SSZ`.
pub fn parse_expires(s: &str) -> Result<OffsetDateTime, ExpiresError> {
    if s.len() != 20 || !s.ends_with('Z') {
        return Err(ExpiresError::Form(s.to_owned()));
    }
    time::PrimitiveDateTime::parse(s, EXPIRES_FORMAT)
        .map(|t| t.assume_utc())
        .map_err(|source| ExpiresError::Invalid {
            given: s.to_owned(),
            source,
        })
}

/// Formats a moment as `YYYY-MM-DDTHH:MM:SSZ`, in UTC, whole seconds.
pub fn format_expires(when: OffsetDateTime) -> String {
    let utc = when.to_offset(time::UtcOffset::UTC);
    utc.replace_nanosecond(0)
        .unwrap_or(utc)
        .format(EXPIRES_FORMAT)
        .unwrap_or_else(|_| "0000-00-00T00:00:00Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reused keys are exactly the keys a fresh decoding gives: a key object
    /// changed under the same id is decoded anew, never taken over.
    #[test]
    fn shared_keys_equal_freshly_decoded_ones() {
        use crate::keys::{NewKeyType, PrivateKey};
        let key = || {
            PrivateKey::generate(NewKeyType::Ed25519)
                .unwrap()
                .public_key()
                .to_key_object(Dialect::Tuf)
        };
        let (k1, k2, k3) = (key(), key(), key());
        let bad = serde_json::json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": "00"}});
        let root = |keys: Value| {
            RootMetadata::from_value(
                serde_json::json!({"signed": {"_type": "root", "version": 1,
                    "expires": "2030-01-01T00:00:00Z", "keys": keys, "roles": {}}, "signatures": []}),
                Dialect::Tuf,
            )
            .unwrap()
        };
        let before = root(serde_json::json!({"a": k1, "b": k2, "c": bad}));
        let keys = serde_json::json!({"a": k1, "b": k3, "c": bad, "d": k2});
        let reusing = root(keys.clone());
        let mut cache = KeyCache::new(Dialect::Tuf);
        before.decode_keys_with(&mut cache);
        reusing.decode_keys_with(&mut cache);
        let fresh = root(keys);
        for id in ["a", "b", "c", "d"] {
            match (reusing.key(id), fresh.key(id)) {
                (Ok(r), Ok(f)) => {
                    assert_eq!(r, f, "{id}");
                    assert_eq!(r.to_key_object(Dialect::Tuf), f.to_key_object(Dialect::Tuf));
                }
                (Err(r), Err(f)) => assert_eq!(r.to_string(), f.to_string(), "{id}"),
                (r, f) => panic!("{id}: reused {r:?}, fresh {f:?}"),
            }
        }
        assert_eq!(reusing.key("b").unwrap().to_key_object(Dialect::Tuf), k3);
        assert!(reusing.key("c").is_err());
    }

    proptest::proptest! {
        /// The fast hex decoder accepts exactly what `hex` accepts, with the
        /// same bytes, and errors are `hex`'s own.
        #[test]
        fn signature_hex_decodes_as_hex_does(s in "[0-9a-fA-F]{0,64}|[0-9a-fA-FgG \n+/=\u{e9}-]{0,64}") {
            let ours = decode_hex_signature(&s);
            let theirs = hex::decode(&s).map_err(SigDecodeError::Hex);
            proptest::prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn expires_form_is_strict() {
        assert!(parse_expires("2030-01-02T03:04:05Z").is_ok());
        for bad in [
            "2030-01-02T03:04:05.5Z",
            "2030-01-02T03:04:05+00:00",
            "2030-01-02 03:04:05Z",
            "2030-13-02T03:04:05Z",
            "30-01-02T03:04:05Z",
        ] {
            assert!(parse_expires(bad).is_err(), "{bad}");
        }
        let t = parse_expires("2030-01-02T03:04:05Z").unwrap();
        assert_eq!(format_expires(t), "2030-01-02T03:04:05Z");
    }

    #[test]
    fn unknown_fields_and_order_survive_an_edit() {
        let text = br#"{"signed":{"_type":"Root","zeta":{"b":1,"a":2},"version":1,"expires":"2030-01-01T00:00:00Z","keys":{},"roles":{},"x-changelog":{"message":"m"}},"signatures":[],"targets-signatures":{}}"#;
        let mut root = RootMetadata::from_slice(text, Some(Dialect::OtaTuf)).unwrap();
        assert_eq!(root.to_bytes(), text.to_vec());
        root.set_version(2);
        let out: Value = serde_json::from_slice(&root.to_bytes()).unwrap();
        let keys: Vec<&String> = out["signed"].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "_type",
                "zeta",
                "version",
                "expires",
                "keys",
                "roles",
                "x-changelog"
            ]
        );
        assert_eq!(out["signed"]["zeta"], serde_json::json!({"b":1,"a":2}));
        assert_eq!(out["signed"]["version"], 2);
        assert!(out.get("targets-signatures").is_some());
    }

    #[test]
    fn refuses_what_is_not_a_root() {
        for (text, d) in [
            (&br#"[]"#[..], Dialect::Tuf),
            (
                br#"{"signed":{"_type":"targets"},"signatures":[]}"#,
                Dialect::Tuf,
            ),
            (
                br#"{"signed":{"_type":"Root"},"signatures":[]}"#,
                Dialect::Tuf,
            ),
            (br#"{"signed":{"_type":"root"}}"#, Dialect::Tuf),
            (
                br#"{"signed":{"_type":"root"},"signatures":[],"signatures":[]}"#,
                Dialect::Tuf,
            ),
        ] {
            assert!(RootMetadata::from_slice(text, Some(d)).is_err());
        }
        assert!(matches!(
            RootMetadata::from_slice(b"{}", None),
            Err(RootError::UnknownDialect)
        ));
    }

    #[test]
    fn size_limit_per_dialect() {
        let pad = "x".repeat(70 * 1024);
        let text = format!(r#"{{"signed":{{"_type":"Root","pad":"{pad}"}},"signatures":[]}}"#);
        assert!(matches!(
            RootMetadata::from_slice(text.as_bytes(), Some(Dialect::OtaTuf)),
            Err(RootError::TooLarge { .. })
        ));
    }

    #[test]
    fn sign_with_matches_sign_and_checks_the_listed_key() {
        use crate::keys::{NewKeyType, PrivateKey};
        for dialect in [Dialect::OtaTuf, Dialect::Tuf] {
            let key = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
            let other = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
            let ty = if dialect == Dialect::OtaTuf {
                "Root"
            } else {
                "root"
            };
            let text = format!(
                r#"{{"signed":{{"_type":"{ty}","version":1,"expires":"2030-01-01T00:00:00Z","keys":{{}},"roles":{{}}}},"signatures":[]}}"#
            );
            let mut a = RootMetadata::from_slice(text.as_bytes(), Some(dialect)).unwrap();
            let id = key.public_key().key_id(dialect);
            a.insert_key(&id, &key.public_key());
            let mut b = a.clone();
            a.sign(&id, &key).unwrap();
            b.sign_with(&id, &key).unwrap();
            let (sa, sb) = (a.signatures().unwrap(), b.signatures().unwrap());
            assert_eq!(sa.len(), 1);
            assert_eq!(sb.len(), 1);
            assert_eq!(sa[0].keyid, sb[0].keyid);
            assert_eq!(sa[0].method, sb[0].method);
            // Another key under that id is refused before anything is signed.
            let err = b.sign_with(&id, &other).unwrap_err().to_string();
            assert!(err.contains("another key"), "{err}");
            assert_eq!(b.signatures().unwrap().len(), 1);
        }
    }
}
