//! The operator's abort, on a real terminal (issue 15, item 4): "no" or
//! Ctrl-C at a prompt of `signer sign` leaves no bundle and no new archive
//! (its keys signed nothing), ends the transcript with an abort entry that
//! `verify-transcript` reports as aborted (exit 3), leaves the terminal
//! echoing, and the same command (with a fresh transcript name) then works.
//!
//! Ctrl-C is typed as a person types it: the byte 0x03 on the terminal,
//! which the line discipline turns into SIGINT for the terminal's
//! foreground process group. That needs the signer to have the pty as its
//! controlling terminal: it runs under util-linux `setsid --ctty`, which
//! also lets rpassword open `/dev/tty` for the passphrase prompt.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ceremony::transcript::event::Step;
use ceremony::transcript::Event;
use ceremony_tests::fixture::propose_rotate_all;
use ceremony_tests::prelude::*;
use ceremony_tests::pty::{converse, Pty, PtyRun};

/// A TUF repository with threshold 1 of 1 root key, its key imported into
/// `keys.tgz.age`, and `proposal.json` rotating it; nothing signed yet.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&TestCommand::new("tuf-repo-init", d)
        .arg(d.join("repo"))
        .output());
    write_passphrase(d);
    let pem = std::fs::read_dir(d.join("repo/keys"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    ok(&run_in(
        d,
        "signer",
        [
            "import",
            "--key",
            pem.to_str().unwrap(),
            "-o",
            "keys.tgz.age",
            "--passphrase-file",
            "pass.txt",
        ],
    ));
    std::fs::remove_dir_all(d.join("repo/keys")).unwrap();
    propose_rotate_all(d, "proposal.json");
    dir
}

/// `signer sign` asking on the terminal, writing `transcript`.
fn sign_args(transcript: &str, passphrase_file: bool) -> Vec<String> {
    SignArgs::new()
        .no_yes()
        .passphrase_file(passphrase_file.then_some("pass.txt"))
        .extra(["--transcript", transcript])
        .to_vec()
}

/// The signer with `args`, in its own session whose controlling terminal is
/// the pty it is started on.
fn on_its_terminal(d: &Path, args: &[String]) -> Command {
    let setsid = Path::new("/usr/bin/setsid");
    assert!(
        setsid.exists(),
        "this test needs util-linux's setsid(1) to give the signer a controlling terminal"
    );
    let mut cmd = TestCommand::program(setsid, d);
    cmd.args(["--ctty", "--wait"])
        .arg(binary("signer"))
        .args(args);
    std::mem::replace(cmd.command(), Command::new("true"))
}

/// Waits until the pty's line discipline echoes no more: rpassword has
/// turned echo off for the passphrase. Panics after a while: then the
/// prompt is not the hidden one, and the echo check after the abort would
/// prove nothing.
#[track_caller]
fn wait_echo_off(pty: &Pty) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while pty.echo() {
        assert!(
            Instant::now() < deadline,
            "echo never went off at the passphrase prompt:\n{}",
            pty.screen()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Everything an abort must leave: the folder as before but for the
/// transcript; the transcript ending with an abort at `step` whose reason
/// says `how`; `verify-transcript` saying aborted, exit 3; the terminal
/// echoing.
#[track_caller]
fn assert_clean_abort(
    d: &Path,
    before: &BTreeMap<String, String>,
    run: &PtyRun,
    code: i32,
    transcript: &str,
    step: Step,
    how: &str,
) {
    let screen = &run.screen;
    if std::env::var_os("SHOW_SCREEN").is_some() {
        eprintln!("{screen}");
    }
    assert_eq!(run.code, code, "{screen}");
    assert!(screen.contains(how), "{screen}");
    assert!(run.echo, "the terminal is left without echo:\n{screen}");
    // No bundle, no new archive: nothing but the transcript is new, and
    // the old archive is unchanged.
    let mut after = list_dir(d);
    assert!(
        after.remove(transcript).is_some(),
        "no transcript: {screen}"
    );
    assert_eq!(&after, before, "{screen}");
    assert!(!d.join("bundle.json").exists());
    assert!(!d.join("new.tgz.age").exists());
    // The transcript ends with the abort, unsigned.
    let t = ceremony::transcript::read(&std::fs::read(d.join(transcript)).unwrap()).unwrap();
    assert!(t.signed_head.is_none());
    match &t.entries.last().unwrap().event {
        Event::Abort(a) => {
            assert_eq!(a.step, step, "{a:?}");
            assert!(a.reason.contains(how), "{a:?}");
            assert!(a.reason.contains("no bundle was written"), "{a:?}");
        }
        other => panic!("the transcript ends with {other:?}, not an abort"),
    }
    // verify-transcript: aborted, at that step, exit 3 (also when only the
    // chain is asked for).
    for extra in [&[][..], &["--chain-only"]] {
        let out = run_in(
            d,
            "signer",
            [&["verify-transcript", transcript][..], extra].concat(),
        );
        let said = text(&out);
        assert_eq!(out.status.code(), Some(3), "{said}");
        assert!(
            said.contains(&format!("the ceremony aborted at {step}: ")) && said.contains(how),
            "{said}"
        );
    }
}

/// The same command again, with a fresh transcript and every answer given,
/// signs.
#[track_caller]
fn again_it_signs(d: &Path, transcript: &str) {
    let talk = converse(
        &mut on_its_terminal(d, &sign_args(transcript, true)),
        &["yes", "yes"],
        || false,
    );
    assert_eq!(talk.run.code, 0, "{}", talk.run.screen);
    assert!(d.join("bundle.json").exists());
    assert!(d.join("new.tgz.age").exists());
    assert!(talk.run.echo);
    let out = run_in(
        d,
        "signer",
        ["verify-transcript", transcript, "--root", "bundle.json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn no_at_the_confirmation_aborts_cleanly() {
    let dir = folder();
    let d = dir.path();
    let before = list_dir(d);
    let new_archive = d.join("new.tgz.age");
    // First use: "yes" to trust the current root; then "no" to signing.
    let talk = converse(
        &mut on_its_terminal(d, &sign_args("first.jsonl", true)),
        &["yes", "no"],
        || new_archive.exists(),
    );
    assert_eq!(talk.prompts.len(), 2, "{:?}", talk.prompts);
    assert!(talk.prompts[1].contains("Sign this?"), "{:?}", talk.prompts);
    assert_clean_abort(
        d,
        &before,
        &talk.run,
        1,
        "first.jsonl",
        Step::Confirmation,
        "aborted by the operator (answered no)",
    );
    // The new keys are written only after the last question: at the
    // confirmation there is no new archive, so an abort has none to leave.
    assert!(
        talk.observed.iter().all(|there| !there),
        "a new archive existed at a question: {}",
        talk.run.screen
    );
    again_it_signs(d, "second.jsonl");
}

/// Stops `signer sign` at its confirmation with `stop`, then checks the
/// abort (`code`, `how`) and that the same command again signs.
fn stopped_at_the_confirmation(stop: impl FnOnce(&mut Pty), code: i32, how: &str) {
    let dir = folder();
    let d = dir.path();
    let before = list_dir(d);
    let mut pty = Pty::spawn(&mut on_its_terminal(d, &sign_args("first.jsonl", true)));
    assert!(pty.wait_for_prompt_or_end());
    pty.type_line("yes");
    pty.wait_for("Sign this?");
    assert!(pty.wait_for_prompt_or_end(), "{}", pty.screen());
    // As above: no new archive exists at the confirmation.
    assert!(!d.join("new.tgz.age").exists(), "{}", pty.screen());
    stop(&mut pty);
    let run = pty.finish();
    assert_clean_abort(
        d,
        &before,
        &run,
        code,
        "first.jsonl",
        Step::Confirmation,
        how,
    );
    again_it_signs(d, "second.jsonl");
}

#[test]
fn ctrl_c_at_the_confirmation_aborts_cleanly() {
    stopped_at_the_confirmation(
        |pty| pty.type_bytes(&[0x03]),
        130,
        "aborted by the operator (Ctrl-C) at the question \"Sign this?\"",
    );
}

#[test]
fn sigterm_at_the_confirmation_aborts_cleanly() {
    stopped_at_the_confirmation(
        |pty| signal(pty, rustix::process::Signal::TERM),
        143,
        "aborted by the operator (SIGTERM) at the question \"Sign this?\"",
    );
}

/// Sends `sig` to the program on `pty`.
fn signal(pty: &Pty, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pty.id() as i32).unwrap();
    rustix::process::kill_process(pid, sig).unwrap();
}

#[test]
fn ctrl_c_at_the_new_passphrase_of_import_restores_echo_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&TestCommand::new("tuf-repo-init", d)
        .arg(d.join("repo"))
        .output());
    let pem = std::fs::read_dir(d.join("repo/keys"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let before = list_dir(d);
    let args: Vec<String> = [
        "import",
        "--key",
        pem.to_str().unwrap(),
        "-o",
        "keys.tgz.age",
    ]
    .map(String::from)
    .to_vec();
    let mut pty = Pty::spawn(&mut on_its_terminal(d, &args));
    pty.wait_for("New passphrase for keys.tgz.age:");
    wait_echo_off(&pty);
    pty.type_bytes(&[0x03]);
    let run = pty.finish();
    assert_eq!(run.code, 130, "{}", run.screen);
    assert!(
        run.echo,
        "the terminal is left without echo:\n{}",
        run.screen
    );
    assert!(
        run.screen.contains(
            "aborted by the operator (Ctrl-C) at the new passphrase prompt for keys.tgz.age"
        ),
        "{}",
        run.screen
    );
    assert_eq!(list_dir(d), before, "{}", run.screen);
}

#[test]
fn ctrl_c_at_the_passphrase_prompt_restores_echo_and_aborts_cleanly() {
    let dir = folder();
    let d = dir.path();
    let before = list_dir(d);
    let mut pty = Pty::spawn(&mut on_its_terminal(d, &sign_args("first.jsonl", false)));
    pty.wait_for("Passphrase for keys.tgz.age:");
    // Echo is off while the passphrase is typed: what the abort must undo.
    wait_echo_off(&pty);
    // Half a passphrase, then Ctrl-C.
    pty.type_bytes(&PASSPHRASE.as_bytes()[..6]);
    pty.type_bytes(&[0x03]);
    let run = pty.finish();
    assert!(!run.screen.contains(&PASSPHRASE[..6]), "{}", run.screen);
    assert_clean_abort(
        d,
        &before,
        &run,
        130,
        "first.jsonl",
        Step::Trust,
        "aborted by the operator (Ctrl-C) at the passphrase prompt for keys.tgz.age",
    );
    again_it_signs(d, "second.jsonl");
}

#[test]
fn a_signer_killed_at_the_confirmation_leaves_an_incomplete_transcript_or_none() {
    let dir = folder();
    let d = dir.path();
    let mut pty = Pty::spawn(&mut on_its_terminal(d, &sign_args("first.jsonl", true)));
    assert!(pty.wait_for_prompt_or_end());
    pty.type_line("yes");
    pty.wait_for("Sign this?");
    assert!(pty.wait_for_prompt_or_end(), "{}", pty.screen());
    signal(&pty, rustix::process::Signal::KILL);
    let run = pty.finish();
    assert_eq!(run.code, -1, "{}", run.screen);
    assert!(!d.join("bundle.json").exists());
    if !d.join("first.jsonl").exists() {
        // The transcript was still in memory: nothing was written at all.
        assert!(!d.join("new.tgz.age").exists());
        return;
    }
    // Cut short: never "chain holds", exit 0, even for the chain alone.
    for extra in [&[][..], &["--chain-only"]] {
        let out = run_in(
            d,
            "signer",
            [&["verify-transcript", "first.jsonl"][..], extra].concat(),
        );
        let said = text(&out);
        assert_eq!(out.status.code(), Some(3), "{said}");
        assert!(said.contains("INCOMPLETE"), "{said}");
        assert!(!said.contains("entries holds"), "{said}");
    }
}
