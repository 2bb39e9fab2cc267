//! Trust: the archive is opened, and the proposal's current roots are
//! checked against the trust anchors it keeps (on first use, the human
//! compares fingerprints); an archive that holds no key that matters here is
//! refused.

use ceremony_cli::{eprintln, println};
use std::path::Path;

use anyhow::{Context, Result};

use ceremony::keys::PublicKey;
use ceremony::proposal::{Chain, Proposal};
use ceremony::rules::{check_step, short};
use ceremony::transcript::event::{Input, Trust};
use ceremony::transcript::Event;
use ceremony::{Dialect, RootMetadata};

use super::args::SignArgs;
use super::preflight::Ceremony;
use super::review::{key_line, print_header};
use super::write::file_sha256;
use super::{failures, refused, root_key_ids_of};
use crate::archive;
use crate::commands::{self, Opened};
use crate::keystore::KeyArchive;
use crate::secrets;

/// Opens the archive and checks the proposal against what it trusts.
pub(super) fn check(args: &SignArgs, c: &mut Ceremony) -> Result<Opened> {
    let mut opened = commands::open_archive(&args.keys, &args.unlock)?;
    c.transcript.append(&Event::Input(Input::Archive {
        path: args.keys.display().to_string(),
        sha256: file_sha256(&args.keys)?,
        keys_held: opened.archive.keys.len(),
        token_keys_recorded: opened.archive.token_keys.len(),
    }))?;
    commands::successor_protection(&mut opened, &args.recipients)?;
    for w in &opened.archive.warnings {
        eprintln!("warning: {w}");
    }
    print_header(&c.proposal, &c.proposal_sha, c.key_type);
    let mut confirmed = Vec::new();
    for chain in &c.proposal.chains {
        check_against_anchor(
            &c.proposal,
            chain,
            &opened.archive,
            args.roots_dir.as_deref(),
            args.yes,
            &mut confirmed,
        )?;
    }
    let holds = check_holds_a_key(&c.proposal, &opened.archive, &c.provided, &c.first_current)?;
    for line in &holds {
        println!("  {line}");
    }
    c.transcript.append(&Event::Trust(Trust {
        chains: c.proposal.chains.iter().map(|c| c.name.clone()).collect(),
        first_use_confirmed: confirmed.len(),
        held: holds,
    }))?;
    Ok(opened)
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
        return Err(refused(format!(
            "none of the {} key(s) in this archive is a root key of the proposal's current root \
             (nor a provided new key): this archive did not sign that root. Is it the right archive \
             for {}?\n{}",
            ka.keys.len() + ka.token_keys.len(),
            proposal.target,
            fingerprints_of(first_current)
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
