//! Secrets and the human at the keyboard: passphrases (typed without echo,
//! or from a file), age identities and recipients, typed confirmations, and
//! hardening the process so that secrets do not end up in a core dump.

use ceremony_cli::{eprint, eprintln};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::archive::Protection;
use crate::interrupt::{Aborted, PromptError};

/// Disables core dumps (RLIMIT_CORE = 0) and marks the process not dumpable
/// (which also keeps other processes of the same user from attaching to it).
/// Returns what could not be done, for a warning; never fails.
pub fn harden_process() -> Vec<String> {
    let mut problems = Vec::new();
    #[cfg(unix)]
    {
        use rustix::process::{setrlimit, Resource, Rlimit};
        if let Err(e) = setrlimit(
            Resource::Core,
            Rlimit {
                current: Some(0),
                maximum: Some(0),
            },
        ) {
            problems.push(format!("could not disable core dumps: {e}"));
        }
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{set_dumpable_behavior, DumpableBehavior};
        if let Err(e) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
            problems.push(format!("could not mark the process non-dumpable: {e}"));
        }
    }
    problems
}

/// The largest passphrase file read.
const MAX_PASSPHRASE_FILE: u64 = 4096;

/// Reads a passphrase from a file: its first line, without the line end.
pub fn passphrase_from_file(path: &Path) -> Result<SecretString> {
    let bytes = Zeroizing::new(
        crate::archive::read_file_bounded(path, MAX_PASSPHRASE_FILE)
            .with_context(|| format!("cannot read the passphrase file {}", path.display()))?,
    );
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| anyhow!("the passphrase file {} is not UTF-8 text", path.display()))?;
    let line = text.split('\n').next().unwrap_or("");
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() {
        bail!(
            "the passphrase file {} is empty (or starts with an empty line)",
            path.display()
        );
    }
    Ok(SecretString::from(line.to_owned()))
}

/// Asks for a passphrase without echo; Ctrl-C or end of input there is the
/// operator's abort ([`crate::interrupt::Aborted`]).
fn prompt(text: &str, at: &str) -> Result<SecretString> {
    let typed = crate::interrupt::hidden(text, at).map_err(|e| match e {
        PromptError::Aborted(a) => anyhow::Error::new(a),
        PromptError::Io(e) => anyhow!(
            "cannot ask for the passphrase ({e}): there is no terminal; use --passphrase-file FILE"
        ),
    })?;
    let typed = Zeroizing::new(typed);
    if typed.is_empty() {
        bail!("an empty passphrase is not accepted");
    }
    Ok(SecretString::from(typed.as_str().to_owned()))
}

/// The passphrase of an existing archive: from `file`, else typed once.
pub fn existing_passphrase(file: Option<&Path>, archive: &Path) -> Result<SecretString> {
    match file {
        Some(f) => passphrase_from_file(f),
        None => prompt(
            &format!("Passphrase for {}: ", archive.display()),
            &format!("the passphrase prompt for {}", archive.display()),
        ),
    }
}

/// A passphrase for a new archive: from `file`, else typed twice.
pub fn new_passphrase(file: Option<&Path>, archive: &Path) -> Result<SecretString> {
    let p = match file {
        Some(f) => passphrase_from_file(f)?,
        None => {
            let at = format!("the new passphrase prompt for {}", archive.display());
            let a = prompt(&format!("New passphrase for {}: ", archive.display()), &at)?;
            let b = prompt("Type it again: ", &at)?;
            if a.expose_secret() != b.expose_secret() {
                bail!("the two passphrases differ; nothing was written");
            }
            a
        }
    };
    if p.expose_secret().chars().count() < 12 {
        eprintln!(
            "warning: the passphrase is shorter than 12 characters; the archive is only as strong as it"
        );
    }
    Ok(p)
}

/// Reads age identity files (`AGE-SECRET-KEY-1…` lines).
pub fn read_identities(files: &[PathBuf]) -> Result<Vec<Box<dyn age::Identity + Send + Sync>>> {
    let mut out: Vec<Box<dyn age::Identity + Send + Sync>> = Vec::new();
    for f in files {
        let bytes = Zeroizing::new(
            crate::archive::read_file_bounded(f, 1024 * 1024)
                .with_context(|| format!("cannot read the identity file {}", f.display()))?,
        );
        let file = age::IdentityFile::from_buffer(&bytes[..])
            .map_err(|e| anyhow!("{} is not an age identity file: {e}", f.display()))?;
        let ids = file.into_identities().map_err(|e| {
            anyhow!(
                "{}: cannot use its identities ({e}); plugin identities are not supported by this build",
                f.display()
            )
        })?;
        if ids.is_empty() {
            bail!("{} holds no age identity", f.display());
        }
        out.extend(ids);
    }
    Ok(out)
}

/// Collects recipients from `--recipient` and `--recipients-file` (one per
/// line, `#` comments and blank lines ignored), checking each.
pub fn read_recipients(direct: &[String], files: &[PathBuf]) -> Result<Vec<String>> {
    let mut out: Vec<String> = direct.iter().map(|r| r.trim().to_string()).collect();
    for f in files {
        let bytes = crate::archive::read_file_bounded(f, 1024 * 1024)
            .with_context(|| format!("cannot read the recipients file {}", f.display()))?;
        let text =
            String::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8 text", f.display()))?;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            out.push(line.to_string());
        }
    }
    out.dedup();
    crate::archive::parse_recipients(&out)?;
    Ok(out)
}

/// What the user gave to open an archive.
pub struct Unlock<'a> {
    /// `--passphrase-file`.
    pub passphrase_file: Option<&'a Path>,
    /// `--identity`.
    pub identities: &'a [PathBuf],
}

/// Works out how to decrypt `ciphertext` (read from `archive`): a
/// passphrase (asked for if not in a file) or the identities given.
/// `recipients` is what the manifest will say, filled in after decryption.
pub fn unlock_protection(
    ciphertext: &[u8],
    archive: &Path,
    unlock: &Unlock<'_>,
) -> Result<Protection> {
    if crate::archive::is_passphrase_encrypted(ciphertext)
        .with_context(|| format!("cannot open {}", archive.display()))?
    {
        if !unlock.identities.is_empty() {
            bail!(
                "{} is encrypted with a passphrase, not to age recipients: drop --identity",
                archive.display()
            );
        }
        Ok(Protection::Passphrase(existing_passphrase(
            unlock.passphrase_file,
            archive,
        )?))
    } else {
        if unlock.identities.is_empty() {
            bail!(
                "{} is encrypted to age recipients: pass --identity FILE (an age identity file)",
                archive.display()
            );
        }
        Ok(Protection::Recipients {
            recipients: Vec::new(),
            identities: read_identities(unlock.identities)?,
        })
    }
}

/// Asks the human to type one of `accepted` (compared after trimming,
/// case-insensitively). `yes` skips the question (scripts and tests) and
/// says so. Reads the terminal, never a pipe: a confirmation must be typed.
/// Any other answer, end of input or Ctrl-C is the operator's abort
/// ([`Aborted`]).
pub fn confirm(question: &str, accepted: &[&str], yes: bool) -> Result<String> {
    if yes {
        eprintln!("{question} [accepted by --yes]");
        return Ok("--yes".to_string());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "a typed confirmation is needed, but standard input is not a terminal; \
             run it at a terminal, or pass --yes to accept without asking"
        );
    }
    eprint!("{question} ");
    std::io::stderr().flush().ok();
    let at = crate::interrupt::question_name(question);
    let line = crate::interrupt::line(&at).map_err(|e| match e {
        PromptError::Aborted(a) => anyhow::Error::new(a),
        PromptError::Io(e) => anyhow::Error::new(e).context("cannot read the confirmation"),
    })?;
    let answer = line.trim();
    if accepted.iter().any(|a| a.eq_ignore_ascii_case(answer)) {
        Ok(answer.to_string())
    } else {
        Err(Aborted::AnsweredNo {
            at,
            typed: answer.to_string(),
            expected: accepted
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(" or "),
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_dumps_are_disabled() {
        assert!(harden_process().is_empty());
        #[cfg(unix)]
        {
            let limit = rustix::process::getrlimit(rustix::process::Resource::Core);
            assert_eq!(limit.current, Some(0));
            assert_eq!(limit.maximum, Some(0));
        }
    }

    #[test]
    fn passphrase_file_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p");
        std::fs::write(&p, "secret words\r\nignored\n").unwrap();
        assert_eq!(
            passphrase_from_file(&p).unwrap().expose_secret(),
            "secret words"
        );
        std::fs::write(&p, "\n").unwrap();
        let e = passphrase_from_file(&p).err().unwrap().to_string();
        assert!(e.contains("empty"), "{e}");
    }
}
