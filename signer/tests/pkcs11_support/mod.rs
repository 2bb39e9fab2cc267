//! SoftHSM2 for the PKCS#11 tests: a token folder and config per test
//! (`SOFTHSM2_CONF` is passed to each child process, never set in this
//! process), tokens made with `softhsm2-util`, and a helper that runs in a
//! child process (this test binary, re-run with the config in its
//! environment) to plant keys the signer would never make: an ECDSA key, a
//! different private key under a recorded label.
//!
//! The tests fail, not skip, when SoftHSM2 is missing.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

/// The user PIN of every test token.
pub const PIN: &str = "hsm-pin-q4711";
/// The SO PIN of every test token.
pub const SO_PIN: &str = "5678";

/// The SoftHSM2 module: `TUF_CEREMONY_PKCS11_MODULE`, else Debian's path.
pub fn module() -> PathBuf {
    let m = std::env::var_os("TUF_CEREMONY_PKCS11_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"));
    assert!(
        m.exists(),
        "SoftHSM2 is not installed ({} is missing): install the Debian package softhsm2 \
         (`apt-get install softhsm2`, as .ci/run does), or set TUF_CEREMONY_PKCS11_MODULE. \
         The PKCS#11 tests need it and do not skip.",
        m.display()
    );
    m
}

/// A SoftHSM2 token folder and config of its own.
pub struct Hsm {
    dir: tempfile::TempDir,
    /// The `SOFTHSM2_CONF` file.
    pub conf: PathBuf,
    /// The module.
    pub module: PathBuf,
}

impl Hsm {
    /// A fresh token folder, no token yet.
    pub fn new() -> Hsm {
        let module = module();
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        Hsm { dir, conf, module }
    }

    /// The module path, as a string for the command line.
    pub fn module_arg(&self) -> String {
        self.module.display().to_string()
    }

    /// Runs `softhsm2-util` on this token folder.
    pub fn util(&self, args: &[&str]) -> Output {
        Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &self.conf)
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "softhsm2-util does not run ({e}): install the Debian package softhsm2 \
                     (`apt-get install softhsm2`, as .ci/run does); the PKCS#11 tests need it"
                )
            })
    }

    /// Initialises a token labelled `label` (user PIN [`PIN`]).
    pub fn init_token(&self, label: &str) {
        let out = self.util(&[
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            PIN,
            "--so-pin",
            SO_PIN,
        ]);
        assert!(
            out.status.success(),
            "softhsm2-util --init-token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Deletes the token labelled `label` (as if it were unplugged).
    pub fn delete_token(&self, label: &str) {
        let out = self.util(&["--delete-token", "--token", label]);
        assert!(
            out.status.success(),
            "softhsm2-util --delete-token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Deletes the token with serial number `serial`.
    pub fn delete_token_serial(&self, serial: &str) {
        let out = self.util(&["--delete-token", "--serial", serial]);
        assert!(
            out.status.success(),
            "softhsm2-util --delete-token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The serial numbers of the tokens labelled `label`, as
    /// `softhsm2-util --show-slots` lists them.
    pub fn serials(&self, label: &str) -> Vec<String> {
        let out = self.util(&["--show-slots"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut serials = Vec::new();
        let mut serial = String::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(s) = line.strip_prefix("Serial number:") {
                serial = s.trim().to_string();
            } else if let Some(l) = line.strip_prefix("Label:") {
                if l.trim() == label && !serial.is_empty() {
                    serials.push(serial.clone());
                }
            }
        }
        serials
    }

    /// Imports the PKCS#8 key `pem` onto the token with serial `serial`
    /// (label `label`, id `id`): how the same key gets onto two tokens.
    pub fn import_pem(&self, pem: &Path, serial: &str, label: &str, id: &str) {
        let pem = pem.display().to_string();
        let out = self.util(&[
            "--import", &pem, "--serial", serial, "--label", label, "--id", id, "--pin", PIN,
        ]);
        assert!(
            out.status.success(),
            "softhsm2-util --import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs the signer in `dir` with this token folder.
    pub fn signer(&self, dir: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_signer"))
            .current_dir(dir)
            .env("SOFTHSM2_CONF", &self.conf)
            .env("TUF_CEREMONY_TEST_SCRYPT_LOG_N", "10")
            .args(args)
            .output()
            .expect("signer runs")
    }

    /// Writes [`PIN`] (and a wrong one) to `dir/pin.txt` (`dir/bad-pin.txt`).
    pub fn write_pins(&self, dir: &Path) {
        std::fs::write(dir.join("pin.txt"), format!("{PIN}\n")).unwrap();
        std::fs::write(dir.join("bad-pin.txt"), "0000\n").unwrap();
    }

    /// Runs [`helper_main`] in a child process (this test binary, its test
    /// `test_name`) with this token folder.
    pub fn helper(&self, test_name: &str, action: &str, token: &str, label: &str) {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([test_name, "--exact", "--ignored", "--nocapture", "-q"])
            .env("SOFTHSM2_CONF", &self.conf)
            .env("HSM_HELPER_ACTION", action)
            .env("HSM_HELPER_TOKEN", token)
            .env("HSM_HELPER_LABEL", label)
            .output()
            .unwrap();
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("helper done"),
            "helper {action} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The folder the tokens live in.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// DER OID of prime256v1.
const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER OID of Ed25519.
const ED25519_PARAMS: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

/// The child-process side of [`Hsm::helper`]; does nothing unless
/// `HSM_HELPER_ACTION` is set. Actions, on the key labelled `label` of the
/// token labelled `token`:
///
/// * `ec-key`: generate an ECDSA P-256 key pair labelled `label`;
/// * `swap-private`: replace the private key by a new one of the same type,
///   label and id, keeping the old public key object (a token that signs
///   with another key than the one it shows);
/// * `replace-rsa`: replace both halves by an RSA-2048 pair, same label and id;
/// * `extractable-key`, `non-sensitive-key`: generate an Ed25519 key pair
///   labelled `label` whose private half can leave the token
///   (`CKA_EXTRACTABLE` true; `CKA_SENSITIVE` false);
/// * `twin`: generate a second Ed25519 key pair with the label and id of
///   the one there.
pub fn helper_main() {
    let Ok(action) = std::env::var("HSM_HELPER_ACTION") else {
        return;
    };
    let token = std::env::var("HSM_HELPER_TOKEN").unwrap();
    let label = std::env::var("HSM_HELPER_LABEL").unwrap();
    let ctx = Pkcs11::new(module()).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label() == token)
        .expect("token present");
    let session = ctx.open_rw_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::from(PIN.to_string())))
        .unwrap();
    let label_attr = Attribute::Label(label.as_bytes().to_vec());
    let find = |class: ObjectClass| {
        session
            .find_objects(&[Attribute::Class(class), label_attr.clone()])
            .unwrap()
    };
    let private_template = |id: &[u8]| {
        vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            label_attr.clone(),
            Attribute::Id(id.to_vec()),
        ]
    };
    let public_template = |id: &[u8]| {
        vec![
            Attribute::Token(true),
            Attribute::Verify(true),
            label_attr.clone(),
            Attribute::Id(id.to_vec()),
        ]
    };
    match action.as_str() {
        "ec-key" => {
            let mut public = public_template(&[0xec]);
            public.push(Attribute::EcParams(P256_PARAMS.to_vec()));
            session
                .generate_key_pair(
                    &Mechanism::EccKeyPairGen,
                    &public,
                    &private_template(&[0xec]),
                )
                .unwrap();
        }
        "swap-private" | "replace-rsa" => {
            let private = find(ObjectClass::PRIVATE_KEY);
            assert_eq!(private.len(), 1, "one private key labelled {label}");
            let attrs = session
                .get_attributes(private[0], &[AttributeType::Id, AttributeType::KeyType])
                .unwrap();
            let mut id = Vec::new();
            let mut kind = KeyType::RSA;
            for a in attrs {
                match a {
                    Attribute::Id(v) => id = v,
                    Attribute::KeyType(k) => kind = k,
                    _ => {}
                }
            }
            session.destroy_object(private[0]).unwrap();
            let mut public = public_template(&id);
            let mechanism = if action == "replace-rsa" || kind == KeyType::RSA {
                public.push(Attribute::ModulusBits(2048.into()));
                public.push(Attribute::PublicExponent(vec![1, 0, 1]));
                Mechanism::RsaPkcsKeyPairGen
            } else {
                public.push(Attribute::EcParams(ED25519_PARAMS.to_vec()));
                Mechanism::EccEdwardsKeyPairGen
            };
            let old_public = find(ObjectClass::PUBLIC_KEY);
            let (new_public, _) = session
                .generate_key_pair(&mechanism, &public, &private_template(&id))
                .unwrap();
            if action == "swap-private" {
                session.destroy_object(new_public).unwrap();
            } else {
                for h in old_public {
                    session.destroy_object(h).unwrap();
                }
            }
        }
        "extractable-key" | "non-sensitive-key" => {
            let id = if action == "extractable-key" {
                0xe1
            } else {
                0x5e
            };
            let mut public = public_template(&[id]);
            public.push(Attribute::EcParams(ED25519_PARAMS.to_vec()));
            let mut private = private_template(&[id]);
            private.retain(|a| !matches!(a, Attribute::Sensitive(_)));
            if action == "extractable-key" {
                private.push(Attribute::Sensitive(true));
                private.push(Attribute::Extractable(true));
            } else {
                private.push(Attribute::Sensitive(false));
                private.push(Attribute::Extractable(false));
            }
            session
                .generate_key_pair(&Mechanism::EccEdwardsKeyPairGen, &public, &private)
                .unwrap();
        }
        "twin" => {
            let private = find(ObjectClass::PRIVATE_KEY);
            assert_eq!(private.len(), 1, "one private key labelled {label}");
            let attrs = session
                .get_attributes(private[0], &[AttributeType::Id])
                .unwrap();
            let id = match attrs.as_slice() {
                [Attribute::Id(v)] => v.clone(),
                other => panic!("no id: {other:?}"),
            };
            let mut public = public_template(&id);
            public.push(Attribute::EcParams(ED25519_PARAMS.to_vec()));
            let mut private = private_template(&id);
            private.push(Attribute::Extractable(false));
            session
                .generate_key_pair(&Mechanism::EccEdwardsKeyPairGen, &public, &private)
                .unwrap();
        }
        other => panic!("unknown helper action {other}"),
    }
    drop(session);
    ctx.finalize().unwrap();
    println!("helper done");
}
