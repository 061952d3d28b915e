"""A fault campaign's cost: the same campaign on 1 and on N workers back to back, and next to
the same runs played with no fault and no judging (plain ``noemie-sim run``, one after the
other in one process), min/median/max of several rounds, ratios round by round.

python bench/bench_campaign.py [--scenario nominal-week] [--scale 0.2] [--runs 20]
                               [--workers 2] [--rounds 3]

Each figure is a whole ``noemie-sim`` process (wall seconds), as a user meets it; a JSON line
per figure on stderr.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: a run failed an invariant, still a campaign played
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return elapsed


def line(name: str, values: list[float], unit: str) -> None:
    low, mid, high = min(values), statistics.median(values), max(values)
    print(f"  {name:<44} {low:8.2f} {mid:8.2f} {high:8.2f}  {unit}")
    print(json.dumps({"bench": "campaign", "figure": name, "unit": unit, "min": low,
                      "median": mid, "max": high}), file=sys.stderr)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="nominal-week")
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    noemie = [sys.executable, "-m", "noemie_sim"]
    common = [args.scenario, "--scale", str(args.scale)]
    one, many, plain = [], [], []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as folder:
            campaign = [*noemie, "campaign", *common, "--runs", str(args.runs), "--seed", "7"]
            one.append(timed([*campaign, "--workers", "1", "--out", f"{folder}/one"]))
            many.append(timed([*campaign, "--workers", str(args.workers),
                               "--out", f"{folder}/many"]))  # fmt: skip
            # the comparison: the same number of runs, no fault, no judging, one process each
            start = time.perf_counter()
            for n in range(args.runs):
                timed([*noemie, "run", *common, "--seed", str(n), "--out", f"{folder}/p{n}"])
            plain.append(time.perf_counter() - start)
    print(f"{args.runs} runs of {args.scenario} at scale {args.scale}, wall seconds "
          f"(min / median / max of {args.rounds} rounds)")  # fmt: skip
    line("campaign, 1 worker", one, "s")
    line(f"campaign, {args.workers} workers", many, "s")
    line("plain run, one after the other (comparison)", plain, "s")
    line(f"speed-up, {args.workers} workers / 1", [a / b for a, b in zip(one, many, strict=True)],
         "x")  # fmt: skip
    line("campaign 1 worker / plain runs", [a / b for a, b in zip(one, plain, strict=True)], "x")
    line("per run, 1 worker", [t / args.runs for t in one], "s")


if __name__ == "__main__":
    main()
