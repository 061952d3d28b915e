"""What a run did, measured from its journal alone: delays per flow against their SLAs, rejects
by code, money, volumes, and the scenario's expectations.

Pure functions of the journal's events (and of the scenario): a finished run's report can be
rebuilt at any time from its folder, and two runs with the same journal give the same report.
Delays are in hours of simulated time; limits in jours ouvrés count business days from the
start event (a limit of 2 jours ouvrés from Friday 18:00 ends Tuesday 18:00), in the calendar
of Alsace-Moselle for the flows of its caisses and practitioners (Good Friday and 26 December
are not jours ouvrés there).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from noemie_sim.sim.calendar import add_jours_ouvres, jours_ouvres_between
from noemie_sim.sim.domain import codes
from noemie_sim.sim.domain.population import ALSACE_MOSELLE_DEPARTMENTS, alsace_moselle
from noemie_sim.sim.journal import Event

from ..schema import EXPECTATIONS, SLA_FLOWS, Duration

PENALTY_FLAT = 100  # cents: tiers payant paid on the 8th or 9th jour ouvré (décret 2016-1069)
PENALTY_RATE = 10  # %: of the AMO part, paid from the 10th jour ouvré


@dataclass
class Flow:
    """One SLA's measurements: (start, end or None, counted in the calendar of
    Alsace-Moselle) per item."""

    name: str
    limit: Duration
    items: list[tuple[datetime, datetime | None, bool]] = field(default_factory=list)

    def deadline(self, start: datetime, alsace_moselle: bool = False) -> datetime:
        if self.limit.jours_ouvres:
            return add_jours_ouvres(start, self.limit.jours_ouvres, alsace_moselle)
        return start + timedelta(seconds=self.limit.seconds)

    def result(self, end: datetime) -> dict[str, Any]:
        # where a chart draws the limit: exact for a calendar limit; N jours ouvrés is drawn at
        # N x 24 h, the delay when no weekend or holiday falls in between
        limit_hours = (
            self.limit.jours_ouvres * 24
            if self.limit.business
            else round(self.limit.seconds / 3600, 2)
        )
        delays = sorted(
            (done - start).total_seconds() / 3600 for start, done, _local in self.items if done
        )
        breaches = sum(
            1 for start, done, local in self.items
            if (done is not None and done > self.deadline(start, local))
            or (done is None and self.deadline(start, local) < end)
        )  # fmt: skip
        pending = sum(
            1
            for start, done, local in self.items
            if done is None and self.deadline(start, local) >= end
        )
        return {
            "name": self.name,
            "what": SLA_FLOWS.get(self.name, ""),
            "limit": self.limit.text,
            "count": len(self.items),
            "done": len(delays),
            "pending": pending,
            "p50_hours": _percentile(delays, 50),
            "p95_hours": _percentile(delays, 95),
            "max_hours": round(delays[-1], 2) if delays else None,
            "breaches": breaches,
            "verdict": "pass" if breaches == 0 else "fail",
            # bins reach the limit, so that a chart shows both the delays and the limit; the
            # delays to 0.01 h, as they are kept for merging, so that merged bins are the same
            "histogram": _histogram([round(d, 2) for d in delays], limit_hours) if delays else [],
            "limit_hours": limit_hours,
            "limit_business": self.limit.business,
            # [[hours, how many]...]: the delays to 0.01 h, so that the flows of several runs
            # (the shards of a run) merge into exact percentiles (merge)
            "delays": [
                [h, len(list(n))] for h, n in itertools.groupby(round(d, 2) for d in delays)
            ],
        }


def _percentile(values: list[float], p: int) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return None
    rank = max(1, math.ceil(p / 100 * len(values)))
    return round(values[rank - 1], 2)


#: Histogram bin widths in hours: round figures, so that bin edges read like the table's hours
NICE_BINS = (0.25, 0.5, 1, 2, 3, 4, 6, 12, 24, 48, 72, 168, 336, 720)


def _histogram(delays: list[float], reach: float = 0.0, most: int = 16) -> list[list[float]]:
    """[[bin start hours, count]...] from 0 to past the largest delay and past ``reach``, in
    bins of the smallest round width (NICE_BINS) that needs at most ``most`` bins; a negative
    delay (a skewed clock) counts in the first bin."""
    if not delays:
        return []
    top = max(delays[-1], reach, 0.0)
    width = next((w for w in NICE_BINS if top / w < most), NICE_BINS[-1])
    counts = [0] * (int(top // width) + 1)
    for d in delays:
        counts[min(len(counts) - 1, max(0, int(d // width)))] += 1
    return [[i * width, c] for i, c in enumerate(counts)]


def _local_ps(ps_number: str) -> bool:
    """A PS of Alsace-Moselle: its n° AM begins with its département (norms.md §7.2)."""
    return ps_number[:2] in ALSACE_MOSELLE_DEPARTMENTS


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def measure(
    events: Iterable[Event],
    sla: dict[str, Duration],
    expect: dict[str, float | bool],
    end: datetime,
    invalid: list[str] | None = None,
) -> dict[str, Any]:
    """The report's figures (see docs/scenarios.md for the JSON they become). ``invalid``: the
    archived files ``validate`` refuses (:mod:`.validity`), when they were checked; they are
    not in the events, so a report measures them only when its scenario expects
    ``invalid_files``."""
    events = list(events)
    kinds: dict[str, list[Event]] = {}
    for e in events:
        kinds.setdefault(e.kind, []).append(e)

    def of(kind: str) -> list[Event]:
        return kinds.get(kind, [])

    flows = {name: Flow(name, limit) for name, limit in sla.items()}
    # ARL: lot sent -> first ARL for the lot
    arl_at: dict[str, datetime] = {}
    for e in of("arl-sent"):
        if e.lot and e.lot not in arl_at:
            arl_at[e.lot] = e.at
    sent_lots: dict[str, Event] = {}
    for e in of("lot-sent"):
        sent_lots.setdefault(str(e.lot), e)
    if "arl" in flows:
        flows["arl"].items = [
            (e.at, arl_at.get(lot), _local_ps(e.actor)) for lot, e in sent_lots.items()
        ]
    # FSE sent: the visit -> the first lot carrying the invoice (runs recorded before visits
    # had their time: the billing time of the care day)
    lot_of_invoice: dict[str, Event] = {}
    for e in of("lot-sent"):
        for number in e.details["invoices"]:
            lot_of_invoice.setdefault(f"{e.actor}/{number}", e)
    billed = {str(e.invoice): e for e in of("invoice-billed")}
    # R161-47: 3 jours ouvrés when the patient paid, 8 under dispense d'avance (tiers payant)
    for flow, tiers_payant in (("fse_sent", False), ("fse_sent_tiers_payant", True)):
        if flow in flows:
            flows[flow].items = [
                (
                    _visit_time(e),
                    lot_of_invoice[inv].at if inv in lot_of_invoice else None,
                    _local_ps(e.actor),
                )
                for inv, e in billed.items()
                if bool(e.details["tiers_payant"]) is tiers_payant
            ]
    # tiers payant: reception (positive ARL of its lot) -> payment value date
    settled: dict[str, list[Event]] = {}
    for e in of("invoice-liquidated"):
        settled.setdefault(str(e.invoice), []).append(e)
    penalties = 0
    late = Counter[str]()
    tp_items = []
    for inv, e in billed.items():
        if not e.details["tiers_payant"] or inv not in lot_of_invoice:
            continue
        reception = next((arl_at[lot] for lot in [str(x.lot) for x in settled.get(inv, [])]
                         if lot in arl_at), None)  # fmt: skip
        paid = next((x for x in settled.get(inv, []) if x.details["status"] == "paid"), None)
        if reception is None or (paid is None and inv in settled):
            continue  # never received, or rejected: no payment is due
        done = None
        if paid is not None and paid.details.get("paid_on"):
            day = date.fromisoformat(paid.details["paid_on"])
            done = datetime.combine(day, reception.timetz())
            delay = jours_ouvres_between(reception.date(), day, _local_ps(e.actor))
            if delay in (8, 9):
                penalties += PENALTY_FLAT
                late["8-9 jours ouvrés"] += 1
            elif delay >= 10:
                penalties += round(paid.details["amo"] * PENALTY_RATE / 100)
                late["10+ jours ouvrés"] += 1
        tp_items.append((reception, done, _local_ps(e.actor)))
    if "tiers_payant_payment" in flows:
        flows["tiers_payant_payment"].items = tp_items
    # décompte to the OC: AMO settlement -> décompte sent
    if "decompte_to_oc" in flows:
        flows["decompte_to_oc"].items = [
            (settled[str(e.invoice)][0].at, e.at, alsace_moselle(e.actor))
            for e in of("decompte-sent")
            if str(e.invoice) in settled
        ]  # fmt: skip
    # OC payment: décompte sent -> the mutuelle's payment or reject
    oc_done: dict[str, datetime] = {}
    for kind in ("decompte-paid", "decompte-rejected"):
        for e in of(kind):
            if e.actor == e.oc:
                oc_done.setdefault(str(e.details["decompte"]), e.at)
    # a mutuelle played by a real system journals nothing of its own: its décomptes are
    # settled when the caisse receives its answer to the file that carried them (every
    # décompte of an accepted file is paid or listed as rejected)
    answered: dict[tuple[str, str], datetime] = {}
    for e in of("oc-answer-received"):
        if e.details.get("status") == "A":
            answered.setdefault((str(e.file), str(e.oc)), e.at)
    if "oc_payment" in flows:
        flows["oc_payment"].items = [
            # the mutuelle's own working days: the national calendar
            (e.at, oc_done.get(f"{e.actor}/{e.details['decompte']}")
             or answered.get((str(e.file), str(e.oc))), False)
            for e in of("decompte-sent")
        ]  # fmt: skip
    if "link_activation" in flows:
        flows["link_activation"].items = [
            (
                datetime.combine(date.fromisoformat(e.details["requested"]), e.at.timetz()),
                e.at,
                alsace_moselle(e.actor),
            )
            for e in of("link-active")
        ]
    sla_results = [flow.result(end) for flow in flows.values()]

    # rejects and refusals
    amo_rejects = Counter(
        str(e.details["code"])
        for e in of("invoice-liquidated")
        if e.details["status"] == "rejected"
    )
    arl_codes = Counter(
        code for e in of("arl-sent") if e.details["status"] != "P" for code in e.details["codes"]
    )
    arl_status = Counter(str(e.details["status"]) for e in of("arl-sent"))
    oc_rejects = Counter(str(e.details["code"]) for e in of("decompte-rejected") if e.actor == e.oc)
    refused = Counter(str(e.details.get("code")) for e in of("file-refused"))

    # money, reconciled per invoice
    oc_paid: dict[str, int] = {}
    decompte_invoice = {
        f"{e.actor}/{e.details['decompte']}": str(e.invoice) for e in of("decompte-sent")
    }
    for e in of("decompte-paid"):
        invoice = decompte_invoice.get(str(e.details["decompte"]))
        if invoice:
            oc_paid[invoice] = oc_paid.get(invoice, 0) + e.details["amount"]
    # what the PS read, summed over every return naming the invoice (a rebilled invoice is
    # read twice: paid once, then rejected 2900 005 with nothing paid)
    reconciled_amo: dict[str, int] = {}
    for e in of("invoice-reconciled"):
        reconciled_amo[str(e.invoice)] = reconciled_amo.get(str(e.invoice), 0) + e.details["amo"]
    money = {"billed": 0, "amo": 0, "c2s": 0, "oc": 0, "patient": 0, "penalties": penalties}
    by_care: dict[str, Counter[str]] = {}
    unreconciled = []
    double_payments = 0
    for inv, e in billed.items():
        outcomes = settled.get(inv, [])
        paid_events = [x for x in outcomes if x.details["status"] == "paid"]
        double_payments += max(0, len(paid_events) - 1)
        amo = sum(x.details["amo"] for x in paid_events)
        # the C2S part the caisse pays besides (journals of earlier versions have none)
        c2s = sum(x.details.get("c2s", 0) for x in paid_events)
        oc = oc_paid.get(inv, 0)
        patient = e.details["billed"] - amo - c2s - oc
        money["billed"] += e.details["billed"]
        money["amo"] += amo
        money["c2s"] += c2s
        money["oc"] += oc
        money["patient"] += patient
        # journals of earlier versions say neither the care nor the dépassements
        care = by_care.setdefault(str(e.details.get("care", "unknown")), Counter())
        care.update(invoices=1, lines=e.details["lines"], billed=e.details["billed"],
                    depassements=e.details.get("depassement", 0), amo=amo, c2s=c2s, oc=oc,
                    patient=patient)  # fmt: skip
        # what was kept from the patient's reimbursement: PF and franchises of an invoice paid
        # to the assuré (under tiers payant they are deferred to the assuré's account instead)
        deductions = sum(
            x.details["pf"] + x.details["franchise"]
            for x in paid_events
            if x.details.get("payee") != "ps"
        )
        if outcomes and (patient < deductions or reconciled_amo.get(inv, amo) != amo):
            unreconciled.append(inv)

    # files: sent, received, lost in flight
    receipts = Counter((e.actor, str(e.details.get("name"))) for e in of("file-received"))
    # a file whose upload failed is undelivered (its sender knows and retries), not lost
    failed = {(e.actor, str(e.details.get("name"))) for e in of("upload-failed")}
    # a REST document its webhook refused (a 4xx) is undelivered too, and journaled as such
    failed |= {(e.actor, str(e.details.get("name"))) for e in of("file-undeliverable")}
    # what an external party does with its retour/ is its own conformance, not the network's
    externals = {str(e.details["party"]) for e in of("external-party")}
    lost: list[str] = []
    undelivered: set[str] = set()
    for e in of("file-sent"):
        name = str(e.details.get("name"))
        to = str(e.details.get("to"))
        if (to, name) in receipts or name in lost or to in externals:
            continue
        if (e.actor, name) in failed:
            undelivered.add(name)
        elif add_jours_ouvres(e.at, 1) < end:
            lost.append(name)
    by_prefix = Counter(str(e.details.get("name", "")).split("-")[0] for e in of("file-sent"))
    hourly = Counter(e.at.replace(minute=0, second=0, microsecond=0) for e in of("file-sent"))
    if events:  # every hour of the run, the empty ones too
        hour = events[0].at.replace(minute=0, second=0, microsecond=0)
        while hour <= end:
            hourly.setdefault(hour, 0)
            hour += timedelta(hours=1)
    alerts = _alerts(of("alert-firing"), of("alert-resolved"))
    paid_invoices = sum(1 for inv in billed if any(x.details["status"] == "paid"
                                                  for x in settled.get(inv, [])))  # fmt: skip
    figures: dict[str, Any] = {
        "sla_breaches": sum(r["breaches"] for r in sla_results),
        "lost_files": len(lost),
        "undelivered_files": len(undelivered),
        "double_payments": double_payments,
        "duplicated_files": sum(1 for n in receipts.values() if n > 1),
        "negative_arl": arl_status.get("N", 0),
        "refused_files": sum(refused.values()),
        "links_blocked": len({e.details["beneficiaire"] for e in of("link-blocked")}),
        "failovers": len(of("failover")),
        "transfer_failures": len(of("upload-failed")) + len(of("poll-failed")),
        "ij_discrepancies": len(of("ij-discrepancy")),
        "reject_rate": round(sum(amo_rejects.values()) / len(billed), 4) if billed else 0.0,
        "amounts_reconciled": not unreconciled,
        "alerts_fired": len(of("alert-firing")),
        "alerts_firing": sum(1 for a in alerts if a["resolved_at"] is None),
    }
    if invalid is not None:
        figures["invalid_files"] = len(invalid)
    expectations = [_check(key, value, figures) for key, value in expect.items()]
    return {
        "counts": {
            "files": len(of("file-sent")),
            "lots": len(sent_lots),
            "invoices": len(billed),
            "decomptes": len(of("decompte-sent")),
            "ij": len(of("ij-sent")),
            "events": len(events),
        },
        "files_by_kind": dict(sorted(by_prefix.items())),
        "sla": sla_results,
        "rejects": {
            "amo": dict(sorted(amo_rejects.items())),
            "arl": dict(sorted(arl_codes.items())),
            "arl_status": dict(sorted(arl_status.items())),
            "oc": dict(sorted(oc_rejects.items())),
            "refused_files": dict(sorted(refused.items())),
        },
        "money": money,
        "money_by_care": {care: _money_row(row) for care, row in sorted(by_care.items())},
        "late_payments": dict(late),
        "automation_rate": round(paid_invoices / len(billed), 4) if billed else None,
        "figures": figures,
        "expectations": expectations,
        "unreconciled": unreconciled[:20],
        "lost": lost[:20],
        "invalid": (invalid or [])[:20],
        "hourly": [[h.isoformat(), n] for h, n in sorted(hourly.items())],
        "alerts": alerts,
        "timeline": _timeline(of("file-sent")),
        "negatives": _negatives(kinds),
        "reject_labels": {
            "amo": {c: codes.AMO[c].label for c in amo_rejects if c in codes.AMO},
            "arl": {c: codes.ARL[c].label for c in arl_codes if c in codes.ARL},
            "oc": {c: codes.OC[c].label for c in oc_rejects if c in codes.OC},
        },
    }


#: the columns of a row of ``money_by_care``, in the order the report shows them
MONEY_BY_CARE = ("invoices", "lines", "billed", "depassements", "amo", "c2s", "oc", "patient")


def _money_row(counted: Mapping[str, int]) -> dict[str, int]:
    """One kind of care's row of ``money_by_care``: every column, 0 where nothing counted."""
    return {column: counted.get(column, 0) for column in MONEY_BY_CARE}


def _negatives(kinds: dict[str, list[Event]], limit: int = 3000) -> list[list[Any]]:
    """[[time, actor, what]...] of the negative outcomes, in time order (the first
    ``limit``): negative ARL lots, files refused on reception, invoices rejected by the caisse,
    décomptes rejected by a mutuelle."""
    found = [
        *((e, f"negative ARL {e.lot}") for e in kinds.get("arl-sent", [])
          if e.details["status"] == "N"),
        *((e, f"file refused: {e.details.get('code')}") for e in kinds.get("file-refused", [])),
        *((e, f"invoice {e.invoice} rejected {e.details['code']}")
          for e in kinds.get("invoice-liquidated", []) if e.details["status"] == "rejected"),
        *((e, f"décompte rejected {e.details['code']}")
          for e in kinds.get("decompte-rejected", []) if e.actor == e.oc),
    ]  # fmt: skip
    found.sort(key=lambda item: item[0].seq)
    return [[e.at.isoformat(), e.actor, what] for e, what in found[:limit]]


def _alerts(fired: list[Event], resolved: list[Event]) -> list[dict[str, Any]]:
    """Each alert that fired: its name, labels, severity, condition, the value that fired it,
    when it fired and when it resolved (None while it still fires)."""
    ends: dict[tuple[str, str, str], list[Event]] = {}
    for e in resolved:
        key = (str(e.details["alert"]), _labels(e), str(e.details["fired_at"]))
        ends.setdefault(key, []).append(e)
    result = []
    for e in fired:
        d = e.details
        end = ends.get((str(d["alert"]), _labels(e), e.at.isoformat()))
        result.append({
            "name": d["alert"],
            "labels": d["labels"],
            "severity": d["severity"],
            "condition": d["condition"],
            "value": d["value"],
            "summary": d.get("summary", ""),
            "fired_at": e.at.isoformat(),
            "resolved_at": end[0].at.isoformat() if end else None,
        })  # fmt: skip
    return result


def _labels(e: Event) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(e.details["labels"].items()))


def _check(key: str, expected: float | bool, figures: dict[str, Any]) -> dict[str, Any]:
    base = key.removesuffix("_max").removesuffix("_min")
    actual = figures[base]
    if key.endswith("_max"):
        ok = actual <= expected
    elif key.endswith("_min"):
        ok = actual >= expected
    else:
        ok = actual == expected
    return {
        "name": key,
        "description": EXPECTATIONS[key],
        "expected": expected,
        "actual": actual,
        "verdict": "pass" if ok else "fail",
    }


def _timeline(sent: list[Event], limit: int = 3000) -> list[list[Any]]:
    """[[time, from, to, kind]...] of the files exchanged (the first ``limit``)."""
    return [
        [
            e.at.isoformat(),
            e.actor,
            e.details.get("to"),
            str(e.details.get("name", "")).split("-")[0],
        ]
        for e in sent[:limit]
    ]


def merge(parts: list[dict[str, Any]], expect: dict[str, float | bool]) -> dict[str, Any]:
    """The figures of one run made of ``parts`` (the figures of its shards, as
    :func:`measure` gives them): counts, money, rejects and breaches added; each flow's
    percentiles, maximum and histogram from its merged delays (exact to the 0.01 h they are
    kept to); rates weighted by invoices; ``expect`` judged on the merged figures; lists of
    examples merged in time order, up to their limits."""

    def added(dicts: list[dict[str, Any]]) -> dict[str, Any]:
        total: dict[str, Any] = {}
        for d in dicts:
            for k, v in d.items():
                total[k] = total.get(k, 0) + v
        return dict(sorted(total.items()))

    invoices = [p["counts"]["invoices"] for p in parts]
    all_invoices = sum(invoices)

    def weighted(values: list[float | None]) -> float | None:
        if not all_invoices:
            return None
        total = sum(float(v or 0.0) * n for v, n in zip(values, invoices, strict=True))
        return float(round(total / all_invoices, 4))

    flows: dict[str, list[dict[str, Any]]] = {}
    for p in parts:
        for flow in p["sla"]:
            flows.setdefault(flow["name"], []).append(flow)
    sla = [_merged_flow(entries) for entries in flows.values()]
    figures: dict[str, Any] = {}
    for key in parts[0]["figures"] if parts else ():
        values = [p["figures"][key] for p in parts]
        if key == "reject_rate":
            figures[key] = weighted(values) or 0.0
        elif isinstance(values[0], bool):
            figures[key] = all(values)
        else:
            figures[key] = sum(values)
    figures["sla_breaches"] = sum(f["breaches"] for f in sla)
    by_time = sorted((row for p in parts for row in p["timeline"]), key=lambda r: str(r[0]))
    negatives = sorted((row for p in parts for row in p["negatives"]), key=lambda r: str(r[0]))
    return {
        "counts": added([p["counts"] for p in parts]),
        "files_by_kind": added([p["files_by_kind"] for p in parts]),
        "sla": sla,
        "rejects": {
            key: added([p["rejects"][key] for p in parts])
            for key in ("amo", "arl", "arl_status", "oc", "refused_files")
        },
        "money": added([p["money"] for p in parts]),
        "money_by_care": _merged_by_care(parts, added),
        "late_payments": added([p["late_payments"] for p in parts]),
        "automation_rate": weighted([p["automation_rate"] for p in parts]),
        "figures": figures,
        "expectations": [_check(key, value, figures) for key, value in expect.items()],
        "unreconciled": [x for p in parts for x in p["unreconciled"]][:20],
        "lost": [x for p in parts for x in p["lost"]][:20],
        "invalid": [x for p in parts for x in p.get("invalid", [])][:20],
        "hourly": sorted(added([dict(p["hourly"]) for p in parts]).items()),
        "alerts": sorted(
            (a for p in parts for a in p.get("alerts", [])), key=lambda a: str(a["fired_at"])
        ),
        "timeline": by_time[:3000],
        "negatives": negatives[:3000],
        "reject_labels": {
            key: {c: label for p in parts for c, label in p["reject_labels"][key].items()}
            for key in ("amo", "arl", "oc")
        },
    }


def _merged_by_care(
    parts: list[dict[str, Any]], added: Callable[[list[dict[str, Any]]], dict[str, Any]]
) -> dict[str, dict[str, int]]:
    """``money_by_care`` of several runs: each kind of care's rows added."""
    rows = [p.get("money_by_care", {}) for p in parts]  # none in earlier versions' reports
    return {
        care: _money_row(added([r[care] for r in rows if care in r]))
        for care in sorted({care for r in rows for care in r})
    }


def _merged_flow(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """One flow of several runs: see :func:`merge`."""
    counted: dict[float, int] = {}
    for entry in entries:
        for hours, n in entry["delays"]:
            counted[hours] = counted.get(hours, 0) + n
    delays = [h for h, n in sorted(counted.items()) for _ in range(n)]
    first = entries[0]
    breaches = sum(e["breaches"] for e in entries)
    return {
        **{k: first[k] for k in ("name", "what", "limit", "limit_hours", "limit_business")},
        "count": sum(e["count"] for e in entries),
        "done": sum(e["done"] for e in entries),
        "pending": sum(e["pending"] for e in entries),
        "p50_hours": _percentile(delays, 50),
        "p95_hours": _percentile(delays, 95),
        "max_hours": round(delays[-1], 2) if delays else None,
        "breaches": breaches,
        "verdict": "pass" if breaches == 0 else "fail",
        "histogram": _histogram(delays, first["limit_hours"]) if delays else [],
        "delays": sorted([h, n] for h, n in counted.items()),
    }


def _visit_time(billed: Event) -> datetime:
    """When the visit of an ``invoice-billed`` event took place."""
    care_at = billed.details.get("care_at")
    if care_at:
        return datetime.fromisoformat(str(care_at))
    return datetime.combine(date.fromisoformat(billed.details["care_date"]), billed.at.timetz())
