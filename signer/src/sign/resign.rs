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

/// The current CI root, whose offline targets keys signed the files a
/// rotation re-signs.
fn current_ci(proposal: &Proposal) -> Result<ceremony::RootMetadata> {
    let chain = proposal
        .chain(ceremony::proposal::ChainName::Ci.as_str())
        .ok_or_else(|| refused("a targets change needs the Factory's ci chain".to_string()))?;
    Ok(proposal.current_root(chain)?)
}
