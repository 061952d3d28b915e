"""The JSON form of every kind of file: the same records and values as the fixed-width form,
as one JSON document, and the JSON Schema (2020-12) each kind's documents follow.

A document is ``{"format": "noemie-sim json 1", "kind": KIND, "records": [{"record": CODE,
"fields": {NAME: VALUE...}}...]}``: one entry per record (B2, ARL, OC answer) or entity
(NOEMIE) in file order, ``CODE`` the record's type code as the layouts name it (``"2 "``,
``"110"``), each data field by its name with its typed value: integers (amounts in cents),
text without its padding, dates as ``YYYY-MM-DD``, times as ``YYYY-MM-DDTHH:MM:SS``, and
``null`` for a blank optional field. Constants and fillers are the layout's, so they are not
in the document. Both forms are derived from the same layout tables (the active norms pack),
so they convert both ways without loss: :func:`to_json` and :func:`from_json`, each raising
the one :class:`~.errors.FormatError` with the record and field at fault.

This layout of the JSON is a noemie-sim convention (no public document defines a JSON form
of these flows); docs/norms.md says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from .codec import Kind, Record, RecordLayout, decode_records
from .errors import Anomaly, FormatError
from .kinds import KINDS, FileKind, detect

FORMAT = "noemie-sim json 1"
_DATE_KINDS = (Kind.DATE_DMY, Kind.DATE_YMD, Kind.DATE8)
_PRINTABLE = "^[ -?A-~]*$"  # printable ASCII but "@" (the NOEMIE delimiter)


def to_json(data: bytes, kind: FileKind | None = None) -> dict[str, Any]:
    """The JSON document of a fixed-width file (its kind detected unless given)."""
    kind = kind or detect(data)
    records = decode_records(data, kind.framing, kind.layouts)
    return {
        "format": FORMAT,
        "kind": kind.name,
        "records": [{"record": r.code, "fields": _json_values(r)} for r in records],
    }


def _json_values(record: Record) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for f in record.layout.data_fields:
        value = record.values.get(f.name)
        if isinstance(value, datetime):
            value = value.replace(tzinfo=None).isoformat(timespec="seconds")
        elif isinstance(value, date):
            value = value.isoformat()
        shown[f.name] = value
    return shown


def from_json(document: object) -> bytes:
    """The fixed-width file of a JSON document; FormatError naming the record and field when
    the document does not follow its kind's schema or a value does not fit its field."""
    kind = _kind_of(document)
    assert isinstance(document, dict)
    problem = _first_schema_problem(document, kind)
    if problem is not None:
        raise FormatError(problem)
    texts = []
    for index, entry in enumerate(document["records"], start=1):
        layout = kind.layouts[entry["record"]]
        values = {f.name: _value(f.kind, entry["fields"].get(f.name)) for f in layout.data_fields}
        texts.append(layout.encode(layout.record(**values), index))
    return kind.framing.join(texts)


def _value(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind in _DATE_KINDS:
        return date.fromisoformat(value)
    if kind is Kind.TIMESTAMP:
        return datetime.fromisoformat(value)
    return value


def _kind_of(document: object) -> FileKind:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        expected = f'"format": "{FORMAT}"'
        raise FormatError(Anomaly("not a noemie-sim JSON document", expected=expected,
                                  found=str(found)[:80]))  # fmt: skip
    name = document.get("kind")
    if not isinstance(name, str) or name not in KINDS:
        raise FormatError(Anomaly("unknown kind of file", field="kind",
                                  expected=" | ".join(KINDS), found=str(name)[:80]))  # fmt: skip
    return KINDS[str(name)]


def _first_schema_problem(document: dict[str, Any], kind: FileKind) -> Anomaly | None:
    """The first place (in document order) where ``document`` breaks its kind's schema, as
    an anomaly naming the record (1-based), its code and the field."""
    from jsonschema import Draft202012Validator, FormatChecker  # only for JSON input

    def first(found: Any) -> Any:
        return min(found, key=lambda e: [str(p) for p in e.absolute_path], default=None)

    error = first(kind_validator(kind, Draft202012Validator, FormatChecker()).iter_errors(document))
    if error is None:
        return None
    path = list(error.absolute_path)
    index = path[1] + 1 if len(path) > 1 and path[0] == "records" else 0
    entry = document["records"][index - 1] if index else None
    code = entry.get("record") if isinstance(entry, dict) else None
    layout = kind.layouts.get(code) if isinstance(code, str) else None
    if index and error.validator == "oneOf":
        if layout is None:
            return Anomaly("unknown record", record=index, field="record",
                           expected=" | ".join(repr(c) for c in kind.layouts),
                           found=str(code)[:80])  # fmt: skip
        # the entry matches no record's schema: what is wrong with it against its own code's
        inner = Draft202012Validator(record_schema(layout), format_checker=FormatChecker())
        deeper = first(inner.iter_errors(entry))
        if deeper is not None:
            error, path = deeper, ["records", index - 1, *deeper.absolute_path]
    field = str(path[3]) if len(path) > 3 and path[2] == "fields" else ""
    if not field and error.validator in ("required", "additionalProperties"):
        named = error.message.split("'")
        field = named[1] if len(named) > 2 else ""
    position = layout.field(field).start if layout is not None and layout.has(field) else 0
    found = "" if error.validator == "required" else repr(error.instance)[:80]
    return Anomaly(error.message[:200], record=index, record_type=str(code or ""), field=field,
                   position=position, expected=_expected(error.schema, error.validator),
                   found=found)  # fmt: skip


def _expected(schema: object, validator: str) -> str:
    if isinstance(schema, dict):
        if validator in schema:
            return f"{validator} {schema[validator]!r}"[:120]
        return str(schema.get("type", ""))
    return ""


def kind_validator(kind: FileKind, validator: Any, checker: Any) -> Any:
    """The compiled validator of ``kind``'s schema (made once per layouts)."""
    first = next(iter(kind.layouts.values()))
    return first.memo(
        ("json-validator", kind.name), lambda: validator(schema(kind), format_checker=checker)
    )


def schema(kind: FileKind) -> dict[str, Any]:
    """The JSON Schema (2020-12) of ``kind``'s documents, from its layout tables."""
    defs = {_def_name(code): record_schema(layout) for code, layout in kind.layouts.items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:noemie-sim:json:{kind.name}",
        "title": f"{kind.title} (noemie-sim JSON form)",
        "description": f"A {kind.name} file as JSON: its records in file order, each data field "
        "by name with its typed value (amounts in cents; blank optional fields null). The same "
        "content as the fixed-width form, from the same layout tables.",
        "type": "object",
        "required": ["format", "kind", "records"],
        "additionalProperties": False,
        "properties": {
            "format": {"const": FORMAT},
            "kind": {"const": kind.name},
            "records": {
                "type": "array",
                "minItems": 1,
                "items": {"oneOf": [{"$ref": f"#/$defs/{name}"} for name in defs]},
            },
        },
        "$defs": defs,
    }


def _def_name(code: str) -> str:
    return "record-" + (code.strip() or "_")


def record_schema(layout: RecordLayout) -> dict[str, Any]:
    """The schema of one record of ``layout``."""
    properties = {f.name: _field_schema(f) for f in layout.data_fields}
    return {
        "title": f"{layout.name}: {layout.label}",
        "type": "object",
        "required": ["record", "fields"],
        "additionalProperties": False,
        "properties": {
            "record": {"const": layout.code},
            "fields": {
                "type": "object",
                "additionalProperties": False,
                "required": [f.name for f in layout.data_fields if not f.optional],
                "properties": properties,
            },
        },
    }


def _field_schema(f: Any) -> dict[str, Any]:
    described: dict[str, Any] = {"description": f"{f.label} (positions {f.start}-{f.end})"}
    if f.kind in (Kind.NUMERIC, Kind.AMOUNT):
        described |= {"type": "integer", "minimum": 0, "maximum": 10**f.length - 1}
    elif f.kind in _DATE_KINDS:
        described |= {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    elif f.kind is Kind.TIMESTAMP:  # no zone: "format": "date-time" (RFC 3339) would want one
        described |= {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"}
    else:
        described |= {"type": "string", "maxLength": f.length, "pattern": _PRINTABLE}
        if not f.optional:
            described["minLength"] = 1
        if f.choices:
            described["enum"] = [c.rstrip() for c in f.choices]
        elif f.pattern:
            described["pattern"] = f"^(?:{f.pattern})$"
    if f.optional:
        described["type"] = [described["type"], "null"]
        if "enum" in described:
            described["enum"] = [*described["enum"], None]
    return described


def schemas() -> Mapping[str, dict[str, Any]]:
    """The schema of every kind, by kind name."""
    return {name: schema(kind) for name, kind in KINDS.items()}
