//! Trust anchors bound to what they anchor (issue 12, item 5): an anchor is
//! filed under its target and typed chain, and binds every proposal whose
//! current root shares a root key with it, whatever the proposal calls its
//! target or chain. Renamed chains are refused; renamed targets, rolled-back
//! roots and added chains must chain from the anchor; the anchor's
//! predecessor needs `--last-bundle-not-applied` (recorded); a new target
//! next to anchored ones asks its own question; an older signer's archive
//! still opens and its anchors still protect.

use std::path::Path;

use ceremony::proposal::{Proposal, Target};
use ceremony::RootMetadata;
use ceremony_tests::prelude::*;
use serde_json::{json, Value};

/// Runs `args` and checks: exit status `code`, the output mentions every
/// word of `words` (case-insensitive), no panic, and the folder is byte for
/// byte as before.
#[track_caller]
fn refused<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S], code: i32, words: &[&str]) -> String {
    let before = hash_dir(dir);
    let out = signer(dir, args);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(code), "{t}");
    let lower = t.to_lowercase();
    for w in words {
        assert!(lower.contains(&w.to_lowercase()), "missing {w:?} in\n{t}");
    }
    assert!(!lower.contains("panicked"), "{t}");
    assert_eq!(hash_dir(dir), before, "the folder changed:\n{t}");
    t
}

fn read_proposal(dir: &Path, name: &str) -> Proposal {
    Proposal::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
}

/// `sign` with `keys`, writing `tag.json`, `tag.tgz.age` (and the
/// transcript beside the bundle).
fn sign_with(proposal: &str, keys: &str, tag: &str) -> SignArgs {
    SignArgs::new()
        .proposal(proposal)
        .keys(keys)
        .out(&format!("{tag}.json"))
        .new_archive(Some(&format!("{tag}.tgz.age")))
}

/// The `data` of every transcript entry of `kind`.
fn transcript_entries(path: &Path, kind: &str) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["kind"] == kind)
        .map(|e| e["data"].clone())
        .collect()
}

/// The manifest of an archive.
fn manifest(path: &Path) -> Value {
    let entries = decrypt_archive(path);
    serde_json::from_slice(&entries["tuf-ceremony/manifest.json"]).unwrap()
}

// ---- TUF repositories ----

#[test]
fn renamed_and_added_chains_are_refused() {
    // new.tgz.age anchors chain root of the repository at v2.
    let c = Ceremony::new();
    let d = c.path();
    for name in ["root ", "Root", "ci2", "prod", "", "../x", "root\u{1b}[2J"] {
        let mut p = read_proposal(d, "proposal.json");
        p.chains[0].name = name.into();
        write_proposal(d, "renamed.json", &p);
        for keys in ["new.tgz.age", "keys.tgz.age"] {
            let args = sign_with("renamed.json", keys, "out").to_vec();
            let before = hash_dir(d);
            let out = signer(d, &args);
            let t = text(&out);
            // Refused (here, or by the proposal's own checks first), with no
            // trust question asked and nothing written.
            assert!(!out.status.success(), "{name:?}: {t}");
            assert_ne!(out.status.code(), Some(101), "{t}");
            assert!(t.to_lowercase().contains("chain"), "{t}");
            assert!(!t.contains("First use"), "{t}");
            assert!(
                !t.contains('\u{1b}'),
                "a raw escape reached the output: {t}"
            );
            assert_eq!(hash_dir(d), before, "{t}");
        }
    }
    // An added chain: the root chain twice, the second a rolled-back copy.
    let mut p = read_proposal(d, "proposal.json");
    let again = p.chains[0].clone();
    p.chains.push(again);
    write_proposal(d, "added.json", &p);
    let args = sign_with("added.json", "new.tgz.age", "out").to_vec();
    let out = signer(d, &args);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("First use"), "{}", text(&out));
    assert!(!d.join("out.json").exists());
}

#[test]
fn predecessor_needs_the_flag_and_is_recorded() {
    // new.tgz.age anchors v2 (the bundle, never uploaded); proposal.json's
    // current root is v1, the root that anchor replaced.
    let c = Ceremony::new();
    let d = c.path();
    let args = sign_with("proposal.json", "new.tgz.age", "again").to_vec();
    let t = refused(d, &args, 3, &["--last-bundle-not-applied", "cannot tell"]);
    // It cannot know whether the bundle was applied; it must not say so.
    assert!(!t.contains("that bundle was never applied"), "{t}");
    assert!(!t.contains("First use"), "{t}");

    let args = sign_with("proposal.json", "new.tgz.age", "again")
        .extra(["--last-bundle-not-applied"])
        .to_vec();
    let out = ok(&signer(d, &args));
    assert!(
        out.contains("you said the last bundle was never applied (--last-bundle-not-applied)"),
        "{out}"
    );
    let trust = transcript_entries(&d.join("again.transcript.jsonl"), "trust");
    assert_eq!(trust.len(), 1, "{trust:?}");
    assert_eq!(
        trust[0]["last_bundle_not_applied"],
        json!(["root"]),
        "{trust:?}"
    );
    // A ceremony without the flag records nothing of the kind.
    let first = transcript_entries(&d.join("bundle.transcript.jsonl"), "trust");
    assert!(
        first[0].get("last_bundle_not_applied").is_none(),
        "{first:?}"
    );
}

#[test]
fn rolled_back_and_renamed_roots_must_chain_from_the_anchor() {
    let c = Ceremony::new();
    let d = c.path();
    // Apply the bundle (v2), propose again and sign: v3 is anchored.
    c.upload_and_propose_again("proposal2.json");
    let out = ok(&signer(d, sign_with("proposal2.json", "new.tgz.age", "b3")));
    assert!(out.contains("is the one this archive signed last"), "{out}");

    // The old proposal (v1), with or without the flag, is a rollback.
    for extra in [&[][..], &["--last-bundle-not-applied"][..]] {
        let args = sign_with("proposal.json", "b3.tgz.age", "x")
            .extra(extra)
            .to_vec();
        refused(d, &args, 3, &["v1, older than v3", "rollback"]);
    }
    // The same v1 under other names: another folder, a URL, another v1
    // hash, no history at all. Its root key is one this archive anchored
    // (in v1, the root its first anchor replaced): it must chain, and
    // cannot.
    let v1 = read_proposal(d, "proposal.json");
    let targets = [
        Target::TufDir {
            path: "/elsewhere/metadata".into(),
        },
        Target::TufHttp {
            url: "https://tuf.example/metadata/".into(),
        },
    ];
    for (i, target) in targets.into_iter().enumerate() {
        for history in [Some("ab".repeat(32)), None] {
            let mut p = v1.clone();
            p.target = target.clone();
            match &history {
                Some(h) => p.chains[0].history[0].sha256 = h.clone(),
                None => p.chains[0].history.clear(),
            }
            write_proposal(d, "renamed.json", &p);
            let args = sign_with("renamed.json", "b3.tgz.age", "x").to_vec();
            // Without a history, the v1 root's own hash names the same
            // repository (found by name); with another v1 hash, its keys
            // find it.
            let words: &[&str] = match history {
                Some(_) => &["shares root key", "older than v3"],
                None => &["older than v3"],
            };
            let t = refused(d, &args, 3, words);
            assert!(!t.contains("First use"), "case {i}: {t}");
        }
    }
    // The v2 proposal (now the anchor's predecessor) renamed: refused
    // without the flag, as under its own name.
    let mut p = read_proposal(d, "proposal2.json");
    p.target = Target::TufDir {
        path: "/elsewhere".into(),
    };
    p.chains[0].history.retain(|h| h.version != 1);
    write_proposal(d, "renamed2.json", &p);
    let args = sign_with("renamed2.json", "b3.tgz.age", "x").to_vec();
    refused(
        d,
        &args,
        3,
        &["shares root key", "--last-bundle-not-applied"],
    );
}

// ---- FoundriesFactory ----

/// A Factory imported into `keys.tgz.age` and rotated once: `new.tgz.age`
/// anchors its ci and prod v2 (the bundle `bundle.json`, never uploaded).
fn rotated_factory(dir: &Path, extra: Vec<(String, Vec<u8>)>) -> OtaFactory {
    let f = OtaFactory::new(false);
    f.import(dir, extra);
    write_proposal(dir, "proposal.json", &f.rotation());
    ok(&signer(dir, SignArgs::new()));
    f
}

fn root_ids(root: &RootMetadata) -> Vec<String> {
    root.role("root").unwrap().keyids
}

fn bundle_roots(dir: &Path, name: &str) -> Vec<RootMetadata> {
    let b = ceremony::bundle::Bundle::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap();
    b.roots.iter().map(|r| b.root(r).unwrap()).collect()
}

#[test]
fn renamed_factory_with_the_same_root_keys_must_chain() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = rotated_factory(d, Vec::new());
    for (factory, api) in [
        ("acme2", "https://api.foundries.io"),
        ("acme", "https://API.Foundries.io/"),
        ("acme", "https://api.evil.example"),
    ] {
        let mut p = f.rotation();
        p.target = Target::Factory {
            factory: factory.into(),
            api: api.into(),
        };
        write_proposal(d, "renamed.json", &p);
        let args = sign_with("renamed.json", "new.tgz.age", "x").to_vec();
        let t = refused(d, &args, 3, &["--last-bundle-not-applied", "v1"]);
        assert!(!t.contains("First use"), "{t}");
    }
    // A rolled-back v1 labelled as the other chain: shares the anchored
    // keys, so it is refused, never "first use".
    let roots = bundle_roots(d, "bundle.json");
    let mut p = factory_proposal(&roots[0], &f.ci, rotate_change(root_ids(&roots[0])));
    p.target = Target::Factory {
        factory: "acme3".into(),
        api: "https://api.foundries.io".into(),
    };
    write_proposal(d, "mixed.json", &p);
    let args = sign_with("mixed.json", "new.tgz.age", "x").to_vec();
    let t = refused(d, &args, 3, &["prod"]);
    assert!(!t.contains("First use"), "{t}");

    // The anchored v2 under another name chains, and signs; the anchors of
    // both names move to v3, so neither name can go back to v2 later.
    let mut p = factory_proposal(&roots[0], &roots[1], rotate_change(root_ids(&roots[0])));
    p.target = Target::Factory {
        factory: "acme2".into(),
        api: "https://api.foundries.io".into(),
    };
    write_proposal(d, "moved.json", &p);
    let out = ok(&signer(d, sign_with("moved.json", "new.tgz.age", "m")));
    assert!(out.contains("shares root key"), "{out}");
    assert!(out.contains("is the one this archive signed last"), "{out}");
    let m = manifest(&d.join("m.tgz.age"));
    let anchors = m["anchors"].as_array().unwrap();
    assert_eq!(anchors.len(), 4, "{m:#}");
    for a in anchors {
        assert_eq!(a["version"], 3, "{m:#}");
    }
    let mut p = factory_proposal(&roots[0], &roots[1], rotate_change(root_ids(&roots[0])));
    p.target = Target::Factory {
        factory: "acme".into(),
        api: "https://api.foundries.io".into(),
    };
    write_proposal(d, "back.json", &p);
    let args = sign_with("back.json", "m.tgz.age", "x").to_vec();
    refused(d, &args, 3, &["--last-bundle-not-applied"]);
}

#[test]
fn a_held_key_of_another_role_made_a_root_key_is_bound() {
    // The archive holds the Factory's root key and its targets key; a
    // "new" target whose root key is that targets key must chain from the
    // Factory's anchor (and cannot): never first use.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root_key = key(false);
    let targets = key(false);
    let mut ci = ota_root(
        1,
        &[root_key.public_key()],
        1,
        &targets.public_key(),
        &in_days(300),
    );
    sign_root(&mut ci, &[&root_key]);
    let mut files = ats_pair("first-root", &root_key);
    let tid = targets.public_key().fingerprint();
    files.extend(ats_pair(&format!("fioctl-targets-{tid}"), &targets));
    write_fioctl_tgz(&d.join("factory-keys.tgz"), &files);
    write_passphrase(d);
    ok(&signer(d, IMPORT));
    let id = ci.find_key_id(&root_key.public_key()).unwrap();
    write_proposal(
        d,
        "proposal.json",
        &factory_proposal(&ci, &ci, rotate_change(vec![id])),
    );
    ok(&signer(d, SignArgs::new()));

    let other = key(false).public_key();
    let mut fork = ota_root(1, &[targets.public_key()], 1, &other, &in_days(300));
    sign_root(&mut fork, &[&targets]);
    let mut p = factory_proposal(&fork, &fork, rotate_change(vec![tid]));
    p.target = Target::Factory {
        factory: "evil".into(),
        api: "https://api.foundries.io".into(),
    };
    write_proposal(d, "fork.json", &p);
    let args = sign_with("fork.json", "new.tgz.age", "x")
        .extra(["--trust-new-target"])
        .to_vec();
    let t = refused(d, &args, 3, &["shares root key"]);
    assert!(!t.contains("FIRST USE"), "{t}");
}

#[test]
fn added_prod_chain_sharing_anchored_keys_is_refused() {
    // A proposal with ci alone (a Factory with no production root yet): the
    // signer derived and anchored the first production root v2 too (issue
    // 13 item 2). A proposal then adds prod, a rolled-back copy of ci v1:
    // refused as the root that anchor replaced, never a first use.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = OtaFactory::new(false);
    f.import(d, Vec::new());
    let mut p = f.rotation();
    p.chains.truncate(1);
    write_proposal(d, "proposal.json", &p);
    ok(&signer(d, SignArgs::new()));
    let ci2 = bundle_roots(d, "bundle.json").remove(0);
    let p = factory_proposal(&ci2, &f.ci, rotate_change(root_ids(&ci2)));
    write_proposal(d, "added.json", &p);
    let args = sign_with("added.json", "new.tgz.age", "x").to_vec();
    let t = refused(
        d,
        &args,
        3,
        &["prod", "the root that this archive's trust anchor v2"],
    );
    assert!(!t.contains("First use for chain"), "{t}");
}

#[test]
fn first_use_of_another_target_asks_its_own_question() {
    // One archive, keys of two Factories; acme is anchored by a ceremony.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let other = OtaFactory::new(false);
    let id = other.root_key.public_key().fingerprint();
    rotated_factory(d, ats_pair(&format!("fioctl-root-{id}"), &other.root_key));
    let mut p = other.rotation();
    p.target = Target::Factory {
        factory: "other\u{1b}[1A".into(),
        api: "https://api.foundries.io".into(),
    };
    write_proposal(d, "other.json", &p);

    // --yes alone: refused before anything is made, naming both targets.
    let args = sign_with("other.json", "new.tgz.age", "o").to_vec();
    let t = refused(
        d,
        &args,
        3,
        &[
            "This archive anchors FoundriesFactory acme (https://api.foundries.io)",
            "different target: FoundriesFactory other\\u{1b}[1A (https://api.foundries.io)",
            "--trust-new-target",
        ],
    );
    assert!(!t.contains('\u{1b}'), "{t}");

    // On a terminal, "yes" is not the answer to this question.
    let args = sign_with("other.json", "new.tgz.age", "o")
        .no_yes()
        .to_vec();
    let before = list_dir(d);
    let out = signer_on_a_terminal(d, &args, "yes\n");
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("Type \"new target\""), "{t}");
    assert!(t.contains("not confirmed"), "{t}");
    // The operator's abort is recorded (issue 15): the transcript is the
    // one new file; it is moved aside for the next run.
    let mut after = list_dir(d);
    assert!(after.remove("o.transcript.jsonl").is_some(), "{t}");
    assert_eq!(after, before, "{t}");
    std::fs::rename(d.join("o.transcript.jsonl"), d.join("aborted.jsonl")).unwrap();

    // Typing "new target" (then "yes" to the server's part, and the version
    // to sign) goes ahead.
    let out = signer_on_a_terminal(d, &args, "new target\nyes\n2\n");
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("FIRST USE OF A NEW TARGET"), "{t}");
    assert!(d.join("o.json").exists(), "{t}");

    // With --yes --trust-new-target it is accepted too, and the new
    // archive anchors both targets; `list` shows them by target and chain.
    let args = sign_with("other.json", "new.tgz.age", "o2")
        .extra(["--trust-new-target"])
        .to_vec();
    let out = ok(&signer(d, &args));
    assert!(
        out.contains("Type \"new target\": [accepted by --yes]"),
        "{out}"
    );
    let list = ok(&signer(
        d,
        ["list", "o2.tgz.age", "--passphrase-file", "pass.txt"],
    ));
    assert!(
        list.contains("  FoundriesFactory acme (https://api.foundries.io)\n"),
        "{list}"
    );
    assert!(
        list.contains("  FoundriesFactory other\\u{1b}[1A (https://api.foundries.io)\n"),
        "{list}"
    );
    assert_eq!(list.matches("chain ci ").count(), 2, "{list}");
    assert_eq!(list.matches("chain prod").count(), 2, "{list}");
    let json_out = signer(
        d,
        [
            "list",
            "o2.tgz.age",
            "--passphrase-file",
            "pass.txt",
            "--json",
        ],
    );
    let v: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    let anchors = v["anchors"].as_array().unwrap();
    assert_eq!(anchors.len(), 4, "{v:#}");
    for a in anchors {
        assert_eq!(a["target_id"]["kind"], "factory", "{a:#}");
        assert_eq!(a["legacy"], false, "{a:#}");
        let entry = a["entry"].as_str().unwrap();
        assert!(
            !entry.contains("other") && !entry.contains("acme"),
            "{entry}"
        );
    }

    // Once anchored, the other target is no longer first use: its v1 is now
    // the predecessor of its anchor.
    let args = sign_with("other.json", "o2.tgz.age", "o3")
        .extra(["--trust-new-target"])
        .to_vec();
    refused(d, &args, 3, &["--last-bundle-not-applied"]);
}

// ---- archives of an older signer ----

/// A tarball as an older signer wrote it: manifest `archive@1`, anchors
/// `tuf-ceremony/anchors/<chain>.root.json` recorded by chain name.
fn legacy_archive(d: &Path, f: &OtaFactory, anchor: &RootMetadata) {
    let mut files = ats_pair("first-root", &f.root_key);
    let mut records = Vec::new();
    for chain in ["ci", "prod"] {
        files.push((
            format!("tuf-ceremony/anchors/{chain}.root.json"),
            anchor.to_bytes(),
        ));
        files.push((
            format!("tuf-ceremony/anchors/{chain}.previous.root.json"),
            f.ci.to_bytes(),
        ));
        records.push(json!({
            "chain": chain,
            "dialect": "ota-tuf",
            "version": 2,
            "sha256": ceremony::sha256::hex(&anchor.to_bytes()),
            "signed_at": "2026-01-01T00:00:00Z",
            "target": "FoundriesFactory acme (https://api.foundries.io)",
        }));
    }
    let m = json!({"format": "tuf-ceremony/archive@1", "keys": [], "anchors": records});
    files.push((
        "tuf-ceremony/manifest.json".into(),
        serde_json::to_vec(&m).unwrap(),
    ));
    write_fioctl_tgz(&d.join("factory-keys.tgz"), &files);
    write_passphrase(d);
    ok(&signer(d, IMPORT));
}

#[test]
fn legacy_archive_opens_and_its_anchor_protects() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = OtaFactory::new(false);
    let mut v2 = ota_root(2, &[f.root_key.public_key()], 1, &f.online, &in_days(300));
    sign_root(&mut v2, &[&f.root_key]);
    legacy_archive(d, &f, &v2);
    let list = ok(&signer(
        d,
        ["list", "keys.tgz.age", "--passphrase-file", "pass.txt"],
    ));
    assert!(list.contains("an anchor of an older signer"), "{list}");

    // v1 under another name: the older anchors bind every ci and prod.
    let mut p = f.rotation();
    p.target = Target::Factory {
        factory: "acme2".into(),
        api: "https://api.foundries.io".into(),
    };
    write_proposal(d, "renamed.json", &p);
    let args = sign_with("renamed.json", "keys.tgz.age", "x").to_vec();
    let t = refused(d, &args, 3, &["older signer", "--last-bundle-not-applied"]);
    assert!(!t.contains("First use"), "{t}");

    // The anchored v2 itself signs, and the new archive binds the anchors to
    // that target, keeping the old entries as they were.
    let id = v2.find_key_id(&f.root_key.public_key()).unwrap();
    let p = factory_proposal(&v2, &v2, rotate_change(vec![id]));
    write_proposal(d, "v2.json", &p);
    let out = ok(&signer(d, sign_with("v2.json", "keys.tgz.age", "b3")));
    assert!(out.contains("is the one this archive signed last"), "{out}");
    let m = manifest(&d.join("b3.tgz.age"));
    assert_eq!(m["format"], "tuf-ceremony/archive@2", "{m:#}");
    let anchors = m["anchors"].as_array().unwrap();
    assert_eq!(anchors.len(), 2, "{m:#}");
    for a in anchors {
        assert_eq!(a["target_id"]["factory"], "acme", "{m:#}");
        assert_eq!(a["version"], 3, "{m:#}");
        let chain = a["chain"].as_str().unwrap();
        assert_eq!(
            a["migrated_from"],
            json!([format!("tuf-ceremony/anchors/{chain}.root.json")]),
            "{m:#}"
        );
    }
    let entries = decrypt_archive(&d.join("b3.tgz.age"));
    assert_eq!(
        entries["tuf-ceremony/anchors/ci.root.json"],
        v2.to_bytes(),
        "old entries kept"
    );
    let list = ok(&signer(
        d,
        ["list", "b3.tgz.age", "--passphrase-file", "pass.txt"],
    ));
    assert!(!list.contains("older signer"), "{list}");
    // The taken-over anchor still protects: v2 (now the predecessor) and v1
    // are refused under any name.
    let args = sign_with("renamed.json", "b3.tgz.age", "x").to_vec();
    refused(d, &args, 3, &["older than v3"]);
    let mut p = factory_proposal(&v2, &v2, rotate_change(root_ids(&v2)));
    p.target = Target::Factory {
        factory: "acme4".into(),
        api: "https://api.foundries.io".into(),
    };
    write_proposal(d, "renamed2.json", &p);
    let args = sign_with("renamed2.json", "b3.tgz.age", "x").to_vec();
    refused(
        d,
        &args,
        3,
        &["shares root key", "--last-bundle-not-applied"],
    );
}

#[test]
fn damaged_anchor_is_not_first_use() {
    // A manifest record whose entry is missing: an error, never "no anchor".
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = OtaFactory::new(false);
    let mut files = ats_pair("first-root", &f.root_key);
    let m = json!({"format": "tuf-ceremony/archive@1", "keys": [], "anchors": [{
        "chain": "ci", "dialect": "ota-tuf", "version": 2, "sha256": "00".repeat(32),
        "signed_at": "2026-01-01T00:00:00Z"}]});
    files.push((
        "tuf-ceremony/manifest.json".into(),
        serde_json::to_vec(&m).unwrap(),
    ));
    write_fioctl_tgz(&d.join("factory-keys.tgz"), &files);
    write_passphrase(d);
    ok(&signer(d, IMPORT));
    write_proposal(d, "proposal.json", &f.rotation());
    let t = refused(d, &SignArgs::new().to_vec(), 1, &["damaged"]);
    assert!(!t.contains("First use"), "{t}");
}
