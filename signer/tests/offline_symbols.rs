//! The signer binary imports no socket or name-resolution function.
//!
//! `nm -D --undefined-only` lists what a dynamically linked binary takes
//! from libc. Rust's std calls `socket`, `connect`, `getaddrinfo`, ... only
//! from `std::net`; the linker drops that code unless something uses it, so
//! a signer that links no network code imports none of them. (A binary that
//! uses `TcpStream::connect` imports `socket`, `connect` and `getaddrinfo`:
//! the submitter is the control case.)
//!
//! What this does not prove, and what covers it instead: a raw system call
//! made without libc. `rustix` issues system calls itself (its `linux_raw`
//! backend), and the binary imports the generic `syscall` function (std uses
//! it for futex, getrandom, statx). Both are covered by the allow-list test
//! (`no_network.rs` refuses rustix's `net` feature) and by the run-time tests
//! (`offline_netns.rs`: a ceremony under `strace -e trace=%network` and in a
//! network namespace with no interface). A PKCS#11 module is native code
//! loaded at run time (`dlopen`) and is outside any build-time check.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Functions whose import would mean the binary can talk to a network or
/// resolve a host name.
const FORBIDDEN: &[&str] = &[
    "socket",
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    "send",
    "sendto",
    "sendmsg",
    "sendmmsg",
    "recv",
    "recvfrom",
    "recvmsg",
    "recvmmsg",
    "getsockopt",
    "setsockopt",
    "getpeername",
    "getsockname",
    "shutdown",
    "getaddrinfo",
    "getnameinfo",
    "gethostbyname",
    "gethostbyname2",
    "gethostbyname_r",
    "gethostbyname2_r",
    "gethostbyaddr",
    "res_query",
    "res_search",
    "res_init",
    "__res_query",
    "if_nametoindex",
    "getifaddrs",
];

/// The undefined dynamic symbols of `binary`, without version suffixes.
fn imports(binary: &Path) -> Vec<String> {
    let out = Command::new("nm")
        .args(["-D", "--undefined-only"])
        .arg(binary)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run nm ({e}): install binutils (Debian: apt-get install binutils)")
        });
    assert!(
        out.status.success(),
        "nm -D {} failed: {}",
        binary.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|s| s.split('@').next().unwrap_or(s).to_string())
        .collect()
}

fn forbidden_in(imports: &[String]) -> Vec<String> {
    imports
        .iter()
        .filter(|s| FORBIDDEN.contains(&s.as_str()))
        .cloned()
        .collect()
}

fn signer_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_signer"))
}

#[test]
fn the_signer_binary_imports_no_socket_function() {
    let bin = signer_binary();
    let all = imports(&bin);
    assert!(
        all.iter().any(|s| s == "write") && all.iter().any(|s| s == "malloc"),
        "nm did not list libc imports of {}; is it dynamically linked? {all:?}",
        bin.display()
    );
    let bad = forbidden_in(&all);
    assert!(
        bad.is_empty(),
        "{} imports network functions {bad:?}: something in its graph uses std::net or a \
         socket API. Find it with `cargo tree -p signer -i <crate>` and remove it",
        bin.display()
    );
    eprintln!(
        "{}: {} libc imports, none of {} network functions",
        bin.display(),
        all.len(),
        FORBIDDEN.len()
    );
}

#[test]
fn a_release_signer_binary_if_built_imports_no_socket_function_either() {
    // target/debug/signer -> target/release/signer (built by scripts/release.sh
    // or `cargo build --release`); also checked there. Nothing to do when it
    // was not built: the debug binary above links the same code.
    let bin = signer_binary();
    let release = bin
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join("release/signer"));
    match release {
        Some(r) if r.exists() => {
            let bad = forbidden_in(&imports(&r));
            assert!(bad.is_empty(), "{} imports {bad:?}", r.display());
            eprintln!("{}: no network import", r.display());
        }
        _ => eprintln!(
            "no release build of the signer beside the debug one: checked the debug binary only"
        ),
    }
}

#[test]
fn the_check_finds_socket_imports_where_there_are_some() {
    // The control case: the submitter talks HTTP, so it must import socket
    // functions; if it did not, the check above would prove nothing.
    let submitter = signer_binary().with_file_name("submitter");
    if !submitter.exists() {
        eprintln!(
            "CONTROL NOT RUN: {} is not built (run the workspace tests to build it)",
            submitter.display()
        );
        return;
    }
    let bad = forbidden_in(&imports(&submitter));
    for needed in ["socket", "connect", "getaddrinfo"] {
        assert!(
            bad.iter().any(|s| s == needed),
            "the submitter should import {needed}; found {bad:?}"
        );
    }
}
