//! Exit statuses, the same for every command of both binaries: 0 ok, 1 an
//! error that kept the work from being done, 2 a usage error, 3 a
//! verification that ran and failed. Scripts and auditors rely on telling a
//! broken history (3) from a missing file (1).

use thiserror::Error;

/// A verification ran and failed (a root history that does not hold, a
/// bundle that breaks a rule, a transcript that was edited).
pub const EXIT_VERIFICATION_FAILED: u8 = 3;

/// The command was called wrongly (clap uses the same status).
pub const EXIT_USAGE: u8 = 2;

/// An error meaning "a verification ran and failed": exit status 3.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// An error in how the command was called: exit status 2.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct Usage(pub String);
