#!/usr/bin/env python3
"""Refresh python-tuf's Updater against a TUF repository served over HTTP.

Usage:
    python updater_refresh.py METADATA_URL BOOTSTRAP_ROOT [--expect-version N]

Bootstraps tuf.ngclient.Updater with BOOTSTRAP_ROOT (a 1.root.json), points
it at METADATA_URL (ending in /), and calls refresh(). The repository holds
only root files, so refresh() walks N.root.json upward (verifying each step
with python-tuf's own rules) and then fails to find timestamp.json: that
DownloadHTTPError is expected and caught (reference/tuf-peers.md section 4).
python-tuf checks the final root's expiry only inside update_timestamp, which
is never reached, so it is checked here explicitly (spec 5.3.10).

Prints one JSON line {"ok": bool, "version": N, "error": str|null} and exits
0 when the trusted root is not expired and (with --expect-version) has that
version, 1 otherwise, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile

from tuf.api.exceptions import DownloadHTTPError
from tuf.ngclient import Updater


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("metadata_url")
    ap.add_argument("bootstrap")
    ap.add_argument("--expect-version", type=int)
    args = ap.parse_args()

    with open(args.bootstrap, "rb") as f:
        bootstrap = f.read()
    url = args.metadata_url if args.metadata_url.endswith("/") else args.metadata_url + "/"
    with tempfile.TemporaryDirectory() as tmp:
        error = None
        try:
            updater = Updater(
                metadata_dir=tmp,
                metadata_base_url=url,
                bootstrap=bootstrap,
            )
            try:
                updater.refresh()
            except DownloadHTTPError as e:
                # Only root files are served: timestamp.json is missing.
                if "timestamp" not in str(e) and getattr(e, "status_code", None) != 404:
                    raise
            root = updater._trusted_set.root
        except Exception as e:  # noqa: BLE001 - report any refusal as data
            print(json.dumps({"ok": False, "version": None, "error": f"{type(e).__name__}: {e}"}))
            return 1
        version = root.version
        if root.is_expired():
            error = f"the final root v{version} has expired"
        elif args.expect_version is not None and version != args.expect_version:
            error = f"python-tuf trusts v{version}, expected v{args.expect_version}"
        print(json.dumps({"ok": error is None, "version": version, "error": error}))
        return 0 if error is None else 1


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    sys.exit(main())
