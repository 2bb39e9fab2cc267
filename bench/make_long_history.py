#!/usr/bin/env python3
"""Write a long TUF root history with python-tuf, for the audit benchmark.

Usage: make_long_history.py N OUTDIR

OUTDIR/1.root.json … OUTDIR/N.root.json: root threshold 2 of 3 throughout,
keys drawn from a pool of ed25519, ecdsa-p256 and rsa-3072 keys; each version
replaces one root key and is signed by every old and every new root key
(python-tuf's `sign(append=True)`), as a careful ceremony would.
"""

import os
import sys
from datetime import datetime, timedelta, timezone

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Root
from tuf.api.serialization.json import JSONSerializer

n = int(sys.argv[1])
out = sys.argv[2]
os.makedirs(out, exist_ok=True)

pool = []
for i in range(12):
    kind = i % 3
    if kind == 0:
        pool.append(CryptoSigner.generate_ed25519())
    elif kind == 1:
        pool.append(CryptoSigner.generate_ecdsa())
    else:
        pool.append(CryptoSigner.generate_rsa(size=3072))

online = CryptoSigner.generate_ed25519()
expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=365)

root = Root(expires=expires)
current = [0, 1, 2]
for i in current:
    root.add_key(pool[i].public_key, "root")
for role in ("timestamp", "snapshot", "targets"):
    root.add_key(online.public_key, role)
root.roles["root"].threshold = 2

serializer = JSONSerializer(compact=False)
md = Metadata(root)
for i in current:
    md.sign(pool[i], append=True)
md.to_file(os.path.join(out, "1.root.json"), serializer)

for version in range(2, n + 1):
    old = list(current)
    # Replace the key at position version % 3 with the next pool key not in use.
    slot = version % 3
    candidate = (max(current) + 1) % len(pool)
    while candidate in current:
        candidate = (candidate + 1) % len(pool)
    root.revoke_key(pool[current[slot]].public_key.keyid, "root")
    current[slot] = candidate
    root.add_key(pool[candidate].public_key, "root")
    root.version = version
    md = Metadata(root)
    for i in sorted(set(old) | set(current)):
        md.sign(pool[i], append=True)
    md.to_file(os.path.join(out, f"{version}.root.json"), serializer)
print(f"wrote {n} roots to {out}")
