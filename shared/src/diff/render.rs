//! The review text, made from an edit script.
//!
//! The readable summary (version, expiry, keys added and removed, each
//! role's threshold) is computed from the old root and the root the script
//! produces, and each summary line marks the edits it fully expresses as
//! covered. Every edit not covered is printed on its own: path, before,
//! after, as compact JSON. So a change the summary does not know how to say
//! (a key's content under the same id, an unknown field in a role, `_type`,
//! an envelope field) is still on the screen.

use std::fmt::Write as _;

use serde_json::Value;

use super::edit::{apply, compact, ApplyError, Edit, Script};
use super::key_description;
use crate::dialect::Dialect;
use crate::keys::PublicKey;
use crate::root::{parse_expires, RootMetadata};
use crate::untrusted;

/// A key that does not exist yet (`signer review`), shown by its label.
#[derive(Clone, Debug)]
pub struct Label {
    /// The placeholder's key id in the plan.
    pub keyid: String,
    /// Such as `<new key 1>`.
    pub label: String,
    /// What it will be, such as `ed25519  (generated when signing)`.
    pub what: String,
}

/// A key the proposal provides (made elsewhere), and who it claims holds it.
#[derive(Clone, Debug)]
pub struct Provided {
    /// Its key id in the new root.
    pub keyid: String,
    /// The holder named by the proposal, unverified.
    pub holder: Option<String>,
}

/// Whether this ceremony's transcript anchor goes into the new root.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AnchorNote {
    /// Not shown (a server-prepared section, or a library caller).
    #[default]
    None,
    /// Set after the confirmation.
    Set,
    /// Set only if this holder completes the root alone (`signer review`).
    IfAlone,
}

/// What the text needs beyond the script.
#[derive(Clone, Debug)]
pub struct Context {
    /// The roots' dialect (to read key objects).
    pub dialect: Dialect,
    /// Placeholder keys, shown by label.
    pub labels: Vec<Label>,
    /// Keys provided by the proposal.
    pub provided: Vec<Provided>,
    /// The anchor line.
    pub anchor: AnchorNote,
}

impl Context {
    /// No labels, no provided keys, no anchor line.
    pub fn plain(dialect: Dialect) -> Context {
        Context {
            dialect,
            labels: Vec::new(),
            provided: Vec::new(),
            anchor: AnchorNote::None,
        }
    }
}

/// What a person reads for a key: full id, type, full fingerprint.
struct KeyShown {
    line: String,
    /// The witness words of its fingerprint (none for a placeholder).
    words: Option<String>,
    /// The key object is exactly what the type and fingerprint determine
    /// (nothing else in it needs showing).
    canonical: bool,
}

fn show_key(ctx: &Context, id: &str, obj: &Value) -> KeyShown {
    if let Some(l) = ctx.labels.iter().find(|l| l.keyid == id) {
        return KeyShown {
            line: format!("{}  {}", l.label, l.what),
            words: None,
            canonical: true,
        };
    }
    let id_shown = name_shown(id);
    match PublicKey::from_key_object(obj, ctx.dialect) {
        Ok(k) => KeyShown {
            line: format!(
                "{id_shown}  {}  fingerprint {}",
                key_description(&k),
                k.fingerprint()
            ),
            words: crate::fingerprint::Labelled::key(k.fingerprint()).words_line(),
            canonical: k.to_key_object(ctx.dialect) == *obj,
        },
        Err(e) => KeyShown {
            line: format!("{id_shown}  unreadable ({e})"),
            words: None,
            canonical: false,
        },
    }
}

/// A key id or role name as the summary shows it: as itself when it is
/// plain (letters, digits, `_`, `-`), else as a JSON string, so that an id
/// with spaces cannot draw a fake "fingerprint" or "threshold" after itself.
pub fn name_shown(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        s.to_string()
    } else {
        compact(&Value::String(s.to_string()))
    }
}

fn id_shown(ctx: &Context, id: &str) -> String {
    match ctx.labels.iter().find(|l| l.keyid == id) {
        Some(l) => l.label.clone(),
        None => name_shown(id),
    }
}

/// A role as the summary reads it: unique string key ids and a whole
/// threshold, or nothing the summary can say.
fn role_of(signed: Option<&Value>, name: &str) -> Option<(Vec<String>, u64)> {
    let role = signed?.get("roles")?.get(name)?;
    let ids: Vec<String> = role
        .get("keyids")?
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect::<Option<_>>()?;
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    (sorted.len() == ids.len()).then_some(())?;
    Some((ids, role.get("threshold")?.as_u64()?))
}

fn role_names(signed: Option<&Value>) -> Vec<String> {
    signed
        .and_then(|s| s.get("roles"))
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// A value as a summary line shows it: a plain version number or a
/// well-formed expiry as itself, anything else as compact JSON.
fn plain(v: Option<&Value>, expiry: bool) -> Option<String> {
    match v? {
        Value::Number(n) if !expiry => n.as_u64().filter(|n| *n >= 1).map(|n| n.to_string()),
        Value::String(s) if expiry && parse_expires(s).is_ok() => Some(s.clone()),
        _ => None,
    }
}

fn json_or_none(v: Option<&Value>) -> String {
    v.map_or_else(|| "(none)".to_string(), compact)
}

/// Renders `script` (made from, and applying to, `old`) for the review.
pub fn render(old: &RootMetadata, script: &Script, ctx: &Context) -> Result<String, ApplyError> {
    let new_env = apply(old.envelope(), script)?;
    let (os, ns) = (old.envelope().get("signed"), new_env.get("signed"));
    let edits = script.edits();
    let mut covered = vec![false; edits.len()];
    let mut out = String::new();

    // version and expires: one line each.
    for (field, label, expiry) in [
        ("version", "version: ", false),
        ("expires", "expires: ", true),
    ] {
        let at = edits.iter().position(|e| e.path().is(&["signed", field]));
        match at {
            None => {
                let now = ns.and_then(|s| s.get(field));
                let v = plain(now, expiry).unwrap_or_else(|| json_or_none(now));
                let _ = writeln!(out, "  {label} {v} (unchanged)");
            }
            Some(i) => {
                let e = &edits[i];
                match (plain(e.before(), expiry), plain(e.after(), expiry)) {
                    (Some(b), Some(a)) => {
                        covered[i] = true;
                        let _ = writeln!(out, "  {label} {b} -> {a}");
                    }
                    _ => {
                        let _ = writeln!(out, "  {label} changes: see field signed.{field} below");
                    }
                }
            }
        }
    }

    // Keys that come and go, each by full id and full fingerprint.
    let mut content_changed: Vec<String> = Vec::new();
    for (i, e) in edits.iter().enumerate() {
        let segs = e.path().segments();
        if !e.path().starts_with(&["signed", "keys"]) || segs.len() < 3 {
            continue;
        }
        let id = &segs[2];
        match e {
            Edit::Add { value, .. } if segs.len() == 3 => {
                let k = show_key(ctx, id, value);
                covered[i] = k.canonical;
                let _ = writeln!(out, "  + key {}", k.line);
                if let Some(p) = ctx.provided.iter().find(|p| &p.keyid == id) {
                    let _ = writeln!(
                        out,
                        "        provided by the proposal, made elsewhere; holder name as claimed, \
                         unverified: {}",
                        p.holder
                            .as_deref()
                            .map_or_else(|| "(none given)".into(), untrusted::escape)
                    );
                }
                // An added key is what witnesses compare with the other
                // side (`submitter show` of the bundle): its words too.
                if let Some(w) = &k.words {
                    let _ = writeln!(out, "        {w}");
                }
                if !k.canonical {
                    let _ = writeln!(out, "        (its key object is shown in full below)");
                } else if !ctx.labels.iter().any(|l| &l.keyid == id) {
                    // The fingerprint commits to the key, but the operator
                    // (and anyone comparing with a printout of `signer
                    // keygen`) also sees the very bytes that are signed.
                    let _ = writeln!(out, "        key object: {}", compact(value));
                }
            }
            Edit::Remove { old, .. } if segs.len() == 3 => {
                let k = show_key(ctx, id, old);
                covered[i] = k.canonical;
                let _ = writeln!(out, "  - key {}", k.line);
                if !k.canonical {
                    let _ = writeln!(out, "        (its key object is shown in full below)");
                }
            }
            _ => {
                if !content_changed.contains(id) {
                    content_changed.push(id.clone());
                    let _ = writeln!(
                        out,
                        "  ! key {}: ITS CONTENT CHANGES UNDER THE SAME ID (shown below)",
                        id_shown(ctx, id)
                    );
                }
            }
        }
    }

    // Every role, changed or not, so thresholds are always visible.
    let mut names = role_names(os);
    for n in role_names(ns) {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    for name in &names {
        let (before, after) = (role_of(os, name), role_of(ns, name));
        let prefix = ["signed", "roles", name.as_str()];
        let mine: Vec<usize> = (0..edits.len())
            .filter(|&i| edits[i].path().starts_with(&prefix))
            .collect();
        let ids_of =
            |r: &Option<(Vec<String>, u64)>| r.as_ref().map(|r| r.0.clone()).unwrap_or_default();
        let (b_ids, a_ids) = (ids_of(&before), ids_of(&after));
        let added: Vec<&String> = a_ids.iter().filter(|i| !b_ids.contains(i)).collect();
        let removed: Vec<&String> = b_ids.iter().filter(|i| !a_ids.contains(i)).collect();
        // The key id list is said by the +/- lines only when it is the old
        // list less the removed ids plus the added ones, in that order.
        let said_by_lines = {
            let mut expect: Vec<String> = b_ids
                .iter()
                .filter(|i| !removed.contains(i))
                .cloned()
                .collect();
            expect.extend(added.iter().map(|s| (*s).clone()));
            expect == a_ids
        };
        for &i in &mine {
            let e = &edits[i];
            let segs = e.path().segments();
            covered[i] = match (segs.len(), e) {
                (3, Edit::Add { .. } | Edit::Remove { .. }) => {
                    // A whole role: said when it holds exactly keyids and threshold.
                    let obj = e.after().or(e.before()).and_then(Value::as_object);
                    let side = if e.after().is_some() { &after } else { &before };
                    side.is_some() && obj.is_some_and(|o| o.len() == 2) && said_by_lines
                }
                (4, Edit::Replace { old, new, .. }) if segs[3] == "threshold" => {
                    // Said by the role line only where the role line can
                    // read both sides.
                    old.as_u64().is_some()
                        && new.as_u64().is_some()
                        && before.is_some()
                        && after.is_some()
                }
                (4, Edit::Replace { .. }) if segs[3] == "keyids" => {
                    before.is_some() && after.is_some() && said_by_lines
                }
                _ => false,
            };
        }
        let keys_changed = b_ids
            .iter()
            .chain(&a_ids)
            .any(|id| content_changed.contains(id));
        let exists = |s: Option<&Value>| {
            s.and_then(|s| s.get("roles"))
                .and_then(|r| r.get(name))
                .is_some()
        };
        let thr = |r: &Option<(Vec<String>, u64)>, present: bool| match r {
            Some((ids, t)) => format!("{t} of {}", ids.len()),
            None if present => "(not readable: see below)".to_string(),
            None => "(none)".to_string(),
        };
        let (b_thr, a_thr) = (thr(&before, exists(os)), thr(&after, exists(ns)));
        let threshold = if b_thr == a_thr {
            a_thr
        } else {
            format!("{b_thr} -> {a_thr}")
        };
        let note = if mine.is_empty() && !keys_changed {
            "  (unchanged)"
        } else if keys_changed {
            "  (A KEY OF THIS ROLE CHANGES CONTENT: see below)"
        } else if mine.iter().any(|&i| !covered[i]) {
            "  (other changes: see below)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  role {:<9} threshold {threshold}{note}",
            name_shown(name)
        );
        for id in &added {
            let _ = writeln!(out, "      + {}", id_shown(ctx, id));
        }
        for id in &removed {
            let _ = writeln!(out, "      - {}", id_shown(ctx, id));
        }
    }

    // Everything the summary did not say, as it is.
    for (i, e) in edits.iter().enumerate() {
        if covered[i] {
            continue;
        }
        let _ = writeln!(out, "  field {}:", e.path());
        let _ = writeln!(out, "      before: {}", json_or_none(e.before()));
        let _ = writeln!(out, "      after:  {}", json_or_none(e.after()));
    }

    let when = match ctx.anchor {
        AnchorNote::None => None,
        AnchorNote::Set => Some("after you confirm"),
        AnchorNote::IfAlone => Some("after you confirm, if this holder completes the root alone"),
    };
    if let Some(when) = when {
        match ctx.dialect {
            Dialect::OtaTuf => {
                let _ = writeln!(
                    out,
                    "  field signed.x-changelog.message: this ceremony's transcript anchor, set {when}: \
                     \" [tuf-ceremony transcript <the confirmation's entry hash>]\" is appended"
                );
            }
            Dialect::Tuf => {
                let _ = writeln!(
                    out,
                    "  field signed.x-ceremony: this ceremony's transcript anchor, set {when}: \
                     becomes {{\"transcript\":\"<the confirmation's entry hash>\"}}"
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "  edit script: {} edit(s), sha256 {}",
        edits.len(),
        script.sha256()
    );
    // Compact JSON escapes line breaks and C0 controls already; this makes
    // the rest (C1, bidi, invisibles) visible too, so the text is safe
    // wherever it goes (screen, transcript).
    Ok(untrusted::escape_text(&out).into_owned())
}
