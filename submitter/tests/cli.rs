//! Smoke test of the submitter's command line; it also makes cargo build the
//! `submitter` binary before the workspace's end-to-end tests run.

use std::process::Command;

#[test]
fn help_names_every_command_with_an_example() {
    let out = Command::new(env!("CARGO_BIN_EXE_submitter"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("audit"), "{text}");
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_submitter"))
        .args(["audit", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
