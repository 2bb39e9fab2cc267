//! One hash per thing, labelled the same way on both sides of the gap, with
//! the same witness words: a Factory ceremony against `factory-sim`, and
//! every hash a person compares, as `signer sign` (closing lines), `signer
//! list`, `signer verify-transcript`, `submitter show` and `submitter
//! upload` print it.

use std::collections::BTreeMap;
use std::path::Path;

use ceremony_tests::fixture::SignArgs;
use ceremony_tests::harness::{factory_init, factory_sim, passphrase_file, run, token_file};
use serde_json::Value;

/// Every `LABEL: HEX` line of `text` (64 hex digits), with the words of the
/// line after it, by label.
fn labelled(text: &str) -> BTreeMap<String, (String, Option<String>)> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut out = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((label, hex)) = line.rsplit_once(": ") else {
            continue;
        };
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let words = lines
            .get(i + 1)
            .and_then(|l| l.strip_prefix("words (first 8 bytes): "))
            .map(str::to_owned);
        out.insert(label.to_string(), (hex.to_string(), words));
    }
    out
}

/// The words of `hex` as the PGP word list spells them, from the list's
/// own decoding: the words printed read back to the hash's first 8 bytes.
fn check_words(label: &str, hex: &str, words: &Option<String>) {
    let words = words
        .as_deref()
        .unwrap_or_else(|| panic!("{label}: no words printed"));
    let spoken: Vec<&str> = words.split_whitespace().collect();
    assert_eq!(spoken.len(), 8, "{label}: {words}");
    let bytes = ceremony::words::decode(&spoken).unwrap();
    assert_eq!(hex::encode(bytes), hex[..16], "{label}: {words}");
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn both_sides_print_the_same_labelled_hashes_and_words() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let state = dir.join("factory");
    factory_init(&state, "ed25519");
    let (online, offline) = (dir.join("online"), dir.join("offline"));
    std::fs::create_dir_all(&online).unwrap();
    std::fs::create_dir_all(&offline).unwrap();
    let tok = token_file(&online);
    let tok = tok.to_str().unwrap();
    let pass = passphrase_file(&offline);
    let pass = pass.to_str().unwrap();
    let sim = factory_sim(&state, &[]);

    let keys = state.join("factory-keys.tgz");
    let import = [
        "import",
        keys.to_str().unwrap(),
        "-o",
        "keys.tgz.age",
        "--passphrase-file",
        pass,
    ];
    run("signer", &offline, import, &[]).expect(0, "signer import");
    let propose = [
        "propose",
        "--factory",
        "acme",
        "--api",
        &sim.url,
        "--token-file",
        tok,
        "--rotate-all",
        "-o",
        "proposal.json",
    ];
    run("submitter", &online, propose, &[]).expect(0, "propose");
    std::fs::copy(online.join("proposal.json"), offline.join("proposal.json")).unwrap();
    let sign = run(
        "signer",
        &offline,
        SignArgs::new()
            .keys("keys.tgz.age")
            .new_archive(Some("new.tgz.age"))
            .passphrase_file(Some(pass)),
        &[],
    );
    sign.expect(0, "sign");
    let list = run(
        "signer",
        &offline,
        ["list", "new.tgz.age", "--passphrase-file", pass],
        &[],
    );
    list.expect(0, "list");
    let verify = run(
        "signer",
        &offline,
        [
            "verify-transcript",
            "bundle.transcript.jsonl",
            "--root",
            "bundle.json",
        ],
        &[],
    );
    verify.expect(0, "verify-transcript");
    std::fs::copy(offline.join("bundle.json"), online.join("bundle.json")).unwrap();
    let show = run("submitter", &online, ["show", "bundle.json"], &[]);
    show.expect(0, "show");
    let upload = run(
        "submitter",
        &online,
        ["upload", "bundle.json", "--token-file", tok],
        &[],
    );
    upload.expect(0, "upload");

    let (signed, listed, verified, shown, uploaded) = (
        labelled(&sign.stdout),
        labelled(&list.stdout),
        labelled(&verify.stdout),
        labelled(&show.stdout),
        labelled(&upload.stdout),
    );
    // Each new root, by its signed part: the same label, hash and words on
    // every screen, the server's copy included (it formats the file its
    // own way, so a hash of the file's bytes would differ).
    for label in [
        "CI root v2 sha256 (signed part)",
        "prod root v2 sha256 (signed part)",
    ] {
        let want = signed
            .get(label)
            .unwrap_or_else(|| panic!("sign does not print {label:?}:\n{}", sign.all()));
        check_words(label, &want.0, &want.1);
        for (what, seen, all) in [
            ("signer list", &listed, list.all()),
            ("submitter show", &shown, show.all()),
            ("submitter upload", &uploaded, upload.all()),
        ] {
            assert_eq!(seen.get(label), Some(want), "{what}, {label}:\n{all}");
        }
    }
    // The transcript head: the closing lines, verify-transcript and the
    // bundle agree.
    let head = signed
        .get("transcript head sha256")
        .unwrap_or_else(|| panic!("sign does not print the head:\n{}", sign.all()));
    check_words("head", &head.0, &head.1);
    assert_eq!(
        verified.get("transcript head sha256"),
        Some(head),
        "{}",
        verify.all()
    );
    let bundle = read_json(&offline.join("bundle.json"));
    assert_eq!(bundle["transcript_head"]["head"], head.0.as_str());

    // The hash in the served root's x-changelog is another entry than the
    // head, and verify-transcript says which, under a label of its own.
    let served = read_json(&state.join("ci/2.root.json"));
    let message = served["signed"]["x-changelog"]["message"].as_str().unwrap();
    let anchor = message
        .rsplit_once("[tuf-ceremony transcript ")
        .and_then(|(_, h)| h.strip_suffix(']'))
        .unwrap_or_else(|| panic!("no anchor in {message:?}"));
    let (label, (hex, words)) = verified
        .iter()
        .find(|(l, _)| l.starts_with("transcript entry ") && l.ends_with("(anchored in root v2)"))
        .unwrap_or_else(|| panic!("verify-transcript names no anchor:\n{}", verify.all()));
    assert_eq!(hex, anchor, "{label}");
    assert_ne!(hex, &head.0, "the anchor is an earlier entry than the head");
    check_words(label, hex, words);
}
