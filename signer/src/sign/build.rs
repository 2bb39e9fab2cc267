//! Building the new roots: [`ceremony::rotation::Plans`] from the proposal
//! and the new keys, or from placeholders for keys not made yet (for
//! `signer review` and the preflight's guard rails).

use anyhow::{Context, Result};
use ceremony_cli::{print, println};
use time::OffsetDateTime;

use ceremony::keys::{NewKeyType, PrivateKey, PublicKey};
use ceremony::proposal::Proposal;
use ceremony::rotation::{self, Plans};
use ceremony::transcript::event::Diff;
use ceremony::transcript::Event;

use ceremony::diff::{AnchorNote, Context as DiffContext};

use super::preflight::Ceremony;
use super::review::{
    check_key_identity, labels_in_diff, provided_in_diff, render_plan, shown_changes, Shown,
};

/// A placeholder for a key not made yet, and how to show it.
pub(super) struct Placeholder {
    pub(super) keyid: String,
    pub(super) label: String,
}

/// Builds the plans with placeholder keys for those not made yet.
pub(super) fn placeholder_plans(
    proposal: &Proposal,
    provided: &[PublicKey],
    to_generate: usize,
    now: OffsetDateTime,
) -> Result<(Plans, Vec<Placeholder>)> {
    let mut keys = provided.to_vec();
    let mut labels = Vec::new();
    for i in 0..to_generate {
        // Throw-away Ed25519 keys, so that the root can be built and shown;
        // they are labelled <new key N> and never used for anything else.
        let k = PrivateKey::generate(NewKeyType::Ed25519)
            .context("cannot make a placeholder key")?
            .public_key();
        labels.push(Placeholder {
            keyid: k.key_id(proposal.dialect),
            label: format!("<new key {}>", i + 1),
        });
        keys.push(k);
    }
    let plans =
        Plans::build(proposal, &keys, now).context("the proposal's change cannot be made")?;
    // Here, in the preflight, so that a key id naming two keys is refused
    // before any key is made or anything is asked.
    check_key_identity(proposal, &plans)?;
    Ok((plans, labels))
}

/// The new roots with the keys made (and provided).
pub(super) fn plans(c: &Ceremony, new_keys: &[PublicKey]) -> Result<Plans> {
    let plans = Plans::build(&c.proposal, new_keys, c.now)
        .context("the proposal's change cannot be made")?;
    check_key_identity(&c.proposal, &plans)?;
    Ok(plans)
}

/// Shows each plan to the human and records it as it was shown; returns
/// what was shown, which the signer applies before it signs. `anchored`:
/// whether this ceremony's transcript anchor goes into the new roots.
pub(super) fn show(c: &mut Ceremony, plans: &Plans, anchored: bool) -> Result<Vec<Shown>> {
    let shown = shown_changes(&c.proposal, plans)?;
    let ctx = DiffContext {
        dialect: c.proposal.dialect,
        labels: labels_in_diff(&[], c.key_type),
        provided: provided_in_diff(&c.proposal, &c.provided),
        anchor: if anchored {
            AnchorNote::Set
        } else {
            AnchorNote::None
        },
    };
    for (plan, s) in plans.iter().zip(&shown) {
        println!();
        let warnings = rotation::guard_rails(plan, c.now);
        let text = render_plan(plan, s, &ctx, &[], &warnings)?;
        print!("{text}");
        c.transcript.append(&Event::Diff(Diff {
            chain: plan.name.clone(),
            text,
            warnings,
        }))?;
    }
    Ok(shown)
}
