//! Nothing is lost when the submitter dies while it uploads into a folder
//! repository: `submitter upload` (target: a TUF metadata folder) is killed
//! with SIGKILL at random moments, 120 times, and after every kill:
//!
//! * `1.root.json` is byte for byte unchanged;
//! * `2.root.json` is absent or exactly the bundle's new root (never a
//!   partial file);
//! * `root.json` is exactly the old root or exactly the new one;
//! * anything else in the folder is a temporary file of the atomic write
//!   (`.<target>.tmp-<pid>-<hex>`, `ceremony::fsio`'s one naming), counted
//!   and reported;
//! * running `upload` again finishes the job: exit 0, `2.root.json` and
//!   `root.json` are the new root, the history audits.
//!
//! The kill delay is drawn uniformly over 0..1.3× the upload's own duration
//! (measured first), from a seeded generator. `TUF_CEREMONY_KILL_TRIALS=N`
//! sets the number of trials (the signer's test uses the same variable).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use ceremony_tests::prelude::*;

struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

const UPLOAD: &[&str] = &["upload", "bundle.json", "--proposal", "proposal.json"];

/// Puts the repository folder back to the state the proposal was made in.
fn reset(meta: &Path, old: &[u8]) {
    for e in std::fs::read_dir(meta).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    std::fs::write(meta.join("1.root.json"), old).unwrap();
    std::fs::write(meta.join("root.json"), old).unwrap();
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum State {
    Untouched,
    NewFileOnly,
    Done,
}

fn check(meta: &Path, old: &[u8], new: &[u8]) -> Result<(State, usize), String> {
    let mut temps = 0;
    let mut state = State::Untouched;
    for e in std::fs::read_dir(meta).map_err(|e| e.to_string())? {
        let e = e.map_err(|e| e.to_string())?;
        let name = e.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(e.path()).map_err(|e| e.to_string())?;
        match name.as_str() {
            "1.root.json" if bytes == old => {}
            "1.root.json" => return Err("1.root.json CHANGED".into()),
            "2.root.json" if bytes == new => {
                if state == State::Untouched {
                    state = State::NewFileOnly;
                }
            }
            "2.root.json" => {
                return Err(format!(
                    "2.root.json is {} bytes and not the new root (a partial write?)",
                    bytes.len()
                ))
            }
            "root.json" if bytes == old => {}
            "root.json" if bytes == new => state = State::Done,
            "root.json" => {
                return Err(format!(
                    "root.json is neither the old nor the new root ({} bytes)",
                    bytes.len()
                ))
            }
            n if is_temp_of(n, "root.json") || is_temp_of(n, "2.root.json") => temps += 1,
            n => return Err(format!("an unexpected file was left: {n:?}")),
        }
    }
    if state == State::Done && !meta.join("2.root.json").exists() {
        return Err("root.json is the new root but 2.root.json is missing".into());
    }
    Ok((state, temps))
}

/// `.<target>.tmp-<pid>-<12 hex>`: a temporary file of `ceremony::fsio`.
fn is_temp_of(name: &str, target: &str) -> bool {
    name.strip_prefix(&format!(".{target}.tmp-"))
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(pid, rnd)| {
            !pid.is_empty()
                && pid.bytes().all(|b| b.is_ascii_digit())
                && rnd.len() == 12
                && rnd.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

#[test]
fn sigkill_during_a_folder_upload_leaves_old_or_new_never_partial() {
    let fx = Ceremony::new();
    let dir = fx.path();
    let meta = dir.join("repo/metadata");
    let old = fx.read("repo/metadata/1.root.json");

    // One full upload: the new root's bytes, and how long it takes.
    let mut took = Vec::new();
    let mut new = Vec::new();
    for _ in 0..3 {
        reset(&meta, &old);
        let t = Instant::now();
        ok(&run_in(dir, "submitter", UPLOAD));
        took.push(t.elapsed());
        new = std::fs::read(meta.join("2.root.json")).unwrap();
        assert_eq!(check(&meta, &old, &new).unwrap(), (State::Done, 0));
    }
    took.sort();
    let full: Duration = took[1];
    eprintln!("a full upload takes {full:?} (median of 3)");

    let total = std::env::var("TUF_CEREMONY_KILL_TRIALS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .map_or(120, |n| (n * 3 / 5).max(10));
    let mut rng = Rng(0xfeed_5eed_0bad_cafe);
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    let mut temps = 0;
    let started = Instant::now();
    for i in 0..total {
        reset(&meta, &old);
        let delay = full.mul_f64(1.3 * rng.unit());
        let mut child = TestCommand::new("submitter", dir)
            .args(UPLOAD)
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        let (state, t) = check(&meta, &old, &new)
            .unwrap_or_else(|e| panic!("trial {i} (killed after {delay:?}, {status:?}): {e}"));
        temps += t;
        let key = format!(
            "{} {state:?}",
            if status.success() {
                "finished"
            } else {
                "killed"
            }
        );
        *tally.entry(key).or_default() += 1;

        // Running upload again is safe, and finishes the job.
        let again = run_in(dir, "submitter", UPLOAD);
        assert!(
            again.status.success(),
            "trial {i}: upload again after a kill in state {state:?} failed:\n{}",
            text(&again)
        );
        let (state, _) = check(&meta, &old, &new).unwrap();
        assert_eq!(state, State::Done, "trial {i}: not finished by the rerun");
    }
    eprintln!(
        "{total} killed uploads in {:?}: {tally:#?}; temporary files left: {temps}",
        started.elapsed()
    );
    // Kills landed before, between and after the two writes.
    assert!(tally.keys().any(|k| k.starts_with("killed")), "{tally:?}");
    // The history audits after all that.
    ok(&run_in(
        dir,
        "submitter",
        ["audit", "--metadata-dir", "repo/metadata"],
    ));
}
