//! `ceremony-cli`: what the two binaries share on the command line.
//!
//! The core library (`ceremony`) computes and never prints or parses an
//! argument, so that it can be audited as pure logic and linked anywhere.
//! Everything both binaries say to a person the same way lives here instead
//! of being written twice (ripgrep's `grep-cli` plays this part there):
//!
//! - [`exit`]: the exit statuses (0, 1, 2 usage, 3 a verification failed),
//!   the two error types that pick 2 and 3, and how an error is printed.
//! - [`qr`]: `qr show` (terminal animation, text, PNG/SVG/HTML) and
//!   `qr read`, generic over where frames are read from, so the signer links
//!   no image decoder.
//! - [`audit`]: the flags and the printing of a root-history audit.
//! - [`verify_transcript`]: checking a ceremony transcript.
//!
//! The signer links this crate: like `ceremony`, it holds no network code
//! (`signer/tests/no_network.rs` holds the signer's graph to an allow-list).

#![forbid(unsafe_code)]

pub mod audit;
pub mod exit;
pub mod output;
pub mod qr;
pub mod verify_transcript;
