"""The hub's mailboxes on disk, as the SFTP server serves them: ``DATA/<partner>/depot/`` and
``DATA/<partner>/retour/``. This is the hub owner's side (the CPAM reads depots and posts to
retours directly, without SFTP).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .api import AlreadyDelivered, Refused
from .names import DEPOT, FOLDERS, RETOUR, check_name, is_final, part_name


class DiskHub:
    """Mailboxes under ``root``, one per partner, created on demand."""

    def __init__(self, root: Path | str, partners: list[str]) -> None:
        self.root = Path(root)
        self._partners = sorted(partners)
        for partner in self._partners:
            check_name(partner)
            for folder in FOLDERS:
                (self.root / partner / folder).mkdir(parents=True, exist_ok=True)

    def partners(self) -> list[str]:
        return list(self._partners)

    def folder(self, partner: str, which: str) -> Path:
        if partner not in self._partners:
            raise Refused(f"no mailbox for {partner!r}")
        return self.root / partner / which

    def list_depot(self, partner: str) -> list[str]:
        folder = self.folder(partner, DEPOT)
        return sorted(
            n for n in os.listdir(folder) if is_final(n) and not (folder / n).is_symlink()
        )

    def read_depot(self, partner: str, name: str) -> bytes:
        return (self.folder(partner, DEPOT) / check_name(name)).read_bytes()

    def consume(self, partner: str, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.folder(partner, DEPOT) / check_name(name))

    def post(self, partner: str, name: str, data: bytes) -> None:
        publish(self.folder(partner, RETOUR), name, data)


def publish(folder: Path, name: str, data: bytes) -> None:
    """Write ``folder/name.part``, flush it to disk, then link it to ``folder/name`` (atomic and
    no-clobber, like OpenSSH's race-free rename) and remove the ``.part``."""
    part = folder / part_name(name)
    with open(part, "wb") as out:
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
