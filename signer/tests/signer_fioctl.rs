//! The offline half end to end on FoundriesFactory key tarballs: import a
//! fioctl-style tarball (Ed25519 first-root, RSA-2048 first-root, the legacy
//! example.tgz), review, sign a proposal for the ci and prod chains, and
//! check what comes out: roots that pass the rotation rules and aktualizr's
//! canonical form, a bundle, and a new archive that `age -d` turns into a
//! tarball in fioctl's layout holding the old and the new keys.

use std::path::Path;

use ceremony::bundle::Bundle;
use ceremony::keys::PrivateKey;
use ceremony::rules::check_step;
use ceremony::{Dialect, RootMetadata};
use ceremony_tests::prelude::*;
use time::OffsetDateTime;

struct Factory {
    root_key: PrivateKey,
    ci: RootMetadata,
    prod: RootMetadata,
}

/// A Factory at v1: `root_key` is its (first-root) root key.
fn factory(rsa: bool) -> Factory {
    let root_key = key(rsa);
    let online = key(false).public_key();
    let mut ci = ota_root(1, &[root_key.public_key()], 1, &online, &in_days(300));
    sign_root(&mut ci, &[&root_key]);
    let prod = ci.clone();
    Factory { root_key, ci, prod }
}

/// Runs import → review → sign on `tarball` and checks the results.
fn end_to_end(dir: &Path, f: &Factory, tarball_name: &str) {
    let pass = write_passphrase(dir);
    let pass = pass.to_str().unwrap();
    let out = ok(&signer(
        dir,
        [
            "import",
            tarball_name,
            "-o",
            "keys.tgz.age",
            "--passphrase-file",
            pass,
        ],
    ));
    assert!(out.contains("decrypted and compared"), "{out}");

    let listing = ok(&signer(
        dir,
        ["list", "keys.tgz.age", "--passphrase-file", pass],
    ));
    assert!(
        listing.contains(&f.root_key.public_key().fingerprint()[..16]),
        "{listing}"
    );

    let old_id = f.ci.find_key_id(&f.root_key.public_key()).unwrap();
    let proposal = factory_proposal(&f.ci, &f.prod, rotate_change(vec![old_id.clone()]));
    let ppath = write_proposal(dir, "proposal.json", &proposal);

    let review = ok(&signer(dir, ["review", "proposal.json"]));
    assert!(review.contains("chain ci: v1 -> v2"), "{review}");
    assert!(review.contains("chain prod: v1 -> v2"), "{review}");
    assert!(review.contains("<new key 1>"), "{review}");

    let out = ok(&signer(
        dir,
        SignArgs::new()
            .new_archive(Some("keys2.tgz.age"))
            .passphrase_file(Some(pass)),
    ));
    assert!(out.contains("complete"), "{out}");

    // The bundle.
    let bundle = Bundle::from_slice(&std::fs::read(dir.join("bundle.json")).unwrap()).unwrap();
    assert!(bundle.complete);
    assert_eq!(
        bundle.proposal_sha256,
        ceremony::proposal::sha256_hex(&std::fs::read(&ppath).unwrap())
    );
    assert_eq!(bundle.roots.len(), 2);
    assert_eq!(bundle.new_keys.len(), 1);
    let now = OffsetDateTime::now_utc();
    for (signed, current) in bundle.roots.iter().zip([&f.ci, &f.prod]) {
        let new = bundle.root(signed).unwrap();
        let verdict = check_step(Some(current), &new, Some(now));
        assert!(verdict.ok(), "{}: {:?}", signed.name, verdict.failures);
        assert_eq!(new.version().unwrap(), 2);
        let role = new.role("root").unwrap();
        assert_eq!(role.keyids, vec![bundle.new_keys[0].keyid.clone()]);
        assert!(
            !new.key_objects().unwrap().contains_key(&old_id),
            "old key dropped"
        );
        // aktualizr's canonical form: the bytes the signatures cover.
        let canon = new.canonical_signed().unwrap();
        assert_eq!(canon, aktualizr_canonical(&new.envelope()["signed"]));
        assert!(!canon.contains(&b'\n') && canon.iter().all(|b| (0x20..0x7f).contains(b)));
        assert_eq!(new.signatures().unwrap().len(), 2, "old and new key signed");
        for s in new.signatures().unwrap() {
            assert!(s.method.is_some());
        }
    }
    // prod keeps the previous prod targets threshold; the changelog survives.
    let ci_new = bundle.root(&bundle.roots[0]).unwrap();
    let message = ci_new.signed()["x-changelog"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("yearly rotation [tuf-ceremony transcript "),
        "{message}"
    );
    assert_eq!(bundle.roots[0].name, "ci");
    assert_eq!(bundle.roots[1].name, "prod");

    // The new archive, decrypted as `age -d` would: fioctl's layout, old and new keys.
    let old_entries = decrypt_archive(&dir.join("keys.tgz.age"));
    let entries = decrypt_archive(&dir.join("keys2.tgz.age"));
    for (name, data) in &old_entries {
        if name != "tuf-ceremony/manifest.json" {
            assert_eq!(entries.get(name), Some(data), "{name} kept");
        }
    }
    let new_id = &bundle.new_keys[0].keyid;
    let sec = entries
        .get(&format!("tufrepo/keys/fioctl-root-{new_id}.sec"))
        .expect("new key under fioctl's name");
    assert!(entries.contains_key(&format!("tufrepo/keys/fioctl-root-{new_id}.pub")));
    let new_key = PrivateKey::from_ats_json(sec).unwrap();
    assert_eq!(new_key.public_key().key_id(Dialect::OtaTuf), *new_id);
    // The anchors sit in one folder named by the sha256 of the Factory's
    // identity, never by text from the proposal.
    let dirs: std::collections::BTreeSet<&str> = entries
        .keys()
        .filter_map(|n| n.strip_prefix("tuf-ceremony/anchors/"))
        .filter_map(|rest| rest.split_once('/').map(|(d, _)| d))
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let d = dirs.first().unwrap();
    assert!(
        d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()),
        "{d}"
    );
    assert!(entries.contains_key(&format!("tuf-ceremony/anchors/{d}/ci.root.json")));
    assert!(entries.contains_key(&format!("tuf-ceremony/anchors/{d}/prod.root.json")));
    for name in entries.keys() {
        assert!(!name.ends_with('/') && !name.starts_with('/'), "{name}");
    }
    // The old archive is untouched and still opens.
    ok(&signer(
        dir,
        ["list", "keys.tgz.age", "--passphrase-file", pass],
    ));

    // The next ceremony starts from the anchor: the root just signed is the
    // current one, and the new archive signs v3 without asking.
    let proposal3 = factory_proposal(
        &ci_new,
        &bundle.root(&bundle.roots[1]).unwrap(),
        rotate_change(vec![new_id.clone()]),
    );
    write_proposal(dir, "proposal3.json", &proposal3);
    let out = ok(&signer(
        dir,
        SignArgs::new()
            .proposal("proposal3.json")
            .keys("keys2.tgz.age")
            .out("bundle3.json")
            .new_archive(Some("keys3.tgz.age"))
            .passphrase_file(Some(pass)),
    ))
    .to_string();
    assert!(out.contains("is the one this archive signed last"), "{out}");
    assert!(!out.contains("First use"), "{out}");
}

#[test]
fn fioctl_tarball_ed25519_first_root() {
    let dir = tempfile::tempdir().unwrap();
    let f = factory(false);
    let targets = key(false);
    let mut files = ats_pair("first-root", &f.root_key);
    files.extend(ats_pair(
        &format!("fioctl-targets-{}", targets.public_key().fingerprint()),
        &targets,
    ));
    write_fioctl_tgz(&dir.path().join("factory-keys.tgz"), &files);
    end_to_end(dir.path(), &f, "factory-keys.tgz");
}

#[test]
fn fioctl_tarball_rsa2048_first_root() {
    let dir = tempfile::tempdir().unwrap();
    let f = factory(true);
    write_fioctl_tgz(
        &dir.path().join("factory-keys.tgz"),
        &ats_pair("first-root", &f.root_key),
    );
    end_to_end(dir.path(), &f, "factory-keys.tgz");
}

#[test]
fn legacy_example_tgz() {
    let dir = tempfile::tempdir().unwrap();
    let f = factory(true);
    let online_root = key(true);
    let mut files = ats_pair("offline-root", &f.root_key);
    files.extend(ats_pair("offline-targets", &key(false)));
    files.extend(ats_pair("root", &online_root));
    files.extend(ats_pair("targets", &key(false)));
    files.push((
        "tufrepo/config.json".into(),
        br#"{"auth":{"server":"https://app.foundries.io","client_id":"x","client_secret":"y"},"ostree":{},"reposerver":"https://api.foundries.io/ota/repo/acme"}"#.to_vec(),
    ));
    files.push(("tufrepo/credentials.zip".into(), b"PK\x05\x06".to_vec()));
    files.push(("tufrepo/roles/root.json".into(), f.ci.to_bytes()));
    files.push(("tufrepo/roles/targets.json".into(), b"{}".to_vec()));
    write_fioctl_tgz(&dir.path().join("example.tgz"), &files);
    end_to_end(dir.path(), &f, "example.tgz");
}
