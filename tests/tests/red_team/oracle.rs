//! The screen-vs-signed oracle, written apart from `ceremony::diff` (which
//! it must not trust): every leaf that differs between the current root and
//! a root the signer wrote must be on the screen the operator saw before
//! confirming, its new value in full, its path named.

use serde_json::Value;

/// One leaf difference.
#[derive(Clone, Debug)]
pub struct Leaf {
    /// The path, as its components (object keys; array indices as `[i]`).
    pub path: Vec<String>,
    /// The old value (None: added).
    pub old: Option<Value>,
    /// The new value (None: removed).
    pub new: Option<Value>,
}

impl Leaf {
    fn dotted(&self) -> String {
        self.path.join(".")
    }
}

/// Every leaf difference between two JSON values, objects keys added and
/// removed included (a whole added object counts as its leaves).
pub fn leaves(
    old: Option<&Value>,
    new: Option<&Value>,
    path: &mut Vec<String>,
    out: &mut Vec<Leaf>,
) {
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            for (k, v) in a {
                path.push(k.clone());
                leaves(Some(v), b.get(k), path, out);
                path.pop();
            }
            for (k, v) in b {
                if !a.contains_key(k) {
                    path.push(k.clone());
                    leaves(None, Some(v), path, out);
                    path.pop();
                }
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                path.push(format!("[{i}]"));
                leaves(a.get(i), b.get(i), path, out);
                path.pop();
            }
        }
        (None, Some(Value::Object(b))) if !b.is_empty() => {
            for (k, v) in b {
                path.push(k.clone());
                leaves(None, Some(v), path, out);
                path.pop();
            }
        }
        (None, Some(Value::Array(b))) if !b.is_empty() => {
            for (i, v) in b.iter().enumerate() {
                path.push(format!("[{i}]"));
                leaves(None, Some(v), path, out);
                path.pop();
            }
        }
        (Some(Value::Object(a)), None) if !a.is_empty() => {
            for (k, v) in a {
                path.push(k.clone());
                leaves(Some(v), None, path, out);
                path.pop();
            }
        }
        (Some(Value::Array(a)), None) if !a.is_empty() => {
            for (i, v) in a.iter().enumerate() {
                path.push(format!("[{i}]"));
                leaves(Some(v), None, path, out);
                path.pop();
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(Leaf {
            path: path.clone(),
            old: a.cloned(),
            new: b.cloned(),
        }),
    }
}

/// Whether a character must never reach a terminal raw (our own list, not
/// the product's): C0 but newline and carriage return, DEL, C1, soft
/// hyphen, the bidi controls, zero-width and other invisible format
/// characters, BOM, interlinear annotation, tags.
pub fn forbidden(c: char) -> bool {
    matches!(c as u32,
        0x00..=0x09 | 0x0b | 0x0c | 0x0e..=0x1f | 0x7f..=0x9f | 0xad | 0x061c | 0x180e
        | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb
        | 0xe0000..=0xe007f)
}

/// A string as the screen shows it: every forbidden character (and a
/// newline) as `\u{hex}`, a backslash as `\\`.
pub fn shown(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if forbidden(c) || c == '\n' || c == '\r' {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `screen` shows `value`: a string escaped (or, when it spans
/// lines, as its lines, such as a PEM), a number, a boolean, null.
pub fn on_screen(screen: &str, value: &Value) -> bool {
    match value {
        Value::String(s) => {
            if s.is_empty() {
                return screen.contains("\"\"");
            }
            let e = shown(s);
            if screen.contains(&e) || screen.contains(&e.replace("\\\\", "\\")) {
                return true;
            }
            s.contains('\n')
                && s.lines()
                    .filter(|l| !l.trim().is_empty())
                    .all(|l| screen.contains(&shown(l.trim())))
        }
        Value::Object(m) if m.is_empty() => screen.contains("{}"),
        Value::Array(a) if a.is_empty() => screen.contains("[]"),
        other => screen.contains(&other.to_string()),
    }
}

/// Where the transcript anchor goes, by dialect (`tuf` / `ota-tuf`).
pub fn anchor_field(dialect: &str) -> &'static [&'static str] {
    if dialect == "tuf" {
        &["x-ceremony", "transcript"]
    } else {
        &["x-changelog", "message"]
    }
}

/// Removes the anchor from a root (it is made after the confirmation):
/// `signed.x-ceremony.transcript`, or the `[tuf-ceremony transcript …]`
/// suffix of an ota-tuf `x-changelog.message`.
pub fn without_anchor(root: &Value, dialect: &str) -> Value {
    let mut r = root.clone();
    if dialect == "tuf" {
        if let Some(x) = r["signed"]
            .get_mut("x-ceremony")
            .and_then(Value::as_object_mut)
        {
            x.remove("transcript");
            if x.is_empty() {
                r["signed"].as_object_mut().unwrap().remove("x-ceremony");
            }
        }
    } else if let Some(m) = r["signed"]
        .get_mut("x-changelog")
        .and_then(|l| l.get_mut("message"))
    {
        if let Some(s) = m.as_str() {
            if let Some(i) = s.find("[tuf-ceremony transcript ") {
                *m = Value::String(s[..i].trim_end().to_string());
            }
        }
    }
    r
}

/// Field names of the format itself.
const STRUCTURE: &[&str] = &[
    "signed", "keys", "keyval", "roles", "keyids", "public", "keytype", "scheme",
];

/// What the operator's screen failed to show of the change from `current`
/// to `signed` (envelopes; `signatures` skipped), in words; empty when the
/// screen shows all of it.
pub fn missing(screen: &str, current: &Value, signed: &Value, dialect: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let strip = |v: &Value| {
        let mut v = without_anchor(v, dialect);
        if let Some(o) = v.as_object_mut() {
            o.remove("signatures");
        }
        v
    };
    let (a, b) = (strip(current), strip(signed));
    let mut out = Vec::new();
    leaves(Some(&a), Some(&b), &mut Vec::new(), &mut out);
    for leaf in &out {
        // Every object key of the path is named, but array indices and the
        // format's own structure, which the layout of a diff says (`+ key
        // ID ed25519 PUBLIC` names keys, keyval and public without the words).
        for part in leaf
            .path
            .iter()
            .filter(|p| !p.starts_with('[') && !STRUCTURE.contains(&p.as_str()))
        {
            if !screen.contains(&shown(part)) {
                let was = match &leaf.old {
                    Some(v) => format!(", was {v}"),
                    None => ", added".to_string(),
                };
                problems.push(format!(
                    "path {} not named ({part:?} not on the screen{was})",
                    leaf.dotted()
                ));
                break;
            }
        }
        if let Some(v) = &leaf.new {
            // A key type is a name the diff may print in its own case.
            let typed = matches!(
                leaf.path.last().map(String::as_str),
                Some("keytype" | "scheme")
            );
            let lower = screen.to_lowercase();
            let seen = if typed {
                on_screen(
                    &lower,
                    &Value::String(v.as_str().unwrap_or("").to_lowercase()),
                )
            } else {
                on_screen(screen, v)
            };
            if !seen {
                problems.push(format!(
                    "new value of {} not on the screen: {}",
                    leaf.dotted(),
                    v
                ));
            }
        }
    }
    let field = anchor_field(dialect);
    if signed["signed"].get(field[0]).is_some() && !screen.contains(field[0]) {
        problems.push(format!(
            "the anchor field signed.{} is not named on the screen",
            field.join(".")
        ));
    }
    problems
}
