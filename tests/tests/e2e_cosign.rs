//! Co-signing one Factory transaction with holders who use fioctl, through
//! both binaries against `factory-sim`:
//!
//! * a transaction a "fioctl" admin began and staged (one root key rotated,
//!   root threshold 2 of 2, signed by that admin only) is co-signed by our
//!   signer (`--sign-staged`), uploaded and applied; the simulator applies
//!   only once both have signed;
//! * our own multi-holder rotation (a partial bundle) is completed by a
//!   second holder's `fioctl keys tuf updates sign`, emulated here from its
//!   source (sign the canonical form of `signed`, keep every other
//!   signature, PUT both roots with the txid), then applied by
//!   `submitter upload` run again;
//! * refusals: `--sign-staged` with another change, a proposal that asks
//!   for both, a staged body changed between proposal and upload, and an
//!   invalid signature on the staged root (dropped, and said so).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use ceremony::keys::{NewKeyType, PrivateKey};
use ceremony::pubkey::PubkeyFile;
use ceremony::{Dialect, RootMetadata};
use ceremony_tests::fixture::{write_passphrase, SignArgs};
use ceremony_tests::harness::{factory_init, factory_sim, run, token_file, Ran, Server, TOKEN};
use ceremony_tests::minisign::factory_first_root;
use serde_json::{json, Value};

const REPO: &str = "/ota/repo/acme/api/v1/user_repo";
const D: Dialect = Dialect::OtaTuf;

/// One request to the simulator, as fioctl sends it (raw HTTP/1.1: the
/// simulator closes every connection after answering).
fn call(sim: &Server, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = TcpStream::connect(sim.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let body = body
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nOSF-TOKEN: {TOKEN}\r\nContent-Length: {}\r\n\r\n",
        sim.addr(),
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(&body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").expect("a response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn key() -> PrivateKey {
    PrivateKey::generate(NewKeyType::Ed25519).unwrap()
}

fn id(k: &PrivateKey) -> String {
    k.public_key().key_id(D)
}

/// The staged CI and prod roots of the open transaction (fioctl reads
/// `updated.ci-root` and `updated.prod-root`, JSON text).
fn staged(sim: &Server) -> (Value, Value) {
    let (s, v) = call(sim, "GET", &format!("{REPO}/root/updates"), None);
    assert_eq!(s, 200, "{v}");
    let root = |n: &str| serde_json::from_str(v["updated"][n].as_str().unwrap()).unwrap();
    (root("ci-root"), root("prod-root"))
}

/// fioctl's `updates sign`: every given key signs the canonical form of
/// `signed` of both roots (a signature under the same key id replaced, every
/// other kept), and both are PUT with the txid.
fn fioctl_sign(sim: &Server, txid: &str, keys: &[&PrivateKey]) -> (u16, Value) {
    let (ci, prod) = staged(sim);
    let sign = |v: Value| {
        let mut r = RootMetadata::from_value(v, D).unwrap();
        for k in keys {
            r.sign(&id(k), k).unwrap();
        }
        r.envelope().clone()
    };
    let body = json!({"txid": txid, "ci-root": sign(ci), "prod-root": sign(prod)});
    call(sim, "PUT", &format!("{REPO}/root/updates"), Some(&body))
}

fn apply(sim: &Server, txid: &str) -> (u16, Value) {
    call(
        sim,
        "POST",
        &format!("{REPO}/root/updates/apply"),
        Some(&json!({ "txid": txid })),
    )
}

/// A Factory, its simulator, and the online and offline folders.
struct Setup {
    _tmp: tempfile::TempDir,
    state: PathBuf,
    online: PathBuf,
    offline: PathBuf,
    token: String,
    sim: Server,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("factory");
        factory_init(&state, "ed25519");
        let online = tmp.path().join("online");
        let offline = tmp.path().join("offline");
        std::fs::create_dir_all(&online).unwrap();
        std::fs::create_dir_all(&offline).unwrap();
        write_passphrase(&offline);
        let token = token_file(&online).to_str().unwrap().to_string();
        let sim = factory_sim(&state, &[]);
        Setup {
            _tmp: tmp,
            state,
            online,
            offline,
            token,
            sim,
        }
    }

    fn submitter<const N: usize>(&self, args: [&str; N]) -> Ran {
        let mut all: Vec<&str> = args.to_vec();
        if args[0] == "propose" {
            all.extend(["--factory", "acme", "--api", &self.sim.url]);
        }
        all.extend(["--token-file", &self.token]);
        run("submitter", &self.online, all, &[])
    }

    fn to_offline(&self, name: &str) {
        std::fs::copy(self.online.join(name), self.offline.join(name)).unwrap();
    }

    fn to_online(&self, name: &str) {
        std::fs::copy(self.offline.join(name), self.online.join(name)).unwrap();
    }

    fn served(&self, chain: &str, version: u64) -> Option<Value> {
        std::fs::read(self.state.join(format!("{chain}/{version}.root.json")))
            .ok()
            .map(|b| serde_json::from_slice(&b).unwrap())
    }

    /// Opens a transaction as fioctl's `updates init` does; its txid.
    fn fioctl_init(&self) -> String {
        let (s, v) = call(
            &self.sim,
            "POST",
            &format!("{REPO}/root/updates"),
            Some(&json!({"message": "rotated with fioctl", "first-time": false})),
        );
        assert_eq!(s, 201, "{v}");
        v["txid"].as_str().unwrap().to_string()
    }
}

fn signature_ids(root: &Value) -> Vec<String> {
    let mut ids: Vec<String> = root["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["keyid"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// A "fioctl" admin holding the first root key A stages v2: A rotated to A2
/// and our key B added, root threshold 2 of 2 (prod as `genProdTufRoot`
/// makes it), signed with A and A2. Returns the txid and the staged CI root.
fn fioctl_stages_rotation(s: &Setup, a: &PrivateKey, a2: &PrivateKey, b: &PrivateKey) -> String {
    let txid = s.fioctl_init();
    let (mut ci, prod) = staged(&s.sim);
    let signed = &mut ci["signed"];
    signed["keys"].as_object_mut().unwrap().remove(&id(a));
    signed["keys"][id(a2)] = a2.public_key().to_key_object(D);
    signed["keys"][id(b)] = b.public_key().to_key_object(D);
    signed["roles"]["root"] = json!({"keyids": [id(a2), id(b)], "threshold": 2});
    ci["signatures"] = json!([]);
    let mut prod_new = ci.clone();
    prod_new["signed"]["roles"]["targets"]["threshold"] =
        prod["signed"]["roles"]["targets"]["threshold"].clone();
    let (st, v) = call(
        &s.sim,
        "PUT",
        &format!("{REPO}/root/updates"),
        Some(&json!({"txid": txid, "ci-root": ci, "prod-root": prod_new})),
    );
    assert_eq!(st, 200, "{v}");
    let (st, v) = fioctl_sign(&s.sim, &txid, &[a, a2]);
    assert_eq!(st, 200, "{v}");
    txid
}

/// Our holder's archive: key B only (not the admin's A).
fn import_key(s: &Setup, k: &PrivateKey) {
    let pem = s.offline.join("b.pem");
    std::fs::write(&pem, k.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    run(
        "signer",
        &s.offline,
        [
            "import",
            "--key",
            "b.pem",
            "-o",
            "keys.tgz.age",
            "--passphrase-file",
            "pass.txt",
        ],
        &[],
    )
    .expect(0, "signer import");
    std::fs::remove_file(pem).unwrap();
}

#[test]
fn a_transaction_staged_with_fioctl_is_cosigned_by_our_signer_and_applies() {
    let s = Setup::new();
    let a = factory_first_root(&s.state);
    let (a2, b) = (key(), key());
    let txid = fioctl_stages_rotation(&s, &a, &a2, &b);
    // One holder is not enough: the simulator refuses to apply.
    let (st, v) = apply(&s.sim, &txid);
    assert_eq!(st, 422, "{v}");
    assert!(s.served("ci", 2).is_none());
    let (staged_ci, staged_prod) = staged(&s.sim);

    import_key(&s, &b);
    s.submitter([
        "propose",
        "--txid",
        &txid,
        "--sign-staged",
        "-o",
        "proposal.json",
    ])
    .expect(0, "propose --sign-staged");
    let p: Value =
        serde_json::from_slice(&std::fs::read(s.online.join("proposal.json")).unwrap()).unwrap();
    assert_eq!(p["change"], json!({"add_keys": 0, "sign_staged": true}));
    let show = run("submitter", &s.online, ["show", "proposal.json"], &[]);
    show.expect(0, "submitter show");
    assert!(
        show.stdout.contains("sign the staged roots as they are"),
        "{}",
        show.all()
    );
    s.to_offline("proposal.json");
    let review = run("signer", &s.offline, ["review", "proposal.json"], &[]);
    review.expect(0, "signer review");
    assert!(
        review
            .stdout
            .contains("none: signs the staged roots as they are"),
        "{}",
        review.all()
    );
    // 2 of 2 is a guard rail (losing one key blocks rotations): --force.
    let sign = run(
        "signer",
        &s.offline,
        SignArgs::new().extra(["--force"]),
        &[],
    );
    sign.expect(0, "signer sign");
    let screen = &sign.stdout;
    for want in [
        "!! PREPARED ONLINE, BY THE SERVER OR ANOTHER HOLDER, NOT BY THIS CEREMONY".to_string(),
        format!(
            "!! already signed by {} (a root key of the current root",
            id(&a)
        ),
        format!(
            "!! already signed by {} (a root key of the new root",
            id(&a2)
        ),
        "none: signs the staged roots as they are".to_string(),
        id(&b),
        "Bundle written to bundle.json (complete".to_string(),
    ] {
        assert!(screen.contains(&want), "{want}\n{}", sign.all());
    }
    // The whole diff current → staged is in the frame: the key removed and
    // both added, for each chain.
    let framed: Vec<&str> = screen.lines().filter(|l| l.starts_with("!! ")).collect();
    for k in [id(&a), id(&a2), id(&b)] {
        assert!(
            framed.iter().filter(|l| l.contains(&k)).count() >= 2,
            "{k}\n{screen}"
        );
    }
    let transcript = std::fs::read_to_string(s.offline.join("bundle.transcript.jsonl")).unwrap();
    assert!(
        transcript.contains("signs the staged roots as they are"),
        "{transcript}"
    );

    s.to_online("bundle.json");
    let up = s.submitter(["upload", "bundle.json"]);
    up.expect(0, "upload");
    assert!(up.stdout.contains("uploaded and applied"), "{}", up.all());
    // Applied, with the body fioctl's holder signed, byte for byte in
    // `signed`, and all three signatures.
    for (chain, staged) in [("ci", &staged_ci), ("prod", &staged_prod)] {
        let served = s.served(chain, 2).expect(chain);
        assert_eq!(served["signed"], staged["signed"], "{chain}");
        assert_eq!(
            signature_ids(&served),
            sorted(vec![id(&a), id(&a2), id(&b)]),
            "{chain}"
        );
    }
    let audit = s.submitter(["audit", "--factory", "acme", "--api", &s.sim.url]);
    audit.expect(0, "audit");
}

/// Our rotation, first holder: the first root key A rotated to C, a key a
/// fioctl holder made (`--provided-key`). Our signer signs with A only, so
/// the bundle is partial.
fn our_partial_rotation(s: &Setup, c: &PrivateKey) -> String {
    run(
        "signer",
        &s.offline,
        [
            "import",
            s.state.join("factory-keys.tgz").to_str().unwrap(),
            "-o",
            "keys.tgz.age",
            "--passphrase-file",
            "pass.txt",
        ],
        &[],
    )
    .expect(0, "signer import");
    std::fs::write(
        s.online.join("c.pub.json"),
        PubkeyFile::new(&c.public_key(), Some("fioctl holder".into()), None).to_bytes(),
    )
    .unwrap();
    s.submitter([
        "propose",
        "--rotate-all",
        "--provided-key",
        "c.pub.json",
        "-o",
        "proposal.json",
    ])
    .expect(0, "propose");
    s.to_offline("proposal.json");
    let sign = run("signer", &s.offline, SignArgs::new(), &[]);
    sign.expect(0, "signer sign");
    assert!(sign.stdout.contains("PARTIAL bundle"), "{}", sign.all());
    s.to_online("bundle.json");
    let p: Value =
        serde_json::from_slice(&std::fs::read(s.online.join("proposal.json")).unwrap()).unwrap();
    p["txid"].as_str().unwrap().to_string()
}

#[test]
fn our_partial_rotation_is_completed_with_fioctl_updates_sign_and_applies() {
    let s = Setup::new();
    let a = factory_first_root(&s.state);
    let c = key();
    let txid = our_partial_rotation(&s, &c);

    // The partial bundle goes into the transaction; nothing is applied, and
    // the output names the missing key in full and both ways to add it.
    let up = s.submitter(["upload", "bundle.json"]);
    up.expect(0, "upload of the partial bundle");
    for want in [
        "uploaded, NOT applied".to_string(),
        id(&c),
        format!("fioctl keys tuf updates sign --txid {txid}"),
        format!("--txid {txid} --sign-staged"),
        format!("fioctl keys tuf updates apply --txid {txid}"),
    ] {
        assert!(up.stdout.contains(&want), "{want}\n{}", up.all());
    }
    assert!(s.served("ci", 2).is_none());
    let (st, _) = apply(&s.sim, &txid);
    assert_eq!(st, 422, "one holder must not be enough");

    // The second holder signs with fioctl.
    let (st, v) = fioctl_sign(&s.sim, &txid, &[&c]);
    assert_eq!(st, 200, "{v}");
    let (ci, _) = staged(&s.sim);
    assert_eq!(signature_ids(&ci), sorted(vec![id(&a), id(&c)]));

    // Upload again: both signatures kept, both thresholds met, applied.
    let up = s.submitter(["upload", "bundle.json"]);
    up.expect(0, "upload again");
    assert!(up.stdout.contains("uploaded and applied"), "{}", up.all());
    for chain in ["ci", "prod"] {
        let served = s.served(chain, 2).expect(chain);
        assert_eq!(
            signature_ids(&served),
            sorted(vec![id(&a), id(&c)]),
            "{chain}"
        );
        assert_eq!(served["signed"]["roles"]["root"]["keyids"], json!([id(&c)]));
    }
    // And again: nothing more to do.
    let up = s.submitter(["upload", "bundle.json"]);
    up.expect(0, "upload a third time");
    assert!(up.stdout.contains("already applied"), "{}", up.all());
}

#[test]
fn a_staged_body_changed_after_the_proposal_is_refused_and_nothing_is_sent() {
    let s = Setup::new();
    let c = key();
    let txid = our_partial_rotation(&s, &c);
    // Another admin changes the staged body (fioctl clears every signature
    // on such a change).
    let (mut ci, mut prod) = staged(&s.sim);
    for r in [&mut ci, &mut prod] {
        r["signed"]["x-changelog"]["message"] = json!("changed by another admin");
        r["signatures"] = json!([]);
    }
    let body = json!({"txid": txid, "ci-root": ci, "prod-root": prod});
    let (st, v) = call(&s.sim, "PUT", &format!("{REPO}/root/updates"), Some(&body));
    assert_eq!(st, 200, "{v}");
    let before = staged(&s.sim);

    let up = s.submitter(["upload", "bundle.json"]);
    up.expect(3, "upload over a changed staged body");
    assert!(
        up.all()
            .contains("the staged roots changed since the proposal"),
        "{}",
        up.all()
    );
    assert!(up.all().contains("propose again"), "{}", up.all());
    assert_eq!(staged(&s.sim), before, "nothing was PUT");
    assert!(s.served("ci", 2).is_none());
}

#[test]
fn sign_staged_refuses_another_change_and_drops_an_invalid_signature() {
    let s = Setup::new();
    let a = factory_first_root(&s.state);
    let (a2, b) = (key(), key());
    let txid = fioctl_stages_rotation(&s, &a, &a2, &b);

    // The flag stands alone on the command line.
    let r = s.submitter([
        "propose",
        "--txid",
        &txid,
        "--sign-staged",
        "--rotate-all",
        "-o",
        "other.json",
    ]);
    r.expect(2, "--sign-staged --rotate-all");
    assert!(!s.online.join("other.json").exists());

    import_key(&s, &b);
    s.submitter([
        "propose",
        "--txid",
        &txid,
        "--sign-staged",
        "-o",
        "proposal.json",
    ])
    .expect(0, "propose --sign-staged");
    let p: Value =
        serde_json::from_slice(&std::fs::read(s.online.join("proposal.json")).unwrap()).unwrap();

    // A proposal asking for sign_staged and a rotation: refused (exit 3)
    // before anything is asked or written.
    let mut both = p.clone();
    both["change"]["rotate"] = json!("all");
    std::fs::write(
        s.offline.join("both.json"),
        serde_json::to_vec_pretty(&both).unwrap(),
    )
    .unwrap();
    let r = run(
        "signer",
        &s.offline,
        SignArgs::new()
            .proposal("both.json")
            .out("both-bundle.json")
            .new_archive(Some("both.tgz.age"))
            .extra(["--force"]),
        &[],
    );
    r.expect(3, "sign_staged with rotate");
    assert!(r.all().contains("sign_staged"), "{}", r.all());
    for f in [
        "both-bundle.json",
        "both.tgz.age",
        "both-bundle.transcript.jsonl",
    ] {
        assert!(!s.offline.join(f).exists(), "{f} written on refusal");
    }

    // A staged signature that does not verify (A2's id over another body):
    // dropped, and the screen says so; the valid one (A's) is kept.
    let mut bad = p.clone();
    for chain in bad["chains"].as_array_mut().unwrap() {
        let sigs = chain["staged"]["signatures"].as_array_mut().unwrap();
        for sig in sigs.iter_mut() {
            if sig["keyid"] == json!(id(&a2)) {
                sig["sig"] = json!(base64_of(&[7u8; 64]));
            }
        }
    }
    std::fs::write(
        s.offline.join("proposal.json"),
        serde_json::to_vec_pretty(&bad).unwrap(),
    )
    .unwrap();
    let sign = run(
        "signer",
        &s.offline,
        SignArgs::new().extra(["--force"]),
        &[],
    );
    sign.expect(0, "sign with an invalid staged signature");
    assert!(
        sign.stdout.contains(&format!(
            "!! DROPPED: the signature under key id {}",
            id(&a2)
        )),
        "{}",
        sign.all()
    );
    assert!(
        sign.stdout
            .contains(&format!("!! already signed by {}", id(&a))),
        "{}",
        sign.all()
    );
    // Without A2's signature the new root's threshold (2) is not met:
    // a partial bundle, which lacks the dropped signature.
    assert!(sign.stdout.contains("PARTIAL bundle"), "{}", sign.all());
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(s.offline.join("bundle.json")).unwrap()).unwrap();
    for r in bundle["roots"].as_array().unwrap() {
        assert_eq!(
            signature_ids(&r["root"]),
            sorted(vec![id(&a), id(&b)]),
            "{}",
            r["name"]
        );
    }
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn a_complete_cosigned_bundle_over_a_changed_staged_body_is_refused() {
    let s = Setup::new();
    let a = factory_first_root(&s.state);
    let (a2, b) = (key(), key());
    let txid = fioctl_stages_rotation(&s, &a, &a2, &b);
    import_key(&s, &b);
    s.submitter([
        "propose",
        "--txid",
        &txid,
        "--sign-staged",
        "-o",
        "proposal.json",
    ])
    .expect(0, "propose --sign-staged");
    s.to_offline("proposal.json");
    let sign = run(
        "signer",
        &s.offline,
        SignArgs::new().extra(["--force"]),
        &[],
    );
    sign.expect(0, "signer sign");
    assert!(sign.stdout.contains("(complete"), "{}", sign.all());
    s.to_online("bundle.json");
    // The admin changes the staged roots again (fioctl clears the
    // signatures): our complete bundle must not overwrite that silently.
    let (mut ci, mut prod) = staged(&s.sim);
    for r in [&mut ci, &mut prod] {
        r["signed"]["roles"]["root"]["threshold"] = json!(1);
        r["signatures"] = json!([]);
    }
    let body = json!({"txid": txid, "ci-root": ci, "prod-root": prod});
    let (st, v) = call(&s.sim, "PUT", &format!("{REPO}/root/updates"), Some(&body));
    assert_eq!(st, 200, "{v}");
    let before = staged(&s.sim);
    let up = s.submitter(["upload", "bundle.json"]);
    up.expect(3, "upload over a changed staged body");
    assert!(
        up.all()
            .contains("the staged roots changed since the proposal"),
        "{}",
        up.all()
    );
    assert_eq!(staged(&s.sim), before, "nothing was PUT");
    assert!(s.served("ci", 2).is_none());
}
