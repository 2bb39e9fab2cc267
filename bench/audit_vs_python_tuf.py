#!/usr/bin/env python3
"""Time python-tuf's TrustedMetadataSet over DIR/1..N.root.json (root only).

Usage: audit_vs_python_tuf.py DIR   -> prints seconds as a float
"""

import os
import sys
import time

from tuf.api.metadata import Root  # noqa: F401  (import cost outside the timing)
from tuf.ngclient._internal.trusted_metadata_set import TrustedMetadataSet
from tuf.ngclient.config import EnvelopeType

d = sys.argv[1]
files = []
n = 1
while os.path.exists(os.path.join(d, f"{n}.root.json")):
    with open(os.path.join(d, f"{n}.root.json"), "rb") as f:
        files.append(f.read())
    n += 1

start = time.perf_counter()
ts = TrustedMetadataSet(files[0], EnvelopeType.METADATA)
for data in files[1:]:
    ts.update_root(data)
assert not ts.root.is_expired()
elapsed = time.perf_counter() - start
assert ts.root.version == len(files)
print(f"{elapsed:.4f}")
