"""Playing a scenario: build its network, schedule its faults, run it, and rebuild its report
from the journal.

The scenario's own text goes into the journal's configuration (so the chain covers it, and
``replay`` can run it again from the run folder alone).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509

from noemie_sim.actors.base import Actor
from noemie_sim.actors.network import Network, RunResult
from noemie_sim.actors.practitioner import Practitioner
from noemie_sim.pki.authority import KeyPool, Pki
from noemie_sim.pki.errors import PkiError
from noemie_sim.sim.journal import Event, Journal, JournalError, check_journal, open_journal

from .alerting import AlertWebhook, watch_alerts
from .reports.measure import measure
from .reports.validity import invalid_files
from .reports.verdict import decide
from .schema import FAULT_KINDS, Fault, Scenario, ScenarioError, fault_moment, parse
from .vendors.external import conformance

ROLE_PREFIX = {"CPAM": "cpam", "PS": "ps", "OC": "oc", "EMP": "employer"}


def resolve_target(network: Network, target: str, path: str, role: str) -> Actor:
    """The actor a fault targets: a party id, or ROLE-N (CPAM-1, PS-3, OC-2, EMP-1: the N-th
    of that role, from 1)."""
    groups: dict[str, list[Actor]] = {
        "cpam": list(network.cpams.values()),
        "ps": list(network.practitioners.values()),
        "oc": list(network.mutuelles.values()),
        "employer": list(network.employers.values()),
    }
    actor: Actor | None = None
    prefix, _, number = target.rpartition("-")
    if prefix.upper() in ROLE_PREFIX and number.isdigit():
        members = groups[ROLE_PREFIX[prefix.upper()]]
        if 1 <= int(number) <= len(members):
            actor = members[int(number) - 1]
    else:
        actor = next((a for a in network.actors() if a.id == target), None)
    if actor is None:
        counts = ", ".join(f"{p}-1..{p}-{len(groups[r])}" for p, r in ROLE_PREFIX.items())
        raise ScenarioError(path, f"a party of this network ({counts}) or its id", target)
    if role != "any" and actor.role != role:
        raise ScenarioError(path, f"a {role} for this fault", f"{target} ({actor.role})")
    return actor


def inject_fault(network: Network, fault: Fault) -> Actor:
    """Inject ``fault`` into a running network now (the HTTP API): it is journaled and takes
    effect at the clock's next step, after the steps already due at this instant. Returns the
    actor it targets. ScenarioError (path ``fault.KEY``) for a target not in this network, or a
    fault this network cannot take."""
    role = FAULT_KINDS[fault.kind][0]
    actor = resolve_target(network, fault.target, "fault.target", role)
    if fault.kind == "network-faults" and not network.config.fault_proxies:
        raise ScenarioError(
            "fault.kind", "a fault this network can take (network-faults need a scenario "
            "with network faults: its hubs are reached through fault proxies)", fault.kind,
        )  # fmt: skip
    if fault.kind == "sftp-outage" and actor.id in network.externals:
        raise ScenarioError("fault.target", "a caisse whose hub runs here", actor.id)
    network.at(network.clock.now(), _action(network, fault, actor), f"{fault.kind} {actor.id}")
    return actor


def schedule_faults(network: Network, scenario: Scenario) -> None:
    """Put every fault of the scenario on the network's agenda; ScenarioError for a target
    that does not exist in this network."""
    for n, fault in enumerate(scenario.faults, start=1):
        role = FAULT_KINDS[fault.kind][0]
        actor = resolve_target(network, fault.target, f"faults[{n}].target", role)
        when = fault_moment(fault.at, network.config)
        network.at(when, _action(network, fault, actor), f"{fault.kind} {actor.id}")


def _action(network: Network, fault: Fault, actor: Actor) -> Callable[[], None]:
    duration = timedelta(seconds=fault.duration.seconds) if fault.duration else timedelta(0)
    if fault.duration and fault.duration.jours_ouvres:
        duration = timedelta(days=fault.duration.jours_ouvres)  # close enough for an outage

    def act() -> None:
        kind = fault.kind
        if kind == "sftp-outage":
            network.outage(actor.id, duration)
        elif kind in ("actor-down", "mutuelle-late"):
            network.take_down(actor.id, duration)
        elif kind == "revoke-certificate":
            network.revoke(actor.id)
        elif kind == "network-faults":
            latency = fault.latency.seconds if fault.latency else 0.0
            network.network_faults(actor.id, duration, cut_rate=fault.cut_rate, latency=latency)
        elif kind == "clock-skew":
            assert fault.offset is not None
            actor.skew = timedelta(seconds=fault.offset.seconds)
        else:
            assert isinstance(actor, Practitioner)
            attribute = {
                "corrupt-lot": "corrupt_next",
                "truncate-file": "truncate_next",
                "duplicate-lot": "duplicate_next",
                "rebill-invoice": "rebill_next",
            }[kind]
            setattr(actor, attribute, getattr(actor, attribute) + 1)

    return act


async def play(
    scenario: Scenario,
    folder: Path | str,
    *,
    keys: KeyPool | None = None,
    listener: Callable[[Event], None] | None = None,
    progress: Callable[[datetime], None] | None = None,
    on_built: Callable[[Network], None] | None = None,
    externals: frozenset[str] = frozenset(),
    caisse_servers: dict[str, tuple[str, int, str]] | None = None,
    webhooks: dict[str, str] | None = None,
    pki_folder: Path | None = None,
    extra_config: dict[str, Any] | None = None,
    sftp_port: int | None = None,
    wall_clock: Callable[[], datetime] | None = None,
    alert_webhook: str | None = None,
) -> RunResult:
    """Run ``scenario`` in ``folder``; ScenarioError before anything runs if a fault's target
    is not in the network. ``pki_folder``: a PKI made beforehand holding every party (a
    shard's); ``extra_config`` goes into the journal's configuration beside the scenario;
    ``sftp_port``, ``wall_clock`` and ``webhooks`` (an external mutuelle's on the REST
    channel): see :class:`Network` (``serve``); ``alert_webhook``:
    the address every firing and resolution of the scenario's alerts is posted to (the run
    returns once each was delivered or given up)."""
    extra = {"scenario": scenario.source, "scenario_name": scenario.name, **(extra_config or {})}
    network = Network(
        scenario.config, folder, keys=keys, extra_config=extra, externals=externals,
        caisse_servers=caisse_servers, webhooks=webhooks, pki_folder=pki_folder,
        sftp_port=sftp_port,
        wall_clock=wall_clock,
    )  # fmt: skip
    webhook = AlertWebhook(alert_webhook) if alert_webhook else None
    async with network:
        schedule_faults(network, scenario)
        watch_alerts(network, scenario)
        if webhook is not None:
            network.journal.listeners.append(webhook)
        if on_built is not None:
            on_built(network)
        if listener is not None:
            network.journal.listeners.append(listener)
        if progress is not None:
            commit = network.clock.after_step

            def after_step() -> None:
                if commit is not None:
                    commit()
                progress(network.clock.now())

            network.clock.after_step = after_step
        try:
            return await network.run()
        finally:
            if webhook is not None:
                await webhook.close()


def recorded_scenario(journal: Journal) -> Scenario:
    """The scenario a run folder's journal recorded (with its seed)."""
    config = journal.config()
    source = config.get("scenario")
    if not isinstance(source, str):
        raise ScenarioError("journal", "a run made from a scenario", "a run without one")
    scenario = parse(source)
    seed = config.get("network", {}).get("seed", scenario.config.seed)
    return dataclasses.replace(scenario, config=dataclasses.replace(scenario.config, seed=seed))


def report(folder: Path | str, root: x509.Certificate | None = None) -> dict[str, Any]:
    """The report of a run, from its folder alone, with its verdict (verdict.py). A run that
    did not end (killed, or its journal's tail cut) is reported from the events it has, as
    ``incomplete``. JournalError when the folder holds no readable journal, or one whose rows
    or manifest were tampered with (nothing in it can be trusted)."""
    journal = open_journal(folder)
    try:
        check = check_journal(journal, root, files=False)  # verify reads the archive
        if check.state == "tampered":
            raise JournalError("; ".join(check.problems))
        scenario = recorded_scenario(journal)
        events = journal.events()
        ended = next((e for e in reversed(events) if e.kind == "run-ended"), None)
        end = max((e.at for e in events), default=scenario.config.end)
        run = {
            "state": check.state,
            "problems": check.problems,
            "events": check.events,
            "reached_end": bool(ended.details.get("reached_end", True)) if ended else False,
            "ended_at": ended.at.isoformat() if ended else None,
        }
        try:
            roles = Pki(Path(folder) / "pki").parties()
        except PkiError:
            roles = {}
        return _report(scenario, events, run, min(end, scenario.config.end), end, roles,
                       digest=check.digest, wall_seconds=journal.info("wall_seconds"),
                       folder=Path(folder))  # fmt: skip
    finally:
        journal.db.close()


def report_so_far(network: Network, scenario: Scenario) -> dict[str, Any]:
    """The report of a run still going (the HTTP API): its SLAs, expectations and external
    parties judged on the events recorded so far. Its verdict is ``incomplete`` until the run
    has ended: a run in progress is never a pass."""
    journal = network.journal
    events = journal.events()
    now = network.clock.now()
    run = {
        "state": "incomplete",
        "problems": [f"the run is going on (simulated time {now.isoformat()})"],
        "events": len(events),
        "reached_end": False,
        "ended_at": None,
    }
    return _report(scenario, events, run, min(now, scenario.config.end), now,
                   network.pki.parties(), digest=journal.digest(),
                   folder=network.folder)  # fmt: skip


def _report(
    scenario: Scenario,
    events: list[Event],
    run: dict[str, Any],
    measured_until: datetime,
    end: datetime,
    roles: dict[str, str],
    *,
    digest: str,
    wall_seconds: float | None = None,
    folder: Path | None = None,
) -> dict[str, Any]:
    """A report from the events of a run and its completeness (``run``); the archived files
    of ``folder`` are validated when the scenario expects ``invalid_files``."""
    invalid = None
    if folder is not None and "invalid_files" in scenario.expect:
        invalid = invalid_files(folder)[1]
    figures = measure(events, scenario.sla, scenario.expect, measured_until, invalid)
    externals = [
        conformance(events, e.details["party"], e.details["role"], end)
        for e in events
        if e.kind == "external-party"
    ]
    return assemble(scenario, run, figures, externals, roles, digest=digest,
                    wall_seconds=wall_seconds)  # fmt: skip


def assemble(
    scenario: Scenario,
    run: dict[str, Any],
    figures: dict[str, Any],
    externals: list[dict[str, Any]],
    roles: dict[str, str],
    *,
    digest: str,
    wall_seconds: float | None,
) -> dict[str, Any]:
    """The report of a run from its parts, with its verdict (the one place both a run and a
    sharded run's merged figures become a report)."""
    return {
        "format": "noemie-sim report 2",
        "roles": roles,
        "scenario": scenario.name,
        "description": scenario.description,
        "seed": scenario.config.seed,
        "digest": digest,
        "start": scenario.config.start.isoformat(),
        "end": scenario.config.end.isoformat(),
        "wall_seconds": wall_seconds,
        "expect_exit": scenario.expect_exit,
        "externals": externals,
        "run": run,
        **figures,
        **decide(run, figures["sla"], figures["expectations"], externals),
    }
