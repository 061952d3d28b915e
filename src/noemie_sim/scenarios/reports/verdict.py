"""A run's verdict: computed here and nowhere else, from the report's parts, which are pure
functions of the run folder (its journal and manifest).

Every check becomes one entry of ``checks`` (and one JUnit test case): the run's completeness,
each SLA, each expectation, and each check of each external party. A run stopped before the
scenario's end (Ctrl-C, SIGTERM, ``POST /api/stop``; ``run``, ``demo`` or ``serve`` alike) is
shown as judged up to then: its SLAs (what is still pending is no breach) and its external
parties, but not the scenario's expectations, which are about its whole course (they are
listed as skipped); its outcome is ``incomplete`` all the same, since a vendor's CI gates on
the exit code and a part of a run proves nothing of the rest. The outcome is

* ``incomplete`` (exit 3) when the run did not end with a sealed, intact journal, or stopped
  before its end: what it shows is partial, never a pass;
* ``fail`` (exit 1) when any check failed;
* ``pass`` (exit 0) otherwise.

The terminal summary, ``report``, report.json, report.xml and report.html all show
``verdict`` and ``checks`` as computed here; the exit code of ``run``, ``demo``, ``serve`` and
``report`` is :data:`EXIT_CODES` of the outcome.
"""

from __future__ import annotations

from typing import Any

#: Exit code of each outcome (README, ``--help``): 2 is bad input, decided before any verdict.
EXIT_CODES = {"pass": 0, "fail": 1, "incomplete": 3}


def _check(
    group: str, name: str, passed: bool, description: str, message: str, skipped: bool = False
) -> dict[str, Any]:
    return {
        "group": group,
        "name": name,
        "passed": passed,
        "skipped": skipped,
        "description": description,
        "message": message,
    }


def decide(
    run: dict[str, Any],
    sla: list[dict[str, Any]],
    expectations: list[dict[str, Any]],
    externals: list[dict[str, Any]],
) -> dict[str, Any]:
    """The verdict of a run: ``verdict`` (pass, fail, incomplete), ``exit_code``, ``checks``
    (every check, in report order) and ``failed`` (the names of the failed ones).

    ``run`` is the completeness of the run folder: ``state`` (complete, incomplete,
    tampered), ``problems``, ``reached_end`` (False for a run stopped before its end)."""
    checks = []
    complete = run["state"] == "complete"
    stopped_early = complete and not run.get("reached_end", True)
    if not complete:
        why = "; ".join(run["problems"]) or run["state"]
    elif stopped_early:
        why = (f"stopped at {run.get('ended_at')} before the scenario's end: the checks below "
               "are judged up to then, and a part of a run is never a pass")  # fmt: skip
    else:
        why = "the run ended and its journal matches its signed manifest"
    incomplete = not complete or stopped_early
    checks.append(_check("run", "run.complete", not incomplete,
                         "the run ended and its journal is intact", why))  # fmt: skip
    for s in sla:
        message = (
            f"{s['breaches']} of {s['count']} beyond {s['limit']}"
            if s["verdict"] != "pass"
            else f"{s['done']}/{s['count']} done within {s['limit']}, {s['pending']} pending"
        )
        checks.append(_check("sla", f"sla.{s['name']}", s["verdict"] == "pass",
                             f"delay of {s['name']} within {s['limit']}", message))  # fmt: skip
    for e in expectations:
        measured = f"expected {e['expected']}, measured {e['actual']}"
        if stopped_early:
            # the scenario's figures are about its whole course: not judged on part of it
            checks.append(_check("expect", f"expect.{e['name']}", True, e["description"],
                                 f"not judged: the run stopped before its end ({measured})",
                                 skipped=True))  # fmt: skip
            continue
        checks.append(_check("expect", f"expect.{e['name']}", e["verdict"] == "pass",
                             e["description"], measured))  # fmt: skip
    for x in externals:
        for c in x["checks"]:
            message = "; ".join(c["reasons"]) if c["reasons"] else "conform"
            checks.append(_check("conformance", f"conformance.{x['party']}.{c['name']}",
                                 c["passed"], f"{x['role']} {x['party']}: {c['description']}",
                                 message))  # fmt: skip
    failed = [c["name"] for c in checks if not c["passed"]]
    outcome = "incomplete" if incomplete else "fail" if failed else "pass"
    return {"verdict": outcome, "exit_code": EXIT_CODES[outcome], "checks": checks,
            "failed": failed}  # fmt: skip
