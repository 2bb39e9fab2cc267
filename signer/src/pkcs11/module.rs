//! Loading the PKCS#11 module the user names, and only that one.
//!
//! A module is native code run inside the signer, so which file is loaded
//! is a security decision: it is the path given with `--pkcs11-module`,
//! made absolute first so that the dynamic loader opens exactly that file
//! and never searches `LD_LIBRARY_PATH` or the system folders. The path an
//! archive records is a hint shown to people, never loaded.

use std::path::{Path, PathBuf};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::MechanismType;

use super::session::Token;
use super::TokenError;

/// A loaded and initialised PKCS#11 module. Finalised on drop, so that the
/// token is left without an open session.
pub(crate) struct Module {
    /// `Some` until dropped; `Option` so that `drop` can finalise by value.
    ctx: Option<Pkcs11>,
    path: PathBuf,
}

impl Module {
    /// Loads the module at exactly `path` and initialises it.
    pub(crate) fn load(path: &Path) -> Result<Module, TokenError> {
        let meta = std::fs::metadata(path).map_err(|source| TokenError::ModuleUnreadable {
            path: path.to_path_buf(),
            source,
        })?;
        if !meta.is_file() {
            return Err(TokenError::ModuleNotAFile {
                path: path.to_path_buf(),
            });
        }
        let abs = std::fs::canonicalize(path).map_err(|source| TokenError::ModuleUnreadable {
            path: path.to_path_buf(),
            source,
        })?;
        let ctx = Pkcs11::new(&abs).map_err(|source| TokenError::ModuleLoad {
            path: abs.clone(),
            source,
        })?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(source) => return Err(TokenError::ModuleInit { path: abs, source }),
        }
        Ok(Module {
            ctx: Some(ctx),
            path: abs,
        })
    }

    pub(super) fn ctx(&self) -> &Pkcs11 {
        self.ctx
            .as_ref()
            .expect("the module is initialised until dropped")
    }

    /// The module's absolute path: what was loaded, for the transcript and
    /// the archive's hint.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the token supports `mechanism` at all; a token that cannot
    /// list its mechanisms is given the benefit of the doubt (the call
    /// itself then fails, with the token's reason).
    pub(super) fn has_mechanism(&self, token: &Token, mechanism: MechanismType) -> bool {
        self.ctx()
            .get_mechanism_list(token.slot)
            .map(|list| list.contains(&mechanism))
            .unwrap_or(true)
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        if let Some(ctx) = self.ctx.take() {
            let _ = ctx.finalize();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_that_is_not_there_is_named() {
        let e = Module::load(Path::new("/nonexistent/libnothing.so"))
            .err()
            .unwrap();
        assert!(matches!(e, TokenError::ModuleUnreadable { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/libnothing.so"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = Module::load(dir.path()).err().unwrap();
        assert!(matches!(e, TokenError::ModuleNotAFile { .. }), "{e}");
        assert!(e.to_string().contains("not a file"), "{e}");
        let junk = dir.path().join("junk.so");
        std::fs::write(&junk, b"not a library").unwrap();
        let e = Module::load(&junk).err().unwrap();
        assert!(matches!(e, TokenError::ModuleLoad { .. }), "{e}");
        assert!(
            e.to_string().contains("cannot load the PKCS#11 module"),
            "{e}"
        );
    }
}
