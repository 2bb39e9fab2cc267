//! The submitter against `factory-sim`: refusals before any request, every
//! injected fault on every request of an upload, transactions, tokens.
//!
//! Bundles are made in-process (`ceremony_tests::minisign`), so these tests
//! are about the submitter alone; the end-to-end tests with the real signer
//! are in `e2e_factory.rs`.

use std::path::{Path, PathBuf};

use ceremony::bundle::Bundle;
use ceremony::keys::{NewKeyType, PrivateKey};
use ceremony::RootMetadata;
use ceremony_tests::harness::{
    copy_dir, factory_init, factory_sim, factory_sim_on, request_log, run, token_file, Ran, TOKEN,
};
use ceremony_tests::minisign::{factory_first_root, make_bundle};
use serde_json::Value;

struct Prepared {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    /// The Factory state with the transaction open (proposal made).
    state: PathBuf,
    proposal: PathBuf,
    bundle: PathBuf,
    token: PathBuf,
    /// The simulator's address the proposal names.
    addr: String,
}

fn submitter(cwd: &Path, args: &[&str]) -> Ran {
    run("submitter", cwd, args, &[])
}

/// A Factory with a transaction open, a proposal to rotate its root key,
/// and a complete bundle for it; the simulator is stopped.
fn prepared(key_type: &str) -> Prepared {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let state = dir.join("factory");
    factory_init(&state, key_type);
    let token = token_file(&dir);
    let sim = factory_sim(&state, &[]);
    submitter(
        &dir,
        &[
            "propose",
            "--factory",
            "acme",
            "--api",
            &sim.url,
            "--token-file",
            token.to_str().unwrap(),
            "--rotate-all",
            "--message",
            "rotate the first root key",
            "-o",
            "proposal.json",
        ],
    )
    .expect(0, "propose");
    let addr = sim.addr();
    drop(sim);
    let old = factory_first_root(&state);
    let new = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
    let bundle = make_bundle(&dir.join("proposal.json"), &[&old], &[&new], None);
    assert!(bundle.complete, "{:?}", bundle.missing);
    std::fs::write(dir.join("bundle.json"), bundle.to_bytes()).unwrap();
    Prepared {
        proposal: dir.join("proposal.json"),
        bundle: dir.join("bundle.json"),
        _tmp: tmp,
        dir,
        state,
        token,
        addr,
    }
}

fn latest(state: &Path, chain: &str) -> u64 {
    (1..100)
        .take_while(|n| state.join(format!("{chain}/{n}.root.json")).exists())
        .last()
        .unwrap_or(0)
}

/// The uploaded roots are served exactly once: v2 for CI and prod, equal to
/// the bundle's, and nothing beyond.
fn assert_applied_once(state: &Path, bundle: &Path) {
    assert_eq!(latest(state, "ci"), 2, "CI must be at v2");
    assert_eq!(latest(state, "prod"), 2, "prod must be at v2");
    let b = Bundle::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    for r in &b.roots {
        let served = RootMetadata::from_slice(
            &std::fs::read(state.join(format!("{}/2.root.json", r.name))).unwrap(),
            None,
        )
        .unwrap();
        let ours = b.root(r).unwrap();
        assert!(
            ceremony::bundle_check::same_root(&served, &ours),
            "{} v2 is not the uploaded root",
            r.name
        );
    }
    assert!(
        !state.join("transaction.json").exists(),
        "the transaction must be closed"
    );
}

#[test]
fn upload_applies_and_is_safe_to_repeat() {
    let p = prepared("ed25519");
    let sim = factory_sim_on(&p.state, &p.addr, &[]);
    let tok = p.token.to_str().unwrap();
    let r = submitter(&p.dir, &["upload", "bundle.json", "--token-file", tok]);
    r.expect(0, "upload");
    assert!(r.stdout.contains("uploaded and applied"), "{}", r.all());
    assert_applied_once(&p.state, &p.bundle);
    let again = submitter(&p.dir, &["upload", "bundle.json", "--token-file", tok]);
    again.expect(0, "upload again");
    assert!(again.stdout.contains("already uploaded"), "{}", again.all());
    assert_applied_once(&p.state, &p.bundle);
    // The audit over the network agrees.
    let a = submitter(
        &p.dir,
        &[
            "audit",
            "--factory",
            "acme",
            "--api",
            &sim.url,
            "--token-file",
            tok,
        ],
    );
    a.expect(0, "audit");
    assert!(a.stdout.contains("both histories hold"), "{}", a.all());
    let j = submitter(
        &p.dir,
        &[
            "audit",
            "--factory",
            "acme",
            "--api",
            &sim.url,
            "--token-file",
            tok,
            "--json",
        ],
    );
    let v: Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["ci"]["steps"].as_array().unwrap().len(), 2);
    // The same verdicts as the library's folder audit.
    let local = submitter(
        &p.dir,
        &[
            "audit",
            "--metadata-dir",
            p.state.join("prod").to_str().unwrap(),
            "--json",
        ],
    );
    let lv: Value = serde_json::from_str(&local.stdout).unwrap();
    assert_eq!(
        lv["steps"].as_array().unwrap().len(),
        v["prod"]["steps"].as_array().unwrap().len()
    );
    for (a, b) in lv["steps"]
        .as_array()
        .unwrap()
        .iter()
        .zip(v["prod"]["steps"].as_array().unwrap())
    {
        assert_eq!(a["ok"], b["ok"]);
        assert_eq!(a["failures"], b["failures"]);
        assert_eq!(a["thresholds"], b["thresholds"]);
    }
}

#[test]
fn refused_before_any_request_is_sent() {
    let p = prepared("ed25519");
    let sim = factory_sim_on(&p.state, &p.addr, &[]);
    let tok = p.token.to_str().unwrap();
    let before = request_log(&p.state).len();
    let bundle: Value = serde_json::from_slice(&std::fs::read(&p.bundle).unwrap()).unwrap();

    // 1. A bundle answering another proposal.
    let mut other: Value = serde_json::from_slice(&std::fs::read(&p.proposal).unwrap()).unwrap();
    other["created"] = Value::String("2001-01-01T00:00:00Z".into());
    std::fs::write(
        p.dir.join("other-proposal.json"),
        serde_json::to_vec_pretty(&other).unwrap(),
    )
    .unwrap();
    let r = submitter(
        &p.dir,
        &[
            "upload",
            "bundle.json",
            "--proposal",
            "other-proposal.json",
            "--token-file",
            tok,
        ],
    );
    r.expect(3, "bundle for another proposal");
    assert!(r.stderr.contains("answers another proposal"), "{}", r.all());

    // 2. Thresholds unmet and no key signed at all (every signature
    // removed). A partial bundle that some root key did sign is put into
    // the transaction instead (tests/tests/e2e_cosign.rs).
    let mut unmet = bundle.clone();
    for r in unmet["roots"].as_array_mut().unwrap() {
        r["root"]["signatures"] = serde_json::json!([]);
    }
    std::fs::write(
        p.dir.join("unmet.json"),
        serde_json::to_vec_pretty(&unmet).unwrap(),
    )
    .unwrap();
    let r = submitter(&p.dir, &["upload", "unmet.json", "--token-file", tok]);
    r.expect(3, "thresholds unmet");
    assert!(r.stderr.contains("old-threshold"), "{}", r.all());
    assert!(r.stderr.contains("nothing was sent"), "{}", r.all());

    // 3. A bundle for another Factory.
    let mut elsewhere = bundle.clone();
    elsewhere["target"]["factory"] = Value::String("someone-else".into());
    std::fs::write(
        p.dir.join("elsewhere.json"),
        serde_json::to_vec_pretty(&elsewhere).unwrap(),
    )
    .unwrap();
    let r = submitter(&p.dir, &["upload", "elsewhere.json", "--token-file", tok]);
    r.expect(3, "another Factory");
    assert!(r.stderr.contains("someone-else"), "{}", r.all());

    // 4. A signature over other bytes (the root edited after signing).
    let mut edited = bundle.clone();
    edited["roots"][0]["root"]["signed"]["expires"] = Value::String("2099-01-01T00:00:00Z".into());
    std::fs::write(
        p.dir.join("edited.json"),
        serde_json::to_vec_pretty(&edited).unwrap(),
    )
    .unwrap();
    submitter(&p.dir, &["upload", "edited.json", "--token-file", tok]).expect(3, "edited root");

    // 5. Not a bundle at all, and a missing proposal: errors, no panic.
    std::fs::write(p.dir.join("garbage.json"), b"{\"format\": 5").unwrap();
    submitter(&p.dir, &["upload", "garbage.json", "--token-file", tok]).expect(1, "garbage");
    submitter(
        &p.dir,
        &[
            "upload",
            "bundle.json",
            "--proposal",
            "missing.json",
            "--token-file",
            tok,
        ],
    )
    .expect(1, "missing proposal");

    assert_eq!(
        request_log(&p.state).len(),
        before,
        "no request may reach the server"
    );
    assert_eq!(latest(&p.state, "ci"), 1);
    drop(sim);
}

/// Upload sends, in order: GET ci root.json, GET prod root.json, GET the
/// transaction, PUT, POST apply, GET ci 2.root.json, GET prod 2.root.json.
const UPLOAD_REQUESTS: u64 = 7;

#[test]
fn every_fault_on_every_upload_request_is_safe() {
    let p = prepared("ed25519");
    let tok = p.token.to_str().unwrap();
    for kind in ["--fail-request", "--drop-request"] {
        for n in 1..=UPLOAD_REQUESTS {
            let case = format!("{kind} {n}");
            let state = p.dir.join(format!("state{kind}{n}"));
            copy_dir(&p.state, &state);
            let _ = std::fs::remove_file(state.join("requests.log"));
            let sim = factory_sim_on(&state, &p.addr, &[kind, &n.to_string()]);
            let r = submitter(
                &p.dir,
                &[
                    "upload",
                    "bundle.json",
                    "--token-file",
                    tok,
                    "--retries",
                    "2",
                ],
            );
            let log = request_log(&state);
            if r.code == 0 {
                assert_applied_once(&state, &p.bundle);
            } else {
                // Not done: it must say what the server holds and what to do.
                let all = r.all();
                assert_eq!(r.code, 1, "{case}: {all}");
                assert!(
                    all.contains("again is safe") || all.contains("again"),
                    "{case}: no advice in: {all}"
                );
                assert!(
                    latest(&state, "ci") <= 2 && latest(&state, "prod") <= 2,
                    "{case}"
                );
            }
            drop(sim);
            // Whatever happened, running upload again finishes the job once.
            let sim = factory_sim_on(&state, &p.addr, &[]);
            let again = submitter(&p.dir, &["upload", "bundle.json", "--token-file", tok]);
            again.expect(
                0,
                &format!(
                    "{case}: upload again\nlog of the faulty run:\n{}",
                    log.join("\n")
                ),
            );
            assert_applied_once(&state, &p.bundle);
            drop(sim);
        }
    }
}

#[test]
fn persistent_faults_end_with_the_server_state_and_what_to_do() {
    let p = prepared("ed25519");
    let tok = p.token.to_str().unwrap();
    // Request 4 is the PUT, 5 the transaction check after it, 6 the second PUT.
    // Request 5 is the apply, 9 the careful second apply after checking.
    for (faults, expect) in [
        (&["4", "6"][..], "nothing was applied"),
        (&["5", "9"][..], "Nothing was applied"),
    ] {
        let state = p.dir.join(format!("state-persistent-{}", faults.join("-")));
        copy_dir(&p.state, &state);
        let mut args = Vec::new();
        for f in faults {
            args.extend(["--fail-request", f]);
        }
        let sim = factory_sim_on(&state, &p.addr, &args);
        let r = submitter(&p.dir, &["upload", "bundle.json", "--token-file", tok]);
        r.expect(1, "persistent faults");
        assert!(
            r.stderr
                .contains("server state: CI root v1 (unchanged), prod root v1 (unchanged)"),
            "{}",
            r.all()
        );
        assert!(r.stderr.contains(expect), "{}", r.all());
        assert!(r.stderr.contains("again is safe"), "{}", r.all());
        assert!(r.stderr.contains("HTTP 503"), "{}", r.all());
        assert_eq!(latest(&state, "ci"), 1);
        drop(sim);
        let sim = factory_sim_on(&state, &p.addr, &[]);
        submitter(&p.dir, &["upload", "bundle.json", "--token-file", tok])
            .expect(0, "upload again");
        assert_applied_once(&state, &p.bundle);
        drop(sim);
    }
}

#[test]
fn a_half_finished_apply_is_finished() {
    let p = prepared("ed25519");
    let tok = p.token.to_str().unwrap();
    // The server applied the CI root and stopped before the prod root.
    let b = Bundle::from_slice(&std::fs::read(&p.bundle).unwrap()).unwrap();
    let ci = &b.roots.iter().find(|r| r.name == "ci").unwrap().root;
    let prod = &b.roots.iter().find(|r| r.name == "prod").unwrap().root;
    std::fs::write(
        p.state.join("ci/2.root.json"),
        serde_json::to_vec(ci).unwrap(),
    )
    .unwrap();
    // ... after the roots were PUT (the simulator keeps the transaction in transaction.json).
    let txf = p.state.join("transaction.json");
    let mut tx: Value = serde_json::from_slice(&std::fs::read(&txf).unwrap()).unwrap();
    tx["ci-root"] = ci.clone();
    tx["prod-root"] = prod.clone();
    tx["uploaded"] = Value::Bool(true);
    std::fs::write(&txf, serde_json::to_vec(&tx).unwrap()).unwrap();
    let sim = factory_sim_on(&p.state, &p.addr, &[]);
    let tx = submitter(&p.dir, &["upload", "bundle.json", "--token-file", tok]);
    tx.expect(0, "finish the apply");
    assert!(tx.stderr.contains("partial state"), "{}", tx.all());
    assert_applied_once(&p.state, &p.bundle);
    drop(sim);
}

#[test]
fn a_slow_server_is_waited_for_and_a_too_slow_one_is_reported() {
    let p = prepared("ed25519");
    let tok = p.token.to_str().unwrap();
    let sim = factory_sim_on(&p.state, &p.addr, &["--slow", "1500"]);
    let r = submitter(
        &p.dir,
        &[
            "upload",
            "bundle.json",
            "--token-file",
            tok,
            "--timeout",
            "1",
            "--retries",
            "1",
        ],
    );
    r.expect(1, "too slow");
    assert!(r.stderr.contains("GET "), "{}", r.all());
    assert!(
        r.stderr.contains("timed out") || r.stderr.contains("no answer"),
        "{}",
        r.all()
    );
    assert_eq!(latest(&p.state, "ci"), 1, "nothing may change");
    drop(sim);
    let sim = factory_sim_on(&p.state, &p.addr, &["--slow", "100"]);
    submitter(&p.dir, &["upload", "bundle.json", "--token-file", tok])
        .expect(0, "slow but in time");
    assert_applied_once(&p.state, &p.bundle);
    drop(sim);
}

#[test]
fn transactions_conflict_join_and_cancel() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let state = dir.join("factory");
    factory_init(&state, "ed25519");
    let tok = token_file(dir);
    let tok = tok.to_str().unwrap();
    let sim = factory_sim(&state, &[]);
    submitter(
        dir,
        &[
            "propose",
            "--factory",
            "acme",
            "--api",
            &sim.url,
            "--token-file",
            tok,
            "--rotate-all",
            "-o",
            "a.json",
        ],
    )
    .expect(0, "first propose");
    let txid = {
        let v: Value = serde_json::from_slice(&std::fs::read(dir.join("a.json")).unwrap()).unwrap();
        v["txid"].as_str().unwrap().to_string()
    };
    let r = submitter(
        dir,
        &[
            "propose",
            "--factory",
            "acme",
            "--api",
            &sim.url,
            "--token-file",
            tok,
            "--rotate-all",
            "-o",
            "b.json",
        ],
    );
    r.expect(1, "second transaction");
    assert!(r.stderr.contains("409"), "{}", r.all());
    assert!(r.stderr.contains("--txid"), "{}", r.all());
    assert!(
        r.stderr.contains("submitter cancel --factory acme"),
        "{}",
        r.all()
    );
    assert!(!dir.join("b.json").exists());
    // Join it.
    submitter(
        dir,
        &[
            "propose",
            "--factory",
            "acme",
            "--api",
            &sim.url,
            "--token-file",
            tok,
            "--txid",
            &txid,
            "--rotate-all",
            "-o",
            "b.json",
        ],
    )
    .expect(0, "join");
    // An existing output is not replaced.
    submitter(
        dir,
        &[
            "propose",
            "--factory",
            "acme",
            "--api",
            &sim.url,
            "--token-file",
            tok,
            "--txid",
            &txid,
            "-o",
            "b.json",
        ],
    )
    .expect(1, "refuses to overwrite");
    // Cancel, twice.
    let c = submitter(
        dir,
        &[
            "cancel",
            "--factory",
            "acme",
            "--api",
            &sim.url,
            "--token-file",
            tok,
        ],
    );
    c.expect(0, "cancel");
    assert!(c.stdout.contains("cancelled"), "{}", c.all());
    submitter(
        dir,
        &[
            "cancel",
            "--factory",
            "acme",
            "--api",
            &sim.url,
            "--token-file",
            tok,
        ],
    )
    .expect(0, "cancel again");
    // A bundle for the cancelled transaction is refused with a clear message.
    let old = factory_first_root(&state);
    let new = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
    let b = make_bundle(&dir.join("a.json"), &[&old], &[&new], None);
    std::fs::write(dir.join("bundle.json"), b.to_bytes()).unwrap();
    let r = submitter(
        dir,
        &[
            "upload",
            "bundle.json",
            "--proposal",
            "a.json",
            "--token-file",
            tok,
        ],
    );
    r.expect(1, "cancelled transaction");
    assert!(
        r.stderr.contains("no root-update transaction is open"),
        "{}",
        r.all()
    );
    assert_eq!(latest(&state, "ci"), 1);
}

#[test]
fn tokens_come_from_file_env_or_fioctl_config_and_are_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let state = dir.join("factory");
    factory_init(&state, "ed25519");
    let sim = factory_sim(&state, &[]);
    let audit = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec!["audit", "--factory", "acme", "--api", sim.url.as_str()];
        args.extend_from_slice(extra);
        run("submitter", dir, &args, env)
    };
    // Environment.
    audit(&[("FIOCTL_TOKEN", TOKEN)], &[]).expect(0, "FIOCTL_TOKEN");
    // A proxy named in the environment is not used for a loopback server.
    audit(
        &[
            ("FIOCTL_TOKEN", TOKEN),
            ("HTTP_PROXY", "http://127.0.0.1:9"),
            ("http_proxy", "http://127.0.0.1:9"),
            ("ALL_PROXY", "http://127.0.0.1:9"),
        ],
        &["--retries", "0"],
    )
    .expect(0, "proxy in the environment");
    audit(&[("OSF_TOKEN", TOKEN)], &[]).expect(0, "OSF_TOKEN");
    // fioctl's config: an API token, then an OAuth2 access token (sent as Bearer base64).
    let cfg = dir.join("fioctl.yaml");
    std::fs::write(&cfg, format!("factory: acme\ntoken: {TOKEN}\n")).unwrap();
    audit(&[("FIOCTL_CONFIG", cfg.to_str().unwrap())], &[]).expect(0, "config token");
    std::fs::write(
        &cfg,
        format!("clientcredentials:\n  access_token: \"{TOKEN}\"\n  client_id: abc\nserver:\n  url: {}\n", sim.url),
    )
    .unwrap();
    run(
        "submitter",
        dir,
        ["audit", "--factory", "acme"],
        &[("FIOCTL_CONFIG", cfg.to_str().unwrap())],
    )
    .expect(0, "config access_token and server.url");
    // A wrong token: 401, with method, URL, status and the server's message; the token is not printed.
    let wrong = "wrong-token-0000";
    let r = audit(&[("FIOCTL_TOKEN", wrong)], &["--retries", "0"]);
    r.expect(1, "wrong token");
    assert!(r.stderr.contains("GET http://127.0.0.1"), "{}", r.all());
    assert!(r.stderr.contains("401"), "{}", r.all());
    assert!(r.stderr.contains("invalid API token"), "{}", r.all());
    // Where the token came from, and how to get another (issue 15 item 6).
    assert!(
        r.stderr
            .contains("the API token in the environment variable FIOCTL_TOKEN was refused"),
        "{}",
        r.all()
    );
    assert!(
        r.stderr.contains("fioctl login") && r.stderr.contains("settings/tokens"),
        "{}",
        r.all()
    );
    assert!(
        !r.all().contains(wrong),
        "the token was printed: {}",
        r.all()
    );
    // From fioctl's config: the file and the entry are named.
    std::fs::write(&cfg, format!("factory: acme\ntoken: {wrong}\n")).unwrap();
    let r = audit(
        &[("FIOCTL_CONFIG", cfg.to_str().unwrap())],
        &["--retries", "0"],
    );
    r.expect(1, "wrong token in fioctl's config");
    assert!(
        r.stderr.contains(&format!(
            "the API token `token:` in {} was refused",
            cfg.display()
        )),
        "{}",
        r.all()
    );
    assert!(
        !r.all().contains(wrong),
        "the token was printed: {}",
        r.all()
    );
    // No token at all.
    let r = audit(&[], &[]);
    r.expect(1, "no token");
    assert!(r.stderr.contains("--token-file"), "{}", r.all());
    assert!(request_log(&state).iter().all(|l| !l.contains(TOKEN)));
}

#[test]
fn rsa_first_root_key_factory_rotates() {
    let p = prepared("rsa-2048");
    let sim = factory_sim_on(&p.state, &p.addr, &[]);
    submitter(
        &p.dir,
        &[
            "upload",
            "bundle.json",
            "--token-file",
            p.token.to_str().unwrap(),
        ],
    )
    .expect(0, "upload");
    assert_applied_once(&p.state, &p.bundle);
    drop(sim);
}
