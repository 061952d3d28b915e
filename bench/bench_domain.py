"""Synthetic population build speed, and generate speed per kind.

python bench/bench_domain.py [--assures 100000]
"""

from __future__ import annotations

import argparse
import time

from noemie_sim.sim.domain.generate import KINDS, generate
from noemie_sim.sim.domain.population import PopulationConfig, build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assures", type=int, default=100_000)
    args = parser.parse_args()
    config = PopulationConfig(
        assures=args.assures, practitioners=args.assures // 500, mutuelles=10, employers=20
    )
    start = time.perf_counter()
    population = build(42, config)
    built = time.perf_counter() - start
    start = time.perf_counter()
    digest = population.digest()
    hashed = time.perf_counter() - start
    people = len(population.beneficiaries())
    print(
        f"{args.assures} assurés ({people} bénéficiaires, {len(population.contracts)} contracts, "
        f"{len(population.practitioners)} PS): built in {built:.1f} s, digest in {hashed:.1f} s "
        f"({digest[:12]})"
    )
    for kind in KINDS:
        start = time.perf_counter()
        data = generate(kind, 1, 500)
        elapsed = time.perf_counter() - start
        print(f"generate {kind:<10} 500 invoices/lines: {elapsed:.2f} s, {len(data)} bytes")


if __name__ == "__main__":
    main()
