use sha2::{Digest, Sha256};

use super::header::PayloadInfo;
use super::*;

fn sample(n: usize) -> Vec<u8> {
    // Compressible but not trivially so.
    (0..n)
        .map(|i| b"{\"format\":\"tuf-ceremony/bundle@1\"}"[i % 34] ^ ((i / 97) as u8 & 3))
        .collect()
}

#[test]
fn round_trip_in_order() {
    let file = sample(5000);
    let (info, frames) = encode(&file, &EncodeOptions::default(), None).unwrap();
    assert_eq!(info.length, 5000);
    assert!(frames.iter().all(|f| f.starts_with("UR:X-TUF-CEREMONY/")));
    assert_eq!(decode_text_lines(&frames.join("\n")).unwrap(), file);
}

#[test]
fn fountain_frames_fill_gaps() {
    let file = sample(20_000);
    let opts = EncodeOptions {
        fragment: 100,
        compress: false,
    };
    let mut enc = Encoder::new(&file, &opts).unwrap();
    let k = enc.fragment_count();
    let frames = enc.frames(k * 3);
    // Drop every other plain frame; fountain frames make up for them.
    let kept: Vec<&String> = frames
        .iter()
        .enumerate()
        .filter(|(i, _)| *i >= k || i % 2 == 0)
        .map(|(_, f)| f)
        .collect();
    let d = decode_lines(kept.iter().rev()).unwrap();
    assert_eq!(d.bytes, file);
    assert!(!d.info.compressed);
}

#[test]
fn single_part_ur_is_read() {
    let file = sample(300);
    let mut message = PayloadInfo {
        kind: FileKind::Other,
        length: file.len(),
        sha256: Sha256::digest(&file).into(),
        compressed: false,
        minified: None,
    }
    .to_bytes()
    .to_vec();
    message.extend_from_slice(&file);
    let line = ur::ur::encode(&message, &ur::Type::Custom(UR_TYPE));
    assert_eq!(decode_text_lines(&line).unwrap(), file);
}

#[test]
fn huge_counts_are_refused_before_allocating() {
    // A frame claiming 2^32-1 fragments with a valid bytewords CRC.
    let mut cbor = vec![0x85, 0x1a, 0xff, 0xff, 0xff, 0xff];
    cbor.extend([0x1a, 0xff, 0xff, 0xff, 0xff]);
    cbor.extend([0x1a, 0xff, 0xff, 0xff, 0xff]);
    cbor.extend([0x01, 0x41, 0x00]);
    let body = ur::bytewords::encode(&cbor, ur::bytewords::Style::Minimal);
    let line = format!("ur:{UR_TYPE}/4294967295-4294967295/{body}");
    let mut d = Decoder::new();
    assert!(matches!(d.receive(&line), Err(FrameError::Malformed(_))));
}

#[test]
fn default_frames_fit_version_17_at_level_l() {
    // The worst case: a large file (5-byte length, 3-digit count) and a
    // fountain frame numbered 65,535.
    let mut file = Vec::new();
    let mut x = 1u32;
    while file.len() < 80_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        file.push((x >> 16) as u8);
    }
    let mut enc = Encoder::new(&file, &EncodeOptions::default()).unwrap();
    assert!(enc.fragment_count() > 100);
    let first = enc.next_frame();
    for _ in 1..65_534 {
        enc.ur.next_part().unwrap();
    }
    let last = enc.next_frame();
    assert!(last.contains("/65535-"), "{}", &last[..30]);
    for f in [first, last] {
        let v = qr::QrCode::new(&f, qr::Ecc::L).unwrap().version();
        assert!(v <= 17, "version {v} for {} characters", f.len());
    }
}

#[test]
fn pretty_json_crosses_minified_and_comes_back_exact() {
    let value =
        serde_json::json!({"format": "tuf-ceremony/bundle@1", "b": [1, 2, {"c": "d\ne"}], "a": 1});
    let mut pretty = serde_json::to_vec_pretty(&value).unwrap();
    for newline in [false, true] {
        if newline {
            pretty.push(b'\n');
        }
        let enc = Encoder::new(&pretty, &EncodeOptions::default()).unwrap();
        assert!(enc.info().minified.is_some());
        assert_eq!(enc.info().kind, FileKind::Bundle);
        let (_, frames) = encode(&pretty, &EncodeOptions::default(), None).unwrap();
        assert_eq!(decode_text_lines(&frames.join("\n")).unwrap(), pretty);
    }
    // Files that pretty-printing would change are sent as they are.
    for odd in [
        &b"{\"a\": 1e5}\n"[..],
        b"{\"b\":1,\"a\":2}",
        b"{\n    \"a\": 1\n}",
        b"{\"a\":1,\"a\":2}",
    ] {
        let enc = Encoder::new(odd, &EncodeOptions::default()).unwrap();
        assert_eq!(
            enc.info().minified,
            None,
            "{}",
            String::from_utf8_lossy(odd)
        );
        let (_, frames) = encode(odd, &EncodeOptions::default(), None).unwrap();
        assert_eq!(decode_text_lines(&frames.join("\n")).unwrap(), odd);
    }
}

#[test]
fn digits_are_grouped() {
    assert_eq!(group_digits(8210), "8,210");
    assert_eq!(group_digits(999), "999");
    assert_eq!(group_digits(1_000_000), "1,000,000");
}
