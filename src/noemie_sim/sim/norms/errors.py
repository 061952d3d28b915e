"""The one error every parser raises, and the anomaly it carries.

Contract (design.md §3.2): any input given to a parser of this package either parses or raises
:class:`FormatError`; nothing else escapes. Validation collects :class:`Anomaly` values instead of
stopping at the first one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Anomaly:
    """One thing wrong with a file, located precisely enough for a person to fix it.

    ``record`` is the 1-based index of the record (B2, ARL, OC answer) or entity (NOEMIE) in the
    file, 0 when the anomaly concerns the file as a whole. ``position`` is the 1-based character
    position inside that record, 0 when it concerns the whole record. ``offset`` is the 0-based
    byte offset in the file when known, else -1.
    """

    message: str
    record: int = 0
    record_type: str = ""
    field: str = ""
    position: int = 0
    expected: str = ""
    found: str = ""
    offset: int = -1

    def describe(self) -> str:
        """One line, in the order a person reads it: where, what, expected, found."""
        where = "file" if self.record == 0 else f"record {self.record}"
        if self.record_type:
            where += f" ({self.record_type})"
        if self.field:
            where += f", field {self.field}"
        if self.position:
            where += f" at position {self.position}"
        text = f"{where}: {self.message}"
        if self.expected or self.found:
            text += f" (expected {self.expected or '-'}, found {self.found!r})"
        return text


class FormatError(ValueError):
    """The only exception a parser raises for bad input; ``anomaly`` says where and why."""

    def __init__(self, anomaly: Anomaly) -> None:
        super().__init__(anomaly.describe())
        self.anomaly = anomaly


class Findings:
    """The anomalies found in one file: the first ``limit`` kept (all when ``limit`` is None),
    every one counted, so that a file with a million anomalies costs a bounded memory and
    still says how many it has."""

    def __init__(self, limit: int | None = None) -> None:
        if limit is not None and limit < 0:
            raise ValueError("limit must be positive")
        self.limit = limit
        self.kept: list[Anomaly] = []
        self.total = 0
        #: False when a record could not be decoded (the anomalies are then the fields')
        self.readable = True

    def add(self, anomaly: Anomaly) -> None:
        self.total += 1
        if self.limit is None or len(self.kept) < self.limit:
            self.kept.append(anomaly)

    def extend(self, anomalies: list[Anomaly]) -> None:
        for anomaly in anomalies:
            self.add(anomaly)

    def clear(self) -> None:
        self.kept.clear()
        self.total = 0


def shorten(text: str, limit: int = 40) -> str:
    """What we quote of a found value in a message: enough to recognise it, never megabytes."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
