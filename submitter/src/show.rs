//! `submitter show`: a proposal, bundle, public-key file or root, for humans
//! (or, with `--json`, for scripts).

use ceremony_cli::print;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use time::OffsetDateTime;

use ceremony::bundle::Bundle;
use ceremony::bundle_check::{bundle_status, check_answers};
use ceremony::diff::{key_description, RootDiff};
use ceremony::fingerprint::Labelled;
use ceremony::proposal::{Proposal, Rotate};
use ceremony::pubkey::PubkeyFile;
use ceremony::rules::{check_step, ThresholdOf};
use ceremony::untrusted::escape;
use ceremony::{Dialect, RootMetadata};

use crate::upload::find_proposal;
use ceremony::fsio;

/// Runs `show`.
pub fn run(
    file: &Path,
    json_out: bool,
    proposal: Option<&Path>,
    dialect: Option<Dialect>,
) -> Result<()> {
    let bytes = fsio::read_bounded(file, ceremony::crossing::MAX_CROSSING_FILE as u64)?;
    let value = ceremony::strict_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON", file.display()))?;
    let now = OffsetDateTime::now_utc();
    let (text, json_value) = match value.get("format").and_then(Value::as_str) {
        Some(ceremony::proposal::PROPOSAL_FORMAT) => {
            let p = Proposal::from_slice(&bytes)?;
            show_proposal(&p, &ceremony::sha256::hex(&bytes))
        }
        Some(ceremony::bundle::BUNDLE_FORMAT) => {
            let b = Bundle::from_slice(&bytes)?;
            // The proposal it answers, where it can be found (as upload
            // finds it); without one the bundle is shown on its own.
            let p = match proposal {
                Some(_) => Some(find_proposal(file, &b, proposal)?),
                None => find_proposal(file, &b, None).ok(),
            };
            show_bundle(&b, p.as_ref().map(|(path, b, p)| (b.as_slice(), p, path.as_path())), now)?
        }
        Some(ceremony::pubkey::PUBKEY_FORMAT) => {
            let k = PubkeyFile::from_slice(&bytes)?;
            let text = format!(
                "public-key file ({})\n  key type:    {}\n  fingerprint: {}\n  holder:      {}\n  created:     {}\n",
                k.format,
                k.key_type,
                k.fingerprint,
                k.holder.as_deref().unwrap_or("-"),
                k.created.as_deref().unwrap_or("-")
            );
            (text, serde_json::to_value(&k)?)
        }
        Some(other) => bail!(
            "{} is a {other:?} file, which this version cannot show (it shows proposals, bundles, public-key files and roots)",
            file.display()
        ),
        None => {
            let root = RootMetadata::from_slice(&bytes, dialect)
                .with_context(|| format!("{} is neither a tuf-ceremony file nor a root", file.display()))?;
            show_root(&root, &bytes, dialect.is_none(), now)
        }
    };
    if json_out {
        ceremony_cli::output::print_json(&json_value)?;
    } else {
        print!("{text}");
    }
    Ok(())
}

fn key_line(root: &RootMetadata, id: &str) -> String {
    match root.key(id) {
        Ok(k) => format!(
            "{} {} (fingerprint {})",
            escape(id),
            key_description(&k),
            k.fingerprint()
        ),
        Err(e) => format!("{} unreadable: {e}", escape(id)),
    }
}

fn root_summary(root: &RootMetadata, out: &mut String, indent: &str) -> Value {
    let mut roles = serde_json::Map::new();
    for name in root.role_names() {
        if let Ok(role) = root.role(&name) {
            let _ = writeln!(
                out,
                "{indent}{name:<10} threshold {} of {}",
                role.threshold,
                role.keyids.len()
            );
            let mut keys = Vec::new();
            for id in &role.keyids {
                let _ = writeln!(out, "{indent}    {}", key_line(root, id));
                let k = root.key(id).ok();
                // Root keys are what witnesses compare across the gap.
                if let Some(w) = k
                    .as_ref()
                    .filter(|_| name == "root")
                    .and_then(|k| Labelled::key(k.fingerprint()).words_line())
                {
                    let _ = writeln!(out, "{indent}      {w}");
                }
                keys.push(json!({
                    "keyid": id,
                    "type": k.as_ref().map(key_description),
                    "fingerprint": k.as_ref().map(|k| k.fingerprint()),
                }));
            }
            roles.insert(name, json!({"threshold": role.threshold, "keys": keys}));
        }
    }
    Value::Object(roles)
}

fn show_root(
    root: &RootMetadata,
    bytes: &[u8],
    detected: bool,
    now: OffsetDateTime,
) -> (String, Value) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "root, dialect {}{}; version {}; expires {}; {} bytes",
        root.dialect(),
        if detected { " (detected)" } else { "" },
        root.version().map_or("?".into(), |v| v.to_string()),
        root.expires_str().unwrap_or("?"),
        bytes.len(),
    );
    let version = root.version().unwrap_or(0);
    let _ = writeln!(
        out,
        "{}",
        Labelled::root_file(None, version, ceremony::sha256::hex(bytes)).render("  ")
    );
    if let Some(l) = Labelled::root(root, None) {
        let _ = writeln!(out, "{}", l.render("  "));
    }
    let _ = writeln!(out, "roles:");
    let roles = root_summary(root, &mut out, "  ");
    let sigs = root.signatures().unwrap_or_default();
    let _ = writeln!(out, "signatures: {}", sigs.len());
    let root_ids = root.role("root").map(|r| r.keyids).unwrap_or_default();
    for s in &sigs {
        let _ = writeln!(
            out,
            "  {} {}{}",
            escape(&s.keyid),
            s.method.as_deref().unwrap_or(""),
            if root_ids.contains(&s.keyid) {
                ""
            } else {
                "  (not a root key of this root)"
            }
        );
    }
    let v = check_step(None, root, Some(now));
    for t in &v.thresholds {
        let _ = writeln!(
            out,
            "own root threshold: {} of {} needed: {}",
            t.signed.len(),
            t.threshold,
            if t.met() { "met" } else { "NOT met" }
        );
    }
    for f in &v.failures {
        let _ = writeln!(out, "  rule {}: {}", f.rule, f.message);
    }
    let extra: Vec<&String> = root
        .signed()
        .keys()
        .filter(|k| {
            ![
                "_type",
                "version",
                "expires",
                "keys",
                "roles",
                "consistent_snapshot",
                "spec_version",
            ]
            .contains(&k.as_str())
        })
        .collect();
    for k in &extra {
        let _ = writeln!(out, "{k}: {}", root.signed()[k.as_str()]);
    }
    let j = json!({
        "kind": "root",
        "dialect": root.dialect(),
        "version": root.version().ok(),
        "expires": root.expires_str(),
        "sha256": ceremony::sha256::hex(bytes),
        "size": bytes.len(),
        "roles": roles,
        "signatures": sigs.iter().map(|s| json!({"keyid": s.keyid, "method": s.method})).collect::<Vec<_>>(),
        "self_check": v,
    });
    (out, j)
}

fn show_proposal(p: &Proposal, sha: &str) -> (String, Value) {
    let mut out = String::new();
    let _ = writeln!(out, "proposal ({}), sha256 {sha}", p.format);
    let _ = writeln!(out, "  target:   {}", p.target);
    let _ = writeln!(out, "  dialect:  {}", p.dialect);
    if let Some(t) = &p.txid {
        let _ = writeln!(out, "  txid:     {t}");
    }
    let _ = writeln!(out, "  created:  {}", p.created);
    if let Some(id) = &p.polis_id {
        let _ = writeln!(out, "  polis-id: {id}");
    }
    let mut chains = Vec::new();
    for chain in &p.chains {
        let cur = p.current_root(chain).ok();
        let staged = p.staged_root(chain).ok().flatten();
        let _ = writeln!(
            out,
            "chain {}: current v{} (expires {}); {} root(s) of history verified",
            chain.name,
            cur.as_ref().and_then(|c| c.version().ok()).unwrap_or(0),
            cur.as_ref().and_then(|c| c.expires_str()).unwrap_or("?"),
            chain.history.len()
        );
        for h in &chain.history {
            let l = Labelled::root_file(Some(&chain.name), h.version, h.sha256.clone());
            let _ = writeln!(out, "    {l}");
        }
        // The current root as `signer list` names the anchor it must chain from.
        if let Some(l) = cur
            .as_ref()
            .and_then(|c| Labelled::root(c, Some(&chain.name)))
        {
            let _ = writeln!(out, "{}", l.render("  "));
        }
        if let Some(c) = &cur {
            let _ = root_summary(c, &mut out, "    ");
        }
        if let Some(s) = &staged {
            let _ = writeln!(
                out,
                "  staged by the server: v{}{}",
                s.version().unwrap_or(0),
                s.signed()
                    .get("x-changelog")
                    .map(|c| format!(", x-changelog {c}"))
                    .unwrap_or_default()
            );
        }
        chains.push(json!({
            "name": chain.name,
            "current_version": cur.as_ref().and_then(|c| c.version().ok()),
            "staged_version": staged.as_ref().and_then(|c| c.version().ok()),
            "history": chain.history,
        }));
    }
    let c = &p.change;
    let _ = writeln!(out, "change:");
    if !c.role.is_root() {
        let _ = writeln!(
            out,
            "  role:       {} (the online key {} stays)",
            c.role.as_str(),
            c.online_targets_key.as_deref().unwrap_or("?")
        );
    }
    if let Some(r) = &p.resign {
        for (kind, files) in [
            ("production targets of tag", &r.prod),
            ("targets of wave", &r.waves),
        ] {
            for (name, meta) in files {
                let _ = writeln!(
                    out,
                    "  carried for re-signing: {kind} {name} (version {})",
                    meta["signed"]["version"]
                );
            }
        }
    }
    if c.sign_staged {
        let _ = writeln!(
            out,
            "  sign the staged roots as they are (only signatures are added)"
        );
    }
    match &c.rotate {
        Some(Rotate::All) => {
            let _ = writeln!(out, "  rotate:     every root key");
        }
        Some(Rotate::Keys(ids)) => {
            let _ = writeln!(out, "  rotate:     {}", ids.join(", "));
        }
        None => {}
    }
    if c.add_keys > 0 {
        let _ = writeln!(out, "  add keys:   {}", c.add_keys);
    }
    if !c.remove_keys.is_empty() {
        let _ = writeln!(out, "  remove:     {}", c.remove_keys.join(", "));
    }
    if let Some(t) = c.threshold {
        let _ = writeln!(out, "  threshold:  {t}");
    }
    if !c.sign_staged {
        let _ = writeln!(
            out,
            "  key type:   {}",
            c.key_type.as_deref().unwrap_or("ed25519 (default)")
        );
        let _ = writeln!(out, "  expires:    {}", c.expires);
    }
    if let Some(m) = &c.message {
        let _ = writeln!(out, "  message:    {m}");
    }
    for k in &c.provided_keys {
        let desc = ceremony::keys::PublicKey::from_key_object(&k.key, p.dialect)
            .map(|pk| format!("{} fingerprint {}", key_description(&pk), pk.fingerprint()))
            .unwrap_or_else(|e| format!("unreadable: {e}"));
        let _ = writeln!(
            out,
            "  provided:   {desc}{}",
            k.holder
                .as_ref()
                .map(|h| format!(" (held by {h})"))
                .unwrap_or_default()
        );
    }
    let j = json!({
        "kind": "proposal",
        "sha256": sha,
        "target": p.target,
        "dialect": p.dialect,
        "txid": p.txid,
        "created": p.created,
        "polis_id": p.polis_id,
        "chains": chains,
        "change": p.change,
    });
    (out, j)
}

fn show_bundle(
    b: &Bundle,
    proposal: Option<(&[u8], &Proposal, &Path)>,
    now: OffsetDateTime,
) -> Result<(String, Value)> {
    let mut out = String::new();
    let _ = writeln!(out, "bundle ({})", b.format);
    let _ = writeln!(out, "  answers proposal sha256 {}", b.proposal_sha256);
    let _ = writeln!(out, "  target:   {}", b.target);
    let _ = writeln!(out, "  dialect:  {}", b.dialect);
    if let Some(t) = &b.txid {
        let _ = writeln!(out, "  txid:     {t}");
    }
    let _ = writeln!(
        out,
        "  says it is complete: {}",
        if b.complete { "yes" } else { "no" }
    );
    for m in &b.missing {
        let _ = writeln!(out, "    missing: {m}");
    }
    let mut roots = Vec::new();
    for r in &b.roots {
        let root = b.root(r)?;
        let sigs = root.signatures().unwrap_or_default();
        let _ = writeln!(
            out,
            "root {}: v{}, expires {}, {} signature(s): {}",
            r.name,
            root.version().map_or("?".into(), |v| v.to_string()),
            root.expires_str().unwrap_or("?"),
            sigs.len(),
            sigs.iter()
                .map(|s| escape(&s.keyid))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(l) = Labelled::root(&root, Some(&r.name)) {
            let _ = writeln!(out, "{}", l.render("  "));
        }
        roots.push(json!({
            "name": r.name,
            "version": root.version().ok(),
            "expires": root.expires_str(),
            "signatures": sigs.iter().map(|s| s.keyid.clone()).collect::<Vec<_>>(),
        }));
    }
    for k in &b.new_keys {
        let _ = writeln!(
            out,
            "new key {} {} fingerprint {}",
            escape(&k.keyid),
            k.description,
            k.fingerprint
        );
        if let Some(w) = Labelled::key(k.fingerprint.clone()).words_line() {
            let _ = writeln!(out, "  {w}");
        }
    }
    let mut status_json = Value::Null;
    match proposal {
        Some((pbytes, p, path)) => match check_answers(pbytes, p, b) {
            Err(e) => {
                let _ = writeln!(out, "against {}: DOES NOT MATCH: {e}", path.display());
                status_json = json!({"matches": false, "error": e.to_string()});
            }
            Ok(()) => {
                let status = bundle_status(p, b, now)?;
                let _ = writeln!(
                    out,
                    "against {} (rules recomputed): {}",
                    path.display(),
                    if status.complete() {
                        "complete, every rule holds"
                    } else {
                        "NOT complete"
                    }
                );
                for c in &status.chains {
                    for t in &c.verdict.thresholds {
                        let whose = match t.of {
                            ThresholdOf::Previous => {
                                format!("previous v{}", t.root_version.unwrap_or(0))
                            }
                            ThresholdOf::Own => "own".to_string(),
                        };
                        let _ = writeln!(
                            out,
                            "  {} {whose:<12} {} of {} needed: {}{}",
                            c.name,
                            t.signed.len(),
                            t.threshold,
                            if t.met() { "met" } else { "NOT met" },
                            if t.missing.is_empty() {
                                String::new()
                            } else {
                                format!(
                                    "; not signed by {}",
                                    t.missing
                                        .iter()
                                        .map(|k| escape(&k.keyid))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            }
                        );
                    }
                }
                for line in status.problems() {
                    let _ = writeln!(out, "  {line}");
                }
                for chain in &p.chains {
                    if let (Ok(cur), Some(r)) = (
                        p.current_root(chain),
                        b.roots.iter().find(|r| r.name == chain.name),
                    ) {
                        if let Ok(new) = b.root(r) {
                            let _ = writeln!(out, "what changes in {}:", chain.name);
                            for line in RootDiff::between(&cur, &new).to_string().lines() {
                                let _ = writeln!(out, "  {line}");
                            }
                        }
                    }
                }
                status_json = json!({"matches": true, "complete": status.complete(), "problems": status.problems(), "chains": status.chains});
            }
        },
        None => {
            let _ = writeln!(
                out,
                "(no proposal.json beside the bundle: give --proposal FILE to check the signatures against the current root)"
            );
        }
    }
    let j = json!({
        "kind": "bundle",
        "proposal_sha256": b.proposal_sha256,
        "target": b.target,
        "dialect": b.dialect,
        "txid": b.txid,
        "complete_claimed": b.complete,
        "missing_claimed": b.missing,
        "roots": roots,
        "new_keys": b.new_keys,
        "checked_against_proposal": status_json,
    });
    Ok((out, j))
}
