//! A Factory's production root as fioctl makes it: when the root goes
//! offline, fioctl gives the production root `roles.targets.threshold = 2`
//! over the one online targets key (`genProdTufRoot`), and keeps it on every
//! later change (`finalizeTufRootChanges`, commit 5e30fc6). aktualizr and
//! python-tuf accept such roots; so must `audit` (with a warning), and our
//! rotation must keep the 2. The history is built here by hand as fioctl
//! builds it, not by our signer, so that a bug in the signer cannot make the
//! history it is tested on.

use std::path::Path;

use ceremony::rules::{check_step, WarningKind};
use ceremony::{Dialect, RootMetadata};
use ceremony_tests::cmd::{ok, signer, text, TestCommand};
use ceremony_tests::fixture::{write_passphrase, SignArgs, IMPORT};
use ceremony_tests::ota::{
    ats_pair, factory_proposal, in_days, key, ota_root, rotate_change, sign_root, write_proposal,
    OtaFactory,
};
use serde_json::{json, Value};
use time::OffsetDateTime;

const D: Dialect = Dialect::OtaTuf;

/// A Factory after fioctl's first `rotate-offline-key --role=root
/// --first-time`: v1 is the server's root (first root key, online keys,
/// targets threshold 1 in both chains); v2 replaces the first root key with
/// an offline one (recorded in `x-key-owners`), signed by both, and its
/// production copy has targets threshold 2 over the one online key.
struct FioctlFactory {
    offline: ceremony::keys::PrivateKey,
    ci: Vec<RootMetadata>,
    prod: Vec<RootMetadata>,
}

fn fioctl_factory() -> FioctlFactory {
    let first = key(false);
    let offline = key(false);
    let online = key(false).public_key();
    let mut v1 = ota_root(1, &[first.public_key()], 1, &online, &in_days(300));
    sign_root(&mut v1, &[&first]);

    let mut ci2 = ota_root(2, &[offline.public_key()], 1, &online, &in_days(365));
    ci2.set_extension(
        "x-changelog",
        json!({"polis-id": "u-1", "message": "take the root offline", "timestamp": in_days(0)}),
    );
    ci2.set_extension(
        "x-key-owners",
        json!({offline.public_key().key_id(D): {"polis-id": "u-1", "created-at": in_days(0)}}),
    );
    let mut prod2 = ci2.clone();
    let mut targets = prod2.role("targets").unwrap();
    assert_eq!(targets.keyids.len(), 1);
    targets.threshold = 2;
    prod2.set_role("targets", &targets);
    // Signed by the old and the new root key, each chain on its own.
    for r in [&mut ci2, &mut prod2] {
        let old = first.public_key().key_id(D);
        r.sign(&old, &first).unwrap();
        sign_root(r, &[&offline]);
    }
    FioctlFactory {
        offline,
        ci: vec![v1.clone(), ci2],
        prod: vec![v1, prod2],
    }
}

fn write_history(dir: &Path, roots: &[RootMetadata]) {
    std::fs::create_dir_all(dir).unwrap();
    for r in roots {
        let v = r.version().unwrap();
        std::fs::write(dir.join(format!("{v}.root.json")), r.to_bytes()).unwrap();
    }
}

fn targets_threshold(root: &Value) -> u64 {
    root["signed"]["roles"]["targets"]["threshold"]
        .as_u64()
        .unwrap()
}

/// The new root of `chain` in the bundle the signer wrote in `dir`.
fn bundled(dir: &Path, chain: &str) -> Value {
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(dir.join("bundle.json")).unwrap()).unwrap();
    bundle["roots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == chain)
        .unwrap_or_else(|| panic!("no {chain} root in {bundle}"))["root"]
        .clone()
}

#[test]
fn a_fioctl_production_history_passes_audit_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let f = fioctl_factory();
    let prod = tmp.path().join("prod");
    write_history(&prod, &f.prod);
    let prod_arg = prod.to_str().unwrap();
    for bin in ["signer", "submitter"] {
        let text = TestCommand::new(bin, tmp.path())
            .args(["audit", "--metadata-dir", prod_arg])
            .expect(0, &format!("{bin} audit of a fioctl production history"));
        assert!(
            text.stdout.contains("history holds: 2 root(s) checked"),
            "{bin}: {}",
            text.all()
        );
        assert!(
            text.stdout.contains(
                "warning threshold-above-keys: roles.targets.threshold is 2 but the role has only 1 key(s)"
            ),
            "{bin}: {}",
            text.all()
        );
        let json = TestCommand::new(bin, tmp.path())
            .args(["audit", "--metadata-dir", prod_arg, "--json"])
            .expect(0, &format!("{bin} audit --json"));
        let v: Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(v["ok"], true);
        // v1 is the server's root (threshold 1): no warning; v2 has one.
        assert_eq!(v["steps"][0]["warnings"], json!([]), "{v}");
        assert_eq!(
            v["steps"][1]["warnings"][0]["kind"], "threshold-above-keys",
            "{v}"
        );
        assert_eq!(v["steps"][1]["warnings"][0]["role"], "targets", "{v}");
    }
    // The printable report shows it too.
    let html = tmp.path().join("report.html");
    TestCommand::new("signer", tmp.path())
        .args([
            "audit",
            "--metadata-dir",
            prod_arg,
            "--html",
            html.to_str().unwrap(),
        ])
        .expect(0, "audit --html");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("threshold-above-keys"), "{page}");

    // The CI history has no such threshold: no warning.
    let ci = tmp.path().join("ci");
    write_history(&ci, &f.ci);
    let text = TestCommand::new("signer", tmp.path())
        .args(["audit", "--metadata-dir", ci.to_str().unwrap()])
        .expect(0, "audit of the ci history");
    assert!(!text.stdout.contains("warning"), "{}", text.all());
}

#[test]
fn our_rotation_of_a_fioctl_factory_keeps_the_production_threshold() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let f = fioctl_factory();
    // The owner's tarball as fioctl leaves it: the first root key and the
    // offline one.
    let offline_id = f.offline.public_key().key_id(D);
    let files = ats_pair(&format!("fioctl-root-{offline_id}"), &f.offline);
    ceremony_tests::files::write_fioctl_tgz(&dir.join("factory-keys.tgz"), &files);
    write_passphrase(dir);
    ok(&signer(dir, IMPORT));

    let (ci2, prod2) = (&f.ci[1], &f.prod[1]);
    let mut p = factory_proposal(ci2, prod2, rotate_change(vec![offline_id.clone()]));
    p.polis_id = Some("u-2".into());
    write_proposal(dir, "proposal.json", &p);
    let all = ok(&signer(dir, SignArgs::new()));

    let (ci3, prod3) = (bundled(dir, "ci"), bundled(dir, "prod"));
    assert_eq!(targets_threshold(&ci3), 1, "{all}");
    assert_eq!(targets_threshold(&prod3), 2, "{all}");
    // The rotated key and its owner entry are gone; the new key has one.
    for r in [&ci3, &prod3] {
        let owners = r["signed"]["x-key-owners"].as_object().unwrap();
        assert!(!owners.contains_key(&offline_id), "{r}");
        let new_id = r["signed"]["roles"]["root"]["keyids"][0].as_str().unwrap();
        assert_ne!(new_id, offline_id);
        assert_eq!(owners[new_id]["polis-id"], "u-2", "{r}");
        assert_eq!(owners.len(), 1, "{r}");
    }

    // What a device checks, independently of the binaries: each chain's
    // step holds, and prod's carries the warning.
    let now = OffsetDateTime::now_utc();
    for (current, new, warned) in [(ci2, &ci3, false), (prod2, &prod3, true)] {
        let new = RootMetadata::from_value(new.clone(), D).unwrap();
        let v = check_step(Some(current), &new, Some(now));
        assert!(v.ok(), "{:?}", v.failures);
        assert_eq!(
            v.warnings
                .iter()
                .any(|w| w.kind == WarningKind::ThresholdAboveKeys && w.role == "targets"),
            warned,
            "{:?}",
            v.warnings
        );
    }
    // And `audit` over the production history with our root appended.
    let prod_dir = dir.join("prod");
    write_history(&prod_dir, &f.prod);
    std::fs::write(
        prod_dir.join("3.root.json"),
        serde_json::to_vec(&prod3).unwrap(),
    )
    .unwrap();
    let text = TestCommand::new("submitter", dir)
        .args(["audit", "--metadata-dir", prod_dir.to_str().unwrap()])
        .expect(0, "audit of fioctl's history and our rotation");
    assert!(text.stdout.contains("final version 3"), "{}", text.all());
}

#[test]
fn the_first_rotation_takes_production_to_threshold_2() {
    // A Factory whose root key is still the server's first root key (no
    // owner recorded), production targets threshold 1: our rotation takes
    // it offline, and production gets 2, as fioctl's would.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let f = OtaFactory::new(false);
    f.import(dir, Vec::new());
    assert_eq!(f.ci.role("targets").unwrap().threshold, 1);
    write_proposal(dir, "proposal.json", &f.rotation());
    let all = ok(&signer(dir, SignArgs::new()));
    assert_eq!(targets_threshold(&bundled(dir, "ci")), 1, "{all}");
    assert_eq!(targets_threshold(&bundled(dir, "prod")), 2, "{all}");
    // The operator saw it, as this ceremony's change to prod alone.
    let (ci_part, prod_part) = all.split_once("== chain prod: v1 -> v2 ==").expect(&all);
    let line = "  role targets   threshold 1 of 1 -> 2 of 1\n";
    assert!(!ci_part.contains(line), "{all}");
    let ours = prod_part
        .split_once("this ceremony's change")
        .map(|(_, o)| o)
        .expect(&all);
    assert!(ours.contains(line), "{all}");
}

#[test]
fn a_threshold_the_server_staged_for_prod_is_kept_and_shown_as_the_servers() {
    // factory-sim (and any server) may stage a production root of its own:
    // its targets threshold is the one fioctl keeps, and lowering it from 2
    // to 1 is the server's change, framed as such, not this ceremony's.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let f = fioctl_factory();
    let offline_id = f.offline.public_key().key_id(D);
    let files = ats_pair(&format!("fioctl-root-{offline_id}"), &f.offline);
    ceremony_tests::files::write_fioctl_tgz(&dir.join("factory-keys.tgz"), &files);
    write_passphrase(dir);
    ok(&signer(dir, IMPORT));

    let (ci2, prod2) = (&f.ci[1], &f.prod[1]);
    let mut p = factory_proposal(ci2, prod2, rotate_change(vec![offline_id]));
    let mut staged = prod2.clone();
    staged.set_version(3);
    let mut targets = staged.role("targets").unwrap();
    targets.threshold = 1;
    staged.set_role("targets", &targets);
    staged.clear_signatures();
    p.chains[1].staged = Some(staged.envelope().clone());
    write_proposal(dir, "proposal.json", &p);
    // Production targets at 1 no longer need an offline key: a guard rail,
    // signed only with --force, the warning on the screen.
    let refused = signer(dir, SignArgs::new());
    assert_ne!(refused.status.code(), Some(0), "{}", text(&refused));
    let warning = "prod: the targets threshold is lowered from 2 to 1";
    assert!(text(&refused).contains(warning), "{}", text(&refused));
    let all = ok(&signer(dir, SignArgs::new().extra(["--force"])));
    assert!(all.contains(&format!("WARNING: {warning}")), "{all}");
    assert_eq!(targets_threshold(&bundled(dir, "prod")), 1, "{all}");
    let (_, prod_part) = all.split_once("== chain prod: v2 -> v3 ==").expect(&all);
    let (server, ours) = prod_part.split_once("this ceremony's change").expect(&all);
    assert!(
        server.contains("!!   role targets   threshold 2 of 1 -> 1 of 1\n"),
        "{all}"
    );
    assert!(
        ours.contains("  role targets   threshold 1 of 1  (unchanged)\n"),
        "{all}"
    );
}
