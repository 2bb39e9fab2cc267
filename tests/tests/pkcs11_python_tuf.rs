//! A TUF repository whose root keys move onto a PKCS#11 token (SoftHSM2,
//! Debian's `softhsm2`), through both binaries, and python-tuf accepting
//! every step: ceremony 1 hands the root over from a key in the archive to
//! a key generated on the token (`signer keygen`, provided to the
//! proposal); ceremony 2 signs with that token key as the old key and
//! generates the new key on the token. Ed25519 and RSA-4096. The archive
//! never holds their private keys.
//!
//! Fails (does not skip) when SoftHSM2 is missing.

use std::path::Path;
use std::process::Command;

use ceremony::bundle::Bundle;
use ceremony::keys::PublicKey;
use ceremony::pubkey::PubkeyFile;
use ceremony::{Dialect, RootMetadata};
use ceremony_tests::files::tgz_names;
use ceremony_tests::harness::{passphrase_file, run};
use ceremony_tests::softhsm::{module, Hsm, PIN};
use ceremony_tests::{binary, run_python};
use serde_json::Value;

fn root_keys(path: &Path) -> Vec<PublicKey> {
    let root = RootMetadata::from_slice(&std::fs::read(path).unwrap(), Some(Dialect::Tuf)).unwrap();
    root.role("root")
        .unwrap()
        .keyids
        .iter()
        .map(|id| root.key(id).unwrap())
        .collect()
}

fn ceremonies(key_type: &str) {
    let module = module();
    let module = module.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let hsm = Hsm::new();
    hsm.init_token("cer");
    let env = [("SOFTHSM2_CONF", hsm.conf.to_str().unwrap())];
    let out = Command::new(binary("tuf-repo-init"))
        .arg(dir.join("repo"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let offline = dir.join("offline");
    std::fs::create_dir_all(&offline).unwrap();
    let pass = passphrase_file(&offline);
    let pass = pass.to_str().unwrap();
    std::fs::write(offline.join("pin.txt"), format!("{PIN}\n")).unwrap();
    let pem = std::fs::read_dir(dir.join("repo/keys"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .next()
        .unwrap();
    let signer = |args: &[&str], what: &str| {
        let r = run("signer", &offline, args, &env);
        r.expect(0, what);
        r.stdout.clone() + &r.stderr
    };
    signer(
        &[
            "import",
            "--key",
            &pem,
            "-o",
            "keys.tgz.age",
            "--passphrase-file",
            pass,
        ],
        "import",
    );

    // Round 1 of the key handover: a key generated on the token.
    signer(
        &[
            "keygen",
            "--keys",
            "keys.tgz.age",
            "--pkcs11-module",
            module,
            "--token",
            "cer",
            "--key-label",
            "t1",
            "--pin-file",
            "pin.txt",
            "--type",
            key_type,
            "-o",
            "t1.pub.json",
            "--new-archive",
            "keys2.tgz.age",
            "--passphrase-file",
            pass,
        ],
        "keygen on the token",
    );
    let t1 = PubkeyFile::from_slice(&std::fs::read(offline.join("t1.pub.json")).unwrap())
        .unwrap()
        .public_key()
        .unwrap();

    for round in [1, 2] {
        let name = format!("p{round}.json");
        let mut propose = vec![
            "propose",
            "--repo",
            "repo/metadata",
            "--rotate-all",
            "-o",
            &name,
        ];
        if round == 1 {
            propose.extend(["--provided-key", "offline/t1.pub.json"]);
        }
        run("submitter", dir, &propose, &[]).expect(0, "propose");
        let off = offline.join(format!("round{round}"));
        std::fs::create_dir_all(&off).unwrap();
        std::fs::copy(dir.join(&name), off.join("proposal.json")).unwrap();
        let keys = format!("../keys{}.tgz.age", round + 1);
        let next = format!("../keys{}.tgz.age", round + 2);
        let mut sign = vec![
            "sign",
            "proposal.json",
            "--keys",
            &keys,
            "--new-archive",
            &next,
            "-o",
            "bundle.json",
            "--passphrase-file",
            pass,
            "--yes",
            "--pkcs11-module",
            module,
            "--pin-file",
            "../pin.txt",
        ];
        if round == 2 {
            sign.extend([
                "--token",
                "cer",
                "--key-label",
                "t2",
                "--key-type",
                key_type,
            ]);
        }
        let r = run("signer", &off, &sign, &env);
        r.expect(0, "sign");
        assert!(
            r.stdout.contains("key \"t1\" on token \"cer\" opened"),
            "{}",
            r.stdout
        );
        let bundle = Bundle::from_slice(&std::fs::read(off.join("bundle.json")).unwrap()).unwrap();
        assert!(bundle.complete);
        std::fs::copy(off.join("bundle.json"), dir.join("bundle.json")).unwrap();
        run(
            "submitter",
            dir,
            ["upload", "bundle.json", "--proposal", &name],
            &[],
        )
        .expect(0, "upload");
    }

    // python-tuf walks 1 -> 2 -> 3 and accepts the roots the token signed.
    let meta = dir.join("repo/metadata");
    let out = run_python("verify_with_python_tuf.py", &[meta.as_os_str()]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python-tuf refused it: {report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(report.trim()).unwrap();
    assert_eq!(report["version"], 3);

    // v2's only root key is t1; v3's is the key made on the token in round 2.
    assert_eq!(
        root_keys(&meta.join("2.root.json")),
        std::slice::from_ref(&t1)
    );
    let v3 = root_keys(&meta.join("3.root.json"));
    assert_eq!(v3.len(), 1);
    assert_ne!(v3[0], t1);
    assert_eq!(
        ceremony::diff::key_description(&v3[0]),
        key_type,
        "round 2 made a {key_type} key"
    );

    // The last archive, exported: only the imported key's private file;
    // the token keys are in the manifest, public keys only.
    signer(
        &[
            "export",
            "keys4.tgz.age",
            "-o",
            "plain.tgz",
            "--plaintext",
            "--passphrase-file",
            pass,
        ],
        "export",
    );
    let names = tgz_names(&std::fs::read(offline.join("plain.tgz")).unwrap());
    let private: Vec<&String> = names
        .iter()
        .filter(|n| n.ends_with(".sec") || n.ends_with(".pem"))
        .collect();
    assert_eq!(private.len(), 1, "only the imported key: {names:?}");
    for k in [&t1, &v3[0]] {
        assert!(
            !names.iter().any(|n| n.contains(&k.fingerprint())),
            "{names:?}"
        );
    }
    let listing = signer(
        &["list", "keys4.tgz.age", "--passphrase-file", pass],
        "list",
    );
    assert!(
        listing.contains("on token \"cer\": key \"t1\"")
            && listing.contains("on token \"cer\": key \"t2\""),
        "{listing}"
    );
}

#[test]
fn tuf_root_moves_onto_ed25519_token_keys_and_python_tuf_accepts() {
    ceremonies("ed25519");
}

#[test]
fn tuf_root_moves_onto_rsa_4096_token_keys_and_python_tuf_accepts() {
    ceremonies("rsa-4096");
}
