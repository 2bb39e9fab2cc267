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
