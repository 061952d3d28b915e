"""The money as the caisse computes it, read back from generated files: IJ maladie is half
the daily base rounded once to the cent; a décompte carries the ALD exemption code of a
patient in ALD as the network's own décomptes do."""

from __future__ import annotations

from noemie_sim.sim.domain import rules
from noemie_sim.sim.domain.generate import generate, story_of
from noemie_sim.sim.domain.text import half_up
from noemie_sim.sim.norms import b2, noemie_550


def test_every_generated_ij_maladie_line_is_half_the_unrounded_base_to_the_cent() -> None:
    checked = 0
    for seed in range(1, 6):
        story = story_of(seed, 40)
        salary = {e.nir: e.monthly_gross for e in story.population.employers[0].employees}
        doc = noemie_550.parse(generate("noemie-550", seed, 40))
        for employee in doc.employers[0].days[0].employees:
            coverage = employee.coverages[0]
            if coverage.insurance_nature != rules.LEAVE_NATURES["maladie"]:
                continue
            leave = coverage.leaves[0]
            ceiling = rules.ij_ceiling(leave.stop_start)
            exact = half_up(salary[employee.insured_nir] * 3 * 100, 9125 * 2)
            for period in leave.periods:
                assert period.daily_amount == min(exact, ceiling), (seed, period)
                checked += 1
    assert checked > 50


def test_a_generated_décompte_carries_the_ald_exemption() -> None:
    ald = plain = 0
    for seed in range(1, 4):
        story = story_of(seed, 60)
        in_ald = {b.nir: b.ald for _, b in story.population.beneficiaries()}
        for lot in b2.parse(generate("decompte", seed, 60)).lots:
            for invoice in lot.invoices:
                is_ald = in_ald[invoice.beneficiary_nir]
                assert (invoice.exemption == "4") == is_ald, (seed, invoice.invoice_number)
                ald += is_ald
                plain += not is_ald
    assert ald and plain, (ald, plain)
