//! Offline targets keys for a Factory, through both binaries against
//! `factory-sim` (issue 14 items 1 and 2): the root is taken offline by a
//! root rotation, then the targets key: `submitter propose --role targets`,
//! `signer sign --keys ROOT --targets-keys TARGETS`, `submitter upload`. The
//! new offline targets key is in both roots beside the online key, in the
//! targets keys' archive only, and exported into a tarball a fioctl-style
//! reader (written here, from `findTufSigners`) finds it in. Refusals of
//! the targets change's rules exit non-zero and write nothing.
//!
//! The roots are checked as a production device would, with code of this
//! file (not `ceremony`): each production root signed by a threshold of the
//! previous root's root keys and its own.

use std::path::Path;

use base64::Engine as _;
use ceremony_tests::files::tgz_entries;
use ceremony_tests::fixture::SignArgs;
use ceremony_tests::harness::{
    factory_init, factory_sim, passphrase_file, run, token_file, Ran, Server,
};
use serde_json::Value;

struct Factory {
    _tmp: tempfile::TempDir,
    state: std::path::PathBuf,
    online: std::path::PathBuf,
    offline: std::path::PathBuf,
    tok: String,
    pass: String,
    sim: Server,
}

fn read(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

impl Factory {
    /// A Factory whose root goes offline by the first-time flow: the first
    /// root key the server hands out imported offline into `keys-1.tgz.age`,
    /// and rotated out (production targets threshold 2).
    fn root_offline() -> Factory {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let state = dir.join("factory");
        factory_init(&state, "ed25519");
        let (online, offline) = (dir.join("online"), dir.join("offline"));
        std::fs::create_dir_all(&online).unwrap();
        std::fs::create_dir_all(&offline).unwrap();
        let tok = token_file(&online).to_str().unwrap().to_string();
        let pass = passphrase_file(&offline).to_str().unwrap().to_string();
        let sim = factory_sim(&state, &[]);
        let f = Factory {
            _tmp: tmp,
            state,
            online,
            offline,
            tok,
            pass,
            sim,
        };
        // The first-time flow: the server hands out the first root key
        // with the transaction; it crosses as a tarball, is imported, and
        // the rotation takes it out.
        f.propose(
            "root",
            &[
                "--first-time",
                "--first-root-key",
                "first.tgz",
                "--rotate-all",
            ],
        )
        .expect(0, "propose --first-time");
        std::fs::copy(f.online.join("first.tgz"), f.offline.join("first.tgz")).unwrap();
        run(
            "signer",
            &f.offline,
            [
                "import",
                "first.tgz",
                "--role",
                "root",
                "-o",
                "keys-1.tgz.age",
                "--passphrase-file",
                &f.pass,
            ],
            &[],
        )
        .expect(0, "signer import");
        f.sign_and_upload(
            "root",
            &[
                "--keys",
                "keys-1.tgz.age",
                "--new-archive",
                "keys-2.tgz.age",
            ],
        );
        f
    }

    fn propose(&self, name: &str, change: &[&str]) -> Ran {
        let mut args = vec![
            "propose",
            "--factory",
            "acme",
            "--api",
            &self.sim.url,
            "--token-file",
            &self.tok,
            "-o",
        ];
        let out = format!("{name}.proposal.json");
        args.push(&out);
        args.extend_from_slice(change);
        run("submitter", &self.online, args, &[])
    }

    /// propose and sign, then an upload the server refuses with `what`;
    /// the transaction is cancelled after.
    fn round_refused(&self, name: &str, change: &[&str], sign: &[&str], what: &str) {
        self.propose(name, change).expect(0, "propose");
        let proposal = format!("{name}.proposal.json");
        let bundle = format!("{name}.bundle.json");
        std::fs::copy(self.online.join(&proposal), self.offline.join(&proposal)).unwrap();
        run(
            "signer",
            &self.offline,
            SignArgs::new()
                .proposal(&proposal)
                .out(&bundle)
                .keys(sign[1])
                .new_archive(Some(sign[3]))
                .passphrase_file(Some(&self.pass))
                .extra(&sign[4..]),
            &[],
        )
        .expect(0, "sign");
        std::fs::copy(self.offline.join(&bundle), self.online.join(&bundle)).unwrap();
        let up = run(
            "submitter",
            &self.online,
            [
                "upload",
                &bundle,
                "--proposal",
                &proposal,
                "--token-file",
                &self.tok,
            ],
            &[],
        );
        assert_ne!(up.code, 0, "{}", up.all());
        assert!(up.all().contains(what), "{what}: {}", up.all());
        run(
            "submitter",
            &self.online,
            [
                "cancel",
                "--factory",
                "acme",
                "--api",
                &self.sim.url,
                "--token-file",
                &self.tok,
            ],
            &[],
        )
        .expect(0, "cancel");
    }

    /// propose, sign, upload: one ceremony; returns the signer's screen.
    /// `sign` is `--keys K --new-archive N` and more flags.
    fn round(&self, name: &str, change: &[&str], sign: &[&str]) -> String {
        self.propose(name, change).expect(0, "propose");
        self.sign_and_upload(name, sign)
    }

    /// sign and upload the proposal `name` made; returns the signer's screen.
    fn sign_and_upload(&self, name: &str, sign: &[&str]) -> String {
        let proposal = format!("{name}.proposal.json");
        let bundle = format!("{name}.bundle.json");
        std::fs::copy(self.online.join(&proposal), self.offline.join(&proposal)).unwrap();
        let signed = run(
            "signer",
            &self.offline,
            SignArgs::new()
                .proposal(&proposal)
                .out(&bundle)
                .keys(sign[1])
                .new_archive(Some(sign[3]))
                .passphrase_file(Some(&self.pass))
                .extra(&sign[4..]),
            &[],
        );
        signed.expect(0, "sign");
        std::fs::copy(self.offline.join(&bundle), self.online.join(&bundle)).unwrap();
        let up = run(
            "submitter",
            &self.online,
            [
                "upload",
                &bundle,
                "--proposal",
                &proposal,
                "--token-file",
                &self.tok,
            ],
            &[],
        );
        up.expect(0, "upload");
        assert!(up.stdout.contains("uploaded and applied"), "{}", up.all());
        signed.stdout
    }

    fn root(&self, chain: &str, v: u64) -> Value {
        read(&self.state.join(format!("{chain}/{v}.root.json")))
    }

    fn online_targets_key(&self) -> String {
        let ci = self.root("ci", 1);
        ci["signed"]["roles"]["targets"]["keyids"][0]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn ids(root: &Value, role: &str) -> Vec<String> {
    root["signed"]["roles"][role]["keyids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// aktualizr's canonical JSON of `signed` (sorted keys, no spaces): what
/// an ota-tuf signature signs.
fn canonical(v: &Value) -> Vec<u8> {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).unwrap());
                    out.push(':');
                    walk(&m[*k], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    walk(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&serde_json::to_string(other).unwrap()),
        }
    }
    let mut s = String::new();
    walk(v, &mut s);
    s.into_bytes()
}

/// How many of `role`'s keys of `by` made a valid Ed25519 signature over
/// `meta`'s `signed` (other key types are not counted: every key here is
/// Ed25519).
fn valid_signers(meta: &Value, by: &Value, role: &str) -> usize {
    let msg = canonical(&meta["signed"]);
    let mut seen = Vec::new();
    for s in meta["signatures"].as_array().unwrap() {
        let id = s["keyid"].as_str().unwrap();
        if seen.contains(&id.to_string()) || !ids(by, role).iter().any(|k| k == id) {
            continue;
        }
        let key = &by["signed"]["keys"][id];
        if key["keytype"].as_str() != Some("ED25519") {
            continue;
        }
        let public = hex_or_b64(key["keyval"]["public"].as_str().unwrap());
        let sig = base64::engine::general_purpose::STANDARD
            .decode(s["sig"].as_str().unwrap())
            .unwrap();
        let (Ok(public), Ok(sig)) = (
            <[u8; 32]>::try_from(public.as_slice()),
            <[u8; 64]>::try_from(sig.as_slice()),
        ) else {
            continue;
        };
        let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(&public) else {
            continue;
        };
        if vk
            .verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&sig))
            .is_ok()
        {
            seen.push(id.to_string());
        }
    }
    seen.len()
}

fn hex_or_b64(s: &str) -> Vec<u8> {
    let s = s.trim();
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (0..32)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect();
    }
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// A production device's walk of the production roots: each version N+1
/// signed by a threshold of N's root keys and of its own.
fn device_walks_prod(f: &Factory, upto: u64) {
    let mut prev = f.root("prod", 1);
    for v in 2..=upto {
        let next = f.root("prod", v);
        assert_eq!(next["signed"]["version"], v);
        for by in [&prev, &next] {
            let t = by["signed"]["roles"]["root"]["threshold"].as_u64().unwrap() as usize;
            assert!(valid_signers(&next, by, "root") >= t, "prod v{v}");
        }
        prev = next;
    }
}

#[test]
fn a_factory_takes_its_targets_key_offline_and_rotates_it() {
    let f = Factory::root_offline();
    let online_key = f.online_targets_key();

    // Taking the targets key offline: one new offline targets key.
    let screen = f.round(
        "targets1",
        &[
            "--role",
            "targets",
            "--rotate-all",
            "--message",
            "targets key offline",
        ],
        &[
            "--keys",
            "keys-2.tgz.age",
            "--new-archive",
            "keys-3.tgz.age",
            "--targets-keys",
            "targets-1.tgz.age",
        ],
    );
    assert!(screen.contains("offline targets key"), "{screen}");
    let (ci, prod) = (f.root("ci", 3), f.root("prod", 3));
    let t1 = ids(&ci, "targets");
    assert_eq!(t1.len(), 2, "{t1:?}");
    assert_eq!(t1[0], online_key);
    assert_eq!(ids(&prod, "targets"), t1);
    assert_eq!(ci["signed"]["roles"]["targets"]["threshold"], 1);
    assert_eq!(prod["signed"]["roles"]["targets"]["threshold"], 2);
    // The root keys did not change.
    assert_eq!(ids(&ci, "root"), ids(&f.root("ci", 2), "root"));
    let first_offline = t1[1].clone();

    // Export the targets archive: the tarball fioctl reads holds the key.
    run(
        "signer",
        &f.offline,
        [
            "export",
            "targets-1.tgz.age",
            "--plaintext",
            "-o",
            "targets.tgz",
            "--passphrase-file",
            &f.pass,
        ],
        &[],
    )
    .expect(0, "export targets");
    let files = tgz_entries(&std::fs::read(f.offline.join("targets.tgz")).unwrap());
    let want = ci["signed"]["keys"][&first_offline]["keyval"]["public"]
        .as_str()
        .unwrap()
        .trim()
        .to_string();
    let found: Vec<&String> = files
        .iter()
        .filter(|(n, b)| {
            n.ends_with(".pub")
                && serde_json::from_slice::<Value>(b).unwrap()["keyval"]["public"]
                    .as_str()
                    .map(str::trim)
                    == Some(want.as_str())
        })
        .map(|(n, _)| n)
        .collect();
    assert_eq!(found.len(), 1, "{:?}", files.keys());
    let sec = found[0].replace(".pub", ".sec");
    assert!(files.contains_key(&sec), "{sec}");
    assert!(
        !files.keys().any(|n| n.contains("root")),
        "{:?}",
        files.keys()
    );

    // Production targets the offline key signed (as a wave or
    // `sign-prod-targets` would have): tag main, with the online key's
    // signature and the offline key's; tag beta with the online key's only.
    let seed = {
        let sec: Value = serde_json::from_slice(&files[&sec]).unwrap();
        let hex = sec["keyval"]["private"]
            .as_str()
            .unwrap()
            .trim()
            .to_string();
        let bytes = hex_or_b64(&hex[..64]);
        <[u8; 32]>::try_from(bytes.as_slice()).unwrap()
    };
    let offline_key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let main_path = f.state.join("prod-targets/main.json");
    let mut main = read(&main_path);
    let sig = {
        use ed25519_dalek::Signer as _;
        offline_key.sign(&canonical(&main["signed"]))
    };
    main["signatures"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "keyid": first_offline,
            "method": "ed25519",
            "sig": base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()),
        }));
    std::fs::write(&main_path, serde_json::to_vec_pretty(&main).unwrap()).unwrap();
    let mut beta = read(&main_path);
    beta["signatures"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["keyid"] != first_offline.as_str());
    std::fs::write(
        f.state.join("prod-targets/beta.json"),
        serde_json::to_vec_pretty(&beta).unwrap(),
    )
    .unwrap();
    // Under prod v3 (online + offline key, threshold 2) main is valid.
    assert_eq!(valid_signers(&main, &prod, "targets"), 2);

    // Rotating it: the offline key is replaced, the online one stays.
    let screen = f.round(
        "targets2",
        &["--role", "targets", "--rotate", &first_offline],
        &[
            "--keys",
            "keys-3.tgz.age",
            "--new-archive",
            "keys-4.tgz.age",
            "--targets-keys",
            "targets-1.tgz.age",
            "--new-targets-archive",
            "targets-2.tgz.age",
        ],
    );
    assert!(screen.contains(&first_offline), "{screen}");
    // The screen shows the re-signed file in full, and the one left.
    assert!(screen.contains("PRODUCTION TARGETS RE-SIGNED"), "{screen}");
    assert!(
        screen.contains("production targets of tag main: version 1"),
        "{screen}"
    );
    for (name, t) in main["signed"]["targets"].as_object().unwrap() {
        assert!(screen.contains(&format!("target {name}")), "{screen}");
        let sha = t["hashes"]["sha256"].as_str().unwrap();
        assert!(screen.contains(sha), "{screen}");
    }
    assert!(
        screen
            .contains("not re-signed (no replaced key signed it): production targets of tag beta"),
        "{screen}"
    );
    let ci4 = f.root("ci", 4);
    let t2 = ids(&ci4, "targets");
    assert_eq!(t2.len(), 2, "{t2:?}");
    assert_eq!(t2[0], online_key);
    assert_ne!(t2[1], first_offline);
    assert!(ci4["signed"]["keys"].get(&first_offline).is_none());
    assert!(
        ci4["signed"]["x-key-owners"].get(&t2[1]).is_some(),
        "{}",
        ci4["signed"]["x-key-owners"]
    );
    // The transcript records each re-signed file by the hash of what was
    // signed (the canonical `signed`, computed here).
    let transcript =
        std::fs::read_to_string(f.offline.join("targets2.bundle.transcript.jsonl")).unwrap();
    let entry: Value = transcript
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e.to_string().contains("targets-signed"))
        .unwrap_or_else(|| panic!("no targets-signed entry:\n{transcript}"));
    let want = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(canonical(&main["signed"])))
    };
    assert!(entry.to_string().contains(&want), "{entry}");
    assert!(entry.to_string().contains("\"main\""), "{entry}");
    // A production device under prod v4: main holds the online key's and
    // the new key's signatures, a threshold of v4's targets role.
    let prod4 = f.root("prod", 4);
    let main4 = read(&main_path);
    assert!(
        main4["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["keyid"] == t2[1].as_str()),
        "{main4}"
    );
    let t = prod4["signed"]["roles"]["targets"]["threshold"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(t, 2);
    assert!(valid_signers(&main4, &prod4, "targets") >= t, "{main4}");
    let beta4 = read(&f.state.join("prod-targets/beta.json"));
    assert!(
        valid_signers(&beta4, &prod4, "targets") < t,
        "beta was not re-signed"
    );
    // The targets archive it started from is unchanged beside the new one.
    assert!(f.offline.join("targets-1.tgz.age").exists());
    assert!(f.offline.join("targets-2.tgz.age").exists());

    // The server refuses: a targets rotation while a wave is active; a
    // production root under which main, valid now, would no longer be (a
    // threshold of 3 that main's two signatures do not meet).
    let wave = f.state.join("wave-targets/w1.json");
    std::fs::create_dir_all(wave.parent().unwrap()).unwrap();
    std::fs::copy(&main_path, &wave).unwrap();
    f.round_refused(
        "wave-active",
        &["--role", "targets", "--rotate-all"],
        &[
            "--keys",
            "keys-4.tgz.age",
            "--new-archive",
            "x1.tgz.age",
            "--targets-keys",
            "targets-2.tgz.age",
            "--new-targets-archive",
            "x1t.tgz.age",
        ],
        "not allowed while a wave is active (w1)",
    );
    std::fs::remove_file(&wave).unwrap();
    f.round_refused(
        "threshold3",
        &["--role", "targets", "--add", "1", "--threshold", "3"],
        &[
            "--keys",
            "keys-4.tgz.age",
            "--new-archive",
            "x3.tgz.age",
            "--targets-keys",
            "targets-2.tgz.age",
            "--new-targets-archive",
            "x3t.tgz.age",
        ],
        "would not meet the new production root's targets threshold",
    );
    assert!(!f.state.join("ci/5.root.json").exists());

    // Add one, then production threshold 3: main is no longer among the
    // production targets (the release was withdrawn), so nothing breaks.
    std::fs::remove_file(&main_path).unwrap();
    f.round(
        "targets3",
        &["--role", "targets", "--add", "1", "--threshold", "3"],
        &[
            "--keys",
            "keys-4.tgz.age",
            "--new-archive",
            "keys-5.tgz.age",
            "--targets-keys",
            "targets-2.tgz.age",
            "--new-targets-archive",
            "targets-3.tgz.age",
        ],
    );
    let (ci5, prod5) = (f.root("ci", 5), f.root("prod", 5));
    assert_eq!(ids(&ci5, "targets").len(), 3);
    assert_eq!(ci5["signed"]["roles"]["targets"]["threshold"], 1);
    assert_eq!(prod5["signed"]["roles"]["targets"]["threshold"], 3);

    device_walks_prod(&f, 5);
}

#[test]
fn targets_changes_that_break_a_rule_are_refused() {
    let f = Factory::root_offline();
    let online_key = f.online_targets_key();
    let refused = |change: &[&str], code: i32, what: &str| {
        let mut all = vec!["--role", "targets"];
        all.extend_from_slice(change);
        let out = f.propose("bad", &all);
        assert_eq!(out.code, code, "{change:?}: {}", out.all());
        assert!(out.all().contains(what), "{change:?}: {}", out.all());
        assert!(!f.online.join("bad.proposal.json").exists(), "{change:?}");
        // The transaction a refusal leaves open is cancelled for the next.
        let _ = run(
            "submitter",
            &f.online,
            [
                "cancel",
                "--factory",
                "acme",
                "--api",
                &f.sim.url,
                "--token-file",
                &f.tok,
            ],
            &[],
        );
    };
    refused(&["--threshold", "1"], 2, "at least 2");
    refused(&[], 2, "say what to change");
    refused(&["--rotate", &online_key], 2, "online targets key");
    refused(&["--remove", &online_key], 2, "online targets key");
    refused(&["--threshold", "3"], 2, "cannot meet it");
    refused(
        &["--remove", &"ab".repeat(32)],
        2,
        "not an offline targets key",
    );
    let out = run(
        "submitter",
        &f.online,
        [
            "propose",
            "--repo",
            "x",
            "--role",
            "targets",
            "--rotate-all",
            "-o",
            "p.json",
        ],
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.all());

    // A targets proposal signed without the targets archive: refused
    // before any key is made, naming the flag.
    f.propose("t", &["--role", "targets", "--rotate-all"])
        .expect(0, "propose");
    std::fs::copy(
        f.online.join("t.proposal.json"),
        f.offline.join("t.proposal.json"),
    )
    .unwrap();
    let out = run(
        "signer",
        &f.offline,
        SignArgs::new()
            .proposal("t.proposal.json")
            .out("t.bundle.json")
            .keys("keys-2.tgz.age")
            .new_archive(Some("unused.tgz.age"))
            .passphrase_file(Some(&f.pass)),
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.all().contains("--targets-keys"), "{}", out.all());
    assert!(!f.offline.join("t.bundle.json").exists());
}

#[test]
fn fioctl_rotates_the_targets_key_we_exported_and_we_rotate_after_it() {
    use ceremony_tests::fioctl::Fioctl;
    let f = Factory::root_offline();
    let online_key = f.online_targets_key();
    f.round(
        "targets1",
        &["--role", "targets", "--rotate-all"],
        &[
            "--keys",
            "keys-2.tgz.age",
            "--new-archive",
            "keys-3.tgz.age",
            "--targets-keys",
            "targets-1.tgz.age",
        ],
    );
    let ours = ids(&f.root("ci", 3), "targets")[1].clone();
    // Both archives exported as the plain tarballs fioctl takes.
    for (archive, out) in [
        ("keys-3.tgz.age", "root.tgz"),
        ("targets-1.tgz.age", "targets.tgz"),
    ] {
        run(
            "signer",
            &f.offline,
            [
                "export",
                archive,
                "--plaintext",
                "-o",
                out,
                "--passphrase-file",
                &f.pass,
            ],
            &[],
        )
        .expect(0, "export");
    }
    // fioctl's `keys tuf updates rotate-offline-key --role=targets -k
    // root.tgz -K targets.tgz --sign`, then apply.
    let mut fio = Fioctl::new(&f.sim.url, "acme", ceremony_tests::harness::TOKEN);
    let init = fio
        .updates_init("fioctl rotates the targets key", None)
        .unwrap_or_else(|d| panic!("{d}\n{}", fio.out));
    let (theirs, _) = fio
        .rotate_offline_targets(
            &init.txid,
            Some(&f.offline.join("root.tgz")),
            Some(&f.offline.join("targets.tgz")),
            true,
        )
        .unwrap_or_else(|d| panic!("{d}\n{}", fio.out));
    fio.updates_apply(&init.txid)
        .unwrap_or_else(|d| panic!("{d}\n{}", fio.out));
    let ci4 = f.root("ci", 4);
    assert_eq!(
        ids(&ci4, "targets"),
        vec![online_key.clone(), theirs.clone()]
    );
    assert!(!ids(&ci4, "targets").contains(&ours));

    // Our rotation after fioctl's: its targets tarball imported (targets
    // keys only), the root keys' archive as it was.
    run(
        "signer",
        &f.offline,
        [
            "import",
            "targets.tgz",
            "--role",
            "targets",
            "-o",
            "targets-f.tgz.age",
            "--passphrase-file",
            &f.pass,
        ],
        &[],
    )
    .expect(0, "import fioctl's targets tarball");
    f.round(
        "after-fioctl",
        &["--role", "targets", "--rotate", &theirs],
        &[
            "--keys",
            "keys-3.tgz.age",
            "--new-archive",
            "keys-4.tgz.age",
            "--targets-keys",
            "targets-f.tgz.age",
            "--new-targets-archive",
            "targets-5.tgz.age",
        ],
    );
    let ci5 = f.root("ci", 5);
    let t = ids(&ci5, "targets");
    assert_eq!(t.len(), 2, "{t:?}");
    assert_eq!(t[0], online_key);
    assert!(t[1] != theirs && t[1] != ours, "{t:?}");
    device_walks_prod(&f, 5);
}

impl Factory {
    /// One production release with our tools: CI targets of `version` made
    /// by the simulated CI, `submitter wave-propose`, `signer sign-wave`
    /// with the targets archive `keys`, `submitter wave-publish`, then the
    /// wave completed (its targets become the production targets of
    /// `main`). Returns the signer's screen.
    fn release(&self, version: u64, keys: &str) -> String {
        let v = version.to_string();
        let name = format!("w{version}");
        run(
            "factory-sim",
            &self.online,
            [
                "add-ci-targets",
                self.state.to_str().unwrap(),
                &v,
                "--hardware-id",
                "sim-machine",
            ],
            &[],
        )
        .expect(0, "factory-sim add-ci-targets");
        let proposal = format!("{name}.wave.json");
        let bundle = format!("{name}.wave-bundle.json");
        run(
            "submitter",
            &self.online,
            [
                "wave-propose",
                "--factory",
                "acme",
                "--api",
                &self.sim.url,
                "--token-file",
                &self.tok,
                &name,
                &v,
                "main",
                "-o",
                &proposal,
            ],
            &[],
        )
        .expect(0, "wave-propose");
        std::fs::copy(self.online.join(&proposal), self.offline.join(&proposal)).unwrap();
        let signed = run(
            "signer",
            &self.offline,
            [
                "sign-wave",
                &proposal,
                "--keys",
                keys,
                "-o",
                &bundle,
                "--passphrase-file",
                &self.pass,
                "--yes",
            ],
            &[],
        );
        signed.expect(0, "sign-wave");
        std::fs::copy(self.offline.join(&bundle), self.online.join(&bundle)).unwrap();
        run(
            "submitter",
            &self.online,
            [
                "wave-publish",
                &bundle,
                "--proposal",
                &proposal,
                "--api",
                &self.sim.url,
                "--token-file",
                &self.tok,
            ],
            &[],
        )
        .expect(0, "wave-publish");
        ceremony_tests::fioctl::http::Api::new(&self.sim.url, ceremony_tests::harness::TOKEN)
            .post(
                &format!("{}/ota/factories/acme/waves/{name}/complete/", self.sim.url),
                None,
            )
            .unwrap_or_else(|e| panic!("complete {name}: {}", e.text()));
        signed.stdout
    }

    /// The newest production root.
    fn prod_now(&self) -> (u64, Value) {
        let n = (1..)
            .take_while(|n| self.state.join(format!("prod/{n}.root.json")).exists())
            .last()
            .unwrap();
        (n, self.root("prod", n))
    }

    /// A production device's check of the production targets of `main`:
    /// a threshold of the newest production root's targets keys signed it.
    fn device_accepts_main(&self, what: &str) {
        let (n, prod) = self.prod_now();
        let main = read(&self.state.join("prod-targets/main.json"));
        let threshold = prod["signed"]["roles"]["targets"]["threshold"]
            .as_u64()
            .unwrap() as usize;
        assert!(
            threshold >= 2,
            "{what}: prod v{n} targets threshold {threshold}"
        );
        assert!(
            valid_signers(&main, &prod, "targets") >= threshold,
            "{what}: main (version {}) under prod v{n}: {}",
            main["signed"]["version"],
            main["signatures"]
        );
    }
}

/// A Factory whose root and targets keys are both offline, with our tools
/// only: the targets key taken offline, a release, the targets key
/// rotated (production targets re-signed), a release with the new key, a
/// root rotation, a third release. After each step a production device
/// (this file's own code) walks the production roots and accepts the
/// production targets, and `submitter audit` holds.
#[test]
fn root_and_targets_keys_offline_rotated_and_released_several_times() {
    let f = Factory::root_offline();
    let audit = || {
        run(
            "submitter",
            &f.online,
            [
                "audit",
                "--factory",
                "acme",
                "--api",
                &f.sim.url,
                "--token-file",
                &f.tok,
            ],
            &[],
        )
        .expect(0, "submitter audit");
    };
    f.round(
        "t1",
        &[
            "--role",
            "targets",
            "--rotate-all",
            "--message",
            "targets offline",
        ],
        &[
            "--keys",
            "keys-2.tgz.age",
            "--new-archive",
            "keys-3.tgz.age",
            "--targets-keys",
            "targets-1.tgz.age",
        ],
    );
    let first_offline = ids(&f.root("prod", 3), "targets")[1].clone();

    let screen = f.release(2, "targets-1.tgz.age");
    assert!(screen.contains("+ added  sim-machine-lmp-2"), "{screen}");
    f.device_accepts_main("after release 2");
    device_walks_prod(&f, 3);
    audit();

    let screen = f.round(
        "t2",
        &["--role", "targets", "--rotate", &first_offline],
        &[
            "--keys",
            "keys-3.tgz.age",
            "--new-archive",
            "keys-4.tgz.age",
            "--targets-keys",
            "targets-1.tgz.age",
            "--new-targets-archive",
            "targets-2.tgz.age",
        ],
    );
    assert!(screen.contains("PRODUCTION TARGETS RE-SIGNED"), "{screen}");
    assert!(
        screen.contains("production targets of tag main: version 2"),
        "{screen}"
    );
    assert!(!ids(&f.root("prod", 4), "targets").contains(&first_offline));
    f.device_accepts_main("after the targets rotation");
    let show = run("submitter", &f.online, ["show", "t2.proposal.json"], &[]);
    show.expect(0, "submitter show");
    for want in [
        "role:       targets (the online key ",
        "carried for re-signing: production targets of tag main (version 2)",
    ] {
        assert!(show.stdout.contains(want), "{want}\n{}", show.all());
    }

    f.release(3, "targets-2.tgz.age");
    f.device_accepts_main("after release 3");
    // The retired targets key cannot make a release any more.
    run(
        "factory-sim",
        &f.online,
        [
            "add-ci-targets",
            f.state.to_str().unwrap(),
            "4",
            "--hardware-id",
            "sim-machine",
        ],
        &[],
    )
    .expect(0, "factory-sim add-ci-targets");
    run(
        "submitter",
        &f.online,
        [
            "wave-propose",
            "--factory",
            "acme",
            "--api",
            &f.sim.url,
            "--token-file",
            &f.tok,
            "w4",
            "4",
            "main",
            "-o",
            "w4.wave.json",
        ],
        &[],
    )
    .expect(0, "wave-propose w4");
    std::fs::copy(
        f.online.join("w4.wave.json"),
        f.offline.join("w4.wave.json"),
    )
    .unwrap();
    let retired = run(
        "signer",
        &f.offline,
        [
            "sign-wave",
            "w4.wave.json",
            "--keys",
            "targets-1.tgz.age",
            "-o",
            "w4.wave-bundle.json",
            "--passphrase-file",
            &f.pass,
            "--yes",
        ],
        &[],
    );
    assert_ne!(retired.code, 0, "{}", retired.all());
    assert!(
        retired
            .all()
            .contains("holds no targets key that production root v4 lists"),
        "{}",
        retired.all()
    );
    assert!(!f.offline.join("w4.wave-bundle.json").exists());

    f.round(
        "r2",
        &["--rotate-all", "--message", "yearly root rotation"],
        &[
            "--keys",
            "keys-4.tgz.age",
            "--new-archive",
            "keys-5.tgz.age",
        ],
    );
    let (n, _) = f.prod_now();
    assert_eq!(n, 5);
    device_walks_prod(&f, 5);
    f.device_accepts_main("after the root rotation");

    f.release(5, "targets-2.tgz.age");
    f.device_accepts_main("after release 5");
    device_walks_prod(&f, 5);
    audit();
}

impl Factory {
    /// The targets keys' holder's machine: a folder of its own, with only
    /// the targets keys' archive (never the root keys').
    fn targets_machine(&self, archive: &str) -> std::path::PathBuf {
        let dir = self._tmp.path().join("targets-machine");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::rename(self.offline.join(archive), dir.join(archive)).unwrap();
        dir
    }

    fn upload(&self, bundle: &str, proposal: &str) -> Ran {
        run(
            "submitter",
            &self.online,
            [
                "upload",
                bundle,
                "--proposal",
                proposal,
                "--token-file",
                &self.tok,
            ],
            &[],
        )
    }

    /// Machine A's half of the targets rotation `name` (proposed already):
    /// `signer sign --targets-keys` alone, the partial bundle uploaded, not
    /// applied. Returns A's screen.
    fn targets_half(&self, machine: &Path, name: &str, from: &str, to: &str) -> String {
        let proposal = format!("{name}.proposal.json");
        let bundle = format!("{name}.a.bundle.json");
        std::fs::copy(self.online.join(&proposal), machine.join(&proposal)).unwrap();
        let a = run(
            "signer",
            machine,
            [
                "sign",
                &proposal,
                "--targets-keys",
                from,
                "--new-targets-archive",
                to,
                "-o",
                &bundle,
                "--passphrase-file",
                &self.pass,
                "--yes",
            ],
            &[],
        );
        a.expect(0, "signer sign --targets-keys (machine A)");
        std::fs::copy(machine.join(&bundle), self.online.join(&bundle)).unwrap();
        let up = self.upload(&bundle, &proposal);
        up.expect(0, "upload of machine A's partial bundle");
        assert!(up.stdout.contains("uploaded, NOT applied"), "{}", up.all());
        a.stdout
    }

    /// Machine B's proposal of the staged roots as they are.
    fn propose_staged(&self, name: &str, txid: &str) -> Ran {
        self.propose(name, &["--txid", txid, "--sign-staged"])
    }

    /// Machine B signs `name` (a sign-staged proposal) with the root keys.
    fn root_half(&self, name: &str, keys: &str, new: &str) -> Ran {
        let proposal = format!("{name}.proposal.json");
        let bundle = format!("{name}.bundle.json");
        std::fs::copy(self.online.join(&proposal), self.offline.join(&proposal)).unwrap();
        let b = run(
            "signer",
            &self.offline,
            SignArgs::new()
                .proposal(&proposal)
                .out(&bundle)
                .keys(keys)
                .new_archive(Some(new))
                .passphrase_file(Some(&self.pass)),
            &[],
        );
        if b.code == 0 {
            std::fs::copy(self.offline.join(&bundle), self.online.join(&bundle)).unwrap();
        }
        b
    }
}

fn txid_of(proposal: &Value) -> String {
    proposal["txid"].as_str().unwrap().to_string()
}

/// A targets rotation on two offline machines: the targets keys' holder
/// (machine A) makes the new offline targets key into the targets keys'
/// new archive and re-signs the production targets, without the root keys;
/// its partial bundle goes into the transaction; the root keys' holder
/// (machine B) signs the staged roots as they are, and its upload applies
/// them with A's targets signatures. No run is given both archives. A
/// production device then walks the production roots, accepts the
/// production targets, and a release signed offline with the new key.
#[test]
fn a_targets_rotation_split_over_two_offline_machines() {
    let f = Factory::root_offline();
    f.round(
        "t1",
        &["--role", "targets", "--rotate-all"],
        &[
            "--keys",
            "keys-2.tgz.age",
            "--new-archive",
            "keys-3.tgz.age",
            "--targets-keys",
            "targets-1.tgz.age",
        ],
    );
    f.release(2, "targets-1.tgz.age");
    let old = ids(&f.root("prod", 3), "targets")[1].clone();
    let a_dir = f.targets_machine("targets-1.tgz.age");

    f.propose("t2", &["--role", "targets", "--rotate", &old])
        .expect(0, "propose t2");
    let txid = txid_of(&read(&f.online.join("t2.proposal.json")));
    let screen = f.targets_half(&a_dir, "t2", "targets-1.tgz.age", "targets-2.tgz.age");
    for want in [
        "First use for chain ci",
        "PRODUCTION TARGETS RE-SIGNED",
        "production targets of tag main: version 2",
        "PARTIAL bundle",
    ] {
        assert!(screen.contains(want), "{want}\n{screen}");
    }
    let a_bundle = read(&a_dir.join("t2.a.bundle.json"));
    assert!(!a_bundle["targets_signatures"]["main"]
        .as_array()
        .unwrap()
        .is_empty());
    // A's record of the ceremony: its chain holds and records what A read
    // and wrote. (Its head is signed by the new targets key, not a root
    // key, which verify-transcript does not yet authenticate.)
    let v = run(
        "signer",
        &a_dir,
        [
            "verify-transcript",
            "t2.a.bundle.transcript.jsonl",
            "--chain-only",
            "t2.proposal.json",
            "targets-1.tgz.age",
            "targets-2.tgz.age",
        ],
        &[],
    );
    v.expect(0, "verify-transcript --chain-only of machine A's ceremony");
    for want in [
        "as the proposal read",
        "as the key archive read",
        "as the new key archive written",
    ] {
        assert!(v.stdout.contains(want), "{want}\n{}", v.all());
    }
    // Nothing of the roots' archive on A, nothing signed by a root key.
    assert!(!a_dir.join("keys-3.tgz.age").exists());
    assert_eq!(f.prod_now().0, 3, "applied without the root keys");

    f.propose_staged("t2b", &txid)
        .expect(0, "propose --sign-staged");
    let b = f.root_half("t2b", "keys-3.tgz.age", "keys-4.tgz.age");
    b.expect(0, "signer sign --keys (machine B)");
    // B sees what the server applies with its roots: A's signatures, checked.
    assert!(
        b.stdout
            .contains("PRODUCTION TARGETS RE-SIGNED IN THE TRANSACTION (1 file(s))"),
        "{}",
        b.all()
    );
    let up = f.upload("t2b.bundle.json", "t2b.proposal.json");
    up.expect(0, "upload of machine B's bundle");
    assert!(up.stdout.contains("uploaded and applied"), "{}", up.all());

    let prod = f.root("prod", 4);
    let new = ids(&prod, "targets");
    assert!(!new.contains(&old), "{new:?}");
    assert_eq!(new.len(), 2);
    device_walks_prod(&f, 4);
    f.device_accepts_main("after the split targets rotation");

    // A release signed offline with the new key, on A's archive.
    std::fs::copy(
        a_dir.join("targets-2.tgz.age"),
        f.offline.join("targets-2.tgz.age"),
    )
    .unwrap();
    f.release(3, "targets-2.tgz.age");
    f.device_accepts_main("after a release with the new targets key");
    device_walks_prod(&f, 4);

    // The targets keys' new archive anchors the roots A built: the stale
    // proposal A signed before is refused now (its current root is the one
    // that anchor replaced), before any key is made, writing nothing.
    let stale = run(
        "signer",
        &a_dir,
        [
            "sign",
            "t2.proposal.json",
            "--targets-keys",
            "targets-2.tgz.age",
            "-o",
            "stale.bundle.json",
            "--passphrase-file",
            &f.pass,
            "--yes",
        ],
        &[],
    );
    assert_eq!(stale.code, 3, "{}", stale.all());
    assert!(stale.all().contains("replaced"), "{}", stale.all());
    assert!(!a_dir.join("stale.bundle.json").exists());

    // The next split rotation chains from that anchor, no first use.
    let newer = ids(&f.root("prod", 4), "targets")[1].clone();
    f.propose("t3", &["--role", "targets", "--rotate", &newer])
        .expect(0, "propose t3");
    let txid = txid_of(&read(&f.online.join("t3.proposal.json")));
    let screen = f.targets_half(&a_dir, "t3", "targets-2.tgz.age", "targets-3.tgz.age");
    assert!(
        screen.contains("chain ci: the current root v4 is the one this archive signed last"),
        "{screen}"
    );
    assert!(!screen.contains("First use"), "{screen}");
    f.propose_staged("t3b", &txid)
        .expect(0, "propose --sign-staged");
    f.root_half("t3b", "keys-4.tgz.age", "keys-5.tgz.age")
        .expect(0, "signer sign --keys (machine B)");
    let up = f.upload("t3b.bundle.json", "t3b.proposal.json");
    up.expect(0, "upload of machine B's bundle");
    assert!(up.stdout.contains("uploaded and applied"), "{}", up.all());
    assert!(!ids(&f.root("prod", 5), "targets").contains(&newer));
    device_walks_prod(&f, 5);
    f.device_accepts_main("after the second split targets rotation");
}

/// The same split, with a server that swaps the targets key machine A made
/// for one of its own in the staged roots: A's signatures of the production
/// targets, which the server would apply with the roots, no longer verify
/// under the staged CI root, and machine B refuses before any key or
/// question (exit 3), writing nothing.
#[test]
fn a_staged_targets_key_swapped_by_the_server_is_refused_by_the_root_holder() {
    use ceremony_tests::keygen::{TestKey, TestKeyType};
    let f = Factory::root_offline();
    f.round(
        "t1",
        &["--role", "targets", "--rotate-all"],
        &[
            "--keys",
            "keys-2.tgz.age",
            "--new-archive",
            "keys-3.tgz.age",
            "--targets-keys",
            "targets-1.tgz.age",
        ],
    );
    // A release signed by the offline targets key, which the rotation
    // re-signs.
    f.release(2, "targets-1.tgz.age");
    let current = f.root("ci", 3);
    let old = ids(&current, "targets")[1].clone();
    let a_dir = f.targets_machine("targets-1.tgz.age");
    f.propose("t2", &["--role", "targets", "--rotate", &old])
        .expect(0, "propose t2");
    let txid = txid_of(&read(&f.online.join("t2.proposal.json")));
    f.targets_half(&a_dir, "t2", "targets-1.tgz.age", "targets-2.tgz.age");

    // The server's swap, in both staged roots.
    let d = ceremony::Dialect::OtaTuf;
    let evil = TestKey::generate(TestKeyType::Ed25519);
    let tx_path = f.state.join("transaction.json");
    let mut tx = read(&tx_path);
    let made = ids(&tx["ci-root"], "targets")
        .into_iter()
        .find(|id| !ids(&current, "targets").contains(id))
        .expect("A's new targets key is staged");
    for root in ["ci-root", "prod-root"] {
        let signed = &mut tx[root]["signed"];
        let keys = signed["keys"].as_object_mut().unwrap();
        keys.remove(&made);
        keys.insert(evil.key_id(d), evil.key_object(d));
        for id in signed["roles"]["targets"]["keyids"].as_array_mut().unwrap() {
            if id.as_str() == Some(made.as_str()) {
                *id = Value::String(evil.key_id(d));
            }
        }
    }
    std::fs::write(&tx_path, serde_json::to_vec_pretty(&tx).unwrap()).unwrap();

    f.propose_staged("t2b", &txid)
        .expect(0, "propose --sign-staged");
    let b = f.root_half("t2b", "keys-3.tgz.age", "keys-4.tgz.age");
    assert_eq!(b.code, 3, "{}", b.all());
    assert!(
        b.all().contains("the transaction's targets signatures")
            && b.all().contains("not a targets key of the new CI root"),
        "{}",
        b.all()
    );
    for never in [
        "t2b.bundle.json",
        "keys-4.tgz.age",
        "t2b.bundle.transcript.jsonl",
    ] {
        assert!(!f.offline.join(never).exists(), "{never} written");
    }
    assert_eq!(f.prod_now().0, 3);
}

/// Deleting the last offline targets key (fioctl's `delete-offline-key
/// --role=targets`, our `propose --role targets --remove ID`): our propose
/// refuses it, naming why, and writes no proposal; the server refuses a
/// PUT of such roots (here sent as fioctl sends them), so a client that
/// does not check gets nowhere either.
#[test]
fn the_last_offline_targets_key_is_not_deleted() {
    let f = Factory::root_offline();
    f.round(
        "t1",
        &["--role", "targets", "--rotate-all"],
        &[
            "--keys",
            "keys-2.tgz.age",
            "--new-archive",
            "keys-3.tgz.age",
            "--targets-keys",
            "targets-1.tgz.age",
        ],
    );
    let offline = ids(&f.root("ci", 3), "targets")[1].clone();
    let out = f.propose("del", &["--role", "targets", "--remove", &offline]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.all().contains("removes the last offline targets key"),
        "{}",
        out.all()
    );
    assert!(!f.online.join("del.proposal.json").exists());
    run(
        "submitter",
        &f.online,
        [
            "cancel",
            "--factory",
            "acme",
            "--api",
            &f.sim.url,
            "--token-file",
            &f.tok,
        ],
        &[],
    )
    .expect(0, "cancel");

    // The server: the staged roots with the offline key taken out, PUT.
    let mut fio =
        ceremony_tests::fioctl::Fioctl::new(&f.sim.url, "acme", ceremony_tests::harness::TOKEN);
    let txid = fio.updates_init("delete", None).expect("init").txid;
    let api = ceremony_tests::fioctl::http::Api::new(&f.sim.url, ceremony_tests::harness::TOKEN);
    let url = format!("{}/ota/repo/acme/api/v1/user_repo/root/updates", f.sim.url);
    let tx: Value = serde_json::from_slice(
        &api.get(&url)
            .unwrap_or_else(|e| panic!("GET updates: {}", e.text())),
    )
    .unwrap();
    let mut roots = Vec::new();
    for field in ["ci-root", "prod-root"] {
        let mut root: Value = serde_json::from_str(tx["updated"][field].as_str().unwrap()).unwrap();
        root["signed"]["roles"]["targets"]["keyids"]
            .as_array_mut()
            .unwrap()
            .retain(|id| id.as_str() != Some(offline.as_str()));
        root["signed"]["keys"]
            .as_object_mut()
            .unwrap()
            .remove(&offline);
        roots.push(root);
    }
    let body = serde_json::json!({"txid": txid, "ci-root": roots[0], "prod-root": roots[1]});
    let put = api.put(&url, serde_json::to_vec(&body).unwrap());
    let Err(e) = put else {
        panic!("the server accepted the deletion of the last offline targets key");
    };
    assert_eq!(e.status(), Some(422), "{}", e.text());
    assert!(
        e.text().contains("last offline TUF targets key"),
        "{}",
        e.text()
    );
}
