"""Realistic files of every kind, from a seeded population, with amounts from the rules.

Pure: returns bytes. Each kind's generator tells the same story as the network will: a PS
bills its patients (b2), the caisse acknowledges (arl), liquidates and pays the tiers-payant
invoices (noemie-ps), forwards the décomptes of one mutuelle (decompte, or noemie-oc in their
NOEMIE form), which answers (oc-answer); employers receive the IJ of employees on sick leave
(noemie-550).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, time, timedelta

from noemie_sim.sim.norms import arl, b2, noemie_550, noemie_oc, noemie_ps, oc_answer
from noemie_sim.sim.norms.errors import Anomaly

from . import codes, rules
from .nomenclature import (
    ACTS,
    DRUGS,
    HEARING_AID_ADULT,
    SPECIALTIES,
    Profession,
    biology_coefficient,
)
from .population import (
    Beneficiary,
    Employee,
    Insured,
    Population,
    PopulationConfig,
    Practitioner,
    alsace_moselle,
)
from .population import build as build_population
from .rules import (
    GRIDS,
    Billed,
    Counters,
    Grid,
    Liquidated,
    Patient,
    ij_periods,
    liquidate,
    oc_part,
)
from .text import ascii_upper

#: the share of a chirurgien-dentiste's visits that fit a crown, and of those crowns that are
#: of the 100 % santé basket (modelling values)
DENTAL_CROWN_SHARE = 0.3
DENTAL_RAC_ZERO_SHARE = 0.5
#: and of the others, the share of the panier maîtrisé's (the rest at a free price)
DENTAL_MAITRISE_SHARE = 0.4
#: the share of aides auditives of classe I (the 100 % santé basket) among those fitted
HEARING_AID_CLASS_I_SHARE = 0.4
#: the share of glasses of classe A (the 100 % santé basket) among those an opticien sells to
#: patients without the C2S (a modelling value)
OPTICAL_CLASS_A_SHARE = 0.2

KINDS = ("b2", "arl", "noemie-ps", "decompte", "noemie-oc", "oc-answer", "noemie-550")
LOT_SIZE = 20


def generate(kind: str, seed: int = 1, count: int = 10) -> bytes:
    """A valid file of ``kind`` with about ``count`` invoices (or IJ lines)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    if not 1 <= count <= 5000:
        raise ValueError("count is 1 to 5000")
    return _GENERATORS[kind](story_of(seed, count))


def story_of(seed: int, count: int) -> _Story:
    """The population and the draws that :func:`generate` uses for ``seed`` and ``count``: a
    check can look at the people and the file it answers (``answered``)."""
    population = build_population(
        seed,
        PopulationConfig(
            assures=max(60, count * 3),
            practitioners=6,
            mutuelles=3,
            employers=2,
            employees_per_employer=max(5, count),
        ),
    )
    return _Story(population, random.Random(seed * 7919 + 13), count)


#: the dépassements a secteur 2 cardiologue asks on the avis ponctuel de consultant, each drawn
#: as often: with the OPTAM, moderated (none, or a third of the tariff); without, a third or
#: two thirds of it (modelling values; the OPTAM's own limit is a practice rate, not per act)
DEPASSEMENTS = {True: (0, 2000, 2000), False: (2000, 4000, 4000)}
#: the analyses a laboratoire's visit draws from, beside the forfait pré-analytique (9005):
#: hémogramme, TSH, exploration d'une anomalie lipidique (a modelling choice)
BIOLOGY_PANEL = ("1104", "1208", "0996")


def typical_visit(
    specialty: str,
    rng: random.Random,
    day: date | None = None,
    sector: int = 1,
    optam: bool = False,
    c2s: bool = False,
    age: int | None = None,
) -> list[Billed]:
    """The acts of one visit on ``day`` to a PS of ``specialty``, with usual fees (the tariffs
    of that day; today's when no day is given): a consultation (or a home visit) for a
    généraliste, a consultation and an ECG for a cardiologue (in secteur 2, the consultation
    with a dépassement: :data:`DEPASSEMENTS`; in secteur 1, or for a patient with the C2S,
    the tariff), a nursing act and its travel fee for an infirmier, a consultation (C + MSF)
    for a sage-femme, for a laboratoire one B line (the forfait pré-analytique and one to
    three analyses of :data:`BIOLOGY_PANEL`, their coefficients added), for a clinique a stay
    (the séjour and the forfait journalier of its two to six days), for a taxi a trip (the
    forfait and one to 36 km beyond its 4), for an entreprise de transports sanitaires a trip
    by VSL or ambulance (the forfait and one to 37 km beyond its 3), for an audioprothésiste
    an aide auditive (one ear or both; for a patient of ``age`` under 20, classe I at its prix
    limite; from 20, or when no age is given, classe I for a patient with the C2S and
    :data:`HEARING_AID_CLASS_I_SHARE` of the others, classe II at a free price of 1 100 to
    2 400 € an ear), for a chirurgien-dentiste a carie restored or a crown on a tooth it is
    for (of the 100 % santé basket or of the panier maîtrisé at its honoraire limite, or at a
    free price of 550 to 1 000 €), for an
    opticien-lunetier a pair of glasses (a frame and two unifocal lenses: of classe A at their
    prix limite for a patient with the C2S and :data:`OPTICAL_CLASS_A_SHARE` of the others,
    else of classe B, a frame of 60 to 220 € and lenses of 50 to 130 € each), a session for a
    kinésithérapeute, one to four drugs of one to three boxes
    each at a pharmacy (their price: a pharmacy asks no more than the base)."""

    def fee(code: str, coefficient: int | None = None) -> int:
        return ACTS[code].base(coefficient, 1, day)

    if specialty == "50":
        drugs = rng.sample(DRUGS, rng.randint(1, 4))
        lines = []
        for drug in drugs:
            boxes = rng.randint(1, 3)
            lines.append(Billed(drug.code, drug.price * boxes, None, boxes, drug.price))
        return lines

    if specialty == "01":
        acts = (
            [Billed("G", fee("G"))]
            if rng.random() < 0.8
            else [Billed("VG", fee("VG")), Billed("MD", fee("MD"))]
        )
    elif specialty == "03":
        # no dépassement for a patient with the complémentaire santé solidaire (CSS L162-5-13)
        above = DEPASSEMENTS[optam] if sector == 2 and not c2s else (0, 0, 0)
        apc = fee("APC") + rng.choice(above)
        acts = [Billed("APC", apc), Billed("ADE", fee("ADE"))]
    elif specialty == "21":
        acts = [Billed("C", fee("C")), Billed("MSF", fee("MSF"))]
    elif specialty == "90":
        # a stay of one to five nights: the séjour and the forfait journalier of each day,
        # the day of discharge included
        days = rng.randint(2, 6)
        acts = [Billed("GHS", fee("GHS")), Billed("FJ", ACTS["FJ"].base(None, days, day), None,
                                                  days)]  # fmt: skip
    elif specialty == "54":
        # a trip of 5 to 40 km: the forfait (4 km with it) and each km beyond
        beyond = rng.randint(1, 36)
        acts = [Billed("TPC", fee("TPC")), Billed("TKM", ACTS["TKM"].base(None, beyond, day),
                                                  None, beyond)]  # fmt: skip
    elif specialty == "55":
        # a trip of 4 to 40 km, seated in a VSL or, for one in five, lying in an ambulance
        # (a modelling share): the forfait (3 km with it) and each km beyond
        beyond = rng.randint(1, 37)
        forfait, km = ("ABA", "AKM") if rng.random() < 0.2 else ("VSD", "VKM")
        acts = [Billed(forfait, fee(forfait)), Billed(km, ACTS[km].base(None, beyond, day), None,
                                                      beyond)]  # fmt: skip
    elif specialty == "19":
        # a crown for about one visit in three, else a carie restored; the crown of the 100 %
        # santé basket, at its honoraire limite, for half of them and for every patient with
        # the C2S (who is billed no dépassement), else one of the panier maîtrisé at its own
        # or one at a free price (modelling shares and prices)
        if rng.random() < DENTAL_CROWN_SHARE:
            if c2s or rng.random() < DENTAL_RAC_ZERO_SHARE:
                crown = "DC1"
            else:
                crown = "DC3" if rng.random() < DENTAL_MAITRISE_SHARE else "DC2"
            # its tooth: a quadrant of the permanent teeth and a place the crown is for
            tooth = f"{rng.randint(1, 4)}{rng.choice(ACTS[crown].tooth_places)}"
            if crown == "DC1":
                price = ACTS["DC1"].rac_zero_price
            elif crown == "DC3":
                price = ACTS["DC3"].price_limit
            else:
                price = rng.randrange(55_000, 100_001, 1_000)
            assert price is not None
            acts = [Billed(crown, price, teeth=tooth)]
        else:
            acts = [Billed("SDE", fee("SDE"))]
    elif specialty == "60":
        # an aide auditive for one ear or both: classe I (the 100 % santé basket, at its prix
        # limite de vente) for about two patients in five (mma.fr 2023 [PRESS]: "près de 2
        # personnes sur 5") and for every patient with the C2S, else classe II at a free price
        ears = rng.choice((1, 2))
        if age is not None and age < HEARING_AID_ADULT:
            price = ACTS["AE1"].rac_zero_price
            assert price is not None
            acts = [Billed("AE1", price * ears, None, ears)]
        elif c2s or rng.random() < HEARING_AID_CLASS_I_SHARE:
            price = ACTS["AD1"].rac_zero_price
            assert price is not None
            acts = [Billed("AD1", price * ears, None, ears)]
        else:
            price = rng.randrange(110_000, 240_001, 5_000)
            acts = [Billed("AD2", price * ears, None, ears)]
    elif specialty == "61":
        # a frame and two unifocal lenses, both of classe A (the 100 % santé basket, at their
        # prix limite) or both of classe B at free prices (mixing the classes, which a
        # patient may, is not drawn: a modelling choice, as the prices)
        if c2s or rng.random() < OPTICAL_CLASS_A_SHARE:
            frame, lens = ACTS["MO1"].rac_zero_price, ACTS["VE1"].rac_zero_price
            assert frame is not None and lens is not None
            acts = [Billed("MO1", frame), Billed("VE1", lens * 2, None, 2)]
        else:
            lens = rng.randrange(5_000, 13_001, 500)
            acts = [Billed("MO2", rng.randrange(6_000, 22_001, 1_000)),
                    Billed("VE2", lens * 2, None, 2)]  # fmt: skip
    elif specialty == "30":
        # the forfait pré-analytique and one to three analyses, on one B line
        analyses = ("9005", *sorted(rng.sample(BIOLOGY_PANEL, rng.randint(1, 3))))
        coefficient = biology_coefficient(analyses, day)
        assert coefficient is not None  # the panel is in the NABM table
        acts = [Billed("B", fee("B", coefficient), coefficient, analyses=analyses)]
    elif specialty == "24":
        coefficient = rng.choice((100, 200, 300))
        acts = [Billed("AMI", fee("AMI", coefficient), coefficient), Billed("IFD", fee("IFD"))]
    else:
        acts = [Billed("AMK", fee("AMK"))]
    return acts


class _Story:
    """Shared facts of one generated exchange: the day, the PS and its patients' invoices."""

    def __init__(self, population: Population, rng: random.Random, count: int) -> None:
        self.population = population
        self.rng = rng
        self.count = count
        self.care_day = population.config.reference_day
        self.caisse = population.caisses[0].organisme
        self.ps = rng.choice(population.practitioners)
        self.patients = self._patients()
        #: the file an answer (ARL, OC answer) generated from this story answers
        self.answered: bytes = b""

    def _patients(self) -> list[tuple[Insured, Beneficiary]]:
        open_rights = [p for p in self.population.beneficiaries() if p[0].rights_until is None]
        return [self.rng.choice(open_rights) for _ in range(self.count)]

    def billed(self, c2s: bool = False, age: int | None = None) -> list[Billed]:
        """The acts of one visit to this PS, with its usual fees (for a patient with the C2S
        when ``c2s``, of ``age`` when given)."""
        ps = self.ps
        return typical_visit(ps.specialty, self.rng, self.care_day, ps.sector, ps.optam, c2s,
                             age)  # fmt: skip

    def fse(self, number: int, patient: tuple[Insured, Beneficiary]) -> b2.Invoice:
        """The invoice as the PS sends it: AMO part before PF and franchises."""
        insured, who = patient
        acts = self.billed(who.c2s, Patient(who.birth_date).age_on(self.care_day))
        tiers_payant = self.rng.random() < self.ps.tiers_payant_share or who.ald or who.c2s
        return fse_invoice(
            self.population, self.ps, insured, who, self.care_day, number, acts, tiers_payant
        )

    def invoices(self) -> list[b2.Invoice]:
        return [self.fse(1000 + n, p) for n, p in enumerate(self.patients)]

    def lots(self, invoices: list[b2.Invoice]) -> tuple[b2.Lot, ...]:
        chunks = [invoices[i : i + LOT_SIZE] for i in range(0, len(invoices), LOT_SIZE)]
        return tuple(
            b2.Lot(n, self.ps.ps_number, self.caisse, self.care_day, tuple(chunk))
            for n, chunk in enumerate(chunks, start=1)
        )

    def b2_file(self) -> b2.B2File:
        return b2.B2File(
            "FSE",
            "PS",
            self.ps.ps_number,
            "CP",
            self.caisse,
            self.rng.randrange(1, 10**6),
            datetime.combine(self.care_day, time(18, 30)),
            self.lots(self.invoices()),
        )


def fse_invoice(
    population: Population,
    ps: Practitioner,
    insured: Insured,
    who: Beneficiary,
    day: date,
    number: int,
    acts: list[Billed],
    tiers_payant: bool,
) -> b2.Invoice:
    """Invoice ``number`` of ``ps`` for bénéficiaire ``who`` of ``insured``: ``acts`` on
    ``day`` with the AMO part before PF and franchises (the caisse deducts them), the
    mutuelle of a contract covering that day, in tiers payant when asked; for a patient with
    the C2S, the part complémentaire (the caisse's) as the AMC amount of each act."""
    patient = patient_of(who, insured)
    # a stay's forfait journalier is billed only where the ticket modérateur does not hold it
    settled = rules.imputed(liquidate(acts, ps.specialty, ps.ps_number, patient, day, Counters()))
    contract = population.cover_of(insured.nir, who.nir, day)
    return b2.Invoice(
        invoice_number=number,
        insured_nir=insured.nir,
        insured_nir_key=insured.nir_key,
        beneficiary_nir=who.nir,
        beneficiary_nir_key=who.nir_key,
        birth_date=who.birth_date,
        invoice_date=day,
        # a C2S patient's part complémentaire is billed to the caisse, its gestionnaire
        lines=tuple(b2_act(s, ps, day, s.amo_gross, s.c2s) for s in settled),
        managing_caisse=int(insured.caisse[2:5]),
        managing_centre=int(insured.caisse[5:]),
        tiers_payant="O" if tiers_payant else "N",
        insurance_nature="10",
        exemption=exemption_of(who),
        oc_number=contract.oc_number if contract else None,
        oc_contract_type="01" if contract else None,
        care_pathway=care_pathway(ps.specialty, patient, day),
    )


def exemption_of(who: Beneficiary) -> str | None:
    """The Type 2 justification d'exonération du ticket modérateur of an invoice for ``who``:
    4 for a patient in ALD (whose acts the caisse pays at 100 %), none otherwise."""
    return "4" if who.ald else None


def care_pathway(specialty: str, patient: Patient, day: date) -> str | None:
    """The Type 2S parcours de soins indicator of an invoice: for a médecin, "N" out of the
    parcours, "T" within it; blank for other professions. The meaning of the letters is not in
    the public sources: T and N are a project convention (docs/norms.md)."""
    if SPECIALTIES[specialty].profession is not Profession.MEDECIN:
        return None
    return "N" if rules.out_of_pathway(specialty, patient, day) else "T"


#: How ``fresh_fse_file`` numbers invoices: invoice k (from 1) of file N is N x this + k, so
#: that every new file number gives new invoice numbers (docs/vendors.md, numbering rules).
INVOICES_PER_FILE = 100


def fresh_fse_file(
    population: Population,
    ps_number: str,
    file_id: int,
    lot_number: int,
    created: datetime,
    count: int,
    rng: random.Random,
) -> bytes:
    """A B2 file ``file_id`` of one lot ``lot_number`` of ``count`` FSE of PS ``ps_number``
    for assurés of its own caisse (open rights), dated ``created``, for that caisse."""
    ps = next((p for p in population.practitioners if p.ps_number == ps_number), None)
    if ps is None:
        raise ValueError(f"{ps_number} is not a practitioner of this population")
    if not 1 <= count < INVOICES_PER_FILE:
        raise ValueError(f"count is 1 to {INVOICES_PER_FILE - 1}")
    if not 1 <= file_id <= 9_999_999 or not 1 <= lot_number <= 999:
        raise ValueError("the file number is 1 to 9999999 and the lot number 1 to 999")
    day = created.date()
    patients = [
        (insured, who)
        for insured, who in population.beneficiaries()
        if insured.caisse == ps.caisse
        and (insured.rights_until is None or insured.rights_until >= day)
    ]
    if not patients:
        raise ValueError(f"the caisse {ps.caisse} of {ps_number} has no assuré with open rights")
    invoices = []
    for k in range(1, count + 1):
        insured, who = rng.choice(patients)
        acts = typical_visit(ps.specialty, rng, day, ps.sector, ps.optam, who.c2s)
        tiers_payant = who.ald or who.c2s or rng.random() < ps.tiers_payant_share
        number = file_id * INVOICES_PER_FILE + k
        invoices.append(fse_invoice(population, ps, insured, who, day, number, acts, tiers_payant))
    lot = b2.Lot(lot_number, ps_number, ps.caisse, day, tuple(invoices))
    return b2.build(b2.B2File("FSE", "PS", ps_number, "CP", ps.caisse, file_id, created, (lot,)))


def patient_of(who: Beneficiary, insured: Insured) -> Patient:
    """What the rules need to know of bénéficiaire ``who`` of ``insured``."""
    return Patient(
        who.birth_date,
        ald=who.ald,
        c2s=who.c2s,
        medecin_traitant=who.medecin_traitant,
        alsace_moselle=alsace_moselle(insured.caisse),
    )


def b2_act(
    settled: Liquidated, ps: Practitioner, day: date, amo: int, amc: int = 0
) -> b2.ProfessionalAct | b2.HospitalLine:
    """The B2 line of a settled act, with the AMO (and AMC) amounts given: a Type 4, or for
    an établissement's stay a Type 3. A drug's line has the box's price as unit price and the
    boxes as quantity."""
    act = ACTS[settled.code]
    if act.hospital:
        return b2.HospitalLine(
            care_date=day,
            act_code=settled.code,
            quantity=settled.quantity,
            coefficient=100,
            mco_coefficient=10000,
            unit_price=act.tariff_at(day),
            base=settled.base,
            rate=settled.rate,
            amo_amount=amo,
            total_amount=settled.fee,
            amc_amount=amc,
        )
    if act.per_box:
        unit_price, coefficient = settled.unit_price or 0, 100
    else:
        # the coefficient of one unit: the base is tariff x coefficient x quantity
        unit_price = act.tariff_at(day)
        coefficient = settled.base * 100 // (unit_price * settled.quantity) if unit_price else 100
    return b2.ProfessionalAct(
        biology=tuple(b2.NabmAnalysis(day, code.zfill(8)) for code in settled.analyses),
        care_date=day,
        act_code=settled.code,
        unit_price=unit_price,
        base=settled.base,
        rate=settled.rate,
        amo_amount=amo,
        fee_amount=settled.fee,
        amc_amount=amc,
        quantity=settled.quantity,
        coefficient=coefficient,
        specialty=ps.specialty,
        ccam=b2.CcamDetail(act.ccam, teeth=settled.teeth) if act.ccam else None,
    )


def _b2(story: _Story) -> bytes:
    return b2.build(story.b2_file())


#: What a generated answer says of the sealed file it answers: ``generate`` seals nothing, so
#: there is no such file and no digest of it (a convention; the network's answers carry the
#: real SHA-256 of the sealed file received).
NO_SEALED_FILE = "0" * 64


def _arl(story: _Story) -> bytes:
    """The ARL of a B2 file of this story whose lots are either valid (positive ARL) or, for
    about 30 % of them, have a wrong NIR key in their first invoice (negative ARL naming that
    record): every anomaly it names is true of the file it answers, which is the B2 of the
    same seed with those keys made wrong."""
    fse = story.b2_file()
    lots = []
    for lot in fse.lots:
        if story.rng.random() < 0.3:
            first = lot.invoices[0]
            wrong = replace(first, insured_nir_key=first.insured_nir_key % 97 + 1)
            lot = replace(lot, invoices=(wrong, *lot.invoices[1:]))
        lots.append(lot)
    answered = replace(fse, lots=tuple(lots))
    story.answered = b2.build(answered)
    read = b2.read(story.answered, "FSE")
    by_lot: dict[int, list[Anomaly]] = {number: [] for number, _, _ in read.spans}
    for anomaly in read.anomalies:
        number = next(n for n, first_record, last in read.spans
                      if first_record <= anomaly.record <= last)  # fmt: skip
        by_lot[number].append(anomaly)
    acks = []
    key_error = codes.ARL["0001 004"]
    for lot in answered.lots:
        anomalies = tuple(
            arl.ArlAnomaly(
                key_error.code, key_error.short_label, a.record, "2", a.field, a.position
            )
            for a in by_lot[lot.number]
        )
        total = sum(i.totals.billed for i in lot.invoices)
        acks.append(
            arl.LotAck(lot.number, "N" if anomalies else "P", len(lot.invoices), total, anomalies)
        )
    return arl.build(
        arl.Arl(
            story.caisse,
            story.ps.ps_number,
            answered.file_id,
            answered.created_at + timedelta(minutes=3),
            NO_SEALED_FILE,
            tuple(acks),
        )
    )


def _noemie_ps(story: _Story) -> bytes:
    """The caisse's return for the story's invoices. Every reject is true of the data: an
    invoice billed a second time (about 10 %) is rejected "facture déjà payée" (2900 005)
    after the first is paid, and an invoice of an assuré whose rights closed before the care
    day (the population has a few) "droits fermés" (0250 060)."""
    ps = story.ps
    day = story.care_day + timedelta(days=2)
    invoices = []
    paid_total = 0
    counters: dict[str, Counters] = {}
    closed = [
        p for p in story.population.beneficiaries()
        if p[0].rights_until is not None and p[0].rights_until < story.care_day
    ]  # fmt: skip
    visits: list[tuple[Insured, Beneficiary, list[Billed], str | None]] = []
    for insured, who in story.patients:
        billed = story.billed(who.c2s)
        visits.append((insured, who, billed, None))
        if story.rng.random() < 0.1:
            visits.append((insured, who, billed, "2900 005"))  # the same visit billed again
    if closed and story.rng.random() < 0.5:
        insured, who = story.rng.choice(closed)
        visits.append((insured, who, story.billed(who.c2s), "0250 060"))
    for number, (insured, who, billed, reject) in enumerate(visits, start=1000):
        settled = liquidate(
            billed,
            ps.specialty,
            ps.ps_number,
            patient_of(who, insured),
            story.care_day,
            # a rejected invoice pays nothing: it does not count toward the yearly caps
            counters.setdefault(who.nir, Counters()) if reject is None else Counters(),
        )
        rejected = reject is not None
        acts = tuple(
            noemie_ps.ReturnAct(
                s.code,
                story.care_day,
                s.fee,
                s.base,
                s.rate,
                # tiers payant (every invoice here): the PS is paid the whole AMO part
                0 if rejected else s.amo_gross,
                deductions=0,
            )
            for s in settled
        )
        notices: tuple[noemie_ps.Notice, ...] = ()
        if reject is not None:
            code = codes.AMO[reject]
            notices = (noemie_ps.Notice("R", code.code, code.short_label),)
        # a C2S patient's part complémentaire, paid by the caisse beside the AMO part
        c2s = 0 if rejected else sum(x.c2s for x in settled)
        paid_total += sum(a.amo_amount for a in acts) + c2s
        invoices.append(
            noemie_ps.ReturnInvoice(
                invoice_number=number,
                care_date=story.care_day,
                status="R" if rejected else "P",
                tiers_payant="O",
                insured_nir=insured.nir,
                insured_nir_key=insured.nir_key,
                insured_last_name=ascii_upper(insured.person.last_name, 25),
                insured_first_name=ascii_upper(insured.person.first_name, 15),
                patient_birth_date=who.birth_date,
                patient_birth_rank=1,
                patient_last_name=ascii_upper(who.last_name, 25),
                patient_first_name=ascii_upper(who.first_name, 15),
                insurance_nature="10",
                acts=acts,
                notices=notices,
                c2s_amount=c2s or None,
            )
        )
    lots = tuple(
        noemie_ps.ReturnLot(story.care_day, n, 1, tuple(invoices[i : i + LOT_SIZE]))
        for n, i in enumerate(range(0, len(invoices), LOT_SIZE), start=1)
    )
    payments = (
        noemie_ps.Payment(
            f"VIR{story.rng.randrange(10**7):07d}", day + timedelta(days=1), paid_total
        ),
    )
    accounting = noemie_ps.AccountingDay(day, lots, payments if paid_total else ())
    name = ascii_upper(f"{ps.last_name} {ps.first_name}", 25)
    return noemie_ps.build(
        noemie_ps.PsReturn(
            story.caisse,
            ps.ps_number,
            story.rng.randrange(1, 10**6),
            datetime.combine(day, time(21)),
            (noemie_ps.Payee(ps.ps_number, name, (accounting,)),),
        )
    )


def _decompte_invoices(story: _Story) -> tuple[str, list[b2.Invoice]]:
    """The OC with the most active links among the patients, and their liquidated invoices."""
    mutuelle = story.population.mutuelles[0].oc_number
    invoices = []
    counters: dict[str, Counters] = {}
    for number, (insured, who) in enumerate(story.patients, start=1000):
        contract = next(
            (
                c
                for c in story.population.contracts_of(insured.nir)
                if c.oc_number == mutuelle
                and c.noemie
                and c.covers(story.care_day)
                and c.covers_person(who.nir)
            ),
            None,
        )
        if contract is None:
            continue
        counter = counters.setdefault(who.nir, Counters())
        invoices.append(
            _decompte_of(story, number, insured, who, mutuelle, GRIDS[contract.grid], counter)
        )
    return mutuelle, invoices


def _decompte_of(
    story: _Story,
    number: int,
    insured: Insured,
    who: Beneficiary,
    mutuelle: str,
    grid: Grid | None,
    counters: Counters,
) -> b2.Invoice:
    """The décompte for ``mutuelle`` of one visit of ``who`` to the story's PS, the OC's part
    computed with ``grid`` (none when the OC does not cover the patient)."""
    patient = patient_of(who, insured)
    ps = story.ps
    settled = liquidate(story.billed(who.c2s), ps.specialty, ps.ps_number,
                        patient, story.care_day, counters)  # fmt: skip
    non_optam = ps.sector == 2 and not ps.optam
    lines = tuple(
        b2_act(s, ps, story.care_day, s.amo, oc_part(s, grid, non_optam) if grid else 0)
        for s in settled
    )
    return b2.Invoice(
        invoice_number=number,
        insured_nir=insured.nir,
        insured_nir_key=insured.nir_key,
        beneficiary_nir=who.nir,
        beneficiary_nir_key=who.nir_key,
        birth_date=who.birth_date,
        invoice_date=story.care_day,
        lines=lines,
        managing_caisse=int(insured.caisse[2:5]),
        managing_centre=int(insured.caisse[5:]),
        tiers_payant="N",
        exemption=exemption_of(who),
        oc_contract_type="01",
        oc_number=mutuelle,
        top_mutualiste=True,
        care_pathway=care_pathway(story.ps.specialty, patient, story.care_day),
    )


def _decompte(story: _Story) -> bytes:
    return b2.build(_decompte_b2(story))


def _noemie_oc(story: _Story) -> bytes:
    """The décompte file of :func:`_decompte`, in its NOEMIE OC form."""
    dec = _decompte_b2(story)
    return noemie_oc.build(noemie_oc.from_b2(dec, dec.lots[0].lot_date))


def _decompte_b2(story: _Story) -> b2.B2File:
    mutuelle, invoices = _decompte_invoices(story)
    if not invoices:  # nobody of this OC among the patients: bill one of its members
        contract = next(
            c for c in story.population.contracts if c.oc_number == mutuelle and c.noemie
        )
        insured = next(i for i in story.population.insured if i.nir == contract.insured_nir)
        who = next(b for b in insured.beneficiaries if contract.covers_person(b.nir))
        story.patients = [(insured, who)]
        mutuelle, invoices = _decompte_invoices(story)
    return _decompte_file(story, mutuelle, invoices)


def _decompte_file(story: _Story, mutuelle: str, invoices: list[b2.Invoice]) -> b2.B2File:
    day = story.care_day + timedelta(days=3)
    lots = tuple(
        b2.Lot(n, story.ps.ps_number, story.caisse, day, tuple(invoices[i : i + LOT_SIZE]))
        for n, i in enumerate(range(0, len(invoices), LOT_SIZE), start=1)
    )
    return b2.B2File(
        "DEC",
        "CP",
        story.caisse,
        "OC",
        mutuelle,
        story.rng.randrange(1, 10**6),
        datetime.combine(day, time(20)),
        lots,
    )


def _oc_answer(story: _Story) -> bytes:
    """The OC's answer to the story's décompte file: every décompte accepted, except those of
    bénéficiaires the OC does not cover at the care date, rejected "bénéficiaire inconnu"
    (BI01). The décompte file answered holds, besides the OC's members, about 15 % of
    patients without a contract with this OC: what a caisse sends when its NOEMIE link is out
    of date. Every reject is true of the data."""
    mutuelle, invoices = _decompte_invoices(story)
    members = {inv.insured_nir for inv in invoices}
    strangers = [
        (i, b) for i, b in story.population.beneficiaries()
        if i.rights_until is None and i.nir not in members
        and not any(c.oc_number == mutuelle and c.covers(story.care_day)
                    for c in story.population.contracts_of(i.nir))
    ]  # fmt: skip
    # (a stranger's whole family is outside this OC: whoever of it is billed, BI01 is true)
    if not invoices:
        story.answered = _decompte(story)
        return _oc_answer_to(story, b2.parse(story.answered), set())
    extra = [
        _decompte_of(story, 5000 + k, insured, who, mutuelle, None, Counters())
        for k, (insured, who) in enumerate(strangers[: max(1, len(invoices) * 15 // 100)])
    ]
    unknown = {inv.invoice_number for inv in extra}
    dec = _decompte_file(story, mutuelle, invoices + extra)
    story.answered = b2.build(dec)
    return _oc_answer_to(story, dec, unknown)


def _oc_answer_to(story: _Story, dec: b2.B2File, unknown: set[int]) -> bytes:
    rejects = []
    code = codes.OC["BI01"]
    for lot in dec.lots:
        for inv in lot.invoices:
            if inv.invoice_number in unknown:
                rejects.append(
                    oc_answer.OcReject(
                        inv.invoice_number,
                        inv.insured_nir,
                        inv.insured_nir_key,
                        code.code,
                        code.short_label,
                        lot.ps_number,
                    )
                )
    received = sum(len(lot.invoices) for lot in dec.lots)
    return oc_answer.build(
        oc_answer.OcAnswer(
            dec.receiver,
            dec.sender,
            dec.file_id,
            dec.created_at + timedelta(hours=10),
            NO_SEALED_FILE,
            received,
            tuple(rejects),
        )
    )


def leave_kind(
    rng: random.Random,
    employee: Employee,
    at_mp_share: float,
    maternity_share: float,
    paternity_share: float = 0.0,
) -> str:
    """The kind of a leave that starts: AT/MP for ``at_mp_share`` of them, maternité for
    ``maternity_share`` of a woman's and paternité for ``paternity_share`` of a man's (the
    NIR's first digit says the sex), maladie otherwise. One draw, whatever the shares."""
    draw = rng.random()
    if draw < at_mp_share:
        return "at-mp"
    woman = employee.nir[0] in "248"
    if woman and draw < at_mp_share + maternity_share:
        return "maternite"
    if not woman and draw < at_mp_share + paternity_share:
        return "paternite"
    return "maladie"


def ij_employee(
    employee: Employee,
    leave_number: str,
    leave_start: date,
    periods: rules.IjPeriod | list[rules.IjPeriod],
    kind: str = "maladie",
) -> noemie_550.Employee:
    """The 550 entities of the IJ periods of an employee's leave of ``kind``, under the nature
    d'assurance of that kind (:data:`rules.LEAVE_NATURES`)."""
    lines = tuple(
        noemie_550.IjPeriod(
            p.start, p.end, p.days, p.daily_base, p.daily_amount, p.gross, p.csg_crds, p.net
        )
        for p in (periods if isinstance(periods, list) else [periods])
    )
    leave = noemie_550.SickLeave(leave_number, leave_start, lines)
    return noemie_550.Employee(
        employee.nir,
        employee.nir_key,
        ascii_upper(employee.last_name, 25),
        ascii_upper(employee.first_name, 15),
        (noemie_550.Coverage(rules.LEAVE_NATURES[kind], (leave,)),),
    )


def _noemie_550(story: _Story) -> bytes:
    employer = story.population.employers[0]
    day = story.care_day + timedelta(days=14)
    employees = []
    total = 0
    for n, employee in enumerate(employer.employees[: story.count]):
        leave_start = story.care_day - timedelta(days=story.rng.randint(0, 20))
        kind = leave_kind(story.rng, employee, 0.15, 0.1, 0.1)
        periods = ij_periods(
            leave_start,
            leave_start,
            leave_start + timedelta(days=story.rng.randint(4, 40)),
            employee.monthly_gross * 3,
            kind=kind,
        )
        if not periods:
            continue
        total += sum(p.net for p in periods)
        employees.append(ij_employee(employee, f"AT{n:08d}", leave_start, periods, kind))
    movements = (
        noemie_550.Movement(
            f"DET{story.rng.randrange(10**7):07d}", day, "IJ", "00", "VI", 0, total
        ),
    )
    doc_day = noemie_550.Day(day, tuple(employees), movements if total else ())
    return noemie_550.build(
        noemie_550.Noemie550(
            story.caisse,
            employer.siret,
            story.rng.randrange(1, 10**6),
            datetime.combine(day, time(22)),
            (noemie_550.Employer(employer.siret, ascii_upper(employer.name, 25), (doc_day,)),),
        )
    )


_GENERATORS: dict[str, Callable[[_Story], bytes]] = {
    "b2": _b2,
    "arl": _arl,
    "noemie-ps": _noemie_ps,
    "decompte": _decompte,
    "noemie-oc": _noemie_oc,
    "oc-answer": _oc_answer,
    "noemie-550": _noemie_550,
}
