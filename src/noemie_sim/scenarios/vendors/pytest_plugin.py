"""The pytest plugin vendors use (installed with the package, entry point ``pytest11``).

Fixtures:

* ``noemie_norms``: the norms pack the session speaks (``--noemie-norms DIR``, else the folder
  ``NOEMIE_SIM_NORMS`` names, else the built-in tables), installed for every network and
  codec of the session;
* ``noemie_keys``: RSA keys reused by every network of the session (a PKI's cost);
* ``noemie_pki``: a fresh test PKI folder with one party of each role;
* ``noemie_network``: a factory ``await noemie_network("demo", external=["ps"])`` that builds a
  scenario's network on a *virtual* clock, with the named parties left to your system, and
  returns a :class:`Harness`: the external parties' kits, the journal, and time that moves
  only when your test says so (``advance``, ``until``), so a test is deterministic even
  with a real system in the loop. The network is closed at the end of the test.

Example (pytest-asyncio)::

    async def test_my_ps(noemie_network):
        net = await noemie_network("demo", external=["ps"])
        kit = net.kit(net.externals[0])
        ...  # upload a sealed lot with your own SFTP client
        arl = await net.until("arl-sent", party=net.externals[0])
        assert arl.details["status"] == "P"
        assert net.verdicts()[0]["verdict"] == "conform"
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from noemie_sim.actors.network import Network
from noemie_sim.pki.authority import KeyPool, Pki
from noemie_sim.sim import packs
from noemie_sim.sim.clock import wall_now
from noemie_sim.sim.journal import Event, Journal
from noemie_sim.sim.norms import pack as norms_pack
from noemie_sim.sim.norms.pack import Pack, PackError

from ..alerting import watch_alerts
from ..catalogue import find_scenario
from ..runner import schedule_faults
from ..schema import ScenarioError
from .external import conformance, party_roles, pick_externals, write_kit


class Harness:
    """A network being tested, on a virtual clock that the test moves."""

    def __init__(self, network: Network, externals: list[str], kits: Path) -> None:
        self.network = network
        self.externals = externals
        self.kits = kits

    @property
    def journal(self) -> Journal:
        return self.network.journal

    @property
    def now(self) -> datetime:
        return self.network.clock.now()

    def kit(self, party: str) -> Path:
        """The connection kit of an external party (README, keys, known_hosts...)."""
        return self.kits / party

    async def advance(self, **delta: float) -> None:
        """Let simulated time run for ``timedelta(**delta)`` (every actor's steps in it)."""
        await self.network.clock.run_until(self.now + timedelta(**delta))

    async def until(
        self,
        kind: str | Callable[[Event], bool],
        *,
        party: str | None = None,
        within: timedelta = timedelta(days=7),
        step: timedelta = timedelta(minutes=30),
    ) -> Event:
        """Advance time step by step until the journal records a matching event (of ``kind``,
        concerning ``party`` when given: as actor, sender, recipient or file owner); an
        AssertionError naming what was awaited when ``within`` passes first."""
        seen = self.journal.count()
        deadline = self.now + within

        def matches(e: Event) -> bool:
            if callable(kind):
                return kind(e)
            if e.kind != kind:
                return False
            if party is None:
                return True
            where = (e.actor, e.oc, e.details.get("to"), e.details.get("sender"),
                     str(e.file or "").split("/")[0])  # fmt: skip
            return party in where

        while True:
            for event in self.journal.events_after(seen):
                if matches(event):
                    return event
            seen = self.journal.count()
            if self.now >= deadline:
                raise AssertionError(f"no {kind} event for {party or 'anyone'} by {deadline}")
            await self.network.clock.run_until(min(self.now + step, deadline))

    def events(self, kind: str | None = None, **where: str) -> list[Event]:
        return self.journal.events(kind, **where)

    def verdicts(self) -> list[dict[str, Any]]:
        """The conformance verdict of each external party, as of now."""
        events = self.journal.events()
        roles = self.network.pki.parties()
        return [conformance(events, p, roles[p], self.now) for p in self.externals]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--noemie-norms", metavar="DIR", default=None,
        help="the norms pack (your layout tables) noemie-sim's fixtures speak "
        f"(default: ${packs.ENVIRONMENT}, else the built-in tables)",
    )  # fmt: skip


@pytest.fixture(scope="session")
def noemie_norms(request: pytest.FixtureRequest) -> Pack:
    """The norms pack of the session, installed: a broken pack fails the session's first test
    using it with every problem named."""
    try:
        chosen = packs.chosen(request.config.getoption("--noemie-norms"))
    except PackError as exc:
        pytest.fail("the norms pack is refused: " + "; ".join(map(str, exc.problems)))
    norms_pack.install(chosen)
    return chosen


@pytest.fixture(scope="session")
def noemie_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPool:
    """Test RSA keys shared by the session's PKIs."""
    return KeyPool(tmp_path_factory.mktemp("noemie-keys"))


@pytest.fixture
def noemie_pki(tmp_path: Path, noemie_keys: KeyPool) -> Pki:
    """A fresh three-tier test PKI with one party of each role: ids 751000001 (PS),
    017510000 (caisse), 12345678 (mutuelle), 12345678900010 (employer)."""
    at = datetime(2026, 1, 1).astimezone()
    pki = Pki.create(tmp_path / "pki", at, pool=noemie_keys)
    parties = [("ps", "751000001"), ("cpam", "017510000"), ("oc", "12345678"),
               ("employer", "12345678900010")]  # fmt: skip
    pki.issue_many(parties, at, pool=noemie_keys)
    return pki


@pytest_asyncio.fixture
async def noemie_network(
    tmp_path: Path, noemie_keys: KeyPool, noemie_norms: Pack
) -> AsyncIterator[Callable[..., Awaitable[Harness]]]:
    """A factory of networks under test, speaking ``noemie_norms``; each is closed when the
    test ends."""
    opened: list[Network] = []
    norms_pack.install(noemie_norms)  # whatever another test of the process installed

    async def start(scenario: str = "demo", external: list[str] | None = None) -> Harness:
        try:
            chosen = find_scenario(scenario)
        except ScenarioError as exc:
            raise ValueError(str(exc)) from None
        config = dataclasses.replace(chosen.config, speed=None, transport="sftp")
        roles = party_roles(config)
        externals = pick_externals(roles, list(external or []))
        folder = tmp_path / f"network-{len(opened) + 1}"
        # the vendor's system checks certificates and CRLs at the real time: the PKI is
        # valid then too, as in serve
        network = Network(
            config, folder, keys=noemie_keys, externals=frozenset(externals),
            extra_config={"scenario": chosen.source, "scenario_name": chosen.name},
            wall_clock=wall_now,
        )  # fmt: skip
        await network.__aenter__()
        opened.append(network)
        schedule_faults(network, chosen)
        watch_alerts(network, chosen)
        for party in externals:
            write_kit(network, party, folder / "kits")
        return Harness(network, externals, folder / "kits")

    yield start
    for network in opened:
        await network.close()
