"""The FSE delays measure something: visits happen through the day, a médecin's software
sends them each evening and an infirmière's or a kinésithérapeute's every other jour ouvré,
within R161-47's 3 jours ouvrés; the delay runs from each visit's time to its lot."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from noemie_sim.actors.network import population_of
from noemie_sim.pki.authority import KeyPool
from noemie_sim.scenarios.catalogue import find_scenario
from noemie_sim.scenarios.runner import play, report
from noemie_sim.sim.domain.population import build


def test_visits_leave_in_lots_hours_to_days_later(tmp_path: Path, noemie_keys: KeyPool) -> None:
    scenario = find_scenario("demo")
    config = dataclasses.replace(scenario.config, transport="memory")
    result = asyncio.run(play(dataclasses.replace(scenario, config=config), tmp_path / "run",
                              keys=noemie_keys))  # fmt: skip
    events = result.journal.events()
    result.journal.close()
    sla = {s["name"]: s for s in report(tmp_path / "run")["sla"]}
    for name in ("fse_sent", "fse_sent_tiers_payant"):
        assert 1 < sla[name]["p50_hours"] < 24 and sla[name]["breaches"] == 0, sla[name]
        assert sla[name]["max_hours"] > 24  # an infirmière's visit of the day before
    visits = {str(e.invoice): e for e in events if e.kind == "invoice-billed"}
    days_per_lot: dict[str, list[int]] = defaultdict(list)
    for lot in (e for e in events if e.kind == "lot-sent" and not e.details["duplicate"]):
        care_days = {visits[f"{lot.actor}/{n}"].details["care_date"]
                     for n in lot.details["invoices"] if f"{lot.actor}/{n}" in visits}  # fmt: skip
        days_per_lot[lot.actor].append(len(care_days))
        for n in lot.details["invoices"]:
            visit = visits.get(f"{lot.actor}/{n}")
            if visit is not None:  # a visit happens before its lot leaves, in the day's hours
                at = datetime.fromisoformat(visit.details["care_at"])
                assert at < lot.at and 8 <= at.hour < 18, (visit, lot)
    population = build(config.seed, population_of(config))
    specialty = {p.ps_number: p.specialty for p in population.practitioners}
    for ps, counts in days_per_lot.items():
        if specialty[ps] in ("24", "26"):  # every other day: a lot of two days' visits
            assert max(counts) == 2, (ps, counts)
        else:
            assert max(counts) == 1, (ps, counts)
