"""What every subcommand of ``noemie-sim`` shares: the usage error, file and time arguments."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from noemie_sim.scenarios.vendors.fresh import pki_time
from noemie_sim.sim.clock import parse_moment, wall_now


class UsageError(Exception):
    """A problem with what the user asked (exit 2), with a message for them."""


def read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def write_output(path: str, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def moment(args: argparse.Namespace) -> datetime:
    """The ``--at`` time given, else now."""
    if args.at is None:
        return wall_now()
    try:
        return parse_moment(args.at)
    except ValueError as exc:
        raise UsageError(f"--at: {exc}") from None


def moment_for_pki(args: argparse.Namespace, pki_folder: str) -> datetime:
    """The ``--at`` time given; else the time that makes sense for ``pki_folder``
    (:func:`noemie_sim.scenarios.vendors.fresh.pki_time`: a run's simulated time, or now),
    said on stderr so that the user knows which."""
    if args.at is not None:
        return moment(args)
    at, why = pki_time(Path(pki_folder))
    print(f"at {at.isoformat()} ({why}; --at TIME to choose)", file=sys.stderr)
    return at


#: The default of ``--at`` for the commands given a PKI folder (:func:`moment_for_pki`).
RUN_TIME = "for a run's pki/, the run's simulated time; else now"


def add_at(parser: argparse.ArgumentParser, what: str, default: str = "now") -> None:
    parser.add_argument(
        "--at",
        metavar="TIME",
        help=f"{what} (ISO 8601, UTC unless a zone is given; default: {default})",
    )
