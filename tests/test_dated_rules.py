"""The dated rules reach the files: the bundled dated-rules scenario (March 2024 to April
2025) is played once, and its archived files are read back: each old and each new value on
the right side of its date. The run also outlives a CRL's validity: the CAs publish fresh
ones on the simulated clock, and no file or login is refused for want of one.

It is played in memory (its own transport is SFTP): a year of traffic over SFTP takes 27 s,
and the money and the files are the same. The generic tests of every bundled scenario
(test_scenarios.py, test_self_consistency.py) leave it to this one for the same reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections import defaultdict
from datetime import date
from pathlib import Path

from noemie_sim.pki.authority import KeyPool
from noemie_sim.scenarios.catalogue import find_scenario
from noemie_sim.scenarios.reports.validity import invalid_files
from noemie_sim.scenarios.runner import play, report
from noemie_sim.sim.domain import rules
from noemie_sim.sim.norms import b2, kinds, noemie_550, noemie_ps

FRANCHISE = date(2024, 3, 31)
PF = date(2024, 5, 15)
G = date(2024, 12, 22)
CEILING = date(2025, 4, 1)


def test_the_dated_rules_reach_the_files(tmp_path: Path, noemie_keys: KeyPool) -> None:
    """One run, every check on it (one test: the run is played once, on one worker)."""
    scenario = find_scenario("dated-rules")
    config = dataclasses.replace(scenario.config, transport="memory")
    result = asyncio.run(play(dataclasses.replace(scenario, config=config), tmp_path / "run",
                              keys=noemie_keys))  # fmt: skip
    result.journal.close()
    run = tmp_path / "run"
    the_run_passes_and_every_file_validates(run)
    the_tariffs_of_g_and_vg_change_on_22_december_2024(run)
    the_pf_and_the_franchise_change_on_their_dates(run)
    the_ij_ceiling_changes_for_leaves_from_1_april_2025(run)
    the_cas_publish_fresh_crls_as_the_run_goes_on(run)


def _files(run: Path, kind: str) -> list[bytes]:
    """The distinct clear files of ``kind`` the run archived."""
    found = {p.read_bytes() for p in run.glob("files/*/*.clear")}
    return [data for data in found if kinds.detect(data).name == kind]


def the_run_passes_and_every_file_validates(run: Path) -> None:
    assert report(run)["verdict"] == "pass"
    checked, refused = invalid_files(run)
    assert checked > 500 and not refused, refused[:5]


def the_tariffs_of_g_and_vg_change_on_22_december_2024(run: Path) -> None:
    prices: dict[str, dict[bool, set[int]]] = defaultdict(lambda: defaultdict(set))
    for data in _files(run, "b2"):
        for lot in b2.parse(data).lots:
            for invoice in lot.invoices:
                for line in invoice.lines:
                    if isinstance(line, b2.ProfessionalAct) and line.act_code.strip() in "G VG":
                        prices[line.act_code.strip()][line.care_date >= G].add(line.unit_price)
    for code in ("G", "VG"):
        assert prices[code] == {False: {2650}, True: {3000}}, (code, prices[code])


def the_pf_and_the_franchise_change_on_their_dates(run: Path) -> None:
    """What the caisse deducts from each act (580): the participation forfaitaire on a
    médecin's act, the franchise on an infirmière's; 0 for a patient exempt (under 18, C2S,
    pregnancy) or past a cap."""
    deducted: dict[str, dict[bool, set[int]]] = defaultdict(lambda: defaultdict(set))
    for data in _files(run, "noemie-ps"):
        for payee in noemie_ps.parse(data).payees:
            for day in payee.days:
                for lot in day.lots:
                    for invoice in lot.invoices:
                        for act in invoice.acts:
                            code = act.act_code.strip()
                            change = PF if code == "G" else FRANCHISE
                            deducted[code][act.care_date >= change].add(act.deductions)
    assert deducted["G"][False] - {0} == {100} and deducted["G"][True] - {0} == {200}
    assert deducted["AMI"][False] - {0} == {50} and deducted["AMI"][True] - {0} == {100}


def the_ij_ceiling_changes_for_leaves_from_1_april_2025(run: Path) -> None:
    capped: dict[bool, set[int]] = defaultdict(set)
    for data in _files(run, "noemie-550"):
        for employer in noemie_550.parse(data).employers:
            for day in employer.days:
                for employee in day.employees:
                    for coverage in employee.coverages:
                        if coverage.insurance_nature != rules.LEAVE_NATURES["maladie"]:
                            continue
                        for leave in coverage.leaves:
                            ceiling = rules.ij_ceiling(leave.stop_start)
                            for period in leave.periods:
                                assert period.daily_amount <= ceiling, (leave, period)
                                if period.daily_amount == ceiling:
                                    capped[leave.stop_start >= CEILING].add(ceiling)
    # 1.8 SMIC: 52.28 € (SMIC 11.65 €), 53.31 € (11.88 €); 1.4 SMIC: 41.47 €
    assert capped[False] == {5228, 5331} and capped[True] == {4147}, capped


def the_cas_publish_fresh_crls_as_the_run_goes_on(run: Path) -> None:
    db = sqlite3.connect(run / "journal.sqlite")
    published = db.execute("SELECT at FROM events WHERE kind = 'crls-published'").fetchall()
    refused = db.execute(
        "SELECT count(*) FROM events WHERE kind IN ('login-refused', 'file-refused')"
    ).fetchone()[0]
    db.close()
    assert len(published) >= 4 and refused == 0
