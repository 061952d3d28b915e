"""What the actors see of the exchange fabric, the same over SFTP and in memory.

A hub (one per CPAM) holds a mailbox per partner with ``depot/`` (what the partner sends) and
``retour/`` (what it receives). The partner side is a :class:`MailboxClient`; the CPAM side,
which runs the hub, uses :class:`HubSide` on the same mailboxes.

Semantics both implementations guarantee (tests/test_transport_conformance.py):

* a file becomes visible only when complete: it is written under ``NAME.part`` and published
  by an atomic, no-clobber rename; ``.part`` names are never listed;
* publishing a name that already exists fails with :class:`AlreadyDelivered` (a resend of a
  file already delivered; the receiver dedupes anyway);
* names follow :mod:`.names`; anything else is refused with InvalidName;
* a partner reaches only its own mailbox.
"""

from __future__ import annotations

from typing import Protocol


class TransportError(Exception):
    """A transfer that failed; ``retryable`` when sending again may succeed (connection lost,
    server down), false when it never will (refused login, invalid name, limits)."""

    retryable = True


class AlreadyDelivered(TransportError):
    """The final name exists: this file was delivered before."""

    retryable = False


class Refused(TransportError):
    """The hub refused the operation or the login; retrying will not help."""

    retryable = False


class Changed(Refused):
    """A file of a depot whose content is not what the hub delivered (changed after the
    rename that published it): the caisse refuses it with this reason."""


class MailboxClient(Protocol):
    """A partner's view of its mailbox on one hub."""

    async def send(self, name: str, data: bytes) -> None:
        """Publish ``data`` as ``depot/name``: upload to ``name.part``, then rename."""

    async def list_incoming(self) -> list[str]:
        """Final names in ``retour/``, sorted."""

    async def receive(self, name: str) -> bytes:
        """The content of ``retour/name``."""

    async def delete(self, name: str) -> None:
        """Remove ``retour/name`` once processed."""

    async def close(self) -> None: ...


class HubSide(Protocol):
    """The hub owner's (CPAM's) view of the partners' mailboxes."""

    def partners(self) -> list[str]: ...

    def list_depot(self, partner: str) -> list[str]:
        """Final names waiting in ``partner``'s ``depot/``, sorted."""

    def depot_size(self, partner: str, name: str) -> int:
        """The size of ``depot/name`` in bytes, known before reading it."""

    def read_depot(self, partner: str, name: str) -> bytes:
        """The bytes of ``depot/name``; :class:`Changed` when they are not what was
        delivered."""

    def consume(self, partner: str, name: str) -> None:
        """Remove a processed file from ``depot/``."""

    def post(self, partner: str, name: str, data: bytes) -> None:
        """Publish ``data`` as ``retour/name`` atomically (AlreadyDelivered if it exists)."""
