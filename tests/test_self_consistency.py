"""Self-consistency as a law: whatever an honest actor emits, ``validate`` accepts.

Every bundled scenario is run over SFTP with its own seed by test_scenarios.py (which checks
its files with the same helper); here each runs over two more seeds (in memory where the
scenario allows it: the files are the same bytes on either fabric) and every archived clear
file is validated, except those a fault broke on purpose, named so in the journal. The law is
not vacuous: one field changed in a valid emitted file is caught.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from noemie_sim.pki.authority import KeyPool
from noemie_sim.scenarios.catalogue import bundled, find_scenario
from noemie_sim.scenarios.reports.validity import broken_on_purpose, invalid_files
from noemie_sim.scenarios.runner import play
from noemie_sim.sim.norms import arl, kinds, noemie_ps

SEEDS = (2, 3)  # with each scenario's own seed (test_scenarios.py): three seeds each


@pytest.fixture(scope="module")
def keys(key_pool: KeyPool) -> KeyPool:
    return key_pool


def _run(name: str, seed: int, folder: Path, keys: KeyPool) -> Path:
    overrides: dict[str, object] = {"seed": seed}
    if name == "national-day":
        overrides["scale"] = 0.0002
    elif name == "nominal-week":  # a quarter of its 40 PS: the same mix, in a quarter the time
        overrides["scale"] = 0.25
    scenario = find_scenario(name, overrides)
    config = scenario.config
    if not config.fault_proxies:  # network faults need real connections to cut
        config = dataclasses.replace(config, transport="memory")
    result = asyncio.run(play(dataclasses.replace(scenario, config=config), folder, keys=keys))
    result.journal.close()
    return folder


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(set(bundled()) - {"dated-rules"}))  # test_dated_rules
def test_every_emitted_file_validates(name: str, seed: int, tmp_path: Path, keys: KeyPool) -> None:
    run = _run(name, seed, tmp_path / "run", keys)
    checked, refused = invalid_files(run)
    assert checked > 20, f"{name}: only {checked} files"
    assert not refused, "\n".join(refused[:10])


@pytest.fixture(scope="module")
def resent(tmp_path_factory: pytest.TempPathFactory, keys: KeyPool) -> Path:
    """A run with every ARL status and NOEMIE returns mixing tiers payant or not."""
    return _run("resent-files", 1, tmp_path_factory.mktemp("resent") / "run", keys)


def test_every_arl_status_and_every_mix_of_returns_is_emitted(resent: Path) -> None:
    """The law covers what it claims: the runs above emit ARLs P, N and D, and NOEMIE
    returns mixing tiers payant and non tiers payant invoices, paid and rejected."""
    statuses, mixes = set(), set()
    for path in (resent / "files").rglob("*.clear"):
        data = path.read_bytes()
        kind = kinds.detect(data).name
        if kind == "arl":
            statuses |= {lot.status for lot in arl.parse(data).lots}
        elif kind == "noemie-ps":
            days = [d for p in noemie_ps.parse(data).payees for d in p.days]
            invoices = [i for d in days for lot in d.lots for i in lot.invoices]
            mixes.add(frozenset((i.tiers_payant, i.status) for i in invoices))
    assert statuses >= {"P", "D"}
    assert any({("O", "P"), ("N", "P")} <= mix for mix in mixes)
    assert any(("N", "R") in mix or ("O", "R") in mix for mix in mixes)
    assert broken_on_purpose(resent) == set()  # a cut file is broken in transit, not in content


def test_the_law_is_not_vacuous(resent: Path) -> None:
    """One field changed in a valid emitted file: the validator names it."""
    noe = next(p for p in (resent / "files").rglob("*NOE-*.clear")
               if noemie_ps.parse(p.read_bytes()).payees[0].days[0].payments)  # fmt: skip
    data = noe.read_bytes()
    assert kinds.resolve(data, None).validate(data) == []
    entities = data.split(b"@")
    n = next(i for i, e in enumerate(entities) if e.startswith(b"25003"))
    amount = entities[n][21:32]
    entities[n] = entities[n][:21] + b"%011d" % (int(amount) + 1) + entities[n][32:]
    (anomaly,) = kinds.resolve(data, None).validate(b"@".join(entities))
    assert anomaly.field == "amount" and "tiers payant" in anomaly.message

    ack = next(p for p in (resent / "files").rglob("*ARL-*.clear")
               if any(lot.status == "D" for lot in arl.parse(p.read_bytes()).lots))  # fmt: skip
    data = ack.read_bytes()
    assert kinds.resolve(data, None).validate(data) == []
    records = [data[i : i + 128] for i in range(0, len(data), 128)]
    n = next(i for i, r in enumerate(records) if r.startswith(b"A1") and r[11:12] == b"D")
    records[n] = records[n][:11] + b"P" + records[n][12:]
    found = kinds.resolve(data, None).validate(b"".join(records))
    assert found and found[0].field == "status" and "0003 001" in found[0].message
