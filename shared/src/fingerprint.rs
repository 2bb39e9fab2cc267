//! One way to show a hash that people compare across the air gap: what it
//! is a hash of, the full hex, and the witness words
//! ([`crate::words`]). The signer, the submitter and the HTML reports all
//! print such hashes through [`Labelled`], so the same thing carries the
//! same label, and the same hash, everywhere.
//!
//! One definition per thing:
//!
//! * **a root**: the sha256 of its canonical `signed` part. It is the same
//!   on both sides of the gap whatever the server does to the file's
//!   formatting and whichever signatures it carries (a FoundriesFactory
//!   server re-serialises the roots it serves, so the file bytes it serves
//!   differ from the bundle's); the signatures are checked by the rules,
//!   not by eye. [`Labelled::root_file`] is for the rare place that names a
//!   file's exact bytes (a history on disk, an upload read back) and says so.
//! * **the transcript head**: the sha256 of the transcript's last entry
//!   before the signed head, the one the new root keys sign.
//! * **the transcript anchor**: the sha256 of the entry a new root carries
//!   in its `x-changelog` message (ota-tuf) or `x-ceremony` (TUF). It is an
//!   earlier entry than the head (the root is built before the ceremony
//!   ends), so it is another hash, labelled with its entry number.
//! * **a key**: its fingerprint, the sha256 of its SPKI DER (the ota-tuf key
//!   id), whatever the dialect calls it.
//! * **a file**: the sha256 of its exact bytes, named by what it is.

use std::fmt;

use crate::root::RootMetadata;
use crate::words;

/// A hash with what it is a hash of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labelled {
    what: String,
    hex: String,
}

/// How a chain is named beside a version: `CI root v7`, `prod root v7`,
/// `root v7` (a TUF repository's one chain).
fn root_name(chain: Option<&str>, version: u64) -> String {
    match chain.map(str::to_ascii_lowercase).as_deref() {
        None | Some("root") | Some("") => format!("root v{version}"),
        Some("ci") => format!("CI root v{version}"),
        Some(c) => format!("{} root v{version}", crate::untrusted::escape(c)),
    }
}

impl Labelled {
    /// Any hash, with what it is a hash of (for example `bundle file
    /// sha256`). Prefer the named constructors where one fits.
    pub fn new(what: impl Into<String>, hex: impl Into<String>) -> Labelled {
        Labelled {
            what: what.into(),
            hex: hex.into(),
        }
    }

    /// A root, by the sha256 of its canonical `signed` part; `chain` is the
    /// proposal's chain name (`ci`, `prod`, `root`), or `None`.
    pub fn root(root: &RootMetadata, chain: Option<&str>) -> Option<Labelled> {
        let version = root.version().ok()?;
        let signed = root.canonical_signed().ok()?;
        Some(Labelled::root_signed(
            chain,
            version,
            crate::sha256::hex(&signed),
        ))
    }

    /// A root by a recorded sha256 of its canonical `signed` part.
    pub fn root_signed(chain: Option<&str>, version: u64, hex: impl Into<String>) -> Labelled {
        Labelled::new(
            format!("{} sha256 (signed part)", root_name(chain, version)),
            hex,
        )
    }

    /// A root file, by the sha256 of its exact bytes: only where the file
    /// itself is meant (it differs between servers that format it
    /// differently; [`Labelled::root`] does not).
    pub fn root_file(chain: Option<&str>, version: u64, hex: impl Into<String>) -> Labelled {
        Labelled::new(
            format!("{} sha256 (file bytes)", root_name(chain, version)),
            hex,
        )
    }

    /// The transcript's head: what the new root keys sign.
    pub fn transcript_head(hex: impl Into<String>) -> Labelled {
        Labelled::new("transcript head sha256", hex)
    }

    /// The transcript entry a root anchors (entry `seq`, from 1), as it
    /// stands in the root's `x-changelog` message or `x-ceremony` field.
    pub fn transcript_anchor(seq: u64, version: u64, hex: impl Into<String>) -> Labelled {
        Labelled::new(
            format!("transcript entry {seq} sha256 (anchored in root v{version})"),
            hex,
        )
    }

    /// A key, by its fingerprint (sha256 of its SPKI DER).
    pub fn key(fingerprint: impl Into<String>) -> Labelled {
        Labelled::new("key fingerprint sha256 (SPKI DER)", fingerprint)
    }

    /// What this is a hash of.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The full hex.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The witness words of the first [`words::WITNESS_BYTES`] bytes, or
    /// `None` when the hash is not hex (an unrecorded one).
    pub fn words(&self) -> Option<String> {
        words::witness_words(&self.hex)
    }

    /// `words (first 8 bytes): …`, the second line of [`Labelled::render`],
    /// for a place that shows the hex its own way (a table column).
    pub fn words_line(&self) -> Option<String> {
        self.words()
            .map(|w| format!("words (first {} bytes): {w}", words::WITNESS_BYTES))
    }

    /// The form every terminal shows: the label and hex on one line, the
    /// words on the next, both after `indent`.
    ///
    /// ```text
    /// transcript head sha256: e58294f2e9a22748…
    ///   words (first 8 bytes): topmost Istanbul Pluto vagabond treadmill Pacific brackish dictator
    /// ```
    pub fn render(&self, indent: &str) -> String {
        match self.words_line() {
            Some(w) => format!("{indent}{self}\n{indent}  {w}"),
            None => format!("{indent}{self}"),
        }
    }
}

impl fmt::Display for Labelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e58294f2e9a227486e8b061b31cc528fd7fa3f19e58294f2e9a227486e8b061b";

    #[test]
    fn a_head_is_labelled_with_its_words() {
        assert_eq!(
            Labelled::transcript_head(HEX).render("  "),
            format!(
                "  transcript head sha256: {HEX}\n  \
                 \x20 words (first 8 bytes): topmost Istanbul Pluto vagabond treadmill Pacific brackish dictator"
            )
        );
    }

    #[test]
    fn chains_are_named_the_same_way_everywhere() {
        assert_eq!(
            Labelled::root_signed(Some("ci"), 7, HEX).what(),
            "CI root v7 sha256 (signed part)"
        );
        assert_eq!(
            Labelled::root_signed(Some("prod"), 7, HEX).what(),
            "prod root v7 sha256 (signed part)"
        );
        assert_eq!(
            Labelled::root_signed(Some("root"), 3, HEX).what(),
            Labelled::root_signed(None, 3, HEX).what()
        );
        assert_eq!(
            Labelled::root_file(Some("ci"), 7, HEX).what(),
            "CI root v7 sha256 (file bytes)"
        );
    }

    #[test]
    fn an_unrecorded_hash_has_no_words() {
        let l = Labelled::new("archive file sha256", "(unrecorded)");
        assert_eq!(l.render(""), "archive file sha256: (unrecorded)");
    }

    #[test]
    fn a_root_is_named_by_its_signed_part_whatever_its_formatting() {
        let compact = br#"{"signatures":[],"signed":{"_type":"root","consistent_snapshot":false,"expires":"2030-01-01T00:00:00Z","keys":{},"roles":{},"spec_version":"1.0.0","version":4}}"#;
        let spaced = br#"{ "signed": { "version": 4, "_type": "root", "spec_version": "1.0.0", "expires": "2030-01-01T00:00:00Z", "keys": {}, "roles": {}, "consistent_snapshot": false }, "signatures": [] }"#;
        let (Ok(a), Ok(b)) = (
            RootMetadata::from_slice(compact, Some(crate::Dialect::Tuf)),
            RootMetadata::from_slice(spaced, Some(crate::Dialect::Tuf)),
        ) else {
            panic!("both parse as roots");
        };
        let (la, lb) = (
            Labelled::root(&a, None).unwrap(),
            Labelled::root(&b, None).unwrap(),
        );
        assert_eq!(la, lb);
        assert_ne!(la.hex(), crate::sha256::hex(compact));
        assert_eq!(la.what(), "root v4 sha256 (signed part)");
    }
}
