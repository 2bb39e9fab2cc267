#!/usr/bin/env python3
"""Write TUF root histories, good and bad, made with python-tuf.

Usage:
    python make_histories.py OUTDIR

Each case is a folder OUTDIR/<case>/ holding 1.root.json, 2.root.json, ...
(pretty JSON, as python-tuf writes them with JSONSerializer(compact=False))
and case.json:

    {"expect": "ok" | "fail",
     "rule": null | ["<rule id>", ...],   # acceptable first rule(s) reported
     "failing_version": null | N,         # the N.root.json that must be refused
     "note": "...",
     "python_tuf": {"accepts": bool, "failing_version": N|null, "error": str|null}}

Rule ids are those of shared/src/rules.rs: version, old-threshold,
new-threshold, duplicate-keyid, structure, expired. A history is checked with
no trusted root given: 1.root.json must meet its own threshold.

OUTDIR/valid-rotations/keys/<keyid>.pem holds the PKCS#8 (unencrypted) private
key of every root key used in that history; keys/keys.json says which type,
size, in which versions each is a root key and which versions it signed.

Every history is also run through python-tuf's TrustedMetadataSet (plus the
final-root expiry check); the script exits 1 if python-tuf disagrees with what
this script expects of it. Keys are random on every run; structure is fixed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import Metadata, Role, Root, Signature
from tuf.api.serialization.json import JSONSerializer

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from verify_with_python_tuf import verify_history  # noqa: E402

PRETTY = JSONSerializer(compact=False)
NOW = datetime.now(timezone.utc).replace(microsecond=0)
FUTURE = NOW + timedelta(days=400)
PAST = datetime(2020, 1, 1, tzinfo=timezone.utc)
ONLINE_ROLES = ("timestamp", "snapshot", "targets")

problems: list[str] = []
summary: list[dict] = []


# --------------------------------------------------------------------------
# keys and roots


def gen(kind: str, bits: int = 3072) -> CryptoSigner:
    if kind == "ed25519":
        return CryptoSigner.generate_ed25519()
    if kind == "ecdsa":
        return CryptoSigner.generate_ecdsa()
    if kind == "rsa":
        return CryptoSigner.generate_rsa(size=bits)
    raise ValueError(kind)


def kid(s: CryptoSigner) -> str:
    return s.public_key.keyid


def spec_keyid(keytype: str, scheme: str, keyval: dict) -> str:
    """sha256 of the canonical {keytype, scheme, keyval}, as the spec says."""
    data = encode_canonical({"keytype": keytype, "scheme": scheme, "keyval": keyval})
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


ONLINE = gen("ed25519")  # timestamp/snapshot/targets key, never a root key


def build_root(
    version: int,
    root_signers: list[CryptoSigner],
    threshold: int = 2,
    expires: datetime = FUTURE,
) -> Metadata[Root]:
    keys = {kid(s): s.public_key for s in root_signers}
    keys[kid(ONLINE)] = ONLINE.public_key
    roles = {"root": Role([kid(s) for s in root_signers], threshold)}
    for r in ONLINE_ROLES:
        roles[r] = Role([kid(ONLINE)], 1)
    root = Root(
        version=version,
        expires=expires,
        keys=keys,
        roles=roles,
        consistent_snapshot=True,
    )
    return Metadata(root)


def sign(md: Metadata, signers: list[CryptoSigner]) -> Metadata:
    seen = set()
    for s in signers:
        if kid(s) in seen:
            continue
        seen.add(kid(s))
        md.sign(s, append=True)
    return md


def raw_resign(env: dict, signers: list[CryptoSigner]) -> dict:
    """Re-sign an envelope dict python-tuf would refuse to build or load."""
    payload = encode_canonical(env["signed"]).encode("utf-8")
    env["signatures"] = []
    for s in signers:
        env["signatures"].append({"keyid": kid(s), "sig": s.sign(payload).signature})
    return env


def pretty_bytes(env: dict) -> bytes:
    # exactly what JSONSerializer(compact=False) produces
    return json.dumps(env, indent=1, separators=(",", ": "), sort_keys=True).encode(
        "utf-8"
    )


def expires_str(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------
# an independent model of rule 2/3: thresholds counted by distinct public key


def public_identity(key: SSlibKey) -> bytes:
    pub = key.keyval["public"]
    if key.keytype == "ed25519":
        return b"ed25519:" + bytes.fromhex(pub)
    return load_pem_public_key(pub.encode()).public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    )


def distinct_key_threshold(role_root: Root, md: Metadata) -> bool:
    role = role_root.roles["root"]
    signed: set[bytes] = set()
    for keyid in role.keyids:
        sig = md.signatures.get(keyid)
        key = role_root.keys.get(keyid)
        if sig is None or key is None:
            continue
        try:
            key.verify_signature(sig, md.signed_bytes)
        except Exception:
            continue
        signed.add(public_identity(key))
    return role.threshold >= 1 and len(signed) >= role.threshold


def threshold_analysis(case_dir: str, n: int) -> dict | None:
    """Which thresholds fail for N.root.json: python-tuf's count and ours."""
    try:
        new = Metadata[Root].from_file(os.path.join(case_dir, f"{n}.root.json"))
        prev = (
            Metadata[Root].from_file(os.path.join(case_dir, f"{n - 1}.root.json"))
            if n > 1
            else None
        )
    except Exception:
        return None
    res = new.signed.get_root_verification_result(
        prev.signed if prev else None, new.signed_bytes, new.signatures
    )
    out = {
        "python_tuf": set(),
        "distinct_keys": set(),
        "python_counts": (
            f"old {len(res.first.signed)}/{res.first.threshold}, "
            f"new {len(res.second.signed)}/{res.second.threshold}"
        ),
    }
    if prev is not None:
        if not res.first.verified:
            out["python_tuf"].add("old-threshold")
        if not distinct_key_threshold(prev.signed, new):
            out["distinct_keys"].add("old-threshold")
    if not res.second.verified:
        out["python_tuf"].add("new-threshold")
    if not distinct_key_threshold(new.signed, new):
        out["distinct_keys"].add("new-threshold")
    return out


# --------------------------------------------------------------------------
# cases


class Case:
    def __init__(self, outdir: str, name: str):
        self.name = name
        self.dir = os.path.join(outdir, name)
        os.makedirs(self.dir, exist_ok=True)

    def put(self, n: int, md: Metadata) -> None:
        md.to_file(os.path.join(self.dir, f"{n}.root.json"), PRETTY)

    def put_raw(self, n: int, env: dict) -> None:
        with open(os.path.join(self.dir, f"{n}.root.json"), "wb") as f:
            f.write(pretty_bytes(env))

    def finish(
        self,
        expect: str,
        rule: list[str] | None,
        failing_version: int | None,
        note: str,
        python_accepts: bool,
        thresholds: tuple[set, set] | None = None,
    ) -> None:
        """Writes case.json and checks python-tuf against our expectations.

        python_accepts: what python-tuf must say (True where it is more lenient
        than our rules). thresholds: (python-tuf's failing thresholds, distinct-
        key failing thresholds) expected for `failing_version`, if checked.
        """
        res = verify_history(self.dir)
        py = {
            "accepts": res["ok"],
            "failing_version": res.get("failing_version"),
            "error": res.get("error"),
        }
        if res["ok"] != python_accepts:
            problems.append(
                f"{self.name}: expected python-tuf to "
                f"{'accept' if python_accepts else 'refuse'}, got {res}"
            )
        if not python_accepts and not res["ok"]:
            if res.get("failing_version") != failing_version:
                problems.append(
                    f"{self.name}: python-tuf refused at v{res.get('failing_version')},"
                    f" expected v{failing_version}: {res}"
                )
        analysis = None
        if thresholds is not None:
            analysis = threshold_analysis(self.dir, failing_version)
            if analysis is None:
                problems.append(f"{self.name}: v{failing_version} does not load")
            else:
                want_py, want_distinct = thresholds
                if analysis["python_tuf"] != want_py:
                    problems.append(
                        f"{self.name}: python-tuf threshold failures "
                        f"{sorted(analysis['python_tuf'])}, expected {sorted(want_py)}"
                    )
                if analysis["distinct_keys"] != want_distinct:
                    problems.append(
                        f"{self.name}: distinct-key threshold failures "
                        f"{sorted(analysis['distinct_keys'])}, expected {sorted(want_distinct)}"
                    )
        py_note = (
            f"python-tuf: accepts (final v{res['version']})"
            if res["ok"]
            else f"python-tuf: refuses ({res['error']})"
        )
        if analysis is not None:
            py_note += f"; python-tuf counts at v{failing_version}: {analysis['python_counts']}"
        case = {
            "expect": expect,
            "rule": rule,
            "failing_version": failing_version,
            "note": f"{note} [{py_note}]",
            "python_tuf": py,
        }
        with open(os.path.join(self.dir, "case.json"), "w") as f:
            json.dump(case, f, indent=1, sort_keys=True)
            f.write("\n")
        summary.append(
            {
                "case": self.name,
                "expect": expect,
                "rule": rule,
                "failing_version": failing_version,
                "python_tuf": py_note,
            }
        )


def three_keys() -> list[CryptoSigner]:
    return [gen("ed25519"), gen("ecdsa"), gen("ed25519")]


def v1_of(keys: list[CryptoSigner], threshold: int = 2, expires=FUTURE) -> Metadata:
    return sign(build_root(1, keys, threshold, expires), keys)


def valid_rotations(out: str) -> None:
    c = Case(out, "valid-rotations")
    k = {
        1: gen("ed25519"),
        2: gen("ecdsa"),
        3: gen("rsa", 3072),
        4: gen("ecdsa"),
        5: gen("rsa", 2048),
        6: gen("ed25519"),
        7: gen("ecdsa"),
        8: gen("ed25519"),
        9: gen("rsa", 4096),
    }
    plan = {
        # version: (root keys, signing keys)
        1: ([1, 2, 3], [1, 2, 3]),  # self-signed by all
        2: ([2, 3, 4], [1, 2, 3, 4]),  # replace K1; all old + all new
        3: ([5, 6, 7], [2, 3, 5, 6]),  # replace all; exactly 2 old + exactly 2 new
        4: ([5, 6, 8], [5, 7, 8]),  # replace K7; K5 counts for both: 2 old, 2 new
        5: ([6, 8, 9], [5, 6, 8, 9]),  # replace K5; all old + all new
    }
    for v, (root_keys, signers) in plan.items():
        md = build_root(v, [k[i] for i in root_keys], 2)
        c.put(v, sign(md, [k[i] for i in signers]))

    keydir = os.path.join(c.dir, "keys")
    os.makedirs(keydir, exist_ok=True)
    info = {}
    for i, s in k.items():
        pk = s._private_key
        if isinstance(pk, RSAPrivateKey):
            typ, bits = "rsa", pk.key_size
        elif isinstance(pk, EllipticCurvePrivateKey):
            typ, bits = "ecdsa", pk.curve.key_size
        elif isinstance(pk, Ed25519PrivateKey):
            typ, bits = "ed25519", 256
        with open(os.path.join(keydir, f"{kid(s)}.pem"), "wb") as f:
            f.write(s.private_bytes)
        info[kid(s)] = {
            "name": f"K{i}",
            "keytype": s.public_key.keytype,
            "scheme": s.public_key.scheme,
            "type": typ,
            "bits": bits,
            "root_in_versions": [v for v, (rk, _) in plan.items() if i in rk],
            "signed_versions": [v for v, (_, sg) in plan.items() if i in sg],
        }
    with open(os.path.join(keydir, "keys.json"), "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)
        f.write("\n")

    c.finish(
        "ok",
        None,
        None,
        "v1 K1 ed25519, K2 ecdsa, K3 rsa-3072, threshold 2 of 3 throughout. "
        "v2 replaces K1 by K4 ecdsa (signed by all old and new); v3 replaces all "
        "three by K5 rsa-2048, K6 ed25519, K7 ecdsa (signed by exactly 2 old: K2,K3 "
        "and exactly 2 new: K5,K6); v4 replaces K7 by K8 ed25519 (signed by K5,K7,K8: "
        "K5 counts for both thresholds, 2 old and 2 new); v5 replaces K5 by K9 "
        "rsa-4096 (all old and new). Final root expires in 400 days. Private keys "
        "(PKCS#8 PEM) in keys/, described in keys/keys.json; the final root's keys "
        "are K6, K8, K9.",
        python_accepts=True,
    )


def only_new_keys(out: str) -> None:
    c = Case(out, "only-new-keys")
    old, new = three_keys(), [gen("ecdsa"), gen("ed25519"), gen("ed25519")]
    c.put(1, v1_of(old))
    c.put(2, sign(build_root(2, new), new))
    c.finish(
        "fail",
        ["old-threshold"],
        2,
        "v2 replaces all three root keys (threshold 2) and is signed by the three "
        "new keys only: 0 of 2 from v1's keys, 3 of 2 from its own.",
        python_accepts=False,
        thresholds=({"old-threshold"}, {"old-threshold"}),
    )


def only_old_keys(out: str) -> None:
    c = Case(out, "only-old-keys")
    old, new = three_keys(), [gen("ecdsa"), gen("ed25519"), gen("ed25519")]
    c.put(1, v1_of(old))
    c.put(2, sign(build_root(2, new), old))
    c.finish(
        "fail",
        ["new-threshold"],
        2,
        "v2 replaces all three root keys (threshold 2) and is signed by the three "
        "old keys only: 3 of 2 from v1's keys, 0 of 2 from its own.",
        python_accepts=False,
        thresholds=({"new-threshold"}, {"new-threshold"}),
    )


def one_old_one_new(out: str) -> None:
    c = Case(out, "one-old-one-new")
    old, new = three_keys(), [gen("ecdsa"), gen("ed25519"), gen("ed25519")]
    c.put(1, v1_of(old))
    c.put(2, sign(build_root(2, new), [old[0], new[0]]))
    both = {"old-threshold", "new-threshold"}
    c.finish(
        "fail",
        ["old-threshold", "new-threshold"],
        2,
        "v2 replaces all three root keys (threshold 2) and is signed by one old "
        "and one new key: 1 of 2 from each; both thresholds fail.",
        python_accepts=False,
        thresholds=(both, both),
    )


def version_skip(out: str) -> None:
    c = Case(out, "version-skip")
    old = three_keys()
    new = [old[0], old[1], gen("ecdsa")]
    c.put(1, v1_of(old))
    c.put(2, sign(build_root(3, new), old + [new[2]]))
    c.finish(
        "fail",
        ["version"],
        2,
        "2.root.json holds version 3 (one key rotated), signed by all old and all "
        "new keys: both thresholds are met, only the version is wrong.",
        python_accepts=False,
    )


def expired_final(out: str) -> None:
    c = Case(out, "expired-final")
    old = three_keys()
    new = [old[0], old[1], gen("ecdsa")]
    c.put(1, v1_of(old))
    c.put(2, sign(build_root(2, new, expires=PAST), old + [new[2]]))
    c.finish(
        "fail",
        ["expired"],
        2,
        f"valid rotation (one key replaced, signed by all old and new keys); v1 "
        f"expires {expires_str(FUTURE)}, the final root v2 expired "
        f"{expires_str(PAST)}.",
        python_accepts=False,
    )


def expired_intermediate(out: str) -> None:
    c = Case(out, "expired-intermediate")
    old = three_keys()
    new = [old[0], old[1], gen("ecdsa")]
    c.put(1, v1_of(old, expires=PAST))
    c.put(2, sign(build_root(2, new), old + [new[2]]))
    c.finish(
        "ok",
        None,
        None,
        f"v1 expired {expires_str(PAST)}; v2 (one key replaced, signed by all old "
        f"and new keys) is valid and current: only the final root's expiry counts.",
        python_accepts=True,
    )


def field_changed(out: str) -> None:
    c = Case(out, "field-changed")
    old = three_keys()
    new = [old[0], old[1], gen("ecdsa")]
    c.put(1, v1_of(old))
    md = sign(build_root(2, new), old + [new[2]])
    env = md.to_dict()
    changed = expires_str(FUTURE + timedelta(days=1))
    env["signed"]["expires"] = changed
    c.put_raw(2, env)
    both = {"old-threshold", "new-threshold"}
    c.finish(
        "fail",
        ["old-threshold", "new-threshold"],
        2,
        f"v2 (one key replaced) was signed by all old and new keys, then its "
        f"expires was changed to {changed} (one day later) in the file: every "
        f"signature is invalid, so both thresholds fail.",
        python_accepts=False,
        thresholds=(both, both),
    )


def repeated_signature(out: str) -> None:
    c = Case(out, "repeated-signature")
    old = three_keys()
    new = [old[0], old[1], gen("ecdsa")]
    c.put(1, v1_of(old))
    md = sign(build_root(2, new), old + [new[2]])
    env = md.to_dict()
    env["signatures"].append(copy.deepcopy(env["signatures"][0]))
    c.put_raw(2, env)
    c.finish(
        "fail",
        ["duplicate-keyid"],
        2,
        f"v2 (one key replaced) is correctly signed by all old and new keys, and "
        f"the signature object of key {env['signatures'][0]['keyid']} appears "
        f"twice in signatures (both thresholds would be met without it).",
        python_accepts=False,
    )


def _two_keyids(out: str, name: str, forged: bool) -> tuple[Case, str, str, str]:
    """v1 as usual; v2 lists one ecdsa key X under two key ids (plus an
    ed25519 key Y) with root threshold 2, and X signs under both ids."""
    c = Case(out, name)
    old = three_keys()
    c.put(1, v1_of(old))

    x, y = gen("ecdsa"), gen("ed25519")
    keytype, scheme = x.public_key.keytype, x.public_key.scheme
    x1id = kid(x)
    assert x1id == spec_keyid(keytype, scheme, x.public_key.keyval)
    pem = x.public_key.keyval["public"]
    assert pem.endswith("\n"), "securesystemslib PEM ends with a newline"
    if forged:
        # The identical key object under an id that is not its hash.
        keyval2 = dict(x.public_key.keyval)
        x2id = hashlib.sha256(b"another id for " + x1id.encode()).hexdigest()
    else:
        # The same public key, PEM without its final newline: a different key
        # object, so a different, correctly computed key id.
        keyval2 = {"public": pem.rstrip("\n")}
        x2id = spec_keyid(keytype, scheme, keyval2)
    assert x2id != x1id
    x2 = SSlibKey(x2id, keytype, scheme, keyval2)

    md = build_root(2, [x, y], 2)
    md.signed.keys[x2id] = x2
    md.signed.roles["root"].keyids = [x1id, x2id, kid(y)]
    sign(md, old + [x])  # old: 3 of 2; own: x under x1id
    sig = x.sign(md.signed_bytes)  # x again, under the second id
    md.signatures[x2id] = Signature(x2id, sig.signature)
    c.put(2, md)
    return c, x1id, x2id, kid(y)


_TWO_IDS_COMMON = (
    "v2 is signed by all three v1 keys (old threshold met, 3 of 2) and by that "
    "one ecdsa key under both ids, not by the ed25519 key. python-tuf counts key "
    "ids, 2 of 2, and ACCEPTS the history; counted by distinct public key it is 1 "
    "of 2, so v2's own threshold (new-threshold) is the inflated one and fails; "
    "the old threshold is met. 2 distinct keys >= threshold 2 and no id is "
    "repeated."
)


def two_keyids_one_key(out: str) -> None:
    c, x1id, x2id, yid = _two_keyids(out, "two-keyids-one-key", forged=False)
    c.finish(
        "fail",
        ["new-threshold"],
        2,
        f"v2 root role lists keyids [{x1id[:16]}..., {x2id[:16]}..., {yid[:16]}...] "
        f"with threshold 2; the first two are the SAME ecdsa public key, written "
        f"with and without the PEM's final newline, and each id is the correct "
        f"sha256 of the canonical {{keytype, scheme, keyval}} of its own key object "
        f"as written (so no key id mismatch: a verifier that reports structure here "
        f"is hashing a normalised key, not the object in the file). "
        + _TWO_IDS_COMMON,
        python_accepts=True,
        thresholds=(set(), {"new-threshold"}),
    )


def two_keyids_one_key_forged_id(out: str) -> None:
    c, x1id, x2id, yid = _two_keyids(
        out, "two-keyids-one-key-forged-id", forged=True
    )
    c.finish(
        "fail",
        ["structure", "new-threshold"],
        2,
        f"v2 root role lists keyids [{x1id[:16]}..., {x2id[:16]}..., {yid[:16]}...] "
        f"with threshold 2; the first two hold the IDENTICAL ecdsa key object, and "
        f"the second id is not the key's hash (sha256 of another string). python-tuf "
        f"never recomputes key ids. A verifier reports structure (id does not match "
        f"its key) and/or new-threshold. "
        + _TWO_IDS_COMMON,
        python_accepts=True,
        thresholds=(set(), {"new-threshold"}),
    )


def self_signed_v1_bad(out: str) -> None:
    c = Case(out, "self-signed-v1-bad")
    keys = three_keys()
    c.put(1, sign(build_root(1, keys, 2), keys[:1]))
    c.finish(
        "fail",
        ["new-threshold"],
        1,
        "a lone 1.root.json with root threshold 2 signed by 1 of its 3 keys; with "
        "no trusted root given, v1 must meet its own threshold.",
        python_accepts=False,
        thresholds=({"new-threshold"}, {"new-threshold"}),
    )


def threshold_zero(out: str) -> None:
    c = Case(out, "threshold-zero")
    old = three_keys()
    new = [old[0], old[1], gen("ecdsa")]
    c.put(1, v1_of(old))
    env = build_root(2, new).to_dict()
    env["signed"]["roles"]["root"]["threshold"] = 0
    c.put_raw(2, raw_resign(env, old + [new[2]]))
    c.finish(
        "fail",
        ["structure"],
        2,
        "v2 (one key replaced) has roles.root.threshold 0 and is signed by all old "
        "and all new keys (written around python-tuf's own validation, signatures "
        "over the canonical bytes).",
        python_accepts=False,
    )


def missing_role(out: str) -> None:
    c = Case(out, "missing-role")
    old = three_keys()
    new = [old[0], old[1], gen("ecdsa")]
    c.put(1, v1_of(old))
    env = build_root(2, new).to_dict()
    del env["signed"]["roles"]["timestamp"]
    c.put_raw(2, raw_resign(env, old + [new[2]]))
    c.finish(
        "fail",
        ["structure"],
        2,
        "v2 (one key replaced) has no roles.timestamp and is signed by all old and "
        "all new keys (written around python-tuf's own validation).",
        python_accepts=False,
    )


CASES = [
    valid_rotations,
    only_new_keys,
    only_old_keys,
    one_old_one_new,
    version_skip,
    expired_final,
    expired_intermediate,
    field_changed,
    repeated_signature,
    two_keyids_one_key,
    two_keyids_one_key_forged_id,
    self_signed_v1_bad,
    threshold_zero,
    missing_role,
]


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = argv[0]
    os.makedirs(out, exist_ok=True)
    start = time.monotonic()
    for make in CASES:
        try:
            make(out)
        except Exception as e:  # report, keep going, fail at the end
            problems.append(f"{make.__name__}: {type(e).__name__}: {e}")
    for s in summary:
        print(json.dumps(s))
    print(
        f"{len(summary)} cases written to {out} in {time.monotonic() - start:.1f}s",
        file=sys.stderr,
    )
    if problems:
        for p in problems:
            print(f"PROBLEM: {p}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
