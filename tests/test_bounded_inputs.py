"""Endless inputs refused before they are read (docs/security.md): /dev/zero, a FIFO with no
writer, a folder, a file over the limit; and scenarios too large for one machine refused
before anything is built, each with one line saying what and where (exit 2)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from noemie_sim.pki.authority import Pki
from noemie_sim.scenarios.cli import main
from noemie_sim.scenarios.schema import MAX_NETWORK_ASSURES, ScenarioError, parse

from .pki_helpers import CPAM, PS


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)  # nobody ever writes to it: reading it would block forever
    return path


def test_endless_inputs_are_refused_naming_the_path(
    tmp_path: Path, fifo: Path, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "o")
    commands = {
        "validate": [],
        "explain": [],
        "open": ["--pki", str(pki.folder), "--as", PS, "--out", out],
        "seal": ["--pki", str(pki.folder), "--from", PS, "--to", CPAM, "--out", out],
    }
    for command, rest in commands.items():
        for source, kind in (("/dev/zero", "a character device"), (str(fifo), "a FIFO"),
                             (str(tmp_path), "a folder")):  # fmt: skip
            assert main([command, source, *rest]) == 2, (command, source)
            err = capsys.readouterr().err
            assert f"{source} is not a regular file ({kind})" in err, err
            assert len(err.strip().splitlines()) == 1


def test_a_file_over_the_limit_is_refused_unless_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["samples", str(tmp_path)]) == 0
    sample = tmp_path / "sample.b2"
    size = sample.stat().st_size
    assert main(["validate", str(sample), "--max-bytes", str(size - 1)]) == 2
    assert f"is {size} bytes, more than {size - 1}" in capsys.readouterr().err
    assert main(["validate", str(sample), "--max-bytes", str(size)]) == 0


@pytest.mark.parametrize(
    ("extra", "key"),
    [('[population]\nassures = 10000000\n', "population.assures"),
     ('[[practitioners]]\ncount = 1000000\n', "practitioners")],
)  # fmt: skip
def test_scenarios_too_large_are_refused_before_building(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, key: str
) -> None:
    text = f'[scenario]\nname = "huge"\n{extra}'
    with pytest.raises(ScenarioError) as caught:
        parse(text)
    assert caught.value.path == key
    scenario = tmp_path / "huge.toml"
    scenario.write_text(text)
    assert main(["run", str(scenario), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert key in err and "at most" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # nothing was built


def test_the_national_day_at_full_scale_is_within_the_limits() -> None:
    national = Path(__file__).resolve().parent.parent / "src/noemie_sim/scenarios/library"
    text = (national / "national-day.toml").read_text().replace("scale = 0.002", "scale = 1")
    scenario = parse(text)
    assert scenario.config.population.assures <= 101 * MAX_NETWORK_ASSURES
