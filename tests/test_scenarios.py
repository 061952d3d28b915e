"""Scenario scripts from the command line: every bundled scenario with the exit code it
declares, replay, reports in every form (the HTML one rendered by headless Chromium), and
clear errors for invalid scenarios."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from noemie_sim.pki.authority import KeyPool
from noemie_sim.scenarios.catalogue import bundled, find_scenario
from noemie_sim.scenarios.cli import main
from noemie_sim.scenarios.reports.validity import invalid_files
from noemie_sim.scenarios.schema import (
    EXPECTATIONS,
    FAULT_KINDS,
    SLA_DEFAULTS,
    ScenarioError,
    parse,
    parse_duration,
)

from .shared_keys import cache_with_keys
from .web_helpers import CHROMIUM_FLAGS, artifacts, chromium

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "scenarios.md"
REQUIRED = {"demo", "nominal-week", "negative-arl", "revoked-certificate", "cpam-outage",
            "double-mutuelle", "employer-ij", "late-mutuelle", "national-day",
            "care-mix", "rest-mutuelle"}  # fmt: skip


@pytest.fixture(autouse=True)
def _key_cache(
    tmp_path_factory: pytest.TempPathFactory, key_pool: KeyPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command keeps RSA keys in the user's cache: the session's pool here."""
    cache = cache_with_keys(tmp_path_factory.getbasetemp() / "cache", key_pool)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))


def test_the_bundled_scenarios_are_all_there() -> None:
    assert set(bundled()) >= REQUIRED


#: played by a test of its own, in memory (a year of traffic over SFTP: 27 s)
LONG = {"dated-rules"}


@pytest.mark.parametrize("name", sorted(set(bundled()) - LONG))
def test_every_bundled_scenario_exits_as_it_declares(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = find_scenario(name)
    args = ["run", name, "--out", str(tmp_path / "run"), "--json", str(tmp_path / "r.json")]
    if name == "national-day":  # sharded: its 101 caisses one after the other, in this process
        args += ["--scale", "0.0002", "--workers", "1"]
    code = main(args)
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "r.json").read_text())
    failing = [s["name"] for s in report["sla"] + report["expectations"] if s["verdict"] != "pass"]
    assert code == scenario.expect_exit, f"{name}: exit {code}, failing {failing}\n{out}"
    assert report["digest"] in out.replace("\n", "")
    assert report["counts"]["invoices"] > 0 and report["figures"]["lost_files"] == 0
    checked, refused = invalid_files(tmp_path / "run")  # the network agrees with `validate`
    assert checked > 0 and not refused, refused[:5]
    if name == "flaky-network":  # the faults did cut connections, and nothing was lost
        db = sqlite3.connect(tmp_path / "run" / "journal.sqlite")
        (evidence,) = db.execute(
            "SELECT evidence FROM events WHERE kind = 'network-faults-ended'"
        ).fetchone()
        db.close()
        assert json.loads(evidence)["connections_cut"] > 0
        # cut connections (their count depends on SSH padding) leave the chain reproducible
        assert main(["replay", str(tmp_path / "run")]) == 0
    if name == "cpam-outage":
        assert report["figures"]["failovers"] > 0
        # its alert fired during the outage and resolved when the server was back
        (outage,) = [e for e in _events(tmp_path / "run") if e[0] == "outage"]
        (alert,) = report["alerts"]
        assert alert["name"] == "CaisseHubDown" and alert["labels"] == {"caisse": outage[1]}
        assert outage[2] < alert["fired_at"] < alert["resolved_at"] == outage[3]
        # evaluated on the simulated clock, journaled: the run replays identical
        assert main(["replay", str(tmp_path / "run")]) == 0
    if name == "rest-mutuelle":
        _both_channels(tmp_path / "run")
        assert main(["replay", str(tmp_path / "run")]) == 0  # HTTP retries are replayed too
    if name == "late-mutuelle":
        (oc,) = [s for s in report["sla"] if s["name"] == "oc_payment"]
        assert oc["breaches"] > 0 and failing == ["oc_payment"]


def _both_channels(folder: Path) -> None:
    """Décomptes went over both channels; those over REST were retried while their mutuelle
    was down, then every one was taken and answered (a signed answer in the reply)."""
    db = sqlite3.connect(folder / "journal.sqlite")
    rows = db.execute(
        "SELECT kind, json_extract(details, '$.name'), json_extract(details, '$.channel') "
        "FROM events WHERE kind IN ('file-sent', 'file-delivered', 'upload-failed', "
        "'oc-answer-received')"
    ).fetchall()
    db.close()
    sent = {(name, channel) for kind, name, channel in rows
            if kind == "file-sent" and name.startswith("DEC-")}  # fmt: skip
    over_rest = {name for name, channel in sent if channel == "rest"}
    assert over_rest and {name for name, channel in sent if channel is None}
    assert all(name.endswith(".jws") for name in over_rest)
    delivered = {name for kind, name, _ in rows if kind == "file-delivered"}
    assert delivered == over_rest
    retried = {name for kind, name, channel in rows if kind == "upload-failed"}
    assert retried and retried <= over_rest  # the outage's documents, retried, then taken
    answers = [name for kind, name, channel in rows if kind == "file-sent" and channel == "rest"
               and name.startswith("OCR-")]  # fmt: skip
    assert len(answers) == len(over_rest)
    assert sum(1 for kind, *_ in rows if kind == "oc-answer-received") == len(sent)


def _events(folder: Path) -> list[tuple[str, str, str, str]]:
    """(kind, party, at, until) of the run's outages."""
    db = sqlite3.connect(folder / "journal.sqlite")
    rows = db.execute(
        "SELECT kind, json_extract(details, '$.party'), at, json_extract(details, '$.until') "
        "FROM events WHERE kind = 'outage'"
    ).fetchall()
    db.close()
    return [(str(kind), str(party), str(at), str(until)) for kind, party, at, until in rows]


def test_demo_narrates_then_replay_confirms_and_reports_render(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "demo"
    assert main(["demo", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    for told in ("sends a lot of", "positive ARL", "negative ARL", "NOEMIE return",
                 "décomptes", "HTML report"):  # fmt: skip
        assert told in out, told
    assert (run / "report.html").is_file()

    assert main(["replay", str(run)]) == 0
    assert "identical" in capsys.readouterr().out

    paths = {kind: tmp_path / f"report.{kind}" for kind in ("json", "junit", "html")}
    code = main(["report", str(run), "--json", str(paths["json"]), "--junit",
                 str(paths["junit"]), "--html", str(paths["html"])])  # fmt: skip
    assert code == 0
    report = json.loads(paths["json"].read_text())
    documented = (
        "format",
        "scenario",
        "seed",
        "digest",
        "verdict",
        "counts",
        "sla",
        "rejects",
        "money",
        "expectations",
        "figures",
        "hourly",
        "timeline",
        "automation_rate",
    )
    for key in documented:
        assert key in report, key
    suite = ET.parse(paths["junit"]).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    # one case per check: the run's completeness, each SLA, each expectation
    assert len(cases) == 1 + len(report["sla"]) + len(report["expectations"])
    assert [c.get("name") for c in cases] == [c["name"] for c in report["checks"]]
    assert suite.get("failures") == "0" and report["verdict"] == "pass"
    _check_rendered(paths["html"], report)

    # a journal edited after the run is refused, not replayed
    db = sqlite3.connect(run / "journal.sqlite")
    db.execute("UPDATE events SET details = '{}' WHERE seq = 5")
    db.commit()
    db.close()
    assert main(["replay", str(run)]) == 2
    assert "does not match its hash" in capsys.readouterr().err


@contextmanager
def _drawn_report(page: Path) -> Iterator[tuple[Any, list[str]]]:
    """A report page open in headless Chromium (Debian's, driven by Playwright) once its
    script has drawn every chart (the page's own signal, not a clock): the page and the
    script errors it raised."""
    browser = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chrome = playwright.chromium.launch(executable_path=browser, args=CHROMIUM_FLAGS, timeout=0)
        try:
            view = chrome.new_page(viewport={"width": 1200, "height": 900})
            errors: list[str] = []
            view.on("pageerror", lambda exc: errors.append(str(exc)))
            view.goto(page.resolve().as_uri(), timeout=0)
            view.wait_for_function("document.body.dataset.charts !== undefined", timeout=0)
            yield view, errors
        finally:
            chrome.close()


def _check_rendered(page: Path, report: dict[str, Any]) -> None:
    """Load the page in headless Chromium (Debian's, driven by Playwright) and check what its
    charts show: axes with their titles, one histogram per SLA with its limit line (or "no
    data"), every hour of the run, rejects with their labels; no script error. A screenshot is
    kept as a test artifact (NOEMIE_SIM_ARTIFACTS, default test-artifacts/)."""
    shots = artifacts()
    with _drawn_report(page) as (view, errors):
        charts = view.evaluate(
            "[...document.querySelectorAll('[data-chart]')].map(c => ({...c.dataset}))"
        )
        view.screenshot(path=shots / "report-demo.png", full_page=True)
    assert not errors, errors
    by_name = {c["chart"]: c for c in charts}
    timeline = by_name["timeline"]
    assert timeline["rendered"] == "yes" and int(timeline["points"]) > 20
    assert timeline["xTitle"].startswith("simulated time") and timeline["yTitle"] == "actors"
    for sla in report["sla"]:
        shown = by_name[f"sla-{sla['name']}"]
        if not sla["done"]:
            assert shown["rendered"] == "empty"  # "no data", not an empty frame
            continue
        assert shown["rendered"] == "yes" and shown["yTitle"] == "items"
        assert float(shown["limitHours"]) == sla["limit_hours"]
        bins = sla["histogram"]
        width = bins[1][0] - bins[0][0] if len(bins) > 1 else 1
        assert f"bins of {width:g} h" in shown["xTitle"]
        assert bins[-1][0] + width >= max(sla["max_hours"], sla["limit_hours"])
    hourly = by_name["hourly"]
    assert hourly["xTitle"].startswith("simulated hour") and hourly["yTitle"] == "files sent"
    start = datetime.fromisoformat(report["hourly"][0][0])
    last = datetime.fromisoformat(report["hourly"][-1][0])
    assert len(report["hourly"]) == (last - start) // timedelta(hours=1) + 1  # no hour skipped
    rejects = by_name["rejects"]
    if rejects["rendered"] == "yes":
        assert rejects["xTitle"] == "count"
    assert any(report["reject_labels"].values())
    assert (shots / "report-demo.png").stat().st_size > 10_000


def test_late_mutuelle_fails_in_junit_with_the_breach(tmp_path: Path) -> None:
    assert main(["run", "late-mutuelle", "--out", str(tmp_path / "run"), "--junit",
                 str(tmp_path / "j.xml")]) == 1  # fmt: skip
    suite = ET.parse(tmp_path / "j.xml").getroot().find("testsuite")
    assert suite is not None
    failed = {c.get("name"): c.find("failure") for c in suite.findall("testcase")}
    failure = failed["sla.oc_payment"]
    assert failure is not None and "beyond 2 jours ouvrés" in str(failure.get("message"))
    assert failed["expect.lost_files"] is None


def _said_texts(value: Any) -> list[str]:
    """The texts of every said message (i18n.said) in a report, nested ones included."""
    if isinstance(value, dict):
        own = [value["text"]] if set(value) == {"text", "values"} else []
        return own + [t for v in value.values() for t in _said_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _said_texts(v)]
    return []


def test_a_failed_run_reported_in_french(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``report --lang fr``: the failed check's message in the terminal and every word of
    report.html in French (the checks' descriptions and messages, the charts' titles, the
    tables' headings, money as French writes it), while JSON and JUnit stay in English."""
    from babel.messages.pofile import read_po

    from noemie_sim.scenarios.i18n import catalogue_path, language, script_messages
    from noemie_sim.scenarios.reports import render

    run, html, junit = tmp_path / "run", tmp_path / "rapport.html", tmp_path / "j.xml"
    assert main(["run", "late-mutuelle", "--out", str(run)]) == 1
    capsys.readouterr()
    assert main(["report", str(run), "--lang", "fr", "--html", str(html), "--junit",
                 str(junit), "--json", str(tmp_path / "r.json")]) == 1  # fmt: skip
    printed = capsys.readouterr().out
    assert "✗ sla.oc_payment: " in printed and "au-delà de 2 jours ouvrés" in printed
    assert "beyond" not in printed and "code de sortie 1" in printed
    failure = ET.parse(junit).getroot().find("testsuite/testcase[@name='sla.oc_payment']/failure")
    assert failure is not None and "beyond 2 jours ouvrés" in str(failure.get("message"))
    report = json.loads((tmp_path / "r.json").read_text())
    # every said message of the report is in the French catalogue, translated
    with catalogue_path("fr").open("rb") as po:
        catalogue = read_po(po, locale="fr")
    texts = set(_said_texts(report))
    assert {"delay of {flow} within {limit}", "{breaches} of {count} beyond {limit}"} <= texts
    for text in texts:
        message = catalogue.get(text)
        assert message is not None and message.string, text

    english = {m for m in script_messages(
        (Path(render.__file__).parent / "assets" / "report_charts.js").read_text("utf-8"))
        if language("fr")._(m) != m}  # fmt: skip
    with _drawn_report(html) as (view, errors):
        shown = view.inner_text("body")
        # each element's own text (a cell, a heading, a span) and each chart's axes' titles
        texts = set(view.evaluate(
            "[...document.querySelectorAll('body :not(script)')].map(e => [...e.childNodes]"
            ".filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim())"
            ".concat([...document.querySelectorAll('canvas[data-rendered=yes]')]"
            ".flatMap(c => [c.dataset.xTitle, c.dataset.yTitle]))"))  # fmt: skip
        view.screenshot(path=artifacts() / "report-late-mutuelle-fr.png", full_page=True)
        assert view.get_attribute("html", "lang") == "fr"
    assert not errors, errors
    words = shown + "\n" + "\n".join(texts)
    # no English word of the page: a whole message, or the start of one with placeholders
    left = [m for m in english if m in texts or ("{" in m and len(m.split("{")[0]) > 5
                                                 and m.split("{")[0] in words)]  # fmt: skip
    assert not left, left
    for french in ("Contrôles", "délai de oc_payment dans la limite de 2 jours ouvrés",
                   "au-delà de 2 jours ouvrés", "Rejets par code", "temps simulé",
                   "attendu 0, mesuré 0", "Verdict\u00a0: ", "€"):  # fmt: skip
        assert french in words, french
    money = language("fr").money(report["money"]["billed"])
    assert money in shown, money


# -- invalid scenarios ----------------------------------------------------------------------

MINIMAL = """
[scenario]
name = "t"
duration = "1 jour ouvré"
"""


@pytest.mark.parametrize(
    ("extra", "where", "what"),
    [
        ("[population]\nassure = 10\n", "population.assure", "unknown key"),
        ("[population]\nassures = -1\n", "population.assures", "a whole number"),
        ("[population]\nnoemie_active_share = 1.5\n", "population.noemie_active_share", "0.0"),
        ("[[practitioners]]\nkind = 'dentiste'\n", "practitioners[1].kind", "medecin-generaliste"),
        ("[[practitioners]]\nfse_per_day = [9, 2]\n", "practitioners[1].fse_per_day", "LOW"),
        (
            "[[faults]]\nat = 'tomorrow'\nkind = 'actor-down'\ntarget = 'PS-1'\nduration = '1h'\n",
            "faults[1].at",
            "day N HH:MM",
        ),
        (
            "[[faults]]\nat = 'day 1 10:00'\nkind = 'meteor'\ntarget = 'PS-1'\n",
            "faults[1].kind",
            "one of",
        ),
        (
            "[[faults]]\nat = 'day 1 10:00'\nkind = 'sftp-outage'\ntarget = 'CPAM-1'\n",
            "faults[1].duration",
            "lasts",
        ),
        ("[sla]\narl = 'soon'\n", "sla.arl", "a duration"),
        ("[expect]\nlost_files = 'none'\n", "expect.lost_files", "a whole number"),
        ("[expect]\nmiracles = 1\n", "expect.miracles", "unknown key"),
        ("[scenario2]\n", "scenario2", "unknown key"),
    ],
)
def test_an_invalid_scenario_names_the_key_and_what_was_expected(
    extra: str, where: str, what: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse(MINIMAL + extra)
    assert caught.value.path == where
    assert what in str(caught.value)


def test_the_command_refuses_an_invalid_scenario_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL + "[population]\nassures = 'many'\n")
    assert main(["run", str(bad), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "bad.toml: population.assures: expected a whole number" in err
    assert "Traceback" not in err
    target = tmp_path / "target.toml"
    target.write_text(MINIMAL + "[[faults]]\nat = 'day 1 10:00'\nkind = 'corrupt-lot'\n"
                      "target = 'PS-99'\n")  # fmt: skip
    assert main(["run", str(target), "--out", str(tmp_path / "t")]) == 2
    assert "faults[1].target" in capsys.readouterr().err
    not_toml = tmp_path / "x.toml"
    not_toml.write_text("[scenario\n")
    assert main(["run", str(not_toml)]) == 2
    assert "valid TOML" in capsys.readouterr().err
    assert main(["run", "no-such-scenario"]) == 2
    assert main(["report", str(tmp_path)]) == 2


def test_durations() -> None:
    assert parse_duration("2 jours ouvrés", "x").jours_ouvres == 2
    assert parse_duration("48h", "x").seconds == 48 * 3600
    assert parse_duration("30min", "x").seconds == 1800
    assert parse_duration("4 days", "x").seconds == 4 * 86400
    with pytest.raises(ScenarioError):
        parse_duration("1.5 jours ouvrés", "x")


def test_docs_cover_every_fault_sla_and_expectation() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for word in (*FAULT_KINDS, *SLA_DEFAULTS, *EXPECTATIONS):
        assert f"`{word}`" in text, word


def test_a_skewed_clock_sees_certificates_expired(tmp_path: Path) -> None:
    """PS-1's clock runs 1000 days ahead: to it the caisse's certificate has expired, so it
    refuses to seal for it and journals why; its schedule follows its own wrong clock."""
    scenario = tmp_path / "skew.toml"
    scenario.write_text(
        MINIMAL
        + "transport = 'memory'\n[[practitioners]]\ncount = 2\n"
        + "[[faults]]\nat = 'day 1 09:00'\nkind = 'clock-skew'\ntarget = 'PS-1'\n"
        + "offset = '1000 days'\n"
    )
    main(["run", str(scenario), "--out", str(tmp_path / "run")])
    db = sqlite3.connect(tmp_path / "run" / "journal.sqlite")
    rows = db.execute("SELECT actor, details FROM events WHERE kind = 'file-not-sent'").fetchall()
    db.close()
    assert rows and all(json.loads(d)["code"] == "expired" for _, d in rows)
    assert len({actor for actor, _ in rows}) == 1
