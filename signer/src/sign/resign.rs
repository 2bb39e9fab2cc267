//! A targets key rotation's production and wave targets: which the replaced
//! offline targets key signed (chosen here from the files as the proposal
//! carries them, never from a list the online side made), shown in full
//! before the confirmation, then, after it, shown again from the very
//! values signed and compared with the first showing, and signed by the new
//! offline targets keys.

use std::collections::BTreeMap;

use anyhow::Result;
use ceremony_cli::println;
use serde_json::Value;

use ceremony::proposal::{KeyRole, Proposal};
use ceremony::resign::{selected, Kind, ToResign};
use ceremony::rotation::Plans;
use ceremony::transcript::event::Output;
use ceremony::transcript::{Event, TranscriptWriter};

use super::refused;
use crate::commands::Opened;

/// What was shown: each file and its lines.
pub(super) struct Shown {
    files: Vec<(ToResign, Vec<String>)>,
}

/// The signatures for the PUT: production by tag, waves by name.
pub(super) type Signatures = (BTreeMap<String, Vec<Value>>, BTreeMap<String, Vec<Value>>);

/// Refuses, before any key is made, a targets file this rotation would
/// re-sign but could not show or sign.
pub(super) fn preflight(proposal: &Proposal) -> Result<()> {
    let Some(resign) = &proposal.resign else {
        return Ok(());
    };
    if proposal.change.sign_staged {
        return staged(proposal, resign).map(|_| ());
    }
    let replaced = ceremony::rotation::replaced_targets_keys(proposal)?;
    for t in selected(resign, &replaced, &current_ci(proposal)?).0 {
        t.render().map_err(|e| refused(e.to_string()))?;
        t.message().map_err(|e| refused(e.to_string()))?;
    }
    Ok(())
}

/// Shows the targets files this rotation re-signs, in full, and names the
/// ones it leaves (signed by no replaced key). Nothing for any other change.
pub(super) fn show(proposal: &Proposal) -> Result<Shown> {
    let change = &proposal.change;
    let Some(resign) = &proposal.resign else {
        return Ok(Shown { files: Vec::new() });
    };
    if change.sign_staged {
        show_staged(proposal, resign)?;
        return Ok(Shown { files: Vec::new() });
    }
    if change.role != KeyRole::Targets || change.rotate.is_none() {
        return Ok(Shown { files: Vec::new() });
    }
    // The replaced keys are the offline targets keys the rotation takes
    // out (fioctl: the old offline key); a key only removed re-signs nothing.
    let replaced = ceremony::rotation::replaced_targets_keys(proposal)?;
    let (chosen, left) = selected(resign, &replaced, &current_ci(proposal)?);
    println!();
    println!(
        "PRODUCTION TARGETS RE-SIGNED BY THE NEW OFFLINE TARGETS KEY ({} file(s), signed by a \
         replaced key {}):",
        chosen.len(),
        if replaced.is_empty() {
            "(none is replaced)".to_string()
        } else {
            replaced.join(", ")
        }
    );
    let mut files = Vec::new();
    for t in chosen {
        let lines = t.render().map_err(|e| refused(e.to_string()))?;
        for l in &lines {
            println!("  {l}");
        }
        // Refused now, before the confirmation, if it cannot be signed.
        t.message().map_err(|e| refused(e.to_string()))?;
        files.push((t, lines));
    }
    for (kind, name) in left {
        println!(
            "  not re-signed (no replaced key signed it): {} {}",
            kind.describe(),
            ceremony::untrusted::escape(&name)
        );
    }
    Ok(Shown { files })
}

/// Signs every shown file with every new offline targets key this ceremony
/// made (their private halves are in the targets keys' new archive), after
/// rendering each again from the value signed and comparing it with what
/// was shown.
pub(super) fn sign(
    t_log: &mut TranscriptWriter,
    shown: &Shown,
    plans: &Plans,
    targets: Option<&Opened>,
) -> Result<Signatures> {
    let mut prod = BTreeMap::new();
    let mut waves = BTreeMap::new();
    if shown.files.is_empty() {
        return Ok((prod, waves));
    }
    let Some(targets) = targets else {
        return Err(refused(
            "the production targets must be re-signed by the new offline targets key, but this \
             ceremony made none"
                .to_string(),
        ));
    };
    let signers: Vec<_> = plans
        .first()
        .added
        .iter()
        .filter_map(|a| {
            targets
                .archive
                .keys
                .iter()
                .find(|k| k.public == a.key)
                .map(|k| (a.keyid.clone(), &k.private))
        })
        .collect();
    if signers.is_empty() {
        return Err(refused(
            "none of the new offline targets keys is in the targets keys' archive".to_string(),
        ));
    }
    for (t, lines) in &shown.files {
        if &t.render()? != lines {
            return Err(refused(format!(
                "{} {}: what would be signed is not what was shown; nothing was signed",
                t.kind.describe(),
                ceremony::untrusted::escape(&t.name)
            )));
        }
        let mut sigs = Vec::new();
        for (keyid, key) in &signers {
            sigs.push(t.sign(keyid, *key)?);
        }
        t_log.append(&Event::Output(Output::TargetsSigned {
            kind: match t.kind {
                Kind::Prod => "prod".into(),
                Kind::Wave => "wave".into(),
            },
            name: t.name.clone(),
            signed_sha256: ceremony::sha256::hex(&t.message()?),
            keyids: signers.iter().map(|(id, _)| id.clone()).collect(),
        }))?;
        let map = match t.kind {
            Kind::Prod => &mut prod,
            Kind::Wave => &mut waves,
        };
        map.insert(t.name.clone(), sigs);
    }
    println!(
        "Re-signed {} production and {} wave targets file(s) with {} new offline targets key(s).",
        prod.len(),
        waves.len(),
        signers.len()
    );
    Ok((prod, waves))
}

/// Signing staged roots that change the offline targets keys (the root
/// keys' holder's half of a targets change made on two machines): the
/// production and wave targets a key they take out signed must be signed,
/// in the transaction, by a targets key of the staged CI root, and every
/// signature there must verify under it. A server that swapped the key the
/// targets keys' holder made is refused here, before any key or question.
/// Returns the re-signed files and the staged CI root's targets key ids.
fn staged(
    proposal: &Proposal,
    resign: &ceremony::resign::Resign,
) -> Result<(Vec<ToResign>, Vec<String>)> {
    let current = current_ci(proposal)?;
    let chain = proposal
        .chain(ceremony::proposal::ChainName::Ci.as_str())
        .ok_or_else(|| refused("signing staged roots needs the Factory's ci chain".to_string()))?;
    let Some(staged) = proposal.staged_root(chain)? else {
        return Err(refused(
            "the ci chain has no staged root to sign".to_string(),
        ));
    };
    let now = staged.role("targets")?.keyids;
    let replaced: Vec<String> = current
        .role("targets")?
        .keyids
        .into_iter()
        .filter(|id| !now.contains(id))
        .collect();
    let chosen =
        ceremony::resign::check_staged(resign, &replaced, &current, &staged).map_err(|e| {
            refused(format!(
                "{e}. Refusing to sign the staged roots: the targets signatures the server would \
             apply with them are not by the staged targets key. Compare the staged targets key \
             with the one the targets keys' holder made (its screen and transcript); cancel \
             the transaction if they differ. Nothing was signed or written"
            ))
        })?;
    for t in &chosen {
        t.render().map_err(|e| refused(e.to_string()))?;
    }
    Ok((chosen, now))
}

/// Shows, for staged roots that change the offline targets keys, the
/// production and wave targets the transaction holds signatures of (checked
/// in the preflight), in full: the server adds them when it applies the
/// roots this holder signs.
fn show_staged(proposal: &Proposal, resign: &ceremony::resign::Resign) -> Result<()> {
    let (chosen, keys) = staged(proposal, resign)?;
    if chosen.is_empty() && resign.staged.is_empty() {
        return Ok(());
    }
    println!();
    println!(
        "PRODUCTION TARGETS RE-SIGNED IN THE TRANSACTION ({} file(s)); their signatures verify \
         under the staged CI root's targets keys ({}), and the server adds them when it applies \
         the roots you sign:",
        chosen.len(),
        keys.join(", ")
    );
    for t in chosen {
        for l in t.render().map_err(|e| refused(e.to_string()))? {
            println!("  {l}");
        }
    }
    Ok(())
}

/// The current CI root, whose offline targets keys signed the files a
/// rotation re-signs.
fn current_ci(proposal: &Proposal) -> Result<ceremony::RootMetadata> {
    let chain = proposal
        .chain(ceremony::proposal::ChainName::Ci.as_str())
        .ok_or_else(|| refused("a targets change needs the Factory's ci chain".to_string()))?;
    Ok(proposal.current_root(chain)?)
}
