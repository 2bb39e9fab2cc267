//! fioctl's view of a root: the Go structs `AtsTufRoot` / `AtsRootMeta`
//! (client/foundries_tuf_root.go) over notary's `SignedCommon`, `RootRole`
//! and `Signature`, decoded and re-encoded as Go's `encoding/json` does.
//!
//! fioctl never signs the bytes it was given: it decodes a root into these
//! structs, edits them, and signs `canonical.MarshalCanonical(root.Signed)`
//! (fioctl's go.mod replaces docker/go with github.com/foundriesio/go:
//! sorted member names, and in strings `"`, `\`, `\n`, `\r` and `\t`
//! escaped, every other byte as it is). Whatever the
//! structs do not know is dropped on the way (unknown members, extra key
//! fields), `time.Time` is re-written as RFC 3339 with trailing fraction
//! zeros trimmed and `Z` for UTC, nil maps become `null`, and omitempty
//! members vanish when empty. A root that does not survive this trip gets
//! fioctl signatures over other bytes than the ones it has, so
//! [`round_trips`] says whether it survives.
//!
//! The decoding is written by hand rather than derived with serde because
//! Go's rules differ from serde's where it matters here: member names match
//! case-insensitively, `null` leaves a field as it was, and a type mismatch
//! is an error.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Go's `time.Time`: `None` is the zero time (`0001-01-01T00:00:00Z`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GoTime(pub Option<OffsetDateTime>);

impl GoTime {
    /// `MarshalJSON`: RFC3339Nano (fraction without trailing zeros, `Z`
    /// for a zero offset).
    pub fn to_text(&self) -> String {
        let Some(t) = self.0 else {
            return "0001-01-01T00:00:00Z".into();
        };
        let mut s = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        let nanos = t.nanosecond();
        if nanos != 0 {
            let frac = format!("{nanos:09}");
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        let off = t.offset().whole_seconds();
        if off == 0 {
            s.push('Z');
        } else {
            let sign = if off < 0 { '-' } else { '+' };
            let a = off.unsigned_abs();
            s.push_str(&format!("{sign}{:02}:{:02}", a / 3600, (a / 60) % 60));
        }
        s
    }

    /// `UnmarshalJSON` of a JSON string: RFC 3339 (with `T`, any offset).
    pub fn parse(s: &str) -> Result<GoTime, String> {
        // Go's parser is strict about the `T` and upper-case `Z`.
        if s.as_bytes().get(10) != Some(&b'T') || s.ends_with('z') {
            return Err(format!("parsing time {s:?} as RFC 3339"));
        }
        OffsetDateTime::parse(s, &Rfc3339)
            .map(|t| GoTime(Some(t)))
            .map_err(|e| format!("parsing time {s:?}: {e}"))
    }
}

/// `AtsKey` (`keytype`, `keyval.public` and `keyval.private`, both omitempty).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AtsKey {
    pub key_type: String,
    pub public: String,
    pub private: String,
}

/// notary's `RootRole`: `keyids` (nil → `null`), `threshold`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RootRole {
    pub key_ids: Option<Vec<String>>,
    pub threshold: i64,
}

/// `RootChangeReason` (`x-changelog`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ChangeReason {
    pub polis_id: String,
    pub message: String,
    pub timestamp: GoTime,
}

/// `RootKeyOwner` (an `x-key-owners` entry).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct KeyOwner {
    pub polis_id: String,
    pub created_at: GoTime,
}

/// `AtsRootMeta` with the embedded `SignedCommon`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RootMeta {
    pub type_: String,
    pub expires: GoTime,
    pub version: i64,
    pub consistent: bool,
    pub keys: Option<BTreeMap<String, AtsKey>>,
    /// `map[RoleName]*RootRole`: a `null` role is a nil pointer.
    pub roles: Option<BTreeMap<String, Option<RootRole>>>,
    pub reason: Option<ChangeReason>,
    pub key_owners: Option<BTreeMap<String, KeyOwner>>,
}

/// notary's `Signature` (`sig` is a `[]byte`, so base64 in JSON).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Signature {
    pub key_id: String,
    pub method: String,
    pub sig: Option<Vec<u8>>,
}

/// `AtsTufRoot`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TufRoot {
    pub targets_signatures: Option<BTreeMap<String, Option<Vec<Signature>>>>,
    pub signatures: Option<Vec<Signature>>,
    pub signed: RootMeta,
}

// ------------------------------------------------------------ decoding ----

type R<T> = Result<T, String>;

fn type_error(what: &str, v: &Value) -> String {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    format!("json: cannot unmarshal {kind} into Go value of type {what}")
}

/// Walks an object's members in document order as Go does: each member
/// goes to the field whose name matches exactly or, failing that, without
/// regard to ASCII case; the others are dropped. `null` leaves a field alone.
fn members<'a>(
    v: &'a Value,
    what: &str,
    fields: &[&str],
    mut each: impl FnMut(&str, &'a Value) -> R<()>,
) -> R<()> {
    let m = match v {
        Value::Object(m) => m,
        Value::Null => return Ok(()),
        other => return Err(type_error(what, other)),
    };
    for (k, val) in m {
        let field = fields
            .iter()
            .find(|f| **f == k.as_str())
            .or_else(|| fields.iter().find(|f| f.eq_ignore_ascii_case(k)));
        if let Some(f) = field {
            if !val.is_null() {
                each(f, val)?;
            }
        }
    }
    Ok(())
}

fn string(v: &Value) -> R<String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| type_error("string", v))
}

fn int(v: &Value) -> R<i64> {
    v.as_i64().ok_or_else(|| type_error("int", v))
}

fn boolean(v: &Value) -> R<bool> {
    v.as_bool().ok_or_else(|| type_error("bool", v))
}

fn time(v: &Value) -> R<GoTime> {
    GoTime::parse(v.as_str().ok_or_else(|| type_error("time.Time", v))?)
}

/// A `map[string]T` (`null` is a nil map).
fn map<T>(v: &Value, what: &str, each: impl Fn(&Value) -> R<T>) -> R<Option<BTreeMap<String, T>>> {
    match v {
        Value::Null => Ok(None),
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| Ok((k.clone(), each(x)?)))
            .collect::<R<_>>()
            .map(Some),
        other => Err(type_error(what, other)),
    }
}

/// A `[]T` (`null` is a nil slice).
fn list<T>(v: &Value, what: &str, each: impl Fn(&Value) -> R<T>) -> R<Option<Vec<T>>> {
    match v {
        Value::Null => Ok(None),
        Value::Array(a) => a.iter().map(each).collect::<R<_>>().map(Some),
        other => Err(type_error(what, other)),
    }
}

impl AtsKey {
    pub fn decode(v: &Value) -> R<AtsKey> {
        let mut k = AtsKey::default();
        members(v, "client.AtsKey", &["keytype", "keyval"], |f, x| {
            match f {
                "keytype" => k.key_type = string(x)?,
                _ => members(x, "client.AtsKeyVal", &["public", "private"], |g, y| {
                    match g {
                        "public" => k.public = string(y)?,
                        _ => k.private = string(y)?,
                    }
                    Ok(())
                })?,
            }
            Ok(())
        })?;
        Ok(k)
    }

    pub fn encode(&self) -> Value {
        let mut val = Map::new();
        if !self.public.is_empty() {
            val.insert("public".into(), Value::String(self.public.clone()));
        }
        if !self.private.is_empty() {
            val.insert("private".into(), Value::String(self.private.clone()));
        }
        let mut m = Map::new();
        m.insert("keytype".into(), Value::String(self.key_type.clone()));
        m.insert("keyval".into(), Value::Object(val));
        Value::Object(m)
    }
}

impl Signature {
    pub fn decode(v: &Value) -> R<Signature> {
        let mut s = Signature::default();
        members(v, "data.Signature", &["keyid", "method", "sig"], |f, x| {
            match f {
                "keyid" => s.key_id = string(x)?,
                "method" => s.method = string(x)?,
                _ => {
                    let text = string(x)?;
                    s.sig = Some(
                        base64::engine::general_purpose::STANDARD
                            .decode(text.as_bytes())
                            .map_err(|e| format!("illegal base64 data in sig: {e}"))?,
                    )
                }
            }
            Ok(())
        })?;
        Ok(s)
    }

    pub fn encode(&self) -> Value {
        let mut m = Map::new();
        m.insert("keyid".into(), Value::String(self.key_id.clone()));
        m.insert("method".into(), Value::String(self.method.clone()));
        m.insert(
            "sig".into(),
            match &self.sig {
                Some(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
                None => Value::Null,
            },
        );
        Value::Object(m)
    }
}

fn decode_signatures(v: &Value) -> R<Option<Vec<Signature>>> {
    list(v, "[]data.Signature", Signature::decode)
}

fn encode_signatures(s: &Option<Vec<Signature>>) -> Value {
    match s {
        None => Value::Null,
        Some(list) => Value::Array(list.iter().map(Signature::encode).collect()),
    }
}

impl RootMeta {
    pub fn decode(v: &Value) -> R<RootMeta> {
        let mut r = RootMeta::default();
        let fields = [
            "_type",
            "expires",
            "version",
            "consistent_snapshot",
            "keys",
            "roles",
            "x-changelog",
            "x-key-owners",
        ];
        members(v, "client.AtsRootMeta", &fields, |f, x| {
            match f {
                "_type" => r.type_ = string(x)?,
                "expires" => r.expires = time(x)?,
                "version" => r.version = int(x)?,
                "consistent_snapshot" => r.consistent = boolean(x)?,
                "keys" => r.keys = map(x, "map[string]client.AtsKey", AtsKey::decode)?,
                "roles" => {
                    r.roles = map(x, "map[data.RoleName]*data.RootRole", |role| {
                        if role.is_null() {
                            return Ok(None);
                        }
                        let mut rr = RootRole::default();
                        members(role, "data.RootRole", &["keyids", "threshold"], |g, y| {
                            match g {
                                "keyids" => rr.key_ids = list(y, "[]string", string)?,
                                _ => rr.threshold = int(y)?,
                            }
                            Ok(())
                        })?;
                        Ok(Some(rr))
                    })?
                }
                "x-changelog" => {
                    let mut c = r.reason.take().unwrap_or_default();
                    members(
                        x,
                        "client.RootChangeReason",
                        &["polis-id", "message", "timestamp"],
                        |g, y| {
                            match g {
                                "polis-id" => c.polis_id = string(y)?,
                                "message" => c.message = string(y)?,
                                _ => c.timestamp = time(y)?,
                            }
                            Ok(())
                        },
                    )?;
                    r.reason = Some(c);
                }
                _ => {
                    r.key_owners = map(x, "map[string]client.RootKeyOwner", |o| {
                        let mut k = KeyOwner::default();
                        members(
                            o,
                            "client.RootKeyOwner",
                            &["polis-id", "created-at"],
                            |g, y| {
                                match g {
                                    "polis-id" => k.polis_id = string(y)?,
                                    _ => k.created_at = time(y)?,
                                }
                                Ok(())
                            },
                        )?;
                        Ok(k)
                    })?
                }
            }
            Ok(())
        })?;
        Ok(r)
    }

    /// `json.Marshal` of the struct, as a JSON value (member order does not
    /// matter: fioctl signs the canonical form, which sorts them).
    pub fn encode(&self) -> Value {
        let mut m = Map::new();
        m.insert("_type".into(), Value::String(self.type_.clone()));
        m.insert("expires".into(), Value::String(self.expires.to_text()));
        m.insert("version".into(), Value::from(self.version));
        m.insert("consistent_snapshot".into(), Value::Bool(self.consistent));
        m.insert(
            "keys".into(),
            match &self.keys {
                None => Value::Null,
                Some(k) => {
                    Value::Object(k.iter().map(|(id, k)| (id.clone(), k.encode())).collect())
                }
            },
        );
        m.insert(
            "roles".into(),
            match &self.roles {
                None => Value::Null,
                Some(r) => Value::Object(
                    r.iter()
                        .map(|(name, role)| {
                            let v = match role {
                                None => Value::Null,
                                Some(role) => {
                                    let mut o = Map::new();
                                    o.insert(
                                        "keyids".into(),
                                        match &role.key_ids {
                                            None => Value::Null,
                                            Some(ids) => Value::from(ids.clone()),
                                        },
                                    );
                                    o.insert("threshold".into(), Value::from(role.threshold));
                                    Value::Object(o)
                                }
                            };
                            (name.clone(), v)
                        })
                        .collect(),
                ),
            },
        );
        if let Some(c) = &self.reason {
            let mut o = Map::new();
            o.insert("polis-id".into(), Value::String(c.polis_id.clone()));
            o.insert("message".into(), Value::String(c.message.clone()));
            o.insert("timestamp".into(), Value::String(c.timestamp.to_text()));
            m.insert("x-changelog".into(), Value::Object(o));
        }
        if let Some(owners) = self.key_owners.as_ref().filter(|o| !o.is_empty()) {
            let o: Map<String, Value> = owners
                .iter()
                .map(|(id, k)| {
                    let mut e = Map::new();
                    e.insert("polis-id".into(), Value::String(k.polis_id.clone()));
                    e.insert("created-at".into(), Value::String(k.created_at.to_text()));
                    (id.clone(), Value::Object(e))
                })
                .collect();
            m.insert("x-key-owners".into(), Value::Object(o));
        }
        Value::Object(m)
    }

    /// The key ids of a role (none when the role or its list is missing).
    pub fn role_ids(&self, role: &str) -> Vec<String> {
        self.roles
            .as_ref()
            .and_then(|r| r.get(role))
            .and_then(|r| r.as_ref())
            .and_then(|r| r.key_ids.clone())
            .unwrap_or_default()
    }

    /// A role, as fioctl dereferences it (`Roles["root"].KeyIDs`): a
    /// missing role is a nil pointer, which panics in Go.
    pub fn role_mut(&mut self, role: &str) -> R<&mut RootRole> {
        self.roles
            .as_mut()
            .and_then(|r| r.get_mut(role))
            .and_then(|r| r.as_mut())
            .ok_or_else(|| {
                format!("panic: runtime error: invalid memory address or nil pointer dereference (roles.{role})")
            })
    }
}

impl TufRoot {
    /// `json.Unmarshal` into an `AtsTufRoot`.
    pub fn decode(v: &Value) -> R<TufRoot> {
        let mut r = TufRoot::default();
        members(
            v,
            "client.AtsTufRoot",
            &["targets-signatures", "signatures", "signed"],
            |f, x| {
                match f {
                    "targets-signatures" => {
                        r.targets_signatures =
                            map(x, "map[string][]data.Signature", decode_signatures)?
                    }
                    "signatures" => r.signatures = decode_signatures(x)?,
                    _ => r.signed = RootMeta::decode(x)?,
                }
                Ok(())
            },
        )?;
        Ok(r)
    }

    pub fn from_slice(bytes: &[u8]) -> R<TufRoot> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        TufRoot::decode(&v)
    }

    /// `json.Marshal` of the struct.
    pub fn encode(&self) -> Value {
        let mut m = Map::new();
        if let Some(t) = self.targets_signatures.as_ref().filter(|t| !t.is_empty()) {
            m.insert(
                "targets-signatures".into(),
                Value::Object(
                    t.iter()
                        .map(|(k, s)| (k.clone(), encode_signatures(s)))
                        .collect(),
                ),
            );
        }
        m.insert("signatures".into(), encode_signatures(&self.signatures));
        m.insert("signed".into(), self.signed.encode());
        Value::Object(m)
    }

    /// The bytes fioctl signs: `canonical.MarshalCanonical(root.Signed)`.
    pub fn signed_bytes(&self) -> Vec<u8> {
        canonical(&self.signed.encode())
    }
}

/// `MarshalCanonical` of a decoded value as fioctl builds it (with
/// foundriesio/go, commit a487d04 "Fix canonical marshal of special
/// characters"): members sorted by name (bytewise), no spaces; in strings
/// `"` and `\` escaped, `\n`, `\r` and `\t` written as those escapes (so
/// that PEM keys sign as ota-tuf and aktualizr read them), every other byte
/// as it is (other control characters and non-ASCII raw, where aktualizr
/// escapes them).
pub fn canonical(v: &Value) -> Vec<u8> {
    fn s(out: &mut Vec<u8>, t: &str) {
        out.push(b'"');
        for b in t.bytes() {
            match b {
                b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                _ => out.push(b),
            }
        }
        out.push(b'"');
    }
    fn w(out: &mut Vec<u8>, v: &Value) {
        match v {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
            Value::String(t) => s(out, t),
            Value::Array(a) => {
                out.push(b'[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    w(out, x);
                }
                out.push(b']');
            }
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push(b'{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    s(out, k);
                    out.push(b':');
                    w(out, &m[*k]);
                }
                out.push(b'}');
            }
        }
    }
    let mut out = Vec::new();
    w(&mut out, v);
    out
}

/// Whether a root envelope survives fioctl's model: decoding it into
/// `AtsTufRoot` and encoding it again gives back the same `signed` value,
/// so the bytes fioctl signs are the ones the root holds. `Err` says what
/// changed (or why Go could not decode it).
pub fn round_trips(root: &Value) -> Result<(), String> {
    let decoded = TufRoot::decode(root)?;
    let again = decoded.signed.encode();
    let original = &root["signed"];
    if canonical(&again) == canonical(original) {
        return Ok(());
    }
    Err(differences("signed", original, &again).join("; "))
}

/// Where two JSON values differ, as `path: before -> after` lines.
fn differences(path: &str, a: &Value, b: &Value) -> Vec<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut out = Vec::new();
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) => out.extend(differences(&format!("{path}.{k}"), va, vb)),
                    None => out.push(format!("{path}.{k}: dropped")),
                }
            }
            for k in y.keys().filter(|k| !x.contains_key(*k)) {
                out.push(format!("{path}.{k}: added as {}", y[k]));
            }
            out
        }
        _ if a == b => Vec::new(),
        _ => vec![format!("{path}: {a} -> {b}")],
    }
}
