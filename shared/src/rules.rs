//! The rotation rules: the one place that decides whether a root may follow
//! another.
//!
//! Every command that accepts a root (the signer before it writes a bundle, the
//! submitter before upload and after re-fetching, `audit` over a history) calls
//! [`check_step`] or [`check_history`], so there is one answer to "is this
//! root valid" in the whole tool. The answer is a [`Verdict`] a human can read:
//! per threshold, which keys signed and which are missing, and which rule
//! failed.
//!
//! The rules (DESIGN.md):
//! 1. `version` is exactly N+1;
//! 2. a threshold of the previous root's root keys signed, and a threshold of
//!    the new root's own root keys;
//! 3. signatures count by distinct public key, not key id, and a key id
//!    repeated in `signatures` is an error;
//! 4. all four top-level roles present, every threshold ≥ 1, every
//!    referenced key id exists, root key types supported. A threshold above
//!    its role's key count is legal for the other roles (aktualizr and
//!    python-tuf check only ≥ 1, and every FoundriesFactory production root
//!    carries `targets` threshold 2 over one online key until an offline
//!    targets key is added): it is a [`Warning`], not a failure. Only a root
//!    threshold that can never be met is refused;
//! 5. the final root of a chain is not expired;
//! 6. the dialect's size and string rules hold.

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use serde::Serialize;
use time::OffsetDateTime;

use crate::dialect::Dialect;
use crate::keys::PublicKey;
use crate::root::{format_expires, parse_expires, RootMetadata, TOP_LEVEL_ROLES};

/// Which rule a failure breaks, with a stable id for scripts and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// Rule 1: the version is not exactly the previous one plus one.
    Version,
    /// Rule 2: too few of the previous root's keys signed.
    OldThreshold,
    /// Rule 2: too few of the new root's own keys signed.
    NewThreshold,
    /// Rule 3: one key id appears twice in `signatures`.
    DuplicateKeyid,
    /// Rule 4: roles, thresholds, key ids or key types are malformed.
    Structure,
    /// Rule 5: the final root has expired.
    Expired,
    /// Rule 6: too large, or has no canonical form in its dialect.
    Dialect,
}

impl Rule {
    /// The stable id printed in reports and `--json`.
    pub fn id(self) -> &'static str {
        match self {
            Rule::Version => "version",
            Rule::OldThreshold => "old-threshold",
            Rule::NewThreshold => "new-threshold",
            Rule::DuplicateKeyid => "duplicate-keyid",
            Rule::Structure => "structure",
            Rule::Expired => "expired",
            Rule::Dialect => "dialect",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A broken rule and what exactly broke it.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// The rule.
    pub rule: Rule,
    /// What a human needs to know to fix it.
    pub message: String,
}

/// What a warning is about, with a stable id for scripts and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningKind {
    /// A non-root role's threshold is above its number of keys: clients
    /// accept the root, but metadata of that role verifies only once more
    /// keys are added.
    ThresholdAboveKeys,
}

impl WarningKind {
    /// The stable id printed in reports and `--json`.
    pub fn id(self) -> &'static str {
        match self {
            WarningKind::ThresholdAboveKeys => "threshold-above-keys",
        }
    }
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Something legal a human should know about a root: it does not refuse it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// What it is about.
    pub kind: WarningKind,
    /// The role concerned.
    pub role: String,
    /// What a human needs to know.
    pub message: String,
}

/// A key as a report shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct KeyRef {
    /// The id the root lists it under.
    pub keyid: String,
    /// sha256 of the public key (SPKI DER), independent of dialect.
    pub fingerprint: String,
    /// `ed25519`, `rsa`, `ecdsa-p256`, or `unreadable`.
    pub key_type: String,
    /// Key size in bits.
    pub bits: usize,
}

impl KeyRef {
    fn new(keyid: &str, key: &PublicKey) -> Self {
        KeyRef {
            keyid: keyid.to_string(),
            fingerprint: key.fingerprint(),
            key_type: key.key_type().to_string(),
            bits: key.bits(),
        }
    }
}

/// Which root's keys a threshold is counted against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThresholdOf {
    /// The root being replaced (vN).
    Previous,
    /// The new root itself (vN+1).
    Own,
}

/// How one threshold fared: k of n, who signed, who did not.
#[derive(Clone, Debug, Serialize)]
pub struct ThresholdReport {
    /// Whose keys.
    pub of: ThresholdOf,
    /// The version of the root whose root role is counted.
    pub root_version: Option<u64>,
    /// Signatures needed.
    pub threshold: u64,
    /// Distinct root keys that root lists.
    pub keys_total: usize,
    /// Keys with a valid signature, each counted once.
    pub signed: Vec<KeyRef>,
    /// Keys without a valid signature.
    pub missing: Vec<KeyRef>,
    /// Signatures under one of this role's ids that did not verify, and why.
    pub invalid: Vec<(String, String)>,
}

impl ThresholdReport {
    /// Whether enough distinct keys signed.
    pub fn met(&self) -> bool {
        self.threshold >= 1 && self.signed.len() as u64 >= self.threshold
    }
}

/// The outcome of checking one root against its predecessor.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// The version the new root claims, when readable.
    pub version: Option<u64>,
    /// The previous root's version, or `None` for a root trusted on its own.
    pub previous_version: Option<u64>,
    /// `expires` of the new root, as written.
    pub expires: Option<String>,
    /// Whether expiry was checked (only for the final root of a chain).
    pub expiry_checked: bool,
    /// The previous root's threshold, then the new root's own.
    pub thresholds: Vec<ThresholdReport>,
    /// Every rule broken; empty when the root is accepted.
    pub failures: Vec<Failure>,
    /// What holds but deserves a look; never a reason to refuse.
    pub warnings: Vec<Warning>,
}

impl Verdict {
    /// Whether the root is accepted.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// The first rule broken, if any.
    pub fn first_failure(&self) -> Option<&Failure> {
        self.failures.first()
    }

    fn fail(&mut self, rule: Rule, message: impl Into<String>) {
        self.failures.push(Failure {
            rule,
            message: message.into(),
        });
    }
}

/// Checks `new` as the successor of `previous`, or, with no previous root, as
/// a root that must meet its own threshold (the first root of a history with
/// nothing trusted before it). `expiry_at` checks expiry as of that moment;
/// `None` skips the check, as for intermediate roots of a chain.
pub fn check_step(
    previous: Option<&RootMetadata>,
    new: &RootMetadata,
    expiry_at: Option<OffsetDateTime>,
) -> Verdict {
    let mut v = Verdict {
        version: new.version().ok(),
        previous_version: previous.and_then(|p| p.version().ok()),
        expires: new.expires_str().map(str::to_owned),
        expiry_checked: false,
        thresholds: Vec::new(),
        failures: Vec::new(),
        warnings: Vec::new(),
    };

    // Rule 6: the bytes every signature covers must exist in this dialect.
    let message = match new.canonical_signed() {
        Ok(m) => Some(m),
        Err(e) => {
            v.fail(Rule::Dialect, e.to_string());
            None
        }
    };
    let size = new.byte_len();
    if size > new.dialect().max_root_size() {
        v.fail(
            Rule::Dialect,
            format!(
                "the root is {size} bytes; {} clients refuse roots over {} bytes",
                new.dialect(),
                new.dialect().max_root_size()
            ),
        );
    }

    check_structure(new, &mut v);

    // Rule 1.
    match (previous.map(RootMetadata::version), new.version()) {
        (Some(Ok(p)), Ok(n)) => match next_version(p) {
            Some(want) if n == want => {}
            Some(want) => v.fail(
                Rule::Version,
                format!("version is {n}, but it must be exactly {want} (previous is {p})"),
            ),
            None => v.fail(
                Rule::Version,
                format!(
                    "the previous root is version {p}, the largest there is: no root can follow it"
                ),
            ),
        },
        (Some(Err(e)), _) => v.fail(Rule::Structure, format!("previous root: {e}")),
        _ => {}
    }

    // Rule 3, first half: a repeated key id.
    let signatures = match new.signatures() {
        Ok(s) => s,
        Err(e) => {
            v.fail(Rule::Structure, e.to_string());
            Vec::new()
        }
    };
    let mut seen = HashSet::new();
    for s in &signatures {
        if !seen.insert(s.keyid.as_str()) {
            v.fail(
                Rule::DuplicateKeyid,
                format!(
                    "key id {} appears more than once in signatures (devices and the spec refuse this)",
                    s.keyid
                ),
            );
        }
    }

    // Rule 2, counted by distinct public key (rule 3, second half).
    if let Some(message) = &message {
        let mut checker = SignatureChecker {
            dialect: new.dialect(),
            message,
            signatures: &signatures,
            results: Vec::new(),
        };
        if let Some(prev) = previous {
            let report = count_threshold(prev, ThresholdOf::Previous, &mut checker);
            if !report.met() {
                v.fail(Rule::OldThreshold, threshold_message(&report));
            }
            v.thresholds.push(report);
        }
        let report = count_threshold(new, ThresholdOf::Own, &mut checker);
        if !report.met() {
            v.fail(Rule::NewThreshold, threshold_message(&report));
        }
        v.thresholds.push(report);
    }

    // Rule 5.
    if let Some(at) = expiry_at {
        check_expiry(&mut v, at);
    }
    v
}

/// Rule 5 on a step already checked: the root it judges expires after
/// `at`. Applied to the final root of a chain only; [`check_step`] applies
/// it when given a moment, and a walk that learns which root is final only
/// at its end applies it then, with the same result (the verdict keeps the
/// root's `expires` as written).
pub fn check_expiry(v: &mut Verdict, at: OffsetDateTime) {
    v.expiry_checked = true;
    if let Some(Ok(exp)) = v.expires.as_deref().map(parse_expires) {
        if exp <= at {
            v.fail(
                Rule::Expired,
                format!(
                    "expired at {} (checked as of {}); clients refuse an expired final root",
                    format_expires(exp),
                    format_expires(at)
                ),
            );
        }
    }
}

fn threshold_message(r: &ThresholdReport) -> String {
    let whose = match (r.of, r.root_version) {
        (ThresholdOf::Previous, Some(n)) => format!("the previous root's (v{n}) root keys"),
        (ThresholdOf::Previous, None) => "the previous root's root keys".to_string(),
        (ThresholdOf::Own, _) => "its own root keys".to_string(),
    };
    let mut msg = format!(
        "signed by {} of {} needed from {whose} ({} listed)",
        r.signed.len(),
        r.threshold,
        r.keys_total
    );
    if !r.missing.is_empty() {
        let ids: Vec<&str> = r.missing.iter().map(|k| short(&k.keyid)).collect();
        msg.push_str(&format!("; missing: {}", ids.join(", ")));
    }
    for (id, why) in &r.invalid {
        msg.push_str(&format!(
            "; signature by {} does not verify: {why}",
            short(id)
        ));
    }
    msg
}

/// The first 16 hex digits of a key id, as reports print it.
pub fn short(id: &str) -> &str {
    id.get(..16).unwrap_or(id)
}

/// Verifies each (signature, key) pair at most once per step: a key that is
/// a root key of both the previous and the new root is checked for both
/// thresholds, and verifying is the expensive part of an audit.
struct SignatureChecker<'a> {
    dialect: Dialect,
    message: &'a [u8],
    signatures: &'a [crate::root::SignatureEntry],
    results: Vec<(usize, PublicKey, Result<(), String>)>,
}

impl SignatureChecker<'_> {
    fn verify(&mut self, index: usize, key: &PublicKey) -> Result<(), String> {
        if let Some((_, _, r)) = self
            .results
            .iter()
            .find(|(i, k, _)| *i == index && k == key)
        {
            return r.clone();
        }
        let s = &self.signatures[index];
        let result = match &s.sig {
            Ok(sig) => key
                .verify(self.dialect, self.message, sig, s.method.as_deref())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        self.results.push((index, key.clone(), result.clone()));
        result
    }
}

fn count_threshold(
    role_root: &RootMetadata,
    of: ThresholdOf,
    checker: &mut SignatureChecker<'_>,
) -> ThresholdReport {
    let role = role_root.role("root").ok();
    let threshold = role.as_ref().map_or(0, |r| r.threshold);
    let keyids = role.map(|r| r.keyids).unwrap_or_default();

    // The role's keys, once each by public key; a key listed under two ids
    // is one key.
    let mut keys: Vec<(String, PublicKey)> = Vec::new();
    for id in &keyids {
        if let Ok(key) = role_root.key(id) {
            if !keys.iter().any(|(_, k)| k == &key) {
                keys.push((id.clone(), key));
            }
        }
    }

    let mut signed_keys: Vec<PublicKey> = Vec::new();
    let mut invalid = Vec::new();
    for index in 0..checker.signatures.len() {
        let keyid = checker.signatures[index].keyid.clone();
        if !keyids.contains(&keyid) {
            continue; // Signatures by other keys are ignored, as the spec says.
        }
        let Ok(key) = role_root.key(&keyid) else {
            continue;
        };
        match checker.verify(index, &key) {
            Ok(()) if !signed_keys.contains(&key) => signed_keys.push(key),
            Ok(()) => {}
            Err(why) => invalid.push((keyid, why)),
        }
    }

    let (signed, missing): (Vec<_>, Vec<_>) =
        keys.iter().partition(|(_, k)| signed_keys.contains(k));
    ThresholdReport {
        of,
        root_version: role_root.version().ok(),
        threshold,
        keys_total: keys.len(),
        signed: signed
            .into_iter()
            .map(|(id, k)| KeyRef::new(id, k))
            .collect(),
        missing: missing
            .into_iter()
            .map(|(id, k)| KeyRef::new(id, k))
            .collect(),
        invalid,
    }
}

fn check_structure(root: &RootMetadata, v: &mut Verdict) {
    if let Err(e) = root.version() {
        v.fail(Rule::Structure, e.to_string());
    }
    if let Err(e) = root.expires() {
        v.fail(Rule::Dialect, e.to_string());
    }
    let key_objects = match root.key_objects() {
        Ok(k) => k,
        Err(e) => {
            v.fail(Rule::Structure, e.to_string());
            return;
        }
    };
    for name in TOP_LEVEL_ROLES {
        let role = match root.role(name) {
            Ok(r) => r,
            Err(e) => {
                v.fail(Rule::Structure, e.to_string());
                continue;
            }
        };
        if role.threshold == 0 {
            v.fail(
                Rule::Structure,
                format!("roles.{name}.threshold is 0; it must be at least 1"),
            );
        }
        let distinct: BTreeSet<&String> = role.keyids.iter().collect();
        if distinct.len() != role.keyids.len() {
            v.fail(
                Rule::Structure,
                format!("roles.{name}.keyids lists one key id more than once"),
            );
        }
        let count = distinct.len() as u64;
        if role.threshold > count && name == "root" {
            // Nothing could ever sign this root's successor: the fleet
            // would be stuck on it.
            v.fail(
                Rule::Structure,
                format!(
                    "roles.root.threshold is {} but the role has only {count} keys: it can never be met",
                    role.threshold,
                ),
            );
        } else if role.threshold > count {
            v.warnings.push(Warning {
                kind: WarningKind::ThresholdAboveKeys,
                role: name.to_string(),
                message: format!(
                    "roles.{name}.threshold is {} but the role has only {count} key(s): devices accept \
                     the root, but {name} metadata verifies only once the role has {} key(s) that sign it",
                    role.threshold, role.threshold
                ),
            });
        }
        for id in &role.keyids {
            if !key_objects.contains_key(id) {
                v.fail(
                    Rule::Structure,
                    format!("roles.{name} refers to key {id}, which keys does not list"),
                );
            } else if name == "root" {
                if let Err(e) = root.key(id) {
                    v.fail(Rule::Structure, e.to_string());
                }
            }
        }
    }
    if root.dialect() == Dialect::Tuf {
        // TUF key ids are derived from the key: a mismatch means the id was
        // forged or the key edited. (ota-tuf ids are never recomputed: older
        // fioctl releases used another scheme.)
        if let Ok(role) = root.role("root") {
            for id in &role.keyids {
                if let Ok(key) = root.key(id) {
                    let expect = key.key_id(Dialect::Tuf);
                    if &expect != id {
                        v.fail(
                            Rule::Structure,
                            format!(
                                "key id {id} does not match its key (which hashes to {expect})"
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// The outcome of checking a whole root history.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryVerdict {
    /// One verdict per root checked, oldest first.
    pub steps: Vec<Verdict>,
    /// The version the check started from, when a trusted root was given.
    pub trusted_version: Option<u64>,
}

impl HistoryVerdict {
    /// Whether every step holds.
    pub fn ok(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(Verdict::ok)
    }

    /// The first step that fails, if any.
    pub fn first_failure(&self) -> Option<&Verdict> {
        self.steps.iter().find(|s| !s.ok())
    }
}

/// The version a root after `version` must have; `None` for `u64::MAX`,
/// which nothing can follow (wrapping to 0 would give a root no client
/// accepts, and a debug build would panic).
pub fn next_version(version: u64) -> Option<u64> {
    version.checked_add(1)
}

/// Checks a history of roots in order. With `trusted`, the first root of
/// `chain` must follow it; without, the first root must meet its own
/// threshold. Only the final root's expiry is checked, as of `at`; the chain
/// stops at the first failing step, since nothing after it can be trusted.
pub fn check_history(
    trusted: Option<&RootMetadata>,
    chain: &[RootMetadata],
    at: OffsetDateTime,
) -> HistoryVerdict {
    let mut steps = Vec::with_capacity(chain.len());
    let mut previous = trusted;
    for (i, root) in chain.iter().enumerate() {
        let is_final = i + 1 == chain.len();
        let verdict = check_step(previous, root, is_final.then_some(at));
        let ok = verdict.ok();
        steps.push(verdict);
        if !ok {
            break;
        }
        previous = Some(root);
    }
    HistoryVerdict {
        steps,
        trusted_version: trusted.and_then(|t| t.version().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dialect;

    fn root(version: u64) -> RootMetadata {
        RootMetadata::from_value(
            serde_json::json!({"signed": {"_type": "root", "version": version,
                "expires": "2030-01-01T00:00:00Z", "keys": {}, "roles": {}}, "signatures": []}),
            Dialect::Tuf,
        )
        .unwrap()
    }

    fn breaks_version_rule(previous: u64, new: u64) -> bool {
        check_step(Some(&root(previous)), &root(new), None)
            .failures
            .iter()
            .any(|f| matches!(f.rule, Rule::Version))
    }

    /// A signed ota-tuf root v`version`: one root key (threshold
    /// `root_threshold`), one online key for the other roles, the targets
    /// role with `targets_threshold`.
    fn factory_root(
        version: u64,
        root_key: &crate::keys::PrivateKey,
        online: &crate::keys::PublicKey,
        root_threshold: u64,
        targets_threshold: u64,
    ) -> RootMetadata {
        let d = Dialect::OtaTuf;
        let (r, o) = (root_key.public_key().key_id(d), online.key_id(d));
        let role = serde_json::json!({"keyids": [o], "threshold": 1});
        let mut root = RootMetadata::from_value(
            serde_json::json!({"signatures": [], "signed": {
                "_type": "Root", "consistent_snapshot": false,
                "expires": "2030-01-01T00:00:00Z", "version": version,
                "keys": {r.clone(): root_key.public_key().to_key_object(d),
                         o.clone(): online.to_key_object(d)},
                "roles": {"root": {"keyids": [r.clone()], "threshold": root_threshold},
                    "snapshot": role, "timestamp": role,
                    "targets": {"keyids": [o], "threshold": targets_threshold}},
            }}),
            d,
        )
        .unwrap();
        root.sign(&r, root_key).unwrap();
        root
    }

    fn keys() -> (crate::keys::PrivateKey, crate::keys::PublicKey) {
        use crate::keys::{NewKeyType, PrivateKey};
        let root = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
        let online = PrivateKey::generate(NewKeyType::Ed25519)
            .unwrap()
            .public_key();
        (root, online)
    }

    #[test]
    fn a_production_targets_threshold_above_its_keys_is_a_warning() {
        let (rk, online) = keys();
        let v1 = factory_root(1, &rk, &online, 1, 2);
        let v2 = factory_root(2, &rk, &online, 1, 2);
        let at = OffsetDateTime::now_utc();
        let history = check_history(None, &[v1.clone(), v2.clone()], at);
        assert!(history.ok(), "{:?}", history.first_failure());
        for step in &history.steps {
            assert_eq!(step.warnings.len(), 1, "{:?}", step.warnings);
            let w = &step.warnings[0];
            assert_eq!(w.kind, WarningKind::ThresholdAboveKeys);
            assert_eq!(w.role, "targets");
            assert!(w.message.contains("threshold is 2"), "{}", w.message);
        }
        // Within its key count: no warning.
        let v3 = factory_root(3, &rk, &online, 1, 1);
        let step = check_step(Some(&v2), &v3, Some(at));
        assert!(step.ok() && step.warnings.is_empty(), "{step:?}");
        // And the JSON carries it.
        let json = serde_json::to_value(&history.steps[1]).unwrap();
        assert_eq!(json["warnings"][0]["kind"], "threshold-above-keys");
        assert_eq!(json["warnings"][0]["role"], "targets");
    }

    #[test]
    fn a_root_threshold_that_can_never_be_met_is_refused() {
        let (rk, online) = keys();
        let v1 = factory_root(1, &rk, &online, 1, 1);
        let v2 = factory_root(2, &rk, &online, 2, 1);
        let step = check_step(Some(&v1), &v2, None);
        assert!(!step.ok());
        let structure: Vec<&Failure> = step
            .failures
            .iter()
            .filter(|f| f.rule == Rule::Structure)
            .collect();
        assert_eq!(structure.len(), 1, "{:?}", step.failures);
        assert!(
            structure[0].message.contains("roles.root.threshold is 2"),
            "{}",
            structure[0].message
        );
        assert!(step.warnings.is_empty());
    }

    #[test]
    fn version_rule_uses_checked_arithmetic() {
        assert!(!breaks_version_rule(1, 2));
        assert!(breaks_version_rule(1, 3));
        assert!(!breaks_version_rule(u64::MAX - 1, u64::MAX));
        // Saturating arithmetic once let MAX follow MAX.
        assert!(breaks_version_rule(u64::MAX, u64::MAX));
        assert!(breaks_version_rule(u64::MAX, 1));
        assert_eq!(next_version(u64::MAX), None);
    }
}
