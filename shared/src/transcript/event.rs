//! What a transcript entry can say: one variant of [`Event`] per `kind`.
//!
//! This is the transcript's schema. The signer writes these and nothing else,
//! and the reports and `verify-transcript` read them back as these types, so
//! a field renamed on one side cannot go unnoticed on the other. Each data
//! struct lists its fields in the order they appear in the file: serde writes
//! them in declaration order, and the entry hashes are over those exact
//! bytes.
//!
//! Reading is strict (`deny_unknown_fields`): what a transcript records is
//! exactly what a reader shows and searches, with nothing left aside.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dialect::Dialect;

/// One thing that happened in a ceremony: the `kind` and `data` of an entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "kebab-case")]
pub enum Event {
    /// The first entry: the software, the machine, the people, the command.
    Start(Start),
    /// A file the ceremony read: the proposal or the key archive.
    Input(Input),
    /// The proposal's current roots were checked against the archive's
    /// trust anchors.
    Trust(Trust),
    /// The PKCS#11 token keys that must sign were opened and test-signed.
    Tokens(Tokens),
    /// A new root key was made.
    KeyGenerated(KeyGenerated),
    /// A new key archive was written.
    ArchiveWritten(ArchiveWritten),
    /// The change of one chain, as the human was shown it.
    Diff(Diff),
    /// The human's typed answer to "Sign this?".
    Confirmation(Confirmation),
    /// Whether, and where, the new roots carry the transcript's anchor.
    Anchor(Anchor),
    /// One signature made over a new root.
    Signature(Signature),
    /// The rotation rules applied to a new root after signing.
    SelfCheck(SelfCheck),
    /// A file the ceremony produced.
    Output(Output),
    /// The ceremony stopped before it finished: the last entry of a
    /// transcript that has no signed head.
    Abort(Abort),
}

impl Event {
    /// Every `kind` this version writes and reads, in the order of the
    /// variants.
    pub(crate) const KINDS: [&'static str; 13] = [
        "start",
        "input",
        "trust",
        "tokens",
        "key-generated",
        "archive-written",
        "diff",
        "confirmation",
        "anchor",
        "signature",
        "self-check",
        "output",
        "abort",
    ];

    /// The `kind` this event is written under.
    pub(crate) fn kind(&self) -> &'static str {
        let i = match self {
            Event::Start(_) => 0,
            Event::Input(_) => 1,
            Event::Trust(_) => 2,
            Event::Tokens(_) => 3,
            Event::KeyGenerated(_) => 4,
            Event::ArchiveWritten(_) => 5,
            Event::Diff(_) => 6,
            Event::Confirmation(_) => 7,
            Event::Anchor(_) => 8,
            Event::Signature(_) => 9,
            Event::SelfCheck(_) => 10,
            Event::Output(_) => 11,
            Event::Abort(_) => 12,
        };
        Self::KINDS[i]
    }

    /// The `data` object as written, for the places that show an entry
    /// whatever its kind (the report's table). Never search it for a hash:
    /// a file is recorded only in the field of its kind (see `verify`).
    pub fn data(&self) -> Value {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut entry)) => entry.remove("data").unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }

    /// Reads the `kind` and `data` of an entry.
    pub(crate) fn decode(kind: &str, data: Value) -> Result<Event, DecodeError> {
        if !Self::KINDS.contains(&kind) {
            return Err(DecodeError::UnknownKind);
        }
        let mut entry = serde_json::Map::new();
        entry.insert("kind".into(), Value::String(kind.to_string()));
        entry.insert("data".into(), data);
        serde_json::from_value(Value::Object(entry)).map_err(DecodeError::Fields)
    }
}

/// Why [`Event::decode`] refused an entry; the reader adds the line.
#[derive(Debug)]
pub(crate) enum DecodeError {
    /// Not one of [`Event::KINDS`].
    UnknownKind,
    /// A known kind whose data does not have its fields.
    Fields(serde_json::Error),
}

/// The `start` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    /// The program that ran.
    pub software: Software,
    /// The machine it ran on.
    pub machine: Machine,
    /// `--operator`.
    pub operator: Option<String>,
    /// Every `--witness`.
    pub witnesses: Vec<String>,
    /// What it was asked to do.
    pub command: Command,
}

/// The running binary, so an auditor can tell which build signed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Software {
    /// `signer`.
    pub name: String,
    /// Its crate version.
    pub version: String,
    /// sha256 of the binary's file, or why it could not be read.
    pub binary_sha256: String,
}

/// The machine's network and swap, as read from /proc and /sys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    /// Every network interface of the signer's namespace.
    pub interfaces: Vec<Interface>,
    /// Whether an interface other than loopback was up (or unknown).
    pub non_loopback_interface_up: bool,
    /// The swap devices in use.
    pub swap_devices: Vec<String>,
    /// Whether any swap was on: secrets may have been paged out.
    pub swap_on: bool,
    /// Set when the operator declared the run a rehearsal, the only way the
    /// signer runs while an interface other than loopback is up; absent in
    /// a ceremony (and in transcripts older than the field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rehearsal: Option<Rehearsal>,
}

/// How a run was declared a rehearsal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rehearsal {
    /// `--rehearsal` on the command line.
    Flag,
    /// `TUF_CEREMONY_REHEARSAL=1` in the environment (test suites).
    Environment,
}

/// One network interface.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// `lo`, `eth0`, …
    pub name: String,
    /// Its `operstate`: `up`, `down`, `unknown`, …
    pub state: String,
}

/// The arguments of `signer sign` that say what the ceremony works on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// The proposal's path, or where its QR frames came from.
    pub proposal: String,
    /// The key archive read.
    pub keys: String,
    /// The bundle to write.
    pub bundle: String,
    /// The new archive to write.
    pub new_archive: String,
    /// `--yes`: no question was asked.
    pub yes: bool,
    /// `--force`: guard-rail warnings were overridden.
    pub force: bool,
}

/// An `input` entry: the file read, named by `what`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Input {
    /// The proposal.
    Proposal {
        /// Its path, or where its QR frames came from.
        path: String,
        /// sha256 of its exact bytes.
        sha256: String,
        /// Where its roots go.
        target: String,
        /// Its dialect.
        dialect: Dialect,
        /// The server's transaction id, where there is one.
        txid: Option<String>,
    },
    /// The key archive.
    Archive {
        /// Its path.
        path: String,
        /// sha256 of its (encrypted) bytes.
        sha256: String,
        /// How many keys it holds.
        keys_held: usize,
        /// How many keys on tokens it records.
        token_keys_recorded: usize,
    },
}

/// The `trust` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trust {
    /// The chains checked.
    pub chains: Vec<String>,
    /// How many roots the human trusted on first use.
    pub first_use_confirmed: usize,
    /// Which archive keys are root keys of the current roots, in words.
    pub held: Vec<String>,
    /// The chains whose current root was trusted as the root the archive's
    /// anchor replaced, on the operator's word (`--last-bundle-not-applied`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_bundle_not_applied: Vec<String>,
}

/// The `tokens` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    /// The PKCS#11 module loaded.
    pub module: String,
    /// sha256 of its file, or why it could not be read.
    pub module_sha256: String,
    /// The keys opened.
    pub keys: Vec<TokenKey>,
}

/// A key opened on a token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenKey {
    /// The token's label.
    pub token: String,
    /// The serial number of the token that signed (not the archive's record).
    pub token_serial: String,
    /// `CK_TOKEN_INFO.manufacturerID` of that token.
    #[serde(default)]
    pub token_manufacturer: String,
    /// `CK_TOKEN_INFO.model` of that token.
    #[serde(default)]
    pub token_model: String,
    /// Whether the archive pins the key to that token's serial (archives
    /// from before pinning do not).
    #[serde(default)]
    pub token_pinned: bool,
    /// `CKA_LABEL` of the key.
    pub key_label: String,
    /// `CKA_ID` of the key, lowercase hex.
    pub key_id: String,
    /// sha256 of the public key.
    pub fingerprint: String,
    /// `CKA_SENSITIVE` of the private key.
    #[serde(default)]
    pub sensitive: Option<bool>,
    /// `CKA_EXTRACTABLE` of the private key.
    #[serde(default)]
    pub extractable: Option<bool>,
    /// Whether the operator accepted a key that can leave its token.
    #[serde(default)]
    pub weak_key_accepted: bool,
    /// What was done to check the key signs.
    pub self_test: String,
}

/// The `key-generated` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyGenerated {
    /// Its id in the new root.
    pub keyid: String,
    /// `ed25519`, `rsa-4096`, …
    #[serde(rename = "type")]
    pub key_type: String,
    /// sha256 of the public key.
    pub fingerprint: String,
    /// Where it was made, when on a token; absent for a key in the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_token: Option<TokenLocation>,
}

/// Where a key on a token is, as the archive's manifest records it (the
/// signer's `TokenRef`, written with the same fields).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenLocation {
    /// The module the key was made with.
    pub module_hint: String,
    /// `CK_TOKEN_INFO.label`.
    pub token_label: String,
    /// `CK_TOKEN_INFO.serialNumber`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_serial: String,
    /// `CK_TOKEN_INFO.manufacturerID`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_manufacturer: String,
    /// `CK_TOKEN_INFO.model`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_model: String,
    /// `CKA_LABEL` of the key objects.
    pub key_label: String,
    /// `CKA_ID` of the key objects, lowercase hex.
    #[serde(default)]
    pub key_id: String,
}

/// The `archive-written` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveWritten {
    /// Where.
    pub path: String,
    /// sha256 of its (encrypted) bytes.
    pub sha256: String,
    /// Whether it was decrypted again and compared before it got its name
    /// (not when it is encrypted to recipients and no identity was given).
    pub re_decrypted_and_compared: bool,
    /// Why it was written at this point.
    pub why: String,
}

/// The `diff` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Diff {
    /// The chain.
    pub chain: String,
    /// The text shown.
    pub text: String,
    /// The guard-rail warnings shown.
    pub warnings: Vec<String>,
}

/// The `confirmation` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    /// The question asked.
    pub question: String,
    /// The answer typed (or `yes` for `--yes`).
    pub typed: String,
}

/// The `anchor` entry: either `entry` and `in`, or no entry and `why`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    /// The hash of the entry the new roots carry; `null` when not anchored.
    pub entry: Option<String>,
    /// The field of the new roots that carries it.
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Why the roots are not anchored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// The `signature` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// The chain whose new root was signed.
    pub chain: String,
    /// Which key signed, as which root's key, in words.
    pub detail: String,
}

/// The `self-check` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfCheck {
    /// The chain.
    pub chain: String,
    /// Whether the new root passes every rule.
    pub ok: bool,
    /// The thresholds, in words.
    pub summary: String,
    /// The rules broken.
    pub failures: Vec<RuleFailure>,
}

/// A broken rule, as [`crate::rules::Failure`] writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFailure {
    /// The rule's id (`old-threshold`, …).
    pub rule: String,
    /// What broke it.
    pub message: String,
}

impl From<&crate::rules::Failure> for RuleFailure {
    fn from(f: &crate::rules::Failure) -> Self {
        RuleFailure {
            rule: f.rule.id().to_string(),
            message: f.message.clone(),
        }
    }
}

/// An `output` entry: the file produced, named by `what`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Output {
    /// A new signed root.
    Root {
        /// Its chain.
        chain: String,
        /// Its version.
        version: u64,
        /// sha256 of the envelope's bytes.
        sha256: String,
        /// sha256 of the canonical `signed` part, which the signatures cover.
        signed_sha256: String,
    },
    /// Production or wave targets re-signed by new offline targets keys
    /// (a Factory's targets key rotation); the signatures go into the bundle.
    TargetsSigned {
        /// `prod` (a production tag) or `wave`.
        kind: String,
        /// The tag or wave name.
        name: String,
        /// sha256 of the canonical `signed` part that was shown and signed.
        signed_sha256: String,
        /// The new offline targets keys that signed it.
        keyids: Vec<String>,
    },
}

/// The `abort` entry: where the ceremony stopped, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Abort {
    /// The step that was running.
    pub step: Step,
    /// The error and its causes, as the operator was shown them.
    pub reason: String,
}

/// The step of `signer sign` (or `sign-wave`) that was running when the
/// ceremony stopped. An error ends the transcript with an abort only once
/// the transcript is on disk; the operator's own abort at a prompt (Ctrl-C,
/// "no", end of input) is always recorded, at any step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Opening the key archive (its passphrase) and checking the
    /// proposal's roots against its trust anchors (a first use is asked).
    Trust,
    /// Opening the PKCS#11 tokens whose keys must sign (their PINs).
    Tokens,
    /// Making the new keys.
    NewKeys,
    /// Building the new roots and showing the diff.
    Review,
    /// Asking "Sign this?".
    Confirmation,
    /// Anchoring and signing the new roots.
    Signing,
    /// The rotation rules on the signed roots.
    SelfCheck,
    /// Writing the archive, the outputs and the signed head.
    Write,
}

impl Step {
    /// The step as the transcript writes it.
    pub fn name(self) -> &'static str {
        match self {
            Step::Trust => "trust",
            Step::Tokens => "tokens",
            Step::NewKeys => "new-keys",
            Step::Review => "review",
            Step::Confirmation => "confirmation",
            Step::Signing => "signing",
            Step::SelfCheck => "self-check",
            Step::Write => "write",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
