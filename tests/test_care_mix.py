"""The bundled care-mix scenario, run once in memory: what the fidelity issue added shows in
the network's own journal and files, checked against the population (not against the actors'
own bookkeeping)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from noemie_sim.actors.network import population_of
from noemie_sim.pki.authority import KeyPool
from noemie_sim.scenarios.catalogue import find_scenario
from noemie_sim.scenarios.cli import main
from noemie_sim.scenarios.reports.trace import UnknownInvoice, trace
from noemie_sim.scenarios.reports.validity import invalid_files
from noemie_sim.scenarios.runner import play
from noemie_sim.scenarios.runner import report as run_report
from noemie_sim.sim.domain.nomenclature import NABM, SPECIALTIES, nabm_code
from noemie_sim.sim.domain.population import Population, build
from noemie_sim.sim.domain.rules import Patient
from noemie_sim.sim.journal import Event, Journal, open_journal
from noemie_sim.sim.norms import b2, kinds, noemie_550, noemie_oc, noemie_ps

GOOD_FRIDAY = date(2026, 4, 3)
PARIS, STRASBOURG = "017510000", "016710000"


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, key_pool: KeyPool
) -> Iterator[tuple[Path, Journal, Population]]:
    scenario = find_scenario("care-mix")
    config = dataclasses.replace(scenario.config, transport="memory")
    folder = tmp_path_factory.mktemp("care-mix") / "run"
    result = asyncio.run(play(dataclasses.replace(scenario, config=config), folder, keys=key_pool))
    result.journal.close()
    journal = open_journal(folder)
    yield folder, journal, build(config.seed, population_of(config))
    journal.db.close()


def _clear_files(folder: Path, kind: str, actor: str = "*") -> list[bytes]:
    """The clear files of ``kind`` archived by ``actor`` (sender and receiver each archive a
    file: one of them for a sum)."""
    return [p.read_bytes() for p in sorted((folder / "files").glob(f"{actor}/*{kind}*.clear"))]


def _billed_by(
    folder: Path, practitioners: set[str]
) -> Iterator[tuple[b2.Invoice, list[b2.ProfessionalAct]]]:
    """Each invoice the ``practitioners`` sent in their lots, with its acts (each lot once,
    though its sender and its caisse both archive it)."""
    for data in set(_clear_files(folder, "FSE")):
        for lot in b2.parse(data).lots:
            if lot.ps_number in practitioners:
                for invoice in lot.invoices:
                    yield invoice, [x for x in invoice.lines if isinstance(x, b2.ProfessionalAct)]


def _decomptes(folder: Path) -> Iterator[b2.B2File]:
    """Each décompte file the caisses sent (once), as the B2 form carries it: the NOEMIE OC
    form of some mutuelles read back through :func:`noemie_oc.to_b2`."""
    for data in set(_clear_files(folder, "DEC")):
        if kinds.detect(data).name == "noemie-oc":
            yield noemie_oc.to_b2(noemie_oc.parse(data))
        else:
            yield b2.parse(data)


def _of(journal: Journal, kind: str, practitioners: set[str]) -> list[Event]:
    """The events of ``kind`` about the invoices of ``practitioners``."""
    return [e for e in journal.events(kind) if str(e.invoice).split("/")[0] in practitioners]


def _paid_by(journal: Journal, practitioners: set[str]) -> list[Event]:
    """The liquidations of the ``practitioners``' invoices that paid them."""
    return [e for e in _of(journal, "invoice-liquidated", practitioners)
            if e.details["status"] == "paid"]  # fmt: skip


def _paid_invoices(
    folder: Path, journal: Journal, practitioners: set[str]
) -> Iterator[tuple[b2.Invoice, int, str]]:
    """Each décompte of the ``practitioners``' invoices that a mutuelle paid, as the décompte
    file it received carries it: the invoice, the amount paid and the grid that paid it (a
    décompte the mutuelle rejected is left out)."""
    grids = {str(e.details["decompte"]): (e.details["amount"], str(e.details["grid"]))
             for e in journal.events("decompte-paid")}  # fmt: skip
    for dec in _decomptes(folder):
        for lot in dec.lots:
            if lot.ps_number not in practitioners:
                continue
            for inv in lot.invoices:
                paid = grids.get(f"{dec.sender}/{inv.invoice_number}")
                if paid is not None:
                    yield inv, int(paid[0]), paid[1]


def _paid_single_lines(
    folder: Path, journal: Journal, practitioners: set[str]
) -> Iterator[tuple[b2.Invoice, b2.ProfessionalAct, int, str]]:
    """:func:`_paid_invoices` of one-line invoices, with their line."""
    for inv, amount, grid in _paid_invoices(folder, journal, practitioners):
        (line,) = inv.lines
        assert isinstance(line, b2.ProfessionalAct)
        yield inv, line, amount, grid


def _returned(folder: Path) -> Iterator[tuple[str, noemie_ps.ReturnInvoice]]:
    """Each invoice of the NOEMIE returns the caisses sent, as "PS/invoice number" and what
    the return says of it (each file once, though sender and receiver both archive it)."""
    for data in set(_clear_files(folder, "NOE")):
        for payee in noemie_ps.parse(data).payees:
            for day in payee.days:
                for lot in day.lots:
                    for answer in lot.invoices:
                        yield f"{payee.payee_number}/{answer.invoice_number}", answer


def test_a_file_exchanged_is_stored_once(run: tuple[Path, Journal, Population]) -> None:
    """The sender and the receiver of a file each archive it under their own name, one copy
    on disk: the receiver's name is a hard link to the sender's bytes, sealed and clear."""
    folder = run[0]
    by_name: dict[str, list[Path]] = {}
    for path in (folder / "files").glob("*/*"):
        by_name.setdefault(path.name.split("-", 1)[1], []).append(path)
    pairs = [paths for paths in by_name.values() if len(paths) == 2]
    assert len(pairs) > 300
    linked = [a for a, b in pairs if a.stat().st_ino == b.stat().st_ino]
    assert len(linked) > 0.9 * len(pairs), (len(linked), len(pairs))
    assert all(a.read_bytes() == b.read_bytes() for a, b in pairs[:50])


def test_its_files_validate(run: tuple[Path, Journal, Population]) -> None:
    checked, refused = invalid_files(run[0])
    assert checked > 300 and not refused, refused[:5]


def test_two_mutuelles_take_their_decomptes_in_noemie_oc_form(
    run: tuple[Path, Journal, Population],
) -> None:
    """care-mix names OC-2 and OC-4 in ``noemie_oc``: every décompte file to them is in NOEMIE
    OC form, to the others in B2 form; the journal says so once, and the mutuelles of both
    forms settle every décompte they receive."""
    folder, journal, population = run
    ids = [m.oc_number for m in population.mutuelles]
    (chosen,) = journal.events("decompte-form")
    assert chosen.details == {"form": "noemie-oc", "mutuelles": sorted([ids[1], ids[3]])}
    forms: dict[str, set[str]] = {}
    for data in set(_clear_files(folder, "DEC")):
        forms.setdefault(kinds.declared_parties(data)[1], set()).add(kinds.detect(data).name)
    assert forms == {oc: {"noemie-oc" if oc in (ids[1], ids[3]) else "decompte"} for oc in ids}
    sent = Counter(str(e.oc) for e in journal.events("decompte-sent"))
    settled = Counter(
        e.actor
        for kind in ("decompte-paid", "decompte-rejected")
        for e in journal.events(kind)
        if e.actor in ids
    )
    assert all(sent[oc] > 20 for oc in ids) and settled == sent


def test_decomptes_follow_the_link_of_each_beneficiary(
    run: tuple[Path, Journal, Population],
) -> None:
    """Every décompte goes to the mutuelle whose NOEMIE contract covers that bénéficiaire on
    the care day; some families have décomptes going to two mutuelles."""
    _folder, journal, population = run
    billed = {str(e.invoice): e for e in journal.events("invoice-billed")}
    by_family: dict[str, set[str]] = {}
    sent = journal.events("decompte-sent")
    for e in sent:
        care_day = date.fromisoformat(billed[str(e.invoice)].details["care_date"])
        cover = population.cover_of(str(e.assure), str(e.details["beneficiaire"]), care_day)
        assert cover is not None and cover.noemie and cover.oc_number == e.oc
        by_family.setdefault(str(e.assure), set()).add(str(e.oc))
    assert len(sent) > 300
    assert any(len(ocs) == 2 for ocs in by_family.values())


def test_pharmacies_bill_boxes_in_tiers_payant_with_a_franchise_per_box(
    run: tuple[Path, Journal, Population],
) -> None:
    folder, journal, population = run
    pharmacies = {p.ps_number for p in population.practitioners if p.specialty == "50"}
    boxes: dict[str, int] = {}
    for data in _clear_files(folder, "FSE"):
        for lot in b2.parse(data).lots:
            if lot.ps_number in pharmacies:
                for inv in lot.invoices:
                    boxes[f"{lot.ps_number}/{inv.invoice_number}"] = sum(
                        x.quantity for x in inv.lines if isinstance(x, b2.ProfessionalAct)
                    )
    liquidated = [e for e in journal.events("invoice-liquidated") if str(e.invoice) in boxes]
    paid = [e for e in liquidated if e.details["status"] == "paid"]
    assert len(paid) > 100
    assert sum(e.details["payee"] == "ps" for e in paid) > 0.85 * len(paid)
    # 1 € a box (2026), never a participation forfaitaire; less for the exempt (children, C2S)
    # and where a line's AMO part is less than its franchise (a 15 % drug)
    assert all(e.details["pf"] == 0 for e in paid)
    assert all(e.details["franchise"] <= 100 * boxes[str(e.invoice)] for e in paid)
    assert sum(e.details["franchise"] == 100 * boxes[str(e.invoice)] for e in paid) > len(paid) / 5


def test_out_of_the_parcours_the_patient_keeps_the_majoration(
    run: tuple[Path, Journal, Population],
) -> None:
    """A décompte of a visit out of the parcours (2S indicator N) is paid by the mutuelle no
    more than in the parcours: the patient keeps at least 40 % of the base."""
    folder, journal, _population = run
    outside: dict[str, int] = {}  # "caisse/décompte n°" -> 40 % of the base
    for decomptes in _decomptes(folder):
        for lot in decomptes.lots:
            for inv in lot.invoices:
                if inv.care_pathway == "N":
                    acts = [x for x in inv.lines if isinstance(x, b2.ProfessionalAct)]
                    assert all(a.rate in (30, 50) for a in acts)
                    outside[f"{decomptes.sender}/{inv.invoice_number}"] = sum(
                        a.base * 40 // 100 for a in acts
                    )
    paid = [e for e in journal.events("decompte-paid") if e.details["decompte"] in outside]
    assert len(paid) >= 5
    for e in paid:
        patient = e.details["billed"] - e.details["amo"] - e.details["amount"]
        assert patient >= outside[str(e.details["decompte"])]


def test_alsace_moselle_keeps_good_friday(run: tuple[Path, Journal, Population]) -> None:
    """The Bas-Rhin caisse and its practitioners do nothing on Good Friday 2026, a public
    holiday in Alsace-Moselle; Paris works; a Thursday's payment is dated Tuesday."""
    _folder, journal, _population = run
    on_friday = [e for e in journal.events() if e.at.date() == GOOD_FRIDAY]
    assert any(e.actor == PARIS for e in on_friday)
    assert not any(e.actor == STRASBOURG for e in on_friday)
    strasbourg_ps = {e.actor for e in journal.events("invoice-billed") if e.actor[:2] == "67"}
    assert strasbourg_ps and not any(e.actor in strasbourg_ps for e in on_friday)
    thursday = [
        e for e in journal.events("invoice-liquidated")
        if e.actor == STRASBOURG and e.at.date() == date(2026, 4, 2) and e.details["paid_on"]
    ]  # fmt: skip
    assert thursday and {e.details["paid_on"] for e in thursday} == {"2026-04-07"}


def test_every_kind_of_leave_and_a_corrected_ij(run: tuple[Path, Journal, Population]) -> None:
    folder, journal, _population = run
    kinds = {e.details["leave_kind"] for e in journal.events("sick-leave")}
    assert kinds == {"maladie", "at-mp", "maternite", "paternite"}
    fathers = [e for e in journal.events("sick-leave") if e.details["leave_kind"] == "paternite"]
    for leave in fathers:  # 25 days, for men
        days = date.fromisoformat(leave.details["end"]) - date.fromisoformat(leave.details["start"])
        assert days.days == 24 and str(leave.assure)[0] in "137", leave
    natures = set()
    debits = 0
    for data in _clear_files(folder, "IJ", PARIS) + _clear_files(folder, "IJ", STRASBOURG):
        for employer in noemie_550.parse(data).employers:
            for day in employer.days:
                natures |= {c.insurance_nature for e in day.employees for c in e.coverages}
                debits += sum(m.amount for m in day.movements if m.direction == "D")
    assert natures == {"10", "30", "40"}
    corrected = journal.events("ij-corrected")
    assert corrected and debits == sum(e.details["debit"] for e in corrected)
    payments = journal.events("ij-payment-received")
    assert any(e.details["debit"] for e in payments)
    assert all(e.details["matches"] for e in payments)


def test_trace_follows_an_invoice_from_billing_to_the_mutuelle(
    run: tuple[Path, Journal, Population], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, journal, _population = run
    sent = journal.events("decompte-sent")[0]
    hops = trace(journal, str(sent.invoice))
    whats = [h.what for h in hops]
    assert whats[0].startswith("billed by the PS")
    assert any(w.startswith("sent in lot") for w in whats)
    assert any(w.startswith("ARL P for its lot") for w in whats)
    assert any(w.startswith("liquidated") for w in whats)
    assert any(w.startswith(f"décompte {sent.details['decompte']} sent") for w in whats)
    assert any(w.startswith(("paid by the mutuelle", "rejected by the mutuelle")) for w in whats)
    assert [h.at for h in hops] == sorted(h.at for h in hops)
    total = sum(h.since_previous_hours or 0 for h in hops)
    assert abs(total - (hops[-1].at - hops[0].at).total_seconds() / 3600) < 0.1
    # a rejected invoice says its code and label
    rejected = next(
        e for e in journal.events("invoice-liquidated") if e.details["status"] == "rejected"
    )
    hops = trace(journal, str(rejected.invoice))
    (reject,) = [h for h in hops if h.what.startswith("rejected by the caisse")]
    assert rejected.details["code"] in reject.what
    with pytest.raises(UnknownInvoice):
        trace(journal, "000000000/1")
    # the command prints the same, and says what is wrong with an unknown invoice
    assert main(["trace", str(folder), "--invoice", str(sent.invoice)]) == 0
    assert "décompte" in capsys.readouterr().out
    assert main(["trace", str(folder), "--invoice", "nobody/1"]) == 2
    assert "no invoice 'nobody/1' was billed" in capsys.readouterr().err


def test_secteur_2_depassements_and_what_a_contrat_responsable_covers(
    run: tuple[Path, Journal, Population],
) -> None:
    """Cardiologues in secteur 2 bill dépassements (in secteur 1, never); each mutuelle pays
    the dépassement of one who signed the OPTAM as its grid says, and of one who did not at
    most 100 % of the base and 20 points below its grid: every paid décompte's amount is the
    rule's, recomputed from the décompte file the mutuelle received."""
    from noemie_sim.actors.mutuelle import _settled
    from noemie_sim.sim.domain.rules import GRIDS, oc_part

    folder, journal, population = run
    cardiologues = {p.ps_number: p for p in population.practitioners if p.specialty == "03"}
    assert {(p.sector, p.optam) for p in cardiologues.values()} == {
        (1, False), (2, False), (2, True)
    }  # fmt: skip
    c2s = {b.nir for _insured, b in population.beneficiaries() if b.c2s}
    decomptes: dict[str, tuple[str, b2.Invoice]] = {}
    for sent in _decomptes(folder):
        for lot in sent.lots:
            for invoice in lot.invoices:
                decomptes[f"{sent.sender}/{invoice.invoice_number}"] = (lot.ps_number, invoice)
    paid = {(1, False): 0, (2, False): 0, (2, True): 0}
    capped = 0  # décomptes the non-OPTAM cap made smaller than the grid would have
    for e in journal.events("decompte-paid"):
        ps, invoice = decomptes[str(e.details["decompte"])]
        who = cardiologues.get(ps)
        if who is None:
            continue
        grid = GRIDS[str(e.details["grid"])]
        lines = [line for line in invoice.lines if isinstance(line, b2.ProfessionalAct)]
        assert len(lines) == len(invoice.lines)  # a médecin's décompte: acts only
        acts = [_settled(line, invoice.care_pathway == "N") for line in lines]
        above = sum(a.depassement for a in acts)
        if who.sector == 1:
            assert above == 0, ps
        elif not who.optam and invoice.beneficiary_nir not in c2s:
            assert above > 0, ps  # never at the tariff, but for a patient with the C2S
        non_optam = who.sector == 2 and not who.optam
        assert e.details["amount"] == sum(oc_part(a, grid, non_optam) for a in acts)
        if non_optam and sum(oc_part(a, grid) for a in acts) > e.details["amount"]:
            capped += 1
        paid[(who.sector, who.optam)] += 1
    assert all(paid.values()), paid
    assert capped > 0, "no dépassement of a non-OPTAM cardiologue was capped"


def test_no_depassement_for_a_patient_with_the_c2s(
    run: tuple[Path, Journal, Population],
) -> None:
    """A secteur 2 cardiologue bills a patient with the complémentaire santé solidaire at the
    tariff (L162-5-13 CSS), the others often above it: read from the lots the caisses got."""
    folder, _journal, population = run
    secteur2 = {p.ps_number for p in population.practitioners if p.sector == 2}
    c2s = {b.nir for _insured, b in population.beneficiaries() if b.c2s}
    at_tariff = above = 0
    for invoice, acts in _billed_by(folder, secteur2):
        dearer = any(a.fee_amount > a.base for a in acts)
        if invoice.beneficiary_nir in c2s:
            assert not dearer, invoice.invoice_number
            at_tariff += 1
        else:
            above += dearer
    assert at_tariff > 0 and above > 0, (at_tariff, above)


def test_the_c2s_is_a_coverage_of_its_own(run: tuple[Path, Journal, Population]) -> None:
    """A foyer with the complémentaire santé solidaire holds no mutuelle contract; its
    caisse pays the part complémentaire beside the AMO part: the FSE bill it as the AMC
    amount of each act, in tiers payant; the caisse pays both to the PS (the NOEMIE return's
    170 entity, within the day's payment) with no PF nor franchise; no décompte goes to a
    mutuelle; the report counts it apart, and the patient pays nothing."""
    folder, journal, population = run
    foyers = [i for i in population.insured if i.person.c2s]
    assert foyers and all(b.c2s for i in foyers for b in i.beneficiaries)
    c2s = {b.nir for i in foyers for b in i.beneficiaries}
    assert not [c for c in population.contracts if c.insured_nir in {i.nir for i in foyers}]
    # the lots: every C2S invoice in tiers payant, to no OC, its AMC amounts the ticket
    # modérateur (all of it within the parcours de soins)
    billed: dict[str, int] = {}
    within: set[str] = set()  # the invoices within the parcours de soins
    for data in set(_clear_files(folder, "FSE")):
        for lot in b2.parse(data).lots:
            for inv in lot.invoices:
                acts = [x for x in inv.lines if isinstance(x, b2.SETTLED_LINES)]
                if inv.beneficiary_nir not in c2s:
                    assert all(x.amc_amount == 0 for x in acts), inv.invoice_number
                    continue
                assert inv.tiers_payant == "O" and inv.oc_number is None
                # an aide auditive, a crown, a frame or a lens of the 100 % santé basket is paid
                # in full up to its limit (950 € an ear, 500 € a crown, 30 € a frame, 60 € a
                # lens), above its base; every other act at most its base
                limits = {"AD1": 95000, "DC1": 50000, "MO1": 3000, "VE1": 6000}
                devices = [a for a in acts if a.act_code in limits]
                assert all(a.amo_amount + a.amc_amount == a.fee_amount
                           <= limits[a.act_code] * a.quantity for a in devices)  # fmt: skip
                acts = [a for a in acts if a.act_code not in limits]
                assert all(0 < a.amo_amount + a.amc_amount <= a.base == a.fee_amount for a in acts)
                if inv.care_pathway != "N":
                    assert all(a.amo_amount + a.amc_amount == a.base for a in acts), acts
                    within.add(f"{lot.ps_number}/{inv.invoice_number}")
                acts += devices
                billed[f"{lot.ps_number}/{inv.invoice_number}"] = sum(a.amc_amount for a in acts)
    assert len(billed) > 20, len(billed)
    # the caisses' liquidation: the C2S part paid, nothing deducted
    paid = [
        e
        for e in journal.events("invoice-liquidated")
        if str(e.invoice) in billed and e.details["status"] == "paid"
    ]
    assert paid and all(e.details["c2s"] == billed[str(e.invoice)] for e in paid)
    assert all(e.details["pf"] == e.details["franchise"] == 0 for e in paid)
    for e in paid:  # within the parcours, the patient keeps nothing
        if str(e.invoice) in within:
            assert e.details["amo"] + e.details["c2s"] == e.details["billed"], e
    assert not [e for e in journal.events("decompte-sent") if e.details["beneficiaire"] in c2s]
    # the NOEMIE returns say it (the file validates: the day's payment includes it)
    returned = 0
    for key, answer in _returned(folder):
        if answer.status == "P" and key in billed:
            # none where the AMO pays it all (ALD, maternity)
            assert (answer.c2s_amount or 0) == billed[key]
            returned += 1
        elif key not in billed:
            assert answer.c2s_amount is None
    assert returned == len(paid)
    reconciled = [e for e in journal.events("invoice-reconciled") if str(e.invoice) in billed]
    assert {e.details["status"] for e in reconciled} <= {"paid", "rejected"}
    # the report: the C2S apart from the AMO
    report = run_report(folder)
    assert report["money"]["c2s"] == sum(e.details["c2s"] for e in journal.events(
        "invoice-liquidated"))  # fmt: skip
    assert report["money"]["c2s"] > 0


def test_the_report_gives_the_money_of_each_kind_of_care(
    run: tuple[Path, Journal, Population], capsys: pytest.CaptureFixture[str]
) -> None:
    """The report sums each kind of care apart (invoices, lines, billed and its dépassements,
    AMO, C2S, mutuelles, patients), its rows adding up to the run's money; the cardiologues'
    dépassements are what their lots billed above the base, and only theirs; the terminal
    shows the table."""
    folder, _journal, population = run
    report = run_report(folder)
    by_care = report["money_by_care"]
    kinds = {SPECIALTIES[p.specialty].kind for p in population.practitioners}
    assert set(by_care) == kinds
    for part in ("billed", "amo", "c2s", "oc", "patient"):
        assert sum(row[part] for row in by_care.values()) == report["money"][part], part
    assert sum(row["invoices"] for row in by_care.values()) == report["counts"]["invoices"]
    cardiologues = {p.ps_number for p in population.practitioners if p.specialty == "03"}
    above = sum(max(0, a.fee_amount - a.base) for _inv, acts in _billed_by(folder, cardiologues)
                for a in acts)  # fmt: skip
    assert by_care["cardiologue"]["depassements"] == above > 0
    # an aide auditive, a dental crown and glasses are billed above their base too (their
    # price, not a dépassement d'honoraires): the basket's at its limit, the others at a free
    # price
    priced = {"60": "audioprothesiste", "19": "chirurgien-dentiste", "61": "opticien"}
    for specialty, care in priced.items():
        sellers = {p.ps_number for p in population.practitioners if p.specialty == specialty}
        above = sum(a.fee_amount - a.base for _inv, acts in _billed_by(folder, sellers)
                    for a in acts)  # fmt: skip
        assert by_care[care]["depassements"] == above > 0, care
    priced_above = ("cardiologue", *priced.values())
    assert all(row["depassements"] == 0 for care, row in by_care.items()
               if care not in priced_above)  # fmt: skip
    assert all(row["oc"] > 0 and row["lines"] >= row["invoices"] for row in by_care.values())
    assert main(["report", str(folder), "--lang", "fr"]) in (0, 1)
    shown = capsys.readouterr().out
    assert "Montants par type de soins" in shown and "sage-femme" in shown


def test_laboratoires_bill_their_analyses_on_a_b_line(
    run: tuple[Path, Journal, Population],
) -> None:
    """A laboratoire (n° AM catégorie 3) bills one B line a visit: the forfait pré-analytique
    and its analyses in Type 4B, the line's coefficient their sum (B17 + ...), its base at
    0.27 € the B, at 60 % (90 % under the régime local, 100 % in ALD or maternity): read from
    the lots. The caisses pay them all, with the PF and without franchise; the décomptes the
    mutuelles receive carry the analyses."""
    folder, journal, population = run
    laboratoires = {p.ps_number for p in population.practitioners if p.specialty == "30"}
    assert laboratoires and all(n[2] == "3" for n in laboratoires)
    billed = 0
    wrong = 0  # the behaviour's wrong acts (an AMK), which the caisse rejects
    for invoice, acts in _billed_by(folder, laboratoires):
        [act] = acts
        if act.act_code == "AMK":
            wrong += 1
            continue
        analyses = tuple(nabm_code(a.code) for a in act.biology)
        assert act.act_code == "B" and analyses[0] == "9005" and None not in analyses
        assert act.coefficient == 100 * sum(NABM[str(c)].coefficient for c in analyses)
        assert act.base == act.coefficient * 27 // 100 == act.fee_amount
        assert act.rate in (60, 90, 100) and act.amo_amount == round(act.base * act.rate / 100)
        billed += invoice.tiers_payant in ("O", "N")
    assert billed > 50, billed
    settled = [
        e for e in journal.events("invoice-liquidated")
        if str(e.invoice).split("/")[0] in laboratoires
    ]  # fmt: skip
    # every B line agrees with its analyses (no 0318 030): what is rejected is the wrong act,
    # or a patient the caisse does not know or whose rights are closed
    outcomes = Counter((e.details["status"], e.details["code"]) for e in settled)
    assert outcomes[("rejected", "0318 010")] == wrong
    assert set(outcomes) <= {("paid", None), ("rejected", "0318 010"),
                             ("rejected", "0250 050"), ("rejected", "0250 060")}  # fmt: skip
    assert outcomes[("paid", None)] > 0.9 * len(settled)
    assert all(e.details["franchise"] == 0 for e in settled)
    assert any(e.details["pf"] == 200 for e in settled)
    detailed = [
        line
        for data in set(_clear_files(folder, "DEC"))
        if kinds.detect(data).name == "decompte"  # the NOEMIE OC form does not carry them
        for lot in b2.parse(data).lots
        if lot.ps_number in laboratoires
        for inv in lot.invoices
        for line in inv.lines
    ]
    assert detailed and all(
        isinstance(x, b2.ProfessionalAct) and x.act_code == "B" and x.biology for x in detailed
    )


def test_taxis_bill_trips_with_a_franchise_per_trip(
    run: tuple[Path, Journal, Population],
) -> None:
    """A taxi conventionné (n° AM catégorie 2) bills each trip: the forfait (13 €, 4 km with
    it) and 1.10 € a km beyond, at 65 % (100 % under the régime local, in ALD or
    maternity), read from the lots; the caisse deducts a franchise of 4 € a trip, at most 8 €
    a day for a patient, and no PF."""
    folder, journal, population = run
    taxis = {p.ps_number for p in population.practitioners if p.specialty == "54"}
    assert taxis and all(n[2] == "2" for n in taxis)
    local = {b.nir for _insured, b in population.beneficiaries_of(STRASBOURG)}
    trips: dict[str, str] = {}  # invoice -> bénéficiaire
    local_trips = 0
    for invoice, acts in _billed_by(folder, taxis):
        if [a.act_code for a in acts] != ["TPC", "TKM"]:
            continue  # the behaviour's wrong act
        forfait, km = acts
        assert forfait.base == 1300 and km.base == 110 * km.quantity and 1 <= km.quantity <= 36
        assert {forfait.rate, km.rate} <= {65, 100}
        if invoice.beneficiary_nir in local:  # the régime local pays transport in full
            assert forfait.rate == km.rate == 100
            local_trips += 1
        trips[f"{invoice.invoice_number}"] = invoice.beneficiary_nir
    assert len(trips) > 20 and local_trips > 0, (len(trips), local_trips)
    settled = _paid_by(journal, taxis)
    assert settled and all(e.details["pf"] == 0 and e.details["franchise"] in (0, 400)
                           for e in settled)  # fmt: skip
    assert sum(e.details["franchise"] == 400 for e in settled) > len(settled) / 2
    care_day = {str(e.invoice): e.details["care_date"] for e in journal.events("invoice-billed")}
    franchised = Counter(
        (e.details["beneficiaire"], care_day[str(e.invoice)])
        for e in settled
        if e.details["franchise"]
    )
    assert max(franchised.values()) <= 2  # at most 8 € a day
    # the caisse pays what the lots billed at their rate: no invoice paid more or less
    reconciled = [e.details["status"] for e in _of(journal, "invoice-reconciled", taxis)]
    assert reconciled and "partially-paid" not in reconciled


def test_a_clinique_bills_its_stays_on_type_3_lines(
    run: tuple[Path, Journal, Population],
) -> None:
    """A clinique (n° AM catégorie 0) bills each stay on Type 3 lines: the séjour (GHS) at 80 %
    (100 % in ALD, maternity or under the régime local) and, where the ticket modérateur does
    not hold it, the forfait journalier, 20 € a day, which the AMO pays only in maternity or
    under the régime local; no PF, no franchise. The
    mutuelles receive the Type 3 lines and pay what the AMO left, the forfait in full."""
    folder, journal, population = run
    cliniques = {p.ps_number for p in population.practitioners if p.specialty == "90"}
    assert cliniques and all(n[2] == "0" for n in cliniques)
    stays = forfaits = 0
    for data in set(_clear_files(folder, "FSE")):
        for lot in b2.parse(data).lots:
            if lot.ps_number not in cliniques:
                continue
            for inv in lot.invoices:
                lines = {x.act_code: x for x in inv.lines if isinstance(x, b2.HospitalLine)}
                if len(lines) != len(inv.lines):  # the behaviour's wrong act (a Type 4)
                    continue
                ghs = lines["GHS"]
                assert (ghs.quantity, ghs.base, ghs.rate in (80, 100)) == (1, 180000, True)
                assert ghs.amo_amount == ghs.base * ghs.rate // 100
                # the forfait journalier is imputed on a ticket modérateur (360 €, more than
                # six days of it): billed only where there is none
                assert ("FJ" in lines) == (ghs.rate == 100), inv.invoice_number
                if "FJ" in lines:
                    fj = lines["FJ"]
                    assert 2 <= fj.quantity <= 6 and fj.base == 2000 * fj.quantity
                    assert fj.rate in (0, 100) and fj.amo_amount == fj.base * fj.rate // 100
                    forfaits += 1
                stays += 1
    assert stays >= 5 and forfaits >= 1, (stays, forfaits)
    settled = _paid_by(journal, cliniques)
    assert settled and all(e.details["pf"] == e.details["franchise"] == 0 for e in settled)
    # the mutuelles pay what the AMO left of each stay, the forfait journalier included
    owed: dict[str, int] = {}
    for decomptes in _decomptes(folder):
        for lot in decomptes.lots:
            if lot.ps_number in cliniques:
                for inv in lot.invoices:
                    assert {type(x) for x in inv.lines} == {b2.HospitalLine}
                    owed[f"{decomptes.sender}/{inv.invoice_number}"] = sum(
                        x.total_amount - x.amo_amount
                        for x in inv.lines
                        if isinstance(x, b2.HospitalLine)
                    )
    paid = {
        str(e.details["decompte"]): e.details["amount"] for e in journal.events("decompte-paid")
    }
    assert owed and all(paid[d] == amount for d, amount in owed.items() if d in paid)
    assert sum(d in paid for d in owed) > 0 and any(amount > 0 for amount in owed.values())


def test_sages_femmes_bill_their_consultation_at_70_percent_without_pf(
    run: tuple[Path, Journal, Population],
) -> None:
    """A sage-femme (n° AM catégorie 5) bills C + MSF (23 € + 3.50 € in 2026), reimbursed at
    70 % (90 % under the régime local d'Alsace-Moselle, 100 % in ALD or maternity) with no
    participation forfaitaire nor franchise: the AMO part of each line is the whole rate of
    its base, read from the lots the caisses received, and the caisses' liquidation deducts
    nothing."""
    folder, journal, population = run
    sages_femmes = {p.ps_number for p in population.practitioners if p.specialty == "21"}
    assert sages_femmes and all(n[2] == "5" for n in sages_femmes)
    lines = 0
    for _invoice, acts in _billed_by(folder, sages_femmes):
        assert [(a.act_code, a.base) for a in acts] == [("C", 2300), ("MSF", 350)]
        for act in acts:
            assert act.rate in (70, 90, 100), act  # 90: the régime local
            assert act.amo_amount == act.base * act.rate // 100  # no PF, no franchise
            lines += 1
    assert lines > 20, lines
    # and the caisse deducted neither a PF nor a franchise from their invoices
    settled = _paid_by(journal, sages_femmes)
    assert settled and all(e.details["pf"] == e.details["franchise"] == 0 for e in settled)


#: each grid's % of the base and forfait (per ear) for an aide auditive of classe II
#: (hand-copied from docs/rules.md, not from the code)
GRID_COVERS = {
    "100% BR": (100, 0),
    "150% BR": (150, 0),
    "200% BR": (200, 30000),
    "300% BR": (300, 60000),
}


def test_audioprothesistes_fit_aides_auditives_of_the_100_percent_sante_basket(
    run: tuple[Path, Journal, Population],
) -> None:
    """An audioprothésiste (n° AM catégorie 2) bills an aide auditive per ear on a Type 4
    line: a base of 400 € at 60 % (90 % under the régime local, 100 % in ALD or maternity),
    no PF nor franchise. Classe I (AD1, the 100 % santé basket) at its prix limite of 950 €:
    the mutuelle, or the C2S, pays all the AMO leaves; classe II (AD2) at a free price: the
    mutuelle's grid with its forfait, but never more than 1 700 € an ear with the AMO part.
    Every amount is recomputed from the lots and the décomptes, not taken from the rules."""
    folder, journal, population = run
    audio = {p.ps_number for p in population.practitioners if p.specialty == "60"}
    assert audio and all(n[2] == "2" for n in audio)
    c2s = {b.nir for _insured, b in population.beneficiaries() if b.c2s}
    kinds_seen: Counter[str] = Counter()
    for inv, acts in _billed_by(folder, audio):
        if [a.act_code for a in acts] not in (["AD1"], ["AD2"], ["AE1"]):
            continue  # the behaviour's wrong act (rejected by the caisse)
        (device,) = acts
        assert device.rate in (60, 90, 100) and device.quantity in (1, 2)
        age = Patient(inv.birth_date).age_on(device.care_date)
        if device.act_code == "AE1":  # a patient under 20: base = prix limite = 1 400 €
            assert age < 20 and device.base == device.fee_amount == 140000 * device.quantity
            kinds_seen["AE1"] += 1
            continue
        assert age >= 20 and device.base == 40000 * device.quantity
        if device.act_code == "AD1":
            assert device.fee_amount == 95000 * device.quantity
            if inv.beneficiary_nir in c2s:  # the C2S pays what the AMO leaves, to 0
                assert device.amo_amount + device.amc_amount == device.fee_amount
                kinds_seen["AD1 C2S"] += 1
        else:
            assert device.fee_amount > device.base and inv.beneficiary_nir not in c2s
        kinds_seen[device.act_code] += 1
    settled = _paid_by(journal, audio)
    assert settled and all(e.details["pf"] == e.details["franchise"] == 0 for e in settled)
    ceilinged = 0
    for inv, line, amount, grid in _paid_single_lines(folder, journal, audio):
        left = line.fee_amount - line.amo_amount  # no PF, no franchise
        if line.act_code in ("AD1", "AE1"):
            assert amount == left, inv  # reste à charge 0, whatever the grid
            kinds_seen["AD1 paid"] += 1
            continue
        percent, forfait = GRID_COVERS[grid]
        cover = line.base * percent // 100 + forfait * line.quantity - line.amo_amount
        ceiling = 170000 * line.quantity - line.amo_amount
        assert amount == max(0, min(cover, ceiling, left)), (inv, grid)
        ceilinged += cover > ceiling and left > ceiling
    assert min(kinds_seen["AD1"], kinds_seen["AD2"], kinds_seen["AD1 paid"]) >= 3, kinds_seen
    assert kinds_seen["AD1 C2S"] >= 1 and ceilinged >= 1, (kinds_seen, ceilinged)
    assert kinds_seen["AE1"] >= 1, kinds_seen


def test_chirurgiens_dentistes_fit_crowns_of_the_100_percent_sante_basket(
    run: tuple[Path, Journal, Population],
) -> None:
    """A chirurgien-dentiste (n° AM catégorie 4) bills a carie restored (29.30 €) or a crown
    on a base of 120 € on a Type 4 line, coded in CCAM on a Type 4M with its tooth, at 60 %
    (90 % under the régime local, 100 % in ALD or maternity), no PF nor franchise. A crown of
    the 100 % santé basket (DC1) at 500 €: the mutuelle, or the C2S, pays all the AMO leaves;
    a crown of the panier maîtrisé (DC3) at 550 € or at a free price (DC2): the grid's % of
    the base. Every amount is recomputed from
    the lots and the décomptes."""
    folder, journal, population = run
    dentists = {p.ps_number for p in population.practitioners if p.specialty == "19"}
    assert dentists and all(n[2] == "4" for n in dentists)
    c2s = {b.nir for _insured, b in population.beneficiaries() if b.c2s}
    seen: Counter[str] = Counter()
    for inv, acts in _billed_by(folder, dentists):
        if [a.act_code for a in acts] not in (["SDE"], ["DC1"], ["DC2"], ["DC3"]):
            continue  # the behaviour's wrong act (rejected by the caisse)
        (act,) = acts
        assert act.rate in (60, 90, 100) and act.quantity == 1
        assert act.base == {"SDE": 2930, "DC1": 12000, "DC2": 12000, "DC3": 12000}[act.act_code]
        # a crown's Type 4M: its CCAM code and its tooth (ISO 3950), which decide its basket
        ccam = (act.ccam.ccam_code, act.ccam.teeth[1]) if act.ccam and act.ccam.teeth else None
        assert ccam in {"SDE": (None,), "DC1": {("HBLD634", t) for t in "1234"},
                        "DC2": {("HBLD734", t) for t in "678"},
                        "DC3": {("HBLD491", "5")}}[act.act_code], act  # fmt: skip
        if act.act_code == "DC1":
            assert act.fee_amount == 50000
            if inv.beneficiary_nir in c2s:  # the C2S pays what the AMO leaves, to 0
                assert act.amo_amount + act.amc_amount == act.fee_amount
                seen["DC1 C2S"] += 1
        elif act.act_code == "DC2":
            assert act.fee_amount > 50000 and inv.beneficiary_nir not in c2s
        elif act.act_code == "DC3":  # the panier maîtrisé, at its honoraire limite
            assert act.fee_amount == 55000 and inv.beneficiary_nir not in c2s
        else:
            assert act.fee_amount == act.base
        seen[act.act_code] += 1
    settled = _paid_by(journal, dentists)
    assert settled and all(e.details["pf"] == e.details["franchise"] == 0 for e in settled)
    for inv, line, amount, grid in _paid_single_lines(folder, journal, dentists):
        left = line.fee_amount - line.amo_amount  # no PF, no franchise
        if line.act_code == "DC1":
            assert amount == left, inv  # reste à charge 0, whatever the grid
            seen["DC1 paid"] += 1
            continue
        percent = GRID_COVERS[grid][0]  # no grid has a forfait for dental acts
        cover = line.base * percent // 100 - line.amo_amount
        assert amount == max(0, min(cover, left)), (inv, grid)
        seen[f"{line.act_code} paid"] += 1
    assert min(seen[code] for code in ("SDE", "DC1", "DC2", "DC3", "DC1 paid", "DC2 paid",
                                       "DC3 paid")) >= 3, seen  # fmt: skip
    assert seen["DC1 C2S"] >= 1, seen


#: the grids' forfaits per classe B frame and lens (docs/rules.md), and the contrat
#: responsable's ceilings of each, AMO part included
OPTICAL_FORFAITS = {"200% BR": {"MO2": 5000, "VE2": 6000}, "300% BR": {"MO2": 10000, "VE2": 16000}}
OPTICAL_CEILINGS = {"MO2": 10000, "VE2": 16000}


def test_opticiens_sell_glasses_of_the_100_percent_sante_basket(
    run: tuple[Path, Journal, Population],
) -> None:
    """An opticien-lunetier (n° AM catégorie 2) bills a pair of glasses on two Type 4 lines,
    a frame and its two lenses, at 60 % of each item's base (90 % under the régime local,
    100 % in ALD or maternity), no PF nor franchise. Classe A (the 100 % santé basket): a
    frame of 30 € on a base of 9 €, lenses of 60 € on a base of 33 €; the mutuelle, or the
    C2S, pays all the AMO leaves. Classe B, at free prices on a base of 0.05 € an item: the
    grid's % of the base and its forfait, at most 100 € a frame and 160 € a lens with the AMO
    part. Every amount is recomputed from the lots and the décomptes."""
    folder, journal, population = run
    opticians = {p.ps_number for p in population.practitioners if p.specialty == "61"}
    assert opticians and all(n[2] == "2" for n in opticians)
    c2s = {b.nir for _insured, b in population.beneficiaries() if b.c2s}
    seen: Counter[str] = Counter()
    for inv, acts in _billed_by(folder, opticians):
        codes = [a.act_code for a in acts]
        if codes not in (["MO1", "VE1"], ["MO2", "VE2"]):
            continue  # the behaviour's wrong act (rejected by the caisse)
        frame, lenses = acts
        assert frame.quantity == 1 and lenses.quantity == 2
        assert {frame.rate, lenses.rate} <= {60, 90, 100}
        if codes == ["MO1", "VE1"]:
            assert (frame.base, frame.fee_amount, lenses.base, lenses.fee_amount) == (
                900, 3000, 6600, 12000)  # fmt: skip
            if inv.beneficiary_nir in c2s:  # the C2S pays what the AMO leaves, to 0
                assert all(a.amo_amount + a.amc_amount == a.fee_amount for a in acts)
                seen["classe A C2S"] += 1
        else:
            assert (frame.base, lenses.base) == (5, 10) and inv.beneficiary_nir not in c2s
            assert frame.fee_amount >= 6000 and lenses.fee_amount >= 10000
        seen[codes[0]] += 1
    settled = _paid_by(journal, opticians)
    assert settled and all(e.details["pf"] == e.details["franchise"] == 0 for e in settled)
    for inv, amount, grid in _paid_invoices(folder, journal, opticians):
        expected = 0
        for line in inv.lines:
            assert isinstance(line, b2.ProfessionalAct)
            left = line.fee_amount - line.amo_amount  # no PF, no franchise
            if line.act_code in ("MO1", "VE1"):
                expected += left  # reste à charge 0, whatever the grid
                continue
            percent = GRID_COVERS[grid][0]
            forfait = OPTICAL_FORFAITS.get(grid, {}).get(line.act_code, 0)
            cover = (line.base * percent + 50) // 100 + forfait * line.quantity - line.amo_amount
            ceiling = OPTICAL_CEILINGS[line.act_code] * line.quantity - line.amo_amount
            expected += max(0, min(cover, ceiling, left))
            seen["capped"] += ceiling < min(cover, left)
        assert amount == expected, (inv, grid)
        seen[f"{inv.lines[0].act_code} paid"] += 1  # type: ignore[union-attr]
    assert min(seen["MO1"], seen["MO2"], seen["MO1 paid"], seen["MO2 paid"]) >= 3, seen
    assert seen["classe A C2S"] >= 1 and seen["capped"] >= 1, seen


def test_vsl_and_ambulances_bill_a_forfait_and_km_with_a_franchise_per_trip(
    run: tuple[Path, Journal, Population],
) -> None:
    """An entreprise de transports sanitaires (n° AM catégorie 2) bills each trip: the forfait
    départemental with 3 km (a VSL 13.85 €, an ambulance 51.30 €) and each km beyond (1.02 €,
    2.19 €), at 65 % (100 % under the régime local, in ALD or maternity), read from the
    lots; the caisse deducts a franchise of 4 € a trip and no PF, and pays what was billed."""
    folder, journal, population = run
    companies = {p.ps_number for p in population.practitioners if p.specialty == "55"}
    assert companies and all(n[2] == "2" for n in companies)
    kinds_seen: Counter[str] = Counter()
    for _invoice, acts in _billed_by(folder, companies):
        codes = [a.act_code for a in acts]
        if codes not in (["VSD", "VKM"], ["ABA", "AKM"]):
            continue  # the behaviour's wrong act
        forfait, km = acts
        forfait_price, km_price = {"VSD": (1385, 102), "ABA": (5130, 219)}[codes[0]]
        assert forfait.base == forfait_price and km.base == km_price * km.quantity
        assert 1 <= km.quantity <= 37 and {forfait.rate, km.rate} <= {65, 100}
        kinds_seen[codes[0]] += 1
    assert kinds_seen["VSD"] > 10 and kinds_seen["ABA"] > 2, kinds_seen
    settled = _paid_by(journal, companies)
    assert settled and all(e.details["pf"] == 0 and e.details["franchise"] in (0, 400)
                           for e in settled)  # fmt: skip
    assert sum(e.details["franchise"] == 400 for e in settled) > len(settled) / 2
    reconciled = [e.details["status"] for e in _of(journal, "invoice-reconciled", companies)]
    assert reconciled and "partially-paid" not in reconciled
