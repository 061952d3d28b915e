"""NOEMIE OC: a caisse's daily décomptes for one organisme complémentaire, in NOEMIE form.

The public sources name the flow caisse -> OC "NOEMIE OC" (cahier des charges inter-régimes,
juin 2005 C, MAJ 10/2007; a newer "octobre 2019"), an entity **255** of "actes
professionnels" and three of its zones: ``EXE-SPE`` (spécialité de l'exécutant, annexe 17),
``DPN-QLF`` (qualificatif de la dépense, annexe 16) and ``PRE-MTT`` (norms.md §4.2, §5). The
cahier des charges itself is not public, so the rest is a **convention** of noemie-sim,
built on the NOEMIE rules every référence shares (norms.md §4.1) and on the entity
dictionary of NOEMIE PS (010, 070, 100, 110, 120, 150, 220 frais hospitaliers)::

    000 NOP-ENT  (NOE-TYE CP, NOE-TYD OC)
      010 NOP-OCO  (01) the organisme complémentaire the file is for
        070 NOP-DAT  (02) date journée comptable
          100 NOP-FAC  (05) a décompte: its number, the PS who billed, 110 ASS, 120 MAL,
                            150 ASU, then its lines: 255 actes professionnels and
                            220 NOP-PHS frais hospitaliers (a clinique's stay)
          990 (05)
        990 (02)
      990 (01)
    999 NOP-FIN

990 amount_1 is the AMO amount paid, amount_2 the amount billed, summed over the lines. The
référence number 408 is a convention too: one source suggests it for OC décomptes, none
corroborates it (norms.md §4.4).

A décompte says here what the B2 form (records of nature DEC) says, but the NABM analyses
(Type 4B), the CCAM coding (Type 4M), the AMC amounts the PS claimed and the MCO
coefficient of a stay line, which a mutuelle does not settle on. :func:`from_b2` writes the
caisse's décomptes in this form; :func:`to_b2` reads them back as the B2 form would carry
them, so that a mutuelle settles either form the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from . import b2, noemie
from .codec import Kind, Record, amount, num, text, when
from .errors import Anomaly, Findings
from .keys import NIR_PATTERN
from .model import Checker, from_record, rebind, to_record
from .noemie import Item, Node, Reference, Slot, entity

REFERENCE = "408"
#: what is known of a zone of this référence: its name only
OC_DOC = "zone name: NOEMIE OC (norms.md §4.2); position and values: a convention"
#: a zone placed where the NOEMIE PS returns have it (noemie.psm1), assumed the same here
AS_PS = "position of NOEMIE PS (noemie.psm1, norms.md §4.3), assumed for NOEMIE OC"

RECEIVER = entity(
    "010",
    "NOP-OCO",
    "Organisme complémentaire destinataire",
    1,
    13,
    text("oc_number", 6, 8, "N° d'organisme complémentaire", AS_PS, pattern=r"[0-9]{8}"),
)
DAY = entity(
    "070",
    "NOP-DAT",
    "Date journée comptable",
    2,
    11,
    when("accounting_date", 6, Kind.DATE_DMY, "Date journée comptable", AS_PS),
)
DECOMPTE = entity(
    "100",
    "NOP-FAC",
    "Décompte",
    5,
    31,
    num("decompte_number", 6, 9, "N° de décompte (unique dans le fichier)"),
    when("care_date", 15, Kind.DATE_DMY, "Date de la facture du PS"),
    text("ps_number", 21, 9, "N° AM du PS qui a facturé", pattern=r"[0-9]{9}"),
    text("tiers_payant", 30, 1, "Dispense d'avance de frais (O/N)", choices=("O", "N")),
    text(
        "care_pathway",
        31,
        1,
        "Parcours de soins: T dans le parcours, N hors parcours (blanc: sans objet)",
        optional=True,
        choices=("T", "N"),
    ),
)
INSURED = entity(
    "110",
    "NOP-ASS",
    "Assuré",
    6,
    20,
    text("insured_nir", 6, 13, "Matricule de l'assuré (NIR)", AS_PS, pattern=NIR_PATTERN),
    num("insured_nir_key", 19, 2, "Clé du NIR", AS_PS),
)
PATIENT = entity(
    "120",
    "NOP-MAL",
    "Malade (bénéficiaire)",
    6,
    29,
    text("beneficiary_nir", 6, 13, "NIR du bénéficiaire", pattern=NIR_PATTERN),
    num("beneficiary_nir_key", 19, 2, "Clé du NIR du bénéficiaire"),
    when("birth_date", 21, Kind.DATE8, "Date de naissance du bénéficiaire"),
    num("birth_rank", 29, 1, "Rang de naissance"),
)
COVERAGE = entity(
    "150",
    "NOP-ASU",
    "Nature d'assurance et caisse gestionnaire",
    6,
    17,
    text("insurance_nature", 6, 2, "Nature d'assurance", AS_PS),
    text("grand_regime", 8, 2, "Grand régime"),
    num("managing_caisse", 10, 3, "Caisse gestionnaire"),
    num("managing_centre", 13, 4, "Centre gestionnaire"),
    text("exemption", 17, 1, "Justification d'exonération du TM", optional=True),
)
ACT = entity(
    "255",
    "NOP-APR",
    "Acte professionnel (entité 255 de NOEMIE OC; son libellé est une convention)",
    6,
    91,
    text("act_code", 6, 5, "Code acte"),
    when("care_date", 11, Kind.DATE_DMY, "Date des soins"),
    num("quantity", 17, 2, "Quantité"),
    num("coefficient", 19, 6, "Coefficient (4 + 2 décimales)"),
    amount("unit_price", 25, 11, "Prix unitaire"),
    amount("fee_amount", 36, 11, "Montant des honoraires (dépassement compris)"),
    amount("base", 47, 11, "Base de remboursement"),
    num("rate", 58, 3, "Taux (%)"),
    amount("amo_amount", 61, 11, "Montant remboursé AMO"),
    text("specialty", 72, 2, "EXE-SPE spécialité de l'exécutant", OC_DOC, pattern=r"[0-9]{2}"),
    text(
        "expense_qualifier",
        74,
        1,
        "DPN-QLF qualificatif de la dépense: D honoraires au-delà de la base, N sinon "
        "(valeurs: convention)",
        OC_DOC,
        choices=("N", "D"),
    ),
    text("exemption", 75, 1, "Justification d'exonération du TM", optional=True),
    amount("deductions", 76, 11, "Participation forfaitaire et franchises déduites"),
    text("treatment_mode", 87, 2, "Mode de traitement", optional=True),
    text("discipline", 89, 3, "Discipline de prestation", optional=True),
)
STAY = entity(
    "220",
    "NOP-PHS",
    "Frais hospitaliers",
    6,
    77,
    text("act_code", 6, 5, "Code acte (séjour, forfait journalier)"),
    when("care_date", 11, Kind.DATE_DMY, "Date des soins / début de séjour"),
    num("quantity", 17, 3, "Quantité"),
    num("coefficient", 20, 5, "Coefficient (3 + 2 décimales)"),
    amount("unit_price", 25, 11, "Prix unitaire"),
    amount("total_amount", 36, 11, "Montant total de la dépense"),
    amount("base", 47, 11, "Base de remboursement"),
    num("rate", 58, 3, "Taux (%)"),
    amount("amo_amount", 61, 11, "Montant remboursé AMO"),
    text("exemption", 72, 1, "Justification d'exonération du TM", optional=True),
    text("treatment_mode", 73, 2, "Mode de traitement", optional=True),
    text("discipline", 75, 3, "Discipline de prestation", optional=True),
)

_LINES = ("255", "220")

REF = Reference(
    number=REFERENCE,
    title="Décomptes NOEMIE OC, caisse -> organisme complémentaire",
    layouts={
        lay.code: lay
        for lay in (
            noemie.header_layout(REFERENCE),
            RECEIVER,
            DAY,
            DECOMPTE,
            INSURED,
            PATIENT,
            COVERAGE,
            ACT,
            STAY,
            noemie.control_layout("Montant remboursé AMO du niveau", "Montant facturé du niveau"),
            noemie.trailer_layout(),
        )
    },
    groups={"010": 1, "070": 2, "100": 5},
    contents={
        "000": (Slot(("010",)),),
        "010": (Slot(("070",), 1, None),),
        "070": (Slot(("100",), 1, None),),
        "100": (Slot(("110",)), Slot(("120",)), Slot(("150",)), Slot(_LINES, 1, None)),
    },
    totals={"255": ("amo_amount", "fee_amount"), "220": ("amo_amount", "total_amount")},
)


def use(ref: Reference) -> None:
    """Speak a norms pack's NOEMIE OC tables from now on
    (:func:`noemie_sim.sim.norms.pack.install` calls it with tables it has checked)."""
    global REF
    REF = ref
    rebind(globals(), ref.layouts)


# -- typed model ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DecompteAct:
    """255: a professional act as the caisse liquidated it."""

    act_code: str
    care_date: date
    quantity: int
    coefficient: int
    unit_price: int
    fee_amount: int
    base: int
    rate: int
    amo_amount: int
    specialty: str
    expense_qualifier: str
    exemption: str | None = None
    deductions: int = 0
    treatment_mode: str | None = None
    discipline: str | None = None


@dataclass(frozen=True)
class DecompteStayLine:
    """220 NOP-PHS: a line of an établissement's stay (séjour, forfait journalier)."""

    act_code: str
    care_date: date
    quantity: int
    coefficient: int
    unit_price: int
    total_amount: int
    base: int
    rate: int
    amo_amount: int
    exemption: str | None = None
    treatment_mode: str | None = None
    discipline: str | None = None


DecompteLine = DecompteAct | DecompteStayLine


@dataclass(frozen=True)
class Decompte:
    """100 NOP-FAC with its 110, 120 and 150, and its lines."""

    decompte_number: int
    care_date: date
    ps_number: str
    tiers_payant: str
    care_pathway: str | None
    insured_nir: str
    insured_nir_key: int
    beneficiary_nir: str
    beneficiary_nir_key: int
    birth_date: date
    birth_rank: int
    insurance_nature: str
    grand_regime: str
    managing_caisse: int
    managing_centre: int
    exemption: str | None
    lines: tuple[DecompteLine, ...]


#: what a décompte's 110, 120 and 150 say (a pack's added fields are not the model's)
_DECOMPTE_FIELDS = frozenset(f.name for f in dataclasses.fields(Decompte))


@dataclass(frozen=True)
class AccountingDay:
    accounting_date: date
    decomptes: tuple[Decompte, ...]


@dataclass(frozen=True)
class OcDecomptes:
    """A whole NOEMIE OC file from a caisse to an OC."""

    sender: str
    receiver: str
    file_id: int
    created_at: datetime
    oc_number: str
    days: tuple[AccountingDay, ...]
    sender_type: str = "CP"
    receiver_type: str = "OC"


def build(doc: OcDecomptes) -> bytes:
    """The file's bytes with every 990 and the 999 computed."""
    header = noemie.header_record(REF, doc)
    days = [
        Item(to_record(DAY, day), [_decompte_item(d) for d in day.decomptes]) for day in doc.days
    ]
    return noemie.build(REF, header, [Item(to_record(RECEIVER, doc), days)])


def _decompte_item(d: Decompte) -> Item:
    children = [Item(to_record(INSURED, d)), Item(to_record(PATIENT, d)),
                Item(to_record(COVERAGE, d))]  # fmt: skip
    children += [
        Item(to_record(ACT if isinstance(line, DecompteAct) else STAY, line)) for line in d.lines
    ]
    return Item(to_record(DECOMPTE, d), children)


def parse(data: bytes) -> OcDecomptes:
    """The typed file; FormatError if an entity or the hierarchy is wrong."""
    return _typed(*noemie.decode(REF, data))


def read(data: bytes) -> tuple[list[Anomaly], OcDecomptes | None]:
    """:func:`validate` and :func:`parse` from one decoding (:func:`noemie.read`): the
    anomalies, and the typed file when there are none."""
    return noemie.read(REF, data, _checks, _typed)


def _typed(records: list[Record], tree: noemie.Tree) -> OcDecomptes:
    (receiver,) = tree.items  # the hierarchy allows one 010
    days = []
    for day in receiver.children:
        decomptes = tuple(_decompte(records, node) for node in day.children)
        days.append(from_record(AccountingDay, records[day.index], decomptes=decomptes))
    return from_record(
        OcDecomptes, records[tree.header], oc_number=records[receiver.index]["oc_number"],
        days=tuple(days),
    )  # fmt: skip


def _decompte(records: list[Record], node: Node) -> Decompte:
    values: dict[str, object] = {}
    lines: list[DecompteLine] = []
    for child in node.children:
        rec = records[child.index]
        if rec.code == "255":
            lines.append(from_record(DecompteAct, rec))
        elif rec.code == "220":
            lines.append(from_record(DecompteStayLine, rec))
        else:
            values.update((k, v) for k, v in rec.values.items() if k in _DECOMPTE_FIELDS)
    return from_record(Decompte, records[node.index], **values, lines=tuple(lines))


# -- the B2 form of the same décomptes --------------------------------------------------------


def expense_qualifier(fee_amount: int, base: int) -> str:
    """DPN-QLF as noemie-sim writes it (a convention): ``D`` when the act bills more than
    its base (a dépassement), else ``N``."""
    return "D" if fee_amount > base else "N"


def from_b2(dec: b2.B2File, accounting_date: date) -> OcDecomptes:
    """The NOEMIE OC form of a caisse's B2 décompte file (nature DEC), for the same OC, with
    the same file number and time: its décomptes in file order, each with the PS of its lot.
    Every line is a B2 Type 4 or Type 3 (what a caisse liquidates, :data:`b2.SETTLED_LINES`);
    ValueError otherwise."""
    decomptes = tuple(_from_invoice(inv, lot.ps_number) for lot in dec.lots for inv in lot.invoices)
    return OcDecomptes(
        dec.sender, dec.receiver, dec.file_id, dec.created_at, dec.receiver,
        (AccountingDay(accounting_date, decomptes),),
    )  # fmt: skip


def _from_invoice(inv: b2.Invoice, ps_number: str) -> Decompte:
    return Decompte(
        decompte_number=inv.invoice_number,
        care_date=inv.invoice_date,
        ps_number=ps_number,
        tiers_payant=inv.tiers_payant,
        care_pathway=inv.care_pathway,
        insured_nir=inv.insured_nir,
        insured_nir_key=inv.insured_nir_key,
        beneficiary_nir=inv.beneficiary_nir,
        beneficiary_nir_key=inv.beneficiary_nir_key,
        birth_date=inv.birth_date,
        birth_rank=inv.birth_rank,
        insurance_nature=inv.insurance_nature,
        grand_regime=inv.grand_regime,
        managing_caisse=inv.managing_caisse,
        managing_centre=inv.managing_centre,
        exemption=inv.exemption,
        lines=tuple(_from_line(line) for line in inv.lines),
    )


def _from_line(line: b2.Line) -> DecompteLine:
    if isinstance(line, b2.ProfessionalAct):
        return DecompteAct(
            line.act_code, line.care_date, line.quantity, line.coefficient, line.unit_price,
            line.fee_amount, line.base, line.rate, line.amo_amount, line.specialty,
            expense_qualifier(line.fee_amount, line.base), line.exemption,
            _deductions(line.base, line.rate, line.fee_amount, line.amo_amount),
            line.treatment_mode, line.discipline,
        )  # fmt: skip
    if isinstance(line, b2.HospitalLine):
        return DecompteStayLine(
            line.act_code, line.care_date, line.quantity, line.coefficient, line.unit_price,
            line.total_amount, line.base, line.rate, line.amo_amount, line.exemption,
            line.treatment_mode, line.discipline,
        )  # fmt: skip
    raise ValueError(f"a décompte carries the lines a caisse liquidates, not {type(line)}")


def _deductions(base: int, rate: int, fee: int, amo: int) -> int:
    """What the caisse withheld from an act's AMO part (participation forfaitaire,
    franchise): the rate of the base (in cents, halves up) and at most the fee, less what it
    paid. The B2 form leaves the mutuelle to work it out the same way."""
    return max(0, min((base * rate + 50) // 100, fee) - amo)


def to_b2(doc: OcDecomptes) -> b2.B2File:
    """The décomptes of ``doc`` as the B2 form carries them (nature DEC): one lot per run of
    décomptes of the same PS, numbered from 1, each dated on its accounting day; what the
    OC form does not carry takes its B2 default (no NABM, CCAM or AMC detail, MCO
    coefficient 1)."""
    lots: list[b2.Lot] = []
    for day in doc.days:
        for ps_number, decomptes in _runs(day.decomptes):
            invoices = tuple(_to_invoice(d, doc.oc_number) for d in decomptes)
            lots.append(b2.Lot(len(lots) + 1, ps_number, doc.sender, day.accounting_date,
                               invoices))  # fmt: skip
    return b2.B2File("DEC", doc.sender_type, doc.sender, doc.receiver_type, doc.receiver,
                     doc.file_id, doc.created_at, tuple(lots))  # fmt: skip


def _runs(decomptes: tuple[Decompte, ...]) -> Iterator[tuple[str, list[Decompte]]]:
    run: list[Decompte] = []
    for d in decomptes:
        if run and run[0].ps_number != d.ps_number:
            yield run[0].ps_number, run
            run = []
        run.append(d)
    if run:
        yield run[0].ps_number, run


def _to_invoice(d: Decompte, oc_number: str) -> b2.Invoice:
    return b2.Invoice(
        invoice_number=d.decompte_number,
        insured_nir=d.insured_nir,
        insured_nir_key=d.insured_nir_key,
        beneficiary_nir=d.beneficiary_nir,
        beneficiary_nir_key=d.beneficiary_nir_key,
        birth_date=d.birth_date,
        invoice_date=d.care_date,
        lines=tuple(_to_line(line) for line in d.lines),
        birth_rank=d.birth_rank,
        grand_regime=d.grand_regime,
        managing_caisse=d.managing_caisse,
        managing_centre=d.managing_centre,
        tiers_payant=d.tiers_payant,
        insurance_nature=d.insurance_nature,
        exemption=d.exemption,
        oc_contract_type="01",
        oc_number=oc_number,
        top_mutualiste=True,
        care_pathway=d.care_pathway,
    )


def _to_line(line: DecompteLine) -> b2.ProfessionalAct | b2.HospitalLine:
    if isinstance(line, DecompteAct):
        return b2.ProfessionalAct(
            care_date=line.care_date, act_code=line.act_code, unit_price=line.unit_price,
            base=line.base, rate=line.rate, amo_amount=line.amo_amount,
            fee_amount=line.fee_amount, quantity=line.quantity, coefficient=line.coefficient,
            specialty=line.specialty, exemption=line.exemption,
            treatment_mode=line.treatment_mode, discipline=line.discipline,
        )  # fmt: skip
    return b2.HospitalLine(
        care_date=line.care_date, act_code=line.act_code, quantity=line.quantity,
        coefficient=line.coefficient, mco_coefficient=10000, unit_price=line.unit_price,
        base=line.base, rate=line.rate, amo_amount=line.amo_amount,
        total_amount=line.total_amount, exemption=line.exemption,
        treatment_mode=line.treatment_mode, discipline=line.discipline,
    )  # fmt: skip


# -- validation -----------------------------------------------------------------------------


def validate(data: bytes) -> list[Anomaly]:
    """Every anomaly: the generic NOEMIE checks (990 counts and totals, the 999), then the
    référence's own: the 010 is the file's receiver and a valid OC number; each décompte's
    number is non-zero and used once in the file, its PS's n° AM and both NIRs (the
    bénéficiaire's against the birth date) pass the identifier law; each line pays at most
    what it bills and the rate of its base, deducts at most that, and an act's DPN-QLF says
    whether it bills beyond its base."""
    return check(data).kept


def check(data: bytes, limit: int | None = None) -> Findings:
    """:func:`validate` in bounded memory, the first ``limit`` anomalies kept
    (:func:`noemie.check`)."""
    return noemie.check(REF, data, _checks, limit)


def _checks(check: Checker, oc: Node) -> None:
    """The référence's own checks on its one 010 and what it holds (the header, the file's
    first entity, is still in the window: nothing is released before the first 010 is
    checked)."""
    records = check.records
    receiver = records[0].string("receiver")
    check.number(oc.index, "oc_number", "OC number")
    check.equal(oc.index, "oc_number", receiver, records[oc.index]["oc_number"],
                "décomptes for another OC than the file's receiver")  # fmt: skip
    seen: set[int] = set()
    for day in oc.children:
        for dec in day.children:
            head = records[dec.index]
            number = head.number("decompte_number")
            if number == 0 or number in seen:
                check.fail(dec.index, "decompte_number",
                           "décompte number zero or already used in this file",
                           "a unique non-zero number", number)  # fmt: skip
            seen.add(number)
            check.number(dec.index, "ps_number", "n° AM")
            for child in dec.children:
                rec = records[child.index]
                if rec.code == "110":
                    check.nir(child.index, "insured_nir", "insured_nir_key")
                elif rec.code == "120":
                    birth = rec["birth_date"]
                    assert isinstance(birth, date)
                    check.nir(child.index, "beneficiary_nir", "beneficiary_nir_key", birth)
                elif rec.code in _LINES:
                    _check_line(check, child.index, rec)


def _check_line(check: Checker, i: int, rec: Record) -> None:
    billed = rec.number("fee_amount" if rec.code == "255" else "total_amount")
    base, rate, amo = rec.number("base"), rec.number("rate"), rec.number("amo_amount")
    if amo > billed:
        check.fail(i, "amo_amount", "AMO part exceeds the amount billed", f"at most {billed}", amo)
    elif amo * 100 > base * rate + 99:  # to the cent above, however it was rounded
        check.fail(i, "amo_amount", "AMO part exceeds the rate of the base",
                   f"at most {rate} % of {base}", amo)  # fmt: skip
    if rec.code == "255":
        gross = min((base * rate + 50) // 100, billed)
        if amo + rec.number("deductions") > max(gross, amo):
            check.fail(i, "deductions", "deductions exceed the AMO part before them",
                       f"at most {max(0, gross - amo)}", rec["deductions"])  # fmt: skip
        check.equal(i, "expense_qualifier", expense_qualifier(billed, base),
                    rec["expense_qualifier"], "DPN-QLF differs from the amounts")  # fmt: skip
