//! What the human is shown: the proposal's header and each chain's change
//! (the diff, who must sign, expiry, guard rails), and `signer review`,
//! which shows it without any key.

use ceremony_cli::{print, println};
use std::process::ExitCode;

use anyhow::Result;
use time::OffsetDateTime;

use ceremony::diff::render::name_shown;
use ceremony::diff::{
    check_key_ids, check_same_ids, key_description, render, AnchorNote, Context, Label, Provided,
    Script,
};
use ceremony::fingerprint::Labelled;
use ceremony::keys::{NewKeyType, PublicKey};
use ceremony::proposal::{Chain, KeyRole, Proposal, Rotate};
use ceremony::rotation::{self, ChainPlan, Plans};
use ceremony::untrusted::escape;
use ceremony::{Dialect, RootMetadata};

use super::args::ReviewArgs;
use super::build::{placeholder_plans, Placeholder};
use super::preflight::{
    check_new_roots, check_proposal_roots, keys_to_generate, load_proposal, new_key_type,
    provided_keys,
};
use super::refused;

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
    let shown = shown_changes(&proposal, &plans)?;
    let ctx = Context {
        dialect: proposal.dialect,
        labels: labels_in_diff(&labels, key_type),
        provided: provided_in_diff(&proposal, &provided),
        // Whether this holder completes the root alone is known only when
        // signing, with the archive open.
        anchor: AnchorNote::IfAlone,
    };
    for (plan, shown) in plans.iter().zip(&shown) {
        println!();
        let warnings = rotation::guard_rails(plan, now);
        print!("{}", render_plan(plan, shown, &ctx, &labels, &warnings)?);
        if let Some(chain) = proposal.chain(&plan.name) {
            print_history(chain);
        }
    }
    // A targets rotation's production targets, as `signer sign` shows them.
    super::resign::show(&proposal)?;
    println!();
    // What `signer sign` would refuse before making a key, said here too
    // (after the change is shown, so that the operator sees what is wrong).
    let checked = check_new_roots(
        &proposal,
        &sha,
        &provided,
        to_generate,
        key_type,
        &plans,
        now,
    );
    match verified.and(checked) {
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
        let newest = chain.history.last().map(|h| {
            Labelled::root_file(Some(&chain.name), h.version, h.sha256.clone()).to_string()
        });
        println!(
            "  history: the proposal lists v{first}..v{last} ({} root(s); unchecked here); last: {}",
            chain.history.len(),
            newest.unwrap_or_default()
        );
    }
}

fn describe_change(p: &Proposal, key_type: NewKeyType) -> String {
    let c = &p.change;
    if c.sign_staged {
        return "sign the roots the server staged as they are (a transaction begun online, by \
                the server or another holder): this ceremony changes nothing in them and only \
                adds its signatures"
            .into();
    }
    let mut parts = Vec::new();
    // A targets change edits the offline targets keys (never the online
    // one) and the production targets threshold.
    let (keys, threshold) = match c.role {
        KeyRole::Root => ("root key", "root threshold".to_string()),
        KeyRole::Targets => (
            "offline targets key",
            "production targets threshold".to_string(),
        ),
    };
    if c.role == KeyRole::Targets {
        parts.push(format!(
            "change the offline targets keys (the online targets key {} stays)",
            name_shown(c.online_targets_key.as_deref().unwrap_or(""))
        ));
    }
    match &c.rotate {
        Some(Rotate::All) => parts.push(format!("rotate every {keys}")),
        Some(Rotate::Keys(ids)) => parts.push(format!(
            "rotate {keys}(s) {}",
            ids.iter()
                .map(|i| name_shown(i))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => {}
    }
    if c.add_keys > 0 {
        parts.push(format!("add {} {keys}(s)", c.add_keys));
    }
    if !c.remove_keys.is_empty() {
        parts.push(format!(
            "remove {keys}(s) {}",
            c.remove_keys
                .iter()
                .map(|i| name_shown(i))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(t) = c.threshold {
        parts.push(format!("{threshold} {t}"));
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
    // Every field here is the proposal's: escaped one by one, so that a line
    // break in one cannot draw a line of its own.
    println!("Proposal sha256 {sha}");
    println!(
        "  target:  {} ({} dialect)",
        escape(&p.target.to_string()),
        p.dialect
    );
    if let Some(tx) = &p.txid {
        println!("  txid:    {}", escape(tx));
    }
    println!("  created: {}", escape(&p.created));
    println!("  change:  {}", describe_change(p, key_type));
    for (i, k) in p.change.provided_keys.iter().enumerate() {
        let key = PublicKey::from_key_object(&k.key, p.dialect);
        let words = key
            .as_ref()
            .ok()
            .and_then(|k| Labelled::key(k.fingerprint()).words_line());
        let fp = key
            .map(|k| {
                format!(
                    "{}  {}, fingerprint {}",
                    k.key_id(p.dialect),
                    key_description(&k),
                    k.fingerprint()
                )
            })
            .unwrap_or_else(|e| format!("unusable: {e}"));
        println!(
            "  provided key {}: {fp}; made elsewhere, holder name as claimed, unverified: {}",
            i + 1,
            k.holder
                .as_deref()
                .map_or_else(|| "(none given)".into(), escape)
        );
        if let Some(w) = words {
            println!("    {w}");
        }
    }
}

/// Placeholder keys as the diff names them.
pub(super) fn labels_in_diff(labels: &[Placeholder], key_type: NewKeyType) -> Vec<Label> {
    labels
        .iter()
        .map(|p| Label {
            keyid: p.keyid.clone(),
            label: p.label.clone(),
            what: format!("{key_type}  (generated when signing)"),
        })
        .collect()
}

pub(super) fn key_line(root: &RootMetadata, id: &str, labels: &[Placeholder]) -> String {
    if let Some(p) = labels.iter().find(|p| p.keyid == id) {
        return format!("{}  (generated when signing)", p.label);
    }
    // The whole id, quoted when it is not plain, so that it cannot draw a
    // fake description or fingerprint after itself.
    let shown = name_shown(id);
    match root.key(id) {
        // ota-tuf ids are the fingerprint; say it once.
        Ok(k) if k.fingerprint() == id => format!("{shown}  {}", key_description(&k)),
        Ok(k) => format!(
            "{shown}  {}  fingerprint {}",
            key_description(&k),
            k.fingerprint()
        ),
        Err(e) => format!("{shown}  unreadable: {e}"),
    }
}

/// What one chain's review showed: the server's part (Factory: from the
/// current root to the root the server staged) and this ceremony's part
/// (from that root, or the current root, to the new one). The signer
/// applies exactly these scripts before it signs ([`super::proof`]).
pub(super) struct Shown {
    /// The chain.
    pub(super) chain: String,
    /// The root the ceremony's change starts from, with the script that
    /// makes it from the current root, when the server prepared one.
    pub(super) server: Option<(RootMetadata, Script)>,
    /// This ceremony's change.
    pub(super) ceremony: Script,
    /// What the server's root is, in words.
    pub(super) server_what: String,
    /// The change signs the staged root as it is: this ceremony's part is
    /// none, and the staged root's own signatures are judged on screen.
    pub(super) sign_staged: bool,
    /// Said under the chain's heading: a Factory's first production root,
    /// derived here, is said to be one.
    pub(super) note: Option<String>,
}

/// Whether `plan` is a Factory's `prod`, built from the new `ci` root.
fn derives_from_ci(proposal: &Proposal, plan: &ChainPlan, plans: &Plans) -> bool {
    plan.name == "prod"
        && !proposal.change.sign_staged
        && proposal.dialect == Dialect::OtaTuf
        && plans.iter().any(|p| p.name == "ci")
}

/// The root the server prepared for `plan`, if any: its staged root; for a
/// Factory's `prod` derived from `ci`, the root `ci` starts from with what
/// the derivation takes from production (its next version and targets
/// threshold). Which root this is decides only which section an edit is
/// shown in: the proof applies both scripts, so a wrong choice can move a
/// line between sections but never hide it.
fn server_base(
    proposal: &Proposal,
    plan: &ChainPlan,
    plans: &Plans,
) -> Result<Option<RootMetadata>> {
    if !derives_from_ci(proposal, plan, plans) {
        return Ok(match proposal.chain(&plan.name) {
            Some(chain) => proposal.staged_root(chain)?,
            None => None,
        });
    }
    let Some(ci) = proposal.chain("ci") else {
        return Ok(None);
    };
    let mut base = match proposal.staged_root(ci)? {
        Some(staged) => staged,
        None => proposal.current_root(ci)?,
    };
    let version = plan.current.version()?;
    base.set_version(version.checked_add(1).unwrap_or(version));
    // The production targets threshold the server chose when it staged a
    // production root, else the current one: so that a threshold the
    // server's staged root brings is shown as the server's, and the 2 a
    // root taken offline for the first time gets (the rotation's rule) as
    // this ceremony's.
    let staged_prod = match proposal.chain(&plan.name) {
        Some(chain) => proposal.staged_root(chain)?,
        None => None,
    };
    let from = staged_prod.as_ref().unwrap_or(&plan.current);
    if let (Ok(prod), Ok(mut targets)) = (from.role("targets"), base.role("targets")) {
        targets.threshold = prod.threshold;
        base.set_role("targets", &targets);
    }
    Ok(Some(base))
}

/// Splits each plan's change into the server's part and this ceremony's.
pub(super) fn shown_changes(proposal: &Proposal, plans: &Plans) -> Result<Vec<Shown>> {
    plans
        .iter()
        .map(|plan| {
            let server = server_base(proposal, plan, plans)?.map(|base| {
                let s = Script::between(plan.current.envelope(), base.envelope());
                (base, s)
            });
            let from = server.as_ref().map_or(&plan.current, |(b, _)| b);
            let derived = derives_from_ci(proposal, plan, plans);
            let first_prod = derived && rotation::derives_first_prod(proposal);
            Ok(Shown {
                note: first_prod.then(|| {
                    "  this Factory has no production root yet: its first one is derived from the \
                     new CI root as fioctl derives it (a copy, version included, with targets \
                     threshold 2), signed by the same keys, and shown here against the current \
                     CI root\n"
                        .to_string()
                }),
                server_what: if derived {
                    "the root the server staged for ci, as prod is derived from it (with prod's \
                     next version and targets threshold)"
                        .into()
                } else {
                    "the root the server staged".into()
                },
                chain: plan.name.clone(),
                ceremony: Script::between(from.envelope(), plan.new.envelope()),
                server,
                sign_staged: proposal.change.sign_staged,
            })
        })
        .collect()
}

/// Refuses, before any confirmation, a key id that names different content
/// in two roots of a chain, and (TUF) a key listed under an id that is not
/// its own.
pub(super) fn check_key_identity(proposal: &Proposal, plans: &Plans) -> Result<()> {
    for plan in plans.iter() {
        let staged = match proposal.chain(&plan.name) {
            Some(chain) => proposal.staged_root(chain)?,
            None => None,
        };
        let name = |w: &str| format!("{w} {}", plan.name);
        let mut roots = vec![(name("current"), &plan.current)];
        if let Some(s) = &staged {
            roots.push((name("staged"), s));
        }
        roots.push((name("new"), &plan.new));
        for (i, (a_name, a)) in roots.iter().enumerate() {
            for (b_name, b) in &roots[i + 1..] {
                check_same_ids(a, a_name, b, b_name).map_err(|e| refused(e.to_string()))?;
            }
        }
        for (n, r) in roots.iter().skip(1) {
            check_key_ids(r, n).map_err(|e| refused(e.to_string()))?;
        }
    }
    Ok(())
}

/// The keys the proposal provides, with the holders it names.
pub(super) fn provided_in_diff(proposal: &Proposal, provided: &[PublicKey]) -> Vec<Provided> {
    provided
        .iter()
        .zip(&proposal.change.provided_keys)
        .map(|(k, p)| Provided {
            keyid: k.key_id(proposal.dialect),
            holder: p.holder.clone(),
        })
        .collect()
}

/// The signatures the staged root already carries, each kept (it verifies
/// under a root key of the current or the staged root) or dropped, by its
/// whole key id, inside the server's frame: they come from online too.
fn existing_signatures(
    out: &mut String,
    current: &RootMetadata,
    staged: &RootMetadata,
) -> Result<()> {
    let judged = ceremony::cosign::judge(current, staged)
        .map_err(|e| refused(format!("the staged root's signatures: {e}")))?;
    if judged.is_empty() {
        out.push_str("!! the staged root carries no signature yet\n");
    }
    for e in judged {
        match e.verdict {
            Ok(which) => out.push_str(&format!(
                "!! already signed by {} (a root key of the {which} root; the signature verifies, \
                 and is kept)\n",
                name_shown(&e.keyid)
            )),
            Err(why) => out.push_str(&format!(
                "!! DROPPED: the signature under key id {}: {}; it is not uploaded\n",
                name_shown(&e.keyid),
                escape(&why)
            )),
        }
    }
    Ok(())
}

const FRAME: &str = "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!";

/// Prints one chain's plan: the server's part in its own frame, this
/// ceremony's change, who must sign, expiry, guard rails.
pub(super) fn render_plan(
    plan: &ChainPlan,
    shown: &Shown,
    ctx: &Context,
    labels: &[Placeholder],
    warnings: &[String],
) -> Result<String> {
    let mut out = String::new();
    let v = |r: &RootMetadata| r.version().map_or("?".into(), |v| v.to_string());
    out.push_str(&format!(
        "== chain {}: v{} -> v{} ==\n",
        escape(&plan.name),
        v(&plan.current),
        v(&plan.new)
    ));
    if let Some(note) = &shown.note {
        out.push_str(note);
    }
    let plain = Context {
        anchor: AnchorNote::None,
        ..ctx.clone()
    };
    let from = match &shown.server {
        Some((base, script)) => {
            let text = render(&plan.current, script, &plain)
                .map_err(|e| refused(format!("the server's part of the diff: {e}")))?;
            out.push_str(FRAME);
            out.push('\n');
            if shown.sign_staged {
                out.push_str(
                    "!! PREPARED ONLINE, BY THE SERVER OR ANOTHER HOLDER, NOT BY THIS CEREMONY\n",
                );
            } else {
                out.push_str("!! PREPARED BY THE SERVER, NOT BY THIS CEREMONY\n");
            }
            out.push_str(&format!(
                "!! every difference between the current root v{} and {} (v{}); this ceremony \
                 did not make these changes, and you are asked to accept them separately\n",
                v(&plan.current),
                shown.server_what,
                v(base)
            ));
            for line in text.lines() {
                out.push_str(&format!("!! {line}\n"));
            }
            if shown.sign_staged {
                existing_signatures(&mut out, &plan.current, base)?;
            }
            out.push_str(FRAME);
            out.push('\n');
            out.push_str(&format!(
                "  this ceremony's change, from the staged root v{}:\n",
                v(base)
            ));
            base
        }
        None => &plan.current,
    };
    if shown.sign_staged && shown.ceremony.is_empty() {
        out.push_str(
            "  none: signs the staged roots as they are (the bytes of \"signed\" untouched: no \
             version bump, no expiry, no changelog, no transcript anchor)\n",
        );
    } else {
        let text =
            render(from, &shown.ceremony, ctx).map_err(|e| refused(format!("the diff: {e}")))?;
        out.push_str(&text);
    }
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
    Ok(out)
}
