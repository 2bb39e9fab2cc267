//! `cargo run -p xtask -- install-docs` (what the README tells a user to
//! run from a clone) puts completions and man pages where bash, zsh, fish
//! and man find them, and they name every subcommand.

use std::path::Path;
use std::process::Command;

fn xtask(home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap()
}

fn read(path: &Path) -> String {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} was not installed: {e}", path.display()));
    assert!(!text.trim().is_empty(), "{} is empty", path.display());
    text
}

/// The subcommands of a binary, from its own definition (so a new one is
/// covered), checked against a few named ones (so an empty list fails).
fn subcommands(cmd: clap::Command, named: &[&str]) -> Vec<String> {
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for n in named {
        assert!(
            subs.iter().any(|s| s == n),
            "{n} is not a subcommand: {subs:?}"
        );
    }
    subs
}

#[test]
fn install_docs_puts_completions_and_man_pages_where_the_shells_look() {
    let home = tempfile::tempdir().unwrap();
    let out = xtask(home.path(), &["install-docs"]);
    assert!(
        out.status.success(),
        "install-docs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    let h = home.path();
    for (name, cmd, named) in [
        (
            "signer",
            signer::command(),
            &[
                "import",
                "list",
                "review",
                "sign",
                "sign-wave",
                "verify-transcript",
            ][..],
        ),
        (
            "submitter",
            submitter::command(),
            &["propose", "upload", "wave-propose", "wave-publish", "audit"][..],
        ),
    ] {
        let subs = subcommands(cmd, named);
        let bash = h
            .join(".local/share/bash-completion/completions")
            .join(name);
        let zsh = h.join(".zfunc").join(format!("_{name}"));
        let fish = h
            .join(".config/fish/completions")
            .join(format!("{name}.fish"));
        for file in [&bash, &zsh, &fish] {
            let text = read(file);
            assert!(
                listed.contains(&file.display().to_string()),
                "{} is not in the list printed:\n{listed}",
                file.display()
            );
            for s in &subs {
                assert!(
                    text.contains(s.as_str()),
                    "{} does not name {s}",
                    file.display()
                );
            }
        }
        // bash itself accepts the file and registers the completion.
        let registered = Command::new("bash")
            .arg("-c")
            .arg(format!("source \"$1\" && complete -p {name}"))
            .arg("bash")
            .arg(&bash)
            .output()
            .unwrap();
        assert!(
            registered.status.success()
                && String::from_utf8_lossy(&registered.stdout).contains(name),
            "bash does not register a completion for {name} from {}: {}",
            bash.display(),
            String::from_utf8_lossy(&registered.stderr)
        );
        let man1 = h.join(".local/share/man/man1");
        let page = read(&man1.join(format!("{name}.1")));
        assert!(page.contains(".TH"), "{name}.1 is not a man page");
        for s in &subs {
            // roff writes a hyphen as `\-`.
            let roff = s.replace('-', "\\-");
            assert!(page.contains(&roff), "{name}.1 does not name {s}");
            read(&man1.join(format!("{name}-{s}.1")));
        }
    }
    // Again: the files are replaced, not refused.
    let again = xtask(home.path(), &["install-docs"]);
    assert!(again.status.success(), "a second install-docs failed");
}

#[test]
fn xdg_folders_are_honoured() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let config = home.path().join("config");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("install-docs")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", &data)
        .env("XDG_CONFIG_HOME", &config)
        .output()
        .unwrap();
    assert!(out.status.success());
    read(&data.join("bash-completion/completions/signer"));
    read(&data.join("man/man1/signer-sign.1"));
    read(&config.join("fish/completions/submitter.fish"));
}

#[test]
fn unknown_tasks_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    for args in [&["install"][..], &[][..], &["docs"][..]] {
        let out = xtask(home.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
