//! Production releases (waves) signed offline: the wave proposal the
//! submitter writes, the computation of the new production targets (what
//! fioctl's `waves init` computes), and the wave bundle the signer writes.
//!
//! The proposal carries what the server answered, never a result: the
//! production root chain (from `1.root.json`), the production targets of the
//! tag, the CI targets of the version, and the operator's choices (name,
//! version, tag, expiry, versions to prune). Both sides compute the new
//! targets from those with [`check`], so the signer signs only what it
//! computed and showed, and the submitter publishes only what answers the
//! proposal. As fioctl:
//!
//! - the new targets are the current production targets of the tag plus
//!   the CI targets of the version, each with its `custom.tags` replaced by
//!   `[tag]`; a CI target already in production is refused;
//! - the version must be above the production targets' version;
//! - `--prune V` removes every target whose `custom.version` is V (the
//!   wave's own version cannot be pruned; a version with no target is
//!   refused);
//! - each target keeps only `length`, `hashes` and `custom`: the fields of
//!   fioctl's Go struct, which drops any other field before it signs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;
use time::OffsetDateTime;

use crate::canonical::to_canonical_bytes;
use crate::crossing::{check_format, quote_name, CrossingError};
use crate::dialect::Dialect;
use crate::root::{format_expires, parse_expires, RootMetadata};
use crate::rules::check_history;
use crate::untrusted::{escape, escape_json};

/// The `format` of a wave proposal.
pub const WAVE_PROPOSAL_FORMAT: &str = "tuf-ceremony/wave-proposal@1";
/// The `format` of a wave bundle.
pub const WAVE_BUNDLE_FORMAT: &str = "tuf-ceremony/wave-bundle@1";

/// Why a wave proposal or bundle is not used.
#[derive(Debug, Error)]
pub enum WaveError {
    /// Not a wave file of this version, or malformed.
    #[error(transparent)]
    Crossing(#[from] CrossingError),
    /// Well-formed, but refused: it does not verify, or asks for what
    /// fioctl (and the server) refuse.
    #[error("{0}")]
    Refused(String),
}

fn refused(m: impl Into<String>) -> WaveError {
    WaveError::Refused(m.into())
}

/// A wave proposal: what the server answered, and what the operator asked.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaveProposal {
    /// Always [`WAVE_PROPOSAL_FORMAT`].
    pub format: String,
    /// The Factory.
    pub factory: String,
    /// The API it was fetched from.
    pub api: String,
    /// The wave's name.
    pub name: String,
    /// The CI targets version the wave releases.
    pub version: u64,
    /// The production tag.
    pub tag: String,
    /// The new targets' expiry (`YYYY-MM-DDTHH:MM:SSZ`).
    pub expires: String,
    /// Versions to prune from the production targets.
    #[serde(default)]
    pub prune: Vec<String>,
    /// The production root chain, `1.root.json` first, as fetched.
    pub prod_roots: Vec<Value>,
    /// The production targets of the tag, as fetched (none: a first wave).
    pub current: Option<Value>,
    /// The CI targets of the version, as fetched.
    pub ci_targets: Map<String, Value>,
    /// When the submitter wrote it.
    pub created: String,
}

/// What a target becomes in the wave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// A CI target of the wave's version, new in production.
    Added,
    /// In production already, and still.
    Kept,
    /// In production now, removed by `--prune`.
    Pruned,
}

/// A checked proposal: the production root it verifies under, and the new
/// targets computed from it.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The newest production root (its chain verified from version 1).
    pub prod_root: RootMetadata,
    /// The new production targets' `signed`.
    pub signed: Value,
    /// Its ota-tuf canonical form: what the signatures cover.
    pub canonical: Vec<u8>,
    /// sha256 of [`Checked::canonical`].
    pub signed_sha256: String,
    /// The version of the current production targets (0: none).
    pub current_version: u64,
    /// How many targets keys of the production root validly signed the
    /// current production targets.
    pub current_signatures: usize,
    /// The production root's targets threshold.
    pub threshold: u64,
    /// Every target, new or old, by name, with what happens to it.
    pub changes: BTreeMap<String, (Change, Value)>,
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && !n.starts_with('.')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl WaveProposal {
    /// Reads a wave proposal: strict JSON, its format, no unknown field.
    pub fn from_slice(bytes: &[u8]) -> Result<WaveProposal, WaveError> {
        let v = check_format(bytes, WAVE_PROPOSAL_FORMAT)?;
        let p: WaveProposal = serde_json::from_value(v).map_err(|e| {
            let m = e.to_string();
            if let Some(rest) = m.strip_prefix("unknown field ") {
                let field = rest.split(',').next().unwrap_or(rest).trim_matches('`');
                WaveError::Crossing(CrossingError::UnknownField {
                    path: "wave proposal".into(),
                    field: quote_name(field),
                })
            } else {
                WaveError::Crossing(CrossingError::Fields(m))
            }
        })?;
        Ok(p)
    }

    /// Its bytes as written.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = serde_json::to_vec_pretty(self).expect("a proposal always serialises");
        b.push(b'\n');
        b
    }
}

/// A target as fioctl's struct keeps it: `length`, `hashes` (with a
/// sha256 of 64 hex digits), `custom` (dropped when null).
fn file_meta(name: &str, t: &Value) -> Result<Value, WaveError> {
    let what = || format!("target {}", escape(name));
    let length = t["length"]
        .as_u64()
        .ok_or_else(|| refused(format!("{}: length is not a non-negative integer", what())))?;
    let hashes = t["hashes"]
        .as_object()
        .ok_or_else(|| refused(format!("{}: no hashes", what())))?;
    if !hashes.values().all(Value::is_string) {
        return Err(refused(format!("{}: a hash is not a string", what())));
    }
    let sha = hashes.get("sha256").and_then(Value::as_str).unwrap_or("");
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(refused(format!(
            "{}: hashes.sha256 is not 64 hex digits",
            what()
        )));
    }
    let mut m = Map::new();
    m.insert("length".into(), Value::from(length));
    m.insert("hashes".into(), Value::Object(hashes.clone()));
    match t.get("custom") {
        None | Some(Value::Null) => {}
        Some(c) => {
            m.insert("custom".into(), c.clone());
        }
    }
    Ok(Value::Object(m))
}

/// Whether the signatures of `envelope` over `canonical` meet `root`'s
/// targets threshold: the number of distinct listed keys that signed.
pub fn valid_targets_signatures(
    root: &RootMetadata,
    envelope: &Value,
    canonical: &[u8],
) -> Result<(usize, u64), WaveError> {
    let role = root
        .role("targets")
        .map_err(|e| refused(format!("the production root: {e}")))?;
    let mut seen = std::collections::BTreeSet::new();
    for s in envelope["signatures"].as_array().into_iter().flatten() {
        let (Some(id), Some(sig)) = (s["keyid"].as_str(), s["sig"].as_str()) else {
            continue;
        };
        if !role.keyids.iter().any(|k| k == id) || seen.contains(id) {
            continue;
        }
        let Ok(key) = root.key(id) else { continue };
        let Ok(raw) = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, sig)
        else {
            continue;
        };
        if key
            .verify(Dialect::OtaTuf, canonical, &raw, s["method"].as_str())
            .is_ok()
        {
            seen.insert(id.to_string());
        }
    }
    Ok((seen.len(), role.threshold))
}

/// Verifies the proposal and computes the new targets, as fioctl's `waves
/// init` does. `now`: the production root and the new targets must not be
/// expired.
pub fn check(p: &WaveProposal, now: OffsetDateTime) -> Result<Checked, WaveError> {
    if !valid_name(&p.name) || !valid_name(&p.tag) {
        return Err(refused(format!(
            "the wave name {} or tag {} has characters other than letters, digits, '.', '_' and '-'",
            quote_name(&p.name),
            quote_name(&p.tag)
        )));
    }
    // The production root chain, from version 1, every step by the rules.
    if p.prod_roots.is_empty() {
        return Err(refused("the proposal holds no production root"));
    }
    let mut chain = Vec::new();
    for (i, r) in p.prod_roots.iter().enumerate() {
        let root = RootMetadata::from_value(r.clone(), Dialect::OtaTuf)
            .map_err(|e| refused(format!("production root {} of the proposal: {e}", i + 1)))?;
        if root.version().ok() != Some(i as u64 + 1) {
            return Err(refused(format!(
                "the production roots must be versions 1, 2, …: the {}th is not version {}",
                i + 1,
                i + 1
            )));
        }
        chain.push(root);
    }
    let verdict = check_history(None, &chain, now);
    if let Some(bad) = verdict.first_failure().or(if verdict.ok() {
        None
    } else {
        verdict.steps.last()
    }) {
        let why: Vec<String> = bad
            .failures
            .iter()
            .map(|f| format!("[{}] {}", f.rule.id(), f.message))
            .collect();
        return Err(refused(format!(
            "the production root chain does not verify at version {}: {}",
            bad.version.unwrap_or(0),
            why.join("; ")
        )));
    }
    let prod_root = chain.pop().expect("not empty");

    let expires = parse_expires(&p.expires).map_err(|e| refused(format!("expires: {e}")))?;
    if expires <= now {
        return Err(refused(format!(
            "expires {} is not in the future",
            escape(&p.expires)
        )));
    }

    // The current production targets: verified under the production root,
    // since every target kept is signed again.
    let mut targets = Map::new();
    let mut current_version = 0;
    let mut current_names = Vec::new();
    let mut current_signatures = 0;
    if let Some(cur) = &p.current {
        let signed = &cur["signed"];
        let bytes = to_canonical_bytes(signed, Dialect::OtaTuf)
            .map_err(|e| refused(format!("the production targets: {e}")))?;
        // At least the server's own signature: production targets the
        // first offline targets key has not signed yet (fioctl re-signs only
        // those the replaced offline key signed) carry only the online one.
        let (valid, _) = valid_targets_signatures(&prod_root, cur, &bytes)?;
        if valid == 0 {
            return Err(refused(format!(
                "the production targets of {} carry no valid signature by a targets key of the production root: they are not what the Factory signed",
                escape(&p.tag)
            )));
        }
        current_signatures = valid;
        current_version = signed["version"]
            .as_u64()
            .ok_or_else(|| refused("the production targets have no version"))?;
        for (n, t) in signed["targets"].as_object().into_iter().flatten() {
            targets.insert(n.clone(), file_meta(n, t)?);
            current_names.push(n.clone());
        }
    }
    if p.version <= current_version {
        return Err(refused(format!(
            "version {} is not above the production targets' version {current_version} for the tag {}: fioctl and the server refuse such a wave",
            p.version,
            escape(&p.tag)
        )));
    }
    if p.ci_targets.is_empty() {
        return Err(refused(format!("no CI targets of version {}", p.version)));
    }
    let mut added = Vec::new();
    for (n, t) in &p.ci_targets {
        if targets.contains_key(n) {
            return Err(refused(format!(
                "target {} already exists in the production targets for the tag {}",
                escape(n),
                escape(&p.tag)
            )));
        }
        let mut meta = file_meta(n, t)?;
        let custom = meta
            .get_mut("custom")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| refused(format!("malformed CI target custom field {}", escape(n))))?;
        custom.insert(
            "tags".into(),
            Value::Array(vec![Value::String(p.tag.clone())]),
        );
        targets.insert(n.clone(), meta);
        added.push(n.clone());
    }
    let mut pruned = Map::new();
    if !p.prune.is_empty() {
        if p.prune.contains(&p.version.to_string()) {
            return Err(refused("cannot prune the wave's own version"));
        }
        let mut missing = Vec::new();
        for v in &p.prune {
            let names: Vec<String> = targets
                .iter()
                .filter(|(_, t)| t["custom"]["version"].as_str() == Some(v.as_str()))
                .map(|(n, _)| n.clone())
                .collect();
            if names.is_empty() {
                missing.push(escape(v).into_owned());
            }
            for n in names {
                if let Some(t) = targets.remove(&n) {
                    pruned.insert(n, t);
                }
            }
        }
        if !missing.is_empty() {
            return Err(refused(format!(
                "unable to prune the versions {}: no target has them",
                missing.join(",")
            )));
        }
    }
    let mut signed = Map::new();
    signed.insert("_type".into(), Value::String("Targets".into()));
    signed.insert("expires".into(), Value::String(format_expires(expires)));
    signed.insert("version".into(), Value::from(p.version));
    signed.insert("targets".into(), Value::Object(targets.clone()));
    let signed = Value::Object(signed);
    let canonical = to_canonical_bytes(&signed, Dialect::OtaTuf)
        .map_err(|e| refused(format!("the new targets: {e}")))?;
    let mut changes = BTreeMap::new();
    for (n, t) in &targets {
        let c = if added.contains(n) {
            Change::Added
        } else {
            Change::Kept
        };
        changes.insert(n.clone(), (c, t.clone()));
    }
    for (n, t) in pruned {
        if current_names.contains(&n) {
            changes.insert(n, (Change::Pruned, t));
        }
    }
    let threshold = prod_root
        .role("targets")
        .map_err(|e| refused(format!("the production root: {e}")))?
        .threshold;
    Ok(Checked {
        current_signatures,
        threshold,
        prod_root,
        signed_sha256: crate::sha256::hex(&canonical),
        signed,
        canonical,
        current_version,
        changes,
    })
}

/// The review text: every target of the new targets (and every one pruned)
/// with all its fields, the version and expiry. Untrusted strings escaped.
pub fn render(p: &WaveProposal, c: &Checked) -> String {
    let mut out = String::new();
    let count = |k: Change| c.changes.values().filter(|(x, _)| *x == k).count();
    out.push_str(&format!(
        "Wave {} of FoundriesFactory {} ({}): production targets for the tag {}\n",
        escape(&p.name),
        escape(&p.factory),
        escape(&p.api),
        escape(&p.tag)
    ));
    if p.current.is_some() {
        out.push_str(&format!(
            "  current production targets: version {}, {} valid signature(s) by production targets keys (threshold {})\n",
            c.current_version, c.current_signatures, c.threshold
        ));
    } else {
        out.push_str("  current production targets: none (a first release for this tag)\n");
    }
    out.push_str(&format!(
        "  version: {} -> {}\n  expires: {}\n  targets: {} added, {} kept, {} pruned\n",
        c.current_version,
        p.version,
        c.signed["expires"].as_str().unwrap_or(""),
        count(Change::Added),
        count(Change::Kept),
        count(Change::Pruned),
    ));
    for (name, (change, t)) in &c.changes {
        let mark = match change {
            Change::Added => "+ added ",
            Change::Kept => "  kept  ",
            Change::Pruned => "- pruned",
        };
        out.push_str(&format!("{mark} {}\n", escape(name)));
        out.push_str(&format!("           length: {}\n", t["length"]));
        for (alg, h) in t["hashes"].as_object().into_iter().flatten() {
            out.push_str(&format!(
                "           {}: {}\n",
                escape(alg),
                escape(h.as_str().unwrap_or(""))
            ));
        }
        let custom = &t["custom"];
        let field = |k: &str| match &custom[k] {
            Value::Null => "(none)".to_string(),
            Value::String(s) => escape(s).into_owned(),
            v => escape_json(&v.to_string()).into_owned(),
        };
        out.push_str(&format!(
            "           version: {}  tags: {}  hardware ids: {}\n",
            field("version"),
            field("tags"),
            field("hardwareIds")
        ));
        // The whole custom field, as signed: nothing in it goes unseen.
        let full = match custom {
            Value::Null => "(none)".to_string(),
            v => String::from_utf8(to_canonical_bytes(v, Dialect::OtaTuf).unwrap_or_default())
                .unwrap_or_default(),
        };
        out.push_str(&format!("           custom: {}\n", escape_json(&full)));
    }
    out.push_str(&format!(
        "  sha256 of the canonical targets to sign: {}\n",
        c.signed_sha256
    ));
    out
}

/// An ota-tuf signature entry (`keyid`, `method`, `sig`) by `signer` over
/// the canonical targets, verified in software before it is returned.
pub fn signature_entry(
    keyid: &str,
    signer: &dyn crate::keys::Signer,
    canonical: &[u8],
) -> Result<Value, crate::keys::KeyError> {
    let sig = crate::keys::sign_checked(signer, canonical)?;
    Ok(serde_json::json!({
        "keyid": keyid,
        "method": signer.method(Dialect::OtaTuf),
        "sig": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &sig),
    }))
}

/// A wave bundle: the offline signatures over the new targets.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaveBundle {
    /// Always [`WAVE_BUNDLE_FORMAT`].
    pub format: String,
    /// sha256 of the exact bytes of the proposal it answers.
    pub proposal_sha256: String,
    /// The wave's name, version and tag (from the proposal).
    pub name: String,
    /// The version.
    pub version: u64,
    /// The tag.
    pub tag: String,
    /// sha256 of the canonical new targets the signatures cover.
    pub signed_sha256: String,
    /// The offline targets signatures (`keyid`, `method`, `sig`).
    pub signatures: Vec<Value>,
    /// The transcript's signed head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_head: Option<Value>,
}

impl WaveBundle {
    /// Reads a wave bundle: strict JSON, its format, no unknown field.
    pub fn from_slice(bytes: &[u8]) -> Result<WaveBundle, WaveError> {
        let v = check_format(bytes, WAVE_BUNDLE_FORMAT)?;
        serde_json::from_value(v)
            .map_err(|e| WaveError::Crossing(CrossingError::Fields(e.to_string())))
    }

    /// Its bytes as written.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = serde_json::to_vec_pretty(self).expect("a bundle always serialises");
        b.push(b'\n');
        b
    }

    /// Checks that this bundle answers `proposal` (its exact bytes, already
    /// checked into `checked`) and that every signature is a valid one by
    /// a targets key of the production root. Returns the signed envelope.
    pub fn answers(
        &self,
        proposal_bytes: &[u8],
        p: &WaveProposal,
        checked: &Checked,
    ) -> Result<Value, WaveError> {
        if self.proposal_sha256 != crate::sha256::hex(proposal_bytes) {
            return Err(refused(
                "this bundle answers another proposal (its proposal_sha256 differs)",
            ));
        }
        if self.name != p.name || self.version != p.version || self.tag != p.tag {
            return Err(refused(
                "the bundle's wave name, version or tag differ from the proposal's",
            ));
        }
        if self.signed_sha256 != checked.signed_sha256 {
            return Err(refused(
                "the bundle's signed_sha256 is not that of the targets the proposal makes",
            ));
        }
        if self.signatures.is_empty() {
            return Err(refused("the bundle carries no signature"));
        }
        let role = checked
            .prod_root
            .role("targets")
            .map_err(|e| refused(format!("the production root: {e}")))?;
        for s in &self.signatures {
            let id = s["keyid"].as_str().unwrap_or("");
            if !role.keyids.iter().any(|k| k == id) {
                return Err(refused(format!(
                    "the key {} is not a targets key of the production root",
                    quote_name(id)
                )));
            }
            let one = serde_json::json!({"signatures": [s]});
            let (valid, _) =
                valid_targets_signatures(&checked.prod_root, &one, &checked.canonical)?;
            if valid != 1 {
                return Err(refused(format!(
                    "the signature by {} does not verify over the wave's targets",
                    quote_name(id)
                )));
            }
        }
        Ok(serde_json::json!({"signatures": self.signatures, "signed": checked.signed}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{NewKeyType, PrivateKey};
    use serde_json::json;

    struct Fx {
        root: Value,
        targets_key: PrivateKey,
        targets_id: String,
    }

    /// A production root v1: one root key, one targets key (threshold 1).
    fn fx() -> Fx {
        let d = Dialect::OtaTuf;
        let root_key = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
        let targets_key = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
        let (r, t) = (
            root_key.public_key().key_id(d),
            targets_key.public_key().key_id(d),
        );
        let role = json!({"keyids": [t.clone()], "threshold": 1});
        let mut root = RootMetadata::from_value(
            json!({"signatures": [], "signed": {
                "_type": "Root", "consistent_snapshot": false,
                "expires": "2099-01-01T00:00:00Z", "version": 1,
                "keys": {r.clone(): root_key.public_key().to_key_object(d),
                         t.clone(): targets_key.public_key().to_key_object(d)},
                "roles": {"root": {"keyids": [r.clone()], "threshold": 1},
                    "snapshot": role, "timestamp": role, "targets": role},
            }}),
            d,
        )
        .unwrap();
        root.sign(&r, &root_key).unwrap();
        Fx {
            root: root.envelope().clone(),
            targets_key,
            targets_id: t,
        }
    }

    fn target(version: &str, sha: &str) -> Value {
        json!({"length": 3, "hashes": {"sha256": sha.repeat(32)},
               "custom": {"version": version, "tags": ["ci"], "hardwareIds": ["m"]}})
    }

    /// Production targets v1 holding `old-1`, signed by the targets key.
    fn current(f: &Fx) -> Value {
        let signed = json!({"_type": "Targets", "expires": "2099-01-01T00:00:00Z", "version": 1,
            "targets": {"old-1": target("1", "aa")}});
        let bytes = to_canonical_bytes(&signed, Dialect::OtaTuf).unwrap();
        let sig = signature_entry(&f.targets_id, &f.targets_key, &bytes).unwrap();
        json!({"signed": signed, "signatures": [sig]})
    }

    fn proposal(f: &Fx, version: u64, ci: Value) -> WaveProposal {
        WaveProposal {
            format: WAVE_PROPOSAL_FORMAT.into(),
            factory: "acme".into(),
            api: "https://api.example".into(),
            name: "w".into(),
            version,
            tag: "main".into(),
            expires: "2098-01-01T00:00:00Z".into(),
            prune: Vec::new(),
            prod_roots: vec![f.root.clone()],
            current: Some(current(f)),
            ci_targets: ci.as_object().unwrap().clone(),
            created: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn targets_keep_only_fioctls_fields_and_get_the_tag() {
        let f = fx();
        let mut t = target("2", "bb");
        t["x-extra"] = json!("dropped");
        let c = check(&proposal(&f, 2, json!({"new-2": t})), now()).unwrap();
        let new = &c.signed["targets"]["new-2"];
        assert_eq!(new["custom"]["tags"], json!(["main"]));
        assert!(new.get("x-extra").is_none());
        assert_eq!(c.signed["version"], 2);
        assert_eq!(c.changes["old-1"].0, Change::Kept);
        assert_eq!(c.changes["new-2"].0, Change::Added);
        assert_eq!(c.current_signatures, 1);
        assert_eq!(
            c.canonical,
            to_canonical_bytes(&c.signed, Dialect::OtaTuf).unwrap()
        );
    }

    #[test]
    fn what_fioctl_refuses_is_refused() {
        let f = fx();
        let refusal = |p: &WaveProposal| match check(p, now()) {
            Err(WaveError::Refused(m)) => m,
            other => panic!("not refused: {other:?}"),
        };
        let ci = json!({"new-2": target("2", "bb")});
        assert!(refusal(&proposal(&f, 1, ci.clone())).contains("not above"));
        assert!(refusal(&proposal(&f, 2, json!({}))).contains("no CI targets"));
        let dup = json!({"old-1": target("2", "bb")});
        assert!(refusal(&proposal(&f, 2, dup)).contains("already exists"));
        let mut p = proposal(&f, 2, ci.clone());
        p.prune = vec!["2".into()];
        assert!(refusal(&p).contains("own version"));
        p.prune = vec!["7".into()];
        assert!(refusal(&p).contains("unable to prune"));
        p.prune = vec!["1".into()];
        let c = check(&p, now()).unwrap();
        assert_eq!(c.changes["old-1"].0, Change::Pruned);
        assert!(c.signed["targets"].get("old-1").is_none());
        let mut bad_hash = target("2", "bb");
        bad_hash["hashes"]["sha256"] = json!("zz");
        assert!(refusal(&proposal(&f, 2, json!({"n": bad_hash}))).contains("64 hex"));
        let mut p = proposal(&f, 2, ci.clone());
        p.tag = "main/../x".into();
        assert!(refusal(&p).contains("characters"));
    }

    #[test]
    fn forged_roots_and_targets_are_refused() {
        let f = fx();
        let ci = json!({"new-2": target("2", "bb")});
        // A root whose signed part changed after signing.
        let mut p = proposal(&f, 2, ci.clone());
        p.prod_roots[0]["signed"]["expires"] = json!("2099-06-01T00:00:00Z");
        assert!(
            matches!(check(&p, now()), Err(WaveError::Refused(m)) if m.contains("does not verify"))
        );
        // Production targets the Factory did not sign.
        let mut p = proposal(&f, 2, ci.clone());
        let cur = p.current.as_mut().unwrap();
        cur["signed"]["targets"]["planted-1"] = target("1", "cc");
        assert!(
            matches!(check(&p, now()), Err(WaveError::Refused(m)) if m.contains("no valid signature"))
        );
        // A chain that does not start at 1.
        let mut p = proposal(&f, 2, ci);
        p.prod_roots[0]["signed"]["version"] = json!(2);
        assert!(check(&p, now()).is_err());
    }

    #[test]
    fn proposals_and_bundles_are_strict() {
        let f = fx();
        let p = proposal(&f, 2, json!({"new-2": target("2", "bb")}));
        let mut v: Value = serde_json::from_slice(&p.to_bytes()).unwrap();
        v["threshhold"] = json!(1);
        let e = WaveProposal::from_slice(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(e.to_string().contains("threshhold"), "{e}");
        let bytes = p.to_bytes();
        let c = check(&p, now()).unwrap();
        let sig = signature_entry(&f.targets_id, &f.targets_key, &c.canonical).unwrap();
        let b = WaveBundle {
            format: WAVE_BUNDLE_FORMAT.into(),
            proposal_sha256: crate::sha256::hex(&bytes),
            name: "w".into(),
            version: 2,
            tag: "main".into(),
            signed_sha256: c.signed_sha256.clone(),
            signatures: vec![sig],
            transcript_head: None,
        };
        let back = WaveBundle::from_slice(&b.to_bytes()).unwrap();
        back.answers(&bytes, &p, &c).unwrap();
        let mut other = bytes.clone();
        other.push(b' ');
        assert!(back.answers(&other, &p, &c).is_err());
    }
}
