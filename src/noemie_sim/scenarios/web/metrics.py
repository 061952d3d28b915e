"""``GET /metrics``: a run as Prometheus sees it (text exposition format, written by the
official client library, prometheus_client).

Every scrape computes the figures afresh from the journal: those the report gives (counts,
rejects, SLA delays, money, automation and reject rates, alerts) are read from the report
itself (:meth:`LiveRun.report`), so that a dashboard and the report never disagree; the
operator's own figures (hubs up or down, backlog, volumes per hour, files by kind and caisse)
come from :class:`~noemie_sim.scenarios.reports.operations.OperatorFigures`; what only the
running servers know (open SFTP sessions, every refused login) from the hubs themselves.

Labels are bounded: kinds of files, roles, SLA names, code tables and alert names are small
closed sets, and caisses beyond :data:`~..reports.operations.MAX_CAISSE_LABELS` share the
value "other". Counters count from the start of the run (a run is one process: they never
reset while it is served). docs/api.md lists every metric.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ..reports.operations import OperatorFigures
from .live import LiveRun

#: the buckets of the SLA delay histograms, in hours: from an hour to a month
DELAY_BUCKETS_HOURS = (1, 2, 4, 8, 12, 24, 48, 72, 96, 120, 168, 240, 336, 720)
#: the classic text format, which every Prometheus (2.x included) and scraper reads; our
#: metric and label names are all legacy names, so no escaping differs from version 1.0.0
MEDIA_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def exposition(live: LiveRun) -> bytes:
    """The run's metrics now, in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_RunCollector(live))
    return generate_latest(registry)


class _RunCollector(Collector):
    def __init__(self, live: LiveRun) -> None:
        self.live = live

    def collect(self) -> Iterator[Metric]:
        live = self.live
        state = GaugeMetricFamily("noemie_run_state", "1 for the run's state now", labels=["state"])
        for name in ("starting", "running", "paused", "stopping", "ended"):
            state.add_metric([name], 1.0 if live.state == name else 0.0)
        yield state
        if live.network is None:
            return
        report = live.report()
        now = live.network.clock.now() if live.final is None else _end(report)
        roles: dict[str, str] = report["roles"]
        figures = OperatorFigures.of(live.journal().events(), roles)
        yield from _run(live, report, now)
        yield from _flows(report, figures, now)
        yield from _sla(report)
        yield from _rejects(report)
        yield from _hubs(live, figures, roles, now)
        yield from _alerts(live, report)


def _end(report: dict[str, Any]) -> datetime:
    ended = report["run"].get("ended_at")
    return datetime.fromisoformat(ended or report["end"])


def _run(live: LiveRun, report: dict[str, Any], now: datetime) -> Iterator[Metric]:
    info = InfoMetricFamily("noemie_run", "the run served: scenario, seed, journal digest")
    info.add_metric([], {"scenario": str(report["scenario"]), "seed": str(report["seed"])})
    yield info
    yield CounterMetricFamily("noemie_events", "events journaled", value=report["counts"]["events"])
    yield GaugeMetricFamily(
        "noemie_clock_simulated_time_seconds",
        "the run's simulated time now (Unix time)",
        value=now.timestamp(),
    )
    assert live.network is not None
    clock = live.network.clock
    yield GaugeMetricFamily(
        "noemie_clock_speed",
        "simulated seconds per real second (0: virtual time, moving only when steered)",
        value=float(clock.speed or 0.0),
    )
    yield GaugeMetricFamily(
        "noemie_clock_paused", "1 while the clock is paused", value=float(clock.paused)
    )


def _flows(report: dict[str, Any], figures: OperatorFigures, now: datetime) -> Iterator[Metric]:
    files = CounterMetricFamily(
        "noemie_files",
        "files sent and received, by kind (name prefix), direction, role of the party that "
        "sent or received it, and the caisse it went through",
        labels=["kind", "direction", "role", "caisse"],
    )
    for (kind, direction, role, caisse), n in sorted(figures.files.items()):
        files.add_metric([kind, direction, role, caisse], n)
    yield files
    counts = report["counts"]
    for name, key, text in (
        ("noemie_lots", "lots", "lots of FSE sent by practitioners"),
        ("noemie_invoices", "invoices", "invoices (FSE) billed"),
        ("noemie_decomptes", "decomptes", "décomptes sent to mutuelles"),
        ("noemie_ij", "ij", "IJ payments sent to employers"),
    ):
        yield CounterMetricFamily(name, text, value=counts[key])
    arls = CounterMetricFamily(
        "noemie_lots_by_arl",
        "lots by the status of their ARL (P positive, N negative, D duplicate)",
        labels=["status"],
    )
    for status, n in report["rejects"]["arl_status"].items():
        arls.add_metric([status], n)
    yield arls
    yield GaugeMetricFamily(
        "noemie_decomptes_per_hour",
        "décomptes sent in the last hour of simulated time",
        value=figures.decomptes_per_hour(now),
    )
    yield GaugeMetricFamily(
        "noemie_decompte_backlog",
        "décomptes sent to mutuelles and not yet paid nor rejected by them",
        value=figures.decompte_backlog,
    )
    if report["automation_rate"] is not None:
        yield GaugeMetricFamily(
            "noemie_automation_rate",
            "share of invoices paid without a reject (the report's automation rate)",
            value=report["automation_rate"],
        )
    yield GaugeMetricFamily(
        "noemie_reject_rate",
        "share of invoices rejected by the caisse (the report's reject rate)",
        value=report["figures"]["reject_rate"],
    )
    money = CounterMetricFamily(
        "noemie_money_cents",
        "money, reconciled per invoice, in euro cents: billed, and paid by the AMO, the "
        "caisse for the C2S, the mutuelles, the patients; late-payment penalties",
        labels=["part"],
    )
    for part, cents in report["money"].items():
        money.add_metric([part], cents)
    yield money


def _sla(report: dict[str, Any]) -> Iterator[Metric]:
    delays = HistogramMetricFamily(
        "noemie_sla_delay_hours",
        "delays of each SLA flow, in hours of simulated time (the report's delays)",
        labels=["sla"],
    )
    breaches = GaugeMetricFamily(
        "noemie_sla_breaches", "items of each SLA flow past their limit", labels=["sla"]
    )
    pending = GaugeMetricFamily(
        "noemie_sla_pending", "items of each SLA flow not yet done, within their limit",
        labels=["sla"],
    )  # fmt: skip
    limits = GaugeMetricFamily(
        "noemie_sla_limit_hours",
        "each SLA's limit in hours (N jours ouvrés as N x 24 h)",
        labels=["sla"],
    )
    for flow in report["sla"]:
        name = flow["name"]
        rows = [(float(h), int(n)) for h, n in flow["delays"]]
        buckets = [
            (f"{edge:g}", float(sum(n for h, n in rows if h <= edge)))
            for edge in DELAY_BUCKETS_HOURS
        ]
        buckets.append(("+Inf", float(sum(n for _h, n in rows))))
        total = round(sum(h * n for h, n in rows), 2)
        delays.add_metric([name], buckets, total)
        breaches.add_metric([name], flow["breaches"])
        pending.add_metric([name], flow["pending"])
        limits.add_metric([name], flow["limit_hours"])
    yield from (delays, breaches, pending, limits)


def _rejects(report: dict[str, Any]) -> Iterator[Metric]:
    rejects = CounterMetricFamily(
        "noemie_rejects",
        "rejects and refusals by code: amo (the caisse rejects an invoice), arl (codes of "
        "negative ARLs), oc (a mutuelle rejects a décompte), refused_files (a file refused "
        "on reception)",
        labels=["source", "code"],
    )
    for source in ("amo", "arl", "oc", "refused_files"):
        for code, n in report["rejects"][source].items():
            rejects.add_metric([source, code], n)
    yield rejects


def _hubs(
    live: LiveRun, figures: OperatorFigures, roles: dict[str, str], now: datetime
) -> Iterator[Metric]:
    caisses = sorted(party for party, role in roles.items() if role == "cpam")
    up = GaugeMetricFamily(
        "noemie_hub_up", "1 when the caisse's SFTP server is up, 0 during an outage",
        labels=["caisse"],
    )  # fmt: skip
    downtime = CounterMetricFamily(
        "noemie_hub_downtime_seconds",
        "seconds of simulated time the caisse's SFTP server has been down",
        labels=["caisse"],
    )
    down_now = figures.hub_down_minutes(now)
    seen: set[str] = set()
    for caisse in caisses:
        label = figures.caisse_label(caisse)
        if label in seen:
            continue  # the caisses past the label limit: "other" is told once
        seen.add(label)
        up.add_metric([label], 0.0 if caisse in down_now else 1.0)
        downtime.add_metric([label], figures.downtime_seconds(caisse, now))
    yield from (up, downtime)
    sessions = Counter[str]()
    refused = Counter[tuple[str, str]]()
    for hub in live.hubs:
        label = figures.caisse_label(hub.cpam)
        sessions[label] += sum(hub.sessions.values()) if live.live else 0
        for cause, n in hub.logins_refused.items():
            refused[(label, cause)] += n
    open_sessions = GaugeMetricFamily(
        "noemie_sftp_sessions_open", "SFTP sessions open on the caisse's servers",
        labels=["caisse"],
    )  # fmt: skip
    for label, n in sorted(sessions.items()):
        open_sessions.add_metric([label], n)
    yield open_sessions
    logins = CounterMetricFamily(
        "noemie_logins_refused",
        "logins refused by the caisse's servers: authentication (no or a wrong key) or "
        "decision (certificate revoked or expired, limits)",
        labels=["caisse", "cause"],
    )
    for (label, cause), n in sorted(refused.items()):
        logins.add_metric([label, cause], n)
    yield logins
    yield CounterMetricFamily(
        "noemie_failovers", "switches of a partner to a standby server", value=figures.failovers
    )
    yield CounterMetricFamily(
        "noemie_transfer_failures",
        "failed uploads and polls (retried by the partner)",
        value=figures.transfer_failures,
    )


def _alerts(live: LiveRun, report: dict[str, Any]) -> Iterator[Metric]:
    firing = GaugeMetricFamily(
        "noemie_alerts_firing",
        "alerts of the scenario firing now, per rule",
        labels=["alertname", "severity"],
    )
    fired = CounterMetricFamily(
        "noemie_alerts_fired", "times each alert of the scenario fired", labels=["alertname"]
    )
    now_firing = Counter(a["name"] for a in report["alerts"] if a["resolved_at"] is None)
    times = Counter(a["name"] for a in report["alerts"])
    for rule in live.scenario.alerts:
        firing.add_metric([rule.name, rule.severity], now_firing[rule.name])
        fired.add_metric([rule.name], times[rule.name])
    yield from (firing, fired)
