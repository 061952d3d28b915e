"""The exchange fabric in memory: the semantics of the SFTP hub without sockets or files, for
fast tests and deterministic runs."""

from __future__ import annotations

from .api import AlreadyDelivered, Refused, TransportError
from .names import DEPOT, RETOUR, check_name, is_final, part_name


class MemoryHub:
    """Mailboxes of a hub, as dictionaries: partner -> folder -> name -> bytes."""

    def __init__(self, partners: list[str], max_file_size: int = 64 * 1024 * 1024) -> None:
        self.boxes: dict[str, dict[str, dict[str, bytes]]] = {
            p: {DEPOT: {}, RETOUR: {}} for p in partners
        }
        self.max_file_size = max_file_size
        self.down = False  # a hub outage: every client operation fails, retryable
        self.refused: dict[str, str] = {}  # partner -> why its login is refused

    def partners(self) -> list[str]:
        return sorted(self.boxes)

    def _box(self, partner: str) -> dict[str, dict[str, bytes]]:
        try:
            return self.boxes[partner]
        except KeyError:
            raise Refused(f"no mailbox for {partner!r}") from None

    def list_depot(self, partner: str) -> list[str]:
        return sorted(n for n in self._box(partner)[DEPOT] if is_final(n))

    def depot_size(self, partner: str, name: str) -> int:
        return len(self._box(partner)[DEPOT][name])

    def read_depot(self, partner: str, name: str) -> bytes:
        return self._box(partner)[DEPOT][check_name(name)]

    def consume(self, partner: str, name: str) -> None:
        del self._box(partner)[DEPOT][check_name(name)]

    def post(self, partner: str, name: str, data: bytes) -> None:
        _publish(self._box(partner)[RETOUR], name, data)

    def refuse(self, partner: str, reason: str) -> None:
        """Refuse every operation of ``partner`` from now on (its login would be refused)."""
        self.refused[partner] = reason

    def client(self, partner: str) -> MemoryClient:
        self._box(partner)
        return MemoryClient(self, partner)


def _publish(folder: dict[str, bytes], name: str, data: bytes) -> None:
    """Write ``name.part`` then rename it to ``name`` unless it exists."""
    part = part_name(name)
    folder[part] = bytes(data)
    if name in folder:
        del folder[part]
        raise AlreadyDelivered(f"{name} exists")
    folder[name] = folder.pop(part)


class MemoryClient:
    """A partner's client on a :class:`MemoryHub`."""

    def __init__(self, hub: MemoryHub, partner: str) -> None:
        self.hub = hub
        self.partner = partner

    def _folder(self, folder: str) -> dict[str, bytes]:
        if self.hub.down:
            raise TransportError("hub unreachable")
        if self.partner in self.hub.refused:
            raise Refused(f"login refused for {self.partner}: {self.hub.refused[self.partner]}")
        return self.hub.boxes[self.partner][folder]

    async def send(self, name: str, data: bytes) -> None:
        if len(data) > self.hub.max_file_size:
            raise Refused(f"{name}: {len(data)} bytes exceed the hub's limit")
        _publish(self._folder(DEPOT), name, data)

    async def list_incoming(self) -> list[str]:
        return sorted(n for n in self._folder(RETOUR) if is_final(n))

    async def receive(self, name: str) -> bytes:
        check_name(name)
        try:
            return self._folder(RETOUR)[name]
        except KeyError:
            raise Refused(f"no file {name} in retour") from None

    async def delete(self, name: str) -> None:
        self._folder(RETOUR).pop(check_name(name), None)

    async def close(self) -> None:
        return None
