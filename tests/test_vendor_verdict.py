"""What a vendor's CI gates on, checked as the vendor meets it: the API's party filter and
timeout, a PKI valid at the real time as well as the simulated one (openssl at today's date,
revocations seen there), commands that default to the run's time, a stop that is never a
pass, replay that means the same run and names where two journals part, and serve's log
when stdout is not a terminal."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from noemie_sim.actors.network import Network, NetworkConfig
from noemie_sim.pki.authority import KeyPool
from noemie_sim.pki.validation import Purpose, TrustStore, validate
from noemie_sim.scenarios.cli import main
from noemie_sim.scenarios.cli import vendors as serve_cli
from noemie_sim.sim.clock import Clock
from noemie_sim.sim.domain.population import PopulationConfig
from noemie_sim.sim.journal import Journal, open_journal
from noemie_sim.sim.transport.sftp_server import _Fetch

from .web_helpers import serving


def _openssl_verify(kit: Path, *certs: str) -> subprocess.CompletedProcess[str]:
    """openssl at the real time (no -attime), CRLs of every level checked."""
    return subprocess.run(
        ["openssl", "verify", "-crl_check_all", "-CAfile", "root.pem", "-untrusted", "cas.pem",
         "-CRLfile", "crls.pem", "-purpose", "any", *certs],
        cwd=kit, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_a_served_run_at_the_real_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    with serving("serve", "demo", "--external", "ps", "--virtual", "--out", str(run)) as served:
        api = served.http
        served.wait_for_line("connection kit")  # the network is built
        kit: dict[str, Any] = api.get("/api/kits/ps").json()
        ps, folder = kit["party"], Path(kit["folder"])
        caisse = kit["connection"]["servers"][0]["caisse"]
        start = api.get("/api/clock").json()["now"]
        # nothing sent to or by the external PS yet: 408 at the simulated time reached
        waited = api.post(
            "/api/clock/advance", json={"until_event": "arl-sent", "party": ps, "timeout": "1h"}
        )
        assert waited.status_code == 408, waited.text
        body = waited.json()
        assert body["error"]["code"] == "timeout" and body["event"] is None
        reached = datetime.fromisoformat(start) + timedelta(hours=1)
        assert datetime.fromisoformat(body["now"]) == reached
        assert reached.isoformat() in body["error"]["message"]
        # the party filter: an event sent to a simulated mutuelle, not anyone's
        oc = next(p["id"] for p in api.get("/api/network").json()["parties"]
                  if p["role"] == "oc")  # fmt: skip
        found = api.post("/api/clock/advance", json={"until_event": "file-sent", "party": oc})
        assert found.status_code == 200, found.text
        event = found.json()["event"]
        assert event["kind"] == "file-sent" and event["details"]["to"] == oc
        bad = api.post("/api/clock/advance", json={"until_event": "x", "party": "nobody"})
        assert bad.status_code == 400 and "nobody" in bad.text
        assert api.post("/api/clock/advance", json={"party": ps}).status_code == 400

        # at the real date, the kit's certificates and CRLs hold (openssl, no -attime)
        checked = _openssl_verify(folder, "cert.pem", f"peers/{caisse}.pem")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout.count(": OK") == 2
        # a file of the run opens with the run's PKI without --at (the run's time, said),
        # and at the real time too
        archive = api.get(f"/api/events?kind=file-sent&to={oc}").json()["events"][0]
        sealed = tmp_path / "dec.p7m"
        sealed.write_bytes(api.get(f"/api/files/{archive['archive_id']}/sealed").content)
        opened = ["open", str(sealed), "--pki", str(run / "pki"), "--as", oc, "--out",
                  str(tmp_path / "dec.txt")]  # fmt: skip
        assert main(opened) == 0
        assert "the simulated time of the run" in capsys.readouterr().err
        real_now = datetime.now(UTC).isoformat()
        assert main([*opened, "--at", real_now]) == 0
        # an emergency revocation: the CRL the kit holds says so at the real time
        fault = api.post("/api/faults", json={"kind": "revoke-certificate", "target": ps})
        assert fault.status_code == 202, fault.text
        assert api.post("/api/clock/advance", json={"by": "1h"}).status_code == 200
        revoked = _openssl_verify(folder, "cert.pem")
        assert revoked.returncode != 0 and "certificate revoked" in revoked.stdout + revoked.stderr
        # stopped before the end: never a pass
        assert api.post("/api/stop", json={}).status_code == 202
        assert served.wait() == 3
        assert "verdict: incomplete (exit 3)" in "".join(served.lines)
    # a run with an external party cannot be replayed: said, exit 2
    capsys.readouterr()
    assert main(["replay", str(run)]) == 2
    err = capsys.readouterr().err
    assert ps in err and "external parties" in err and "replay-traffic" in err


def test_replay_means_the_same_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "r"
    # played in scaled time: how it was watched is not part of what it did
    assert main(["run", "demo", "--speed", "200000", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["replay", str(run)]) == 0
    assert "identical journal" in capsys.readouterr().out
    journal = open_journal(run)
    assert journal.info("watched") == {"speed": 200000.0}
    assert "speed" not in journal.config()["network"]
    first_lot = journal.events("lot-sent")[0]
    journal.db.close()

    # a run that differs at one event: replay names it, its kind and both values
    record = Journal.record
    changed: list[int] = []

    def one_event_changed(self: Journal, actor: str, kind: str, **fields: Any) -> int:
        if kind == "lot-sent" and not changed:
            fields["invoices"] = [*fields["invoices"], 999999999]
            changed.append(1)
        return record(self, actor, kind, **fields)

    monkeypatch.setattr(Journal, "record", one_event_changed)
    assert main(["replay", str(run)]) == 1
    out = capsys.readouterr().out
    assert f"first difference: event {first_lot.seq} (lot-sent) differs: details.invoices:" in out
    assert "999999999" in out.split("replayed")[-1]

    # a file of this finished run opens without --at: at the run's simulated time
    monkeypatch.setattr(Journal, "record", record)
    journal = open_journal(run)
    sent = next(e for e in journal.events("file-sent") if str(e.details["name"]).startswith("ARL"))
    journal.db.close()
    sealed = run / str(sent.details["archive"])
    assert main(["open", str(sealed), "--pki", str(run / "pki"), "--as", str(sent.details["to"]),
                 "--out", str(tmp_path / "arl.txt")]) == 0  # fmt: skip
    assert f"the simulated time of the run in {run}" in capsys.readouterr().err


async def test_crls_follow_the_real_clock(tmp_path: Path, key_pool: KeyPool) -> None:
    """A PKI served to real systems stays valid at the real time as it moves on: CRLs are
    published again before they end, and decisions at the simulated times do not change."""
    keys = key_pool
    config = NetworkConfig(seed=3, jours_ouvres=1, transport="memory",
                           population=PopulationConfig(practitioners=1, assures=20, mutuelles=1,
                                                       employers=0))  # fmt: skip
    real = [datetime(2026, 12, 4, 12, tzinfo=UTC)]
    network = Network(config, tmp_path / "run", keys=keys, wall_clock=lambda: real[0])
    async with network:
        pki = network.pki
        ps = next(iter(network.practitioners))
        cert = pki.certificate(ps)
        for moment in (config.start, real[0]):
            validate(cert, TrustStore.load(pki), moment, Purpose.SIGN)
        assert not network.refresh_crls()  # still valid for days: nothing published
        real[0] += timedelta(days=3)
        assert network.refresh_crls()  # a week past the first real time: fresh ones
        later = real[0] + timedelta(days=6)
        validate(cert, TrustStore.load(pki), later, Purpose.SIGN)
        validate(cert, TrustStore.load(pki), config.start, Purpose.SIGN)
        assert not network.refresh_crls()


def test_a_read_is_whole_once_every_byte_was_read() -> None:
    fetch = _Fetch("ARL-1.p7m", 100)
    assert not fetch.read(32, 32)  # out of order, as OpenSSH's sftp reads in parallel
    assert not fetch.read(70, 30)
    assert not fetch.read(0, 31)  # a hole at 31
    assert fetch.read(31, 40)
    assert not fetch.read(0, 100)  # told once
    assert _Fetch("empty", 0).read(0, 0)


async def test_the_heartbeat_of_a_ci_log(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []

    class Log:
        def print(self, text: str, **_options: Any) -> None:
            lines.append(text)

    async def three_ticks(_seconds: float) -> Any:
        for n in range(3):
            yield float(n)

    monkeypatch.setattr(serve_cli, "real_ticks", three_ticks)
    clock = Clock(datetime(2026, 3, 2, 6, tzinfo=UTC))

    async def step() -> None:
        return None

    clock.at(datetime(2026, 3, 2, 7, tzinfo=UTC), step, "caisse reads its depots")
    watch = serve_cli.ServeProgress(["751"], {"751": "ps"}, log=Log())  # type: ignore[arg-type]
    clock.pause()
    running = asyncio.create_task(clock.run_until(datetime(2026, 3, 3, tzinfo=UTC)))
    while not clock.running:  # the task starts at the loop's next turn
        await asyncio.sleep(0)
    await clock.parked()
    await watch.heartbeat(clock)
    assert lines == ["[simulated Mon 02/03 06:00] heartbeat: paused, next: caisse reads its "
                     "depots at Mon 02/03 07:00"] * 3  # fmt: skip
    clock.stop()
    await running
    await watch.heartbeat(clock)  # served on after the end
    assert lines[3].endswith("heartbeat: the run has ended, serving until stopped")
