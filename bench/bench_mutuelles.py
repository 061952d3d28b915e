"""The cost of many mutuelles: the bundled care-mix scenario in memory with its 4 mutuelles
and with N (500 by default, seed 001's count of organismes complémentaires), the same
population and traffic otherwise. Prints wall time, files exchanged and the time per file
of each, side by side, min/median/max of 3 runs, and a JSON line per figure on stderr.

python bench/bench_mutuelles.py [--mutuelles 500] [--runs 3]

More mutuelles spread the same décomptes over more files (a caisse sends each mutuelle its
own file a day): the time per file is the comparison that says whether a mutuelle costs
anything by itself. The PKI's keys come from a pool made before the first run.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from noemie_sim.pki.authority import KeyPool
from noemie_sim.scenarios.catalogue import find_scenario
from noemie_sim.scenarios.runner import play


def one(mutuelles: int, keys: KeyPool) -> tuple[float, int]:
    scenario = find_scenario("care-mix")
    config = dataclasses.replace(
        scenario.config,
        transport="memory",
        population=dataclasses.replace(scenario.config.population, mutuelles=mutuelles),
    )
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = asyncio.run(
            play(dataclasses.replace(scenario, config=config), Path(folder) / "run", keys=keys)
        )
        elapsed = time.perf_counter() - start
        files = result.counts["files"]
        result.journal.close()
    return elapsed, files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutuelles", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as pool:
        keys = KeyPool(pool)
        one(args.mutuelles, keys)  # fills the key pool: key generation is not measured
        figures: dict[int, list[tuple[float, int]]] = {4: [], args.mutuelles: []}
        for _ in range(args.runs):
            for count in figures:
                figures[count].append(one(count, keys))
    per_file = {}
    for count, runs in figures.items():
        walls = sorted(w for w, _f in runs)
        files = runs[0][1]
        per_file[count] = statistics.median(w / f * 1000 for w, f in runs)
        print(
            f"{count:>4} mutuelles: {walls[0]:.1f} / {statistics.median(walls):.1f} / "
            f"{walls[-1]:.1f} s wall, {files} files, {per_file[count]:.2f} ms per file (median)"
        )
        print(json.dumps({"figure": f"care-mix {count} mutuelles", "wall_s": walls,
                          "files": files, "ms_per_file": per_file[count]}),
              file=sys.stderr)  # fmt: skip
    ratio = per_file[args.mutuelles] / per_file[4]
    print(f"time per file, {args.mutuelles} vs 4 mutuelles: x{ratio:.2f}")


if __name__ == "__main__":
    main()
