"""The OpenAPI 3.1 description of the HTTP API, served at ``/openapi.json``. A test checks
that it names every route of :mod:`.app` and nothing else."""

from __future__ import annotations

from typing import Any

from noemie_sim import __version__

_ERROR = {"$ref": "#/components/responses/Error"}
_JSON = {"description": "a JSON object", "content": {"application/json": {}}}


def _op(summary: str, *, params: list[dict[str, Any]] | None = None,
        body: dict[str, Any] | None = None, ok: dict[str, Any] | None = None,
        errors: tuple[int, ...] = (400, 404), status: str = "200") -> dict[str, Any]:  # fmt: skip
    op: dict[str, Any] = {"summary": summary, "responses": {status: ok or _JSON}}
    for code in errors:
        op["responses"][str(code)] = _ERROR
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
    return op


def _query(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": kind}}  # fmt: skip


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string"}}  # fmt: skip


_FILE_ID = _path("id", "the archived file's number: 6 digits (from /api/files or an event's "
                 "archive_id)")  # fmt: skip
_LANG = _query("lang", "the language of the checks' descriptions and messages and the "
               "parties' reasons: en (the default) or fr; each check's 'said' gives them as "
               "messages with their values")  # fmt: skip
_IDS = [_query(n, f"only events whose {n} is this") for n in
        ("actor", "file", "lot", "invoice", "assure", "oc")]  # fmt: skip
_NO_BODY = {"type": "object", "additionalProperties": False}


def description() -> dict[str, Any]:
    """The API as OpenAPI 3.1."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "noemie-sim live network",
            "version": __version__,
            "description": "The network of a running noemie-sim (demo, run or serve with "
            "--web): its parties, journal, archived files, clock, faults and verdict. Errors "
            'are {"error": {"code", "message"}} with a 4xx status. Guide: docs/api.md.',
        },
        "paths": {
            "/": {"get": _op("the live page", ok={"description": "HTML"}, errors=())},
            "/static/{name}": {"get": _op("an asset of the live page",
                                          params=[_path("name", "the asset's file name")],
                                          ok={"description": "the asset"}, errors=(404,))},
            "/openapi.json": {"get": _op("this description", errors=())},
            "/metrics": {"get": _op(
                "the run's metrics in the Prometheus text format (docs/api.md lists them)",
                ok={"description": "text/plain; version=0.0.4",
                    "content": {"text/plain": {}}}, errors=(),
            )},
            "/api/schemas/{kind}": {"get": _op(
                "the JSON Schema (2020-12) of a kind's JSON form (noemie-sim convert), from "
                "the layouts of the norms pack in force",
                params=[_path("kind", "b2, arl, noemie-ps, decompte, noemie-oc, oc-answer or "
                                      "noemie-550")],
                errors=(404,),
            )},
            "/api/network": {"get": _op(
                "the network: scenario, state, the norms pack it speaks (name, digest, "
                "builtin), parties (id, role, name, caisse, external), SFTP hubs (host, "
                "port, known_hosts) and connection kits", errors=())},
            "/api/kits": {"get": _op("the connection kits of the external parties (serve)",
                                     errors=(503,))},
            "/api/kits/{party}": {"get": _op(
                "an external party's connection kit: its folder, connection.json and files; "
                "503 with Retry-After while the network is being built",
                params=[_path("party", "the external party's id, or its role (ps, oc, "
                              "employer, cpam) when one external party has it")],
                errors=(404, 503))},
            "/api/events": {"get": _op(
                "a page of the journal, oldest first, each event with its narration ('text') "
                "when it is told",
                params=[_query("after", "events after this sequence number (0)", "integer"),
                        _query("limit", "at most this many (200, up to 1000)", "integer"),
                        _query("kind", "only events of this kind"),
                        _query("to", "only events whose details name this addressee (files "
                               "sent)"), *_IDS])},
            "/api/events/stream": {"get": _op(
                "the journal as server-sent events: 'journal' events (id: sequence number) as "
                "they are recorded, then 'end' once the run has ended; resumes after "
                "Last-Event-ID",
                params=[_query("after", "start after this sequence number (0)", "integer")],
                ok={"description": "text/event-stream",
                    "content": {"text/event-stream": {}}}, errors=(400,))},
            "/api/files": {"get": _op(
                "the archived files (sealed and clear copies kept by each party)",
                params=[_query("party", "only this party's"),
                        _query("after", "files numbered after this", "integer"),
                        _query("limit", "at most this many (200, up to 1000)", "integer")])},
            "/api/files/{id}": {"get": _op("one archived file: its copies, events and links",
                                           params=[_FILE_ID], errors=(404,))},
            "/api/files/{id}/sealed": {"get": _op(
                "the sealed bytes (CMS: signed, then encrypted)", params=[_FILE_ID],
                ok={"description": "DER", "content": {"application/octet-stream": {}}},
                errors=(404,))},
            "/api/files/{id}/clear": {"get": _op(
                "the clear content (ISO 8859-1 text)", params=[_FILE_ID],
                ok={"description": "text", "content": {"text/plain": {}}}, errors=(404,))},
            "/api/files/{id}/explain": {"get": _op(
                "the file as a tree of records and labelled fields, with its control checks",
                params=[_FILE_ID], errors=(404, 422))},
            "/api/files/{id}/validation": {"get": _op(
                "what validate says of the file: its kind and anomalies",
                params=[_FILE_ID], errors=(404,))},
            "/api/files/{id}/seal": {"get": _op(
                "the seal as its recipient reads it: algorithms, recipient, signer, and "
                "whether it opens (signer valid at the time it was sent)",
                params=[_FILE_ID], errors=(404, 409))},
            "/api/invoices/{ps}/{number}/trace": {"get": _op(
                "one invoice hop by hop, billing to the mutuelle's payment, with delays",
                params=[_path("ps", "the PS number"), _path("number", "the invoice number")],
                errors=(404,))},
            "/api/clock": {"get": _op("the clock: simulated time, mode, speed, paused, next "
                                      "step", errors=())},
            "/api/clock/pause": {"post": _op("pause before the next step; answers once paused",
                                             body=_NO_BODY, errors=(400, 409))},
            "/api/clock/resume": {"post": _op("go on from a pause", body=_NO_BODY,
                                              errors=(400, 409))},
            "/api/clock/speed": {"post": _op(
                "a scaled clock's speed (simulated seconds per real second)",
                body={"type": "object", "required": ["speed"], "additionalProperties": False,
                      "properties": {"speed": {"type": "number", "exclusiveMinimum": 0}}},
                errors=(400, 409))},
            "/api/clock/advance": {"post": _op(
                "virtual clock: run up to a time, by a duration or until the next event of a "
                "kind, then pause; answers once paused there (with the event)",
                body={"type": "object", "additionalProperties": False,
                      "properties": {"to": {"type": "string",
                                            "description": "a time (ISO 8601, UTC unless a "
                                            "zone is given), or 'end': the run's end, where "
                                            "it ends"},
                                     "by": {"type": "string", "examples": ["2h", "3 days"]},
                                     "until_event": {"type": "string",
                                                     "examples": ["arl-sent"]},
                                     "party": {"type": "string", "description": "with "
                                               "until_event: an event sent to or by this "
                                               "party id"},
                                     "timeout": {"type": "string", "examples": ["1 day"],
                                                 "description": "with until_event: simulated "
                                                 "time to wait at most; 408 with the time "
                                                 "reached when nothing came"}}},
                errors=(400, 408, 409))},
            "/api/clock/jump": {"post": _op(
                "scaled clock: jump forward by a duration or to a time ('next': the next "
                "step's); the steps due meanwhile run at once, each at its own time, then the "
                "clock goes on at its speed",
                body={"type": "object", "properties": {
                    "by": {"type": "string", "examples": ["1h", "1 day"]},
                    "to": {"type": "string", "examples": ["next", "2026-03-03T08:00"]}}},
                errors=(400, 409))},
            "/api/chapters": {"get": _op(
                "the guided tour's chapters in the run's language (number, title, "
                "explanation, the file that carries it, the event kind a jump waits for); "
                "an event that opens or goes on with a chapter carries it as 'chapter'",
                errors=())},
            "/api/faults": {
                "get": _op("the kinds of fault, their targets and whether they last",
                           errors=()),
                "post": _op(
                    "inject a fault now (the keys of a scenario's [[faults]] but at): it is "
                    "journaled and takes effect at the clock's next step",
                    body={"type": "object", "required": ["kind", "target"],
                          "properties": {"kind": {"type": "string"},
                                         "target": {"type": "string",
                                                    "examples": ["PS-1", "CPAM-1"]},
                                         "duration": {"type": "string"},
                                         "offset": {"type": "string"},
                                         "cut_rate": {"type": "number"},
                                         "latency": {"type": "string"}}},
                    status="202", errors=(400, 409)),
            },
            "/api/oc/answers": {"post": _op(
                "a mutuelle on the REST channel hands over its answer to a décompte document "
                "(when it did not put it in its webhook's reply): taken by the caisse it is "
                "addressed to and journaled, or refused with the reason (422)",
                body={"type": "object", "required": ["document"],
                      "properties": {"document": {"type": "string",
                                                  "description": "compact JWS (PS256, x5c) "
                                                  "of the answer's JSON form"},
                                     "name": {"type": "string",
                                              "examples": ["OCR-47495825-017510000-000001.jws"]}}},
                errors=(400, 409, 422))},
            "/api/report": {"get": _op(
                "the report: SLAs, expectations, money, rejects, checks and verdict; until "
                "the run has ended, so far (its verdict is then incomplete)",
                params=[_LANG], errors=(400, 409))},
            "/api/verdict": {"get": _op(
                "the verdict, its checks and the external parties' conformance; final: "
                "whether the run has ended; counters: the live page's, read from the report",
                params=[_LANG], errors=(400, 409))},
            "/api/stop": {"post": _op(
                "stop the run (incomplete if before its end) and the server", body=_NO_BODY,
                status="202", errors=(400,))},
        },
        "components": {
            "responses": {
                "Error": {
                    "description": "what was wrong with the request",
                    "content": {"application/json": {"schema": {
                        "type": "object", "required": ["error"],
                        "properties": {"error": {
                            "type": "object", "required": ["code", "message"],
                            "properties": {"code": {"type": "string"},
                                           "message": {"type": "string"}}}}}}},
                }
            }
        },
    }  # fmt: skip
