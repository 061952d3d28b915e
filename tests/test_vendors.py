"""Real systems in place of simulated parties, seen from outside: the OpenSSH ``sftp`` client and
the ``openssl`` command line, driven with nothing but a connection kit, play an external PS and
an external mutuelle against a network served in scaled time. The waits are on the run's
journal (an event recorded), never on a timer."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import re
import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import asyncssh
import pytest

from noemie_sim.actors.network import Network, population_of
from noemie_sim.pki.authority import KeyPool
from noemie_sim.scenarios.cli import main
from noemie_sim.scenarios.runner import play, report
from noemie_sim.scenarios.schema import Scenario, parse
from noemie_sim.scenarios.vendors.external import write_kit
from noemie_sim.sim.clock import wall_now
from noemie_sim.sim.domain.population import build
from noemie_sim.sim.journal import Event
from noemie_sim.sim.norms import arl, b2, kinds, noemie_oc, noemie_ps, oc_answer
from noemie_sim.sim.transport.sftp_server import SftpHub

SCENARIO = """
[scenario]
name = "vendor"
seed = 4
duration = "2 jours ouvrés"
clock = "scaled"
speed = 20000

[population]
assures = 150
mutuelles = 2
employers = 0
mutuelle_share = 1.0
noemie_active_share = 1.0

[[practitioners]]
count = 3
fse_per_day = [3, 5]

[mutuelles]
lost_member_share = 0.0
ended_contract_share = 0.0
"""


@pytest.fixture(scope="module")
def keys(key_pool: KeyPool) -> KeyPool:
    return key_pool


async def command(*args: str, cwd: Path, stdin: bytes | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate(stdin)
    assert process.returncode == 0, f"{args[0]} failed: {err.decode()}"
    return out.decode()


async def sftp(kit: Path, party: str, port: int, *lines: str) -> str:
    """The OpenSSH client, as the kit's README says to run it, in batch mode."""
    (kit / "batch").write_text("\n".join(lines) + "\n")
    return await command(
        "sftp", "-b", "batch", "-i", "key.pem", "-o", "UserKnownHostsFile=known_hosts",
        "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-P", str(port), f"{party}@127.0.0.1", cwd=kit,
    )  # fmt: skip


async def seal(kit: Path, clear: str, caisse: str, out: str, recipient: str = "") -> None:
    """Sign then encrypt with openssl, the kit README's commands."""
    await command("openssl", "cms", "-sign", "-binary", "-nodetach", "-md", "sha256", "-in",
                  clear, "-signer", "cert.pem", "-inkey", "key.pem", "-certfile", "chain.pem",
                  "-outform", "DER", "-out", "signed.der", cwd=kit)  # fmt: skip
    await command("openssl", "cms", "-encrypt", "-binary", "-aes-256-gcm", "-recip",
                  recipient or f"peers/{caisse}.pem", "-keyopt", "rsa_padding_mode:oaep", "-keyopt",
                  "rsa_oaep_md:sha256", "-in", "signed.der", "-outform", "DER", "-out", out,
                  cwd=kit)  # fmt: skip


async def unseal(kit: Path, sealed: str) -> bytes:
    """Decrypt then verify against the test root with openssl."""
    await command("openssl", "cms", "-decrypt", "-binary", "-inform", "DER", "-in", sealed,
                  "-inkey", "key.pem", "-recip", "cert.pem", "-out", "in.der", cwd=kit)  # fmt: skip
    await command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "in.der",
                  "-CAfile", "root.pem", "-purpose", "any", "-out", "in.txt", cwd=kit)  # fmt: skip
    return (kit / "in.txt").read_bytes()


class Served:
    """A network served in the test's event loop, with one external party and its kit.

    Its scaled clock runs only while the test waits for an event of the run (:meth:`event`)
    and is paused while the test plays the external party (openssl, sftp): a loaded machine
    makes the test slower, never makes the run end before the party has acted."""

    def __init__(self, scenario: Scenario, folder: Path, party: str, keys: KeyPool) -> None:
        self.scenario, self.folder, self.party, self.keys = scenario, folder, party, keys
        self.network: Network | None = None
        self.ready = asyncio.Event()
        self.waiting: list[tuple[Callable[[Event], bool], asyncio.Event]] = []
        self.task: asyncio.Task[object] | None = None

    def _built(self, network: Network) -> None:
        self.network = network
        write_kit(network, self.party, self.folder / "kits")
        network.journal.listeners.append(self._heard)
        network.clock.pause()  # until the test waits for the run (event)
        self.ready.set()

    def _heard(self, event: Event) -> None:
        for wanted, flag in self.waiting:
            if wanted(event) and not flag.is_set():
                flag.set()
                assert self.network is not None
                self.network.clock.pause()  # after this step: the test acts meanwhile

    async def event(self, wanted: Callable[[Event], bool]) -> None:
        """Run the clock until the journal records an event ``wanted`` accepts, then pause
        it; fails if the run ends first. No wall-clock timeout: a loaded machine only makes
        the wait longer."""
        flag = asyncio.Event()
        self.waiting.append((wanted, flag))
        assert self.task is not None and self.network is not None
        self.network.clock.resume()
        heard = asyncio.ensure_future(flag.wait())
        await asyncio.wait([heard, self.task], return_when=asyncio.FIRST_COMPLETED)
        if not flag.is_set():
            heard.cancel()
            raise AssertionError("the run ended before the awaited event")

    def start(self) -> asyncio.Task[object]:
        self.task = asyncio.create_task(
            play(self.scenario, self.folder, keys=self.keys, externals=frozenset({self.party}),
                 on_built=self._built, wall_clock=wall_now)
        )  # fmt: skip
        return self.task

    @property
    def kit(self) -> Path:
        return self.folder / "kits" / self.party

    def port(self, caisse: str) -> int:
        assert self.network is not None
        return self.network.hub_info[caisse][1]

    async def stop(self, task: asyncio.Task[object]) -> dict[str, object]:
        assert self.network is not None
        self.network.clock.stop()
        result = await task
        result.journal.close()  # type: ignore[attr-defined]
        (verdict,) = report(self.folder)["externals"]
        return dict(verdict)


def _not_conform_everywhere(run: Path, party: str) -> None:
    """One verdict everywhere: a vendor's "not conform" is a failing JUnit test case naming
    the check and its reason, and shows in the HTML page; the run, stopped by the test before
    its end, is incomplete (exit 3) all the same, never a pass."""
    junit, page = run / "v.xml", run / "v.html"
    assert main(["report", str(run), "--junit", str(junit), "--html", str(page)]) == 3
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    failures = {
        str(c.get("name")): str(f.get("message"))
        for c in suite.findall("testcase")
        if (f := c.find("failure")) is not None
    }
    assert f"conformance.{party}.lots-accepted" in failures, failures
    assert "0001 004" in failures[f"conformance.{party}.lots-accepted"]
    assert "before the scenario's end" in failures["run.complete"]
    assert suite.get("failures") == str(len(failures))
    html = page.read_text()
    assert "not conform" in html and f"conformance.{party}.lots-accepted" in html


def _parties(scenario: Scenario) -> tuple[str, str, str]:
    population = build(scenario.config.seed, population_of(scenario.config))
    return (population.practitioners[0].ps_number, population.caisses[0].organisme,
            population.mutuelles[0].oc_number)  # fmt: skip


@pytest.mark.parametrize("broken", [False, True], ids=["valid-lot", "broken-lot"])
async def test_an_external_ps_with_openssh_and_openssl(
    tmp_path: Path, keys: KeyPool, broken: bool
) -> None:
    scenario = parse(SCENARIO)
    ps, caisse, _oc = _parties(scenario)
    served = Served(scenario, tmp_path, ps, keys)
    task = served.start()
    await served.ready.wait()
    kit, port = served.kit, served.port(caisse)
    lot = (kit / "sample-lot.b2").read_bytes()
    if broken:  # the Type 2's NIR key (positions 25-26 of record 3) made wrong
        start = 2 * 128 + 24
        key = int(lot[start : start + 2])
        lot = lot[:start] + f"{key % 97 + 1:02d}".encode() + lot[start + 2 :]
    (kit / "lot.b2").write_bytes(lot)
    await seal(kit, "lot.b2", caisse, "lot.p7m")
    name = f"FSE-{ps}-000001.p7m"
    answered = served.event(lambda e: e.kind == "arl-sent" and str(e.file) == f"{ps}/1")
    await sftp(kit, ps, port, f"put lot.p7m depot/{name}.part",
               f"rename depot/{name}.part depot/{name}")  # fmt: skip
    await answered
    listing = await sftp(kit, ps, port, "ls -1 retour")
    (arl_name,) = [n.split("/")[-1] for n in listing.split() if n.split("/")[-1].startswith("ARL-")]
    await sftp(kit, ps, port, f"get retour/{arl_name} arl.p7m", f"rm retour/{arl_name}")
    ack = arl.parse(await unseal(kit, "arl.p7m"))
    assert ack.file_id == 1 and ack.receiver == ps
    if broken:
        assert ack.status == "N" and [a.code for a in ack.lots[0].anomalies] == ["0001 004"]
        verdict = await served.stop(task)
        assert verdict["verdict"] == "not conform"
        assert "negative ARL" in str(verdict["reasons"]) and "0001 004" in str(verdict["reasons"])
        _not_conform_everywhere(tmp_path, ps)
        return
    assert ack.status == "P"
    returned = served.event(lambda e: e.kind == "file-sent" and e.details.get("to") == ps)
    await returned
    listing = await sftp(kit, ps, port, "ls -1 retour")
    (noe,) = [n.split("/")[-1] for n in listing.split() if n.split("/")[-1].startswith("NOE-")]
    await sftp(kit, ps, port, f"get retour/{noe} noe.p7m", f"rm retour/{noe}")
    ret = noemie_ps.parse(await unseal(kit, "noe.p7m"))
    invoices = [i for p in ret.payees for d in p.days for lot_ in d.lots for i in lot_.invoices]
    assert len(invoices) == len(b2.parse(lot).lots[0].invoices)
    verdict = await served.stop(task)
    assert verdict["verdict"] == "conform", verdict
    assert verdict["lots_positive"] == 1 and verdict["files_refused"] == 0


@pytest.mark.parametrize("form", ["decompte", "noemie-oc"])
async def test_an_external_mutuelle_with_openssh_and_openssl(
    tmp_path: Path, keys: KeyPool, form: str
) -> None:
    """The mutuelle's loop with the kit: fetch the décomptes (in the form its kit names: B2,
    or NOEMIE OC), open them with openssl, answer one reject, sealed with openssl."""
    scenario = parse(SCENARIO)
    _ps, caisse, oc = _parties(scenario)
    if form == "noemie-oc":
        config = dataclasses.replace(scenario.config, noemie_oc_mutuelles=(oc,))
        scenario = dataclasses.replace(scenario, config=config)
    served = Served(scenario, tmp_path, oc, keys)
    task = served.start()
    await served.ready.wait()
    kit, port = served.kit, served.port(caisse)
    said = json.loads((kit / "connection.json").read_text())["decomptes"]
    assert said["kind"] == form and said["form"] in (kit / "README.md").read_text()
    await served.event(lambda e: e.kind == "file-sent" and e.details.get("to") == oc)
    listing = await sftp(kit, oc, port, "ls -1 retour")
    (dec,) = [n.split("/")[-1] for n in listing.split() if n.split("/")[-1].startswith("DEC-")]
    await sftp(kit, oc, port, f"get retour/{dec} dec.p7m", f"rm retour/{dec}")
    sealed_sha256 = hashlib.sha256((kit / "dec.p7m").read_bytes()).hexdigest()
    content = await unseal(kit, "dec.p7m")
    assert kinds.detect(content).name == form
    decomptes = (
        noemie_oc.to_b2(noemie_oc.parse(content)) if form == "noemie-oc" else (b2.parse(content))
    )
    first_lot = decomptes.lots[0]
    first = first_lot.invoices[0]
    received = sum(len(lot.invoices) for lot in decomptes.lots)
    answer = oc_answer.OcAnswer(
        oc, caisse, decomptes.file_id, datetime.now().astimezone(), sealed_sha256, received,
        (oc_answer.OcReject(first.invoice_number, first.insured_nir, first.insured_nir_key,
                            "BI01", "BENEFICIAIRE INCONNU", first_lot.ps_number),),
    )  # fmt: skip
    (kit / "answer.txt").write_bytes(oc_answer.build(answer))
    await seal(kit, "answer.txt", caisse, "answer.p7m")
    got = served.event(lambda e: e.kind == "oc-answer-received" and e.oc == oc)
    name = f"OCR-{oc}-000001.p7m"
    await sftp(kit, oc, port, f"put answer.p7m depot/{name}.part",
               f"rename depot/{name}.part depot/{name}")  # fmt: skip
    await got
    verdict = await served.stop(task)
    assert verdict["answers"] == 1 and verdict["decomptes_rejected"] == 1
    assert verdict["verdict"] == "conform", verdict


def test_serve_refuses_what_it_cannot_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "demo", "--external", "dentist", "--out", str(tmp_path)]) == 2
    assert "neither a party of this network nor a role" in capsys.readouterr().err
    assert main(["serve", "demo", "--external", "cpam", "--out", str(tmp_path)]) == 2
    assert "external caisse" in capsys.readouterr().err
    assert main(["serve", "demo", "--external", "ps", "--decomptes", "noemie-oc",
                 "--out", str(tmp_path)]) == 2  # fmt: skip
    assert "--decomptes is for an external mutuelle" in capsys.readouterr().err


def test_a_kit_holds_what_its_readme_names(tmp_path: Path, keys: KeyPool) -> None:
    async def built() -> None:
        scenario = parse(SCENARIO)
        ps, _caisse, _oc = _parties(scenario)
        network = Network(scenario.config, tmp_path / "run", keys=keys, externals=frozenset({ps}))
        async with network:
            kit = write_kit(network, ps, tmp_path / "kits")
            for name in ("key.pem", "cert.pem", "chain.pem", "root.pem", "known_hosts",
                         "connection.json", "sample-lot.b2", "README.md"):  # fmt: skip
                assert (kit / name).is_file(), name
            assert (kit / "key.pem").stat().st_mode & 0o777 == 0o600
            readme = (kit / "README.md").read_text()
            caisse = next(iter(network.cpams))
            assert f"-P {network.hub_info[caisse][1]} {ps}@127.0.0.1" in readme
            assert "{" not in readme  # every placeholder filled
            assert b2.validate((kit / "sample-lot.b2").read_bytes(), "FSE") == []

    asyncio.run(built())


async def test_an_external_caisse_on_its_own_server(tmp_path: Path, keys: KeyPool) -> None:
    """The caisse is the vendor's: it runs its own SFTP server (here an SFTP server started by
    the test on the run's PKI, as a vendor's would accept the partners' certified keys), reads
    the lots, and answers with ARLs it seals with openssl; the simulated PS connect to it as
    clients, and the caisse's verdict comes from what they journaled."""
    scenario = parse(SCENARIO)
    ps, caisse, _oc = _parties(scenario)
    vendor_data = tmp_path / "vendor"
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    (vendor_data / ".ssh").mkdir(parents=True)
    (vendor_data / ".ssh" / "host_key").write_bytes(host_key.export_private_key())
    (vendor_data / ".ssh" / "host_key").chmod(0o600)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    known = f"[127.0.0.1]:{port} {host_key.export_public_key('openssh').decode().strip()}\n"
    ready, delivered, answered = asyncio.Event(), asyncio.Event(), asyncio.Event()
    built: dict[str, Network] = {}

    def on_built(network: Network) -> None:
        built["network"] = network
        write_kit(network, caisse, tmp_path / "kits")
        network.journal.listeners.append(
            lambda e: answered.set() if e.kind == "arl-received" and e.actor == ps else None
        )
        ready.set()

    task = asyncio.create_task(
        play(scenario, tmp_path / "run", keys=keys, externals=frozenset({caisse}),
             caisse_servers={caisse: ("127.0.0.1", port, known)}, on_built=on_built)
    )  # fmt: skip
    await ready.wait()
    network = built["network"]
    kit = tmp_path / "kits" / caisse
    assert f" {ps}\n" in (kit / "authorized_keys").read_text()
    hub = SftpHub(
        network.pki, caisse, vendor_data, network.clock.now,
        on_event=lambda kind, **d: delivered.set() if kind == "delivered" else None,
    )  # fmt: skip
    await hub.start(port=port)
    try:
        await asyncio.wait_for(delivered.wait(), 60)
        (name,) = [n for n in hub.disk.list_depot(ps) if n.startswith("FSE-")][:1]
        sealed = hub.disk.read_depot(ps, name)
        (kit / "lot.p7m").write_bytes(sealed)
        lots = b2.parse(await unseal(kit, "lot.p7m"))
        hub.disk.consume(ps, name)
        ack = arl.Arl(
            caisse, ps, lots.file_id, network.clock.now(), hashlib.sha256(sealed).hexdigest(),
            tuple(arl.LotAck(lot.number, "P", len(lot.invoices),
                             sum(i.totals.billed for i in lot.invoices)) for lot in lots.lots),
        )  # fmt: skip
        (kit / "arl.txt").write_bytes(arl.build(ack))
        await seal(kit, "arl.txt", caisse, "arl.p7m", recipient=f"partners/{ps}.pem")
        hub.disk.post(ps, f"ARL-{caisse}-000001.p7m", (kit / "arl.p7m").read_bytes())
        await asyncio.wait_for(answered.wait(), 60)
        network.clock.stop()
        result = await task
        result.journal.close()
    finally:
        await hub.close()
    verdicts = {v["party"]: v for v in report(tmp_path / "run")["externals"]}
    assert verdicts[caisse]["verdict"] == "conform", verdicts[caisse]
    assert verdicts[caisse]["arl_in_time"] >= 1


async def test_every_command_of_the_kit_readme_runs_as_written(
    tmp_path: Path, keys: KeyPool
) -> None:
    """The PS kit's README, its shell blocks run in order from the kit's folder as written
    (check the certificates at the real time, list, seal and send, then fetch, remove, open
    and verify with the CRLs), and its noemie-sim commands too."""
    scenario = parse(SCENARIO)
    ps, _caisse, _oc = _parties(scenario)
    served = Served(scenario, tmp_path, ps, keys)
    task = served.start()
    await served.ready.wait()
    readme = (served.kit / "README.md").read_text()
    assert "{" not in readme.replace("${", "")  # every placeholder filled
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    assert len(blocks) == 4, blocks  # check, connect, seal and send, fetch and open

    async def bash(script: str) -> str:
        return await command("bash", "-euo", "pipefail", "-c", script, cwd=served.kit)

    checked = await bash(blocks[0])
    assert checked.count(": OK") == 2
    await bash(blocks[1])
    answered = served.event(lambda e: e.kind == "file-sent" and e.details.get("to") == ps)
    await bash(blocks[2])
    await answered
    shown = (await bash(blocks[3])).split("A0", 1)[1]  # after sftp's echo of its commands
    records = ("A0" + shown).splitlines()
    assert [len(r) for r in records] == [128, 128, 128], records  # the ARL, a record a line
    assert records[0][39] == "P", records
    commands = re.findall(r"`(\S*noemie-sim (?:seal|open) [^`]*)`", readme)
    assert len(commands) == 2, commands
    for line in commands:
        await bash(line)
    assert (served.kit / "received.txt").read_bytes().startswith(b"A0")
    verdict = await served.stop(task)
    assert verdict["verdict"] == "conform", verdict
