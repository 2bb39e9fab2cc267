//! The first rotation of a FoundriesFactory (issue 13 item 3): the server
//! hands out the Factory's first root key with a first-time transaction;
//! `submitter propose --first-time --first-root-key F.tgz` keeps it in a
//! fioctl-layout tarball, `signer import` reads it, and the rotation goes on
//! as usual. Against `factory-sim`, which holds the key until the current CI
//! root no longer trusts it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ceremony::Dialect;
use ceremony_tests::fixture::SignArgs;
use ceremony_tests::harness::{
    factory_init, factory_sim, passphrase_file, request_log, run, token_file, Server,
};
use ceremony_tests::keygen::{TestKey, TestKeyType};
use serde_json::Value;

struct Setup {
    _tmp: tempfile::TempDir,
    state: std::path::PathBuf,
    online: std::path::PathBuf,
    offline: std::path::PathBuf,
    token: String,
    pass: String,
    sim: Server,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("factory");
    factory_init(&state, "ed25519");
    let online = tmp.path().join("online");
    let offline = tmp.path().join("offline");
    std::fs::create_dir_all(&online).unwrap();
    std::fs::create_dir_all(&offline).unwrap();
    let token = token_file(&online).to_str().unwrap().to_owned();
    let pass = passphrase_file(&offline).to_str().unwrap().to_owned();
    let sim = factory_sim(&state, &[]);
    Setup {
        _tmp: tmp,
        state,
        online,
        offline,
        token,
        pass,
        sim,
    }
}

fn propose_first_time(s: &Setup, key_file: &str, extra: &[&str]) -> ceremony_tests::harness::Ran {
    let mut args = vec![
        "propose",
        "--factory",
        "acme",
        "--api",
        &s.sim.url,
        "--token-file",
        &s.token,
        "--first-time",
        "--first-root-key",
        key_file,
        "-o",
        "proposal.json",
    ];
    args.extend_from_slice(extra);
    run("submitter", &s.online, args, &[])
}

/// The entries of a gzip'd tarball, read as fioctl's `GetOfflineCreds` does
/// (name → bytes), with each entry's type.
fn tarball(path: &Path) -> Vec<(String, tar::EntryType, Vec<u8>)> {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    let mut tar = tar::Archive::new(gz);
    tar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let kind = e.header().entry_type();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, kind, data)
        })
        .collect()
}

/// A hostile server: forwards every request to the simulator (which closes
/// each connection after its answer) and, in the answer to the POST that
/// starts a transaction, puts `forged` in place of the first root key.
fn forging_proxy(upstream: &str, forged: Value) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let up = upstream.trim_start_matches("http://").to_string();
    std::thread::spawn(move || {
        // Bounded: one propose makes a handful of requests.
        for client in listener.incoming().take(64) {
            let Ok(mut client) = client else { continue };
            let mut reader = BufReader::new(client.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                head.push(line.trim_end().to_string());
            }
            let length: usize = head
                .iter()
                .filter_map(|h| h.split_once(':'))
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let starts = head[0].starts_with("POST ") && head[0].contains("/root/updates ");
            let mut server = TcpStream::connect(&up).unwrap();
            for h in &head {
                if !h.to_ascii_lowercase().starts_with("connection:") {
                    write!(server, "{h}\r\n").unwrap();
                }
            }
            write!(server, "Connection: close\r\n\r\n").unwrap();
            server.write_all(&body).unwrap();
            let mut answer = Vec::new();
            server.read_to_end(&mut answer).unwrap();
            let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            let (status, mut payload) = (
                String::from_utf8_lossy(&answer[..split])
                    .lines()
                    .next()
                    .unwrap()
                    .to_string(),
                answer[split + 4..].to_vec(),
            );
            if starts {
                let mut v: Value = serde_json::from_slice(&payload).unwrap();
                v["first_root.sec"] = forged["sec"].clone();
                v["first_root.pub"] = forged["pub"].clone();
                payload = serde_json::to_vec(&v).unwrap();
            }
            let _ = write!(
                client,
                "{status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                payload.len()
            );
            let _ = client.write_all(&payload);
        }
    });
    base
}

fn held_by_server(state: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(state.join("first-root.json")).unwrap()).unwrap()
}

fn posts(state: &Path) -> usize {
    request_log(state)
        .iter()
        .filter(|l| l.contains("POST") && l.contains("root/updates"))
        .count()
}

#[test]
fn first_time_rotation_takes_the_key_signs_uploads_and_the_server_no_longer_has_it() {
    let s = setup();
    let held = held_by_server(&s.state);
    let out = propose_first_time(&s, "acme-first.tgz", &["--rotate-all"]);
    out.expect(0, "propose --first-time");
    // The steps, in their order.
    let text = &out.stdout;
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{}", out.all()))
    };
    assert!(at("carry ") < at("signer import acme-first.tgz -o keys.tgz.age"));
    assert!(at("signer import acme-first.tgz") < at("signer sign proposal.json"));
    assert!(at("signer sign proposal.json") < at("destroy every online copy"));
    assert!(at("still holds the first root key") > 0);
    // The private key is never printed.
    let sec = held["sec"]["keyval"]["private"].as_str().unwrap();
    assert!(!out.all().contains(sec), "{}", out.all());

    // fioctl's layout: two regular files, the bytes the server sent, mode 0600.
    let key_file = s.online.join("acme-first.tgz");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut entries = tarball(&key_file);
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        ["tufrepo/keys/first-root.pub", "tufrepo/keys/first-root.sec"]
    );
    assert!(entries.iter().all(|e| e.1 == tar::EntryType::Regular));
    let pub_: Value = serde_json::from_slice(&entries[0].2).unwrap();
    let sec_: Value = serde_json::from_slice(&entries[1].2).unwrap();
    assert_eq!(pub_, held["pub"]);
    assert_eq!(sec_, held["sec"]);

    // Offline: import, sign.
    for f in ["acme-first.tgz", "proposal.json"] {
        std::fs::copy(s.online.join(f), s.offline.join(f)).unwrap();
    }
    let import = run(
        "signer",
        &s.offline,
        [
            "import",
            "acme-first.tgz",
            "-o",
            "keys.tgz.age",
            "--passphrase-file",
            &s.pass,
        ],
        &[],
    );
    import.expect(0, "signer import");
    let first_id = {
        let ci: Value =
            serde_json::from_slice(&std::fs::read(s.state.join("ci/1.root.json")).unwrap())
                .unwrap();
        ci["signed"]["roles"]["root"]["keyids"][0]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(import.stdout.contains(&first_id), "{}", import.all());
    run(
        "signer",
        &s.offline,
        SignArgs::new()
            .keys("keys.tgz.age")
            .new_archive(Some("keys-2.tgz.age"))
            .passphrase_file(Some(&s.pass)),
        &[],
    )
    .expect(0, "sign");
    std::fs::copy(s.offline.join("bundle.json"), s.online.join("bundle.json")).unwrap();
    let up = run(
        "submitter",
        &s.online,
        ["upload", "bundle.json", "--token-file", &s.token],
        &[],
    );
    up.expect(0, "upload");
    assert!(up.stdout.contains("uploaded and applied"), "{}", up.all());
    let v2: Value =
        serde_json::from_slice(&std::fs::read(s.state.join("ci/2.root.json")).unwrap()).unwrap();
    let ids: Vec<&str> = v2["signed"]["roles"]["root"]["keyids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(!ids.contains(&first_id.as_str()), "{ids:?}");
    assert!(s.state.join("prod/2.root.json").exists());

    // The first root key has left the server's hands: a second first-time
    // transaction is refused, and no file is written.
    let again = propose_first_time(&s, "again.tgz", &["--rotate-all", "--force"]);
    assert_eq!(again.code, 1, "{}", again.all());
    assert!(
        again.all().contains("first rotation was done already"),
        "{}",
        again.all()
    );
    assert!(!s.online.join("again.tgz").exists());
}

#[test]
fn an_existing_key_file_is_refused_before_any_request() {
    let s = setup();
    std::fs::write(s.online.join("taken.tgz"), b"another Factory's keys").unwrap();
    let before = posts(&s.state);
    let out = propose_first_time(&s, "taken.tgz", &["--rotate-all"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.all().contains("never overwritten"), "{}", out.all());
    assert_eq!(
        std::fs::read(s.online.join("taken.tgz")).unwrap(),
        b"another Factory's keys"
    );
    assert_eq!(posts(&s.state), before, "a transaction was started");
    assert!(!s.online.join("proposal.json").exists());
}

#[test]
fn a_first_rotation_that_keeps_the_first_key_is_refused_before_any_request() {
    let s = setup();
    let out = propose_first_time(&s, "first.tgz", &["--add", "1"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.all().contains("--rotate-all"), "{}", out.all());
    assert_eq!(posts(&s.state), 0);
    assert!(!s.online.join("first.tgz").exists());
}

#[test]
fn a_first_key_the_factory_does_not_trust_is_refused_and_not_written() {
    let mut s = setup();
    // The server hands out a key pair of its own making, not the root's.
    let other = TestKey::generate(TestKeyType::Ed25519);
    let d = Dialect::OtaTuf;
    let forged = serde_json::json!({"sec": other.ats_private(), "pub": other.key_object(d)});
    s.sim.url = forging_proxy(&s.sim.url, forged.clone());
    let out = propose_first_time(&s, "first.tgz", &["--rotate-all"]);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.all().contains("the Factory does not trust it"),
        "{}",
        out.all()
    );
    assert!(
        out.all().contains("submitter cancel --factory acme"),
        "{}",
        out.all()
    );
    let sec = forged["sec"]["keyval"]["private"].as_str().unwrap();
    assert!(!out.all().contains(sec));
    assert!(!s.online.join("first.tgz").exists());
    assert!(!s.online.join("proposal.json").exists());
}

#[test]
fn a_private_half_that_is_not_the_public_ones_pair_is_refused() {
    let s = setup();
    let mut held = held_by_server(&s.state);
    let other = TestKey::generate(TestKeyType::Ed25519);
    held["sec"] = other.ats_private();
    std::fs::write(
        s.state.join("first-root.json"),
        serde_json::to_vec(&held).unwrap(),
    )
    .unwrap();
    let out = propose_first_time(&s, "first.tgz", &["--rotate-all"]);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.all().contains("two different keys"), "{}", out.all());
    assert!(!s.online.join("first.tgz").exists());
}
