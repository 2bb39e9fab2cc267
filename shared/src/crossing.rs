//! What every file that crosses the air gap has in common: a `format` field
//! naming kind and version, strict JSON, and a size bound.

use serde_json::Value;
use thiserror::Error;

use crate::root::RootError;
use crate::strict_json;

/// The largest proposal or bundle read: a few roots of at most 512,000
/// bytes each, with room to spare.
pub const MAX_CROSSING_FILE: usize = 8 * 1024 * 1024;

/// Why a proposal, bundle or public-key file cannot be used.
#[derive(Debug, Error)]
pub enum CrossingError {
    /// Over [`MAX_CROSSING_FILE`].
    #[error("the file is {0} bytes, more than any proposal or bundle can be ({MAX_CROSSING_FILE} bytes)")]
    TooLarge(usize),
    /// Not JSON, or JSON with duplicate keys.
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// No `format` field at all.
    #[error("this is not a tuf-ceremony file (it has no \"format\" field); expected {expected}")]
    NoFormat {
        /// What was expected.
        expected: &'static str,
    },
    /// Another kind of file, or another version.
    #[error("this file is {found:?}, but {expected:?} is needed{hint}")]
    WrongFormat {
        /// The format found.
        found: String,
        /// The format expected.
        expected: &'static str,
        /// Advice where the mix-up is a common one.
        hint: String,
    },
    /// Fields missing or of the wrong type.
    #[error("malformed: {0}")]
    Fields(String),
    /// A root inside the file is not usable.
    #[error("{what}: {source}")]
    Root {
        /// Which root.
        what: String,
        /// Why.
        source: RootError,
    },
    /// A field this version neither writes nor reads. Ignoring it would sign
    /// on the strength of a file we only half understood (a misspelt
    /// `threshhold` silently keeps the old threshold).
    #[error(
        "unknown field {field} in {path}: this version of tuf-ceremony neither writes nor reads \
         it, so the file was written by another version or tampered with. Nothing was signed or \
         written; make the file again with the same tuf-ceremony version on both sides"
    )]
    UnknownField {
        /// Where it is: `proposal`, `change.provided_keys[0]`, …
        path: String,
        /// The field's name, quoted and shortened.
        field: String,
    },
    /// Well-formed, but asking for something no honest submitter writes
    /// (a chain name this dialect does not have, a staged root where there
    /// is no staging): a refusal, not a parse error.
    #[error("{0}")]
    Refused(String),
}

impl CrossingError {
    /// Whether this is a refusal of a well-formed file (exit status 3 in the
    /// binaries) rather than a file that is not of the expected form.
    pub fn is_refusal(&self) -> bool {
        matches!(self, CrossingError::Refused(_))
    }
}

/// The longest untrusted name quoted whole in a message: a field name or a
/// chain name of 300 characters must not flood the terminal.
const MAX_QUOTED: usize = 64;

/// `name`, quoted, its control characters escaped as Rust does, and cut to
/// [`MAX_QUOTED`] characters (saying how long it really was).
pub fn quote_name(name: &str) -> String {
    let count = name.chars().count();
    if count <= MAX_QUOTED {
        format!("{name:?}")
    } else {
        let head: String = name.chars().take(MAX_QUOTED).collect();
        format!("{head:?}… ({count} characters)")
    }
}

/// Refuses, by name, the first field of `value` (an object) that is not in
/// `known`. Not an object: nothing to say here (deserialising it then says
/// what type was expected).
pub fn refuse_unknown_fields(
    value: &Value,
    known: &[&str],
    path: &str,
) -> Result<(), CrossingError> {
    let Some(obj) = value.as_object() else {
        return Ok(());
    };
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(field) => Err(CrossingError::UnknownField {
            path: path.to_string(),
            field: quote_name(field),
        }),
        None => Ok(()),
    }
}

/// Parses `bytes` strictly and checks that `format` is `expected`.
pub fn check_format(bytes: &[u8], expected: &'static str) -> Result<Value, CrossingError> {
    if bytes.len() > MAX_CROSSING_FILE {
        return Err(CrossingError::TooLarge(bytes.len()));
    }
    let value = strict_json::from_slice(bytes)?;
    let found = value
        .get("format")
        .and_then(Value::as_str)
        .ok_or(CrossingError::NoFormat { expected })?;
    if found != expected {
        let kind = |f: &str| f.split('@').next().unwrap_or("").to_string();
        let hint = if kind(found) == kind(expected) {
            " (written by another version of tuf-ceremony: use the same version on both sides)"
                .to_string()
        } else if found.starts_with("tuf-ceremony/") {
            format!(
                " (you gave a {} file)",
                kind(found).trim_start_matches("tuf-ceremony/")
            )
        } else {
            String::new()
        };
        return Err(CrossingError::WrongFormat {
            found: found.to_string(),
            expected,
            hint,
        });
    }
    Ok(value)
}
