//! What `GET …/root/updates` lists as `amendments` and `issues`: objects of
//! the shape fioctl decodes (`TufRootAmendment`: `kind`, `message`, and
//! `args` as a map of strings), so that `fioctl keys tuf updates review`
//! can print them.
//!
//! The comparison reads the two root envelopes as plain JSON, apart from the
//! `ceremony` crate, so that the simulator's report does not repeat the
//! project's own reading of a root.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

/// One `{kind, message, args}` object. `args` values are strings because
/// fioctl decodes them into `map[string]string` and fails on anything else.
pub fn issue(kind: &str, message: String, args: &[(&str, &str)]) -> Value {
    let args: Map<String, Value> = args
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
        .collect();
    json!({"kind": kind, "message": message, "args": args})
}

fn ids(role: &Value) -> BTreeSet<String> {
    crate::accept::key_ids(role).into_iter().collect()
}

fn names(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The changes from the `current` root envelope to the `staged` one of the
/// chain `root` ("ci" or "prod"), one amendment per change: the version,
/// the expiry, keys added to or dropped from the key list, key ids added to
/// or removed from a role, a role's threshold.
pub fn between(root: &str, current: &Value, staged: &Value) -> Vec<Value> {
    let (cur, new) = (&current["signed"], &staged["signed"]);
    let mut out = Vec::new();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "(none)".into(),
        other => other.to_string(),
    };
    if cur["version"] != new["version"] {
        let (a, b) = (text(&cur["version"]), text(&new["version"]));
        out.push(issue(
            "version",
            format!("{root} root: version {a} -> {b}"),
            &[("root", root), ("from", &a), ("to", &b)],
        ));
    }
    if cur["expires"] != new["expires"] {
        let (a, b) = (text(&cur["expires"]), text(&new["expires"]));
        out.push(issue(
            "expires",
            format!("{root} root: expires {a} -> {b}"),
            &[("root", root), ("from", &a), ("to", &b)],
        ));
    }
    let (old_keys, new_keys) = (names(&cur["keys"]), names(&new["keys"]));
    for id in new_keys.difference(&old_keys) {
        out.push(issue(
            "add-key",
            format!("{root} root: key {id} added"),
            &[("root", root), ("keyid", id)],
        ));
    }
    for id in old_keys.difference(&new_keys) {
        out.push(issue(
            "remove-key",
            format!("{root} root: key {id} removed"),
            &[("root", root), ("keyid", id)],
        ));
    }
    let roles: BTreeSet<String> = names(&cur["roles"])
        .union(&names(&new["roles"]))
        .cloned()
        .collect();
    for role in &roles {
        let (a, b) = (&cur["roles"][role], &new["roles"][role]);
        let (old_ids, new_ids) = (ids(a), ids(b));
        for id in new_ids.difference(&old_ids) {
            out.push(issue(
                "add-role-key",
                format!("{root} root: key {id} now signs for {role}"),
                &[("root", root), ("role", role), ("keyid", id)],
            ));
        }
        for id in old_ids.difference(&new_ids) {
            out.push(issue(
                "remove-role-key",
                format!("{root} root: key {id} no longer signs for {role}"),
                &[("root", root), ("role", role), ("keyid", id)],
            ));
        }
        if a["threshold"] != b["threshold"] {
            let (x, y) = (text(&a["threshold"]), text(&b["threshold"]));
            out.push(issue(
                "threshold",
                format!("{root} root: {role} threshold {x} -> {y}"),
                &[("root", root), ("role", role), ("from", &x), ("to", &y)],
            ));
        }
    }
    out
}
