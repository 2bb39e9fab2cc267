//! What every red-team case shares: the honest bases it starts from (made
//! once per test process by the binaries), running `signer sign` on a pty
//! answering "yes" to every question, and the verdict.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ceremony::keys::{PrivateKey, PublicKey};
use ceremony::{Dialect, RootMetadata};
use ceremony_tests::files::write_fioctl_tgz;
use ceremony_tests::ota::{ats_pair, factory_proposal, in_days, key, rotate_change};
use ceremony_tests::prelude::*;
use ceremony_tests::pty::{converse, Dialogue};
use serde_json::{json, Value};

use super::oracle;

/// A TUF repository after one honest ceremony (made by the binaries):
/// `keys.tgz.age` (no anchor, the v1 root key), `proposal.json` (rotate
/// v1), `new.tgz.age` (anchored at v2), `p2.json` (rotate v2, current v2),
/// `repo/metadata` at v2.
pub struct TufBase {
    pub ceremony: Ceremony,
}

pub fn tuf() -> &'static TufBase {
    static BASE: OnceLock<TufBase> = OnceLock::new();
    BASE.get_or_init(|| {
        let c = Ceremony::new();
        c.upload_and_propose_again("p2.json");
        TufBase { ceremony: c }
    })
}

impl TufBase {
    pub fn path(&self) -> &Path {
        self.ceremony.path()
    }
    pub fn json(&self, name: &str) -> Value {
        self.ceremony.json(name)
    }
    /// A case folder with `files` of the base copied in, and `pass.txt`.
    pub fn case(&self, files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            std::fs::copy(self.path().join(f), dir.path().join(as_case_name(f))).unwrap();
        }
        write_passphrase(dir.path());
        dir
    }
    /// Re-signs a (modified) TUF root envelope with the v1 root key, as a
    /// root published by the repository would be.
    pub fn resign_v1(&self, env: &Value) -> Value {
        resign(env, Dialect::Tuf, &[&self.ceremony.root_key])
    }
}

/// `env` with its signatures replaced by `keys`' (found by public key).
pub fn resign(env: &Value, d: Dialect, keys: &[&PrivateKey]) -> Value {
    let mut r = RootMetadata::from_value(env.clone(), d).expect("a root");
    r.clear_signatures();
    for k in keys {
        if let Some(id) = r.find_key_id(&k.public_key()) {
            r.sign(&id, k).expect("sign");
        }
    }
    r.envelope().clone()
}

/// A Factory at v1 whose roles have distinct online keys, with a second
/// holder's root key beside ours (root threshold 1 of 2); our root key is
/// imported into `keys.tgz.age`.
pub struct FactoryBase {
    pub dir: tempfile::TempDir,
    pub root_key: PrivateKey,
    pub other_root: PublicKey,
    pub online: Vec<(String, PublicKey)>,
    pub ci: RootMetadata,
    /// After one honest ceremony: `new.tgz.age` anchored at ci/prod v2,
    /// and `p2.json` rotating the new key from v2.
    pub anchored: Value,
}

pub fn factory() -> &'static FactoryBase {
    static BASE: OnceLock<FactoryBase> = OnceLock::new();
    BASE.get_or_init(|| {
        let d = Dialect::OtaTuf;
        let root_key = key(false);
        let other_root = key(false).public_key();
        let online: Vec<(String, PublicKey)> = ["snapshot", "targets", "timestamp"]
            .iter()
            .map(|r| (r.to_string(), key(false).public_key()))
            .collect();
        let mut keys = serde_json::Map::new();
        for k in [&root_key.public_key(), &other_root]
            .into_iter()
            .chain(online.iter().map(|(_, k)| k))
        {
            keys.insert(k.key_id(d), k.to_key_object(d));
        }
        let mut roles = serde_json::Map::new();
        roles.insert(
            "root".into(),
            json!({"keyids": [root_key.public_key().key_id(d), other_root.key_id(d)], "threshold": 1}),
        );
        for (r, k) in &online {
            roles.insert(r.clone(), json!({"keyids": [k.key_id(d)], "threshold": 1}));
        }
        let env = json!({"signatures": [], "signed": {
            "_type": "Root", "consistent_snapshot": false, "expires": in_days(300),
            "keys": keys, "roles": roles, "version": 1}});
        let ci = RootMetadata::from_value(resign(&env, d, &[&root_key]), d).unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_fioctl_tgz(
            &dir.path().join("factory-keys.tgz"),
            &ats_pair("first-root", &root_key),
        );
        write_passphrase(dir.path());
        ok(&signer(dir.path(), IMPORT));
        let base = FactoryBase {
            dir,
            root_key,
            other_root,
            online,
            ci,
            anchored: Value::Null,
        };
        let p = base.proposal();
        std::fs::write(base.dir.path().join("proposal.json"), pretty(&p)).unwrap();
        ok(&signer(base.dir.path(), SignArgs::new()));
        let bundle: Value =
            serde_json::from_slice(&std::fs::read(base.dir.path().join("bundle.json")).unwrap())
                .unwrap();
        let root_of = |name: &str| {
            let env = bundle["roots"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == name)
                .unwrap()["root"]
                .clone();
            RootMetadata::from_value(env, d).unwrap()
        };
        let (ci2, prod2) = (root_of("ci"), root_of("prod"));
        let new_id = bundle["new_keys"][0]["keyid"].as_str().unwrap().to_string();
        let p2 = factory_proposal(&ci2, &prod2, rotate_change(vec![new_id]));
        let p2: Value = serde_json::from_slice(&p2.to_bytes()).unwrap();
        std::fs::write(base.dir.path().join("p2.json"), pretty(&p2)).unwrap();
        FactoryBase {
            anchored: p2,
            ..base
        }
    })
}

impl FactoryBase {
    /// The honest v1 rotation of our root key, as JSON.
    pub fn proposal(&self) -> Value {
        let id = self.ci.find_key_id(&self.root_key.public_key()).unwrap();
        let p = factory_proposal(&self.ci, &self.ci, rotate_change(vec![id]));
        serde_json::from_slice(&p.to_bytes()).unwrap()
    }
    /// The key id of an online role's key.
    pub fn role_key_id(&self, role: &str) -> String {
        let k = &self.online.iter().find(|(r, _)| r == role).unwrap().1;
        k.key_id(Dialect::OtaTuf)
    }
    /// The other holder's root key id.
    pub fn other_root_id(&self) -> String {
        self.other_root.key_id(Dialect::OtaTuf)
    }
    /// A case folder with the base's `files` and `pass.txt`.
    pub fn case(&self, files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            std::fs::copy(self.dir.path().join(f), dir.path().join(as_case_name(f))).unwrap();
        }
        write_passphrase(dir.path());
        dir
    }
}

/// Writes a proposal (pretty JSON, as the submitter writes it).
pub fn write_json(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, pretty(v)).unwrap();
    p
}

/// What a case demands.
#[derive(Clone, Debug)]
pub enum Expect {
    /// Refused, the message naming one of these (case-insensitive).
    Refuse(Vec<String>),
    /// Refused as above, or signed with every change on the screen.
    Either(Vec<String>),
    /// Signed, every change on the screen.
    Sign,
}

/// Refused, naming one of `names`.
pub fn refuse<S: ToString>(names: &[S]) -> Expect {
    Expect::Refuse(names.iter().map(S::to_string).collect())
}

/// Refused naming one of `names`, or signed with every change shown.
pub fn either<S: ToString>(names: &[S]) -> Expect {
    Expect::Either(names.iter().map(S::to_string).collect())
}

/// One `signer sign` on a pty, answering `yes` to every question.
pub struct Signed {
    pub dir: PathBuf,
    pub talk: Dialogue,
    /// Whether bundle.json existed at each question.
    pub bundle_at_prompt: Vec<bool>,
}

/// Runs `signer sign proposal.json` (default arguments, no `--yes`, and
/// `extra`) in `dir` on a pty.
pub fn sign_on_pty(dir: &Path, c: &Case, answers: &[&str]) -> Signed {
    let args = SignArgs::new()
        .no_yes()
        .proposal(&c.file)
        .out(&c.out)
        .keys(c.keys)
        .extra(&c.extra);
    let mut cmd = TestCommand::new("signer", dir);
    cmd.args(&args);
    let bundle = dir.join(&c.out);
    let talk = converse(cmd.command(), answers, || bundle.exists());
    Signed {
        dir: dir.to_path_buf(),
        bundle_at_prompt: talk.observed.clone(),
        talk,
    }
}

/// "yes" to every question (up to 8).
pub const YES: &[&str] = &["yes"; 8];

/// The raw bytes' forbidden characters (and invalid UTF-8), described.
pub fn raw_problems(what: &str, raw: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let text = match std::str::from_utf8(raw) {
        Ok(t) => t.to_string(),
        Err(e) => {
            out.push(format!("{what}: invalid UTF-8 at byte {}", e.valid_up_to()));
            String::from_utf8_lossy(raw).into_owned()
        }
    };
    let bad: Vec<String> = text
        .char_indices()
        .filter(|(_, c)| oracle::forbidden(*c))
        .take(5)
        .map(|(i, c)| {
            let from = text[..i]
                .char_indices()
                .rev()
                .nth(30)
                .map(|x| x.0)
                .unwrap_or(0);
            format!("U+{:04X} after {:?}", c as u32, &text[from..i])
        })
        .collect();
    if !bad.is_empty() {
        out.push(format!(
            "{what}: raw control characters: {}",
            bad.join("; ")
        ));
    }
    out
}

/// Files written for humans in `dir` (HTML reports, text, the transcript)
/// must hold no raw control character.
pub fn human_files_problems(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for (name, _) in list_dir(dir) {
        if [".html", ".txt", ".jsonl"]
            .iter()
            .any(|e| name.ends_with(e))
            && name != "pass.txt"
        {
            let bytes = std::fs::read(dir.join(&name)).unwrap_or_default();
            out.extend(raw_problems(&name, &bytes));
        }
    }
    out
}

/// The verdict of one sign case: problems found, empty when it holds.
/// Every case here is refused before key generation where it is refused:
/// none needs a new archive to be refused.
pub fn verdict(c: &Case, s: &Signed) -> Vec<String> {
    let (proposal, expect) = (&c.proposal, &c.expect);
    let mut p = Vec::new();
    let run = &s.talk.run;
    let bundle_path = s.dir.join(&c.out);
    p.extend(raw_problems("terminal", &run.raw));
    p.extend(human_files_problems(&s.dir));
    let (names, may_sign) = match &expect {
        Expect::Refuse(n) => (n, false),
        Expect::Either(n) => (n, true),
        Expect::Sign => (&Vec::new(), true),
    };
    if matches!(expect, Expect::Sign) && !(run.code == 0 && bundle_path.exists()) {
        p.push(format!(
            "must be signed, but exit {}: {}",
            run.code,
            last_lines(&run.screen, 4)
        ));
    }
    if run.code == 0 && bundle_path.exists() {
        if !may_sign {
            p.push("signed, but must be refused".into());
        } else {
            p.extend(signed_problems(s, proposal, &bundle_path));
            let screen = s.talk.screens.last().cloned().unwrap_or_default();
            for m in &c.must_show {
                if !screen
                    .to_lowercase()
                    .contains(&oracle::shown(m).to_lowercase())
                {
                    p.push(format!(
                        "signed, but the screen before the confirmation never showed {m:?}"
                    ));
                }
            }
        }
        if let Some(check) = &c.check {
            p.extend(check(s));
        }
    } else {
        if run.code == 0 {
            p.push("exit 0 but no bundle".into());
        }
        if run.code == 101 || run.screen.contains("panicked") {
            p.push("panicked".into());
        }
        if bundle_path.exists() {
            p.push("refused, yet bundle.json was written".into());
        }
        // Anchored cases open `anchored.tgz.age`; `new.tgz.age` is only
        // ever what this run wrote.
        if s.dir.join("new.tgz.age").exists() {
            p.push("refused after key generation: a new archive was written".into());
        }
        if let Some(max) = c.prompts_if_refused {
            if s.talk.prompts.len() > max {
                p.push(format!(
                    "refused only after {} question(s) (at most {max} expected): {:?}",
                    s.talk.prompts.len(),
                    s.talk.prompts
                ));
            }
        }
        let lower = run.screen.to_lowercase();
        if !names.is_empty()
            && !names
                .iter()
                .any(|n| lower.contains(&oracle::shown(n).to_lowercase()))
        {
            p.push(format!(
                "the refusal names none of {names:?}; it says: {}",
                last_lines(&run.screen, 4)
            ));
        }
    }
    p
}

/// What the oracle says of a signed case.
fn signed_problems(s: &Signed, proposal: &Value, bundle_path: &Path) -> Vec<String> {
    let mut p = Vec::new();
    // The screen at the last question: what the operator saw before the
    // final "yes".
    let screen = s
        .talk
        .screens
        .last()
        .cloned()
        .unwrap_or_else(|| s.talk.run.screen.clone());
    if s.bundle_at_prompt.iter().any(|b| *b) {
        p.push("a question came after the bundle was written".into());
    }
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(bundle_path).unwrap()).unwrap_or(Value::Null);
    let dialect = proposal["dialect"].as_str().unwrap_or("");
    for r in bundle["roots"].as_array().cloned().unwrap_or_default() {
        let name = r["name"].as_str().unwrap_or("");
        let Some(chain) = proposal["chains"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == name))
        else {
            p.push(format!(
                "bundle root for chain {name:?} the proposal does not have"
            ));
            continue;
        };
        for m in oracle::missing(&screen, &chain["current"], &r["root"], dialect) {
            p.push(format!("chain {name}: {m}"));
        }
    }
    p
}

pub fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// Runs each case, collects every problem, and fails once with all of them
/// (so one class reports all its failing cases).
#[track_caller]
pub fn report(class: &str, problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{class}: {} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// A base's anchored archive goes into a case as `anchored.tgz.age`, so that
/// `new.tgz.age` in a case folder is always what the case's run wrote.
fn as_case_name(f: &str) -> &str {
    if f == "new.tgz.age" {
        "anchored.tgz.age"
    } else {
        f
    }
}

/// One crafted proposal and what it must get.
pub struct Case {
    pub name: String,
    pub proposal: Value,
    /// The archive to sign with: `keys.tgz.age` (no anchor) or
    /// `anchored.tgz.age`.
    pub keys: &'static str,
    pub extra: Vec<String>,
    pub expect: Expect,
    /// The proposal's file name and the bundle's.
    pub file: String,
    pub out: String,
    /// Texts the screen must show before the confirmation, when signed.
    pub must_show: Vec<String>,
    /// More checks of the run.
    #[allow(clippy::type_complexity)]
    pub check: Option<Box<dyn Fn(&Signed) -> Vec<String>>>,
    /// When refused, at most this many questions may have come first.
    pub prompts_if_refused: Option<usize>,
}

impl Case {
    pub fn new(name: impl Into<String>, proposal: Value, expect: Expect) -> Case {
        Case {
            name: name.into(),
            proposal,
            keys: "keys.tgz.age",
            extra: Vec::new(),
            expect,
            file: "proposal.json".into(),
            out: "bundle.json".into(),
            must_show: Vec::new(),
            check: None,
            prompts_if_refused: None,
        }
    }
    pub fn files(mut self, proposal: &str, bundle: &str) -> Case {
        self.file = proposal.into();
        self.out = bundle.into();
        self
    }
    pub fn shows(mut self, text: &str) -> Case {
        self.must_show.push(text.into());
        self
    }
    pub fn check(mut self, f: impl Fn(&Signed) -> Vec<String> + 'static) -> Case {
        self.check = Some(Box::new(f));
        self
    }
    pub fn refused_within(mut self, questions: usize) -> Case {
        self.prompts_if_refused = Some(questions);
        self
    }
    pub fn anchored(mut self) -> Case {
        self.keys = "anchored.tgz.age";
        self
    }
    pub fn arg(mut self, a: &str) -> Case {
        self.extra.push(a.into());
        self
    }
}

/// Runs each case in its own folder made by `folder` and returns every
/// problem found.
pub fn run_cases(cases: Vec<Case>, folder: impl Fn() -> tempfile::TempDir) -> Vec<String> {
    let mut problems = Vec::new();
    for c in cases {
        let dir = folder();
        write_json(dir.path(), &c.file, &c.proposal);
        let s = sign_on_pty(dir.path(), &c, YES);
        let found = verdict(&c, &s);
        // One line per case on the test's output, so a red class still
        // says which of its cases hold.
        println!(
            "case {:?}: {}",
            c.name,
            if found.is_empty() {
                "holds".to_string()
            } else {
                format!("{} problem(s)", found.len())
            }
        );
        problems.extend(found.into_iter().map(|x| format!("{}: {x}", c.name)));
    }
    problems
}
