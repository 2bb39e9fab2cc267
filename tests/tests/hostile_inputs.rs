//! The hostile-input suite: crafted roots, proposals, bundles, archives,
//! tarballs, key files and QR frames, each breaking one rule of DESIGN.md or
//! one parser assumption, each run through the BINARIES (signer and
//! submitter) the way an operator would.
//!
//! For every case and every command it is run through:
//! * the exit status is neither 0 nor 101 (a Rust panic), and the process was
//!   not killed by a signal;
//! * standard error holds a clear message (a line with `error` or
//!   `refused`), never `panicked at`, and is of a readable size;
//! * neither output holds a secret (the passphrase, the private key in any
//!   form the files hold it);
//! * no file is created, changed or removed: the case's folder and the
//!   fixture folder (where a proposal's absolute target points) are hashed
//!   before and after.
//!
//! The fixtures are a real ceremony made by the binaries themselves
//! (`ceremony_tests::fixture::Ceremony`). One test function per family; each case is
//! named, and a table of every run (exit code, first line of the error) is
//! printed with `--nocapture`.

use ceremony::keys::PrivateKey;
use ceremony::transport::{EncodeOptions, Encoder, UR_TYPE};
use ceremony::{Dialect, RootMetadata};
use ceremony_tests::keygen::{TestKey, TestKeyType};
use ceremony_tests::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

// ------------------------------------------------------------ engine ----

/// One crafted input and the commands it goes through.
struct Case {
    name: String,
    /// Files written into the case's folder (relative name, bytes).
    files: Vec<(String, Vec<u8>)>,
    /// Symbolic links made in the case's folder (name, target).
    links: Vec<(String, String)>,
    /// (binary, arguments) runs.
    runs: Vec<(&'static str, Vec<String>)>,
    /// A word the error must contain (lowercase), where the rule is stable.
    expect: Option<&'static str>,
    /// The command reports progress per line read, so a long input makes
    /// a long (but bounded) log.
    noisy: bool,
}

impl Case {
    fn new(name: impl Into<String>) -> Case {
        Case {
            name: name.into(),
            files: Vec::new(),
            links: Vec::new(),
            runs: Vec::new(),
            expect: None,
            noisy: false,
        }
    }

    fn noisy(mut self) -> Case {
        self.noisy = true;
        self
    }

    fn file(mut self, name: &str, bytes: impl Into<Vec<u8>>) -> Case {
        self.files.push((name.to_string(), bytes.into()));
        self
    }

    fn link(mut self, name: &str, target: &str) -> Case {
        self.links.push((name.to_string(), target.to_string()));
        self
    }

    fn run(mut self, bin: &'static str, args: &[&str]) -> Case {
        self.runs
            .push((bin, args.iter().map(|s| s.to_string()).collect()));
        self
    }

    fn expect(mut self, word: &'static str) -> Case {
        self.expect = Some(word);
        self
    }
}

/// What a family ran, for the closing line.
struct Tally {
    inputs: usize,
    runs: usize,
}

/// Runs every case of a family and fails, listing every broken promise, if
/// any run broke one.
fn check_family(family: &str, fx: &Ceremony, cases: Vec<Case>) -> Tally {
    let mut failures = Vec::new();
    let mut table = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    let mut runs = 0;
    let base_before = hash_dir(fx.path());
    for case in &cases {
        assert!(
            names.insert(case.name.clone()),
            "case name {} twice",
            case.name
        );
        assert!(!case.runs.is_empty(), "{}: no command", case.name);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        copy_dir(fx.path(), dir);
        for (name, bytes) in &case.files {
            let p = dir.join(name);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            std::fs::write(&p, bytes).unwrap();
        }
        for (name, target) in &case.links {
            std::os::unix::fs::symlink(target, dir.join(name)).unwrap();
        }
        for (bin, args) in &case.runs {
            runs += 1;
            let before = list_dir(dir);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = run_in(dir, bin, &args);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let what = format!("{family}/{}: {bin} {}", case.name, args.join(" "));
            // The message: a line of stderr with `error` or `refused`; or,
            // for a verification that ran and failed (exit 3), the report's
            // verdict on stdout (`audit` prints its report there).
            let clear = |l: &&str| {
                let l = l.to_lowercase();
                l.contains("error") || l.contains("refused")
            };
            let verdict = |l: &&str| {
                let l = l.to_lowercase();
                l.contains("failed")
                    || l.contains("does not hold")
                    || l.contains("does not verify")
                    || l.contains("broken")
            };
            let first = stderr
                .lines()
                .find(clear)
                .or_else(|| {
                    (out.status.code() == Some(3))
                        .then(|| stdout.lines().find(verdict))
                        .flatten()
                })
                .unwrap_or("")
                .chars()
                .take(110)
                .collect::<String>();
            table.push(format!(
                "{:<4} {:<44} {:<10} {}",
                out.status.code().map_or("sig".into(), |c| c.to_string()),
                case.name,
                format!("{bin} {}", args.first().copied().unwrap_or("")),
                first
            ));
            let mut problems = Vec::new();
            match out.status.code() {
                None => problems.push("killed by a signal".to_string()),
                Some(0) => problems.push("ACCEPTED (exit 0)".to_string()),
                Some(101) => problems.push("exit 101 (a panic)".to_string()),
                Some(_) => {}
            }
            if stderr.contains("panicked at") || stderr.contains("RUST_BACKTRACE") {
                problems.push("a panic message".into());
            }
            if first.is_empty() {
                problems.push("no line with `error` or `refused` on stderr".into());
            }
            if stderr.len() > if case.noisy { 4 << 20 } else { 32 << 10 } {
                problems.push(format!("{} bytes of error output", stderr.len()));
            }
            if let Some(word) = case.expect {
                let all = format!("{stderr}{stdout}").to_lowercase();
                if !all.contains(word) {
                    problems.push(format!("the error does not mention {word:?}"));
                }
            }
            for s in &fx.secrets {
                if stdout.contains(s.as_str()) || stderr.contains(s.as_str()) {
                    problems.push("A SECRET WAS PRINTED".into());
                }
            }
            let after = list_dir(dir);
            if after != before {
                let changed: Vec<String> = after
                    .iter()
                    .filter(|(k, v)| before.get(*k) != Some(v))
                    .map(|(k, _)| format!("+{k}"))
                    .chain(
                        before
                            .keys()
                            .filter(|k| !after.contains_key(*k))
                            .map(|k| format!("-{k}")),
                    )
                    .collect();
                problems.push(format!("files changed: {changed:?}"));
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{what}\n    {}\n    {}",
                    problems.join("; "),
                    text(&out).replace('\n', "\n    ")
                ));
            }
        }
    }
    if hash_dir(fx.path()) != base_before {
        failures.push(format!(
            "{family}: the fixture folder (an absolute target) changed"
        ));
    }
    eprintln!(
        "== {family}: {} inputs, {runs} runs ==\n{}",
        cases.len(),
        table.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} of {runs} runs of family {family} broke a promise:\n{}",
        failures.len(),
        failures.join("\n")
    );
    Tally {
        inputs: cases.len(),
        runs,
    }
}

// ----------------------------------------------------------- helpers ----

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap()
}

/// Applies `f` to a copy of `v`.
fn edit(v: &Value, f: impl FnOnce(&mut Value)) -> Value {
    let mut c = v.clone();
    f(&mut c);
    c
}

/// Replaces the first `from` in `text` (which must hold it).
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the text");
    text.replacen(from, to, 1)
}

/// Re-signs a TUF root (envelope) with `keys` where the root lists them;
/// when it cannot be signed (a root the library will not canonicalise),
/// returns it with its old signatures.
fn resign(v: &Value, keys: &[&PrivateKey]) -> Value {
    let Ok(mut r) = RootMetadata::from_value(v.clone(), Dialect::Tuf) else {
        return v.clone();
    };
    r.clear_signatures();
    for k in keys {
        let Some(id) = r.find_key_id(&k.public_key()) else {
            continue;
        };
        if r.sign(&id, k).is_err() {
            return v.clone();
        }
    }
    r.envelope().clone()
}

fn utf16(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0xff, 0xfe];
    for u in String::from_utf8_lossy(bytes).encode_utf16() {
        out.extend(u.to_le_bytes());
    }
    out
}

/// `{"x-deep": [[[...]]], ...}` inside the first object of `text`.
fn deep(text: &str, depth: usize) -> String {
    let nest = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    replace_once(text, "{", &format!("{{\"x-deep\":{nest},"))
}

fn root_role_ids(root: &Value) -> Vec<String> {
    root["signed"]["roles"]["root"]["keyids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// The private keys of the fixture's new archive (the key `signer sign`
/// made), to sign crafted new roots with old and new keys.
fn new_keys(fx: &Ceremony) -> Vec<PrivateKey> {
    let entries = open_archive(&fx.read("new.tgz.age")).unwrap();
    entries
        .iter()
        .filter(|(n, _)| n.ends_with(".sec"))
        .filter_map(|(_, b)| PrivateKey::from_ats_json(b).ok())
        .collect()
}

// ------------------------------------------------------------- roots ----

/// Roots, through `signer audit` and `submitter audit` (and, for those that
/// do not even parse, `submitter show` and `signer verify-transcript
/// --root`).
#[test]
fn hostile_roots() {
    let fx = Ceremony::new();
    let r1 = fx.json("repo/metadata/1.root.json");
    let r1_bytes = fx.read("repo/metadata/1.root.json");
    let c1 = compact(&r1);
    let old = &fx.root_key;
    let news = new_keys(&fx);
    let mut both: Vec<&PrivateKey> = vec![old];
    both.extend(news.iter());
    let v2 = fx.json("bundle.json")["roots"][0]["root"].clone();
    let root_id = root_role_ids(&r1)[0].clone();

    let audit = |c: Case| {
        c.run("signer", &["audit", "--metadata-dir", "m"])
            .run("submitter", &["audit", "--metadata-dir", "m"])
    };
    let unparsable = |name: &str, bytes: Vec<u8>| {
        audit(Case::new(name).file("m/1.root.json", bytes))
            .run("submitter", &["show", "m/1.root.json"])
            .run(
                "signer",
                &[
                    "verify-transcript",
                    "bundle.transcript.jsonl",
                    "--root",
                    "m/1.root.json",
                ],
            )
    };
    let v1 = |name: &str, v: Value| audit(Case::new(name).file("m/1.root.json", pretty(&v)));
    let v1_signed = |name: &str, f: &dyn Fn(&mut Value)| {
        let mut v = r1.clone();
        f(&mut v);
        v1(name, resign(&v, &[old]))
    };
    let step2 = |name: &str, v: Value| {
        audit(
            Case::new(name)
                .file("m/1.root.json", r1_bytes.clone())
                .file("m/2.root.json", pretty(&v)),
        )
    };

    let mut non_utf8 = r1_bytes.clone();
    let at = non_utf8.windows(6).position(|w| w == b"\"root\"").unwrap();
    non_utf8[at + 2] = 0xff;
    let mut bom = vec![0xef, 0xbb, 0xbf];
    bom.extend(&r1_bytes);
    let first_key = r1["signed"]["keys"].as_object().unwrap().iter().next();
    let (kid, kobj) = first_key.unwrap();
    let dup_keyid = replace_once(
        &c1,
        "\"keys\":{",
        &format!("\"keys\":{{{:?}:{},", kid, compact(kobj)),
    );
    let other = TestKey::generate(TestKeyType::Ed25519);

    let cases = vec![
        unparsable("not-json", b"this is not JSON\n".to_vec()).expect("json"),
        unparsable("empty-file", Vec::new()),
        unparsable("truncated-half", r1_bytes[..r1_bytes.len() / 2].to_vec()),
        unparsable("non-utf8-byte-in-a-string", non_utf8),
        unparsable("utf16-with-bom", utf16(&r1_bytes)),
        unparsable("utf8-bom", bom),
        unparsable(
            "duplicate-key-version",
            replace_once(&c1, "\"version\":1", "\"version\":1,\"version\":2").into(),
        )
        .expect("duplicate"),
        unparsable(
            "duplicate-key-signed",
            format!(
                "{{\"signed\":{},\"signed\":{},\"signatures\":[]}}",
                compact(&r1["signed"]),
                compact(&r1["signed"])
            )
            .into(),
        )
        .expect("duplicate"),
        unparsable("duplicate-keyid-in-keys", dup_keyid.into()).expect("duplicate"),
        unparsable("nesting-depth-100000", deep(&c1, 100_000).into()),
        unparsable("nesting-depth-200", deep(&c1, 200).into()),
        unparsable(
            "nan-literal",
            replace_once(&c1, "\"version\":1", "\"version\":NaN").into(),
        ),
        unparsable(
            "number-1e999",
            replace_once(&c1, "\"version\":1", "\"version\":1e999").into(),
        ),
        unparsable(
            "trailing-garbage",
            [r1_bytes.clone(), b"}{\"x\":1}".to_vec()].concat(),
        ),
        unparsable(
            "raw-control-character-in-a-string",
            replace_once(&c1, "\"root\"", "\"ro\u{1}ot\"").into(),
        ),
        unparsable(
            "lone-surrogate-escape",
            replace_once(&c1, "{", "{\"x-s\":\"\\ud800\",").into(),
        ),
        unparsable("top-level-array", format!("[{c1}]").into()),
        unparsable("top-level-string", b"\"root\"".to_vec()),
        unparsable(
            "oversize-600k-string",
            pretty(&edit(&r1, |v| {
                v["signed"]["x-pad"] = json!("a".repeat(600_000))
            })),
        )
        .expect("bytes"),
        unparsable(
            "signed-is-an-array",
            pretty(&edit(&r1, |v| v["signed"] = json!([]))),
        ),
        unparsable(
            "signatures-is-an-object",
            pretty(&edit(&r1, |v| v["signatures"] = json!({}))),
        ),
        unparsable(
            "type-targets",
            pretty(&edit(&r1, |v| v["signed"]["_type"] = json!("targets"))),
        ),
        unparsable(
            "no-signed",
            pretty(&edit(&r1, |v| {
                v.as_object_mut().unwrap().remove("signed");
            })),
        ),
        v1(
            "version-2^64",
            serde_json::from_str(&replace_once(
                &c1,
                "\"version\":1",
                "\"version\":18446744073709551616",
            ))
            .unwrap(),
        ),
        v1_signed("version-negative", &|v| v["signed"]["version"] = json!(-1)),
        v1_signed("version-float", &|v| v["signed"]["version"] = json!(1.0)),
        v1_signed("version-string", &|v| v["signed"]["version"] = json!("1")),
        v1_signed("version-zero", &|v| v["signed"]["version"] = json!(0)),
        v1_signed("root-threshold-zero", &|v| {
            v["signed"]["roles"]["root"]["threshold"] = json!(0)
        }),
        v1_signed("root-threshold-above-key-count", &|v| {
            v["signed"]["roles"]["root"]["threshold"] = json!(5)
        }),
        v1_signed("root-threshold-negative", &|v| {
            v["signed"]["roles"]["root"]["threshold"] = json!(-1)
        }),
        v1_signed("root-threshold-float", &|v| {
            v["signed"]["roles"]["root"]["threshold"] = json!(1.5)
        }),
        v1_signed("targets-threshold-zero", &|v| {
            v["signed"]["roles"]["targets"]["threshold"] = json!(0)
        }),
        v1_signed("role-timestamp-missing", &|v| {
            v["signed"]["roles"]
                .as_object_mut()
                .unwrap()
                .remove("timestamp");
        }),
        v1_signed("roles-missing", &|v| {
            v["signed"].as_object_mut().unwrap().remove("roles");
        }),
        v1_signed("keys-is-a-list", &|v| v["signed"]["keys"] = json!([])),
        v1_signed("root-keyid-not-in-keys", &|v| {
            v["signed"]["roles"]["root"]["keyids"]
                .as_array_mut()
                .unwrap()
                .push(json!("00".repeat(32)))
        }),
        v1_signed("keytype-dsa", &|v| {
            v["signed"]["keys"][&root_id]["keytype"] = json!("dsa")
        }),
        v1_signed("ed25519-public-key-too-short", &|v| {
            v["signed"]["keys"][&root_id]["keyval"]["public"] = json!("abcd")
        }),
        v1_signed("rsa-1024-root-key", &|v| {
            let k = TestKey::generate(TestKeyType::Rsa(1024));
            let id = k.key_id(Dialect::Tuf);
            v["signed"]["keys"][&id] = k.key_object(Dialect::Tuf);
            v["signed"]["roles"]["root"]["keyids"] = json!([id]);
        }),
        v1("keyid-does-not-match-key", {
            let mut v = r1.clone();
            let obj = v["signed"]["keys"][&root_id].clone();
            v["signed"]["keys"]
                .as_object_mut()
                .unwrap()
                .insert("ab".repeat(32), obj);
            v["signed"]["roles"]["root"]["keyids"] = json!(["ab".repeat(32)]);
            v["signatures"][0]["keyid"] = json!("ab".repeat(32));
            v
        }),
        v1_signed("expires-date-only", &|v| {
            v["signed"]["expires"] = json!("2030-01-01")
        }),
        v1_signed("expires-fractional-seconds", &|v| {
            v["signed"]["expires"] = json!("2030-01-01T00:00:00.5Z")
        }),
        v1_signed("expires-offset", &|v| {
            v["signed"]["expires"] = json!("2030-01-01T00:00:00+02:00")
        }),
        v1_signed("expired", &|v| {
            v["signed"]["expires"] = json!("2001-01-01T00:00:00Z")
        })
        .expect("expired"),
        v1_signed("float-in-unknown-field", &|v| {
            v["signed"]["x-f"] = json!(0.5)
        }),
        v1(
            "signature-not-hex",
            edit(&r1, |v| v["signatures"][0]["sig"] = json!("zz")),
        ),
        v1(
            "signature-by-another-key",
            edit(&r1, |v| {
                v["signatures"][0]["sig"] =
                    json!(hex::encode(other.sign(b"not the canonical bytes")))
            }),
        ),
        v1("no-signature", edit(&r1, |v| v["signatures"] = json!([]))),
        v1(
            "duplicate-signature-entry",
            edit(&r1, |v| {
                let s = v["signatures"][0].clone();
                v["signatures"].as_array_mut().unwrap().push(s);
            }),
        )
        .expect("duplicate"),
        v1(
            "edited-after-signing",
            edit(&r1, |v| {
                v["signed"]["expires"] = json!("2099-01-01T00:00:00Z")
            }),
        ),
        audit(Case::new("ota-tuf-non-ascii-in-signed").file(
            "m/1.root.json",
            pretty(&edit(&r1, |v| v["signed"]["x-note"] = json!("café"))),
        ))
        .run(
            "signer",
            &["audit", "--metadata-dir", "m", "--dialect", "ota-tuf"],
        ),
        audit(Case::new("ota-tuf-control-character").file(
            "m/1.root.json",
            pretty(&edit(&r1, |v| v["signed"]["x-note"] = json!("a\u{7}b"))),
        ))
        .run(
            "submitter",
            &["audit", "--metadata-dir", "m", "--dialect", "ota-tuf"],
        ),
        audit(Case::new("tuf-type-capitalised").file(
            "m/1.root.json",
            pretty(&resign(
                &edit(&r1, |v| v["signed"]["_type"] = json!("Root")),
                &[old],
            )),
        ))
        .run(
            "signer",
            &["audit", "--metadata-dir", "m", "--dialect", "tuf"],
        ),
        step2(
            "v2-without-the-old-keys-signature",
            resign(&v2, &news.iter().collect::<Vec<_>>()),
        ),
        step2("v2-without-the-new-keys-signature", resign(&v2, &[old])),
        step2(
            "v2-says-version-3",
            resign(&edit(&v2, |v| v["signed"]["version"] = json!(3)), &both),
        ),
        step2(
            "v2-duplicate-signature-entry",
            edit(&v2, |v| {
                let s = v["signatures"][0].clone();
                v["signatures"].as_array_mut().unwrap().push(s);
            }),
        ),
        step2(
            "v2-edited-after-signing",
            edit(&v2, |v| {
                v["signed"]["roles"]["root"]["threshold"] = json!(2)
            }),
        ),
        step2("v2-is-v1-again", r1.clone()),
        step2(
            "v2-threshold-above-key-count",
            resign(
                &edit(&v2, |v| {
                    v["signed"]["roles"]["root"]["threshold"] = json!(2)
                }),
                &both,
            ),
        ),
    ];
    let t = check_family("roots", &fx, cases);
    eprintln!("roots: {} inputs, {} runs", t.inputs, t.runs);
}

// --------------------------------------------------------- proposals ----

/// Proposals, through `signer review`, `signer sign` (with the archive) and,
/// for those that do not parse, `submitter show`.
#[test]
fn hostile_proposals() {
    let fx = Ceremony::new();
    let p = fx.json("proposal.json");
    let pc = compact(&p);
    let pbytes = fx.read("proposal.json");
    let old = &fx.root_key;
    let cur = p["chains"][0]["current"].clone();

    const SIGN: &[&str] = &[
        "sign",
        "p.json",
        "--keys",
        "keys.tgz.age",
        "-o",
        "out.json",
        "--new-archive",
        "out.tgz.age",
        "--passphrase-file",
        "pass.txt",
        "--yes",
    ];
    let semantic = |name: &str, v: Value| {
        Case::new(name)
            .file("p.json", pretty(&v))
            .run("signer", &["review", "p.json"])
            .run("signer", SIGN)
    };
    let sign_only = |name: &str, v: Value| {
        Case::new(name)
            .file("p.json", pretty(&v))
            .run("signer", SIGN)
    };
    let unparsable = |name: &str, bytes: Vec<u8>| {
        Case::new(name)
            .file("p.json", bytes)
            .run("signer", &["review", "p.json"])
            .run("signer", SIGN)
            .run("submitter", &["show", "p.json"])
    };
    let bad_fields = |name: &str, v: Value| unparsable(name, pretty(&v));
    let with_current = |f: &dyn Fn(&mut Value)| {
        edit(&p, |v| {
            let mut c = cur.clone();
            f(&mut c);
            v["chains"][0]["current"] = resign(&c, &[old]);
        })
    };

    let mut non_utf8 = pbytes.clone();
    let at = non_utf8.windows(5).position(|w| w == b"\"tuf\"").unwrap();
    non_utf8[at + 1] = 0xc3;
    let foreign = {
        let k = TestKey::generate(TestKeyType::Ed25519);
        let d = Dialect::Tuf;
        let id = k.key_id(d);
        let mut c = cur.clone();
        c["signed"]["keys"]
            .as_object_mut()
            .unwrap()
            .insert(id.clone(), k.key_object(d));
        c["signed"]["roles"]["root"]["keyids"] = json!([id.clone()]);
        let sig = k.signature_entry(&c["signed"], d);
        c["signatures"] = json!([sig]);
        c
    };

    let cases = vec![
        unparsable("not-json", b"{ proposal? }".to_vec()),
        unparsable("empty-file", Vec::new()),
        unparsable("truncated", pbytes[..pbytes.len() * 2 / 3].to_vec()),
        unparsable("non-utf8", non_utf8),
        unparsable("utf16", utf16(&pbytes)),
        unparsable(
            "duplicate-key-change",
            replace_once(
                &pc,
                "\"change\":{",
                "\"change\":{\"rotate\":\"all\",\"expires\":\"2099-01-01T00:00:00Z\"},\"change\":{",
            )
            .into(),
        )
        .expect("duplicate"),
        unparsable(
            "duplicate-key-inside-current-root",
            replace_once(&pc, "\"version\":1", "\"version\":1,\"version\":1").into(),
        )
        .expect("duplicate"),
        unparsable("nesting-depth-100000", deep(&pc, 100_000).into()),
        unparsable(
            "oversize-9mib",
            pretty(&edit(&p, |v| v["x-pad"] = json!("a".repeat(9 << 20)))),
        ),
        bad_fields(
            "format-missing",
            edit(&p, |v| {
                v.as_object_mut().unwrap().remove("format");
            }),
        ),
        bad_fields(
            "format-version-2",
            edit(&p, |v| v["format"] = json!("tuf-ceremony/proposal@2")),
        )
        .expect("proposal@2"),
        bad_fields(
            "format-is-bundle",
            edit(&p, |v| v["format"] = json!("tuf-ceremony/bundle@1")),
        ),
        bad_fields(
            "dialect-unknown",
            edit(&p, |v| v["dialect"] = json!("yaml")),
        ),
        bad_fields("chains-empty", edit(&p, |v| v["chains"] = json!([]))),
        bad_fields("chains-not-a-list", edit(&p, |v| v["chains"] = json!({}))),
        bad_fields(
            "current-root-is-a-string",
            edit(&p, |v| v["chains"][0]["current"] = json!("root.json")),
        ),
        bad_fields(
            "current-root-without-signed",
            edit(&p, |v| {
                v["chains"][0]["current"] = json!({"signatures": []})
            }),
        ),
        bad_fields(
            "current-root-over-512000-bytes",
            edit(&p, |v| {
                v["chains"][0]["current"]["signed"]["x-pad"] = json!("b".repeat(600_000))
            }),
        ),
        bad_fields(
            "target-kind-unknown",
            edit(&p, |v| {
                v["target"] = json!({"kind": "ftp", "url": "ftp://x"})
            }),
        ),
        bad_fields("created-is-a-number", edit(&p, |v| v["created"] = json!(5))),
        bad_fields(
            "add-keys-negative",
            edit(&p, |v| v["change"]["add_keys"] = json!(-1)),
        ),
        bad_fields(
            "add-keys-over-u32",
            edit(&p, |v| v["change"]["add_keys"] = json!(4_294_967_296u64)),
        ),
        bad_fields(
            "threshold-float",
            edit(&p, |v| v["change"]["threshold"] = json!(1.5)),
        ),
        bad_fields(
            "rotate-unknown-variant",
            edit(&p, |v| v["change"]["rotate"] = json!("everything")),
        ),
        bad_fields(
            "expires-missing",
            edit(&p, |v| {
                v["change"].as_object_mut().unwrap().remove("expires");
            }),
        ),
        semantic(
            "threshold-zero",
            edit(&p, |v| v["change"]["threshold"] = json!(0)),
        ),
        semantic(
            "threshold-above-key-count",
            edit(&p, |v| v["change"]["threshold"] = json!(100)),
        ),
        semantic(
            "add-1000-keys",
            edit(&p, |v| v["change"]["add_keys"] = json!(1000)),
        ),
        semantic(
            "expires-not-a-date",
            edit(&p, |v| v["change"]["expires"] = json!("next year")),
        ),
        semantic(
            "key-type-dsa",
            edit(&p, |v| v["change"]["key_type"] = json!("dsa-1024")),
        ),
        semantic(
            "rotate-a-key-not-in-the-root",
            edit(&p, |v| {
                v["change"]["rotate"] = json!({"keys": ["cd".repeat(32)]})
            }),
        ),
        semantic(
            "remove-every-key",
            edit(&p, |v| {
                v["change"].as_object_mut().unwrap().remove("rotate");
                v["change"]["remove_keys"] = json!(root_role_ids(&cur));
            }),
        ),
        semantic(
            "provided-key-garbage",
            edit(
                &p,
                |v| v["change"]["provided_keys"] = json!([{"key": {"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": "xyz"}}}]),
            ),
        ),
        semantic(
            "current-root-unsigned",
            edit(&p, |v| v["chains"][0]["current"]["signatures"] = json!([])),
        ),
        semantic(
            "current-root-threshold-zero",
            with_current(&|c| c["signed"]["roles"]["root"]["threshold"] = json!(0)),
        ),
        semantic(
            "current-root-float",
            edit(&p, |v| {
                v["chains"][0]["current"]["signed"]["x-f"] = json!(2.5)
            }),
        ),
        semantic(
            "staged-root-jumps-a-version",
            edit(&p, |v| {
                let mut s = cur.clone();
                s["signed"]["version"] = json!(3);
                s["signatures"] = json!([]);
                v["chains"][0]["staged"] = s;
            }),
        ),
        // Strictness (issue 12): unknown fields by name, chain names per
        // dialect, no staging in TUF, no version after u64::MAX.
        bad_fields(
            "unknown-field-top-level",
            edit(&p, |v| v["signature"] = json!("trust me")),
        )
        .expect("\"signature\""),
        bad_fields(
            "unknown-field-change-misspelt",
            edit(&p, |v| v["change"]["threshhold"] = json!(1)),
        )
        .expect("\"threshhold\" in change"),
        bad_fields(
            "unknown-field-chain",
            edit(&p, |v| v["chains"][0]["verified"] = json!(true)),
        )
        .expect("chains[0]"),
        bad_fields(
            "unknown-field-target",
            edit(&p, |v| v["target"]["mirror"] = json!("/elsewhere")),
        )
        .expect("\"mirror\" in target"),
        bad_fields(
            "unknown-field-provided-key",
            edit(&p, |v| {
                v["change"]["provided_keys"] =
                    json!([{"key": cur["signed"]["keys"].as_object().unwrap().values().next().unwrap(), "holder": "x", "trusted": true}])
            }),
        )
        .expect("change.provided_keys[0]"),
        bad_fields(
            "chain-name-trailing-space",
            edit(&p, |v| v["chains"][0]["name"] = json!("root ")),
        )
        .expect("chain"),
        bad_fields(
            "chain-name-slash",
            edit(&p, |v| v["chains"][0]["name"] = json!("a/b")),
        )
        .expect("chain"),
        bad_fields(
            "chain-name-empty",
            edit(&p, |v| v["chains"][0]["name"] = json!("")),
        )
        .expect("chain"),
        bad_fields(
            "chain-name-dot-dot",
            edit(&p, |v| v["chains"][0]["name"] = json!("..")),
        )
        .expect("chain"),
        bad_fields(
            "chain-name-300-characters",
            edit(&p, |v| v["chains"][0]["name"] = json!("r".repeat(300))),
        )
        .expect("(300 characters)"),
        bad_fields(
            "chain-name-capitalised",
            edit(&p, |v| v["chains"][0]["name"] = json!("Root")),
        )
        .expect("chain"),
        bad_fields(
            "chain-name-of-a-factory-in-tuf",
            edit(&p, |v| v["chains"][0]["name"] = json!("ci")),
        )
        .expect("chain"),
        bad_fields(
            "two-root-chains",
            edit(&p, |v| {
                let c = v["chains"][0].clone();
                v["chains"].as_array_mut().unwrap().push(c);
            }),
        )
        .expect("twice"),
        bad_fields(
            "staged-in-tuf",
            edit(&p, |v| {
                let mut s = cur.clone();
                s["signed"]["version"] = json!(2);
                s["signatures"] = json!([]);
                v["chains"][0]["staged"] = s;
            }),
        )
        .expect("no staging"),
        semantic(
            "current-version-u64-max",
            with_current(&|c| c["signed"]["version"] = json!(u64::MAX)),
        )
        .expect("18446744073709551615"),
        sign_only(
            "expires-in-the-past",
            edit(&p, |v| {
                v["change"]["expires"] = json!("2001-01-01T00:00:00Z")
            }),
        ),
        sign_only(
            "expires-in-100-years",
            edit(&p, |v| {
                v["change"]["expires"] = json!("2125-01-01T00:00:00Z")
            }),
        ),
        sign_only(
            "a-root-this-archive-never-signed",
            edit(&p, |v| v["chains"][0]["current"] = foreign.clone()),
        ),
    ];
    let t = check_family("proposals", &fx, cases);
    eprintln!("proposals: {} inputs, {} runs", t.inputs, t.runs);
}

// ----------------------------------------------------------- bundles ----

/// Bundles, through `submitter upload` (into the fixture's folder
/// repository), `submitter merge` and `submitter show`, and as the root of
/// `signer verify-transcript`.
#[test]
fn hostile_bundles() {
    let fx = Ceremony::new();
    let b = fx.json("bundle.json");
    let bc = compact(&b);
    let bbytes = fx.read("bundle.json");
    let old = &fx.root_key;
    let news = new_keys(&fx);
    let mut both: Vec<&PrivateKey> = vec![old];
    both.extend(news.iter());
    let v2 = b["roots"][0]["root"].clone();

    let upload = &["upload", "b.json", "--proposal", "proposal.json"][..];
    let unparsable = |name: &str, bytes: Vec<u8>| {
        Case::new(name)
            .file("b.json", bytes)
            .run("submitter", upload)
            .run(
                "submitter",
                &[
                    "merge",
                    "b.json",
                    "bundle.json",
                    "-o",
                    "merged.json",
                    "--proposal",
                    "proposal.json",
                ],
            )
            .run(
                "submitter",
                &["show", "b.json", "--proposal", "proposal.json"],
            )
            .run(
                "signer",
                &[
                    "verify-transcript",
                    "bundle.transcript.jsonl",
                    "--root",
                    "b.json",
                ],
            )
    };
    let bad_fields = |name: &str, v: Value| unparsable(name, pretty(&v));
    let refused = |name: &str, v: Value| {
        Case::new(name)
            .file("b.json", pretty(&v))
            .run("submitter", upload)
    };
    let new_root = |f: &dyn Fn(&mut Value)| {
        edit(&b, |v| {
            let mut r = v2.clone();
            f(&mut r);
            v["roots"][0]["root"] = resign(&r, &both);
        })
    };

    let mut non_utf8 = bbytes.clone();
    let at = non_utf8.windows(6).position(|w| w == b"\"root\"").unwrap();
    non_utf8[at + 3] = 0xfe;

    let cases = vec![
        unparsable("not-json", b"<bundle/>".to_vec()),
        unparsable("empty-file", Vec::new()),
        unparsable("truncated", bbytes[..bbytes.len() / 3].to_vec()),
        unparsable("non-utf8", non_utf8),
        unparsable(
            "duplicate-key-roots",
            replace_once(&bc, "\"roots\":[", "\"roots\":[],\"roots\":[").into(),
        )
        .expect("duplicate"),
        unparsable("nesting-depth-100000", deep(&bc, 100_000).into()),
        unparsable(
            "oversize-9mib",
            pretty(&edit(&b, |v| v["x-pad"] = json!("c".repeat(9 << 20)))),
        ),
        bad_fields(
            "format-missing",
            edit(&b, |v| {
                v.as_object_mut().unwrap().remove("format");
            }),
        ),
        bad_fields(
            "format-version-9",
            edit(&b, |v| v["format"] = json!("tuf-ceremony/bundle@9")),
        ),
        bad_fields(
            "format-is-proposal",
            edit(&b, |v| v["format"] = json!("tuf-ceremony/proposal@1")),
        ),
        bad_fields("roots-empty", edit(&b, |v| v["roots"] = json!([]))),
        bad_fields(
            "root-envelope-field-beside-signed",
            edit(&b, |v| {
                v["roots"][0]["root"]["x-upload-me"] = json!("unsigned")
            }),
        ),
        refused(
            "root-envelope-field-named-on-upload",
            edit(&b, |v| {
                v["roots"][0]["root"]["x-upload-me"] = json!("unsigned")
            }),
        )
        .expect("x-upload-me"),
        bad_fields("roots-not-a-list", edit(&b, |v| v["roots"] = json!("x"))),
        bad_fields(
            "root-is-a-number",
            edit(&b, |v| v["roots"][0]["root"] = json!(7)),
        ),
        bad_fields(
            "complete-is-a-string",
            edit(&b, |v| v["complete"] = json!("yes")),
        ),
        bad_fields("dialect-unknown", edit(&b, |v| v["dialect"] = json!("xml"))),
        refused(
            "answers-another-proposal",
            edit(&b, |v| v["proposal_sha256"] = json!("00".repeat(32))),
        ),
        refused(
            "targets-another-folder",
            edit(&b, |v| {
                v["target"] = json!({"kind": "tuf-dir", "path": "/tmp/elsewhere/metadata"})
            }),
        ),
        refused(
            "dialect-switched-to-ota-tuf",
            edit(&b, |v| v["dialect"] = json!("ota-tuf")),
        ),
        refused(
            "old-keys-signature-stripped",
            edit(&b, |v| {
                v["roots"][0]["root"] = resign(&v2, &news.iter().collect::<Vec<_>>())
            }),
        ),
        refused(
            "every-signature-stripped",
            edit(&b, |v| v["roots"][0]["root"]["signatures"] = json!([])),
        ),
        refused(
            "duplicate-signature-entry",
            edit(&b, |v| {
                let s = v["roots"][0]["root"]["signatures"][0].clone();
                v["roots"][0]["root"]["signatures"]
                    .as_array_mut()
                    .unwrap()
                    .push(s);
            }),
        ),
        refused(
            "edited-after-signing",
            edit(&b, |v| {
                v["roots"][0]["root"]["signed"]["expires"] = json!("2099-12-31T00:00:00Z")
            }),
        ),
        refused(
            "new-root-version-3",
            new_root(&|r| r["signed"]["version"] = json!(3)),
        ),
        refused(
            "new-root-threshold-zero",
            new_root(&|r| r["signed"]["roles"]["root"]["threshold"] = json!(0)),
        ),
        refused(
            "new-root-expired",
            new_root(&|r| r["signed"]["expires"] = json!("2001-01-01T00:00:00Z")),
        ),
        refused(
            "new-root-drops-the-snapshot-role",
            new_root(&|r| {
                r["signed"]["roles"]
                    .as_object_mut()
                    .unwrap()
                    .remove("snapshot");
            }),
        ),
        refused(
            "a-root-for-a-chain-the-proposal-lacks",
            edit(&b, |v| {
                let extra = json!({"name": "prod", "root": v2.clone()});
                v["roots"].as_array_mut().unwrap().push(extra);
            }),
        ),
    ];
    let t = check_family("bundles", &fx, cases);
    eprintln!("bundles: {} inputs, {} runs", t.inputs, t.runs);
}

// ---------------------------------------------------------- archives ----

/// Key archives (age files, and the tarball inside), through `signer list`,
/// `signer sign`, `signer keygen` and `signer export`; and plain fioctl
/// tarballs through `signer import`.
#[test]
fn hostile_archives_and_tarballs() {
    let fx = Ceremony::new();
    let good_ct = fx.read("keys.tgz.age");
    let good = open_archive(&good_ct).unwrap();
    let good_entries: Vec<RawEntry> = good.iter().map(|(n, d)| RawEntry::file(n, d)).collect();

    let opening = |name: &str, ct: Vec<u8>| {
        Case::new(name)
            .file("a.tgz.age", ct)
            .run(
                "signer",
                &["list", "a.tgz.age", "--passphrase-file", "pass.txt"],
            )
            .run(
                "signer",
                &[
                    "sign",
                    "proposal.json",
                    "--keys",
                    "a.tgz.age",
                    "-o",
                    "out.json",
                    "--new-archive",
                    "out.tgz.age",
                    "--passphrase-file",
                    "pass.txt",
                    "--yes",
                ],
            )
            .run(
                "signer",
                &[
                    "keygen",
                    "--keys",
                    "a.tgz.age",
                    "-o",
                    "pub.json",
                    "--new-archive",
                    "out2.tgz.age",
                    "--passphrase-file",
                    "pass.txt",
                ],
            )
            .run(
                "signer",
                &[
                    "export",
                    "a.tgz.age",
                    "-o",
                    "plain.tgz",
                    "--plaintext",
                    "--passphrase-file",
                    "pass.txt",
                ],
            )
    };
    // The same tarball, encrypted (through the archive commands) and plain
    // (through import): two inputs.
    let mut cases = Vec::new();
    let mut tar_case = |name: &str, extra: Vec<RawEntry>, word: Option<&'static str>| {
        let mut entries: Vec<RawEntry> = good_entries.clone();
        entries.extend(extra);
        let tgz = gzip(&raw_tar(&entries));
        let mut c = opening(&format!("archive-{name}"), age_encrypt(&tgz, PASSPHRASE));
        let mut p = Case::new(format!("tarball-{name}")).file("t.tgz", tgz).run(
            "signer",
            &[
                "import",
                "t.tgz",
                "-o",
                "out.tgz.age",
                "--passphrase-file",
                "pass.txt",
            ],
        );
        if let Some(w) = word {
            c = c.expect(w);
            p = p.expect(w);
        }
        cases.push(c);
        cases.push(p);
    };
    let entry = |name: &[u8], kind: tar::EntryType, link: Option<&[u8]>| RawEntry {
        name: name.to_vec(),
        kind,
        data: Vec::new(),
        link: link.map(<[u8]>::to_vec),
    };
    tar_case(
        "symlink",
        vec![entry(
            b"tufrepo/keys/evil.sec",
            tar::EntryType::Symlink,
            Some(b"/etc/shadow"),
        )],
        Some("link"),
    );
    tar_case(
        "hardlink",
        vec![entry(
            b"tufrepo/keys/hard.sec",
            tar::EntryType::Link,
            Some(b"/etc/passwd"),
        )],
        Some("link"),
    );
    tar_case(
        "char-device",
        vec![entry(b"dev/zero", tar::EntryType::Char, None)],
        Some("device"),
    );
    tar_case(
        "block-device",
        vec![entry(b"dev/sda", tar::EntryType::Block, None)],
        Some("device"),
    );
    tar_case(
        "fifo",
        vec![entry(b"pipe", tar::EntryType::Fifo, None)],
        None,
    );
    tar_case(
        "dotdot-path",
        vec![RawEntry::file("tufrepo/../../evil.sec", b"{}")],
        Some(".."),
    );
    tar_case(
        "absolute-path",
        vec![RawEntry::file("/etc/cron.d/evil", b"* * * * * root sh")],
        Some("absolute"),
    );
    tar_case(
        "backslash-path",
        vec![RawEntry::file("..\\..\\evil", b"x")],
        None,
    );
    tar_case(
        "drive-letter-path",
        vec![RawEntry::file("C:/evil", b"x")],
        None,
    );
    tar_case(
        "duplicate-entry",
        vec![RawEntry::file(
            "tuf-ceremony/manifest.json",
            br#"{"format":"tuf-ceremony/archive@1"}"#,
        )],
        Some("same name"),
    );
    tar_case(
        "oversize-entry-2mib",
        vec![RawEntry::file("big.bin", &vec![0u8; 2 << 20])],
        Some("limit"),
    );
    tar_case(
        "non-utf8-name",
        vec![RawEntry {
            name: b"tufrepo/keys/\xff\xfe.sec".to_vec(),
            kind: tar::EntryType::Regular,
            data: b"{}".to_vec(),
            link: None,
        }],
        Some("utf-8"),
    );
    tar_case(
        "pax-header-lies-about-size",
        vec![
            RawEntry {
                name: b"././@PaxHeader".to_vec(),
                kind: tar::EntryType::XHeader,
                data: b"20 size=99999999999\n".to_vec(),
                link: None,
            },
            RawEntry::file("after-pax.bin", b"0123456789"),
        ],
        None,
    );

    // Whole files.
    let manifest_with = |m: &[u8]| {
        let entries: Vec<RawEntry> = good
            .iter()
            .map(|(n, d)| {
                if n == "tuf-ceremony/manifest.json" {
                    RawEntry::file(n, m)
                } else {
                    RawEntry::file(n, d)
                }
            })
            .collect();
        age_encrypt(&gzip(&raw_tar(&entries)), PASSPHRASE)
    };
    let mut flipped_payload = good_ct.clone();
    let n = flipped_payload.len();
    flipped_payload[n - 20] ^= 0x01;
    let mut flipped_header = good_ct.clone();
    let hdr_end = good_ct.windows(4).position(|w| w == b"\n---").unwrap();
    flipped_header[hdr_end - 3] ^= 0x02;
    let header_text = String::from_utf8_lossy(&good_ct[..hdr_end]).into_owned();
    let work_factor_40 = {
        // "-> scrypt SALT 10" -> "... 40": age refuses before deriving.
        let line = header_text
            .lines()
            .find(|l| l.starts_with("-> scrypt"))
            .unwrap()
            .to_string();
        let bumped = format!("{} 40", line.rsplit_once(' ').unwrap().0);
        let mut ct = good_ct.clone();
        let at = ct
            .windows(line.len())
            .position(|w| w == line.as_bytes())
            .unwrap();
        ct.splice(at..at + line.len(), bumped.bytes());
        ct
    };
    let bomb = {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..80 {
            std::io::Write::write_all(&mut gz, &zeros).unwrap();
        }
        age_encrypt(&gz.finish().unwrap(), PASSPHRASE)
    };

    cases.extend([
        opening("empty-file", Vec::new()),
        opening("random-bytes", {
            let mut b = vec![0u8; 4096];
            for (i, x) in b.iter_mut().enumerate() {
                *x = (i * 7919 % 251) as u8;
            }
            b
        }),
        opening("age-header-line-only", b"age-encryption.org/v1\n".to_vec()),
        opening("truncated-half", good_ct[..good_ct.len() / 2].to_vec()),
        opening(
            "truncated-last-byte",
            good_ct[..good_ct.len() - 1].to_vec(),
        ),
        opening("payload-byte-flipped", flipped_payload),
        opening("header-mac-broken", flipped_header),
        opening(
            "armored-garbage",
            b"-----BEGIN AGE ENCRYPTED FILE-----\nnot base64 at all!\n-----END AGE ENCRYPTED FILE-----\n"
                .to_vec(),
        ),
        opening("scrypt-work-factor-2^40", work_factor_40),
        opening(
            "encrypted-to-an-x25519-recipient",
            age_encrypt_x25519(&gzip(b"x")),
        ),
        opening("plaintext-not-gzip", age_encrypt(b"hello", PASSPHRASE)),
        opening(
            "gzip-but-not-tar",
            age_encrypt(&gzip(&b"not a tarball ".repeat(100)), PASSPHRASE),
        ),
        opening("empty-plaintext", age_encrypt(b"", PASSPHRASE)),
        opening("gzip-bomb-80mib", bomb),
        opening(
            "manifest-format-9",
            manifest_with(br#"{"format":"tuf-ceremony/archive@9","keys":[]}"#),
        )
        .expect("archive@9"),
        opening("manifest-not-json", manifest_with(b"{{{")),
        Case::new("archive-is-a-folder")
            .file("a.tgz.age/x", b"x".to_vec())
            .run(
                "signer",
                &["list", "a.tgz.age", "--passphrase-file", "pass.txt"],
            ),
        Case::new("archive-is-a-device")
            .link("a.tgz.age", "/dev/zero")
            .run(
                "signer",
                &["list", "a.tgz.age", "--passphrase-file", "pass.txt"],
            )
            .run(
                "signer",
                &[
                    "keygen",
                    "--keys",
                    "a.tgz.age",
                    "-o",
                    "pub.json",
                    "--new-archive",
                    "out2.tgz.age",
                    "--passphrase-file",
                    "pass.txt",
                ],
            ),
        Case::new("archive-missing").run(
            "signer",
            &["list", "nothing.tgz.age", "--passphrase-file", "pass.txt"],
        ),
        Case::new("wrong-passphrase")
            .file("wrong.txt", b"not the passphrase\n".to_vec())
            .run(
                "signer",
                &["list", "keys.tgz.age", "--passphrase-file", "wrong.txt"],
            )
            .run(
                "signer",
                &[
                    "sign",
                    "proposal.json",
                    "--keys",
                    "keys.tgz.age",
                    "-o",
                    "out.json",
                    "--new-archive",
                    "out.tgz.age",
                    "--passphrase-file",
                    "wrong.txt",
                    "--yes",
                ],
            )
            .expect("passphrase"),
        Case::new("passphrase-file-empty")
            .file("empty.txt", Vec::new())
            .run(
                "signer",
                &["list", "keys.tgz.age", "--passphrase-file", "empty.txt"],
            ),
        Case::new("passphrase-file-not-utf8")
            .file("bin.txt", vec![0xff, 0xfe, 0x00, 0x41])
            .run(
                "signer",
                &["list", "keys.tgz.age", "--passphrase-file", "bin.txt"],
            ),
        Case::new("passphrase-file-huge")
            .file("huge.txt", vec![b'a'; 1 << 20])
            .run(
                "signer",
                &["list", "keys.tgz.age", "--passphrase-file", "huge.txt"],
            ),
        Case::new("import-an-age-file-as-a-tarball").run(
            "signer",
            &[
                "import",
                "keys.tgz.age",
                "-o",
                "out.tgz.age",
                "--passphrase-file",
                "pass.txt",
            ],
        ),
        Case::new("tarball-not-gzip")
            .file("t.tgz", b"plain text, not gzip".to_vec())
            .run(
                "signer",
                &[
                    "import",
                    "t.tgz",
                    "-o",
                    "out.tgz.age",
                    "--passphrase-file",
                    "pass.txt",
                ],
            ),
        Case::new("tarball-without-keys")
            .file("t.tgz", gzip(&raw_tar(&[RawEntry::file("README", b"hi")])))
            .run(
                "signer",
                &[
                    "import",
                    "t.tgz",
                    "-o",
                    "out.tgz.age",
                    "--passphrase-file",
                    "pass.txt",
                ],
            ),
    ]);
    let t = check_family("archives", &fx, cases);
    eprintln!("archives: {} inputs, {} runs", t.inputs, t.runs);
}

// --------------------------------------------------------- key files ----

/// Key files: PKCS#8 PEM through `signer import --key`; fioctl `.sec` files
/// through `signer import` of a tarball; public-key files
/// (`tuf-ceremony/pubkey@1`) through `submitter show` and `submitter
/// propose --provided-key`.
#[test]
fn hostile_key_files() {
    let fx = Ceremony::new();
    let pubkey = fx.json("pubkey.json");
    let good_pem = fx.root_key.to_pkcs8_pem().unwrap().to_string();
    let rsa1024 = TestKey::generate(TestKeyType::Rsa(1024));

    let pem = |name: &str, bytes: Vec<u8>| {
        Case::new(format!("pem-{name}")).file("k.pem", bytes).run(
            "signer",
            &[
                "import",
                "--key",
                "k.pem",
                "-o",
                "out.tgz.age",
                "--passphrase-file",
                "pass.txt",
            ],
        )
    };
    let sec = |name: &str, bytes: Vec<u8>| {
        let tgz = gzip(&raw_tar(&[RawEntry::file(
            "tufrepo/keys/fioctl-root-aa.sec",
            &bytes,
        )]));
        Case::new(format!("sec-{name}")).file("t.tgz", tgz).run(
            "signer",
            &[
                "import",
                "t.tgz",
                "-o",
                "out.tgz.age",
                "--passphrase-file",
                "pass.txt",
            ],
        )
    };
    let pubfile = |name: &str, bytes: Vec<u8>| {
        Case::new(format!("pubkey-{name}"))
            .file("k.json", bytes)
            .run("submitter", &["show", "k.json"])
            .run(
                "submitter",
                &[
                    "propose",
                    "--repo",
                    "repo/metadata",
                    "--rotate-all",
                    "--provided-key",
                    "k.json",
                    "-o",
                    "p2.json",
                ],
            )
    };
    let der_pem = |label: &str, der: &[u8]| {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
        .into_bytes()
    };
    let good_der = {
        use base64::Engine as _;
        let body: String = good_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    };
    let ats_rsa1024 = rsa1024.ats_private();
    let spki1024 = {
        let mut v = pubkey.clone();
        v["spki_pem"] =
            json!(String::from_utf8(der_pem("PUBLIC KEY", &rsa1024.spki_der())).unwrap());
        v["fingerprint"] = json!(hex::encode(Sha256::digest(rsa1024.spki_der())));
        v["key_type"] = json!("rsa-1024");
        v
    };

    let cases = vec![
        pem("empty", Vec::new()),
        pem("not-pem", b"just some text\n".to_vec()),
        pem(
            "garbage-base64",
            b"-----BEGIN PRIVATE KEY-----\n!!!!notbase64!!!!\n-----END PRIVATE KEY-----\n"
                .to_vec(),
        ),
        pem(
            "public-key-instead",
            pubkey["spki_pem"].as_str().unwrap().as_bytes().to_vec(),
        ),
        pem(
            "encrypted-pkcs8",
            der_pem("ENCRYPTED PRIVATE KEY", &good_der),
        ),
        pem(
            "truncated-der",
            der_pem("PRIVATE KEY", &good_der[..good_der.len() - 7]),
        ),
        pem("der-with-trailing-bytes", {
            let mut d = good_der.clone();
            d.extend([0, 0, 0]);
            der_pem("PRIVATE KEY", &d)
        }),
        pem("truncated-text", good_pem.as_bytes()[..40].to_vec()),
        pem("rsa-1024", rsa1024.pkcs8_pem().into_bytes()).expect("1024"),
        pem("non-utf8", vec![0x2d, 0x2d, 0xff, 0xfe, 0x0a]),
        pem("over-64kib", {
            let mut p = good_pem.clone().into_bytes();
            p.extend(vec![b'\n'; 70_000]);
            p
        }),
        Case::new("pem-is-a-folder")
            .file("k.pem/inside", b"x".to_vec())
            .run(
                "signer",
                &[
                    "import",
                    "--key",
                    "k.pem",
                    "-o",
                    "out.tgz.age",
                    "--passphrase-file",
                    "pass.txt",
                ],
            ),
        sec("not-json", b"{keytype".to_vec()),
        sec(
            "keytype-dsa",
            br#"{"keytype":"DSA","keyval":{"private":"00"}}"#.to_vec(),
        ),
        sec(
            "ed25519-hex-too-short",
            br#"{"keytype":"ED25519","keyval":{"private":"abcdef"}}"#.to_vec(),
        ),
        sec(
            "ed25519-hex-not-hex",
            format!(
                r#"{{"keytype":"ED25519","keyval":{{"private":"{}"}}}}"#,
                "zz".repeat(32)
            )
            .into_bytes(),
        ),
        sec(
            "ed25519-seed-and-wrong-public",
            format!(
                r#"{{"keytype":"ED25519","keyval":{{"private":"{}{}"}}}}"#,
                "11".repeat(32),
                "22".repeat(32)
            )
            .into_bytes(),
        ),
        sec(
            "rsa-garbage-pem",
            br#"{"keytype":"RSA","keyval":{"private":"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"}}"#
                .to_vec(),
        ),
        sec("rsa-1024", serde_json::to_vec(&ats_rsa1024).unwrap()),
        sec("non-utf8", vec![b'{', 0xff, b'}']),
        sec("json-array", b"[1,2,3]".to_vec()),
        pubfile(
            "fingerprint-mismatch",
            pretty(&edit(&pubkey, |v| v["fingerprint"] = json!("ab".repeat(32)))),
        )
        .expect("fingerprint"),
        pubfile(
            "key-type-mismatch",
            pretty(&edit(&pubkey, |v| v["key_type"] = json!("rsa-4096"))),
        ),
        pubfile(
            "spki-garbage",
            pretty(&edit(&pubkey, |v| {
                v["spki_pem"] =
                    json!("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
            })),
        ),
        pubfile(
            "format-wrong",
            pretty(&edit(&pubkey, |v| v["format"] = json!("tuf-ceremony/pubkey@7"))),
        ),
        pubfile(
            "duplicate-key",
            replace_once(
                &compact(&pubkey),
                "\"fingerprint\":",
                "\"fingerprint\":\"00\",\"fingerprint\":",
            )
            .into(),
        )
        .expect("duplicate"),
        pubfile("rsa-1024", pretty(&spki1024)),
        pubfile("not-json", b"ssh-ed25519 AAAA".to_vec()),
        pubfile("empty", Vec::new()),
    ];
    let t = check_family("key-files", &fx, cases);
    eprintln!("key files: {} inputs, {} runs", t.inputs, t.runs);
}

// ---------------------------------------------------------- QR frames ----

fn frames_of(bytes: &[u8], fragment: usize) -> Vec<String> {
    let mut enc = Encoder::new(
        bytes,
        &EncodeOptions {
            fragment,
            compress: true,
        },
    )
    .unwrap();
    let n = enc.fragment_count();
    enc.frames(n)
}

/// A UR message with the transport header, made by hand.
fn message(version: u8, flags: u8, claimed: &[u8], body: &[u8]) -> Vec<u8> {
    let mut m = b"TUFC".to_vec();
    m.extend([version, flags, 1]);
    m.extend((claimed.len() as u32).to_be_bytes());
    m.extend(Sha256::digest(claimed));
    m.extend(body);
    m
}

fn ur_frames(message: &[u8]) -> Vec<String> {
    let mut enc = ur::Encoder::new(message, 100, UR_TYPE).unwrap();
    (0..enc.fragment_count())
        .map(|_| enc.next_part().unwrap())
        .collect()
}

fn lines(frames: &[String]) -> Vec<u8> {
    let mut out = frames.join("\n");
    out.push('\n');
    out.into_bytes()
}

/// QR frames as text, through `signer qr read`, `submitter qr read` and
/// (frames of a hostile proposal) `signer sign --qr-text`.
#[test]
fn hostile_qr_frames() {
    let fx = Ceremony::new();
    let proposal = fx.read("proposal.json");
    let bundle = fx.read("bundle.json");
    let pf = frames_of(&proposal, 100);
    let bf = frames_of(&bundle, 100);
    assert!(pf.len() >= 4);

    let read = |name: &str, text: Vec<u8>| {
        Case::new(name)
            .file("f.txt", text)
            .run(
                "signer",
                &["qr", "read", "--text", "f.txt", "-o", "out.json"],
            )
            .run(
                "submitter",
                &["qr", "read", "--text", "f.txt", "-o", "out.json"],
            )
    };
    let sign_qr = |name: &str, file: &[u8]| {
        Case::new(name)
            .file("f.txt", lines(&frames_of(file, 200)))
            .run(
                "signer",
                &[
                    "sign",
                    "--qr-text",
                    "f.txt",
                    "--keys",
                    "keys.tgz.age",
                    "-o",
                    "out.json",
                    "--new-archive",
                    "out.tgz.age",
                    "--passphrase-file",
                    "pass.txt",
                    "--yes",
                ],
            )
    };
    let corrupted: Vec<String> = pf
        .iter()
        .map(|f| {
            let mut b = f.clone().into_bytes();
            let i = b.len() - 3;
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            String::from_utf8(b).unwrap()
        })
        .collect();
    let mut mixed = Vec::new();
    for i in 0..pf.len().max(bf.len()) {
        if let Some(f) = pf.get(i) {
            mixed.push(f.clone());
        }
        if let Some(f) = bf.get(i) {
            mixed.push(f.clone());
        }
    }
    let real = b"{\"format\":\"tuf-ceremony/proposal@1\"}\n".repeat(20);
    let mut tampered = real.clone();
    tampered[40] = b'X';
    let p: Value = serde_json::from_slice(&proposal).unwrap();

    let cases = vec![
        read("empty-file", Vec::new()),
        read("blank-lines", b"\n\n   \n\t\n".to_vec()),
        read("random-text", b"hello\nworld\nUR:\n".to_vec()),
        read("non-utf8", vec![0xff, 0xfe, b'\n', 0x80, b'\n']),
        read(
            "another-ur-type",
            b"ur:bytes/hdcxdwjtjtiy\nur:crypto-psbt/1-3/lpadaxcsencylobemohsgmoyadhdeynteelblrcygldwvarflojhfe\n"
                .to_vec(),
        ),
        read("checksum-broken-in-every-frame", lines(&corrupted)),
        read("frames-of-two-files-mixed", lines(&mixed)),
        read("half-the-frames", lines(&pf[..pf.len() / 2])),
        read(
            "one-line-of-20000-characters",
            format!("UR:X-TUF-CEREMONY/1-1/{}\n", "A".repeat(20_000)).into_bytes(),
        ),
        read(
            "sequence-zero-of-zero",
            b"UR:X-TUF-CEREMONY/0-0/LPADADCSKBADLYLY\n".to_vec(),
        ),
        read(
            "whole-file-digest-mismatch",
            lines(&ur_frames(&message(1, 0, &real, &tampered))),
        ),
        read(
            "transport-version-2",
            lines(&ur_frames(&message(2, 0, &real, &real))),
        ),
        read(
            "body-does-not-inflate",
            lines(&ur_frames(&message(1, 1, &real, &tampered))),
        ),
        read(
            "no-tuf-ceremony-header",
            lines(&ur_frames(b"not ours at all, no magic here, just some bytes")),
        ),
        sign_qr(
            "frames-of-a-proposal-with-threshold-zero",
            &pretty(&edit(&p, |v| v["change"]["threshold"] = json!(0))),
        ),
        sign_qr(
            "frames-of-a-bundle-instead",
            &bundle,
        ),
        sign_qr("frames-of-non-json", b"not a proposal at all, just text\n"),
    ];
    let t = check_family("qr-frames", &fx, cases);
    eprintln!("QR frames: {} inputs, {} runs", t.inputs, t.runs);
}

/// Commands given paths that are not files at all, or the same file twice.
#[test]
fn hostile_paths() {
    let fx = Ceremony::new();
    let cases = vec![
        Case::new("proposal-is-a-folder")
            .file("p.json/x", b"x".to_vec())
            .run("signer", &["review", "p.json"]),
        Case::new("proposal-is-a-device")
            .link("p.json", "/dev/urandom")
            .run("signer", &["review", "p.json"])
            .run("submitter", &["show", "p.json"]),
        Case::new("proposal-missing").run("signer", &["review", "none.json"]),
        Case::new("bundle-output-exists-as-a-link")
            .link("out.json", "/nonexistent/target")
            .run(
                "signer",
                &[
                    "sign",
                    "proposal.json",
                    "--keys",
                    "keys.tgz.age",
                    "-o",
                    "out.json",
                    "--new-archive",
                    "out.tgz.age",
                    "--passphrase-file",
                    "pass.txt",
                    "--yes",
                ],
            ),
        Case::new("new-archive-is-the-old-one").run(
            "signer",
            &[
                "sign",
                "proposal.json",
                "--keys",
                "keys.tgz.age",
                "-o",
                "out.json",
                "--new-archive",
                "keys.tgz.age",
                "--passphrase-file",
                "pass.txt",
                "--yes",
            ],
        ),
        Case::new("new-archive-same-as-bundle").run(
            "signer",
            &[
                "sign",
                "proposal.json",
                "--keys",
                "keys.tgz.age",
                "-o",
                "same.json",
                "--new-archive",
                "same.json",
                "--passphrase-file",
                "pass.txt",
                "--yes",
            ],
        ),
        Case::new("keygen-output-exists").run(
            "signer",
            &[
                "keygen",
                "--keys",
                "keys.tgz.age",
                "-o",
                "pubkey.json",
                "--new-archive",
                "x.tgz.age",
                "--passphrase-file",
                "pass.txt",
            ],
        ),
        Case::new("audit-folder-missing")
            .run("signer", &["audit", "--metadata-dir", "nowhere"])
            .run("submitter", &["audit", "--metadata-dir", "nowhere"]),
        Case::new("audit-folder-empty")
            .file("m/README", b"no roots here".to_vec())
            .run("signer", &["audit", "--metadata-dir", "m"])
            .run("submitter", &["audit", "--metadata-dir", "m"]),
        Case::new("audit-root-is-a-device")
            .file("m/README", b"x".to_vec())
            .link("m/1.root.json", "/dev/zero")
            .run("signer", &["audit", "--metadata-dir", "m"])
            .run("submitter", &["audit", "--metadata-dir", "m"]),
        Case::new("transcript-is-a-device")
            .link("t.jsonl", "/dev/zero")
            .run("signer", &["verify-transcript", "t.jsonl"])
            .run(
                "signer",
                &[
                    "verify-transcript",
                    "bundle.transcript.jsonl",
                    "--root",
                    "t.jsonl",
                ],
            ),
        Case::new("trusted-root-is-a-device")
            .link("t.json", "/dev/zero")
            .run(
                "signer",
                &[
                    "audit",
                    "--metadata-dir",
                    "repo/metadata",
                    "--trusted",
                    "t.json",
                ],
            )
            .run(
                "submitter",
                &[
                    "audit",
                    "--metadata-dir",
                    "repo/metadata",
                    "--trusted",
                    "t.json",
                ],
            ),
        Case::new("qr-show-a-device")
            .link("z", "/dev/zero")
            .run("signer", &["qr", "show", "z", "--text"])
            .run("submitter", &["qr", "show", "z", "--text"]),
        Case::new("qr-read-frames-from-a-device")
            .link("z", "/dev/zero")
            .run("signer", &["qr", "read", "--text", "z", "-o", "out.json"])
            .noisy(),
        Case::new("upload-a-device")
            .link("z", "/dev/zero")
            .run("submitter", &["upload", "z", "--proposal", "proposal.json"])
            .run("submitter", &["upload", "bundle.json", "--proposal", "z"]),
        Case::new("transcript-is-not-a-transcript")
            .file("t.jsonl", b"{\"kind\":\"start\"}\nnot json\n".to_vec())
            .run("signer", &["verify-transcript", "t.jsonl"]),
        Case::new("transcript-with-an-edited-entry")
            .file("t.jsonl", {
                let t = String::from_utf8(fx.read("bundle.transcript.jsonl")).unwrap();
                t.replacen("\"operator\":null", "\"operator\":\"Mallory\"", 1)
                    .replacen("\"yes\":true", "\"yes\":false", 1)
                    .into_bytes()
            })
            .run(
                "signer",
                &["verify-transcript", "t.jsonl", "--root", "bundle.json"],
            ),
    ];
    let t = check_family("paths", &fx, cases);
    eprintln!("paths: {} inputs, {} runs", t.inputs, t.runs);
}

#[test]
fn the_engine_notices_a_broken_promise() {
    // A command that succeeds must be reported: otherwise a green suite
    // would prove nothing.
    let fx = Ceremony::new();
    let r = std::panic::catch_unwind(|| {
        check_family(
            "self-test",
            &fx,
            vec![Case::new("a-valid-proposal").run("signer", &["review", "proposal.json"])],
        )
    });
    let msg = match r {
        Ok(_) => panic!("a successful command was not reported"),
        Err(e) => e.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(msg.contains("ACCEPTED (exit 0)"), "{msg}");
}
