"""The national day sharded by caisse: lines per second with 1 and N workers back to back, and
over a local Ray cluster of two nodes; the projection to the national day.

python bench/bench_shards.py [--scale 0.01] [--runs 3] [--workers 1,2] [--ray]

Each round runs national-day at ``--scale`` once per worker count, one after the other
(``1`` is every shard in this process, ``N`` a pool of N processes), so that the figures
compared come from the same minutes of the machine; ``--ray`` adds a run as Ray tasks on a
local cluster of a head and a worker node (one CPU each). The PKI (made once, then taken from
the cache) is not counted. Printed: min/median/max over the rounds of lines/s, the CPU
milliseconds of the shards per line, the speed-up of N workers over 1 and its efficiency
(speed-up / N), the largest resident memory of a process that ran shards, and the national
day projected from the figures per shard.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from noemie_sim.pki.authority import KeyPool
from noemie_sim.scenarios import shards
from noemie_sim.scenarios.catalogue import find_scenario
from noemie_sim.sim.clock import stopwatch

NATIONAL_LINES = 2_800_000


def _engine(workers: int) -> shards.Engine:
    return shards.InlineEngine() if workers == 1 else shards.ProcessEngine(workers)


def _once(engine: shards.Engine, scale: float, keys: KeyPool, cache: Path) -> shards.ShardedRun:
    scenario = find_scenario("national-day", {"scale": scale})
    with tempfile.TemporaryDirectory(prefix="bench-shards-") as folder:
        run = shards.run_sharded(scenario, Path(folder), engine, keys=keys, pki_cache=cache)
    if not run.complete:
        raise SystemExit(f"the run did not complete: {run.failures}")
    return run


def _spread(values: list[float]) -> str:
    return f"{min(values):,.0f} / {statistics.median(values):,.0f} / {max(values):,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--ray", action="store_true")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    cache = Path.home() / ".cache" / "noemie-sim"
    keys, pki_cache = KeyPool(cache / "keys"), cache / "pki"
    _once(_engine(1), args.scale, keys, pki_cache)  # the PKI made and cached, not measured
    rates: dict[str, list[float]] = {}
    cpu_per_line: dict[str, list[float]] = {}
    peaks: dict[str, int] = {}
    last: shards.ShardedRun | None = None
    for n in range(args.runs):
        # engines made when their turn comes: an idle Ray cluster would load the others' runs
        engines: list[tuple[str, Callable[[], shards.Engine]]] = [
            (f"{w} worker(s)", functools.partial(_engine, w)) for w in counts
        ]
        if args.ray:
            engines.append(("ray, 2 nodes", _ray_engine))
        for label, make in engines:
            engine = make()
            timer = stopwatch()
            run = _once(engine, args.scale, keys, pki_cache)
            engine.close()
            cpu = sum(r.cpu_seconds for r in run.results)
            rates.setdefault(label, []).append(run.lines / run.wall_seconds)
            cpu_per_line.setdefault(label, []).append(cpu / run.lines * 1000)  # ms
            peaks[label] = max(peaks.get(label, 0), max(r.peak_rss_kb for r in run.results))
            print(f"round {n + 1}, {label}: {run.lines:,} lines in {run.wall_seconds:.1f} s "
                  f"({timer():.1f} s with the PKI from the cache), {cpu:.1f} CPU s in the shards",
                  flush=True)  # fmt: skip
            last = run
    assert last is not None
    base = statistics.median(rates[f"{counts[0]} worker(s)"])
    print(f"\nnational-day --scale {args.scale:g}: {last.lines:,} lines, "
          f"{len(last.results)} shards (min / median / max of {args.runs} rounds)")  # fmt: skip
    for label, values in rates.items():
        speedup = statistics.median(values) / base
        workers = int(label.split()[0]) if label[0].isdigit() else 2
        ms = cpu_per_line[label]
        print(f"  {label:14} {_spread(values)} lines/s, {min(ms):.2f} / "
              f"{statistics.median(ms):.2f} / {max(ms):.2f} CPU ms per line; "
              f"x{speedup:.2f} of {counts[0]} worker(s), efficiency {speedup / workers:.0%}; "
              f"largest process {peaks[label] / 1024:.0f} MB")  # fmt: skip
    _projection(last)


def _projection(run: shards.ShardedRun) -> None:
    """The national day from this run's shards: CPU = shards x fixed + lines x per line, the
    two fitted over the shards (least squares of each shard's CPU seconds on its lines)."""
    xs = [float(r.lines) for r in run.results]
    ys = [r.cpu_seconds for r in run.results]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    per_line = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    fixed = mean_y - per_line * mean_x
    shard_count = len(run.results)
    cpu = shard_count * fixed + NATIONAL_LINES * per_line
    biggest = fixed + NATIONAL_LINES / shard_count * per_line
    print(f"\nper shard: {fixed:.2f} CPU s whatever its size, then {per_line * 1000:.2f} CPU ms "
          f"per line (least squares over {shard_count} shards)")  # fmt: skip
    print(f"national day ({NATIONAL_LINES:,} lines, {shard_count} shards): {cpu / 3600:.2f} "
          f"CPU hours; on 2 cores {cpu / 2 / 60:.0f} min; on 16 cores {cpu / 16 / 60:.0f} min; "
          f"on 101+ cores, the largest shard: {biggest / 60:.1f} min")  # fmt: skip


def _ray_engine() -> shards.Engine:
    ray: Any = importlib.import_module("ray")  # Ray's types are partial: used untyped here
    cluster = importlib.import_module("ray.cluster_utils").Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1}
    )
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    engine = shards.RayEngine(cluster.address)

    def close() -> None:
        ray.shutdown()
        cluster.shutdown()

    engine.close = close  # type: ignore[method-assign]
    return engine


if __name__ == "__main__":
    main()
