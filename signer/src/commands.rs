//! The archive commands (`import`, `export`, `list`, `keygen`) and the
//! helpers every command uses to open and save an archive.

use ceremony::fingerprint::Labelled;
use ceremony_cli::{eprintln, println};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use ceremony::keys::{NewKeyType, PrivateKey};
use ceremony::pubkey::PubkeyFile;
use ceremony::root::format_expires;

use crate::archive::{self, Protection};
use crate::export;
use crate::keystore::KeyArchive;
use crate::pkcs11::{self, TokenArgs};
use crate::progress;
use crate::secrets::{self, Unlock};
use crate::standing;
use crate::UsageError;

/// How to open an existing archive.
#[derive(clap::Args, Clone)]
pub struct UnlockArgs {
    /// Read the passphrase from the first line of this file instead of asking
    /// (for scripts; keep the file on the air-gapped machine).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// age identity file, for an archive encrypted to recipients (repeatable).
    #[arg(long = "identity", short = 'i', value_name = "FILE")]
    pub identity: Vec<PathBuf>,
    /// Every command that opens keys refuses a networked machine, unless it
    /// is a rehearsal: here, so that none of them lacks the check.
    #[command(flatten)]
    pub network: crate::machine::NetworkArgs,
}

impl UnlockArgs {
    fn unlock(&self) -> Unlock<'_> {
        Unlock {
            passphrase_file: self.passphrase_file.as_deref(),
            identities: &self.identity,
        }
    }
}

/// Who a new archive is encrypted to, instead of a passphrase.
#[derive(clap::Args, Clone)]
pub struct RecipientArgs {
    /// Encrypt to this age recipient (age1…) instead of a passphrase;
    /// repeat for escrow (any one identity then decrypts).
    #[arg(long = "recipient", short = 'r', value_name = "AGE1...")]
    pub recipient: Vec<String>,
    /// Encrypt to the recipients listed in this file, one per line.
    #[arg(long = "recipients-file", short = 'R', value_name = "FILE")]
    pub recipients_file: Vec<PathBuf>,
    /// The scrypt work factor (log2 N) of a new passphrase archive, 16 to 22
    /// (default 18: 256 MiB and about a second per opening; each step
    /// doubles the time and the memory, on every machine that opens it).
    #[arg(
        long = "work-factor",
        value_name = "LOG_N",
        value_parser = parse_work_factor,
        conflicts_with_all = ["recipient", "recipients_file"]
    )]
    pub work_factor: Option<u8>,
}

impl RecipientArgs {
    fn given(&self) -> bool {
        !self.recipient.is_empty() || !self.recipients_file.is_empty()
    }

    /// The scrypt work factor a new passphrase archive is sealed with:
    /// `--work-factor`, else (debug builds) the tests' lowered one, else the
    /// default. Not the old archive's: the default is what opens on a slow
    /// machine, and [`note_work_factor`] says when they differ.
    pub fn work_factor(&self) -> u8 {
        self.work_factor
            .or_else(archive::test_work_factor)
            .unwrap_or(archive::DEFAULT_WORK_FACTOR)
    }
}

/// `--work-factor`: a number within the bounds, or a message that says them.
fn parse_work_factor(text: &str) -> Result<u8, String> {
    let (min, max) = (archive::MIN_WORK_FACTOR, archive::MAX_WORK_FACTOR);
    let bounds = format!(
        "the scrypt work factor is log2 N, from {min} (64 MiB) to {max} (4 GiB, the most Go \
         age accepts); the default is {} (256 MiB, about a second)",
        archive::DEFAULT_WORK_FACTOR
    );
    match text.parse::<u8>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("{text:?} is not allowed: {bounds}")),
    }
}

/// Says so when a successor archive is sealed at another work factor than
/// the archive it comes from (an operator's earlier choice is not kept
/// silently).
pub fn note_work_factor(old: &Opened, new_log_n: u8, given: bool) {
    if let (Some(old_log_n), Protection::Passphrase(_)) = (old.work_factor, &old.protection) {
        if old_log_n != new_log_n && !given {
            eprintln!(
                "note: the new archive's scrypt work factor is log N = {new_log_n} (the default); \
                 the old one's is {old_log_n}: pass --work-factor {old_log_n} to keep it"
            );
        }
    }
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// A fioctl keys tarball (*.tgz), or the legacy example.tgz download.
    #[arg(value_name = "TARBALL")]
    pub tarball: Option<PathBuf>,
    /// Take only the tarball's keys of this role: `targets` for the offline
    /// targets keys (fioctl's `--targets-keys` tarball), `root` for the root
    /// keys. A tarball fioctl wrote with both (no `--targets-keys`) is
    /// imported twice, once per role, into two archives.
    #[arg(long, value_name = "root|targets", value_parser = ["root", "targets"], requires = "tarball")]
    pub role: Option<String>,
    /// A PKCS#8 PEM private key of a TUF repository (ed25519, ecdsa p256, rsa); repeatable.
    #[arg(long = "key", value_name = "KEY.pem")]
    pub keys: Vec<PathBuf>,
    /// The new archive to write (must not exist).
    #[arg(short = 'o', long = "output", value_name = "keys.tgz.age")]
    pub output: PathBuf,
    /// Record a root key that lives on a PKCS#11 token (with --pkcs11-module,
    /// --token and --key-label): only its public key and where it is go into
    /// the archive.
    #[command(flatten)]
    pub token: TokenArgs,
    /// The key's CKA_ID on the token, hex, when several keys share the label.
    #[arg(long = "key-id", value_name = "HEX", requires = "key_label")]
    pub key_id: Option<String>,
    /// Record the token key even though its private half can leave the
    /// token (CKA_EXTRACTABLE true or CKA_SENSITIVE false), which is refused
    /// otherwise: the archive marks it so, and every use warns.
    #[arg(long = "allow-extractable-token-key", requires = "key_label")]
    pub allow_extractable_token_key: bool,
    #[command(flatten)]
    pub unlock: UnlockArgs,
    #[command(flatten)]
    pub recipients: RecipientArgs,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// The archive.
    #[arg(value_name = "keys.tgz.age")]
    pub archive: PathBuf,
    /// The plain tarball to write (must not exist).
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE.tgz",
        required_unless_present = "each",
        conflicts_with = "each"
    )]
    pub output: Option<PathBuf>,
    /// With several active root keys: the one the tarball holds (key id or
    /// fingerprint, or 8+ characters of one); the other active keys are left
    /// out, as fioctl accepts one active key per tarball.
    #[arg(long = "key", value_name = "KEYID", conflicts_with = "each")]
    pub key: Option<String>,
    /// One tarball per active root key, in this folder (made if missing),
    /// named `<keyid>.tgz`, each with one active key and every inactive one.
    #[arg(long = "each", value_name = "DIR")]
    pub each: Option<PathBuf>,
    /// Confirms that you want the private keys written unencrypted.
    #[arg(long)]
    pub plaintext: bool,
    #[command(flatten)]
    pub unlock: UnlockArgs,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// The archive.
    #[arg(value_name = "keys.tgz.age")]
    pub archive: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Do not open the other archives in the same folder (one passphrase
    /// derivation each) to tell whether this one is current or superseded.
    #[arg(long)]
    pub no_compare: bool,
    #[command(flatten)]
    pub unlock: UnlockArgs,
}

#[derive(clap::Args)]
pub struct KeygenArgs {
    /// The archive to add the key to (it is not changed; see --new-archive).
    #[arg(long = "keys", value_name = "keys.tgz.age")]
    pub keys: PathBuf,
    /// Key type.
    #[arg(
        long = "type",
        value_name = "ed25519|rsa-4096",
        default_value = "ed25519"
    )]
    pub key_type: NewKeyType,
    /// The public-key file to write (tuf-ceremony/pubkey@1), for the submitter.
    #[arg(short = 'o', long = "output", value_name = "pubkey.json")]
    pub output: PathBuf,
    /// Where to write the new archive (default: keys-<UTC time>.tgz.age beside the old).
    #[arg(long, value_name = "PATH")]
    pub new_archive: Option<PathBuf>,
    /// Who holds the key, recorded in the public-key file.
    #[arg(long, value_name = "NAME")]
    pub holder: Option<String>,
    /// Generate the key on a PKCS#11 token instead (with --pkcs11-module and
    /// --token; --key-label defaults to tuf-root-<UTC time>): it never leaves
    /// the token, and the archive records only its public key and where it is.
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub unlock: UnlockArgs,
    #[command(flatten)]
    pub recipients: RecipientArgs,
}

/// Now, as written in manifests and roots.
pub fn now_text(now: OffsetDateTime) -> String {
    format_expires(now)
}

/// An archive read from disk, and how to write its successor.
pub struct Opened {
    pub archive: KeyArchive,
    pub protection: Protection,
    /// The scrypt work factor its header names (`None`: recipients, or a
    /// new archive not read from disk).
    pub work_factor: Option<u8>,
}

/// Decrypts `ciphertext`, announcing the derivation for a passphrase.
pub fn decrypt_announced(
    ciphertext: &[u8],
    protection: &Protection,
    why: &str,
) -> Result<Zeroizing<Vec<u8>>, archive::ArchiveError> {
    match protection {
        Protection::Passphrase(_) => {
            progress::derivation(archive::scrypt_work_factor(ciphertext), why, || {
                archive::decrypt(ciphertext, protection)
            })
        }
        Protection::Recipients { .. } => archive::decrypt(ciphertext, protection),
    }
}

/// Reads, decrypts and parses an archive.
pub fn open_archive(path: &Path, unlock: &UnlockArgs) -> Result<Opened> {
    let ciphertext = archive::read_file_bounded(path, archive::MAX_FILE)
        .with_context(|| format!("cannot read the archive {}", path.display()))?;
    let mut protection = secrets::unlock_protection(&ciphertext, path, &unlock.unlock())?;
    let work_factor = match protection {
        Protection::Passphrase(_) => archive::scrypt_work_factor(&ciphertext),
        Protection::Recipients { .. } => None,
    };
    let plain = decrypt_announced(
        &ciphertext,
        &protection,
        &format!("open {}", path.display()),
    )
    .with_context(|| format!("cannot open the archive {}", path.display()))?;
    let entries = archive::read_tar_gz(&plain)
        .with_context(|| format!("{} decrypts, but its tarball is unusable", path.display()))?;
    let archive = KeyArchive::from_entries(entries)?;
    if let Protection::Recipients { recipients, .. } = &mut protection {
        recipients.clone_from(&archive.manifest.recipients);
    }
    Ok(Opened {
        archive,
        protection,
        work_factor,
    })
}

/// Applies `--recipient`/`--recipients-file` to the protection of a
/// successor archive, and checks it can be written at all.
pub fn successor_protection(opened: &mut Opened, over: &RecipientArgs) -> Result<()> {
    if over.work_factor.is_some() && matches!(opened.protection, Protection::Recipients { .. }) {
        return Err(UsageError(
            "--work-factor is the scrypt cost of a passphrase archive; this archive is encrypted \
             to age recipients, and so is the new one: drop --work-factor"
                .into(),
        )
        .into());
    }
    if over.given() {
        let list = secrets::read_recipients(&over.recipient, &over.recipients_file)?;
        match &mut opened.protection {
            Protection::Recipients { recipients, .. } => *recipients = list,
            Protection::Passphrase(_) => bail!(
                "this archive is protected by a passphrase; the new one is too (changing to \
                 recipients: export and import again)"
            ),
        }
    }
    if let Protection::Recipients { recipients, .. } = &opened.protection {
        if recipients.is_empty() {
            bail!(
                "the archive does not record which age recipients it is encrypted to (it was \
                 not written by signer): pass --recipient or --recipients-file for the new archive"
            );
        }
    }
    Ok(())
}

/// Writes `archive` to `path` (which must not exist) encrypted with
/// `protection` (a passphrase at scrypt work factor `log_n`), atomically,
/// and checks the file on disk decrypts to exactly what was meant (when an
/// identity is at hand) before it gets its name. Returns whether it was
/// re-decrypted. A passphrase archive costs two derivations here: sealing,
/// and decrypting the file read back.
pub fn save_archive(
    path: &Path,
    archive: &mut KeyArchive,
    protection: &Protection,
    log_n: u8,
) -> Result<bool> {
    if let Protection::Recipients { recipients, .. } = protection {
        archive.manifest.recipients.clone_from(recipients);
    } else {
        archive.manifest.recipients.clear();
    }
    let gz = archive::write_tar_gz(archive.finish_entries()?)?;
    let ciphertext = match protection {
        Protection::Passphrase(_) => {
            progress::derivation(Some(log_n), &format!("seal {}", path.display()), || {
                archive::encrypt(&gz, protection, log_n)
            })
        }
        Protection::Recipients { .. } => archive::encrypt(&gz, protection, log_n),
    }?;
    let can_decrypt = match protection {
        Protection::Passphrase(_) => true,
        Protection::Recipients { identities, .. } => !identities.is_empty(),
    };
    archive::write_atomic(path, &ciphertext, &|back| {
        if !can_decrypt {
            archive::is_passphrase_encrypted(back)?;
            return Ok(());
        }
        let plain = decrypt_announced(back, protection, &format!("check {}", path.display()))?;
        if plain.as_slice() != gz.as_slice() {
            return Err(archive::ArchiveError::Age(
                "the archive written does not decrypt to what was meant".into(),
            ));
        }
        let entries = archive::read_tar_gz(&plain)?;
        let mine = archive.entries();
        let same =
            entries.len() == mine.len() && mine.names().all(|n| entries.get(n) == mine.get(n));
        if !same {
            return Err(archive::ArchiveError::Tarball(
                "the archive written does not read back to the same entries".into(),
            ));
        }
        Ok(())
    })
    .with_context(|| format!("writing {} failed; it was not created", path.display()))?;
    Ok(can_decrypt)
}

/// `keys-<UTC time>.tgz.age` beside `old` (never an existing name).
pub fn default_successor(old: &Path, now: OffsetDateTime) -> PathBuf {
    let dir = old.parent().unwrap_or(Path::new(""));
    let name = old
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "keys".into());
    let mut stem = name
        .strip_suffix(".tgz.age")
        .or_else(|| name.strip_suffix(".age"))
        .unwrap_or(&name)
        .to_string();
    // Drop a timestamp a previous run appended: keys-20250101T000000Z.
    if let Some(i) = stem.rfind('-') {
        let tail = &stem[i + 1..];
        if tail.len() == 16
            && tail.ends_with('Z')
            && tail.as_bytes()[8] == b'T'
            && tail[..8].bytes().all(|b| b.is_ascii_digit())
        {
            stem.truncate(i);
        }
    }
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let ts = now
        .to_offset(time::UtcOffset::UTC)
        .format(fmt)
        .unwrap_or_else(|_| "new".into());
    let mut candidate = dir.join(format!("{stem}-{ts}.tgz.age"));
    let mut n = 2;
    while std::fs::symlink_metadata(&candidate).is_ok() {
        candidate = dir.join(format!("{stem}-{ts}-{n}.tgz.age"));
        n += 1;
    }
    candidate
}

fn looks_like_age(bytes: &[u8]) -> bool {
    bytes.starts_with(b"age-encryption.org/")
        || bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
}

pub fn import(args: ImportArgs) -> Result<ExitCode> {
    let from_token = args.token.module.is_some();
    if args.tarball.is_none() && args.keys.is_empty() && !from_token {
        return Err(UsageError(
            "give a fioctl keys tarball, one or more --key KEY.pem, or a token key \
             (--pkcs11-module PATH --token LABEL --key-label LABEL)"
                .into(),
        )
        .into());
    }
    let token_key = match (&args.token.module, &args.token.token, &args.token.key_label) {
        (None, _, _) => None,
        (Some(m), Some(t), Some(l)) => Some((m, t, l)),
        (Some(_), _, _) => {
            return Err(UsageError(
                "recording a token key needs --pkcs11-module, --token and --key-label".into(),
            )
            .into())
        }
    };
    archive::refuse_taken(&args.output, "an archive", "-o")?;
    let now = OffsetDateTime::now_utc();
    let now_s = now_text(now);

    let mut ka = match &args.tarball {
        Some(path) => {
            let bytes = archive::read_file_bounded(path, archive::MAX_FILE)
                .with_context(|| format!("cannot read {}", path.display()))?;
            if looks_like_age(&bytes) {
                bail!(
                    "{} is already an age-encrypted archive; to change its protection, export it and import again",
                    path.display()
                );
            }
            let entries = archive::read_tar_gz(&bytes)
                .with_context(|| format!("cannot import {}", path.display()))?;
            let mut ka = KeyArchive::from_entries(entries)?;
            let roles: BTreeSet<&str> = ka
                .keys
                .iter()
                .map(|k| k.role.as_str())
                .filter(|r| export::ROLES.contains(r))
                .collect();
            match args.role.as_deref() {
                Some(role) => {
                    if !roles.contains(role) {
                        bail!(
                            "{} holds no {role} key (keys it holds: {}); nothing was written",
                            path.display(),
                            if roles.is_empty() {
                                "none".to_string()
                            } else {
                                roles.iter().copied().collect::<Vec<_>>().join(", ")
                            }
                        );
                    }
                    ka = KeyArchive::from_entries(ka.only_role(role)?)?;
                }
                None if roles.len() > 1 => eprintln!(
                    "note: {} holds root and targets keys; to keep them apart, as fioctl's \
                     --keys / --targets-keys do, import it twice instead: --role root -o \
                     root.tgz.age and --role targets -o targets.tgz.age",
                    path.display()
                ),
                None => {}
            }
            let legacy = ka.entries().contains("tufrepo/keys/offline-root.sec");
            let origin = format!(
                "imported from {}{}",
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                if legacy {
                    " (legacy garage-sign download)"
                } else {
                    ""
                }
            );
            ka.record_unlisted_keys(&origin, Some(ceremony::Dialect::OtaTuf), &now_s);
            if legacy {
                eprintln!(
                    "note: {} is the legacy garage-sign download; its root key is tufrepo/keys/offline-root.sec",
                    path.display()
                );
            }
            ka
        }
        None => KeyArchive::from_entries(archive::Entries::new())?,
    };
    for pem_path in &args.keys {
        let bytes = Zeroizing::new(
            archive::read_file_bounded(pem_path, 64 * 1024)
                .with_context(|| format!("cannot read {}", pem_path.display()))?,
        );
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| anyhow!("{} is not a PEM text file", pem_path.display()))?;
        let key = PrivateKey::from_pkcs8_pem(text)
            .with_context(|| format!("{} is not a usable private key", pem_path.display()))?;
        let origin = format!(
            "imported from {}",
            pem_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        ka.add_key(key, "root", Some(ceremony::Dialect::Tuf), &origin, &now_s)
            .with_context(|| format!("cannot import {}", pem_path.display()))?;
    }
    if let Some((module, token, label)) = token_key {
        let module = pkcs11::Module::load(module)?;
        let found = pkcs11::find_existing(
            &module,
            token,
            args.token.pin_file.as_deref(),
            label,
            args.key_id.as_deref(),
            args.allow_extractable_token_key,
        )?;
        if args.allow_extractable_token_key
            && !found.reference.protection.is_some_and(|p| p.weak_accepted)
        {
            eprintln!(
                "note: {} cannot leave the token; --allow-extractable-token-key is not used",
                found.reference.describe()
            );
        }
        ka.warnings.extend(found.warnings);
        let name = ka
            .add_token_key(
                found.public,
                found.reference,
                None,
                "imported from the token by signer import",
                &now_s,
            )
            .context("cannot record the token key")?;
        println!("Recorded {name} (the private key stays on the token).");
    }
    for w in &ka.warnings {
        eprintln!("warning: {w}");
    }
    if ka.keys.is_empty() && ka.token_keys.is_empty() {
        bail!(
            "no private key found (expected tufrepo/keys/*.sec files, as fioctl writes them); nothing was written"
        );
    }

    let protection = if args.recipients.given() {
        let recipients =
            secrets::read_recipients(&args.recipients.recipient, &args.recipients.recipients_file)?;
        Protection::Recipients {
            recipients,
            identities: secrets::read_identities(&args.unlock.identity)?,
        }
    } else {
        if !args.unlock.identity.is_empty() {
            return Err(UsageError(
                "--identity is for archives encrypted to recipients: also give --recipient".into(),
            )
            .into());
        }
        Protection::Passphrase(secrets::new_passphrase(
            args.unlock.passphrase_file.as_deref(),
            &args.output,
        )?)
    };
    let log_n = args.recipients.work_factor();
    let checked = save_archive(&args.output, &mut ka, &protection, log_n)?;
    println!(
        "Wrote {} ({} key(s), encrypted to {}{}).",
        args.output.display(),
        ka.keys.len() + ka.token_keys.len(),
        protection.describe(),
        match protection {
            Protection::Passphrase(_) => format!(", work factor log N = {log_n}"),
            Protection::Recipients { .. } => String::new(),
        }
    );
    for k in &ka.keys {
        println!(
            "  {:<8} {:<11} {}  fingerprint {}",
            k.role,
            k.description(),
            k.entry,
            k.public.fingerprint()
        );
    }
    for k in &ka.token_keys {
        println!(
            "  {:<8} {:<11} on {} (key {:?})  fingerprint {}",
            k.info.role,
            k.description(),
            k.info.token.recorded_token(),
            k.info.token.key_label,
            k.public.fingerprint()
        );
    }
    if checked {
        println!("It was read back, decrypted and compared: it is complete.");
    } else {
        println!(
            "Not re-decrypted (no --identity given): check it with `signer list {} --identity FILE`.",
            args.output.display()
        );
    }
    if args.tarball.is_some() {
        println!(
            "The plain tarball is unchanged: once you have checked the archive, destroy the plain copy."
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn export(args: ExportArgs) -> Result<ExitCode> {
    if !args.plaintext {
        return Err(UsageError(
            "export writes every private key unencrypted; pass --plaintext to confirm you mean it"
                .into(),
        )
        .into());
    }
    if let Some(o) = &args.output {
        archive::refuse_taken(o, "a plain keys tarball", "-o")?;
    }
    let mut opened = open_archive(&args.archive, &args.unlock)?;
    opened.archive.finish_entries()?;
    let ka = &opened.archive;
    let active = export::active_keys(ka);
    // (file, the active key it holds) for every tarball to write; a tarball
    // holds every key but the other active keys of the kept key's role (and,
    // with --each, every other active key: one active key per tarball).
    let plan: Vec<(PathBuf, Option<usize>)> = match (&args.each, &args.key, &args.output) {
        (Some(dir), _, _) => {
            let mut plan = Vec::new();
            for &i in &active.keys {
                let id = ka.keys[i].shown_id();
                // The id names a file: hex only (it comes from our own
                // manifest, but a name is a path).
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    bail!(
                        "the key {} has no hexadecimal id to name its tarball by",
                        ka.keys[i].entry
                    );
                }
                plan.push((dir.join(format!("{id}.tgz")), Some(i)));
            }
            plan
        }
        (None, Some(wanted), Some(o)) => {
            let i = export::pick(ka, &active.keys, wanted).map_err(UsageError)?;
            let role = ka.keys[i].role.as_str();
            if let Some(other) = export::ROLES
                .into_iter()
                .find(|r| *r != role && active.of_role(ka, r).count() > 1)
            {
                return Err(UsageError(format!(
                    "the archive also holds several active {other} keys, and --key keeps only \
                     one {role} key: use --each DIR for one tarball per key"
                ))
                .into());
            }
            vec![(o.clone(), Some(i))]
        }
        (None, None, Some(o)) => match active.crowded(ka) {
            None => vec![(o.clone(), None)],
            Some(role) => {
                let listed: Vec<String> = active
                    .of_role(ka, role)
                    .map(|i| {
                        let k = &ka.keys[i];
                        format!(
                            "  {} (fingerprint {}, {})",
                            k.shown_id(),
                            k.public.fingerprint(),
                            k.entry
                        )
                    })
                    .collect();
                return Err(UsageError(format!(
                    "the archive holds {} active {role} keys ({}):\n{}\nfioctl refuses a tarball with \
                     more than one active key per role. Choose: --key KEYID for one tarball holding \
                     that key, or --each DIR for one tarball per key (one per holder).",
                    listed.len(),
                    active.source,
                    listed.join("\n")
                ))
                .into());
            }
        },
        (None, _, None) => return Err(UsageError("give -o FILE.tgz or --each DIR".into()).into()),
    };
    if plan.is_empty() {
        bail!(
            "the archive holds no root or targets key in a file (only on tokens, if any): there \
             is nothing to write into per-key tarballs"
        );
    }
    if let Some(dir) = &args.each {
        if !dir.is_dir() {
            std::fs::create_dir(dir)
                .with_context(|| format!("cannot make the folder {}", dir.display()))?;
        }
    }
    // Every name is checked before anything is written: all or none.
    for (path, _) in &plan {
        archive::refuse_taken(
            path,
            "a plain keys tarball",
            "-o (or another --each folder)",
        )?;
    }
    for (path, keep) in &plan {
        let drop: Vec<usize> = match keep {
            None => Vec::new(),
            Some(k) => active
                .keys
                .iter()
                .copied()
                .filter(|i| i != k && (args.each.is_some() || ka.keys[*i].role == ka.keys[*k].role))
                .collect(),
        };
        let entries = export::without(ka, &drop)?;
        let gz = archive::write_tar_gz(&entries)?;
        archive::write_atomic(path, &gz, &|back| archive::read_tar_gz(back).map(|_| ()))
            .with_context(|| format!("writing {} failed", path.display()))?;
        let held = ka.keys.len() - drop.len();
        println!(
            "Wrote {} (plain gzip'd tarball, fioctl's layout, {held} key(s){}). It holds the \
             private keys UNENCRYPTED: keep it offline and destroy it when done.",
            path.display(),
            {
                let held: Vec<String> = active
                    .keys
                    .iter()
                    .filter(|i| !drop.contains(i))
                    .map(|&i| format!("active {} key {}", ka.keys[i].role, ka.keys[i].shown_id()))
                    .collect();
                if held.is_empty() {
                    String::new()
                } else {
                    format!(", {}", held.join(", "))
                }
            }
        );
    }
    if !active.keys.is_empty() {
        println!("Active keys from {}.", active.source);
    }
    if !ka.token_keys.is_empty() {
        println!(
            "{} key(s) live on PKCS#11 tokens and are not in it (only their public keys, in \
             tuf-ceremony/manifest.json): fioctl cannot sign with them; `signer sign \
             --pkcs11-module PATH` can.",
            ka.token_keys.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn list(args: ListArgs) -> Result<ExitCode> {
    let opened = open_archive(&args.archive, &args.unlock)?;
    let ka = &opened.archive;
    let stored = ka.anchors();
    // Each anchor by its root's signed part, as `submitter upload` and the
    // closing lines of `signer sign` name the same root.
    let signed_part = |a: &crate::keystore::StoredAnchor| {
        let version = a.version.unwrap_or(0);
        ka.anchor_roots(a)
            .ok()
            .and_then(|(root, _)| Labelled::root(&root, Some(&a.chain)))
            .unwrap_or_else(|| Labelled::root_signed(Some(&a.chain), version, "(unreadable)"))
    };
    let anchors: Vec<serde_json::Value> = stored
        .iter()
        .map(|a| {
            serde_json::json!({
                "signed_sha256": signed_part(a).hex(),
                "target": a.describe_target(),
                "target_id": a.target,
                "target_as_proposed": a.target_text,
                "chain": a.chain,
                "legacy": a.legacy(),
                "dialect": a.dialect,
                "version": a.version,
                "sha256": a.sha256,
                "signed_at": a.signed_at,
                "entry": a.entry,
                "root_key_fingerprints": a.root_key_fingerprints,
            })
        })
        .collect();
    let status = if args.no_compare {
        None
    } else {
        Some(standing::compare(&args.archive, &opened))
    };
    if args.json {
        let out = serde_json::json!({
            "archive": args.archive.display().to_string(),
            "encryption": opened.protection.describe(),
            "scrypt_work_factor": opened.work_factor,
            "keys": ka.listing(),
            "anchors": anchors,
            "status": status.as_ref().map(standing::Standing::to_json),
            "warnings": ka.warnings,
        });
        ceremony_cli::output::print_json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: {} key(s), encrypted to {}{}",
        args.archive.display(),
        ka.keys.len() + ka.token_keys.len(),
        opened.protection.describe(),
        opened
            .work_factor
            .map_or(String::new(), |n| format!(", work factor log N = {n}"))
    );
    println!(
        "  {:<8} {:<11} {:<18} {:<20} ID / ENTRY / FINGERPRINT",
        "ROLE", "TYPE", "DIALECT", "ADDED"
    );
    for k in &ka.keys {
        let info = k.info.as_ref();
        // The whole id and fingerprint: a person compares them with a
        // printout, and a prefix is what a crafted key would share.
        println!(
            "  {:<8} {:<11} {:<18} {:<20} {}",
            k.role,
            k.description(),
            info.and_then(|i| i.dialect)
                .map_or("-".to_string(), |d| d.to_string()),
            info.map_or("(unknown)", |i| i.added_at.as_str()),
            k.shown_id()
        );
        println!("  {:<8} {}", "", k.entry);
        println!("  {:<8} fingerprint {}", "", k.public.fingerprint());
        print_words(&k.public);
    }
    for k in &ka.token_keys {
        let t = &k.info.token;
        println!(
            "  {:<8} {:<11} {:<18} {:<20} {}",
            k.info.role,
            k.description(),
            k.info.dialect.map_or("-".to_string(), |d| d.to_string()),
            k.info.added_at,
            k.shown_id()
        );
        println!("  {:<8} fingerprint {}", "", k.public.fingerprint());
        print_words(&k.public);
        println!(
            "  {:<8} on token {:?}: key {:?}, id {}{} (module when recorded: {})",
            "",
            t.token_label,
            t.key_label,
            if t.key_id.is_empty() { "-" } else { &t.key_id },
            if t.token_serial.is_empty() {
                String::new()
            } else {
                format!(", token serial {}", t.token_serial)
            },
            t.module_hint
        );
        if t.is_pinned() {
            println!(
                "  {:<8} pinned to that token: manufacturer {:?}, model {:?}",
                "", t.token_manufacturer, t.token_model
            );
        }
        for c in t.concerns() {
            println!("  {:<8} warning: {c}", "");
        }
    }
    if !ka.token_keys.is_empty() {
        println!(
            "Keys on a token have no .sec file in the archive: fioctl cannot sign with them; \
             `signer sign --pkcs11-module PATH` signs with them on the token."
        );
    }
    if stored.is_empty() {
        println!(
            "Trust anchors: none yet (the first `signer sign` asks you to check the root's keys)."
        );
    } else {
        println!("Trust anchors (the last roots this archive signed), by target and chain:");
        let mut targets: Vec<String> = Vec::new();
        for a in &stored {
            let t = a.describe_target();
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
        for t in &targets {
            println!("  {t}");
            for a in stored.iter().filter(|a| a.describe_target() == *t) {
                println!(
                    "    chain {:<5} v{} ({}), signed {}",
                    ceremony::untrusted::escape(&a.chain),
                    a.version.map_or("?".to_string(), |v| v.to_string()),
                    a.dialect
                        .map_or("dialect unrecorded".to_string(), |d| d.to_string()),
                    a.signed_at.as_deref().unwrap_or("(unrecorded)"),
                );
                println!("{}", signed_part(a).render("          "));
                if let Some(seen) = &a.target_text {
                    println!(
                        "          proposed as: {}",
                        ceremony::untrusted::escape(seen)
                    );
                }
                println!("          entry {}", a.entry);
                if !a.root_key_fingerprints.is_empty() {
                    println!(
                        "          {} root key(s) seen in this chain: a proposal whose root lists \
                         any of them must chain from this anchor",
                        a.root_key_fingerprints.len()
                    );
                }
            }
        }
    }
    if let Some(status) = &status {
        for line in status.lines() {
            println!("{line}");
        }
    }
    for w in &ka.warnings {
        println!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A key's witness words under its fingerprint, in `signer list`'s column.
fn print_words(public: &ceremony::keys::PublicKey) {
    if let Some(w) = Labelled::key(public.fingerprint()).words_line() {
        println!("  {:<8} {w}", "");
    }
}

pub fn keygen(args: KeygenArgs) -> Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    let new_path = args
        .new_archive
        .clone()
        .unwrap_or_else(|| default_successor(&args.keys, now));
    archive::refuse_taken(&new_path, "an archive", "--new-archive")?;
    archive::refuse_taken(&args.output, "a public-key file", "-o")?;
    if new_path == args.output {
        return Err(UsageError("-o and --new-archive name the same file".into()).into());
    }
    let on_token = match (&args.token.module, &args.token.token) {
        (None, _) => None,
        (Some(m), Some(t)) => Some((m, t)),
        (Some(_), None) => {
            return Err(UsageError(
                "generating a key on a token needs --token LABEL with --pkcs11-module".into(),
            )
            .into())
        }
    };
    let mut opened = open_archive(&args.keys, &args.unlock)?;
    successor_protection(&mut opened, &args.recipients)?;
    let now_s = now_text(now);
    let (public, entry) = match on_token {
        None => {
            let key =
                progress::key_generation(args.key_type, "", || PrivateKey::generate(args.key_type))
                    .context("key generation failed")?;
            let public = key.public_key();
            let entry =
                opened
                    .archive
                    .add_key(key, "root", None, "generated by signer keygen", &now_s)?;
            (public, entry)
        }
        Some((module, token)) => {
            let label = args
                .token
                .key_label
                .clone()
                .unwrap_or_else(|| pkcs11::default_key_label(now));
            let module = pkcs11::Module::load(module)?;
            let made = progress::key_generation(args.key_type, "", || {
                pkcs11::generate(
                    &module,
                    token,
                    args.token.pin_file.as_deref(),
                    args.key_type,
                    &label,
                )
            })?;
            let public = made.public.clone();
            let name = made.reference.describe();
            eprintln!(
                "Generated {name} ({}, fingerprint {}); it never leaves the token.",
                args.key_type,
                public.fingerprint()
            );
            let entry = opened
                .archive
                .add_token_key(
                    made.public,
                    made.reference,
                    None,
                    "generated on the token by signer keygen",
                    &now_s,
                )
                .with_context(|| {
                    format!(
                        "cannot record {name} (it is on the token; record it with `signer import \
                         --pkcs11-module PATH --token {token:?} --key-label {label:?} -o \
                         NEW.tgz.age`)"
                    )
                })?;
            (public, entry)
        }
    };
    let log_n = args.recipients.work_factor();
    note_work_factor(&opened, log_n, args.recipients.work_factor.is_some());
    save_archive(&new_path, &mut opened.archive, &opened.protection, log_n).with_context(|| {
        if on_token.is_some() {
            format!(
                "{entry} was generated, but the archive recording it was not written: record it \
                 with `signer import --pkcs11-module PATH --token LABEL --key-label LABEL -o \
                 NEW.tgz.age`"
            )
        } else {
            "the new key was not saved".to_string()
        }
    })?;
    if on_token.is_some() {
        println!(
            "New {} key: {entry}; recorded (public key and token reference only) in the new \
             archive {}; {} is unchanged.",
            args.key_type,
            new_path.display(),
            args.keys.display()
        );
    } else {
        println!(
            "New {} key saved in the new archive {} (entry {}); {} is unchanged.",
            args.key_type,
            new_path.display(),
            entry,
            args.keys.display()
        );
    }
    let file = PubkeyFile::new(&public, args.holder.clone(), Some(now_s));
    let bytes = file.to_bytes();
    archive::write_atomic(&args.output, &bytes, &|back| {
        PubkeyFile::from_slice(back)
            .map(|_| ())
            .map_err(|e| archive::ArchiveError::Tarball(e.to_string()))
    })
    .with_context(|| {
        format!(
            "writing {} failed (the key is saved in {})",
            args.output.display(),
            new_path.display()
        )
    })?;
    println!(
        "Public key written to {}: fingerprint {} (read it out to the coordinator to compare).",
        args.output.display(),
        public.fingerprint()
    );
    println!(
        "From now on use {} (it holds the new key); keep {} until the new root is live.",
        new_path.display(),
        args.keys.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_names() {
        let t = time::macros::datetime!(2026-01-02 03:04:05 UTC);
        assert_eq!(
            default_successor(Path::new("/nonexistent/keys.tgz.age"), t),
            PathBuf::from("/nonexistent/keys-20260102T030405Z.tgz.age")
        );
        assert_eq!(
            default_successor(Path::new("/nonexistent/keys-20250101T000000Z.tgz.age"), t),
            PathBuf::from("/nonexistent/keys-20260102T030405Z.tgz.age")
        );
        assert_eq!(
            default_successor(Path::new("k.age"), t),
            PathBuf::from("k-20260102T030405Z.tgz.age")
        );
    }
}
