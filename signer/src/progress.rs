//! What a person waits for: the steps that take a second or more (scrypt
//! derivations, RSA key generation) are announced before they start and
//! timed when they end, on standard error, so that standard output (JSON
//! included) stays clean. The tests count these lines: how many scrypt
//! derivations a command spends is visible, not guessed.

use ceremony_cli::eprintln;
use std::time::Instant;

use ceremony::keys::NewKeyType;

/// Runs one scrypt derivation (`f`): `why` says what it is for ("open
/// keys.tgz.age"), `log_n` its work factor when known.
pub fn derivation<T>(log_n: Option<u8>, why: &str, f: impl FnOnce() -> T) -> T {
    match log_n {
        Some(n) => eprintln!("Deriving the archive key to {why} (scrypt, log N = {n})..."),
        None => eprintln!("Deriving the archive key to {why} (scrypt)..."),
    }
    timed(f)
}

/// Runs one key generation (`f`): announced for RSA, which takes seconds;
/// an ed25519 key is made at once, without a word. `which` is "1 of 2" or
/// empty.
pub fn key_generation<T>(key_type: NewKeyType, which: &str, f: impl FnOnce() -> T) -> T {
    if key_type != NewKeyType::Rsa4096 {
        return f();
    }
    if which.is_empty() {
        eprintln!("Generating an RSA-4096 key (a few seconds)...");
    } else {
        eprintln!("Generating RSA-4096 key {which} (a few seconds each)...");
    }
    timed(f)
}

fn timed<T>(f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    eprintln!("  done in {:.1} s", started.elapsed().as_secs_f64());
    out
}
