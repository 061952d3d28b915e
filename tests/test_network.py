"""The network end to end: actors exchanging sealed files over real SFTP on the simulated clock,
every assertion made from the journal (not from the actors' state).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from noemie_sim.actors.network import (
    Network,
    NetworkConfig,
    PractitionerGroup,
    RunResult,
    population_of,
    run_network,
)
from noemie_sim.pki.authority import KeyPool
from noemie_sim.pki.cms import MAX_SEALED_BYTES
from noemie_sim.sim.calendar import add_jours_ouvres
from noemie_sim.sim.domain import codes
from noemie_sim.sim.domain.generate import fse_invoice
from noemie_sim.sim.domain.population import Contract, PopulationConfig, build
from noemie_sim.sim.domain.rules import Billed, Patient
from noemie_sim.sim.journal import Event, Journal
from noemie_sim.sim.norms import b2
from noemie_sim.sim.transport.memory import MemoryHub

FULL = NetworkConfig(
    seed=11,
    jours_ouvres=10,
    transport="sftp",
    population=PopulationConfig(assures=400, caisses=2, practitioners=20, mutuelles=3, employers=2),
)
SMALL = NetworkConfig(
    seed=5,
    jours_ouvres=3,
    transport="sftp",
    population=PopulationConfig(
        assures=120, caisses=1, practitioners=3, mutuelles=2, employers=1, employees_per_employer=5
    ),
)


@pytest.fixture(scope="session")
def keys(key_pool: KeyPool) -> KeyPool:
    """RSA keys shared by every network of the session (generating them is a PKI's cost)."""
    return key_pool


def by(events: list[Event], attribute: str) -> dict[str, list[Event]]:
    grouped: dict[str, list[Event]] = {}
    for event in events:
        grouped.setdefault(str(getattr(event, attribute)), []).append(event)
    return grouped


def stream(journal: Journal) -> list[tuple[object, ...]]:
    """The events without their sequence numbers (comparable across runs)."""
    return [
        (e.at, e.actor, e.kind, e.file, e.lot, e.invoice, e.assure, e.oc, e.details)
        for e in journal.events()
        if e.kind not in ("run-started", "run-ended")
    ]


# -- the nominal network --------------------------------------------------------------------


@pytest.fixture(scope="module")
async def full_run(tmp_path_factory: pytest.TempPathFactory, keys: KeyPool) -> RunResult:
    return await run_network(FULL, tmp_path_factory.mktemp("full"), keys=keys)


def test_every_lot_gets_exactly_one_arl(full_run: RunResult) -> None:
    journal = full_run.journal
    journal.verify()
    lots = {e.lot for e in journal.events("lot-sent")}
    assert len(lots) >= 200
    arls = Counter(e.lot for e in journal.events("arl-sent"))
    received = Counter(e.lot for e in journal.events("arl-received"))
    assert arls == dict.fromkeys(lots, 1)
    assert received == dict.fromkeys(lots, 1)
    assert {e.details["status"] for e in journal.events("arl-sent")} == {"P"}


def test_every_invoice_ends_paid_or_rejected_with_a_code(full_run: RunResult) -> None:
    journal = full_run.journal
    billed = {e.invoice: e for e in journal.events("invoice-billed")}
    settled = by(journal.events("invoice-liquidated"), "invoice")
    reconciled = by(journal.events("invoice-reconciled"), "invoice")
    assert len(billed) >= 1000
    assert set(settled) == set(billed) == set(reconciled)
    statuses: Counter[str] = Counter()
    for invoice, sent in billed.items():
        (cpam,) = settled[str(invoice)]
        (ps,) = reconciled[str(invoice)]
        status = cpam.details["status"]
        statuses[status] += 1
        assert cpam.details["billed"] == sent.details["billed"]
        assert ps.details["amo"] == cpam.details["amo"]  # what the PS read is what was paid
        if status == "rejected":
            assert cpam.details["code"] in codes.AMO and cpam.details["amo"] == 0
            assert ps.details["status"] == "rejected" and ps.details["codes"] == [
                cpam.details["code"]
            ]
        else:
            assert status == "paid" and cpam.details["code"] is None
            expected = "paid-to-assure" if not sent.details["tiers_payant"] else None
            assert ps.details["status"] in ((expected,) if expected else ("paid", "partially-paid"))
            gross = sent.details["amo"]
            deductible = cpam.details["pf"] + cpam.details["franchise"]
            if sent.details["tiers_payant"]:  # the PS is paid in full; the assuré owes the PF
                assert cpam.details["amo"] == gross and cpam.details["deferred"] == deductible
            else:
                assert cpam.details["amo"] == gross - deductible
                assert cpam.details["paid"] == cpam.details["amo"] - cpam.details["recovered"]
    assert statuses["paid"] > 10 * statuses["rejected"] > 0
    # payments: what each PS was paid is what the caisse paid it
    paid = Counter[str]()
    for e in journal.events("amo-payment"):
        paid[e.details["to"]] += e.details["amount"]
    received = Counter[str]()
    for e in journal.events("payment-received"):
        received[e.actor] += e.details["amount"]
    assert paid == received and sum(paid.values()) > 0
    assert not journal.events("payment-mismatch")


def test_every_decompte_reaches_its_mutuelle_and_the_sums_reconcile(full_run: RunResult) -> None:
    journal = full_run.journal
    settled = {e.invoice: e for e in journal.events("invoice-liquidated")}
    sent = journal.events("decompte-sent")
    assert len(sent) >= 800
    outcomes = by(
        [e for e in journal.events() if e.kind in ("decompte-paid", "decompte-rejected")
         and e.actor == e.oc],
        "oc",
    )  # fmt: skip
    at_oc: dict[tuple[str, str], list[Event]] = {}
    for oc, events in outcomes.items():
        for e in events:
            at_oc.setdefault((oc, e.details["decompte"]), []).append(e)
    rejected = 0
    for dec in sent:
        cpam = dec.actor
        (outcome,) = at_oc[(str(dec.oc), f"{cpam}/{dec.details['decompte']}")]
        invoice = settled[dec.invoice]
        assert invoice.details["status"] == "paid"
        if outcome.kind == "decompte-rejected":
            rejected += 1
            assert outcome.details["code"] in codes.OC
            continue
        # AMO + OC + patient = billed, with the patient keeping at least PF and franchises
        billed, amo, oc = (
            invoice.details["billed"],
            invoice.details["amo"],
            outcome.details["amount"],
        )
        assert (outcome.details["billed"], outcome.details["amo"]) == (billed, amo)
        patient = billed - amo - oc
        if invoice.details["payee"] == "assure":  # PF and franchises were kept from the patient
            assert patient >= invoice.details["pf"] + invoice.details["franchise"]
        assert amo + oc + patient == billed
    assert 0 < rejected < len(sent) / 10
    # every answer of a mutuelle reached the caisse
    answers = Counter((e.actor, e.file) for e in journal.events("oc-answer-sent"))
    got = Counter((e.oc, e.file) for e in journal.events("oc-answer-received"))
    assert answers == got and len(answers) >= 40
    # a rejected "bénéficiaire inconnu" ends the link of that bénéficiaire, and nothing of
    # theirs is forwarded after that
    for end in journal.events("link-deactivated"):
        person = end.details["beneficiaire"]
        later = [
            e for e in sent
            if e.details["beneficiaire"] == person and e.oc == end.oc and e.at > end.at
        ]  # fmt: skip
        assert not later


def test_decomptes_follow_the_links_of_the_population(full_run: RunResult) -> None:
    """Independent of the caisse's link register: an assuré with one NOEMIE contract,
    effective well before the run and never ended, gets every paid invoice forwarded to that
    mutuelle; nothing is ever forwarded for an assuré without a NOEMIE contract."""
    journal = full_run.journal
    population = build(FULL.seed, population_of(FULL))
    contracts: dict[str, list[Contract]] = {}
    for c in population.contracts:
        contracts.setdefault(c.insured_nir, []).append(c)
    deactivated = {(e.assure, e.oc) for e in journal.events("link-deactivated")}
    forwarded = {e.invoice: e.oc for e in journal.events("decompte-sent")}
    checked = 0
    for e in journal.events("invoice-liquidated"):
        if e.details["status"] != "paid":
            continue
        held = contracts.get(str(e.assure), [])
        noemie = [c for c in held if c.noemie]
        if not noemie:
            assert e.invoice not in forwarded
        elif (
            len(held) == 1
            and held[0].start < FULL.start.date() - timedelta(days=10)
            and (e.assure, held[0].oc_number) not in deactivated
        ):
            assert forwarded.get(e.invoice) == held[0].oc_number
            checked += 1
    assert checked >= 500


def test_ij_reach_employers_and_are_reconciled(full_run: RunResult) -> None:
    journal = full_run.journal
    sent = journal.events("ij-sent")
    assert sent
    last_batch = max(e.at for e in sent)
    seen = {(e.details["leave"], e.details["net"]) for e in journal.events()
            if e.kind in ("ij-reconciled", "ij-discrepancy")}  # fmt: skip
    for e in sent:
        if e.at < last_batch:
            assert (e.details["leave"], e.details["net"]) in seen


async def test_the_same_actors_give_the_same_events_in_memory(
    full_run: RunResult, tmp_path: Path, keys: KeyPool
) -> None:
    """The actors' code is the same over both fabrics: the in-memory run journals the same
    events, in the same order, at the same simulated times."""
    memory = await run_network(dataclasses.replace(FULL, transport="memory"), tmp_path, keys=keys)
    assert stream(memory.journal) == stream(full_run.journal)
    assert memory.digest != full_run.digest  # the configuration (transport) differs
    print(f"\nfull run over SFTP: {full_run.counts}")


# -- determinism ----------------------------------------------------------------------------


async def test_a_run_paused_and_advanced_by_hand_writes_the_same_journal(
    tmp_path: Path, keys: KeyPool
) -> None:
    """What the live page and the API do to the clock changes when steps run, not which."""
    config = dataclasses.replace(SMALL, transport="memory")
    alone = await run_network(config, tmp_path / "alone", keys=keys)
    async with Network(config, tmp_path / "steered", keys=keys) as network:
        network.clock.pause()
        run = asyncio.create_task(network.run())
        await asyncio.sleep(0)  # the run starts, and parks at once
        await network.clock.parked()
        for hours in (3, 13, 40):
            network.clock.advance(config.start + timedelta(hours=hours))
            await network.clock.parked()
            assert network.clock.now() == config.start + timedelta(hours=hours)
        network.clock.resume()
        steered = await run
    assert steered.digest == alone.digest


async def test_same_seed_same_digest_other_seed_other_digest(tmp_path: Path, keys: KeyPool) -> None:
    config = dataclasses.replace(SMALL, transport="memory")
    first = await run_network(config, tmp_path / "a", keys=keys)
    again = await run_network(config, tmp_path / "b", keys=keys)
    other = await run_network(dataclasses.replace(config, seed=6), tmp_path / "c")  # fresh keys
    # two PKIs (certificate serials, signatures and envelopes are random): the same events
    assert stream(first.journal) == stream(again.journal)
    assert first.digest == again.digest
    assert other.digest != first.digest
    assert first.counts["invoices"] > 0 and first.counts == again.counts
    # the archives hold every exchanged file, sealed and clear, at both ends
    sent = first.journal.events("file-sent")
    assert len(sent) == first.counts["files"] > 0
    for event in sent:
        stem = tmp_path / "a" / event.details["archive"]
        assert stem.is_file() and stem.with_name(stem.name + ".clear").is_file()
    received = [e for e in first.journal.events() if "archive" in e.details]
    assert len(received) > len(sent)


# -- negative paths -------------------------------------------------------------------------


def _day(config: NetworkConfig, n: int, at: time) -> datetime:
    """Time ``at`` on the n-th jour ouvré of the run (0: the first)."""
    return datetime.combine(
        add_jours_ouvres(config.start, n).date(), at, tzinfo=config.start.tzinfo
    )


async def test_a_broken_record_gets_a_negative_arl_then_the_ps_sends_it_corrected(
    tmp_path: Path, keys: KeyPool
) -> None:
    async with Network(SMALL, tmp_path, keys=keys) as network:
        ps = next(iter(network.practitioners.values()))
        network.at(_day(SMALL, 0, time(17)), lambda: setattr(ps, "corrupt_next", 1), "corrupt")
        result = await network.run()
    journal = result.journal
    (broken,) = [e for e in journal.events("lot-sent") if e.details["corrupted"]]
    (arl,) = journal.events("arl-sent", lot=str(broken.lot))
    assert arl.details["status"] == "N" and arl.details["codes"] == ["0001 004"]
    (fix,) = [e for e in journal.events("lot-sent") if e.details["corrects"] == broken.lot]
    assert fix.details["invoices"] == broken.details["invoices"]
    (fix_arl,) = journal.events("arl-sent", lot=str(fix.lot))
    assert fix_arl.details["status"] == "P"
    for number in broken.details["invoices"]:
        (settled,) = journal.events("invoice-liquidated", invoice=f"{ps.id}/{number}")
        assert settled.lot == fix.lot


async def test_a_revoked_certificate_is_refused_and_cannot_log_in(
    tmp_path: Path, keys: KeyPool
) -> None:
    async with Network(SMALL, tmp_path, keys=keys) as network:
        ps = next(iter(network.practitioners.values()))
        # after the PS's upload (18:00), before the caisse reads it (19:00)
        network.at(_day(SMALL, 0, time(18, 30)), lambda: network.revoke(ps.id), "revoke")
        result = await network.run()
    journal = result.journal
    (revoked,) = journal.events("certificate-revoked")
    (refused,) = journal.events("file-refused", actor=ps.cpam)
    assert refused.details["code"] == "revoked" and refused.details["sender"] == ps.id
    (arl,) = [e for e in journal.events("arl-sent") if e.file == f"{ps.id}/0"]
    assert arl.details["codes"] == ["0002 003"]
    undeliverable = journal.events("file-undeliverable", actor=ps.cpam)
    assert [e.details["to"] for e in undeliverable] == [ps.id]  # nothing sealed for it anymore
    failures = [e for e in journal.events("upload-failed", actor=ps.id) if e.at > revoked.at]
    assert failures and all("login refused" in e.details["reason"] for e in failures)
    assert journal.events("login-refused", actor=ps.cpam)
    lots = {e.lot for e in journal.events("lot-sent", actor=ps.id)}
    assert not [e for e in journal.events("invoice-liquidated") if e.lot in lots]


async def test_a_duplicate_lot_is_answered_as_such_and_paid_once(
    tmp_path: Path, keys: KeyPool
) -> None:
    async with Network(SMALL, tmp_path, keys=keys) as network:
        ps = next(iter(network.practitioners.values()))
        network.at(_day(SMALL, 1, time(17)), lambda: setattr(ps, "duplicate_next", 1), "dup")
        result = await network.run()
    journal = result.journal
    (duplicate,) = [e for e in journal.events("lot-sent") if e.details["duplicate"]]
    arls = journal.events("arl-sent", lot=str(duplicate.lot))
    assert [a.details["status"] for a in arls] == ["P", "D"]
    assert arls[1].details["codes"] == ["0003 001"]
    for number in duplicate.details["invoices"]:
        assert len(journal.events("invoice-liquidated", invoice=f"{ps.id}/{number}")) == 1
    paid = sum(
        e.details["amount"] for e in journal.events("amo-payment") if e.details["to"] == ps.id
    )
    tiers_payant = sum(
        e.details["amo"]
        for e in journal.events("invoice-liquidated")
        if e.invoice and e.invoice.startswith(f"{ps.id}/") and e.details["payee"] == "ps"
    )
    assert paid == tiers_payant > 0


async def test_a_beneficiary_claimed_by_two_mutuelles_gets_nothing_forwarded(
    tmp_path: Path, keys: KeyPool
) -> None:
    config = dataclasses.replace(
        SMALL,
        population=dataclasses.replace(SMALL.population, double_mutuelle_share=0.3),
        practitioner=dataclasses.replace(SMALL.practitioner, visits_per_day=(20, 30)),
    )
    result = await run_network(config, tmp_path, keys=keys)
    journal = result.journal
    # a link blocks when the second mutuelle's link becomes effective (at the start for most);
    # links are per bénéficiaire
    blocked = {str(e.details["beneficiaire"]): e.at for e in journal.events("link-blocked")}
    assert len(blocked) >= 3

    def after_block(e: Event) -> bool:
        person = str(e.details["beneficiaire"])
        return person in blocked and e.at >= blocked[person]

    withheld = journal.events("decompte-withheld")
    assert withheld and all(after_block(e) for e in withheld)
    assert not [e for e in journal.events("decompte-sent") if after_block(e)]
    paid_blocked = [
        e for e in journal.events("invoice-liquidated")
        if after_block(e) and e.details["status"] == "paid"
    ]  # fmt: skip
    assert {e.invoice for e in paid_blocked} == {e.invoice for e in withheld}


async def test_a_rebilled_invoice_is_rejected_as_already_paid(
    tmp_path: Path, keys: KeyPool
) -> None:
    config = dataclasses.replace(SMALL, transport="memory")
    async with Network(config, tmp_path, keys=keys) as network:
        ps = next(iter(network.practitioners.values()))
        network.at(_day(config, 1, time(17)), lambda: setattr(ps, "rebill_next", 1), "rebill")
        result = await network.run()
    journal = result.journal
    (rebilled,) = journal.events("invoice-rebilled")
    first, second = journal.events("invoice-liquidated", invoice=str(rebilled.invoice))
    assert first.details["status"] == "paid" and first.details["amo"] > 0
    assert second.details["status"] == "rejected" and second.details["code"] == "2900 005"
    assert second.details["amo"] == 0
    outcomes = [e.details["status"] for e in journal.events("invoice-reconciled")
                if e.invoice == rebilled.invoice]  # fmt: skip
    assert outcomes[-1] == "rejected"


async def test_a_caisse_down_for_three_days_loses_nothing(tmp_path: Path, keys: KeyPool) -> None:
    """Files wait in the depots; PS without ARL after 2 jours ouvrés send again (the original
    still waiting, the resend is taken as delivered); when the caisse comes back every lot gets
    one ARL and every invoice is settled once."""
    config = dataclasses.replace(SMALL, jours_ouvres=4)
    async with Network(config, tmp_path, keys=keys) as network:
        (cpam,) = network.cpams
        network.at(
            _day(config, 0, time(17)),
            lambda: network.take_down(cpam, timedelta(days=3)),
            "caisse down",
        )
        result = await network.run()
    journal = result.journal
    assert journal.events("actor-down")
    resent = journal.events("lot-resent")
    assert resent and journal.events("file-already-delivered")
    lots = {e.lot for e in journal.events("lot-sent")}
    assert Counter(e.lot for e in journal.events("arl-sent")) == dict.fromkeys(lots, 1)
    billed = {e.invoice for e in journal.events("invoice-billed")}
    settled = Counter(e.invoice for e in journal.events("invoice-liquidated"))
    assert settled == dict.fromkeys(billed, 1)


async def test_scaled_time_gives_the_same_events_as_virtual_time(
    tmp_path: Path, keys: KeyPool
) -> None:
    config = dataclasses.replace(SMALL, transport="memory", jours_ouvres=1, settle_jours_ouvres=1)
    virtual = await run_network(config, tmp_path / "v", keys=keys)
    scaled = await run_network(
        dataclasses.replace(config, speed=2_000_000.0), tmp_path / "s", keys=keys
    )
    assert stream(scaled.journal) == stream(virtual.journal)
    assert scaled.counts["invoices"] > 0


async def test_an_oversize_depot_file_is_refused_without_being_read(
    tmp_path: Path, keys: KeyPool
) -> None:
    """A file larger than any sealed file may be (a partner past its limits, a hub of another
    make) gets a negative ARL naming its size; the caisse never reads it into memory."""
    config = dataclasses.replace(SMALL, transport="memory", jours_ouvres=1)
    async with Network(config, tmp_path, keys=keys) as network:
        ps = next(iter(network.practitioners.values()))
        hub = network._hub_of[ps.cpam]
        assert isinstance(hub, MemoryHub)

        def plant() -> None:
            hub._box(ps.id)["depot"]["FSE-BIG.p7m"] = bytes(MAX_SEALED_BYTES + 1)

        network.at(_day(config, 0, time(12, 30)), plant, "an oversize file")
        result = await network.run()
    journal = result.journal
    (refused,) = [e for e in journal.events("file-refused") if e.details["code"] == "oversize"]
    assert refused.details["name"] == "FSE-BIG.p7m" and refused.details["sender"] == ps.id
    (arl,) = [e for e in journal.events("arl-sent") if e.file == f"{ps.id}/0"]
    assert arl.details["codes"] == ["0001 005"]


def test_tiers_payant_pays_the_ps_in_full_and_the_pf_is_recovered_from_the_assure(
    full_run: RunResult,
) -> None:
    """Under tiers payant the caisse pays the PS the whole AMO part; the participation
    forfaitaire and the franchises go to the assuré's account and are recovered from the
    assuré's next reimbursements (CSS L160-13, R160-19..25; norms.md §8.1). Replayed from the
    journal: every payment to the PS is the gross AMO part, and for each assuré what was
    deferred is, in order, recovered from the payments made to them, never more."""
    journal = full_run.journal
    owed: Counter[str] = Counter()
    recovered_somewhere = 0
    for e in journal.events("invoice-liquidated"):
        if e.details["status"] != "paid":
            continue
        who = str(e.assure)
        # the caisse pays a C2S patient's part complémentaire too, to the same payee
        due = e.details["amo"] + e.details["c2s"]
        if e.details["payee"] == "ps":
            assert e.details["deferred"] == e.details["pf"] + e.details["franchise"]
            assert e.details["recovered"] == 0 and e.details["paid"] == due
            owed[who] += e.details["deferred"]
        else:
            expected = min(owed[who], due)
            assert e.details["recovered"] == expected, e
            owed[who] -= expected
            recovered_somewhere += expected
    assert recovered_somewhere > 0, "no recovery happened: the test says nothing"
    # the 580 a PS read shows the whole AMO part of its tiers payant invoices, no deduction
    for e in journal.events("invoice-reconciled"):
        if e.details["status"] in ("paid", "partially-paid"):
            assert e.details["deductions"] == 0


async def test_a_crown_is_settled_by_its_ccam_coding_and_its_tooth(
    tmp_path: Path, keys: KeyPool
) -> None:
    """The caisse reads a crown's basket from its Type 4M: the crown of the 100 % santé
    basket (DC1) coded HBLD634 on a first premolar is settled; on a molar, or without its
    4M, or coded as the molar's crown, it is rejected with 0318 060."""
    config = dataclasses.replace(
        SMALL, transport="memory", practitioner_groups=(PractitionerGroup(1, "19"),)
    )
    async with Network(config, tmp_path, keys=keys) as network:
        (cpam,) = network.cpams.values()
        (ps,) = network.practitioners.values()
        day = config.start.date()
        insured, who = next((i, b) for i, b in ps.patients if i.rights_until is None)
        assert network.kernel is not None
        population = network.kernel.population
        crown = fse_invoice(population, ps.who, insured, who, day, 1,
                            [Billed("DC1", 50000, teeth="24")], True)  # fmt: skip
        (line,) = crown.lines
        assert isinstance(line, b2.ProfessionalAct) and line.ccam is not None
        assert (line.ccam.ccam_code, line.ccam.teeth) == ("HBLD634", "24")
        lot = b2.Lot(1, ps.id, cpam.id, day, (crown,))
        assert cpam._settle(ps.id, lot, crown).code is None
        miscoded = [
            dataclasses.replace(line, ccam=b2.CcamDetail("HBLD634", teeth="26")),  # a molar
            dataclasses.replace(line, ccam=None),
            dataclasses.replace(line, ccam=b2.CcamDetail("HBLD734", teeth="24")),
        ]
        for n, wrong in enumerate(miscoded, 2):
            invoice = dataclasses.replace(crown, invoice_number=n, lines=(wrong,))
            assert cpam._settle(ps.id, lot, invoice).code == "0318 060", wrong.ccam


async def test_a_100_percent_sante_device_above_its_price_limit_is_rejected(
    tmp_path: Path, keys: KeyPool
) -> None:
    """The caisse settles an aide auditive of classe I at its prix limite of 950 € an ear, and
    rejects with 0318 040 one billed a cent above it (the basket's price is a limit), with
    0318 050 a child's device (AE1) for an adult."""
    config = dataclasses.replace(
        SMALL, transport="memory", practitioner_groups=(PractitionerGroup(1, "60"),)
    )
    async with Network(config, tmp_path, keys=keys) as network:
        (cpam,) = network.cpams.values()
        (ps,) = network.practitioners.values()
        day = config.start.date()
        insured, who = next(
            (i, b) for i, b in ps.patients
            if i.rights_until is None and not b.c2s and Patient(b.birth_date).age_on(day) >= 20
        )  # fmt: skip
        assert network.kernel is not None
        population = network.kernel.population
        fair, dear = (
            fse_invoice(population, ps.who, insured, who, day, n, [Billed("AD1", fee, None, 2)],
                        True)
            for n, fee in ((1, 190000), (2, 190001))
        )  # fmt: skip
        lot = b2.Lot(1, ps.id, cpam.id, day, (fair, dear))
        settled = cpam._settle(ps.id, lot, fair)
        assert settled.code is None and settled.acts[0].amo_gross == 48000
        assert cpam._settle(ps.id, lot, dear).code == "0318 040"
        # a child's device (under 20) for this adult: 0318 050
        child = fse_invoice(population, ps.who, insured, who, day, 3, [Billed("AE1", 140000)],
                            True)  # fmt: skip
        assert cpam._settle(ps.id, lot, child).code == "0318 050"
