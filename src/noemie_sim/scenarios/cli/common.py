"""What every subcommand of ``noemie-sim`` shares: the usage error, file and time arguments."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from noemie_sim.scenarios.i18n import LANGUAGES, Language, choose, language
from noemie_sim.sim.clock import parse_moment, wall_now

#: the language of the command's help (--help), chosen by main before the parser is built
_help_language: Language = language(LANGUAGES[0])


def speak_help(lang: Language) -> None:
    """Write the help texts of the parsers built from now on in ``lang``."""
    global _help_language
    _help_language = lang


def H_(text: str, **values: object) -> str:
    """A help text of the command line (marked for the catalogue: the literal text is
    extracted) in the language of --help, its ``{placeholders}`` filled with ``values``."""
    return _help_language._(text, **values)


class UsageError(Exception):
    """A problem with what the user asked (exit 2), with a message for them."""


#: The most bytes a command reads from a file unless told otherwise (--max-bytes): the
#: largest file the formats parse (sim/norms/codec.py), and well over any sealed one.
MAX_READ_BYTES = 64 * 1024 * 1024


def read_file(path: str, limit: int = MAX_READ_BYTES) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them: a FIFO, a device,
    a folder or a larger file is refused (UsageError naming the path) before anything is
    read, so that /dev/zero or a pipe cannot fill the memory or block the command."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    seen = os.fstat(fd)  # of what was opened, not of what the name points to later
    if not stat.S_ISREG(seen.st_mode):
        os.close(fd)
        raise UsageError(f"{path} is not a regular file ({_kind(seen.st_mode)}): give a file")
    with os.fdopen(fd, "rb") as source:
        if seen.st_size > limit:
            raise UsageError(f"{path} is {seen.st_size} bytes, more than {limit} "
                             "(--max-bytes N reads larger files)")  # fmt: skip
        data = source.read(limit + 1)
    if len(data) > limit:  # it grew meanwhile
        raise UsageError(f"{path} is more than {limit} bytes (--max-bytes N reads larger files)")
    return data


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):  # fmt: skip
        if test(mode):
            return name
    return "not a regular file"


def add_max_bytes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-bytes", type=int, default=MAX_READ_BYTES, metavar="N",
        help=f"read files of at most N bytes (default {MAX_READ_BYTES})",
    )  # fmt: skip


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
    from noemie_sim.scenarios.vendors.fresh import pki_time  # a run's journal: read if given

    at, why = pki_time(Path(pki_folder))
    print(f"at {at.isoformat()} ({why}; --at TIME to choose)", file=sys.stderr)
    return at


#: The default of ``--at`` for the commands given a PKI folder (:func:`moment_for_pki`).
RUN_TIME = "for a run's pki/, the run's simulated time; else now"


def add_at(parser: argparse.ArgumentParser, what: str, default: str = "now") -> None:
    parser.add_argument(
        "--at",
        metavar="TIME",
        help=H_(
            "{what} (ISO 8601, UTC unless a zone is given; default: {default})",
            what=what,
            default=default,
        ),
    )


def add_alert_webhook(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--alert-webhook", metavar="URL",
        help=H_("post each firing and resolution of the scenario's alerts ([[alerts]]) to URL, "
                "as Alertmanager's webhook JSON (retried with backoff; the run ends once each "
                "was delivered or given up)"),
    )  # fmt: skip


def alert_webhook(args: argparse.Namespace) -> str | None:
    """The ``--alert-webhook`` address, checked; UsageError when it is not http(s)."""
    return http_url(getattr(args, "alert_webhook", None), "--alert-webhook")


def http_url(url: str | None, option: str) -> str | None:
    """``url`` (None stays None) when it is an http:// or https:// address with a host;
    UsageError naming ``option`` otherwise."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{option}: expected an http:// or https:// address, found {url!r}")
    return url


def add_lang(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lang", choices=LANGUAGES,
        help=H_("the language of the story, the live page, the reports and this help "
                "(default: the locale's, French for a French one: LC_ALL, LC_MESSAGES, LANG)"),
    )  # fmt: skip


def lang_of(args: argparse.Namespace | None) -> Language:
    """The language ``--lang`` asks for, else the locale's."""
    return language(choose(getattr(args, "lang", None)))
