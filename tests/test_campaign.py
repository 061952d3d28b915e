"""``noemie-sim campaign``: seeded runs with random faults judged on invariants, the same
runs and digests whatever plays them, a failure the network cannot survive shrunk to a repro
scenario that ``run`` plays to the same failed check, bad input refused (exit 2) and a stop
that is never a pass (exit 3)."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from noemie_sim.scenarios import campaign, shards
from noemie_sim.scenarios.campaign import RunOutcome
from noemie_sim.scenarios.catalogue import find_scenario
from noemie_sim.scenarios.cli import main
from noemie_sim.scenarios.schema import FAULT_KINDS

from .test_shards import _ray_cluster
from .test_vendor_shell import needs_the_shell_tools

#: nominal-week at a fifth of its size: a run takes about two seconds
SMALL = ["nominal-week", "--scale", "0.2"]

#: A PS down for the rest of the run never fetches its ARL and NOEMIE returns: lost files.
#: With it, a harmless duplicate lot that shrinking must remove (campaign seed 24 draws both,
#: the PS down after its lot of day 1).
PLANTED = """per_run = [2, 2]

[[faults]]
kind = "actor-down"
targets = ["PS-1"]
duration = ["15 days", "15 days"]

[[faults]]
kind = "duplicate-lot"
targets = ["PS-2"]
"""


def _summary(folder: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((folder / "campaign.json").read_text())
    return result


def test_a_random_campaign_passes_and_plays_the_same_runs_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    args = ["campaign", *SMALL, "--runs", "6", "--seed", "11"]
    assert main([*args, "--out", str(first), "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "6 of 6 runs passed, 0 failed" in out and "verdict: pass (exit 0)" in out
    assert out.count(": pass  digest ") == 6  # a progress line per run as it ends
    a = _summary(first)
    assert a["state"] == "ended" and a["verdict"] == "pass" and a["failed"] == 0
    # random faults: every run has 1 to 3, of several kinds, on parties of the network
    counts = [len(r["faults"]) for r in a["results"]]
    assert all(1 <= n <= 3 for n in counts), counts
    kinds = {f["kind"] for r in a["results"] for f in r["faults"]}
    assert len(kinds) >= 4 and kinds <= set(campaign.RECOVERABLE), kinds
    # each run's faults are in its journal like a scenario's, and the run folder verifies
    for r in a["results"]:
        assert Path(r["folder"], "journal.sqlite").is_file()
        assert r["digest"] and not r["failed"]
        # SLAs measured and reported per run (they fail it only with --strict-sla)
        arl = next(f for f in r["sla"] if f["name"] == "arl")
        assert arl["count"] > 0 and arl["p95_hours"] is not None and arl["max_hours"] > 0
    # the same command on one worker: the same runs, faults and digests
    assert main([*args, "--out", str(second), "--workers", "1"]) == 0
    b = _summary(second)
    assert [(r["seed"], r["faults"], r["digest"]) for r in a["results"]] == [
        (r["seed"], r["faults"], r["digest"]) for r in b["results"]
    ]
    assert a["digest"] == b["digest"]
    page = (first / "campaign.html").read_text()
    assert page.count("<tr><td>") == 6 + len(a["fault_kinds"])  # runs, then fault kinds
    assert "expect.lost_files" in page and "Faults that failed most" in page
    # a run of the campaign is an ordinary run: replay says identical
    capsys.readouterr()
    assert main(["replay", a["results"][0]["folder"]]) == 0
    assert "identical journal" in capsys.readouterr().out


def test_a_fault_the_network_cannot_survive_is_shrunk_to_a_repro(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faults = tmp_path / "planted.toml"
    faults.write_text(PLANTED)
    out = tmp_path / "camp"
    code = main(["campaign", *SMALL, "--runs", "1", "--seed", "24", "--faults", str(faults),
                 "--workers", "1", "--out", str(out)])  # fmt: skip
    assert code == 1
    said = capsys.readouterr().out
    assert "FAIL expect.lost_files" in said and "failed: expect.lost_files in 1 run(s)" in said
    (run,) = _summary(out)["results"]
    assert [f["kind"] for f in run["faults"]] == ["actor-down", "duplicate-lot"]
    assert run["failed"] == ["expect.lost_files"]
    repro = run["repro"]
    # the harmless fault removed; the outage could not be removed nor halved (back up within
    # the run, the PS fetches its files): three trials, and the outage kept whole
    assert repro["check"] == "expect.lost_files"
    assert repro["faults"] == [run["faults"][0]]
    assert repro["trials"] == 3
    assert "trial 1: 1 fault(s): still fails" in said and "trial 2: 0 fault(s): passes" in said
    assert "trial 3: 1 fault(s): passes" in said
    assert repro["file"] in said and "noemie-sim run" in said
    assert _summary(out)["failed_by_invariant"] == {"expect.lost_files": 1}

    # run plays the repro to the same failure, judged by the same check
    capsys.readouterr()
    report = tmp_path / "repro.json"
    assert main(["run", repro["file"], "--out", str(tmp_path / "r"), "--json", str(report)]) == 1
    judged = json.loads(report.read_text())
    assert judged["failed"] == ["expect.lost_files"]
    assert judged["seed"] == run["seed"]

    # the same command gives the same repro file
    again = tmp_path / "again"
    assert main(["campaign", *SMALL, "--runs", "1", "--seed", "24", "--faults", str(faults),
                 "--workers", "1", "--out", str(again)]) == 1  # fmt: skip
    copy = _summary(again)["results"][0]["repro"]["file"]
    assert Path(copy).read_text() == Path(repro["file"]).read_text()


@pytest.mark.parametrize(
    ("faults", "said"),
    [
        ('[[faults]]\nkind = "meteor"\n', "faults[1].kind: expected one of sftp-outage"),
        ('per_run = [3, 1]\n[[faults]]\nkind = "corrupt-lot"\n', "per_run: expected [MIN, MAX]"),
        ('[[faults]]\nkind = "corrupt-lot"\ntargets = ["PS-999"]\n', "targets 'PS-999'"),
        ('[[faults]]\nkind = "corrupt-lot"\ntargets = ["CPAM-1"]\n', "targets 'CPAM-1'"),
        ('[[faults]]\nkind = "sftp-outage"\nduration = ["4h", "1h"]\n', "MIN no longer than MAX"),
        ('[[faults]]\nkind = "sftp-outage"\nduration = ["soon", "1h"]\n', "found 'soon'"),
        ('[[faults]]\nkind = "sftp-outage"\nwhen = 3\n', "faults[1].when"),
        ("per_run = [", "not valid TOML"),
    ],
)
def test_a_bad_faults_file_is_refused_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], faults: str, said: str
) -> None:
    path = tmp_path / "faults.toml"
    path.write_text(faults)
    out = tmp_path / "camp"
    assert main(["campaign", *SMALL, "--runs", "2", "--faults", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1, err
    assert not (out / "runs").exists()


def test_bad_options_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args, said in (
        (["--runs", "0"], "--runs: from 1 to 10000"),
        (["--runs", "2", "--faults", str(tmp_path / "nowhere.toml")], "cannot read it"),
        (["--runs", "2", "--address", "x"], "--address: for a Ray cluster"),
        (["--runs", "2", "--workers", "0"], "--workers: at least 1"),
    ):
        assert main(["campaign", *SMALL, *args, "--out", str(tmp_path / "c")]) == 2
        assert said in capsys.readouterr().err
    assert main(["campaign", "national-day", "--runs", "2"]) == 2
    assert "sharded by caisse" in capsys.readouterr().err


def test_a_plan_draws_what_it_allows() -> None:
    scenario = find_scenario("nominal-week", {"scale": 0.2})
    plan = campaign.random_plan(scenario)
    assert "revoke-certificate" not in {r.kind for r in plan.rules}  # no network survives it
    assert campaign.draw_faults(campaign.NO_FAULTS, scenario, 1) == []
    roles = campaign.targets_by_role(scenario.config)
    seen = set()
    for seed in range(60):
        for fault in campaign.draw_faults(plan, scenario, seed):
            role = FAULT_KINDS[fault["kind"]][0]
            assert role == "any" or fault["target"] in roles[role], fault
            day = int(fault["at"].split()[1])
            assert 1 <= day <= scenario.config.jours_ouvres  # never in the settling days
            seen.add(fault["kind"])
    assert seen == {r.kind for r in plan.rules}


def test_a_campaign_stopped_is_never_a_pass(tmp_path: Path) -> None:
    """Ctrl-C once the first run has ended (waiting on the campaign's own output): the running
    run stops, the campaign says incomplete, exit 3."""
    out = tmp_path / "camp"
    command = [sys.executable, "-m", "noemie_sim", "campaign", *SMALL, "--runs", "6",
               "--workers", "1", "--out", str(out)]  # fmt: skip
    lines = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "COLUMNS": "200"}) as process:  # fmt: skip
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("run 1/6"):
                process.send_signal(signal.SIGINT)
                break
        lines += process.stdout.readlines()
        assert process.wait() == 3, "".join(lines)
    said = "".join(lines)
    assert "stopping" in said and "verdict: incomplete (exit 3)" in said
    summary = _summary(out)
    assert summary["state"] == "incomplete" and summary["digest"] is None
    assert summary["runs"] == 6 and len(summary["results"]) < 6


PS_PARTY = Path(__file__).resolve().parent.parent / "docs" / "examples" / "ps_party.sh"


def test_a_campaign_against_a_real_system(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/examples/ps_party.sh (sftp, openssl, curl, jq) plays the PS of every run; a variant
    that never fetches fails its own conformance check, and a command that fails is named."""
    needs_the_shell_tools()
    good = tmp_path / "good"
    assert main(["campaign", "demo", "--runs", "2", "--seed", "5", "--external", "ps",
                 "--command", f"bash {PS_PARTY}", "--out", str(good)]) == 0  # fmt: skip
    summary = _summary(good)
    assert summary["external"] == {"who": "ps", "command": f"bash {PS_PARTY}"}
    assert "external.command" in summary["invariants"]
    for run in summary["results"]:
        assert run["verdict"] == "pass" and run["faults"], run
        log = Path(run["folder"]).with_suffix(".command.log").read_text()
        assert "ARL status: P" in log and "the run is at its end" in log
        # no fault of the simulation targets the external PS (its id is in the kit)
        kit = next(Path(run["folder"], "kits").iterdir()).name
        assert all(f["target"] != kit for f in run["faults"])

    lazy = tmp_path / "lazy"
    code = main(["campaign", "demo", "--runs", "1", "--seed", "5", "--external", "ps",
                 "--command", f"FETCH=no bash {PS_PARTY}", "--shrink-limit", "1",
                 "--out", str(lazy)])  # fmt: skip
    assert code == 1
    (run,) = _summary(lazy)["results"]
    (check,) = run["failed"]
    assert check.startswith("conformance.") and check.endswith(".files-fetched"), run
    assert "not fetched by the end of the run" in run["messages"][check]
    assert run["repro"]["check"] == check  # still failing without its first fault
    assert "--external ps" in Path(run["repro"]["file"]).read_text()

    broken = tmp_path / "broken"
    assert main(["campaign", "demo", "--runs", "1", "--external", "ps", "--command", "exit 7",
                 "--shrink-limit", "0", "--out", str(broken)]) == 1  # fmt: skip
    (run,) = _summary(broken)["results"]
    assert "external.command" in run["failed"] and "exited 7" in run["messages"]["external.command"]
    assert any(c.endswith(".sends-files") for c in run["failed"])
    capsys.readouterr()
    assert main(["campaign", "demo", "--runs", "1", "--external", "ps"]) == 2
    assert "--external and --command go together" in capsys.readouterr().err
    assert main(["campaign", "demo", "--runs", "1", "--external", "751", "--command", "x"]) == 2
    assert "a role (ps, oc, employer)" in capsys.readouterr().err


def test_slas_fail_a_run_only_when_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A lot cut in transit gets its ARL only once the PS sends it again, two jours ouvrés
    later: a breach of the ARL SLA that the network survives (what the 50-run campaign of
    nominal-week found)."""
    faults = tmp_path / "cut.toml"
    faults.write_text(
        'per_run = [1, 1]\n\n[[faults]]\nkind = "truncate-file"\ntargets = ["PS-1"]\n'
    )
    args = ["campaign", *SMALL, "--runs", "1", "--seed", "4", "--faults", str(faults)]
    assert main([*args, "--out", str(tmp_path / "lenient")]) == 0
    (run,) = _summary(tmp_path / "lenient")["results"]
    assert next(f for f in run["sla"] if f["name"] == "arl")["breaches"] == 2
    assert main([*args, "--strict-sla", "--out", str(tmp_path / "strict")]) == 1
    (run,) = _summary(tmp_path / "strict")["results"]
    assert run["failed"] == ["sla.arl"] and "beyond 2 jours ouvrés" in run["messages"]["sla.arl"]
    capsys.readouterr()
    assert main(["run", run["repro"]["file"], "--out", str(tmp_path / "r")]) == 1
    assert "✗ sla.arl" in capsys.readouterr().out


@pytest.fixture
def ray_cluster() -> Iterator[str]:
    yield from _ray_cluster()


def test_the_same_runs_on_a_ray_cluster_of_two_nodes(tmp_path: Path, ray_cluster: str) -> None:
    """--engine ray: the runs as Ray tasks on two nodes, written where the campaign keeps
    them; the same runs and digests as in this process."""
    ray: Any = importlib.import_module("ray")
    ray.init(address=ray_cluster, include_dashboard=False, log_to_driver=False)
    scenario = find_scenario("nominal-week", {"scale": 0.2})
    keys = tmp_path / "keys"

    def played(engine: shards.Engine, folder: Path) -> list[tuple[int, str | None]]:
        spec = campaign.CampaignSpec(scenario, 2, 3, campaign.random_plan(scenario), folder,
                                     keys, scale=0.2)  # fmt: skip
        outcomes = [o for o in campaign.run_all(spec, engine) if isinstance(o, RunOutcome)]
        assert all(o.passed for o in outcomes), [o.messages for o in outcomes]
        return sorted((o.index, o.digest) for o in outcomes)

    on_ray = played(shards.RayEngine(ray_cluster, shared=True), tmp_path / "ray")
    assert len(on_ray) == 2
    assert on_ray == played(shards.InlineEngine(), tmp_path / "inline")
