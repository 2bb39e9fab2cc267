//! Classes 6 and 7 (strictness): unknown and misspelt proposal fields,
//! `staged` in a TUF proposal, version u64::MAX, the transcript marker in
//! a message, prod before ci, envelope fields of a staged root, a staged
//! root small when compact and too large pretty-printed, guard rails.

use ceremony::Dialect;
use serde_json::{json, Value};

use super::common::*;

fn edit(p: &Value, f: impl FnOnce(&mut Value)) -> Value {
    let mut p = p.clone();
    f(&mut p);
    p
}

/// The bundle's roots, by chain name.
fn bundle_roots(s: &Signed) -> Vec<(String, Value)> {
    let b: Value =
        serde_json::from_slice(&std::fs::read(s.dir.join("bundle.json")).unwrap_or_default())
            .unwrap_or(Value::Null);
    b["roots"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("").to_string(),
                r["root"].clone(),
            )
        })
        .collect()
}

#[test]
fn unknown_proposal_fields_and_tuf_staging() {
    let t = tuf();
    let v1 = t.json("proposal.json");
    let mut staged_root = v1["chains"][0]["current"].clone();
    staged_root["signed"]["version"] = json!(2);
    staged_root["signed"]["x-server"] = json!("prepared");
    let cases = vec![
        Case::new(
            "unknown top-level field",
            edit(&v1, |p| p["x-auto-apply"] = json!(true)),
            refuse(&["x-auto-apply"]),
        ),
        Case::new(
            "misspelt change field",
            edit(&v1, |p| p["change"]["threshhold"] = json!(1)),
            refuse(&["threshhold"]),
        ),
        Case::new(
            "unknown chain field",
            edit(&v1, |p| p["chains"][0]["stagged"] = json!(null)),
            refuse(&["stagged"]),
        ),
        Case::new(
            "unknown target field",
            edit(&v1, |p| p["target"]["proxy"] = json!("http://evil")),
            refuse(&["proxy"]),
        ),
        Case::new(
            "unknown history entry field",
            edit(&v1, |p| {
                p["chains"][0]["history"][0]["verified_by"] = json!("me")
            }),
            refuse(&["verified_by"]),
        ),
        Case::new(
            "staged root in a TUF proposal",
            edit(&v1, |p| p["chains"][0]["staged"] = staged_root),
            refuse(&["staged"]),
        ),
        Case::new(
            "threshold 0",
            edit(&v1, |p| p["change"]["threshold"] = json!(0)),
            refuse(&["threshold"]),
        ),
        Case::new(
            "expiry in two days (guard rail)",
            edit(&v1, |p| {
                p["change"]["expires"] = json!(ceremony_tests::ota::in_days(2))
            }),
            refuse(&["--force"]),
        ),
    ];
    let mut problems = run_cases(cases, || t.case(&["keys.tgz.age"]));

    // version u64::MAX in a current root signed as published.
    let mut env = v1["chains"][0]["current"].clone();
    env["signed"]["version"] = json!(u64::MAX);
    let mut p = v1.clone();
    p["chains"][0]["current"] = t.resign_v1(&env);
    p["chains"][0]["history"][0]["version"] = json!(u64::MAX);
    problems.extend(run_cases(
        vec![Case::new(
            "tuf current version u64::MAX",
            p,
            refuse(&["version"]),
        )],
        || t.case(&["keys.tgz.age"]),
    ));
    report("unknown fields and staging", problems);
}

#[test]
fn factory_strictness() {
    let f = factory();
    let v1 = f.proposal();
    let marker = format!("yearly [tuf-ceremony transcript {}]", "ab".repeat(32));
    // Nested arrays: 42 KB compact, some 700 KB pretty-printed.
    let pad: Vec<Value> = (0..2000).map(|_| json!([[[[[[[[[[0]]]]]]]]]])).collect();
    let mut cases = vec![
        Case::new(
            "staged version u64::MAX",
            edit(&v1, |p| {
                p["chains"][0]["staged"]["signed"]["version"] = json!(u64::MAX)
            }),
            refuse(&["version"]),
        ),
        Case::new(
            "transcript marker in the change message",
            edit(&v1, |p| p["change"]["message"] = json!(marker.clone())),
            refuse(&["message", "marker"]),
        ),
        Case::new(
            "transcript marker in the staged x-changelog message",
            edit(&v1, |p| {
                p["chains"][0]["staged"]["signed"]["x-changelog"]["message"] = json!(marker.clone())
            }),
            refuse(&["message", "marker"]),
        ),
        Case::new(
            "prod before ci",
            edit(&v1, |p| p["chains"].as_array_mut().unwrap().reverse()),
            either(&["prod", "ci"]),
        )
        .check(|s| {
            // Whatever the order, prod is derived from the new CI root:
            // the same keys and root role.
            let roots = bundle_roots(s);
            let get = |n: &str| {
                roots
                    .iter()
                    .find(|(c, _)| c == n)
                    .map(|(_, r)| r["signed"].clone())
            };
            match (get("ci"), get("prod")) {
                (Some(ci), Some(prod))
                    if ci["keys"] != prod["keys"]
                        || ci["roles"]["root"] != prod["roles"]["root"] =>
                {
                    vec!["prod was not derived from the new CI root".into()]
                }
                _ => Vec::new(),
            }
        }),
        Case::new(
            "envelope fields of the staged root",
            edit(&v1, |p| {
                p["chains"][0]["staged"]["x-apply"] = json!({"force": true})
            }),
            either(&["x-apply"]),
        )
        .check(|s| {
            bundle_roots(s)
                .into_iter()
                .filter(|(_, r)| {
                    r.as_object()
                        .is_some_and(|o| o.keys().any(|k| k != "signed" && k != "signatures"))
                })
                .map(|(c, _)| format!("chain {c}: an envelope field not ours would be uploaded"))
                .collect()
        }),
        Case::new(
            "staged root small compact, too large pretty-printed",
            edit(&v1, |p| {
                p["chains"][0]["staged"]["signed"]["x-pad"] = json!(pad)
            }),
            either(&["size", "bytes", "large", "KiB"]),
        )
        // Refused before the confirmation: at most the first-use question.
        .refused_within(1)
        .check(|s| {
            bundle_roots(s)
                .into_iter()
                .filter(|(_, r)| serde_json::to_vec_pretty(r).unwrap().len() > 64 * 1024)
                .map(|(c, _)| format!("chain {c}: signed a root over 64 KiB pretty-printed"))
                .collect()
        }),
    ];
    // A provided key made elsewhere must be marked so on the screen.
    let t = tuf();
    let pubkey = t.json("pubkey.json");
    let key = super::escapes::tuf_key_object(&pubkey);
    let id = ceremony::keys::PublicKey::from_pem(pubkey["spki_pem"].as_str().unwrap())
        .unwrap()
        .key_id(Dialect::Tuf);
    let provided = edit(&t.json("proposal.json"), |p| {
        p["change"]["provided_keys"] = json!([{"key": key, "holder": "alice"}])
    });
    let mut problems = run_cases(std::mem::take(&mut cases), || f.case(&["keys.tgz.age"]));
    problems.extend(run_cases(
        vec![Case::new(
            "a provided key, made elsewhere",
            provided,
            either(&["provided"]),
        )
        .shows(&id)
        .shows("alice")],
        || t.case(&["keys.tgz.age"]),
    ));
    report("factory strictness", problems);
}
