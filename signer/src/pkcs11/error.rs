//! What can go wrong with a token, each case saying what to do about it.
//!
//! `main` prints these through `ceremony_cli::exit::render_chain`, which adds
//! each `#[source]` (for a token, the cryptoki error with its return code
//! and the specification's words) unless the message quotes it already. So
//! a message here says what happened in the user's terms and what to do;
//! the raw cause follows it.
//!
//! What a failure should recommend depends on what the user was doing
//! (`signer import` can name a key by `--key-id`; `signer sign` cannot, the
//! archive names it), so the errors that need it carry a [`Purpose`].

use std::path::{Path, PathBuf};

use ceremony::keys::{KeyError, NewKeyType};

use super::{KeyProtection, TokenIdentity};
use cryptoki::error::{Error as CkError, RvError};

/// Why the signer is at the token: what a failure recommends depends on it.
#[derive(Clone, Debug)]
pub(crate) enum Purpose {
    /// `signer import`: recording a key that is on the token already.
    Import,
    /// Generating a key, by `signer keygen` or `signer sign --token`.
    Generate,
    /// `signer sign` opening keys the archive records: which ones, in
    /// words, with their fingerprints.
    Open { keys: String },
}

impl Purpose {
    /// What to do when the token is not there.
    fn insert_token(&self, label: &str) -> String {
        match self {
            Purpose::Import => "Insert the token that holds the key; nothing was written".into(),
            Purpose::Generate => {
                "Insert the token to generate the key on; nothing was written".into()
            }
            Purpose::Open { keys } => format!(
                "Insert the token {label:?} that holds {keys}, and run again; nothing was signed \
                 or written"
            ),
        }
    }

    /// How to pick one of several keys under one label (with ids `ids`),
    /// with the flags the command has.
    fn pick_key(&self, ids: &[String]) -> &'static str {
        let distinct = ids.iter().collect::<std::collections::BTreeSet<_>>().len() == ids.len();
        match self {
            Purpose::Import if distinct => "name one with --key-id",
            // The ids are the same (so --key-id cannot pick one), or the
            // archive records the label and the id already: only the
            // vendor's tool can tell the keys apart.
            Purpose::Import | Purpose::Open { .. } | Purpose::Generate => {
                "delete or relabel the extra ones with the token vendor's tool"
            }
        }
    }

    /// Said after a problem with a key on the token.
    fn after_key_error(&self) -> String {
        match self {
            Purpose::Import => "; nothing was written".into(),
            // Wrapped in `Deleted`, which says what became of the key.
            Purpose::Generate => String::new(),
            Purpose::Open { keys } => format!(
                ".\nThe archive records {keys} there: is this the right token? Nothing was signed \
                 or written"
            ),
        }
    }

    /// The keys wanted, in words, for a message that names them.
    fn keys(&self) -> &str {
        match self {
            Purpose::Open { keys } => keys,
            Purpose::Import => "the key to import",
            Purpose::Generate => "the new key",
        }
    }

    fn nothing_done(&self) -> &'static str {
        match self {
            Purpose::Import | Purpose::Generate => "nothing was written",
            Purpose::Open { .. } => "nothing was signed or written",
        }
    }
}

/// A failure of the PKCS#11 module, the token, or a key on it.
#[derive(Debug, thiserror::Error)]
// `KeyError` is boxed: it is large, and errors travel by value.
pub(crate) enum TokenError {
    /// The module file named by `--pkcs11-module` cannot be read.
    #[error(
        "the PKCS#11 module {} cannot be read (give the path of the token's shared library, e.g. \
         /usr/lib/softhsm/libsofthsm2.so)",
        path.display()
    )]
    ModuleUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the PKCS#11 module {} is not a file (give the path of the token's shared library)",
        path.display()
    )]
    ModuleNotAFile { path: PathBuf },
    /// The dynamic loader refused the file, or it lacks the PKCS#11 entry point.
    #[error(
        "cannot load the PKCS#11 module {}: {source} (is it a PKCS#11 library for this machine?)",
        path.display()
    )]
    ModuleLoad {
        path: PathBuf,
        #[source]
        source: CkError,
    },
    #[error(
        "the PKCS#11 module {} failed to initialise: {} (check its configuration, e.g. \
         SOFTHSM2_CONF for SoftHSM)",
        path.display(),
        explain(source)
    )]
    ModuleInit {
        path: PathBuf,
        #[source]
        source: CkError,
    },

    /// No token with the label asked for; `present` lists those seen.
    #[error(
        "no token labelled {label:?} is present (module {}; tokens present: {}).\n{}",
        module.display(),
        list_or_none(present),
        purpose.insert_token(label)
    )]
    TokenNotFound {
        label: String,
        module: PathBuf,
        present: Vec<String>,
        purpose: Purpose,
    },
    #[error(
        "{} tokens labelled {label:?} are present (serial numbers {}); remove all but the one to \
         use, and run again; {}",
        serials.len(),
        serials.join(", "),
        purpose.nothing_done()
    )]
    TokenAmbiguous {
        label: String,
        serials: Vec<String>,
        purpose: Purpose,
    },

    /// `signer sign`: the token with the recorded label is not the recorded
    /// token (another serial, manufacturer or model). Refused before the
    /// PIN is asked: a key under the same label on another token is not
    /// the key the archive trusts, whatever it holds.
    #[error(
        "{} {} not the token the archive records for {}: the archive records {recorded}. A token \
         with the same label but another serial number is another token (a replacement, \
         someone else's, or one planted for this ceremony), whatever keys it holds.\nInsert the \
         token with serial {:?} and run again; {}. If this token is a backup that holds the very \
         same key and you mean to sign with it, record it first in an archive of its own: \
         `signer import --pkcs11-module PATH --token {:?} --key-label LABEL -o NEW.tgz.age`",
        present.iter().map(ToString::to_string).collect::<Vec<_>>().join(" and "),
        if present.len() == 1 { "is" } else { "are" },
        purpose.keys(),
        recorded.serial,
        purpose.nothing_done(),
        recorded.label
    )]
    OtherToken {
        recorded: Box<TokenIdentity>,
        present: Vec<TokenIdentity>,
        purpose: Purpose,
    },

    /// `CKR_PIN_INCORRECT`: the token counted a wrong try.
    #[error(
        "wrong PIN for token {label:?}{}; nothing was signed or written. Check the PIN before \
         trying again: the token counts wrong PINs and locks after a few",
        pin_file.as_deref().map(from_file).unwrap_or_default()
    )]
    WrongPin {
        label: String,
        pin_file: Option<PathBuf>,
        #[source]
        source: CkError,
    },
    /// The token says so before login (no source), or `CKR_PIN_LOCKED` at login.
    #[error(
        "the user PIN of token {label:?} is locked (too many wrong tries): unlock it with the \
         token vendor's tool and the SO PIN; nothing was signed or written"
    )]
    PinLocked {
        label: String,
        #[source]
        source: Option<CkError>,
    },
    /// `CKR_PIN_LEN_RANGE` or `CKR_PIN_INVALID`: not even a candidate PIN.
    #[error(
        "that is not a valid PIN for token {label:?} (wrong length or characters): check the \
         PIN{} and run again; nothing was signed or written",
        pin_file.as_deref().map(from_file).unwrap_or_default()
    )]
    PinInvalid {
        label: String,
        pin_file: Option<PathBuf>,
        #[source]
        source: CkError,
    },
    #[error("cannot read the PIN file {}", path.display())]
    PinFileUnreadable {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "the PIN file {} is not UTF-8 text (put the PIN on its first line)",
        path.display()
    )]
    PinFileNotText { path: PathBuf },
    #[error("the PIN file {} is empty (put the PIN on its first line)", path.display())]
    PinFileEmpty { path: PathBuf },
    #[error("cannot ask for the token PIN: there is no terminal; use --pin-file FILE")]
    NoTerminal {
        #[source]
        source: std::io::Error,
    },
    #[error("an empty PIN is not accepted (type the token's user PIN)")]
    EmptyPin,
    /// Ctrl-C or end of input at the PIN prompt.
    #[error("{0}")]
    Aborted(#[source] crate::interrupt::Aborted),

    /// Any other PKCS#11 call that failed; `action` says which, in words.
    #[error("{action}: {}", explain(source))]
    Call {
        action: String,
        #[source]
        source: CkError,
    },

    #[error(
        "token {token:?} has no private key labelled {label:?}{}{}",
        id.as_deref().map(|i| format!(" with id {i}")).unwrap_or_default(),
        purpose.after_key_error()
    )]
    KeyNotFound {
        token: String,
        label: String,
        /// The `CKA_ID` asked for, hex.
        id: Option<String>,
        purpose: Purpose,
    },
    #[error(
        "token {token:?} has {} private keys labelled {label:?} (ids {}); {}{}",
        ids.len(),
        ids.join(", "),
        purpose.pick_key(ids),
        purpose.after_key_error()
    )]
    KeyAmbiguous {
        token: String,
        label: String,
        ids: Vec<String>,
        purpose: Purpose,
    },
    #[error(
        "key {label:?} on token {token:?} is not allowed to sign (CKA_SIGN is false){}",
        purpose.after_key_error()
    )]
    KeyCannotSign {
        token: String,
        label: String,
        purpose: Purpose,
    },
    /// A key the signer cannot use as a root key (ECDSA, Ed448, RSA-1024, ...).
    #[error(
        "key {label:?} on token {token:?} is {what}; a root key on a token must be Ed25519 or RSA \
         (2048, 3072 or 4096 bits){}",
        purpose.after_key_error()
    )]
    WrongKeyType {
        token: String,
        label: String,
        what: String,
        purpose: Purpose,
    },
    /// The token's description of the key is incomplete or malformed.
    #[error(
        "key {label:?} on token {token:?} cannot be read: {reason}{}",
        purpose.after_key_error()
    )]
    KeyUnreadable {
        token: String,
        label: String,
        reason: String,
        #[source]
        source: Option<Box<KeyError>>,
        purpose: Purpose,
    },

    /// `signer sign`: the token holds a key of another type under the recorded label.
    #[error(
        "{key} holds an {found} key, but the archive records an {recorded} key there (fingerprint \
         {fingerprint}): the token holds another key under that label. Insert the token that \
         holds the recorded key; nothing was signed or written"
    )]
    RecordedTypeDiffers {
        key: String,
        found: String,
        recorded: String,
        fingerprint: String,
    },
    /// `signer sign`: the token holds another key of the recorded type.
    #[error(
        "{key} holds the key with fingerprint {found}, but the archive records fingerprint \
         {recorded}: the token holds another key under that label (a backup token of another \
         key?). Insert the token that holds the recorded key; nothing was signed or written"
    )]
    RecordedKeyDiffers {
        key: String,
        found: String,
        recorded: String,
    },

    /// The token lacks the key-pair mechanism for the type asked for.
    #[error(
        "token {token:?} ({maker}) cannot generate {kind} keys{}; nothing was written",
        if *kind == NewKeyType::Ed25519 {
            format!(" (try {type_flag} rsa-4096)")
        } else {
            String::new()
        }
    )]
    CannotGenerate {
        token: String,
        /// Manufacturer and model, as the token reports them.
        maker: String,
        kind: NewKeyType,
        type_flag: &'static str,
    },
    #[error(
        "token {token:?} already holds an object labelled {label:?}; pick another --key-label \
         (or record that key with `signer import --pkcs11-module PATH --token {token:?} \
         --key-label {label:?} -o NEW.tgz.age`). Nothing was written"
    )]
    LabelTaken { token: String, label: String },
    #[error(
        "token {token:?} could not generate the {kind} key: {}; nothing was written",
        explain(source)
    )]
    GenerateFailed {
        token: String,
        kind: NewKeyType,
        #[source]
        source: CkError,
    },
    #[error(
        "token {token:?} did not make the private key sensitive and non-extractable (it reports \
         {}): it cannot hold a root key that exists on the token only; use another token",
        protection.describe()
    )]
    NotProtected {
        token: String,
        protection: KeyProtection,
    },
    /// `signer import`: the key's private half can leave the token.
    #[error(
        "key {label:?} on token {token:?} is not protected as a root key on a token must be: \
         {} (it must be CKA_SENSITIVE true and CKA_EXTRACTABLE false, so that the private key \
         exists on the token only). Nothing was written.\nMake a root key on the token instead \
         with `signer keygen --keys ARCHIVE --pkcs11-module PATH --token {token:?} -o \
         PUBKEY.json`; or, if you accept that a copy of this key may exist outside the token, \
         record it anyway with --allow-extractable-token-key (the archive marks it so, and every \
         use warns)",
        protection.describe()
    )]
    WeakKey {
        token: String,
        label: String,
        protection: KeyProtection,
    },
    /// `signer sign`: a key recorded as protected is no longer: PKCS#11
    /// lets a key object gain that protection, never lose it, so this is
    /// another object.
    #[error(
        "the archive records {key} as sensitive and not extractable, but the token reports {}: a \
         key cannot lose that protection, so this is not the key object that was recorded. \
         Insert the token that holds the recorded key; nothing was signed or written",
        found.describe()
    )]
    ProtectionLost { key: String, found: KeyProtection },
    /// A key just generated failed a check and was destroyed again.
    #[error("the key just generated {why}: {source}; it was deleted from the token and nothing was written")]
    Deleted {
        why: &'static str,
        #[source]
        source: Box<TokenError>,
    },

    /// The token signed, but not under the recorded public key.
    #[error("{source}. Nothing was signed or written")]
    BadSignature {
        #[source]
        source: Box<KeyError>,
    },
    /// The token refused to sign the test message.
    #[error("{source}. Check that the key may sign on this token; nothing was signed or written")]
    SignFailed {
        #[source]
        source: Box<KeyError>,
    },

    #[error("--key-id {given:?} is not hex (e.g. --key-id 01a2)")]
    KeyIdNotHex { given: String },
    #[error(
        "the archive records {key} with the key id {id:?}, which is not hex: the archive is \
         damaged (use a backup copy of it)"
    )]
    DamagedKeyId { key: String, id: String },
}

impl TokenError {
    /// A failed call, `action` in words (`cannot search token "x"`).
    pub(super) fn call(action: impl Into<String>) -> impl FnOnce(CkError) -> TokenError {
        let action = action.into();
        move |source| TokenError::Call { action, source }
    }
}

/// A PKCS#11 error in the user's words: what the common return codes mean
/// and what to do; for the others their name (the error's `source` gives
/// the specification's explanation).
pub(super) fn explain(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, _) => match rv {
            RvError::TokenNotPresent | RvError::DeviceRemoved => {
                "the token was removed (insert it and run again)".into()
            }
            RvError::UserNotLoggedIn => "not logged in (the PIN was not accepted)".into(),
            RvError::MechanismInvalid => "the token does not support this mechanism".into(),
            RvError::KeyTypeInconsistent => "the key is of the wrong type for this".into(),
            RvError::KeyFunctionNotPermitted => {
                "the key is not allowed to do this (CKA_SIGN is false)".into()
            }
            other => format!("{other:?}"),
        },
        other => other.to_string(),
    }
}

/// [`explain`] with the raw error too, for messages that cannot carry a
/// `source` (`KeyError::Signing` holds text only).
pub(super) fn explain_inline(e: &CkError) -> String {
    let words = explain(e);
    let raw = e.to_string();
    if words == raw {
        words
    } else {
        format!("{words} ({raw})")
    }
}

fn from_file(path: &Path) -> String {
    format!(" (from {})", path.display())
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    fn ambiguous(purpose: Purpose) -> String {
        TokenError::KeyAmbiguous {
            token: "t".into(),
            label: "k".into(),
            ids: vec!["01".into(), "02".into()],
            purpose,
        }
        .to_string()
    }

    /// Only `signer import` has `--key-id`; `signer sign` must not tell
    /// people to use it.
    #[test]
    fn ambiguity_names_only_flags_the_command_has() {
        assert!(ambiguous(Purpose::Import).contains("name one with --key-id"));
        // Twins (same label, same id): --key-id cannot tell them apart.
        let twins = TokenError::KeyAmbiguous {
            token: "t".into(),
            label: "k".into(),
            ids: vec!["01".into(), "01".into()],
            purpose: Purpose::Import,
        }
        .to_string();
        assert!(!twins.contains("--key-id"), "{twins}");
        let open = ambiguous(Purpose::Open {
            keys: "key \"k\" on token \"t\"".into(),
        });
        assert!(!open.contains("--key-id"), "{open}");
        assert!(open.contains("Nothing was signed or written"), "{open}");
        let flag = |type_flag| {
            TokenError::CannotGenerate {
                token: "t".into(),
                maker: "SoftHSM".into(),
                kind: NewKeyType::Ed25519,
                type_flag,
            }
            .to_string()
        };
        assert!(flag("--type").contains("(try --type rsa-4096)"));
        assert!(flag("--key-type").contains("(try --key-type rsa-4096)"));
    }

    /// The token's own error stays reachable as the cause.
    #[test]
    fn the_cryptoki_error_is_the_source() {
        let e = TokenError::WrongPin {
            label: "t".into(),
            pin_file: Some("pin.txt".into()),
            source: CkError::Pkcs11(RvError::PinIncorrect, cryptoki::context::Function::Login),
        };
        let text = e.to_string();
        assert!(
            text.starts_with("wrong PIN for token \"t\" (from pin.txt)"),
            "{text}"
        );
        let cause = e.source().expect("a source").to_string();
        assert!(cause.contains("PIN is incorrect"), "{cause}");
    }
}
