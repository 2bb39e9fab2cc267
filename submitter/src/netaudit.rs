//! `submitter audit` over the network: download a history into a private
//! temporary folder, then run the library's folder audit on it, so the
//! verdicts are exactly those of `audit --metadata-dir` (and of `signer audit`).

use ceremony_cli::{print, println};
use std::path::Path;

use anyhow::{Context, Result};
use time::OffsetDateTime;

use ceremony::audit::{audit_dir_with, render_json, render_text, AuditOptions, AuditReport};
use ceremony::report::Subject;
use ceremony::Dialect;
use ceremony_cli::audit::{folder_subject, print, write_html, ReportArgs};

use crate::factory::{check_name, Factory};
use crate::source::{walk, Repo};
use crate::{Ctx, UsageError};

/// Downloads `N.root.json` from `start` until one is missing into `dir`, then
/// audits `dir`; file paths in the report are replaced by where each file
/// came from.
fn audit_fetched(
    mut fetch: impl FnMut(u64) -> Result<Option<Vec<u8>>>,
    location: impl Fn(u64) -> String,
    trusted: Option<&Path>,
    dialect: Option<Dialect>,
    at: OffsetDateTime,
    options: &AuditOptions,
) -> Result<AuditReport> {
    let start = match trusted {
        Some(t) => {
            let bytes = ceremony::fsio::read_bounded(t, 8 << 20)?;
            ceremony::RootMetadata::from_slice(&bytes, dialect)
                .with_context(|| format!("the trusted root {} is not usable", t.display()))?
                .version()?
                + 1
        }
        None => 1,
    };
    let tmp = tempfile::tempdir().context("cannot create a temporary folder")?;
    let what = format!("the root history from {}", location(start));
    let files = walk(&mut fetch, start, &what, None)?;
    for (n, bytes) in &files {
        std::fs::write(tmp.path().join(format!("{n}.root.json")), bytes)?;
    }
    if files.is_empty() {
        anyhow::bail!(
            "{} does not exist: there is no root to check{}",
            location(start),
            if trusted.is_some() {
                " newer than the trusted root"
            } else {
                ""
            }
        );
    }
    let mut report = audit_dir_with(tmp.path(), trusted, dialect, at, options)?;
    for f in &mut report.files {
        f.path = location(f.version).into();
    }
    for step in &mut report.history.steps {
        for failure in &mut step.failures {
            failure.message = failure
                .message
                .replace(&format!("{}/", tmp.path().display()), "");
        }
    }
    Ok(report)
}

/// What `audit` was asked for: one source, and what to report.
pub struct NetAuditArgs<'a> {
    pub factory: Option<&'a str>,
    pub repo: Option<&'a str>,
    pub metadata_dir: Option<&'a Path>,
    pub report: &'a ReportArgs,
}

/// Runs `audit`; returns whether every history holds.
pub fn run(ctx: &Ctx, a: NetAuditArgs) -> Result<bool> {
    let at = a.report.at()?;
    let options = a.report.options();
    let (trusted, dialect, json, html) = (
        a.report.trusted.as_deref(),
        a.report.dialect,
        a.report.json,
        a.report.html.as_deref(),
    );
    let sources = [
        a.factory.is_some(),
        a.repo.is_some(),
        a.metadata_dir.is_some(),
    ];
    if sources.iter().filter(|s| **s).count() != 1 {
        return Err(UsageError(
            "give exactly one of --factory F, --repo URL|DIR, --metadata-dir DIR".into(),
        )
        .into());
    }
    if let Some(dir) = a.metadata_dir {
        let report =
            audit_dir_with(dir, trusted, dialect, at, &options).context("audit could not run")?;
        print(&report, json)?;
        write_html(&report, html, &folder_subject(dir))?;
        let holds = report.ok();
        // The process ends with this command: freeing a report of thousands
        // of steps, one allocation at a time, would only delay the exit.
        std::mem::forget(report);
        return Ok(holds);
    }
    if let Some(r) = a.repo {
        let repo = Repo::parse(r);
        let report = match &repo {
            Repo::Dir(dir) => audit_dir_with(dir, trusted, dialect, at, &options)
                .context("audit could not run")?,
            Repo::Http(_) => {
                let http = ctx.http(None)?;
                audit_fetched(
                    |n| repo.fetch(&http, &format!("{n}.root.json")),
                    |n| repo.location(&format!("{n}.root.json")),
                    trusted,
                    dialect,
                    at,
                    &options,
                )
                .context("audit could not run")?
            }
        };
        print(&report, json)?;
        let subject = Subject {
            target: format!("TUF repository {r}"),
            chain: None,
        };
        write_html(&report, html, &subject)?;
        return Ok(report.ok());
    }
    let name = a.factory.expect("checked above");
    check_name(name).map_err(UsageError)?;
    if trusted.is_some() {
        return Err(UsageError(
            "--trusted is for one history (--repo, --metadata-dir); a Factory has two".into(),
        )
        .into());
    }
    if dialect == Some(Dialect::Tuf) {
        return Err(UsageError("a FoundriesFactory speaks the ota-tuf dialect".into()).into());
    }
    let auth = ctx.auth()?;
    let http = ctx.http(Some(auth))?;
    let f = Factory {
        http: &http,
        api: ctx.api(),
        name: name.to_string(),
    };
    let mut reports = Vec::new();
    let mut no_prod = false;
    for (chain, prod) in [("ci", false), ("prod", true)] {
        // Some Factories have no production root yet (fioctl derives one
        // from the CI root at their first rotation): nothing to audit, and
        // nothing wrong.
        if prod && f.root(true, Some(1))?.is_none() && f.root(true, None)?.is_none() {
            no_prod = true;
            continue;
        }
        let report = audit_fetched(
            |n| Ok(f.root(prod, Some(n))?),
            |n| f.root_location(prod, n),
            None,
            Some(Dialect::OtaTuf),
            at,
            &options,
        )
        .with_context(|| format!("the {chain} audit could not run"))?;
        reports.push((chain, report));
    }
    let ok = reports.iter().all(|(_, r)| r.ok());
    if let Some(html) = html {
        // One page per history: FILE-ci.html and FILE-prod.html.
        let stem = html
            .file_stem()
            .map_or_else(|| "audit".into(), |s| s.to_string_lossy().into_owned());
        for (chain, r) in &reports {
            let subject = Subject {
                target: format!("FoundriesFactory {name} ({})", f.api),
                chain: Some(if *chain == "ci" { "CI" } else { "production" }.into()),
            };
            write_html(
                r,
                Some(&html.with_file_name(format!("{stem}-{chain}.html"))),
                &subject,
            )?;
        }
    }
    if json {
        let mut j = serde_json::json!({"ok": ok, "factory": name});
        for (chain, r) in &reports {
            j[*chain] = render_json(r);
        }
        if no_prod {
            j["prod"] = serde_json::Value::Null;
        }
        ceremony_cli::output::print_json(&j)?;
    } else {
        for (chain, r) in &reports {
            println!(
                "== Factory {name}, {} root history ==",
                if *chain == "ci" { "CI" } else { "production" }
            );
            print!("{}", render_text(r));
        }
        if no_prod {
            println!(
                "== Factory {name}, production root history ==\nnone yet: {} does not exist \
                 (the first rotation derives the production root from the CI root)",
                f.root_location(true, 1)
            );
        }
        println!(
            "Factory {name}: {}",
            match (ok, no_prod) {
                (true, false) => "both histories hold",
                (true, true) => "the CI history holds; there is no production history yet",
                (false, _) => "a history does NOT hold",
            }
        );
    }
    Ok(ok)
}
