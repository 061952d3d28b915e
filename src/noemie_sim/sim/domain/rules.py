"""Reimbursement rules: what the AMO pays, what the mutuelle pays, what the patient keeps, and
the daily allowances (IJ) paid to employers. Amounts are integer cents throughout; every
amount, rate and cap is the one in force on the care date (or the leave's first day).

Sources (norms.md §8.2, §6; docs/rules.md lists each with its source):

* AMO rate 70 % for médecins [DOC] and sages-femmes (the ameli table crawled 24/09/2024:
  "médecins/sages-femmes 70 %"); 100 % for ALD soins en rapport and maternité [DOC];
  auxiliaires médicaux 60 % (the usual rate; norms.md notes an ameli crawl showing 70 %, so
  the rate is a parameter of :class:`Rules`); drugs at the rate of their class (65, 30, 15 or
  100 %; a 15 % drug stays at 15 % under ALD) [DOC SNDS, PRESS].
* parcours de soins: a médecin's act for a patient of 16 or more who has declared no médecin
  traitant is reimbursed 40 points lower (30 % instead of 70 %) [DOC ameli]; a contrat
  responsable does not cover that majoration (:func:`oc_part`) [DOC ameli]. The exceptions
  modelled are the age, ALD and maternité (a convention: urgence, accès direct spécifique and
  absence from home are not drawn).
* régime local d'Alsace-Moselle (assurés of caisses 57, 67, 68, a convention: the real rule
  follows the place of work): 90 % for médecins and auxiliaires médicaux, 90 % for drugs at
  65 %, 80 % for drugs at 30 %, 15 % drugs unchanged [PRESS lelynx, le Quotidien du médecin
  2006]; out of the parcours 50 % (the 40 points taken from 90 %: a convention).
* participation forfaitaire (PF): 1 € until 14/05/2024, 2 € from 15/05/2024, per médecin act,
  at most 4 acts a day with the same PS and 50 € a year; exempt under 18, C2S, pregnancy
  [PRESS/DOC].
* franchises médicales (since 1/1/2008): 0.50 € per box of drugs and per paramedical act (at
  most 2 € a day for acts), 1 € and 4 € from 31/03/2024; 2 € per trip in a taxi (at most 4 €
  a day), 4 € and 8 € from 31/03/2024; 50 € a year for all franchises; no daily cap on boxes;
  same exemptions [PRESS, service-public; norms.md §8.2].
* transport (a taxi conventionné, a VSL, an ambulance): 65 % [DOC ameli], 100 % under the
  régime local [PRESS], in ALD (a convention: every trip of an ALD patient is taken as
  related to it) and in maternity; no PF.
* soins and prothèses dentaires (a chirurgien-dentiste): 70 %, 60 % from 15/10/2023 (arrêté
  of 14/10/2023 [PRESS]), 90 % under the régime local before and after (its part going from
  20 to 30 %, radiomelodie.com 2023 [PRESS]), no PF nor franchise; a crown of the 100 % santé
  basket (at most 500 €) leaves the patient nothing with a contrat responsable or the C2S.
* aides auditives (an audioprothésiste): 60 % of a base of 400 € per ear since 1/1/2021, no
  PF nor franchise; the 100 % santé basket (classe I, at most 950 €) leaves the patient
  nothing with a contrat responsable or the C2S; a contrat responsable pays at most 1 700 €
  of a classe II device, AMO part included [PRESS, docs/rules.md].
* optique médicale (an opticien-lunetier): 60 % of each frame's and lens's base since
  1/1/2020, no PF nor franchise; an equipment of the 100 % santé basket (classe A: a frame at
  most 30 €, lenses at their prix limite) leaves the patient nothing with a contrat
  responsable or the C2S; a contrat responsable pays at most 100 € of a classe B frame and
  160 € of a classe B unifocal lens [PRESS and conventions, docs/rules.md].
* the complémentaire santé solidaire (C2S), granted to a foyer and, in noemie-sim, managed by
  its caisse (a convention: an OC may manage it too): the caisse pays the ticket modérateur
  beside the AMO part, in tiers payant, with no PF nor franchise and no dépassement
  (:func:`c2s_part`; CSS L861-3, L162-5-13; solidarites.gouv.fr [DOC]).
* a contrat responsable covers the ticket modérateur but never the PF nor the franchises;
  the mutuelle never pays more than the real cost. The dépassements of a secteur 2 médecin
  who did not sign the OPTAM it covers up to 100 % of the base, and 20 points below what it
  covers for one who did (R871-2 CSS, décret 2014-1374) [DOC]; the OC learns a PS's sector and
  OPTAM from the public directory of PS (a convention: the décompte does not carry them).
* IJ (:func:`ij_for_period`, by kind of leave):
  - maladie: 50 % of the daily base salary (3 months' gross / 91.25, rounded once to the
    nearest cent, half up: the rounding of a euro amount to the cent), at most half the daily
    base of 1.4 SMIC for leaves starting from 1 April 2025 (1.8 SMIC before), the SMIC of the
    month before the leave (:func:`ij_ceiling`), from the 4th day (3 waiting days) [DOC
    ameli / PRESS];
  - accident du travail / maladie professionnelle: no waiting day; 60 % of the daily salary
    (the last month's gross / 30.42) for days 1 to 28 of the leave, 80 % from day 29; the
    daily salary capped at 0.834 % of the plafond annuel de la sécurité sociale (PASS) [DOC
    ameli, service-public];
  - maternité, and paternité (25 days from 1/7/2021): no waiting day; the 3 months' gross,
    each month capped at the monthly PASS, less 21 % of flat social charges, / 91.25 [DOC
    ameli, service-public];
  CSG 6.2 % + CRDS 0.5 % withheld from each [DOC ameli / PRESS].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from .nomenclature import ACTS, SPECIALTIES, Act, Profession
from .text import half_up

PF_2024 = date(2024, 5, 15)
FRANCHISE_START = date(2008, 1, 1)
FRANCHISE_2024 = date(2024, 3, 31)
IJ_CEILING_CHANGE = date(2025, 4, 1)
#: the day the AMO rate of a chirurgien-dentiste's acts went from 70 % to 60 %
DENTAL_RATE_CHANGE = date(2023, 10, 15)
#: the majoration of the ticket modérateur out of the parcours de soins, in points of rate
OUT_OF_PATHWAY_POINTS = 40
PATHWAY_AGE = 16
#: régime local d'Alsace-Moselle: the rate it brings each régime général rate to
ALSACE_MOSELLE_RATES = {70: 90, 60: 90, 65: 90, 30: 80, 15: 15, 100: 100,
                        # a stay at 100 %, and the forfait journalier paid (lelynx.fr [PRESS])
                        80: 100, 0: 100}  # fmt: skip
#: and its rate for transport (a taxi, a VSL, an ambulance), which is not the 65 % drugs' 90 %:
#: "65% (100% pour les bénéficiaires du régime local d'Alsace-Moselle)" (santemeuse [PRESS])
ALSACE_MOSELLE_TRANSPORT_RATE = 100


@dataclass(frozen=True)
class Rules:
    """The parameters of the AMO rules (defaults: 2025)."""

    doctor_rate: int = 70
    auxiliary_rate: int = 60
    hospital_rate: int = 80  # a stay in an établissement: ticket modérateur 20 %
    full_rate: int = 100
    pf_per_act: int = 200
    pf_per_act_before_2024: int = 100
    pf_acts_per_day: int = 4
    pf_year_cap: int = 5000
    franchise_per_act: int = 100  # per act or per box, from 31/03/2024
    franchise_day_cap: int = 400  # acts only
    franchise_per_act_before_2024: int = 50
    franchise_day_cap_before_2024: int = 200
    franchise_year_cap: int = 5000
    transport_rate: int = 65
    hearing_aid_rate: int = 60  # an aide auditive (LPP), 100 % santé or not
    optical_rate: int = 60  # a frame or a lens (LPP), 100 % santé or not
    dental_rate: int = 60  # soins and prothèses dentaires, from 15/10/2023
    dental_rate_before_2023: int = 70
    franchise_per_trip: int = 400  # from 31/03/2024
    franchise_trip_day_cap: int = 800
    franchise_per_trip_before_2024: int = 200
    franchise_trip_day_cap_before_2024: int = 400


@dataclass(frozen=True)
class Patient:
    """What the rules need to know of the beneficiary on the day of care."""

    birth_date: date
    ald: bool = False  # soins en rapport avec une ALD
    maternity: bool = False  # maternité (nature d'assurance 30), exempt from PF/franchises
    c2s: bool = False
    medecin_traitant: bool = True  # a médecin traitant is declared (parcours de soins)
    alsace_moselle: bool = False  # covered by the régime local d'Alsace-Moselle

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
    franchise_trip_day: dict[date, int] = field(default_factory=dict)  # transport's own cap


@dataclass(frozen=True)
class Billed:
    """One act as billed: code, coefficient (hundredths), quantity, fee asked (cents)."""

    code: str
    fee: int
    coefficient: int | None = None
    quantity: int = 1
    unit_price: int | None = None  # the price of one box, for a drug
    #: the NABM analyses of a biology act (B), whose coefficients add up to its coefficient
    analyses: tuple[str, ...] = ()
    #: the teeth a dental act is for, as its Type 4M names them (ISO 3950, 2 digits each)
    teeth: str | None = None


@dataclass(frozen=True)
class Liquidated:
    """One act as the AMO settles it. ``amo`` is paid; PF and franchise are deducted from the
    gross AMO part; the patient (or the OC) owes the rest of the fee. ``penalty`` is what the
    AMO paid less because the patient was out of the parcours de soins (never covered by a
    contrat responsable)."""

    code: str
    fee: int
    base: int
    rate: int
    amo_gross: int
    pf: int
    franchise: int
    quantity: int = 1
    unit_price: int | None = None
    penalty: int = 0
    #: the part complémentaire of a patient with the C2S, which the caisse pays as its
    #: gestionnaire: the rest of the base (the ticket modérateur) less the parcours
    #: majoration (:func:`c2s_part`); 0 for anyone else
    c2s: int = 0
    #: the NABM analyses of a biology act, as billed
    analyses: tuple[str, ...] = ()
    #: the teeth of a dental act, as billed
    teeth: str | None = None

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
        """What remains after the AMO (and the C2S), before any mutuelle."""
        return self.fee - self.amo - self.c2s


def imputed(acts: list[Liquidated]) -> list[Liquidated]:
    """The lines of a stay once its forfait journalier is imputed on its ticket modérateur:
    when the ticket modérateur of the stay (what the AMO leaves of its other lines) is at least
    the forfait, the forfait is part of it and is not billed (CSS L174-4 [DOC]; "quand ce
    ticket modérateur de 20 % est facturé, le forfait journalier n'est pas applicable",
    quechoisir [PRESS]). A patient exempt from the ticket modérateur (ALD) owes the forfait;
    the rarer case of a ticket modérateur below the forfait (both then reduced to the
    forfait) is not modelled: both stay billed. Lines that are not a stay's, unchanged."""
    forfait = sum(a.fee for a in acts if a.code == "FJ" and a.amo_gross == 0)
    ticket = sum(a.base - a.amo_gross for a in acts if ACTS[a.code].hospital and a.code != "FJ")
    if forfait and ticket >= forfait:
        return [a for a in acts if not (a.code == "FJ" and a.amo_gross == 0)]
    return acts


def c2s_part(base: int, fee: int, amo_gross: int, penalty: int, limit: int | None = None) -> int:
    """What the complémentaire santé solidaire pays of one act: the ticket modérateur of
    the base, or of the fee when it is lower (CSS L861-3: the part of the tariff left to the
    assuré [DOC]; a médecin bills a C2S patient no dépassement, CSS L162-5-13); for a device
    of the 100 % santé basket, what the AMO leaves of the fee up to ``limit``, its prix limite
    de vente (reste à charge 0, as with a contrat responsable). Not the majoration of an act
    out of the parcours de soins: a convention, as a contrat responsable leaves it."""
    return max(0, min(base if limit is None else limit, fee) - amo_gross - penalty)


def out_of_pathway(specialty: str, patient: Patient, day: date) -> bool:
    """True when a médecin's act on ``day`` is out of the parcours de soins: a patient of 16 or
    more, with no médecin traitant declared, outside ALD and maternité (module docstring)."""
    return (
        SPECIALTIES[specialty].profession is Profession.MEDECIN
        and not patient.medecin_traitant
        and not (patient.ald or patient.maternity)
        and patient.age_on(day) >= PATHWAY_AGE
    )


def majoration(base: int, rate: int, fee: int) -> int:
    """What the AMO pays less for an act out of the parcours de soins, reimbursed at ``rate``
    (already lowered): the part at the rate 40 points higher, less the part at ``rate``, each
    at most the fee."""
    normal = min(half_up(base * (rate + OUT_OF_PATHWAY_POINTS), 100), fee)
    return normal - min(half_up(base * rate, 100), fee)


def rate_for(
    specialty: str,
    patient: Patient,
    rules: Rules = Rules(),
    code: str | None = None,
    day: date | None = None,
) -> int:
    """The AMO rate (%) of act ``code`` billed by ``specialty`` for ``patient`` on ``day``:
    ALD and maternité 100 % (not for a 15 % drug, nor in ALD the forfait journalier); a drug
    its class's rate (the forfait journalier 0), otherwise the profession's (a stay 80 %; a
    chirurgien-dentiste's acts 70 % before 15/10/2023, 60 % from then or when no ``day``);
    then the régime local d'Alsace-Moselle's rate, then 40 points less out of the parcours de
    soins (when ``day`` is given)."""
    act = ACTS.get(code) if code else None
    drug_rate = act.rate if act is not None else None
    # the forfait journalier (rate 0): the AMO pays it in maternity, not in ALD
    if (patient.maternity and drug_rate != 15) or (patient.ald and drug_rate not in (15, 0)):
        return rules.full_rate
    transport = False  # a trip: its own rate under the régime local
    if drug_rate is not None:
        rate = drug_rate
    else:
        profession = SPECIALTIES[specialty].profession
        medical = profession in (Profession.MEDECIN, Profession.SAGE_FEMME)
        transport = profession in (Profession.TAXI, Profession.TRANSPORT_SANITAIRE)
        if profession is Profession.ETABLISSEMENT:
            rate = rules.hospital_rate
        elif transport:
            rate = rules.transport_rate
        elif profession is Profession.AUDIOPROTHESISTE:
            rate = rules.hearing_aid_rate
        elif profession is Profession.OPTICIEN:
            rate = rules.optical_rate
        elif profession is Profession.CHIRURGIEN_DENTISTE:
            before = day is not None and day < DENTAL_RATE_CHANGE
            rate = rules.dental_rate_before_2023 if before else rules.dental_rate
        else:
            rate = rules.doctor_rate if medical else rules.auxiliary_rate
    if patient.alsace_moselle:
        rate = ALSACE_MOSELLE_TRANSPORT_RATE if transport else ALSACE_MOSELLE_RATES.get(rate, rate)
    if day is not None and out_of_pathway(specialty, patient, day):
        rate -= OUT_OF_PATHWAY_POINTS
    return rate


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
    act code outside the nomenclature (the caller rejects such invoices first); ValueError for
    a drug billed without its box price."""
    exempt = patient.age_on(day) < 18 or patient.c2s or patient.maternity
    penalised = out_of_pathway(specialty, patient, day)
    result = []
    for billed in acts:
        act = ACTS[billed.code]
        rate = rate_for(specialty, patient, rules, billed.code, day)
        # the tariff of the care date, or the box's price for a drug
        base = act.base(billed.coefficient, billed.quantity, day, billed.unit_price)
        amo_gross = min(half_up(base * rate, 100), billed.fee)
        penalty = majoration(base, rate, billed.fee) if penalised else 0
        pf = franchise = 0
        if not exempt and act.participation_forfaitaire:
            pf = _participation(counters, rules, day, ps_number, amo_gross)
        if not exempt and (act.franchise or act.transport):
            units = billed.quantity if act.per_box else 1
            kind = "trip" if act.transport else "box" if act.per_box else "act"
            franchise = _franchise(counters, rules, day, amo_gross, units, kind)
        result.append(
            Liquidated(
                billed.code,
                billed.fee,
                base,
                rate,
                amo_gross,
                pf,
                franchise,
                billed.quantity,
                billed.unit_price,
                penalty,
                c2s_part(base, billed.fee, amo_gross, penalty, _rac_zero(act, billed.quantity))
                if patient.c2s
                else 0,
                billed.analyses,
                billed.teeth,
            )
        )
    return result


def _rac_zero(act: Act, quantity: int) -> int | None:
    """The prix limite de vente of ``quantity`` devices of the 100 % santé basket, up to which
    what the AMO leaves is paid (reste à charge 0); None for any other act."""
    return act.rac_zero_price * quantity if act.rac_zero_price is not None else None


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


def _franchise(
    counters: Counters, rules: Rules, day: date, ceiling: int, units: int, kind: str
) -> int:
    """The franchise of one line: ``units`` paramedical acts (``kind`` "act"), boxes ("box")
    or trips ("trip") at the amounts of ``day``, within the yearly cap shared by all, and for
    acts and trips each their own daily cap."""
    if day < FRANCHISE_START:
        return 0
    recent = day >= FRANCHISE_2024
    spent: dict[date, int] | None = None
    if kind == "trip":
        per_unit = rules.franchise_per_trip if recent else rules.franchise_per_trip_before_2024
        day_cap = (rules.franchise_trip_day_cap if recent
                   else rules.franchise_trip_day_cap_before_2024)  # fmt: skip
        spent = counters.franchise_trip_day
    else:
        per_unit = rules.franchise_per_act if recent else rules.franchise_per_act_before_2024
        day_cap = rules.franchise_day_cap if recent else rules.franchise_day_cap_before_2024
        spent = counters.franchise_day if kind == "act" else None
    left_year = rules.franchise_year_cap - counters.franchise_year.get(day.year, 0)
    amount = min(per_unit * units, left_year, ceiling)
    if spent is not None:
        amount = min(amount, day_cap - spent.get(day, 0))
        spent[day] = spent.get(day, 0) + max(0, amount)
    amount = max(0, amount)
    counters.franchise_year[day.year] = counters.franchise_year.get(day.year, 0) + amount
    return amount


# -- mutuelles ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """A guarantee: total reimbursement (AMO + OC) up to ``percent_br`` % of the base, plus a
    fixed ``forfaits`` amount per unit of an act code (a session, an ear); never the PF or
    franchises, never above the fee."""

    name: str
    percent_br: int
    forfaits: tuple[tuple[str, int], ...] = ()


GRIDS = {
    g.name: g
    for g in (
        Grid("100% BR", 100),
        Grid("150% BR", 150),
        # a forfait per aide auditive of classe II (per ear), per frame and per lens of
        # classe B beside the % of their base (modelling values): the 300 % grid's reach the
        # contrat responsable's ceilings (1 700 € an ear, 100 € a frame, 160 € a lens)
        Grid("200% BR", 200, (("AMK", 500), ("AD2", 30000), ("MO2", 5000), ("VE2", 6000))),
        Grid("300% BR", 300, (("COE", 1000), ("AD2", 60000), ("MO2", 10000), ("VE2", 16000))),
    )
}


#: a contrat responsable covers the dépassements of a médecin who did not sign the OPTAM up to
#: this many % of the base, and at least this many points below what it covers for one who
#: did (code de la sécurité sociale R871-2, décret 2014-1374) [DOC]
NON_OPTAM_CAP = 100
NON_OPTAM_BELOW = 20


def responsible_percent(grid: Grid, capped: bool) -> int:
    """The grid's cover (AMO + OC, % of the base) for an act: as it says, or, for the
    dépassement of a secteur 2 médecin without the OPTAM (``capped``), what a contrat
    responsable may pay: the ticket modérateur, plus a dépassement cover of at most
    :data:`NON_OPTAM_CAP` % and :data:`NON_OPTAM_BELOW` points below the grid's own."""
    if not capped or grid.percent_br <= 100:
        return grid.percent_br
    above = min(grid.percent_br - 100 - NON_OPTAM_BELOW, NON_OPTAM_CAP)
    return 100 + max(0, above)


def oc_part(act: Liquidated, grid: Grid, non_optam: bool = False) -> int:
    """What the mutuelle pays for one settled act: the grid's cover less what the AMO would
    have paid in the parcours de soins (the majoration out of it stays with the patient);
    ``non_optam``: the act of a secteur 2 médecin who did not sign the OPTAM, whose
    dépassement a contrat responsable covers less (:func:`responsible_percent`). Whatever
    the grid, a device of the 100 % santé basket is paid what the AMO leaves of it up to its
    prix limite de vente (reste à charge 0), and a device with a ceiling is paid at most that
    ceiling with the AMO part (CSS R871-2, the obligations of a contrat responsable)."""
    billed = ACTS.get(act.code)
    limit = _rac_zero(billed, act.quantity) if billed is not None else None
    if limit is not None:
        return max(0, min(act.fee, limit) - act.amo_gross - act.penalty)
    percent = responsible_percent(grid, non_optam and act.depassement > 0)
    covered = half_up(act.base * percent, 100) - act.amo_gross - act.penalty
    covered += dict(grid.forfaits).get(act.code, 0) * act.quantity
    if billed is not None and billed.responsible_ceiling is not None:
        covered = min(covered, billed.responsible_ceiling * act.quantity - act.amo_gross)
    # the fee minus the gross AMO part: the PF, franchises and the majoration stay with the
    # patient
    return max(0, min(covered, act.fee - act.amo_gross - act.penalty))


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


#: Plafond annuel de la sécurité sociale (PASS) in euros, from each 1 January (arrêtés
#: annuels; service-public.fr).
PASS_YEARLY: tuple[tuple[date, int], ...] = (
    (date(2023, 1, 1), 43_992),
    (date(2024, 1, 1), 46_368),
    (date(2025, 1, 1), 47_100),
    (date(2026, 1, 1), 48_060),
)
#: The kinds of leave, with the nature d'assurance a NOEMIE 550 carries them under.
LEAVE_NATURES = {"maladie": "10", "maternite": "30", "paternite": "30", "at-mp": "40"}
#: Congé de paternité et d'accueil de l'enfant: 25 calendar days since 1 July 2021 (32 for a
#: multiple birth), paid as maternity is (ameli.fr, service-public.fr [DOC])
PATERNITY_DAYS = 25
AT_MP_HIGHER_FROM_DAY = 29


def pass_yearly(day: date) -> int:
    """The PASS in force on ``day``, in cents (the oldest known before 2023)."""
    found = PASS_YEARLY[0][1]
    for start, euros in PASS_YEARLY:
        if day >= start:
            found = euros
    return found * 100


def at_mp_daily_salary(leave_start: date, gross_three_months: int) -> int:
    """Salaire journalier of an AT/MP leave: the last month's gross (a third of the three
    months given: salaries are steady in the model) / 30.42, at most 0.834 % of the PASS."""
    daily = half_up(gross_three_months * 100, 3 * 3042)
    return min(daily, half_up(pass_yearly(leave_start) * 834, 100_000))


def maternity_daily_base(leave_start: date, gross_three_months: int) -> int:
    """Gain journalier de base of a maternity leave: the three months' gross, each month at
    most the monthly PASS, less 21 % of flat social charges, / 91.25."""
    capped = min(gross_three_months, 3 * pass_yearly(leave_start) // 12)
    return half_up(capped * 79, 9125)


def ij_periods(
    leave_start: date, start: date, end: date, gross_three_months: int, *, kind: str = "maladie"
) -> list[IjPeriod]:
    """The IJ of days ``start``..``end`` of a leave of ``kind`` (a key of
    :data:`LEAVE_NATURES`) that began on ``leave_start``, one period per daily amount: an AT/MP
    leave crossing its 29th day gives two. Empty when no day is paid (the waiting days of a
    sick leave). ValueError for an unknown kind."""
    if kind == "at-mp":
        change = leave_start + timedelta(days=AT_MP_HIGHER_FROM_DAY - 1)
        if start < change <= end:
            return [
                p
                for a, b in ((start, change - timedelta(days=1)), (change, end))
                for p in ij_periods(leave_start, a, b, gross_three_months, kind=kind)
            ]
    period = ij_for_period(leave_start, start, end, gross_three_months, kind=kind)
    return [period] if period else []


def ij_for_period(
    leave_start: date,
    start: date,
    end: date,
    gross_three_months: int,
    *,
    kind: str = "maladie",
) -> IjPeriod | None:
    """The IJ for days ``start``..``end`` of a leave of ``kind`` that began on ``leave_start``
    (module docstring): maladie (the default) does not pay its first three days; AT/MP and
    maternité pay from the first. None when no day of the period is paid. ValueError for an
    unknown kind, or an AT/MP period that crosses the 29th day of the leave (its daily amount
    changes there: :func:`ij_periods` splits it)."""
    if kind == "maladie":
        first_paid = max(start, leave_start + timedelta(days=3))
    elif kind in LEAVE_NATURES:
        first_paid = max(start, leave_start)
    else:
        raise ValueError(f"unknown kind of leave {kind!r}: one of {', '.join(LEAVE_NATURES)}")
    if first_paid > end:
        return None
    if kind == "maladie":
        base = daily_base(gross_three_months)
        # half the daily base as the caisse computes it: 50 % of the 3 months' gross / 91.25,
        # rounded once to the nearest cent (7 500 € -> 41.0959 -> 41.10 €), not half of the
        # base already rounded, floored (41.09 €)
        daily = min(half_up(gross_three_months * 100, 9125 * 2), ij_ceiling(leave_start))
    elif kind in ("maternite", "paternite"):  # the same daily base and amount
        base = daily = maternity_daily_base(leave_start, gross_three_months)
    else:
        base = at_mp_daily_salary(leave_start, gross_three_months)
        change = leave_start + timedelta(days=AT_MP_HIGHER_FROM_DAY - 1)
        if first_paid < change <= end:
            raise ValueError("an AT/MP period crossing the 29th day of the leave: split it")
        daily = half_up(base * (80 if first_paid >= change else 60), 100)
    days = (end - first_paid).days + 1
    gross = daily * days
    csg_crds = half_up(gross * 67, 1000)
    return IjPeriod(first_paid, end, days, base, daily, gross, csg_crds, gross - csg_crds)
