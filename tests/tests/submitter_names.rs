//! Names that never collide, and an upload that finds its proposal
//! (issue 15 items 3, 5, 9): ceremonies run by the commands the binaries
//! print, exactly as printed, many in one folder; `upload` without
//! `--proposal` from another folder; refusals that name the kind of file
//! and the flag; the summary after `upload`; progress while a long root
//! history downloads.

use std::path::Path;

use ceremony_tests::cmd::{Ran, TestCommand};
use ceremony_tests::fixture::{write_passphrase, Ceremony, SignArgs};
use ceremony_tests::harness::http_server;

/// The commands a binary's output quotes in backticks.
fn quoted(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The quoted command that starts with `prefix`.
#[track_caller]
fn printed(ran: &Ran, prefix: &str) -> Vec<String> {
    let cmd = quoted(&ran.stdout)
        .into_iter()
        .find(|c| c.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}…` printed:\n{}", ran.all()));
    cmd.split_whitespace().map(str::to_owned).collect()
}

/// Runs a printed command (its first word is the binary) in `dir`, with
/// `extra` arguments after it: what the operator adds at the terminal.
fn run_printed(dir: &Path, words: &[String], extra: &[&str], env: &[(&str, &str)]) -> Ran {
    TestCommand::new(&words[0], dir)
        .args(&words[1..])
        .args(extra)
        .envs(env)
        .run()
}

/// What follows `label` on its line of `text`, up to `until`.
fn after<'a>(text: &'a str, label: &str, until: &str) -> &'a str {
    let rest = &text[text
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in {text}"))
        + label.len()..];
    rest.split(until).next().unwrap().trim()
}

/// A TUF repository in `dir/repo` (threshold 1 of 1), its key imported
/// into `dir/keys.tgz.age` (passphrase `dir/pass.txt`), the plain key gone.
fn repository(dir: &Path) {
    TestCommand::new("tuf-repo-init", dir)
        .arg(dir.join("repo"))
        .expect(0, "tuf-repo-init");
    write_passphrase(dir);
    let pem = std::fs::read_dir(dir.join("repo/keys"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    TestCommand::new("signer", dir)
        .args(["import", "--key"])
        .arg(&pem)
        .args(["-o", "keys.tgz.age", "--passphrase-file", "pass.txt"])
        .expect(0, "signer import");
    std::fs::remove_dir_all(dir.join("repo/keys")).unwrap();
}

/// One ceremony by the printed commands: propose (no -o), the printed
/// `signer sign` with the archive and what the operator types, the printed
/// `submitter upload`. Returns the new archive and the three runs.
fn ceremony(dir: &Path, keys: &str) -> (String, [Ran; 3]) {
    let p = TestCommand::new("submitter", dir)
        .args(["propose", "--repo", "repo/metadata", "--rotate-all"])
        .expect(0, "propose without -o");
    let mut sign = printed(&p, "signer sign ");
    // The one placeholder: which archive is the operator's to say.
    for w in &mut sign {
        if w == "KEYS.tgz.age" {
            *w = keys.to_string();
        }
    }
    let s = run_printed(dir, &sign, &["--passphrase-file", "pass.txt", "--yes"], &[]);
    s.expect(0, "signer sign as printed");
    let new_archive = after(&s.stdout, "New archive ", ":").to_string();
    let upload = printed(&s, "submitter upload ");
    let u = run_printed(dir, &upload, &[], &[]);
    u.expect(0, "submitter upload as printed");
    (new_archive, [p, s, u])
}

#[test]
fn ceremonies_run_by_the_printed_commands_in_one_folder_never_collide() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    repository(d);

    // The first: v1 → v2, every file named for v2.
    let (keys, [p, s, u]) = ceremony(d, "keys.tgz.age");
    assert!(p.stdout.contains("wrote proposal-v2.json"), "{}", p.all());
    assert!(
        s.stdout.contains("Bundle written to bundle-v2.json"),
        "{}",
        s.all()
    );
    assert!(d.join("bundle-v2.transcript.jsonl").exists());
    assert!(d.join("repo/metadata/2.root.json").exists());
    // The closing summary: what is live, read back, and the archive to use
    // from now on, as the bundle's own transcript records it.
    assert!(
        u.stdout.contains("Live now:") && u.stdout.contains("root v2"),
        "{}",
        u.all()
    );
    assert!(
        u.stdout
            .contains(&format!("Current archive from now on: {keys}")),
        "{}",
        u.all()
    );
    assert!(u.stdout.contains("Retire: keys.tgz.age"), "{}", u.all());
    assert!(
        u.stdout.contains("Escrow:") && u.stdout.contains("Destroy:"),
        "{}",
        u.all()
    );

    // An aborted second ceremony: its proposal was written and its signer
    // stopped after the transcript reached the disk (what an abort at the
    // confirmation leaves: a transcript, no bundle).
    TestCommand::new("submitter", d)
        .args(["propose", "--repo", "repo/metadata", "--rotate-all"])
        .expect(0, "the aborted ceremony's proposal");
    assert!(d.join("proposal-v3.json").exists());
    std::fs::write(d.join("bundle-v3.transcript.jsonl"), b"aborted\n").unwrap();

    // The same commands again work, in the same folder: the next free names.
    let (keys3, [p, s, u]) = ceremony(d, &keys);
    assert!(p.stdout.contains("wrote proposal-v3-2.json"), "{}", p.all());
    assert!(
        s.stderr.contains("goes to bundle-v3-2.json instead"),
        "the signer says which name it picked: {}",
        s.all()
    );
    assert!(
        s.stdout.contains("Bundle written to bundle-v3-2.json"),
        "{}",
        s.all()
    );
    assert!(d.join("bundle-v3-2.transcript.jsonl").exists());
    assert_eq!(
        std::fs::read(d.join("bundle-v3.transcript.jsonl")).unwrap(),
        b"aborted\n",
        "the aborted ceremony's transcript is kept"
    );
    // Upload found proposal-v3-2.json (the one the bundle answers), not
    // proposal-v3.json beside it.
    assert!(u.stdout.contains("root v3"), "{}", u.all());
    assert!(d.join("repo/metadata/3.root.json").exists());
    assert_ne!(keys3, keys);
    // And a third, from the archive the second made.
    let (_, [p, _, u]) = ceremony(d, &keys3);
    assert!(p.stdout.contains("wrote proposal-v4.json"), "{}", p.all());
    assert!(u.stdout.contains("root v4"), "{}", u.all());
}

#[test]
fn upload_finds_its_proposal_from_another_folder_and_trusts_no_copy_blindly() {
    let c = Ceremony::new();
    let d = c.path();
    let other = tempfile::tempdir().unwrap();
    let e = other.path();
    std::fs::copy(d.join("bundle.json"), e.join("bundle.json")).unwrap();
    let bundle: serde_json::Value = c.json("bundle.json");
    let sha = bundle["proposal_sha256"].as_str().unwrap().to_string();
    let upload = |env: &[(&str, &str)]| {
        TestCommand::new("submitter", e)
            .args(["upload", "bundle.json"])
            .envs(env)
            .run()
    };

    // Nowhere to be found (this folder's HOME keeps no proposal): the
    // refusal names --proposal and the hash it looked for; nothing sent.
    let r = upload(&[]);
    r.expect(1, "no proposal anywhere");
    assert!(r.stderr.contains("--proposal"), "{}", r.all());
    assert!(r.stderr.contains(&sha), "{}", r.all());
    assert!(!d.join("repo/metadata/2.root.json").exists());

    // Files that only claim to be it are hashed, and passed over: another
    // proposal kept under this hash in a state folder, and a proposal.json
    // beside the bundle.
    let fake_state = e.join("fake-state");
    let kept = fake_state.join("tuf-ceremony/proposals");
    std::fs::create_dir_all(&kept).unwrap();
    let mut other_bytes = c.read("proposal.json");
    other_bytes.push(b'\n');
    std::fs::write(kept.join(format!("{sha}.json")), &other_bytes).unwrap();
    std::fs::write(e.join("proposal.json"), &other_bytes).unwrap();
    let r = upload(&[("XDG_STATE_HOME", fake_state.to_str().unwrap())]);
    r.expect(1, "only copies that do not hash to the bundle's");
    assert!(r.stderr.contains("--proposal"), "{}", r.all());
    assert!(!d.join("repo/metadata/2.root.json").exists());
    std::fs::remove_file(e.join("proposal.json")).unwrap();

    // The state folder `propose` kept it in (under the ceremony folder's
    // HOME): found by the bundle's hash, from this other folder.
    let state = d.join(".local/state");
    let r = upload(&[("XDG_STATE_HOME", state.to_str().unwrap())]);
    r.expect(0, "upload without --proposal from another folder");
    assert!(
        r.stderr.contains(&format!(
            "the proposal this bundle answers: {}",
            state
                .join(format!("tuf-ceremony/proposals/{sha}.json"))
                .display()
        )),
        "{}",
        r.all()
    );
    assert!(d.join("repo/metadata/2.root.json").exists());
    // Without the transcript beside the bundle, the summary says which
    // archive in words.
    assert!(
        r.stdout.contains("the new archive `signer sign` wrote"),
        "{}",
        r.all()
    );
}

#[test]
fn a_taken_name_is_refused_naming_the_kind_of_file_and_its_flag() {
    let c = Ceremony::new();
    let d = c.path();
    let refused = |args: SignArgs, needle: &str| {
        let r = TestCommand::new("signer", d).args(args).run();
        r.expect(1, needle);
        assert!(r.all().contains(needle), "{needle}: {}", r.all());
        assert!(!r.all().contains("--new-archive (or -o)"), "{}", r.all());
    };
    refused(
        SignArgs::new().new_archive(Some("fresh.tgz.age")),
        "bundle.json exists already; a bundle is never overwritten: pick another name with -o",
    );
    refused(
        SignArgs::new()
            .out("b2.json")
            .new_archive(Some("fresh.tgz.age"))
            .extra(["--transcript", "bundle.transcript.jsonl"]),
        "bundle.transcript.jsonl exists already; a transcript is never overwritten: pick another \
         name with --transcript",
    );
    refused(
        SignArgs::new().out("b2.json"),
        "new.tgz.age exists already; an archive is never overwritten: pick another name with \
         --new-archive",
    );
    for f in ["b2.json", "b2.transcript.jsonl", "fresh.tgz.age"] {
        assert!(!d.join(f).exists(), "{f} written by a refused run");
    }
    // A default name that is taken gives way instead: -o given, its
    // transcript's default name left by an aborted run.
    std::fs::write(d.join("b3.transcript.jsonl"), b"aborted\n").unwrap();
    let r = TestCommand::new("signer", d)
        .args(
            SignArgs::new()
                .out("b3.json")
                .new_archive(Some("fresh.tgz.age")),
        )
        .run();
    r.expect(0, "sign with the default transcript name taken");
    assert!(
        r.stderr.contains("goes to b3-2.transcript.jsonl"),
        "{}",
        r.all()
    );
    assert!(d.join("b3-2.transcript.jsonl").exists());
    assert_eq!(
        std::fs::read(d.join("b3.transcript.jsonl")).unwrap(),
        b"aborted\n"
    );

    // The submitter's: an explicit proposal name that exists.
    let r = TestCommand::new("submitter", d)
        .args([
            "propose",
            "--repo",
            "repo/metadata",
            "--rotate-all",
            "-o",
            "proposal.json",
        ])
        .run();
    r.expect(1, "propose -o onto an existing proposal");
    assert!(
        r.stderr
            .contains("a proposal is never overwritten (a bundle may answer it"),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("another name with -o"), "{}", r.all());
}

#[test]
fn a_long_history_download_shows_progress_and_a_short_one_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Files that are not roots: the audit refuses them once downloaded,
    // after the download the progress is about.
    for (folder, count) in [("long", 120), ("short", 3)] {
        let m = d.join("www").join(folder);
        std::fs::create_dir_all(&m).unwrap();
        for n in 1..=count {
            std::fs::write(m.join(format!("{n}.root.json")), b"{}").unwrap();
        }
    }
    let server = http_server(&d.join("www"));
    let audit = |folder: &str| {
        TestCommand::new("submitter", d)
            .args(["audit", "--repo", &format!("{}/{folder}/", server.url)])
            .run()
    };
    let long = audit("long");
    assert_ne!(long.code, 0, "{}", long.all());
    // Under a second the first line comes at the 100th root; on a slow
    // machine earlier, by the clock.
    assert!(
        long.stderr
            .lines()
            .any(|l| l.contains(" roots…") && l.contains(": fetched ")),
        "{}",
        long.all()
    );
    assert!(
        long.stderr.contains("fetched 120 roots in"),
        "{}",
        long.all()
    );
    let lines = long
        .stderr
        .lines()
        .filter(|l| l.contains("fetched"))
        .count();
    assert!(
        lines <= 2 + 4 * 30,
        "{lines} progress lines: {}",
        long.all()
    );
    let short = audit("short");
    assert_ne!(short.code, 0, "{}", short.all());
    assert!(!short.stderr.contains("fetched"), "{}", short.all());
}
