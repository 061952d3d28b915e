"""The kernel's parts on their own: clock, journal, seeded generators, télétransmission links."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from noemie_sim.sim.clock import Clock, Step
from noemie_sim.sim.domain.links import LinkRegister
from noemie_sim.sim.journal import Journal, JournalError, open_journal
from noemie_sim.sim.randomness import derived_seed, generator

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


# -- clock ----------------------------------------------------------------------------------


async def test_virtual_clock_runs_steps_in_time_then_scheduling_order() -> None:
    clock = Clock(T0)
    seen: list[tuple[str, datetime]] = []

    def step(name: str) -> Step:
        async def run() -> None:
            seen.append((name, clock.now()))
            if name == "a":  # a step scheduling another at the same instant runs it after b
                clock.at(clock.now(), step("a2"))

        return run

    clock.at(T0 + timedelta(days=3), step("late"))
    clock.at(T0 + timedelta(hours=1), step("a"))
    clock.at(T0 + timedelta(hours=1), step("b"))
    clock.at(T0 - timedelta(hours=5), step("past"))  # runs now, never in the past
    loop = asyncio.get_running_loop()
    real = loop.time()
    await clock.run_until(T0 + timedelta(days=2))
    assert loop.time() - real < 1.0  # two simulated days, no real waiting
    assert seen == [
        ("past", T0),
        ("a", T0 + timedelta(hours=1)),
        ("b", T0 + timedelta(hours=1)),
        ("a2", T0 + timedelta(hours=1)),
    ]
    assert clock.now() == T0 + timedelta(days=2)  # time reaches the end; "late" stays queued
    assert clock.next_time() == T0 + timedelta(days=3)
    await clock.run_until(T0 + timedelta(days=4))
    assert seen[-1] == ("late", T0 + timedelta(days=3))


async def test_scaled_clock_follows_real_time_times_speed_and_stops() -> None:
    clock = Clock(T0, speed=36_000.0)  # one simulated hour = 0.1 s
    seen: list[datetime] = []

    async def tick() -> None:
        seen.append(clock.now())
        if len(seen) == 2:
            clock.stop()
        clock.after(timedelta(hours=1), tick)

    clock.at(T0 + timedelta(hours=1), tick)
    loop = asyncio.get_running_loop()
    real = loop.time()
    await clock.run_until(T0 + timedelta(hours=10))
    elapsed = loop.time() - real
    assert seen == [T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert 0.18 <= elapsed < 1.0  # waited for two simulated hours, then stopped
    assert clock.now() == T0 + timedelta(hours=2)


async def test_a_scaled_clock_jumps_ahead_and_runs_each_step_at_its_own_time() -> None:
    """+1 day on a scaled clock (a trainer's button): the steps of that day run at once, each
    at its scheduled time, then the clock goes on at its speed; asked while paused, the jump
    happens on resuming."""
    clock = Clock(T0, speed=60.0)  # a simulated day would take 24 real minutes
    seen: list[datetime] = []

    async def tick() -> None:
        seen.append(clock.now())
        if len(seen) == 1:
            clock.jump(T0 + timedelta(hours=6))
            assert clock.reached() >= T0 + timedelta(hours=6)  # at once, not in 6 real minutes
        if len(seen) == 4:
            clock.stop()
        clock.after(timedelta(hours=2), tick)

    clock.at(T0, tick)
    clock.pause()
    clock.jump(T0)  # paused: remembered
    task = asyncio.create_task(clock.run_until(T0 + timedelta(days=1)))
    await clock.parked()
    clock.resume()
    await task
    assert seen == [T0 + timedelta(hours=h) for h in (0, 2, 4, 6)]
    # paused in the middle of a run, then +1 day: the jump happens on resuming
    reached: list[datetime] = []

    async def probe() -> None:  # the first step after resuming: the jump has happened
        reached.append(clock.reached())
        clock.stop()

    clock.at(T0 + timedelta(hours=7), probe)
    clock.pause()
    clock.jump(T0 + timedelta(days=1))
    run = asyncio.create_task(clock.run_until(T0 + timedelta(days=2)))
    await clock.parked()
    clock.resume()
    await run
    assert reached and reached[0] >= T0 + timedelta(days=1)
    assert clock.now() == T0 + timedelta(hours=7)  # each step at its own time
    with pytest.raises(ValueError, match="before"):
        clock.jump(T0)
    with pytest.raises(ValueError, match="virtual one advances"):
        Clock(T0).jump(T0 + timedelta(hours=1))


async def test_an_operator_pauses_and_advances_a_virtual_clock_between_steps() -> None:
    """pause, advance (to a time, past the end), resume: the same steps in the same order."""
    clock = Clock(T0)
    seen: list[datetime] = []

    async def tick() -> None:
        seen.append(clock.now())
        clock.after(timedelta(hours=1), tick)

    clock.at(T0 + timedelta(hours=1), tick)
    clock.pause()
    run = asyncio.create_task(clock.run_until(T0 + timedelta(hours=10)))
    await asyncio.sleep(0)  # the run starts, and parks at once
    await clock.parked()
    assert seen == [] and clock.paused and clock.running
    clock.advance(T0 + timedelta(hours=3, minutes=30))
    await clock.parked()
    assert seen == [T0 + timedelta(hours=h) for h in (1, 2, 3)]
    assert clock.now() == T0 + timedelta(hours=3, minutes=30) and clock.paused
    with pytest.raises(ValueError, match="before the current time"):
        clock.advance(T0)
    with pytest.raises(ValueError, match="virtual clock has no speed"):
        clock.set_speed(10)
    clock.advance(T0 + timedelta(days=1))  # past the end: the run ends at its end
    await run
    assert seen[-1] == T0 + timedelta(hours=10) and clock.now() == T0 + timedelta(hours=10)
    assert not clock.running


def test_a_scaled_clock_cannot_be_advanced() -> None:
    with pytest.raises(ValueError, match="advance is for a virtual clock"):
        Clock(T0, speed=60).advance(T0 + timedelta(hours=1))


def test_clock_refuses_a_non_positive_speed() -> None:
    with pytest.raises(ValueError, match="positive"):
        Clock(T0, speed=0)


# -- journal --------------------------------------------------------------------------------


def _journal(folder: Path, config: dict[str, object] | None = None) -> tuple[Journal, Clock]:
    clock = Clock(T0)
    return Journal(folder, clock.now, config if config is not None else {"seed": 1}), clock


def _fill(journal: Journal) -> None:
    journal.record("PS1", "lot-sent", lot="PS1/1", file="PS1/7", billed=3000, invoices=[1, 2])
    journal.record("CPAM", "arl-sent", lot="PS1/1", status="P", evidence={"sha256": "ab" * 32})
    journal.record("CPAM", "invoice-liquidated", invoice="PS1/1", assure="1", amo=2100)
    journal.commit()


def test_journal_digest_depends_on_content_not_on_wall_clock_or_evidence(tmp_path: Path) -> None:
    first, _ = _journal(tmp_path / "a")
    second, _ = _journal(tmp_path / "b")
    _fill(first)
    _fill(second)
    assert first.digest() == second.digest()
    second.db.execute("UPDATE events SET wall = 'x', evidence = '{}'")
    second.verify()  # wall-clock time and evidence are outside the chain
    third, _ = _journal(tmp_path / "c", {"seed": 2})
    _fill(third)
    assert third.digest() != first.digest()  # the chain starts from the configuration
    fourth, _ = _journal(tmp_path / "d")
    _fill(fourth)
    fourth.record("CPAM", "extra")
    assert fourth.digest() != first.digest()
    events = first.events("arl-sent", lot="PS1/1")
    assert [(e.actor, e.details) for e in events] == [("CPAM", {"status": "P"})]
    assert first.events(invoice="PS1/1")[0].details["amo"] == 2100


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE events SET details = '{\"amo\":2200}' WHERE seq = 3",
        # the same meaning in other text: the chain hashes the text the writer stored
        "UPDATE events SET details = '{\"amo\": 2100}' WHERE seq = 3",
        "UPDATE events SET at = '2026-03-02T09:00:00+00:00' WHERE seq = 1",
        "DELETE FROM events WHERE seq = 2",
        "UPDATE run SET value = '{\"seed\":9}' WHERE key = 'config'",
    ],
)
def test_journal_verify_finds_any_edit(tmp_path: Path, tamper: str) -> None:
    journal, _ = _journal(tmp_path)
    _fill(journal)
    journal.verify()
    journal.close()
    db = sqlite3.connect(tmp_path / "journal.sqlite")
    db.execute(tamper)
    db.commit()
    db.close()
    with pytest.raises(JournalError):
        open_journal(tmp_path).verify()


def test_journal_takes_its_time_from_the_clock_and_archives_atomically(tmp_path: Path) -> None:
    journal, clock = _journal(tmp_path)
    stem = journal.archive("PS1", "FSE-1.p7m", b"sealed", b"clear")
    again = journal.archive("PS1", "FSE-1.p7m", b"sealed2", None)
    assert stem != again  # a re-sent file does not overwrite the first copy
    assert (tmp_path / stem).read_bytes() == b"sealed"
    assert (tmp_path / f"{stem}.clear").read_bytes() == b"clear"
    assert not (tmp_path / f"{again}.clear").exists()
    assert not list(tmp_path.rglob(".*.tmp"))
    journal.record("PS1", "x")
    journal.commit()
    assert journal.events()[0].at == T0
    with pytest.raises(JournalError, match="already holds"):
        Journal(tmp_path, clock.now, {"seed": 1})
    with pytest.raises(JournalError, match="no journal"):
        open_journal(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="cannot select"):
        journal.events(details="x")
    journal.close()


# -- randomness -----------------------------------------------------------------------------


def test_generators_depend_on_seed_and_name_only() -> None:
    a = [generator(7, "PS1").random() for _ in range(3)]
    generator(7, "PS0").random()  # another actor drawing changes nothing for PS1
    assert [generator(7, "PS1").random() for _ in range(3)] == a
    assert generator(8, "PS1").random() != a[0]
    assert derived_seed(7, "PS1") != derived_seed(7, "PS2")


# -- links ----------------------------------------------------------------------------------


def test_link_is_live_from_its_effective_day_and_covers_its_period() -> None:
    links = LinkRegister()
    links.request("OC1", "N1", "N1", date(2026, 1, 1), None, date(2026, 3, 2), date(2026, 3, 6))
    assert links.status("N1", date(2026, 3, 2), date(2026, 3, 5)).oc is None  # not yet
    assert links.status("N1", date(2026, 3, 2), date(2026, 3, 6)).oc == "OC1"
    assert links.status("N1", date(2025, 12, 1), date(2026, 3, 6)).oc is None  # before start
    assert links.deactivate("OC1", "N1", date(2026, 3, 10))
    assert links.status("N1", date(2026, 3, 9), date(2026, 3, 10)).oc is None
    assert not links.deactivate("OC1", "N1", date(2026, 3, 11))


def test_two_mutuelles_with_overlapping_periods_block_the_link_until_one_ends() -> None:
    links = LinkRegister()
    links.request("OC1", "N1", "N1", date(2025, 1, 1), None, date(2025, 1, 1), date(2025, 1, 7))
    links.request("OC2", "N1", "N1", date(2026, 2, 20), None, date(2026, 2, 20), date(2026, 2, 26))
    before = links.status("N1", date(2026, 2, 24), date(2026, 2, 24))
    assert before.oc == "OC1" and not before.blocked  # the second link is not effective yet
    status = links.status("N1", date(2026, 3, 2), date(2026, 3, 2))
    assert status.blocked and status.blocked_by == ("OC1", "OC2") and status.oc is None
    links.deactivate("OC1", "N1", date(2026, 3, 3))
    assert links.status("N1", date(2026, 3, 3), date(2026, 3, 3)).oc == "OC2"
    # periods that do not overlap never block: a change of mutuelle done right
    links.request("OC3", "N2", "N2", date(2025, 1, 1), date(2025, 12, 31), date(2025, 1, 1),
                  date(2025, 1, 7))  # fmt: skip
    links.request("OC4", "N2", "N2", date(2026, 1, 1), None, date(2026, 1, 1), date(2026, 1, 7))
    assert links.status("N2", date(2026, 3, 2), date(2026, 3, 2)).oc == "OC4"
    assert links.status("N2", date(2025, 6, 2), date(2026, 3, 2)).oc == "OC3"
