"""The ``noemie-sim`` command.

Exit codes, the same for every subcommand: 0 success (the file is valid, the run passed, the
operation done), 1 a check failed (anomalies, a refusal, an SLA, expectation or conformance
check: the reason is printed), 2 bad input (a file cannot be read or written, bad arguments,
an invalid scenario or run folder), 3 the run is incomplete or the harness itself failed. A
user never sees a traceback: an internal error prints one line naming the log file that holds
it.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from noemie_sim import __version__
from noemie_sim.scenarios.i18n import LANGUAGES, choose, language
from noemie_sim.sim import packs
from noemie_sim.sim.norms import pack as norms_pack
from noemie_sim.sim.norms.pack import PackError

from .common import H_, UsageError, speak_help

#: the modules of the commands (cli/<module>.py) and the functions that register them, in the
#: order the help lists them
REGISTERS = (
    ("norms", "register"),
    ("norms", "register_generate"),
    ("norms", "register_packs"),
    ("pki", "register"),
    ("transport", "register"),
    ("runs", "register"),
    ("vendors", "register"),
    ("campaign", "register"),
    ("export", "register"),
)
#: the module of each command: a command line imports its command's module only (the others
#: bring the whole network, a second of start-up that `validate` has no use for);
#: tests/test_cli_startup.py checks this table against the modules' own commands
COMMANDS = {
    **dict.fromkeys(("validate", "convert", "explain", "samples", "generate", "norms"), "norms"),
    **dict.fromkeys(("pki", "seal", "open"), "pki"),
    "sftp-hub": "transport",
    **dict.fromkeys(("run", "report", "verify", "harness", "replay", "trace", "demo"), "runs"),
    **dict.fromkeys(("serve", "replay-traffic"), "vendors"),
    "campaign": "campaign",
    "export": "export",
}


#: what :func:`_command_of` says when the version is asked before any command: the parser
#: then needs no command at all (argparse prints the version and stops)
VERSION = "--version"


def build_parser(asked: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser: with ``asked`` (a command of :data:`COMMANDS`), the commands
    of its module only; with :data:`VERSION`, none; else every command."""
    parser = argparse.ArgumentParser(
        prog="noemie-sim",
        description=H_(
            "noemie-sim simulates the French health-insurance exchange network: FSE "
            "lots (norme B2), ARL, NOEMIE returns, décomptes to mutuelles and NOEMIE "
            "550 to employers, sealed under a test PKI."
        ),
        epilog=H_("Run 'noemie-sim COMMAND --help' for the options of a command."),
    )
    parser.add_argument("--version", action="version", version=f"noemie-sim {__version__}")
    parser.add_argument(
        "--harness-key", metavar="FILE",
        help=H_("the harness's Ed25519 key (PEM) that signs runs' manifests and checkpoints, "
                "and whose certificate verify trusts (default: this user's, made at first use "
                "outside any run folder; see 'noemie-sim harness')"),
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = COMMANDS.get(asked or "")
    for module, function in REGISTERS if asked != VERSION else ():
        if wanted is None or module == wanted:
            getattr(importlib.import_module(f"{__name__}.{module}"), function)(sub)
    for name, command in sub.choices.items():
        if name not in ("norms", "harness"):
            _add_norms(command)
    _argparse_words(parser)
    return parser


def _argparse_words(parser: argparse.ArgumentParser) -> None:
    """argparse's own words in the help's language, in ``parser`` and every command below it:
    "usage:", the sections' titles, the help and version options."""
    parser.formatter_class = _localized_formatter(
        cast(type[argparse.HelpFormatter], parser.formatter_class)
    )
    titles = {"options": H_("options"), "positional arguments": H_("positional arguments")}
    for group in parser._action_groups:
        group.title = titles.get(str(group.title), group.title)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            action.help = H_("show this help message and exit")
        elif isinstance(action, argparse._VersionAction):
            action.help = H_("show the version number and exit")
        elif isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                _argparse_words(command)


def _localized_formatter(
    base: type[argparse.HelpFormatter],
) -> type[argparse.HelpFormatter]:
    """``base`` whose usage line starts with "usage:" in the help's language."""
    prefix = H_("usage: ")

    class Localized(base):  # type: ignore[valid-type,misc]
        def add_usage(self, usage: Any, actions: Any, groups: Any, prefix_: Any = None) -> None:
            super().add_usage(usage, actions, groups, prefix if prefix_ is None else prefix_)

    return Localized


def _add_norms(parser: argparse.ArgumentParser) -> None:
    """``--norms DIR`` on ``parser`` and on every command below it."""
    nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not nested:
        parser.add_argument(
            "--norms", metavar="DIR",
            help=H_("speak the layout tables of this norms pack (default: ${variable}, else "
                    "the built-in tables; see 'noemie-sim norms')", variable=packs.ENVIRONMENT),
        )  # fmt: skip
    for action in nested:
        for command in action.choices.values():
            _add_norms(command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``noemie-sim`` command; returns the exit code."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    speak_help(language(choose(_asked_language(arguments))))
    parser = build_parser(_command_of(arguments))
    args = parser.parse_args(arguments)
    if args.harness_key:  # for this process and the workers it starts
        os.environ["NOEMIE_SIM_HARNESS_KEY"] = str(Path(args.harness_key).resolve())
    try:
        speaking = packs.chosen(getattr(args, "norms", None))
    except PackError as exc:
        from .norms import pack_refused

        print(f"noemie-sim {args.command}: {pack_refused(exc)}", file=sys.stderr)
        return 2
    norms_pack.install(speaking)
    if argv is None:
        # a command's own process: what start-up made (modules, tables) lives as long as it,
        # so the collector need not walk it again each time a big file's records fill the
        # young generations (validate of a 60 MB file: ~15 % of its time). Not when called
        # from a longer-lived process (a test), whose garbage of then would be kept forever.
        gc.freeze()
    # the commands this one starts (a vendor's script calling noemie-sim) speak it too
    given = getattr(args, "norms", None)
    before = os.environ.get(packs.ENVIRONMENT)
    if given:
        os.environ[packs.ENVIRONMENT] = str(Path(given).resolve())
    try:
        return _handle(args)
    finally:
        if given:  # the command is over (main is called again in one process by tests)
            os.environ.pop(packs.ENVIRONMENT, None)
            if before is not None:
                os.environ[packs.ENVIRONMENT] = before


def _command_of(arguments: list[str]) -> str | None:
    """The command ``arguments`` name, before they are parsed; :data:`VERSION` when the
    version is asked first; None when the top-level help is asked first or there is no
    command."""
    takes_value = False
    for argument in arguments:
        if takes_value:
            takes_value = False
        elif argument == "--harness-key":
            takes_value = True
        elif argument in ("-h", "--help"):
            return None
        elif argument == VERSION:
            return VERSION
        elif not argument.startswith("-"):
            return argument
    return None


def _asked_language(arguments: list[str]) -> str | None:
    """The ``--lang`` among ``arguments`` before they are parsed (the help is written in
    it); None when there is none or it names no language (parsing then says so)."""
    for i, argument in enumerate(arguments):
        value = None
        if argument == "--lang" and i + 1 < len(arguments):
            value = arguments[i + 1]
        elif argument.startswith("--lang="):
            value = argument.removeprefix("--lang=")
        if value in LANGUAGES:
            return value
    return None


def _handle(args: argparse.Namespace) -> int:
    """Run the command's handler; every failure becomes its exit code and one line."""
    try:
        code: int = args.handler(args)
    except UsageError as exc:
        print(f"noemie-sim {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (| head): stop quietly, output incomplete
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return INTERNAL_ERROR
    except KeyboardInterrupt:
        print(f"noemie-sim {args.command}: interrupted (incomplete)", file=sys.stderr)
        return INTERNAL_ERROR
    except Exception as exc:  # the harness failed: one line here, the traceback in a log
        log = _log_traceback(args.command)
        print(f"noemie-sim {args.command}: internal error ({type(exc).__name__}: {exc}); "
              f"the traceback is in {log}", file=sys.stderr)  # fmt: skip
        return INTERNAL_ERROR
    return code


#: exit code of an incomplete run (interrupted, killed) and of an internal error
INTERNAL_ERROR = 3


def _log_traceback(command: str) -> Path:
    """Write the current exception's traceback to a new log file; its path."""
    folder = Path(os.environ.get("NOEMIE_SIM_LOG_DIR") or Path(tempfile.gettempdir()))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"noemie-sim-{command}-", suffix=".log", dir=folder)
    except OSError:
        fd, name = tempfile.mkstemp(prefix=f"noemie-sim-{command}-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as log:
        log.write(traceback.format_exc())
    return Path(name)


if __name__ == "__main__":
    sys.exit(main())
