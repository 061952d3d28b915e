"""``noemie-sim run`` of a scenario sharded by caisse (``shard_by = "caisse"``): the shards on
every core (``--workers``) or on a Ray cluster (``--engine ray``), a progress line per running
shard, and the report of the whole run (:mod:`noemie_sim.scenarios.shards`).

Ctrl-C (or SIGTERM) asks every running shard to stop (within half a second): each closes
its journal as stopped before its end, shards not started are recorded as such, and the run
folder is left incomplete but valid (``report`` says incomplete, exit 3). A second Ctrl-C
interrupts the command at once.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from noemie_sim.scenarios import shards
from noemie_sim.scenarios.schema import Scenario
from noemie_sim.sim.clock import stopwatch

from .common import UsageError


def add_arguments(
    parser: argparse.ArgumentParser,
    jobs: str = "a scenario sharded by caisse: its shards",
    shared_folder: bool = True,
) -> None:
    """``--workers``, ``--engine``, ``--address`` (and ``--shared-folder`` when asked) for a
    command whose ``jobs`` (shards, the runs of a campaign) an engine plays."""
    parser.add_argument(
        "--workers", type=int, metavar="N",
        help=f"{jobs} on N processes of this machine (default: every core; 1: one after the "
        "other in this process)",
    )  # fmt: skip
    parser.add_argument(
        "--engine", choices=("processes", "ray"),
        help=f"{jobs}: where they run (default: processes; ray needs pip install "
        "'noemie-sim[ray]')",
    )  # fmt: skip
    parser.add_argument(
        "--address", metavar="ADDR",
        help="with --engine ray: the address of an existing Ray cluster (default: a local one)",
    )  # fmt: skip
    if not shared_folder:  # the jobs are always written where the command keeps them
        parser.set_defaults(shared_folder=True)
        return
    parser.add_argument(
        "--shared-folder", action="store_true",
        help="with --engine ray --address: the run folder is on a path every node sees (a "
        "shared file system); shards write there directly instead of coming back through "
        "Ray's object store (implied for a local Ray)",
    )  # fmt: skip


def check_arguments(args: argparse.Namespace, scenario: Scenario) -> None:
    """UsageError for sharding options the scenario or the other options cannot take."""
    names = ("workers", "engine", "address", "shared_folder")
    sharding = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n, None)]
    if scenario.shard_by is None:
        if sharding:
            raise UsageError(f"{', '.join(sharding)}: for a scenario sharded by caisse "
                             f'(shard_by = "caisse" in [scenario]); {scenario.name} is one '
                             "network")  # fmt: skip
        return
    if getattr(args, "web", False) or getattr(args, "speed", None):
        raise UsageError(f"{scenario.name} is sharded by caisse: --web and --speed play one "
                         "network, not shards")  # fmt: skip
    if (args.address or args.shared_folder) and args.engine != "ray":
        raise UsageError("--address and --shared-folder: for a Ray cluster, with --engine ray")
    if args.engine == "ray" and args.workers is not None:
        raise UsageError("--workers: with --engine ray, the cluster's CPUs are the workers")


def engine_of(args: argparse.Namespace) -> shards.Engine:
    """The engine the options ask for (UsageError for impossible ones); :func:`close` it."""
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers: at least 1, not {args.workers}")
    if args.engine == "ray":
        try:
            shared = bool(args.shared_folder) or args.address is None  # a local Ray: one disk
            return shards.RayEngine(args.address, shared=shared)
        except RuntimeError as exc:
            raise UsageError(str(exc)) from None
        except ConnectionError as exc:
            raise UsageError(f"--address {args.address}: no Ray cluster there ({exc})") from None
    workers = args.workers if args.workers is not None else os.cpu_count() or 1
    return shards.InlineEngine() if workers == 1 else shards.ProcessEngine(workers)


class _Board:
    """The progress display: the run's totals and a line per running shard."""

    def __init__(self, count: int, engine: shards.Engine) -> None:
        self.count = count
        self.engine = engine
        self.running: dict[str, shards.Progress] = {}
        self.lines_done = 0
        self.done: list[str] = []
        self.failed: dict[str, str] = {}
        self.elapsed: Callable[[], float] | None = None  # from the first word of a shard

    def hear(self, message: shards.Progress | shards.Finished) -> None:
        if self.elapsed is None:  # the PKI made before the shards is not counted
            self.elapsed = stopwatch()
        if isinstance(message, shards.Progress):
            # a shard's last progress may come after its end (they travel apart)
            if message.caisse not in self.done and message.caisse not in self.failed:
                self.running[message.caisse] = message
            return
        self.running.pop(message.key, None)
        if message.result is not None:
            self.done.append(message.key)
            self.lines_done += message.result.lines
        else:
            self.failed[message.key] = message.error or "failed"

    def lines(self) -> int:
        return self.lines_done + sum(p.lines for p in self.running.values())

    def render(self) -> Group:
        if self.elapsed is None:
            return Group(Text(f"making the PKI of the run's parties (or taking it from the "
                              f"cache), then {self.count} shards"))  # fmt: skip
        seconds = max(self.elapsed(), 1e-9)
        head = Text(
            f"{len(self.done)}/{self.count} shards done on {self.engine.workers} "
            f"{self.engine.name} worker(s), {self.lines():,} lines billed, "
            f"{self.lines() / seconds:,.0f} lines/s"
        )
        table = Table(show_header=True, box=None, pad_edge=False)
        for column in ("caisse", "lines billed", "files", "simulated time"):
            table.add_column(column)
        for caisse, p in sorted(self.running.items()):
            table.add_row(caisse, f"{p.lines:,}", f"{p.files:,}", f"{p.now:%a %d/%m %H:%M}")
        return Group(head, table)


@contextlib.contextmanager
def stop_on_signals(
    engine: shards.Engine, console: Console, what: str = "shard", asked: list[int] | None = None
) -> Iterator[None]:
    """Ctrl-C and SIGTERM ask the engine's jobs (``what``: shards, runs) to stop; a second
    Ctrl-C interrupts. ``asked`` (if given) gets the signals received."""
    asked = [] if asked is None else asked

    def handler(signum: int, _frame: FrameType | None) -> None:
        if asked and signum == signal.SIGINT:
            raise KeyboardInterrupt
        asked.append(signum)
        console.print(f"stopping: each running {what} stops within half a second and closes "
                      "its journal (Ctrl-C again to interrupt at once)")  # fmt: skip
        engine.stop()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def play(
    args: argparse.Namespace, scenario: Scenario, out: Path, console: Console,
    pki_cache: Path | None, keys: Any,
) -> tuple[dict[str, Any], float]:  # fmt: skip
    """Run a sharded scenario in ``out``; its report (:func:`shards.report`) and the seconds
    its shards took (the PKI made before them is not counted)."""
    engine = engine_of(args)
    try:
        count = len(shards.plan(scenario))
        console.print(f"{count} shards (one per caisse) on {engine.workers} {engine.name} "
                      "worker(s)")  # fmt: skip
        board = _Board(count, engine)
        with stop_on_signals(engine, console), Live(
            board.render(), console=console, transient=True, refresh_per_second=2,
            redirect_stdout=False, auto_refresh=console.is_terminal,
        ) as live:  # fmt: skip

            def hear(message: shards.Progress | shards.Finished) -> None:
                board.hear(message)
                if console.is_terminal:
                    live.update(board.render())
                elif isinstance(message, shards.Finished):
                    console.print(_finished_line(message, len(board.done), count))

            run = shards.run_sharded(
                scenario, out, engine, keys=keys, pki_cache=pki_cache, on_message=hear
            )
    finally:
        engine.close()
    _summary(run, console)
    # the report read on the processes the shards ran on (a Ray run's folder is read here)
    workers = engine.workers if isinstance(engine, shards.ProcessEngine) else 1
    return shards.report(out, workers=workers), run.wall_seconds


def _finished_line(message: shards.Finished, done: int, count: int) -> str:
    r = message.result
    if r is None:
        return f"shard {message.key}: {message.error}"
    end = "" if r.reached_end else ", stopped before the end"
    return (f"shard {message.key} ({done}/{count}): {r.lines:,} lines, "
            f"{r.counts['files']:,} files in {r.wall_seconds:.1f} s{end}")  # fmt: skip


def _summary(run: shards.ShardedRun, console: Console) -> None:
    cpu = sum(r.cpu_seconds for r in run.results)
    wall = max(run.wall_seconds, 1e-9)
    peak = max((r.peak_rss_kb for r in run.results), default=0)
    pki = "reused from the cache" if run.pki_cached else "made"
    console.print(
        f"{run.lines:,} lines in {run.wall_seconds:.1f} s: {run.lines / wall:,.0f} lines/s "
        f"({cpu:.1f} CPU s in the shards, {run.lines / max(cpu, 1e-9):,.0f} lines per CPU "
        f"second; largest worker {peak / 1024:.0f} MB); PKI {pki} in {run.pki_seconds:.1f} s, "
        "not counted"
    )


def pki_cache() -> Path:
    """The PKIs of sharded runs, reused between runs (test PKIs)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "noemie-sim" / "pki"
