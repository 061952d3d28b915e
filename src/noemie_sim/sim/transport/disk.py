"""The hub's mailboxes on disk, as the SFTP server serves them: ``DATA/<partner>/depot/`` and
``DATA/<partner>/retour/``. This is the hub owner's side (the CPAM reads depots and posts to
retours directly, without SFTP).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from .api import AlreadyDelivered, Changed, Refused
from .names import DEPOT, FOLDERS, PART, RETOUR, check_name, is_final, part_name


class DiskHub:
    """Mailboxes under ``root``, one per partner, created on demand.

    With ``now`` (the hub's clock), :meth:`sweep_parts` removes the ``.part`` files of a
    partner that have not grown for ``part_max_age`` of that clock (abandoned uploads), and
    tells ``on_event("part-removed", ...)``; ``list_depot`` sweeps the partner it lists."""

    def __init__(
        self,
        root: Path | str,
        partners: list[str],
        *,
        now: Callable[[], datetime] | None = None,
        part_max_age: timedelta = timedelta(hours=24),
        on_event: Callable[..., None] | None = None,
    ) -> None:
        self.root = Path(root)
        self._partners = sorted(partners)
        self._known = set(self._partners)
        self.now = now
        self.part_max_age = part_max_age
        self.on_event = on_event
        self._parts: dict[tuple[str, str], tuple[datetime, int]] = {}  # seen at, size then
        # the quota's ledger: bytes each partner's depot/ holds, kept as writes, publications,
        # removals and closes happen (no scan per write); a file removed while a handle still
        # writes to it stays counted until that handle closes (its bytes are still on disk)
        self._held: dict[str, int] = {}
        self._writing: Counter[tuple[str, int]] = Counter()  # (partner, inode) open to write
        # what the hub delivered: (partner, name) -> SHA-256, checked when the file is read
        self._delivered: dict[tuple[str, str], str] = {}
        for partner in self._partners:
            check_name(partner)
            for folder in FOLDERS:
                (self.root / partner / folder).mkdir(parents=True, exist_ok=True, mode=0o750)

    def partners(self) -> list[str]:
        return list(self._partners)

    def has(self, partner: str) -> bool:
        """Whether ``partner`` has a mailbox here (a set lookup: asked at every login)."""
        return partner in self._known

    def folder(self, partner: str, which: str) -> Path:
        if partner not in self._known:
            raise Refused(f"no mailbox for {partner!r}")
        return self.root / partner / which

    def list_depot(self, partner: str) -> list[str]:
        folder = self.folder(partner, DEPOT)
        names = os.listdir(folder)
        if self.now is not None and any(n.endswith(PART) for n in names):
            self.sweep_parts(partner)
        return sorted(n for n in names if is_final(n) and not (folder / n).is_symlink())

    def depot_size(self, partner: str, name: str) -> int:
        """The size in bytes of ``depot/name`` (the caisse checks it before reading)."""
        return (self.folder(partner, DEPOT) / check_name(name)).stat().st_size

    def depot_bytes(self, partner: str) -> int:
        """Bytes held in ``partner``'s depot/ (the quota): its files, ``.part`` files
        included, and files removed while still open for writing. Scanned once, then kept
        by :meth:`wrote`, :meth:`opened_for_writing`, :meth:`closed_for_writing` and every
        removal."""
        if partner not in self._held:
            with os.scandir(self.folder(partner, DEPOT)) as entries:
                self._held[partner] = sum(
                    e.stat(follow_symlinks=False).st_size for e in entries if e.is_file()
                )
        return self._held[partner]

    def depot_files(self, partner: str) -> int:
        """How many files ``partner``'s depot/ holds (``.part`` ones included)."""
        return len(os.listdir(self.folder(partner, DEPOT)))

    def wrote(self, partner: str, grown: int) -> None:
        """A handle's file in ``partner``'s depot/ grew by ``grown`` bytes."""
        self._held[partner] = self.depot_bytes(partner) + grown

    def opened_for_writing(self, partner: str, fd: int) -> None:
        self.depot_bytes(partner)  # scanned before the handle's first byte
        self._writing[(partner, os.fstat(fd).st_ino)] += 1

    def closed_for_writing(self, partner: str, fd: int) -> None:
        """A write handle closes: a file removed meanwhile now frees its bytes."""
        seen = os.fstat(fd)
        key = (partner, seen.st_ino)
        self._writing[key] -= 1
        if self._writing[key] <= 0:
            del self._writing[key]
            if seen.st_nlink == 0:
                self._held[partner] = self.depot_bytes(partner) - seen.st_size

    def _unlink(self, partner: str, path: Path) -> None:
        """Remove a file of ``partner``'s depot/; its bytes leave the quota now, or when the
        last handle writing to it closes."""
        try:
            seen = path.lstat()
        except FileNotFoundError:
            return
        held = self.depot_bytes(partner)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
            if (partner, seen.st_ino) not in self._writing and seen.st_nlink <= 1:
                self._held[partner] = held - seen.st_size

    def is_open_for_writing(self, partner: str, path: Path | bytes) -> bool:
        """Whether a handle writes to the file at ``path`` of ``partner``'s depot/."""
        try:
            return (partner, os.stat(path).st_ino) in self._writing
        except FileNotFoundError:
            return False

    def remove_part(self, partner: str, name: str) -> None:
        """The partner removes one of its ``.part`` files."""
        self._unlink(partner, self.folder(partner, DEPOT) / check_name(name))

    def delivered(self, partner: str, name: str, sha256: str) -> None:
        """The hub published ``depot/name`` with this content: :meth:`read_depot` checks it."""
        self._delivered[(partner, name)] = sha256

    def sweep_parts(self, partner: str) -> list[str]:
        """Remove ``partner``'s ``.part`` files that did not grow for ``part_max_age`` of the
        hub's clock (an upload abandoned); the names removed."""
        if self.now is None:
            return []
        now, folder, removed = self.now(), self.folder(partner, DEPOT), []
        for name in os.listdir(folder):
            if not name.endswith(PART):
                continue
            try:
                size = (folder / name).lstat().st_size
            except FileNotFoundError:
                continue
            seen, before = self._parts.get((partner, name), (now, -1))
            if size != before:
                self._parts[(partner, name)] = (now, size)
            elif now - seen >= self.part_max_age:
                self._unlink(partner, folder / name)
                self._parts.pop((partner, name), None)
                removed.append(name)
                if self.on_event is not None:
                    self.on_event("part-removed", partner=partner, name=name, size=size,
                                  idle_since=seen.isoformat())  # fmt: skip
        return removed

    def read_depot(self, partner: str, name: str) -> bytes:
        """The bytes of ``depot/name``; Changed when they are not what the hub delivered (a
        write through a handle kept open, or on the disk behind the hub's back)."""
        data = (self.folder(partner, DEPOT) / check_name(name)).read_bytes()
        expected = self._delivered.get((partner, name))
        if expected is not None and hashlib.sha256(data).hexdigest() != expected:
            raise Changed(f"{name} is not the file delivered: its content changed after the "
                          "rename that published it")  # fmt: skip
        return data

    def consume(self, partner: str, name: str) -> None:
        self._unlink(partner, self.folder(partner, DEPOT) / check_name(name))
        self._delivered.pop((partner, name), None)

    def post(self, partner: str, name: str, data: bytes) -> None:
        publish(self.folder(partner, RETOUR), name, data)


def publish(folder: Path, name: str, data: bytes) -> None:
    """Write ``folder/name.part``, flush it to disk, then link it to ``folder/name`` (atomic and
    no-clobber, like OpenSSH's race-free rename) and remove the ``.part``."""
    part = folder / part_name(name)
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    try:
        no_clobber_rename(part, folder / name)
    except FileExistsError:
        os.unlink(part)
        raise AlreadyDelivered(f"{name} exists") from None


def no_clobber_rename(source: Path | bytes, target: Path | bytes) -> None:
    """Rename ``source`` to ``target`` atomically, FileExistsError if ``target`` exists:
    link() fails on an existing target, so there is no check-then-act race."""
    os.link(source, target)
    os.unlink(source)
