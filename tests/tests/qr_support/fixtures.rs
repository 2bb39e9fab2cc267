//! Realistic files that cross the air gap, for the QR transport tests and
//! the `qr_frames` benchmark (which includes this file by path).
//!
//! A FoundriesFactory rotation in the ota-tuf dialect: a CI root and a prod
//! root (a copy of CI with `roles.targets.threshold` 2), each with the new
//! root key, the online targets, snapshot and timestamp keys and the offline
//! targets key, `x-changelog` and `x-key-owners`, signed by the old and the
//! new root key. Keys, key ids and signatures are deterministic pseudo-random
//! bytes of the real sizes (what matters to the transport is how much there
//! is and how well it compresses, not whether a signature verifies), laid out
//! exactly as ota-tuf and fioctl write them. Files are pretty-printed like
//! `Bundle::to_bytes` and `Proposal::to_bytes`.

#![allow(dead_code)]

use serde_json::{json, Map, Value};

/// Which keys the Factory uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keys {
    /// Ed25519 everywhere (fioctl's default since v0.32).
    Ed25519,
    /// RSA-4096 offline keys (root, offline targets) and RSA-2048 online keys,
    /// as older Factories have.
    Rsa4096,
}

/// Deterministic bytes: sha256 of a seed and a counter.
pub struct Drbg {
    seed: String,
    counter: u64,
}

impl Drbg {
    /// A generator for `seed`.
    pub fn new(seed: &str) -> Drbg {
        Drbg {
            seed: seed.to_string(),
            counter: 0,
        }
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 32);
        while out.len() < n {
            self.counter += 1;
            let h = ceremony::proposal::sha256_hex(
                format!("{}/{}", self.seed, self.counter).as_bytes(),
            );
            out.extend(unhex(&h));
        }
        out.truncate(n);
        out
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        let b = self.bytes(8);
        (u64::from_be_bytes(b.try_into().unwrap()) % n as u64) as usize
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Standard padded base64.
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One key as ota-tuf lists it, with its id (sha256 of the SPKI DER).
pub struct Key {
    /// The key id.
    pub id: String,
    /// `{"keytype","keyval":{"public"}}`.
    pub object: Value,
    /// Bytes in a signature by this key.
    pub sig_len: usize,
    /// `ed25519`, `rsassa-pss-sha256`.
    pub method: &'static str,
    /// `ed25519`, `rsa-4096`, …
    pub description: &'static str,
}

fn ed25519_key(rng: &mut Drbg) -> Key {
    let public = rng.bytes(32);
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend(&public);
    Key {
        id: ceremony::proposal::sha256_hex(&der),
        object: json!({"keytype": "ED25519", "keyval": {"public": hex(&public)}}),
        sig_len: 64,
        method: "ed25519",
        description: "ed25519",
    }
}

fn rsa_key(rng: &mut Drbg, bits: usize) -> Key {
    let n = bits / 8;
    // SubjectPublicKeyInfo of an RSA key: fixed head, modulus, exponent 65537.
    let (hi, lo) = (((n + 34) >> 8) as u8, ((n + 34) & 0xff) as u8);
    let (mhi, mlo) = (((n + 10) >> 8) as u8, ((n + 10) & 0xff) as u8);
    let (nhi, nlo) = (((n + 1) >> 8) as u8, ((n + 1) & 0xff) as u8);
    let (bhi, blo) = (((n + 15) >> 8) as u8, ((n + 15) & 0xff) as u8);
    let mut der = vec![0x30, 0x82, hi, lo];
    der.extend([
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ]);
    der.extend([
        0x03, 0x82, bhi, blo, 0x00, 0x30, 0x82, mhi, mlo, 0x02, 0x82, nhi, nlo, 0x00,
    ]);
    let mut modulus = rng.bytes(n);
    modulus[0] |= 0x80;
    der.extend(modulus);
    der.extend([0x02, 0x03, 0x01, 0x00, 0x01]);
    let b64 = base64(&der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    Key {
        id: ceremony::proposal::sha256_hex(&der),
        object: json!({"keytype": "RSA", "keyval": {"public": pem}}),
        sig_len: n,
        method: "rsassa-pss-sha256",
        description: if bits == 4096 { "rsa-4096" } else { "rsa-2048" },
    }
}

/// The keys of one Factory.
pub struct Factory {
    /// The root key before the rotation.
    pub old_root: Key,
    /// The root key the ceremony made.
    pub new_root: Key,
    /// Online targets key.
    pub targets: Key,
    /// Offline targets key (fioctl-targets).
    pub offline_targets: Key,
    /// Online snapshot key.
    pub snapshot: Key,
    /// Online timestamp key.
    pub timestamp: Key,
    /// The Factory's name.
    pub name: String,
    rng: Drbg,
}

impl Factory {
    /// A Factory whose keys come from `seed`.
    pub fn new(keys: Keys, seed: &str) -> Factory {
        let mut rng = Drbg::new(seed);
        type MakeKey = fn(&mut Drbg) -> Key;
        let (offline, online): (MakeKey, MakeKey) = match keys {
            Keys::Ed25519 => (ed25519_key, ed25519_key),
            Keys::Rsa4096 => (|r| rsa_key(r, 4096), |r| rsa_key(r, 2048)),
        };
        Factory {
            old_root: offline(&mut rng),
            new_root: offline(&mut rng),
            targets: online(&mut rng),
            offline_targets: offline(&mut rng),
            snapshot: online(&mut rng),
            timestamp: online(&mut rng),
            name: format!(
                "acme-{}",
                &ceremony::proposal::sha256_hex(seed.as_bytes())[..6]
            ),
            rng,
        }
    }

    fn signature(&mut self, key_index: u8) -> Value {
        let key = match key_index {
            0 => &self.old_root,
            _ => &self.new_root,
        };
        let (id, len, method) = (key.id.clone(), key.sig_len, key.method);
        json!({"keyid": id, "method": method, "sig": base64(&self.rng.bytes(len))})
    }

    /// The `signed` part of a root: `root_key` is the root role's key,
    /// `targets_threshold` 1 for CI, 2 for prod.
    pub fn signed(
        &mut self,
        version: u64,
        new: bool,
        targets_threshold: u64,
        message: &str,
    ) -> Value {
        let root_key = if new { &self.new_root } else { &self.old_root };
        let mut keys = Map::new();
        for k in [
            root_key,
            &self.targets,
            &self.offline_targets,
            &self.snapshot,
            &self.timestamp,
        ] {
            keys.insert(k.id.clone(), k.object.clone());
        }
        let mut owners = Map::new();
        for k in [root_key, &self.offline_targets] {
            owners.insert(
                k.id.clone(),
                json!({"polis-id": "9f2b6c1e4d7a3085b1c2d3e4", "created-at": "2026-07-13T10:11:12Z"}),
            );
        }
        json!({
            "_type": "Root",
            "consistent_snapshot": false,
            "expires": "2027-07-13T10:11:12Z",
            "keys": keys,
            "roles": {
                "root": {"keyids": [root_key.id], "threshold": 1},
                "snapshot": {"keyids": [self.snapshot.id], "threshold": 1},
                "targets": {"keyids": [self.targets.id, self.offline_targets.id], "threshold": targets_threshold},
                "timestamp": {"keyids": [self.timestamp.id], "threshold": 1}
            },
            "version": version,
            "x-changelog": {
                "polis-id": "9f2b6c1e4d7a3085b1c2d3e4",
                "message": message,
                "timestamp": "2026-07-13T10:11:12Z"
            },
            "x-key-owners": owners
        })
    }

    /// A signed root envelope; `signers` index the old (0) and new (1) root key.
    pub fn root(&mut self, signed: Value, signers: &[u8]) -> Value {
        let sigs: Vec<Value> = signers.iter().map(|i| self.signature(*i)).collect();
        json!({"signatures": sigs, "signed": signed})
    }

    fn hash(&mut self) -> String {
        hex(&self.rng.bytes(32))
    }
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).unwrap();
    out.push(b'\n');
    out
}

/// The bundle `signer sign` writes for a rotation of the root key of a
/// Factory from version 5 to 6: CI and prod roots signed by old and new key.
pub fn rotation_bundle(keys: Keys, seed: &str) -> Vec<u8> {
    let mut f = Factory::new(keys, seed);
    let message = "Rotate the offline root key (ceremony 2026-07-13)";
    let ci_signed = f.signed(6, true, 1, message);
    let prod_signed = f.signed(6, true, 2, message);
    let ci = f.root(ci_signed, &[0, 1]);
    let prod = f.root(prod_signed, &[0, 1]);
    let proposal_sha = f.hash();
    let head = f.hash();
    let head_sig = f.signature(1);
    let txid = hex(&f.rng.bytes(16));
    pretty(&json!({
        "format": ceremony::bundle::BUNDLE_FORMAT,
        "proposal_sha256": proposal_sha,
        "dialect": "ota-tuf",
        "target": {"kind": "factory", "factory": f.name, "api": "https://api.foundries.io"},
        "txid": txid,
        "roots": [{"name": "ci", "root": ci}, {"name": "prod", "root": prod}],
        "new_keys": [{
            "keyid": f.new_root.id,
            "key": f.new_root.object,
            "fingerprint": f.new_root.id,
            "description": f.new_root.description
        }],
        "complete": true,
        "transcript_head": {"sha256": head, "signatures": [head_sig]}
    }))
}

/// The proposal `submitter propose` writes for that rotation: both chains
/// with their current root (v5) and the root the server staged (v6), and
/// the history the submitter verified.
pub fn rotation_proposal(keys: Keys, seed: &str) -> Vec<u8> {
    let mut f = Factory::new(keys, seed);
    let mut chains = Vec::new();
    for (name, threshold) in [("ci", 1), ("prod", 2)] {
        let current_signed = f.signed(5, false, threshold, "Add offline targets key");
        let current = f.root(current_signed, &[0]);
        let staged_signed = f.signed(6, false, threshold, "Rotate the offline root key");
        let staged = json!({"signatures": [], "signed": staged_signed});
        let history: Vec<Value> = (1..=5)
            .map(|v| json!({"version": v, "sha256": f.hash()}))
            .collect();
        chains
            .push(json!({"name": name, "current": current, "staged": staged, "history": history}));
    }
    let txid = hex(&f.rng.bytes(16));
    pretty(&json!({
        "format": ceremony::proposal::PROPOSAL_FORMAT,
        "dialect": "ota-tuf",
        "target": {"kind": "factory", "factory": f.name, "api": "https://api.foundries.io"},
        "txid": txid,
        "created": "2026-07-13T09:58:01Z",
        "chains": chains,
        "change": {
            "rotate": "all",
            "add_keys": 0,
            "key_type": if keys == Keys::Ed25519 { "ed25519" } else { "rsa-4096" },
            "expires": "2027-07-13T10:11:12Z",
            "message": "Rotate the offline root key"
        },
        "polis_id": "9f2b6c1e4d7a3085b1c2d3e4"
    }))
}
