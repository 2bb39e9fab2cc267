//! Class 3: trust anchors keyed by free text. Against an archive anchored
//! by one honest ceremony (TUF chain `root` at v2; Factory `ci`/`prod` at
//! v2): renamed and added chains, chain names that would be archive entry
//! names (`a/b`, `..`, empty, 300 characters), a rolled-back v1, the
//! anchor's predecessor with and without `--last-bundle-not-applied`, and a
//! renamed target.

use serde_json::{json, Value};

use super::common::*;

fn renamed(p: &Value, to: &str) -> Value {
    let mut p = p.clone();
    p["chains"][0]["name"] = json!(to);
    p
}

#[test]
fn tuf_anchor_bound_to_target_and_chain() {
    let t = tuf();
    let v2 = t.json("p2.json");
    let v1 = t.json("proposal.json");
    let mut cases = vec![
        Case::new("anchored honest v2 rotation", v2.clone(), Expect::Sign).anchored(),
        Case::new(
            "chain `root ` (v2)",
            renamed(&v2, "root "),
            refuse(&["chain"]),
        )
        .anchored(),
        Case::new(
            "chain `Root` (v2)",
            renamed(&v2, "Root"),
            refuse(&["chain"]),
        )
        .anchored(),
        Case::new(
            "chain `root` + zero-width space (v2)",
            renamed(&v2, "root\u{200b}"),
            refuse(&["chain"]),
        )
        .anchored(),
        Case::new(
            "rolled-back v1 under chain `root `",
            renamed(&v1, "root "),
            refuse(&["chain"]),
        )
        .anchored(),
        Case::new(
            "rolled-back v1 (the anchor's predecessor)",
            v1.clone(),
            refuse(&["--last-bundle-not-applied"]),
        )
        .anchored(),
        Case::new(
            "the anchor's predecessor, the operator says the last bundle was never applied",
            v1.clone(),
            Expect::Sign,
        )
        .anchored()
        .arg("--last-bundle-not-applied")
        .check(|s| {
            let t =
                std::fs::read_to_string(s.dir.join("bundle.transcript.jsonl")).unwrap_or_default();
            if t.contains("not-applied") || t.contains("not applied") || t.contains("not_applied") {
                Vec::new()
            } else {
                vec!["the transcript does not record that the last bundle was not applied".into()]
            }
        }),
    ];
    let mut added = v2.clone();
    let mut second = added["chains"][0].clone();
    second["name"] = json!("root2");
    added["chains"].as_array_mut().unwrap().push(second);
    cases.push(Case::new("an added chain `root2`", added, refuse(&["root2"])).anchored());
    for (what, name) in [
        ("a/b", "a/b".to_string()),
        ("..", "..".to_string()),
        ("empty", String::new()),
        ("300 characters", "r".repeat(300)),
    ] {
        cases.push(
            Case::new(
                format!("chain name {what}"),
                renamed(&v2, &name),
                refuse(&["chain"]),
            )
            .anchored(),
        );
    }
    // The same repository's rolled-back v1 under another folder name: a
    // new target, so either refused or a first-use question that names it.
    let mut moved = v1.clone();
    moved["target"]["path"] = json!("/srv/elsewhere/metadata");
    cases.push(
        Case::new(
            "rolled-back v1 under another target path",
            moved,
            either(&["target", "anchor"]),
        )
        .anchored()
        .shows("/srv/elsewhere/metadata")
        .shows("new target"),
    );
    report("tuf anchors", run_cases(cases, || t.case(&["new.tgz.age"])));
}

#[test]
fn factory_anchor_bound_to_target_and_chain() {
    let f = factory();
    let v2 = f.anchored.clone();
    let v1 = f.proposal();
    let mut cases = vec![
        Case::new("anchored honest v2 rotation", v2.clone(), Expect::Sign).anchored(),
        Case::new("chain `ci ` (v2)", renamed(&v2, "ci "), refuse(&["chain"])).anchored(),
        Case::new(
            "chain `root` in a Factory",
            renamed(&v2, "root"),
            refuse(&["chain"]),
        )
        .anchored(),
        Case::new(
            "rolled-back v1 (the anchor's predecessor)",
            v1.clone(),
            refuse(&["--last-bundle-not-applied"]),
        )
        .anchored(),
        Case::new(
            "rolled-back v1 as chain `CI`",
            renamed(&v1, "CI"),
            refuse(&["chain"]),
        )
        .anchored(),
    ];
    let mut moved = v1.clone();
    moved["target"]["factory"] = json!("acme-2");
    cases.push(
        Case::new(
            "rolled-back v1 under another Factory name",
            moved,
            either(&["target", "anchor"]),
        )
        .anchored()
        .shows("acme-2")
        .shows("new target"),
    );
    report(
        "factory anchors",
        run_cases(cases, || f.case(&["new.tgz.age"])),
    );
}
