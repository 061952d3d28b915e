"""OC answer: a mutuelle's acknowledgement of a décompte file, with one reject per refused
décompte.

The real flow (FNMF RM-TPG/RM-EH annexes 120/121) is **not public** (norms.md §5): this format
is a project convention on 128-character records. It binds the SHA-256 of the sealed décompte
file it answers. Structure: R0 (R1)* R9.

Status A: the file was received and its décomptes processed (each refused one has an R1); status
R: the whole file was refused (its refusal code says why) and carries no R1.
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
    decode_records,
    encode_records,
    num,
    record_128,
    text,
    when,
)
from .errors import Anomaly, Findings
from .keys import NIR_PATTERN
from .model import Cursor, OnePass, from_record, rebind, to_record

FRAMING: FixedFraming = FIXED_128
OC_CODE = r"[A-Z]{2}[0-9]{2}"


def _record(code: str, name: str, label: str, *fields_: Field) -> RecordLayout:
    return record_128(code, name, label, *fields_, lot=None)


HEADER = _record(
    "R0",
    "OCR-ENT",
    "En-tête de réponse OC",
    text("sender", 12, 8, "N° de l'organisme complémentaire", pattern=r"[0-9]{8}"),
    text("receiver", 20, 9, "Caisse destinataire (organisme)", pattern=r"[0-9]{9}"),
    num("file_id", 29, 10, "N° du fichier de décomptes acquitté"),
    when("received_at", 39, Kind.TIMESTAMP, "Date et heure de réception"),
    text("status", 53, 1, "A fichier accepté, R fichier refusé en entier", choices=("A", "R")),
    text(
        "refusal_code", 54, 4, "Code de refus du fichier (statut R)", optional=True, pattern=OC_CODE
    ),
    text(
        "sealed_sha256",
        58,
        64,
        "SHA-256 du fichier scellé reçu (hexadécimal)",
        pattern=r"[0-9a-f]{64}",
    ),
)
REJECT = _record(
    "R1",
    "OCR-REJ",
    "Rejet d'un décompte",
    num("invoice_number", 12, 9, "N° de facture du décompte"),
    text("insured_nir", 21, 13, "NIR de l'assuré", pattern=NIR_PATTERN),
    num("insured_nir_key", 34, 2, "Clé du NIR"),
    text("code", 36, 4, "Code de rejet OC", pattern=OC_CODE),
    text("label", 40, 60, "Libellé du rejet"),
    text("ps_number", 100, 9, "N° AM du PS de la facture", pattern=r"[0-9]{9}"),
)
TRAILER = _record(
    "R9",
    "OCR-FIN",
    "Fin de réponse OC",
    num("received_count", 12, 5, "Nombre de décomptes reçus"),
    num("rejected_count", 17, 5, "Nombre de décomptes rejetés"),
    num("record_count", 22, 6, "Nombre d'enregistrements"),
)
LAYOUTS = {lay.code: lay for lay in (HEADER, REJECT, TRAILER)}


def _named(lay: RecordLayout) -> str:
    """How messages name a record of this format."""
    return f"{lay.code} {lay.name}"


NAMES = {code: _named(lay) for code, lay in LAYOUTS.items()}


def use(framing: FixedFraming, layouts: Mapping[str, RecordLayout]) -> None:
    """Speak a norms pack's tables from now on (:func:`noemie_sim.sim.norms.pack.install`
    calls it with tables it has checked: the same record codes and every field named here)."""
    rebind(globals(), layouts, framing, _named)


@dataclass(frozen=True)
class OcReject:
    invoice_number: int
    insured_nir: str
    insured_nir_key: int
    code: str
    label: str
    ps_number: str


@dataclass(frozen=True)
class OcAnswer:
    """An OC's answer to one décompte file."""

    sender: str
    receiver: str
    file_id: int
    received_at: datetime
    sealed_sha256: str
    received_count: int
    rejects: tuple[OcReject, ...] = ()
    status: str = "A"
    refusal_code: str | None = None


def build(answer: OcAnswer) -> bytes:
    """The answer's bytes, with sequence numbers and counts computed."""
    records: list[Record] = [to_record(HEADER, answer, seq=1)]
    for n, reject in enumerate(answer.rejects, start=2):
        records.append(to_record(REJECT, reject, seq=n))
    records.append(
        to_record(
            TRAILER,
            answer,
            seq=len(records) + 1,
            rejected_count=len(answer.rejects),
            record_count=len(records) + 1,
        )
    )
    return encode_records(records, FRAMING)


def _structure(records: list[Record]) -> list[int]:
    cur = Cursor(records, NAMES)
    cur.take("R0")
    rejects = []
    while cur.peek() == "R1":
        rejects.append(cur.take("R1")[0] - 1)
    cur.take("R9")
    cur.end()
    return rejects


def parse(data: bytes) -> OcAnswer:
    """The typed answer; FormatError on a bad record or order."""
    records = decode_records(data, FRAMING, LAYOUTS)
    rejects = _structure(records)
    return from_record(
        OcAnswer,
        records[0],
        received_count=records[-1]["received_count"],
        rejects=tuple(from_record(OcReject, records[i]) for i in rejects),
    )


def validate(data: bytes) -> list[Anomaly]:
    """Every anomaly: formats, order, counts, NIR keys, status consistent with the rejects."""
    return check(data).kept


def check(data: bytes, limit: int | None = None) -> Findings:
    """:func:`validate` in bounded memory: each reject checked and released as it is read,
    the first ``limit`` anomalies kept (all counted). Field anomalies, when there are any,
    are all that is said; else the first misplaced record alone; else the checks."""
    one = OnePass(data, FRAMING, LAYOUTS, NAMES, limit)
    window, cur, checker, take = one.window, one.cursor, one.checker, one.take

    def walk() -> None:
        head = window.pin(take("R0"))
        refused = head["status"] == "R"
        if refused != (head["refusal_code"] is not None):
            checker.fail(
                0,
                "refusal_code",
                "a refusal code goes with status R, and only with it",
                "a code" if refused else "blank",
                head["refusal_code"] or "blank",
            )
        rejects = 0
        while cur.peek() == "R1":
            i = take("R1")
            if refused and rejects == 0:
                checker.fail(
                    i,
                    "code",
                    "a refused file carries no décompte reject",
                    "no R1 record",
                    head["status"],
                )
            rejects += 1
            checker.nir(i, "insured_nir", "insured_nir_key")
            checker.number(i, "ps_number", "n° AM")
            window.release_before(i + 1)
        last = take("R9")
        cur.end()
        end = window[last]
        checker.equal(
            last, "rejected_count", rejects, end["rejected_count"], "rejected count is wrong"
        )
        if end.number("rejected_count") > end.number("received_count"):
            checker.fail(
                last,
                "received_count",
                "more décomptes rejected than received",
                f"at least {end['rejected_count']}",
                end["received_count"],
            )
        checker.equal(last, "record_count", last + 1, end["record_count"], "record count is wrong")

    return one.run(walk)
