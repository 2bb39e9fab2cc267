//! Class 5: transcripts that authenticate. An artefact counts as recorded
//! only in the input or output entry of its kind (not because its hash
//! stands inside an attacker's txid); a bundle given as an artefact is
//! recognised; without `--root` or a bundle nothing is authenticated (exit
//! 3) unless `--chain-only`; an aborted ceremony is reported as aborted.

use ceremony_tests::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::common::*;

/// `signer verify-transcript ARGS` in `dir`: the exit code, the problems
/// of its raw output, and its text.
fn verify(dir: &std::path::Path, args: &[&str]) -> (i32, Vec<String>, String) {
    let out = TestCommand::new("signer", dir)
        .arg("verify-transcript")
        .args(args)
        .output();
    let mut p = raw_problems("stdout", &out.stdout);
    p.extend(raw_problems("stderr", &out.stderr));
    (out.status.code().unwrap_or(-1), p, text(&out))
}

fn expect_code(
    case: &str,
    got: (i32, Vec<String>, String),
    code: i32,
    says: &[&str],
) -> Vec<String> {
    let (c, mut p, t) = got;
    if c != code {
        p.push(format!("exit {c}, expected {code}: {}", last_lines(&t, 5)));
    }
    let lower = t.to_lowercase();
    if !says.is_empty() && !says.iter().any(|s| lower.contains(s)) {
        p.push(format!("says none of {says:?}: {}", last_lines(&t, 5)));
    }
    p.into_iter().map(|x| format!("{case}: {x}")).collect()
}

#[test]
fn transcripts_authenticate_what_they_claim() {
    let t = tuf();
    let d = t.path();
    let mut problems = Vec::new();
    problems.extend(expect_code(
        "without --root",
        verify(d, &["bundle.transcript.jsonl"]),
        3,
        &["authenticated"],
    ));
    problems.extend(expect_code(
        "--chain-only",
        verify(d, &["bundle.transcript.jsonl", "--chain-only"]),
        0,
        &[],
    ));
    problems.extend(expect_code(
        "a bundle given as an artefact",
        verify(
            d,
            &[
                "bundle.transcript.jsonl",
                "--root",
                "bundle.json",
                "bundle.json",
            ],
        ),
        0,
        &["bundle"],
    ));
    problems.extend(expect_code(
        "the wrong root",
        verify(
            d,
            &[
                "bundle.transcript.jsonl",
                "--root",
                "repo/metadata/1.root.json",
            ],
        ),
        3,
        &[],
    ));

    // The hash of a decoy file hidden in the txid of a signed proposal.
    let dir = t.case(&["keys.tgz.age"]);
    let decoy = b"{\"decoy\": true}\n";
    std::fs::write(dir.path().join("decoy.json"), decoy).unwrap();
    let mut p = t.json("proposal.json");
    p["txid"] = json!(hex::encode(Sha256::digest(decoy)));
    write_json(dir.path(), "proposal.json", &p);
    let c = Case::new("decoy", p, Expect::Sign);
    let s = sign_on_pty(dir.path(), &c, YES);
    if s.talk.run.code != 0 {
        problems.push(format!(
            "decoy: the signer refused: {}",
            last_lines(&s.talk.run.screen, 4)
        ));
    } else {
        problems.extend(expect_code(
            "artefact hash inside the txid",
            verify(
                dir.path(),
                &[
                    "bundle.transcript.jsonl",
                    "--root",
                    "bundle.json",
                    "decoy.json",
                ],
            ),
            3,
            &["decoy.json"],
        ));
    }

    // Stopped at the confirmation: the transcript ends with an abort.
    let dir = t.case(&["keys.tgz.age"]);
    write_json(dir.path(), "proposal.json", &t.json("proposal.json"));
    let c = Case::new("aborted", Value::Null, Expect::Sign);
    let s = sign_on_pty(dir.path(), &c, &["yes", "no", "no", "no"]);
    problems.extend(raw_problems("aborted: terminal", &s.talk.run.raw));
    if s.talk.run.code == 0 || dir.path().join("bundle.json").exists() {
        problems.push("aborted: answering no still signed".into());
    }
    let tr =
        std::fs::read_to_string(dir.path().join("bundle.transcript.jsonl")).unwrap_or_default();
    let last: Value = tr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .rfind(|e| e.get("seq").is_some())
        .unwrap_or(Value::Null);
    if !last["kind"].as_str().unwrap_or("").contains("abort") {
        problems.push(format!(
            "aborted: the transcript's last entry is {:?}, not an abort",
            last["kind"]
        ));
    }
    if !tr.is_empty() {
        problems.extend(expect_code(
            "an aborted ceremony",
            verify(dir.path(), &["bundle.transcript.jsonl", "--chain-only"]),
            3,
            &["aborted"],
        ));
    }

    // An entry edited to carry escape sequences: the chain breaks, and the
    // report shows the entry escaped.
    let dir = t.case(&["bundle.transcript.jsonl", "bundle.json"]);
    let tr = std::fs::read_to_string(dir.path().join("bundle.transcript.jsonl")).unwrap();
    let edited: Vec<String> = tr
        .lines()
        .map(|l| {
            l.replacen(
                "\"kind\":\"diff\"",
                "\"kind\":\"diff\",\"note\":\"\u{1b}[2J\u{1b}[Hhistory holds\u{202e}\u{9b}\"",
                1,
            )
        })
        .collect();
    std::fs::write(
        dir.path().join("bundle.transcript.jsonl"),
        edited.join("\n") + "\n",
    )
    .unwrap();
    problems.extend(expect_code(
        "an edited entry with escape sequences",
        verify(
            dir.path(),
            &["bundle.transcript.jsonl", "--root", "bundle.json"],
        ),
        3,
        &[],
    ));
    problems.extend(auditor_screens());
    report("transcripts", problems);
}

/// An auditor's screen: a history whose second root fails the rules and
/// whose fields try to print "history holds" over the verdict. On a pty,
/// the exit status is 3 and the rendered screen says the step fails, with
/// no raw control character.
fn auditor_screens() -> Vec<String> {
    let t = tuf();
    let dir = tempfile::tempdir().unwrap();
    let meta = dir.path().join("meta");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::copy(
        t.path().join("repo/metadata/1.root.json"),
        meta.join("1.root.json"),
    )
    .unwrap();
    let mut v2 = t.json("repo/metadata/2.root.json");
    // Changed after signing: its signatures no longer hold.
    v2["signed"]["x-ceremony"]["note"] =
        json!("\u{1b}[2J\u{1b}[Hhistory holds: every step passes\u{1b}[8m");
    std::fs::write(meta.join("2.root.json"), pretty(&v2)).unwrap();
    let mut problems = Vec::new();
    for bin in ["signer", "submitter"] {
        let mut cmd = TestCommand::new(bin, dir.path());
        cmd.args(["audit", "--metadata-dir", "meta"]);
        let run = ceremony_tests::pty::Pty::spawn(cmd.command()).finish();
        let case = format!("{bin} audit on a terminal");
        if run.code != 3 {
            problems.push(format!("{case}: exit {}, expected 3", run.code));
        }
        problems.extend(raw_problems(&format!("{case}: terminal"), &run.raw));
        if run.screen.contains("history holds: every step passes")
            && !run.screen.contains("\\u{1b}")
        {
            problems.push(format!(
                "{case}: the screen shows the forged verdict unescaped"
            ));
        }
    }
    problems
}
