"""Replaying a recorded run's traffic to a party, over SFTP, byte for byte and in order."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from noemie_sim.pki.authority import Pki
from noemie_sim.pki.cms import seal
from noemie_sim.pki.validation import TrustStore
from noemie_sim.scenarios.cli import main
from noemie_sim.scenarios.vendors.replay_traffic import recorded_traffic, replay_traffic
from noemie_sim.sim.clock import Clock
from noemie_sim.sim.journal import open_journal
from noemie_sim.sim.transport.sftp_server import SftpHub


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("recorded") / "run"
    assert main(["run", "negative-arl", "--out", str(run)]) == 0
    return run


async def test_a_ps_gets_the_recorded_files_again_and_its_answers_are_journaled(
    recorded: Path,
) -> None:
    journal = open_journal(recorded)
    ps = next(e.details["to"] for e in journal.events("file-sent") if e.actor != e.details["to"]
              and str(e.details["name"]).startswith("ARL-"))  # fmt: skip
    journal.db.close()
    files = recorded_traffic(recorded, ps)
    assert [f.at for f in files] == sorted(f.at for f in files) and len(files) >= 4
    all_posted, answered = asyncio.Event(), asyncio.Event()
    served: dict[str, Any] = {}

    def ready(hubs: dict[str, SftpHub], clock: Clock) -> None:
        served["hubs"], served["clock"] = hubs, clock

    def told(kind: str, details: dict[str, Any]) -> None:
        if kind == "posted" and details["number"] == details["of"]:
            all_posted.set()
        if kind == "received":
            answered.set()

    task = asyncio.create_task(
        replay_traffic(recorded, ps, speed=500_000, linger=timedelta(days=60),
                       on_ready=ready, on_event=told)
    )  # fmt: skip
    await asyncio.wait_for(all_posted.wait(), 60)
    ((caisse, hub),) = served["hubs"].items()
    pki = Pki(recorded / "pki")
    async with asyncssh.connect(
        "127.0.0.1", hub.port, username=ps, agent_path=None, config=None,
        client_keys=[str(recorded / "pki" / "parties" / ps / "key.pem")],
        known_hosts=asyncssh.import_known_hosts(hub.known_hosts_line()),
    ) as conn, conn.start_sftp_client() as sftp:  # fmt: skip
        names = sorted(await sftp.listdir("retour"))
        assert names == sorted(f.name for f in files)
        for f in files:  # byte for byte as the run sealed them
            async with sftp.open(f"retour/{f.name}", "rb") as remote:
                content: bytes = await remote.read()
                assert content == f.sealed.read_bytes()
        lot = next(recorded.glob(f"files/{ps}/*-FSE-*.clear")).read_bytes()
        sealed = seal(lot, pki.identity(ps), pki.certificate(caisse), TrustStore.load(pki),
                      files[0].at)  # fmt: skip
        async with sftp.open("depot/FSE-again.p7m.part", "wb") as remote:
            await remote.write(sealed)
        await sftp.rename("depot/FSE-again.p7m.part", "depot/FSE-again.p7m")
    await asyncio.wait_for(answered.wait(), 60)
    served["clock"].stop()
    folder = await task
    replay = open_journal(folder)
    kinds = [e.kind for e in replay.events()]
    replay.verify()
    replay.db.close()
    assert kinds.count("posted") == len(files) and kinds.count("received") == 1


def test_replay_traffic_refuses_an_unknown_party(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay-traffic", str(recorded), "--against", "999999999"]) == 2
    assert "999999999" in capsys.readouterr().err
