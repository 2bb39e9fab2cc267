//! `factory-sim` refuses what ota-tuf refuses. Driven with raw HTTP/1.1 over
//! a loopback socket (the simulator closes every connection after answering).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use ceremony::keys::{NewKeyType, PrivateKey};
use ceremony::RootMetadata;
use ceremony_tests::binary;
use ceremony_tests::harness::{factory_init, factory_sim, run, token_file, Server, TOKEN};
use ceremony_tests::minisign::{factory_first_root, make_bundle};
use serde_json::{json, Value};

const REPO: &str = "/ota/repo/acme/api/v1/user_repo";

fn call(
    server: &Server,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let body = body
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
        server.addr(),
        body.len()
    );
    if let Some((k, v)) = auth {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(&body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").expect("a response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn authed(server: &Server, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    call(server, method, path, Some(("OSF-TOKEN", TOKEN)), body)
}

/// A simulated Factory with a transaction open and a complete bundle for it.
fn setup(dir: &Path) -> (Server, String, Value, Value) {
    let state = dir.join("factory");
    factory_init(&state, "ed25519");
    let tok = token_file(dir);
    let sim = factory_sim(&state, &[]);
    run(
        "submitter",
        dir,
        [
            "propose",
            "--factory",
            "acme",
            "--api",
            &sim.url,
            "--token-file",
            tok.to_str().unwrap(),
            "--rotate-all",
            "-o",
            "proposal.json",
        ],
        &[],
    )
    .expect(0, "propose");
    let old = factory_first_root(&state);
    let new = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
    let b = make_bundle(&dir.join("proposal.json"), &[&old], &[&new], None);
    let p: Value =
        serde_json::from_slice(&std::fs::read(dir.join("proposal.json")).unwrap()).unwrap();
    let root = |n: &str| b.roots.iter().find(|r| r.name == n).unwrap().root.clone();
    (
        sim,
        p["txid"].as_str().unwrap().to_string(),
        root("ci"),
        root("prod"),
    )
}

#[test]
fn help_says_what_it_is() {
    let out = std::process::Command::new(binary("factory-sim"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("stands in for the FoundriesFactory API"),
        "{text}"
    );
    assert!(text.contains("tests cannot"), "{text}");
}

#[test]
fn tokens_and_transactions() {
    let tmp = tempfile::tempdir().unwrap();
    let (sim, txid, ci, prod) = setup(tmp.path());
    // Missing and wrong tokens: 401. The Bearer form fioctl sends: accepted.
    assert_eq!(
        call(&sim, "GET", &format!("{REPO}/root.json"), None, None).0,
        401
    );
    assert_eq!(
        call(
            &sim,
            "GET",
            &format!("{REPO}/root.json"),
            Some(("OSF-TOKEN", "nope")),
            None
        )
        .0,
        401
    );
    let bearer = format!(
        "Bearer {}",
        base64::engine::general_purpose::STANDARD.encode(TOKEN)
    );
    assert_eq!(
        call(
            &sim,
            "GET",
            &format!("{REPO}/root.json"),
            Some(("Authorization", &bearer)),
            None
        )
        .0,
        200
    );
    assert_eq!(
        call(
            &sim,
            "GET",
            &format!("{REPO}/root.json"),
            Some(("Authorization", &format!("Bearer {TOKEN}"))),
            None
        )
        .0,
        401
    );
    // A second transaction: 409.
    assert_eq!(
        authed(
            &sim,
            "POST",
            &format!("{REPO}/root/updates"),
            Some(&json!({"message": "x"}))
        )
        .0,
        409
    );
    // The staged roots: version + 1, x-changelog, no signatures; roots as JSON strings.
    let (s, tx) = authed(&sim, "GET", &format!("{REPO}/root/updates"), None);
    assert_eq!(s, 200);
    assert_eq!(tx["status"], "STARTED");
    let staged: Value = serde_json::from_str(tx["updated"]["ci-root"].as_str().unwrap()).unwrap();
    assert_eq!(staged["signed"]["version"], 2);
    assert_eq!(staged["signed"]["signatures"], Value::Null);
    assert_eq!(staged["signatures"], json!([]));
    assert_eq!(staged["signed"]["x-changelog"]["polis-id"], "sim-user-0001");
    assert!(tx["current"]["ci-root"].is_string());
    // Wrong txid: 400, nothing changes.
    let (s, _) = authed(
        &sim,
        "PUT",
        &format!("{REPO}/root/updates"),
        Some(&json!({"txid": "0000", "ci-root": ci, "prod-root": prod})),
    );
    assert_eq!(s, 400);
    let (s, _) = authed(
        &sim,
        "POST",
        &format!("{REPO}/root/updates/apply"),
        Some(&json!({"txid": "0000"})),
    );
    assert_eq!(s, 400);
    // The right one: stored, applied, served.
    assert_eq!(
        authed(
            &sim,
            "PUT",
            &format!("{REPO}/root/updates"),
            Some(&json!({"txid": txid, "ci-root": ci, "prod-root": prod}))
        )
        .0,
        200
    );
    assert_eq!(
        authed(
            &sim,
            "POST",
            &format!("{REPO}/root/updates/apply"),
            Some(&json!({"txid": txid}))
        )
        .0,
        200
    );
    let (s, served) = authed(
        &sim,
        "GET",
        &format!("{REPO}/2.root.json?production=1"),
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(served, prod);
    assert_eq!(
        authed(&sim, "GET", &format!("{REPO}/3.root.json"), None).0,
        404
    );
    assert_eq!(
        authed(&sim, "GET", &format!("{REPO}/root/updates"), None).1["status"],
        "NONE"
    );
    // Applying again: nothing to apply.
    assert_eq!(
        authed(
            &sim,
            "POST",
            &format!("{REPO}/root/updates/apply"),
            Some(&json!({"txid": txid}))
        )
        .0,
        400
    );
    assert_eq!(
        authed(&sim, "POST", &format!("{REPO}/root/updates/cancel"), None).0,
        404
    );
}

#[test]
fn refuses_what_ota_tuf_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let (sim, txid, ci, prod) = setup(tmp.path());
    let put = |ci: &Value, prod: &Value| {
        authed(
            &sim,
            "PUT",
            &format!("{REPO}/root/updates"),
            Some(&json!({"txid": txid, "ci-root": ci, "prod-root": prod})),
        )
    };
    let refused = |what: &str, root: Value, needle: &str| {
        let (s, body) = put(&root, &prod);
        assert_eq!(s, 422, "{what}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(needle),
            "{what}: {body}"
        );
    };
    let mut v = ci.clone();
    v["signed"]["version"] = json!(3);
    refused("version not N+1", v, "version");
    let mut v = ci.clone();
    v["signed"]["expires"] = json!("2030-01-01T00:00:00.000Z");
    refused("bad expiry form", v, "expires");
    let mut v = ci.clone();
    v["signed"]["x-padding"] = json!("x".repeat(70 * 1024));
    refused("over 64 KiB", v, "65536");
    let mut v = ci.clone();
    let first = v["signatures"][0].clone();
    v["signatures"].as_array_mut().unwrap().push(first);
    refused("duplicate keyids", v, "duplicate-keyid");
    let mut v = ci.clone();
    let sig = v["signatures"][0]["sig"].as_str().unwrap().to_string();
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .unwrap();
    raw[0] ^= 1;
    v["signatures"][0]["sig"] = json!(base64::engine::general_purpose::STANDARD.encode(raw));
    refused("a signature that does not verify", v, "invalid");
    // Unmet thresholds: stored (holders sign one after another), but not applied.
    let mut v = ci.clone();
    v["signatures"].as_array_mut().unwrap().truncate(1);
    assert_eq!(put(&v, &prod).0, 200);
    let (s, body) = authed(
        &sim,
        "POST",
        &format!("{REPO}/root/updates/apply"),
        Some(&json!({"txid": txid})),
    );
    assert_eq!(s, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("threshold"),
        "{body}"
    );
    let issues =
        authed(&sim, "GET", &format!("{REPO}/root/updates"), None).1["issues"]["errors"].clone();
    assert!(!issues.as_array().unwrap().is_empty());
    // Nothing was served.
    assert_eq!(
        authed(&sim, "GET", &format!("{REPO}/2.root.json"), None).0,
        404
    );
    let current = authed(&sim, "GET", &format!("{REPO}/root.json"), None).1;
    let current = RootMetadata::from_value(current, ceremony::Dialect::OtaTuf).unwrap();
    assert_eq!(current.version().unwrap(), 1);
}
