//! Waves: production releases (fioctl `waves init`, `waves sign`, `waves
//! complete`).
//!
//! - `GET /ota/factories/F/targets/?version=V` answers the CI targets of a
//!   version, `{name: {length, hashes, custom}}` (fioctl `TargetsList`).
//!   Kept as `ci-targets/V.json`, made by `factory-sim add-ci-targets`.
//! - `POST /ota/factories/F/waves/` takes fioctl's `WaveCreate` `{name,
//!   version, tag, targets: {signed, signatures}}`. fioctl's `signTargets`
//!   signs only with the OFFLINE targets keys (it skips the key whose public
//!   value is the online one, `TufTargetsOnlineKey`), so the server adds its
//!   online targets signature: a production root with targets threshold 2
//!   (online + offline) is met only by the two together. This simulator
//!   does the same, then refuses a wave whose targets do not meet the
//!   production root's targets threshold.
//! - `GET …/waves/W/[?show-targets=1]`, `POST …/waves/W/sign/`
//!   `{signatures}` (more offline signatures), `POST …/waves/W/complete/`
//!   (the wave's targets become the production targets of its tag).
//!   Rollout to device groups is not simulated: no device exists here.
//!
//! Signatures are checked with this simulator's own code: fioctl's form of
//! the signed targets (`targets_signed_bytes`, the emulation's Go
//! marshalling, not `ceremony::canonical`) and `accept::verifies`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use ceremony_tests::keygen::TestKey;
use serde_json::{json, Map, Value};

use crate::accept;
use crate::targets;

/// A refusal: HTTP status and message.
pub type Refusal = (u16, String);

fn refuse(status: u16, m: impl Into<String>) -> Refusal {
    (status, m.into())
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && !n.starts_with('.')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn read_json(path: &Path) -> Result<Option<Value>, Refusal> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| refuse(500, format!("state: {}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(refuse(500, format!("state: {}: {e}", path.display()))),
    }
}

fn wave_file(dir: &Path, name: &str) -> PathBuf {
    dir.join("waves").join(format!("{name}.json"))
}

/// Where the server keeps the private half of an online key (by key id).
pub fn online_secret_file(dir: &Path, keyid: &str) -> PathBuf {
    dir.join("online-secrets").join(format!("{keyid}.json"))
}

/// Keeps an online key's private half, as the real server holds it.
pub fn keep_online_secret(
    dir: &Path,
    key: &TestKey,
    keyid: &str,
    write: impl Fn(&Path, &[u8]) -> Result<(), String>,
) -> Result<(), String> {
    std::fs::create_dir_all(dir.join("online-secrets")).map_err(|e| e.to_string())?;
    write(
        &online_secret_file(dir, keyid),
        &serde_json::to_vec_pretty(&key.ats_private()).map_err(|e| e.to_string())?,
    )
}

/// `factory-sim add-ci-targets DIR VERSION`: the CI targets of a version,
/// as CI builds them (one per hardware id, tagged as built).
pub fn add_ci_targets(
    dir: &Path,
    version: u64,
    tag: &str,
    hardware: &[String],
    write: impl Fn(&Path, &[u8]) -> Result<(), String>,
) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(dir.join("ci-targets")).map_err(|e| e.to_string())?;
    let path = dir.join("ci-targets").join(format!("{version}.json"));
    if path.exists() {
        return Err(format!("{} exists", path.display()));
    }
    let mut out = Map::new();
    for hw in hardware {
        let name = format!("{hw}-lmp-{version}");
        let content = format!("ostree commit of {name}");
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(content.as_bytes()));
        out.insert(
            name.clone(),
            json!({
                "length": content.len(),
                "hashes": {"sha256": sha},
                "custom": {
                    "name": format!("{hw}-lmp"),
                    "version": version.to_string(),
                    "hardwareIds": [hw],
                    "tags": [tag],
                    "targetFormat": "OSTREE",
                    "uri": format!("https://ci.example.invalid/{name}"),
                },
            }),
        );
    }
    write(
        &path,
        &serde_json::to_vec_pretty(&Value::Object(out.clone())).map_err(|e| e.to_string())?,
    )?;
    Ok(out.keys().cloned().collect())
}

/// `GET …/targets/?version=V`: the CI targets of V (all versions when none
/// is named).
pub fn ci_targets(dir: &Path, query: &str) -> Result<Value, Refusal> {
    let version = query.split('&').find_map(|kv| kv.strip_prefix("version="));
    let mut out = Map::new();
    let files: Vec<PathBuf> = match version {
        Some(v) => {
            if v.parse::<u64>().is_err() {
                return Err(refuse(400, "version: an integer is expected"));
            }
            vec![dir.join("ci-targets").join(format!("{v}.json"))]
        }
        None => std::fs::read_dir(dir.join("ci-targets"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect(),
    };
    for f in files {
        if let Some(Value::Object(m)) = read_json(&f)? {
            out.extend(m);
        }
    }
    Ok(Value::Object(out))
}

/// The production root's targets role: key objects by id, and threshold.
fn targets_role(prod_root: &Value) -> Result<(Map<String, Value>, u64), Refusal> {
    let signed = &prod_root["signed"];
    let role = &signed["roles"]["targets"];
    let threshold = role["threshold"]
        .as_u64()
        .ok_or_else(|| refuse(500, "state: the production root has no targets threshold"))?;
    let mut keys = Map::new();
    for id in accept::key_ids(role) {
        if let Some(k) = signed["keys"].get(&id) {
            keys.insert(id, k.clone());
        }
    }
    Ok((keys, threshold))
}

/// Checks every signature of `envelope` against the production targets
/// role; returns how many distinct listed keys signed validly.
fn check_signatures(envelope: &Value, prod_root: &Value) -> Result<u64, Refusal> {
    let (keys, _) = targets_role(prod_root)?;
    let bytes = ceremony_tests::fioctl::targets_signed_bytes(&envelope["signed"])
        .map_err(|e| refuse(400, format!("targets: {e}")))?;
    let sigs = envelope["signatures"]
        .as_array()
        .ok_or_else(|| refuse(400, "targets.signatures: a list is expected"))?;
    let mut seen = std::collections::BTreeSet::new();
    for s in sigs {
        let keyid = s["keyid"].as_str().unwrap_or("");
        if !seen.insert(keyid.to_string()) {
            return Err(refuse(400, format!("two signatures by the key {keyid}")));
        }
        let key = keys.get(keyid).ok_or_else(|| {
            refuse(
                422,
                format!("the key {keyid} is not a targets key of the production root"),
            )
        })?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(s["sig"].as_str().unwrap_or(""))
            .map_err(|_| refuse(400, format!("the signature by {keyid} is not base64")))?;
        accept::verifies(key, s["method"].as_str().unwrap_or(""), &bytes, &raw)
            .map_err(|e| refuse(422, format!("the signature by {keyid}: {e}")))?;
    }
    Ok(seen.len() as u64)
}

/// Adds (or replaces) the server's online targets signature.
fn add_online_signature(dir: &Path, envelope: &mut Value, online_id: &str) -> Result<(), Refusal> {
    let sec = read_json(&online_secret_file(dir, online_id))?.ok_or_else(|| {
        refuse(
            500,
            format!("state: the server does not hold the online targets key {online_id}"),
        )
    })?;
    let key = TestKey::from_ats_private(&sec).map_err(|e| refuse(500, format!("state: {e}")))?;
    let bytes = ceremony_tests::fioctl::targets_signed_bytes(&envelope["signed"])
        .map_err(|e| refuse(400, format!("targets: {e}")))?;
    let method = match key {
        TestKey::Ed25519(_) => "ed25519",
        TestKey::Rsa(_) => "rsassa-pss-sha256",
    };
    let entry = json!({
        "keyid": online_id,
        "method": method,
        "sig": base64::engine::general_purpose::STANDARD.encode(key.sign(&bytes)),
    });
    let list = envelope["signatures"]
        .as_array_mut()
        .ok_or_else(|| refuse(400, "targets.signatures: a list is expected"))?;
    list.retain(|s| s["keyid"] != online_id);
    list.push(entry);
    Ok(())
}

/// What of a target a wave must keep as CI built it: length, hashes and
/// custom without its tags (which a wave replaces); other fields are not
/// part of a target file (fioctl's struct drops them).
fn without_tags(t: &Value) -> Value {
    let mut custom = t["custom"].clone();
    if let Some(c) = custom.as_object_mut() {
        c.remove("tags");
    }
    json!({"length": t["length"], "hashes": t["hashes"], "custom": custom})
}

/// `POST …/waves/`: checks the wave as the server does, adds the online
/// signature, and keeps it. Returns the wave as `GET` answers it.
pub fn create(
    dir: &Path,
    body: &Value,
    prod_root: &Value,
    online_id: &str,
    now: &str,
    write: impl Fn(&Path, &[u8]) -> Result<(), String>,
) -> Result<Value, Refusal> {
    let name = body["name"].as_str().unwrap_or("");
    let tag = body["tag"].as_str().unwrap_or("");
    let version_text = body["version"].as_str().unwrap_or("");
    if !valid_name(name) || !valid_name(tag) {
        return Err(refuse(
            400,
            "name and tag: only letters, digits, '.', '_' and '-' are allowed",
        ));
    }
    let version: u64 = version_text
        .parse()
        .map_err(|_| refuse(400, "version: an integer (as a string) is expected"))?;
    if wave_file(dir, name).exists() {
        return Err(refuse(409, format!("a wave named {name} exists")));
    }
    for e in std::fs::read_dir(dir.join("waves"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Some(w) = read_json(&e.path())? {
            if w["tag"] == tag && w["status"] == "active" {
                return Err(refuse(
                    409,
                    format!(
                        "the wave {} is active for the tag {tag}: complete or cancel it first",
                        w["name"]
                    ),
                ));
            }
        }
    }
    let mut envelope = body["targets"].clone();
    let signed = &envelope["signed"];
    if signed["_type"] != "Targets" || signed["version"].as_u64() != Some(version) {
        return Err(refuse(
            400,
            "targets.signed: a Targets role of the wave's version is expected",
        ));
    }
    let expires = signed["expires"].as_str().unwrap_or("");
    if !accept::is_expiry_form(expires) || expires <= now {
        return Err(refuse(
            400,
            format!(
                "targets.signed.expires {expires:?}: a future YYYY-MM-DDTHH:MM:SSZ is expected"
            ),
        ));
    }
    let current =
        targets::list(dir, targets::PROD, &format!("tag={tag}")).map_err(|e| refuse(400, e))?;
    let current = &current[tag];
    let cur_version = current["signed"]["version"].as_u64().unwrap_or(0);
    if version <= cur_version {
        return Err(refuse(
            422,
            format!("the wave's version {version} is not above the production targets' version {cur_version} for the tag {tag}"),
        ));
    }
    let empty = Map::new();
    let cur_targets = current["signed"]["targets"].as_object().unwrap_or(&empty);
    let ci = ci_targets(dir, &format!("version={version}"))?;
    let ci = ci.as_object().unwrap_or(&empty);
    if ci.is_empty() {
        return Err(refuse(
            422,
            format!("there are no CI targets of version {version}"),
        ));
    }
    for n in ci.keys() {
        if cur_targets.contains_key(n) {
            return Err(refuse(
                422,
                format!("Target {n} already exists in production Targets for tag {tag}"),
            ));
        }
    }
    let wave_targets = signed["targets"]
        .as_object()
        .ok_or_else(|| refuse(400, "targets.signed.targets: an object is expected"))?;
    for (n, t) in wave_targets {
        if let Some(c) = cur_targets.get(n) {
            if c != t {
                return Err(refuse(
                    422,
                    format!("{n} differs from the production target of that name"),
                ));
            }
        } else if let Some(c) = ci.get(n) {
            if without_tags(c) != without_tags(t) || t["custom"]["tags"] != json!([tag]) {
                return Err(refuse(
                    422,
                    format!("{n} is not the CI target of that name tagged {tag}"),
                ));
            }
        } else {
            return Err(refuse(
                422,
                format!("{n} is neither a production target of {tag} nor a CI target of version {version}"),
            ));
        }
    }
    if !ci.keys().all(|n| wave_targets.contains_key(n)) {
        return Err(refuse(422, "the wave leaves out CI targets of its version"));
    }
    // The client's signatures first (a key the production root does not
    // list is refused, not ignored), then the server's own.
    check_signatures(&envelope, prod_root)?;
    add_online_signature(dir, &mut envelope, online_id)?;
    let valid = check_signatures(&envelope, prod_root)?;
    let (_, threshold) = targets_role(prod_root)?;
    if valid < threshold {
        return Err(refuse(
            422,
            format!("the wave's targets have {valid} valid signature(s) with the online one, the production targets threshold is {threshold}"),
        ));
    }
    let wave = json!({
        "name": name, "version": version_text, "tag": tag, "status": "active",
        "targets": envelope,
        "rollout-groups": {}, "rollout-history": [],
        "change-meta": {"created-at": now, "created-by": "sim-user-0001"},
    });
    save(dir, &wave, write)?;
    Ok(wave)
}

fn save(
    dir: &Path,
    wave: &Value,
    write: impl Fn(&Path, &[u8]) -> Result<(), String>,
) -> Result<(), Refusal> {
    let name = wave["name"].as_str().unwrap_or("");
    for sub in ["waves", targets::WAVE] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| refuse(500, e.to_string()))?;
    }
    let w = |p: &Path, v: &Value| write(p, &serde_json::to_vec_pretty(v).unwrap_or_default());
    w(&wave_file(dir, name), wave).map_err(|e| refuse(500, e))?;
    // An active wave's targets are also served (and re-signed at a targets
    // key rotation) as wave targets.
    let wt = dir.join(targets::WAVE).join(format!("{name}.json"));
    if wave["status"] == "active" {
        w(&wt, &wave["targets"]).map_err(|e| refuse(500, e))?;
    } else if wt.exists() {
        std::fs::remove_file(&wt).map_err(|e| refuse(500, e.to_string()))?;
    }
    Ok(())
}

fn load(dir: &Path, name: &str) -> Result<Value, Refusal> {
    if !valid_name(name) {
        return Err(refuse(404, "no such wave"));
    }
    let mut wave = read_json(&wave_file(dir, name))?
        .ok_or_else(|| refuse(404, format!("no wave named {name}")))?;
    // Signatures added at a targets key rotation live in wave-targets/.
    if let Some(t) = read_json(&dir.join(targets::WAVE).join(format!("{name}.json")))? {
        wave["targets"] = t;
    }
    Ok(wave)
}

/// `GET …/waves/W/`: the wave; its targets only with `show-targets=1`.
pub fn get(dir: &Path, name: &str, query: &str) -> Result<Value, Refusal> {
    let mut wave = load(dir, name)?;
    if !query.split('&').any(|kv| kv == "show-targets=1") {
        wave["targets"] = Value::Null;
    }
    Ok(wave)
}

/// `POST …/waves/W/sign/ {signatures}`: more offline signatures.
pub fn sign(
    dir: &Path,
    name: &str,
    body: &Value,
    prod_root: &Value,
    write: impl Fn(&Path, &[u8]) -> Result<(), String>,
) -> Result<Value, Refusal> {
    let mut wave = load(dir, name)?;
    if wave["status"] != "active" {
        return Err(refuse(409, format!("the wave {name} is not active")));
    }
    let new = body["signatures"]
        .as_array()
        .ok_or_else(|| refuse(400, "signatures: a list is expected"))?;
    let mut envelope = wave["targets"].clone();
    let list = envelope["signatures"]
        .as_array_mut()
        .ok_or_else(|| refuse(500, "state: the wave has no signatures"))?;
    for s in new {
        list.retain(|old| old["keyid"] != s["keyid"]);
        list.push(s.clone());
    }
    check_signatures(&envelope, prod_root)?;
    wave["targets"] = envelope;
    save(dir, &wave, write)?;
    Ok(json!({}))
}

/// `POST …/waves/W/complete/`: the wave's targets become the production
/// targets of its tag (they must still meet the production threshold).
pub fn complete(
    dir: &Path,
    name: &str,
    prod_root: &Value,
    write: impl Fn(&Path, &[u8]) -> Result<(), String>,
) -> Result<Value, Refusal> {
    let mut wave = load(dir, name)?;
    if wave["status"] != "active" {
        return Err(refuse(409, format!("the wave {name} is not active")));
    }
    let valid = check_signatures(&wave["targets"], prod_root)?;
    let (_, threshold) = targets_role(prod_root)?;
    if valid < threshold {
        return Err(refuse(422, format!("the wave's targets have {valid} valid signature(s), the production targets threshold is {threshold}")));
    }
    let tag = wave["tag"].as_str().unwrap_or("").to_string();
    std::fs::create_dir_all(dir.join(targets::PROD)).map_err(|e| refuse(500, e.to_string()))?;
    write(
        &dir.join(targets::PROD).join(format!("{tag}.json")),
        &serde_json::to_vec_pretty(&wave["targets"]).unwrap_or_default(),
    )
    .map_err(|e| refuse(500, e))?;
    wave["status"] = json!("complete");
    save(dir, &wave, write)?;
    Ok(json!({}))
}
