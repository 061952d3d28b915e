"""NOEMIE return to a PS (référence 580-style): payments and rejects of its invoices.

Hierarchy (levels are project conventions except FAC = 05, documented by the 990 niveau 05 that
closes an invoice, norms.md §4.3)::

    000 NOP-ENT
      040 NOP-DRG  (01) destinataire du règlement: the PS
        070 NOP-DAT  (02) date journée comptable
          080 NOP-LOT  (03) a lot received
            100 NOP-FAC  (05) an invoice: 110 ASS, 120 MAL, 150 ASU, [010 OCO],
                              [170 CSS part C2S], 210/212/216 acts,
                              290 LRS rejets or signalements
            990 (05)
          990 (03)
          250 NOP-MFI  (03) the day's financial movements (payments to the PS)
        990 (02)
      990 (01)
    999 NOP-FIN

990 amount_1 is the AMO amount paid, amount_2 the amount billed, summed over acts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from . import noemie
from .codec import Kind, Record, RecordLayout, amount, num, text, when
from .errors import Anomaly, Findings
from .keys import NIR_PATTERN
from .model import Checker, from_record, rebind, to_record
from .noemie import CODE, Item, Node, Reference, Slot, entity

REFERENCE = "580"

PAYEE = entity(
    "040",
    "NOP-DRG",
    "Destinataire du règlement",
    1,
    45,
    text("payee_number", 6, 15, "Identifiant du destinataire (n° AM du PS)", CODE),
    text("payee_name", 21, 25, "Nom du destinataire", optional=True),
)
DAY = entity(
    "070",
    "NOP-DAT",
    "Date journée comptable",
    2,
    11,
    when("accounting_date", 6, Kind.DATE_DMY, "Date journée comptable", CODE),
)
LOT = entity(
    "080",
    "NOP-LOT",
    "Lot",
    3,
    24,
    when("lot_date", 6, Kind.DATE_DMY, "Date du lot (position supposée, norms.md §4.3)"),
    num("lot_number", 12, 3, "N° de lot", CODE),
    num("file_id", 15, 10, "N° du fichier B2 qui portait le lot"),
)
INVOICE = entity(
    "100",
    "NOP-FAC",
    "Facture",
    5,
    22,
    num("invoice_number", 6, 9, "N° de facture (= B2 Type 2 pos 30)", CODE),
    when("care_date", 15, Kind.DATE_DMY, "Date des soins (premier acte)"),
    text(
        "status", 21, 1, "Issue: P payée, T partiellement payée, R rejetée", choices=("P", "T", "R")
    ),
    text("tiers_payant", 22, 1, "Dispense d'avance de frais (O/N)", choices=("O", "N")),
)
INSURED = entity(
    "110",
    "NOP-ASS",
    "Assuré",
    6,
    87,
    text("insured_nir", 6, 13, "Matricule de l'assuré (NIR)", CODE, pattern=NIR_PATTERN),
    num("insured_nir_key", 19, 2, "Clé du NIR", CODE),
    text("insured_last_name", 22, 25, "Nom de l'assuré", CODE),
    text("insured_first_name", 73, 15, "Prénom de l'assuré", CODE),
)
PATIENT = entity(
    "120",
    "NOP-MAL",
    "Malade (bénéficiaire)",
    6,
    52,
    when(
        "patient_birth_date", 6, Kind.DATE_DMY, "Date de naissance (AA < 30: 20AA)", CODE, pivot=30
    ),
    num("patient_birth_rank", 12, 1, "Rang de naissance", CODE),
    text("patient_last_name", 13, 25, "Nom du malade", CODE),
    text("patient_first_name", 38, 15, "Prénom du malade", CODE),
)
NATURE = entity(
    "150",
    "NOP-ASU",
    "Nature d'assurance",
    6,
    7,
    text("insurance_nature", 6, 2, "Nature d'assurance", CODE),
)
OC = entity(
    "010",
    "NOP-OCO",
    "Organisme complémentaire",
    6,
    13,
    text("oc_number", 6, 8, "N° d'organisme complémentaire", CODE, pattern=r"[0-9]{8}"),
)

#: The part complémentaire the caisse pays as gestionnaire of a patient's complémentaire
#: santé solidaire (C2S), beside the AMO amounts of the acts: a convention of noemie-sim (no
#: public source gives where the return says it), present only when the caisse pays one. Its
#: number 170 is one the NOEMIE PS dictionary does not use (norms.md §4.2: 160 is NOP-ARC,
#: the critère d'archivage).
C2S = entity(
    "170",
    "NOP-CSS",
    "Part complémentaire C2S versée par la caisse",
    6,
    16,
    amount("c2s_amount", 6, 11, "Montant de la part complémentaire C2S (convention)"),
)


def _act(number: str, label: str, title: str, *extra: object) -> RecordLayout:
    return entity(
        number,
        label,
        title,
        6,
        71 + 9 * len(extra),
        text("act_code", 6, 5, "Code acte"),
        when("care_date", 11, Kind.DATE_DMY, "Date des soins"),
        num("quantity", 17, 2, "Quantité"),
        num("coefficient", 19, 6, "Coefficient (4 + 2 décimales)"),
        amount("fee_amount", 25, 11, "Montant des honoraires"),
        amount("base", 36, 11, "Base de remboursement"),
        num("rate", 47, 3, "Taux (%)"),
        amount("amo_amount", 50, 11, "Montant remboursé AMO"),
        amount("deductions", 61, 11, "Participation forfaitaire et franchises déduites"),
        *extra,
    )


ACT = _act("210", "NOP-PAP", "Acte professionnel")
ACT_EXECUTANT = _act(
    "212",
    "NOP-PEX",
    "Acte professionnel avec exécutant",
    text("executant", 72, 9, "N° AM de l'exécutant", pattern=r"[0-9]{9}"),
)
ACT_PRESCRIBER = _act(
    "216",
    "NOP-PEP",
    "Acte professionnel avec exécutant et prescripteur",
    text("executant", 72, 9, "N° AM de l'exécutant", pattern=r"[0-9]{9}"),
    text("prescriber", 81, 9, "N° AM du prescripteur", pattern=r"[0-9]{9}"),
)
NOTICE = entity(
    "290",
    "NOP-LRS",
    "Rejet ou signalement",
    6,
    74,
    text("notice_type", 6, 1, "R rejet, S signalement", choices=("R", "S")),
    text(
        "code",
        7,
        8,
        "Code rejet/signalement NNNN NNN (norms.md §4.5)",
        pattern=r"[0-9]{4} [0-9]{3}",
    ),
    text("label", 15, 60, "Libellé"),
)
MOVEMENT = entity(
    "250",
    "NOP-MFI",
    "Mouvement financier",
    3,
    33,
    text("reference", 6, 10, "Référence du virement"),
    when("value_date", 16, Kind.DATE_DMY, "Date de valeur"),
    amount("amount", 22, 11, "Montant"),
    text("direction", 33, 1, "Sens: C crédit au PS, D débit", choices=("C", "D")),
)


_ACTS = ("210", "212", "216")

REF = Reference(
    number=REFERENCE,
    title="Retour NOEMIE au PS (paiements, rejets, signalements)",
    layouts={
        lay.code: lay
        for lay in (
            noemie.header_layout(REFERENCE),
            PAYEE,
            DAY,
            LOT,
            INVOICE,
            INSURED,
            PATIENT,
            NATURE,
            OC,
            C2S,
            ACT,
            ACT_EXECUTANT,
            ACT_PRESCRIBER,
            NOTICE,
            MOVEMENT,
            noemie.control_layout("Montant remboursé AMO du niveau", "Montant facturé du niveau"),
            noemie.trailer_layout(),
        )
    },
    groups={"040": 1, "070": 2, "080": 3, "100": 5},
    contents={
        "000": (Slot(("040",), 1, None),),
        "040": (Slot(("070",), 1, None),),
        "070": (Slot(("080",), 0, None), Slot(("250",), 0, None)),
        "080": (Slot(("100",), 1, None),),
        "100": (
            Slot(("110",)),
            Slot(("120",)),
            Slot(("150",)),
            Slot(("010",), 0, 1),
            Slot(("170",), 0, 1),
            Slot(_ACTS, 1, None),
            Slot(("290",), 0, None),
        ),
    },
    totals={code: ("amo_amount", "fee_amount") for code in _ACTS},
)


def use(ref: Reference) -> None:
    """Speak a norms pack's NOEMIE 580 tables from now on
    (:func:`noemie_sim.sim.norms.pack.install` calls it with tables it has checked)."""
    global REF
    REF = ref
    rebind(globals(), ref.layouts)


# -- typed model ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnAct:
    """An act as liquidated: 210, or 212 with an exécutant, or 216 with a prescripteur too."""

    act_code: str
    care_date: date
    fee_amount: int
    base: int
    rate: int
    amo_amount: int
    deductions: int = 0
    quantity: int = 1
    coefficient: int = 100
    executant: str | None = None
    prescriber: str | None = None


@dataclass(frozen=True)
class Notice:
    """290 NOP-LRS: a reject (R) or a signalement (S), with its code and label."""

    notice_type: str
    code: str
    label: str


@dataclass(frozen=True)
class ReturnInvoice:
    invoice_number: int
    care_date: date
    status: str
    tiers_payant: str
    insured_nir: str
    insured_nir_key: int
    insured_last_name: str
    insured_first_name: str
    patient_birth_date: date
    patient_birth_rank: int
    patient_last_name: str
    patient_first_name: str
    insurance_nature: str
    acts: tuple[ReturnAct, ...]
    notices: tuple[Notice, ...] = ()
    oc_number: str | None = None
    #: the part complémentaire of a patient with the C2S, paid by the caisse (170 NOP-CSS)
    c2s_amount: int | None = None

    @property
    def amo_paid(self) -> int:
        return sum(a.amo_amount for a in self.acts)

    @property
    def paid(self) -> int:
        """What the caisse pays for the invoice: the AMO amounts of its acts and the C2S
        part."""
        return self.amo_paid + (self.c2s_amount or 0)


@dataclass(frozen=True)
class ReturnLot:
    lot_date: date
    lot_number: int
    file_id: int
    invoices: tuple[ReturnInvoice, ...]


@dataclass(frozen=True)
class Payment:
    """250 NOP-MFI: money moved to (C) or from (D) the PS on the accounting day."""

    reference: str
    value_date: date
    amount: int
    direction: str = "C"


@dataclass(frozen=True)
class AccountingDay:
    accounting_date: date
    lots: tuple[ReturnLot, ...]
    payments: tuple[Payment, ...] = ()


@dataclass(frozen=True)
class Payee:
    payee_number: str
    payee_name: str | None
    days: tuple[AccountingDay, ...]


@dataclass(frozen=True)
class PsReturn:
    """A whole 580 file from a caisse to a PS."""

    sender: str
    receiver: str
    file_id: int
    created_at: datetime
    payees: tuple[Payee, ...]
    sender_type: str = "CP"
    receiver_type: str = "PS"


def build(ret: PsReturn) -> bytes:
    """The file's bytes with every 990 and the 999 computed."""
    header = noemie.header_record(REF, ret)
    items = []
    for payee in ret.payees:
        days = []
        for day in payee.days:
            lots = [
                Item(to_record(LOT, lot), [_invoice_item(inv) for inv in lot.invoices])
                for lot in day.lots
            ]
            lots += [Item(to_record(MOVEMENT, p)) for p in day.payments]
            days.append(Item(to_record(DAY, day), lots))
        items.append(Item(to_record(PAYEE, payee), days))
    return noemie.build(REF, header, items)


def _invoice_item(inv: ReturnInvoice) -> Item:
    children = [
        Item(to_record(INSURED, inv)),
        Item(to_record(PATIENT, inv)),
        Item(to_record(NATURE, inv)),
    ]
    if inv.oc_number is not None:
        children.append(Item(to_record(OC, inv)))
    if inv.c2s_amount is not None:
        children.append(Item(to_record(C2S, inv)))
    for act in inv.acts:
        lay = ACT_PRESCRIBER if act.prescriber else ACT_EXECUTANT if act.executant else ACT
        children.append(Item(to_record(lay, act)))
    children += [Item(to_record(NOTICE, n)) for n in inv.notices]
    return Item(to_record(INVOICE, inv), children)


def parse(data: bytes) -> PsReturn:
    """The typed return; FormatError if an entity or the hierarchy is wrong."""
    return _typed(*noemie.decode(REF, data))


def read(data: bytes) -> tuple[list[Anomaly], PsReturn | None]:
    """:func:`validate` and :func:`parse` from one decoding (:func:`noemie.read`): the
    anomalies, and the typed file when there are none."""
    return noemie.read(REF, data, _checks, _typed)


def _typed(records: list[Record], tree: noemie.Tree) -> PsReturn:
    payees = []
    for payee in tree.items:
        days = []
        for day in payee.children:
            lots, payments = [], []
            for node in day.children:
                rec = records[node.index]
                if rec.code == "250":
                    payments.append(from_record(Payment, rec))
                    continue
                invoices = [_invoice(records, inv.index, inv.children) for inv in node.children]
                lots.append(from_record(ReturnLot, rec, invoices=tuple(invoices)))
            days.append(
                from_record(
                    AccountingDay, records[day.index], lots=tuple(lots), payments=tuple(payments)
                )
            )
        payees.append(from_record(Payee, records[payee.index], days=tuple(days)))
    return from_record(PsReturn, records[tree.header], payees=tuple(payees))


def _invoice(records: list[Record], index: int, children: list[noemie.Node]) -> ReturnInvoice:
    values: dict[str, object] = {"oc_number": None, "c2s_amount": None}
    acts, notices = [], []
    for child in children:
        rec = records[child.index]
        if rec.code in _ACTS:
            acts.append(from_record(ReturnAct, rec))
        elif rec.code == "290":
            notices.append(from_record(Notice, rec))
        else:
            values.update({k: v for k, v in rec.values.items()})
    return from_record(
        ReturnInvoice, records[index], **values, acts=tuple(acts), notices=tuple(notices)
    )


def validate(data: bytes) -> list[Anomaly]:
    """Every anomaly: the generic NOEMIE checks, NIR keys, invoice status consistent with its
    notices and amounts, and the day's payments equal to what the caisse owes the PS that day.

    The caisse pays the PS only for its *tiers payant* invoices (``tiers_payant`` O): the AMO
    part of the others goes to the assuré, who paid the PS. So the day's net 250 movements
    equal what its tiers payant invoices are paid, the AMO amounts and any C2S part
    (norms.md §8.1: tiers payant payment to the PS), and a day without any such amount needs
    no 250. A C2S part is at most what the AMO left of the fees."""
    return check(data).kept


def check(data: bytes, limit: int | None = None) -> Findings:
    """:func:`validate` in bounded memory, the first ``limit`` anomalies kept
    (:func:`noemie.check`)."""
    return noemie.check(REF, data, _checks, limit)


def _checks(check: Checker, payee: Node) -> None:
    """The référence's own checks on one top-level entity and what it contains."""
    records = check.records
    check.number(payee.index, "payee_number", "n° AM")
    for day in payee.children:
        owed = moved = 0
        movements: list[int] = []
        for node in day.children:
            rec = records[node.index]
            if rec.code == "250":
                sign = 1 if rec["direction"] == "C" else -1
                moved += sign * rec.number("amount")
                movements.append(node.index)
                continue
            for invoice in node.children:
                paid = _check_invoice(check, invoice)
                if records[invoice.index]["tiers_payant"] == "O":
                    owed += paid
        if movements and moved != owed:
            check.fail(
                movements[0],
                "amount",
                "the day's net payments differ from what its tiers payant invoices are paid",
                f"net {owed} cents",
                f"net {moved} cents",
            )
        elif not movements and owed:
            check.fail(
                day.index,
                "accounting_date",
                "amounts owed to the PS (tiers payant) with no 250 movement",
                f"a 250 NOP-MFI of {owed} cents",
                "none",
            )


def _check_invoice(check: Checker, inv: noemie.Node) -> int:
    """Check one invoice; return what the caisse pays for it: the AMO amount its acts pay
    and its C2S part."""
    records = check.records
    head = records[inv.index]
    rejected = any(
        records[c.index].code == "290" and records[c.index]["notice_type"] == "R"
        for c in inv.children
    )
    paid = left = 0
    c2s: int | None = None
    for child in inv.children:
        rec = records[child.index]
        if rec.code == "110":
            check.nir(child.index, "insured_nir", "insured_nir_key")
        elif rec.code == "170":
            c2s = child.index
        elif rec.code in _ACTS:
            paid += rec.number("amo_amount")
            left += max(0, rec.number("fee_amount") - rec.number("amo_amount"))
            if head["tiers_payant"] == "O" and rec.number("deductions"):
                check.fail(
                    child.index,
                    "deductions",
                    "PF and franchises deducted from a tiers payant payment",
                    "0 (they go to the assuré's account, recovered from later reimbursements)",
                    rec["deductions"],
                )
            if rec.number("amo_amount") > rec.number("fee_amount"):
                check.fail(
                    child.index,
                    "amo_amount",
                    "AMO amount exceeds the fee",
                    f"at most {rec.number('fee_amount')}",
                    rec["amo_amount"],
                )
    if c2s is not None:
        amount = records[c2s].number("c2s_amount")
        if amount > left:
            check.fail(
                c2s,
                "c2s_amount",
                "C2S part exceeds what the AMO left of the fees",
                f"at most {left}",
                amount,
            )
        paid += amount
    status = head["status"]
    if status == "R" and (paid or not rejected):
        check.fail(
            inv.index,
            "status",
            "a rejected invoice pays nothing and carries a 290 R",
            "status consistent with the acts and notices",
            status,
        )
    if status != "R" and rejected and not paid:
        check.fail(
            inv.index, "status", "an invoice rejected in full must have status R", "R", status
        )
    return paid
