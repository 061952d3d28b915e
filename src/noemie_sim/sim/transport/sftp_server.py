"""One CPAM's SFTP server: a confined mailbox per partner, login bound to the PKI.

Login: the user name is the partner's ID; public key only. The key accepted is the key of the
partner's current certificate in the PKI folder, which must be valid for login at the hub's
(simulated) time, CRLs included: the folder is read again at each login, so a revocation
written by another process takes effect at the next login without a restart. The per-partner
session limit is taken atomically when a login completes. Every refusal (unknown user, wrong
key, certificate refused, too many sessions) is reported as an event, at most
:attr:`Limits.refusals_per_minute` per partner and minute of hub time (the rest are counted
and told with the next one), so that a flood cannot fill a disk.

Sessions end with their certificate: before every operation the partner's certificate is
checked again at the hub's time, against the PKI folder as it is now (its CRLs and state file
are re-read only when they changed on disk), so a session opened before a revocation or an
expiry fails its next operation, on a standalone hub as in a network.

Confinement, at every operation (not only by path normalisation): each path is split into at
most ``folder/name``; ``..``, backslashes, NUL, invalid or overlong names are refused; the
mapped path is resolved (symlinks followed) and must stay inside the partner's mailbox, which
defeats links planted inside it and prefix-sibling folders.

Operations are allow-listed (:data:`ALLOWED`): reading attributes, listing, opening, reading
and writing files, removing, renaming, fsync. Everything else asyncssh's server could do is
refused, whatever request or extension carries it: setstat, fsetstat, lsetstat@openssh.com
(modes, owners, times, sizes), mkdir, rmdir, symlink, link and hardlink@openssh.com, readlink,
locks, statvfs@openssh.com and fstatvfs@openssh.com. The attributes a client sends with open
are ignored: files are created 0640, owned by the hub's user. Attributes read back carry size,
permissions and modification time only (no owner ids).

Taking delivery: the hub tells (``fetched``) when a partner has read a ``retour/`` file whole,
every byte of it over one open handle whatever the order of the reads, and (``removed``) when
it removes one: for a partner played by a real system, that is the only record of what it
did with what it was sent.

Policy: a partner writes only ``depot/NAME.part``, publishes it only by renaming it to
``depot/NAME`` (atomic, no-clobber: link then unlink, as OpenSSH does), reads (read-only open:
no write, append, create, truncate or exclusive flag) and removes only final names in
``retour/``, and removes its own ``.part`` files. Listings never show ``.part`` names. An
interrupted upload fires close() too (stack-notes §4): only the rename counts. Sizes are
enforced on the bytes actually held, appends and sparse writes included: per file
(:attr:`Limits.max_file_size`) and per partner over its whole ``depot/``, ``.part`` files
included (:attr:`Limits.depot_quota`); ``.part`` files left untouched longer than
:attr:`Limits.part_max_age` are removed (:meth:`DiskHub.sweep_parts`).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncssh
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from noemie_sim.pki.authority import SECTORS, Pki
from noemie_sim.pki.errors import PkiError, SealError
from noemie_sim.pki.validation import Purpose, TrustStore, validate
from noemie_sim.sim.clock import real_ticks

from .disk import DiskHub, no_clobber_rename
from .names import DEPOT, FOLDERS, PART, RETOUR, InvalidName, check_name, is_final
from .ssh_logging import install as _install_ssh_logging

_install_ssh_logging()

EventSink = Callable[..., None]
#: Real seconds between two checks of the connected partners' certificates.
WATCH_SECONDS = 1.0


@dataclass
class Limits:
    """What one partner may hold and open on a hub."""

    max_file_size: int = 64 * 1024 * 1024  #: bytes of one file, as held on disk
    depot_quota: int = 256 * 1024 * 1024  #: bytes of a partner's depot/, .part files included
    max_depot_files: int = 1000  #: files in a partner's depot/, .part files included
    max_open_files: int = 16  #: per connection, over all its SFTP channels
    max_channels: int = 4  #: SFTP channels per connection
    max_sessions: int = 8  #: per partner, over all its connections
    part_max_age: timedelta = timedelta(hours=24)  #: hub time an untouched .part is kept
    refusals_per_minute: int = 10  #: refusal events told per partner and minute of hub time


#: The asyncssh server operations a partner may use; every other public method of
#: :class:`asyncssh.SFTPServer` is refused (an allow-list: an operation a new asyncssh version
#: adds is refused until it is reviewed and listed here).
ALLOWED = frozenset(
    {
        "map_path", "reverse_map_path", "format_user", "format_group", "format_longname",
        "convert_attrs",
        "open", "open56", "close", "read", "write", "fsync", "lstat", "stat", "fstat",
        "scandir", "realpath", "remove", "rename", "posix_rename", "exit",
        "channel", "connection", "env", "logger",
    }
)  # fmt: skip
#: Mode of every file a partner creates, whatever attributes it sends.
FILE_MODE = 0o640


@dataclass
class ServerFaults:
    """Faults at protocol points, decided per event by the callables (seeded by the caller).

    ``drop_after_rename(partner, name)``: after publishing a file, drop the connection before
    the reply (the unknown-outcome case). ``refuse_login(partner)``: refuse a login."""

    drop_after_rename: Callable[[str, str], bool] = field(default=lambda _p, _n: False)
    refuse_login: Callable[[str], bool] = field(default=lambda _p: False)


class SftpHub:
    """The server of one CPAM. ``now`` gives the simulated time used to check certificates;
    ``on_event(kind, **details)`` receives logins, refusals and deliveries. ``partners``: the
    mailboxes it serves (default: every party of the PKI but the caisses)."""

    def __init__(
        self,
        pki: Pki,
        cpam: str,
        data: Path | str,
        now: Callable[[], datetime],
        *,
        on_event: EventSink | None = None,
        limits: Limits | None = None,
        faults: ServerFaults | None = None,
        partners: list[str] | None = None,
        disk: DiskHub | None = None,
        watch_seconds: float | None = WATCH_SECONDS,
    ) -> None:
        self.pki = pki
        self.cpam = cpam
        self.now = now
        self.limits = limits or Limits()
        self.faults = faults or ServerFaults()
        self._on_event = on_event
        if partners is None:
            partners = sorted(i for i, role in pki.parties().items() if role != "cpam")
        # a standby server of the same mailboxes shares its primary's (and so its ledger)
        self.disk = disk or DiskHub(
            data, partners, now=now, part_max_age=self.limits.part_max_age, on_event=self.event
        )
        #: real seconds between two checks of the connected partners' certificates (None:
        #: only at each operation and at :meth:`revalidate`)
        self.watch_seconds = watch_seconds
        self._watch: asyncio.Task[None] | None = None
        self.host_key = _host_key(Path(data) / ".ssh" / "host_key")
        self.sessions: dict[str, int] = {}
        #: logins refused since the start, told or not, by cause: "authentication" (no or a
        #: wrong key) or "decision" (certificate refused, limits)
        self.logins_refused: dict[str, int] = {"authentication": 0, "decision": 0}
        self.connections: dict[str, set[asyncssh.SSHServerConnection]] = {}
        self._server: asyncssh.SSHAcceptor | None = None
        self.host = "127.0.0.1"
        self._refusals: dict[str, tuple[datetime, int, int]] = {}  # minute, told, not told
        self._pki_seen: tuple[int, ...] = ()  # mtimes of the PKI's state and CRL files
        self._pki_files: list[bytes] = []
        self._trust: TrustStore | None = None
        self._allowed: dict[str, datetime] = {}  # partner -> checked valid until (hub time)

    def event(self, kind: str, **details: Any) -> None:
        if self._on_event is not None:
            self._on_event(kind, hub=self.cpam, **details)

    def refusal(self, partner: str, reason: str) -> None:
        """Report a refused login, at most ``refusals_per_minute`` per partner, kind (failed
        authentication, or the hub's decision) and minute of hub time; the refusals not told
        are counted in the next one told. Unknown user names share one counter (a flood of
        random names cannot grow it)."""
        who = partner if self.disk.has(partner) else "(unknown user)"
        # failed authentications count apart from the hub's own decisions (certificate,
        # limit): the network journals only the latter, whose counts must be reproducible
        failed_auth = reason.startswith("authentication failed")
        self.logins_refused["authentication" if failed_auth else "decision"] += 1
        key = f"{who} {'auth' if failed_auth else 'decision'}"
        minute = self.now().replace(second=0, microsecond=0)
        start, told, hidden = self._refusals.get(key, (minute, 0, 0))
        if start != minute:
            start, told = minute, 0
        if told >= self.limits.refusals_per_minute:
            self._refusals[key] = (start, told, hidden + 1)
            return
        self._refusals[key] = (start, told + 1, 0)
        extra = {"not_told_before": hidden} if hidden else {}
        self.event("login-refused", partner=partner[:64], reason=reason, **extra)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._server = await asyncssh.listen(
            host,
            port,
            server_host_keys=[self.host_key],
            server_factory=lambda: _SSHServer(self),
            sftp_factory=lambda chan: _MailboxSFTP(chan, self),
            allow_scp=False,
            password_auth=False,
            kbdint_auth=False,
            encryption_algs=[
                "aes256-gcm@openssh.com",
                "chacha20-poly1305@openssh.com",
                "aes256-ctr",
            ],
        )
        if self.watch_seconds is not None and self._watch is None:
            self._watch = asyncio.create_task(self._watch_sessions(self.watch_seconds))

    async def _watch_sessions(self, seconds: float) -> None:
        """Close, every ``seconds`` of real time, the sessions of partners whose certificate
        no longer lets them in (revoked, also by another process writing the PKI folder, or
        expired at the hub's time), idle sessions included. Told as ``sessions-closed`` with
        ``by="watch"``."""
        async for _elapsed in real_ticks(seconds):
            for partner, connections in sorted(self.connections.items()):
                live = [c for c in connections if not c.is_closed()]
                if live and not self.still_allowed(partner):
                    for conn in live:
                        conn.abort()
                    self.event("sessions-closed", partner=partner, reason="certificate refused",
                               by="watch")  # fmt: skip

    @property
    def port(self) -> int:
        assert self._server is not None, "the hub is not started"
        return int(self._server.sockets[0].getsockname()[1])

    def known_hosts_line(self) -> str:
        """The line a client puts in known_hosts to trust this hub."""
        key = self.host_key.export_public_key("openssh").decode().strip()
        return f"[{self.host}]:{self.port} {key}"

    async def close(self) -> None:
        """Stop listening and end every open session (a server going down)."""
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for connections in self.connections.values():
            for conn in list(connections):
                conn.abort()

    def revalidate(self) -> list[str]:
        """Close the sessions of partners whose certificate no longer allows a login now (a
        revocation, an expiry): a session opened before does not outlive the certificate.
        Returns the partners disconnected."""
        self._allowed.clear()
        dropped = []
        for partner, connections in sorted(self.connections.items()):
            if connections and self.authorized_key(partner, counting=False)[0] is None:
                self.end_sessions(partner, "certificate refused")
                dropped.append(partner)
        return dropped

    def end_sessions(self, partner: str, reason: str) -> None:
        for conn in list(self.connections.get(partner, ())):
            conn.abort()
        self.event("sessions-closed", partner=partner, reason=reason)

    def still_allowed(self, partner: str) -> bool:
        """Whether ``partner``'s certificate still allows it in, now: checked against the PKI
        folder as it is on disk, re-validated only when the folder's state or CRLs changed or
        the last result's validity ran out (the cost of an operation is then a few stat()s)."""
        seen = self._pki_fingerprint()
        if seen != self._pki_seen:
            self._pki_seen, self._trust = seen, None
            self._allowed.clear()
        now = self.now()
        until = self._allowed.get(partner)
        if until is not None and now < until:
            return True
        cert, _reason = self._certificate_for_login(partner, counting=False)
        if cert is None:
            self._allowed.pop(partner, None)
            return False
        # the result holds until the certificate or a CRL it was checked against runs out
        updates = [c.next_update_utc for c in self._trust_store().crls]
        ends = [u for u in updates if u is not None] + [cert.not_valid_after_utc]
        self._allowed[partner] = min(ends)
        return True

    def _pki_fingerprint(self) -> tuple[int, ...]:
        """Modification times of the PKI's state file and CRLs (the files a revocation, a
        renewal or a new CRL rewrites)."""
        if not self._pki_files:
            folder = self.pki.folder
            files = [folder / "pki.json", folder / "root" / "crl.pem"]
            files += [folder / "ca" / sector / "crl.pem" for sector in SECTORS]
            self._pki_files = [os.fsencode(path) for path in files]
        stamps = []
        for path in self._pki_files:
            try:
                stamps.append(os.stat(path).st_mtime_ns)
            except OSError:
                stamps.append(-1)
        return tuple(stamps)

    def _trust_store(self) -> TrustStore:
        if self._trust is None:
            self._trust = TrustStore.load(self.pki)
        return self._trust

    # -- login --------------------------------------------------------------------------------

    def authorized_key(self, partner: str, *, counting: bool = True) -> tuple[str | None, str]:
        """(the OpenSSH public key line accepted for ``partner`` now, or None; the reason).
        ``counting``: a new login, subject to the fault plan and the session limit."""
        cert, reason = self._certificate_for_login(partner, counting=counting)
        if cert is None:
            return None, reason
        line = cert.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        return line.decode(), reason

    def _certificate_for_login(
        self, partner: str, *, counting: bool
    ) -> tuple[x509.Certificate | None, str]:
        """(``partner``'s certificate if it may log in now, else None; the reason)."""
        if not self.disk.has(partner):
            return None, "unknown partner"
        if counting and self.faults.refuse_login(partner):
            return None, "login refused (injected fault)"
        if counting and self.sessions.get(partner, 0) >= self.limits.max_sessions:
            return None, f"too many sessions (limit {self.limits.max_sessions})"
        try:
            cert = self.pki.certificate(partner)
            # a login reads the folder afresh; a session's re-checks use the store as of the
            # folder's last change (still_allowed)
            trust = TrustStore.load(self.pki) if counting else self._trust_store()
            validate(cert, trust, self.now(), Purpose.LOGIN)
        except SealError as exc:
            return None, f"certificate refused: {exc.code}: {exc.detail}"
        except (PkiError, OSError, ValueError) as exc:
            return None, f"PKI folder unreadable: {exc}"
        return cert, "certificate valid"


def _host_key(path: Path) -> asyncssh.SSHKey:
    """The hub's stable host key: created once (0600), then reused."""
    if path.exists():
        return asyncssh.read_private_key(str(path))
    key = asyncssh.generate_private_key("ssh-ed25519")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.export_private_key())
    return key


class _SSHServer(asyncssh.SSHServer):
    def __init__(self, hub: SftpHub) -> None:
        self.hub = hub
        self.user: str | None = None  # set once the login completed and was counted
        self.tried: str | None = None  # the last user name a login was attempted for
        self.conn: asyncssh.SSHServerConnection | None = None
        self.channels = 0  # SFTP channels open on this connection
        self.open_files = 0  # files open over all of them

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn

    def connection_lost(self, exc: Exception | None) -> None:
        if self.user is not None:
            self.hub.sessions[self.user] -= 1
            if self.conn is not None:
                self.hub.connections.get(self.user, set()).discard(self.conn)
            self.hub.event("logout", partner=self.user)
        elif self.tried is not None and self.hub.disk.has(self.tried):
            # a login that began with a valid certificate but never completed: a wrong key,
            # or a client that gave up
            self.hub.refusal(self.tried, "authentication failed (wrong key or abandoned)")

    def begin_auth(self, username: str) -> bool:
        self.tried = username
        line, reason = self.hub.authorized_key(username)
        assert self.conn is not None
        if line is None:
            self.tried = None  # told now, not again when the connection ends
            self.hub.refusal(username, reason)
            self.conn.set_authorized_keys(asyncssh.import_authorized_keys(""))
        else:
            self.conn.set_authorized_keys(asyncssh.import_authorized_keys(line + "\n"))
        return True  # authentication is always required

    def public_key_auth_supported(self) -> bool:
        return True

    def auth_completed(self) -> None:
        assert self.conn is not None
        user = str(self.conn.get_extra_info("username"))
        limit = self.hub.limits.max_sessions
        # checked and counted in one synchronous step: parallel logins cannot all pass a check
        # made at their start and be counted at their end
        if self.hub.sessions.get(user, 0) >= limit:
            self.tried = None
            self.hub.refusal(user, f"too many sessions (limit {limit})")
            self.conn.disconnect(asyncssh.DISC_TOO_MANY_CONNECTIONS, "too many sessions")
            return
        self.user = user
        self.hub.sessions[user] = self.hub.sessions.get(user, 0) + 1
        self.hub.connections.setdefault(user, set()).add(self.conn)
        self.hub.event("login", partner=user)


class _MailboxSFTP(asyncssh.SFTPServer):
    """A partner's session, confined to its mailbox (see the module docstring)."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], hub: SftpHub) -> None:
        self.hub = hub
        self.partner = str(chan.get_extra_info("username"))
        self.mailbox = os.path.realpath(hub.disk.root / self.partner)
        super().__init__(chan, chroot=self.mailbox.encode())
        owner = chan.get_connection().get_owner()
        assert isinstance(owner, _SSHServer)
        self.owner = owner  # what this connection holds, over all its channels
        owner.channels += 1
        self.over_channels = owner.channels > hub.limits.max_channels
        self._write_fds: dict[int, int] = {}  # file object -> fd, for files open to write
        # retour/ files open for reading: file object -> (name, size, byte ranges read)
        self._reading: dict[int, _Fetch] = {}
        hub.disk.sweep_parts(self.partner)

    def _guard(self) -> None:
        """Before every operation: the channel is within its connection's limit, and the
        partner's certificate still allows it in, now."""
        if self.over_channels:
            limit = self.hub.limits.max_channels
            raise asyncssh.SFTPFailure(f"too many SFTP channels on one connection (limit {limit})")
        if not self.hub.still_allowed(self.partner):
            self.hub.end_sessions(self.partner, "certificate refused")
            raise asyncssh.SFTPPermissionDenied("certificate no longer valid: session ended")

    # -- paths --------------------------------------------------------------------------------

    def _parts(self, path: bytes) -> list[str]:
        """The path as at most [folder, name], refused unless it is one of ours."""
        try:
            text = path.decode("utf-8")
        except UnicodeDecodeError:
            raise asyncssh.SFTPInvalidFilename("file names are UTF-8") from None
        if "\x00" in text or "\\" in text or len(text) > 512:
            raise asyncssh.SFTPInvalidFilename("invalid character or length in path")
        parts = [p for p in text.split("/") if p not in ("", ".")]
        if ".." in parts or len(parts) > 2:
            raise asyncssh.SFTPPermissionDenied("outside the mailbox")
        if parts and parts[0] not in FOLDERS:
            raise asyncssh.SFTPNoSuchFile("only depot/ and retour/ exist")
        if len(parts) == 2:
            try:
                check_name(parts[1])
            except InvalidName as exc:
                raise asyncssh.SFTPInvalidFilename(str(exc)) from None
        return parts

    def map_path(self, path: bytes) -> bytes:
        self._guard()
        parts = self._parts(path)
        mapped = os.path.join(self.mailbox, *parts)
        real = os.path.realpath(mapped)
        # commonpath, not startswith: '/data/p1' must not accept '/data/p10' (prefix sibling)
        if os.path.commonpath([self.mailbox, real]) != self.mailbox:
            self.hub.event(
                "confinement", partner=self.partner, path=path.decode("utf-8", "replace")
            )
            raise asyncssh.SFTPPermissionDenied("outside the mailbox")
        return mapped.encode()

    def _where(self, path: bytes) -> tuple[str, str, bytes]:
        """(folder, name, local path) of a client path, mapped and confined; name '' for a
        folder itself."""
        local = self.map_path(path)
        relative = os.path.relpath(local.decode(), self.mailbox)
        folder, _, name = relative.partition("/")
        return folder, name, local

    # -- attributes: read only, and only what a partner needs ---------------------------------

    @staticmethod
    def _shown(attrs: asyncssh.SFTPAttrs) -> asyncssh.SFTPAttrs:
        return asyncssh.SFTPAttrs(
            type=attrs.type, size=attrs.size, permissions=attrs.permissions, mtime=attrs.mtime
        )

    def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        return self._shown(asyncssh.SFTPAttrs.from_local(os.stat(self.map_path(path))))

    def lstat(self, path: bytes) -> asyncssh.SFTPAttrs:
        return self._shown(asyncssh.SFTPAttrs.from_local(os.lstat(self.map_path(path))))

    def fstat(self, file_obj: object) -> asyncssh.SFTPAttrs:
        self._guard()
        return self._shown(asyncssh.SFTPAttrs.from_local(os.fstat(_fd(file_obj))))

    # -- files --------------------------------------------------------------------------------

    def _check_open(self, path: bytes, writing: bool, changes: bool) -> None:
        """``writing``: the open may write; ``changes``: it may create, truncate or append."""
        folder, name, local = self._where(path)
        if writing or changes:
            if not (folder == DEPOT and name.endswith(PART)):
                raise asyncssh.SFTPPermissionDenied("write only depot/NAME.part, then rename it")
            limits = self.hub.limits
            if not os.path.exists(local) and (
                self.hub.disk.depot_files(self.partner) >= limits.max_depot_files
            ):
                raise asyncssh.SFTPFailure(
                    f"too many files in depot/ (limit {limits.max_depot_files})"
                )
        elif not (folder == RETOUR and is_final(name)):
            raise asyncssh.SFTPPermissionDenied("read only final files in retour/")
        if self.owner.open_files >= self.hub.limits.max_open_files:
            limit = self.hub.limits.max_open_files
            raise asyncssh.SFTPFailure(f"too many open files on this connection (limit {limit})")

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        writing = bool(pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_APPEND))
        changes = bool(
            pflags & (asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC | asyncssh.FXF_EXCL
                      | asyncssh.FXF_APPEND)
        )  # fmt: skip
        self._check_open(path, writing, changes)
        # the client's attributes are ignored: no setuid bit, no world access
        file_obj = super().open(path, pflags, asyncssh.SFTPAttrs(permissions=FILE_MODE))
        self._opened(path, file_obj, writing or changes)
        return file_obj

    def open56(
        self, path: bytes, desired_access: int, flags: int, attrs: asyncssh.SFTPAttrs
    ) -> object:
        # anything but "open existing" may create or truncate; appending changes the file too
        changes = flags & asyncssh.FXF_ACCESS_DISPOSITION != asyncssh.FXF_OPEN_EXISTING or bool(
            flags & ~asyncssh.FXF_ACCESS_DISPOSITION
        )
        writing = bool(desired_access & ~(asyncssh.ACE4_READ_DATA | asyncssh.ACE4_READ_ATTRIBUTES))
        self._check_open(path, writing, changes)
        file_obj = super().open56(
            path, desired_access, flags, asyncssh.SFTPAttrs(permissions=FILE_MODE)
        )
        self._opened(path, file_obj, writing or changes)
        return file_obj

    def _opened(self, path: bytes, file_obj: object, writing: bool) -> None:
        """Count an open file on the connection; a file open to write enters the quota's
        ledger, one open to read (in retour/) is followed to tell when it was read whole."""
        self.owner.open_files += 1
        fd = _fd(file_obj)
        if writing:
            self._write_fds[id(file_obj)] = fd
            self.hub.disk.opened_for_writing(self.partner, fd)
            return
        _folder, name, _local = self._where(path)
        self._reading[id(file_obj)] = _Fetch(name, os.fstat(fd).st_size)

    def read(self, file_obj: object, offset: int, size: int) -> bytes:
        self._guard()
        data = super().read(file_obj, offset, size)
        assert isinstance(data, bytes)  # the default implementation is synchronous
        fetch = self._reading.get(id(file_obj))
        if fetch is not None and fetch.read(offset, len(data)):
            self.hub.event("fetched", partner=self.partner, name=fetch.name, size=fetch.size)
        return data

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        """Write unless the bytes held would pass the file limit or the partner's quota: the
        size is what the file will hold (an append goes to its end whatever the offset, a
        write past the end holds the hole too)."""
        self._guard()
        held = os.fstat(_fd(file_obj)).st_size
        appending = "a" in str(getattr(file_obj, "mode", ""))
        end = (held if appending else offset) + len(data)
        after = max(held, end)
        limits = self.hub.limits
        if after > limits.max_file_size:
            raise asyncssh.SFTPFailure(f"file too large (limit {limits.max_file_size} bytes)")
        # the ledger, not a scan: the cost of a write does not grow with the files waiting
        if after > held and self.hub.disk.depot_bytes(self.partner) + after - held > (
            limits.depot_quota
        ):
            raise asyncssh.SFTPFailure(f"depot quota exceeded ({limits.depot_quota} bytes)")
        written = super().write(file_obj, offset, data)
        assert isinstance(written, int)  # the default implementation is synchronous
        if after > held:
            self.hub.disk.wrote(self.partner, after - held)
        return written

    def close(self, file_obj: object) -> None:
        # Also called when a client dies mid-upload: it never counts as a delivery.
        self.owner.open_files -= 1
        self._reading.pop(id(file_obj), None)
        fd = self._write_fds.pop(id(file_obj), None)
        if fd is not None:
            self.hub.disk.closed_for_writing(self.partner, fd)
        super().close(file_obj)

    def exit(self) -> None:
        """The SFTP session ends: its files are closed (asyncssh's cleanup), its channel is
        no longer counted."""
        self.owner.channels -= 1
        super().exit()

    def fsync(self, file_obj: object) -> None:
        self._guard()
        super().fsync(file_obj)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._publish(oldpath, newpath)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._publish(oldpath, newpath)

    def _publish(self, oldpath: bytes, newpath: bytes) -> None:
        old_folder, old, old_local = self._where(oldpath)
        new_folder, new, new_local = self._where(newpath)
        if not (old_folder == new_folder == DEPOT and old == new + PART and is_final(new)):
            raise asyncssh.SFTPPermissionDenied("only depot/NAME.part -> depot/NAME")
        if self.hub.disk.is_open_for_writing(self.partner, old_local):
            # a handle kept open could change the file once delivered: close it first
            raise asyncssh.SFTPFailure(f"{old} is still open for writing: close it, then rename")
        try:
            no_clobber_rename(old_local, new_local)
        except FileExistsError:
            raise asyncssh.SFTPFileAlreadyExists(f"{new} was already delivered") from None
        except FileNotFoundError:
            raise asyncssh.SFTPNoSuchFile(f"no {old} to publish") from None
        with open(new_local, "rb") as delivered:  # what the caisse will find there
            content = delivered.read()
        self.hub.disk.delivered(self.partner, new, hashlib.sha256(content).hexdigest())
        size = len(content)
        self.hub.event("delivered", partner=self.partner, name=new, size=size)
        if self.hub.faults.drop_after_rename(self.partner, new):
            self.hub.event("fault", partner=self.partner, fault="drop-after-rename", name=new)
            self.channel.get_connection().abort()

    def remove(self, path: bytes) -> None:
        folder, name, _local = self._where(path)
        if not ((folder == RETOUR and is_final(name)) or (folder == DEPOT and name.endswith(PART))):
            raise asyncssh.SFTPPermissionDenied("remove only received files or your .part files")
        if folder == DEPOT:  # through the ledger: its bytes count until its handles close
            self.hub.disk.remove_part(self.partner, name)
            return
        super().remove(path)
        self.hub.event("removed", partner=self.partner, name=name)

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        """Only what the partner may see: depot/ and retour/ at the top, final names in them
        (no ".", "..", ".part", no link, nothing planted that breaks the name rule)."""
        folder, name, local = self._where(path)
        if name:
            raise asyncssh.SFTPNoSuchFile("not a folder")
        at_root = folder in ("", ".")
        for entry in sorted(os.listdir(local.decode())):  # str names, not bytes
            if os.path.islink(os.path.join(local.decode(), entry)):
                continue  # links cannot be made through the protocol: this one was planted
            if entry in FOLDERS if at_root else is_final(entry):
                yield await self._to_sftpname(path, entry.encode())  # attrs from our lstat

    # -- everything else is refused -----------------------------------------------------------

    def _refuse(self, *_args: object) -> None:
        raise asyncssh.SFTPPermissionDenied("operation not allowed in a mailbox")


class _Fetch:
    """The byte ranges read of one retour/ file open for reading (clients such as OpenSSH's
    sftp read in parallel, out of order), to tell once when every byte has been read."""

    def __init__(self, name: str, size: int) -> None:
        self.name, self.size = name, size
        self.ranges: list[tuple[int, int]] = []  # disjoint, sorted [start, end)
        self.told = False

    def read(self, offset: int, length: int) -> bool:
        """Count ``length`` bytes read at ``offset``; True the first time the whole file is
        covered (an empty file: at its first read)."""
        if self.told:
            return False
        merged: list[tuple[int, int]] = []
        start, end = offset, offset + length
        for a, b in self.ranges:
            if b < start or a > end:
                merged.append((a, b))
            else:
                start, end = min(a, start), max(b, end)
        merged.append((start, end))
        self.ranges = sorted(merged)
        first = self.ranges[0]
        self.told = first[0] == 0 and first[1] >= self.size
        return self.told


def _fd(file_obj: object) -> int:
    fileno = getattr(file_obj, "fileno", None)
    if fileno is None:
        raise asyncssh.SFTPFailure("not a file")
    return int(fileno())


# The allow-list, applied: every public operation of asyncssh's server that is not in ALLOWED
# is refused on the mailbox server, including the ones a future asyncssh version adds.
for _name in dir(asyncssh.SFTPServer):
    if not _name.startswith("_") and _name not in ALLOWED:
        setattr(_MailboxSFTP, _name, _MailboxSFTP._refuse)
