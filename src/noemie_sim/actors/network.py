"""A whole network, built from a configuration and run on the simulated clock.

:func:`run_network` is the Python entry point: it builds the population, the PKI, one hub per
caisse (an SFTP server on localhost, or in memory), the actors and their clients, runs them for
the configured number of jours ouvrés and returns the run folder and its journal. For tests and
scenarios that inject faults, :class:`Network` gives the same steps one by one::

    async with Network(config, folder) as network:
        network.at(when, network.revoke_action("123456789"), "revoke a PS")
        await network.run()

The run folder holds ``journal.sqlite``, ``files/`` (every exchanged file, sealed and clear),
``pki/`` and, over SFTP, ``hubs/<caisse>/`` (the mailboxes).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from noemie_sim.pki import attest
from noemie_sim.pki.authority import KeyPool, Pki
from noemie_sim.sim import packs
from noemie_sim.sim.calendar import add_jours_ouvres
from noemie_sim.sim.clock import Clock, real_ticks, stopwatch
from noemie_sim.sim.domain.population import Population, PopulationConfig, build
from noemie_sim.sim.journal import Journal
from noemie_sim.sim.norms import pack as norms_pack
from noemie_sim.sim.randomness import derived_seed
from noemie_sim.sim.transport.api import HubSide, MailboxClient
from noemie_sim.sim.transport.faults import FaultPlan, FaultProxy
from noemie_sim.sim.transport.memory import MemoryHub
from noemie_sim.sim.transport.rest import HttpWebhook, LocalWebhook, Webhook, WebhookServer
from noemie_sim.sim.transport.sftp_client import SftpClient
from noemie_sim.sim.transport.sftp_server import SftpHub

from . import rest as rest_documents
from .base import Actor, Kernel
from .cpam import Cpam, CpamBehaviour
from .employer import Employer, EmployerBehaviour
from .mutuelle import Mutuelle, MutuelleBehaviour
from .practitioner import Practitioner, PractitionerBehaviour

TRANSPORTS = ("sftp", "memory")
#: With a real clock (serve), how far past the real time a CRL stays valid, and how close to
#: its end a fresh one is published (checked every :data:`REAL_CRL_CHECK_SECONDS` real seconds)
REAL_CRL_DAYS = timedelta(days=7)
REAL_CRL_REFRESH = timedelta(days=6)
REAL_CRL_CHECK_SECONDS = 3600.0
#: The CAs publish fresh CRLs this long (simulated time) before those in force end: a run
#: longer than a CRL's validity (90 days) keeps one valid at its simulated time
CRL_RENEWAL_MARGIN = timedelta(days=7)


@dataclass(frozen=True)
class PractitionerGroup:
    """``count`` PS of one specialty sharing a behaviour."""

    count: int
    specialty: str
    behaviour: PractitionerBehaviour = field(default_factory=PractitionerBehaviour)


@dataclass(frozen=True)
class NetworkConfig:
    """Everything a run depends on. Same configuration, same journal digest."""

    seed: int = 1
    start: datetime = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # a Monday
    jours_ouvres: int = 5  # of care: PS bill, employees fall ill
    settle_jours_ouvres: int = 2  # then no new care, exchanges in flight complete
    speed: float | None = None  # None: virtual clock; N: simulated = real time x N
    transport: str = "sftp"
    population: PopulationConfig = field(default_factory=PopulationConfig)
    practitioner: PractitionerBehaviour = field(default_factory=PractitionerBehaviour)
    cpam: CpamBehaviour = field(default_factory=CpamBehaviour)
    mutuelle: MutuelleBehaviour = field(default_factory=MutuelleBehaviour)
    employer: EmployerBehaviour = field(default_factory=EmployerBehaviour)
    # when given, they replace the population's practitioners count and specialties
    practitioner_groups: tuple[PractitionerGroup, ...] = ()
    standby_hubs: bool = False  # each caisse runs a second SFTP server on the same mailboxes
    #: mutuelles that take their décomptes over REST/JSON (OC-N, the N-th, or an OC number);
    #: the others over SFTP
    rest_mutuelles: tuple[str, ...] = ()
    #: mutuelles that take their décomptes in NOEMIE OC form (OC-N or an OC number); the
    #: others in B2 form
    noemie_oc_mutuelles: tuple[str, ...] = ()
    fault_proxies: bool = False  # partners reach each hub through a fault proxy (network faults)

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise ValueError(f"transport is one of {', '.join(TRANSPORTS)}, not {self.transport!r}")
        if self.jours_ouvres < 1 or self.settle_jours_ouvres < 0:
            raise ValueError("a run lasts at least one jour ouvré, and settles 0 or more")
        if self.start.tzinfo is None:
            object.__setattr__(self, "start", self.start.replace(tzinfo=UTC))

    @property
    def care_until(self) -> datetime:
        return add_jours_ouvres(self.start, self.jours_ouvres)

    @property
    def end(self) -> datetime:
        return add_jours_ouvres(self.care_until, self.settle_jours_ouvres)

    def as_json(self) -> dict[str, Any]:
        """The configuration as JSON values, all of it."""
        result = _jsonable(dataclasses.asdict(self))
        assert isinstance(result, dict)
        return result

    def chained_json(self) -> dict[str, Any]:
        """What the journal's chain starts from: the configuration but how the run is watched
        (``speed``: scaled or virtual time changes when steps run, never which, so a run
        played at any speed replays identical)."""
        result = self.as_json()
        for watched in WATCHED:
            result.pop(watched)
        # a run without the REST channel or the NOEMIE OC form chains as it always did
        for added in ("rest_mutuelles", "noemie_oc_mutuelles"):
            if not result[added]:
                result.pop(added)
        return result


#: Settings of a run that say how it is watched, not what it does: out of the chain, kept in
#: the journal's run information (``watched``).
WATCHED = ("speed",)


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def population_of(config: NetworkConfig) -> PopulationConfig:
    """The population of a run: dated at its start, with its practitioner groups."""
    population = dataclasses.replace(config.population, reference_day=config.start.date())
    if config.practitioner_groups:
        specialties = tuple(g.specialty for g in config.practitioner_groups
                            for _ in range(g.count))  # fmt: skip
        population = dataclasses.replace(
            population, practitioners=len(specialties), specialties=specialties
        )
    return population


def population_parties(population: Population) -> list[tuple[str, str]]:
    """The (role, id) of every party of a population, in the order their certificates are
    issued: caisses, practitioners, mutuelles, employers."""
    return (
        [("cpam", c.organisme) for c in population.caisses]
        + [("ps", p.ps_number) for p in population.practitioners]
        + [("oc", m.oc_number) for m in population.mutuelles]
        + [("employer", e.siret) for e in population.employers]
    )


@dataclass
class RunResult:
    folder: Path
    journal: Journal
    digest: str
    counts: dict[str, int]


class Network:
    """A network being built, run and closed (an async context manager)."""

    def __init__(
        self,
        config: NetworkConfig,
        folder: Path | str,
        *,
        keys: KeyPool | None = None,
        extra_config: dict[str, Any] | None = None,
        externals: frozenset[str] = frozenset(),
        caisse_servers: dict[str, tuple[str, int, str]] | None = None,
        webhooks: dict[str, str] | None = None,
        pki_folder: Path | None = None,
        sftp_port: int | None = None,
        wall_clock: Callable[[], datetime] | None = None,
    ):
        self.config = config
        # a PKI made beforehand that holds every party of this network (a shard of a run
        # sharded by caisse shares its run's PKI); None: the network makes its own in folder/pki
        self.pki_folder = pki_folder
        self.extra_config = extra_config or {}
        # the port of the first caisse's hub (the others follow: N+1, ...); None: free ports
        self.sftp_port = sftp_port
        # the real clock, when real systems take part (serve): the PKI is then valid at the
        # real time they act at as well as at the simulated times (:meth:`_pki`)
        self.wall_clock = wall_clock
        # parties played by real systems: their actor is built (the population knows them,
        # a mutuelle's links are requested) but never started, and has no client
        self.externals = externals
        self.hub_info: dict[str, tuple[str, int, str]] = {}  # caisse -> host, port, known_hosts
        # an external caisse runs its own SFTP server: (host, port, known_hosts text)
        self.caisse_servers = caisse_servers or {}
        # an external mutuelle on the REST channel: the URL of its webhook
        self.webhooks = webhooks or {}
        self._webhook_server: WebhookServer | None = None
        self.folder = Path(folder)
        self.keys = keys
        self.clock = Clock(config.start, speed=config.speed)
        self.cpams: dict[str, Cpam] = {}
        self.practitioners: dict[str, Practitioner] = {}
        self.mutuelles: dict[str, Mutuelle] = {}
        self.employers: dict[str, Employer] = {}
        self._hubs: list[SftpHub] = []
        self._hub_of: dict[str, SftpHub | MemoryHub] = {}
        self._proxies: dict[str, FaultProxy] = {}
        self._clients: list[MailboxClient] = []
        self.kernel: Kernel | None = None
        self.harness: attest.Harness | None = None

    async def __aenter__(self) -> Network:
        try:
            await self.build()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    @property
    def journal(self) -> Journal:
        assert self.kernel is not None, "the network is not built"
        return self.kernel.journal

    @property
    def pki(self) -> Pki:
        assert self.kernel is not None, "the network is not built"
        return self.kernel.pki

    # -- building -----------------------------------------------------------------------------

    async def build(self) -> None:
        config = self.config
        population = build(config.seed, population_of(config))
        self.folder.mkdir(parents=True, exist_ok=True)
        journal = Journal(
            self.folder, self.clock.now, {"network": config.chained_json(), **self.extra_config}
        )
        journal.set_info("watched", {key: getattr(config, key) for key in WATCHED})
        pki = self._pki(population)
        # the harness's journal seal: a key kept outside the run folder (attest.local_harness)
        self.harness = attest.local_harness()
        harness = self.harness
        journal.signer = lambda data: attest.sign(harness, data)  # its checkpoints
        self.kernel = Kernel(self.clock, journal, pki, config.seed, population, config.care_until)
        self.clock.after_step = journal.commit
        journal.record(
            "network",
            "run-started",
            seed=config.seed,
            population=population.digest(),
            end=config.end.isoformat(),
            norms=norms_pack.active().digest,
        )
        packs.keep_with_run(self.folder)
        if self.pki_folder is None:  # a PKI given (a sharded run's) has CRLs for the whole run
            self._publish_crls_in_time()
        hubs: dict[str, HubSide] = {}
        connect: dict[str, Callable[[str], MailboxClient]] = {}
        roles = pki.parties()
        for party in sorted(self.externals):
            if party not in roles:
                raise ValueError(f"no party {party!r} in this network to leave external")
            if roles[party] == "cpam" and party not in self.caisse_servers:
                raise ValueError(f"{party} is an external caisse: give the address of its server")
        for n, caisse in enumerate(population.caisses):
            ident = caisse.organisme
            if ident in self.externals:
                connect[ident] = self._external_caisse(ident)
            else:
                port = 0 if self.sftp_port is None else self.sftp_port + n
                hubs[ident], connect[ident] = await self._hub(ident, port)
        kernel = self.kernel
        for caisse in population.caisses:
            if caisse.organisme in hubs:  # an external caisse has no actor here
                self.cpams[caisse.organisme] = Cpam(
                    kernel, caisse, hubs[caisse.organisme], config.cpam
                )
            else:
                journal.record("network", "external-party", party=caisse.organisme, role="cpam")
        behaviours = [g.behaviour for g in config.practitioner_groups for _ in range(g.count)]
        for n, who in enumerate(population.practitioners):
            client = self._client(connect[who.caisse], who.ps_number)
            behaviour = behaviours[n] if behaviours else config.practitioner
            self.practitioners[who.ps_number] = Practitioner(kernel, who, client, behaviour)
        for m in population.mutuelles:
            clients = {c: self._client(connect[c], m.oc_number) for c in sorted(connect)}
            self.mutuelles[m.oc_number] = Mutuelle(kernel, m, clients, config.mutuelle)
        for e in population.employers:
            client = self._client(connect[e.caisse], e.siret)
            self.employers[e.siret] = Employer(kernel, e, client, config.employer)
        self._decompte_forms(population)
        await self._rest_channel(population)
        for mutuelle in self.mutuelles.values():
            mutuelle.request_links(self.cpams)
        for cpam in self.cpams.values():
            cpam.announce_link_state()
        for actor in self.actors():
            if actor.id in self.externals:
                journal.record("network", "external-party", party=actor.id, role=actor.role)
            else:
                actor.start()
        journal.commit()

    def rest_mutuelles(self, population: Population) -> list[str]:
        """The mutuelles on the REST channel (the configuration's and the external ones given
        a webhook); ValueError naming one that is not a mutuelle of this network."""
        ids = [m.oc_number for m in population.mutuelles]
        chosen = set(self.webhooks) | mutuelles_named(self.config.rest_mutuelles, ids)
        for oc in sorted(chosen):
            if oc not in ids:
                raise ValueError(f"a webhook for {oc!r}, which is not a mutuelle here")
            if oc in self.externals and oc not in self.webhooks:
                raise ValueError(f"{oc} is an external mutuelle on the REST channel: give "
                                 "the URL of its webhook")  # fmt: skip
        return sorted(chosen)

    def _decompte_forms(self, population: Population) -> None:
        """Tell every caisse which mutuelles take their décomptes in NOEMIE OC form
        (journaled when there are any); ValueError naming one that is not a mutuelle here."""
        ids = [m.oc_number for m in population.mutuelles]
        chosen = sorted(mutuelles_named(self.config.noemie_oc_mutuelles, ids))
        if not chosen:
            return
        self.journal.record("network", "decompte-form", form="noemie-oc", mutuelles=chosen)
        for cpam in self.cpams.values():
            cpam.noemie_oc = set(chosen)

    async def _rest_channel(self, population: Population) -> None:
        """Give every caisse the webhook of each mutuelle on the REST channel: an external's
        URL; a simulated one's on a loopback HTTP server (over SFTP, the real transport) or
        in memory."""
        rest = self.rest_mutuelles(population)
        if not rest:
            return
        self.journal.record("network", "rest-channel", mutuelles=rest)
        if self.config.transport == "sftp" and set(rest) - set(self.webhooks):
            self._webhook_server = WebhookServer()
            await self._webhook_server.start()
        for oc in rest:
            hook: Webhook
            if oc in self.webhooks:
                hook = HttpWebhook(self.webhooks[oc])
            elif self._webhook_server is not None:
                hook = self._webhook_server.add(oc, self.mutuelles[oc].take_document)
            else:
                hook = LocalWebhook(self.mutuelles[oc].take_document)
            for cpam in self.cpams.values():
                cpam.webhooks[oc] = hook

    def accept_oc_answer(self, token: bytes, name: str = "") -> str | None:
        """An OC answer handed to the harness (``POST /api/oc/answers``: a mutuelle on the
        REST channel that answers after its webhook's reply), taken by the caisse it is
        addressed to, which reads it in full, and committed to the journal at once. The
        reason it was refused (what its sender may be told), or None when it was taken."""
        cpam = self.cpams.get(rest_documents.addressee(token) or "")
        if cpam is None:
            reason = ("the document names no caisse of this network as its receiver (or "
                      "cannot be read): a compact JWS of an OC answer")  # fmt: skip
            self.journal.record("network", "file-refused", sender="unknown", code="unroutable",
                                name=name or "answer", reason=reason)  # fmt: skip
            refused: str | None = reason
        else:
            refused = cpam.accept_answer(token, name)
        self.journal.commit()
        return refused

    def actors(self) -> list[Actor]:
        """Every actor, in the fixed order they were started (the order of same-instant steps)."""
        return [*self.cpams.values(), *self.practitioners.values(), *self.mutuelles.values(),
                *self.employers.values()]  # fmt: skip

    def _pki(self, population: Population) -> Pki:
        if self.pki_folder is not None:
            pki = Pki(self.pki_folder)
            issued = pki.parties()
            missing = [i for _, i in population_parties(population) if i not in issued]
            if missing:
                raise ValueError(f"the PKI {self.pki_folder} has no certificate for {missing[:3]}")
            return pki
        issued_at = self.config.start - timedelta(days=1)
        window = None
        if self.wall_clock is not None:
            # real systems check at the real time: certificates from before both clocks'
            # starts, CRLs covering the real time too (kept so by refresh_crls)
            issued_at = min(issued_at, self.wall_clock() - timedelta(days=1))
            window = self._real_crl_window
        pki = Pki.create(self.folder / "pki", issued_at, pool=self.keys, crl_window=window)
        pki.issue_many(population_parties(population), issued_at, pool=self.keys)
        return pki

    def _real_crl_window(self) -> tuple[datetime, datetime]:
        assert self.wall_clock is not None
        now = self.wall_clock()
        return now - timedelta(days=1), now + REAL_CRL_DAYS

    def _publish_crls_in_time(self) -> None:
        """Schedule the CAs' next CRL publication on the simulated clock, before the CRLs in
        force end, as a real PKI publishes them; each publication schedules the next. It
        never comes in a run shorter than a CRL's validity."""
        ends = min(c.next_update_utc for c in self.pki.current_crls() if c.next_update_utc)

        async def publish() -> None:
            self.pki.publish_crls(self.clock.now())
            assert self.kernel is not None
            self.kernel.pki_changed()
            valid = min(c.next_update_utc for c in self.pki.current_crls() if c.next_update_utc)
            self.journal.record("network", "crls-published", valid_until=valid.isoformat())
            self._publish_crls_in_time()

        self.clock.at(ends - CRL_RENEWAL_MARGIN, publish, "the CAs publish their CRLs")

    def refresh_crls(self) -> bool:
        """With a real clock (serve): publish fresh CRLs when those in force end within
        :data:`REAL_CRL_REFRESH` of the real time, so that a run served for days keeps a CRL
        valid at the real time. True when it published."""
        if self.wall_clock is None or self.kernel is None:
            return False
        ends = [c.next_update_utc for c in self.pki.current_crls()]
        if min(e for e in ends if e is not None) - self.wall_clock() > REAL_CRL_REFRESH:
            return False
        self.pki.publish_crls(self.clock.now())
        self.kernel.pki_changed()
        return True

    async def _hub(
        self, cpam: str, port: int = 0
    ) -> tuple[HubSide, Callable[[str], MailboxClient]]:
        """The caisse's hub (a mailbox for each partner of this network's population) on
        ``port`` (0: a free one) and a way to connect a partner to it. OSError when the port
        cannot be bound."""
        pki = self.pki
        assert self.kernel is not None
        partners = sorted(i for r, i in population_parties(self.kernel.population) if r != "cpam")
        if self.config.transport == "memory":
            memory = MemoryHub(partners)
            self._hub_of[cpam] = memory
            return memory, memory.client
        hub = SftpHub(pki, cpam, self.folder / "hubs" / cpam, self.clock.now,
                      on_event=self._hub_event, partners=partners)  # fmt: skip
        await hub.start(port=port)
        self._hubs.append(hub)
        self._hub_of[cpam] = hub
        known_hosts = hub.known_hosts_line() + "\n"
        self.hub_info[cpam] = (hub.host, hub.port, known_hosts)
        address = (hub.host, hub.port)
        if self.config.fault_proxies:
            proxy = FaultProxy(hub.port)
            await proxy.start()
            self._proxies[cpam] = proxy
            address = ("127.0.0.1", proxy.port)
            known_hosts += f"[127.0.0.1]:{proxy.port} {known_hosts.split(' ', 1)[1]}"
        backups: list[tuple[str, int]] = []
        if self.config.standby_hubs:
            # the same mailboxes (same folder, same host key) served by a second server
            standby = SftpHub(pki, cpam, self.folder / "hubs" / cpam, self.clock.now,
                              on_event=self._hub_event, partners=partners,
                              disk=hub.disk)  # fmt: skip
            await standby.start()
            self._hubs.append(standby)
            backups.append((standby.host, standby.port))
            known_hosts += standby.known_hosts_line() + "\n"

        def connect(partner: str) -> MailboxClient:
            key = (pki.folder / "parties" / partner / "key.pem").read_bytes()

            def on_event(kind: str, **details: Any) -> None:
                if kind == "failover":
                    # the server by its role: its port differs from run to run (evidence)
                    server = "standby" if details.get("endpoint") else "primary"
                    self.journal.record(partner, "failover", hub=cpam, to=server,
                                        evidence={"address": details["to"]})  # fmt: skip

            return SftpClient(
                *address,
                partner,
                key,
                known_hosts,
                attempts=3,
                backoff=0.05,
                timeout=30.0,
                backups=backups,
                on_event=on_event,
                key_checked=True,  # made by this run's PKI
            )

        return hub.disk, connect

    def _external_caisse(self, cpam: str) -> Callable[[str], MailboxClient]:
        """Partners of an external caisse connect to its own server, as SFTP clients."""
        host, port, known_hosts = self.caisse_servers[cpam]
        self.hub_info[cpam] = (host, port, known_hosts)
        pki = self.pki

        def connect(partner: str) -> MailboxClient:
            key = (pki.folder / "parties" / partner / "key.pem").read_bytes()
            return SftpClient(
                host, port, partner, key, known_hosts, attempts=3, backoff=0.05, key_checked=True
            )

        return connect

    def _client(self, connect: Callable[[str], MailboxClient], partner: str) -> MailboxClient:
        if partner in self.externals:
            return MemoryHub([partner]).client(partner)  # never used: the actor never runs
        client = connect(partner)
        self._clients.append(client)
        return client

    def _hub_event(self, kind: str, **details: Any) -> None:
        """Security events of the SFTP hubs go to the journal (logins and deliveries are the
        actors' own events). Not the logins that never completed, nor the removal of stale
        .part files: here every partner holds its right key, so both come only from
        connections cut by network faults, whose count depends on SSH padding (random), and
        the chain must be the same for the same seed.

        An external party's own actions have no actor here to journal them: the hub tells
        when it has read a file of its ``retour/`` whole (``file-fetched``) or removed it
        (``file-removed``), which is how a real partner takes delivery; its conformance and
        the run's count of lost files read them."""
        if kind in ("fetched", "removed") and self.kernel:
            partner = str(details["partner"])
            if partner in self.externals:
                self.journal.record(partner, f"file-{kind}", name=details["name"],
                                    hub=details["hub"])  # fmt: skip
            return
        if kind not in ("login-refused", "confinement", "sessions-closed") or not self.kernel:
            return
        if details.get("by") == "watch":
            # the hub's real-time watch (sessions of a partner refused since, found idle):
            # when it looks depends on real time; the network revalidates at its own steps
            return
        if str(details.get("reason", "")).startswith("authentication failed"):
            return
        hub = str(details.pop("hub"))
        self.journal.record(hub, kind, **details)

    # -- running ------------------------------------------------------------------------------

    def at(self, when: datetime, action: Callable[[], Awaitable[None] | None], label: str) -> None:
        """Run ``action`` at simulated time ``when`` (a fault, an operator's action), after
        the steps already scheduled for that instant; journaled as a ``fault``."""

        async def step() -> None:
            self.journal.record("network", "fault", label=label)
            result = action()
            if result is not None:
                await result

        self.clock.at(when, step, label)

    @property
    def sftp_hubs(self) -> tuple[SftpHub, ...]:
        """The caisses' SFTP servers (primaries and standbys), while the network is open."""
        return tuple(self._hubs)

    def revoke(self, party: str) -> None:
        """Revoke ``party``'s certificate now (simulated time), publish the CRL, and close
        the party's open SFTP sessions (new logins are refused by the hubs)."""
        self.pki.revoke(party, self.clock.now())
        assert self.kernel is not None
        self.kernel.pki_changed()
        self.journal.record("network", "certificate-revoked", party=party)
        for sftp_hub in self._hubs:  # primaries and standbys
            sftp_hub.revalidate()
        for hub in self._hub_of.values():
            if isinstance(hub, MemoryHub):
                hub.refuse(party, "certificate revoked")

    def outage(self, cpam: str, duration: timedelta) -> None:
        """Stop the caisse's hub now for ``duration``: partners' transfers fail (and are
        retried by them); the caisse itself still works on what it holds."""
        hub = self._hub_of[cpam]
        until = self.clock.now() + duration
        self.journal.record("network", "outage", party=cpam, until=until.isoformat())
        if isinstance(hub, MemoryHub):
            hub.down = True
        else:
            port = hub.port

            async def stop() -> None:
                await hub.close()

            self.clock.at(self.clock.now(), stop, f"{cpam} hub stops")

        async def restore() -> None:
            if isinstance(hub, MemoryHub):
                hub.down = False
            else:
                await hub.start(hub.host, port)
            self.journal.record("network", "outage-ended", party=cpam)

        self.clock.at(until, restore, f"{cpam} hub back")

    def network_faults(
        self, cpam: str, duration: timedelta, *, cut_rate: float, latency: float
    ) -> None:
        """For ``duration``, connections to the caisse's hub are cut at random (``cut_rate``
        of them, mid-transfer) and delayed by ``latency`` seconds per chunk; open ones are
        reset at the start. Needs ``fault_proxies`` (SFTP only); partners retry."""
        proxy = self._proxies.get(cpam)
        if proxy is None:
            raise ValueError("network faults need the SFTP transport with fault proxies")
        until = self.clock.now() + duration
        self.journal.record("network", "network-faults", party=cpam, until=until.isoformat(),
                            cut_rate=cut_rate, latency=latency)  # fmt: skip
        seed = derived_seed(self.config.seed, f"network-faults/{cpam}/{self.clock.now()}")
        proxy.plan = FaultPlan(seed=seed, cut_rate=cut_rate, latency=latency,
                               cut_min=512, cut_max=16 * 1024)  # fmt: skip

        async def shake() -> None:
            # reset open connections every half hour: partners' next connections draw toxics
            if self.clock.now() < until:
                proxy.set_down(True)
                proxy.set_down(False)
                self.clock.after(timedelta(minutes=30), shake, f"{cpam} network shakes")

        self.clock.at(self.clock.now(), shake, f"{cpam} network shakes")

        cuts_before = proxy.cuts

        async def calm() -> None:
            proxy.plan = FaultPlan()
            # how many connections were cut depends on SSH's random padding: evidence only
            self.journal.record("network", "network-faults-ended", party=cpam,
                                evidence={"connections_cut": proxy.cuts - cuts_before})  # fmt: skip

        self.clock.at(until, calm, f"{cpam} network calm")

    def take_down(self, party: str, duration: timedelta) -> None:
        """Stop ``party``'s actor for ``duration`` from now (a crash, an outage): its steps do
        not run; files sent to it wait in its mailboxes."""
        actor = next((a for a in self.actors() if a.id == party), None)
        if actor is None:
            raise ValueError(f"no actor {party!r} in this network")
        actor.down_until = self.clock.now() + duration
        self.journal.record("network", "actor-down", party=party,
                            until=actor.down_until.isoformat())  # fmt: skip

    async def run(self) -> RunResult:
        """Run until the configured end; the result's digest is the journal's."""
        timer = stopwatch()
        keeper = None
        if self.wall_clock is not None:
            keeper = asyncio.create_task(self._keep_crls_fresh())
        try:
            await self.clock.run_until(self.config.end)
        finally:
            if keeper is not None:
                keeper.cancel()
        journal = self.journal
        journal.set_info("wall_seconds", round(timer(), 3))
        counts = self.counts()
        harness = self.harness
        now = self.clock.now()
        journal.close_run(
            (lambda data: attest.sign(harness, data)) if harness else None,
            steps=self.clock.steps_run,
            counts=counts,
            # a run stopped before its end (serve, Ctrl-C) still closes its journal
            reached_end=now >= self.config.end,
        )
        return RunResult(self.folder, journal, journal.digest(), counts)

    async def _keep_crls_fresh(self) -> None:
        async for _elapsed in real_ticks(REAL_CRL_CHECK_SECONDS):
            self.refresh_crls()

    def counts(self) -> dict[str, int]:
        """What the run moved, from the journal."""
        rows = self.journal.db.execute(
            "SELECT kind, count(*) FROM events WHERE kind IN "
            "('file-sent', 'lot-sent', 'invoice-billed', 'decompte-sent', 'ij-sent') GROUP BY kind"
        )
        found = dict(rows.fetchall())
        return {
            "files": found.get("file-sent", 0),
            "lots": found.get("lot-sent", 0),
            "invoices": found.get("invoice-billed", 0),
            "decomptes": found.get("decompte-sent", 0),
            "ij": found.get("ij-sent", 0),
        }

    async def close(self) -> None:
        for client in self._clients:
            await client.close()
        self._clients = []
        for proxy in self._proxies.values():
            await proxy.close()
        self._proxies = {}
        for hub in self._hubs:
            await hub.close()
        self._hubs = []
        if self._webhook_server is not None:
            await self._webhook_server.close()
            self._webhook_server = None
        if self.kernel is not None:
            self.kernel.journal.commit()


async def run_network(
    config: NetworkConfig, folder: Path | str, *, keys: KeyPool | None = None
) -> RunResult:
    """Build the network of ``config`` in ``folder``, run it to its end and close it."""
    async with Network(config, folder, keys=keys) as network:
        return await network.run()


def mutuelles_named(named: tuple[str, ...], ids: list[str]) -> set[str]:
    """The OC numbers of the mutuelles ``named`` (OC-N, the N-th of ``ids``, or an OC
    number); ValueError naming one that is not a mutuelle of this network."""
    chosen = set()
    for who in named:
        prefix, _, number = who.rpartition("-")
        if prefix == "OC" and number.isdigit() and 1 <= int(number) <= len(ids):
            chosen.add(ids[int(number) - 1])
        elif who in ids:
            chosen.add(who)
        else:
            raise ValueError(f"{who!r} is not a mutuelle of this network (OC-1 to "
                             f"OC-{len(ids)}, or an OC number)")  # fmt: skip
    return chosen
