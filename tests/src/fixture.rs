//! A ceremony's files as the tests make them: the passphrase file, the
//! argument lists of `signer import` and `signer sign` (so a flag renamed
//! once is renamed for every test), and [`Ceremony`], a whole ceremony made
//! by the binaries themselves.

use std::path::{Path, PathBuf};

use ceremony::keys::PrivateKey;
use serde_json::Value;

use crate::cmd::{ok, run_in, TestCommand};

/// The passphrase of every archive the tests make.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// `signer import factory-keys.tgz -o keys.tgz.age --passphrase-file pass.txt`.
pub const IMPORT: [&str; 6] = [
    "import",
    "factory-keys.tgz",
    "-o",
    "keys.tgz.age",
    "--passphrase-file",
    "pass.txt",
];

/// Writes [`PASSPHRASE`] to `dir/pass.txt` and returns its path.
pub fn write_passphrase(dir: &Path) -> PathBuf {
    let p = dir.join("pass.txt");
    std::fs::write(&p, format!("{PASSPHRASE}\n")).unwrap();
    p
}

/// The arguments of `signer sign`. By default:
/// `sign proposal.json --keys keys.tgz.age -o bundle.json --new-archive
/// new.tgz.age --passphrase-file pass.txt --yes`.
#[derive(Clone, Debug)]
pub struct SignArgs {
    proposal: Option<String>,
    qr_text: Option<String>,
    keys: String,
    out: String,
    new_archive: Option<String>,
    passphrase_file: Option<String>,
    yes: bool,
    extra: Vec<String>,
}

impl Default for SignArgs {
    fn default() -> SignArgs {
        SignArgs {
            proposal: Some("proposal.json".into()),
            qr_text: None,
            keys: "keys.tgz.age".into(),
            out: "bundle.json".into(),
            new_archive: Some("new.tgz.age".into()),
            passphrase_file: Some("pass.txt".into()),
            yes: true,
            extra: Vec::new(),
        }
    }
}

impl SignArgs {
    /// The defaults.
    pub fn new() -> SignArgs {
        SignArgs::default()
    }

    /// The proposal file.
    pub fn proposal(mut self, p: &str) -> SignArgs {
        self.proposal = Some(p.into());
        self
    }

    /// The proposal read from QR text frames in `frames` instead of a file
    /// (`keep_proposal` keeps the proposal argument too, which the signer
    /// refuses).
    pub fn qr_text(mut self, frames: &str, keep_proposal: bool) -> SignArgs {
        self.qr_text = Some(frames.into());
        if !keep_proposal {
            self.proposal = None;
        }
        self
    }

    /// The archive to open (`--keys`).
    pub fn keys(mut self, k: &str) -> SignArgs {
        self.keys = k.into();
        self
    }

    /// The bundle to write (`-o`).
    pub fn out(mut self, o: &str) -> SignArgs {
        self.out = o.into();
        self
    }

    /// The new archive to write (`--new-archive`); `None` leaves the flag out.
    pub fn new_archive(mut self, n: Option<&str>) -> SignArgs {
        self.new_archive = n.map(str::to_owned);
        self
    }

    /// The passphrase file; `None` leaves the flag out.
    pub fn passphrase_file(mut self, p: Option<&str>) -> SignArgs {
        self.passphrase_file = p.map(str::to_owned);
        self
    }

    /// Without `--yes`: the signer asks on the terminal.
    pub fn no_yes(mut self) -> SignArgs {
        self.yes = false;
        self
    }

    /// More arguments, after the others.
    pub fn extra<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> SignArgs {
        self.extra
            .extend(args.into_iter().map(|s| s.as_ref().to_owned()));
        self
    }

    /// The argument list.
    pub fn to_vec(&self) -> Vec<String> {
        let mut v = vec!["sign".to_string()];
        v.extend(self.proposal.clone());
        if let Some(q) = &self.qr_text {
            v.extend(["--qr-text".into(), q.clone()]);
        }
        v.extend(["--keys".into(), self.keys.clone()]);
        v.extend(["-o".into(), self.out.clone()]);
        if let Some(n) = &self.new_archive {
            v.extend(["--new-archive".into(), n.clone()]);
        }
        if let Some(p) = &self.passphrase_file {
            v.extend(["--passphrase-file".into(), p.clone()]);
        }
        if self.yes {
            v.push("--yes".into());
        }
        v.extend(self.extra.iter().cloned());
        v
    }
}

impl IntoIterator for SignArgs {
    type Item = String;
    type IntoIter = std::vec::IntoIter<String>;

    fn into_iter(self) -> Self::IntoIter {
        self.to_vec().into_iter()
    }
}

impl IntoIterator for &SignArgs {
    type Item = String;
    type IntoIter = std::vec::IntoIter<String>;

    fn into_iter(self) -> Self::IntoIter {
        self.to_vec().into_iter()
    }
}

/// A real ceremony's files, made by the binaries in `dir`:
///
/// * `repo/metadata/1.root.json` and `root.json`: a TUF root, threshold 1
///   of 1 Ed25519 root key (made by `tuf-repo-init`); the plain PEM is
///   removed from the folder once imported;
/// * `pass.txt`, `keys.tgz.age` (`signer import --key`);
/// * `proposal.json` (`submitter propose --repo repo/metadata --rotate-all`);
/// * `bundle.json`, `bundle.transcript.jsonl`, `new.tgz.age` (`signer sign`);
/// * `pubkey.json`, `kg.tgz.age` (`signer keygen`).
pub struct Ceremony {
    /// Holds everything.
    pub dir: tempfile::TempDir,
    /// The root key, for crafting signed roots.
    pub root_key: PrivateKey,
    /// Strings that must never be printed: the passphrase and the private
    /// key material, in the forms the files hold it.
    pub secrets: Vec<String>,
}

impl Ceremony {
    /// Makes one (about a second: one `signer sign`).
    pub fn new() -> Ceremony {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        ok(&TestCommand::new("tuf-repo-init", d)
            .arg(d.join("repo"))
            .output());
        write_passphrase(d);
        let pem_path = std::fs::read_dir(d.join("repo/keys"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let pem = std::fs::read_to_string(&pem_path).unwrap();
        let root_key = PrivateKey::from_pkcs8_pem(&pem).unwrap();
        let pem_arg = pem_path.to_str().unwrap();
        ok(&run_in(
            d,
            "signer",
            [
                "import",
                "--key",
                pem_arg,
                "-o",
                "keys.tgz.age",
                "--passphrase-file",
                "pass.txt",
            ],
        ));
        std::fs::remove_dir_all(d.join("repo/keys")).unwrap();
        propose_rotate_all(d, "proposal.json");
        ok(&run_in(d, "signer", SignArgs::new()));
        ok(&run_in(
            d,
            "signer",
            [
                "keygen",
                "--keys",
                "keys.tgz.age",
                "-o",
                "pubkey.json",
                "--new-archive",
                "kg.tgz.age",
                "--passphrase-file",
                "pass.txt",
            ],
        ));
        let mut secrets = vec![PASSPHRASE.to_string()];
        let ats: Value = serde_json::from_str(&root_key.to_ats_private_json().unwrap()).unwrap();
        if let Some(p) = ats["keyval"]["private"].as_str() {
            secrets.push(p.to_string());
            // Half of it is still a leak.
            secrets.push(p[..p.len() / 2].to_string());
        }
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            secrets.push(line.to_string());
        }
        Ceremony {
            dir,
            root_key,
            secrets,
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Applies the signed bundle (`submitter upload`) and proposes the next
    /// rotation as `out`: the archive then anchors the root just uploaded.
    pub fn upload_and_propose_again(&self, out: &str) {
        ok(&run_in(self.path(), "submitter", ["upload", "bundle.json"]));
        propose_rotate_all(self.path(), out);
    }

    /// A file of the ceremony.
    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path().join(name)).unwrap()
    }

    /// A JSON file of the ceremony, parsed (key order kept).
    pub fn json(&self, name: &str) -> Value {
        serde_json::from_slice(&self.read(name)).unwrap()
    }
}

/// `submitter propose --rotate-all` on the ceremony folder's repository,
/// written to `out`.
pub fn propose_rotate_all(dir: &Path, out: &str) {
    ok(&run_in(
        dir,
        "submitter",
        [
            "propose",
            "--repo",
            "repo/metadata",
            "--rotate-all",
            "-o",
            out,
        ],
    ));
}

impl Default for Ceremony {
    fn default() -> Ceremony {
        Ceremony::new()
    }
}
