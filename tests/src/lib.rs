//! The one test-support library of the workspace, used by this crate's
//! end-to-end and interop tests and by the signer's own tests (a
//! dev-dependency only, so the signer's shipped graph never holds it): where
//! the real test vectors are, how to reach python-tuf, how to run the
//! binaries ([`cmd`]), the files of a ceremony ([`fixture`], [`ota`],
//! [`files`]), the test servers ([`harness`]), an emulation of fioctl's
//! `keys tuf` client written from its source ([`fioctl`]), SoftHSM2 ([`softhsm`]) and a
//! pseudo-terminal rendered by a terminal emulator ([`pty`]).
//!
//! python-tuf is the independent implementation the TUF dialect is proven
//! against; it is installed into `.venv` at the workspace root by `.ci/run`.
//! Tests that need it fail (they do not skip) when it is missing, so a green
//! run always means python-tuf really was consulted.

pub mod cmd;
pub mod files;
pub mod fioctl;
pub mod fixture;
pub mod harness;
pub mod keygen;
pub mod minisign;
pub mod ota;
pub mod pty;
pub mod softhsm;

/// What most test files want in scope: running the binaries, the files of
/// a ceremony, and the hand-built ota-tuf inputs.
pub mod prelude {
    pub use crate::cmd::{
        assert_ok, ok, run_in, signer, signer_full_cost, signer_on_a_terminal, text, Ran,
        TestCommand,
    };
    pub use crate::files::*;
    pub use crate::fixture::{write_passphrase, Ceremony, SignArgs, IMPORT, PASSPHRASE};
    pub use crate::ota::*;
    pub use crate::{binary, workspace_root};
}

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The real ota-tuf roots from aktualizr, kept in the shared folder beside the
/// repository (`../shared/vectors/aktualizr`), or in `TUF_CEREMONY_VECTORS`.
pub fn aktualizr_vectors() -> PathBuf {
    if let Ok(dir) = std::env::var("TUF_CEREMONY_VECTORS") {
        return PathBuf::from(dir).join("aktualizr");
    }
    let dir = workspace_root().join("../shared/vectors/aktualizr");
    assert!(
        dir.is_dir(),
        "the aktualizr vectors are not at {}: set TUF_CEREMONY_VECTORS to the shared vectors folder",
        dir.display()
    );
    dir
}

/// The Python interpreter with python-tuf installed.
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("TUF_CEREMONY_PYTHON") {
        return PathBuf::from(p);
    }
    let p = workspace_root().join(".venv/bin/python");
    assert!(
        p.exists(),
        "python-tuf is not installed at {}: run `python3 -m venv .venv && .venv/bin/pip install tuf==7.0.1 'securesystemslib[crypto]==1.6.0'` \
         (as .ci/run does), or set TUF_CEREMONY_PYTHON",
        p.display()
    );
    p
}

/// Runs one of the scripts in `tests/python` and returns its output; panics
/// with the script's stderr when it fails.
pub fn run_python(script: &str, args: &[&std::ffi::OsStr]) -> Output {
    let out = Command::new(python())
        .arg(workspace_root().join("tests/python").join(script))
        .args(args)
        .output()
        .expect("python runs");
    out
}

/// Histories written by python-tuf (`tests/python/make_histories.py`), made
/// once per test process. Each subfolder is one case, with `case.json` saying
/// what a verifier must conclude.
pub fn python_histories() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = run_python("make_histories.py", &[dir.path().as_os_str()]);
        assert!(
            out.status.success(),
            "make_histories.py failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .path()
}

/// The path of a binary of this workspace, built by cargo for the tests.
pub fn binary(name: &str) -> PathBuf {
    // Integration tests of another package cannot use CARGO_BIN_EXE_*; the
    // binaries sit beside the test executable's `deps` folder.
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run the tests with `cargo test --workspace`",
        path.display()
    );
    path
}
