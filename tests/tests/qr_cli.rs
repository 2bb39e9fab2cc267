//! `qr show` and `qr read` through both binaries: a file shown by one as
//! UR text, shuffled, repeated and 30 % lost on the way, read back by the
//! other, byte for byte; images, the printable page, and the refusals.

mod qr_support;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use ceremony_tests::binary;
use ceremony_tests::cmd::TestCommand;
use qr_support::{assert_ok, crossing_files, lossy, Drbg};

fn show_text(bin: &str, file: &Path, frames: Option<usize>) -> Vec<String> {
    let mut cmd = Command::new(binary(bin));
    cmd.args([
        OsStr::new("qr"),
        OsStr::new("show"),
        file.as_os_str(),
        OsStr::new("--text"),
    ]);
    if let Some(n) = frames {
        cmd.args(["--frames", &n.to_string()]);
    }
    let out = cmd.output().unwrap();
    assert_ok(&out, &format!("{bin} qr show --text"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sha256 "),
        "the summary names the sha256: {stderr}"
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn read_text_stdin(bin: &str, lines: &[String], output: &Path) -> std::process::Output {
    let input = lines.join("\n") + "\n";
    TestCommand::new(bin, output.parent().expect("a folder"))
        .args(["qr", "read", "--text", "-", "-o"])
        .arg(output)
        .stdin(input)
        .output()
}

/// signer → submitter (bundles) and submitter → signer (proposals), and the
/// other way round too: every file through both pairs, frames shuffled,
/// repeated and 30 % lost.
#[test]
fn files_cross_between_the_binaries_as_text_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (name, file)) in crossing_files().into_iter().enumerate() {
        let path = dir.path().join(name);
        std::fs::write(&path, &file).unwrap();
        for (from, to) in [("signer", "submitter"), ("submitter", "signer")] {
            let plain = show_text(from, &path, None).len();
            let shown = show_text(from, &path, Some(4 * plain + 8));
            assert!(shown.iter().all(|l| l.starts_with("UR:X-TUF-CEREMONY/")));
            let seen = lossy(&shown, 30, &mut Drbg::new(&format!("{name}{from}")));
            let out_path = dir.path().join(format!("{i}-{from}-{to}.json"));
            let out = read_text_stdin(to, &seen, &out_path);
            assert_ok(&out, &format!("{from} → {to} with {name}"));
            assert_eq!(
                std::fs::read(&out_path).unwrap(),
                file,
                "{name}: {from} → {to}"
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("100% · "), "progress is shown: {stderr}");
            assert!(stderr.contains("complete: "), "{stderr}");
        }
    }
}

#[test]
fn reading_from_a_file_and_refusing_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let (name, file) = crossing_files().remove(0);
    let path = dir.path().join(name);
    std::fs::write(&path, &file).unwrap();
    let frames = show_text("signer", &path, None);
    let text = dir.path().join("frames.txt");
    // As pasted: blank lines, lowercase, surrounding spaces; and a line of
    // bytes that are not even UTF-8, as a confused scanner may send.
    let pasted: String = frames
        .iter()
        .rev()
        .map(|f| format!("\n   {}  \r\n", f.to_ascii_lowercase()))
        .collect();
    let mut bytes = b"\xff\xfe\x00 garbage\n".to_vec();
    bytes.extend(pasted.as_bytes());
    std::fs::write(&text, bytes).unwrap();
    let out_path = dir.path().join("out.json");
    for bin in ["signer", "submitter"] {
        let _ = std::fs::remove_file(&out_path);
        let out = Command::new(binary(bin))
            .args(["qr", "read", "--text"])
            .arg(&text)
            .arg("-o")
            .arg(&out_path)
            .output()
            .unwrap();
        assert_ok(&out, bin);
        assert_eq!(std::fs::read(&out_path).unwrap(), file);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("line 1: not a UR frame"), "{stderr}");
    }
    // The output exists now: refused before any frame is read, and kept.
    std::fs::write(&out_path, b"keep me").unwrap();
    for bin in ["signer", "submitter"] {
        let out = Command::new(binary(bin))
            .args(["qr", "read", "--text"])
            .arg(&text)
            .arg("-o")
            .arg(&out_path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{bin}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("already exists; it is not overwritten"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("frame "),
            "refused before reading: {stderr}"
        );
        assert_eq!(std::fs::read(&out_path).unwrap(), b"keep me");
    }
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn frames_of_two_files_are_refused_by_both_binaries() {
    let dir = tempfile::tempdir().unwrap();
    let files = crossing_files();
    let a = dir.path().join(files[0].0);
    let b = dir.path().join(files[2].0);
    std::fs::write(&a, &files[0].1).unwrap();
    std::fs::write(&b, &files[2].1).unwrap();
    let fa = show_text("signer", &a, None);
    let fb = show_text("submitter", &b, None);
    let mixed = vec![fa[0].clone(), fa[1].clone(), fb[0].clone(), fa[2].clone()];
    for bin in ["signer", "submitter"] {
        let out_path = dir.path().join(format!("mixed-{bin}.json"));
        let out = read_text_stdin(bin, &mixed, &out_path);
        assert_eq!(out.status.code(), Some(1), "{bin}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("line 3: frame of a different file: started reading bundle"),
            "{stderr}"
        );
        assert!(stderr.contains("belongs to proposal"), "{stderr}");
        assert!(!out_path.exists(), "nothing written");
    }
}

#[test]
fn a_corrupted_frame_is_refused_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (name, file) = crossing_files().remove(1);
    let path = dir.path().join(name);
    std::fs::write(&path, &file).unwrap();
    let frames = show_text("submitter", &path, None);
    let mut damaged = frames.clone();
    let mut bytes = damaged[2].clone().into_bytes();
    let at = bytes.len() / 2;
    bytes[at] = if bytes[at] == b'Z' { b'Y' } else { b'Z' };
    damaged[2] = String::from_utf8(bytes).unwrap();
    // Only the plain frames, one damaged: refused, and the read fails.
    let out_path = dir.path().join("out.json");
    let out = read_text_stdin("signer", &damaged, &out_path);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 3: corrupted frame, refused"),
        "{stderr}"
    );
    assert!(stderr.contains("not enough frames"), "{stderr}");
    assert!(!out_path.exists());
    // With fountain frames after it, the same read completes.
    let more = show_text("submitter", &path, Some(frames.len() * 3));
    damaged.extend(more[frames.len()..].iter().cloned());
    let out = read_text_stdin("signer", &damaged, &out_path);
    assert_ok(&out, "read with a corrupted frame and fountain frames");
    assert_eq!(std::fs::read(&out_path).unwrap(), file);
}

#[test]
fn show_writes_svg_png_and_one_printable_page() {
    let dir = tempfile::tempdir().unwrap();
    let (name, file) = crossing_files().remove(1);
    let path = dir.path().join(name);
    std::fs::write(&path, &file).unwrap();
    let k = show_text("signer", &path, None).len();

    let svg = dir.path().join("svg");
    let out = Command::new(binary("signer"))
        .args(["qr", "show"])
        .arg(&path)
        .arg("--svg")
        .arg(&svg)
        .output()
        .unwrap();
    assert_ok(&out, "qr show --svg");
    let mut names: Vec<String> = std::fs::read_dir(&svg)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), k);
    assert_eq!(names[0], "frame-001.svg");
    let first = std::fs::read_to_string(svg.join(&names[0])).unwrap();
    assert!(
        first.starts_with("<svg") && first.contains("<path"),
        "{}",
        &first[..80]
    );

    // Frames of another file are never written beside existing ones.
    let out = Command::new(binary("signer"))
        .args(["qr", "show"])
        .arg(&path)
        .arg("--svg")
        .arg(&svg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds frame images"));

    let png = dir.path().join("png");
    let out = Command::new(binary("submitter"))
        .args(["qr", "show"])
        .arg(&path)
        .args(["--frames", "7", "--png"])
        .arg(&png)
        .output()
        .unwrap();
    assert_ok(&out, "qr show --png");
    assert_eq!(std::fs::read_dir(&png).unwrap().count(), 7);
    let img = std::fs::read(png.join("frame-007.png")).unwrap();
    assert_eq!(&img[1..4], b"PNG");

    let html = dir.path().join("page.html");
    let out = Command::new(binary("signer"))
        .args(["qr", "show"])
        .arg(&path)
        .args(["--frames", &(k + 2).to_string(), "--html"])
        .arg(&html)
        .output()
        .unwrap();
    assert_ok(&out, "qr show --html");
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<svg").count(), k + 2);
    assert!(page.contains(&format!("frame 1 of {}", k + 2)));
    assert!(page.contains("extra (fountain)"));
    let sha = ceremony::proposal::sha256_hex(&file);
    let spaced: Vec<&str> = (0..8).map(|i| &sha[i * 8..i * 8 + 8]).collect();
    assert!(
        page.contains(&spaced.join(" ")),
        "the page shows the sha256"
    );
    assert!(!page.contains("<script"), "a static page");
    // And the page is not overwritten.
    let out = Command::new(binary("signer"))
        .args(["qr", "show"])
        .arg(&path)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn show_without_a_terminal_prints_each_frame_once() {
    let dir = tempfile::tempdir().unwrap();
    let (name, file) = crossing_files().remove(0);
    let path = dir.path().join(name);
    std::fs::write(&path, &file).unwrap();
    for bin in ["signer", "submitter"] {
        let out = Command::new(binary(bin))
            .args(["qr", "show"])
            .arg(&path)
            .output()
            .unwrap();
        assert_ok(&out, bin);
        let text = String::from_utf8(out.stdout).unwrap();
        let captions: Vec<&str> = text.lines().filter(|l| l.contains(" · frame ")).collect();
        assert_eq!(captions.len(), 4, "{bin}: 4 frames");
        assert!(
            captions[0].contains("frame 1 of 4 (1-4)"),
            "{}",
            captions[0]
        );
        assert!(text.contains('█') && text.contains('▀'), "half blocks");
        assert!(!text.contains('\x1b'), "no escape codes in a pipe");
    }
}

#[test]
fn usage_errors() {
    // The signer reads no pictures.
    let out = Command::new(binary("signer"))
        .args(["qr", "read", "--image", "a.png", "-o", "x.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // One output at a time; a fragment size that makes no sense.
    for args in [
        &["qr", "show", "f.json", "--text", "--png", "d"][..],
        &["qr", "read", "-o", "x.json"],
        &["qr", "show", "f.json", "--fps", "0"],
    ] {
        for bin in ["signer", "submitter"] {
            let out = Command::new(binary(bin)).args(args).output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{bin} {args:?}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.json");
    std::fs::write(&f, b"{}").unwrap();
    let out = Command::new(binary("signer"))
        .args(["qr", "show"])
        .arg(&f)
        .args(["--text", "--fragment", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("choose between 16 and 2000"));
    // Help names the commands with examples.
    for bin in ["signer", "submitter"] {
        let out = Command::new(binary(bin))
            .args(["qr", "show", "--help"])
            .output()
            .unwrap();
        assert_ok(&out, "help");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Examples:"));
    }
}
