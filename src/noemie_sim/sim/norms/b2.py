"""Norme B2 files: FSE lots (PS -> CPAM) and décompte files (CPAM -> mutuelle).

Records are 128 ASCII characters (norms.md §2.1). The detail records 2, 2S, 3, 3F, 3H, 4, 4M and
5 use the positions documented by the ATIH RSF-ACE 2023 transcription (norms.md §2.2). What the
public documentation does not give is a project convention, marked as such in the tables and in
docs/norms.md:

* positions 1-11 of every record: record type (2), lot number (3, 000 outside lots) and the
  record's sequence number in the file (6);
* the records "0 " (début de fichier), "1 " (début de lot), "8 " (fin de lot) and "9 " (fin de
  fichier), whose trailers carry counts and amount totals;
* the file header's nature: ``FSE`` for a PS's lots, ``DEC`` for the daily décompte file that a
  CPAM sends to one mutuelle (the seeds' "fichiers B2" from CPAM to OC).

Structure: 0 (1 (2 2S line+ 5)+ 8)+ 9, where a line is 4 [4M] 4B* (professional act, its CCAM
detail, the NABM analyses of a biology act) or 3, 3F, 3H (établissement lines).
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

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
from .keys import NIR_PATTERN
from .model import Checker, Cursor, OnePass, from_record, rebind, to_record

#: The detail positions are those of the B2 "CP" variant as ATIH's RSF-ACE 2023 transcribes
#: them; the variant a PS sends is not public (norms.md §2.2).
RSF = "RSF-ACE 2023, B2 CP variant (norms.md §2.2)"
#: Grand régime codes accepted by B2 (norms.md §2.2, Type 2 pos 49).
GRAND_REGIMES = tuple(
    f"{n:02d}" for n in (*range(1, 11), 12, 14, 15, 16, 17, 80, 90, 91, 92, 93, 94, 95, 96, 99)
)
#: Natures d'assurance accepted in Type 2 pos 77: the RSF-ACE list (norms.md §2.2). 40, an
#: AT-MP nature in SNDS (§7.6), is not in it: AT-MP is 41 here.
INSURANCE_NATURES = ("10", "13", "30", "41", "90")
FRAMING: FixedFraming = FIXED_128


def _b2(code: str, name: str, label: str, *fields_: Field, doc: str = "") -> RecordLayout:
    return record_128(code, name, label, *fields_, lot="N° de lot (000 hors lot)",
                      seq="N° d'ordre de l'enregistrement dans le fichier", doc=doc)  # fmt: skip


FILE_HEADER = _b2(
    "0 ",
    "Type 0",
    "Début de fichier",
    text(
        "nature",
        12,
        3,
        "Nature du fichier (FSE: lots de FSE, DEC: décomptes vers OC)",
        choices=("FSE", "DEC"),
    ),
    text("version", 15, 3, "Version des conventions noemie-sim", choices=("001",)),
    text("sender_type", 18, 2, "Type d'émetteur (PS, CP caisse, OC)", choices=("PS", "CP", "OC")),
    text("sender", 20, 14, "Identifiant de l'émetteur"),
    text("receiver_type", 34, 2, "Type de destinataire", choices=("PS", "CP", "OC")),
    text("receiver", 36, 14, "Identifiant du destinataire"),
    num("file_id", 50, 10, "N° de fichier (unique par émetteur)"),
    when("created_at", 60, Kind.TIMESTAMP, "Date et heure de création"),
)
LOT_HEADER = _b2(
    "1 ",
    "Type 1",
    "Début de lot",
    text("ps_number", 12, 9, "N° AM du PS émetteur du lot (8 chiffres + clé)", pattern=r"[0-9]{9}"),
    text(
        "receiver",
        21,
        9,
        "Organisme destinataire (régime 2 + caisse 3 + centre 4)",
        pattern=r"[0-9]{9}",
    ),
    when("lot_date", 30, Kind.DATE8, "Date de constitution du lot"),
)
INVOICE = _b2(
    "2 ",
    "Type 2",
    "Facture / assuré",
    text(
        "insured_nir",
        12,
        13,
        "N° d'immatriculation de l'assuré (NIR sans clé)",
        RSF,
        pattern=NIR_PATTERN,
    ),
    num("insured_nir_key", 25, 2, "Clé du NIR", RSF),
    num("beneficiary_rank", 27, 3, "Rang de bénéficiaire", RSF),
    num("invoice_number", 30, 9, "N° de facture", RSF),
    text("operation_nature", 39, 1, "Nature d'opération", RSF),
    num("entry_number", 40, 9, "N° d'entrée (établissement)", RSF, optional=True),
    text("grand_regime", 49, 2, "Code grand régime", RSF, choices=GRAND_REGIMES),
    num("managing_caisse", 51, 3, "Caisse gestionnaire"),
    num("managing_centre", 54, 4, "Centre gestionnaire"),
    when("invoice_date", 58, Kind.DATE_DMY, "Date d'élaboration de la facture"),
    text("tiers_payant", 64, 1, "Dispense d'avance de frais (O/N)", choices=("O", "N")),
    text("insurance_nature", 77, 2, "Nature d'assurance", RSF, choices=INSURANCE_NATURES),
    text("exemption", 79, 1, "Justification d'exonération du TM", RSF, optional=True),
    text("at_number", 86, 9, "N° AT ou date d'accident + 000", RSF, optional=True),
    when("birth_date", 96, Kind.DATE_DMY, "Date de naissance (AA < 30: 20AA)", RSF, pivot=30),
    num("birth_rank", 102, 1, "Rang de naissance", RSF),
    when("entry_date", 103, Kind.DATE_DMY, "Date d'entrée", RSF, optional=True),
    when("exit_date", 109, Kind.DATE_DMY, "Date de sortie", RSF, optional=True),
    text(
        "top_mutualiste_flag",
        116,
        1,
        "Top mutualiste (M) pour les fichiers DEC",
        optional=True,
        choices=("M",),
    ),
    text("oc_contract_type", 117, 2, "Type de contrat OC", RSF, optional=True),
    text(
        "oc_field",
        119,
        10,
        "N° OC (00 + 8 chiffres) ou blancs + 'M' top mutualiste en 128",
        RSF,
        optional=True,
        pattern=r"00[0-9]{8}| {9}M",
    ),
)
BENEFICIARY = _b2(
    "2S",
    "Type 2S",
    "Bénéficiaire",
    text("beneficiary_nir", 50, 13, "NIR individuel du bénéficiaire", RSF, pattern=NIR_PATTERN),
    num("beneficiary_nir_key", 63, 2, "Clé du NIR individuel", RSF),
    text(
        "care_pathway",
        121,
        1,
        "Indicateur de parcours de soins",
        RSF,
        optional=True,
        choices=tuple("ABDHJMNORSTU"),
    ),
)
HOSPITAL = _b2(
    "3 ",
    "Type 3",
    "Prestation hospitalière",
    text("treatment_mode", 39, 2, "Mode de traitement", RSF, optional=True),
    text("discipline", 41, 3, "Discipline de prestation", RSF, optional=True),
    when("care_date", 44, Kind.DATE_DMY, "Date des soins / début de séjour", RSF),
    text("act_code", 56, 5, "Code acte (4 + 1)", RSF),
    num("quantity", 61, 3, "Quantité", RSF),
    text("exemption", 64, 1, "Justification d'exonération du TM", RSF, optional=True),
    num("coefficient", 65, 5, "Coefficient (3 + 2 décimales)", RSF),
    num("mco_coefficient", 71, 5, "Coefficient MCO (1 + 4 décimales)", RSF),
    amount("unit_price", 76, 7, "Prix unitaire", RSF),
    amount("base", 83, 8, "Base de remboursement", RSF),
    num("rate", 91, 3, "Taux de remboursement (%)", RSF),
    amount("amo_amount", 94, 8, "Montant remboursable AMO", RSF),
    amount("total_amount", 102, 8, "Montant total de la dépense", RSF),
    amount("amc_amount", 122, 7, "Montant AMC", RSF),
)
LPP = _b2(
    "3F",
    "Type 3F",
    "Prestation LPP",
    text("lpp_code", 43, 13, "Code LPP", RSF),
    num("quantity", 70, 2, "Quantité", RSF),
    amount("tariff", 72, 7, "Tarif", RSF),
    amount("total_amount", 79, 7, "Montant total", RSF),
    amount("unit_purchase_price", 86, 7, "Prix d'achat unitaire", RSF),
    amount("unit_gap", 93, 7, "Écart indemnisable unitaire", RSF),
    amount("total_gap", 100, 7, "Écart indemnisable total", RSF),
)
UCD = _b2(
    "3H",
    "Type 3H",
    "Médicament UCD en sus",
    text("ucd_code", 49, 7, "Code UCD", RSF),
    num("split_coefficient", 57, 5, "Coefficient de fractionnement (1 + 4 décimales)", RSF),
    amount("purchase_price", 67, 7, "Prix d'achat TTC", RSF),
    amount("unit_gap", 74, 7, "Écart indemnisable unitaire", RSF),
    amount("total_gap", 81, 7, "Écart indemnisable total", RSF),
    num("quantity", 88, 3, "Quantité", RSF),
    amount("total_amount", 91, 7, "Montant total facturé", RSF),
)
ACT = _b2(
    "4 ",
    "Type 4",
    "Honoraires / acte",
    text("treatment_mode", 39, 2, "Mode de traitement", RSF, optional=True),
    text("discipline", 41, 3, "Discipline de prestation", RSF, optional=True),
    text("exemption", 54, 1, "Justification d'exonération du TM", RSF, optional=True),
    text("specialty", 68, 2, "Spécialité de l'exécutant", RSF, pattern=r"[0-9]{2}"),
    when("care_date", 70, Kind.DATE_DMY, "Date des soins", RSF),
    text("act_code", 76, 5, "Code acte (4 + 1)", RSF),
    num("quantity", 81, 2, "Quantité", RSF),
    num("coefficient", 83, 6, "Coefficient (4 + 2 décimales)", RSF),
    num("count", 89, 2, "Dénombrement", RSF),
    amount("unit_price", 91, 7, "Prix unitaire", RSF),
    amount("base", 98, 7, "Base de remboursement", RSF),
    num("rate", 105, 3, "Taux de remboursement (%)", RSF),
    amount("amo_amount", 108, 7, "Montant AMO", RSF),
    amount("fee_amount", 115, 8, "Montant des honoraires (dépassement compris)", RSF),
    amount("amc_amount", 123, 6, "Montant AMC", RSF),
)
CCAM = _b2(
    "4M",
    "Type 4M",
    "Détail CCAM",
    text("ccam_code", 43, 7, "Code CCAM", RSF, pattern=r"[A-Z]{4}[0-9]{3}"),
    text("doc_extension", 56, 1, "Extension documentaire", RSF, optional=True),
    text("activity", 57, 1, "Activité", RSF),
    text("phase", 58, 1, "Phase", RSF),
    text("modifiers", 59, 4, "Modificateurs 1 à 4", RSF, optional=True),
    text("association", 63, 1, "Code association non prévue", RSF, optional=True),
    text("conditional", 64, 1, "Remboursement sous condition", RSF, optional=True),
    text(
        "teeth",
        71,
        32,
        "N° de dents (ISO 3950, 2 chiffres chacun)",
        RSF,
        optional=True,
        pattern=r"(?:[0-9]{2}){1,16}",
    ),
)
#: Type 4B: up to five NABM analyses per record, each its date, quantity and code (8 digits:
#: the NABM's 4, zero-padded on the left, a convention), at the positions norms.md §2.2 gives
#: (49, 65, 81, 97, 113); the entries are filled in order, the first always.
NABM_ENTRIES = 5
BIOLOGY = _b2(
    "4B",
    "Type 4B",
    "Détail biologie (NABM)",
    *(
        fld
        for k in range(1, NABM_ENTRIES + 1)
        for fld in (
            when(f"date_{k}", 49 + 16 * (k - 1), Kind.DATE_DMY, f"Date de l'analyse {k}", RSF,
                 optional=k > 1),
            num(f"quantity_{k}", 55 + 16 * (k - 1), 2, f"Quantité de l'analyse {k}", RSF,
                optional=k > 1),
            text(f"nabm_{k}", 57 + 16 * (k - 1), 8, f"Code NABM de l'analyse {k}", RSF,
                 optional=k > 1, pattern=r"[0-9]{8}"),
        )
    ),
)  # fmt: skip
INVOICE_END = _b2(
    "5 ",
    "Type 5",
    "Fin de facture (totaux)",
    num("invoice_number", 12, 9, "N° de facture (rappel)"),
    num("line_count", 21, 3, "Nombre de lignes de prestation"),
    amount("total_hospital_base", 42, 8, "Total BR prestations hospitalières", RSF),
    amount("total_hospital_amo", 50, 8, "Total AMO prestations hospitalières", RSF),
    amount("total_fees", 58, 8, "Total honoraires facturés", RSF),
    amount("total_fees_amo", 66, 8, "Total honoraires remboursable AM", RSF),
    amount("total_patient_share", 74, 8, "Total participation assuré avant OC", RSF),
    amount("total_hospital_amc", 82, 8, "Total OC prestations hospitalières", RSF),
    amount("total_fees_amc", 90, 8, "Total OC honoraires", RSF),
    amount("total_hospital_billed", 115, 8, "Montant total facturé prestations hospitalières", RSF),
)
LOT_END = _b2(
    "8 ",
    "Type 8",
    "Fin de lot",
    num("invoice_count", 12, 5, "Nombre de factures du lot"),
    num("record_count", 17, 6, "Nombre d'enregistrements du lot (début et fin compris)"),
    amount("total_billed", 23, 11, "Total facturé du lot"),
    amount("total_amo", 34, 11, "Total AMO du lot"),
    amount("total_amc", 45, 11, "Total AMC du lot"),
)
FILE_END = _b2(
    "9 ",
    "Type 9",
    "Fin de fichier",
    num("lot_count", 12, 3, "Nombre de lots"),
    num("record_count", 15, 7, "Nombre d'enregistrements du fichier"),
    amount("total_billed", 22, 12, "Total facturé du fichier"),
    amount("total_amo", 34, 12, "Total AMO du fichier"),
    amount("total_amc", 46, 12, "Total AMC du fichier"),
)

LAYOUTS: dict[str, RecordLayout] = {
    lay.code: lay
    for lay in (
        FILE_HEADER,
        LOT_HEADER,
        INVOICE,
        BENEFICIARY,
        HOSPITAL,
        LPP,
        UCD,
        ACT,
        CCAM,
        BIOLOGY,
        INVOICE_END,
        LOT_END,
        FILE_END,
    )
}


def _named(lay: RecordLayout) -> str:
    """How messages name a record of this format."""
    return f"{lay.name} ({lay.label})"


NAMES = {code: _named(lay) for code, lay in LAYOUTS.items()}


def use(framing: FixedFraming, layouts: Mapping[str, RecordLayout]) -> None:
    """Speak a norms pack's tables from now on (:func:`noemie_sim.sim.norms.pack.install`
    calls it with tables it has checked: the same record codes and every field named here)."""
    rebind(globals(), layouts, framing, _named)


# -- typed model ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CcamDetail:
    """Type 4M: the CCAM coding of the act it follows."""

    ccam_code: str
    activity: str = "1"
    phase: str = "0"
    doc_extension: str | None = None
    modifiers: str | None = None
    association: str | None = None
    conditional: str | None = None
    teeth: str | None = None


@dataclass(frozen=True)
class NabmAnalysis:
    """One entry of a Type 4B: an analysis of the NABM (its code on 8 digits) of the B act
    the record follows."""

    care_date: date
    code: str
    quantity: int = 1


@dataclass(frozen=True)
class ProfessionalAct:
    """Type 4: one professional act (NGAP key letter or CCAM), amounts in cents."""

    care_date: date
    act_code: str
    unit_price: int
    base: int
    rate: int
    amo_amount: int
    fee_amount: int
    amc_amount: int = 0
    quantity: int = 1
    coefficient: int = 100
    count: int = 1
    specialty: str = "01"
    treatment_mode: str | None = None
    discipline: str | None = None
    exemption: str | None = None
    ccam: CcamDetail | None = None
    #: the NABM analyses of a biology act (key letter B), written in Type 4B records
    biology: tuple[NabmAnalysis, ...] = ()


@dataclass(frozen=True)
class HospitalLine:
    """Type 3: an établissement's line (séjour, forfait)."""

    care_date: date
    act_code: str
    quantity: int
    coefficient: int
    mco_coefficient: int
    unit_price: int
    base: int
    rate: int
    amo_amount: int
    total_amount: int
    amc_amount: int = 0
    treatment_mode: str | None = None
    discipline: str | None = None
    exemption: str | None = None

    @property
    def fee_amount(self) -> int:
        """What the line bills (as a Type 4's ``fee_amount``): its total."""
        return self.total_amount


@dataclass(frozen=True)
class LppLine:
    """Type 3F: a device of the LPP list."""

    lpp_code: str
    quantity: int
    tariff: int
    total_amount: int
    unit_purchase_price: int = 0
    unit_gap: int = 0
    total_gap: int = 0


@dataclass(frozen=True)
class UcdLine:
    """Type 3H: a costly drug billed on top of the stay (UCD)."""

    ucd_code: str
    quantity: int
    purchase_price: int
    total_amount: int
    split_coefficient: int = 10000
    unit_gap: int = 0
    total_gap: int = 0


Line = ProfessionalAct | HospitalLine | LppLine | UcdLine
#: the lines the caisse liquidates act by act: a PS's acts and an établissement's stay lines
SETTLED_LINES = (ProfessionalAct, HospitalLine)


@dataclass(frozen=True)
class Invoice:
    """One invoice (FSE): Type 2 and 2S, its lines, and the Type 5 totals computed from them."""

    invoice_number: int
    insured_nir: str
    insured_nir_key: int
    beneficiary_nir: str
    beneficiary_nir_key: int
    birth_date: date
    invoice_date: date
    lines: tuple[Line, ...]
    beneficiary_rank: int = 0
    birth_rank: int = 1
    operation_nature: str = "0"
    grand_regime: str = "01"
    managing_caisse: int = 0
    managing_centre: int = 0
    tiers_payant: str = "N"
    insurance_nature: str = "10"
    exemption: str | None = None
    at_number: str | None = None
    entry_number: int | None = None
    entry_date: date | None = None
    exit_date: date | None = None
    oc_contract_type: str | None = None
    oc_number: str | None = None
    top_mutualiste: bool = False
    care_pathway: str | None = None

    @functools.cached_property
    def totals(self) -> InvoiceTotals:
        """The Type 5 totals of its lines, added up once (an invoice is read for them by
        the caisse, the journal and the mutuelle: many times)."""
        return InvoiceTotals.of(self.lines)


@dataclass(frozen=True)
class InvoiceTotals:
    """The Type 5 control totals of an invoice, in cents."""

    total_hospital_base: int = 0
    total_hospital_amo: int = 0
    total_fees: int = 0
    total_fees_amo: int = 0
    total_patient_share: int = 0
    total_hospital_amc: int = 0
    total_fees_amc: int = 0
    total_hospital_billed: int = 0

    @property
    def billed(self) -> int:
        return self.total_fees + self.total_hospital_billed

    @property
    def amo(self) -> int:
        return self.total_fees_amo + self.total_hospital_amo

    @property
    def amc(self) -> int:
        return self.total_fees_amc + self.total_hospital_amc

    @staticmethod
    def of(lines: Sequence[Line]) -> InvoiceTotals:
        acts = [x for x in lines if isinstance(x, ProfessionalAct)]
        stays = [x for x in lines if isinstance(x, HospitalLine)]
        extras = [x for x in lines if isinstance(x, (LppLine, UcdLine))]
        return InvoiceTotals.added(
            fees=sum(a.fee_amount for a in acts),
            fees_amo=sum(a.amo_amount for a in acts),
            fees_amc=sum(a.amc_amount for a in acts),
            stays_base=sum(s.base for s in stays),
            stays_billed=sum(s.total_amount for s in stays),
            stays_amo=sum(s.amo_amount for s in stays),
            stays_amc=sum(s.amc_amount for s in stays),
            extras=sum(e.total_amount for e in extras),
        )

    @staticmethod
    def added(
        *,
        fees: int,
        fees_amo: int,
        fees_amc: int,
        stays_base: int,
        stays_billed: int,
        stays_amo: int,
        stays_amc: int,
        extras: int,
    ) -> InvoiceTotals:
        """The totals of an invoice from the sums of its lines: its acts' (Type 4), its stay
        lines' (Type 3) and what LPP and UCD lines bill on top."""
        hospital_billed = stays_billed + extras
        return InvoiceTotals(
            total_hospital_base=stays_base,
            total_hospital_amo=stays_amo,
            total_fees=fees,
            total_fees_amo=fees_amo,
            # "participation assuré avant OC": what the AMO leaves to the patient and the OC.
            total_patient_share=fees + hospital_billed - fees_amo - stays_amo,
            total_hospital_amc=stays_amc,
            total_fees_amc=fees_amc,
            total_hospital_billed=hospital_billed,
        )


@dataclass(frozen=True)
class Lot:
    """A lot: the invoices of one PS sent together, numbered 1..999."""

    number: int
    ps_number: str
    receiver: str
    lot_date: date
    invoices: tuple[Invoice, ...]


@dataclass(frozen=True)
class B2File:
    """A B2 file: FSE lots of a PS (nature FSE) or a CPAM's décomptes for one OC (nature DEC)."""

    nature: str
    sender_type: str
    sender: str
    receiver_type: str
    receiver: str
    file_id: int
    created_at: datetime
    lots: tuple[Lot, ...]
    version: str = "001"


# -- building -------------------------------------------------------------------------------


def build(b2: B2File) -> bytes:
    """The file's bytes, with sequence numbers, Type 5 and trailer totals computed."""
    return encode_records(to_records(b2), FRAMING)


def to_records(b2: B2File) -> list[Record]:
    """The file as records, in order, with every computed field filled in."""
    records: list[Record] = []

    def add(lay: RecordLayout, obj: object | None, lot: int, **given: object) -> None:
        records.append(to_record(lay, obj, lot=lot, seq=len(records) + 1, **given))  # type: ignore[arg-type]

    add(FILE_HEADER, b2, 0)
    file_billed = file_amo = file_amc = 0
    for lot in b2.lots:
        first = len(records)
        add(LOT_HEADER, lot, lot.number)
        lot_billed = lot_amo = lot_amc = 0
        for inv in lot.invoices:
            oc_field = "00" + inv.oc_number if inv.oc_number else None
            if oc_field is None and inv.top_mutualiste:
                oc_field = " " * 9 + "M"
            add(
                INVOICE,
                inv,
                lot.number,
                oc_field=oc_field,
                top_mutualiste_flag="M" if inv.top_mutualiste else None,
            )
            add(BENEFICIARY, inv, lot.number)
            for line in inv.lines:
                if isinstance(line, ProfessionalAct):
                    add(ACT, line, lot.number)
                    if line.ccam is not None:
                        add(CCAM, line.ccam, lot.number)
                    for k in range(0, len(line.biology), NABM_ENTRIES):
                        add(BIOLOGY, None, lot.number,
                            **_biology_values(line.biology[k : k + NABM_ENTRIES]))  # fmt: skip
                else:
                    add(_LINE_LAYOUT[type(line)], line, lot.number)
            totals = inv.totals
            add(
                INVOICE_END,
                totals,
                lot.number,
                invoice_number=inv.invoice_number,
                line_count=len(inv.lines),
            )
            lot_billed += totals.billed
            lot_amo += totals.amo
            lot_amc += totals.amc
        add(
            LOT_END,
            None,
            lot.number,
            invoice_count=len(lot.invoices),
            record_count=len(records) - first + 1,
            total_billed=lot_billed,
            total_amo=lot_amo,
            total_amc=lot_amc,
        )
        file_billed += lot_billed
        file_amo += lot_amo
        file_amc += lot_amc
    add(
        FILE_END,
        None,
        0,
        lot_count=len(b2.lots),
        record_count=len(records) + 1,
        total_billed=file_billed,
        total_amo=file_amo,
        total_amc=file_amc,
    )
    return records


_LINE_LAYOUT: dict[type, RecordLayout] = {HospitalLine: HOSPITAL, LppLine: LPP, UcdLine: UCD}
_LINE_CLASS: dict[str, type] = {"3 ": HospitalLine, "3F": LppLine, "3H": UcdLine}


def _biology_values(analyses: Sequence[NabmAnalysis]) -> dict[str, object]:
    """The fields of one Type 4B listing ``analyses`` (at most :data:`NABM_ENTRIES`), the
    entries after them blank."""
    values: dict[str, object] = {}
    for k in range(1, NABM_ENTRIES + 1):
        a = analyses[k - 1] if k <= len(analyses) else None
        values[f"date_{k}"] = a.care_date if a else None
        values[f"quantity_{k}"] = a.quantity if a else None
        values[f"nabm_{k}"] = a.code if a else None
    return values


def _analyses(rec: Record) -> Iterator[NabmAnalysis]:
    """The entries of a Type 4B, up to its first blank one."""
    for k in range(1, NABM_ENTRIES + 1):
        code, day, quantity = rec[f"nabm_{k}"], rec[f"date_{k}"], rec[f"quantity_{k}"]
        if code is None or day is None or quantity is None:
            return
        yield NabmAnalysis(day, str(code), int(quantity))  # type: ignore[arg-type]


# -- structure ------------------------------------------------------------------------------


@dataclass
class InvoiceNode:
    """Indexes (0-based into the record list) of one invoice's records."""

    head: int
    beneficiary: int
    #: (line, its 4M, its 4Bs)
    lines: list[tuple[int, int | None, tuple[int, ...]]] = field(default_factory=list)
    end: int = -1


@dataclass
class LotNode:
    head: int
    invoices: list[InvoiceNode] = field(default_factory=list)
    end: int = -1


@dataclass
class FileNode:
    head: int
    lots: list[LotNode] = field(default_factory=list)
    end: int = -1


def structure(records: Sequence[Record]) -> FileNode:
    """Check the record order 0 (1 (2 2S line+ 5)+ 8)+ 9; FormatError at the first misplaced
    record."""
    cur = Cursor(records, NAMES)
    root = FileNode(cur.take("0 ")[0] - 1)
    root.lots.extend(_lots(cur))
    root.end = cur.take("9 ")[0] - 1
    cur.end()
    return root


def _lots(cur: Cursor) -> Iterator[LotNode]:
    """The lots of a file whose header ``cur`` has taken, each as soon as its trailer is read
    (a reader in bounded memory checks it and releases its records)."""
    while True:
        yield _whole_lot(cur) or _lot_by_records(cur)
        if cur.peek() != "1 ":
            return


#: one character per record type of a lot, to match a lot's record order at once
_ORDER_CHARS = {"1 ": "1", "2 ": "2", "2S": "S", "4 ": "4", "4M": "M", "4B": "B", "3 ": "3",
                "3F": "F", "3H": "H", "5 ": "5", "8 ": "8"}  # fmt: skip
#: a lot's record order, 1 (2 2S (4 4M? 4B* | 3 | 3F | 3H)+ 5)+ 8, over those characters
_LOT_ORDER = re.compile(r"1(?:2S(?:4M?B*|[3FH])+5)+8")
#: the most records of a lot read ahead to match its order at once: a longer lot is followed
#: record by record, so that a file without lot trailers is never read whole into memory
LOT_READ_AHEAD = 1 << 16


def _whole_lot(cur: Cursor) -> LotNode | None:
    """The next lot, when its records up to its trailer follow the record order: read at once
    and matched by one regular expression, the cursor moved past it. None, nothing consumed,
    when they do not (or the lot is longer than :data:`LOT_READ_AHEAD`): then
    :func:`_lot_by_records` says which record is misplaced."""
    start = cur.pos
    records = cur.records.through(start, "8 ", LOT_READ_AHEAD)
    chars = _ORDER_CHARS
    order = "".join([chars.get(r.layout.code, "?") for r in records])
    if _LOT_ORDER.fullmatch(order) is None:
        return None
    lot = LotNode(start, end=start + len(order) - 1)
    k = 1
    while order[k] == "2":  # an invoice: 2, 2S, its lines, 5
        inv = InvoiceNode(start + k, start + k + 1)
        lines = inv.lines
        k += 2
        while (c := order[k]) != "5":
            line = start + k
            k += 1
            ccam = None
            if c == "4" and order[k] == "M":
                ccam = start + k
                k += 1
            first = k
            while c == "4" and order[k] == "B":
                k += 1
            lines.append((line, ccam, tuple(range(start + first, start + k)) if k > first else ()))
        inv.end = start + k
        k += 1
        lot.invoices.append(inv)
    cur.pos = start + len(order)
    return lot


def _lot_by_records(cur: Cursor) -> LotNode:
    """The next lot followed one record at a time: FormatError at its first misplaced
    record."""
    lot = LotNode(cur.take("1 ")[0] - 1)
    while True:
        inv = InvoiceNode(cur.take("2 ")[0] - 1, cur.take("2S")[0] - 1)
        while True:
            i, rec = cur.take("4 ", "3 ", "3F", "3H")
            ccam = cur.take("4M")[0] - 1 if rec.code == "4 " and cur.peek() == "4M" else None
            biology = []
            while rec.code == "4 " and cur.peek() == "4B":
                biology.append(cur.take("4B")[0] - 1)
            inv.lines.append((i - 1, ccam, tuple(biology)))
            if cur.peek() not in ("4 ", "3 ", "3F", "3H"):
                break
        inv.end = cur.take("5 ")[0] - 1
        lot.invoices.append(inv)
        if cur.peek() != "2 ":
            break
    lot.end = cur.take("8 ")[0] - 1
    return lot


# -- parsing --------------------------------------------------------------------------------


def parse(data: bytes) -> B2File:
    """The typed file; FormatError if a record or the record order is wrong. Totals, keys and
    counts are not checked here: :func:`validate` does that."""
    records = decode_records(data, FRAMING, LAYOUTS)
    return from_records(records, structure(records))


def declared_file_id(data: bytes) -> int:
    """The file number the header (Type 0, field ``file_id``) declares, 0 when unreadable: what
    an answer to a file that cannot be parsed refers to."""
    f = FILE_HEADER.field("file_id")
    head = bytes(data[f.start - 1 : f.end])
    return int(head) if head.isdigit() else 0


def lot_spans(data: bytes) -> list[tuple[int, int, int]]:
    """(lot number, first record, last record) of each lot, records numbered from 1 as in
    :class:`Anomaly`: which lot an anomaly falls in. FormatError like :func:`parse`."""
    records = decode_records(data, FRAMING, LAYOUTS)
    return [
        (records[lot.head].number("lot"), lot.head + 1, lot.end + 1)
        for lot in structure(records).lots
    ]


def from_records(records: Sequence[Record], tree: FileNode) -> B2File:
    lots = []
    for lot in tree.lots:
        invoices = []
        for inv in lot.invoices:
            lines: list[Line] = []
            for i, ccam, biology in inv.lines:
                rec = records[i]
                if rec.code == "4 ":
                    detail = from_record(CcamDetail, records[ccam]) if ccam is not None else None
                    analyses = tuple(a for k in biology for a in _analyses(records[k]))
                    lines.append(from_record(ProfessionalAct, rec, ccam=detail,
                                             biology=analyses))  # fmt: skip
                else:
                    lines.append(from_record(_LINE_CLASS[rec.code], rec))
            head = records[inv.head]
            oc_field = head.string("oc_field")
            invoices.append(
                from_record(
                    Invoice,
                    head,
                    **{
                        k: v
                        for k, v in records[inv.beneficiary].values.items()
                        if k not in ("lot", "seq")
                    },
                    lines=tuple(lines),
                    oc_number=oc_field[2:] if oc_field.isdigit() else None,
                    top_mutualiste=head["top_mutualiste_flag"] == "M" or oc_field.endswith("M"),
                )
            )
        lots.append(
            from_record(
                Lot,
                records[lot.head],
                number=records[lot.head].number("lot"),
                invoices=tuple(invoices),
            )
        )
    return from_record(B2File, records[tree.head], lots=tuple(lots))


# -- validation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """A file decoded once (:func:`read`): every anomaly; the typed file and the span of each
    lot (lot number, first and last record, from 1) when its records and their order are
    readable, None and [] otherwise."""

    anomalies: list[Anomaly]
    file: B2File | None
    spans: list[tuple[int, int, int]]


def read(data: bytes, nature: str | None = None) -> Read:
    """What :func:`validate`, :func:`parse` and :func:`lot_spans` say of ``data``, from one
    decoding: a receiver checks and reads a file without decoding it three times. ``file``
    is None exactly when :func:`parse` would raise (then ``anomalies[0]`` is its error)."""
    walk = _Walk(data, nature, None, keep=True)
    if walk.tree is None:
        return Read(walk.findings.kept, None, [])
    records, tree = walk.records, walk.tree
    spans = [(records[lot.head].number("lot"), lot.head + 1, lot.end + 1) for lot in tree.lots]
    return Read(walk.findings.kept, from_records(records, tree), spans)


def validate(data: bytes, nature: str | None = None) -> list[Anomaly]:
    """Every anomaly of the file: field formats, record order, sequence and lot numbers, NIR
    and n° AM keys, duplicate invoice numbers, each line's AMO part (at most what it bills and
    the rate of its base), the Type 4B details of biology acts, Type 5 and trailer totals, and
    for a décompte file the OC number of each invoice. An empty list means the file is
    valid."""
    return check(data, nature).kept


def check(data: bytes, nature: str | None = None, limit: int | None = None) -> Findings:
    """:func:`validate` in bounded memory: the records are decoded and checked one lot at a
    time and only the first ``limit`` anomalies are kept (all are counted). Field anomalies,
    when there are any, are all that is said; else the first misplaced record alone; else the
    anomalies of the checks."""
    return _Walk(data, nature, limit, keep=False).findings


class _Walk:
    """One pass over a file: decode each record, follow the record order, check each lot as
    soon as its trailer is read. With ``keep`` the records and the tree stay (for
    :func:`read`); without, each lot's records are released once checked."""

    def __init__(self, data: bytes, nature: str | None, limit: int | None, *, keep: bool) -> None:
        one = OnePass(data, FRAMING, LAYOUTS, NAMES, limit)
        window, cur, check = one.window, one.cursor, one.checker
        self.records: list[Record] = []
        self.tree: FileNode | None = None

        def walk() -> None:
            root = FileNode(cur.take("0 ")[0] - 1)
            header = window[root.head]
            if keep:
                self.records.append(header)
            if nature is not None:
                check.equal(root.head, "nature", nature, header["nature"], "wrong file nature")
            check.equal(root.head, "seq", 1, header["seq"], "sequence number out of order")
            check.equal(root.head, "lot", 0, header["lot"], "a file record must carry lot 000")
            lots = _LotChecks(check, header)
            for lot in _lots(cur):
                lots.lot(lot)
                if keep:
                    self.records.extend(window[i] for i in range(lot.head, lot.end + 1))
                    root.lots.append(lot)
                else:
                    root.lots.append(LotNode(lot.head, end=lot.end))  # its invoices released
                window.release_before(lot.end + 1)
            root.end = cur.take("9 ")[0] - 1
            cur.end()
            lots.end(root)
            if keep:
                self.records.append(window[root.end])
            self.tree = root

        self.findings = one.run(walk)
        if not one.stream.readable:
            self.tree = None


class _LotChecks:
    """The checks of :func:`validate` on each lot as it comes, and on the file's trailer."""

    def __init__(self, check: Checker, header: Record) -> None:
        self.check = check
        self.header = header
        self.seen_lots: set[int] = set()
        self.seen_invoices: set[int] = set()
        self.file_totals = [0, 0, 0]

    def lot(self, lot: LotNode) -> None:
        check, first = self.check, lot.head
        records = check.span(first, lot.end)  # record i is records[i - first]
        number = records[0].number("lot")
        values = [record.values for record in records]
        # compared whole (a lot has thousands of records), then one by one when they differ
        seqs = list(map(_SEQ, values))
        if seqs != list(range(first + 1, first + len(seqs) + 1)):
            for i, seq in enumerate(seqs, start=first):
                if seq != i + 1:
                    check.fail(i, "seq", "sequence number out of order", i + 1, seq)
        lots = list(map(_LOT, values))
        if lots.count(number) != len(lots):
            for i, found in enumerate(lots, start=first):
                if found != number:
                    check.fail(i, "lot", "record carries another lot's number", number, found)
        if number == 0 or number in self.seen_lots:
            check.fail(
                lot.head,
                "lot",
                "lot number zero or repeated",
                "a lot number 001-999 not used before in the file",
                number,
            )
        self.seen_lots.add(number)
        check.number(lot.head, "ps_number", "n° AM")
        lot_totals = [0, 0, 0]
        for inv in lot.invoices:
            totals = _check_invoice(check, inv, self.header, self.seen_invoices, records, first)
            for k, v in enumerate((totals.billed, totals.amo, totals.amc)):
                lot_totals[k] += v
        trailer = records[-1]
        check.equal(
            lot.end,
            "invoice_count",
            len(lot.invoices),
            trailer["invoice_count"],
            "lot trailer invoice count is wrong",
        )
        check.equal(
            lot.end,
            "record_count",
            lot.end - lot.head + 1,
            trailer["record_count"],
            "lot trailer record count is wrong",
        )
        for k, name in enumerate(_TRAILER_TOTALS):
            check.equal(lot.end, name, lot_totals[k], trailer[name], "lot trailer total is wrong")
            self.file_totals[k] += lot_totals[k]

    def end(self, tree: FileNode) -> None:
        check = self.check
        end = check.records[tree.end]
        check.equal(tree.end, "seq", tree.end + 1, end["seq"], "sequence number out of order")
        check.equal(tree.end, "lot", 0, end["lot"], "a file record must carry lot 000")
        check.equal(tree.end, "lot_count", len(tree.lots), end["lot_count"],
                    "file lot count is wrong")  # fmt: skip
        check.equal(
            tree.end,
            "record_count",
            tree.end + 1,
            end["record_count"],
            "file record count is wrong",
        )
        for k, name in enumerate(_TRAILER_TOTALS):
            check.equal(
                tree.end, name, self.file_totals[k], end[name], "file trailer total is wrong"
            )


_TOTAL_FIELDS = [f.name for f in INVOICE_END.data_fields if f.name.startswith("total_")]
_TOTALS_OF = operator.attrgetter(*_TOTAL_FIELDS)
_DECLARED_TOTALS = operator.itemgetter(*_TOTAL_FIELDS)
_SEQ, _LOT = operator.itemgetter("seq"), operator.itemgetter("lot")
_TRAILER_TOTALS = ("total_billed", "total_amo", "total_amc")


def _line_totals(
    check: Checker, inv: InvoiceNode, records: Sequence[Record], first: int
) -> InvoiceTotals:
    """:meth:`InvoiceTotals.of` the invoice's lines, read from their records' values without
    making them (a file has hundreds of thousands); an anomaly for each line whose AMO part
    exceeds what it bills, or its rate of its base. Record i is ``records[i - first]``."""
    fees = fees_amo = fees_amc = base = stays_amo = stays_amc = stays_billed = extras = 0
    for i, _ccam, _biology in inv.lines:
        rec = records[i - first]
        values = rec.values
        code = rec.layout.code
        if code == "4 ":
            billed, amo = values["fee_amount"], values["amo_amount"]
            fees += billed  # type: ignore[operator]
            fees_amo += amo  # type: ignore[operator]
            fees_amc += values["amc_amount"]  # type: ignore[operator]
        elif code == "3 ":
            billed, amo = values["total_amount"], values["amo_amount"]
            base += values["base"]  # type: ignore[operator]
            stays_billed += billed  # type: ignore[operator]
            stays_amo += amo  # type: ignore[operator]
            stays_amc += values["amc_amount"]  # type: ignore[operator]
        else:  # an LPP or UCD line, billed on top
            extras += values["total_amount"]  # type: ignore[operator]
            continue
        if amo > billed:  # type: ignore[operator]
            check.fail(i, "amo_amount", "AMO part exceeds the amount billed", f"at most {billed}",
                       amo)  # fmt: skip
        elif amo * 100 > values["base"] * values["rate"] + 99:  # type: ignore[operator]
            # more than the rate of the base, to the cent above (however it was rounded)
            check.fail(i, "amo_amount", "AMO part exceeds the rate of the base",
                       f"at most {values['rate']} % of {values['base']}", amo)  # fmt: skip
    return InvoiceTotals.added(fees=fees, fees_amo=fees_amo, fees_amc=fees_amc, stays_base=base,
                               stays_billed=stays_billed, stays_amo=stays_amo,
                               stays_amc=stays_amc, extras=extras)  # fmt: skip


def _check_biology(check: Checker, act: int, details: tuple[int, ...]) -> None:
    """The Type 4B records ``details`` that follow the Type 4 ``act``: they detail a biology
    act (key letter B), their entries whole (date, quantity and code together) and filled in
    order, only the last record holding fewer than :data:`NABM_ENTRIES`."""
    records = check.records
    if records[act]["act_code"] != "B":
        check.fail(details[0], "record_code", "NABM analyses detail a biology act (B) only",
                   "a Type 4 with act code B before it", records[act]["act_code"])  # fmt: skip
    for n, i in enumerate(details):
        values = records[i].values
        filled = [
            [values[f"{name}_{k}"] is not None for name in ("date", "quantity", "nabm")]
            for k in range(1, NABM_ENTRIES + 1)
        ]
        for k, parts in enumerate(filled, start=1):
            if any(parts) and not all(parts):
                check.fail(i, f"nabm_{k}", "a NABM entry is whole or blank",
                           "a date, a quantity and a code", "part of them")  # fmt: skip
            elif all(parts) and k > 1 and not all(filled[k - 2]):
                check.fail(i, f"nabm_{k}", "NABM entries are filled in order",
                           f"entry {k - 1} filled before entry {k}", "a blank entry")  # fmt: skip
        if n < len(details) - 1 and not all(filled[-1]):
            check.fail(i, f"nabm_{NABM_ENTRIES}", "only the last Type 4B of an act is not full",
                       f"{NABM_ENTRIES} entries", "fewer")  # fmt: skip


def _check_invoice(
    check: Checker,
    inv: InvoiceNode,
    header: Record,
    seen_invoices: set[int],
    records: Sequence[Record],
    first: int,
) -> InvoiceTotals:
    """Check one invoice's keys, number, lines and Type 5; return its totals as recomputed
    from its lines (what the trailers must add up). Record i is ``records[i - first]``."""
    head = records[inv.head - first]
    # the assuré's NIR, and the bénéficiaire's own, whose birth date Type 2 gives
    check.nir(inv.head, "insured_nir", "insured_nir_key")
    birth = head["birth_date"]
    assert isinstance(birth, date)
    check.nir(inv.beneficiary, "beneficiary_nir", "beneficiary_nir_key", birth)
    number = head.number("invoice_number")
    if number == 0 or number in seen_invoices:
        check.fail(
            inv.head,
            "invoice_number",
            "invoice number zero or already used in this file",
            "a unique non-zero invoice number",
            number,
        )
    seen_invoices.add(number)
    if header["nature"] == "DEC":
        check.equal(
            inv.head,
            "oc_field",
            "00" + header.string("receiver"),
            head["oc_field"],
            "décompte for another OC than the file's receiver",
        )
        check.equal(
            inv.head,
            "top_mutualiste_flag",
            "M",
            head["top_mutualiste_flag"],
            "a décompte carries the top mutualiste",
        )
    totals = _line_totals(check, inv, records, first)
    for i, _ccam, biology in inv.lines:
        if biology:
            _check_biology(check, i, biology)
    declared = records[inv.end - first].values
    if declared["invoice_number"] != number:
        check.fail(inv.end, "invoice_number", "Type 5 names another invoice", number,
                   declared["invoice_number"])  # fmt: skip
    if declared["line_count"] != len(inv.lines):
        check.fail(inv.end, "line_count", "Type 5 line count is wrong", len(inv.lines),
                   declared["line_count"])  # fmt: skip
    computed = _TOTALS_OF(totals)
    if computed != _DECLARED_TOTALS(declared):
        for name, total in zip(_TOTAL_FIELDS, computed, strict=True):
            if total != declared[name]:
                check.fail(inv.end, name, "Type 5 control total is wrong", total, declared[name])
    return totals
