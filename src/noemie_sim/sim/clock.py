"""Time. The only module of noemie-sim that reads the wall clock or waits for real.

A run's business time is a :class:`Clock`: simulated time plus an agenda of steps. Actors never
wait on their own: each step does its work (files over SFTP included) to the end and schedules
the actor's next step. The clock runs the agenda in order of (time, order of scheduling), one
step at a time, so every actor is waiting on the clock whenever time moves, and steps at the
same instant always run in the same order: that is what makes a run deterministic.

* **virtual** mode (``speed=None``): time jumps straight to the next step; ten jours ouvrés run
  in seconds while files still travel over real sockets;
* **scaled** mode (``speed=N``): simulated time = real time × N from the start of the run; the
  clock waits for real between steps, which lets external systems (connected to the SFTP hubs)
  act meanwhile.

Everything else receives the time it needs (the clock of a run, or a ``--at`` given by the
user); command-line tools take their default "now" from :func:`wall_now`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

Step = Callable[[], Awaitable[None]]


def wall_now() -> datetime:
    """The real current time, UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def stopwatch() -> Callable[[], float]:
    """A function giving the real seconds elapsed since this call (for progress displays and
    benchmarks; never for business time)."""
    started = time.perf_counter()
    return lambda: time.perf_counter() - started


def parse_moment(text: str) -> datetime:
    """A user-given time: ISO 8601 date or date and time; without a zone it is UTC.
    ValueError with a readable message otherwise."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date or time like 2026-03-02T08:00") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Clock:
    """Simulated time and the agenda of a run (see the module docstring).

    ``now()`` is the simulated time; it never goes backwards. A step scheduled in the past
    runs at the current time. ``after_step`` is called after every step (the journal commits
    there)."""

    def __init__(self, start: datetime, *, speed: float | None = None) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive")
        self.start = _utc(start)
        self.speed = speed
        self._now = self.start
        self._agenda: list[tuple[datetime, int, str, Step]] = []
        self._order = itertools.count()
        self._stopping = False
        self.steps_run = 0
        self.after_step: Callable[[], None] | None = None

    @property
    def virtual(self) -> bool:
        return self.speed is None

    def now(self) -> datetime:
        return self._now

    def at(self, when: datetime, step: Step, label: str = "") -> None:
        """Run ``step`` at simulated time ``when`` (or now, if ``when`` has passed)."""
        when = max(_utc(when), self._now)
        heapq.heappush(self._agenda, (when, next(self._order), label, step))

    def after(self, delay: timedelta, step: Step, label: str = "") -> None:
        self.at(self._now + delay, step, label)

    def next_time(self) -> datetime | None:
        return self._agenda[0][0] if self._agenda else None

    def next_step(self) -> tuple[datetime, str] | None:
        """The time and label of the next step on the agenda (for progress displays)."""
        return (self._agenda[0][0], self._agenda[0][2]) if self._agenda else None

    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Ask :meth:`run_until` to return after the current step (Ctrl-C, SIGTERM)."""
        self._stopping = True

    async def run_until(self, end: datetime) -> None:
        """Run the agenda's steps up to ``end`` included, then set the time to ``end``.
        Steps scheduled later stay in the agenda for a next call."""
        end = _utc(end)
        loop = asyncio.get_running_loop()
        real_anchor, sim_anchor = loop.time(), self._now
        self._stopping = False
        while self._agenda and self._agenda[0][0] <= end and not self._stopping:
            when, _order, _label, step = heapq.heappop(self._agenda)
            if self.speed is not None:
                await self._wait_real(loop, real_anchor, sim_anchor, when)
                if self.stopping():
                    heapq.heappush(self._agenda, (when, _order, _label, step))
                    break
            self._now = max(self._now, when)
            await step()
            self.steps_run += 1
            if self.after_step is not None:
                self.after_step()
        if not self._stopping:
            if self.speed is not None:
                await self._wait_real(loop, real_anchor, sim_anchor, end)
            self._now = max(self._now, end)

    async def _wait_real(
        self,
        loop: asyncio.AbstractEventLoop,
        real_anchor: float,
        sim_anchor: datetime,
        when: datetime,
    ) -> None:
        """In scaled mode, wait until real time reaches ``when`` (in short slices, so that a
        stop request is honoured within a second)."""
        assert self.speed is not None
        target = real_anchor + (when - sim_anchor).total_seconds() / self.speed
        while not self._stopping:
            delay = target - loop.time()
            if delay <= 0:
                return
            await asyncio.sleep(min(delay, 0.5))
