//! Co-signing the roots a server staged, as they are: a transaction another
//! holder began (with fioctl's `keys tuf updates sign`, or our signer's
//! partial bundle) is completed by adding signatures, never by changing
//! the body, since any body change clears every signature (fioctl's
//! `finalizeTufRootChanges`).
//!
//! Two sides use it. The signer keeps only the staged signatures that
//! verify under a root key of the current or the staged root and says which
//! it dropped; the submitter, before its `PUT`, unites the signatures the
//! server holds with the bundle's, for the same body only.

use serde_json::Value;

use crate::root::{RootError, RootMetadata};

/// One signature found on a staged root, judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Existing {
    /// The key id the entry names (the server's string: untrusted).
    pub keyid: String,
    /// `Ok(which)`: it verifies under that root key of the `current` or
    /// the `new` root; `Err(why)`: it is dropped, and why.
    pub verdict: Result<&'static str, String>,
}

/// Judges each signature of `staged` over its own `signed` body: kept when
/// it verifies under a root key (by that id) of `current` or of `staged`
/// itself, and is the first entry under its key id; dropped otherwise.
pub fn judge(current: &RootMetadata, staged: &RootMetadata) -> Result<Vec<Existing>, RootError> {
    let message = staged.canonical_signed()?;
    let dialect = staged.dialect();
    let mut out: Vec<Existing> = Vec::new();
    for s in staged.signatures()? {
        let verdict = if out.iter().any(|e| e.keyid == s.keyid) {
            Err("a second signature under the same key id".to_string())
        } else {
            let mut found = Err("no root key of the current or the staged root has this id".into());
            for (which, root) in [("current", current), ("new", staged)] {
                let is_root_key = root
                    .role("root")
                    .map(|r| r.keyids.contains(&s.keyid))
                    .unwrap_or(false);
                if !is_root_key {
                    continue;
                }
                let checked = match (&s.sig, root.key(&s.keyid)) {
                    (Err(e), _) => Err(format!("the signature does not decode: {e}")),
                    (_, Err(e)) => Err(format!("the key listed under that id is unusable: {e}")),
                    (Ok(sig), Ok(key)) => key
                        .verify(dialect, &message, sig, s.method.as_deref())
                        .map(|()| which)
                        .map_err(|e| format!("it does not verify over the staged body: {e}")),
                };
                // A key listed in both roots under the same id is one key:
                // the first root that verifies it names it.
                found = checked;
                if found.is_ok() {
                    break;
                }
            }
            found
        };
        out.push(Existing {
            keyid: s.keyid,
            verdict,
        });
    }
    Ok(out)
}

/// `staged` with only the signatures [`judge`] keeps, in their order.
pub fn keep_valid(
    current: &RootMetadata,
    staged: &RootMetadata,
) -> Result<RootMetadata, RootError> {
    let judged = judge(current, staged)?;
    let list = staged.envelope()["signatures"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut out = staged.clone();
    out.clear_signatures();
    for (entry, j) in list.into_iter().zip(&judged) {
        if j.verdict.is_ok() {
            out.add_signature_value(entry);
        }
    }
    Ok(out)
}

/// The signatures to `PUT` for a root whose body the server staged too:
/// the server's, then ours (replacing the server's under the same key id,
/// as fioctl's `updates sign` replaces them). `None` when the bodies
/// differ: the staged root changed since the proposal, and uniting the
/// signatures of two bodies would only make a root no key signed.
pub fn unite(server: &RootMetadata, ours: &RootMetadata) -> Option<RootMetadata> {
    if !crate::bundle_check::same_signed(server, ours) {
        return None;
    }
    let mut out = ours.clone();
    out.clear_signatures();
    let list = |r: &RootMetadata| -> Vec<Value> {
        r.envelope()["signatures"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    for entry in list(server).into_iter().chain(list(ours)) {
        out.add_signature_value(entry);
    }
    Some(out)
}

/// Where a staged production root differs from the staged CI root beyond
/// what fioctl's `genProdTufRoot` changes (a copy of the CI root with its
/// own targets role, the keys only that role uses, and the production
/// chain's version): the differing members of `signed` by name
/// (`roles.root`, `keys.<id>`, `expires`; escaped), empty when it is
/// derived. Signing staged roots as they are, the server could otherwise
/// slip a root key or an expiry into production that the CI diff beside it
/// does not have.
pub fn prod_not_derived(ci: &RootMetadata, prod: &RootMetadata) -> Vec<String> {
    let comparable = |r: &RootMetadata| -> serde_json::Map<String, Value> {
        let mut s = r.envelope()["signed"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        s.remove("version");
        if let Some(roles) = s.get_mut("roles").and_then(Value::as_object_mut) {
            roles.remove("targets");
        }
        // Keys no remaining role lists are the targets role's own.
        let used: Vec<String> = s
            .get("roles")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|roles| roles.values())
            .filter_map(|r| r.get("keyids").and_then(Value::as_array))
            .flatten()
            .filter_map(|id| id.as_str().map(str::to_string))
            .collect();
        if let Some(keys) = s.get_mut("keys").and_then(Value::as_object_mut) {
            keys.retain(|id, _| used.contains(id));
        }
        s
    };
    let (a, b) = (comparable(ci), comparable(prod));
    let mut out = Vec::new();
    let names: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for name in names {
        let (x, y) = (a.get(name), b.get(name));
        if x == y {
            continue;
        }
        match (x.and_then(Value::as_object), y.and_then(Value::as_object)) {
            (Some(x), Some(y)) if name == "roles" || name == "keys" => {
                let inner: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in inner {
                    if x.get(k) != y.get(k) {
                        out.push(format!("{}.{}", name, crate::untrusted::escape(k)));
                    }
                }
            }
            _ => out.push(crate::untrusted::escape(name).into_owned()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{NewKeyType, PrivateKey};
    use crate::Dialect;
    use serde_json::json;

    fn root(version: u64, keys: &[&PrivateKey], threshold: u64) -> RootMetadata {
        let d = Dialect::OtaTuf;
        let ids: Vec<String> = keys.iter().map(|k| k.public_key().key_id(d)).collect();
        let objs: serde_json::Map<String, Value> = keys
            .iter()
            .map(|k| (k.public_key().key_id(d), k.public_key().to_key_object(d)))
            .collect();
        RootMetadata::from_value(
            json!({"signed": {"_type": "Root", "version": version,
                "expires": "2030-01-01T00:00:00Z", "keys": objs,
                "roles": {"root": {"keyids": ids, "threshold": threshold}}},
                "signatures": []}),
            d,
        )
        .unwrap()
    }

    fn key() -> PrivateKey {
        PrivateKey::generate(NewKeyType::Ed25519).unwrap()
    }

    fn id(k: &PrivateKey) -> String {
        k.public_key().key_id(Dialect::OtaTuf)
    }

    #[test]
    fn valid_signatures_are_kept_and_others_dropped_with_a_reason() {
        let (a, b, c, stranger) = (key(), key(), key(), key());
        let current = root(1, &[&a], 1);
        let mut staged = root(2, &[&b, &c], 2);
        staged.sign(&id(&a), &a).unwrap();
        staged.sign(&id(&b), &b).unwrap();
        // A signature by a key neither root lists, and one of c's over
        // another body.
        staged.sign(&id(&stranger), &stranger).unwrap();
        let mut other = root(3, &[&c], 1);
        other.sign(&id(&c), &c).unwrap();
        staged.add_signature_value(other.envelope()["signatures"][0].clone());
        let judged = judge(&current, &staged).unwrap();
        let v: Vec<(&str, bool)> = judged
            .iter()
            .map(|e| (e.keyid.as_str(), e.verdict.is_ok()))
            .collect();
        assert_eq!(
            v,
            [
                (id(&a).as_str(), true),
                (id(&b).as_str(), true),
                (id(&stranger).as_str(), false),
                (id(&c).as_str(), false)
            ]
        );
        assert_eq!(judged[0].verdict, Ok("current"));
        assert_eq!(judged[1].verdict, Ok("new"));
        assert!(judged[3]
            .verdict
            .as_ref()
            .unwrap_err()
            .contains("does not verify"));
        let kept = keep_valid(&current, &staged).unwrap();
        let ids: Vec<String> = kept
            .signatures()
            .unwrap()
            .into_iter()
            .map(|s| s.keyid)
            .collect();
        assert_eq!(ids, [id(&a), id(&b)]);
        // The body is untouched.
        assert_eq!(
            kept.canonical_signed().unwrap(),
            staged.canonical_signed().unwrap()
        );
    }

    #[test]
    fn unite_keeps_the_servers_signatures_and_refuses_another_body() {
        let (a, b) = (key(), key());
        let base = root(2, &[&a, &b], 2);
        let mut server = base.clone();
        server.sign(&id(&a), &a).unwrap();
        let mut ours = base.clone();
        ours.sign(&id(&b), &b).unwrap();
        let united = unite(&server, &ours).unwrap();
        let mut ids: Vec<String> = united
            .signatures()
            .unwrap()
            .into_iter()
            .map(|s| s.keyid)
            .collect();
        ids.sort();
        let mut want = [id(&a), id(&b)];
        want.sort();
        assert_eq!(ids, want);
        let changed = root(2, &[&a], 1);
        assert!(unite(&changed, &ours).is_none());
    }

    #[test]
    fn a_production_root_is_derived_when_only_its_targets_role_and_version_differ() {
        let (a, t, offline, extra) = (key(), key(), key(), key());
        let with = |edit: &dyn Fn(&mut Value)| {
            let mut env = root(2, &[&a], 1).envelope().clone();
            env["signed"]["keys"][id(&t)] = t.public_key().to_key_object(Dialect::OtaTuf);
            env["signed"]["roles"]["targets"] = json!({"keyids": [id(&t)], "threshold": 1});
            edit(&mut env);
            RootMetadata::from_value(env, Dialect::OtaTuf).unwrap()
        };
        let ci = with(&|_| {});
        // fioctl's production root: its own version, targets threshold and
        // an offline targets key.
        let prod = with(&|e| {
            e["signed"]["version"] = json!(7);
            e["signed"]["keys"][id(&offline)] = offline.public_key().to_key_object(Dialect::OtaTuf);
            e["signed"]["roles"]["targets"] =
                json!({"keyids": [id(&t), id(&offline)], "threshold": 2});
        });
        assert!(prod_not_derived(&ci, &prod).is_empty());
        let hostile = with(&|e| {
            e["signed"]["keys"][id(&extra)] = extra.public_key().to_key_object(Dialect::OtaTuf);
            e["signed"]["roles"]["root"]["keyids"]
                .as_array_mut()
                .unwrap()
                .push(json!(id(&extra)));
            e["signed"]["expires"] = json!("2099-01-01T00:00:00Z");
        });
        assert_eq!(
            prod_not_derived(&ci, &hostile),
            vec![
                "expires".to_string(),
                format!("keys.{}", id(&extra)),
                "roles.root".to_string()
            ]
        );
    }
}
