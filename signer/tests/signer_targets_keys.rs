//! Offline targets keys in their own archive (issue 14 item 1): fioctl keeps
//! them in a tarball of their own (`--targets-keys`,
//! `tufrepo/keys/fioctl-targets-<keyid>.{pub,sec}`); `signer import` takes
//! such a tarball (or only one role's keys of a tarball that holds both),
//! `signer list` names the role, `signer export` writes them back with at
//! most one active targets key per tarball, and a root ceremony given the
//! targets archive instead of the root keys' says which archive it needs.
//!
//! The exported tarballs are read here by a reader written from fioctl's
//! `findTufSigners` rules, not by the signer's keystore.

use std::collections::BTreeMap;
use std::path::Path;

use ceremony::keys::PrivateKey;
use ceremony::Dialect;
use ceremony_tests::prelude::*;
use serde_json::Value;

/// `fioctl-targets-<ota-tuf key id>`, fioctl's name for a targets key.
fn targets_stem(k: &PrivateKey) -> String {
    format!("fioctl-targets-{}", k.public_key().key_id(Dialect::OtaTuf))
}

/// The `.sec` files of a tarball whose `.pub` beside them holds one of
/// `wanted`'s public keys (fioctl's match: the trimmed `keyval.public`).
fn signers(files: &BTreeMap<String, Vec<u8>>, wanted: &[&PrivateKey]) -> Vec<String> {
    let wanted: Vec<String> = wanted
        .iter()
        .map(|k| {
            let o = k.public_key().to_key_object(Dialect::OtaTuf);
            o["keyval"]["public"].as_str().unwrap().trim().to_string()
        })
        .collect();
    let mut found = Vec::new();
    for (name, bytes) in files {
        let Some(stem) = name.strip_suffix(".pub") else {
            continue;
        };
        let key: Value = serde_json::from_slice(bytes).unwrap();
        let probe = key["keyval"]["public"].as_str().unwrap().trim();
        if wanted.iter().any(|w| w == probe) {
            let sec = format!("{stem}.sec");
            let sec_key: Value = serde_json::from_slice(&files[&sec]).unwrap();
            assert!(sec_key["keyval"]["private"].is_string(), "{sec}");
            found.push(sec);
        }
    }
    found
}

fn import(d: &Path, tarball: &str, out: &str, role: Option<&str>) -> std::process::Output {
    let mut args = vec![
        "import",
        tarball,
        "-o",
        out,
        "--passphrase-file",
        "pass.txt",
    ];
    if let Some(r) = role {
        args.extend(["--role", r]);
    }
    signer(d, args)
}

fn listing(d: &Path, archive: &str) -> Value {
    let out = signer(
        d,
        ["list", archive, "--json", "--passphrase-file", "pass.txt"],
    );
    ok(&out);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
}

fn export(d: &Path, archive: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "export",
        archive,
        "--plaintext",
        "--passphrase-file",
        "pass.txt",
    ];
    all.extend_from_slice(args);
    signer(d, all)
}

#[test]
fn a_targets_tarball_imports_lists_and_exports_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_passphrase(d);
    let t = key(false);
    write_fioctl_tgz(&d.join("targets.tgz"), &ats_pair(&targets_stem(&t), &t));
    let said = ok(&import(d, "targets.tgz", "targets.tgz.age", None));
    assert!(said.contains("targets"), "{said}");

    let l = listing(d, "targets.tgz.age");
    let keys = l["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{l}");
    assert_eq!(keys[0]["role"], "targets", "{l}");
    assert_eq!(
        keys[0]["fingerprint"].as_str().unwrap(),
        t.public_key().fingerprint(),
        "{l}"
    );

    ok(&export(d, "targets.tgz.age", &["-o", "back.tgz"]));
    let files = tgz_entries(&std::fs::read(d.join("back.tgz")).unwrap());
    assert_eq!(
        signers(&files, &[&t]),
        vec![format!("tufrepo/keys/{}.sec", targets_stem(&t))]
    );
    // No root key came from anywhere.
    assert!(!files.keys().any(|n| n.contains("root")), "{files:?}");
}

#[test]
fn one_role_of_a_tarball_holding_both_is_taken_apart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_passphrase(d);
    let root = key(false);
    let t = key(false);
    let mut files = ats_pair("first-root", &root);
    files.extend(ats_pair(&targets_stem(&t), &t));
    write_fioctl_tgz(&d.join("both.tgz"), &files);

    ok(&import(d, "both.tgz", "targets.tgz.age", Some("targets")));
    ok(&import(d, "both.tgz", "root.tgz.age", Some("root")));
    let targets = decrypt_archive(&d.join("targets.tgz.age"));
    let roots = decrypt_archive(&d.join("root.tgz.age"));
    assert_eq!(
        signers(&targets, &[&t, &root]).len(),
        1,
        "{:?}",
        targets.keys()
    );
    assert_eq!(signers(&targets, &[&t]).len(), 1);
    assert!(!targets.contains_key("tufrepo/keys/first-root.sec"));
    assert!(!targets.contains_key("tufrepo/keys/first-root.pub"));
    assert_eq!(
        signers(&roots, &[&t, &root]),
        vec!["tufrepo/keys/first-root.sec"]
    );
    let roles: Vec<Value> = listing(d, "targets.tgz.age")["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["role"].clone())
        .collect();
    assert_eq!(roles, vec![Value::from("targets")]);

    // Without --role both are imported, and the operator is told how to
    // keep them apart.
    let said = ok(&import(d, "both.tgz", "mixed.tgz.age", None));
    assert!(
        said.contains("--role root") && said.contains("--role targets"),
        "{said}"
    );

    // A role the tarball has no key of is refused, nothing written.
    write_fioctl_tgz(&d.join("root-only.tgz"), &ats_pair("first-root", &root));
    let out = import(d, "root-only.tgz", "none.tgz.age", Some("targets"));
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("holds no targets key"), "{said}");
    assert!(!d.join("none.tgz.age").exists());
    // Only root and targets are roles.
    let out = import(d, "both.tgz", "x.tgz.age", Some("snapshot"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn two_targets_keys_export_one_per_tarball() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_passphrase(d);
    let (a, b) = (key(false), key(false));
    let mut files = ats_pair(&targets_stem(&a), &a);
    files.extend(ats_pair(&targets_stem(&b), &b));
    write_fioctl_tgz(&d.join("targets.tgz"), &files);
    ok(&import(d, "targets.tgz", "targets.tgz.age", None));

    // The archive has signed nothing: both count as active, and fioctl
    // refuses a tarball with two active targets keys.
    let out = export(d, "targets.tgz.age", &["-o", "all.tgz"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("2 active targets keys"), "{said}");
    for k in [&a, &b] {
        assert!(said.contains(&k.public_key().fingerprint()), "{said}");
    }
    assert!(!d.join("all.tgz").exists());

    ok(&export(d, "targets.tgz.age", &["--each", "holders"]));
    let mut held = Vec::new();
    for e in std::fs::read_dir(d.join("holders")).unwrap() {
        let files = tgz_entries(&std::fs::read(e.unwrap().path()).unwrap());
        let s = signers(&files, &[&a, &b]);
        assert_eq!(s.len(), 1, "{s:?}");
        held.extend(s);
    }
    held.sort();
    let mut want = vec![
        format!("tufrepo/keys/{}.sec", targets_stem(&a)),
        format!("tufrepo/keys/{}.sec", targets_stem(&b)),
    ];
    want.sort();
    assert_eq!(held, want);

    let id = a.public_key().key_id(Dialect::OtaTuf);
    ok(&export(
        d,
        "targets.tgz.age",
        &["--key", &id, "-o", "a.tgz"],
    ));
    let files = tgz_entries(&std::fs::read(d.join("a.tgz")).unwrap());
    assert_eq!(
        signers(&files, &[&a, &b]),
        vec![format!("tufrepo/keys/{}.sec", targets_stem(&a))]
    );
}

#[test]
fn a_root_ceremony_given_the_targets_archive_names_the_archive_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = OtaFactory::new(false);
    write_passphrase(d);
    let t = key(false);
    write_fioctl_tgz(&d.join("targets.tgz"), &ats_pair(&targets_stem(&t), &t));
    ok(&import(d, "targets.tgz", "targets.tgz.age", None));
    write_proposal(d, "proposal.json", &f.rotation());
    let out = signer(
        d,
        SignArgs::new()
            .keys("targets.tgz.age")
            .passphrase_file(Some("pass.txt")),
    );
    let said = text(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("only offline targets keys"), "{said}");
    assert!(said.contains("--keys ROOT.tgz.age"), "{said}");
    assert!(!d.join("bundle.json").exists());
}

/// A Factory whose root key is imported into `keys.tgz.age`, and a
/// proposal (`proposal.json`) to take its targets key offline: one new
/// offline targets key beside the online one.
fn targets_rotation(d: &Path) -> OtaFactory {
    use ceremony::proposal::{Change, KeyRole, Rotate};
    let f = OtaFactory::new(false);
    f.import(d, Vec::new());
    let change = Change {
        role: KeyRole::Targets,
        online_targets_key: Some(f.online.key_id(Dialect::OtaTuf)),
        rotate: Some(Rotate::All),
        expires: in_days(365),
        ..Change::default()
    };
    write_proposal(d, "proposal.json", &factory_proposal(&f.ci, &f.ci, change));
    f
}

#[test]
fn a_targets_rotation_puts_the_new_key_in_the_targets_archive() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = targets_rotation(d);
    let said = ok(&signer(
        d,
        SignArgs::new()
            .new_archive(Some("keys2.tgz.age"))
            .passphrase_file(Some("pass.txt"))
            .extra(["--targets-keys", "targets.tgz.age"]),
    ));
    assert!(said.contains("offline targets key"), "{said}");
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(d.join("bundle.json")).unwrap()).unwrap();
    // The one new key: in the targets archive, as a targets key, and in
    // both roots' targets role beside the online key.
    let targets = decrypt_archive(&d.join("targets.tgz.age"));
    let secs: Vec<&String> = targets.keys().filter(|n| n.ends_with(".sec")).collect();
    assert_eq!(secs.len(), 1, "{:?}", targets.keys());
    assert!(
        secs[0].starts_with("tufrepo/keys/fioctl-targets-"),
        "{secs:?}"
    );
    let new_id = secs[0]
        .trim_start_matches("tufrepo/keys/fioctl-targets-")
        .trim_end_matches(".sec")
        .to_string();
    let online = f.online.key_id(Dialect::OtaTuf);
    let roots = bundle["roots"].as_array().unwrap();
    assert_eq!(roots.len(), 2, "{bundle}");
    for r in roots {
        let root = &r["root"]["signed"];
        let ids: Vec<&str> = root["roles"]["targets"]["keyids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![online.as_str(), new_id.as_str()], "{r}");
        // The root keys are those of before.
        assert_eq!(
            root["roles"]["root"]["keyids"],
            serde_json::json!([f.root_key_id()]),
            "{r}"
        );
    }
    // The root keys' new archive has no targets key; its root key is kept.
    let roots_archive = decrypt_archive(&d.join("keys2.tgz.age"));
    assert!(
        !roots_archive.keys().any(|n| n.contains("targets")),
        "{:?}",
        roots_archive.keys()
    );
    assert!(roots_archive.contains_key("tufrepo/keys/first-root.sec"));
}

#[test]
fn a_targets_rotation_needs_the_targets_archive_and_only_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    targets_rotation(d);
    let out = signer(d, SignArgs::new().passphrase_file(Some("pass.txt")));
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("--targets-keys TARGETS.tgz.age"), "{said}");
    assert!(!d.join("bundle.json").exists());
    // The root keys' archive is not the targets keys'.
    let out = signer(
        d,
        SignArgs::new()
            .passphrase_file(Some("pass.txt"))
            .extra(["--targets-keys", "keys.tgz.age"]),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    // A root rotation takes no targets archive.
    let f = OtaFactory::new(false);
    write_proposal(d, "root.json", &f.rotation());
    let out = signer(
        d,
        SignArgs::new()
            .proposal("root.json")
            .passphrase_file(Some("pass.txt"))
            .extra(["--targets-keys", "t.tgz.age"]),
    );
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("changes the root keys"), "{said}");
    assert!(!d.join("bundle.json").exists());
}

/// A Factory whose CI root has an offline targets key `old` beside the
/// online one, its root key in `keys.tgz.age`, and a proposal rotating
/// `old` that carries `prod` as the production targets fetched.
fn rotation_with_prod_targets(d: &Path, prod: Value) -> (OtaFactory, PrivateKey) {
    use ceremony::proposal::{Change, KeyRole, Rotate};
    use ceremony::root::RoleKeys;
    let mut f = OtaFactory::new(false);
    let old = key(false);
    let d_ = Dialect::OtaTuf;
    let old_id = old.public_key().key_id(d_);
    f.ci.insert_key(&old_id, &old.public_key());
    f.ci.set_role(
        "targets",
        &RoleKeys {
            keyids: vec![f.online.key_id(d_), old_id.clone()],
            threshold: 1,
        },
    );
    f.ci.clear_signatures();
    sign_root(&mut f.ci, &[&f.root_key]);
    f.import(d, Vec::new());
    let change = Change {
        role: KeyRole::Targets,
        online_targets_key: Some(f.online.key_id(d_)),
        rotate: Some(Rotate::Keys(vec![old_id])),
        expires: in_days(365),
        ..Change::default()
    };
    let mut p = factory_proposal(&f.ci, &f.ci, change);
    p.resign = Some(serde_json::from_value(serde_json::json!({"prod": prod})).unwrap());
    write_proposal(d, "proposal.json", &p);
    (f, old)
}

fn prod_file(signed_by: &str, custom_name: &str) -> Value {
    serde_json::json!({
        "signatures": [{"keyid": signed_by, "method": "ed25519", "sig": "AA=="}],
        "signed": {"_type": "Targets", "version": 7, "expires": "2031-01-01T00:00:00Z",
            "targets": {"main-lmp-42": {"length": 1234,
                "hashes": {"sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
                "custom": {"name": custom_name, "version": "42", "hardwareIds": ["m"]}}}}
    })
}

/// `prod_file` with a real signature by `key` (the old offline key), over
/// the canonical form a device checks.
fn signed_prod_file(key: &PrivateKey, custom_name: &str) -> Value {
    let id = key.public_key().key_id(Dialect::OtaTuf);
    let mut f = prod_file(&id, custom_name);
    let t = ceremony::resign::ToResign {
        kind: ceremony::resign::Kind::Prod,
        name: "main".into(),
        envelope: f.clone(),
    };
    f["signatures"] = serde_json::json!([t.sign(&id, key).unwrap()]);
    f
}

fn sign_targets(d: &Path) -> std::process::Output {
    signer(
        d,
        SignArgs::new()
            .new_archive(Some("keys2.tgz.age"))
            .passphrase_file(Some("pass.txt"))
            .extra(["--targets-keys", "targets.tgz.age"]),
    )
}

#[test]
fn the_re_signed_production_targets_are_shown_in_full_and_signed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The offline key is made with the Factory: the files it signed are
    // written into the proposal once it exists.
    let real = d.join("real");
    std::fs::create_dir(&real).unwrap();
    let (f, old) = rotation_with_prod_targets(&real, serde_json::json!({}));
    let old_id = old.public_key().key_id(Dialect::OtaTuf);
    let mut p: ceremony::proposal::Proposal = ceremony::proposal::Proposal::from_slice(
        &std::fs::read(real.join("proposal.json")).unwrap(),
    )
    .unwrap();
    p.resign = Some(
        serde_json::from_value(serde_json::json!({
            "prod": {"main": signed_prod_file(&old, "main-lmp"), "other": prod_file("ffff", "x")},
            "waves": {"w2": signed_prod_file(&old, "main-lmp")},
        }))
        .unwrap(),
    );
    std::fs::remove_file(real.join("proposal.json")).unwrap();
    write_proposal(&real, "proposal.json", &p);
    // `signer review` shows them the same way, with no key at hand.
    let review = ok(&signer(&real, ["review", "proposal.json"]));
    let out = sign_targets(&real);
    let screen = ok(&out);
    for want in [
        "PRODUCTION TARGETS RE-SIGNED",
        "production targets of tag main: version 7, expires \"2031-01-01T00:00:00Z\", 1 target(s)",
        "targets of wave w2: version 7",
        "target main-lmp-42",
        "sha256 \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\", length 1234",
        "custom: {\"name\":\"main-lmp\",\"version\":\"42\",\"hardwareIds\":[\"m\"]}",
        "not re-signed (no replaced key signed it): production targets of tag other",
    ] {
        assert!(screen.contains(want), "{want}\n{screen}");
        assert!(review.contains(want), "{want}\n{review}");
    }
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(real.join("bundle.json")).unwrap()).unwrap();
    let new_id = bundle["new_keys"][0]["keyid"].as_str().unwrap().to_string();
    let new_key =
        ceremony::keys::PublicKey::from_key_object(&bundle["new_keys"][0]["key"], Dialect::OtaTuf)
            .unwrap();
    for (field, name) in [("targets_signatures", "main"), ("waves_signatures", "w2")] {
        let sigs = bundle[field][name]
            .as_array()
            .unwrap_or_else(|| panic!("{field}: {bundle}"));
        assert_eq!(sigs.len(), 1);
        assert_eq!(sigs[0]["keyid"], new_id.as_str());
        let raw = unbase64(sigs[0]["sig"].as_str().unwrap());
        let signed = prod_file(&old_id, "main-lmp")["signed"].clone();
        new_key
            .verify(
                Dialect::OtaTuf,
                &aktualizr_canonical(&signed),
                &raw,
                Some("ed25519"),
            )
            .unwrap();
    }
    assert!(
        bundle["targets_signatures"].get("other").is_none(),
        "{bundle}"
    );
    drop(f);
}

#[test]
fn production_targets_that_cannot_be_shown_or_signed_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path();
    let (_f, old) = rotation_with_prod_targets(real, serde_json::json!({}));
    let old_id = old.public_key().key_id(Dialect::OtaTuf);
    let base: ceremony::proposal::Proposal = ceremony::proposal::Proposal::from_slice(
        &std::fs::read(real.join("proposal.json")).unwrap(),
    )
    .unwrap();
    let cases = [
        // A control character in a custom field: devices canonicalise it
        // differently; shown escaped, refused before the confirmation.
        (
            serde_json::json!({"main": prod_file(&old_id, "evil\u{1b}[2J")}),
            "is not allowed in ota-tuf metadata",
        ),
        // Not targets metadata.
        (
            serde_json::json!({"main": {"signatures": [{"keyid": old_id}], "signed": {"_type": "Root", "targets": {}}}}),
            "is not \"Targets\"",
        ),
    ];
    for (i, (prod, what)) in cases.into_iter().enumerate() {
        let sub = real.join(format!("c{i}"));
        std::fs::create_dir(&sub).unwrap();
        for f in ["keys.tgz.age", "pass.txt"] {
            std::fs::copy(real.join(f), sub.join(f)).unwrap();
        }
        let mut p = base.clone();
        p.resign = Some(serde_json::from_value(serde_json::json!({ "prod": prod })).unwrap());
        write_proposal(&sub, "proposal.json", &p);
        let out = sign_targets(&sub);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(3), "{said}");
        assert!(said.contains(what), "{what}: {said}");
        assert!(!said.contains('\u{1b}'), "{said}");
        // Refused before any key is made: nothing written.
        let mut left: Vec<String> = std::fs::read_dir(&sub)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["keys.tgz.age", "pass.txt", "proposal.json"],
            "{said}"
        );
    }
    // A name that is not a tag or wave name is refused with the proposal.
    let mut p = base.clone();
    p.resign = Some(
        serde_json::from_value(serde_json::json!({"prod": {"../x": prod_file(&old_id, "a")}}))
            .unwrap(),
    );
    let bytes = p.to_bytes();
    let e = ceremony::proposal::Proposal::from_slice(&bytes)
        .unwrap_err()
        .to_string();
    assert!(e.contains("only letters, digits"), "{e}");
}

/// Standard base64, padded (the signer crate has no base64 dependency).
fn unbase64(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = A.iter().position(|&a| a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// The first offline targets key of a root keys' archive protected by age
/// recipients: the targets keys' new archive is encrypted to the same
/// recipients and, with the identity that opened the root keys' archive,
/// decrypted again and compared before it takes its name (the transcript
/// says so), as a successor of the root keys' archive is.
#[test]
fn a_new_targets_archive_under_recipients_is_read_back_before_it_takes_its_name() {
    use age::secrecy::ExposeSecret;
    use ceremony::proposal::{Change, KeyRole, Rotate};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = age::x25519::Identity::generate();
    std::fs::write(
        d.join("id.txt"),
        format!("{}\n", id.to_string().expose_secret()),
    )
    .unwrap();
    let r = id.to_public().to_string();
    let f = OtaFactory::new(false);
    f.write_tgz(d, Vec::new());
    ok(&signer(
        d,
        [
            "import",
            "factory-keys.tgz",
            "-o",
            "keys.tgz.age",
            "-r",
            &r,
            "-i",
            "id.txt",
        ],
    ));
    let change = Change {
        role: KeyRole::Targets,
        online_targets_key: Some(f.online.key_id(Dialect::OtaTuf)),
        rotate: Some(Rotate::All),
        expires: in_days(365),
        ..Change::default()
    };
    write_proposal(d, "proposal.json", &factory_proposal(&f.ci, &f.ci, change));
    ok(&signer(
        d,
        SignArgs::new()
            .new_archive(Some("keys2.tgz.age"))
            .passphrase_file(None)
            .extra(["-i", "id.txt", "--targets-keys", "targets.tgz.age"]),
    ));
    let transcript = std::fs::read_to_string(d.join("bundle.transcript.jsonl")).unwrap();
    let written: Vec<Value> = transcript
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["kind"] == "archive-written")
        .map(|e| e["data"].clone())
        .collect();
    let targets = written
        .iter()
        .find(|w| w["path"].as_str().unwrap().ends_with("targets.tgz.age"))
        .unwrap_or_else(|| panic!("{written:?}"));
    assert_eq!(targets["re_decrypted_and_compared"], true, "{targets}");
    // It opens with the identity, as the root keys' archive does.
    let listed = ok(&signer(d, ["list", "targets.tgz.age", "-i", "id.txt"]));
    assert!(listed.contains("targets"), "{listed}");
}

/// The targets keys' holder's run (no --keys) is only for a targets change
/// that makes new offline targets keys from an existing targets keys'
/// archive; anything else is refused before any archive is opened, naming
/// the flag, and writes nothing.
#[test]
fn without_the_root_keys_only_the_targets_holders_part_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    targets_rotation(d);
    let run = |proposal: &str, targets: &str| {
        signer(
            d,
            [
                "sign",
                proposal,
                "--targets-keys",
                targets,
                "-o",
                "bundle.json",
                "--passphrase-file",
                "pass.txt",
                "--yes",
            ],
        )
    };
    // No targets keys' archive yet: its protection would come from nowhere.
    let out = run("proposal.json", "targets.tgz.age");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("give --keys ROOT.tgz.age too"), "{said}");
    // A root change is the root keys' alone.
    let f = OtaFactory::new(false);
    write_proposal(d, "root.json", &f.rotation());
    let out = run("root.json", "keys.tgz.age");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("--keys ROOT.tgz.age is required"), "{said}");
    // The root keys' archive given as --targets-keys is refused: it holds
    // root keys.
    let out = run("proposal.json", "keys.tgz.age");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("holds root keys"), "{said}");
    assert!(!d.join("bundle.json").exists());
}
