"""A fault campaign: many seeded runs of one scenario, each with faults drawn at random, judged
on what must hold whatever the faults; each failing run shrunk to the smallest scenario that
still fails the same way.

Every run of a campaign is an ordinary scenario (:func:`run_source`): the campaign's scenario
with the run's seed, its drawn faults appended to its own ``[[faults]]`` and its
``[expect]`` replaced by the invariants that are expectations. So a run's faults are in its
journal like any scenario's, ``replay`` replays it, and the repro file of a failure is that
scenario with the fewest faults (:func:`shrink`), which ``noemie-sim run`` plays to the same
failed check.

The invariants (:data:`INVARIANTS`) are named as the checks of a run's verdict, so that a
campaign and ``run`` speak of a failure in the same words. The scenario's own ``[expect]`` is
about its nominal course and is not judged; SLAs are measured and reported per run and fail
it only when the campaign is strict (faults are expected to cost delay).

Determinism: the seed of run N is derived from the campaign's seed and N, its faults are drawn
from a generator derived from that seed, and every run is played on a virtual clock: the same
command gives the same runs, digests and repro files, on one worker or many. Runs go to the
engines sharded runs use (:mod:`.shards`: this process, a process pool, Ray), never to a
scheduler of ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import tomllib
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w

from noemie_sim.actors.network import Network, NetworkConfig
from noemie_sim.pki.authority import KeyPool
from noemie_sim.sim.clock import stopwatch
from noemie_sim.sim.journal import JournalError, check_run
from noemie_sim.sim.randomness import derived_seed, generator

from .runner import play, report
from .schema import (
    FAULT_DURATION_LIMITS,
    FAULT_KINDS,
    OFFSET_LIMITS,
    SLA_DEFAULTS,
    Scenario,
    ScenarioError,
    bounded,
    parse,
    parse_duration,
)
from .shards import PROGRESS_EVERY, Channel, Finished, NotStarted, Progress
from .vendors.external import party_roles, pick_externals

#: What every run of a campaign must hold, by the name of the check that judges it.
INVARIANTS = {
    "harness": "the harness played the run without failing",
    "run.complete": "the run reached its end and its journal is whole",
    "verify": "the journal, its signed checkpoints and manifest, and every archived file "
    "check out (as noemie-sim verify)",
    "expect.lost_files": "every file sent to a simulated party was received, once the faults "
    "were over",
    "expect.double_payments": "no invoice paid twice",
    "expect.amounts_reconciled": "AMO + OC + patient = billed, for every invoice",
    "expect.invalid_files": "every emitted file passes validate, but those a fault broke on "
    "purpose",
}
#: The invariants a run's scenario carries as expectations (so that ``run`` judges them too).
EXPECTED = {"lost_files": 0, "double_payments": 0, "amounts_reconciled": True, "invalid_files": 0}

#: Faults a network is built to recover from. ``revoke-certificate`` is not among them: a
#: revoked party is cut off for good, so its files are lost by design; a faults file can
#: list it to see what that costs.
RECOVERABLE = (
    "sftp-outage", "actor-down", "mutuelle-late", "corrupt-lot", "truncate-file",
    "duplicate-lot", "rebill-invoice", "clock-skew", "network-faults",
)  # fmt: skip
ROLE_PREFIX = {"cpam": "CPAM", "ps": "PS", "oc": "OC", "employer": "EMP"}
#: A fault falls on a jour ouvré of the run (not its settling days), between these hours.
HOURS = (7, 20)


class CampaignError(ValueError):
    """A campaign that cannot be run as asked (a faults file, a scenario): says where and
    what (exit 2)."""


@dataclass(frozen=True)
class FaultRule:
    """A kind of fault a campaign may draw: on one of ``targets`` (parties as a scenario
    names them: an id, or ROLE-N; empty: any party of the role the kind targets), lasting
    between ``duration`` seconds (lasting kinds), a clock off by ``offset`` seconds
    (clock-skew), cutting ``cut_rate`` of the connections (network-faults)."""

    kind: str
    targets: tuple[str, ...] = ()
    duration: tuple[float, float] = (1800.0, 6 * 3600.0)
    offset: tuple[float, float] = (300.0, 2 * 3600.0)
    cut_rate: tuple[float, float] = (0.1, 0.5)


@dataclass(frozen=True)
class FaultPlan:
    """What a campaign draws for each run: between ``per_run`` faults, each of a rule."""

    rules: tuple[FaultRule, ...]
    per_run: tuple[int, int] = (1, 3)


def random_plan(scenario: Scenario) -> FaultPlan:
    """``--faults random``: every recoverable kind the scenario's network can take (network
    faults need the SFTP transport)."""
    kinds = [k for k in RECOVERABLE
             if k != "network-faults" or scenario.config.transport == "sftp"]  # fmt: skip
    return FaultPlan(tuple(FaultRule(k) for k in kinds))


NO_FAULTS = FaultPlan((), (0, 0))


def load_plan(path: Path) -> FaultPlan:
    """A faults file (TOML, docs/campaign.md): ``per_run = [MIN, MAX]`` and one ``[[faults]]``
    table per kind that may be drawn, with its optional ``targets``, ``duration``,
    ``offset`` (``["MIN", "MAX"]`` durations) and ``cut_rate`` (``[MIN, MAX]``).
    CampaignError naming the file and key for anything else."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignError(f"{path}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CampaignError(f"{path}: not valid TOML ({exc})") from None

    def bad(key: str, expected: str, found: object) -> CampaignError:
        return CampaignError(f"{path.name}: {key}: expected {expected}, found {found!r}")

    unknown = set(data) - {"per_run", "faults"}
    if unknown:
        raise bad(sorted(unknown)[0], "per_run or [[faults]]", sorted(unknown)[0])
    per_run = data.get("per_run", [1, 3])
    if (not isinstance(per_run, list) or len(per_run) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in per_run)
            or not 0 <= per_run[0] <= per_run[1] <= 20):  # fmt: skip
        raise bad("per_run", "[MIN, MAX] faults per run, 0 <= MIN <= MAX <= 20", per_run)
    tables = data.get("faults", [])
    if not isinstance(tables, list) or (per_run[1] and not tables):
        raise bad("faults", "one [[faults]] table or more (kind = ...)", tables)
    rules = []
    for n, table in enumerate(tables, start=1):
        where = f"faults[{n}]"
        if not isinstance(table, dict):
            raise bad(where, "a table", table)
        extra = set(table) - {"kind", "targets", "duration", "offset", "cut_rate"}
        if extra:
            raise bad(f"{where}.{sorted(extra)[0]}", "kind, targets, duration, offset or "
                      "cut_rate", sorted(extra)[0])  # fmt: skip
        kind = table.get("kind")
        if kind not in FAULT_KINDS:
            raise bad(f"{where}.kind", f"one of {', '.join(FAULT_KINDS)}", kind)
        targets = table.get("targets", [])
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise bad(f"{where}.targets", 'a list of parties ("PS-1", "CPAM-1", an id)', targets)
        rule = FaultRule(str(kind), tuple(targets))
        if "duration" in table:
            span = _span(table["duration"], f"{where}.duration", FAULT_DURATION_LIMITS, bad)
            rule = dataclasses.replace(rule, duration=span)
        if "offset" in table:
            span = _span(table["offset"], f"{where}.offset", OFFSET_LIMITS, bad)
            rule = dataclasses.replace(rule, offset=span)
        if "cut_rate" in table:
            rates = table["cut_rate"]
            if (not isinstance(rates, list) or len(rates) != 2
                    or not all(isinstance(r, int | float) for r in rates)
                    or not 0 <= rates[0] <= rates[1] <= 0.9):  # fmt: skip
                raise bad(f"{where}.cut_rate", "[MIN, MAX] shares, 0 <= MIN <= MAX <= 0.9", rates)
            rule = dataclasses.replace(rule, cut_rate=(float(rates[0]), float(rates[1])))
        rules.append(rule)
    return FaultPlan(tuple(rules), (per_run[0], per_run[1]))


def _span(
    value: object, key: str, limits: tuple[float, float, int],
    bad: Callable[[str, str, object], CampaignError],
) -> tuple[float, float]:  # fmt: skip
    """``["30min", "4h"]`` as seconds, each within ``limits`` (calendar durations only)."""
    if not isinstance(value, list) or len(value) != 2:
        raise bad(key, '["MIN", "MAX"] durations like "30min", "4h"', value)
    try:
        low, high = (bounded(parse_duration(v, key), key, (limits[0], limits[1], 0)).seconds
                     for v in value)  # fmt: skip
    except ScenarioError as exc:
        raise bad(key, exc.expected, exc.found) from None
    if low > high:
        raise bad(key, "MIN no longer than MAX", value)
    return low, high


# -- drawing the runs -------------------------------------------------------------------------


def run_seed(campaign_seed: int, index: int) -> int:
    """The seed of run ``index`` (from 1) of the campaign of ``campaign_seed``."""
    return derived_seed(campaign_seed, f"campaign run {index}") % 2**63


def party_names(config: NetworkConfig) -> dict[str, tuple[str, str]]:
    """Party id -> (role, ROLE-N name) of the network ``config`` builds (its population, built
    once here). N counts in the network's own order, which is the population's."""
    counts: dict[str, int] = {}
    names = {}
    for party, role in party_roles(config).items():
        counts[role] = counts.get(role, 0) + 1
        names[party] = (role, f"{ROLE_PREFIX[role]}-{counts[role]}")
    return names


def targets_by_role(config: NetworkConfig) -> dict[str, list[str]]:
    """ROLE-N names of the parties of the network ``config`` builds, by role."""
    return _by_role(party_names(config))


def _by_role(
    parties: dict[str, tuple[str, str]], external: str | None = None
) -> dict[str, list[str]]:
    """ROLE-N names by role, but the ``external`` party's (no fault of the simulation
    reaches it)."""
    names: dict[str, list[str]] = {}
    for party, (role, name) in parties.items():
        if party != external:
            names.setdefault(role, []).append(name)
    return names


def draw_faults(
    plan: FaultPlan, scenario: Scenario, seed: int, external: str | None = None
) -> list[dict[str, Any]]:
    """The faults of the run of ``seed``: between ``plan.per_run`` of them, each of a rule of
    the plan, on a jour ouvré of the run, in the order they happen, never on the
    ``external`` party (its id in that run). A fault is a scenario's ``[[faults]]`` table."""
    if not plan.rules or not plan.per_run[1]:
        return []
    rng = generator(seed, "campaign faults")
    parties = party_names(dataclasses.replace(scenario.config, seed=seed))
    roles = _by_role(parties, external)
    every = [t for names in roles.values() for t in names]
    # the external party by its id or its ROLE-N name in this run: what the simulation
    # cannot reach
    spared = {external, parties[external][1]} if external else set()
    drawn = []
    for _ in range(rng.randint(*plan.per_run)):
        rule = rng.choice(plan.rules)
        role, lasting, _ = FAULT_KINDS[rule.kind]
        named = [t for t in rule.targets if t not in spared]
        targets = named if rule.targets else every if role == "any" else roles.get(role, [])
        if not targets:
            continue  # no party of that role in this network, or only the external one
        day = rng.randint(1, scenario.config.jours_ouvres)
        minute = rng.randrange(HOURS[0] * 60, HOURS[1] * 60, 5)
        fault: dict[str, Any] = {
            "at": f"day {day} {minute // 60:02d}:{minute % 60:02d}",
            "kind": rule.kind,
            "target": rng.choice(targets),
        }
        if lasting:
            fault["duration"] = _minutes(rng.uniform(*rule.duration))
        if rule.kind == "clock-skew":
            fault["offset"] = _minutes(rng.uniform(*rule.offset))
        if rule.kind == "network-faults":
            fault["cut_rate"] = round(rng.uniform(*rule.cut_rate), 2)
            fault["latency"] = "0s"
        drawn.append(fault)
    return sorted(drawn, key=_when)


def _when(fault: dict[str, Any]) -> tuple[int, str]:
    day, clock = re.fullmatch(r"day (\d+) (\d\d:\d\d)", fault["at"]).groups()  # type: ignore[union-attr]
    return int(day), clock


def _minutes(seconds: float) -> str:
    return f"{max(1, round(seconds / 60))}min"


def describe(fault: dict[str, Any]) -> str:
    """One fault in a few words: ``sftp-outage CPAM-1 day 2 10:05 for 95min``."""
    text = f"{fault['kind']} {fault['target']} {fault['at']}"
    if "duration" in fault:
        text += f" for {fault['duration']}"
    if "offset" in fault:
        text += f" off by {fault['offset']}"
    if "cut_rate" in fault:
        text += f" cutting {fault['cut_rate']:.0%}"
    return text


def run_source(
    base: Scenario, seed: int, faults: list[dict[str, Any]], *, scale: float | None = None,
    sla: bool = True, note: str = "",
) -> str:  # fmt: skip
    """The scenario (TOML) of one run: ``base`` (at ``scale``, when given) with ``seed``, a
    virtual clock, ``faults`` after its own, and the invariants as its ``[expect]``. Its SLAs
    are those of ``base`` (measured); with ``sla`` False every flow is "off" (the repro of a
    campaign that does not judge SLAs). ``note`` heads the file as comments."""
    data = tomllib.loads(base.source)
    head = data.setdefault("scenario", {})
    head["seed"] = seed
    head.pop("clock", None)  # a campaign's runs are played on a virtual clock
    head.pop("speed", None)
    if scale is not None:
        head["scale"] = scale
    data["faults"] = [*data.get("faults", []), *faults]
    if not data["faults"]:
        del data["faults"]
    data["expect"] = dict(EXPECTED)
    if not sla:
        data["sla"] = {name: "off" for name in SLA_DEFAULTS}
    comments = "".join(f"# {line}".rstrip() + "\n" for line in note.splitlines())
    return comments + tomli_w.dumps(data)


# -- one run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOutcome:
    """A run of a campaign, judged: ``failed`` names the invariants it broke (empty: it
    passed); ``messages`` says why, by invariant; ``sla`` each flow's breaches and p95."""

    index: int
    seed: int
    faults: list[dict[str, Any]]
    folder: str
    digest: str | None
    failed: list[str]
    messages: dict[str, str] = field(default_factory=dict)
    sla: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class External:
    """A campaign against a real system: the first party of the role ``who`` (ps, oc,
    employer) is left to ``command``, a shell command started for each run
    (:func:`serve_and_judge`). Which party that is depends on the run's seed
    (:func:`external_party`)."""

    who: str
    command: str


def external_party(config: NetworkConfig, who: str) -> str:
    """The id of the party a run of ``config`` leaves external for the role ``who``: the one
    ``serve --external WHO`` picks."""
    (party,) = pick_externals(party_roles(config), [who])
    return party


#: What each run of a campaign against a real system must hold besides :data:`INVARIANTS`
#: (and the party's conformance checks, ``conformance.<ID>.<check>``).
EXTERNAL_INVARIANTS = {
    "external.command": "the external party's command ran and exited 0",
}


@dataclass(frozen=True)
class RunJob:
    """One run of a campaign, as an engine plays it (picklable): its scenario is ``source``,
    played in ``folder`` with the keys of ``keys`` (a :class:`KeyPool` folder)."""

    index: int
    seed: int
    faults: list[dict[str, Any]]
    source: str
    folder: str
    keys: str
    strict_sla: bool
    scale: float | None = None
    external: External | None = None
    party: str | None = None  # the external party's id in this run

    @property
    def key(self) -> str:
        return f"run {self.index}"

    def __call__(self, channel: Channel) -> RunOutcome:
        return play_and_judge(self, channel)


def play_and_judge(job: RunJob, channel: Channel | None = None) -> RunOutcome:
    """Play ``job``'s scenario in its folder and judge it on :data:`INVARIANTS`. The run stops
    at its next step when ``channel`` says so (then it fails ``run.complete``). The harness
    failing is an outcome too (``harness``), never an exception."""
    if channel is not None and channel.stopping():
        raise NotStarted("not started: the campaign was stopped")
    folder = Path(job.folder)
    if folder.exists():
        shutil.rmtree(folder)
    built: list[Network] = []
    wall = stopwatch()
    asked_at = [0.0]

    def progress(_now: datetime) -> None:
        # a stop is asked across processes: looked at twice a second at most, not every step
        if channel is None or wall() - asked_at[0] < PROGRESS_EVERY:
            return
        asked_at[0] = wall()
        if channel.stopping() and built:
            built[0].clock.stop()

    command_failed: str | None = None
    try:
        if job.external is not None:
            command_failed = serve_and_judge(job, job.external)
        else:
            scenario = parse(job.source)
            result = asyncio.run(play(scenario, folder, keys=KeyPool(job.keys),
                                      on_built=built.append, progress=progress))  # fmt: skip
            result.journal.close()
        judged = report(folder)
    except Exception as exc:  # the harness failed: an outcome of the run, not of the campaign
        why = f"{type(exc).__name__}: {exc}"
        return RunOutcome(job.index, job.seed, job.faults, job.folder, None, ["harness"],
                          {"harness": why})  # fmt: skip
    messages = {c["name"]: c["message"] for c in judged["checks"] if not c["passed"]}
    if command_failed is not None:
        judged["failed"].append("external.command")
        messages["external.command"] = command_failed
    failed = [name for name in judged["failed"]
              if name in INVARIANTS or name in EXTERNAL_INVARIANTS
              or name.startswith("conformance.")
              or (job.strict_sla and name.startswith("sla."))]  # fmt: skip
    try:
        verified = check_run(folder)
        if verified.state != "complete":
            failed.append("verify")
            messages["verify"] = f"{verified.state}: " + "; ".join(verified.problems[:3])
    except JournalError as exc:
        failed.append("verify")
        messages["verify"] = str(exc)
    sla = [{"name": s["name"], "breaches": s["breaches"], "count": s["count"],
            "p95_hours": s["p95_hours"], "max_hours": s["max_hours"]}
           for s in judged["sla"]]  # fmt: skip
    return RunOutcome(
        job.index, job.seed, job.faults, job.folder, judged["digest"], failed,
        {k: v for k, v in messages.items() if k in failed}, sla, dict(judged["counts"]),
        float(judged["wall_seconds"] or 0.0),
    )  # fmt: skip


# -- a run against a real system --------------------------------------------------------------

_API_LINE = re.compile(r"live page and HTTP API: (http://\S+)")
_KIT_LINE = re.compile(r"external \S+ (\S+): connection kit (.+?)\s*$")


def _default_sigint() -> None:
    # a pool worker ignores Ctrl-C (its parent stops the runs); what it starts must not
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def serve_and_judge(job: RunJob, external: External) -> str | None:
    """Serve the run's scenario with ``external`` left to its command, as a vendor would
    (``noemie-sim serve RUN.toml --external WHO --web --virtual``, the virtual clock moved
    only through the API), start the command once the party's kit is ready, with
    ``NOEMIE_SIM_API``, ``NOEMIE_SIM_KIT``, ``NOEMIE_SIM_RUN`` and ``NOEMIE_SIM_PARTY`` in
    its environment, in the campaign command's own folder; when it exits, take the run to its
    end and stop serving. The run folder is then judged like any other. Returns why the command
    failed (its exit code), or None. serve's output is in ``runs/NNN.serve.log``, the
    command's in ``runs/NNN.command.log``. RuntimeError when serve did not start."""
    folder = Path(job.folder)
    scenario_file = folder.with_suffix(".toml")
    scenario_file.parent.mkdir(parents=True, exist_ok=True)
    scenario_file.write_text(job.source, encoding="utf-8")
    serve_log = folder.with_suffix(".serve.log")
    command = [sys.executable, "-m", "noemie_sim", "serve", str(scenario_file), "--external",
               external.who, "--web", "--virtual", "--quiet", "--out", str(folder)]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          preexec_fn=_default_sigint) as serve, \
            serve_log.open("w", encoding="utf-8") as log:  # fmt: skip
        assert serve.stdout is not None
        api = kit = None
        for line in serve.stdout:  # until both the API and the kit are said
            log.write(line)
            if found := _API_LINE.search(line):
                api = found.group(1).rstrip("/")
            if found := _KIT_LINE.search(line):
                kit = found.group(2)
            if api and kit:
                break
        output = serve.stdout
        drain = threading.Thread(target=lambda: log.writelines(output), daemon=True)
        drain.start()  # serve says more (refusals, its end): kept, and never blocks on a pipe
        if not (api and kit):
            serve.wait()
            drain.join()
            raise RuntimeError(f"serve did not start (exit {serve.returncode}): see {serve_log}")
        env = {
            **os.environ,
            "NOEMIE_SIM_API": api,
            "NOEMIE_SIM_KIT": str(Path(kit).resolve()),
            "NOEMIE_SIM_RUN": str(folder.resolve()),
            "NOEMIE_SIM_PARTY": str(job.party),
        }
        with folder.with_suffix(".command.log").open("w", encoding="utf-8") as out:
            code = subprocess.run(external.command, shell=True, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, preexec_fn=_default_sigint,
                                  check=False).returncode  # fmt: skip
        if serve.poll() is None:  # the command left the run going: to its end, then stop
            with contextlib.suppress(OSError):
                clock = json.loads(_api(api, "/api/clock"))
                if clock.get("now") and clock["now"] < clock["end"]:  # both ISO, in UTC
                    _api(api, "/api/clock/advance", {"to": "end"})
            try:
                _api(api, "/api/stop", {})
            except OSError:  # the API did not take it: SIGTERM stops serve as cleanly
                serve.terminate()
        serve.wait()
        drain.join()
    if code != 0:
        return f"the command exited {code} (its output: {folder.with_suffix('.command.log')})"
    return None


def _api(address: str, path: str, body: dict[str, Any] | None = None) -> bytes:
    """GET (or POST ``body`` as JSON) ``path`` of the API at ``address``; OSError when it
    does not answer 2xx (urllib's errors are OSErrors)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(address + path, data=data,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request) as answer:
        return bytes(answer.read())


# -- shrinking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shrunk:
    """The smallest fault schedule found that still fails ``check``; ``trials`` runs tried."""

    faults: list[dict[str, Any]]
    check: str
    trials: int


def shrink(
    job: RunJob, outcome: RunOutcome, base: Scenario, *, limit: int = 24,
    on_trial: Callable[[int, list[dict[str, Any]], bool], None] | None = None,
) -> Shrunk:  # fmt: skip
    """Remove ``outcome``'s faults one at a time (the last first), then halve each lasting
    fault's duration, keeping every change after which the run still fails the same check
    (the first it failed), on the same seed; at most ``limit`` trial runs, each in a folder
    of its own that is removed after. ``on_trial(n, faults, still_fails)`` hears each."""
    check = outcome.failed[0]
    faults = list(outcome.faults)
    trials = 0

    def still_fails(candidate: list[dict[str, Any]]) -> bool:
        nonlocal trials
        trials += 1
        with tempfile.TemporaryDirectory(prefix="noemie-sim-shrink-") as folder:
            source = run_source(base, job.seed, candidate, scale=job.scale)
            trial = dataclasses.replace(job, faults=candidate, source=source,
                                        folder=str(Path(folder) / "run"))  # fmt: skip
            fails = check in play_and_judge(trial).failed
        if on_trial is not None:
            on_trial(trials, candidate, fails)
        return fails

    for n in reversed(range(len(faults))):
        if trials >= limit:
            break
        candidate = faults[:n] + faults[n + 1 :]
        if still_fails(candidate):
            faults = candidate
    for n, fault in enumerate(list(faults)):
        while "duration" in fault and trials < limit:
            minutes = int(fault["duration"].removesuffix("min")) // 2
            if minutes < 1:
                break
            shorter = {**fault, "duration": f"{minutes}min"}
            candidate = [*faults[:n], shorter, *faults[n + 1 :]]
            if not still_fails(candidate):
                break
            faults, fault = candidate, shorter
    return Shrunk(faults, check, trials)


# -- a whole campaign -------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignSpec:
    """What ``noemie-sim campaign`` was asked: ``runs`` runs of ``scenario`` from ``seed``,
    faults drawn by ``plan``, in ``folder``."""

    scenario: Scenario
    runs: int
    seed: int
    plan: FaultPlan
    folder: Path
    keys: Path
    strict_sla: bool = False
    scale: float | None = None
    faults_label: str = "random"
    external: External | None = None


def jobs(spec: CampaignSpec) -> list[RunJob]:
    """The runs of a campaign, each with its seed, faults and scenario."""
    made = []
    for index in range(1, spec.runs + 1):
        seed = run_seed(spec.seed, index)
        party = None
        if spec.external is not None:
            config = dataclasses.replace(spec.scenario.config, seed=seed)
            party = external_party(config, spec.external.who)
        faults = draw_faults(spec.plan, spec.scenario, seed, party)
        source = run_source(spec.scenario, seed, faults, scale=spec.scale)
        folder = spec.folder / "runs" / f"{index:03d}"
        made.append(RunJob(index, seed, faults, source, str(folder), str(spec.keys),
                           spec.strict_sla, spec.scale, spec.external, party))  # fmt: skip
    return made


def check_targets(spec: CampaignSpec) -> None:
    """CampaignError when a fault the plan may draw names a party the network does not have
    (a faults file's ``targets``): said before any run, not as a harness failure of each."""
    parties = party_names(spec.scenario.config)
    names = _by_role(parties)
    for rule in spec.plan.rules:
        role = FAULT_KINDS[rule.kind][0]
        allowed = [n for r, group in names.items() if role in ("any", r) for n in group]
        allowed += [p for p, (r, _name) in parties.items() if role in ("any", r)]
        for target in rule.targets:
            if target not in allowed:
                named = ", ".join(allowed[:12]) + (", ..." if len(allowed) > 12 else "")
                raise CampaignError(
                    f"--faults: {rule.kind} targets {target!r}, not a simulated "
                    f"party of {spec.scenario.name} it can target ({named})"
                )


def parties_needed(scenario: Scenario) -> int:
    """Keys a network of ``scenario`` takes from a key pool (its parties, the CAs, spares)."""
    return len(party_roles(scenario.config)) + 8


def run_all(spec: CampaignSpec, engine: Any) -> Iterator[RunOutcome | Finished]:
    """Play every run of ``spec`` on ``engine`` (:class:`.shards.Engine`); yields each
    :class:`RunOutcome` as its run ends, or the :class:`Finished` of a run that did not end
    (stopped, not started). The key pool is filled first, in this process, so that workers
    only read it."""
    KeyPool(spec.keys).take(parties_needed(spec.scenario))
    for message in engine.run(jobs(spec)):
        if isinstance(message, Progress):
            continue
        if isinstance(message.result, RunOutcome):
            yield message.result
        else:
            yield message


def repro_source(spec: CampaignSpec, outcome: RunOutcome, shrunk: Shrunk) -> str:
    """The repro scenario of a failed run: the run's seed and the shrunk faults; ``run``
    plays it to the same failed check."""
    faults = "\n".join(f"  - {describe(f)}" for f in shrunk.faults) or "  (none)"
    note = (
        f"Repro of run {outcome.index} of a noemie-sim campaign of {spec.scenario.name} "
        f"(campaign seed {spec.seed}, run seed {outcome.seed}).\n"
        f"It fails {shrunk.check}: {outcome.messages.get(shrunk.check, '')}\n"
        f"Faults, shrunk from {len(outcome.faults)} to {len(shrunk.faults)} in "
        f"{shrunk.trials} trial runs:\n{faults}\n"
        + (
            f"Play it: noemie-sim serve THIS_FILE --external {spec.external.who} --web "
            f"--virtual, with your system ({spec.external.command}) as that party"
            if spec.external
            else "Play it: noemie-sim run THIS_FILE"
        )
    )
    return run_source(spec.scenario, outcome.seed, shrunk.faults, scale=spec.scale,
                      sla=spec.strict_sla, note=note)  # fmt: skip


def campaign_digest(outcomes: list[RunOutcome]) -> str:
    """One digest for the whole campaign: SHA-256 of the runs' digests in run order."""
    text = "\n".join(f"{o.index} {o.digest}" for o in sorted(outcomes, key=lambda o: o.index))
    return hashlib.sha256(text.encode()).hexdigest()
