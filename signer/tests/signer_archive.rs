//! The key archive itself: age recipients for escrow, export back to a
//! plain fioctl tarball and import again (nothing lost, the trust anchor
//! kept), and `list` showing keys without secrets.

use age::secrecy::ExposeSecret;
use ceremony_tests::prelude::*;

#[test]
fn recipients_for_escrow() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ids: Vec<age::x25519::Identity> =
        (0..2).map(|_| age::x25519::Identity::generate()).collect();
    for (i, id) in ids.iter().enumerate() {
        std::fs::write(
            d.join(format!("id{i}.txt")),
            format!("{}\n", id.to_string().expose_secret()),
        )
        .unwrap();
    }
    let r0 = ids[0].to_public().to_string();
    std::fs::write(
        d.join("recipients.txt"),
        format!("# escrow\n{}\n\n", ids[1].to_public()),
    )
    .unwrap();
    let k = key(false);
    write_fioctl_tgz(&d.join("factory-keys.tgz"), &ats_pair("first-root", &k));

    // Without an identity the new archive cannot be read back; it says so.
    let out = ok(&signer(
        d,
        [
            "import",
            "factory-keys.tgz",
            "-o",
            "a.tgz.age",
            "-r",
            &r0,
            "-R",
            "recipients.txt",
        ],
    ));
    assert!(out.contains("Not re-decrypted"), "{out}");
    let out = ok(&signer(
        d,
        [
            "import",
            "factory-keys.tgz",
            "-o",
            "keys.tgz.age",
            "-r",
            &r0,
            "-R",
            "recipients.txt",
            "-i",
            "id0.txt",
        ],
    ));
    assert!(out.contains("decrypted and compared"), "{out}");

    // Either identity opens it; a passphrase or no identity does not.
    for id in ["id0.txt", "id1.txt"] {
        let out = ok(&signer(d, ["list", "keys.tgz.age", "--identity", id]));
        assert!(out.contains(&k.public_key().fingerprint()[..16]), "{out}");
    }
    let out = signer(d, ["list", "keys.tgz.age"]);
    assert!(
        !out.status.success() && text(&out).contains("--identity"),
        "{}",
        text(&out)
    );
    write_passphrase(d);
    let out = signer(d, ["list", "keys.tgz.age", "--passphrase-file", "pass.txt"]);
    assert!(
        !out.status.success() && text(&out).contains("--identity"),
        "{}",
        text(&out)
    );
    let stranger = age::x25519::Identity::generate();
    std::fs::write(d.join("id9.txt"), stranger.to_string().expose_secret()).unwrap();
    let out = signer(d, ["list", "keys.tgz.age", "-i", "id9.txt"]);
    assert!(
        !out.status.success() && text(&out).contains("none of the identities"),
        "{}",
        text(&out)
    );

    // A new archive written by keygen is encrypted to the same recipients.
    ok(&signer(
        d,
        [
            "keygen",
            "--keys",
            "keys.tgz.age",
            "-o",
            "pub.json",
            "--new-archive",
            "k2.tgz.age",
            "-i",
            "id1.txt",
        ],
    ));
    ok(&signer(d, ["list", "k2.tgz.age", "-i", "id0.txt"]));
    ok(&signer(d, ["list", "k2.tgz.age", "-i", "id1.txt"]));
}

#[test]
fn export_and_import_again_keep_everything() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    imported_factory_with_proposal(d, false);
    ok(&signer(
        d,
        SignArgs::new().new_archive(Some("keys2.tgz.age")),
    ));

    ok(&signer(
        d,
        [
            "export",
            "keys2.tgz.age",
            "-o",
            "plain.tgz",
            "--plaintext",
            "--passphrase-file",
            "pass.txt",
        ],
    ));
    let plain = tgz_entries(&std::fs::read(d.join("plain.tgz")).unwrap());
    assert_eq!(plain, decrypt_archive(&d.join("keys2.tgz.age")));
    assert!(plain.contains_key("tufrepo/keys/first-root.sec"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("plain.tgz"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the plain tarball is private: {mode:o}");
    }

    ok(&signer(
        d,
        [
            "import",
            "plain.tgz",
            "-o",
            "again.tgz.age",
            "--passphrase-file",
            "pass.txt",
        ],
    ));
    let again = decrypt_archive(&d.join("again.tgz.age"));
    assert_eq!(
        again.keys().collect::<Vec<_>>(),
        plain.keys().collect::<Vec<_>>()
    );
    let listing = ok(&signer(
        d,
        ["list", "again.tgz.age", "--passphrase-file", "pass.txt"],
    ));
    assert!(listing.contains("ci    v2"), "{listing}");
    assert!(listing.contains("prod  v2"), "{listing}");
}

#[test]
fn list_shows_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_passphrase(d);
    let ed = key(false);
    let rsa = key(true);
    let mut files = ats_pair("first-root", &ed);
    files.extend(ats_pair(
        &format!("fioctl-root-{}", rsa.public_key().fingerprint()),
        &rsa,
    ));
    write_fioctl_tgz(&d.join("factory-keys.tgz"), &files);
    let out = ok(&signer(
        d,
        [
            "import",
            "factory-keys.tgz",
            "-o",
            "keys.tgz.age",
            "--passphrase-file",
            "pass.txt",
        ],
    ));
    for args in [
        vec!["list", "keys.tgz.age", "--passphrase-file", "pass.txt"],
        vec![
            "list",
            "keys.tgz.age",
            "--passphrase-file",
            "pass.txt",
            "--json",
        ],
    ] {
        let listing = ok(&signer(d, &args)) + &out;
        assert!(
            listing.contains("rsa-2048") && listing.contains("ed25519"),
            "{listing}"
        );
        assert!(listing.contains(&rsa.public_key().fingerprint()[..16]));
        for k in [&ed, &rsa] {
            let secret: serde_json::Value =
                serde_json::from_str(&k.to_ats_private_json().unwrap()).unwrap();
            let secret = secret["keyval"]["private"].as_str().unwrap();
            // No line of the private key (PEM body lines, or the hex seed).
            for line in secret
                .lines()
                .filter(|l| l.len() > 20 && !l.starts_with("-----"))
            {
                assert!(!listing.contains(line), "secret in the output");
            }
        }
        assert!(!listing.contains(PASSPHRASE));
    }
    let v: serde_json::Value = serde_json::from_str(
        &String::from_utf8(
            signer(
                d,
                [
                    "list",
                    "keys.tgz.age",
                    "--passphrase-file",
                    "pass.txt",
                    "--json",
                ],
            )
            .stdout,
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(v["keys"].as_array().unwrap().len(), 2);
    assert_eq!(v["keys"][0]["role"], "root");
    assert!(v["keys"][0]["added_at"].is_string());
}

#[test]
fn import_pem_keys_and_refuse_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_passphrase(d);
    let k = key(false);
    std::fs::write(d.join("k.pem"), k.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    std::fs::write(
        d.join("bad.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let before = hash_dir(d);
    let out = signer(
        d,
        [
            "import",
            "--key",
            "k.pem",
            "--key",
            "bad.pem",
            "-o",
            "keys.tgz.age",
            "--passphrase-file",
            "pass.txt",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("bad.pem"), "{}", text(&out));
    assert_eq!(hash_dir(d), before);
    let out = signer(
        d,
        [
            "import",
            "--key",
            "k.pem",
            "--key",
            "k.pem",
            "-o",
            "keys.tgz.age",
            "--passphrase-file",
            "pass.txt",
        ],
    );
    assert!(
        text(&out).contains("holds this key already"),
        "{}",
        text(&out)
    );
    assert_eq!(hash_dir(d), before);
    let out = signer(d, ["import", "-o", "keys.tgz.age"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    ok(&signer(
        d,
        [
            "import",
            "--key",
            "k.pem",
            "-o",
            "keys.tgz.age",
            "--passphrase-file",
            "pass.txt",
        ],
    ));
    let e = decrypt_archive(&d.join("keys.tgz.age"));
    let tuf_id = k.public_key().key_id(ceremony::Dialect::Tuf);
    assert!(
        e.contains_key(&format!("tufrepo/keys/fioctl-root-{tuf_id}.sec")),
        "{:?}",
        e.keys()
    );
}

#[test]
fn default_new_archive_is_a_new_name_beside_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_passphrase(d);
    std::fs::create_dir(d.join("usb")).unwrap();
    write_fioctl_tgz(
        &d.join("factory-keys.tgz"),
        &ats_pair("first-root", &key(false)),
    );
    ok(&signer(
        d,
        [
            "import",
            "factory-keys.tgz",
            "-o",
            "usb/keys.tgz.age",
            "--passphrase-file",
            "pass.txt",
        ],
    ));
    let before = std::fs::read(d.join("usb/keys.tgz.age")).unwrap();
    let out = ok(&signer(
        d,
        [
            "keygen",
            "--keys",
            "usb/keys.tgz.age",
            "-o",
            "pub.json",
            "--passphrase-file",
            "pass.txt",
        ],
    ));
    let names: Vec<String> = std::fs::read_dir(d.join("usb"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let new = names.iter().find(|n| *n != "keys.tgz.age").unwrap();
    assert!(
        new.starts_with("keys-") && new.ends_with("Z.tgz.age"),
        "{new}"
    );
    assert!(out.contains(new.as_str()), "the new name is printed: {out}");
    assert_eq!(std::fs::read(d.join("usb/keys.tgz.age")).unwrap(), before);
    assert!(!names.iter().any(|n| n.contains(".tmp")));
}
