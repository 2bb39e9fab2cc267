//! The Factory's first root key. A FoundriesFactory is created with a root
//! key the server made and holds; since fioctl v0.30 the only way its owner
//! gets it is the answer to the first-time transaction (`POST …/root/updates`
//! with `"first-time": true`: `first_root.sec` and `first_root.pub`, AtsKey
//! objects). fioctl writes them as `tufrepo/keys/first-root.{sec,pub}` into a
//! new tarball (`updates init --first-time -k F.tgz`); so do we, for
//! `signer import` on the offline machine.
//!
//! The answer is hostile like everything online: both halves must be AtsKey
//! JSON, the private one must be the public one's pair, and the public one a
//! root key of the CI root we verified, else the server handed out a key the
//! Factory does not trust. The private half is never printed and lives in
//! wiped memory only (as far as the gzip buffers allow: see [`tarball`]).

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use serde_json::value::RawValue;
use zeroize::Zeroizing;

use ceremony::fsio::{self, WriteOptions};
use ceremony::keys::{PrivateKey, PublicKey};
use ceremony::{Dialect, RootMetadata};

use crate::VerificationFailed;

/// The tarball's entries, as fioctl names them (and `signer import` reads
/// them: `first-root` is a root key).
pub const SEC_ENTRY: &str = "tufrepo/keys/first-root.sec";
/// The public half's entry.
pub const PUB_ENTRY: &str = "tufrepo/keys/first-root.pub";

/// The two halves as the server sent them, checked to be one key pair.
pub struct FirstRootKey {
    /// `first_root.sec`, byte for byte (fioctl keeps the raw JSON).
    sec: Zeroizing<Vec<u8>>,
    /// `first_root.pub`, byte for byte.
    public_bytes: Vec<u8>,
    /// The public key, parsed.
    public: PublicKey,
}

/// The fields of the answer we read; the rest (`txid`) is read elsewhere.
/// Borrowed, so the private key is not copied into a `String` we cannot wipe.
#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(borrow, rename = "first_root.sec", default)]
    sec: Option<&'a RawValue>,
    #[serde(borrow, rename = "first_root.pub", default)]
    public: Option<&'a RawValue>,
}

impl FirstRootKey {
    /// Reads the first root key from the answer to a first-time `POST`.
    /// Messages never quote the private half.
    pub fn from_answer(body: &[u8], url: &str) -> Result<FirstRootKey> {
        let a: Answer = serde_json::from_slice(body).map_err(|e| {
            anyhow!(
                "POST {url}: the answer is not JSON with the first root key (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        let (Some(sec), Some(public)) = (a.sec, a.public) else {
            bail!(
                "POST {url}: the server started the transaction but sent no first root key \
                 (no \"first_root.sec\" and \"first_root.pub\" in its answer): an older server, \
                 or one that no longer holds the key. Without the key there is nothing to sign \
                 the first rotation with."
            );
        };
        let public_value: serde_json::Value = serde_json::from_str(public.get())
            .map_err(|_| anyhow!("POST {url}: \"first_root.pub\" is not JSON"))?;
        let parsed = PublicKey::from_key_object(&public_value, Dialect::OtaTuf).map_err(|e| {
            anyhow!("POST {url}: \"first_root.pub\" is not an AtsKey public key: {e}")
        })?;
        let sec = Zeroizing::new(sec.get().as_bytes().to_vec());
        // KeyError's messages name positions and shapes, never the secret.
        let private = PrivateKey::from_ats_json(&sec).map_err(|e| {
            anyhow!("POST {url}: \"first_root.sec\" is not an AtsKey private key: {e}")
        })?;
        if private.public_key() != parsed {
            return Err(VerificationFailed(format!(
                "POST {url}: \"first_root.sec\" is not the private half of \"first_root.pub\": \
                 the server sent two different keys"
            ))
            .into());
        }
        drop(private);
        Ok(FirstRootKey {
            sec,
            public_bytes: public.get().as_bytes().to_vec(),
            public: parsed,
        })
    }

    /// The key's id in `ci`, if it is one of `ci`'s root keys.
    pub fn trusted_by(&self, ci: &RootMetadata) -> Option<String> {
        ci.root_keys()
            .ok()?
            .into_iter()
            .find(|(_, k)| *k == self.public)
            .map(|(id, _)| id)
    }

    /// The public key's fingerprint, for the operator to compare.
    pub fn fingerprint(&self) -> String {
        self.public.fingerprint()
    }

    /// Writes the fioctl tarball at `path`: a new file (never an existing
    /// one replaced, as fioctl refuses too), mode 0600, read back before it
    /// gets its name.
    pub fn write(&self, path: &Path) -> Result<()> {
        let gz = self.tarball()?;
        fsio::write_new(path, &gz, &WriteOptions::secret().read_back())
            .with_context(|| format!("writing the first root key to {} failed", path.display()))
    }

    /// The gzip'd tar, as fioctl's `saveTufCreds` writes it: two regular
    /// files, no directory entries, name and size only.
    fn tarball(&self) -> Result<Zeroizing<Vec<u8>>> {
        // Room for everything up front, so that the buffer holding the
        // compressed secret is not reallocated and left unwiped behind us.
        let room = 4096 + 2 * (self.sec.len() + self.public_bytes.len());
        let gz =
            flate2::write::GzEncoder::new(Vec::with_capacity(room), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        for (name, data) in [
            (PUB_ENTRY, self.public_bytes.as_slice()),
            (SEC_ENTRY, self.sec.as_slice()),
        ] {
            let mut header = tar::Header::new_ustar();
            header.set_path(name).context("tar header")?;
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            tar.append(&header, data).context("tar")?;
        }
        let gz = tar.into_inner().context("tar")?;
        Ok(Zeroizing::new(gz.finish().context("gzip")?))
    }
}
