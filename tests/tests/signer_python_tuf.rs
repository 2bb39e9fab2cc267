//! The offline half end to end on a TUF repository written by python-tuf
//! (`valid-rotations`: ed25519, ecdsa-p256 and rsa root keys, threshold 2 of
//! 3): import the PKCS#8 PEM keys, review, sign a rotation, and let
//! python-tuf itself accept the new root as the next step of the history.

use ceremony::bundle::Bundle;
use ceremony::proposal::{
    sha256_hex, Chain, Change, HistoryEntry, Proposal, Rotate, Target, PROPOSAL_FORMAT,
};
use ceremony::root::format_expires;
use ceremony::rules::check_step;
use ceremony::{Dialect, RootMetadata};
use ceremony_tests::cmd::{ok, signer};
use ceremony_tests::files::tgz_names;
use ceremony_tests::fixture::{write_passphrase, SignArgs};
use ceremony_tests::{python_histories, run_python};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

/// Signs a rotation of key `rotate` (K1..K9) away from `N.root.json` of
/// the valid-rotations history, and has python-tuf walk 1..N+1.
fn rotate_from(current_version: u64, rotate: &str) {
    let case = python_histories().join("valid-rotations");
    let keys: Value =
        serde_json::from_slice(&std::fs::read(case.join("keys/keys.json")).unwrap()).unwrap();
    let id_of = |name: &str| -> String {
        keys.as_object()
            .unwrap()
            .iter()
            .find(|(_, v)| v["name"] == name)
            .map(|(id, _)| id.clone())
            .unwrap()
    };

    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let meta = dir.join("metadata");
    std::fs::create_dir(&meta).unwrap();
    let mut history = Vec::new();
    for v in 1..=current_version {
        let bytes = std::fs::read(case.join(format!("{v}.root.json"))).unwrap();
        history.push(HistoryEntry {
            version: v,
            sha256: sha256_hex(&bytes),
        });
        std::fs::write(meta.join(format!("{v}.root.json")), bytes).unwrap();
    }
    write_passphrase(dir);

    // Import every PEM key of the history (K1..K9; ed25519, ecdsa, rsa).
    let mut args: Vec<String> = vec!["import".into()];
    for e in std::fs::read_dir(case.join("keys")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "pem") {
            args.push("--key".into());
            args.push(p.to_string_lossy().into_owned());
        }
    }
    args.extend(["-o", "keys.tgz.age", "--passphrase-file", "pass.txt"].map(String::from));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&signer(dir, &argv));
    let listing = ok(&signer(
        dir,
        [
            "list",
            "keys.tgz.age",
            "--passphrase-file",
            "pass.txt",
            "--json",
        ],
    ));
    assert!(
        listing.contains("ecdsa-p256") && listing.contains("\"rsa\""),
        "{listing}"
    );

    let current_bytes = std::fs::read(meta.join(format!("{current_version}.root.json"))).unwrap();
    let current = RootMetadata::from_slice(&current_bytes, Some(Dialect::Tuf)).unwrap();
    let proposal = Proposal {
        format: PROPOSAL_FORMAT.into(),
        dialect: Dialect::Tuf,
        target: Target::TufDir {
            path: meta.to_string_lossy().into_owned(),
        },
        txid: None,
        created: format_expires(OffsetDateTime::now_utc()),
        chains: vec![Chain {
            name: "root".into(),
            current: serde_json::from_slice(&current_bytes).unwrap(),
            staged: None,
            history,
        }],
        change: Change {
            rotate: Some(Rotate::Keys(vec![id_of(rotate)])),
            expires: format_expires(OffsetDateTime::now_utc() + Duration::days(365)),
            ..Change::default()
        },
        polis_id: None,
        resign: None,
    };
    std::fs::write(dir.join("proposal.json"), proposal.to_bytes()).unwrap();

    let review = ok(&signer(dir, ["review", "proposal.json"]));
    assert!(
        review.contains(&format!(
            "chain root: v{current_version} -> v{}",
            current_version + 1
        )),
        "{review}"
    );
    ok(&signer(
        dir,
        SignArgs::new().new_archive(Some("keys2.tgz.age")),
    ));

    let bundle = Bundle::from_slice(&std::fs::read(dir.join("bundle.json")).unwrap()).unwrap();
    assert!(bundle.complete);
    let new = bundle.root(&bundle.roots[0]).unwrap();
    let verdict = check_step(Some(&current), &new, Some(OffsetDateTime::now_utc()));
    assert!(verdict.ok(), "{:?}", verdict.failures);
    assert!(!new.role("root").unwrap().keyids.contains(&id_of(rotate)));

    // python-tuf walks 1..N+1 and accepts the root we made.
    let next = meta.join(format!("{}.root.json", current_version + 1));
    std::fs::write(&next, new.to_bytes()).unwrap();
    let out = run_python("verify_with_python_tuf.py", &[meta.as_os_str()]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python-tuf refused it: {report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(report.trim()).unwrap();
    assert_eq!(report["version"], current_version + 1);

    // The new archive, exported: old keys and the new one; ecdsa as PKCS#8
    // PEM. The new root has several root keys, all held here: fioctl's rule
    // (one active key per tarball, issue 13 item 5) lets the tarball hold
    // the new key and every inactive one, so the other active keys stay out.
    let new_id = &bundle.new_keys[0].keyid;
    ok(&signer(
        dir,
        [
            "export",
            "keys2.tgz.age",
            "--key",
            new_id,
            "-o",
            "plain.tgz",
            "--plaintext",
            "--passphrase-file",
            "pass.txt",
        ],
    ));
    let names = tgz_names(&std::fs::read(dir.join("plain.tgz")).unwrap());
    assert!(
        names.contains(&format!("tufrepo/keys/fioctl-root-{new_id}.sec")),
        "{names:?}"
    );
    let active = new.role("root").unwrap().keyids.len();
    assert_eq!(
        names
            .iter()
            .filter(|n| n.ends_with(".sec") || n.ends_with(".pem"))
            .count(),
        10 - (active - 1),
        "nine imported keys and the new one, less the {} other active keys: {names:?}",
        active - 1
    );
    assert!(names
        .iter()
        .any(|n| n.starts_with("tuf-ceremony/keys/") && n.ends_with(".pem")));
    // The anchor is filed under the sha256 of the repository's identity.
    assert!(
        names.iter().any(|n| n
            .strip_prefix("tuf-ceremony/anchors/")
            .and_then(|r| r.strip_suffix("/root.root.json"))
            .is_some_and(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()))),
        "{names:?}"
    );
}

#[test]
fn signer_rotates_rsa_key_of_python_tuf_root_v5() {
    // v5: K6 ed25519, K8 ed25519, K9 rsa-4096; threshold 2.
    rotate_from(5, "K9");
}

#[test]
fn signer_rotates_ecdsa_key_of_python_tuf_root_v3() {
    // v3: K5 rsa-2048, K6 ed25519, K7 ecdsa; the ecdsa key signs as an old key.
    rotate_from(3, "K7");
}
