//! The command-line options that name a token and a key on it, shared by
//! `signer import`, `keygen` and `sign` (flattened into each).

use std::path::PathBuf;

/// The command-line options that name a token and a key on it.
#[derive(clap::Args, Clone, Default)]
pub(crate) struct TokenArgs {
    /// The PKCS#11 module (shared library) of the token, e.g.
    /// /usr/lib/softhsm/libsofthsm2.so or /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so.
    /// Only this file is loaded.
    #[arg(long = "pkcs11-module", value_name = "PATH")]
    pub(crate) module: Option<PathBuf>,
    /// The token's label (as `pkcs11-tool -L` or `softhsm2-util --show-slots` list it).
    /// keygen, import: the token that holds the key; sign: make the new keys on this token.
    #[arg(long = "token", value_name = "LABEL", requires = "module")]
    pub(crate) token: Option<String>,
    /// The key's label (CKA_LABEL) on the token; for a key made here, default
    /// tuf-root-<UTC time> (sign adds -1, -2, ... when it makes several).
    #[arg(long = "key-label", value_name = "LABEL", requires = "module")]
    pub(crate) key_label: Option<String>,
    /// Read the token's user PIN from the first line of this file instead of asking.
    #[arg(long = "pin-file", value_name = "FILE", requires = "module")]
    pub(crate) pin_file: Option<PathBuf>,
}
