"""Tariffs and reimbursement rules, with the worked example of the reference notes."""

from datetime import date, timedelta

import pytest

from noemie_sim.sim.domain import codes
from noemie_sim.sim.domain.nomenclature import (
    ACTS,
    billable,
    biology_agrees,
    biology_coefficient,
    ccam_agrees,
    for_age,
    may_bill,
    price_at,
    within_price_limit,
)
from noemie_sim.sim.domain.rules import (
    GRIDS,
    Billed,
    Counters,
    Grid,
    Patient,
    ij_ceiling,
    ij_for_period,
    imputed,
    liquidate,
    oc_part,
    rate_for,
)

ADULT = Patient(date(1980, 1, 1))
DAY = date(2026, 3, 2)


def test_2025_tariffs() -> None:
    assert {c: ACTS[c].tariff for c in ("G", "GS", "APC", "AMI", "IFD", "MD", "COE")} == {
        "G": 3000,
        "GS": 3000,
        "APC": 6000,
        "AMI": 315,
        "IFD": 275,
        "MD": 1000,
        "COE": 6000,
    }
    assert ACTS["AMK"].base() == 1658  # séance 7.5 x 2.21 € (avenant 7, from 22/2/2024)
    assert ACTS["AMK"].base(day=date(2024, 2, 21)) == 1613  # 7.5 x 2.15 € the day before
    assert ACTS["AMI"].base(300) == 945


def test_who_may_bill_what() -> None:
    assert may_bill("01", "G") and not may_bill("24", "G") and not may_bill("01", "AMI")
    assert may_bill("24", "AMI") and may_bill("26", "AMK") and not may_bill("01", "XYZ")
    assert [a.code for a in billable("24")] == ["AMI", "IFD"]


def test_worked_example_of_norms_8_2() -> None:
    """The SNDS worked example's arithmetic (norms.md §8.2: AMO = BR x 70 % - PF, ticket
    modérateur = BR - gross AMO, dépassement = billed - BR) with the G tariff of 1/3/2024,
    26.50 € (1/11/2023), and PF 1 € (before 15/05/2024): 45 € billed, AMO 17.55 €, ticket
    modérateur 7.95 €, dépassement 18.50 €."""
    [act] = liquidate([Billed("G", 4500)], "01", "991086265", ADULT, date(2024, 3, 1), Counters())
    assert (act.base, act.rate, act.amo_gross, act.pf, act.amo) == (2650, 70, 1855, 100, 1755)
    assert (act.ticket_moderateur, act.depassement, act.patient_share) == (795, 1850, 2745)


def test_participation_forfaitaire_2_euros_four_acts_a_day_and_yearly_cap() -> None:
    counters = Counters()
    acts = liquidate([Billed("G", 3000)] * 5, "01", "991086265", ADULT, DAY, counters)
    assert [a.pf for a in acts] == [200, 200, 200, 200, 0]
    assert [a.amo for a in acts][:2] == [1900, 1900]
    counters = Counters(pf_year={2026: 4900})
    [act] = liquidate([Billed("G", 3000)], "01", "991086265", ADULT, DAY, counters)
    assert act.pf == 100 and counters.pf_year[2026] == 5000


def test_exemptions_and_full_rate() -> None:
    child = Patient(date(2015, 6, 1))
    [act] = liquidate([Billed("G", 3000)], "01", "991086265", child, DAY, Counters())
    assert act.pf == 0 and act.amo == 2100
    maternity = Patient(date(1990, 1, 1), maternity=True)
    [act] = liquidate([Billed("G", 3000)], "01", "991086265", maternity, DAY, Counters())
    assert (act.rate, act.pf, act.amo) == (100, 0, 3000)
    ald = Patient(date(1950, 1, 1), ald=True)
    assert rate_for("01", ald) == 100 and rate_for("24", ADULT) == 60


def test_the_c2s_pays_the_ticket_moderateur() -> None:
    """The caisse pays a C2S patient's part complémentaire: the rest of the base, with no PF
    nor franchise; not the majoration out of the parcours de soins; nothing where the AMO
    pays it all; nothing for anyone else."""
    c2s = Patient(date(1980, 1, 1), c2s=True)
    [act] = liquidate([Billed("G", 3000)], "01", "991086265", c2s, DAY, Counters())
    assert (act.amo, act.c2s, act.pf, act.patient_share) == (2100, 900, 0, 0)
    [act] = liquidate([Billed("AMK", 1658)], "26", "991086265", c2s, DAY, Counters())
    assert (act.amo, act.c2s, act.franchise, act.patient_share) == (995, 663, 0, 0)
    [box] = liquidate([Billed("PH7", 1000, quantity=1, unit_price=1000)], "50", "991086265",
                      c2s, DAY, Counters())  # fmt: skip
    assert (box.amo, box.c2s, box.franchise) == (650, 350, 0)
    outside = Patient(date(1980, 1, 1), c2s=True, medecin_traitant=False)
    [act] = liquidate([Billed("G", 3000)], "01", "991086265", outside, DAY, Counters())
    assert (act.rate, act.amo, act.penalty, act.c2s, act.patient_share) == (30, 900, 1200, 900,
                                                                           1200)  # fmt: skip
    in_ald = Patient(date(1980, 1, 1), c2s=True, ald=True)
    [act] = liquidate([Billed("G", 3000)], "01", "991086265", in_ald, DAY, Counters())
    assert (act.amo, act.c2s) == (3000, 0)
    [act] = liquidate([Billed("G", 3000)], "01", "991086265", ADULT, DAY, Counters())
    assert (act.amo, act.c2s, act.patient_share) == (1900, 0, 1100)


def test_a_laboratoire_bills_its_analyses_on_a_b_line_at_60_percent() -> None:
    """B is 0.27 €; a B line's coefficient is the sum of its NABM analyses' (the forfait
    pré-analytique 9005 B17 since 1/4/2019, B16 before); it is reimbursed at 60 % (90 % under
    the régime local, 100 % in ALD) with the participation forfaitaire and no franchise."""
    analyses = ("9005", "1104", "1208")
    assert biology_coefficient(analyses, DAY) == 7200
    assert biology_coefficient(analyses, date(2019, 3, 31)) == 7100
    assert biology_coefficient(("9005", "9999"), DAY) is None
    billed = Billed("B", ACTS["B"].base(7200, 1, DAY), 7200, analyses=analyses)
    [act] = liquidate([billed], "30", "997516000", ADULT, DAY, Counters())
    assert (act.base, act.rate, act.amo_gross, act.pf, act.franchise) == (1944, 60, 1166, 200, 0)
    assert act.analyses == analyses
    local = Patient(date(1980, 1, 1), alsace_moselle=True)
    assert liquidate([billed], "30", "997516000", local, DAY, Counters())[0].rate == 90
    assert rate_for("30", Patient(date(1980, 1, 1), ald=True)) == 100
    assert may_bill("30", "B") and not may_bill("01", "B") and not may_bill("30", "G")
    # what the caisse checks of a B line and its Type 4B (reject 0318 030 otherwise)
    written = ("00009005", "00001104", "00001208")
    assert biology_agrees("B", 7200, written, DAY)
    assert not biology_agrees("B", 7300, written, DAY)  # the coefficient is not their sum
    assert not biology_agrees("B", 7100, written, DAY)  # B16: the forfait before 1/4/2019
    assert biology_agrees("B", 7100, written, date(2019, 3, 1))
    assert not biology_agrees("B", 1700, ("00009999",), DAY)  # not in the NABM
    assert not biology_agrees("B", 1700, ("9005",), DAY)  # not written on 8 digits
    assert not biology_agrees("B", 0, (), DAY)  # a B line with no analysis
    assert not biology_agrees("AMI", 100, ("00009005",), DAY) and biology_agrees(
        "AMI", 100, (), DAY
    )


def test_a_stay_in_a_clinique() -> None:
    """A stay: the séjour at 80 %, the forfait journalier (20 € a day from 1/1/2018, 18 €
    before) paid by the AMO in maternity or under the régime local only, due in ALD; no PF,
    no franchise; the C2S pays what the AMO leaves, the forfait included."""
    stay = [Billed("GHS", 180000), Billed("FJ", 6000, None, 3)]

    def settled(patient: Patient) -> list[tuple[int, int, int]]:
        acts = liquidate(stay, "90", "750000000", patient, DAY, Counters())
        return [(a.rate, a.amo, a.c2s + a.pf + a.franchise) for a in acts]

    assert settled(ADULT) == [(80, 144000, 0), (0, 0, 0)]
    assert settled(Patient(date(1980, 1, 1), ald=True)) == [(100, 180000, 0), (0, 0, 0)]
    assert settled(Patient(date(1990, 1, 1), maternity=True)) == [(100, 180000, 0), (100, 6000, 0)]
    assert settled(Patient(date(1980, 1, 1), alsace_moselle=True)) == [(100, 180000, 0),
                                                                       (100, 6000, 0)]  # fmt: skip
    assert settled(Patient(date(1980, 1, 1), c2s=True)) == [(80, 144000, 36000), (0, 0, 6000)]
    # imputed on the ticket modérateur of the stay, the forfait journalier is not billed;
    # in ALD (no ticket modérateur) it is, and in maternity the AMO pays it
    assert [a.code for a in imputed(liquidate(stay, "90", "750000000", ADULT, DAY,
                                              Counters()))] == ["GHS"]  # fmt: skip
    for exempt in (Patient(date(1980, 1, 1), ald=True), Patient(date(1990, 1, 1), maternity=True)):
        kept = imputed(liquidate(stay, "90", "750000000", exempt, DAY, Counters()))
        assert [a.code for a in kept] == ["GHS", "FJ"]
    assert ACTS["FJ"].base(None, 3, DAY) == 6000
    assert ACTS["FJ"].base(None, 3, date(2017, 12, 31)) == 5400


def test_a_taxi_trip_at_65_percent_with_its_own_franchise() -> None:
    """A trip: the forfait (13 €, 4 km with it) and 1.10 € a km beyond, at 65 % (100 % in
    ALD and under the régime local), no PF; a franchise of 4 € a trip (2 € before
    31/03/2024), at most 8 € a day (4 € before), apart from the paramedical acts' daily cap."""
    trip = [Billed("TPC", 1300), Billed("TKM", ACTS["TKM"].base(None, 10, DAY), None, 10)]
    counters = Counters()
    first = liquidate(trip, "54", "750200000", ADULT, DAY, counters)
    assert [(a.base, a.rate, a.amo_gross, a.pf, a.franchise) for a in first] == [
        (1300, 65, 845, 0, 400), (1100, 65, 715, 0, 0)
    ]  # fmt: skip
    assert liquidate(trip, "54", "750200000", ADULT, DAY, counters)[0].franchise == 400
    assert liquidate(trip, "54", "750200000", ADULT, DAY, counters)[0].franchise == 0  # 8 €
    # the paramedical acts of the same day keep their own cap
    assert (
        liquidate([Billed("AMK", 1658)], "26", "997516000", ADULT, DAY, counters)[0].franchise
        == 100
    )
    before = liquidate(trip, "54", "750200000", ADULT, date(2024, 3, 1), Counters())
    assert before[0].franchise == 200
    in_ald = liquidate(trip, "54", "750200000", Patient(date(1950, 1, 1), ald=True), DAY,
                       Counters())  # fmt: skip
    assert [a.rate for a in in_ald] == [100, 100]
    # the régime local pays transport in full (santemeuse: "65% (100% pour les bénéficiaires
    # du régime local d'Alsace-Moselle)"), not at the 90 % of a 65 % drug
    local = Patient(date(1950, 1, 1), alsace_moselle=True)
    assert [rate_for(s, local, code=c) for s, c in (("54", "TPC"), ("55", "VSD"), ("50", "PH7"))
            ] == [100, 100, 90]  # fmt: skip


def test_dental_care_at_60_percent_since_15_october_2023_and_a_crown_of_the_basket() -> None:
    """A chirurgien-dentiste's acts: 70 %, 60 % from 15/10/2023, no PF nor franchise. The
    sources' own figures: a carie at 29.30 € paid 20.51 €, then 17.58 € (anpere.fr); a crown
    on the base of 107.50 € paid 75.25 € (male-entendu.com). A crown of the 100 % santé
    basket (500 €, base 120 €): every grid pays what the AMO leaves, as the C2S does; a crown
    at a free price: the grid's % of the base only (hand figures)."""
    before = liquidate([Billed("SDE", 2930)], "19", "754212340", ADULT, date(2023, 10, 14),
                       Counters())[0]  # fmt: skip
    after = liquidate([Billed("SDE", 2930)], "19", "754212340", ADULT, date(2023, 10, 15),
                      Counters())[0]  # fmt: skip
    assert (before.rate, before.amo_gross, after.rate, after.amo_gross) == (70, 2051, 60, 1758)
    assert before.pf == before.franchise == after.pf == after.franchise == 0
    old = liquidate([Billed("DC2", 60000)], "19", "754212340", ADULT, date(2019, 3, 31),
                    Counters())[0]  # fmt: skip
    assert (old.base, old.amo_gross) == (10750, 7525)
    basket = liquidate([Billed("DC1", 50000)], "19", "754212340", ADULT, DAY, Counters())[0]
    assert (basket.base, basket.rate, basket.amo_gross) == (12000, 60, 7200)
    assert {grid: oc_part(basket, GRIDS[grid]) for grid in GRIDS} == dict.fromkeys(GRIDS, 42800)
    c2s = liquidate([Billed("DC1", 50000)], "19", "754212340", Patient(date(1950, 1, 1),
                    c2s=True), DAY, Counters())[0]  # fmt: skip
    assert (c2s.amo_gross, c2s.c2s, c2s.patient_share) == (7200, 42800, 0)
    free = liquidate([Billed("DC2", 80000)], "19", "754212340", ADULT, DAY, Counters())[0]
    assert {grid: oc_part(free, GRIDS[grid]) for grid in GRIDS} == {
        "100% BR": 4800,  # 120 - 72
        "150% BR": 10800,  # 180 - 72
        "200% BR": 16800,  # 240 - 72
        "300% BR": 28800,  # 360 - 72: the patient keeps 800 - 72 - 288 = 440 €
    }
    # a crown of the panier maîtrisé (550 € at most): no reste à charge 0, the grid's % of
    # its base as for a free one
    maitrise = liquidate([Billed("DC3", 55000)], "19", "754212340", ADULT, DAY, Counters())[0]
    assert (maitrise.base, maitrise.amo_gross) == (12000, 7200)
    assert oc_part(maitrise, GRIDS["300% BR"]) == 28800  # 360 - 72: the patient keeps 190 €
    # what the caisse checks (reject 0318 040 otherwise): the basket's crown at most 500 €,
    # the panier maîtrisé's at most 550 €
    assert within_price_limit("DC1", 50000, 1) and not within_price_limit("DC1", 50001, 1)
    assert within_price_limit("DC3", 55000, 1) and not within_price_limit("DC3", 55001, 1)
    assert within_price_limit("DC2", 200000, 1)
    # and (reject 0318 060 otherwise) its CCAM coding: the basket's céramo-métallique crown
    # on an incisor, a canine or a first premolar, the free one on a molar, one tooth of a
    # permanent quadrant; an act without a CCAM code has no 4M
    assert all(ccam_agrees("DC1", "HBLD634", f"{q}{t}") for q in "1234" for t in "1234")
    assert all(ccam_agrees("DC2", "HBLD734", f"{q}{t}") for q in "1234" for t in "678")
    assert all(ccam_agrees("DC3", "HBLD491", f"{q}5") for q in "1234")
    assert not ccam_agrees("DC3", "HBLD491", "14") and not ccam_agrees("DC3", "HBLD634", "15")
    assert not any(ccam_agrees("DC1", "HBLD634", teeth) for teeth in ("15", "16", "51", "1",
                                                                      "1112", None))  # fmt: skip
    assert not ccam_agrees("DC1", "HBLD734", "11") and not ccam_agrees("DC2", None, None)
    assert ccam_agrees("SDE", None, None) and not ccam_agrees("SDE", "HBLD634", "11")
    assert ccam_agrees("ADE", "DEQP003", None) and not ccam_agrees("ADE", None, None)
    # the régime local takes the 10 points over: 90 % before and after (radiomelodie.com)
    local = Patient(date(1950, 1, 1), alsace_moselle=True)
    assert [rate_for("19", local, code="SDE", day=date(2023, 10, d)) for d in (14, 15)] == [90, 90]
    assert rate_for("19", Patient(date(1950, 1, 1), ald=True), code="DC2") == 100
    assert rate_for("19", ADULT, code="SDE") == 60  # no day: today's rate


def test_glasses_of_the_100_percent_sante_basket_and_the_classe_b_ceilings() -> None:
    """Optique médicale: 60 % of each item's base (90 % under the régime local, 100 % in ALD),
    no PF nor franchise. A frame of classe A (30 € at most, base 9 €): the AMO pays 5.40 €, the
    source's own figure (mutualib.fr), and every grid, as the C2S, the rest; its lenses (60 €
    each, base 33 €, a derived convention) the same. Classe B (a base of 0.05 € an item): the
    grid's % of that base and its forfait, at most 100 € a frame and 160 € a lens with the AMO
    part (hand figures)."""
    frame, lenses = liquidate([Billed("MO1", 3000), Billed("VE1", 12000, None, 2)], "61",
                              "754212340", ADULT, DAY, Counters())  # fmt: skip
    assert (frame.base, frame.rate, frame.amo_gross, frame.pf, frame.franchise) == (
        900, 60, 540, 0, 0)  # fmt: skip
    assert (lenses.base, lenses.amo_gross) == (6600, 3960)
    assert {grid: (oc_part(frame, GRIDS[grid]), oc_part(lenses, GRIDS[grid])) for grid in GRIDS} \
        == dict.fromkeys(GRIDS, (2460, 8040))  # fmt: skip
    c2s = liquidate([Billed("MO1", 3000), Billed("VE1", 12000, None, 2)], "61", "754212340",
                    Patient(date(1950, 1, 1), c2s=True), DAY, Counters())  # fmt: skip
    assert [(act.c2s, act.patient_share) for act in c2s] == [(2460, 0), (8040, 0)]
    frame, lenses = liquidate([Billed("MO2", 15000), Billed("VE2", 36000, None, 2)], "61",
                              "754212340", ADULT, DAY, Counters())  # fmt: skip
    assert (frame.base, frame.amo_gross, lenses.base, lenses.amo_gross) == (5, 3, 10, 6)
    assert {grid: (oc_part(frame, GRIDS[grid]), oc_part(lenses, GRIDS[grid])) for grid in GRIDS} \
        == {
        "100% BR": (2, 4),  # the base less the AMO part
        "150% BR": (5, 9),  # 0.08 - 0.03, 0.15 - 0.06
        "200% BR": (5007, 12014),  # the forfaits, 50 € and 2 x 60 €, beside 200 % of the base
        "300% BR": (9997, 31994),  # capped: 100 € a frame, 2 x 160 € the lenses, AMO included
    }  # fmt: skip
    # what the caisse checks (reject 0318 040 otherwise): classe A at most its prix limite
    assert within_price_limit("MO1", 3000, 1) and not within_price_limit("MO1", 3001, 1)
    assert within_price_limit("VE1", 12000, 2) and not within_price_limit("VE1", 12001, 2)
    assert within_price_limit("MO2", 90000, 1)
    local = Patient(date(1950, 1, 1), alsace_moselle=True)
    assert rate_for("61", local, code="VE2", day=DAY) == 90
    assert rate_for("61", Patient(date(1950, 1, 1), ald=True), code="MO2", day=DAY) == 100


def test_aides_auditives_of_the_100_percent_sante_basket_and_the_classe_ii_ceiling() -> None:
    """An aide auditive: a base of 400 € an ear at 60 % (90 % under the régime local, 100 %
    in ALD), no PF nor franchise. Classe I at its prix limite (950 € an ear): every grid pays
    what the AMO leaves, as the C2S does. Classe II at 1 800 €: the grid's % of the base and
    its forfait, never more than 1 700 € with the AMO part (hand figures)."""
    both = liquidate([Billed("AD1", 190000, None, 2)], "60", "750212343", ADULT, DAY,
                     Counters())[0]  # fmt: skip
    assert (both.base, both.rate, both.amo_gross, both.pf, both.franchise) == (
        80000, 60, 48000, 0, 0)  # fmt: skip
    assert {grid: oc_part(both, GRIDS[grid]) for grid in GRIDS} == dict.fromkeys(GRIDS, 142000)
    c2s = liquidate([Billed("AD1", 95000)], "60", "750212343", Patient(date(1950, 1, 1),
                    c2s=True), DAY, Counters())[0]  # fmt: skip
    assert (c2s.amo_gross, c2s.c2s, c2s.patient_share) == (24000, 71000, 0)
    free = liquidate([Billed("AD2", 180000)], "60", "750212343", ADULT, DAY, Counters())[0]
    assert (free.base, free.amo_gross) == (40000, 24000)
    assert {grid: oc_part(free, GRIDS[grid]) for grid in GRIDS} == {
        "100% BR": 16000,  # 400 - 240
        "150% BR": 36000,  # 600 - 240
        "200% BR": 86000,  # 800 + a forfait of 300 - 240
        "300% BR": 146000,  # 1 200 + 600 - 240 = 1 560, over the ceiling: 1 700 - 240
    }
    # what the caisse checks (reject 0318 040 otherwise): classe I at most its prix limite
    assert within_price_limit("AD1", 190000, 2) and not within_price_limit("AD1", 190001, 2)
    assert within_price_limit("AD2", 500000, 1) and within_price_limit("G", 100000, 1)
    # a patient under 20: a base of 1 400 € an ear, its prix limite too (840 € by the AMO)
    child = Patient(date(2010, 6, 1))
    young = liquidate([Billed("AE1", 140000)], "60", "750212343", child, DAY, Counters())[0]
    assert (young.base, young.amo_gross) == (140000, 84000)
    assert {grid: oc_part(young, GRIDS[grid]) for grid in GRIDS} == dict.fromkeys(GRIDS, 56000)
    # and the caisse's check of the ages (reject 0318 050 otherwise): 20 is an adult's
    assert for_age("AE1", 19) and not for_age("AE1", 20)
    assert for_age("AD1", 20) and not for_age("AD2", 19) and for_age("G", 3)
    # two ears at 2 000 €: the forfait is per ear (1 200 × 2 + 600 × 2 − 480 = 3 120 €), over
    # the ceiling of 1 700 € an ear with the AMO part: 3 400 − 480
    pair = liquidate([Billed("AD2", 400000, None, 2)], "60", "750212343", ADULT, DAY,
                     Counters())[0]  # fmt: skip
    assert (pair.base, pair.amo_gross, oc_part(pair, GRIDS["300% BR"])) == (80000, 48000, 292000)
    local = Patient(date(1950, 1, 1), alsace_moselle=True)
    assert rate_for("60", local, code="AD1") == 90
    assert rate_for("60", Patient(date(1950, 1, 1), ald=True), code="AD2") == 100


def test_a_vsl_or_an_ambulance_trip_at_65_percent() -> None:
    """A VSL trip: 13.85 € with 3 km, 1.02 € a km beyond; an ambulance: 51.30 €, 2.19 € a km;
    65 %, no PF, a franchise of 4 € a trip sharing the taxis' daily cap of 8 €."""
    vsl = [Billed("VSD", 1385), Billed("VKM", ACTS["VKM"].base(None, 10, DAY), None, 10)]
    counters = Counters()
    first = liquidate(vsl, "55", "750250005", ADULT, DAY, counters)
    assert [(a.base, a.rate, a.amo_gross, a.pf, a.franchise) for a in first] == [
        (1385, 65, 900, 0, 400), (1020, 65, 663, 0, 0)
    ]  # fmt: skip
    ambulance = [Billed("ABA", 5130), Billed("AKM", ACTS["AKM"].base(None, 5, DAY), None, 5)]
    second = liquidate(ambulance, "55", "750250005", ADULT, DAY, counters)
    assert [(a.base, a.amo_gross, a.franchise) for a in second] == [(5130, 3335, 400),
                                                                    (1095, 712, 0)]  # fmt: skip
    taxi = liquidate([Billed("TPC", 1300)], "54", "750200000", ADULT, DAY, counters)
    assert taxi[0].franchise == 0  # 8 € a day already, whatever carries the patient


def test_franchises_one_euro_per_paramedical_act_capped_at_four_a_day() -> None:
    counters = Counters()
    acts = liquidate([Billed("AMI", 315)] * 5, "24", "756012349", ADULT, DAY, counters)
    assert [a.franchise for a in acts] == [100, 100, 100, 100, 0]
    assert acts[0].amo == 189 - 100  # 60 % of 3.15 €, less the franchise
    [ifd] = liquidate([Billed("IFD", 275)], "24", "756012349", ADULT, DAY, Counters())
    assert ifd.franchise == 0


def test_mutuelle_part_follows_the_grid_and_never_exceeds_the_cost() -> None:
    [act] = liquidate([Billed("G", 4500)], "01", "991086265", ADULT, DAY, Counters())
    assert oc_part(act, GRIDS["100% BR"]) == 900  # the ticket modérateur, never the PF
    assert oc_part(act, GRIDS["150% BR"]) == 2400  # TM + 15 € of the dépassement
    assert oc_part(act, GRIDS["300% BR"]) == 2400  # capped at the real cost minus the AMO
    assert oc_part(act, Grid("forfait", 100, (("G", 10_000),))) == 2400
    assert act.amo + oc_part(act, GRIDS["300% BR"]) + act.pf == act.fee


@pytest.mark.parametrize(
    ("leave_start", "monthly", "daily"),
    [
        # 6 000 € / 91.25 / 2 = 32.8767 €: rounded once to the nearest cent
        (date(2025, 4, 1), 200_000, 3288),
        # 7 500 € / 91.25 / 2 = 41.0959 €: 41.10 €, not half the rounded base floored (41.09)
        (date(2025, 4, 1), 250_000, 4110),
        (date(2025, 4, 1), 500_000, 4147),
        (date(2025, 3, 31), 500_000, 5331),
    ],
)
def test_ij_half_daily_base_with_ceiling_and_three_waiting_days(
    leave_start: date, monthly: int, daily: int
) -> None:
    period = ij_for_period(leave_start, leave_start, leave_start + timedelta(days=10), monthly * 3)
    assert period is not None
    assert period.daily_amount == daily
    assert period.days == 8  # 11 days of leave, the first 3 unpaid
    assert period.gross == 8 * daily and period.net == period.gross - period.csg_crds
    assert ij_for_period(leave_start, leave_start, leave_start, monthly * 3) is None


def test_code_tables_have_categories_and_sources() -> None:
    assert len([c for c in codes.AMO.values() if c.source != "noemie-sim"]) == 6
    assert codes.AMO["2900 005"].label == "Facture déjà payée"
    assert {c.category.value for c in codes.AMO.values()} == {
        "technique",
        "administratif",
        "médical",
    }
    assert set(codes.OC) == {"BI01", "CR01", "DI01", "FN01", "DB01"}
    assert codes.arl_for_seal_error("revoked").code == "0002 003"
    assert codes.AMO["0250 050"].short_label == "ASSURE ABSENT DU REFERENTIEL DE LA CAISSE"


@pytest.mark.parametrize(
    ("day", "cents"),
    [(date(2023, 6, 1), 2500), (date(2023, 12, 1), 2650), (date(2025, 6, 1), 3000)],
)
def test_the_g_tariff_is_the_one_of_the_care_date(day: date, cents: int) -> None:
    """G: 25 € from 1/5/2017, 26.50 € from 1/11/2023 (règlement arbitral), 30 € from
    22/12/2024 (norms.md §8.3, [PRESS] x4). Liquidation uses the tariff of the care date."""
    assert price_at("G", day) == cents
    (act,) = liquidate([Billed("G", cents)], "01", "751306713", ADULT, day, Counters())
    assert act.base == cents and act.amo_gross == cents * 70 // 100
    assert act.pf == (100 if day < date(2024, 5, 15) else 200)  # PF 1 € then 2 € (norms §8.2)


def test_tariffs_without_a_known_history_say_so_by_convention() -> None:
    """IFD 2.50 € then 2.75 € from 28/08/2023 (avenant 10); COE 47.50 €, 54 € from 22/12/2024,
    60 € from 1/7/2025; an act with no known former tariff keeps its oldest known one."""
    assert price_at("IFD", date(2023, 8, 27)) == 250 and price_at("IFD", date(2023, 8, 28)) == 275
    assert [price_at("COE", date(y, m, 1)) for y, m in ((2024, 6), (2025, 1), (2025, 7))] == [
        4750, 5400, 6000,
    ]  # fmt: skip
    assert price_at("MD", date(2020, 1, 1)) == 1000
    with pytest.raises(KeyError, match="no act 'XYZ'"):
        price_at("XYZ", date(2025, 1, 1))


@pytest.mark.parametrize(
    ("leave_start", "ceiling"),
    [
        (date(2025, 3, 15), 5331),  # 1.8 SMIC (11.88 €/h): 53.31 €
        (date(2025, 4, 15), 4147),  # 1.4 SMIC from 1/4/2025 (décret 2025-160): 41.47 €
        (date(2026, 1, 15), 4147),  # the SMIC of the month before: still 11.88 €/h
        (date(2026, 2, 1), 4195),  # SMIC 12.02 €/h from 1/1/2026: 41.95 €
    ],
)
def test_the_ij_ceiling_follows_the_smic_in_force(leave_start: date, ceiling: int) -> None:
    """The IJ maladie ceiling is half the daily base (3 months / 91.25) of 1.8 SMIC until
    31/03/2025, 1.4 SMIC after, with the monthly SMIC (hourly x 35 x 52 / 12) in force on the
    last day of the month before the leave (ameli, service-public; figures of the fidelity
    issue: 53.31 €, 41.47 €, 41.95 €)."""
    assert ij_ceiling(leave_start) == ceiling
    high = ij_for_period(leave_start, leave_start, leave_start + timedelta(days=5), 3 * 900_000)
    assert high is not None and high.daily_amount == ceiling


def test_ij_ceiling_in_june_2024() -> None:
    """1.8 SMIC at 11.65 €/h (1/1/2024): 52.28 €, as docs/rules.md says."""
    assert ij_ceiling(date(2024, 6, 1)) == 5228


def test_a_contrat_responsable_covers_less_the_depassements_without_the_optam() -> None:
    """R871-2 CSS: a non-OPTAM médecin's dépassement covered at most 100 % of the base and 20
    points below the OPTAM's cover; the ticket modérateur always."""
    from noemie_sim.sim.domain.rules import GRIDS, Liquidated, oc_part, responsible_percent

    assert [responsible_percent(GRIDS[g], True) for g in GRIDS] == [100, 130, 180, 200]
    assert [responsible_percent(GRIDS[g], False) for g in GRIDS] == [100, 150, 200, 300]
    # an avis ponctuel de consultant: base 60 €, fee 130 €, AMO 70 % (42 €)
    act = Liquidated("APC", 13000, 6000, 70, 4200, 0, 0)
    assert oc_part(act, GRIDS["200% BR"]) == 7800  # 120 € - 42 €
    assert oc_part(act, GRIDS["200% BR"], non_optam=True) == 6600  # 108 € - 42 €
    assert oc_part(act, GRIDS["300% BR"]) == 8800  # the whole fee less the AMO
    assert oc_part(act, GRIDS["300% BR"], non_optam=True) == 7800  # 120 € - 42 €
    assert oc_part(act, GRIDS["100% BR"], non_optam=True) == 1800  # the ticket modérateur
    # no dépassement: nothing to cap
    at_tariff = Liquidated("APC", 6000, 6000, 70, 4200, 0, 0)
    assert oc_part(at_tariff, GRIDS["150% BR"], non_optam=True) == 1800
