//! Shell completions and man pages, generated from the command-line
//! definition itself, for `scripts/release.sh`.
//!
//! Compiled only with the `release-docs` feature, which no shipped binary
//! has: the generators (`clap_complete`, `clap_mangen`) stay out of the
//! dependency graph that `tests/no_network.rs` holds to its allow-list, and
//! out of the released binary. `BIN --generate completions|man DIR`.

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

/// Handles `--generate completions|man DIR` when it is the whole command
/// line; `None` otherwise (the normal parser then runs).
pub fn from_args<C: CommandFactory>(name: &str) -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("--generate") {
        return None;
    }
    let (Some(what), Some(dir), 3) = (args.get(1), args.get(2), args.len()) else {
        eprintln!("usage: {name} --generate completions|man DIR");
        return Some(ExitCode::from(2));
    };
    match generate(C::command(), name, what, Path::new(dir)) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            Some(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: cannot generate {what} into {dir}: {e}");
            Some(ExitCode::FAILURE)
        }
    }
}

fn generate(
    cmd: clap::Command,
    name: &str,
    what: &str,
    dir: &Path,
) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    match what {
        "completions" => {
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
                    dir,
                )?);
            }
        }
        "man" => {
            clap_mangen::generate_to(cmd, dir)?;
            for e in std::fs::read_dir(dir)? {
                written.push(e?.path());
            }
            written.sort();
        }
        other => {
            return Err(std::io::Error::other(format!(
                "unknown kind {other:?}: completions or man"
            )))
        }
    }
    Ok(written)
}
