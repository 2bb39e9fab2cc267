#!/usr/bin/env bash
# Builds the release: static `signer` and `submitter` binaries with their
# dependency list embedded (cargo auditable), shell completions and man pages
# generated from the command-line definitions, and dist/SHA256SUMS.
#
#   scripts/release.sh                         # build into dist/
#   scripts/release.sh --check-reproducible    # also: build the signer again,
#                                              # from a copy of the tree in a
#                                              # different folder, and compare
#   scripts/release.sh --only-reproducible     # just that comparison
#   (REPRO_PACKAGES="signer submitter" compares both binaries)
#
# Static linking: x86_64-unknown-linux-musl when that target is installed
# (rustup target add x86_64-unknown-linux-musl); otherwise glibc, statically
# (-C target-feature=+crt-static). A statically linked glibc still loads NSS
# modules at run time for host-name lookups: the submitter resolves names
# only where the machine's glibc matches; prefer musl where you can. The
# signer resolves nothing.
#
# Reproducibility: the same source, toolchain (rustc -V is printed and
# recorded), Cargo.lock and these settings give the same bytes: paths of the
# source tree and of CARGO_HOME are remapped, SOURCE_DATE_EPOCH is the last
# commit's time, debug information is stripped (symbols are kept, so that the
# socket-symbol check below can run on the static binary).
#
# Takes minutes (a full optimised build; one more with --check-reproducible);
# CI only checks that this script parses (tests/tests/release_script.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

check_repro=0
build=1
for a in "$@"; do
  case "$a" in
    --check-reproducible) check_repro=1 ;;
    --only-reproducible) check_repro=1; build=0 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "error: unknown argument $a (see --help)" >&2; exit 2 ;;
  esac
done

HOST=$(rustc -vV | sed -n 's/^host: //p')
if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  TARGET=x86_64-unknown-linux-musl
  STATIC_FLAGS=""
  LINKING="static (musl)"
else
  TARGET=$HOST
  STATIC_FLAGS="-C target-feature=+crt-static"
  LINKING="static (glibc, crt-static; the musl target is not installed)"
fi
CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
export CARGO_PROFILE_RELEASE_STRIP=debuginfo
export CARGO_PROFILE_RELEASE_DEBUG=false
export CARGO_INCREMENTAL=0

# cargo auditable embeds the dependency list (.dep-v0) for `cargo audit bin`,
# syft, trivy.
if ! cargo auditable --version >/dev/null 2>&1; then
  echo "installing cargo-auditable (crates.io)..." >&2
  cargo install cargo-auditable --locked
fi

# rustflags for a tree at $1: remap it and CARGO_HOME to fixed names.
rustflags_for() {
  echo "$STATIC_FLAGS --remap-path-prefix=$CARGO_HOME=/cargo --remap-path-prefix=$1=/build/tuf-ceremony"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# The forbidden imports/definitions of a network-free binary.
NET_SYMBOLS='socket|socketpair|connect|bind|listen|accept|accept4|sendto|recvfrom|sendmsg|recvmsg|getaddrinfo|getnameinfo|gethostbyname|gethostbyname_r|gethostbyaddr'

net_symbols_in() {
  { nm -D --undefined-only "$1" 2>/dev/null || true; nm "$1" 2>/dev/null || true; } \
    | awk '{print $NF}' | sed 's/@.*//' | grep -xE "$NET_SYMBOLS" | sort -u | tr '\n' ' ' || true
}

check_signer_symbols() {
  local bin=$1 found
  found=$(net_symbols_in "$bin")
  if [ -z "$found" ]; then
    echo "  $bin: no socket or name-resolution function linked"
  elif [ "$TARGET" = x86_64-unknown-linux-musl ]; then
    # musl links a libc function only when something calls it.
    echo "error: $bin holds network functions: $found" >&2
    exit 1
  else
    # A static glibc carries its own internal users of these (NSS, the
    # resolver configuration, netlink for getifaddrs), pulled in by
    # getpwuid_r and friends even though the signer never resolves a name.
    # The proof is the dynamic build: it must import none of them.
    echo "  note: static glibc: $bin contains glibc-internal $found(NSS/netlink code of libc.a," >&2
    echo "        unreachable from the signer's own code); checking a dynamic build instead" >&2
    cargo build --release --locked -p signer
    found=$(net_symbols_in target/release/signer)
    if [ -n "$found" ]; then
      echo "error: the signer imports network functions: $found" >&2
      exit 1
    fi
    echo "  target/release/signer (dynamic): imports no socket or name-resolution function"
  fi
}

# build_release TREE OUT PACKAGE...
build_release() {
  local tree=$1 out=$2
  shift 2
  local p
  # One package per cargo run: built together, cargo would unify their
  # dependencies' features, and the signer would be linked with features the
  # submitter asks for (its graph would no longer be the one the allow-list
  # test reviewed, and its bytes would depend on what it was built with).
  for p in "$@"; do
    (
      cd "$tree"
      RUSTFLAGS=$(rustflags_for "$tree") cargo auditable build --release --locked \
        --target "$TARGET" -p "$p"
    )
  done
  mkdir -p "$out"
  for p in "$@"; do cp "$tree/target/$TARGET/release/$p" "$out/"; done
}

# copy_tree DEST: the working tree (committed and uncommitted files, nothing
# ignored) copied to DEST, so that a build starts from nothing but the source.
copy_tree() {
  mkdir -p "$1"
  git ls-files -z --cached --others --exclude-standard \
    | xargs -0 cp --parents -t "$1" 2>/dev/null || true
  # (files deleted from the work tree but still in the index are skipped)
}
work=$(mktemp -d /tmp/tuf-ceremony-release.XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ "$build" = 1 ]; then
  echo "toolchain: $(rustc -V); target $TARGET; linking: $LINKING; SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
  rm -rf dist
  mkdir -p dist/completions dist/man

  # Completions and man pages come from the CLI definitions, through the
  # `xtask` tool crate (never shipped; no shipped binary can generate them).
  cargo run --quiet --locked -p xtask -- docs dist >/dev/null
  gzip -n -9 dist/man/*.1

  # The shipped binaries are built from a clean copy of the tree, never in
  # the working tree's own target folder (whose leftovers are not part of
  # the source).
  copy_tree "$work/a/tuf-ceremony"
  build_release "$work/a/tuf-ceremony" dist signer submitter
  for b in signer submitter; do
    needed=$(readelf -d "dist/$b" 2>/dev/null | grep NEEDED || true)
    if [ -n "$needed" ]; then
      echo "error: dist/$b needs shared libraries: $needed" >&2
      exit 1
    fi
  done
  check_signer_symbols dist/signer
  if command -v cargo-audit >/dev/null 2>&1; then
    cargo audit bin dist/signer dist/submitter || true
  fi

  echo "rustc: $(rustc -V)" > dist/BUILDINFO
  echo "target: $TARGET ($LINKING)" >> dist/BUILDINFO
  echo "SOURCE_DATE_EPOCH: $SOURCE_DATE_EPOCH" >> dist/BUILDINFO
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')" >> dist/BUILDINFO

  (cd dist && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort \
    | xargs sha256sum > SHA256SUMS)
  echo
  echo "dist/:"
  for f in dist/signer dist/submitter; do
    printf '  %-16s %10s bytes  sha256 %s\n' "$(basename "$f")" "$(stat -c %s "$f")" "$(sha "$f")"
  done
  echo "  completions: $(ls dist/completions | tr '\n' ' ')"
  echo "  man pages:   $(ls dist/man | wc -l) ($(ls dist/man | head -3 | tr '\n' ' ')...)"
  echo "  SHA256SUMS:  $(wc -l < dist/SHA256SUMS) files"
fi

if [ "$check_repro" = 1 ]; then
  # A second build from another copy, in a folder of another name and depth
  # (and the first build too, with --only-reproducible); the binaries must
  # be identical to dist/.
  read -r -a repro_pkgs <<< "${REPRO_PACKAGES:-signer}"
  if [ "$build" = 0 ]; then
    copy_tree "$work/a/tuf-ceremony"
    build_release "$work/a/tuf-ceremony" "$work/out-a" "${repro_pkgs[@]}"
    ref="$work/out-a"
  else
    ref=dist
  fi
  b="$work/another/deeper/folder/src"
  copy_tree "$b"
  echo "reproducibility: building ${repro_pkgs[*]} again, in $b"
  build_release "$b" "$work/out-b" "${repro_pkgs[@]}"
  for bin in "${repro_pkgs[@]}"; do
    sa=$(sha "$ref/$bin"); sb=$(sha "$work/out-b/$bin")
    if [ "$sa" = "$sb" ]; then
      echo "  $bin: identical ($sa, $(stat -c %s "$ref/$bin") bytes)"
    else
      echo "  $bin: DIFFERENT: $sa vs $sb" >&2
      cmp -l "$ref/$bin" "$work/out-b/$bin" | head -5 >&2 || true
      if [ "$bin" = signer ]; then
        echo "error: the signer is not reproducible" >&2
        exit 1
      fi
    fi
  done
fi
