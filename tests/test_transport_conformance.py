"""ONE conformance suite, run against the SFTP hub and the in-memory hub: same semantics."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from noemie_sim.pki.authority import Pki
from noemie_sim.sim.transport.api import AlreadyDelivered, Refused
from noemie_sim.sim.transport.names import DEPOT, RETOUR, InvalidName
from noemie_sim.sim.transport.sftp_server import Limits

from .pki_helpers import OC, PS, PS2
from .transport_helpers import Fabric, memory_fabric, sftp_fabric

LIMITS = Limits(max_file_size=2 * 1024 * 1024)


@pytest.fixture(params=["memory", "sftp"])
async def fabric(request: pytest.FixtureRequest, pki: Pki, tmp_path: Path) -> AsyncIterator[Fabric]:
    maker = (
        memory_fabric(pki, LIMITS)
        if request.param == "memory"
        else sftp_fabric(pki, tmp_path, LIMITS)
    )
    async with maker as made:
        yield made


async def test_send_then_the_hub_reads_and_consumes(fabric: Fabric) -> None:
    await fabric.client(PS).send("LOT001.b2", b"lot one")
    assert fabric.hub.list_depot(PS) == ["LOT001.b2"]
    assert fabric.hub.read_depot(PS, "LOT001.b2") == b"lot one"
    fabric.hub.consume(PS, "LOT001.b2")
    assert fabric.hub.list_depot(PS) == []


async def test_post_then_the_partner_lists_receives_deletes(fabric: Fabric) -> None:
    fabric.hub.post(PS, "ARL001.arl", b"ack")
    fabric.hub.post(PS, "NOE001.580", b"paid")
    client = fabric.client(PS)
    assert await client.list_incoming() == ["ARL001.arl", "NOE001.580"]
    assert await client.receive("NOE001.580") == b"paid"
    await client.delete("ARL001.arl")
    assert await client.list_incoming() == ["NOE001.580"]


async def test_no_clobber_both_ways(fabric: Fabric) -> None:
    client = fabric.client(PS)
    await client.send("LOT002.b2", b"first")
    with pytest.raises(AlreadyDelivered):
        await client.send("LOT002.b2", b"second")
    assert fabric.hub.read_depot(PS, "LOT002.b2") == b"first"
    fabric.hub.post(PS, "ARL002.arl", b"one")
    with pytest.raises(AlreadyDelivered):
        fabric.hub.post(PS, "ARL002.arl", b"two")
    assert await client.receive("ARL002.arl") == b"one"


@pytest.mark.parametrize(
    "name", ["../x", "a/b", "", ".hidden", "x\x00y", "x" * 201, "a\\b", "..", "é"]
)
async def test_invalid_names_are_refused(fabric: Fabric, name: str) -> None:
    with pytest.raises(InvalidName):
        await fabric.client(PS).send(name, b"x")
    with pytest.raises(InvalidName):
        fabric.hub.post(PS, name, b"x")


async def test_uploads_in_progress_and_strange_names_are_never_listed(fabric: Fabric) -> None:
    fabric.plant(PS, RETOUR, "ARL003.arl.part", b"half")
    fabric.plant(PS, RETOUR, ".secret", b"x")
    fabric.plant(PS, DEPOT, "LOT003.b2.part", b"half")
    assert await fabric.client(PS).list_incoming() == []
    assert fabric.hub.list_depot(PS) == []


async def test_a_partner_reaches_only_its_own_mailbox(fabric: Fabric) -> None:
    fabric.hub.post(PS2, "ARL004.arl", b"for the other PS")
    client = fabric.client(PS)
    assert await client.list_incoming() == []
    with pytest.raises(Refused):
        await client.receive("ARL004.arl")
    await fabric.client(OC).send("ACK001.ocr", b"oc answer")
    assert fabric.hub.list_depot(PS) == [] and fabric.hub.list_depot(OC) == ["ACK001.ocr"]


async def test_concurrent_sends_on_one_client(fabric: Fabric) -> None:
    client = fabric.client(PS)
    rng = random.Random(3)
    files = {f"F{n:04d}.b2": rng.randbytes(rng.randint(1, 20_000)) for n in range(60)}
    await asyncio.gather(*(client.send(name, data) for name, data in files.items()))
    assert fabric.hub.list_depot(PS) == sorted(files)
    assert all(fabric.hub.read_depot(PS, n) == d for n, d in files.items())


async def test_a_large_file_is_byte_exact(fabric: Fabric) -> None:
    data = random.Random(4).randbytes(LIMITS.max_file_size)
    await fabric.client(PS).send("BIG.b2", data)
    assert fabric.hub.read_depot(PS, "BIG.b2") == data


async def test_files_over_the_size_limit_are_refused(fabric: Fabric) -> None:
    with pytest.raises(Refused):
        await fabric.client(PS).send("HUGE.b2", b"x" * (LIMITS.max_file_size + 1))
    assert fabric.hub.list_depot(PS) == []
