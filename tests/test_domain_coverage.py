"""The care the fidelity issue added: pharmacies, the parcours de soins, the régime local
d'Alsace-Moselle and its calendar, AT/MP and maternity IJ. Each test names its source; the
figures are computed by hand from it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from noemie_sim.sim.calendar import add_jours_ouvres, is_jour_ouvre, public_holidays
from noemie_sim.sim.domain import generate
from noemie_sim.sim.domain.nomenclature import DRUGS, may_bill, price_at
from noemie_sim.sim.domain.population import PopulationConfig, alsace_moselle, build
from noemie_sim.sim.domain.rules import (
    GRIDS,
    Billed,
    Counters,
    Patient,
    ij_for_period,
    ij_periods,
    liquidate,
    oc_part,
    rate_for,
)

ADULT = Patient(date(1980, 1, 1))
DAY = date(2026, 3, 2)
PARACETAMOL = next(d for d in DRUGS if d.code == "PH7")


def _boxes(code: str, price: int, boxes: int) -> Billed:
    return Billed(code, price * boxes, None, boxes, price)


# -- pharmacies ------------------------------------------------------------------------------


def test_drug_rates_follow_their_class() -> None:
    """SNDS ER_PHA_F (documentation-snds.health-data-hub.fr/tables/er_pha_f): PH1 pharmacie
    100 %, PH7 65 %, PH4 30 %, PH2 15 %. Only a pharmacy bills them (rule R1)."""
    assert [rate_for("50", ADULT, code=c) for c in ("PH1", "PH7", "PH4", "PH2")] == [
        100, 65, 30, 15,
    ]  # fmt: skip
    assert may_bill("50", "PH7") and not may_bill("01", "PH7") and not may_bill("50", "G")
    # ALD brings a drug to 100 %, except a 15 % one (service médical rendu faible)
    ald = Patient(date(1980, 1, 1), ald=True)
    assert rate_for("50", ald, code="PH4") == 100 and rate_for("50", ald, code="PH2") == 15


def test_a_drug_line_is_priced_per_box_with_a_franchise_per_box() -> None:
    """service-public.fr, "Franchise médicale": 1 € per box of drugs since 31 March 2024
    (0.50 € before), no daily cap on boxes, 50 € a year for all franchises."""
    price = PARACETAMOL.price
    (line,) = liquidate([_boxes("PH7", price, 3)], "50", "671234567", ADULT, DAY, Counters())
    assert line.base == 3 * price and line.rate == 65
    assert line.amo_gross == (3 * price * 65 + 50) // 100
    assert line.franchise == 300  # 3 boxes x 1 €
    (before,) = liquidate(
        [_boxes("PH7", price, 3)], "50", "671234567", ADULT, date(2024, 3, 30), Counters()
    )
    assert before.franchise == 150  # 3 boxes x 0.50 €
    # 12 boxes in a day: 12 € (acts would stop at 4 €)
    counters = Counters()
    lines = liquidate([_boxes("PH7", price, 6)] * 2, "50", "671234567", ADULT, DAY, counters)
    assert sum(x.franchise for x in lines) == 1200
    # the yearly cap of 50 € is shared with the acts' franchises
    counters = Counters(franchise_year={2026: 4950})
    (line,) = liquidate([_boxes("PH7", price, 3)], "50", "671234567", ADULT, DAY, counters)
    assert line.franchise == 50


def test_franchise_per_paramedical_act_before_2024_was_fifty_cents_capped_at_two_euros() -> None:
    """service-public.fr: 0.50 € per paramedical act, at most 2 € a day, until 30 March 2024."""
    day = date(2023, 6, 1)
    lines = liquidate([Billed("AMI", 315)] * 5, "24", "751234567", ADULT, day, Counters())
    assert [x.franchise for x in lines] == [50, 50, 50, 50, 0]


def test_price_at_gives_a_drug_by_its_cip13() -> None:
    assert price_at(PARACETAMOL.cip13, DAY) == PARACETAMOL.price
    with pytest.raises(KeyError, match="priced per drug"):
        price_at("PH7", DAY)
    assert all(len(d.cip13) == 13 and d.cip13.startswith("34009") for d in DRUGS)


# -- parcours de soins -------------------------------------------------------------------------


def test_out_of_the_parcours_de_soins_a_visit_is_reimbursed_30_percent() -> None:
    """ameli.fr, "Le parcours de soins coordonnés": without a médecin traitant declared, a
    consultation is reimbursed 30 % instead of 70 %; not below 16 years; a contrat responsable
    does not cover the majoration of the ticket modérateur."""
    without = Patient(date(1980, 1, 1), medecin_traitant=False)
    (g,) = liquidate([Billed("G", 3000)], "01", "751234567", without, DAY, Counters())
    assert (g.rate, g.amo_gross, g.penalty) == (30, 900, 1200)
    child = Patient(date(2015, 1, 1), medecin_traitant=False)
    assert rate_for("01", child, code="G", day=DAY) == 70
    assert rate_for("24", without, code="AMI", day=DAY) == 60  # a nurse: no parcours
    # the mutuelle pays what it would have in the parcours: 100 % BR - 70 % = 9 €, never 21 €
    assert oc_part(g, GRIDS["100% BR"]) == 900
    assert g.fee - g.amo_gross - oc_part(g, GRIDS["100% BR"]) == 1200  # the patient's share
    # the invoice says so in its Type 2S indicator (N and T: a convention)
    assert generate.care_pathway("01", without, DAY) == "N"
    assert generate.care_pathway("01", ADULT, DAY) == "T"
    assert generate.care_pathway("50", without, DAY) is None


# -- Alsace-Moselle ----------------------------------------------------------------------------


def test_the_regime_local_pays_more() -> None:
    """Régime local d'Alsace-Moselle (lelynx.fr; le Quotidien du médecin, 8/2/2006): 90 % for
    médecins and auxiliaires médicaux, 90 % for drugs at 65 %, 80 % for drugs at 30 %, nothing
    more for drugs at 15 %."""
    local = Patient(date(1980, 1, 1), alsace_moselle=True)
    assert rate_for("01", local, code="G") == 90
    assert rate_for("24", local, code="AMI") == 90
    assert [rate_for("50", local, code=c) for c in ("PH7", "PH4", "PH2", "PH1")] == [
        90, 80, 15, 100,
    ]  # fmt: skip
    out = Patient(date(1980, 1, 1), alsace_moselle=True, medecin_traitant=False)
    assert rate_for("01", out, code="G", day=DAY) == 50  # 40 points less: a convention
    assert [alsace_moselle(o) for o in ("015710000", "016710000", "016810000", "017510000")] == [
        True, True, True, False,
    ]  # fmt: skip


def test_good_friday_and_26_december_are_holidays_in_alsace_moselle() -> None:
    """Code du travail L3134-13: in Moselle, Bas-Rhin and Haut-Rhin, Good Friday (3 April
    2026) and 26 December are public holidays."""
    friday = date(2026, 4, 3)
    assert is_jour_ouvre(friday) and not is_jour_ouvre(friday, alsace_moselle=True)
    assert date(2025, 12, 26) in public_holidays(2025, True)
    assert date(2025, 12, 26) not in public_holidays(2025)
    thursday = datetime(2026, 4, 2, 18, 0)
    # Thursday + 1 jour ouvré: Friday in Paris, Tuesday in Strasbourg (Easter Monday off too)
    assert add_jours_ouvres(thursday, 1).date() == friday
    assert add_jours_ouvres(thursday, 1, alsace_moselle=True).date() == date(2026, 4, 7)


# -- IJ: AT/MP and maternité -------------------------------------------------------------------


def test_at_mp_ij_60_then_80_percent_without_waiting_days() -> None:
    """ameli.fr, "Indemnités journalières en cas d'accident du travail": no délai de carence;
    60 % of the salaire journalier (last month's gross / 30.42) for days 1 to 28, 80 % from
    day 29; the salaire journalier at most 0.834 % of the PASS (47 100 € in 2025: 392.81 €,
    hence at most 235.69 € then 314.25 € a day)."""
    start = date(2025, 5, 1)
    monthly = 300_000  # 3 000 €: 98.62 € a day
    first = ij_for_period(start, start, start + timedelta(days=9), monthly * 3, kind="at-mp")
    assert first is not None
    assert (first.start, first.days, first.daily_base, first.daily_amount) == (
        start, 10, 9862, 5917,
    )  # fmt: skip
    later, higher = ij_periods(
        start, date(2025, 5, 20), date(2025, 6, 5), monthly * 3, kind="at-mp"
    )
    assert (later.end, later.daily_amount) == (date(2025, 5, 28), 5917)
    assert (higher.start, higher.daily_amount) == (date(2025, 5, 29), 7890)  # 80 % of 98.62
    rich = 3 * 3_000_000
    (capped,) = ij_periods(start, start, start, rich, kind="at-mp")
    assert capped.daily_amount == 23569
    (capped_80,) = ij_periods(start, date(2025, 6, 1), date(2025, 6, 1), rich, kind="at-mp")
    assert capped_80.daily_amount == 31425
    with pytest.raises(ValueError, match="29th day"):
        ij_for_period(start, start, date(2025, 6, 5), monthly * 3, kind="at-mp")


@pytest.mark.parametrize(
    ("leave_start", "ceiling"),
    [(date(2025, 3, 15), 10194), (date(2026, 2, 1), 10402)],
)
def test_maternity_ij_with_its_own_ceiling(leave_start: date, ceiling: int) -> None:
    """ameli.fr / service-public.fr, "Congé maternité: indemnités journalières": the three
    months' gross, each at most the monthly PASS, less 21 %, / 91.25; no carence. PASS 2025
    47 100 € (3 925 € a month): at most 101.94 € a day; 2026 48 060 € (4 005 €): 104.02 €."""
    rich = ij_for_period(leave_start, leave_start, leave_start, 3 * 900_000, kind="maternite")
    assert rich is not None and rich.daily_amount == ceiling and rich.start == leave_start
    modest = ij_for_period(leave_start, leave_start, leave_start, 3 * 200_000, kind="maternite")
    assert modest is not None and modest.daily_amount == (600_000 * 79 + 4562) // 9125  # 51.95 €
    # paternity (25 days since 1/7/2021) is paid as maternity: the same amounts, no carence
    father = ij_for_period(leave_start, leave_start, leave_start, 3 * 900_000, kind="paternite")
    assert father == rich
    with pytest.raises(ValueError, match="unknown kind"):
        ij_for_period(leave_start, leave_start, leave_start, 1, kind="conge")


# -- the population ----------------------------------------------------------------------------


def test_links_are_per_beneficiary_and_hundreds_of_mutuelles_fit() -> None:
    """seed 001 counts about 500 organismes complémentaires; a child may be covered by another
    mutuelle than its family's, and its NOEMIE link is its own."""
    population = build(3, PopulationConfig(assures=3000, mutuelles=500, split_cover_share=0.5))
    assert len({m.oc_number for m in population.mutuelles}) == 500
    assert len({m.name for m in population.mutuelles}) == 500
    split = [
        i for i in population.insured
        if len({c.oc_number for c in population.contracts_of(i.nir)}) > 1
        and all(len(c.beneficiaries) < len(i.beneficiaries) for c in population.contracts_of(i.nir))
    ]  # fmt: skip
    assert split
    family = split[0]
    covers = {nir: population.cover_of(family.nir, nir, DAY) for nir in
              (b.nir for b in family.beneficiaries)}  # fmt: skip
    assert len({c.oc_number for c in covers.values() if c}) == 2
    assert sum(len(population.contracts_of_oc(m.oc_number)) for m in population.mutuelles) == len(
        population.contracts
    )


def test_a_population_of_alsace_moselle_and_pharmacies() -> None:
    population = build(
        4,
        PopulationConfig(
            assures=200, caisse_numbers=(751, 671), practitioners=4, specialties=("01", "50")
        ),
    )
    assert [c.alsace_moselle for c in population.caisses] == [False, True]
    pharmacies = [p for p in population.practitioners if p.specialty == "50"]
    assert pharmacies and all(p.ps_number[2] == "2" for p in pharmacies)  # catégorie 2
    assert all(p.tiers_payant_share == 0.95 for p in pharmacies)
    with pytest.raises(ValueError, match="unknown caisse 999"):
        build(4, PopulationConfig(caisse_numbers=(999,)))
