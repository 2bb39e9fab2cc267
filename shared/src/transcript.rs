//! The ceremony transcript: a tamper-evident record of what the signer did.
//!
//! A JSON Lines file, one entry per line. Each entry carries the sha256 of
//! the previous line's exact bytes, so deleting, reordering or editing any
//! entry breaks the chain at a place [`verify`] names. Two things pin the
//! chain from outside:
//!
//! * the hash of the entry written just before the new root is signed (the
//!   *anchor*) goes into the new root itself (`x-changelog.message` for
//!   ota-tuf, an `x-ceremony` field for TUF), so the repository's own history
//!   vouches for the start of the ceremony; and
//! * the final head is signed by the new root key(s), with a
//!   domain-separation prefix so the signature can never be mistaken for a
//!   metadata signature, and written as the file's last line and into the
//!   bundle.
//!
//! No entry ever holds a secret: callers pass hashes, ids, fingerprints and
//! the text a human saw or typed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Value};
use thiserror::Error;
use time::OffsetDateTime;

use crate::dialect::Dialect;
use crate::keys::{sign_checked, Signer};
use crate::root::{format_expires, RootMetadata};

/// The `format` of the first entry.
pub const TRANSCRIPT_FORMAT: &str = "tuf-ceremony/transcript@1";

/// Signed before every head signature, so that a transcript signature can
/// never be replayed as a signature over metadata, or the reverse.
pub const HEAD_SIGNATURE_DOMAIN: &[u8] = b"tuf-ceremony/transcript-head@1\0";

/// The `prev` of the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The prefix of the anchor inside an ota-tuf `x-changelog.message`.
pub const OTA_ANCHOR_PREFIX: &str = "tuf-ceremony transcript ";

/// Why a transcript could not be written or does not verify.
#[derive(Debug, Error)]
pub enum TranscriptError {
    /// Writing failed.
    #[error("cannot write the transcript {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// An entry is missing, edited, reordered or malformed.
    #[error("entry {line}: {reason}")]
    Broken {
        /// 1-based line number of the first bad entry.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The head signature is missing or does not verify.
    #[error("head signature: {0}")]
    HeadSignature(String),
    /// The root does not anchor this transcript.
    #[error("anchor: {0}")]
    Anchor(String),
}

fn now_text() -> String {
    format_expires(OffsetDateTime::now_utc())
}

/// Appends entries to a new transcript file, flushing each one to disk, so
/// that a crash leaves every entry written so far.
///
/// A writer made with [`TranscriptWriter::deferred`] keeps its entries in
/// memory until [`TranscriptWriter::persist`]: the signer persists at its
/// first durable write (the new archive), so a ceremony refused before it
/// changed anything leaves no file behind, while everything after is on disk
/// as it happens.
pub struct TranscriptWriter {
    path: PathBuf,
    file: Option<File>,
    pending: Vec<String>,
    seq: u64,
    head: String,
    finished: bool,
}

impl TranscriptWriter {
    /// Creates `path` now; it must not exist: a transcript is never
    /// overwritten.
    pub fn create(path: &Path) -> Result<Self, TranscriptError> {
        let mut w = Self::deferred(path);
        w.persist()?;
        Ok(w)
    }

    /// A writer that creates `path` only when [`Self::persist`] is called.
    pub fn deferred(path: &Path) -> Self {
        TranscriptWriter {
            path: path.to_path_buf(),
            file: None,
            pending: Vec::new(),
            seq: 0,
            head: GENESIS.to_string(),
            finished: false,
        }
    }

    /// Creates the file (which must not exist) and writes every entry kept
    /// so far. Does nothing when already on disk.
    pub fn persist(&mut self) -> Result<(), TranscriptError> {
        if self.file.is_some() {
            return Ok(());
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&self.path)
            .map_err(|source| TranscriptError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.file = Some(file);
        for line in std::mem::take(&mut self.pending) {
            self.write_line(&line)?;
        }
        Ok(())
    }

    /// Whether the file exists yet.
    pub fn is_persisted(&self) -> bool {
        self.file.is_some()
    }

    /// Where the transcript is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The hash of the last entry written.
    pub fn head(&self) -> &str {
        &self.head
    }

    /// How many entries have been written.
    pub fn len(&self) -> u64 {
        self.seq
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.seq == 0
    }

    /// Appends one entry of `kind` with `data` and returns its hash.
    pub fn append(&mut self, kind: &str, data: Value) -> Result<String, TranscriptError> {
        if self.finished {
            return Err(TranscriptError::Broken {
                line: self.seq as usize + 2,
                reason: "the transcript was already signed; nothing may follow the signed head"
                    .into(),
            });
        }
        let mut entry = serde_json::Map::new();
        if self.seq == 0 {
            entry.insert("format".into(), json!(TRANSCRIPT_FORMAT));
        }
        entry.insert("seq".into(), json!(self.seq + 1));
        entry.insert("time".into(), json!(now_text()));
        entry.insert("prev".into(), json!(self.head));
        entry.insert("kind".into(), json!(kind));
        entry.insert("data".into(), data);
        let line = serde_json::to_string(&Value::Object(entry)).expect("JSON always serialises");
        self.write_line(&line)?;
        self.seq += 1;
        self.head = crate::sha256::hex(line.as_bytes());
        Ok(self.head.clone())
    }

    /// Signs the current head with `keys` (the new root keys, by the ids the
    /// new root lists them under), writes the signed head as the last line,
    /// and returns it for the bundle. Nothing may be appended after it.
    ///
    /// The keys are any [`Signer`]: in memory (`&PrivateKey`) or on a token
    /// (`&dyn Signer`); every signature is verified in software before it is
    /// written ([`sign_checked`]).
    pub fn finish<S: Signer + ?Sized>(
        &mut self,
        keys: &[(String, &S)],
    ) -> Result<Value, TranscriptError> {
        let message = head_message(&self.head);
        let mut signatures = Vec::new();
        for (keyid, key) in keys {
            let sig = sign_checked(*key, &message)
                .map_err(|e| TranscriptError::HeadSignature(e.to_string()))?;
            signatures.push(json!({
                "keyid": keyid,
                "fingerprint": key.public_key().fingerprint(),
                "sig": base64::engine::general_purpose::STANDARD.encode(sig),
            }));
        }
        let signed = json!({
            "kind": "signed-head",
            "head": self.head,
            "entries": self.seq,
            "signatures": signatures,
        });
        let line = serde_json::to_string(&signed).expect("JSON always serialises");
        self.write_line(&line)?;
        self.finished = true;
        Ok(signed)
    }

    fn write_line(&mut self, line: &str) -> Result<(), TranscriptError> {
        let Some(file) = self.file.as_mut() else {
            self.pending.push(line.to_string());
            return Ok(());
        };
        let io = |source| TranscriptError::Io {
            path: self.path.clone(),
            source,
        };
        file.write_all(format!("{line}\n").as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)
    }
}

/// The bytes a head signature covers.
pub fn head_message(head: &str) -> Vec<u8> {
    let mut m = HEAD_SIGNATURE_DOMAIN.to_vec();
    m.extend_from_slice(head.as_bytes());
    m
}

/// Records `anchor` (an entry hash) in the new root, where the repository's
/// history will keep it.
pub fn set_anchor(root: &mut RootMetadata, anchor: &str) {
    match root.dialect() {
        Dialect::OtaTuf => {
            let mut log = root
                .signed()
                .get("x-changelog")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let previous = log
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            // One line, so the changelog stays readable where Foundries
            // shows it; an earlier anchor (a re-signed root) is replaced.
            let kept = match previous.find(&format!("[{OTA_ANCHOR_PREFIX}")) {
                Some(i) => previous[..i].trim_end().to_string(),
                None => previous,
            };
            let message = if kept.is_empty() {
                format!("[{OTA_ANCHOR_PREFIX}{anchor}]")
            } else {
                format!("{kept} [{OTA_ANCHOR_PREFIX}{anchor}]")
            };
            log.insert("message".into(), Value::String(message));
            root.set_extension("x-changelog", Value::Object(log));
        }
        Dialect::Tuf => {
            root.set_extension("x-ceremony", json!({ "transcript": anchor }));
        }
    }
}

/// The transcript anchor a root carries, if any.
pub fn anchor_of(root: &RootMetadata) -> Option<String> {
    match root.dialect() {
        Dialect::OtaTuf => {
            let message = root.signed().get("x-changelog")?.get("message")?.as_str()?;
            let start =
                message.find(&format!("[{OTA_ANCHOR_PREFIX}"))? + 1 + OTA_ANCHOR_PREFIX.len();
            let hash = message.get(start..start + 64)?;
            (hash.bytes().all(|b| b.is_ascii_hexdigit()) && message[start + 64..].starts_with(']'))
                .then(|| hash.to_string())
        }
        Dialect::Tuf => root
            .signed()
            .get("x-ceremony")?
            .get("transcript")?
            .as_str()
            .map(str::to_owned),
    }
}

/// One entry as read back.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    /// Position, from 1.
    pub seq: u64,
    /// When it was written (the offline machine's clock).
    pub time: String,
    /// What happened.
    pub kind: String,
    /// The details.
    pub data: Value,
    /// sha256 of the entry's line.
    pub hash: String,
}

/// A transcript read back and checked for internal consistency.
#[derive(Clone, Debug, Serialize)]
pub struct Transcript {
    /// The chained entries.
    pub entries: Vec<Entry>,
    /// The signed head (the last line), if present.
    pub signed_head: Option<Value>,
}

impl Transcript {
    /// The hash of the last chained entry.
    pub fn head(&self) -> &str {
        self.entries.last().map_or(GENESIS, |e| e.hash.as_str())
    }

    /// The entries of one kind.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| e.kind == kind)
    }
}

/// Reads a transcript and recomputes its chain; the error names the first
/// broken entry.
pub fn read(bytes: &[u8]) -> Result<Transcript, TranscriptError> {
    let text = std::str::from_utf8(bytes).map_err(|e| TranscriptError::Broken {
        line: 1,
        reason: format!("not UTF-8 text: {e}"),
    })?;
    let mut entries = Vec::new();
    let mut signed_head = None;
    let mut prev = GENESIS.to_string();
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let broken = |reason: String| TranscriptError::Broken { line: n, reason };
        let v: Value = crate::strict_json::from_slice(line.as_bytes())
            .map_err(|e| broken(format!("not JSON: {e}")))?;
        if v.get("kind").and_then(Value::as_str) == Some("signed-head") && v.get("seq").is_none() {
            if n != lines.len() {
                return Err(broken(
                    "a signed head stands before the end: entries were appended after signing"
                        .into(),
                ));
            }
            if v.get("head").and_then(Value::as_str) != Some(prev.as_str()) {
                return Err(broken(format!(
                    "the signed head is not the hash of the entry before it (entry {} hashes to {prev})",
                    n - 1
                )));
            }
            signed_head = Some(v);
            break;
        }
        if n == 1 && v.get("format").and_then(Value::as_str) != Some(TRANSCRIPT_FORMAT) {
            return Err(broken(format!(
                "the first entry must have format {TRANSCRIPT_FORMAT:?}: this is not a tuf-ceremony transcript, or its start was removed"
            )));
        }
        let seq = v
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| broken("no seq".into()))?;
        if seq != n as u64 {
            return Err(broken(format!(
                "seq is {seq} at line {n}: an entry was removed or moved"
            )));
        }
        let p = v.get("prev").and_then(Value::as_str).unwrap_or("");
        if p != prev {
            return Err(broken(format!(
                "prev is {p}, but the entry before hashes to {prev}: the entry before was edited, removed or moved"
            )));
        }
        let hash = crate::sha256::hex(line.as_bytes());
        entries.push(Entry {
            seq,
            time: v
                .get("time")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            kind: v
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            data: v.get("data").cloned().unwrap_or(Value::Null),
            hash: hash.clone(),
        });
        prev = hash;
    }
    if entries.is_empty() {
        return Err(TranscriptError::Broken {
            line: 1,
            reason: "the transcript is empty".into(),
        });
    }
    Ok(Transcript {
        entries,
        signed_head,
    })
}

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

/// What this machine looked like, for the first entry: network interfaces
/// (and whether any but loopback is up) and swap. Read from /sys and /proc,
/// so the signer needs no network code to know it.
pub fn machine_state() -> Value {
    let mut interfaces = Vec::new();
    let mut online = false;
    // Interface names come from /proc/self/net/dev, which always shows this
    // process's network namespace; /sys/class/net shows the namespace that
    // mounted /sys, which under a bare `unshare -n` is the host's.
    let mut names: Vec<String> = std::fs::read_to_string("/proc/self/net/dev")
        .map(|t| {
            t.lines()
                .skip(2)
                .filter_map(|l| l.split(':').next())
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        if let Ok(dir) = std::fs::read_dir("/sys/class/net") {
            names = dir
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect();
        }
    }
    names.sort();
    for name in names {
        let state = std::fs::read_to_string(format!("/sys/class/net/{name}/operstate"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let is_up = state == "up" || state == "unknown";
        if name != "lo" && is_up {
            online = true;
        }
        interfaces.push(json!({ "name": name, "state": state }));
    }
    let swaps: Vec<String> = std::fs::read_to_string("/proc/swaps")
        .map(|s| {
            s.lines()
                .skip(1)
                .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    json!({
        "interfaces": interfaces,
        "non_loopback_interface_up": online,
        "swap_devices": swaps,
        "swap_on": !swaps.is_empty(),
    })
}

/// The running binary's identity: name, version and sha256 of its file.
pub fn software_identity(name: &str, version: &str) -> Value {
    let digest = std::env::current_exe()
        .and_then(std::fs::read)
        .map(|b| crate::sha256::hex(&b))
        .unwrap_or_else(|e| format!("unreadable: {e}"));
    json!({ "name": name, "version": version, "binary_sha256": digest })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{NewKeyType, PrivateKey};
    use crate::root::RoleKeys;

    fn root_with(key: &PrivateKey, dialect: Dialect) -> RootMetadata {
        let ty = if dialect == Dialect::OtaTuf {
            "Root"
        } else {
            "root"
        };
        let mut root = RootMetadata::from_value(
            json!({"signed": {"_type": ty, "version": 2, "expires": "2099-01-01T00:00:00Z", "keys": {}, "roles": {}}, "signatures": []}),
            dialect,
        )
        .unwrap();
        let id = key.public_key().key_id(dialect);
        root.insert_key(&id, &key.public_key());
        root.set_role(
            "root",
            &RoleKeys {
                keyids: vec![id],
                threshold: 1,
            },
        );
        root
    }

    /// Writes a five-entry transcript anchored after entry 3; returns its
    /// bytes and the root that anchors it.
    fn ceremony(dir: &Path, dialect: Dialect) -> (Vec<u8>, RootMetadata) {
        let key = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
        let path = dir.join("t.jsonl");
        let mut w = TranscriptWriter::create(&path).unwrap();
        w.append(
            "start",
            json!({"operator": "alice", "key": key.public_key().fingerprint()}),
        )
        .unwrap();
        w.append("input", json!({"sha256": "ab"})).unwrap();
        let anchor = w.append("confirmation", json!({"typed": "yes"})).unwrap();
        let mut root = root_with(&key, dialect);
        set_anchor(&mut root, &anchor);
        w.append("signature", json!({"keyid": "x"})).unwrap();
        w.append("output", json!({"sha256": "cd"})).unwrap();
        let id = root.role("root").unwrap().keyids[0].clone();
        w.finish(&[(id, &key)]).unwrap();
        assert!(w.append("late", json!({})).is_err());
        (std::fs::read(&path).unwrap(), root)
    }

    #[test]
    fn a_whole_transcript_verifies_in_both_dialects() {
        for d in [Dialect::OtaTuf, Dialect::Tuf] {
            let dir = tempfile::tempdir().unwrap();
            let (bytes, root) = ceremony(dir.path(), d);
            let t = read(&bytes).unwrap();
            assert_eq!(t.entries.len(), 5);
            verify_against_root(&t, &root).unwrap();
            assert!(anchor_of(&root).is_some());
        }
    }

    #[test]
    fn never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.jsonl"), b"keep").unwrap();
        assert!(TranscriptWriter::create(&dir.path().join("t.jsonl")).is_err());
        assert_eq!(std::fs::read(dir.path().join("t.jsonl")).unwrap(), b"keep");
    }

    fn lines(bytes: &[u8]) -> Vec<String> {
        String::from_utf8(bytes.to_vec())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn join(lines: &[String]) -> Vec<u8> {
        (lines.join("\n") + "\n").into_bytes()
    }

    #[test]
    fn deleting_reordering_or_editing_any_entry_is_detected_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, root) = ceremony(dir.path(), Dialect::Tuf);
        let original = lines(&bytes);
        let n = original.len(); // 5 entries + signed head
        for i in 0..n {
            // Delete entry i.
            let mut l = original.clone();
            l.remove(i);
            let r = read(&join(&l)).and_then(|t| verify_against_root(&t, &root));
            assert!(r.is_err(), "deleting line {}", i + 1);
            // Edit entry i (one character of its data).
            let mut l = original.clone();
            l[i] = l[i]
                .replacen("\"data\":{", "\"data\":{\"x\":1,", 1)
                .replacen("\"head\":\"", "\"head\":\"0", 1);
            assert_ne!(l[i], original[i]);
            let r = read(&join(&l)).and_then(|t| verify_against_root(&t, &root));
            assert!(r.is_err(), "editing line {}", i + 1);
            // Swap entry i with the next.
            if i + 1 < n {
                let mut l = original.clone();
                l.swap(i, i + 1);
                let r = read(&join(&l)).and_then(|t| verify_against_root(&t, &root));
                assert!(r.is_err(), "swapping lines {} and {}", i + 1, i + 2);
            }
        }
        // The first broken entry is named: editing entry 2 breaks entry 3.
        let mut l = original.clone();
        l[1] = l[1].replace("\"ab\"", "\"ac\"");
        match read(&join(&l)) {
            Err(TranscriptError::Broken { line, .. }) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn another_ceremonys_head_signature_is_refused() {
        let dir1 = tempfile::tempdir().unwrap();
        let dir2 = tempfile::tempdir().unwrap();
        let (a, root_a) = ceremony(dir1.path(), Dialect::Tuf);
        let (b, _root_b) = ceremony(dir2.path(), Dialect::Tuf);
        let mut la = lines(&a);
        let lb = lines(&b);
        *la.last_mut().unwrap() = lb.last().unwrap().clone();
        let swapped = read(&join(&la)).and_then(|t| verify_against_root(&t, &root_a));
        assert!(swapped.is_err(), "b's signed head must not pass for a");
        // b's transcript, whole, does not verify against a's root.
        let tb = read(&b).unwrap();
        assert!(verify_against_root(&tb, &root_a).is_err());
    }

    #[test]
    fn machine_state_reports_interfaces() {
        let m = machine_state();
        assert!(m["interfaces"].is_array());
        assert!(m["non_loopback_interface_up"].is_boolean());
    }
}

/// Reads the root to check a transcript against: a root file, or a bundle
/// (its first root, which carries the anchor and the new keys).
pub fn root_from_file(bytes: &[u8]) -> Result<RootMetadata, String> {
    if let Ok(bundle) = crate::bundle::Bundle::from_slice(bytes) {
        let first = bundle.roots.first().ok_or("the bundle holds no root")?;
        return bundle.root(first).map_err(|e| e.to_string());
    }
    RootMetadata::from_slice(bytes, None).map_err(|e| e.to_string())
}

/// An artefact given to `verify-transcript`, re-hashed.
#[derive(Clone, Debug, Serialize)]
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
                    t.signed_head
                        .as_ref()
                        .and_then(|h| h.get("head"))
                        .and_then(Value::as_str)
                        .unwrap_or_else(|| t.head())
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
        let recorded = t.entries.iter().any(|e| mentions(&e.data, &sha256));
        v.artefacts.push(ArtefactCheck {
            name: name.clone(),
            sha256,
            recorded,
        });
    }
    v.transcript = Some(t);
    v
}

/// `verify-transcript` as both binaries run it: reads the transcript, the
/// root (a root file or a bundle) and the artefacts from disk, verifies, and
/// writes the HTML report to `html` (a new file) when asked. Returns the
/// verification and the text to print; an `Err` is a file that could not be
/// read or written.
pub fn verify_paths(
    transcript: &Path,
    root: Option<&Path>,
    artefacts: &[PathBuf],
    html: Option<&Path>,
) -> Result<(Verification, String), String> {
    // Regular files only, and bounded: a path to /dev/zero must not be read
    // until memory runs out.
    let read = |p: &Path| crate::fsio::read_bounded(p, 1 << 30).map_err(|e| e.to_string());
    let bytes = read(transcript)?;
    let root = match root {
        Some(p) => Some(root_from_file(&read(p)?).map_err(|e| {
            format!(
                "{} is neither a root nor a bundle holding one: {e}",
                p.display()
            )
        })?),
        None => None,
    };
    let artefacts = artefacts
        .iter()
        .map(|p| Ok((p.display().to_string(), read(p)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let v = verify_all(&bytes, root.as_ref(), &artefacts);
    let mut text = v.summary();
    if let (Some(html), Some(t)) = (html, &v.transcript) {
        let page = crate::report::transcript_html(t, &v);
        crate::fsio::write_new(html, page.as_bytes(), &crate::fsio::WriteOptions::public())
            .map_err(|e| format!("cannot write {}: {e}", html.display()))?;
        text.push_str(&format!("report written to {}\n", html.display()));
    }
    Ok((v, text))
}
