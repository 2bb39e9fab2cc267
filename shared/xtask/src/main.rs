//! Release tooling, never shipped:
//!
//! - `cargo run -p xtask -- docs DIR`: shell completions (DIR/completions)
//!   and man pages (DIR/man) for `signer` and `submitter`, as
//!   `scripts/release.sh` ships them beside the binaries;
//! - `cargo run -p xtask -- install-docs`: the same, installed for the
//!   current user where bash, zsh, fish and man look (see [`install`]).
//!
//! Both are generated from the binaries' command-line definitions, so that
//! they can never disagree with `--help`.
//!
//! A tool crate, not a `signer completions` subcommand: the generators
//! (clap_complete, clap_mangen, roff) stay out of the signer's dependency
//! graph, which `signer/tests/no_network.rs` holds to a reviewed allow-list,
//! and out of every released binary. A release user has the generated files
//! already: `dist/completions` and `dist/man`, covered by `SHA256SUMS`.

#![forbid(unsafe_code)]

mod install;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap_complete::Shell;

const USAGE: &str = "usage: cargo run -p xtask -- docs DIR | install-docs";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [task, dir] if task == "docs" => docs(Path::new(dir))
            .map_err(|e| format!("cannot write completions and man pages into {dir}: {e}")),
        [task] if task == "install-docs" => install::run(),
        [task, ..] if task != "docs" && task != "install-docs" => {
            eprintln!("error: unknown task {task:?}; the tasks are: docs DIR, install-docs");
            return ExitCode::from(2);
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The two binaries, by name, with their command-line definitions.
fn commands() -> [(&'static str, clap::Command); 2] {
    [
        ("signer", signer::command()),
        ("submitter", submitter::command()),
    ]
}

/// Writes completions for every shell clap knows of, and a man page per
/// command and subcommand, for both binaries.
fn docs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let completions = dir.join("completions");
    let man = dir.join("man");
    std::fs::create_dir_all(&completions)?;
    std::fs::create_dir_all(&man)?;
    let mut written = Vec::new();
    for (name, cmd) in commands() {
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
