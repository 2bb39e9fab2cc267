//! Exit statuses, the same for every command of both binaries: 0 ok, 1 an
//! error that kept the work from being done, 2 a usage error, 3 a
//! verification that ran and failed. Scripts and auditors rely on telling a
//! broken history (3) from a missing file (1).

use crate::eprintln;
use std::process::ExitCode;

use thiserror::Error;

/// A verification ran and failed (a root history that does not hold, a
/// bundle that breaks a rule, a transcript that was edited).
pub const EXIT_VERIFICATION_FAILED: u8 = 3;

/// The command was called wrongly (clap uses the same status).
pub const EXIT_USAGE: u8 = 2;

/// An error meaning "a verification ran and failed": exit status 3, in both
/// binaries under this one name.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct VerificationFailed(pub String);

/// An error in how the command was called: exit status 2.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Ends a command: its own status when it ran, or the error on standard
/// error (`refused: …` for a failed verification, `error: …` otherwise, the
/// causes on the same line) with the status of its class.
pub fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    let e = match result {
        Ok(code) => return code,
        Err(e) => e,
    };
    let line = render_chain(e.as_ref());
    if e.chain().any(|c| c.is::<VerificationFailed>()) {
        eprintln!("refused: {line}");
        ExitCode::from(EXIT_VERIFICATION_FAILED)
    } else if e.chain().any(|c| c.is::<UsageError>()) {
        eprintln!("error: {line}");
        ExitCode::from(EXIT_USAGE)
    } else {
        eprintln!("error: {line}");
        ExitCode::FAILURE
    }
}

/// Parses the command line of a binary.
///
/// clap would print a rejected argument as it was typed and, on a terminal,
/// its own colour sequences: both put raw control characters on the screen.
/// Its message is rendered here without colour and printed through the
/// escaping output, with clap's own exit status (0 for `--help`, 2 for a
/// usage error).
pub fn parse_args<P: clap::Parser>() -> Result<P, ExitCode> {
    let mut command = P::command().color(clap::ColorChoice::Never);
    let parsed = command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|m| P::from_arg_matches(&m).map_err(|e| e.format(&mut command)));
    parsed.map_err(|e| {
        // `StyledStr`'s `Display` is the plain text, with no styling.
        let text = e.render().to_string();
        if e.use_stderr() {
            crate::eprint!("{text}");
        } else {
            crate::print!("{text}");
        }
        ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(EXIT_USAGE))
    })
}

/// An error and its causes on one line, for the binaries' `error: …`.
///
/// Many errors already quote their cause in their own message (so that a
/// plain `to_string()` is complete); a cause whose text is already in the
/// line is not repeated.
pub fn render_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Error)]
    #[error("cannot read x: {source}")]
    struct Outer {
        source: std::io::Error,
    }

    #[test]
    fn a_cause_is_said_once() {
        let e = Outer {
            source: std::io::Error::other("disk on fire"),
        };
        assert_eq!(render_chain(&e), "cannot read x: disk on fire");
        let u = UsageError("bad flag".into());
        assert_eq!(render_chain(&u), "bad flag");
    }
}
