//! Production releases (waves) signed offline, end to end: a Factory whose
//! root and targets keys fioctl took offline (the emulation in
//! `ceremony_tests::fioctl`), a wave proposed by `submitter wave-propose`,
//! reviewed and signed by `signer sign-wave` with the targets key imported
//! from fioctl's tarball, published by `submitter wave-publish`, accepted by
//! factory-sim; then checked as a production device checks it, with this
//! test's own code (fioctl's Go form of the targets, ed25519-dalek), not
//! `ceremony`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use ceremony_tests::fioctl::http::Api;
use ceremony_tests::fioctl::Fioctl;
use ceremony_tests::harness::{factory_sim, passphrase_file, run, token_file, Server, TOKEN};
use serde_json::{json, Value};

struct Release {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    state: PathBuf,
    sim: Server,
    /// The offline targets key's id, as the production root lists it.
    offline_id: String,
    pass: PathBuf,
    tok: PathBuf,
}

impl Release {
    /// A Factory with its root key and a targets key offline (fioctl's
    /// `rotate-offline-key --role=root --first-time`, then `--role=targets`),
    /// the targets tarball imported into an age archive, and CI targets of
    /// version 2 for two hardware ids.
    fn new() -> Release {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let state = dir.join("factory");
        run("factory-sim", &dir, ["init", state.to_str().unwrap()], &[])
            .expect(0, "factory-sim init");
        let sim = factory_sim(&state, &[]);
        let keys = dir.join("root.tgz");
        let targets = dir.join("targets.tgz");
        let mut f = Fioctl::new(&sim.url, "acme", TOKEN);
        f.rotate_root_one_step(&keys, true, None)
            .unwrap_or_else(|d| panic!("first-time rotation: {d}\n{}", f.out));
        let init = f
            .updates_init("offline targets", None)
            .unwrap_or_else(|d| panic!("{d}\n{}", f.out));
        let (offline_id, _) = f
            .rotate_offline_targets(&init.txid, Some(&keys), Some(&targets), true)
            .unwrap_or_else(|d| panic!("{d}\n{}", f.out));
        f.updates_apply(&init.txid)
            .unwrap_or_else(|d| panic!("{d}\n{}", f.out));
        let pass = passphrase_file(&dir);
        run(
            "signer",
            &dir,
            [
                "import",
                targets.to_str().unwrap(),
                "-o",
                "targets.tgz.age",
                "--passphrase-file",
                pass.to_str().unwrap(),
            ],
            &[],
        )
        .expect(0, "signer import of fioctl's targets tarball");
        let tok = token_file(&dir);
        let r = Release {
            _tmp: tmp,
            dir,
            state,
            sim,
            offline_id,
            pass,
            tok,
        };
        r.add_ci_targets(2);
        r
    }

    fn add_ci_targets(&self, version: u64) {
        run(
            "factory-sim",
            &self.dir,
            [
                "add-ci-targets",
                self.state.to_str().unwrap(),
                &version.to_string(),
                "--hardware-id",
                "sim-machine",
                "--hardware-id",
                "sim-other",
            ],
            &[],
        )
        .expect(0, "factory-sim add-ci-targets");
    }

    fn propose(&self, name: &str, version: u64, extra: &[&str]) -> ceremony_tests::cmd::Ran {
        let v = version.to_string();
        let mut args = vec![
            "wave-propose",
            "--factory",
            "acme",
            "--api",
            &self.sim.url,
            "--token-file",
            self.tok.to_str().unwrap(),
            name,
            &v,
            "main",
            "-o",
            "wave.json",
            "--force",
        ];
        args.extend_from_slice(extra);
        run("submitter", &self.dir, args, &[])
    }

    fn sign(&self, keys: &str, out: &str) -> ceremony_tests::cmd::Ran {
        self.sign_with(keys, out, &[])
    }

    fn sign_with(&self, keys: &str, out: &str, extra: &[&str]) -> ceremony_tests::cmd::Ran {
        let mut args = vec![
            "sign-wave",
            "wave.json",
            "--keys",
            keys,
            "-o",
            out,
            "--passphrase-file",
            self.pass.to_str().unwrap(),
            "--yes",
        ];
        args.extend_from_slice(extra);
        run("signer", &self.dir, args, &[])
    }

    fn publish(&self, bundle: &str) -> ceremony_tests::cmd::Ran {
        run(
            "submitter",
            &self.dir,
            [
                "wave-publish",
                bundle,
                "--api",
                &self.sim.url,
                "--token-file",
                self.tok.to_str().unwrap(),
            ],
            &[],
        )
    }

    fn json(&self, path: &Path) -> Value {
        serde_json::from_slice(
            &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        )
        .unwrap()
    }

    /// The newest production root, as the server keeps it.
    fn prod_root(&self) -> Value {
        let n = (1..)
            .take_while(|n| self.state.join(format!("prod/{n}.root.json")).exists())
            .last()
            .unwrap();
        self.json(&self.state.join(format!("prod/{n}.root.json")))
    }
}

/// A production device's view, with this test's own code: the distinct
/// targets keys of `prod_root` whose signatures verify over fioctl's form
/// of `targets` (Ed25519 keys only: the Factory here has no other).
fn valid_signers(prod_root: &Value, targets: &Value) -> Vec<String> {
    let role = &prod_root["signed"]["roles"]["targets"];
    let bytes = ceremony_tests::fioctl::targets_signed_bytes(&targets["signed"]).unwrap();
    let mut ok = Vec::new();
    for s in targets["signatures"].as_array().unwrap() {
        let id = s["keyid"].as_str().unwrap();
        let listed = role["keyids"].as_array().unwrap().iter().any(|k| k == id);
        if !listed || ok.iter().any(|o| o == id) {
            continue;
        }
        let key = &prod_root["signed"]["keys"][id];
        assert_eq!(key["keytype"], "ED25519");
        let public: [u8; 32] = hex::decode(key["keyval"]["public"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let raw: [u8; 64] = base64::engine::general_purpose::STANDARD
            .decode(s["sig"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        if ed25519_dalek::VerifyingKey::from_bytes(&public)
            .unwrap()
            .verify_strict(&bytes, &ed25519_dalek::Signature::from_bytes(&raw))
            .is_ok()
        {
            ok.push(id.to_string());
        }
    }
    ok
}

#[test]
fn a_wave_signed_offline_is_published_and_meets_the_production_threshold() {
    let r = Release::new();
    let prod = r.prod_root();
    let threshold = prod["signed"]["roles"]["targets"]["threshold"]
        .as_u64()
        .unwrap();
    assert_eq!(
        threshold, 2,
        "online + offline, as fioctl leaves production"
    );

    r.propose("w2", 2, &[]).expect(0, "submitter wave-propose");
    let signed = r.sign("targets.tgz.age", "wave-bundle.json");
    signed.expect(0, "signer sign-wave");
    // The screen shows every target signed: the one kept from production
    // and the two CI targets of version 2, with hash, length and custom.
    let ci = r.json(&r.state.join("ci-targets/2.json"));
    let current = r.json(&r.state.join("prod-targets/main.json"));
    for (name, t) in ci
        .as_object()
        .unwrap()
        .iter()
        .chain(current["signed"]["targets"].as_object().unwrap())
    {
        assert!(
            signed.stdout.contains(name.as_str()),
            "{name} not shown:\n{}",
            signed.stdout
        );
        let sha = t["hashes"]["sha256"].as_str().unwrap();
        assert!(signed.stdout.contains(sha), "{sha} not shown");
        assert!(
            signed.stdout.contains(&format!("length: {}", t["length"])),
            "length of {name} not shown"
        );
    }
    assert!(
        signed.stdout.contains("2 added, 1 kept, 0 pruned"),
        "{}",
        signed.stdout
    );
    assert!(
        signed.stdout.contains("version: 1 -> 2"),
        "{}",
        signed.stdout
    );
    assert!(signed.stdout.contains(&r.offline_id), "{}", signed.stdout);
    let bundle = r.json(&r.dir.join("wave-bundle.json"));
    assert_eq!(bundle["signatures"].as_array().unwrap().len(), 1);
    assert_eq!(bundle["signatures"][0]["keyid"], r.offline_id.as_str());
    // The transcript records what was shown, asked and signed, and ends
    // with the head signed by the targets key, which the bundle carries.
    let lines: Vec<Value> = std::fs::read_to_string(r.dir.join("wave-bundle.transcript.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines
        .iter()
        .map(|l| {
            l["event"]["kind"]
                .as_str()
                .or(l["kind"].as_str())
                .unwrap_or("?")
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "start",
            "input",
            "input",
            "trust",
            "diff",
            "confirmation",
            "signature",
            "signed-head"
        ],
        "{lines:?}"
    );
    let shown = lines[4]["data"]["text"].as_str().unwrap();
    for name in ci.as_object().unwrap().keys() {
        assert!(shown.contains(name.as_str()), "{shown}");
    }
    assert_eq!(lines[7], bundle["transcript_head"]);
    assert_eq!(lines[7]["signatures"][0]["keyid"], r.offline_id.as_str());

    let published = r.publish("wave-bundle.json");
    published.expect(0, "submitter wave-publish");
    // Again (as after an answer lost on the way back): read back, not sent.
    let again = r.publish("wave-bundle.json");
    again.expect(0, "submitter wave-publish again");
    assert!(again.stdout.contains("exists already"), "{}", again.all());
    let log = std::fs::read_to_string(r.state.join("requests.log")).unwrap();
    assert_eq!(
        log.matches("POST /ota/factories/acme/waves/ ").count(),
        1,
        "{log}"
    );

    // The device's view: the wave's targets as the server serves them,
    // under the production root, with this test's own verification.
    let wave = Api::new(&r.sim.url, TOKEN)
        .get(&format!(
            "{}/ota/factories/acme/waves/w2/?show-targets=1",
            r.sim.url
        ))
        .unwrap_or_else(|e| panic!("{}", e.text()));
    let wave: Value = serde_json::from_slice(&wave).unwrap();
    let targets = &wave["targets"];
    assert_eq!(targets["signed"]["version"], 2);
    let signers = valid_signers(&prod, targets);
    assert!(signers.contains(&r.offline_id), "{signers:?}");
    assert_eq!(
        signers.len() as u64,
        threshold,
        "online + offline: {signers:?}"
    );
    // Every CI target is in, tagged for production; the old one kept.
    for name in ci.as_object().unwrap().keys() {
        assert_eq!(
            targets["signed"]["targets"][name]["custom"]["tags"],
            json!(["main"])
        );
    }
    assert!(targets["signed"]["targets"]["main-lmp-1"].is_object());
    // The offline signature alone does not meet the threshold.
    let alone = json!({"signed": targets["signed"], "signatures": bundle["signatures"]});
    assert_eq!(valid_signers(&prod, &alone).len(), 1);

    // Completing the wave makes those the production targets.
    Api::new(&r.sim.url, TOKEN)
        .post(
            &format!("{}/ota/factories/acme/waves/w2/complete/", r.sim.url),
            None,
        )
        .unwrap_or_else(|e| panic!("{}", e.text()));
    let now_prod = r.json(&r.state.join("prod-targets/main.json"));
    assert_eq!(now_prod["signed"]["version"], 2);
    assert_eq!(valid_signers(&prod, &now_prod).len() as u64, threshold);

    // A second release prunes version 1, from the production targets the
    // first one left.
    r.add_ci_targets(3);
    r.propose("w3", 3, &["--prune", "1"])
        .expect(0, "wave-propose w3");
    let s3 = r.sign("targets.tgz.age", "w3-bundle.json");
    s3.expect(0, "sign-wave w3");
    assert!(
        s3.stdout.contains("2 added, 2 kept, 1 pruned"),
        "{}",
        s3.stdout
    );
    assert!(s3.stdout.contains("- pruned main-lmp-1"), "{}", s3.stdout);
    r.publish("w3-bundle.json").expect(0, "wave-publish w3");
}

#[test]
fn hostile_target_names_and_custom_fields_are_refused_or_shown_in_full() {
    let r = Release::new();
    // CI targets as a hostile server answers them: a name that clears the
    // screen, a custom field with a bidi override. ota-tuf metadata cannot
    // carry either (the server, fioctl and aktualizr canonicalise them
    // differently), so nothing is signed; the refusal itself is escaped.
    let hostile = json!({
        "evil\u{1b}[2J-lmp-4": {
            "length": 7,
            "hashes": {"sha256": "aa".repeat(32)},
            "custom": {"version": "4", "tags": ["ci"], "hardwareIds": ["sim-machine"]},
        },
        "sim-machine-lmp-4": {
            "length": 7,
            "hashes": {"sha256": "bb".repeat(32)},
            "custom": {"version": "4", "tags": ["ci"], "hardwareIds": ["sim-machine"],
                       "uri": "https://x.invalid/\u{202e}gpj.exe"},
        },
    });
    std::fs::write(
        r.state.join("ci-targets/4.json"),
        serde_json::to_vec(&hostile).unwrap(),
    )
    .unwrap();
    let p = r.propose("w4", 4, &[]);
    p.expect(3, "wave-propose of hostile CI targets");
    assert!(!p.all().contains('\u{1b}'), "a raw ESC reached the screen");
    assert!(p.all().contains(r"\u{1b}"), "{}", p.all());
    // The same targets put into a good proposal by hand: the signer
    // refuses them too, escaped, and writes nothing.
    r.propose("w2", 2, &[]).expect(0, "wave-propose");
    let path = r.dir.join("wave.json");
    let mut w = r.json(&path);
    for (n, t) in hostile.as_object().unwrap() {
        w["ci_targets"][n] = t.clone();
    }
    std::fs::write(&path, serde_json::to_vec(&w).unwrap()).unwrap();
    let s = r.sign("targets.tgz.age", "b.json");
    s.expect(3, "sign-wave of hostile targets");
    assert!(!s.all().contains('\u{1b}'), "a raw ESC reached the screen");
    assert!(
        !s.all().contains('\u{202e}'),
        "a raw bidi override reached the screen"
    );
    assert!(!r.dir.join("b.json").exists());

    // ASCII that is hostile in meaning: a custom field the usual summary
    // does not name (an app pulled from elsewhere) is shown in full; a
    // field outside length/hashes/custom is dropped (fioctl's struct drops
    // it too), so it is neither shown nor signed.
    let sneaky = json!({
        "sim-machine-lmp-5": {
            "length": 9,
            "hashes": {"sha256": "cc".repeat(32)},
            "custom": {"version": "5", "tags": ["ci"], "hardwareIds": ["sim-machine"],
                       "docker_compose_apps": {"x": {"uri": "hub.attacker.invalid/x@sha256:00"}}},
            "x-extra": "not-signed-marker",
        },
    });
    std::fs::write(
        r.state.join("ci-targets/5.json"),
        serde_json::to_vec(&sneaky).unwrap(),
    )
    .unwrap();
    r.propose("w5", 5, &[]).expect(0, "wave-propose w5");
    let s = r.sign("targets.tgz.age", "b5.json");
    s.expect(0, "sign-wave w5");
    assert!(
        s.stdout.contains("hub.attacker.invalid/x@sha256:00"),
        "{}",
        s.stdout
    );
    assert!(!s.stdout.contains("not-signed-marker"), "{}", s.stdout);
    r.publish("b5.json").expect(0, "wave-publish w5");
    let served = r.json(&r.state.join("wave-targets/w5.json"));
    assert!(!served.to_string().contains("not-signed-marker"));
    assert_eq!(valid_signers(&r.prod_root(), &served).len(), 2);
}

#[test]
fn a_version_not_above_production_is_refused_by_every_side() {
    let r = Release::new();
    // The submitter refuses before a trip offline.
    r.add_ci_targets(1);
    let p = r.propose("w1", 1, &[]);
    p.expect(3, "wave-propose of version 1");
    assert!(p.all().contains("not above"), "{}", p.all());
    // A proposal edited to that version is refused by the signer, and
    // nothing is written.
    r.propose("w2", 2, &[]).expect(0, "wave-propose");
    let path = r.dir.join("wave.json");
    let mut w = r.json(&path);
    w["version"] = json!(1);
    std::fs::write(&path, serde_json::to_vec(&w).unwrap()).unwrap();
    let s = r.sign("targets.tgz.age", "b.json");
    s.expect(3, "sign-wave of version 1");
    assert!(s.all().contains("not above"), "{}", s.all());
    assert!(!r.dir.join("b.json").exists());
    assert!(!r.dir.join("b.transcript.jsonl").exists());
    // And the server refuses such a wave from anyone.
    let current = r.json(&r.state.join("prod-targets/main.json"));
    let body = json!({"name": "w1", "version": "1", "tag": "main", "targets": current});
    let e = Api::new(&r.sim.url, TOKEN)
        .post(
            &format!("{}/ota/factories/acme/waves/", r.sim.url),
            Some(serde_json::to_vec(&body).unwrap()),
        )
        .unwrap_err();
    assert_eq!(e.status(), Some(422), "{}", e.text());
    assert!(e.text().contains("is not above"), "{}", e.text());
}

#[test]
fn keys_the_production_root_does_not_list_for_targets_are_refused() {
    let r = Release::new();
    r.propose("w2", 2, &[]).expect(0, "wave-propose");
    // The root-key tarball holds no targets key of the production root.
    run(
        "signer",
        &r.dir,
        [
            "import",
            "root.tgz",
            "-o",
            "root.tgz.age",
            "--passphrase-file",
            r.pass.to_str().unwrap(),
        ],
        &[],
    )
    .expect(0, "import");
    let s = r.sign("root.tgz.age", "b.json");
    s.expect(3, "sign-wave with the root keys");
    assert!(s.all().contains("holds no targets key"), "{}", s.all());
    assert!(!r.dir.join("b.json").exists());

    // The server refuses a wave whose signature is by a key the production
    // root does not list for targets (the targets built here as fioctl
    // builds them, so that nothing else is wrong with the wave).
    let w = r.json(&r.dir.join("wave.json"));
    let mut targets = r.json(&r.state.join("prod-targets/main.json"))["signed"]["targets"].clone();
    for (n, t) in r
        .json(&r.state.join("ci-targets/2.json"))
        .as_object()
        .unwrap()
    {
        let mut t = t.clone();
        t["custom"]["tags"] = json!(["main"]);
        targets[n] = t;
    }
    let signed =
        json!({"_type": "Targets", "expires": w["expires"], "version": 2, "targets": targets});
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let bytes = ceremony_tests::fioctl::targets_signed_bytes(&signed).unwrap();
    let sig = ed25519_dalek::Signer::sign(&key, &bytes);
    let body = json!({"name": "w2", "version": "2", "tag": "main", "targets": {"signed": signed,
        "signatures": [{"keyid": "00".repeat(32), "method": "ed25519",
                        "sig": base64::engine::general_purpose::STANDARD.encode(sig.to_bytes())}]}});
    let e = Api::new(&r.sim.url, TOKEN)
        .post(
            &format!("{}/ota/factories/acme/waves/", r.sim.url),
            Some(serde_json::to_vec(&body).unwrap()),
        )
        .unwrap_err();
    assert_eq!(e.status(), Some(422), "{}", e.text());
    assert!(
        e.text()
            .contains("not a targets key of the production root"),
        "{}",
        e.text()
    );
    // With no offline signature, the server's online one alone does not
    // meet the production targets threshold.
    let mut unsigned = body.clone();
    unsigned["targets"]["signatures"] = json!([]);
    let e = Api::new(&r.sim.url, TOKEN)
        .post(
            &format!("{}/ota/factories/acme/waves/", r.sim.url),
            Some(serde_json::to_vec(&unsigned).unwrap()),
        )
        .unwrap_err();
    assert_eq!(e.status(), Some(422), "{}", e.text());
    assert!(
        e.text()
            .contains("1 valid signature(s) with the online one"),
        "{}",
        e.text()
    );
    // The same targets signed offline by our signer are taken.
    r.sign("targets.tgz.age", "good.json")
        .expect(0, "sign-wave");
    r.publish("good.json").expect(0, "wave-publish");
    let served = r.json(&r.state.join("wave-targets/w2.json"));
    assert_eq!(
        served["signed"], signed,
        "the targets built here are the ones signed"
    );
}

/// One way to change a bundle after signing.
type Tamper = fn(&mut Value);

#[test]
fn a_tampered_wave_bundle_is_refused_before_anything_is_sent() {
    let r = Release::new();
    r.propose("w2", 2, &[]).expect(0, "wave-propose");
    r.sign("targets.tgz.age", "wave-bundle.json")
        .expect(0, "sign-wave");
    let good = r.json(&r.dir.join("wave-bundle.json"));
    let tampers: [(&str, Tamper); 3] = [
        ("a signature byte", |b| {
            let s = b["signatures"][0]["sig"].as_str().unwrap().to_string();
            let mut raw = base64::engine::general_purpose::STANDARD.decode(s).unwrap();
            raw[0] ^= 1;
            b["signatures"][0]["sig"] =
                json!(base64::engine::general_purpose::STANDARD.encode(raw));
        }),
        ("the signed hash", |b| {
            b["signed_sha256"] = json!("00".repeat(32));
        }),
        ("a key id", |b| {
            b["signatures"][0]["keyid"] = json!("11".repeat(32));
        }),
    ];
    for (what, tamper) in tampers {
        let mut b = good.clone();
        tamper(&mut b);
        std::fs::write(r.dir.join("t.json"), serde_json::to_vec(&b).unwrap()).unwrap();
        let p = run(
            "submitter",
            &r.dir,
            [
                "wave-publish",
                "t.json",
                "--proposal",
                "wave.json",
                "--api",
                &r.sim.url,
                "--token-file",
                r.tok.to_str().unwrap(),
            ],
            &[],
        );
        p.expect(3, what);
        assert!(
            !r.state.join("waves/w2.json").exists(),
            "{what}: a wave was created"
        );
    }
    let log = std::fs::read_to_string(r.state.join("requests.log")).unwrap();
    assert!(!log.contains("POST /ota/factories/acme/waves/"), "{log}");
    // A proposal edited after signing: the bundle no longer answers it.
    let path = r.dir.join("wave.json");
    let mut w = r.json(&path);
    w["expires"] = json!("2099-01-01T00:00:00Z");
    std::fs::write(&path, serde_json::to_vec_pretty(&w).unwrap()).unwrap();
    // Named with --proposal: without it, wave-publish would find the
    // proposal the bundle answers (the copy wave-propose kept, by hash).
    run(
        "submitter",
        &r.dir,
        [
            "wave-publish",
            "wave-bundle.json",
            "--proposal",
            "wave.json",
            "--api",
            &r.sim.url,
            "--token-file",
            r.tok.to_str().unwrap(),
        ],
        &[],
    )
    .expect(3, "edited proposal");
    assert!(
        !log_has_wave_post(&r.state),
        "a wave was created from an edited proposal"
    );
}

fn log_has_wave_post(state: &Path) -> bool {
    std::fs::read_to_string(state.join("requests.log"))
        .unwrap_or_default()
        .contains("POST /ota/factories/acme/waves/")
}

#[test]
fn fioctls_waves_sign_on_our_wave_makes_the_very_signature_we_made() {
    let r = Release::new();
    r.propose("w2", 2, &[]).expect(0, "wave-propose");
    r.sign("targets.tgz.age", "wave-bundle.json")
        .expect(0, "sign-wave");
    r.publish("wave-bundle.json").expect(0, "wave-publish");
    let ours = r.json(&r.dir.join("wave-bundle.json"))["signatures"][0].clone();
    // fioctl signs the wave's targets as the server serves them, in its Go
    // canonical form, with the same offline key from its own tarball:
    // Ed25519 is deterministic, so equal bytes give an equal signature.
    let mut f = Fioctl::new(&r.sim.url, "acme", TOKEN);
    let id = f
        .waves_sign("w2", &r.dir.join("targets.tgz"))
        .unwrap_or_else(|d| panic!("fioctl waves sign: {d}\n{}", f.out));
    assert_eq!(id, r.offline_id);
    let served = r.json(&r.state.join("wave-targets/w2.json"));
    let theirs = served["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["keyid"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        theirs["sig"], ours["sig"],
        "fioctl and we signed other bytes"
    );
    assert_eq!(valid_signers(&r.prod_root(), &served).len(), 2);
}

#[test]
fn a_trusted_production_root_anchors_the_chain() {
    let r = Release::new();
    r.propose("w2", 2, &[]).expect(0, "wave-propose");
    // Without one: first use, said on the screen.
    let s = r.sign("targets.tgz.age", "first-use.json");
    s.expect(0, "sign-wave");
    assert!(s.stdout.contains("FIRST USE"), "{}", s.stdout);
    // The Factory's own production root v2 (from the last root ceremony).
    std::fs::copy(r.state.join("prod/2.root.json"), r.dir.join("trusted.json")).unwrap();
    let s = r.sign_with(
        "targets.tgz.age",
        "anchored.json",
        &["--trusted-root", "trusted.json"],
    );
    s.expect(0, "sign-wave --trusted-root");
    assert!(
        s.stdout.contains("holds your trusted root v2"),
        "{}",
        s.stdout
    );
    assert!(!s.stdout.contains("FIRST USE"), "{}", s.stdout);
    // Another Factory's root: the chain is not the history trusted.
    let other = r.dir.join("other");
    run(
        "factory-sim",
        &r.dir,
        ["init", other.to_str().unwrap()],
        &[],
    )
    .expect(0, "init");
    std::fs::copy(other.join("prod/1.root.json"), r.dir.join("foreign.json")).unwrap();
    let s = r.sign_with(
        "targets.tgz.age",
        "foreign-bundle.json",
        &["--trusted-root", "foreign.json"],
    );
    s.expect(3, "sign-wave with a foreign trusted root");
    assert!(
        s.all().contains("does not hold the trusted root"),
        "{}",
        s.all()
    );
    assert!(!r.dir.join("foreign-bundle.json").exists());
}

#[test]
fn a_wave_declined_at_the_confirmation_is_recorded_as_aborted() {
    let r = Release::new();
    r.propose("w2", 2, &[]).expect(0, "submitter wave-propose");
    let args: Vec<String> = [
        "sign-wave",
        "wave.json",
        "--keys",
        "targets.tgz.age",
        "-o",
        "wave-bundle.json",
        "--passphrase-file",
        r.pass.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    // Answered "no" on a terminal: nothing signed, the abort recorded.
    let out = ceremony_tests::cmd::signer_on_a_terminal(&r.dir, &args, "no\n");
    let said = ceremony_tests::cmd::text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("aborted by the operator (answered no)"),
        "{said}"
    );
    assert!(!r.dir.join("wave-bundle.json").exists(), "{said}");
    let verified = run(
        "signer",
        &r.dir,
        ["verify-transcript", "wave-bundle.transcript.jsonl"],
        &[],
    );
    verified.expect(3, "verify-transcript of an aborted wave");
    let text = verified.all();
    assert!(
        text.contains("aborted at confirmation: aborted by the operator (answered no)"),
        "{text}"
    );
}

/// The commands wave-propose and sign-wave print, run as printed (the
/// archive, the passphrase and the Factory's API and token are the
/// operator's to add), twice in one folder, after an aborted sign-wave left
/// a transcript of the default name: default names carry the version, give
/// way to the next free one, and wave-publish finds the proposal its bundle
/// answers by hash.
#[test]
fn waves_by_the_printed_commands_in_one_folder_never_collide() {
    let r = Release::new();
    let net = [
        "--api",
        r.sim.url.as_str(),
        "--token-file",
        r.tok.to_str().unwrap(),
    ];
    let printed = |text: &str, prefix: &str| -> Vec<String> {
        let line = text
            .lines()
            .map(str::trim)
            .find_map(|l| l.find(prefix).map(|i| &l[i..]))
            .unwrap_or_else(|| panic!("no {prefix:?} printed:\n{text}"));
        line.split_whitespace().map(str::to_owned).collect()
    };
    let run_words = |words: &[String], extra: &[&str]| {
        let mut args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        args.extend_from_slice(extra);
        run(&words[0], &r.dir, args, &[])
    };
    // Two tags: a tag's wave stays active until it is completed.
    for (name, version, tag) in [("w2", 2u64, "main"), ("w3", 3, "beta")] {
        if version == 3 {
            r.add_ci_targets(3);
            std::fs::write(r.dir.join("wave-bundle-v3.transcript.jsonl"), b"aborted\n").unwrap();
        }
        let v = version.to_string();
        let mut args = vec!["wave-propose", "--factory", "acme", name, &v, tag];
        args.extend_from_slice(&net);
        let p = run("submitter", &r.dir, args, &[]);
        p.expect(0, "wave-propose without -o");
        assert!(
            p.stdout.contains(&format!("wrote wave-v{version}.json")),
            "{}",
            p.all()
        );
        let mut sign = printed(&p.stdout, "signer sign-wave ");
        for w in &mut sign {
            if w == "TARGETS.tgz.age" {
                *w = "targets.tgz.age".into();
            }
        }
        let s = run_words(
            &sign,
            &["--passphrase-file", r.pass.to_str().unwrap(), "--yes"],
        );
        s.expect(0, "sign-wave as printed");
        let bundle = if version == 3 {
            "wave-bundle-v3-2.json"
        } else {
            "wave-bundle-v2.json"
        };
        assert!(s.stdout.contains(&format!("wrote {bundle}")), "{}", s.all());
        let publish = printed(&s.stdout, "submitter wave-publish ");
        assert_eq!(publish[2], bundle);
        run_words(&publish, &net).expect(0, "wave-publish as printed");
        assert!(r.state.join(format!("waves/{name}.json")).exists());
    }
    assert_eq!(
        std::fs::read(r.dir.join("wave-bundle-v3.transcript.jsonl")).unwrap(),
        b"aborted\n"
    );
}
