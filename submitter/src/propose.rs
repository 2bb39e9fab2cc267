//! `submitter propose`: fetch and verify the current root(s), write the
//! unsigned proposal the offline signer works from.

use ceremony_cli::{eprintln, println};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use time::OffsetDateTime;

use ceremony::bundle_check::same_root;
use ceremony::keys::NewKeyType;
use ceremony::proposal::{
    Chain, Change, KeyRole, Proposal, ProvidedKey, Rotate, Target, MIN_PROD_TARGETS_THRESHOLD,
    PROPOSAL_FORMAT,
};
use ceremony::pubkey::PubkeyFile;
use ceremony::root::format_expires;
use ceremony::rules::next_version;
use ceremony::{Dialect, RootMetadata};

use crate::factory::{check_name, Factory};
use crate::first_root::FirstRootKey;
use crate::source::{read_trusted, verify, walk, Repo};
use crate::{Ctx, UsageError, VerificationFailed};
use ceremony::fsio::{self, WriteOptions};

/// What `propose` was asked for.
pub struct ProposeArgs {
    pub factory: Option<String>,
    pub repo: Option<String>,
    pub dialect: Option<Dialect>,
    pub trusted: Option<PathBuf>,
    /// `--role targets`: the change is to the offline targets keys.
    pub targets: bool,
    pub rotate: Vec<String>,
    pub rotate_all: bool,
    pub add: u32,
    pub key_type: Option<String>,
    pub remove: Vec<String>,
    pub threshold: Option<u64>,
    pub expires_in: i64,
    pub message: Option<String>,
    pub txid: Option<String>,
    pub provided_keys: Vec<PathBuf>,
    /// Sign the staged roots as they are (`change.sign_staged`).
    pub sign_staged: bool,
    /// `--first-time --first-root-key F.tgz`: the Factory's first rotation,
    /// and where the first root key the server hands out goes.
    pub first_root_key: Option<PathBuf>,
    /// `-o`; `None`: `proposal-v<N>.json` here, or the next free name.
    pub output: Option<PathBuf>,
    pub force: bool,
}

struct Checked {
    key_type: Option<String>,
    provided: Vec<PubkeyFile>,
    expires: String,
}

fn check_local(args: &ProposeArgs, now: OffsetDateTime) -> Result<Checked> {
    if args.rotate_all && !args.rotate.is_empty() {
        return Err(
            UsageError("give either --rotate KEYID or --rotate-all, not both".into()).into(),
        );
    }
    if !(1..=3650).contains(&args.expires_in) {
        return Err(UsageError(format!(
            "--expires-in {} is out of range: give a number of days from 1 to 3650",
            args.expires_in
        ))
        .into());
    }
    if args.targets
        && args
            .threshold
            .is_some_and(|t| t < MIN_PROD_TARGETS_THRESHOLD)
    {
        return Err(UsageError(format!(
            "--role targets --threshold {}: the production targets threshold must be at least \
             {MIN_PROD_TARGETS_THRESHOLD} while the online key signs CI targets (fioctl's rule)",
            args.threshold.unwrap_or(0)
        ))
        .into());
    }
    if args.targets
        && !args.rotate_all
        && args.rotate.is_empty()
        && args.add == 0
        && args.remove.is_empty()
        && args.threshold.is_none()
    {
        return Err(UsageError(
            "--role targets: say what to change: --rotate-all, --rotate KEYID, --add N, --remove \
             KEYID or --threshold N"
                .into(),
        )
        .into());
    }
    if args.threshold == Some(0) {
        return Err(UsageError("--threshold must be at least 1".into()).into());
    }
    let key_type = match &args.key_type {
        Some(t) => Some(
            t.parse::<NewKeyType>()
                .map_err(|e| UsageError(format!("--key-type: {e}")))?
                .name()
                .to_string(),
        ),
        None => None,
    };
    if let Some(m) = &args.message {
        if m.chars().any(|c| !(' '..='~').contains(&c)) {
            return Err(UsageError(
                "--message may hold printable ASCII only: devices, fioctl and the server \
                 canonicalise anything else differently, and the new root would not verify"
                    .into(),
            )
            .into());
        }
    }
    let mut provided = Vec::new();
    for p in &args.provided_keys {
        let bytes = fsio::read_bounded(p, 1024 * 1024)?;
        let file = PubkeyFile::from_slice(&bytes)
            .with_context(|| format!("{} is not a usable public-key file", p.display()))?;
        provided.push(file);
    }
    if let Some(k) = &args.first_root_key {
        // Before any request: fioctl refuses too, lest another Factory's
        // keys be overwritten; and the server hands the key out only once.
        if fsio::refuse_existing(k).is_err() {
            return Err(UsageError(format!(
                "--first-root-key {}: the file exists; it is never overwritten (it may hold another Factory's keys): choose a new name",
                k.display()
            ))
            .into());
        }
        if !args.rotate_all && args.rotate.is_empty() && args.remove.is_empty() {
            return Err(UsageError(
                "--first-time: the first rotation must take the first root key out of the root (--rotate-all, or --rotate/--remove with its id): the server holds a copy of it"
                    .into(),
            )
            .into());
        }
    }
    if let Some(out) = args
        .output
        .as_deref()
        .filter(|o| !ceremony::names::is_free(o))
    {
        if !args.force {
            bail!(
                "{} exists already; a proposal is never overwritten (a bundle may answer it: \
                 bundles name their proposal by hash): pick another name with -o, or leave -o out \
                 for a free default name (proposal-v<N>.json), or pass --force",
                out.display()
            );
        }
    }
    Ok(Checked {
        key_type,
        provided,
        expires: format_expires(now + time::Duration::days(args.expires_in)),
    })
}

/// Resolves `--rotate`/`--remove` ids (full, or an unambiguous prefix of at
/// least 8 hex digits, as reports print them) against the root role.
fn resolve_ids(given: &[String], root: &RootMetadata, flag: &str) -> Result<Vec<String>> {
    let role = root.role("root")?;
    let ids: Vec<String> = given
        .iter()
        .map(|g| {
            let g = g.to_ascii_lowercase();
            if role.keyids.contains(&g) {
                return Ok(g);
            }
            let matches: Vec<&String> = role
                .keyids
                .iter()
                .filter(|id| g.len() >= 8 && id.starts_with(&g))
                .collect();
            match matches.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(UsageError(format!(
                    "{flag} {g}: not a root key of version {}; root keys are: {}",
                    root.version().unwrap_or(0),
                    role.keyids.join(", ")
                ))
                .into()),
                _ => Err(
                    UsageError(format!("{flag} {g}: ambiguous prefix; give more digits")).into(),
                ),
            }
        })
        .collect::<Result<_>>()?;
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            return Err(UsageError(format!("{flag} names key {id} twice")).into());
        }
    }
    Ok(ids)
}

fn change(
    args: &ProposeArgs,
    c: &Checked,
    current: &RootMetadata,
    dialect: Dialect,
) -> Result<Change> {
    let rotate = if args.rotate_all {
        Some(Rotate::All)
    } else if !args.rotate.is_empty() {
        Some(Rotate::Keys(resolve_ids(
            &args.rotate,
            current,
            "--rotate",
        )?))
    } else {
        None
    };
    let remove_keys = resolve_ids(&args.remove, current, "--remove")?;
    let provided_keys = c
        .provided
        .iter()
        .map(|p| p.to_provided_key(dialect))
        .collect::<Result<Vec<ProvidedKey>, _>>()?;
    let role = current.role("root")?;
    let rotated = match &rotate {
        None => 0,
        Some(Rotate::All) => role.keyids.len(),
        Some(Rotate::Keys(k)) => k.len(),
    };
    if let Some(Rotate::Keys(r)) = &rotate {
        if let Some(both) = remove_keys.iter().find(|k| r.contains(k)) {
            return Err(UsageError(format!(
                "key {both} is both rotated and removed: choose one"
            ))
            .into());
        }
    }
    if matches!(rotate, Some(Rotate::All)) && !remove_keys.is_empty() {
        return Err(UsageError("--remove cannot be combined with --rotate-all".into()).into());
    }
    let after = role
        .keyids
        .len()
        .saturating_sub(rotated)
        .saturating_sub(remove_keys.len())
        + rotated
        + args.add as usize;
    let threshold = args.threshold.unwrap_or(role.threshold);
    if threshold as usize > after {
        return Err(UsageError(format!(
            "the new root would have {after} root key(s), which cannot meet a threshold of {threshold}"
        ))
        .into());
    }
    if provided_keys.len() > rotated + args.add as usize {
        return Err(UsageError(format!(
            "{} --provided-key file(s) given, but the change adds only {} key(s) (--rotate, --add)",
            provided_keys.len(),
            rotated + args.add as usize
        ))
        .into());
    }
    Ok(Change {
        rotate,
        add_keys: args.add,
        remove_keys,
        key_type: c.key_type.clone(),
        threshold: args.threshold,
        expires: c.expires.clone(),
        message: args.message.clone(),
        provided_keys,
        ..Change::default()
    })
}

fn envelope(bytes: &[u8]) -> Result<Value> {
    ceremony::strict_json::from_slice(bytes).map_err(|e| anyhow!("not JSON: {e}"))
}

/// Runs `propose`.
pub fn run(ctx: &Ctx, args: ProposeArgs) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    let checked = check_local(&args, now)?;
    let (proposal, first_key) = match (&args.factory, &args.repo) {
        (Some(f), None) => propose_factory(ctx, &args, &checked, f, now)?,
        (None, Some(r)) => (propose_repo(ctx, &args, &checked, r, now)?, None),
        _ => return Err(UsageError("give --factory F or --repo URL|DIR".into()).into()),
    };
    let bytes = proposal.to_bytes();
    // Check what we wrote reads back as a proposal.
    Proposal::from_slice(&bytes).context("internal error: the proposal does not read back")?;
    let version = new_version(&proposal);
    let output = match &args.output {
        Some(o) if args.force => {
            fsio::replace(o, &bytes, &WriteOptions::public())?;
            o.clone()
        }
        Some(o) => {
            fsio::write_new(o, &bytes, &WriteOptions::public()).map_err(|e| match e {
                fsio::FsError::Exists { path } => anyhow!(
                    "{} exists already; a proposal is never overwritten: pick another name with -o",
                    path.display()
                ),
                e => e.into(),
            })?;
            o.clone()
        }
        None => {
            let stem = ceremony::names::proposal_stem(version);
            let o = ceremony::names::free_in(Path::new(""), &stem, ".json").ok_or_else(|| {
                anyhow!("{stem}.json and the numbered names after it are all taken: give -o")
            })?;
            fsio::write_new(&o, &bytes, &WriteOptions::public())?;
            if o != Path::new(&format!("{stem}.json")) {
                println!(
                    "{stem}.json exists already (an earlier proposal for v{version}): this one is {}",
                    o.display()
                );
            }
            o
        }
    };
    print_summary(&proposal, &output);
    // A copy by hash, so that `upload` finds the proposal a bundle answers
    // wherever the files are kept; the proposal written is what counts.
    match crate::state::keep(crate::state::Kind::Proposal, &bytes) {
        Ok(kept) => println!(
            "  kept a copy as {} (`submitter upload` finds it by the bundle's proposal sha256)",
            kept.display()
        ),
        Err(e) => eprintln!(
            "warning: no copy kept in the state folder ({e:#}): give `submitter upload` the \
             proposal with --proposal {}",
            output.display()
        ),
    }
    let name = file_name(&output);
    let bundle = format!("{}.json", ceremony::names::bundle_stem(version));
    if proposal.change.role == KeyRole::Targets {
        println!(
            "next: carry {} to the offline machine, then `signer sign {name} --keys ROOT.tgz.age \
             --targets-keys TARGETS.tgz.age` (the roots are signed by the root keys; new offline \
             targets keys go into the targets keys' archive); it writes {bundle} (or the next \
             free name, which it prints): bring that back and `submitter upload {bundle}`",
            output.display(),
        );
        return Ok(());
    }
    match (&args.first_root_key, first_key) {
        (Some(path), Some(id)) => print_first_time(&proposal, &output, path, &id, &bundle),
        _ => print_next(&output, &bundle),
    }
    Ok(())
}

/// The version of the new root of the proposal's first chain (CI for a
/// Factory): what the default names carry.
fn new_version(p: &Proposal) -> u64 {
    p.chains
        .first()
        .and_then(|c| p.current_root(c).ok())
        .and_then(|r| r.version().ok())
        .and_then(next_version)
        .unwrap_or(0)
}

/// The name a file is carried under (the stick holds no folders of ours).
fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// What the operator does with the first root key, in the order it is done.
fn print_first_time(p: &Proposal, out: &Path, key: &Path, id: &str, bundle: &str) {
    let name = file_name;
    let factory = match &p.target {
        Target::Factory { factory, .. } => factory.clone(),
        _ => String::new(),
    };
    println!(
        "wrote {} (mode 0600): the Factory's first root key {id}, as the server sent it, \
         in PLAIN TEXT (fioctl's layout)",
        key.display()
    );
    println!("the first rotation, in this order:");
    println!(
        "  1. carry {} and {} to the offline machine",
        key.display(),
        out.display()
    );
    println!(
        "  2. there: `signer import {} -o keys.tgz.age` (it encrypts the key), then \
         `signer sign {} --keys keys.tgz.age` (it writes {bundle}, or the next free name, \
         which it prints)",
        name(key),
        name(out)
    );
    println!(
        "  3. destroy every online copy of {} (this machine's, the stick's once imported): \
         it holds the root key in plain text",
        key.display()
    );
    println!("  4. bring {bundle} back and `submitter upload {bundle}`");
    println!(
        "until the rotation is applied, the server of Factory {factory} still holds the first \
         root key too; cancel with `submitter cancel --factory {factory}` if you do not go on"
    );
}

fn print_summary(p: &Proposal, out: &std::path::Path) {
    println!("wrote {} ({} bytes)", out.display(), p.to_bytes().len());
    println!("  target:  {}", p.target);
    if let Some(t) = &p.txid {
        println!("  txid:    {t}");
    }
    for chain in &p.chains {
        if let Ok(cur) = p.current_root(chain) {
            let role = cur.role("root").ok();
            println!(
                "  {:<5} current v{} (expires {}), root keys {} threshold {}; {} verified root(s) in history",
                chain.name,
                cur.version().unwrap_or(0),
                cur.expires_str().unwrap_or("?"),
                role.as_ref().map_or(0, |r| r.keyids.len()),
                role.as_ref().map_or(0, |r| r.threshold),
                chain.history.len()
            );
        }
    }
    if ceremony::rotation::derives_first_prod(p) {
        println!(
            "  prod  none yet: the signer derives the first production root from the new CI root \
             (as fioctl: a copy with targets threshold 2) and shows it"
        );
    }
    let c = &p.change;
    let mut what = Vec::new();
    if c.role == KeyRole::Targets {
        what.push(format!(
            "the offline targets keys (the online targets key {} stays; threshold = production \
             targets threshold)",
            ceremony::untrusted::escape(c.online_targets_key.as_deref().unwrap_or(""))
        ));
    }
    match &c.rotate {
        Some(Rotate::All) if c.role == KeyRole::Targets => {
            what.push("rotate every offline targets key".to_string())
        }
        Some(Rotate::All) => what.push("rotate every root key".to_string()),
        Some(Rotate::Keys(k)) => what.push(format!(
            "rotate {}",
            k.iter()
                .map(|k| ceremony::untrusted::escape(k))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => {}
    }
    if c.add_keys > 0 {
        what.push(format!("add {} key(s)", c.add_keys));
    }
    if !c.remove_keys.is_empty() {
        what.push(format!("remove {}", c.remove_keys.len()));
    }
    if let Some(t) = c.threshold {
        what.push(format!("threshold {t}"));
    }
    if c.sign_staged {
        println!("  change:  sign the staged roots as they are (only signatures are added)");
    } else {
        if what.is_empty() {
            what.push("renew the expiry only".into());
        }
        println!(
            "  change:  {}; new keys {}; expires {}",
            what.join(", "),
            c.key_type.as_deref().unwrap_or("ed25519"),
            c.expires
        );
    }
}

fn print_next(out: &Path, bundle: &str) {
    let name = file_name(out);
    println!(
        "next: carry {} to the offline machine, then `signer review {name}` and `signer sign \
         {name} --keys KEYS.tgz.age`; it writes {bundle} (or the next free name, which it \
         prints): bring that back and `submitter upload {bundle}`",
        out.display(),
    );
}

fn propose_repo(
    ctx: &Ctx,
    args: &ProposeArgs,
    checked: &Checked,
    repo: &str,
    now: OffsetDateTime,
) -> Result<Proposal> {
    if args.txid.is_some() {
        return Err(UsageError("--txid is for a FoundriesFactory (--factory)".into()).into());
    }
    if args.targets {
        return Err(UsageError(
            "--role targets is for a FoundriesFactory's offline targets keys (--factory); a TUF \
             repository's root rotation changes its root keys"
                .into(),
        )
        .into());
    }
    let repo = Repo::parse(repo);
    let http = ctx.http(None)?;
    let trusted = match &args.trusted {
        Some(p) => Some(read_trusted(p, args.dialect)?),
        None => None,
    };
    let start = match &trusted {
        Some(t) => {
            let v = t.version()?;
            next_version(v).ok_or_else(|| {
                anyhow::anyhow!(
                    "the trusted root is version {v}, the largest there is: no root can follow it"
                )
            })?
        }
        None => 1,
    };
    eprintln!(
        "reading the root history from {} (from {start}.root.json until one is missing)…",
        repo.location("")
    );
    let files = walk(
        |n| repo.fetch(&http, &format!("{n}.root.json")),
        start,
        &format!("the root history at {}", repo.location("")),
        None,
    )?;
    let hint = format!(
        "run `submitter audit --repo {}` for the full report",
        repo.location("")
    );
    let (current_value, current, entries, dialect) = if files.is_empty() {
        let Some(t) = &trusted else {
            bail!(
                "{} holds no 1.root.json: point --repo at the metadata folder or URL",
                repo.location("")
            );
        };
        eprintln!("nothing newer than the trusted root: it is the current root");
        (t.envelope().clone(), t.clone(), Vec::new(), t.dialect())
    } else {
        let v = verify("root", &files, trusted.as_ref(), args.dialect, now, &hint)?;
        report_verified(&v, "");
        let current = v.roots.last().expect("not empty").clone();
        (envelope(&v.last_bytes)?, current, v.entries, v.dialect)
    };
    // root.json, where present, should be the newest versioned root.
    if let Ok(Some(bytes)) = repo.fetch(&http, "root.json") {
        match RootMetadata::from_slice(&bytes, Some(dialect)) {
            Ok(r) if same_root(&r, &current) => {}
            _ => eprintln!(
                "warning: {} is not the same as {}.root.json; clients that start from root.json see another root",
                repo.location("root.json"),
                current.version().unwrap_or(0)
            ),
        }
    }
    let change = change(args, checked, &current, dialect)?;
    Ok(Proposal {
        format: PROPOSAL_FORMAT.to_string(),
        dialect,
        target: repo.target(),
        txid: None,
        created: format_expires(now),
        chains: vec![Chain {
            name: "root".into(),
            current: current_value,
            staged: None,
            history: entries,
        }],
        change,
        polis_id: None,
        resign: None,
    })
}

fn report_verified(v: &crate::source::Verified, what: &str) {
    eprintln!(
        "verified {} {what}{}root(s) (dialect {}{}): every step holds; current is v{}",
        v.roots.len(),
        if what.is_empty() { "" } else { " " },
        v.dialect,
        if v.detected { ", detected" } else { "" },
        v.roots.last().and_then(|r| r.version().ok()).unwrap_or(0)
    );
    if let Some(e) = &v.expired {
        eprintln!(
            "warning: the current {what}{}root has expired ({e}); this rotation renews it",
            if what.is_empty() { "" } else { " " }
        );
    }
}

fn propose_factory(
    ctx: &Ctx,
    args: &ProposeArgs,
    checked: &Checked,
    name: &str,
    now: OffsetDateTime,
) -> Result<(Proposal, Option<String>)> {
    check_name(name).map_err(UsageError)?;
    if args.dialect == Some(Dialect::Tuf) {
        return Err(UsageError("a FoundriesFactory speaks the ota-tuf dialect".into()).into());
    }
    if args.trusted.is_some() {
        return Err(UsageError(
            "--trusted is for --repo; a Factory history is always checked from 1.root.json".into(),
        )
        .into());
    }
    let auth = ctx.auth()?;
    let http = ctx.http(Some(auth))?;
    let factory = Factory {
        http: &http,
        api: ctx.api(),
        name: name.to_string(),
    };
    let first_time = args.first_root_key.is_some();
    let (txid, answer) = match &args.txid {
        Some(t) => {
            eprintln!("joining the root-update transaction {t} of Factory {name}");
            (t.clone(), None)
        }
        None => {
            let message = args
                .message
                .clone()
                .unwrap_or_else(|| "TUF root rotation (tuf-ceremony)".into());
            match factory.start(&message, first_time)? {
                Ok(started) => {
                    let txid = started.txid;
                    eprintln!(
                        "started a {}root-update transaction for Factory {name}{}",
                        if first_time { "first-time " } else { "" },
                        if txid.is_empty() { String::new() } else { format!(": txid {txid}") }
                    );
                    (txid, Some(started.answer))
                }
                Err(msg) => bail!(
                    "POST {}: HTTP 409 Conflict: {msg}\nA root-update transaction is already open for Factory {name}. \
                     Join it with `submitter propose --factory {name} --txid TXID …` (ask whoever started it for the txid), \
                     or cancel it with `submitter cancel --factory {name}`.",
                    factory.updates_url()
                ),
            }
        }
    };
    let started_here = args.txid.is_none();
    let result = (|| {
        // The key is read at once (an older server sends none: nothing more
        // to do), and checked against the CI root once that is verified.
        let key = match (&args.first_root_key, &answer) {
            (Some(_), Some(a)) => Some(FirstRootKey::from_answer(a, &factory.updates_url())?),
            _ => None,
        };
        drop(answer);
        let p = factory_proposal(&factory, args, checked, &txid, now)?;
        match (&args.first_root_key, key) {
            (Some(path), Some(key)) => {
                let id = take_first_root_key(&factory, &p, &key, path)?;
                Ok((p, Some(id)))
            }
            _ => Ok((p, None)),
        }
    })();
    if result.is_err() && started_here {
        eprintln!(
            "note: the transaction {txid} stays open on the server; cancel it with `submitter cancel --factory {name}` \
             if you do not go on"
        );
    }
    result
}

/// Checks the first root key the server sent against the CI root just
/// verified, and that the change takes it out; then writes it (before the
/// proposal: the proposal is useless offline without it).
fn take_first_root_key(
    factory: &Factory,
    p: &Proposal,
    key: &FirstRootKey,
    path: &std::path::Path,
) -> Result<String> {
    let url = factory.updates_url();
    let ci = p
        .chains
        .iter()
        .find(|c| c.name == "ci")
        .and_then(|c| p.current_root(c).ok())
        .ok_or_else(|| anyhow!("internal error: the proposal has no CI chain"))?;
    let Some(id) = key.trusted_by(&ci) else {
        return Err(VerificationFailed(format!(
            "POST {url}: the server sent a first root key (fingerprint {}) that is not a root key \
             of the Factory's current CI root v{}: the Factory does not trust it, so it is not \
             written; do not sign with it",
            key.fingerprint(),
            ci.version().unwrap_or(0)
        ))
        .into());
    };
    let taken_out = match &p.change.rotate {
        Some(Rotate::All) => true,
        Some(Rotate::Keys(k)) => k.contains(&id),
        None => false,
    } || p.change.remove_keys.contains(&id);
    if !taken_out {
        bail!(
            "the first root key is {id}, and the change neither rotates nor removes it: the server \
             holds a copy of it; give --rotate-all, or --rotate {id}"
        );
    }
    key.write(path)?;
    Ok(id)
}

fn factory_proposal(
    factory: &Factory,
    args: &ProposeArgs,
    checked: &Checked,
    txid: &str,
    now: OffsetDateTime,
) -> Result<Proposal> {
    let name = &factory.name;
    let tx = factory.transaction()?;
    if tx.status != "STARTED" {
        bail!(
            "the root-update transaction of Factory {name} is {} (expected STARTED): {}",
            tx.status,
            if tx.status == "NONE" {
                "none is open; start one by running propose without --txid"
            } else {
                "wait until it is finished, or cancel it with `submitter cancel`"
            }
        );
    }
    let polis_id = factory.polis_id()?;
    let hint = format!("run `submitter audit --factory {name}` for the full report");
    let mut chains = Vec::new();
    let mut ci_current: Option<RootMetadata> = None;
    for (chain, prod) in [("ci", false), ("prod", true)] {
        let (tx_current, staged) = if prod {
            (&tx.current_prod, &tx.updated_prod)
        } else {
            (&tx.current_ci, &tx.updated_ci)
        };
        eprintln!("reading the {chain} root history of Factory {name}…");
        let files = walk(
            |n| Ok(factory.root(prod, Some(n))?),
            1,
            &format!("the {chain} root history of Factory {name}"),
            tx_current.as_ref().and_then(|c| c.root.version().ok()),
        )?;
        if prod && files.is_empty() {
            // A Factory with no production root yet: the proposal holds the
            // CI chain only, and the signer derives the production root from
            // the new CI root as fioctl does, and shows it.
            // A production root.json without 1.root.json is a history we
            // cannot walk, not the absence of one.
            if tx_current.is_some() || staged.is_some() || factory.root(true, None)?.is_some() {
                bail!(
                    "Factory {name} serves no production root history ({} does not exist), but \
                     its transaction or root.json names a production root: the server contradicts \
                     itself, and the production chain cannot be verified; nothing was written",
                    factory.root_location(true, 1)
                );
            }
            eprintln!(
                "Factory {name} has no production root yet ({} does not exist): the proposal \
                 holds the CI chain only; the signer derives the production root from the new \
                 CI root, as fioctl does, and shows it",
                factory.root_location(true, 1)
            );
            continue;
        }
        let v = verify(chain, &files, None, Some(Dialect::OtaTuf), now, &hint)?;
        report_verified(&v, chain);
        let last = v.roots.last().expect("verify refuses an empty history");
        let current = match tx_current {
            Some(c) if same_root(&c.root, last) => last.clone(),
            Some(c) => bail!(
                "the transaction's current {chain} root (v{}) is not the newest root of the history (v{}): \
                 the Factory changed while reading; run propose again",
                c.root.version().unwrap_or(0),
                last.version().unwrap_or(0)
            ),
            None => last.clone(),
        };
        let staged_value = match staged {
            Some(s) => {
                let sv = s.root.version()?;
                let cv = current.version()?;
                let Some(next) = next_version(cv) else {
                    bail!("the current {chain} root is version {cv}, the largest there is: no root can follow it");
                };
                if sv != next {
                    bail!(
                        "the server staged {chain} version {sv}, but the current root is version {cv}; \
                         a new root must be version {next}"
                    );
                }
                Some(envelope(&s.bytes)?)
            }
            None => None,
        };
        if !prod {
            ci_current = Some(current.clone());
        }
        chains.push(Chain {
            name: chain.into(),
            current: envelope(&v.last_bytes)?,
            staged: staged_value,
            history: v.entries,
        });
    }
    let ci = ci_current.expect("ci chain read");
    let change = if args.sign_staged {
        sign_staged_change(&chains, txid)?
    } else if args.targets {
        // The keys are edited in the staged CI root where there is one,
        // as the signer builds on it.
        let base = match &tx.updated_ci {
            Some(s) => s.root.clone(),
            None => ci.clone(),
        };
        targets_change(args, checked, &base, tx.online_targets.as_deref(), name)?
    } else {
        change(args, checked, &ci, Dialect::OtaTuf)?
    };
    // A targets key rotation re-signs the production and wave targets the
    // replaced key signed: they cross as served, the signer chooses.
    // Signing staged roots that change the offline targets keys (the root
    // keys' holder's half of a targets change made on two machines): the
    // files cross with the signatures the transaction holds, for the signer
    // to check under the staged CI root.
    let staged_targets_change = change.sign_staged
        && (!tx.staged_signatures.is_empty() || staged_targets_keys_differ(&chains)?);
    let resign =
        if change.role == KeyRole::Targets && change.rotate.is_some() || staged_targets_change {
            eprintln!("reading the production and wave targets of Factory {name}…");
            let r = ceremony::resign::Resign {
                prod: factory.targets_list("prod-targets")?,
                waves: factory.targets_list("wave-targets")?,
                staged: tx.staged_signatures.clone(),
            };
            eprintln!(
            "  {} production and {} wave targets file(s): the signer re-signs those a replaced \
             offline targets key signed",
            r.prod.len(),
            r.waves.len()
        );
            Some(r)
        } else {
            None
        };
    Ok(Proposal {
        format: PROPOSAL_FORMAT.to_string(),
        dialect: Dialect::OtaTuf,
        target: Target::Factory {
            factory: name.clone(),
            api: factory.api.clone(),
        },
        txid: Some(txid.to_string()),
        created: format_expires(now),
        chains,
        change,
        polis_id,
        resign,
    })
}

/// Whether a staged CI root lists other targets keys than its current root.
fn staged_targets_keys_differ(chains: &[Chain]) -> Result<bool> {
    let Some(ci) = chains.iter().find(|c| c.name == "ci") else {
        return Ok(false);
    };
    let Some(staged) = &ci.staged else {
        return Ok(false);
    };
    let ids = |v: &Value| v.pointer("/signed/roles/targets/keyids").cloned();
    Ok(ids(staged) != ids(&ci.current))
}

/// The change of `--role targets`, as fioctl's `--role=targets` commands
/// make it: ids resolved among the offline targets keys (the targets role
/// but the online key the server names), the production targets threshold
/// checked against the keys the change leaves.
fn targets_change(
    args: &ProposeArgs,
    c: &Checked,
    ci: &RootMetadata,
    online: Option<&str>,
    name: &str,
) -> Result<Change> {
    let Some(online) = online else {
        bail!(
            "the transaction of Factory {name} does not name its online targets key \
             (updated.online-keys.targets): without it the offline targets keys cannot be told \
             from the online one, and nothing is proposed (fioctl refuses too: \"Unable to find \
             online Target key for Factory\")"
        );
    };
    let role = ci.role("targets")?;
    if !role.keyids.iter().any(|k| k == online) {
        return Err(VerificationFailed(format!(
            "the server names {online} as the online targets key, but the CI root's targets role \
             does not list it ({}): the server contradicts its root; nothing was written",
            role.keyids.join(", ")
        ))
        .into());
    }
    let offline: Vec<String> = role
        .keyids
        .iter()
        .filter(|k| *k != online)
        .cloned()
        .collect();
    let resolve = |given: &[String], flag: &str| -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for g in given {
            let g = g.to_ascii_lowercase();
            if g == online || (g.len() >= 8 && online.starts_with(&g)) {
                return Err(UsageError(format!(
                    "{flag} {g}: that is the online targets key, which the server holds; only \
                     offline targets keys are rotated or removed"
                ))
                .into());
            }
            let m: Vec<&String> = offline
                .iter()
                .filter(|id| **id == g || (g.len() >= 8 && id.starts_with(&g)))
                .collect();
            match m.as_slice() {
                [one] if !out.contains(one) => out.push((*one).clone()),
                [one] => return Err(UsageError(format!("{flag} names key {one} twice")).into()),
                [] => {
                    return Err(UsageError(format!(
                        "{flag} {g}: not an offline targets key of CI v{}; offline targets keys \
                         are: {}",
                        ci.version().unwrap_or(0),
                        if offline.is_empty() {
                            "none (only the online key signs targets)".to_string()
                        } else {
                            offline.join(", ")
                        }
                    ))
                    .into())
                }
                _ => {
                    return Err(UsageError(format!(
                        "{flag} {g}: ambiguous prefix; give more digits"
                    ))
                    .into())
                }
            }
        }
        Ok(out)
    };
    let rotate = if args.rotate_all {
        Some(Rotate::All)
    } else if !args.rotate.is_empty() {
        Some(Rotate::Keys(resolve(&args.rotate, "--rotate")?))
    } else {
        None
    };
    let remove_keys = resolve(&args.remove, "--remove")?;
    if let Some(Rotate::Keys(r)) = &rotate {
        if let Some(both) = remove_keys.iter().find(|k| r.contains(k)) {
            return Err(UsageError(format!(
                "key {both} is both rotated and removed: choose one"
            ))
            .into());
        }
    }
    if matches!(rotate, Some(Rotate::All)) && !remove_keys.is_empty() {
        return Err(UsageError("--remove cannot be combined with --rotate-all".into()).into());
    }
    let rotated = match &rotate {
        None => 0,
        Some(Rotate::All) => offline.len().max(1),
        Some(Rotate::Keys(k)) => k.len(),
    };
    let after_offline = offline.len().saturating_sub(match &rotate {
        Some(Rotate::All) => offline.len(),
        Some(Rotate::Keys(k)) => k.len(),
        None => 0,
    }) - remove_keys.len().min(offline.len())
        + rotated
        + args.add as usize;
    // The production targets threshold is at least 2 (fioctl's
    // set-threshold minimum) and the online key is one key: with no offline
    // targets key left, no production release could meet it, and the server
    // refuses the deletion. Refused here before the change is written.
    if !offline.is_empty() && after_offline == 0 {
        return Err(UsageError(format!(
            "this change removes the last offline targets key ({}): the production targets \
             (threshold at least 2) would then be signed by the online key alone, which no \
             production release can meet, and the server refuses it. Add another offline \
             targets key first (--add 1), or replace this one (--rotate ID)",
            offline.join(", ")
        ))
        .into());
    }
    if let Some(t) = args.threshold {
        if t as usize > after_offline + 1 {
            return Err(UsageError(format!(
                "--threshold {t}: the production targets role would have {} key(s) (the online \
                 key and {after_offline} offline), which cannot meet it; add offline targets keys \
                 in the same change (--add N)",
                after_offline + 1
            ))
            .into());
        }
    }
    Ok(Change {
        rotate,
        add_keys: args.add,
        remove_keys,
        key_type: c.key_type.clone(),
        threshold: args.threshold,
        expires: c.expires.clone(),
        message: args.message.clone(),
        role: KeyRole::Targets,
        online_targets_key: Some(online.to_string()),
        ..Change::default()
    })
}

/// The change of `--sign-staged`: nothing but the flag, once the server has
/// staged a root for every chain (fioctl's `updates sign` signs
/// `updated.ci-root` and `updated.prod-root`).
fn sign_staged_change(chains: &[Chain], txid: &str) -> Result<Change> {
    if let Some(c) = chains.iter().find(|c| c.staged.is_none()) {
        bail!(
            "--sign-staged: the transaction {txid} has no staged {} root to sign: nobody has \
             prepared the change yet. Propose the change itself instead (e.g. --rotate KEYID), or \
             have its author stage it (`fioctl keys tuf updates rotate-offline-key …`)",
            c.name
        );
    }
    Ok(Change {
        sign_staged: true,
        ..Change::default()
    })
}
