"""Fixtures' helpers for the transport tests: a hub of either kind behind one interface."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from noemie_sim.pki.authority import Pki
from noemie_sim.sim.transport.api import HubSide, MailboxClient
from noemie_sim.sim.transport.memory import MemoryHub
from noemie_sim.sim.transport.names import RETOUR
from noemie_sim.sim.transport.sftp_client import SftpClient
from noemie_sim.sim.transport.sftp_server import Limits, ServerFaults, SftpHub

from .pki_helpers import CPAM, T0

NOW = T0 + timedelta(days=1)


@dataclass
class Fabric:
    """A hub and a way to get a client for a partner, whatever the transport."""

    hub: HubSide
    client: Callable[[str], MailboxClient]
    plant: Callable[[str, str, str, bytes], None]  # partner, folder, name, data: behind the API


@asynccontextmanager
async def memory_fabric(pki: Pki, limits: Limits | None = None) -> AsyncIterator[Fabric]:
    partners = sorted(i for i, r in pki.parties().items() if r != "cpam")
    hub = MemoryHub(partners, max_file_size=(limits or Limits()).max_file_size)

    def plant(partner: str, folder: str, name: str, data: bytes) -> None:
        hub.boxes[partner][folder][name] = data

    yield Fabric(hub, hub.client, plant)


def sftp_client(
    pki: Pki, hub: SftpHub, partner: str, port: int | None = None, **options: object
) -> SftpClient:
    key = (pki.folder / "parties" / partner / "key.pem").read_bytes()
    port = port or hub.port
    known = hub.known_hosts_line().replace(f"]:{hub.port} ", f"]:{port} ")  # via a proxy, maybe
    return SftpClient("127.0.0.1", port, partner, key, known, **options)  # type: ignore[arg-type]


@asynccontextmanager
async def sftp_fabric(
    pki: Pki,
    data: Path,
    limits: Limits | None = None,
    faults: ServerFaults | None = None,
    events: list[tuple[str, dict[str, object]]] | None = None,
) -> AsyncIterator[Fabric]:
    sink = None if events is None else (lambda kind, **kw: events.append((kind, kw)))
    hub = SftpHub(pki, CPAM, data, lambda: NOW, on_event=sink, limits=limits, faults=faults)
    await hub.start()
    clients: list[SftpClient] = []

    def client(partner: str) -> MailboxClient:
        made = sftp_client(pki, hub, partner)
        clients.append(made)
        return made

    def plant(partner: str, folder: str, name: str, content: bytes) -> None:
        (hub.disk.root / partner / folder / name).write_bytes(content)

    try:
        yield Fabric(hub.disk, client, plant)
    finally:
        for made in clients:
            await made.close()
        await hub.close()


__all__ = ["RETOUR", "Fabric", "memory_fabric", "sftp_client", "sftp_fabric"]
