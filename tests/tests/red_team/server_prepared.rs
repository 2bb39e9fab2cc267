//! Classes 1 and 4: who made each change, and key ids in full. A Factory's
//! staged root carries changes the server prepared (not this ceremony's
//! rotation): they must be shown in their own section ("prepared by the
//! server, not by this ceremony") and need their own confirmation, a
//! second, distinct question before anything is signed. And key ids that
//! share their first 16 characters with the one they stand beside must be
//! told apart on the screen.

use ceremony::Dialect;
use ceremony_tests::ota::key;
use serde_json::{json, Value};

use super::common::*;

fn staged(edit: impl FnOnce(&mut Value)) -> Value {
    let mut p = factory().proposal();
    edit(&mut p["chains"][0]["staged"]["signed"]);
    p
}

/// The server's changes had their own section and their own question.
fn own_confirmation(s: &Signed) -> Vec<String> {
    let mut p = Vec::new();
    // The first-use question (it asks to trust the current root) is not a
    // confirmation of changes.
    let asked: Vec<(usize, &String)> = s
        .talk
        .prompts
        .iter()
        .enumerate()
        .filter(|(_, q)| !q.to_lowercase().contains("trust"))
        .collect();
    let Some((first, _)) = asked.first() else {
        return vec!["no confirmation was asked at all".into()];
    };
    if !s.talk.screens[*first]
        .to_lowercase()
        .contains("prepared by the server")
    {
        p.push("no section \"prepared by the server\" before the first confirmation".into());
    }
    let distinct: std::collections::BTreeSet<&String> = asked.iter().map(|(_, q)| *q).collect();
    if asked.len() < 2 || distinct.len() < 2 {
        p.push(format!(
            "the server's changes had no confirmation of their own: questions {:?}",
            s.talk.prompts
        ));
    }
    p
}

#[test]
fn server_prepared_changes_need_their_own_confirmation() {
    let f = factory();
    let d = Dialect::OtaTuf;
    let extra = key(false).public_key();
    let extra_id = extra.key_id(d);
    let tid = f.role_key_id("targets");
    let cases = vec![
        Case::new(
            "server adds a targets key",
            staged(|s| {
                s["keys"][&extra_id] = extra.to_key_object(d);
                s["roles"]["targets"]["keyids"] = json!([tid, extra_id]);
            }),
            either(&["server"]),
        )
        .check(own_confirmation),
        Case::new(
            "server raises the targets threshold",
            staged(|s| s["roles"]["targets"]["threshold"] = json!(2)),
            either(&["server"]),
        )
        .check(own_confirmation),
        Case::new(
            "server shortens the expiry",
            staged(|s| s["expires"] = json!(ceremony_tests::ota::in_days(40))),
            either(&["server"]),
        )
        .check(own_confirmation),
    ];
    report(
        "server-prepared",
        run_cases(cases, || f.case(&["keys.tgz.age"])),
    );
}

#[test]
fn key_ids_sharing_16_characters_are_told_apart() {
    let f = factory();
    let d = Dialect::OtaTuf;
    let tid = f.role_key_id("targets");
    // ota-tuf never recomputes an id: the server may name a key as it likes.
    let twin = format!("{}{}", &tid[..16], "0".repeat(48));
    let ours = f.ci.find_key_id(&f.root_key.public_key()).unwrap();
    let root_twin = format!("{}{}", &ours[..16], "f".repeat(48));
    let cases = vec![
        Case::new(
            "targets key replaced by one whose id shares 16 characters",
            staged(|s| {
                s["keys"].as_object_mut().unwrap().remove(&tid);
                s["keys"][&twin] = key(false).public_key().to_key_object(d);
                s["roles"]["targets"]["keyids"] = json!([twin]);
            }),
            either(&[twin.as_str()]),
        )
        .shows(&twin),
        Case::new(
            "a root key added whose id shares 16 characters with ours",
            staged(|s| {
                s["keys"][&root_twin] = key(false).public_key().to_key_object(d);
                s["roles"]["root"]["keyids"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!(root_twin));
            }),
            either(&[root_twin.as_str()]),
        )
        .shows(&root_twin),
    ];
    report(
        "key id prefixes",
        run_cases(cases, || f.case(&["keys.tgz.age"])),
    );
}

#[test]
fn full_key_ids_wherever_keys_are_compared() {
    // `submitter show` of a root names every key id in full; `signer
    // review` of a proposal and `signer list` of an archive every root key
    // id.
    let t = tuf();
    let d = t.path();
    let root = t.json("repo/metadata/2.root.json");
    let all_ids: Vec<String> = root["signed"]["keys"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let root_ids: Vec<String> = root["signed"]["roles"]["root"]["keyids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let mut problems = Vec::new();
    for (bin, args, ids) in [
        (
            "submitter",
            vec!["show", "repo/metadata/2.root.json"],
            &all_ids,
        ),
        ("signer", vec!["review", "p2.json"], &root_ids),
        (
            "signer",
            vec!["list", "new.tgz.age", "--passphrase-file", "pass.txt"],
            &root_ids,
        ),
    ] {
        let out = ceremony_tests::cmd::run_in(d, bin, &args);
        let said = ceremony_tests::cmd::text(&out);
        problems.extend(raw_problems(bin, &out.stdout));
        for id in ids {
            if !said.contains(id.as_str()) {
                problems.push(format!(
                    "{bin} {}: key id {id} not shown in full",
                    args.join(" ")
                ));
            }
        }
    }
    report("full key ids", problems);
}
