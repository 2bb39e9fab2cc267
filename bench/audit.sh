#!/usr/bin/env bash
# Benchmark: audit a 1,000-version root history made by python-tuf (mixed
# ed25519 / ecdsa-p256 / rsa-3072 keys, threshold 2 of 3), with
# `submitter audit` and with python-tuf's TrustedMetadataSet in the same run,
# and against the bare cost of the same signature checks with our crates.
#
# Usage: bench/audit.sh [VERSIONS]   (needs .venv with python-tuf: run .ci/run once)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
py=.venv/bin/python
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p submitter
cargo build --release -q -p ceremony --example bare_verify
"$py" bench/make_long_history.py "$n" "$work/metadata" >/dev/null

best() { sort -n | head -1; }
ours=$(for _ in 1 2 3; do
  s=$(date +%s.%N); target/release/submitter audit --metadata-dir "$work/metadata" >/dev/null
  e=$(date +%s.%N); echo "$e - $s" | awk "{print \$1 - \$3}"; done | best)
theirs=$(for _ in 1 2 3; do "$py" bench/audit_vs_python_tuf.py "$work/metadata"; done | best)
bare=$(for _ in 1 2 3; do target/release/examples/bare_verify "$work/metadata" | cut -d' ' -f1; done | best)
sigs=$(target/release/examples/bare_verify "$work/metadata" | cut -d' ' -f2)

printf 'history: %s versions, %s signature checks\n' "$n" "$sigs"
printf 'submitter audit (whole process): %8.3f s\n' "$ours"
printf 'python-tuf TrustedMetadataSet:   %8.3f s   ratio python/ours: %.2fx\n' "$theirs" "$(echo "$theirs / $ours" | awk "{print \$1 / \$3}")"
printf 'bare signature checks (ours):    %8.3f s   ratio ours/bare:   %.2fx\n' "$bare" "$(echo "$ours / $bare" | awk "{print \$1 / \$3}")"
