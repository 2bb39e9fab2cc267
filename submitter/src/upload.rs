//! `submitter upload`: check the signed bundle against its proposal and the
//! repository's current state, send it, and confirm the repository now serves
//! exactly what was signed.
//!
//! Every check that needs no network runs before the first request: a bundle
//! that answers another proposal, targets another repository, or does not
//! meet every threshold never reaches a server. Running `upload` again is
//! always safe: it first looks at what the server holds, and a bundle that is
//! already applied is only confirmed.

use ceremony_cli::{eprintln, println};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use time::OffsetDateTime;

use ceremony::bundle::Bundle;
use ceremony::bundle_check::{bundle_status, check_answers, same_root, same_signed};
use ceremony::fingerprint::Labelled;
use ceremony::proposal::{Proposal, Target};
use ceremony::rules::check_step;
use ceremony::RootMetadata;

use crate::factory::Factory;
use crate::http::{Http, HttpError};
use crate::source::Repo;
use crate::state::Kind;
use crate::{Ctx, UsageError, VerificationFailed};
use ceremony::fsio::{self, WriteOptions};

/// What `upload` was asked for.
pub struct UploadArgs {
    pub bundle: PathBuf,
    pub proposal: Option<PathBuf>,
    pub out_dir: Option<PathBuf>,
}

/// A bundle checked against its proposal: the chains' current and new roots.
pub struct Checked {
    pub proposal: Proposal,
    /// (chain name, current root, new root)
    pub chains: Vec<(String, RootMetadata, RootMetadata)>,
    /// Every threshold is met. A Factory bundle short only of other
    /// holders' signatures is still put into the transaction, keeping the
    /// signatures there, and applied once both thresholds are met.
    pub complete: bool,
    /// A targets key rotation's signatures of production and wave targets,
    /// checked against the proposal's files and the new CI root, for the
    /// PUT (`targets-signatures`, `waves-signatures`).
    pub resigned: (Value, Value),
}

/// The bundle's signatures of production and wave targets, checked: each
/// by a targets key of the new CI root, over a file the proposal carries.
fn resigned(
    proposal: &Proposal,
    bundle: &ceremony::bundle::Bundle,
    chains: &[(String, RootMetadata, RootMetadata)],
) -> Result<(Value, Value)> {
    use ceremony::resign::{check_signatures, Kind};
    if bundle.targets_signatures.is_empty() && bundle.waves_signatures.is_empty() {
        // Signing staged roots of a targets change made on two machines:
        // the targets signatures the transaction held when the proposal was
        // made (checked by the signer under the staged CI root) go up again
        // with the roots, checked here too, so that the apply does not hang
        // on the server keeping an earlier PUT's.
        let staged = proposal.resign.as_ref().map(|r| &r.staged);
        if let Some(st) = staged.filter(|s| proposal.change.sign_staged && !s.is_empty()) {
            let Some((_, _, new_ci)) = chains.iter().find(|(n, _, _)| n == "ci") else {
                bail!("the bundle signs staged roots of a targets change, but has no CI root");
            };
            for (kind, sigs) in [(Kind::Prod, &st.prod), (Kind::Wave, &st.waves)] {
                check_signatures(proposal.resign.as_ref(), kind, sigs, new_ci).map_err(|e| {
                    VerificationFailed(format!("the transaction's targets signatures: {e}"))
                })?;
            }
            return Ok((
                serde_json::to_value(&st.prod)?,
                serde_json::to_value(&st.waves)?,
            ));
        }
        return Ok((Value::Null, Value::Null));
    }
    let Some((_, _, new_ci)) = chains.iter().find(|(n, _, _)| n == "ci") else {
        bail!("the bundle signs production targets, but has no CI root");
    };
    for (kind, sigs) in [
        (Kind::Prod, &bundle.targets_signatures),
        (Kind::Wave, &bundle.waves_signatures),
    ] {
        check_signatures(proposal.resign.as_ref(), kind, sigs, new_ci)
            .map_err(|e| VerificationFailed(format!("the bundle's targets signatures: {e}")))?;
    }
    Ok((
        serde_json::to_value(&bundle.targets_signatures)?,
        serde_json::to_value(&bundle.waves_signatures)?,
    ))
}

/// The folder a file is in (`.` for a bare name).
fn folder_of(file: &Path) -> &Path {
    file.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Reads a proposal file (exact bytes kept for its hash).
pub fn read_proposal(path: &Path) -> Result<(Vec<u8>, Proposal)> {
    let bytes = fsio::read_bounded(path, ceremony::crossing::MAX_CROSSING_FILE as u64)
        .with_context(|| {
            "the proposal is needed to check the bundle (give it with --proposal FILE)".to_string()
        })?;
    let p = Proposal::from_slice(&bytes)
        .with_context(|| format!("{} is not a usable proposal", path.display()))?;
    Ok((bytes, p))
}

/// The proposal a bundle answers: `--proposal`, else the one whose sha256
/// the bundle names, kept in the state folder by `propose` or found beside
/// the bundle or here (`proposal*.json`, each hashed). A copy is used only
/// when its bytes hash to the bundle's `proposal_sha256`.
pub fn find_proposal(
    bundle_path: &Path,
    bundle: &Bundle,
    given: Option<&Path>,
) -> Result<(PathBuf, Vec<u8>, Proposal)> {
    if let Some(p) = given {
        let (bytes, proposal) = read_proposal(p)?;
        return Ok((p.to_path_buf(), bytes, proposal));
    }
    let sha = &bundle.proposal_sha256;
    let folders = [folder_of(bundle_path), Path::new(".")];
    let folders: &[&Path] = if folders[0] == folders[1] {
        &folders[..1]
    } else {
        &folders
    };
    let Some((path, bytes)) = crate::state::locate(Kind::Proposal, sha, "proposal", folders) else {
        return Err(anyhow!(
            "the proposal {} answers (sha256 {}) was not found; looked in: {}. Give it with \
             --proposal FILE (the file `submitter propose` wrote); nothing was sent",
            bundle_path.display(),
            ceremony::untrusted::escape(sha),
            crate::state::looked_in(Kind::Proposal, "proposal", folders)
        ));
    };
    let proposal = Proposal::from_slice(&bytes)
        .with_context(|| format!("{} is not a usable proposal", path.display()))?;
    eprintln!(
        "the proposal this bundle answers: {} (sha256 {sha})",
        path.display()
    );
    Ok((path, bytes, proposal))
}

/// Reads a bundle file.
pub fn read_bundle(path: &Path) -> Result<Bundle> {
    let bytes = fsio::read_bounded(path, ceremony::crossing::MAX_CROSSING_FILE as u64)?;
    Bundle::from_slice(&bytes).with_context(|| format!("{} is not a usable bundle", path.display()))
}

/// Every check that needs no network.
pub fn check_offline(
    bundle_path: &Path,
    proposal: Option<&Path>,
    now: OffsetDateTime,
) -> Result<Checked> {
    let bundle = read_bundle(bundle_path)?;
    let (ppath, pbytes, proposal) = find_proposal(bundle_path, &bundle, proposal)?;
    check_answers(&pbytes, &proposal, &bundle).map_err(|e| {
        VerificationFailed(format!(
            "{} does not answer {}: {e}; nothing was sent",
            bundle_path.display(),
            ppath.display()
        ))
    })?;
    let status = bundle_status(&proposal, &bundle, now)?;
    let factory = matches!(proposal.target, Target::Factory { .. });
    // A partial bundle goes up only when what it carries is sound: every
    // signature under a root key id verifies, and some key signed each root
    // (a bundle no key signed, or one edited after signing, is refused
    // below, before any request).
    // The targets keys' holder's half of a targets change (no `--keys`)
    // signs no root: what it brings is the new key in the roots and the
    // targets signatures, checked below under that key.
    let targets_half = proposal.change.role == ceremony::proposal::KeyRole::Targets;
    let sound = status.chains.iter().all(|c| {
        c.verdict.thresholds.iter().all(|t| t.invalid.is_empty())
            && (targets_half || c.verdict.thresholds.iter().any(|t| !t.signed.is_empty()))
    });
    if !status.complete() && factory && status.only_signatures_missing() && sound {
        eprintln!(
            "the bundle is partial: {}; it goes into the transaction with the signatures other \
             holders put there, and is applied only once every threshold is met",
            status.problems().join("; ")
        );
        let chains = ceremony::bundle_check::chain_pairs(&proposal, &bundle)?;
        let resigned = resigned(&proposal, &bundle, &chains)?;
        return Ok(Checked {
            proposal,
            chains,
            complete: false,
            resigned,
        });
    }
    if !status.complete() {
        let problems = status.problems().join("\n  ");
        let advice = if status.only_signatures_missing() {
            "signatures are missing: have the other root key holders sign (`signer sign`) and combine \
             the bundles with `submitter merge`"
        } else {
            "the new root breaks the rotation rules: make a new proposal and sign it again"
        };
        return Err(VerificationFailed(format!(
            "the bundle does not pass the rotation rules, so nothing was sent:\n  {problems}\n{advice}"
        ))
        .into());
    }
    if !bundle.complete {
        eprintln!("note: the bundle says it is incomplete, but every threshold is met; going on");
    }
    let chains = ceremony::bundle_check::chain_pairs(&proposal, &bundle)?;
    let resigned = resigned(&proposal, &bundle, &chains)?;
    Ok(Checked {
        proposal,
        chains,
        complete: true,
        resigned,
    })
}

/// Runs `upload`, and once the new roots are live says what the operator
/// has now.
pub fn run(ctx: &Ctx, args: UploadArgs) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    let checked = check_offline(&args.bundle, args.proposal.as_deref(), now)?;
    let live = send(ctx, &args, &checked, now)?;
    if let Some(live) = live {
        closing_summary(&args.bundle, &checked, &live);
    }
    Ok(())
}

/// What is served after an upload, read back; `None` while the new roots
/// are not live (a partial bundle waiting for other holders, files
/// written for a repository's admin to copy).
fn live_now(ctx: &Ctx, checked: &Checked) -> Result<Option<String>> {
    match checked.proposal.target.clone() {
        Target::Factory { factory, api } => {
            let auth = ctx.auth()?;
            let http = ctx.http(Some(auth))?;
            let f = Factory {
                http: &http,
                api,
                name: factory.clone(),
            };
            let (_, new_ci) = chain_roots(checked, "ci")?;
            let (_, new_prod) = chain_roots(checked, "prod")?;
            let o = observe(&f)?;
            Ok(
                (same_root(&o.ci, new_ci) && prod_is(&o.prod, new_prod)).then(|| {
                    format!(
                        "Factory {factory} serves CI root v{} and prod root v{}, the bundle's \
                         (read back just now)",
                        new_ci.version().unwrap_or(0),
                        new_prod.version().unwrap_or(0)
                    )
                }),
            )
        }
        Target::TufDir { path } => {
            let (_, _, new) = &checked.chains[0];
            let v = new.version()?;
            let file = Path::new(&path).join(format!("{v}.root.json"));
            let served = fsio::read_bounded(&file, 8 << 20)
                .ok()
                .and_then(|b| RootMetadata::from_slice(&b, Some(new.dialect())).ok());
            Ok(served.filter(|r| same_root(r, new)).map(|_| {
                format!(
                    "{} holds root v{v}, the bundle's, as {v}.root.json and root.json (read back)",
                    path
                )
            }))
        }
        Target::TufHttp { url } => {
            let http = ctx.http(None)?;
            let (_, _, new) = &checked.chains[0];
            let v = new.version()?;
            let name = format!("{v}.root.json");
            let repo = Repo::parse(&url);
            let served = repo
                .fetch(&http, &name)?
                .and_then(|b| RootMetadata::from_slice(&b, Some(new.dialect())).ok());
            Ok(served.filter(|r| same_root(r, new)).map(|_| {
                format!(
                    "{} serves root v{v}, the bundle's (read back)",
                    repo.location(&name)
                )
            }))
        }
    }
}

/// The end of a ceremony: what is live, which archive is current from now
/// on, and which files to destroy or escrow. The archive's name is read
/// from the transcript beside the bundle when that transcript's signed head
/// is the one the bundle carries (it is this ceremony's); it is only shown,
/// escaped.
fn closing_summary(bundle_path: &Path, checked: &Checked, live: &str) {
    let recorded = recorded_archives(bundle_path);
    let version = checked
        .chains
        .first()
        .and_then(|(_, _, new)| new.version().ok())
        .unwrap_or(0);
    println!();
    println!("Done. Live now: {live}.");
    match &recorded {
        Some(r) => {
            println!(
                "Current archive from now on: {} (the new archive `signer sign` wrote, as its \
                 transcript {} records): it holds the keys and the trust anchor of v{version}.",
                ceremony::untrusted::escape(&r.new_archive),
                r.transcript.display()
            );
            println!(
                "Retire: {} (the archive it replaced; its anchor is superseded by v{version}): \
                 destroy it once the current archive is escrowed.",
                ceremony::untrusted::escape(&r.old_archive)
            );
        }
        None => {
            println!(
                "Current archive from now on: the new archive `signer sign` wrote (it printed its \
                 name: keys-<UTC time>.tgz.age beside the old one, or --new-archive); it holds the \
                 keys and the trust anchor of v{version}."
            );
            println!(
                "Retire: the archive given to `signer sign --keys` (superseded by v{version}): \
                 destroy it once the current archive is escrowed."
            );
        }
    }
    println!(
        "Escrow: a copy of the current archive (its passphrase kept apart), as your key-custody \
         policy says; keep {} and its transcript with the ceremony's records.",
        bundle_path.display()
    );
    println!(
        "Destroy: any plain keys tarball on any disk (fioctl's factory-keys.tgz, a \
         --first-root-key file, a `signer export` tarball): it holds root keys unencrypted."
    );
}

/// The archives a bundle's own transcript names.
struct Recorded {
    transcript: PathBuf,
    old_archive: String,
    new_archive: String,
}

fn recorded_archives(bundle_path: &Path) -> Option<Recorded> {
    use ceremony::transcript::Event;
    let bundle = read_bundle(bundle_path).ok()?;
    let head = bundle.transcript_head.as_ref()?;
    let transcript = ceremony::names::transcript_for(bundle_path);
    let bytes = fsio::read_bounded(&transcript, 64 << 20).ok()?;
    let t = ceremony::transcript::read(&bytes).ok()?;
    if t.signed_head.as_ref() != Some(head) {
        return None;
    }
    let old_archive = t.entries.iter().find_map(|e| match &e.event {
        Event::Start(s) => Some(s.command.keys.clone()),
        _ => None,
    })?;
    let new_archive = t.entries.iter().rev().find_map(|e| match &e.event {
        Event::ArchiveWritten(a) => Some(a.path.clone()),
        _ => None,
    })?;
    Some(Recorded {
        transcript,
        old_archive,
        new_archive,
    })
}

/// Sends the bundle where its proposal says; what is live afterwards.
fn send(
    ctx: &Ctx,
    args: &UploadArgs,
    checked: &Checked,
    now: OffsetDateTime,
) -> Result<Option<String>> {
    for (name, cur, new) in &checked.chains {
        eprintln!(
            "checked {name}: v{} → v{}, {}, expires {}",
            cur.version().unwrap_or(0),
            new.version().unwrap_or(0),
            if checked.complete {
                "both thresholds met"
            } else {
                "partial"
            },
            new.expires_str().unwrap_or("?")
        );
    }
    let again = format!(
        "Running `submitter upload {}` again is safe: it looks at the server first.",
        args.bundle.display()
    );
    match checked.proposal.target.clone() {
        Target::Factory { factory, api } => {
            if args.out_dir.is_some() {
                return Err(UsageError(
                    "--out-dir is for TUF repositories served over HTTP".into(),
                )
                .into());
            }
            let auth = ctx.auth()?;
            let http = ctx.http(Some(auth))?;
            let f = Factory {
                http: &http,
                api,
                name: factory,
            };
            // Signing the staged roots as they are, even a complete bundle
            // keeps the signatures already staged, and is refused when the
            // staged body changed since the proposal.
            if checked.complete && !checked.proposal.change.sign_staged {
                upload_factory(&f, checked, now, &again)?
            } else {
                crate::cosign::upload_partial(&f, checked, now, &again)?
            }
        }
        Target::TufDir { path } => {
            if args.out_dir.is_some() {
                return Err(UsageError(
                    "--out-dir is for a repository served over HTTP; this proposal names a folder"
                        .into(),
                )
                .into());
            }
            let (_, cur, new) = &checked.chains[0];
            upload_dir(Path::new(&path), cur, new, now)?
        }
        Target::TufHttp { url } => {
            let http = ctx.http(None)?;
            let (_, cur, new) = &checked.chains[0];
            upload_http(
                &http,
                &url,
                cur,
                new,
                args.out_dir.as_deref(),
                &args.bundle,
                now,
            )?
        }
    }
    // The upload is done and confirmed; not being able to say what is live
    // does not undo it.
    Ok(live_now(ctx, checked).unwrap_or_else(|e| {
        eprintln!("note: what is live now could not be read back ({e:#})");
        None
    }))
}

fn root_file_bytes(root: &RootMetadata) -> Vec<u8> {
    root.to_bytes()
}

// ---------------------------------------------------------------- TUF ----

pub(crate) fn confirm_file(
    bytes: &[u8],
    what: &str,
    current: &RootMetadata,
    new: &RootMetadata,
    now: OffsetDateTime,
) -> Result<()> {
    let fetched = RootMetadata::from_slice(bytes, Some(new.dialect())).map_err(|e| {
        VerificationFailed(format!("{what} is not a usable root after the upload: {e}"))
    })?;
    if !same_root(&fetched, new) {
        return Err(VerificationFailed(format!("{what} is not the root that was uploaded")).into());
    }
    let v = check_step(Some(current), &fetched, Some(now));
    if !v.ok() {
        let f = v.first_failure().expect("failing");
        return Err(
            VerificationFailed(format!("{what} breaks rule {}: {}", f.rule, f.message)).into(),
        );
    }
    Ok(())
}

fn upload_dir(
    dir: &Path,
    current: &RootMetadata,
    new: &RootMetadata,
    now: OffsetDateTime,
) -> Result<()> {
    let n = current.version()?;
    // The rules checked that the new root is exactly one version on (no
    // arithmetic here that could overflow).
    let next = new.version()?;
    let cur_path = dir.join(format!("{n}.root.json"));
    let new_path = dir.join(format!("{next}.root.json"));
    let on_disk = fsio::read_bounded(&cur_path, 8 << 20).with_context(|| {
        format!(
            "the repository's current root {} is gone",
            cur_path.display()
        )
    })?;
    match RootMetadata::from_slice(&on_disk, Some(current.dialect())) {
        Ok(r) if same_root(&r, current) => {}
        _ => {
            return Err(VerificationFailed(format!(
                "{} is no longer the root the proposal was made from; nothing was written: make a new proposal",
                cur_path.display()
            ))
            .into())
        }
    }
    if new_path.exists() {
        let there = fsio::read_bounded(&new_path, 8 << 20)?;
        match RootMetadata::from_slice(&there, Some(new.dialect())) {
            Ok(r) if same_root(&r, new) => {
                eprintln!("{} already holds this bundle's root: nothing to write", new_path.display());
                ensure_root_json(dir, new)?;
                confirm_file(&there, &new_path.display().to_string(), current, new, now)?;
                println!("already uploaded: {} is this bundle's root v{next}", new_path.display());
                return Ok(());
            }
            _ => {
                return Err(VerificationFailed(format!(
                    "{} already exists and is another root: someone rotated the repository since the proposal \
                     was made; nothing was written. Make a new proposal.",
                    new_path.display()
                ))
                .into())
            }
        }
    }
    let bytes = root_file_bytes(new);
    fsio::write_new(&new_path, &bytes, &WriteOptions::public())?;
    eprintln!("wrote {}", new_path.display());
    ensure_root_json(dir, new)?;
    let back = fsio::read_bounded(&new_path, 8 << 20)?;
    confirm_file(&back, &new_path.display().to_string(), current, new, now)?;
    println!(
        "uploaded: {} (v{next}) and root.json; read back and checked against v{n}: both thresholds met",
        new_path.display()
    );
    print_root(&back, new, "root");
    Ok(())
}

fn ensure_root_json(dir: &Path, new: &RootMetadata) -> Result<()> {
    let path = dir.join("root.json");
    if let Ok(bytes) = std::fs::read(&path) {
        if let Ok(r) = RootMetadata::from_slice(&bytes, Some(new.dialect())) {
            if same_root(&r, new) {
                return Ok(());
            }
            if r.version().unwrap_or(0) > new.version().unwrap_or(0) {
                eprintln!("warning: {} is a newer root; left as it is", path.display());
                return Ok(());
            }
        }
    }
    fsio::replace(&path, &root_file_bytes(new), &WriteOptions::public())?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

fn upload_http(
    http: &Http,
    url: &str,
    current: &RootMetadata,
    new: &RootMetadata,
    out_dir: Option<&Path>,
    bundle: &Path,
    now: OffsetDateTime,
) -> Result<()> {
    let repo = Repo::parse(url);
    let n = current.version()?;
    // Checked by the rules to be exactly one version on (no arithmetic
    // here that could overflow).
    let next = new.version()?;
    let new_name = format!("{next}.root.json");
    let cur_name = format!("{n}.root.json");
    match repo.fetch(http, &cur_name)? {
        Some(b) => match RootMetadata::from_slice(&b, Some(current.dialect())) {
            Ok(r) if same_root(&r, current) => {}
            _ => {
                return Err(VerificationFailed(format!(
                    "{} is no longer the root the proposal was made from; nothing was sent: make a new proposal",
                    repo.location(&cur_name)
                ))
                .into())
            }
        },
        None => bail!("{} is gone (404): the repository moved or was reset", repo.location(&cur_name)),
    }
    if let Some(b) = repo.fetch(http, &new_name)? {
        return match RootMetadata::from_slice(&b, Some(new.dialect())) {
            Ok(r) if same_root(&r, new) => {
                confirm_file(&b, &repo.location(&new_name), current, new, now)?;
                println!("already uploaded: {} serves this bundle's root", repo.location(&new_name));
                Ok(())
            }
            _ => Err(VerificationFailed(format!(
                "{} already exists and is another root: someone rotated the repository since the proposal was made. \
                 Make a new proposal.",
                repo.location(&new_name)
            ))
            .into()),
        };
    }
    let bytes = root_file_bytes(new);
    if let Some(dir) = out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let p = dir.join(&new_name);
        match std::fs::read(&p) {
            Ok(existing) if existing == bytes => {}
            Ok(_) => bail!(
                "{} already exists with other content; it is never replaced",
                p.display()
            ),
            Err(_) => fsio::write_new(&p, &bytes, &WriteOptions::public())?,
        }
        fsio::replace(&dir.join("root.json"), &bytes, &WriteOptions::public())?;
        eprintln!(
            "wrote {} and {}",
            p.display(),
            dir.join("root.json").display()
        );
        match repo.fetch(http, &new_name)? {
            Some(b) => {
                confirm_file(&b, &repo.location(&new_name), current, new, now)?;
                println!(
                    "uploaded: {} now serves v{} (read back over HTTP and checked against v{n})",
                    repo.location(&new_name),
                    next
                );
            }
            None => println!(
                "wrote {new_name} and root.json to {}. Copy both into the repository's metadata folder (served at {url}); \
                 then `submitter audit --repo {url}` confirms the new root is served.",
                dir.display()
            ),
        }
        return Ok(());
    }
    let put_url = format!(
        "{}{new_name}",
        match &repo {
            Repo::Http(u) => u.as_str(),
            Repo::Dir(_) => url,
        }
    );
    let answer = http.send("PUT", &put_url, Some(&bytes));
    match answer {
        Ok(a) if a.ok() => {}
        Ok(a) if (400..500).contains(&a.status) || a.status == 501 => {
            let err = HttpError {
                method: "PUT",
                url: put_url.clone(),
                status: Some(a.status),
                message: crate::http::server_message(&a.body),
                attempts: 1,
                hint: a.hint,
            };
            bail!(
                "not supported: {url} does not accept uploads ({err}).\nCopy these files into the repository's \
                 metadata folder (the one served at {url}): {new_name} and root.json (both hold root v{}).\n\
                 Write them here with: submitter upload {} --out-dir DIR",
                next,
                bundle.display()
            );
        }
        Ok(a) => {
            let err = Http::expect_ok("PUT", &put_url, a).expect_err("not ok");
            settle_http(http, &repo, &new_name, current, new, now, &err.to_string())?;
        }
        Err(e) => settle_http(http, &repo, &new_name, current, new, now, &e.to_string())?,
    }
    let root_url = format!(
        "{}root.json",
        match &repo {
            Repo::Http(u) => u.as_str(),
            Repo::Dir(_) => url,
        }
    );
    match http.send("PUT", &root_url, Some(&bytes)) {
        Ok(a) if a.ok() => {}
        Ok(a) => eprintln!(
            "warning: {new_name} was stored but root.json was not ({}); clients that read root.json still see v{n}",
            Http::expect_ok("PUT", &root_url, a).expect_err("not ok")
        ),
        Err(e) => eprintln!("warning: {new_name} was stored but root.json may not be ({e})"),
    }
    let b = repo.fetch(http, &new_name)?.ok_or_else(|| {
        anyhow!(
            "{} is not served after the upload",
            repo.location(&new_name)
        )
    })?;
    confirm_file(&b, &repo.location(&new_name), current, new, now)?;
    println!(
        "uploaded: {} serves v{} (read back and checked)",
        repo.location(&new_name),
        next
    );
    print_root(&b, new, "root");
    Ok(())
}

fn settle_http(
    http: &Http,
    repo: &Repo,
    name: &str,
    current: &RootMetadata,
    new: &RootMetadata,
    now: OffsetDateTime,
    err: &str,
) -> Result<()> {
    eprintln!("{err}; checking whether the file was stored…");
    match repo.fetch(http, name) {
        Ok(Some(b)) if confirm_file(&b, name, current, new, now).is_ok() => Ok(()),
        Ok(_) => bail!(
            "{err}\nthe server does not serve {name}: nothing was uploaded; running upload again is safe"
        ),
        Err(e) => bail!("{err}\ncannot tell whether {name} was stored ({e}); running upload again is safe"),
    }
}

// ------------------------------------------------------------ Factory ----

pub(crate) struct Ours<'a> {
    pub(crate) current_ci: &'a RootMetadata,
    /// For a Factory with no production root yet, the CI root (its first
    /// production root replaces it: `first_prod`).
    pub(crate) current_prod: &'a RootMetadata,
    pub(crate) new_ci: &'a RootMetadata,
    pub(crate) new_prod: &'a RootMetadata,
    /// The Factory has no production root yet; the bundle brings its first.
    pub(crate) first_prod: bool,
}

/// What the server holds right now.
pub(crate) struct Observed {
    pub(crate) ci: RootMetadata,
    /// `None`: the Factory has no production root (yet).
    pub(crate) prod: Option<RootMetadata>,
}

pub(crate) fn observe(f: &Factory) -> Result<Observed> {
    // CI first, then prod, one request each, as before.
    let ci = f.current_root(false)?.root;
    let prod = match f.root(true, None)? {
        Some(bytes) => Some(
            RootMetadata::from_slice(&bytes, Some(ceremony::Dialect::OtaTuf)).map_err(|e| {
                anyhow!(
                    "GET {}: the answer is not a usable root: {e}",
                    f.current_root_location(true)
                )
            })?,
        ),
        None => None,
    };
    Ok(Observed { ci, prod })
}

/// Whether the server's production root is `r`.
pub(crate) fn prod_is(seen: &Option<RootMetadata>, r: &RootMetadata) -> bool {
    seen.as_ref().is_some_and(|s| same_root(s, r))
}

/// Whether the server's production root is the one the proposal was made
/// from (none, for a Factory that had none).
pub(crate) fn prod_unchanged(seen: &Option<RootMetadata>, ours: &Ours) -> bool {
    if ours.first_prod {
        seen.is_none()
    } else {
        prod_is(seen, ours.current_prod)
    }
}

enum Staged {
    Ours,
    Other,
    NoTransaction(String),
}

fn staged(f: &Factory, ours: &Ours) -> Result<Staged> {
    let tx = f.transaction()?;
    if tx.status != "STARTED" {
        return Ok(Staged::NoTransaction(tx.status));
    }
    let is = |s: &Option<crate::factory::FetchedRoot>, r: &RootMetadata| {
        s.as_ref().is_some_and(|s| same_root(&s.root, r))
    };
    Ok(
        if is(&tx.updated_ci, ours.new_ci) && is(&tx.updated_prod, ours.new_prod) {
            Staged::Ours
        } else {
            Staged::Other
        },
    )
}

fn describe_state(f: &Factory, ours: &Ours) -> String {
    let roots = match observe(f) {
        Ok(o) => {
            let word = |r: &RootMetadata, cur: &RootMetadata, new: &RootMetadata| {
                if same_root(r, new) {
                    format!("v{} (the uploaded root)", r.version().unwrap_or(0))
                } else if same_root(r, cur) {
                    format!("v{} (unchanged)", r.version().unwrap_or(0))
                } else {
                    format!("v{} (another root)", r.version().unwrap_or(0))
                }
            };
            format!(
                "CI root {}, prod root {}",
                word(&o.ci, ours.current_ci, ours.new_ci),
                match &o.prod {
                    Some(p) => word(p, ours.current_prod, ours.new_prod),
                    None => "none (yet)".into(),
                }
            )
        }
        Err(e) => format!("current roots unknown ({e})"),
    };
    let tx = match staged(f, ours) {
        Ok(Staged::Ours) => "the transaction is open with the uploaded roots staged".to_string(),
        Ok(Staged::Other) => "the transaction is open without the uploaded roots".to_string(),
        Ok(Staged::NoTransaction(s)) => format!("no transaction is open (status {s})"),
        Err(e) => format!("transaction state unknown ({e})"),
    };
    format!("server state: {roots}; {tx}")
}

/// The current and new root of the checked bundle's chain `name`.
pub(crate) fn chain_roots<'a>(
    c: &'a Checked,
    name: &str,
) -> Result<(&'a RootMetadata, &'a RootMetadata)> {
    c.chains
        .iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, cur, new)| (cur, new))
        .ok_or_else(|| anyhow!("the proposal has no {name} chain"))
}

fn upload_factory(f: &Factory, c: &Checked, now: OffsetDateTime, again: &str) -> Result<()> {
    let (current_ci, new_ci) = chain_roots(c, "ci")?;
    let (current_prod, new_prod) = chain_roots(c, "prod")?;
    let ours = Ours {
        current_ci,
        current_prod,
        new_ci,
        new_prod,
        first_prod: ceremony::rotation::derives_first_prod(&c.proposal),
    };
    let txid = c.proposal.txid.clone().unwrap_or_default();
    let name = &f.name;

    // 1. What does the server hold now?
    let o = observe(f)?;
    if same_root(&o.ci, new_ci) && prod_is(&o.prod, new_prod) {
        eprintln!("Factory {name} already serves the roots of this bundle");
        confirm_factory(f, &ours, now)?;
        println!(
            "already uploaded: Factory {name} serves CI and prod v{} from this bundle",
            new_ci.version()?
        );
        return Ok(());
    }
    let (ci_ours, prod_ours) = (same_root(&o.ci, new_ci), prod_is(&o.prod, new_prod));
    if ci_ours != prod_ours {
        // One chain applied, the other not: finish the apply, as fioctl does.
        eprintln!(
            "the server is in a partial state: only the {} root of this bundle is applied",
            if ci_ours { "CI" } else { "prod" }
        );
        if let Staged::Ours = staged(f, &ours)? {
            apply(f, &ours, &txid, again)?;
            confirm_factory(f, &ours, now)?;
            println!(
                "applied: Factory {name} now serves CI and prod v{} from this bundle",
                new_ci.version()?
            );
            return Ok(());
        }
        bail!(
            "{}\nthe transaction no longer holds this bundle's roots, so the apply cannot be finished from here: \
             contact FoundriesFactory support with the txid {txid}",
            describe_state(f, &ours)
        );
    }
    if !prod_unchanged(&o.prod, &ours) {
        return Err(VerificationFailed(format!(
            "the Factory's prod root moved since the proposal was made (the proposal was made from {}, the \
             server now serves {}); nothing was sent. Make a new proposal.",
            if ours.first_prod { "none".to_string() } else { format!("v{}", current_prod.version().unwrap_or(0)) },
            o.prod.as_ref().map_or("none".to_string(), |p| format!("v{}", p.version().unwrap_or(0)))
        ))
        .into());
    }
    for (chain, seen, cur) in [("CI", &o.ci, current_ci)] {
        if !same_root(seen, cur) {
            return Err(VerificationFailed(format!(
                "the Factory's {chain} root moved since the proposal was made (the proposal was made from v{}, the \
                 server now serves v{}{}); nothing was sent. Make a new proposal.",
                cur.version().unwrap_or(0),
                seen.version().unwrap_or(0),
                if same_signed(seen, cur) { " with other signatures" } else { "" }
            ))
            .into());
        }
    }
    eprintln!(
        "Factory {name} still serves CI v{} and {}, as in the proposal",
        current_ci.version()?,
        if ours.first_prod {
            "no production root".to_string()
        } else {
            format!("prod v{}", current_prod.version()?)
        }
    );

    // 2. Stage our roots, unless they already are.
    match staged(f, &ours)? {
        Staged::NoTransaction(status) => bail!(
            "no root-update transaction is open on Factory {name} (status {status}): the transaction {txid} of this \
             proposal was cancelled or has ended. Nothing was uploaded. Make a new proposal (`submitter propose`)."
        ),
        Staged::Ours => eprintln!("the transaction already holds the roots of this bundle"),
        Staged::Other => put(f, &ours, &txid, again, &c.resigned)?,
    }

    // 3. Apply.
    apply(f, &ours, &txid, again)?;

    // 4. Confirm.
    confirm_factory(f, &ours, now)?;
    println!(
        "uploaded and applied: Factory {name} serves CI v{} and prod v{}; re-fetched, identical to the bundle, \
         both thresholds met",
        new_ci.version()?,
        new_prod.version()?
    );
    Ok(())
}

fn put(f: &Factory, ours: &Ours, txid: &str, again: &str, resigned: &(Value, Value)) -> Result<()> {
    let url = f.updates_url();
    let send = || {
        f.put(
            txid,
            ours.new_ci.envelope(),
            ours.new_prod.envelope(),
            resigned,
        )
    };
    let first = send();
    let err = match first {
        Ok(a) if a.ok() => {
            eprintln!("PUT {url}: stored the signed CI and prod roots");
            return Ok(());
        }
        Ok(a) if (400..500).contains(&a.status) => {
            let e = Http::expect_ok("PUT", &url, a).expect_err("not ok");
            bail!(
                "{e}\nThe server refused the roots and changed nothing (a 4xx answer comes before any change). {}\n{again}",
                hint_for(e.status, &f.name)
            );
        }
        Ok(a) => Http::expect_ok("PUT", &url, a).expect_err("not ok"),
        Err(e) => e,
    };
    // No answer, or a 5xx: the roots may or may not be stored. Look.
    eprintln!("{err}\nchecking what the server holds…");
    std::thread::sleep(f.http.backoff());
    match staged(f, ours)? {
        Staged::Ours => {
            eprintln!("the server did store the roots");
            Ok(())
        }
        Staged::Other => {
            // Still open, our roots not stored: sending the same roots again
            // with the same txid replaces the staged ones, nothing more.
            eprintln!("the roots were not stored; sending them once more");
            match send() {
                Ok(a) if a.ok() => Ok(()),
                Ok(a) => {
                    let e = Http::expect_ok("PUT", &url, a).expect_err("not ok");
                    bail!("{e}\n{}\nnothing was applied. {again}", describe_state(f, ours))
                }
                Err(e) => bail!("{e}\n{}\nnothing was applied. {again}", describe_state(f, ours)),
            }
        }
        Staged::NoTransaction(s) => bail!(
            "{err}\nno transaction is open any more (status {s}); nothing was applied. Make a new proposal."
        ),
    }
}

/// Statuses with which the server answers apply only before it changes
/// anything (fioctl: 400, 401, 403, 422, 423).
const APPLY_NOTHING_CHANGED: [u16; 5] = [400, 401, 403, 422, 423];

pub(crate) fn apply(f: &Factory, ours: &Ours, txid: &str, again: &str) -> Result<()> {
    let url = f.apply_url();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let err = match f.apply(txid) {
            Ok(a) if a.ok() => {
                eprintln!("POST {url}: applied");
                return Ok(());
            }
            Ok(a) if APPLY_NOTHING_CHANGED.contains(&a.status) => {
                let e = Http::expect_ok("POST", &url, a).expect_err("not ok");
                let issues = f.transaction().map(|t| t.errors).unwrap_or_default();
                let issues = if issues.is_empty() {
                    String::new()
                } else {
                    format!("\nthe server reports: {}", issues.join("; "))
                };
                bail!(
                    "{e}{issues}\nNothing was applied (the server gives HTTP {} only before it changes anything); the \
                     transaction stays open with the uploaded roots. {}\n{again}; or cancel with `submitter cancel --factory {}`.",
                    e.status.unwrap_or(0),
                    hint_for(e.status, &f.name),
                    f.name
                );
            }
            Ok(a) => Http::expect_ok("POST", &url, a).expect_err("not ok"),
            Err(e) => e,
        };
        // Anything else may mean a partial or a complete apply. Look before
        // doing anything more.
        eprintln!("{err}\nchecking whether the apply took effect…");
        std::thread::sleep(f.http.backoff());
        let o = observe(f).map_err(|e| {
            anyhow!("{err}\ncannot tell whether the roots were applied: {e}\n{again}")
        })?;
        let ci_ours = same_root(&o.ci, ours.new_ci);
        let prod_ours = prod_is(&o.prod, ours.new_prod);
        if ci_ours && prod_ours {
            eprintln!("the apply did take effect");
            return Ok(());
        }
        let untouched = same_root(&o.ci, ours.current_ci) && prod_unchanged(&o.prod, ours);
        let staged_ours = matches!(staged(f, ours), Ok(Staged::Ours));
        if untouched && staged_ours && attempt < 2 {
            // Nothing changed and our roots are still staged: applying again
            // is what fioctl does, and cannot apply anything else.
            eprintln!("nothing was applied and the roots are still staged; applying once more");
            continue;
        }
        bail!(
            "{err}\n{}\n{}{again}",
            describe_state(f, ours),
            if ci_ours != prod_ours {
                "ONLY ONE of the two roots was applied: the server is in a partial state. Run upload again to finish; \
                 if it keeps failing, contact FoundriesFactory support with the txid. "
            } else {
                "Nothing was applied. "
            }
        );
    }
}

pub(crate) fn hint_for(status: Option<u16>, factory: &str) -> String {
    match status {
        // A 401 names the credential's source and its renewal in the error itself.
        Some(403) => "The token may lack the permission to change TUF roots (it needs the admin scope).".into(),
        Some(400) => format!(
            "A 400 often means the transaction is not the one this proposal was made in (another was started, or it \
             was cancelled): see `submitter audit --factory {factory}`, and make a new proposal if so."
        ),
        Some(409) | Some(423) => "Another change is in progress on the Factory; wait, then try again.".into(),
        _ => String::new(),
    }
}

/// The root read back, as the signer's closing lines and `signer list`
/// name it: by its signed part, which the server's formatting of the file
/// does not change.
fn print_root(bytes: &[u8], new: &RootMetadata, chain: &str) {
    let served = RootMetadata::from_slice(bytes, Some(new.dialect()));
    if let Some(l) = served.ok().and_then(|r| Labelled::root(&r, Some(chain))) {
        println!("{}", l.render("  "));
    }
}

pub(crate) fn confirm_factory(f: &Factory, ours: &Ours, now: OffsetDateTime) -> Result<()> {
    for (chain, prod, cur, new) in [
        ("CI", false, ours.current_ci, ours.new_ci),
        ("prod", true, ours.current_prod, ours.new_prod),
    ] {
        let v = new.version()?;
        let url = f.root_location(prod, v);
        let bytes = f.root(prod, Some(v))?.ok_or_else(|| {
            anyhow!("GET {url}: HTTP 404: the server does not serve {chain} v{v} although it was applied")
        })?;
        confirm_file(&bytes, &url, cur, new, now)?;
        eprintln!("re-fetched {chain} v{v}: identical to the uploaded root, both thresholds met");
        print_root(&bytes, new, chain);
    }
    Ok(())
}
