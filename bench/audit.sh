#!/usr/bin/env bash
# Benchmark: audit a 1,000-version root history made by python-tuf (mixed
# ed25519 / ecdsa-p256 / rsa-3072 keys, threshold 2 of 3), with
# `submitter audit` on one core and on all cores, with python-tuf's
# TrustedMetadataSet in the same run, and against the bare cost of the same
# signature checks with our crates (one core, all cores). "Bare" uses the
# verifier the submitter uses (ceremony's ring-verify feature); the pure-Rust
# figure (what the signer uses) is printed beside it.
#
# Each figure is the best of RUNS interleaved rounds (default 5): the machine
# is shared, and the best run is the one least disturbed by others.
#
# Usage: bench/audit.sh [VERSIONS] [RUNS]   (needs .venv with python-tuf: run .ci/run once)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
runs=${2:-5}
py=.venv/bin/python
cores=$(nproc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p submitter
# The pure-Rust baseline first, kept aside: the same example is built again
# with the submitter's backend.
cargo build --release -q -p ceremony --example bare_verify
cp target/release/examples/bare_verify "$work/bare_verify_pure"
cargo build --release -q -p ceremony --features ring-verify --example bare_verify
"$py" bench/make_long_history.py "$n" "$work/metadata" >/dev/null

best() { sort -n | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# Wall time of one whole `submitter audit` process; the report must say the
# history holds, or the figure would time a failure.
ours_once() {
  local s e
  s=$(date +%s.%N)
  target/release/submitter audit --metadata-dir "$work/metadata" "$@" >"$work/report"
  e=$(date +%s.%N)
  grep -q "^history holds: $n root(s) checked" "$work/report"
  awk -v s="$s" -v e="$e" 'BEGIN { print e - s }'
}
bare_once() { "$1" "$work/metadata" "$2" | cut -d' ' -f1; }
bare=target/release/examples/bare_verify
pure=$work/bare_verify_pure

# Interleaved: each round times every figure once, so a burst of load from
# elsewhere on the machine falls on all of them alike rather than on one;
# then each figure is its best round.
for _ in $(seq "$runs"); do
  ours_once --threads 1 >>"$work/ours1"
  ours_once >>"$work/oursn"
  bare_once "$bare" 1 >>"$work/bare1"
  bare_once "$bare" "$cores" >>"$work/baren"
  bare_once "$pure" 1 >>"$work/pure1"
  bare_once "$pure" "$cores" >>"$work/puren"
  "$py" bench/audit_vs_python_tuf.py "$work/metadata" >>"$work/theirs"
done
for f in ours1 oursn bare1 baren pure1 puren theirs; do
  declare "$f=$(best <"$work/$f")"
done
sigs=$(target/release/examples/bare_verify "$work/metadata" 1 | cut -d' ' -f2)

printf 'machine: %s cores (nproc); best of %s runs each; load average at the end: %s\n' \
  "$cores" "$runs" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'history: %s versions, %s signature checks\n' "$n" "$sigs"
printf 'submitter audit, 1 core (whole process):       %8.3f s\n' "$ours1"
printf 'submitter audit, %s cores (whole process):      %8.3f s\n' "$cores" "$oursn"
printf 'python-tuf TrustedMetadataSet (in-process):    %8.3f s\n' "$theirs"
printf 'bare signature checks (ours, ring), 1 core:    %8.3f s\n' "$bare1"
printf 'bare signature checks (ours, ring), %s cores:   %8.3f s\n' "$cores" "$baren"
printf 'bare checks (pure Rust, the signer), 1 core:   %8.3f s\n' "$pure1"
printf 'bare checks (pure Rust, the signer), %s cores:  %8.3f s\n' "$cores" "$puren"
printf 'python-tuf / ours(1 core):    %sx\n' "$(ratio "$theirs" "$ours1")"
printf 'python-tuf / ours(%s cores):   %sx   (target >= 3x)\n' "$cores" "$(ratio "$theirs" "$oursn")"
printf 'ours(1 core) / bare(1 core):  %sx\n' "$(ratio "$ours1" "$bare1")"
printf 'ours(%s cores) / bare(%s cores): %sx  (target <= 1.3x)\n' "$cores" "$cores" "$(ratio "$oursn" "$baren")"
# The bare cost spread perfectly over the cores: one core's time / cores.
spread=$(awk -v a="$bare1" -v c="$cores" 'BEGIN { printf "%.4f", a / c }')
printf 'ours(%s cores) / (bare(1 core) / %s): %sx  (the same target, against a perfect split)\n' "$cores" "$cores" "$(ratio "$oursn" "$spread")"
printf 'ours: 1 core / %s cores:       %sx\n' "$cores" "$(ratio "$ours1" "$oursn")"
