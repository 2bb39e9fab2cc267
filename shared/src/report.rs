//! Printable reports for auditors: one self-contained HTML file each, with
//! no scripts and no external resources, laid out for A4/Letter paper.
//!
//! * [`audit_html`]: a whole root history: a timeline of versions, who signed
//!   each, key ages, expiry, threshold health, warnings.
//! * [`transcript_html`]: one ceremony: who, when, what changed, the keys
//!   made, the head hash as text and as a QR code, and lines for the
//!   witnesses to sign.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::audit::AuditReport;
use crate::fingerprint::Labelled;
use crate::html::escape;
use crate::html::page;
use crate::rules::{short, ThresholdOf};
use crate::transcript::event::{Confirmation, Diff, Input, KeyGenerated, Output, Start};
use crate::transcript::{Event, Found, Transcript, Verdict, Verification};
use crate::transport::qr::{Ecc, QrCode};

/// What an audit report is about: the Factory or repository (or folder),
/// and which of its chains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// `FoundriesFactory acme (https://api.foundries.io)`, `TUF repository
    /// https://…`, `the folder metadata/`.
    pub target: String,
    /// `CI`, `production`; `None` for a repository's one chain.
    pub chain: Option<String>,
}

/// How a chain is named in reports: `CI`, `prod`, or as recorded.
fn chain_name(chain: &str) -> String {
    if chain.eq_ignore_ascii_case("ci") {
        "CI".into()
    } else {
        chain.to_string()
    }
}

/// The whole history as a printable page, naming what was audited.
pub fn audit_html(report: &AuditReport, subject: &Subject) -> String {
    let mut b = String::new();
    let verdict = if report.ok() {
        "<span class=\"ok\">the history holds</span>".to_string()
    } else {
        let first = report.history.first_failure();
        format!(
            "<span class=\"fail\">the history does NOT hold</span>: v{} breaks rule <code>{}</code>",
            first.and_then(|s| s.version).unwrap_or(0),
            first
                .and_then(|s| s.first_failure())
                .map_or("?", |f| f.rule.id())
        )
    };
    let _ = write!(
        b,
        "<h1>Root history audit</h1><p class=\"meta\">{}{} · dialect {} · {} root(s) · expiry checked as of {} · {}</p>",
        escape(&subject.target),
        subject
            .chain
            .as_deref()
            .map(|c| format!(", {} root history", escape(c)))
            .unwrap_or_default(),
        escape(report.dialect.name()),
        report.history.steps.len(),
        escape(&report.at),
        verdict
    );

    // When each root key first appears, to tell key ages.
    let mut first_seen: HashMap<String, u64> = HashMap::new();
    let _ = write!(
        b,
        "<h2>Timeline</h2><table><tr><th>version</th><th>expires</th><th>signed by (previous root)</th>\
         <th>signed by (own root)</th><th>verdict</th></tr>"
    );
    for step in &report.history.steps {
        let v = step.version.unwrap_or(0);
        let cell = |of: ThresholdOf| -> String {
            step.thresholds
                .iter()
                .find(|t| t.of == of)
                .map(|t| {
                    let ids: Vec<String> = t
                        .signed
                        .iter()
                        .map(|k| {
                            format!(
                                "<code>{}</code> {}",
                                escape(short(&k.keyid)),
                                escape(&k.key_type)
                            )
                        })
                        .collect();
                    format!(
                        "<span class=\"{}\">{} of {}</span> (of {} keys)<br>{}",
                        if t.met() { "ok" } else { "fail" },
                        t.signed.len(),
                        t.threshold,
                        t.keys_total,
                        ids.join("<br>")
                    )
                })
                .unwrap_or_else(|| "— (trusted on its own)".into())
        };
        for t in &step.thresholds {
            for k in t.signed.iter().chain(&t.missing) {
                first_seen.entry(k.keyid.clone()).or_insert(v);
            }
        }
        let failures: Vec<String> = step
            .failures
            .iter()
            .map(|f| format!("<code>{}</code>: {}", f.rule.id(), escape(&f.message)))
            .collect();
        // Warnings hold whether or not the step does: shown after its verdict.
        let warnings: String = step
            .warnings
            .iter()
            .map(|w| {
                format!(
                    "<br><span class=\"warn\">warning</span> <code>{}</code>: {}",
                    w.kind.id(),
                    escape(&w.message)
                )
            })
            .collect();
        let _ = write!(
            b,
            "<tr><td>v{v}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(step.expires.as_deref().unwrap_or("?")),
            cell(ThresholdOf::Previous),
            cell(ThresholdOf::Own),
            if step.ok() {
                "<span class=\"ok\">OK</span>".to_string()
            } else {
                format!(
                    "<span class=\"fail\">FAILED</span><br>{}",
                    failures.join("<br>")
                )
            } + &warnings
        );
    }
    b.push_str("</table>");

    if let Some(last) = report.history.steps.last() {
        let final_version = last.version.unwrap_or(0);
        b.push_str("<h2>Current root keys</h2><table><tr><th>key id</th><th>type</th><th>fingerprint (sha256 of the public key)</th><th>root key since</th></tr>");
        if let Some(own) = last.thresholds.iter().find(|t| t.of == ThresholdOf::Own) {
            for k in own.signed.iter().chain(&own.missing) {
                let since = first_seen.get(&k.keyid).copied().unwrap_or(final_version);
                let _ = write!(
                    b,
                    "<tr><td><code>{}</code></td><td>{}</td><td class=\"mono\">{}</td><td>v{since} ({} version(s))</td></tr>",
                    escape(short(&k.keyid)),
                    escape(&if k.key_type == "rsa" {
                        format!("rsa-{}", k.bits)
                    } else {
                        k.key_type.clone()
                    }),
                    escape(&k.fingerprint),
                    final_version.saturating_sub(since) + 1
                );
            }
            let _ = write!(
                b,
                "</table><p>Threshold health: {} of {} root keys needed{}</p>",
                own.threshold,
                own.keys_total,
                if own.keys_total > 1 && own.threshold as usize == own.keys_total {
                    " — <span class=\"warn\">warning: the threshold equals the number of keys; losing one key blocks every future rotation</span>"
                } else if own.keys_total == 1 {
                    " — <span class=\"warn\">a single root key: no rotation survives its loss</span>"
                } else {
                    ""
                }
            );
        }
    }
    b.push_str(
        "<h2>Files</h2><table><tr><th>version</th><th>file</th><th>sha256 (file bytes)</th></tr>",
    );
    for f in &report.files {
        let _ = write!(
            b,
            "<tr><td>v{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
            f.version,
            escape(&f.path.display().to_string()),
            escape(&f.sha256)
        );
    }
    b.push_str("</table>");
    b.push_str(
        "<div class=\"sign\"><div>Auditor (name, signature, date)</div><div>Reviewed by (name, signature, date)</div></div>",
    );
    page("Root history audit", &b)
}

/// One ceremony as a printable page, from its transcript and what
/// `verify-transcript` concluded of it.
pub fn transcript_html(t: &Transcript, checks: &Verification) -> String {
    let mut b = String::new();
    let head = t.stated_head();
    let qr = QrCode::new(head, Ecc::M)
        .map(|q| q.to_svg(4))
        .unwrap_or_default();
    let start = t.entries.first();
    let start_data: Option<&Start> = t.entries.iter().find_map(|e| match &e.event {
        Event::Start(s) => Some(s),
        _ => None,
    });
    // What the page showed when it read entries as loose JSON: a field the
    // transcript lacks reads `null`.
    let or_null = |v: Option<&str>| v.map_or_else(|| "null".to_string(), escape);

    // What the ceremony was about: the target the proposal named, and the
    // chains whose new roots it records.
    let target = t.entries.iter().find_map(|e| match &e.event {
        Event::Input(Input::Proposal {
            target, dialect, ..
        }) => Some(format!("{target} ({dialect} dialect)")),
        _ => None,
    });
    let roots: Vec<(String, u64, String)> = t
        .entries
        .iter()
        .filter_map(|e| match &e.event {
            Event::Output(Output::Root {
                chain,
                version,
                signed_sha256,
                ..
            }) => Some((chain.clone(), *version, signed_sha256.clone())),
            _ => None,
        })
        .collect();
    let chains: Vec<String> = roots.iter().map(|(c, ..)| chain_name(c)).collect();
    let rehearsal = start_data.and_then(|s| s.machine.rehearsal);
    let _ = write!(
        b,
        "<div class=\"qr\">{qr}</div><h1>Key ceremony record{}</h1>\
         <p class=\"meta\">{} · chain(s) {} · started {} · {} entries</p><p>{}</p>",
        if rehearsal.is_some() {
            " — <span class=\"fail\">REHEARSAL</span>"
        } else {
            ""
        },
        escape(target.as_deref().unwrap_or("target not recorded")),
        if chains.is_empty() {
            "none signed".to_string()
        } else {
            escape(&chains.join(", "))
        },
        escape(start.map_or("?", |e| e.time.as_str())),
        t.entries.len(),
        verdict_html(checks)
    );
    for a in &checks.authenticated {
        let _ = write!(
            b,
            "<p>Authenticated by <code>{}</code>: {} of v{} (threshold {}) signed the head ({}); v{} anchors entry {}{}.</p>",
            escape(&a.file),
            a.head.signed_by.len(),
            a.head.version,
            a.head.threshold,
            a.head
                .signed_by
                .iter()
                .map(|k| format!("<code>{}</code>", escape(k)))
                .collect::<Vec<_>>()
                .join(", "),
            a.head.version,
            a.head.anchor_seq,
            match (&a.chain, a.recorded_as) {
                (Some(c), Some(seq)) => format!("; entry {seq} records it as the new root of chain {}", escape(c)),
                _ => "; the transcript does not list it among the roots it signed".into(),
            }
        );
    }
    // The hashes people compare, labelled as every command labels them.
    let mut hashes = vec![Labelled::transcript_head(head)];
    let mut anchored: Vec<u64> = Vec::new();
    for a in &checks.authenticated {
        if let Some(e) = t.entries.iter().find(|e| e.seq == a.head.anchor_seq) {
            if !anchored.contains(&e.seq) {
                anchored.push(e.seq);
                hashes.push(Labelled::transcript_anchor(
                    e.seq,
                    a.head.version,
                    e.hash.clone(),
                ));
            }
        }
    }
    for (chain, version, signed) in &roots {
        hashes.push(Labelled::root_signed(Some(chain), *version, signed.clone()));
    }
    for l in &hashes {
        let _ = write!(
            b,
            "<p>{}:<br><code>{}</code>{}</p>",
            escape(l.what()),
            escape(l.hex()),
            l.words_line()
                .map(|w| format!("<br>{}", escape(&w)))
                .unwrap_or_default()
        );
    }
    let _ = write!(
        b,
        "<h2>People and machine</h2><table>\
         <tr><th>operator</th><td>{}</td></tr><tr><th>witnesses</th><td>{}</td></tr>\
         <tr><th>software</th><td>{} {} · binary sha256 <code>{}</code></td></tr>\
         <tr><th>network</th><td>{}</td></tr><tr><th>swap</th><td>{}</td></tr></table>",
        or_null(start_data.and_then(|s| s.operator.as_deref())),
        start_data
            .map(|s| s
                .witnesses
                .iter()
                .map(|w| escape(w))
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_else(|| "none named".into()),
        or_null(start_data.map(|s| s.software.name.as_str())),
        or_null(start_data.map(|s| s.software.version.as_str())),
        or_null(start_data.map(|s| s.software.binary_sha256.as_str())),
        match (
            start_data.is_some_and(|s| s.machine.non_loopback_interface_up),
            rehearsal,
        ) {
            (true, Some(_)) => "<span class=\"fail\">a network interface other than loopback was up: a REHEARSAL</span>",
            (true, None) => "<span class=\"fail\">a network interface other than loopback was up</span>",
            (false, Some(_)) => "only loopback up; declared a <span class=\"fail\">REHEARSAL</span>",
            (false, None) => "only loopback up",
        },
        if start_data.is_some_and(|s| s.machine.swap_on) {
            "<span class=\"warn\">swap was on</span>"
        } else {
            "off"
        },
    );

    b.push_str("<h2>What changed</h2>");
    for e in &t.entries {
        if let Event::Diff(Diff { chain, text, .. }) = &e.event {
            let _ = write!(
                b,
                "<p><b>{}</b></p><pre>{}</pre>",
                escape(chain),
                escape(text)
            );
        }
    }
    for e in &t.entries {
        if let Event::Confirmation(Confirmation { typed, .. }) = &e.event {
            let _ = write!(
                b,
                "<p>Confirmed by typing <code>{}</code> at {}</p>",
                escape(typed),
                escape(&e.time)
            );
        }
    }

    b.push_str(
        "<h2>Keys generated</h2><table><tr><th>key id</th><th>type</th><th>fingerprint (sha256 of the public key)</th></tr>",
    );
    for e in &t.entries {
        if let Event::KeyGenerated(KeyGenerated {
            keyid,
            key_type,
            fingerprint,
            ..
        }) = &e.event
        {
            let _ = write!(
                b,
                "<tr><td><code>{}</code></td><td>{}</td><td class=\"mono\">{}{}</td></tr>",
                escape(keyid),
                escape(key_type),
                escape(fingerprint),
                Labelled::key(fingerprint.clone())
                    .words_line()
                    .map(|w| format!("<br>{}", escape(&w)))
                    .unwrap_or_default()
            );
        }
    }
    b.push_str("</table><h2>Inputs, outputs and signatures</h2><table><tr><th>#</th><th>time</th><th>what</th><th>details</th></tr>");
    for e in &t.entries {
        if matches!(
            e.event,
            Event::Diff(_) | Event::KeyGenerated(_) | Event::Start(_)
        ) {
            continue;
        }
        let details = serde_json::to_string(&e.event.data()).unwrap_or_default();
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
            e.seq,
            escape(&e.time),
            escape(e.kind()),
            escape(&details)
        );
    }
    b.push_str("</table>");
    if !checks.artefacts.is_empty() {
        b.push_str("<h2>Artefacts re-hashed</h2><table><tr><th>file</th><th>sha256</th><th>in transcript</th></tr>");
        for a in &checks.artefacts {
            let found = match &a.found {
                Found::Entry { seq, what } => format!(
                    "<span class=\"ok\">recorded</span> as {} (entry {seq})",
                    escape(what)
                ),
                Found::Bundle => {
                    "<span class=\"ok\">this ceremony's bundle</span>: its head and roots match"
                        .into()
                }
                Found::BundleRefused(why) => format!(
                    "<span class=\"fail\">NOT this ceremony's bundle</span>: {}",
                    escape(why)
                ),
                Found::NotFound => {
                    "<span class=\"fail\">NOT FOUND</span> in any input or output entry".into()
                }
            };
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"mono\">{}</td><td>{found}</td></tr>",
                escape(&a.name),
                escape(&a.sha256),
            );
        }
        b.push_str("</table>");
    }
    b.push_str(
        "<div class=\"sign\"><div>Operator (name, signature, date)</div><div>Witness (name, signature, date)</div>\
         <div>Witness (name, signature, date)</div></div>",
    );
    page("Key ceremony record", &b)
}

/// The verdict of `verify-transcript`, in the words the terminal uses.
fn verdict_html(checks: &Verification) -> String {
    let class = match checks.verdict() {
        Verdict::Verified if checks.ok() => "ok",
        Verdict::ChainOnly => "warn",
        _ => "fail",
    };
    let mut text = escape(&checks.verdict_text());
    let missing = checks.artefacts.iter().filter(|a| !a.recorded()).count();
    if missing > 0 {
        text.push_str(&format!("; {missing} artefact(s) NOT recorded (below)"));
    }
    format!("<span class=\"{class}\">{text}</span>")
}
