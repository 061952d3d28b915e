"""noemie-sim generate: every kind, over many seeds, gives a file that validates."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noemie_sim.scenarios.cli import main
from noemie_sim.sim.domain.generate import KINDS, generate
from noemie_sim.sim.domain.rules import ij_ceiling
from noemie_sim.sim.norms import KINDS as FORMATS
from noemie_sim.sim.norms import b2, noemie_550, noemie_ps


@pytest.mark.parametrize("kind", KINDS)
def test_generated_files_validate_over_many_seeds(kind: str) -> None:
    @settings(max_examples=40)
    @given(seed=st.integers(0, 10**6), count=st.integers(1, 45))
    def run(seed: int, count: int) -> None:
        data = generate(kind, seed, count)
        assert FORMATS[kind].validate(data) == [], (seed, count)

    run()


def test_same_seed_same_file() -> None:
    for kind in KINDS:
        assert generate(kind, 5, 8) == generate(kind, 5, 8)
    assert generate("b2", 5, 8) != generate("b2", 6, 8)


def test_generated_amounts_follow_the_rules() -> None:
    """Hand-checkable: every act of a generated lot is billed at its 2025 tariff, the AMO part
    is the base times the rate, and the return deducts 2 € of PF per médecin consultation."""
    fse = b2.parse(generate("b2", 3, 40))
    for lot in fse.lots:
        for inv in lot.invoices:
            for act in inv.lines:
                assert isinstance(act, b2.ProfessionalAct)
                assert act.amo_amount == (2 * act.base * act.rate + 100) // 200
                assert act.amo_amount <= act.fee_amount
    ret = noemie_ps.parse(generate("noemie-ps", 3, 40))
    for returned in ret.payees[0].days[0].lots:
        for paid in returned.invoices:
            for settled in paid.acts:
                if paid.status == "P" and settled.act_code == "G" and settled.deductions:
                    assert settled.base * settled.rate // 100 - settled.amo_amount == 200
    ij = noemie_550.parse(generate("noemie-550", 3, 20))
    natures = set()
    for employee in ij.employers[0].days[0].employees:
        coverage = employee.coverages[0]
        leave = coverage.leaves[0]
        period = leave.periods[0]
        natures.add(coverage.insurance_nature)
        if coverage.insurance_nature == "10":  # maladie: 3 waiting days, the SMIC ceiling
            assert period.daily_amount <= ij_ceiling(leave.stop_start)
            assert (period.period_start - leave.stop_start).days >= 3
        else:  # AT/MP and maternité pay from the first day
            assert period.period_start == leave.stop_start
    assert {"10", "40"} <= natures


def test_generate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "lot.b2"
    assert main(["generate", "b2", "--out", str(out), "--seed", "4", "--count", "30"]) == 0
    assert main(["validate", str(out)]) == 0
    assert main(["generate", "b2", "--out", str(out), "--count", "0"]) == 2
    assert "count is 1 to 5000" in capsys.readouterr().err
