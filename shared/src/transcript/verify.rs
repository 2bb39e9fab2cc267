//! Checking a transcript: its chain, how it ends, who signed its head, and
//! the files it names.
//!
//! A chain of hashes proves only that nobody edited it *after* it was
//! written: anyone can write a whole new one. What says who wrote it is a
//! root: its keys signed the head, and it anchors an entry. So a transcript
//! verifies only when a root (`--root`, or a bundle of this ceremony)
//! authenticates it; the chain alone is a weaker answer the caller asks for
//! by name ([`Checks::chain_only`]).
//!
//! A file counts as recorded only where its hash stands in the field that
//! records a file of its kind (the proposal read, the archive written, …),
//! never because the same characters appear in some text (a txid, a
//! message, the diff).

use base64::Engine as _;
use serde_json::Value;
use thiserror::Error;

use super::anchor::{anchor_of, head_message};
use super::event::{Input, Output, Step};
use super::{read, Event, Transcript, TranscriptError};
use crate::bundle::Bundle;
use crate::crossing::CrossingError;
use crate::dialect::Dialect;
use crate::root::{RootError, RootMetadata};

/// What a head check found: the root's keys that signed the head, and the
/// entry the root anchors.
#[derive(Clone, Debug)]
pub struct HeadCheck {
    /// The root's version.
    pub version: u64,
    /// The root keys (by id) whose head signatures verify.
    pub signed_by: Vec<String>,
    /// The root's root threshold.
    pub threshold: u64,
    /// The entry the root anchors (its position, from 1).
    pub anchor_seq: u64,
}

/// Checks the head signatures against `root`'s root keys (at least its
/// threshold of distinct keys must have signed this head), and that `root`
/// anchors an entry of this transcript.
pub fn verify_against_root(
    t: &Transcript,
    root: &RootMetadata,
) -> Result<HeadCheck, TranscriptError> {
    let head = t.signed_head.as_ref().ok_or_else(|| {
        TranscriptError::HeadSignature(
            "the transcript has no signed head: the ceremony did not finish".into(),
        )
    })?;
    let version = root.version().unwrap_or(0);
    let message = head_message(t.head());
    let role = root
        .role("root")
        .map_err(|e| TranscriptError::HeadSignature(e.to_string()))?;
    let mut good = Vec::new();
    let mut signed_by = Vec::new();
    let mut problems = Vec::new();
    for s in head
        .get("signatures")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let keyid = s.get("keyid").and_then(Value::as_str).unwrap_or("");
        if !role.keyids.iter().any(|k| k == keyid) {
            problems.push(format!("{keyid} is not a root key of v{version}"));
            continue;
        }
        let Ok(key) = root.key(keyid) else { continue };
        let sig = s
            .get("sig")
            .and_then(Value::as_str)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .unwrap_or_default();
        match key.verify(Dialect::Tuf, &message, &sig, None) {
            Ok(()) if !good.contains(&key) => {
                good.push(key);
                signed_by.push(keyid.to_string());
            }
            Ok(()) => {}
            Err(e) => problems.push(format!("signature by {keyid} does not verify: {e}")),
        }
    }
    if (good.len() as u64) < role.threshold.max(1) {
        return Err(TranscriptError::HeadSignature(format!(
            "{} of {} root keys of v{version} signed this transcript's head{}",
            good.len(),
            role.threshold,
            if problems.is_empty() {
                String::new()
            } else {
                format!(" ({})", problems.join("; "))
            }
        )));
    }
    let anchor = anchor_of(root).ok_or_else(|| {
        TranscriptError::Anchor(format!("root v{version} carries no transcript anchor"))
    })?;
    let anchored = t.entries.iter().find(|e| e.hash == anchor).ok_or_else(|| {
        TranscriptError::Anchor(format!(
            "root v{version} anchors entry {anchor}, which is not in this transcript: it belongs to another ceremony"
        ))
    })?;
    Ok(HeadCheck {
        version,
        signed_by,
        threshold: role.threshold,
        anchor_seq: anchored.seq,
    })
}

/// What can authenticate a transcript: the new root, or the bundle that
/// carries it with the transcript's head.
#[derive(Clone, Debug)]
pub enum Authority {
    /// A root file (`N.root.json`).
    Root(RootMetadata),
    /// A bundle: authenticates only if it is this ceremony's.
    Bundle(Box<Bundle>),
}

/// Why a file given as the root to check a transcript against holds none.
#[derive(Debug, Error)]
pub enum RootFileError {
    /// Neither a bundle nor a root.
    #[error("neither a bundle ({bundle}) nor a root ({root})")]
    Neither {
        /// Why it is not a bundle.
        bundle: Box<CrossingError>,
        /// Why it is not a root.
        root: Box<RootError>,
    },
}

/// Reads a file given as `--root`: a bundle, else a root.
pub fn authority_from_file(bytes: &[u8]) -> Result<Authority, RootFileError> {
    let bundle = match Bundle::from_slice(bytes) {
        Ok(b) => return Ok(Authority::Bundle(Box::new(b))),
        Err(e) => e,
    };
    RootMetadata::from_slice(bytes, None)
        .map(Authority::Root)
        .map_err(|root| RootFileError::Neither {
            bundle: Box::new(bundle),
            root: Box::new(root),
        })
}

/// How a transcript ends.
#[derive(Clone, Debug, PartialEq)]
pub enum Ending {
    /// With a signed head: the ceremony finished.
    Signed,
    /// With an abort entry: the ceremony stopped before it finished.
    Aborted {
        /// The abort entry's position.
        seq: u64,
        /// The step that was running.
        step: Step,
        /// Why.
        reason: String,
    },
    /// With neither: the signer was killed, or the file was cut.
    Incomplete {
        /// The last entry's position.
        seq: u64,
        /// Its kind.
        kind: &'static str,
    },
}

/// A root that authenticated the transcript.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The file it came from, as given.
    pub file: String,
    /// The chain, where the transcript records this root as one it signed.
    pub chain: Option<String>,
    /// The `output` entry that records this root as signed, if one does.
    pub recorded_as: Option<u64>,
    /// The head signatures and the anchor.
    pub head: HeadCheck,
}

/// Where an artefact was found.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    /// Its sha256 stands in this entry, in the field of this kind of file.
    Entry {
        /// The entry's position.
        seq: u64,
        /// What the entry records it as (`the proposal read`, …).
        what: String,
    },
    /// A bundle of this ceremony: its head is this transcript's, its roots
    /// are the ones recorded as signed, and they authenticate the head.
    Bundle,
    /// A bundle that is not this ceremony's, or does not authenticate it.
    BundleRefused(String),
    /// Recorded nowhere.
    NotFound,
}

/// An artefact given to `verify-transcript`, re-hashed.
#[derive(Clone, Debug)]
pub struct ArtefactCheck {
    /// The name it was given as.
    pub name: String,
    /// sha256 of its bytes.
    pub sha256: String,
    /// Where it was found.
    pub found: Found,
}

impl ArtefactCheck {
    /// Whether the transcript records it (or, for a bundle, whether the
    /// bundle is this ceremony's).
    pub fn recorded(&self) -> bool {
        matches!(self.found, Found::Entry { .. } | Found::Bundle)
    }
}

/// What to check a transcript against.
#[derive(Clone, Copy, Debug, Default)]
pub struct Checks<'a> {
    /// `--root`: a root or a bundle, with the name it was given as.
    pub root: Option<(&'a str, &'a Authority)>,
    /// Files the transcript must record, with the names they were given as.
    pub artefacts: &'a [(String, Vec<u8>)],
    /// The caller asks for the chain alone: success without authentication.
    pub chain_only: bool,
}

/// The conclusion, in order of precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The chain is broken, or a root given does not authenticate it.
    Broken,
    /// The ceremony stopped before it finished (an abort entry).
    Aborted,
    /// The transcript ends early, without a signed head or an abort.
    Incomplete,
    /// The chain holds, but nothing says who wrote it.
    NotAuthenticated,
    /// The chain holds, and only the chain was asked for.
    ChainOnly,
    /// The chain holds and a root authenticates it.
    Verified,
}

/// The outcome of `verify-transcript`.
#[derive(Debug)]
pub struct Verification {
    /// The transcript as read, when its chain holds.
    pub transcript: Option<Transcript>,
    /// The first problem found, if any.
    pub problem: Option<TranscriptError>,
    /// How the transcript ends, when its chain holds.
    pub ending: Option<Ending>,
    /// The roots that authenticated it (`--root`, bundles).
    pub authenticated: Vec<Authenticated>,
    /// Whether the chain alone was asked for.
    pub chain_only: bool,
    /// The artefacts re-hashed.
    pub artefacts: Vec<ArtefactCheck>,
}

impl Verification {
    /// The conclusion about the transcript itself (artefacts aside).
    pub fn verdict(&self) -> Verdict {
        if self.problem.is_some() || self.transcript.is_none() {
            return Verdict::Broken;
        }
        match self.ending {
            Some(Ending::Aborted { .. }) => Verdict::Aborted,
            Some(Ending::Incomplete { .. }) | None => Verdict::Incomplete,
            Some(Ending::Signed) if !self.authenticated.is_empty() => Verdict::Verified,
            Some(Ending::Signed) if self.chain_only => Verdict::ChainOnly,
            Some(Ending::Signed) => Verdict::NotAuthenticated,
        }
    }

    /// Whether everything asked for holds: the transcript is authenticated
    /// (or the chain alone was asked for and holds), and every artefact is
    /// recorded.
    pub fn ok(&self) -> bool {
        matches!(self.verdict(), Verdict::Verified | Verdict::ChainOnly)
            && self.artefacts.iter().all(ArtefactCheck::recorded)
    }

    /// The conclusion in one sentence, the same on the terminal and in the
    /// HTML report. It holds text from the transcript: escape it for the
    /// medium.
    pub fn verdict_text(&self) -> String {
        let entries = self.transcript.as_ref().map_or(0, |t| t.entries.len());
        match (self.verdict(), &self.problem, &self.ending) {
            (Verdict::Broken, Some(p), _) => format!("transcript does NOT verify: {p}"),
            (Verdict::Broken, None, _) => "transcript does NOT verify".into(),
            (Verdict::Aborted, _, Some(Ending::Aborted { seq, step, reason })) => format!(
                "transcript does NOT verify: the ceremony aborted at {step}: {reason} (entry {seq}; \
                 it has no signed head, so nothing in it is authenticated)"
            ),
            (Verdict::Incomplete, _, Some(Ending::Incomplete { seq, kind })) => format!(
                "transcript does NOT verify: INCOMPLETE: it ends at entry {seq} ({kind}) with neither \
                 a signed head nor an abort entry: the signer was killed, or the file was cut"
            ),
            (Verdict::NotAuthenticated, _, _) => format!(
                "transcript NOT AUTHENTICATED: the chain of {entries} entries holds, but a chain of \
                 hashes proves nothing about who wrote it. Give --root N.root.json (the new root, as \
                 the repository publishes it) or the bundle, to check the head signatures and the \
                 anchor; or --chain-only to check the chain alone"
            ),
            (Verdict::ChainOnly, _, _) => format!(
                "chain of {entries} entries holds (--chain-only: the chain alone was checked; \
                 nothing was authenticated, so who wrote it is not known)"
            ),
            (Verdict::Verified, _, _) => format!(
                "transcript verified: the chain of {entries} entries holds, and the new root's keys \
                 signed its head"
            ),
            _ => "transcript does NOT verify".into(),
        }
    }

    /// One paragraph for a terminal.
    pub fn summary(&self) -> String {
        let mut out = format!("{}\n", self.verdict_text());
        if let Some(t) = &self.transcript {
            let head = crate::fingerprint::Labelled::transcript_head(t.stated_head());
            out.push_str(&format!("{}\n", head.render("")));
            let rehearsal = t.entries.iter().find_map(|e| match &e.event {
                Event::Start(s) => s.machine.rehearsal,
                _ => None,
            });
            if let Some(how) = rehearsal {
                out.push_str(&format!(
                    "REHEARSAL: the signer was told this run is a rehearsal ({}): not a key ceremony\n",
                    match how {
                        super::event::Rehearsal::Flag => "--rehearsal",
                        super::event::Rehearsal::Environment => "TUF_CEREMONY_REHEARSAL=1",
                    }
                ));
            }
        }
        let mut anchors_shown = Vec::new();
        for a in &self.authenticated {
            out.push_str(&format!(
                "authenticated by {}: {} of v{} (threshold {}) signed the head: {}; v{} anchors entry {}{}\n",
                a.file,
                a.head.signed_by.len(),
                a.head.version,
                a.head.threshold,
                a.head.signed_by.join(", "),
                a.head.version,
                a.head.anchor_seq,
                match (&a.chain, a.recorded_as) {
                    (Some(c), Some(seq)) => format!("; the transcript's entry {seq} records it as the new root of chain {c}"),
                    _ => "; the transcript does not list it among the roots it signed".into(),
                }
            ));
            // The hash the root itself carries (`x-changelog`, `x-ceremony`):
            // an earlier entry than the head, so labelled as what it is.
            let anchored = self
                .transcript
                .as_ref()
                .and_then(|t| t.entries.iter().find(|e| e.seq == a.head.anchor_seq));
            if let Some(e) = anchored.filter(|e| !anchors_shown.contains(&e.seq)) {
                anchors_shown.push(e.seq);
                let l = crate::fingerprint::Labelled::transcript_anchor(
                    e.seq,
                    a.head.version,
                    e.hash.clone(),
                );
                out.push_str(&format!("{}\n", l.render("  ")));
            }
        }
        if !self.authenticated.is_empty() {
            out.push_str(
                "(this proves who wrote the transcript only if that root is the one the repository \
                 publishes: compare it, or run `submitter audit`)\n",
            );
        }
        for a in &self.artefacts {
            let (tag, detail) = match &a.found {
                Found::Entry { seq, what } => ("recorded ", format!("as {what} (entry {seq})")),
                Found::Bundle => (
                    "recorded ",
                    "as this ceremony's bundle: its head and roots match".to_string(),
                ),
                Found::BundleRefused(why) => ("NOT THIS CEREMONY'S", why.clone()),
                Found::NotFound => ("NOT FOUND", "in no input or output entry".to_string()),
            };
            out.push_str(&format!(
                "{tag} {}  sha256 {}  {detail}\n",
                a.name, a.sha256
            ));
        }
        out
    }
}

/// Verifies a transcript: its chain and ending, with `root` the head
/// signatures and the anchor, and the artefacts. A shorthand for
/// [`verify`] with a root file.
pub fn verify_all(
    bytes: &[u8],
    root: Option<&RootMetadata>,
    artefacts: &[(String, Vec<u8>)],
) -> Verification {
    let authority = root.cloned().map(Authority::Root);
    verify(
        bytes,
        &Checks {
            root: authority.as_ref().map(|a| ("the root given", a)),
            artefacts,
            chain_only: false,
        },
    )
}

/// Verifies a transcript against everything in `checks`.
pub fn verify(bytes: &[u8], checks: &Checks<'_>) -> Verification {
    let mut v = Verification {
        transcript: None,
        problem: None,
        ending: None,
        authenticated: Vec::new(),
        chain_only: checks.chain_only,
        artefacts: Vec::new(),
    };
    let t = match read(bytes) {
        Ok(t) => t,
        Err(e) => {
            v.problem = Some(e);
            return v;
        }
    };
    match ending(&t) {
        Ok(e) => v.ending = Some(e),
        Err(e) => v.problem = Some(e),
    }
    let signed = v.problem.is_none() && v.ending == Some(Ending::Signed);
    if let (Some((file, authority)), true) = (checks.root, signed) {
        let r = match authority {
            Authority::Root(root) => by_root(&t, file, root).map(|a| vec![a]),
            Authority::Bundle(bundle) => by_bundle(&t, file, bundle),
        };
        match r {
            Ok(a) => v.authenticated.extend(a),
            Err(e) => v.problem = Some(e),
        }
    }
    for (name, data) in checks.artefacts {
        let sha256 = crate::sha256::hex(data);
        let found = match Bundle::from_slice(data) {
            Ok(bundle) => match by_bundle(&t, name, &bundle) {
                Ok(a) => {
                    v.authenticated.extend(a);
                    Found::Bundle
                }
                Err(e) => Found::BundleRefused(match e {
                    TranscriptError::Bundle { reason, .. } => reason,
                    other => other.to_string(),
                }),
            },
            Err(_) => find_file(&t, data, &sha256),
        };
        v.artefacts.push(ArtefactCheck {
            name: name.clone(),
            sha256,
            found,
        });
    }
    v.transcript = Some(t);
    v
}

/// How `t` ends; an abort anywhere but at the end, or followed by a signed
/// head, is not what the signer writes.
fn ending(t: &Transcript) -> Result<Ending, TranscriptError> {
    let n = t.entries.len();
    for (i, e) in t.entries.iter().enumerate() {
        let Event::Abort(a) = &e.event else { continue };
        if i + 1 != n {
            return Err(TranscriptError::Broken {
                line: i + 2,
                reason: format!(
                    "entry {} records an abort, and entries follow it: the signer writes nothing \
                     after it stops",
                    e.seq
                ),
            });
        }
        if t.signed_head.is_some() {
            return Err(TranscriptError::Broken {
                line: n + 1,
                reason: "a signed head follows an abort entry: the signer never signs a ceremony \
                         that stopped"
                    .into(),
            });
        }
        return Ok(Ending::Aborted {
            seq: e.seq,
            step: a.step,
            reason: a.reason.clone(),
        });
    }
    if t.signed_head.is_some() {
        return Ok(Ending::Signed);
    }
    let last = t.entries.last().expect("read refuses an empty transcript");
    Ok(Ending::Incomplete {
        seq: last.seq,
        kind: last.kind(),
    })
}

/// A root the transcript records as signed: its `output` entry.
struct RecordedRoot<'a> {
    seq: u64,
    chain: &'a str,
    version: u64,
    signed_sha256: &'a str,
}

fn recorded_roots(t: &Transcript) -> Vec<RecordedRoot<'_>> {
    t.entries
        .iter()
        .filter_map(|e| match &e.event {
            Event::Output(Output::Root {
                chain,
                version,
                signed_sha256,
                ..
            }) => Some(RecordedRoot {
                seq: e.seq,
                chain,
                version: *version,
                signed_sha256,
            }),
            _ => None,
        })
        .collect()
}

/// sha256 of a root's canonical `signed` part: what every signature over it
/// covers, whoever added signatures since.
fn signed_sha256(root: &RootMetadata) -> Option<String> {
    root.canonical_signed().ok().map(|b| crate::sha256::hex(&b))
}

fn by_root(
    t: &Transcript,
    file: &str,
    root: &RootMetadata,
) -> Result<Authenticated, TranscriptError> {
    let head = verify_against_root(t, root)?;
    let signed = signed_sha256(root);
    let recorded = recorded_roots(t)
        .into_iter()
        .find(|r| Some(r.signed_sha256) == signed.as_deref());
    Ok(Authenticated {
        file: file.to_string(),
        chain: recorded.as_ref().map(|r| r.chain.to_string()),
        recorded_as: recorded.map(|r| r.seq),
        head,
    })
}

/// A bundle authenticates the transcript when it is this ceremony's: it
/// carries this transcript's head, answers the proposal this transcript
/// read, holds exactly the roots it records as signed, and those roots'
/// keys signed the head and anchor it.
fn by_bundle(
    t: &Transcript,
    file: &str,
    bundle: &Bundle,
) -> Result<Vec<Authenticated>, TranscriptError> {
    let refuse = |reason: String| TranscriptError::Bundle {
        file: file.to_string(),
        reason,
    };
    if t.signed_head.is_none() {
        return Err(refuse(
            "this transcript has no signed head, so no bundle can be its ceremony's".into(),
        ));
    }
    let theirs = bundle
        .transcript_head
        .as_ref()
        .and_then(|h| h.get("head"))
        .and_then(Value::as_str)
        .ok_or_else(|| refuse("it carries no transcript head".into()))?;
    if theirs != t.head() {
        return Err(refuse(format!(
            "it carries the head of another transcript ({theirs}), not this one's ({}): it is \
             from another ceremony",
            t.head()
        )));
    }
    let proposal = t.entries.iter().find_map(|e| match &e.event {
        Event::Input(Input::Proposal { sha256, .. }) => Some(sha256.as_str()),
        _ => None,
    });
    if proposal != Some(bundle.proposal_sha256.as_str()) {
        return Err(refuse(format!(
            "it answers the proposal with sha256 {}, but this ceremony read {}",
            bundle.proposal_sha256,
            proposal.unwrap_or("no proposal")
        )));
    }
    let recorded = recorded_roots(t);
    let mut matched = Vec::new();
    let mut out = Vec::new();
    for r in &bundle.roots {
        let root = bundle.root(r).map_err(|e| refuse(e.to_string()))?;
        let signed = signed_sha256(&root)
            .ok_or_else(|| refuse(format!("its {} root has no canonical form", r.name)))?;
        let rec = recorded
            .iter()
            .find(|x| x.chain == r.name && x.signed_sha256 == signed)
            .ok_or_else(|| {
                refuse(format!(
                    "its {} root (signed part sha256 {signed}) is not a root this transcript \
                     records as signed",
                    r.name
                ))
            })?;
        if matched.contains(&rec.seq) {
            return Err(refuse(format!("it holds the {} root twice", r.name)));
        }
        matched.push(rec.seq);
        let head = verify_against_root(t, &root).map_err(|e| refuse(e.to_string()))?;
        out.push(Authenticated {
            file: file.to_string(),
            chain: Some(r.name.clone()),
            recorded_as: Some(rec.seq),
            head,
        });
    }
    if let Some(missing) = recorded.iter().find(|x| !matched.contains(&x.seq)) {
        return Err(refuse(format!(
            "this transcript records a {} root v{} as signed (entry {}), which the bundle does \
             not hold",
            missing.chain, missing.version, missing.seq
        )));
    }
    Ok(out)
}

/// The entry whose field for a file of its kind holds `sha256`; else, for
/// a root file, the `output` entry that records its signed part.
fn find_file(t: &Transcript, data: &[u8], sha256: &str) -> Found {
    for e in &t.entries {
        let site = match &e.event {
            Event::Start(s) => Some((
                &s.software.binary_sha256,
                "the signer binary that ran".into(),
            )),
            Event::Input(Input::Proposal { sha256, .. }) => {
                Some((sha256, "the proposal read".into()))
            }
            Event::Input(Input::Archive { sha256, .. }) => {
                Some((sha256, "the key archive read".into()))
            }
            Event::Tokens(k) => Some((&k.module_sha256, "the PKCS#11 module loaded".into())),
            Event::ArchiveWritten(a) => Some((&a.sha256, "the new key archive written".into())),
            Event::Output(Output::Root {
                chain,
                version,
                sha256,
                ..
            }) => Some((
                sha256,
                format!("the new root v{version} of chain {chain}, written"),
            )),
            _ => None,
        };
        if let Some((hash, what)) = site {
            if hash == sha256 {
                return Found::Entry { seq: e.seq, what };
            }
        }
    }
    if let Some(signed) = RootMetadata::from_slice(data, None)
        .ok()
        .as_ref()
        .and_then(signed_sha256)
    {
        if let Some(r) = recorded_roots(t)
            .into_iter()
            .find(|r| r.signed_sha256 == signed)
        {
            return Found::Entry {
                seq: r.seq,
                what: format!(
                    "the new root v{} of chain {}, signed (its signed part; its signatures may differ)",
                    r.version, r.chain
                ),
            };
        }
    }
    Found::NotFound
}
