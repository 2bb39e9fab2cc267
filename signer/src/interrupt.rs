//! Ctrl-C, SIGTERM, "no" and end of input at a prompt: the operator's abort.
//!
//! Every question the signer asks (a typed confirmation, a passphrase, a
//! token PIN) is answered here, so that an abort is one typed error,
//! [`Aborted`], that the command turns into a recorded, clean ending (the
//! transcript's `abort` entry, nothing half-written left behind) instead of
//! a process killed with the terminal's echo still off.
//!
//! Why the answer is read on a helper thread: std's `read_line` retries a
//! read that a signal interrupted (EINTR), so a main thread blocked on the
//! keyboard never sees Ctrl-C; and rpassword turns echo off and puts it back
//! only when its own read returns. So the main thread waits for the reader
//! thread's answer on a channel, and looks, every few milliseconds, at a flag
//! the signal handler sets ([`signal_hook::flag`]: the handler only stores
//! the signal's number in an atomic). signal-hook's own iterator would wake
//! the main thread through a Unix socket pair (`socketpair`, `send`, `recv`),
//! which the signer must not even import (`tests/offline_symbols.rs`); a
//! flag needs no file descriptor at all. A signal at a prompt wins: the
//! terminal settings saved before the prompt are put back, and the prompt
//! returns [`Aborted::Signal`]. The reader thread is left blocked in its
//! read; the process ends soon after (nothing is asked after an abort).
//!
//! A signal outside a prompt (key generation, signing) ends the process as
//! if no handler were installed (signal-hook's conditional default action):
//! the transcript is then cut short, which `verify-transcript` reports as
//! incomplete.

use std::io::{self, BufRead};
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::Duration;

use ceremony_cli::eprintln;
use rustix::termios::{OptionalActions, Termios};
use signal_hook::consts::{SIGINT, SIGTERM};
use thiserror::Error;

/// The operator stopped the ceremony at a prompt.
#[derive(Debug, Error)]
pub enum Aborted {
    /// Ctrl-C (SIGINT) or SIGTERM.
    #[error("aborted by the operator ({}) at {at}", signal_name(*signal))]
    Signal {
        /// The signal's number.
        signal: i32,
        /// The prompt.
        at: String,
    },
    /// An answer other than the one asked for.
    #[error("aborted by the operator (answered no) at {at}: not confirmed, you typed {typed:?} (expected {expected})")]
    AnsweredNo {
        /// The prompt.
        at: String,
        /// What was typed.
        typed: String,
        /// What would have gone ahead.
        expected: String,
    },
    /// The input ended (Ctrl-D) instead of an answer.
    #[error("aborted by the operator (end of input) at {at}")]
    EndOfInput {
        /// The prompt.
        at: String,
    },
}

impl Aborted {
    /// The exit status: 128 + the signal's number for a signal, as a shell
    /// reports a command a signal ended (130 for Ctrl-C), so scripts tell an
    /// interrupted run from one that failed; 1 for "no" or end of input: the
    /// work was not done, and nothing failed a verification (that is 3).
    pub fn exit_status(&self) -> u8 {
        match self {
            Aborted::Signal { signal, .. } => 128u8.saturating_add(*signal as u8),
            Aborted::AnsweredNo { .. } | Aborted::EndOfInput { .. } => 1,
        }
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "Ctrl-C",
        SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// Why a prompt got no answer.
#[derive(Debug, Error)]
pub enum PromptError {
    /// The operator stopped.
    #[error("{0}")]
    Aborted(#[source] Aborted),
    /// The terminal could not be read (none, or an I/O error).
    #[error("{0}")]
    Io(#[source] io::Error),
}

/// The operator's abort in `e`'s chain, if that is why it failed.
pub fn aborted(e: &anyhow::Error) -> Option<&Aborted> {
    e.chain().find_map(|c| c.downcast_ref::<Aborted>())
}

/// The last signal the handler saw at a prompt (0: none since the prompt
/// began).
static SIGNALLED: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

/// True outside prompts: a signal then has its default action.
static OUTSIDE_PROMPT: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// How often a waiting prompt looks at [`SIGNALLED`].
const POLL: Duration = Duration::from_millis(20);

/// Installs the handlers for SIGINT and SIGTERM. Called once, before
/// anything is asked; if they cannot be installed, a signal ends the
/// process as before (and the terminal may keep echo off), which is said.
pub fn install() {
    let signalled = Arc::new(AtomicUsize::new(0));
    let outside = Arc::new(AtomicBool::new(true));
    let installed = [SIGINT, SIGTERM].iter().try_for_each(|&signal| {
        signal_hook::flag::register_conditional_default(signal, Arc::clone(&outside))?;
        signal_hook::flag::register_usize(signal, Arc::clone(&signalled), signal as usize)
            .map(|_| ())
    });
    if let Err(e) = installed {
        eprintln!(
            "warning: cannot handle Ctrl-C ({e}): an interrupted prompt is not recorded, and the \
             terminal may need `stty sane`"
        );
        return;
    }
    let _ = SIGNALLED.set(signalled);
    let _ = OUTSIDE_PROMPT.set(outside);
}

/// Marks the time of one prompt: signals are the prompt's to handle while
/// this lives.
struct AtPrompt;

impl AtPrompt {
    fn begin() -> AtPrompt {
        if let Some(s) = SIGNALLED.get() {
            s.store(0, Ordering::SeqCst);
        }
        if let Some(o) = OUTSIDE_PROMPT.get() {
            o.store(false, Ordering::SeqCst);
        }
        AtPrompt
    }

    /// The signal received since the prompt began, if any.
    fn signal(&self) -> Option<i32> {
        let s = SIGNALLED.get()?.load(Ordering::SeqCst);
        (s != 0).then_some(s as i32)
    }
}

impl Drop for AtPrompt {
    fn drop(&mut self) {
        if let Some(o) = OUTSIDE_PROMPT.get() {
            o.store(true, Ordering::SeqCst);
        }
    }
}

/// The terminal's settings before a prompt, put back when a signal ends it.
struct Saved {
    fd: OwnedFd,
    termios: Termios,
}

impl Saved {
    /// The settings of the terminal rpassword uses (`/dev/tty`), or of
    /// standard input; `None` when there is no terminal.
    fn take(tty: bool) -> Option<Saved> {
        let fd = if tty {
            rustix::fs::open(
                "/dev/tty",
                rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .ok()?
        } else {
            rustix::io::dup(std::io::stdin()).ok()?
        };
        let termios = rustix::termios::tcgetattr(&fd).ok()?;
        Some(Saved { fd, termios })
    }

    fn restore(&self) {
        let _ = rustix::termios::tcsetattr(&self.fd, OptionalActions::Now, &self.termios);
    }
}

/// Runs `read` on a helper thread and waits for its answer or a signal.
fn wait(
    at: &str,
    tty: bool,
    read: fn(String) -> io::Result<String>,
    arg: String,
) -> Result<String, PromptError> {
    let saved = Saved::take(tty);
    let prompt = AtPrompt::begin();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(read(arg));
    });
    let interrupted = |signal: i32| {
        if let Some(s) = &saved {
            s.restore();
        }
        // The cursor is still after the prompt.
        eprintln!();
        PromptError::Aborted(Aborted::Signal {
            signal,
            at: at.into(),
        })
    };
    let answer = loop {
        if let Some(signal) = prompt.signal() {
            return Err(interrupted(signal));
        }
        match rx.recv_timeout(POLL) {
            Ok(answer) => break answer,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break Err(io::Error::other("the prompt's reader ended"))
            }
        }
    };
    // rpassword does not retry a read the signal interrupted: its error
    // (EINTR) can arrive before the flag is looked at; the handler set the
    // flag before the read returned.
    if let Some(signal) = prompt.signal() {
        return Err(interrupted(signal));
    }
    match answer {
        Ok(answer) => Ok(answer),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            Err(PromptError::Aborted(Aborted::EndOfInput { at: at.into() }))
        }
        Err(e) => Err(PromptError::Io(e)),
    }
}

/// Asks `prompt` on the terminal without echo (rpassword), as the answer to
/// `at`.
pub fn hidden(prompt: &str, at: &str) -> Result<String, PromptError> {
    fn read(prompt: String) -> io::Result<String> {
        rpassword::prompt_password(prompt)
    }
    wait(at, true, read, prompt.to_string())
}

/// Reads one line of standard input (the question is already printed), as
/// the answer to `at`, without its line end. End of input is an abort.
pub fn line(at: &str) -> Result<String, PromptError> {
    fn read(_: String) -> io::Result<String> {
        let mut line = String::new();
        if io::stdin().lock().read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line)
    }
    wait(at, false, read, String::new())
}

/// Ends a command: an operator's abort with its own status, said first
/// and then what was done about it (the contexts added on the way out,
/// innermost first); anything else as every command ends.
pub fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    let e = match result {
        Ok(code) => return code,
        Err(e) => e,
    };
    let Some(a) = aborted(&e) else {
        return ceremony_cli::exit::finish(Err(e));
    };
    let mut line = a.to_string();
    let contexts: Vec<String> = e
        .chain()
        .take_while(|c| c.downcast_ref::<Aborted>().is_none())
        .map(ToString::to_string)
        .collect();
    for c in contexts.iter().rev() {
        if !line.contains(c.as_str()) {
            line.push_str("; ");
            line.push_str(c);
        }
    }
    eprintln!("{line}");
    ExitCode::from(a.exit_status())
}

/// The prompt a question answers, for the transcript: its last sentence up
/// to the question mark ("Sign this?"), quoted.
pub fn question_name(question: &str) -> String {
    let q = question.trim();
    let q = q.find('?').map_or(q, |i| &q[..=i]);
    let start = [". ", "; ", "\n"]
        .iter()
        .filter_map(|sep| q.rfind(sep).map(|i| i + sep.len()))
        .max()
        .unwrap_or(0);
    format!(
        "the question {:?}",
        ceremony::untrusted::escape(&q[start..]).into_owned()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_is_named_by_its_last_sentence() {
        assert_eq!(
            question_name("\nSign this? Type \"yes\" or the new version number (2):"),
            "the question \"Sign this?\""
        );
        assert_eq!(
            question_name(
                "\nThe server prepared this; it did not. Accept the server's changes? Type"
            ),
            "the question \"Accept the server's changes?\""
        );
    }

    #[test]
    fn exit_statuses() {
        let at = String::new();
        assert_eq!(
            Aborted::Signal {
                signal: SIGINT,
                at: at.clone()
            }
            .exit_status(),
            130
        );
        assert_eq!(
            Aborted::Signal {
                signal: SIGTERM,
                at: at.clone()
            }
            .exit_status(),
            143
        );
        assert_eq!(Aborted::EndOfInput { at }.exit_status(), 1);
    }
}
