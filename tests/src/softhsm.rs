//! SoftHSM2 for the PKCS#11 tests: a token folder and config per test
//! (`SOFTHSM2_CONF` is passed to each child process, never set in this
//! process), and tokens made with `softhsm2-util`.
//!
//! The tests fail, not skip, when SoftHSM2 is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::cmd::TestCommand;

/// The user PIN of every test token.
pub const PIN: &str = "hsm-pin-q4711";
/// The SO PIN of every test token.
pub const SO_PIN: &str = "5678";

/// The SoftHSM2 module: `TUF_CEREMONY_PKCS11_MODULE`, else Debian's path.
pub fn module() -> PathBuf {
    let m = std::env::var_os("TUF_CEREMONY_PKCS11_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"));
    assert!(
        m.exists(),
        "SoftHSM2 is not installed ({} is missing): install the Debian package softhsm2 \
         (`apt-get install softhsm2`, as .ci/run does), or set TUF_CEREMONY_PKCS11_MODULE. \
         The PKCS#11 tests need it and do not skip.",
        m.display()
    );
    m
}

/// A SoftHSM2 token folder and config of its own.
pub struct Hsm {
    dir: tempfile::TempDir,
    /// The `SOFTHSM2_CONF` file.
    pub conf: PathBuf,
    /// The module.
    pub module: PathBuf,
}

impl Default for Hsm {
    fn default() -> Hsm {
        Hsm::new()
    }
}

impl Hsm {
    /// Deletes the token with serial number `serial`.
    pub fn delete_token_serial(&self, serial: &str) {
        let out = self.util(&["--delete-token", "--serial", serial]);
        assert!(
            out.status.success(),
            "softhsm2-util --delete-token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The serial numbers of the tokens labelled `label`, as
    /// `softhsm2-util --show-slots` lists them.
    pub fn serials(&self, label: &str) -> Vec<String> {
        let out = self.util(&["--show-slots"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut serials = Vec::new();
        let mut serial = String::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(s) = line.strip_prefix("Serial number:") {
                serial = s.trim().to_string();
            } else if let Some(l) = line.strip_prefix("Label:") {
                if l.trim() == label && !serial.is_empty() {
                    serials.push(serial.clone());
                }
            }
        }
        serials
    }

    /// Imports the PKCS#8 key `pem` onto the token with serial `serial`
    /// (label `label`, id `id`): how the same key gets onto two tokens.
    pub fn import_pem(&self, pem: &Path, serial: &str, label: &str, id: &str) {
        let pem = pem.display().to_string();
        let out = self.util(&[
            "--import", &pem, "--serial", serial, "--label", label, "--id", id, "--pin", PIN,
        ]);
        assert!(
            out.status.success(),
            "softhsm2-util --import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A fresh token folder, no token yet.
    pub fn new() -> Hsm {
        let module = module();
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        Hsm { dir, conf, module }
    }

    /// The module path, as a string for the command line.
    pub fn module_arg(&self) -> String {
        self.module.display().to_string()
    }

    /// Runs `softhsm2-util` on this token folder.
    pub fn util(&self, args: &[&str]) -> Output {
        Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &self.conf)
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "softhsm2-util does not run ({e}): install the Debian package softhsm2 \
                     (`apt-get install softhsm2`, as .ci/run does); the PKCS#11 tests need it"
                )
            })
    }

    /// Initialises a token labelled `label` (user PIN [`PIN`]).
    pub fn init_token(&self, label: &str) {
        let out = self.util(&[
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            PIN,
            "--so-pin",
            SO_PIN,
        ]);
        assert!(
            out.status.success(),
            "softhsm2-util --init-token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Deletes the token labelled `label` (as if it were unplugged).
    pub fn delete_token(&self, label: &str) {
        let out = self.util(&["--delete-token", "--token", label]);
        assert!(
            out.status.success(),
            "softhsm2-util --delete-token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs the signer in `dir` with this token folder.
    pub fn signer<I, S>(&self, dir: &Path, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        TestCommand::new("signer", dir)
            .env("SOFTHSM2_CONF", &self.conf)
            .args(args)
            .output()
    }

    /// Writes [`PIN`] (and a wrong one) to `dir/pin.txt` (`dir/bad-pin.txt`).
    pub fn write_pins(&self, dir: &Path) {
        std::fs::write(dir.join("pin.txt"), format!("{PIN}\n")).unwrap();
        std::fs::write(dir.join("bad-pin.txt"), "0000\n").unwrap();
    }

    /// Runs this test binary again, only its (ignored) test `test_name`,
    /// with this token folder and `HSM_HELPER_*` saying what to do: the
    /// signer's PKCS#11 tests plant keys this way (see their `helper_main`).
    pub fn helper(&self, test_name: &str, action: &str, token: &str, label: &str) {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([test_name, "--exact", "--ignored", "--nocapture", "-q"])
            .env("SOFTHSM2_CONF", &self.conf)
            .env("HSM_HELPER_ACTION", action)
            .env("HSM_HELPER_TOKEN", token)
            .env("HSM_HELPER_LABEL", label)
            .output()
            .unwrap();
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("helper done"),
            "helper {action} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The folder the tokens live in.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}
