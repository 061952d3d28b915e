"""A partner's SFTP client on a hub: one connection reused, concurrent transfers on it,
``.part`` then rename, reconnection with backoff.

Delivery is at least once: when the connection is lost during a send, the client reconnects
and sends again. If the rename had in fact happened (the reply was lost), the new rename
finds the final name and the client takes the file as delivered; if the hub had already
consumed it, the file is delivered twice and the receiver's dedupe on (sender, file id)
processes it once (design.md §3.6).

Every name from a remote listing passes the mailbox name rule before it is used.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncssh

from .api import AlreadyDelivered, Refused, TransportError
from .names import DEPOT, RETOUR, check_name, is_final, part_name
from .ssh_logging import install as _install_ssh_logging

_install_ssh_logging()

#: Connection-level failures after which sending again may succeed.
_RETRYABLE = (
    asyncssh.ConnectionLost,
    asyncssh.DisconnectError,
    asyncssh.SFTPConnectionLost,
    asyncssh.SFTPNoConnection,  # "Connection not open": the session died under us
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
    asyncssh.SFTPBadMessage,
)


class SftpClient:
    """Implements :class:`~noemie_sim.sim.transport.api.MailboxClient` over SFTP.

    ``sleep`` waits between attempts (inject the simulation clock's; the backoff doubles from
    ``backoff`` up to ``max_backoff`` seconds). ``on_event(kind, **details)`` hears
    reconnections, failovers and refused remote names. ``backups`` are (host, port) of servers
    serving the same mailboxes (a standby): when a connection fails the next attempt goes to
    the next server, in turn; ``known_hosts`` must trust them all. ``key_checked``: the key
    comes from the run's own PKI, which made it, so its RSA consistency check (as costly as
    generating the key) is skipped; keys from anywhere else are checked.
    """

    def __init__(
        self,
        host: str,
        port: int,
        partner: str,
        key_pem: bytes,
        known_hosts: str,
        *,
        attempts: int = 6,
        backoff: float = 0.05,
        max_backoff: float = 2.0,
        timeout: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_event: Callable[..., None] | None = None,
        backups: Sequence[tuple[str, int]] = (),
        key_checked: bool = False,
    ) -> None:
        self.host, self.port, self.partner = host, port, partner
        self.endpoints = [(host, port), *backups]
        self._endpoint = 0
        self._key = asyncssh.import_private_key(key_pem, unsafe_skip_rsa_key_validation=key_checked)
        self._known_hosts = asyncssh.import_known_hosts(known_hosts)
        self.attempts, self.backoff, self.max_backoff, self.timeout = (
            attempts,
            backoff,
            max_backoff,
            timeout,
        )
        self._sleep = sleep
        self._on_event = on_event
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._lock = asyncio.Lock()
        self.reconnections = 0

    def _event(self, kind: str, **details: Any) -> None:
        if self._on_event is not None:
            self._on_event(kind, partner=self.partner, **details)

    async def _client(self) -> asyncssh.SFTPClient:
        async with self._lock:
            if self._sftp is None:
                conn = None
                try:
                    conn = await asyncio.wait_for(
                        asyncssh.connect(
                            *self.endpoints[self._endpoint],
                            username=self.partner,
                            client_keys=[self._key],
                            known_hosts=self._known_hosts,
                            agent_path=None,
                            config=None,
                            preferred_auth="publickey",
                            encryption_algs=[
                                "aes256-gcm@openssh.com",
                                "chacha20-poly1305@openssh.com",
                            ],
                        ),
                        self.timeout,
                    )
                    sftp = await conn.start_sftp_client()
                except BaseException as exc:
                    if conn is not None:
                        conn.abort()
                    if isinstance(exc, asyncssh.PermissionDenied):
                        raise Refused(f"login refused for {self.partner}: {exc.reason}") from None
                    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
                        raise Refused(f"hub host key not trusted: {exc.reason}") from None
                    raise
                self._conn, self._sftp = conn, sftp
            return self._sftp

    async def _drop(self) -> None:
        sftp, conn = self._sftp, self._conn
        self._sftp = self._conn = None
        if sftp is not None:
            sftp.exit()
        if conn is not None:
            conn.abort()
            with contextlib.suppress(Exception):
                await conn.wait_closed()

    async def _retrying(
        self, what: str, operation: Callable[[asyncssh.SFTPClient, int], Awaitable[Any]]
    ) -> Any:
        delay = self.backoff
        for attempt in range(self.attempts):
            sftp = None
            try:
                sftp = await self._client()
                return await asyncio.wait_for(operation(sftp, attempt), self.timeout)
            except _RETRYABLE as exc:
                async with self._lock:
                    # only the connection this operation used: concurrent operations that
                    # failed on it must not tear down the fresh one another has opened since
                    if sftp is not None and self._sftp is sftp:
                        await self._drop()
                self.reconnections += 1
                self._event(
                    "reconnect", operation=what, attempt=attempt + 1, reason=type(exc).__name__
                )
                if len(self.endpoints) > 1:
                    self._endpoint = (self._endpoint + 1) % len(self.endpoints)
                    host, port = self.endpoints[self._endpoint]
                    self._event("failover", operation=what, to=f"{host}:{port}",
                                endpoint=self._endpoint)  # fmt: skip
                if attempt + 1 < self.attempts:
                    await self._sleep(delay)
                    delay = min(delay * 2, self.max_backoff)
            except asyncssh.SFTPError as exc:
                raise Refused(f"{what}: {exc.reason}") from None
        raise TransportError(f"{what}: hub unreachable after {self.attempts} attempts")

    async def send(self, name: str, data: bytes) -> None:
        part = part_name(name)

        async def upload(sftp: asyncssh.SFTPClient, attempt: int) -> None:
            async with sftp.open(f"{DEPOT}/{part}", "wb") as remote:
                await remote.write(data)
            try:
                await sftp.rename(f"{DEPOT}/{part}", f"{DEPOT}/{name}")
            except asyncssh.SFTPError:
                # SFTPv3 has no "already exists" code: look for the final name ourselves
                if not await sftp.exists(f"{DEPOT}/{name}"):
                    raise
                with contextlib.suppress(asyncssh.SFTPError):
                    await sftp.remove(f"{DEPOT}/{part}")
                if attempt == 0:
                    raise AlreadyDelivered(f"{name} was already delivered") from None
                # a retry finding the final name: the reply lost earlier was a success

        await self._retrying(f"send {name}", upload)

    async def list_incoming(self) -> list[str]:
        async def listing(sftp: asyncssh.SFTPClient, _attempt: int) -> list[str]:
            names = []
            for entry in await sftp.listdir(RETOUR):
                text = str(entry)
                if text in (".", ".."):
                    continue
                if is_final(text):
                    names.append(text)
                elif not text.endswith(".part"):
                    self._event("invalid-remote-name", name=text[:80])
            return sorted(names)

        result: list[str] = await self._retrying("list retour", listing)
        return result

    async def receive(self, name: str) -> bytes:
        check_name(name)

        async def download(sftp: asyncssh.SFTPClient, _attempt: int) -> bytes:
            async with sftp.open(f"{RETOUR}/{name}", "rb") as remote:
                content: bytes = await remote.read()
                return content

        data: bytes = await self._retrying(f"receive {name}", download)
        return data

    async def delete(self, name: str) -> None:
        check_name(name)

        async def remove(sftp: asyncssh.SFTPClient, _attempt: int) -> None:
            with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                await sftp.remove(f"{RETOUR}/{name}")

        await self._retrying(f"delete {name}", remove)

    async def close(self) -> None:
        async with self._lock:
            await self._drop()
