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

/// How many distinct keys of `root`'s targets role made a valid signature
/// over `meta`'s `signed` (the simulator's own check, aktualizr's canonical
/// form), counting `extra` signatures beside the file's own.
pub fn targets_signers(meta: &Value, extra: &[Value], root: &Value) -> usize {
    use base64::Engine as _;
    let role = &root["signed"]["roles"]["targets"];
    let ids = crate::accept::key_ids(role);
    let message = ceremony_tests::ota::aktualizr_canonical(&meta["signed"]);
    let mut seen: Vec<String> = Vec::new();
    for s in meta["signatures"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(extra)
    {
        let Some(id) = s["keyid"].as_str() else {
            continue;
        };
        if seen.iter().any(|x| x == id) || !ids.iter().any(|x| x == id) {
            continue;
        }
        let Some(raw) = s["sig"]
            .as_str()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        else {
            continue;
        };
        let key = &root["signed"]["keys"][id];
        if crate::accept::verifies(key, s["method"].as_str().unwrap_or(""), &message, &raw).is_ok()
        {
            seen.push(id.to_string());
        }
    }
    seen.len()
}

fn meets(meta: &Value, extra: &[Value], root: &Value) -> bool {
    let t = root["signed"]["roles"]["targets"]["threshold"]
        .as_u64()
        .unwrap_or(1);
    targets_signers(meta, extra, root) as u64 >= t.max(1)
}

/// The waves whose targets are served (`wave-targets/`): active waves.
pub fn active_waves(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join(WAVE))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".json")
                .filter(|s| valid_name(s))
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

/// Whether the new CI root takes a key out of the targets role (a targets
/// key rotation or deletion), which fioctl says the server refuses while a
/// wave is active (`tuf_updates_rotate_offline_key.go`, "If there is an
/// active Wave, the TUF targets rotation is not allowed";
/// `tuf_updates_delete_offline_key.go` likewise for deletion).
pub fn takes_out_a_targets_key(current_ci: &Value, new_ci: &Value) -> bool {
    let new = crate::accept::key_ids(&new_ci["signed"]["roles"]["targets"]);
    crate::accept::key_ids(&current_ci["signed"]["roles"]["targets"])
        .iter()
        .any(|id| !new.contains(id))
}

/// The offline targets key `new_ci` takes out when it leaves none: the
/// current CI root lists a targets key besides the online ones (`online`:
/// the current and the staged online key ids, role -> key id, since an
/// online key rotation replaces one online key with another), the new one
/// lists none.
pub fn takes_out_the_last_offline_key(
    current_ci: &Value,
    new_ci: &Value,
    online: [&Value; 2],
) -> Option<String> {
    let online: Vec<&str> = online
        .iter()
        .filter_map(|o| o["targets"].as_str())
        .collect();
    let offline = |root: &Value| -> Vec<String> {
        crate::accept::key_ids(&root["signed"]["roles"]["targets"])
            .into_iter()
            .filter(|id| !online.contains(&id.as_str()))
            .collect()
    };
    let before = offline(current_ci);
    (!before.is_empty() && offline(new_ci).is_empty()).then(|| before.join(", "))
}

/// Refuses applying a production root under which a production targets
/// file that meets the current production root's targets threshold would
/// no longer meet it, even with the signatures staged for it: production
/// devices would refuse the release they run. (A file that meets neither,
/// such as one only the online key signed under a threshold of 2, is no
/// change and not refused.) A production root whose targets threshold is
/// above its targets key count is not checked: it is what fioctl makes when
/// a Factory's root goes offline while its targets key is online (threshold
/// 2, one key), which the server accepts, and nothing could meet it anyway.
pub fn check_prod_targets(
    dir: &Path,
    current_prod: &Value,
    new_prod: &Value,
    staged: &Value,
) -> Result<(), String> {
    let role = &new_prod["signed"]["roles"]["targets"];
    let keys = crate::accept::key_ids(role).len() as u64;
    if role["threshold"].as_u64().unwrap_or(1) > keys {
        return Ok(());
    }
    let all = list(dir, PROD, "")?;
    for (name, meta) in all.as_object().into_iter().flatten() {
        let extra: Vec<Value> = staged[name.as_str()]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if meets(meta, &[], current_prod) && !meets(meta, &extra, new_prod) {
            return Err(format!(
                "production targets {name:?} would not meet the new production root's targets \
                 threshold ({}) with its signatures: re-sign them with the new targets key \
                 (targets-signatures)",
                new_prod["signed"]["roles"]["targets"]["threshold"]
            ));
        }
    }
    Ok(())
}
