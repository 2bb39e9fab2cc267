//! Bounded fuzzing of the key archive's readers, the code that meets a
//! stolen-and-tampered or merely damaged archive first: the tar reader
//! (`read_tar`, `read_tar_gz`) and the age layer (`decrypt`). The module is
//! compiled into this test from the signer's own source, so what is fuzzed
//! is exactly what the binary runs.
//!
//! Inputs: real archives' tarballs mutated at the byte level (header
//! fields, sizes, checksums, names, types), tarballs built from random
//! headers, gzip-wrapped mutants, and mutated age files. Nothing may panic;
//! what is accepted must keep the reader's promises (normalised relative
//! names, no entry over the limit) and survive a write and read back
//! unchanged. Seeded (the same inputs every run), about 3,000 cases;
//! `TUF_CEREMONY_FUZZ_CASES=N` for more.

#[allow(dead_code)]
#[path = "../src/archive.rs"]
mod archive;

use archive::{decrypt, read_tar, read_tar_gz, write_tar_gz, Entries, Protection, MAX_ENTRY};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use secrecy::SecretString;
use std::sync::OnceLock;
use zeroize::Zeroizing;

const PASSPHRASE: &str = "fuzz passphrase";

fn cases() -> u32 {
    std::env::var("TUF_CEREMONY_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000)
}

fn runner(scale: u32) -> TestRunner {
    let config = Config {
        cases: (cases() / scale).max(50),
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// A realistic archive's tarball: fioctl key pairs and the manifest.
fn seed_tar() -> &'static [u8] {
    static T: OnceLock<Vec<u8>> = OnceLock::new();
    T.get_or_init(|| {
        let mut e = Entries::new();
        for (name, data) in [
            (
                "tufrepo/keys/first-root.pub",
                &br#"{"keytype":"ED25519","keyval":{"public":"00aa"}}"#[..],
            ),
            (
                "tufrepo/keys/first-root.sec",
                br#"{"keytype":"ED25519","keyval":{"private":"11bb"}}"#,
            ),
            (
                "tuf-ceremony/manifest.json",
                br#"{"format":"tuf-ceremony/archive@1","keys":[],"anchors":[]}"#,
            ),
            (
                "tuf-ceremony/anchors/root.root.json",
                br#"{"signed":{},"signatures":[]}"#,
            ),
        ] {
            e.insert(name, Zeroizing::new(data.to_vec())).unwrap();
        }
        let gz = write_tar_gz(&e).unwrap();
        let mut tar = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut tar).unwrap();
        tar
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(prop::sample::Index, u8),
    Set(prop::sample::Index, u8),
    /// Overwrite inside a 512-byte header block: name, mode, size, checksum,
    /// type, link name, magic, prefix (the offsets of the ustar layout).
    Field(prop::sample::Index, prop::sample::Index, Vec<u8>),
    Truncate(prop::sample::Index),
    Insert(prop::sample::Index, Vec<u8>),
}

const FIELDS: &[(usize, usize)] = &[
    (0, 100),   // name
    (100, 8),   // mode
    (124, 12),  // size
    (148, 8),   // checksum
    (156, 1),   // type
    (157, 100), // link name
    (257, 8),   // magic + version
    (345, 155), // prefix
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..12),
                Just(b"../../x".to_vec()),
                Just(b"/etc/passwd".to_vec()),
                Just(b"77777777777".to_vec()),
                Just(b"\x80\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff".to_vec()),
                Just(b"2".to_vec()),
                Just(b"1".to_vec()),
                Just(b"3".to_vec()),
                Just(b"x".to_vec()),
                Just(b"g".to_vec()),
                Just(b"L".to_vec()),
                Just(b"K".to_vec()),
                Just(b"S".to_vec()),
            ],
        )
            .prop_map(|(b, f, v)| Mutation::Field(b, f, v)),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (
            any::<prop::sample::Index>(),
            prop::collection::vec(any::<u8>(), 1..600)
        )
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
    ]
}

fn apply(seed: &[u8], muts: &[Mutation]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for m in muts {
        if b.is_empty() {
            b.resize(512, 0);
        }
        let len = b.len();
        match m {
            Mutation::Flip(i, bit) => b[i.index(len)] ^= 1 << bit,
            Mutation::Set(i, v) => b[i.index(len)] = *v,
            Mutation::Field(block, field, v) => {
                let blocks = len / 512;
                if blocks == 0 {
                    continue;
                }
                let start = block.index(blocks) * 512;
                let (off, width) = FIELDS[field.index(FIELDS.len())];
                for (k, byte) in v.iter().take(width).enumerate() {
                    b[start + off + k] = *byte;
                }
                // Half the time, make the checksum right again so that the
                // field itself is what the reader meets.
                if v.len() % 2 == 0 {
                    let header = &mut b[start..start + 512];
                    header[148..156].fill(b' ');
                    let sum: u32 = header.iter().map(|&x| u32::from(x)).sum();
                    let text = format!("{sum:06o}\0 ");
                    header[148..156].copy_from_slice(text.as_bytes());
                }
            }
            Mutation::Truncate(i) => b.truncate(i.index(len + 1)),
            Mutation::Insert(i, v) => {
                let at = i.index(len + 1);
                b.splice(at..at, v.iter().copied());
            }
        }
    }
    b
}

/// What an accepted tarball must be.
fn check_accepted(e: &Entries) -> Result<(), TestCaseError> {
    for name in e.names() {
        prop_assert!(!name.starts_with('/'), "absolute name {name:?}");
        prop_assert!(
            !name.split('/').any(|p| p == ".." || p.is_empty()),
            "name {name:?}"
        );
        prop_assert!(e.get(name).unwrap().len() as u64 <= MAX_ENTRY);
    }
    // Written and read back: the same entries.
    let gz = write_tar_gz(e).map_err(|x| TestCaseError::fail(x.to_string()))?;
    let back = read_tar_gz(&gz).map_err(|x| TestCaseError::fail(x.to_string()))?;
    prop_assert_eq!(back.len(), e.len());
    for name in e.names() {
        prop_assert_eq!(back.get(name), e.get(name));
    }
    Ok(())
}

#[test]
fn the_tar_reader_never_panics_on_mutated_tarballs() {
    let seed = seed_tar();
    let accepted = std::sync::atomic::AtomicUsize::new(0);
    runner(1)
        .run(&prop::collection::vec(mutation(), 1..5), |m| {
            let bytes = apply(seed, &m);
            if let Ok(e) = read_tar(&bytes) {
                accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                check_accepted(&e)?;
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "fuzz tar reader: {} mutated tarballs, {} accepted",
        cases(),
        accepted.into_inner()
    );
}

#[test]
fn the_gzip_layer_never_panics() {
    let seed = seed_tar();
    runner(3)
        .run(
            &(
                prop::collection::vec(mutation(), 0..4),
                any::<bool>(),
                any::<prop::sample::Index>(),
                any::<u8>(),
            ),
            |(m, corrupt_gz, at, byte)| {
                let tar = apply(seed, &m);
                let mut gz = Vec::new();
                {
                    use std::io::Write as _;
                    let mut enc =
                        flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
                    enc.write_all(&tar).unwrap();
                    enc.finish().unwrap();
                }
                if corrupt_gz {
                    let i = at.index(gz.len());
                    gz[i] = byte;
                }
                if let Ok(e) = read_tar_gz(&gz) {
                    check_accepted(&e)?;
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn tarballs_of_random_headers_never_panic() {
    // Whole headers of random bytes with a right checksum, between real ones.
    let seed = seed_tar();
    runner(3)
        .run(
            &(
                prop::collection::vec(any::<u8>(), 512),
                any::<prop::sample::Index>(),
                0usize..2048,
            ),
            |(mut header, at, body)| {
                header[148..156].fill(b' ');
                let sum: u32 = header.iter().map(|&x| u32::from(x)).sum();
                header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
                let blocks = seed.len() / 512;
                let pos = at.index(blocks) * 512;
                let mut bytes = seed[..pos].to_vec();
                bytes.extend(&header);
                bytes.extend(std::iter::repeat_n(0x41u8, body));
                bytes.extend(&seed[pos..]);
                if let Ok(e) = read_tar(&bytes) {
                    check_accepted(&e)?;
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn the_age_layer_never_panics_on_mutated_archives() {
    // A real age file (scrypt, work factor 2^10) of a real tarball.
    let ct = {
        let mut r = age::scrypt::Recipient::new(SecretString::from(PASSPHRASE.to_owned()));
        r.set_work_factor(10);
        let enc =
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
        let mut out = Vec::new();
        let mut w = enc.wrap_output(&mut out).unwrap();
        std::io::Write::write_all(&mut w, seed_tar()).unwrap();
        w.finish().unwrap();
        out
    };
    let protection = Protection::Passphrase(SecretString::from(PASSPHRASE.to_owned()));
    assert!(decrypt(&ct, &protection).is_ok());
    let muts = prop_oneof![
        (any::<prop::sample::Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (
            any::<prop::sample::Index>(),
            prop::collection::vec(any::<u8>(), 1..40)
        )
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
    ];
    runner(6)
        .run(&prop::collection::vec(muts, 1..3), |m| {
            let bytes = apply(&ct, &m);
            if let Ok(plain) = decrypt(&bytes, &protection) {
                // age authenticates: only the original plaintext can come out.
                prop_assert_eq!(plain.as_slice(), seed_tar());
            }
            Ok(())
        })
        .unwrap();
}
