//! `submitter wave-propose` and `submitter wave-publish`: a production
//! release (wave) whose targets the offline signer signs.
//!
//! `wave-propose` fetches what fioctl's `waves init` reads (the CI targets
//! of the version, `GET /ota/factories/F/targets/?version=V`; the production
//! targets of the tag, `…/prod-targets/?tag=T`) and the production root
//! chain from `1.root.json`, checks them with the same code the signer runs
//! ([`ceremony::wave::check`]), and writes the proposal. `wave-publish`
//! checks the bundle against its proposal (the same computation again, the
//! signatures against the production root), POSTs the wave as fioctl's
//! `FactoryCreateWave` does, and reads it back.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use ceremony::fsio::{self, WriteOptions};
use ceremony::root::format_expires;
use ceremony::wave::{self, WaveBundle, WaveError, WaveProposal, WAVE_PROPOSAL_FORMAT};
use ceremony_cli::println;

use crate::factory::{self, Factory};
use crate::{Ctx, UsageError, VerificationFailed};

/// What `wave-propose` was asked for.
pub struct ProposeArgs {
    pub factory: String,
    pub name: String,
    pub version: u64,
    pub tag: String,
    pub expires_in: i64,
    pub prune: Vec<String>,
    /// `-o`; `None`: `wave-v<version>.json` here, or the next free name.
    pub output: Option<PathBuf>,
    pub force: bool,
}

/// A wave refusal is a verification failure (exit 3); a malformed file an
/// error.
fn wave_err(e: WaveError) -> anyhow::Error {
    match e {
        WaveError::Refused(m) => VerificationFailed(m).into(),
        e => anyhow::Error::new(e),
    }
}

fn get_json(f: &Factory<'_>, url: &str) -> Result<Option<Value>> {
    match f.http.get_optional(url)? {
        None => Ok(None),
        Some(b) => Ok(Some(
            ceremony::strict_json::from_slice(&b)
                .with_context(|| format!("GET {url}: the answer is not JSON"))?,
        )),
    }
}

/// `submitter wave-propose`.
pub fn propose(ctx: &Ctx, a: ProposeArgs) -> Result<ExitCode> {
    factory::check_name(&a.factory).map_err(UsageError)?;
    // Both go into URLs and the server's paths: its own character set.
    for (what, v) in [("the wave name", &a.name), ("the tag", &a.tag)] {
        factory::check_name(v).map_err(|_| {
            UsageError(format!(
                "{what} {v:?}: letters, digits, '-', '_' and '.' only"
            ))
        })?;
    }
    if !(1..=3650).contains(&a.expires_in) {
        return Err(UsageError("--expires-in: 1 to 3650 days".into()).into());
    }
    if let Some(o) = a.output.as_deref().filter(|_| !a.force) {
        if !ceremony::names::is_free(o) {
            bail!(
                "{} exists already; a wave proposal is never overwritten: pick another name with \
                 -o, or leave -o out for a free default name (wave-v<VERSION>.json), or pass --force",
                o.display()
            );
        }
    }
    let http = ctx.http(Some(ctx.auth()?))?;
    let f = Factory {
        http: &http,
        api: ctx.api(),
        name: a.factory.clone(),
    };
    // The production root chain, 1 to the current one.
    let current = f.current_root(true)?;
    let n = current.root.version()?;
    let mut prod_roots = Vec::new();
    let mut progress = crate::source::Progress::new(
        &format!("the prod root history of Factory {}", f.name),
        Some(n),
    );
    for k in 1..=n {
        let bytes = f
            .root(true, Some(k))?
            .with_context(|| format!("{} is missing", f.root_location(true, k)))?;
        prod_roots.push(
            ceremony::strict_json::from_slice(&bytes)
                .with_context(|| format!("{} is not JSON", f.root_location(true, k)))?,
        );
        progress.tick(k);
    }
    progress.finish(n);
    let base = format!("{}/ota/factories/{}", f.api, f.name);
    let ci_url = format!("{base}/targets/?version={}", a.version);
    let ci_targets: Map<String, Value> = match get_json(&f, &ci_url)? {
        Some(Value::Object(m)) => m,
        Some(_) => bail!("GET {ci_url}: an object of targets is expected"),
        None => Map::new(),
    };
    let prod_url = format!("{base}/prod-targets/?tag={}", a.tag);
    let current_targets = match get_json(&f, &prod_url)? {
        Some(Value::Object(mut m)) => m.remove(&a.tag),
        Some(_) => bail!("GET {prod_url}: an object of targets by tag is expected"),
        None => None,
    };
    let now = OffsetDateTime::now_utc();
    let p = WaveProposal {
        format: WAVE_PROPOSAL_FORMAT.into(),
        factory: a.factory.clone(),
        api: f.api.clone(),
        name: a.name,
        version: a.version,
        tag: a.tag,
        expires: format_expires(now + time::Duration::days(a.expires_in)),
        prune: a.prune,
        prod_roots,
        current: current_targets,
        ci_targets,
        created: format_expires(now),
    };
    // What the signer will refuse is refused here already, before a trip
    // to the offline machine.
    let checked = wave::check(&p, now).map_err(wave_err)?;
    let bytes = p.to_bytes();
    let output = match &a.output {
        Some(o) if a.force => {
            fsio::replace(o, &bytes, &WriteOptions::public())?;
            o.clone()
        }
        Some(o) => {
            fsio::write_new(o, &bytes, &WriteOptions::public())?;
            o.clone()
        }
        None => {
            let stem = ceremony::names::wave_stem(p.version);
            let o = ceremony::names::free_in(Path::new(""), &stem, ".json").with_context(|| {
                format!("{stem}.json and the numbered names after it are all taken: give -o")
            })?;
            fsio::write_new(&o, &bytes, &WriteOptions::public())?;
            o
        }
    };
    println!("{}", wave::render(&p, &checked));
    let kept = crate::state::keep(crate::state::Kind::Wave, &bytes);
    let name = output.file_name().map_or_else(
        || output.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let bundle = format!("{}.json", ceremony::names::wave_bundle_stem(p.version));
    println!(
        "wrote {}: take it to the offline machine and run\n  signer sign-wave {name} --keys TARGETS.tgz.age\n\
         it writes {bundle} (or the next free name, which it prints); bring that back and run\n  \
         submitter wave-publish {bundle}",
        output.display(),
    );
    match kept {
        Ok(k) => println!("kept a copy as {} (`wave-publish` finds it by the bundle's proposal sha256)", k.display()),
        Err(e) => ceremony_cli::eprintln!(
            "warning: no copy kept in the state folder ({e:#}): give `wave-publish` the proposal with --proposal {}",
            output.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// The wave proposal a bundle answers: `--proposal`, else the one whose
/// sha256 the bundle names (kept by `wave-propose` in the state folder, or
/// a `wave*.json` beside the bundle or here, each hashed).
fn find_proposal(
    bundle_path: &Path,
    sha: &str,
    given: Option<&Path>,
) -> Result<(PathBuf, Vec<u8>)> {
    let max = ceremony::crossing::MAX_CROSSING_FILE as u64;
    if let Some(p) = given {
        let bytes = fsio::read_bounded(p, max).with_context(|| {
            format!(
                "the wave proposal {} is needed to check the bundle",
                p.display()
            )
        })?;
        return Ok((p.to_path_buf(), bytes));
    }
    let here = bundle_path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let folders: Vec<&Path> = if here == Path::new(".") {
        vec![here]
    } else {
        vec![here, Path::new(".")]
    };
    crate::state::locate(crate::state::Kind::Wave, sha, "wave", &folders).with_context(|| {
        format!(
            "the wave proposal {} answers (sha256 {}) was not found; looked in: {}. Give it with \
             --proposal FILE (the file `submitter wave-propose` wrote); nothing was sent",
            bundle_path.display(),
            ceremony::untrusted::escape(sha),
            crate::state::looked_in(crate::state::Kind::Wave, "wave", &folders)
        )
    })
}

/// `submitter wave-publish`.
pub fn publish(ctx: &Ctx, bundle_path: &Path, proposal: Option<&Path>) -> Result<ExitCode> {
    let max = ceremony::crossing::MAX_CROSSING_FILE as u64;
    let bundle = WaveBundle::from_slice(&fsio::read_bounded(bundle_path, max)?)
        .with_context(|| format!("{} is not a usable wave bundle", bundle_path.display()))?;
    let (ppath, pbytes) = find_proposal(bundle_path, &bundle.proposal_sha256, proposal)?;
    let p = WaveProposal::from_slice(&pbytes)
        .with_context(|| format!("{} is not a usable wave proposal", ppath.display()))?;
    let checked = wave::check(&p, OffsetDateTime::now_utc()).map_err(wave_err)?;
    let envelope = bundle.answers(&pbytes, &p, &checked).map_err(wave_err)?;
    factory::check_name(&p.factory).map_err(UsageError)?;
    let http = ctx.http(Some(ctx.auth()?))?;
    let f = Factory {
        http: &http,
        api: ctx.api(),
        name: p.factory.clone(),
    };
    // fioctl's WaveCreate, `signed` as the exact canonical bytes signed.
    let signed_raw = String::from_utf8(checked.canonical.clone()).context("canonical JSON")?;
    let body = format!(
        "{{\"name\":{},\"version\":{},\"tag\":{},\"targets\":{{\"signatures\":{},\"signed\":{signed_raw}}}}}",
        Value::String(p.name.clone()),
        Value::String(p.version.to_string()),
        Value::String(p.tag.clone()),
        envelope["signatures"],
    );
    let url = format!("{}/ota/factories/{}/waves/", f.api, f.name);
    let back_url = format!(
        "{}/ota/factories/{}/waves/{}/?show-targets=1",
        f.api, f.name, p.name
    );
    // Running it again is safe: a wave already created from this bundle
    // (an answer lost on the way back) is only read back.
    match get_json(&f, &back_url)? {
        Some(w) if w["targets"]["signed"] == checked.signed => {
            println!("the wave {} exists already with these targets: reading it back", ceremony::untrusted::escape(&p.name));
        }
        Some(_) => {
            return Err(VerificationFailed(format!(
                "the Factory already has a wave named {} with other targets: choose another name and propose again",
                ceremony::untrusted::escape(&p.name)
            ))
            .into())
        }
        None => {
            let a = http.send("POST", &url, Some(body.as_bytes()))?;
            crate::http::Http::expect_ok("POST", &url, a)?;
        }
    }
    // Read it back: the server must serve exactly the targets signed, with
    // our signatures among its own.
    let back = get_json(&f, &back_url)?.with_context(|| format!("GET {back_url}: not found"))?;
    if back["targets"]["signed"] != checked.signed {
        return Err(VerificationFailed(format!(
            "the server accepted the wave, but GET {back_url} serves other targets than were signed: cancel the wave (fioctl waves cancel {})",
            ceremony::untrusted::escape(&p.name)
        ))
        .into());
    }
    let served: Vec<&Value> = back["targets"]["signatures"]
        .as_array()
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    for s in &bundle.signatures {
        if !served
            .iter()
            .any(|x| x["keyid"] == s["keyid"] && x["sig"] == s["sig"])
        {
            return Err(VerificationFailed(format!(
                "GET {back_url} does not carry the offline signature by {}",
                ceremony::untrusted::escape(s["keyid"].as_str().unwrap_or(""))
            ))
            .into());
        }
    }
    let (valid, threshold) =
        wave::valid_targets_signatures(&checked.prod_root, &back["targets"], &checked.canonical)
            .map_err(wave_err)?;
    println!(
        "published the wave {} (version {}, tag {}): {} valid targets signature(s) of the {} the production root needs",
        ceremony::untrusted::escape(&p.name),
        p.version,
        ceremony::untrusted::escape(&p.tag),
        valid,
        threshold
    );
    if (valid as u64) < threshold {
        return Err(VerificationFailed(
            "the wave served does not meet the production targets threshold".into(),
        )
        .into());
    }
    Ok(ExitCode::SUCCESS)
}
