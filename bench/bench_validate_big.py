"""`noemie-sim validate` and `explain` on a file just under the size cap: time and peak memory.

    python bench/bench_validate_big.py [--megabytes 60] [--runs 3]

Two B2 files of about --megabytes MB (lots of FSE renumbered from a generated lot): a valid
one, and the same with every Type 2's NIR key wrong (one anomaly per invoice, about 100 000).
Each command runs in its own process, as a user runs it; its wall time and peak resident
memory (the kernel's maxrss of that process) are given as min/median/max of --runs runs,
next to the comparison from the same run: a process that reads the file and slices every
record into its fields (plain slicing, no checks), and its ratio. The goals (issue "Harden
the SFTP hub"): under 10 s and 300 MB. A JSON line per figure follows, for scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from noemie_sim.sim.domain.generate import generate
from noemie_sim.sim.norms import b2

#: The comparison: read the file, slice each 128-character record at its fields' positions.
PLAIN_SLICING = """
import sys
from noemie_sim.sim.norms import b2
data = open(sys.argv[1], "rb").read()
text = data.decode("ascii")
slices = {code: [(f.start - 1, f.end) for f in lay.fields] for code, lay in b2.LAYOUTS.items()}
count = 0
for offset in range(0, len(text), 128):
    record = text[offset : offset + 128]
    count += len([record[a:b] for a, b in slices[record[:2]]])
print(count)
"""


def big_b2(megabytes: int) -> bytes:
    """A valid B2 file of about ``megabytes`` MB: the invoices of a generated file copied into
    lots of 5 000 with new lot and invoice numbers."""
    generated = b2.parse(generate("b2", 1, 5000))
    invoices = [inv for lot in generated.lots for inv in lot.invoices]
    first = generated.lots[0]
    per_invoice = len(b2.build(replace(generated, lots=(first,)))) / len(first.invoices)
    wanted = int(megabytes * 1_000_000 / per_invoice)
    lots: list[b2.Lot] = []
    for k in range(0, wanted, 5000):
        chosen = tuple(
            replace(invoices[n % len(invoices)], invoice_number=n + 1)
            for n in range(k, min(k + 5000, wanted))
        )
        lots.append(replace(first, number=len(lots) + 1, invoices=chosen))
    return b2.build(replace(generated, lots=tuple(lots)))


def wrong_nir_keys(data: bytes) -> bytes:
    """The file with every Type 2's NIR key (positions 25-26) changed."""
    out = bytearray(data)
    for i in range(0, len(out), 128):
        if out[i : i + 2] == b"2 ":
            out[i + 24 : i + 26] = b"%02d" % (int(out[i + 24 : i + 26]) % 97 + 1)
    return bytes(out)


def measure(argv: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, process.returncode


def spread(values: list[float]) -> str:
    return f"{min(values):7.2f} {statistics.median(values):7.2f} {max(values):7.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", nargs=2, metavar=("VALID", "BAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        valid, bad = (Path(p) for p in args.write)
        valid.write_bytes(big_b2(args.megabytes))
        bad.write_bytes(wrong_nir_keys(valid.read_bytes()))
        return
    cli = [sys.executable, "-m", "noemie_sim"]
    with tempfile.TemporaryDirectory() as folder:
        valid, bad = Path(folder) / "valid.b2", Path(folder) / "bad.b2"
        # built in another process: a child's peak memory counts its parent's at fork time
        subprocess.run(
            [sys.executable, __file__, "--megabytes", str(args.megabytes),
             "--write", str(valid), str(bad)],
            check=True,
        )  # fmt: skip
        size = valid.stat().st_size / 1e6
        print(f"B2 files of {size:.1f} MB ({valid.stat().st_size // 128} records)")
        print(f"{'command':<22} {'wall s min/med/max':>24} {'peak MB min/med/max':>24}  x slicing")
        rows = [
            ("plain slicing", [sys.executable, "-c", PLAIN_SLICING], valid, 0),
            ("validate valid", [*cli, "validate"], valid, 0),
            ("validate bad", [*cli, "validate"], bad, 1),
            ("explain valid", [*cli, "explain"], valid, 0),
            ("explain bad", [*cli, "explain"], bad, 1),
        ]
        reference = 0.0
        for label, argv, path, expected in rows:
            runs = [measure([*argv, str(path)]) for _ in range(args.runs)]
            walls, peaks = [r[0] for r in runs], [r[1] for r in runs]
            if any(r[2] != expected for r in runs):
                raise SystemExit(f"{label}: exit {[r[2] for r in runs]}, expected {expected}")
            median = statistics.median(walls)
            reference = reference or median
            print(f"{label:<22} {spread(walls):>24} {spread(peaks):>24}  {median / reference:8.1f}")
            for figure, values, unit in ((label, walls, "s"), (f"{label} rss", peaks, "MB")):
                print(
                    json.dumps(
                        {
                            "bench": "validate_big",
                            "figure": figure,
                            "unit": unit,
                            "min": min(values),
                            "median": statistics.median(values),
                            "max": max(values),
                            "megabytes": round(size, 1),
                        }
                    ),
                    file=sys.stderr,
                )


if __name__ == "__main__":
    main()
