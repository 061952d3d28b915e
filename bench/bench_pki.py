"""PKI creation time and seal/open rates.

    python bench/bench_pki.py [--parties 1000] [--size 102400] [--seconds 3]

Creation: root, 4 sector CAs, N parties (RSA-2048 keys generated on every core), all files
written. Seal: sign (RSA-PSS) + AES-256-GCM envelope (RSA-OAEP). Open: decrypt, verify, chain
and CRL validation at simulated time, sender binding skipped (raw content).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
    parser.add_argument("--seconds", type=float, default=3.0)
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
        sealing = rate(lambda: seal(content, sender, recipient.cert, trust, at), args.seconds)
        opening = rate(lambda: open_sealed(sealed, recipient, trust, at), args.seconds)
        print(f"seal {args.size // 1024} KiB: {sealing:.0f}/s; open: {opening:.0f}/s")


if __name__ == "__main__":
    main()
