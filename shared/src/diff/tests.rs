//! The diff is complete: for random (current, new) pairs with changes at
//! every depth, the script applied to the current root gives the new one
//! exactly, and every edit is on the rendered screen, either said by a
//! summary line or printed with its path and values.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::render::name_shown;
use super::*;
use crate::keys::{NewKeyType, PrivateKey};
use crate::untrusted::escape_text;

fn keys() -> &'static [PublicKey] {
    static KEYS: OnceLock<Vec<PublicKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..4)
            .map(|_| {
                PrivateKey::generate(NewKeyType::Ed25519)
                    .unwrap()
                    .public_key()
            })
            .collect()
    })
}

fn id(k: &PublicKey) -> String {
    k.key_id(Dialect::Tuf)
}

fn current() -> RootMetadata {
    let k = keys();
    let mut ks = Map::new();
    for key in &k[..3] {
        ks.insert(id(key), key.to_key_object(Dialect::Tuf));
    }
    let role = |i: usize| json!({"keyids": [id(&k[i])], "threshold": 1});
    let env = json!({
        "signed": {
            "_type": "root", "spec_version": "1.0.31", "version": 1,
            "expires": "2030-01-01T00:00:00Z", "consistent_snapshot": true,
            "keys": ks,
            "roles": {"root": role(0), "targets": role(1), "snapshot": role(2), "timestamp": role(2)}
        },
        "signatures": [{"keyid": id(&k[0]), "sig": "00"}]
    });
    RootMetadata::from_value(env, Dialect::Tuf).unwrap()
}

/// Every object in the envelope but the signatures, by path.
fn objects(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Some(m) = v.as_object() {
        out.push(at.clone());
        for (k, child) in m {
            if at.is_empty() && k == "signatures" {
                continue;
            }
            at.push(k.clone());
            objects(child, at, out);
            at.pop();
        }
    }
}

fn get_mut<'a>(v: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(v, |v, s| &mut v[s.as_str()])
}

#[derive(Clone, Debug)]
enum Mutation {
    /// Set a field of the n-th object (adds or replaces).
    Set(usize, String, Value),
    /// Remove the k-th field of the n-th object.
    Remove(usize, usize),
    /// Put key 3 into keys, and into a role.
    AddKey(usize),
    /// Key 3 under a name of the generator's choosing, in a role.
    AddKeyAs(String, usize),
    /// Key content changes under the same id.
    SwapKey(usize),
    /// A role's threshold.
    Threshold(usize, u64),
    /// `_type`.
    Type(String),
}

fn names() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("x".to_string()),
        Just("threshold".to_string()),
        Just("keyids".to_string()),
        Just("public".to_string()),
        Just("a.b".to_string()),
        Just(String::new()),
        Just("line\nbreak".to_string()),
        Just("\u{1b}[2J".to_string()),
        Just("r\u{202e}tl".to_string()),
        Just("k  ed25519  fingerprint 00".to_string()),
        "[a-z_-]{1,8}",
    ]
}

fn values() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (1u64..10).prop_map(Value::from),
        Just(json!("2031-01-01T00:00:00Z")),
        "[ -~]{0,12}".prop_map(Value::from),
        Just(json!("esc\u{1b}[1A\u{9b}\u{202e}\u{200b}\n")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::vec((names(), inner), 0..3)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), names(), values()).prop_map(|(n, k, v)| Mutation::Set(n, k, v)),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(n, k)| Mutation::Remove(n, k)),
        1 => any::<usize>().prop_map(Mutation::AddKey),
        1 => any::<usize>().prop_map(Mutation::SwapKey),
        1 => (names(), any::<usize>()).prop_map(|(n, r)| Mutation::AddKeyAs(n, r)),
        1 => (any::<usize>(), 0u64..4).prop_map(|(r, t)| Mutation::Threshold(r, t)),
        1 => prop_oneof![Just("Root".to_string()), Just("targets".to_string())].prop_map(Mutation::Type),
    ]
}

const ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

fn mutate(env: &mut Value, m: &Mutation) {
    let k = keys();
    let mut objs = Vec::new();
    objects(env, &mut Vec::new(), &mut objs);
    match m {
        Mutation::Set(n, name, v) => {
            let p = &objs[n % objs.len()];
            if let Some(o) = get_mut(env, p).as_object_mut() {
                if !(p.is_empty() && name == "signatures") {
                    o.insert(name.clone(), v.clone());
                }
            }
        }
        Mutation::Remove(n, i) => {
            let p = &objs[n % objs.len()];
            if let Some(o) = get_mut(env, p).as_object_mut() {
                let names: Vec<String> = o
                    .keys()
                    .filter(|k| !(p.is_empty() && *k == "signatures"))
                    .cloned()
                    .collect();
                if !names.is_empty() {
                    o.shift_remove(&names[i % names.len()]);
                }
            }
        }
        Mutation::AddKey(r) => {
            if let Some(keys) = env["signed"]["keys"].as_object_mut() {
                keys.insert(id(&k[3]), k[3].to_key_object(Dialect::Tuf));
            }
            if let Some(ids) = env["signed"]["roles"][ROLES[r % 4]]["keyids"].as_array_mut() {
                ids.push(Value::from(id(&k[3])));
            }
        }
        Mutation::AddKeyAs(name, r) => {
            if let Some(keys) = env["signed"]["keys"].as_object_mut() {
                keys.insert(name.clone(), k[3].to_key_object(Dialect::Tuf));
            }
            if let Some(ids) = env["signed"]["roles"][ROLES[r % 4]]["keyids"].as_array_mut() {
                ids.push(Value::from(name.clone()));
            }
        }
        Mutation::SwapKey(i) => {
            let victim = id(&k[i % 3]);
            let other = k[3].to_key_object(Dialect::Tuf);
            if let Some(obj) = env["signed"]["keys"].get_mut(&victim) {
                *obj = other;
            }
        }
        Mutation::Threshold(r, t) => {
            if let Some(role) = env["signed"]["roles"][ROLES[r % 4]].as_object_mut() {
                role.insert("threshold".into(), Value::from(*t));
            }
        }
        Mutation::Type(t) => {
            if let Some(s) = env["signed"].as_object_mut() {
                s.insert("_type".into(), Value::from(t.clone()));
            }
        }
    }
}

/// Whether `edit` is visible in `text`: printed as a field, or said by the
/// summary line the renderer claims covers it.
fn visible(text: &str, e: &Edit, old: &RootMetadata) -> bool {
    let show = |v: Option<&Value>| {
        escape_text(&v.map_or_else(|| "(none)".into(), edit::compact)).into_owned()
    };
    let printed = text.contains(&format!(
        "  field {}:\n      before: {}\n      after:  {}\n",
        escape_text(&e.path().to_string()),
        show(e.before()),
        show(e.after())
    ));
    if printed {
        return true;
    }
    let segs = e.path().segments();
    let plain = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    };
    if e.path().is(&["signed", "version"]) || e.path().is(&["signed", "expires"]) {
        return text.contains(&format!("{} -> {}\n", plain(e.before()), plain(e.after())));
    }
    if e.path().starts_with(&["signed", "keys"]) && segs.len() == 3 {
        let (sign, obj) = match e {
            Edit::Add { value, .. } => ("+", value),
            Edit::Remove { old, .. } => ("-", old),
            Edit::Replace { .. } => return false,
        };
        let Ok(k) = PublicKey::from_key_object(obj, Dialect::Tuf) else {
            return false;
        };
        return k.to_key_object(Dialect::Tuf) == *obj
            && text.contains(&format!(
                "  {sign} key {}  {}  fingerprint {}\n",
                escape_text(&name_shown(&segs[2])),
                key_description(&k),
                k.fingerprint()
            ));
    }
    if e.path().starts_with(&["signed", "roles"])
        && (segs.len() == 3
            || segs.len() == 4 && segs[3] == "keyids"
            || segs.len() == 4 && segs[3] == "threshold")
    {
        let line = text.lines().find(|l| {
            l.starts_with(&format!(
                "  role {:<9} threshold",
                escape_text(&name_shown(&segs[2]))
            ))
        });
        let Some(line) = line else { return false };
        if segs.len() == 4 && segs[3] == "threshold" {
            return line.contains(&format!("-> {} of", plain(e.after())))
                || line.contains(&format!("threshold {} of", plain(e.after())));
        }
        // keyids, or a whole role: every id that comes or goes is listed.
        let ids = |v: Option<&Value>| -> Vec<String> {
            let v = v.and_then(|v| {
                if segs.len() == 3 {
                    v.get("keyids")
                } else {
                    Some(v)
                }
            });
            v.and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (b, a) = (ids(e.before()), ids(e.after()));
        let _ = old;
        return a
            .iter()
            .filter(|i| !b.contains(i))
            .all(|i| text.contains(&format!("      + {}\n", escape_text(&name_shown(i)))))
            && b.iter()
                .filter(|i| !a.contains(i))
                .all(|i| text.contains(&format!("      - {}\n", escape_text(&name_shown(i)))));
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn the_script_is_complete_and_all_of_it_is_shown(muts in prop::collection::vec(mutation(), 1..6)) {
        let old = current();
        let mut new = old.envelope().clone();
        for m in &muts {
            mutate(&mut new, m);
        }
        let script = Script::between(old.envelope(), &new);
        // (a) The script gives the new envelope exactly (signatures are not
        // the script's: the old ones stay).
        let applied = apply(old.envelope(), &script).unwrap();
        let mut expect = new.clone();
        expect["signatures"] = old.envelope()["signatures"].clone();
        prop_assert_eq!(&applied, &expect);
        // and byte for byte in canonical form, where there is one.
        if let (Ok(a), Ok(b)) = (
            to_canonical_bytes(&applied, Dialect::Tuf),
            to_canonical_bytes(&expect, Dialect::Tuf),
        ) {
            prop_assert_eq!(a, b);
        }
        // (b) Every edit is on the screen.
        let text = render(&old, &script, &Context::plain(Dialect::Tuf)).unwrap();
        for e in script.edits() {
            prop_assert!(visible(&text, e, &old), "edit {:?} not shown in:\n{}", e, text);
        }
        // Nothing dangerous reaches the screen.
        prop_assert!(!text.chars().any(|c| crate::untrusted::is_dangerous(c) && c != '\n'));
        prop_assert!(text.contains(&script.sha256()));
    }
}

#[test]
fn a_key_changed_under_the_same_id_shows_before_and_after() {
    let old = current();
    let k = keys();
    let victim = id(&k[1]);
    let mut env = old.envelope().clone();
    env["signed"]["keys"][&victim]["keyval"]["public"] =
        k[3].to_key_object(Dialect::Tuf)["keyval"]["public"].clone();
    let new = RootMetadata::from_value(env, Dialect::Tuf).unwrap();
    let text = RootDiff::between(&old, &new).to_string();
    let before = old.key_objects().unwrap()[&victim]["keyval"]["public"]
        .as_str()
        .unwrap()
        .to_string();
    let after = new.key_objects().unwrap()[&victim]["keyval"]["public"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains(&format!("  field signed.keys.{victim}.keyval.public:")),
        "{text}"
    );
    assert!(text.contains(&format!("before: \"{before}\"")), "{text}");
    assert!(text.contains(&format!("after:  \"{after}\"")), "{text}");
    assert!(
        text.contains("ITS CONTENT CHANGES UNDER THE SAME ID"),
        "{text}"
    );
    assert!(
        text.contains("role targets   threshold 1 of 1  (A KEY OF THIS ROLE CHANGES CONTENT"),
        "{text}"
    );
    assert!(
        !text.contains("role targets   threshold 1 of 1  (unchanged)"),
        "{text}"
    );
    // And it is refused, naming the id.
    let err = check_same_ids(&old, "current", &new, "new").unwrap_err();
    assert!(err.to_string().contains(&victim), "{err}");
    // The TUF id no longer matches the key either.
    let err = check_key_ids(&new, "new").unwrap_err();
    assert!(matches!(err, KeyIdentityError::IdMismatch { .. }), "{err}");
    assert!(check_key_ids(&old, "current").is_ok());
}

#[test]
fn full_ids_and_fingerprints_and_provided_keys() {
    let old = current();
    let k = keys();
    let mut env = old.envelope().clone();
    env["signed"]["keys"][id(&k[3])] = k[3].to_key_object(Dialect::Tuf);
    env["signed"]["roles"]["root"]["keyids"] = json!([id(&k[0]), id(&k[3])]);
    let new = RootMetadata::from_value(env, Dialect::Tuf).unwrap();
    let script = Script::between(old.envelope(), new.envelope());
    let ctx = Context {
        provided: vec![Provided {
            keyid: id(&k[3]),
            holder: Some("alice\n  role root (unchanged)".into()),
        }],
        anchor: AnchorNote::Set,
        ..Context::plain(Dialect::Tuf)
    };
    let text = render(&old, &script, &ctx).unwrap();
    assert!(
        text.contains(&format!(
            "  + key {}  ed25519  fingerprint {}\n",
            id(&k[3]),
            k[3].fingerprint()
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "provided by the proposal, made elsewhere; holder name as claimed, unverified: \
             alice\\u{a}  role root (unchanged)\n"
        ),
        "{text}"
    );
    assert!(text.contains(&format!("      + {}\n", id(&k[3]))), "{text}");
    assert!(text.contains("field signed.x-ceremony: this ceremony's transcript anchor"));
    // The key id list is said by the role lines: nothing else printed.
    assert!(!text.contains("field signed.roles"), "{text}");
}

#[test]
fn one_key_under_two_ids_in_a_role_is_refused_in_every_dialect() {
    let k = keys();
    for d in [Dialect::Tuf, Dialect::OtaTuf] {
        let mut env = current().envelope().clone();
        let twin = "ab".repeat(32);
        env["signed"]["keys"][&twin] = k[0].to_key_object(d);
        env["signed"]["roles"]["root"] = json!({"keyids": [id(&k[0]), twin], "threshold": 2});
        let r = RootMetadata::from_value(env, d).unwrap();
        let err = check_key_ids(&r, "new").unwrap_err();
        assert!(
            matches!(&err, KeyIdentityError::SameKeyTwice { role, second, .. }
                if role == "root" && *second == twin),
            "{d:?}: {err}"
        );
    }
    // One key in two roles (snapshot and timestamp here) is not a twin.
    assert!(check_key_ids(&current(), "current").is_ok());
}
