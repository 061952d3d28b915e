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

An operator (the HTTP API, a trainer's page) may steer a running clock between two steps:
:meth:`Clock.pause` and :meth:`Clock.resume`, :meth:`Clock.set_speed` in scaled mode, and in
virtual mode :meth:`Clock.advance` (run every step up to a time, then pause). None of these
changes which steps run nor their order: a run paused and advanced by hand writes the same
journal as a run left alone.

Everything else receives the time it needs (the clock of a run, or a ``--at`` given by the
user); command-line tools take their default "now" from :func:`wall_now`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
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


def cpu_stopwatch() -> Callable[[], float]:
    """A function giving the CPU seconds this process used since this call (benchmarks and
    the lines per CPU-second of a run's summary)."""
    started = time.process_time()
    return lambda: time.process_time() - started


async def real_ticks(seconds: float) -> AsyncIterator[float]:
    """Every ``seconds`` of real time, forever (until the consumer stops iterating or its
    task is cancelled): the real seconds since the first tick was asked for. For work that
    follows the real clock whatever the simulated one does (a heartbeat line, CRLs kept valid
    at the real time); never for business time."""
    elapsed = stopwatch()
    while True:
        await asyncio.sleep(seconds)
        yield elapsed()


async def real_pause(seconds: float) -> None:
    """Wait ``seconds`` of real time: the backoff between two tries of a real network peer
    (a webhook); never for business time."""
    await asyncio.sleep(seconds)


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
        # operator's controls (see the module docstring); the events are made on first use,
        # inside the running loop
        self._paused = False
        self._hold: datetime | None = None  # virtual advance: pause before steps after this
        self._resumed: asyncio.Event | None = None
        self._parked: asyncio.Event | None = None  # set while the run waits, paused
        self._running = False
        # scaled mode: real loop time and simulated time of the last (re)anchoring
        self._anchor: tuple[float, datetime] | None = None
        self._jump_to: datetime | None = None  # a jump asked while not anchored (paused)

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
        """Ask :meth:`run_until` to return after the current step (Ctrl-C, SIGTERM), paused
        or not."""
        self._stopping = True
        if self._resumed is not None:
            self._resumed.set()

    # -- an operator's controls ---------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def running(self) -> bool:
        """True while :meth:`run_until` is running (paused included)."""
        return self._running

    def pause(self) -> None:
        """Pause before the next step (the current one, if any, runs to its end)."""
        self._paused = True
        self._hold = None

    def resume(self) -> None:
        """Go on from a pause; in scaled mode simulated time goes on from where it stood."""
        self._paused = False
        self._hold = None
        self._wake()

    def set_speed(self, speed: float) -> None:
        """Change the speed of a scaled clock from now on (ValueError in virtual mode, or for
        a speed that is not positive)."""
        if self.speed is None:
            raise ValueError("a virtual clock has no speed: it jumps from step to step")
        if not speed > 0:
            raise ValueError("speed must be positive")
        if self._anchor is not None:  # simulated time goes on from where it stands now
            real = asyncio.get_running_loop().time()
            self._anchor = (real, self._scaled_now(real))
        self.speed = speed

    def advance(self, until: datetime) -> None:
        """Virtual mode: run every step up to ``until`` included, then pause with the time
        set to ``until``; at or past the end of :meth:`run_until`, the run ends there
        (ValueError in scaled mode, or for a time already past)."""
        if self.speed is not None:
            raise ValueError("advance is for a virtual clock; a scaled one follows real time")
        until = _utc(until)
        if until < self._now:
            raise ValueError(f"{until.isoformat()} is before the current time")
        self._paused = False
        self._hold = until
        self._wake()

    def reached(self) -> datetime:
        """Scaled mode: the simulated time real time has brought the clock to (the next steps
        run when it reaches their time); virtual mode, or not anchored: :meth:`now`."""
        try:
            real = asyncio.get_running_loop().time()
        except RuntimeError:
            return self._now
        return max(self._now, self._scaled_now(real))

    def jump(self, until: datetime) -> None:
        """Scaled mode: bring simulated time forward to ``until`` at once, then go on at the
        same speed. The steps due before ``until`` run now, one after the other, each at its
        own time (so a run jumped through replays identical); paused, the jump happens on
        resuming. ValueError in virtual mode (it advances), or for a time already past."""
        if self.speed is None:
            raise ValueError("jump is for a scaled clock; a virtual one advances")
        until = _utc(until)
        if until < self._now:
            raise ValueError(f"{until.isoformat()} is before the current time")
        if self._anchor is None or self._paused:  # paused, the anchor is dropped on resuming
            self._jump_to = max(self._jump_to or until, until)
            return
        real = asyncio.get_running_loop().time()
        # the wait for the next step is cut within half a second (_wait_real's slices)
        self._anchor = (real, max(self._scaled_now(real), until))

    async def parked(self) -> None:
        """Wait until the run is paused between two steps, or is not running."""
        if self._parked is None:
            self._parked = asyncio.Event()
        while self._running and not self._parked.is_set():
            await self._parked.wait()

    def _pause_asked(self) -> bool:
        return self._paused

    def _wake(self) -> None:
        if self._parked is not None:
            self._parked.clear()  # parked() waits for the next pause, not the one left
        if self._resumed is not None:
            self._resumed.set()

    async def _park(self) -> None:
        """Wait, paused, until resumed, advanced or stopped."""
        if self._resumed is None:
            self._resumed = asyncio.Event()
        if self._parked is None:
            self._parked = asyncio.Event()
        self._resumed.clear()
        self._parked.set()
        try:
            while self._paused and not self._stopping:
                await self._resumed.wait()
                self._resumed.clear()
        finally:
            self._parked.clear()
        self._anchor = None  # scaled time goes on from here, not from before the pause

    async def run_until(self, end: datetime) -> None:
        """Run the agenda's steps up to ``end`` included, then set the time to ``end``.
        Steps scheduled later stay in the agenda for a next call."""
        end = _utc(end)
        loop = asyncio.get_running_loop()
        self._anchor = None
        self._stopping = False
        self._running = True
        if self._parked is not None:
            self._parked.clear()
        try:
            while not self._stopping:
                if (
                    self._hold is not None
                    and self._hold < end  # an advance to the end lets the run end
                    and (not self._agenda or self._agenda[0][0] > self._hold)
                ):
                    # an advance reached its time: stand there, paused
                    self._now = max(self._now, self._hold)
                    self.pause()
                if self._paused:
                    await self._park()
                    continue
                if not self._agenda or self._agenda[0][0] > end:
                    if self.speed is not None:  # real time reaches the end, or a pause
                        await self._wait_real(loop, end)
                        if self._pause_asked():  # during the wait
                            continue
                    break
                when, _order, _label, step = heapq.heappop(self._agenda)
                if self.speed is not None:
                    await self._wait_real(loop, when)
                    if self._stopping or self._pause_asked():
                        heapq.heappush(self._agenda, (when, _order, _label, step))
                        continue
                self._now = max(self._now, when)
                await step()
                self.steps_run += 1
                if self.after_step is not None:
                    self.after_step()
            if not self._stopping:
                self._now = max(self._now, end)
        finally:
            self._running = False
            self._hold = None
            if self._parked is not None:
                self._parked.set()  # whoever waits for a pause: the run is over

    async def _wait_real(self, loop: asyncio.AbstractEventLoop, when: datetime) -> None:
        """In scaled mode, wait until real time reaches ``when`` (in short slices, so that a
        stop, a pause or a change of speed is honoured within half a second)."""
        while not self._stopping:
            if self._anchor is None:
                self._anchor = (loop.time(), max(self._now, self._jump_to or self._now))
                self._jump_to = None
            if self._paused:  # the simulated time stands where the pause found it
                self._now = max(self._now, min(self._scaled_now(loop.time()), when))
                return
            assert self.speed is not None
            real_anchor, sim_anchor = self._anchor
            delay = real_anchor + (when - sim_anchor).total_seconds() / self.speed - loop.time()
            if delay <= 0:
                return
            await asyncio.sleep(min(delay, 0.5))

    def _scaled_now(self, real: float) -> datetime:
        """Scaled mode: the simulated time at loop time ``real`` (the anchor's, plus real time
        elapsed × speed)."""
        if self._anchor is None or self.speed is None:
            return self._now
        real_anchor, sim_anchor = self._anchor
        return sim_anchor + timedelta(seconds=(real - real_anchor) * self.speed)
