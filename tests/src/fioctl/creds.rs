//! fioctl's key tarballs (`OfflineCreds`, subcommands/keys/tuf_utils.go):
//! a gzip'd tar of `name → bytes`, read by `GetOfflineCreds` (directories
//! skipped, a later entry of one name replacing an earlier one), written by
//! `saveTufCreds` (headers with only a name and a size), and searched by
//! `findTufSigners`: every `.pub` file whose trimmed public value equals the
//! trimmed public value of one of the wanted key ids in the root, with the
//! `.sec` file beside it (the first `.pub` in its name replaced by `.sec`).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use serde_json::Value;

use super::crypto::{Key, KeyType, Signer};
use super::model::{AtsKey, TufRoot};

/// `OfflineCreds`. fioctl iterates a Go map (in random order); a sorted
/// map is one of those orders.
pub type Creds = BTreeMap<String, Vec<u8>>;

/// `errFoundNoKey`'s text.
pub const NO_KEY: &str = "No private key found";

/// `GetOfflineCreds`.
pub fn read(path: &Path) -> Result<Creds, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut out = Creds::new();
    for entry in tar.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        if entry.header().entry_type() == tar::EntryType::Directory {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(|e| e.to_string())?;
        out.insert(name, data);
    }
    Ok(out)
}

/// `saveTufCreds`: creates (or truncates, as `os.Create` does) `path`.
pub fn save(path: &Path, creds: &Creds) -> Result<(), String> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, data) in creds {
        let mut h = tar::Header::new_ustar();
        h.set_path(name)
            .map_err(|e| format!("tar header {name}: {e}"))?;
        h.set_size(data.len() as u64);
        h.set_mode(0);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        tar.append(&h, data.as_slice())
            .map_err(|e| format!("tar: {e}"))?;
    }
    let gz = tar.into_inner().map_err(|e| format!("tar: {e}"))?;
    let bytes = gz.finish().map_err(|e| format!("gzip: {e}"))?;
    std::fs::write(path, bytes).map_err(|e| format!("write {}: {e}", path.display()))
}

fn ats(bytes: &[u8], into: &mut AtsKey) -> Result<(), String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| match bytes.is_empty() {
        true => "unexpected end of JSON input".to_string(),
        false => e.to_string(),
    })?;
    // Go decodes the `.sec` file into the same struct the `.pub` filled.
    let k = AtsKey::decode(&v)?;
    if v.get("keytype").is_some() {
        into.key_type = k.key_type;
    }
    if !k.public.is_empty() {
        into.public = k.public;
    }
    if !k.private.is_empty() {
        into.private = k.private;
    }
    Ok(())
}

/// `findTufSigners`: the private keys in `creds` of the wanted `key_ids`.
pub fn find_signers(
    root: &TufRoot,
    creds: &Creds,
    key_ids: &[String],
) -> Result<Vec<Signer>, String> {
    let mut wanted: Vec<(String, AtsKey)> = Vec::new();
    for id in key_ids {
        let k = root
            .signed
            .keys
            .as_ref()
            .and_then(|k| k.get(id))
            .ok_or_else(|| format!("Unable to find key {id} in root.json"))?;
        let mut k = k.clone();
        k.public = k.public.trim().to_string();
        wanted.push((id.clone(), k));
    }
    let mut found = Vec::new();
    for (file, bytes) in creds {
        if !file.ends_with(".pub") {
            continue;
        }
        let mut key = AtsKey::default();
        ats(bytes, &mut key).map_err(|e| format!("Unable to parse JSON for {file}: {e}"))?;
        let probe = key.public.trim().to_string();
        let Some((id, matched)) = wanted.iter().find(|(_, k)| k.public == probe) else {
            continue;
        };
        let sec = file.replacen(".pub", ".sec", 1);
        let bytes = creds.get(&sec).map(Vec::as_slice).unwrap_or(&[]);
        ats(bytes, &mut key).map_err(|e| format!("Unable to parse JSON for {sec}: {e}"))?;
        if key.key_type != matched.key_type {
            return Err(format!(
                "Mismatch in key type for {sec}: {} != {}",
                key.key_type, matched.key_type
            ));
        }
        let t = KeyType::parse(&key.key_type)
            .map_err(|_| format!("Unsupported key type for {sec}: {}", key.key_type))?;
        let k = Key::parse(t, &key.private)
            .map_err(|e| format!("Unable to parse key value for {sec}: {e}"))?;
        found.push(Signer {
            id: id.clone(),
            key: k,
        });
    }
    Ok(found)
}

/// Go's `%v` of a `[]string`.
pub fn go_list(ids: &[String]) -> String {
    format!("[{}]", ids.join(" "))
}

/// Why `FindOneTufSigner` found no one key.
#[derive(Debug)]
pub enum FindError {
    /// `errFoundNoKey` (fioctl goes on when it may).
    NoKey(String),
    Other(String),
}

impl FindError {
    pub fn text(&self) -> &str {
        match self {
            FindError::NoKey(s) | FindError::Other(s) => s,
        }
    }
}

/// `FindOneTufSigner`: exactly one key, or why not.
pub fn find_one(root: &TufRoot, creds: &Creds, key_ids: &[String]) -> Result<Signer, FindError> {
    let mut found = find_signers(root, creds, key_ids).map_err(FindError::Other)?;
    match found.len() {
        0 => Err(FindError::NoKey(format!(
            "{NO_KEY} for key IDs: {}.",
            go_list(key_ids)
        ))),
        1 => Ok(found.remove(0)),
        _ => Err(FindError::Other(format!(
            "Found more than one active private key for key IDs: {}.\n\
             This is an unsupported and insecure way to store private keys.\n\
             Please, provide a keys file which contains a single active signing key.",
            go_list(key_ids)
        ))),
    }
}

/// `checkNoTufSigner`.
pub fn check_none(root: &TufRoot, creds: &Creds, key_ids: &[String]) -> Result<(), String> {
    if find_signers(root, creds, key_ids)?.is_empty() {
        Ok(())
    } else {
        Err("It is not allowed to store more than one active private key per file.".into())
    }
}
