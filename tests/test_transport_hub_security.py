"""The SFTP hub against its own partners (docs/security.md): a partner with a valid key tries
everything that is not sending its files and fetching its answers, through the OpenSSH ``sftp``
client and through raw SFTP requests (asyncssh's client). Every attempt is refused with a
clear status, and the whole data folder is compared before and after: no byte, mode, owner or
time changed anywhere but in the partner's own ``depot/*.part`` files."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from noemie_sim.pki.authority import Pki
from noemie_sim.sim.transport.sftp_server import ALLOWED, FILE_MODE, Limits, SftpHub, _MailboxSFTP

from .pki_helpers import CPAM, OC, PS
from .transport_helpers import NOW

LIMIT = 256 * 1024  # per file, in this test's hub
QUOTA = 400 * 1024  # per partner's depot/


@pytest.fixture
async def hub(fresh_pki: Pki, tmp_path: Path) -> AsyncIterator[SftpHub]:
    events: list[tuple[str, dict[str, object]]] = []
    clock = {"now": NOW}
    told = asyncio.Event()  # set at each event: tests wait on it, never on a timer

    def on_event(kind: str, **details: object) -> None:
        events.append((kind, details))
        told.set()

    made = SftpHub(
        fresh_pki, CPAM, tmp_path / "data", lambda: clock["now"], on_event=on_event,
        limits=Limits(max_file_size=LIMIT, depot_quota=QUOTA, max_sessions=8,
                      part_max_age=timedelta(hours=2), refusals_per_minute=5),
    )  # fmt: skip
    made.events = events  # type: ignore[attr-defined]
    made.clock = clock  # type: ignore[attr-defined]
    made.told = told  # type: ignore[attr-defined]
    await made.start()
    yield made
    await made.close()


def events_of(hub: SftpHub, kind: str) -> list[dict[str, object]]:
    return [kw for k, kw in hub.events if k == kind]  # type: ignore[attr-defined]


async def until_told(hub: SftpHub, kind: str, count: int) -> list[dict[str, object]]:
    """Wait for the hub to have told ``count`` events of ``kind`` (its own events, no timer)."""
    while len(events_of(hub, kind)) < count:
        hub.told.clear()  # type: ignore[attr-defined]
        await hub.told.wait()  # type: ignore[attr-defined]
    return events_of(hub, kind)


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every path under ``root``: content (files), mode, owner, group, modification time."""
    found: dict[str, tuple[object, ...]] = {}
    for path in [root, *sorted(root.rglob("*"))]:
        info = path.lstat()
        content = path.read_bytes() if stat.S_ISREG(info.st_mode) else None
        found[str(path.relative_to(root))] = (content, info.st_mode, info.st_uid, info.st_gid,
                                              info.st_mtime_ns)  # fmt: skip
    return found


def changed_outside_own_parts(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Paths whose content, mode, owner or time changed, but for the partner's own .part
    files (and the time of its depot/ folder, which moves when a .part is created)."""
    own = f"{PS}/depot/"

    def seen(state: dict[str, Any], path: str) -> Any:
        value = state.get(path)
        return value[:4] if path == f"{PS}/depot" and value else value

    return sorted(
        p for p in set(before) | set(after)
        if seen(before, p) != seen(after, p) and not (p.startswith(own) and p.endswith(".part"))
    )  # fmt: skip


async def connect(pki: Pki, hub: SftpHub, partner: str = PS) -> asyncssh.SSHClientConnection:
    key = asyncssh.import_private_key((pki.folder / "parties" / partner / "key.pem").read_bytes())
    return await asyncssh.connect(
        "127.0.0.1", hub.port, username=partner, client_keys=[key],
        known_hosts=asyncssh.import_known_hosts(hub.known_hosts_line()), agent_path=None,
        config=None,
    )  # fmt: skip


async def openssh(pki: Pki, hub: SftpHub, folder: Path, *lines: str) -> tuple[int, str]:
    """One OpenSSH ``sftp`` batch (it stops at the first failing line): exit code, and what it
    printed (stderr, then stdout)."""
    batch = folder / "batch"
    batch.write_text("\n".join(lines) + "\n")
    known = folder / "known_hosts"
    known.write_text(hub.known_hosts_line() + "\n")
    process = await asyncio.create_subprocess_exec(
        "sftp", "-b", str(batch), "-i", str(pki.folder / "parties" / PS / "key.pem"),
        "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes",
        "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-F", "/dev/null",
        "-P", str(hub.port), f"{PS}@127.0.0.1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=folder,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, err.decode() + out.decode()


#: Hostile lines for the OpenSSH client, each run after a legitimate upload of depot/T.part.
OPENSSH_HOSTILE = {
    "chmod -h setuid (lsetstat@openssh.com)": "chmod -h 4755 depot/T.part",
    "chmod setuid (setstat)": "chmod 4755 depot/T.part",
    "chmod the mailbox root -h": "chmod -h 777 /",
    "chmod the mailbox root": "chmod 777 /",
    "chmod retour/": "chmod 777 retour",
    "chmod a received file": "chmod 666 retour/R.arl",
    "chown -h root": "chown -h 0 depot/T.part",
    "chown root": "chown 0 depot/T.part",
    "chgrp root": "chgrp 0 depot/T.part",
    "chown a received file": "chown 0 retour/R.arl",
    "mkdir": "mkdir depot/sub",
    "rmdir depot": "rmdir depot",
    "rmdir retour": "rmdir retour",
    "symlink out": "ln -s /etc/passwd depot/l.part",
    "hardlink (hardlink@openssh.com)": "ln retour/R.arl depot/h.part",
    "rm a folder": "rm depot",
    "rename into retour": "rename depot/T.part retour/T",
    "rename a received file": "rename retour/R.arl depot/R.arl",
    "read depot": "get depot/T.part got.bin",
    "write in retour": "put local.bin retour/x.part",
    "write a final name": "put local.bin depot/final.b2",
    "overwrite a received file": "put local.bin retour/R.arl",
    "df (statvfs@openssh.com)": "df /",
    "get /etc/passwd": "get /etc/passwd got.bin",
    "another partner's mailbox": f"put local.bin ../{OC}/depot/x.part",
    "upload past the file limit": "put big.bin depot/B.part",
}


async def test_openssh_hostile_operations_are_refused(
    fresh_pki: Pki, hub: SftpHub, tmp_path: Path
) -> None:
    (tmp_path / "local.bin").write_bytes(b"x" * 1000)
    (tmp_path / "big.bin").write_bytes(b"y" * (LIMIT + 1))
    (tmp_path / "true.bin").write_bytes(Path(sys.executable).read_bytes()[:50_000])
    hub.disk.post(PS, "R.arl", b"an answer")
    await openssh(fresh_pki, hub, tmp_path, "put true.bin depot/T.part")
    before = snapshot(hub.disk.root)
    refused = {}
    for label, line in OPENSSH_HOSTILE.items():
        code, err = await openssh(fresh_pki, hub, tmp_path, line)
        refused[label] = code != 0
        assert code != 0, f"{label}: accepted"
        assert err.strip(), f"{label}: no message"
    # put -p uploads, then asks to set the local file's mode and times: the client only
    # warns when that is refused, and the file keeps the hub's mode and its own times
    os.chmod(tmp_path / "local.bin", 0o4755)
    os.utime(tmp_path / "local.bin", (1_000_000_000, 1_000_000_000))
    _code, err = await openssh(fresh_pki, hub, tmp_path, "put -p local.bin depot/P.part")
    kept = (hub.disk.root / PS / "depot" / "P.part").stat()
    assert stat.S_IMODE(kept.st_mode) == FILE_MODE and kept.st_mtime > 1_000_000_000
    assert "ermission denied" in err
    after = snapshot(hub.disk.root)
    assert changed_outside_own_parts(before, after) == []
    assert stat.S_IMODE((hub.disk.root / PS / "depot" / "T.part").stat().st_mode) == FILE_MODE
    assert all(refused.values()) and len(refused) + 1 >= 27


async def test_raw_hostile_requests_are_refused(fresh_pki: Pki, hub: SftpHub) -> None:
    hub.disk.post(PS, "R.arl", b"an answer")
    hub.disk.post(OC, "O.arl", b"not yours")
    box = hub.disk.root / PS
    async with await connect(fresh_pki, hub) as conn, conn.start_sftp_client() as sftp:
        async with sftp.open("depot/T.part", "wb") as f:
            await f.write(b"mine")
        before = snapshot(hub.disk.root)
        f = await sftp.open("depot/T.part", "r+b")
        r = await sftp.open("retour/R.arl", "rb")
        hostile: dict[str, Callable[[], Awaitable[Any]]] = {
            "setstat mode": lambda: sftp.chmod("depot/T.part", 0o4755),
            "setstat mode of /": lambda: sftp.chmod("/", 0o777),
            "lsetstat mode": lambda: sftp.chmod("depot/T.part", 0o4755, follow_symlinks=False),
            "setstat owner": lambda: sftp.chown("depot/T.part", 0, 0),
            "lsetstat owner": lambda: sftp.chown("retour/R.arl", 0, 0, follow_symlinks=False),
            "setstat times": lambda: sftp.utime("retour/R.arl", (0, 0)),
            "lsetstat times": lambda: sftp.utime("retour", (0, 0), follow_symlinks=False),
            "setstat size (truncate)": lambda: sftp.truncate("retour/R.arl", 0),
            "fsetstat mode": lambda: f.chmod(0o4777),
            "fsetstat size": lambda: f.truncate(0),
            "fsetstat times": lambda: f.utime((0, 0)),
            "fsetstat owner": lambda: f.chown(0, 0),
            "fsetstat on a received file": lambda: r.chmod(0o777),
            "statvfs": lambda: sftp.statvfs("/"),
            "fstatvfs": lambda: f.statvfs(),
            "readlink": lambda: sftp.readlink("retour/R.arl"),
            "symlink": lambda: sftp.symlink("/etc/passwd", "depot/l.part"),
            "hardlink": lambda: sftp.link("retour/R.arl", "depot/h.part"),
            "mkdir": lambda: sftp.mkdir("depot/d"),
            "rmdir": lambda: sftp.rmdir("retour"),
            "lock": lambda: f.lock(0, 10, asyncssh.FXF_BLOCK_WRITE),
            "unlock": lambda: f.unlock(0, 10),
            "open retour READ|TRUNC": lambda: sftp.open(
                "retour/R.arl", asyncssh.FXF_READ | asyncssh.FXF_TRUNC
            ),
            "open retour READ|WRITE": lambda: sftp.open("retour/R.arl", "r+b"),
            "open retour READ|APPEND": lambda: sftp.open(
                "retour/R.arl", asyncssh.FXF_READ | asyncssh.FXF_APPEND
            ),
            "open retour READ|CREAT": lambda: sftp.open(
                "retour/R.arl", asyncssh.FXF_READ | asyncssh.FXF_CREAT
            ),
            "open retour READ|EXCL": lambda: sftp.open(
                "retour/N.arl", asyncssh.FXF_READ | asyncssh.FXF_CREAT | asyncssh.FXF_EXCL
            ),
            "open retour WRITE": lambda: sftp.open("retour/R.arl", "wb"),
            "open a final depot name": lambda: sftp.open("depot/F.b2", "wb"),
            "open depot for reading": lambda: sftp.open("depot/T.part", "rb"),
            "open the mailbox root": lambda: sftp.open("/", "rb"),
            "open another mailbox": lambda: sftp.open(f"../{OC}/retour/O.arl", "rb"),
            "remove a folder": lambda: sftp.remove("depot"),
            "remove another's file": lambda: sftp.remove(f"../{OC}/retour/O.arl"),
            "rename retour to depot": lambda: sftp.rename("retour/R.arl", "depot/R.arl"),
            "posix rename out": lambda: sftp.posix_rename("depot/T.part", "../T"),
            "rename onto a received file": lambda: sftp.rename("depot/T.part", "retour/R.arl"),
            "listdir outside": lambda: sftp.listdir(".."),
            "stat outside": lambda: sftp.stat(f"../{OC}"),
            "realpath of a NUL name": lambda: sftp.realpath("retour/a\x00"),
        }
        outcomes = {}
        for label, attempt in hostile.items():
            try:
                result = await attempt()
                outcomes[label] = f"accepted: {result!r}"
            except asyncssh.SFTPError as exc:
                outcomes[label] = f"refused: {exc.reason}"
            except ValueError as exc:  # refused by the client library before sending
                outcomes[label] = f"refused: {exc}"
        accepted = {k: v for k, v in outcomes.items() if not v.startswith("refused")}
        assert not accepted, accepted
        assert all(len(v) > len("refused: ") for v in outcomes.values())
        await f.close()
        await r.close()
        attrs = await sftp.stat("retour/R.arl")
        assert attrs.uid is None and attrs.gid is None  # no owner ids shown
    after = snapshot(hub.disk.root)
    assert changed_outside_own_parts(before, after) == []
    assert (box / "retour" / "R.arl").read_bytes() == b"an answer"
    assert len(hostile) >= 35


async def test_attributes_sent_with_open_are_ignored(fresh_pki: Pki, hub: SftpHub) -> None:
    async with await connect(fresh_pki, hub) as conn, conn.start_sftp_client() as sftp:
        attrs = asyncssh.SFTPAttrs(permissions=0o4777, uid=0, gid=0)
        async with sftp.open("depot/P.part", "wb", attrs) as f:
            await f.write(b"x")
    info = (hub.disk.root / PS / "depot" / "P.part").stat()
    assert stat.S_IMODE(info.st_mode) == FILE_MODE and info.st_uid == os.getuid()


async def test_sizes_are_enforced_on_the_bytes_held(fresh_pki: Pki, hub: SftpHub) -> None:
    """Appends ignore the offset, sparse writes hold their hole: both stop at the file limit;
    the partner's whole depot/, .part files included, stops at its quota."""
    async with await connect(fresh_pki, hub) as conn, conn.start_sftp_client() as sftp:
        flags = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_APPEND
        async with sftp.open("depot/A.part", flags, encoding=None) as f:
            chunk = b"a" * 32 * 1024
            written = 0
            with pytest.raises(asyncssh.SFTPFailure, match="file too large"):
                for _ in range(LIMIT // len(chunk) + 2):
                    await f.write(chunk, 0)  # offset 0: the server appends anyway
                    written += len(chunk)
        assert written == LIMIT
        assert (hub.disk.root / PS / "depot" / "A.part").stat().st_size == LIMIT
        async with sftp.open("depot/S.part", "wb") as f:
            with pytest.raises(asyncssh.SFTPFailure, match="file too large"):
                await f.write(b"zz", LIMIT - 1)  # a hole up to the limit, then past it
        assert (hub.disk.root / PS / "depot" / "S.part").stat().st_size == 0
        async with sftp.open("depot/Q1.part", "wb") as f:
            await f.write(b"q" * (QUOTA - LIMIT - 1000))
        async with sftp.open("depot/Q2.part", "wb") as f:
            with pytest.raises(asyncssh.SFTPFailure, match="depot quota exceeded"):
                await f.write(b"q" * 2000)
    held = sum(p.stat().st_size for p in (hub.disk.root / PS / "depot").iterdir())
    assert held <= QUOTA


async def test_abandoned_part_files_are_removed_and_told(fresh_pki: Pki, hub: SftpHub) -> None:
    async with (
        await connect(fresh_pki, hub) as conn,
        conn.start_sftp_client() as sftp,
        sftp.open("depot/Old.part", "wb") as f,
    ):
        await f.write(b"half an upload")
    assert hub.disk.sweep_parts(PS) == []  # seen now
    hub.clock["now"] = NOW + timedelta(hours=1)  # type: ignore[attr-defined]
    assert hub.disk.list_depot(PS) == [] and (hub.disk.root / PS / "depot" / "Old.part").exists()
    hub.clock["now"] = NOW + timedelta(hours=3)  # type: ignore[attr-defined]
    hub.disk.list_depot(PS)
    assert not (hub.disk.root / PS / "depot" / "Old.part").exists()
    (removed,) = events_of(hub, "part-removed")
    assert removed["partner"] == PS and removed["name"] == "Old.part"


async def test_parallel_logins_get_exactly_the_limit_in(fresh_pki: Pki, hub: SftpHub) -> None:
    async def attempt() -> asyncssh.SSHClientConnection | None:
        try:
            conn = await connect(fresh_pki, hub)
            await conn.start_sftp_client()
        except (asyncssh.Error, OSError):
            return None
        return conn

    results = await asyncio.gather(*(attempt() for _ in range(100)))
    inside = [c for c in results if c is not None]
    assert len(inside) == hub.limits.max_sessions == hub.sessions[PS]
    refused = [e for e in events_of(hub, "login-refused") if "too many sessions" in str(e)]
    assert refused  # told, within the rate limit
    assert len(events_of(hub, "login-refused")) <= hub.limits.refusals_per_minute
    for conn in inside:
        conn.close()
        await conn.wait_closed()


async def test_a_session_open_at_revocation_fails_its_next_operation(
    fresh_pki: Pki, hub: SftpHub
) -> None:
    """A standalone hub (nobody calls revalidate()): the revocation, written by another
    process, ends the session at its very next operation."""
    async with await connect(fresh_pki, hub) as conn, conn.start_sftp_client() as sftp:
        assert await sftp.listdir("retour") == []
        at = (NOW - timedelta(hours=1)).isoformat()
        subprocess.run([sys.executable, "-m", "noemie_sim", "pki", "revoke",
                        str(fresh_pki.folder), PS, "--at", at], check=True,
                       capture_output=True)  # fmt: skip
        with pytest.raises((asyncssh.SFTPError, asyncssh.Error, ConnectionError)):
            await sftp.listdir("retour")
    closed = events_of(hub, "sessions-closed")  # by that operation, or by the hub's watch
    assert closed and {c["partner"] for c in closed} == {PS}


async def test_wrong_keys_are_told_within_a_rate_limit(
    fresh_pki: Pki, hub: SftpHub, tmp_path: Path
) -> None:
    wrong = asyncssh.generate_private_key("ssh-ed25519")
    for _ in range(20):
        with pytest.raises(asyncssh.PermissionDenied):
            await asyncssh.connect(
                "127.0.0.1", hub.port, username=PS, client_keys=[wrong],
                known_hosts=asyncssh.import_known_hosts(hub.known_hosts_line()),
                agent_path=None, config=None,
            )  # fmt: skip
    # the server tells each refusal when it sees the connection end, after the client's
    told = await until_told(hub, "login-refused", hub.limits.refusals_per_minute)
    assert len(told) == hub.limits.refusals_per_minute
    assert all(e["partner"] == PS and "authentication failed" in str(e["reason"]) for e in told)
    hub.clock["now"] = NOW + timedelta(minutes=1)  # type: ignore[attr-defined]
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(
            "127.0.0.1", hub.port, username="nobody", client_keys=[wrong],
            known_hosts=asyncssh.import_known_hosts(hub.known_hosts_line()),
            agent_path=None, config=None,
        )  # fmt: skip
    while not any(e["partner"] == "nobody" for e in events_of(hub, "login-refused")):
        await until_told(hub, "login-refused", len(events_of(hub, "login-refused")) + 1)
    (nobody,) = [e for e in events_of(hub, "login-refused") if e["partner"] == "nobody"]
    assert nobody["reason"] == "unknown partner"


def test_every_server_operation_is_allowed_or_refused() -> None:
    """The allow-list: each public operation of asyncssh's server is either reviewed and
    allowed, or refused by the mailbox server."""
    for name in dir(asyncssh.SFTPServer):
        if name.startswith("_"):
            continue
        mine = getattr(_MailboxSFTP, name)
        if name in ALLOWED:
            assert mine is not _MailboxSFTP._refuse, name
        else:
            assert mine is _MailboxSFTP._refuse, name
