"""A verdict you can trust: one verdict computed in one place, an incomplete run never a pass,
a journal whose tail was cut or whose rows were re-hashed caught with the row named, bounded
scenario values refused with their key path, and no traceback ever shown to a user."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noemie_sim.pki.authority import KeyPool, Pki
from noemie_sim.scenarios.cli import main
from noemie_sim.scenarios.i18n import english, language, said
from noemie_sim.scenarios.reports.render import localized
from noemie_sim.scenarios.reports.verdict import decide
from noemie_sim.scenarios.schema import ScenarioError, parse
from noemie_sim.sim.journal import _canonical, chain_hash, check_run
from noemie_sim.sim.norms import b2, kinds

from .pki_helpers import T0
from .shared_keys import cache_with_keys


@pytest.fixture(autouse=True)
def _key_cache(
    tmp_path_factory: pytest.TempPathFactory, key_pool: KeyPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command keeps RSA keys in the user's cache: the session's pool here."""
    cache = cache_with_keys(tmp_path_factory.getbasetemp() / "cache", key_pool)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, key_pool: KeyPool) -> Path:
    """A finished demo run (its folder must not be changed: tests copy it)."""
    run = tmp_path_factory.mktemp("finished") / "run"
    cache = cache_with_keys(tmp_path_factory.getbasetemp() / "cache", key_pool)
    os.environ.setdefault("XDG_CACHE_HOME", str(cache))
    assert main(["run", "demo", "--out", str(run)]) == 0
    return run


def _copy(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


# -- an incomplete run is never a pass ------------------------------------------------------


def test_a_run_killed_half_way_is_incomplete(tmp_path: Path) -> None:
    """SIGKILL in the middle of a run: `report`, `verify` and `replay` say incomplete (exit 3).
    The kill waits on the run's own narration, not on a timer."""
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "noemie_sim", "demo", "--out", str(run)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    told = 0
    for line in process.stdout:  # the narration: one line per exchange, as it happens
        told += line[:2].isdigit() and line[2] == ":"
        if told >= 12:
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdout.close()
    assert told >= 12, "the demo ended before it narrated 12 exchanges"
    assert (run / "journal.sqlite").is_file() and not (run / "manifest.json").exists()

    command = [sys.executable, "-m", "noemie_sim", "report", str(run)]
    out = subprocess.run(
        [*command, "--json", str(tmp_path / "r.json")], capture_output=True, text=True, env=env
    )
    assert out.returncode == 3, out.stdout + out.stderr
    assert "verdict: incomplete" in out.stdout and "the run never ended" in out.stdout
    assert "Traceback" not in out.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verdict"] == "incomplete" and report["exit_code"] == 3
    assert report["checks"][0]["name"] == "run.complete" and not report["checks"][0]["passed"]
    assert main(["verify", str(run)]) == 3
    assert main(["replay", str(run)]) == 3


def test_verify_names_a_cut_tail_and_a_rehashed_edit(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", str(finished)]) == 0
    assert "complete" in capsys.readouterr().out

    cut = _copy(finished, tmp_path / "cut")
    db = sqlite3.connect(cut / "journal.sqlite")
    last = db.execute("SELECT max(seq) FROM events").fetchone()[0]
    db.execute("DELETE FROM events WHERE seq = ?", (last,))
    db.commit()
    db.close()
    assert main(["verify", str(cut)]) == 3
    out = capsys.readouterr().out
    assert f"ends at event {last - 1}" in out and f"the run ended at event {last}" in out
    assert main(["report", str(cut)]) == 3
    assert "verdict: incomplete" in capsys.readouterr().out

    edited = _copy(finished, tmp_path / "edited")
    _edit_and_rehash(edited / "journal.sqlite", seq=42)
    assert main(["verify", str(edited)]) == 1
    out = capsys.readouterr().out
    assert "tampered" in out and "event 42 " in out and "re-hashed" in out
    assert main(["report", str(edited)]) == 2  # nothing in it can be trusted
    assert "event 42" in capsys.readouterr().err

    resigned = _copy(finished, tmp_path / "resigned")
    manifest = json.loads((resigned / "manifest.json").read_text())
    manifest["events"] -= 1  # a forger lowers the count to hide a cut tail: the seal breaks
    (resigned / "manifest.json").write_text(json.dumps(manifest))
    assert main(["verify", str(resigned)]) == 1
    assert "signature does not match" in capsys.readouterr().out


def test_verify_trusts_only_the_harness_it_is_given(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # another machine's harness: its certificate does not vouch for this run
    monkeypatch.setenv("NOEMIE_SIM_HARNESS_DIR", str(tmp_path / "another-machine"))
    assert main(["harness", "--export", str(tmp_path / "other.pem")]) == 0
    monkeypatch.delenv("NOEMIE_SIM_HARNESS_DIR")
    assert main(["verify", str(finished), "--root", str(tmp_path / "other.pem")]) == 1
    out = " ".join(capsys.readouterr().out.split())  # unwrapped
    assert "tampered" in out and "signed by another harness" in out
    # the PKI's root is no harness: refused, never trusted
    assert main(["verify", str(finished), "--root", str(finished / "pki/root/cert.pem")]) == 1
    assert "not a harness certificate" in " ".join(capsys.readouterr().out.split())
    # this machine's harness, exported, is what the run was signed with
    assert main(["harness", "--export", str(tmp_path / "mine.pem")]) == 0
    assert main(["verify", str(finished), "--root", str(tmp_path / "mine.pem")]) == 0
    assert "signatures checked against the certificate given" in " ".join(
        capsys.readouterr().out.split()
    )
    check = check_run(finished)
    assert check.complete and check.manifest is not None and "seal" in check.manifest
    assert check.trusted.startswith("this machine's harness") and not check.warnings
    # on a machine with no harness of its own, only the folder's certificate: a warning
    monkeypatch.setenv("NOEMIE_SIM_HARNESS_DIR", str(tmp_path / "nothing-here"))
    alone = check_run(finished)
    assert alone.complete and alone.warnings and "own certificate" in alone.warnings[0]


def _edit_and_rehash(path: Path, seq: int) -> None:
    """Change one event's details (in the journal's canonical JSON, as the writer stores it)
    and recompute every hash after it, as a forger would."""
    db = sqlite3.connect(path)
    previous = db.execute("SELECT value FROM run WHERE key = 'genesis'").fetchone()[0]
    rows = db.execute(
        "SELECT seq, at, actor, kind, file, lot, invoice, assure, oc, details FROM events "
        "ORDER BY seq"
    ).fetchall()
    for row in rows:
        details = json.loads(row[9])
        if row[0] == seq:
            details["forged"] = True
            db.execute("UPDATE events SET details = ? WHERE seq = ?", (_canonical(details), seq))
        previous = chain_hash(previous, [*row[:9], details])
        db.execute("UPDATE events SET hash = ? WHERE seq = ?", (previous, row[0]))
    db.commit()
    db.close()


def test_a_corrupt_journal_is_bad_input_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "journal.sqlite").write_bytes(b"SQLite format 3\x00" + os.urandom(3000))
    for command in ("report", "replay", "verify"):
        assert main([command, str(run)]) == 2
        err = capsys.readouterr().err
        assert "not a readable journal" in err and "Traceback" not in err


def test_one_verdict_from_the_parts() -> None:
    complete = {"state": "complete", "problems": [], "reached_end": True}
    sla = [{"name": "arl", "verdict": "pass", "limit": "2 jours ouvrés", "breaches": 0,
            "count": 3, "done": 3, "pending": 0}]  # fmt: skip
    what, why = said("every lot answered by a positive ARL"), said("sent no file")
    check = {"name": "lots-accepted", "description": english(what), "passed": False,
             "reasons": [english(why)],
             "said": {"description": what, "reasons": [why]}}  # fmt: skip
    party = {"party": "X", "role": "ps", "checks": [check]}
    assert decide(complete, sla, [], [])["verdict"] == "pass"
    failed = decide(complete, sla, [], [party])
    assert failed["verdict"] == "fail" and failed["exit_code"] == 1
    assert failed["failed"] == ["conformance.X.lots-accepted"]
    # the checks' words in English for every tool, in French for a French reader
    shown = failed["checks"][-1]
    assert shown["description"] == "ps X: every lot answered by a positive ARL"
    assert shown["message"] == "sent no file"
    french = localized(failed, language("fr"))["checks"]
    assert french[-1]["description"] == "ps X\u00a0: chaque lot reçu avec un ARL positif"
    assert french[-1]["message"] == "n'a envoyé aucun fichier"
    assert french[1]["message"] == "3/3 traités en moins de 2 jours ouvrés, 0 en attente"
    broken = decide({"state": "incomplete", "problems": ["cut"]}, sla, [], [])
    assert broken["verdict"] == "incomplete" and broken["exit_code"] == 3
    stopped = {**complete, "reached_end": False}
    assert decide(stopped, sla, [], [])["verdict"] == "incomplete"  # stopped, nothing to judge
    # stopped with an external party that passed every check so far: still never a pass
    early = decide(stopped, sla, [], [{**party, "checks": []}])
    assert early["verdict"] == "incomplete" and early["exit_code"] == 3


def test_an_internal_error_is_one_line_and_a_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any) -> Any:
        raise RuntimeError("a harness defect")

    monkeypatch.setattr(kinds, "resolve", broken)
    monkeypatch.setenv("NOEMIE_SIM_LOG_DIR", str(tmp_path / "logs"))
    sample = tmp_path / "x.b2"
    sample.write_bytes(b"0" * 128)
    assert main(["validate", str(sample)]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "internal error (RuntimeError: a harness defect)" in err
    (log,) = (tmp_path / "logs").iterdir()
    assert str(log) in err and "Traceback" in log.read_text() and "Traceback" not in err


# -- bounded, clear scenario errors ---------------------------------------------------------

HEAD = '[scenario]\nname = "t"\n'
FAULT = '[[faults]]\nat = "{at}"\nkind = "actor-down"\ntarget = "PS-1"\nduration = "{d}"\n'


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (HEAD + '[sla]\narl = "1000000000000 days"\n', "sla.arl"),
        (HEAD + "start = 9999-12-31T06:00:00\n", "scenario.start"),
        (HEAD + FAULT.format(at="day 999999999 10:00", d="1h"), "faults[1].at"),
        (HEAD + FAULT.format(at="day 9 10:00", d="1h"), "faults[1].at"),  # after the run
        (HEAD + FAULT.format(at="day 1 10:00", d="9" * 20 + " days"), "faults[1].duration"),
        (HEAD + 'duration = "0 jours ouvrés"\n', "scenario.duration"),
        (HEAD + 'duration = "100000 jours ouvrés"\n', "scenario.duration"),
        (HEAD + 'duration = "1e400 jours ouvrés"\n', "scenario.duration"),
        (HEAD + "[expect]\nreject_rate_max = 5\n", "expect.reject_rate_max"),
        (HEAD + "[expect]\nlost_files = 1e300\n", "expect.lost_files"),
        (HEAD + "[[practitioners]]\nfse_per_day = [1, 10000000]\n", "practitioners[1].fse_per_day"),
        (HEAD + "x = " + "[" * 5000 + "]" * 5000 + "\n", ""),
        (HEAD + "sede = 3\n", "scenario.sede"),
    ],
)
def test_out_of_range_values_exit_2_with_their_key(
    text: str, where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(text)
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"s.toml: {where}:" in err if where else "s.toml: expected valid TOML" in err
    assert not (tmp_path / "run").exists()


def test_a_misspelt_key_gets_a_suggestion() -> None:
    with pytest.raises(ScenarioError, match='did you mean "tiers_payant_share"'):
        parse(HEAD + "[population]\ntiers_payant_shares = 0.3\n")


_KEYS = st.sampled_from(
    ["scenario", "name", "seed", "start", "duration", "settle", "clock", "speed", "transport",
     "scale", "population", "assures", "caisses", "practitioners", "count", "kind", "faults",
     "at", "target", "sla", "arl", "expect", "reject_rate_max", "lost_files", "fse_per_day",
     "cpam", "link_delay", "mutuelles", "offset", "latency", "cut_rate", "sede"]
)  # fmt: skip
_SCALARS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["day 1 10:00", "day 0 25:99", "2 jours ouvrés", "48h", "1e999 s", "soon",
                     "actor-down", "PS-1", "CPAM-1", "corrupt-lot", "clock-skew", "sftp",
                     "scaled", "0 jours ouvrés", "99999999999999 days", "off", ""]),
    st.text(max_size=12),
    st.datetimes(),
    st.dates(),
    st.times(),
)  # fmt: skip
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=5)),
    max_leaves=20,
)


def _toml(table: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer for the fuzzer: tables as [headers], the rest inline."""
    lines, subtables = [], []
    for key, value in table.items():
        if isinstance(value, dict):
            subtables.append((key, value))
        else:
            lines.append(f"{key} = {_inline(value)}")
    text = "\n".join(lines) + "\n"
    for key, value in subtables:
        name = f"{prefix}.{key}" if prefix else key
        text += f"[{name}]\n" + _toml(value, name)
    return text


def _inline(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(value), repr(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_inline(v)}" for k, v in value.items()) + "}"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


@settings(max_examples=2000, deadline=None)
@given(
    document=st.dictionaries(_KEYS, _VALUES, max_size=6),
    scenario=st.dictionaries(_KEYS, _SCALARS, max_size=6),
)
def test_fuzzed_scenarios_raise_only_the_schema_error(
    document: dict[str, Any], scenario: dict[str, Any]
) -> None:
    """Whatever TOML document comes in, parse() returns a scenario or raises ScenarioError."""
    document = {"scenario": {"name": "fuzz", **scenario}, **document}
    with contextlib.suppress(ScenarioError):  # some documents are not even TOML: the same
        parse(_toml(document))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzzed_text_raises_only_the_schema_error(text: str) -> None:
    with contextlib.suppress(ScenarioError):
        parse(HEAD + text)


# -- for vendors: a fresh file for a kit identity ---------------------------------------------


def test_generate_makes_a_fresh_valid_file_for_a_kit_identity(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pki = finished / "pki"
    roles = Pki(pki).parties()
    ps = sorted(p for p, r in roles.items() if r == "ps")[0]
    caisse = next(p for p, r in roles.items() if r == "cpam")
    out = tmp_path / "lot.b2"
    command = ["generate", "b2", "--from", ps, "--pki", str(pki), "--file", "7", "--out", str(out)]
    assert main(command) == 0
    assert f"from {ps} to {caisse}, ready to seal" in capsys.readouterr().out
    data = out.read_bytes()
    assert kinds.resolve(data, None).validate(data) == []
    made = b2.parse(data)
    assert (made.sender, made.receiver, made.file_id) == (ps, caisse, 7)
    (lot,) = made.lots
    assert lot.number == 7 and [i.invoice_number for i in lot.invoices] == [701, 702, 703]
    sealed, opened = tmp_path / "lot.p7m", tmp_path / "opened.b2"
    at = lot.lot_date.isoformat() + "T19:00:00"
    assert main(["seal", str(out), "--pki", str(pki), "--from", ps, "--to", caisse,
                 "--out", str(sealed), "--at", at]) == 0  # fmt: skip
    assert main(["open", str(sealed), "--pki", str(pki), "--as", caisse, "--out", str(opened),
                 "--at", at]) == 0  # fmt: skip
    assert opened.read_bytes() == data
    capsys.readouterr()

    oc = next(p for p, r in roles.items() if r == "oc")
    answer = tmp_path / "answer.ocr"
    assert main(["generate", "oc-answer", "--from", oc, "--pki", str(pki), "--file", "3",
                 "--out", str(answer)]) == 0  # fmt: skip
    assert kinds.resolve(answer.read_bytes(), None).validate(answer.read_bytes()) == []
    assert main(["generate", "b2", "--from", oc, "--pki", str(pki), "--out", str(answer)]) == 2
    assert "it sends oc-answer files" in capsys.readouterr().err
    alone = Pki.create(tmp_path / "alone", T0)
    alone.issue("ps", ps, T0)
    assert main(["generate", "b2", "--from", ps, "--pki", str(alone.folder), "--out",
                 str(answer)]) == 2  # fmt: skip
    assert "needs the run's population" in capsys.readouterr().err
