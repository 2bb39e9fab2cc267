#!/usr/bin/env python3
"""Verify a TUF root history with python-tuf, the independent implementation.

Usage:
    python verify_with_python_tuf.py DIR [--trusted FILE]

Loads DIR/1.root.json (or FILE, with --trusted) as the trusted root into
python-tuf's TrustedMetadataSet, then applies DIR/N.root.json for N = trusted
version + 1, + 2, ... until a file is missing (TUF spec 5.3), and finally checks
that the last root is not expired (spec 5.3.10; python-tuf itself only checks
this in update_timestamp, which a root-only history never reaches).

Prints one JSON line and exits:
    {"ok": true, "version": N}                        exit 0
    {"ok": false, "error": "...", "failing_version": N, "trusted_version": M}
                                                      exit 1
    (usage errors: message on stderr, exit 2)

`failing_version` is the N of the N.root.json that python-tuf refused (or whose
expiry failed); `trusted_version` is the last version python-tuf accepted, or
null if not even the first root loaded.

Also importable: verify_history(dir, trusted_path=None) returns the same dict.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from tuf.ngclient._internal.trusted_metadata_set import TrustedMetadataSet
from tuf.ngclient.config import EnvelopeType


def _describe(e: BaseException) -> str:
    msg = f"{type(e).__name__}: {e}"
    cause = e.__cause__ or e.__context__
    if cause is not None and str(cause) and str(cause) not in msg:
        msg += f" (caused by {type(cause).__name__}: {cause})"
    return msg


def verify_history(directory: str, trusted_path: str | None = None) -> dict:
    first = trusted_path or os.path.join(directory, "1.root.json")
    try:
        with open(first, "rb") as f:
            data = f.read()
    except OSError as e:
        return {
            "ok": False,
            "error": f"cannot read trusted root: {_describe(e)}",
            "failing_version": None if trusted_path else 1,
            "trusted_version": None,
        }
    try:
        ts = TrustedMetadataSet(data, EnvelopeType.METADATA)
    except Exception as e:  # python-tuf raises several unrelated types
        return {
            "ok": False,
            "error": f"trusted root refused: {_describe(e)}",
            "failing_version": None if trusted_path else 1,
            "trusted_version": None,
        }

    n = ts.root.version + 1
    while True:
        path = os.path.join(directory, f"{n}.root.json")
        if not os.path.exists(path):
            break
        with open(path, "rb") as f:
            data = f.read()
        try:
            ts.update_root(data)
        except Exception as e:
            return {
                "ok": False,
                "error": f"{n}.root.json refused: {_describe(e)}",
                "failing_version": n,
                "trusted_version": ts.root.version,
            }
        n += 1

    if ts.root.is_expired():
        return {
            "ok": False,
            "error": (
                f"final root v{ts.root.version} expired at "
                f"{ts.root.expires.strftime('%Y-%m-%dT%H:%M:%SZ')}"
            ),
            "failing_version": ts.root.version,
            "trusted_version": ts.root.version,
        }
    return {"ok": True, "version": ts.root.version}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        description="Verify DIR/N.root.json with python-tuf's TrustedMetadataSet."
    )
    p.add_argument("dir", help="folder holding 1.root.json, 2.root.json, ...")
    p.add_argument(
        "--trusted",
        metavar="FILE",
        help="trusted root to start from instead of DIR/1.root.json",
    )
    args = p.parse_args(argv)
    if not os.path.isdir(args.dir):
        print(f"not a directory: {args.dir}", file=sys.stderr)
        return 2
    result = verify_history(args.dir, args.trusted)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
