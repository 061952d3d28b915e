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

from ..i18n import english, said

#: Exit code of each outcome (README, ``--help``): 2 is bad input, decided before any verdict.
EXIT_CODES = {"pass": 0, "fail": 1, "incomplete": 3}


def _check(
    group: str,
    name: str,
    passed: bool,
    description: dict[str, Any],
    message: list[dict[str, Any]],
    skipped: bool = False,
) -> dict[str, Any]:
    """One check: its ``description`` and ``message`` in English (JUnit and every tool read
    them), and the same words under ``said`` (:func:`~noemie_sim.scenarios.i18n.said`
    messages; the message's parts are joined by "; ") for a reader of another language."""
    return {
        "group": group,
        "name": name,
        "passed": passed,
        "skipped": skipped,
        "description": english(description),
        "message": "; ".join(english(m) for m in message),
        "said": {"description": description, "message": message},
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
        # the journal's own findings (sim's words, as `verify` prints them)
        why = [said("{problem}", problem=p) for p in run["problems"]] or [
            said("{problem}", problem=run["state"])
        ]
    elif stopped_early:
        why = [said("stopped at {moment} before the scenario's end: the checks below are "
                    "judged up to then, and a part of a run is never a pass",
                    moment=str(run.get("ended_at")))]  # fmt: skip
    else:
        why = [said("the run ended and its journal matches its signed manifest")]
    incomplete = not complete or stopped_early
    checks.append(_check("run", "run.complete", not incomplete,
                         said("the run ended and its journal is intact"), why))  # fmt: skip
    for s in sla:
        message = (
            said("{breaches} of {count} beyond {limit}", breaches=s["breaches"],
                 count=s["count"], limit=s["limit"])
            if s["verdict"] != "pass"
            else said("{done}/{count} done within {limit}, {pending} pending", done=s["done"],
                      count=s["count"], limit=s["limit"], pending=s["pending"])
        )  # fmt: skip
        checks.append(_check("sla", f"sla.{s['name']}", s["verdict"] == "pass",
                             said("delay of {flow} within {limit}", flow=s["name"],
                                  limit=s["limit"]), [message]))  # fmt: skip
    for e in expectations:
        values = {"expected": str(e["expected"]), "actual": str(e["actual"])}
        description = said(e["description"])
        if stopped_early:
            # the scenario's figures are about its whole course: not judged on part of it
            checks.append(_check("expect", f"expect.{e['name']}", True, description,
                                 [said("not judged: the run stopped before its end (expected "
                                       "{expected}, measured {actual})", **values)],
                                 skipped=True))  # fmt: skip
            continue
        checks.append(_check("expect", f"expect.{e['name']}", e["verdict"] == "pass",
                             description, [said("expected {expected}, measured {actual}",
                                                **values)]))  # fmt: skip
    for x in externals:
        for c in x["checks"]:
            words = c["said"]
            checks.append(_check("conformance", f"conformance.{x['party']}.{c['name']}",
                                 c["passed"], said("{role} {party}: {check}", role=x["role"],
                                                   party=x["party"],
                                                   check=words["description"]),
                                 words["reasons"] or [said("conform")]))  # fmt: skip
    failed = [c["name"] for c in checks if not c["passed"]]
    outcome = "incomplete" if incomplete else "fail" if failed else "pass"
    return {"verdict": outcome, "exit_code": EXIT_CODES[outcome], "checks": checks,
            "failed": failed}  # fmt: skip
