"""One CPAM's SFTP server: a confined mailbox per partner, login bound to the PKI.

Login: the user name is the partner's ID; public key only. The key accepted is the key of the
partner's current certificate in the PKI folder, which must be valid for login at the hub's
(simulated) time, CRLs included: the folder is read again at each login, so a revocation
written by another process takes effect at the next login without a restart. Every refusal is
reported as an event.

Confinement, at every operation (not only by path normalisation): each path is split into at
most ``folder/name``; ``..``, backslashes, NUL, invalid or overlong names are refused; the
mapped path is resolved (symlinks followed) and must stay inside the partner's mailbox, which
defeats links planted inside it and prefix-sibling folders. ``symlink``, ``link``, ``mkdir``,
``rmdir`` and ``setstat`` are refused.

Policy: a partner writes only ``depot/NAME.part``, publishes it only by renaming it to
``depot/NAME`` (atomic, no-clobber: link then unlink, as OpenSSH does), reads and removes only
final names in ``retour/``, and removes its own ``.part`` files. Listings never show ``.part``
names. An interrupted upload fires close() too (stack-notes §4): only the rename counts.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncssh
from cryptography.hazmat.primitives import serialization

from noemie_sim.pki.authority import Pki
from noemie_sim.pki.errors import PkiError, SealError
from noemie_sim.pki.validation import Purpose, TrustStore, validate

from .disk import DiskHub, no_clobber_rename
from .names import DEPOT, FOLDERS, PART, RETOUR, InvalidName, check_name, is_final

EventSink = Callable[..., None]


@dataclass
class Limits:
    max_file_size: int = 64 * 1024 * 1024
    max_open_files: int = 16
    max_sessions: int = 8


@dataclass
class ServerFaults:
    """Faults at protocol points, decided per event by the callables (seeded by the caller).

    ``drop_after_rename(partner, name)``: after publishing a file, drop the connection before
    the reply (the unknown-outcome case). ``refuse_login(partner)``: refuse a login."""

    drop_after_rename: Callable[[str, str], bool] = field(default=lambda _p, _n: False)
    refuse_login: Callable[[str], bool] = field(default=lambda _p: False)


class SftpHub:
    """The server of one CPAM. ``now`` gives the simulated time used to check certificates;
    ``on_event(kind, **details)`` receives logins, refusals and deliveries."""

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
    ) -> None:
        self.pki = pki
        self.cpam = cpam
        self.now = now
        self.limits = limits or Limits()
        self.faults = faults or ServerFaults()
        self._on_event = on_event
        partners = sorted(i for i, role in pki.parties().items() if role != "cpam")
        self.disk = DiskHub(data, partners)
        self.host_key = _host_key(Path(data) / ".ssh" / "host_key")
        self.sessions: dict[str, int] = {}
        self.connections: dict[str, set[asyncssh.SSHServerConnection]] = {}
        self._server: asyncssh.SSHAcceptor | None = None
        self.host = "127.0.0.1"

    def event(self, kind: str, **details: Any) -> None:
        if self._on_event is not None:
            self._on_event(kind, hub=self.cpam, **details)

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
        dropped = []
        for partner, connections in sorted(self.connections.items()):
            if connections and self.authorized_key(partner, counting=False)[0] is None:
                for conn in list(connections):
                    conn.abort()
                dropped.append(partner)
                self.event("sessions-closed", partner=partner, reason="certificate refused")
        return dropped

    # -- login --------------------------------------------------------------------------------

    def authorized_key(self, partner: str, *, counting: bool = True) -> tuple[str | None, str]:
        """(the OpenSSH public key line accepted for ``partner`` now, or None; the reason).
        ``counting``: a new login, subject to the fault plan and the session limit."""
        if partner not in self.disk.partners():
            return None, "unknown partner"
        if counting and self.faults.refuse_login(partner):
            return None, "login refused (injected fault)"
        if counting and self.sessions.get(partner, 0) >= self.limits.max_sessions:
            return None, f"too many sessions (limit {self.limits.max_sessions})"
        try:
            cert = self.pki.certificate(partner)
            validate(cert, TrustStore.load(self.pki), self.now(), Purpose.LOGIN)
        except SealError as exc:
            return None, f"certificate refused: {exc.code}: {exc.detail}"
        except (PkiError, OSError, ValueError) as exc:
            return None, f"PKI folder unreadable: {exc}"
        line = cert.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        return line.decode(), "certificate valid"


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
        self.user: str | None = None
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn

    def connection_lost(self, exc: Exception | None) -> None:
        if self.user is not None:
            self.hub.sessions[self.user] -= 1
            if self.conn is not None:
                self.hub.connections.get(self.user, set()).discard(self.conn)
            self.hub.event("logout", partner=self.user)

    def begin_auth(self, username: str) -> bool:
        line, reason = self.hub.authorized_key(username)
        if line is None:
            self.hub.event("login-refused", partner=username, reason=reason)
            assert self.conn is not None
            self.conn.set_authorized_keys(asyncssh.import_authorized_keys(""))
        else:
            assert self.conn is not None
            self.conn.set_authorized_keys(asyncssh.import_authorized_keys(line + "\n"))
        return True  # authentication is always required

    def public_key_auth_supported(self) -> bool:
        return True

    def auth_completed(self) -> None:
        assert self.conn is not None
        self.user = str(self.conn.get_extra_info("username"))
        self.hub.sessions[self.user] = self.hub.sessions.get(self.user, 0) + 1
        self.hub.connections.setdefault(self.user, set()).add(self.conn)
        self.hub.event("login", partner=self.user)


class _MailboxSFTP(asyncssh.SFTPServer):
    """A partner's session, confined to its mailbox (see the module docstring)."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], hub: SftpHub) -> None:
        self.hub = hub
        self.partner = str(chan.get_extra_info("username"))
        self.mailbox = os.path.realpath(hub.disk.root / self.partner)
        super().__init__(chan, chroot=self.mailbox.encode())
        self.open_files = 0

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

    # -- files --------------------------------------------------------------------------------

    def _check_open(self, path: bytes, writing: bool) -> None:
        folder, name, _local = self._where(path)
        if writing and not (folder == DEPOT and name.endswith(PART)):
            raise asyncssh.SFTPPermissionDenied("write only depot/NAME.part, then rename it")
        if not writing and not (folder == RETOUR and is_final(name)):
            raise asyncssh.SFTPPermissionDenied("read only final files in retour/")
        if self.open_files >= self.hub.limits.max_open_files:
            limit = self.hub.limits.max_open_files
            raise asyncssh.SFTPFailure(f"too many open files (limit {limit})")

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        writing = bool(pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_APPEND | asyncssh.FXF_CREAT))
        self._check_open(path, writing)
        file_obj = super().open(path, pflags, attrs)
        self.open_files += 1
        return file_obj

    def open56(
        self, path: bytes, desired_access: int, flags: int, attrs: asyncssh.SFTPAttrs
    ) -> object:
        # anything but "open existing" may create or truncate: that is writing too
        creates = flags & asyncssh.FXF_ACCESS_DISPOSITION != asyncssh.FXF_OPEN_EXISTING
        writing = bool(desired_access & (asyncssh.ACE4_WRITE_DATA | asyncssh.ACE4_APPEND_DATA))
        self._check_open(path, writing or creates)
        file_obj = super().open56(path, desired_access, flags, attrs)
        self.open_files += 1
        return file_obj

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        if offset + len(data) > self.hub.limits.max_file_size:
            limit = self.hub.limits.max_file_size
            raise asyncssh.SFTPFailure(f"file too large (limit {limit} bytes)")
        written = super().write(file_obj, offset, data)
        assert isinstance(written, int)  # the default implementation is synchronous
        return written

    def close(self, file_obj: object) -> None:
        # Also called when a client dies mid-upload: it never counts as a delivery.
        self.open_files -= 1
        super().close(file_obj)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._publish(oldpath, newpath)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._publish(oldpath, newpath)

    def _publish(self, oldpath: bytes, newpath: bytes) -> None:
        old_folder, old, old_local = self._where(oldpath)
        new_folder, new, new_local = self._where(newpath)
        if not (old_folder == new_folder == DEPOT and old == new + PART and is_final(new)):
            raise asyncssh.SFTPPermissionDenied("only depot/NAME.part -> depot/NAME")
        try:
            no_clobber_rename(old_local, new_local)
        except FileExistsError:
            raise asyncssh.SFTPFileAlreadyExists(f"{new} was already delivered") from None
        except FileNotFoundError:
            raise asyncssh.SFTPNoSuchFile(f"no {old} to publish") from None
        size = os.path.getsize(new_local)
        self.hub.event("delivered", partner=self.partner, name=new, size=size)
        if self.hub.faults.drop_after_rename(self.partner, new):
            self.hub.event("fault", partner=self.partner, fault="drop-after-rename", name=new)
            self.channel.get_connection().abort()

    def remove(self, path: bytes) -> None:
        folder, name, _local = self._where(path)
        if not ((folder == RETOUR and is_final(name)) or (folder == DEPOT and name.endswith(PART))):
            raise asyncssh.SFTPPermissionDenied("remove only received files or your .part files")
        super().remove(path)

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
                yield await self._to_sftpname(path, entry.encode())

    # -- refused operations -------------------------------------------------------------------

    def _refuse(self, *_args: object) -> None:
        raise asyncssh.SFTPPermissionDenied("operation not allowed in a mailbox")

    symlink = link = readlink = mkdir = rmdir = setstat = fsetstat = _refuse  # type: ignore[assignment]
