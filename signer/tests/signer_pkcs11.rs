//! Root keys on PKCS#11 tokens, against SoftHSM2 (Debian's `softhsm2`):
//! whole ota-tuf ceremonies where token keys sign as new and as old root
//! keys (Ed25519 and RSA-4096), an archive that never holds their private
//! keys, and the failures a token can bring (wrong PIN, no module, missing
//! token, a key of the wrong type, a token that signs with another key than
//! the one recorded) refused with a clear message and nothing written.
//!
//! The TUF dialect, checked by python-tuf, is in
//! `tests/tests/pkcs11_python_tuf.rs`.

mod pkcs11_support;

use std::path::{Path, PathBuf};
use std::process::Output;

use ceremony::bundle::Bundle;
use ceremony::keys::{PrivateKey, PublicKey};
use ceremony::pubkey::PubkeyFile;
use ceremony::rules::check_step;
use ceremony::{Dialect, RootMetadata};
use ceremony_tests::prelude::*;
use pkcs11_support::Hsm;
use serde_json::Value;
use time::OffsetDateTime;

/// The test that runs [`pkcs11_support::helper_main`] in a child process.
const HELPER: &str = "hsm_helper";

#[test]
#[ignore = "run in a child process by the PKCS#11 tests, with SOFTHSM2_CONF set"]
fn hsm_helper() {
    pkcs11_support::helper_main();
}

/// An ota-tuf Factory whose v1 root key is in the archive `keys.tgz.age`,
/// a key generated on the token "cer" with `signer keygen` (recorded in
/// `keys2.tgz.age`, its public key in `t1.pub.json`), and `proposal.json`
/// replacing the archive key by the token key.
struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    hsm: Hsm,
    ci: RootMetadata,
    token_key: PublicKey,
    first: PrivateKey,
}

/// `sign proposal.json --keys keys2.tgz.age -o bundle.json --new-archive
/// keys3.tgz.age`: the archive that records the token key.
fn token_sign() -> SignArgs {
    SignArgs::new()
        .keys("keys2.tgz.age")
        .new_archive(Some("keys3.tgz.age"))
}

impl Setup {
    fn new(key_type: &str) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let hsm = Hsm::new();
        hsm.init_token("cer");
        hsm.write_pins(&dir);

        let f = OtaFactory::new(false);
        f.import(&dir, Vec::new());
        let (ci, first) = (f.ci, f.root_key);
        let out = ok(&hsm.signer(
            &dir,
            [
                "keygen",
                "--keys",
                "keys.tgz.age",
                "--pkcs11-module",
                &hsm.module_arg(),
                "--token",
                "cer",
                "--key-label",
                "k1",
                "--pin-file",
                "pin.txt",
                "--type",
                key_type,
                "-o",
                "t1.pub.json",
                "--new-archive",
                "keys2.tgz.age",
                "--passphrase-file",
                "pass.txt",
            ],
        ));
        assert!(out.contains("key \"k1\" on token \"cer\""), "{out}");
        let file =
            PubkeyFile::from_slice(&std::fs::read(dir.join("t1.pub.json")).unwrap()).unwrap();
        assert_eq!(file.key_type, key_type);
        let token_key = file.public_key().unwrap();

        let change = ceremony::proposal::Change {
            provided_keys: vec![file.to_provided_key(Dialect::OtaTuf).unwrap()],
            ..rotate_change(vec![ci.find_key_id(&first.public_key()).unwrap()])
        };
        write_proposal(&dir, "proposal.json", &factory_proposal(&ci, &ci, change));
        Setup {
            _tmp: tmp,
            dir,
            hsm,
            ci,
            token_key,
            first,
        }
    }

    fn signer<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.hsm.signer(&self.dir, args)
    }

    /// `signer sign proposal.json --keys keys2.tgz.age` with the token,
    /// plus `extra`.
    fn sign(&self, pin: &str, extra: &[&str]) -> Output {
        let module = self.hsm.module_arg();
        let args = token_sign()
            .extra(["--pkcs11-module", &module, "--pin-file", pin])
            .extra(extra);
        self.signer(args)
    }

    /// Asserts `out` failed with exit status `code`, saying every one of
    /// `words`, and that the folder is as it was (`before`).
    #[track_caller]
    fn refused(&self, out: &Output, code: i32, words: &[&str], before: &str) -> String {
        let t = text(out);
        assert_eq!(out.status.code(), Some(code), "{t}");
        for w in words {
            assert!(t.contains(w), "missing {w:?} in:\n{t}");
        }
        assert!(
            !t.contains(pkcs11_support::PIN),
            "the PIN is never printed:\n{t}"
        );
        assert_eq!(hash_dir(&self.dir), before, "nothing written:\n{t}");
        // Shown with --nocapture, to read the messages people get.
        eprintln!("{t}");
        t
    }
}

/// The archive holds no private material of `key`: no `.sec`, `.pub` or
/// `.pem` entry names it, and its only private entries are `first-root`'s;
/// the manifest records it with its public key and token.
fn assert_only_public_on_record(archive: &Path, keys: &[&PublicKey], token: &str) {
    let entries = decrypt_archive(archive);
    let private: Vec<&String> = entries
        .keys()
        .filter(|n| n.ends_with(".sec") || n.ends_with(".pem"))
        .collect();
    assert_eq!(
        private,
        ["tufrepo/keys/first-root.sec"],
        "{:?}",
        entries.keys()
    );
    let manifest: Value = serde_json::from_slice(&entries["tuf-ceremony/manifest.json"]).unwrap();
    let recorded = manifest["token_keys"].as_array().unwrap();
    assert_eq!(recorded.len(), keys.len(), "{manifest:#}");
    for key in keys {
        let fp = key.fingerprint();
        assert!(
            !entries.keys().any(|n| n.contains(&fp)),
            "{:?}",
            entries.keys()
        );
        let r = recorded
            .iter()
            .find(|r| r["fingerprint"] == fp.as_str())
            .unwrap_or_else(|| panic!("{fp} recorded: {manifest:#}"));
        assert_eq!(
            &PublicKey::from_pem(r["public_key"].as_str().unwrap()).unwrap(),
            *key
        );
        assert_eq!(r["token"]["token_label"], token);
        assert!(!r["token"]["key_id"].as_str().unwrap().is_empty());
        // Nothing in the record but the public key, names and dates.
        for field in r.as_object().unwrap().keys() {
            assert!(
                [
                    "added_at",
                    "dialect",
                    "fingerprint",
                    "key_type",
                    "keyid",
                    "origin",
                    "public_key",
                    "role",
                    "token"
                ]
                .contains(&field.as_str()),
                "{field} in {r:#}"
            );
        }
    }
}

/// Checks one signed root of a bundle against the ota-tuf rules, its
/// canonical form against aktualizr's, and that `token_key` signed it with
/// the right method.
fn check_ota_root(current: &RootMetadata, new: &RootMetadata, token_key: &PublicKey) {
    let verdict = check_step(Some(current), new, Some(OffsetDateTime::now_utc()));
    assert!(verdict.ok(), "{:?}", verdict.failures);
    let canon = new.canonical_signed().unwrap();
    assert_eq!(canon, aktualizr_canonical(&new.envelope()["signed"]));
    // Listed under its id in the new root, or in the current one (an old key).
    let id = new
        .find_key_id(token_key)
        .or_else(|| current.find_key_id(token_key))
        .expect("the token key is a root key");
    let sig = new
        .signatures()
        .unwrap()
        .into_iter()
        .find(|s| s.keyid == id)
        .expect("the token key signed");
    let method = sig.method.clone().unwrap();
    assert_eq!(
        method,
        match token_key.key_type() {
            ceremony::keys::KeyType::Ed25519 => "ed25519",
            _ => "rsassa-pss-sha256",
        }
    );
    // Checked here over aktualizr's bytes, independently of the library's
    // canonical form (RSA: salt 32, as the ota-tuf server requires).
    token_key
        .verify(
            Dialect::OtaTuf,
            &aktualizr_canonical(&new.envelope()["signed"]),
            sig.sig.as_ref().unwrap(),
            Some(&method),
        )
        .unwrap();
}

/// Two ceremonies: the archive key hands over to a token key (which signs
/// as a new key), then that token key signs as the old key while the new
/// key is generated on the token too.
fn ota_ceremony(key_type: &str) {
    let s = Setup::new(key_type);
    let module = s.hsm.module_arg();
    let listing = ok(&s.signer(["list", "keys2.tgz.age", "--passphrase-file", "pass.txt"]));
    assert!(
        listing.contains("on token \"cer\": key \"k1\"") && listing.contains("fioctl cannot sign"),
        "{listing}"
    );
    let json = ok(&s.signer([
        "list",
        "keys2.tgz.age",
        "--passphrase-file",
        "pass.txt",
        "--json",
    ]));
    assert!(json.contains("\"location\": \"token cer\""), "{json}");
    assert_only_public_on_record(&s.dir.join("keys2.tgz.age"), &[&s.token_key], "cer");

    // Ceremony 1: the archive key signs as the old key, the token key as the new.
    let out = ok(&s.sign("pin.txt", &[]));
    assert!(
        out.contains("key \"k1\" on token \"cer\" opened") && out.contains("on the token"),
        "{out}"
    );
    let b1 = Bundle::from_slice(&std::fs::read(s.dir.join("bundle.json")).unwrap()).unwrap();
    assert!(b1.complete, "{out}");
    let (ci2, prod2) = (
        b1.root(&b1.roots[0]).unwrap(),
        b1.root(&b1.roots[1]).unwrap(),
    );
    for new in [&ci2, &prod2] {
        check_ota_root(&s.ci, new, &s.token_key);
        assert_eq!(
            new.role("root").unwrap().keyids,
            [s.token_key.fingerprint()]
        );
    }
    assert_only_public_on_record(&s.dir.join("keys3.tgz.age"), &[&s.token_key], "cer");

    // Ceremony 2: the token key is the old key; the new key is made on the token.
    let change = rotate_change(vec![ci2.find_key_id(&s.token_key).unwrap()]);
    write_proposal(
        &s.dir,
        "proposal2.json",
        &factory_proposal(&ci2, &prod2, change),
    );
    let out = ok(&s.signer(
        SignArgs::new()
            .proposal("proposal2.json")
            .keys("keys3.tgz.age")
            .out("bundle2.json")
            .new_archive(Some("keys4.tgz.age"))
            .extra([
                "--pkcs11-module",
                &module,
                "--pin-file",
                "pin.txt",
                "--token",
                "cer",
                "--key-label",
                "k2",
                "--key-type",
                key_type,
            ]),
    ));
    assert!(
        out.contains("New key: key \"k2\" on token \"cer\""),
        "{out}"
    );
    let b2 = Bundle::from_slice(&std::fs::read(s.dir.join("bundle2.json")).unwrap()).unwrap();
    assert!(b2.complete, "{out}");
    let k2 = PublicKey::from_key_object(&b2.new_keys[0].key, Dialect::OtaTuf).unwrap();
    assert_eq!(b2.new_keys[0].description, key_type);
    for (i, current) in [&ci2, &prod2].into_iter().enumerate() {
        let new = b2.root(&b2.roots[i]).unwrap();
        check_ota_root(current, &new, &s.token_key);
        check_ota_root(current, &new, &k2);
        assert_eq!(new.role("root").unwrap().keyids, [k2.fingerprint()]);
    }
    assert_only_public_on_record(&s.dir.join("keys4.tgz.age"), &[&s.token_key, &k2], "cer");

    // The transcript's head is signed on the token by the new root key.
    let ci3 = b2.root(&b2.roots[0]).unwrap();
    std::fs::write(s.dir.join("3.root.json"), ci3.to_bytes()).unwrap();
    let v = ok(&s.signer([
        "verify-transcript",
        "bundle2.transcript.jsonl",
        "--root",
        "3.root.json",
    ]));
    assert!(v.contains("status Some(0)"), "{v}");
    let transcript = std::fs::read_to_string(s.dir.join("bundle2.transcript.jsonl")).unwrap();
    assert!(
        transcript.contains("\"kind\":\"tokens\"") && transcript.contains("\"on_token\""),
        "{transcript}"
    );
    assert!(!transcript.contains(pkcs11_support::PIN));
    let _ = &s.first;
}

#[test]
fn ota_tuf_ceremonies_with_ed25519_token_keys() {
    ota_ceremony("ed25519");
}

#[test]
fn ota_tuf_ceremonies_with_rsa_4096_token_keys() {
    ota_ceremony("rsa-4096");
}

#[test]
fn no_module_wrong_pin_and_missing_token_write_nothing() {
    let s = Setup::new("ed25519");
    let fp = s.token_key.fingerprint();
    let before = hash_dir(&s.dir);

    // Without --pkcs11-module: says which token and key are needed (usage, 2).
    let out = s.signer(token_sign());
    s.refused(
        &out,
        2,
        &["key \"k1\" on token \"cer\"", &fp, "--pkcs11-module"],
        &before,
    );

    // A wrong PIN.
    let out = s.sign("bad-pin.txt", &[]);
    s.refused(
        &out,
        1,
        &[
            "wrong PIN for token \"cer\"",
            "nothing was signed or written",
        ],
        &before,
    );

    // A module that is not a PKCS#11 library.
    std::fs::write(s.hsm.path().join("fake.so"), b"not a library").unwrap();
    let fake = s.hsm.path().join("fake.so").display().to_string();
    let out = s.signer(token_sign().new_archive(None).extra([
        "--pkcs11-module",
        &fake,
        "--pin-file",
        "pin.txt",
    ]));
    s.refused(&out, 1, &["cannot load the PKCS#11 module"], &before);

    // The token is not there: insert "cer", holding "k1" (fingerprint).
    s.hsm.delete_token("cer");
    s.hsm.init_token("other");
    let out = s.sign("pin.txt", &[]);
    s.refused(
        &out,
        1,
        &[
            "no token labelled \"cer\" is present",
            "\"other\"",
            "Insert the token \"cer\" that holds key \"k1\"",
            &fp,
        ],
        &before,
    );
}

#[test]
fn a_key_of_the_wrong_type_on_the_token_is_refused() {
    let s = Setup::new("ed25519");
    let module = s.hsm.module_arg();

    // Recording an ECDSA key from the token: refused, no archive written.
    s.hsm.helper(HELPER, "ec-key", "cer", "ec1");
    let before = hash_dir(&s.dir);
    let out = s.signer([
        "import",
        "--pkcs11-module",
        &module,
        "--token",
        "cer",
        "--key-label",
        "ec1",
        "--pin-file",
        "pin.txt",
        "-o",
        "ec.tgz.age",
        "--passphrase-file",
        "pass.txt",
    ]);
    s.refused(
        &out,
        1,
        &["key \"ec1\" on token \"cer\" is an ECDSA", "Ed25519 or RSA"],
        &before,
    );

    // The recorded Ed25519 key replaced by an RSA key under the same label:
    // refused at signing, nothing written.
    s.hsm.helper(HELPER, "replace-rsa", "cer", "k1");
    let out = s.sign("pin.txt", &[]);
    s.refused(
        &out,
        1,
        &[
            "key \"k1\" on token \"cer\" holds an rsa-2048 key",
            "records an ed25519 key",
            &s.token_key.fingerprint(),
        ],
        &before,
    );
}

#[test]
fn a_token_that_signs_with_another_key_is_caught() {
    // Ed25519: the token shows the recorded public key but signs with
    // another private key under the same label and id; its signature
    // fails the software check.
    let s = Setup::new("ed25519");
    s.hsm.helper(HELPER, "swap-private", "cer", "k1");
    let before = hash_dir(&s.dir);
    let out = s.sign("pin.txt", &[]);
    s.refused(
        &out,
        1,
        &[
            "key \"k1\" on token \"cer\" returned a signature that does not verify under the \
             recorded public key",
            &s.token_key.fingerprint(),
            "Nothing was signed or written",
        ],
        &before,
    );

    // RSA: the token's private key carries its own modulus, so the other
    // key is seen before it signs.
    let s = Setup::new("rsa-4096");
    s.hsm.helper(HELPER, "swap-private", "cer", "k1");
    let before = hash_dir(&s.dir);
    let out = s.sign("pin.txt", &[]);
    s.refused(
        &out,
        1,
        &[
            "key \"k1\" on token \"cer\"",
            &format!(
                "the archive records fingerprint {}",
                s.token_key.fingerprint()
            ),
            "another key under that label",
        ],
        &before,
    );
}

/// Every `--flag` in `text` exists on the command it is given for: on
/// `command` (the one that printed it), or, inside a quoted
/// `` `signer X ...` ``, on `signer X`.
#[track_caller]
fn assert_flags_exist(hsm: &Hsm, dir: &Path, command: &str, text: &str) {
    let help = |cmd: &str| {
        let out = hsm.signer(dir, [cmd, "--help"]);
        assert!(out.status.success(), "signer {cmd} --help");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("--").map(|a| a + i) {
        let end = at
            + 2
            + text[at + 2..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .unwrap_or(text.len() - at - 2);
        i = end;
        let flag = &text[at..end];
        // `---` rules and a lone `--` are not flags.
        if flag.len() < 4 || !bytes[at + 2].is_ascii_lowercase() {
            continue;
        }
        // Inside `signer X ...`? The last backtick before the flag opens
        // a quote when an odd number of them precede it.
        let before = &text[..at];
        let ticks = before.matches('`').count();
        let cmd = if ticks % 2 == 1 {
            let open = before.rfind('`').unwrap();
            let quoted = &before[open + 1..];
            // Another binary's command (`submitter upload … --proposal …`):
            // its flags are not the signer's to check.
            if quoted.starts_with("submitter ") {
                continue;
            }
            quoted
                .strip_prefix("signer ")
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or(command)
                .to_string()
        } else {
            command.to_string()
        };
        let h = help(&cmd);
        let named = h.match_indices(flag).any(|(j, _)| {
            !h[j + flag.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-')
        });
        assert!(
            named,
            "{flag} is not an option of `signer {cmd}`, yet:\n{text}"
        );
    }
}

/// The token record of the archive `archive` (the one token key in it).
fn token_record(archive: &Path) -> Value {
    let entries = decrypt_archive(archive);
    let manifest: Value = serde_json::from_slice(&entries["tuf-ceremony/manifest.json"]).unwrap();
    let keys = manifest["token_keys"].as_array().unwrap();
    keys.last().unwrap().clone()
}

#[test]
fn a_token_key_that_can_leave_the_token_is_refused_unless_accepted() {
    let s = Setup::new("ed25519");
    let module = s.hsm.module_arg();
    s.hsm.helper(HELPER, "extractable-key", "cer", "x1");
    s.hsm.helper(HELPER, "non-sensitive-key", "cer", "n1");
    let before = hash_dir(&s.dir);
    let import = |label: &str, extra: &[&str]| {
        let mut args = vec![
            "import",
            "factory-keys.tgz",
            "--pkcs11-module",
            &module,
            "--token",
            "cer",
            "--key-label",
            label,
            "--pin-file",
            "pin.txt",
            "-o",
            "weak.tgz.age",
            "--passphrase-file",
            "pass.txt",
        ];
        args.extend_from_slice(extra);
        s.signer(&args)
    };

    // Extractable: refused, the flag that accepts it named, no `Some(..)`.
    let t = s.refused(
        &import("x1", &[]),
        1,
        &[
            "key \"x1\" on token \"cer\" is not protected",
            "CKA_EXTRACTABLE true",
            "--allow-extractable-token-key",
            "Nothing was written",
        ],
        &before,
    );
    assert!(
        !t.contains("Some(true)") && !t.contains("Some(false)"),
        "{t}"
    );
    assert_flags_exist(&s.hsm, &s.dir, "import", &t);

    // Not sensitive: refused too.
    let t = s.refused(
        &import("n1", &[]),
        1,
        &["key \"n1\" on token \"cer\"", "CKA_SENSITIVE false"],
        &before,
    );
    assert!(
        !t.contains("Some(true)")
            && !t.contains("Some(false)")
            && !t.contains("CKA_EXTRACTABLE true"),
        "{t}"
    );
    assert_flags_exist(&s.hsm, &s.dir, "import", &t);

    // Accepted with the flag: said so, and marked in the archive.
    let out = ok(&import("x1", &["--allow-extractable-token-key"]));
    assert!(
        out.contains("can leave the token (CKA_EXTRACTABLE true)")
            && out.contains("--allow-extractable-token-key"),
        "{out}"
    );
    assert!(
        !out.contains("Some(true)") && !out.contains("Some(false)"),
        "{out}"
    );
    let record = token_record(&s.dir.join("weak.tgz.age"));
    assert_eq!(
        record["token"]["protection"]["weak_accepted"], true,
        "{record:#}"
    );
    assert_eq!(
        record["token"]["protection"]["extractable"], true,
        "{record:#}"
    );
    // `list` shows it, in text and JSON.
    let listing = ok(&s.signer(["list", "weak.tgz.age", "--passphrase-file", "pass.txt"]));
    assert!(
        listing.contains("warning: its private key can leave the token (CKA_EXTRACTABLE true)"),
        "{listing}"
    );
    assert_flags_exist(&s.hsm, &s.dir, "list", &listing);
    let json = ok(&s.signer([
        "list",
        "weak.tgz.age",
        "--passphrase-file",
        "pass.txt",
        "--json",
    ]));
    assert!(json.contains("CKA_EXTRACTABLE true"), "{json}");
    // The generated key of keys2 is recorded protected, with nothing to warn.
    let strong = token_record(&s.dir.join("keys2.tgz.age"));
    assert_eq!(
        strong["token"]["protection"],
        serde_json::json!({"sensitive": true, "extractable": false, "weak_accepted": false}),
        "{strong:#}"
    );

    // At use: warned, and the transcript says so.
    let x1 = PublicKey::from_pem(record["public_key"].as_str().unwrap()).unwrap();
    let change = ceremony::proposal::Change {
        provided_keys: vec![PubkeyFile::new(&x1, None, None)
            .to_provided_key(Dialect::OtaTuf)
            .unwrap()],
        ..rotate_change(vec![s.ci.find_key_id(&s.first.public_key()).unwrap()])
    };
    write_proposal(&s.dir, "weak.json", &factory_proposal(&s.ci, &s.ci, change));
    let out = ok(&s.signer([
        "sign",
        "weak.json",
        "--keys",
        "weak.tgz.age",
        "-o",
        "weak-bundle.json",
        "--new-archive",
        "weak2.tgz.age",
        "--passphrase-file",
        "pass.txt",
        "--yes",
        "--pkcs11-module",
        &module,
        "--pin-file",
        "pin.txt",
    ]));
    assert!(
        out.contains(
            "warning: the private key of key \"x1\" on token \"cer\" can leave the token \
             (CKA_EXTRACTABLE true)"
        ),
        "{out}"
    );
    assert_flags_exist(&s.hsm, &s.dir, "sign", &out);
    let transcript = std::fs::read_to_string(s.dir.join("weak-bundle.transcript.jsonl")).unwrap();
    assert!(
        transcript.contains("\"weak_key_accepted\":true")
            && transcript.contains("\"extractable\":true"),
        "{transcript}"
    );
    // The successor archive keeps the mark.
    let record = token_record(&s.dir.join("weak2.tgz.age"));
    assert_eq!(
        record["token"]["protection"]["weak_accepted"], true,
        "{record:#}"
    );
}

/// The same key (label, id, public key) on two tokens labelled "cer": only
/// the one whose serial the archive records may sign, and the other is
/// refused before it is asked for a PIN, naming both tokens.
#[test]
fn the_same_key_on_another_token_with_the_same_label_is_refused_before_signing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let hsm = Hsm::new();
    hsm.write_pins(&dir);
    write_passphrase(&dir);
    let module = hsm.module_arg();
    let root_key = key(false);
    std::fs::write(
        hsm.path().join("root.pem"),
        root_key.to_pkcs8_pem().unwrap().as_bytes(),
    )
    .unwrap();
    let pem = hsm.path().join("root.pem");

    // Token A holds the key; the archive records it there.
    hsm.init_token("cer");
    let a = hsm.serials("cer").remove(0);
    hsm.import_pem(&pem, &a, "k1", "01");
    ok(&hsm.signer(
        &dir,
        [
            "import",
            "--pkcs11-module",
            &module,
            "--token",
            "cer",
            "--key-label",
            "k1",
            "--pin-file",
            "pin.txt",
            "-o",
            "keys.tgz.age",
            "--passphrase-file",
            "pass.txt",
        ],
    ));
    let record = token_record(&dir.join("keys.tgz.age"));
    assert_eq!(record["token"]["token_serial"], a.as_str(), "{record:#}");
    assert_eq!(record["token"]["token_manufacturer"], "SoftHSM project");
    assert!(!record["token"]["token_model"].as_str().unwrap().is_empty());

    // Token B: same label, same key, same id, another serial.
    hsm.init_token("cer");
    let b = hsm
        .serials("cer")
        .into_iter()
        .find(|s| s != &a)
        .expect("a second token");
    hsm.import_pem(&pem, &b, "k1", "01");

    let online = key(false).public_key();
    let mut ci = ota_root(1, &[root_key.public_key()], 1, &online, &in_days(300));
    sign_root(&mut ci, &[&root_key]);
    let id = ci.find_key_id(&root_key.public_key()).unwrap();
    write_proposal(
        &dir,
        "proposal.json",
        &factory_proposal(&ci, &ci, rotate_change(vec![id])),
    );
    let sign = |pin: &str, name: &str| {
        hsm.signer(
            &dir,
            [
                "sign",
                "proposal.json",
                "--keys",
                "keys.tgz.age",
                "-o",
                &format!("{name}.json"),
                "--new-archive",
                &format!("{name}.tgz.age"),
                "--passphrase-file",
                "pass.txt",
                "--yes",
                "--pkcs11-module",
                &module,
                "--pin-file",
                pin,
            ],
        )
    };

    // Both present: the recorded one (A) is found by its serial and signs,
    // and the transcript names A.
    let out = ok(&sign("pin.txt", "both"));
    assert!(out.contains("key \"k1\" on token \"cer\" opened"), "{out}");
    let transcript = std::fs::read_to_string(dir.join("both.transcript.jsonl")).unwrap();
    assert!(
        transcript.contains(&format!("\"token_serial\":\"{a}\"")) && !transcript.contains(&b),
        "{transcript}"
    );

    // Only B: refused before the PIN (a wrong one is never tried), naming
    // both tokens, and what to do.
    hsm.delete_token_serial(&a);
    let before = hash_dir(&dir);
    let out = sign("bad-pin.txt", "b");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert_eq!(hash_dir(&dir), before, "nothing written:\n{t}");
    for w in [
        &format!("token \"cer\" (serial \"{b}\", manufacturer \"SoftHSM project\""),
        &format!(
            "the archive records token \"cer\" (serial \"{a}\", manufacturer \"SoftHSM project\""
        ),
        "is not the token the archive records for key \"k1\"",
        &format!("Insert the token with serial \"{a}\""),
        "nothing was signed or written",
    ] {
        assert!(t.contains(w), "missing {w:?} in:\n{t}");
    }
    assert!(!t.contains("wrong PIN"), "{t}");
    assert_flags_exist(&hsm, &dir, "sign", &t);
    eprintln!("{t}");
}

/// An archive written before tokens were pinned (no serial, manufacturer,
/// model or protection recorded) still signs, warning that any token with
/// the label is accepted; the transcript records the serial of the token
/// that signed.
#[test]
fn an_archive_without_a_token_serial_still_signs_with_a_warning() {
    let s = Setup::new("ed25519");
    let mut entries = decrypt_archive(&s.dir.join("keys2.tgz.age"));
    let name = "tuf-ceremony/manifest.json".to_string();
    let mut manifest: Value = serde_json::from_slice(&entries[&name]).unwrap();
    let token = manifest["token_keys"][0]["token"].as_object_mut().unwrap();
    let serial = token["token_serial"].as_str().unwrap().to_string();
    for field in [
        "token_serial",
        "token_manufacturer",
        "token_model",
        "protection",
    ] {
        assert!(token.remove(field).is_some(), "{field} recorded");
    }
    entries.insert(name, serde_json::to_vec(&manifest).unwrap());
    write_fioctl_tgz(
        &s.dir.join("old.tgz"),
        &entries.into_iter().collect::<Vec<_>>(),
    );
    ok(&s.signer([
        "import",
        "old.tgz",
        "-o",
        "old.tgz.age",
        "--passphrase-file",
        "pass.txt",
    ]));
    let listing = ok(&s.signer(["list", "old.tgz.age", "--passphrase-file", "pass.txt"]));
    assert!(
        listing.contains("does not record which token holds it"),
        "{listing}"
    );

    let module = s.hsm.module_arg();
    let out = ok(&s.signer([
        "sign",
        "proposal.json",
        "--keys",
        "old.tgz.age",
        "-o",
        "bundle.json",
        "--new-archive",
        "keys3.tgz.age",
        "--passphrase-file",
        "pass.txt",
        "--yes",
        "--pkcs11-module",
        &module,
        "--pin-file",
        "pin.txt",
    ]));
    assert!(
        out.contains(
            "warning: the archive does not record which token holds key \"k1\" on token \"cer\""
        ) && out.contains(&format!("serial \"{serial}\"")),
        "{out}"
    );
    assert_flags_exist(&s.hsm, &s.dir, "sign", &out);
    let transcript = std::fs::read_to_string(s.dir.join("bundle.transcript.jsonl")).unwrap();
    assert!(
        transcript.contains(&format!("\"token_serial\":\"{serial}\""))
            && transcript.contains("\"token_pinned\":false"),
        "{transcript}"
    );
}

/// Two keys with the same label and id: `sign` (which has no --key-id)
/// and `import` (whose --key-id cannot tell twins apart) advise only what
/// the command can do.
#[test]
fn twin_keys_get_advice_with_flags_that_exist() {
    let s = Setup::new("ed25519");
    let module = s.hsm.module_arg();
    s.hsm.helper(HELPER, "twin", "cer", "k1");
    let before = hash_dir(&s.dir);
    let t = s.refused(
        &s.sign("pin.txt", &[]),
        1,
        &[
            "2 private keys labelled \"k1\"",
            "delete or relabel the extra ones",
        ],
        &before,
    );
    assert!(!t.contains("--key-id"), "{t}");
    assert_flags_exist(&s.hsm, &s.dir, "sign", &t);
    let t = s.refused(
        &s.signer([
            "import",
            "--pkcs11-module",
            &module,
            "--token",
            "cer",
            "--key-label",
            "k1",
            "--pin-file",
            "pin.txt",
            "-o",
            "twin.tgz.age",
            "--passphrase-file",
            "pass.txt",
        ]),
        1,
        &["2 private keys labelled \"k1\""],
        &before,
    );
    assert!(!t.contains("--key-id"), "{t}");
    assert_flags_exist(&s.hsm, &s.dir, "import", &t);

    // A label taken, at keygen: the advice names keygen's and import's flags.
    let t = s.refused(
        &s.signer([
            "keygen",
            "--keys",
            "keys.tgz.age",
            "--pkcs11-module",
            &module,
            "--token",
            "cer",
            "--key-label",
            "k1",
            "--pin-file",
            "pin.txt",
            "-o",
            "k.pub.json",
            "--new-archive",
            "k.tgz.age",
            "--passphrase-file",
            "pass.txt",
        ]),
        1,
        &["already holds an object labelled \"k1\""],
        &before,
    );
    assert_flags_exist(&s.hsm, &s.dir, "keygen", &t);
}
