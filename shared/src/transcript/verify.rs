//! Checking a transcript against a root and against the files it names.

use base64::Engine as _;
use serde_json::Value;
use thiserror::Error;

use super::anchor::{anchor_of, head_message};
use super::{read, Transcript, TranscriptError};
use crate::bundle::Bundle;
use crate::crossing::CrossingError;
use crate::dialect::Dialect;
use crate::root::{RootError, RootMetadata};

/// Checks the head signatures against `root`'s root keys (at least its
/// threshold of distinct keys must have signed this head), and that `root`
/// anchors an entry of this transcript.
pub fn verify_against_root(t: &Transcript, root: &RootMetadata) -> Result<(), TranscriptError> {
    let head = t.signed_head.as_ref().ok_or_else(|| {
        TranscriptError::HeadSignature(
            "the transcript has no signed head: the ceremony did not finish".into(),
        )
    })?;
    let message = head_message(t.head());
    let role = root
        .role("root")
        .map_err(|e| TranscriptError::HeadSignature(e.to_string()))?;
    let mut good = Vec::new();
    let mut problems = Vec::new();
    for s in head
        .get("signatures")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let keyid = s.get("keyid").and_then(Value::as_str).unwrap_or("");
        if !role.keyids.iter().any(|k| k == keyid) {
            problems.push(format!(
                "{keyid} is not a root key of v{}",
                root.version().unwrap_or(0)
            ));
            continue;
        }
        let Ok(key) = root.key(keyid) else { continue };
        let sig = s
            .get("sig")
            .and_then(Value::as_str)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .unwrap_or_default();
        match key.verify(Dialect::Tuf, &message, &sig, None) {
            Ok(()) if !good.contains(&key) => good.push(key),
            Ok(()) => {}
            Err(e) => problems.push(format!("signature by {keyid} does not verify: {e}")),
        }
    }
    if (good.len() as u64) < role.threshold.max(1) {
        return Err(TranscriptError::HeadSignature(format!(
            "{} of {} root keys of v{} signed this transcript's head{}",
            good.len(),
            role.threshold,
            root.version().unwrap_or(0),
            if problems.is_empty() {
                String::new()
            } else {
                format!(" ({})", problems.join("; "))
            }
        )));
    }
    let anchor = anchor_of(root).ok_or_else(|| {
        TranscriptError::Anchor(format!(
            "root v{} carries no transcript anchor",
            root.version().unwrap_or(0)
        ))
    })?;
    if !t.entries.iter().any(|e| e.hash == anchor) {
        return Err(TranscriptError::Anchor(format!(
            "root v{} anchors entry {anchor}, which is not in this transcript: it belongs to another ceremony",
            root.version().unwrap_or(0)
        )));
    }
    Ok(())
}

/// Why a file given as the root to check a transcript against holds none.
#[derive(Debug, Error)]
pub enum RootFileError {
    /// A bundle without a root (which [`Bundle::from_slice`] refuses, so
    /// only a bundle built in memory could be one).
    #[error("the bundle holds no root")]
    EmptyBundle,
    /// A bundle whose first root does not parse.
    #[error(transparent)]
    BundleRoot(CrossingError),
    /// Neither a bundle nor a root.
    #[error(transparent)]
    Root(RootError),
}

/// Reads the root to check a transcript against: a root file, or a bundle
/// (its first root, which carries the anchor and the new keys).
pub fn root_from_file(bytes: &[u8]) -> Result<RootMetadata, RootFileError> {
    if let Ok(bundle) = Bundle::from_slice(bytes) {
        let first = bundle.roots.first().ok_or(RootFileError::EmptyBundle)?;
        return bundle.root(first).map_err(RootFileError::BundleRoot);
    }
    RootMetadata::from_slice(bytes, None).map_err(RootFileError::Root)
}

/// An artefact given to `verify-transcript`, re-hashed.
#[derive(Clone, Debug)]
pub struct ArtefactCheck {
    /// The name it was given as.
    pub name: String,
    /// sha256 of its bytes.
    pub sha256: String,
    /// Whether the transcript records that hash.
    pub recorded: bool,
}

/// The outcome of `verify-transcript`.
#[derive(Debug)]
pub struct Verification {
    /// The transcript as read, when its chain holds.
    pub transcript: Option<Transcript>,
    /// The first problem found, if any.
    pub problem: Option<TranscriptError>,
    /// Whether head signatures and anchor were checked against a root.
    pub root_checked: bool,
    /// The artefacts re-hashed.
    pub artefacts: Vec<ArtefactCheck>,
}

impl Verification {
    /// Whether everything checked holds.
    pub fn ok(&self) -> bool {
        self.problem.is_none() && self.artefacts.iter().all(|a| a.recorded)
    }

    /// One paragraph for a terminal.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        match (&self.transcript, &self.problem) {
            (_, Some(p)) => out.push_str(&format!("transcript does NOT verify: {p}\n")),
            (Some(t), None) => {
                out.push_str(&format!(
                    "chain of {} entries holds; head {}\n",
                    t.entries.len(),
                    t.stated_head()
                ));
                if self.root_checked {
                    out.push_str("head signed by a threshold of the root's keys; the root anchors this transcript\n");
                } else {
                    out.push_str("head signatures NOT checked: give --root N.root.json (the new root) to check them\n");
                }
            }
            (None, None) => {}
        }
        for a in &self.artefacts {
            out.push_str(&format!(
                "{} {}  sha256 {}\n",
                if a.recorded { "recorded " } else { "NOT FOUND" },
                a.name,
                a.sha256
            ));
        }
        out
    }
}

fn mentions(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s == needle,
        Value::Array(a) => a.iter().any(|x| mentions(x, needle)),
        Value::Object(m) => m.values().any(|x| mentions(x, needle)),
        _ => false,
    }
}

/// Verifies a transcript: its chain, and with `root` the head signatures and
/// the anchor; and checks that each artefact's sha256 is recorded in it.
pub fn verify_all(
    bytes: &[u8],
    root: Option<&RootMetadata>,
    artefacts: &[(String, Vec<u8>)],
) -> Verification {
    let mut v = Verification {
        transcript: None,
        problem: None,
        root_checked: false,
        artefacts: Vec::new(),
    };
    let t = match read(bytes) {
        Ok(t) => t,
        Err(e) => {
            v.problem = Some(e);
            return v;
        }
    };
    if let Some(root) = root {
        match verify_against_root(&t, root) {
            Ok(()) => v.root_checked = true,
            Err(e) => v.problem = Some(e),
        }
    }
    for (name, data) in artefacts {
        let sha256 = crate::sha256::hex(data);
        let recorded = t.entries.iter().any(|e| mentions(&e.event.data(), &sha256));
        v.artefacts.push(ArtefactCheck {
            name: name.clone(),
            sha256,
            recorded,
        });
    }
    v.transcript = Some(t);
    v
}
