//! Class 7 through the binaries: QR frames whose headers claim far more
//! than was sent (8 MiB of pretty JSON in some 20 frames; 65,536 fountain
//! fragments in 600 frames), and a 470 KB PNG of 22000 × 22000 pixels.
//! Each is refused clearly, quickly, with nothing written. (The bounds
//! themselves are proven step by step in `ceremony::transport`'s tests and
//! `qr_transport.rs`; these are the crafted inputs of issue 12 against
//! `signer qr read`, `signer sign --qr-text` and `submitter qr read`.)

use std::time::{Duration, Instant};

use ceremony::transport::UR_TYPE;
use ceremony_tests::prelude::*;

use super::common::*;

/// A UR message with our header claiming `length` bytes.
fn message_claiming(length: usize, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut m = b"TUFC".to_vec();
    m.extend([1, flags, 2]);
    m.extend((length as u32).to_be_bytes());
    m.extend([0x5a; 32]);
    m.extend(body);
    m
}

fn ur_lines(message: &[u8]) -> Vec<String> {
    let mut enc = ur::Encoder::new(message, 430, UR_TYPE).unwrap();
    (0..enc.fragment_count())
        .map(|_| enc.next_part().unwrap())
        .collect()
}

fn deflated(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// A multi-part frame made by hand: any numbers, a valid CRC.
fn crafted_frame(sequence: u32, count: u32, message_len: u32, data: &[u8]) -> String {
    let mut cbor = vec![0x85];
    for n in [sequence, count, message_len, 0x1234_5678] {
        cbor.push(0x1a);
        cbor.extend(n.to_be_bytes());
    }
    cbor.push(0x58);
    cbor.push(data.len() as u8);
    cbor.extend(data);
    let body = ur::bytewords::encode(&cbor, ur::bytewords::Style::Minimal);
    format!("UR:{}/{sequence}-{count}/{}", UR_TYPE, body).to_ascii_uppercase()
}

/// A PNG made by hand: `width` × `height` white pixels.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    use std::io::Write;
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend(kind);
        out.extend(data);
        out.extend(crc.sum().to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let mut row = vec![255u8; width as usize + 1];
    row[0] = 0;
    for _ in 0..height {
        z.write_all(&row).unwrap();
    }
    let idat = z.finish().unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &idat);
    chunk(&mut png, b"IEND", &[]);
    png
}

/// Runs `bin args` with `stdin`, and judges: refused (exit 1, 2 or 3),
/// within `limit`, naming one of `says`, no `out.json` written, no raw
/// control character.
fn refused(
    case: &str,
    bin: &str,
    dir: &std::path::Path,
    args: &[&str],
    stdin: String,
    limit: Duration,
    says: &[&str],
) -> Vec<String> {
    let started = Instant::now();
    let out = TestCommand::new(bin, dir).args(args).stdin(stdin).output();
    let took = started.elapsed();
    let mut p = raw_problems("stdout", &out.stdout);
    p.extend(raw_problems("stderr", &out.stderr));
    let code = out.status.code().unwrap_or(-1);
    if !(1..=3).contains(&code) {
        p.push(format!("exit {code}"));
    }
    if took > limit {
        p.push(format!("took {took:?} (limit {limit:?})"));
    }
    let t = text(&out).to_lowercase();
    if !says.iter().any(|s| t.contains(s)) {
        p.push(format!(
            "says none of {says:?}: {}",
            last_lines(&text(&out), 3)
        ));
    }
    for f in ["out.json", "bundle.json", "new.tgz.age"] {
        if dir.join(f).exists() {
            p.push(format!("{f} was written"));
        }
    }
    p.into_iter().map(|x| format!("{case}: {x}")).collect()
}

#[test]
fn decoders_bounded_through_the_binaries() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut mini = "[".repeat(127).into_bytes();
    mini.extend(b"0,".repeat(2_500_000));
    mini.push(b'0');
    mini.extend("]".repeat(127).into_bytes());
    let pretty_bomb =
        ur_lines(&message_claiming(8 << 20, 1 | 2 | 4, &deflated(&mini))).join("\n") + "\n";
    let fountain: String = (0..600u32)
        .map(|i| {
            let data: Vec<u8> = (0..16).map(|j| (i * 7 + j) as u8).collect();
            crafted_frame(65_537 + i, 65_536, 65_536 * 16, &data) + "\n"
        })
        .collect();
    let limit = Duration::from_secs(20);
    let mut problems = Vec::new();
    for (bin, what) in [("signer", "pretty"), ("submitter", "pretty")] {
        problems.extend(refused(
            &format!("{bin} qr read: 8 MiB of pretty JSON claimed ({what})"),
            bin,
            d,
            &["qr", "read", "--text", "-", "-o", "out.json"],
            pretty_bomb.clone(),
            limit,
            &["8,388,608", "claim", "refused", "too large"],
        ));
    }
    problems.extend(refused(
        "signer qr read: 65,536 fountain fragments claimed",
        "signer",
        d,
        &["qr", "read", "--text", "-", "-o", "out.json"],
        fountain,
        limit,
        &["not enough", "incomplete", "fragments", "frames"],
    ));
    write_passphrase(d);
    std::fs::copy(tuf().path().join("keys.tgz.age"), d.join("keys.tgz.age")).unwrap();
    problems.extend(refused(
        "signer sign --qr-text: 8 MiB of pretty JSON claimed",
        "signer",
        d,
        &SignArgs::new()
            .qr_text("-", false)
            .to_vec()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        pretty_bomb,
        limit,
        &["8,388,608", "claim", "refused", "too large"],
    ));
    std::fs::write(d.join("huge.png"), png_claiming(22_000, 22_000)).unwrap();
    problems.extend(refused(
        "submitter qr read --image: 22000 × 22000 pixels",
        "submitter",
        d,
        &["qr", "read", "--image", "huge.png", "-o", "out.json"],
        String::new(),
        limit,
        &["megapixels", "pixels"],
    ));
    report("decoders", problems);
}
