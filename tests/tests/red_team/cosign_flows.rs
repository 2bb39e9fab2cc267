//! Issue 13's new flows under a hostile online side: signing the roots the
//! server staged as they are (`change.sign_staged`), the first-time
//! transaction that hands out the Factory's first root key, and `signer
//! export` of archives whose anchors and key ids the online side wrote.
//!
//! Signing staged roots changes nothing in them, so everything the server
//! (or "another holder") put in the body is what gets signed: every
//! difference current → staged must be on the screen in full (`oracle`), the
//! signatures it already carries must be judged (only valid ones kept), and
//! our keys may sign only as the root keys the screen listed.

use std::path::Path;

use ceremony::{Dialect, RootMetadata};
use ceremony_tests::files::list_dir;
use ceremony_tests::harness::{factory_init, factory_sim, passphrase_file, run, token_file};
use ceremony_tests::ota::{in_days, key};
use serde_json::{json, Value};

use super::common::*;

const D: Dialect = Dialect::OtaTuf;

/// The factory base's proposal turned into "sign the staged roots as they
/// are": both chains staged at v2 (prod a copy of CI, as the base's prod
/// is), `edit` applied to the (ci, prod) staged envelopes.
fn staged(edit: impl FnOnce(&mut Value, &mut Value)) -> Value {
    let mut p = factory().proposal();
    p["change"] = json!({"sign_staged": true});
    let mut ci = p["chains"][0]["staged"].clone();
    let mut prod = ci.clone();
    edit(&mut ci, &mut prod);
    p["chains"][0]["staged"] = ci;
    p["chains"][1]["staged"] = prod;
    p
}

/// The same edit of `signed` on both chains.
fn both(edit: impl Fn(&mut Value)) -> Value {
    staged(|ci, prod| {
        edit(&mut ci["signed"]);
        edit(&mut prod["signed"]);
    })
}

/// The signed roots of a bundle, by chain.
fn bundle_roots(s: &Signed, c_out: &str) -> Vec<(String, Value)> {
    let Ok(bytes) = std::fs::read(s.dir.join(c_out)) else {
        return Vec::new();
    };
    let b: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
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

/// Every signature of a signed bundle verifies under a root key (by that
/// id) of the chain's current or new root, one per key id; and every key
/// id that signed was listed on the screen before the confirmation (as a
/// root key that must sign, or as "already signed by").
fn signatures_sound(s: &Signed) -> Vec<String> {
    let mut p = Vec::new();
    let screen = s.talk.screens.last().cloned().unwrap_or_default();
    let proposal: Value =
        serde_json::from_slice(&std::fs::read(s.dir.join("proposal.json")).unwrap_or_default())
            .unwrap_or(Value::Null);
    for (name, root) in bundle_roots(s, "bundle.json") {
        let Some(chain) = proposal["chains"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == name.as_str()))
        else {
            continue;
        };
        let (Ok(current), Ok(new)) = (
            RootMetadata::from_value(chain["current"].clone(), D),
            RootMetadata::from_value(root.clone(), D),
        ) else {
            p.push(format!("{name}: the bundle's root does not parse"));
            continue;
        };
        match ceremony::cosign::judge(&current, &new) {
            Ok(judged) => {
                for j in judged {
                    if let Err(why) = &j.verdict {
                        p.push(format!(
                            "{name}: the bundle carries a signature under {:?} that must have been dropped: {why}",
                            j.keyid
                        ));
                    }
                    if !screen.contains(&oracle_shown(&j.keyid)) {
                        p.push(format!(
                            "{name}: signed under key id {:?}, never shown before the confirmation",
                            j.keyid
                        ));
                    }
                }
            }
            Err(e) => p.push(format!("{name}: signatures unreadable: {e}")),
        }
    }
    p
}

fn oracle_shown(s: &str) -> String {
    super::oracle::shown(s)
}

/// The bundle says it is partial: the new root's own threshold is not met
/// by this holder.
fn partial(s: &Signed) -> Vec<String> {
    let b: Value =
        serde_json::from_slice(&std::fs::read(s.dir.join("bundle.json")).unwrap_or_default())
            .unwrap_or(Value::Null);
    if b["complete"] == json!(true) {
        vec!["the bundle claims complete, though the new root's keys did not sign".into()]
    } else {
        Vec::new()
    }
}

/// A bogus signature entry under `keyid`.
fn bogus_sig(keyid: &str, sig_len: usize) -> Value {
    json!({"keyid": keyid, "method": "ed25519", "sig": "A".repeat(sig_len)})
}

#[test]
fn sign_staged_shows_every_field_it_signs() {
    let f = factory();
    let extra = key(false).public_key();
    let extra_id = extra.key_id(D);
    let tid = f.role_key_id("targets");
    let ours = f.ci.find_key_id(&f.root_key.public_key()).unwrap();
    let other = f.other_root_id();
    let swapped = key(false).public_key().to_key_object(D);
    let drops_ours = both(|s| {
        s["keys"].as_object_mut().unwrap().remove(&ours);
        s["roles"]["root"] = json!({"keyids": [other], "threshold": 1});
    });
    let cases = vec![
        // The control: the honest staged roots are signed, complete.
        Case::new("honest staged roots", both(|_| {}), Expect::Sign).check(signatures_sound),
        Case::new(
            "staged adds a root key (the attacker's)",
            both(|s| {
                s["keys"][&extra_id] = extra.to_key_object(D);
                s["roles"]["root"]["keyids"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!(extra_id));
            }),
            either(&["threshold", extra_id.as_str()]),
        )
        .shows(&extra_id)
        .check(signatures_sound),
        Case::new(
            "staged swaps the targets key's public value under its id",
            both(|s| s["keys"][&tid] = swapped.clone()),
            refuse(&[tid.as_str()]),
        ),
        Case::new(
            "staged swaps our root key's public value under its id",
            both(|s| s["keys"][&ours] = swapped.clone()),
            refuse(&[ours.as_str()]),
        ),
        Case::new(
            "staged raises the snapshot threshold to 1 of 1 -> 2 of 1",
            both(|s| s["roles"]["snapshot"]["threshold"] = json!(2)),
            either(&["threshold"]),
        )
        .check(signatures_sound),
        Case::new(
            "staged x-key-owners and an unknown member",
            both(|s| {
                s["x-key-owners"] = json!({ &extra_id: "mallory" });
                s["x-unknown"] = json!({"nested": ["deep", 7]});
            }),
            either(&["x-unknown"]),
        )
        .shows("x-unknown")
        .check(signatures_sound),
        Case::new(
            "staged x-changelog rewritten",
            both(|s| s["x-changelog"] = json!({"message": "routine", "by": "admin@evil"})),
            either(&["x-changelog"]),
        )
        .check(signatures_sound),
        Case::new(
            "envelope field beside signed",
            staged(|ci, prod| {
                ci["x-envelope"] = json!("hidden");
                prod["x-envelope"] = json!("hidden");
            }),
            either(&["x-envelope"]),
        )
        .check(signatures_sound),
        Case::new(
            "consistent_snapshot flipped",
            both(|s| s["consistent_snapshot"] = json!(true)),
            either(&["consistent_snapshot"]),
        )
        .check(signatures_sound),
        Case::new(
            "a second id for our own root key",
            both(|s| {
                let bogus = format!("{}{}", &ours[..8], "e".repeat(56));
                s["keys"][&bogus] = f.root_key.public_key().to_key_object(D);
                s["roles"]["root"]["keyids"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!(bogus));
                s["roles"]["root"]["threshold"] = json!(2);
            }),
            refuse(&["same key", "two", "twice", "duplicate", "key id"]),
        ),
        Case::new(
            "staged drops our root key (the other holder's alone must sign v2)",
            drops_ours.clone(),
            refuse(&["removed without a replacement"]),
        )
        .refused_within(1),
        // With --force: a partial bundle, signed by our key as a key of the
        // current root only (the screen listed it there), never complete.
        Case::new(
            "staged drops our root key, --force",
            drops_ours,
            either(&["threshold"]),
        )
        .arg("--force")
        .check(|s| {
            let mut p = signatures_sound(s);
            p.extend(partial(s));
            p
        }),
        Case::new(
            "staged root threshold above its key count",
            both(|s| s["roles"]["root"]["threshold"] = json!(3)),
            refuse(&["threshold"]),
        ),
    ];
    report(
        "sign-staged fields",
        run_cases(cases, || f.case(&["keys.tgz.age"])),
    );
}

#[test]
fn sign_staged_versions_expiry_and_chain_skew() {
    let f = factory();
    let extra = key(false).public_key();
    let extra_id = extra.key_id(D);
    let cases = vec![
        Case::new(
            "staged version 3 (current 1)",
            both(|s| s["version"] = json!(3)),
            refuse(&["version"]),
        ),
        Case::new(
            "staged version 1 (a replay of the current)",
            both(|s| s["version"] = json!(1)),
            refuse(&["version"]),
        ),
        Case::new(
            "prod staged at v3, ci at v2",
            staged(|_, prod| prod["signed"]["version"] = json!(3)),
            refuse(&["version"]),
        ),
        Case::new(
            "staged already expired",
            both(|s| s["expires"] = json!("2020-01-01T00:00:00Z")),
            refuse(&["expire"]),
        ),
        Case::new(
            "staged expires in 9999",
            both(|s| s["expires"] = json!("9999-12-31T23:59:59Z")),
            either(&["expire", "9999"]),
        )
        .check(signatures_sound),
        Case::new(
            "prod current at targets threshold 2, staged prod lowers it to 1",
            {
                let mut p = both(|_| {});
                let mut prod = p["chains"][1]["current"].clone();
                prod["signed"]["roles"]["targets"]["threshold"] = json!(2);
                p["chains"][1]["current"] = resign(&prod, D, &[&f.root_key]);
                p
            },
            refuse(&["lowered"]),
        )
        .refused_within(1),
        Case::new(
            "prod with an extra root key CI does not have",
            staged(|_, prod| {
                let s = &mut prod["signed"];
                s["keys"][&extra_id] = extra.to_key_object(D);
                s["roles"]["root"]["keyids"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!(extra_id));
            }),
            refuse(&["differs from the staged CI root"]),
        )
        .refused_within(1),
        Case::new(
            "prod with an extra targets key and threshold 1",
            staged(|_, prod| {
                let s = &mut prod["signed"];
                let tid = s["roles"]["targets"]["keyids"][0].clone();
                s["keys"][&extra_id] = extra.to_key_object(D);
                s["roles"]["targets"] = json!({"keyids": [tid, extra_id], "threshold": 1});
            }),
            either(&["prod"]),
        )
        .shows(&extra_id)
        .check(signatures_sound),
        Case::new(
            "prod expires years after CI",
            staged(|_, prod| prod["signed"]["expires"] = json!(in_days(3000))),
            refuse(&["differs from the staged CI root"]),
        )
        .refused_within(1),
    ];
    report(
        "sign-staged versions",
        run_cases(cases, || f.case(&["keys.tgz.age"])),
    );
}

#[test]
fn sign_staged_existing_signatures_are_judged() {
    let f = factory();
    let ours = f.ci.find_key_id(&f.root_key.public_key()).unwrap();
    let other = f.other_root_id();
    let stranger = key(false);
    let stranger_id = stranger.public_key().key_id(D);
    let with_sigs = |sigs: Vec<Value>| {
        staged(move |ci, prod| {
            ci["signatures"] = json!(sigs.clone());
            prod["signatures"] = json!(sigs);
        })
    };
    // A valid signature by a key neither root trusts, over the staged body.
    let by_stranger = staged(|ci, prod| {
        for r in [ci, prod] {
            let mut m = RootMetadata::from_value(r.clone(), D).unwrap();
            // Listed only to sign, then taken out again.
            let mut tmp = m.envelope().clone();
            tmp["signed"]["keys"][&stranger_id] = stranger.public_key().to_key_object(D);
            let mut t = RootMetadata::from_value(tmp, D).unwrap();
            t.sign(&stranger_id, &stranger).unwrap();
            let sig = t.envelope()["signatures"][0].clone();
            m.add_signature_value(sig);
            *r = m.envelope().clone();
        }
    });
    let cases = vec![
        Case::new(
            "an invalid signature under our key id",
            with_sigs(vec![bogus_sig(&ours, 88)]),
            either(&["signature"]),
        )
        .check(signatures_sound),
        Case::new(
            "the other holder's id twice, both invalid",
            with_sigs(vec![bogus_sig(&other, 88), bogus_sig(&other, 86)]),
            either(&["signature"]),
        )
        .check(signatures_sound),
        Case::new(
            "a valid signature by a key in neither root",
            by_stranger,
            either(&["signature"]),
        )
        .check(signatures_sound),
        Case::new(
            "a 1 MB signature",
            with_sigs(vec![bogus_sig(&other, 1 << 20)]),
            either(&["signature", "bytes"]),
        )
        .check(signatures_sound),
        Case::new(
            "a signature with a hostile key id",
            with_sigs(vec![bogus_sig("\u{1b}]0;pwned\u{7}\u{202e}abc", 88)]),
            either(&["signature"]),
        )
        .check(signatures_sound),
    ];
    report(
        "sign-staged signatures",
        run_cases(cases, || f.case(&["keys.tgz.age"])),
    );
}

#[test]
fn sign_staged_proposals_hide_nothing() {
    let f = factory();
    let with_change = |change: Value| {
        let mut p = both(|_| {});
        p["change"] = change;
        p
    };
    let hostile = "\u{1b}[2K\u{1b}[1A\u{202e}ok\u{200b}\u{7}";
    let cases = vec![
        Case::new(
            "sign_staged with a hidden rotation",
            with_change(json!({"sign_staged": true, "rotate": "all"})),
            refuse(&["sign_staged"]),
        )
        .refused_within(0),
        Case::new(
            "sign_staged with a message",
            with_change(json!({"sign_staged": true, "message": "m"})),
            refuse(&["sign_staged"]),
        )
        .refused_within(0),
        Case::new(
            "sign_staged with an expiry",
            with_change(json!({"sign_staged": true, "expires": in_days(30)})),
            refuse(&["sign_staged"]),
        )
        .refused_within(0),
        Case::new(
            "sign_staged with an unknown change member",
            with_change(json!({"sign_staged": true, "x-also": {"add_keys": 1}})),
            refuse(&["x-also", "unknown"]),
        )
        .refused_within(0),
        Case::new(
            "sign_staged as a string",
            with_change(json!({"sign_staged": "true"})),
            // serde names the type, not the field: enough to refuse.
            refuse(&["sign_staged", "boolean"]),
        )
        .refused_within(0),
        Case::new(
            "sign_staged with no staged prod root",
            {
                let mut p = both(|_| {});
                p["chains"][1]["staged"] = Value::Null;
                p
            },
            refuse(&["staged"]),
        )
        .refused_within(1),
        Case::new(
            "control and bidi characters in every string the server writes",
            both(|s| {
                s["x-changelog"] = json!({"message": hostile, hostile: hostile});
                s["x-key-owners"] = json!({ hostile: hostile });
                s[hostile] = json!([hostile, {hostile: hostile}]);
            }),
            either(&["\u{1b}", "character", "control"]),
        )
        .check(signatures_sound),
    ];
    report(
        "sign-staged proposals",
        run_cases(cases, || f.case(&["keys.tgz.age"])),
    );
}

// ---------------------------------------------------------------------------
// First-time: the server hands out the Factory's first root key.

struct Sim {
    _tmp: tempfile::TempDir,
    state: std::path::PathBuf,
    online: std::path::PathBuf,
    token: String,
    sim: ceremony_tests::harness::Server,
}

fn sim() -> Sim {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("factory");
    factory_init(&state, "ed25519");
    let online = tmp.path().join("online");
    std::fs::create_dir_all(&online).unwrap();
    let token = token_file(&online).to_str().unwrap().to_owned();
    passphrase_file(&online);
    let sim = factory_sim(&state, &[]);
    Sim {
        _tmp: tmp,
        state,
        online,
        token,
        sim,
    }
}

fn first_time(s: &Sim, key_file: &str) -> ceremony_tests::harness::Ran {
    run(
        "submitter",
        &s.online,
        [
            "propose",
            "--factory",
            "acme",
            "--api",
            &s.sim.url,
            "--token-file",
            &s.token,
            "--first-time",
            "--first-root-key",
            key_file,
            "--rotate-all",
            "-o",
            "proposal.json",
        ],
        &[],
    )
}

/// Every string value of a JSON tree.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// No output and no file but the key tarball holds any string of the
/// server's private half, and no raw control character reached the
/// operator.
fn secret_kept(s: &Sim, out: &ceremony_tests::harness::Ran, sec: &Value, tgz: &str) -> Vec<String> {
    let mut p = Vec::new();
    let mut secrets = Vec::new();
    strings(&sec["keyval"], &mut secrets);
    secrets.retain(|x| x.len() >= 16);
    for x in &secrets {
        if out.stdout.contains(x.as_str()) || out.stderr.contains(x.as_str()) {
            p.push("the private value was printed".into());
        }
        for (name, _) in list_dir(&s.online) {
            if name == tgz {
                continue;
            }
            let bytes = std::fs::read(s.online.join(&name)).unwrap_or_default();
            if String::from_utf8_lossy(&bytes).contains(x.as_str()) {
                p.push(format!("the private value is in {name}"));
            }
        }
    }
    p.extend(raw_problems("stdout", out.stdout.as_bytes()));
    p.extend(raw_problems("stderr", out.stderr.as_bytes()));
    p
}

/// The first-time answer rewritten by `edit` (the server's `first-root.json`).
fn hostile_first_root(s: &Sim, edit: impl FnOnce(&mut Value)) -> Value {
    let path = s.state.join("first-root.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    v
}

/// Refused (exit ≠ 0, no panic), no key file, no proposal.
fn refused_cleanly(s: &Sim, out: &ceremony_tests::harness::Ran, tgz: &str) -> Vec<String> {
    let mut p = Vec::new();
    if out.code == 0 {
        p.push("accepted".into());
    }
    if out.code == 101 || out.all().contains("panicked") {
        p.push("panicked".into());
    }
    if s.online.join(tgz).exists() {
        p.push(format!("{tgz} was written"));
    }
    if s.online.join("proposal.json").exists() {
        p.push("proposal.json was written".into());
    }
    p
}

#[test]
fn first_time_answers_from_a_hostile_server() {
    let mut problems = Vec::new();
    let mut case = |name: &str, edit: &dyn Fn(&mut Value), must_refuse: bool| {
        let s = sim();
        let held = hostile_first_root(&s, |v| edit(v));
        let out = first_time(&s, "first.tgz");
        let mut p = secret_kept(&s, &out, &held["sec"], "first.tgz");
        // The original secret too, when the case replaced it.
        if must_refuse {
            p.extend(refused_cleanly(&s, &out, "first.tgz"));
        } else if out.code != 0 {
            p.push(format!("refused: {}", last_lines(&out.all(), 3)));
        }
        println!(
            "case {name:?}: {}",
            if p.is_empty() { "holds" } else { "problems" }
        );
        problems.extend(p.into_iter().map(|x| format!("{name}: {x}")));
    };
    case("honest", &|_| {}, false);
    let other = key(false);
    let other_ats = ats(&other);
    case(
        "a private half of another key",
        &|v| v["sec"] = other_ats["sec"].clone(),
        true,
    );
    case(
        "a matching pair the root does not trust",
        &|v| *v = other_ats.clone(),
        true,
    );
    case(
        "control characters in the key's fields",
        &|v| {
            v["pub"]["keytype"] = json!("ED25519\u{1b}[2J\u{202e}");
            v["sec"]["keytype"] = json!("ED25519\u{1b}[2J\u{202e}");
        },
        true,
    );
    case(
        "a private half that is not base64, naming its secret",
        &|v| {
            let p = v["sec"]["keyval"]["private"].as_str().unwrap().to_string();
            v["sec"]["keyval"]["private"] = json!(format!("{p}!!\u{1b}[31m"));
        },
        true,
    );
    case(
        "a private half of the wrong JSON type",
        &|v| {
            let p = v["sec"]["keyval"]["private"].as_str().unwrap().to_string();
            v["sec"]["keyval"] = json!([p]);
        },
        true,
    );
    case(
        "a huge nested answer",
        &|v| {
            let mut deep = json!("x");
            for _ in 0..200 {
                deep = json!([deep]);
            }
            v["sec"]["keyval"]["extra"] = deep;
            v["pub"]["x-pad"] = json!("p".repeat(8 << 20));
        },
        true,
    );
    report("first-time answers", problems);
}

/// The AtsKey pair of `k`, as the simulator's `first-root.json` holds it.
fn ats(k: &ceremony::keys::PrivateKey) -> Value {
    let pair = ceremony_tests::ota::ats_pair("first-root", k);
    let sec = pair
        .iter()
        .find(|(n, _)| n.ends_with(".sec"))
        .map(|(_, b)| serde_json::from_slice::<Value>(b).unwrap())
        .unwrap();
    let public = pair
        .iter()
        .find(|(n, _)| n.ends_with(".pub"))
        .map(|(_, b)| serde_json::from_slice::<Value>(b).unwrap())
        .unwrap();
    json!({"sec": sec, "pub": public})
}

#[test]
fn first_time_key_paths_that_exist_or_point_elsewhere() {
    let mut problems = Vec::new();
    let s = sim();
    let victim = s.online.join("victim");
    std::fs::write(&victim, b"keep me").unwrap();
    std::os::unix::fs::symlink(&victim, s.online.join("link.tgz")).unwrap();
    std::os::unix::fs::symlink(s.online.join("nowhere"), s.online.join("dangling.tgz")).unwrap();
    std::fs::write(s.online.join("exists.tgz"), b"old").unwrap();
    std::fs::create_dir(s.online.join("dir.tgz")).unwrap();
    for name in ["exists.tgz", "link.tgz", "dangling.tgz", "dir.tgz"] {
        let out = first_time(&s, name);
        if out.code == 0 || out.code == 101 {
            problems.push(format!("{name}: exit {}", out.code));
        }
        if s.online.join("proposal.json").exists() {
            problems.push(format!("{name}: proposal.json written"));
        }
        problems.extend(raw_problems(name, out.all().as_bytes()));
    }
    if std::fs::read(&victim).unwrap() != b"keep me" {
        problems.push("the symlink's target was overwritten".into());
    }
    if s.online.join("nowhere").exists() {
        problems.push("the dangling symlink's target was created".into());
    }
    if std::fs::read(s.online.join("exists.tgz")).unwrap() != b"old" {
        problems.push("an existing file was overwritten".into());
    }
    // And the server still holds the key: no transaction was begun for
    // nothing (a refusal before any request).
    if s.state.join("transaction.json").exists() {
        problems.push("a transaction was begun although the key file was refused".into());
    }
    report("first-time paths", problems);
}

// ---------------------------------------------------------------------------
// Export: what the archive says of its keys is the online side's to forge
// only through the anchors; key ids named on the command line are untrusted
// file names.

fn list_names(dir: &Path) -> Vec<String> {
    list_dir(dir).into_keys().collect()
}

#[test]
fn export_names_are_never_paths() {
    let f = factory();
    let mut problems = Vec::new();
    let d = f.case(&["keys.tgz.age", "new.tgz.age"]);
    let out_dir = d.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    for bad in ["../escape", "a/b", "/etc/passwd", "..", "\u{1b}[2Jid", ""] {
        let out = ceremony_tests::cmd::run_in(
            d.path(),
            "signer",
            [
                "export",
                "anchored.tgz.age",
                "--passphrase-file",
                "pass.txt",
                "--plaintext",
                "--key",
                bad,
                "-o",
                "out/k.tgz",
            ],
        );
        let code = out.status.code().unwrap_or(-1);
        if code == 0 || code == 101 {
            problems.push(format!("--key {bad:?}: exit {code}"));
        }
        problems.extend(raw_problems(&format!("--key {bad:?}"), &out.stdout));
        problems.extend(raw_problems(&format!("--key {bad:?} stderr"), &out.stderr));
    }
    if !list_names(&out_dir).is_empty() {
        problems.push(format!("files written: {:?}", list_names(&out_dir)));
    }
    if d.path().join("escape").exists() || d.path().parent().unwrap().join("escape").exists() {
        problems.push("a file escaped the output folder".into());
    }
    // --each into a folder where a file of the same name exists already:
    // refused (or written beside), never overwritten.
    let each = d.path().join("each");
    std::fs::create_dir(&each).unwrap();
    let first = ceremony_tests::cmd::run_in(
        d.path(),
        "signer",
        [
            "export",
            "anchored.tgz.age",
            "--passphrase-file",
            "pass.txt",
            "--plaintext",
            "--each",
            "each",
        ],
    );
    let made = list_names(&each);
    if first.status.code() != Some(0) || made.is_empty() {
        problems.push(format!(
            "--each into an empty folder: exit {:?}: {}",
            first.status.code(),
            String::from_utf8_lossy(&first.stderr)
        ));
    }
    for n in &made {
        std::fs::write(each.join(n), b"mine").unwrap();
    }
    let again = ceremony_tests::cmd::run_in(
        d.path(),
        "signer",
        [
            "export",
            "anchored.tgz.age",
            "--passphrase-file",
            "pass.txt",
            "--plaintext",
            "--each",
            "each",
        ],
    );
    for n in &made {
        if std::fs::read(each.join(n)).unwrap_or_default() != b"mine" {
            problems.push(format!(
                "--each overwrote {n} (exit {:?})",
                again.status.code()
            ));
        }
    }
    if again.status.code() == Some(0) && list_names(&each).len() == made.len() {
        problems.push("--each into colliding files said success but wrote nothing".into());
    }
    report("export names", problems);
}

// ---------------------------------------------------------------------------
// Upload of a co-signed (partial) bundle through a server that lies.

mod upload {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    use ceremony::keys::PrivateKey;
    use ceremony::RootMetadata;
    use ceremony_tests::fixture::{write_passphrase, SignArgs};
    use ceremony_tests::harness::{
        factory_init, factory_sim, request_log, run, token_file, Ran, TOKEN,
    };
    use ceremony_tests::minisign::factory_first_root;
    use ceremony_tests::ota::key;
    use serde_json::{json, Value};

    use super::D;

    const REPO: &str = "/ota/repo/acme/api/v1/user_repo";

    /// What the hostile server does to the next requests.
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Mode {
        Honest,
        /// The transaction's staged roots carry an extra signature under
        /// the missing holder's key id that does not verify.
        InvalidSignature,
        /// The transaction's staged CI root has another body.
        SwappedBody,
        /// `POST …/apply` answers 200 without applying.
        FakeApply,
    }

    /// A proxy in front of the simulator that behaves as `mode` says; the
    /// requests it forwarded, as "METHOD path".
    struct Proxy {
        url: String,
        mode: Arc<Mutex<Mode>>,
        forwarded: Arc<Mutex<Vec<String>>>,
    }

    fn read_request(c: &TcpStream) -> Option<(Vec<String>, Vec<u8>)> {
        let mut reader = BufReader::new(c.try_clone().ok()?);
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).ok()? == 0 || line.trim().is_empty() {
                break;
            }
            head.push(line.trim_end().to_string());
        }
        let length: usize = head
            .iter()
            .filter_map(|h| h.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        Some((head, body))
    }

    fn answer(client: &mut TcpStream, status: &str, payload: &[u8]) {
        let _ = write!(
            client,
            "{status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            payload.len()
        );
        let _ = client.write_all(payload);
    }

    fn proxy(upstream: &str, missing_id: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let up = upstream.trim_start_matches("http://").to_string();
        let mode = Arc::new(Mutex::new(Mode::Honest));
        let forwarded = Arc::new(Mutex::new(Vec::new()));
        let (m, fw) = (mode.clone(), forwarded.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().take(400) {
                let Ok(mut client) = client else { continue };
                let Some((head, body)) = read_request(&client) else {
                    continue;
                };
                let mode = *m.lock().unwrap();
                let mut parts = head[0].split_whitespace();
                let (method, path) = (
                    parts.next().unwrap_or("").to_string(),
                    parts.next().unwrap_or("").to_string(),
                );
                if mode == Mode::FakeApply && method == "POST" && path.ends_with("/apply") {
                    answer(&mut client, "HTTP/1.1 200 OK", b"{}");
                    continue;
                }
                fw.lock().unwrap().push(format!("{method} {path}"));
                let mut server = TcpStream::connect(&up).unwrap();
                for h in &head {
                    if !h.to_ascii_lowercase().starts_with("connection:") {
                        write!(server, "{h}\r\n").unwrap();
                    }
                }
                write!(server, "Connection: close\r\n\r\n").unwrap();
                server.write_all(&body).unwrap();
                let mut raw = Vec::new();
                server.read_to_end(&mut raw).unwrap();
                let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
                let status = String::from_utf8_lossy(&raw[..split])
                    .lines()
                    .next()
                    .unwrap()
                    .to_string();
                let mut payload = raw[split + 4..].to_vec();
                let is_tx = method == "GET" && path.ends_with("/root/updates");
                if is_tx && matches!(mode, Mode::InvalidSignature | Mode::SwappedBody) {
                    if let Ok(mut v) = serde_json::from_slice::<Value>(&payload) {
                        for name in ["ci-root", "prod-root"] {
                            let Some(text) = v["updated"][name].as_str() else {
                                continue;
                            };
                            let Ok(mut root) = serde_json::from_str::<Value>(text) else {
                                continue;
                            };
                            if mode == Mode::InvalidSignature {
                                root["signatures"].as_array_mut().unwrap().push(json!({
                                    "keyid": missing_id, "method": "ed25519",
                                    "sig": "A".repeat(86) + "==",
                                }));
                            } else if name == "ci-root" {
                                root["signed"]["expires"] = json!("2099-01-01T00:00:00Z");
                            }
                            v["updated"][name] = json!(root.to_string());
                        }
                        payload = serde_json::to_vec(&v).unwrap();
                    }
                }
                answer(&mut client, &status, &payload);
            }
        });
        Proxy {
            url,
            mode,
            forwarded,
        }
    }

    fn call(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut s = TcpStream::connect(addr.trim_start_matches("http://")).unwrap();
        let body = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nOSF-TOKEN: {TOKEN}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        s.write_all(&body).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let text = String::from_utf8_lossy(&out);
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    fn id(k: &PrivateKey) -> String {
        k.public_key().key_id(D)
    }

    fn staged(addr: &str) -> (Value, Value) {
        let (_, v) = call(addr, "GET", &format!("{REPO}/root/updates"), None);
        let root = |n: &str| serde_json::from_str(v["updated"][n].as_str().unwrap()).unwrap();
        (root("ci-root"), root("prod-root"))
    }

    /// The other holder's `fioctl keys tuf updates sign` with `k`.
    fn fioctl_sign(addr: &str, txid: &str, k: &PrivateKey) {
        let (ci, prod) = staged(addr);
        let sign = |v: Value| {
            let mut r = RootMetadata::from_value(v, D).unwrap();
            r.sign(&id(k), k).unwrap();
            r.envelope().clone()
        };
        let body = json!({"txid": txid, "ci-root": sign(ci), "prod-root": sign(prod)});
        let (st, v) = call(addr, "PUT", &format!("{REPO}/root/updates"), Some(&body));
        assert_eq!(st, 200, "{v}");
    }

    #[test]
    fn a_lying_server_never_gets_a_root_applied_below_threshold() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("factory");
        factory_init(&state, "ed25519");
        let (online, offline) = (tmp.path().join("online"), tmp.path().join("offline"));
        std::fs::create_dir_all(&online).unwrap();
        std::fs::create_dir_all(&offline).unwrap();
        write_passphrase(&offline);
        let token = token_file(&online).to_str().unwrap().to_string();
        let sim = factory_sim(&state, &[]);
        let a = factory_first_root(&state);
        let x = key(false);
        let p = proxy(&sim.url, id(&x));
        let set = |m: Mode| *p.mode.lock().unwrap() = m;

        // Another admin stages v2: root keys A and X, threshold 2 of 2.
        let (st, v) = call(
            &sim.url,
            "POST",
            &format!("{REPO}/root/updates"),
            Some(&json!({"message": "add X", "first-time": false})),
        );
        assert_eq!(st, 201, "{v}");
        let txid = v["txid"].as_str().unwrap().to_string();
        let (mut ci, prod) = staged(&sim.url);
        ci["signed"]["keys"][id(&x)] = x.public_key().to_key_object(D);
        ci["signed"]["roles"]["root"] = json!({"keyids": [id(&a), id(&x)], "threshold": 2});
        ci["signatures"] = json!([]);
        let mut prod_new = ci.clone();
        prod_new["signed"]["roles"]["targets"]["threshold"] =
            prod["signed"]["roles"]["targets"]["threshold"].clone();
        let (st, v) = call(
            &sim.url,
            "PUT",
            &format!("{REPO}/root/updates"),
            Some(&json!({"txid": txid, "ci-root": ci, "prod-root": prod_new})),
        );
        assert_eq!(st, 200, "{v}");

        // We hold A: propose (through the proxy), sign: a partial bundle.
        run(
            "signer",
            &offline,
            [
                "import",
                state.join("factory-keys.tgz").to_str().unwrap(),
                "-o",
                "keys.tgz.age",
                "--passphrase-file",
                "pass.txt",
            ],
            &[],
        )
        .expect(0, "import");
        let submitter = |args: &[&str]| -> Ran {
            let mut all: Vec<&str> = args.to_vec();
            all.extend(["--token-file", &token]);
            run("submitter", &online, all, &[])
        };
        submitter(&[
            "propose",
            "--factory",
            "acme",
            "--api",
            &p.url,
            "--txid",
            &txid,
            "--sign-staged",
            "-o",
            "proposal.json",
        ])
        .expect(0, "propose --sign-staged");
        std::fs::copy(online.join("proposal.json"), offline.join("proposal.json")).unwrap();
        run("signer", &offline, SignArgs::new().extra(["--force"]), &[]).expect(0, "signer sign");
        std::fs::copy(offline.join("bundle.json"), online.join("bundle.json")).unwrap();

        let problems = Vec::new();
        let applied =
            || state.join("ci/2.root.json").exists() || state.join("prod/2.root.json").exists();
        let applies_forwarded = || {
            p.forwarded
                .lock()
                .unwrap()
                .iter()
                .filter(|r| r.ends_with("/apply"))
                .count()
        };
        let problems = std::cell::RefCell::new(problems);
        let check = |name: &str, mode: Mode, want_ok: bool, never: &[&str]| {
            let mut problems = problems.borrow_mut();
            set(mode);
            let before = p.forwarded.lock().unwrap().len();
            let out = submitter(&["upload", "bundle.json"]);
            let puts = p.forwarded.lock().unwrap()[before..]
                .iter()
                .filter(|r| r.starts_with("PUT "))
                .count();
            println!("case {name:?}: exit {} puts {puts}", out.code);
            if want_ok != (out.code == 0) || out.code == 101 {
                problems.push(format!(
                    "{name}: exit {}: {}",
                    out.code,
                    super::last_lines(&out.all(), 4)
                ));
            }
            for n in never {
                if out.stdout.contains(n) {
                    problems.push(format!("{name}: says {n:?}"));
                }
            }
            problems.extend(super::raw_problems(name, out.all().as_bytes()));
            puts
        };

        // An invalid signature for the missing holder: not counted, never
        // applied.
        check(
            "invalid signature served for the missing key",
            Mode::InvalidSignature,
            true,
            &["uploaded and applied", "already applied"],
        );
        if applied() || applies_forwarded() > 0 {
            problems
                .borrow_mut()
                .push("applied below threshold (invalid signature counted)".into());
        }
        // The staged body swapped: refused, nothing PUT.
        let puts = check(
            "staged body swapped",
            Mode::SwappedBody,
            false,
            &["uploaded and applied"],
        );
        if puts > 0 {
            problems
                .borrow_mut()
                .push("staged body swapped: the union was PUT anyway".into());
        }
        // The other holder signs with fioctl (straight to the simulator); the
        // server then claims an apply it never made.
        fioctl_sign(&sim.url, &txid, &x);
        check(
            "apply claimed, not made",
            Mode::FakeApply,
            false,
            &["uploaded and applied"],
        );
        if applied() {
            problems.borrow_mut().push("fake apply: yet applied".into());
        }
        // The control: an honest server applies.
        check("honest", Mode::Honest, true, &[]);
        if !applied() {
            problems.borrow_mut().push("honest: not applied".into());
        }
        let _ = request_log(&state);
        super::report("lying server", problems.into_inner());
    }
}

// ---------------------------------------------------------------------------
// No production root: what the online side may claim about it.

mod no_prod {
    use std::path::Path;

    use ceremony_tests::cmd::TestCommand;
    use ceremony_tests::fixture::SignArgs;
    use ceremony_tests::harness::{factory_sim, passphrase_file, run, token_file, Ran};
    use serde_json::Value;

    fn json(p: &Path) -> Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    }

    /// A Factory (with or without a production root), our archive of its
    /// first key, and a signed bundle of `--rotate-all` whose proposal
    /// `edit` changed on the online machine before it was signed.
    fn signed(
        dir: &Path,
        no_prod: bool,
        edit: impl FnOnce(&mut Value),
    ) -> (ceremony_tests::harness::Server, Vec<String>) {
        let state = dir.join("factory");
        let mut init = TestCommand::new("factory-sim", dir);
        init.arg("init").arg(&state);
        if no_prod {
            init.arg("--no-prod");
        }
        init.expect(0, "factory-sim init");
        let tok = token_file(dir).to_str().unwrap().to_string();
        let pass = passphrase_file(dir).to_str().unwrap().to_string();
        let sim = factory_sim(&state, &[]);
        run(
            "signer",
            dir,
            [
                "import",
                state.join("factory-keys.tgz").to_str().unwrap(),
                "-o",
                "keys.tgz.age",
                "--passphrase-file",
                &pass,
            ],
            &[],
        )
        .expect(0, "import");
        run(
            "submitter",
            dir,
            [
                "propose",
                "--factory",
                "acme",
                "--rotate-all",
                "-o",
                "proposal.json",
                "--api",
                &sim.url,
                "--token-file",
                &tok,
            ],
            &[],
        )
        .expect(0, "propose");
        let mut p = json(&dir.join("proposal.json"));
        edit(&mut p);
        std::fs::remove_file(dir.join("proposal.json")).unwrap();
        std::fs::write(
            dir.join("proposal.json"),
            serde_json::to_vec_pretty(&p).unwrap(),
        )
        .unwrap();
        let s = run(
            "signer",
            dir,
            SignArgs::new().passphrase_file(Some(&pass)),
            &[],
        );
        let mut problems = Vec::new();
        if s.code != 0 {
            // Refused offline: fine, as long as nothing was written.
            if dir.join("bundle.json").exists() {
                problems.push("refused, yet bundle.json was written".into());
            }
        }
        (sim, problems)
    }

    /// The proposal names the simulator: `sim` is kept running meanwhile.
    fn upload(dir: &Path, _sim: &ceremony_tests::harness::Server) -> Ran {
        let tok = dir.join("token");
        run(
            "submitter",
            dir,
            [
                "upload",
                "bundle.json",
                "--token-file",
                tok.to_str().unwrap(),
            ],
            &[],
        )
    }

    fn nothing_applied(state: &Path) -> Vec<String> {
        ["ci/2.root.json", "prod/2.root.json", "prod/1.root.json"]
            .iter()
            .filter(|f| state.join(f).exists())
            .map(|f| format!("{f} was published"))
            .collect()
    }

    #[test]
    fn no_production_root_claims_and_swapped_production_roots() {
        let mut problems = Vec::new();

        // 1. The online machine drops the prod chain of a Factory that has
        //    one: whatever the signer makes, the upload must not publish a
        //    "first" production root over the real one.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let (sim, mut p) = signed(dir, false, |p| {
            p["chains"]
                .as_array_mut()
                .unwrap()
                .retain(|c| c["name"] != "prod");
        });
        if dir.join("bundle.json").exists() {
            let up = upload(dir, &sim);
            println!(
                "case \"prod chain dropped\": upload exit {}: {}",
                up.code,
                super::last_lines(&up.all(), 2)
            );
            if up.code == 0 || up.code == 101 {
                p.push(format!(
                    "upload exit {}: {}",
                    up.code,
                    super::last_lines(&up.all(), 3)
                ));
            }
            p.extend(
                nothing_applied(&dir.join("factory"))
                    .into_iter()
                    .filter(|f| !f.starts_with("prod/1")),
            );
        }
        problems.extend(p.into_iter().map(|x| format!("prod chain dropped: {x}")));

        // 2. A Factory with no production root: the bundle's prod root is
        //    replaced by its CI root (validly signed, but targets threshold
        //    1 where the derived one has 2).
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let (sim, mut p) = signed(dir, true, |_| {});
        if !dir.join("bundle.json").exists() {
            p.push("the honest no-prod rotation was not signed".into());
        } else {
            let mut b = json(&dir.join("bundle.json"));
            let roots = b["roots"].as_array_mut().unwrap();
            let ci = roots.iter().find(|r| r["name"] == "ci").unwrap()["root"].clone();
            for r in roots.iter_mut() {
                if r["name"] == "prod" {
                    r["root"] = ci.clone();
                }
            }
            std::fs::remove_file(dir.join("bundle.json")).unwrap();
            std::fs::write(
                dir.join("bundle.json"),
                serde_json::to_vec_pretty(&b).unwrap(),
            )
            .unwrap();
            let up = upload(dir, &sim);
            println!(
                "case \"prod root swapped for CI\": upload exit {}: {}",
                up.code,
                super::last_lines(&up.all(), 2)
            );
            if up.code == 0 || up.code == 101 {
                p.push(format!(
                    "upload exit {}: {}",
                    up.code,
                    super::last_lines(&up.all(), 3)
                ));
            }
            p.extend(nothing_applied(&dir.join("factory")));
        }
        problems.extend(p.into_iter().map(|x| format!("no-prod swapped: {x}")));
        super::report("no production root", problems);
    }
}

/// The staged roots re-add a root key this archive holds but retired (the
/// v1 key, rotated away at v2): the signer would sign with it. The operator
/// must be told, before the confirmation, that this holder signs with that
/// key ("<entry> is root key <id> of the staged root"), or it is refused.
#[test]
fn sign_staged_never_signs_with_a_retired_key_unannounced() {
    let f = factory();
    let mut p = f.anchored.clone();
    p["change"] = json!({"sign_staged": true});
    let old = f.root_key.public_key();
    let old_id = old.key_id(D);
    let mut ci = p["chains"][0]["current"].clone();
    ci["signatures"] = json!([]);
    ci["signed"]["version"] = json!(3);
    ci["signed"]["x-changelog"] = json!({"message": "re-add a key"});
    ci["signed"]["keys"][&old_id] = old.to_key_object(D);
    ci["signed"]["roles"]["root"]["keyids"]
        .as_array_mut()
        .unwrap()
        .push(json!(old_id));
    let mut prod = ci.clone();
    prod["signed"]["roles"]["targets"] =
        p["chains"][1]["current"]["signed"]["roles"]["targets"].clone();
    p["chains"][0]["staged"] = ci;
    p["chains"][1]["staged"] = prod;
    let announced = move |s: &Signed| -> Vec<String> {
        let screen = s.talk.screens.last().cloned().unwrap_or_default();
        let signed_by_old = bundle_roots(s, "bundle.json").iter().any(|(_, r)| {
            r["signatures"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["keyid"] == old_id.as_str()))
        });
        let told = screen.lines().any(|l| {
            let l = l.to_lowercase();
            l.contains(&old_id) && l.contains("is root key")
        });
        if signed_by_old && !told {
            vec![format!(
                "signed with the retired key {old_id}, never announced as signing"
            )]
        } else {
            Vec::new()
        }
    };
    let cases = vec![Case::new(
        "staged re-adds our retired v1 root key",
        p,
        either(&["retired", "rotated away", "old key"]),
    )
    .anchored()
    .check(move |s| {
        let mut p = signatures_sound(s);
        p.extend(announced(s));
        p
    })];
    report(
        "retired keys",
        run_cases(cases, || f.case(&["new.tgz.age"])),
    );
}
