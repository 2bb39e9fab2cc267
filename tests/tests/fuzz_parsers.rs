//! Bounded fuzzing of every parser that reads what crosses the air gap, with
//! proptest: strict JSON, canonical JSON (both dialects), roots, proposals,
//! bundles, public-key files, transcripts and the QR transport decoder.
//!
//! Inputs are (a) random bytes, (b) real files of a ceremony made by the
//! binaries (`ceremony_tests::fixture::Ceremony`) mutated at the byte level (bit
//! flips, overwrites, insertions of JSON tokens that sit on parser edges,
//! deletions, splices) and (c) the same files mutated at the JSON level (a
//! random node replaced by a random value: big and negative numbers, floats,
//! wrong types, odd strings). Every parse must return, never panic; what is
//! accepted is then used (versions, roles, keys, signatures, canonical form,
//! the rotation rules, diffs, plans) and that must not panic either.
//!
//! The runs are seeded (the same inputs on every run) and bounded: about
//! 2,000 cases per target by default; `TUF_CEREMONY_FUZZ_CASES=N` sets the
//! number, for a longer run by hand.

use std::sync::OnceLock;

use ceremony::bundle::Bundle;
use ceremony::canonical::to_canonical_bytes;
use ceremony::diff::RootDiff;
use ceremony::proposal::Proposal;
use ceremony::pubkey::PubkeyFile;
use ceremony::rules::check_step;
use ceremony::transport::{Decoder, EncodeOptions, Encoder};
use ceremony::{strict_json, transcript, Dialect, RootMetadata};
use ceremony_tests::files::pretty;
use ceremony_tests::fixture::Ceremony;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// The files of a real ceremony: root v1, root v2, proposal, bundle,
/// public-key file, transcript.
struct Seeds {
    root1: Vec<u8>,
    root2: Vec<u8>,
    proposal: Vec<u8>,
    bundle: Vec<u8>,
    pubkey: Vec<u8>,
    transcript: Vec<u8>,
}

fn seeds() -> &'static Seeds {
    static S: OnceLock<Seeds> = OnceLock::new();
    S.get_or_init(|| {
        let fx = Ceremony::new();
        let bundle: Value = fx.json("bundle.json");
        Seeds {
            root1: fx.read("repo/metadata/1.root.json"),
            root2: pretty(&bundle["roots"][0]["root"]),
            proposal: fx.read("proposal.json"),
            bundle: fx.read("bundle.json"),
            pubkey: fx.read("pubkey.json"),
            transcript: fx.read("bundle.transcript.jsonl"),
        }
    })
}

/// Counts inputs tried and accepted, printed at the end of a target.
#[derive(Default)]
struct Tally {
    tried: std::sync::atomic::AtomicUsize,
    accepted: std::sync::atomic::AtomicUsize,
}

impl Tally {
    fn saw(&self, accepted: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        self.tried.fetch_add(1, Relaxed);
        if accepted {
            self.accepted.fetch_add(1, Relaxed);
        }
    }

    fn report(&self, what: &str) {
        use std::sync::atomic::Ordering::Relaxed;
        eprintln!(
            "fuzz {what}: {} inputs, {} accepted by the parser (and then used)",
            self.tried.load(Relaxed),
            self.accepted.load(Relaxed)
        );
    }
}

fn cases() -> u32 {
    std::env::var("TUF_CEREMONY_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000)
}

/// A deterministic runner: the same inputs every run; no file written on
/// failure (the failing input is printed instead).
fn runner(scale: u32) -> TestRunner {
    let config = Config {
        cases: (cases() / scale).max(50),
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// JSON tokens that sit on a parser's edges.
const TOKENS: &[&str] = &[
    "-1",
    "0",
    "1e999",
    "-1e999",
    "18446744073709551616",
    "-9223372036854775809",
    "0.5",
    "1.0",
    "null",
    "true",
    "[]",
    "{}",
    "\"\"",
    "\"\\ud800\"",
    "\"\\u0000\"",
    "\"é\"",
    ",",
    ":",
    "\"version\":1,",
    "\"signed\":{},",
    "\"keyid\":\"00\",",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "\u{feff}",
];

#[derive(Clone, Debug)]
enum Mutation {
    Flip(prop::sample::Index, u8),
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    Token(prop::sample::Index, prop::sample::Index),
    Delete(prop::sample::Index, usize),
    Splice(prop::sample::Index, prop::sample::Index, usize),
    Truncate(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (
            any::<prop::sample::Index>(),
            prop::collection::vec(any::<u8>(), 1..8)
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(i, t)| Mutation::Token(i, t)),
        (any::<prop::sample::Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
            1usize..200
        )
            .prop_map(|(a, b, n)| Mutation::Splice(a, b, n)),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(seed: &[u8], muts: &[Mutation]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for m in muts {
        if b.is_empty() {
            b.push(b'{');
        }
        let len = b.len();
        match m {
            Mutation::Flip(i, bit) => b[i.index(len)] ^= 1 << bit,
            Mutation::Set(i, v) => b[i.index(len)] = *v,
            Mutation::Insert(i, bytes) => {
                let at = i.index(len + 1);
                b.splice(at..at, bytes.iter().copied());
            }
            Mutation::Token(i, t) => {
                let at = i.index(len + 1);
                let tok = TOKENS[t.index(TOKENS.len())].as_bytes();
                b.splice(at..at, tok.iter().copied());
            }
            Mutation::Delete(i, n) => {
                let at = i.index(len);
                let end = (at + n).min(len);
                b.drain(at..end);
            }
            Mutation::Splice(from, to, n) => {
                let a = from.index(len);
                let piece: Vec<u8> = b[a..(a + n).min(len)].to_vec();
                let at = to.index(len + 1);
                b.splice(at..at, piece);
            }
            Mutation::Truncate(i) => b.truncate(i.index(len + 1)),
        }
    }
    b
}

/// Byte-level mutants of `seed`, or plain random bytes now and then.
fn mutants(seed: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        9 => prop::collection::vec(mutation(), 1..6).prop_map(move |m| apply(seed, &m)),
        1 => prop::collection::vec(any::<u8>(), 0..512),
    ]
}

/// Random JSON leaves and small trees, edge values first.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![Just(0i64), Just(-1), Just(1), Just(2), Just(i64::MIN)].prop_map(Value::from),
        (-1.0e9f64..1.0e9).prop_map(|f| Value::from(f + 0.25)),
        any::<String>().prop_map(Value::String),
        "[a-f0-9]{0,70}".prop_map(Value::String),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z".prop_map(Value::String),
        prop_oneof![
            Just("root"),
            Just("Root"),
            Just("ed25519"),
            Just("rsa"),
            Just("rsassa-pss-sha256"),
            Just("ecdsa-sha2-nistp256"),
            Just("tuf-ceremony/proposal@1"),
            Just("tuf-ceremony/bundle@1"),
            Just("all"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{0,8}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Replaces the node reached by following `path` (each step picks a child)
/// with `new`; `remove` drops it from its object or list instead.
fn graft(v: &mut Value, path: &[prop::sample::Index], new: Value, remove: bool) {
    let mut cur = v;
    for (depth, step) in path.iter().enumerate() {
        let last = depth + 1 == path.len();
        let n = match cur {
            Value::Object(m) => m.len(),
            Value::Array(a) => a.len(),
            _ => 0,
        };
        if n == 0 {
            break;
        }
        let i = step.index(n);
        if last {
            match cur {
                Value::Object(m) => {
                    let key = m.keys().nth(i).unwrap().clone();
                    if remove {
                        m.remove(&key);
                    } else {
                        m.insert(key, new);
                    }
                }
                Value::Array(a) => {
                    if remove {
                        a.remove(i);
                    } else {
                        a[i] = new;
                    }
                }
                _ => {}
            }
            return;
        }
        cur = match cur {
            Value::Object(m) => m.values_mut().nth(i).unwrap(),
            Value::Array(a) => &mut a[i],
            _ => unreachable!(),
        };
    }
    *cur = new;
}

/// JSON-level mutants of `seed`: one to three nodes replaced or removed.
fn json_mutants(seed: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    let base: Value = serde_json::from_slice(seed).expect("the seed is JSON");
    prop::collection::vec(
        (
            prop::collection::vec(any::<prop::sample::Index>(), 1..7),
            json_value(),
            prop::bool::weighted(0.2),
        ),
        1..4,
    )
    .prop_map(move |edits| {
        let mut v = base.clone();
        for (path, new, remove) in edits {
            graft(&mut v, &path, new, remove);
        }
        pretty(&v)
    })
}

fn any_input(seed: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![mutants(seed), json_mutants(seed)]
}

/// Uses an accepted root the way the tools do; nothing may panic.
fn exercise_root(root: &RootMetadata, previous: Option<&RootMetadata>) {
    let _ = root.version();
    let _ = root.expires();
    let _ = root.expires_str();
    let _ = root.role("root");
    let _ = root.role_names();
    let _ = root.root_keys();
    let _ = root.signatures();
    let _ = root.canonical_signed();
    let _ = root.to_bytes();
    let now = OffsetDateTime::now_utc();
    let v = check_step(previous, root, Some(now));
    let _ = v.ok();
    let _ = v.first_failure();
    if let Some(p) = previous {
        let _ = RootDiff::between(p, root).to_string();
    }
}

#[test]
fn strict_json_never_panics_and_accepts_only_what_serde_json_accepts() {
    let s = seeds();
    let tally = Tally::default();
    runner(1)
        .run(&any_input(&s.proposal), |bytes| {
            let parsed = strict_json::from_slice(&bytes);
            tally.saw(parsed.is_ok());
            if let Ok(v) = parsed {
                prop_assert!(serde_json::from_slice::<Value>(&bytes).is_ok());
                for d in [Dialect::OtaTuf, Dialect::Tuf] {
                    if let Ok(c) = to_canonical_bytes(&v, d) {
                        // The ota-tuf form is JSON; the OLPC form is not
                        // always (raw control characters).
                        if d == Dialect::OtaTuf {
                            prop_assert!(serde_json::from_slice::<Value>(&c).is_ok());
                        }
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    tally.report("strict JSON");
}

#[test]
fn canonical_json_never_panics_on_any_value() {
    let tally = Tally::default();
    runner(1)
        .run(&json_value(), |v| {
            for d in [Dialect::OtaTuf, Dialect::Tuf] {
                let a = to_canonical_bytes(&v, d);
                tally.saw(a.is_ok());
                let b = to_canonical_bytes(&v, d);
                prop_assert_eq!(a.is_ok(), b.is_ok());
                if let (Ok(a), Ok(b)) = (a, b) {
                    prop_assert_eq!(a, b);
                }
            }
            Ok(())
        })
        .unwrap();
    tally.report("canonical JSON (both dialects)");
}

#[test]
fn roots_never_panic() {
    let s = seeds();
    let r1 = RootMetadata::from_slice(&s.root1, None).unwrap();
    let tally = Tally::default();
    for (seed, prev) in [(&s.root1, None), (&s.root2, Some(&r1))] {
        runner(2)
            .run(&any_input(seed), |bytes| {
                for d in [None, Some(Dialect::Tuf), Some(Dialect::OtaTuf)] {
                    let parsed = RootMetadata::from_slice(&bytes, d);
                    tally.saw(parsed.is_ok());
                    if let Ok(root) = parsed {
                        exercise_root(&root, prev);
                    }
                }
                Ok(())
            })
            .unwrap();
    }
    tally.report("roots (detected, tuf, ota-tuf)");
}

#[test]
fn proposals_never_panic() {
    let s = seeds();
    let tally = Tally::default();
    runner(1)
        .run(&any_input(&s.proposal), |bytes| {
            let parsed = Proposal::from_slice(&bytes);
            tally.saw(parsed.is_ok());
            if let Ok(p) = parsed {
                for chain in &p.chains {
                    if let Ok(r) = p.current_root(chain) {
                        exercise_root(&r, None);
                    }
                    let _ = p.staged_root(chain);
                }
                let now = OffsetDateTime::now_utc();
                if let Ok(n) = ceremony::rotation::keys_needed(&p) {
                    let keys: Vec<_> = (0..n.min(4))
                        .map(|_| {
                            ceremony::keys::PrivateKey::generate(
                                ceremony::keys::NewKeyType::Ed25519,
                            )
                            .unwrap()
                            .public_key()
                        })
                        .collect();
                    if let Ok(plans) = ceremony::rotation::plan(&p, &keys, now) {
                        for plan in &plans {
                            let _ = ceremony::rotation::guard_rails(plan, now);
                            let _ = RootDiff::between(&plan.current, &plan.new).to_string();
                        }
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    tally.report("proposals");
}

#[test]
fn bundles_never_panic() {
    let s = seeds();
    let proposal = Proposal::from_slice(&s.proposal).unwrap();
    let tally = Tally::default();
    runner(1)
        .run(&any_input(&s.bundle), |bytes| {
            let parsed = Bundle::from_slice(&bytes);
            tally.saw(parsed.is_ok());
            if let Ok(b) = parsed {
                let _ = ceremony::bundle_check::check_answers(&s.proposal, &proposal, &b);
                if let Ok(st) =
                    ceremony::bundle_check::bundle_status(&proposal, &b, OffsetDateTime::now_utc())
                {
                    let _ = st.complete();
                    let _ = st.problems();
                }
                for r in &b.roots {
                    if let Ok(root) = b.root(r) {
                        exercise_root(&root, None);
                    }
                }
                let _ = transcript::authority_from_file(&bytes);
            }
            Ok(())
        })
        .unwrap();
    tally.report("bundles");
}

#[test]
fn public_key_files_never_panic() {
    let s = seeds();
    let tally = Tally::default();
    runner(2)
        .run(&any_input(&s.pubkey), |bytes| {
            let parsed = PubkeyFile::from_slice(&bytes);
            tally.saw(parsed.is_ok());
            if let Ok(f) = parsed {
                let _ = f.public_key();
            }
            Ok(())
        })
        .unwrap();
    tally.report("public-key files");
}

#[test]
fn transcripts_never_panic() {
    let s = seeds();
    let root2 = RootMetadata::from_slice(&s.root2, Some(Dialect::Tuf)).unwrap();
    let tally = Tally::default();
    runner(2)
        .run(&mutants(&s.transcript), |bytes| {
            let parsed = transcript::read(&bytes);
            tally.saw(parsed.is_ok());
            if let Ok(t) = parsed {
                let _ = transcript::verify_against_root(&t, &root2);
            }
            let v = transcript::verify_all(&bytes, Some(&root2), &[]);
            let _ = v.ok();
            let _ = v.summary();
            Ok(())
        })
        .unwrap();
    tally.report("transcripts");
}

#[test]
fn the_transport_decoder_never_panics() {
    let s = seeds();
    static FRAMES: OnceLock<Vec<String>> = OnceLock::new();
    let frames = FRAMES.get_or_init(|| {
        let mut enc = Encoder::new(
            &s.bundle,
            &EncodeOptions {
                fragment: 120,
                compress: true,
            },
        )
        .unwrap();
        let n = enc.fragment_count() + 4;
        enc.frames(n)
    });
    let line = prop_oneof![
        // A real frame, mutated.
        (
            any::<prop::sample::Index>(),
            prop::collection::vec(mutation(), 1..4)
        )
            .prop_map(|(i, m)| {
                let f = &frames[i.index(frames.len())];
                String::from_utf8_lossy(&apply(f.as_bytes(), &m)).into_owned()
            }),
        // A real frame.
        any::<prop::sample::Index>().prop_map(|i| frames[i.index(frames.len())].clone()),
        // Random text after the right prefix.
        "[A-Z0-9/-]{0,300}".prop_map(|s| format!("UR:X-TUF-CEREMONY/{s}")),
        any::<String>(),
    ];
    let tally = Tally::default();
    runner(2)
        .run(&prop::collection::vec(line, 1..40), |lines| {
            let mut d = Decoder::new();
            for l in &lines {
                let _ = d.receive(l);
                let _ = d.progress();
            }
            tally.saw(d.finish().is_ok());
            Ok(())
        })
        .unwrap();
    tally.report("QR transport decoder (sequences of 1-39 lines)");
}
