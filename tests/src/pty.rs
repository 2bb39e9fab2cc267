//! A binary on a real pseudo-terminal, and what its screen shows.
//!
//! The signer asks for its confirmations only on a terminal, and what an
//! operator approves is what the terminal *displays*, not the bytes the
//! program wrote: a cursor-movement sequence can redraw a line, a carriage
//! return can overwrite one. So the red-team tests run the binaries here:
//! stdin, stdout and stderr on the slave side of a pty, the master read in a
//! thread into the raw bytes and into a [`vt100::Parser`] (a terminal
//! emulator) tall and wide enough that nothing scrolls off, and prompts
//! answered by typing a line once the program waits for one.
//!
//! The child gets no controlling terminal (that needs `setsid` in a
//! `pre_exec`, which is `unsafe`): the binaries read their confirmations
//! from standard input, which is the terminal here, and never open
//! `/dev/tty` when given `--passphrase-file`.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;
use rustix::termios::Winsize;

/// Rows and columns of the emulated screen: a whole ceremony's output fits
/// without scrolling, and no line of ours wraps.
pub const ROWS: u16 = 3000;
/// See [`ROWS`].
pub const COLS: u16 = 300;

/// How long one wait (for a text, a prompt or the end) may take before the
/// test fails with the screen's contents.
pub const WAIT: Duration = Duration::from_secs(60);

struct State {
    raw: Vec<u8>,
    parser: vt100::Parser,
    /// The master returned end of file or EIO: every slave side is closed.
    closed: bool,
}

/// A running binary on a pseudo-terminal.
pub struct Pty {
    child: Child,
    master: std::fs::File,
    state: Arc<(Mutex<State>, Condvar)>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// What a finished binary did on its terminal.
#[derive(Clone, Debug)]
pub struct PtyRun {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Every byte read from the master: the program's output and the echo
    /// of what was typed.
    pub raw: Vec<u8>,
    /// The rendered screen, as the terminal displays it.
    pub screen: String,
    /// Whether the terminal echoes what is typed, once the program ended: a
    /// program killed while echo was off (a passphrase prompt) leaves it off.
    pub echo: bool,
}

impl Pty {
    /// Starts `cmd` with its three standard streams on a new pty.
    pub fn spawn(cmd: &mut Command) -> Pty {
        let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY)
            .expect("a pseudo-terminal");
        rustix::pty::grantpt(&master).expect("grantpt");
        rustix::pty::unlockpt(&master).expect("unlockpt");
        let name = rustix::pty::ptsname(&master, Vec::new()).expect("ptsname");
        let slave = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .expect("the pty's slave side");
        rustix::termios::tcsetwinsize(
            &slave,
            Winsize {
                ws_row: ROWS,
                ws_col: COLS,
                ws_xpixel: 0,
                ws_ypixel: 0,
            },
        )
        .expect("window size");
        let dup = |fd: &rustix::fd::OwnedFd| Stdio::from(fd.try_clone().expect("dup"));
        cmd.stdin(dup(&slave))
            .stdout(dup(&slave))
            .stderr(dup(&slave))
            .env("TERM", "vt100")
            .env("COLUMNS", COLS.to_string())
            .env("LINES", ROWS.to_string());
        let child = cmd.spawn().expect("the binary starts");
        // Our copies of the slave side go now: once the child (and anything
        // it started) is gone, reading the master ends with EIO.
        drop(slave);
        let _ = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let master = std::fs::File::from(master);
        let state = Arc::new((
            Mutex::new(State {
                raw: Vec::new(),
                parser: vt100::Parser::new(ROWS, COLS, 0),
                closed: false,
            }),
            Condvar::new(),
        ));
        let mut reading = master.try_clone().expect("dup master");
        let shared = Arc::clone(&state);
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                let n = match reading.read(&mut buf) {
                    Ok(0) | Err(_) => 0,
                    Ok(n) => n,
                };
                let (lock, cv) = &*shared;
                let mut s = lock.lock().unwrap();
                if n == 0 {
                    s.closed = true;
                    cv.notify_all();
                    return;
                }
                s.raw.extend_from_slice(&buf[..n]);
                s.parser.process(&buf[..n]);
                cv.notify_all();
            }
        });
        Pty {
            child,
            master,
            state,
            reader: Some(reader),
        }
    }

    /// The rendered screen now.
    pub fn screen(&self) -> String {
        self.state.0.lock().unwrap().parser.screen().contents()
    }

    /// The raw bytes read so far.
    pub fn raw(&self) -> Vec<u8> {
        self.state.0.lock().unwrap().raw.clone()
    }

    /// Waits until the screen shows `text`; panics with the screen after
    /// [`WAIT`].
    #[track_caller]
    pub fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + WAIT;
        let (lock, cv) = &*self.state;
        let mut s = lock.lock().unwrap();
        loop {
            let screen = s.parser.screen().contents();
            if screen.contains(text) {
                return;
            }
            let now = Instant::now();
            if now >= deadline || s.closed {
                panic!(
                    "the screen never showed {text:?} ({}):\n{screen}",
                    if s.closed {
                        "the program ended"
                    } else {
                        "timed out"
                    }
                );
            }
            s = cv.wait_timeout(s, deadline - now).unwrap().0;
        }
    }

    /// Whether the terminal echoes what is typed now (ECHO in its termios:
    /// on Linux the master reports the slave side's settings).
    pub fn echo(&self) -> bool {
        rustix::termios::tcgetattr(&self.master)
            .expect("the terminal's settings")
            .local_modes
            .contains(rustix::termios::LocalModes::ECHO)
    }

    /// Types `bytes` as they are (0x03 is Ctrl-C, which a terminal turns
    /// into SIGINT for its foreground process group, 0x04 Ctrl-D).
    pub fn type_bytes(&mut self, bytes: &[u8]) {
        self.master
            .write_all(bytes)
            .expect("typing on the terminal");
    }

    /// The program's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Types `line` and Enter.
    pub fn type_line(&mut self, line: &str) {
        self.master
            .write_all(format!("{line}\n").as_bytes())
            .expect("typing on the terminal");
    }

    /// Waits until the program either waits for a line of input (it is
    /// blocked reading its standard input and has printed nothing for a
    /// moment) or has ended. Returns whether it waits for input.
    #[track_caller]
    pub fn wait_for_prompt_or_end(&mut self) -> bool {
        let deadline = Instant::now() + WAIT;
        let mut last_len = usize::MAX;
        let mut quiet_since = Instant::now();
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            let len = self.state.0.lock().unwrap().raw.len();
            if len != last_len {
                last_len = len;
                quiet_since = Instant::now();
            }
            if quiet_since.elapsed() >= Duration::from_millis(250) && reads_stdin(self.child.id()) {
                return true;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "the program neither asked nor ended in {WAIT:?}:\n{}",
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits for the program to end (killing it after [`WAIT`]) and returns
    /// what it did.
    pub fn finish(mut self) -> PtyRun {
        let deadline = Instant::now() + WAIT;
        let status = loop {
            match self.child.try_wait().expect("wait") {
                Some(st) => break st,
                None if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    break self.child.wait().expect("wait after kill");
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        // The reader ends when the last slave side closes; give it the
        // bytes still in flight.
        let (lock, cv) = &*self.state;
        {
            let mut s = lock.lock().unwrap();
            let until = Instant::now() + Duration::from_secs(5);
            while !s.closed && Instant::now() < until {
                s = cv.wait_timeout(s, Duration::from_millis(50)).unwrap().0;
            }
        }
        if lock.lock().unwrap().closed {
            if let Some(r) = self.reader.take() {
                let _ = r.join();
            }
        }
        let echo = self.echo();
        let s = lock.lock().unwrap();
        PtyRun {
            code: status.code().unwrap_or(-1),
            raw: s.raw.clone(),
            screen: s.parser.screen().contents(),
            echo,
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether a thread of process `pid` is blocked in `read(0, …)` (from
/// `/proc/PID/task/TID/syscall`: the number of the system call, then its
/// arguments). Independent of the prompt's wording, and of which thread
/// reads: the signer reads its answers on a helper thread, so that Ctrl-C
/// can end a prompt (`signer/src/interrupt.rs`).
fn reads_stdin(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    // x86_64: read is 0; aarch64: 63.
    let read_nr = if cfg!(target_arch = "aarch64") {
        "63"
    } else {
        "0"
    };
    tasks.flatten().any(|task| {
        let Ok(text) = std::fs::read_to_string(task.path().join("syscall")) else {
            return false;
        };
        let mut fields = text.split_whitespace();
        fields.next() == Some(read_nr) && fields.next() == Some("0x0")
    })
}

/// A program run on a pty that answers every question it asks with the
/// next of `answers` (and ends the input when they run out), recording the
/// screen at each question.
pub struct Dialogue {
    /// The run.
    pub run: PtyRun,
    /// The last non-empty line of the screen at each question, in order.
    pub prompts: Vec<String>,
    /// The whole screen at each question.
    pub screens: Vec<String>,
    /// Whatever `at_prompt` returned at each question.
    pub observed: Vec<bool>,
}

/// Runs `cmd` on a pty, typing `answers` one per question; `at_prompt` is
/// called at each question (before it is answered), for example to check
/// that nothing has been written yet.
pub fn converse(
    cmd: &mut Command,
    answers: &[&str],
    mut at_prompt: impl FnMut() -> bool,
) -> Dialogue {
    let mut pty = Pty::spawn(cmd);
    let mut prompts = Vec::new();
    let mut screens = Vec::new();
    let mut observed = Vec::new();
    let mut next = answers.iter();
    while pty.wait_for_prompt_or_end() {
        let screen = pty.screen();
        prompts.push(
            screen
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim_end()
                .to_string(),
        );
        screens.push(screen);
        observed.push(at_prompt());
        match next.next() {
            Some(a) => pty.type_line(a),
            None => {
                // No more answers: end of input (Ctrl-D on an empty line).
                pty.master.write_all(&[4]).expect("typing on the terminal");
                break;
            }
        }
    }
    let run = pty.finish();
    Dialogue {
        run,
        prompts,
        screens,
        observed,
    }
}
