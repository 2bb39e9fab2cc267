//! Which of the two root-metadata dialects a file speaks.
//!
//! A root file does not say which dialect it is written in, and the two differ
//! in ways that change the bytes that are signed (canonical form, key ids,
//! signature encoding). Everything that reads or writes a root therefore carries
//! a [`Dialect`], chosen by the proposal or by the user, or detected from the
//! file's shape when neither says.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The flavour of TUF root metadata a repository uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dialect {
    /// Uptane's ota-tuf, as served by FoundriesFactory and read by aktualizr:
    /// `"_type":"Root"`, DER key ids, base64 signatures with a `method`, and a
    /// canonical form that escapes `\n`, `\r` and `\t`.
    #[serde(rename = "ota-tuf")]
    OtaTuf,
    /// The TUF 1.0 specification, as python-tuf, go-tuf, tough and RSTUF write
    /// it: OLPC canonical JSON, key ids over the key object, hex signatures.
    #[serde(rename = "tuf")]
    Tuf,
}

impl Dialect {
    /// The name used on the command line and in proposal files.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::OtaTuf => "ota-tuf",
            Dialect::Tuf => "tuf",
        }
    }

    /// The largest root file this dialect's clients accept. Devices running
    /// aktualizr refuse a root over 64 KiB; python-tuf stops reading at
    /// 512,000 bytes.
    pub fn max_root_size(self) -> usize {
        match self {
            Dialect::OtaTuf => 64 * 1024,
            Dialect::Tuf => 512_000,
        }
    }

    /// Guesses the dialect of a parsed metadata envelope from its shape:
    /// `_type` casing first, then the form of the signatures. Returns `None`
    /// when the file gives no hint, so the caller can ask the user to say.
    pub fn detect(envelope: &Value) -> Option<Dialect> {
        match envelope.pointer("/signed/_type").and_then(Value::as_str) {
            Some("Root") => return Some(Dialect::OtaTuf),
            Some("root") => return Some(Dialect::Tuf),
            _ => {}
        }
        let first_sig = envelope.pointer("/signatures/0")?;
        if first_sig.get("method").is_some() {
            Some(Dialect::OtaTuf)
        } else {
            Some(Dialect::Tuf)
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dialect {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ota-tuf" | "ota" | "foundries" => Ok(Dialect::OtaTuf),
            "tuf" => Ok(Dialect::Tuf),
            other => Err(format!(
                "unknown dialect {other:?}: use \"ota-tuf\" (FoundriesFactory, Uptane) or \"tuf\" (TUF 1.0)"
            )),
        }
    }
}
