"""PKI creation time and seal/open rates.

    python bench/bench_pki.py [--parties 1000] [--size 102400] [--seconds 3]

Creation: root, 4 sector CAs, N parties (RSA-2048 keys generated on every core), all files
written. Seal: sign (RSA-PSS) + AES-256-GCM envelope (RSA-OAEP). Open: decrypt, verify, chain
and CRL validation at simulated time, sender binding skipped (raw content).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncssh
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding as asym
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from noemie_sim.pki.authority import KeyPool, Pki
from noemie_sim.pki.cms import open_sealed, seal
from noemie_sim.pki.validation import TrustStore

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def rate(action: object, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        action()  # type: ignore[operator]
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parties", type=int, default=1000)
    parser.add_argument("--size", type=int, default=100 * 1024)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    parties = [("ps", f"{i:09d}") for i in range(args.parties - 2)]
    parties += [("cpam", "017510000"), ("oc", "75942367")]
    with tempfile.TemporaryDirectory() as tmp:
        for label, pool in (
            ("no key pool", None),
            ("key pool, cold (fills it)", KeyPool(Path(tmp) / "pool")),
            ("key pool, warm", KeyPool(Path(tmp) / "pool")),
        ):
            start = time.perf_counter()
            pki = Pki.create(Path(tmp) / f"pki-{time.perf_counter_ns()}", T0, pool=pool)
            pki.issue_many(parties, T0, pool=pool)
            created = time.perf_counter() - start
            print(
                f"PKI of {args.parties} parties, {label}: {created:.1f} s on "
                f"{os.cpu_count()} cores ({args.parties / created:.0f} parties/s)"
            )
        trust = TrustStore.load(pki)
        sender, recipient = pki.identity(parties[0][1]), pki.identity("017510000")
        content = random.Random(1).randbytes(args.size)
        at = T0 + timedelta(days=1)
        sealed = seal(content, sender, recipient.cert, trust, at)
        assert open_sealed(sealed, recipient, trust, at).content == content
        raw_seal, raw_open = raw_primitives(content, sender.key, recipient.key)
        print(f"{args.size // 1024} KiB files/s, min/median/max of {args.runs} runs of "
              f"{args.seconds} s; raw: the cryptographic primitives alone, same run")  # fmt: skip
        for label, ours, raw in (
            ("seal", lambda: seal(content, sender, recipient.cert, trust, at), raw_seal),
            ("open", lambda: open_sealed(sealed, recipient, trust, at), raw_open),
        ):
            mine = sorted(rate(ours, args.seconds) for _ in range(args.runs))
            base = statistics.median(rate(raw, args.seconds) for _ in range(args.runs))
            median = statistics.median(mine)
            print(
                f"{label}: {mine[0]:.0f} / {median:.0f} / {mine[-1]:.0f}   raw {base:.0f}"
                f"   x {median / base:.2f}"
            )
            print(
                json.dumps({"bench": "pki", "figure": label, "unit": "files/s", "min": mine[0],
                            "median": median, "max": mine[-1], "raw": base,
                            "ratio": median / base, "bytes": args.size}),
                file=sys.stderr,
            )  # fmt: skip
        key_imports(pki.folder / "parties", args.runs)


def key_imports(parties: Path, runs: int) -> None:
    """The SFTP client's key import (asyncssh): with RSA validation, as a key from an unknown
    source needs, and without it, as the network does for keys its PKI made and validated
    (``SftpMailboxClient(key_checked=True)``, once per party per run)."""
    pem = next(parties.rglob("key.pem")).read_bytes()

    def timed(check: bool) -> float:
        start = time.perf_counter()
        for _ in range(20):
            asyncssh.import_private_key(pem, unsafe_skip_rsa_key_validation=not check)
        return (time.perf_counter() - start) / 20 * 1000

    validated = sorted(timed(True) for _ in range(runs))
    skipped = sorted(timed(False) for _ in range(runs))
    print(
        f"SFTP client key import, ms per key (min/median/max): validated {validated[0]:.2f} / "
        f"{statistics.median(validated):.2f} / {validated[-1]:.2f}, as the network does "
        f"(validated once when the PKI was made) {skipped[0]:.3f} / "
        f"{statistics.median(skipped):.3f} / {skipped[-1]:.3f}"
        f"   x {statistics.median(skipped) / statistics.median(validated):.4f}"
    )
    print(json.dumps({"bench": "pki", "figure": "key import", "unit": "ms",
                      "validated": validated, "as_run": skipped}), file=sys.stderr)  # fmt: skip


def raw_primitives(
    content: bytes, signer: rsa.RSAPrivateKey, recipient: rsa.RSAPrivateKey
) -> tuple[Callable[[], object], Callable[[], object]]:
    """What a seal and an open cannot cost less than: RSA-PSS-SHA256 sign, AES-256-GCM
    encrypt and RSA-OAEP-SHA256 key transport; and their inverses with the verification."""
    pss = asym.PSS(asym.MGF1(hashes.SHA256()), asym.PSS.DIGEST_LENGTH)
    oaep = asym.OAEP(asym.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    cek, nonce = AESGCM.generate_key(256), os.urandom(12)
    signature = signer.sign(content, pss, hashes.SHA256())
    ciphertext = AESGCM(cek).encrypt(nonce, content, None)
    wrapped = recipient.public_key().encrypt(cek, oaep)

    def sealing() -> object:
        signer.sign(content, pss, hashes.SHA256())
        key = AESGCM.generate_key(256)
        recipient.public_key().encrypt(key, oaep)
        return AESGCM(key).encrypt(os.urandom(12), content, None)

    def opening() -> object:
        key = recipient.decrypt(wrapped, oaep)
        plain = AESGCM(key).decrypt(nonce, ciphertext, None)
        signer.public_key().verify(signature, plain, pss, hashes.SHA256())
        return plain

    return sealing, opening


if __name__ == "__main__":
    main()
