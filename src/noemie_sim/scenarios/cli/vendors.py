"""``noemie-sim serve``: a scenario in scaled time with some parties left to real systems.

Exit codes (verdict.py): 0 pass, 1 an external party does not conform (or an SLA or
expectation failed), 2 the command could not run, 3 the run did not end cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import signal
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from noemie_sim.actors.network import Network, NetworkConfig, mutuelles_named
from noemie_sim.scenarios.reports import render as reports
from noemie_sim.scenarios.runner import play, report
from noemie_sim.scenarios.schema import ScenarioError
from noemie_sim.scenarios.vendors.external import party_roles, pick_externals, write_kit
from noemie_sim.scenarios.vendors.replay_traffic import replay_traffic
from noemie_sim.sim.clock import Clock, real_ticks, wall_now
from noemie_sim.sim.journal import Event, JournalError
from noemie_sim.sim.transport.sftp_server import SftpHub

from . import web
from .common import H_, UsageError, add_alert_webhook, add_lang, alert_webhook, http_url, lang_of
from .runs import _out, find_scenario, key_pool, make_console


def with_decompte_form(
    config: NetworkConfig, roles: dict[str, str], mutuelles: list[str], form: str | None
) -> NetworkConfig:
    """``config`` with the external ``mutuelles`` taking their décomptes in ``form``
    ("noemie-oc" or "b2"; None: as the scenario says), the other mutuelles as it says."""
    if form == "noemie-oc":
        chosen = tuple(sorted({*config.noemie_oc_mutuelles, *mutuelles}))
        return dataclasses.replace(config, noemie_oc_mutuelles=chosen)
    if form == "b2":
        ids = [p for p, role in roles.items() if role == "oc"]
        kept = tuple(n for n in config.noemie_oc_mutuelles
                     if not mutuelles_named((n,), ids) & set(mutuelles))  # fmt: skip
        return dataclasses.replace(config, noemie_oc_mutuelles=kept)
    return config


def cmd_serve(args: argparse.Namespace) -> int:
    web.check_web(args)
    alert_webhook(args)  # refused before anything is made
    webhook_url = http_url(args.webhook, "--webhook")
    if (args.channel == "rest") != (webhook_url is not None):
        raise UsageError("--channel rest and --webhook URL go together: the external "
                         "mutuelle's webhook, that the caisses POST its décomptes to")  # fmt: skip
    if args.virtual and not args.web:
        raise UsageError("--virtual needs --web: the clock then moves only when the API says")
    scenario = find_scenario(args.scenario)
    speed = None if args.virtual else args.speed
    args.paused = args.paused or args.virtual  # a virtual clock waits for the API
    config = dataclasses.replace(scenario.config, speed=speed, transport="sftp")
    scenario = dataclasses.replace(scenario, config=config)
    roles = party_roles(config)
    try:
        externals = pick_externals(roles, args.external)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    mutuelles = [p for p in externals if roles[p] == "oc"]
    if args.decomptes is not None and not mutuelles:
        raise UsageError("--decomptes is for an external mutuelle: add --external oc")
    config = with_decompte_form(config, roles, mutuelles, args.decomptes)
    scenario = dataclasses.replace(scenario, config=config)
    webhooks = {p: webhook_url for p in mutuelles if webhook_url}
    if webhook_url and not webhooks:
        raise UsageError("--channel rest is for an external mutuelle: add --external oc")
    caisse_servers: dict[str, tuple[str, int, str]] = {}
    caisses = [p for p in externals if roles[p] == "cpam"]
    if caisses:
        if len(caisses) > 1 or not args.caisse_server or not args.caisse_known_hosts:
            raise UsageError(
                "one external caisse at a time, with --caisse-server HOST:PORT and "
                "--caisse-known-hosts FILE (its SFTP server, that the partners connect to)"
            )
        host, _, port = args.caisse_server.rpartition(":")
        try:
            known = Path(args.caisse_known_hosts).read_text()
            caisse_servers[caisses[0]] = (host or "127.0.0.1", int(port), known)
        except (OSError, ValueError) as exc:
            raise UsageError(f"--caisse-server/--caisse-known-hosts: {exc}") from None
    if args.sftp_port is not None and not 1 <= args.sftp_port <= 65535 - len(roles):
        raise UsageError(f"--sftp-port must be from 1 to {65535 - len(roles)}, not "
                         f"{args.sftp_port}")  # fmt: skip
    out = _out(args, "serve")
    console = make_console()

    kits: dict[str, Path] = {}

    def on_built(network: Network) -> None:
        for party in externals:
            kits[party] = write_kit(network, party, out / "kits", webhooks.get(party))
            console.print(
                f"external {roles[party]} [bold]{party}[/]: connection kit {kits[party]}",
                soft_wrap=True,
            )  # a path is never wrapped
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # platforms without signals
                loop.add_signal_handler(sig, network.clock.stop)
        pace = "in virtual time, steered by the API" if speed is None else f"at {speed:g}x"
        console.print(
            f"serving {scenario.name} {pace} until {config.end:%a %d/%m %H:%M} "
            "simulated (Ctrl-C or SIGTERM stops it cleanly)"
        )

    # a terminal shows a table that updates; a CI's log gets a line per thing that happens to
    # an external party, and a heartbeat
    log = None if console.is_terminal or args.quiet else console
    watch = ServeProgress(externals, roles, log=log)
    clock: list[Clock] = []
    beats: list[asyncio.Task[None]] = []

    def built(network: Network) -> None:
        on_built(network)
        clock.append(network.clock)
        if log is not None:
            beats.append(asyncio.create_task(watch.heartbeat(network.clock)))

    def show(now: datetime) -> None:
        watch.now = now
        watch.next_step = clock[0].next_step() if clock else None
        live.update(watch.table())

    with Live(watch.table(), console=console, refresh_per_second=4,
              transient=not console.is_terminal) as live:  # fmt: skip
        # the PKI follows the real clock too: the external systems check at the real time
        options: dict[str, Any] = {
            "keys": key_pool(), "externals": frozenset(externals), "progress": show,
            "caisse_servers": caisse_servers, "webhooks": webhooks, "listener": watch.tell,
            "sftp_port": args.sftp_port, "wall_clock": wall_now,
            "alert_webhook": alert_webhook(args),
        }  # fmt: skip
        try:
            if args.web:
                result, _served = web.play_with_web(
                    args, scenario, out, console, "serve", play, on_built=built, kits=kits,
                    **options,
                )  # fmt: skip
            else:
                result = asyncio.run(play(scenario, out, on_built=built, **options))
        except (ScenarioError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:
            if args.sftp_port is None:
                raise
            raise UsageError(f"cannot serve SFTP on ports from {args.sftp_port}: "
                             f"{exc.strerror or exc}") from None  # fmt: skip
    result.journal.close()
    final = report(out)
    reports.write_json(final, out / "report.json")
    reports.write_junit(final, out / "report.xml")
    lang = lang_of(args)
    reports.write_html(final, out / "report.html", lang)
    reports.print_conformance(final["externals"], console, lang)
    reports.print_verdict(final, console, lang)
    console.print(
        lang._("reports in {out} (report.json, report.xml, report.html)", out=out),
        soft_wrap=True,
    )  # a path is never wrapped
    return int(final["exit_code"])


class ServeProgress:
    """What ``serve`` shows while it runs, from the journal's events as they are recorded:
    per external party, the files it sent and was sent, its refused files, the ARL statuses
    of its lots; the simulated time and the next scheduled step.

    With ``log`` (stdout is not a terminal: a CI's log), each thing that happens to an
    external party is also one line there as it happens, and :meth:`heartbeat` adds a line
    with the simulated time every :data:`HEARTBEAT_SECONDS` real seconds."""

    def __init__(
        self, externals: list[str], roles: dict[str, str], log: Console | None = None
    ) -> None:
        self.roles = roles
        self.parties = {p: {"sent": 0, "received": 0, "refused": 0, "P": 0, "N": 0, "D": 0}
                        for p in externals}  # fmt: skip
        self.now: datetime | None = None
        self.next_step: tuple[datetime, str] | None = None
        self.last: str = ""
        self.log = log

    def _say(self, e: Event, text: str) -> None:
        self.last = f"{e.at:%d/%m %H:%M} {text}"
        if self.log is not None:
            self.log.print(f"[simulated {e.at:%a %d/%m %H:%M}] {text}", soft_wrap=True,
                           highlight=False, markup=False)  # fmt: skip

    def tell(self, e: Event) -> None:
        sender = str(e.details.get("sender"))
        to = str(e.details.get("to"))
        name = e.details.get("name")
        if e.kind == "file-received" and sender in self.parties:
            self.parties[sender]["sent"] += 1
            self._say(e, f"{sender} → {e.actor}: {name} received by the caisse")
        elif e.kind == "file-refused" and sender in self.parties:
            self.parties[sender]["refused"] += 1
            self._say(e, f"{sender} → {e.actor}: {name} refused ({e.details.get('code')}: "
                         f"{e.details.get('reason')}); finding: files-readable")  # fmt: skip
        elif e.kind == "file-sent" and to in self.parties:
            self.parties[to]["received"] += 1
            where = "POSTed to its webhook" if e.details.get("channel") == "rest" else (
                "available in retour/")  # fmt: skip
            self._say(e, f"{e.actor} → {to}: {name} {where}")
        elif e.kind == "file-delivered" and to in self.parties:
            self._say(e, f"{e.actor} → {to}: {name} taken by its webhook "
                         f"(HTTP {e.details.get('status')})")  # fmt: skip
        elif e.kind in ("upload-failed", "file-undeliverable") and to in self.parties:
            then = (f", tried again at {e.details['next'][11:16]}" if e.kind == "upload-failed"
                    else ", given up; finding: files-fetched")  # fmt: skip
            self._say(e, f"{e.actor} → {to}: {name} not taken by its webhook "
                         f"({e.details.get('reason')}){then}")  # fmt: skip
        elif e.kind in ("file-fetched", "file-removed") and e.actor in self.parties:
            done = "fetched" if e.kind == "file-fetched" else "removed"
            self._say(e, f"{e.actor}: retour/{name} {done}")
        elif e.kind == "oc-answer-received" and e.oc in self.parties:
            self._say(e, f"{e.oc} → {e.actor}: answer to décomptes {e.file} received "
                         f"({e.details.get('rejected')} rejected)")  # fmt: skip
        elif e.kind == "arl-sent":
            party = str(e.file or "").split("/")[0]
            if party in self.parties:
                status = str(e.details.get("status"))
                self.parties[party][status] = self.parties[party].get(status, 0) + 1
                finding = "; finding: lots-accepted" if status == "N" else ""
                codes = ", ".join(e.details.get("codes") or []) or "no anomaly"
                self._say(e, f"{e.actor} → {party}: ARL status {status} for file {e.file}"
                             f" lot {e.lot or '-'} ({codes}){finding}")  # fmt: skip
        elif e.kind in ("login-refused", "sessions-closed") and e.details.get("partner") in (
            self.parties
        ):
            self._say(e, f"{e.actor}: {e.kind} for {e.details.get('partner')} "
                         f"({e.details.get('reason')})")  # fmt: skip

    async def heartbeat(self, clock: Clock) -> None:
        """A line with the simulated time, the clock's state and the next step, every
        :data:`HEARTBEAT_SECONDS` real seconds, until cancelled (the run's end)."""
        assert self.log is not None
        async for _elapsed in real_ticks(HEARTBEAT_SECONDS):
            following = clock.next_step()
            after = f", next: {following[1]} at {following[0]:%a %d/%m %H:%M}" if following else ""
            state = "paused" if clock.paused else "running"
            if not clock.running:  # served on after its end (--web), until stopped
                state, after = "the run has ended, serving until stopped", ""
            self.log.print(f"[simulated {clock.now():%a %d/%m %H:%M}] heartbeat: {state}"
                           f"{after}", soft_wrap=True, highlight=False,
                           markup=False)  # fmt: skip

    def table(self) -> Table:
        now = f"{self.now:%a %d/%m %H:%M}" if self.now else "starting"
        after = (f"next: {self.next_step[1]} at {self.next_step[0]:%a %d/%m %H:%M}"
                 if self.next_step else "")  # fmt: skip
        caption = "\n".join(line for line in (after, self.last) if line) or None
        table = Table(title=f"serving — simulated {now}", caption=caption)
        for column in ("party", "role", "files sent", "refused", "files received",
                       "ARL P / N / D"):  # fmt: skip
            table.add_column(column)
        for party, n in self.parties.items():
            table.add_row(party, self.roles.get(party, "?"), str(n["sent"]), str(n["refused"]),
                          str(n["received"]), f"{n['P']} / {n['N']} / {n['D']}")  # fmt: skip
        return table


#: Real seconds between two heartbeat lines of ``serve``'s log (stdout not a terminal).
HEARTBEAT_SECONDS = 30.0


def cmd_replay_traffic(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    ports: dict[str, int] = {}
    connection = run_dir / "kits" / args.against / "connection.json"
    if connection.exists():  # the ports of the recorded run: its kit works unchanged
        for server in json.loads(connection.read_text())["servers"]:
            ports[server["caisse"]] = server["port"]
    console = make_console()

    def ready(hubs: dict[str, SftpHub], clock: Clock) -> None:
        for caisse, hub in hubs.items():
            console.print(f"caisse {caisse}: sftp -P {hub.port} {args.against}@{hub.host}")
            console.print(f"  known_hosts: {hub.known_hosts_line()}")
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # platforms without signals
                loop.add_signal_handler(sig, clock.stop)
        console.print(f"replaying to {args.against} at {args.speed:g}x (Ctrl-C stops)")

    def told(kind: str, details: dict[str, Any]) -> None:
        if kind in ("posted", "received", "refused"):
            console.print(f"{kind}: " + ", ".join(f"{k} {v}" for k, v in details.items()))

    try:
        folder = asyncio.run(
            replay_traffic(run_dir, args.against, speed=args.speed, ports=ports,
                           on_ready=ready, on_event=told)
        )  # fmt: skip
    except (JournalError, ValueError, OSError) as exc:
        raise UsageError(f"{run_dir}: {exc}") from None
    console.print(f"replay journal in {folder}", soft_wrap=True)  # a path is never wrapped
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser(
        "serve",
        help=H_("run a scenario with some parties played by real systems"),
        description="Run SCENARIO in scaled time over SFTP on localhost with the --external "
        "parties left to real systems: each gets a connection kit in DIR/kits/<ID>/ (keys, "
        "certificates, known_hosts, connection.json, a sample file, a README with the exact "
        "sftp and openssl commands). Stops at the scenario's end or on Ctrl-C/SIGTERM and "
        "writes the reports with a conformance verdict per external party. Exit 0 pass (every "
        "external party conforms, every SLA holds), 1 a check failed, 2 bad input, 3 the run "
        "did not end cleanly.",
        epilog="example: noemie-sim serve demo --external ps --speed 60 --out serve-run",
    )
    serve.add_argument("scenario", metavar="SCENARIO")
    serve.add_argument(
        "--external",
        action="append",
        required=True,
        metavar="WHO",
        help="a party id, or a role (ps, oc, employer, cpam): the first party of that role",
    )
    serve.add_argument("--out", metavar="DIR", help="run folder (default: a new temporary one)")
    add_lang(serve)
    add_alert_webhook(serve)
    serve.add_argument(
        "--channel",
        choices=("sftp", "rest"),
        default="sftp",
        help="how the external mutuelle takes its décomptes: from its retour/ over SFTP "
        "(default), or POSTed to --webhook as signed JSON documents (docs/vendors.md)",
    )
    serve.add_argument(
        "--decomptes",
        choices=("b2", "noemie-oc"),
        help="the form the external mutuelle takes its décomptes in: B2 records of nature DEC "
        "or NOEMIE OC (docs/norms.md, kinds decompte and noemie-oc); default: as the "
        "scenario says ([mutuelles] decomptes, b2 unless it says otherwise)",
    )
    serve.add_argument(
        "--webhook",
        metavar="URL",
        help="with --channel rest: the external mutuelle's webhook (http:// or https://); it "
        "answers each document in its reply, or later with POST /api/oc/answers (--web)",
    )
    serve.add_argument(
        "--caisse-server", metavar="HOST:PORT", help="an external caisse's SFTP server"
    )
    serve.add_argument(
        "--caisse-known-hosts", metavar="FILE", help="known_hosts lines for that server"
    )
    serve.add_argument(
        "--speed", type=float, default=60.0, help="simulated seconds per real second (60)"
    )
    serve.add_argument(
        "--virtual",
        action="store_true",
        help="with --web: a virtual clock that moves only when the API advances it (a "
        "vendor's CI drives the run step by step; docs/api.md)",
    )
    serve.add_argument(
        "--sftp-port",
        type=int,
        metavar="N",
        help="the first caisse's SFTP hub on port N, the others on N+1, N+2... in the order "
        "the kits list them (default: free ports)",
    )
    serve.add_argument(
        "--quiet",
        action="store_true",
        help="when stdout is not a terminal, no line per event of an external party and no "
        "heartbeat (only the start lines and the verdict)",
    )
    web.add_web(serve)
    serve.set_defaults(handler=cmd_serve)
    replay = sub.add_parser(
        "replay-traffic",
        help=H_("re-send a recorded run's files to an external system"),
        description="Serve the caisses of RUN_DIR again and put in ID's retour/ every file the "
        "run sent it, byte for byte, in order and with their relative timing (divided by "
        "--speed); what ID uploads meanwhile is opened and journaled in RUN_DIR/replays/N/. "
        "The recorded ports are reused when RUN_DIR holds ID's kit, so the kit works as is.",
        epilog="example: noemie-sim replay-traffic serve-run --against 751361825 --speed 600",
    )
    replay.add_argument("run_dir", metavar="RUN_DIR")
    replay.add_argument("--against", required=True, metavar="ID", help="the party to replay to")
    replay.add_argument("--speed", type=float, default=60.0, help="speed-up of time (60)")
    replay.set_defaults(handler=cmd_replay_traffic)
