"""The noemie-sim command: exit codes, messages, help, and the installed entry point."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from noemie_sim.scenarios.cli import build_parser, main
from noemie_sim.scenarios.cli import norms as cli_norms
from noemie_sim.sim.domain.generate import generate
from noemie_sim.sim.norms import KINDS, kinds, samples

RECORD = 128


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_validate_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "lot.b2"
    good.write_bytes(samples.b2_lot())
    assert run(capsys, "validate", str(good))[0] == 0

    data = samples.b2_lot()
    key_at = 2 * RECORD + 24
    bad = tmp_path / "bad.b2"
    bad.write_bytes(data[:key_at] + b"01" + data[key_at + 2 :])
    code, out, _ = run(capsys, "validate", str(bad))
    assert code == 1
    assert "record 3 (Type 2), field insured_nir_key at position 25: NIR key is wrong" in out

    code, _, err = run(capsys, "validate", str(tmp_path / "missing.b2"))
    assert code == 2 and "cannot read" in err and "Traceback" not in err

    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00\xff hello")
    code, out, _ = run(capsys, "validate", str(junk))
    assert code == 1 and "not a file of the network" in out


def test_validate_names_a_broken_990_total(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = samples.noemie_ps_return()
    start = data.index(b"@99005") + 1
    path = tmp_path / "retour.580"
    path.write_bytes(data[: start + 30] + b"00000009999" + data[start + 41 :])
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert "(NOP-CTL), field amount_1 at position 31: 990 total of 100 NOP-FAC is wrong" in out


def test_validate_with_a_forced_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "lot.b2"
    path.write_bytes(samples.b2_lot())
    code, out, _ = run(capsys, "validate", "--kind", "decompte", str(path))
    assert code == 1 and "field nature" in out


@pytest.mark.parametrize("kind", list(KINDS))
def test_explain_every_sample(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "--sample", kind)
    assert code == 0
    assert out.startswith(f"{kind}: ")
    assert "cohérents" in out


def test_explain_shows_labels_fields_and_anomalies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = samples.noemie_550_sample()
    code, out, _ = run(capsys, "explain", "--sample", "noemie-550")
    for label in ("NOP-ENT", "NOP-DRG", "NOP-PIJ", "NOP-MFI", "NOP-CTL", "NOP-FIN", "cpt_sol"):
        assert label in out
    path = tmp_path / "x.550"
    start = data.index(b"@23099") + 1
    path.write_bytes(data[: start + 29] + b"0004100" + data[start + 36 :])
    code, out, _ = run(capsys, "explain", str(path))
    assert code == 1 and "gross IJ is not days x daily IJ" in out


def test_explain_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "explain")
    assert code == 2 and "either a FILE or --sample" in err


def test_samples_writes_one_valid_file_per_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "samples", str(tmp_path))[0] == 0
    files = sorted(tmp_path.iterdir())
    assert len(files) == len(KINDS)
    for path in files:
        assert run(capsys, "validate", str(path))[0] == 0


def test_bundled_fixtures_are_the_codec_samples() -> None:
    """tests/fixtures holds the samples as files (regenerate: noemie-sim samples tests/fixtures)."""
    fixtures = Path(__file__).parent / "fixtures"
    from noemie_sim.scenarios.cli.norms import EXTENSIONS

    for name, kind in KINDS.items():
        assert (fixtures / f"sample.{EXTENSIONS[name]}").read_bytes() == kind.sample(), name


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in subparsers.choices:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "usage: noemie-sim " + name in out and "example" in out


def test_installed_entry_point_runs() -> None:
    exe = shutil.which("noemie-sim", path=str(Path(sys.executable).parent))
    assert exe is not None, "noemie-sim is not installed in this environment"
    done = subprocess.run(
        [exe, "explain", "--sample", "b2"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Type 2 — Facture / assuré" in done.stdout


def test_validate_and_explain_stop_listing_and_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_norms, "MAX_LISTED", 3)
    monkeypatch.setattr(kinds, "EXPLAIN_ANOMALIES", 2)
    monkeypatch.setattr(kinds, "EXPLAIN_RECORDS", 5)
    data = bytearray(generate("b2", 3, 20))
    for i in range(0, len(data), 128):  # every Type 2's NIR key made wrong
        if data[i : i + 2] == b"2 ":
            data[i + 24 : i + 26] = b"%02d" % (int(data[i + 24 : i + 26]) % 97 + 1)
    path = tmp_path / "lot.b2"
    path.write_bytes(bytes(data))
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1 and "20 anomalie(s)" in out
    assert out.count("  - ") == 3 and "... and 17 more (listing stopped at 3)" in out
    code, out, _ = run(capsys, "explain", str(path))
    assert code == 1 and out.count("  - ") == 2 and "... and 18 more (listing stopped at 2)" in out
    assert "more records not shown" in out and "#6 " not in out
