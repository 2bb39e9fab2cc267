//! Production and wave targets: `GET /ota/factories/F/prod-targets/?tag=…`
//! and `…/wave-targets/?name=…` answer `{name: signed targets metadata}`
//! (fioctl `ProdTargetsList` / `WaveTargetsList`), and the signatures fioctl
//! PUTs beside the roots (`targets-signatures`, `waves-signatures`) are added
//! to them when the transaction is applied: a targets key rotation re-signs
//! the existing production targets in the same step.
//!
//! Kept as `prod-targets/NAME.json` and `wave-targets/NAME.json` in the
//! state folder. Names come from the client: only `[A-Za-z0-9._-]` (and no
//! leading dot) is accepted, so a name is never a path.

use std::path::{Path, PathBuf};

use ceremony_tests::keygen::TestKey;
use serde_json::{json, Map, Value};

pub const PROD: &str = "prod-targets";
pub const WAVE: &str = "wave-targets";

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && !n.starts_with('.')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn file(dir: &Path, kind: &str, name: &str) -> PathBuf {
    dir.join(kind).join(format!("{name}.json"))
}

/// Writes the production targets of tag `tag` at Factory creation: one
/// target, signed by `key` (the targets key of the first production root).
pub fn create(
    dir: &Path,
    tag: &str,
    key: &TestKey,
    expires: &str,
    write: impl Fn(&Path, &[u8]) -> Result<(), String>,
) -> Result<(), String> {
    std::fs::create_dir_all(dir.join(PROD))
        .map_err(|e| format!("cannot create {}: {e}", dir.join(PROD).display()))?;
    let name = format!("{tag}-lmp-1");
    let signed = json!({
        "_type": "Targets",
        "expires": expires,
        "version": 1,
        "targets": {
            name: {
                "length": 0,
                "hashes": {"sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
                "custom": {
                    "name": format!("{tag}-lmp"),
                    "version": "1",
                    "hardwareIds": ["sim-machine"],
                    "tags": [tag],
                    "targetFormat": "OSTREE",
                },
            },
        },
    });
    let sig = key.signature_entry(&signed, ceremony::Dialect::OtaTuf);
    let v = json!({"signatures": [sig], "signed": signed});
    write(
        &file(dir, PROD, tag),
        &serde_json::to_vec_pretty(&v).map_err(|e| e.to_string())?,
    )
}

/// The answer to `GET …/KIND/?tag=a,b` (or `?name=`): the named ones that
/// exist, or all of them when no name is given.
pub fn list(dir: &Path, kind: &str, query: &str) -> Result<Value, String> {
    let param = if kind == PROD { "tag" } else { "name" };
    let wanted: Vec<&str> = query
        .split('&')
        .filter_map(|kv| kv.strip_prefix(param).and_then(|r| r.strip_prefix('=')))
        .flat_map(|v| v.split(','))
        .filter(|n| !n.is_empty())
        .collect();
    let mut names: Vec<String> = Vec::new();
    if wanted.is_empty() {
        if let Ok(entries) = std::fs::read_dir(dir.join(kind)) {
            for e in entries.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if let Some(stem) = n.strip_suffix(".json").filter(|s| valid_name(s)) {
                    names.push(stem.to_string());
                }
            }
        }
    } else {
        for n in wanted {
            if !valid_name(n) {
                return Err(format!(
                    "{param}: only letters, digits, '.', '_' and '-' are allowed"
                ));
            }
            names.push(n.to_string());
        }
    }
    let mut out = Map::new();
    for n in names {
        if let Ok(bytes) = std::fs::read(file(dir, kind, &n)) {
            let v: Value = serde_json::from_slice(&bytes)
                .map_err(|e| format!("state: {kind}/{n}.json: {e}"))?;
            out.insert(n, v);
        }
    }
    Ok(Value::Object(out))
}

/// Checks a `targets-signatures` / `waves-signatures` field of a PUT:
/// `{name: [{"keyid", "method", "sig"}]}` for names that exist.
pub fn check_signatures(dir: &Path, kind: &str, v: &Value) -> Result<(), String> {
    let m = v
        .as_object()
        .ok_or_else(|| format!("{kind} signatures: an object is expected"))?;
    for (name, sigs) in m {
        if !valid_name(name) || !file(dir, kind, name).exists() {
            return Err(format!("{kind}: there is no {name:?}"));
        }
        let sigs = sigs
            .as_array()
            .ok_or_else(|| format!("{kind} {name}: a list of signatures is expected"))?;
        for s in sigs {
            let ok = ["keyid", "method", "sig"]
                .iter()
                .all(|k| s[*k].as_str().is_some_and(|x| !x.is_empty()));
            if !ok {
                return Err(format!(
                    "{kind} {name}: a signature needs keyid, method and sig"
                ));
            }
        }
    }
    Ok(())
}

/// Adds the signatures staged for `kind` to its files (one per key id: a
/// newer signature by a key replaces its older one).
pub fn add_signatures(
    dir: &Path,
    kind: &str,
    staged: &Value,
    write: impl Fn(&Path, &[u8]) -> Result<(), String>,
) -> Result<(), String> {
    let Some(m) = staged.as_object() else {
        return Ok(());
    };
    for (name, sigs) in m {
        let path = file(dir, kind, name);
        let bytes = std::fs::read(&path).map_err(|e| format!("state: {}: {e}", path.display()))?;
        let mut v: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        let list = v["signatures"]
            .as_array_mut()
            .ok_or_else(|| format!("state: {}: no signatures", path.display()))?;
        for s in sigs.as_array().into_iter().flatten() {
            list.retain(|old| old["keyid"] != s["keyid"]);
            list.push(s.clone());
        }
        write(
            &path,
            &serde_json::to_vec_pretty(&v).map_err(|e| e.to_string())?,
        )?;
    }
    Ok(())
}
