//! How many QR frames a crossing file takes: not a timing benchmark but a
//! table, printed by `cargo bench -p ceremony --bench qr_frames`.
//!
//! For a FoundriesFactory Ed25519 rotation bundle and an RSA-4096 one (and
//! the proposals they answer), at the default fragment size: frames needed,
//! QR version, and seconds for one loop at 5 frames per second, with and
//! without compression. Then the Ed25519 bundle at other fragment sizes,
//! which is how the default was chosen (target: at most 4 frames of QR
//! version 17 or lower).

use ceremony::transport::qr::{Ecc, QrCode};
use ceremony::transport::{EncodeOptions, Encoder, DEFAULT_FRAGMENT};

#[path = "../../tests/tests/qr_support/fixtures.rs"]
mod fixtures;

use fixtures::Keys;

struct Row {
    frames: usize,
    chars: usize,
    version: i16,
    message: usize,
}

fn measure(file: &[u8], fragment: usize, compress: bool, ecc: Ecc) -> Row {
    let mut enc = Encoder::new(file, &EncodeOptions { fragment, compress }).expect("encodes");
    let frames = enc.frames(enc.fragment_count());
    let version = frames
        .iter()
        .map(|f| QrCode::new(f, ecc).expect("fits a QR code").version())
        .max()
        .unwrap_or(0);
    Row {
        frames: frames.len(),
        chars: frames.iter().map(String::len).max().unwrap_or(0),
        version,
        message: enc.message_len(),
    }
}

fn main() {
    let files: Vec<(&str, Vec<u8>)> = vec![
        (
            "FF Ed25519 rotation bundle",
            fixtures::rotation_bundle(Keys::Ed25519, "bench"),
        ),
        (
            "FF RSA-4096 rotation bundle",
            fixtures::rotation_bundle(Keys::Rsa4096, "bench"),
        ),
        (
            "FF Ed25519 proposal",
            fixtures::rotation_proposal(Keys::Ed25519, "bench"),
        ),
        (
            "FF RSA-4096 proposal",
            fixtures::rotation_proposal(Keys::Rsa4096, "bench"),
        ),
    ];
    let ecc = Ecc::L;
    println!(
        "Frames per file at the default fragment ({DEFAULT_FRAGMENT} bytes), error correction {ecc}, one loop at 5 fps:\n"
    );
    println!(
        "| file | bytes | deflate | message bytes | frames | chars/frame | QR version | seconds at 5 fps |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|");
    for (name, file) in &files {
        for compress in [true, false] {
            let r = measure(file, DEFAULT_FRAGMENT, compress, ecc);
            println!(
                "| {name} | {} | {} | {} | {} | {} | {} | {:.1} |",
                file.len(),
                if compress { "yes" } else { "no (as is)" },
                r.message,
                r.frames,
                r.chars,
                r.version,
                r.frames as f64 / 5.0
            );
        }
    }

    let (name, bundle) = &files[0];
    println!("\n{name}, deflated, by fragment size and error correction (frames × QR version):\n");
    println!("| fragment | L | M | Q |");
    println!("|---:|---|---|---|");
    for fragment in [120, 200, 250, 300, 350, 400, 430, 440, 500, 650] {
        let cells: Vec<String> = [Ecc::L, Ecc::M, Ecc::Q]
            .iter()
            .map(|e| {
                let r = measure(bundle, fragment, true, *e);
                format!("{} × v{}", r.frames, r.version)
            })
            .collect();
        println!("| {fragment} | {} |", cells.join(" | "));
    }
}
