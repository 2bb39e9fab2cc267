//! What the human is shown: the proposal's header and each chain's change
//! (the diff, who must sign, expiry, guard rails), and `signer review`,
//! which shows it without any key.

use ceremony_cli::{print, println};
use std::process::ExitCode;

use anyhow::Result;
use time::OffsetDateTime;

use ceremony::diff::{key_description, RootDiff};
use ceremony::keys::{NewKeyType, PublicKey};
use ceremony::proposal::{Chain, Proposal, Rotate};
use ceremony::rotation::{self, ChainPlan};
use ceremony::rules::short;
use ceremony::RootMetadata;

use super::args::ReviewArgs;
use super::build::{placeholder_plans, Placeholder};
use super::preflight::{
    check_proposal_roots, keys_to_generate, load_proposal, new_key_type, provided_keys,
};

/// `signer review`: what signing would produce, with placeholders for the
/// keys not made yet; needs no key, and exits 3 when the current roots do
/// not verify on their own.
pub(crate) fn review(args: ReviewArgs) -> Result<ExitCode> {
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
    for plan in plans.iter() {
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

/// The history the proposal lists. Nothing here checks it (only `signer
/// sign` walks from the archive's anchor), so it is never called verified.
fn print_history(chain: &Chain) {
    if chain.history.is_empty() {
        println!("  history: the proposal lists none");
    } else {
        let first = chain.history.first().map_or(0, |h| h.version);
        let last = chain.history.last().map_or(0, |h| h.version);
        println!(
            "  history: the proposal lists v{first}..v{last} ({} root(s); unchecked here); last sha256 {}",
            chain.history.len(),
            chain.history.last().map_or("", |h| h.sha256.as_str())
        );
    }
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

pub(super) fn print_header(p: &Proposal, sha: &str, key_type: NewKeyType) {
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
                .map(|h| format!(" (holder {h}, as claimed by the proposal)"))
                .unwrap_or_default()
        );
    }
}

pub(super) fn key_line(root: &RootMetadata, id: &str, labels: &[Placeholder]) -> String {
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
pub(super) fn render_plan(
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
