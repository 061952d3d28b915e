"""A run sharded by caisse: the same digest whatever runs the shards (this process, a pool of
processes, a Ray cluster of several nodes), the report and verdict of the whole run from its
shards, and a run stopped with Ctrl-C left incomplete but valid."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from noemie_sim.actors.network import population_of
from noemie_sim.pki.authority import KeyPool, Pki
from noemie_sim.scenarios import runner, shards
from noemie_sim.scenarios.catalogue import find_scenario
from noemie_sim.scenarios.cli import main
from noemie_sim.scenarios.reports import measure
from noemie_sim.scenarios.reports.validity import invalid_files
from noemie_sim.scenarios.schema import ScenarioError, parse
from noemie_sim.sim.domain.population import build, shard_parties
from noemie_sim.sim.journal import check_run, open_journal

from .shared_keys import cache_with_keys

FOUR_CAISSES = """
[scenario]
name = "four-caisses"
seed = 7
duration = "1 jour ouvré"
settle = "1 jour ouvré"
shard_by = "caisse"

[population]
assures = 400
caisses = [751, 971, 972, 131]
mutuelles = 3
employers = 4
employees_per_employer = 20

[[practitioners]]
count = 8
kind = "medecin-generaliste"
fse_per_day = [5, 8]
lot_size = 10

[[practitioners]]
count = 4
kind = "pharmacie"
fse_per_day = [5, 8]
lot_size = 10

[expect]
lost_files = 0
double_payments = 0
amounts_reconciled = true
"""


@pytest.fixture(scope="module")
def keys(key_pool: KeyPool) -> KeyPool:
    return key_pool


def _run(engine: shards.Engine, folder: Path, keys: KeyPool, cache: Path) -> shards.ShardedRun:
    return shards.run_sharded(parse(FOUR_CAISSES), folder, engine, keys=keys, pki_cache=cache)


def test_shards_split_the_network_by_caisse_and_never_clash() -> None:
    scenario = parse(FOUR_CAISSES)
    plan = shards.plan(scenario)
    assert [s.caisse for s in plan] == ["017510000", "019710000", "019720000", "011310000"]
    # counts split evenly, the first caisses taking the remainder; seeds derived per caisse
    assert [s.scenario.config.population.assures for s in plan] == [100, 100, 100, 100]
    assert [[g.count for g in s.scenario.config.practitioner_groups] for s in plan] == [
        [2, 1], [2, 1], [2, 1], [2, 1]
    ]  # fmt: skip
    assert len({s.scenario.config.seed for s in plan}) == 4
    populations = [build(s.scenario.config.seed, population_of(s.scenario.config)) for s in plan]
    # every shard has the same mutuelles; its own caisse, assurés, PS and employers
    assert len({tuple(p.mutuelles) for p in populations}) == 1
    for shard, population in zip(plan, populations, strict=True):
        assert [c.organisme for c in population.caisses] == [shard.caisse]
        assert {i.caisse for i in population.insured} == {shard.caisse}
        assert {p.caisse for p in population.practitioners} == {shard.caisse}
        # the parties' ids are known without building the population (the PKI is made first)
        made = [("ps", p.ps_number) for p in population.practitioners] + [
            ("employer", e.siret) for e in population.employers
        ]
        assert shard_parties(population_of(shard.scenario.config)) == made
    # no identifier twice across shards, Guadeloupe and Martinique sharing département 97
    for ids in (
        [i.nir for p in populations for i in p.insured],
        [b.nir for p in populations for _, b in p.beneficiaries()],
        [x.ps_number for p in populations for x in p.practitioners],
        [e.siret for p in populations for e in p.employers],
    ):
        assert len(ids) == len(set(ids))
    parties = shards.run_parties(scenario, plan)
    assert len(parties) == len({i for _, i in parties}) == 4 + 12 + 3 + 4


def test_one_digest_with_one_worker_or_a_process_pool(keys: KeyPool, tmp_path: Path) -> None:
    cache = tmp_path / "pki-cache"
    inline = _run(shards.InlineEngine(), tmp_path / "inline", keys, cache)
    pooled = _run(shards.ProcessEngine(2), tmp_path / "pool", keys, cache)
    assert inline.complete and pooled.complete
    assert not inline.pki_cached and pooled.pki_cached  # the second run reused the PKI
    assert [r.caisse for r in inline.results] == [r.caisse for r in pooled.results]
    assert [r.digest for r in inline.results] == [r.digest for r in pooled.results]
    assert (
        inline.digest
        == pooled.digest
        == shards.run_digest([(r.caisse, r.digest) for r in pooled.results])
    )
    assert all(r.lines > 0 and r.counts["files"] > 0 for r in pooled.results)
    # each shard is a run folder of its own, checked like any run, its files all valid
    for r in pooled.results:
        assert check_run(tmp_path / "pool" / "shards" / r.caisse).state == "complete"
    checked, refused = invalid_files(tmp_path / "pool")
    assert checked > 0 and not refused, refused[:3]
    manifest = json.loads((tmp_path / "pool" / shards.MANIFEST).read_text())
    assert manifest["state"] == "ended" and manifest["digest"] == pooled.digest


def test_the_report_of_a_sharded_run_is_its_shards_merged(keys: KeyPool, tmp_path: Path) -> None:
    run = _run(shards.InlineEngine(), tmp_path / "run", keys, tmp_path / "cache")
    report = shards.report(tmp_path / "run")
    parts = [runner.report(tmp_path / "run" / "shards" / r.caisse) for r in run.results]
    assert report["verdict"] == "pass" and report["exit_code"] == 0
    assert report["digest"] == run.digest
    assert report["run"]["state"] == "complete"
    for key in ("invoices", "files", "decomptes", "lots"):
        assert report["counts"][key] == sum(p["counts"][key] for p in parts) > 0
    assert report["money"]["billed"] == sum(p["money"]["billed"] for p in parts)
    by_care = report["money_by_care"]
    assert by_care and set(by_care) == {care for p in parts for care in p["money_by_care"]}
    for care, row in by_care.items():
        for column, value in row.items():
            assert value == sum(p["money_by_care"].get(care, {}).get(column, 0) for p in parts)
    for flow in report["sla"]:
        mine = [f for p in parts for f in p["sla"] if f["name"] == flow["name"]]
        assert flow["count"] == sum(f["count"] for f in mine)
        assert flow["breaches"] == sum(f["breaches"] for f in mine)
        if flow["done"]:
            assert flow["max_hours"] == max(f["max_hours"] for f in mine if f["done"])
            # the merged median lies within the shards' medians
            medians = [f["p50_hours"] for f in mine if f["done"]]
            assert min(medians) <= flow["p50_hours"] <= max(medians)
    # one part merged is that part: the percentiles, maximum and histogram of each flow too
    alone = measure.merge([parts[0]], parse(FOUR_CAISSES).expect)
    for key in ("counts", "money", "money_by_care", "rejects", "figures", "expectations",
                "files_by_kind"):  # fmt: skip
        assert alone[key] == parts[0][key], key
    assert alone["sla"] == parts[0]["sla"]
    assert report["checks"][0]["name"] == "run.complete"
    assert {e["name"] for e in report["expectations"]} == {
        "lost_files", "double_payments", "amounts_reconciled"
    }  # fmt: skip
    # the shards' journals read on a pool of two processes: the same report, merged in the
    # same order; a shard whose journal was edited is said tampered from there too
    assert shards.report(tmp_path / "run", workers=2) == report
    edited = tmp_path / "run" / "shards" / run.results[2].caisse / "journal.sqlite"
    with contextlib.closing(sqlite3.connect(edited)) as db, db:
        db.execute("UPDATE events SET actor = 'PS-X' WHERE seq = 3")
    pooled = shards.report(tmp_path / "run", workers=2)
    assert pooled["run"]["state"] == "tampered" and pooled["verdict"] != "pass", pooled["run"]
    assert any(run.results[2].caisse in p for p in pooled["run"]["problems"])
    assert pooled == shards.report(tmp_path / "run")


def test_a_shard_that_lost_its_journal_or_was_swapped_is_no_pass(
    keys: KeyPool, tmp_path: Path
) -> None:
    run = _run(shards.InlineEngine(), tmp_path / "run", keys, tmp_path / "cache")
    first = tmp_path / "run" / "shards" / run.results[0].caisse
    (first / "manifest.json").unlink()  # as if its process were killed before the end
    report = shards.report(tmp_path / "run")
    assert report["verdict"] == "incomplete" and report["exit_code"] == 3
    assert any(run.results[0].caisse in p for p in report["run"]["problems"])
    assert shards.verify(tmp_path / "run")[0] == "incomplete"
    # a shard's folder replaced by another shard's: each is intact, the run is not
    again = _run(shards.InlineEngine(), tmp_path / "again", keys, tmp_path / "cache")
    assert again.digest == run.digest
    moved = tmp_path / "again" / "shards"
    (moved / run.results[0].caisse).rename(tmp_path / "aside")
    (moved / run.results[1].caisse).rename(moved / run.results[0].caisse)
    (tmp_path / "aside").rename(moved / run.results[1].caisse)
    state, problems, _digest = shards.verify(tmp_path / "again")
    assert state == "tampered" and "the run recorded" in problems[-1]
    assert shards.report(tmp_path / "again")["verdict"] != "pass"


def _ray_cluster() -> Iterator[str]:
    """A local Ray cluster of two nodes (a head and a worker node), its address."""
    try:  # Ray's types are partial: it is used untyped here
        ray: Any = importlib.import_module("ray")
        utils: Any = importlib.import_module("ray.cluster_utils")
    except ImportError:
        why = (
            "Ray is not installed here (pip install 'noemie-sim[ray]'): the Ray engine was not run"
        )
        if os.environ.get("CI") and not os.environ.get("NOEMIE_SIM_RAY_DID_NOT_INSTALL"):
            pytest.fail(f"{why}, yet .ci/run did not say its install failed")
        pytest.skip(why)
    cluster = utils.Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": 80 * 1024 * 1024},
    )
    cluster.add_node(num_cpus=1, object_store_memory=80 * 1024 * 1024)
    try:
        yield cluster.address
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture
def ray_cluster() -> Iterator[str]:
    yield from _ray_cluster()


def test_the_same_digest_on_a_ray_cluster_of_two_nodes(
    keys: KeyPool, tmp_path: Path, ray_cluster: str
) -> None:
    ray: Any = importlib.import_module("ray")
    ray.init(address=ray_cluster, include_dashboard=False, log_to_driver=False)
    engine = shards.RayEngine(ray_cluster)
    assert engine.workers == 2
    run = _run(engine, tmp_path / "ray", keys, tmp_path / "cache")
    inline = _run(shards.InlineEngine(), tmp_path / "inline", keys, tmp_path / "cache")
    assert run.complete and run.digest == inline.digest
    # the tasks ran on both nodes; their shard folders came back through the object store
    nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(nodes) == 2
    report = shards.report(tmp_path / "ray")
    assert report["verdict"] == "pass" and report["digest"] == inline.digest
    # on a run folder every node sees, the shards write there directly: the same run
    shared = _run(shards.RayEngine(ray_cluster, shared=True), tmp_path / "shared", keys,
                  tmp_path / "cache")  # fmt: skip
    assert shared.digest == inline.digest
    assert check_run(tmp_path / "shared" / "shards" / "017510000").state == "complete"


def test_a_scenario_sharded_by_caisse_takes_no_fault() -> None:
    with pytest.raises(ScenarioError, match="faults"):
        parse(
            FOUR_CAISSES
            + '\n[[faults]]\nkind = "actor-down"\ntarget = "PS-1"\nat = "day 1 10:00"\n'
        )


def test_the_command_line_runs_stops_and_reports_a_sharded_run(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    key_pool: KeyPool,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_with_keys(tmp_path / "cache", key_pool)))
    scenario = tmp_path / "four.toml"
    scenario.write_text(FOUR_CAISSES, encoding="utf-8")
    code = main(["run", str(scenario), "--out", str(tmp_path / "run"), "--workers", "1",
                 "--junit", str(tmp_path / "r.xml")])  # fmt: skip
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, out + captured.err
    assert "4 shards (one per caisse)" in out and "lines/s" in out and "verdict: pass" in out
    assert 'tests="' in (tmp_path / "r.xml").read_text()
    assert main(["verify", str(tmp_path / "run")]) == 0
    assert main(["report", str(tmp_path / "run")]) == 0
    assert main(["replay", str(tmp_path / "run"), "--workers", "1"]) == 0
    # an invoice followed in the shard of its PS
    journal = open_journal(tmp_path / "run" / "shards" / "019710000")
    invoice = str(journal.events("invoice-billed")[0].invoice)
    journal.db.close()
    assert main(["trace", str(tmp_path / "run"), "--invoice", invoice]) == 0
    assert "billed" in capsys.readouterr().out
    # options that a one-network scenario cannot take are refused, naming them
    assert main(["run", "demo", "--workers", "2"]) == 2
    assert "--workers" in capsys.readouterr().err
    assert main(["run", str(scenario), "--engine", "processes", "--address", "x:1"]) == 2
    assert main(["run", str(scenario), "--workers", "0"]) == 2
    assert main(["replay", str(tmp_path / "run"), "--workers", "0"]) == 2
    assert "--workers: at least 1" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "run"), "--workers", "0"]) == 2
    assert "--workers: at least 1" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "run"), "--workers", "2"]) == 0


def test_ctrl_c_leaves_an_incomplete_but_valid_run(tmp_path: Path, key_pool: KeyPool) -> None:
    """Ctrl-C while the shards run: each running shard closes its journal as stopped, the
    ones not started are said so, and the folder reports incomplete (exit 3), never a pass."""
    scenario = tmp_path / "eight.toml"
    text = FOUR_CAISSES.replace("[751, 971, 972, 131]", "8").replace("count = 8", "count = 32")
    scenario.write_text(text.replace('duration = "1 jour ouvré"', 'duration = "3 jours ouvrés"'))
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_with_keys(tmp_path / "cache", key_pool))}
    command = [sys.executable, "-m", "noemie_sim", "run", str(scenario), "--out",
               str(tmp_path / "run"), "--workers", "2"]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as process:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:  # wait for the first shard to finish: the run is under way
            seen.append(line)
            if line.startswith("shard ") and "(1/8)" in line:
                process.send_signal(signal.SIGINT)
                break
        output = "".join(seen) + process.stdout.read()
        code = process.wait()
    assert code == 3, output
    assert "stopping" in output and "verdict: incomplete" in output
    manifest = json.loads((tmp_path / "run" / shards.MANIFEST).read_text())
    assert manifest["state"] == "incomplete"
    # every shard that ran left a journal that checks out; stopped ones say where they stopped
    states = [check_run(p).state for p in sorted((tmp_path / "run" / "shards").iterdir())]
    assert states and all(s == "complete" for s in states)
    report = shards.report(tmp_path / "run")
    assert report["verdict"] == "incomplete" and report["exit_code"] == 3
    assert any("stopped" in p or "not started" in p for p in report["run"]["problems"])


def test_the_pki_cache_serves_the_same_pki(keys: KeyPool, tmp_path: Path) -> None:
    scenario = parse(FOUR_CAISSES)
    plan = shards.plan(scenario)
    parties = shards.run_parties(scenario, plan)
    at = scenario.config.start - timedelta(days=1)
    assert not shards.prepare_pki(tmp_path / "a", parties, at, keys, tmp_path / "cache")
    assert shards.prepare_pki(tmp_path / "b", parties, at, keys, tmp_path / "cache")
    a, b = Pki(tmp_path / "a"), Pki(tmp_path / "b")
    assert a.parties() == b.parties() == {i: r for r, i in parties}
    assert a.certificate("017510000") == b.certificate("017510000")
    assert oct((tmp_path / "b" / "root" / "key.pem").stat().st_mode & 0o777) == "0o600"
    # another set of parties is another PKI
    fewer = dataclasses.replace(plan[0])
    assert not shards.prepare_pki(
        tmp_path / "c", shards.run_parties(scenario, [fewer]), at, keys, tmp_path / "cache"
    )
    # a run longer than a CRL's 90 days: its shards share CRLs valid to its end (none of them
    # publishes), and that is another PKI of the cache
    until = at + timedelta(days=400)
    assert not shards.prepare_pki(tmp_path / "d", parties, at, keys, tmp_path / "cache", until)
    ends = {c.next_update_utc for c in Pki(tmp_path / "d").current_crls()}
    assert ends and all(e is not None and e >= until for e in ends)
    assert all(c.next_update_utc < until for c in a.current_crls())  # type: ignore[operator]


def test_national_day_is_sharded_over_the_caisses_of_france() -> None:
    scenario = find_scenario("national-day")
    plan = shards.plan(scenario)
    assert scenario.shard_by == "caisse" and scenario.config.transport == "sftp"
    assert len(plan) == 101
    kinds = {g.specialty for g in scenario.config.practitioner_groups}
    assert "50" in kinds  # pharmacies
