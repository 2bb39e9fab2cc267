//! Production and wave targets re-signed by a new offline targets key: a
//! Factory's targets key rotation re-signs, in the same transaction, every
//! production targets file (`GET /ota/factories/F/prod-targets/`) and every
//! wave's targets (`…/wave-targets/`) that the replaced offline key signed
//! (fioctl's `excludeTargetsWithoutKeySigInplace` and `signProdTargets`),
//! and PUTs the signatures beside the roots as `targets-signatures` /
//! `waves-signatures`: `{tag or wave name: [signature]}`.
//!
//! The files come from the online side, as fetched: hostile. What is signed
//! is the canonical form of each file's `signed` exactly as it came (what a
//! device verifies); what is shown is rendered from that same value,
//! escaped, in full: every target with its name, sha256, length and custom
//! fields, and the file's version and expiry.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::canonical::to_canonical_bytes;
use crate::dialect::Dialect;
use crate::keys::{sign_checked, KeyError, Signer};
use crate::untrusted::{escape, escape_json};

/// The production and wave targets a proposal carries, as fetched, by tag
/// (production) and by wave name.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resign {
    /// `GET …/prod-targets/`: `{tag: targets metadata}`.
    #[serde(default)]
    pub prod: BTreeMap<String, Value>,
    /// `GET …/wave-targets/`: `{wave name: targets metadata}`.
    #[serde(default)]
    pub waves: BTreeMap<String, Value>,
    /// Signing the staged roots as they are: the signatures of these files
    /// the transaction holds (PUT by the targets keys' holder's partial
    /// bundle), which the server adds to them when it applies the roots.
    /// The root keys' holder checks them under the staged CI root before
    /// signing it ([`check_staged`]).
    #[serde(default, skip_serializing_if = "Staged::is_empty")]
    pub staged: Staged,
}

/// The production and wave targets signatures a transaction holds, as the
/// server answered: `{tag or wave name: [signature]}`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Staged {
    /// `targets-signatures`.
    #[serde(default)]
    pub prod: BTreeMap<String, Vec<Value>>,
    /// `waves-signatures`.
    #[serde(default)]
    pub waves: BTreeMap<String, Vec<Value>>,
}

impl Staged {
    /// Whether the transaction holds none.
    pub fn is_empty(&self) -> bool {
        self.prod.is_empty() && self.waves.is_empty()
    }
}

/// Signing staged roots that take offline targets keys out (`replaced`, of
/// `current_ci`): every production and wave targets file such a key signed
/// must be signed, in the transaction, by a targets key of `staged_ci`, and
/// every signature the transaction holds must verify under `staged_ci`
/// over the file as carried. Otherwise the roots would be applied with
/// production targets no new targets key signed, or with signatures made
/// for another key than the one staged (a server that swapped the key the
/// targets keys' holder made). Returns the files that are re-signed, or the
/// problem in words.
pub fn check_staged(
    resign: &Resign,
    replaced: &[String],
    current_ci: &crate::root::RootMetadata,
    staged_ci: &crate::root::RootMetadata,
) -> Result<Vec<ToResign>, String> {
    for (kind, sigs) in [
        (Kind::Prod, &resign.staged.prod),
        (Kind::Wave, &resign.staged.waves),
    ] {
        check_signatures(Some(resign), kind, sigs, staged_ci)
            .map_err(|e| format!("the transaction's targets signatures: {e}"))?;
    }
    let (chosen, _) = selected(resign, replaced, current_ci);
    for t in &chosen {
        let sigs = match t.kind {
            Kind::Prod => resign.staged.prod.get(&t.name),
            Kind::Wave => resign.staged.waves.get(&t.name),
        };
        if sigs.is_none_or(Vec::is_empty) {
            return Err(format!(
                "the staged roots take out the offline targets key(s) {} that signed {} {}, but \
                 the transaction holds no signature of it by a targets key of the staged CI root: \
                 applying them would leave it signed by no offline targets key",
                replaced.join(", "),
                t.kind.describe(),
                escape(&t.name)
            ));
        }
    }
    Ok(chosen)
}

/// Production or wave targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A production tag's targets: `targets-signatures`.
    Prod,
    /// A wave's targets: `waves-signatures`.
    Wave,
}

impl Kind {
    /// How the review names it.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Prod => "production targets of tag",
            Kind::Wave => "targets of wave",
        }
    }
}

/// Why a targets file cannot be re-signed.
#[derive(Debug, Error)]
pub enum ResignError {
    /// Its shape is not that of targets metadata.
    #[error("{what} {name}: {problem}")]
    Shape {
        /// Production or wave.
        what: &'static str,
        /// The tag or wave name, escaped.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// Signing failed.
    #[error("signing {name}: {source}")]
    Key {
        /// The tag or wave name, escaped.
        name: String,
        /// The key's error.
        #[source]
        source: KeyError,
    },
}

/// A name fioctl and the server use as a map key and a query parameter:
/// letters, digits, `.`, `_`, `-`, not starting with a dot, at most 128.
pub fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && !n.starts_with('.')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// One targets file to re-sign.
#[derive(Clone, Debug)]
pub struct ToResign {
    /// Production or wave.
    pub kind: Kind,
    /// The tag or wave name.
    pub name: String,
    /// The file as fetched.
    pub envelope: Value,
}

impl ToResign {
    fn shape(&self, problem: impl Into<String>) -> ResignError {
        ResignError::Shape {
            what: self.kind.describe(),
            name: escape(&self.name).into_owned(),
            problem: problem.into(),
        }
    }

    /// The canonical bytes of `signed`, as fetched: what the signature
    /// covers and a device verifies.
    pub fn message(&self) -> Result<Vec<u8>, ResignError> {
        let signed = self
            .envelope
            .get("signed")
            .filter(|s| s.is_object())
            .ok_or_else(|| self.shape("no \"signed\" object"))?;
        to_canonical_bytes(signed, Dialect::OtaTuf).map_err(|e| self.shape(e.to_string()))
    }

    /// The review's lines for this file: its version, expiry and every
    /// target in full (name, sha256, length, custom fields), every string
    /// escaped. Refuses a file whose shape is not targets metadata, so that
    /// nothing is signed that could not be shown.
    pub fn render(&self) -> Result<Vec<String>, ResignError> {
        let signed = self
            .envelope
            .get("signed")
            .and_then(Value::as_object)
            .ok_or_else(|| self.shape("no \"signed\" object"))?;
        if signed.get("_type").and_then(Value::as_str) != Some("Targets") {
            return Err(self.shape("its \"_type\" is not \"Targets\""));
        }
        let targets = signed
            .get("targets")
            .and_then(Value::as_object)
            .ok_or_else(|| self.shape("no \"targets\" object"))?;
        let mut out = vec![format!(
            "{} {}: version {}, expires {}, {} target(s)",
            self.kind.describe(),
            escape(&self.name),
            signed.get("version").map_or("(none)".into(), compact),
            signed.get("expires").map_or("(none)".into(), compact),
            targets.len()
        )];
        // Every other field of `signed` is signed too: shown as it is.
        for (k, v) in signed {
            if !matches!(k.as_str(), "_type" | "version" | "expires" | "targets") {
                out.push(format!("  field {}: {}", escape(k), compact(v)));
            }
        }
        for (name, t) in targets {
            let sha = t.pointer("/hashes/sha256").map_or("(none)".into(), compact);
            out.push(format!("  target {}", escape(name)));
            out.push(format!(
                "    sha256 {sha}, length {}",
                t.get("length").map_or("(none)".into(), compact)
            ));
            if let Some(obj) = t.as_object() {
                for (k, v) in obj {
                    if k == "length" || k == "hashes" {
                        continue;
                    }
                    out.push(format!("    {}: {}", escape(k), compact(v)));
                }
                if let Some(h) = obj.get("hashes").and_then(Value::as_object) {
                    for (k, v) in h.iter().filter(|(k, _)| *k != "sha256") {
                        out.push(format!("    hash {}: {}", escape(k), compact(v)));
                    }
                }
            } else {
                out.push(format!("    (not an object) {}", compact(t)));
            }
        }
        Ok(out)
    }

    /// A signature of this file's `signed` by `signer`, listed under
    /// `keyid`, as fioctl sends it: `{"keyid", "method", "sig"}`; verified
    /// in software before it is returned.
    pub fn sign(&self, keyid: &str, signer: &dyn Signer) -> Result<Value, ResignError> {
        let message = self.message()?;
        let sig = sign_checked(signer, &message).map_err(|source| ResignError::Key {
            name: escape(&self.name).into_owned(),
            source,
        })?;
        Ok(serde_json::json!({
            "keyid": keyid,
            "method": signer.method(Dialect::OtaTuf),
            "sig": base64::engine::general_purpose::STANDARD.encode(&sig),
        }))
    }
}

/// A JSON value on one line, escaped.
fn compact(v: &Value) -> String {
    escape_json(&v.to_string()).into_owned()
}

/// Whether `envelope` lists a signature under `keyid`.
fn listed(envelope: &Value, keyid: &str) -> bool {
    envelope
        .get("signatures")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter()
                .any(|s| s.get("keyid").and_then(Value::as_str) == Some(keyid))
        })
}

/// Whether a signature of `t` listed under `keyid` verifies under that
/// key of `by`. The claim alone ("signed by the old key") is the online
/// side's word: were it enough, any targets file the server made up would
/// get the new offline key's signature.
fn verified_by(t: &ToResign, keyid: &str, by: &crate::root::RootMetadata) -> bool {
    let (Ok(key), Ok(message)) = (by.key(keyid), t.message()) else {
        return false;
    };
    t.envelope
        .get("signatures")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|s| s.get("keyid").and_then(Value::as_str) == Some(keyid))
        .any(|s| {
            s.get("sig")
                .and_then(Value::as_str)
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .is_some_and(|raw| {
                    key.verify(
                        Dialect::OtaTuf,
                        &message,
                        &raw,
                        s.get("method").and_then(Value::as_str),
                    )
                    .is_ok()
                })
        })
}

/// The files of `resign` a replaced offline targets key in `replaced`
/// signed, production first, each kind by name: what fioctl re-signs,
/// except that the old key's signature must verify (under its key in
/// `by`, the current CI root), not merely be listed. Where no key is
/// replaced (the first offline targets key) none is.
pub fn selected(
    resign: &Resign,
    replaced: &[String],
    by: &crate::root::RootMetadata,
) -> (Vec<ToResign>, Vec<(Kind, String)>) {
    let mut chosen = Vec::new();
    let mut left = Vec::new();
    for (kind, map) in [(Kind::Prod, &resign.prod), (Kind::Wave, &resign.waves)] {
        for (name, envelope) in map {
            let t = ToResign {
                kind,
                name: name.clone(),
                envelope: envelope.clone(),
            };
            // A file that cannot be shown or canonicalised is kept among the chosen,
            // to be refused whole before any key is made, whatever it claims.
            let claims = replaced.iter().any(|id| listed(&t.envelope, id));
            if claims
                && (t.render().is_err()
                    || t.message().is_err()
                    || replaced.iter().any(|id| verified_by(&t, id, by)))
            {
                chosen.push(t);
            } else {
                left.push((kind, name.clone()));
            }
        }
    }
    (chosen, left)
}

/// Checks signatures a bundle brings for `kind`: each names a file the
/// proposal carries, each signature is by a targets key of `new_ci` and
/// verifies over that file's canonical `signed`. Returns the problem, in
/// words.
pub fn check_signatures(
    resign: Option<&Resign>,
    kind: Kind,
    sigs: &BTreeMap<String, Vec<Value>>,
    new_ci: &crate::root::RootMetadata,
) -> Result<(), String> {
    let files = match (resign, kind) {
        (Some(r), Kind::Prod) => &r.prod,
        (Some(r), Kind::Wave) => &r.waves,
        (None, _) if sigs.is_empty() => return Ok(()),
        (None, _) => return Err("the bundle signs targets the proposal does not carry".into()),
    };
    let targets = new_ci.role("targets").map_err(|e| e.to_string())?.keyids;
    for (name, list) in sigs {
        let Some(envelope) = files.get(name) else {
            return Err(format!(
                "the bundle signs {} {}, which the proposal does not carry",
                kind.describe(),
                escape(name)
            ));
        };
        let t = ToResign {
            kind,
            name: name.clone(),
            envelope: envelope.clone(),
        };
        let message = t.message().map_err(|e| e.to_string())?;
        for s in list {
            let keyid = s.get("keyid").and_then(Value::as_str).unwrap_or("");
            let bad = |why: &str| {
                format!(
                    "{} {}: the signature by {}: {why}",
                    kind.describe(),
                    escape(name),
                    escape(keyid)
                )
            };
            if !targets.iter().any(|k| k == keyid) {
                return Err(bad("not a targets key of the new CI root"));
            }
            let key = new_ci.key(keyid).map_err(|e| bad(&e.to_string()))?;
            let raw = s
                .get("sig")
                .and_then(Value::as_str)
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .ok_or_else(|| bad("no base64 sig"))?;
            key.verify(
                Dialect::OtaTuf,
                &message,
                &raw,
                s.get("method").and_then(Value::as_str),
            )
            .map_err(|e| bad(&format!("does not verify: {e}")))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{NewKeyType, PrivateKey};
    use serde_json::json;

    fn file(sig_by: &str) -> Value {
        json!({"signatures": [{"keyid": sig_by, "method": "ed25519", "sig": "x"}],
            "signed": {"_type": "Targets", "version": 3, "expires": "2030-01-01T00:00:00Z",
            "targets": {"a-1": {"length": 5, "hashes": {"sha256": "ab"},
                "custom": {"name": "a\u{1b}[2J", "version": "1"}}}}})
    }

    /// `file(keyid)` with a real signature by `key` under `keyid` (its
    /// name made printable so that its canonical form exists).
    fn signed_file(key: &PrivateKey, keyid: &str) -> Value {
        let mut f = file(keyid);
        f["signed"]["targets"]["a-1"]["custom"]["name"] = json!("a");
        let t = ToResign {
            kind: Kind::Prod,
            name: "x".into(),
            envelope: f.clone(),
        };
        f["signatures"] = json!([t.sign(keyid, key).unwrap()]);
        f
    }

    #[test]
    fn only_files_a_replaced_key_signed_are_chosen() {
        let d = Dialect::OtaTuf;
        let (old, on) = (
            PrivateKey::generate(NewKeyType::Ed25519).unwrap(),
            PrivateKey::generate(NewKeyType::Ed25519).unwrap(),
        );
        let (old_id, on_id) = (old.public_key().key_id(d), on.public_key().key_id(d));
        let ci = crate::root::RootMetadata::from_value(
            json!({"signatures": [], "signed": {"_type": "Root", "version": 2,
                "expires": "2030-01-01T00:00:00Z",
                "keys": {old_id.clone(): old.public_key().to_key_object(d),
                    on_id.clone(): on.public_key().to_key_object(d)},
                "roles": {"root": {"keyids": [on_id], "threshold": 1},
                    "targets": {"keyids": [on_id, old_id], "threshold": 1},
                    "snapshot": {"keyids": [on_id], "threshold": 1},
                    "timestamp": {"keyids": [on_id], "threshold": 1}}}}),
            d,
        )
        .unwrap();
        // A file that only claims the old key's signature: the online side's
        // word, which must not get a file the new key's signature.
        let claimed = {
            let mut f = signed_file(&on, &old_id);
            f["signed"]["version"] = json!(4);
            f
        };
        let r = Resign {
            prod: BTreeMap::from([
                ("main".into(), signed_file(&old, &old_id)),
                ("other".into(), signed_file(&on, &on_id)),
                ("claimed".into(), claimed),
            ]),
            waves: BTreeMap::from([("w1".into(), signed_file(&old, &old_id))]),
            ..Default::default()
        };
        let (chosen, left) = selected(&r, std::slice::from_ref(&old_id), &ci);
        let names: Vec<&str> = chosen.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["main", "w1"]);
        assert_eq!(chosen[1].kind, Kind::Wave);
        assert_eq!(
            left,
            vec![
                (Kind::Prod, "claimed".to_string()),
                (Kind::Prod, "other".to_string())
            ]
        );
        assert!(selected(&r, &[], &ci).0.is_empty());
    }

    #[test]
    fn render_shows_everything_escaped_and_sign_covers_signed() {
        let t = ToResign {
            kind: Kind::Prod,
            name: "main".into(),
            envelope: file("old"),
        };
        let text = t.render().unwrap().join("\n");
        assert!(
            text.contains("version 3") && text.contains("2030-01-01T00:00:00Z"),
            "{text}"
        );
        assert!(
            text.contains("target a-1") && text.contains("sha256 \"ab\", length 5"),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("custom"), "{text}");
        let key = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
        // What devices would canonicalise differently is never signed.
        assert!(t.sign("kid", &key).is_err());
        let mut clean = t.clone();
        clean.envelope["signed"]["targets"]["a-1"]["custom"]["name"] = json!("a");
        let t = clean;
        let sig = t.sign("kid", &key).unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(sig["sig"].as_str().unwrap())
            .unwrap();
        key.public_key()
            .verify(
                Dialect::OtaTuf,
                &t.message().unwrap(),
                &raw,
                Some("ed25519"),
            )
            .unwrap();
        let bad = ToResign {
            envelope: json!({"signed": {"_type": "Root", "targets": {}}}),
            ..t
        };
        assert!(bad.render().is_err());
    }

    #[test]
    fn a_bundle_s_signatures_are_checked_against_the_files_and_the_new_root() {
        let d = Dialect::OtaTuf;
        let (new, other) = (
            PrivateKey::generate(NewKeyType::Ed25519).unwrap(),
            PrivateKey::generate(NewKeyType::Ed25519).unwrap(),
        );
        let id = new.public_key().key_id(d);
        let root = crate::root::RootMetadata::from_value(
            json!({"signatures": [], "signed": {"_type": "Root", "version": 2,
                "expires": "2030-01-01T00:00:00Z",
                "keys": {id.clone(): new.public_key().to_key_object(d)},
                "roles": {"root": {"keyids": [id], "threshold": 1},
                    "targets": {"keyids": [id], "threshold": 1},
                    "snapshot": {"keyids": [id], "threshold": 1},
                    "timestamp": {"keyids": [id], "threshold": 1}}}}),
            d,
        )
        .unwrap();
        let mut clean = file("old");
        clean["signed"]["targets"]["a-1"]["custom"]["name"] = json!("a");
        let r = Resign {
            prod: BTreeMap::from([("main".into(), clean.clone())]),
            waves: BTreeMap::new(),
            ..Default::default()
        };
        let t = ToResign {
            kind: Kind::Prod,
            name: "main".into(),
            envelope: clean,
        };
        let good = BTreeMap::from([("main".to_string(), vec![t.sign(&id, &new).unwrap()])]);
        check_signatures(Some(&r), Kind::Prod, &good, &root).unwrap();
        // By a key the new root's targets role does not list.
        let other_id = other.public_key().key_id(d);
        let stranger =
            BTreeMap::from([("main".to_string(), vec![t.sign(&other_id, &other).unwrap()])]);
        let e = check_signatures(Some(&r), Kind::Prod, &stranger, &root).unwrap_err();
        assert!(e.contains("not a targets key"), "{e}");
        // Under the right id, but another key's signature.
        let forged = BTreeMap::from([("main".to_string(), vec![t.sign(&id, &other).unwrap()])]);
        let e = check_signatures(Some(&r), Kind::Prod, &forged, &root).unwrap_err();
        assert!(e.contains("does not verify"), "{e}");
        // A file the proposal does not carry, or as a wave.
        let e = check_signatures(Some(&r), Kind::Wave, &good, &root).unwrap_err();
        assert!(e.contains("does not carry"), "{e}");
        let e = check_signatures(None, Kind::Prod, &good, &root).unwrap_err();
        assert!(e.contains("does not carry"), "{e}");
        check_signatures(None, Kind::Prod, &BTreeMap::new(), &root).unwrap();
    }

    /// A CI root (version `v`) whose targets role is `on` and `other`.
    fn ci_with(v: u64, on: &PrivateKey, other: &PrivateKey) -> crate::root::RootMetadata {
        let d = Dialect::OtaTuf;
        let (on_id, other_id) = (on.public_key().key_id(d), other.public_key().key_id(d));
        crate::root::RootMetadata::from_value(
            json!({"signatures": [], "signed": {"_type": "Root", "version": v,
                "expires": "2030-01-01T00:00:00Z",
                "keys": {on_id.clone(): on.public_key().to_key_object(d),
                    other_id.clone(): other.public_key().to_key_object(d)},
                "roles": {"root": {"keyids": [on_id], "threshold": 1},
                    "targets": {"keyids": [on_id, other_id], "threshold": 1},
                    "snapshot": {"keyids": [on_id], "threshold": 1},
                    "timestamp": {"keyids": [on_id], "threshold": 1}}}}),
            d,
        )
        .unwrap()
    }

    #[test]
    fn staged_signatures_must_be_by_the_staged_targets_key_and_cover_what_it_replaces() {
        let d = Dialect::OtaTuf;
        let g = || PrivateKey::generate(NewKeyType::Ed25519).unwrap();
        let (on, old, new, swapped) = (g(), g(), g(), g());
        let old_id = old.public_key().key_id(d);
        let current = ci_with(2, &on, &old);
        let staged = ci_with(3, &on, &new);
        let main = signed_file(&old, &old_id);
        let sig_by = |key: &PrivateKey| {
            let t = ToResign {
                kind: Kind::Prod,
                name: "main".into(),
                envelope: main.clone(),
            };
            t.sign(&key.public_key().key_id(d), key).unwrap()
        };
        let with = |sigs: Vec<Value>| Resign {
            prod: BTreeMap::from([("main".into(), main.clone())]),
            waves: BTreeMap::new(),
            staged: Staged {
                prod: if sigs.is_empty() {
                    BTreeMap::new()
                } else {
                    BTreeMap::from([("main".into(), sigs)])
                },
                waves: BTreeMap::new(),
            },
        };
        let replaced = std::slice::from_ref(&old_id);
        let ok = check_staged(&with(vec![sig_by(&new)]), replaced, &current, &staged).unwrap();
        assert_eq!(ok.len(), 1);
        // By a key the staged root does not list (the server swapped it).
        let e =
            check_staged(&with(vec![sig_by(&swapped)]), replaced, &current, &staged).unwrap_err();
        assert!(e.contains("not a targets key of the new CI root"), "{e}");
        // None for a file the replaced key signed.
        let e = check_staged(&with(Vec::new()), replaced, &current, &staged).unwrap_err();
        assert!(e.contains("holds no signature of it"), "{e}");
    }
}
