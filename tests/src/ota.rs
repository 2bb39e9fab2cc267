//! ota-tuf roots and FoundriesFactory proposals built and signed by hand
//! with the library, and fioctl's key-file layout: the inputs of the
//! signer's tests that no binary of ours should have to make (so a bug in
//! `submitter propose` cannot hide one in `signer sign`).

use std::path::{Path, PathBuf};

use ceremony::keys::{NewKeyType, PrivateKey, PublicKey};
use ceremony::proposal::{Chain, Change, HistoryEntry, Proposal, Rotate, Target, PROPOSAL_FORMAT};
use ceremony::root::format_expires;
use ceremony::{Dialect, RootMetadata};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

/// The `.pub`/`.sec` pair of a key under `tufrepo/keys/<stem>`.
pub fn ats_pair(stem: &str, key: &PrivateKey) -> Vec<(String, Vec<u8>)> {
    vec![
        (
            format!("tufrepo/keys/{stem}.pub"),
            key.to_ats_public_json().into_bytes(),
        ),
        (
            format!("tufrepo/keys/{stem}.sec"),
            key.to_ats_private_json().unwrap().as_bytes().to_vec(),
        ),
    ]
}

pub fn in_days(days: i64) -> String {
    format_expires(OffsetDateTime::now_utc() + Duration::days(days))
}

/// An unsigned ota-tuf root: `root_keys` (threshold `threshold`) for the
/// root role, `online` for the other three.
pub fn ota_root(
    version: u64,
    root_keys: &[PublicKey],
    threshold: u64,
    online: &PublicKey,
    expires: &str,
) -> RootMetadata {
    let d = Dialect::OtaTuf;
    let mut keys = serde_json::Map::new();
    for k in root_keys.iter().chain([online]) {
        keys.insert(k.key_id(d), k.to_key_object(d));
    }
    let online_role = json!({"keyids": [online.key_id(d)], "threshold": 1});
    let env = json!({
        "signatures": [],
        "signed": {
            "_type": "Root",
            "consistent_snapshot": false,
            "expires": expires,
            "keys": keys,
            "roles": {
                "root": {"keyids": root_keys.iter().map(|k| k.key_id(d)).collect::<Vec<_>>(), "threshold": threshold},
                "snapshot": online_role,
                "targets": online_role,
                "timestamp": online_role,
            },
            "version": version,
        }
    });
    RootMetadata::from_value(env, d).unwrap()
}

pub fn sign_root(root: &mut RootMetadata, keys: &[&PrivateKey]) {
    for k in keys {
        let id = root.find_key_id(&k.public_key()).unwrap();
        root.sign(&id, k).unwrap();
    }
}

/// A Factory proposal: ci and prod chains (same current v1), the server's
/// staged ci v2 (a copy of v1 with its changelog), and `change`.
pub fn factory_proposal(ci: &RootMetadata, prod: &RootMetadata, change: Change) -> Proposal {
    let mut staged = ci.clone();
    staged.set_version(ci.version().unwrap() + 1);
    staged.set_extension(
        "x-changelog",
        json!({"message": "rotate root key", "timestamp": format_expires(OffsetDateTime::now_utc())}),
    );
    staged.clear_signatures();
    Proposal {
        format: PROPOSAL_FORMAT.into(),
        dialect: Dialect::OtaTuf,
        target: Target::Factory {
            factory: "acme".into(),
            api: "https://api.foundries.io".into(),
        },
        txid: Some("tx-1".into()),
        created: format_expires(OffsetDateTime::now_utc()),
        chains: vec![
            Chain {
                name: "ci".into(),
                current: ci.envelope().clone(),
                staged: Some(staged.envelope().clone()),
                history: vec![HistoryEntry {
                    version: ci.version().unwrap(),
                    sha256: hex::encode(Sha256::digest(ci.to_bytes())),
                }],
            },
            Chain {
                name: "prod".into(),
                current: prod.envelope().clone(),
                staged: None,
                history: vec![],
            },
        ],
        change,
        polis_id: None,
        resign: None,
    }
}

pub fn rotate_change(ids: Vec<String>) -> Change {
    Change {
        rotate: Some(Rotate::Keys(ids)),
        expires: in_days(365),
        message: Some("yearly rotation".into()),
        ..Change::default()
    }
}

pub fn write_proposal(dir: &Path, name: &str, p: &Proposal) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, p.to_bytes()).unwrap();
    path
}

/// An Ed25519 or RSA-2048 key.
pub fn key(rsa: bool) -> PrivateKey {
    if rsa {
        PrivateKey::generate_rsa_for_tests(2048).unwrap()
    } else {
        PrivateKey::generate(NewKeyType::Ed25519).unwrap()
    }
}

/// Whether the canonical bytes are the form aktualizr computes (jsoncpp:
/// sorted keys, no spaces, `\n` etc. escaped, every non-ASCII as `\uXXXX`),
/// built here independently of the library.
pub fn aktualizr_canonical(v: &Value) -> Vec<u8> {
    fn s(out: &mut String, text: &str) {
        out.push('"');
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                    let mut buf = [0u16; 2];
                    for u in c.encode_utf16(&mut buf) {
                        out.push_str(&format!("\\u{u:04x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
    fn w(out: &mut String, v: &Value) {
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::String(t) => s(out, t),
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    w(out, x);
                }
                out.push(']');
            }
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    s(out, k);
                    out.push(':');
                    w(out, &m[*k]);
                }
                out.push('}');
            }
        }
    }
    let mut out = String::new();
    w(&mut out, v);
    out.into_bytes()
}

/// A Factory at v1 whose one root key (`first-root`) signed its ci root;
/// prod is the same root.
pub struct OtaFactory {
    /// The root key.
    pub root_key: PrivateKey,
    /// The online key of the other three roles.
    pub online: PublicKey,
    /// The ci (and prod) root, v1.
    pub ci: RootMetadata,
}

impl OtaFactory {
    /// An Ed25519 (or RSA-2048) root key, root expiring in 300 days.
    pub fn new(rsa: bool) -> OtaFactory {
        let root_key = key(rsa);
        let online = key(false).public_key();
        let mut ci = ota_root(1, &[root_key.public_key()], 1, &online, &in_days(300));
        sign_root(&mut ci, &[&root_key]);
        OtaFactory {
            root_key,
            online,
            ci,
        }
    }

    /// The key id of the root key in the root.
    pub fn root_key_id(&self) -> String {
        self.ci.find_key_id(&self.root_key.public_key()).unwrap()
    }

    /// A proposal to rotate the root key, for ci and prod.
    pub fn rotation(&self) -> Proposal {
        factory_proposal(&self.ci, &self.ci, rotate_change(vec![self.root_key_id()]))
    }

    /// Writes `dir/factory-keys.tgz`: the key pair as fioctl lays it out,
    /// plus `extra` files.
    pub fn write_tgz(&self, dir: &Path, extra: Vec<(String, Vec<u8>)>) {
        let mut files = ats_pair("first-root", &self.root_key);
        files.extend(extra);
        crate::files::write_fioctl_tgz(&dir.join("factory-keys.tgz"), &files);
    }

    /// Writes the tarball (with `extra`) and `pass.txt`, and imports them
    /// into `dir/keys.tgz.age` with `signer import`.
    #[track_caller]
    pub fn import(&self, dir: &Path, extra: Vec<(String, Vec<u8>)>) {
        self.write_tgz(dir, extra);
        crate::fixture::write_passphrase(dir);
        crate::cmd::ok(&crate::cmd::signer(dir, crate::fixture::IMPORT));
    }
}

/// An [`OtaFactory`] whose keys are imported into `dir/keys.tgz.age`
/// (passphrase file `dir/pass.txt`), and a proposal to rotate its root key
/// in `dir/proposal.json`.
#[track_caller]
pub fn imported_factory_with_proposal(dir: &Path, rsa: bool) -> OtaFactory {
    let f = OtaFactory::new(rsa);
    f.import(dir, Vec::new());
    write_proposal(dir, "proposal.json", &f.rotation());
    f
}
