"""NOEMIE 550 to an employer: daily allowances (IJ) paid to it in subrogation (BPIJ).

Entities, labels and the CP/SI party codes come from seeds/004 ([PRESS], norms.md §6); the
hierarchy levels, positions and 990 content are project conventions, except 230 NOP-PIJ at
level 99 (the seed's "ligne de décompte d'IJ du niveau 99")::

    000 NOP-ENT (NOE-TYE CP, NOE-TYD SI)
      040 NOP-DRG (01) the employer (SIRET)
        070 NOP-DAT (02) date journée comptable
          110 NOP-ASS (03) the employee
            150 NOP-ASU (04) nature d'assurance (10 maladie, 40 AT-MP)
              160 NOP-ARC (05) critère d'archivage: the sick leave
                230 NOP-PIJ (99) one IJ period
              990 (05)
            990 (04)
          990 (03)
          250 NOP-MFI (03) financial movement (CPT-REF, CPT-DRI, CPT-NAT, REC-NAT, MVT-MON, CPT-SOL)
        990 (02)
      990 (01)
    999 NOP-FIN

990 amount_1 is the net IJ total, amount_2 the gross IJ total, summed over 230 lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from . import noemie
from .codec import Kind, Record, amount, num, text, when
from .errors import Anomaly, Findings
from .keys import NIR_PATTERN
from .model import Checker, from_record, rebind, to_record
from .noemie import Item, Node, Reference, Slot, entity

REFERENCE = "550"
#: seeds/004 [PRESS] (norms.md §6) names the entities and some zones of the 550 (CPT-REF,
#: REMBOURSEMENT, BASE...); it gives no position: every position here is a convention, so
#: the fields carry no source (docs/norms.md says so for the whole référence).
SEED = ""

EMPLOYER = entity(
    "040",
    "NOP-DRG",
    "Destinataire du règlement (employeur)",
    1,
    44,
    text("employer_siret", 6, 14, "SIRET de l'employeur", SEED, pattern=r"[0-9]{14}"),
    text("employer_name", 20, 25, "Raison sociale", optional=True),
)
DAY = entity(
    "070",
    "NOP-DAT",
    "Date comptable",
    2,
    11,
    when("accounting_date", 6, Kind.DATE_DMY, "Date journée comptable", SEED),
)
EMPLOYEE = entity(
    "110",
    "NOP-ASS",
    "Assuré (salarié)",
    3,
    87,
    text("insured_nir", 6, 13, "Matricule de l'assuré (NIR)", SEED, pattern=NIR_PATTERN),
    num("insured_nir_key", 19, 2, "Clé du NIR"),
    text("last_name", 22, 25, "Nom"),
    text("first_name", 73, 15, "Prénom"),
)
COVERAGE = entity(
    "150",
    "NOP-ASU",
    "Nature d'assurance",
    4,
    7,
    text(
        "insurance_nature",
        6,
        2,
        "Nature d'assurance (10 maladie, 40 AT-MP)",
        SEED,
        choices=("10", "30", "40", "41"),
    ),
)
LEAVE = entity(
    "160",
    "NOP-ARC",
    "Critère d'archivage (arrêt de travail)",
    5,
    21,
    text("stop_number", 6, 10, "Référence de l'arrêt", SEED),
    when("stop_start", 16, Kind.DATE_DMY, "Date de début de l'arrêt"),
)
PERIOD = entity(
    "230",
    "NOP-PIJ",
    "Indemnités journalières",
    99,
    63,
    when("period_start", 6, Kind.DATE_DMY, "Période indemnisée du", SEED),
    when("period_end", 12, Kind.DATE_DMY, "Période indemnisée au", SEED),
    num("days", 18, 3, "Nombre de jours indemnisés"),
    amount("daily_base", 21, 9, "Salaire journalier de base (BASE)", SEED),
    amount("daily_amount", 30, 7, "IJ journalière"),
    amount("gross_amount", 37, 9, "Montant brut (jours x IJ journalière)"),
    amount("csg_crds", 46, 7, "CSG et CRDS retenues"),
    amount("net_amount", 53, 9, "Montant net versé (REMBOURSEMENT)", SEED),
    text(
        "qualifier",
        62,
        1,
        "Qualificatif de la période: N normale, M majorée, S sanction",
        SEED,
        choices=("N", "M", "S"),
    ),
    num("sanction_rate", 63, 1, "Taux de sanction (dizaines de %)", SEED),
)
MOVEMENT = entity(
    "250",
    "NOP-MFI",
    "Mouvement financier",
    3,
    52,
    text("cpt_ref", 6, 10, "CPT-REF référence de la dette", SEED),
    when("cpt_dri", 16, Kind.DATE_DMY, "CPT-DRI date d'enregistrement de la dette", SEED),
    text("cpt_nat", 22, 2, "CPT-NAT nature de la dette", SEED),
    text("rec_nat", 24, 2, "REC-NAT nature des opérations de récupération", SEED),
    text("mvt_mon", 26, 2, "MVT-MON nature du mouvement financier", SEED),
    amount("cpt_sol", 28, 11, "CPT-SOL montant du solde de la dette", SEED),
    amount("amount", 39, 11, "Montant du mouvement"),
    text("direction", 50, 1, "Sens: C crédit à l'employeur, D débit (retenue)", choices=("C", "D")),
)


REF = Reference(
    number=REFERENCE,
    title="NOEMIE employeurs: IJ en subrogation (BPIJ)",
    layouts={
        lay.code: lay
        for lay in (
            noemie.header_layout(REFERENCE),
            EMPLOYER,
            DAY,
            EMPLOYEE,
            COVERAGE,
            LEAVE,
            PERIOD,
            MOVEMENT,
            noemie.control_layout("Total IJ nettes du niveau", "Total IJ brutes du niveau"),
            noemie.trailer_layout(),
        )
    },
    groups={"040": 1, "070": 2, "110": 3, "150": 4, "160": 5},
    contents={
        "000": (Slot(("040",), 1, None),),
        "040": (Slot(("070",), 1, None),),
        "070": (Slot(("110",), 0, None), Slot(("250",), 0, None)),
        "110": (Slot(("150",), 1, None),),
        "150": (Slot(("160",), 1, None),),
        "160": (Slot(("230",), 1, None),),
    },
    totals={"230": ("net_amount", "gross_amount")},
)


def use(ref: Reference) -> None:
    """Speak a norms pack's NOEMIE 550 tables from now on
    (:func:`noemie_sim.sim.norms.pack.install` calls it with tables it has checked)."""
    global REF
    REF = ref
    rebind(globals(), ref.layouts)


# -- typed model ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IjPeriod:
    """230 NOP-PIJ: IJ for one period of a sick leave, amounts in cents."""

    period_start: date
    period_end: date
    days: int
    daily_base: int
    daily_amount: int
    gross_amount: int
    csg_crds: int
    net_amount: int
    qualifier: str = "N"
    sanction_rate: int = 0


@dataclass(frozen=True)
class SickLeave:
    """160 NOP-ARC: one arrêt de travail and the IJ periods paid for it."""

    stop_number: str
    stop_start: date
    periods: tuple[IjPeriod, ...]


@dataclass(frozen=True)
class Coverage:
    insurance_nature: str
    leaves: tuple[SickLeave, ...]


@dataclass(frozen=True)
class Employee:
    insured_nir: str
    insured_nir_key: int
    last_name: str
    first_name: str
    coverages: tuple[Coverage, ...]


@dataclass(frozen=True)
class Movement:
    """250 NOP-MFI with the fields named by seeds/004."""

    cpt_ref: str
    cpt_dri: date
    cpt_nat: str
    rec_nat: str
    mvt_mon: str
    cpt_sol: int
    amount: int
    direction: str = "C"


@dataclass(frozen=True)
class Day:
    accounting_date: date
    employees: tuple[Employee, ...]
    movements: tuple[Movement, ...] = ()


@dataclass(frozen=True)
class Employer:
    employer_siret: str
    employer_name: str | None
    days: tuple[Day, ...]


@dataclass(frozen=True)
class Noemie550:
    """A whole 550 file from a caisse (CP) to an employer (SI)."""

    sender: str
    receiver: str
    file_id: int
    created_at: datetime
    employers: tuple[Employer, ...]
    sender_type: str = "CP"
    receiver_type: str = "SI"


def build(doc: Noemie550) -> bytes:
    """The file's bytes with every 990 and the 999 computed."""
    header = noemie.header_record(REF, doc)
    items = []
    for employer in doc.employers:
        days = []
        for day in employer.days:
            content = [
                Item(
                    to_record(EMPLOYEE, e),
                    [
                        Item(
                            to_record(COVERAGE, c),
                            [
                                Item(
                                    to_record(LEAVE, leave),
                                    [Item(to_record(PERIOD, p)) for p in leave.periods],
                                )
                                for leave in c.leaves
                            ],
                        )
                        for c in e.coverages
                    ],
                )
                for e in day.employees
            ]
            content += [Item(to_record(MOVEMENT, m)) for m in day.movements]
            days.append(Item(to_record(DAY, day), content))
        items.append(Item(to_record(EMPLOYER, employer), days))
    return noemie.build(REF, header, items)


def parse(data: bytes) -> Noemie550:
    """The typed file; FormatError if an entity or the hierarchy is wrong."""
    return _typed(*noemie.decode(REF, data))


def read(data: bytes) -> tuple[list[Anomaly], Noemie550 | None]:
    """:func:`validate` and :func:`parse` from one decoding (:func:`noemie.read`): the
    anomalies, and the typed file when there are none."""
    return noemie.read(REF, data, _checks, _typed)


def _typed(records: list[Record], tree: noemie.Tree) -> Noemie550:
    def rec(node: noemie.Node) -> Record:
        return records[node.index]

    employers = []
    for emp in tree.items:
        days = []
        for day in emp.children:
            employees = [
                from_record(
                    Employee,
                    rec(e),
                    coverages=tuple(
                        from_record(
                            Coverage,
                            rec(c),
                            leaves=tuple(
                                from_record(
                                    SickLeave,
                                    rec(lv),
                                    periods=tuple(
                                        from_record(IjPeriod, rec(p)) for p in lv.children
                                    ),
                                )
                                for lv in c.children
                            ),
                        )
                        for c in e.children
                    ),
                )
                for e in day.children
                if rec(e).code == "110"
            ]
            movements = [
                from_record(Movement, rec(m)) for m in day.children if rec(m).code == "250"
            ]
            days.append(
                from_record(Day, rec(day), employees=tuple(employees), movements=tuple(movements))
            )
        employers.append(from_record(Employer, rec(emp), days=tuple(days)))
    return from_record(Noemie550, records[tree.header], employers=tuple(employers))


def validate(data: bytes) -> list[Anomaly]:
    """Every anomaly: the generic NOEMIE checks, SIRET and NIR keys, and each IJ line's
    arithmetic (gross = days x daily IJ, net = gross - CSG/CRDS, period length)."""
    return check(data).kept


def check(data: bytes, limit: int | None = None) -> Findings:
    """:func:`validate` in bounded memory, the first ``limit`` anomalies kept
    (:func:`noemie.check`)."""
    return noemie.check(REF, data, _checks, limit)


def _check_sanction(check: Checker, index: int, period: IjPeriod) -> None:
    """A sanction rate (seeds/004 names it; its effect is a convention: the daily IJ reduced by
    the rate) goes with the qualifier S only, and a sanctioned day pays at most half the daily
    base reduced by the rate: an unreduced amount under S is refused."""
    rate = period.sanction_rate
    if period.qualifier != "S":
        if rate != 0:
            check.fail(index, "sanction_rate", "a sanction rate on a period not sanctioned",
                       "0 (qualifier N or M)", rate)  # fmt: skip
        return
    if not 1 <= rate <= 9:
        check.fail(index, "sanction_rate", "a sanctioned period without its rate",
                   "1 to 9 (tens of %)", rate)  # fmt: skip
        return
    most = period.daily_base * (10 - rate) // 20
    if period.daily_amount > most:
        check.fail(
            index,
            "daily_amount",
            f"a period sanctioned at {rate * 10} % pays the IJ unreduced",
            f"at most {most} (half the base less {rate * 10} %)",
            period.daily_amount,
        )


def _checks(check: Checker, employer: Node) -> None:
    """The référence's own checks on one top-level entity and what it contains."""
    records = check.records
    for node in employer.walk():
        rec = records[node.index]
        if rec.code == "040":
            check.number(node.index, "employer_siret", "SIRET")
        elif rec.code == "110":
            check.nir(node.index, "insured_nir", "insured_nir_key")
        elif rec.code == "230":
            period = from_record(IjPeriod, rec)
            span = (period.period_end - period.period_start).days + 1
            check.equal(
                node.index, "days", span, period.days, "days differ from the period's length"
            )
            check.equal(
                node.index,
                "gross_amount",
                period.days * period.daily_amount,
                period.gross_amount,
                "gross IJ is not days x daily IJ",
            )
            check.equal(
                node.index,
                "net_amount",
                period.gross_amount - period.csg_crds,
                period.net_amount,
                "net IJ is not gross - CSG/CRDS",
            )
            _check_sanction(check, node.index, period)
