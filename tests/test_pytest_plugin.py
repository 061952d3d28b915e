"""The pytest plugin, used as a vendor would: its fixtures (loaded through the package's
pytest11 entry point), a real SFTP client and the openssl command line, time moved by the
test itself."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import asyncssh
import pytest

from noemie_sim.pki.authority import Pki
from noemie_sim.scenarios.vendors.pytest_plugin import Harness

Start = Callable[..., Awaitable[Harness]]


def openssl(kit: Path, *args: str) -> None:
    subprocess.run(["openssl", "cms", *args], cwd=kit, check=True, capture_output=True)


async def test_an_external_ps_on_a_clock_the_test_moves(noemie_network: Start) -> None:
    net = await noemie_network("demo", external=["ps"])
    (ps,) = net.externals
    kit = net.kit(ps)
    where = json.loads((kit / "connection.json").read_text())["servers"][0]
    openssl(kit, "-sign", "-binary", "-nodetach", "-md", "sha256", "-in", "sample-lot.b2",
            "-signer", "cert.pem", "-inkey", "key.pem", "-certfile", "chain.pem",
            "-outform", "DER", "-out", "signed.der")  # fmt: skip
    openssl(kit, "-encrypt", "-binary", "-aes-256-gcm", "-recip", f"peers/{where['caisse']}.pem",
            "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256",
            "-in", "signed.der", "-outform", "DER", "-out", "lot.p7m")  # fmt: skip
    started = net.now
    async with asyncssh.connect(
        where["host"], where["port"], username=ps, client_keys=[str(kit / "key.pem")],
        known_hosts=str(kit / "known_hosts"), agent_path=None, config=None,
    ) as conn, conn.start_sftp_client() as sftp:  # fmt: skip
        await sftp.put(str(kit / "lot.p7m"), f"depot/FSE-{ps}-000001.p7m.part")
        await sftp.rename(f"depot/FSE-{ps}-000001.p7m.part", f"depot/FSE-{ps}-000001.p7m")
    assert net.now == started  # time stood still while the vendor's system worked
    arl = await net.until("arl-sent", party=ps, within=timedelta(hours=6))
    assert arl.details["status"] == "P" and arl.file == f"{ps}/1"
    noemie = await net.until(
        lambda e: e.kind == "file-sent" and e.details.get("to") == ps, within=timedelta(days=1)
    )
    assert str(noemie.details["name"]).startswith("NOE-")
    (verdict,) = net.verdicts()
    assert verdict["verdict"] == "conform" and verdict["lots_positive"] == 1
    with pytest.raises(AssertionError, match="no never-recorded event"):
        await net.until("never-recorded", within=timedelta(hours=2))
    before = net.now
    await net.advance(hours=3)
    assert net.now == before + timedelta(hours=3)


async def test_an_external_ps_that_sends_nothing_is_not_conform(noemie_network: Start) -> None:
    net = await noemie_network("demo", external=["ps"])
    await net.advance(days=1)
    (verdict,) = net.verdicts()
    assert verdict["verdict"] == "not conform" and verdict["reasons"] == ["sent no file"]


def test_the_pki_fixture(noemie_pki: Pki) -> None:
    assert noemie_pki.parties() == {
        "751000001": "ps", "017510000": "cpam", "12345678": "oc", "12345678900010": "employer",
    }  # fmt: skip
    key = noemie_pki.folder / "parties" / "751000001" / "key.pem"
    assert key.stat().st_mode & 0o777 == 0o600


async def test_a_lot_changed_after_its_delivery_is_refused(noemie_network: Start) -> None:
    """The partner delivered one lot; the bytes in its depot/ changed before the caisse read
    them (behind the hub's back): refused with its own reason, journaled, a negative ARL."""
    net = await noemie_network("demo", external=["ps"])
    (ps,) = net.externals
    kit = net.kit(ps)
    where = json.loads((kit / "connection.json").read_text())["servers"][0]
    name = f"FSE-{ps}-000001.p7m"
    async with asyncssh.connect(
        where["host"], where["port"], username=ps, client_keys=[str(kit / "key.pem")],
        known_hosts=str(kit / "known_hosts"), agent_path=None, config=None,
    ) as conn, conn.start_sftp_client() as sftp:  # fmt: skip
        async with sftp.open(f"depot/{name}.part", "wb") as f:
            await f.write(b"a sealed lot, as delivered")
        await sftp.rename(f"depot/{name}.part", f"depot/{name}")
    depot = net.network.folder / "hubs" / where["caisse"] / ps / "depot" / name
    depot.write_bytes(b"another content")
    arl = await net.until("arl-sent", party=ps)
    (refused,) = net.events("file-refused")
    assert refused.details["code"] == "changed-after-delivery"
    assert "changed after the rename" in refused.details["reason"]
    assert arl.details["status"] == "N" and arl.details["codes"] == ["0002 002"]
