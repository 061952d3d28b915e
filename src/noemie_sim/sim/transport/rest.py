"""The REST channel's fabric: a document POSTed to a party's webhook over HTTP, and the
server that plays the webhooks of the simulated parties on loopback.

What travels is opaque here (the actors sign and read it: a compact JWS, :mod:`noemie_sim.pki.jws`).
A POST gets a :class:`Reply` whatever its HTTP status (the sender judges it: delivered,
refused, to retry); no answer at all (connection refused or reset, a timeout) raises
:class:`WebhookError`, retryable. The client never follows a redirect (a webhook that moved
says so with its status) and goes direct, without the environment's proxies: the harness
talks to the address it was given.

A webhook is anything with ``async post(body) -> Reply``: :class:`HttpWebhook` over real HTTP
(an external system's URL, or a simulated party's on :class:`WebhookServer`), or
:class:`LocalWebhook` calling the party in memory (the in-memory transport).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .api import TransportError

#: media type of a compact JWS (RFC 7515 §9.2.1), the REST channel's documents and answers
JOSE = "application/jose"
#: the HTTP header naming a document (as the journal and the archive name it, and as it would
#: be named on SFTP): a webhook may use it as an idempotency key; an answer's reply carries its own
NAME_HEADER = "Noemie-Document-Name"
#: bytes of a reply read at most (a day's answer of a mutuelle is far smaller)
MAX_REPLY = 16 * 1024 * 1024
#: bytes of a request body a simulated party reads at most
MAX_REQUEST = 64 * 1024 * 1024
#: real seconds a webhook has to answer (the transport's own network timeout)
TIMEOUT = 30.0


@dataclass(frozen=True)
class Reply:
    """A webhook's HTTP answer: its status, body, media type and the name it gives its body
    (:data:`NAME_HEADER`; empty when it gives none)."""

    status: int
    body: bytes = b""
    content_type: str = ""
    name: str = ""

    @property
    def delivered(self) -> bool:
        """The document was taken (2xx)."""
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """Sending again may succeed: the server is unavailable, overloaded or timed out."""
        return self.status in (408, 425, 429) or self.status >= 500

    def reason(self) -> str:
        """The status and the start of the body, as one line for the journal."""
        text = self.body[:200].decode("utf-8", "replace").replace("\n", " ").strip()
        return f"HTTP {self.status}" + (f": {text}" if text else "")


class WebhookError(TransportError):
    """The webhook gave no HTTP answer (refused, reset, timed out); retryable."""


class Webhook(Protocol):
    async def post(self, name: str, body: bytes) -> Reply:
        """POST document ``name``; the reply, whatever its status. WebhookError when there is
        no reply at all."""
        ...


class HttpWebhook:
    """POSTs documents to ``url`` (http or https)."""

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout

    async def post(self, name: str, body: bytes) -> Reply:
        # urllib in a thread: a few POSTs a simulated day, and no client library to add
        return await asyncio.to_thread(self._post, name, body)

    def _post(self, name: str, body: bytes) -> Reply:
        headers = {"Content-Type": JOSE, "Accept": JOSE, NAME_HEADER: name}
        request = urllib.request.Request(self.url, data=body, method="POST", headers=headers)
        try:
            with _OPENER.open(request, timeout=self.timeout) as answer:
                headers = answer.headers
                return Reply(answer.status, answer.read(MAX_REPLY), headers.get_content_type(),
                             headers.get(NAME_HEADER, ""))  # fmt: skip
        except urllib.error.HTTPError as exc:  # a status >= 300: an answer all the same
            with contextlib.closing(exc):
                return Reply(exc.code, exc.read(MAX_REPLY), exc.headers.get_content_type())
        except (OSError, urllib.error.URLError) as exc:  # TimeoutError is an OSError
            reason = getattr(exc, "reason", None) or exc
            raise WebhookError(f"no answer from {self.url}: {reason}") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None  # the 30x is returned as the reply


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())

#: what a simulated party does with a document POSTed to it
Handler = Callable[[str, bytes], Awaitable[Reply]]


class LocalWebhook:
    """A simulated party's webhook called in memory (the in-memory transport)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def post(self, name: str, body: bytes) -> Reply:
        return await self.handler(name, body)


class InLoopServer(uvicorn.Server):
    """uvicorn as a task of the running event loop, without its own signal handlers: the
    command's handlers stop the run, then the server (uvicorn's would only stop the server
    and re-raise the signal)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: a free port) and listening: a client that
    connects before the server has started waits in the backlog instead of being refused.
    OSError when the address cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class _ServedWebhook(HttpWebhook):
    def __init__(self, url: str, server: WebhookServer, party: str) -> None:
        super().__init__(url)
        self.server, self.party = server, party

    async def post(self, name: str, body: bytes) -> Reply:
        reply = await super().post(name, body)
        failure = self.server.failures.pop(self.party, None)
        if failure is not None:
            raise failure
        return reply


class WebhookServer:
    """The webhooks of simulated parties, over HTTP on loopback: ``POST /<party>`` is handed
    to that party's handler; anything else is 404 or 405. Started with :meth:`start`, stopped
    with :meth:`close`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.handlers: dict[str, Handler] = {}
        self.failures: dict[str, Exception] = {}  # party -> what its handler raised
        self._socket = listening_socket(host, 0)
        self.host, self.port = self._socket.getsockname()[:2]
        app = Starlette(routes=[Route("/{party}", self._handle, methods=["POST"])])
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = InLoopServer(config)
        self._task: asyncio.Task[None] | None = None

    def add(self, party: str, handler: Handler) -> Webhook:
        """Serve ``party``'s webhook; the webhook that reaches it over HTTP. A handler that
        raises is a failure of the simulation, not of the network: the POST that ran it
        raises the same exception (the party's 500 reply is not retried)."""
        self.handlers[party] = handler
        return _ServedWebhook(f"http://{self.host}:{self.port}/{party}", self, party)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))

    async def close(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
            self._task = None
        self._socket.close()

    async def _handle(self, request: Request) -> Response:
        handler = self.handlers.get(request.path_params["party"])
        if handler is None:
            return Response("no such webhook\n", 404, media_type="text/plain")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_REQUEST:
                return Response("document too large\n", 413, media_type="text/plain")
        try:
            reply = await handler(request.headers.get(NAME_HEADER, ""), bytes(body))
        except Exception as exc:
            self.failures[request.path_params["party"]] = exc
            raise
        headers = {NAME_HEADER: reply.name} if reply.name else None
        return Response(reply.body, reply.status, headers, reply.content_type or None)
