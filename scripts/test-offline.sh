#!/usr/bin/env bash
# Runs the signer's whole test suite inside a network namespace that has no
# interface but a loopback one (down): proof that nothing the signer does
# needs a network. /sys is remounted inside, so that /sys/class/net (what the
# signer reads for its interface check) shows the namespace's interfaces and
# `sign --require-offline` accepts it.
#
# Needs root, or unprivileged user namespaces (then `unshare -r` is used).
# The build happens first, outside the namespace (cargo may want the
# registry); the tests run with --offline inside.
#
#   scripts/test-offline.sh            # cargo test -p signer, offline
#   scripts/test-offline.sh -- ARGS    # extra arguments for cargo test
set -euo pipefail
cd "$(dirname "$0")/.."

extra=()
if [ "${1:-}" = "--" ]; then shift; extra=("$@"); fi

cargo test -p signer --locked --no-run

flags=(-n -m)
if [ "$(id -u)" != 0 ]; then flags=(-r -n -m); fi
inner='mount -t sysfs sysfs /sys && exec "$@"'
if ! unshare "${flags[@]}" -- sh -c "$inner" sh true 2>/dev/null; then
  echo "error: cannot create a network namespace here (unshare ${flags[*]} failed):" >&2
  echo "  run as root, or allow unprivileged user namespaces" >&2
  echo "  (Ubuntu 24.04: sysctl kernel.apparmor_restrict_unprivileged_userns=0)" >&2
  exit 1
fi

echo "interfaces inside the namespace: $(unshare "${flags[@]}" -- sh -c "$inner" sh ls /sys/class/net | tr '\n' ' ')"
exec unshare "${flags[@]}" -- sh -c "$inner" sh \
  cargo test -p signer --locked --offline "${extra[@]}"
