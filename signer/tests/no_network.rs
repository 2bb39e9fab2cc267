//! The signer must never be able to reach a network. The surest way is that
//! no crate able to open a socket is in its dependency graph at all; this
//! test reads the graph from `cargo metadata` and fails on any such crate.
//!
//! (It also makes cargo build the `signer` binary before the workspace's
//! end-to-end tests run.)

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

/// Crates whose presence means network code could be linked in.
const NETWORK_CRATES: &[&str] = &[
    "reqwest",
    "hyper",
    "h2",
    "h3",
    "tokio",
    "mio",
    "socket2",
    "rustls",
    "native-tls",
    "openssl",
    "ureq",
    "curl",
    "isahc",
    "surf",
    "tungstenite",
    "async-std",
    "smol",
    "tiny_http",
    "quinn",
    "hyper-util",
    "http-body",
    "tower",
    "axum",
    "actix-web",
    "rouille",
    "attohttpc",
    "minreq",
];

#[test]
fn signer_dependency_graph_holds_no_network_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");

    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes: HashMap<&str, &serde_json::Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let signer = names
        .iter()
        .find(|(_, n)| **n == "signer")
        .map(|(id, _)| *id)
        .expect("signer is a workspace member");

    // Walk normal and build dependencies (what ends up in or builds the binary).
    let mut seen = BTreeSet::new();
    let mut stack = vec![signer];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let kinds = dep["dep_kinds"].as_array().unwrap();
            let linked = kinds
                .iter()
                .any(|k| k["kind"].is_null() || k["kind"] == "build");
            if linked {
                stack.push(dep["pkg"].as_str().unwrap());
            }
        }
    }
    let crates: BTreeSet<&str> = seen.iter().map(|id| names[id]).collect();
    assert!(
        crates.contains("ceremony"),
        "the walk reached the library: {crates:?}"
    );
    let bad: Vec<&&str> = NETWORK_CRATES
        .iter()
        .filter(|c| crates.contains(**c))
        .collect();
    assert!(
        bad.is_empty(),
        "the signer's dependency graph holds network crates: {bad:?}"
    );
}
