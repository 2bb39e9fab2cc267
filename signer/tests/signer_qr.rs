//! `signer sign --qr-text` reads the proposal straight from QR frames (as a
//! scanner types them, shuffled), and the bundle answers exactly that file.

use ceremony_tests::prelude::*;

#[test]
fn sign_reads_the_proposal_from_shuffled_frames() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    imported_factory_with_proposal(d, false);
    let ppath = d.join("proposal.json");
    let shown = signer(
        d,
        ["qr", "show", "proposal.json", "--text", "--frames", "12"],
    );
    let mut frames: Vec<String> = String::from_utf8(shown.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(frames.len() >= 4, "{frames:?}");
    shuffle(&mut frames, 7);
    frames.remove(0); // a missed frame: fountain frames fill the gap
    std::fs::write(d.join("frames.txt"), frames.join("\n") + "\n").unwrap();

    let out = ok(&signer(
        d,
        SignArgs::new()
            .qr_text("frames.txt", false)
            .new_archive(Some("keys2.tgz.age")),
    ));
    assert!(out.contains("complete"), "{out}");
    let bundle =
        ceremony::bundle::Bundle::from_slice(&std::fs::read(d.join("bundle.json")).unwrap())
            .unwrap();
    assert_eq!(
        bundle.proposal_sha256,
        ceremony::proposal::sha256_hex(&std::fs::read(ppath).unwrap())
    );

    // Both a file and --qr-text is a usage error.
    let out = signer(
        d,
        SignArgs::new()
            .qr_text("frames.txt", true)
            .out("b2.json")
            .new_archive(None)
            .passphrase_file(None)
            .no_yes(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
