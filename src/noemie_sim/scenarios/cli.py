"""The ``noemie-sim`` command.

Exit codes, the same for every subcommand: 0 success (the file is valid, the operation done),
1 the input was read but is refused (anomalies or the reason are printed), 2 the command could
not run (a file cannot be read or written, bad arguments). A user never sees a traceback for
bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from noemie_sim import __version__

from . import cli_norms, cli_pki, cli_scenarios, cli_transport, cli_vendors
from .cli_common import UsageError

EXTENSIONS = cli_norms.EXTENSIONS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noemie-sim",
        description="noemie-sim simulates the French health-insurance exchange network: FSE lots "
        "(norme B2), ARL, NOEMIE returns, décomptes to mutuelles and NOEMIE 550 to employers, "
        "sealed under a test PKI.",
        epilog="Run 'noemie-sim COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"noemie-sim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    cli_norms.register(sub)
    cli_norms.register_generate(sub)
    cli_pki.register(sub)
    cli_transport.register(sub)
    cli_scenarios.register(sub)
    cli_vendors.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``noemie-sim`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except UsageError as exc:
        print(f"noemie-sim {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
