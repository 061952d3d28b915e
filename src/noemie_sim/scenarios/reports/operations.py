"""The operator's figures of a run: what a supervision team watches beside the report (hubs up
or down, the mutuelles' backlog, volumes per hour, files by kind and caisse), kept up to date
event by event.

:class:`OperatorFigures` is fed the journal's events in order (:meth:`OperatorFigures.add`),
live or read back from a run folder, and answers for any simulated moment at or after the
last event it was given. It reads nothing else: the alerts of a run (scenarios/alerting.py)
and the ``/metrics`` of its web server (scenarios/web/metrics.py) are computed from it, and
the figures the report also gives (reject rate, SLA percentiles) are taken from the report's
own code (:mod:`.measure`), so that the three never disagree.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from datetime import datetime, timedelta

from noemie_sim.sim.journal import Event

HOUR = timedelta(hours=1)
#: caisses given their own label value in per-caisse figures; the others share "other", so
#: that a scraper's series stay bounded whatever the size of the network
MAX_CAISSE_LABELS = 120
OTHER = "other"


class OperatorFigures:
    """Figures of a run so far, from its events (given in journal order). ``roles``: party id
    -> role (ps, cpam, oc, employer), as the run's PKI says."""

    def __init__(self, roles: dict[str, str]) -> None:
        self.roles = roles
        self.last: datetime | None = None  # the time of the last event given
        self.events = 0
        self.invoices: set[str] = set()
        self.amo_rejects = 0
        self.arls = Counter[str]()  # by status: P, N, D
        self.lots = 0
        self.decomptes_sent = 0
        self.decomptes_answered = Counter[str]()  # paid, rejected (by the mutuelle)
        self._open_decomptes: set[str] = set()  # CPAM/number sent, not yet answered
        #: (file, OC) -> the décomptes it carried, until its answer is received
        self._decomptes_of_file: dict[tuple[str, str], list[str]] = {}
        self.files = Counter[tuple[str, str, str, str]]()  # (kind, direction, role, caisse)
        self.down_since: dict[str, datetime] = {}  # caisse -> start of its hub's outage
        self.downtime: dict[str, float] = {}  # caisse -> seconds down in ended outages
        self.outages = Counter[str]()  # caisse -> outages started
        self.failovers = 0
        self.transfer_failures = 0
        self.logins_refused = 0  # those the hubs journaled (their own decisions)
        self._decompte_times: deque[datetime] = deque()
        self._failure_times: deque[datetime] = deque()
        self._caisse_labels: dict[str, str] = {}

    @classmethod
    def of(cls, events: Iterable[Event], roles: dict[str, str]) -> OperatorFigures:
        figures = cls(roles)
        for e in events:
            figures.add(e)
        return figures

    def caisse_label(self, caisse: str) -> str:
        """The label value of ``caisse``: itself for the first :data:`MAX_CAISSE_LABELS`
        caisses met, then "other"."""
        label = self._caisse_labels.get(caisse)
        if label is None:
            label = caisse if len(self._caisse_labels) < MAX_CAISSE_LABELS else OTHER
            self._caisse_labels[caisse] = label
        return label

    def add(self, e: Event) -> None:
        """Take event ``e`` into account (events come in journal order)."""
        self.events += 1
        self.last = e.at
        d, kind = e.details, e.kind
        if kind in ("file-sent", "file-received"):
            role = self.roles.get(e.actor, "other")
            peer = d.get("to") if kind == "file-sent" else d.get("sender")
            caisse = e.actor if role == "cpam" else str(peer)
            name_kind = str(d.get("name", "")).split("-")[0] or "?"
            direction = "sent" if kind == "file-sent" else "received"
            self.files[(name_kind, direction, role, self.caisse_label(caisse))] += 1
        elif kind == "invoice-billed":
            self.invoices.add(str(e.invoice))
        elif kind == "invoice-liquidated":
            if d.get("status") == "rejected":
                self.amo_rejects += 1
        elif kind == "lot-sent":
            self.lots += 1
        elif kind == "arl-sent":
            self.arls[str(d.get("status"))] += 1
        elif kind == "decompte-sent":
            self.decomptes_sent += 1
            self._decompte_times.append(e.at)
            self._open_decomptes.add(f"{e.actor}/{d.get('decompte')}")
            self._decomptes_of_file.setdefault((str(e.file), str(e.oc)), []).append(
                f"{e.actor}/{d.get('decompte')}"
            )
        elif kind in ("decompte-paid", "decompte-rejected") and e.actor == e.oc:
            # in journal order a décompte is sent before its mutuelle answers it
            key = str(d.get("decompte"))
            if key in self._open_decomptes:
                self._open_decomptes.discard(key)
                self.decomptes_answered[kind.removeprefix("decompte-")] += 1
        elif kind == "oc-answer-received" and d.get("status") == "A":
            # a mutuelle played by a real system journals no payment of its own: the caisse's
            # receipt of its answer settles what is still open of that file
            still = [k for k in self._decomptes_of_file.pop((str(e.file), str(e.oc)), [])
                     if k in self._open_decomptes]  # fmt: skip
            if still:
                self._open_decomptes.difference_update(still)
                rejected = min(int(d.get("rejected", 0)), len(still))
                self.decomptes_answered["rejected"] += rejected
                self.decomptes_answered["paid"] += len(still) - rejected
        elif kind == "outage":
            caisse = str(d.get("party"))
            self.down_since.setdefault(caisse, e.at)
            self.outages[caisse] += 1
        elif kind == "outage-ended":
            caisse = str(d.get("party"))
            since = self.down_since.pop(caisse, None)
            if since is not None:
                seconds = (e.at - since).total_seconds()
                self.downtime[caisse] = self.downtime.get(caisse, 0.0) + seconds
        elif kind == "failover":
            self.failovers += 1
        elif kind in ("upload-failed", "poll-failed"):
            self.transfer_failures += 1
            self._failure_times.append(e.at)
        elif kind == "login-refused":
            self.logins_refused += 1

    # -- figures at a moment (at or after the last event given) -------------------------------

    def hub_down_minutes(self, now: datetime) -> dict[str, float]:
        """Per caisse whose hub is down now: the minutes since it went down."""
        return {
            caisse: round((now - since).total_seconds() / 60, 2)
            for caisse, since in sorted(self.down_since.items())
        }

    def downtime_seconds(self, caisse: str, now: datetime) -> float:
        """Seconds the caisse's hub has been down in all, the outage going on included."""
        since = self.down_since.get(caisse)
        ongoing = (now - since).total_seconds() if since is not None else 0.0
        return self.downtime.get(caisse, 0.0) + ongoing

    @property
    def reject_rate(self) -> float:
        """AMO rejects over invoices billed (the report's ``figures.reject_rate``)."""
        return round(self.amo_rejects / len(self.invoices), 4) if self.invoices else 0.0

    @property
    def negative_arl_rate(self) -> float:
        total = sum(self.arls.values())
        return round(self.arls.get("N", 0) / total, 4) if total else 0.0

    @property
    def decompte_backlog(self) -> int:
        """Décomptes sent to mutuelles that they have not yet paid nor rejected."""
        return len(self._open_decomptes)

    def decomptes_per_hour(self, now: datetime) -> int:
        """Décomptes sent in the hour of simulated time up to ``now``."""
        return _in_last_hour(self._decompte_times, now)

    def transfer_failures_per_hour(self, now: datetime) -> int:
        return _in_last_hour(self._failure_times, now)


def _in_last_hour(times: deque[datetime], now: datetime) -> int:
    """How many of ``times`` (in order) fall in (now - 1 h, now]; older ones are dropped,
    since ``now`` never goes back."""
    while times and times[0] <= now - HOUR:
        times.popleft()
    return sum(1 for t in times if t <= now)
