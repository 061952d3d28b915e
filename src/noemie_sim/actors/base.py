"""What every actor shares: the run's kernel (clock, journal, PKI, seed, population) and the
sealing, journaling and scheduling helpers.

Actors are step-driven (see :mod:`noemie_sim.sim.clock`): a step does its work to the end,
files over the transport included, and schedules the next one. They talk to the fabric only
through :class:`~noemie_sim.sim.transport.api.MailboxClient` and
:class:`~noemie_sim.sim.transport.api.HubSide`, so the same code runs over SFTP and in memory.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from cryptography import x509

from noemie_sim.pki.authority import Identity, Pki
from noemie_sim.pki.cms import Opened, open_sealed, seal
from noemie_sim.pki.validation import TrustStore
from noemie_sim.sim.calendar import is_jour_ouvre
from noemie_sim.sim.clock import Clock
from noemie_sim.sim.domain.population import Population
from noemie_sim.sim.journal import Journal
from noemie_sim.sim.norms.kinds import declared_parties
from noemie_sim.sim.randomness import generator


@dataclass
class Kernel:
    """The run's shared parts. ``trust()`` is the PKI's trust store, reloaded after a change
    of the PKI made through :meth:`pki_changed` (a revocation, a renewal)."""

    clock: Clock
    journal: Journal
    pki: Pki
    seed: int
    population: Population
    care_until: datetime | None = None  # no new care (visits, sick leaves) from then on
    _trust: TrustStore | None = field(default=None, repr=False)
    _roles: dict[str, str] | None = field(default=None, repr=False)
    _certificates: dict[str, x509.Certificate] = field(default_factory=dict, repr=False)

    def trust(self) -> TrustStore:
        if self._trust is None:
            self._trust = TrustStore.load(self.pki)
        return self._trust

    def role_of(self, ident: str) -> str:
        """A party's role, read from the PKI folder once (files are received by the thousand)."""
        if self._roles is None:
            self._roles = self.pki.parties()
        return self._roles[ident]

    def has_role(self, ident: str, role: str) -> bool:
        """Whether ``ident`` is a party of this PKI with ``role`` (False for any other id)."""
        if self._roles is None:
            self._roles = self.pki.parties()
        return self._roles.get(ident) == role

    def certificate(self, ident: str) -> x509.Certificate:
        """A party's current certificate, read from the PKI folder once."""
        if ident not in self._certificates:
            self._certificates[ident] = self.pki.certificate(ident)
        return self._certificates[ident]

    def pki_changed(self) -> None:
        """Forget what was read from the PKI folder (a revocation, a renewal)."""
        self._trust = None
        self._roles = None
        self._certificates.clear()

    def care_goes_on(self) -> bool:
        """False once the run's care period is over (it then only settles what is in flight)."""
        return self.care_until is None or self.clock.now() < self.care_until


class Actor:
    """One organisation of the network: its PKI identity, generator and journal voice."""

    role = "actor"

    def __init__(self, kernel: Kernel, ident: str) -> None:
        self.kernel = kernel
        self.id = ident
        self.rng: random.Random = generator(kernel.seed, ident)
        self._identity: Identity | None = None
        self.down_until: datetime | None = None  # an outage: its steps do not run until then
        self.skew = timedelta(0)  # how far this actor's own clock is off (a fault)
        #: works by the calendar of Alsace-Moselle (Good Friday and 26 December off): the
        #: caisses 57, 67 and 68 and the practitioners they manage
        self.alsace_moselle = False

    @property
    def clock(self) -> Clock:
        return self.kernel.clock

    def now(self) -> datetime:
        """The time as this actor's own clock reads it: the simulated time, plus its skew
        (the journal keeps the simulated time)."""
        return self.kernel.clock.now() + self.skew

    @property
    def identity(self) -> Identity:
        """The actor's key and certificate, read once (renewals go through :meth:`reload`)."""
        if self._identity is None:
            self._identity = self.kernel.pki.identity(self.id)
        return self._identity

    def reload(self) -> None:
        self._identity = None

    def log(self, kind: str, **fields: Any) -> int:
        return self.kernel.journal.record(self.id, kind, **fields)

    def archive(self, name: str, sealed: bytes | None, clear: bytes | None) -> str:
        return self.kernel.journal.archive(self.id, name, sealed, clear)

    def seal_for(self, recipient: str, content: bytes) -> bytes:
        """``content`` signed by this actor and encrypted for ``recipient``, whose certificate
        must be valid now (SealError otherwise)."""
        cert = self.kernel.certificate(recipient)
        return seal(content, self.identity, cert, self.kernel.trust(), self.now())

    def open(self, data: bytes) -> Opened:
        """Decrypt, verify and validate at simulated time, binding the signer to the declared
        sender; SealError on any failure."""
        return open_sealed(data, self.identity, self.kernel.trust(), self.now(), declared_parties)

    # -- scheduling ---------------------------------------------------------------------------

    def every_jour_ouvre(self, at: time, step: Callable[[], Awaitable[None]], label: str) -> None:
        """Run ``step`` at ``at`` on every jour ouvré from now on, as this actor's own
        clock reads the time (a skewed actor keeps its hours by a wrong clock)."""

        def schedule(after: datetime) -> None:
            own = next_jour_ouvre_at(after, at, self.alsace_moselle)
            self.clock.at(own - self.skew, run_and_reschedule, label)

        async def run_and_reschedule() -> None:
            if self.down_until is None or self.clock.now() >= self.down_until:
                await step()
            schedule(self.now() + timedelta(minutes=1))

        schedule(self.now())

    def start(self) -> None:
        """Schedule the actor's steps (each actor class adds its own)."""


def next_jour_ouvre_at(moment: datetime, at: time, alsace_moselle: bool = False) -> datetime:
    """The first time ``at`` on a jour ouvré (of Alsace-Moselle when asked) at or after
    ``moment``."""
    day = moment.date()
    while True:
        candidate = datetime.combine(day, at, tzinfo=moment.tzinfo)
        if candidate >= moment and is_jour_ouvre(day, alsace_moselle):
            return candidate
        day += timedelta(days=1)
