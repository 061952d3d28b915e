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

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum

from .errors import Anomaly, FormatError, shorten

Value = int | str | date | datetime | None

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
    _by_name: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)
    _codecs: list[tuple[Field, int, int, Callable[[str], Value]]] = field(
        default_factory=list, compare=False, repr=False
    )
    _compiled_patterns: dict[str, re.Pattern[str]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # the compiled form of the table: one regular expression for a whole well-formed record,
    # and one generated function that converts all its data fields (see :meth:`scan`)
    _shape: list[re.Pattern[str]] = field(default_factory=list, compare=False, repr=False)
    _convert: list[Callable[[str], dict[str, Value]]] = field(
        default_factory=list, compare=False, repr=False
    )
    _data: list[tuple[Field, ...]] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        for f in self.fields:
            self._by_name[f.name] = f
            start = f.start - 1
            self._codecs.append((f, start, start + f.length, _decoder(f)))
            if f.pattern:
                self._compiled_patterns[f.name] = re.compile(f.pattern)
        self._data.append(tuple(f for f in self.fields if f.is_data))
        self._shape.append(re.compile("".join(_shape(f) for f in self.fields), re.ASCII))
        self._convert.append(_compile_converter(self.fields, self._compiled_patterns))

    def field(self, name: str) -> Field:
        """The field called ``name``; KeyError names the layout when there is none."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.name} has no field {name!r}") from None

    def has(self, name: str) -> bool:
        return name in self._by_name

    @property
    def data_fields(self) -> tuple[Field, ...]:
        """Fields that carry values, in position order."""
        return self._data[0]

    def record(self, **values: Value) -> Record:
        """A record of this layout; every data field must be given (None for a blank optional)."""
        missing = [f.name for f in self.data_fields if f.name not in values]
        extra = [k for k in values if k not in self._by_name or not self._by_name[k].is_data]
        if missing or extra:
            raise TypeError(f"{self.name}: missing fields {missing}, unknown fields {extra}")
        return Record(self, values)

    # -- encoding ---------------------------------------------------------------------------

    def encode(self, record: Record, index: int = 0) -> str:
        """The record as text of exactly ``self.length`` characters; FormatError if a value does
        not fit its field (too long, negative, wrong type, not ASCII, not allowed)."""
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
        if self._shape[0].fullmatch(text) is not None:
            try:
                return self._convert[0](text), []
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


@dataclass(frozen=True, slots=True)
class Record:
    """A decoded (or to-be-encoded) record: its layout and the typed value of each data field."""

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
        return f"{_TEXT_CLASS}{{{f.length}}}"
    digits = f"[0-9]{{{f.length}}}"
    return f"(?:{digits}| {{{f.length}}})" if f.optional else digits


def _compile_converter(
    fields: Sequence[Field], patterns: Mapping[str, re.Pattern[str]]
) -> Callable[[str], dict[str, Value]]:
    """One function, generated from the table, that converts the data fields of a record whose
    characters already have their shape (:func:`_shape`) to their values: slices at constant
    positions, ``int`` for numbers, right-stripped text; _FieldError for what the shape
    cannot tell (a blank mandatory text, a value outside its choices or pattern, a date not in
    the calendar), which sends the record to the field-by-field path."""
    env: dict[str, object] = {
        "_blank": _blank_mandatory,
        "_allowed": _allowed,
        "date": date,
        "datetime": datetime,
    }
    items = []
    for n, f in enumerate(fields):
        if not f.is_data:
            continue
        raw = f"t[{f.start - 1}:{f.end}]"
        if f.kind in (Kind.NUMERIC, Kind.AMOUNT):
            value = (
                f"(None if {raw} == {' ' * f.length!r} else int({raw}))"
                if f.optional
                else (f"int({raw})")
            )
        elif f.kind is Kind.TEXT:
            value = f"({raw}.rstrip(' ') or {'None' if f.optional else '_blank()'})"
            if f.choices or f.name in patterns:
                env[f"c{n}"] = (frozenset(f.choices), patterns.get(f.name))
                value = f"_allowed({value}, c{n})"
        else:  # dates: date() checks the calendar (ValueError sends to the slow path)
            value = _date_expression(f)
            if f.optional:
                value = f"(None if {raw} == {' ' * f.length!r} else {value})"
        items.append(f"{f.name!r}: {value}")
    source = "def convert(t):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, "<record layout>", "exec"), env)  # generated from the table only
    return env["convert"]  # type: ignore[return-value]


def _date_expression(f: Field) -> str:
    """Python code building the date (or datetime) of field ``f`` from record text ``t``."""

    def part(at: int, width: int) -> str:
        return f"int(t[{f.start - 1 + at}:{f.start - 1 + at + width}])"

    if f.kind is Kind.TIMESTAMP:
        spans = ((0, 4), (4, 2), (6, 2), (8, 2), (10, 2), (12, 2))
        return "datetime(" + ", ".join(part(at, width) for at, width in spans) + ")"
    if f.kind is Kind.DATE8:
        return f"date({part(0, 4)}, {part(4, 2)}, {part(6, 2)})"
    day, month, yy = (
        (part(0, 2), part(2, 2), part(4, 2))
        if f.kind is Kind.DATE_DMY
        else (part(4, 2), part(2, 2), part(0, 2))
    )
    return f"date((2000 if {yy} < {f.pivot} else 1900) + {yy}, {month}, {day})"


def _blank_mandatory() -> Value:
    raise _FieldError("a value")


def _allowed(value: Value, rule: tuple[frozenset[str], re.Pattern[str] | None]) -> Value:
    choices, pattern = rule
    if value is not None and (
        (choices and value not in choices)
        or (pattern is not None and not pattern.fullmatch(str(value)))
    ):
        raise _FieldError("an allowed value")
    return value


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
            if f.kind is Kind.TIMESTAMP:
                return datetime(
                    int(raw[0:4]),
                    int(raw[4:6]),
                    int(raw[6:8]),
                    int(raw[8:10]),
                    int(raw[10:12]),
                    int(raw[12:14]),
                )
            if f.kind is Kind.DATE8:
                return date(int(raw[0:4]), int(raw[4:6]), int(raw[6:8]))
            if f.kind is Kind.DATE_DMY:
                day, month, yy = int(raw[0:2]), int(raw[2:4]), int(raw[4:6])
            else:
                yy, month, day = int(raw[0:2]), int(raw[2:4]), int(raw[4:6])
            return date((2000 if yy < f.pivot else 1900) + yy, month, day)
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
) -> RecordLayout:
    """Build a layout from its declared fields, filling every gap with a blank filler field.

    Raises ValueError (a programming error in a table, caught by the tests) when fields overlap,
    leave the record, or are declared twice.
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
    return RecordLayout(code, name, label, length, tuple(complete), doc)


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


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One framed record before field decoding: its 1-based index, byte offset and text."""

    index: int
    offset: int
    text: str


class Framing(ABC):
    """How a file's bytes split into records and records join into a file."""

    code_length: int

    @abstractmethod
    def split(self, data: bytes) -> list[RawRecord]:
        """Records with their index and offset; FormatError on truncation or non-ASCII bytes."""

    @abstractmethod
    def join(self, texts: Iterable[str]) -> bytes:
        """The file made of these encoded records."""


@dataclass(frozen=True)
class FixedFraming(Framing):
    """Records of ``record_length`` characters end to end; a line end after every record
    (LF or CRLF, the same throughout) is accepted on input and never written."""

    record_length: int = 128
    code_length: int = 2

    def split(self, data: bytes) -> list[RawRecord]:
        check_size(data)
        n = self.record_length
        stride = n
        if len(data) > n and data[n : n + 2] == b"\r\n":
            stride = n + 2
        elif len(data) > n and data[n : n + 1] == b"\n":
            stride = n + 1
        separator = data[n:stride]
        records: list[RawRecord] = []
        try:  # one decode for the whole file; a non-ASCII byte is then located per record
            whole: str | None = bytes(data).decode("ascii")
        except UnicodeDecodeError:
            whole = None
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
            text = whole[offset : offset + n] if whole is not None else _ascii(body, index, offset)
            records.append(RawRecord(index, offset, text))
        if not records:
            raise FormatError(Anomaly("empty file", expected="at least one record", found=""))
        return records

    def join(self, texts: Iterable[str]) -> bytes:
        return "".join(texts).encode("ascii")


@dataclass(frozen=True)
class DelimitedFraming(Framing):
    """Entities each ended by ``delimiter``; a line end right after a delimiter is tolerated on
    input and never written. Nothing may follow the last delimiter."""

    delimiter: str = "@"
    code_length: int = 3

    def split(self, data: bytes) -> list[RawRecord]:
        check_size(data)
        delim = self.delimiter.encode("ascii")
        records: list[RawRecord] = []
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
            records.append(RawRecord(index, position, _ascii(data[position:end], index, position)))
            position = end + 1
            if data[position : position + 2] == b"\r\n":
                position += 2
            elif data[position : position + 1] == b"\n":
                position += 1
        if not records:
            raise FormatError(Anomaly("empty file", expected="at least one entity", found=""))
        return records

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


@dataclass
class Scan:
    """The result of decoding every record of a file while collecting anomalies."""

    records: list[Record]
    anomalies: list[Anomaly]


def decode_records(
    data: bytes, framing: Framing, layouts: Mapping[str, RecordLayout]
) -> list[Record]:
    """Frame and decode a whole file, raising FormatError at the first problem."""
    records: list[Record] = []
    for raw in framing.split(data):
        records.append(_layout_for(raw, framing, layouts).decode(raw.text, raw.index, raw.offset))
    return records


def scan_records(data: bytes, framing: Framing, layouts: Mapping[str, RecordLayout]) -> Scan:
    """Frame and decode a whole file, collecting every field anomaly. Framing errors (truncation,
    bad bytes) stop the scan since nothing after them can be located reliably."""
    try:
        raws = framing.split(data)
    except FormatError as exc:
        return Scan([], [exc.anomaly])
    records: list[Record] = []
    anomalies: list[Anomaly] = []
    for raw in raws:
        try:
            lay = _layout_for(raw, framing, layouts)
        except FormatError as exc:
            anomalies.append(exc.anomaly)
            continue
        values, found = lay.scan(raw.text, raw.index, raw.offset)
        if found:
            anomalies.extend(found)
        else:
            records.append(Record(lay, values))
    return Scan(records, anomalies)


def encode_records(records: Iterable[Record], framing: Framing) -> bytes:
    """Encode records with their layouts and join them with the framing."""
    return framing.join(r.layout.encode(r, i) for i, r in enumerate(records, start=1))


def _layout_for(
    raw: RawRecord, framing: Framing, layouts: Mapping[str, RecordLayout]
) -> RecordLayout:
    code = raw.text[: framing.code_length]
    lay = layouts.get(code)
    if lay is None:
        raise FormatError(
            Anomaly(
                "unknown record type",
                record=raw.index,
                position=1,
                expected=" or ".join(repr(c) for c in layouts),
                found=shorten(code),
                offset=raw.offset,
            )
        )
    return lay
