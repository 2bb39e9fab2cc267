//! The release and offline-test scripts are too slow for CI to run (a full
//! optimised build, twice more for the reproducibility check; the signer's
//! whole suite in a network namespace), so CI checks that they parse, that
//! `--help` works, and, where shellcheck is installed, that it finds nothing;
//! and that the scripts a newcomer waits on (demo.sh, .ci/run) do not build
//! or install silently.

use std::process::Command;

use ceremony_tests::workspace_root;

const SCRIPTS: &[&str] = &[
    "scripts/release.sh",
    "scripts/test-offline.sh",
    "scripts/demo.sh",
    ".ci/run",
];

#[test]
fn the_scripts_parse() {
    for s in SCRIPTS {
        let path = workspace_root().join(s);
        let out = Command::new("bash").arg("-n").arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "bash -n {s}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert!(mode & 0o111 != 0, "{s} is not executable");
        }
    }
}

#[test]
fn release_help_names_what_it_does() {
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/release.sh"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in [
        "cargo auditable",
        "musl",
        "crt-static",
        "SHA256SUMS",
        "reproducible",
    ] {
        assert!(
            text.contains(word),
            "--help does not mention {word}:\n{text}"
        );
    }
    let bad = Command::new("bash")
        .arg(workspace_root().join("scripts/release.sh"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn shellcheck_if_installed() {
    if Command::new("shellcheck")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("shellcheck is not installed: skipped (bash -n still ran)");
        return;
    }
    for s in SCRIPTS {
        let out = Command::new("shellcheck")
            .arg("-S")
            .arg("warning")
            .arg(workspace_root().join(s))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "shellcheck {s}:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// A `cargo build --quiet` sat silent for ten minutes and looked hung: the
/// builds a person waits on show cargo's own progress, and every install
/// step of CI says what it does before it starts.
#[test]
fn the_waits_are_not_silent() {
    let demo = std::fs::read_to_string(workspace_root().join("scripts/demo.sh")).unwrap();
    let builds: Vec<&str> = demo
        .lines()
        .filter(|l| l.trim_start().starts_with("cargo build"))
        .collect();
    assert!(!builds.is_empty(), "demo.sh builds nothing?");
    for l in &builds {
        let words: Vec<&str> = l.split_whitespace().collect();
        assert!(
            !words.contains(&"--quiet") && !words.contains(&"-q"),
            "demo.sh builds silently: {l}"
        );
    }
    let ci = std::fs::read_to_string(workspace_root().join(".ci/run")).unwrap();
    let lines: Vec<&str> = ci.lines().map(str::trim).collect();
    for what in [".venv/bin/pip install", "apt-get update", "scripts/test.sh"] {
        let at = lines
            .iter()
            .position(|l| l.starts_with(what))
            .unwrap_or_else(|| panic!(".ci/run no longer runs {what}"));
        assert!(
            lines[..at]
                .iter()
                .rev()
                .take(3)
                .any(|l| l.starts_with("step ")),
            ".ci/run runs {what} without saying so first"
        );
    }
    assert!(
        !ci.contains("pip install --quiet"),
        ".ci/run installs python-tuf silently"
    );
}
