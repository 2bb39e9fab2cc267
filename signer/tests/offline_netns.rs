//! The signer works with no network at all, and says so when there is one.
//!
//! * A whole ceremony (import, review, sign with `--require-offline`, list,
//!   verify-transcript) runs inside a fresh network namespace that has only
//!   a loopback interface, which is down (`unshare -n`, with `/sys`
//!   remounted so that `/sys/class/net` shows that namespace's interfaces).
//! * The same ceremony runs under `strace -f -e trace=%network`: the signer
//!   makes no network system call at all (raw ones included, which `nm`
//!   cannot see).
//! * On this machine as it is: when an interface other than loopback is up,
//!   `sign --require-offline` refuses and changes nothing, and `sign`
//!   without it warns and records the interface in the transcript; when none
//!   is up (inside `scripts/test-offline.sh`), `--require-offline` signs.
//!
//! Where the kernel or the sandbox forbids namespaces (or strace is
//! missing), the test says why on stderr, in capitals, and checks what it
//! still can: that the ceremony works and what the signer recorded about
//! the machine matches /sys.

use std::path::Path;
use std::process::{Command, Output};

use ceremony_tests::cmd::TEST_SCRYPT_LOG_N;
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

fn run_prefixed<I, S>(dir: &Path, prefix: &[String], args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(&prefix[0])
        .args(&prefix[1..])
        .arg(signer_path())
        .args(args)
        .current_dir(dir)
        .env(TEST_SCRYPT_LOG_N.0, TEST_SCRYPT_LOG_N.1)
        .output()
        .expect("the command runs")
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
    let args = SignArgs::new().extra(["--require-offline"]);
    let out = run_prefixed(d, &prefix, &args);
    let t = ok(&out);
    assert!(
        !t.contains("are up"),
        "no interface is up in the namespace:\n{t}"
    );
    let machine = machine_in_transcript(d);
    assert_eq!(machine["non_loopback_interface_up"], false, "{machine}");
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
    let out = run_prefixed(d, &prefix, SignArgs::new());
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

#[test]
fn require_offline_follows_the_state_of_this_machine() {
    let up = interfaces_up_in_sys();
    let own = interfaces_in_proc();
    if up.iter().any(|i| !own.contains(i)) {
        eprintln!(
            "NOTE: /sys/class/net shows {up:?} up, but this process's network namespace holds \
             {own:?}: /sys belongs to another namespace (plain `unshare -n` without remounting \
             /sys). The signer reads /sys, so it will refuse --require-offline: a false alarm, \
             on the safe side."
        );
    }
    let dir = setup();
    let d = dir.path();
    let args = SignArgs::new().extra(["--require-offline"]);
    if up.is_empty() {
        eprintln!("no interface but loopback is up: --require-offline must sign");
        let t = ok(&signer(d, &args));
        assert!(!t.contains("are up"), "{t}");
        assert_eq!(machine_in_transcript(d)["non_loopback_interface_up"], false);
        return;
    }
    eprintln!("interfaces up: {up:?}: --require-offline must refuse, plain sign must warn");
    let before = hash_dir(d);
    let out = signer(d, &args);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--require-offline"), "{t}");
    for i in &up {
        assert!(stderr.contains(i.as_str()), "{i} is not named:\n{t}");
    }
    assert!(!stderr.contains("panicked"), "{t}");
    assert_eq!(
        hash_dir(d),
        before,
        "a refused ceremony changed the folder:\n{t}"
    );

    // Without the flag: a warning, recorded in the transcript, and it signs.
    let out = signer(d, SignArgs::new());
    let t = ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: network interface(s)") && stderr.contains(&up[0]),
        "{t}"
    );
    let machine = machine_in_transcript(d);
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
}
