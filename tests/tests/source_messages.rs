//! Messages a person reads are written as string literals continued over
//! several source lines with `\`; a continuation that loses its backslash
//! leaves the next line's indentation inside the message (a run of spaces
//! in the middle of a sentence). This walks the binaries' and the
//! library's sources for such runs.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Whether a quoted segment of `line` holds a run of 10 or more spaces
/// between two other characters.
fn has_lost_continuation(line: &str) -> bool {
    line.split('"').skip(1).step_by(2).any(|quoted| {
        let b = quoted.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b' ' {
                let start = i;
                while i < b.len() && b[i] == b' ' {
                    i += 1;
                }
                if start > 0 && i < b.len() && i - start >= 10 {
                    return true;
                }
            } else {
                i += 1;
            }
        }
        false
    })
}

#[test]
fn no_message_holds_a_lost_line_continuation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for d in [
        "signer/src",
        "submitter/src",
        "shared/src",
        "shared/cli/src",
    ] {
        sources(&root.join(d), &mut files);
    }
    assert!(files.len() > 50, "{} source files", files.len());
    let bad: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim_start().starts_with("//") && has_lost_continuation(l))
                .map(|(n, l)| format!("{}:{}: {}", f.display(), n + 1, l.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_check_finds_a_lost_continuation() {
    assert!(has_lost_continuation(
        r#"  "it may hold                  another""#
    ));
    assert!(!has_lost_continuation(r#"  "it may hold \"#));
    assert!(!has_lost_continuation(r#"  let x = 1;          // "a""#));
}
