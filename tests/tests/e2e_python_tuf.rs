//! The whole ceremony through both binaries on a repository python-tuf
//! wrote (the valid-rotations history: ed25519, ecdsa and RSA root keys,
//! threshold 2 of 3), served over HTTP by `python3 -m http.server` on
//! 127.0.0.1. Afterwards python-tuf's own `Updater`, bootstrapped with
//! 1.root.json, refreshes over HTTP to the new root.

use std::path::Path;

use ceremony_tests::fixture::SignArgs;
use ceremony_tests::harness::{http_server, passphrase_file, run};
use ceremony_tests::{python_histories, run_python};
use serde_json::Value;

#[test]
fn python_tuf_repository_over_http_rotates_and_the_updater_follows() {
    let src = python_histories().join("valid-rotations");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let served = dir.join("www/metadata");
    std::fs::create_dir_all(&served).unwrap();
    let mut last = 0;
    for n in 1.. {
        let f = src.join(format!("{n}.root.json"));
        if !f.exists() {
            break;
        }
        std::fs::copy(&f, served.join(format!("{n}.root.json"))).unwrap();
        last = n;
    }
    assert_eq!(last, 5);
    std::fs::copy(served.join("5.root.json"), served.join("root.json")).unwrap();

    // The offline side holds the final root's keys (K6 ed25519, K8 ed25519, K9 rsa-4096).
    let info: Value =
        serde_json::from_slice(&std::fs::read(src.join("keys/keys.json")).unwrap()).unwrap();
    let current: Vec<(String, String)> = info
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, k)| {
            k["root_in_versions"]
                .as_array()
                .unwrap()
                .contains(&Value::from(5))
        })
        .map(|(id, k)| (id.clone(), k["type"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(current.len(), 3);
    let offline = dir.join("offline");
    std::fs::create_dir_all(&offline).unwrap();
    let pass = passphrase_file(&offline);
    let pass = pass.to_str().unwrap();
    let mut import = vec!["import".to_string()];
    for (id, _) in &current {
        import.push("--key".into());
        import.push(src.join(format!("keys/{id}.pem")).display().to_string());
    }
    import.extend([
        "-o".into(),
        "keys.tgz.age".into(),
        "--passphrase-file".into(),
        pass.into(),
    ]);
    let import: Vec<&str> = import.iter().map(String::as_str).collect();
    run("signer", &offline, &import, &[]).expect(0, "signer import --key");

    let server = http_server(&dir.join("www"));
    let url = format!("{}/metadata/", server.url);
    let online = dir.join("online");
    std::fs::create_dir_all(&online).unwrap();

    // Rotate the RSA key (K9) over HTTP.
    let rsa = &current
        .iter()
        .find(|(_, t)| t == "rsa")
        .expect("an RSA root key")
        .0;
    let p = run(
        "submitter",
        &online,
        [
            "propose",
            "--repo",
            &url,
            "--rotate",
            rsa,
            "-o",
            "proposal.json",
        ],
        &[],
    );
    p.expect(0, "propose over HTTP");
    assert!(p.stderr.contains("verified 5 root(s)"), "{}", p.all());
    assert!(p.stderr.contains("dialect tuf, detected"), "{}", p.all());

    std::fs::copy(online.join("proposal.json"), offline.join("proposal.json")).unwrap();
    run("signer", &offline, ["review", "proposal.json"], &[]).expect(0, "review");
    run(
        "signer",
        &offline,
        SignArgs::new()
            .new_archive(Some("keys-2.tgz.age"))
            .passphrase_file(Some(pass)),
        &[],
    )
    .expect(0, "sign");
    std::fs::copy(offline.join("bundle.json"), online.join("bundle.json")).unwrap();

    // http.server does not take PUT: a clear "not supported", listing the files.
    let r = run("submitter", &online, ["upload", "bundle.json"], &[]);
    r.expect(1, "upload by PUT");
    for needle in ["not supported", "6.root.json", "root.json", "--out-dir"] {
        assert!(r.stderr.contains(needle), "{needle}: {}", r.all());
    }
    assert!(!served.join("6.root.json").exists());

    // Write the files for upload, then copy them where the server serves
    // them (what the repository's admin does).
    let r = run(
        "submitter",
        &online,
        ["upload", "bundle.json", "--out-dir", "to-upload"],
        &[],
    );
    r.expect(0, "upload --out-dir");
    assert!(r.stdout.contains("Copy both"), "{}", r.all());
    for f in ["6.root.json", "root.json"] {
        std::fs::copy(online.join("to-upload").join(f), served.join(f)).unwrap();
    }
    let r = run("submitter", &online, ["upload", "bundle.json"], &[]);
    r.expect(0, "upload once served");
    assert!(r.stdout.contains("already uploaded"), "{}", r.all());
    let a = run("submitter", &online, ["audit", "--repo", &url], &[]);
    a.expect(0, "audit over HTTP");
    assert!(a.stdout.contains("final version 6"), "{}", a.all());

    // python-tuf: the Updater over HTTP, bootstrapped with 1.root.json.
    let out = run_python(
        "updater_refresh.py",
        &[
            url.as_ref(),
            served.join("1.root.json").as_os_str(),
            "--expect-version".as_ref(),
            "6".as_ref(),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python-tuf Updater: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["version"], 6);
    // And its root-only verifier over the folder.
    let out = run_python("verify_with_python_tuf.py", &[served.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    drop(server);
}

#[test]
fn a_tuf_folder_rotates_through_both_binaries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = std::process::Command::new(ceremony_tests::binary("tuf-repo-init"))
        .arg(dir.join("repo"))
        .args(["--keys", "3", "--threshold", "2"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let offline = dir.join("offline");
    std::fs::create_dir_all(&offline).unwrap();
    let pass = passphrase_file(&offline);
    let pass = pass.to_str().unwrap();
    let pems: Vec<String> = std::fs::read_dir(dir.join("repo/keys"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    let mut import = vec!["import"];
    for p in &pems {
        import.extend(["--key", p.as_str()]);
    }
    import.extend(["-o", "keys.tgz.age", "--passphrase-file", pass]);
    run("signer", &offline, &import, &[]).expect(0, "import");
    for (round, args) in [
        (1, &["--rotate-all"][..]),
        (2, &["--add", "1", "--threshold", "2"][..]),
    ] {
        let mut a = vec!["propose", "--repo", "repo/metadata", "-o"];
        let name = format!("p{round}.json");
        a.push(&name);
        a.extend_from_slice(args);
        run("submitter", dir, &a, &[]).expect(0, "propose");
        let keys = format!("keys-{round}.tgz.age").replace("keys-1", "keys");
        let next = format!("keys-{}.tgz.age", round + 1);
        // Each ceremony in its own folder on the offline side (the signer
        // writes the bundle's transcript beside it and never overwrites).
        let off = offline.join(format!("round{round}"));
        std::fs::create_dir_all(&off).unwrap();
        std::fs::copy(dir.join(&name), off.join("proposal.json")).unwrap();
        let keys = format!("../{keys}");
        let next = format!("../{next}");
        run(
            "signer",
            &off,
            SignArgs::new()
                .keys(&keys)
                .new_archive(Some(&next))
                .passphrase_file(Some(pass))
                .extra(["--force"]),
            &[],
        )
        .expect(0, "sign");
        std::fs::copy(off.join("bundle.json"), dir.join("bundle.json")).unwrap();
        run(
            "submitter",
            dir,
            ["upload", "bundle.json", "--proposal", &name],
            &[],
        )
        .expect(0, "upload");
    }
    let a = run(
        "submitter",
        dir,
        ["audit", "--repo", "repo/metadata", "--json"],
        &[],
    );
    a.expect(0, "audit");
    let v: Value = serde_json::from_str(&a.stdout).unwrap();
    assert_eq!(v["steps"].as_array().unwrap().len(), 3);
    assert!(Path::new(&dir.join("repo/metadata/3.root.json")).exists());
    let root3: Value =
        serde_json::from_slice(&std::fs::read(dir.join("repo/metadata/3.root.json")).unwrap())
            .unwrap();
    assert_eq!(
        root3["signed"]["roles"]["root"]["keyids"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let out = run_python(
        "verify_with_python_tuf.py",
        &[dir.join("repo/metadata").as_os_str()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
