"""Generated answers say only what is true of the data they answer (issue: domain fidelity).

An ARL names a wrong NIR key only on records whose key is wrong; a NOEMIE return rejects
"facture déjà payée" only an invoice billed a second time and "droits fermés" only an assuré
whose rights closed before the care day; an OC rejects "bénéficiaire inconnu" only people it
does not cover. ``generate`` seals nothing: the digest of the sealed file answered is zeros.
"""

from __future__ import annotations

import pytest

from noemie_sim.sim.domain.generate import _GENERATORS, NO_SEALED_FILE, story_of
from noemie_sim.sim.norms import arl, b2, noemie_ps, oc_answer

SEEDS = range(1, 9)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_negative_arl_names_only_wrong_keys(seed: int) -> None:
    story = story_of(seed, 60)
    ack = arl.parse(_GENERATORS["arl"](story))
    assert ack.sealed_sha256 == NO_SEALED_FILE
    answered = b2.read(story.answered, "FSE")
    wrong = {(a.record, a.field) for a in answered.anomalies}
    named = {(a.record, a.field) for lot in ack.lots for a in lot.anomalies}
    assert named == wrong and all(f == "insured_nir_key" for _, f in named)
    negative = {lot.lot_number for lot in ack.lots if lot.status == "N"}
    assert negative == {n for n, first, last in answered.spans
                        if any(first <= r <= last for r, _ in wrong)}  # fmt: skip


def test_some_seed_gives_a_negative_arl() -> None:
    assert any(
        any(lot.status == "N" for lot in arl.parse(_GENERATORS["arl"](story_of(s, 60))).lots)
        for s in SEEDS
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_a_return_rejects_only_what_is_true(seed: int) -> None:
    story = story_of(seed, 40)
    ret = noemie_ps.parse(_GENERATORS["noemie-ps"](story))
    invoices = [i for p in ret.payees for d in p.days for lot in d.lots for i in lot.invoices]
    rights = {i.nir: i.rights_until for i in story.population.insured}
    seen: list[noemie_ps.ReturnInvoice] = []
    for inv in invoices:
        codes = [n.code for n in inv.notices if n.notice_type == "R"]
        if "2900 005" in codes:  # an earlier paid invoice for the same patient and acts
            assert any(
                p.status == "P" and p.patient_birth_date == inv.patient_birth_date
                and p.insured_nir == inv.insured_nir
                and [(a.act_code, a.fee_amount) for a in p.acts]
                == [(a.act_code, a.fee_amount) for a in inv.acts]
                for p in seen
            ), inv.invoice_number  # fmt: skip
        if "0250 060" in codes:
            closed = rights[inv.insured_nir]
            assert closed is not None and closed < inv.care_date
        if inv.status == "P":
            assert rights[inv.insured_nir] is None
        seen.append(inv)


@pytest.mark.parametrize("seed", SEEDS)
def test_an_oc_rejects_only_people_it_does_not_cover(seed: int) -> None:
    story = story_of(seed, 40)
    answer = oc_answer.parse(_GENERATORS["oc-answer"](story))
    assert answer.sealed_sha256 == NO_SEALED_FILE
    dec = b2.parse(story.answered)
    assert answer.received_count == sum(len(lot.invoices) for lot in dec.lots)
    covered = {
        inv.invoice_number: any(
            c.oc_number == dec.receiver and c.covers(inv.invoice_date)
            for c in story.population.contracts_of(inv.insured_nir)
        )
        for lot in dec.lots
        for inv in lot.invoices
    }
    rejected = {r.invoice_number for r in answer.rejects}
    assert rejected == {n for n, yes in covered.items() if not yes}
    assert all(r.code == "BI01" for r in answer.rejects)


def test_the_seeds_above_give_every_kind_of_reject() -> None:
    """The checks above are not vacuous: these seeds hold each reject at least once."""
    found: set[str] = set()
    for seed in SEEDS:
        ret = noemie_ps.parse(_GENERATORS["noemie-ps"](story_of(seed, 40)))
        found |= {n.code for p in ret.payees for d in p.days for lot in d.lots
                  for i in lot.invoices for n in i.notices if n.notice_type == "R"}  # fmt: skip
        found |= {
            r.code for r in oc_answer.parse(_GENERATORS["oc-answer"](story_of(seed, 40))).rejects
        }
    assert {"2900 005", "0250 060", "BI01"} <= found, found
