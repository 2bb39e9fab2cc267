//! `GET …/root/updates` as fioctl decodes it (`TufRootUpdates`, with
//! `TufRootPair`, `ChangeMeta`, `TufRootAmendment` and `TufRootIssues`),
//! including the decoding errors Go's `json.Unmarshal` reports, and
//! `checkTufRootUpdatesStatus`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::TufRoot;

/// `TufRootPair`: the roots are JSON text inside strings.
#[derive(Clone, Debug, Default)]
pub struct Pair {
    pub ci_root: String,
    pub prod_root: String,
    pub online_keys: BTreeMap<String, String>,
}

/// `TufRootAmendment`.
#[derive(Clone, Debug, Default)]
pub struct Amendment {
    pub kind: String,
    pub message: String,
    pub args: BTreeMap<String, String>,
}

/// `TufRootUpdates`.
#[derive(Clone, Debug, Default)]
pub struct Updates {
    pub status: String,
    pub current: Option<Pair>,
    pub updated: Option<Pair>,
    pub first_time: bool,
    pub amendments: Vec<Amendment>,
    pub errors: Vec<Amendment>,
    pub warnings: Vec<Amendment>,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Go's message for a member of the wrong JSON type.
fn mismatch(v: &Value, field: &str, go_type: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field {field} of type {go_type}",
        kind(v)
    )
}

fn str_field(v: &Value, field: &str) -> Result<String, String> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        other => Err(mismatch(other, field, "string")),
    }
}

fn str_map(v: &Value, field: &str) -> Result<BTreeMap<String, String>, String> {
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| Ok((k.clone(), str_field(x, field)?)))
            .collect(),
        other => Err(mismatch(other, field, "map[string]string")),
    }
}

fn pair(v: &Value, field: &str) -> Result<Option<Pair>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Object(m) => {
            let get = |k: &str| m.get(k).unwrap_or(&Value::Null);
            Ok(Some(Pair {
                ci_root: str_field(get("ci-root"), &format!("TufRootPair.{field}.ci-root"))?,
                prod_root: str_field(get("prod-root"), &format!("TufRootPair.{field}.prod-root"))?,
                online_keys: str_map(
                    get("online-keys"),
                    &format!("TufRootPair.{field}.online-keys"),
                )?,
            }))
        }
        other => Err(mismatch(
            other,
            &format!("TufRootUpdates.{field}"),
            "client.TufRootPair",
        )),
    }
}

fn amendments(v: &Value, field: &str) -> Result<Vec<Amendment>, String> {
    let list = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(a) => a,
        other => return Err(mismatch(other, field, "[]client.TufRootAmendment")),
    };
    list.iter()
        .map(|a| match a {
            Value::Object(m) => {
                let get = |k: &str| m.get(k).unwrap_or(&Value::Null);
                Ok(Amendment {
                    kind: str_field(get("kind"), &format!("TufRootAmendment.{field}.kind"))?,
                    message: str_field(
                        get("message"),
                        &format!("TufRootAmendment.{field}.message"),
                    )?,
                    args: str_map(get("args"), &format!("TufRootAmendment.{field}.args"))?,
                })
            }
            Value::Null => Ok(Amendment::default()),
            other => Err(mismatch(other, field, "client.TufRootAmendment")),
        })
        .collect()
}

impl Updates {
    /// `json.Unmarshal(body, &TufRootUpdates{})`.
    pub fn decode(body: &[u8]) -> Result<Updates, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let m = match &v {
            Value::Object(m) => m,
            other => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go value of type client.TufRootUpdates",
                    kind(other)
                ))
            }
        };
        let get = |k: &str| m.get(k).unwrap_or(&Value::Null);
        let issues = get("issues");
        let (errors, warnings) = match issues {
            Value::Null => (Vec::new(), Vec::new()),
            Value::Object(i) => (
                amendments(i.get("errors").unwrap_or(&Value::Null), "issues.errors")?,
                amendments(i.get("warnings").unwrap_or(&Value::Null), "issues.warnings")?,
            ),
            other => {
                return Err(mismatch(
                    other,
                    "TufRootUpdates.issues",
                    "client.TufRootIssues",
                ))
            }
        };
        Ok(Updates {
            status: str_field(get("status"), "TufRootUpdates.status")?,
            current: pair(get("current"), "current")?,
            updated: pair(get("updated"), "updated")?,
            first_time: match get("first-time") {
                Value::Null => false,
                Value::Bool(b) => *b,
                other => return Err(mismatch(other, "TufRootUpdates.first-time", "bool")),
            },
            amendments: amendments(get("amendments"), "amendments")?,
            errors,
            warnings,
        })
    }

    /// `Updated.OnlineKeys[role]` ("" when missing).
    pub fn updated_online(&self, role: &str) -> String {
        self.updated
            .as_ref()
            .and_then(|u| u.online_keys.get(role).cloned())
            .unwrap_or_default()
    }
}

/// What `checkTufRootUpdatesStatus` hands back: the current CI root and the
/// staged CI and production roots (`None` when the server sent none).
pub struct Staged {
    pub current_ci: TufRoot,
    pub new_ci: Option<TufRoot>,
    pub new_prod: Option<TufRoot>,
}

fn root_text(text: &str, what: &str) -> Result<Option<TufRoot>, (String, String)> {
    if text.is_empty() {
        return Ok(None);
    }
    TufRoot::from_slice(text.as_bytes())
        .map(Some)
        .map_err(|e| (what.to_string(), e))
}

/// `checkTufRootUpdatesStatus(updates, forUpdate)`. `Err((context, error))`
/// is what fioctl dies with (`DieNotNil(err, context)`).
pub fn check_status(u: &Updates, for_update: bool) -> Result<Staged, (String, String)> {
    match u.status.as_str() {
        "NONE" if for_update => {
            return Err((
                String::new(),
                "There are no TUF root updates in progress.\nPlease, run 'fioctl keys tuf updates init' to start over.".into(),
            ))
        }
        "NONE" | "STARTED" => {}
        "APPLYING" if for_update => {
            return Err((
                String::new(),
                "No modifications to TUF root updates allowed while they are being applied.".into(),
            ))
        }
        "APPLYING" => {}
        other => {
            return Err((
                String::new(),
                format!("Unexpected TUF root updates status: {other}"),
            ))
        }
    }
    let current_ci = match &u.current {
        Some(c) => root_text(&c.ci_root, "Current CI root")?,
        None => None,
    };
    let Some(current_ci) = current_ci else {
        return Err((
            String::new(),
            "Current TUF CI root not set. Please, report a bug.".into(),
        ));
    };
    let (mut new_ci, mut new_prod) = (None, None);
    if let Some(up) = &u.updated {
        new_ci = root_text(&up.ci_root, "Updated CI root")?;
        new_prod = root_text(&up.prod_root, "Updated prod root")?;
    }
    if new_ci.is_none() && u.status != "NONE" {
        return Err((
            String::new(),
            "Updated TUF CI root not set. Please, report a bug.".into(),
        ));
    }
    Ok(Staged {
        current_ci,
        new_ci,
        new_prod,
    })
}
