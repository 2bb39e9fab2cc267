//! Nothing is lost when the signer dies: it is killed with SIGKILL at random
//! moments, 200 times (`signer sign` 150, `signer keygen` 50), and after
//! every kill:
//!
//! * the old archive is byte for byte unchanged, and decrypts (with the age
//!   crate, as `age -d` would) to a tarball that parses;
//! * a new archive, where one exists, is complete: it decrypts, its tarball
//!   parses, it holds every entry of the old one unchanged plus the new key;
//!   for `signer sign` it is the final archive (it holds the new trust
//!   anchor), as `signer sign` writes its new archive once, after the
//!   self-check: a signer killed before that leaves no archive and no
//!   bundle (its new keys signed nothing published), one killed between the
//!   archive and the bundle leaves the archive, so a bundle's keys are never
//!   lost;
//! * a bundle or public-key file, where one exists, is complete and parses,
//!   and the archive holding its key exists; a transcript, where one exists,
//!   is whole lines of JSON;
//! * anything else left in the folder is a temporary file of the atomic
//!   write, named `.<target>.tmp-<pid>-<hex>` (hidden, and not ending in
//!   `.age` or `.json`, so it cannot be mistaken for an archive or a bundle):
//!   they are counted and reported, never accepted elsewhere.
//!
//! The kill delay is drawn uniformly over 0..1.2× the command's own duration
//! (measured first, three full runs each) for half the trials, and over its
//! second half (0.5..1.05×) for the other half, from a seeded generator, so that
//! kills land in every phase: start-up, decryption, key generation, review
//! and signing, the archive write, the transcript, the bundle, and after the
//! end. Archives use the debug-only scrypt work factor
//! 2^10. `TUF_CEREMONY_KILL_TRIALS=N` changes the number of trials.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use ceremony::bundle::Bundle;
use ceremony::pubkey::PubkeyFile;
use ceremony_tests::prelude::*;

/// xorshift64*: a seeded, dependency-free generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn trials() -> usize {
    std::env::var("TUF_CEREMONY_KILL_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Sign,
    Keygen,
}

fn args(kind: Kind, i: usize) -> Vec<String> {
    let v: Vec<String> = match kind {
        Kind::Sign => vec![
            "sign".into(),
            "proposal.json".into(),
            "--keys".into(),
            "keys.tgz.age".into(),
            "-o".into(),
            format!("b-{i}.json"),
            "--new-archive".into(),
            format!("n-{i}.tgz.age"),
            "--passphrase-file".into(),
            "pass.txt".into(),
            "--yes".into(),
        ],
        Kind::Keygen => vec![
            "keygen".into(),
            "--keys".into(),
            "keys.tgz.age".into(),
            "-o".into(),
            format!("p-{i}.json"),
            "--new-archive".into(),
            format!("k-{i}.tgz.age"),
            "--passphrase-file".into(),
            "pass.txt".into(),
        ],
    };
    v
}

/// The files one trial may leave: (archive, other output, transcript).
fn outputs(kind: Kind, i: usize) -> (String, String, Option<String>) {
    match kind {
        Kind::Sign => (
            format!("n-{i}.tgz.age"),
            format!("b-{i}.json"),
            Some(format!("b-{i}.transcript.jsonl")),
        ),
        Kind::Keygen => (format!("k-{i}.tgz.age"), format!("p-{i}.json"), None),
    }
}

fn run_once(dir: &Path, kind: Kind, i: usize) -> Duration {
    let a = args(kind, i);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let t = Instant::now();
    let out = run_in(dir, "signer", &a);
    let d = t.elapsed();
    ok(&out);
    d
}

/// What one kill left behind.
#[derive(Default, Debug)]
struct Outcome {
    finished: bool,
    new_archive: bool,
    transcript: bool,
    output: bool,
    temp_files: usize,
}

/// Checks the folder after trial `i`; returns what was there.
fn check_after(
    dir: &Path,
    kind: Kind,
    i: usize,
    old_ct: &[u8],
    old_entries: &BTreeMap<String, Vec<u8>>,
    known: &mut std::collections::BTreeSet<String>,
) -> Result<Outcome, String> {
    let mut o = Outcome::default();
    let now = std::fs::read(dir.join("keys.tgz.age")).map_err(|e| e.to_string())?;
    if now != old_ct {
        return Err("THE OLD ARCHIVE CHANGED".into());
    }
    let reopened = open_archive(&now).map_err(|e| format!("the old archive: {e}"))?;
    if &reopened != old_entries {
        return Err("the old archive decrypts to other entries".into());
    }
    let (archive, output, transcript) = outputs(kind, i);
    if let Ok(ct) = std::fs::read(dir.join(&archive)) {
        o.new_archive = true;
        let entries =
            open_archive(&ct).map_err(|e| format!("{archive} exists but is not complete: {e}"))?;
        for (name, data) in old_entries {
            if name == "tuf-ceremony/manifest.json" {
                if !entries.contains_key(name) {
                    return Err(format!("{archive} has no manifest"));
                }
                continue;
            }
            if entries.get(name) != Some(data) {
                return Err(format!("{archive} lost or changed the old entry {name}"));
            }
        }
        let new_secs = entries
            .keys()
            .filter(|n| n.ends_with(".sec") && !old_entries.contains_key(*n))
            .count();
        if new_secs != 1 {
            return Err(format!(
                "{archive} holds {new_secs} new private keys, not 1: {:?}",
                entries.keys().collect::<Vec<_>>()
            ));
        }
        let manifest: serde_json::Value =
            serde_json::from_slice(&entries["tuf-ceremony/manifest.json"])
                .map_err(|e| format!("{archive}: manifest: {e}"))?;
        let listed = manifest["keys"].as_array().map_or(0, Vec::len);
        if listed != entries.keys().filter(|n| n.ends_with(".sec")).count() {
            return Err(format!("{archive}: the manifest lists {listed} keys"));
        }
        // The one archive `signer sign` writes is the final one: no archive
        // of new keys alone exists any more, at any moment.
        let anchors = manifest["anchors"].as_array().map_or(0, Vec::len);
        if kind == Kind::Sign && anchors == 0 {
            return Err(format!(
                "{archive} holds the new key but no trust anchor: an archive was written before \
                 the ceremony's end"
            ));
        }
    }
    if let Ok(bytes) = std::fs::read(dir.join(&output)) {
        o.output = true;
        let parsed = match kind {
            Kind::Sign => Bundle::from_slice(&bytes).map(|_| ()),
            Kind::Keygen => PubkeyFile::from_slice(&bytes).map(|_| ()),
        };
        parsed.map_err(|e| format!("{output} exists but does not parse: {e}"))?;
        if !o.new_archive {
            return Err(format!(
                "{output} was written before the archive holding its key"
            ));
        }
    }
    if let Some(t) = &transcript {
        if let Ok(bytes) = std::fs::read(dir.join(t)) {
            o.transcript = true;
            if !bytes.is_empty() && !bytes.ends_with(b"\n") {
                return Err(format!("{t} ends in a partial line"));
            }
            for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
                if line.is_empty() {
                    continue;
                }
                serde_json::from_slice::<serde_json::Value>(line)
                    .map_err(|e| format!("{t} line {}: {e}", n + 1))?;
            }
        }
    }
    known.insert(archive.clone());
    known.insert(output.clone());
    if let Some(t) = &transcript {
        known.insert(t.clone());
    }
    for e in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let name = e.map_err(|e| e.to_string())?.file_name();
        let name = name.to_string_lossy().into_owned();
        if known.contains(&name) {
            continue;
        }
        let temp_of = |target: &str| {
            name.strip_prefix(&format!(".{target}.tmp-"))
                .is_some_and(|rest| {
                    let (pid, rnd) = rest.split_once('-').unwrap_or(("", ""));
                    !pid.is_empty()
                        && pid.bytes().all(|b| b.is_ascii_digit())
                        && rnd.len() == 12
                        && rnd.bytes().all(|b| b.is_ascii_hexdigit())
                })
        };
        if temp_of(&archive) || temp_of(&output) {
            o.temp_files += 1;
            known.insert(name);
            continue;
        }
        return Err(format!("an unexpected file was left: {name:?}"));
    }
    Ok(o)
}

#[test]
fn sigkill_during_sign_and_keygen_never_loses_or_damages_an_archive() {
    let fx = Ceremony::new();
    let dir = fx.path();
    let old_ct = fx.read("keys.tgz.age");
    let old_entries = open_archive(&old_ct).unwrap();
    let mut known: std::collections::BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();

    // The durations, from three full runs of each (checked like the rest).
    let mut durations = BTreeMap::new();
    for kind in [Kind::Sign, Kind::Keygen] {
        let mut d: Vec<Duration> = (0..3)
            .map(|k| {
                let i = 10_000 + k + if kind == Kind::Keygen { 100 } else { 0 };
                let took = run_once(dir, kind, i);
                let o = check_after(dir, kind, i, &old_ct, &old_entries, &mut known).unwrap();
                assert!(o.new_archive && o.output, "{o:?}");
                took
            })
            .collect();
        d.sort();
        durations.insert(format!("{kind:?}"), d[1]);
    }
    eprintln!("measured (median of 3 full runs): {durations:?}");

    let total = trials();
    let n_sign = total * 3 / 4;
    let mut rng = Rng(0x5eed_c0de_1234_5678);
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    let mut temps = 0;
    let mut failures = Vec::new();
    let started = Instant::now();
    for i in 0..total {
        let kind = if i < n_sign { Kind::Sign } else { Kind::Keygen };
        let full = durations[&format!("{kind:?}")];
        // Half the kills anywhere in 0..1.2x the run, half in its second
        // half, where the writes are.
        let u = rng.unit();
        let delay = if i % 2 == 0 {
            full.mul_f64(1.2 * u)
        } else {
            full.mul_f64(0.5 + 0.55 * u)
        };
        let a = args(kind, i);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let mut child = TestCommand::new("signer", dir)
            .args(&a)
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        // SIGKILL (Child::kill on Unix); harmless if it already ended.
        let _ = child.kill();
        let status = child.wait().unwrap();
        match check_after(dir, kind, i, &old_ct, &old_entries, &mut known) {
            Ok(mut o) => {
                o.finished = status.success();
                temps += o.temp_files;
                let what = match (o.finished, o.new_archive, o.transcript, o.output) {
                    (true, ..) => "finished before the kill",
                    (false, false, false, _) => "killed before the new archive existed",
                    (false, false, true, _) => "killed with a transcript but no archive",
                    (false, true, false, false) => "killed with the new archive only",
                    (false, true, true, false) => "killed with new archive and transcript",
                    (false, true, _, true) => "killed with every output written",
                };
                *tally.entry(what).or_default() += 1;
            }
            Err(e) => failures.push(format!(
                "trial {i} ({kind:?}, killed after {delay:?}, status {status:?}): {e}"
            )),
        }
        if !failures.is_empty() {
            break;
        }
    }
    eprintln!(
        "{total} trials ({n_sign} sign, {} keygen) in {:?}; outcomes: {tally:#?}; \
         temporary files left by kills: {temps} (all named .<target>.tmp-<pid>-<hex>)",
        total - n_sign,
        started.elapsed()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The kills really landed inside the writes, not only before or after.
    assert!(
        tally
            .get("killed with the new archive only")
            .copied()
            .unwrap_or(0)
            + tally
                .get("killed with new archive and transcript")
                .copied()
                .unwrap_or(0)
            + temps
            > 0,
        "no kill landed during the archive writes: {tally:?}"
    );
    // Kills before the archive write left nothing but temporary files: the
    // new promise was put to the test, not only the end.
    assert!(
        tally
            .get("killed before the new archive existed")
            .copied()
            .unwrap_or(0)
            > 0,
        "no kill landed before the archive write: {tally:?}"
    );
    // And the old archive still signs: one more full run.
    run_once(dir, Kind::Sign, 99_999);
}
