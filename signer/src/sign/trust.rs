//! Trust: the archive is opened, and the proposal's current roots are
//! checked against the trust anchors it keeps; an archive that holds no key
//! that matters here is refused.
//!
//! Every chain of the proposal is first bound to the anchors it must chain
//! from (by target and chain, by root keys, and an older signer's anchors by
//! chain name: see [`crate::anchors`]), and every refusal happens before any
//! question is asked. Only a chain bound to no anchor is "first use", where
//! the human compares fingerprints; when the archive already anchors other
//! targets the question names the new target and wants other words typed.

use ceremony_cli::{eprintln, println};
use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};

use ceremony::fingerprint::Labelled;
use ceremony::keys::PublicKey;
use ceremony::proposal::{Chain, Proposal};
use ceremony::rules::check_step;
use ceremony::transcript::event::{Input, Trust};
use ceremony::transcript::Event;
use ceremony::untrusted::escape;
use ceremony::{Dialect, RootMetadata};

use super::args::SignArgs;
use super::preflight::Ceremony;
use super::review::{key_line, print_header};
use super::write::file_sha256;
use super::{failures, refused, root_key_ids_of};
use crate::anchors::{self, root_key_fingerprints, ChainKind, TargetId};
use crate::archive;
use crate::commands::{self, Opened};
use crate::keystore::{KeyArchive, StoredAnchor};
use crate::secrets;

/// What the write step needs to know of each chain's anchors.
pub(super) struct ChainAnchoring {
    /// The chain, as the proposal and the plans name it.
    pub(super) chain: String,
    pub(super) kind: ChainKind,
    /// The target the new anchor is filed under.
    pub(super) target: TargetId,
    /// Anchors of this chain filed under other targets that it chained
    /// from (found by root keys): advanced with it, so that no name of the
    /// same repository keeps an older anchor.
    pub(super) also: Vec<TargetId>,
    /// An older signer's anchor entries this target takes over.
    pub(super) takes_over: Vec<String>,
    /// Root keys of the roots verified in between (fingerprints).
    pub(super) seen: BTreeSet<String>,
}

/// An anchor of the archive, read once.
struct Loaded {
    stored: StoredAnchor,
    root: RootMetadata,
    previous: Option<RootMetadata>,
    /// Every root key fingerprint the anchor lists or records.
    fingerprints: BTreeSet<String>,
    /// Keys of any role (fingerprints) the anchor or the root it replaced
    /// lists that this archive holds: a proposal that makes one of them a
    /// root key (say, a Factory's targets key) is bound too.
    held_listed: BTreeSet<String>,
}

/// Why a chain must chain from an anchor.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Why {
    /// Same target and chain.
    Name,
    /// An older signer's anchor of this chain name.
    Legacy,
    /// It shares a root key.
    Keys,
}

/// A chain bound to no anchor: the human decides.
struct FirstUse {
    chain: String,
    target: TargetId,
    current: RootMetadata,
}

/// Opens the archive and checks the proposal against what it trusts.
pub(super) fn check(args: &SignArgs, c: &mut Ceremony) -> Result<(Opened, Vec<ChainAnchoring>)> {
    // The chains are typed before the archive is even opened: a name that
    // is no chain of this target never gets near an anchor.
    let kinds = anchors::chain_kinds(&c.proposal).map_err(|e| refused(e.to_string()))?;
    // Without --keys this is the targets keys' archive: it keeps trust
    // anchors of its own, as the root keys' archive does (see
    // `check_holds_a_targets_key`).
    let path = args.archive();
    let mut opened = commands::open_archive(path, &args.unlock)?;
    c.transcript.append(&Event::Input(Input::Archive {
        path: path.display().to_string(),
        sha256: file_sha256(path)?,
        keys_held: opened.archive.keys.len(),
        token_keys_recorded: opened.archive.token_keys.len(),
    }))?;
    commands::successor_protection(&mut opened, &args.recipients)?;
    for w in &opened.archive.warnings {
        eprintln!("warning: {w}");
    }
    print_header(&c.proposal, &c.proposal_sha, c.key_type);
    if let Some(r) = &c.rehearsal {
        println!("  {r}");
    }
    let loaded = load_anchors(&opened.archive)?;

    // Every refusal first: bindings, chaining, the predecessor flag, and an
    // archive that holds no key of these roots.
    let mut anchoring = Vec::new();
    let mut first_uses = Vec::new();
    let mut not_applied = Vec::new();
    for (chain, kind) in c.proposal.chains.iter().zip(kinds) {
        match check_chain(&c.proposal, chain, kind, &loaded, args, &mut not_applied)? {
            Ok(a) => anchoring.push(a),
            Err(first) => {
                anchoring.push(ChainAnchoring {
                    chain: chain.name.clone(),
                    kind,
                    target: first.target.clone(),
                    also: Vec::new(),
                    takes_over: Vec::new(),
                    seen: BTreeSet::new(),
                });
                first_uses.push(first);
            }
        }
    }
    if !first_uses.is_empty() && !loaded.is_empty() && args.yes && !args.trust_new_target {
        let first = &first_uses[0];
        return Err(refused(format!(
            "{}\nIts current root v{} lists:\n{}With --yes this is refused: a new target next to \
             anchored ones is trusted only with --trust-new-target as well (after comparing these \
             fingerprints with your records), or by typing \"new target\" without --yes",
            new_target_text(&c.proposal, first, &loaded),
            first.current.version()?,
            fingerprints_of(&first.current)
        )));
    }
    let holds = if args.targets_only() {
        check_holds_a_targets_key(&c.proposal, &opened.archive, path)?
    } else {
        check_holds_a_key(&c.proposal, &opened.archive, &c.provided, &c.first_current)?
    };

    // Then the questions.
    let mut confirmed: Vec<Vec<u8>> = Vec::new();
    for first in &first_uses {
        ask_first_use(&c.proposal, first, &loaded, args, &mut confirmed)?;
    }
    for line in &holds {
        println!("  {line}");
    }
    c.transcript.append(&Event::Trust(Trust {
        chains: c.proposal.chains.iter().map(|c| c.name.clone()).collect(),
        first_use_confirmed: confirmed.len(),
        held: holds,
        last_bundle_not_applied: not_applied,
    }))?;
    Ok((opened, anchoring))
}

/// Reads every anchor; a damaged one stops the ceremony (it might have been
/// the one that binds this proposal).
fn load_anchors(ka: &KeyArchive) -> Result<Vec<Loaded>> {
    let held: BTreeSet<String> = ka
        .keys
        .iter()
        .map(|k| k.public.fingerprint())
        .chain(ka.token_keys.iter().map(|k| k.public.fingerprint()))
        .collect();
    let mut out = Vec::new();
    for stored in ka.anchors() {
        let (root, previous) = ka.anchor_roots(&stored)?;
        let mut fingerprints = stored.root_key_fingerprints.clone();
        let mut listed = all_key_fingerprints(&root);
        fingerprints.extend(root_key_fingerprints(&root));
        if let Some(p) = &previous {
            fingerprints.extend(root_key_fingerprints(p));
            listed.extend(all_key_fingerprints(p));
        }
        let held_listed = listed.intersection(&held).cloned().collect();
        out.push(Loaded {
            stored,
            root,
            previous,
            fingerprints,
            held_listed,
        });
    }
    Ok(out)
}

/// The fingerprints of every key `root` lists, whatever its role.
fn all_key_fingerprints(root: &RootMetadata) -> BTreeSet<String> {
    let Ok(objects) = root.key_objects() else {
        return BTreeSet::new();
    };
    objects
        .keys()
        .filter_map(|id| root.key(id).ok())
        .map(|k| k.fingerprint())
        .collect()
}

/// Binds `chain` to its anchors and checks that its current root chains
/// from every one; `Err(FirstUse)` when no anchor binds it.
fn check_chain(
    proposal: &Proposal,
    chain: &Chain,
    kind: ChainKind,
    loaded: &[Loaded],
    args: &SignArgs,
    not_applied: &mut Vec<String>,
) -> Result<std::result::Result<ChainAnchoring, FirstUse>> {
    let dialect = proposal.dialect;
    let current = proposal.current_root(chain)?;
    let mut target =
        anchors::target_id(proposal, chain, kind, &current).map_err(|e| refused(e.to_string()))?;
    let keys = root_key_fingerprints(&current);
    let mut bound: Vec<(&Loaded, Why)> = Vec::new();
    let mut other_chains: Vec<&Loaded> = Vec::new();
    for l in loaded {
        let s = &l.stored;
        let shares = !keys.is_disjoint(&l.fingerprints) || !keys.is_disjoint(&l.held_listed);
        let why = if s.target.as_ref() == Some(&target) && s.kind == Some(kind) {
            Some(Why::Name)
        } else if s.legacy() && s.chain == kind.as_str() {
            Some(Why::Legacy)
        } else if shares && s.kind == Some(kind) {
            Some(Why::Keys)
        } else {
            None
        };
        match why {
            Some(w) => bound.push((l, w)),
            None if shares => other_chains.push(l),
            None => {}
        }
    }
    if bound.is_empty() {
        if let Some(l) = other_chains.first() {
            return Err(refused(format!(
                "{kind}: this archive has no trust anchor for chain {kind} of {}, but the \
                 proposal's current root v{} shares root key(s) with its anchor for {}: a root \
                 whose keys this archive anchors never gets \"first use\". Refusing; is the \
                 chain mislabelled, or the proposal made from an old root?",
                target.describe(),
                current.version()?,
                l.stored.describe()
            )));
        }
        return Ok(Err(FirstUse {
            chain: chain.name.clone(),
            target,
            current,
        }));
    }
    // A repository whose version 1 is unknown is the target of the anchor
    // its keys lead to (see `crate::anchors`).
    if matches!(target, TargetId::TufFirstAnchoredKeys { .. }) {
        let led_to = bound.iter().find_map(|(l, _)| {
            l.stored
                .target
                .clone()
                .filter(|t| !matches!(t, TargetId::Factory { .. }) && t.dialect() == dialect)
        });
        if let Some(t) = led_to {
            target = t;
        }
    }
    let mut anchoring = ChainAnchoring {
        chain: chain.name.clone(),
        kind,
        target: target.clone(),
        also: Vec::new(),
        takes_over: Vec::new(),
        seen: BTreeSet::new(),
    };
    for (l, why) in bound {
        let s = &l.stored;
        let anchor_dialect = s.dialect.unwrap_or(l.root.dialect());
        if anchor_dialect != dialect {
            return Err(refused(format!(
                "{kind}: this archive's trust anchor for {} is a {anchor_dialect} root, but the \
                 proposal is {dialect}; is this the right archive?",
                s.describe()
            )));
        }
        match why {
            Why::Name => {}
            Why::Legacy => {
                println!(
                    "chain {kind}: this archive's anchor for chain {kind} was written by an older \
                     signer, keyed by the chain name only; it stands for {}, and this proposal \
                     ({}) must chain from it (to use this archive for another repository too, \
                     first sign for the one it anchors: that binds the anchor to its target).",
                    s.describe_target(),
                    full_target(proposal, &target)
                );
                anchoring.takes_over.push(s.entry.clone());
            }
            Why::Keys => {
                println!(
                    "chain {kind}: the proposal names {}, but its current root shares root \
                     key(s) with this archive's anchor for {}: it must chain from that anchor.",
                    full_target(proposal, &target),
                    s.describe()
                );
                if let Some(t) = &s.target {
                    if *t != target && !anchoring.also.contains(t) {
                        anchoring.also.push(t.clone());
                    }
                }
            }
        }
        chain_from(
            l,
            chain,
            kind,
            &current,
            args,
            &mut anchoring.seen,
            not_applied,
        )?;
    }
    Ok(Ok(anchoring))
}

/// Checks that `current` is one `l` lets this archive trust: the anchor
/// itself, the root the anchor replaced when the operator says the last
/// bundle was never applied, or a root that chains from the anchor through
/// roots it can check.
fn chain_from(
    l: &Loaded,
    chain: &Chain,
    kind: ChainKind,
    current: &RootMetadata,
    args: &SignArgs,
    seen: &mut BTreeSet<String>,
    not_applied: &mut Vec<String>,
) -> Result<()> {
    let dialect = current.dialect();
    let anchor = &l.root;
    let what = l.stored.describe();
    let cv = current.version()?;
    let av = anchor.version()?;
    if cv == av {
        if same_signed(anchor, current) {
            println!(
                "chain {kind}: the current root v{cv} is the one this archive signed last (its \
                 trust anchor for {what})."
            );
            return Ok(());
        }
        return Err(refused(format!(
            "{kind}: the proposal's current root v{cv} differs from the v{av} root this archive \
             signed (its trust anchor for {what}): the repository holds a root you did not sign. \
             Refusing; find out who changed it before any signing"
        )));
    }
    if cv < av {
        let is_predecessor = av.checked_sub(1) == Some(cv)
            && l.previous.as_ref().is_some_and(|p| same_signed(p, current));
        if is_predecessor && args.last_bundle_not_applied {
            println!(
                "chain {kind}: this archive last signed v{av} (its trust anchor for {what}), but \
                 the current root is v{cv}, the root that anchor replaced (verified then); you \
                 said the last bundle was never applied (--last-bundle-not-applied), so v{cv} is \
                 trusted on your word, and the transcript records it."
            );
            if !not_applied.contains(&chain.name) {
                not_applied.push(chain.name.clone());
            }
            return Ok(());
        }
        if is_predecessor {
            return Err(refused(format!(
                "{kind}: the proposal's current root v{cv} is the root that this archive's trust \
                 anchor v{av} (for {what}) replaced: either the bundle that signed v{av} was never \
                 applied, or the repository went back to v{cv}. The signer cannot tell which. \
                 Check the repository; if you know the last bundle was never applied, run again \
                 with --last-bundle-not-applied (the transcript records that you said so)"
            )));
        }
        return Err(refused(format!(
            "{kind}: the proposal's current root is v{cv}, older than v{av}, the root this \
             archive last signed (its trust anchor for {what}): a rollback or a stale proposal. \
             Refusing; make a fresh proposal"
        )));
    }
    // cv > av: walk anchor -> ... -> current.
    let mut previous = anchor.clone();
    for v in av + 1..cv {
        let Some(dir) = args.roots_dir.as_deref() else {
            return Err(refused(format!(
                "{kind}: this archive trusts v{av} (the root it signed last for {what}), the \
                 proposal's current root is v{cv}; to check that it chains from v{av}, the roots \
                 v{}..v{} in between are needed: pass --roots-dir DIR holding them as N.root.json \
                 (the submitter can download them)",
                av + 1,
                cv - 1
            )));
        };
        let Some((root, sha)) = intermediate(dir, kind, v, dialect)? else {
            return Err(refused(format!(
                "{kind}: {v}.root.json is missing from {}; the chain from the trusted v{av} to \
                 v{cv} cannot be checked without it",
                dir.display()
            )));
        };
        if let Some(h) = chain.history.iter().find(|h| h.version == v) {
            if !h.sha256.eq_ignore_ascii_case(&sha) {
                return Err(refused(format!(
                    "{kind}: {v}.root.json (sha256 {sha}) is not the v{v} the proposal lists \
                     (sha256 {})",
                    escape(&h.sha256)
                )));
            }
        }
        let verdict = check_step(Some(&previous), &root, None);
        if !verdict.ok() {
            return Err(refused(format!(
                "{kind}: v{v} does not follow from v{}: {}",
                v - 1,
                failures(&verdict)
            )));
        }
        seen.extend(root_key_fingerprints(&root));
        previous = root;
    }
    let verdict = check_step(Some(&previous), current, None);
    if !verdict.ok() {
        return Err(refused(format!(
            "{kind}: the proposal's current root v{cv} does not follow from the trusted v{}: {}. \
             Refusing",
            cv - 1,
            failures(&verdict)
        )));
    }
    println!("chain {kind}: the current root v{cv} chains from this archive's trust anchor v{av} ({what}).");
    Ok(())
}

/// The targets this archive anchors, each with its chains, in words.
fn anchored_targets(loaded: &[Loaded]) -> String {
    let mut targets: Vec<(String, Vec<String>)> = Vec::new();
    for l in loaded {
        let t = l.stored.describe_target();
        let chain = escape(&l.stored.chain).into_owned();
        match targets.iter_mut().find(|(d, _)| *d == t) {
            Some((_, chains)) => chains.push(chain),
            None => targets.push((t, vec![chain])),
        }
    }
    targets
        .iter()
        .map(|(t, chains)| format!("{t} [{}]", chains.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The target in full: the identity, and for a TUF repository where the
/// proposal says it is.
fn full_target(proposal: &Proposal, target: &TargetId) -> String {
    match target {
        TargetId::Factory { .. } => target.describe(),
        _ => format!(
            "{} ({})",
            escape(&proposal.target.to_string()),
            target.describe()
        ),
    }
}

/// The first-use text when other targets are anchored: names the new one in
/// full.
fn new_target_text(proposal: &Proposal, first: &FirstUse, loaded: &[Loaded]) -> String {
    let same_target = loaded
        .iter()
        .any(|l| l.stored.target.as_ref() == Some(&first.target));
    format!(
        "This archive anchors {}; this proposal is for {}: {}, chain {}, whose current root v{} \
         no anchor of this archive leads to.",
        anchored_targets(loaded),
        if same_target {
            "a chain of that target it has no anchor for"
        } else {
            "a different target"
        },
        full_target(proposal, &first.target),
        escape(&first.chain),
        first.current.version().unwrap_or(0)
    )
}

/// Shows the root keys of a chain no anchor binds, and asks the human.
fn ask_first_use(
    proposal: &Proposal,
    first: &FirstUse,
    loaded: &[Loaded],
    args: &SignArgs,
    confirmed: &mut Vec<Vec<u8>>,
) -> Result<()> {
    let current = &first.current;
    let cv = current.version()?;
    let name = escape(&first.chain);
    let canonical = current.canonical_signed().unwrap_or_default();
    if confirmed.contains(&canonical) {
        println!("chain {name}: its current root is the same v{cv} root you just confirmed.");
        return Ok(());
    }
    if loaded.is_empty() {
        println!(
            "\nFirst use for chain {name} of {}: this archive has no trust anchor yet. The \
             proposal's current root v{cv} lists:\n{}Compare these fingerprints with your records \
             (a printout, another holder) before you go on.",
            full_target(proposal, &first.target),
            fingerprints_of(current)
        );
        secrets::confirm(
            &format!("Trust this v{cv} root of chain {name}? Type \"yes\":"),
            &["yes"],
            args.yes,
        )?;
    } else {
        println!(
            "\nFIRST USE OF A NEW TARGET. {}\nIts current root v{cv} lists:\n{}Compare these \
             fingerprints with your records (a printout, another holder) before you go on.",
            new_target_text(proposal, first, loaded),
            fingerprints_of(current)
        );
        // `--yes` alone was refused before any question.
        secrets::confirm(
            &format!("Trust this new target's v{cv} root (chain {name})? Type \"new target\":"),
            &["new target"],
            args.yes && args.trust_new_target,
        )?;
    }
    confirmed.push(canonical);
    Ok(())
}

/// Refuses an archive none of whose keys is a root key of any current root
/// (or one of the provided new keys): the wrong archive, or a root someone
/// else controls. `first_current` is the root shown when it is refused.
fn check_holds_a_key(
    proposal: &Proposal,
    ka: &KeyArchive,
    provided: &[PublicKey],
    first_current: &RootMetadata,
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
                    chain.name, name, id
                ));
            }
            // Signing the staged roots as they are: a key the staged root
            // adds is this holder's as much as a provided new key is.
            if proposal.change.sign_staged {
                if let Some(staged) = proposal.staged_root(chain)? {
                    if let Some(id) = root_key_ids_of(&staged, public) {
                        relevant.push(format!(
                            "{}: {} is root key {} of the staged root",
                            chain.name, name, id
                        ));
                    }
                }
            }
        }
        if provided.contains(public) {
            relevant.push(format!("{name} is one of the provided new keys"));
        }
    }
    let targets_only = !ka.keys.is_empty()
        && ka.token_keys.is_empty()
        && ka.keys.iter().all(|k| k.role == "targets");
    if relevant.is_empty() && targets_only {
        return Err(refused(format!(
            "this archive holds only offline targets keys ({} of them): the roots are signed by \
             root keys, which come from the root keys' archive. Give that one as --keys \
             ROOT.tgz.age; the targets keys' archive is for --targets-keys.\n{}",
            ka.keys.len(),
            fingerprints_of(first_current)
        )));
    }
    if relevant.is_empty() {
        return Err(refused(format!(
            "none of the {} key(s) in this archive is a root key of the proposal's current root \
             (nor a provided new key, nor, signing the staged roots, a root key of the staged \
             root): this archive did not sign that root. Is it the right archive for {}?\n{}",
            ka.keys.len() + ka.token_keys.len(),
            proposal.target,
            fingerprints_of(first_current)
        )));
    }
    Ok(relevant)
}

/// The targets keys' holder's run (no `--keys`): the archive must hold only
/// offline targets keys (kept apart from root keys, as fioctl keeps them),
/// at least one of which the current CI root lists for targets, so that
/// the archive that makes the successor key is the one whose key it joins
/// or replaces. Trust in the proposal's roots is the same as a root keys'
/// archive's: this archive's own anchors (the roots its last run built),
/// else first use on the human's comparison of the root keys' fingerprints.
/// (`signer sign-wave` writes no archive and so has no anchor to keep; this
/// run writes the targets keys' successor, which keeps the new roots as its
/// anchors.)
fn check_holds_a_targets_key(
    proposal: &Proposal,
    ka: &KeyArchive,
    path: &Path,
) -> Result<Vec<String>> {
    if ka.keys.iter().any(|k| k.role != "targets") || !ka.token_keys.is_empty() {
        return Err(refused(format!(
            "{} holds root keys: without --keys it must be the offline targets keys' own archive. \
             Give the root keys' archive as --keys (one machine), or run with the targets keys' \
             archive alone (two machines)",
            path.display()
        )));
    }
    let ci = proposal
        .chains
        .iter()
        .find(|c| c.name == ceremony::proposal::ChainName::Ci.as_str())
        .ok_or_else(|| refused("a targets change needs the Factory's ci chain".to_string()))?;
    let current = proposal.current_root(ci)?;
    let listed = current.role("targets")?.keyids;
    let mut relevant = Vec::new();
    for k in &ka.keys {
        if let Some(id) = listed
            .iter()
            .find(|id| current.key(id).is_ok_and(|key| key == k.public))
        {
            relevant.push(format!(
                "ci: {} is offline targets key {id} of the current root",
                k.entry
            ));
        }
    }
    if relevant.is_empty() {
        return Err(refused(format!(
            "none of the {} key(s) in {} is a targets key of the proposal's current CI root v{}: \
             it is not this Factory's offline targets keys' archive (or the key it held was \
             already replaced). Nothing was signed or written",
            ka.keys.len(),
            path.display(),
            current.version()?
        )));
    }
    Ok(relevant)
}

fn same_signed(a: &RootMetadata, b: &RootMetadata) -> bool {
    match (a.canonical_signed(), b.canonical_signed()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
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
            // The words of the fingerprint, for witnesses reading it aloud.
            if let Some(w) = root
                .key(id)
                .ok()
                .and_then(|k| Labelled::key(k.fingerprint()).words_line())
            {
                out.push_str(&format!("      {w}\n"));
            }
        }
    }
    out
}

/// Reads an intermediate root of chain `kind` from `dir` (the folder name
/// is the typed chain, never the proposal's text).
fn intermediate(
    dir: &Path,
    kind: ChainKind,
    version: u64,
    dialect: Dialect,
) -> Result<Option<(RootMetadata, String)>> {
    for path in [
        dir.join(kind.as_str()).join(format!("{version}.root.json")),
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
