//! Strictness of proposals and plans, through the binary (issue 12, item 7
//! and the "weaker" list): unknown fields refused by name at every level,
//! chain names checked per dialect, `staged` refused in TUF, the largest
//! version refused instead of wrapped, CI built before prod whatever the
//! order, envelope fields not ours dropped, size limits checked on what
//! will be uploaded before any key exists, and the review's wording.
//!
//! Every refusal runs `signer sign` with an archive path that does not
//! exist and without `--yes`: the refusal named here can only be what is
//! printed if it came before the archive was opened and before any
//! confirmation was asked. The folder is hashed before and after.

use std::path::Path;
use std::process::Output;

use ceremony::keys::{NewKeyType, PrivateKey};
use ceremony::proposal::{Proposal, ProvidedKey, Target, PROPOSAL_FORMAT};
use ceremony::rotation::{self, Plans};
use ceremony::{Dialect, RootMetadata};
use ceremony_tests::prelude::*;
use serde_json::{json, Value};
use time::OffsetDateTime;

/// `signer sign` that can get no further than the preflight: the archive
/// is absent and nothing answers the confirmation.
fn sign_without_archive() -> Vec<String> {
    SignArgs::new().keys("absent.tgz.age").no_yes().to_vec()
}

/// Runs `args` in `dir` and checks the exit status, that stderr holds every
/// word (case-insensitive), that no panic happened, and that the folder is
/// byte for byte as before.
#[track_caller]
fn refused<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S], code: i32, words: &[&str]) -> Output {
    let before = hash_dir(dir);
    let out = signer(dir, args);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(code), "{t}");
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    for w in words {
        assert!(stderr.contains(&w.to_lowercase()), "missing {w:?} in\n{t}");
    }
    assert!(!stderr.contains("panicked"), "{t}");
    assert!(
        !stderr.contains("absent.tgz.age"),
        "the archive was reached:\n{t}"
    );
    assert_eq!(hash_dir(dir), before, "the folder changed:\n{t}");
    out
}

/// `refused` for `signer sign` alone.
#[track_caller]
fn sign_refuses(dir: &Path, proposal: &Value, code: i32, words: &[&str]) {
    std::fs::write(dir.join("proposal.json"), pretty(proposal)).unwrap();
    refused(dir, &sign_without_archive(), code, words);
    std::fs::remove_file(dir.join("proposal.json")).unwrap();
}

/// `refused` for both `signer review` and `signer sign`.
#[track_caller]
fn both_refuse(dir: &Path, proposal: &Value, code: i32, words: &[&str]) {
    std::fs::write(dir.join("proposal.json"), pretty(proposal)).unwrap();
    refused(dir, &["review", "proposal.json"], code, words);
    refused(dir, &sign_without_archive(), code, words);
    std::fs::remove_file(dir.join("proposal.json")).unwrap();
}

fn edit(v: &Value, f: impl FnOnce(&mut Value)) -> Value {
    let mut v = v.clone();
    f(&mut v);
    v
}

/// A Factory at v1 imported into `dir`, and its rotation proposal as JSON.
fn factory(dir: &Path) -> (OtaFactory, Value) {
    let f = OtaFactory::new(false);
    f.import(dir, Vec::new());
    let p = serde_json::to_value(f.rotation()).unwrap();
    (f, p)
}

/// A TUF root of `version` with `root_key` for the root role and `online`
/// for the other three, signed by `root_key`.
fn tuf_root(version: u64, root_key: &PrivateKey, online: &PrivateKey) -> Value {
    let d = Dialect::Tuf;
    let (r, o) = (root_key.public_key(), online.public_key());
    let (rid, oid) = (r.key_id(d), o.key_id(d));
    let role = json!({"keyids": [oid.clone()], "threshold": 1});
    let env = json!({"signatures": [], "signed": {
        "_type": "root", "spec_version": "1.0.31", "consistent_snapshot": true,
        "expires": in_days(300), "version": version,
        "keys": {rid.clone(): r.to_key_object(d), oid: o.to_key_object(d)},
        "roles": {"root": {"keyids": [rid.clone()], "threshold": 1}, "snapshot": role,
            "targets": role, "timestamp": role},
    }});
    let mut root = RootMetadata::from_value(env, d).unwrap();
    root.sign(&rid, root_key).unwrap();
    root.envelope().clone()
}

/// A TUF proposal rotating every root key of a v1 root.
fn tuf_proposal() -> Value {
    let (rk, online) = (key(false), key(false));
    json!({
        "format": PROPOSAL_FORMAT,
        "dialect": "tuf",
        "target": {"kind": "tuf-dir", "path": "/nonexistent/metadata"},
        "created": in_days(0),
        "chains": [{"name": "root", "current": tuf_root(1, &rk, &online), "history": []}],
        "change": {"rotate": "all", "expires": in_days(365)},
    })
}

fn signed_of(bundle: &Value, chain: &str) -> Value {
    bundle["roots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == chain)
        .unwrap_or_else(|| panic!("no {chain} root in the bundle"))["root"]["signed"]
        .clone()
}

#[test]
fn unknown_fields_are_refused_by_name_at_every_level() {
    let dir = tempfile::tempdir().unwrap();
    let (_f, p) = factory(dir.path());
    let provided = serde_json::to_value(ProvidedKey {
        key: key(false).public_key().to_key_object(Dialect::OtaTuf),
        holder: Some("bob".into()),
    })
    .unwrap();
    let with_provided = edit(&p, |v| v["change"]["provided_keys"] = json!([provided]));
    for (v, path, field) in [
        (
            edit(&p, |v| v["signature"] = json!("x")),
            "the proposal",
            "signature",
        ),
        (
            edit(&p, |v| v["target"]["token"] = json!("x")),
            "target",
            "token",
        ),
        (
            edit(&p, |v| v["chains"][1]["stagd"] = json!({})),
            "chains[1]",
            "stagd",
        ),
        (
            edit(&p, |v| {
                v["chains"][0]["history"][0]["verified"] = json!(true)
            }),
            "chains[0].history[0]",
            "verified",
        ),
        (
            edit(&p, |v| v["change"]["threshhold"] = json!(2)),
            "change",
            "threshhold",
        ),
        (
            edit(&with_provided, |v| {
                v["change"]["provided_keys"][0]["fingerprint"] = json!("ab")
            }),
            "change.provided_keys[0]",
            "fingerprint",
        ),
    ] {
        let field = format!("\"{field}\"");
        both_refuse(
            dir.path(),
            &v,
            1,
            &[&field, path, "another version or tampered with"],
        );
    }
    // The same proposal without them is fine (it signs in the tests below).
    std::fs::write(dir.path().join("proposal.json"), pretty(&with_provided)).unwrap();
    let out = signer(dir.path(), ["review", "proposal.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn chain_names_are_checked_before_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let tuf = tuf_proposal();
    let long = "r".repeat(300);
    for bad in [
        "root ",
        "a/b",
        "",
        "..",
        long.as_str(),
        "Root",
        "ci",
        "prod",
    ] {
        let v = edit(&tuf, |v| v["chains"][0]["name"] = json!(bad));
        both_refuse(dir.path(), &v, 3, &["chain", "tuf proposal"]);
    }
    // Two chains in TUF, even both called root.
    let two = edit(&tuf, |v| {
        let c = v["chains"][0].clone();
        v["chains"].as_array_mut().unwrap().push(c);
    });
    both_refuse(dir.path(), &two, 3, &["root chain twice"]);
    // A 300-character name is not printed whole.
    std::fs::write(
        dir.path().join("proposal.json"),
        pretty(&edit(&tuf, |v| v["chains"][0]["name"] = json!(long))),
    )
    .unwrap();
    let out = refused(
        dir.path(),
        &sign_without_archive(),
        3,
        &["(300 characters)"],
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&long));
    std::fs::remove_file(dir.path().join("proposal.json")).unwrap();

    let (_f, p) = factory(dir.path());
    for bad in ["root", "CI", "ci ", "../prod", "prod/ci", ""] {
        let v = edit(&p, |v| v["chains"][1]["name"] = json!(bad));
        both_refuse(dir.path(), &v, 3, &["chain", "ota-tuf proposal"]);
    }
    let twice = edit(&p, |v| v["chains"][1]["name"] = json!("ci"));
    both_refuse(dir.path(), &twice, 3, &["ci chain twice"]);
}

#[test]
fn staged_is_refused_in_a_tuf_proposal() {
    let dir = tempfile::tempdir().unwrap();
    let tuf = tuf_proposal();
    let v = edit(&tuf, |v| {
        let mut staged = v["chains"][0]["current"].clone();
        staged["signed"]["version"] = json!(2);
        staged["signatures"] = json!([]);
        v["chains"][0]["staged"] = staged;
    });
    both_refuse(dir.path(), &v, 3, &["staged", "no staging"]);
}

#[test]
fn the_largest_version_is_refused_not_wrapped() {
    let dir = tempfile::tempdir().unwrap();
    let (f, p) = factory(dir.path());
    let max = u64::MAX.to_string();
    // A Factory whose ci root is at u64::MAX, properly signed.
    let mut ci = ota_root(
        u64::MAX,
        &[f.root_key.public_key()],
        1,
        &f.online,
        &in_days(300),
    );
    sign_root(&mut ci, &[&f.root_key]);
    let v = edit(&p, |v| {
        v["chains"][0]["current"] = ci.envelope().clone();
        v["chains"][0]["staged"] = Value::Null;
        v["chains"][0]["history"] = json!([]);
    });
    both_refuse(dir.path(), &v, 3, &[&max, "largest version"]);
    // Prod at the end of the numbers, derived from a ci at v1.
    let v = edit(&p, |v| v["chains"][1]["current"] = ci.envelope().clone());
    both_refuse(dir.path(), &v, 3, &[&max, "prod"]);
    // And TUF.
    let (rk, online) = (key(false), key(false));
    let v = edit(&tuf_proposal(), |v| {
        v["chains"][0]["current"] = tuf_root(u64::MAX, &rk, &online)
    });
    both_refuse(dir.path(), &v, 3, &[&max]);
}

#[test]
fn ci_is_built_first_and_prod_derived_from_it_whatever_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let (_f, p) = factory(dir.path());
    let v = edit(&p, |v| {
        // prod's own staged root, which a prod derived from ci never uses.
        let mut prod_staged = v["chains"][0]["staged"].clone();
        prod_staged["signed"]["x-prod-only"] = json!("built from prod's staged root");
        v["chains"][1]["staged"] = prod_staged;
        v["chains"].as_array_mut().unwrap().reverse();
    });
    assert_eq!(v["chains"][0]["name"], "prod");
    write_proposal_json(dir.path(), &v);
    ok(&signer(dir.path(), SignArgs::new()));
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("bundle.json")).unwrap()).unwrap();
    let names: Vec<&str> = bundle["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ci", "prod"]);
    let (ci, prod) = (signed_of(&bundle, "ci"), signed_of(&bundle, "prod"));
    assert!(prod.get("x-prod-only").is_none(), "{prod:#}");
    assert_eq!(prod["x-changelog"], ci["x-changelog"]);
    assert_eq!(prod["roles"]["root"], ci["roles"]["root"]);
    assert_eq!(prod["keys"], ci["keys"]);
}

fn write_proposal_json(dir: &Path, v: &Value) {
    std::fs::write(dir.join("proposal.json"), pretty(v)).unwrap();
}

#[test]
fn envelope_fields_not_ours_are_not_uploaded() {
    let dir = tempfile::tempdir().unwrap();
    let (_f, p) = factory(dir.path());
    let v = edit(&p, |v| {
        v["chains"][0]["staged"]["x-upload-me"] = json!("covered by no signature");
        v["chains"][0]["current"]["x-current"] = json!(1);
        v["chains"][1]["current"]["targets-signatures"] = json!({});
    });
    write_proposal_json(dir.path(), &v);
    ok(&signer(dir.path(), SignArgs::new()));
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("bundle.json")).unwrap()).unwrap();
    for r in bundle["roots"].as_array().unwrap() {
        let keys: Vec<&String> = r["root"].as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 2, "{}: {keys:?}", r["name"]);
        assert!(r["root"].get("signed").is_some() && r["root"].get("signatures").is_some());
    }

    // A prod-only proposal, built from its current root.
    let dir = tempfile::tempdir().unwrap();
    let (_f, p) = factory(dir.path());
    let v = edit(&p, |v| {
        v["chains"].as_array_mut().unwrap().remove(0);
        v["chains"][0]["current"]["x-current"] = json!(1);
    });
    write_proposal_json(dir.path(), &v);
    ok(&signer(dir.path(), SignArgs::new()));
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("bundle.json")).unwrap()).unwrap();
    let root = &bundle["roots"][0]["root"];
    assert!(root.get("x-current").is_none(), "{root:#}");
}

/// The largest new root the preflight measures for a proposal, with
/// stand-ins of `key_type` for the `n` keys to make.
fn bound(p: &Proposal, key_type: NewKeyType, n: usize) -> usize {
    let keys = rotation::sizing_keys(key_type, n).unwrap();
    let mut plans = Plans::build(p, &keys, OffsetDateTime::now_utc()).unwrap();
    plans
        .iter_mut()
        .map(|plan| {
            ceremony::transcript::set_anchor(&mut plan.new, &"0".repeat(64));
            rotation::upload_bound(plan).to_bytes().len()
        })
        .max()
        .unwrap()
}

/// The Factory proposal with `n` zeros in the staged ci root's `x-pad`:
/// 2 bytes each compact, 9 pretty-printed.
fn padded(p: &Value, n: usize) -> Value {
    edit(p, |v| {
        v["chains"][0]["staged"]["signed"]["x-pad"] = Value::Array(vec![json!(0); n])
    })
}

#[test]
fn sizes_are_checked_on_the_uploaded_form_before_any_key() {
    let dir = tempfile::tempdir().unwrap();
    let (_f, p) = factory(dir.path());
    let limit = Dialect::OtaTuf.max_root_size();
    // 10,000 zeros: 20 KB in the proposal, 90 KB as uploaded.
    let big = padded(&p, 10_000);
    let staged = serde_json::to_vec(&big["chains"][0]["staged"]).unwrap();
    assert!(staged.len() < limit / 2);
    both_refuse(dir.path(), &big, 3, &["as uploaded", &limit.to_string()]);

    // A root that fits with Ed25519 keys but not with eight RSA-4096 keys
    // (each key object and signature about 1.3 KB larger): refused before
    // any RSA key is generated, while the same proposal for Ed25519 signs.
    let with = |n: usize, key_type: &str| {
        edit(&padded(&p, n), |v| {
            v["change"]["add_keys"] = json!(7);
            v["change"]["key_type"] = json!(key_type);
        })
    };
    let parse = |v: &Value| Proposal::from_slice(&pretty(v)).unwrap();
    let per_zero = (bound(&parse(&with(1000, "ed25519")), NewKeyType::Ed25519, 8)
        - bound(&parse(&with(0, "ed25519")), NewKeyType::Ed25519, 8))
        / 1000;
    let base = bound(&parse(&with(0, "ed25519")), NewKeyType::Ed25519, 8);
    let n = (limit - base - 1500) / per_zero;
    let ed = bound(&parse(&with(n, "ed25519")), NewKeyType::Ed25519, 8);
    let rsa = bound(&parse(&with(n, "rsa-4096")), NewKeyType::Rsa4096, 8);
    assert!(ed < limit && rsa > limit, "calibration: {ed} {rsa} {limit}");
    sign_refuses(dir.path(), &with(n, "rsa-4096"), 3, &["as uploaded"]);
    write_proposal_json(dir.path(), &with(n, "ed25519"));
    ok(&signer(dir.path(), SignArgs::new()));
    let uploaded: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("bundle.json")).unwrap()).unwrap();
    let ci =
        RootMetadata::from_value(uploaded["roots"][0]["root"].clone(), Dialect::OtaTuf).unwrap();
    assert!(ci.to_bytes().len() <= ed, "{} > {ed}", ci.to_bytes().len());
}

#[test]
fn review_says_what_it_cannot_know() {
    let dir = tempfile::tempdir().unwrap();
    let (_f, p) = factory(dir.path());
    let v = edit(&p, |v| {
        v["change"]["provided_keys"] = json!([ProvidedKey {
            key: key(false).public_key().to_key_object(Dialect::OtaTuf),
            holder: Some("bob".into()),
        }]);
    });
    write_proposal_json(dir.path(), &v);
    let out = signer(dir.path(), ["review", "proposal.json"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(!t.contains("submitter verified"), "{t}");
    assert!(
        t.contains("the proposal lists v1..v1 (1 root(s); unchecked here)"),
        "{t}"
    );
    assert!(t.contains("holder name as claimed, unverified: bob"), "{t}");
}

/// The proposal the submitter writes still parses under the strict rules
/// (its every field, Target kinds included).
#[test]
fn what_the_library_writes_parses() {
    for target in [
        Target::TufDir { path: "/m".into() },
        Target::TufHttp {
            url: "https://r".into(),
        },
    ] {
        let mut v = tuf_proposal();
        v["target"] = serde_json::to_value(&target).unwrap();
        let p = Proposal::from_slice(&pretty(&v)).unwrap();
        Proposal::from_slice(&p.to_bytes()).unwrap();
    }
    let p = OtaFactory::new(false).rotation();
    Proposal::from_slice(&p.to_bytes()).unwrap();
}
