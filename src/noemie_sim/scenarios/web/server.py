"""Serving the API in the simulation's own event loop: uvicorn, started as a task beside the
run, on a socket bound before anything runs (so the port is known, and printed, at once)."""

from __future__ import annotations

import asyncio
from types import TracebackType

import uvicorn

from noemie_sim.sim.transport.rest import InLoopServer, listening_socket

from .app import make_app
from .guard import Guard, Policy
from .live import LiveRun


class WebServer:
    """The API of ``live`` on ``host:port`` (port 0: a free one), behind the :mod:`.guard`
    ``policy``, while the context is open::

        async with WebServer(live, "127.0.0.1", 0) as web:
            print(web.url)

    OSError when the address cannot be bound (a port in use)."""

    def __init__(
        self, live: LiveRun, host: str = "127.0.0.1", port: int = 0, policy: Policy | None = None
    ) -> None:
        self.live = live
        #: who may talk to it (:mod:`.guard`): loopback names and the bound address; a token
        #: when bound beyond loopback
        self.policy = policy or Policy.for_address(host)
        self._socket = listening_socket(host, port)
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(Guard(make_app(live), self.policy), log_level="warning",
                                access_log=False, lifespan="off")  # fmt: skip
        self._server = InLoopServer(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def __aenter__(self) -> WebServer:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.live.request_stop()  # ends the event streams, so that the server can stop
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._socket.close()
        self.live.close()
