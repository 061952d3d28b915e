"""The file kinds of the network: detection, and one entry point per kind for parse, validate,
explain and samples.

Detection reads the first record: ``000`` is NOEMIE (the référence at offset 61 says 580,
550 or 408), ``0 `` is B2 (the header's nature says FSE lots or DEC décomptes), ``A0`` an
ARL, ``R0`` an OC answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from . import arl, b2, noemie, noemie_550, noemie_oc, noemie_ps, oc_answer, samples
from .codec import Field, Framing, Kind, Record, RecordLayout, RecordStream
from .errors import Anomaly, Findings, FormatError, shorten


@dataclass(frozen=True)
class FileKind:
    """Everything the tools need to know about one kind of file."""

    name: str
    title: str
    framing: Framing
    layouts: Mapping[str, RecordLayout]
    parse: Callable[[bytes], object]
    validate: Callable[[bytes], list[Anomaly]]
    sample: Callable[[], bytes]
    #: record codes holding control counts or totals, reported by explain
    controls: tuple[str, ...]
    #: the depth in the explained tree of each record, given one at a time in file order
    outline: Callable[[], Callable[[Record], int]]
    #: validate in one pass and bounded memory, keeping the first ``limit`` anomalies
    check: Callable[[bytes, int | None], Findings]
    #: what docs/norms.md says of the kind as a whole: its sources and its conventions
    note: str

    def findings(self, data: bytes, limit: int | None = None) -> Findings:
        """What :attr:`validate` says of ``data``, the first ``limit`` anomalies kept."""
        return self.check(data, limit)


def _depths(table: Mapping[str, int]) -> Callable[[], Callable[[Record], int]]:
    return lambda: lambda record: table[record.layout.code]


def _noemie_depths(ref: noemie.Reference) -> Callable[[], Callable[[Record], int]]:
    """Depths from the entity codes alone: a group opens a level that its 990 closes (the
    990 at the depth of its group), the header and trailer at 0. Misplaced entities are the
    validator's business; the outline only has to stay readable."""

    def outline() -> Callable[[Record], int]:
        open_groups = 0

        def depth(record: Record) -> int:
            nonlocal open_groups
            code = record.layout.code
            if code in ("000", "999"):
                return 0
            if code == "990":
                open_groups = max(0, open_groups - 1)
                return open_groups + 1
            at = open_groups + 1
            if code in ref.groups:
                open_groups += 1
            return at

        return depth

    return outline


_B2_DEPTHS = {
    "0 ": 0,
    "9 ": 0,
    "1 ": 1,
    "8 ": 1,
    "2 ": 2,
    "5 ": 2,
    "2S": 3,
    "3 ": 3,
    "3F": 3,
    "3H": 3,
    "4 ": 3,
    "4M": 4,
}

#: What docs/norms.md says of each kind as a whole: where its layout comes from, and what
#: is a convention.
_NOTES = {
    "b2": (
        'Record types 2 to 5 follow the positions of the B2 "CP" variant as ATIH\'s RSF-ACE '
        "2023 transcribes them (norms.md §2.2); the B2 a PS sends is described by the cahier "
        "des charges SESAM-Vitale, which is not public. The records 0, 1, 8, 9 and positions "
        "1-11 of every record are conventions. **Conventions** of content: a pharmacy's drug "
        "line is a Type 4 line with its PH1/PH7/PH4/PH2 prestation code (SNDS), the box's "
        "price as unit price and the boxes as quantity; the Type 2S parcours de soins "
        "indicator is T (within the parcours) or N (out of it) for a médecin's invoice and "
        "blank otherwise: RSF-ACE lists the letters, not their meaning (docs/rules.md)."
    ),
    "decompte": (
        "**Convention.** The public sources describe the flow caisse → organisme "
        "complémentaire as NOEMIE OC (norms.md §4.2, with its own entities and zones); "
        "noemie-sim carries it as B2 records of nature DEC, whose detail positions are the B2 "
        '"CP" variant\'s (RSF-ACE 2023). A mutuelle back office reads the décomptes here, not '
        "the NOEMIE OC layout."
    ),
    "noemie-ps": (
        "Entity numbers and the offsets marked `noemie.psm1` come from public code reading the "
        "NOEMIE PS returns of références 531/572/576 (payments) and 900/908 (rejects) "
        "(norms.md §4.3). **Conventions**: the référence number 580 of this combined return, "
        "the sender types PS and OC, every position not marked, and the 990 amount totals at "
        "levels other than 05."
    ),
    "noemie-oc": (
        "**Convention**, in the NOEMIE form every référence shares (norms.md §4.1). The public "
        "sources name the flow caisse → organisme complémentaire NOEMIE OC, its entity 255 of "
        "actes professionnels and the zones EXE-SPE and DPN-QLF (norms.md §4.2, §5); the "
        "cahier des charges is not public. The référence number 408 (suggested by one source, "
        "corroborated by none), the entities' levels and positions, the values N and D of "
        "DPN-QLF and the 990 totals are noemie-sim's. A scenario chooses this form or the B2 "
        "one per mutuelle (docs/scenarios.md, [mutuelles])."
    ),
    "noemie-550": (
        "seeds/004 [PRESS] (norms.md §6) names the 550's entities (230 NOP-PIJ, 250 NOP-MFI, "
        "...) and some of its zones (CPT-REF, REMBOURSEMENT, BASE, the sanction rate); no "
        "public source gives their positions: **every position here is a convention**, and so "
        "are the effect of a sanction, the natures 10 maladie, 30 maternité and 40 AT/MP used "
        "for the three kinds of leave, and the codes of a 250 debit taking back IJ paid on a "
        "wrong salary (docs/rules.md)."
    ),
    "arl": (
        "**Convention.** What an ARL says is public (R161-47: an acknowledgement per lot, "
        "positive or negative with its anomalies, norms.md §3); its layout here is "
        "noemie-sim's."
    ),
    "oc-answer": (
        "**Convention.** No public layout describes an organisme complémentaire's answer to a "
        "décompte file; this one is noemie-sim's."
    ),
}


def _kinds() -> dict[str, FileKind]:
    """Every kind, as the format modules' current tables describe it."""
    return {
        k.name: k
        for k in (
            FileKind(
                "b2",
                "Lots de FSE (norme B2), PS -> caisse",
                b2.FRAMING,
                b2.LAYOUTS,
                b2.parse,
                lambda d: b2.validate(d, "FSE"),
                samples.b2_lot,
                ("5 ", "8 ", "9 "),
                _depths(_B2_DEPTHS),
                lambda d, limit: b2.check(d, "FSE", limit),
                _NOTES["b2"],
            ),
            FileKind(
                "arl",
                "Accusé de réception logique, caisse -> PS",
                arl.FRAMING,
                arl.LAYOUTS,
                arl.parse,
                arl.validate,
                samples.arl_negative,
                ("A1", "A9"),
                _depths({"A0": 0, "A9": 0, "A1": 1, "A2": 2}),
                arl.check,
                _NOTES["arl"],
            ),
            FileKind(
                "noemie-ps",
                noemie_ps.REF.title,
                noemie.FRAMING,
                noemie_ps.REF.layouts,
                noemie_ps.parse,
                noemie_ps.validate,
                samples.noemie_ps_return,
                ("990", "999"),
                _noemie_depths(noemie_ps.REF),
                noemie_ps.check,
                _NOTES["noemie-ps"],
            ),
            FileKind(
                "decompte",
                "Décomptes B2, caisse -> organisme complémentaire",
                b2.FRAMING,
                b2.LAYOUTS,
                b2.parse,
                lambda d: b2.validate(d, "DEC"),
                samples.decompte,
                ("5 ", "8 ", "9 "),
                _depths(_B2_DEPTHS),
                lambda d, limit: b2.check(d, "DEC", limit),
                _NOTES["decompte"],
            ),
            FileKind(
                "noemie-oc",
                noemie_oc.REF.title,
                noemie.FRAMING,
                noemie_oc.REF.layouts,
                noemie_oc.parse,
                noemie_oc.validate,
                samples.noemie_oc_sample,
                ("990", "999"),
                _noemie_depths(noemie_oc.REF),
                noemie_oc.check,
                _NOTES["noemie-oc"],
            ),
            FileKind(
                "oc-answer",
                "Réponse d'un organisme complémentaire à un fichier de décomptes",
                oc_answer.FRAMING,
                oc_answer.LAYOUTS,
                oc_answer.parse,
                oc_answer.validate,
                samples.oc_answer_sample,
                ("R9",),
                _depths({"R0": 0, "R1": 1, "R9": 0}),
                oc_answer.check,
                _NOTES["oc-answer"],
            ),
            FileKind(
                "noemie-550",
                noemie_550.REF.title,
                noemie.FRAMING,
                noemie_550.REF.layouts,
                noemie_550.parse,
                noemie_550.validate,
                samples.noemie_550_sample,
                ("990", "999"),
                _noemie_depths(noemie_550.REF),
                noemie_550.check,
                _NOTES["noemie-550"],
            ),
        )
    }


#: every kind by name, refilled in place when a norms pack is installed (:func:`rebuild`)
KINDS: dict[str, FileKind] = _kinds()


def rebuild() -> None:
    """Describe the kinds with the format modules' current tables (after a pack is installed)."""
    KINDS.clear()
    KINDS.update(_kinds())


def detect(data: bytes) -> FileKind:
    """The kind of a file from its first record; FormatError when it is none of ours."""
    noemie_kinds = (KINDS["noemie-ps"], KINDS["noemie-550"], KINDS["noemie-oc"])
    if data[:3] == b"000":
        for kind in noemie_kinds:
            reference = kind.layouts["000"].field("reference")
            if _zone(data, reference) == reference.const.encode():
                return kind
        reference = noemie_kinds[0].layouts["000"].field("reference")
        raise FormatError(
            Anomaly(
                "unknown NOEMIE référence",
                record=1,
                field="reference",
                position=reference.start,
                expected=" or ".join(k.layouts["000"].field("reference").const
                                     for k in noemie_kinds),
                found=shorten(repr(_zone(data, reference))),
            )
        )  # fmt: skip
    if data[:2] == b"0 ":
        nature_field = b2.FILE_HEADER.field("nature")
        nature = _zone(data, nature_field)
        if nature == b"FSE":
            return KINDS["b2"]
        if nature == b"DEC":
            return KINDS["decompte"]
        raise FormatError(
            Anomaly(
                "unknown B2 file nature",
                record=1,
                field="nature",
                position=nature_field.start,
                expected="'FSE' or 'DEC'",
                found=shorten(repr(nature)),
            )
        )
    for kind in (KINDS["arl"], KINDS["oc-answer"]):
        if data[:2] in (code.encode() for code in kind.layouts if code.endswith("0")):
            return kind
    raise FormatError(
        Anomaly(
            "not a file of the network",
            record=1,
            position=1,
            expected="a B2 file ('0 '), an ARL ('A0'), an OC answer ('R0') or NOEMIE ('000')",
            found=shorten(repr(data[:3])),
        )
    )


def _zone(data: bytes, f: Field) -> bytes:
    """The bytes of field ``f`` in the first record of ``data``."""
    return bytes(data[f.start - 1 : f.end])


def declared_parties(data: bytes) -> tuple[str, str]:
    """(sender, receiver) as the file's own header declares them: every kind names both in its
    first record. FormatError when the file is not one of ours or its header is bad."""
    kind = detect(data)
    first = next(kind.framing.records(data))  # framing the first record only
    header = kind.layouts[first.text[: kind.framing.code_length]].decode(first.text, 1, 0)
    return header.string("sender"), header.string("receiver")


def declared_file_id(data: bytes) -> int:
    """The file number the first record declares (field ``file_id`` of a B2 file header or a
    NOEMIE 000), 0 when the file is not one of ours or the zone is not a number: what an
    answer to a file that cannot be read refers to."""
    try:
        kind = detect(data)
        code = bytes(data[: kind.framing.code_length]).decode("ascii")
        f = kind.layouts[code].field("file_id")
    except (FormatError, KeyError, UnicodeDecodeError):
        return 0
    zone = _zone(data, f)
    return int(zone) if zone.isdigit() else 0


def resolve(data: bytes, kind: str | None) -> FileKind:
    """The named kind, or the detected one; FormatError if detection fails."""
    return KINDS[kind] if kind is not None else detect(data)


# -- explain --------------------------------------------------------------------------------


def format_value(kind: Kind, value: object) -> str:
    """A field value as a person reads it: amounts in euros, dates in ISO form."""
    if value is None:
        return "(blanc)"
    if kind is Kind.AMOUNT and isinstance(value, int):
        return f"{value // 100:,}.{value % 100:02d} €".replace(",", " ")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _level(record: Record) -> str:
    """' (niveau NN)' for NOEMIE entities that carry a hierarchical level."""
    lay = record.layout
    if not lay.has("level"):
        return ""
    f = lay.field("level")
    return f" (niveau {f.const if f.kind is Kind.CONST else format(record.number('level'), '02d')})"


#: Records and anomalies ``explain`` shows at most; the lines say how many more there are.
EXPLAIN_RECORDS = 2000
EXPLAIN_ANOMALIES = 1000


def explain_tree(data: bytes, kind: FileKind) -> tuple[dict[str, Any] | None, Findings]:
    """The file as a tree of records with labelled fields, and the result of the control
    checks, as JSON values (what the HTTP API serves; :func:`explain` prints the same):
    ``kind``, ``title``, ``bytes``, ``count`` (records), ``records`` (each with ``index``,
    ``code``, ``name``, ``label``, ``level``, ``depth`` and its ``fields``: name, value as a
    person reads it, label), ``shown`` (records kept: at most :data:`EXPLAIN_RECORDS`),
    ``controls`` (count of each control record), ``anomalies`` (the first
    :data:`EXPLAIN_ANOMALIES`, described) and ``anomaly_count``; with the findings. The tree
    is None when the file cannot be decoded at all. Records past the tree are decoded and
    counted, not kept."""
    findings = kind.findings(data, EXPLAIN_ANOMALIES)
    # the check said whether every record decodes: past the tree, records are only framed
    # and counted
    skim = findings.readable
    stream = RecordStream(data, kind.framing, kind.layouts)
    depth_of = kind.outline()
    count = 0
    controls = dict.fromkeys(kind.controls, 0)
    records: list[dict[str, Any]] = []
    for record in stream:
        count += 1
        if record.layout.code in controls:
            controls[record.layout.code] += 1
        if count <= EXPLAIN_RECORDS:
            records.append(_record_node(record, count, depth_of(record)))
        if count == EXPLAIN_RECORDS and skim:
            break
    else:
        skim = False  # every record was decoded here
    if skim:
        for code in stream.codes():
            count += 1
            if code in controls:
                controls[code] += 1
    if not stream.readable:
        return None, findings
    tree = {
        "kind": kind.name,
        "title": kind.title,
        "bytes": len(data),
        "count": count,
        "shown": len(records),
        "records": records,
        "controls": {kind.layouts[c].name: n for c, n in controls.items()},
        "anomaly_count": findings.total,
        "anomalies": [a.describe() for a in findings.kept],
    }
    return tree, findings


def explain(data: bytes, kind: FileKind) -> tuple[list[str], Findings]:
    """:func:`explain_tree` as indented lines, followed by the result of the control checks.
    Returns the lines and the findings (none when the file is valid); when the file cannot be
    decoded at all, the lines are empty."""
    tree, findings = explain_tree(data, kind)
    if tree is None:
        return [], findings
    lines = [f"{kind.name}: {kind.title}", f"{tree['count']} records, {len(data)} bytes", ""]
    for node in tree["records"]:
        lines.extend(_explained(node))
    if tree["count"] > tree["shown"]:
        lines.append(f"... {tree['count'] - tree['shown']} more records not shown")
    lines.append("")
    counted = ", ".join(f"{n} × {name}" for name, n in tree["controls"].items())
    if findings.total:
        lines.append(f"Contrôles ({counted}): {findings.total} anomalie(s)")
        lines.extend(f"  - {a}" for a in tree["anomalies"])
        if findings.total > len(findings.kept):
            hidden = findings.total - len(findings.kept)
            lines.append(f"  ... and {hidden} more (listing stopped at {len(findings.kept)})")
    else:
        lines.append(f"Contrôles ({counted}): comptes et totaux cohérents, clés valides.")
    return lines, findings


def _record_node(record: Record, index: int, depth: int) -> dict[str, Any]:
    """One record of :func:`explain_tree`: its place, names and the fields it holds."""
    lay = record.layout
    return {
        "index": index,
        "code": lay.code.strip(),
        "name": lay.name,
        "label": lay.label,
        "level": _level(record),
        "depth": depth,
        "fields": [
            {"name": f.name, "value": format_value(f.kind, record.values[f.name]),
             "label": f.label}
            for f in lay.data_fields
            if not (f.optional and record.values[f.name] is None)
        ],
    }  # fmt: skip


def _explained(node: dict[str, Any]) -> list[str]:
    """The lines of one record of :func:`explain`'s tree."""
    pad = "  " * node["depth"]
    code = "" if node["name"].endswith(node["code"]) else f"{node['code']} "
    lines = [f"{pad}#{node['index']} {code}{node['name']} — {node['label']}{node['level']}"]
    fields = node["fields"]
    name_width = max((len(f["name"]) for f in fields), default=0)
    value_width = max((len(f["value"]) for f in fields), default=0)
    for f in fields:
        lines.append(
            f"{pad}    {f['name'].ljust(name_width)}  {f['value'].ljust(value_width)}  {f['label']}"
        )
    return lines
