"""Generated documentation stays in step with the code."""

from pathlib import Path

from noemie_sim.sim.norms.doc import render

ROOT = Path(__file__).resolve().parent.parent


def test_docs_norms_is_up_to_date() -> None:
    current = (ROOT / "docs" / "norms.md").read_text(encoding="utf-8")
    assert current == render(), "docs/norms.md is stale: run python tools/gen_norms_doc.py"


def test_docs_norms_marks_every_field_documented_or_convention() -> None:
    rows = [line for line in render().splitlines() if line.startswith("| ") and "---" not in line]
    data_rows = [r for r in rows if not r.startswith("| pos ")]
    assert data_rows
    assert all(r.rstrip(" |").split("| ")[-1].strip() for r in data_rows)
    assert sum("convention" in r for r in data_rows) > 0
    assert sum("RSF-ACE 2023" in r for r in data_rows) > 40
