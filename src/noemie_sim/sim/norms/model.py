"""Helpers shared by the format modules: typed objects <-> records, anomaly construction.

Typed objects are frozen dataclasses whose attribute names equal the layout's field names, so
one generic function maps each way; a format module only adds what is computed (totals,
counts, sequence numbers) or split across records.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from datetime import date
from typing import Any, TypeVar

from .codec import Framing, Record, RecordLayout, RecordStream, Value
from .errors import Anomaly, Findings, FormatError, shorten
from .keys import nir_key, nir_problems, number_problems

T = TypeVar("T")


def to_record(lay: RecordLayout, obj: object | None = None, **given: Value) -> Record:
    """A record of ``lay`` taking each data field from ``given`` or else from ``obj``'s attribute
    of the same name; the fields a norms pack added (``lay.extension``) are blank unless
    given."""
    key = tuple(given)
    names, read = lay.memo(key, lambda: _reader(lay, key))
    values = dict(zip(names, read(obj), strict=True))
    if lay.extension:
        values.update(dict.fromkeys(lay.extension))
    values.update(given)
    return Record(lay, values)


def rebind(
    namespace: MutableMapping[str, Any],
    layouts: Mapping[str, RecordLayout],
    framing: Framing | None = None,
    named: Callable[[RecordLayout], str] | None = None,
) -> None:
    """Point every module-level layout of ``namespace`` (a format module's globals) at the
    layout of the same code in ``layouts``, refill its ``LAYOUTS`` table in place, and when
    given, set its ``FRAMING`` and refill its ``NAMES`` (code -> ``named(layout)``): how a
    format module comes to speak a norms pack's tables (sim/norms/pack.py). Functions read
    their layouts from the module's globals at each call, so they follow."""
    for name, value in list(namespace.items()):
        if isinstance(value, RecordLayout):
            namespace[name] = layouts[value.code]
    table = namespace.get("LAYOUTS")
    if isinstance(table, dict):
        table.clear()
        table.update(layouts)
    if framing is not None:
        namespace["FRAMING"] = framing
    if named is not None:
        names = namespace["NAMES"]
        names.clear()
        names.update({code: named(lay) for code, lay in layouts.items()})


def _reader(
    lay: RecordLayout, given: tuple[str, ...]
) -> tuple[tuple[str, ...], Callable[[object], tuple[Any, ...]]]:
    """The data fields of ``lay`` not in ``given``, and a function reading them from an
    object's attributes (one C call, whatever the number of fields)."""
    names = tuple(
        f.name for f in lay.data_fields if f.name not in given and f.name not in lay.extension
    )
    if not names:
        return names, lambda obj: ()
    getter = operator.attrgetter(*names)
    if len(names) == 1:
        return names, lambda obj: (getter(obj),)
    return names, getter


@functools.cache
def _attributes(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


def _not_attributes(lay: RecordLayout, cls: type) -> list[str]:
    """The data fields of ``lay`` that ``cls`` has no attribute for."""
    names = _attributes(cls)
    return [f.name for f in lay.data_fields if f.name not in names]


def from_record(cls: type[T], record: Record, **extra: Any) -> T:
    """An instance of dataclass ``cls`` from the record fields that share its attribute names."""
    lay = record.layout
    kwargs: dict[str, Any] = dict(record.values)
    for name in lay.memo(cls, lambda: _not_attributes(lay, cls)):
        kwargs.pop(name, None)
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


class Window:
    """The records of a file addressed by their 0-based index, read on demand from an iterator
    so that a reader holds only the part it is working on: :meth:`release_before` drops the
    records it is done with. Reading a released record is a programming error (IndexError)."""

    def __init__(self, records: Iterable[Record]) -> None:
        self._more = iter(records)
        self._items: list[Record] = []
        self._base = 0  # file index of self._items[0]
        self._pinned: dict[int, Record] = {}  # kept when released (a file's header)

    def get(self, index: int) -> Record | None:
        """The record at ``index``, None past the end of the file (reading up to it)."""
        at = index - self._base
        if 0 <= at < len(self._items):
            return self._items[at]
        if at < 0:
            if index in self._pinned:
                return self._pinned[index]
            raise IndexError(f"record {index} was released")
        while at >= len(self._items):
            record = next(self._more, None)
            if record is None:
                return None
            self._items.append(record)
        return self._items[at]

    def through(self, index: int, code: str, limit: int) -> list[Record]:
        """The records from ``index`` up to the first of type ``code``, that one included:
        fewer when the file ends first, at most ``limit``. (One loop over the stream: what a
        reader following a file record by record would read, without a call per record.)"""
        at = index - self._base
        if at < 0:
            raise IndexError(f"record {index} was released")
        if at > len(self._items) and self.get(index - 1) is None:
            return []  # the file ends before ``index``
        items, more = self._items, self._more
        found = items[at : at + limit]
        for n, record in enumerate(found):
            if record.layout.code == code:
                return found[: n + 1]
        if len(found) < limit:
            for following in more:  # resumable: the loop leaves the rest of the stream
                items.append(following)
                found.append(following)
                if following.layout.code == code or len(found) == limit:
                    break
        return found

    def span(self, first: int, last: int) -> list[Record]:
        """The records from ``first`` to ``last`` included, all read and not released."""
        if first < self._base or last - self._base >= len(self._items):
            raise IndexError(f"records {first}-{last} are not all in the window")
        return self._items[first - self._base : last - self._base + 1]

    def available(self, index: int) -> bool:
        """True when the file has a record at ``index`` (reading up to it)."""
        return self.get(index) is not None

    def __getitem__(self, index: int) -> Record:
        at = index - self._base
        if 0 <= at < len(self._items):
            return self._items[at]
        record = self.get(index)
        if record is None:
            raise IndexError(f"no record {index} in the file")
        return record

    def pin(self, index: int) -> Record:
        """Keep the record at ``index`` readable after the records around it are released
        (a header whose checks are made at the end of the file); returns it."""
        record = self._pinned[index] = self[index]
        return record

    def release_before(self, index: int) -> None:
        """Forget the records before ``index``."""
        if index > self._base:
            del self._items[: index - self._base]
            self._base = index


class Cursor:
    """Walks a file's records for structure parsing; errors name the record and what was
    expected there. The records come from a list or, for a reader in bounded memory, a
    :class:`Window`."""

    def __init__(self, records: Sequence[Record] | Window, names: dict[str, str]) -> None:
        self.records = records if isinstance(records, Window) else Window(records)
        self.pos = 0
        self._names = names  # record code -> readable name, for messages

    @property
    def index(self) -> int:
        """1-based index of the next record."""
        return self.pos + 1

    def peek(self) -> str | None:
        record = self.records.get(self.pos)
        return None if record is None else record.layout.code

    def take(self, *codes: str) -> tuple[int, Record]:
        """Consume the next record, which must have one of ``codes``; return its 1-based index."""
        record = self.records.get(self.pos)
        if record is None or record.layout.code not in codes:
            raise self.unexpected(codes)
        self.pos += 1
        return self.pos, record

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
        if self.records.available(self.pos):
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

    def __init__(self, records: Sequence[Record] | Window, found: Findings | None = None) -> None:
        self.records = records
        self.findings = Findings() if found is None else found

    def span(self, first: int, last: int) -> Sequence[Record]:
        """The records from ``first`` to ``last`` included (0-based), for a check that reads
        each of them: indexing a list, not the window record by record."""
        if isinstance(self.records, Window):
            return self.records.span(first, last)
        return self.records[first : last + 1]

    @property
    def found(self) -> list[Anomaly]:
        """The anomalies kept (all of them unless the findings have a limit)."""
        return self.findings.kept

    def equal(self, i: int, field: str, expected: object, actual: object, message: str) -> None:
        """Record an anomaly on field ``field`` of record ``i`` (0-based) unless equal."""
        if expected != actual:
            self.findings.add(anomaly_at(i + 1, self.records[i], field, message, expected, actual))

    def fail(self, i: int, field: str, message: str, expected: object, actual: object) -> None:
        self.findings.add(anomaly_at(i + 1, self.records[i], field, message, expected, actual))

    def nir(self, i: int, nir_field: str, key_field: str, birth: date | None = None) -> None:
        """Check the NIR of record ``i`` by the identifier law (keys.py): its key, and what
        makes it impossible whatever its key (against ``birth``, the holder's birth date in
        the same file, when there is one)."""
        values = self.records[i].values
        body = values[nir_field]
        assert isinstance(body, str)  # the layout's pattern gave it its shape
        key = nir_key(body)
        if key != values[key_field]:
            self.fail(i, key_field, "NIR key is wrong", key, values[key_field])
        for problem in nir_problems(body, birth):
            self.fail(i, nir_field, problem.message, problem.expected, problem.found)

    def number(self, i: int, field: str, kind: str) -> None:
        """Check the number in ``field`` of record ``i`` by the identifier law: a ``kind``
        (n° AM, SIRET...) with its Luhn keys."""
        value = self.records[i].values[field]
        for problem in number_problems(kind, str(value)):
            self.fail(i, field, problem.message, problem.expected, problem.found)


class OnePass:
    """A file checked in one pass and bounded memory: its records decoded one at a time
    (:class:`RecordStream`) into a :class:`Window` that the check releases as it goes, their
    order followed by a :class:`Cursor`, the anomalies of the checks collected by a
    :class:`Checker` (the first ``limit`` kept, all counted). :meth:`run` says what is said
    of the file: every field anomaly when there are any; else the first misplaced record
    alone; else the anomalies of the checks."""

    def __init__(
        self,
        data: bytes,
        framing: Framing,
        layouts: Mapping[str, RecordLayout],
        names: dict[str, str],
        limit: int | None,
    ) -> None:
        self.stream = RecordStream(data, framing, layouts, Findings(limit))
        self.window = Window(self.stream)
        self.cursor = Cursor(self.window, names)
        self.checker = Checker(self.window, Findings(limit))

    def take(self, *codes: str) -> int:
        """The 0-based index of the next record, which must be one of ``codes``; its sequence
        number (field ``seq``) is checked."""
        i = self.cursor.take(*codes)[0] - 1
        self.checker.equal(i, "seq", i + 1, self.window[i]["seq"], "sequence number out of order")
        return i

    def run(self, walk: Callable[[], object]) -> Findings:
        """Follow the file with ``walk`` (FormatError at a misplaced record), read what it
        left unread, and return what is said of the file."""
        try:
            walk()
        except FormatError as exc:  # the first misplaced record is all that is said
            self.checker.findings.clear()
            self.checker.findings.add(exc.anomaly)
        self.stream.finish()
        return self.stream.findings if self.stream.findings.total else self.checker.findings
