"""A run's report in four forms: terminal tables, JSON, JUnit XML and one self-contained HTML
page whose charts are drawn by Chart.js, inlined in the page (it opens offline as one file;
assets/README.md says where the library comes from).

All four are written from the report dictionary of :func:`noemie_sim.scenarios.runner.report`
(its JSON form is the documented, stable one: docs/scenarios.md).
"""

from __future__ import annotations

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


def print_terminal(report: dict[str, Any], console: Console) -> None:
    """The report as tables: flows, SLA verdicts, rejects by code, money, expectations."""
    counts = report["counts"]
    flows = Table(title=f"{report['scenario']}: what moved", show_header=True)
    for column in ("files", "lots", "invoices", "décomptes", "IJ", "events"):
        flows.add_column(column, justify="right")
    flows.add_row(*(str(counts[k]) for k in ("files", "lots", "invoices", "decomptes", "ij",
                                              "events")))  # fmt: skip
    console.print(flows)
    sla = Table(title="Delays (simulated time)")
    for column in ("flow", "limit", "done", "p50", "p95", "max", "breaches", "pending", "verdict"):
        sla.add_column(column, justify="right" if column not in ("flow", "verdict") else "left")
    for s in report["sla"]:
        verdict = "[green]pass[/]" if s["verdict"] == "pass" else "[red]FAIL[/]"
        sla.add_row(
            s["name"], s["limit"], f"{s['done']}/{s['count']}", _h(s["p50_hours"]),
            _h(s["p95_hours"]), _h(s["max_hours"]), str(s["breaches"]), str(s["pending"]), verdict,
        )  # fmt: skip
    console.print(sla)
    rejects = Table(title="Rejects and refusals by code")
    for column in ("flow", "code", "count"):
        rejects.add_column(column, justify="right" if column == "count" else "left")
    for flow, label in (("amo", "caisse → PS"), ("arl", "ARL"), ("oc", "mutuelle"),
                        ("refused_files", "refused files")):  # fmt: skip
        for code, count in report["rejects"][flow].items():
            rejects.add_row(label, code, str(count))
    if rejects.row_count:
        console.print(rejects)
    money = report["money"]
    cash = Table(title="Money (reconciled per invoice)")
    for column in ("billed", "AMO", "mutuelles", "patients", "late penalties", "automation"):
        cash.add_column(column, justify="right")
    rate = report["automation_rate"]
    cash.add_row(euros(money["billed"]), euros(money["amo"]), euros(money["oc"]),
                 euros(money["patient"]), euros(money["penalties"]),
                 "-" if rate is None else f"{rate:.1%}")  # fmt: skip
    console.print(cash)
    if report.get("alerts"):
        alerts = Table(title="Alerts (simulated time)")
        for column in ("alert", "severity", "labels", "condition", "value", "fired", "resolved"):
            alerts.add_column(column)
        for a in report["alerts"]:
            labels = " ".join(f"{k}={v}" for k, v in a["labels"].items())
            resolved = a["resolved_at"] or "[red]firing[/]"
            alerts.add_row(a["name"], a["severity"], labels, a["condition"], f"{a['value']:g}",
                           _minute(a["fired_at"]), _minute(resolved))  # fmt: skip
        console.print(alerts)
    if report["expectations"]:
        expect = Table(title="Expectations")
        for column in ("expectation", "expected", "measured", "verdict"):
            expect.add_column(column)
        for e in report["expectations"]:
            verdict = "[green]pass[/]" if e["verdict"] == "pass" else "[red]FAIL[/]"
            expect.add_row(e["name"], str(e["expected"]), str(e["actual"]), verdict)
        console.print(expect)
    if report["externals"]:
        print_conformance(report["externals"], console)
    print_verdict(report, console)


def print_conformance(externals: list[dict[str, Any]], console: Console) -> None:
    """Each external party: its verdict, its figures and every check that failed, with why."""
    table = Table(title="Conformance of the external parties")
    for column in ("party", "role", "verdict", "figures", "why"):
        table.add_column(column)
    for x in externals:
        figures = ", ".join(f"{k} {v}" for k, v in x.items()
                            if isinstance(v, int) and not isinstance(v, bool))  # fmt: skip
        colour = "green" if x["verdict"] == "conform" else "red"
        why = [f"{c['name']}: {r}" for c in x["checks"] for r in c["reasons"]]
        table.add_row(x["party"], x["role"], f"[{colour}]{x['verdict']}[/]", figures,
                      "\n".join(why) or "-")  # fmt: skip
    console.print(table)


def print_verdict(report: dict[str, Any], console: Console) -> None:
    """The verdict line, after the failed checks and what made a run incomplete."""
    for check in report["checks"]:
        if not check["passed"]:
            console.print(f"[red]✗[/] {check['name']}: {check['message']}")
    colour = {"pass": "green", "incomplete": "yellow"}.get(report["verdict"], "red")
    console.print(f"verdict: [{colour}]{report['verdict']}[/] (exit {report['exit_code']})  "
                  f"journal digest {report['digest']}")  # fmt: skip


def _minute(moment: str) -> str:
    """An ISO time to the minute, as the tables show it (other text unchanged)."""
    return moment[:16].replace("T", " ") if moment[:4].isdigit() else moment


def _h(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} h"


def write_html(report: dict[str, Any], path: Path | str) -> None:
    """One page, no external resource: the data as JSON in the page, Chart.js and its
    annotation plugin inlined, charts drawn by the page's script on canvases (each chart marks
    itself data-rendered="yes" with its axes' titles; a chart without data says so instead,
    data-rendered="empty")."""
    data = json.dumps(report, ensure_ascii=False).replace("</", "<\\/")
    title = html.escape(f"noemie-sim: {report['scenario']}")
    here = resources.files("noemie_sim.scenarios.reports")
    page = (here / "report_page.html").read_text("utf-8")
    # one pass over the page: a placeholder inside inserted text is never replaced again
    parts = {
        "__TITLE__": title,
        "__DATA__": data,
        "__CHARTJS__": (here / "assets" / "chart.umd.min.js").read_text("utf-8"),
        "__ANNOTATION__": (here / "assets" / "chartjs-plugin-annotation.min.js").read_text("utf-8"),
        "__CHARTS__": (here / "assets" / "report_charts.js").read_text("utf-8"),
    }
    _write(path, re.sub("|".join(parts), lambda m: parts[m.group(0)], page))
