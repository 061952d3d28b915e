"""Tariffs and reimbursement rules, with the worked example of the reference notes."""

from datetime import date, timedelta

import pytest

from noemie_sim.sim.domain import codes
from noemie_sim.sim.domain.nomenclature import ACTS, billable, may_bill
from noemie_sim.sim.domain.rules import (
    GRIDS,
    Billed,
    Counters,
    Grid,
    Patient,
    ij_for_period,
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
    assert ACTS["AMK"].base() == 1613  # séance 7.5 x 2.15 € (ameli)
    assert ACTS["AMI"].base(300) == 945


def test_who_may_bill_what() -> None:
    assert may_bill("01", "G") and not may_bill("24", "G") and not may_bill("01", "AMI")
    assert may_bill("24", "AMI") and may_bill("26", "AMK") and not may_bill("01", "XYZ")
    assert [a.code for a in billable("24")] == ["AMI", "IFD"]


def test_worked_example_of_norms_8_2() -> None:
    """Spécialiste OPTAM, 45 € billed, BR 30 €, 70 %, PF 1 € (before 15/05/2024): AMO 20 €,
    ticket modérateur 9 €, dépassement 15 €."""
    [act] = liquidate([Billed("G", 4500)], "01", "991086265", ADULT, date(2024, 3, 1), Counters())
    assert (act.base, act.rate, act.amo_gross, act.pf, act.amo) == (3000, 70, 2100, 100, 2000)
    assert (act.ticket_moderateur, act.depassement, act.patient_share) == (900, 1500, 2500)


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
        (date(2025, 4, 1), 200_000, 3287),
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
