"""Layout tables and the one generic codec that encodes and decodes any of them.

A record layout is data: fields with a 1-based start position, a length, a kind and, for every
field, either the public source that documents it (``doc``) or nothing, which marks it as a
project convention. Gaps between declared fields become explicit filler fields that must hold
spaces, so every character of a record belongs to exactly one field.

Two framings cover every file of the network:

* :class:`FixedFraming`: records of a fixed length placed end to end (norme B2: 128 characters),
  optionally each followed by a line end; the record type is its first characters.
* :class:`DelimitedFraming`: entities ended by a delimiter (NOEMIE: ``@``); the entity number is
  its first three characters. Each entity type has a fixed length in our layouts.

Decoding never raises anything but :class:`FormatError`. Values are typed: ``int`` for numbers
and amounts (amounts in cents), ``str`` for text, ``date``/``datetime`` for dates, ``None`` for a
blank optional field.
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import ClassVar, NoReturn, TypeVar

from .errors import Anomaly, Findings, FormatError, shorten

Value = int | str | date | datetime | None
T = TypeVar("T")

#: No file of the network is larger than this; bigger inputs are refused before any parsing.
MAX_FILE_BYTES = 64 * 1024 * 1024


class Kind(Enum):
    """How a field's characters map to a value. The value of each member is its picture in docs."""

    NUMERIC = "9"  #: int, right-aligned, zero-padded
    AMOUNT = "9v99"  #: int in cents, right-aligned, zero-padded, two implied decimals
    TEXT = "X"  #: str, left-aligned, space-padded, printable ASCII
    DATE_DMY = "JJMMAA"  #: date, two-digit year resolved with the field's pivot
    DATE_YMD = "AAMMJJ"  #: date, two-digit year resolved with the field's pivot
    DATE8 = "AAAAMMJJ"  #: date with a four-digit year
    TIMESTAMP = "AAAAMMJJHHMMSS"  #: datetime to the second
    CONST = "const"  #: fixed text: record type, entity number, hierarchical level
    FILLER = "filler"  #: spaces


_FIXED_WIDTH = {Kind.DATE_DMY: 6, Kind.DATE_YMD: 6, Kind.DATE8: 8, Kind.TIMESTAMP: 14}


@dataclass(frozen=True)
class Field:
    """One field of a record layout.

    ``doc`` names the public source documenting the field; an empty ``doc`` marks a project
    convention (norms.md says where the public documentation stops). ``pivot`` resolves two-digit
    years: ``YY < pivot`` is 20YY, otherwise 19YY.
    """

    name: str
    start: int
    length: int
    kind: Kind
    label: str
    doc: str = ""
    optional: bool = False
    pattern: str = ""
    choices: tuple[str, ...] = ()
    const: str = ""
    pivot: int = 70

    @property
    def end(self) -> int:
        """1-based position of the last character of the field."""
        return self.start + self.length - 1

    @property
    def is_data(self) -> bool:
        """True for fields that carry a value (not constants, not filler)."""
        return self.kind not in (Kind.CONST, Kind.FILLER)


@dataclass(frozen=True)
class RecordLayout:
    """A record (B2 family) or entity (NOEMIE) type: its code, its length and all its fields."""

    code: str
    name: str
    label: str
    length: int
    fields: tuple[Field, ...]
    doc: str = ""
    #: data fields a norms pack added that the network's code does not know: always optional,
    #: written blank, read and checked like the others (sim/norms/pack.py)
    extension: frozenset[str] = frozenset()
    _by_name: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)
    _codecs: list[tuple[Field, int, int, Callable[[str], Value]]] = field(
        default_factory=list, compare=False, repr=False
    )
    _compiled_patterns: dict[str, re.Pattern[str]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # the compiled form of the table, made on first use (a process declares every layout of
    # every format and uses a few): one regular expression for a whole well-formed record,
    # one generated function that converts all its data fields (see :meth:`scan`), and one
    # that encodes them (see :meth:`encode`)
    _shape: list[re.Pattern[str]] = field(default_factory=list, compare=False, repr=False)
    _convert: list[Callable[[str], dict[str, Value]]] = field(
        default_factory=list, compare=False, repr=False
    )
    _encode: list[Callable[[Mapping[str, Value]], str | None]] = field(
        default_factory=list, compare=False, repr=False
    )
    _data: list[tuple[Field, ...]] = field(default_factory=list, compare=False, repr=False)
    #: what other modules derive from the table once (see :meth:`memo`)
    _memo: dict[object, object] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for f in self.fields:
            self._by_name[f.name] = f
            start = f.start - 1
            self._codecs.append((f, start, start + f.length, _decoder(f)))
            if f.pattern:
                self._compiled_patterns[f.name] = re.compile(f.pattern)
        self._data.append(tuple(f for f in self.fields if f.is_data))

    def compiled_decoder(self) -> tuple[re.Pattern[str], Callable[[str], dict[str, Value]]]:
        """The record's shape (one regular expression) and its converter (one generated
        function), compiled on first use."""
        if not self._convert:
            self._shape.append(re.compile("".join(_shape(f) for f in self.fields), re.ASCII))
            self._convert.append(_compile_converter(self.fields, self._compiled_patterns))
        return self._shape[0], self._convert[0]

    def _compiled_encoder(self) -> Callable[[Mapping[str, Value]], str | None]:
        if not self._encode:
            self._encode.append(_compile_encoder(self.fields, self._compiled_patterns))
        return self._encode[0]

    def field(self, name: str) -> Field:
        """The field called ``name``; KeyError names the layout when there is none."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.name} has no field {name!r}") from None

    def memo(self, key: object, make: Callable[[], T]) -> T:
        """``make()`` computed once per layout and ``key``: derived tables (readers, name
        sets) cached on the layout itself, since hashing a layout hashes its whole table."""
        try:
            return self._memo[key]  # type: ignore[return-value]
        except KeyError:
            value = self._memo[key] = make()
            return value

    def has(self, name: str) -> bool:
        return name in self._by_name

    @property
    def data_fields(self) -> tuple[Field, ...]:
        """Fields that carry values, in position order."""
        return self._data[0]

    def record(self, **values: Value) -> Record:
        """A record of this layout; every data field must be given (None for a blank optional),
        except the :attr:`extension` fields, blank unless given."""
        values = {**dict.fromkeys(self.extension), **values}
        missing = [f.name for f in self.data_fields if f.name not in values]
        extra = [k for k in values if k not in self._by_name or not self._by_name[k].is_data]
        if missing or extra:
            raise TypeError(f"{self.name}: missing fields {missing}, unknown fields {extra}")
        return Record(self, values)

    # -- encoding ---------------------------------------------------------------------------

    def encode(self, record: Record, index: int = 0) -> str:
        """The record as text of exactly ``self.length`` characters; FormatError if a value does
        not fit its field (too long, negative, wrong type, not ASCII, not allowed).

        The compiled encoder (:func:`_compile_encoder`) formats values whose types and ranges
        it has checked; the result must then have the record's shape (printable text, no
        ``@``). Anything else takes :meth:`encode_fields`, which names the field at fault."""
        text = self._compiled_encoder()(record.values)
        if text is not None and self.compiled_decoder()[0].fullmatch(text) is not None:
            return text
        return self.encode_fields(record, index)

    def encode_fields(self, record: Record, index: int = 0) -> str:
        """:meth:`encode` field by field: the reference the compiled encoder must agree with
        (tests/test_norms_properties.py)."""
        parts: list[str] = []
        for f in self.fields:
            if f.kind is Kind.CONST:
                parts.append(f.const)
            elif f.kind is Kind.FILLER:
                parts.append(" " * f.length)
            else:
                parts.append(self._encode_value(f, record.values[f.name], index))
        return "".join(parts)

    def _encode_value(self, f: Field, value: Value, index: int) -> str:
        def fail(expected: str) -> FormatError:
            return FormatError(
                Anomaly(
                    "value cannot be encoded",
                    record=index,
                    record_type=self.name,
                    field=f.name,
                    position=f.start,
                    expected=expected,
                    found=shorten(repr(value)),
                )
            )

        if value is None:
            if not f.optional:
                raise fail("a value (field is mandatory)")
            return " " * f.length
        if f.kind in (Kind.NUMERIC, Kind.AMOUNT):
            if not isinstance(value, int) or isinstance(value, bool):
                raise fail("an integer")
            text = str(value)
            if value < 0 or len(text) > f.length:
                raise fail(f"0 to {10**f.length - 1}")
            return text.zfill(f.length)
        if f.kind is Kind.TEXT:
            if not isinstance(value, str):
                raise fail("text")
            if not value or len(value) > f.length or not _printable(value) or value[-1] == " ":
                raise fail(f"1 to {f.length} printable ASCII characters, no @, no trailing space")
            if f.choices and value not in f.choices:
                raise fail(" or ".join(repr(c) for c in f.choices))
            pattern = self._compiled_patterns.get(f.name)
            if pattern is not None and not pattern.fullmatch(value):
                raise fail(f"text matching {f.pattern}")
            return value.ljust(f.length)
        if f.kind is Kind.TIMESTAMP:
            if not isinstance(value, datetime):
                raise fail("a datetime")
            return f"{value.year:04d}{value.month:02d}{value.day:02d}" + value.strftime("%H%M%S")
        if not isinstance(value, date) or isinstance(value, datetime):
            raise fail("a date")
        if f.kind is Kind.DATE8:
            return f"{value.year:04d}{value.month:02d}{value.day:02d}"
        century = 2000 if value.year % 100 < f.pivot else 1900
        if value.year - value.year % 100 != century:
            raise fail(f"a year that two digits represent (pivot {f.pivot})")
        yy = value.year % 100
        if f.kind is Kind.DATE_DMY:
            return f"{value.day:02d}{value.month:02d}{yy:02d}"
        return f"{yy:02d}{value.month:02d}{value.day:02d}"

    # -- decoding ---------------------------------------------------------------------------

    def decode(self, text: str, index: int = 0, offset: int = -1) -> Record:
        """Decode one record; raise FormatError on the first field that is wrong."""
        values, anomalies = self.scan(text, index, offset, stop_at_first=True)
        if anomalies:
            raise FormatError(anomalies[0])
        return Record(self, values)

    def scan(
        self, text: str, index: int = 0, offset: int = -1, *, stop_at_first: bool = False
    ) -> tuple[dict[str, Value], list[Anomaly]]:
        """Decode every field, collecting one anomaly per bad field instead of stopping.

        A record whose characters all have their field's shape (one regular expression for
        the whole record: constants, blank fillers, digits, printable text) is converted field
        by field with no further character checks; anything else, or a value that the shape
        allows but the field does not (a blank mandatory text, a choice, a pattern, a date that
        is not in the calendar), takes the field-by-field path that names every anomaly. Both
        paths give the same values for a valid record."""
        shape, convert = self.compiled_decoder()
        if shape.fullmatch(text) is not None:
            try:
                return convert(text), []
            except (_FieldError, ValueError):
                pass  # the field-by-field path says exactly what is wrong
        return self.scan_fields(text, index, offset, stop_at_first=stop_at_first)

    def scan_fields(
        self, text: str, index: int = 0, offset: int = -1, *, stop_at_first: bool = False
    ) -> tuple[dict[str, Value], list[Anomaly]]:
        """:meth:`scan` field by field, every character checked: the reference the compiled
        path must agree with (tests/test_norms_properties.py)."""
        anomalies: list[Anomaly] = []
        if len(text) != self.length:
            anomalies.append(
                Anomaly(
                    "wrong record length",
                    record=index,
                    record_type=self.name,
                    expected=f"{self.length} characters",
                    found=f"{len(text)} characters",
                    offset=offset,
                )
            )
            return {}, anomalies
        values: dict[str, Value] = {}
        for f, start, end, decoder in self._codecs:
            raw = text[start:end]
            try:
                value = decoder(raw)
                if f.kind is Kind.TEXT and value is not None:
                    pattern = self._compiled_patterns.get(f.name)
                    if pattern is not None and not pattern.fullmatch(str(value)):
                        raise _FieldError(f"text matching {f.pattern}")
            except _FieldError as exc:
                anomalies.append(
                    Anomaly(
                        exc.message,
                        record=index,
                        record_type=self.name,
                        field=f.name,
                        position=f.start,
                        expected=exc.expected,
                        found=shorten(raw),
                        offset=offset + start if offset >= 0 else -1,
                    )
                )
                if stop_at_first:
                    return values, anomalies
                continue
            if f.is_data:
                values[f.name] = value
        return values, anomalies


@dataclass(slots=True)
class Record:
    """A decoded (or to-be-encoded) record: its layout and the typed value of each data field.
    A value: nothing changes a record once made. (Not frozen: a frozen dataclass costs twice
    as much to create, and a file has hundreds of thousands of records.)"""

    layout: RecordLayout
    values: Mapping[str, Value]

    @property
    def code(self) -> str:
        return self.layout.code

    def __getitem__(self, name: str) -> Value:
        return self.values[name]

    def number(self, name: str) -> int:
        """The value of a numeric field, 0 when blank."""
        value = self.values[name]
        return value if isinstance(value, int) else 0

    def string(self, name: str) -> str:
        """The value of a text field, '' when blank."""
        value = self.values[name]
        return "" if value is None else str(value)


class _FieldError(Exception):
    def __init__(self, expected: str, message: str = "invalid value") -> None:
        super().__init__(message)
        self.expected = expected
        self.message = message


#: Printable ASCII without "@": the characters a text field may hold (see :func:`_printable`).
_TEXT_CLASS = r"[\x20-\x3f\x41-\x7e]"


def _shape(f: Field) -> str:
    """The regular expression of the characters a valid value of ``f`` can have."""
    if f.kind is Kind.CONST:
        return re.escape(f.const)
    if f.kind is Kind.FILLER:
        return f" {{{f.length}}}"
    if f.kind is Kind.TEXT:
        blank = f" {{{f.length}}}"
        if f.choices:
            padded = [re.escape(c.ljust(f.length)) for c in f.choices if len(c) <= f.length]
            return "(?:" + "|".join(padded + ([blank] if f.optional else [])) + ")"
        text = f"{_TEXT_CLASS}{{{f.length}}}"
        return text if f.optional else f"(?!{blank}){text}"
    digits = f"[0-9]{{{f.length}}}"
    return f"(?:{digits}| {{{f.length}}})" if f.optional else digits


def _compile_converter(
    fields: Sequence[Field], patterns: Mapping[str, re.Pattern[str]]
) -> Callable[[str], dict[str, Value]]:
    """One function, generated from the table, that converts the data fields of a record whose
    characters already have their shape (:func:`_shape`: digits, printable text, a mandatory
    text not blank, a value among the field's choices) to their values: slices at constant
    positions, ``int`` for numbers, right-stripped text, dates through a cache (a file holds few
    distinct dates). _FieldError or ValueError for what the shape cannot tell (a pattern, a date
    not in the calendar) sends the record to the field-by-field path."""
    env: dict[str, object] = {"_mismatch": _mismatch}
    items = []
    for n, f in enumerate(fields):
        if not f.is_data:
            continue
        raw, x = f"t[{f.start - 1}:{f.end}]", f"x{n}"  # each field sliced once
        if f.kind in (Kind.NUMERIC, Kind.AMOUNT):
            value = (
                f"(None if ({x} := {raw}) == {' ' * f.length!r} else int({x}))"
                if f.optional
                else (f"int({raw})")
            )
        elif f.kind is Kind.TEXT:
            value = f"({raw}.rstrip(' ') or None)" if f.optional else f"{raw}.rstrip(' ')"
            if f.name in patterns:  # inline: a call per field costs more than its check
                env[f"p{n}"] = patterns[f.name].fullmatch
                matched = f"{x} if p{n}({x}) is not None else _mismatch()"
                value = (
                    f"(None if not ({x} := {raw}.rstrip(' ')) else {matched})"
                    if f.optional
                    else f"({x} if p{n}({x} := {raw}.rstrip(' ')) is not None else _mismatch())"
                )
        else:  # the cache builds each date once; date() checks the calendar (ValueError)
            env[f"d{n}"] = _date_cache(f.kind, f.pivot, f.length)
            value = f"d{n}[{raw}]"
        items.append(f"{f.name!r}: {value}")
    source = "def convert(t):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, "<record layout>", "exec"), env)  # generated from the table only
    return env["convert"]  # type: ignore[return-value]


def _compile_encoder(
    fields: Sequence[Field], patterns: Mapping[str, re.Pattern[str]]
) -> Callable[[Mapping[str, Value]], str | None]:
    """One function, generated from the table, that formats a record's values when each has
    its field's exact type (``int`` not ``bool``, ``date`` not ``datetime``) and fits it: a
    number from 0 to 10**length - 1, a text of 1 to length characters without trailing space,
    among its choices and matching its pattern, a two-digit year in its century. It returns
    None for anything else. It does not look at the characters of texts: the caller checks
    the whole record against its shape."""
    env: dict[str, object] = {"date": date, "datetime": datetime}
    body = []  # read the values
    checks = []  # then check them
    formats = []  # then format the optional ones
    parts = []
    for n, f in enumerate(fields):
        if f.kind is Kind.CONST:
            env[f"k{n}"] = f.const  # by name: a constant may hold any character
            parts.append(f"{{k{n}}}")
            continue
        if f.kind is Kind.FILLER:
            parts.append(" " * f.length)
            continue
        x = f"x{n}"
        body.append(f"    {x} = v[{f.name!r}]")
        length = f.length
        if f.kind in (Kind.NUMERIC, Kind.AMOUNT):
            check = f"type({x}) is int and 0 <= {x} < {10**length}"
            formatted = f"{x}:0{length}d"
        elif f.kind is Kind.TEXT:
            check = f"type({x}) is str and 0 < len({x}) <= {length} and {x}[-1] != ' '"
            if f.choices:
                env[f"c{n}"] = frozenset(f.choices)
                check += f" and {x} in c{n}"
            if f.name in patterns:
                env[f"p{n}"] = patterns[f.name].fullmatch
                check += f" and p{n}({x}) is not None"
            formatted = f"{x}:<{length}"
        elif f.kind is Kind.TIMESTAMP:
            check = f"type({x}) is datetime"
            formatted = "}{".join(
                f"{x}.{a}:0{w}d"
                for a, w in (("year", 4), ("month", 2), ("day", 2), ("hour", 2), ("minute", 2),
                             ("second", 2))
            )  # fmt: skip
        elif f.kind is Kind.DATE8:
            check = f"type({x}) is date"
            formatted = f"{x}.year:04d}}{{{x}.month:02d}}{{{x}.day:02d"
        else:
            check = (
                f"type({x}) is date and {x}.year // 100 * 100"
                f" == (2000 if {x}.year % 100 < {f.pivot} else 1900)"
            )
            dmy = ("day", "month", "year % 100")
            order = dmy if f.kind is Kind.DATE_DMY else dmy[::-1]
            formatted = "}{".join(f"{x}.{a}:02d" for a in order)
        if f.optional:
            formats.append(f"    s{n} = {' ' * length!r} if {x} is None else f'{{{formatted}}}'")
            checks.append(f"({x} is None or {check})")
            parts.append(f"{{s{n}}}")
        else:
            checks.append(f"({check})")
            parts.append(f"{{{formatted}}}")
    source = "def encode(v):\n" + "\n".join(body) + "\n"
    source += "    if not (" + " and ".join(checks or ["True"]) + "):\n        return None\n"
    source += "".join(line + "\n" for line in formats)
    source += '    return f"' + "".join(parts) + '"\n'
    exec(compile(source, "<record layout>", "exec"), env)  # generated from the table only
    return env["encode"]  # type: ignore[return-value]


def _mismatch() -> NoReturn:
    """What a compiled converter raises for a text that does not match its field's pattern."""
    raise _FieldError("a value matching the field's pattern")


class _DateCache(dict[str, Value]):
    """The value of a date field's characters, computed once: blank is None (the shape lets
    blanks through only for optional fields), anything else through :func:`_date_value`, whose
    ValueError on a date outside the calendar propagates and is not cached. Bounded: a file
    with more distinct dates than :attr:`LIMIT` clears it and starts again (a century has
    36 525 days: birth dates of a whole population fit)."""

    LIMIT = 40_000

    def __init__(self, kind: Kind, pivot: int, length: int) -> None:
        super().__init__({" " * length: None})
        self.kind = kind
        self.pivot = pivot

    def __missing__(self, raw: str) -> Value:
        value = _date_value(self.kind, self.pivot, raw)
        if len(self) >= self.LIMIT:
            self.clear()
            self[" " * len(raw)] = None
        self[raw] = value
        return value


@functools.cache
def _date_cache(kind: Kind, pivot: int, length: int) -> _DateCache:
    """One cache per kind of date field, shared by every layout (dates are immutable)."""
    return _DateCache(kind, pivot, length)


def _date_value(kind: Kind, pivot: int, raw: str) -> date | datetime:
    """The date (or datetime) written ``raw`` (digits only) in a field of ``kind``; ValueError
    when it is not in the calendar."""
    if kind is Kind.TIMESTAMP:
        return datetime(
            int(raw[0:4]), int(raw[4:6]), int(raw[6:8]),
            int(raw[8:10]), int(raw[10:12]), int(raw[12:14]),
        )  # fmt: skip
    if kind is Kind.DATE8:
        return date(int(raw[0:4]), int(raw[4:6]), int(raw[6:8]))
    if kind is Kind.DATE_DMY:
        day, month, yy = int(raw[0:2]), int(raw[2:4]), int(raw[4:6])
    else:
        yy, month, day = int(raw[0:2]), int(raw[2:4]), int(raw[4:6])
    return date((2000 if yy < pivot else 1900) + yy, month, day)


def _printable(text: str) -> bool:
    """Printable ASCII without "@", the NOEMIE entity delimiter: one rule for every format, so
    no value can ever break a file's framing."""
    return all(" " <= ch <= "~" and ch != "@" for ch in text)


def _decoder(f: Field) -> Callable[[str], Value]:
    """A function from the field's characters to its value, raising _FieldError."""
    blank = " " * f.length

    if f.kind is Kind.CONST:

        def const(raw: str) -> Value:
            if raw != f.const:
                raise _FieldError(repr(f.const), "wrong constant")
            return raw

        return const
    if f.kind is Kind.FILLER:

        def filler(raw: str) -> Value:
            if raw != blank:
                raise _FieldError("spaces", "filler must be blank")
            return None

        return filler

    def optional(inner: Callable[[str], Value]) -> Callable[[str], Value]:
        if not f.optional:
            return inner

        def wrapped(raw: str) -> Value:
            return None if raw == blank else inner(raw)

        return wrapped

    if f.kind in (Kind.NUMERIC, Kind.AMOUNT):
        what = "an amount in cents" if f.kind is Kind.AMOUNT else "digits"

        def numeric(raw: str) -> Value:
            if not (raw.isascii() and raw.isdigit()):
                raise _FieldError(f"{f.length} {what}", "not numeric")
            return int(raw)

        return optional(numeric)
    if f.kind is Kind.TEXT:
        choices = set(f.choices)

        def text(raw: str) -> Value:
            if not _printable(raw):
                raise _FieldError("printable ASCII without @", "invalid character")
            value = raw.rstrip(" ")
            if not value:
                if f.optional:
                    return None
                raise _FieldError("a value (field is mandatory)", "blank mandatory field")
            if choices and value not in choices:
                raise _FieldError(" or ".join(repr(c) for c in f.choices), "value not allowed")
            return value

        return text

    picture = f.kind.value

    def when(raw: str) -> Value:
        if not (raw.isascii() and raw.isdigit()):
            raise _FieldError(picture, "not a date")
        try:
            return _date_value(f.kind, f.pivot, raw)
        except ValueError:
            raise _FieldError(f"a calendar date {picture}", "not a calendar date") from None

    return optional(when)


# -- building layouts -----------------------------------------------------------------------


def layout(
    code: str,
    name: str,
    label: str,
    length: int,
    fields: Sequence[Field],
    *,
    doc: str = "",
    extension: frozenset[str] = frozenset(),
) -> RecordLayout:
    """Build a layout from its declared fields, filling every gap with a blank filler field.

    Raises ValueError (a programming error in a table, caught by the tests; a mistake in a
    norms pack, reported by its check) when fields overlap, leave the record, or are declared
    twice, or when a date or constant does not fill its field.
    """
    declared = sorted(fields, key=lambda f: f.start)
    complete: list[Field] = []
    position = 1
    names: set[str] = set()
    for f in declared:
        width = _FIXED_WIDTH.get(f.kind)
        if width is not None and f.length != width:
            raise ValueError(f"{name}.{f.name}: a {f.kind.value} field is {width} long")
        if f.kind is Kind.CONST and len(f.const) != f.length:
            raise ValueError(f"{name}.{f.name}: constant does not fill the field")
        if f.start < position:
            raise ValueError(f"{name}.{f.name} overlaps the previous field at {f.start}")
        if f.name in names:
            raise ValueError(f"{name}: field {f.name} declared twice")
        names.add(f.name)
        if f.start > position:
            complete.append(_filler(position, f.start - position))
        complete.append(f)
        position = f.end + 1
    if position > length + 1:
        raise ValueError(f"{name}: fields run past the record length {length}")
    if position <= length:
        complete.append(_filler(position, length - position + 1))
    return RecordLayout(code, name, label, length, tuple(complete), doc, extension)


def record_128(
    code: str,
    name: str,
    label: str,
    *fields: Field,
    lot: str | None,
    seq: str = "N° d'ordre de l'enregistrement",
    doc: str = "",
) -> RecordLayout:
    """A 128-character record of the B2 family (B2, décomptes, ARL, OC answers), whose head
    is a project convention: its type (2 characters), then, in formats with lots, the lot
    number (3, labelled ``lot``), then its sequence number in the file (6)."""
    head = [const("record_code", 1, code, "Type d'enregistrement")]
    if lot is not None:
        head.append(num("lot", 3, 3, lot))
    head.append(num("seq", 6 if lot is not None else 3, 6, seq))
    return layout(code, name, label, 128, [*head, *fields], doc=doc)


def _filler(start: int, length: int) -> Field:
    return Field(f"filler_{start}", start, length, Kind.FILLER, "Zone réservée (blancs)")


# Short constructors keep the layout tables readable: one line per field.


def num(name: str, start: int, length: int, label: str, doc: str = "", **kw: object) -> Field:
    return Field(name, start, length, Kind.NUMERIC, label, doc, **kw)  # type: ignore[arg-type]


def amount(name: str, start: int, length: int, label: str, doc: str = "", **kw: object) -> Field:
    return Field(name, start, length, Kind.AMOUNT, label, doc, **kw)  # type: ignore[arg-type]


def text(name: str, start: int, length: int, label: str, doc: str = "", **kw: object) -> Field:
    return Field(name, start, length, Kind.TEXT, label, doc, **kw)  # type: ignore[arg-type]


def when(name: str, start: int, kind: Kind, label: str, doc: str = "", **kw: object) -> Field:
    return Field(name, start, _FIXED_WIDTH[kind], kind, label, doc, **kw)  # type: ignore[arg-type]


def const(name: str, start: int, value: str, label: str, doc: str = "") -> Field:
    return Field(name, start, len(value), Kind.CONST, label, doc, const=value)


# -- framings -------------------------------------------------------------------------------


@dataclass(slots=True)
class RawRecord:
    """One framed record before field decoding: its 1-based index, byte offset and text.
    (Not frozen: a frozen dataclass costs twice as much to create, once per record.)"""

    index: int
    offset: int
    text: str


class Framing(ABC):
    """How a file's bytes split into records and records join into a file."""

    code_length: int

    def split(self, data: bytes) -> list[RawRecord]:
        """Records with their index and offset; FormatError on truncation or non-ASCII bytes."""
        return list(self.records(data))

    @abstractmethod
    def records(self, data: bytes) -> Iterator[RawRecord]:
        """:meth:`split` one record at a time: the FormatError comes when the reader reaches
        the bad record (or the end of an empty file)."""

    @abstractmethod
    def join(self, texts: Iterable[str]) -> bytes:
        """The file made of these encoded records."""


@dataclass(frozen=True)
class FixedFraming(Framing):
    """Records of ``record_length`` characters end to end; a line end after every record
    (LF or CRLF, the same throughout) is accepted on input and never written."""

    record_length: int = 128
    code_length: int = 2
    #: records decoded to text at a time on the common path
    BLOCK_RECORDS: ClassVar[int] = 2048

    def records(self, data: bytes) -> Iterator[RawRecord]:
        check_size(data)
        n = self.record_length
        stride = n
        if len(data) > n and data[n : n + 2] == b"\r\n":
            stride = n + 2
        elif len(data) > n and data[n : n + 1] == b"\n":
            stride = n + 1
        separator = data[n:stride]
        data = bytes(data)  # a copy only when given a bytearray or memoryview
        if data and data.isascii() and self._well_framed(data, stride, separator):
            # the common case, every record whole and every line end the same: a block of
            # records decoded at a time (not the whole file: its text would double its cost)
            block_size = stride * self.BLOCK_RECORDS
            index = 0
            for start in range(0, len(data), block_size):
                block = data[start : start + block_size].decode("ascii")
                for offset in range(0, len(block), stride):
                    index += 1
                    yield RawRecord(index, start + offset, block[offset : offset + n])
            return
        index = 0
        for index, offset in enumerate(range(0, len(data), stride), start=1):
            chunk = data[offset : offset + stride]
            body, end = chunk[:n], chunk[n:]
            if len(body) < n:
                raise FormatError(
                    Anomaly(
                        "truncated record",
                        record=index,
                        expected=f"{n} characters",
                        found=f"{len(body)} characters",
                        offset=offset,
                    )
                )
            is_last = offset + stride >= len(data)
            if end != separator and not (is_last and end == b""):
                raise FormatError(
                    Anomaly(
                        "inconsistent line end after record",
                        record=index,
                        position=n + 1,
                        expected=repr(separator),
                        found=repr(end),
                        offset=offset + n,
                    )
                )
            yield RawRecord(index, offset, _ascii(body, index, offset))
        if index == 0:
            raise FormatError(Anomaly("empty file", expected="at least one record", found=""))

    def _well_framed(self, data: bytes, stride: int, separator: bytes) -> bool:
        """True when every record is whole and followed by ``separator`` (the last one may
        lack it): what the slow path of :meth:`records` would find, checked in bulk."""
        n = self.record_length
        size = len(data)
        if size % stride not in (0, n) or (size % stride == n and stride == n):
            return size % stride == 0
        count = (size + stride - 1) // stride
        return all(
            data[n + k :: stride] == separator[k : k + 1] * (count - (size % stride == n))
            for k in range(len(separator))
        )

    def join(self, texts: Iterable[str]) -> bytes:
        return "".join(texts).encode("ascii")


@dataclass(frozen=True)
class DelimitedFraming(Framing):
    """Entities each ended by ``delimiter``; a line end right after a delimiter is tolerated on
    input and never written. Nothing may follow the last delimiter."""

    delimiter: str = "@"
    code_length: int = 3

    def records(self, data: bytes) -> Iterator[RawRecord]:
        check_size(data)
        delim = self.delimiter.encode("ascii")
        position = 0
        index = 0
        while position < len(data):
            end = data.find(delim, position)
            index += 1
            if end < 0:
                raise FormatError(
                    Anomaly(
                        "entity not terminated",
                        record=index,
                        expected=repr(self.delimiter),
                        found=shorten(repr(data[position:])),
                        offset=position,
                    )
                )
            yield RawRecord(index, position, _ascii(data[position:end], index, position))
            position = end + 1
            if data[position : position + 2] == b"\r\n":
                position += 2
            elif data[position : position + 1] == b"\n":
                position += 1
        if index == 0:
            raise FormatError(Anomaly("empty file", expected="at least one entity", found=""))

    def join(self, texts: Iterable[str]) -> bytes:
        return "".join(t + self.delimiter for t in texts).encode("ascii")


#: The framing of every B2-family file: 128-character records, a 2-character type.
FIXED_128 = FixedFraming(record_length=128, code_length=2)


def check_size(data: bytes, limit: int = MAX_FILE_BYTES) -> None:
    """Refuse inputs larger than ``limit`` before any parsing work."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("file contents must be bytes")
    if len(data) > limit:
        raise FormatError(
            Anomaly("file too large", expected=f"at most {limit} bytes", found=f"{len(data)} bytes")
        )


def _ascii(chunk: bytes, index: int, offset: int) -> str:
    try:
        return chunk.decode("ascii")
    except UnicodeDecodeError as exc:
        raise FormatError(
            Anomaly(
                "non-ASCII byte",
                record=index,
                position=exc.start + 1,
                expected="ASCII",
                found=repr(chunk[exc.start : exc.start + 1]),
                offset=offset + exc.start,
            )
        ) from None


# -- whole files ----------------------------------------------------------------------------


class RecordStream:
    """The records of a file decoded one at a time, for readers that check records as they
    come and keep only what they need: the memory a big file costs is its bytes, not its
    decoded records.

    Iterating yields each record while every record so far decodes; it stops at the first
    that does not (a field anomaly, an unknown record type, a framing error). :meth:`finish`
    then reads the rest of the file for its anomalies. :attr:`findings` ends holding every
    field anomaly of the file, or the framing error alone, since nothing after a framing
    error can be located reliably."""

    def __init__(
        self,
        data: bytes,
        framing: Framing,
        layouts: Mapping[str, RecordLayout],
        findings: Findings | None = None,
    ) -> None:
        self.framing = framing
        self.layouts = layouts
        self.findings = Findings() if findings is None else findings
        self._raws = framing.records(data)
        self._broken = not self.findings.readable

    @property
    def readable(self) -> bool:
        """False once a record failed to decode or the framing failed."""
        return not self._broken

    def __iter__(self) -> Iterator[Record]:
        code_length = self.framing.code_length
        # the compiled path of RecordLayout.scan, looked up once per record type
        compiled = {}
        for code, lay in self.layouts.items():
            shape, convert = lay.compiled_decoder()
            compiled[code] = (lay, shape.fullmatch, convert)
        try:
            for raw in self._raws:
                text = raw.text
                found = compiled.get(text[:code_length])
                if found is not None and found[1](text) is not None:
                    try:
                        yield Record(found[0], found[2](text))
                        continue
                    except (_FieldError, ValueError):
                        pass
                self._broken, self.findings.readable = True, False
                self._scan(raw, self.layouts.get(text[:code_length]))
                return
        except FormatError as exc:
            self._framing_failed(exc)

    def finish(self, *, fields: bool = True) -> Findings:
        """Read the records not yet read: their field anomalies (none when ``fields`` is
        False, for a reader that stops at the first problem) and any framing error."""
        try:
            for raw in self._raws:
                if fields:
                    self._scan(raw, self.layouts.get(raw.text[: self.framing.code_length]))
        except FormatError as exc:
            self._framing_failed(exc)
        return self.findings

    def _scan(self, raw: RawRecord, lay: RecordLayout | None) -> None:
        if lay is None:
            self.findings.add(_unknown_type(raw, self.layouts, self.framing.code_length))
            return
        _, found = lay.scan(raw.text, raw.index, raw.offset)
        self.findings.extend(found)

    def codes(self) -> Iterator[str]:
        """The type of each record not yet read, framed but not decoded: for a reader who
        already knows from :attr:`findings` whether the records decode. A framing error ends
        it and is recorded as :meth:`finish` would."""
        code_length = self.framing.code_length
        try:
            for raw in self._raws:
                yield raw.text[:code_length]
        except FormatError as exc:
            self._framing_failed(exc)

    def _framing_failed(self, exc: FormatError) -> None:
        self._broken, self.findings.readable = True, False
        self.findings.clear()
        self.findings.add(exc.anomaly)


def decode_records(
    data: bytes, framing: Framing, layouts: Mapping[str, RecordLayout]
) -> list[Record]:
    """Frame and decode a whole file, raising FormatError at the first problem (a framing
    error anywhere first, since it makes the file unreadable)."""
    stream = RecordStream(data, framing, layouts)
    records = list(stream)
    if stream.readable:
        return records
    first = stream.findings.kept[0]
    framing_failed = stream.finish(fields=False).kept[0] is not first
    if framing_failed:
        raise FormatError(stream.findings.kept[0])
    # the first anomaly of the first bad record: what a stop-at-first decode finds
    raise FormatError(first)


def encode_records(records: Iterable[Record], framing: Framing) -> bytes:
    """Encode records with their layouts and join them with the framing."""
    return framing.join(r.layout.encode(r, i) for i, r in enumerate(records, start=1))


def _unknown_type(raw: RawRecord, layouts: Mapping[str, RecordLayout], code_length: int) -> Anomaly:
    return Anomaly(
        "unknown record type",
        record=raw.index,
        position=1,
        expected=" or ".join(repr(c) for c in layouts),
        found=shorten(raw.text[:code_length]),
        offset=raw.offset,
    )
