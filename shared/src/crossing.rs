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
