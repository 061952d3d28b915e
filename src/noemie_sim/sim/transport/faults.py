"""Network faults at the edge: a small TCP proxy on loopback between clients and a hub.

Per connection, a seeded :class:`FaultPlan` decides the toxics (toxiproxy's vocabulary):
``latency`` (seconds added to each chunk), ``bandwidth`` (bytes per second), ``cut_after``
(the connection is reset after that many client-to-hub bytes: a transfer dies mid-file or
mid-rename) and ``reset`` (reset at once). ``down`` is an outage window: while it is set, new
connections are refused and open ones reset.

The proxy only listens on and connects to loopback addresses, and every loop it runs is bounded
by the connection's own lifetime. Its delays are network delays, the one kind of real waiting
allowed outside the clock module.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field

LOOPBACK = ("127.0.0.1", "::1", "localhost")
CHUNK = 65536


@dataclass(frozen=True)
class Toxics:
    """What happens to one connection."""

    latency: float = 0.0
    bandwidth: int | None = None
    cut_after: int | None = None
    reset: bool = False


@dataclass
class FaultPlan:
    """Seeded choice of the toxics of each new connection: with probability ``cut_rate`` the
    connection is cut after a random number of client bytes in [``cut_min``, ``cut_max``]."""

    seed: int = 0
    cut_rate: float = 0.0
    cut_min: int = 1
    cut_max: int = 64 * 1024
    latency: float = 0.0
    bandwidth: int | None = None
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def next_connection(self) -> Toxics:
        cut = None
        if self.cut_rate and self._rng.random() < self.cut_rate:
            cut = self._rng.randint(self.cut_min, self.cut_max)
        return Toxics(latency=self.latency, bandwidth=self.bandwidth, cut_after=cut)


class FaultProxy:
    """``127.0.0.1:<port>`` forwarding to ``target_host:target_port`` with faults."""

    def __init__(
        self, target_port: int, plan: FaultPlan | None = None, target_host: str = "127.0.0.1"
    ) -> None:
        if target_host not in LOOPBACK:
            raise ValueError("the fault proxy only forwards to loopback addresses")
        self.target = (target_host, target_port)
        self.plan = plan or FaultPlan()
        self.down = False
        self.cuts = 0  # connections cut by a toxic
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    @property
    def port(self) -> int:
        assert self._server is not None, "the proxy is not started"
        return int(self._server.sockets[0].getsockname()[1])

    def set_down(self, down: bool) -> None:
        """Start or end an outage: open connections are reset when it starts."""
        self.down = down
        if down:
            for writer in list(self._writers):
                _reset(writer)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for writer in list(self._writers):
            _reset(writer)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        toxics = self.plan.next_connection()
        if self.down or toxics.reset:
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            return
        self._writers.update((writer, up_writer))
        budget = [toxics.cut_after]
        forward = asyncio.ensure_future(self._pipe(reader, up_writer, toxics, budget, writer))
        backward = asyncio.ensure_future(self._pipe(up_reader, writer, toxics, None, up_writer))
        for task in (forward, backward):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await asyncio.wait([forward, backward], return_when=asyncio.FIRST_COMPLETED)
        for w in (writer, up_writer):
            _reset(w)
            self._writers.discard(w)

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        toxics: Toxics,
        budget: list[int | None] | None,
        other: asyncio.StreamWriter,
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
            while not self.down:
                chunk = await source.read(CHUNK)
                if not chunk:
                    break
                if budget is not None and budget[0] is not None:
                    if len(chunk) >= budget[0]:
                        sink.write(chunk[: budget[0]])
                        self.cuts += 1
                        _reset(sink)
                        _reset(other)
                        return
                    budget[0] -= len(chunk)
                if toxics.latency:
                    await asyncio.sleep(toxics.latency)
                if toxics.bandwidth:
                    await asyncio.sleep(len(chunk) / toxics.bandwidth)
                sink.write(chunk)
                await sink.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close abruptly (RST rather than FIN when the transport allows it)."""
    transport = writer.transport
    with contextlib.suppress(Exception):
        transport.abort()
