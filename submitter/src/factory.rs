//! The FoundriesFactory API, as fioctl uses it (reference/foundries-interop.md §4).

use serde_json::{json, Value};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

use ceremony::strict_json;
use ceremony::{Dialect, RootMetadata};

use crate::http::{server_message, Http, HttpError};

/// The API base used when neither `--api` nor fioctl's `server.url` says.
pub const DEFAULT_API: &str = "https://api.foundries.io";

/// One Factory's endpoints.
pub struct Factory<'a> {
    /// The client (with the token).
    pub http: &'a Http,
    /// API base URL, without a trailing slash.
    pub api: String,
    /// The Factory name.
    pub name: String,
}

/// A root as the API gave it: exact bytes and parsed.
#[derive(Clone, Debug)]
pub struct FetchedRoot {
    /// The bytes (for a root that came as a JSON string, the string's bytes).
    pub bytes: Vec<u8>,
    /// Parsed, in the ota-tuf dialect.
    pub root: RootMetadata,
}

/// The answer to `POST …/root/updates`.
pub struct Started {
    /// The transaction id (empty if the server gave none).
    pub txid: String,
    /// The whole answer, for the first root key of a first-time transaction.
    pub answer: Zeroizing<Vec<u8>>,
}

/// `GET …/root/updates`.
#[derive(Debug)]
pub struct Transaction {
    /// `NONE`, `STARTED`, `APPLYING`.
    pub status: String,
    /// Current CI and prod roots, where the answer holds them.
    pub current_ci: Option<FetchedRoot>,
    /// Current prod root.
    pub current_prod: Option<FetchedRoot>,
    /// The staged (`updated`) CI root.
    pub updated_ci: Option<FetchedRoot>,
    /// The staged prod root.
    pub updated_prod: Option<FetchedRoot>,
    /// `issues.errors`, as the server words them.
    pub errors: Vec<String>,
    /// `updated.online-keys.targets`: the online targets key id, as the
    /// server names it (fioctl's only way to tell it from offline ones).
    pub online_targets: Option<String>,
    /// `updated.targets-signatures` / `updated.waves-signatures`: the
    /// production and wave targets signatures PUT into the transaction
    /// (by a targets keys' holder's partial bundle), where the server shows
    /// them; none where it does not.
    pub staged_signatures: ceremony::resign::Staged,
}

/// Checks a Factory name before it goes into a URL.
pub fn check_name(name: &str) -> Result<(), String> {
    if !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !name.starts_with('.')
    {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a Factory name (letters, digits, '-', '_' and '.' only)"
        ))
    }
}

fn parse_root(value: &Value, what: &str) -> Result<Option<FetchedRoot>, String> {
    let bytes = match value {
        Value::Null => return Ok(None),
        Value::String(s) if s.is_empty() => return Ok(None),
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Object(_) => serde_json::to_vec(value).expect("a JSON value serialises"),
        other => {
            return Err(format!(
                "{what} is neither a JSON string nor an object: {other}"
            ))
        }
    };
    let root = RootMetadata::from_slice(&bytes, Some(Dialect::OtaTuf))
        .map_err(|e| format!("{what}: {e}"))?;
    Ok(Some(FetchedRoot { bytes, root }))
}

impl Factory<'_> {
    fn repo(&self, rest: &str) -> String {
        format!(
            "{}/ota/repo/{}/api/v1/user_repo/{rest}",
            self.api, self.name
        )
    }

    fn root_url(&self, prod: bool, version: Option<u64>) -> String {
        let file = match version {
            Some(n) => format!("{n}.root.json"),
            None => "root.json".to_string(),
        };
        let url = self.repo(&file);
        if prod {
            format!("{url}?production=1")
        } else {
            url
        }
    }

    /// The URL of the transaction endpoint (for messages).
    pub fn updates_url(&self) -> String {
        self.repo("root/updates")
    }

    /// `GET …/N.root.json` (or `root.json`), `None` on 404.
    pub fn root(&self, prod: bool, version: Option<u64>) -> Result<Option<Vec<u8>>, HttpError> {
        self.http.get_optional(&self.root_url(prod, version))
    }

    /// The URL of a root, for messages.
    pub fn root_location(&self, prod: bool, version: u64) -> String {
        self.root_url(prod, Some(version))
    }

    /// The URL of the current root, for messages.
    pub fn current_root_location(&self, prod: bool) -> String {
        self.root_url(prod, None)
    }

    /// `GET …/root.json` parsed; an error when absent.
    pub fn current_root(&self, prod: bool) -> anyhow::Result<FetchedRoot> {
        let url = self.root_url(prod, None);
        let bytes = self.http.get_required(&url)?;
        let root = RootMetadata::from_slice(&bytes, Some(Dialect::OtaTuf))
            .map_err(|e| anyhow::anyhow!("GET {url}: the answer is not a usable root: {e}"))?;
        Ok(FetchedRoot { bytes, root })
    }

    /// `POST …/root/updates`: starts a transaction (`first_time`: the
    /// Factory's first rotation, whose answer holds the first root key).
    /// `Ok(Err(message))` on 409 (one is already open).
    pub fn start(
        &self,
        message: &str,
        first_time: bool,
    ) -> Result<Result<Started, String>, HttpError> {
        let url = self.updates_url();
        let body = json!({"message": message, "first-time": first_time, "shortcut": false});
        let a = self.http.send(
            "POST",
            &url,
            Some(&serde_json::to_vec(&body).expect("serialises")),
        )?;
        if a.status == 409 {
            return Ok(Err(server_message(&a.body)));
        }
        let mut a = Http::expect_ok("POST", &url, a)?;
        // A first-time answer holds a private key: wiped when dropped.
        let answer = Zeroizing::new(std::mem::take(&mut a.body));
        // Only the txid is read here, into a struct that skips the other
        // fields without copying them (a `Value` would copy the key).
        #[derive(serde::Deserialize)]
        struct Txid {
            #[serde(default)]
            txid: Option<String>,
        }
        let txid = serde_json::from_slice::<Txid>(&answer)
            .ok()
            .and_then(|t| t.txid)
            .unwrap_or_default();
        Ok(Ok(Started { txid, answer }))
    }

    /// `GET …/root/updates`.
    pub fn transaction(&self) -> anyhow::Result<Transaction> {
        let url = self.updates_url();
        let body = self.http.get_required(&url)?;
        let v = strict_json::from_slice(&body)
            .map_err(|e| anyhow::anyhow!("GET {url}: the answer is not JSON: {e}"))?;
        let field = |path: &str, what: &str| -> anyhow::Result<Option<FetchedRoot>> {
            parse_root(v.pointer(path).unwrap_or(&Value::Null), what)
                .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))
        };
        Ok(Transaction {
            status: v
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("NONE")
                .to_string(),
            current_ci: field("/current/ci-root", "current.ci-root")?,
            current_prod: field("/current/prod-root", "current.prod-root")?,
            updated_ci: field("/updated/ci-root", "updated.ci-root")?,
            updated_prod: field("/updated/prod-root", "updated.prod-root")?,
            errors: v
                .pointer("/issues/errors")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            online_targets: v
                .pointer("/updated/online-keys/targets")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            staged_signatures: ceremony::resign::Staged {
                prod: signatures_field(&v, "/updated/targets-signatures")
                    .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?,
                waves: signatures_field(&v, "/updated/waves-signatures")
                    .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?,
            },
        })
    }

    /// `GET /ota/factories/F/prod-targets/` (`kind` `prod-targets`) or
    /// `…/wave-targets/`: `{tag or wave: targets metadata}`, as served.
    pub fn targets_list(&self, kind: &str) -> anyhow::Result<BTreeMap<String, Value>> {
        let url = format!("{}/ota/factories/{}/{kind}/", self.api, self.name);
        let body = self.http.get_required(&url)?;
        let v = strict_json::from_slice(&body)
            .map_err(|e| anyhow::anyhow!("GET {url}: the answer is not JSON: {e}"))?;
        match v {
            Value::Object(m) => Ok(m.into_iter().collect()),
            _ => anyhow::bail!("GET {url}: the answer is not an object of targets"),
        }
    }

    /// `GET /ota/factories/F/users/self/` → `polis-id`.
    pub fn polis_id(&self) -> anyhow::Result<Option<String>> {
        let url = format!("{}/ota/factories/{}/users/self/", self.api, self.name);
        let body = self.http.get_required(&url)?;
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| anyhow::anyhow!("GET {url}: the answer is not JSON: {e}"))?;
        Ok(v.get("polis-id").and_then(Value::as_str).map(str::to_owned))
    }

    /// `PUT …/root/updates` with both roots as objects, and, for a targets
    /// key rotation, the production and wave targets signatures
    /// (`targets-signatures`, `waves-signatures`: `{name: [signature]}`, as
    /// fioctl sends them; left out when null).
    pub fn put(
        &self,
        txid: &str,
        ci: &Value,
        prod: &Value,
        resigned: &(Value, Value),
    ) -> Result<crate::http::Answer, HttpError> {
        let mut body = json!({"txid": txid, "ci-root": ci, "prod-root": prod});
        for (field, v) in [
            ("targets-signatures", &resigned.0),
            ("waves-signatures", &resigned.1),
        ] {
            if !v.is_null() {
                body[field] = v.clone();
            }
        }
        self.http.send(
            "PUT",
            &self.updates_url(),
            Some(&serde_json::to_vec(&body).expect("serialises")),
        )
    }

    /// `POST …/root/updates/apply`.
    pub fn apply(&self, txid: &str) -> Result<crate::http::Answer, HttpError> {
        let body = json!({ "txid": txid });
        self.http.send(
            "POST",
            &self.repo("root/updates/apply"),
            Some(&serde_json::to_vec(&body).expect("serialises")),
        )
    }

    /// The apply URL, for messages.
    pub fn apply_url(&self) -> String {
        self.repo("root/updates/apply")
    }

    /// `POST …/root/updates/cancel`.
    pub fn cancel(&self) -> Result<crate::http::Answer, HttpError> {
        self.http
            .send("POST", &self.repo("root/updates/cancel"), None)
    }

    /// The cancel URL, for messages.
    pub fn cancel_url(&self) -> String {
        self.repo("root/updates/cancel")
    }
}

/// A `{name: [signature]}` field of the transaction, where there is one.
fn signatures_field(v: &Value, path: &str) -> Result<BTreeMap<String, Vec<Value>>, String> {
    match v.pointer(path) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(x) => serde_json::from_value(x.clone())
            .map_err(|e| format!("{path} is not {{name: [signature]}}: {e}")),
    }
}
