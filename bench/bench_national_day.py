"""The national-day scenario at growing scales, as one network (its shards are not used:
bench_shards.py measures the sharded run): prestation lines per second of wall time.

python bench/bench_national_day.py [--scales 0.0005,0.002,0.005] [--transport memory|sftp]

Each scale prints lines per second of wall time, CPU milliseconds per line and the growth
of the process's peak memory per line (run scales in increasing order).

At scale 1 the scenario is the national volume of seeds/001 (about 2.8 million prestation
lines in a jour ouvré). Each line is billed by a PS, sealed in a lot, acknowledged, liquidated,
returned in NOEMIE and, for most, forwarded in a décompte and paid by a mutuelle.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from importlib import resources
from pathlib import Path

from noemie_sim.pki.authority import KeyPool
from noemie_sim.scenarios.runner import play
from noemie_sim.scenarios.schema import parse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", default="0.0005,0.002,0.005")
    parser.add_argument("--transport", choices=("memory", "sftp"), default="memory")
    args = parser.parse_args()
    source = (resources.files("noemie_sim.scenarios") / "library" / "national-day.toml").read_text(
        "utf-8"
    )
    with tempfile.TemporaryDirectory() as pool:
        keys = KeyPool(pool)
        for scale in (float(x) for x in args.scales.split(",")):
            scenario = parse(source, {"scale": scale, "transport": args.transport})
            with tempfile.TemporaryDirectory() as folder:
                rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                start, cpu = time.perf_counter(), time.process_time()
                result = asyncio.run(play(scenario, Path(folder), keys=keys))
                elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
                # the growth of the peak resident memory (KB on Linux): an upper bound of
                # what the run kept, 0 when an earlier, larger scale set the peak
                grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
                lines = sum(e.details["lines"] for e in result.journal.events("invoice-billed"))
                ps = len(scenario.config.practitioner_groups)
                print(
                    f"scale {scale:g} ({args.transport}): "
                    f"{sum(g.count for g in scenario.config.practitioner_groups[:ps])} PS, "
                    f"{result.counts['invoices']} invoices, {lines} lines, "
                    f"{result.counts['files']} files in {elapsed:.1f} s: "
                    f"{lines / elapsed:.0f} lines/s, national day would take "
                    f"{2_800_000 / (lines / elapsed) / 3600:.1f} h; "
                    f"{cpu / lines * 1000:.2f} ms CPU and {grown / lines:.1f} KB of peak memory "
                    "per line"
                )
                result.journal.close()


if __name__ == "__main__":
    main()
