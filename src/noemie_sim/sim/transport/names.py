"""The one rule for file names in a mailbox, applied by servers, clients and the in-memory
transport alike.

A name is one path component: 1 to 200 characters among letters, digits, ``.``, ``_`` and
``-``, not starting with a dot. A name ending in ``.part`` is an upload in progress: never
listed, never delivered. Anything else (``..``, ``/``, backslashes, NUL, control characters,
overlong names) is refused before any path is built from it: a name from a remote listing goes
through the same check before a local path is made (the scp CVE class, reliability-security
§2).
"""

from __future__ import annotations

import re

PART = ".part"
MAX_NAME = 200
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")
DEPOT = "depot"  # files the partner sends
RETOUR = "retour"  # files the partner receives
FOLDERS = (DEPOT, RETOUR)


class InvalidName(ValueError):
    """A file name that the mailbox rule refuses."""


def check_name(name: str) -> str:
    """``name`` if it is a valid mailbox file name (final or ``.part``), else InvalidName."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name in (".", ".."):
        raise InvalidName(
            f"invalid file name {name!r}: letters, digits, . _ - only, at most "
            f"{MAX_NAME} characters, not starting with a dot"
        )
    return name


def is_final(name: str) -> bool:
    """True for a valid name that is not an upload in progress."""
    try:
        check_name(name)
    except InvalidName:
        return False
    return not name.endswith(PART)


def part_name(name: str) -> str:
    """The temporary name an upload of ``name`` is written under."""
    check_name(name)
    if name.endswith(PART) or len(name) + len(PART) > MAX_NAME:
        raise InvalidName(f"cannot upload {name!r}: final names must leave room for .part")
    return name + PART
