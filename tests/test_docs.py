"""Generated documentation stays in step with the code."""

import re
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


def test_every_rule_of_the_security_page_names_a_test_that_exists() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
    named = set(re.findall(r"\b(test_\w+)\b(?!\.py)", page))  # tests, not test files
    sources = "".join(p.read_text() for p in Path(__file__).resolve().parent.glob("test_*.py"))
    assert len(named) >= 10
    assert {n for n in named if f"def {n}(" not in sources} == set()
