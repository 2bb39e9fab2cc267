//! The command lines of `signer review` and `signer sign`.

use std::path::{Path, PathBuf};

use ceremony::keys::NewKeyType;

use crate::commands::{RecipientArgs, UnlockArgs};
use crate::pkcs11::TokenArgs;

#[derive(clap::Args)]
pub(crate) struct ReviewArgs {
    /// The proposal (tuf-ceremony/proposal@1) written by `submitter propose`.
    #[arg(value_name = "proposal.json")]
    pub(crate) proposal: PathBuf,
    /// Type of the keys signing would generate (default: the proposal's, else ed25519).
    #[arg(long = "key-type", value_name = "ed25519|rsa-4096")]
    pub(crate) key_type: Option<NewKeyType>,
}

#[derive(clap::Args)]
pub(crate) struct SignArgs {
    /// The proposal (tuf-ceremony/proposal@1) written by `submitter propose`.
    #[arg(value_name = "proposal.json", required_unless_present = "qr_text")]
    pub(crate) proposal: Option<PathBuf>,
    /// Read the proposal from QR frames as text (one UR per line, from a file or `-` for
    /// standard input, as a barcode scanner types them) instead of from a file.
    #[arg(long, value_name = "FILE|-", conflicts_with = "proposal")]
    pub(crate) qr_text: Option<PathBuf>,
    /// Once the bundle is written, show it as QR codes in the terminal (Ctrl-C stops).
    #[arg(long)]
    pub(crate) qr: bool,
    /// The root keys' archive (it is never changed). Required, except on the
    /// targets keys' holder's machine for a targets change that makes new
    /// targets keys (`--targets-keys` alone): that run signs no root and
    /// writes a partial bundle the root keys' holder completes.
    #[arg(
        long = "keys",
        value_name = "keys.tgz.age",
        required_unless_present = "targets_keys"
    )]
    pub(crate) keys: Option<PathBuf>,
    /// The offline targets keys' own archive (as fioctl's --targets-keys), for
    /// a change of the targets keys that makes new ones: they go into a new
    /// archive beside it (it is never changed), or into this file when it
    /// does not exist yet (the first offline targets key), protected as
    /// --keys is. The roots are signed by the root keys of --keys; without
    /// --keys (root and targets keys on two machines) this archive's own
    /// trust anchors check the proposal, and the bundle is partial.
    #[arg(long = "targets-keys", value_name = "targets.tgz.age")]
    pub(crate) targets_keys: Option<PathBuf>,
    /// Where to write the targets keys' new archive (default:
    /// <name>-<UTC time>.tgz.age beside --targets-keys).
    #[arg(long, value_name = "PATH", requires = "targets_keys")]
    pub(crate) new_targets_archive: Option<PathBuf>,
    /// The bundle to write (must not exist; default: bundle-v<N>.json in this folder, N the
    /// new root's version, or the next free bundle-v<N>-2.json, … when an earlier ceremony's
    /// bundle or transcript has that name).
    #[arg(short = 'o', long = "output", value_name = "bundle.json")]
    pub(crate) given_output: Option<PathBuf>,
    /// The bundle this run writes: `-o`, or the default name the preflight
    /// picks once it has read the proposal. Every later step reads it here.
    #[arg(skip)]
    pub(crate) output: PathBuf,
    /// Where to write the new archive (default: keys-<UTC time>.tgz.age beside the old).
    #[arg(long, value_name = "PATH")]
    pub(crate) new_archive: Option<PathBuf>,
    /// Accept without asking: the first-use trust question and the typed confirmation.
    /// While the archive anchors other targets, first use of a new target is refused
    /// with --yes unless --trust-new-target is given too.
    #[arg(long)]
    pub(crate) yes: bool,
    /// With --yes: trust a target this archive has no anchor for while it anchors
    /// others (the question otherwise wants "new target" typed). Compare the root's
    /// fingerprints with your records first. Without --yes the question is still asked.
    #[arg(long)]
    pub(crate) trust_new_target: bool,
    /// The proposal's current root is the one this archive's trust anchor replaced,
    /// because the last bundle this archive signed was never applied: say so to sign
    /// from it again (refused otherwise; the signer cannot tell an unapplied bundle
    /// from a rollback). The transcript records that you said it.
    #[arg(long)]
    pub(crate) last_bundle_not_applied: bool,
    /// Sign despite guard-rail warnings (threshold = number of keys, expiry too near or far, ...).
    #[arg(long)]
    pub(crate) force: bool,
    /// Type of the keys to generate (default: the proposal's, else ed25519).
    #[arg(long = "key-type", value_name = "ed25519|rsa-4096")]
    pub(crate) key_type: Option<NewKeyType>,
    /// Folder holding the roots between this archive's trust anchor and the
    /// proposal's current root (N.root.json, or <chain>/N.root.json).
    #[arg(long, value_name = "DIR")]
    pub(crate) roots_dir: Option<PathBuf>,
    /// Where to write the ceremony transcript (must not exist; default: the
    /// bundle's name with `.transcript.jsonl`, or the next free -2, … when an
    /// aborted ceremony left one of that name).
    #[arg(long, value_name = "PATH")]
    pub(crate) transcript: Option<PathBuf>,
    /// Who runs the ceremony, for the transcript.
    #[arg(long, value_name = "NAME")]
    pub(crate) operator: Option<String>,
    /// A witness present, for the transcript (repeat for each).
    #[arg(long = "witness", value_name = "NAME")]
    pub(crate) witnesses: Vec<String>,
    /// Root keys on PKCS#11 tokens: --pkcs11-module (needed when the archive
    /// records token keys that must sign) and --pin-file; with --token (and
    /// --key-label) the new keys are generated on that token instead of in the
    /// archive.
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) unlock: UnlockArgs,
    #[command(flatten)]
    pub(crate) recipients: RecipientArgs,
}

impl SignArgs {
    /// The archive this run opens, checks the proposal's trust with and
    /// anchors the new roots in: `--keys`; on the targets keys' holder's
    /// machine (no `--keys`), `--targets-keys`.
    pub(crate) fn archive(&self) -> &Path {
        self.keys
            .as_deref()
            .or(self.targets_keys.as_deref())
            .unwrap_or(Path::new(""))
    }

    /// No root keys' archive: the targets keys' holder's half of a targets
    /// change split over two offline machines.
    pub(crate) fn targets_only(&self) -> bool {
        self.keys.is_none()
    }
}
