"""``noemie-sim campaign``: many seeded runs of a scenario with random faults, judged on the
invariants, each failing run shrunk to a repro scenario (:mod:`noemie_sim.scenarios.campaign`).

Exit codes: 0 every run holds every invariant, 1 a run failed one (named, with its repro
file), 2 bad input (the scenario, the faults file, an option), 3 the campaign was interrupted
or a run did not end (Ctrl-C, SIGTERM): never a pass.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console

from noemie_sim.scenarios import campaign
from noemie_sim.scenarios.campaign import (
    EXTERNAL_INVARIANTS,
    INVARIANTS,
    CampaignError,
    CampaignSpec,
    External,
    RunOutcome,
    describe,
)
from noemie_sim.scenarios.shards import Finished
from noemie_sim.sim.journal import write_atomically

from . import sharded
from .common import H_, UsageError
from .runs import find_scenario, key_pool, make_console

REPORT = "campaign.json"
FORMAT = "noemie-sim campaign 1"
MAX_RUNS = 10_000


def _spec(args: argparse.Namespace) -> CampaignSpec:
    if not 1 <= args.runs <= MAX_RUNS:
        raise UsageError(f"--runs: from 1 to {MAX_RUNS}, not {args.runs}")
    if args.shrink_limit < 0:
        raise UsageError(f"--shrink-limit: 0 or more, not {args.shrink_limit}")
    overrides = {"scale": args.scale} if args.scale is not None else None
    scenario = find_scenario(args.scenario, overrides)
    if scenario.shard_by:
        raise UsageError(f"{scenario.name} is sharded by caisse: a campaign plays one network "
                         "per run, and sharded scenarios take no faults yet")  # fmt: skip
    if args.faults == "random":
        plan = campaign.random_plan(scenario)
    elif args.faults == "none":
        plan = campaign.NO_FAULTS
    else:
        try:
            plan = campaign.load_plan(Path(args.faults))
        except CampaignError as exc:
            raise UsageError(str(exc)) from None
    external = _external(args)
    folder = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="noemie-sim-campaign-"))
    if (folder / REPORT).exists():
        raise UsageError(f"{folder} already holds a campaign: choose another --out")
    seed = args.seed if args.seed is not None else scenario.config.seed
    spec = CampaignSpec(scenario, args.runs, seed, plan, folder, key_pool().folder,
                        args.strict_sla, args.scale, args.faults, external)  # fmt: skip
    try:  # the faults' targets must exist in the network: said before any run
        campaign.check_targets(spec)
    except CampaignError as exc:
        raise UsageError(str(exc)) from None
    return spec


def _external(args: argparse.Namespace) -> External | None:
    """The role left to a real system (--external ROLE --command CMD), or None."""
    if bool(args.external) != bool(args.external_command):
        raise UsageError("--external and --command go together: the party left to your "
                         "system, and the command that plays it in each run")  # fmt: skip
    if not args.external:
        return None
    if args.external not in CAMPAIGN_ROLES:
        raise UsageError(f"--external: a role ({', '.join(CAMPAIGN_ROLES)}): each run has its "
                         f"own parties, so an id means nothing across runs, not "
                         f"{args.external!r}")  # fmt: skip
    return External(args.external, args.external_command)


#: The roles a command can play in a campaign (a caisse's SFTP server would have to start
#: with each run).
CAMPAIGN_ROLES = ("ps", "oc", "employer")


def _line(outcome: RunOutcome, runs: int) -> str:
    faults = "; ".join(describe(f) for f in outcome.faults) or "no fault"
    digest = (outcome.digest or "-")[:16]
    if outcome.passed:
        verdict = "[green]pass[/]"
    else:
        first = outcome.failed[0]
        verdict = f"[red]FAIL[/] {', '.join(outcome.failed)} ({outcome.messages.get(first, '')})"
    return (f"run {outcome.index}/{runs} seed {outcome.seed}: {verdict}  digest {digest}  "
            f"faults: {faults}")  # fmt: skip


def cmd_campaign(args: argparse.Namespace) -> int:
    if args.address and args.engine != "ray":
        raise UsageError("--address: for a Ray cluster, with --engine ray")
    if args.engine == "ray" and args.workers is not None:
        raise UsageError("--workers: with --engine ray, the cluster's CPUs are the workers")
    spec = _spec(args)
    engine = sharded.engine_of(args)
    console = make_console()
    kinds = ", ".join(sorted({r.kind for r in spec.plan.rules})) or "none"
    low, high = spec.plan.per_run
    console.print(
        f"campaign of [bold]{spec.scenario.name}[/]: {spec.runs} runs from seed {spec.seed}, "
        f"faults {spec.faults_label} ({low}-{high} a run of: {kinds}), on {engine.workers} "
        f"{engine.name} worker(s), in {spec.folder}", soft_wrap=True,
    )  # fmt: skip
    outcomes: dict[int, RunOutcome] = {}
    unfinished: dict[str, str] = {}
    asked: list[int] = []
    try:
        with sharded.stop_on_signals(engine, console, "run", asked):
            for result in campaign.run_all(spec, engine):
                if isinstance(result, Finished):
                    unfinished[result.key] = result.error or "did not end"
                    continue
                outcomes[result.index] = result
                console.print(_line(result, spec.runs), soft_wrap=True)
    finally:
        engine.close()
    interrupted = bool(asked) or bool(unfinished)
    repros: dict[int, dict[str, Any]] = {}
    failed = [o for _, o in sorted(outcomes.items()) if not o.passed]
    if failed and not interrupted and args.shrink_limit:
        try:
            repros = _shrink_all(spec, failed, args.shrink_limit, console)
        except KeyboardInterrupt:
            console.print("interrupted while shrinking: the repro files written so far stay")
            interrupted = True
    summary = _summary(spec, engine, outcomes, unfinished, repros, interrupted)
    write_atomically(spec.folder / REPORT, json.dumps(summary, indent=1).encode())
    (spec.folder / "campaign.html").write_text(_html(summary), encoding="utf-8")
    _print_summary(summary, console)
    return int(summary["exit_code"])


def _shrink_all(
    spec: CampaignSpec, failed: list[RunOutcome], limit: int, console: Console
) -> dict[int, dict[str, Any]]:
    """Shrink each failed run and write its repro file; per run, the repro's path, check and
    faults."""
    repros: dict[int, dict[str, Any]] = {}
    (spec.folder / "repro").mkdir(parents=True, exist_ok=True)
    jobs = {job.index: job for job in campaign.jobs(spec)}
    for outcome in failed:
        console.print(f"shrinking run {outcome.index} ({len(outcome.faults)} faults, "
                      f"fails {outcome.failed[0]})")  # fmt: skip

        def told(n: int, faults: list[dict[str, Any]], fails: bool) -> None:
            said = "still fails" if fails else "passes"
            console.print(f"  trial {n}: {len(faults)} fault(s): {said}")

        shrunk = campaign.shrink(jobs[outcome.index], outcome, spec.scenario, limit=limit,
                                 on_trial=told)  # fmt: skip
        path = spec.folder / "repro" / f"run-{outcome.index:03d}.toml"
        path.write_text(campaign.repro_source(spec, outcome, shrunk), encoding="utf-8")
        console.print(f"  repro: {path} ({len(shrunk.faults)} fault(s), fails "
                      f"{shrunk.check}): noemie-sim run {path}", soft_wrap=True)  # fmt: skip
        repros[outcome.index] = {"file": str(path), "check": shrunk.check,
                                 "faults": shrunk.faults, "trials": shrunk.trials}  # fmt: skip
    return repros


def _summary(
    spec: CampaignSpec, engine: Any, outcomes: dict[int, RunOutcome],
    unfinished: dict[str, str], repros: dict[int, dict[str, Any]], interrupted: bool,
) -> dict[str, Any]:  # fmt: skip
    ordered = [outcomes[i] for i in sorted(outcomes)]
    failures = [o for o in ordered if not o.passed]
    incomplete = interrupted or len(ordered) < spec.runs
    verdict = "incomplete" if incomplete else "fail" if failures else "pass"
    kinds_in_runs = Counter(k for o in ordered for k in {f["kind"] for f in o.faults})
    kinds_in_failures = Counter(k for o in failures for k in {f["kind"] for f in o.faults})
    return {
        "format": FORMAT,
        "scenario": spec.scenario.name,
        "seed": spec.seed,
        "runs": spec.runs,
        "scale": spec.scale,
        "faults": spec.faults_label,
        "strict_sla": spec.strict_sla,
        "engine": engine.name,
        "workers": engine.workers,
        "state": "incomplete" if incomplete else "ended",
        "verdict": verdict,
        "exit_code": {"pass": 0, "fail": 1, "incomplete": 3}[verdict],
        "digest": campaign.campaign_digest(ordered) if not incomplete else None,
        "invariants": {**INVARIANTS, **(EXTERNAL_INVARIANTS if spec.external else {})},
        "external": dataclasses.asdict(spec.external) if spec.external else None,
        "passed": sum(1 for o in ordered if o.passed),
        "failed": len(failures),
        "not_finished": unfinished,
        "failed_by_invariant": dict(Counter(name for o in failures for name in o.failed)),
        "fault_kinds": {
            k: {"runs": n, "failed": kinds_in_failures.get(k, 0)}
            for k, n in sorted(kinds_in_runs.items())
        },
        "results": [
            {
                "run": o.index,
                "seed": o.seed,
                "faults": o.faults,
                "verdict": "pass" if o.passed else "fail",
                "digest": o.digest,
                "failed": o.failed,
                "messages": o.messages,
                "folder": o.folder,
                "repro": repros.get(o.index),
                "sla": o.sla,
                "counts": o.counts,
                "wall_seconds": round(o.wall_seconds, 3),
            }
            for o in ordered
        ],
    }


def _print_summary(summary: dict[str, Any], console: Console) -> None:
    colour = {"pass": "green", "fail": "red"}.get(summary["verdict"], "yellow")
    console.print(f"{summary['passed']} of {summary['runs']} runs passed, "
                  f"{summary['failed']} failed")  # fmt: skip
    for name, count in sorted(summary["failed_by_invariant"].items()):
        console.print(f"  failed: {name} in {count} run(s)")
    for run, why in summary["not_finished"].items():
        console.print(f"  {run}: {why}")
    for result in summary["results"]:
        if result["repro"]:
            console.print(f"  run {result['run']}: repro {result['repro']['file']}",
                          soft_wrap=True)  # fmt: skip
    digest = summary["digest"] or "none (incomplete)"
    console.print(f"verdict: [{colour}]{summary['verdict']}[/] (exit {summary['exit_code']})  "
                  f"campaign digest {digest}")  # fmt: skip


#: The campaign page's style (a projector or a laptop: 16 px, no script).
STYLE = """
body { font: 16px system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
td.ok { color: #1a7f37; text-align: center; }
td.ko { color: #fff; background: #cf222e; text-align: center; }
.pass { color: #1a7f37; } .fail { color: #cf222e; } .incomplete { color: #9a6700; }
"""


def _html(summary: dict[str, Any]) -> str:
    """The campaign as one page: runs × invariants, and the faults that failed most."""
    e = html.escape
    seen = {n for r in summary["results"] for n in r["failed"]}
    names = list(INVARIANTS) + sorted(seen - set(INVARIANTS))
    head = "".join(f'<th title="{e(INVARIANTS.get(n) or n)}">{e(n)}</th>' for n in names)
    rows = []
    for r in summary["results"]:
        cells = []
        for n in names:
            ko = n in r["failed"]
            why = e(r["messages"].get(n, ""))
            cells.append(f'<td class="{"ko" if ko else "ok"}" title="{why}">'
                         f'{"✗" if ko else "✓"}</td>')  # fmt: skip
        faults = "<br>".join(e(describe(f)) for f in r["faults"]) or "no fault"
        repro = e(r["repro"]["file"]) if r["repro"] else ""
        digest = e(str(r["digest"] or "")[:16])
        rows.append(f"<tr><td>{r['run']}</td><td>{r['seed']}</td><td>{faults}</td>"
                    f"{''.join(cells)}<td><code>{digest}</code></td>"
                    f"<td>{repro}</td></tr>")  # fmt: skip
    kinds = sorted(summary["fault_kinds"].items(), key=lambda kv: (-kv[1]["failed"], kv[0]))
    kind_rows = "".join(f"<tr><td>{e(k)}</td><td>{v['runs']}</td><td>{v['failed']}</td></tr>"
                        for k, v in kinds)  # fmt: skip
    name, verdict = e(summary["scenario"]), e(summary["verdict"])
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>noemie-sim campaign of {name}</title><style>{STYLE}</style></head><body>\n"
        f'<h1>Campaign of {name}: <span class="{verdict}">{verdict}</span></h1>\n'
        f"<p>{summary['runs']} runs from seed {summary['seed']}, faults "
        f"{e(str(summary['faults']))}; {summary['passed']} passed, {summary['failed']} failed. "
        f"Campaign digest <code>{e(str(summary['digest']))}</code>.</p>\n"
        f"<h2>Runs × invariants</h2>\n<table><tr><th>run</th><th>seed</th><th>faults</th>"
        f"{head}<th>digest</th><th>repro</th></tr>\n{''.join(rows)}</table>\n"
        f"<h2>Faults that failed most</h2>\n<table><tr><th>kind</th><th>runs with it</th>"
        f"<th>failed runs with it</th></tr>{kind_rows}</table>\n</body></html>\n"
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "campaign",
        help=H_("many seeded runs with random faults, judged on invariants, failures shrunk"),
        description="Play SCENARIO --runs times, each run with its own seed (derived from "
        "--seed) and faults drawn at random (--faults), and judge every run on what must hold "
        "whatever the faults: the harness did not fail, the run ended and its journal "
        "verifies, no file lost, no invoice paid twice, money reconciled, every emitted file "
        "valid (SLAs are measured; they fail a run only with --strict-sla). Each failing run "
        "is shrunk to the fewest and shortest faults that still fail it, written as a "
        "scenario in DIR/repro/ that 'noemie-sim run' plays to the same failure. Writes "
        "DIR/campaign.json and DIR/campaign.html. Exit 0 every run passed, 1 one failed, 2 "
        "bad input, 3 interrupted. See docs/campaign.md.",
        epilog="example: noemie-sim campaign nominal-week --runs 50 --seed 7 --out camp",
    )
    parser.add_argument("scenario", metavar="SCENARIO")
    parser.add_argument("--runs", type=int, required=True, metavar="N", help="how many runs")
    parser.add_argument("--seed", type=int, metavar="S",
                        help="the campaign's seed (default: the scenario's)")  # fmt: skip
    parser.add_argument("--scale", type=float, help="replace the scenario's scale")
    parser.add_argument(
        "--faults", default="random", metavar="random|none|FILE",
        help="what each run draws: random (1 to 3 faults of every kind a network recovers "
        "from, on any party), none, or a faults FILE (TOML: per_run and the kinds, targets and "
        "durations allowed; docs/campaign.md)",
    )  # fmt: skip
    parser.add_argument("--strict-sla", action="store_true",
                        help="an SLA breach fails a run too")  # fmt: skip
    parser.add_argument(
        "--shrink-limit", type=int, default=24, metavar="N",
        help="at most N trial runs to shrink each failed run (0: no shrinking; default 24)",
    )  # fmt: skip
    parser.add_argument("--out", metavar="DIR",
                        help="the campaign folder (default: a new temporary one)")  # fmt: skip
    parser.add_argument(
        "--external", metavar="WHO",
        help="leave a party (ps, oc or employer: the first of that role) to your system in every "
        "run: each run "
        "is served (serve --web --virtual) and --command started for it",
    )  # fmt: skip
    parser.add_argument(
        "--command", metavar="CMD", dest="external_command",
        help="with --external: the shell command that plays the party in each run, started "
        "in this folder once the party's kit is ready, with NOEMIE_SIM_API, "
        "NOEMIE_SIM_KIT, NOEMIE_SIM_RUN and NOEMIE_SIM_PARTY in its environment; when it "
        "exits, the run is taken to its end and judged (its conformance checks too)",
    )  # fmt: skip
    # on a remote Ray cluster, the campaign folder must be on a path every node sees
    sharded.add_arguments(parser, "the runs", shared_folder=False)
    parser.set_defaults(handler=cmd_campaign)
