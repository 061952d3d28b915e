"""A run's report in four forms: terminal tables, JSON, JUnit XML and one self-contained HTML
page whose charts are drawn by Chart.js, inlined in the page (it opens offline as one file;
assets/README.md says where the library comes from).

All four are written from the report dictionary of :func:`noemie_sim.scenarios.runner.report`
(its JSON form is the documented, stable one: docs/scenarios.md).
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from rich.console import Console
from rich.table import Table

from ..i18n import LANGUAGES, Language, language, script_messages


def localized(report: dict[str, Any], lang: Language) -> dict[str, Any]:
    """A copy of ``report`` whose words people read are in ``lang``: each check's description
    and message, what each SLA measures, each expectation's description, each external
    party's check descriptions and reasons (from the ``said`` messages kept beside them; the
    journal's own words that they quote, a refusal's reason, stay as journaled). Names, codes
    and figures unchanged. ``report`` itself in English; a part of a report (only some of
    those keys) is fine."""
    if lang.code == LANGUAGES[0]:
        return report
    say = lang.say
    shown = dict(report)
    if "checks" in report:
        shown["checks"] = [
            c | {"description": say(c["said"]["description"]),
                 "message": "; ".join(say(m) for m in c["said"]["message"])}
            for c in report["checks"]
        ]  # fmt: skip
    if "sla" in report:
        shown["sla"] = [s | {"what": lang._(s["what"]) if s["what"] else ""} for s in report["sla"]]
    if "expectations" in report:
        shown["expectations"] = [
            e | {"description": lang._(e["description"])} for e in report["expectations"]
        ]
    if "externals" in report:
        shown["externals"] = []
        for x in report["externals"]:
            told = [c | {"description": say(c["said"]["description"]),
                         "reasons": [say(r) for r in c["said"]["reasons"]]}
                    for c in x["checks"]]  # fmt: skip
            reasons = [r for c in told for r in c["reasons"]]
            shown["externals"].append(x | {"checks": told, "reasons": reasons})
    return shown


def _write(path: Path | str, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def write_json(report: dict[str, Any], path: Path | str) -> None:
    _write(path, json.dumps(report, indent=1, ensure_ascii=False, sort_keys=True) + "\n")


def write_junit(report: dict[str, Any], path: Path | str) -> None:
    """One test case per check of the verdict (verdict.py): the run's completeness, each SLA,
    each expectation and each check of each external party. A failed check is a ``failure``
    with its reason, so that a CI reading the file fails exactly when the verdict does; a
    check not judged is ``skipped`` with why."""
    checks = report["checks"]
    suite = ET.Element(
        "testsuite",
        name=f"noemie-sim.{report['scenario']}",
        tests=str(len(checks)),
        failures=str(sum(1 for c in checks if not c["passed"])),
        skipped=str(sum(1 for c in checks if c.get("skipped"))),
        errors="0",
        time=str(report.get("wall_seconds") or 0),
    )
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="verdict",
                  value=report["verdict"])  # fmt: skip
    for check in checks:
        case = ET.SubElement(
            suite, "testcase", classname=f"{report['scenario']}.{check['group']}",
            name=check["name"],
        )  # fmt: skip
        text = f"{check['description']}: {check['message']}"
        if check["group"] == "sla":
            text = _sla_line(next(s for s in report["sla"] if f"sla.{s['name']}" == check["name"]))
        if check.get("skipped"):
            ET.SubElement(case, "skipped", message=check["message"])
        elif not check["passed"]:
            ET.SubElement(case, "failure", message=check["message"]).text = text
        else:
            ET.SubElement(case, "system-out").text = text
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    _write(path, '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n")


def _sla_line(sla: dict[str, Any]) -> str:
    def hours(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} h"

    return (
        f"{sla['name']}: {sla['done']}/{sla['count']} done, p50 {hours(sla['p50_hours'])}, "
        f"p95 {hours(sla['p95_hours'])}, max {hours(sla['max_hours'])}, limit {sla['limit']}, "
        f"{sla['breaches']} breaches, {sla['pending']} pending"
    )


def euros(cents: int) -> str:
    return f"{cents / 100:,.2f} €".replace(",", " ")


def print_terminal(report: dict[str, Any], console: Console, lang: Language | None = None) -> None:
    """The report as tables: flows, SLA verdicts, rejects by code, money, expectations, in
    ``lang`` (English by default; codes, flow and check names stay as the JSON has them)."""
    lang = lang or language("en")
    _ = lang._
    passed, failed = _("[green]pass[/]"), _("[red]FAIL[/]")
    counts = report["counts"]
    flows = Table(title=_("{scenario}: what moved", scenario=report["scenario"]), show_header=True)
    for column in (_("files"), _("lots"), _("invoices"), _("décomptes"), _("IJ"), _("events")):
        flows.add_column(column, justify="right")
    flows.add_row(*(lang.number(counts[k]) for k in ("files", "lots", "invoices", "decomptes",
                                                     "ij", "events")))  # fmt: skip
    console.print(flows)
    sla = Table(title=_("Delays (simulated time)"))
    columns = (_("flow"), _("limit"), _("done"), _("p50"), _("p95"), _("max"), _("breaches"),
               _("pending"), _("verdict"))  # fmt: skip
    for n, column in enumerate(columns):
        sla.add_column(column, justify="left" if n in (0, len(columns) - 1) else "right")
    # what each flow measures, under the table (a column of it would not fit a terminal)
    sla.caption = "; ".join(f"{s['name']}: {_(s['what'])}" for s in report["sla"] if s["what"])
    sla.caption_justify = "left"
    for s in report["sla"]:
        sla.add_row(
            s["name"], s["limit"], f"{s['done']}/{s['count']}", _h(s["p50_hours"], lang),
            _h(s["p95_hours"], lang), _h(s["max_hours"], lang), str(s["breaches"]),
            str(s["pending"]), passed if s["verdict"] == "pass" else failed,
        )  # fmt: skip
    console.print(sla)
    rejects = Table(title=_("Rejects and refusals by code"))
    for n, column in enumerate((_("flow"), _("code"), _("count"))):
        rejects.add_column(column, justify="right" if n == 2 else "left")
    for flow, label in (("amo", _("caisse → PS")), ("arl", _("ARL")), ("oc", _("mutuelle")),
                        ("refused_files", _("refused files"))):  # fmt: skip
        for code, count in report["rejects"][flow].items():
            rejects.add_row(label, code, str(count))
    if rejects.row_count:
        console.print(rejects)
    money = report["money"]
    cash = Table(title=_("Money (reconciled per invoice)"))
    for column in (_("billed"), _("AMO"), _("C2S (caisse)"), _("mutuelles"), _("patients"),
                   _("late penalties"), _("automation")):  # fmt: skip
        cash.add_column(column, justify="right")
    rate = report["automation_rate"]
    # a report of an earlier version has no C2S figure
    cash.add_row(lang.money(money["billed"]), lang.money(money["amo"]),
                 lang.money(money.get("c2s", 0)), lang.money(money["oc"]),
                 lang.money(money["patient"]), lang.money(money["penalties"]),
                 "-" if rate is None else lang.percent(rate))  # fmt: skip
    console.print(cash)
    by_care = report.get("money_by_care") or {}  # a report of an earlier version has none
    if by_care:
        cares = Table(title=_("Money by kind of care"))
        for n, column in enumerate((_("care"), _("invoices"), _("lines"), _("billed"),
                                    _("dépassements"), _("AMO"), _("C2S (caisse)"),
                                    _("mutuelles"), _("patients"))):  # fmt: skip
            cares.add_column(column, justify="left" if n == 0 else "right")
        for care, c in by_care.items():
            cares.add_row(care, lang.number(c["invoices"]), lang.number(c["lines"]),
                          *(lang.money(c[k]) for k in ("billed", "depassements", "amo", "c2s",
                                                       "oc", "patient")))  # fmt: skip
        console.print(cares)
    if report.get("alerts"):
        alerts = Table(title=_("Alerts (simulated time)"))
        for column in (_("alert"), _("severity"), _("labels"), _("condition"), _("value"),
                       _("fired"), _("resolved")):  # fmt: skip
            alerts.add_column(column)
        for a in report["alerts"]:
            labels = " ".join(f"{k}={v}" for k, v in a["labels"].items())
            resolved = a["resolved_at"] or _("[red]firing[/]")
            alerts.add_row(a["name"], a["severity"], labels, a["condition"], f"{a['value']:g}",
                           _minute(a["fired_at"]), _minute(resolved))  # fmt: skip
        console.print(alerts)
    if report["expectations"]:
        expect = Table(title=_("Expectations"))
        for column in (_("expectation"), _("expected"), _("measured"), _("verdict")):
            expect.add_column(column)
        for e in report["expectations"]:
            expect.add_row(e["name"], str(e["expected"]), str(e["actual"]),
                           passed if e["verdict"] == "pass" else failed)  # fmt: skip
        console.print(expect)
    if report["externals"]:
        print_conformance(report["externals"], console, lang)
    print_verdict(report, console, lang)


def print_conformance(
    externals: list[dict[str, Any]], console: Console, lang: Language | None = None
) -> None:
    """Each external party: its verdict, its figures and every check that failed, with why."""
    lang = lang or language("en")
    _ = lang._
    externals = localized({"externals": externals}, lang)["externals"]
    table = Table(title=_("Conformance of the external parties"))
    for column in (_("party"), _("role"), _("verdict"), _("figures"), _("why")):
        table.add_column(column)
    for x in externals:
        figures = ", ".join(f"{k} {v}" for k, v in x.items()
                            if isinstance(v, int) and not isinstance(v, bool))  # fmt: skip
        colour = "green" if x["verdict"] == "conform" else "red"
        verdict = _("conform") if x["verdict"] == "conform" else _("not conform")
        why = [f"{c['name']}: {r}" for c in x["checks"] for r in c["reasons"]]
        table.add_row(x["party"], x["role"], f"[{colour}]{verdict}[/]", figures,
                      "\n".join(why) or "-")  # fmt: skip
    console.print(table)


def print_verdict(report: dict[str, Any], console: Console, lang: Language | None = None) -> None:
    """The verdict line, after the failed checks and what made a run incomplete, with their
    messages in ``lang``."""
    lang = lang or language("en")
    _ = lang._
    for check in localized(report, lang)["checks"]:
        if not check["passed"]:
            console.print(f"[red]✗[/] {check['name']}: {check['message']}")
    colour = {"pass": "green", "incomplete": "yellow"}.get(report["verdict"], "red")
    word = {"pass": _("pass"), "incomplete": _("incomplete")}.get(report["verdict"], _("fail"))
    console.print(_("verdict: [{colour}]{verdict}[/] (exit {code})  journal digest {digest}",
                    colour=colour, verdict=word, code=report["exit_code"],
                    digest=report["digest"]))  # fmt: skip


def _minute(moment: str) -> str:
    """An ISO time to the minute, as the tables show it (other text unchanged)."""
    return moment[:16].replace("T", " ") if moment[:4].isdigit() else moment


def _h(value: float | None, lang: Language | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} h" if lang is None or lang.code == "en" else f"{lang.decimal(value)} h"


def write_html(report: dict[str, Any], path: Path | str, lang: Language | None = None) -> None:
    """One page, no external resource, in ``lang`` (English by default): the data as JSON in
    the page (its words localized), Chart.js and its annotation plugin inlined, charts drawn
    by the page's script on canvases (each chart marks itself data-rendered="yes" with its
    axes' titles; a chart without data says so instead, data-rendered="empty")."""
    lang = lang or language("en")
    data = in_script(localized(report, lang))
    title = html.escape(lang._("noemie-sim: {scenario}", scenario=report["scenario"]))
    here = resources.files("noemie_sim.scenarios.reports")
    page = (here / "report_page.html").read_text("utf-8")
    # one pass over the page: a placeholder inside inserted text is never replaced again
    parts = {
        "__LANG__": lang.code,
        "__TITLE__": title,
        "__DATA__": data,
        "__MESSAGES__": in_script(chart_messages(lang)),
        "__CHARTJS__": (here / "assets" / "chart.umd.min.js").read_text("utf-8"),
        "__ANNOTATION__": (here / "assets" / "chartjs-plugin-annotation.min.js").read_text("utf-8"),
        "__CHARTS__": _chart_script(),
    }
    _write(path, re.sub("|".join(parts), lambda m: parts[m.group(0)], page))


@functools.cache
def _chart_script() -> str:
    """report_charts.js, which draws the report's charts and tables."""
    here = resources.files("noemie_sim.scenarios.reports")
    return (here / "assets" / "report_charts.js").read_text("utf-8")


@functools.cache
def chart_messages(lang: Language) -> dict[str, str]:
    """The words of the report's script (``rt("...")`` in report_charts.js) in ``lang``, as
    the page gives them to it (``window.MESSAGES``): report.html and the live page's report."""
    return {m: lang._(m) for m in script_messages(_chart_script())}


def in_script(value: Any) -> str:
    """``value`` as JSON inside an HTML script element (no "</" may close it)."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")
