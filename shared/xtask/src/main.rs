//! `cargo run -p xtask -- docs DIR`: shell completions (DIR/completions) and
//! man pages (DIR/man) for `signer` and `submitter`, generated from their
//! command-line definitions so that they can never disagree with `--help`.
//!
//! A tool crate, not a feature of a shipped one: the generators stay out of
//! the signer's dependency graph (which `signer/tests/no_network.rs` holds to
//! an allow-list) and out of every released binary.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap_complete::Shell;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [task, dir] = args.as_slice() else {
        eprintln!("usage: cargo run -p xtask -- docs DIR");
        return ExitCode::from(2);
    };
    if task != "docs" {
        eprintln!("error: unknown task {task:?}; the one task is: docs DIR");
        return ExitCode::from(2);
    }
    match docs(Path::new(dir)) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write completions and man pages into {dir}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes completions for every shell clap knows of, and a man page per
/// command and subcommand, for both binaries.
fn docs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let completions = dir.join("completions");
    let man = dir.join("man");
    std::fs::create_dir_all(&completions)?;
    std::fs::create_dir_all(&man)?;
    let mut written = Vec::new();
    for (name, cmd) in [
        ("signer", signer::command()),
        ("submitter", submitter::command()),
    ] {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            written.push(clap_complete::generate_to(
                shell,
                &mut cmd.clone(),
                name,
                &completions,
            )?);
        }
        clap_mangen::generate_to(cmd, &man)?;
    }
    for e in std::fs::read_dir(&man)? {
        written.push(e?.path());
    }
    written.sort();
    Ok(written)
}
