"""Helpers shared by the format modules: typed objects <-> records, anomaly construction.

Typed objects are frozen dataclasses whose attribute names equal the layout's field names, so
one generic function maps each way; a format module only adds what is computed (totals,
counts, sequence numbers) or split across records.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any, TypeVar

from .codec import Record, RecordLayout, Value
from .errors import Anomaly, FormatError, shorten

T = TypeVar("T")


def to_record(lay: RecordLayout, obj: object | None = None, **given: Value) -> Record:
    """A record of ``lay`` taking each data field from ``given`` or else from ``obj``'s attribute
    of the same name."""
    values: dict[str, Value] = {}
    for f in lay.data_fields:
        values[f.name] = given[f.name] if f.name in given else getattr(obj, f.name)
    return Record(lay, values)


@functools.cache
def _attributes(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


def from_record(cls: type[T], record: Record, **extra: Any) -> T:
    """An instance of dataclass ``cls`` from the record fields that share its attribute names."""
    names = _attributes(cls)  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {k: v for k, v in record.values.items() if k in names}
    kwargs.update(extra)
    return cls(**kwargs)


def anomaly_at(
    index: int,
    record: Record,
    field: str,
    message: str,
    expected: object,
    found: object,
) -> Anomaly:
    """An anomaly on one field of the record at 1-based ``index``."""
    lay = record.layout
    return Anomaly(
        message,
        record=index,
        record_type=lay.name,
        field=field,
        position=lay.field(field).start if field else 0,
        expected=str(expected),
        found=shorten(str(found)),
    )


class Cursor:
    """Walks a decoded record list for structure parsing; errors name the record and what was
    expected there."""

    def __init__(self, records: Sequence[Record], names: dict[str, str]) -> None:
        self.records = records
        self.pos = 0
        self._names = names  # record code -> readable name, for messages

    @property
    def index(self) -> int:
        """1-based index of the next record."""
        return self.pos + 1

    def peek(self) -> str | None:
        return self.records[self.pos].code if self.pos < len(self.records) else None

    def take(self, *codes: str) -> tuple[int, Record]:
        """Consume the next record, which must have one of ``codes``; return its 1-based index."""
        if self.peek() not in codes:
            raise self.unexpected(codes)
        self.pos += 1
        return self.pos, self.records[self.pos - 1]

    def unexpected(self, codes: Sequence[str]) -> FormatError:
        """The error for a next record that is none of ``codes`` (nothing is consumed)."""
        code = self.peek()
        found = "end of file" if code is None else self._names.get(code, code)
        return FormatError(
            Anomaly(
                "unexpected record",
                record=self.index,
                record_type="" if code is None else found,
                expected=" or ".join(self._names.get(c, c) for c in codes),
                found=found,
            )
        )

    def end(self) -> None:
        if self.pos < len(self.records):
            code = self.records[self.pos].code
            raise FormatError(
                Anomaly(
                    "data after the end of file record",
                    record=self.index,
                    record_type=self._names.get(code, code),
                    expected="end of file",
                    found=self._names.get(code, code),
                )
            )


class Checker:
    """Collects the semantic anomalies of a decoded file (totals, counts, keys)."""

    def __init__(self, records: Sequence[Record]) -> None:
        self.records = records
        self.found: list[Anomaly] = []

    def equal(self, i: int, field: str, expected: object, actual: object, message: str) -> None:
        """Record an anomaly on field ``field`` of record ``i`` (0-based) unless equal."""
        if expected != actual:
            self.found.append(anomaly_at(i + 1, self.records[i], field, message, expected, actual))

    def fail(self, i: int, field: str, message: str, expected: object, actual: object) -> None:
        self.found.append(anomaly_at(i + 1, self.records[i], field, message, expected, actual))
