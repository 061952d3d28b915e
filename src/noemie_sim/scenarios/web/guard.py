"""What the HTTP API refuses before any route runs (docs/security.md, "The HTTP API"): it
answers this machine's pages and programs only.

* **Host allow-list**: a request whose ``Host`` is not a loopback name, the bound address or a
  name the user added (``--host``) is refused, so a DNS-rebinding page cannot read the API
  through a name of its own.
* **Same origin for every change**: a request that may change the run (any method but GET,
  HEAD and OPTIONS) is refused unless it says ``Content-Type: application/json`` (a "simple"
  cross-site request a browser sends without asking cannot) and, when a browser says where it
  comes from (``Origin``, ``Sec-Fetch-Site``), it comes from this very server. Programs
  (curl, a CI) send neither header.
* **A bearer token beyond loopback**: when the server is bound to an address other machines can
  reach, every request carries ``Authorization: Bearer TOKEN`` (or the cookie a browser gets by
  opening the page once with ``?token=TOKEN``); the token is generated and printed at start, or
  given with ``--token``.
* **Bounded bodies**: a body over :data:`MAX_BODY` bytes is answered 413 before it is read
  whole (at once when ``Content-Length`` says so, else as soon as it passes the limit).
* **Bounded streams**: at most :data:`MAX_STREAMS` event streams at once; more get 503.

Refusals are JSON like every error of the API, with a reason a user can act on.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

#: bytes of a request body, at most (the API's bodies are a few hundred bytes)
MAX_BODY = 1024 * 1024
#: event streams served at once, at most
MAX_STREAMS = 32
#: the names of this machine (loopback), always allowed as Host
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: the methods that only read
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_COOKIE = "noemie_sim_token"


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def new_token() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class Policy:
    """Who may talk to the API: the Host names allowed, and the token when one is needed."""

    hosts: set[str] = field(default_factory=lambda: set(LOOPBACK_HOSTS))
    token: str | None = None

    @classmethod
    def for_address(cls, host: str, token: str | None = None) -> Policy:
        """The policy of a server bound to ``host``: loopback names and ``host`` itself; a
        token (``token``, or a new one) unless ``host`` is a loopback address."""
        policy = cls()
        policy.hosts.add(host.strip("[]"))
        if not is_loopback(host.strip("[]")):
            policy.token = token or new_token()
        elif token:
            policy.token = token
        return policy


def _host_name(value: str) -> str:
    """The name of a Host header, without its port (``[::1]:80`` -> ``::1``)."""
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


async def _refuse(send: Send, status: int, code: str, message: str,
                  headers: list[tuple[bytes, bytes]] | None = None) -> None:  # fmt: skip
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    sent = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status,
                "headers": [*sent, *(headers or [])]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class Guard:
    """The ASGI middleware that applies a :class:`Policy` in front of ``app``."""

    def __init__(self, app: App, policy: Policy) -> None:
        self.app, self.policy = app, policy
        self.streams = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if _host_name(host) not in self.policy.hosts:
            names = ", ".join(sorted(self.policy.hosts))
            await _refuse(send, 403, "host-not-allowed",
                          f"the Host {host!r} is not a name of this server: it answers "
                          f"{names} (add one with --host)")  # fmt: skip
            return
        allowed, cookie = await self._token_checked(scope, headers, send)
        if not allowed:
            return
        method = scope["method"]
        if method not in SAFE_METHODS and not await self._same_origin(headers, host, send):
            return
        if method not in SAFE_METHODS:
            body = await self._body(headers, receive, send)
            if body is None:
                return
            receive = _replay(body, receive)
        if scope["path"] == "/api/events/stream":
            if self.streams >= MAX_STREAMS:
                await _refuse(send, 503, "too-many-streams",
                              f"{MAX_STREAMS} event streams are open already: close one",
                              [(b"retry-after", b"5")])  # fmt: skip
                return
            self.streams += 1
            try:
                await self.app(scope, receive, _with_cookie(send, cookie))
            finally:
                self.streams -= 1
            return
        await self.app(scope, receive, _with_cookie(send, cookie))

    async def _token_checked(
        self, scope: Scope, headers: dict[str, str], send: Send
    ) -> tuple[bool, bytes | None]:
        """(False, None) when refused (answered); else (True, the Set-Cookie value to add for
        a browser that brought ``?token=``, or None)."""
        token = self.policy.token
        if token is None:
            return True, None
        given = ""
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            given = authorization[7:].strip()
        cookies = dict(
            part.strip().split("=", 1) for part in headers.get("cookie", "").split(";")
            if "=" in part
        )  # fmt: skip
        given = given or cookies.get(TOKEN_COOKIE, "")
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        from_query = (query.get("token") or [""])[0]
        if hmac.compare_digest(given.encode(), token.encode()):
            return True, None
        if from_query and hmac.compare_digest(from_query.encode(), token.encode()):
            return True, f"{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/".encode()
        await _refuse(send, 401, "token-required",
                      "this server is reachable beyond this machine: send "
                      "'Authorization: Bearer TOKEN' (the token printed at start, or --token)",
                      [(b"www-authenticate", b"Bearer")])  # fmt: skip
        return False, None

    async def _same_origin(self, headers: dict[str, str], host: str, send: Send) -> bool:
        site = headers.get("sec-fetch-site")
        origin = headers.get("origin")
        if site is not None and site not in ("same-origin", "none"):
            why = f"a {site} request (Sec-Fetch-Site)"
        elif origin is not None and (origin == "null" or urlsplit(origin).netloc != host):
            why = f"a request from {origin!r} (Origin)"
        elif headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            why = "a request without 'Content-Type: application/json'"
        else:
            return True
        await _refuse(send, 403, "cross-site-refused",
                      f"{why} may not change the run: changes come from this server's own "
                      "page or from a program sending JSON")  # fmt: skip
        return False

    async def _body(self, headers: dict[str, str], receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None (answered 413) when it passes :data:`MAX_BODY`."""
        length = headers.get("content-length")
        too_big = f"the body is over {MAX_BODY} bytes"
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            await _refuse(send, 413, "body-too-large", too_big)
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                await _refuse(send, 413, "body-too-large", too_big)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, original: Receive) -> Receive:
    """A receive channel that gives the body already read, then what the client sends next
    (its disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()

    return receive


def _with_cookie(send: Send, cookie: bytes | None) -> Send:
    if cookie is None:
        return send

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []),
                                              (b"set-cookie", cookie)]}  # fmt: skip
        await send(message)

    return sending
