//! Running the test servers and the binaries: `factory-sim` and python's
//! `http.server`, on loopback addresses only, each killed when its guard is
//! dropped (and `factory-sim` also exits by itself after `--max-lifetime`).
//! Every wait is bounded.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{binary, python};

/// A running server, killed on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl Server {
    /// `127.0.0.1:PORT`, to start another server on the same address.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("url has a port")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The token every simulated Factory in the tests accepts.
pub const TOKEN: &str = "test-token-5f1c2a";

/// `factory-sim init DIR --key-type T`.
pub fn factory_init(dir: &Path, key_type: &str) {
    // `init` makes `dir`: run it from the folder that holds it.
    crate::cmd::TestCommand::new("factory-sim", dir.parent().expect("a parent folder"))
        .arg("init")
        .arg(dir)
        .args(["--key-type", key_type])
        .expect(0, "factory-sim init");
}

/// Starts `factory-sim` on a free loopback port for the state in `dir`,
/// with extra flags (faults). Waits (at most 30 s) for it to listen.
pub fn factory_sim(dir: &Path, extra: &[&str]) -> Server {
    factory_sim_on(dir, "127.0.0.1:0", extra)
}

/// Starts `factory-sim` on `listen` (such as the address of a simulator
/// stopped earlier, so that proposals made against it still name it).
pub fn factory_sim_on(dir: &Path, listen: &str, extra: &[&str]) -> Server {
    let mut child = Command::new(binary("factory-sim"))
        .args([
            "--listen",
            listen,
            "--token",
            TOKEN,
            "--max-lifetime",
            "900",
        ])
        .arg("--state")
        .arg(dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("factory-sim starts");
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    let Some(url) = line
        .trim()
        .strip_prefix("factory-sim listening on ")
        .map(str::to_owned)
    else {
        let _ = child.kill();
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let _ = child.wait();
        panic!("factory-sim did not start: {line:?} {err}");
    };
    Server { child, url }
}

/// A free loopback port (bound and released; the caller binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Serves `dir` with `python3 -m http.server --bind 127.0.0.1 PORT`;
/// waits (at most 30 s) until it accepts connections.
pub fn http_server(dir: &Path) -> Server {
    let port = free_port();
    let mut cmd = Command::new(python());
    cmd.args(["-m", "http.server", "--bind", "127.0.0.1"])
        .arg(port.to_string())
        .arg("--directory")
        .arg(dir);
    serve(cmd, port)
}

/// Serves `dir` on 127.0.0.1 with `tests/python/put_server.py`: static
/// files, plus PUT (a repository that takes uploads).
pub fn put_server(dir: &Path) -> Server {
    let port = free_port();
    let mut cmd = Command::new(python());
    cmd.arg(crate::workspace_root().join("tests/python/put_server.py"))
        .arg(dir)
        .arg(port.to_string());
    serve(cmd, port)
}

fn serve(mut cmd: Command, port: u16) -> Server {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the python server starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the python server did not listen on 127.0.0.1:{port}");
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the python server exited: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

pub use crate::cmd::Ran;
pub use crate::files::copy_dir;

/// Runs a workspace binary in `cwd` with `args`, no standard input, and
/// nothing of the machine's FoundriesFactory setup (see
/// [`TestCommand`](crate::cmd::TestCommand)), plus `env`.
pub fn run<I, S>(bin: &str, cwd: &Path, args: I, env: &[(&str, &str)]) -> Ran
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    crate::cmd::TestCommand::new(bin, cwd)
        .args(args)
        .envs(env)
        .run()
}

/// Writes the test token to `dir/token` and returns its path.
pub fn token_file(dir: &Path) -> PathBuf {
    let p = dir.join("token");
    std::fs::write(&p, format!("{TOKEN}\n")).expect("write token");
    p
}

/// Writes a passphrase file (a fresh random passphrase) and returns its path.
pub fn passphrase_file(dir: &Path) -> PathBuf {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).expect("random");
    let p = dir.join("passphrase");
    std::fs::write(&p, format!("{}\n", hex::encode(b))).expect("write passphrase");
    p
}

/// The lines of the simulator's request log (`requests.log` in its state).
pub fn request_log(state: &Path) -> Vec<String> {
    std::fs::read_to_string(state.join("requests.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}
