//! Item 3: escape injection across every command. C0, C1, DEL, escape
//! sequences, bidi controls (U+202A–U+202E, U+2066–U+2069), zero-width and
//! invisible format characters go into every string field of a proposal,
//! a root, a bundle, a transcript, an archive's entry names, and into file
//! names; every command of both binaries that reads them runs; no raw one
//! may reach stdout or stderr, `--json` must stay valid JSON, `--html`
//! reports must be HTML-escaped and hold none either.

use std::path::Path;

use ceremony::Dialect;
use ceremony_tests::files::{age_encrypt, gzip, raw_tar, RawEntry};
use ceremony_tests::prelude::*;
use serde_json::{json, Value};

use super::common::*;

/// Every kind of character that must never reach a terminal raw, and an
/// HTML tag.
const P: &str = "\u{1}\u{7}\u{8}\u{1b}[2J\u{1b}[1A\u{1b}]0;t\u{7}\u{7f}\u{85}\u{9b}31m\u{202a}\u{202b}\u{202c}\u{202d}\u{202e}\u{2066}\u{2067}\u{2068}\u{2069}\u{200b}\u{200c}\u{200d}\u{2060}\u{feff}\u{ad}\u{e0041}<script>x</script>";
/// A shorter one for names with a length limit (tar's 100 bytes).
const SHORT: &str = "\u{1b}[2J\u{202e}\u{9b}\u{200b}";

/// Puts `P` after every string of a JSON value and into a new field name
/// of every object, except where `keep` says a string must stay (so the
/// file still parses as what it is).
fn poison(v: &mut Value, keep: &dyn Fn(&str) -> bool, key: &str) {
    match v {
        Value::String(s) if !keep(key) => s.push_str(P),
        Value::Array(a) => a.iter_mut().for_each(|x| poison(x, keep, key)),
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                poison(x, keep, k);
            }
            if !keep(key) {
                m.insert(format!("x-{P}"), json!(P));
            }
        }
        _ => {}
    }
}

struct Run {
    what: String,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    code: i32,
}

fn run(dir: &Path, bin: &str, args: &[&str]) -> Run {
    let out = TestCommand::new(bin, dir).args(args).output();
    Run {
        what: format!("{bin} {}", args.join(" ")),
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

fn judge(r: &Run, json: bool) -> Vec<String> {
    let what = ceremony_tests_escape(&r.what.replace(P, "<P>").replace(SHORT, "<S>"));
    let mut p = raw_problems(&format!("{what}: stdout"), &r.stdout);
    p.extend(raw_problems(&format!("{what}: stderr"), &r.stderr));
    if r.code == 101 || String::from_utf8_lossy(&r.stderr).contains("panicked") {
        p.push(format!("{what}: panicked"));
    }
    if json && r.code == 0 && serde_json::from_slice::<Value>(&r.stdout).is_err() {
        p.push(format!("{what}: --json output is not JSON"));
    }
    p
}

/// A command line as our own messages may show it.
fn ceremony_tests_escape(s: &str) -> String {
    super::oracle::shown(s)
}

fn html_problems(path: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut p = raw_problems(&name, &bytes);
    if String::from_utf8_lossy(&bytes).contains("<script>x</script>") {
        p.push(format!("{name}: an injected tag is not HTML-escaped"));
    }
    p
}

#[test]
fn no_raw_control_character_reaches_any_output() {
    let t = tuf();
    let f = factory();
    let dir = t.case(&[
        "keys.tgz.age",
        "bundle.json",
        "bundle.transcript.jsonl",
        "pubkey.json",
    ]);
    let d = dir.path();
    let mut problems = Vec::new();

    // Proposals: every string of the Factory and TUF proposals, but the
    // format, dialect and kinds (else nothing past parsing would run).
    let keep = |k: &str| matches!(k, "format" | "dialect" | "kind");
    let mut op = f.proposal();
    poison(&mut op, &keep, "");
    write_json(d, "ota.json", &op);
    // Only the fields a signer shows before refusing or signing.
    let mut tp = t.json("proposal.json");
    for field in ["txid", "created"] {
        tp[field] = json!(format!("x{P}"));
    }
    tp["change"]["message"] = json!(format!("m{P}"));
    tp["target"]["path"] = json!(format!("/srv/{P}"));
    write_json(d, "tuf.json", &tp);
    let odd_name = format!("p{P}.json").replace('/', "-");
    write_json(d, &odd_name, &tp);

    // A root with poisoned fields (unsigned: audit reads and refuses it).
    std::fs::create_dir_all(d.join("meta")).unwrap();
    let mut root = t.json("repo/metadata/1.root.json");
    poison(&mut root["signed"], &|k| k == "_type", "");
    std::fs::write(d.join("meta/1.root.json"), pretty(&root)).unwrap();
    let mut root2 = t.json("repo/metadata/2.root.json");
    root2["signed"]["x-note"] = json!(P);
    root2["signed"]["roles"][format!("r{P}")] =
        json!({"keyids": [format!("k{P}")], "threshold": 1});
    std::fs::create_dir_all(d.join("meta2")).unwrap();
    std::fs::copy(
        t.path().join("repo/metadata/1.root.json"),
        d.join("meta2/1.root.json"),
    )
    .unwrap();
    std::fs::write(d.join("meta2/2.root.json"), pretty(&root2)).unwrap();

    // A bundle with poisoned fields.
    let mut b = t.json("bundle.json");
    poison(&mut b, &|k| matches!(k, "format" | "dialect" | "kind"), "");
    write_json(d, "bad-bundle.json", &b);

    // A transcript whose entries carry it (the chain breaks: verify says
    // where, escaped).
    let tr = std::fs::read_to_string(d.join("bundle.transcript.jsonl")).unwrap();
    let poisoned: String = tr
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if let Some(data) = v.get_mut("data") {
                poison(data, &|_| false, "");
            }
            serde_json::to_string(&v).unwrap() + "\n"
        })
        .collect();
    std::fs::write(d.join("bad.transcript.jsonl"), poisoned).unwrap();

    // An archive whose entry names carry it.
    let k = ceremony_tests::ota::key(false);
    let tarball = raw_tar(&[
        RawEntry::file(
            &format!("tufrepo/keys/fioctl-root-{SHORT}.sec"),
            k.to_ats_private_json().unwrap().as_bytes(),
        ),
        RawEntry::file(
            &format!("tufrepo/keys/fioctl-root-{SHORT}.pub"),
            k.to_ats_public_json().as_bytes(),
        ),
    ]);
    std::fs::write(
        d.join("odd.tgz.age"),
        age_encrypt(&gzip(&tarball), PASSPHRASE),
    )
    .unwrap();
    let _ = Dialect::Tuf;

    // QR text frames: a line that is no frame, and a frame's type.
    std::fs::write(
        d.join("frames.ur"),
        format!("UR:X-TUF-CEREMONY{P}/1-2/LPADAO\nnot a frame {P}\n"),
    )
    .unwrap();
    let missing = format!("missing{P}.json");
    let runs: Vec<(Vec<String>, bool, &str)> = vec![
        (vec!["review".into(), "ota.json".into()], false, "signer"),
        (vec!["review".into(), "tuf.json".into()], false, "signer"),
        (vec!["review".into(), odd_name.clone()], false, "signer"),
        (vec!["review".into(), missing.clone()], false, "signer"),
        (
            SignArgs::new()
                .proposal("ota.json")
                .out("b1.json")
                .new_archive(Some("n1.tgz.age"))
                .to_vec(),
            false,
            "signer",
        ),
        (
            SignArgs::new()
                .proposal("tuf.json")
                .out("b2.json")
                .new_archive(Some("n2.tgz.age"))
                .to_vec(),
            false,
            "signer",
        ),
        (
            SignArgs::new()
                .proposal(&odd_name)
                .out(&format!("b{P}.json"))
                .new_archive(Some("n3.tgz.age"))
                .to_vec(),
            false,
            "signer",
        ),
        (
            vec![
                "list".into(),
                "odd.tgz.age".into(),
                "--passphrase-file".into(),
                "pass.txt".into(),
            ],
            false,
            "signer",
        ),
        (
            vec![
                "list".into(),
                "odd.tgz.age".into(),
                "--passphrase-file".into(),
                "pass.txt".into(),
                "--json".into(),
            ],
            true,
            "signer",
        ),
        (
            vec![
                "list".into(),
                format!("k{P}.age"),
                "--passphrase-file".into(),
                "pass.txt".into(),
            ],
            false,
            "signer",
        ),
        (
            vec!["audit".into(), "--metadata-dir".into(), "meta".into()],
            false,
            "signer",
        ),
        (
            vec!["audit".into(), "--metadata-dir".into(), "meta2".into()],
            false,
            "signer",
        ),
        (
            vec![
                "audit".into(),
                "--metadata-dir".into(),
                "meta2".into(),
                "--json".into(),
            ],
            true,
            "signer",
        ),
        (
            vec![
                "audit".into(),
                "--metadata-dir".into(),
                "meta2".into(),
                "--html".into(),
                "audit.html".into(),
            ],
            false,
            "signer",
        ),
        (
            vec!["audit".into(), "--metadata-dir".into(), "meta2".into()],
            false,
            "submitter",
        ),
        (
            vec![
                "audit".into(),
                "--metadata-dir".into(),
                "meta2".into(),
                "--json".into(),
            ],
            true,
            "submitter",
        ),
        (
            vec![
                "audit".into(),
                "--metadata-dir".into(),
                "meta".into(),
                "--html".into(),
                "audit2.html".into(),
            ],
            false,
            "submitter",
        ),
        (
            vec![
                "verify-transcript".into(),
                "bad.transcript.jsonl".into(),
                "--root".into(),
                "bundle.json".into(),
            ],
            false,
            "signer",
        ),
        (
            vec![
                "verify-transcript".into(),
                "bad.transcript.jsonl".into(),
                "--root".into(),
                "bundle.json".into(),
                "--html".into(),
                "vt.html".into(),
            ],
            false,
            "signer",
        ),
        (
            vec![
                "verify-transcript".into(),
                "bundle.transcript.jsonl".into(),
                "--root".into(),
                "bad-bundle.json".into(),
                odd_name.clone(),
            ],
            false,
            "signer",
        ),
        (
            vec![
                "verify-transcript".into(),
                "bad.transcript.jsonl".into(),
                "--root".into(),
                "bundle.json".into(),
            ],
            false,
            "submitter",
        ),
        (vec!["show".into(), "ota.json".into()], false, "submitter"),
        (
            vec!["show".into(), "ota.json".into(), "--json".into()],
            true,
            "submitter",
        ),
        (
            vec!["show".into(), "bad-bundle.json".into()],
            false,
            "submitter",
        ),
        (
            vec!["show".into(), "meta2/2.root.json".into()],
            false,
            "submitter",
        ),
        (vec!["show".into(), odd_name.clone()], false, "submitter"),
        (
            vec!["upload".into(), "bad-bundle.json".into()],
            false,
            "submitter",
        ),
        (vec!["upload".into(), missing.clone()], false, "submitter"),
        (
            vec![
                "qr".into(),
                "read".into(),
                "--text".into(),
                missing.clone(),
                "-o".into(),
                "q.json".into(),
            ],
            false,
            "signer",
        ),
        (
            vec![
                "qr".into(),
                "show".into(),
                odd_name.clone(),
                "--text".into(),
            ],
            false,
            "signer",
        ),
        (
            vec![
                "qr".into(),
                "read".into(),
                "--image".into(),
                missing.clone(),
                "-o".into(),
                "q2.json".into(),
            ],
            false,
            "submitter",
        ),
        (
            vec![
                "qr".into(),
                "read".into(),
                "--text".into(),
                "frames.ur".into(),
                "-o".into(),
                "q3.json".into(),
            ],
            false,
            "signer",
        ),
        (
            vec![
                "qr".into(),
                "read".into(),
                "--text".into(),
                "frames.ur".into(),
                "-o".into(),
                "q4.json".into(),
            ],
            false,
            "submitter",
        ),
        (
            SignArgs::new()
                .qr_text("frames.ur", false)
                .out("b4.json")
                .new_archive(Some("n4.tgz.age"))
                .to_vec(),
            false,
            "signer",
        ),
        (
            vec![
                "propose".into(),
                "--repo".into(),
                "meta".into(),
                "--rotate-all".into(),
                "-o".into(),
                "px.json".into(),
            ],
            false,
            "submitter",
        ),
        (
            vec![
                "propose".into(),
                "--repo".into(),
                "meta2".into(),
                "--rotate-all".into(),
                "-o".into(),
                "py.json".into(),
            ],
            false,
            "submitter",
        ),
        (
            vec![
                "merge".into(),
                "bad-bundle.json".into(),
                "bundle.json".into(),
                "-o".into(),
                "m.json".into(),
                "--proposal".into(),
                "tuf.json".into(),
            ],
            false,
            "submitter",
        ),
        (
            vec![
                "show".into(),
                "bad-bundle.json".into(),
                "--json".into(),
                "--proposal".into(),
                "tuf.json".into(),
            ],
            true,
            "submitter",
        ),
        (
            vec!["show".into(), "meta/1.root.json".into(), "--json".into()],
            true,
            "submitter",
        ),
        // Values the argument parser refuses, as a file name from the stick
        // may become one.
        (
            vec![
                "review".into(),
                "tuf.json".into(),
                "--key-type".into(),
                format!("ed{P}"),
            ],
            false,
            "signer",
        ),
        (
            vec![
                "audit".into(),
                "--metadata-dir".into(),
                "meta2".into(),
                "--dialect".into(),
                format!("tuf{P}"),
            ],
            false,
            "submitter",
        ),
        (
            vec!["review".into(), "tuf.json".into(), format!("extra{P}")],
            false,
            "signer",
        ),
    ];
    for (args, json, bin) in &runs {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        problems.extend(judge(&run(d, bin, &a), *json));
    }
    // `--json` carries the characters, as JSON escapes: what parses back
    // holds them again.
    let shown = run(d, "submitter", &["show", "tuf.json", "--json"]);
    let text = String::from_utf8_lossy(&shown.stdout);
    let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if shown.code != 0 || !text.contains("\\u001b") || !holds_char(&parsed, '\u{1b}') {
        problems.push(format!(
            "submitter show tuf.json --json (exit {}): the characters are not carried as JSON escapes",
            shown.code
        ));
    }
    for html in ["audit.html", "audit2.html", "vt.html"] {
        problems.extend(html_problems(&d.join(html)));
    }
    // The transcripts the two signs above wrote.
    problems.extend(
        human_files_problems(d)
            .into_iter()
            .filter(|x| !x.starts_with("bad.transcript") && !x.contains(".html:")),
    );
    report("escape injection", problems);
}

/// Whether any string (or object key) of `v` holds `c`.
fn holds_char(v: &Value, c: char) -> bool {
    match v {
        Value::String(s) => s.contains(c),
        Value::Array(a) => a.iter().any(|x| holds_char(x, c)),
        Value::Object(m) => m.iter().any(|(k, x)| k.contains(c) || holds_char(x, c)),
        _ => false,
    }
}
