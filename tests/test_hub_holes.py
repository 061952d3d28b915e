"""The hub's last holes, each driven by a partner with a valid key and shown held: a file
written through a handle kept open past its publication, bytes written to removed ``.part``
files, a second SFTP channel for more open files, thousands of files in a depot, an idle
session of a revoked partner (docs/security.md)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import asyncssh
import pytest

from noemie_sim.pki.authority import Pki
from noemie_sim.sim.transport.api import Changed
from noemie_sim.sim.transport.sftp_server import Limits, SftpHub

from .pki_helpers import CPAM, PS
from .test_transport_hub_security import QUOTA, connect, hub
from .transport_helpers import NOW

__all__ = ["hub"]  # the fixture, shared with the hub's other hostile tests


async def test_a_delivered_file_cannot_be_rewritten(fresh_pki: Pki, hub: SftpHub) -> None:
    async with await connect(fresh_pki, hub) as conn, conn.start_sftp_client() as sftp:
        f = await sftp.open("depot/K.part", "wb")
        await f.write(b"the lot as sent")
        # publishing while a handle can still write: refused
        with pytest.raises(asyncssh.SFTPFailure, match="still open for writing"):
            await sftp.rename("depot/K.part", "depot/K")
        await f.close()
        await sftp.rename("depot/K.part", "depot/K")
        with pytest.raises(asyncssh.SFTPPermissionDenied):  # the final name: never writable
            await sftp.open("depot/K", "r+b")
    assert hub.disk.read_depot(PS, "K") == b"the lot as sent"
    # changed on the disk behind the hub's back: the caisse is told, it does not read it
    (hub.disk.root / PS / "depot" / "K").write_bytes(b"another lot")
    with pytest.raises(Changed, match="changed after the rename"):
        hub.disk.read_depot(PS, "K")
    assert hub.disk._delivered[(PS, "K")] == hashlib.sha256(b"the lot as sent").hexdigest()


async def test_removed_part_files_count_until_their_handles_close(
    fresh_pki: Pki, hub: SftpHub
) -> None:
    chunk = b"x" * (50 * 1024)
    async with await connect(fresh_pki, hub) as conn, conn.start_sftp_client() as sftp:
        handles = [await sftp.open(f"depot/{n}.part", "wb") for n in ("a", "b")]
        for f in handles:
            await f.write(chunk)
        for name in ("a", "b"):
            await sftp.remove(f"depot/{name}.part")  # gone from the folder, not from the disk
        assert list((hub.disk.root / PS / "depot").iterdir()) == []
        assert hub.disk.depot_bytes(PS) == 2 * len(chunk)
        with pytest.raises(asyncssh.SFTPFailure, match="depot quota exceeded"):
            for _ in range(2 * QUOTA // len(chunk)):
                for f in handles:
                    await f.write(chunk, (await f.stat()).size or 0)
        assert hub.disk.depot_bytes(PS) <= QUOTA
        for f in handles:
            await f.close()
        assert hub.disk.depot_bytes(PS) == 0  # their bytes freed with the last handle
        async with sftp.open("depot/c.part", "wb") as f:
            await f.write(chunk)
    assert hub.disk.depot_bytes(PS) == len(chunk)


async def test_open_files_and_channels_are_limited_per_connection(
    fresh_pki: Pki, tmp_path: Path
) -> None:
    hub = SftpHub(fresh_pki, CPAM, tmp_path / "data", lambda: NOW,
                  limits=Limits(max_open_files=6, max_channels=2))  # fmt: skip
    await hub.start()
    try:
        async with await connect(fresh_pki, hub) as conn:
            first = await conn.start_sftp_client()
            second = await conn.start_sftp_client()
            held = [await first.open(f"depot/f{n}.part", "wb") for n in range(3)]
            held += [await second.open(f"depot/s{n}.part", "wb") for n in range(3)]
            # the second channel brings no more open files than the connection has
            with pytest.raises(asyncssh.SFTPFailure, match="too many open files"):
                await second.open("depot/x.part", "wb")
            third = await conn.start_sftp_client()
            with pytest.raises(asyncssh.SFTPFailure, match="too many SFTP channels"):
                await third.listdir("retour")
            for f in held:
                await f.close()
            for client in (first, second, third):
                client.exit()
                await client.wait_closed()
            again = await conn.start_sftp_client()  # channels closed are counted no more
            assert await again.listdir("retour") == []
            again.exit()
            await again.wait_closed()
    finally:
        await hub.close()


async def test_a_depot_holds_a_limited_number_of_files(fresh_pki: Pki, tmp_path: Path) -> None:
    hub = SftpHub(fresh_pki, CPAM, tmp_path / "data", lambda: NOW,
                  limits=Limits(max_depot_files=1000))  # fmt: skip
    await hub.start()
    try:
        depot = hub.disk.root / PS / "depot"
        for n in range(999):  # waiting there already (the caisse is down, say)
            (depot / f"W{n:05d}").write_bytes(b"w")
        async with await connect(fresh_pki, hub) as conn, conn.start_sftp_client() as sftp:
            async with sftp.open("depot/last.part", "wb") as f:  # the 1000th
                await f.write(b"ok")
            with pytest.raises(asyncssh.SFTPFailure, match=r"too many files in depot/"):
                await sftp.open("depot/one-more.part", "wb")
            async with sftp.open("depot/last.part", "ab") as f:  # an existing one: allowed
                await f.write(b"!")
    finally:
        await hub.close()


async def test_an_idle_session_of_a_revoked_partner_is_closed(
    fresh_pki: Pki, tmp_path: Path
) -> None:
    """Revoked by another process writing the PKI folder, while the partner's session sits
    idle: the hub's watch (every second of real time) closes it, no operation needed."""
    told = asyncio.Event()
    events: list[tuple[str, dict[str, object]]] = []

    def on_event(kind: str, **details: object) -> None:
        events.append((kind, details))
        told.set()

    hub = SftpHub(fresh_pki, CPAM, tmp_path / "data", lambda: NOW, on_event=on_event)
    await hub.start()
    try:
        conn = await connect(fresh_pki, hub)
        sftp = await conn.start_sftp_client()
        assert await sftp.listdir("retour") == []
        Pki(fresh_pki.folder).revoke(PS, NOW.replace(hour=NOW.hour - 1))
        while not any(k == "sessions-closed" for k, _ in events):  # the hub's own event
            told.clear()
            await told.wait()
        await conn.wait_closed()  # the connection itself is gone, idle as it was
        (closed,) = [d for k, d in events if k == "sessions-closed"]
        assert closed == {"hub": CPAM, "partner": PS, "reason": "certificate refused",
                          "by": "watch"}  # fmt: skip
    finally:
        await hub.close()
