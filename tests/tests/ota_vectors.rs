//! The ota-tuf dialect, proven against real roots produced by the ota-tuf
//! server (kept by aktualizr's test suite): each verifies as self-signed, and
//! any change to a byte of `signed` that changes its meaning is refused.

use std::process::Command;

use ceremony::rules::{check_step, Rule};
use ceremony::{Dialect, RootMetadata};
use ceremony_tests::{aktualizr_vectors, binary};
use time::macros::datetime;
use time::OffsetDateTime;

const VECTORS: [&str; 4] = [
    "tests_test_data_prov_metadata_repo_root.json",
    "tests_tuf_root-with-extra-keys.json",
    "tests_tuf_rsassa-pss-sha256_root.json",
    "tests_tuf_sample1_root.json",
];

/// Before the earliest of the vectors expired (2019-02-10).
const BEFORE_EXPIRY: OffsetDateTime = datetime!(2019-01-01 00:00 UTC);

fn load(name: &str) -> Vec<u8> {
    std::fs::read(aktualizr_vectors().join(name)).expect("vector is readable")
}

#[test]
fn every_vector_verifies_as_self_signed() {
    for name in VECTORS {
        let root = RootMetadata::from_slice(&load(name), Some(Dialect::OtaTuf)).unwrap();
        let verdict = check_step(None, &root, Some(BEFORE_EXPIRY));
        assert!(verdict.ok(), "{name}: {:?}", verdict.failures);
        let own = &verdict.thresholds[0];
        assert_eq!(own.signed.len(), 1, "{name}: one root key signed");
        assert!(own.missing.is_empty());
    }
}

#[test]
fn dialect_is_detected_from_the_file() {
    for name in VECTORS {
        let root = RootMetadata::from_slice(&load(name), None).unwrap();
        assert_eq!(root.dialect(), Dialect::OtaTuf, "{name}");
    }
}

#[test]
fn canonical_form_reproduces_the_signed_bytes() {
    // The signature verifies only over the exact bytes the server signed, so
    // a verified signature proves the canonical form byte-exact; check that
    // the TUF (OLPC) form of the same data would not have verified for the
    // RSA roots, whose PEM keys hold newlines.
    for name in VECTORS {
        let root = RootMetadata::from_slice(&load(name), Some(Dialect::OtaTuf)).unwrap();
        let ota = root.canonical_signed().unwrap();
        let olpc =
            ceremony::canonical::to_canonical_bytes(&root.envelope()["signed"], Dialect::Tuf)
                .unwrap();
        assert!(!ota.contains(&b'\n'), "{name}: newlines are escaped");
        if name != "tests_tuf_sample1_root.json" {
            assert_ne!(ota, olpc, "{name}: OLPC writes the PEM newlines raw");
        }
    }
}

#[test]
fn expired_vectors_are_refused_as_of_now() {
    let now = OffsetDateTime::now_utc();
    for name in VECTORS {
        let root = RootMetadata::from_slice(&load(name), Some(Dialect::OtaTuf)).unwrap();
        let expired = root.expires().unwrap() <= now;
        let verdict = check_step(None, &root, Some(now));
        assert_eq!(verdict.ok(), !expired, "{name}");
        if expired {
            assert_eq!(
                verdict.first_failure().unwrap().rule,
                Rule::Expired,
                "{name}"
            );
        }
    }
}

/// Every alphanumeric byte inside `signed`, changed to another one, must
/// make the root fail: each such change alters the canonical bytes.
#[test]
fn every_one_byte_change_inside_signed_is_refused() {
    for name in VECTORS {
        let bytes = load(name);
        let text = String::from_utf8(bytes.clone()).unwrap();
        let start = text.find("\"signed\"").unwrap() + "\"signed\"".len();
        let end = text.rfind('}').unwrap();
        let mut tried = 0;
        for i in start..end {
            let b = bytes[i];
            if !b.is_ascii_alphanumeric() {
                continue;
            }
            let mut changed = bytes.clone();
            changed[i] = match b {
                b'0'..=b'8' | b'a'..=b'y' | b'A'..=b'Y' => b + 1,
                b'9' => b'0',
                b'z' => b'a',
                _ => b'A',
            };
            tried += 1;
            if let Ok(root) = RootMetadata::from_slice(&changed, Some(Dialect::OtaTuf)) {
                let verdict = check_step(None, &root, Some(BEFORE_EXPIRY));
                assert!(
                    !verdict.ok(),
                    "{name}: changing byte {i} ({:?} -> {:?}) was not detected",
                    b as char,
                    changed[i] as char
                );
            }
        }
        assert!(tried > 500, "{name}: only {tried} bytes tried");
    }
}

#[test]
fn audit_through_both_binaries() {
    for name in VECTORS {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1.root.json"), load(name)).unwrap();
        for bin in ["signer", "submitter"] {
            let run = |at: &str| {
                Command::new(binary(bin))
                    .args(["audit", "--metadata-dir"])
                    .arg(dir.path())
                    .args(["--at", at])
                    .output()
                    .unwrap()
            };
            let ok = run("2019-01-01");
            assert_eq!(
                ok.status.code(),
                Some(0),
                "{bin} {name}: {}",
                String::from_utf8_lossy(&ok.stdout)
            );
            let text = String::from_utf8_lossy(&ok.stdout);
            assert!(text.contains("ota-tuf (detected)"), "{text}");
            let late = run("2040-01-01");
            assert_eq!(late.status.code(), Some(3), "{bin} {name}");
            assert!(String::from_utf8_lossy(&late.stdout).contains("rule expired"));
        }
    }
}
