//! `install-docs`: completions and man pages for the current user, in the
//! folders each tool searches without configuration (except zsh, which has
//! no such user folder: `~/.zfunc` is the common convention, and the
//! message says what to add to `~/.zshrc`).
//!
//! - bash-completion: `$XDG_DATA_HOME/bash-completion/completions/NAME`
//!   (the file is named after the command, which is what bash-completion's
//!   on-demand loader looks up);
//! - zsh: `~/.zfunc/_NAME`;
//! - fish: `$XDG_CONFIG_HOME/fish/completions/NAME.fish`;
//! - man: `$XDG_DATA_HOME/man/man1/*.1` (man-db searches `../share/man` of
//!   every `PATH` folder, so `~/.local/bin` on `PATH` finds it).
//!
//! Files are replaced whole (atomically), so running it again after a
//! `git pull` updates them.

use std::path::{Path, PathBuf};

use ceremony::fsio::{self, WriteOptions};
use clap_complete::Shell;

/// Installs, and returns the files written; the hints go to stderr.
pub fn run() -> Result<Vec<PathBuf>, String> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or("HOME is not set: cannot tell where this user's completions go")?;
    let dirs = Dirs::for_home(&home, xdg("XDG_DATA_HOME"), xdg("XDG_CONFIG_HOME"));
    let written = install(&dirs).map_err(|e| e.to_string())?;
    eprintln!(
        "installed for this user; open a new shell. zsh: add `fpath=(~/.zfunc $fpath)` before \
         `autoload -Uz compinit && compinit` in ~/.zshrc. man: `man signer` finds the pages when \
         ~/.local/bin is on PATH, else `MANPATH={}: man signer`",
        dirs.man.parent().unwrap_or(&dirs.man).display()
    );
    Ok(written)
}

/// An XDG base folder, when set to an absolute path (the specification
/// says to ignore a relative one).
fn xdg(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

/// Where each kind of file goes.
struct Dirs {
    bash: PathBuf,
    zsh: PathBuf,
    fish: PathBuf,
    man: PathBuf,
}

impl Dirs {
    fn for_home(home: &Path, data: Option<PathBuf>, config: Option<PathBuf>) -> Dirs {
        let data = data.unwrap_or_else(|| home.join(".local/share"));
        let config = config.unwrap_or_else(|| home.join(".config"));
        Dirs {
            bash: data.join("bash-completion/completions"),
            zsh: home.join(".zfunc"),
            fish: config.join("fish/completions"),
            man: data.join("man/man1"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum InstallError {
    #[error("cannot create {}: {source}", path.display())]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot render {what}: {source}")]
    Render {
        what: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] fsio::FsError),
}

fn install(dirs: &Dirs) -> Result<Vec<PathBuf>, InstallError> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for (name, cmd) in crate::commands() {
        for (shell, dir, file) in [
            (Shell::Bash, &dirs.bash, name.to_string()),
            (Shell::Zsh, &dirs.zsh, format!("_{name}")),
            (Shell::Fish, &dirs.fish, format!("{name}.fish")),
        ] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd.clone(), name, &mut out);
            files.push((dir.join(file), out));
        }
        for (file, page) in man_pages(cmd)? {
            files.push((dirs.man.join(file), page));
        }
    }
    let mut written = Vec::new();
    for (path, bytes) in files {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| InstallError::Dir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        fsio::replace(&path, &bytes, &WriteOptions::public())?;
        written.push(path);
    }
    Ok(written)
}

/// A page per command and subcommand, named as `clap_mangen::generate_to`
/// names them (`signer.1`, `signer-sign.1`, …), rendered in memory.
fn man_pages(cmd: clap::Command) -> Result<Vec<(String, Vec<u8>)>, InstallError> {
    fn walk(cmd: clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> Result<(), InstallError> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
            walk(sub, out)?;
        }
        let man = clap_mangen::Man::new(cmd);
        let mut page = Vec::new();
        man.render(&mut page)
            .map_err(|source| InstallError::Render {
                what: man.get_filename(),
                source,
            })?;
        out.push((man.get_filename(), page));
        Ok(())
    }
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    walk(cmd, &mut out)?;
    Ok(out)
}
