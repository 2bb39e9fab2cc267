//! The red-team suite (issue 12, items 10 and 3): crafted proposals, staged
//! roots, bundles and transcripts from a fully compromised online side, run
//! through the real binaries, where the screen matters on a pseudo-terminal
//! rendered by a terminal emulator (`ceremony_tests::pty`).
//!
//! Each case gets one verdict: refused (non-zero exit, a message naming
//! what is wrong, no bundle, no new archive), or signed and every
//! difference between the current root and what was signed is on the
//! screen the operator confirmed (`oracle`, written apart from
//! `ceremony::diff`). In every case no raw control character reaches the
//! terminal or a file written for humans. One `#[test]` per class, each
//! listing all its failing cases at once.

#[path = "red_team/common.rs"]
mod common;
#[path = "red_team/oracle.rs"]
mod oracle;

#[path = "red_team/anchors.rs"]
mod anchors;
#[path = "red_team/cosign_flows.rs"]
mod cosign_flows;
#[path = "red_team/decoders.rs"]
mod decoders;
#[path = "red_team/escapes.rs"]
mod escapes;
#[path = "red_team/injection.rs"]
mod injection;
#[path = "red_team/key_swap.rs"]
mod key_swap;
#[path = "red_team/server_prepared.rs"]
mod server_prepared;
#[path = "red_team/strictness.rs"]
mod strictness;
#[path = "red_team/transcripts.rs"]
mod transcripts;

/// The harness itself: the screen is what a terminal displays (a line
/// erased by an escape sequence is gone from it, though its bytes were
/// read), prompts are found by the program waiting on its input, and the
/// raw bytes keep what the screen hides.
#[test]
fn the_pty_renders_what_a_terminal_displays() {
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args([
        "-c",
        r#"printf 'role targets added\n\033[1A\033[2Kall unchanged\nSign this? '; read a; printf 'got %s\n' "$a""#,
    ]);
    let talk = ceremony_tests::pty::converse(&mut cmd, &["yes"], || true);
    assert_eq!(talk.prompts, ["Sign this?"], "{}", talk.run.screen);
    assert!(
        !talk.run.screen.contains("role targets added"),
        "{}",
        talk.run.screen
    );
    assert!(talk.run.screen.contains("all unchanged"));
    assert!(talk.run.screen.contains("got yes"));
    assert_eq!(talk.run.code, 0);
    let raw = String::from_utf8_lossy(&talk.run.raw);
    assert!(raw.contains("role targets added") && raw.contains('\u{1b}'));
    assert!(!common::raw_problems("raw", &talk.run.raw).is_empty());
}
