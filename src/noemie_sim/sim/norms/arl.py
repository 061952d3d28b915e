"""ARL (accusé de réception logique): the caisse's answer to each file of lots.

Public facts (norms.md §3): positive when the file conforms, negative when it must be
re-emitted; a positive ARL does not mean payment. The layout is **not public**: this whole
format is a project convention on 128-character records, keyed by (émetteur, file number,
lot number) and binding the SHA-256 of the sealed file received, like an AS2 MIC
(reliability-security.md §1).

Structure: A0 (A2)* (A1 (A2)*)* A9 — the file header with its file-level anomalies (seal or
format failure of the whole file), then per lot its status and anomalies, then the trailer.

Statuses: P positif, N négatif (re-emit), D doublon (already received: answered, not processed
again). A lot is P with no anomaly, D with exactly the one anomaly :data:`DUPLICATE_CODE` ("lot
déjà reçu", which says why it was not processed), N with any other. The file status is
derived: N when the file or any lot has an anomaly, D when every lot is a duplicate, else P.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from .codec import (
    FIXED_128,
    Field,
    FixedFraming,
    Kind,
    Record,
    RecordLayout,
    amount,
    decode_records,
    encode_records,
    num,
    record_128,
    text,
    when,
)
from .errors import Anomaly, Findings
from .model import Cursor, OnePass, from_record, rebind, to_record

FRAMING: FixedFraming = FIXED_128
STATUSES = ("P", "N", "D")
#: The anomaly a duplicate (D) lot carries, and only it (codes.ARL, project convention).
DUPLICATE_CODE = "0003 001"


def _record(code: str, name: str, label: str, *fields_: Field) -> RecordLayout:
    return record_128(code, name, label, *fields_, lot="N° de lot concerné (000: le fichier)")


HEADER = _record(
    "A0",
    "ARL-ENT",
    "En-tête d'ARL",
    text("sender", 12, 9, "Caisse émettrice de l'ARL (organisme)", pattern=r"[0-9]{9}"),
    text("receiver", 21, 9, "PS destinataire (n° AM)", pattern=r"[0-9]{9}"),
    num("file_id", 30, 10, "N° du fichier acquitté"),
    text("status", 40, 1, "Statut du fichier: P positif, N négatif, D doublon", choices=STATUSES),
    when("received_at", 41, Kind.TIMESTAMP, "Date et heure de réception"),
    text(
        "sealed_sha256",
        55,
        64,
        "SHA-256 du fichier scellé reçu (hexadécimal)",
        pattern=r"[0-9a-f]{64}",
    ),
    num("lot_count", 119, 3, "Nombre de lots acquittés"),
)
LOT = _record(
    "A1",
    "ARL-LOT",
    "Acquittement d'un lot",
    text("status", 12, 1, "Statut du lot: P positif, N négatif, D doublon", choices=STATUSES),
    num("invoice_count", 13, 5, "Nombre de factures du lot"),
    amount("total_billed", 18, 11, "Total facturé du lot"),
    num("anomaly_count", 29, 3, "Nombre d'anomalies du lot"),
)
ANOMALY = _record(
    "A2",
    "ARL-ANO",
    "Anomalie",
    text("code", 12, 8, "Code anomalie NNNN NNN", pattern=r"[0-9]{4} [0-9]{3}"),
    num("record", 20, 7, "N° de l'enregistrement en erreur (0: tout le fichier)"),
    text("record_type", 27, 2, "Type de l'enregistrement en erreur", optional=True),
    text("field", 29, 24, "Zone en erreur", optional=True),
    num("position", 53, 3, "Position de la zone"),
    text("label", 56, 60, "Libellé de l'anomalie"),
)
TRAILER = _record(
    "A9",
    "ARL-FIN",
    "Fin d'ARL",
    num("record_count", 12, 6, "Nombre d'enregistrements"),
    num("anomaly_count", 18, 5, "Nombre total d'anomalies"),
)
LAYOUTS = {lay.code: lay for lay in (HEADER, LOT, ANOMALY, TRAILER)}


def _named(lay: RecordLayout) -> str:
    """How messages name a record of this format."""
    return f"{lay.code} {lay.name}"


NAMES = {code: _named(lay) for code, lay in LAYOUTS.items()}


def use(framing: FixedFraming, layouts: Mapping[str, RecordLayout]) -> None:
    """Speak a norms pack's tables from now on (:func:`noemie_sim.sim.norms.pack.install`
    calls it with tables it has checked: the same record codes and every field named here)."""
    rebind(globals(), layouts, framing, _named)


@dataclass(frozen=True)
class ArlAnomaly:
    """Why a file or lot was refused: a code and where in the received file."""

    code: str
    label: str
    record: int = 0
    record_type: str | None = None
    field: str | None = None
    position: int = 0


@dataclass(frozen=True)
class LotAck:
    lot_number: int
    status: str
    invoice_count: int
    total_billed: int
    anomalies: tuple[ArlAnomaly, ...] = ()


@dataclass(frozen=True)
class Arl:
    """An ARL for one received file. ``status`` is derived from the content."""

    sender: str
    receiver: str
    file_id: int
    received_at: datetime
    sealed_sha256: str
    lots: tuple[LotAck, ...]
    anomalies: tuple[ArlAnomaly, ...] = ()

    @property
    def status(self) -> str:
        return file_status(self.anomalies, [lot.status for lot in self.lots])

    @property
    def positive(self) -> bool:
        return self.status == "P"


def lot_status(anomaly_codes: list[str]) -> str:
    """P with no anomaly, D with only the duplicate notice, N otherwise."""
    if not anomaly_codes:
        return "P"
    return "D" if anomaly_codes == [DUPLICATE_CODE] else "N"


def file_status(file_anomalies: object, lot_statuses: list[str]) -> str:
    """N when the file or a lot has anomalies, D when every lot is a duplicate, else P."""
    if file_anomalies or "N" in lot_statuses:
        return "N"
    if lot_statuses and all(s == "D" for s in lot_statuses):
        return "D"
    return "P"


def build(arl: Arl) -> bytes:
    """The ARL's bytes, with sequence numbers, counts and the file status computed."""
    records: list[Record] = []

    def add(lay: RecordLayout, obj: object | None, lot: int, **given: object) -> None:
        records.append(to_record(lay, obj, lot=lot, seq=len(records) + 1, **given))  # type: ignore[arg-type]

    add(HEADER, arl, 0, status=arl.status, lot_count=len(arl.lots))
    for a in arl.anomalies:
        add(ANOMALY, a, 0)
    for lot in arl.lots:
        add(LOT, lot, lot.lot_number, anomaly_count=len(lot.anomalies))
        for a in lot.anomalies:
            add(ANOMALY, a, lot.lot_number)
    total = len(arl.anomalies) + sum(len(lot.anomalies) for lot in arl.lots)
    add(TRAILER, None, 0, record_count=len(records) + 1, anomaly_count=total)
    return encode_records(records, FRAMING)


def _structure(records: list[Record]) -> tuple[int, list[int], list[tuple[int, list[int]]], int]:
    cur = Cursor(records, NAMES)
    head = cur.take("A0")[0] - 1
    file_anomalies = []
    while cur.peek() == "A2":
        file_anomalies.append(cur.take("A2")[0] - 1)
    lots = []
    while cur.peek() == "A1":
        lot = cur.take("A1")[0] - 1
        anomalies = []
        while cur.peek() == "A2":
            anomalies.append(cur.take("A2")[0] - 1)
        lots.append((lot, anomalies))
    end = cur.take("A9")[0] - 1
    cur.end()
    return head, file_anomalies, lots, end


def parse(data: bytes) -> Arl:
    """The typed ARL; FormatError on a bad record or order."""
    records = decode_records(data, FRAMING, LAYOUTS)
    head, file_anomalies, lots, _end = _structure(records)
    acks = tuple(
        from_record(
            LotAck,
            records[i],
            lot_number=records[i].number("lot"),
            anomalies=tuple(from_record(ArlAnomaly, records[a]) for a in anos),
        )
        for i, anos in lots
    )
    return from_record(
        Arl,
        records[head],
        lots=acks,
        anomalies=tuple(from_record(ArlAnomaly, records[a]) for a in file_anomalies),
    )


def validate(data: bytes) -> list[Anomaly]:
    """Every anomaly: formats, order, sequence and lot numbers, counts, statuses consistent
    with the anomalies listed."""
    return check(data).kept


def check(data: bytes, limit: int | None = None) -> Findings:
    """:func:`validate` in bounded memory: one lot (its A1 and A2 records) held at a time, the
    first ``limit`` anomalies kept (all counted). Field anomalies, when there are any, are all
    that is said; else the first misplaced record alone; else the checks."""
    one = OnePass(data, FRAMING, LAYOUTS, NAMES, limit)
    window, cur, checker, take = one.window, one.cursor, one.checker, one.take

    def walk() -> None:
        head = take("A0")
        header = window.pin(head)
        checker.equal(head, "lot", 0, header["lot"], "a file-level record must carry lot 000")
        file_anomalies = 0
        while cur.peek() == "A2":
            i = take("A2")
            file_anomalies += 1
            checker.equal(i, "lot", 0, window[i]["lot"], "a file-level record must carry lot 000")
        statuses: list[str] = []
        anomalies_total = file_anomalies
        while cur.peek() == "A1":
            lot = take("A1")
            rec = window[lot]
            codes = []
            while cur.peek() == "A2":
                i = take("A2")
                codes.append(window[i].string("code"))
                checker.equal(i, "lot", rec["lot"], window[i]["lot"], "anomaly carries another lot")
            statuses.append(rec.string("status"))
            anomalies_total += len(codes)
            checker.equal(
                lot, "anomaly_count", len(codes), rec["anomaly_count"], "lot anomaly count is wrong"
            )
            checker.equal(
                lot,
                "status",
                lot_status(codes),
                rec["status"],
                "a lot is P without anomaly, D with only the duplicate notice "
                f"{DUPLICATE_CODE}, N otherwise",
            )
            window.release_before(cur.pos)
        end = take("A9")
        cur.end()
        checker.equal(head, "lot_count", len(statuses), header["lot_count"], "lot count is wrong")
        checker.equal(
            head,
            "status",
            file_status(file_anomalies, statuses),
            header["status"],
            "file status inconsistent with its lots and anomalies",
        )
        trailer = window[end]
        checker.equal(end, "lot", 0, trailer["lot"], "a file-level record must carry lot 000")
        checker.equal(
            end, "record_count", end + 1, trailer["record_count"], "record count is wrong"
        )
        checker.equal(
            end,
            "anomaly_count",
            anomalies_total,
            trailer["anomaly_count"],
            "anomaly count is wrong",
        )

    return one.run(walk)
