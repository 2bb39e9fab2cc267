use sha2::{Digest, Sha256};

use super::header::PayloadInfo;
use super::*;
use crate::crossing::MAX_CROSSING_FILE;

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

/// A multi-part frame made by hand: any numbers, a valid CRC.
fn crafted_frame(
    sequence: u32,
    count: u32,
    message_len: u32,
    checksum: u32,
    data: &[u8],
) -> String {
    let mut cbor = vec![0x85];
    for n in [sequence, count, message_len, checksum] {
        cbor.push(0x1a);
        cbor.extend(n.to_be_bytes());
    }
    cbor.push(0x59);
    cbor.extend((data.len() as u16).to_be_bytes());
    cbor.extend(data);
    let body = ur::bytewords::encode(&cbor, ur::bytewords::Style::Minimal);
    format!("ur:{UR_TYPE}/{sequence}-{count}/{body}")
}

fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn fountain_frames_claiming_65536_fragments_cost_what_was_sent() {
    // 600 fountain frames of 16 bytes claiming a message of 65,536
    // fragments: the `ur` crate spent 14 s on them, building tables as
    // long as the claim for each frame.
    let count = 65_536u32;
    let message_len = count * 16;
    let mut d = Decoder::new();
    let mut text = 0;
    for i in 0..600 {
        let line = crafted_frame(
            count + 1 + i,
            count,
            message_len,
            0xdead_beef,
            &noise(16, i),
        );
        text += line.len();
        assert_eq!(d.receive(&line), Ok(Receipt::New));
    }
    // One degree table for the whole read, then at most 64² steps and 64
    // fragments of XOR per frame, whatever the count claims.
    let bound = u64::from(count) + 600 * (64 * 64 + 64 * 16 + 64);
    assert!(d.work() <= bound, "work {} > {bound}", d.work());
    assert!(d.work() <= u64::from(count) + 100 * text as u64);
    assert!(matches!(
        d.finish(),
        Err(TransportError::Incomplete { total: 65_536, .. })
    ));
}

#[test]
fn a_2_mib_file_in_small_fragments_is_put_together_in_linear_work() {
    // 2 MiB that do not compress, in fragments of 33 bytes: 63,552
    // frames, read last to first; the `ur` crate copied the whole message
    // once per fragment. (Only plain frames: the `ur` crate's encoder
    // spends time linear in the count on each fountain frame, and mixes
    // are covered by `fountain`'s own tests.)
    let file = noise(2 << 20, 7);
    let opts = EncodeOptions {
        fragment: 33,
        compress: true,
    };
    let mut enc = Encoder::new(&file, &opts).unwrap();
    let k = enc.fragment_count();
    assert!(k > 60_000, "{k}");
    let mut d = Decoder::new();
    let mut text = 0;
    for f in enc.frames(k).iter().rev() {
        text += f.len();
        assert_eq!(d.receive(f), Ok(Receipt::New));
    }
    assert!(d.is_complete());
    let work = d.work();
    assert!(
        work <= 2 * text as u64,
        "work {work} for {text} bytes of frames"
    );
    assert_eq!(d.finish().unwrap().bytes, file);
}

/// A UR message with our header claiming `length` bytes (and any sha256).
fn message_claiming(length: usize, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut m = b"TUFC".to_vec();
    m.extend([1, flags, 2]);
    m.extend((length as u32).to_be_bytes());
    m.extend([0x5a; 32]);
    m.extend(body);
    m
}

fn ur_lines(message: &[u8]) -> Vec<String> {
    let mut enc = ur::Encoder::new(message, DEFAULT_FRAGMENT, UR_TYPE).unwrap();
    (0..enc.fragment_count())
        .map(|_| enc.next_part().unwrap())
        .collect()
}

#[test]
fn frames_claiming_8_mib_of_pretty_json_stop_at_the_claim() {
    // Minified JSON nested 127 deep around 2.5 million zeros: a few KB
    // deflated, 5 MB minified, over 600 MB once re-indented. The header
    // claims 8 MiB, pretty-printed with a final newline.
    let mut mini = "[".repeat(127).into_bytes();
    mini.extend(b"0,".repeat(2_500_000));
    mini.push(b'0');
    mini.extend("]".repeat(127).into_bytes());
    let body = super::body::deflate(&mini).unwrap();
    let lines = ur_lines(&message_claiming(MAX_CROSSING_FILE, 1 | 2 | 4, &body));
    assert!(lines.len() <= 30, "{} frames", lines.len());
    let err = decode_lines(&lines).unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::BeyondClaim {
                what: "re-indents",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_deflate_bomb_in_frames_is_refused_at_the_claim() {
    let body = super::body::deflate(&vec![0u8; 64 << 20]).unwrap();
    let lines = ur_lines(&message_claiming(1 << 20, 1, &body));
    let err = decode_lines(&lines).unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::BeyondClaim {
                what: "inflates",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("1,048,576 bytes"), "{err}");
}

#[test]
fn a_frame_claiming_more_bytes_than_the_limit_is_refused() {
    // 65,536 fragments of 2,000 bytes: 131 MB, far past the limit.
    let line = crafted_frame(1, 65_536, 65_536 * 2000, 1, &[0; 2000]);
    let mut d = Decoder::new();
    assert!(matches!(d.receive(&line), Err(FrameError::Malformed(_))));
}
