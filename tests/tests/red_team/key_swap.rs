//! Class 1: keys compared by id. A key whose content changes under the same
//! id, in a Factory's staged root (ota-tuf) or a TUF current root whose
//! keys no longer match their ids; unknown fields in a role, a key, a
//! keyval, `signed` and the envelope; `_type` changed.

use ceremony::Dialect;
use ceremony_tests::ota::key;
use serde_json::{json, Value};

use super::common::*;

/// The honest Factory rotation with the ci staged root edited by `edit`.
fn staged(edit: impl FnOnce(&mut Value)) -> Value {
    let mut p = factory().proposal();
    edit(&mut p["chains"][0]["staged"]);
    p
}

#[test]
fn honest_rotations_show_everything_they_sign() {
    // The control: an honest proposal in each dialect is signed, and the
    // oracle finds every change on the screen.
    let t = tuf();
    let mut problems = run_cases(
        vec![Case::new(
            "tuf honest v1 rotation",
            t.json("proposal.json"),
            either(&["-"]),
        )],
        || t.case(&["keys.tgz.age"]),
    );
    let f = factory();
    problems.extend(run_cases(
        vec![Case::new(
            "ota honest v1 rotation",
            f.proposal(),
            either(&["-"]),
        )],
        || f.case(&["keys.tgz.age"]),
    ));
    report("honest", problems);
}

#[test]
fn key_content_swapped_under_the_same_id() {
    let f = factory();
    let d = Dialect::OtaTuf;
    let mut cases = Vec::new();
    for role in ["targets", "snapshot", "timestamp"] {
        let id = f.role_key_id(role);
        let attacker = key(false).public_key().to_key_object(d);
        cases.push(Case::new(
            format!("ota staged root swaps the {role} key under id {id}"),
            staged(|s| s["signed"]["keys"][&id] = attacker),
            refuse(&[id.as_str()]),
        ));
    }
    let other = f.other_root_id();
    let attacker = key(false).public_key().to_key_object(d);
    cases.push(Case::new(
        "ota staged root swaps another holder's root key",
        staged(|s| s["signed"]["keys"][&other] = attacker),
        refuse(&[other.as_str()]),
    ));
    let id = f.role_key_id("targets");
    let rsa = key(true).public_key().to_key_object(d);
    cases.push(Case::new(
        "ota staged root turns the targets key into an RSA key under the same id",
        staged(|s| s["signed"]["keys"][&id] = rsa),
        refuse(&[id.as_str()]),
    ));
    let mut problems = run_cases(cases, || f.case(&["keys.tgz.age"]));

    // TUF: the current root (signed by the root key, as published) lists a
    // key whose content does not match its id.
    let t = tuf();
    let base = t.json("proposal.json");
    let current = &base["chains"][0]["current"];
    let mut cases = Vec::new();
    for role in ["targets", "snapshot", "timestamp"] {
        let id = current["signed"]["roles"][role]["keyids"][0]
            .as_str()
            .unwrap()
            .to_string();
        let mut env = current.clone();
        env["signed"]["keys"][&id] = key(false).public_key().to_key_object(Dialect::Tuf);
        let mut p = base.clone();
        p["chains"][0]["current"] = t.resign_v1(&env);
        cases.push(Case::new(
            format!("tuf current root's {role} key does not match its id"),
            p,
            refuse(&[id.as_str()]),
        ));
    }
    let id = current["signed"]["roles"]["targets"]["keyids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let mut env = current.clone();
    env["signed"]["keys"][&id]["keyval"]["x-note"] = json!("same id, other content");
    let mut p = base.clone();
    p["chains"][0]["current"] = t.resign_v1(&env);
    cases.push(Case::new(
        "tuf current root's targets keyval has an extra field (id no longer matches)",
        p,
        refuse(&[id.as_str()]),
    ));
    problems.extend(run_cases(cases, || t.case(&["keys.tgz.age"])));
    report("key content swap", problems);
}

#[test]
fn unknown_fields_and_type_in_the_staged_root() {
    let f = factory();
    let id = f.role_key_id("targets");
    let cases = vec![
        Case::new(
            "unknown field in a role",
            staged(|s| s["signed"]["roles"]["targets"]["x-paths"] = json!(["*"])),
            either(&["x-paths"]),
        ),
        Case::new(
            "unknown field in a key",
            staged(|s| s["signed"]["keys"][&id]["x-note"] = json!("mirror key")),
            either(&["x-note", id.as_str()]),
        ),
        Case::new(
            "unknown field in a keyval",
            staged(|s| s["signed"]["keys"][&id]["keyval"]["x-alt"] = json!("00ff")),
            either(&["x-alt", id.as_str()]),
        ),
        Case::new(
            "unknown field in signed",
            staged(|s| s["signed"]["x-mirror"] = json!("https://mirror.example/evil")),
            either(&["x-mirror"]),
        ),
        Case::new(
            "unknown field in the envelope",
            staged(|s| s["x-upload-hint"] = json!({"apply": "force"})),
            either(&["x-upload-hint"]),
        ),
        Case::new(
            "_type in another case",
            staged(|s| s["signed"]["_type"] = json!("root")),
            either(&["_type"]),
        ),
        Case::new(
            "_type of another role",
            staged(|s| s["signed"]["_type"] = json!("Targets")),
            either(&["_type", "Targets"]),
        ),
        Case::new(
            "consistent_snapshot flipped",
            staged(|s| s["signed"]["consistent_snapshot"] = json!(true)),
            either(&["consistent_snapshot"]),
        ),
        Case::new(
            "a fifth role",
            staged(|s| s["signed"]["roles"]["x-mirrors"] = json!({"keyids": [id], "threshold": 1})),
            either(&["x-mirrors"]),
        ),
    ];
    report(
        "unknown fields",
        run_cases(cases, || f.case(&["keys.tgz.age"])),
    );
}
