"""Norms packs: the layout tables as plain data, checked, compiled and installed.

A vendor holding the real cahier des charges speaks its dialect, not noemie-sim's conventions:
a *pack* lets it replace the tables without touching the codec. A pack is, per format, a
mapping (one TOML file each in a pack folder, read by :mod:`noemie_sim.sim.packs`):

* ``format`` (its name, a key of :data:`FORMATS`) and ``title``;
* ``framing``: ``type = "fixed"`` with ``record_length`` and ``code_length`` (B2 family), or
  ``type = "delimited"`` with ``delimiter`` and ``code_length`` (NOEMIE);
* ``records``: each with ``code``, ``name``, ``label``, ``length``, an optional ``source``
  and its ``fields``: ``name``, ``start`` (1-based), ``length``, ``picture`` (a
  :class:`~.codec.Kind` value: ``9``, ``9v99``, ``X``, ``JJMMAA``, ``AAMMJJ``, ``AAAAMMJJ``,
  ``AAAAMMJJHHMMSS`` or ``const`` with its ``value``), ``label``, ``source`` (absent: a
  convention), ``optional``, ``choices``, ``pattern``, ``pivot`` (two-digit years). Gaps
  between fields are blank filler;
* for NOEMIE, ``structure``: the ``groups`` (entity -> level it opens), the ``contents`` of
  the file and of each group (slots: ``codes``, ``min``, ``max``, absent ``max`` meaning no
  limit) and the ``totals`` (line entity -> the two fields its 990s sum).

What stays code (docs/norms-packs.md): the order of B2, ARL and OC-answer records, the
control totals of B2 and the keys checked (NIR, n° AM, SIRET), money, identifiers and routing.
A pack cannot break them silently: :func:`compile_pack` refuses a pack that lacks a record or
a field the network needs, changes what kind of value a field holds or whether it may be
blank, or adds a field the network would have to fill; each problem names its file, record
and field.

The built-in tables (the Python declarations of the format modules) are exported to this
data form and compiled back at import: every layout the network uses comes out of
:func:`compile_pack`, whichever pack it is. :func:`install` points the format modules at a
pack's tables, for the whole process (one pack per process; workers are given theirs, a
:class:`Pack` pickles as its data).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import arl, b2, kinds, noemie_550, noemie_oc, noemie_ps, oc_answer
from .codec import (
    DelimitedFraming,
    Field,
    FixedFraming,
    Kind,
    RecordLayout,
    layout,
)
from .noemie import Reference, Slot

#: The formats of a pack, each one file ``<name>.toml``: what it describes.
FORMATS = {
    "b2": "Norme B2: lots de FSE (PS -> caisse) et décomptes (caisse -> OC)",
    "arl": "Accusé de réception logique (caisse -> PS)",
    "oc-answer": "Réponse d'un organisme complémentaire à un fichier de décomptes",
    "noemie-580": "NOEMIE 580: retour au PS (paiements, rejets, signalements)",
    "noemie-550": "NOEMIE 550: IJ en subrogation à l'employeur",
    "noemie-oc": "NOEMIE OC: décomptes (caisse -> OC), forme NOEMIE",
}
_FIXED = ("b2", "arl", "oc-answer")
_NOEMIE = {"noemie-580": noemie_ps, "noemie-550": noemie_550, "noemie-oc": noemie_oc}
_PICTURES = {k.value: k for k in Kind if k is not Kind.FILLER}
#: what a value of each picture is to the network's code: a field it knows keeps its family
_FAMILY = {
    Kind.NUMERIC: "a number (9 or 9v99)",
    Kind.AMOUNT: "a number (9 or 9v99)",
    Kind.TEXT: "text (X)",
    Kind.DATE_DMY: "a date (JJMMAA, AAMMJJ or AAAAMMJJ)",
    Kind.DATE_YMD: "a date (JJMMAA, AAMMJJ or AAAAMMJJ)",
    Kind.DATE8: "a date (JJMMAA, AAMMJJ or AAAAMMJJ)",
    Kind.TIMESTAMP: "a date and time (AAAAMMJJHHMMSS)",
    Kind.CONST: "a constant (const)",
}
_WIDTH = {Kind.DATE_DMY: 6, Kind.DATE_YMD: 6, Kind.DATE8: 8, Kind.TIMESTAMP: 14}


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a pack, and where: its file, record and field when it has them."""

    file: str
    message: str
    record: str = ""
    field: str = ""

    def __str__(self) -> str:
        where = [self.file]
        if self.record:
            where.append(f"record {self.record!r}")
        if self.field:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.message}"


class PackError(ValueError):
    """A pack that cannot be used; ``problems`` says every reason found, each with its place."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


#: one format's compiled tables: a framing and layouts (B2 family) or a NOEMIE référence
FixedTables = tuple[FixedFraming, dict[str, RecordLayout]]
Tables = FixedTables | Reference


@dataclass(frozen=True, eq=False)
class Pack:
    """A checked, compiled pack: its ``name``, its complete ``data`` (every format, as
    :func:`format_data` writes it), the ``digest`` of that data and the compiled tables.
    Two packs with the same tables have the same digest, whatever their files' layout."""

    name: str
    data: dict[str, dict[str, Any]]
    digest: str
    tables: dict[str, Tables] = field(repr=False)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unpickled, (self.name, self.data))

    @property
    def builtin(self) -> bool:
        """True when the tables are the built-in ones (whatever the pack is called)."""
        return self.digest == BUILTIN.digest


_COMPILED: dict[str, Pack] = {}


def _unpickled(name: str, data: dict[str, dict[str, Any]]) -> Pack:
    """A pack sent to a worker: compiled once per process."""
    key = hashlib.sha256(_canonical(data)).hexdigest() + name
    if key not in _COMPILED:
        _COMPILED[key] = compile_pack(data, name)
    return _COMPILED[key]


# -- tables -> data ---------------------------------------------------------------------------


def _field_data(f: Field) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": f.name, "start": f.start, "length": f.length, "picture": f.kind.value,
    }  # fmt: skip
    if f.kind is Kind.CONST:
        out["value"] = f.const
    out["label"] = f.label
    if f.doc:
        out["source"] = f.doc
    if f.optional:
        out["optional"] = True
    if f.choices:
        out["choices"] = list(f.choices)
    if f.pattern:
        out["pattern"] = f.pattern
    if f.kind in (Kind.DATE_DMY, Kind.DATE_YMD):
        out["pivot"] = f.pivot
    return out


def _record_data(lay: RecordLayout) -> dict[str, Any]:
    out: dict[str, Any] = {"code": lay.code, "name": lay.name, "label": lay.label,
                           "length": lay.length}  # fmt: skip
    if lay.doc:
        out["source"] = lay.doc
    out["fields"] = [_field_data(f) for f in lay.fields if f.kind is not Kind.FILLER]
    return out


def format_data(name: str, tables: Tables) -> dict[str, Any]:
    """Format ``name``'s tables as pack data (what a pack file holds)."""
    if isinstance(tables, Reference):
        framing: Any = tables.framing
        layouts = tables.layouts
    else:
        framing, layouts = tables
    title = tables.title if isinstance(tables, Reference) else FORMATS[name]
    out: dict[str, Any] = {"format": name, "title": title}
    if isinstance(framing, FixedFraming):
        out["framing"] = {"type": "fixed", "record_length": framing.record_length,
                          "code_length": framing.code_length}  # fmt: skip
    else:
        out["framing"] = {"type": "delimited", "delimiter": framing.delimiter,
                          "code_length": framing.code_length}  # fmt: skip
    out["records"] = [_record_data(lay) for lay in layouts.values()]
    if isinstance(tables, Reference):
        out["structure"] = {
            "groups": dict(tables.groups),
            "contents": {
                code: [_slot_data(s) for s in slots] for code, slots in tables.contents.items()
            },
            "totals": {code: list(pair) for code, pair in tables.totals.items()},
        }
    return out


def _slot_data(slot: Slot) -> dict[str, Any]:
    out: dict[str, Any] = {"codes": list(slot.codes), "min": slot.low}
    if slot.high is not None:
        out["max"] = slot.high
    return out


def _declared() -> dict[str, Tables]:
    """The tables the format modules declare in Python (the built-in pack's source)."""
    return {
        "b2": (b2.FRAMING, dict(b2.LAYOUTS)),
        "arl": (arl.FRAMING, dict(arl.LAYOUTS)),
        "oc-answer": (oc_answer.FRAMING, dict(oc_answer.LAYOUTS)),
        "noemie-580": noemie_ps.REF,
        "noemie-550": noemie_550.REF,
        "noemie-oc": noemie_oc.REF,
    }


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# -- data -> tables ---------------------------------------------------------------------------


def schema_problems(name: str, data: Any) -> list[Problem]:
    """What :data:`SCHEMA` says of one format file's data, each problem placed."""
    import jsonschema  # here: 0.14 s to import, needed only to check a user's pack

    validator = jsonschema.Draft202012Validator(SCHEMA)
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path))):
        path = list(error.path)
        record = fld = ""
        if len(path) >= 2 and path[0] == "records" and isinstance(path[1], int):
            records = data["records"]
            rec = records[path[1]] if isinstance(records, list) else None
            record = str(rec.get("code", f"#{path[1] + 1}")) if isinstance(rec, dict) else ""
            record = record or f"#{path[1] + 1}"
            if len(path) >= 4 and path[2] == "fields" and isinstance(path[3], int):
                f = rec["fields"][path[3]] if isinstance(rec, dict) else None
                fld = str(f.get("name", "")) if isinstance(f, dict) else ""
                fld = fld or f"#{path[3] + 1}"
                path = path[4:]
            else:
                path = path[2:]
        at = ".".join(str(p) for p in path)
        problems.append(Problem(f"{name}.toml", f"{at + ': ' if at else ''}{error.message}",
                                record, fld))  # fmt: skip
    return problems


def compile_pack(data: Mapping[str, Any], name: str, *, check_schema: bool = True) -> Pack:
    """The pack of ``data`` (format name -> its file's data; a format left out keeps the
    built-in tables), checked against :data:`SCHEMA` and against what the network needs;
    PackError listing every problem found."""
    problems: list[Problem] = []
    for fmt in data:
        if fmt not in FORMATS:
            problems.append(
                Problem(f"{fmt}.toml", f"no such format (formats: {', '.join(FORMATS)})")
            )
    complete = {fmt: data.get(fmt, BUILTIN.data[fmt] if _BUILTIN else None) for fmt in FORMATS}
    tables: dict[str, Tables] = {}
    for fmt, fdata in complete.items():
        if fdata is None:  # the built-in pack, compiled from the declarations
            fdata = format_data(fmt, _declared()[fmt])
            complete[fmt] = fdata
        found = schema_problems(fmt, fdata) if check_schema and fmt in data else []
        if not found:
            built = _Compiler(fmt, fdata, found).tables()
            if not found and built is not None:
                tables[fmt] = built
        problems.extend(found)
    if problems:
        raise PackError(problems)
    canonical = {fmt: format_data(fmt, t) for fmt, t in tables.items()}
    digest = hashlib.sha256(_canonical(canonical)).hexdigest()
    return Pack(name, canonical, digest, tables)


class _Compiler:
    """One format's data to tables, every problem added to ``problems``."""

    def __init__(self, fmt: str, data: Mapping[str, Any], problems: list[Problem]) -> None:
        self.fmt = fmt
        self.file = f"{fmt}.toml"
        self.data = data
        self.problems = problems
        # what the network's code needs: the built-in tables (None while compiling them)
        self.needed: dict[str, RecordLayout] | None = (
            _layouts_of(BUILTIN.tables[fmt]) if _BUILTIN else None
        )

    def fail(self, message: str, record: str = "", fld: str = "") -> None:
        self.problems.append(Problem(self.file, message, record, fld))

    def tables(self) -> Tables | None:
        if self.data.get("format", self.fmt) != self.fmt:
            self.fail(f"format: {self.data['format']!r} in the file for {self.fmt!r}")
        framing_data = self.data["framing"]
        framing: FixedFraming | DelimitedFraming
        if self.fmt in _FIXED:
            if framing_data["type"] != "fixed":
                self.fail("framing: type must be 'fixed' (records of one length end to end)")
                return None
            framing = FixedFraming(framing_data["record_length"], framing_data["code_length"])
        else:
            if framing_data["type"] != "delimited":
                self.fail("framing: type must be 'delimited' (entities ended by a delimiter)")
                return None
            framing = DelimitedFraming(framing_data["delimiter"], framing_data["code_length"])
        layouts: dict[str, RecordLayout] = {}
        for rec in self.data["records"]:
            lay = self._record(rec, framing)
            if lay is not None:
                if lay.code in layouts:
                    self.fail("record declared twice", lay.code)
                layouts[lay.code] = lay
        if self.needed is not None:
            for code, lay in self.needed.items():
                if code not in layouts and not any(r["code"] == code for r in self.data["records"]):
                    self.fail(f"record {lay.name} ({lay.label}) is missing: the network "
                              "builds and reads it", code)  # fmt: skip
            for code in layouts:
                if code not in self.needed:
                    self.fail("unknown record: the order of records is the network's code, "
                              "which has no place for it", code)  # fmt: skip
        if isinstance(framing, FixedFraming):
            return framing, layouts
        return self._reference(framing, layouts)

    def _record(
        self, rec: Mapping[str, Any], framing: FixedFraming | DelimitedFraming
    ) -> RecordLayout | None:
        code, length = rec["code"], rec["length"]
        count = len(self.problems)
        if len(code) != framing.code_length:
            self.fail(f"code: {len(code)} characters, the framing's code_length is "
                      f"{framing.code_length}", code)  # fmt: skip
        if isinstance(framing, FixedFraming) and length != framing.record_length:
            self.fail(f"length: {length}, every record of a fixed framing is "
                      f"{framing.record_length} characters", code)  # fmt: skip
        needed = self.needed.get(code) if self.needed is not None else None
        fields: list[Field] = []
        extension: set[str] = set()
        end = 0
        names: set[str] = set()
        for fd in sorted(rec["fields"], key=lambda f: f["start"]):
            f = self._field(code, fd)
            if f is None:
                continue
            if f.name in names:
                self.fail("declared twice", code, f.name)
            names.add(f.name)
            if f.start <= end:
                self.fail(f"starts at {f.start}, inside the field before it (which ends at "
                          f"{end})", code, f.name)  # fmt: skip
            if f.end > length:
                self.fail(f"ends at {f.end}, past the record's length {length}", code, f.name)
            end = max(end, f.end)
            if needed is not None and self._against(code, f, needed):
                extension.add(f.name)
            fields.append(f)
        first = next((f for f in fields if f.start == 1), None)
        if first is None or first.kind is not Kind.CONST or first.const != code:
            self.fail(f"the record must begin with a const field holding its code {code!r}", code)
        if needed is not None:
            for f in needed.fields:
                if f.kind is not Kind.FILLER and f.name not in names:
                    self.fail(f"missing: the network {'writes' if f.is_data else 'needs'} "
                              f"this field ({f.label})", code, f.name)  # fmt: skip
        if len(self.problems) > count:
            return None
        return layout(code, rec["name"], rec["label"], length, fields, doc=rec.get("source", ""),
                      extension=frozenset(extension))  # fmt: skip

    def _field(self, code: str, fd: Mapping[str, Any]) -> Field | None:
        name, start, length = fd["name"], fd["start"], fd["length"]
        kind = _PICTURES[fd["picture"]]
        count = len(self.problems)
        width = _WIDTH.get(kind)
        if width is not None and length != width:
            self.fail(f"a {kind.value} field is {width} characters, not {length}", code, name)
        value = fd.get("value")
        if kind is Kind.CONST:
            if value is None or len(value) != length:
                self.fail(f"a const field's value must fill its {length} characters "
                          f"(found {value!r})", code, name)  # fmt: skip
        elif value is not None:
            self.fail("only a const field has a value", code, name)
        pattern = fd.get("pattern", "")
        choices = tuple(fd.get("choices", ()))
        if (pattern or choices) and kind is not Kind.TEXT:
            self.fail("choices and pattern apply to text (X) fields only", code, name)
        if pattern:
            try:
                re.compile(pattern)
            except re.error as exc:
                self.fail(f"pattern {pattern!r} is not a regular expression: {exc}", code, name)
        for choice in choices:
            if len(choice) > length or choice != choice.rstrip() or not choice:
                self.fail(f"choice {choice!r} does not fit a {length}-character text",
                          code, name)  # fmt: skip
        if "pivot" in fd and kind not in (Kind.DATE_DMY, Kind.DATE_YMD):
            self.fail("pivot applies to two-digit years (JJMMAA, AAMMJJ) only", code, name)
        if len(self.problems) > count:
            return None
        return Field(
            name, start, length, kind, fd["label"], fd.get("source", ""),
            optional=fd.get("optional", False), pattern=pattern, choices=choices,
            const=value or "", pivot=fd.get("pivot", 70),
        )  # fmt: skip

    def _against(self, code: str, f: Field, needed: RecordLayout) -> bool:
        """Check field ``f`` against the built-in record the code knows; True when the code
        does not know the field (an extension, which must then be optional)."""
        if not needed.has(f.name):
            if f.kind is not Kind.CONST and not f.optional:
                self.fail("a field the network does not know must be optional (it writes it "
                          "blank) or a const", code, f.name)  # fmt: skip
            return f.kind is not Kind.CONST
        known = needed.field(f.name)
        if _FAMILY[known.kind] != _FAMILY[f.kind]:
            self.fail(f"picture {f.kind.value} holds {_FAMILY[f.kind]}; the network gives this "
                      f"field {_FAMILY[known.kind]}", code, f.name)  # fmt: skip
        elif f.optional != known.optional:
            self.fail("may be blank for the network" if known.optional else
                      "the network always fills this field and reads it as given: it cannot "
                      "be optional", code, f.name)  # fmt: skip
        return False

    def _reference(
        self, framing: DelimitedFraming, layouts: dict[str, RecordLayout]
    ) -> Reference | None:
        structure = self.data.get("structure")
        if structure is None:
            self.fail("structure: a NOEMIE format needs its groups, contents and totals")
            return None
        groups = dict(structure["groups"])
        contents: dict[str, tuple[Slot, ...]] = {}
        for code in groups:
            if code not in layouts:
                self.fail(f"structure.groups: no record {code!r}")
        for code, slots in structure["contents"].items():
            if code != "000" and code not in groups:
                self.fail(f"structure.contents: {code!r} is neither the file (000) nor a group")
            built = []
            for slot in slots:
                for c in slot["codes"]:
                    if c not in layouts:
                        self.fail(f"structure.contents.{code}: no record {c!r}")
                high = slot.get("max")
                if high is not None and high < slot["min"]:
                    self.fail(f"structure.contents.{code}: max {high} is below min {slot['min']}")
                built.append(Slot(tuple(slot["codes"]), slot["min"], high))
            contents[code] = tuple(built)
        totals: dict[str, tuple[str, str]] = {}
        for code, pair in structure["totals"].items():
            lay = layouts.get(code)
            if lay is None:
                self.fail(f"structure.totals: no record {code!r}")
                continue
            for name in pair:
                if not lay.has(name) or lay.field(name).kind not in (Kind.NUMERIC, Kind.AMOUNT):
                    self.fail(f"structure.totals.{code}: no number field {name!r}", code)
            totals[code] = (pair[0], pair[1])
        header = layouts.get("000")
        if header is None or not header.has("reference"):
            return None  # said above: a needed record or field is missing
        return Reference(
            number=header.field("reference").const,
            title=self.data.get("title", FORMATS[self.fmt]),
            layouts=layouts,
            groups=groups,
            contents=contents,
            totals=totals,
            framing=framing,
        )


def _layouts_of(tables: Tables) -> dict[str, RecordLayout]:
    return tables.layouts if isinstance(tables, Reference) else tables[1]


# -- installing and comparing -------------------------------------------------------------------


def install(pack: Pack) -> None:
    """Make every format module speak ``pack`` from now on, in this process."""
    global _ACTIVE
    for fmt in _FIXED:
        module = {"b2": b2, "arl": arl, "oc-answer": oc_answer}[fmt]
        framing, layouts = pack.tables[fmt]  # type: ignore[misc]
        module.use(framing, layouts)
    for fmt, ref_module in _NOEMIE.items():
        ref = pack.tables[fmt]
        assert isinstance(ref, Reference)
        ref_module.use(ref)
    kinds.rebuild()
    _ACTIVE = pack


def active() -> Pack:
    """The pack this process speaks."""
    return _ACTIVE


def differences(base: Pack, other: Pack) -> list[str]:
    """What ``other`` changes from ``base``, one line each: records and fields added,
    removed, moved or changed."""
    lines: list[str] = []
    for fmt in FORMATS:
        old = {r["code"]: r for r in base.data[fmt]["records"]}
        new = {r["code"]: r for r in other.data[fmt]["records"]}
        for key in ("framing", "structure", "title"):
            if base.data[fmt].get(key) != other.data[fmt].get(key):
                lines.append(f"{fmt}: {key} changed")
        for code in old.keys() - new.keys():
            lines.append(f"{fmt}: record {code!r} removed")
        for code in new.keys() - old.keys():
            lines.append(f"{fmt}: record {code!r} added")
        for code in (c for c in new if c in old):
            lines.extend(
                f"{fmt}: record {code!r} {line}" for line in _record_changes(old[code], new[code])
            )
    return lines


def _record_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    lines = [
        f"{key}: {old.get(key)!r} -> {new.get(key)!r}"
        for key in ("name", "label", "length", "source")
        if old.get(key) != new.get(key)
    ]
    before = {f["name"]: f for f in old["fields"]}
    after = {f["name"]: f for f in new["fields"]}
    for name in before.keys() - after.keys():
        lines.append(f"field {name} removed")
    for name in sorted(after.keys() - before.keys()):
        f = after[name]
        lines.append(f"field {name} added at {f['start']} ({f['length']} characters)")
    for name in (n for n in after if n in before):
        a, b = before[name], after[name]
        if (a["start"], a["length"]) != (b["start"], b["length"]):
            lines.append(f"field {name} moved: {a['start']}+{a['length']} -> "
                         f"{b['start']}+{b['length']}")  # fmt: skip
        for key in sorted((a.keys() | b.keys()) - {"name", "start", "length"}):
            if a.get(key) != b.get(key):
                lines.append(f"field {name} {key}: {a.get(key)!r} -> {b.get(key)!r}")
    return lines


# -- the schema of a pack file ------------------------------------------------------------------

_TEXT = {"type": "string"}
_POSITIVE = {"type": "integer", "minimum": 1}
_CODE = {"type": "string", "minLength": 1, "maxLength": 8, "pattern": "^[ -~]+$"}

#: JSON Schema (2020-12) of one pack file, published as docs/norms-pack.schema.json.
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://noemie-sim.example/norms-pack.schema.json",
    "title": "noemie-sim norms pack: one format's layout tables",
    "type": "object",
    "required": ["format", "framing", "records"],
    "additionalProperties": False,
    "properties": {
        "format": {"enum": list(FORMATS)},
        "title": _TEXT,
        "framing": {
            "oneOf": [
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["type", "record_length", "code_length"],
                    "properties": {
                        "type": {"const": "fixed"},
                        "record_length": _POSITIVE,
                        "code_length": _POSITIVE,
                    },
                },
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["type", "delimiter", "code_length"],
                    "properties": {
                        "type": {"const": "delimited"},
                        "delimiter": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 1,
                            "pattern": "^[!-~]$",
                        },
                        "code_length": _POSITIVE,
                    },
                },
            ]
        },
        "records": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "name", "label", "length", "fields"],
                "properties": {
                    "code": _CODE,
                    "name": {"type": "string", "minLength": 1},
                    "label": _TEXT,
                    "length": {"type": "integer", "minimum": 1, "maximum": 100000},
                    "source": _TEXT,
                    "fields": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/field"}},
                },
            },
        },
        "structure": {
            "type": "object",
            "additionalProperties": False,
            "required": ["groups", "contents", "totals"],
            "properties": {
                "groups": {
                    "type": "object",
                    "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 99},
                },
                "contents": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["codes", "min"],
                            "properties": {
                                "codes": {"type": "array", "minItems": 1, "items": _CODE},
                                "min": {"type": "integer", "minimum": 0},
                                "max": _POSITIVE,
                            },
                        },
                    },
                },
                "totals": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "array",
                        "minItems": 2,
                        "maxItems": 2,
                        "items": _TEXT,
                    },
                },
            },
        },
    },
    "$defs": {
        "field": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "start", "length", "picture", "label"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                "start": _POSITIVE,
                "length": _POSITIVE,
                "picture": {"enum": list(_PICTURES)},
                "value": {"type": "string", "pattern": "^[ -~]*$"},
                "label": _TEXT,
                "source": _TEXT,
                "optional": {"type": "boolean"},
                "choices": {"type": "array", "items": {"type": "string", "pattern": "^[ -~]+$"}},
                "pattern": {"type": "string", "minLength": 1},
                "pivot": {"type": "integer", "minimum": 0, "maximum": 100},
            },
        }
    },
}


# the built-in pack: the declarations, as data, compiled like any pack and installed
_BUILTIN = False
BUILTIN: Pack = compile_pack({}, "noemie-sim built-in", check_schema=False)
_BUILTIN = True
_ACTIVE: Pack = BUILTIN
install(BUILTIN)

__all__ = [
    "BUILTIN", "FORMATS", "SCHEMA", "Pack", "PackError", "Problem", "active", "compile_pack",
    "differences", "format_data", "install",
]  # fmt: skip
