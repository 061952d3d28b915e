"""Exactly-once processing over at-least-once transfer, under injected disconnects.

Clients send through a fault proxy that cuts connections after a random number of bytes, and
the hub drops connections right after publishing a file, before its reply (the unknown-outcome
case). The receiver dedupes on (sender, file id) and consumes what it processes. The run then
checks, Jepsen-style: no file lost, none processed twice, none unexpected.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from noemie_sim.pki.authority import Pki
from noemie_sim.sim.transport.faults import FaultPlan, FaultProxy
from noemie_sim.sim.transport.sftp_server import ServerFaults, SftpHub

from .pki_helpers import CPAM, EMPLOYER, OC, PS, PS2
from .transport_helpers import NOW, sftp_client

SENDERS = [PS, PS2, OC, EMPLOYER]
FILES_PER_SENDER = 180  # x 4 senders x 3 seeds = 2 160 files
CONCURRENCY = 6  # concurrent sends per client, on its one connection


async def no_wait(_seconds: float) -> None:
    await asyncio.sleep(0)  # retry at once: loopback, and no real sleep in tests


async def run_seed(pki: Pki, folder: Path, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    drops = {"count": 0}

    def drop_after_rename(_partner: str, _name: str) -> bool:
        if rng.random() < 0.06:
            drops["count"] += 1
            return True
        return False

    delivered: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def on_event(kind: str, **details: object) -> None:
        if kind == "delivered":
            delivered.put_nowait((str(details["partner"]), str(details["name"])))

    hub = SftpHub(
        pki,
        CPAM,
        folder,
        lambda: NOW,
        on_event=on_event,
        faults=ServerFaults(drop_after_rename=drop_after_rename),
    )
    await hub.start()
    proxy = FaultProxy(hub.port, FaultPlan(seed=seed, cut_rate=0.5, cut_min=1_000, cut_max=40_000))
    await proxy.start()
    processed: dict[tuple[str, str], int] = {}
    duplicates = 0

    async def receiver() -> None:
        nonlocal duplicates
        while True:
            partner, name = await delivered.get()
            if name not in hub.disk.list_depot(partner):
                continue  # already consumed: a second event for the same publication
            content = hub.disk.read_depot(partner, name)
            file_id = content.split(b"|", 1)[0].decode()
            key = (partner, file_id)
            if key in processed:
                duplicates += 1  # a resend of a file already processed: absorbed
            processed[key] = processed.get(key, 0) + (key not in processed)
            hub.disk.consume(partner, name)

    consumer = asyncio.ensure_future(receiver())
    sent: set[tuple[str, str]] = set()
    clients = [
        sftp_client(pki, hub, p, port=proxy.port, attempts=40, sleep=no_wait) for p in SENDERS
    ]

    async def send_all(client_index: int) -> None:
        client, partner = clients[client_index], SENDERS[client_index]
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(n: int) -> None:
            file_id = f"{seed:02d}{n:05d}"
            body = f"{file_id}|".encode() + random.Random(n).randbytes(10_000)
            async with gate:
                await client.send(f"F{file_id}.b2", body)
            sent.add((partner, file_id))

        await asyncio.gather(*(one(n) for n in range(FILES_PER_SENDER)))

    try:
        await asyncio.gather(*(send_all(i) for i in range(len(clients))))
        for _ in range(200):  # let the receiver drain what the last events announced
            if delivered.empty() and not any(hub.disk.list_depot(p) for p in SENDERS):
                break
            await asyncio.sleep(0.005)
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        for client in clients:
            await client.close()
        await proxy.close()
        await hub.close()
    reconnections = sum(c.reconnections for c in clients)
    lost = sent - set(processed)
    unexpected = set(processed) - sent
    twice = [k for k, v in processed.items() if v != 1]
    return {
        "sent": len(sent),
        "processed": len(processed),
        "lost": len(lost),
        "unexpected": len(unexpected),
        "processed_twice": len(twice),
        "duplicates_absorbed": duplicates,
        "proxy_cuts": proxy.cuts,
        "drops_after_rename": drops["count"],
        "reconnections": reconnections,
        "connections": proxy.connections,
    }


async def test_exactly_once_under_disconnects(
    fresh_pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    totals: dict[str, int] = {}
    for seed in (1, 2, 3):
        counts = await run_seed(fresh_pki, tmp_path / f"hub{seed}", seed)
        assert counts["sent"] == FILES_PER_SENDER * len(SENDERS), counts
        assert (counts["lost"], counts["processed_twice"], counts["unexpected"]) == (0, 0, 0), (
            counts
        )
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
    disconnects = totals["proxy_cuts"] + totals["drops_after_rename"]
    with capsys.disabled():
        print(f"\nexactly-once over 3 seeds: {totals}, disconnects injected: {disconnects}")
    assert totals["sent"] >= 2000
    assert disconnects >= 200 and totals["drops_after_rename"] >= 50
