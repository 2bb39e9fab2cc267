//! Review and confirm: the human accepts, with its own typed answer, what
//! the server prepared (Factory staged roots), then types "yes" (or the new
//! version) to the whole; that last confirmation becomes the transcript's
//! anchor in the new roots, when this holder completes them alone.

use anyhow::Result;

use ceremony::keys::PublicKey;
use ceremony::rotation::{ChainPlan, Plans};
use ceremony::transcript::event::{Anchor, Confirmation};
use ceremony::transcript::{self, Event};
use ceremony::RootMetadata;

use super::args::SignArgs;
use super::preflight::Ceremony;
use super::review::Shown;
use super::root_key_ids_of;
use super::signing::Usable;
use crate::secrets;

/// Asks the operator to accept, on its own, what the server prepared and
/// this ceremony did not make (the framed sections), and records the answer
/// as its own confirmation entry. Nothing is asked when no chain has a
/// server-prepared root.
pub(super) fn server(args: &SignArgs, c: &mut Ceremony, shown: &[Shown]) -> Result<()> {
    let chains: Vec<String> = shown
        .iter()
        .filter(|s| s.server.is_some())
        .map(|s| ceremony::untrusted::escape(&s.chain).into_owned())
        .collect();
    if chains.is_empty() {
        return Ok(());
    }
    let question = if c.proposal.change.sign_staged {
        format!(
            "\nThe changes framed in !! lines for chain(s) {} were prepared online, by the server \
             or another holder; this ceremony did not make them and signs them as they are. \
             Accept them? Type \"yes\" (or \"server\"):",
            chains.join(", ")
        )
    } else {
        format!(
            "\nThe server prepared the changes framed in !! lines for chain(s) {}; this ceremony \
             did not make them. Accept the server's changes? Type \"yes\" (or \"server\"):",
            chains.join(", ")
        )
    };
    let typed = secrets::confirm(&question, &["yes", "server"], args.yes)?;
    c.transcript.append(&Event::Confirmation(Confirmation {
        question: question.trim().to_string(),
        typed,
    }))?;
    Ok(())
}

/// Asks "Sign this?" and records the answer; returns the hash of that
/// entry, the anchor.
pub(super) fn confirm(args: &SignArgs, c: &mut Ceremony, plans: &Plans) -> Result<String> {
    let first_version = plans.first().new.version()?.to_string();
    let question =
        format!("\nSign this? Type \"yes\" or the new version number ({first_version}):");
    let typed = secrets::confirm(&question, &["yes", &first_version], args.yes)?;
    Ok(c.transcript.append(&Event::Confirmation(Confirmation {
        question: question.trim().to_string(),
        typed,
    }))?)
}

/// Anchors the transcript in the new root(s), so the repository's own
/// history pins this ceremony. Only when this holder completes the root
/// alone: co-signers must sign identical bytes, and each holder's transcript
/// differs.
pub(super) fn anchor(
    c: &mut Ceremony,
    plans: &mut Plans,
    held: &[Usable<'_>],
    anchor: &str,
) -> Result<()> {
    let event = if c.proposal.change.sign_staged {
        Anchor {
            entry: None,
            field: None,
            why: Some(
                "signs the staged roots as they are: the body other holders sign is not changed, \
                 so the root is not anchored (no version bump, no expiry, no changelog either)"
                    .to_string(),
            ),
        }
    } else if will_anchor(plans, held) {
        for plan in plans.iter_mut() {
            transcript::set_anchor(&mut plan.new, anchor);
        }
        Anchor {
            entry: Some(anchor.to_string()),
            field: Some(transcript::anchor_field(c.proposal.dialect).to_string()),
            why: None,
        }
    } else {
        Anchor {
            entry: None,
            field: None,
            why: Some(
                "other holders must sign the same bytes; the root is not anchored".to_string(),
            ),
        }
    };
    c.transcript.append(&Event::Anchor(event))?;
    Ok(())
}

/// Whether the transcript anchor goes into the new roots: when the keys
/// this holder has complete every plan alone.
pub(super) fn will_anchor(plans: &Plans, held: &[Usable<'_>]) -> bool {
    plans.iter().all(|p| can_complete(p, held))
}

/// Whether the keys this holder has meet both thresholds of `plan` alone.
fn can_complete(plan: &ChainPlan, held: &[Usable<'_>]) -> bool {
    let count = |root: &RootMetadata| -> bool {
        let Ok(role) = root.role("root") else {
            return false;
        };
        let mut distinct: Vec<&PublicKey> = Vec::new();
        for k in held {
            if root_key_ids_of(root, k.public).is_some() && !distinct.contains(&k.public) {
                distinct.push(k.public);
            }
        }
        distinct.len() as u64 >= role.threshold
    };
    count(&plan.current) && count(&plan.new)
}
