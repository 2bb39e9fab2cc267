//! The whole ceremony through both binaries against `factory-sim`: a Factory
//! whose first root key is Ed25519, and one whose first root key is
//! RSA-2048; each rotated twice in a row (v1 → v2 → v3), the second time
//! with the archive the first ceremony wrote.

use std::path::Path;

use ceremony::rules::check_history;
use ceremony::{Dialect, RootMetadata};
use ceremony_tests::fixture::SignArgs;
use ceremony_tests::harness::{factory_init, factory_sim, passphrase_file, run, token_file};
use serde_json::Value;
use time::OffsetDateTime;

fn chain(dir: &Path) -> Vec<RootMetadata> {
    (1..)
        .map(|n| dir.join(format!("{n}.root.json")))
        .take_while(|p| p.exists())
        .map(|p| {
            RootMetadata::from_slice(&std::fs::read(p).unwrap(), Some(Dialect::OtaTuf)).unwrap()
        })
        .collect()
}

fn ceremony_twice(key_type: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let state = dir.join("factory");
    factory_init(&state, key_type);
    let online = dir.join("online");
    let offline = dir.join("offline");
    std::fs::create_dir_all(&online).unwrap();
    std::fs::create_dir_all(&offline).unwrap();
    let tok = token_file(&online);
    let tok = tok.to_str().unwrap();
    let pass = passphrase_file(&offline);
    let pass = pass.to_str().unwrap();
    let sim = factory_sim(&state, &[]);

    run(
        "signer",
        &offline,
        [
            "import",
            state.join("factory-keys.tgz").to_str().unwrap(),
            "-o",
            "keys-1.tgz.age",
            "--passphrase-file",
            pass,
        ],
        &[],
    )
    .expect(0, "signer import");

    for round in 1..=2u64 {
        let r = dir.join(format!("round{round}"));
        std::fs::create_dir_all(&r).unwrap();
        let message = format!("rotation {round} by the e2e test");
        run(
            "submitter",
            &r,
            [
                "propose",
                "--factory",
                "acme",
                "--api",
                &sim.url,
                "--token-file",
                tok,
                "--rotate-all",
                "--message",
                &message,
                "-o",
                "proposal.json",
            ],
            &[],
        )
        .expect(0, "propose");
        // Across the gap.
        let off = offline.join(format!("round{round}"));
        std::fs::create_dir_all(&off).unwrap();
        std::fs::copy(r.join("proposal.json"), off.join("proposal.json")).unwrap();
        run("signer", &off, ["review", "proposal.json"], &[]).expect(0, "review");
        let keys = format!("../keys-{round}.tgz.age");
        let next = format!("../keys-{}.tgz.age", round + 1);
        run(
            "signer",
            &off,
            SignArgs::new()
                .keys(&keys)
                .new_archive(Some(&next))
                .passphrase_file(Some(pass)),
            &[],
        )
        .expect(0, "sign");
        std::fs::copy(off.join("bundle.json"), r.join("bundle.json")).unwrap();
        // Back online.
        let show = run("submitter", &r, ["show", "bundle.json"], &[]);
        show.expect(0, "show");
        assert!(
            show.stdout.contains("complete, every rule holds"),
            "{}",
            show.all()
        );
        let up = run(
            "submitter",
            &r,
            ["upload", "bundle.json", "--token-file", tok],
            &[],
        );
        up.expect(0, "upload");
        assert!(up.stdout.contains("uploaded and applied"), "{}", up.all());
        // The closing summary: what the Factory serves, read back.
        let v = round + 1;
        assert!(
            up.stdout.contains(&format!(
                "Live now: Factory acme serves CI root v{v} and prod root v{v}"
            )),
            "{}",
            up.all()
        );
        for c in ["ci", "prod"] {
            assert!(
                state.join(format!("{c}/{}.root.json", round + 1)).exists(),
                "{c} v{}",
                round + 1
            );
        }
        let audit = run(
            "submitter",
            &r,
            [
                "audit",
                "--factory",
                "acme",
                "--api",
                &sim.url,
                "--token-file",
                tok,
            ],
            &[],
        );
        audit.expect(0, "audit");
        assert!(
            audit
                .stdout
                .contains(&format!("final version {}", round + 1)),
            "{}",
            audit.all()
        );
        // The new root records why and who.
        let v: Value = serde_json::from_slice(
            &std::fs::read(state.join(format!("ci/{}.root.json", round + 1))).unwrap(),
        )
        .unwrap();
        // The message leads; the signer may append its transcript head.
        assert!(
            v["signed"]["x-changelog"]["message"]
                .as_str()
                .unwrap()
                .starts_with(&message),
            "{}",
            v["signed"]["x-changelog"]
        );
        let owners = v["signed"]["x-key-owners"]
            .as_object()
            .expect("x-key-owners");
        let new_root_key = v["signed"]["roles"]["root"]["keyids"][0].as_str().unwrap();
        assert_eq!(owners[new_root_key]["polis-id"], "sim-user-0001");
    }

    // Independently of the binaries: both chains hold under the library's rules,
    // every root key was replaced each time, prod kept the server's targets threshold.
    let now = OffsetDateTime::now_utc();
    for c in ["ci", "prod"] {
        let roots = chain(&state.join(c));
        assert_eq!(roots.len(), 3, "{c}");
        assert!(check_history(None, &roots, now).ok(), "{c}");
        let ids: Vec<Vec<String>> = roots
            .iter()
            .map(|r| r.role("root").unwrap().keyids)
            .collect();
        assert!(
            ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
            "{c}: {ids:?}"
        );
    }
    // The first rotation takes the root offline, so the server stages the
    // production root with targets threshold 2 (as fioctl makes it since
    // its commit 5e30fc6); the second keeps it.
    let prod = chain(&state.join("prod"));
    let thresholds: Vec<u64> = prod
        .iter()
        .map(|r| r.role("targets").unwrap().threshold)
        .collect();
    assert_eq!(thresholds, vec![1, 2, 2]);
    // The key of v3 is a new key made by the signer, kept in the newest archive only.
    let list = run(
        "signer",
        &offline,
        ["list", "keys-3.tgz.age", "--passphrase-file", pass],
        &[],
    );
    list.expect(0, "list");
    let v3: Value =
        serde_json::from_slice(&std::fs::read(state.join("ci/3.root.json")).unwrap()).unwrap();
    let v3_key = v3["signed"]["roles"]["root"]["keyids"][0].as_str().unwrap();
    assert!(list.stdout.contains(v3_key), "{}", list.all());
    drop(sim);
}

#[test]
fn factory_with_ed25519_first_root_key_rotates_twice() {
    ceremony_twice("ed25519");
}

#[test]
fn factory_with_rsa_2048_first_root_key_rotates_twice() {
    ceremony_twice("rsa-2048");
}

/// A Factory with no production root yet (issue 13 item 2; `factory-sim
/// init --no-prod`): audit says so and holds, propose goes on with the CI
/// chain alone, the signer derives the first production root (the CI root's
/// copy, version included, targets threshold 2), upload applies both, and
/// the next rotation has a production chain like any Factory.
#[test]
fn a_factory_with_no_production_root_gets_its_first_one() {
    use ceremony_tests::cmd::TestCommand;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let state = dir.join("factory");
    TestCommand::new("factory-sim", dir)
        .arg("init")
        .arg(&state)
        .arg("--no-prod")
        .expect(0, "factory-sim init --no-prod");
    assert!(!state.join("prod/1.root.json").exists());
    let tok = token_file(dir);
    let tok = tok.to_str().unwrap();
    let pass = passphrase_file(dir);
    let pass = pass.to_str().unwrap();
    let sim = factory_sim(&state, &[]);
    let net = ["--api", sim.url.as_str(), "--token-file", tok];
    let audit = |what: &str| {
        let a = run(
            "submitter",
            dir,
            ["audit", "--factory", "acme"].iter().chain(&net),
            &[],
        );
        a.expect(0, what);
        a.stdout
    };
    let out = audit("audit without prod");
    assert!(out.contains("no production history yet"), "{out}");

    run(
        "signer",
        dir,
        [
            "import",
            state.join("factory-keys.tgz").to_str().unwrap(),
            "-o",
            "keys-1.tgz.age",
            "--passphrase-file",
            pass,
        ],
        &[],
    )
    .expect(0, "signer import");
    for round in 1..=2u64 {
        let proposal = format!("proposal-{round}.json");
        let bundle = format!("bundle-{round}.json");
        let p = run(
            "submitter",
            dir,
            [
                "propose",
                "--factory",
                "acme",
                "--rotate-all",
                "-o",
                &proposal,
            ]
            .iter()
            .chain(&net),
            &[],
        );
        p.expect(0, "propose");
        if round == 1 {
            assert!(p.stderr.contains("no production root yet"), "{}", p.all());
            assert!(p.stdout.contains("prod  none yet"), "{}", p.all());
        }
        let keys = format!("keys-{round}.tgz.age");
        let next = format!("keys-{}.tgz.age", round + 1);
        let s = run(
            "signer",
            dir,
            SignArgs::new()
                .proposal(&proposal)
                .out(&bundle)
                .keys(&keys)
                .new_archive(Some(&next))
                .passphrase_file(Some(pass)),
            &[],
        );
        s.expect(0, "sign");
        if round == 1 {
            assert!(s.stdout.contains("no production root yet"), "{}", s.all());
        }
        let up = run(
            "submitter",
            dir,
            [
                "upload",
                &bundle,
                "--proposal",
                &proposal,
                "--token-file",
                tok,
            ],
            &[],
        );
        up.expect(0, "upload");
        assert!(up.stdout.contains("uploaded and applied"), "{}", up.all());
    }
    let root = |p: &str| -> Value {
        serde_json::from_slice(&std::fs::read(state.join(p)).unwrap()).unwrap()
    };
    let (ci2, prod2) = (root("ci/2.root.json"), root("prod/2.root.json"));
    assert_eq!(prod2["signed"]["version"], 2);
    assert_eq!(prod2["signed"]["roles"]["targets"]["threshold"], 2);
    assert_eq!(ci2["signed"]["roles"]["targets"]["threshold"], 1);
    let mut same = prod2["signed"].clone();
    same["roles"]["targets"]["threshold"] = 1.into();
    assert_eq!(same, ci2["signed"]);
    // The second rotation kept production's threshold.
    assert_eq!(
        root("prod/3.root.json")["signed"]["roles"]["targets"]["threshold"],
        2
    );
    let out = audit("audit after");
    assert!(out.contains("both histories hold"), "{out}");
    drop(sim);
}
