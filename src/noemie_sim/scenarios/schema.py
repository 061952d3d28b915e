"""Scenario files: TOML read into a :class:`Scenario`, strictly.

Every key is known and every value checked; the first problem raises :class:`ScenarioError`
with the key path (``faults[2].duration``), what was expected and what was found. The format
is documented in docs/scenarios.md; :data:`SPECIALTY_NAMES`, :data:`FAULT_KINDS` and
:data:`SLA_DEFAULTS` are the vocabularies it uses.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from noemie_sim.actors.cpam import CpamBehaviour
from noemie_sim.actors.employer import EmployerBehaviour
from noemie_sim.actors.mutuelle import MutuelleBehaviour
from noemie_sim.actors.network import NetworkConfig, PractitionerGroup
from noemie_sim.actors.practitioner import PractitionerBehaviour
from noemie_sim.sim.domain.nomenclature import SPECIALTY_BY_KIND
from noemie_sim.sim.domain.population import CAISSES, PopulationConfig

from .i18n import N_

#: Practitioner kinds a scenario may name, and their specialty codes (the nomenclature's).
SPECIALTY_NAMES = {kind: specialty.code for kind, specialty in SPECIALTY_BY_KIND.items()}

#: How a mutuelle takes its décomptes: fetched from its caisses' SFTP hubs, or POSTed to its
#: webhook as signed JSON documents (docs/scenarios.md, [mutuelles]).
CHANNELS = ("sftp", "rest")
#: The forms a mutuelle may take its décomptes in: B2 records of nature DEC, or NOEMIE OC
#: (docs/scenarios.md, [mutuelles]).
DECOMPTE_FORMS = ("b2", "noemie-oc")

#: Fault kinds, what they target and whether they last.
FAULT_KINDS = {
    "sftp-outage": ("cpam", True, "the caisse's SFTP server stops; partners retry"),
    "actor-down": ("any", True, "an actor stops working; files wait in its mailboxes"),
    "mutuelle-late": ("oc", True, "a mutuelle stops answering and paying for a while"),
    "revoke-certificate": ("any", False, "the party's certificate is revoked"),
    "corrupt-lot": ("ps", False, "the PS's next file has a broken record"),
    "truncate-file": ("ps", False, "the PS's next sealed file is cut in half in transit"),
    "duplicate-lot": ("ps", False, "the PS sends its last accepted lot again"),
    "rebill-invoice": ("ps", False, "the PS bills an invoice already paid again"),
    "clock-skew": ("any", False, "the actor's own clock is off by `offset`"),
    "network-faults": ("cpam", True, "connections to the caisse's hub are cut and delayed"),
}

#: Delay SLAs measured by default (norms.md §8.1, seeds/001 and 002).
SLA_DEFAULTS = {
    "arl": "2 jours ouvrés",
    "fse_sent": "3 jours ouvrés",  # R161-47: the patient paid (no tiers payant)
    "fse_sent_tiers_payant": "8 jours ouvrés",  # R161-47: dispense d'avance des frais
    "tiers_payant_payment": "7 jours ouvrés",
    "decompte_to_oc": "5 jours ouvrés",  # a convention: seeds/001's figure, no text sets it
    # seeds/001: "moins de 48 heures", read as two working days (a convention, see
    # docs/scenarios.md); a scenario may say "48h" for the calendar reading
    "oc_payment": "2 jours ouvrés",
    "link_activation": "5 jours ouvrés",
}
#: What each SLA measures, from which moment to which, as the reports name it to a person.
SLA_FLOWS = {
    "arl": N_("lot sent → its ARL"),
    "fse_sent": N_("day of care → lot sent (the patient paid)"),
    "fse_sent_tiers_payant": N_("day of care → lot sent (tiers payant)"),
    "tiers_payant_payment": N_("lot accepted → the PS paid (tiers payant)"),
    "decompte_to_oc": N_("invoice settled → décompte sent to the mutuelle"),
    "oc_payment": N_("décompte available → paid or rejected by the mutuelle"),
    "link_activation": N_("NOEMIE link asked → active"),
}

#: Ranges of the values a scenario gives (docs/scenarios.md lists them): whatever is outside
#: is refused with its key path, before anything runs.
START_RANGE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2099, 12, 31, 23, 59, tzinfo=UTC))
DURATION_JOURS = (1, 300)  # [scenario] duration: a year and two months of jours ouvrés at most
SETTLE_JOURS = (0, 60)
DAY = 86400.0
#: (shortest, longest) calendar durations in seconds, and the most jours ouvrés, per use
SLA_LIMITS = (60.0, 60 * DAY, 60)
FAULT_DURATION_LIMITS = (1.0, 365 * DAY, 260)
OFFSET_LIMITS = (1.0, 3650 * DAY, 0)  # a clock skew of up to ten years (certificate expiry)
LATENCY_LIMITS = (0.0, 600.0, 0)
ARL_TIMEOUT_JOURS = (1, 30)
MAX_MUTUELLES = 1000  # seed 001 counts about 500 organismes complémentaires
LINK_DELAY_JOURS = (0, 60)
EXPECT_COUNT_MAX = 10**9
#: Figures a scenario may assert in [expect]; numbers are exact unless the key ends in _max.
EXPECTATIONS = {
    "sla_breaches": N_("SLA breaches, all flows"),
    "lost_files": N_(
        "files sent to a simulated party and never received (in flight at the end "
        "excepted; what an external party fetches is its own conformance)"
    ),
    "double_payments": N_("invoices paid more than once"),
    "undelivered_files": N_("files whose upload still failed at the end of the run"),
    "negative_arl_max": N_("at most this many negative ARL lots"),
    "negative_arl_min": N_("at least this many negative ARL lots"),
    "refused_files_min": N_("at least this many files refused on reception"),
    "failovers_min": N_("at least this many switches of a partner to a standby SFTP server"),
    "links_blocked_min": N_("at least this many bénéficiaires whose link two mutuelles block"),
    "ij_discrepancies_max": N_("at most this many IJ discrepancies found by employers"),
    "ij_discrepancies_min": N_("at least this many IJ discrepancies found by employers"),
    "reject_rate_max": N_("at most this share of invoices rejected by the caisse (0 to 1)"),
    "amounts_reconciled": N_("true: AMO + OC + patient = billed for every invoice"),
    "invalid_files": N_(
        "emitted files that `validate` refuses (those a fault broke on purpose "
        "excepted), checked in the run folder's archive"
    ),
    "alerts_fired_min": N_("at least this many alerts fired ([[alerts]])"),
    "alerts_firing_max": N_("at most this many alerts still firing at the end of the run"),
}

#: Figures an alert's condition may watch ([[alerts]] ``when``), evaluated on the simulated
#: clock every :data:`ALERT_EVERY` (scenarios/reports/operations.py computes them). Those
#: marked per caisse fire once per caisse (label ``caisse``).
ALERT_FIGURES = {
    "hub_down_minutes": "minutes the caisse's SFTP server has been down (0 when up), per caisse",
    "reject_rate": "share of invoices rejected by the caisse so far (as the report's)",
    "negative_arl_rate": "share of ARLs sent so far that are negative",
    "sla_p95_hours": "p95 delay of the flow named by `sla`, in hours, so far (as the report's)",
    "decompte_backlog": "décomptes sent to mutuelles and not yet paid or rejected by them",
    "decomptes_per_hour": "décomptes sent in the last hour of simulated time",
    "transfer_failures_per_hour": "failed uploads and polls in the last hour of simulated time",
}
ALERT_SEVERITIES = ("critical", "warning", "info")
#: how often alerts are evaluated, in simulated time (Prometheus' evaluation_interval)
ALERT_EVERY = timedelta(minutes=5)
ALERT_FOR_LIMITS = (0.0, 60 * DAY, 0)
MAX_ALERTS = 50


class ScenarioError(ValueError):
    """A scenario that cannot be run: where (key path), what was expected, what was found."""

    def __init__(self, path: str, expected: str, found: object = None) -> None:
        where = path or "the scenario"
        text = f"{where}: expected {expected}"
        if found is not None:
            text += f", found {found!r}"
        super().__init__(text)
        self.path, self.expected, self.found = path, expected, found


@dataclass(frozen=True)
class Duration:
    """A delay as scenarios say it: calendar time, or a count of jours ouvrés."""

    seconds: float = 0.0
    jours_ouvres: int = 0
    text: str = ""
    business: bool = False  # counted in jours ouvrés (then ``seconds`` is 0)

    def __str__(self) -> str:
        return self.text


_DURATION = re.compile(
    r"\s*(\d+(?:\.\d+)?)\s*(jours? ouvr[ée]s?|min|ms|h|d|days?|jours?|s)\s*", re.IGNORECASE
)


def parse_duration(text: str, path: str) -> Duration:
    """ "2 jours ouvrés", "48h", "30min", "3 days", "90s"; ScenarioError otherwise."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ScenarioError(path, 'a duration like "2 jours ouvrés", "48h", "30min"', text)
    amount, unit = float(match.group(1)), match.group(2).lower()
    if unit.startswith("jour") and "ouvr" in unit:
        if amount > 10**6:  # also keeps int() below from an infinite float
            raise ScenarioError(path, "at most 1000000 jours ouvrés", text)
        if amount != int(amount):
            raise ScenarioError(path, "a whole number of jours ouvrés", text)
        return Duration(jours_ouvres=int(amount), text=text.strip(), business=True)
    factor = {"ms": 0.001, "s": 1, "min": 60, "h": 3600}.get(unit, 86400)
    return Duration(seconds=amount * factor, text=text.strip())


def bounded(duration: Duration, path: str, limits: tuple[float, float, int]) -> Duration:
    """``duration`` if within ``limits`` (shortest and longest calendar duration in seconds,
    most jours ouvrés, 0 when jours ouvrés are not allowed); ScenarioError otherwise."""
    low, high, jours = limits
    if duration.business:
        if not jours:
            raise ScenarioError(path, "a calendar duration (s, min, h, days), not jours ouvrés",
                                duration.text)  # fmt: skip
        if not 1 <= duration.jours_ouvres <= jours:
            raise ScenarioError(path, f"from 1 to {jours} jours ouvrés", duration.text)
        return duration
    if not low <= duration.seconds <= high:
        raise ScenarioError(path, f"a duration from {_span(low)} to {_span(high)}", duration.text)
    return duration


def _span(seconds: float) -> str:
    for unit, size in (("days", DAY), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


@dataclass(frozen=True)
class Fault:
    """A fault injected at ``at`` ("day N HH:MM": the N-th jour ouvré of the run, from 1)."""

    at: str
    kind: str
    target: str
    duration: Duration | None = None
    offset: Duration | None = None
    cut_rate: float = 0.0
    latency: Duration | None = None


@dataclass(frozen=True)
class Alert:
    """An alerting rule: it fires once ``when`` has been over ``above`` (or under ``below``)
    for ``for_`` of simulated time, and resolves when it no longer is (docs/scenarios.md,
    "Alerts")."""

    name: str
    when: str
    above: float | None = None
    below: float | None = None
    for_: timedelta = timedelta(0)
    severity: str = "warning"
    sla: str | None = None
    summary: str = ""

    @property
    def condition(self) -> str:
        """The condition in a few words: ``sla_p95_hours(arl) > 24``."""
        figure = f"{self.when}({self.sla})" if self.sla else self.when
        op, threshold = (">", self.above) if self.above is not None else ("<", self.below)
        text = f"{figure} {op} {threshold:g}"
        if self.for_:
            text += f" for {self.for_.total_seconds() / 60:g}min"
        return text

    def holds(self, value: float) -> bool:
        if self.above is not None:
            return value > self.above
        assert self.below is not None
        return value < self.below


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    config: NetworkConfig
    faults: tuple[Fault, ...] = ()
    sla: dict[str, Duration] = field(default_factory=dict)
    expect: dict[str, float | bool] = field(default_factory=dict)
    expect_exit: int = 0
    source: str = ""
    #: "caisse": the run is a set of shards, one per caisse, each its own network
    #: (scenarios/shards.py); None: one network
    shard_by: str | None = None
    alerts: tuple[Alert, ...] = ()
    #: the description in other languages than English (``description_fr``)
    translations: dict[str, str] = field(default_factory=dict)

    def described(self, lang: str) -> str:
        """The description in ``lang`` when the scenario gives it, else in English."""
        return self.translations.get(lang) or self.description


class _Table:
    """A TOML table being read: every key taken is checked; :meth:`done` refuses the rest."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, dict):
            raise ScenarioError(path, "a table", data)
        self.data: dict[str, Any] = data
        self.path = path
        self.taken: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, default: object = None) -> Any:
        self.taken.add(key)
        return self.data.get(key, default)

    def has(self, key: str) -> bool:
        return key in self.data

    def integer(self, key: str, default: int, low: int = 0, high: int = 10**9) -> int:
        value = self.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ScenarioError(self._key(key), f"a whole number from {low} to {high}", value)
        return value

    def number(self, key: str, default: float, low: float = 0.0, high: float = 1.0) -> float:
        value = self.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not low <= value <= high
        ):
            raise ScenarioError(self._key(key), f"a number from {low} to {high}", value)
        return float(value)

    def text(self, key: str, default: str | None = None, choices: tuple[str, ...] = ()) -> str:
        value = self.get(key, default)
        if not isinstance(value, str) or not value:
            raise ScenarioError(self._key(key), "a text", value)
        if choices and value not in choices:
            raise ScenarioError(self._key(key), "one of " + ", ".join(choices), value)
        return value

    def duration(
        self, key: str, default: str | None, limits: tuple[float, float, int]
    ) -> Duration | None:
        value = self.get(key, default)
        if value is None:
            return None
        return bounded(parse_duration(value, self._key(key)), self._key(key), limits)

    def jours(self, key: str, default: int, low: int, high: int) -> int:
        """A count of jours ouvrés, written "N jours ouvrés", from ``low`` to ``high``."""
        value = self.get(key, f"{default} jours ouvrés")
        duration = parse_duration(value, self._key(key))
        if not duration.business or not low <= duration.jours_ouvres <= high:
            raise ScenarioError(self._key(key), f"from {low} to {high} jours ouvrés", value)
        return duration.jours_ouvres

    def pair(self, key: str, default: tuple[int, int], high: int) -> tuple[int, int]:
        value = self.get(key, list(default))
        if (
            not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= high
                       for v in value)
            or value[0] > value[1]
        ):  # fmt: skip
            raise ScenarioError(
                self._key(key), f"[LOW, HIGH], whole numbers from 0 to {high}, LOW <= HIGH", value
            )
        return (value[0], value[1])

    def table(self, key: str) -> _Table:
        return _Table(self.get(key, {}), self._key(key))

    def tables(self, key: str) -> list[_Table]:
        value = self.get(key, [])
        if not isinstance(value, list):
            raise ScenarioError(self._key(key), "an array of tables ([[" + key + "]])", value)
        return [_Table(v, f"{self._key(key)}[{n}]") for n, v in enumerate(value, start=1)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.taken)
        if unknown:
            close = difflib.get_close_matches(unknown[0], sorted(self.taken), n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            raise ScenarioError(
                self._key(unknown[0]),
                f"a known key{hint} among " + ", ".join(sorted(self.taken)),
                "unknown key",
            )


def load(path: Path | str, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read a scenario file; ScenarioError (with the file name) when it is not valid.
    ``overrides`` replaces keys of [scenario] (seed, scale)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(path), "a readable UTF-8 TOML file", str(exc)) from None
    try:
        return parse(text, overrides)
    except ScenarioError as exc:
        where = f"{path.name}: {exc.path}" if exc.path else path.name
        raise ScenarioError(where, exc.expected, exc.found) from None


def parse(text: str, overrides: dict[str, Any] | None = None) -> Scenario:
    """A scenario from TOML text. ``overrides`` replaces [scenario] keys (seed, scale...)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError("", "valid TOML", str(exc)) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ScenarioError("", "valid TOML", "arrays or tables nested too deep") from None
    root = _Table(data, "")
    head = root.table("scenario")
    for key, value in (overrides or {}).items():
        head.data[key] = value
    name = head.text("name")
    description = head.get("description", "")
    if not isinstance(description, str):
        raise ScenarioError("scenario.description", "a text", description)
    translations = {"fr": head.get("description_fr", "")}
    if not isinstance(translations["fr"], str):
        raise ScenarioError("scenario.description_fr", "a text", translations["fr"])
    seed = head.integer("seed", 1, 0, 2**63 - 1)
    start = _start(head.get("start", datetime(2026, 3, 2, 6, 0)))
    duration = head.jours("duration", 5, *DURATION_JOURS)
    settle = head.jours("settle", 2, *SETTLE_JOURS)
    clock = head.text("clock", "virtual", ("virtual", "scaled"))
    speed = head.number("speed", 600.0, 1.0, 1e9) if clock == "scaled" else None
    transport = head.text("transport", "sftp", ("sftp", "memory"))
    scale = head.number("scale", 1.0, 1e-9, 1.0)
    expect_exit = head.integer("expect_exit", 0, 0, 1)
    shard_by = head.text("shard_by", "none", ("none", "caisse"))
    head.done()

    population = _population(root.table("population"), scale)
    groups = tuple(_group(t, scale) for t in root.tables("practitioners"))
    cpam_table = root.table("cpam")
    standby = cpam_table.get("standby", False)
    if not isinstance(standby, bool):
        raise ScenarioError("cpam.standby", "true or false", standby)
    cpam = _cpam(cpam_table)
    mutuelle, rest_mutuelles, noemie_oc = _mutuelle(root.table("mutuelles"), population.mutuelles)
    employer = _employer(root.table("employers"))
    faults = tuple(_fault(t) for t in root.tables("faults"))
    sla_table = root.table("sla")
    sla = {}
    for key in SLA_DEFAULTS:
        if sla_table.get(key) == "off":
            continue  # a flow this scenario does not judge
        value = sla_table.duration(key, SLA_DEFAULTS[key], SLA_LIMITS)
        assert value is not None
        sla[key] = value
    sla_table.done()
    expect = _expect(root.table("expect"))
    alerts = _alerts(root.tables("alerts"), sla)
    root.done()
    config = NetworkConfig(
        seed=seed,
        start=start,
        jours_ouvres=duration,
        settle_jours_ouvres=settle,
        speed=speed,
        transport=transport,
        population=population,
        cpam=cpam,
        mutuelle=mutuelle,
        employer=employer,
        practitioner_groups=groups,
        standby_hubs=standby,
        rest_mutuelles=rest_mutuelles,
        noemie_oc_mutuelles=noemie_oc,
        fault_proxies=any(f.kind == "network-faults" for f in faults),
    )
    for n, fault in enumerate(faults, start=1):
        if fault.kind == "network-faults" and transport != "sftp":
            raise ScenarioError(f"faults[{n}].kind", "the sftp transport for network faults",
                                transport)  # fmt: skip
    if shard_by == "caisse" and faults:
        raise ScenarioError("faults", "no fault in a scenario sharded by caisse (shard_by): "
                            "faults are not modelled across shards yet", len(faults))  # fmt: skip
    if shard_by == "caisse" and alerts:
        raise ScenarioError("alerts", "no alert in a scenario sharded by caisse (shard_by): "
                            "alerts watch one network", len(alerts))  # fmt: skip
    _check_buildable(population, groups, shard_by == "caisse")
    for n, fault in enumerate(faults, start=1):
        moment = fault_moment(fault.at, config)
        if moment >= config.end:
            last = duration + settle
            raise ScenarioError(f"faults[{n}].at", f"a moment of the run: day 1 to day {last} "
                                f"(it ends {config.end:%Y-%m-%d %H:%M})", fault.at)  # fmt: skip
    return Scenario(name, description, config, faults, sla, expect, expect_exit, text,
                    None if shard_by == "none" else shard_by, alerts,
                    {k: v for k, v in translations.items() if v})  # fmt: skip


#: The most one network holds (docs/scenarios.md, "How large"): parties, each with its RSA
#: key and certificate and an SFTP client (the national PKI of 36 859 parties is made in 39 s
#: from the key pool), and assurés (about 1 KB and 22 µs each to build: 2 million is 2 GB and
#: 45 s). A larger population is refused before anything is built, saying so.
MAX_NETWORK_PARTIES = 40_000
MAX_NETWORK_ASSURES = 2_000_000
#: The most parties of a run sharded by caisse: its PKI is made before the shards, a key each
#: (RSA keys are generated at about 22 a second per core, once, then kept in the key pool).
MAX_RUN_PARTIES = 100_000


def _check_buildable(
    population: PopulationConfig, groups: tuple[PractitionerGroup, ...], sharded: bool
) -> None:
    """ScenarioError when one network (one shard, sharded by caisse) would hold more than
    this machine can build in reasonable time and memory."""
    shards = population.caisses if sharded else 1
    practitioners = sum(g.count for g in groups) if groups else population.practitioners
    parties = practitioners + population.employers + population.caisses
    per_network = -(-parties // shards) + population.mutuelles  # every shard has every OC
    where = " per caisse (shard)" if sharded else " in one network"
    hint = "" if sharded else '; shard_by = "caisse" spreads them over one network per caisse'
    if sharded and parties + population.mutuelles > MAX_RUN_PARTIES:
        raise ScenarioError("practitioners", f"at most {MAX_RUN_PARTIES} parties in a run "
                            "sharded by caisse (each needs an RSA key of the run's PKI, made "
                            "before the shards)", parties + population.mutuelles)  # fmt: skip
    if per_network > MAX_NETWORK_PARTIES:
        raise ScenarioError("practitioners", f"at most {MAX_NETWORK_PARTIES} parties{where} "
                            f"(practitioners, employers, caisses, mutuelles){hint}",
                            per_network)  # fmt: skip
    if -(-population.assures // shards) > MAX_NETWORK_ASSURES:
        raise ScenarioError("population.assures", f"at most {MAX_NETWORK_ASSURES} assurés"
                            f"{where}{hint}", population.assures)  # fmt: skip


def _start(value: object) -> datetime:
    if isinstance(value, datetime):
        try:
            moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:
            moment = START_RANGE[1] + timedelta(days=1)
    elif isinstance(value, date):
        moment = datetime.combine(value, time(6), tzinfo=UTC)
    else:
        raise ScenarioError("scenario.start", "a TOML date-time like 2026-03-02T08:00:00", value)
    low, high = START_RANGE
    if not low <= moment <= high:
        raise ScenarioError("scenario.start", f"a date-time from {low:%Y-%m-%d} to {high:%Y-%m-%d}",
                            str(value))  # fmt: skip
    return moment


def _scaled(count: int, scale: float) -> int:
    return max(1, round(count * scale)) if count else 0


def _caisses(t: _Table) -> tuple[int, tuple[int, ...]]:
    """``caisses``: how many (the first ones of the table), or which, by number."""
    value = t.get("caisses", PopulationConfig().caisses)
    known = [number for number, _name in CAISSES]
    if isinstance(value, list):
        if (
            not value
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            or len(set(value)) != len(value)
            or any(v not in known for v in value)
        ):
            raise ScenarioError("population.caisses", "distinct caisse numbers among "
                                + ", ".join(map(str, known)), value)  # fmt: skip
        return len(value), tuple(value)
    return t.integer("caisses", 1, 1, len(CAISSES)), ()


def _population(t: _Table, scale: float) -> PopulationConfig:
    d = PopulationConfig()
    count, numbers = _caisses(t)
    config = PopulationConfig(
        assures=_scaled(t.integer("assures", d.assures, 1, 10_000_000), scale),
        caisses=count,
        caisse_numbers=numbers,
        mutuelles=t.integer("mutuelles", d.mutuelles, 0, MAX_MUTUELLES),
        employers=t.integer("employers", d.employers, 0, 1000),
        employees_per_employer=t.integer(
            "employees_per_employer", d.employees_per_employer, 0, 10_000
        ),
        ald_share=t.number("ald_share", d.ald_share),
        c2s_share=t.number("c2s_share", d.c2s_share),
        tiers_payant_share=t.number("tiers_payant_share", d.tiers_payant_share),
        mutuelle_share=t.number("mutuelle_share", d.mutuelle_share),
        noemie_active_share=t.number("noemie_active_share", d.noemie_active_share),
        double_mutuelle_share=t.number("double_mutuelle_share", d.double_mutuelle_share),
        rights_closed_share=t.number("rights_closed_share", d.rights_closed_share),
        no_medecin_traitant_share=t.number(
            "no_medecin_traitant_share", d.no_medecin_traitant_share
        ),
        split_cover_share=t.number("split_cover_share", d.split_cover_share),
        secteur2_share=t.number("secteur2_share", d.secteur2_share),
        optam_share=t.number("optam_share", d.optam_share),
    )
    t.done()
    return config


def _group(t: _Table, scale: float) -> PractitionerGroup:
    d = PractitionerBehaviour()
    count = _scaled(t.integer("count", 1, 1, 1_000_000), scale)
    kind = t.text("kind", "medecin-generaliste", tuple(SPECIALTY_NAMES))
    send_at = t.get("send_at", d.send_at)
    if not isinstance(send_at, time):
        raise ScenarioError(f"{t.path}.send_at", "a TOML local time like 18:00:00", send_at)
    tiers = t.number("tiers_payant_share", -1.0, -1.0, 1.0) if t.has("tiers_payant_share") else None
    behaviour = PractitionerBehaviour(
        visits_per_day=t.pair("fse_per_day", d.visits_per_day, 1000),
        lot_size=t.integer("lot_size", d.lot_size, 1, 999),
        send_at=send_at,
        arl_timeout=t.jours("arl_timeout", d.arl_timeout, *ARL_TIMEOUT_JOURS),
        foreign_patient_share=t.number("foreign_patient_share", d.foreign_patient_share),
        wrong_act_share=t.number("wrong_act_share", d.wrong_act_share),
        tiers_payant_share=tiers if tiers is None or tiers >= 0 else None,
        send_every=t.jours("send_every", 1, 1, 3) if t.has("send_every") else None,
    )
    t.done()
    return PractitionerGroup(count, SPECIALTY_NAMES[kind], behaviour)


def _cpam(t: _Table) -> CpamBehaviour:
    d = CpamBehaviour()
    config = CpamBehaviour(
        link_delay=t.jours("link_delay", d.link_delay, *LINK_DELAY_JOURS),
        sick_leave_rate=t.number("sick_leave_rate", d.sick_leave_rate),
        salary_error_share=t.number("salary_error_share", d.salary_error_share),
        at_mp_share=t.number("at_mp_share", d.at_mp_share),
        maternity_share=t.number("maternity_share", d.maternity_share),
        paternity_share=t.number("paternity_share", d.paternity_share),
    )
    t.done()
    return config


def _mutuelle(t: _Table, count: int) -> tuple[MutuelleBehaviour, tuple[str, ...], tuple[str, ...]]:
    """The mutuelles' behaviour; those on the REST channel: every one with ``channel =
    "rest"``, or those listed in ``rest``; and those that take their décomptes in NOEMIE OC
    form: every one with ``decomptes = "noemie-oc"``, or those listed in ``noemie_oc`` (OC-N:
    the N-th of the ``count``)."""
    d = MutuelleBehaviour()
    config = MutuelleBehaviour(
        lost_member_share=t.number("lost_member_share", d.lost_member_share),
        ended_contract_share=t.number("ended_contract_share", d.ended_contract_share),
    )
    channel = t.text("channel", "sftp", CHANNELS)
    rest = _some_mutuelles(t, "rest", count, channel == "rest", 'channel = "rest"')
    form = t.text("decomptes", "b2", DECOMPTE_FORMS)
    noemie_oc = _some_mutuelles(t, "noemie_oc", count, form == "noemie-oc",
                                'decomptes = "noemie-oc"')  # fmt: skip
    t.done()
    return config, rest, noemie_oc


def _some_mutuelles(t: _Table, key: str, count: int, every: bool, switch: str) -> tuple[str, ...]:
    """The mutuelles ``key`` lists (OC-N: the N-th of the ``count``), or all of them when
    ``every`` (the scenario said ``switch``, which then takes no list)."""
    listed = t.get(key, [])
    if not isinstance(listed, list) or not all(isinstance(x, str) for x in listed):
        raise ScenarioError(f"{t.path}.{key}", 'a list of mutuelles like ["OC-2"]', listed)
    for n, who in enumerate(listed):
        prefix, _, number = who.rpartition("-")
        if prefix != "OC" or not number.isdigit() or not 1 <= int(number) <= count:
            raise ScenarioError(f"{t.path}.{key}[{n}]", f"OC-1 to OC-{count}", who)
    if every and listed:
        raise ScenarioError(f"{t.path}.{key}", f"no list when {switch} (it is then every "
                            "mutuelle)", listed)  # fmt: skip
    return tuple(f"OC-{n}" for n in range(1, count + 1)) if every else tuple(listed)


def _employer(t: _Table) -> EmployerBehaviour:
    t.done()
    return EmployerBehaviour()


_AT = re.compile(r"day\s+(\d+)\s+(\d{1,2}):(\d{2})")


def fault_moment(at: str, config: NetworkConfig) -> datetime:
    """When a fault's "day N HH:MM" falls in a run of ``config``."""
    from noemie_sim.sim.calendar import add_jours_ouvres, is_jour_ouvre

    match = _AT.fullmatch(at.strip())
    assert match is not None
    n, hour, minute = (int(g) for g in match.groups())
    first = config.start
    while not is_jour_ouvre(first.date()):
        first += timedelta(days=1)
    day = add_jours_ouvres(first, n - 1).date()
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def fault_now(data: object) -> Fault:
    """A fault to inject into a running network now (the HTTP API): the keys of a scenario's
    ``[[faults]]`` but ``at``. ScenarioError (path ``fault.KEY``) when it is not valid."""
    return _fault(_Table(data, "fault"), now=True)


def _fault(t: _Table, now: bool = False) -> Fault:
    at = "now" if now else t.text("at")
    match = _AT.fullmatch(at.strip())
    if not now and (
        match is None
        or not 1 <= int(match.group(1)) <= DURATION_JOURS[1] + SETTLE_JOURS[1]
        or int(match.group(2)) > 23
        or int(match.group(3)) > 59
    ):
        raise ScenarioError(f"{t.path}.at", '"day N HH:MM" (N from 1: the N-th jour ouvré)', at)
    kind = t.text("kind", None, tuple(FAULT_KINDS))
    target = t.text("target")
    _role, lasting, _doc = FAULT_KINDS[kind]
    duration = None
    if lasting or t.has("duration"):
        duration = t.duration("duration", None, FAULT_DURATION_LIMITS)
    if lasting and duration is None:
        raise ScenarioError(f"{t.path}.duration", f"a duration: a {kind} lasts", None)
    offset = t.duration("offset", None, OFFSET_LIMITS) if kind == "clock-skew" else None
    if kind == "clock-skew" and offset is None:
        raise ScenarioError(f"{t.path}.offset", 'how far the clock is off, like "2h"', None)
    cut_rate, latency = 0.0, None
    if kind == "network-faults":
        cut_rate = t.number("cut_rate", 0.2, 0.0, 0.9)
        latency = t.duration("latency", "0s", LATENCY_LIMITS)
    t.done()
    return Fault(at.strip(), kind, target, duration, offset, cut_rate, latency)


def _expect(t: _Table) -> dict[str, float | bool]:
    result: dict[str, float | bool] = {}
    for key in EXPECTATIONS:
        if not t.has(key):
            t.taken.add(key)
            continue
        value = t.get(key)
        if key == "amounts_reconciled":
            if not isinstance(value, bool):
                raise ScenarioError(f"expect.{key}", "true or false", value)
        elif key.startswith("reject_rate"):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 <= value <= 1
            ):
                raise ScenarioError(f"expect.{key}", "a share from 0 to 1", value)
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**9:
            raise ScenarioError(f"expect.{key}", f"a whole number from 0 to {EXPECT_COUNT_MAX}",
                                value)  # fmt: skip
        result[key] = value
    t.done()
    return result


_ALERT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _alerts(tables: list[_Table], sla: dict[str, Duration]) -> tuple[Alert, ...]:
    if len(tables) > MAX_ALERTS:
        raise ScenarioError("alerts", f"at most {MAX_ALERTS} alerts", len(tables))
    alerts: list[Alert] = []
    for t in tables:
        name = t.text("name")
        if not _ALERT_NAME.fullmatch(name):
            raise ScenarioError(f"{t.path}.name", "a name of letters, digits and _ "
                                "(a Prometheus label value, like CaisseHubDown)", name)  # fmt: skip
        if any(a.name == name for a in alerts):
            raise ScenarioError(f"{t.path}.name", "a name no other alert has", name)
        when = t.text("when", None, tuple(ALERT_FIGURES))
        bounds = {key: t.get(key) for key in ("above", "below") if t.has(key)}
        if len(bounds) != 1:
            raise ScenarioError(t.path, "one threshold: above = N or below = N",
                                ", ".join(bounds) or "none")  # fmt: skip
        ((key, threshold),) = bounds.items()
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
                or not 0 <= threshold <= 1e9:  # fmt: skip
            raise ScenarioError(f"{t.path}.{key}", "a number from 0 to 1e9", threshold)
        hold = t.duration("for", "0s", ALERT_FOR_LIMITS)
        assert hold is not None
        flow = None
        if when == "sla_p95_hours":
            flow = t.text("sla", None, tuple(sla))
        elif t.has("sla"):
            raise ScenarioError(f"{t.path}.sla", "no sla: only sla_p95_hours watches a flow",
                                t.get("sla"))  # fmt: skip
        severity = t.text("severity", "warning", ALERT_SEVERITIES)
        summary = t.get("summary", "")
        if not isinstance(summary, str) or len(summary) > 300:
            raise ScenarioError(f"{t.path}.summary", "a text of at most 300 characters", summary)
        t.done()
        alerts.append(Alert(
            name, when, float(threshold) if key == "above" else None,
            float(threshold) if key == "below" else None, timedelta(seconds=hold.seconds),
            severity, flow, summary,
        ))  # fmt: skip
    return tuple(alerts)


def with_overrides(scenario: Scenario, *, seed: int | None = None) -> Scenario:
    """The same scenario with another seed."""
    if seed is None:
        return scenario
    return dataclasses.replace(scenario, config=dataclasses.replace(scenario.config, seed=seed))
