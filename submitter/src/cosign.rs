//! `submitter upload` of a partial Factory bundle, or of any bundle that
//! signs the staged roots as they are: several holders, with
//! fioctl (`keys tuf updates sign`) or our signer, sign one transaction's
//! staged roots one after the other. The bundle's signatures go into the
//! transaction beside the ones already there, for the same body only, and
//! the roots are applied once both thresholds of both chains are met.
//!
//! Running it again is safe: it reads the served roots and the transaction
//! first, and a `PUT` of the same union changes nothing.

use anyhow::{anyhow, bail, Result};
use ceremony_cli::{eprintln, println};
use time::OffsetDateTime;

use ceremony::bundle_check::{same_root, same_signed};
use ceremony::rules::{check_step, Rule, ThresholdOf, Verdict};
use ceremony::untrusted::escape;
use ceremony::RootMetadata;

use crate::factory::Factory;
use crate::http::Http;
use crate::upload::{apply, chain_roots, confirm_factory, hint_for, observe, Checked, Ours};
use crate::VerificationFailed;

/// Puts a partial (or sign-staged) bundle into its transaction and applies
/// it when every threshold is met; otherwise says who must still sign, and
/// how.
pub(crate) fn upload_partial(
    f: &Factory,
    c: &Checked,
    now: OffsetDateTime,
    again: &str,
) -> Result<()> {
    let (current_ci, new_ci) = chain_roots(c, "ci")?;
    let (current_prod, new_prod) = chain_roots(c, "prod")?;
    let txid = c.proposal.txid.clone().unwrap_or_default();
    let name = &f.name;

    // 1. Applied already (by an earlier upload, or `fioctl keys tuf
    //    updates apply`)? The served roots then carry this body, with our
    //    signatures and the others'.
    let o = observe(f)?;
    let first_prod = ceremony::rotation::derives_first_prod(&c.proposal);
    // The production root is `None` on a Factory that has none yet.
    let served = [
        ("CI", Some(&o.ci), current_ci, new_ci),
        ("prod", o.prod.as_ref(), current_prod, new_prod),
    ];
    if served
        .iter()
        .all(|(_, seen, _, new)| seen.is_some_and(|s| same_signed(s, new)))
    {
        for (chain, seen, cur, _) in &served {
            let Some(seen) = seen else { continue };
            let v = check_step(Some(cur), seen, Some(now));
            if !v.ok() {
                return Err(VerificationFailed(format!(
                    "Factory {name} serves this bundle's {chain} root, but it breaks the rules: {}",
                    problems(&v)
                ))
                .into());
            }
        }
        println!(
            "already applied: Factory {name} serves CI v{} and prod v{} with this bundle's body, \
             every threshold met",
            new_ci.version()?,
            new_prod.version()?
        );
        return Ok(());
    }
    for (chain, seen, cur, new) in &served {
        let moved = match seen {
            Some(s) => !same_signed(s, new) && !same_root(s, cur),
            // No production root: as the proposal found it, or it vanished.
            None => !first_prod,
        };
        if moved {
            return Err(VerificationFailed(format!(
                "the Factory's {chain} root moved since the proposal was made (made from v{}, the \
                 server now serves {}); nothing was sent. Make a new proposal.",
                cur.version().unwrap_or(0),
                seen.map_or("none".to_string(), |s| format!(
                    "v{}",
                    s.version().unwrap_or(0)
                ))
            ))
            .into());
        }
    }

    // 2. The transaction's staged roots: the same body as ours, whose
    //    signatures we keep; or still the body the proposal was made from
    //    (the first holder of our own rotation), whose signatures cover
    //    another body and go.
    let tx = f.transaction()?;
    if tx.status != "STARTED" {
        bail!(
            "no root-update transaction is open on Factory {name} (status {}): the transaction \
             {txid} of this proposal was cancelled or has ended. Nothing was uploaded. Make a new \
             proposal (`submitter propose`).",
            escape(&tx.status)
        );
    }
    let mut united = Vec::new();
    for (chain, key, staged, cur, ours) in [
        ("CI", "ci", &tx.updated_ci, current_ci, new_ci),
        ("prod", "prod", &tx.updated_prod, current_prod, new_prod),
    ] {
        let staged = staged.as_ref().map(|s| &s.root);
        let from_proposal = c
            .proposal
            .chain(key)
            .and_then(|ch| c.proposal.staged_root(ch).ok().flatten());
        let root = match staged {
            Some(s) if same_signed(s, ours) => ceremony::cosign::unite(s, ours)
                .ok_or_else(|| anyhow!("{chain}: the staged body changed while comparing"))?,
            Some(s) if from_proposal.as_ref().is_some_and(|p| same_signed(p, s)) => ours.clone(),
            None if from_proposal.is_none() => ours.clone(),
            _ => {
                return Err(VerificationFailed(format!(
                    "the staged roots changed since the proposal: the {chain} root staged in \
                     transaction {txid} is neither the one the proposal was made from nor this \
                     bundle's (another holder changed it, which clears every signature). Nothing \
                     was sent; propose again (`submitter propose --factory {name} --txid {txid} \
                     --sign-staged`, to sign what is staged now) and sign again"
                ))
                .into())
            }
        };
        // Only signatures that verify under a root key go up: the server
        // refuses an invalid one, and it counts for nothing.
        let kept = ceremony::cosign::keep_valid(cur, &root)?;
        for e in ceremony::cosign::judge(cur, &root)? {
            if let Err(why) = e.verdict {
                eprintln!(
                    "{chain}: the signature under key id {} is left out: {}",
                    escape(&e.keyid),
                    escape(&why)
                );
            }
        }
        united.push((staged.cloned(), kept));
    }
    let (staged_prod, united_prod) = united.pop().expect("two chains");
    let (staged_ci, united_ci) = united.pop().expect("two chains");

    // 3. PUT the union, unless it is what the transaction holds already.
    let same =
        |s: &Option<RootMetadata>, u: &RootMetadata| s.as_ref().is_some_and(|s| same_root(s, u));
    if same(&staged_ci, &united_ci) && same(&staged_prod, &united_prod) {
        eprintln!("the transaction already holds these signatures");
    } else {
        let url = f.updates_url();
        let a = f.put(
            &txid,
            united_ci.envelope(),
            united_prod.envelope(),
            // A targets change's re-signed targets go with the roots; a
            // holder adding only root signatures sends none, and the server
            // keeps those PUT before.
            &c.resigned,
        )?;
        if !a.ok() {
            let status = a.status;
            let e = Http::expect_ok("PUT", &url, a).expect_err("not ok");
            bail!(
                "{e}\n{}Nothing was applied. {}\n{again}",
                if (400..500).contains(&status) {
                    "The server refused the roots and changed nothing (a 4xx answer comes before \
                     any change). "
                } else {
                    ""
                },
                hint_for(Some(status), name)
            );
        }
        eprintln!(
            "PUT {url}: stored the CI and prod roots with this bundle's signatures and the {} \
             already there",
            "other holders'"
        );
    }

    // 4. Apply only when both thresholds of both chains are met.
    let verdicts = [
        ("CI", check_step(Some(current_ci), &united_ci, Some(now))),
        (
            "prod",
            check_step(Some(current_prod), &united_prod, Some(now)),
        ),
    ];
    for (chain, v) in &verdicts {
        let other: Vec<_> = v
            .failures
            .iter()
            .filter(|f| !matches!(f.rule, Rule::OldThreshold | Rule::NewThreshold))
            .collect();
        if !other.is_empty() {
            return Err(VerificationFailed(format!(
                "the {chain} root in the transaction breaks the rules beyond missing signatures: \
                 {}; it cannot be applied. Nothing was applied",
                problems(v)
            ))
            .into());
        }
    }
    if verdicts.iter().all(|(_, v)| v.ok()) {
        let ours = Ours {
            current_ci,
            current_prod,
            new_ci: &united_ci,
            new_prod: &united_prod,
            first_prod,
        };
        apply(f, &ours, &txid, again)?;
        confirm_factory(f, &ours, now)?;
        println!(
            "uploaded and applied: Factory {name} serves CI v{} and prod v{}, signed by every \
             holder needed; re-fetched, identical to the roots put into the transaction, both \
             thresholds met",
            united_ci.version()?,
            united_prod.version()?
        );
        return Ok(());
    }
    println!(
        "uploaded, NOT applied: the transaction {txid} of Factory {name} holds this bundle's \
         signatures and the other holders', but not every threshold is met yet:"
    );
    for (chain, v) in &verdicts {
        for line in missing(chain, v) {
            println!("  - {line}");
        }
    }
    println!(
        "Each holder of a missing key adds a signature, either with fioctl: `fioctl keys tuf \
         updates sign --txid {txid} -k KEYS.tgz`, or with our signer: `submitter propose \
         --factory {name} --txid {txid} --sign-staged -o proposal.json`, `signer sign`, and \
         `submitter upload` of that bundle. Then `submitter upload` again (this bundle or any \
         later one) or `fioctl keys tuf updates apply --txid {txid}` applies the roots."
    );
    println!("{again}");
    Ok(())
}

/// The thresholds of `v` that are not met, with every root key (full id)
/// that could still sign.
fn missing(chain: &str, v: &Verdict) -> Vec<String> {
    v.thresholds
        .iter()
        .filter(|t| !t.met())
        .map(|t| {
            let whose = match t.of {
                ThresholdOf::Previous => "current",
                ThresholdOf::Own => "new",
            };
            format!(
                "{chain}: {} more signature(s) needed from the root keys of the {whose} root v{} \
                 (threshold {}, {} signed); not yet signed by: {}",
                t.threshold.saturating_sub(t.signed.len() as u64),
                t.root_version.unwrap_or(0),
                t.threshold,
                t.signed.len(),
                t.missing
                    .iter()
                    .map(|k| escape(&k.keyid).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect()
}

fn problems(v: &Verdict) -> String {
    v.failures
        .iter()
        .map(|f| format!("[{}] {}", f.rule, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}
