#!/usr/bin/env bash
# A whole TUF root-key ceremony, narrated, in a temporary folder.
#
#   scripts/demo.sh             a TUF repository (python-tuf dialect) it creates
#   scripts/demo.sh --factory   a FoundriesFactory, simulated by factory-sim on 127.0.0.1
#   options: --keep (keep the temporary folder), --release (build optimised)
#
# Needs only cargo (and, for the optional python-tuf cross-check, .venv made
# by .ci/run). The "online" and "offline" folders stand for the two laptops;
# copying between them stands for the USB stick (or the QR codes).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=tuf
KEEP=0
PROFILE=debug
for arg in "$@"; do
  case "$arg" in
    --factory) MODE=factory ;;
    --keep) KEEP=1 ;;
    --release) PROFILE=release ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

if [ -t 1 ]; then B=$'\033[1m'; D=$'\033[2m'; N=$'\033[0m'; else B=; D=; N=; fi
say() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
note() { printf '%s   %s%s\n' "$D" "$*" "$N"; }
run() { printf '%s$ %s%s\n' "$B" "$*" "$N"; "$@"; }

say "Building signer, submitter and the test tools (cargo build$([ "$PROFILE" = release ] && echo ' --release' || true))"
note "a first build takes minutes; cargo shows its progress below; later runs take seconds"
note "the binaries land in target/$PROFILE/"
# cargo's own progress (Compiling ..., the [===> ] bar on a terminal) is the
# progress: a --quiet build sat silent for ten minutes and looked hung.
if [ "$PROFILE" = release ]; then
  cargo build --release -p signer -p submitter -p ceremony-tests --bins
else
  cargo build -p signer -p submitter -p ceremony-tests --bins
fi
BIN="$PWD/target/$PROFILE"
# A demo is a rehearsal: the signer refuses a networked machine otherwise.
export TUF_CEREMONY_REHEARSAL=1
signer() { "$BIN/signer" "$@"; }
submitter() { "$BIN/submitter" "$@"; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tuf-ceremony-demo.XXXXXX")"
SIM_PID=
cleanup() {
  if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; fi
  if [ "$KEEP" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
ONLINE="$WORK/online"; OFFLINE="$WORK/offline"
mkdir -p "$ONLINE" "$OFFLINE"
# The passphrase of the key archive: random, in a file only the offline side has.
head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$OFFLINE/passphrase"
note "working in $WORK (online/ and offline/ stand for the two laptops)"

if [ "$MODE" = tuf ]; then
  say "1. A TUF repository with a fresh root key (it stands in for yours)"
  run "$BIN/tuf-repo-init" "$WORK/repo"
  META="$WORK/repo/metadata"

  say "2. Offline: import the root key into an encrypted archive, then delete the plain key"
  run "$BIN/signer" import --key "$WORK"/repo/keys/*.pem -o "$OFFLINE/keys.tgz.age" --passphrase-file "$OFFLINE/passphrase"
  run rm "$WORK"/repo/keys/*.pem
  run "$BIN/signer" list "$OFFLINE/keys.tgz.age" --passphrase-file "$OFFLINE/passphrase"

  say "3. Online: verify the repository's root history and propose replacing the root key"
  run "$BIN/submitter" propose --repo "$META" --rotate-all --expires-in 365 -o "$ONLINE/proposal.json"
  note "carry proposal.json to the offline laptop"
  cp "$ONLINE/proposal.json" "$OFFLINE/proposal.json"
else
  say "1. A simulated FoundriesFactory (factory-sim stands in for api.foundries.io)"
  run "$BIN/factory-sim" init "$WORK/factory" --key-type ed25519
  head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$ONLINE/token"
  "$BIN/factory-sim" --listen 127.0.0.1:0 --state "$WORK/factory" --token-file "$ONLINE/token" \
    --max-lifetime 900 > "$WORK/sim.out" 2> "$WORK/sim.err" &
  SIM_PID=$!
  API=
  for _ in $(seq 1 100); do
    API="$(sed -n 's/^factory-sim listening on //p' "$WORK/sim.out")"
    [ -n "$API" ] && break
    sleep 0.1
  done
  [ -n "$API" ] || { echo "factory-sim did not start:"; cat "$WORK/sim.err"; exit 1; }
  note "factory-sim listens on $API (loopback only); the API token is in online/token"

  say "2. Offline: import the Factory's key tarball (fioctl layout) into an encrypted archive"
  run "$BIN/signer" import "$WORK/factory/factory-keys.tgz" -o "$OFFLINE/keys.tgz.age" --passphrase-file "$OFFLINE/passphrase"
  run rm "$WORK/factory/factory-keys.tgz"

  say "3. Online: start the root-update transaction, verify both histories, propose"
  run "$BIN/submitter" propose --factory demo --api "$API" --token-file "$ONLINE/token" \
    --rotate-all --message "demo: move off the first root key" -o "$ONLINE/proposal.json"
  note "carry proposal.json to the offline laptop"
  cp "$ONLINE/proposal.json" "$OFFLINE/proposal.json"
fi

say "4. Offline: review what signing would produce (no keys needed)"
run "$BIN/signer" review "$OFFLINE/proposal.json"

say "5. Offline: sign (new key generated, old and new keys sign, new archive written)"
run "$BIN/signer" sign "$OFFLINE/proposal.json" --keys "$OFFLINE/keys.tgz.age" \
  --new-archive "$OFFLINE/keys-2.tgz.age" -o "$OFFLINE/bundle.json" \
  --passphrase-file "$OFFLINE/passphrase" --yes
note "carry bundle.json back to the online laptop"
cp "$OFFLINE/bundle.json" "$ONLINE/bundle.json"

say "6. Online: look at the bundle, then upload it (checked again before anything is sent)"
run "$BIN/submitter" show "$ONLINE/bundle.json"
if [ "$MODE" = tuf ]; then
  run "$BIN/submitter" upload "$ONLINE/bundle.json"
else
  run "$BIN/submitter" upload "$ONLINE/bundle.json" --token-file "$ONLINE/token"
  note "uploading again is safe: it sees the roots are already applied"
  run "$BIN/submitter" upload "$ONLINE/bundle.json" --token-file "$ONLINE/token"
fi

say "7. Audit: every step of the history, on both sides of the air gap"
if [ "$MODE" = tuf ]; then
  run "$BIN/submitter" audit --repo "$META"
  run "$BIN/signer" audit --metadata-dir "$META"
  if [ -x .venv/bin/python ] && .venv/bin/python -c 'import tuf' 2>/dev/null; then
    say "8. python-tuf, an independent implementation, walks the same history"
    run .venv/bin/python tests/python/verify_with_python_tuf.py "$META"
  else
    note "(python-tuf is not in .venv; run .ci/run once to add the independent cross-check)"
  fi
else
  run "$BIN/submitter" audit --factory demo --api "$API" --token-file "$ONLINE/token"
  run "$BIN/signer" audit --metadata-dir "$WORK/factory/ci"
fi

say "Done: the root key was rotated offline; the old archive is untouched, the new one is offline/keys-2.tgz.age"
note "to run the commands yourself: export PATH=\"$BIN:\$PATH\" (the README's walkthroughs take it from here)"
