"""``noemie-sim sftp-hub``: one CPAM's SFTP server alone, to check connectivity."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from datetime import datetime

from noemie_sim.pki.authority import Pki
from noemie_sim.pki.errors import PkiError
from noemie_sim.sim.clock import wall_now
from noemie_sim.sim.transport.sftp_server import SftpHub

from .common import H_, UsageError, moment


def cmd_sftp_hub(args: argparse.Namespace) -> int:
    try:
        pki = Pki(args.pki)
        role = pki.role_of(args.cpam)
    except PkiError as exc:
        raise UsageError(str(exc)) from None
    if role != "cpam":
        raise UsageError(f"{args.cpam} is a {role}, not a cpam")
    fixed = moment(args) if args.at else None

    def now() -> datetime:
        return fixed if fixed is not None else wall_now()

    try:
        return asyncio.run(_serve(pki, args, now))
    except OSError as exc:
        raise UsageError(f"cannot serve on port {args.port}: {exc.strerror or exc}") from None


async def _serve(pki: Pki, args: argparse.Namespace, now: object) -> int:
    def on_event(kind: str, **details: object) -> None:
        shown = " ".join(f"{k}={v}" for k, v in details.items() if k != "hub")
        print(f"{kind}: {shown}", flush=True)

    hub = SftpHub(pki, args.cpam, args.data, now, on_event=on_event)  # type: ignore[arg-type]
    await hub.start(args.host, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(f"hub of {args.cpam} listening on {hub.host} port {hub.port}")
    print(f"mailboxes: {len(hub.disk.partners())} partners under {args.data}/<ID>/{{depot,retour}}")
    print(f"known_hosts line:\n{hub.known_hosts_line()}")
    print("stop with Ctrl-C", flush=True)
    await stop.wait()
    await hub.close()
    print("hub stopped", flush=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "sftp-hub",
        help=H_("run one CPAM's SFTP server alone"),
        description="Serve a mailbox (depot/ and retour/) for every partner in the PKI folder, "
        "with login by the key of the partner's current certificate (refused when revoked or "
        "expired). Prints the host, the port and the known_hosts line; stops on Ctrl-C or "
        "SIGTERM. Partners upload depot/NAME.part and rename it to depot/NAME.",
        epilog="example: noemie-sim sftp-hub --pki ./pki --cpam 017510000 --data ./hub --port 2222",
    )
    p.add_argument("--pki", required=True, metavar="DIR")
    p.add_argument("--cpam", required=True, metavar="ID")
    p.add_argument("--data", required=True, metavar="DIR", help="mailboxes: DIR/<partner ID>/")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    p.add_argument(
        "--at", metavar="TIME", help="validate certificates at this fixed time instead of now"
    )
    p.set_defaults(handler=cmd_sftp_hub)
