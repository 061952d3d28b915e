"""A scenario's alerts ([[alerts]], docs/scenarios.md "Alerts"), evaluated on the run's
simulated clock, and their delivery to an Alertmanager-style webhook.

:class:`AlertWatch` evaluates every rule each :data:`~.schema.ALERT_EVERY` of simulated time,
as a step of the run's clock, from the figures of :class:`~.reports.operations.OperatorFigures`
(fed by the journal's listener) and, for SLA percentiles, from the report's own code. A rule
whose condition holds is *pending*; once it has held for its ``for`` it *fires*, and it
*resolves* at the first evaluation where it no longer holds. Firing and resolution are journal
events (``alert-firing``, ``alert-resolved``), so they are part of the run's chain, replayed
identically, told on the live page and counted in the report; what the webhook receives is
derived from those events alone (:class:`AlertWebhook`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from noemie_sim.actors.network import Network
from noemie_sim.sim.clock import real_pause
from noemie_sim.sim.journal import Event

from .reports.measure import measure
from .reports.operations import OperatorFigures
from .schema import ALERT_EVERY, Alert, Scenario

log = logging.getLogger(__name__)

Labels = tuple[tuple[str, str], ...]


@dataclass
class _State:
    pending_since: datetime
    fired_at: datetime | None = None


class AlertWatch:
    """The alerts of ``scenario`` watching ``network`` (attach before the run starts)."""

    def __init__(self, network: Network, scenario: Scenario) -> None:
        self.network = network
        self.scenario = scenario
        self.figures = OperatorFigures(network.pki.parties())
        self.states: dict[tuple[str, Labels], _State] = {}
        self._p95: tuple[int, dict[str, float]] = (-1, {})  # (events seen, p95 per flow)
        network.journal.listeners.append(self.figures.add)

    def start(self) -> None:
        """Put the first evaluation on the clock's agenda (each schedules the next)."""
        if self.scenario.alerts:
            self.network.clock.after(ALERT_EVERY, self.evaluate, "alerts evaluated")

    async def evaluate(self) -> None:
        """Evaluate every rule now; journal what fires and what resolves."""
        now = self.network.clock.now()
        for alert in self.scenario.alerts:
            values = self.values(alert, now)
            # series firing or pending whose labels the figure no longer gives are at 0 now
            for name, labels in list(self.states):
                if name == alert.name and labels not in values:
                    values[labels] = 0.0
            for labels, value in sorted(values.items()):
                self._judge(alert, labels, value, now)
        self.network.clock.after(ALERT_EVERY, self.evaluate, "alerts evaluated")

    def values(self, alert: Alert, now: datetime) -> dict[Labels, float]:
        """The figure ``alert`` watches, per label set, now."""
        f = self.figures
        if alert.when == "hub_down_minutes":
            return {(("caisse", c),): m for c, m in f.hub_down_minutes(now).items()}
        if alert.when == "sla_p95_hours":
            assert alert.sla is not None
            return {(("sla", alert.sla),): self._sla_p95(now).get(alert.sla, 0.0)}
        figure: dict[str, Callable[[], float]] = {
            "reject_rate": lambda: f.reject_rate,
            "negative_arl_rate": lambda: f.negative_arl_rate,
            "decompte_backlog": lambda: f.decompte_backlog,
            "decomptes_per_hour": lambda: f.decomptes_per_hour(now),
            "transfer_failures_per_hour": lambda: f.transfer_failures_per_hour(now),
        }
        return {(): float(figure[alert.when]())}

    def _sla_p95(self, now: datetime) -> dict[str, float]:
        """The p95 of every SLA flow so far, as the report measures it (recomputed only when
        events came since the last time)."""
        seen, p95 = self._p95
        if seen != self.figures.events:
            events = self.network.journal.events()
            results = measure(events, self.scenario.sla, {}, now)["sla"]
            p95 = {r["name"]: float(r["p95_hours"] or 0.0) for r in results}
            self._p95 = (self.figures.events, p95)
        return p95

    def _judge(self, alert: Alert, labels: Labels, value: float, now: datetime) -> None:
        key = (alert.name, labels)
        state = self.states.get(key)
        if not alert.holds(value):
            if state is not None and state.fired_at is not None:
                self.network.journal.record(
                    "network", "alert-resolved", alert=alert.name, labels=dict(labels),
                    severity=alert.severity, condition=alert.condition, value=round(value, 4),
                    fired_at=state.fired_at.isoformat(),
                )  # fmt: skip
            self.states.pop(key, None)
            return
        if state is None:
            state = self.states[key] = _State(pending_since=now)
        if state.fired_at is None and now - state.pending_since >= alert.for_:
            state.fired_at = now
            self.network.journal.record(
                "network", "alert-firing", alert=alert.name, labels=dict(labels),
                severity=alert.severity, condition=alert.condition, value=round(value, 4),
                since=state.pending_since.isoformat(), summary=alert.summary,
            )  # fmt: skip


def watch_alerts(network: Network, scenario: Scenario) -> AlertWatch | None:
    """Attach ``scenario``'s alerts to ``network`` and start evaluating them (None when the
    scenario has none: its runs keep the same journal as before alerts existed)."""
    if not scenario.alerts:
        return None
    watch = AlertWatch(network, scenario)
    watch.start()
    return watch


# -- the webhook ------------------------------------------------------------------------------

#: deliveries tried per notification, and the real seconds before the first retry (doubled
#: at each); a receiver down longer than that misses the notification (logged), the run goes on
WEBHOOK_TRIES = 5
WEBHOOK_FIRST_BACKOFF = 0.5
WEBHOOK_TIMEOUT = 10.0


def alertmanager_payload(e: Event, receiver: str = "noemie-sim") -> dict[str, Any]:
    """The Alertmanager webhook document (version 4) of an ``alert-firing`` or
    ``alert-resolved`` event: one alert, its labels (alertname, severity and the figure's
    own), annotations, start and end in simulated time."""
    d = e.details
    firing = e.kind == "alert-firing"
    labels = {"alertname": str(d["alert"]), "severity": str(d["severity"]), **d["labels"]}
    started = d["since"] if firing else d["fired_at"]
    fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
    annotations = {"condition": str(d["condition"]), "value": f"{d['value']:g}"}
    if d.get("summary"):
        annotations["summary"] = str(d["summary"])
    alert = {
        "status": "firing" if firing else "resolved",
        "labels": labels,
        "annotations": annotations,
        "startsAt": started,
        "endsAt": "0001-01-01T00:00:00Z" if firing else e.at.isoformat(),
        "generatorURL": "",
        "fingerprint": fingerprint,
    }
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{labels["alertname"]}"}}',
        "truncatedAlerts": 0,
        "status": alert["status"],
        "receiver": receiver,
        "groupLabels": {"alertname": labels["alertname"]},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "alerts": [alert],
    }


class AlertWebhook:
    """Posts each alert event of a run to ``url`` (a journal listener), in order, from a task
    of the run's event loop; a failed delivery is retried with backoff, then logged and given
    up. :meth:`close` waits until every notification was delivered or given up."""

    def __init__(self, url: str) -> None:
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"an http:// or https:// address, found {url!r}")
        self.url = url
        self.delivered = 0
        self.failed = 0
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def __call__(self, e: Event) -> None:
        if e.kind in ("alert-firing", "alert-resolved"):
            if self._task is None:
                self._task = asyncio.get_running_loop().create_task(self._deliver())
            self._queue.put_nowait(alertmanager_payload(e))

    async def close(self) -> None:
        if self._task is not None:
            self._queue.put_nowait(None)
            await self._task
            self._task = None

    async def _deliver(self) -> None:
        while (payload := await self._queue.get()) is not None:
            body = json.dumps(payload).encode()
            backoff = WEBHOOK_FIRST_BACKOFF
            for attempt in range(1, WEBHOOK_TRIES + 1):
                problem = await asyncio.to_thread(self._post, body)
                if problem is None:
                    self.delivered += 1
                    break
                if attempt == WEBHOOK_TRIES:
                    self.failed += 1
                    log.warning("alert webhook %s: gave up after %d tries: %s",
                                self.url, attempt, problem)  # fmt: skip
                    break
                await real_pause(backoff)
                backoff *= 2

    def _post(self, body: bytes) -> str | None:
        """POST ``body``; None when the receiver answered 2xx, else what went wrong."""
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as answer:
                status = int(answer.status)
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:
            return str(exc) or type(exc).__name__
        return None if 200 <= status < 300 else f"HTTP {status}"
