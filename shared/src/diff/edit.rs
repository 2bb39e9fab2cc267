//! The edit script: every difference between two root envelopes as a list
//! of additions, removals and replacements at JSON paths.
//!
//! The review is rendered from this script and the signer applies the very
//! script it showed to the current root before it signs, so that "what was
//! shown" and "what is signed" are compared byte for byte instead of being
//! trusted to agree. Objects are walked at every depth; arrays (key id lists)
//! are replaced as a whole, so that no reordering or duplicate hides inside
//! an element-wise diff. The envelope's `signatures` are the one field left
//! out: they are what signing changes.

use serde::Serialize;
use serde_json::{Map, Value};
use thiserror::Error;

/// The envelope field a script never covers: the signatures themselves.
pub const SIGNATURES: &str = "signatures";

/// A location in a root envelope: the object keys from the top, such as
/// `["signed", "roles", "root", "threshold"]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Path(pub Vec<String>);

impl Path {
    /// The path's segments.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// Whether this path is `prefix` or lies below it.
    pub fn starts_with(&self, prefix: &[&str]) -> bool {
        self.0.len() >= prefix.len() && self.0.iter().zip(prefix).all(|(a, b)| a == b)
    }

    /// Whether this path is exactly `other`.
    pub fn is(&self, other: &[&str]) -> bool {
        self.0.len() == other.len() && self.starts_with(other)
    }
}

impl std::fmt::Display for Path {
    /// `signed.roles.root.threshold`; a segment that is not plain
    /// (letters, digits, `_`, `-`) is written as a JSON string in brackets,
    /// `signed.keys["a.b"]`, so that a hostile field name can neither pass
    /// for two segments nor carry a line break or a control character.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(the whole envelope)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            let plain = !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if plain {
                if i > 0 {
                    f.write_str(".")?;
                }
                f.write_str(seg)?;
            } else {
                write!(f, "[{}]", compact(&Value::String(seg.clone())))?;
            }
        }
        Ok(())
    }
}

/// One edit.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Edit {
    /// A field that the old root lacks.
    Add {
        /// Where.
        path: Path,
        /// The new value.
        value: Value,
    },
    /// A field that the new root lacks.
    Remove {
        /// Where.
        path: Path,
        /// The value removed (checked when the script is applied).
        old: Value,
    },
    /// A field whose value changes (a non-object, or an object replaced by
    /// something else).
    Replace {
        /// Where.
        path: Path,
        /// The value before (checked when the script is applied).
        old: Value,
        /// The value after.
        new: Value,
    },
}

impl Edit {
    /// Where the edit applies.
    pub fn path(&self) -> &Path {
        match self {
            Edit::Add { path, .. } | Edit::Remove { path, .. } | Edit::Replace { path, .. } => path,
        }
    }

    /// The value before, if there was one.
    pub fn before(&self) -> Option<&Value> {
        match self {
            Edit::Add { .. } => None,
            Edit::Remove { old, .. } | Edit::Replace { old, .. } => Some(old),
        }
    }

    /// The value after, if there is one.
    pub fn after(&self) -> Option<&Value> {
        match self {
            Edit::Remove { .. } => None,
            Edit::Add { value, .. } => Some(value),
            Edit::Replace { new, .. } => Some(new),
        }
    }
}

/// Every edit from one envelope to another, in a stable order: the old
/// object's fields in its order (removed or changed), then the fields the
/// new object adds, depth first.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Script(pub Vec<Edit>);

impl Script {
    /// The script that turns envelope `old` into envelope `new`, leaving out
    /// the top-level `signatures`.
    pub fn between(old: &Value, new: &Value) -> Script {
        let mut edits = Vec::new();
        match (old.as_object(), new.as_object()) {
            (Some(o), Some(n)) => {
                let strip = |m: &Map<String, Value>| {
                    let mut m = m.clone();
                    m.shift_remove(SIGNATURES);
                    m
                };
                walk(&mut Vec::new(), &strip(o), &strip(n), &mut edits);
            }
            _ if old != new => edits.push(Edit::Replace {
                path: Path(Vec::new()),
                old: old.clone(),
                new: new.clone(),
            }),
            _ => {}
        }
        Script(edits)
    }

    /// The edits.
    pub fn edits(&self) -> &[Edit] {
        &self.0
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Lower-case hex sha256 of the script as compact JSON: names exactly
    /// what was shown, for the transcript.
    pub fn sha256(&self) -> String {
        crate::sha256::hex(compact(&serde_json::to_value(self).unwrap_or(Value::Null)).as_bytes())
    }
}

fn walk(
    at: &mut Vec<String>,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    out: &mut Vec<Edit>,
) {
    let path = |at: &Vec<String>, k: &str| {
        let mut p = at.clone();
        p.push(k.to_string());
        Path(p)
    };
    for (k, ov) in old {
        match new.get(k) {
            None => out.push(Edit::Remove {
                path: path(at, k),
                old: ov.clone(),
            }),
            Some(nv) if nv == ov => {}
            Some(nv) => match (ov.as_object(), nv.as_object()) {
                (Some(om), Some(nm)) => {
                    at.push(k.clone());
                    walk(at, om, nm, out);
                    at.pop();
                }
                _ => out.push(Edit::Replace {
                    path: path(at, k),
                    old: ov.clone(),
                    new: nv.clone(),
                }),
            },
        }
    }
    for (k, nv) in new {
        if !old.contains_key(k) {
            out.push(Edit::Add {
                path: path(at, k),
                value: nv.clone(),
            });
        }
    }
}

/// Why a script does not apply to a root: it was made from another one.
#[derive(Debug, Error, PartialEq)]
pub enum ApplyError {
    /// A path leads through something that is not an object, or nowhere.
    #[error("edit {index}: {path} does not exist in the root it is applied to")]
    NoSuchPath {
        /// The edit's position in the script.
        index: usize,
        /// Its path.
        path: String,
    },
    /// An addition where a value already stands.
    #[error("edit {index}: {path} already exists in the root it is applied to")]
    AlreadyThere {
        /// The edit's position in the script.
        index: usize,
        /// Its path.
        path: String,
    },
    /// The value found is not the one the script says it replaces or removes.
    #[error("edit {index}: {path} holds another value than the script says it replaces")]
    OldValueDiffers {
        /// The edit's position in the script.
        index: usize,
        /// Its path.
        path: String,
    },
    /// The script touches the signatures, which it must never do.
    #[error("edit {index}: a script never edits the signatures")]
    Signatures {
        /// The edit's position in the script.
        index: usize,
    },
}

/// Applies `script` to `current` (an envelope) and returns the result. Each
/// removal and replacement must find exactly the old value the script
/// names, and each addition an empty place: a script applies only to the
/// root it was made from.
pub fn apply(current: &Value, script: &Script) -> Result<Value, ApplyError> {
    let mut out = current.clone();
    for (index, edit) in script.edits().iter().enumerate() {
        let segs = edit.path().segments();
        let shown = || edit.path().to_string();
        if segs.first().map(String::as_str) == Some(SIGNATURES) {
            return Err(ApplyError::Signatures { index });
        }
        let Some((last, parents)) = segs.split_last() else {
            // The whole envelope replaced.
            match edit {
                Edit::Replace { old, new, .. } if *old == out => {
                    out = new.clone();
                    continue;
                }
                _ => {
                    return Err(ApplyError::OldValueDiffers {
                        index,
                        path: shown(),
                    })
                }
            }
        };
        let mut parent = &mut out;
        for seg in parents {
            parent = parent
                .as_object_mut()
                .and_then(|m| m.get_mut(seg))
                .ok_or_else(|| ApplyError::NoSuchPath {
                    index,
                    path: shown(),
                })?;
        }
        let map = parent
            .as_object_mut()
            .ok_or_else(|| ApplyError::NoSuchPath {
                index,
                path: shown(),
            })?;
        match edit {
            Edit::Add { value, .. } => {
                if map.contains_key(last) {
                    return Err(ApplyError::AlreadyThere {
                        index,
                        path: shown(),
                    });
                }
                map.insert(last.clone(), value.clone());
            }
            Edit::Remove { old, .. } => match map.get(last) {
                None => {
                    return Err(ApplyError::NoSuchPath {
                        index,
                        path: shown(),
                    })
                }
                Some(v) if v != old => {
                    return Err(ApplyError::OldValueDiffers {
                        index,
                        path: shown(),
                    })
                }
                Some(_) => {
                    map.shift_remove(last);
                }
            },
            Edit::Replace { old, new, .. } => match map.get_mut(last) {
                None => {
                    return Err(ApplyError::NoSuchPath {
                        index,
                        path: shown(),
                    })
                }
                Some(v) if v != old => {
                    return Err(ApplyError::OldValueDiffers {
                        index,
                        path: shown(),
                    })
                }
                Some(v) => *v = new.clone(),
            },
        }
    }
    Ok(out)
}

/// Compact JSON, as every value is shown.
pub fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_changes_become_paths_and_apply_back() {
        let old = json!({"signed": {"_type": "root", "keys": {"a": {"keyval": {"public": "1"}}},
            "roles": {"root": {"keyids": ["a"], "threshold": 1, "x": 1}}},
            "signatures": [{"keyid": "a"}], "extra": 1});
        let new = json!({"signed": {"_type": "Root", "keys": {"a": {"keyval": {"public": "2"}}},
            "roles": {"root": {"keyids": ["a"], "threshold": 1, "y": [1]}}},
            "signatures": [], "extra2": 2});
        let s = Script::between(&old, &new);
        let paths: Vec<String> = s.edits().iter().map(|e| e.path().to_string()).collect();
        assert_eq!(
            paths,
            [
                "signed._type",
                "signed.keys.a.keyval.public",
                "signed.roles.root.x",
                "signed.roles.root.y",
                "extra",
                "extra2"
            ]
        );
        let mut applied = apply(&old, &s).unwrap();
        // Signatures are not the script's business.
        assert_eq!(applied["signatures"], old["signatures"]);
        applied["signatures"] = json!([]);
        assert_eq!(applied, new);
    }

    #[test]
    fn a_script_applies_only_to_the_root_it_was_made_from() {
        let old = json!({"signed": {"v": 1}, "signatures": []});
        let new = json!({"signed": {"v": 2}, "signatures": []});
        let s = Script::between(&old, &new);
        let other = json!({"signed": {"v": 3}, "signatures": []});
        assert!(matches!(
            apply(&other, &s),
            Err(ApplyError::OldValueDiffers { .. })
        ));
        let add = Script(vec![Edit::Add {
            path: Path(vec!["signed".into(), "v".into()]),
            value: json!(1),
        }]);
        assert!(matches!(
            apply(&old, &add),
            Err(ApplyError::AlreadyThere { .. })
        ));
        let sig = Script(vec![Edit::Remove {
            path: Path(vec!["signatures".into()]),
            old: json!([]),
        }]);
        assert!(matches!(
            apply(&old, &sig),
            Err(ApplyError::Signatures { .. })
        ));
    }

    #[test]
    fn odd_segments_are_quoted() {
        let p = Path(vec![
            "signed".into(),
            "a.b\n".into(),
            "".into(),
            "ok-1".into(),
        ]);
        assert_eq!(p.to_string(), r#"signed["a.b\n"][""].ok-1"#);
    }
}
