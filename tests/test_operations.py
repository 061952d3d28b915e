"""The operator's view of a run: its alerts ([[alerts]], evaluated on the simulated clock,
sent to an Alertmanager webhook) and its Prometheus metrics (GET /metrics), checked against
the run's own report."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from noemie_sim.scenarios.catalogue import find_scenario
from noemie_sim.scenarios.schema import ScenarioError, parse

from .web_helpers import ROOT, Served, http_receiver, serving


class Receiver:
    """An Alertmanager webhook receiver on loopback: the documents posted to it, in order.
    ``failures`` first posts are answered 503 (the sender must retry)."""

    def __init__(self, failures: int = 0) -> None:
        self.posted: list[dict[str, Any]] = []
        self.failures = failures
        self.changed = threading.Condition()

    def wait_for(self, count: int) -> list[dict[str, Any]]:
        """The documents, once ``count`` have arrived (waits on the posts themselves)."""
        with self.changed:
            while len(self.posted) < count:
                self.changed.wait()
            return list(self.posted)

    def reply(self, _headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
        if self.failures:
            self.failures -= 1
            return 503, b""
        with self.changed:
            self.posted.append(json.loads(body))
            self.changed.notify_all()
        return 200, b""

    @contextmanager
    def serving(self) -> Iterator[str]:
        with http_receiver(self.reply) as url:
            yield url + "alerts"


def _metrics(served: Served) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, parsed by Prometheus' own parser: (name, labels) -> value."""
    answer = served.http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def _sum(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
         **labels: str) -> float:  # fmt: skip
    return sum(
        value for (n, have), value in samples.items()
        if n == name and all(dict(have).get(k) == v for k, v in labels.items())
    )  # fmt: skip


def test_an_outage_fires_an_alert_seen_in_metrics_webhook_and_report(tmp_path: Path) -> None:
    receiver = Receiver(failures=1)  # the first delivery fails: the sender retries it
    with receiver.serving() as url, serving(
        "run", "cpam-outage", "--paused", "--out", str(tmp_path / "run"), "--alert-webhook", url
    ) as served:  # fmt: skip
        served.wait_for_line("the clock is paused")
        http = served.http
        before = _metrics(served)
        caisses = [dict(k[1])["caisse"] for k in before if k[0] == "noemie_hub_up"]
        assert len(caisses) == 2 and all(before[("noemie_hub_up", (("caisse", c),))] == 1
                                         for c in caisses)  # fmt: skip
        assert (
            before[
                ("noemie_alerts_firing", (("alertname", "CaisseHubDown"), ("severity", "critical")))
            ]
            == 0
        )

        # the outage: its alert fires once it has lasted more than 30 minutes
        fired = http.post("/api/clock/advance", json={"until_event": "alert-firing"}).json()
        event = fired["event"]
        assert event["details"]["alert"] == "CaisseHubDown" and "fires" in event["text"]
        down = event["details"]["labels"]["caisse"]
        outage = http.get("/api/events", params={"kind": "outage"}).json()["events"][0]
        assert outage["details"]["party"] == down
        during = _metrics(served)
        assert during[("noemie_hub_up", (("caisse", down),))] == 0
        assert (
            during[
                ("noemie_alerts_firing", (("alertname", "CaisseHubDown"), ("severity", "critical")))
            ]
            == 1
        )
        (firing,) = receiver.wait_for(1)
        assert firing["version"] == "4" and firing["status"] == "firing"
        (alert,) = firing["alerts"]
        assert alert["labels"] == {"alertname": "CaisseHubDown", "severity": "critical",
                                   "caisse": down}  # fmt: skip
        assert alert["startsAt"] == event["details"]["since"] and alert["annotations"]["summary"]

        # the server is back: the alert resolves
        resolved = http.post("/api/clock/advance", json={"until_event": "alert-resolved"}).json()
        assert resolved["event"]["at"] == outage["details"]["until"]
        (_, back) = receiver.wait_for(2)
        assert back["status"] == "resolved" and back["alerts"][0]["endsAt"] == outage[
            "details"]["until"]  # fmt: skip
        assert back["alerts"][0]["fingerprint"] == alert["fingerprint"]

        # to the end of the run: every figure of /metrics is the report's
        http.post("/api/clock/resume")
        with http.stream("GET", "/api/events/stream", params={"after": 0}) as response:
            assert [line for line in response.iter_lines() if line.startswith("event: ")][
                -1] == "event: end"  # fmt: skip
        report = http.get("/api/report").json()
        assert report["run"]["state"] == "complete"
        end = _metrics(served)
        _agree(end, report)
        _dashboard_reads(end)
        assert end[("noemie_hub_up", (("caisse", down),))] == 1
        assert end[("noemie_hub_downtime_seconds_total", (("caisse", down),))] == 4 * 3600
        assert end[("noemie_run_state", (("state", "ended"),))] == 1
        assert receiver.wait_for(2) == receiver.posted[:2] and len(receiver.posted) == 2
        http.post("/api/stop")
        assert served.wait() == 0


def _dashboard_reads(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> None:
    """Every metric the Grafana dashboard of docs/ queries is one /metrics serves."""
    dashboard = json.loads((ROOT / "docs" / "grafana" / "noemie-sim-dashboard.json").read_text())
    served = {name for name, _labels in samples}
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bnoemie_[a-z_]+", target["expr"])
    }
    assert len(queried) > 15 and queried <= served, queried - served


def _agree(m: dict[tuple[str, tuple[tuple[str, str], ...]], float], r: dict[str, Any]) -> None:
    counts = r["counts"]
    for metric, key in (("noemie_lots_total", "lots"), ("noemie_invoices_total", "invoices"),
                        ("noemie_decomptes_total", "decomptes"), ("noemie_ij_total", "ij"),
                        ("noemie_events_total", "events")):  # fmt: skip
        assert m[(metric, ())] == counts[key], metric
    assert _sum(m, "noemie_files_total", direction="sent") == counts["files"]
    for kind, n in r["files_by_kind"].items():
        assert _sum(m, "noemie_files_total", direction="sent", kind=kind) == n, kind
    for status, n in r["rejects"]["arl_status"].items():
        assert m[("noemie_lots_by_arl_total", (("status", status),))] == n
    for source in ("amo", "arl", "oc", "refused_files"):
        for code, n in r["rejects"][source].items():
            assert m[("noemie_rejects_total", (("code", code), ("source", source)))] == n
    assert _sum(m, "noemie_rejects_total") == sum(
        sum(r["rejects"][s].values()) for s in ("amo", "arl", "oc", "refused_files")
    )
    for part, cents in r["money"].items():
        assert m[("noemie_money_cents_total", (("part", part),))] == cents
    assert m[("noemie_automation_rate", ())] == r["automation_rate"]
    assert m[("noemie_reject_rate", ())] == r["figures"]["reject_rate"]
    assert m[("noemie_failovers_total", ())] == r["figures"]["failovers"]
    for flow in r["sla"]:
        sla = (("sla", flow["name"]),)
        assert m[("noemie_sla_delay_hours_count", sla)] == flow["done"]
        assert m[("noemie_sla_breaches", sla)] == flow["breaches"]
        assert m[("noemie_sla_pending", sla)] == flow["pending"]
        within = sum(n for h, n in flow["delays"] if h <= 48)
        assert m[("noemie_sla_delay_hours_bucket", (("le", "48"), *sla))] == within
    fired = {a["name"] for a in r["alerts"]}
    assert m[("noemie_alerts_fired_total", (("alertname", "CaisseHubDown"),))] == 1
    assert fired == {"CaisseHubDown"} and all(a["resolved_at"] for a in r["alerts"])


@pytest.mark.parametrize(
    ("alert", "path", "expected"),
    [
        ('when = "hub_down_minutes"', "alerts[1]", "one threshold"),
        ('when = "hub_down_minutes"\nabove = 1\nbelow = 2', "alerts[1]", "one threshold"),
        ('when = "disk_full"\nabove = 1', "alerts[1].when", "one of hub_down_minutes"),
        ('when = "sla_p95_hours"\nabove = 24', "alerts[1].sla", "a text"),
        ('when = "sla_p95_hours"\nsla = "nope"\nabove = 24', "alerts[1].sla", "one of arl"),
        ('when = "reject_rate"\nsla = "arl"\nabove = 0.1', "alerts[1].sla", "no sla"),
        ('when = "reject_rate"\nabove = -1', "alerts[1].above", "a number from 0"),
        (
            'when = "reject_rate"\nabove = 0.1\nfor = "2 jours ouvrés"',
            "alerts[1].for",
            "a calendar duration",
        ),
        ('when = "reject_rate"\nabove = 0.1\nseverity = "page"', "alerts[1].severity", "one of"),
        ('when = "reject_rate"\nabove = 0.1\ncolour = "red"', "alerts[1].colour", "known key"),
    ],
)
def test_a_wrong_alert_is_refused_with_its_place(alert: str, path: str, expected: str) -> None:
    text = find_scenario("demo").source + f'\n[[alerts]]\nname = "Rule"\n{alert}\n'
    with pytest.raises(ScenarioError) as caught:
        parse(text)
    assert caught.value.path == path and expected in str(caught.value), str(caught.value)


def test_alert_names_are_label_values_and_unique() -> None:
    base = find_scenario("demo").source
    rule = '\n[[alerts]]\nname = "{}"\nwhen = "reject_rate"\nabove = 0.5\n'
    with pytest.raises(ScenarioError, match="letters, digits"):
        parse(base + rule.format("hub down!"))
    with pytest.raises(ScenarioError, match="no other alert"):
        parse(base + rule.format("Same") + rule.format("Same"))
    (parsed,) = parse(base + rule.format("Rejects") + 'for = "1h"\n').alerts
    assert parsed.condition == "reject_rate > 0.5 for 60min"
    sharded = find_scenario("national-day").source + rule.format("Rejects")
    with pytest.raises(ScenarioError, match="alerts watch one network"):
        parse(sharded)
