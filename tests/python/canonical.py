#!/usr/bin/env python3
"""Print the OLPC canonical form of a root's "signed" as securesystemslib makes it.

Usage:
    python canonical.py FILE
        writes encode_canonical(json.load(FILE)["signed"]), UTF-8, to stdout
        (raw bytes, no trailing newline)
    python canonical.py --dump-all DIR
        for every X.root.json under DIR (recursively) writes X.root.canonical
        beside it, holding the same bytes
    python canonical.py --jsonl FILE
        for each line of FILE (one JSON value per line) prints one line: the
        hex of encode_canonical(value) in UTF-8, or "ERROR <reason>" where
        securesystemslib refuses the value (floats, for instance)

These are the bytes python-tuf verifies signatures over; our Rust canonicalizer
must produce them byte for byte.
"""

from __future__ import annotations

import json
import os
import sys

from securesystemslib.formats import encode_canonical


def canonical_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        envelope = json.load(f)
    if not isinstance(envelope, dict) or "signed" not in envelope:
        raise ValueError(f'{path}: no "signed" object')
    out = encode_canonical(envelope["signed"])
    assert out is not None
    return out.encode("utf-8")


def dump_all(directory: str) -> int:
    failed = 0
    written = 0
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.endswith(".root.json"):
                continue
            src = os.path.join(dirpath, name)
            dst = os.path.join(dirpath, name[: -len(".json")] + ".canonical")
            try:
                data = canonical_bytes(src)
            except Exception as e:
                print(f"{src}: {type(e).__name__}: {e}", file=sys.stderr)
                failed += 1
                continue
            with open(dst, "wb") as f:
                f.write(data)
            written += 1
    print(f"wrote {written} canonical files under {directory}", file=sys.stderr)
    return 1 if failed else 0


def jsonl(path: str) -> int:
    with open(path, "rb") as f:
        for line in f:
            value = json.loads(line)
            try:
                out = encode_canonical(value)
            except Exception as e:  # refused: say so in-line
                print(f"ERROR {type(e).__name__}")
                continue
            print(out.encode("utf-8").hex())
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--jsonl":
        return jsonl(argv[1])
    if len(argv) == 2 and argv[0] == "--dump-all":
        if not os.path.isdir(argv[1]):
            print(f"not a directory: {argv[1]}", file=sys.stderr)
            return 2
        return dump_all(argv[1])
    if len(argv) == 1 and not argv[0].startswith("--"):
        try:
            data = canonical_bytes(argv[0])
        except Exception as e:
            print(f"{argv[0]}: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
