"""A whole network run: wall time, steps, files, lots and invoices per second, per transport.

python bench/bench_network.py [--transport sftp|memory|both] [--jours 10] [--ps 20]
                              [--assures 400] [--visits 4-12]

The PKI's RSA keys come from a pool kept in a temporary folder per run of this script (their
generation is a PKI's cost, measured by bench_pki.py, not here).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from noemie_sim.actors.network import NetworkConfig, run_network
from noemie_sim.actors.practitioner import PractitionerBehaviour
from noemie_sim.pki.authority import KeyPool
from noemie_sim.sim.domain.population import PopulationConfig


async def one(config: NetworkConfig, keys: KeyPool, profile: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        profiler = cProfile.Profile() if profile else None
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        result = await run_network(config, Path(folder), keys=keys)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - start
        counts = result.counts
        events = result.journal.count()
        print(
            f"{config.transport:<6} {config.jours_ouvres} jours ouvrés: {elapsed:.1f} s wall, "
            f"{counts['files']} files ({counts['files'] / elapsed:.0f}/s), {counts['lots']} lots, "
            f"{counts['invoices']} invoices ({counts['invoices'] / elapsed:.0f}/s), "
            f"{counts['decomptes']} décomptes, {counts['ij']} IJ, {events} events, "
            f"digest {result.digest[:12]}"
        )
        result.journal.close()
        if profiler:
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(25)
            stats.sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transport", choices=("sftp", "memory", "both"), default="both")
    parser.add_argument("--jours", type=int, default=10)
    parser.add_argument("--ps", type=int, default=20)
    parser.add_argument("--assures", type=int, default=400)
    parser.add_argument("--visits", default="4-12", help="visits per PS and day, LOW-HIGH")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    low, high = (int(x) for x in args.visits.split("-"))
    transports = ("memory", "sftp") if args.transport == "both" else (args.transport,)
    with tempfile.TemporaryDirectory() as pool:
        keys = KeyPool(pool)
        for transport in transports:
            config = NetworkConfig(
                seed=11,
                jours_ouvres=args.jours,
                transport=transport,
                population=PopulationConfig(
                    assures=args.assures, caisses=2, practitioners=args.ps, mutuelles=3,
                    employers=2,
                ),
                practitioner=PractitionerBehaviour(visits_per_day=(low, high)),
            )  # fmt: skip
            asyncio.run(one(config, keys, args.profile))


if __name__ == "__main__":
    main()
