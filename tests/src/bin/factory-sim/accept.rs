//! What the simulated server accepts as the next root of a chain, written
//! from the ota-tuf and aktualizr rules and apart from the `ceremony` crate:
//! a test double that shared the code under test could not find its bugs.
//!
//! A new root is the current one's successor when: it is an object with
//! `signed` and `signatures`; `signed._type` is `Root`; its version is the
//! current one plus 1; `expires` has the form `YYYY-MM-DDTHH:MM:SSZ` (and,
//! at apply, lies ahead); the four top-level roles name key ids of `keys`
//! with a threshold of at least 1 (a threshold above the key count is
//! accepted, as aktualizr and python-tuf accept it: fioctl stages production
//! roots with targets threshold 2 over one key); no key id signs twice;
//! every signature by a key either root lists verifies over the canonical
//! form (aktualizr's, from `ceremony_tests::ota`); and the current root's
//! root threshold and the new root's own are met by valid signatures.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use rsa::pkcs8::DecodePublicKey as _;
use rsa::signature::Verifier as _;
use serde_json::Value;

const ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

/// A broken rule: a short stable kind and what broke it.
pub struct Failure {
    pub kind: &'static str,
    pub message: String,
}

impl Failure {
    /// Whether holders can still fix it by adding signatures (so a PUT is
    /// stored, but apply is refused).
    pub fn is_threshold(&self) -> bool {
        matches!(self.kind, "old-threshold" | "new-threshold")
    }
}

fn fail(kind: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        kind,
        message: message.into(),
    }
}

/// Whether `s` has the one expiry form ota-tuf writes and reads.
pub fn is_expiry_form(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// `now` in the expiry form (which then orders as text).
pub fn expiry_text(now: time::OffsetDateTime) -> String {
    let now = now.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Whether `sig` (raw bytes) is a valid signature by the key object `key`
/// over `message`: Ed25519 with a hex public key, or RSASSA-PSS-SHA256 with
/// a PEM public key, the two key types ota-tuf issues.
pub(crate) fn verifies(
    key: &Value,
    method: &str,
    message: &[u8],
    sig: &[u8],
) -> Result<(), String> {
    let public = key["keyval"]["public"]
        .as_str()
        .ok_or("the key has no public value")?;
    match (key["keytype"].as_str(), method) {
        (Some("ED25519"), "ed25519") => {
            let raw: [u8; 32] = hex::decode(public)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or("not a 32-byte hex Ed25519 key")?;
            let vk = ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|e| e.to_string())?;
            let sig: [u8; 64] = sig.try_into().map_err(|_| "not a 64-byte signature")?;
            vk.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&sig))
                .map_err(|_| "does not verify".to_string())
        }
        (Some("RSA"), "rsassa-pss-sha256" | "rsassa-pss") => {
            let pk = rsa::PublicKey::from_public_key_pem(public).map_err(|e| e.to_string())?;
            let vk = rsa::pss::VerifyingKey::<rsa::sha2::Sha256>::new(pk);
            let sig = rsa::pss::Signature::try_from(sig).map_err(|e| e.to_string())?;
            vk.verify(message, &sig)
                .map_err(|_| "does not verify".to_string())
        }
        (t, m) => Err(format!(
            "method {m:?} does not fit key type {}",
            t.unwrap_or("(none)")
        )),
    }
}

/// A role's key ids, as strings (others skipped).
pub(crate) fn key_ids(role: &Value) -> Vec<String> {
    role["keyids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// The failures of `new` as the successor of `current` (both envelopes).
/// `now`: also refuse an expired root (at apply).
pub fn check(current: &Value, new: &Value, now: Option<time::OffsetDateTime>) -> Vec<Failure> {
    let mut out = Vec::new();
    let (Some(signed), Some(sigs)) = (
        new.get("signed").filter(|s| s.is_object()),
        new.get("signatures").and_then(Value::as_array),
    ) else {
        return vec![fail(
            "structure",
            "a root is an object with `signed` (an object) and `signatures` (a list)",
        )];
    };
    if signed["_type"] != "Root" {
        out.push(fail("structure", "signed._type must be \"Root\""));
    }
    let cur = &current["signed"];
    match (cur["version"].as_u64(), signed["version"].as_u64()) {
        (Some(c), Some(n)) if Some(n) == c.checked_add(1) => {}
        (c, n) => out.push(fail(
            "version",
            format!(
                "version {} does not follow the current version {} (it must be exactly one more)",
                n.map_or("(none)".into(), |n| n.to_string()),
                c.map_or("(none)".into(), |c| c.to_string())
            ),
        )),
    }
    match signed["expires"].as_str() {
        Some(e) if is_expiry_form(e) => {
            if let Some(now) = now {
                if e <= expiry_text(now).as_str() {
                    out.push(fail("expired", format!("expires {e}: already past")));
                }
            }
        }
        other => out.push(fail(
            "expires",
            format!(
                "expires {}: the form must be YYYY-MM-DDTHH:MM:SSZ",
                other.map_or("(none)".into(), |e| format!("{e:?}"))
            ),
        )),
    }
    let keys = signed["keys"].as_object();
    if keys.is_none() {
        out.push(fail("structure", "signed.keys must be an object"));
    }
    for (id, k) in keys.into_iter().flatten() {
        if !matches!(k["keytype"].as_str(), Some("ED25519" | "RSA"))
            || !k["keyval"]["public"].is_string()
        {
            out.push(fail(
                "structure",
                format!("key {id}: keytype ED25519 or RSA and keyval.public are required"),
            ));
        }
    }
    for role in ROLES {
        let r = &signed["roles"][role];
        let ids = key_ids(r);
        let all_strings = r["keyids"]
            .as_array()
            .is_some_and(|a| a.len() == ids.len() && !a.is_empty());
        if !all_strings || ids.iter().collect::<BTreeSet<_>>().len() != ids.len() {
            out.push(fail(
                "structure",
                format!("roles.{role}.keyids must be a non-empty list of distinct key ids"),
            ));
        }
        if let Some(missing) = ids
            .iter()
            .find(|id| !keys.is_some_and(|k| k.contains_key(*id)))
        {
            out.push(fail(
                "structure",
                format!("roles.{role} names key {missing}, which signed.keys lacks"),
            ));
        }
        if r["threshold"].as_u64().is_none_or(|t| t < 1) {
            out.push(fail(
                "structure",
                format!("roles.{role}.threshold must be an integer of at least 1"),
            ));
        }
    }

    // Signatures: each key id once; each by a key of either root verifies.
    let message = ceremony_tests::ota::aktualizr_canonical(signed);
    let mut seen = BTreeSet::new();
    let mut valid = BTreeSet::new();
    let lookup: BTreeMap<&str, &Value> = [cur, signed]
        .into_iter()
        .filter_map(|s| s["keys"].as_object())
        .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v)))
        .collect();
    for s in sigs {
        let (Some(id), Some(method), Some(sig)) =
            (s["keyid"].as_str(), s["method"].as_str(), s["sig"].as_str())
        else {
            out.push(fail(
                "structure",
                "a signature needs keyid, method and sig strings",
            ));
            continue;
        };
        if !seen.insert(id) {
            out.push(fail(
                "duplicate-keyid",
                format!("key {id} signs more than once"),
            ));
            continue;
        }
        let Some(key) = lookup.get(id) else {
            continue; // a key neither root lists: ignored, as aktualizr ignores it
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(sig)
            .map_err(|e| format!("sig is not base64: {e}"));
        match raw.and_then(|raw| verifies(key, method, &message, &raw)) {
            Ok(()) => {
                valid.insert(id.to_string());
            }
            Err(why) => out.push(fail(
                "invalid-signature",
                format!("the signature by {id} is invalid: {why}"),
            )),
        }
    }
    for (kind, which, root) in [
        ("old-threshold", "current", cur),
        ("new-threshold", "new", signed),
    ] {
        let ids = key_ids(&root["roles"]["root"]);
        let need = root["roles"]["root"]["threshold"].as_u64().unwrap_or(1);
        let have = ids.iter().filter(|id| valid.contains(*id)).count() as u64;
        if have < need {
            out.push(fail(
                kind,
                format!(
                    "{have} valid signature(s) by the {which} root's {} root key(s); the threshold is {need}",
                    ids.len()
                ),
            ));
        }
    }
    out
}
