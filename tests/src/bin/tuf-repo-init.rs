//! `tuf-repo-init`: creates a TUF-dialect repository with fresh root keys,
//! for the demo and the tests.
//!
//! It writes `DIR/metadata/1.root.json` (and `root.json`, the same bytes), a
//! root signed by all its own root keys, and the root private keys as
//! unencrypted PKCS#8 PEM files in `DIR/keys/<keyid>.pem`, ready for
//! `signer import --key`. Those plain files are for a test or a demo only:
//! import them into an encrypted archive and delete them.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use serde_json::{json, Map};
use time::OffsetDateTime;

use ceremony::root::format_expires;
use ceremony::Dialect;
use ceremony_tests::keygen::{TestKey, TestKeyType};

#[derive(Parser)]
#[command(
    name = "tuf-repo-init",
    version,
    about = "Create a TUF-dialect repository (metadata/1.root.json) with fresh root keys, for demos and tests.",
    long_about = "Create a TUF-dialect repository with fresh root keys, for demos and tests.\n\n\
        Writes DIR/metadata/1.root.json and DIR/metadata/root.json (a version 1 root signed by \
        all its root keys, with separate online keys for targets, snapshot and timestamp) and \
        the root private keys as unencrypted PKCS#8 PEM in DIR/keys/<keyid>.pem, for \
        `signer import --key`. Delete the PEM files once they are imported.",
    after_help = "Example:\n  tuf-repo-init /tmp/repo --keys 2 --threshold 2\n  \
        signer import --key /tmp/repo/keys/KEYID1.pem --key /tmp/repo/keys/KEYID2.pem -o keys.tgz.age\n  \
        (one --key per file, as tuf-repo-init prints them)"
)]
struct Cli {
    /// The repository folder to create (must not hold metadata/1.root.json yet).
    dir: PathBuf,
    /// Number of root keys.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=16))]
    keys: u64,
    /// Root threshold.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=16))]
    threshold: u64,
    /// Type of the root keys.
    #[arg(
        long,
        value_name = "ed25519|rsa-2048|rsa-3072|rsa-4096",
        default_value = "ed25519"
    )]
    key_type: TestKeyType,
    /// Days until the root expires.
    #[arg(long, default_value_t = 365)]
    expires_in: i64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.threshold > cli.keys {
        eprintln!(
            "tuf-repo-init: error: a threshold of {} cannot be met by {} key(s)",
            cli.threshold, cli.keys
        );
        return ExitCode::from(2);
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tuf-repo-init: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), String> {
    let meta = cli.dir.join("metadata");
    let keydir = cli.dir.join("keys");
    if meta.join("1.root.json").exists() {
        return Err(format!(
            "{} already exists",
            meta.join("1.root.json").display()
        ));
    }
    for d in [&meta, &keydir] {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let d = Dialect::Tuf;
    let root_keys: Vec<TestKey> = (0..cli.keys)
        .map(|_| TestKey::generate(cli.key_type))
        .collect();
    let online: Vec<(&str, TestKey)> = ["snapshot", "targets", "timestamp"]
        .into_iter()
        .map(|r| (r, TestKey::generate(TestKeyType::Ed25519)))
        .collect();
    let mut keys = Map::new();
    for k in root_keys.iter().chain(online.iter().map(|(_, k)| k)) {
        keys.insert(k.key_id(d), k.key_object(d));
    }
    let mut roles = Map::new();
    roles.insert(
        "root".into(),
        json!({
            "keyids": root_keys.iter().map(|k| k.key_id(d)).collect::<Vec<_>>(),
            "threshold": cli.threshold,
        }),
    );
    for (role, k) in &online {
        roles.insert(
            (*role).into(),
            json!({"keyids": [k.key_id(d)], "threshold": 1}),
        );
    }
    let expires = format_expires(OffsetDateTime::now_utc() + time::Duration::days(cli.expires_in));
    let signed = json!({
        "_type": "root",
        "spec_version": "1.0.31",
        "version": 1,
        "expires": expires,
        "keys": keys,
        "roles": roles,
        "consistent_snapshot": true,
    });
    let signatures: Vec<_> = root_keys
        .iter()
        .map(|k| k.signature_entry(&signed, d))
        .collect();
    let root = json!({"signed": signed, "signatures": signatures});
    let mut bytes = serde_json::to_vec_pretty(&root).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    write_file(&meta.join("1.root.json"), &bytes, 0o644)?;
    write_file(&meta.join("root.json"), &bytes, 0o644)?;
    println!("created a TUF repository in {}", cli.dir.display());
    println!(
        "  {} (version 1, root threshold {} of {}, expires {expires})",
        meta.join("1.root.json").display(),
        cli.threshold,
        cli.keys
    );
    // One `--key` per file: `--key DIR/*.pem` would pass every file after
    // the first as the tarball argument.
    let mut import = String::from("signer import");
    for k in &root_keys {
        let path = keydir.join(format!("{}.pem", k.key_id(d)));
        write_file(&path, k.pkcs8_pem().as_bytes(), 0o600)?;
        println!("  root key {} -> {}", k.key_id(d), path.display());
        import.push_str(&format!(" --key {}", path.display()));
    }
    println!(
        "  these PEM files are unencrypted: import them with `{import} -o keys.tgz.age` and delete them"
    );
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use ceremony::fsio::{write_new, WriteOptions};
    let options = if mode & 0o077 == 0 {
        WriteOptions::secret()
    } else {
        WriteOptions::public()
    };
    write_new(path, bytes, &options).map_err(|e| e.to_string())
}
