//! `signer review` and `signer sign`: from an untrusted proposal to signed
//! new roots.
//!
//! The proposal comes from a networked machine. Nothing in it is signed as
//! handed over: its current roots are verified (on their own, and against
//! the trust anchor the archive keeps), the new roots are built here by
//! [`ceremony::rotation::plan`], the human sees the full diff, and the
//! result must pass the rotation rules before a bundle is written.

use ceremony_cli::{eprintln, print, println};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use time::OffsetDateTime;

use ceremony::bundle::{Bundle, NewKey, SignedRoot, BUNDLE_FORMAT};
use ceremony::diff::{key_description, RootDiff};
use ceremony::keys::{NewKeyType, PrivateKey, PublicKey, Signer};
use ceremony::proposal::{Chain, Proposal, Rotate};
use ceremony::rotation::{self, ChainPlan};
use ceremony::rules::{check_step, short, Rule, ThresholdOf, Verdict};
use ceremony::transcript::{self, TranscriptWriter};
use ceremony::{Dialect, RootMetadata};

use crate::archive::{self, Replace};
use crate::commands::{self, RecipientArgs, UnlockArgs};
use crate::keystore::KeyArchive;
use crate::pkcs11::{self, TokenArgs, TokenSet, Wanted};
use crate::secrets;
use crate::{UsageError, VerificationFailed};

#[derive(clap::Args)]
pub struct ReviewArgs {
    /// The proposal (tuf-ceremony/proposal@1) written by `submitter propose`.
    #[arg(value_name = "proposal.json")]
    pub proposal: PathBuf,
    /// Type of the keys signing would generate (default: the proposal's, else ed25519).
    #[arg(long = "key-type", value_name = "ed25519|rsa-4096")]
    pub key_type: Option<NewKeyType>,
}

#[derive(clap::Args)]
pub struct SignArgs {
    /// The proposal (tuf-ceremony/proposal@1) written by `submitter propose`.
    #[arg(value_name = "proposal.json", required_unless_present = "qr_text")]
    pub proposal: Option<PathBuf>,
    /// Read the proposal from QR frames as text (one UR per line, from a file or `-` for
    /// standard input, as a barcode scanner types them) instead of from a file.
    #[arg(long, value_name = "FILE|-", conflicts_with = "proposal")]
    pub qr_text: Option<PathBuf>,
    /// Once the bundle is written, show it as QR codes in the terminal (Ctrl-C stops).
    #[arg(long)]
    pub qr: bool,
    /// The key archive (it is never changed).
    #[arg(long = "keys", value_name = "keys.tgz.age")]
    pub keys: PathBuf,
    /// The bundle to write (must not exist).
    #[arg(short = 'o', long = "output", value_name = "bundle.json")]
    pub output: PathBuf,
    /// Where to write the new archive (default: keys-<UTC time>.tgz.age beside the old).
    #[arg(long, value_name = "PATH")]
    pub new_archive: Option<PathBuf>,
    /// Accept without asking: the first-use trust question and the typed confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Sign despite guard-rail warnings (threshold = number of keys, expiry too near or far, ...).
    #[arg(long)]
    pub force: bool,
    /// Type of the keys to generate (default: the proposal's, else ed25519).
    #[arg(long = "key-type", value_name = "ed25519|rsa-4096")]
    pub key_type: Option<NewKeyType>,
    /// Folder holding the roots between this archive's trust anchor and the
    /// proposal's current root (N.root.json, or <chain>/N.root.json).
    #[arg(long, value_name = "DIR")]
    pub roots_dir: Option<PathBuf>,
    /// Where to write the ceremony transcript (default: the bundle's name
    /// with `.transcript.jsonl`; must not exist).
    #[arg(long, value_name = "PATH")]
    pub transcript: Option<PathBuf>,
    /// Who runs the ceremony, for the transcript.
    #[arg(long, value_name = "NAME")]
    pub operator: Option<String>,
    /// A witness present, for the transcript (repeat for each).
    #[arg(long = "witness", value_name = "NAME")]
    pub witnesses: Vec<String>,
    /// Refuse to run while any network interface other than loopback is up
    /// (by default the signer warns and records it in the transcript).
    #[arg(long)]
    pub require_offline: bool,
    /// Root keys on PKCS#11 tokens: --pkcs11-module (needed when the archive
    /// records token keys that must sign) and --pin-file; with --token (and
    /// --key-label) the new keys are generated on that token instead of in the
    /// archive.
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub unlock: UnlockArgs,
    #[command(flatten)]
    pub recipients: RecipientArgs,
}

fn refused(msg: impl Into<String>) -> anyhow::Error {
    VerificationFailed(msg.into()).into()
}

/// The largest proposal read.
const MAX_PROPOSAL: u64 = ceremony::crossing::MAX_CROSSING_FILE as u64;

fn load_proposal(path: &Path) -> Result<(Proposal, String)> {
    let bytes = archive::read_file_bounded(path, MAX_PROPOSAL)
        .with_context(|| format!("cannot read the proposal {}", path.display()))?;
    parse_proposal(&bytes, &path.display().to_string())
}

fn parse_proposal(bytes: &[u8], from: &str) -> Result<(Proposal, String)> {
    let proposal =
        Proposal::from_slice(bytes).with_context(|| format!("{from} is not a usable proposal"))?;
    Ok((proposal, ceremony::sha256::hex(bytes)))
}

/// The type of the keys to generate: `--key-type`, else the proposal's,
/// else Ed25519; a contradiction between the two is refused.
fn new_key_type(proposal: &Proposal, cli: Option<NewKeyType>) -> Result<NewKeyType> {
    let asked = proposal
        .change
        .key_type
        .as_deref()
        .map(|s| {
            s.parse::<NewKeyType>()
                .map_err(|e| anyhow!("the proposal's change.key_type: {e}"))
        })
        .transpose()?;
    match (asked, cli) {
        (Some(a), Some(c)) if a != c => Err(UsageError(format!(
            "the proposal asks for {a} keys, but --key-type says {c}; drop --key-type or make a new proposal"
        ))
        .into()),
        (a, c) => Ok(c.or(a).unwrap_or_default()),
    }
}

/// The keys other holders made (`signer keygen`), from the proposal.
fn provided_keys(proposal: &Proposal) -> Result<Vec<PublicKey>> {
    proposal
        .change
        .provided_keys
        .iter()
        .enumerate()
        .map(|(i, p)| {
            PublicKey::from_key_object(&p.key, proposal.dialect)
                .map_err(|e| anyhow!("change.provided_keys[{i}] is not a usable key: {e}"))
        })
        .collect()
}

/// The most new root keys one ceremony makes.
const MAX_NEW_KEYS: usize = 32;

/// How many keys signing generates here.
fn keys_to_generate(proposal: &Proposal, provided: usize) -> Result<usize> {
    let needed = rotation::keys_needed(proposal)?;
    if needed > MAX_NEW_KEYS {
        bail!(
            "the proposal asks for {needed} new root keys; more than {MAX_NEW_KEYS} is not a \
             plausible root (make a new proposal)"
        );
    }
    if provided > needed {
        bail!(
            "the proposal provides {provided} key(s), but its change needs only {needed} new key(s); \
             make a new proposal"
        );
    }
    Ok(needed - provided)
}

/// A placeholder for a key not made yet, and how to show it.
struct Placeholder {
    keyid: String,
    fingerprint: String,
    label: String,
}

fn describe_change(p: &Proposal, key_type: NewKeyType) -> String {
    let c = &p.change;
    let mut parts = Vec::new();
    match &c.rotate {
        Some(Rotate::All) => parts.push("rotate every root key".to_string()),
        Some(Rotate::Keys(ids)) => parts.push(format!(
            "rotate root key(s) {}",
            ids.iter().map(|i| short(i)).collect::<Vec<_>>().join(", ")
        )),
        None => {}
    }
    if c.add_keys > 0 {
        parts.push(format!("add {} root key(s)", c.add_keys));
    }
    if !c.remove_keys.is_empty() {
        parts.push(format!(
            "remove root key(s) {}",
            c.remove_keys
                .iter()
                .map(|i| short(i))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(t) = c.threshold {
        parts.push(format!("root threshold {t}"));
    }
    parts.push(format!("expires {}", c.expires));
    parts.push(format!("new keys {key_type}"));
    let mut out = parts.join("; ");
    if let Some(m) = &c.message {
        out.push_str(&format!("\n  message: {m:?}"));
    }
    out
}

fn print_header(p: &Proposal, sha: &str, key_type: NewKeyType) {
    println!("Proposal sha256 {sha}");
    println!("  target:  {} ({} dialect)", p.target, p.dialect);
    if let Some(tx) = &p.txid {
        println!("  txid:    {tx}");
    }
    println!("  created: {}", p.created);
    println!("  change:  {}", describe_change(p, key_type));
    for (i, k) in p.change.provided_keys.iter().enumerate() {
        let fp = PublicKey::from_key_object(&k.key, p.dialect)
            .map(|k| format!("{}, fingerprint {}", key_description(&k), k.fingerprint()))
            .unwrap_or_else(|e| format!("unusable: {e}"));
        println!(
            "  provided key {}: {fp}{}",
            i + 1,
            k.holder
                .as_deref()
                .map(|h| format!(" (holder {h})"))
                .unwrap_or_default()
        );
    }
}

fn key_line(root: &RootMetadata, id: &str, labels: &[Placeholder]) -> String {
    if let Some(p) = labels.iter().find(|p| p.keyid == id) {
        return format!("{}  (generated when signing)", p.label);
    }
    match root.key(id) {
        // ota-tuf ids are the fingerprint; say it once.
        Ok(k) if k.fingerprint() == id => format!("{id}  {}", key_description(&k)),
        Ok(k) => format!(
            "{id}  {}  fingerprint {}",
            key_description(&k),
            k.fingerprint()
        ),
        Err(e) => format!("{id}  unreadable: {e}"),
    }
}

fn apply_labels(text: &str, labels: &[Placeholder], key_type: NewKeyType) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut line = line.to_string();
        for p in labels {
            if line.trim_start().starts_with("+ key ") && line.contains(short(&p.keyid)) {
                line = format!("  + key {}  {key_type}  (generated when signing)", p.label);
            }
            line = line
                .replace(&p.keyid, &p.label)
                .replace(short(&p.keyid), &p.label)
                .replace(&p.fingerprint, "(made when signing)");
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Prints one chain's plan: the diff, thresholds, expiry, who must sign.
fn render_plan(
    plan: &ChainPlan,
    labels: &[Placeholder],
    key_type: NewKeyType,
    warnings: &[String],
) -> String {
    let mut out = String::new();
    let v = |r: &RootMetadata| r.version().map_or("?".into(), |v| v.to_string());
    out.push_str(&format!(
        "== chain {}: v{} -> v{} ==\n",
        plan.name,
        v(&plan.current),
        v(&plan.new)
    ));
    let diff = RootDiff::between(&plan.current, &plan.new).to_string();
    out.push_str(&apply_labels(&diff, labels, key_type));
    for (title, root) in [("current", &plan.current), ("new", &plan.new)] {
        match root.role("root") {
            Ok(role) => {
                out.push_str(&format!(
                    "  must sign: {} of the {} root keys of the {title} root v{}:\n",
                    role.threshold,
                    role.keyids.len(),
                    v(root)
                ));
                for id in &role.keyids {
                    out.push_str(&format!("      {}\n", key_line(root, id, labels)));
                }
            }
            Err(e) => out.push_str(&format!("  {title} root: {e}\n")),
        }
    }
    out.push_str(&format!(
        "  new root expires {}\n",
        plan.new.expires_str().unwrap_or("(none)")
    ));
    if warnings.is_empty() {
        out.push_str("  guard rails: no warning\n");
    } else {
        for w in warnings {
            out.push_str(&format!("  WARNING: {w}\n"));
        }
    }
    out
}

/// The checks on the proposal that need no keys: every current root meets
/// its own threshold, and a staged root is exactly one version on.
fn check_proposal_roots(proposal: &Proposal) -> Result<()> {
    for chain in &proposal.chains {
        let current = proposal.current_root(chain)?;
        let verdict = check_step(None, &current, None);
        if !verdict.ok() {
            return Err(refused(format!(
                "{}: the proposal's current root (v{}) does not verify on its own: {}. \
                 It is not a root this tool can trust; ask for a fresh proposal",
                chain.name,
                current.version().map_or("?".into(), |v| v.to_string()),
                failures(&verdict)
            )));
        }
        if let Some(staged) = proposal.staged_root(chain)? {
            let (c, s) = (current.version()?, staged.version()?);
            if s != c + 1 {
                return Err(refused(format!(
                    "{}: the proposal's staged root is version {s}, but the current root is version {c}: \
                     a new root must be exactly version {} (devices refuse a jump). Refusing to sign; \
                     cancel the server's transaction and propose again",
                    chain.name,
                    c + 1
                )));
            }
        }
    }
    Ok(())
}

fn failures(v: &Verdict) -> String {
    v.failures
        .iter()
        .map(|f| format!("[{}] {}", f.rule, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Builds the plans with placeholder keys for those not made yet.
fn placeholder_plans(
    proposal: &Proposal,
    provided: &[PublicKey],
    to_generate: usize,
    now: OffsetDateTime,
) -> Result<(Vec<ChainPlan>, Vec<Placeholder>)> {
    let mut keys = provided.to_vec();
    let mut labels = Vec::new();
    for i in 0..to_generate {
        // Throw-away Ed25519 keys, so that the root can be built and shown;
        // they are labelled <new key N> and never used for anything else.
        let k = PrivateKey::generate(NewKeyType::Ed25519)
            .context("cannot make a placeholder key")?
            .public_key();
        labels.push(Placeholder {
            keyid: k.key_id(proposal.dialect),
            fingerprint: k.fingerprint(),
            label: format!("<new key {}>", i + 1),
        });
        keys.push(k);
    }
    let plans =
        rotation::plan(proposal, &keys, now).context("the proposal's change cannot be made")?;
    Ok((plans, labels))
}

pub fn review(args: ReviewArgs) -> Result<ExitCode> {
    let (proposal, sha) = load_proposal(&args.proposal)?;
    let key_type = new_key_type(&proposal, args.key_type)?;
    let now = OffsetDateTime::now_utc();
    print_header(&proposal, &sha, key_type);
    let provided = provided_keys(&proposal)?;
    let to_generate = keys_to_generate(&proposal, provided.len())?;
    let verified = check_proposal_roots(&proposal);
    let (plans, labels) = match placeholder_plans(&proposal, &provided, to_generate, now) {
        Ok(p) => p,
        // A proposal that fails verification is a verification failure (exit
        // 3) even when that failure also keeps the plan from being built.
        Err(e) => return Err(verified.err().unwrap_or(e)),
    };
    if to_generate > 0 {
        println!(
            "  new keys: {to_generate} to generate when signing ({key_type}), shown as <new key N>"
        );
    }
    for plan in &plans {
        println!();
        let warnings = rotation::guard_rails(plan, now);
        print!("{}", render_plan(plan, &labels, key_type, &warnings));
        if let Some(chain) = proposal.chain(&plan.name) {
            print_history(chain);
        }
    }
    println!();
    match verified {
        Ok(()) => {
            println!(
                "The current root(s) verify on their own. `signer sign` will also check them against \
                 the trust anchor in your archive."
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e),
    }
}

fn print_history(chain: &Chain) {
    if chain.history.is_empty() {
        println!("  history: none listed by the submitter");
    } else {
        let first = chain.history.first().map_or(0, |h| h.version);
        let last = chain.history.last().map_or(0, |h| h.version);
        println!(
            "  history: the submitter verified v{first}..v{last} ({} root(s)); last sha256 {}",
            chain.history.len(),
            chain.history.last().map_or("", |h| h.sha256.as_str())
        );
    }
}

fn same_signed(a: &RootMetadata, b: &RootMetadata) -> bool {
    match (a.canonical_signed(), b.canonical_signed()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn root_key_ids_of(root: &RootMetadata, key: &PublicKey) -> Option<String> {
    let role = root.role("root").ok()?;
    role.keyids
        .into_iter()
        .find(|id| root.key(id).is_ok_and(|k| &k == key))
}

fn fingerprints_of(root: &RootMetadata) -> String {
    let mut out = String::new();
    if let Ok(role) = root.role("root") {
        out.push_str(&format!(
            "  root role: threshold {} of {} key(s):\n",
            role.threshold,
            role.keyids.len()
        ));
        for id in &role.keyids {
            out.push_str(&format!("    {}\n", key_line(root, id, &[])));
        }
    }
    out
}

/// Reads an intermediate root for `chain` from `dir`.
fn intermediate(
    dir: &Path,
    chain: &Chain,
    version: u64,
    dialect: Dialect,
) -> Result<Option<(RootMetadata, String)>> {
    for path in [
        dir.join(&chain.name).join(format!("{version}.root.json")),
        dir.join(format!("{version}.root.json")),
    ] {
        if path.exists() {
            let bytes = archive::read_file_bounded(&path, dialect.max_root_size() as u64)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let root = RootMetadata::from_slice(&bytes, Some(dialect))
                .with_context(|| format!("{} is not a usable root", path.display()))?;
            return Ok(Some((root, ceremony::sha256::hex(&bytes))));
        }
    }
    Ok(None)
}

/// Checks that `chain`'s current root is one this archive may trust: the
/// anchor itself, the root the anchor replaced (a bundle never applied), or
/// a root that chains from the anchor through roots it can check. On first
/// use, the human compares fingerprints.
fn check_against_anchor(
    proposal: &Proposal,
    chain: &Chain,
    ka: &KeyArchive,
    roots_dir: Option<&Path>,
    yes: bool,
    confirmed: &mut Vec<Vec<u8>>,
) -> Result<()> {
    let dialect = proposal.dialect;
    let current = proposal.current_root(chain)?;
    let cv = current.version()?;
    if let Some(a) = ka.manifest.anchors.iter().find(|a| a.chain == chain.name) {
        if a.dialect != dialect {
            return Err(refused(format!(
                "{}: this archive's trust anchor is a {} root, but the proposal is {dialect}; \
                 is this the right archive?",
                chain.name, a.dialect
            )));
        }
    }
    let Some(anchor) = ka.anchor(&chain.name, dialect)? else {
        let canonical = current.canonical_signed().unwrap_or_default();
        if confirmed.contains(&canonical) {
            println!(
                "chain {}: its current root is the same v{cv} root you just confirmed.",
                chain.name
            );
            return Ok(());
        }
        println!(
            "\nFirst use for chain {:?}: this archive has no trust anchor yet. The proposal's current \
             root v{cv} lists:\n{}Compare these fingerprints with your records (a printout, another \
             holder) before you go on.",
            chain.name,
            fingerprints_of(&current)
        );
        secrets::confirm(
            &format!(
                "Trust this v{cv} root of chain {:?}? Type \"yes\":",
                chain.name
            ),
            &["yes"],
            yes,
        )?;
        confirmed.push(canonical);
        return Ok(());
    };
    let av = anchor.version()?;
    if cv == av {
        if same_signed(&anchor, &current) {
            println!(
                "chain {}: the current root v{cv} is the one this archive signed last (its trust anchor).",
                chain.name
            );
            return Ok(());
        }
        return Err(refused(format!(
            "{}: the proposal's current root v{cv} differs from the v{av} root this archive signed \
             (its trust anchor): the repository holds a root you did not sign. Refusing; find out \
             who changed it before any signing",
            chain.name
        )));
    }
    if cv < av {
        if cv + 1 == av {
            if let Some(prev) = ka.anchor_previous(&chain.name, dialect)? {
                if same_signed(&prev, &current) {
                    println!(
                        "chain {}: this archive last signed v{av}, but the current root is still v{cv} \
                         (that bundle was never applied); v{cv} is the root it replaced, verified then.",
                        chain.name
                    );
                    return Ok(());
                }
            }
        }
        return Err(refused(format!(
            "{}: the proposal's current root is v{cv}, older than v{av}, the root this archive last \
             signed: a rollback or a stale proposal. Refusing; make a fresh proposal",
            chain.name
        )));
    }
    // cv > av: walk anchor -> ... -> current.
    let mut previous = anchor;
    for v in av + 1..cv {
        let Some(dir) = roots_dir else {
            return Err(refused(format!(
                "{}: this archive trusts v{av} (the root it signed last), the proposal's current root \
                 is v{cv}; to check that it chains from v{av}, the roots v{}..v{} in between are \
                 needed: pass --roots-dir DIR holding them as N.root.json (the submitter can \
                 download them)",
                chain.name,
                av + 1,
                cv - 1
            )));
        };
        let Some((root, sha)) = intermediate(dir, chain, v, dialect)? else {
            return Err(refused(format!(
                "{}: {v}.root.json is missing from {}; the chain from the trusted v{av} to v{cv} \
                 cannot be checked without it",
                chain.name,
                dir.display()
            )));
        };
        if let Some(h) = chain.history.iter().find(|h| h.version == v) {
            if !h.sha256.eq_ignore_ascii_case(&sha) {
                return Err(refused(format!(
                    "{}: {v}.root.json (sha256 {sha}) is not the v{v} the submitter verified \
                     (sha256 {})",
                    chain.name, h.sha256
                )));
            }
        }
        let verdict = check_step(Some(&previous), &root, None);
        if !verdict.ok() {
            return Err(refused(format!(
                "{}: v{v} does not follow from v{}: {}",
                chain.name,
                v - 1,
                failures(&verdict)
            )));
        }
        previous = root;
    }
    let verdict = check_step(Some(&previous), &current, None);
    if !verdict.ok() {
        return Err(refused(format!(
            "{}: the proposal's current root v{cv} does not follow from the trusted v{}: {}. Refusing",
            chain.name,
            cv - 1,
            failures(&verdict)
        )));
    }
    println!(
        "chain {}: the current root v{cv} chains from this archive's trust anchor v{av}.",
        chain.name
    );
    Ok(())
}

/// Refuses an archive none of whose keys is a root key of any current root
/// (or one of the provided new keys): the wrong archive, or a root someone
/// else controls.
fn check_holds_a_key(
    proposal: &Proposal,
    ka: &KeyArchive,
    provided: &[PublicKey],
) -> Result<Vec<String>> {
    let mut relevant = Vec::new();
    let all = ka
        .keys
        .iter()
        .map(|k| (k.entry.clone(), &k.public))
        .chain(ka.token_keys.iter().map(|k| (k.name(), &k.public)));
    for (name, public) in all {
        for chain in &proposal.chains {
            let current = proposal.current_root(chain)?;
            if let Some(id) = root_key_ids_of(&current, public) {
                relevant.push(format!(
                    "{}: {} is root key {} of the current root",
                    chain.name,
                    name,
                    short(&id)
                ));
            }
        }
        if provided.contains(public) {
            relevant.push(format!("{name} is one of the provided new keys"));
        }
    }
    if relevant.is_empty() {
        let chain = &proposal.chains[0];
        let current = proposal.current_root(chain)?;
        return Err(refused(format!(
            "none of the {} key(s) in this archive is a root key of the proposal's current root \
             (nor a provided new key): this archive did not sign that root. Is it the right archive \
             for {}?\n{}",
            ka.keys.len() + ka.token_keys.len(),
            proposal.target,
            fingerprints_of(&current)
        )));
    }
    Ok(relevant)
}

/// A key this holder can sign with: in the archive, or on a token (opened).
struct Usable<'a> {
    /// The archive entry, or `key "L" on token "T"`.
    name: String,
    public: &'a PublicKey,
    signer: &'a dyn Signer,
    on_token: bool,
}

/// The archive's keys, and its token keys that were opened.
fn usable<'a>(ka: &'a KeyArchive, tokens: Option<&'a TokenSet>) -> Vec<Usable<'a>> {
    let mut out: Vec<Usable<'a>> = ka
        .keys
        .iter()
        .map(|k| Usable {
            name: k.entry.clone(),
            public: &k.public,
            signer: &k.private,
            on_token: false,
        })
        .collect();
    if let Some(set) = tokens {
        for k in &ka.token_keys {
            if let Some(tk) = set.key(&k.info.token) {
                out.push(Usable {
                    name: k.name(),
                    public: &k.public,
                    signer: tk,
                    on_token: true,
                });
            }
        }
    }
    out
}

/// The token keys the archive records that must sign: root keys of a
/// current root, or provided new keys.
fn token_keys_needed<'a>(
    proposal: &Proposal,
    ka: &'a KeyArchive,
    provided: &[PublicKey],
) -> Result<Vec<Wanted<'a>>> {
    let mut out = Vec::new();
    for k in &ka.token_keys {
        let mut needed = provided.contains(&k.public);
        for chain in &proposal.chains {
            let current = proposal.current_root(chain)?;
            needed |= root_key_ids_of(&current, &k.public).is_some();
        }
        if needed {
            out.push(Wanted {
                reference: &k.info.token,
                public: &k.public,
            });
        }
    }
    Ok(out)
}

/// Opens the token keys that must sign (each is found, checked against the
/// recorded public key and test-signed), and the module for new keys made
/// on a token; before anything is generated or written.
fn open_tokens(
    args: &TokenArgs,
    wanted: &[Wanted<'_>],
    to_generate: usize,
) -> Result<Option<TokenSet>> {
    let generate_there = args.token.is_some() && to_generate > 0;
    if args.token.is_some() && to_generate == 0 {
        eprintln!("note: this ceremony generates no key; --token is not used");
    }
    if args.key_label.is_some() && !generate_there {
        eprintln!("note: --key-label names keys made on a token (with --token); it is not used");
    }
    let Some(module) = &args.module else {
        if wanted.is_empty() {
            return Ok(None);
        }
        let list = wanted
            .iter()
            .map(|w| {
                format!(
                    "{} ({}, fingerprint {}; module when recorded: {})",
                    w.reference.describe(),
                    key_description(w.public),
                    w.public.fingerprint(),
                    w.reference.module_hint
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(UsageError(format!(
            "this ceremony needs root key(s) on a PKCS#11 token: {list}. Pass --pkcs11-module PATH \
             (the token's PKCS#11 library) and insert the token; --pin-file FILE gives the PIN \
             without asking. Nothing was signed or written"
        ))
        .into());
    };
    if wanted.is_empty() && !generate_there {
        eprintln!("note: no key on a token signs in this ceremony; --pkcs11-module is not used");
        return Ok(None);
    }
    let module = pkcs11::Module::load(module)?;
    Ok(Some(TokenSet::open(
        module,
        args.pin_file.as_deref(),
        wanted,
    )?))
}

/// Signs `plan.new` with every held key that is a root key of the current
/// or of the new root; returns a line per signature. Every signature is
/// verified in software before it goes in (`RootMetadata::sign_with`).
fn sign_plan(plan: &mut ChainPlan, held: &[Usable<'_>]) -> Result<Vec<String>> {
    let mut made = Vec::new();
    for k in held {
        let old_id = root_key_ids_of(&plan.current, k.public);
        let new_id = root_key_ids_of(&plan.new, k.public);
        let mut ids = Vec::new();
        if let Some(id) = old_id {
            ids.push((id, "current"));
        }
        if let Some(id) = new_id {
            if !ids.iter().any(|(i, _)| i == &id) {
                ids.push((id, "new"));
            }
        }
        for (id, which) in ids {
            plan.new
                .sign_with(&id, k.signer)
                .with_context(|| format!("signing with {} failed", k.name))?;
            made.push(format!(
                "{}: signed as {} key {} ({}, fingerprint {}){}",
                plan.name,
                which,
                short(&id),
                key_description(k.public),
                k.public.fingerprint(),
                if k.on_token {
                    format!(", on the token: {}", k.name)
                } else {
                    String::new()
                }
            ));
        }
    }
    Ok(made)
}

fn thresholds_summary(v: &Verdict) -> String {
    let mut parts: Vec<String> = v
        .thresholds
        .iter()
        .map(|t| {
            format!(
                "{} signature(s) of the {} needed from the {} root v{}'s keys{}",
                t.signed.len(),
                t.threshold,
                match t.of {
                    ThresholdOf::Previous => "current",
                    ThresholdOf::Own => "new",
                },
                t.root_version.unwrap_or(0),
                if t.met() { "" } else { " (NOT MET)" }
            )
        })
        .collect();
    parts.push(if v.ok() {
        "passes the rotation rules".into()
    } else {
        format!("{} rule(s) broken", v.failures.len())
    });
    parts.join("; ")
}

/// For a root whose only failures are thresholds others must complete:
/// which signatures are missing, in words.
fn missing_signatures(name: &str, verdict: &Verdict) -> Vec<String> {
    verdict
        .thresholds
        .iter()
        .filter(|t| !t.met())
        .map(|t| {
            let whose = match t.of {
                ThresholdOf::Previous => format!(
                    "the root keys of the current root v{}",
                    t.root_version.unwrap_or(0)
                ),
                ThresholdOf::Own => format!(
                    "the root keys of the new root v{}",
                    t.root_version.unwrap_or(0)
                ),
            };
            let need = t.threshold.saturating_sub(t.signed.len() as u64);
            let who = t
                .missing
                .iter()
                .map(|k| {
                    format!(
                        "key id {} ({}, fingerprint {})",
                        k.keyid, k.key_type, k.fingerprint
                    )
                })
                .collect::<Vec<_>>()
                .join(", or ");
            format!(
                "{name}: {need} more signature(s) needed from {whose} (threshold {}, {} signed); not yet signed by: {who}",
                t.threshold,
                t.signed.len()
            )
        })
        .collect()
}

pub fn sign(args: SignArgs) -> Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    let proposal_source = match (&args.proposal, &args.qr_text) {
        (_, Some(src)) => format!("QR frames from {}", src.display()),
        (Some(p), None) => p.display().to_string(),
        (None, None) => String::new(),
    };
    let now_s = commands::now_text(now);
    let new_path = args
        .new_archive
        .clone()
        .unwrap_or_else(|| commands::default_successor(&args.keys, now));
    archive::refuse_existing(&new_path)?;
    archive::refuse_existing(&args.output)?;
    if new_path == args.output {
        return Err(UsageError("-o and --new-archive name the same file".into()).into());
    }
    let transcript_path = args
        .transcript
        .clone()
        .unwrap_or_else(|| default_transcript_path(&args.output));
    archive::refuse_existing(&transcript_path)?;
    if transcript_path == args.output || transcript_path == new_path {
        return Err(
            UsageError("--transcript names the same file as -o or --new-archive".into()).into(),
        );
    }

    // The transcript lives in memory until the first durable write (the new
    // archive): a ceremony refused before it changed anything leaves no file.
    let mut t = TranscriptWriter::deferred(&transcript_path);
    let machine = transcript::machine_state();
    t.append(
        "start",
        json!({
            "software": transcript::software_identity("signer", env!("CARGO_PKG_VERSION")),
            "machine": machine,
            "operator": args.operator,
            "witnesses": args.witnesses,
            "command": {
                "proposal": proposal_source,
                "keys": args.keys.display().to_string(),
                "bundle": args.output.display().to_string(),
                "new_archive": new_path.display().to_string(),
                "yes": args.yes,
                "force": args.force,
            },
        }),
    )?;
    if machine["non_loopback_interface_up"] == Value::Bool(true) {
        let up: Vec<String> = machine["interfaces"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i["name"] != "lo" && (i["state"] == "up" || i["state"] == "unknown"))
            .filter_map(|i| i["name"].as_str().map(str::to_owned))
            .collect();
        if args.require_offline {
            return Err(refused(format!(
                "network interface(s) {} are up and --require-offline was given: disconnect the \
                 network (or boot the offline OS) and run again. Nothing was signed or written",
                up.join(", ")
            )));
        }
        eprintln!(
            "warning: network interface(s) {} are up; a root-key ceremony belongs on a machine with \
             no network. This is recorded in the transcript (--require-offline refuses instead).",
            up.join(", ")
        );
    }

    // The proposal, and everything that can be checked without keys.
    let (proposal, proposal_sha) = match (&args.proposal, &args.qr_text) {
        (_, Some(src)) => {
            let bytes = crate::qr_cmd::read_text(src)?.bytes;
            parse_proposal(&bytes, &proposal_source)?
        }
        (Some(path), None) => load_proposal(path)?,
        (None, None) => {
            return Err(UsageError("give the proposal file, or --qr-text".into()).into())
        }
    };
    t.append(
        "input",
        json!({
            "what": "proposal",
            "path": proposal_source,
            "sha256": proposal_sha,
            "target": proposal.target.to_string(),
            "dialect": proposal.dialect,
            "txid": proposal.txid,
        }),
    )?;
    let key_type = new_key_type(&proposal, args.key_type)?;
    let provided = provided_keys(&proposal)?;
    let to_generate = keys_to_generate(&proposal, provided.len())?;
    check_proposal_roots(&proposal)?;
    let (dry_plans, _) = placeholder_plans(&proposal, &provided, to_generate, now)?;
    let warnings: Vec<String> = dry_plans
        .iter()
        .flat_map(|p| rotation::guard_rails(p, now))
        .collect();
    if !warnings.is_empty() && !args.force {
        bail!(
            "guard rails: {}\nNothing was signed or written. Run `signer review` to see the whole \
             change; if it is what you want, sign again with --force",
            warnings.join("; ")
        );
    }

    // The archive, and the proposal against what the archive trusts.
    let mut opened = commands::open_archive(&args.keys, &args.unlock)?;
    t.append(
        "input",
        json!({
            "what": "archive",
            "path": args.keys.display().to_string(),
            "sha256": file_sha256(&args.keys)?,
            "keys_held": opened.archive.keys.len(),
            "token_keys_recorded": opened.archive.token_keys.len(),
        }),
    )?;
    commands::successor_protection(&mut opened, &args.recipients)?;
    for w in &opened.archive.warnings {
        eprintln!("warning: {w}");
    }
    print_header(&proposal, &proposal_sha, key_type);
    let mut confirmed = Vec::new();
    for chain in &proposal.chains {
        check_against_anchor(
            &proposal,
            chain,
            &opened.archive,
            args.roots_dir.as_deref(),
            args.yes,
            &mut confirmed,
        )?;
    }
    let holds = check_holds_a_key(&proposal, &opened.archive, &provided)?;
    for line in &holds {
        println!("  {line}");
    }
    t.append(
        "trust",
        json!({
            "chains": proposal.chains.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            "first_use_confirmed": confirmed.len(),
            "held": holds,
        }),
    )?;

    // Token keys that must sign: opened and test-signed now, before anything
    // is generated or written.
    let mut tokens = {
        let wanted = token_keys_needed(&proposal, &opened.archive, &provided)?;
        open_tokens(&args.token, &wanted, to_generate)?
    };
    if let Some(set) = &tokens {
        for k in &set.keys {
            println!(
                "  {} opened: it holds the recorded key and its test signature verifies",
                k.reference().describe()
            );
        }
        t.append("tokens", set.transcript())?;
    }

    // New keys: made, then saved at once in a complete new archive.
    let mut new_keys: Vec<PublicKey> = provided.clone();
    if to_generate > 0 {
        if key_type == NewKeyType::Rsa4096 {
            eprintln!("Generating {to_generate} RSA-4096 key(s) (a few seconds each)...");
        }
        for i in 0..to_generate {
            if let (Some(set), Some(token)) = (tokens.as_mut(), args.token.token.as_deref()) {
                let base = args
                    .token
                    .key_label
                    .clone()
                    .unwrap_or_else(|| pkcs11::default_key_label(now));
                let label = if to_generate > 1 {
                    format!("{base}-{}", i + 1)
                } else {
                    base
                };
                let made = set.generate(token, args.token.pin_file.as_deref(), key_type, &label)?;
                t.append(
                    "key-generated",
                    json!({
                        "keyid": made.public.key_id(proposal.dialect),
                        "type": key_description(&made.public),
                        "fingerprint": made.public.fingerprint(),
                        "on_token": made.reference,
                    }),
                )?;
                new_keys.push(made.public.clone());
                let name = opened.archive.add_token_key(
                    made.public,
                    made.reference,
                    Some(proposal.dialect),
                    &format!(
                        "generated on the token by signer sign for {}",
                        proposal.target
                    ),
                    &now_s,
                )?;
                println!("New key: {name} (made on the token; it never leaves it)");
                continue;
            }
            let key = PrivateKey::generate(key_type).context("key generation failed")?;
            t.append(
                "key-generated",
                json!({
                    "keyid": key.public_key().key_id(proposal.dialect),
                    "type": key_description(&key.public_key()),
                    "fingerprint": key.public_key().fingerprint(),
                }),
            )?;
            new_keys.push(key.public_key());
            let entry = opened.archive.add_key(
                key,
                "root",
                Some(proposal.dialect),
                &format!("generated by signer sign for {}", proposal.target),
                &now_s,
            )?;
            println!("New key: {entry}");
        }
        save_and_record(
            &mut t,
            &new_path,
            &mut opened,
            Replace::Never,
            "the new keys are saved before anything else can fail",
        )?;
        println!(
            "The new key(s) are saved in {} (a complete archive: every old key and the new ones). \
             {} is unchanged.",
            new_path.display(),
            args.keys.display()
        );
    }
    let saved_note = if to_generate > 0 {
        format!(
            "the new key(s) are saved in {}; {} is unchanged",
            new_path.display(),
            args.keys.display()
        )
    } else {
        format!("no key was generated; {} is unchanged", args.keys.display())
    };

    let result = (|| -> Result<ExitCode> {
        // Build, show, confirm.
        let mut plans = rotation::plan(&proposal, &new_keys, now)
            .context("the proposal's change cannot be made")?;
        let labels: Vec<Placeholder> = Vec::new();
        for plan in &plans {
            println!();
            let warnings = rotation::guard_rails(plan, now);
            let text = render_plan(plan, &labels, key_type, &warnings);
            print!("{text}");
            t.append(
                "diff",
                json!({ "chain": plan.name, "text": text, "warnings": warnings }),
            )?;
        }
        let first_version = plans[0].new.version()?.to_string();
        let question =
            format!("\nSign this? Type \"yes\" or the new version number ({first_version}):");
        let typed = secrets::confirm(&question, &["yes", &first_version], args.yes)?;
        let anchor = t.append(
            "confirmation",
            json!({ "question": question.trim(), "typed": typed }),
        )?;

        // Anchor the transcript in the new root(s), so the repository's own
        // history pins this ceremony. Only when this holder completes the
        // root alone: co-signers must sign identical bytes, and each
        // holder's transcript differs.
        let held = usable(&opened.archive, tokens.as_ref());
        if plans.iter().all(|p| can_complete(p, &held)) {
            for plan in &mut plans {
                transcript::set_anchor(&mut plan.new, &anchor);
            }
            t.append(
                "anchor",
                json!({ "entry": anchor, "in": match proposal.dialect {
                    Dialect::OtaTuf => "signed.x-changelog.message",
                    Dialect::Tuf => "signed.x-ceremony.transcript",
                } }),
            )?;
        } else {
            t.append(
                "anchor",
                json!({ "entry": Value::Null, "why": "other holders must sign the same bytes; the root is not anchored" }),
            )?;
        }

        // Sign and check our own output.
        let mut complete = true;
        let mut missing = Vec::new();
        for plan in &mut plans {
            for line in sign_plan(plan, &held)? {
                println!("  {line}");
                t.append("signature", json!({ "chain": plan.name, "detail": line }))?;
            }
            let verdict = check_step(Some(&plan.current), &plan.new, Some(now));
            println!(
                "  {}: self-check: {}",
                plan.name,
                thresholds_summary(&verdict)
            );
            t.append(
                "self-check",
                json!({
                    "chain": plan.name,
                    "ok": verdict.ok(),
                    "summary": thresholds_summary(&verdict),
                    "failures": verdict.failures,
                }),
            )?;
            if verdict.ok() {
                continue;
            }
            let only_thresholds = verdict
                .failures
                .iter()
                .all(|f| matches!(f.rule, Rule::OldThreshold | Rule::NewThreshold));
            if !only_thresholds {
                return Err(refused(format!(
                    "{}: the new root does not pass the rotation rules: {}. No bundle was written",
                    plan.name,
                    failures(&verdict)
                )));
            }
            complete = false;
            missing.extend(missing_signatures(&plan.name, &verdict));
        }

        // The final archive: new trust anchors.
        let target = proposal.target.to_string();
        for plan in &plans {
            opened
                .archive
                .set_anchor(&plan.name, &plan.new, &plan.current, &target, &now_s)?;
        }
        let replace = if to_generate > 0 {
            Replace::OwnFile
        } else {
            Replace::Never
        };
        save_and_record(
            &mut t,
            &new_path,
            &mut opened,
            replace,
            "every old key, the new keys, and the new trust anchor",
        )?;
        for plan in &plans {
            t.append(
                "output",
                json!({
                    "what": "root",
                    "chain": plan.name,
                    "version": plan.new.version()?,
                    "sha256": ceremony::sha256::hex(&plan.new.to_bytes()),
                    "signed_sha256": ceremony::sha256::hex(&plan.new.canonical_signed()?),
                }),
            )?;
        }
        // The head is signed by the new root keys this holder has.
        let held = usable(&opened.archive, tokens.as_ref());
        let head_keys: Vec<(String, &dyn Signer)> = plans[0]
            .added
            .iter()
            .filter_map(|a| {
                held.iter()
                    .find(|k| *k.public == a.key)
                    .map(|k| (a.keyid.clone(), k.signer))
            })
            .collect();
        let signed_head = t.finish(&head_keys)?;

        // The bundle.
        let added = &plans[0].added;
        let bundle = Bundle {
            format: BUNDLE_FORMAT.into(),
            proposal_sha256: proposal_sha.clone(),
            dialect: proposal.dialect,
            target: proposal.target.clone(),
            txid: proposal.txid.clone(),
            roots: plans
                .iter()
                .map(|p| SignedRoot {
                    name: p.name.clone(),
                    root: p.new.envelope().clone(),
                })
                .collect(),
            new_keys: added
                .iter()
                .map(|a| NewKey {
                    keyid: a.keyid.clone(),
                    key: a.key.to_key_object(proposal.dialect),
                    fingerprint: a.key.fingerprint(),
                    description: key_description(&a.key),
                })
                .collect(),
            complete,
            missing: missing.clone(),
            transcript_head: Some(signed_head),
        };
        let bytes = bundle.to_bytes();
        archive::write_atomic(&args.output, &bytes, Replace::Never, &|back| {
            Bundle::from_slice(back).map(|_| ()).map_err(|e| {
                archive::ArchiveError::Tarball(format!("the bundle does not read back: {e}"))
            })
        })
        .with_context(|| format!("writing the bundle {} failed", args.output.display()))?;

        println!();
        if complete {
            println!(
                "Bundle written to {} (complete: every threshold is met).",
                args.output.display()
            );
        } else {
            println!(
                "PARTIAL bundle written to {}: this holder's signatures are in, but others are still needed:",
                args.output.display()
            );
            for m in &missing {
                println!("  - {m}");
            }
            println!(
                "Other holders sign the same proposal; `submitter merge` combines the bundles."
            );
        }
        println!(
            "New archive: {} (old keys, new keys, new trust anchor). From now on use it; keep {} \
             until the new root is live.",
            new_path.display(),
            args.keys.display()
        );
        println!(
            "Transcript: {} (verify with `signer verify-transcript {} --root <new root>`).",
            t.path().display(),
            t.path().display()
        );
        if args.qr {
            crate::qr_cmd::show_file(&args.output, &ceremony_cli::qr::ShowOptions::default())?;
        }
        Ok(ExitCode::SUCCESS)
    })();
    result.map_err(|e| {
        // Record the abort where the transcript is already on disk.
        if t.is_persisted() {
            let _ = t.append(
                "error",
                json!({ "message": ceremony_cli::exit::render_chain(e.as_ref()) }),
            );
        }
        e.context(format!("signing stopped ({saved_note})"))
    })
}

/// Writes the new archive, puts the transcript on disk (this is the first
/// durable write of a ceremony), and records the archive there, with whether
/// it was decrypted again and compared (it is not when it is encrypted to
/// recipients and no identity was given).
fn save_and_record(
    t: &mut TranscriptWriter,
    path: &Path,
    opened: &mut commands::Opened,
    replace: Replace,
    why: &str,
) -> Result<()> {
    let checked = commands::save_archive(path, &mut opened.archive, &opened.protection, replace)?;
    t.persist()?;
    t.append(
        "archive-written",
        json!({
            "path": path.display().to_string(),
            "sha256": file_sha256(path)?,
            "re_decrypted_and_compared": checked,
            "why": why,
        }),
    )?;
    Ok(())
}

/// `bundle.json` -> `bundle.transcript.jsonl`, beside it.
fn default_transcript_path(bundle: &Path) -> PathBuf {
    let stem = bundle
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    bundle.with_file_name(format!("{stem}.transcript.jsonl"))
}

fn file_sha256(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(ceremony::sha256::hex(&bytes))
}

/// Whether the keys this holder has meet both thresholds of `plan` alone.
fn can_complete(plan: &ChainPlan, held: &[Usable<'_>]) -> bool {
    let count = |root: &RootMetadata| -> bool {
        let Ok(role) = root.role("root") else {
            return false;
        };
        let mut distinct: Vec<&PublicKey> = Vec::new();
        for k in held {
            if root_key_ids_of(root, k.public).is_some() && !distinct.contains(&k.public) {
                distinct.push(k.public);
            }
        }
        distinct.len() as u64 >= role.threshold
    };
    count(&plan.current) && count(&plan.new)
}
