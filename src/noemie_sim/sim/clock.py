"""Time. The only module of noemie-sim that reads the wall clock.

Everything else receives the time it needs (the simulated clock of a run, or a ``--at`` given by
the user); command-line tools take their default "now" from :func:`wall_now`.
"""

from __future__ import annotations

from datetime import UTC, datetime


def wall_now() -> datetime:
    """The real current time, UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def parse_moment(text: str) -> datetime:
    """A user-given time: ISO 8601 date or date and time; without a zone it is UTC.
    ValueError with a readable message otherwise."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date or time like 2026-03-02T08:00") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
