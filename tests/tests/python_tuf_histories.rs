//! The TUF dialect against histories written by python-tuf: every case that
//! `tests/python/make_histories.py` makes is judged by our rules as its
//! `case.json` says (which rule, which version), through the library and
//! through both binaries' `audit`. Includes the one python-tuf itself gets
//! wrong: one public key under two key ids to reach a threshold.

use std::path::Path;
use std::process::Command;

use ceremony::rules::check_history;
use ceremony::{Dialect, RootMetadata};
use ceremony_tests::{binary, python_histories, run_python};
use serde_json::Value;
use time::OffsetDateTime;

struct Case {
    name: String,
    expect_ok: bool,
    rules: Vec<String>,
    failing_version: Option<u64>,
}

fn cases() -> Vec<Case> {
    let root = python_histories();
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(text) = std::fs::read(dir.join("case.json")) else {
            continue;
        };
        let v: Value = serde_json::from_slice(&text).unwrap();
        out.push(Case {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            expect_ok: v["expect"] == "ok",
            rules: v["rule"]
                .as_array()
                .map(|a| a.iter().map(|r| r.as_str().unwrap().to_string()).collect())
                .unwrap_or_default(),
            failing_version: v["failing_version"].as_u64(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(
        out.len() >= 13,
        "expected the full case list, got {}",
        out.len()
    );
    out
}

fn load_chain(dir: &Path) -> Vec<RootMetadata> {
    (1..)
        .map(|n| dir.join(format!("{n}.root.json")))
        .take_while(|p| p.exists())
        .map(|p| RootMetadata::from_slice(&std::fs::read(p).unwrap(), Some(Dialect::Tuf)).unwrap())
        .collect()
}

#[test]
fn library_verdicts_match_every_case() {
    for case in cases() {
        let dir = python_histories().join(&case.name);
        let chain = load_chain(&dir);
        let verdict = check_history(None, &chain, OffsetDateTime::now_utc());
        if case.expect_ok {
            assert!(
                verdict.ok(),
                "{}: {:#?}",
                case.name,
                verdict.first_failure()
            );
            assert_eq!(verdict.steps.len(), chain.len(), "{}", case.name);
            continue;
        }
        let position = verdict
            .steps
            .iter()
            .position(|s| !s.ok())
            .unwrap_or_else(|| panic!("{}: accepted, but must be refused", case.name));
        let failed = &verdict.steps[position];
        let rule = failed.first_failure().unwrap().rule.id();
        assert!(
            case.rules.iter().any(|r| r == rule),
            "{}: failed on rule {rule}, expected one of {:?}: {:#?}",
            case.name,
            case.rules,
            failed.failures
        );
        // Steps are checked in file order from 1.root.json.
        assert_eq!(
            Some(position as u64 + 1),
            case.failing_version,
            "{}",
            case.name
        );
    }
}

#[test]
fn audit_through_both_binaries_names_the_rule() {
    for case in cases() {
        let dir = python_histories().join(&case.name);
        for bin in ["signer", "submitter"] {
            let out = Command::new(binary(bin))
                .args(["audit", "--metadata-dir"])
                .arg(&dir)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            if case.expect_ok {
                assert_eq!(out.status.code(), Some(0), "{bin} {}: {text}", case.name);
                assert!(text.contains("history holds"), "{text}");
            } else {
                assert_eq!(out.status.code(), Some(3), "{bin} {}: {text}", case.name);
                assert!(
                    case.rules
                        .iter()
                        .any(|r| text.contains(&format!("breaks rule {r}"))),
                    "{bin} {}: {text}",
                    case.name
                );
            }
        }
    }
}

/// Checking signatures on several threads changes nothing a user sees: the
/// same bytes on standard output and the same exit status as one thread, for
/// every case, through both binaries, as text and as JSON. (`--at` is fixed
/// so that the "as of" line cannot differ between runs.)
#[test]
fn audit_threads_do_not_change_the_report() {
    let at = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let run = |bin: &str, dir: &Path, json: bool, threads: Option<&str>| {
        let mut cmd = Command::new(binary(bin));
        cmd.args(["audit", "--at", &at, "--metadata-dir"]).arg(dir);
        if json {
            cmd.arg("--json");
        }
        if let Some(n) = threads {
            cmd.args(["--threads", n]);
        }
        let out = cmd.output().unwrap();
        (out.status.code(), out.stdout)
    };
    let (mut failing, mut refused) = (0, 0);
    for case in cases() {
        if !case.expect_ok {
            refused += 4;
        }
        let dir = python_histories().join(&case.name);
        for bin in ["signer", "submitter"] {
            for json in [false, true] {
                let serial = run(bin, &dir, json, Some("1"));
                for threads in [Some("2"), Some("7"), None] {
                    let parallel = run(bin, &dir, json, threads);
                    assert_eq!(
                        serial.0, parallel.0,
                        "{bin} {} json={json} --threads {threads:?}: exit status differs",
                        case.name
                    );
                    assert!(
                        serial.1 == parallel.1,
                        "{bin} {} json={json} --threads {threads:?}: output differs\n\
                         one thread:\n{}\nparallel:\n{}",
                        case.name,
                        String::from_utf8_lossy(&serial.1),
                        String::from_utf8_lossy(&parallel.1)
                    );
                }
                if serial.0 == Some(3) {
                    failing += 1;
                }
            }
        }
    }
    // The comparison covered refusals, not only histories that hold.
    assert!(
        refused > 0 && failing == refused,
        "{failing} of {refused} refusals compared"
    );
}

#[test]
fn audit_json_reports_each_threshold() {
    let dir = python_histories().join("one-old-one-new");
    let out = Command::new(binary("submitter"))
        .args(["audit", "--json", "--metadata-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let step2 = &v["steps"][1];
    assert_eq!(step2["version"], 2);
    let thresholds = step2["thresholds"].as_array().unwrap();
    assert_eq!(thresholds.len(), 2);
    for t in thresholds {
        assert_eq!(t["threshold"], 2);
        assert_eq!(t["signed"].as_array().unwrap().len(), 1, "{t}");
        assert_eq!(t["missing"].as_array().unwrap().len(), 2, "{t}");
    }
}

#[test]
fn audit_from_a_trusted_root_starts_after_it() {
    let dir = python_histories().join("valid-rotations");
    let out = Command::new(binary("signer"))
        .args(["audit", "--metadata-dir"])
        .arg(&dir)
        .arg("--trusted")
        .arg(dir.join("3.root.json"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("starting from trusted root v3"), "{text}");
    assert!(!text.contains("v1 "), "{text}");
    assert!(
        text.contains("2 root(s) checked, final version 5"),
        "{text}"
    );
}

#[test]
fn canonical_form_equals_securesystemslib_on_every_root_python_tuf_wrote() {
    let root = python_histories();
    let out = run_python("canonical.py", &["--dump-all".as_ref(), root.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut compared = 0;
    for case in cases() {
        let dir = root.join(&case.name);
        for n in 1.. {
            let file = dir.join(format!("{n}.root.json"));
            if !file.exists() {
                break;
            }
            let theirs = std::fs::read(dir.join(format!("{n}.root.canonical"))).unwrap();
            let root = RootMetadata::from_slice(&std::fs::read(&file).unwrap(), Some(Dialect::Tuf))
                .unwrap();
            let ours = root.canonical_signed().unwrap();
            assert_eq!(ours, theirs, "{}/{n}.root.json", case.name);
            compared += 1;
        }
    }
    assert!(compared >= 25, "only {compared} roots compared");
}
