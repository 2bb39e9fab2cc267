//! The signer works with no network at all, and refuses to open keys when
//! there is one.
//!
//! * A whole ceremony (import, review, sign, list, verify-transcript) runs
//!   inside a fresh network namespace that has only a loopback interface,
//!   which is down (`unshare -n`, with `/sys` remounted so that
//!   `/sys/class/net` shows that namespace's interfaces), without the
//!   rehearsal opt-in: the default is enough there.
//! * The same ceremony runs under `strace -f -e trace=%network`: the signer
//!   makes no network system call at all (raw ones included, which `nm`
//!   cannot see).
//! * On this machine as it is: when an interface other than loopback is up,
//!   every command that opens keys refuses, naming the interfaces and
//!   `--rehearsal`, before it reads anything, and changes nothing;
//!   `--rehearsal` (or `TUF_CEREMONY_REHEARSAL=1`) runs, and the transcript
//!   and the screen say REHEARSAL. When none is up (inside
//!   `scripts/test-offline.sh`), the commands run without the opt-in.
//!
//! Where the kernel or the sandbox forbids namespaces (or strace is
//! missing), the test says why on stderr, in capitals, and checks what it
//! still can: that the ceremony works and what the signer recorded about
//! the machine matches /sys.

use std::path::Path;
use std::process::{Command, Output};

use ceremony_tests::cmd::{REHEARSAL, TEST_SCRYPT_LOG_N};
use ceremony_tests::prelude::*;

fn signer_path() -> &'static str {
    env!("CARGO_BIN_EXE_signer")
}

/// A folder with keys.tgz.age (an Ed25519 first-root key), pass.txt and a
/// Factory proposal rotating that key.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    imported_factory_with_proposal(dir.path(), false);
    dir
}

/// Interfaces other than loopback that are up, as the signer judges it
/// (`/sys/class/net/*/operstate` "up" or "unknown").
fn interfaces_up_in_sys() -> Vec<String> {
    let mut up = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/sys/class/net") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let state = std::fs::read_to_string(e.path().join("operstate")).unwrap_or_default();
            let state = state.trim();
            if name != "lo" && (state == "up" || state == "unknown") {
                up.push(name);
            }
        }
    }
    up.sort();
    up
}

/// Interfaces of this process's own network namespace (`/proc/self/net/dev`).
fn interfaces_in_proc() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/net/dev").unwrap_or_default();
    let mut names: Vec<String> = text
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_string())
        .collect();
    names.sort();
    names
}

/// The prefix that runs a command in a new network namespace with only
/// `lo` (down) and `/sys` showing it, or why there is none.
fn netns_prefix() -> Result<Vec<String>, String> {
    const INNER: &str = "mount -t sysfs sysfs /sys && exec \"$@\"";
    let mut reasons = Vec::new();
    for flags in [&["-n", "-m"][..], &["-r", "-n", "-m"][..]] {
        let mut prefix: Vec<String> = vec!["unshare".into()];
        prefix.extend(flags.iter().map(|s| s.to_string()));
        prefix.extend(["--", "sh", "-c", INNER, "sh"].map(String::from));
        let probe = Command::new(&prefix[0])
            .args(&prefix[1..])
            .args(["sh", "-c", "ls /sys/class/net; cat /proc/self/net/dev"])
            .output();
        match probe {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stdout);
                let sys: Vec<&str> = text.lines().take_while(|l| !l.contains('|')).collect();
                if sys == ["lo"] {
                    return Ok(prefix);
                }
                reasons.push(format!(
                    "unshare {} worked but /sys/class/net shows {sys:?}",
                    flags.join(" ")
                ));
            }
            Ok(o) => reasons.push(format!(
                "unshare {}: {}",
                flags.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => reasons.push(format!("cannot run unshare: {e}")),
        }
    }
    Err(reasons.join("; "))
}

/// Runs the signer under `prefix` (a namespace, strace) in `dir`, without
/// the rehearsal opt-in: inside a namespace with no interface the default
/// must be enough.
fn run_prefixed<I, S>(dir: &Path, prefix: &[String], args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    prefixed(dir, prefix, args)
        .output()
        .expect("the command runs")
}

fn prefixed<I, S>(dir: &Path, prefix: &[String], args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut c = Command::new(&prefix[0]);
    c.args(&prefix[1..])
        .arg(signer_path())
        .args(args)
        .current_dir(dir)
        .env(TEST_SCRYPT_LOG_N.0, TEST_SCRYPT_LOG_N.1)
        .env_remove(REHEARSAL.0);
    c
}

/// The transcript's first entry: what the signer saw of the machine.
fn machine_in_transcript(dir: &Path) -> serde_json::Value {
    let t = std::fs::read_to_string(dir.join("bundle.transcript.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(t.lines().next().unwrap()).unwrap();
    first["data"]["machine"].clone()
}

/// The rest of the ceremony, after `sign`: the new archive opens and the
/// transcript verifies against the bundle.
fn check_outputs(dir: &Path, prefix: &[String]) {
    let list = run_prefixed(
        dir,
        prefix,
        ["list", "new.tgz.age", "--passphrase-file", "pass.txt"],
    );
    ok(&list);
    let v = run_prefixed(
        dir,
        prefix,
        [
            "verify-transcript",
            "bundle.transcript.jsonl",
            "--root",
            "bundle.json",
            "proposal.json",
            "keys.tgz.age",
            "new.tgz.age",
        ],
    );
    ok(&v);
    let entries = decrypt_archive(&dir.join("new.tgz.age"));
    assert!(
        entries.contains_key("tufrepo/keys/first-root.sec")
            && entries
                .keys()
                .any(|k| k.starts_with("tufrepo/keys/fioctl-root-") && k.ends_with(".sec")),
        "the new archive holds the old and the new key: {:?}",
        entries.keys().collect::<Vec<_>>()
    );
}

#[test]
fn a_ceremony_runs_in_a_network_namespace_with_no_interface() {
    let prefix = match netns_prefix() {
        Ok(p) => p,
        Err(why) => {
            eprintln!(
                "NETWORK NAMESPACE TEST NOT RUN: this machine does not allow one ({why}). \
                 Checking the same ceremony on the machine as it is instead; run \
                 scripts/test-offline.sh as root (or where user namespaces are allowed) for the real check."
            );
            let dir = setup();
            ok(&signer(dir.path(), SignArgs::new()));
            check_outputs(dir.path(), &[String::from("env")]);
            return;
        }
    };
    let dir = setup();
    let d = dir.path();
    eprintln!("running the ceremony under: {}", prefix.join(" "));
    ok(&run_prefixed(d, &prefix, ["review", "proposal.json"]));
    let out = run_prefixed(d, &prefix, SignArgs::new());
    let t = ok(&out);
    assert!(
        !t.contains("are up") && !t.contains("REHEARSAL"),
        "no interface is up in the namespace, and no rehearsal was asked for:\n{t}"
    );
    let machine = machine_in_transcript(d);
    assert_eq!(machine["non_loopback_interface_up"], false, "{machine}");
    assert!(machine.get("rehearsal").is_none(), "{machine}");
    let names: Vec<&str> = machine["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert_eq!(names, ["lo"], "{machine}");
    check_outputs(d, &prefix);
}

#[test]
fn the_signer_makes_no_network_system_call() {
    let probe = Command::new("strace").arg("-V").output();
    if !matches!(probe, Ok(ref o) if o.status.success()) {
        eprintln!(
            "STRACE TEST NOT RUN: strace is not installed (Debian: apt-get install strace); \
             the nm and namespace tests still ran"
        );
        return;
    }
    let dir = setup();
    let d = dir.path();
    let log = d.join("strace.log");
    let prefix: Vec<String> = vec![
        "strace".into(),
        "-f".into(),
        "-qq".into(),
        "-e".into(),
        "trace=%network".into(),
        "-o".into(),
        log.display().to_string(),
    ];
    // On this machine, as a rehearsal: what is traced is the ceremony.
    let out = prefixed(d, &prefix, SignArgs::new())
        .env(REHEARSAL.0, REHEARSAL.1)
        .output()
        .expect("strace runs");
    if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("ptrace") {
        eprintln!(
            "STRACE TEST NOT RUN: ptrace is not permitted here: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    ok(&out);
    let calls = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = calls
        .lines()
        .filter(|l| !l.contains("+++ exited") && !l.contains("--- SIG"))
        .collect();
    assert!(
        calls.is_empty(),
        "the signer made network system calls during a ceremony:\n{}",
        calls.join("\n")
    );
    // The control: strace does see a socket call where there is one.
    let ctl = d.join("control.log");
    let c = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=%network", "-o"])
        .arg(&ctl)
        .args([
            "python3",
            "-c",
            "import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()",
        ])
        .output();
    if matches!(c, Ok(ref o) if o.status.success()) {
        let ctl = std::fs::read_to_string(&ctl).unwrap();
        assert!(
            ctl.contains("socket("),
            "strace did not see python's socket():\n{ctl}"
        );
    } else {
        eprintln!("strace control case not run (no python3)");
    }
}

/// Every command that opens or makes keys, with arguments it would run
/// with in `setup()`'s folder.
fn key_commands() -> Vec<(&'static str, Vec<String>)> {
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let pass = ["--passphrase-file", "pass.txt"];
    vec![
        ("sign", SignArgs::new().into_iter().collect()),
        (
            "list",
            [&["list", "keys.tgz.age"][..], &pass]
                .concat()
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        (
            "import",
            v(&[
                "import",
                "factory-keys.tgz",
                "-o",
                "again.tgz.age",
                "--passphrase-file",
                "pass.txt",
            ]),
        ),
        (
            "export",
            v(&[
                "export",
                "keys.tgz.age",
                "-o",
                "plain.tgz",
                "--plaintext",
                "--passphrase-file",
                "pass.txt",
            ]),
        ),
        (
            "keygen",
            v(&[
                "keygen",
                "--keys",
                "keys.tgz.age",
                "-o",
                "pub.json",
                "--new-archive",
                "k2.tgz.age",
                "--passphrase-file",
                "pass.txt",
            ]),
        ),
        (
            "sign-wave",
            v(&[
                "sign-wave",
                "wave.json",
                "--keys",
                "keys.tgz.age",
                "-o",
                "wave-bundle.json",
                "--passphrase-file",
                "pass.txt",
            ]),
        ),
    ]
}

/// The signer in `dir` without the test suite's rehearsal opt-in.
fn signer_as_shipped<I, S>(dir: &Path, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    TestCommand::new("signer", dir)
        .env_remove(REHEARSAL.0)
        .args(args)
        .output()
}

const REFUSED: &str = "opens root keys, and runs only on a machine with no network";

#[test]
fn a_networked_machine_is_refused_unless_it_is_a_rehearsal() {
    let up = interfaces_up_in_sys();
    let own = interfaces_in_proc();
    if up.iter().any(|i| !own.contains(i)) {
        eprintln!(
            "NOTE: /sys/class/net shows {up:?} up, but this process's network namespace holds \
             {own:?}: /sys belongs to another namespace (plain `unshare -n` without remounting \
             /sys). The signer reads /sys, so it will refuse: a false alarm, on the safe side."
        );
    }
    let dir = setup();
    let d = dir.path();
    // Commands that open no key run anywhere.
    ok(&signer_as_shipped(d, ["review", "proposal.json"]));

    if up.is_empty() {
        eprintln!("no interface but loopback is up: every command must run without --rehearsal");
        let t = ok(&signer_as_shipped(d, SignArgs::new()));
        assert!(!t.contains("are up") && !t.contains("REHEARSAL"), "{t}");
        let machine = machine_in_transcript(d);
        assert_eq!(machine["non_loopback_interface_up"], false, "{machine}");
        assert!(machine.get("rehearsal").is_none(), "{machine}");
        for (name, args) in key_commands() {
            let out = signer_as_shipped(d, &args);
            assert!(
                !text(&out).contains(REFUSED),
                "{name} was refused offline:\n{}",
                text(&out)
            );
        }
        return;
    }

    eprintln!("interfaces up: {up:?}: every command that opens keys must refuse");
    let before = hash_dir(d);
    for (name, args) in key_commands() {
        let out = signer_as_shipped(d, &args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(3), "{name}: {t}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(REFUSED) && stderr.contains(&format!("`signer {name}`")),
            "{name}: {t}"
        );
        assert!(
            stderr.contains("--rehearsal"),
            "{name} does not name the flag: {t}"
        );
        for i in &up {
            assert!(
                stderr.contains(i.as_str()),
                "{name}: {i} is not named:\n{t}"
            );
        }
        assert!(
            !stderr.contains("panicked") && out.stdout.is_empty(),
            "{name}: {t}"
        );
        assert_eq!(
            hash_dir(d),
            before,
            "a refused {name} changed the folder:\n{t}"
        );
    }
    // The old flag is the default's name now, and wins over the environment.
    let out = signer(d, SignArgs::new().extra(["--require-offline"]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(hash_dir(d), before);

    // --rehearsal: it signs, says so at the start, in the review header and
    // at the end, and the transcript records how.
    let out = signer_as_shipped(d, SignArgs::new().extra(["--rehearsal"]));
    let t = ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("REHEARSAL (--rehearsal; network interface(s)"),
        "{t}"
    );
    assert!(
        stdout.matches("REHEARSAL (--rehearsal;").count() >= 2,
        "header and closing lines: {t}"
    );
    assert!(
        stdout
            .trim_end()
            .lines()
            .last()
            .is_some_and(|l| l.contains("REHEARSAL")),
        "{t}"
    );
    let machine = machine_in_transcript(d);
    assert_eq!(machine["rehearsal"], "flag", "{machine}");
    assert_eq!(machine["non_loopback_interface_up"], true, "{machine}");
    let recorded: Vec<&str> = machine["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["name"] != "lo")
        .filter_map(|i| i["name"].as_str())
        .collect();
    for i in &up {
        assert!(
            recorded.contains(&i.as_str()),
            "{i} not recorded: {machine}"
        );
    }
    // The auditor is told too; verify-transcript opens no key and runs here.
    let v = signer_as_shipped(
        d,
        [
            "verify-transcript",
            "bundle.transcript.jsonl",
            "--root",
            "bundle.json",
        ],
    );
    let t = ok(&v);
    assert!(
        t.contains("REHEARSAL: the signer was told this run is a rehearsal (--rehearsal)"),
        "{t}"
    );

    // The test suite's opt-in is recorded as what it is.
    let dir = setup();
    ok(&signer(dir.path(), SignArgs::new()));
    assert_eq!(
        machine_in_transcript(dir.path())["rehearsal"],
        "environment"
    );
}
