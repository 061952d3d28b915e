"""The ``noemie-sim`` command.

Exit codes, the same for every subcommand: 0 success (the file is valid), 1 the input was read
but is not valid (anomalies are listed), 2 the command could not run (a file cannot be read or
written, bad arguments). A user never sees a traceback for bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from noemie_sim import __version__
from noemie_sim.sim.norms import kinds
from noemie_sim.sim.norms.errors import FormatError

KIND_NAMES = ", ".join(kinds.KINDS)
EXTENSIONS = {
    "b2": "b2",
    "arl": "arl",
    "noemie-ps": "580",
    "decompte": "dec",
    "oc-answer": "ocr",
    "noemie-550": "550",
}


class UsageError(Exception):
    """A problem with what the user asked (exit 2), with a message for them."""


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def _kind_for(data: bytes, name: str | None) -> kinds.FileKind:
    """The kind asked for, or detected; FormatError when detection fails."""
    return kinds.resolve(data, name)


def cmd_validate(args: argparse.Namespace) -> int:
    data = _read(args.file)
    try:
        kind = _kind_for(data, args.kind)
    except FormatError as exc:
        print(f"{args.file}: not valid\n  - {exc.anomaly.describe()}")
        return 1
    anomalies = kind.validate(data)
    if not anomalies:
        print(f"{args.file}: valid {kind.name} ({kind.title})")
        return 0
    print(f"{args.file}: not a valid {kind.name}, {len(anomalies)} anomalie(s)")
    for a in anomalies:
        print(f"  - {a.describe()}")
    return 1


def cmd_explain(args: argparse.Namespace) -> int:
    if (args.file is None) == (args.sample is None):
        raise UsageError("give either a FILE or --sample KIND")
    if args.sample is not None:
        data, source = kinds.KINDS[args.sample].sample(), f"sample {args.sample}"
    else:
        data, source = _read(args.file), args.file
    try:
        kind = _kind_for(data, args.kind)
    except FormatError as exc:
        print(f"{source}: not a file noemie-sim knows\n  - {exc.anomaly.describe()}")
        return 1
    lines, anomalies = kinds.explain(data, kind)
    if not lines:
        print(f"{source}: cannot be decoded as {kind.name}")
        lines = [f"  - {a.describe()}" for a in anomalies]
    print("\n".join(lines))
    return 1 if anomalies else 0


def cmd_samples(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, kind in kinds.KINDS.items():
            path = out / f"sample.{EXTENSIONS[name]}"
            path.write_bytes(kind.sample())
            print(f"{path}  ({name}: {kind.title})")
    except OSError as exc:
        raise UsageError(f"cannot write samples to {out}: {exc.strerror or exc}") from None
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noemie-sim",
        description="noemie-sim simulates the French health-insurance exchange network: FSE lots "
        "(norme B2), ARL, NOEMIE returns, décomptes to mutuelles and NOEMIE 550 to employers.",
        epilog="Run 'noemie-sim COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"noemie-sim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "validate",
        help="check a file against its norm and list every anomaly",
        description="Check a file: field formats, record order, check keys (NIR, n° AM, SIRET), "
        "control totals and counts. Exit 0 when valid, 1 listing every anomaly (record, field, "
        "position, expected, found), 2 when the file cannot be read.",
        epilog="example: noemie-sim validate lot.b2",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--kind", choices=list(kinds.KINDS), help=f"skip detection ({KIND_NAMES})")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser(
        "explain",
        help="show a file as a readable tree of records and fields",
        description="Print a file as an indented tree: each record or NOEMIE entity with its "
        "label (NOP-ENT, Type 2...), each field's name, value and meaning, then the result of "
        "the control checks. Exit codes as for validate.",
        epilog="examples: noemie-sim explain --sample noemie-ps\n"
        "          noemie-sim explain retour.580",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", nargs="?")
    p.add_argument("--sample", choices=list(kinds.KINDS), help="explain a bundled sample file")
    p.add_argument("--kind", choices=list(kinds.KINDS), help="skip detection")
    p.set_defaults(handler=cmd_explain)

    p = sub.add_parser(
        "samples",
        help="write a valid sample file of every kind",
        description="Write one valid sample file of every kind into DIR, built by the codecs: "
        "a starting point for a vendor's own files.",
        epilog="example: noemie-sim samples ./samples",
    )
    p.add_argument("out", metavar="DIR")
    p.set_defaults(handler=cmd_samples)
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
