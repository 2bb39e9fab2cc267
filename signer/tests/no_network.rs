//! The signer must never be able to reach a network. The surest way is that
//! no crate able to open a socket is in its dependency graph at all. This
//! test reads the graph cargo builds for `-p signer` (normal and build
//! dependencies, every platform) and checks it against an ALLOW-list,
//! `signer/allowed-crates.txt`: the exact set of crate names a human has
//! reviewed. A crate that is new (or gone) fails the test with its name and
//! the chain of crates that pulls it in, so that nothing enters the offline
//! binary without a review. Independently, any crate of a deny-list of
//! network crates, or a network feature of a system-call crate, fails it
//! even if someone put it on the allow-list.
//!
//! After reviewing a change: `TUF_CEREMONY_UPDATE_ALLOWED_CRATES=1 cargo
//! test -p signer --test no_network` rewrites the list (the deny-list still
//! applies), and the diff of `signer/allowed-crates.txt` goes into review.
//!
//! (It also makes cargo build the `signer` binary before the workspace's
//! end-to-end tests run.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

/// Crates whose presence means network code could be linked in.
const NETWORK_CRATES: &[&str] = &[
    "reqwest",
    "hyper",
    "hyper-util",
    "hyper-rustls",
    "hyper-tls",
    "h2",
    "h3",
    "http-body",
    "tokio",
    "tokio-rustls",
    "mio",
    "socket2",
    "rustls",
    "rustls-webpki",
    "webpki-roots",
    "native-tls",
    "openssl",
    "openssl-sys",
    "ureq",
    "ureq-proto",
    "curl",
    "curl-sys",
    "isahc",
    "surf",
    "tungstenite",
    "async-std",
    "async-io",
    "smol",
    "tiny_http",
    "quinn",
    "tower",
    "axum",
    "actix-web",
    "rouille",
    "attohttpc",
    "minreq",
    "trust-dns-resolver",
    "hickory-resolver",
    "nix",
    "pnet",
    "ssh2",
    "libssh2-sys",
    "zmq",
    "lettre",
];

/// Features of allowed crates that would add socket code.
const NETWORK_FEATURES: &[(&str, &str)] = &[
    ("rustix", "net"),
    ("libc", "extra_traits_net"),
    ("getrandom", "js"),
    ("filetime", "net"),
];

const ALLOW_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/allowed-crates.txt");

struct Graph {
    /// name -> enabled features (union over versions)
    features: BTreeMap<String, BTreeSet<String>>,
    /// name -> one crate that depends on it (for the explanation)
    parent: BTreeMap<String, String>,
}

/// `cargo tree -p signer -e normal,build --target all`: exactly what
/// building the signer compiles, with the features resolved for the signer
/// alone (not unified with the submitter's, as `cargo metadata` would).
fn signer_graph() -> Graph {
    let out = cargo_tree(&[
        "-p",
        "signer",
        "-e",
        "normal,build",
        "--target",
        "all",
        "--prefix",
        "depth",
        "-f",
        "{p}|{f}",
    ]);
    let text = String::from_utf8(out.stdout).expect("cargo tree prints UTF-8");
    let mut features: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut parent = BTreeMap::new();
    // Depth-prefixed lines: "3rustix v1.1.6|alloc,fs (*)".
    let mut stack: Vec<String> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let digits = line.chars().take_while(char::is_ascii_digit).count();
        let depth: usize = line[..digits].parse().expect("depth prefix");
        let rest = &line[digits..];
        let (pkg, feats) = rest.split_once('|').unwrap_or((rest, ""));
        let name = pkg
            .split_whitespace()
            .next()
            .expect("a crate name")
            .to_string();
        let feats = feats.trim_end_matches(" (*)").trim();
        stack.truncate(depth);
        if let Some(p) = stack.last() {
            parent.entry(name.clone()).or_insert_with(|| p.clone());
        }
        stack.push(name.clone());
        let set = features.entry(name).or_default();
        set.extend(
            feats
                .split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(str::to_owned),
        );
    }
    Graph { features, parent }
}

/// `cargo tree ARGS` on the workspace: offline first (no network needed
/// once the crates are there, as in `scripts/test-offline.sh`), else online
/// (a fresh machine may lack the manifests of other platforms' crates).
fn cargo_tree(args: &[&str]) -> std::process::Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let run = |offline: bool| {
        let mut c = Command::new(&cargo);
        c.arg("tree");
        if offline {
            c.arg("--offline");
        }
        c.args(args)
            .arg("--locked")
            .arg("--manifest-path")
            .arg(&manifest)
            .output()
            .expect("cargo tree runs")
    };
    let out = run(true);
    if out.status.success() {
        return out;
    }
    let online = run(false);
    assert!(
        online.status.success(),
        "cargo tree failed offline ({}) and online ({})",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&online.stderr)
    );
    online
}

fn chain(g: &Graph, name: &str) -> String {
    let mut out = vec![name.to_string()];
    let mut cur = name;
    while let Some(p) = g.parent.get(cur) {
        if out.contains(p) || out.len() > 30 {
            break;
        }
        out.push(p.clone());
        cur = p;
    }
    out.reverse();
    out.join(" -> ")
}

fn read_allow_list() -> BTreeSet<String> {
    let text = std::fs::read_to_string(ALLOW_FILE)
        .unwrap_or_else(|e| panic!("cannot read {ALLOW_FILE}: {e}"));
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn write_allow_list(names: &BTreeSet<String>) {
    let mut out = String::from(
        "# The exact set of crates allowed in the signer's graph (normal and build\n\
         # dependencies, every platform), as `cargo tree -p signer -e normal,build\n\
         # --target all` lists them. signer/tests/no_network.rs fails on any crate\n\
         # not listed here, and on any listed crate that is gone.\n\
         # A new crate is added only after a human has checked that it cannot open\n\
         # a socket (no std::net, no libc socket calls, no network feature).\n\
         # Regenerate after review: TUF_CEREMONY_UPDATE_ALLOWED_CRATES=1 cargo test -p signer --test no_network\n",
    );
    for n in names {
        out.push_str(n);
        out.push('\n');
    }
    std::fs::write(ALLOW_FILE, out).expect("write the allow-list");
}

#[test]
fn signer_dependency_graph_is_exactly_the_reviewed_allow_list() {
    let g = signer_graph();
    let crates: BTreeSet<String> = g.features.keys().cloned().collect();
    assert!(
        crates.contains("ceremony") && crates.contains("age"),
        "the walk reached the library and age: {crates:?}"
    );

    // The deny-list applies whatever the allow-list says.
    let bad: Vec<String> = NETWORK_CRATES
        .iter()
        .filter(|c| crates.contains(**c))
        .map(|c| chain(&g, c))
        .collect();
    assert!(
        bad.is_empty(),
        "the signer's dependency graph holds network crates (the signer must never be able \
         to open a socket; remove the dependency):\n  {}",
        bad.join("\n  ")
    );
    let bad_features: Vec<String> = NETWORK_FEATURES
        .iter()
        .filter(|(c, f)| g.features.get(*c).is_some_and(|s| s.contains(*f)))
        .map(|(c, f)| format!("{c} with feature {f:?} ({})", chain(&g, c)))
        .collect();
    assert!(
        bad_features.is_empty(),
        "network features are enabled in the signer's graph:\n  {}",
        bad_features.join("\n  ")
    );

    if std::env::var_os("TUF_CEREMONY_UPDATE_ALLOWED_CRATES").is_some() {
        write_allow_list(&crates);
        eprintln!("wrote {ALLOW_FILE} ({} crates)", crates.len());
    }
    let allowed = read_allow_list();
    let denied_but_allowed: Vec<&String> = allowed
        .iter()
        .filter(|c| NETWORK_CRATES.contains(&c.as_str()))
        .collect();
    assert!(
        denied_but_allowed.is_empty(),
        "{ALLOW_FILE} lists network crates, which the signer may never hold: {denied_but_allowed:?}"
    );
    let new: Vec<String> = crates.difference(&allowed).map(|c| chain(&g, c)).collect();
    let gone: Vec<&String> = allowed.difference(&crates).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "the signer's dependency graph is not the reviewed allow-list {ALLOW_FILE}.\n\
         New crates (review each: can it open a socket, resolve a name, load network code? \
         then add it to the list):\n  {}\n\
         Crates no longer in the graph (remove them from the list):\n  {}\n\
         After review: TUF_CEREMONY_UPDATE_ALLOWED_CRATES=1 cargo test -p signer --test no_network",
        if new.is_empty() {
            "(none)".to_string()
        } else {
            new.join("\n  ")
        },
        if gone.is_empty() {
            "(none)".to_string()
        } else {
            gone.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  ")
        },
    );
}

#[test]
fn the_deny_list_check_itself_works() {
    // A graph that does hold a network crate is caught: the submitter's.
    let out = cargo_tree(&[
        "-p",
        "submitter",
        "-e",
        "normal,build",
        "--prefix",
        "none",
        "-f",
        "{p}",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let names: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        NETWORK_CRATES.iter().any(|c| names.contains(c)),
        "the deny-list no longer recognises the submitter's HTTP stack: {names:?}"
    );
}
