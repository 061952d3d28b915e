"""``noemie-sim export``: a run's journal and clear files, pseudonymised under a key kept
apart: no NIR of the run in the export, every exported file still valid, one pseudonym per
person everywhere and across exports with the same key."""

from __future__ import annotations

import json
import re
import sqlite3
import stat
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from noemie_sim.scenarios import export as exporting
from noemie_sim.scenarios.catalogue import find_scenario
from noemie_sim.scenarios.cli import main
from noemie_sim.sim.domain import identifiers
from noemie_sim.sim.domain.pseudonyms import Pseudonymiser
from noemie_sim.sim.norms import kinds
from noemie_sim.sim.norms.codec import decode_records
from noemie_sim.sim.norms.keys import nir_key, nir_problems

KEY = bytes(range(32))
NIR_LIKE = re.compile(rb"[1-478][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{6}")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's network in memory: claims, returns, décomptes, an employer's IJ."""
    folder = tmp_path_factory.mktemp("export")
    scenario = folder / "demo-memory.toml"
    scenario.write_text(
        find_scenario("demo").source.replace("[scenario]", "[scenario]\ntransport = 'memory'", 1)
    )
    assert main(["run", str(scenario), "--out", str(folder / "run")]) in (0, 1)
    return folder / "run"


def _personal(data: bytes) -> tuple[set[str], list[tuple[int, str, str]]]:
    """The NIR bodies of a file, and its (record index, field, value) of names."""
    kind = kinds.detect(data)
    nirs, names = set(), []
    for i, record in enumerate(decode_records(data, kind.framing, kind.layouts)):
        for name, value in record.values.items():
            if isinstance(value, str) and value.strip():
                if name.endswith("nir"):
                    nirs.add(value)
                elif name.endswith(("last_name", "first_name")):
                    names.append((i, name, value))
    return nirs, names


def test_a_pseudonymised_export_hides_every_nir_and_still_validates(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "keys" / "pseudonym.key"  # made at first use
    out = tmp_path / "out"
    assert main(["export", str(run), "--out", str(out), "--pseudonymise",
                 "--key", str(key_file)]) == 0  # fmt: skip
    assert "a new pseudonymisation key" in capsys.readouterr().out
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    pseudonyms = Pseudonymiser(bytes.fromhex(key_file.read_text()))
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["pseudonymised"] and manifest["key_id"] == pseudonyms.key_id
    assert manifest["left_out"] == []

    clear = sorted((run / "files").glob("*/*.clear"))
    exported = sorted((out / "files").glob("*/*"))
    assert len(clear) == len(exported) == manifest["files"] > 10

    real: set[str] = set()
    journal = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    for source, target in zip(clear, exported, strict=True):
        data = source.read_bytes()
        nirs, names = _personal(data)
        real |= nirs
        moved = target.read_bytes()
        kind = kinds.detect(moved)
        assert kind.validate(moved) == [], target  # the export still validates
        # the same person, the same pseudonym; names in the same records, replaced
        pseudo_nirs, pseudo_names = _personal(moved)
        assert pseudo_nirs == {pseudonyms.nir(n) for n in nirs}
        for (i, field, value), (j, field2, value2) in zip(names, pseudo_names, strict=True):
            assert (i, field) == (j, field2)
            pick = pseudonyms.first_name if field.endswith("first_name") else pseudonyms.last_name
            assert value2 == pick(value)[: len(value2)]
    assert len(real) > 20
    # the journal: each event's assuré and bénéficiaire, the same pseudonyms as in the files
    db = sqlite3.connect(run / "journal.sqlite")
    recorded = dict(db.execute("SELECT seq, assure FROM events WHERE assure IS NOT NULL"))
    db.close()
    assert len(recorded) > 50
    for e in journal:
        if e["seq"] in recorded:
            assert e["assure"] == pseudonyms.nir(recorded[e["seq"]])
        beneficiaire = e["details"].get("beneficiaire")
        assert beneficiaire is None or not nir_problems(beneficiaire)
    real |= set(recorded.values())
    # no NIR of the run anywhere in the export, whatever the file
    wanted = {n.encode() for n in real} - {pseudonyms.nir(n).encode() for n in real}
    for path in out.rglob("*"):
        if path.is_file():
            found = {m.group(0) for m in NIR_LIKE.finditer(path.read_bytes())}
            assert not found & wanted, path
    assert len(journal) == manifest["events"]

    # the same key, the same export; another key, other pseudonyms
    again = tmp_path / "again"
    assert main(["export", str(run), "--out", str(again), "--pseudonymise",
                 "--key", str(key_file)]) == 0  # fmt: skip
    for a, b in zip(exported, sorted((again / "files").glob("*/*")), strict=True):
        assert a.read_bytes() == b.read_bytes()
    other_key = tmp_path / "other.key"
    other_key.write_text("ab" * 32)
    other = tmp_path / "other"
    assert main(["export", str(run), "--out", str(other), "--pseudonymise",
                 "--key", str(other_key)]) == 0  # fmt: skip
    assert (other / "journal.jsonl").read_text() != (out / "journal.jsonl").read_text()


def test_a_clear_export_is_the_archive_and_the_journal(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "clear"
    assert main(["export", str(run), "--out", str(out)]) == 0
    clear = sorted((run / "files").glob("*/*.clear"))
    exported = sorted((out / "files").glob("*/*"))
    assert [p.read_bytes() for p in clear] == [p.read_bytes() for p in exported]
    assert [p.name for p in exported] == [p.name.removesuffix(".p7m.clear") for p in clear]
    lines = (out / "journal.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["kind"] == "run-started"
    assert not json.loads((out / "export.json").read_text())["pseudonymised"]


def test_an_export_that_would_leak_keeps_nothing(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a format whose personal fields the export did not know: its NIRs would go out as
    # they are; the leak check finds them and nothing is kept
    monkeypatch.setattr(exporting, "_replace", lambda *args: 0)
    out = tmp_path / "leaky"
    with pytest.raises(exporting.ExportError, match="real NIR"):
        exporting.export(run, out, Pseudonymiser(KEY))
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--key", "K"], "--key goes with --pseudonymise"),
        (["--pseudonymise", "--key", "OUT/k"], "inside the export"),
        (["--pseudonymise", "--key", "RUN/k"], "inside the run folder"),
        (["--pseudonymise", "--key", "SHORT"], "at least 32 bytes"),
    ],
)
def test_wrong_export_arguments_are_refused(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str],
    message: str,
) -> None:  # fmt: skip
    out = tmp_path / "out"
    (tmp_path / "short").write_bytes(b"too short")
    paths = {"OUT/k": str(out / "k"), "RUN/k": str(run / "k"), "SHORT": str(tmp_path / "short"),
             "K": "k"}  # fmt: skip
    args = [paths.get(a, a) for a in extra]
    assert main(["export", str(run), "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (run / "k").exists()


def test_an_export_goes_to_an_empty_folder_from_a_run(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep me")
    assert main(["export", str(run), "--out", str(busy)]) == 2
    assert (busy / "mine.txt").read_text() == "keep me"
    assert main(["export", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "not a run folder" in capsys.readouterr().err


@given(
    sex=st.sampled_from([1, 2]),
    birth=st.dates(date(1920, 1, 1), date(2025, 12, 31)),
    department=st.sampled_from([*identifiers.DEPARTMENTS, *identifiers.OVERSEAS, "99"]),
    commune=st.integers(1, 990),
    rank=st.integers(1, 999),
)
def test_a_nir_pseudonym_keeps_the_form_and_the_birth(
    sex: int, birth: date, department: str, commune: int, rank: int
) -> None:
    try:
        body, _key = identifiers.nir(sex, birth, department, commune, rank)
    except ValueError:
        return  # a commune that département does not have
    pseudonym = Pseudonymiser(KEY).nir(body)
    assert pseudonym != body and pseudonym[:5] == body[:5]
    assert not nir_problems(pseudonym, birth) and 1 <= nir_key(pseudonym) <= 97
    assert Pseudonymiser(KEY).nir(body) == pseudonym
