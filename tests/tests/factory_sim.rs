//! `factory-sim` refuses what ota-tuf refuses. Driven with raw HTTP/1.1 over
//! a loopback socket (the simulator closes every connection after answering).

use std::collections::BTreeSet;
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
        404
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

// ------------------------------------------------------------------------
// The requests fioctl sends (client/foundries_tuf_root.go, subcommands/keys/
// tuf_updates*.go) and the answers decoded as fioctl's Go types decode them:
// `encoding/json` ignores unknown fields and absent ones, but refuses a value
// of the wrong type (a string where a struct is expected, a number in a
// `map[string]string`).

/// A `TufRootAmendment`: `kind` and `message` strings, `args` a map of strings.
fn assert_amendment(a: &Value, what: &str) {
    assert!(a.is_object(), "{what}: not an object: {a}");
    for k in ["kind", "message"] {
        assert!(
            a.get(k).is_none_or(Value::is_string),
            "{what}: {k} is not a string: {a}"
        );
    }
    if let Some(args) = a.get("args").filter(|v| !v.is_null()) {
        let args = args
            .as_object()
            .unwrap_or_else(|| panic!("{what}: args: {a}"));
        assert!(
            args.values().all(Value::is_string),
            "{what}: args values must be strings: {a}"
        );
    }
}

/// A `TufRootPair`: roots as JSON text (fioctl unmarshals the string again),
/// `online-keys` a map of strings. Returns the two roots parsed.
fn root_pair(p: &Value, what: &str) -> (Option<Value>, Option<Value>, Value) {
    assert!(p.is_object(), "{what}: {p}");
    let root = |k: &str| match p.get(k) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(serde_json::from_str::<Value>(s).unwrap()),
        Some(other) => panic!("{what}.{k} is not a string: {other}"),
    };
    let online = p.get("online-keys").cloned().unwrap_or(Value::Null);
    if !online.is_null() {
        let m = online.as_object().expect("online-keys is a map");
        assert!(m.values().all(Value::is_string), "{what}: {online}");
    }
    (root("ci-root"), root("prod-root"), online)
}

/// `TufRootUpdates`, checked as fioctl's `checkTufRootUpdatesStatus` checks
/// it: a known status, a current CI root always, an updated CI root unless
/// the status is NONE.
fn fioctl_updates(v: &Value) -> (Value, Option<Value>) {
    let status = v["status"].as_str().expect("status is a string");
    assert!(
        ["NONE", "STARTED", "APPLYING"].contains(&status),
        "{status}"
    );
    let current = v
        .get("current")
        .filter(|c| !c.is_null())
        .unwrap_or_else(|| panic!("fioctl: Current TUF CI root not set: {v}"));
    let (cur_ci, _, _) = root_pair(current, "current");
    let cur_ci = cur_ci.unwrap_or_else(|| panic!("fioctl: Current TUF CI root not set: {v}"));
    let updated = v
        .get("updated")
        .filter(|u| !u.is_null())
        .map(|u| root_pair(u, "updated"));
    let new_ci = updated.and_then(|u| u.0);
    if status != "NONE" {
        assert!(new_ci.is_some(), "fioctl: Updated TUF CI root not set: {v}");
    }
    assert!(v.get("first-time").is_none_or(Value::is_boolean), "{v}");
    if let Some(meta) = v.get("change-meta").filter(|m| !m.is_null()) {
        for k in ["created-by", "created-at", "updated-by", "updated-at"] {
            assert!(
                meta.get(k).is_none_or(Value::is_string),
                "change-meta.{k}: {v}"
            );
        }
    }
    for list in ["/amendments", "/issues/errors", "/issues/warnings"] {
        match v.pointer(list) {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => a.iter().for_each(|x| assert_amendment(x, list)),
            Some(other) => panic!("{list} is not a list: {other}"),
        }
    }
    (cur_ci, new_ci)
}

/// The body of fioctl's `TufRootUpdatesInit`.
fn fioctl_init(sim: &Server, first_time: bool) -> (u16, Value) {
    authed(
        sim,
        "POST",
        &format!("{REPO}/root/updates"),
        Some(&json!({"message": "rotate", "first-time": first_time, "shortcut": false})),
    )
}

fn updates(sim: &Server) -> Value {
    let (s, v) = authed(sim, "GET", &format!("{REPO}/root/updates"), None);
    assert_eq!(s, 200, "{v}");
    v
}

fn fresh(dir: &Path) -> (std::path::PathBuf, Server) {
    let state = dir.join("factory");
    factory_init(&state, "ed25519");
    let sim = factory_sim(&state, &[]);
    (state, sim)
}

#[test]
fn review_with_no_transaction_has_the_current_roots() {
    let tmp = tempfile::tempdir().unwrap();
    let (_state, sim) = fresh(tmp.path());
    let v = updates(&sim);
    assert_eq!(v["status"], "NONE");
    let (cur_ci, new_ci) = fioctl_updates(&v);
    assert_eq!(new_ci, None);
    // The very roots the Factory serves.
    assert_eq!(
        cur_ci,
        authed(&sim, "GET", &format!("{REPO}/root.json"), None).1
    );
    let (_, cur_prod, online) = root_pair(&v["current"], "current");
    assert_eq!(
        cur_prod.unwrap(),
        authed(&sim, "GET", &format!("{REPO}/root.json?production=1"), None).1
    );
    // The online key ids name the keys of the current root's online roles.
    for role in ["targets", "snapshot", "timestamp"] {
        let id = online[role].as_str().unwrap();
        assert_eq!(cur_ci["signed"]["roles"][role]["keyids"], json!([id]));
    }
}

#[test]
fn issues_and_amendments_are_objects_fioctl_decodes() {
    let tmp = tempfile::tempdir().unwrap();
    let (_state, sim) = fresh(tmp.path());
    let (s, init) = fioctl_init(&sim, false);
    assert_eq!(s, 201, "{init}");
    let v = updates(&sim);
    assert_eq!(v["status"], "STARTED");
    assert_eq!(v["change-meta"]["created-by"], "sim-user-0001", "{v}");
    let (cur, staged) = fioctl_updates(&v);
    let staged = staged.unwrap();
    // The server's staged roots are unsigned: errors, as objects with a message.
    let errors = v["issues"]["errors"].as_array().unwrap();
    assert!(!errors.is_empty(), "{v}");
    assert!(errors
        .iter()
        .all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty())));
    // The staged roots differ from the current ones by their version: listed.
    let kinds = |v: &Value| -> Vec<(String, String)> {
        v["amendments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["kind"].as_str().unwrap().to_string(),
                    a["args"]["root"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let k = kinds(&v);
    assert!(k.contains(&("version".into(), "ci".into())), "{k:?}");
    assert!(k.contains(&("version".into(), "prod".into())), "{k:?}");
    // Stage a root with one more root key (fioctl's `add-offline-key`, PUT
    // as fioctl sends it, without a txid) and it is listed with its key id.
    let extra =
        ceremony_tests::keygen::TestKey::generate(ceremony_tests::keygen::TestKeyType::Ed25519);
    let id = extra.key_id(ceremony::Dialect::OtaTuf);
    let mut ci = staged.clone();
    ci["signed"]["keys"][&id] = extra.key_object(ceremony::Dialect::OtaTuf);
    ci["signed"]["roles"]["root"]["keyids"]
        .as_array_mut()
        .unwrap()
        .push(json!(id));
    let (_, prod, _) = root_pair(&v["updated"], "updated");
    let (s, body) = authed(
        &sim,
        "PUT",
        &format!("{REPO}/root/updates"),
        Some(&json!({"txid": "", "ci-root": ci, "prod-root": prod.unwrap()})),
    );
    assert_eq!(s, 200, "{body}");
    let v = updates(&sim);
    fioctl_updates(&v);
    let added: Vec<&Value> = v["amendments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["args"]["keyid"] == json!(id))
        .collect();
    assert_eq!(added.len(), 2, "key list and root role: {v}");
    assert!(added.iter().all(|a| a["args"]["root"] == "ci"));
    // Nothing is listed for the untouched key ids of the current root.
    let cur_root_id = cur["signed"]["roles"]["root"]["keyids"][0].clone();
    assert!(!v["amendments"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["args"]["keyid"] == cur_root_id));
}

#[test]
fn first_time_init_hands_out_the_first_root_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (_state, sim) = fresh(tmp.path());
    let (s, init) = fioctl_init(&sim, true);
    assert_eq!(s, 201, "{init}");
    // TufRootUpdatesInit: txid, and the two keys as raw JSON fioctl writes
    // to tufrepo/keys/first-root.{sec,pub} and later reads as AtsKey.
    assert!(init["txid"].as_str().is_some_and(|t| !t.is_empty()));
    let (sec, public) = (&init["first_root.sec"], &init["first_root.pub"]);
    assert_eq!(sec["keytype"], "ED25519", "{init}");
    assert_eq!(public["keytype"], "ED25519", "{init}");
    // The pair is one key: the seed's public half is the public key…
    let seed: [u8; 32] = hex::decode(sec["keyval"]["private"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let derived = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    assert_eq!(
        public["keyval"]["public"].as_str().unwrap(),
        hex::encode(derived.as_bytes())
    );
    // …and it is the key the current root trusts for root.
    let cur = authed(&sim, "GET", &format!("{REPO}/root.json"), None).1;
    let root_id = cur["signed"]["roles"]["root"]["keyids"][0]
        .as_str()
        .unwrap();
    assert_eq!(&cur["signed"]["keys"][root_id], public);
    let v = updates(&sim);
    fioctl_updates(&v);
    assert_eq!(v["first-time"], true);
    // An ordinary init hands out no key.
    assert_eq!(
        authed(&sim, "POST", &format!("{REPO}/root/updates/cancel"), None).0,
        200
    );
    let (s, init) = fioctl_init(&sim, false);
    assert_eq!(s, 201);
    assert!(init.get("first_root.sec").is_none(), "{init}");
    assert_eq!(updates(&sim)["first-time"], false);
}

#[test]
fn first_time_is_refused_once_the_root_key_has_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let (sim, _txid, ci, prod) = setup(tmp.path());
    // The owner who started the transaction PUTs and applies without a txid
    // (fioctl's one-step `rotate-offline-key --role=root`, `updates apply`).
    let (s, body) = authed(
        &sim,
        "PUT",
        &format!("{REPO}/root/updates"),
        Some(&json!({"txid": "", "ci-root": ci, "prod-root": prod})),
    );
    assert_eq!(s, 200, "{body}");
    let (s, body) = authed(
        &sim,
        "POST",
        &format!("{REPO}/root/updates/apply"),
        Some(&json!({"txid": ""})),
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        authed(&sim, "GET", &format!("{REPO}/2.root.json"), None).1,
        ci
    );
    // The first root key is no longer the Factory's: not handed out.
    let (s, body) = fioctl_init(&sim, true);
    assert_eq!(s, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("first rotation"),
        "{body}"
    );
    assert_eq!(updates(&sim)["status"], "NONE");
}

#[test]
fn online_keys_are_served_and_rotated() {
    let tmp = tempfile::tempdir().unwrap();
    let (_state, sim) = fresh(tmp.path());
    // ci-targets.pub: the AtsKey of the current online targets key.
    let (s, key) = authed(&sim, "GET", "/ota/factories/acme/ci-targets.pub", None);
    assert_eq!(s, 200, "{key}");
    let cur = authed(&sim, "GET", &format!("{REPO}/root.json"), None).1;
    let targets_id = cur["signed"]["roles"]["targets"]["keyids"][0]
        .as_str()
        .unwrap();
    assert_eq!(key, cur["signed"]["keys"][targets_id]);
    assert_eq!(fioctl_init(&sim, false).0, 201);
    let v = updates(&sim);
    let (_, _, online) = root_pair(&v["updated"], "updated");
    assert_eq!(online["targets"], targets_id, "updated.online-keys: {v}");
    // fioctl's TufRootUpdatesGenerateOnlineKeys body, without a txid.
    let (s, body) = authed(
        &sim,
        "POST",
        &format!("{REPO}/root/updates/gen-online-keys"),
        Some(&json!({"txid": "", "key-type": "ED25519", "targets": true})),
    );
    assert_eq!(s, 200, "{body}");
    let v = updates(&sim);
    let (_, new_ci) = fioctl_updates(&v);
    let new_ci = new_ci.unwrap();
    let (_, new_prod, online) = root_pair(&v["updated"], "updated");
    let new_id = online["targets"].as_str().unwrap();
    assert_ne!(new_id, targets_id);
    for root in [&new_ci, &new_prod.unwrap()] {
        assert_eq!(
            root["signed"]["roles"]["targets"]["keyids"],
            json!([new_id])
        );
        assert!(root["signed"]["keys"].get(new_id).is_some());
        assert!(root["signed"]["keys"].get(targets_id).is_none());
    }
    // The other online keys stay; the current ones are unchanged.
    assert_eq!(online["snapshot"], v["current"]["online-keys"]["snapshot"]);
    assert_eq!(v["current"]["online-keys"]["targets"], targets_id);
    let listed = v["amendments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["args"]["role"] == "targets" && a["kind"] != "threshold")
        .count();
    assert_eq!(listed, 4, "added and removed, ci and prod: {v}");
    // The first rotation also takes the production targets threshold to 2.
    assert!(
        v["amendments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["message"] == "prod root: targets threshold 1 -> 2"),
        "{v}"
    );
}

/// Whether `sig` (a TUF signature entry) is an Ed25519 signature by the key
/// `key_id` of `root` over the canonical form of `signed`, as aktualizr
/// checks it (canonical form written apart from the library, in ota.rs).
fn signed_by(root: &Value, key_id: &str, signed: &Value, sig: &Value) -> bool {
    let public = root["signed"]["keys"][key_id]["keyval"]["public"]
        .as_str()
        .unwrap();
    let public: [u8; 32] = hex::decode(public).unwrap().try_into().unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&public).unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(sig["sig"].as_str().unwrap())
        .unwrap();
    let Ok(raw) = <[u8; 64]>::try_from(raw.as_slice()) else {
        return false;
    };
    sig["keyid"] == key_id
        && key
            .verify_strict(
                &ceremony_tests::ota::aktualizr_canonical(signed),
                &ed25519_dalek::Signature::from_bytes(&raw),
            )
            .is_ok()
}

#[test]
fn production_targets_are_signed_and_re_signed_at_apply() {
    let tmp = tempfile::tempdir().unwrap();
    let (sim, txid, ci, prod) = setup(tmp.path());
    // fioctl's ProdTargetsList with no tag (`?tag=`): every tag, as
    // `{tag: AtsTufTargets}`, signed by the production root's targets key.
    let (s, list) = authed(&sim, "GET", "/ota/factories/acme/prod-targets/?tag=", None);
    assert_eq!(s, 200, "{list}");
    let main = &list["main"];
    assert_eq!(main["signed"]["_type"], "Targets", "{list}");
    assert!(main["signed"]["targets"]
        .as_object()
        .is_some_and(|t| !t.is_empty()));
    let cur_prod = authed(&sim, "GET", &format!("{REPO}/root.json?production=1"), None).1;
    let targets_id = cur_prod["signed"]["roles"]["targets"]["keyids"][0]
        .as_str()
        .unwrap();
    let sigs = main["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 1);
    assert!(signed_by(&cur_prod, targets_id, &main["signed"], &sigs[0]));
    // A tag that does not exist: left out. Waves: none yet.
    let (s, none) = authed(
        &sim,
        "GET",
        "/ota/factories/acme/prod-targets/?tag=nope",
        None,
    );
    assert_eq!((s, none), (200, json!({})));
    let (s, waves) = authed(&sim, "GET", "/ota/factories/acme/wave-targets/?name=", None);
    assert_eq!((s, waves), (200, json!({})));
    // A PUT naming targets that do not exist: refused.
    let new_sig = json!({"keyid": "ab".repeat(32), "method": "ed25519", "sig": "c2ln"});
    let (s, body) = authed(
        &sim,
        "PUT",
        &format!("{REPO}/root/updates"),
        Some(&json!({"txid": txid, "ci-root": ci, "prod-root": prod,
            "targets-signatures": {"nope": [new_sig]}})),
    );
    assert_eq!(s, 422, "{body}");
    // fioctl's TufRootUpdatesPut with targets-signatures: added at apply,
    // beside the signature already there.
    let (s, body) = authed(
        &sim,
        "PUT",
        &format!("{REPO}/root/updates"),
        Some(&json!({"txid": txid, "ci-root": ci, "prod-root": prod,
            "targets-signatures": {"main": [new_sig]}})),
    );
    assert_eq!(s, 200, "{body}");
    let unchanged = authed(
        &sim,
        "GET",
        "/ota/factories/acme/prod-targets/?tag=main",
        None,
    )
    .1;
    assert_eq!(unchanged["main"]["signatures"].as_array().unwrap().len(), 1);
    let (s, body) = authed(
        &sim,
        "POST",
        &format!("{REPO}/root/updates/apply"),
        Some(&json!({"txid": txid})),
    );
    assert_eq!(s, 200, "{body}");
    let after = authed(
        &sim,
        "GET",
        "/ota/factories/acme/prod-targets/?tag=main",
        None,
    )
    .1;
    let sigs = after["main"]["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 2, "{after}");
    assert!(sigs.contains(&new_sig));
    assert_eq!(after["main"]["signed"], main["signed"]);
}

#[test]
fn production_roots_as_fioctl_stages_them_are_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let (_state, sim) = fresh(tmp.path());
    assert_eq!(fioctl_init(&sim, false).0, 201);
    let v = updates(&sim);
    let (ci, prod, _) = root_pair(&v["updated"], "updated");
    let (ci, mut prod) = (ci.unwrap(), prod.unwrap());
    // fioctl's genProdTufRoot: targets threshold 2 over the one online key
    // (aktualizr and python-tuf check threshold >= 1 only). Unsigned, as
    // fioctl's finalizeTufRootChanges leaves it before signing.
    prod["signed"]["roles"]["targets"]["threshold"] = json!(2);
    let put = |prod: &Value| {
        authed(
            &sim,
            "PUT",
            &format!("{REPO}/root/updates"),
            Some(&json!({"txid": "", "ci-root": ci, "prod-root": prod})),
        )
    };
    let (s, body) = put(&prod);
    assert_eq!(s, 200, "{body}");
    // What remains is the signing, nothing else.
    let v = updates(&sim);
    let kinds: BTreeSet<String> = v["issues"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["old-threshold".to_string(), "new-threshold".to_string()]),
        "{v}"
    );
    assert!(v["amendments"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["kind"] == "threshold"
            && a["args"]["root"] == "prod"
            && a["args"]["to"] == "2"));
    // A threshold of 0 is no threshold: refused, nothing stored.
    let mut zero = prod.clone();
    zero["signed"]["roles"]["targets"]["threshold"] = json!(0);
    let (s, body) = put(&zero);
    assert_eq!(s, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("threshold"),
        "{body}"
    );
    let (_, staged, _) = root_pair(&updates(&sim)["updated"], "updated");
    assert_eq!(staged.unwrap(), prod);
}

#[test]
fn the_first_time_key_signs_the_first_rotation_fioctl_makes() {
    use ceremony::Dialect::OtaTuf;
    use ceremony_tests::keygen::{TestKey, TestKeyType};
    let tmp = tempfile::tempdir().unwrap();
    let (_state, sim) = fresh(tmp.path());
    // `rotate-offline-key --role=root --first-time`: init, take the key…
    let (s, init) = fioctl_init(&sim, true);
    assert_eq!(s, 201, "{init}");
    let seed: [u8; 32] = hex::decode(
        init["first_root.sec"]["keyval"]["private"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
    .try_into()
    .unwrap();
    let first = TestKey::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(&seed)));
    let first_id = first.key_id(OtaTuf);
    // …replace it by a new root key in the staged root, derive the
    // production root as fioctl does (targets threshold 2), sign both with
    // the old and the new key, PUT and apply without a txid.
    let v = updates(&sim);
    let (ci, _, _) = root_pair(&v["updated"], "updated");
    let mut signed = ci.unwrap()["signed"].clone();
    let new = TestKey::generate(TestKeyType::Ed25519);
    let new_id = new.key_id(OtaTuf);
    signed["keys"].as_object_mut().unwrap().remove(&first_id);
    signed["keys"][&new_id] = new.key_object(OtaTuf);
    signed["roles"]["root"]["keyids"] = json!([new_id]);
    let mut prod_signed = signed.clone();
    prod_signed["roles"]["targets"]["threshold"] = json!(2);
    let envelope = |signed: &Value| {
        json!({"signed": signed, "signatures": [
            first.signature_entry(signed, OtaTuf), new.signature_entry(signed, OtaTuf)]})
    };
    let (ci, prod) = (envelope(&signed), envelope(&prod_signed));
    let (s, body) = authed(
        &sim,
        "PUT",
        &format!("{REPO}/root/updates"),
        Some(&json!({"txid": "", "ci-root": ci, "prod-root": prod})),
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(updates(&sim)["issues"]["errors"], json!([]));
    let (s, body) = authed(
        &sim,
        "POST",
        &format!("{REPO}/root/updates/apply"),
        Some(&json!({"txid": ""})),
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        authed(
            &sim,
            "GET",
            &format!("{REPO}/2.root.json?production=1"),
            None
        )
        .1,
        prod
    );
    // The first-time key is no longer the Factory's: not handed out again,
    // and a third root it alone signs is not applied.
    assert_eq!(fioctl_init(&sim, true).0, 400);
    assert_eq!(fioctl_init(&sim, false).0, 201);
    let (ci3, prod3, _) = root_pair(&updates(&sim)["updated"], "updated");
    let sign_first = |mut r: Value| {
        r["signatures"] = json!([first.signature_entry(&r["signed"], OtaTuf)]);
        r
    };
    let (s, body) = authed(
        &sim,
        "PUT",
        &format!("{REPO}/root/updates"),
        Some(
            &json!({"ci-root": sign_first(ci3.unwrap()), "prod-root": sign_first(prod3.unwrap())}),
        ),
    );
    assert_eq!(s, 200, "{body}");
    let (s, body) = authed(
        &sim,
        "POST",
        &format!("{REPO}/root/updates/apply"),
        Some(&json!({"txid": ""})),
    );
    assert_eq!(s, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("old-threshold"),
        "{body}"
    );
    assert_eq!(
        authed(&sim, "GET", &format!("{REPO}/3.root.json"), None).0,
        404
    );
}

/// The changelog's author and time are the server's (it wrote them at
/// init, and checks them, fioctl f93a6ec); the message is the client's.
#[test]
fn the_changelog_author_and_time_stay_as_staged() {
    let tmp = tempfile::tempdir().unwrap();
    let (_state, sim) = fresh(tmp.path());
    let (s, init) = fioctl_init(&sim, false);
    assert_eq!(s, 201, "{init}");
    let txid = init["txid"].as_str().unwrap();
    let u = updates(&sim);
    let staged = |chain: &str| -> Value {
        serde_json::from_str(u["updated"][chain].as_str().unwrap()).unwrap()
    };
    let put = |ci: &Value, prod: &Value| {
        authed(
            &sim,
            "PUT",
            &format!("{REPO}/root/updates"),
            Some(&json!({"txid": txid, "ci-root": ci, "prod-root": prod})),
        )
    };
    let (ci, prod) = (staged("ci-root"), staged("prod-root"));
    assert!(ci["signed"]["x-changelog"]["timestamp"].is_string(), "{ci}");
    for (field, value) in [
        ("polis-id", json!("someone-else")),
        ("timestamp", json!("2020-01-01T00:00:00Z")),
    ] {
        let mut changed = ci.clone();
        changed["signed"]["x-changelog"][field] = value;
        let (s, v) = put(&changed, &prod);
        assert_eq!(s, 422, "{field}: {v}");
        assert!(v.to_string().contains("x-changelog"), "{v}");
    }
    let mut retold = ci.clone();
    retold["signed"]["x-changelog"]["message"] = json!("another reason");
    let (s, v) = put(&retold, &prod);
    assert_eq!(s, 200, "the message is the client's: {v}");
}
