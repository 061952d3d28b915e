"""NOEMIE files: ``@``-delimited entities in a hierarchy, with 990 control entities.

What is documented (norms.md §4): entities end with ``@``; each starts with its 3-digit number
and, except the bornes 000 (NOP-ENT) and 999 (NOP-FIN), a 2-digit hierarchical level; the
référence number sits at offset 61 of the 000 entity; 990 (NOP-CTL) entities carry the entity
counts and amount totals of the level they close, the invoice amount at offset 30 for level 05.

Project conventions, the same for every référence (docs/norms.md lists them field by field):

* each entity type has a fixed length;
* every *group* entity (one that opens a level: 040 payee, 070 day, ...) is closed by a 990 of
  its level carrying: the number of entities from the group's entity to the one before this
  990 (nested 990s included), and two amount totals summed over the group's line entities;
* 999 repeats the émetteur and destinataire of 000 and counts every entity of the file.

A :class:`Reference` is data: its layouts, which entities are groups and at which level, and
which entities each group may contain (:class:`Slot`, in order). One engine parses, builds and
validates every référence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from .codec import (
    DelimitedFraming,
    Kind,
    Record,
    RecordLayout,
    amount,
    const,
    decode_records,
    encode_records,
    layout,
    num,
    text,
    when,
)
from .errors import Anomaly, Findings, FormatError
from .model import Checker, Cursor, OnePass, to_record

T = TypeVar("T")

FRAMING = DelimitedFraming(delimiter="@", code_length=3)
CODE = "noemie.psm1 (norms.md §4.3)"
PARTY_TYPES = ("CP", "SI", "PS", "OC")


def entity(
    number: str, label: str, title: str, level: int | None, length: int, *fields_: object
) -> RecordLayout:
    """A NOEMIE entity layout: number, level (absent for bornes and 990) and fields."""
    head = [const("entity", 1, number, "N° d'entité", "norms.md §4.1")]
    if level is not None:
        head.append(const("level", 4, f"{level:02d}", "Niveau hiérarchique", "norms.md §4.1"))
    return layout(number, label, title, length, [*head, *fields_])  # type: ignore[list-item]


def header_layout(reference: str) -> RecordLayout:
    """000 NOP-ENT: émetteur, destinataire, file number and the référence at offset 61."""
    return entity(
        "000",
        "NOP-ENT",
        "En-tête",
        None,
        67,
        text(
            "sender_type",
            4,
            2,
            "NOE-TYE type d'émetteur",
            f"position: {CODE}; values: CP, SI seeds/004, PS and OC a convention",
            choices=PARTY_TYPES,
        ),
        text("sender", 6, 14, "Émetteur", CODE),
        text("receiver_type", 20, 2, "NOE-TYD type de destinataire", choices=PARTY_TYPES),
        text("receiver", 22, 14, "Destinataire"),
        when("created_at", 36, Kind.TIMESTAMP, "Date et heure de création"),
        num("file_id", 50, 10, "N° de fichier (unique par émetteur)"),
        const(
            "reference",
            62,
            reference,
            "N° de référence NOEMIE",
            f"position: {CODE}; value: a convention (public code knows 531/572/576, 900/908)",
        ),
        const("version", 65, "001", "Version des conventions noemie-sim"),
    )


def control_layout(amount_1: str, amount_2: str) -> RecordLayout:
    """990 NOP-CTL: closes a level with its entity count and two amount totals."""
    return entity(
        "990",
        "NOP-CTL",
        "Contrôle",
        None,
        52,
        num("level", 4, 2, "Niveau contrôlé", "norms.md §4.1"),
        num("entity_count", 6, 7, "Nombre d'entités du niveau (990 imbriqués compris)"),
        amount(
            "amount_1",
            31,
            11,
            amount_1,
            f"niveau 05 only: {CODE} (offset 30); at other levels a convention",
        ),
        amount("amount_2", 42, 11, amount_2),
    )


def trailer_layout() -> RecordLayout:
    """999 NOP-FIN: the bornes' closing entity."""
    return entity(
        "999",
        "NOP-FIN",
        "Fin de fichier",
        None,
        43,
        text("sender_type", 4, 2, "NOE-TYE type d'émetteur", choices=PARTY_TYPES),
        text("sender", 6, 14, "Émetteur"),
        text("receiver_type", 20, 2, "NOE-TYD type de destinataire", choices=PARTY_TYPES),
        text("receiver", 22, 14, "Destinataire"),
        num("entity_count", 36, 8, "Nombre total d'entités du fichier (bornes comprises)"),
    )


@dataclass(frozen=True)
class Slot:
    """Entities allowed at one place inside a group: any of ``codes``, ``low`` to ``high``
    times (``high`` None: unbounded)."""

    codes: tuple[str, ...]
    low: int = 1
    high: int | None = 1


@dataclass(frozen=True)
class Reference:
    """One NOEMIE référence as data (see the module docstring)."""

    number: str
    title: str
    layouts: dict[str, RecordLayout]
    groups: dict[str, int]
    contents: dict[str, tuple[Slot, ...]]
    #: the line entities whose amounts a 990 sums: entity code -> the fields giving its
    #: ``amount_1`` and ``amount_2`` (other entities count 0)
    totals: dict[str, tuple[str, str]]
    framing: DelimitedFraming = FRAMING
    names: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for code, lay in self.layouts.items():
            self.names[code] = f"{code} {lay.name}"

    def line_amounts(self, record: Record) -> tuple[int, int]:
        """The two amounts ``record`` adds to the 990 totals of the groups above it."""
        fields = self.totals.get(record.layout.code)
        if fields is None:
            return 0, 0
        return record.number(fields[0]), record.number(fields[1])


@dataclass
class Node:
    """An entity in the parsed hierarchy: its 0-based index, children and closing 990."""

    index: int
    children: list[Node] = field(default_factory=list)
    control: int = -1

    def walk(self) -> list[Node]:
        """This node and every node below it, in file order."""
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


@dataclass
class Tree:
    header: int
    items: list[Node]
    trailer: int


def structure(ref: Reference, records: Sequence[Record]) -> Tree:
    """Check the entity hierarchy of ``ref``; FormatError at the first misplaced entity."""
    cur = Cursor(records, ref.names)
    header = cur.take("000")[0] - 1
    items = _slots(ref, cur, ref.contents["000"])
    trailer = cur.take("999")[0] - 1
    cur.end()
    return Tree(header, items, trailer)


def _slots(ref: Reference, cur: Cursor, slots: tuple[Slot, ...]) -> list[Node]:
    return list(_nodes(ref, cur, slots))


def _nodes(ref: Reference, cur: Cursor, slots: tuple[Slot, ...]) -> Iterator[Node]:
    """The entities filling ``slots``, each as soon as it is read whole (with its group's
    content and 990): a reader in bounded memory checks it and releases its records."""
    for slot in slots:
        count = 0
        while cur.peek() in slot.codes and (slot.high is None or count < slot.high):
            yield _entity(ref, cur)
            count += 1
        if count < slot.low:
            raise cur.unexpected(slot.codes)


def _entity(ref: Reference, cur: Cursor) -> Node:
    index, rec = cur.take(cur.peek() or "")
    node = Node(index - 1)
    if rec.code in ref.groups:
        node.children = _slots(ref, cur, ref.contents.get(rec.code, ()))
        if cur.peek() != "990":
            slots = ref.contents.get(rec.code, ())
            raise cur.unexpected([*(c for s in slots for c in s.codes), "990"])
        ctl_index, ctl = cur.take("990")
        level = ref.groups[rec.code]
        if ctl["level"] != level:
            raise FormatError(
                Anomaly(
                    "990 closes another level than the group it ends",
                    record=ctl_index,
                    record_type="NOP-CTL",
                    field="level",
                    position=4,
                    expected=f"{level:02d} (closing {ref.names[rec.code]})",
                    found=f"{ctl['level']:02d}",
                )
            )
        node.control = ctl_index - 1
    return node


# -- building -------------------------------------------------------------------------------


@dataclass
class Item:
    """What a format module hands to :func:`build`: an entity and, for groups, its content."""

    record: Record
    children: list[Item] = field(default_factory=list)


def build(ref: Reference, header: Record, items: Sequence[Item]) -> bytes:
    """The file: header, the items with a 990 computed after each group, and the 999."""
    out: list[Record] = [header]
    control = ref.layouts["990"]

    def emit(item: Item) -> tuple[int, int]:
        start = len(out)
        out.append(item.record)
        a1, a2 = ref.line_amounts(item.record)
        for child in item.children:
            c1, c2 = emit(child)
            a1, a2 = a1 + c1, a2 + c2
        if item.record.code in ref.groups:
            out.append(
                control.record(
                    level=ref.groups[item.record.code],
                    entity_count=len(out) - start,
                    amount_1=a1,
                    amount_2=a2,
                )
            )
        return a1, a2

    for item in items:
        emit(item)
    trailer = ref.layouts["999"]
    values = {f.name: header[f.name] for f in trailer.data_fields if f.name != "entity_count"}
    out.append(trailer.record(**values, entity_count=len(out) + 1))
    return encode_records(out, ref.framing)


# -- parsing and validation -----------------------------------------------------------------


def decode(ref: Reference, data: bytes) -> tuple[list[Record], Tree]:
    """Decoded entities and their hierarchy; FormatError on the first problem."""
    records = decode_records(data, ref.framing, ref.layouts)
    return records, structure(ref, records)


def validate(
    ref: Reference, data: bytes, extra: Callable[[Checker, Node], None] | None = None
) -> list[Anomaly]:
    """Every anomaly: entity formats, hierarchy, each 990's count and totals, the 999, then the
    référence's own checks (``extra``, given each top-level entity with what it contains)."""
    return check(ref, data, extra).kept


def check(
    ref: Reference,
    data: bytes,
    extra: Callable[[Checker, Node], None] | None = None,
    limit: int | None = None,
) -> Findings:
    """:func:`validate` in bounded memory: the entities are decoded and checked one top-level
    entity (a payee, an employer) at a time and only the first ``limit`` anomalies are kept
    (all are counted). Field anomalies, when there are any, are all that is said; else the
    first misplaced entity alone; else the anomalies of the checks."""
    return _checked(ref, data, extra, limit, keep=False)[0]


def read(
    ref: Reference,
    data: bytes,
    extra: Callable[[Checker, Node], None] | None,
    typed: Callable[[list[Record], Tree], T],
) -> tuple[list[Anomaly], T | None]:
    """What :func:`validate` says of ``data`` and, when it says nothing, the typed file that
    ``typed`` makes of its entities and hierarchy (as a référence's ``parse`` does from
    :func:`decode`), from one decoding: a receiver checks and reads a file without decoding
    it twice (keeping the whole file in memory, as :func:`decode` does)."""
    findings, records, tree = _checked(ref, data, extra, None, keep=True)
    if findings.total or records is None or tree is None:
        return findings.kept, None
    return [], typed(records, tree)


def _checked(
    ref: Reference,
    data: bytes,
    extra: Callable[[Checker, Node], None] | None,
    limit: int | None,
    *,
    keep: bool,
) -> tuple[Findings, list[Record] | None, Tree | None]:
    """The walk of :func:`check`; with ``keep``, the records stay (none is released) and,
    when the hierarchy was followed to the end, come back with it."""
    one = OnePass(data, ref.framing, ref.layouts, ref.names, limit)
    window, cur, checker = one.window, one.cursor, one.checker
    items: list[Node] = []
    ends: list[int] = []  # the 999's index, once the walk reached it

    def walk() -> None:
        header = window[cur.take("000")[0] - 1]
        for item in _nodes(ref, cur, ref.contents["000"]):
            _check_totals(ref, checker, item)
            if extra is not None:
                extra(checker, item)
            if keep:
                items.append(item)
            else:
                window.release_before(cur.pos)
        trailer = cur.take("999")[0] - 1
        cur.end()
        end = window[trailer]
        for name in ("sender_type", "sender", "receiver_type", "receiver"):
            checker.equal(trailer, name, header[name], end[name], "999 differs from 000")
        checker.equal(
            trailer, "entity_count", trailer + 1, end["entity_count"], "999 entity count is wrong"
        )
        ends.append(trailer)

    findings = one.run(walk)
    if not (keep and ends and one.stream.readable):
        return findings, None, None
    records = [window[i] for i in range(ends[0] + 1)]
    return findings, records, Tree(0, items, ends[0])


def _check_totals(ref: Reference, check: Checker, node: Node) -> tuple[int, int]:
    """Check the 990 of every group in ``node``; return its two amount totals."""
    records = check.records
    a1, a2 = ref.line_amounts(records[node.index])
    for child in node.children:
        c1, c2 = _check_totals(ref, check, child)
        a1, a2 = a1 + c1, a2 + c2
    if node.control >= 0:
        ctl = records[node.control]
        what = ref.names[records[node.index].layout.code]
        check.equal(
            node.control,
            "entity_count",
            node.control - node.index,
            ctl["entity_count"],
            f"990 entity count of {what} is wrong",
        )
        check.equal(node.control, "amount_1", a1, ctl["amount_1"], f"990 total of {what} is wrong")
        check.equal(node.control, "amount_2", a2, ctl["amount_2"], f"990 total of {what} is wrong")
    return a1, a2


def header_record(ref: Reference, obj: object) -> Record:
    """The 000 of ``ref`` for a typed NOEMIE file: its émetteur, destinataire, their types,
    its time of creation and file number, read from ``obj``'s attributes of those names."""
    values = {
        name: getattr(obj, name)
        for name in ("sender_type", "sender", "receiver_type", "receiver", "created_at", "file_id")
    }
    return to_record(ref.layouts["000"], None, **values)
