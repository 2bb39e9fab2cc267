//! Helpers of the QR transport tests: realistic files, frame shuffling and
//! loss (running the binaries is `ceremony_tests::cmd`).

#![allow(dead_code)]

pub mod fixtures;

#[allow(unused_imports)] // not every QR test runs a binary
pub use ceremony_tests::cmd::assert_ok;
pub use fixtures::{Drbg, Keys};

/// The four realistic crossing files: name and bytes.
pub fn crossing_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "ed25519-bundle.json",
            fixtures::rotation_bundle(Keys::Ed25519, "t1"),
        ),
        (
            "rsa4096-bundle.json",
            fixtures::rotation_bundle(Keys::Rsa4096, "t2"),
        ),
        (
            "ed25519-proposal.json",
            fixtures::rotation_proposal(Keys::Ed25519, "t3"),
        ),
        (
            "rsa4096-proposal.json",
            fixtures::rotation_proposal(Keys::Rsa4096, "t4"),
        ),
    ]
}

/// Fisher–Yates with a seeded generator.
pub fn shuffle<T>(items: &mut [T], rng: &mut Drbg) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
}

/// What a camera pointed at a looping display gets: the frames shuffled,
/// `drop_percent` of them lost, and one in five of the rest seen twice.
pub fn lossy(frames: &[String], drop_percent: usize, rng: &mut Drbg) -> Vec<String> {
    let mut kept: Vec<String> = frames
        .iter()
        .filter(|_| rng.below(100) >= drop_percent)
        .cloned()
        .collect();
    let repeats: Vec<String> = kept.iter().filter(|_| rng.below(5) == 0).cloned().collect();
    kept.extend(repeats);
    shuffle(&mut kept, rng);
    kept
}
