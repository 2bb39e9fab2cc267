//! Running the workspace's binaries from tests, the way ripgrep's
//! `tests/util.rs` does it: one builder, [`TestCommand`], that starts from a
//! hermetic environment (nothing of the machine's FoundriesFactory setup,
//! HOME in the test's folder, the cheap scrypt cost for new archives, the
//! signer's rehearsal opt-in for this networked machine) and
//! whose failures print the exit status with both streams, so a red test
//! says what the binary said.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::binary;

/// The scrypt work factor (2^10) of archives made in tests: a debug-build
/// knob of the signer (release builds ignore it, and opening an archive is
/// unaffected; `--work-factor` overrides it). Tests that want the default
/// cost remove it.
pub const TEST_SCRYPT_LOG_N: (&str, &str) = ("TUF_CEREMONY_TEST_SCRYPT_LOG_N", "10");

/// The signer's explicit opt-in to run on a networked machine (as
/// `--rehearsal`, recorded in the transcript): tests run on one. Tests of
/// the refusal remove it.
pub const REHEARSAL: (&str, &str) = ("TUF_CEREMONY_REHEARSAL", "1");

/// A command of a workspace binary, ready to run in a test.
pub struct TestCommand {
    cmd: Command,
    stdin: Option<Vec<u8>>,
}

impl TestCommand {
    /// The workspace binary `bin` (signer, submitter, factory-sim,
    /// tuf-repo-init), run in `dir`.
    pub fn new(bin: &str, dir: &Path) -> TestCommand {
        TestCommand::program(binary(bin), dir)
    }

    /// The program at `path` (such as `env!("CARGO_BIN_EXE_signer")`), run
    /// in `dir` with the same hermetic environment.
    pub fn program(path: impl Into<PathBuf>, dir: &Path) -> TestCommand {
        let mut cmd = Command::new(path.into());
        // No token or Factory config from the machine leaks in, and a
        // backtrace never changes what stderr holds.
        cmd.current_dir(dir)
            .env_remove("FIOCTL_TOKEN")
            .env_remove("OSF_TOKEN")
            .env_remove("TOKEN_HEADER")
            .env_remove("RUST_BACKTRACE")
            // The submitter's state folder (kept proposals) is under HOME,
            // never the machine's own.
            .env_remove("XDG_STATE_HOME")
            .env_remove("TUF_CEREMONY_STATE_DIR")
            .env("FIOCTL_CONFIG", dir.join("no-fioctl-config.yaml"))
            .env("HOME", dir)
            .env(TEST_SCRYPT_LOG_N.0, TEST_SCRYPT_LOG_N.1)
            .env(REHEARSAL.0, REHEARSAL.1)
            .stdin(Stdio::null());
        TestCommand { cmd, stdin: None }
    }

    /// One more argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut TestCommand {
        self.cmd.arg(arg);
        self
    }

    /// More arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut TestCommand
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// An environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut TestCommand {
        self.cmd.env(key, value);
        self
    }

    /// Variables, as pairs.
    pub fn envs<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, vars: &[(K, V)]) -> &mut TestCommand {
        for (k, v) in vars {
            self.cmd.env(k, v);
        }
        self
    }

    /// Removes a variable (such as the cheap scrypt cost).
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut TestCommand {
        self.cmd.env_remove(key);
        self
    }

    /// Feeds `bytes` on standard input (else it is empty).
    pub fn stdin(&mut self, bytes: impl Into<Vec<u8>>) -> &mut TestCommand {
        self.stdin = Some(bytes.into());
        self
    }

    /// The command itself, for callers that spawn it and kill it.
    pub fn command(&mut self) -> &mut Command {
        &mut self.cmd
    }

    /// Runs it to the end.
    pub fn output(&mut self) -> Output {
        let Some(data) = self.stdin.clone() else {
            return self.cmd.output().expect("the binary runs");
        };
        let mut child = self
            .cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let mut input = child.stdin.take().expect("piped");
        let writer = std::thread::spawn(move || {
            // The reader may stop early (file complete): a broken pipe is fine.
            let _ = input.write_all(&data);
        });
        let out = child.wait_with_output().expect("the binary finishes");
        writer.join().expect("the stdin writer");
        out
    }

    /// Runs it; the output as text.
    pub fn run(&mut self) -> Ran {
        self.output().into()
    }

    /// Runs it and panics with the whole output unless it exits with `code`.
    #[track_caller]
    pub fn expect(&mut self, code: i32, what: &str) -> Ran {
        let ran = self.run();
        ran.expect(code, what);
        ran
    }

    /// Runs it and panics with the whole output unless it succeeds; returns
    /// the status and both streams (see [`text`]).
    #[track_caller]
    pub fn ok(&mut self) -> String {
        ok(&self.output())
    }
}

/// Runs the workspace binary `bin` in `dir` with `args` and no standard
/// input.
pub fn run_in<I, S>(dir: &Path, bin: &str, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    TestCommand::new(bin, dir).args(args).output()
}

/// Runs the signer in `dir` with `args`.
pub fn signer<I, S>(dir: &Path, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_in(dir, "signer", args)
}

/// Runs the signer on a pseudo-terminal (util-linux `script`), typing
/// `typed`: the only way to answer its questions, which never read a pipe.
/// Standard output and error both arrive on the terminal, so both are in the
/// output's stdout. (`crate::pty` renders such a screen with a terminal
/// emulator, for tests that compare it with what was signed.)
pub fn signer_on_a_terminal(dir: &Path, args: &[String], typed: &str) -> Output {
    let script = Path::new("/usr/bin/script");
    assert!(
        script.exists(),
        "this test needs util-linux's script(1) to give the signer a terminal"
    );
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = quote(&binary("signer").display().to_string());
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    TestCommand::program(script, dir)
        .args(["-qec", &line, "/dev/null"])
        .stdin(typed.as_bytes().to_vec())
        .output()
}

/// Runs the signer with its own default scrypt work factor (log N = 18,
/// about a second per derivation), not the tests' lowered one.
pub fn signer_full_cost<I, S>(dir: &Path, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    TestCommand::new("signer", dir)
        .env_remove(TEST_SCRYPT_LOG_N.0)
        .args(args)
        .output()
}

/// The status and both streams, for messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Panics with [`text`] unless `out` succeeded; returns it.
#[track_caller]
pub fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", text(out));
    text(out)
}

/// Like [`ok`], naming the step in the message.
#[track_caller]
pub fn assert_ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed: {}", text(out));
}

/// The output of a finished command, as text, for assertions and messages.
pub struct Ran {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Ran {
    /// Standard output and error together.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Panics with the whole output unless the exit code is `code`.
    #[track_caller]
    pub fn expect(&self, code: i32, what: &str) -> &Ran {
        assert_eq!(
            self.code, code,
            "{what}: exit code {} (expected {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

impl From<Output> for Ran {
    fn from(o: Output) -> Ran {
        Ran {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}
