"""The REST channel: mutuelles that take their décomptes as signed JSON documents POSTed to
their webhook. Simulated ones in a bundled scenario (real HTTP on loopback, retries while one
is down, replayed identically); an external one played by a small HTTP server of this test
that uses nothing but its connection kit: the ``openssl`` command line of the kit's README
checks each document and signs each answer, jsonschema validates the documents against the
published schema."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import json
import re
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from noemie_sim.actors.network import Network
from noemie_sim.actors.rest import sign_document
from noemie_sim.pki.authority import KeyPool
from noemie_sim.scenarios.catalogue import find_scenario
from noemie_sim.scenarios.cli import main
from noemie_sim.scenarios.runner import play, report
from noemie_sim.scenarios.schema import parse
from noemie_sim.scenarios.vendors.external import party_roles, pick_externals
from noemie_sim.sim.norms import b2, jsonform, oc_answer
from noemie_sim.sim.transport.rest import LocalWebhook, Reply

from .test_vendors import SCENARIO as VENDOR_SCENARIO
from .web_helpers import http_receiver, serving


@pytest.fixture(scope="module")
def keys(key_pool: KeyPool) -> KeyPool:
    return key_pool


SCENARIO = VENDOR_SCENARIO.replace('name = "vendor"', 'name = "rest-vendor"')


def _readme_blocks(kit: Path) -> tuple[str, str]:
    """The two shell blocks of the REST kit's README: check a document, sign an answer."""
    readme = (kit / "README.md").read_text()
    for placeholder in ("{PARTY}", "{CAISSE}", "{SAMPLE}", "{NOEMIE_SIM}", "{PORT}"):
        assert placeholder not in readme
    check, sign = re.findall(r"```sh\n(.*?)```", readme, re.S)
    return check, sign


def _bash(script: str, kit: Path) -> str:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=kit,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, f"{script}\n{done.stderr}"
    return done.stdout + done.stderr


class Mutuelle:
    """A vendor's mutuelle webhook: checks each document with the kit's openssl commands and
    the published schema, and answers it (or answers garbage, ``garbage``)."""

    def __init__(self, out: Path, party: str, garbage: bool) -> None:
        self.kit = out / "kits" / party
        self.party, self.garbage = party, garbage
        self.documents: list[dict[str, object]] = []
        self.names: list[str] = []
        self.problems: list[str] = []  # what failed in the webhook's thread

    def answer(self, name: str, token: bytes) -> tuple[int, bytes]:
        self.names.append(name)
        if self.garbage:
            return 200, b"this is not a signed answer"
        kit = self.kit
        check, sign = _readme_blocks(kit)
        (kit / "document.jws").write_bytes(token)
        assert "Verified OK" in _bash(check, kit)
        document = json.loads((kit / "document.json").read_text())
        schema = json.loads((kit / "schemas" / "decompte.schema.json").read_text())
        jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)
        self.documents.append(document)
        decomptes = b2.parse(jsonform.from_json(document))
        received = sum(len(lot.invoices) for lot in decomptes.lots)
        answer = oc_answer.OcAnswer(self.party, decomptes.sender, decomptes.file_id,
                                    decomptes.created_at, hashlib.sha256(token).hexdigest(),
                                    received)  # fmt: skip
        (kit / "answer.json").write_text(json.dumps(jsonform.to_json(oc_answer.build(answer))))
        _bash(sign, kit)
        return 200, (kit / "answer.jws").read_bytes()


@contextmanager
def webhook(handler: Callable[[str, bytes], tuple[int, bytes]]) -> Iterator[str]:
    """A vendor's webhook in a thread of this test: ``handler(document name, body)`` makes
    the reply; what it raises fails the test once the webhook is closed."""
    problems: list[BaseException] = []

    def reply(headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
        try:
            return handler(headers.get("noemie-document-name", ""), body)
        except BaseException as exc:
            problems.append(exc)
            return 400, repr(exc).encode()

    with http_receiver(reply, "application/jose") as url:
        yield url + "webhook"
    if problems:
        raise problems[0]


@pytest.mark.parametrize("garbage", [False, True], ids=["conforming", "garbage-answers"])
def test_an_external_mutuelle_over_rest(
    tmp_path: Path, garbage: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "rest-vendor.toml"
    source.write_text(SCENARIO)
    out = tmp_path / "run"
    config = parse(SCENARIO).config
    (oc,) = pick_externals(party_roles(config), ["oc"])
    vendor = Mutuelle(out, oc, garbage)
    with webhook(vendor.answer) as url:
        code = main(["serve", str(source), "--external", "oc", "--channel", "rest", "--webhook",
                     url, "--speed", "1000000", "--out", str(out), "--quiet"])  # fmt: skip
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    (verdict,) = report["externals"]
    checks = {c["name"]: c for c in verdict["checks"]}
    assert vendor.names and all(re.fullmatch(r"DEC-\d{9}-\d{6}\.jws", n) for n in vendor.names)
    connection = json.loads((vendor.kit / "connection.json").read_text())
    assert connection["rest"]["webhook"] == url
    if not garbage:
        assert code == 0, printed
        assert verdict["verdict"] == "conform" and verdict["answers"] == len(vendor.names)
        assert all(d["kind"] == "decompte" for d in vendor.documents)
        return
    assert code == 1, printed
    assert verdict["verdict"] == "not conform"
    assert not checks["answers-readable"]["passed"]
    assert "answers-readable" in printed
    # the documents were taken all the same: only the answers are at fault
    assert checks["files-fetched"]["passed"]


def _payload(token: bytes) -> bytes:
    part = token.split(b".")[1]
    return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))


def _signed_by_kit(kit: Path, payload: bytes) -> str:
    """``payload`` signed as the kit's party, with joserfc directly (not noemie-sim's code)."""
    from joserfc import jws
    from joserfc.jwk import RSAKey

    chain = [base64.b64encode(x509.load_pem_x509_certificate((kit / name).read_bytes())
                              .public_bytes(serialization.Encoding.DER)).decode()
             for name in ("cert.pem", "chain.pem")]  # fmt: skip
    key = RSAKey.import_key((kit / "key.pem").read_bytes())
    return jws.serialize_compact({"alg": "PS256", "x5c": chain}, payload, key,
                                 algorithms=["PS256"])  # fmt: skip


def test_an_external_mutuelle_answers_later_through_the_api(tmp_path: Path) -> None:
    """The webhook takes each document (202) and the mutuelle answers afterwards with POST
    /api/oc/answers, on a virtual clock the test drives; a garbage answer is refused with its
    reason (422) and journaled; every document answered, the verdict is a pass."""
    source = tmp_path / "rest-vendor.toml"
    source.write_text(SCENARIO.replace('"2 jours ouvrés"', '"1 jour ouvré"'))
    out = tmp_path / "run"
    taken: list[tuple[str, bytes]] = []

    def accept(name: str, token: bytes) -> tuple[int, bytes]:
        taken.append((name, token))
        return 202, b""

    with webhook(accept) as url, serving(
        "serve", str(source), "--external", "oc", "--channel", "rest", "--webhook", url,
        "--virtual", "--out", str(out),
    ) as served:  # fmt: skip
        api = served.http
        served.wait_for_line("connection kit")
        kit_info = api.get("/api/kits/oc").json()
        oc, kit = kit_info["party"], Path(kit_info["folder"])
        garbage = api.post("/api/oc/answers", json={"document": "not.a.jws"})
        assert garbage.status_code == 422, garbage.text
        assert "receiver" in garbage.json()["error"]["message"]
        assert api.post("/api/oc/answers", json=["no"]).status_code == 400
        answered = 0
        while True:
            found = api.post("/api/clock/advance",
                             json={"until_event": "file-delivered", "party": oc})  # fmt: skip
            if found.status_code != 200 or found.json()["event"] is None:  # the run's end
                break
            _name, token = taken[-1]
            document = json.loads(_payload(token))
            decomptes = b2.parse(jsonform.from_json(document))
            answer = oc_answer.OcAnswer(
                oc, decomptes.sender, decomptes.file_id, decomptes.created_at,
                hashlib.sha256(token).hexdigest(),
                sum(len(lot.invoices) for lot in decomptes.lots),
            )  # fmt: skip
            payload = json.dumps(jsonform.to_json(oc_answer.build(answer))).encode()
            posted = api.post("/api/oc/answers", json={
                "document": _signed_by_kit(kit, payload), "name": f"OCR-{oc}-{answered + 1}.jws",
            })  # fmt: skip
            assert posted.status_code == 200, posted.text
            answered += 1
        assert answered == len(taken) > 0
        assert api.post("/api/stop").status_code == 202
        code = served.wait()
    report = json.loads((out / "report.json").read_text())
    (verdict,) = report["externals"]
    assert verdict["answers"] == answered
    db = sqlite3.connect(out / "journal.sqlite")
    refused = db.execute(
        "SELECT json_extract(details, '$.sender') FROM events WHERE kind = "
        "'file-refused' AND json_extract(details, '$.code') = 'unroutable'"
    )
    assert [row[0] for row in refused] == ["unknown"]  # the garbage, journaled
    db.close()
    assert code == 0, served.lines[-30:]


async def _memory_run(
    folder: Path, keys: KeyPool, hook: Callable[[str, bytes], Awaitable[Reply]] | None = None
) -> list[tuple[str, str, dict[str, object]]]:
    """rest-mutuelle in memory (its OC-2 in memory too, or given ``hook`` as its webhook):
    (actor, kind, details) of its REST events, and its report."""
    scenario = find_scenario("rest-mutuelle")
    config = dataclasses.replace(scenario.config, transport="memory", settle_jours_ouvres=5)

    def built(network: Network) -> None:
        if hook is not None:
            for cpam in network.cpams.values():
                cpam.webhooks = {oc: LocalWebhook(hook) for oc in cpam.webhooks}

    result = await play(dataclasses.replace(scenario, config=config), folder, keys=keys,
                        on_built=built)  # fmt: skip
    result.journal.close()
    db = sqlite3.connect(folder / "journal.sqlite")
    rows = db.execute("SELECT actor, kind, details FROM events WHERE json_extract(details, "
                      "'$.channel') = 'rest' ORDER BY seq").fetchall()  # fmt: skip
    db.close()
    return [(actor, kind, json.loads(details)) for actor, kind, details in rows]


async def test_the_rest_channel_in_memory(tmp_path: Path, keys: KeyPool) -> None:
    """The in-memory transport calls the mutuelle's webhook directly: the same flow."""
    events = await _memory_run(tmp_path / "run", keys)
    kinds = Counter(kind for _actor, kind, _d in events)
    assert kinds["file-delivered"] > 0 and kinds["upload-failed"] > 0
    assert kinds["file-sent"] == 2 * kinds["file-delivered"]  # a document and its answer each
    assert report(tmp_path / "run")["figures"]["lost_files"] == 0


async def test_a_webhook_that_refuses_or_stays_down(tmp_path: Path, keys: KeyPool) -> None:
    """A 4xx refuses a document for good (undeliverable at once); a webhook that stays
    unavailable is tried with a doubling wait up to an hour, then given up after 3 days.
    Neither loses a file: each is journaled undeliverable, with why."""

    async def refuse(name: str, token: bytes) -> Reply:
        return Reply(400, b"schema says no", "text/plain")

    events = await _memory_run(tmp_path / "refused", keys, refuse)
    undeliverable = [d for _a, kind, d in events if kind == "file-undeliverable"]
    assert undeliverable and all(d["code"] == "http-400" for d in undeliverable)
    assert "schema says no" in str(undeliverable[0]["reason"])
    assert not [d for _a, kind, d in events if kind == "upload-failed"]

    async def down(name: str, token: bytes) -> Reply:
        return Reply(503)

    events = await _memory_run(tmp_path / "down", keys, down)
    first = next(d["name"] for _a, kind, d in events if kind == "file-sent")
    tries = [d for _a, kind, d in events if kind == "upload-failed" and d["name"] == first]
    waits = [
        (datetime.fromisoformat(str(d["next"])) - datetime.fromisoformat(str(prev["next"])))
        for prev, d in itertools.pairwise(tries)
    ]
    assert waits[:6] == [timedelta(minutes=m) for m in (2, 4, 8, 16, 32, 60)]
    assert set(waits[6:]) == {timedelta(hours=1)}
    (given_up,) = [d for _a, kind, d in events
                   if kind == "file-undeliverable" and d["name"] == first]  # fmt: skip
    assert given_up["code"] == "webhook-unavailable" and "HTTP 503" in str(given_up["reason"])
    assert report(tmp_path / "down")["figures"]["lost_files"] == 0


def test_a_rest_document_seen_through_the_api(tmp_path: Path) -> None:
    """The API shows a REST document's seal (a JWS, checked under the run's PKI) and its
    clear form, as it shows a sealed file's."""
    with serving("run", "rest-mutuelle", "--paused", "--out", str(tmp_path / "run")) as served:
        served.wait_for_line("the clock is paused")
        http = served.http
        found = http.post("/api/clock/advance", json={"until_event": "file-delivered"})
        event = found.json()["event"]
        files = http.get("/api/files").json()["files"]
        (document,) = [f for f in files if f["name"] == event["details"]["name"]
                       and f["actor"] == event["actor"]]  # fmt: skip
        seal = http.get(f"/api/files/{document['id']}/seal").json()
        assert seal["readable"] and seal["opened"] == {"valid": True, "sender": event["actor"]}
        assert seal["signature"]["algorithm"] == "PS256"
        clear = http.get(f"/api/files/{document['id']}/clear").content
        assert b2.parse(clear).receiver == event["details"]["to"]


async def test_a_simulated_mutuelle_takes_decomptes_from_caisses_only(
    tmp_path: Path, keys: KeyPool
) -> None:
    """A document well signed, but by a party that is not a caisse (here a PS declaring
    itself the sender of décomptes), is refused 403 and journaled; garbage is refused 400
    with the uniform reason; neither is settled."""
    scenario = find_scenario("rest-mutuelle")
    config = dataclasses.replace(scenario.config, transport="memory")
    async with Network(config, tmp_path / "run", keys=keys) as network:
        (cpam,) = network.cpams.values()
        (mutuelle_id,) = cpam.webhooks  # OC-2, on the REST channel
        mutuelle = network.mutuelles[mutuelle_id]
        ps = next(iter(network.practitioners.values()))
        forged = b2.build(b2.B2File("DEC", "PS", ps.id, "OC", mutuelle_id, 1,
                                    network.clock.now(), ()))  # fmt: skip
        reply = await mutuelle.take_document("DEC-x-000001.jws", sign_document(ps, forged))
        assert reply.status == 403 and ps.id.encode() in reply.body
        garbage = await mutuelle.take_document("DEC-x-000002.jws", b"not a jws")
        assert garbage.status == 400
        refused = [e for e in network.journal.events("file-refused") if e.actor == mutuelle_id]
        assert [e.details["code"] for e in refused] == ["not-a-caisse", "not-signed"]
        assert not list(network.journal.events("decompte-file-received"))
