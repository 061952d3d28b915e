"""The money as the caisse computes it, read back from generated files: IJ maladie is half
the daily base rounded once to the cent; a décompte carries the ALD exemption code of a
patient in ALD as the network's own décomptes do; every tariff follows the dated table that
docs/rules.md publishes."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from noemie_sim.sim.domain import rules
from noemie_sim.sim.domain.generate import generate, story_of
from noemie_sim.sim.domain.nomenclature import ACTS, price_at
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


def _tariff_table() -> dict[str, list[tuple[int, date | None]]]:
    """docs/rules.md's tariff table: each act's tariffs in cents, with the day each starts."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text("utf-8")
    section = text[text.index("## Tariffs at the care date") :]
    section = section[: section.index("\n## ", 3)]
    table: dict[str, list[tuple[int, date | None]]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if not line.startswith("| ") or len(cells) != 3 or cells[0] in ("act", "---"):
            continue
        tariffs = [
            (round(float(euros) * 100), date(int(y), int(m), int(d)) if y else None)
            for euros, d, m, y in re.findall(
                r"(\d+(?:\.\d+)?) €(?: from (\d+)/(\d+)/(\d{4}))?", cells[1]
            )
        ]
        for code in cells[0].split(", "):
            table[code] = tariffs
    return table


def test_every_tariff_follows_the_dated_table_of_the_docs() -> None:
    table = _tariff_table()
    priced = {code for code, act in ACTS.items() if not act.per_box}
    assert set(table) == priced, "docs/rules.md lists every act, and only them"
    for code, tariffs in table.items():
        for n, (cents, start) in enumerate(tariffs):
            if start is not None:
                assert price_at(code, start) == cents, (code, start)
            if n + 1 < len(tariffs):
                following = tariffs[n + 1][1]
                assert following is not None, (code, "only the first tariff may be undated")
                assert price_at(code, following - timedelta(days=1)) == cents, (code, following)
            elif start is None:  # one tariff, no known change
                for day in (date(2023, 1, 1), date(2026, 6, 1)):
                    assert price_at(code, day) == cents, (code, day)
        assert price_at(code, date(2027, 1, 1)) == tariffs[-1][0], code
