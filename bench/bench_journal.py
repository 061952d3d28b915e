"""The journal's cost per event: 56 000 events (a simulated month of 50 PS records about as
many), committed every 28 (a clock step), next to the plain SQLite insertion of the same rows
without the hash chain, in the same run; min/median/max of 3 runs, JSON lines on stderr.

python bench/bench_journal.py [--events 56000]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from noemie_sim.sim.journal import Journal

STEP = 28
FIELDS: dict[str, Any] = {"status": "paid", "amo": 2100, "billed": 3000, "pf": 200, "franchise": 0,
          "payee": "ps", "deferred": 0}  # fmt: skip


def journal(events: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        now = datetime(2026, 3, 2, tzinfo=UTC)
        log = Journal(Path(folder), lambda: now, {"seed": 1})
        start = time.perf_counter()
        for n in range(events):
            log.record("017510000", "invoice-liquidated", invoice=f"751/{n}",
                       assure="1800112345678", **FIELDS)  # fmt: skip
            if n % STEP == STEP - 1:
                log.commit()
        log.commit()
        elapsed = time.perf_counter() - start
        log.close()
    return elapsed


def plain_sqlite(events: int) -> float:
    """The same rows (details already JSON) inserted one by one, committed every step."""
    with tempfile.TemporaryDirectory() as folder:
        db = sqlite3.connect(Path(folder) / "plain.sqlite")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, at TEXT, actor TEXT, "
                   "kind TEXT, invoice TEXT, details TEXT)")  # fmt: skip
        details = json.dumps(FIELDS)
        at = datetime(2026, 3, 2, tzinfo=UTC).isoformat()
        start = time.perf_counter()
        for n in range(events):
            row = (n + 1, at, "017510000", "invoice-liquidated", f"751/{n}", details)
            db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", row)
            if n % STEP == STEP - 1:
                db.commit()
        db.commit()
        elapsed = time.perf_counter() - start
        db.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=56_000)
    args = parser.parse_args()
    ours, plain = [], []
    for _ in range(3):
        ours.append(journal(args.events))
        plain.append(plain_sqlite(args.events))
    for name, runs in (("journal", ours), ("plain sqlite", plain)):
        runs.sort()
        per_event = statistics.median(runs) / args.events * 1e6
        print(f"{name:<13} {args.events} events: {runs[0]:.2f} / {statistics.median(runs):.2f} / "
              f"{runs[-1]:.2f} s, {per_event:.1f} µs per event")  # fmt: skip
        print(json.dumps({"figure": name, "events": args.events, "seconds": runs,
                          "us_per_event": per_event}), file=sys.stderr)  # fmt: skip
    ratio = statistics.median(ours) / statistics.median(plain)
    print(f"journal vs plain SQLite insertion: x{ratio:.2f} the time")


if __name__ == "__main__":
    main()
