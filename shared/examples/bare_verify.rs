//! Benchmark baseline: the bare cost of the signature checks an audit of
//! DIR/1..N.root.json must make, with nothing else (no JSON, no rules).
//!
//! Usage: cargo run --release -p ceremony --example bare_verify -- DIR [THREADS]
//!
//! Everything is parsed and canonicalised first, outside the timing; then each
//! signature by a root key of the previous or the new root is verified once,
//! split evenly over THREADS threads (default 1). Prints the seconds spent
//! and the number of signatures verified.

use std::time::Instant;

use ceremony::keys::PublicKey;
use ceremony::RootMetadata;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: bare_verify DIR [THREADS]");
    let threads: usize = std::env::args()
        .nth(2)
        .map_or(1, |t| t.parse().expect("THREADS is a whole number"))
        .max(1);
    let mut roots = Vec::new();
    for n in 1.. {
        let path = std::path::Path::new(&dir).join(format!("{n}.root.json"));
        let Ok(bytes) = std::fs::read(&path) else {
            break;
        };
        roots.push(RootMetadata::from_slice(&bytes, None).expect("a root"));
    }
    type Check = (PublicKey, Vec<u8>, Vec<u8>, Option<String>);
    let mut work: Vec<Check> = Vec::new();
    for (i, new) in roots.iter().enumerate() {
        let message = new.canonical_signed().expect("canonical form");
        let mut keys = new.root_keys().expect("root keys");
        if i > 0 {
            keys.extend(roots[i - 1].root_keys().expect("root keys"));
        }
        for s in new.signatures().expect("signatures") {
            if let (Some(key), Ok(sig)) = (keys.get(&s.keyid), s.sig) {
                work.push((key.clone(), message.clone(), sig, s.method));
            }
        }
    }
    let dialect = roots[0].dialect();
    // Contiguous equal shares: the history mixes key types evenly, so each
    // share costs about the same, which is the best any split can do.
    let share = work.len().div_ceil(threads).max(1);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for part in work.chunks(share) {
            scope.spawn(move || {
                for (key, message, sig, method) in part {
                    key.verify(dialect, message, sig, method.as_deref())
                        .expect("signature verifies");
                }
            });
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    println!("{elapsed:.4} {}", work.len());
}
