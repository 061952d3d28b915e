"""Reimbursement rules: what the AMO pays, what the mutuelle pays, what the patient keeps, and
the daily allowances (IJ) paid to employers. Amounts are integer cents throughout.

Sources (norms.md §8.2, §6):

* AMO rate 70 % for médecins [DOC]; 100 % for ALD soins en rapport and maternité [DOC];
  auxiliaires médicaux 60 % (the usual rate; norms.md notes an ameli crawl showing 70 %, so
  the rate is a parameter of :class:`Rules`).
* participation forfaitaire (PF): 1 € until 14/05/2024, 2 € from 15/05/2024, per médecin act,
  at most 4 acts a day with the same PS and 50 € a year; exempt under 18, C2S, pregnancy
  [PRESS/DOC].
* franchises médicales from 31/03/2024: 1 € per paramedical act, at most 4 € a day and 50 € a
  year; same exemptions [PRESS].
* a contrat responsable covers the ticket modérateur but never the PF nor the franchises;
  the mutuelle never pays more than the real cost.
* IJ maladie: 50 % of the daily base salary (3 months' gross / 91.25), at most half the daily
  base of 1.4 SMIC for leaves starting from 1 April 2025 (1.8 SMIC before), the SMIC of the
  month before the leave (:func:`ij_ceiling`), from the 4th day (3 waiting days);
  CSG 6.2 % + CRDS 0.5 % withheld [DOC ameli / PRESS].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from .nomenclature import ACTS, SPECIALTIES, Profession
from .text import half_up

PF_2024 = date(2024, 5, 15)
FRANCHISE_2024 = date(2024, 3, 31)
IJ_CEILING_CHANGE = date(2025, 4, 1)


@dataclass(frozen=True)
class Rules:
    """The parameters of the AMO rules (defaults: 2025)."""

    doctor_rate: int = 70
    auxiliary_rate: int = 60
    full_rate: int = 100
    pf_per_act: int = 200
    pf_per_act_before_2024: int = 100
    pf_acts_per_day: int = 4
    pf_year_cap: int = 5000
    franchise_per_act: int = 100
    franchise_day_cap: int = 400
    franchise_year_cap: int = 5000


@dataclass(frozen=True)
class Patient:
    """What the rules need to know of the beneficiary on the day of care."""

    birth_date: date
    ald: bool = False  # soins en rapport avec une ALD
    maternity: bool = False  # maternité (nature d'assurance 30), exempt from PF/franchises
    c2s: bool = False

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))


@dataclass
class Counters:
    """PF and franchises already deducted for one beneficiary: per year, and per day and PS
    (the daily caps). The CPAM keeps one per beneficiary; liquidation updates it."""

    pf_year: dict[int, int] = field(default_factory=dict)
    franchise_year: dict[int, int] = field(default_factory=dict)
    pf_acts_day: dict[tuple[date, str], int] = field(default_factory=dict)
    franchise_day: dict[date, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Billed:
    """One act as billed: code, coefficient (hundredths), quantity, fee asked (cents)."""

    code: str
    fee: int
    coefficient: int | None = None
    quantity: int = 1


@dataclass(frozen=True)
class Liquidated:
    """One act as the AMO settles it. ``amo`` is paid; PF and franchise are deducted from the
    gross AMO part; the patient (or the OC) owes the rest of the fee."""

    code: str
    fee: int
    base: int
    rate: int
    amo_gross: int
    pf: int
    franchise: int

    @property
    def amo(self) -> int:
        return self.amo_gross - self.pf - self.franchise

    @property
    def ticket_moderateur(self) -> int:
        return self.base - self.amo_gross

    @property
    def depassement(self) -> int:
        return max(0, self.fee - self.base)

    @property
    def patient_share(self) -> int:
        """What remains after the AMO, before any mutuelle."""
        return self.fee - self.amo


def rate_for(specialty: str, patient: Patient, rules: Rules = Rules()) -> int:
    if patient.ald or patient.maternity:
        return rules.full_rate
    profession = SPECIALTIES[specialty].profession
    return rules.doctor_rate if profession is Profession.MEDECIN else rules.auxiliary_rate


def liquidate(
    acts: list[Billed],
    specialty: str,
    ps_number: str,
    patient: Patient,
    day: date,
    counters: Counters,
    rules: Rules = Rules(),
) -> list[Liquidated]:
    """The AMO settlement of the acts of one invoice, updating ``counters``. KeyError for an
    act code outside the nomenclature (the caller rejects such invoices first)."""
    rate = rate_for(specialty, patient, rules)
    exempt = patient.age_on(day) < 18 or patient.c2s or patient.maternity
    result = []
    for billed in acts:
        act = ACTS[billed.code]
        base = act.base(billed.coefficient, billed.quantity, day)  # the tariff of the care date
        amo_gross = min(half_up(base * rate, 100), billed.fee)
        pf = franchise = 0
        if not exempt and act.participation_forfaitaire:
            pf = _participation(counters, rules, day, ps_number, amo_gross)
        if not exempt and act.franchise:
            franchise = _franchise(counters, rules, day, amo_gross)
        result.append(Liquidated(billed.code, billed.fee, base, rate, amo_gross, pf, franchise))
    return result


def _participation(counters: Counters, rules: Rules, day: date, ps: str, ceiling: int) -> int:
    per_act = rules.pf_per_act if day >= PF_2024 else rules.pf_per_act_before_2024
    acts_today = counters.pf_acts_day.get((day, ps), 0)
    if acts_today >= rules.pf_acts_per_day:
        return 0
    left = rules.pf_year_cap - counters.pf_year.get(day.year, 0)
    amount = max(0, min(per_act, left, ceiling))
    counters.pf_acts_day[(day, ps)] = acts_today + 1
    counters.pf_year[day.year] = counters.pf_year.get(day.year, 0) + amount
    return amount


def _franchise(counters: Counters, rules: Rules, day: date, ceiling: int) -> int:
    if day < FRANCHISE_2024:
        return 0  # the 0.50 € era is not modelled
    left_today = rules.franchise_day_cap - counters.franchise_day.get(day, 0)
    left_year = rules.franchise_year_cap - counters.franchise_year.get(day.year, 0)
    amount = max(0, min(rules.franchise_per_act, left_today, left_year, ceiling))
    counters.franchise_day[day] = counters.franchise_day.get(day, 0) + amount
    counters.franchise_year[day.year] = counters.franchise_year.get(day.year, 0) + amount
    return amount


# -- mutuelles ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """A guarantee: total reimbursement (AMO + OC) up to ``percent_br`` % of the base, plus a
    fixed ``forfaits`` amount per act code; never the PF or franchises, never above the fee."""

    name: str
    percent_br: int
    forfaits: tuple[tuple[str, int], ...] = ()


GRIDS = {
    g.name: g
    for g in (
        Grid("100% BR", 100),
        Grid("150% BR", 150),
        Grid("200% BR", 200, (("AMK", 500),)),
        Grid("300% BR", 300, (("COE", 1000),)),
    )
}


def oc_part(act: Liquidated, grid: Grid) -> int:
    """What the mutuelle pays for one settled act."""
    covered = half_up(act.base * grid.percent_br, 100) - act.amo_gross
    covered += dict(grid.forfaits).get(act.code, 0)
    # the fee minus the gross AMO part: the PF and franchises stay with the patient
    return max(0, min(covered, act.fee - act.amo_gross))


# -- daily allowances -----------------------------------------------------------------------


@dataclass(frozen=True)
class IjPeriod:
    """IJ paid for one period of a sick leave, in cents."""

    start: date
    end: date
    days: int
    daily_base: int
    daily_amount: int
    gross: int
    csg_crds: int
    net: int


def daily_base(gross_three_months: int) -> int:
    """Salaire journalier de base: the gross of the 3 months before the leave / 91.25."""
    return half_up(gross_three_months * 100, 9125)


#: SMIC horaire brut in cents, from each date (décrets de revalorisation; service-public.fr).
#: The 1/1/2026 value is the one the 41.95 € ceiling for leaves from February 2026 implies
#: (the fidelity issue's figure), labelled as such in docs/norms.md.
SMIC_HOURLY: tuple[tuple[date, int], ...] = (
    (date(2023, 1, 1), 1127),
    (date(2023, 5, 1), 1152),
    (date(2024, 1, 1), 1165),
    (date(2024, 11, 1), 1188),
    (date(2026, 1, 1), 1202),
)


def smic_hourly(day: date) -> int:
    """The SMIC horaire brut in force on ``day``, in cents (the oldest known before 2023)."""
    found = SMIC_HOURLY[0][1]
    for start, cents in SMIC_HOURLY:
        if day >= start:
            found = cents
    return found


def ij_ceiling(leave_start: date) -> int:
    """The most a day of IJ maladie pays, in cents, for a leave starting on ``leave_start``:
    half the daily base of a salary of 1.8 SMIC (leaves until 31/03/2025), 1.4 SMIC (from
    1/4/2025, décret 2025-160), the SMIC being the one in force on the last day of the month
    before the leave; the monthly SMIC is the hourly one x 35 h x 52 / 12 (1 801.80 € in 2025).
    2025: 53.31 € then 41.47 €; leaves from February 2026: 41.95 €."""
    smic = smic_hourly(leave_start.replace(day=1) - timedelta(days=1))
    tenths = 14 if leave_start >= IJ_CEILING_CHANGE else 18  # 1.4 or 1.8 SMIC
    # smic x 35 x 52 / 12 (monthly) x tenths / 10 x 3 / 91.25 / 2, rounded half up once
    return half_up(smic * 35 * 52 * tenths * 3 * 100, 12 * 10 * 9125 * 2)


def ij_for_period(
    leave_start: date, start: date, end: date, gross_three_months: int
) -> IjPeriod | None:
    """The IJ for days ``start``..``end`` of a leave that began on ``leave_start``: the first
    three days of the leave are not paid. None when no day of the period is paid."""
    first_paid = max(start, leave_start + timedelta(days=3))
    if first_paid > end:
        return None
    base = daily_base(gross_three_months)
    daily = min(base // 2, ij_ceiling(leave_start))
    days = (end - first_paid).days + 1
    gross = daily * days
    csg_crds = half_up(gross * 67, 1000)
    return IjPeriod(first_paid, end, days, base, daily, gross, csg_crds, gross - csg_crds)
