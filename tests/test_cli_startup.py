"""A command line imports its command's module only: the table that says which module holds
which command is the modules' own registration, and `validate` starts without the network."""

from __future__ import annotations

import argparse
import subprocess
import sys

from noemie_sim import __version__
from noemie_sim.scenarios import cli


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return list(sub.choices)


def test_the_table_of_commands_is_the_modules_own() -> None:
    every = _commands(cli.build_parser())
    assert sorted(every) == sorted(cli.COMMANDS)  # no command missing from the table, none extra
    for command, module in cli.COMMANDS.items():
        built = _commands(cli.build_parser(command))
        assert command in built, command
        # only the commands of that module
        assert {cli.COMMANDS[c] for c in built} == {module}, (command, built)
    assert _commands(cli.build_parser("no-such-command")) == every  # argparse names them all


def _fresh(probe: str) -> str:
    """What ``probe`` prints, run by a fresh interpreter (whose modules are its own)."""
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return ran.stdout.strip()


def test_validate_starts_without_the_network() -> None:
    """A fresh interpreter that parses a `validate` command line has not imported the actors,
    the transport or the scenarios' runner (a second of start-up before any byte is read)."""
    probe = (
        "import sys; from noemie_sim.scenarios.cli import build_parser, _command_of; "
        "build_parser(_command_of(['validate', 'x.b2'])).parse_args(['validate', 'x.b2']); "
        "print(sorted(m for m in sys.modules if m.startswith(('noemie_sim.actors', "
        "'noemie_sim.sim.transport', 'noemie_sim.scenarios.runner', 'asyncssh'))))"
    )
    loaded = _fresh(probe)
    assert loaded == "[]", loaded


def test_the_command_is_found_before_parsing() -> None:
    assert cli._command_of(["validate", "f"]) == "validate"
    assert cli._command_of(["--harness-key", "k.pem", "verify", "r"]) == "verify"
    assert cli._command_of(["--harness-key=k.pem", "run", "demo"]) == "run"
    assert cli._command_of(["-h", "validate"]) is None  # the top-level help: every command
    assert cli._command_of(["--version"]) == cli.VERSION
    assert cli._command_of(["validate", "--version"]) == "validate"


def test_the_version_is_told_without_any_command_module() -> None:
    """``noemie-sim --version`` prints the version and exits 0 having imported no command's
    module (it used to build every command: a second of start-up)."""
    probe = (
        "import sys; from noemie_sim.scenarios.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit as exit:\n    code = exit.code\n"
        "print(code, sorted(m for m in sys.modules if m.startswith('noemie_sim.scenarios.cli.')"
        " and m != 'noemie_sim.scenarios.cli.common'))"
    )
    shown = _fresh(probe).splitlines()
    assert shown[0] == f"noemie-sim {__version__}" and shown[1] == "0 []", shown
