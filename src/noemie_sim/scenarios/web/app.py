"""The HTTP API and the live page of a running network (``--web``); docs/api.md is the user's
guide, :mod:`.openapi` its description (served at ``/openapi.json``).

Every answer is JSON but the file bytes, the page and its assets, and the event stream.
Errors are JSON too: ``{"error": {"code": ..., "message": ...}}`` with a 4xx status that says
what was wrong with the request; a failure of the harness itself is a 500 with a one-line
message, never a traceback.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from noemie_sim.actors.network import Network
from noemie_sim.pki import jws
from noemie_sim.pki.cms import describe, open_sealed
from noemie_sim.pki.errors import PkiError, SealError
from noemie_sim.scenarios.i18n import (
    LANGUAGES,
    PAGE_MESSAGE,
    Language,
    language,
    script_messages,
)
from noemie_sim.scenarios.reports.narration import CHAPTERS
from noemie_sim.scenarios.reports.render import chart_messages, in_script, localized
from noemie_sim.scenarios.reports.trace import UnknownInvoice, trace
from noemie_sim.scenarios.schema import (
    FAULT_KINDS,
    ScenarioError,
    fault_now,
    parse_duration,
)
from noemie_sim.sim.clock import parse_moment
from noemie_sim.sim.journal import IDS
from noemie_sim.sim.norms import jsonform, kinds
from noemie_sim.sim.norms import pack as norms_pack
from noemie_sim.sim.norms.errors import FormatError
from noemie_sim.sim.norms.kinds import declared_parties

from . import metrics as prometheus
from .live import ArchivedFile, LiveRun, event_json
from .openapi import description

log = logging.getLogger("noemie_sim.web")

#: the most events one page of ``/api/events`` holds
MAX_PAGE = 1000
#: assets of the live page (web/static) and the charting library (reports/assets)
_STATIC = {
    "live.js": ("noemie_sim.scenarios.web", "static/live.js", "text/javascript"),
    "live.css": ("noemie_sim.scenarios.web", "static/live.css", "text/css"),
    "chart.umd.min.js": (
        "noemie_sim.scenarios.reports",
        "assets/chart.umd.min.js",
        "text/javascript",
    ),
    "chartjs-plugin-annotation.min.js": (
        "noemie_sim.scenarios.reports",
        "assets/chartjs-plugin-annotation.min.js",
        "text/javascript",
    ),
    "report_charts.js": (
        "noemie_sim.scenarios.reports",
        "assets/report_charts.js",
        "text/javascript",
    ),
}


class ApiError(Exception):
    """A request the API answers with ``status`` and a JSON reason."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def make_app(live: LiveRun) -> Starlette:
    """The API and the page of ``live``."""

    def api(handler: Callable[[Request, LiveRun], Coroutine[Any, Any, Response]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request, live)
            except ApiError as exc:
                answer = _error(exc.status, exc.code, exc.message)
                if isinstance(exc, NotReady):
                    answer.headers["Retry-After"] = "1"
                return answer
            except Exception as exc:  # the harness failed: one line, the traceback in the log
                log.exception("%s %s failed", request.method, request.url.path)
                return _error(500, "internal-error", f"{type(exc).__name__}: {exc}")

        return endpoint

    routes = [
        Route("/", api(page)),
        Route("/static/{name}", api(static)),
        Route("/openapi.json", api(openapi)),
        Route("/metrics", api(metrics)),
        Route("/api/schemas/{kind}", api(json_schema)),
        Route("/api/network", api(network)),
        Route("/api/chapters", api(chapters)),
        Route("/api/kits", api(kits)),
        Route("/api/kits/{party}", api(kit)),
        Route("/api/events", api(events)),
        Route("/api/events/stream", api(stream)),
        Route("/api/files", api(files)),
        Route("/api/files/{id}", api(file_info)),
        Route("/api/files/{id}/sealed", api(file_sealed)),
        Route("/api/files/{id}/clear", api(file_clear)),
        Route("/api/files/{id}/explain", api(file_explain)),
        Route("/api/files/{id}/validation", api(file_validation)),
        Route("/api/files/{id}/seal", api(file_seal)),
        Route("/api/invoices/{ps}/{number}/trace", api(invoice_trace)),
        Route("/api/clock", api(clock)),
        Route("/api/clock/pause", api(clock_pause), methods=["POST"]),
        Route("/api/clock/resume", api(clock_resume), methods=["POST"]),
        Route("/api/clock/speed", api(clock_speed), methods=["POST"]),
        Route("/api/clock/advance", api(clock_advance), methods=["POST"]),
        Route("/api/clock/jump", api(clock_jump), methods=["POST"]),
        Route("/api/faults", api(faults), methods=["GET", "POST"]),
        Route("/api/oc/answers", api(oc_answers), methods=["POST"]),
        Route("/api/report", api(report)),
        Route("/api/verdict", api(verdict)),
        Route("/api/stop", api(stop), methods=["POST"]),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "bad-request")
        message = {
            404: f"no such resource: {request.url.path} (see /openapi.json)",
            405: f"{request.method} is not allowed on {request.url.path}",
        }.get(exc.status_code, str(exc.detail))
        return _error(exc.status_code, code, message)

    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})


# -- request helpers ------------------------------------------------------------------------


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(
            400, "bad-parameter", f"{name} must be a whole number, not {text!r}"
        ) from None
    if not low <= value <= high:
        raise ApiError(400, "bad-parameter", f"{name} must be from {low} to {high}, not {value}")
    return value


async def _body(request: Request, keys: tuple[str, ...]) -> dict[str, Any]:
    """The request's JSON object, with no key but ``keys``."""
    raw = await request.body()
    if not raw.strip():
        return {}
    data = _json(raw)
    if not isinstance(data, dict):
        raise ApiError(400, "bad-json", "the body must be a JSON object")
    unknown = sorted(set(data) - set(keys))
    if unknown:
        raise ApiError(
            400, "unknown-key", f"unknown key {unknown[0]!r}; known: {', '.join(keys) or 'none'}"
        )
    return data


def _json(raw: bytes) -> Any:
    """A JSON body; 400 when it is not JSON or nests too deeply to be read."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad-json", f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "bad-json", "the body nests too deeply to be read") from None


class NotReady(ApiError):
    """The network is still being built (its PKI made): answered 503 with Retry-After, which
    ``curl --retry`` and HTTP clients honour."""

    def __init__(self) -> None:
        super().__init__(503, "starting", "the network is being built: retry in a moment")


def _built(live: LiveRun) -> Network:
    if live.network is None:
        raise NotReady()
    return live.network


def _network_live(live: LiveRun) -> Network:
    network = _built(live)
    if live.network_or_none() is None:
        raise ApiError(409, "not-running", "the run has ended: its clock cannot be steered")
    return network


def _file(live: LiveRun, request: Request) -> ArchivedFile:
    number = request.path_params["id"]
    found = live.file(number)
    if found is None:
        raise ApiError(
            404, "no-file", f"no archived file {number!r} (ids are 6 digits: /api/files)"
        )
    return found


def _clear_of(archived: ArchivedFile) -> bytes:
    if archived.clear is None:
        raise ApiError(
            404, "no-clear-copy", f"file {archived.id} has no clear copy: it could not be opened"
        )
    return archived.clear.read_bytes()


def _clock_json(live: LiveRun) -> dict[str, Any]:
    network = live.network
    if network is None:
        return {"state": live.state}
    c = network.clock
    following = c.next_step()
    return {
        "state": live.state,
        "now": c.now().isoformat(),
        "mode": "virtual" if c.virtual else "scaled",
        "speed": c.speed,
        "paused": c.paused,
        "running": c.running,
        "start": network.config.start.isoformat(),
        "end": network.config.end.isoformat(),
        "next_step": {"at": following[0].isoformat(), "label": following[1]} if following else None,
        "steps_run": c.steps_run,
    }


# -- handlers ---------------------------------------------------------------------------------


async def page(request: Request, live: LiveRun) -> Response:
    """The live page in the run's language (``--lang``): its HTML's messages translated, and
    its script's given to it as ``window.MESSAGES``."""
    return Response(live_page(live.narrator.lang), media_type="text/html; charset=utf-8")


@functools.cache
def live_page(lang: Language) -> str:
    static = resources.files("noemie_sim.scenarios.web") / "static"
    source = (static / "live.html").read_text("utf-8")
    messages = {m: lang._(m) for m in script_messages((static / "live.js").read_text("utf-8"))}
    messages |= chart_messages(lang)  # the report so far, drawn by report_charts.js

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key == "LANG":
            return lang.code
        if key == "MESSAGES":
            return in_script(messages)
        return html.escape(lang._(key), quote=True)

    return PAGE_MESSAGE.sub(fill, source)


async def static(request: Request, live: LiveRun) -> Response:
    name = request.path_params["name"]
    if name not in _STATIC:
        raise ApiError(404, "not-found", f"no asset {name!r}")
    package, path, media = _STATIC[name]
    data = (resources.files(package) / path).read_bytes()
    return Response(data, media_type=media)


async def openapi(request: Request, live: LiveRun) -> Response:
    return JSONResponse(description())


def _norms() -> dict[str, Any]:
    """The norms pack the network speaks (docs/norms-packs.md)."""
    speaking = norms_pack.active()
    return {"name": speaking.name, "digest": speaking.digest, "builtin": speaking.builtin}


async def metrics(request: Request, live: LiveRun) -> Response:
    return Response(prometheus.exposition(live), media_type=prometheus.MEDIA_TYPE)


async def json_schema(request: Request, live: LiveRun) -> Response:
    name = request.path_params["kind"]
    if name not in kinds.KINDS:
        raise ApiError(404, "no-kind", f"no kind {name!r}: one of {', '.join(kinds.KINDS)}")
    return JSONResponse(jsonform.schema(kinds.KINDS[name]), media_type="application/schema+json")


async def network(request: Request, live: LiveRun) -> Response:
    net = live.network
    result: dict[str, Any] = {
        "scenario": live.scenario.name,
        "description": live.scenario.description.strip(),
        "seed": live.scenario.config.seed,
        "norms": _norms(),
        "mode": live.mode,
        "state": live.state,
        "folder": str(live.folder),
        "parties": [],
        "hubs": [],
        "kits": {party: str(path) for party, path in live.kits.items()},
    }
    if net is None or net.kernel is None:
        return JSONResponse(result)
    population = net.kernel.population
    names = live.narrator.names
    caisse_of = {p.ps_number: p.caisse for p in population.practitioners}
    caisse_of.update({e.siret: e.caisse for e in population.employers})
    for actor in net.actors():
        result["parties"].append(
            {
                "id": actor.id,
                "role": actor.role,
                "name": names.get(actor.id, actor.id),
                "caisse": caisse_of.get(actor.id),
                "external": actor.id in net.externals,
            }
        )
    for caisse in sorted(set(net.pki.parties()) & set(net.externals) - set(net.cpams)):
        result["parties"].append(
            {
                "id": caisse,
                "role": "cpam",
                "name": names.get(caisse, caisse),
                "caisse": None,
                "external": True,
            }
        )
    for caisse, (host, port, known_hosts) in sorted(net.hub_info.items()):
        result["hubs"].append(
            {"caisse": caisse, "host": host, "port": port, "known_hosts": known_hosts}
        )
    return JSONResponse(result)


async def kits(request: Request, live: LiveRun) -> Response:
    _built(live)
    return JSONResponse({"kits": {party: str(folder) for party, folder in live.kits.items()}})


async def kit(request: Request, live: LiveRun) -> Response:
    """An external party's kit, by its id or by its role (ps, oc, employer, cpam) when one
    external party has that role."""
    network = _built(live)
    asked = request.path_params["party"]
    roles = network.pki.parties()
    matching = [p for p in live.kits if p == asked or roles.get(p) == asked]
    if len(matching) != 1:
        known = ", ".join(f"{p} ({roles.get(p)})" for p in live.kits) or "none here"
        raise ApiError(
            404,
            "no-kit",
            f"no connection kit for {asked!r}: kits are made for the "
            f"external parties of serve ({known})",
        )
    party = matching[0]
    folder = live.kits[party]
    connection = json.loads((folder / "connection.json").read_text())
    return JSONResponse(
        {
            "party": party,
            "role": roles.get(party),
            "folder": str(folder),
            "connection": connection,
            "files": sorted(p.name for p in folder.iterdir()),
        }
    )


def _where(request: Request) -> dict[str, str]:
    where = {}
    for name in (*IDS, "actor"):
        if name in request.query_params:
            where[name] = request.query_params[name]
    return where


async def events(request: Request, live: LiveRun) -> Response:
    after = _int(request, "after", 0, 0, 10**12)
    limit = _int(request, "limit", 200, 1, MAX_PAGE)
    unknown = sorted(set(request.query_params) - {"after", "limit", "kind", "to", *IDS, "actor"})
    if unknown:
        raise ApiError(400, "bad-parameter", f"unknown parameter {unknown[0]!r}")
    kind = request.query_params.get("kind")
    journal = live.journal()
    addressee = request.query_params.get("to")
    found = journal.select(
        kind or None,
        after=after,
        limit=limit + 1,
        where=_where(request),
        detail_equals={"to": addressee} if addressee else None,
    )
    more, found = len(found) > limit, found[:limit]
    items = [live.shown(e) for e in found]
    return JSONResponse(
        {
            "events": items,
            "next_after": items[-1]["seq"] if items else after,
            "more": more,
            "total": journal.count(),
            "state": live.state,
        }
    )


async def stream(request: Request, live: LiveRun) -> Response:
    """Server-sent events: each journal event as it is recorded (``event: journal``, ``id``
    its sequence number), ``event: end`` once the run has ended and every event was sent."""
    start = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    try:
        after = int(start)
    except ValueError:
        raise ApiError(
            400, "bad-parameter", f"after must be a whole number, not {start!r}"
        ) from None
    if after < 0:
        raise ApiError(400, "bad-parameter", "after must be 0 or more")

    async def feed() -> AsyncIterator[str]:
        last = after
        while True:
            news = live.news()  # taken before reading: an event recorded meanwhile wakes us
            batch = live.journal().select(after=last, limit=MAX_PAGE)
            for e in batch:
                last = e.seq
                data = json.dumps(live.shown(e))
                yield f"id: {e.seq}\nevent: journal\ndata: {data}\n\n"
            if batch:
                continue
            if live.final is not None or live.stop_requested.is_set():
                yield f"event: end\ndata: {json.dumps({'state': live.state})}\n\n"
                return
            await news.wait()

    return StreamingResponse(
        feed(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


async def files(request: Request, live: LiveRun) -> Response:
    unknown = sorted(set(request.query_params) - {"party", "after", "limit"})
    if unknown:
        raise ApiError(400, "bad-parameter", f"unknown parameter {unknown[0]!r}")
    after = _int(request, "after", 0, 0, 999_999)
    limit = _int(request, "limit", 200, 1, MAX_PAGE)
    party = request.query_params.get("party")
    if party is not None and live.network is not None and party not in live.network.pki.parties():
        raise ApiError(404, "no-party", f"no party {party!r} in this network")
    listed = [f for f in live.files(party) if int(f.id) > after]
    return JSONResponse(
        {"files": [f.as_json() for f in listed[:limit]], "more": len(listed) > limit}
    )


async def file_info(request: Request, live: LiveRun) -> Response:
    archived = _file(live, request)
    base = f"/api/files/{archived.id}"
    return JSONResponse(
        {
            **archived.as_json(),
            "events": [event_json(e) for e in live.events_of_file(archived)],
            "links": {
                name: f"{base}/{name}"
                for name in ("sealed", "clear", "explain", "validation", "seal")
            },
        }
    )


async def file_sealed(request: Request, live: LiveRun) -> Response:
    archived = _file(live, request)
    if archived.sealed is None:
        raise ApiError(404, "no-sealed-copy", f"file {archived.id} was kept in clear only")
    return Response(archived.sealed.read_bytes(), media_type="application/octet-stream")


async def file_clear(request: Request, live: LiveRun) -> Response:
    archived = _file(live, request)
    # the norms' files are ISO 8859-1 text: served as bytes, said so
    return Response(_clear_of(archived), media_type="text/plain; charset=iso-8859-1")


def _kind_of(data: bytes, archived: ArchivedFile) -> kinds.FileKind:
    try:
        return kinds.detect(data)
    except FormatError as exc:
        raise ApiError(
            422,
            "unknown-kind",
            f"file {archived.id} is no kind noemie-sim knows: {exc.anomaly.describe()}",
        ) from None


async def file_explain(request: Request, live: LiveRun) -> Response:
    archived = _file(live, request)
    data = _clear_of(archived)
    kind = _kind_of(data, archived)
    tree, findings = kinds.explain_tree(data, kind)
    if tree is None:
        raise ApiError(
            422,
            "undecodable",
            f"file {archived.id} cannot be decoded as {kind.name}: "
            + "; ".join(a.describe() for a in findings.kept[:3]),
        )
    return JSONResponse({"id": archived.id, "name": archived.name, **tree})


async def file_validation(request: Request, live: LiveRun) -> Response:
    archived = _file(live, request)
    data = _clear_of(archived)
    try:
        kind = kinds.detect(data)
    except FormatError as exc:
        return JSONResponse(
            {
                "id": archived.id,
                "kind": None,
                "valid": False,
                "anomaly_count": 1,
                "anomalies": [exc.anomaly.describe()],
            }
        )
    found = kind.findings(data, 1000)
    return JSONResponse(
        {
            "id": archived.id,
            "kind": kind.name,
            "title": kind.title,
            "valid": not found.total,
            "anomaly_count": found.total,
            "anomalies": [a.describe() for a in found.kept],
        }
    )


async def file_seal(request: Request, live: LiveRun) -> Response:
    """The seal, read as its recipient reads it: the archive's actor when it received the
    file, the addressee of the sending event when it sent it."""
    archived = _file(live, request)
    if archived.sealed is None:
        raise ApiError(404, "no-sealed-copy", f"file {archived.id} was kept in clear only")
    network = _built(live)
    pki = network.pki
    named = live.events_of_file(archived)
    sent = [e for e in named if e.kind == "file-sent"]
    recipient = str(sent[0].details["to"]) if sent else archived.actor
    when = (sent or named)[0].at if named else network.clock.now()
    data = archived.sealed.read_bytes()
    if archived.sealed.name.endswith(".jws"):  # the REST channel: signed, not encrypted
        return JSONResponse({"id": archived.id, "at": when.isoformat(),
                             **_jws_seal(data, network, when)})  # fmt: skip
    try:
        me = pki.identity(recipient)
    except (PkiError, OSError):
        raise ApiError(
            409, "no-recipient-key", f"no key of {recipient} here: it is external"
        ) from None
    try:
        seal = describe(data, me)
    except SealError as exc:
        return JSONResponse(
            {"id": archived.id, "recipient": recipient, "readable": False, "reason": str(exc)}
        )
    assert network.kernel is not None
    try:
        opened = open_sealed(data, me, network.kernel.trust(), when, declared_parties)
        judged: dict[str, Any] = {"valid": True, "sender": opened.sender}
    except SealError as exc:
        judged = {"valid": False, "reason": str(exc)}
    return JSONResponse(
        {"id": archived.id, "readable": True, "at": when.isoformat(), **seal, "opened": judged}
    )


def _jws_seal(data: bytes, network: Network, when: datetime) -> dict[str, Any]:
    """A REST document's seal (a compact JWS), checked at ``when`` under the run's PKI."""
    assert network.kernel is not None
    shown: dict[str, Any] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                             "seal": "JWS (RFC 7515), compact"}  # fmt: skip
    try:
        signed = jws.open_signed(data, network.kernel.trust(), when)
    except SealError as exc:
        return {**shown, "readable": False, "reason": str(exc)}
    cert = signed.certificate
    return {**shown, "readable": True, "content_bytes": len(signed.payload),
            "signature": {"algorithm": jws.ALGORITHM, "signer": signed.signer,
                          "signer_subject": cert.subject.rfc4514_string(),
                          "signer_issuer": cert.issuer.rfc4514_string()},
            "opened": {"valid": True, "sender": signed.signer}}  # fmt: skip


async def invoice_trace(request: Request, live: LiveRun) -> Response:
    invoice = f"{request.path_params['ps']}/{request.path_params['number']}"
    try:
        hops = trace(live.journal(), invoice)
    except UnknownInvoice:
        raise ApiError(404, "no-invoice", f"no invoice {invoice!r} was billed (so far)") from None
    return JSONResponse(
        {
            "invoice": invoice,
            "hops": [
                {
                    "at": h.at.isoformat(),
                    "actor": h.actor,
                    "what": h.what,
                    "file": h.file,
                    "since_previous_hours": h.since_previous_hours,
                }
                for h in hops
            ],
            "total_hours": round((hops[-1].at - hops[0].at).total_seconds() / 3600, 2)
            if hops
            else 0,
        }
    )


async def clock(request: Request, live: LiveRun) -> Response:
    return JSONResponse(_clock_json(live))


async def clock_pause(request: Request, live: LiveRun) -> Response:
    await _body(request, ())
    network = _network_live(live)
    network.clock.pause()
    await network.clock.parked()
    return JSONResponse(_clock_json(live))


async def clock_resume(request: Request, live: LiveRun) -> Response:
    await _body(request, ())
    _network_live(live).clock.resume()
    return JSONResponse(_clock_json(live))


async def clock_speed(request: Request, live: LiveRun) -> Response:
    body = await _body(request, ("speed",))
    speed = body.get("speed")
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0 < speed <= 1e9:
        raise ApiError(
            400, "bad-speed", f"speed must be a number above 0 and up to 1e9, not {speed!r}"
        )
    network = _network_live(live)
    try:
        network.clock.set_speed(float(speed))
    except ValueError as exc:
        raise ApiError(409, "virtual-clock", str(exc)) from None
    return JSONResponse(_clock_json(live))


async def clock_jump(request: Request, live: LiveRun) -> Response:
    """Scaled clock: ``{"by": DURATION}`` or ``{"to": TIME}`` (``"next"``: the next step's
    time): simulated time jumps there at once, the steps due meanwhile run one after the
    other at their own times, then the clock goes on at its speed (paused: on resuming)."""
    body = await _body(request, ("to", "by"))
    if len(body) != 1:
        raise ApiError(400, "bad-jump", 'give one of "by" (a duration like "1h") or "to" (a '
                       'time, or "next": the next step)')  # fmt: skip
    network = _network_live(live)
    clock = network.clock
    ((key, value),) = body.items()
    if not isinstance(value, str):
        raise ApiError(400, "bad-jump", f"{key} is a text, not {value!r}")
    if key == "by":
        when = clock.now() + timedelta(seconds=_calendar(value, "by"))
    elif value == "next":
        when = clock.next_time() or network.config.end
    else:
        try:
            when = parse_moment(value)
        except ValueError as exc:
            raise ApiError(400, "bad-time", str(exc)) from None
    try:
        clock.jump(when)
    except ValueError as exc:
        code = "virtual-clock" if clock.virtual else "in-the-past"
        raise ApiError(409, code, str(exc)) from None
    return JSONResponse(_clock_json(live) | {"jumped_to": when.isoformat()})


async def clock_advance(request: Request, live: LiveRun) -> Response:
    """Virtual clock: ``{"to": TIME}``, ``{"by": DURATION}`` or ``{"until_event": KIND}``
    (with ``"party"``: sent to or by that id; with ``"timeout"``: a duration of simulated
    time, 408 when it passes with no such event); answers once the clock has paused there
    (or the run has ended)."""
    body = await _body(request, ("to", "by", "until_event", "party", "timeout"))
    options = {k: body.pop(k) for k in ("party", "timeout") if k in body}
    if len(body) != 1 or (options and "until_event" not in body):
        raise ApiError(
            400,
            "bad-advance",
            'give one of "to" (a time), "by" (a duration like '
            '"2h") or "until_event" (an event kind like "arl-sent", with "party" and '
            '"timeout" if wanted)',
        )
    for option, given in options.items():
        if not isinstance(given, str) or not given:
            raise ApiError(400, "bad-advance", f"{option} must be a text, not {given!r}")
    network = _network_live(live)
    if not network.clock.virtual:
        raise ApiError(
            409,
            "scaled-clock",
            "advance is for a virtual clock; this one follows real time (use /api/clock/speed)",
        )
    ((key, value),) = body.items()
    if not isinstance(value, str) or not value:
        raise ApiError(400, "bad-advance", f"{key} must be a text, not {value!r}")
    seq = None
    if key == "until_event":
        party = options.get("party")
        if party is not None and party not in network.pki.parties():
            raise ApiError(400, "bad-advance", f"party: no party {party!r} in this network")
        until = None
        if "timeout" in options:
            until = network.clock.now() + timedelta(seconds=_calendar(options["timeout"],
                                                                      "timeout"))  # fmt: skip
        seq = await live.advance_until_event(value, party, until)
        if seq is None:
            result = _clock_json(live)
            result["event"] = None
            who = f" for {party}" if party else ""
            return JSONResponse(
                {"error": {"code": "timeout", "message": f"no {value} event{who} before "
                           f"{result['now']} (simulated): the clock stands there"},
                 **result},
                status_code=408,
            )  # fmt: skip
    else:
        if key == "to" and value == "end":
            when = network.config.end
        elif key == "to":
            try:
                when = parse_moment(value)
            except ValueError as exc:
                raise ApiError(400, "bad-time", str(exc)) from None
        else:
            when = network.clock.now() + timedelta(seconds=_calendar(value, "by"))
        if when < network.clock.now():
            raise ApiError(
                409,
                "in-the-past",
                f"{when.isoformat()} is before the simulated time "
                f"{network.clock.now().isoformat()}",
            )
        await live.advance_to(when)
    await live.settled()  # a run that ended meanwhile answers with its final state
    result = _clock_json(live)
    if seq:
        found = live.journal().select(after=seq - 1, limit=1)
        result["event"] = live.shown(found[0]) if found else None
    elif key == "until_event":
        result["event"] = None  # the run ended first
    return JSONResponse(result)


def _calendar(text: str, key: str) -> float:
    """Seconds of a calendar duration given as ``key`` ("2h", "3 days"); 400 otherwise."""
    try:
        duration = parse_duration(text, key)
    except ScenarioError as exc:
        raise ApiError(400, "bad-duration", str(exc)) from None
    if duration.business:
        raise ApiError(400, "bad-duration", f'{key} is calendar time here ("2h", "3 days")')
    return duration.seconds


async def faults(request: Request, live: LiveRun) -> Response:
    if request.method == "GET":
        return JSONResponse(
            {
                "kinds": [
                    {"kind": k, "targets": role, "lasts": lasting, "description": doc}
                    for k, (role, lasting, doc) in FAULT_KINDS.items()
                ]
            }
        )
    data = _json(await request.body() or b"null")
    _network_live(live)
    try:
        fault = fault_now(data)
        target = live.inject(fault)
    except ScenarioError as exc:
        raise ApiError(400, "bad-fault", str(exc)) from None
    assert live.network is not None
    return JSONResponse(
        {
            "kind": fault.kind,
            "target": target,
            "at": live.network.clock.now().isoformat(),
            "takes_effect": "at the clock's next step",
        },
        status_code=202,
    )


async def oc_answers(request: Request, live: LiveRun) -> Response:
    """A mutuelle on the REST channel hands its answer to the harness: ``document``, the
    compact JWS of an OC answer (docs/vendors.md), and ``name``, optional, the name it gives
    it. Taken at once by the caisse it is addressed to (200), or refused with the reason
    (422); either way journaled, as an answer fetched from a hub would be."""
    data = _json(await request.body() or b"null")
    network = _network_live(live)
    if not isinstance(data, dict) or not isinstance(data.get("document"), str):
        raise ApiError(400, "bad-answer", 'the body is {"document": "<compact JWS>", '
                       '"name": "<optional name>"}')  # fmt: skip
    name = data.get("name", "")
    if not isinstance(name, str):
        raise ApiError(400, "bad-answer", "name is a string")
    refused = network.accept_oc_answer(data["document"].encode("utf-8", "replace"), name)
    if refused is not None:
        raise ApiError(422, "answer-refused", refused)
    return JSONResponse({"taken": True, "at": network.clock.now().isoformat()})


async def chapters(request: Request, live: LiveRun) -> Response:
    """The guided tour's chapters, in the run's language: each with the kind of event a
    jump to it waits for (``POST /api/clock/advance {"until_event": kind}``)."""
    lang = live.narrator.lang
    return JSONResponse({"lang": lang.code, "chapters": [c.told(lang) for c in CHAPTERS]})


def _lang(request: Request) -> Language:
    """The language of the words people read in an answer (``?lang=``, English by default:
    what programs read); names, codes and figures are the same in every language."""
    code = request.query_params.get("lang", LANGUAGES[0])
    if code not in LANGUAGES:
        raise ApiError(400, "bad-parameter", f"lang must be one of {', '.join(LANGUAGES)}, "
                       f"not {code!r}")  # fmt: skip
    return language(code)


async def report(request: Request, live: LiveRun) -> Response:
    lang = _lang(request)
    _built(live)
    return JSONResponse(localized(live.report(), lang))


async def verdict(request: Request, live: LiveRun) -> Response:
    lang = _lang(request)
    _built(live)
    result = localized(live.report(), lang)
    return JSONResponse(
        {key: result[key] for key in ("verdict", "exit_code", "failed", "checks", "externals")}
        | {"final": live.final is not None, "counters": counters(result)}
    )


def counters(report: dict[str, Any]) -> dict[str, int]:
    """The live page's counters, read from the report itself: the page shows the numbers the
    report gives, never a count of its own (one rejected décompte is journaled by the mutuelle
    and again by the caisse that learns it: counted once, as the report counts it)."""
    counts, rejects = report["counts"], report["rejects"]
    arl = rejects["arl_status"]
    shown = {
        "lots": counts["lots"], "files": counts["files"], "invoices": counts["invoices"],
        "décomptes": counts["decomptes"], "IJ": counts["ij"], "positive ARL": arl.get("P", 0),
        "negative ARL": arl.get("N", 0), "duplicate ARL": arl.get("D", 0),
        "refused files": sum(rejects["refused_files"].values()),
        "décomptes rejected": sum(rejects["oc"].values()),
    }  # fmt: skip
    return {name: value for name, value in shown.items() if value or name in ALWAYS_COUNTED}


#: the counters the page shows from the start, the others once they are not zero
ALWAYS_COUNTED = ("lots", "files", "invoices", "décomptes", "positive ARL")


async def stop(request: Request, live: LiveRun) -> Response:
    await _body(request, ())
    live.request_stop()
    return JSONResponse({"state": live.state}, status_code=202)
