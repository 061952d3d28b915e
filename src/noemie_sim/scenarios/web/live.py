"""A run as the HTTP API sees and steers it: its network once built, its journal as it
grows, its clock, its faults, its verdict so far, and the end of the serving.

Everything here runs in the simulation's own event loop (the API is served by uvicorn in that
loop), so a request is handled between two awaits of the run: reading the journal or the
archives never races a step. Steering the clock changes when steps run, never which ones nor
their order (:mod:`noemie_sim.sim.clock`); a fault injected through the API is journaled like
a scenario's, so the journal says what was done to the run.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from noemie_sim.actors.network import Network
from noemie_sim.scenarios.i18n import Language
from noemie_sim.scenarios.reports.narration import Narrator, chapter_of
from noemie_sim.scenarios.runner import inject_fault, report, report_so_far
from noemie_sim.scenarios.schema import Fault, Scenario
from noemie_sim.sim.journal import Event, Journal, open_journal
from noemie_sim.sim.transport.sftp_server import SftpHub

#: an archived file: files/<actor>/<NNNNNN>-<name>[.clear]
_ARCHIVE = re.compile(r"(\d{6})-(.+)")


@dataclass(frozen=True)
class ArchivedFile:
    """One file of the run's archive (:meth:`noemie_sim.sim.journal.Journal.archive`): its
    number (unique in the run), the actor that kept it, its name, and which copies exist."""

    id: str
    actor: str
    name: str
    sealed: Path | None
    clear: Path | None

    @property
    def stem(self) -> str:
        """Its path in the run folder, as the journal's events name it."""
        return f"files/{self.actor}/{self.id}-{self.name}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "actor": self.actor,
            "name": self.name,
            "sealed_bytes": self.sealed.stat().st_size if self.sealed else None,
            "clear_bytes": self.clear.stat().st_size if self.clear else None,
            "path": self.stem,
        }


def archived_files(run: Path) -> list[ArchivedFile]:
    """Every archived file of run folder ``run``, in the order they were kept."""
    return _archived((run / "files").glob("*/*"))


def _archived(paths: Iterable[Path]) -> list[ArchivedFile]:
    """The archived files among ``paths`` (``files/<actor>/N-name`` and its ``.clear``), by
    number."""
    copies: dict[str, tuple[str, str, dict[bool, Path]]] = {}
    for path in paths:
        match = _ARCHIVE.fullmatch(path.name)
        if match is None or path.name.endswith(".part"):
            continue
        number, name = match.groups()
        clear = name.endswith(".clear")
        copies.setdefault(number, (path.parent.name, name.removesuffix(".clear"), {}))[2][clear] = (
            path
        )
    return [
        ArchivedFile(number, actor, name, kept.get(False), kept.get(True))
        for number, (actor, name, kept) in sorted(copies.items())
    ]


def event_json(
    e: Event, text: str | None = None, chapter: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An event as the API shows it (``text``: its narration, when it is told; ``chapter``:
    the chapter of the guided tour it opens or goes on with)."""
    result = {
        "seq": e.seq,
        "at": e.at.isoformat(),
        "actor": e.actor,
        "kind": e.kind,
        "file": e.file,
        "lot": e.lot,
        "invoice": e.invoice,
        "assure": e.assure,
        "oc": e.oc,
        "details": e.details,
    }
    archive = e.details.get("archive")
    if isinstance(archive, str):
        match = _ARCHIVE.fullmatch(archive.rsplit("/", 1)[-1])
        result["archive_id"] = match.group(1) if match else None
    if text is not None:
        result["text"] = text
    if chapter is not None:
        result["chapter"] = chapter
    return result


def concerns(e: Event, party: str) -> bool:
    """Whether event ``e`` was sent to or by ``party``: its actor, the addressee, sender or
    partner it names, the émetteur of the file or lot it names (``PARTY/N``), or its OC."""
    if party in (e.actor, e.oc):
        return True
    if party in (e.details.get("to"), e.details.get("sender"), e.details.get("partner")):
        return True
    return any(str(ident).split("/", 1)[0] == party for ident in (e.file, e.lot) if ident)


class LiveRun:
    """The state the API serves. ``attach`` is given the network once built (``play``'s
    ``on_built``); ``finish`` the final report once the run has ended and its journal is
    closed; ``stop_requested`` is set by ``POST /api/stop`` or Ctrl-C."""

    def __init__(
        self, scenario: Scenario, folder: Path, mode: str, lang: Language | None = None
    ) -> None:
        self.scenario = scenario
        self.folder = folder
        self.mode = mode  # the command that serves it: demo, run or serve
        self.network: Network | None = None
        #: the caisses' SFTP servers, kept after the run closes them (their counters)
        self.hubs: tuple[SftpHub, ...] = ()
        self.kits: dict[str, Path] = {}
        self.narrator = Narrator(lang=lang)
        self.final: dict[str, Any] | None = None  # the report, once the run has ended
        self.stop_requested = asyncio.Event()
        self.ended = asyncio.Event()  # set once the final report is there
        self._journal: Journal | None = None  # the finished run's journal, read back
        self._news = asyncio.Event()  # set at each event, then replaced: wakes the streams
        self._awaited: list[tuple[Callable[[Event], bool], asyncio.Future[int]]] = []

    # -- the run's course ---------------------------------------------------------------------

    def attach(self, network: Network) -> None:
        self.network = network
        self.hubs = network.sftp_hubs
        self.narrator.learn(network)
        network.journal.listeners.append(self._heard)

    def _heard(self, e: Event) -> None:
        for wanted, waiter in self._awaited:
            if wanted(e) and not waiter.done():
                waiter.set_result(e.seq)
                assert self.network is not None
                self.network.clock.pause()  # after this step: the caller sees the event
        self._awaited = [(k, w) for k, w in self._awaited if not w.done()]
        self._wake()

    def finish(self) -> None:
        """The run has ended and its journal is closed: serve its final report from now on."""
        self.final = report(self.folder)
        self.ended.set()
        for _kind, waiter in self._awaited:
            if not waiter.done():
                waiter.set_result(0)
        self._wake()

    def request_stop(self) -> None:
        """Stop the run if it goes on (an incomplete run), then the serving."""
        if self.network is not None and self.network.clock.running:
            self.network.clock.stop()
        self.stop_requested.set()
        self._wake()

    def _wake(self) -> None:
        self._news.set()
        self._news = asyncio.Event()

    def news(self) -> asyncio.Event:
        """Set at the next event, the end of the run or a stop request (take it before
        reading what there is, then wait on it)."""
        return self._news

    @property
    def state(self) -> str:
        """starting, running, paused, ended (the report is final) or stopping."""
        if self.final is not None:
            return "ended"
        if self.network is None:
            return "starting"
        if self.stop_requested.is_set():
            return "stopping"
        return "paused" if self.network.clock.paused else "running"

    @property
    def live(self) -> bool:
        """True while the run's clock runs (paused included)."""
        return self.final is None and self.network is not None and self.network.clock.running

    # -- reading ------------------------------------------------------------------------------

    def journal(self) -> Journal:
        """The journal: the run's own while it goes on, read back from the folder after."""
        if self.final is None and self.network is not None:
            return self.network.journal
        if self._journal is None:
            self._journal = open_journal(self.folder)
        return self._journal

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def narrate(self, e: Event) -> str | None:
        return self.narrator.line(e)

    def shown(self, e: Event) -> dict[str, Any]:
        """An event as the API and the page show it: told, with its chapter of the tour."""
        chapter = chapter_of(e)
        told = chapter.told(self.narrator.lang) if chapter is not None else None
        return event_json(e, self.narrator.line(e), told)

    def files(self, actor: str | None = None) -> list[ArchivedFile]:
        """Every archived file, in the order they were kept (of ``actor`` if given)."""
        return _archived((self.folder / "files").glob(f"{actor or '*'}/*"))

    def file(self, number: str) -> ArchivedFile | None:
        """The archived file numbered ``number`` (6 digits), None when there is none."""
        if not re.fullmatch(r"\d{6}", number):
            return None
        found = _archived((self.folder / "files").glob(f"*/{number}-*"))
        return found[0] if found else None

    def events_of_file(self, archived: ArchivedFile) -> list[Event]:
        """The events that name this archived copy (sent or received)."""
        return self.journal().select(
            where={"actor": archived.actor}, detail_equals={"archive": archived.stem}
        )

    # -- steering -----------------------------------------------------------------------------

    async def settled(self) -> None:
        """Return once the run's clock runs on (paused), or, when the run has ended, once
        its final report is there (or the serving is stopping): what an answer then says
        (the verdict above all) is final."""
        assert self.network is not None
        if self.network.clock.running or self.ended.is_set():
            return
        ended = asyncio.ensure_future(self.ended.wait())
        stopping = asyncio.ensure_future(self.stop_requested.wait())
        await asyncio.wait([ended, stopping], return_when=asyncio.FIRST_COMPLETED)
        for waiting in (ended, stopping):
            waiting.cancel()

    def network_or_none(self) -> Network | None:
        return self.network if self.live else None

    async def advance_until_event(
        self, kind: str, party: str | None = None, until: datetime | None = None
    ) -> int | None:
        """Virtual clock: run until an event of ``kind`` is recorded (sent to or by ``party``
        when given: :func:`concerns`), then pause after its step. With ``until``, pause
        there if no such event came first. Returns its sequence number; 0 when the run ended
        first; None when ``until`` was reached first."""
        assert self.network is not None
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def wanted(e: Event) -> bool:
            return e.kind == kind and (party is None or concerns(e, party))

        self._awaited.append((wanted, waiter))
        if until is None:
            self.network.clock.resume()
            seq = await waiter
        else:
            self.network.clock.advance(until)
            await self.network.clock.parked()
            if not waiter.done():
                self._awaited = [(w, f) for w, f in self._awaited if f is not waiter]
                return None
            seq = waiter.result()
        await self.network.clock.parked()
        return seq

    async def advance_to(self, when: datetime) -> None:
        """Virtual clock: run every step up to ``when``, then pause there."""
        assert self.network is not None
        self.network.clock.advance(when)
        await self.network.clock.parked()

    def inject(self, fault: Fault) -> str:
        """Inject ``fault`` now; the id of the party it targets."""
        assert self.network is not None
        return inject_fault(self.network, fault).id

    def report(self) -> dict[str, Any]:
        """The final report once the run has ended; until then, the report so far."""
        if self.final is not None:
            return self.final
        assert self.network is not None
        return report_so_far(self.network, self.scenario)
