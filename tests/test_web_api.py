"""The HTTP API of a running network (``--web``), driven with an HTTP client as a vendor's CI
or a trainer's page drives it: every endpoint, a fault injected through it and its effect in
the journal, the virtual clock advanced through it, bad requests answered 4xx with a JSON
reason, and the run's verdict at the end."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.routing import Route

from noemie_sim.scenarios.web.app import make_app
from noemie_sim.scenarios.web.openapi import description

from .web_helpers import Served, serving


def _stream(served: Served, after: int, count: int) -> list[dict[str, Any]]:
    """The first ``count`` events of the server-sent stream after ``after``."""
    found: list[dict[str, Any]] = []
    with served.http.stream("GET", "/api/events/stream", params={"after": after}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: ") and kind == "journal":
                found.append(json.loads(line.removeprefix("data: ")))
                if len(found) == count:
                    break
    return found


def test_the_openapi_description_names_every_route_and_nothing_else() -> None:
    app = make_app(None)  # type: ignore[arg-type]  # routes only: no request is served
    served = {r.path for r in app.routes if isinstance(r, Route)}
    assert served == set(description()["paths"])


def test_a_run_steered_and_read_through_its_api(tmp_path: Path) -> None:
    with serving("run", "demo", "--paused", "--out", str(tmp_path / "run")) as served:
        served.wait_for_line("the clock is paused")  # the network is built
        http = served.http
        assert http.get("/openapi.json").json()["openapi"].startswith("3.1")
        page = http.get("/")
        assert page.status_code == 200 and "live network" in page.text
        assert "drawReport" in http.get("/static/report_charts.js").text
        assert http.get("/static/live.js").headers["content-type"].startswith("text/javascript")

        network = http.get("/api/network").json()
        assert network["scenario"] == "demo" and network["state"] == "paused"
        roles = sorted(p["role"] for p in network["parties"])
        assert roles.count("ps") == 4 and roles.count("cpam") == 1 and roles.count("oc") == 2
        assert network["hubs"][0]["port"] > 0 and "ssh-" in network["hubs"][0]["known_hosts"]
        clock = http.get("/api/clock").json()
        assert clock["mode"] == "virtual" and clock["paused"] and clock["steps_run"] == 0

        # the virtual clock, advanced by a duration and to a time: it stands there, paused
        start = datetime.fromisoformat(clock["now"])
        moved = http.post("/api/clock/advance", json={"by": "2h"}).json()
        assert datetime.fromisoformat(moved["now"]) == start + timedelta(hours=2)
        assert moved["paused"] and moved["state"] == "paused"
        to = (start + timedelta(hours=5)).isoformat()
        assert http.post("/api/clock/advance", json={"to": to}).json()["now"] == to
        no_jump = http.post("/api/clock/jump", json={"by": "1h"})  # a virtual clock advances
        assert no_jump.status_code == 409 and no_jump.json()["error"]["code"] == "virtual-clock"

        # until the first file is sent: a PS's lot, not yet read by the caisse
        sent = http.post("/api/clock/advance", json={"until_event": "file-sent"}).json()
        event = sent["event"]
        assert event["kind"] == "file-sent" and sent["paused"]
        ps = event["actor"]
        assert next(p for p in network["parties"] if p["id"] == ps)["role"] == "ps"

        # a fault injected through the API: revoke that PS before its caisse reads the file
        injected = http.post("/api/faults", json={"kind": "revoke-certificate", "target": ps})
        assert injected.status_code == 202 and injected.json()["target"] == ps
        refused = http.post("/api/clock/advance", json={"until_event": "file-refused"}).json()
        answer = refused["event"]
        assert answer["kind"] == "file-refused"
        assert answer["details"]["sender"] == ps and "revoked" in answer["details"]["reason"]
        revoked = http.get("/api/events", params={"kind": "certificate-revoked"}).json()
        assert [e["details"]["party"] for e in revoked["events"]] == [ps]
        faults = http.get("/api/events", params={"kind": "fault"}).json()["events"]
        assert faults[-1]["details"]["label"] == f"revoke-certificate {ps}"
        assert "fault injected" in faults[-1]["text"]

        # the journal, page by page, filtered, and as a stream
        first = http.get("/api/events", params={"limit": 5}).json()
        assert [e["seq"] for e in first["events"]] == [1, 2, 3, 4, 5] and first["more"]
        second = http.get("/api/events", params={"after": first["next_after"], "limit": 5}).json()
        assert second["events"][0]["seq"] == 6
        mine = http.get("/api/events", params={"actor": ps, "kind": "file-sent"}).json()
        assert mine["events"] and all(e["actor"] == ps for e in mine["events"])
        streamed = _stream(served, after=3, count=4)
        assert [e["seq"] for e in streamed] == [4, 5, 6, 7]

        # the archived files: the PS's lot, sealed and clear, explained, validated, its seal
        archive = event["details"]["archive"]
        file_id = event["archive_id"]
        assert archive.split("/")[-1].startswith(file_id)
        listed = http.get("/api/files", params={"party": ps}).json()["files"]
        assert file_id in [f["id"] for f in listed]
        info = http.get(f"/api/files/{file_id}").json()
        assert info["actor"] == ps and info["events"][0]["kind"] == "file-sent"
        sealed = http.get(f"/api/files/{file_id}/sealed")
        assert sealed.content[:1] == b"\x30" and len(sealed.content) == info["sealed_bytes"]
        clear = http.get(f"/api/files/{file_id}/clear").content
        assert len(clear) == info["clear_bytes"]
        tree = http.get(f"/api/files/{file_id}/explain").json()
        assert tree["kind"] == "b2" and tree["count"] == len(tree["records"]) > 3
        assert tree["records"][0]["fields"][0]["label"]
        validation = http.get(f"/api/files/{file_id}/validation").json()
        assert validation["kind"] == "b2" and validation["valid"] == (not tree["anomaly_count"])
        seal = http.get(f"/api/files/{file_id}/seal").json()
        assert seal.get("readable"), seal
        assert seal["signature"]["signer"] == ps
        assert seal["envelope"]["content_encryption"] == "aes256_gcm"
        assert seal["signature"]["algorithm"].startswith("rsassa_pss")
        # revoked at the very time it was sent (the fault ran after the sending step): the
        # seal is refused as the caisse refused it
        assert seal["opened"]["valid"] is False and "revoked" in seal["opened"]["reason"]
        assert seal["envelope"]["recipient"] == event["details"]["to"]

        # an invoice followed hop by hop, and the verdict so far: never a pass while running
        billed = http.get("/api/events", params={"kind": "invoice-billed"}).json()["events"]
        invoice = billed[0]["invoice"]
        hops = http.get(f"/api/invoices/{invoice}/trace").json()["hops"]
        assert hops[0]["what"].startswith("billed by the PS")
        so_far = http.get("/api/verdict").json()
        assert so_far["verdict"] == "incomplete" and not so_far["final"]
        assert http.get("/api/report").json()["run"]["state"] == "incomplete"
        assert http.get("/api/kits/" + ps).status_code == 404  # no external party here
        assert any(k["kind"] == "sftp-outage" for k in http.get("/api/faults").json()["kinds"])

        _bad_requests(served, file_id)

        # pause, resume: the run goes to its end; the stream ends with it
        assert http.post("/api/clock/pause").json()["paused"]
        assert not http.post("/api/clock/resume").json()["paused"]
        with http.stream("GET", "/api/events/stream", params={"after": 0}) as response:
            kinds = [line for line in response.iter_lines() if line.startswith("event: ")]
        assert kinds[-1] == "event: end"
        final = http.get("/api/verdict").json()
        assert final["final"] and final["verdict"] in ("pass", "fail")
        # the same checks in French for a French reader: names, codes and figures unchanged
        french = http.get("/api/verdict", params={"lang": "fr"}).json()
        assert [c["name"] for c in french["checks"]] == [c["name"] for c in final["checks"]]
        arl = next(c for c in french["checks"] if c["name"] == "sla.arl")
        assert arl["description"].startswith("délai de arl dans la limite de")
        assert arl["said"] == next(c for c in final["checks"] if c["name"] == "sla.arl")["said"]
        assert http.get("/api/clock").json()["state"] == "ended"
        assert http.post("/api/clock/pause").status_code == 409  # nothing to steer now
        assert http.post("/api/stop").status_code == 202
        assert served.wait() == final["exit_code"]


def _bad_requests(served: Served, file_id: str) -> None:
    """At least 20 bad requests, each answered 4xx with a JSON code and reason."""
    bad: list[tuple[str, str, Any, int]] = [
        ("GET", "/api/nothing", None, 404),
        ("DELETE", "/api/clock", None, 405),
        ("GET", "/api/events?after=minus", None, 400),
        ("GET", "/api/events?limit=0", None, 400),
        ("GET", "/api/events?limit=100000", None, 400),
        ("GET", "/api/events?colour=red", None, 400),
        ("GET", "/api/events/stream?after=x", None, 400),
        ("GET", "/api/files?party=nobody", None, 404),
        ("GET", "/api/files?after=z", None, 400),
        ("GET", "/api/files/12", None, 404),
        ("GET", "/api/files/999999", None, 404),
        ("GET", "/api/files/../../etc/passwd", None, 404),
        ("GET", "/api/kits/nobody", None, 404),
        ("GET", "/api/verdict?lang=de", None, 400),
        ("GET", "/api/report?lang=", None, 400),
        ("GET", "/api/invoices/nobody/1/trace", None, 404),
        ("GET", "/static/secret.py", None, 404),
        ("POST", "/api/clock/advance", "not json", 400),
        ("POST", "/api/clock/advance", [1, 2], 400),
        ("POST", "/api/clock/advance", {}, 400),
        ("POST", "/api/clock/advance", {"to": "yesterday"}, 400),
        ("POST", "/api/clock/advance", {"to": "2020-01-01T00:00"}, 409),
        ("POST", "/api/clock/advance", {"by": "soon"}, 400),
        ("POST", "/api/clock/advance", {"by": "2 jours ouvrés"}, 400),
        ("POST", "/api/clock/advance", {"by": "1h", "to": "2030-01-01"}, 400),
        ("POST", "/api/clock/advance", {"until_event": 7}, 400),
        ("POST", "/api/clock/speed", {"speed": 10}, 409),  # a virtual clock has no speed
        ("POST", "/api/clock/speed", {"speed": -1}, 400),
        ("POST", "/api/clock/speed", {"speed": "fast"}, 400),
        ("POST", "/api/clock/pause", {"now": True}, 400),
        ("POST", "/api/faults", "{", 400),
        ("POST", "/api/faults", {"kind": "meteor", "target": "PS-1"}, 400),
        ("POST", "/api/faults", {"kind": "sftp-outage", "target": "CPAM-1"}, 400),  # no duration
        ("POST", "/api/faults", {"kind": "revoke-certificate", "target": "PS-99"}, 400),
        ("POST", "/api/faults", {"kind": "corrupt-lot", "target": "CPAM-1"}, 400),  # not a PS
        (
            "POST",
            "/api/faults",
            {"kind": "network-faults", "target": "CPAM-1", "duration": "1h"},
            400,
        ),  # no fault proxies here
        (
            "POST",
            "/api/faults",
            {"kind": "revoke-certificate", "target": "PS-1", "at": "day 1 10:00"},
            400,
        ),  # a fault given now has no "at"
    ]
    assert len(bad) >= 20
    for method, path, body, status in bad:
        content = body if isinstance(body, str) else None
        payload = None if isinstance(body, str) or body is None else body
        answer = served.http.request(method, path, content=content, json=payload)
        assert answer.status_code == status, (method, path, body, answer.text)
        error = answer.json()["error"]
        assert error["code"] and error["message"], (path, error)


def test_a_scaled_serve_lists_its_kits_and_changes_speed(tmp_path: Path) -> None:
    """serve in scaled time: the kits by role and as a list, the speed changed through the
    API, advance refused (it follows real time), and the verdict of a run stopped early."""
    out = tmp_path / "serve"
    with serving("serve", "demo", "--external", "oc", "--speed", "3600", "--paused",
                 "--out", str(out)) as served:  # fmt: skip
        served.wait_for_line("the clock is paused")  # the network is built
        http = served.http
        kits = http.get("/api/kits").json()["kits"]
        (party,) = kits
        assert Path(kits[party]) == out / "kits" / party
        kit = http.get("/api/kits/oc").json()
        assert kit["party"] == party and kit["role"] == "oc" and "key.pem" in kit["files"]
        assert kit["connection"]["servers"][0]["port"] > 0
        clock = http.get("/api/clock").json()
        assert clock["mode"] == "scaled" and clock["speed"] == 3600 and clock["paused"]
        assert http.post("/api/clock/speed", json={"speed": 7200}).json()["speed"] == 7200
        assert http.get("/api/clock").json()["speed"] == 7200
        refused = http.post("/api/clock/advance", json={"by": "1h"})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "scaled-clock"
        # a scaled clock jumps instead (+1 day, the next event): paused, on resuming
        now = datetime.fromisoformat(http.get("/api/clock").json()["now"])
        jumped = http.post("/api/clock/jump", json={"by": "1 day"})
        assert jumped.status_code == 200, jumped.text
        assert datetime.fromisoformat(jumped.json()["jumped_to"]) == now + timedelta(days=1)
        assert http.post("/api/clock/jump", json={"to": "next"}).status_code == 200
        bad = http.post("/api/clock/jump", json={"by": "1 day", "to": "next"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad-jump"
        assert http.post("/api/stop").status_code == 202
        code = served.wait()
    final = json.loads((out / "report.json").read_text())
    assert code == final["exit_code"]
