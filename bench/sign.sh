#!/usr/bin/env bash
# Benchmark: `signer sign` of a passphrase archive against one opening of the
# same archive (`signer list --no-compare`), on a release build of the
# signer, at the default scrypt work factor (log N 18). Issue 16's target:
# sign <= 3.5x one opening (three scrypt derivations: open the old archive,
# seal the new one, decrypt it again to compare).
#
# The set-up (a TUF repository, its proposal) uses the debug builds of the
# test tools and the submitter; only the signer, which is timed, is built
# for release. Not part of the test suite.
#
# Usage: bench/sign.sh [RUNS]   (best of RUNS, default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building: signer (release), submitter and tuf-repo-init (debug, set-up only)" >&2
cargo build --release -q -p signer
cargo build -q -p submitter -p ceremony-tests --bin tuf-repo-init
signer=$PWD/target/release/signer
submitter=$PWD/target/debug/submitter
init=$PWD/target/debug/tuf-repo-init

# The debug-only knob of the tests must not lower the cost here (a release
# build ignores it anyway).
unset TUF_CEREMONY_TEST_SCRYPT_LOG_N
# A benchmark is a rehearsal: the signer refuses a networked machine otherwise.
export TUF_CEREMONY_REHEARSAL=1
cd "$work"
"$init" repo >/dev/null
printf 'bench passphrase, not a secret\n' >pass.txt
keyargs=()
for k in repo/keys/*.pem; do keyargs+=(--key "$k"); done
"$signer" import "${keyargs[@]}" -o keys.tgz.age --passphrase-file pass.txt >/dev/null 2>&1
rm -rf repo/keys
"$submitter" propose --repo repo/metadata --rotate-all -o proposal.json >/dev/null 2>&1
logn=$("$signer" list keys.tgz.age --json --no-compare --passphrase-file pass.txt 2>/dev/null |
  sed -n 's/.*"scrypt_work_factor": *\([0-9]*\).*/\1/p')

now() { date +%s.%N; }
best() { sort -n | head -1; }
open=$(for i in $(seq "$runs"); do
  s=$(now); "$signer" list keys.tgz.age --no-compare --passphrase-file pass.txt >/dev/null 2>&1
  e=$(now); echo "$e $s" | awk '{print $1 - $2}'; done | best)
derivations=0
sign=$(for i in $(seq "$runs"); do
  s=$(now)
  "$signer" sign proposal.json --keys keys.tgz.age -o "b-$i.json" --new-archive "n-$i.tgz.age" \
    --transcript "t-$i.jsonl" --passphrase-file pass.txt --yes >/dev/null 2>"err-$i.txt"
  e=$(now); echo "$e $s" | awk '{print $1 - $2}'; done | best)
derivations=$(grep -c '^Deriving the archive key' err-1.txt || true)

printf 'machine: %s core(s); archive: passphrase, scrypt log N = %s\n' "$(nproc)" "$logn"
printf 'signer list (one opening):  %7.3f s\n' "$open"
printf 'signer sign --yes:          %7.3f s   (%s scrypt derivations)\n' "$sign" "$derivations"
printf 'ratio sign/open:            %7.2fx   (target <= 3.5x)\n' "$(echo "$sign $open" | awk '{print $1 / $2}')"
