//! The QR transport (`ceremony::transport`) on realistic crossing files:
//! frames in any order, repeated, 30 % lost; frames of two files mixed;
//! corrupted, crafted and random frames.

mod qr_support;

use ceremony::transport::{
    decode_lines, decode_text_lines, encode, Decoder, EncodeOptions, Encoder, FileKind, FrameError,
    Receipt, TransportError, UR_TYPE,
};
use qr_support::{crossing_files, lossy, shuffle, Drbg, Keys};
use sha2::{Digest, Sha256};

fn frames_of(file: &[u8], count: usize) -> Vec<String> {
    let mut enc = Encoder::new(file, &EncodeOptions::default()).unwrap();
    let n = count.max(enc.fragment_count());
    enc.frames(n)
}

#[test]
fn every_crossing_file_survives_shuffling_repeats_and_30_percent_loss() {
    for (name, file) in crossing_files() {
        let enc = Encoder::new(&file, &EncodeOptions::default()).unwrap();
        let k = enc.fragment_count();
        for seed in 0..12 {
            let mut rng = Drbg::new(&format!("{name}/{seed}"));
            // A reader watching the loop long enough: four times the
            // fragments were shown (and a few), 30 % of them missed.
            let shown = frames_of(&file, 4 * k + 8);
            let seen = lossy(&shown, 30, &mut rng);
            let decoded = decode_lines(&seen).unwrap_or_else(|e| panic!("{name} seed {seed}: {e}"));
            assert_eq!(decoded.bytes, file, "{name} seed {seed}");
            assert_eq!(decoded.info.length, file.len());
            let expected = if name.contains("bundle") {
                FileKind::Bundle
            } else {
                FileKind::Proposal
            };
            assert_eq!(decoded.info.kind, expected);
        }
    }
}

#[test]
fn the_plain_frames_alone_suffice_in_any_order() {
    for (name, file) in crossing_files() {
        let (info, mut frames) = encode(&file, &EncodeOptions::default(), None).unwrap();
        assert!(info.compressed, "{name}");
        assert!(info.minified.is_some(), "{name} crosses as minified JSON");
        shuffle(&mut frames, &mut Drbg::new(name));
        assert_eq!(
            decode_text_lines(&frames.join("\n")).unwrap(),
            file,
            "{name}"
        );
    }
}

#[test]
fn the_ed25519_bundle_fits_four_frames_of_version_17() {
    use ceremony::transport::qr::{Ecc, QrCode};
    let file = qr_support::fixtures::rotation_bundle(Keys::Ed25519, "size");
    let (_, frames) = encode(&file, &EncodeOptions::default(), None).unwrap();
    assert!(frames.len() <= 4, "{} frames", frames.len());
    for f in &frames {
        let v = QrCode::new(f, Ecc::L).unwrap().version();
        assert!(v <= 17, "QR version {v}");
    }
}

#[test]
fn scanner_text_is_accepted_as_typed() {
    let file = qr_support::fixtures::rotation_bundle(Keys::Ed25519, "typed");
    let (_, frames) = encode(&file, &EncodeOptions::default(), None).unwrap();
    let mut text = String::from("\r\n\n");
    for (i, f) in frames.iter().enumerate() {
        let f = if i % 2 == 0 {
            f.to_ascii_lowercase()
        } else {
            f.clone()
        };
        // Keyboard-mode scanners end with CR LF; zbarimg without --raw
        // prefixes the symbology; people paste with spaces.
        let line = match i % 3 {
            0 => format!("  {f}\t\r\n"),
            1 => format!("QR-Code:{f}\n"),
            _ => format!("{f}\n\n"),
        };
        text.push_str(&line);
    }
    assert_eq!(decode_text_lines(&text).unwrap(), file);
}

#[test]
fn frames_of_two_files_mixed_are_refused_naming_both() {
    let a = qr_support::fixtures::rotation_bundle(Keys::Ed25519, "mix-a");
    let b = qr_support::fixtures::rotation_proposal(Keys::Ed25519, "mix-b");
    let fa = frames_of(&a, 0);
    let fb = frames_of(&b, 0);
    let sha_a = hex::encode(Sha256::digest(&a));
    let sha_b = hex::encode(Sha256::digest(&b));

    // Frame 1 of each seen: both are named by kind and sha256.
    let lines = vec![fa[0].clone(), fa[1].clone(), fb[0].clone()];
    let err = decode_lines(&lines).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            TransportError::Frame {
                line: 3,
                source: FrameError::Foreign { .. }
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("frame of a different file: started reading bundle"),
        "{msg}"
    );
    assert!(msg.contains(&sha_a[..16]), "{msg}");
    assert!(msg.contains(&format!("proposal {}", &sha_b[..16])), "{msg}");

    // Frame 1 of neither seen yet: the message still says what happened.
    let lines = vec![fa[1].clone(), fb[1].clone()];
    let msg = decode_lines(&lines).unwrap_err().to_string();
    assert!(msg.contains("frame of a different file"), "{msg}");
    assert!(msg.contains("frame 1 not yet read"), "{msg}");

    // Refused frames leave the read intact: the first file completes.
    let mut d = Decoder::new();
    for f in &fa {
        d.receive(f).unwrap();
        assert!(matches!(d.receive(&fb[1]), Err(FrameError::Foreign { .. })));
    }
    assert_eq!(d.finish().unwrap().bytes, a);
}

#[test]
fn a_corrupted_frame_is_refused_and_the_read_goes_on() {
    let file = qr_support::fixtures::rotation_bundle(Keys::Rsa4096, "corrupt");
    let frames = frames_of(&file, 40);
    let k = Encoder::new(&file, &EncodeOptions::default())
        .unwrap()
        .fragment_count();
    // One letter of the second frame's body changed.
    let mut bad = frames[1].clone().into_bytes();
    let at = bad.len() - 20;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();

    let mut d = Decoder::new();
    let err = d.receive(&bad).unwrap_err();
    assert!(matches!(err, FrameError::Corrupt(_)), "{err}");
    assert!(!err.is_fatal());
    assert!(
        err.to_string().starts_with("corrupted frame, refused"),
        "{err}"
    );
    assert_eq!(d.progress().refused, 1);
    assert_eq!(d.progress().frames, 0, "nothing was taken from it");

    // With only the plain frames and that one corrupted, the read is
    // incomplete and says so; fountain frames complete it.
    let mut plain: Vec<String> = frames[..k].to_vec();
    plain[1] = bad.clone();
    let err = decode_lines(&plain).unwrap_err();
    assert!(
        matches!(err, TransportError::Incomplete { refused: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("keep scanning"), "{err}");
    plain.extend(frames[k..].iter().cloned());
    assert_eq!(decode_lines(&plain).unwrap().bytes, file);
}

#[test]
fn another_kind_of_ur_is_refused() {
    let psbt = ur::ur::encode(b"psbt\xff\x01\x00", &ur::Type::Custom("crypto-psbt"));
    let mut d = Decoder::new();
    let err = d.receive(&psbt).unwrap_err();
    assert!(
        matches!(err, FrameError::OtherType(ref t) if t == "crypto-psbt"),
        "{err}"
    );
    assert!(err.is_fatal());
    assert!(matches!(d.receive("hello"), Err(FrameError::NotUr(_))));
    // What a scanner set to a German layout types for "UR:X-TUF-…/".
    let err = d.receive("URÖX?TUF?CEREMONZ-1-4-LPAD").unwrap_err();
    assert!(err.to_string().contains("keyboard layout"), "{err}");
    assert_eq!(d.receive("   "), Ok(Receipt::Blank));
}

/// A UR message with the documented header, made without the library.
fn message(version: u8, flags: u8, claimed: &[u8], body: &[u8]) -> Vec<u8> {
    let mut m = b"TUFC".to_vec();
    m.extend([version, flags, 2]);
    m.extend((claimed.len() as u32).to_be_bytes());
    m.extend(Sha256::digest(claimed));
    m.extend(body);
    m
}

fn ur_frames(message: &[u8]) -> Vec<String> {
    let mut enc = ur::Encoder::new(message, 100, UR_TYPE).unwrap();
    (0..enc.fragment_count())
        .map(|_| enc.next_part().unwrap())
        .collect()
}

#[test]
fn the_whole_file_digest_is_checked() {
    let real = b"{\"format\":\"tuf-ceremony/bundle@1\",\"roots\":[]}\n".repeat(10);
    let mut tampered = real.clone();
    tampered[30] = b'X';
    // The header names the real file, the body carries another.
    let err = decode_lines(ur_frames(&message(1, 0, &real, &tampered))).unwrap_err();
    assert!(
        matches!(err, TransportError::DigestMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("do not use it"), "{err}");
    // A body that does not inflate.
    let err = decode_lines(ur_frames(&message(1, 1, &real, &tampered))).unwrap_err();
    assert!(matches!(err, TransportError::Corrupt(_)), "{err}");
    // The same, honest, is accepted.
    assert_eq!(
        decode_lines(ur_frames(&message(1, 0, &real, &real)))
            .unwrap()
            .bytes,
        real
    );
}

#[test]
fn a_newer_transport_version_is_refused_clearly() {
    let body = b"{}".repeat(100);
    let err = decode_lines(ur_frames(&message(2, 0, &body, &body))).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("transport format 2"), "{msg}");
    assert!(msg.contains("same version"), "{msg}");
    let err = decode_lines(ur_frames(
        b"not ours at all, no magic here, just bytes; long enough",
    ))
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not start with a tuf-ceremony header"),
        "{err}"
    );
}

#[test]
fn progress_is_reported() {
    let file = qr_support::fixtures::rotation_bundle(Keys::Rsa4096, "progress");
    let frames = frames_of(&file, 0);
    let mut d = Decoder::new();
    assert_eq!(d.progress().percent(), 0);
    let mut last = 0;
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(d.receive(f), Ok(Receipt::New));
        let p = d.progress();
        assert_eq!(p.frames, i + 1);
        assert_eq!(p.total, frames.len());
        assert!(p.percent() >= last);
        last = p.percent();
    }
    assert_eq!(d.receive(&frames[0]), Ok(Receipt::Duplicate));
    assert_eq!(d.progress().duplicates, 1);
    assert!(d.is_complete());
    assert_eq!(d.progress().percent(), 100);
    assert!(
        d.progress().to_string().starts_with("100% · "),
        "{}",
        d.progress()
    );
}

/// Lines an attacker or a broken scanner could send: random text, random
/// bytewords with a valid checksum (so that the CBOR inside is reached),
/// CBOR fountain parts with random numbers, and mutated real frames. None
/// may panic or hang, in a fresh decoder or one half way through a file.
#[test]
fn hostile_lines_never_panic() {
    let file = qr_support::fixtures::rotation_bundle(Keys::Ed25519, "fuzz");
    let frames = frames_of(&file, 20);
    let mut rng = Drbg::new("fuzz");
    let mut lines: Vec<String> = Vec::new();
    for i in 0..4000 {
        let line = match i % 8 {
            // Random printable text, sometimes after the right prefix.
            0 => {
                let n = rng.below(300);
                let s: String = rng
                    .bytes(n)
                    .iter()
                    .map(|b| (b' ' + b % 95) as char)
                    .collect();
                if rng.below(2) == 0 {
                    format!("ur:{UR_TYPE}/{s}")
                } else {
                    s
                }
            }
            // Random bytes, valid UTF-8 or not (lossy).
            1 => {
                let n = rng.below(200);
                String::from_utf8_lossy(&rng.bytes(n)).into_owned()
            }
            // Random payload, valid bytewords checksum, multi-part form.
            2 => {
                let n = rng.below(120);
                let payload = rng.bytes(n);
                let body = ur::bytewords::encode(&payload, ur::bytewords::Style::Minimal);
                format!("ur:{UR_TYPE}/{}-{}/{body}", rng.below(5), rng.below(5))
            }
            // A fountain part whose numbers are random, checksum valid.
            3 | 4 => {
                let mut cbor = vec![0x85];
                for _ in 0..4 {
                    let v = u32::from_be_bytes(rng.bytes(4).try_into().unwrap());
                    let v = match rng.below(3) {
                        0 => v % 24,
                        1 => v % 3000,
                        _ => v,
                    };
                    cbor.push(0x1a);
                    cbor.extend(v.to_be_bytes());
                }
                let n = rng.below(80);
                let data = rng.bytes(n);
                cbor.push(0x58);
                cbor.push(data.len() as u8);
                cbor.extend(&data);
                let seq = u32::from_be_bytes(cbor[2..6].try_into().unwrap());
                let count = u32::from_be_bytes(cbor[7..11].try_into().unwrap());
                let body = ur::bytewords::encode(&cbor, ur::bytewords::Style::Minimal);
                format!("ur:{UR_TYPE}/{seq}-{count}/{body}")
            }
            // A real frame with one character changed, cut, or doubled.
            5 => {
                let mut f = frames[rng.below(frames.len())].clone().into_bytes();
                let at = rng.below(f.len());
                f[at] = b"ABCXYZ-/:0123456789"[rng.below(19)];
                String::from_utf8(f).unwrap()
            }
            6 => {
                let f = &frames[rng.below(frames.len())];
                f[..rng.below(f.len())].to_string()
            }
            // Real headers with a real, re-checksummed body of another part.
            _ => {
                let f = &frames[rng.below(frames.len())];
                let (head, _) = f.rsplit_once('/').unwrap();
                let other = &frames[rng.below(frames.len())];
                let (_, body) = other.rsplit_once('/').unwrap();
                format!("{head}/{body}")
            }
        };
        lines.push(line);
    }
    // Fresh decoders.
    for line in &lines {
        let mut d = Decoder::new();
        let _ = d.receive(line);
        let _ = d.progress();
        let _ = d.finish();
    }
    // One decoder taking everything, between real frames.
    let mut d = Decoder::new();
    for (i, line) in lines.iter().enumerate() {
        let _ = d.receive(line);
        if i % 100 == 0 {
            let _ = d.receive(&frames[(i / 100) % frames.len()]);
        }
    }
    let _ = d.finish();
    // And the real file still comes through a stream laced with garbage.
    let mut laced = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        laced.push(f.clone());
        laced.push(lines[(i * 7) % lines.len()].clone());
    }
    let mut d = Decoder::new();
    for l in &laced {
        // Refusals (fatal or not) leave the decoder as it was.
        let _ = d.receive(l);
    }
    assert_eq!(d.finish().unwrap().bytes, file);
}

#[test]
fn empty_and_oversized_inputs_are_refused() {
    assert!(matches!(
        Encoder::new(b"", &EncodeOptions::default()),
        Err(TransportError::Empty)
    ));
    let opts = EncodeOptions {
        fragment: 5,
        compress: true,
    };
    assert!(matches!(
        Encoder::new(b"x", &opts),
        Err(TransportError::FragmentSize(5))
    ));
    assert!(matches!(
        decode_text_lines("\n\n"),
        Err(TransportError::NoFrames { refused: 0, .. })
    ));
    let long = format!("UR:X-TUF-CEREMONY/1-1/{}", "A".repeat(20_000));
    assert!(matches!(
        Decoder::new().receive(&long),
        Err(FrameError::TooLong(_))
    ));
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

// The bounds themselves (steps counted, not timed) are proven by the unit
// tests of `ceremony::transport`; these take the crafted inputs of issue 12
// through the public decoder, with a generous time limit as a backstop.

#[test]
fn fountain_frames_claiming_65536_fragments_are_read_quickly() {
    let started = std::time::Instant::now();
    let mut d = Decoder::new();
    for i in 0..600u32 {
        let data: Vec<u8> = (0..16).map(|j| (i * 7 + j) as u8).collect();
        let line = crafted_frame(65_537 + i, 65_536, 65_536 * 16, &data);
        assert_eq!(d.receive(&line), Ok(Receipt::New));
    }
    assert!(d.progress().resolved < 600);
    assert!(matches!(
        d.finish(),
        Err(TransportError::Incomplete { total: 65_536, .. })
    ));
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
}

#[test]
fn frames_claiming_8_mib_of_pretty_json_are_refused() {
    // Nested 127 deep around 2.5 million zeros: 5 MB minified, over 600 MB
    // re-indented, some 20 frames deflated; the header claims 8 MiB.
    let mut mini = "[".repeat(127).into_bytes();
    mini.extend(b"0,".repeat(2_500_000));
    mini.push(b'0');
    mini.extend("]".repeat(127).into_bytes());
    let started = std::time::Instant::now();
    let lines = ur_lines(&message_claiming(8 << 20, 1 | 2 | 4, &deflated(&mini)));
    assert!(lines.len() <= 30, "{} frames", lines.len());
    let err = decode_lines(&lines).unwrap_err();
    assert!(matches!(err, TransportError::BeyondClaim { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("re-indents to more than the 8,388,608 bytes"),
        "{text}"
    );
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
}

#[test]
fn a_deflate_bomb_is_refused_at_the_length_its_header_claims() {
    let bomb = deflated(&vec![0u8; 256 << 20]);
    let started = std::time::Instant::now();
    let err = decode_lines(ur_lines(&message_claiming(4096, 1, &bomb))).unwrap_err();
    assert!(matches!(err, TransportError::BeyondClaim { .. }), "{err}");
    assert!(err
        .to_string()
        .contains("inflates to more than the 4,096 bytes"));
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
}

#[test]
fn a_2_mib_file_in_63552_frames_is_put_together() {
    let mut x = 0x9e37_79b9u32;
    let file: Vec<u8> = (0..2 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let opts = EncodeOptions {
        fragment: 33,
        compress: true,
    };
    let mut enc = Encoder::new(&file, &opts).unwrap();
    let frames = enc.frames(enc.fragment_count());
    assert!(frames.len() > 63_000);
    let started = std::time::Instant::now();
    assert_eq!(decode_lines(frames.iter().rev()).unwrap().bytes, file);
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
}
