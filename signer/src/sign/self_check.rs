//! Self-check: every new root, once signed, must pass the rotation rules
//! before a bundle is written. A root short only of other holders'
//! signatures makes the bundle partial; any other failure stops here.

use anyhow::Result;
use ceremony_cli::println;
use time::OffsetDateTime;

use ceremony::bundle::Completion;
use ceremony::rotation::ChainPlan;
use ceremony::rules::{check_step, Rule, ThresholdOf, Verdict};
use ceremony::transcript::event::{RuleFailure, SelfCheck};
use ceremony::transcript::{Event, TranscriptWriter};

use super::{failures, refused};

/// Nothing checked yet: complete until a root says otherwise.
pub(super) fn nothing_missing() -> Completion {
    Completion {
        complete: true,
        missing: Vec::new(),
    }
}

/// Checks `plan`'s signed new root, prints and records the verdict, and
/// adds what is missing to `completion`.
pub(super) fn check(
    t: &mut TranscriptWriter,
    plan: &ChainPlan,
    now: OffsetDateTime,
    completion: &mut Completion,
) -> Result<()> {
    let verdict = check_step(Some(&plan.current), &plan.new, Some(now));
    println!(
        "  {}: self-check: {}",
        plan.name,
        thresholds_summary(&verdict)
    );
    t.append(&Event::SelfCheck(SelfCheck {
        chain: plan.name.clone(),
        ok: verdict.ok(),
        summary: thresholds_summary(&verdict),
        failures: verdict.failures.iter().map(RuleFailure::from).collect(),
    }))?;
    if verdict.ok() {
        return Ok(());
    }
    let only_thresholds = verdict
        .failures
        .iter()
        .all(|f| matches!(f.rule, Rule::OldThreshold | Rule::NewThreshold));
    if !only_thresholds {
        return Err(refused(format!(
            "{}: the new root does not pass the rotation rules: {}. No bundle was written",
            plan.name,
            failures(&verdict)
        )));
    }
    completion.complete = false;
    completion
        .missing
        .extend(missing_signatures(&plan.name, &verdict));
    Ok(())
}

fn thresholds_summary(v: &Verdict) -> String {
    let mut parts: Vec<String> = v
        .thresholds
        .iter()
        .map(|t| {
            format!(
                "{} signature(s) of the {} needed from the {} root v{}'s keys{}",
                t.signed.len(),
                t.threshold,
                match t.of {
                    ThresholdOf::Previous => "current",
                    ThresholdOf::Own => "new",
                },
                t.root_version.unwrap_or(0),
                if t.met() { "" } else { " (NOT MET)" }
            )
        })
        .collect();
    parts.push(if v.ok() {
        "passes the rotation rules".into()
    } else {
        format!("{} rule(s) broken", v.failures.len())
    });
    parts.join("; ")
}

/// For a root whose only failures are thresholds others must complete:
/// which signatures are missing, in words.
fn missing_signatures(name: &str, verdict: &Verdict) -> Vec<String> {
    verdict
        .thresholds
        .iter()
        .filter(|t| !t.met())
        .map(|t| {
            let whose = match t.of {
                ThresholdOf::Previous => format!(
                    "the root keys of the current root v{}",
                    t.root_version.unwrap_or(0)
                ),
                ThresholdOf::Own => format!(
                    "the root keys of the new root v{}",
                    t.root_version.unwrap_or(0)
                ),
            };
            let need = t.threshold.saturating_sub(t.signed.len() as u64);
            let who = t
                .missing
                .iter()
                .map(|k| {
                    format!(
                        "key id {} ({}, fingerprint {})",
                        k.keyid, k.key_type, k.fingerprint
                    )
                })
                .collect::<Vec<_>>()
                .join(", or ");
            format!(
                "{name}: {need} more signature(s) needed from {whose} (threshold {}, {} signed); not yet signed by: {who}",
                t.threshold,
                t.signed.len()
            )
        })
        .collect()
}
