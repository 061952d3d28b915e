"""Re-sending a recorded run's traffic to an external system.

``replay_traffic(run_dir, party)`` serves the run's caisses again (SFTP on localhost, the run's
PKI, each caisse's host key) and puts in ``party``'s ``retour/`` every file the run sent it,
byte for byte as sealed then, in their simulated order and with their relative timing (divided
by ``speed``). What the party uploads meanwhile is taken from its ``depot/``, opened as its
caisse would, and journaled. A vendor who fixed a bug replays the exact traffic that showed it,
with the kit of that run.

Its own journal goes to ``RUN_DIR/replays/N/``; the recorded run is never modified.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from noemie_sim.pki.authority import Pki
from noemie_sim.pki.cms import open_sealed
from noemie_sim.pki.errors import PkiError, SealError
from noemie_sim.pki.validation import TrustStore
from noemie_sim.sim.clock import Clock
from noemie_sim.sim.journal import Journal, open_journal
from noemie_sim.sim.norms.kinds import declared_parties
from noemie_sim.sim.transport.sftp_server import SftpHub


@dataclass(frozen=True)
class Recorded:
    at: datetime
    caisse: str
    name: str
    sealed: Path


def recorded_traffic(run_dir: Path, party: str) -> list[Recorded]:
    """The files the run sent to ``party``, in order; JournalError for a run folder whose
    journal is missing or altered, ValueError when the party received nothing."""
    journal = open_journal(run_dir)
    try:
        journal.verify()
        files = [
            Recorded(e.at, e.actor, str(e.details["name"]), run_dir / str(e.details["archive"]))
            for e in journal.events("file-sent")
            if e.details.get("to") == party
        ]
    finally:
        journal.db.close()
    if not files:
        raise ValueError(f"the run sent no file to {party}")
    return files


async def replay_traffic(
    run_dir: Path | str,
    party: str,
    *,
    speed: float = 60.0,
    ports: dict[str, int] | None = None,
    linger: timedelta = timedelta(hours=4),
    on_ready: Callable[[dict[str, SftpHub], Clock], None] | None = None,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
) -> Path:
    """Replay to ``party`` (see the module docstring); runs until ``linger`` simulated time
    after the last file. Returns the replay's folder (its journal)."""
    run_dir = Path(run_dir)
    try:
        pki = Pki(run_dir / "pki")
        role = pki.role_of(party)
    except PkiError as exc:
        raise ValueError(str(exc)) from None
    files = recorded_traffic(run_dir, party)
    replays = run_dir / "replays"
    replays.mkdir(exist_ok=True)
    folder = replays / str(len(list(replays.iterdir())) + 1)
    clock = Clock(files[0].at - timedelta(minutes=1), speed=speed)
    journal = Journal(folder, clock.now, {"replay-of": str(run_dir.name), "party": party})
    hubs: dict[str, SftpHub] = {}
    try:
        for caisse in sorted({f.caisse for f in files}):
            data = folder / "hubs" / caisse
            host_key = run_dir / "hubs" / caisse / ".ssh" / "host_key"
            if host_key.exists():  # the run's host key: the kit's known_hosts still trusts it
                (data / ".ssh").mkdir(parents=True, exist_ok=True, mode=0o700)
                shutil.copy2(host_key, data / ".ssh" / "host_key")
            hub = SftpHub(pki, caisse, data, clock.now)
            await hub.start(port=(ports or {}).get(caisse, 0))
            hubs[caisse] = hub
            journal.record("replay", "serving", caisse=caisse, port=hub.port)
        if on_ready is not None:
            on_ready(hubs, clock)
        trust = TrustStore.load(pki)

        def tell(kind: str, **details: Any) -> None:
            journal.record("replay", kind, **details)
            if on_event is not None:
                on_event(kind, details)

        def collect() -> None:
            for caisse, hub in hubs.items():
                for name in hub.disk.list_depot(party):
                    data = hub.disk.read_depot(party, name)
                    try:
                        me = pki.identity(caisse)
                        opened = open_sealed(data, me, trust, clock.now(), declared_parties)
                        tell("received", caisse=caisse, name=name, sender=opened.sender,
                             size=len(opened.content))  # fmt: skip
                    except SealError as exc:
                        tell("refused", caisse=caisse, name=name, code=exc.code)
                    hub.disk.consume(party, name)

        for n, recorded in enumerate(files, start=1):

            async def post(recorded: Recorded = recorded, n: int = n) -> None:
                collect()
                hubs[recorded.caisse].disk.post(party, recorded.name, recorded.sealed.read_bytes())
                tell("posted", caisse=recorded.caisse, name=recorded.name, number=n,
                     of=len(files), recorded_at=recorded.at.isoformat())  # fmt: skip

            clock.at(recorded.at, post, recorded.name)
        end = files[-1].at + linger
        moment = files[0].at
        while moment < end:  # read what the party sends back, every simulated 10 minutes

            async def poll() -> None:
                collect()

            clock.at(moment, poll, "collect")
            moment += timedelta(minutes=10)
        await clock.run_until(end)
        collect()
        tell("ended", role=role, files=len(files))
    finally:
        for hub in hubs.values():
            await hub.close()
        journal.close()
    return folder
