//! An emulation of fioctl v0.46's `keys tuf` commands, written from
//! fioctl's public source (github.com/foundriesio/fioctl:
//! client/foundries_tuf_root.go, client/foundries.go,
//! subcommands/keys/tuf_*.go), so that tests can drive factory-sim as the
//! real fioctl does and alternate fioctl and tuf-ceremony on one Factory.
//!
//! It is deliberately apart from the `ceremony` crate: its own model of a
//! root ([`model`], Go's structs and `encoding/json`), its own tarballs
//! ([`creds`]), keys and signatures ([`crypto`]) and HTTP client
//! ([`http`]). Each command sends the requests fioctl sends (method, path,
//! query, headers, and bodies as fioctl's structs marshal) and returns what
//! fioctl prints, or [`Died`] with the text fioctl dies with.
//!
//! Not emulated: OAuth token refresh and TLS (the simulator speaks plain
//! HTTP on loopback), `review --raw/--diff`, the legacy `rotate-root` /
//! `rotate-targets` commands, `sign-prod-targets` and the `waves`
//! commands. A Go map's random iteration order is replaced by sorted order
//! (one of the orders Go may take).

pub mod creds;
pub mod crypto;
pub mod http;
pub mod model;
pub mod updates;
pub mod waves;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use time::OffsetDateTime;

use creds::{Creds, FindError};
use crypto::{Key, KeyType, Signer};
use http::{Api, Failure};
use model::{GoTime, KeyOwner, Signature, TufRoot};
use updates::{check_status, Updates};

/// What fioctl printed as it died: `ERROR: …` (and, in the one-step
/// rotation, the "last will" that follows it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Died(pub String);

impl fmt::Display for Died {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl fmt::Display for FindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

pub type Res<T> = Result<T, Died>;

/// `ErrMsgReadingTufKey`.
fn reading_key(role: &str, treat: &str) -> String {
    format!("Error reading {treat} TUF {role} private key from specified file:\n")
}

/// `json.Marshal`'s encoding of a value (members in the value's order, as
/// a Go struct or sorted map gives them; `<`, `>`, `&`, U+2028 and U+2029
/// escaped as Go escapes them for HTML safety).
pub fn go_marshal(v: &Value) -> Vec<u8> {
    fn s(out: &mut String, t: &str) {
        out.push('"');
        for c in t.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                }
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
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
                out.push('{');
                for (i, (k, x)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    s(out, k);
                    out.push(':');
                    w(out, x);
                }
                out.push('}');
            }
        }
    }
    let mut out = String::new();
    w(&mut out, v);
    out.into_bytes()
}

/// A Go `map[string]…` marshals with sorted keys.
fn sorted(pairs: Vec<(&str, Value)>) -> Value {
    let mut pairs = pairs;
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// `subcommands.MarshalIndent`: canonical JSON indented by two spaces.
pub fn marshal_indent(v: &Value) -> String {
    let canonical: Value =
        serde_json::from_slice(&model::canonical(v)).expect("canonical JSON parses");
    serde_json::to_string_pretty(&canonical).expect("a value prints")
}

/// `SliceRemove`.
fn slice_remove(list: &[String], item: &str) -> Vec<String> {
    list.iter().filter(|x| *x != item).cloned().collect()
}

/// `time.Now().AddDate(1, 0, 0).UTC().Round(time.Second)`.
fn in_one_year() -> GoTime {
    let now = OffsetDateTime::now_utc();
    let rounded = if now.nanosecond() >= 500_000_000 {
        now + time::Duration::seconds(1)
    } else {
        now
    };
    let rounded = rounded
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond");
    // Go normalises 29 February of a year without one to 1 March.
    let next = rounded
        .replace_year(rounded.year() + 1)
        .unwrap_or_else(|_| {
            rounded
                .replace_day(28)
                .and_then(|t| t.replace_year(rounded.year() + 1))
                .expect("28 February exists")
                + time::Duration::days(1)
        });
    GoTime(Some(next))
}

/// A fioctl user: one `Api` (server, token), one Factory, and everything
/// fioctl printed so far.
pub struct Fioctl {
    pub api: Api,
    pub factory: String,
    /// Everything printed on stdout, the `ERROR:` lines too.
    pub out: String,
    shortcut: bool,
    initialized: bool,
}

/// What `keys tuf updates init` got back.
#[derive(Debug)]
pub struct Init {
    pub txid: String,
}

/// Which offline role (`ParseTufRoleNameOffline`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offline {
    Root,
    Targets,
}

impl Offline {
    fn go(self) -> &'static str {
        match self {
            Offline::Root => "Root",
            Offline::Targets => "Targets",
        }
    }
}

impl Fioctl {
    pub fn new(server: &str, factory: &str, token: &str) -> Fioctl {
        Fioctl {
            api: Api::new(server, token),
            factory: factory.to_string(),
            out: String::new(),
            shortcut: false,
            initialized: false,
        }
    }

    /// The requests sent so far.
    pub fn sent(&self) -> Vec<http::Sent> {
        self.api.sent.borrow().clone()
    }

    fn println(&mut self, line: &str) {
        self.out.push_str(line);
        self.out.push('\n');
    }

    /// `subcommands.DieNotNil(err, parts...)`: `fmt.Println("ERROR:",
    /// parts..., err)` (operands joined by spaces), then the last wills.
    fn die(&mut self, parts: &[&str], err: &str) -> Died {
        let mut text = String::from("ERROR:");
        for p in parts.iter().copied().chain([err]) {
            text.push(' ');
            text.push_str(p);
        }
        text.push('\n');
        if self.shortcut {
            text.push_str(if self.initialized {
                "\nNo changes were made to your Factory.\nPlease, cancel the staged TUF root updates\nusing the \"fioctl keys tuf updates cancel\" command, and try again later.\n"
            } else {
                "\nNo changes were made to your Factory.\nPlease, fix an error above and try again.\n"
            });
        }
        self.out.push_str(&text);
        Died(text)
    }

    fn repo(&self) -> String {
        format!(
            "{}/ota/repo/{}/api/v1/user_repo",
            self.api.server, self.factory
        )
    }

    fn factories(&self) -> String {
        format!("{}/ota/factories/{}", self.api.server, self.factory)
    }

    // ------------------------------------------------------- API calls ----

    fn root_get(&self, prod: bool, version: u64) -> Result<TufRoot, Failure> {
        let mut url = format!("{}/", self.repo());
        if version > 0 {
            url.push_str(&format!("{version}."));
        }
        url.push_str("root.json");
        if prod {
            url.push_str("?production=1");
        }
        let body = self.api.get(&url)?;
        TufRoot::from_slice(&body).map_err(Failure::Network)
    }

    fn updates_get(&self) -> Result<Updates, Failure> {
        let body = self.api.get(&format!("{}/root/updates", self.repo()))?;
        Updates::decode(&body).map_err(Failure::Network)
    }

    /// `TufRootUpdatesPut`: the body exactly as fioctl's anonymous struct
    /// marshals (`txid`, `ci-root`, `prod-root`, then the omitempty
    /// signature maps).
    fn updates_put(
        &self,
        txid: &str,
        ci: &TufRoot,
        prod: &TufRoot,
        prod_sigs: &BTreeMap<String, Vec<Signature>>,
        wave_sigs: &BTreeMap<String, Vec<Signature>>,
    ) -> Result<(), Failure> {
        let mut m = Map::new();
        m.insert("txid".into(), Value::String(txid.into()));
        m.insert("ci-root".into(), ci.encode());
        m.insert("prod-root".into(), prod.encode());
        for (name, sigs) in [
            ("targets-signatures", prod_sigs),
            ("waves-signatures", wave_sigs),
        ] {
            if !sigs.is_empty() {
                let o: Map<String, Value> = sigs
                    .iter()
                    .map(|(k, s)| {
                        (
                            k.clone(),
                            Value::Array(s.iter().map(Signature::encode).collect()),
                        )
                    })
                    .collect();
                m.insert(name.into(), Value::Object(o));
            }
        }
        self.api
            .put(
                &format!("{}/root/updates", self.repo()),
                go_marshal(&Value::Object(m)),
            )
            .map(|_| ())
    }

    fn polis_id(&self) -> Result<String, Failure> {
        let body = self.api.get(&format!("{}/users/self/", self.factories()))?;
        let v: Value =
            serde_json::from_slice(&body).map_err(|e| Failure::Network(e.to_string()))?;
        Ok(v["polis-id"].as_str().unwrap_or("").to_string())
    }

    /// `ProdTargetsList` / `WaveTargetsList` with `failNotExist = false`:
    /// a 404 is no targets.
    fn targets_list(&self, kind: &str, param: &str) -> Result<BTreeMap<String, Value>, Failure> {
        let url = format!("{}/{kind}/?{param}=", self.factories());
        match self.api.get(&url) {
            Ok(body) => {
                let v: Value =
                    serde_json::from_slice(&body).map_err(|e| Failure::Network(e.to_string()))?;
                match v {
                    Value::Object(m) => Ok(m.into_iter().collect()),
                    Value::Null => Ok(BTreeMap::new()),
                    _ => Err(Failure::Network(
                        "json: cannot unmarshal into Go value of type map[string]client.AtsTufTargets".into(),
                    )),
                }
            }
            Err(f) if f.status() == Some(404) => Ok(BTreeMap::new()),
            Err(f) => Err(f),
        }
    }

    // ---------------------------------------------------- the commands ----

    /// `fioctl keys tuf show-root [--prod]`: the root as fioctl prints it.
    pub fn show_root(&mut self, prod: bool) -> Res<String> {
        let root = match self.root_get(prod, 0) {
            Ok(r) => r,
            Err(e) => return Err(self.die(&[], &e.text())),
        };
        let text = marshal_indent(&root.encode());
        self.println(&text);
        Ok(text)
    }

    /// `fioctl keys tuf download-roots [--prod] DST`: `N.root.json` for
    /// N = 1, 2, … until a 404, each the canonical form of the decoded
    /// root, into a tarball at `dst`. Returns the entries.
    pub fn download_roots(&mut self, prod: bool, dst: &Path) -> Res<Vec<(String, Vec<u8>)>> {
        let mut entries = Vec::new();
        for ver in 1.. {
            let root = match self.root_get(prod, ver) {
                Ok(r) => r,
                Err(f) if f.status() == Some(404) => break,
                Err(f) => return Err(self.die(&[], &f.text())),
            };
            let bytes = model::canonical(&root.encode());
            self.println(&format!("= Adding {ver}.root.json"));
            entries.push((format!("{ver}.root.json"), bytes));
        }
        let creds: Creds = entries.iter().cloned().collect();
        if let Err(e) = creds::save(dst, &creds) {
            return Err(self.die(&[], &e));
        }
        Ok(entries)
    }

    /// `fioctl keys tuf updates init -m CHANGELOG [--first-time -k FILE]`.
    pub fn updates_init(&mut self, changelog: &str, first_time: Option<&Path>) -> Res<Init> {
        if let Some(keys) = first_time {
            if keys.exists() {
                return Err(self.die(
                    &[],
                    "Destination file exists.\nPlease make sure you aren't accidentally overwriting another Factory's keys",
                ));
            }
        }
        let body = sorted(vec![
            ("message", Value::String(changelog.into())),
            ("first-time", Value::Bool(first_time.is_some())),
            ("shortcut", Value::Bool(self.shortcut)),
        ]);
        let url = format!("{}/root/updates", self.repo());
        let answer = match self.api.post(&url, Some(go_marshal(&body))) {
            Ok(a) => a,
            Err(Failure::Http(mut h)) => {
                if h.status == 409 {
                    h.message += "\n=Only one TUF root updates transaction can be active at a time";
                }
                return Err(self.die(&[], &h.message));
            }
            Err(f) => return Err(self.die(&[], &f.text())),
        };
        let v: Value = match serde_json::from_slice(&answer) {
            Ok(v) => v,
            Err(e) => return Err(self.die(&[], &e.to_string())),
        };
        let txid = v["txid"].as_str().unwrap_or("").to_string();
        self.initialized = true;
        if !self.shortcut {
            self.println(&format!(
                "A new transaction to update TUF root keys started.\nYour transaction ID is {txid} .\n\
                 Please, keep it secret and only share with participants of the transaction.\n\
                 Only the user who initiated the transaction can make changes to it without the transaction ID.\n\
                 Other users are required to supply this transaction ID for all commands except review and cancel."
            ));
        }
        if let Some(keys) = first_time {
            // `json.RawMessage`: the member's JSON text as the server sent
            // it (nothing when the member is missing: an empty file). The
            // simulator answers compactly, so re-serialising gives the same
            // bytes.
            let raw = |k: &str| match v.get(k) {
                Some(x) => serde_json::to_vec(x).unwrap_or_default(),
                None => Vec::new(),
            };
            let mut c = Creds::new();
            c.insert("tufrepo/keys/first-root.sec".into(), raw("first_root.sec"));
            c.insert("tufrepo/keys/first-root.pub".into(), raw("first_root.pub"));
            if let Err(e) = creds::save(keys, &c) {
                return Err(self.die(&[], &e));
            }
        }
        Ok(Init { txid })
    }

    /// `fioctl keys tuf updates review`: what it prints.
    pub fn updates_review(&mut self) -> Res<String> {
        let start = self.out.len();
        let u = match self.updates_get() {
            Ok(u) => u,
            Err(e) => return Err(self.die(&[], &e.text())),
        };
        if let Err((ctx, e)) = check_status(&u, false) {
            return Err(self.die(
                &[ctx.as_str()]
                    .into_iter()
                    .filter(|c| !c.is_empty())
                    .collect::<Vec<_>>(),
                &e,
            ));
        }
        if u.status == "NONE" {
            self.println("There are no TUF root updates in progress.");
            if !u.warnings.is_empty() {
                self.println("\nThese updates to your existing TUF metadata are recommended:");
                for w in u.warnings.clone() {
                    self.println(&format!(" - {}", w.message));
                }
            }
        } else {
            self.println("The following TUF root updates are staged for your Factory:");
            for a in u.amendments.clone() {
                self.println(&format!(" - {}", a.message));
            }
            if !u.errors.is_empty() {
                self.println(
                    "\nThese updates to your staged TUF root are mandatory before applying it:",
                );
                for a in u.errors.clone() {
                    self.println(&format!(" - {}", a.message));
                }
            }
            if !u.warnings.is_empty() {
                self.println("\nThese updates to your staged TUF root are recommended:");
                for a in u.warnings.clone() {
                    self.println(&format!(" - {}", a.message));
                }
            }
            if u.status == "APPLYING" {
                self.println("\nThese changes are currently being applied. No more changes can be staged.\nIf the previous 'fioctl keys tuf updates apply' command failed, please, try to run it again.");
            } else {
                self.println("\nOnce your are satisfied with your TUF updates, please, run 'fioctl keys tuf updates apply'.\nIf you want to cancel staged TUF updates, please, run 'fioctl keys tuf updates cancel'.");
            }
        }
        Ok(self.out[start..].to_string())
    }

    /// Reads the transaction for a change (`checkTufRootUpdatesStatus(u,
    /// true)`): the updates, the current CI root, the staged CI root and
    /// the staged production root (if any).
    fn staged(&mut self) -> Res<(Updates, TufRoot, TufRoot, Option<TufRoot>)> {
        let u = match self.updates_get() {
            Ok(u) => u,
            Err(e) => return Err(self.die(&[], &e.text())),
        };
        self.staged_from(u)
    }

    fn staged_from(&mut self, u: Updates) -> Res<(Updates, TufRoot, TufRoot, Option<TufRoot>)> {
        match check_status(&u, true) {
            Ok(s) => {
                let new_ci = s
                    .new_ci
                    .expect("check_status refuses a missing staged CI root");
                Ok((u, s.current_ci, new_ci, s.new_prod))
            }
            Err((ctx, e)) => {
                let parts: Vec<&str> = [ctx.as_str()]
                    .into_iter()
                    .filter(|c| !c.is_empty())
                    .collect();
                Err(self.die(&parts, &e))
            }
        }
    }

    fn read_creds(&mut self, path: &Path) -> Res<Creds> {
        creds::read(path).map_err(|e| self.die(&[], &e))
    }

    /// `genProdTufRoot`: a deep copy (marshal, unmarshal) with the targets
    /// threshold 2.
    fn gen_prod(&mut self, ci: &TufRoot) -> Res<TufRoot> {
        let mut prod = TufRoot::decode(&ci.encode()).map_err(|e| self.die(&[], &e))?;
        prod.signed
            .role_mut("targets")
            .map_err(|e| self.die(&[], &e))?
            .threshold = 2;
        Ok(prod)
    }

    /// `removeUnusedTufKeys`.
    fn remove_unused_keys(&mut self, root: &mut TufRoot) {
        let in_use: Vec<String> = root
            .signed
            .roles
            .iter()
            .flatten()
            .flat_map(|(_, r)| {
                r.as_ref()
                    .and_then(|r| r.key_ids.clone())
                    .unwrap_or_default()
            })
            .collect();
        let unused: Vec<String> = root
            .signed
            .keys
            .iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .filter(|k| !in_use.contains(k))
            .collect();
        for k in unused {
            self.println(&format!("= Removing unused key: {k}"));
            if let Some(keys) = root.signed.keys.as_mut() {
                keys.remove(&k);
            }
            if let Some(owners) = root.signed.key_owners.as_mut() {
                owners.remove(&k);
            }
        }
    }

    /// `finalizeTufRootChanges`.
    fn finalize(&mut self, mut ci: TufRoot, prod: Option<TufRoot>) -> Res<(TufRoot, TufRoot)> {
        ci.signatures = Some(Vec::new());
        self.remove_unused_keys(&mut ci);
        let mut new_prod = self.gen_prod(&ci)?;
        if let Some(p) = prod {
            let mut p = p;
            let t = p
                .signed
                .role_mut("targets")
                .map_err(|e| self.die(&[], &e))?
                .threshold;
            new_prod
                .signed
                .role_mut("targets")
                .map_err(|e| self.die(&[], &e))?
                .threshold = t;
        }
        Ok((ci, new_prod))
    }

    /// `addOfflineTufKey`: the new pair into `creds` as
    /// `tufrepo/keys/fioctl-ROLE-ID.{pub,sec}`, the key into the root with
    /// its owner (the caller's polis-id, now to the second).
    fn add_offline_tuf_key(
        &mut self,
        root: &mut TufRoot,
        role: &str,
        key: &Key,
        old_ids: Vec<String>,
        creds: &mut Creds,
    ) -> Res<()> {
        let id = key.key_id();
        let (private, public) = key.ats_pair();
        let base = format!("tufrepo/keys/fioctl-{role}-{id}");
        creds.insert(format!("{base}.pub"), go_marshal(&public.encode()));
        creds.insert(format!("{base}.sec"), go_marshal(&private.encode()));
        root.signed
            .keys
            .get_or_insert_with(BTreeMap::new)
            .insert(id.clone(), public);
        let mut ids = old_ids;
        ids.push(id.clone());
        root.signed
            .role_mut(role)
            .map_err(|e| self.die(&[], &e))?
            .key_ids = Some(ids);
        let polis = self.polis_id().map_err(|e| self.die(&[], &e.text()))?;
        let now = OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .expect("0 ns is valid");
        root.signed
            .key_owners
            .get_or_insert_with(BTreeMap::new)
            .insert(
                id,
                KeyOwner {
                    polis_id: polis,
                    created_at: GoTime(Some(now)),
                },
            );
        Ok(())
    }

    /// `signTufRoot`: new signatures first, then the old ones of other keys.
    fn sign_root(root: &mut TufRoot, signers: &[&Signer]) {
        let mut sigs = crypto::sign_meta(&root.signed_bytes(), signers);
        for old in root.signatures.clone().unwrap_or_default() {
            if !sigs.iter().any(|s| s.key_id == old.key_id) {
                sigs.push(old);
            }
        }
        root.signatures = Some(sigs);
    }

    /// `signNewTufRoot`: the keys of `creds` for the new and the current
    /// root role (one each at most), over both staged roots.
    fn sign_new(
        &mut self,
        cur: &TufRoot,
        ci: &mut TufRoot,
        prod: &mut TufRoot,
        creds: &Creds,
    ) -> Res<()> {
        let mut signers: Vec<Signer> = Vec::new();
        let new = creds::find_one(ci, creds, &ci.signed.role_ids("root"));
        let new_id = match &new {
            Ok(s) => Some(s.id.clone()),
            Err(_) => None,
        };
        let new_err = match new {
            Ok(s) => {
                signers.push(s);
                None
            }
            Err(FindError::NoKey(e)) => Some(e),
            Err(FindError::Other(e)) => return Err(self.die(&[&reading_key("Root", "new")], &e)),
        };
        let old = creds::find_one(cur, creds, &cur.signed.role_ids("root"));
        let old_err = match old {
            Ok(s) => {
                if signers.is_empty() || Some(&s.id) != new_id.as_ref() {
                    signers.push(s);
                }
                None
            }
            Err(FindError::NoKey(e)) => Some(e),
            Err(FindError::Other(e)) => {
                return Err(self.die(&[&reading_key("Root", "current")], &e))
            }
        };
        if signers.is_empty() {
            let (o, n) = (old_err.unwrap_or_default(), new_err.unwrap_or_default());
            return Err(if o == n {
                self.die(&[&reading_key("Root", "current")], &o)
            } else {
                self.die(
                    &[],
                    &format!("{} {o}\n {n}", reading_key("Root", "current and new")),
                )
            });
        }
        self.println("= Signing new TUF root");
        let refs: Vec<&Signer> = signers.iter().collect();
        Self::sign_root(ci, &refs);
        Self::sign_root(prod, &refs);
        Ok(())
    }

    /// `saveTempTufCreds` + PUT + `handleTufRootUpdatesUpload`.
    #[allow(clippy::too_many_arguments)]
    fn upload_with_creds(
        &mut self,
        keys: &Path,
        creds: &Creds,
        txid: &str,
        ci: &TufRoot,
        prod: &TufRoot,
        prod_sigs: &BTreeMap<String, Vec<Signature>>,
        wave_sigs: &BTreeMap<String, Vec<Signature>>,
    ) -> Res<()> {
        self.println("= Uploading new TUF root");
        let tmp = PathBuf::from(format!("{}.tmp", keys.display()));
        if tmp.exists() {
            return Err(self.die(
                &[],
                &format!(
                    "Backup file exists: {}\nThis file may be from a previous failed key rotation and include critical data.\nPlease move this file somewhere safe before re-running this command.",
                    tmp.display()
                ),
            ));
        }
        creds::save(&tmp, creds).map_err(|e| self.die(&[], &e))?;
        if let Err(e) = self.updates_put(txid, ci, prod, prod_sigs, wave_sigs) {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.die(&[], &e.text()));
        }
        if let Err(e) = std::fs::rename(&tmp, keys) {
            self.println(&format!("\nERROR: Unable to update offline keys file. {e}"));
        }
        Ok(())
    }

    fn upload(&mut self, txid: &str, ci: &TufRoot, prod: &TufRoot) -> Res<()> {
        self.println("= Uploading new TUF root");
        let none = BTreeMap::new();
        self.updates_put(txid, ci, prod, &none, &none)
            .map_err(|e| self.die(&[], &e.text()))
    }

    /// `fioctl keys tuf updates rotate-offline-key --role=root -k KEYS
    /// [--txid] [-y TYPE] [--sign]`: returns the new root key id.
    pub fn rotate_offline_root(
        &mut self,
        txid: &str,
        keys: &Path,
        key_type: KeyType,
        sign: bool,
    ) -> Res<String> {
        let mut creds = self.read_creds(keys)?;
        let (_, cur, mut ci, prod) = self.staged()?;
        let old_ids = ci.signed.role_ids("root");
        let old = creds::find_one(&ci, &creds, &old_ids)
            .map_err(|e| self.die(&[&reading_key("Root", "current")], e.text()))?;
        let old_ids = slice_remove(&old_ids, &old.id);
        let key = Key::generate(key_type);
        let id = key.key_id();
        self.add_offline_tuf_key(&mut ci, "root", &key, old_ids, &mut creds)?;
        ci.signed.expires = in_one_year();
        self.println(&format!("= New root keyid: {id}"));
        let (mut ci, mut prod) = self.finalize(ci, prod)?;
        if sign {
            self.sign_new(&cur, &mut ci, &mut prod, &creds)?;
        }
        let none = BTreeMap::new();
        self.upload_with_creds(keys, &creds, txid, &ci, &prod, &none, &none)?;
        Ok(id)
    }

    /// `fioctl keys tuf rotate-offline-key --role=root --keys=KEYS
    /// [--first-time] [-m CHANGELOG]`: init (shortcut), rotate and sign
    /// (no txid), apply (no txid). Returns the new root key id.
    pub fn rotate_root_one_step(
        &mut self,
        keys: &Path,
        first_time: bool,
        changelog: Option<&str>,
    ) -> Res<String> {
        self.shortcut = true;
        self.initialized = false;
        let changelog = changelog
            .unwrap_or("Rotate TUF root offline signing key")
            .to_string();
        self.println("= Creating new TUF updates transaction");
        self.updates_init(&changelog, first_time.then_some(keys))?;
        let id = self.rotate_offline_root("", keys, KeyType::Ed25519, true)?;
        self.println("= Applying staged TUF root changes");
        self.updates_apply("")?;
        Ok(id)
    }

    /// `fioctl keys tuf updates add-offline-key --role=root -k KEYS`.
    pub fn add_offline_root_key(
        &mut self,
        txid: &str,
        keys: &Path,
        key_type: KeyType,
    ) -> Res<String> {
        let mut creds = if keys.exists() {
            self.read_creds(keys)?
        } else {
            let c = Creds::new();
            creds::save(keys, &c).map_err(|e| self.die(&[], &e))?;
            c
        };
        let (_, _, mut ci, prod) = self.staged()?;
        let old_ids = ci.signed.role_ids("root");
        creds::check_none(&ci, &creds, &old_ids).map_err(|e| self.die(&[], &e))?;
        let key = Key::generate(key_type);
        let id = key.key_id();
        self.add_offline_tuf_key(&mut ci, "root", &key, old_ids, &mut creds)?;
        self.println(&format!("= New root keyid: {id}"));
        let (ci, prod) = self.finalize(ci, prod)?;
        let none = BTreeMap::new();
        self.upload_with_creds(keys, &creds, txid, &ci, &prod, &none, &none)?;
        Ok(id)
    }

    /// `fioctl keys tuf updates delete-offline-key --role=root
    /// (-k KEYS | --key-id ID)`.
    pub fn delete_offline_root_key(
        &mut self,
        txid: &str,
        keys: Option<&Path>,
        key_id: Option<&str>,
    ) -> Res<String> {
        let creds =
            match keys {
                Some(k) => self.read_creds(k)?,
                None if key_id.is_none() => return Err(self.die(
                    &[],
                    "Either --keys or --key-id option is required to delete the offline TUF key.",
                )),
                None => Creds::new(),
            };
        let (_, _, mut ci, prod) = self.staged()?;
        let valid = ci.signed.role_ids("root");
        self.println(&format!("= Delete keyid: {}", key_id.unwrap_or("")));
        let id = match key_id {
            None => {
                creds::find_one(&ci, &creds, &valid)
                    .map_err(|e| self.die(&[&reading_key("Root", "current")], e.text()))?
                    .id
            }
            Some(id) if !valid.iter().any(|v| v == id) => {
                return Err(self.die(
                    &[],
                    &format!(
                        "Key ID {id} not found in TUF Root role keys: {}",
                        creds::go_list(&valid)
                    ),
                ))
            }
            Some(id) => id.to_string(),
        };
        ci.signed
            .role_mut("root")
            .map_err(|e| self.die(&[], &e))?
            .key_ids = Some(slice_remove(&valid, &id));
        let (ci, prod) = self.finalize(ci, prod)?;
        self.upload(txid, &ci, &prod)?;
        Ok(id)
    }

    /// `fioctl keys tuf updates set-threshold --role=ROLE N [--sign -k KEYS]`.
    pub fn set_threshold(
        &mut self,
        role: Offline,
        n: i64,
        txid: &str,
        sign_with: Option<&Path>,
    ) -> Res<()> {
        let min = match role {
            Offline::Root => 1,
            Offline::Targets => 2,
        };
        if n < min {
            return Err(self.die(
                &[],
                &format!(
                    "Threshold for TUF {} must be greater than {min}: {n}",
                    role.go()
                ),
            ));
        }
        let (_, cur, mut ci, mut prod) = self.staged()?;
        match role {
            Offline::Root => {
                ci.signed
                    .role_mut("root")
                    .map_err(|e| self.die(&[], &e))?
                    .threshold = n
            }
            Offline::Targets => {
                let mut p = match prod.take() {
                    Some(p) => p,
                    None => self.gen_prod(&ci)?,
                };
                p.signed
                    .role_mut("targets")
                    .map_err(|e| self.die(&[], &e))?
                    .threshold = n;
                prod = Some(p);
            }
        }
        let (mut ci, mut prod) = self.finalize(ci, prod)?;
        if let Some(keys) = sign_with {
            let creds = self.read_creds(keys)?;
            self.sign_new(&cur, &mut ci, &mut prod, &creds)?;
        }
        self.upload(txid, &ci, &prod)
    }

    /// `fioctl keys tuf updates rotate-online-key --role=R[,R…] [-y TYPE]
    /// [--sign -k KEYS]`: the new online key ids, role → id.
    pub fn rotate_online_key(
        &mut self,
        roles: &[&str],
        txid: &str,
        key_type: KeyType,
        sign_with: Option<&Path>,
    ) -> Res<BTreeMap<String, String>> {
        let mut names = Vec::new();
        for r in roles {
            match r.to_ascii_lowercase().as_str() {
                n @ ("targets" | "snapshot" | "timestamp") => names.push(n.to_string()),
                _ => return Err(self.die(&[], &format!("Unsupported role type: {r}"))),
            }
        }
        let u = self.updates_get().map_err(|e| self.die(&[], &e.text()))?;
        self.staged_from(u)?;
        self.println("= Generating new online TUF keys");
        let mut body = vec![
            ("txid", Value::String(txid.into())),
            ("key-type", Value::String(key_type.name().into())),
        ];
        for n in &names {
            body.push((n.as_str(), Value::Bool(true)));
        }
        let url = format!("{}/root/updates/gen-online-keys", self.repo());
        self.api
            .post(&url, Some(go_marshal(&sorted(body))))
            .map_err(|e| self.die(&[], &e.text()))?;
        let u = self
            .updates_get()
            .map_err(|e| self.die(&["Failed to fetch new online TUF keys"], &e.text()))?;
        let mut out = BTreeMap::new();
        for r in ["targets", "snapshot", "timestamp"] {
            if names.iter().any(|n| n == r) {
                let id = u.updated_online(r);
                self.println(&format!("= New online {r} keyid: {id}"));
                out.insert(r.to_string(), id);
            }
        }
        if let Some(keys) = sign_with {
            let creds = self.read_creds(keys)?;
            let (_, cur, ci, prod) = self.staged_from(u)?;
            let (mut ci, mut prod) = self.finalize(ci, prod)?;
            self.sign_new(&cur, &mut ci, &mut prod, &creds)?;
            self.upload(txid, &ci, &prod)?;
        }
        Ok(out)
    }

    /// `fioctl keys tuf updates rotate-offline-key --role=targets -k KEYS
    /// [-K TARGETS_KEYS] [--sign]`: a new offline targets key beside the
    /// online one, the production and wave targets re-signed by it (those
    /// the replaced offline key signed), PUT with the roots. Returns the
    /// new key id and the names of the targets re-signed.
    pub fn rotate_offline_targets(
        &mut self,
        txid: &str,
        keys: Option<&Path>,
        targets_keys: Option<&Path>,
        sign: bool,
    ) -> Res<(String, Vec<String>)> {
        let Some(tk) = targets_keys.or(keys).map(Path::to_path_buf) else {
            return Err(self.die(&[], "The --keys or --targets-keys option is required to rotate the offline TUF Targets key."));
        };
        if sign && keys.is_none() {
            return Err(self.die(
                &[],
                "The --keys option is required to sign the new TUF root.",
            ));
        }
        let mut tcreds = if tk.exists() {
            self.read_creds(&tk)?
        } else {
            let c = Creds::new();
            creds::save(&tk, &c).map_err(|e| self.die(&[], &e))?;
            c
        };
        let root_creds = match keys {
            Some(k) if sign && k == tk.as_path() => Some(tcreds.clone()),
            Some(k) if sign => Some(self.read_creds(k)?),
            _ => None,
        };
        let (u, cur, mut ci, prod) = self.staged()?;
        let online = u.updated_online("targets");
        if online.is_empty() {
            return Err(self.die(&[], "Unable to find online Target key for Factory"));
        }
        let mut old_ids = ci.signed.role_ids("targets");
        if old_ids.len() > 1 {
            let old = creds::find_one(&ci, &tcreds, &slice_remove(&old_ids, &online))
                .map_err(|e| self.die(&[&reading_key("Targets", "current")], e.text()))?;
            old_ids = slice_remove(&old_ids, &old.id);
        }
        let key = Key::generate(KeyType::Ed25519);
        let id = key.key_id();
        self.add_offline_tuf_key(&mut ci, "targets", &key, old_ids, &mut tcreds)?;
        self.println(&format!("= New Target keyid: {id}"));
        let (mut ci, mut prod) = self.finalize(ci, prod)?;
        self.println("= Re-signing prod Targets");
        let cur_ids = cur.signed.role_ids("targets");
        let oldest = if cur_ids.len() > 1 {
            creds::find_one(&cur, &tcreds, &slice_remove(&cur_ids, &online))
                .map_err(|e| self.die(&[&reading_key("Targets", "current")], e.text()))?
                .id
        } else {
            String::new()
        };
        let signer = Signer {
            id: id.clone(),
            key,
        };
        let mut resigned = Vec::new();
        let mut sigs = [BTreeMap::new(), BTreeMap::new()];
        for (i, (kind, param, what)) in [
            ("prod-targets", "tag", "Failed to fetch production Targets:"),
            (
                "wave-targets",
                "name",
                "Failed to fetch production Wave Targets:",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let list = self
                .targets_list(kind, param)
                .map_err(|e| self.die(&[what], &e.text()))?;
            for (name, t) in list {
                // `excludeTargetsWithoutKeySigInplace`: only those the
                // replaced offline key signed.
                let signed_by_oldest = t["signatures"].as_array().is_some_and(|s| {
                    s.iter()
                        .any(|s| s["keyid"].as_str() == Some(oldest.as_str()))
                });
                if !signed_by_oldest {
                    continue;
                }
                let bytes = targets_signed_bytes(&t["signed"]).map_err(|e| {
                    self.die(
                        &[],
                        &format!("Failed to marshal Targets for tag {name}: {e}"),
                    )
                })?;
                sigs[i].insert(name.clone(), crypto::sign_meta(&bytes, &[&signer]));
                resigned.push(name);
            }
        }
        if let Some(c) = root_creds {
            self.sign_new(&cur, &mut ci, &mut prod, &c)?;
        }
        let [p, w] = sigs;
        self.upload_with_creds(&tk, &tcreds, txid, &ci, &prod, &p, &w)?;
        Ok((id, resigned))
    }

    /// `fioctl keys tuf updates sign -k KEYS [--txid]`: adds this holder's
    /// signatures to the staged roots, keeping the others'.
    pub fn updates_sign(&mut self, txid: &str, keys: &Path) -> Res<()> {
        let creds = self.read_creds(keys)?;
        let (_, cur, mut ci, prod) = self.staged()?;
        let mut prod = match prod {
            Some(p) => p,
            None => self.gen_prod(&ci)?,
        };
        self.sign_new(&cur, &mut ci, &mut prod, &creds)?;
        self.upload(txid, &ci, &prod)
    }

    /// `fioctl keys tuf updates apply [--txid]`.
    pub fn updates_apply(&mut self, txid: &str) -> Res<()> {
        self.shortcut = false;
        let body = sorted(vec![("txid", Value::String(txid.into()))]);
        let url = format!("{}/root/updates/apply", self.repo());
        if let Err(e) = self.api.post(&url, Some(go_marshal(&body))) {
            let status = e.status();
            if status == Some(404) {
                if let Ok(u) = self.updates_get() {
                    if u.status == "NONE" {
                        return Err(self.die(&[], "There are no TUF root updates in progress."));
                    }
                }
            }
            let mut msg = format!("Failed to apply staged TUF root updates:\n{}\n", e.text());
            if status.is_some_and(|s| [400, 401, 403, 422, 423].contains(&s)) {
                msg.push_str("No changes were made to your Factory.\nThere are two options available for you now:\n- fix the errors listed above and run the \"fioctl keys tuf updates apply\" again.\n- cancel the staged TUF root updates using the \"fioctl keys tuf updates cancel\"");
            } else {
                msg.push_str("\nThis is a critical error: Staged TUF root updates may be only partially applied to your Factory.\nPlease re-run the \"fioctl keys tuf updates apply\" soon after a short pause.\nIf the error persists, please contact customer support.");
            }
            return Err(self.die(&[], &msg));
        }
        self.println("The staged TUF root updates were applied to your Factory.\nPlease, make sure that the updated TUF keys file(s) are stored in a safe place.");
        Ok(())
    }

    /// `fioctl keys tuf updates cancel`.
    pub fn updates_cancel(&mut self) -> Res<()> {
        let url = format!("{}/root/updates/cancel", self.repo());
        self.api
            .post(&url, None)
            .map_err(|e| self.die(&[], &e.text()))?;
        self.println("The staged TUF root updates were canceled.\nNo other changes were made to your Factory.");
        Ok(())
    }
}

/// The bytes `signProdTargets` signs: `MarshalCanonical` of the targets'
/// `signed` as fioctl's `AtsTargetsMeta` holds it (`_type`, `expires` as a
/// Go time, `version`, and `targets` of `length`, `hashes` (bytes, so
/// base64 text in and out) and `custom`; other members dropped).
pub fn targets_signed_bytes(signed: &Value) -> Result<Vec<u8>, String> {
    let mut m = Map::new();
    m.insert(
        "_type".into(),
        Value::String(signed["_type"].as_str().unwrap_or("").into()),
    );
    let expires = match signed["expires"].as_str() {
        Some(s) => GoTime::parse(s)?,
        None => GoTime::default(),
    };
    m.insert("expires".into(), Value::String(expires.to_text()));
    m.insert(
        "version".into(),
        Value::from(signed["version"].as_i64().unwrap_or(0)),
    );
    let mut targets = Map::new();
    for (name, t) in signed["targets"].as_object().into_iter().flatten() {
        let mut f = Map::new();
        f.insert(
            "length".into(),
            Value::from(t["length"].as_i64().unwrap_or(0)),
        );
        f.insert(
            "hashes".into(),
            t.get("hashes").cloned().unwrap_or(Value::Null),
        );
        if let Some(c) = t.get("custom").filter(|c| !c.is_null()) {
            f.insert("custom".into(), c.clone());
        }
        targets.insert(name.clone(), Value::Object(f));
    }
    m.insert("targets".into(), Value::Object(targets));
    Ok(model::canonical(&Value::Object(m)))
}
