"""``--web`` for ``demo``, ``run`` and ``serve``: the run played with its HTTP API and live
page served beside it (:mod:`noemie_sim.scenarios.web`), until Ctrl-C or ``POST /api/stop``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from noemie_sim.actors.network import Network, RunResult
from noemie_sim.scenarios.schema import Scenario
from noemie_sim.scenarios.web.guard import Policy
from noemie_sim.scenarios.web.live import LiveRun
from noemie_sim.scenarios.web.server import WebServer

from .common import H_, UsageError, lang_of

#: the demo's speed with --web: its week in about three minutes (a trainer changes it live)
DEMO_WEB_SPEED = 3600.0


def add_web(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(H_("live page and HTTP API"))
    group.add_argument("--web", action="store_true",
                       help=H_("serve the live page and the HTTP API (docs/api.md) while the run "
                       "goes on, and after it until Ctrl-C or POST /api/stop"))  # fmt: skip
    group.add_argument("--host", default="127.0.0.1",
                       help=H_("address to serve on (127.0.0.1: this machine only)"))  # fmt: skip
    group.add_argument("--port", type=int, default=0,
                       help=H_("port to serve on (default: a free one, printed at "
                               "start)"))  # fmt: skip
    group.add_argument("--token", metavar="TOKEN",
                       help=H_("the bearer token every request must carry (default: none on "
                       "127.0.0.1; generated and printed when --host is reachable from other "
                       "machines)"))  # fmt: skip
    group.add_argument("--paused", action="store_true",
                       help=H_("start with the clock paused (resume or advance it from the page "
                       "or the API)"))  # fmt: skip


def check_web(args: argparse.Namespace) -> None:
    if not args.web and (args.paused or args.port or args.host != "127.0.0.1" or args.token):
        raise UsageError("--paused, --host, --port and --token go with --web")
    if args.token is not None and len(args.token) < 16:
        raise UsageError("--token must be at least 16 characters")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be from 0 to 65535, not {args.port}")


def with_speed(scenario: Scenario, speed: float | None) -> Scenario:
    """The scenario in scaled time at ``speed`` (None: as it says)."""
    if speed is None:
        return scenario
    if not speed > 0:
        raise UsageError(f"--speed must be above 0, not {speed:g}")
    config = dataclasses.replace(scenario.config, speed=speed)
    return dataclasses.replace(scenario, config=config)


def play_with_web(
    args: argparse.Namespace,
    scenario: Scenario,
    out: Path,
    console: Console,
    mode: str,
    play: Callable[..., Any],
    on_built: Callable[[Network], None] | None = None,
    kits: dict[str, Path] | None = None,
    **play_args: Any,
) -> tuple[RunResult, LiveRun]:
    """Run ``play(scenario, out, on_built=..., **play_args)`` with the API served on
    ``args.host:args.port``; after the run, serve on until stopped. ``kits``: the connection
    kits of external parties, as ``on_built`` writes them. Returns the run's result (its
    journal closed) and the live run, whose ``final`` is the report."""

    async def main() -> tuple[RunResult, LiveRun]:
        live = LiveRun(scenario, out, mode, lang_of(args))
        if kits is not None:
            live.kits = kits  # the same dict: on_built fills it
        policy = Policy.for_address(args.host, args.token)
        try:
            server = WebServer(live, args.host, args.port, policy)
        except OSError as exc:
            raise UsageError(
                f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}"
            ) from None
        async with server as web:
            console.print(f"live page and HTTP API: [bold]{web.url}[/] "
                          f"(description: {web.url}openapi.json)", soft_wrap=True)  # fmt: skip
            if policy.token is not None:
                console.print(f"API token: {policy.token} (every request sends "
                              f"'Authorization: Bearer {policy.token}'; the page: "
                              f"{web.url}?token={policy.token})", soft_wrap=True,
                              markup=False)  # fmt: skip

            def built(network: Network) -> None:
                if on_built is not None:
                    on_built(network)
                live.attach(network)
                if args.paused:
                    network.clock.pause()
                    console.print("the clock is paused: resume or advance it from the page or "
                                  "the API")  # fmt: skip
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    with contextlib.suppress(NotImplementedError):  # platforms without signals
                        loop.add_signal_handler(sig, live.request_stop)

            result: RunResult = await play(scenario, out, on_built=built, **play_args)
            result.journal.close()
            live.finish()
            if not live.stop_requested.is_set():
                console.print("the run has ended: the page and the API stay up until Ctrl-C or "
                              "POST /api/stop")  # fmt: skip
                await live.stop_requested.wait()
            return result, live

    return asyncio.run(main())
