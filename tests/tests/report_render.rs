//! The printable reports render in a real browser (headless Chromium, as
//! installed by .ci/run from Debian's `chromium` package) into a page of
//! sensible size, and say what an auditor needs. The screenshots are kept in
//! `target/report-screenshots/` for a human to look at.

use std::path::{Path, PathBuf};
use std::process::Command;

use ceremony::audit::audit_dir;
use ceremony::report::{audit_html, Subject};
use ceremony_tests::{python_histories, workspace_root};
use time::OffsetDateTime;

fn chromium() -> PathBuf {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(c).output() {
            if out.status.success() {
                return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            }
        }
    }
    panic!("headless Chromium is needed to render the reports: apt-get install chromium (as .ci/run does)");
}

/// Renders `html` to a PNG with headless Chromium and returns its width and
/// height in pixels.
fn render(html: &Path, png: &Path) -> (u32, u32) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=900,1300",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        png.exists(),
        "chromium wrote no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert!(
        bytes.len() > 20_000,
        "a near-empty page: {} bytes",
        bytes.len()
    );
    (w, h)
}

#[test]
fn audit_report_renders_in_chromium() {
    let report = audit_dir(
        &python_histories().join("valid-rotations"),
        None,
        None,
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    let subject = Subject {
        target: "FoundriesFactory acme (https://api.foundries.io)".into(),
        chain: Some("production".into()),
    };
    let html = audit_html(&report, &subject);
    for must in [
        "FoundriesFactory acme (https://api.foundries.io), production root history",
        "the history holds",
        "v5",
        "Threshold health",
        "Auditor (name, signature, date)",
        "rsa-4096",
    ] {
        assert!(html.contains(must), "{must}");
    }
    assert!(
        !html.contains("<script"),
        "no scripts in a printable report"
    );
    let out = workspace_root().join("target/report-screenshots");
    std::fs::create_dir_all(&out).unwrap();
    let file = out.join("audit.html");
    std::fs::write(&file, &html).unwrap();
    let (w, h) = render(&file, &out.join("audit.png"));
    assert_eq!((w, h), (900, 1300));

    // A failing history says so, in red, with the rule.
    let bad = audit_dir(
        &python_histories().join("one-old-one-new"),
        None,
        None,
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    let html = audit_html(&bad, &subject);
    assert!(
        html.contains("does NOT hold") && html.contains("old-threshold"),
        "{html}"
    );
    let file = out.join("audit-failing.html");
    std::fs::write(&file, &html).unwrap();
    render(&file, &out.join("audit-failing.png"));
}

#[test]
fn ceremony_report_renders_in_chromium() {
    use ceremony::keys::{NewKeyType, PrivateKey};
    use ceremony::root::RoleKeys;
    use ceremony::transcript::{set_anchor, verify_all, TranscriptWriter};
    use ceremony::{Dialect, RootMetadata};
    use serde_json::json;

    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate(NewKeyType::Ed25519).unwrap();
    let path = dir.path().join("t.jsonl");
    let mut w = TranscriptWriter::create(&path).unwrap();
    use ceremony::transcript::event::*;
    w.append(&Event::Start(Start {
        software: Software {
            name: "signer".into(),
            version: "0.1.0".into(),
            binary_sha256: "ab".repeat(32),
        },
        machine: Machine {
            interfaces: vec![],
            non_loopback_interface_up: false,
            swap_devices: vec![],
            swap_on: false,
            rehearsal: Some(Rehearsal::Flag),
        },
        operator: Some("Alice <script>".into()),
        witnesses: vec!["Bob".into(), "Carol".into()],
        command: Command {
            proposal: "proposal.json".into(),
            keys: "keys.tgz.age".into(),
            bundle: "bundle.json".into(),
            new_archive: "keys2.tgz.age".into(),
            yes: false,
            force: false,
        },
    }))
    .unwrap();
    w.append(&Event::Input(Input::Proposal {
        path: "proposal.json".into(),
        sha256: "cd".repeat(32),
        target: "TUF repository https://repo.example/metadata".into(),
        dialect: Dialect::Tuf,
        txid: None,
    }))
    .unwrap();
    w.append(&Event::Diff(Diff {
        chain: "root".into(),
        text: "  version:  1 -> 2\n  + key 1234  ed25519".into(),
        warnings: vec![],
    }))
    .unwrap();
    let id = key.public_key().key_id(Dialect::Tuf);
    w.append(&Event::KeyGenerated(KeyGenerated {
        keyid: id.clone(),
        key_type: "ed25519".into(),
        fingerprint: key.public_key().fingerprint(),
        on_token: None,
    }))
    .unwrap();
    let anchor = w
        .append(&Event::Confirmation(Confirmation {
            question: "Sign this?".into(),
            typed: "yes".into(),
        }))
        .unwrap();
    let mut root = RootMetadata::from_value(
        json!({"signed": {"_type": "root", "version": 2, "expires": "2099-01-01T00:00:00Z", "keys": {}, "roles": {}}, "signatures": []}),
        Dialect::Tuf,
    )
    .unwrap();
    root.insert_key(&id, &key.public_key());
    root.set_role(
        "root",
        &RoleKeys {
            keyids: vec![id.clone()],
            threshold: 1,
        },
    );
    set_anchor(&mut root, &anchor);
    let signed_sha256 = ceremony::sha256::hex(&root.canonical_signed().unwrap());
    let head = w
        .append(&Event::Output(Output::Root {
            chain: "root".into(),
            version: 2,
            sha256: ceremony::sha256::hex(&root.to_bytes()),
            signed_sha256: signed_sha256.clone(),
        }))
        .unwrap();
    w.finish(&[(id, &key)]).unwrap();

    let v = verify_all(&std::fs::read(&path).unwrap(), Some(&root), &[]);
    assert!(v.ok(), "{}", v.summary());
    let html = ceremony::report::transcript_html(v.transcript.as_ref().unwrap(), &v);
    assert!(html.contains("Alice &lt;script&gt;"), "text is escaped");
    assert!(!html.contains("<script"));
    for must in [
        "verified",
        "Bob, Carol",
        "<svg",
        "Witness (name, signature, date)",
        &key.public_key().fingerprint(),
    ] {
        assert!(html.contains(must), "{must}");
    }
    // What the ceremony was about, that it was a rehearsal, and every hash
    // people compare, labelled as the terminal labels it, with its words.
    let words = |hex: &str| {
        ceremony::fingerprint::Labelled::new("", hex)
            .words_line()
            .unwrap()
    };
    for must in [
        "TUF repository https://repo.example/metadata (tuf dialect) · chain(s) root".to_string(),
        "REHEARSAL".to_string(),
        format!(
            "transcript head sha256:<br><code>{head}</code><br>{}",
            words(&head)
        ),
        format!(
            "transcript entry 5 sha256 (anchored in root v2):<br><code>{anchor}</code><br>{}",
            words(&anchor)
        ),
        format!("root v2 sha256 (signed part):<br><code>{signed_sha256}</code>"),
        words(&key.public_key().fingerprint()),
    ] {
        assert!(html.contains(&must), "{must}\n{html}");
    }
    let out = workspace_root().join("target/report-screenshots");
    std::fs::create_dir_all(&out).unwrap();
    let file = out.join("ceremony.html");
    std::fs::write(&file, &html).unwrap();
    assert_eq!(render(&file, &out.join("ceremony.png")), (900, 1300));
}
