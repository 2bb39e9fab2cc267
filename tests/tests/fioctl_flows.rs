//! fioctl's own `keys tuf` flows against factory-sim, driven by the
//! emulation in `ceremony_tests::fioctl` (written from fioctl v0.46's
//! source, apart from the `ceremony` crate), each asserting what fioctl
//! would print or die with; then sequences that alternate fioctl and our
//! binaries on one Factory.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use ceremony_tests::fioctl::creds;
use ceremony_tests::fioctl::crypto::KeyType;
use ceremony_tests::fioctl::model::{round_trips, TufRoot};
use ceremony_tests::fioctl::{Died, Fioctl, Offline};
use ceremony_tests::fixture::SignArgs;
use ceremony_tests::harness::{factory_sim, passphrase_file, run, token_file, Server, TOKEN};
use serde_json::Value;

struct Factory {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    state: PathBuf,
    sim: Server,
}

impl Factory {
    fn new(no_prod: bool) -> Factory {
        Factory::with_key(no_prod, "ed25519")
    }

    /// A Factory whose first root key (and online keys) are `key_type`.
    fn with_key(no_prod: bool, key_type: &str) -> Factory {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let state = dir.join("factory");
        let mut init = ceremony_tests::cmd::TestCommand::new("factory-sim", &dir);
        init.arg("init").arg(&state).args(["--key-type", key_type]);
        if no_prod {
            init.arg("--no-prod");
        }
        init.expect(0, "factory-sim init");
        let sim = factory_sim(&state, &[]);
        Factory {
            _tmp: tmp,
            dir,
            state,
            sim,
        }
    }

    fn fioctl(&self) -> Fioctl {
        Fioctl::new(&self.sim.url, "acme", TOKEN)
    }

    fn root(&self, chain: &str, n: u64) -> Value {
        let p = self.state.join(format!("{chain}/{n}.root.json"));
        serde_json::from_slice(
            &std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        )
        .unwrap()
    }

    fn has(&self, chain: &str, n: u64) -> bool {
        self.state.join(format!("{chain}/{n}.root.json")).exists()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The first-time flow in one step: `fioctl keys tuf rotate-offline-key
    /// --role=root --first-time --keys=F`. Returns the tarball.
    fn take_offline(&self, name: &str) -> PathBuf {
        let keys = self.path(name);
        let mut f = self.fioctl();
        f.rotate_root_one_step(&keys, true, None)
            .unwrap_or_else(|d| panic!("first-time rotation: {d}\n{}", f.out));
        keys
    }
}

/// The result of a fioctl command that must succeed (else: what it printed).
macro_rules! ok {
    ($f:ident, $e:expr $(,)?) => {{
        let r: Result<_, Died> = $e;
        r.unwrap_or_else(|d| panic!("fioctl died: {d}\n--- printed:\n{}", $f.out))
    }};
}

fn root_ids(root: &Value, role: &str) -> Vec<String> {
    root["signed"]["roles"][role]["keyids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn sig_ids(root: &Value) -> Vec<String> {
    root["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["keyid"].as_str().unwrap().to_string())
        .collect()
}

fn tuf(root: &Value) -> TufRoot {
    TufRoot::decode(root).unwrap()
}

// ------------------------------------------------------- the table rows ----

#[test]
fn show_root_and_download_roots_as_fioctl_sends_them() {
    let fx = Factory::new(false);
    let mut f = fx.fioctl();
    let shown = ok!(f, f.show_root(false));
    let printed: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(printed, fx.root("ci", 1), "show-root prints the CI root");
    let prod: Value = serde_json::from_str(&ok!(f, f.show_root(true))).unwrap();
    assert_eq!(prod, fx.root("prod", 1));
    let entries = ok!(f, f.download_roots(false, &fx.path("ci-roots.tgz")));
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0, "1.root.json");
    let downloaded: Value = serde_json::from_slice(&entries[0].1).unwrap();
    assert_eq!(downloaded, fx.root("ci", 1));
    assert_eq!(
        creds::read(&fx.path("ci-roots.tgz")).unwrap()["1.root.json"],
        entries[0].1
    );
    let entries = ok!(f, f.download_roots(true, &fx.path("prod-roots.tgz")));
    assert_eq!(entries.len(), 1);
    assert!(f.out.contains("= Adding 1.root.json"), "{}", f.out);

    let sent = f.sent();
    assert_eq!(sent[0].method, "GET");
    assert_eq!(sent[0].target, "/ota/repo/acme/api/v1/user_repo/root.json");
    assert_eq!(
        sent[1].target,
        "/ota/repo/acme/api/v1/user_repo/root.json?production=1"
    );
    assert_eq!(
        sent[2].target,
        "/ota/repo/acme/api/v1/user_repo/1.root.json"
    );
    assert_eq!(
        sent[3].target,
        "/ota/repo/acme/api/v1/user_repo/2.root.json"
    );
    assert_eq!(
        sent[5].target,
        "/ota/repo/acme/api/v1/user_repo/2.root.json?production=1"
    );
    for s in &sent {
        assert_eq!(s.header("OSF-TOKEN"), Some(TOKEN));
        assert_eq!(s.header("User-Agent"), Some("fioctl-v0.46"));
        assert_eq!(s.header("Content-Type"), None, "a GET has no body");
    }
}

#[test]
fn a_wrong_token_dies_with_the_servers_message() {
    let fx = Factory::new(false);
    let mut f = Fioctl::new(&fx.sim.url, "acme", "not-the-token");
    let died = f.show_root(false).unwrap_err();
    let url = format!("{}/ota/repo/acme/api/v1/user_repo/root.json", fx.sim.url);
    assert_eq!(
        died.0,
        format!("ERROR: HTTP error during GET '{url}': 401 Unauthorized\n= invalid API token\n")
    );
    // TOKEN_HEADER names another header for the token.
    let mut f = fx.fioctl();
    f.api.token_header = "X-Other".into();
    assert!(f
        .show_root(false)
        .unwrap_err()
        .0
        .contains("401 Unauthorized"));
}

#[test]
fn review_with_no_transaction() {
    let fx = Factory::new(false);
    let mut f = fx.fioctl();
    let printed = ok!(f, f.updates_review());
    assert_eq!(printed, "There are no TUF root updates in progress.\n");
}

#[test]
fn init_review_second_init_and_cancel() {
    let fx = Factory::new(false);
    let mut f = fx.fioctl();
    let init = ok!(f, f.updates_init("a reason", None));
    assert_eq!(init.txid.len(), 32, "{}", f.out);
    assert!(f
        .out
        .contains(&format!("Your transaction ID is {} .", init.txid)));
    let body = f.sent().last().unwrap().body.clone().unwrap();
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"first-time":false,"message":"a reason","shortcut":false}"#
    );
    let review = ok!(f, f.updates_review());
    assert!(
        review.starts_with("The following TUF root updates are staged for your Factory:\n - ci root: version 1 -> 2\n"),
        "{review}"
    );
    // The staged root has no signatures yet: the server says so, as an
    // object fioctl can decode.
    assert!(
        review.contains("These updates to your staged TUF root are mandatory before applying it:"),
        "{review}"
    );
    let died = f.updates_init("again", None).unwrap_err();
    assert!(died.0.contains(": 409 Conflict\n= "), "{died}");
    assert!(
        died.0
            .ends_with("\n=Only one TUF root updates transaction can be active at a time\n"),
        "{died}"
    );
    ok!(f, f.updates_cancel());
    assert!(f.out.ends_with(
        "The staged TUF root updates were canceled.\nNo other changes were made to your Factory.\n"
    ));
    assert_eq!(f.sent().last().unwrap().header("Content-Length"), Some("0"));
    assert_eq!(
        ok!(f, f.updates_review()),
        "There are no TUF root updates in progress.\n"
    );
    // Nothing to cancel now.
    assert!(f.updates_cancel().unwrap_err().0.contains("404 Not Found"));
}

#[test]
fn first_time_init_hands_out_the_first_root_key_then_expert_rotation() {
    let fx = Factory::new(false);
    let keys = fx.path("root.tgz");
    let mut f = fx.fioctl();
    let init = ok!(f, f.updates_init("take the root offline", Some(&keys)));
    let c = creds::read(&keys).unwrap();
    assert_eq!(c.len(), 2);
    for name in ["tufrepo/keys/first-root.pub", "tufrepo/keys/first-root.sec"] {
        assert!(!c[name].is_empty(), "{name} is empty");
    }
    // The key is the one the current root lists.
    let v1 = tuf(&fx.root("ci", 1));
    let signer = creds::find_one(&v1, &c, &v1.signed.role_ids("root")).unwrap();
    assert_eq!(signer.id, root_ids(&fx.root("ci", 1), "root")[0]);
    // A second first-time init refuses to overwrite the tarball.
    let died = f.updates_init("again", Some(&keys)).unwrap_err();
    assert!(
        died.0.starts_with("ERROR: Destination file exists."),
        "{died}"
    );

    let new_id = ok!(
        f,
        f.rotate_offline_root(&init.txid, &keys, KeyType::Ed25519, true)
    );
    assert!(
        f.out.contains(&format!("= New root keyid: {new_id}")),
        "{}",
        f.out
    );
    assert!(
        f.out
            .contains(&format!("= Removing unused key: {}", signer.id)),
        "{}",
        f.out
    );
    let review = ok!(f, f.updates_review());
    assert!(!review.contains("mandatory"), "{review}");
    assert!(
        review.contains(&format!("ci root: key {new_id} now signs for root")),
        "{review}"
    );
    ok!(f, f.updates_apply(&init.txid));

    let (ci, prod) = (fx.root("ci", 2), fx.root("prod", 2));
    assert_eq!(root_ids(&ci, "root"), vec![new_id.clone()]);
    let mut sigs = sig_ids(&ci);
    sigs.sort();
    let mut want = vec![new_id.clone(), signer.id.clone()];
    want.sort();
    assert_eq!(sigs, want, "signed by the new and the first root key");
    assert_eq!(ci["signed"]["roles"]["targets"]["threshold"], 1);
    assert_eq!(
        prod["signed"]["roles"]["targets"]["threshold"], 2,
        "fioctl's production root"
    );
    assert_eq!(
        ci["signed"]["x-key-owners"][&new_id]["polis-id"],
        "sim-user-0001"
    );
    assert_eq!(
        ci["signed"]["x-changelog"]["message"],
        "take the root offline"
    );
    // The tarball now holds the new key beside the first one.
    let c = creds::read(&keys).unwrap();
    assert!(c.contains_key(&format!("tufrepo/keys/fioctl-root-{new_id}.sec")));
    // What fioctl PUT: txid first, then the roots, no targets signatures.
    let put = f.sent().into_iter().find(|s| s.method == "PUT").unwrap();
    let text = String::from_utf8(put.body.clone().unwrap()).unwrap();
    assert!(
        text.starts_with(&format!(
            r#"{{"txid":"{}","ci-root":{{"signatures":["#,
            init.txid
        )),
        "{text}"
    );
    assert!(!text.contains("targets-signatures"), "{text}");
    for r in [&ci, &prod] {
        round_trips(r).unwrap();
    }
}

#[test]
fn one_step_rotation_first_time_then_again() {
    let fx = Factory::new(false);
    let keys = fx.take_offline("root.tgz");
    assert!(fx.has("ci", 2) && fx.has("prod", 2));
    assert_eq!(
        fx.root("prod", 2)["signed"]["roles"]["targets"]["threshold"],
        2
    );
    let mut f = fx.fioctl();
    let second = ok!(f, f.rotate_root_one_step(&keys, false, Some("second")));
    assert!(
        f.out
            .starts_with("= Creating new TUF updates transaction\n"),
        "{}",
        f.out
    );
    assert!(
        f.out.contains("= Applying staged TUF root changes\n"),
        "{}",
        f.out
    );
    assert!(
        !f.out.contains("Your transaction ID"),
        "the shortcut does not print it"
    );
    assert_eq!(root_ids(&fx.root("ci", 3), "root"), vec![second]);
    // fioctl keeps the staged production threshold (2) from here on.
    assert_eq!(
        fx.root("prod", 3)["signed"]["roles"]["targets"]["threshold"],
        2
    );
    // The shortcut: init says so, PUT and apply carry an empty txid.
    let sent = f.sent();
    let init = sent.iter().find(|s| s.method == "POST").unwrap();
    assert_eq!(init.json()["shortcut"], true);
    let put = sent.iter().find(|s| s.method == "PUT").unwrap();
    assert_eq!(put.json()["txid"], "");
    let apply = sent.iter().find(|s| s.target.ends_with("/apply")).unwrap();
    assert_eq!(
        String::from_utf8(apply.body.clone().unwrap()).unwrap(),
        r#"{"txid":""}"#
    );
    // The tarball holds two root keys, one active: fioctl can use it again.
    let c = creds::read(&keys).unwrap();
    assert_eq!(c.keys().filter(|k| k.ends_with(".sec")).count(), 3);
}

#[test]
fn a_tarball_with_two_active_root_keys_is_refused() {
    let fx = Factory::new(false);
    let keys = fx.take_offline("root.tgz");
    let mut f = fx.fioctl();
    let init = ok!(f, f.updates_init("two holders", None));
    let second = fx.path("second.tgz");
    ok!(
        f,
        f.add_offline_root_key(&init.txid, &second, KeyType::Ed25519)
    );
    // Adding into a tarball that already holds an active root key is refused.
    let died = f
        .add_offline_root_key(&init.txid, &keys, KeyType::Ed25519)
        .unwrap_err();
    assert_eq!(
        died.0,
        "ERROR: It is not allowed to store more than one active private key per file.\n"
    );
    // A tarball with both active keys (merged by hand) cannot sign.
    let mut both = creds::read(&keys).unwrap();
    both.extend(creds::read(&second).unwrap());
    let merged = fx.path("merged.tgz");
    creds::save(&merged, &both).unwrap();
    let died = f.updates_sign(&init.txid, &merged).unwrap_err();
    assert!(
        died.0.starts_with("ERROR: Error reading new TUF Root private key from specified file:\n Found more than one active private key for key IDs: ["),
        "{died}"
    );
}

#[test]
fn add_offline_key_set_threshold_and_cosign() {
    let fx = Factory::new(false);
    let keys = fx.take_offline("root.tgz");
    let mut f = fx.fioctl();
    let init = ok!(f, f.updates_init("two of two", None));
    let second = fx.path("second.tgz");
    let added = ok!(
        f,
        f.add_offline_root_key(&init.txid, &second, KeyType::Ed25519)
    );
    assert!(f.out.contains(&format!("= New root keyid: {added}")));
    // Root threshold 2, signed by the first holder.
    ok!(
        f,
        f.set_threshold(Offline::Root, 2, &init.txid, Some(&keys))
    );
    // One signature of two: apply is refused, nothing changes.
    let died = f.updates_apply(&init.txid).unwrap_err();
    assert!(died.0.contains("422 Unprocessable Entity"), "{died}");
    assert!(
        died.0.contains("No changes were made to your Factory."),
        "{died}"
    );
    assert!(!fx.has("ci", 3));
    // The second holder adds theirs; the first holder's stays.
    ok!(f, f.updates_sign(&init.txid, &second));
    ok!(f, f.updates_apply(&init.txid));
    let ci = fx.root("ci", 3);
    assert_eq!(ci["signed"]["roles"]["root"]["threshold"], 2);
    assert_eq!(root_ids(&ci, "root").len(), 2);
    assert_eq!(sig_ids(&ci).len(), 2);
    // A threshold below fioctl's minimum dies before any request.
    let n = f.sent().len();
    let died = f.set_threshold(Offline::Targets, 1, "", None).unwrap_err();
    assert_eq!(
        died.0,
        "ERROR: Threshold for TUF Targets must be greater than 2: 1\n"
    );
    assert_eq!(f.sent().len(), n);

    // Delete the second key again (by id), signed by both holders.
    let init = ok!(f, f.updates_init("back to one", None));
    ok!(f, f.delete_offline_root_key(&init.txid, None, Some(&added)));
    ok!(
        f,
        f.set_threshold(Offline::Root, 1, &init.txid, Some(&keys))
    );
    ok!(f, f.updates_sign(&init.txid, &second));
    ok!(f, f.updates_apply(&init.txid));
    let ci = fx.root("ci", 4);
    assert_eq!(root_ids(&ci, "root").len(), 1);
    assert!(ci["signed"]["keys"].get(&added).is_none());
    assert!(
        ci["signed"]["x-key-owners"].get(&added).is_none(),
        "removeUnusedTufKeys drops the owner of a dropped key"
    );
}

#[test]
fn rotate_online_keys() {
    let fx = Factory::new(false);
    let keys = fx.take_offline("root.tgz");
    let old = fx.root("ci", 2);
    let mut f = fx.fioctl();
    let init = ok!(f, f.updates_init("online keys", None));
    let ids = ok!(
        f,
        f.rotate_online_key(
            &["Targets", "snapshot"],
            &init.txid,
            KeyType::Ed25519,
            Some(&keys)
        ),
    );
    assert!(
        f.out
            .contains(&format!("= New online targets keyid: {}", ids["targets"])),
        "{}",
        f.out
    );
    let gen = f
        .sent()
        .into_iter()
        .find(|s| s.target.ends_with("/gen-online-keys"))
        .unwrap();
    assert_eq!(
        String::from_utf8(gen.body.unwrap()).unwrap(),
        format!(
            r#"{{"key-type":"ED25519","snapshot":true,"targets":true,"txid":"{}"}}"#,
            init.txid
        )
    );
    ok!(f, f.updates_apply(&init.txid));
    let ci = fx.root("ci", 3);
    assert_eq!(root_ids(&ci, "targets"), vec![ids["targets"].clone()]);
    assert_eq!(root_ids(&ci, "snapshot"), vec![ids["snapshot"].clone()]);
    assert_eq!(root_ids(&ci, "timestamp"), root_ids(&old, "timestamp"));
    assert_eq!(
        fx.root("prod", 3)["signed"]["roles"]["targets"]["threshold"],
        2
    );
}

#[test]
fn rotate_offline_targets_key_resigns_production_targets() {
    let fx = Factory::new(false);
    let keys = fx.take_offline("root.tgz");
    let targets = fx.path("targets.tgz");
    let mut f = fx.fioctl();
    // The first offline targets key: nothing was signed by an offline
    // targets key before, so nothing is re-signed.
    let init = ok!(f, f.updates_init("offline targets", None));
    let (first, resigned) = ok!(
        f,
        f.rotate_offline_targets(&init.txid, Some(&keys), Some(&targets), true),
    );
    assert!(resigned.is_empty(), "{resigned:?}");
    ok!(f, f.updates_apply(&init.txid));
    let prod = fx.root("prod", 3);
    assert_eq!(root_ids(&prod, "targets").len(), 2, "online and offline");
    assert!(root_ids(&prod, "targets").contains(&first));
    // Production targets signed by that offline key (as `sign-prod-targets`
    // would leave them): the next rotation re-signs them with its new key.
    let tc = creds::read(&targets).unwrap();
    let holder = creds::find_one(&tuf(&prod), &tc, std::slice::from_ref(&first)).unwrap();
    let path = fx.state.join("prod-targets/main.json");
    let mut main: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let bytes = ceremony_tests::fioctl::targets_signed_bytes(&main["signed"]).unwrap();
    let sig = ceremony_tests::fioctl::crypto::sign_meta(&bytes, &[&holder]);
    main["signatures"]
        .as_array_mut()
        .unwrap()
        .push(sig[0].encode());
    std::fs::write(&path, serde_json::to_vec(&main).unwrap()).unwrap();
    // And a wave of those targets, signed the same way: while it is active
    // the server refuses a targets rotation (fioctl's own help,
    // tuf_updates_rotate_offline_key.go: "If there is an active Wave, the
    // TUF targets rotation is not allowed").
    std::fs::create_dir_all(fx.state.join("wave-targets")).unwrap();
    let wave_path = fx.state.join("wave-targets/w1.json");
    std::fs::write(&wave_path, serde_json::to_vec(&main).unwrap()).unwrap();
    let init = ok!(f, f.updates_init("offline targets again", None));
    let died = f
        .rotate_offline_targets(&init.txid, Some(&keys), Some(&targets), true)
        .unwrap_err();
    assert!(
        died.0.contains("not allowed while a wave is active"),
        "{died}"
    );
    ok!(f, f.updates_cancel());
    std::fs::remove_file(&wave_path).unwrap();

    let init = ok!(f, f.updates_init("offline targets again", None));
    let (second, resigned) = ok!(
        f,
        f.rotate_offline_targets(&init.txid, Some(&keys), Some(&targets), true),
    );
    assert_eq!(resigned, vec!["main".to_string()]);
    let put = f
        .sent()
        .into_iter()
        .rev()
        .find(|s| s.method == "PUT")
        .unwrap();
    assert_eq!(put.json()["targets-signatures"]["main"][0]["keyid"], second);
    assert!(
        put.json()["waves-signatures"]
            .as_object()
            .is_none_or(|m| m.is_empty()),
        "{}",
        put.json()
    );
    ok!(f, f.updates_apply(&init.txid));
    let new_key = tuf(&fx.root("prod", 4)).signed.keys.unwrap()[&second].clone();
    {
        let p = &path;
        let t: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        let sig = t["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["keyid"] == second.as_str())
            .unwrap_or_else(|| panic!("{}: no signature by the new key: {t}", p.display()));
        // The new signature verifies over fioctl's form of the targets.
        let public: [u8; 32] = hex::decode(&new_key.public).unwrap().try_into().unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(sig["sig"].as_str().unwrap())
            .unwrap();
        let bytes = ceremony_tests::fioctl::targets_signed_bytes(&t["signed"]).unwrap();
        ed25519_dalek::VerifyingKey::from_bytes(&public)
            .unwrap()
            .verify_strict(
                &bytes,
                &ed25519_dalek::Signature::from_bytes(&raw.try_into().unwrap()),
            )
            .unwrap();
    }
    let prod = fx.root("prod", 4);
    assert!(root_ids(&prod, "targets").contains(&second));
    assert!(!root_ids(&prod, "targets").contains(&first));
}

#[test]
fn a_factory_without_a_production_root() {
    let fx = Factory::new(true);
    let mut f = fx.fioctl();
    let died = f.show_root(true).unwrap_err();
    assert!(died.0.contains(": 404 Not Found"), "{died}");
    assert!(ok!(f, f.download_roots(true, &fx.path("prod.tgz"))).is_empty());
    assert_eq!(
        ok!(f, f.updates_review()),
        "There are no TUF root updates in progress.\n"
    );
    let keys = fx.take_offline("root.tgz");
    assert!(keys.exists());
    // The first production root follows the CI root it was derived from.
    let prod = fx.root("prod", 2);
    assert_eq!(prod["signed"]["roles"]["targets"]["threshold"], 2);
    assert_eq!(
        prod["signed"]["roles"]["root"],
        fx.root("ci", 2)["signed"]["roles"]["root"]
    );
    let shown: Value = serde_json::from_str(&ok!(f, f.show_root(true))).unwrap();
    assert_eq!(shown, prod);
}

// ------------------------------------------------ across both tools ----

/// `submitter audit --factory` against the simulator.
fn audit(fx: &Factory, dir: &Path) {
    let tok = token_file(dir);
    let out = run(
        "submitter",
        dir,
        [
            "audit",
            "--factory",
            "acme",
            "--api",
            &fx.sim.url,
            "--token-file",
            tok.to_str().unwrap(),
        ],
        &[],
    );
    out.expect(0, "submitter audit --factory");
}

/// One rotation by our tools: propose (`--rotate-all` and `extra`), sign
/// (import the tarball first when `import` is given), upload; `pass` opens
/// every archive. Returns the archive the signer wrote.
fn our_rotation(
    fx: &Factory,
    import: Option<&Path>,
    archive: &Path,
    round: u32,
    pass: &Path,
    extra: &[&str],
) -> PathBuf {
    let online = fx.path(&format!("online{round}"));
    let offline = fx.path(&format!("offline{round}"));
    std::fs::create_dir_all(&online).unwrap();
    std::fs::create_dir_all(&offline).unwrap();
    let tok = token_file(&online);
    let pass = pass.to_str().unwrap();
    if let Some(tgz) = import {
        run(
            "signer",
            &offline,
            [
                "import",
                tgz.to_str().unwrap(),
                "-o",
                archive.to_str().unwrap(),
                "--passphrase-file",
                pass,
            ],
            &[],
        )
        .expect(0, "signer import");
    }
    run(
        "submitter",
        &online,
        [
            "propose",
            "--factory",
            "acme",
            "--api",
            &fx.sim.url,
            "--token-file",
            tok.to_str().unwrap(),
            "--rotate-all",
            "--message",
            "rotated by tuf-ceremony",
            "-o",
            "proposal.json",
        ]
        .into_iter()
        .chain(extra.iter().copied()),
        &[],
    )
    .expect(0, "submitter propose");
    std::fs::copy(online.join("proposal.json"), offline.join("proposal.json")).unwrap();
    let next = fx.path(&format!("keys-{round}.tgz.age"));
    run(
        "signer",
        &offline,
        SignArgs::new()
            .keys(archive.to_str().unwrap())
            .new_archive(Some(next.to_str().unwrap()))
            .passphrase_file(Some(pass)),
        &[],
    )
    .expect(0, "signer sign");
    std::fs::copy(offline.join("bundle.json"), online.join("bundle.json")).unwrap();
    run(
        "submitter",
        &online,
        [
            "upload",
            "bundle.json",
            "--token-file",
            tok.to_str().unwrap(),
        ],
        &[],
    )
    .expect(0, "submitter upload");
    next
}

#[test]
fn fioctl_history_then_ours_then_fioctl_with_our_export() {
    fioctl_then_ours_then_fioctl("ed25519");
}

#[test]
fn fioctl_history_then_ours_then_fioctl_on_an_rsa_factory() {
    fioctl_then_ours_then_fioctl("rsa-2048");
}

fn fioctl_then_ours_then_fioctl(key_type: &str) {
    let fx = Factory::with_key(false, key_type);
    // a. fioctl takes the root offline and rotates once more.
    let keys = fx.take_offline("root.tgz");
    let mut f = fx.fioctl();
    ok!(f, f.rotate_root_one_step(&keys, false, None));
    assert_eq!(
        fx.root("prod", 3)["signed"]["roles"]["targets"]["threshold"],
        2
    );
    let audit_dir = fx.path("audit");
    std::fs::create_dir_all(&audit_dir).unwrap();
    audit(&fx, &audit_dir);

    // We rotate, from fioctl's tarball.
    let archive = fx.path("keys-0.tgz.age");
    let pass = passphrase_file(&fx.dir);
    let next = our_rotation(&fx, Some(&keys), &archive, 1, &pass, &[]);
    assert!(fx.has("ci", 4) && fx.has("prod", 4));
    assert_eq!(
        fx.root("prod", 4)["signed"]["roles"]["targets"]["threshold"],
        2,
        "we keep fioctl's"
    );
    for chain in ["ci", "prod"] {
        round_trips(&fx.root(chain, 4)).unwrap_or_else(|e| panic!("our {chain} v4: {e}"));
    }
    audit(&fx, &audit_dir);

    // fioctl rotates with the tarball `signer export` wrote.
    let exported = fx.path("export.tgz");
    export(&fx, &next, &exported, &pass);
    let mut f = fx.fioctl();
    ok!(
        f,
        f.rotate_root_one_step(&exported, false, Some("fioctl again"))
    );
    assert!(fx.has("ci", 5) && fx.has("prod", 5));
    audit(&fx, &audit_dir);
}

/// `signer export ARCHIVE -o OUT --plaintext`.
fn export(fx: &Factory, archive: &Path, out: &Path, pass: &Path) {
    run(
        "signer",
        &fx.dir,
        [
            "export",
            archive.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--plaintext",
            "--passphrase-file",
            pass.to_str().unwrap(),
        ],
        &[],
    )
    .expect(0, "signer export");
}

#[test]
fn fioctl_signs_with_our_export_after_a_rotation_to_several_keys() {
    let fx = Factory::new(false);
    let keys = fx.take_offline("root.tgz");
    let pass = passphrase_file(&fx.dir);
    let next = our_rotation(
        &fx,
        Some(&keys),
        &fx.path("keys-0.tgz.age"),
        1,
        &pass,
        &["--add", "2", "--threshold", "2"],
    );
    // One tarball with every active key is what fioctl refuses: export
    // refuses it too, and writes one tarball per active key instead.
    let refused = run(
        "signer",
        &fx.dir,
        [
            "export",
            next.to_str().unwrap(),
            "-o",
            fx.path("all.tgz").to_str().unwrap(),
            "--plaintext",
            "--passphrase-file",
            pass.to_str().unwrap(),
        ],
        &[],
    );
    assert_ne!(refused.code, 0, "{}", refused.all());
    assert!(!fx.path("all.tgz").exists());
    let each = fx.path("each");
    run(
        "signer",
        &fx.dir,
        [
            "export",
            next.to_str().unwrap(),
            "--each",
            each.to_str().unwrap(),
            "--plaintext",
            "--passphrase-file",
            pass.to_str().unwrap(),
        ],
        &[],
    )
    .expect(0, "signer export --each");
    let mut tarballs: Vec<PathBuf> = std::fs::read_dir(&each)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    tarballs.sort();
    assert_eq!(tarballs.len(), 3, "one per active root key");
    // Two holders, each with fioctl and one of our tarballs, reach 2 of 3.
    let mut f = fx.fioctl();
    let init = ok!(f, f.updates_init("fioctl signs with our keys", None));
    ok!(f, f.updates_sign(&init.txid, &tarballs[0]));
    let mut f = fx.fioctl();
    ok!(f, f.updates_sign(&init.txid, &tarballs[1]));
    let mut f = fx.fioctl();
    ok!(f, f.updates_apply(&init.txid));
    assert!(fx.has("ci", 4) && fx.has("prod", 4));
}

#[test]
fn every_root_our_signer_makes_round_trips_fioctls_struct() {
    let fx = Factory::new(false);
    let keys = fx.take_offline("root.tgz");
    let archive = fx.path("keys-0.tgz.age");
    let pass = passphrase_file(&fx.dir);
    let next = our_rotation(&fx, Some(&keys), &archive, 1, &pass, &[]);
    // Three root keys, two of them needed.
    let next = our_rotation(
        &fx,
        None,
        &next,
        2,
        &pass,
        &["--add", "2", "--threshold", "2"],
    );
    assert_eq!(root_ids(&fx.root("ci", 4), "root").len(), 3);
    // One of three needed again, and a shorter life.
    our_rotation(
        &fx,
        None,
        &next,
        3,
        &pass,
        &["--threshold", "1", "--expires-in", "90"],
    );
    for n in 3..=5 {
        for chain in ["ci", "prod"] {
            let root = fx.root(chain, n);
            round_trips(&root).unwrap_or_else(|e| {
                panic!("our {chain} v{n} does not survive fioctl's model: {e}")
            });
            // So `fioctl keys tuf updates sign` signs the bytes the root
            // holds: its signatures verify over fioctl's canonical form.
            let t = tuf(&root);
            assert_eq!(
                t.signed_bytes(),
                ceremony_tests::ota::aktualizr_canonical(&root["signed"]),
                "{chain} v{n}"
            );
        }
    }
}

// ------------------------------------------------- fioctl's root model ----

#[test]
fn fioctls_model_drops_what_its_structs_do_not_know() {
    let root = serde_json::json!({
        "signatures": [],
        "signed": {
            "_type": "Root",
            "consistent_snapshot": false,
            "expires": "2030-01-01T00:00:00Z",
            "keys": {"k": {"keytype": "ED25519", "keyval": {"public": "ab"}}},
            "roles": {"root": {"keyids": ["k"], "threshold": 1}},
            "version": 2,
            "x-changelog": {"polis-id": "p", "message": "m", "timestamp": "2026-01-01T00:00:00Z"},
        }
    });
    round_trips(&root).unwrap();
    let changed = |path: &str, value: Value| {
        let mut r = root.clone();
        *r.pointer_mut(path).unwrap_or_else(|| panic!("{path}")) = value;
        r
    };
    let add = |member: &str, value: Value| {
        let mut r = root.clone();
        r["signed"][member] = value;
        r
    };
    // Unknown members, extra key fields, an empty owner map: dropped.
    let e = round_trips(&add("x-transcript", serde_json::json!("anchor"))).unwrap_err();
    assert!(e.contains("signed.x-transcript: dropped"), "{e}");
    let e = round_trips(&changed(
        "/signed/keys/k",
        serde_json::json!({"keytype": "ED25519", "keyval": {"public": "ab"}, "scheme": "ed25519"}),
    ))
    .unwrap_err();
    assert!(e.contains("signed.keys.k.scheme: dropped"), "{e}");
    let e = round_trips(&add("x-key-owners", serde_json::json!({}))).unwrap_err();
    assert!(e.contains("signed.x-key-owners: dropped"), "{e}");
    // Go's time.Time rewrites these forms.
    let e = round_trips(&changed(
        "/signed/expires",
        serde_json::json!("2030-01-01T00:00:00.000Z"),
    ))
    .unwrap_err();
    assert!(
        e.contains(r#""2030-01-01T00:00:00.000Z" -> "2030-01-01T00:00:00Z""#),
        "{e}"
    );
    let e = round_trips(&changed(
        "/signed/expires",
        serde_json::json!("2030-01-01T00:00:00+00:00"),
    ))
    .unwrap_err();
    assert!(e.contains(r#"-> "2030-01-01T00:00:00Z""#), "{e}");
    round_trips(&changed(
        "/signed/expires",
        serde_json::json!("2030-01-01T00:00:00.5Z"),
    ))
    .unwrap();
    // Missing members come back as Go's zero values.
    let mut r = root.clone();
    r["signed"]
        .as_object_mut()
        .unwrap()
        .remove("consistent_snapshot");
    let e = round_trips(&r).unwrap_err();
    assert!(
        e.contains("signed.consistent_snapshot: added as false"),
        "{e}"
    );
    // A type Go cannot decode is an error, not a silent change.
    assert!(round_trips(&changed("/signed/version", serde_json::json!("2"))).is_err());
    assert!(round_trips(&changed(
        "/signed/roles/root/threshold",
        serde_json::json!(1.5)
    ))
    .is_err());
    // fioctl's canonical form escapes what a PEM key holds (as aktualizr
    // does) and leaves other control characters and non-ASCII raw.
    assert_eq!(
        ceremony_tests::fioctl::model::canonical(
            &serde_json::json!({"b": "a\nb\t\r\"\\", "a": "\u{1}é"})
        ),
        b"{\"a\":\"\x01\xc3\xa9\",\"b\":\"a\\nb\\t\\r\\\"\\\\\"}".to_vec()
    );
    // Member names match without regard to case, as in Go.
    let mut r = root.clone();
    let v = r["signed"]
        .as_object_mut()
        .unwrap()
        .remove("version")
        .unwrap();
    r["signed"]["Version"] = v;
    let t = tuf(&r);
    assert_eq!(t.signed.version, 2);
}

#[test]
fn fioctl_cosigning_a_root_its_model_changes_voids_the_other_signatures() {
    let fx = Factory::new(false);
    let keys = fx.take_offline("root.tgz");
    let mut f = fx.fioctl();
    let init = ok!(f, f.updates_init("co-sign", None));
    let second = fx.path("second.tgz");
    ok!(
        f,
        f.add_offline_root_key(&init.txid, &second, KeyType::Ed25519)
    );
    // The first holder stages roots with a member fioctl does not know,
    // signed over the canonical form of exactly those roots.
    let status: Value = serde_json::from_slice(
        &f.api
            .get(&format!(
                "{}/ota/repo/acme/api/v1/user_repo/root/updates",
                fx.sim.url
            ))
            .unwrap_or_else(|e| panic!("{}", e.text())),
    )
    .unwrap();
    let c = creds::read(&keys).unwrap();
    let mut body = serde_json::Map::new();
    body.insert("txid".into(), Value::String(init.txid.clone()));
    for name in ["ci-root", "prod-root"] {
        let mut root: Value =
            serde_json::from_str(status["updated"][name].as_str().unwrap()).unwrap();
        root["signed"]["x-note"] = Value::String("kept by the server".into());
        let signer = creds::find_one(&tuf(&root), &c, &tuf(&root).signed.role_ids("root")).unwrap();
        let sig = ceremony_tests::fioctl::crypto::sign_meta(
            &ceremony_tests::ota::aktualizr_canonical(&root["signed"]),
            &[&signer],
        );
        root["signatures"] = Value::Array(vec![sig[0].encode()]);
        assert!(round_trips(&root)
            .unwrap_err()
            .contains("signed.x-note: dropped"));
        body.insert(name.into(), root);
    }
    f.api
        .put(
            &format!("{}/ota/repo/acme/api/v1/user_repo/root/updates", fx.sim.url),
            serde_json::to_vec(&Value::Object(body)).unwrap(),
        )
        .unwrap_or_else(|e| panic!("the server keeps a root it can verify: {}", e.text()));
    // The second holder signs with fioctl: it re-encodes the roots without
    // the member and keeps the first holder's signature, now over other
    // bytes; the server refuses the PUT.
    let died = f.updates_sign(&init.txid, &second).unwrap_err();
    assert!(died.0.contains("422 Unprocessable Entity"), "{died}");
    assert!(died.0.contains("invalid-signature"), "{died}");
}

#[test]
fn an_rsa_factory_goes_offline_and_the_first_time_flag_is_refused_after() {
    let fx = Factory::with_key(false, "rsa-2048");
    let first = root_ids(&fx.root("ci", 1), "root")[0].clone();
    let keys = fx.path("root.tgz");
    let mut f = fx.fioctl();
    let init = ok!(f, f.updates_init("offline", Some(&keys)));
    // Expert mode without --sign: the roots go up unsigned ...
    let new_id = ok!(
        f,
        f.rotate_offline_root(&init.txid, &keys, KeyType::Ed25519, false)
    );
    assert!(!f.out.contains("= Signing new TUF root"), "{}", f.out);
    let review = ok!(f, f.updates_review());
    assert!(review.contains("mandatory before applying it"), "{review}");
    // ... and `updates sign` signs them with the new key and the first
    // (RSA, RSASSA-PSS) one from the same tarball.
    ok!(f, f.updates_sign(&init.txid, &keys));
    ok!(f, f.updates_apply(&init.txid));
    let ci = fx.root("ci", 2);
    let methods: Vec<(String, String)> = ci["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["keyid"].as_str().unwrap().to_string(),
                s["method"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        methods.contains(&(first, "rsassa-pss-sha256".into())),
        "{methods:?}"
    );
    assert!(methods.contains(&(new_id, "ed25519".into())), "{methods:?}");
    assert_eq!(
        fx.root("prod", 2)["signed"]["roles"]["targets"]["threshold"],
        2
    );
    // The server no longer holds the Factory's root key.
    let died = f
        .updates_init("again", Some(&fx.path("other.tgz")))
        .unwrap_err();
    assert!(died.0.contains("400 Bad Request\n= first-time: "), "{died}");
    assert!(
        !fx.path("other.tgz").exists(),
        "nothing written when refused"
    );
}

#[test]
fn fioctls_status_decoding_is_as_strict_as_go() {
    use ceremony_tests::fioctl::updates::Updates;
    // Issues as strings (what the simulator once sent) do not decode.
    let e = Updates::decode(br#"{"status":"STARTED","issues":{"errors":["no"]}}"#).unwrap_err();
    assert_eq!(
        e,
        "json: cannot unmarshal string into Go struct field issues.errors of type client.TufRootAmendment"
    );
    // Args are a map of strings.
    let e = Updates::decode(
        br#"{"status":"STARTED","amendments":[{"kind":"k","message":"m","args":{"n":1}}]}"#,
    )
    .unwrap_err();
    assert!(e.contains("cannot unmarshal number"), "{e}");
    // No `current`: fioctl refuses to go on.
    let u = Updates::decode(br#"{"status":"NONE"}"#).unwrap();
    let e = ceremony_tests::fioctl::updates::check_status(&u, false)
        .err()
        .unwrap();
    assert_eq!(e.1, "Current TUF CI root not set. Please, report a bug.");
}

#[test]
fn apply_with_nothing_staged_says_so() {
    let fx = Factory::new(false);
    let mut f = fx.fioctl();
    let died = f.updates_apply("").unwrap_err();
    assert_eq!(
        died.0,
        "ERROR: There are no TUF root updates in progress.\n"
    );
    // fioctl looked before it said so.
    let sent = f.sent();
    assert_eq!(sent.len(), 2);
    assert!(sent[1].target.ends_with("/root/updates") && sent[1].method == "GET");
}

#[test]
fn a_failed_one_step_rotation_leaves_the_transaction_open_and_says_so() {
    let fx = Factory::new(false);
    let keys = fx.take_offline("root.tgz");
    // A tarball without the Factory's root key.
    let empty = fx.path("empty.tgz");
    creds::save(&empty, &creds::Creds::new()).unwrap();
    let mut f = fx.fioctl();
    let died = f.rotate_root_one_step(&empty, false, None).unwrap_err();
    assert!(
        died.0.starts_with("ERROR: Error reading current TUF Root private key from specified file:\n No private key found for key IDs: ["),
        "{died}"
    );
    assert!(
        died.0.ends_with("\nNo changes were made to your Factory.\nPlease, cancel the staged TUF root updates\nusing the \"fioctl keys tuf updates cancel\" command, and try again later.\n"),
        "{died}"
    );
    assert!(!fx.has("ci", 3));
    let review = ok!(f, f.updates_review());
    assert!(
        review.starts_with("The following TUF root updates are staged"),
        "{review}"
    );
    ok!(f, f.updates_cancel());
    // With the right tarball it goes through.
    ok!(f, f.rotate_root_one_step(&keys, false, None));
    assert!(fx.has("ci", 3) && fx.has("prod", 3));
}

/// The production chain of a Factory that had none starts, once fioctl
/// makes its first production root, with copies of the CI roots before it
/// (factory-sim's model: production devices share the first versions).
#[test]
fn our_audit_on_a_factory_whose_production_root_fioctl_made() {
    let fx = Factory::new(true);
    let dir = fx.path("audit");
    std::fs::create_dir_all(&dir).unwrap();
    audit(&fx, &dir);
    fx.take_offline("root.tgz");
    assert!(fx.has("prod", 2) && fx.has("prod", 1));
    assert_eq!(fx.root("prod", 1), fx.root("ci", 1));
    audit(&fx, &dir);
}

// ------------------------------- one transaction, signed by both tools ----

/// A fioctl holder's own tarball with one new root key, as `fioctl keys tuf
/// updates add-offline-key` writes it; and that key as our public-key file.
fn fioctl_holder_key(fx: &Factory, name: &str) -> (PathBuf, PathBuf, String) {
    let key = ceremony_tests::fioctl::crypto::Key::generate(KeyType::Ed25519);
    let id = key.key_id();
    let (private, public) = key.ats_pair();
    let mut c = creds::Creds::new();
    let base = format!("tufrepo/keys/fioctl-root-{id}");
    c.insert(
        format!("{base}.pub"),
        ceremony_tests::fioctl::go_marshal(&public.encode()),
    );
    c.insert(
        format!("{base}.sec"),
        ceremony_tests::fioctl::go_marshal(&private.encode()),
    );
    let tgz = fx.path(&format!("{name}.tgz"));
    creds::save(&tgz, &c).unwrap();
    let pk =
        ceremony::keys::PublicKey::from_key_object(&public.encode(), ceremony::Dialect::OtaTuf)
            .unwrap();
    let pubfile = fx.path(&format!("{name}.pub.json"));
    std::fs::write(
        &pubfile,
        ceremony::pubkey::PubkeyFile::new(&pk, Some(name.into()), None).to_bytes(),
    )
    .unwrap();
    (tgz, pubfile, id)
}

/// Both directions on one Factory, with fioctl's own `updates sign`,
/// `rotate-offline-key` and `apply` (the emulation) and our binaries:
/// 1. our rotation to two root keys, 2 of 2 (the fioctl holder's key C
///    provided, our key B made by our signer), signed by us: a partial
///    bundle, PUT but not applied; fioctl's `updates sign` with C's tarball
///    completes it and fioctl's `updates apply` applies it;
/// 2. fioctl's expert rotation of C (signed with C and its new key), which
///    cannot meet 2 of 2 alone; our `--sign-staged` adds B, and our upload
///    applies it. `submitter audit` holds after each.
#[test]
fn a_transaction_signed_partly_by_each_tool_applies_both_ways() {
    let fx = Factory::new(false);
    let first = fx.take_offline("root.tgz");
    let (c_tgz, c_pub, c_id) = fioctl_holder_key(&fx, "carol");
    let pass = passphrase_file(&fx.dir);
    let online = fx.path("online");
    let offline = fx.path("offline");
    std::fs::create_dir_all(&online).unwrap();
    std::fs::create_dir_all(&offline).unwrap();
    let tok = token_file(&online);
    let tok = tok.to_str().unwrap();
    let pass = pass.to_str().unwrap();
    let submitter = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        if args[0] == "propose" {
            all.extend(["--factory", "acme", "--api", &fx.sim.url]);
        }
        all.extend(["--token-file", tok]);
        run("submitter", &online, all, &[])
    };
    let carry = |from: &Path, to: &Path, name: &str| {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    };
    run(
        "signer",
        &offline,
        [
            "import",
            first.to_str().unwrap(),
            "-o",
            "keys-0.tgz.age",
            "--passphrase-file",
            pass,
        ],
        &[],
    )
    .expect(0, "signer import");

    // 1. Ours first, fioctl completes.
    submitter(&[
        "propose",
        "--rotate-all",
        "--provided-key",
        c_pub.to_str().unwrap(),
        "--add",
        "1",
        "--threshold",
        "2",
        "-o",
        "proposal.json",
    ])
    .expect(0, "propose");
    carry(&online, &offline, "proposal.json");
    let sign = run(
        "signer",
        &offline,
        SignArgs::new()
            .keys("keys-0.tgz.age")
            .new_archive(Some("keys-1.tgz.age"))
            .passphrase_file(Some(pass))
            .extra(["--force"]),
        &[],
    );
    sign.expect(0, "signer sign");
    assert!(sign.stdout.contains("PARTIAL bundle"), "{}", sign.all());
    carry(&offline, &online, "bundle.json");
    let up = submitter(&["upload", "bundle.json"]);
    up.expect(0, "upload of the partial bundle");
    assert!(up.stdout.contains("NOT applied"), "{}", up.all());
    assert!(up.stdout.contains(&c_id), "{}", up.all());
    assert!(!fx.has("ci", 3));
    let txid = {
        let p: Value =
            serde_json::from_slice(&std::fs::read(online.join("proposal.json")).unwrap()).unwrap();
        p["txid"].as_str().unwrap().to_string()
    };
    let mut f = fx.fioctl();
    ok!(f, f.updates_sign(&txid, &c_tgz));
    ok!(f, f.updates_apply(&txid));
    assert!(fx.has("ci", 3) && fx.has("prod", 3));
    let v3 = fx.root("ci", 3);
    let keys = root_ids(&v3, "root");
    assert_eq!(keys.len(), 2);
    assert!(keys.contains(&c_id));
    assert_eq!(v3["signed"]["roles"]["root"]["threshold"], 2);
    audit(&fx, &online);

    // 2. fioctl first (an expert rotation of C), ours completes.
    let mut f = fx.fioctl();
    let init = ok!(f, f.updates_init("carol rotates her key", None));
    let c2 = ok!(
        f,
        f.rotate_offline_root(&init.txid, &c_tgz, KeyType::Ed25519, true)
    );
    let mut f = fx.fioctl();
    let refused = f.updates_apply(&init.txid);
    assert!(refused.is_err(), "one holder of 2 of 2 must not be enough");
    assert!(!fx.has("ci", 4));
    submitter(&[
        "propose",
        "--txid",
        &init.txid,
        "--sign-staged",
        "-o",
        "proposal2.json",
    ])
    .expect(0, "propose --sign-staged");
    carry(&online, &offline, "proposal2.json");
    let sign = run(
        "signer",
        &offline,
        SignArgs::new()
            .proposal("proposal2.json")
            .keys("keys-1.tgz.age")
            .new_archive(Some("keys-2.tgz.age"))
            .out("bundle2.json")
            .passphrase_file(Some(pass))
            .extra(["--force"]),
        &[],
    );
    sign.expect(0, "signer sign --sign-staged");
    for want in [
        format!("already signed by {c_id}"),
        format!("already signed by {c2}"),
    ] {
        assert!(sign.stdout.contains(&want), "{want}\n{}", sign.all());
    }
    carry(&offline, &online, "bundle2.json");
    let up = submitter(&["upload", "bundle2.json", "--proposal", "proposal2.json"]);
    up.expect(0, "upload of the co-signed bundle");
    assert!(up.stdout.contains("uploaded and applied"), "{}", up.all());
    for chain in ["ci", "prod"] {
        let v4 = fx.root(chain, 4);
        assert!(root_ids(&v4, "root").contains(&c2), "{chain}");
        assert_eq!(sig_ids(&v4).len(), 3, "{chain}: C, C2 and ours");
        round_trips(&v4).unwrap();
    }
    audit(&fx, &online);
}
