"""noemie-sim sftp-hub as a process, and the fault proxy's outage window."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from noemie_sim.pki.authority import Pki
from noemie_sim.sim.transport.api import Refused, TransportError
from noemie_sim.sim.transport.faults import FaultPlan, FaultProxy
from noemie_sim.sim.transport.sftp_client import SftpClient
from noemie_sim.sim.transport.sftp_server import ServerFaults, SftpHub

from .pki_helpers import CPAM, PS, PS2
from .transport_helpers import NOW, sftp_client


async def no_wait(_seconds: float) -> None:
    await asyncio.sleep(0)


async def test_sftp_hub_command_serves_and_stops_on_sigterm(fresh_pki: Pki, tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "noemie_sim",
        "sftp-hub",
        "--pki",
        str(fresh_pki.folder),
        "--cpam",
        CPAM,
        "--data",
        str(tmp_path / "hub"),
        "--at",
        NOW.isoformat(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    lines = [(await asyncio.wait_for(process.stdout.readline(), 30)).decode() for _ in range(4)]
    port = int(lines[0].split(" port ")[1])
    known = lines[3].strip()
    assert known.startswith(f"[127.0.0.1]:{port} ssh-ed25519 ")
    key = (fresh_pki.folder / "parties" / PS / "key.pem").read_bytes()
    client = SftpClient("127.0.0.1", port, PS, key, known)
    await client.send("LOT1.b2", b"hello hub")
    await client.close()
    assert (tmp_path / "hub" / PS / "depot" / "LOT1.b2").read_bytes() == b"hello hub"
    process.send_signal(signal.SIGTERM)
    out, _err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0 and b"hub stopped" in out


async def test_sftp_hub_command_refuses_a_non_cpam(fresh_pki: Pki, tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "noemie_sim",
        "sftp-hub",
        "--pki",
        str(fresh_pki.folder),
        "--cpam",
        PS,
        "--data",
        str(tmp_path / "hub"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2 and b"not a cpam" in err and b"Traceback" not in err


async def test_outage_window_then_recovery(fresh_pki: Pki, tmp_path: Path) -> None:
    hub = SftpHub(fresh_pki, CPAM, tmp_path / "hub", lambda: NOW)
    await hub.start()
    proxy = FaultProxy(hub.port, FaultPlan(seed=1))
    await proxy.start()
    client = sftp_client(fresh_pki, hub, PS, port=proxy.port, attempts=3, sleep=no_wait)
    try:
        await client.send("BEFORE.b2", b"1")
        proxy.set_down(True)
        with pytest.raises(TransportError, match="unreachable after 3 attempts"):
            await client.send("DURING.b2", b"2")
        proxy.set_down(False)
        await client.send("DURING.b2", b"2")  # the sender retries after the outage
        assert hub.disk.list_depot(PS) == ["BEFORE.b2", "DURING.b2"]
    finally:
        await client.close()
        await proxy.close()
        await hub.close()


def test_the_proxy_only_forwards_to_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy(22, target_host="10.0.0.1")


async def test_injected_login_refusal_and_latency(fresh_pki: Pki, tmp_path: Path) -> None:
    events: list[tuple[str, dict[str, object]]] = []
    hub = SftpHub(
        fresh_pki,
        CPAM,
        tmp_path / "hub",
        lambda: NOW,
        on_event=lambda kind, **kw: events.append((kind, kw)),
        faults=ServerFaults(refuse_login=lambda partner: partner == PS),
    )
    await hub.start()
    proxy = FaultProxy(hub.port, FaultPlan(seed=2, latency=0.002))
    await proxy.start()
    refused = sftp_client(fresh_pki, hub, PS, port=proxy.port)
    other = sftp_client(fresh_pki, hub, PS2, port=proxy.port)
    try:
        with pytest.raises(Refused, match="login refused"):
            await refused.list_incoming()
        assert (
            "login-refused",
            {"partner": PS, "reason": "login refused (injected fault)", "hub": CPAM},
        ) in events
        await other.send("SLOW.b2", b"through a slow link")
        assert hub.disk.read_depot(PS2, "SLOW.b2") == b"through a slow link"
    finally:
        for client in (refused, other):
            await client.close()
        await proxy.close()
        await hub.close()
