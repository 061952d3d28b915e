"""The SFTP hub itself: PKI-bound login, confinement matrix, limits, OpenSSH interoperability."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from noemie_sim.pki.authority import Pki
from noemie_sim.sim.transport.api import Refused
from noemie_sim.sim.transport.sftp_server import Limits, SftpHub

from .pki_helpers import CPAM, OC, PS, PS2, T0
from .transport_helpers import NOW, sftp_client


@pytest.fixture
async def hub(fresh_pki: Pki, tmp_path: Path) -> AsyncIterator[SftpHub]:
    events: list[tuple[str, dict[str, object]]] = []
    clock = {"now": NOW}
    made = SftpHub(
        fresh_pki,
        CPAM,
        tmp_path / "data",
        lambda: clock["now"],
        on_event=lambda kind, **kw: events.append((kind, kw)),
        limits=Limits(max_open_files=3),
    )
    made.events = events  # type: ignore[attr-defined]
    made.clock = clock  # type: ignore[attr-defined]
    await made.start()
    yield made
    await made.close()


def refusals(hub: SftpHub) -> list[str]:
    return [str(kw["reason"]) for kind, kw in hub.events if kind == "login-refused"]  # type: ignore[attr-defined]


async def raw(pki: Pki, hub: SftpHub, partner: str = PS) -> asyncssh.SSHClientConnection:
    key = asyncssh.import_private_key((pki.folder / "parties" / partner / "key.pem").read_bytes())
    return await asyncssh.connect(
        "127.0.0.1",
        hub.port,
        username=partner,
        client_keys=[key],
        known_hosts=asyncssh.import_known_hosts(hub.known_hosts_line()),
        agent_path=None,
        config=None,
    )


# -- login ----------------------------------------------------------------------------------


async def test_revocation_by_another_process_refuses_the_next_login(
    fresh_pki: Pki, hub: SftpHub
) -> None:
    client = sftp_client(fresh_pki, hub, PS)
    await client.send("A.b2", b"a")
    await client.close()
    revoke_at = (NOW - timedelta(hours=1)).isoformat()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "noemie_sim",
            "pki",
            "revoke",
            str(fresh_pki.folder),
            PS,
            "--at",
            revoke_at,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    refused, other = sftp_client(fresh_pki, hub, PS), sftp_client(fresh_pki, hub, PS2)
    try:
        with pytest.raises(Refused, match="login refused"):
            await refused.send("B.b2", b"b")
        assert any("revoked" in r for r in refusals(hub))
        await other.send("C.b2", b"c")  # others are unaffected
    finally:
        await refused.close()
        await other.close()


async def test_expired_certificate_and_unknown_user_cannot_log_in(
    fresh_pki: Pki, hub: SftpHub
) -> None:
    hub.clock["now"] = T0 + timedelta(days=731)  # type: ignore[attr-defined]
    with pytest.raises(Refused):
        await sftp_client(fresh_pki, hub, PS).list_incoming()
    assert any("expired" in r for r in refusals(hub))
    hub.clock["now"] = NOW  # type: ignore[attr-defined]
    key = asyncssh.import_private_key((fresh_pki.folder / "parties" / PS / "key.pem").read_bytes())
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(
            "127.0.0.1",
            hub.port,
            username="123456789",
            client_keys=[key],
            known_hosts=None,
            agent_path=None,
            config=None,
        )
    assert "unknown partner" in refusals(hub)


async def test_wrong_key_password_and_untrusted_host_are_refused(
    fresh_pki: Pki, hub: SftpHub
) -> None:
    other_key = asyncssh.import_private_key(
        (fresh_pki.folder / "parties" / PS2 / "key.pem").read_bytes()
    )
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(
            "127.0.0.1",
            hub.port,
            username=PS,
            client_keys=[other_key],
            known_hosts=None,
            agent_path=None,
            config=None,
        )
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(
            "127.0.0.1",
            hub.port,
            username=PS,
            password="secret",
            client_keys=None,
            known_hosts=None,
            agent_path=None,
            config=None,
        )
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode()
    client = sftp_client(fresh_pki, hub, PS)
    client._known_hosts = asyncssh.import_known_hosts(f"[127.0.0.1]:{hub.port} {impostor}")
    with pytest.raises(Refused, match="host key"):
        await client.list_incoming()


async def test_host_key_is_stable_across_restarts(fresh_pki: Pki, tmp_path: Path) -> None:
    first = SftpHub(fresh_pki, CPAM, tmp_path / "d", lambda: NOW)
    second = SftpHub(fresh_pki, CPAM, tmp_path / "d", lambda: NOW)
    assert first.host_key.export_public_key() == second.host_key.export_public_key()
    assert oct(os.stat(tmp_path / "d" / ".ssh" / "host_key").st_mode & 0o777) == "0o600"


# -- confinement ----------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


async def test_confinement_matrix(fresh_pki: Pki, hub: SftpHub, tmp_path: Path) -> None:
    data = hub.disk.root
    box = data / PS
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("SECRET")
    sibling = data / f"{PS}0"  # prefix sibling: '/data/751108622' vs '/data/7511086220'
    sibling.mkdir()
    (sibling / "secret.txt").write_text("SIBLING")
    (box / RETOUR_DIR / "escape_file").symlink_to(outside / "secret.txt")
    (box / RETOUR_DIR / "escape_dir").symlink_to(outside, target_is_directory=True)
    (box / RETOUR_DIR / "sibling_link").symlink_to(sibling / "secret.txt")
    (box / DEPOT_DIR / "dir_link.part").symlink_to(outside, target_is_directory=True)
    (box / RETOUR_DIR / "dangling").symlink_to(outside / "nothing-yet")
    before_outside, before_data = snapshot(outside), snapshot(data)

    async with await raw(fresh_pki, hub) as conn, conn.start_sftp_client() as sftp:
        must_reject: dict[str, Callable[[], Any]] = {
            "read ../OC": lambda: sftp.listdir(f"../{OC}"),
            "read /../../etc/passwd": lambda: sftp.open("/../../etc/passwd"),
            "read /etc/passwd": lambda: sftp.open("/etc/passwd"),
            "read depot/../../x": lambda: sftp.open("depot/../../x"),
            "backslash": lambda: sftp.open("retour\\..\\x"),
            "nul": lambda: sftp.open("retour/a\x00b"),
            "overlong": lambda: sftp.open("retour/" + "a" * 300),
            "file link out": lambda: sftp.open("retour/escape_file"),
            "dir link out (read)": lambda: sftp.open("retour/escape_dir/secret.txt"),
            "dir link out (write)": lambda: sftp.open("depot/dir_link.part/new.txt.part", "wb"),
            "dangling link out": lambda: sftp.open("retour/dangling"),
            "prefix sibling": lambda: sftp.open("retour/sibling_link"),
            "symlink request": lambda: sftp.symlink("/etc/passwd", "depot/l.part"),
            "link request": lambda: sftp.link("retour/escape_file", "depot/h.part"),
            "mkdir": lambda: sftp.mkdir("depot/sub"),
            "write a final name": lambda: sftp.open("depot/final.b2", "wb"),
            "write in retour": lambda: sftp.open("retour/x.part", "wb"),
            "read depot": lambda: sftp.open("depot/x.part"),
            "rename across folders": lambda: sftp.rename("depot/a.part", "retour/a"),
            "setstat": lambda: sftp.chmod("retour", 0o777),
        }
        rejected = []
        for label, attempt in must_reject.items():
            try:
                result = attempt()
                handle = await result
                if hasattr(handle, "read"):
                    await handle.read()
            except (asyncssh.SFTPError, ValueError):
                rejected.append(label)
        assert sorted(rejected) == sorted(must_reject), set(must_reject) - set(rejected)
        (box / RETOUR_DIR / "ARL9.arl").write_bytes(b"ok")
        async with sftp.open("/depot/ok.b2.part", "wb") as f:  # absolute paths are mailbox paths
            await f.write(b"upload")
        await sftp.rename("depot/./ok.b2.part", "/depot/ok.b2")
        async with sftp.open("retour/ARL9.arl", "rb") as f:
            content: Any = await f.read()
            assert content == b"ok"
        assert await sftp.realpath(".") == "/"
        assert sorted(await sftp.listdir("/")) == ["depot", "retour"]
        assert await sftp.listdir("retour") == ["ARL9.arl"]
        await sftp.remove("retour/ARL9.arl")
    assert snapshot(outside) == before_outside and not (outside / "new.txt").exists()
    after = snapshot(data)
    assert {k for k in after if k not in before_data} == {f"{PS}/depot/ok.b2"}
    assert (sibling / "secret.txt").read_text() == "SIBLING"


RETOUR_DIR, DEPOT_DIR = "retour", "depot"


async def test_open_file_and_session_limits(fresh_pki: Pki, hub: SftpHub) -> None:
    async with await raw(fresh_pki, hub) as conn, conn.start_sftp_client() as sftp:
        handles = [await sftp.open(f"depot/f{n}.part", "wb") for n in range(3)]
        with pytest.raises(asyncssh.SFTPFailure, match="too many open files"):
            await sftp.open("depot/f9.part", "wb")
        for handle in handles:
            await handle.close()
        async with sftp.open("depot/g.part", "wb"):
            pass
    hub.limits.max_sessions = 1
    async with await raw(fresh_pki, hub):
        with pytest.raises(asyncssh.PermissionDenied):
            await raw(fresh_pki, hub)
    assert any("too many sessions" in r for r in refusals(hub))


async def test_an_interrupted_upload_is_never_delivered(fresh_pki: Pki, hub: SftpHub) -> None:
    conn = await raw(fresh_pki, hub)
    sftp = await conn.start_sftp_client()
    remote = await sftp.open("depot/cut.b2.part", "wb")
    await remote.write(b"x" * 100_000)
    conn.abort()  # the client dies mid-upload: close() fires on the server, rename never does
    await asyncio.sleep(0)
    for _ in range(50):
        if not hub.sessions.get(PS):
            break
        await asyncio.sleep(0.01)
    assert hub.disk.list_depot(PS) == []
    assert not any(kind == "delivered" for kind, _ in hub.events)  # type: ignore[attr-defined]


# -- OpenSSH ----------------------------------------------------------------------------------


async def test_openssh_sftp_client_logs_in_uploads_and_downloads(
    fresh_pki: Pki, hub: SftpHub, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(hub.known_hosts_line() + "\n")
    local = tmp_path / "LOT042.b2"
    local.write_bytes(b"lot from a vendor")
    hub.disk.post(PS, "ARL042.arl", b"positive")
    batch = tmp_path / "batch"
    batch.write_text(
        f"put {local} depot/LOT042.b2.part\nrename depot/LOT042.b2.part depot/LOT042.b2\n"
        f"get retour/ARL042.arl {tmp_path / 'got.arl'}\nls retour\n"
    )
    command = [
        "sftp",
        "-b",
        str(batch),
        "-i",
        str(fresh_pki.folder / "parties" / PS / "key.pem"),
        "-o",
        f"UserKnownHostsFile={known}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-F",
        "/dev/null",
        "-P",
        str(hub.port),
        f"{PS}@127.0.0.1",
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert hub.disk.read_depot(PS, "LOT042.b2") == b"lot from a vendor"
    assert (tmp_path / "got.arl").read_bytes() == b"positive"
    assert "ARL042.arl" in out.decode()


# -- asyncssh's debug logging ----------------------------------------------------------------


async def test_asyncssh_logs_what_it_logged_when_its_debugging_is_on(
    fresh_pki: Pki,
    hub: SftpHub,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hub's and clients' asyncssh describes packets and formats its debug messages only
    when they are logged (noemie_sim.sim.transport.ssh_logging): with asyncssh's debug level
    3 and its logger at DEBUG, a session logs each packet and its SFTP requests as asyncssh
    does; at level 1, its requests and no packet; at INFO, nothing of either."""

    async def session() -> list[str]:
        caplog.clear()
        async with await raw(fresh_pki, hub) as conn, conn.start_sftp_client() as sftp:
            await sftp.listdir("retour")
        return [r.getMessage() for r in caplog.records if r.name.startswith("asyncssh")]

    def packets(lines: list[str]) -> list[str]:  # "Sent FXP_OPENDIR (11), 15 bytes"
        return [line for line in lines if re.search(r"(Sent|Received) \S+ \(\d+\), \d+ byte", line)]

    # and the work skipped: a packet's size described (asyncssh.packet.plural), a debug
    # message handed to the logging module
    described: list[int] = []
    handed: list[int] = []
    plural = asyncssh.packet.plural  # type: ignore[attr-defined]
    hand = logging.LoggerAdapter.log

    def counting_plural(*args: Any) -> str:
        described.append(1)
        return plural(*args)

    def counting_hand(self: Any, level: int, *args: Any, **kwargs: Any) -> None:
        handed.append(level)
        hand(self, level, *args, **kwargs)

    monkeypatch.setattr(asyncssh.packet, "plural", counting_plural)
    monkeypatch.setattr(logging.LoggerAdapter, "log", counting_hand)
    try:
        asyncssh.set_debug_level(3)
        caplog.set_level(logging.DEBUG, logger="asyncssh")
        verbose = await session()
        assert packets(verbose) and any("Sending opendir" in line for line in verbose)
        assert described and logging.DEBUG in handed
        asyncssh.set_debug_level(1)
        described.clear()
        quieter = await session()
        assert not packets(quieter) and any("Sending opendir" in line for line in quieter)
        assert not described
        caplog.set_level(logging.INFO, logger="asyncssh")
        handed.clear()
        assert not [line for line in await session() if "opendir" in line.lower()]
        assert handed and logging.DEBUG not in handed
    finally:
        asyncssh.set_debug_level(1)
