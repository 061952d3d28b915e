"""Décomptes in NOEMIE OC form (référence 408, a labelled convention): the format, what it
carries of the B2 form, what validate refuses, and a network whose mutuelles take this form
settling every décompte exactly as when they take the B2 form."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date
from pathlib import Path

import pytest

from noemie_sim.actors.network import population_of
from noemie_sim.pki.authority import KeyPool
from noemie_sim.scenarios.catalogue import find_scenario
from noemie_sim.scenarios.cli.vendors import with_decompte_form
from noemie_sim.scenarios.reports.validity import invalid_files
from noemie_sim.scenarios.runner import play
from noemie_sim.scenarios.schema import ScenarioError, parse
from noemie_sim.scenarios.vendors.external import party_roles
from noemie_sim.sim.domain.generate import generate
from noemie_sim.sim.domain.population import build
from noemie_sim.sim.journal import open_journal
from noemie_sim.sim.norms import b2, kinds, noemie_oc, samples
from noemie_sim.sim.norms.keys import nir_key


def _without_what_the_oc_form_leaves_out(dec: b2.B2File) -> b2.B2File:
    """``dec`` with the fields the OC form does not carry at their B2 defaults: the AMC
    amounts the PS claimed, the CCAM and NABM details, the dénombrement, the MCO
    coefficient."""

    def line(x: b2.Line) -> b2.Line:
        if isinstance(x, b2.ProfessionalAct):
            return dataclasses.replace(x, amc_amount=0, ccam=None, biology=(), count=1)
        if isinstance(x, b2.HospitalLine):
            return dataclasses.replace(x, amc_amount=0, mco_coefficient=10000)
        return x

    lots = tuple(
        dataclasses.replace(lot, invoices=tuple(
            dataclasses.replace(inv, lines=tuple(line(x) for x in inv.lines))
            for inv in lot.invoices
        ))
        for lot in dec.lots
    )  # fmt: skip
    return dataclasses.replace(dec, lots=lots)


@pytest.mark.parametrize("seed", [1, 2, 3, 7])
def test_the_oc_form_carries_what_a_mutuelle_settles_on(seed: int) -> None:
    """A generated décompte file (lots of several PS, biology and CCAM details included) in
    OC form validates, and reads back as the same décomptes but for what it leaves out."""
    dec = b2.parse(generate("decompte", seed, 60))
    day = dec.lots[0].lot_date
    data = noemie_oc.build(noemie_oc.from_b2(dec, day))
    assert kinds.detect(data).name == "noemie-oc"
    assert noemie_oc.validate(data) == []
    assert noemie_oc.to_b2(noemie_oc.parse(data)) == _without_what_the_oc_form_leaves_out(dec)
    assert generate("noemie-oc", seed, 60) == data  # generate speaks the same form


def test_an_act_says_whether_it_bills_beyond_its_base() -> None:
    """DPN-QLF is D for an act billed above its base (a dépassement), N otherwise; what the
    caisse withheld (PF, franchise) is the rate of the base less what it paid."""
    dec = b2.parse(samples.decompte())
    inv = dec.lots[0].invoices[0]
    act = inv.lines[0]
    assert isinstance(act, b2.ProfessionalAct)
    above = dataclasses.replace(act, fee_amount=act.base + 2000, amo_amount=act.amo_amount - 100)
    dec = dataclasses.replace(
        dec, lots=(dataclasses.replace(dec.lots[0], invoices=(
            dataclasses.replace(inv, lines=(act, above)),)),)
    )  # fmt: skip
    doc = noemie_oc.from_b2(dec, date(2026, 3, 5))
    first, second = doc.days[0].decomptes[0].lines
    assert isinstance(first, noemie_oc.DecompteAct) and isinstance(second, noemie_oc.DecompteAct)
    assert (first.expense_qualifier, second.expense_qualifier) == ("N", "D")
    gross = (act.base * act.rate + 50) // 100
    assert (first.deductions, second.deductions) == (gross - act.amo_amount, 100 + first.deductions)
    assert noemie_oc.validate(noemie_oc.build(doc)) == []


def _sample() -> noemie_oc.OcDecomptes:
    return noemie_oc.parse(samples.noemie_oc_sample())


def _first_decompte(doc: noemie_oc.OcDecomptes, **changes: object) -> noemie_oc.OcDecomptes:
    day = doc.days[0]
    first = dataclasses.replace(day.decomptes[0], **changes)  # type: ignore[arg-type]
    decomptes = (first, *day.decomptes[1:])
    return dataclasses.replace(doc, days=(dataclasses.replace(day, decomptes=decomptes),))


def _first_act(doc: noemie_oc.OcDecomptes, **changes: object) -> noemie_oc.OcDecomptes:
    first = doc.days[0].decomptes[0]
    act = dataclasses.replace(first.lines[0], **changes)  # type: ignore[arg-type]
    return _first_decompte(doc, lines=(act, *first.lines[1:]))


def _refused(doc: noemie_oc.OcDecomptes) -> list[tuple[str, str]]:
    return [(a.field, a.message) for a in noemie_oc.validate(noemie_oc.build(doc))]


def test_validate_refuses_each_impossible_case_by_name() -> None:
    doc = _sample()
    assert _refused(doc) == []
    one = doc.days[0].decomptes[0]
    other_oc = "75942359" if doc.oc_number != "75942359" else "12345674"
    assert _refused(dataclasses.replace(doc, oc_number=other_oc)) == [
        ("oc_number", "décomptes for another OC than the file's receiver")
    ]
    twice = dataclasses.replace(doc.days[0], decomptes=(one, one))
    assert _refused(dataclasses.replace(doc, days=(twice,))) == [
        ("decompte_number", "décompte number zero or already used in this file")
    ]
    bad_ps = one.ps_number[:-1] + str((int(one.ps_number[-1]) + 1) % 10)
    assert [f for f, _ in _refused(_first_decompte(doc, ps_number=bad_ps))] == ["ps_number"]
    bad_key = (one.beneficiary_nir_key % 97) + 1
    assert [f for f, _ in _refused(_first_decompte(doc, beneficiary_nir_key=bad_key))] == [
        "beneficiary_nir_key"
    ]
    # the bénéficiaire's NIR against its birth date: born in another year than it says
    later = one.birth_date.replace(year=one.birth_date.year + 3)
    assert "beneficiary_nir" in {f for f, _ in _refused(_first_decompte(doc, birth_date=later))}
    act = one.lines[0]
    assert isinstance(act, noemie_oc.DecompteAct)
    greedy = act.base * act.rate // 100 + 2
    assert _refused(_first_act(doc, amo_amount=greedy)) == [
        ("amo_amount", "AMO part exceeds the rate of the base"),
        ("deductions", "deductions exceed the AMO part before them"),
    ]
    assert _refused(_first_act(doc, expense_qualifier="D")) == [
        ("expense_qualifier", "DPN-QLF differs from the amounts")
    ]
    assert _refused(_first_act(doc, deductions=act.deductions + 1)) == [
        ("deductions", "deductions exceed the AMO part before them")
    ]
    assert nir_key(one.insured_nir) == one.insured_nir_key


def test_a_990_total_that_does_not_add_up_is_named() -> None:
    data = samples.noemie_oc_sample()
    text = data.decode("ascii")
    closing = text.index("@990050")  # the 990 that closes the first décompte
    amount_at = closing + 1 + 30  # amount_1, position 31 of the entity
    wrong = text[:amount_at] + "9" + text[amount_at + 1 :]
    (anomaly,) = noemie_oc.validate(wrong.encode("ascii"))
    assert (anomaly.field, anomaly.message) == ("amount_1", "990 total of 100 NOP-FAC is wrong")


def test_a_scenario_chooses_the_form_per_mutuelle() -> None:
    base = find_scenario("demo").source

    def mutuelles(table: str) -> tuple[str, ...]:
        return parse(base + "\n[mutuelles]\n" + table).config.noemie_oc_mutuelles

    assert mutuelles("") == ()
    assert mutuelles('noemie_oc = ["OC-2"]') == ("OC-2",)
    assert mutuelles('decomptes = "noemie-oc"') == ("OC-1", "OC-2")
    for table, path in (
        ('noemie_oc = ["OC-3"]', "mutuelles.noemie_oc[0]"),
        ('noemie_oc = "OC-1"', "mutuelles.noemie_oc"),
        ('decomptes = "xml"', "mutuelles.decomptes"),
        ('decomptes = "noemie-oc"\nnoemie_oc = ["OC-1"]', "mutuelles.noemie_oc"),
    ):
        with pytest.raises(ScenarioError) as exc:
            mutuelles(table)
        assert exc.value.path == path, table


def test_serve_sets_the_form_of_the_external_mutuelle_only() -> None:
    """``serve --decomptes``: noemie-oc adds the external mutuelle to those the scenario
    names; b2 takes it out of them, however the scenario named it (OC-N or its number), and
    leaves the others."""
    config = dataclasses.replace(find_scenario("demo").config, noemie_oc_mutuelles=("OC-1",))
    roles = party_roles(config)
    first, second = (p for p, role in roles.items() if role == "oc")
    assert with_decompte_form(config, roles, [second], None) == config
    added = with_decompte_form(config, roles, [second], "noemie-oc").noemie_oc_mutuelles
    assert set(added) == {"OC-1", second}
    assert with_decompte_form(config, roles, [first], "b2").noemie_oc_mutuelles == ()
    assert with_decompte_form(config, roles, [second], "b2").noemie_oc_mutuelles == ("OC-1",)
    by_number = dataclasses.replace(config, noemie_oc_mutuelles=(first, "OC-2"))
    assert with_decompte_form(by_number, roles, [first], "b2").noemie_oc_mutuelles == ("OC-2",)


def _settled(folder: Path) -> dict[str, tuple[str, object]]:
    """What the mutuelles did with each décompte: décompte -> (paid or rejected, amount or
    code)."""
    journal = open_journal(folder)
    try:
        done = {
            str(e.details["decompte"]): ("paid", e.details["amount"])
            for e in journal.events("decompte-paid")
        }
        done |= {
            str(e.details["decompte"]): ("rejected", e.details["code"])
            for e in journal.events("decompte-rejected")
            if e.actor == e.oc
        }
        return done
    finally:
        journal.db.close()


def test_mutuelles_settle_the_oc_form_as_they_settle_the_b2_form(
    tmp_path: Path, key_pool: KeyPool
) -> None:
    """The demo run twice in memory, its mutuelles taking their décomptes in B2 form, then
    OC-1 in NOEMIE OC form: the files to OC-1 are NOEMIE OC and validate, and every décompte
    is paid the same amount or rejected with the same code."""
    scenario = find_scenario("demo")
    folders = []
    for chosen in ((), ("OC-1",)):
        config = dataclasses.replace(scenario.config, transport="memory",
                                     noemie_oc_mutuelles=chosen)  # fmt: skip
        folder = tmp_path / ("noemie-oc" if chosen else "b2")
        result = asyncio.run(play(dataclasses.replace(scenario, config=config), folder,
                                  keys=key_pool))  # fmt: skip
        result.journal.close()
        folders.append(folder)
    b2_run, oc_run = folders
    forms: dict[str, set[str]] = {}
    for path in (oc_run / "files").glob("*/*DEC-*.clear"):
        data = path.read_bytes()
        forms.setdefault(kinds.declared_parties(data)[1], set()).add(kinds.detect(data).name)
    first, second = (m.oc_number for m in build(config.seed, population_of(config)).mutuelles)
    assert forms == {first: {"noemie-oc"}, second: {"decompte"}}
    assert invalid_files(oc_run)[1] == []
    b2_settled, oc_settled = _settled(b2_run), _settled(oc_run)
    assert len(b2_settled) > 20 and oc_settled == b2_settled
    assert {what for what, _ in oc_settled.values()} == {"paid", "rejected"}
